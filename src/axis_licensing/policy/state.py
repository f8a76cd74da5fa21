"""The one state model of an organization, as the policy core sees it.

An :class:`OrgState` holds everything the rules need about one organization:
its anchor (R2), each product's ledger (allocations, locks, lots, credit and
the tallies that prove conservation), its systems (R4) and its hardware (R9).
It is an immutable value: commands return a new state, never change one.

``as_of`` is the local date up to which time-driven facts (lot expiry, R6)
have been applied. The backends store states as opaque JSON parts; they never
look inside.

Cost follows the change (SPEC §5): a state need not hold every system of the
organization. ``systems`` and ``hardware`` hold the ones a command or query
named (the Manager loads each named system with its hardware units, and each
named unit with its system), and the rules look at no other. What the rules
need about *all* systems, a product's subscription devices (R4), is the
aggregate ``devices``, which every command that changes a system or a unit
keeps up to date (:func:`axis_licensing.policy.engine.put_system`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from fractions import Fraction

import attrs

from axis_licensing._counts import Counts
from axis_licensing._enums import Action
from axis_licensing.model import LicenseKind, Lot
from axis_licensing.policy.facts import FactData

__all__ = [
    "Fact",
    "HardwareRecord",
    "KindTally",
    "OrgBasics",
    "OrgState",
    "ProductLedger",
    "SystemRecord",
]


@attrs.frozen
class KindTally:
    """Counts kept apart by license kind."""

    subscription: Counts = Counts()
    hardware: Counts = Counts()

    def get(self, kind: LicenseKind) -> Counts:
        """The counts of ``kind``."""
        return self.subscription if kind is LicenseKind.SUBSCRIPTION else self.hardware

    def plus(self, kind: LicenseKind, counts: Mapping[str, int]) -> KindTally:
        """A tally with ``counts`` added to ``kind``."""
        if kind is LicenseKind.SUBSCRIPTION:
            return attrs.evolve(self, subscription=self.subscription + counts)
        return attrs.evolve(self, hardware=self.hardware + counts)


@attrs.frozen
class ProductLedger:
    """One product of one organization: its subscription and its wallet (R2–R8).

    Attributes:
        code: the product code.
        started_on: the local date the subscription started, or None (R2).
        allocations: subscription licenses allocated per period index (R7).
        locked: the period indexes that locked (R5).
        growth_flagged: the period indexes where growth was exceeded and recorded (R5).
        credit: the fractional compensation credit per type, each in [0, 1) (R8).
        lots: the live lots, both kinds (R6).
        redeemed: licenses ever redeemed, by kind (for conservation).
        compensated: subscription licenses ever credited back (R8).
        expired: licenses that expired in the wallet, by kind (R6).
        to_hardware: hardware licenses moved onto units (R9).
    """

    code: str
    started_on: date | None = None
    allocations: Mapping[int, Counts] = attrs.field(factory=dict)
    locked: frozenset[int] = frozenset()
    growth_flagged: frozenset[int] = frozenset()
    credit: Mapping[str, Fraction] = attrs.field(factory=dict)
    lots: tuple[Lot, ...] = ()
    redeemed: KindTally = KindTally()
    compensated: Counts = Counts()
    expired: KindTally = KindTally()
    to_hardware: Counts = Counts()

    def allocated_from_wallet(
        self,
        *,
        lots: tuple[Lot, ...],
        allocations: Mapping[int, Counts],
        credit: Mapping[str, Fraction],
        compensated: Counts,
    ) -> ProductLedger:
        """This ledger after an allocation (R7, R8): what ``attrs.evolve`` gives, made faster."""
        return ProductLedger(  # spelled out: every allocation does this, and evolve() is slow
            code=self.code,
            started_on=self.started_on,
            allocations=allocations,
            locked=self.locked,
            growth_flagged=self.growth_flagged,
            credit=credit,
            lots=lots,
            redeemed=self.redeemed,
            compensated=compensated,
            expired=self.expired,
            to_hardware=self.to_hardware,
        )

    def allocated(self, index: int) -> Counts:
        """Subscription licenses allocated to period ``index``."""
        return self.allocations.get(index, Counts())

    def balance(self, kind: LicenseKind) -> Counts:
        """The live licenses of ``kind`` in the wallet, per type."""
        return Counts([(lot.license_type, lot.quantity) for lot in self.lots if lot.kind is kind])

    @property
    def allocated_total(self) -> Counts:
        """Every subscription license ever allocated, per type."""
        total = Counts()
        for counts in self.allocations.values():
            total += counts
        return total


@attrs.frozen
class SystemRecord:
    """A registered system: its product, its reported devices and its hardware units."""

    system_id: str
    product: str
    devices: Counts = Counts()
    hardware: tuple[str, ...] = ()


@attrs.frozen
class HardwareRecord:
    """A hardware unit attached to a system, with its preloaded and extension licenses (R9)."""

    serial: str
    product: str
    system_id: str
    preloaded: Counts = Counts()
    extensions: Counts = Counts()

    @property
    def capacity(self) -> Counts:
        """All hardware licenses on the unit."""
        return self.preloaded + self.extensions


@attrs.frozen
class OrgBasics:
    """An organization's own fields: who it is, its zone, its days (the store's ``org`` part)."""

    org_id: str
    name: str
    timezone: str
    created_on: date
    as_of: date
    anchor: date | None = None


@attrs.frozen
class OrgState(OrgBasics):
    """Everything the rules know about one organization."""

    products: Mapping[str, ProductLedger] = attrs.field(factory=dict)
    systems: Mapping[str, SystemRecord] = attrs.field(factory=dict)
    hardware: Mapping[str, HardwareRecord] = attrs.field(factory=dict)
    next_lot_id: int = 1
    #: Per product, the devices of all its systems that their hardware does not cover (R4, R9).
    devices: Mapping[str, Counts] = attrs.field(factory=dict)

    def ledger(self, product: str) -> ProductLedger:
        """The product's ledger; an empty one if nothing happened to it yet."""
        return self.products.get(product) or ProductLedger(code=product)

    def with_ledger(self, ledger: ProductLedger) -> OrgState:
        """A state with ``ledger`` replacing the product's ledger."""
        return OrgState(  # spelled out: every command does this, and evolve() is slow
            org_id=self.org_id,
            name=self.name,
            timezone=self.timezone,
            created_on=self.created_on,
            as_of=self.as_of,
            anchor=self.anchor,
            products={**self.products, ledger.code: ledger},
            systems=self.systems,
            hardware=self.hardware,
            next_lot_id=self.next_lot_id,
            devices=self.devices,
        )

    def as_created(self) -> OrgState:
        """The organization as it was created: its name and zone, and nothing else.

        What queries answer before the organization existed (SPEC §1: no facts yet).
        """
        return OrgState(
            org_id=self.org_id,
            name=self.name,
            timezone=self.timezone,
            created_on=self.created_on,
            as_of=self.created_on,
        )

    def subscription_devices(self, product: str) -> Counts:
        """The product's devices that hardware does not cover, over all its systems (R4)."""
        return self.devices.get(product) or Counts()

    def systems_of(self, product: str) -> tuple[SystemRecord, ...]:
        """The product's systems that this state holds, in id order (see the module docstring)."""
        return tuple(s for _, s in sorted(self.systems.items()) if s.product == product)

    def without_systems(self) -> OrgState:
        """The organization's own part of the state: no systems or hardware loaded."""
        if not self.systems and not self.hardware:
            return self
        return attrs.evolve(self, systems={}, hardware={})


@attrs.frozen
class Fact:
    """Something that happened, as the policy reports it (R11).

    ``data`` is its typed details (:mod:`axis_licensing.policy.facts`), whose
    class names the action. ``at`` is the command's instant; it is None for
    facts dated by the rules themselves (lot expiry happens at the start of
    ``on`` in the organization's zone), which the Manager turns into an instant.
    """

    on: date
    actor: str
    data: FactData
    at: datetime | None = None
    product: str | None = None
    system_id: str | None = None

    @property
    def action(self) -> Action:
        """The activity's action, named by the class of ``data``."""
        return self.data.ACTION
