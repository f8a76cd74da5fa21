"""An independent audit of the license math of R1–R10, through the public API only.

The oracle below (``add_years``, ``period_of``, ``window_of``, ``compensation``,
``growth``) is a small model written from the SPEC text alone (§1, §2), not from
the library's code. Hypothesis compares the library with it on dates chosen near
the hard days (29 February, month ends, period starts, window ends, local
midnight and DST changes in the organization's zone). Every worked example of
SPEC §2 is also reproduced exactly as a named test. Every test runs on memory,
SQLite and PostgreSQL (``backend_url``).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from math import ceil
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from axis_licensing import (
    EXAMPLE_CATALOG,
    AlreadyRegistered,
    Catalog,
    InsufficientLicenses,
    InvalidInput,
    KeyAlreadyRedeemed,
    KeyTypo,
    LicenseKind,
    LicenseType,
    Manager,
    ManualClock,
    OutsideAllocationWindow,
    Period,
    ProductSpec,
    ProductState,
    SubscriptionNotStarted,
    UnknownHardware,
    UnknownKey,
)

PRO = "acs-pro"  # EXAMPLE_CATALOG: core, universal (covers core), door; term 1, growth 1
B = "acs-b"  # a second product with term 1: core, universal (covers core)
FIVE = "acs-five"  # term 5 years
HALF = "acs-half"  # growth_rate 1/2
THIRD = "acs-third"  # growth_rate 1/3
ZERO = "acs-zero"  # growth_rate 0
DAYS = "acs-days"  # trial_days 14, grace_days 7
HALF3 = "acs-half3"  # growth_rate 1/2 with PRO's three types
CHAIN = "acs-chain"  # a covers b, b covers c (not transitive)

CATALOG = Catalog(
    products=[
        *EXAMPLE_CATALOG.products,
        ProductSpec(
            B, "Product B", license_types=[LicenseType("core"), LicenseType("universal", ("core",))]
        ),
        ProductSpec(FIVE, "Five-year product", term_years=5, license_types=[LicenseType("core")]),
        ProductSpec(
            HALF, "Half growth", growth_rate=Fraction(1, 2), license_types=[LicenseType("core")]
        ),
        ProductSpec(
            THIRD, "Third growth", growth_rate=Fraction(1, 3), license_types=[LicenseType("core")]
        ),
        ProductSpec(
            ZERO, "No growth", growth_rate=Fraction(0), license_types=[LicenseType("core")]
        ),
        ProductSpec(
            DAYS, "Short windows", trial_days=14, grace_days=7, license_types=[LicenseType("core")]
        ),
        ProductSpec(
            CHAIN,
            "A chain of covers",
            license_types=[
                LicenseType("c"),
                LicenseType("b", covers=("c",)),
                LicenseType("a", covers=("b",)),
            ],
        ),
        ProductSpec(
            HALF3,
            "Half growth, three types",
            growth_rate=Fraction(1, 2),
            license_types=[
                LicenseType("core"),
                LicenseType("universal", covers=("core",)),
                LicenseType("door"),
            ],
        ),
    ]
)
GROWTH = {PRO: Fraction(1), HALF: Fraction(1, 2), THIRD: Fraction(1, 3), ZERO: Fraction(0)}
TERM = {PRO: 1, B: 1, FIVE: 5}
WINDOW_DAYS = 30
ZONES = (
    "UTC",
    "Europe/Paris",
    "America/Los_Angeles",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Pago_Pago",  # UTC-11
)

# Hypothesis shares one Manager per backend over its examples: each example gets
# organizations, systems and serials of its own, so nothing leaks between them. A fixed
# budget per test, whatever the profile: at the ci profile's 300 examples the file alone
# took over 15 minutes on three backends.
SHARED = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_ids = itertools.count(1)


# --------------------------------------------------------------------------- the oracle
def add_years(d: date, years: int) -> date:
    """``d`` plus whole years; 29 February becomes 28 February in a common year (R2, R6)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return date(d.year + years, 2, 28)


def period_of(anchor: date, term: int, d: date) -> tuple[int, date, date]:
    """(k, start, end) of the period ``[A + k·T, A + (k+1)·T)`` that contains ``d`` (R2)."""
    k = (d.year - anchor.year) // term + 1
    while add_years(anchor, k * term) > d:
        k -= 1
    while add_years(anchor, (k + 1) * term) <= d:
        k += 1
    return k, add_years(anchor, k * term), add_years(anchor, (k + 1) * term)


def window_of(period_start: date, started: date) -> tuple[date, date]:
    """The trial or grace window ``[w, e)`` of a period (R3)."""
    w = max(period_start, started)
    return w, w + timedelta(days=WINDOW_DAYS)


def expected_state(anchor: date, term: int, started: date, d: date) -> ProductState:
    """The state at ``d`` of a product with devices and no licenses (R3, R5)."""
    if d < started:
        return ProductState.NOT_STARTED
    k, start, _ = period_of(anchor, term, d)
    _, e = window_of(start, started)
    if d >= e:
        return ProductState.UNLICENSED
    first_k = period_of(anchor, term, started)[0]
    return ProductState.TRIAL if k == first_k else ProductState.GRACE


def compensation(anchor: date, term: int, started: date, d: date, q: int) -> Fraction:
    """R8: ``q × overlap / length`` for an allocation of ``q`` to the current period at ``d``."""
    _, ps, pe = period_of(anchor, term, d)
    w, e = window_of(ps, started)
    c = w if d < e else d
    return Fraction(q * (c - ps).days, (pe - ps).days)


def growth(allocated: int, devices: int, rate: Fraction) -> tuple[bool, int]:
    """R5, one type, locked: (growth_exceeded, required_now)."""
    capacity = (1 + rate) * allocated
    if devices <= capacity:
        return False, 0
    return True, ceil(Fraction(devices) / (1 + rate)) - allocated


# --------------------------------------------------------------------------- oracle self-checks
def test_oracle_add_years_and_periods_on_29_february() -> None:
    assert add_years(date(2028, 2, 29), 5) == date(2033, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert period_of(date(2024, 2, 29), 1, date(2025, 2, 27)) == (
        0,
        date(2024, 2, 29),
        date(2025, 2, 28),
    )
    assert period_of(date(2024, 2, 29), 1, date(2028, 2, 28)) == (
        3,
        date(2027, 2, 28),
        date(2028, 2, 29),
    )
    assert period_of(date(2024, 2, 29), 5, date(2029, 2, 28))[0] == 1
    assert compensation(date(2026, 1, 1), 1, date(2026, 7, 2), date(2026, 7, 10), 10) == Fraction(
        364, 73
    )
    assert growth(10, 23, Fraction(1)) == (True, 2)


# --------------------------------------------------------------------------- helpers
def per(period: Period | None) -> Period:
    """A status's period, which a started product always has."""
    assert period is not None
    return period


@dataclasses.dataclass
class ModelLot:
    """A lot of the models below: what is left, and its dates (R6)."""

    quantity: int
    acquired_on: date
    expires_on: date

    def key(self) -> tuple[date, date]:
        """Allocation order: earliest expiry, then oldest; a stable sort keeps lot id order."""
        return self.expires_on, self.acquired_on

    def row(self) -> tuple[int, date, date]:
        return self.quantity, self.acquired_on, self.expires_on


def take(lots: list[ModelLot], q: int, today: date) -> None:
    """Take ``q`` licenses from the live lots, earliest expiry first (R6)."""
    for lot in sorted((lot for lot in lots if today < lot.expires_on), key=ModelLot.key):
        used = min(q, lot.quantity)
        lot.quantity -= used
        q -= used


class Org:
    """One organization on a shared Manager, with its own zone and a clock to move."""

    def __init__(self, m: Manager, clock: ManualClock, tz: str = "UTC") -> None:
        n = next(_ids)
        self.m, self.clock, self.tz = m, clock, ZoneInfo(tz)
        self.org = f"org{n}"
        self.n = n
        clock.set(datetime(2020, 1, 1, 12, tzinfo=UTC))
        m.create_organization(self.org, name=f"Org {n}", timezone=tz, actor="alice")

    def at(self, d: date, t: time = time(12)) -> datetime:
        """The instant of local date ``d`` and local time ``t`` in the organization's zone."""
        return datetime.combine(d, t, tzinfo=self.tz)

    def on(self, d: date, t: time = time(12)) -> None:
        """Move the clock to local date ``d`` (local time ``t``)."""
        self.clock.set(self.at(d, t))

    def system(self, product: str, devices: dict[str, int]) -> str:
        sid = f"sys{self.n}-{product}-{next(_ids)}"
        self.m.register_system(self.org, product, sid, devices=devices, actor="alice")
        return sid

    def start(self, product: str, d: date, t: time = time(12)) -> None:
        self.on(d, t)
        self.m.start_subscription(self.org, product, actor="alice")

    def redeem(
        self, product: str, quantities: dict[str, int], kind: LicenseKind = LicenseKind.SUBSCRIPTION
    ) -> None:
        key = self.m.vendor.issue_key(product, kind=kind, quantities=quantities)
        self.m.redeem_key(self.org, key, actor="alice")

    def state(self, product: str, d: date, t: time = time(12)) -> ProductState:
        return self.m.status(self.org, product, at=self.at(d, t)).state


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2020, 1, 1, 12, tzinfo=UTC))


@pytest.fixture
def m(backend_url: str, clock: ManualClock) -> Iterator[Manager]:
    with Manager.open(backend_url, catalog=CATALOG, clock=clock) as opened:
        yield opened


dates = st.dates(min_value=date(2023, 1, 1), max_value=date(2031, 12, 31))
hard_days = st.sampled_from(
    [date(2024, 2, 29), date(2028, 2, 29), date(2025, 1, 31), date(2026, 12, 31), date(2027, 3, 1)]
)
anchors = st.one_of(hard_days, dates)


