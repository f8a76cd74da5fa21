"""The decisions of every command: state + command + date -> new state + facts.

This module is the h11 of licensing: every rule that changes an
organization's state lives here or in the modules it calls, and nothing here
reads a clock, touches storage or draws random numbers. The Manager passes
in what storage knows (a key's contents, a shipment) and commits what comes out.

Each command first :func:`advance`\\ s the state to its local date, so that
time-driven facts (lot expiry, R6; locking at a period start, R5) are
applied before the command, then applies the command, then :func:`settle`\\ s
locks and growth (R5) for the new state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from fractions import Fraction
from typing import Generic, TypeVar

import attrs

from axis_licensing._counts import Counts
from axis_licensing.catalog import Catalog, ProductSpec
from axis_licensing.errors import (
    AlreadyRegistered,
    AlreadyStarted,
    InsufficientLicenses,
    InvalidInput,
    OutsideAllocationWindow,
    SubscriptionNotStarted,
    UnknownHardware,
    UnknownSystem,
)
from axis_licensing.model import (
    Allocation,
    LicenseKind,
    Lot,
    Period,
    PeriodAllocation,
    Redemption,
)
from axis_licensing.policy import facts
from axis_licensing.policy import status as readings
from axis_licensing.policy.compensation import coverage_start, credit_back, overlap_share
from axis_licensing.policy.lots import expires_on, split_expired, take
from axis_licensing.policy.periods import (
    ADVANCE_YEARS,
    current_period,
    first_period,
    in_allocation_window,
    period_at,
    window,
)
from axis_licensing.policy.state import (
    Fact,
    HardwareRecord,
    OrgState,
    ProductLedger,
    SystemRecord,
)

__all__ = [
    "SYSTEM_ACTOR",
    "Context",
    "Outcome",
    "Shipment",
    "advance",
    "allocate",
    "allocate_need",
    "allocate_to_hardware",
    "check_types",
    "create_organization",
    "put_system",
    "recount_devices",
    "redeem",
    "register_hardware",
    "register_system",
    "report_devices",
    "settle",
    "start_subscription",
    "upload_system",
]

#: The actor of facts the rules cause on their own (R11).
SYSTEM_ACTOR = "system"

T = TypeVar("T")


@attrs.frozen
class Context:
    """When and by whom a command runs: its instant, its local date and its actor."""

    at: datetime
    on: date
    actor: str


@attrs.frozen
class Outcome(Generic[T]):
    """What a command decided: the new state, the facts in order, and its result."""

    state: OrgState
    facts: tuple[Fact, ...]
    result: T


@attrs.frozen
class Shipment:
    """A hardware unit as the vendor shipped it (R9)."""

    serial: str
    product: str
    preloaded: Counts = Counts()


# -- helpers ---------------------------------------------------------------------------------


def _sorted(values: Mapping[str, Fraction]) -> dict[str, Fraction]:
    return dict(sorted(values.items()))


def check_types(spec: ProductSpec, counts: Mapping[str, int], what: str) -> None:
    """Raise InvalidInput when ``counts`` names a type the product does not have (R14).

    Raises:
        InvalidInput: an unknown license type.
    """
    unknown = [t for t in counts if t not in spec.type_codes]
    if unknown:
        raise InvalidInput(
            f"{what}: unknown license type(s) {', '.join(map(repr, sorted(unknown)))} for product "
            f"{spec.code!r} (known: {', '.join(spec.type_codes)})",
            param=what,
        )


def _insufficient(
    ledger: ProductLedger, kind: LicenseKind, missing: Counts
) -> InsufficientLicenses:
    have = ledger.balance(kind)
    return InsufficientLicenses(
        f"the wallet of {ledger.code!r} lacks {kind.value} licenses: "
        + ", ".join(f"{n} {t} (has {have.get(t, 0)})" for t, n in missing.items()),
        shortfall=missing,
        details={"kind": kind.value},
    )


def _started(state: OrgState, spec: ProductSpec) -> tuple[ProductLedger, date]:
    ledger = state.ledger(spec.code)
    if ledger.started_on is None or state.anchor is None:
        raise SubscriptionNotStarted(
            f"the subscription of {spec.code!r} has not started", details={"product": spec.code}
        )
    return ledger, state.anchor


def _new_lots(
    state: OrgState, kind: LicenseKind, quantities: Iterable[tuple[str, int]], on: date
) -> tuple[OrgState, tuple[Lot, ...]]:
    lots: list[Lot] = []
    next_id = state.next_lot_id
    for license_type, quantity in quantities:
        lots.append(
            Lot(
                lot_id=next_id,
                kind=kind,
                license_type=license_type,
                quantity=quantity,
                acquired_on=on,
                expires_on=expires_on(on),
            )
        )
        next_id += 1
    return attrs.evolve(state, next_lot_id=next_id), tuple(lots)


def _ordered(spec: ProductSpec, counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return [(t, counts[t]) for t in spec.type_codes if counts.get(t, 0)]


def _used(used: Iterable[tuple[int, str, int]]) -> list[facts.LotUse]:
    return [facts.LotUse(lot_id, t, n) for lot_id, t, n in used]


# -- systems and the subscription devices they add up to (R4, R9) ----------------------------


def put_system(
    state: OrgState,
    catalog: Catalog,
    system: SystemRecord,
    units: Iterable[HardwareRecord] = (),
) -> OrgState:
    """A state with ``system`` (and ``units``) added or replaced (R4, R9).

    The product's subscription devices (``OrgState.devices``) change by what the
    system's uncovered rest changes, so they stay the sum over every system
    without walking the others (SPEC §5). The system's hardware units must be in
    the state or in ``units``.

    Raises:
        UnknownProduct: the catalog has no such product.
    """
    spec = catalog.product(system.product)
    old = state.systems.get(system.system_id)
    before = readings.hardware_view(state, spec, old)[2] if old is not None else Counts()
    hardware = state.hardware
    for unit in units:
        hardware = {**hardware, unit.serial: unit}
    changed = attrs.evolve(
        state, systems={**state.systems, system.system_id: system}, hardware=hardware
    )
    after = readings.hardware_view(changed, spec, system)[2]
    if after == before:
        return changed
    total = state.subscription_devices(system.product) - before + after
    return attrs.evolve(changed, devices={**state.devices, system.product: total})


def recount_devices(state: OrgState, catalog: Catalog) -> OrgState:
    """``state`` with its subscription devices summed afresh over all its systems (R4).

    For whole states that hold every system (the first storage format, when a
    store is upgraded). Systems of products the catalog lacks are left out.
    """
    totals: dict[str, Counts] = {}
    for _, system in sorted(state.systems.items()):
        if system.product not in catalog.product_codes:
            continue
        rest = readings.hardware_view(state, catalog.product(system.product), system)[2]
        if rest:
            totals[system.product] = totals.get(system.product, Counts()) + rest
    return attrs.evolve(state, devices=totals)


# -- time ------------------------------------------------------------------------------------


def advance(state: OrgState, catalog: Catalog, day: date) -> tuple[OrgState, tuple[Fact, ...]]:
    """Apply what time alone does up to ``day``: lot expiry (R6) and locks (R5).

    Lots whose ``expires_on`` is on or before ``day`` leave the wallet, each
    with a ``licenses_expired`` fact dated ``expires_on``. Calling it again
    with the same or an earlier day changes nothing.
    """
    if day == state.as_of:
        # The command that wrote this state ran on this very day: it applied
        # every expiry up to it and settled the locks (no lot expires on the
        # day it is acquired, and the current period cannot change within a day).
        return state, ()
    found: list[Fact] = []
    for code, ledger in sorted(state.products.items()):
        live, gone = split_expired(ledger.lots, day)
        if not gone:
            continue
        expired = ledger.expired
        for lot in gone:
            expired = expired.plus(lot.kind, {lot.license_type: lot.quantity})
            found.append(
                Fact(
                    on=lot.expires_on,
                    actor=SYSTEM_ACTOR,
                    product=code,
                    data=facts.LicensesExpired(**attrs.asdict(lot, recurse=False)),
                )
            )
        state = state.with_ledger(attrs.evolve(ledger, lots=live, expired=expired))
    found.sort(key=_expiry_order)
    if day < state.as_of:
        return state, tuple(found)  # time does not run backwards: nothing more to apply
    if day > state.as_of:
        state = attrs.evolve(state, as_of=day)
    state, _ = settle(state, catalog, day, report_growth=False, at=None)
    return state, tuple(found)


def _expiry_order(fact: Fact) -> tuple[date, str, int]:
    assert isinstance(fact.data, facts.LicensesExpired)
    return fact.on, fact.product or "", fact.data.lot_id


def settle(
    state: OrgState,
    catalog: Catalog,
    day: date,
    *,
    report_growth: bool,
    at: datetime | None,
) -> tuple[OrgState, tuple[Fact, ...]]:
    """Record the locks that hold at ``day`` and, if asked, the first growth excess (R5).

    A period locks at the first moment inside it when its allocation covers the
    devices with at least one license, and stays locked. The first time growth
    goes past the allowance in a locked period, a ``growth_exceeded`` fact is
    recorded (actor ``system``).
    """
    found: list[Fact] = []
    for code in sorted(state.products):
        ledger = state.products[code]
        if ledger.started_on is None or state.anchor is None or day < ledger.started_on:
            continue
        if code not in catalog.product_codes:
            continue  # a product the host's catalog left out: keep its ledger as it is
        spec = catalog.product(code)
        period = current_period(state.anchor, spec, day)
        if period.index in ledger.locked and not report_growth:
            continue  # locked for good, and no new devices to weigh
        devices = readings.subscription_devices(state, spec)
        locked = readings.is_locked(ledger, spec, period.index, devices)
        if locked and period.index not in ledger.locked:
            ledger = attrs.evolve(ledger, locked=ledger.locked | {period.index})
        if report_growth and locked and period.index not in ledger.growth_flagged:
            _, required, _ = readings.period_need(ledger, spec, period, devices, current=True)
            if required:
                ledger = attrs.evolve(ledger, growth_flagged=ledger.growth_flagged | {period.index})
                found.append(
                    Fact(
                        on=day,
                        at=at,
                        actor=SYSTEM_ACTOR,
                        product=code,
                        data=facts.GrowthExceeded(
                            period=period,
                            devices=devices,
                            allocated=ledger.allocated(period.index),
                            required_now=required,
                        ),
                    )
                )
        if ledger is not state.products[code]:
            state = state.with_ledger(ledger)
    return state, tuple(found)


def _finish(
    catalog: Catalog,
    ctx: Context,
    state: OrgState,
    recorded: list[Fact],
    result: T,
    *,
    devices_grew: bool = False,
) -> Outcome[T]:
    """Settle locks after a command; look for growth past the allowance if devices may have grown.

    Only more devices can take a locked period past its allowance (R5): licenses
    are only ever added to a period, hardware only takes devices off the
    subscription, and a period locks only when its allocation covers the devices.
    """
    state, more = settle(state, catalog, ctx.on, report_growth=devices_grew, at=ctx.at)
    return Outcome(state=state, facts=(*recorded, *more), result=result)


def _fact(
    ctx: Context, data: facts.FactData, *, product: str | None = None, system_id: str | None = None
) -> Fact:
    return Fact(
        on=ctx.on, at=ctx.at, actor=ctx.actor, data=data, product=product, system_id=system_id
    )


# -- organizations and systems (R1, R4) --------------------------------------------------------


def create_organization(ctx: Context, *, org_id: str, name: str, timezone: str) -> Outcome[None]:
    """A new, empty organization (R1)."""
    state = OrgState(org_id=org_id, name=name, timezone=timezone, created_on=ctx.on, as_of=ctx.on)
    fact = _fact(ctx, facts.OrganizationCreated(name=name, timezone=timezone))
    return Outcome(state=state, facts=(fact,), result=None)


def register_system(
    state: OrgState,
    catalog: Catalog,
    ctx: Context,
    *,
    product: str,
    system_id: str,
    devices: Mapping[str, int],
) -> Outcome[None]:
    """Register a system with its device counts (R1, R4).

    Raises:
        UnknownProduct: the catalog has no such product.
        InvalidInput: a device type the product does not have.
        AlreadyRegistered: the organization already has this system.
    """
    spec = catalog.product(product)
    check_types(spec, devices, "devices")
    if system_id in state.systems:
        raise AlreadyRegistered(
            f"system {system_id!r} is already registered", details={"system_id": system_id}
        )
    counts = Counts(devices)
    system = SystemRecord(system_id=system_id, product=product, devices=counts)
    state = put_system(state, catalog, system)
    fact = _fact(ctx, facts.SystemRegistered(devices=counts), product=product, system_id=system_id)
    return _finish(catalog, ctx, state, [fact], None, devices_grew=True)


def _system(state: OrgState, system_id: str) -> SystemRecord:
    try:
        return state.systems[system_id]
    except KeyError:
        raise UnknownSystem(
            f"unknown system {system_id!r}", details={"system_id": system_id}
        ) from None


def report_devices(
    state: OrgState,
    catalog: Catalog,
    ctx: Context,
    *,
    system_id: str,
    devices: Mapping[str, int],
) -> Outcome[None]:
    """Replace a system's device counts; types left out become 0 (R1, R4).

    Raises:
        UnknownSystem: the organization has no such system.
        InvalidInput: a device type the product does not have.
    """
    system = _system(state, system_id)
    check_types(catalog.product(system.product), devices, "devices")
    counts = Counts(devices)
    state = put_system(state, catalog, attrs.evolve(system, devices=counts))
    fact = _fact(
        ctx,
        facts.DevicesReported(devices=counts, previous=system.devices),
        product=system.product,
        system_id=system_id,
    )
    return _finish(catalog, ctx, state, [fact], None, devices_grew=True)


# -- subscriptions (R2, R3) ------------------------------------------------------------------


def start_subscription(
    state: OrgState, catalog: Catalog, ctx: Context, *, product: str
) -> Outcome[None]:
    """Start a product's subscription; the first one sets the organization anchor (R2, R3).

    Raises:
        UnknownProduct: the catalog has no such product.
        AlreadyStarted: the product's subscription already started.
    """
    spec = catalog.product(product)
    ledger = state.ledger(product)
    if ledger.started_on is not None:
        raise AlreadyStarted(
            f"the subscription of {product!r} already started", details={"product": product}
        )
    anchor = state.anchor or ctx.on
    state = attrs.evolve(state, anchor=anchor).with_ledger(attrs.evolve(ledger, started_on=ctx.on))
    first = first_period(anchor, spec, ctx.on)
    _, trial_ends = window(spec, first, ctx.on)
    fact = _fact(
        ctx,
        facts.SubscriptionStarted(anchor=anchor, period=first, trial_ends_on=trial_ends),
        product=product,
    )
    return _finish(catalog, ctx, state, [fact], None)


# -- wallet (R6, R10) ------------------------------------------------------------------------


def redeem(
    state: OrgState,
    catalog: Catalog,
    ctx: Context,
    *,
    product: str,
    kind: LicenseKind,
    quantities: Mapping[str, int],
    key_tail: str,
) -> Outcome[Redemption]:
    """Add one lot per license type of a redeemed key to the wallet (R6, R10).

    Raises:
        UnknownProduct: the catalog has no such product.
    """
    spec = catalog.product(product)
    state, lots = _new_lots(state, kind, _ordered(spec, quantities), ctx.on)
    ledger = state.ledger(product)
    ledger = attrs.evolve(
        ledger,
        lots=(*ledger.lots, *lots),
        redeemed=ledger.redeemed.plus(kind, quantities),
    )
    state = state.with_ledger(ledger)
    result = Redemption(product=product, kind=kind, lots=lots, key_tail=key_tail)
    fact = _fact(
        ctx,
        facts.KeyRedeemed(
            key=f"…{key_tail}",
            kind=kind,
            quantities=Counts(quantities),
            lots=[lot.lot_id for lot in lots],
            expires_on=expires_on(ctx.on),
        ),
        product=product,
    )
    return _finish(catalog, ctx, state, [fact], result)


# -- allocation (R7, R8) ---------------------------------------------------------------------


def _target_period(anchor: date, spec: ProductSpec, day: date, offset: int) -> Period:
    if offset < 0:
        raise OutsideAllocationWindow(
            f"period offset {offset} is before the current period", details={"period": offset}
        )
    if offset * spec.term_years > 100 * ADVANCE_YEARS:  # far out, and beyond the calendar
        raise OutsideAllocationWindow(
            f"period offset {offset} starts more than five years after {day.isoformat()}",
            details={"period": offset},
        )
    current = current_period(anchor, spec, day)
    period = current if offset == 0 else period_at(anchor, spec.term_years, current.index + offset)
    if not in_allocation_window(period, day):
        raise OutsideAllocationWindow(
            f"period {period.start.isoformat()}–{period.end.isoformat()} (offset {offset}) starts "
            f"more than five years after {day.isoformat()}",
            details={"period": offset, "starts_on": period.start},
        )
    return period


def _allocate_parts(
    state: OrgState,
    spec: ProductSpec,
    ctx: Context,
    parts: list[tuple[Period, int, Counts]],
) -> Outcome[Allocation]:
    """Take the licenses of every part at once, allocate them and compensate (R7, R8)."""
    ledger, _ = _started(state, spec)
    wanted = parts[0][2]
    for _, _, quantities in parts[1:]:
        wanted += quantities
    lots, missing, used = take(ledger.lots, LicenseKind.SUBSCRIPTION, wanted)
    if missing:
        raise _insufficient(ledger, LicenseKind.SUBSCRIPTION, missing)
    allocations = dict(ledger.allocations)
    for period, _, quantities in parts:
        allocations[period.index] = allocations.get(period.index, Counts()) + quantities
    recorded = [
        _fact(
            ctx,
            facts.LicensesAllocated(
                periods=[facts.PeriodPart(offset, period, q) for period, offset, q in parts],
                quantities=wanted,
                lots=_used(used),
            ),
            product=spec.code,
        )
    ]
    whole = Counts()
    credit = ledger.credit
    new_lots: tuple[Lot, ...] = ()
    current = [(period, q) for period, offset, q in parts if offset == 0]
    if current:
        assert ledger.started_on is not None
        period, quantities = current[0]
        opens, ends = window(spec, period, ledger.started_on)
        if coverage_start(ctx.on, opens, ends) > period.start:  # else no overlap: nothing back
            shares = {
                t: overlap_share(q, period, ctx.on, opens, ends) for t, q in quantities.items()
            }
            whole, credit = credit_back(ledger.credit, shares)
        if whole:
            state, new_lots = _new_lots(
                state, LicenseKind.SUBSCRIPTION, _ordered(spec, whole), ctx.on
            )
            recorded.append(
                Fact(
                    on=ctx.on,
                    at=ctx.at,
                    actor=SYSTEM_ACTOR,
                    product=spec.code,
                    data=facts.CompensationCredited(
                        quantities=whole,
                        shares=_sorted(shares),
                        credit=_sorted(credit),
                        period=period,
                        lots=[lot.lot_id for lot in new_lots],
                        allocated_by=ctx.actor,
                    ),
                )
            )
    ledger = ledger.allocated_from_wallet(
        lots=(*lots, *new_lots),
        allocations=allocations,
        credit=credit,
        compensated=ledger.compensated + whole,
    )
    state = state.with_ledger(ledger)
    result = Allocation(
        product=spec.code,
        periods=tuple(PeriodAllocation(period=p, quantities=q) for p, _, q in parts),
        compensation=whole,
        credit=dict(credit),
    )
    return Outcome(state=state, facts=tuple(recorded), result=result)


def allocate(
    state: OrgState,
    catalog: Catalog,
    ctx: Context,
    *,
    product: str,
    quantities: Mapping[str, int],
    offset: int,
) -> Outcome[Allocation]:
    """Move licenses from the wallet to the period at ``offset`` (R7), compensating (R8).

    Raises:
        UnknownProduct: the catalog has no such product.
        InvalidInput: a license type the product does not have.
        SubscriptionNotStarted: the product's subscription has not started.
        OutsideAllocationWindow: the offset is negative or the period starts
            more than five years after the command's date.
        InsufficientLicenses: the wallet lacks part of the request.
    """
    spec = catalog.product(product)
    check_types(spec, quantities, "quantities")
    _, anchor = _started(state, spec)
    period = _target_period(anchor, spec, ctx.on, offset)
    outcome = _allocate_parts(state, spec, ctx, [(period, offset, Counts(quantities))])
    return _finish(catalog, ctx, outcome.state, list(outcome.facts), outcome.result)


def allocate_need(
    state: OrgState, catalog: Catalog, ctx: Context, *, product: str, through: int
) -> Outcome[Allocation]:
    """Allocate the exact shortfall of periods ``0..through`` at once (R7, "Confirm allocation").

    Raises:
        UnknownProduct: the catalog has no such product.
        SubscriptionNotStarted: the product's subscription has not started.
        OutsideAllocationWindow: ``through`` is negative or its period starts
            more than five years ahead.
        InsufficientLicenses: the wallet cannot cover all of it.
    """
    spec = catalog.product(product)
    _, anchor = _started(state, spec)
    _target_period(anchor, spec, ctx.on, through)  # the five-year window applies to period n
    report = readings.need_report(state, spec, ctx.on, through)
    parts = [(pn.period, pn.offset, pn.shortfall) for pn in report.periods if pn.shortfall]
    if not parts:
        empty = Allocation(product=product, credit=dict(state.ledger(product).credit))
        return Outcome(state=state, facts=(), result=empty)
    outcome = _allocate_parts(state, spec, ctx, parts)
    return _finish(catalog, ctx, outcome.state, list(outcome.facts), outcome.result)


# -- hardware (R9) ---------------------------------------------------------------------------


def _attach(
    state: OrgState, catalog: Catalog, system: SystemRecord, shipment: Shipment
) -> OrgState:
    hardware = HardwareRecord(
        serial=shipment.serial,
        product=shipment.product,
        system_id=system.system_id,
        preloaded=shipment.preloaded,
    )
    system = attrs.evolve(system, hardware=(*system.hardware, shipment.serial))
    return put_system(state, catalog, system, [hardware])


def _check_shipment(system: SystemRecord, shipment: Shipment, state: OrgState) -> None:
    if shipment.serial in state.hardware:
        raise AlreadyRegistered(
            f"hardware {shipment.serial!r} is already registered",
            details={"serial": shipment.serial},
        )
    if shipment.product != system.product:
        raise InvalidInput(
            f"hardware {shipment.serial!r} was shipped for product {shipment.product!r}, "
            f"not for {system.product!r} of system {system.system_id!r}",
            param="serial",
        )


def register_hardware(
    state: OrgState, catalog: Catalog, ctx: Context, *, system_id: str, shipment: Shipment
) -> Outcome[None]:
    """Attach a shipped unit to a system; its preloaded licenses are active at once (R9).

    Raises:
        UnknownSystem: the organization has no such system.
        AlreadyRegistered: the unit is already registered.
        InvalidInput: the unit was shipped for another product.
    """
    system = _system(state, system_id)
    _check_shipment(system, shipment, state)
    state = _attach(state, catalog, system, shipment)
    fact = _fact(
        ctx,
        facts.HardwareRegistered(serial=shipment.serial, preloaded=shipment.preloaded),
        product=system.product,
        system_id=system_id,
    )
    return _finish(catalog, ctx, state, [fact], None)


def allocate_to_hardware(
    state: OrgState,
    catalog: Catalog,
    ctx: Context,
    *,
    serial: str,
    quantities: Mapping[str, int],
) -> Outcome[None]:
    """Move hardware lots from the wallet onto a unit, for its lifetime (R9).

    Raises:
        UnknownHardware: the organization has no such unit.
        InvalidInput: a license type the product does not have.
        InsufficientLicenses: the wallet lacks hardware licenses for the request.
    """
    unit = state.hardware.get(serial)
    if unit is None:
        raise UnknownHardware(f"unknown hardware {serial!r}", details={"serial": serial})
    spec = catalog.product(unit.product)
    check_types(spec, quantities, "quantities")
    ledger = state.ledger(unit.product)
    wanted = Counts(quantities)
    lots, missing, used = take(ledger.lots, LicenseKind.HARDWARE, wanted)
    if missing:
        raise _insufficient(ledger, LicenseKind.HARDWARE, missing)
    ledger = attrs.evolve(ledger, lots=lots, to_hardware=ledger.to_hardware + wanted)
    unit = attrs.evolve(unit, extensions=unit.extensions + wanted)
    state = state.with_ledger(ledger)
    state = put_system(state, catalog, _system(state, unit.system_id), [unit])
    fact = _fact(
        ctx,
        facts.ExtensionAllocated(serial=serial, quantities=wanted, lots=_used(used)),
        product=unit.product,
        system_id=unit.system_id,
    )
    return _finish(catalog, ctx, state, [fact], None)


# -- offline systems (R12) -------------------------------------------------------------------


def upload_system(
    state: OrgState,
    catalog: Catalog,
    ctx: Context,
    *,
    product: str,
    system_id: str,
    devices: Mapping[str, int],
    shipments: Iterable[Shipment],
) -> Outcome[bool]:
    """Register or update an offline system and claim its hardware, as one step (R12).

    Serials already attached to this very system are accepted again.

    Returns:
        An outcome whose result tells whether the system is new.

    Raises:
        UnknownProduct: the catalog has no such product.
        InvalidInput: an unknown device type, a system of another product, or
            hardware shipped for another product.
        AlreadyRegistered: a serial is attached to another system.
    """
    spec = catalog.product(product)
    check_types(spec, devices, "devices")
    counts = Counts(devices)
    existing = state.systems.get(system_id)
    if existing is not None and existing.product != product:
        raise InvalidInput(
            f"system {system_id!r} is registered for product {existing.product!r}, not {product!r}",
            param="product",
        )
    system = existing or SystemRecord(system_id=system_id, product=product)
    system = attrs.evolve(system, devices=counts)
    state = put_system(state, catalog, system)
    serials: list[str] = []
    for shipment in shipments:
        serials.append(shipment.serial)
        if shipment.serial in system.hardware:
            continue
        _check_shipment(system, shipment, state)
        state = _attach(state, catalog, state.systems[system_id], shipment)
    fact = _fact(
        ctx,
        facts.SystemFileUploaded(
            devices=counts, hardware=sorted(serials), new_system=existing is None
        ),
        product=product,
        system_id=system_id,
    )
    return _finish(catalog, ctx, state, [fact], existing is None, devices_grew=True)
