"""SPEC R2 (periods and the anchor), R3 (trial and grace windows) and R7's five-year window.

The pure functions of :mod:`axis_licensing.policy.periods` are checked directly, and the
same rules are checked through :mod:`axis_licensing.policy.engine` the way the Manager
drives it: ``advance`` to the command's local date, then the command. DST changes in the
organization's zone are a Manager concern (instant -> local date); the policy only sees dates.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TypeVar

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import engine_driver
from axis_licensing.catalog import EXAMPLE_CATALOG, Catalog, LicenseType, ProductSpec
from axis_licensing.errors import AlreadyStarted, OutsideAllocationWindow
from axis_licensing.model import (
    Action,
    Period,
    ProductState,
)
from axis_licensing.policy import engine
from axis_licensing.policy.periods import (
    add_years,
    current_period,
    first_period,
    in_allocation_window,
    period_at,
    period_containing,
    window,
)
from engine_driver import d, details

T = TypeVar("T")

ACS = EXAMPLE_CATALOG.product("acs-pro")
TYPES = (LicenseType("core"), LicenseType("universal", covers=("core",)))
PRODUCT_B = ProductSpec("prod-b", "Product B", license_types=TYPES)
FIVE_YEAR = ProductSpec("five", "Five-year term", term_years=5, license_types=TYPES)
SHORT_WINDOWS = ProductSpec(
    "short", "Short windows", trial_days=14, grace_days=7, license_types=TYPES
)
CATALOG = Catalog(products=(ACS, PRODUCT_B, FIVE_YEAR, SHORT_WINDOWS))


class Org(engine_driver.Org):
    """An organization on this file's catalog, whose systems are named after their product."""

    def __init__(self, created: date, catalog: Catalog = CATALOG) -> None:
        super().__init__(created, catalog)

    def system(  # type: ignore[override]
        self, day: date, devices: dict[str, int], product: str = "acs-pro"
    ) -> None:
        super().system(day, f"sys-{product}", devices, product=product)


# --- R2: periods from the anchor -------------------------------------------------------------


def test_r2_first_start_sets_the_anchor_and_it_never_changes() -> None:
    org = Org(d("2026-03-01"))
    assert org.state.anchor is None
    org.start(d("2026-03-10"))
    assert org.state.anchor == d("2026-03-10")
    org.start(d("2026-05-20"), product="prod-b")
    org.start(d("2031-07-04"), product="five")
    assert org.state.anchor == d("2026-03-10")
    started = [f for f in org.facts if f.action == Action.SUBSCRIPTION_STARTED]
    assert [details(f)["anchor"] for f in started] == ["2026-03-10"] * 3
    assert [f.product for f in started] == ["acs-pro", "prod-b", "five"]
    assert details(started[0])["period"] == {"index": 0, "start": "2026-03-10", "end": "2027-03-10"}
    assert details(started[1])["period"] == {"index": 0, "start": "2026-03-10", "end": "2027-03-10"}
    # five-year term from the same anchor: [2031-03-10, 2036-03-10) holds 2031-07-04
    assert details(started[2])["period"] == {"index": 1, "start": "2031-03-10", "end": "2036-03-10"}


def test_r2_starting_twice_raises_already_started() -> None:
    org = Org(d("2026-01-01"))
    org.start(d("2026-01-01"))
    before = org.state
    with pytest.raises(AlreadyStarted):
        org.start(d("2026-06-01"))
    with pytest.raises(AlreadyStarted):
        org.start(d("2028-06-01"))
    assert org.state is before
    assert org.state.ledger("acs-pro").started_on == d("2026-01-01")


def test_r2_leap_day_anchor_boundaries() -> None:
    anchor = d("2028-02-29")
    starts = [period_at(anchor, 1, k).start for k in range(6)]
    assert starts == [
        d("2028-02-29"),
        d("2029-02-28"),
        d("2030-02-28"),
        d("2031-02-28"),
        d("2032-02-29"),
        d("2033-02-28"),
    ]
    assert period_at(anchor, 1, 3) == Period(index=3, start=d("2031-02-28"), end=d("2032-02-29"))
    assert period_at(anchor, 1, 3).days == 366
    assert period_at(anchor, 1, 4).days == 365


