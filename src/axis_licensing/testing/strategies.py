"""Hypothesis strategies for license math: dates, zones, catalogs and counts (SPEC §5).

These are the strategies the project's own property tests use, shipped so
that teams can property-check their own code with the same inputs::

    from hypothesis import given
    from axis_licensing.testing import strategies as lst

    @given(lst.anchors(), lst.dates())
    def test_my_invoice_period(anchor, day): ...

Date math goes wrong on a few days of the year, so :func:`dates` weights them
in: 29 February, 31 January, 28 February, 1 March and 31 December. Time-zone
bugs happen around daylight-saving switches, so :func:`instants` weights in
the minutes around each offset change of the zones of :data:`TIMEZONES`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from axis_licensing._counts import Counts
from axis_licensing.catalog import Catalog, LicenseType, ProductSpec

__all__ = [
    "GROWTH_RATES",
    "HARD_DAYS",
    "LICENSE_TYPE_CODES",
    "TERM_YEARS",
    "TIMEZONES",
    "anchors",
    "catalogs",
    "counts",
    "dates",
    "hard_dates",
    "instants",
    "license_types",
    "offset_changes",
    "product_specs",
    "timezones",
]

#: ``(month, day)`` of the days calendar arithmetic gets wrong most often.
HARD_DAYS: tuple[tuple[int, int], ...] = ((2, 29), (1, 31), (2, 28), (3, 1), (12, 31))

#: Real IANA zones: UTC, zones with daylight saving time in both hemispheres
#: (Lord Howe shifts by 30 minutes), and offsets that are not whole hours.
TIMEZONES: tuple[str, ...] = (
    "UTC",
    "Europe/Stockholm",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
)

#: The subscription terms products use (R2).
TERM_YEARS: tuple[int, ...] = (1, 5)

#: The growth rates :func:`product_specs` draws from (R5): none, half, 100 %, 200 %.
GROWTH_RATES: tuple[Fraction, ...] = (Fraction(0), Fraction(1, 2), Fraction(1), Fraction(2))

#: The license type codes :func:`license_types` draws from.
LICENSE_TYPE_CODES: tuple[str, ...] = ("core", "universal", "door", "camera", "analytics")

_MIN_DATE = date(2000, 1, 1)
_MAX_DATE = date(2099, 12, 31)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _hard_days_between(min_value: date, max_value: date) -> list[date]:
    days: list[date] = []
    for year in range(min_value.year, max_value.year + 1):
        for month, day in HARD_DAYS:
            if month == 2 and day == 29 and not _is_leap(year):
                continue
            candidate = date(year, month, day)
            if min_value <= candidate <= max_value:
                days.append(candidate)
    return days


def hard_dates(min_value: date = _MIN_DATE, max_value: date = _MAX_DATE) -> st.SearchStrategy[date]:
    """Only the hard days of :data:`HARD_DAYS` between ``min_value`` and ``max_value``.

    Args:
        min_value: the earliest date (inclusive).
        max_value: the latest date (inclusive).

    Returns:
        A strategy of dates; ``nothing()`` when the range holds no hard day.
    """
    days = _hard_days_between(min_value, max_value)
    return st.sampled_from(days) if days else st.nothing()


def dates(min_value: date = _MIN_DATE, max_value: date = _MAX_DATE) -> st.SearchStrategy[date]:
    """Calendar dates with the hard days weighted in (about half the draws).

    Args:
        min_value: the earliest date (inclusive).
        max_value: the latest date (inclusive).

    Returns:
        A strategy of :class:`datetime.date` values.

    Raises:
        ValueError: ``min_value`` is after ``max_value``.
    """
    if min_value > max_value:
        raise ValueError(f"min_value {min_value} is after max_value {max_value}")
    return st.one_of(
        hard_dates(min_value, max_value), st.dates(min_value=min_value, max_value=max_value)
    )


def anchors(
    min_value: date = date(2020, 1, 1), max_value: date = date(2040, 12, 31)
) -> st.SearchStrategy[date]:
    """Organization anchors (R2): dates of the near future, hard days weighted in."""
    return dates(min_value, max_value)


def timezones(zones: Sequence[str] = TIMEZONES) -> st.SearchStrategy[str]:
    """IANA zone names for organizations, from :data:`TIMEZONES` by default."""
    return st.sampled_from(tuple(zones))


@functools.lru_cache(maxsize=512)
def offset_changes(zone_name: str, year: int) -> tuple[datetime, ...]:
    """The instants (UTC, to the second) in ``year`` when ``zone_name``'s UTC offset changes.

    Daylight-saving switches, mostly; empty for a zone without changes that year.
    """
    tz = ZoneInfo(zone_name)
    start = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    changes: list[datetime] = []
    step = timedelta(hours=6)
    here = start
    offset = here.astimezone(tz).utcoffset()
    while here < end:
        there = min(here + step, end)
        next_offset = there.astimezone(tz).utcoffset()
        if next_offset != offset:
            low, high = here, there  # offset(low) == offset, offset(high) != offset
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if middle.astimezone(tz).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            changes.append(high)
            offset = next_offset
        here = there
    return tuple(changes)


def instants(
    min_value: datetime = datetime(2020, 1, 1, tzinfo=UTC),
    max_value: datetime = datetime(2040, 12, 31, tzinfo=UTC),
    zones: Sequence[str] = TIMEZONES,
) -> st.SearchStrategy[datetime]:
    """Aware UTC instants, weighting in the three hours around each offset change of ``zones``.

    Args:
        min_value: the earliest instant (aware).
        max_value: the latest instant (aware).
        zones: the zones whose daylight-saving switches are weighted in.

    Returns:
        A strategy of aware :class:`datetime.datetime` values in UTC.
    """
    low = min_value.astimezone(UTC)
    high = max_value.astimezone(UTC)
    anywhere = st.datetimes(
        min_value=low.replace(tzinfo=None),
        max_value=high.replace(tzinfo=None),
        timezones=st.just(UTC),
    )
    switches = sorted(
        {
            change
            for name in zones
            for year in range(low.year, high.year + 1)
            for change in offset_changes(name, year)
            if low <= change <= high
        }
    )
    if not switches:
        return anywhere
    near = st.builds(
        lambda switch, minutes: min(max(switch + timedelta(minutes=minutes), low), high),
        st.sampled_from(switches),
        st.integers(min_value=-180, max_value=180),
    )
    return st.one_of(anywhere, near)


@st.composite
def license_types(draw: st.DrawFn, min_size: int = 1, max_size: int = 4) -> tuple[LicenseType, ...]:
    """A product's license types with a small random covers-relation (R5).

    Each type covers a random subset of the others; the relation is not made
    transitive, and may have cycles (``a`` covers ``b`` and ``b`` covers ``a``).

    Args:
        min_size: the fewest types.
        max_size: the most types (at most ``len(LICENSE_TYPE_CODES)``).
    """
    codes = draw(
        st.lists(
            st.sampled_from(LICENSE_TYPE_CODES),
            min_size=min_size,
            max_size=min(max_size, len(LICENSE_TYPE_CODES)),
            unique=True,
        )
    )
    types: list[LicenseType] = []
    for code in codes:
        others = [c for c in codes if c != code]
        covers = draw(st.lists(st.sampled_from(others), unique=True)) if others else []
        types.append(LicenseType(code, covers=tuple(covers)))
    return tuple(types)


@st.composite
def product_specs(draw: st.DrawFn, code: str | None = None) -> ProductSpec:
    """A product: term 1 or 5 years, growth 0, 1/2, 1 or 2, and :func:`license_types`.

    Args:
        code: the product code; a drawn one (``p0``…``p9``) if None.
    """
    if code is None:
        code = draw(st.sampled_from([f"p{n}" for n in range(10)]))
    return ProductSpec(
        code,
        code.upper(),
        term_years=draw(st.sampled_from(TERM_YEARS)),
        growth_rate=draw(st.sampled_from(GROWTH_RATES)),
        license_types=draw(license_types()),
    )


@st.composite
def catalogs(draw: st.DrawFn, max_products: int = 2) -> Catalog:
    """A catalog of 1..``max_products`` products with distinct codes ``p0``, ``p1``, …"""
    size = draw(st.integers(min_value=1, max_value=max_products))
    return Catalog(products=tuple(draw(product_specs(code=f"p{n}")) for n in range(size)))


def counts(
    types: Sequence[str],
    *,
    min_value: int = 0,
    max_value: int = 20,
    min_size: int = 0,
) -> st.SearchStrategy[Counts]:
    """Counts per license type, for devices (``min_value=0``) or quantities (``min_value=1``).

    Args:
        types: the license type codes to draw from.
        min_value: the smallest count of a drawn type.
        max_value: the largest count of a drawn type.
        min_size: the fewest types drawn; use 1 with ``min_value=1`` for a
            non-empty request.

    Returns:
        A strategy of :class:`~axis_licensing.Counts` (zero entries left out).
    """
    return _counts(tuple(types), min_value, max_value, min_size)


@functools.lru_cache(maxsize=256)
def _counts(
    types: tuple[str, ...], min_value: int, max_value: int, min_size: int
) -> st.SearchStrategy[Counts]:
    return st.dictionaries(
        st.sampled_from(types),
        st.integers(min_value=min_value, max_value=max_value),
        min_size=min_size,
        max_size=len(types),
    ).map(Counts)
