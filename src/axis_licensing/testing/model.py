"""A plain, obviously correct model of the license ledger, for conservation checks (SPEC §5).

The model knows nothing of :mod:`axis_licensing.policy`: it redoes the
arithmetic the rules describe in the plainest way, so that a state machine
(:mod:`axis_licensing.testing.machine`) can hold a Manager against it.

It keeps, per organization, product, license kind and license type, how many
licenses were redeemed, compensated, allocated and expired, and the wallet as
*groups*: lots of one kind and type acquired on one date. Lots of one group
expire together and are used one after the other, so which lot id holds what
is not part of the model, only the group totals are. Credit (R8) is kept as
exact :class:`~fractions.Fraction` values.

Conservation then holds by construction in the model (SPEC §5)::

    redeemed + compensated == wallet + allocated + expired

and every term can be compared with what the Manager reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from fractions import Fraction

import attrs

from axis_licensing.model import LicenseKind

__all__ = [
    "STORAGE_YEARS",
    "LedgerModel",
    "LotGroup",
    "Tally",
    "add_years",
    "allocation_window_allows",
    "lot_expires_on",
    "overlap_share",
    "period_bounds",
    "period_index_at",
    "window",
]

#: Licenses can stay in the wallet this many years (R6).
STORAGE_YEARS = 5


def add_years(day: date, years: int) -> date:
    """``day`` plus whole years; 29 February becomes 28 February in a common year (R2, R6)."""
    year = day.year + years
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February into a common year
        return date(year, 2, 28)


def lot_expires_on(acquired_on: date) -> date:
    """The first day a lot acquired on ``acquired_on`` is no longer usable (R6)."""
    return add_years(acquired_on, STORAGE_YEARS)


def period_bounds(anchor: date, term_years: int, index: int) -> tuple[date, date]:
    """``(start, end)`` of period ``index``: both from the anchor, never chained (R2)."""
    return add_years(anchor, index * term_years), add_years(anchor, (index + 1) * term_years)


def period_index_at(anchor: date, term_years: int, day: date) -> int:
    """The index of the period that contains ``day`` (R2), by plain search."""
    index = 0
    while period_bounds(anchor, term_years, index)[0] > day:
        index -= 1
    while period_bounds(anchor, term_years, index)[1] <= day:
        index += 1
    return index


def window(period_start: date, started_on: date, days: int) -> tuple[date, date]:
    """The trial or grace window ``[w, e)``: ``w = max(period start, S)``, ``e = w + days`` (R3)."""
    opens = max(period_start, started_on)
    return opens, opens + timedelta(days=days)


def overlap_share(
    quantity: int,
    period: tuple[date, date],
    day: date,
    window_bounds: tuple[date, date],
) -> Fraction:
    """R8: ``q × (c − ps) / (pe − ps)``, ``c`` the window start inside the window, else ``day``."""
    start, end = period
    opens, ends = window_bounds
    covered_from = opens if day < ends else day
    return Fraction(quantity * (covered_from - start).days, (end - start).days)


def allocation_window_allows(period_start: date, today: date) -> bool:
    """R7: a period may be allocated to when it starts no later than five years from today."""
    return period_start <= add_years(today, 5)


@attrs.define
class Tally:
    """The running totals of one (organization, product, kind, type)."""

    redeemed: int = 0
    compensated: int = 0
    allocated: int = 0
    expired: int = 0


@attrs.frozen
class LotGroup:
    """Lots of one kind and type acquired on one date: the unit of expiry order (R6)."""

    kind: LicenseKind
    license_type: str
    acquired_on: date

    @property
    def expires_on(self) -> date:
        """When the group's licenses expire."""
        return lot_expires_on(self.acquired_on)

    @property
    def use_order(self) -> tuple[date, date]:
        """Earliest expiry first, then oldest acquired (R6)."""
        return (self.expires_on, self.acquired_on)


Scope = tuple[str, str]  # (org_id, product)


