"""Property tests of the pure core: periods, windows, lots and compensation (R2, R3, R6, R8).

Expected values are computed here independently of the code under test: period
boundaries with pendulum's ``Date.add(years=...)`` straight from the anchor, the
R8 share from its formula, and the order lots are used in from a plain sort.
The hard days (29 February, 31 January, period ends, DST changes) are pinned
with ``@example``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pendulum
import pytest
from hypothesis import example, find, given
from hypothesis import strategies as st

from axis_licensing import (
    EXAMPLE_CATALOG,
    Catalog,
    Counts,
    LicenseKind,
    Lot,
    Manager,
    ManualClock,
    Period,
    ProductSpec,
)
from axis_licensing.policy.compensation import credit_back, overlap_share
from axis_licensing.policy.lots import expires_on, live_lots, take
from axis_licensing.policy.periods import (
    add_years,
    current_period,
    first_period,
    period_at,
    period_containing,
    window,
)
from axis_licensing.testing import strategies as lst

TERMS = st.sampled_from(lst.TERM_YEARS)
ONE_YEAR = ProductSpec("one", "One year")
FIVE_YEARS = ProductSpec("five", "Five years", term_years=5)


def pendulum_add(day: date, years: int) -> date:
    """``day.add(years=years)`` in pendulum, as SPEC R2 defines every boundary."""
    moved = pendulum.Date(day.year, day.month, day.day).add(years=years)
    return date(moved.year, moved.month, moved.day)


def spec_for(term: int) -> ProductSpec:
    return ONE_YEAR if term == 1 else FIVE_YEARS


# --- R2: periods ------------------------------------------------------------------------------


@given(anchor=lst.anchors(), term=TERMS, first=st.integers(-5, 5), count=st.integers(1, 12))
@example(anchor=date(2028, 2, 29), term=1, first=0, count=8)
@example(anchor=date(2028, 2, 29), term=5, first=-2, count=6)
@example(anchor=date(2026, 1, 31), term=1, first=-1, count=4)
def test_r2_periods_tile_with_no_gap_or_overlap(
    anchor: date, term: int, first: int, count: int
) -> None:
    periods = [period_at(anchor, term, k) for k in range(first, first + count + 1)]
    for before, after in itertools.pairwise(periods):
        assert before.end == after.start
        assert after.index == before.index + 1
    for period in periods:
        assert period.start < period.end


@given(anchor=lst.anchors(), term=TERMS, index=st.integers(-10, 40))
@example(anchor=date(2028, 2, 29), term=1, index=1)  # 2029-02-28
@example(anchor=date(2028, 2, 29), term=1, index=4)  # 2032-02-29
@example(anchor=date(2028, 2, 29), term=5, index=-4)  # 2008-02-29
@example(anchor=date(2026, 1, 31), term=1, index=3)
@example(anchor=date(2026, 12, 31), term=5, index=7)
def test_r2_boundaries_are_anchor_add_k_terms(anchor: date, term: int, index: int) -> None:
    period = period_at(anchor, term, index)
    assert period == Period(
        index=index,
        start=pendulum_add(anchor, index * term),
        end=pendulum_add(anchor, (index + 1) * term),
    )
    assert add_years(anchor, index * term) == pendulum_add(anchor, index * term)


@given(anchor=lst.anchors(), term=TERMS, index=st.integers(-10, 40))
@example(anchor=date(2028, 2, 29), term=1, index=0)  # 2028-02-29 -> 2029-02-28: 365
@example(anchor=date(2028, 2, 29), term=1, index=3)  # 2031-02-28 -> 2032-02-29: 366
@example(anchor=date(2008, 2, 29), term=5, index=3)  # 2023-02-28 -> 2028-02-29: 1827
@example(anchor=date(2021, 3, 1), term=5, index=35)  # 2196-03-01 -> 2201-03-01: 1825 (2200)
def test_r2_period_lengths_are_positive_whole_terms(anchor: date, term: int, index: int) -> None:
    days = period_at(anchor, term, index).days
    assert days > 0
    # a year has 365 or 366 days; five years hold 0 (over 2100, 2200, ...), 1 or 2 leap days
    assert days in ({365, 366} if term == 1 else {1825, 1826, 1827})


@given(anchor=lst.anchors(), term=TERMS, day=lst.dates(date(2000, 1, 1), date(2090, 12, 31)))
@example(anchor=date(2026, 1, 1), term=1, day=date(2026, 12, 31))  # last day of period 0
@example(anchor=date(2026, 1, 1), term=1, day=date(2027, 1, 1))  # first day of period 1
@example(anchor=date(2028, 2, 29), term=1, day=date(2029, 2, 27))  # last day of period 0
@example(anchor=date(2028, 2, 29), term=1, day=date(2029, 2, 28))  # period 1 starts
@example(anchor=date(2028, 2, 29), term=1, day=date(2032, 2, 28))  # last day of period 3
@example(anchor=date(2028, 2, 29), term=1, day=date(2032, 2, 29))  # period 4 starts
@example(anchor=date(2026, 1, 31), term=5, day=date(2031, 1, 30))
@example(anchor=date(2026, 3, 1), term=1, day=date(2026, 2, 28))  # before the anchor
def test_r2_each_local_date_falls_in_exactly_one_period(anchor: date, term: int, day: date) -> None:
    period = period_containing(anchor, term, day)
    assert period.start <= day < period.end
    assert period == period_at(anchor, term, period.index)
    nearby = [period_at(anchor, term, k) for k in range(period.index - 3, period.index + 4)]
    assert [p.index for p in nearby if day in p] == [period.index]
    assert current_period(anchor, spec_for(term), day) == period


@pytest.mark.parametrize(
    ("index", "start", "end"),
    [
        (0, date(2028, 2, 29), date(2029, 2, 28)),
        (1, date(2029, 2, 28), date(2030, 2, 28)),
        (3, date(2031, 2, 28), date(2032, 2, 29)),
        (4, date(2032, 2, 29), date(2033, 2, 28)),
        (-1, date(2027, 2, 28), date(2028, 2, 29)),
    ],
)
def test_r2_leap_day_anchor_gives_28_february_in_common_years(
    index: int, start: date, end: date
) -> None:
    assert period_at(date(2028, 2, 29), 1, index) == Period(index, start, end)


def test_r2_boundaries_are_not_chained() -> None:
    anchor = date(2028, 2, 29)
    chained = add_years(add_years(add_years(add_years(anchor, 1), 1), 1), 1)
    assert chained == date(2032, 2, 28)  # what chaining would give: drifted
    assert period_at(anchor, 1, 4).start == date(2032, 2, 29)


def test_r2_period_ending_on_31_january() -> None:
    assert period_containing(date(2026, 1, 31), 1, date(2027, 1, 30)) == Period(
        0, date(2026, 1, 31), date(2027, 1, 31)
    )
    assert period_containing(date(2026, 1, 31), 1, date(2027, 1, 31)).index == 1


# --- R3: trial and grace windows ------------------------------------------------------------


@given(
    anchor=lst.anchors(),
    spec=lst.product_specs(),
    started_after=st.integers(0, 4000),
    later=st.integers(0, 4),
)
@example(anchor=date(2026, 1, 1), spec=ONE_YEAR, started_after=364, later=0)  # S: a last day
@example(anchor=date(2028, 2, 29), spec=ONE_YEAR, started_after=0, later=1)
@example(anchor=date(2026, 1, 1), spec=ONE_YEAR, started_after=68, later=0)  # the SPEC example
@example(anchor=date(2026, 1, 31), spec=FIVE_YEARS, started_after=1825, later=0)
def test_r3_window_is_30_days_from_max_of_period_start_and_s(
    anchor: date, spec: ProductSpec, started_after: int, later: int
) -> None:
    started_on = anchor + timedelta(days=started_after)
    first = first_period(anchor, spec, started_on)
    assert first.start <= started_on < first.end
    period = period_at(anchor, spec.term_years, first.index + later)
    opens, ends = window(spec, period, started_on)
    assert opens == max(period.start, started_on)
    assert opens == (started_on if later == 0 else period.start)
    assert ends - opens == timedelta(days=30)


def test_r3_spec_example_trial_through_8_april() -> None:
    spec = ONE_YEAR
    started_on = date(2026, 3, 10)
    period = first_period(date(2026, 3, 10), spec, started_on)
    assert window(spec, period, started_on) == (date(2026, 3, 10), date(2026, 4, 9))
    later = period_at(date(2026, 1, 1), 1, 0)
    assert window(spec, later, started_on) == (date(2026, 3, 10), date(2026, 4, 9))


# --- R6: lots -------------------------------------------------------------------------------


@given(acquired=lst.dates())
@example(acquired=date(2028, 2, 29))
@example(acquired=date(2028, 2, 28))
@example(acquired=date(2026, 12, 31))
def test_r6_lot_expires_five_years_after_acquisition(acquired: date) -> None:
    assert expires_on(acquired) == pendulum_add(acquired, 5)
    assert expires_on(acquired) > acquired


def test_r6_leap_day_lot_expires_28_february() -> None:
    assert expires_on(date(2028, 2, 29)) == date(2033, 2, 28)
    assert expires_on(date(2028, 2, 28)) == date(2033, 2, 28)
    assert expires_on(date(2028, 3, 1)) == date(2033, 3, 1)


LOT_TYPES = ("core", "door")


@st.composite
def wallets(draw: st.DrawFn) -> tuple[Lot, ...]:
    """Lots with distinct ids in shuffled order; hard days make expiry ties likely."""
    size = draw(st.integers(0, 8))
    ids = draw(st.permutations(range(1, size + 1)))
    lots = []
    for lot_id in ids:
        acquired = draw(lst.dates(date(2026, 1, 1), date(2030, 12, 31)))
        lots.append(
            Lot(
                lot_id=lot_id,
                kind=draw(st.sampled_from(LicenseKind)),
                license_type=draw(st.sampled_from(LOT_TYPES)),
                quantity=draw(st.integers(1, 10)),
                acquired_on=acquired,
                expires_on=pendulum_add(acquired, 5),
            )
        )
    return tuple(lots)


def expected_draw(
    lots: tuple[Lot, ...], kind: LicenseKind, quantities: Mapping[str, int]
) -> dict[int, int]:
    """How much each lot gives: earliest expires_on, then oldest acquired_on, then lot id."""
    drawn: dict[int, int] = {}
    for license_type, wanted in quantities.items():
        ordered = sorted(
            (lot for lot in lots if lot.kind is kind and lot.license_type == license_type),
            key=lambda lot: (lot.expires_on, lot.acquired_on, lot.lot_id),
        )
        for lot in ordered:
            used = min(wanted, lot.quantity)
            if used:
                drawn[lot.lot_id] = used
            wanted -= used
    return drawn


LEAP_TIE = (
    Lot(1, LicenseKind.SUBSCRIPTION, "core", 3, date(2028, 2, 29), date(2033, 2, 28)),
    Lot(2, LicenseKind.SUBSCRIPTION, "core", 3, date(2028, 2, 28), date(2033, 2, 28)),
    Lot(3, LicenseKind.SUBSCRIPTION, "core", 3, date(2027, 3, 1), date(2032, 3, 1)),
)


@given(
    lots=wallets(),
    kind=st.sampled_from(LicenseKind),
    quantities=lst.counts(LOT_TYPES, min_value=1, max_value=30, min_size=1),
)
@example(lots=LEAP_TIE, kind=LicenseKind.SUBSCRIPTION, quantities=Counts({"core": 5}))
@example(lots=LEAP_TIE, kind=LicenseKind.SUBSCRIPTION, quantities=Counts({"core": 10}))
def test_r6_take_draws_the_earliest_expiry_first(
    lots: tuple[Lot, ...], kind: LicenseKind, quantities: Counts
) -> None:
    available = Counts([(lot.license_type, lot.quantity) for lot in lots if lot.kind is kind])
    after, missing, used = take(lots, kind, quantities)
    short = {t: q - available.get(t, 0) for t, q in quantities.items() if q > available.get(t, 0)}
    if short:
        assert missing == short
        assert used == ()
        assert sorted(after, key=lambda lot: lot.lot_id) == sorted(lots, key=lambda lot: lot.lot_id)
        return
    assert missing == {}
    drawn = expected_draw(lots, kind, quantities)
    assert {lot_id: n for lot_id, _, n in used} == drawn
    assert len(used) == len(drawn)
    remaining = {lot.lot_id: lot.quantity - drawn.get(lot.lot_id, 0) for lot in lots}
    assert {lot.lot_id: lot.quantity for lot in after} == {
        lot_id: n for lot_id, n in remaining.items() if n > 0
    }
    for lot in after:  # nothing but the quantity changes
        original = next(o for o in lots if o.lot_id == lot.lot_id)
        assert (lot.kind, lot.license_type, lot.acquired_on, lot.expires_on) == (
            original.kind,
            original.license_type,
            original.acquired_on,
            original.expires_on,
        )


def test_r6_leap_day_tie_goes_to_the_older_lot() -> None:
    after, missing, used = take(LEAP_TIE, LicenseKind.SUBSCRIPTION, {"core": 5})
    assert missing == {}
    # lot 3 expires first (2032-03-01); lots 1 and 2 both expire 2033-02-28, and lot 2 is older.
    assert used == ((3, "core", 3), (2, "core", 2))
    assert {lot.lot_id: lot.quantity for lot in after} == {1: 3, 2: 1}


@given(lots=wallets(), day=lst.dates(date(2026, 1, 1), date(2037, 12, 31)))
def test_r6_live_lots_are_unexpired_and_in_expiry_order(lots: tuple[Lot, ...], day: date) -> None:
    live = live_lots(lots, day)
    assert [lot.lot_id for lot in live] == [
        lot.lot_id
        for lot in sorted(lots, key=lambda lot: (lot.expires_on, lot.acquired_on, lot.lot_id))
        if lot.expires_on > day
    ]


# --- R8: compensation -----------------------------------------------------------------------

credits = st.fractions(min_value=0, max_value=1, max_denominator=400).filter(lambda f: f < 1)


def r8_example(
    started_after: int,
    day_after: int,
    quantity: int,
    *,
    anchor: date = date(2026, 1, 1),
    spec: ProductSpec = ONE_YEAR,
    before: Fraction = Fraction(0),
) -> example:
    """An example of the R8 property below: by default a one-year product, anchored on
    2026-01-01, no credit before."""
    return example(
        anchor=anchor,
        spec=spec,
        started_after=started_after,
        day_after=day_after,
        quantity=quantity,
        before=before,
    )


@given(
    anchor=lst.anchors(),
    spec=lst.product_specs(),
    started_after=st.integers(0, 2000),
    day_after=st.integers(0, 2000),
    quantity=st.integers(1, 1000),
    before=credits,
)
# SPEC: product B starts 182 days into the period, 10 core in its trial
@r8_example(182, 8, 10)
# SPEC: 10 core on 2027-03-02, 60 days into the period, after its grace
@r8_example(0, 425, 10)
# 31 January 2026 is e, the first day after the trial: coverage starts that day
@r8_example(0, 30, 365)
# 30 January 2026, the trial's last day: coverage starts at w
@r8_example(0, 29, 365)
# on the last day of a period
@r8_example(0, 364, 365, anchor=date(2028, 2, 29), before=Fraction(364, 365))
# 31 January, in a five-year term
@r8_example(40, 1000, 7, anchor=date(2026, 1, 31), spec=FIVE_YEARS, before=Fraction(1, 3))
def test_r8_whole_part_plus_credit_after_equals_credit_before_plus_share(
    anchor: date,
    spec: ProductSpec,
    started_after: int,
    day_after: int,
    quantity: int,
    before: Fraction,
) -> None:
    started_on = anchor + timedelta(days=started_after)
    day = started_on + timedelta(days=day_after)
    period = current_period(anchor, spec, day)
    opens, ends = window(spec, period, started_on)
    share = overlap_share(quantity, period, day, opens, ends)
    covered_from = opens if day < ends else day
    assert share == Fraction(quantity * (covered_from - period.start).days, period.days)
    assert 0 <= share < quantity
    whole, after = credit_back({"core": before, "door": Fraction(1, 7)}, {"core": share})
    assert whole.get("core", 0) + after.get("core", Fraction(0)) == before + share
    assert 0 <= after.get("core", Fraction(0)) < 1
    assert whole.get("core", 0) == (before + share).numerator // (before + share).denominator
    assert after["door"] == Fraction(1, 7)  # other types keep their credit
    assert set(whole) <= {"core"}


def test_r8_spec_example_new_product_mid_period() -> None:
    period = Period(0, date(2026, 1, 1), date(2027, 1, 1))
    started_on = date(2026, 7, 2)
    opens, ends = window(ONE_YEAR, period, started_on)
    share = overlap_share(10, period, date(2026, 7, 10), opens, ends)
    assert share == 4 + Fraction(72, 73)
    assert credit_back({}, {"core": share}) == (Counts({"core": 4}), {"core": Fraction(72, 73)})


def test_r8_spec_example_after_the_grace_period() -> None:
    period = Period(1, date(2027, 1, 1), date(2028, 1, 1))
    opens, ends = window(ONE_YEAR, period, date(2026, 1, 1))
    assert ends == date(2027, 1, 31)
    share = overlap_share(10, period, date(2027, 3, 2), opens, ends)
    assert share == Fraction(120, 73)
    assert credit_back({}, {"core": share}) == (Counts({"core": 1}), {"core": Fraction(47, 73)})
    earlier = Fraction(30, 73)
    assert credit_back({"core": earlier}, {"core": share}) == (
        Counts({"core": 2}),
        {"core": Fraction(4, 73)},
    )


# --- local dates in the organization's zone, through the Manager ------------------------------

DST_CASES = [
    # (zone, instant, local date): instants near a DST switch, around local midnight
    ("Europe/Stockholm", datetime(2026, 3, 28, 23, 30, tzinfo=UTC), date(2026, 3, 29)),
    ("Europe/Stockholm", datetime(2026, 10, 24, 22, 30, tzinfo=UTC), date(2026, 10, 25)),
    ("Europe/Stockholm", datetime(2026, 10, 25, 22, 30, tzinfo=UTC), date(2026, 10, 25)),
    ("America/New_York", datetime(2026, 3, 8, 4, 30, tzinfo=UTC), date(2026, 3, 7)),
    ("America/New_York", datetime(2026, 11, 1, 4, 30, tzinfo=UTC), date(2026, 11, 1)),
    ("America/New_York", datetime(2026, 11, 2, 4, 30, tzinfo=UTC), date(2026, 11, 1)),
    ("Australia/Lord_Howe", datetime(2026, 4, 5, 13, 15, tzinfo=UTC), date(2026, 4, 5)),
    ("Australia/Lord_Howe", datetime(2026, 10, 4, 13, 15, tzinfo=UTC), date(2026, 10, 5)),
    ("UTC", datetime(2028, 2, 29, 23, 59, 59, tzinfo=UTC), date(2028, 2, 29)),
]


def started_on_at(zone: str, instant: datetime) -> tuple[date | None, Period | None, date | None]:
    """Start a subscription at ``instant`` in an organization in ``zone``; read it back."""
    clock = ManualClock(instant)
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock) as manager:
        manager.create_organization("org", name="Org", timezone=zone, actor="tester")
        manager.start_subscription("org", "acs-pro", actor="tester")
        status = manager.status("org", "acs-pro")
        activity_days = {a.on for a in manager.history("org")}
        assert activity_days == {status.started_on}
        return status.started_on, status.period, status.window_ends_on


@pytest.mark.parametrize(("zone", "instant", "local"), DST_CASES)
def test_r2_command_date_is_the_local_date_around_dst(
    zone: str, instant: datetime, local: date
) -> None:
    started_on, period, window_ends_on = started_on_at(zone, instant)
    assert started_on == local
    assert period == Period(0, local, pendulum_add(local, 1))
    assert window_ends_on == local + timedelta(days=30)


@given(zone=lst.timezones(), instant=lst.instants())
@example(zone=DST_CASES[5][0], instant=DST_CASES[5][1])
@example(zone=DST_CASES[7][0], instant=DST_CASES[7][1])
@example(zone="Europe/Stockholm", instant=datetime(2026, 3, 29, 1, 0, tzinfo=UTC))
def test_r2_commands_around_a_dst_switch_get_the_org_local_date(
    zone: str, instant: datetime
) -> None:
    local = instant.astimezone(ZoneInfo(zone)).date()
    started_on, period, window_ends_on = started_on_at(zone, instant)
    assert started_on == local
    assert period == Period(0, local, pendulum_add(local, 1))
    assert window_ends_on == local + timedelta(days=30)


def test_r2_clock_across_a_dst_switch_moves_the_local_date_once() -> None:
    # New York falls back at 2026-11-01 06:00 UTC. 2026-11-01 04:30 UTC is 00:30 EDT on
    # 1 November; 24 hours later, 2026-11-02 04:30 UTC, is 23:30 EST, still 1 November
    # (the day has 25 hours); one hour more is 00:30 EST on 2 November.
    clock = ManualClock(datetime(2026, 11, 1, 4, 30, tzinfo=UTC))
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock) as manager:
        manager.create_organization("org", name="Org", timezone="America/New_York", actor="t")
        manager.start_subscription("org", "acs-pro", actor="t")
        clock.advance(timedelta(hours=24))
        key = manager.vendor.issue_key("acs-pro", quantities={"core": 2})
        redemption = manager.redeem_key("org", key, actor="t")
        assert [lot.acquired_on for lot in redemption.lots] == [date(2026, 11, 1)]
        clock.advance(timedelta(hours=1))
        key = manager.vendor.issue_key("acs-pro", quantities={"door": 1})
        redemption = manager.redeem_key("org", key, actor="t")
        assert [lot.acquired_on for lot in redemption.lots] == [date(2026, 11, 2)]
        assert manager.status("org", "acs-pro").started_on == date(2026, 11, 1)


# --- the shipped strategies -----------------------------------------------------------------


@pytest.mark.parametrize(("month", "day"), lst.HARD_DAYS)
def test_r2_dates_strategy_reaches_every_hard_day(month: int, day: int) -> None:
    found = find(lst.dates(), lambda d: (d.month, d.day) == (month, day))
    assert (found.month, found.day) == (month, day)


def test_r2_offset_changes_are_the_dst_switches() -> None:
    assert lst.offset_changes("Europe/Stockholm", 2026) == (
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    )
    assert lst.offset_changes("Australia/Lord_Howe", 2026) == (
        datetime(2026, 4, 4, 15, 0, tzinfo=UTC),
        datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    )
    assert lst.offset_changes("UTC", 2026) == ()
    assert lst.offset_changes("Asia/Kolkata", 2026) == ()


@given(catalog=lst.catalogs())
def test_r5_catalogs_strategy_gives_valid_small_catalogs(catalog: Catalog) -> None:
    assert 1 <= len(catalog.products) <= 2
    assert len(set(catalog.product_codes)) == len(catalog.products)
    for spec in catalog.products:
        assert spec.term_years in (1, 5)
        assert spec.growth_rate in (Fraction(0), Fraction(1, 2), Fraction(1), Fraction(2))
        codes = spec.type_codes
        assert 1 <= len(codes) <= 4
        for license_type in spec.license_types:
            assert license_type.code not in license_type.covers
            assert set(license_type.covers) <= set(codes)


@given(
    types=st.lists(st.sampled_from(lst.LICENSE_TYPE_CODES), min_size=1, unique=True),
    data=st.data(),
)
def test_r14_counts_strategy_respects_its_bounds(types: list[str], data: st.DataObject) -> None:
    drawn = data.draw(lst.counts(types, min_value=1, max_value=5, min_size=1))
    assert isinstance(drawn, Counts)
    assert drawn
    assert set(drawn) <= set(types)
    assert all(1 <= n <= 5 for n in drawn.values())


@given(instant=lst.instants(zones=("America/New_York",)))
def test_r2_instants_strategy_is_aware_and_in_range(instant: datetime) -> None:
    assert instant.tzinfo is not None
    assert datetime(2020, 1, 1, tzinfo=UTC) <= instant <= datetime(2040, 12, 31, tzinfo=UTC)
