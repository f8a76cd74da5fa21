"""The public values: what commands and queries return (SPEC §3).

All are frozen attrs classes. Counts per license type are :class:`Counts`,
dates are :class:`datetime.date`, instants are aware :class:`datetime.datetime`
and exact shares are :class:`fractions.Fraction`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from fractions import Fraction
from typing import Any

import attrs

from axis_licensing._counts import Counts
from axis_licensing._entitlement import Entitlement
from axis_licensing._enums import Action, AlertKind, LicenseKind, ProductState

__all__ = [
    "Action",
    "Activity",
    "Alert",
    "AlertKind",
    "Allocation",
    "Entitlement",
    "LicenseKind",
    "Lot",
    "NeedReport",
    "Organization",
    "Period",
    "PeriodAllocation",
    "PeriodNeed",
    "ProductState",
    "ProductStatus",
    "Redemption",
    "SystemStatus",
    "Wallet",
]


def _counts(value: Mapping[str, int]) -> Counts:
    return value if isinstance(value, Counts) else Counts(value)


def _fractions(value: Mapping[str, Fraction]) -> dict[str, Fraction]:
    return {k: Fraction(v) for k, v in sorted(value.items()) if v}


@attrs.frozen
class Alert:
    """Something an organization should act on soon (SPEC §3, ``Manager.alerts``).

    Attributes:
        kind: what the alert is about.
        product: the product concerned, if any.
        system_id: the system concerned, for ``SYSTEM_UNLICENSED``.
        on: the date the alert is about (a window's end, a renewal, an expiry).
        details: JSON-ready facts, such as the counts concerned.
    """

    kind: AlertKind
    product: str | None = None
    system_id: str | None = None
    on: date | None = None
    details: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Organization:
    """An organization as listed by ``Manager.organizations`` (R1, R2).

    Attributes:
        org_id: its id.
        name: its display name.
        timezone: the IANA zone of its calendar.
        anchor: the first day of its first subscription, or None (R2).
    """

    org_id: str
    name: str
    timezone: str
    anchor: date | None = None


@attrs.frozen
class Period:
    """One subscription period ``[start, end)``; ``index`` counts from the anchor (R2)."""

    index: int
    start: date
    end: date

    @property
    def days(self) -> int:
        """The period's length in days."""
        return (self.end - self.start).days

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end


@attrs.frozen
class LotFields:
    """A lot's fields (:class:`Lot` and the ``licenses_expired`` fact, R6)."""

    #: The lot.
    lot_id: int
    #: Subscription or hardware licenses.
    kind: LicenseKind
    #: The lot's license type.
    license_type: str
    #: How many (left, or expired).
    quantity: int
    #: The day the lot was acquired.
    acquired_on: date
    #: The day it expires.
    expires_on: date


@attrs.frozen(order=False)
class Lot(LotFields):
    """Licenses of one kind and type acquired on one date; ``quantity`` is what is left (R6)."""

    def with_quantity(self, quantity: int) -> Lot:
        """The same lot with ``quantity`` left."""
        return Lot(
            self.lot_id, self.kind, self.license_type, quantity, self.acquired_on, self.expires_on
        )

    @property
    def consumption_key(self) -> tuple[date, date, int]:
        """The order lots are used in: earliest expiry, then oldest, then lot id (R6)."""
        return (self.expires_on, self.acquired_on, self.lot_id)


@attrs.frozen
class Redemption:
    """The result of ``redeem_key``: the lots the key added to the wallet (R6, R10)."""

    product: str
    kind: LicenseKind
    lots: tuple[Lot, ...]
    key_tail: str

    @property
    def quantities(self) -> Counts:
        """The licenses added, per type."""
        return Counts([(lot.license_type, lot.quantity) for lot in self.lots])


@attrs.frozen
class PeriodAllocation:
    """Licenses allocated to one period by one command."""

    period: Period
    quantities: Counts = attrs.field(converter=_counts)


@attrs.frozen
class Allocation:
    """The result of ``allocate`` and ``allocate_need`` (R7, R8).

    Attributes:
        product: the product code.
        periods: what went to which period; empty when nothing was needed.
        compensation: whole licenses credited back to the wallet by this command.
        credit: the product's fractional credit per type after this command.
    """

    product: str
    periods: tuple[PeriodAllocation, ...] = ()
    compensation: Counts = attrs.field(default=Counts(), converter=_counts)
    credit: dict[str, Fraction] = attrs.field(factory=dict, converter=_fractions)

    @property
    def quantities(self) -> Counts:
        """All licenses this command took from the wallet, per type."""
        total = Counts()
        for part in self.periods:
            total += part.quantities
        return total


@attrs.frozen
class ProductStatus:
    """A product's state at a date (R5). See SPEC §3 for each field."""

    product: str
    state: ProductState
    period: Period | None = None
    window_ends_on: date | None = None
    renews_on: date | None = None
    devices: Counts = attrs.field(default=Counts(), converter=_counts)
    allocated: Counts = attrs.field(default=Counts(), converter=_counts)
    growth_exceeded: bool = False
    required_now: Counts = attrs.field(default=Counts(), converter=_counts)
    licensed_through: date | None = None
    locked: bool = False
    started_on: date | None = None


@attrs.frozen
class PeriodNeed:
    """The need of one period (R4), with what is allocated and what is missing."""

    offset: int
    period: Period
    need: Counts = attrs.field(converter=_counts)
    allocated: Counts = attrs.field(converter=_counts)
    shortfall: Counts = attrs.field(converter=_counts)


@attrs.frozen
class NeedReport:
    """The need for the current and coming periods (R4, R7).

    Attributes:
        periods: one entry per offset, 0 through the horizon.
        wallet: the subscription balance.
        to_buy: per type, the total shortfall less the wallet balance, never below 0.
    """

    product: str
    periods: tuple[PeriodNeed, ...]
    wallet: Counts = attrs.field(converter=_counts)
    to_buy: Counts = attrs.field(converter=_counts)


@attrs.frozen
class Wallet:
    """The licenses redeemed and not yet allocated, for one product (R6)."""

    product: str
    lots: tuple[Lot, ...] = ()
    credit: dict[str, Fraction] = attrs.field(factory=dict, converter=_fractions)

    def balance(self, kind: LicenseKind | str = LicenseKind.SUBSCRIPTION) -> Counts:
        """The live licenses of ``kind`` (a LicenseKind or its value), per type.

        Raises:
            InvalidInput: ``kind`` is not a license kind.
        """
        kind = LicenseKind.of(kind)
        return Counts([(lot.license_type, lot.quantity) for lot in self.lots if lot.kind is kind])


@attrs.frozen
class SystemStatus:
    """A system's devices and how they are covered (R9)."""

    system_id: str
    product: str
    devices: Counts = attrs.field(converter=_counts)
    hardware: tuple[str, ...]
    hardware_capacity: Counts = attrs.field(converter=_counts)
    hardware_covered: Counts = attrs.field(converter=_counts)
    subscription_devices: Counts = attrs.field(converter=_counts)
    licensed: bool
    product_state: ProductState


@attrs.frozen
class Activity:
    """One entry of the append-only history (R11)."""

    at: datetime
    on: date
    actor: str
    action: str
    product: str | None = None
    system_id: str | None = None
    details: dict[str, Any] = attrs.field(factory=dict)
