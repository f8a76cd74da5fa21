"""What a state means at a date: devices, locking, status, need, coverage and license terms.

Rules R4, R5, R9 and the license-file terms of R12.

These are pure readings of an :class:`~axis_licensing.policy.state.OrgState`
that is already advanced to the date asked about (see
:func:`axis_licensing.policy.engine.advance`).
"""

from __future__ import annotations

from datetime import date, timedelta

import attrs

from axis_licensing._counts import Counts
from axis_licensing.catalog import Catalog, ProductSpec
from axis_licensing.errors import SubscriptionNotStarted
from axis_licensing.model import (
    LicenseKind,
    NeedReport,
    Period,
    PeriodNeed,
    ProductState,
    ProductStatus,
    SystemStatus,
    Wallet,
)
from axis_licensing.policy import coverage
from axis_licensing.policy.lots import live_lots
from axis_licensing.policy.periods import current_period, first_period, period_at, window
from axis_licensing.policy.state import OrgState, ProductLedger, SystemRecord

__all__ = [
    "OFFLINE_MARGIN",
    "HardwareView",
    "LicenseTerms",
    "hardware_view",
    "is_locked",
    "license_terms",
    "licensed_through",
    "need_report",
    "period_need",
    "product_status",
    "subscription_devices",
    "system_status",
    "wallet_view",
]

HardwareView = tuple[Counts, Counts, Counts]


def hardware_view(state: OrgState, spec: ProductSpec, system: SystemRecord) -> HardwareView:
    """``(capacity, covered, rest)`` of a system: its hardware covers its own devices first (R9)."""
    capacity = Counts()
    for serial in system.hardware:
        capacity += state.hardware[serial].capacity
    covered = coverage.covered_counts(spec, capacity, system.devices) if capacity else Counts()
    return capacity, covered, system.devices - covered


def subscription_devices(state: OrgState, spec: ProductSpec) -> Counts:
    """The product's devices that its systems' hardware does not cover (R4, R9).

    The state keeps this sum up to date as systems change, so reading it does
    not walk the systems (SPEC §5).
    """
    return state.subscription_devices(spec.code)


def is_locked(ledger: ProductLedger, spec: ProductSpec, index: int, devices: Counts) -> bool:
    """Whether period ``index`` is locked: it locked before, or covers now with a license (R5)."""
    if index in ledger.locked:
        return True
    allocated = ledger.allocated(index)
    return bool(allocated) and coverage.covers(spec, allocated, devices)


def period_need(
    ledger: ProductLedger, spec: ProductSpec, period: Period, devices: Counts, *, current: bool
) -> tuple[Counts, Counts, bool]:
    """``(need, shortfall, locked)`` of one period (R4, R5).

    In the current locked period the shortfall is ``required_now`` (the growth
    allowance applies) and the need is ``allocated + required_now``; otherwise
    the need is the devices and the shortfall is what the allocation leaves
    uncovered.
    """
    allocated = ledger.allocated(period.index)
    if current and is_locked(ledger, spec, period.index, devices):
        required = coverage.shortfall(spec, allocated, devices, spec.growth_multiplier)
        return allocated + required, required, True
    return devices, coverage.shortfall(spec, allocated, devices), False


def licensed_through(
    state: OrgState, ledger: ProductLedger, spec: ProductSpec, current: Period, devices: Counts
) -> date:
    """The end of the unbroken run of covered periods from ``current`` (R5).

    The caller has established that ``current`` is licensed.
    """
    assert state.anchor is not None
    end = current.end
    index = current.index + 1
    while is_locked(ledger, spec, index, devices):  # a future period is never locked yet
        end = period_at(state.anchor, spec.term_years, index).end
        index += 1
    return end


def product_status(state: OrgState, spec: ProductSpec, day: date) -> ProductStatus:
    """The product's status at ``day`` (R5)."""
    ledger = state.ledger(spec.code)
    devices = subscription_devices(state, spec)
    if ledger.started_on is None or state.anchor is None or day < ledger.started_on:
        return ProductStatus(product=spec.code, state=ProductState.NOT_STARTED, devices=devices)
    period = current_period(state.anchor, spec, day)
    _, ends = window(spec, period, ledger.started_on)
    allocated = ledger.allocated(period.index)
    _, required, locked = period_need(ledger, spec, period, devices, current=True)
    growth_exceeded = False
    if locked:
        state_now = ProductState.LICENSED
        growth_exceeded = bool(required)
    elif day < ends:
        first = first_period(state.anchor, spec, ledger.started_on)
        state_now = ProductState.TRIAL if period.index == first.index else ProductState.GRACE
    elif coverage.covers(spec, allocated, devices):
        state_now = ProductState.LICENSED
    else:
        state_now = ProductState.UNLICENSED
    through = (
        licensed_through(state, ledger, spec, period, devices)
        if state_now is ProductState.LICENSED
        else None
    )
    return ProductStatus(
        product=spec.code,
        state=state_now,
        period=period,
        window_ends_on=ends,
        renews_on=period.end,
        devices=devices,
        allocated=allocated,
        growth_exceeded=growth_exceeded,
        required_now=required,
        licensed_through=through,
        locked=locked,
        started_on=ledger.started_on,
    )


