"""What an organization should act on soon: its alerts (SPEC §3 ``Manager.alerts``).

Each alert is decided from the state at one local date ``day``, looking
``within_days`` ahead:

- ``TRIAL_ENDING`` / ``GRACE_ENDING``: the product is in its trial or grace
  window (R3) and the window ends (``e``, the first day outside) within the days;
  ``on`` is ``e``.
- ``UNLICENSED``: the product is UNLICENSED at ``day`` (R5).
- ``RENEWAL_UNCOVERED``: the next period starts within the days and its
  allocation does not cover the current devices (R4, R5); ``on`` is its start.
- ``LOTS_EXPIRING``: live lots expire within the days (R6); one alert per
  product and expiry date, ``on`` being that date.
- ``GROWTH_EXCEEDED``: the current period is locked and growth went past the
  allowance (R5).
- ``SYSTEM_UNLICENSED``: a system's devices are not all licensed and it may not
  run on a trial or grace window either (R9, R12): its product is UNLICENSED or
  not started, and its hardware does not cover its devices.

Kinds that describe a state holding at ``day`` (``UNLICENSED``,
``GROWTH_EXCEEDED``, ``SYSTEM_UNLICENSED``) have ``on = day``. Alerts come
soonest first: by ``on``, then kind (in :class:`AlertKind` order), product and
system. :func:`alert_key` says when two alerts are the same one, so that the
Manager tells observers about an alert once, when it first appears.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

from axis_licensing._counts import Counts
from axis_licensing.catalog import Catalog
from axis_licensing.model import Alert, AlertKind, LicenseKind, ProductState
from axis_licensing.policy import coverage
from axis_licensing.policy import status as readings
from axis_licensing.policy.lots import live_lots
from axis_licensing.policy.periods import period_at
from axis_licensing.policy.state import OrgState

__all__ = ["DATED_KINDS", "MAX_WITHIN_DAYS", "AlertKey", "alert_key", "alerts"]

#: The largest ``within_days`` (ten years).
MAX_WITHIN_DAYS = 3660

#: Kinds about a coming date; the others describe a state that holds at the day asked.
DATED_KINDS = frozenset(
    {
        AlertKind.TRIAL_ENDING,
        AlertKind.GRACE_ENDING,
        AlertKind.RENEWAL_UNCOVERED,
        AlertKind.LOTS_EXPIRING,
    }
)

_ORDER = {kind: n for n, kind in enumerate(AlertKind)}

AlertKey = tuple[str, str | None, str | None, date | None]


def alert_key(alert: Alert) -> AlertKey:
    """What makes an alert the same one from day to day.

    A dated alert is the same while its date is (a lot expiry, a window end, a
    period start); a state alert is the same while the state lasts, whatever the day.
    """
    on = alert.on if alert.kind in DATED_KINDS else None
    return (str(alert.kind), alert.product, alert.system_id, on)


def _sort_key(alert: Alert) -> tuple[date, int, str, str]:
    return (alert.on or date.min, _ORDER[alert.kind], alert.product or "", alert.system_id or "")


def alerts(state: OrgState, catalog: Catalog, day: date, within_days: int) -> list[Alert]:
    """Every alert of the organization at ``day``, soonest first.

    Args:
        state: the organization, advanced to ``day``.
        catalog: the catalog in effect (see :mod:`axis_licensing.policy.catalogs`).
        day: the local date asked about.
        within_days: how many days ahead dated alerts look (``0`` is ``day`` only).

    Returns:
        The alerts, sorted soonest first.
    """
    horizon = day + timedelta(days=within_days)
    found: list[Alert] = []
    for spec in catalog.products:
        status = readings.product_status(state, spec, day)
        ledger = state.ledger(spec.code)
        about = functools.partial(Alert, product=spec.code)
        if status.state is ProductState.TRIAL or status.state is ProductState.GRACE:
            assert status.window_ends_on is not None
            if status.window_ends_on <= horizon:
                kind = (
                    AlertKind.TRIAL_ENDING
                    if status.state is ProductState.TRIAL
                    else AlertKind.GRACE_ENDING
                )
                details = {
                    "days_left": (status.window_ends_on - day).days,
                    "shortfall": coverage.shortfall(
                        spec, status.allocated, status.devices
                    ).to_dict(),
                }
                found.append(about(kind=kind, on=status.window_ends_on, details=details))
        elif status.state is ProductState.UNLICENSED:
            details = {
                "since": status.window_ends_on.isoformat() if status.window_ends_on else None,
                "shortfall": coverage.shortfall(spec, status.allocated, status.devices).to_dict(),
            }
            found.append(about(kind=AlertKind.UNLICENSED, on=day, details=details))
        if status.growth_exceeded:
            details = {"required_now": status.required_now.to_dict()}
            found.append(about(kind=AlertKind.GROWTH_EXCEEDED, on=day, details=details))
        if status.period is not None and state.anchor is not None:
            upcoming = period_at(state.anchor, spec.term_years, status.period.index + 1)
            if upcoming.start <= horizon:
                short = coverage.shortfall(spec, ledger.allocated(upcoming.index), status.devices)
                if short:
                    details = {"period": upcoming.index, "shortfall": short.to_dict()}
                    found.append(
                        about(kind=AlertKind.RENEWAL_UNCOVERED, on=upcoming.start, details=details)
                    )
        found.extend(_expiring(state, spec.code, day, horizon))
        if status.state in (ProductState.UNLICENSED, ProductState.NOT_STARTED):
            for system in state.systems_of(spec.code):
                rest = readings.hardware_view(state, spec, system)[2]
                if rest:
                    found.append(
                        about(
                            kind=AlertKind.SYSTEM_UNLICENSED,
                            system_id=system.system_id,
                            on=day,
                            details={"unlicensed_devices": rest.to_dict()},
                        )
                    )
    found.sort(key=_sort_key)
    return found


def _expiring(state: OrgState, product: str, day: date, horizon: date) -> list[Alert]:
    by_date: dict[date, list[dict[str, object]]] = {}
    totals: dict[date, dict[LicenseKind, Counts]] = {}
    for lot in live_lots(state.ledger(product).lots, day):
        if lot.expires_on > horizon:
            continue
        by_date.setdefault(lot.expires_on, []).append(
            {
                "lot_id": lot.lot_id,
                "kind": lot.kind.value,
                "license_type": lot.license_type,
                "quantity": lot.quantity,
            }
        )
        kinds = totals.setdefault(lot.expires_on, {})
        kinds[lot.kind] = kinds.get(lot.kind, Counts()) + {lot.license_type: lot.quantity}
    return [
        Alert(
            kind=AlertKind.LOTS_EXPIRING,
            product=product,
            on=on,
            details={
                "lots": lots,
                **{kind.value: counts.to_dict() for kind, counts in sorted(totals[on].items())},
            },
        )
        for on, lots in sorted(by_date.items())
    ]