def test_r2_leap_day_anchor_boundaries_through_status() -> None:
    org = Org(d("2028-02-29"))
    org.start(d("2028-02-29"))
    assert org.status(d("2029-02-27")).period == Period(0, d("2028-02-29"), d("2029-02-28"))
    assert org.status(d("2029-02-28")).period == Period(1, d("2029-02-28"), d("2030-02-28"))
    assert org.status(d("2032-02-28")).period == Period(3, d("2031-02-28"), d("2032-02-29"))
    assert org.status(d("2032-02-29")).period == Period(4, d("2032-02-29"), d("2033-02-28"))
    assert org.status(d("2032-02-28")).renews_on == d("2032-02-29")


def test_r2_boundaries_are_never_chained() -> None:
    anchor = d("2028-02-29")
    chained = anchor
    for _ in range(4):
        chained = add_years(chained, 1)
    assert chained == d("2032-02-28")  # what chaining would give
    assert period_at(anchor, 1, 4).start == d("2032-02-29")
    assert period_containing(anchor, 1, d("2032-02-28")).index == 3


def test_r2_five_year_term_from_a_leap_day_anchor() -> None:
    anchor = d("2028-02-29")
    periods = [period_at(anchor, 5, k) for k in range(5)]
    assert [(p.start, p.end) for p in periods] == [
        (d("2028-02-29"), d("2033-02-28")),
        (d("2033-02-28"), d("2038-02-28")),
        (d("2038-02-28"), d("2043-02-28")),
        (d("2043-02-28"), d("2048-02-29")),
        (d("2048-02-29"), d("2053-02-28")),
    ]
    assert period_containing(anchor, 5, d("2048-02-28")).index == 3
    assert period_containing(anchor, 5, d("2048-02-29")).index == 4


def test_r2_partial_first_period() -> None:
    org = Org(d("2026-01-01"))
    org.start(d("2026-01-01"))
    org.start(d("2026-07-02"), product="prod-b")
    spec_b = CATALOG.product("prod-b")
    first = first_period(d("2026-01-01"), spec_b, d("2026-07-02"))
    assert first == Period(index=0, start=d("2026-01-01"), end=d("2027-01-01"))
    assert first.start < d("2026-07-02")  # partial: S is not the period's start
    st_b = org.status(d("2026-07-02"), product="prod-b")
    assert st_b.state is ProductState.TRIAL
    assert st_b.period == first
    assert st_b.window_ends_on == d("2026-08-01")
    assert st_b.renews_on == d("2027-01-01")
    # the next period is a full one, shared with product A
    assert org.status(d("2027-01-01"), product="prod-b").period == Period(
        1, d("2027-01-01"), d("2028-01-01")
    )


def test_r2_period_index_from_anchor_not_product_start() -> None:
    org = Org(d("2026-01-01"))
    org.start(d("2026-01-01"))
    org.start(d("2028-05-05"), product="prod-b")
    st_b = org.status(d("2028-05-05"), product="prod-b")
    assert st_b.period == Period(index=2, start=d("2028-01-01"), end=d("2029-01-01"))
    assert st_b.state is ProductState.TRIAL  # the product's first period, though index 2
    assert st_b.window_ends_on == d("2028-06-04")
    st_b = org.status(d("2029-01-10"), product="prod-b")
    assert st_b.period is not None
    assert st_b.period.index == 3
    assert st_b.state is ProductState.GRACE


@pytest.mark.parametrize(
    ("anchor", "day", "expected"),
    [
        # the last day of a period and the first day of the next
        ("2026-01-01", "2026-12-31", Period(0, d("2026-01-01"), d("2027-01-01"))),
        ("2026-01-01", "2027-01-01", Period(1, d("2027-01-01"), d("2028-01-01"))),
        # 29 February anchors
        ("2028-02-29", "2028-02-29", Period(0, d("2028-02-29"), d("2029-02-28"))),
        ("2028-02-29", "2030-02-27", Period(1, d("2029-02-28"), d("2030-02-28"))),
        ("2028-02-29", "2036-02-29", Period(8, d("2036-02-29"), d("2037-02-28"))),
        # a 29 February inside a period
        ("2027-03-01", "2028-02-29", Period(0, d("2027-03-01"), d("2028-03-01"))),
        # 31 January anchors
        ("2027-01-31", "2028-01-30", Period(0, d("2027-01-31"), d("2028-01-31"))),
        ("2027-01-31", "2028-01-31", Period(1, d("2028-01-31"), d("2029-01-31"))),
        # 31 December anchor, far away
        ("2026-12-31", "2046-12-30", Period(19, d("2045-12-31"), d("2046-12-31"))),
    ],
)
def test_r2_current_period_on_hard_days(anchor: str, day: str, expected: Period) -> None:
    assert current_period(d(anchor), ACS, d(day)) == expected
    assert period_at(d(anchor), 1, expected.index) == expected