@attrs.define
class LedgerModel:
    """The model ledger of any number of organizations and products.

    Every method that changes the model first needs the caller to have called
    :meth:`expire` up to the command's local date, as the rules do (R6).
    """

    tallies: dict[tuple[str, str, LicenseKind, str], Tally] = attrs.field(factory=dict)
    wallets: dict[Scope, dict[LotGroup, int]] = attrs.field(factory=dict)
    credit: dict[Scope, dict[str, Fraction]] = attrs.field(factory=dict)

    # -- reading ---------------------------------------------------------------------------

    def tally(self, org_id: str, product: str, kind: LicenseKind, license_type: str) -> Tally:
        """The totals of one (organization, product, kind, type); created empty when new."""
        return self.tallies.setdefault((org_id, product, kind, license_type), Tally())

    def groups(self, org_id: str, product: str) -> dict[LotGroup, int]:
        """The wallet's non-empty groups."""
        return {g: n for g, n in self.wallets.get((org_id, product), {}).items() if n > 0}

    def balance(self, org_id: str, product: str, kind: LicenseKind) -> dict[str, int]:
        """The wallet's licenses of ``kind`` per type (zero entries left out)."""
        totals: dict[str, int] = {}
        for group, quantity in self.groups(org_id, product).items():
            if group.kind is kind:
                totals[group.license_type] = totals.get(group.license_type, 0) + quantity
        return dict(sorted(totals.items()))

    def credits(self, org_id: str, product: str) -> dict[str, Fraction]:
        """The product's fractional credit per type (zero entries left out)."""
        return {t: v for t, v in sorted(self.credit.get((org_id, product), {}).items()) if v}

    def keys(self, org_id: str | None = None) -> list[tuple[str, str, LicenseKind, str]]:
        """Every (organization, product, kind, type) with a tally, or those of one organization."""
        return sorted(
            (k for k in self.tallies if org_id is None or k[0] == org_id),
            key=lambda k: (k[0], k[1], k[2].value, k[3]),
        )

    def missing(
        self, org_id: str, product: str, kind: LicenseKind, quantities: Mapping[str, int]
    ) -> dict[str, int]:
        """What the wallet lacks of ``quantities`` per type: empty when it has all of it."""
        have = self.balance(org_id, product, kind)
        return {t: q - have.get(t, 0) for t, q in sorted(quantities.items()) if q > have.get(t, 0)}

    # -- changing --------------------------------------------------------------------------

    def expire(self, org_id: str, day: date) -> dict[tuple[str, LicenseKind, str], int]:
        """Remove every group of the organization that expired on or before ``day`` (R6).

        Returns:
            What expired, per (product, kind, type).
        """
        gone: dict[tuple[str, LicenseKind, str], int] = {}
        for (org, product), groups in self.wallets.items():
            if org != org_id:
                continue
            for group in list(groups):
                if group.expires_on <= day:
                    quantity = groups.pop(group)
                    if quantity:
                        self.tally(org, product, group.kind, group.license_type).expired += quantity
                        key = (product, group.kind, group.license_type)
                        gone[key] = gone.get(key, 0) + quantity
        return gone

    def add_lots(
        self,
        org_id: str,
        product: str,
        kind: LicenseKind,
        quantities: Mapping[str, int],
        on: date,
    ) -> None:
        """Put licenses acquired on ``on`` into the wallet."""
        groups = self.wallets.setdefault((org_id, product), {})
        for license_type, quantity in quantities.items():
            if quantity:
                group = LotGroup(kind, license_type, on)
                groups[group] = groups.get(group, 0) + quantity

    def redeem(
        self,
        org_id: str,
        product: str,
        kind: LicenseKind,
        quantities: Mapping[str, int],
        on: date,
    ) -> None:
        """A key redeemed on ``on`` (R6)."""
        self.add_lots(org_id, product, kind, quantities, on)
        for license_type, quantity in quantities.items():
            self.tally(org_id, product, kind, license_type).redeemed += quantity

    def take(
        self, org_id: str, product: str, kind: LicenseKind, quantities: Mapping[str, int]
    ) -> dict[LotGroup, int]:
        """Take ``quantities`` of ``kind``, earliest expiry first (R6), and count them allocated.

        Returns:
            How much was drawn from each group.

        Raises:
            ValueError: the wallet lacks part of it (the model is then unchanged).
        """
        lacking = self.missing(org_id, product, kind, quantities)
        if lacking:
            raise ValueError(f"the model wallet lacks {lacking}")
        groups = self.wallets.setdefault((org_id, product), {})
        drawn: dict[LotGroup, int] = {}
        for license_type, wanted in quantities.items():
            candidates = sorted(
                (g for g in groups if g.kind is kind and g.license_type == license_type),
                key=lambda g: g.use_order,
            )
            for group in candidates:
                if wanted == 0:
                    break
                used = min(wanted, groups[group])
                groups[group] -= used
                wanted -= used
                if used:
                    drawn[group] = used
            self.tally(org_id, product, kind, license_type).allocated += quantities[license_type]
        for group in [g for g, n in groups.items() if n == 0]:
            del groups[group]
        return drawn

    def compensate(
        self, org_id: str, product: str, shares: Mapping[str, Fraction], on: date
    ) -> dict[str, int]:
        """Add R8 shares to the credit; the whole part comes back as a lot acquired ``on``.

        Returns:
            The whole licenses credited back per type (zero entries left out).
        """
        credit = self.credit.setdefault((org_id, product), {})
        whole: dict[str, int] = {}
        for license_type, share in shares.items():
            total = credit.get(license_type, Fraction(0)) + share
            back = int(total)  # total >= 0, so int() is the floor
            credit[license_type] = total - back
            if back:
                whole[license_type] = back
                self.tally(
                    org_id, product, LicenseKind.SUBSCRIPTION, license_type
                ).compensated += back
        self.add_lots(org_id, product, LicenseKind.SUBSCRIPTION, whole, on)
        return dict(sorted(whole.items()))

    # -- the conservation law --------------------------------------------------------------

    def conservation(
        self, org_id: str, product: str, kind: LicenseKind, license_type: str
    ) -> tuple[int, int]:
        """``(redeemed + compensated, wallet + allocated + expired)``: equal by construction."""
        tally = self.tally(org_id, product, kind, license_type)
        wallet = self.balance(org_id, product, kind).get(license_type, 0)
        return (
            tally.redeemed + tally.compensated,
            wallet + tally.allocated + tally.expired,
        )

    def lot_groups(self, lots: Iterable[tuple[LicenseKind, str, date, int]]) -> dict[LotGroup, int]:
        """Group ``(kind, type, acquired_on, quantity)`` rows the way the model keeps them."""
        groups: dict[LotGroup, int] = {}
        for kind, license_type, acquired_on, quantity in lots:
            group = LotGroup(kind, license_type, acquired_on)
            groups[group] = groups.get(group, 0) + quantity
        return {g: n for g, n in groups.items() if n > 0}
