"""Wallet lots: the five-year storage limit and earliest-expiry-first use (R6).

A lot expires ``acquired_on.add(years=5)``; it can be used through the day
before. Allocation takes the lots of the right kind and type with the earliest
``expires_on`` first (ties: oldest ``acquired_on``, then lot id).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from datetime import date

from axis_licensing._counts import Counts
from axis_licensing.model import LicenseKind, Lot
from axis_licensing.policy.periods import add_years

__all__ = ["STORAGE_YEARS", "expires_on", "live_lots", "split_expired", "take"]

_NONE = Counts()

#: The order lots are used in (R6): :attr:`~axis_licensing.model.Lot.consumption_key`.
_consumption_order = operator.attrgetter("consumption_key")

#: Licenses can be kept in the wallet this long (R6).
STORAGE_YEARS = 5


def expires_on(acquired_on: date) -> date:
    """The first day a lot acquired on ``acquired_on`` can no longer be used (R6)."""
    return add_years(acquired_on, STORAGE_YEARS)


def live_lots(lots: Iterable[Lot], day: date) -> tuple[Lot, ...]:
    """The lots still usable on ``day`` with licenses left, earliest expiry first (R6)."""
    return tuple(
        sorted(
            (lot for lot in lots if lot.quantity > 0 and lot.expires_on > day),
            key=_consumption_order,
        )
    )


def split_expired(lots: Iterable[Lot], day: date) -> tuple[tuple[Lot, ...], tuple[Lot, ...]]:
    """Split into (live lots, lots that expired on or before ``day`` with licenses left)."""
    live: list[Lot] = []
    gone: list[Lot] = []
    for lot in lots:
        if lot.quantity <= 0:
            continue
        (gone if lot.expires_on <= day else live).append(lot)
    live.sort(key=_consumption_order)
    gone.sort(key=_consumption_order)
    return tuple(live), tuple(gone)


def take(
    lots: Iterable[Lot], kind: LicenseKind, quantities: Mapping[str, int]
) -> tuple[tuple[Lot, ...], Counts, tuple[tuple[int, str, int], ...]]:
    """Take ``quantities`` of ``kind`` from ``lots``, earliest expiry first (R6).

    Returns:
        ``(lots_after, missing, used)``: the lots left (live, non-empty), the
        count per type the lots could not give (empty when all was taken), and
        ``(lot_id, type, count)`` for each lot drawn from. When anything is
        missing, ``lots_after`` is the unchanged input: nothing is taken.
    """
    ordered = sorted(lots, key=_consumption_order)
    available: dict[str, int] = {}
    for lot in ordered:
        if lot.kind is kind:
            available[lot.license_type] = available.get(lot.license_type, 0) + lot.quantity
    short = {t: q - available.get(t, 0) for t, q in quantities.items() if q > available.get(t, 0)}
    if short:
        return tuple(ordered), Counts(short), ()
    wanted = dict(quantities)
    after: list[Lot] = []
    used: list[tuple[int, str, int]] = []
    for lot in ordered:
        need = wanted.get(lot.license_type, 0) if lot.kind is kind else 0
        if need <= 0:
            after.append(lot)
            continue
        drawn = min(need, lot.quantity)
        wanted[lot.license_type] = need - drawn
        used.append((lot.lot_id, lot.license_type, drawn))
        if lot.quantity > drawn:
            after.append(lot.with_quantity(lot.quantity - drawn))
    return tuple(after), _NONE, tuple(used)