def test_r2_offsets_count_from_the_current_period() -> None:
    org = Org(d("2026-01-01"))
    org.start(d("2026-01-01"))
    report = org.need(d("2028-07-01"), horizon=3)
    assert [pn.offset for pn in report.periods] == [0, 1, 2, 3]
    assert [pn.period for pn in report.periods] == [
        Period(2, d("2028-01-01"), d("2029-01-01")),
        Period(3, d("2029-01-01"), d("2030-01-01")),
        Period(4, d("2030-01-01"), d("2031-01-01")),
        Period(5, d("2031-01-01"), d("2032-01-01")),
    ]


def test_r2_allocation_offset_targets_the_period_from_the_current_one() -> None:
    org = Org(d("2026-01-01"))
    org.start(d("2026-01-01"))
    org.redeem(d("2026-01-01"), {"core": 10})
    result = org.allocate(d("2027-06-01"), {"core": 3}, offset=2)
    assert [p.period for p in result.periods] == [Period(3, d("2029-01-01"), d("2030-01-01"))]
    assert org.state.ledger("acs-pro").allocations == {3: {"core": 3}}


anchors = st.dates(min_value=date(2000, 1, 1), max_value=date(2080, 12, 31))


@given(anchor=anchors, term=st.sampled_from([1, 2, 5]), k=st.integers(-5, 30))
@example(anchor=date(2028, 2, 29), term=1, k=0)
@example(anchor=date(2028, 2, 29), term=5, k=3)
@example(anchor=date(2027, 1, 31), term=1, k=1)
def test_r2_periods_tile_with_positive_lengths(anchor: date, term: int, k: int) -> None:
    this, after = period_at(anchor, term, k), period_at(anchor, term, k + 1)
    assert this.index == k
    assert this.end == after.start
    assert this.start == add_years(anchor, k * term)
    assert 365 * term <= this.days <= 366 * term


@given(anchor=anchors, term=st.sampled_from([1, 5]), offset=st.integers(-3000, 12000))
@example(anchor=date(2028, 2, 29), term=1, offset=365)  # 2029-02-28: period 1 starts
@example(anchor=date(2028, 2, 29), term=1, offset=364)  # 2029-02-27: last day of period 0
@example(anchor=date(2028, 2, 29), term=1, offset=1461)  # 2032-02-29
@example(anchor=date(2027, 1, 31), term=1, offset=365)  # 2028-01-31
def test_r2_each_day_belongs_to_exactly_one_period(anchor: date, term: int, offset: int) -> None:
    day = anchor + timedelta(days=offset)
    period = period_containing(anchor, term, day)
    assert period.start <= day < period.end
    assert day in period
    assert period == period_at(anchor, term, period.index)
    assert day not in period_at(anchor, term, period.index - 1)
    assert day not in period_at(anchor, term, period.index + 1)


# --- R3: trial and grace windows --------------------------------------------------------------


def test_r3_trial_window_example() -> None:
    start = d("2026-03-10")
    first = first_period(start, ACS, start)
    assert window(ACS, first, start) == (d("2026-03-10"), d("2026-04-09"))
    org = Org(d("2026-03-01"))
    org.system(d("2026-03-01"), {"core": 4})
    org.start(start)
    on_last = org.status(d("2026-04-08"))
    assert on_last.state is ProductState.TRIAL
    assert on_last.window_ends_on == d("2026-04-09")
    assert on_last.licensed_through is None
    after = org.status(d("2026-04-09"))
    assert after.state is ProductState.UNLICENSED
    assert after.window_ends_on == d("2026-04-09")
    started = [f for f in org.facts if f.action == Action.SUBSCRIPTION_STARTED]
    assert details(started[0])["trial_ends_on"] == "2026-04-09"


