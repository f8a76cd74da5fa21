"""Test helpers for axis-licensing users and backend authors.

- :mod:`axis_licensing.testing.strategies`: hypothesis strategies for dates
  (hard days weighted in), zones, catalogs and counts.
- :class:`LedgerModel`: a plain model of the ledger, for conservation checks.
- :func:`make_ledger_machine`: a hypothesis ``RuleBasedStateMachine`` that
  drives a Manager through its public API and checks it against the model
  after every step (SPEC §5).
- :class:`~axis_licensing.ManualClock`: a clock that moves only when told to.
- ``axis_licensing.testing.conformance``: the backend conformance suite
  (SPEC §4). Import it from your ``conftest.py`` after calling
  ``pytest.register_assert_rewrite("axis_licensing.testing.conformance")``;
  it is not imported here, so that the rewrite can take effect.
- ``axis_licensing.testing.contract``: the backend contract suite, which tests
  each method of the backend interface directly (imported the same way).

This package needs hypothesis (the ``test`` extra).
"""

from __future__ import annotations

from axis_licensing._time import ManualClock
from axis_licensing.testing import strategies
from axis_licensing.testing.machine import LedgerInvariantError, LedgerMachine, make_ledger_machine
from axis_licensing.testing.model import LedgerModel

__all__ = [
    "LedgerInvariantError",
    "LedgerMachine",
    "LedgerModel",
    "ManualClock",
    "make_ledger_machine",
    "strategies",
]
