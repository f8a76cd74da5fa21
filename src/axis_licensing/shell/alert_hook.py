"""The alert hook (§4): which alerts a command made appear.

After each command that records something, the organization's alerts at its
instant are compared with its alerts right after the previous recorded
command, at that command's instant (``within_days`` = :data:`ALERT_HOOK_DAYS`),
by :func:`~axis_licensing.policy.alerts.alert_key`. So an alert that time
brought in between two commands is told at the second.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import attrs

from axis_licensing._time import local_date
from axis_licensing.catalog import Catalog
from axis_licensing.model import Alert, ProductState
from axis_licensing.policy import alerts as alerting
from axis_licensing.policy import engine
from axis_licensing.policy import status as readings
from axis_licensing.policy.state import OrgState

__all__ = ["ALERT_HOOK_DAYS", "CatalogAt", "Change", "appeared"]

#: The ``within_days`` of the alerts compared after each command for the alert hook.
ALERT_HOOK_DAYS = 60

#: The catalog the rules apply to a state at an instant and its local date (R15).
CatalogAt = Callable[[OrgState, datetime, date], Catalog]


@attrs.frozen
class Change:
    """An organization's state before and after one command, with their instants."""

    before: OrgState
    before_at: datetime
    after: OrgState
    after_at: datetime
    #: The version the command wrote.
    seq: int


def _alerts_of(
    state: OrgState, instant: datetime, within_days: int, catalog_at: CatalogAt
) -> list[Alert]:
    """The alerts of ``state`` as of ``instant``: advanced to its local date first."""
    day = local_date(instant, state.timezone)
    catalog = catalog_at(state, instant, day)
    advanced, _ = engine.advance(state, catalog, day)
    return alerting.alerts(advanced, catalog, day, within_days)


def _unlicensed(state: OrgState, instant: datetime, catalog_at: CatalogAt) -> set[str]:
    """The products UNLICENSED or NOT_STARTED at ``instant`` that have uncovered devices."""
    day = local_date(instant, state.timezone)
    catalog = catalog_at(state, instant, day)
    advanced, _ = engine.advance(state, catalog, day)
    return {
        spec.code
        for spec in catalog.products
        if advanced.subscription_devices(spec.code)
        and readings.product_status(advanced, spec, day).state
        in (ProductState.UNLICENSED, ProductState.NOT_STARTED)
    }


def appeared(
    change: Change,
    catalog_at: CatalogAt,
    all_systems: Callable[[OrgState, int], OrgState],
) -> list[Alert]:
    """The alerts that ``change`` made appear (§4).

    Args:
        change: the states before and after the command.
        catalog_at: the catalog in effect for a state at an instant (R15).
        all_systems: a state with every system of the organization loaded, as
            at the given version.

    Returns:
        The alerts right after the command that were not there right after the
        previous one.
    """
    before = {
        alerting.alert_key(a)
        for a in _alerts_of(change.before, change.before_at, ALERT_HOOK_DAYS, catalog_at)
    }
    after = change.after
    # The states hold the systems the command loaded, the only ones whose
    # SYSTEM_UNLICENSED alert it can change, unless it made a product unlicensed
    # (or not started): then every system of that product may raise one.
    if _unlicensed(after, change.after_at, catalog_at) - _unlicensed(
        change.before, change.before_at, catalog_at
    ):
        after = all_systems(change.after, change.seq)
    return [
        alert
        for alert in _alerts_of(after, change.after_at, ALERT_HOOK_DAYS, catalog_at)
        if alerting.alert_key(alert) not in before
    ]