def test_r3_grace_window_follows_each_renewal() -> None:
    org = Org(d("2026-03-10"))
    org.system(d("2026-03-10"), {"core": 4})
    org.start(d("2026-03-10"))
    for year in (2027, 2028, 2031):
        opens = date(year, 3, 10)
        assert org.status(opens).state is ProductState.GRACE
        assert org.status(opens + timedelta(days=29)).state is ProductState.GRACE
        assert org.status(opens).window_ends_on == opens + timedelta(days=30)
        assert org.status(opens + timedelta(days=30)).state is ProductState.UNLICENSED
    assert org.status(d("2027-03-09")).state is ProductState.UNLICENSED


def test_r3_partial_first_period_trial_starts_at_subscription_start() -> None:
    org = Org(d("2026-01-01"))
    org.start(d("2026-01-01"))
    org.system(d("2026-01-01"), {"core": 1}, product="prod-b")
    org.start(d("2026-07-02"), product="prod-b")
    assert org.status(d("2026-07-01"), product="prod-b").state is ProductState.NOT_STARTED
    assert org.status(d("2026-07-31"), product="prod-b").state is ProductState.TRIAL
    assert org.status(d("2026-08-01"), product="prod-b").state is ProductState.UNLICENSED
    assert org.status(d("2026-08-01"), product="prod-b").window_ends_on == d("2026-08-01")
    grace = org.status(d("2027-01-01"), product="prod-b")
    assert (grace.state, grace.window_ends_on) == (ProductState.GRACE, d("2027-01-31"))


def test_r3_trial_started_on_the_last_day_of_a_period() -> None:
    # the trial window runs past the period's end; the next period has its own grace window
    org = Org(d("2026-01-01"))
    org.start(d("2026-01-01"))
    org.system(d("2026-01-01"), {"core": 1}, product="prod-b")
    org.start(d("2026-12-31"), product="prod-b")
    trial = org.status(d("2026-12-31"), product="prod-b")
    assert (trial.state, trial.window_ends_on) == (ProductState.TRIAL, d("2027-01-30"))
    grace = org.status(d("2027-01-01"), product="prod-b")
    assert (grace.state, grace.window_ends_on) == (ProductState.GRACE, d("2027-01-31"))
    assert org.status(d("2027-01-31"), product="prod-b").state is ProductState.UNLICENSED


@pytest.mark.parametrize(
    ("anchor", "started", "day", "expected"),
    [
        # 31 January: 30 days run into March, February's length decides the day
        ("2027-01-31", "2027-01-31", "2027-01-31", ("2027-01-31", "2027-03-02")),
        ("2027-01-31", "2027-01-31", "2028-01-31", ("2028-01-31", "2028-03-01")),
        # 29 February anchor and its 28 February renewals
        ("2028-02-29", "2028-02-29", "2028-02-29", ("2028-02-29", "2028-03-30")),
        ("2028-02-29", "2028-02-29", "2029-02-28", ("2029-02-28", "2029-03-30")),
        # a product started on 29 February inside a period
        ("2027-06-01", "2028-02-29", "2028-02-29", ("2028-02-29", "2028-03-30")),
        ("2027-06-01", "2028-02-29", "2028-06-01", ("2028-06-01", "2028-07-01")),
    ],
)
def test_r3_window_on_hard_days(
    anchor: str, started: str, day: str, expected: tuple[str, str]
) -> None:
    period = current_period(d(anchor), ACS, d(day))
    assert window(ACS, period, d(started)) == (d(expected[0]), d(expected[1]))


def test_r3_trial_and_grace_days_come_from_the_product_spec() -> None:
    org = Org(d("2026-01-01"))
    org.system(d("2026-01-01"), {"core": 1}, product="short")
    org.start(d("2026-01-01"), product="short")
    assert org.status(d("2026-01-14"), product="short").state is ProductState.TRIAL
    assert org.status(d("2026-01-15"), product="short").state is ProductState.UNLICENSED
    assert org.status(d("2026-01-15"), product="short").window_ends_on == d("2026-01-15")
    assert org.status(d("2027-01-07"), product="short").state is ProductState.GRACE
    assert org.status(d("2027-01-08"), product="short").state is ProductState.UNLICENSED
    assert org.status(d("2027-01-08"), product="short").window_ends_on == d("2027-01-08")


