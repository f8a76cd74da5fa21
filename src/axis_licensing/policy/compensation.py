"""Overlap compensation for allocations into the current period (R8).

Allocating ``q`` licenses to the current period ``[ps, pe)`` at local date
``d`` with window ``[w, e)`` pays back the days of the period already gone:
coverage starts at ``c = w`` if ``d < e`` else ``c = d``, and the compensation
is exactly ``q × (c − ps) / (pe − ps)`` as a :class:`~fractions.Fraction`.

It adds to the product's credit for the type. The whole part of the credit
comes back at once as a new lot; the fraction stays as credit. Nothing is
ever rounded away: whole part + credit after = credit before + share.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from fractions import Fraction

from axis_licensing._counts import Counts
from axis_licensing.model import Period

__all__ = ["coverage_start", "credit_back", "overlap_share"]


def coverage_start(day: date, window_opens: date, window_ends: date) -> date:
    """``c``: the window's start while inside it, else the command's date (R8)."""
    return window_opens if day < window_ends else day


def overlap_share(
    quantity: int, period: Period, day: date, window_opens: date, window_ends: date
) -> Fraction:
    """The exact share ``q × overlap / length`` of an allocation at ``day`` (R8)."""
    overlap = (coverage_start(day, window_opens, window_ends) - period.start).days
    return Fraction(quantity * overlap, period.days)


def credit_back(
    credit: Mapping[str, Fraction], shares: Mapping[str, Fraction]
) -> tuple[Counts, dict[str, Fraction]]:
    """Add ``shares`` to ``credit`` and take the whole part out (R8).

    Returns:
        ``(whole, credit_after)``: whole licenses to credit back per type, and
        the remaining credit per type, each in ``[0, 1)``; zero entries are left out.
    """
    after = {t: Fraction(v) for t, v in credit.items()}
    whole: dict[str, int] = {}
    for license_type, share in shares.items():
        total = after.get(license_type, Fraction(0)) + share
        whole_part = total.numerator // total.denominator
        whole[license_type] = whole_part
        after[license_type] = total - whole_part
    return Counts(whole), {t: v for t, v in sorted(after.items()) if v}
