"""Names a package imports on first use (PEP 562), for its module ``__getattr__``.

Standard library only: ``axis_licensing`` and ``axis_licensing.testing`` use it
to stay light to import.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, MutableMapping

__all__ = ["load"]


def load(
    package: str,
    where: Mapping[str, tuple[str, str]],
    namespace: MutableMapping[str, object],
    name: str,
) -> object:
    """Import ``name`` from where ``where`` says, and keep it in ``namespace``.

    Args:
        package: the package's name, for the error message.
        where: per name, its module and its name there ("": the module itself).
        namespace: the package's globals.
        name: the name asked for.

    Returns:
        The value.

    Raises:
        AttributeError: ``where`` does not know ``name``.
        ImportError: its module cannot be imported.
    """
    try:
        module_name, attribute = where[name]
    except KeyError:
        raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = getattr(module, attribute) if attribute else module
    namespace[name] = value
    return value
