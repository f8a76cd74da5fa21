"""Subscription periods, trial and grace windows, and the allocation window (R2, R3, R7).

Every boundary is computed from the organization's anchor as
``anchor.add(years=k * term)`` and never by chaining one term onto the previous
boundary, so a 29 February anchor gives 28 February in common years and
29 February in leap years (R2).
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

import pendulum

from axis_licensing.catalog import ProductSpec
from axis_licensing.model import Period

__all__ = [
    "ADVANCE_YEARS",
    "add_years",
    "current_period",
    "first_period",
    "in_allocation_window",
    "period_at",
    "period_containing",
    "window",
]

#: How far ahead licenses may be allocated: a period must start no later than
#: the command's local date plus this many years (R7).
ADVANCE_YEARS = 5


@functools.lru_cache(maxsize=8192)
def add_years(day: date, years: int) -> date:
    """``day`` plus whole years, pendulum-style: 29 February becomes 28 February in common years."""
    moved = pendulum.Date(day.year, day.month, day.day).add(years=years)
    return date(moved.year, moved.month, moved.day)


def period_at(anchor: date, term_years: int, index: int) -> Period:
    """Period ``index`` of a product with ``term_years``: both ends come from the anchor (R2)."""
    return Period(
        index=index,
        start=add_years(anchor, index * term_years),
        end=add_years(anchor, (index + 1) * term_years),
    )


@functools.lru_cache(maxsize=8192)
def period_containing(anchor: date, term_years: int, day: date) -> Period:
    """The period ``[start, end)`` that contains ``day`` (R2)."""
    index = (day.year - anchor.year) // term_years
    while add_years(anchor, index * term_years) > day:
        index -= 1
    while add_years(anchor, (index + 1) * term_years) <= day:
        index += 1
    return period_at(anchor, term_years, index)


def current_period(anchor: date, spec: ProductSpec, day: date) -> Period:
    """The current period of ``spec`` at ``day`` (R2)."""
    return period_containing(anchor, spec.term_years, day)


def first_period(anchor: date, spec: ProductSpec, started_on: date) -> Period:
    """The product's first period: the one containing its start date, maybe partial (R2)."""
    return period_containing(anchor, spec.term_years, started_on)


def window(spec: ProductSpec, period: Period, started_on: date) -> tuple[date, date]:
    """The trial or grace window ``[w, e)`` of ``period`` (R3).

    ``w = max(period.start, started_on)``; ``e = w + trial_days`` in the product's
    first period and ``w + grace_days`` in later ones. ``e`` is outside the window.
    """
    opens = max(period.start, started_on)
    is_first = period.start <= started_on < period.end
    days = spec.trial_days if is_first else spec.grace_days
    return opens, opens + timedelta(days=days)


def in_allocation_window(period: Period, today: date) -> bool:
    """True when ``period`` starts no later than ``today`` plus five years (R7)."""
    return period.start <= add_years(today, ADVANCE_YEARS)
