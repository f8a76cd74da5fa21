"""Test helpers for axis-licensing users and backend authors.

- :mod:`axis_licensing.testing.strategies`: hypothesis strategies for dates
  (hard days weighted in), zones, catalogs and counts.
- :class:`LedgerModel`: a plain model of the ledger, for conservation checks.
- :func:`make_ledger_machine`: a hypothesis ``RuleBasedStateMachine`` that
  drives a Manager through its public API and checks it against the model
  after every step (SPEC §5).
- :class:`~axis_licensing.ManualClock`: a clock that moves only when told to.
- ``axis_licensing.testing.conformance``: the backend conformance kit
  (SPEC §4): each method of the backend interface tested directly, plus a few
  end-to-end checks through the Manager. Import it from your test module after
  calling ``pytest.register_assert_rewrite("axis_licensing.testing.contract",
  "axis_licensing.testing.conformance")``; it is not imported here, so that the
  rewrite can take effect.
- ``axis_licensing.testing.contract``: the per-method part of the kit alone.

Install the kit with the ``testing`` extra (``pip install
'axis-licensing[testing]'``: hypothesis and pytest). Only the strategies and
the state machine need hypothesis, and they load on first use (PEP 562):
``ManualClock``, :class:`LedgerModel` and the conformance suite import
without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from axis_licensing import _lazy
from axis_licensing._time import ManualClock
from axis_licensing.testing.model import LedgerModel

if TYPE_CHECKING:
    from axis_licensing.testing import strategies
    from axis_licensing.testing.machine import (
        LedgerInvariantError,
        LedgerMachine,
        make_ledger_machine,
    )

__all__ = [
    "LedgerInvariantError",
    "LedgerMachine",
    "LedgerModel",
    "ManualClock",
    "make_ledger_machine",
    "strategies",
]

#: The names that need hypothesis, loaded on first use: each maps to its module and name.
_LAZY: dict[str, tuple[str, str]] = {
    "strategies": ("axis_licensing.testing.strategies", ""),
    **{
        name: ("axis_licensing.testing.machine", name)
        for name in ("LedgerInvariantError", "LedgerMachine", "make_ledger_machine")
    },
}


def __getattr__(name: str) -> object:
    """Import a name that needs hypothesis on first use (PEP 562).

    Raises:
        AttributeError: ``name`` is not a public name of the package.
        ImportError: hypothesis is not installed; the message names the extra.
    """
    try:
        return _lazy.load("axis_licensing.testing", _LAZY, globals(), name)
    except ModuleNotFoundError as exc:
        if exc.name != "hypothesis":
            raise
        raise ImportError(
            f"axis_licensing.testing.{name} needs hypothesis: "
            "pip install 'axis-licensing[testing]'",
            name=exc.name,
        ) from exc


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