def need_report(state: OrgState, spec: ProductSpec, day: date, horizon: int) -> NeedReport:
    """The need of periods at offsets ``0..horizon`` and what is left to buy (R4, R7).

    Raises:
        SubscriptionNotStarted: the product's subscription has not started by ``day``.
    """
    ledger = state.ledger(spec.code)
    if ledger.started_on is None or state.anchor is None or day < ledger.started_on:
        raise SubscriptionNotStarted(
            f"the subscription of {spec.code!r} has not started", details={"product": spec.code}
        )
    devices = subscription_devices(state, spec)
    current = current_period(state.anchor, spec, day)
    periods: list[PeriodNeed] = []
    total_short = Counts()
    for offset in range(horizon + 1):
        period = period_at(state.anchor, spec.term_years, current.index + offset)
        need, short, _ = period_need(ledger, spec, period, devices, current=offset == 0)
        periods.append(
            PeriodNeed(
                offset=offset,
                period=period,
                need=need,
                allocated=ledger.allocated(period.index),
                shortfall=short,
            )
        )
        total_short += short
    # the wallet as of ``day``, even if ``state`` was not advanced to it
    balance = wallet_view(state, spec.code, day).balance(LicenseKind.SUBSCRIPTION)
    return NeedReport(
        product=spec.code,
        periods=tuple(periods),
        wallet=balance,
        to_buy=total_short.minus_clipped(balance),
    )


def wallet_view(state: OrgState, product: str, day: date) -> Wallet:
    """The product's wallet at ``day``: live lots, earliest expiry first, and credit (R6, R8)."""
    ledger = state.ledger(product)
    return Wallet(product=product, lots=live_lots(ledger.lots, day), credit=dict(ledger.credit))


def system_status(
    state: OrgState, catalog: Catalog, system: SystemRecord, day: date
) -> SystemStatus:
    """A system's devices, hardware coverage and whether it is licensed (R9)."""
    spec = catalog.product(system.product)
    capacity, covered, rest = hardware_view(state, spec, system)
    product_state = product_status(state, spec, day).state
    return SystemStatus(
        system_id=system.system_id,
        product=system.product,
        devices=system.devices,
        hardware=system.hardware,
        hardware_capacity=capacity,
        hardware_covered=covered,
        subscription_devices=rest,
        licensed=not rest or product_state is ProductState.LICENSED,
        product_state=product_state,
    )


#: How long an offline license file stays valid beyond what licenses it (R12).
OFFLINE_MARGIN = timedelta(days=30)
ONE_DAY = timedelta(days=1)


@attrs.frozen
class LicenseTerms:
    """What an offline system's license file grants (R12).

    ``state`` is the product's state as the file carries it: ``licensed``,
    ``trial``, ``grace`` or ``unlicensed`` (a product not started is
    ``unlicensed`` there).
    """

    product: str
    licensed: bool
    state: ProductState
    devices: Counts
    valid_until: date


def license_terms(
    state: OrgState, catalog: Catalog, system: SystemRecord, day: date
) -> LicenseTerms:
    """The terms of a license file issued on ``day`` for ``system`` (R12).

    ``licensed`` is the system's status and ``state`` the product's. The
    devices allowed are the system's devices when it is licensed or the product
    is in its trial or grace window, else what its hardware covers.
    ``valid_until`` (inclusive): ``licensed_through + 30 days`` when the
    product is LICENSED; the window's last day ``e - 1`` in TRIAL or GRACE (on
    day ``e`` the portal says UNLICENSED, and so must the file); the later of
    that and the issue date + 30 days when the system's hardware alone licenses
    it; otherwise the issue date.
    """
    spec = catalog.product(system.product)
    system_now = system_status(state, catalog, system, day)
    product = product_status(state, spec, day)
    in_window = product.state in (ProductState.TRIAL, ProductState.GRACE)
    last_day = product.window_ends_on - ONE_DAY if in_window and product.window_ends_on else None
    if product.state is ProductState.LICENSED and product.licensed_through is not None:
        valid_until = product.licensed_through + OFFLINE_MARGIN
    elif system_now.licensed:  # by its hardware alone: never less than a window gives
        valid_until = max(day + OFFLINE_MARGIN, last_day or day)
    elif last_day is not None:
        valid_until = last_day
    else:
        valid_until = day
    may_run = system_now.licensed or in_window
    file_state = (
        ProductState.UNLICENSED if product.state is ProductState.NOT_STARTED else product.state
    )
    return LicenseTerms(
        product=spec.code,
        licensed=system_now.licensed,
        state=file_state,
        devices=system_now.devices if may_run else system_now.hardware_covered,
        valid_until=valid_until,
    )
