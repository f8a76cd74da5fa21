"""The commands' idempotency fingerprints (R13).

The command values live in :mod:`axis_licensing.policy.commands`; this module
re-exports them under their old path. :func:`fingerprint` is the
SHA-256 of a command's action and its converter form, less the fields marked
``fingerprint=False``: the text earlier releases stored with each remembered
``request_id`` (tests/test_commands.py pins it).
"""

from __future__ import annotations

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from axis_licensing._convert import converter
from axis_licensing._convert import fingerprint as _fingerprint
from axis_licensing.policy import commands as _values
from axis_licensing.policy.commands import *  # noqa: F403 (the command values, under their old path)

__all__ = ["fingerprint"]
__all__ += _values.__all__

for _cls in (_values.RedeemKey, _values.UploadSystemFile):
    _omit = {
        f.name: override(omit=True)
        for f in attrs.fields(_cls)
        if f.metadata.get("fingerprint") is False
    }
    converter.register_unstructure_hook(
        _cls,
        make_dict_unstructure_fn(_cls, converter, **_omit),  # type: ignore[arg-type]
    )


def fingerprint(command: _values.Command) -> str:
    """The idempotency fingerprint of ``command``: a SHA-256 of its action and converter form (R13).

    Args:
        command: a checked command.

    Returns:
        The hex digest.
    """
    return _fingerprint(command.ACTION, converter.unstructure(command))