# --------------------------------------------------------------------------- R2 and R3
@SHARED
@given(
    anchor=anchors,
    offset=st.integers(0, 3 * 366),
    term=st.sampled_from([1, 5]),
    tz=st.sampled_from(ZONES),
    probes=st.lists(st.integers(0, 12 * 366), min_size=1, max_size=4),
)
@example(date(2024, 2, 29), 0, 1, "UTC", [365, 366, 1460, 1461, 1826])
@example(date(2024, 2, 29), 366, 5, "Pacific/Auckland", [0, 29, 30, 1825, 1826])
def test_r2_r3_periods_and_windows_match_the_oracle(
    m: Manager,
    clock: ManualClock,
    anchor: date,
    offset: int,
    term: int,
    tz: str,
    probes: list[int],
) -> None:
    """Periods, indices, window ends and states over many dates, at local 00:00 and 23:59."""
    o = Org(m, clock, tz)
    product = FIVE if term == 5 else B
    started = anchor + timedelta(days=offset)
    o.system(product, {"core": 3})
    o.start(PRO, anchor, time(0, 0))  # the anchor is set at local midnight
    o.start(product, started, time(23, 59))
    for probe in probes:
        d = started + timedelta(days=probe)
        k, ps, pe = period_of(anchor, term, d)
        _, e = window_of(ps, started)
        for t in (time(0, 0), time(23, 59)):
            s = m.status(o.org, product, at=o.at(d, t))
            if d == started and t < time(23, 59):
                # Before the start command's instant: what was true then (SPEC §1).
                assert (s.state, s.period) == (ProductState.NOT_STARTED, None)
                continue
            assert (per(s.period).index, per(s.period).start, per(s.period).end) == (k, ps, pe), (
                d,
                t,
            )
            assert s.window_ends_on == e
            assert s.renews_on == pe
            assert s.state == expected_state(anchor, term, started, d), (d, t)
    # The day before the start it is not started; on the start it is.
    first_k = period_of(anchor, term, started)[0]
    ps0 = period_of(anchor, term, started)[1]
    assert o.state(product, started - timedelta(days=1), time(23, 59)) == ProductState.NOT_STARTED
    assert o.state(product, started, time(23, 59)) == ProductState.TRIAL
    assert per(m.status(o.org, product, at=o.at(started, time(23, 59))).period).index == first_k
    assert per(m.status(o.org, product, at=o.at(started, time(23, 59))).period).start == ps0
    assert {org.org_id: org.anchor for org in m.organizations()}[o.org] == anchor


def test_r2_29_february_anchor_gives_28_february_in_common_years(
    m: Manager, clock: ManualClock
) -> None:
    o = Org(m, clock)
    o.system(PRO, {"core": 1})
    o.start(PRO, date(2024, 2, 29))
    # One probe per period, on 1 March.
    got = [per(m.status(o.org, PRO, at=o.at(date(2024 + k, 3, 1))).period) for k in range(5)]
    assert [(p.index, p.start, p.end) for p in got] == [
        (0, date(2024, 2, 29), date(2025, 2, 28)),
        (1, date(2025, 2, 28), date(2026, 2, 28)),
        (2, date(2026, 2, 28), date(2027, 2, 28)),
        (3, date(2027, 2, 28), date(2028, 2, 29)),
        (4, date(2028, 2, 29), date(2029, 2, 28)),
    ]
    # The last day of period 3 is 28 February 2028; 29 February 2028 starts period 4.
    assert per(m.status(o.org, PRO, at=o.at(date(2028, 2, 28), time(23, 59))).period).index == 3
    assert per(m.status(o.org, PRO, at=o.at(date(2028, 2, 29), time(0, 0))).period).index == 4


def test_r2_period_index_counts_from_the_organization_anchor(
    m: Manager, clock: ManualClock
) -> None:
    """A product started later has a partial first period whose index is counted from A."""
    o = Org(m, clock)
    o.system(B, {"core": 1})
    o.start(PRO, date(2026, 1, 1))
    o.start(B, date(2028, 7, 2))
    s = m.status(o.org, B, at=o.at(date(2028, 7, 2)))
    assert (per(s.period).index, per(s.period).start, per(s.period).end) == (
        2,
        date(2028, 1, 1),
        date(2029, 1, 1),
    )
    assert s.state == ProductState.TRIAL
    assert s.window_ends_on == date(2028, 8, 1)
    # The anchor never changes.
    assert {org.org_id: org.anchor for org in m.organizations()}[o.org] == date(2026, 1, 1)
    # Next period: a grace window from its start.
    s = m.status(o.org, B, at=o.at(date(2029, 1, 30)))
    assert (s.state, s.window_ends_on) == (ProductState.GRACE, date(2029, 1, 31))
    assert o.state(B, date(2029, 1, 31), time(0, 0)) == ProductState.UNLICENSED


