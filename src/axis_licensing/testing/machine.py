"""A hypothesis state machine that holds a Manager against the plain ledger model (SPEC §5).

:func:`make_ledger_machine` returns a :class:`~hypothesis.stateful.RuleBasedStateMachine`
that drives the public :class:`~axis_licensing.Manager` API with random
commands (organizations, systems, devices, subscriptions, keys of both kinds,
allocations to period offsets 0..6, ``allocate_need``, hardware and its
extensions) and moves a :class:`~axis_licensing.ManualClock` by days and by
years. After every step it checks, for every organization, product, kind and
type (SPEC §5):

- conservation: ``redeemed + compensated == wallet + allocated + expired``,
  with ``allocated`` summed from the command results and ``expired`` from the
  ``licenses_expired`` activities of the history;
- the wallet, grouped by kind, type and acquisition date, equals the model's,
  which uses lots earliest expiry first (R6); its lots are listed in that
  order, none is empty, and each expires five years after it was acquired;
- the credit is in ``[0, 1)`` and equals the model's exact credit, whose R8
  shares the model computes on its own from the period and the window;
- a period's dates never move, and equal the anchor-based dates (R2, R3);
- a command that fails changes nothing: the history and the wallets are the same;
- queries at a past ``at`` stay exact (SPEC §1, §5): at the first and at the
  latest earlier instant checked, ``wallet(at=…)`` still equals the model's
  wallet and credit then, and ``wallet``, ``status`` and ``system_status``
  answer exactly what they answered at that instant.

The machine is built per backend by a factory, so one machine runs over
every backend (the conformance idea of zarr's ``ZarrStoreStateMachine``)::

    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test

    Machine = make_ledger_machine(
        lambda clock: Manager.open("memory://", catalog=MY_CATALOG, clock=clock)
    )
    run_state_machine_as_test(Machine, settings=settings(max_examples=50))

The model only reads dates from public query results; it never calls into
:mod:`axis_licensing.policy`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

import attrs
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from axis_licensing._counts import Counts
from axis_licensing._time import ManualClock
from axis_licensing.catalog import ProductSpec
from axis_licensing.errors import (
    AlreadyRegistered,
    AlreadyStarted,
    InsufficientLicenses,
    InvalidInput,
    KeyAlreadyRedeemed,
    OutsideAllocationWindow,
    SubscriptionNotStarted,
)
from axis_licensing.manager import Manager
from axis_licensing.model import (
    Action,
    Activity,
    Allocation,
    LicenseKind,
    Period,
    PeriodAllocation,
    ProductState,
    ProductStatus,
    SystemStatus,
    Wallet,
)
from axis_licensing.testing.model import (
    LedgerModel,
    LotGroup,
    allocation_window_allows,
    lot_expires_on,
    overlap_share,
    period_bounds,
    period_index_at,
    window,
)
from axis_licensing.testing.strategies import counts, instants, timezones

__all__ = [
    "ACTOR",
    "LedgerInvariantError",
    "LedgerMachine",
    "ManagerFactory",
    "make_ledger_machine",
]

#: The actor of every command the machine runs.
ACTOR = "ledger-machine"

#: Builds a fresh Manager on an empty store, driven by the given clock.
ManagerFactory = Callable[[ManualClock], Manager]

#: The most organizations, systems and hardware units one run creates.
MAX_ORGS = 3
MAX_SYSTEMS = 6
MAX_HARDWARE = 6

#: The furthest period offset the machine tries (R7 allows about five years).
MAX_OFFSET = 6

_E = TypeVar("_E", bound=Exception)

Snapshot = tuple[tuple[Activity, ...], tuple[Wallet, ...]]


@attrs.frozen
class _Past:
    """What an organization's queries answered at one instant, and the model's wallets then."""

    wallets: dict[str, Wallet]
    statuses: dict[str, ProductStatus]
    systems: dict[str, SystemStatus]
    groups: dict[str, dict[LotGroup, int]]
    credits: dict[str, dict[str, Fraction]]


class LedgerInvariantError(AssertionError):
    """A check of the ledger machine failed: the Manager and the model disagree."""


def _count_dict(counts_: Mapping[str, int]) -> dict[str, int]:
    return {t: n for t, n in sorted(counts_.items()) if n}


class LedgerMachine(RuleBasedStateMachine):
    """Random commands on a Manager, checked against :class:`LedgerModel` after every step.

    Use :func:`make_ledger_machine` to bind it to a Manager factory.
    """

    manager_factory: ClassVar[ManagerFactory]

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(datetime(2026, 1, 1, 12, tzinfo=UTC))
        self.manager = type(self).manager_factory(self.clock)
        self.model = LedgerModel()
        self.orgs: dict[str, str] = {}  # org_id -> time zone
        self.anchors: dict[str, date] = {}
        self.started: dict[tuple[str, str], date] = {}
        self.systems: dict[str, tuple[str, str]] = {}  # system_id -> (org_id, product)
        self.shipped: dict[str, tuple[str, Counts]] = {}  # serial -> (product, preloaded)
        self.hardware: dict[str, tuple[str, str]] = {}  # serial -> (org_id, system_id)
        self.capacity: dict[str, Counts] = {}  # system_id -> hardware licenses on its units
        self.redeemed_keys: list[str] = []
        self.periods_seen: dict[tuple[str, str, int], tuple[date, date]] = {}
        self.serial_number = 0
        #: Per organization, what was answered at each instant checked, oldest first.
        self.past: dict[str, dict[datetime, _Past]] = {}

    def teardown(self) -> None:
        """Close the Manager."""
        self.manager.close()

    # -- helpers ---------------------------------------------------------------------------

    @property
    def products(self) -> tuple[ProductSpec, ...]:
        """The catalog's products."""
        return self.manager.catalog.products

    def spec(self, product: str) -> ProductSpec:
        """The catalog entry of ``product``."""
        return self.manager.catalog.product(product)

    def next_id(self, prefix: str) -> str:
        """A fresh id, unique in this run."""
        self.serial_number += 1
        return f"{prefix}-{self.serial_number}"

    def today(self, org_id: str) -> date:
        """The clock's local date in the organization's zone."""
        return self.clock.now().astimezone(ZoneInfo(self.orgs[org_id])).date()

    def sync(self, org_id: str) -> date:
        """Expire the model's lots up to the organization's today, and return today (R6)."""
        day = self.today(org_id)
        self.model.expire(org_id, day)
        return day

    def snapshot(self, org_id: str) -> Snapshot:
        """What a failed command must leave unchanged: the history and every wallet."""
        history = tuple(self.manager.history(org_id))
        wallets = tuple(self.manager.wallet(org_id, spec.code) for spec in self.products)
        return history, wallets

    def expect_failure(self, org_id: str, error: type[_E], command: Callable[[], object]) -> _E:
        """Run ``command``, which must raise ``error`` and change nothing (R14, SPEC §5)."""
        event(f"expected failure: {error.__name__}")
        before = self.snapshot(org_id)
        try:
            command()
        except error as exc:
            caught = exc
        else:
            raise LedgerInvariantError(f"expected {error.__name__}, the command succeeded")
        after = self.snapshot(org_id)
        if after != before:
            raise LedgerInvariantError(
                f"a command that raised {error.__name__} changed the ledger of {org_id!r}:\n"
                f"before: {before}\nafter: {after}"
            )
        return caught

    def current_period(self, org_id: str, product: str, day: date) -> tuple[int, date, date]:
        """The model's current period at ``day``: ``(index, start, end)`` (R2)."""
        anchor = self.anchors[org_id]
        term = self.spec(product).term_years
        index = period_index_at(anchor, term, day)
        start, end = period_bounds(anchor, term, index)
        return index, start, end

    def model_window(self, org_id: str, product: str, start: date, end: date) -> tuple[date, date]:
        """The model's trial or grace window of the period ``[start, end)`` (R3)."""
        spec = self.spec(product)
        started_on = self.started[(org_id, product)]
        first = start <= started_on < end
        return window(start, started_on, spec.trial_days if first else spec.grace_days)

    def shares(
        self, org_id: str, product: str, quantities: Mapping[str, int], day: date
    ) -> dict[str, Fraction]:
        """The model's R8 shares of an allocation of ``quantities`` to the current period."""
        _, start, end = self.current_period(org_id, product, day)
        bounds = self.model_window(org_id, product, start, end)
        return {t: overlap_share(q, (start, end), day, bounds) for t, q in quantities.items()}

    def draw_quantities(
        self, data: st.DataObject, org_id: str, product: str, kind: LicenseKind
    ) -> Counts:
        """A request: half the time within the wallet's balance, else anything."""
        balance = self.model.balance(org_id, product, kind)
        within: bool = bool(balance) and data.draw(st.booleans(), label="within balance")
        if within:
            chosen = data.draw(
                st.lists(st.sampled_from(sorted(balance)), min_size=1, unique=True), label="types"
            )
            return Counts(
                {
                    t: data.draw(st.integers(min_value=1, max_value=balance[t]), label=t)
                    for t in chosen
                }
            )
        types = self.spec(product).type_codes
        return data.draw(counts(types, min_value=1, max_value=12, min_size=1), label="quantities")

    def draw_org(self, data: st.DataObject) -> str:
        """One of the organizations."""
        return data.draw(st.sampled_from(sorted(self.orgs)), label="org")

    def draw_scope(self, data: st.DataObject) -> tuple[str, str]:
        """An (organization, product): mostly a started one, when there is one."""
        if self.started and data.draw(st.integers(0, 4), label="started") > 0:
            return data.draw(st.sampled_from(sorted(self.started)), label="org, product")
        return self.draw_org(data), self.draw_product(data)

    def draw_product(self, data: st.DataObject) -> str:
        """One of the catalog's products."""
        return data.draw(st.sampled_from([p.code for p in self.products]), label="product")

    def check_capacity(self, system_id: str) -> None:
        """The system's hardware capacity is its units' preloaded plus extension licenses (R9)."""
        org_id, _ = self.systems[system_id]
        status = self.manager.system_status(org_id, system_id)
        expected = self.capacity.get(system_id, Counts())
        if status.hardware_capacity != expected:
            raise LedgerInvariantError(
                f"system {system_id!r}: hardware capacity {status.hardware_capacity} != {expected}"
            )

    # -- rules -----------------------------------------------------------------------------

    @initialize(
        start=instants(datetime(2024, 1, 1, tzinfo=UTC), datetime(2034, 12, 31, tzinfo=UTC)),
        timezone=timezones(),
        data=st.data(),
        days_later=st.integers(min_value=0, max_value=400),
    )
    def start_clock(
        self, start: datetime, timezone: str, data: st.DataObject, days_later: int
    ) -> None:
        """Set the clock, create an organization, start a subscription, redeem a key, wait."""
        self.clock.set(start)
        self.create_organization(timezone)
        self.start_subscription(data)
        self.issue_and_redeem_key(data, LicenseKind.SUBSCRIPTION)
        self.clock.advance(timedelta(days=days_later))

    @precondition(lambda self: len(self.orgs) < MAX_ORGS)
    @rule(timezone=timezones())
    def create_organization(self, timezone: str) -> None:
        """A new organization in ``timezone`` (R1)."""
        org_id = self.next_id("org")
        self.manager.create_organization(
            org_id, name=org_id.upper(), timezone=timezone, actor=ACTOR
        )
        self.orgs[org_id] = timezone

    @precondition(lambda self: len(self.systems) < MAX_SYSTEMS)
    @rule(data=st.data())
    def register_system(self, data: st.DataObject) -> None:
        """Register a system; reusing a system id in any organization changes nothing (R1)."""
        org_id = self.draw_org(data)
        product = self.draw_product(data)
        devices = data.draw(counts(self.spec(product).type_codes, max_value=12), label="devices")
        if self.systems and data.draw(st.integers(0, 4), label="reuse id") == 0:
            taken = data.draw(st.sampled_from(sorted(self.systems)), label="taken id")
            self.expect_failure(
                org_id,
                AlreadyRegistered,
                lambda: self.manager.register_system(
                    org_id, product, taken, devices=devices, actor=ACTOR
                ),
            )
            return
        system_id = self.next_id("sys")
        self.sync(org_id)
        self.manager.register_system(org_id, product, system_id, devices=devices, actor=ACTOR)
        self.systems[system_id] = (org_id, product)

    @precondition(lambda self: bool(self.systems))
    @rule(data=st.data())
    def report_devices(self, data: st.DataObject) -> None:
        """Replace a system's device counts (R1, R4)."""
        system_id = data.draw(st.sampled_from(sorted(self.systems)), label="system")
        org_id, product = self.systems[system_id]
        devices = data.draw(counts(self.spec(product).type_codes, max_value=15), label="devices")
        self.sync(org_id)
        self.manager.report_devices(org_id, system_id, devices, actor=ACTOR)
        status = self.manager.system_status(org_id, system_id)
        if status.devices != devices:
            raise LedgerInvariantError(f"{system_id}: devices {status.devices} != {devices}")

    def unstarted(self) -> list[tuple[str, str]]:
        """The (organization, product) pairs whose subscription has not started."""
        return [
            (org_id, spec.code)
            for org_id in sorted(self.orgs)
            for spec in self.products
            if (org_id, spec.code) not in self.started
        ]

    @rule(data=st.data())
    def start_subscription(self, data: st.DataObject) -> None:
        """Start a subscription; the first one in an organization sets its anchor (R2).

        Now and then it starts a started one again, which fails and changes nothing.
        """
        unstarted = self.unstarted()
        if self.started and (not unstarted or data.draw(st.integers(0, 5), label="again") == 0):
            org_id, product = data.draw(st.sampled_from(sorted(self.started)), label="started")
            self.expect_failure(
                org_id,
                AlreadyStarted,
                lambda: self.manager.start_subscription(org_id, product, actor=ACTOR),
            )
            return
        org_id, product = data.draw(st.sampled_from(unstarted), label="org, product")
        day = self.sync(org_id)
        self.manager.start_subscription(org_id, product, actor=ACTOR)
        self.started[(org_id, product)] = day
        self.anchors.setdefault(org_id, day)
        status = self.manager.status(org_id, product)
        if status.started_on != day:
            raise LedgerInvariantError(
                f"{org_id}/{product}: started_on {status.started_on} != local date {day}"
            )

    @rule(data=st.data(), kind=st.sampled_from(LicenseKind))
    def issue_and_redeem_key(self, data: st.DataObject, kind: LicenseKind) -> None:
        """The vendor issues a key; an organization redeems it: one lot per type (R6, R10).

        Now and then a key already redeemed is tried again, in any organization,
        which fails and changes nothing (R1, R10).
        """
        if self.redeemed_keys and data.draw(st.integers(0, 5), label="again") == 0:
            org_id = self.draw_org(data)
            key = data.draw(st.sampled_from(self.redeemed_keys), label="key")
            self.expect_failure(
                org_id,
                KeyAlreadyRedeemed,
                lambda: self.manager.redeem_key(org_id, key, actor=ACTOR),
            )
            return
        org_id, product = self.draw_scope(data)
        quantities = data.draw(
            counts(self.spec(product).type_codes, min_value=1, max_value=20, min_size=1),
            label="quantities",
        )
        key = self.manager.vendor.issue_key(product, kind, quantities)
        day = self.sync(org_id)
        redemption = self.manager.redeem_key(org_id, key, actor=ACTOR)
        self.redeemed_keys.append(key)
        self.model.redeem(org_id, product, kind, quantities, day)
        if redemption.quantities != quantities:
            raise LedgerInvariantError(
                f"redeemed {redemption.quantities}, the key carries {quantities}"
            )
        for lot in redemption.lots:
            if (lot.kind, lot.acquired_on, lot.expires_on) != (kind, day, lot_expires_on(day)):
                raise LedgerInvariantError(
                    f"lot {lot} should be {kind}, acquired {day}, expiring {lot_expires_on(day)}"
                )

    @rule(data=st.data())
    def allocate_current(self, data: st.DataObject) -> None:
        """Allocate to the current period, with overlap compensation (R7, R8)."""
        self.allocate(data, 0)

    @rule(data=st.data(), offset=st.integers(min_value=1, max_value=MAX_OFFSET))
    def allocate_ahead(self, data: st.DataObject, offset: int) -> None:
        """Allocate to a future period, or one beyond the five-year window (R7)."""
        self.allocate(data, offset)

    def allocatable(
        self, org_id: str, product: str, day: date, offset: int, command: Callable[[], object]
    ) -> tuple[int, date, date] | None:
        """The current period's index and the bounds of the one ``offset`` after it, or
        None when ``command`` is refused before the wallet is read: the product is not
        started, or that period is outside the allocation window (R7)."""
        if (org_id, product) not in self.started:
            self.expect_failure(org_id, SubscriptionNotStarted, command)
            return None
        index, _, _ = self.current_period(org_id, product, day)
        term_years = self.spec(product).term_years
        start, end = period_bounds(self.anchors[org_id], term_years, index + offset)
        if not allocation_window_allows(start, day):
            self.expect_failure(org_id, OutsideAllocationWindow, command)
            return None
        return index, start, end

    def short(
        self,
        org_id: str,
        product: str,
        kind: LicenseKind,
        wanted: Mapping[str, int],
        command: Callable[[], object],
    ) -> bool:
        """Whether the wallet lacks part of ``wanted``; then ``command`` must fail with
        the model's exact shortfall (R6, R7)."""
        missing = self.model.missing(org_id, product, kind, wanted)
        if missing:
            error = self.expect_failure(org_id, InsufficientLicenses, command)
            if error.shortfall != missing:
                raise LedgerInvariantError(f"shortfall {error.shortfall} != {missing}")
        return bool(missing)

    def allocate(self, data: st.DataObject, offset: int) -> None:
        """Allocate to a period offset; the model predicts the outcome exactly (R7, R8)."""
        org_id, product = self.draw_scope(data)
        quantities = self.draw_quantities(data, org_id, product, LicenseKind.SUBSCRIPTION)
        day = self.sync(org_id)

        def command() -> Allocation:
            return self.manager.allocate(org_id, product, quantities, period=offset, actor=ACTOR)

        target = self.allocatable(org_id, product, day, offset, command)
        if target is None:
            return
        index, start, end = target
        if self.short(org_id, product, LicenseKind.SUBSCRIPTION, quantities, command):
            return
        result = command()
        self.model.take(org_id, product, LicenseKind.SUBSCRIPTION, quantities)
        expected = (PeriodAllocation(Period(index + offset, start, end), quantities),)
        if result.periods != expected:
            raise LedgerInvariantError(f"allocation {result.periods} != {expected}")
        whole: dict[str, int] = {}
        if offset == 0:
            whole = self.model.compensate(
                org_id, product, self.shares(org_id, product, quantities, day), day
            )
        self.check_allocation(org_id, product, result, whole)

    def check_allocation(
        self, org_id: str, product: str, result: Allocation, whole: Mapping[str, int]
    ) -> None:
        """The result's compensation and credit equal the model's (R8)."""
        day = self.today(org_id)
        if not result.periods:
            what = "nothing needed"
        elif any(day in part.period for part in result.periods):
            what = "to the current period"
        else:
            what = "to future periods"
        if whole:
            what += ", whole licenses credited back"
        event(f"allocation: {what}")
        if _count_dict(result.compensation) != dict(whole):
            raise LedgerInvariantError(
                f"{org_id}/{product}: compensation {result.compensation} != model {whole}"
            )
        credit = self.model.credits(org_id, product)
        if result.credit != credit:
            raise LedgerInvariantError(f"{org_id}/{product}: credit {result.credit} != {credit}")

    @rule(data=st.data(), through=st.integers(min_value=0, max_value=MAX_OFFSET))
    def allocate_need(self, data: st.DataObject, through: int) -> None:
        """Allocate the shortfall of periods 0..through at once, or nothing (R7)."""
        org_id, product = self.draw_scope(data)
        day = self.sync(org_id)

        def command() -> Allocation:
            return self.manager.allocate_need(org_id, product, through=through, actor=ACTOR)

        target = self.allocatable(org_id, product, day, through, command)
        if target is None:
            return
        index = target[0]
        report = self.manager.need(org_id, product, horizon=through)
        for period_need in report.periods:
            self.see_period(org_id, product, period_need.period)
        parts = tuple(
            PeriodAllocation(pn.period, pn.shortfall) for pn in report.periods if pn.shortfall
        )
        wanted = Counts()
        for part in parts:
            wanted += part.quantities
        if self.short(org_id, product, LicenseKind.SUBSCRIPTION, wanted, command):
            return
        if not parts:
            before = self.snapshot(org_id)
            result = command()
            if self.snapshot(org_id) != before:
                raise LedgerInvariantError("an empty allocate_need recorded something")
            if result.periods != ():
                raise LedgerInvariantError(f"nothing was needed, yet allocated {result.periods}")
            self.check_allocation(org_id, product, result, {})
            return
        result = command()
        if result.periods != parts:
            raise LedgerInvariantError(f"allocate_need gave {result.periods}, need was {parts}")
        self.model.take(org_id, product, LicenseKind.SUBSCRIPTION, wanted)
        whole: dict[str, int] = {}
        current = [p for p in parts if p.period.index == index]
        if current:
            whole = self.model.compensate(
                org_id, product, self.shares(org_id, product, current[0].quantities, day), day
            )
        self.check_allocation(org_id, product, result, whole)
        after = self.manager.need(org_id, product, horizon=through)
        left = [(pn.offset, pn.shortfall) for pn in after.periods if pn.shortfall]
        if left:
            raise LedgerInvariantError(f"allocate_need(through={through}) left shortfalls {left}")

    @precondition(lambda self: len(self.shipped) + len(self.hardware) < MAX_HARDWARE)
    @rule(data=st.data())
    def ship_hardware(self, data: st.DataObject) -> None:
        """The vendor ships a unit with preloaded hardware licenses (R9)."""
        product = self.draw_product(data)
        preloaded = data.draw(
            counts(self.spec(product).type_codes, min_value=1, max_value=8), label="preloaded"
        )
        serial = self.next_id("hw")
        self.manager.vendor.ship_hardware(serial, product, preloaded)
        self.shipped[serial] = (product, preloaded)

    @precondition(lambda self: bool(self.systems) and bool(self.shipped or self.hardware))
    @rule(data=st.data())
    def register_hardware(self, data: st.DataObject) -> None:
        """Attach a shipped unit to a system of its product; never twice (R9)."""
        system_id = data.draw(st.sampled_from(sorted(self.systems)), label="system")
        org_id, product = self.systems[system_id]
        serial = data.draw(st.sampled_from(sorted({*self.shipped, *self.hardware})), label="serial")

        def command() -> None:
            self.manager.register_hardware(org_id, system_id, serial, actor=ACTOR)

        if serial in self.hardware:
            self.expect_failure(org_id, AlreadyRegistered, command)
            return
        shipped_for, preloaded = self.shipped[serial]
        if shipped_for != product:
            self.expect_failure(org_id, InvalidInput, command)
            return
        self.sync(org_id)
        command()
        del self.shipped[serial]
        self.hardware[serial] = (org_id, system_id)
        self.capacity[system_id] = self.capacity.get(system_id, Counts()) + preloaded
        self.check_capacity(system_id)

    @precondition(lambda self: bool(self.hardware))
    @rule(data=st.data())
    def allocate_to_hardware(self, data: st.DataObject) -> None:
        """Move hardware lots onto a unit for its lifetime, earliest expiry first (R6, R9)."""
        serial = data.draw(st.sampled_from(sorted(self.hardware)), label="serial")
        org_id, system_id = self.hardware[serial]
        _, product = self.systems[system_id]
        quantities = self.draw_quantities(data, org_id, product, LicenseKind.HARDWARE)
        self.sync(org_id)

        def command() -> None:
            self.manager.allocate_to_hardware(org_id, serial, quantities, actor=ACTOR)

        if self.short(org_id, product, LicenseKind.HARDWARE, quantities, command):
            return
        command()
        self.model.take(org_id, product, LicenseKind.HARDWARE, quantities)
        self.capacity[system_id] = self.capacity.get(system_id, Counts()) + quantities
        self.check_capacity(system_id)

    @rule(
        days=st.integers(min_value=0, max_value=45),
        minutes=st.integers(min_value=0, max_value=24 * 60 - 1),
    )
    def advance_days(self, days: int, minutes: int) -> None:
        """Time passes: a few days (windows close, periods renew)."""
        self.clock.advance(timedelta(days=days, minutes=minutes))

    @rule(
        years=st.integers(min_value=1, max_value=6),
        days=st.integers(min_value=-3, max_value=3),
    )
    def advance_years(self, years: int, days: int) -> None:
        """Years pass, give or take a few days (lots expire around their fifth year)."""
        self.clock.advance(timedelta(days=365 * years + days))

    # -- invariants ------------------------------------------------------------------------

    def see_period(self, org_id: str, product: str, period: Period) -> None:
        """A period's dates, once seen, never change, and are the anchor's (R2, SPEC §5)."""
        key = (org_id, product, period.index)
        first = self.periods_seen.setdefault(key, (period.start, period.end))
        if (period.start, period.end) != first:
            raise LedgerInvariantError(
                f"{org_id}/{product}: period {period.index} moved from {first} to "
                f"{(period.start, period.end)}"
            )
        bounds = period_bounds(self.anchors[org_id], self.spec(product).term_years, period.index)
        if (period.start, period.end) != bounds:
            raise LedgerInvariantError(
                f"{org_id}/{product}: period {period.index} is {period}, the anchor gives {bounds}"
            )

    @invariant()
    def ledger_matches_model(self) -> None:
        """Conservation, expiry order, credit and period dates, for every organization (§5)."""
        for org_id in sorted(self.orgs):
            self.check_organization(org_id)

    def check_organization(self, org_id: str) -> None:
        """Every check of one organization (see the module docstring)."""
        day = self.sync(org_id)
        expired: dict[tuple[str, LicenseKind, str], int] = {}
        compensated: dict[tuple[str, str], int] = {}
        for activity in self.manager.history(
            org_id, actions=[Action.LICENSES_EXPIRED, Action.COMPENSATION_CREDITED]
        ):
            product = activity.product or ""
            details: dict[str, Any] = activity.details
            if activity.action == Action.LICENSES_EXPIRED:
                key = (product, LicenseKind(details["kind"]), str(details["license_type"]))
                expired[key] = expired.get(key, 0) + int(details["quantity"])
            else:
                for license_type, quantity in details["quantities"].items():
                    compensated[(product, license_type)] = compensated.get(
                        (product, license_type), 0
                    ) + int(quantity)
        for spec in self.products:
            wallet = self.manager.wallet(org_id, spec.code)
            self.check_wallet(org_id, spec.code, wallet, day)
            for _, product, kind, license_type in self.model.keys(org_id):
                if product != spec.code:
                    continue
                tally = self.model.tally(org_id, product, kind, license_type)
                in_wallet = wallet.balance(kind).get(license_type, 0)
                gone = expired.get((product, kind, license_type), 0)
                where = f"{org_id}/{product}/{kind.value}/{license_type}"
                if tally.redeemed + tally.compensated != in_wallet + tally.allocated + gone:
                    raise LedgerInvariantError(
                        f"{where}: conservation broken: redeemed {tally.redeemed} + compensated "
                        f"{tally.compensated} != wallet {in_wallet} + allocated {tally.allocated} "
                        f"+ expired {gone}"
                    )
                if gone != tally.expired:
                    raise LedgerInvariantError(f"{where}: expired {gone} != model {tally.expired}")
                if kind is LicenseKind.SUBSCRIPTION:
                    back = compensated.get((product, license_type), 0)
                    if back != tally.compensated:
                        raise LedgerInvariantError(
                            f"{where}: compensation_credited {back} != model {tally.compensated}"
                        )
            self.check_status(org_id, spec.code, day)
        self.check_past(org_id)

    def check_past(self, org_id: str) -> None:
        """Queries at earlier instants answer as they did then, and as the model did (§1, §5).

        The answers at this instant are kept for later steps. Commands that run
        later at this very instant are facts of this instant too, so its entry
        is replaced until the clock moves on.
        """
        now = self.clock.now()
        m = self.manager
        codes = [spec.code for spec in self.products]
        mine = sorted(s for s, (org, _) in self.systems.items() if org == org_id)
        kept = self.past.setdefault(org_id, {})
        earlier = [at for at in kept if at < now]
        for at in sorted({*earlier[:1], *earlier[-1:]}):
            was = kept[at]
            for code in codes:
                wallet = m.wallet(org_id, code, at=at)
                where = f"{org_id}/{code} at {at.isoformat()}"
                if wallet != was.wallets[code]:
                    raise LedgerInvariantError(
                        f"{where}: the wallet is now {wallet}, it was {was.wallets[code]}"
                    )
                groups = self.model.lot_groups(
                    (lot.kind, lot.license_type, lot.acquired_on, lot.quantity)
                    for lot in wallet.lots
                )
                if groups != was.groups[code] or wallet.credit != was.credits[code]:
                    raise LedgerInvariantError(f"{where}: the wallet {wallet} is not the model's")
                status = m.status(org_id, code, at=at)
                if status != was.statuses[code]:
                    raise LedgerInvariantError(
                        f"{where}: the status is now {status}, it was {was.statuses[code]}"
                    )
            for system_id, then in was.systems.items():
                system = m.system_status(org_id, system_id, at=at)
                if system != then:
                    raise LedgerInvariantError(
                        f"{org_id}/{system_id} at {at.isoformat()}: now {system}, it was {then}"
                    )
        kept[now] = _Past(
            wallets={c: m.wallet(org_id, c) for c in codes},
            statuses={c: m.status(org_id, c) for c in codes},
            systems={s: m.system_status(org_id, s) for s in mine},
            groups={c: self.model.groups(org_id, c) for c in codes},
            credits={c: self.model.credits(org_id, c) for c in codes},
        )

    def check_wallet(self, org_id: str, product: str, wallet: Wallet, day: date) -> None:
        """Lots in expiry order, none empty or expired; groups and credit equal the model's."""
        where = f"{org_id}/{product}"
        keys = [(lot.expires_on, lot.acquired_on, lot.lot_id) for lot in wallet.lots]
        if keys != sorted(keys):
            raise LedgerInvariantError(f"{where}: lots not in expiry order: {wallet.lots}")
        for lot in wallet.lots:
            if lot.quantity <= 0:
                raise LedgerInvariantError(f"{where}: an empty or negative lot is listed: {lot}")
            if lot.expires_on != lot_expires_on(lot.acquired_on):
                raise LedgerInvariantError(
                    f"{where}: lot {lot.lot_id} expires {lot.expires_on}, not "
                    f"{lot_expires_on(lot.acquired_on)}"
                )
            if not (lot.acquired_on <= day < lot.expires_on):
                raise LedgerInvariantError(
                    f"{where}: lot {lot.lot_id} is listed on {day} but is not live: {lot}"
                )
        groups = self.model.lot_groups(
            (lot.kind, lot.license_type, lot.acquired_on, lot.quantity) for lot in wallet.lots
        )
        expected = self.model.groups(org_id, product)

        def show(g: Mapping[LotGroup, int]) -> list[tuple[str, str, str, int]]:
            return sorted(
                (k.kind.value, k.license_type, k.acquired_on.isoformat(), n) for k, n in g.items()
            )

        if groups != expected:
            raise LedgerInvariantError(
                f"{where}: wallet (kind, type, acquired_on, quantity) {show(groups)} != model "
                f"{show(expected)}"
            )
        for license_type, value in wallet.credit.items():
            if not (0 <= value < 1):
                raise LedgerInvariantError(
                    f"{where}: credit {license_type} = {value} not in [0, 1)"
                )
        credit = self.model.credits(org_id, product)
        if wallet.credit != credit:
            raise LedgerInvariantError(f"{where}: credit {wallet.credit} != model {credit}")

    def check_status(self, org_id: str, product: str, day: date) -> None:
        """The current period and window are the anchor's, and never move (R2, R3)."""
        status = self.manager.status(org_id, product)
        where = f"{org_id}/{product}"
        if (org_id, product) not in self.started:
            if status.state is not ProductState.NOT_STARTED:
                raise LedgerInvariantError(f"{where}: not started, yet {status.state}")
            return
        if status.period is None:
            raise LedgerInvariantError(f"{where}: a started product has no period")
        assert status.period is not None
        index, start, end = self.current_period(org_id, product, day)
        if status.period != Period(index, start, end):
            raise LedgerInvariantError(
                f"{where}: current period {status.period} != model {(index, start, end)} on {day}"
            )
        self.see_period(org_id, product, status.period)
        _, ends = self.model_window(org_id, product, start, end)
        if status.window_ends_on != ends:
            raise LedgerInvariantError(
                f"{where}: window ends {status.window_ends_on} != model {ends}"
            )


def make_ledger_machine(
    manager_factory: ManagerFactory, *, name: str = "LedgerMachine"
) -> type[LedgerMachine]:
    """A :class:`LedgerMachine` bound to ``manager_factory``.

    Args:
        manager_factory: called once per example with the machine's
            :class:`~axis_licensing.ManualClock`; it must return a Manager on
            an empty store (a fresh file or schema each time). The machine
            closes it at the end of the example.
        name: the class name, which hypothesis shows in its reports.

    Returns:
        A ``RuleBasedStateMachine`` subclass: run it with
        :func:`hypothesis.stateful.run_state_machine_as_test`, or use its
        ``TestCase`` attribute as a unittest test case.
    """
    return type(name, (LedgerMachine,), {"manager_factory": staticmethod(manager_factory)})
