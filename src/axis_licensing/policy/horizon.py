"""When an organization's alerts can next change without a command (SPEC §7, §3 ``alerts``).

A sweep reads only the organizations whose alerts can have changed. This module
says when that can next happen: given a state advanced to a local date ``day``
(see :func:`axis_licensing.policy.engine.advance`), the catalog in effect and
``within_days``, :func:`next_change_on` gives the first later date at which the
alerts of :func:`axis_licensing.policy.alerts.alerts` (compared by
:func:`~axis_licensing.policy.alerts.alert_key`) may differ from those at ``day``.

Time alone changes the alerts only at these dates (R3, R5, R6):

- a product's subscription start, if it lies ahead;
- the end ``e`` of the current trial or grace window (TRIAL/GRACE turns into
  LICENSED or UNLICENSED) and ``e − within_days`` (TRIAL_ENDING/GRACE_ENDING
  enter the range);
- the next period's start (a new period: a new window, a lock of licenses
  allocated in advance, growth judged afresh, a new upcoming period) and that
  start ``− within_days`` (RENEWAL_UNCOVERED enters the range);
- each live lot's ``expires_on`` (LOTS_EXPIRING clears, the lot leaves the
  wallet) and ``expires_on − within_days`` (LOTS_EXPIRING enters the range).

Every other input of the alerts (devices, systems, hardware, allocations) changes
only through a command, after which the shell computes the horizon again; the
alerts whose state holds at ``day`` (UNLICENSED, GROWTH_EXCEEDED,
SYSTEM_UNLICENSED) change only with the product's status, which changes only at
the dates above. The answer may be early (a window end of a locked period
changes nothing), never late, so a sweep that reads an organization once its
instant is due never misses a change. A new catalog version (R15) changes the
windows of later periods only, which begin at a period start, a candidate here.

:func:`alert_changes` then says what a sweep records: the alerts that appeared
since the keys recorded last, and the keys that cleared.

Pure (SPEC §5): no clock, no I/O. The zone is passed in as a ``tzinfo``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from axis_licensing.catalog import Catalog
from axis_licensing.model import Alert
from axis_licensing.policy.alerts import AlertKey, alert_key
from axis_licensing.policy.lots import live_lots
from axis_licensing.policy.periods import current_period, window
from axis_licensing.policy.state import OrgState

__all__ = [
    "alert_changes",
    "alert_details",
    "change_dates",
    "cleared_details",
    "next_change",
    "next_change_on",
]


def change_dates(state: OrgState, catalog: Catalog, day: date, within_days: int) -> set[date]:
    """Every date after ``day`` at which time alone may change the alerts (module docstring).

    Args:
        state: the organization, advanced to ``day``.
        catalog: the catalog in effect at ``day``.
        day: the local date the alerts were last computed for.
        within_days: how far ahead dated alerts look (``Manager.alerts``' ``within_days``).

    Returns:
        The candidate dates, all after ``day`` (possibly none).
    """
    ahead = timedelta(days=within_days)
    found: set[date] = set()
    for spec in catalog.products:
        ledger = state.ledger(spec.code)
        for lot in live_lots(ledger.lots, day):
            found.update((lot.expires_on, lot.expires_on - ahead))
        started = ledger.started_on
        if started is None or state.anchor is None:
            continue
        if started > day:
            found.add(started)
            continue
        period = current_period(state.anchor, spec, day)
        _, ends = window(spec, period, started)
        found.update((ends, ends - ahead, period.end, period.end - ahead))
    return {on for on in found if on > day}


def next_change_on(
    state: OrgState, catalog: Catalog, day: date, within_days: int = 60
) -> date | None:
    """The first date after ``day`` at which the alerts may change without a command.

    Args:
        state: the organization, advanced to ``day``.
        catalog: the catalog in effect at ``day``.
        day: the local date the alerts were last computed for.
        within_days: how far ahead dated alerts look (60 for the sweep).

    Returns:
        The date, or None when time alone never changes them (no lot, no
        started product).
    """
    return min(change_dates(state, catalog, day, within_days), default=None)


def next_change(
    state: OrgState, catalog: Catalog, day: date, zone: tzinfo, within_days: int = 60
) -> datetime | None:
    """:func:`next_change_on` as the instant that date begins in the organization's zone.

    Local midnight, as an aware datetime in ``zone``; where midnight does not
    exist (a DST gap at 00:00) the instant is the moment the day begins.

    Args:
        state: the organization, advanced to ``day``.
        catalog: the catalog in effect at ``day``.
        day: the local date the alerts were last computed for.
        zone: the organization's time zone (the caller looks it up).
        within_days: how far ahead dated alerts look (60 for the sweep).

    Returns:
        The instant, or None when time alone never changes the alerts.
    """
    on = next_change_on(state, catalog, day, within_days)
    if on is None:
        return None
    # a nonexistent local midnight (fold 0 reads it with the offset before the gap) is,
    # in absolute time, the instant the day begins: the round trip through UTC gives
    # it as a real local time
    return datetime(on.year, on.month, on.day, tzinfo=zone).astimezone(UTC).astimezone(zone)


def alert_changes(
    recorded: Iterable[AlertKey], current: Sequence[Alert]
) -> tuple[list[Alert], list[AlertKey]]:
    """What a sweep records: the alerts that appeared, and the keys that cleared.

    Args:
        recorded: the keys of the alerts recorded as raised and not cleared yet.
        current: the alerts now (:func:`axis_licensing.policy.alerts.alerts`).

    Returns:
        ``(raised, cleared)``: the current alerts whose key was not recorded, in
        the alerts' order (soonest first), and the recorded keys no current alert
        has, sorted. Both are empty when nothing changed, so a second sweep at
        the same day records nothing (idempotent).
    """
    before = set(recorded)
    now = {alert_key(alert) for alert in current}
    raised = [alert for alert in current if alert_key(alert) not in before]
    cleared = sorted(before - now, key=_key_order)
    return raised, cleared


def _key_order(key: AlertKey) -> tuple[str, str, str, date]:
    kind, product, system_id, on = key
    return (kind, product or "", system_id or "", on or date.min)


def alert_details(alert: Alert) -> dict[str, Any]:
    """An alert as JSON-ready details of an ``alert_raised`` activity (and its event)."""
    return {
        "kind": str(alert.kind),
        "product": alert.product,
        "system_id": alert.system_id,
        "on": None if alert.on is None else alert.on.isoformat(),
        "details": dict(alert.details),
    }


def cleared_details(key: AlertKey) -> dict[str, Any]:
    """A cleared alert's key as JSON-ready details of an ``alert_cleared`` activity.

    ``on`` is the date of a dated alert (a window end, a renewal, an expiry), and
    None for an alert about a state (UNLICENSED, GROWTH_EXCEEDED, SYSTEM_UNLICENSED).
    """
    kind, product, system_id, on = key
    return {
        "kind": kind,
        "product": product,
        "system_id": system_id,
        "on": None if on is None else on.isoformat(),
    }