@given(
    anchor=anchors,
    started_after=st.integers(0, 4000),
    periods_later=st.integers(0, 8),
    spec=st.sampled_from([ACS, FIVE_YEAR, SHORT_WINDOWS]),
)
@example(anchor=date(2028, 2, 29), started_after=0, periods_later=1, spec=ACS)
@example(anchor=date(2026, 1, 1), started_after=364, periods_later=0, spec=ACS)
def test_r3_window_opens_at_max_of_period_start_and_subscription_start(
    anchor: date, started_after: int, periods_later: int, spec: ProductSpec
) -> None:
    started = anchor + timedelta(days=started_after)
    first = first_period(anchor, spec, started)
    period = period_at(anchor, spec.term_years, first.index + periods_later)
    opens, ends = window(spec, period, started)
    assert opens == max(period.start, started)
    days = spec.trial_days if periods_later == 0 else spec.grace_days
    assert ends == opens + timedelta(days=days)


# --- R7: the five-year allocation window ------------------------------------------------------


def _wallet_org(anchor: date, product: str = "acs-pro") -> Org:
    org = Org(anchor)
    org.start(anchor, product=product)
    org.redeem(anchor, {"core": 100}, product=product)
    return org


def test_r7_five_year_window() -> None:
    org = _wallet_org(d("2026-01-01"))
    result = org.allocate(d("2026-01-01"), {"core": 1}, offset=5)
    assert [p.period.start for p in result.periods] == [d("2031-01-01")]  # exactly day + 5 years
    before = org.state
    with pytest.raises(OutsideAllocationWindow):
        org.allocate(d("2026-01-01"), {"core": 1}, offset=6)
    assert org.state is before
    assert org.state.ledger("acs-pro").allocations == {5: {"core": 1}}


@pytest.mark.parametrize(
    ("anchor", "day", "last_offset", "last_start"),
    [
        ("2026-01-01", "2026-01-01", 5, "2031-01-01"),
        ("2026-01-01", "2026-06-15", 5, "2031-01-01"),
        ("2026-01-01", "2026-12-31", 5, "2031-01-01"),  # last day of a period
        ("2026-01-01", "2027-01-01", 5, "2032-01-01"),
        # a 29 February anchor: day + 5 years is 2033-02-28, when period 5 starts
        ("2028-02-29", "2028-02-29", 5, "2033-02-28"),
        # a 29 February command day: + 5 years is 2033-02-28, before 2033-03-01
        ("2027-03-01", "2028-02-29", 5, "2032-03-01"),
        ("2027-03-01", "2028-03-01", 5, "2033-03-01"),
    ],
)
def test_r7_window_on_hard_days(anchor: str, day: str, last_offset: int, last_start: str) -> None:
    current = current_period(d(anchor), ACS, d(day))
    last = period_at(d(anchor), 1, current.index + last_offset)
    assert last.start == d(last_start)
    assert in_allocation_window(last, d(day))
    assert not in_allocation_window(period_at(d(anchor), 1, last.index + 1), d(day))
    org = _wallet_org(d(anchor))
    org.allocate(d(day), {"core": 1}, offset=last_offset)
    with pytest.raises(OutsideAllocationWindow):
        org.allocate(d(day), {"core": 1}, offset=last_offset + 1)


def test_r7_five_year_window_with_a_five_year_term() -> None:
    org = _wallet_org(d("2026-01-01"), product="five")
    result = org.allocate(d("2026-01-01"), {"core": 2}, offset=1, product="five")
    assert [p.period for p in result.periods] == [Period(1, d("2031-01-01"), d("2036-01-01"))]
    with pytest.raises(OutsideAllocationWindow):
        org.allocate(d("2030-12-31"), {"core": 2}, offset=2, product="five")


def test_r7_negative_offset_is_outside_the_window() -> None:
    org = _wallet_org(d("2026-01-01"))
    with pytest.raises(OutsideAllocationWindow):
        org.allocate(d("2027-02-01"), {"core": 1}, offset=-1)
    assert org.state.ledger("acs-pro").allocations == {}


def test_r7_allocate_need_window_applies_to_the_last_period() -> None:
    org = _wallet_org(d("2026-01-01"))
    org.system(d("2026-01-01"), {"core": 2})
    with pytest.raises(OutsideAllocationWindow):
        org.run(d("2026-01-01"), engine.allocate_need, product="acs-pro", through=6)
    with pytest.raises(OutsideAllocationWindow):
        org.run(d("2026-01-01"), engine.allocate_need, product="acs-pro", through=-1)
    result = org.run(d("2026-01-01"), engine.allocate_need, product="acs-pro", through=5)
    assert [p.period.index for p in result.periods] == [0, 1, 2, 3, 4, 5]