def test_r3_worked_example_trial_through_8_april(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    o.system(PRO, {"core": 2})
    o.start(PRO, date(2026, 3, 10))
    s = m.status(o.org, PRO, at=o.at(date(2026, 4, 8), time(23, 59, 59)))
    assert (s.state, s.window_ends_on) == (ProductState.TRIAL, date(2026, 4, 9))
    assert o.state(PRO, date(2026, 4, 9), time(0, 0)) == ProductState.UNLICENSED


@pytest.mark.parametrize(
    ("tz", "start_utc", "local_start"),
    [
        # 23:30 on 9 March in Los Angeles (PDT since 8 March) is 06:30 UTC on 10 March.
        ("America/Los_Angeles", datetime(2026, 3, 10, 6, 30, tzinfo=UTC), date(2026, 3, 9)),
        # 00:30 on 29 March in Paris (still CET) is 23:30 UTC on 28 March.
        ("Europe/Paris", datetime(2026, 3, 28, 23, 30, tzinfo=UTC), date(2026, 3, 29)),
        # Auckland leaves daylight time on 5 April 2026:
        # 00:10 local on 6 April is 12:10 UTC on 5 April.
        ("Pacific/Auckland", datetime(2026, 4, 5, 12, 10, tzinfo=UTC), date(2026, 4, 6)),
    ],
)
def test_r3_trial_days_in_the_organization_zone_around_midnight_and_dst(
    m: Manager, clock: ManualClock, tz: str, start_utc: datetime, local_start: date
) -> None:
    o = Org(m, clock, tz)
    o.system(PRO, {"core": 1})
    clock.set(start_utc)
    m.start_subscription(o.org, PRO, actor="alice")
    s = m.status(o.org, PRO)
    assert per(s.period).start == local_start
    assert s.started_on == local_start
    end = local_start + timedelta(days=30)
    assert s.window_ends_on == end
    # Day 30 of the trial (its last day) at local 23:59:59, then day 31 at local 00:00.
    assert o.state(PRO, end - timedelta(days=1), time(23, 59, 59)) == ProductState.TRIAL
    assert o.state(PRO, end, time(0, 0)) == ProductState.UNLICENSED
    # The same instants given in UTC.
    last = o.at(end - timedelta(days=1), time(23, 59, 59)).astimezone(UTC)
    assert m.status(o.org, PRO, at=last).state == ProductState.TRIAL
    assert m.status(o.org, PRO, at=last + timedelta(seconds=1)).state == ProductState.UNLICENSED
    # The history's local date of the start.
    (started,) = m.history(o.org, actions=["subscription_started"])
    assert started.on == local_start


# --------------------------------------------------------------------------- R5 growth
@SHARED
@given(
    product=st.sampled_from([PRO, HALF, THIRD, ZERO]),
    allocated=st.integers(1, 40),
    devices=st.integers(0, 130),
)
@example(PRO, 10, 20)
@example(PRO, 10, 21)
@example(PRO, 10, 23)
@example(HALF, 10, 15)
@example(HALF, 10, 16)
@example(THIRD, 3, 4)
@example(THIRD, 3, 5)
@example(ZERO, 7, 8)
def test_r5_growth_threshold_matches_the_oracle(
    m: Manager, clock: ManualClock, product: str, allocated: int, devices: int
) -> None:
    o = Org(m, clock)
    sid = o.system(product, {"core": allocated})
    o.start(PRO, date(2026, 1, 1))
    if product != PRO:
        o.start(product, date(2026, 1, 1))
    o.redeem(product, {"core": allocated})
    o.on(date(2026, 1, 5))
    m.allocate(o.org, product, {"core": allocated}, actor="alice")
    assert m.status(o.org, product).locked
    o.on(date(2026, 2, 5))
    m.report_devices(o.org, sid, devices={"core": devices} if devices else {}, actor="alice")
    exceeded, required = growth(allocated, devices, GROWTH[product])
    s = m.status(o.org, product)
    assert s.state == ProductState.LICENSED
    assert s.locked
    assert s.growth_exceeded is exceeded
    assert dict(s.required_now) == ({"core": required} if required else {})
    # R4: the locked current period needs allocated + required_now; the next ones the devices.
    need = m.need(o.org, product, horizon=1)
    assert dict(need.periods[0].need) == {"core": allocated + required}
    assert dict(need.periods[0].shortfall) == ({"core": required} if required else {})
    assert dict(need.periods[1].need) == ({"core": devices} if devices else {})
    grown = m.history(o.org, product=product, actions=["growth_exceeded"])
    assert len(grown) == (1 if exceeded else 0)
    if exceeded:
        assert grown[0].actor == "system"
        # A second report beyond the allowance in the same period records nothing new.
        o.on(date(2026, 3, 5))
        m.report_devices(o.org, sid, devices={"core": devices + 1}, actor="alice")
        assert len(m.history(o.org, product=product, actions=["growth_exceeded"])) == 1


def test_r5_worked_example_10_allocated_23_devices(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    sid = o.system(PRO, {"core": 10})
    o.start(PRO, date(2026, 1, 1))
    o.redeem(PRO, {"core": 10})
    m.allocate(o.org, PRO, {"core": 10}, actor="alice")
    m.report_devices(o.org, sid, devices={"core": 23}, actor="alice")
    s = m.status(o.org, PRO)
    assert (s.state, s.growth_exceeded, dict(s.required_now)) == (
        ProductState.LICENSED,
        True,
        {"core": 2},
    )


def test_r5_worked_example_unlocked_shortfall_core_2_universal_2(
    m: Manager, clock: ManualClock
) -> None:
    o = Org(m, clock)
    o.system(PRO, {"core": 5, "universal": 2})
    o.start(PRO, date(2026, 1, 1))
    o.redeem(PRO, {"core": 3})
    m.allocate(o.org, PRO, {"core": 3}, actor="alice")
    s = m.status(o.org, PRO)
    assert not s.locked
    assert s.state == ProductState.TRIAL
    assert dict(s.required_now) == {"core": 2, "universal": 2}
    assert dict(m.need(o.org, PRO, horizon=0).periods[0].shortfall) == {"core": 2, "universal": 2}


def test_r5_worked_example_locked_smallest_shortfall(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    sid = o.system(PRO, {"core": 3, "universal": 8})
    o.start(PRO, date(2026, 1, 1))
    o.redeem(PRO, {"core": 3, "universal": 8})
    m.allocate(o.org, PRO, {"core": 3, "universal": 8}, actor="alice")
    assert m.status(o.org, PRO).locked
    m.report_devices(o.org, sid, devices={"core": 17, "universal": 19}, actor="alice")
    s = m.status(o.org, PRO)
    assert dict(s.required_now) == {"universal": 2, "core": 5}
    assert s.growth_exceeded


def test_r5_zero_devices_zero_licenses_is_licensed_after_the_window(
    m: Manager, clock: ManualClock
) -> None:
    o = Org(m, clock)
    o.start(PRO, date(2026, 1, 1))
    assert o.state(PRO, date(2026, 1, 30)) == ProductState.TRIAL
    s = m.status(o.org, PRO, at=o.at(date(2026, 1, 31), time(0, 0)))
    assert s.state == ProductState.LICENSED
    assert not s.locked  # no license allocated: never locks


def test_r5_licensed_through_counts_advance_allocations(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    o.system(PRO, {"core": 4})
    o.start(PRO, date(2026, 1, 1))
    o.redeem(PRO, {"core": 16})
    m.allocate(o.org, PRO, {"core": 4}, period=0, actor="alice")
    m.allocate(o.org, PRO, {"core": 4}, period=1, actor="alice")
    m.allocate(o.org, PRO, {"core": 3}, period=2, actor="alice")  # does not cover 4 devices
    m.allocate(o.org, PRO, {"core": 4}, period=3, actor="alice")  # after a gap: not counted
    assert m.status(o.org, PRO).licensed_through == date(2028, 1, 1)
    # In period 1 (locked at its start by the advance allocation), through the same end.
    s = m.status(o.org, PRO, at=o.at(date(2027, 1, 1), time(0, 0)))
    assert (s.state, s.locked, per(s.period).index) == (ProductState.LICENSED, True, 1)
    assert s.licensed_through == date(2028, 1, 1)
    # Period 2 is not covered and not locked: grace, and licensed_through is None.
    s = m.status(o.org, PRO, at=o.at(date(2028, 1, 15)))
    assert (s.state, s.licensed_through) == (ProductState.GRACE, None)


# --------------------------------------------------------------------------- R6 lots
@SHARED
@given(acquired=st.one_of(hard_days, dates), tz=st.sampled_from(ZONES))
@example(date(2028, 2, 29), "UTC")
@example(date(2028, 2, 29), "Pacific/Auckland")
def test_r6_lot_expires_on_the_exact_day(
    m: Manager, clock: ManualClock, acquired: date, tz: str
) -> None:
    o = Org(m, clock, tz)
    o.on(acquired, time(0, 0))
    o.redeem(PRO, {"core": 3, "door": 2})
    expires = add_years(acquired, 5)
    w = m.wallet(o.org, PRO, at=o.at(acquired))
    assert sorted(
        (lot.license_type, lot.quantity, lot.acquired_on, lot.expires_on) for lot in w.lots
    ) == [
        ("core", 3, acquired, expires),
        ("door", 2, acquired, expires),
    ]
    last = m.wallet(o.org, PRO, at=o.at(expires - timedelta(days=1), time(23, 59, 59)))
    assert dict(last.balance()) == {"core": 3, "door": 2}
    gone = m.wallet(o.org, PRO, at=o.at(expires, time(0, 0)))
    assert gone.lots == ()
    assert dict(gone.balance()) == {}
    # The expiry is in the history, dated expires_on, once a later command ran.
    o.on(expires + timedelta(days=2))
    o.redeem(PRO, {"door": 1})
    expired = m.history(o.org, actions=["licenses_expired"])
    assert [(a.on, a.actor) for a in expired] in (
        [(expires, "system")],
        [(expires, "system"), (expires, "system")],
    )
    assert m.history(o.org, actions=["licenses_expired"], since=expires, until=expires) == expired


def test_r6_worked_example_29_february_2028(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    o.on(date(2028, 2, 29))
    key = m.vendor.issue_key(PRO, quantities={"core": 2, "universal": 1})
    r = m.redeem_key(o.org, key, actor="alice")
    assert sorted(
        (lot.license_type, lot.quantity, lot.acquired_on, lot.expires_on) for lot in r.lots
    ) == [
        ("core", 2, date(2028, 2, 29), date(2033, 2, 28)),
        ("universal", 1, date(2028, 2, 29), date(2033, 2, 28)),
    ]


def test_r6_expiry_shows_in_history_without_a_later_command(m: Manager, clock: ManualClock) -> None:
    """'This holds even when no command ran in between, so queries at date d must show it.'"""
    o = Org(m, clock)
    o.on(date(2026, 5, 4))
    o.redeem(PRO, {"core": 3})
    clock.set(o.at(date(2031, 6, 1)))
    expired = m.history(o.org, actions=["licenses_expired"])
    assert [(a.on, a.actor, a.product) for a in expired] == [(date(2031, 5, 4), "system", PRO)]


def test_r6_earliest_expiry_first_then_oldest_acquired(m: Manager, clock: ManualClock) -> None:
    """Lots acquired on 28 and 29 February 2028 both expire on 28 February 2033: tie on expiry."""
    o = Org(m, clock)
    o.on(date(2028, 2, 28))
    o.redeem(PRO, {"core": 5})
    o.on(date(2028, 2, 29))
    o.redeem(PRO, {"core": 5})
    o.redeem(PRO, {"core": 5})
    o.on(date(2028, 3, 1))
    o.redeem(PRO, {"core": 5})
    o.system(PRO, {"core": 1})
    o.start(PRO, date(2028, 3, 2))
    m.allocate(o.org, PRO, {"core": 8}, actor="alice")
    w = m.wallet(o.org, PRO)
    assert [(lot.quantity, lot.acquired_on, lot.expires_on) for lot in w.lots] == [
        (2, date(2028, 2, 29), date(2033, 2, 28)),
        (5, date(2028, 2, 29), date(2033, 2, 28)),
        (5, date(2028, 3, 1), date(2033, 3, 1)),
    ]
    ids = [lot.lot_id for lot in w.lots]
    assert ids[0] < ids[1]  # ties on both dates: the lower lot id is used first
    m.allocate(o.org, PRO, {"core": 3}, actor="alice")
    assert [lot.quantity for lot in m.wallet(o.org, PRO).lots] == [4, 5]


# --------------------------------------------------------------------------- R7 window
@SHARED
@given(
    anchor=anchors,
    after=st.integers(0, 4 * 366),
    term=st.sampled_from([1, 5]),
    tz=st.sampled_from(ZONES),
)
@example(date(2024, 2, 29), 1461, 1, "UTC")  # on 2028-02-29: offset 5 starts on 2033-02-28
@example(date(2026, 1, 1), 0, 1, "UTC")
@example(date(2026, 1, 1), 0, 5, "UTC")
def test_r7_allocation_window_edge_matches_the_oracle(
    m: Manager, clock: ManualClock, anchor: date, after: int, term: int, tz: str
) -> None:
    o = Org(m, clock, tz)
    product = FIVE if term == 5 else PRO
    o.start(PRO, anchor)
    if product != PRO:
        o.start(product, anchor)
    d = anchor + timedelta(days=after)
    o.on(d, time(0, 1))
    o.redeem(product, {"core": 10})
    k, _, _ = period_of(anchor, term, d)
    limit = add_years(d, 5)
    best = max(j for j in range(0, 7) if add_years(anchor, (k + j) * term) <= limit)
    a = m.allocate(o.org, product, {"core": 1}, period=best, actor="alice")
    assert [(p.period.index, p.period.start) for p in a.periods] == [
        (k + best, add_years(anchor, (k + best) * term))
    ]
    with pytest.raises(OutsideAllocationWindow):
        m.allocate(o.org, product, {"core": 1}, period=best + 1, actor="alice")
    with pytest.raises(OutsideAllocationWindow):
        m.allocate(o.org, product, {"core": 1}, period=-1, actor="alice")
    with pytest.raises(OutsideAllocationWindow):
        m.allocate_need(o.org, product, through=best + 1, actor="alice")
    empty = m.allocate_need(o.org, product, through=best, actor="alice")  # no devices: no need
    assert (empty.periods, dict(empty.compensation)) == ((), {})
    assert dict(m.wallet(o.org, product).balance()) == {"core": 9}


def test_r7_insufficient_changes_nothing_and_gives_the_shortfall(
    m: Manager, clock: ManualClock
) -> None:
    o = Org(m, clock)
    o.system(PRO, {"core": 5, "door": 2})
    o.start(PRO, date(2026, 1, 1))
    o.redeem(PRO, {"core": 3, "door": 2})
    with pytest.raises(InsufficientLicenses) as err:
        m.allocate(o.org, PRO, {"core": 5, "door": 2, "universal": 1}, actor="alice")
    assert dict(err.value.shortfall) == {"core": 2, "universal": 1}
    assert dict(m.wallet(o.org, PRO).balance()) == {"core": 3, "door": 2}
    assert m.history(o.org, actions=["licenses_allocated"]) == []
    with pytest.raises(InsufficientLicenses) as err:
        m.allocate_need(o.org, PRO, through=1, actor="alice")
    assert dict(err.value.shortfall) == {"core": 7, "door": 2}
    o.redeem(PRO, {"core": 7, "door": 2})
    a = m.allocate_need(o.org, PRO, through=1, actor="alice")
    assert [(p.period.index, dict(p.quantities)) for p in a.periods] == [
        (0, {"core": 5, "door": 2}),
        (1, {"core": 5, "door": 2}),
    ]
    assert dict(m.wallet(o.org, PRO).balance()) == {}
    before = len(m.history(o.org))
    empty = m.allocate_need(o.org, PRO, through=1, actor="alice")
    assert (empty.periods, dict(empty.compensation)) == ((), {})
    assert len(m.history(o.org)) == before


def test_r6_r7_allocation_needs_a_started_subscription(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    o.redeem(B, {"core": 2})  # redeeming needs no subscription
    with pytest.raises(SubscriptionNotStarted):
        m.allocate(o.org, B, {"core": 1}, actor="alice")
    with pytest.raises(SubscriptionNotStarted):
        m.allocate_need(o.org, B, actor="alice")
    with pytest.raises(SubscriptionNotStarted):
        m.need(o.org, B)


# --------------------------------------------------------------------------- R8 compensation
@SHARED
@given(
    tz=st.sampled_from(ZONES),
    anchor=anchors,
    start_after=st.integers(0, 3 * 366),
    first=st.integers(0, 400),
    second=st.integers(0, 400),
    q1=st.integers(1, 50),
    q2=st.integers(1, 50),
    product=st.sampled_from([B, FIVE]),
)
@example("UTC", date(2026, 1, 1), 182, 8, 300, 10, 10, B)  # the SPEC's two examples in a row
@example("UTC", date(2024, 2, 29), 100, 0, 30, 7, 3, FIVE)
@example("Europe/Paris", date(2027, 3, 1), 30, 29, 1, 13, 11, B)
@example("Pacific/Kiritimati", date(2028, 2, 29), 1460, 31, 0, 50, 50, FIVE)
def test_r8_compensation_and_carried_credit_match_the_oracle(
    m: Manager,
    clock: ManualClock,
    tz: str,
    anchor: date,
    start_after: int,
    first: int,
    second: int,
    q1: int,
    q2: int,
    product: str,
) -> None:
    o = Org(m, clock, tz)
    o.start(PRO, anchor, time(0, 5))
    started = anchor + timedelta(days=start_after)
    o.system(product, {"core": 1})
    o.start(product, started, time(23, 55))
    credit = Fraction(0)
    lots: list[ModelLot] = []  # the wallet model, in lot id order
    credited_on: list[date] = []
    d = started
    for gap, q in ((first, q1), (second, q2)):
        d = d + timedelta(days=gap)
        o.on(d, time(0, 0) if gap % 2 else time(23, 59))
        o.redeem(product, {"core": q})
        lots.append(ModelLot(q, d, add_years(d, 5)))
        take(lots, q, d)
        a = m.allocate(o.org, product, {"core": q}, actor="alice")
        credit += compensation(anchor, TERM[product], started, d, q)
        whole = int(credit)
        credit -= whole
        assert dict(a.compensation) == ({"core": whole} if whole else {}), d
        assert a.credit == ({"core": credit} if credit else {})
        assert all(isinstance(v, Fraction) for v in a.credit.values())
        assert m.wallet(o.org, product).credit == a.credit
        if whole:
            lots.append(ModelLot(whole, d, add_years(d, 5)))
            credited_on.append(d)
    w = m.wallet(o.org, product)
    assert [(lot.quantity, lot.acquired_on, lot.expires_on) for lot in w.lots] == [
        lot.row() for lot in sorted(lots, key=ModelLot.key) if lot.quantity
    ]
    credited = m.history(o.org, actions=["compensation_credited"])
    assert [(c.on, c.actor, c.product) for c in credited] == [
        (on, "system", product) for on in credited_on
    ]


def test_r8_worked_example_1_new_product_mid_period(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    o.start(PRO, date(2026, 1, 1))
    o.system(B, {"core": 10})
    o.start(B, date(2026, 7, 2))
    o.on(date(2026, 7, 10))
    o.redeem(B, {"core": 10})
    a = m.allocate(o.org, B, {"core": 10}, actor="alice")
    assert Fraction(10 * 182, 365) == 4 + Fraction(72, 73)
    assert dict(a.compensation) == {"core": 4}
    assert a.credit == {"core": Fraction(72, 73)}
    assert [(lot.quantity, lot.acquired_on, lot.expires_on) for lot in m.wallet(o.org, B).lots] == [
        (4, date(2026, 7, 10), date(2031, 7, 10))
    ]
    # The period dates never move.
    s = m.status(o.org, B)
    assert (per(s.period).start, per(s.period).end) == (date(2026, 1, 1), date(2027, 1, 1))
    (credited,) = m.history(o.org, actions=["compensation_credited"])
    assert (credited.on, credited.actor) == (date(2026, 7, 10), "system")
    # Then the second example on the same product and type, with the earlier credit 72/73:
    # 72/73 + 120/73 = 2 + 46/73.
    o.on(date(2027, 3, 2))
    o.redeem(B, {"core": 10})
    a = m.allocate(o.org, B, {"core": 10}, actor="alice")
    assert dict(a.compensation) == {"core": 2}
    assert a.credit == {"core": Fraction(46, 73)}


def test_r8_worked_example_2_after_the_grace(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    o.system(PRO, {"core": 10})
    o.start(PRO, date(2026, 1, 1))
    s = m.status(o.org, PRO, at=o.at(date(2027, 1, 1)))
    assert (s.state, s.window_ends_on) == (ProductState.GRACE, date(2027, 1, 31))
    o.on(date(2027, 3, 2))
    o.redeem(PRO, {"core": 10})
    a = m.allocate(o.org, PRO, {"core": 10}, actor="alice")
    assert dict(a.compensation) == {"core": 1}
    assert a.credit == {"core": Fraction(47, 73)}
    assert m.wallet(o.org, PRO).credit == {"core": Fraction(47, 73)}


def test_r8_no_compensation_for_future_periods_and_no_activity_without_a_whole_license(
    m: Manager, clock: ManualClock
) -> None:
    o = Org(m, clock)
    o.start(PRO, date(2026, 1, 1))
    o.system(B, {"core": 1})
    o.start(B, date(2026, 1, 2))  # overlap 1 day of 365
    o.redeem(B, {"core": 12})
    a = m.allocate(o.org, B, {"core": 2}, period=1, actor="alice")
    assert (dict(a.compensation), a.credit) == ({}, {})
    a = m.allocate(o.org, B, {"core": 10}, actor="alice")
    assert (dict(a.compensation), a.credit) == ({}, {"core": Fraction(2, 73)})
    assert m.history(o.org, actions=["compensation_credited"]) == []


# --------------------------------------------------------------------------- R9 hardware
def test_r9_hardware_covers_its_own_system_first(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    serial = f"SER-{o.n}"
    m.vendor.ship_hardware(serial, PRO, preloaded={"universal": 3})
    sid = o.system(PRO, {"core": 2, "universal": 2, "door": 1})
    m.register_hardware(o.org, sid, serial, actor="alice")
    s = m.system_status(o.org, sid)
    assert dict(s.hardware_capacity) == {"universal": 3}
    assert dict(s.hardware_covered) == {"universal": 2, "core": 1}
    assert dict(s.subscription_devices) == {"core": 1, "door": 1}
    assert not s.licensed
    # An extension key adds hardware lots, kept apart from subscription lots, with 5-year expiry.
    o.on(date(2028, 2, 29))
    o.redeem(PRO, {"core": 1, "door": 1}, kind=LicenseKind.HARDWARE)
    w = m.wallet(o.org, PRO)
    assert dict(w.balance()) == {}
    assert dict(w.balance(kind=LicenseKind.HARDWARE)) == {"core": 1, "door": 1}
    assert {lot.expires_on for lot in w.lots} == {date(2033, 2, 28)}
    m.allocate_to_hardware(o.org, serial, {"core": 1, "door": 1}, actor="alice")
    s = m.system_status(o.org, sid)
    assert dict(s.subscription_devices) == {}
    assert s.licensed
    assert dict(m.wallet(o.org, PRO).balance(kind=LicenseKind.HARDWARE)) == {}
    # The product has no subscription devices left: started, it needs nothing.
    o.start(PRO, date(2028, 3, 1))
    assert dict(m.status(o.org, PRO).devices) == {}
    assert dict(m.need(o.org, PRO, horizon=0).periods[0].need) == {}


def test_r9_hardware_errors(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    other = Org(m, clock)
    serial = f"SER-{o.n}"
    m.vendor.ship_hardware(serial, B, preloaded={"core": 1})
    sid = o.system(PRO, {"core": 1})
    with pytest.raises(InvalidInput):
        m.register_hardware(o.org, sid, serial, actor="alice")
    with pytest.raises(UnknownHardware):
        m.register_hardware(o.org, sid, f"NEVER-{o.n}", actor="alice")
    sid_b = o.system(B, {"core": 1})
    sid_b2 = o.system(B, {"core": 1})
    m.register_hardware(o.org, sid_b, serial, actor="alice")
    with pytest.raises(AlreadyRegistered):
        m.register_hardware(o.org, sid_b2, serial, actor="alice")
    other_sid = other.system(B, {"core": 1})
    with pytest.raises(AlreadyRegistered) as err:
        m.register_hardware(other.org, other_sid, serial, actor="alice")
    assert o.org not in str(err.value)


# --------------------------------------------------------------------------- R10 keys
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def test_r10_key_shape_typos_normalisation_and_outcomes(
    m: Manager, clock: ManualClock, backend_url: str
) -> None:
    o = Org(m, clock)
    other = Org(m, clock)
    key = m.vendor.issue_key(PRO, quantities={"core": 1})
    assert len(key) <= 40
    groups = key.split("-")
    assert len(groups) >= 2
    assert all(groups)
    symbols = "".join(groups)
    assert set(symbols) <= set(CROCKFORD)
    assert len(symbols) * 5 >= 100
    # Every single-symbol substitution and every neighbour transposition is a typo.
    for i, ch in enumerate(symbols):
        for sub in CROCKFORD:
            if sub != ch:
                with pytest.raises(KeyTypo):
                    m.redeem_key(o.org, symbols[:i] + sub + symbols[i + 1 :], actor="alice")
    for i in range(len(symbols) - 1):
        if symbols[i] != symbols[i + 1]:
            swapped = symbols[:i] + symbols[i + 1] + symbols[i] + symbols[i + 2 :]
            with pytest.raises(KeyTypo):
                m.redeem_key(o.org, swapped, actor="alice")
    # Normalised input: lower case, spaces instead of dashes, O for 0 and I/L for 1.
    typed = " ".join(groups).lower().replace("0", "o").replace("1", "l")
    r = m.redeem_key(o.org, "  " + typed + " ", actor="alice")
    assert r.key_tail == symbols[-4:]
    with pytest.raises(KeyAlreadyRedeemed) as err:
        m.redeem_key(other.org, key, actor="alice")
    assert o.org not in str(err.value)
    # A well-formed key issued by another store was never issued here.
    with Manager.open("memory://", catalog=CATALOG, clock=clock) as elsewhere:
        foreign = elsewhere.vendor.issue_key(PRO, quantities={"core": 1})
    with pytest.raises(UnknownKey) as unknown:
        m.redeem_key(o.org, foreign, actor="alice")
    assert "".join(foreign.split("-"))[-5:] not in str(unknown.value)
    # History and messages show at most the last 4 symbols.
    (redeemed,) = m.history(o.org, actions=["key_redeemed"])
    assert symbols[-5:] not in repr(redeemed.details)
    assert symbols[-4:] in repr(redeemed.details)
    assert symbols[-5:] not in str(err.value)
    assert dict(m.wallet(other.org, PRO).balance()) == {}


# --------------------------------------------------------------------------- second pass
TYPES = ("core", "universal", "door")  # PRO's catalog order; universal covers core


def covers_pro(cap: dict[str, Fraction], dev: dict[str, int]) -> bool:
    """The exact covers test of PRO's relation (universal covers core; not transitive)."""
    c, u, d = (cap.get(t, Fraction(0)) for t in TYPES)
    dc, du, dd = (dev.get(t, 0) for t in TYPES)
    return dd <= d and du <= u and dc + du <= c + u


def uncovered_pro(alloc: dict[str, int], dev: dict[str, int]) -> dict[str, int]:
    """U_t after assigning plain licenses, hardest device types first (universal, door, core)."""
    ac, au, ad = (alloc.get(t, 0) for t in TYPES)
    dc, du, dd = (dev.get(t, 0) for t in TYPES)
    spare_u = max(0, au - du)
    out = {"universal": max(0, du - au), "door": max(0, dd - ad), "core": max(0, dc - ac - spare_u)}
    return {t: n for t, n in out.items() if n}


def smallest_extra_pro(
    alloc: dict[str, int], dev: dict[str, int], rate: Fraction = Fraction(1)
) -> dict[str, int]:
    """R5 locked shortfall by brute force: fewest extra licenses of needed types with
    (1 + rate) × (allocated + extra) covering the devices; ties: most core, then universal,
    then door."""
    needed = uncovered_pro(alloc, dev)
    if not needed:
        return {}
    # Devices are at most 12 per type, so no type ever needs more than 13 extra.
    ranges = [range(0, 14) if t in needed else range(0, 1) for t in TYPES]
    best: tuple[int, int, int, int] | None = None
    for xc in ranges[0]:
        for xu in ranges[1]:
            for xd in ranges[2]:
                extra = {"core": xc, "universal": xu, "door": xd}
                cap = {t: (1 + rate) * (alloc.get(t, 0) + extra[t]) for t in TYPES}
                if covers_pro(cap, dev):
                    rank = (xc + xu + xd, -xc, -xu, -xd)
                    if best is None or rank < best:
                        best = rank
    assert best is not None
    got = {"core": -best[1], "universal": -best[2], "door": -best[3]}
    return {t: n for t, n in got.items() if n}


counts = st.fixed_dictionaries({t: st.integers(0, 12) for t in TYPES})


@SHARED
@given(alloc=counts, grown=counts)
@example({"core": 3, "universal": 8, "door": 0}, {"core": 17, "universal": 19, "door": 0})
@example({"core": 0, "universal": 5, "door": 1}, {"core": 9, "universal": 2, "door": 3})
@example({"core": 4, "universal": 1, "door": 0}, {"core": 0, "universal": 3, "door": 0})
def test_r5_locked_multi_type_growth_matches_the_brute_force_oracle(
    m: Manager, clock: ManualClock, alloc: dict[str, int], grown: dict[str, int]
) -> None:
    alloc = {t: n for t, n in alloc.items() if n}
    if not alloc:
        alloc = {"core": 1}
    devices = {t: n for t, n in grown.items() if n}
    o = Org(m, clock)
    sid = o.system(PRO, alloc)
    o.start(PRO, date(2026, 1, 1))
    o.redeem(PRO, alloc)
    m.allocate(o.org, PRO, alloc, actor="alice")
    assert m.status(o.org, PRO).locked
    o.on(date(2026, 6, 1))
    m.report_devices(o.org, sid, devices=devices, actor="alice")
    s = m.status(o.org, PRO)
    cap = {t: 2 * Fraction(n) for t, n in alloc.items()}
    exceeded = not covers_pro(cap, devices)
    assert (s.state, s.growth_exceeded) == (ProductState.LICENSED, exceeded)
    assert dict(s.required_now) == smallest_extra_pro(alloc, devices)
    # The unlocked next period's shortfall is the plain uncovered count of its (zero) allocation.
    need = m.need(o.org, PRO, horizon=1)
    assert dict(need.periods[1].shortfall) == devices
    assert dict(need.to_buy) == {
        t: n for t in TYPES if (n := dict(s.required_now).get(t, 0) + devices.get(t, 0)) > 0
    }


@SHARED
@given(alloc=counts, devices=counts)
def test_r5_unlocked_shortfall_is_the_uncovered_count(
    m: Manager, clock: ManualClock, alloc: dict[str, int], devices: dict[str, int]
) -> None:
    alloc = {t: n for t, n in alloc.items() if n}
    devices = {t: n for t, n in devices.items() if n}
    o = Org(m, clock)
    o.system(PRO, devices)
    o.start(PRO, date(2026, 1, 1))
    if alloc:
        o.redeem(PRO, alloc)
        m.allocate(o.org, PRO, alloc, actor="alice")
    cap = {t: Fraction(n) for t, n in alloc.items()}
    locks = bool(alloc) and covers_pro(cap, devices)
    s = m.status(o.org, PRO)
    assert s.locked is locks
    if not locks:
        assert s.state == ProductState.TRIAL
        assert dict(s.required_now) == uncovered_pro(alloc, devices)
        assert dict(m.need(o.org, PRO, horizon=0).periods[0].shortfall) == uncovered_pro(
            alloc, devices
        )
        after = m.status(o.org, PRO, at=o.at(date(2026, 1, 31), time(0, 0)))
        assert after.state == (ProductState.UNLICENSED if devices else ProductState.LICENSED)


def test_r3_trial_and_grace_days_of_the_product_spec(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    o.system(DAYS, {"core": 2})
    o.start(PRO, date(2026, 1, 1))
    o.start(DAYS, date(2026, 3, 1))
    s = m.status(o.org, DAYS, at=o.at(date(2026, 3, 14), time(23, 59)))
    assert (s.state, s.window_ends_on) == (ProductState.TRIAL, date(2026, 3, 15))
    assert o.state(DAYS, date(2026, 3, 15), time(0, 0)) == ProductState.UNLICENSED
    s = m.status(o.org, DAYS, at=o.at(date(2027, 1, 7), time(23, 59)))
    assert (s.state, s.window_ends_on) == (ProductState.GRACE, date(2027, 1, 8))
    assert o.state(DAYS, date(2027, 1, 8), time(0, 0)) == ProductState.UNLICENSED
    # R8 uses the same window: on 14 March coverage starts at w (59 days of 365) ...
    o.on(date(2026, 3, 14))
    o.redeem(DAYS, {"core": 20})
    a = m.allocate(o.org, DAYS, {"core": 10}, actor="alice")
    assert (dict(a.compensation), a.credit) == ({"core": 1}, {"core": Fraction(45, 73)})
    # ... on 20 March, after the trial, at d (78 days): 45/73 + 156/73 = 2 + 55/73.
    o.on(date(2026, 3, 20))
    a = m.allocate(o.org, DAYS, {"core": 10}, actor="alice")
    assert (dict(a.compensation), a.credit) == ({"core": 2}, {"core": Fraction(55, 73)})


def test_r8_five_year_term_per_type_credits_and_allocate_need(
    m: Manager, clock: ManualClock
) -> None:
    """A 5-year period [2024-02-29, 2029-02-28) has 1826 days; credits are per type."""
    o = Org(m, clock)
    o.start(PRO, date(2024, 2, 29))
    # Two types in one allocation: each type has its own credit.
    o.system(B, {"core": 1})
    o.start(B, date(2024, 8, 29))  # 182 days into [2024-02-29, 2025-02-28), 365 days long
    o.redeem(B, {"core": 3, "universal": 5})
    a = m.allocate(o.org, B, {"core": 3, "universal": 5}, actor="alice")
    # core 3 × 182/365 = 546/365 = 1 + 181/365; universal 5 × 182/365 = 182/73 = 2 + 36/73
    assert dict(a.compensation) == {"core": 1, "universal": 2}
    assert a.credit == {"core": Fraction(181, 365), "universal": Fraction(36, 73)}
    o.system(FIVE, {"core": 7})
    o.start(FIVE, date(2025, 3, 1))  # 366 days after the anchor
    o.redeem(FIVE, {"core": 7})
    a = m.allocate_need(o.org, FIVE, actor="alice")
    # 7 × 366 / 1826 = 2562/1826 = 1 + 368/913
    assert [(p.period.index, p.period.start, p.period.end) for p in a.periods] == [
        (0, date(2024, 2, 29), date(2029, 2, 28))
    ]
    assert (dict(a.compensation), a.credit) == ({"core": 1}, {"core": Fraction(368, 913)})
    assert m.wallet(o.org, B).credit == {"core": Fraction(181, 365), "universal": Fraction(36, 73)}


def test_r6_a_lot_cannot_be_allocated_on_its_expiry_day(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    o.system(PRO, {"core": 1})
    o.on(date(2024, 2, 29))
    o.redeem(PRO, {"core": 5})
    o.start(PRO, date(2029, 2, 27))
    o.on(date(2029, 2, 27), time(23, 59))
    m.allocate(o.org, PRO, {"core": 2}, actor="alice")  # the last usable day
    o.on(date(2029, 2, 28), time(0, 0))
    with pytest.raises(InsufficientLicenses) as err:
        m.allocate(o.org, PRO, {"core": 1}, actor="alice")
    assert dict(err.value.shortfall) == {"core": 1}
    o.redeem(PRO, {"door": 1})
    (expired,) = m.history(o.org, actions=["licenses_expired"])
    assert (expired.on, expired.actor) == (date(2029, 2, 28), "system")
    assert 3 in expired.details.values() or any(
        v == {"core": 3} or v == 3 for v in expired.details.values()
    ), expired.details


@pytest.mark.parametrize("t", [time(0, 0), time(23, 59)])
def test_r7_window_edge_uses_the_local_date_of_the_command(
    m: Manager, clock: ManualClock, t: time
) -> None:
    """Auckland (UTC+13 in January): the command's local date decides the five years."""
    o = Org(m, clock, "Pacific/Auckland")
    o.start(PRO, date(2026, 1, 1), time(0, 0))
    o.redeem(PRO, {"core": 2})
    o.on(date(2026, 12, 31), t)  # period 0; period 5 starts 2031-01-01 > 2031-12-31? no: allowed
    m.allocate(o.org, PRO, {"core": 1}, period=5, actor="alice")
    with pytest.raises(OutsideAllocationWindow):
        m.allocate(o.org, PRO, {"core": 1}, period=6, actor="alice")  # 2032-01-01 > 2031-12-31
    # In UTC this is still 31 December (or 30): the next local day opens period 6.
    o.on(date(2027, 1, 1), time(0, 0))
    a = m.allocate(o.org, PRO, {"core": 1}, period=5, actor="alice")
    assert [p.period.index for p in a.periods] == [6]


def test_r5_growth_exceeded_is_recorded_once_per_period(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    sid = o.system(PRO, {"core": 2})
    o.start(PRO, date(2026, 1, 1))
    o.redeem(PRO, {"core": 4})
    m.allocate(o.org, PRO, {"core": 2}, period=0, actor="alice")
    m.allocate(o.org, PRO, {"core": 2}, period=1, actor="alice")
    o.on(date(2026, 5, 1))
    m.report_devices(o.org, sid, devices={"core": 5}, actor="alice")
    o.on(date(2026, 6, 1))
    m.report_devices(o.org, sid, devices={"core": 6}, actor="alice")
    assert [a.on for a in m.history(o.org, actions=["growth_exceeded"])] == [date(2026, 5, 1)]
    # Period 1 does not lock at its start: 2 licenses do not cover 6 devices.
    s = m.status(o.org, PRO, at=o.at(date(2027, 1, 1)))
    assert (s.state, s.locked, dict(s.required_now)) == (ProductState.GRACE, False, {"core": 4})
    # Fewer devices lock it (covered, at least one license); more growth is then recorded again.
    o.on(date(2027, 1, 10))
    m.report_devices(o.org, sid, devices={"core": 2}, actor="alice")
    assert m.status(o.org, PRO).locked
    o.on(date(2027, 2, 10))
    m.report_devices(o.org, sid, devices={"core": 4}, actor="alice")
    assert not m.status(o.org, PRO).growth_exceeded
    m.report_devices(o.org, sid, devices={"core": 5}, actor="alice")
    assert [a.on for a in m.history(o.org, actions=["growth_exceeded"])] == [
        date(2026, 5, 1),
        date(2027, 2, 10),
    ]


# --------------------------------------------------------------------------- third pass
small = st.fixed_dictionaries({t: st.integers(0, 6) for t in TYPES})


def nonzero(c: dict[str, int]) -> dict[str, int]:
    return {t: n for t, n in c.items() if n}


@SHARED
@given(
    d0=small,
    d1=small,
    pre=st.lists(small, min_size=3, max_size=3),
    through=st.integers(0, 2),
)
@example(
    {"core": 2, "universal": 0, "door": 0},
    {"core": 6, "universal": 1, "door": 0},
    [{"core": 2, "universal": 0, "door": 0}, {"core": 0, "universal": 0, "door": 0}] * 1
    + [{"core": 1, "universal": 1, "door": 0}],
    2,
)
def test_r7_allocate_need_is_the_exact_shortfall_with_compensation(
    m: Manager,
    clock: ManualClock,
    d0: dict[str, int],
    d1: dict[str, int],
    pre: list[dict[str, int]],
    through: int,
) -> None:
    """allocate_need on 2026-03-01 (after the trial, 59 of 365 days in) over periods 0..n."""
    d0, d1 = nonzero(d0), nonzero(d1)
    pre = [nonzero(p) for p in pre]
    o = Org(m, clock)
    sid = o.system(PRO, d0)
    o.start(PRO, date(2026, 1, 1))
    o.redeem(PRO, {t: 100 for t in TYPES})
    for k, q in enumerate(pre):
        if q:
            a = m.allocate(o.org, PRO, q, period=k, actor="alice")
            assert (dict(a.compensation), a.credit) == ({}, {})  # overlap 0 in the trial at w
    o.on(date(2026, 3, 1))
    m.report_devices(o.org, sid, devices=d1, actor="alice")
    one = {t: Fraction(n) for t, n in pre[0].items()}
    locked = bool(pre[0]) and (covers_pro(one, d0) or covers_pro(one, d1))
    assert m.status(o.org, PRO).locked is locked
    want = [smallest_extra_pro(pre[0], d1) if locked else uncovered_pro(pre[0], d1)]
    want += [uncovered_pro(pre[k], d1) for k in (1, 2)]
    report = m.need(o.org, PRO, horizon=2)
    assert [dict(p.shortfall) for p in report.periods] == want
    balance = {t: 100 - sum(p.get(t, 0) for p in pre) for t in TYPES}
    assert dict(report.wallet) == nonzero(balance)
    assert dict(report.to_buy) == {}
    a = m.allocate_need(o.org, PRO, through=through, actor="alice")
    assert [(p.period.index, dict(p.quantities)) for p in a.periods] == [
        (k, want[k]) for k in range(through + 1) if want[k]
    ]
    credit = {t: Fraction(n * 59, 365) for t, n in want[0].items()}
    assert dict(a.compensation) == nonzero({t: int(c) for t, c in credit.items()})
    assert a.credit == {t: c - int(c) for t, c in credit.items() if c - int(c)}
    left = {
        t: balance[t] - sum(w.get(t, 0) for w in want[: through + 1]) + int(credit.get(t, 0))
        for t in TYPES
    }
    assert dict(m.wallet(o.org, PRO).balance()) == nonzero(left)
    assert [dict(p.shortfall) for p in m.need(o.org, PRO, horizon=through).periods] == [
        {} for _ in range(through + 1)
    ]


def test_r7_need_to_buy_is_the_total_shortfall_less_the_wallet(
    m: Manager, clock: ManualClock
) -> None:
    o = Org(m, clock)
    o.system(PRO, {"core": 4, "door": 1})
    o.start(PRO, date(2026, 1, 1))
    o.redeem(PRO, {"core": 9, "universal": 3})
    report = m.need(o.org, PRO, horizon=2)
    assert [dict(p.need) for p in report.periods] == [{"core": 4, "door": 1}] * 3
    assert dict(report.wallet) == {"core": 9, "universal": 3}
    assert dict(report.to_buy) == {"core": 3, "door": 3}


def test_r6_used_lots_do_not_expire_and_past_queries_see_the_past(
    m: Manager, clock: ManualClock
) -> None:
    o = Org(m, clock)
    o.system(PRO, {"core": 3})
    o.start(PRO, date(2026, 1, 1))
    o.on(date(2026, 2, 1))
    o.redeem(PRO, {"core": 3})
    o.on(date(2026, 3, 1))
    o.redeem(PRO, {"door": 2})
    o.on(date(2026, 4, 1))
    a = m.allocate(o.org, PRO, {"core": 3}, actor="alice")
    # 3 × 90/365 = 54/73: no whole license, no activity.
    assert (dict(a.compensation), a.credit) == ({}, {"core": Fraction(54, 73)})
    assert m.history(o.org, actions=["compensation_credited"]) == []
    before = m.wallet(o.org, PRO, at=o.at(date(2026, 3, 31)))
    assert (dict(before.balance()), before.credit) == ({"core": 3, "door": 2}, {})
    # 2031-02-01: the used core lot leaves nothing to expire; the door lot expires 2031-03-01.
    o.on(date(2031, 3, 2))
    o.redeem(PRO, {"core": 1})
    expired = m.history(o.org, actions=["licenses_expired"])
    assert [(a.on, a.actor) for a in expired] == [(date(2031, 3, 1), "system")]
    assert dict(m.wallet(o.org, PRO).balance()) == {"core": 1}
    assert m.wallet(o.org, PRO).credit == {"core": Fraction(54, 73)}


def test_r9_hardware_covers_only_its_own_system_and_outlives_the_lot_limit(
    m: Manager, clock: ManualClock
) -> None:
    o = Org(m, clock)
    s1 = o.system(PRO, {"core": 3, "door": 1})
    s2 = o.system(PRO, {"core": 2})
    o.on(date(2026, 1, 1))
    for i, preloaded in enumerate(({"core": 1}, {"universal": 1, "door": 1})):
        serial = f"HW-{o.n}-{i}"
        m.vendor.ship_hardware(serial, PRO, preloaded=preloaded)
        m.register_hardware(o.org, s1, serial, actor="alice")
    st1 = m.system_status(o.org, s1)
    assert dict(st1.hardware_capacity) == {"core": 1, "universal": 1, "door": 1}
    assert dict(st1.hardware_covered) == {"core": 2, "door": 1}
    assert dict(st1.subscription_devices) == {"core": 1}
    assert dict(m.system_status(o.org, s2).subscription_devices) == {"core": 2}
    o.start(PRO, date(2026, 1, 1))
    assert dict(m.status(o.org, PRO).devices) == {"core": 3}
    # An extension onto the first unit, then the system grows: the unit keeps it for life.
    o.redeem(PRO, {"core": 1}, kind=LicenseKind.HARDWARE)
    m.allocate_to_hardware(o.org, f"HW-{o.n}-0", {"core": 1}, actor="alice")
    assert dict(m.status(o.org, PRO).devices) == {"core": 2}
    later = m.system_status(o.org, s1, at=o.at(date(2033, 1, 1)))
    assert dict(later.hardware_capacity) == {"core": 2, "universal": 1, "door": 1}
    assert later.licensed
    # report_devices replaces the whole mapping: door left out becomes 0.
    m.report_devices(o.org, s1, devices={"core": 1}, actor="alice")
    st1 = m.system_status(o.org, s1)
    assert (dict(st1.devices), dict(st1.subscription_devices)) == ({"core": 1}, {})
    assert dict(m.status(o.org, PRO).devices) == {"core": 2}


def test_r9_an_expired_extension_lot_cannot_go_onto_hardware(
    m: Manager, clock: ManualClock
) -> None:
    o = Org(m, clock)
    sid = o.system(PRO, {"core": 2})
    serial = f"HW-{o.n}"
    m.vendor.ship_hardware(serial, PRO, preloaded={"core": 1})
    m.register_hardware(o.org, sid, serial, actor="alice")
    o.on(date(2026, 5, 31))
    o.redeem(PRO, {"core": 1}, kind=LicenseKind.HARDWARE)
    o.on(date(2031, 5, 31), time(0, 0))
    with pytest.raises(InsufficientLicenses):
        m.allocate_to_hardware(o.org, serial, {"core": 1}, actor="alice")
    assert dict(m.system_status(o.org, sid).hardware_capacity) == {"core": 1}


# --------------------------------------------------------------------------- a ledger model
class Ledger:
    """A plain model of one organization with PRO (core only) started at the anchor.

    R2 periods, R3 windows, R5 locking, growth and licensed_through, R6 lots, R7 the
    window and all-or-nothing allocation, R8 compensation; written from the SPEC alone.
    """

    def __init__(self, anchor: date) -> None:
        self.anchor = anchor
        self.today = anchor
        self.devices = 0
        self.lots: list[ModelLot] = []  # in lot id order
        self.alloc: dict[int, int] = {}
        self.locked: set[int] = set()
        self.credit = Fraction(0)
        self.credited: list[tuple[date, int]] = []
        self.grown: list[date] = []
        self.grown_in: set[int] = set()

    def period(self, d: date | None = None) -> tuple[int, date, date]:
        return period_of(self.anchor, 1, self.today if d is None else d)

    def balance(self) -> int:
        return sum(lot.quantity for lot in self.lots if self.today < lot.expires_on)

    def try_lock(self) -> None:
        k = self.period()[0]
        if k not in self.locked and self.alloc.get(k, 0) >= 1 and self.alloc[k] >= self.devices:
            self.locked.add(k)

    def advance(self, days: int) -> None:
        for _ in range(days):  # each period start passed may lock that period
            before = self.period()[0]
            self.today += timedelta(days=1)
            if self.period()[0] != before:
                self.try_lock()

    def report(self, n: int) -> None:
        self.devices = n
        self.try_lock()
        k = self.period()[0]
        if k in self.locked and n > 2 * self.alloc[k] and k not in self.grown_in:
            self.grown_in.add(k)
            self.grown.append(self.today)

    def redeem(self, q: int) -> None:
        self.lots.append(ModelLot(q, self.today, add_years(self.today, 5)))

    def allocate(self, q: int, offset: int) -> str | None:
        k, ps, pe = self.period()
        if add_years(self.anchor, k + offset) > add_years(self.today, 5):
            return "window"
        if self.balance() < q:
            return "insufficient"
        take(self.lots, q, self.today)
        self.alloc[k + offset] = self.alloc.get(k + offset, 0) + q
        if offset == 0:
            e = ps + timedelta(days=WINDOW_DAYS)
            c = ps if self.today < e else self.today
            self.credit += Fraction(q * (c - ps).days, (pe - ps).days)
            whole = int(self.credit)
            if whole:
                self.credit -= whole
                self.lots.append(ModelLot(whole, self.today, add_years(self.today, 5)))
                self.credited.append((self.today, whole))
        self.try_lock()
        return None

    def state(self) -> tuple[ProductState, bool, int, date | None]:
        """(state, growth_exceeded, required_now, licensed_through)."""
        k, ps, _ = self.period()
        a = self.alloc.get(k, 0)
        if k in self.locked:
            exceeded = self.devices > 2 * a
            required = max(0, ceil(Fraction(self.devices, 2)) - a)
            state = ProductState.LICENSED
        else:
            exceeded, required = False, max(0, self.devices - a)
            if self.today < ps + timedelta(days=WINDOW_DAYS):
                state = ProductState.TRIAL if k == 0 else ProductState.GRACE
            elif a >= self.devices:
                state = ProductState.LICENSED
            else:
                state = ProductState.UNLICENSED
        through = None
        if state == ProductState.LICENSED:
            j = k + 1
            while self.alloc.get(j, 0) >= 1 and self.alloc[j] >= self.devices:
                j += 1
            through = add_years(self.anchor, j)
        return state, exceeded, required, through


steps = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.integers(1, 200), st.just(0)),
        st.tuples(st.just("advance"), st.integers(300, 700), st.just(0)),
        st.tuples(st.just("redeem"), st.integers(1, 12), st.just(0)),
        st.tuples(st.just("report"), st.integers(0, 12), st.just(0)),
        st.tuples(st.just("allocate"), st.integers(1, 8), st.integers(0, 6)),
    ),
    min_size=1,
    max_size=25,
)


@SHARED
@given(anchor=anchors, tz=st.sampled_from(ZONES), hour=st.sampled_from([0, 12, 23]), todo=steps)
@example(
    date(2026, 1, 1),
    "UTC",
    12,
    [
        ("redeem", 10, 0),
        ("report", 4, 0),
        ("allocate", 4, 1),
        ("advance", 365, 0),
        ("report", 9, 0),
    ],
)
@example(  # allocations on the trial's last day (30) and the first day after it (31)
    date(2026, 1, 1),
    "Pacific/Auckland",
    0,
    [
        ("redeem", 12, 0),
        ("advance", 29, 0),
        ("allocate", 5, 0),
        ("advance", 1, 0),
        ("allocate", 5, 0),
    ],
)
@example(  # the same around the grace of period 1 of a 29 February anchor
    date(2024, 2, 29),
    "America/Los_Angeles",
    23,
    [
        ("advance", 394, 0),
        ("redeem", 12, 0),
        ("allocate", 6, 0),
        ("advance", 1, 0),
        ("allocate", 6, 0),
    ],
)
def test_r2_to_r8_command_sequences_match_the_ledger_model(
    m: Manager,
    clock: ManualClock,
    anchor: date,
    tz: str,
    hour: int,
    todo: list[tuple[str, int, int]],
) -> None:
    o = Org(m, clock, tz)
    sid = o.system(PRO, {})
    o.start(PRO, anchor, time(hour))
    model = Ledger(anchor)
    seen: dict[datetime, tuple[object, ...]] = {}  # the last answer at each instant
    for step in todo:
        kind, n, offset = step
        if kind == "advance":
            model.advance(n)
            o.on(model.today, time(hour))
        elif kind == "redeem":
            o.redeem(PRO, {"core": n})
            model.redeem(n)
        elif kind == "report":
            m.report_devices(o.org, sid, devices={"core": n} if n else {}, actor="alice")
            model.report(n)
        else:
            q = n
            expected = model.allocate(q, offset)
            if expected == "window":
                with pytest.raises(OutsideAllocationWindow):
                    m.allocate(o.org, PRO, {"core": q}, period=offset, actor="alice")
            elif expected == "insufficient":
                with pytest.raises(InsufficientLicenses):
                    m.allocate(o.org, PRO, {"core": q}, period=offset, actor="alice")
            else:
                m.allocate(o.org, PRO, {"core": q}, period=offset, actor="alice")
        s = m.status(o.org, PRO)
        k, ps, pe = model.period()
        state, exceeded, required, through = model.state()
        assert (per(s.period).index, per(s.period).start, per(s.period).end) == (k, ps, pe), step
        assert (s.state, s.locked, s.growth_exceeded) == (state, k in model.locked, exceeded), step
        assert dict(s.required_now) == ({"core": required} if required else {}), step
        assert dict(s.allocated) == ({"core": model.alloc[k]} if model.alloc.get(k) else {})
        assert s.licensed_through == through, step
        w = m.wallet(o.org, PRO)
        assert dict(w.balance()) == ({"core": model.balance()} if model.balance() else {}), step
        assert w.credit == ({"core": model.credit} if model.credit else {}), step
        live = [lot for lot in model.lots if lot.quantity and model.today < lot.expires_on]
        assert [(lot.quantity, lot.acquired_on, lot.expires_on) for lot in w.lots] == [
            lot.row() for lot in sorted(live, key=ModelLot.key)
        ], step
        seen[clock.now()] = (s.state, s.period, s.locked, s.licensed_through, w.lots, w.credit)
    # Queries at each past instant answer from the facts recorded up to it (SPEC §1).
    for instant, answer in seen.items():
        s = m.status(o.org, PRO, at=instant)
        w = m.wallet(o.org, PRO, at=instant)
        assert (s.state, s.period, s.locked, s.licensed_through, w.lots, w.credit) == answer
    credited = m.history(o.org, actions=["compensation_credited"])
    assert [a.on for a in credited] == [on for on, _ in model.credited]
    # R11 with R6: oldest first, and every activity's date is its instant's local date.
    everything = m.history(o.org)
    assert [a.at for a in everything] == sorted(a.at for a in everything)
    assert [a.on for a in everything] == [a.at.astimezone(o.tz).date() for a in everything]
    assert [a.on for a in m.history(o.org, actions=["growth_exceeded"])] == model.grown


@SHARED
@given(alloc=counts, grown=counts)
@example({"core": 1, "universal": 1, "door": 0}, {"core": 3, "universal": 0, "door": 0})
@example({"core": 1, "universal": 1, "door": 0}, {"core": 2, "universal": 1, "door": 0})
@example({"core": 1, "universal": 3, "door": 0}, {"core": 1, "universal": 5, "door": 0})
def test_r5_fractional_capacity_with_the_covers_relation(
    m: Manager, clock: ManualClock, alloc: dict[str, int], grown: dict[str, int]
) -> None:
    """growth_rate 1/2: capacities are halves; the covers test is exact (SPEC R5)."""
    alloc = nonzero(alloc) or {"universal": 1}
    devices = nonzero(grown)
    o = Org(m, clock)
    sid = o.system(HALF3, alloc)
    o.start(HALF3, date(2026, 1, 1))
    o.redeem(HALF3, alloc)
    m.allocate(o.org, HALF3, alloc, actor="alice")
    assert m.status(o.org, HALF3).locked
    m.report_devices(o.org, sid, devices=devices, actor="alice")
    s = m.status(o.org, HALF3)
    cap = {t: Fraction(3, 2) * n for t, n in alloc.items()}
    assert s.growth_exceeded is (not covers_pro(cap, devices))
    assert dict(s.required_now) == smallest_extra_pro(alloc, devices, Fraction(1, 2))


def test_r9_system_licensed_by_hardware_alone_or_by_the_product(
    m: Manager, clock: ManualClock
) -> None:
    o = Org(m, clock)
    serial = f"HW-{o.n}"
    m.vendor.ship_hardware(serial, PRO, preloaded={"door": 2})
    full = o.system(PRO, {"door": 2})
    part = o.system(PRO, {"door": 1, "core": 2})
    m.register_hardware(o.org, full, serial, actor="alice")
    o.start(PRO, date(2026, 1, 1))
    assert m.system_status(o.org, full).licensed  # hardware alone
    trial = m.system_status(o.org, part)
    assert (trial.licensed, trial.product_state) == (False, ProductState.TRIAL)
    assert dict(trial.subscription_devices) == {"door": 1, "core": 2}
    o.redeem(PRO, {"door": 1, "core": 2})
    m.allocate(o.org, PRO, {"door": 1, "core": 2}, actor="alice")
    licensed = m.system_status(o.org, part)
    assert (licensed.licensed, licensed.product_state) == (True, ProductState.LICENSED)


def test_r3_a_trial_that_runs_past_its_period_end_gives_way_to_the_grace(
    m: Manager, clock: ManualClock
) -> None:
    o = Org(m, clock)
    o.start(PRO, date(2026, 1, 1))
    o.system(B, {"core": 1})
    o.start(B, date(2026, 12, 20))
    s = m.status(o.org, B, at=o.at(date(2026, 12, 31), time(23, 59)))
    assert (s.state, per(s.period).index, s.window_ends_on) == (
        ProductState.TRIAL,
        0,
        date(2027, 1, 19),
    )
    s = m.status(o.org, B, at=o.at(date(2027, 1, 1), time(0, 0)))
    assert (s.state, per(s.period).index, s.window_ends_on) == (
        ProductState.GRACE,
        1,
        date(2027, 1, 31),
    )
    assert o.state(B, date(2027, 1, 31), time(0, 0)) == ProductState.UNLICENSED


def test_r8_day_counts_are_local_dates_across_a_dst_change(m: Manager, clock: ManualClock) -> None:
    """Paris: the anchor's instant is still 31 December in UTC, the start is 28 March in UTC,
    and a 23-hour day lies between; the overlap is 87 local days of 365."""
    o = Org(m, clock, "Europe/Paris")
    clock.set(datetime(2025, 12, 31, 23, 5, tzinfo=UTC))
    m.start_subscription(o.org, PRO, actor="alice")
    o.system(B, {"core": 10})
    clock.set(datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
    m.start_subscription(o.org, B, actor="alice")
    assert {org.org_id: org.anchor for org in m.organizations()}[o.org] == date(2026, 1, 1)
    clock.set(datetime(2026, 4, 1, 22, 10, tzinfo=UTC))  # 2 April, 00:10 in Paris (CEST)
    o.redeem(B, {"core": 10})
    a = m.allocate(o.org, B, {"core": 10}, actor="alice")
    assert (dict(a.compensation), a.credit) == ({"core": 2}, {"core": Fraction(28, 73)})
    (lot,) = m.wallet(o.org, B).lots
    assert (lot.quantity, lot.acquired_on, lot.expires_on) == (
        2,
        date(2026, 4, 2),
        date(2031, 4, 2),
    )
    s = m.status(o.org, B)
    assert (s.started_on, s.window_ends_on) == (date(2026, 3, 29), date(2026, 4, 28))


def test_r6_lots_are_taken_only_of_the_right_kind_and_type(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    sid = o.system(PRO, {"core": 1})
    serial = f"HW-{o.n}"
    m.vendor.ship_hardware(serial, PRO, preloaded={})
    m.register_hardware(o.org, sid, serial, actor="alice")
    o.start(PRO, date(2026, 1, 1))
    o.redeem(PRO, {"core": 2}, kind=LicenseKind.HARDWARE)
    o.redeem(PRO, {"universal": 2})
    with pytest.raises(InsufficientLicenses) as err:
        m.allocate(o.org, PRO, {"core": 1}, actor="alice")  # neither a hardware nor a universal lot
    assert dict(err.value.shortfall) == {"core": 1}
    with pytest.raises(InsufficientLicenses) as err:
        m.allocate_to_hardware(o.org, serial, {"universal": 1}, actor="alice")
    assert dict(err.value.shortfall) == {"universal": 1}
    w = m.wallet(o.org, PRO)
    assert dict(w.balance()) == {"universal": 2}
    assert dict(w.balance(kind=LicenseKind.HARDWARE)) == {"core": 2}


def test_r5_hardware_that_lowers_the_devices_locks_and_a_new_system_exceeds_growth(
    m: Manager, clock: ManualClock
) -> None:
    o = Org(m, clock)
    sid = o.system(PRO, {"core": 3})
    o.start(PRO, date(2026, 1, 1))
    o.redeem(PRO, {"core": 2})
    m.allocate(o.org, PRO, {"core": 2}, actor="alice")
    assert not m.status(o.org, PRO).locked  # 2 licenses, 3 devices
    serial = f"HW-{o.n}"
    m.vendor.ship_hardware(serial, PRO, preloaded={"core": 1})
    o.on(date(2026, 2, 10))  # after the trial: unlicensed until the hardware comes
    assert m.status(o.org, PRO).state == ProductState.UNLICENSED
    m.register_hardware(o.org, sid, serial, actor="alice")
    s = m.status(o.org, PRO)
    assert (s.state, s.locked, dict(s.devices)) == (ProductState.LICENSED, True, {"core": 2})
    # A new system brings 3 more devices: 5 > 2 × 2.
    o.on(date(2026, 3, 10))
    o.system(PRO, {"core": 3})
    s = m.status(o.org, PRO)
    assert (s.state, s.growth_exceeded, dict(s.required_now)) == (
        ProductState.LICENSED,
        True,
        {"core": 1},
    )
    grown = m.history(o.org, actions=["growth_exceeded"])
    assert [(a.on, a.actor) for a in grown] == [(date(2026, 3, 10), "system")]


def test_r5_the_covers_relation_is_not_transitive(m: Manager, clock: ManualClock) -> None:
    o = Org(m, clock)
    sid = o.system(CHAIN, {"c": 1})
    o.start(CHAIN, date(2026, 1, 1))
    o.redeem(CHAIN, {"a": 2, "b": 1})
    m.allocate(o.org, CHAIN, {"a": 1}, actor="alice")
    s = m.status(o.org, CHAIN)
    assert (s.locked, dict(s.required_now)) == (False, {"c": 1})  # a does not cover c
    m.report_devices(o.org, sid, devices={"b": 1, "c": 1}, actor="alice")
    assert dict(m.status(o.org, CHAIN).required_now) == {"c": 1}
    m.allocate(o.org, CHAIN, {"b": 1}, actor="alice")  # a -> b, b -> c
    s = m.status(o.org, CHAIN)
    assert (s.locked, dict(s.required_now)) == (True, {})
    # Locked (growth 1): a 1 and b 1 give 2 places each.
    m.report_devices(o.org, sid, devices={"a": 2, "b": 2}, actor="alice")
    s = m.status(o.org, CHAIN)
    assert (s.growth_exceeded, dict(s.required_now)) == (False, {})
    m.report_devices(o.org, sid, devices={"a": 3, "b": 1}, actor="alice")
    s = m.status(o.org, CHAIN)
    assert (s.growth_exceeded, dict(s.required_now)) == (True, {"a": 1})
    # 3 c-devices: only b (2 places) and c cover them, never a; one more c is enough.
    m.report_devices(o.org, sid, devices={"c": 3}, actor="alice")
    s = m.status(o.org, CHAIN)
    assert (s.growth_exceeded, dict(s.required_now)) == (True, {"c": 1})


# --------------------------------------------------------------------------- a general R5 oracle
#: CHAIN's relation: which device types each license type covers (itself included).
CHAIN_COVERS = {"c": {"c"}, "b": {"b", "c"}, "a": {"a", "b"}}
CHAIN_TYPES = ("c", "b", "a")  # catalog order


def _subsets(types: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [
        tuple(t for i, t in enumerate(types) if mask >> i & 1) for mask in range(1 << len(types))
    ]


def _coverers(group: tuple[str, ...]) -> set[str]:
    """The license types that cover at least one device type of ``group``."""
    return {lic for lic, covered in CHAIN_COVERS.items() if covered & set(group)}


def chain_rank(cap: dict[str, Fraction], dev: dict[str, int], types: tuple[str, ...]) -> Fraction:
    """How many devices of ``types`` the capacities can cover at most (the matching's rank):
    min over S ⊆ types of devices(types - S) + capacity(N(S))."""
    return min(
        sum((Fraction(dev.get(t, 0)) for t in types if t not in group), Fraction(0))
        + sum((cap.get(lic, Fraction(0)) for lic in _coverers(group)), Fraction(0))
        for group in _subsets(types)
    )


def chain_covers(cap: dict[str, Fraction], dev: dict[str, int]) -> bool:
    return chain_rank(cap, dev, CHAIN_TYPES) >= sum(dev.values())


def chain_uncovered(
    alloc: dict[str, int], dev: dict[str, int], multiplier: Fraction = Fraction(1)
) -> dict[str, Fraction]:
    """U_t: cover the hardest device types first (fewest coverers: a; then c, b by catalog),
    each license counting ``multiplier`` times."""
    cap = {t: multiplier * n for t, n in alloc.items()}
    order = ("a", "c", "b")
    out: dict[str, Fraction] = {}
    before = Fraction(0)
    for i, t in enumerate(order):
        upto = chain_rank(cap, dev, order[: i + 1])
        out[t] = dev.get(t, 0) - (upto - before)
        before = upto
    return {t: n for t, n in out.items() if n}


def chain_smallest_extra(alloc: dict[str, int], dev: dict[str, int]) -> dict[str, int]:
    """Fewest extra licenses of needed types so that 2 × (allocated + extra) covers the devices;
    ties: most of the narrowest types (most coverers: c and b, catalog order; then a).

    The needed types are those left uncovered when each license counts twice: the reading
    the library takes of R5 ("in a locked period each license counts (1 + growth_rate)
    times", "types with no uncovered devices do not appear"); see the test of the ambiguity.
    """
    needed = chain_uncovered(alloc, dev, Fraction(2))
    if not needed:
        return {}
    best: tuple[int, int, int, int] | None = None
    ranges = [range(0, 14) if t in needed else range(0, 1) for t in CHAIN_TYPES]
    for xc in ranges[0]:
        for xb in ranges[1]:
            for xa in ranges[2]:
                extra = {"c": xc, "b": xb, "a": xa}
                cap = {t: 2 * Fraction(alloc.get(t, 0) + extra[t]) for t in CHAIN_TYPES}
                if chain_covers(cap, dev):
                    rank = (xc + xb + xa, -xc, -xb, -xa)
                    best = rank if best is None or rank < best else best
    assert best is not None
    return {t: n for t, n in zip(CHAIN_TYPES, (-best[1], -best[2], -best[3]), strict=True) if n}


def test_oracle_chain_by_hand() -> None:
    assert chain_uncovered({"a": 1}, {"c": 1}) == {"c": 1}
    assert chain_uncovered({"a": 1, "b": 1}, {"b": 1, "c": 1}) == {}
    # c and b both have 2 coverers; c comes first in catalog order and takes the b license.
    assert chain_uncovered({"b": 1}, {"b": 1, "c": 1}) == {"b": 1}
    assert chain_smallest_extra({"a": 1, "b": 1}, {"c": 3}) == {"c": 1}
    assert chain_smallest_extra({"a": 1, "b": 1}, {"a": 3, "b": 1}) == {"a": 1}


chain_counts = st.fixed_dictionaries({t: st.integers(0, 6) for t in CHAIN_TYPES})


@SHARED
@given(alloc=chain_counts, first=chain_counts, grown=chain_counts)
def test_r5_general_relation_matches_the_hall_oracle(
    m: Manager,
    clock: ManualClock,
    alloc: dict[str, int],
    first: dict[str, int],
    grown: dict[str, int],
) -> None:
    alloc, first, grown = nonzero(alloc), nonzero(first), nonzero(grown)
    o = Org(m, clock)
    sid = o.system(CHAIN, first)
    o.start(CHAIN, date(2026, 1, 1))
    if alloc:
        o.redeem(CHAIN, alloc)
        m.allocate(o.org, CHAIN, alloc, actor="alice")
    plain = {t: Fraction(n) for t, n in alloc.items()}
    locked = bool(alloc) and chain_covers(plain, first)
    s = m.status(o.org, CHAIN)
    assert s.locked is locked
    if not locked:
        assert dict(s.required_now) == chain_uncovered(alloc, first)
        return
    m.report_devices(o.org, sid, devices=grown, actor="alice")
    s = m.status(o.org, CHAIN)
    doubled = {t: 2 * Fraction(n) for t, n in alloc.items()}
    assert s.growth_exceeded is (not chain_covers(doubled, grown))
    assert dict(s.required_now) == chain_smallest_extra(alloc, grown), (alloc, grown)


def test_r5_needed_types_in_a_locked_period_are_those_uncovered_at_the_grown_capacity(
    m: Manager, clock: ManualClock
) -> None:
    """SPEC ambiguity (reported): b 2 allocated and locked, growth 1; devices c 3 + b 2.

    Assigned once per license, U_c = 1 and U_b = 2: both needed, and one extra license of
    either kind covers (c and b tie on narrowness, c first in catalog order: {c: 1}).
    Assigned at twice the capacity (the library's reading), the 4 places cover all 3 c and
    1 b: only b is uncovered, so only b is needed: {b: 1}. Both are one license.
    """
    o = Org(m, clock)
    sid = o.system(CHAIN, {"b": 2})
    o.start(CHAIN, date(2026, 1, 1))
    o.redeem(CHAIN, {"b": 2})
    m.allocate(o.org, CHAIN, {"b": 2}, actor="alice")
    m.report_devices(o.org, sid, devices={"c": 3, "b": 2}, actor="alice")
    s = m.status(o.org, CHAIN)
    assert (s.locked, s.growth_exceeded, dict(s.required_now)) == (True, True, {"b": 1})
    assert chain_uncovered({"b": 2}, {"c": 3, "b": 2}) == {"c": 1, "b": 2}
    assert chain_uncovered({"b": 2}, {"c": 3, "b": 2}, Fraction(2)) == {"b": 1}
