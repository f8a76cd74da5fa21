"""The alert horizon (SPEC §7): when an organization's alerts can next change by time alone.

The property: for random histories driven through the engine (tests/engine_driver.py),
the alerts at every day strictly before the horizon equal those at the starting day
(as sets of ``alert_key``), so a sweep that reads an organization only when its
horizon is due never misses a change. Named examples check that the alerts do
change at the horizon in the typical cases.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from hypothesis import example, given
from hypothesis import strategies as st

from axis_licensing import EXAMPLE_CATALOG, Catalog, LicenseKind, LicensingError
from axis_licensing.model import AlertKind
from axis_licensing.policy import engine
from axis_licensing.policy.alerts import AlertKey, alert_key, alerts
from axis_licensing.policy.horizon import (
    alert_changes,
    alert_details,
    change_dates,
    cleared_details,
    next_change,
    next_change_on,
)
from axis_licensing.policy.state import OrgState
from engine_driver import Org, d

CATALOG = EXAMPLE_CATALOG
_PRO = EXAMPLE_CATALOG.products[0]
#: Windows longer than the 60 days looked ahead, and a five-year term (R2, R3).
LONG_WINDOWS = Catalog(products=[attrs.evolve(_PRO, trial_days=90, grace_days=75)])
FIVE_YEARS = Catalog(products=[attrs.evolve(_PRO, term_years=5, grace_days=10)])
WITHIN = 60
#: Days checked one by one after the start; beyond, every 7th day (and the last one).
EVERY_DAY = 800
#: How far a horizon of None (nothing ever changes) is checked.
NO_HORIZON_CHECK = 2000


def keys(state: OrgState, day: date, catalog: Catalog = CATALOG) -> set[AlertKey]:
    advanced = engine.advance(state, catalog, day)[0]
    return {alert_key(a) for a in alerts(advanced, catalog, day, WITHIN)}


def kinds(state: OrgState, day: date) -> set[tuple[str, date | None]]:
    return {(k[0], k[3]) for k in keys(state, day)}


def horizon_of(state: OrgState, day: date, catalog: Catalog = CATALOG) -> date | None:
    return next_change_on(engine.advance(state, catalog, day)[0], catalog, day, WITHIN)


TYPES = ("core", "universal", "door")
counts = st.dictionaries(st.sampled_from(TYPES), st.integers(1, 8), min_size=1, max_size=3)
COMMANDS = ("start", "system", "report", "redeem", "redeem_hw", "allocate", "need", "hardware")
steps = st.lists(
    st.tuples(st.integers(0, 400), st.sampled_from(COMMANDS), counts, st.integers(0, 2)),
    max_size=7,
)


def run(org: Org, day: date, command: str, quantities: dict[str, int], n: int) -> None:
    try:
        if command == "start":
            org.start(day)
        elif command == "system":
            org.system(day, f"s{n}", quantities)
        elif command == "report":
            org.report(day, f"s{n}", quantities)
        elif command == "redeem":
            org.redeem(day, quantities)
        elif command == "redeem_hw":
            org.redeem(day, quantities, kind=LicenseKind.HARDWARE)
        elif command == "allocate":
            org.allocate(day, quantities, offset=n)
        elif command == "need":
            org.allocate_need(day, through=n)
        else:
            org.hardware(day, f"s{n}", f"hw-{day.isoformat()}-{n}", quantities, "acs-pro")
    except LicensingError:
        pass  # refused: the state is unchanged


def checked_days(start: date, horizon: date | None) -> list[date]:
    end = horizon or start + timedelta(days=NO_HORIZON_CHECK)
    days = [start + timedelta(days=n) for n in range(1, (end - start).days)]
    near = [day for day in days if (day - start).days <= EVERY_DAY]
    far = [day for day in days if (day - start).days > EVERY_DAY]
    return near + far[::7] + far[-1:]


Step = tuple[int, str, dict[str, int], int]


def written(text: str) -> list[Step]:
    """Steps written ``days command type=count … [n=k]``, one after another, split by ``;``."""
    found: list[Step] = []
    for step in text.split(";"):
        days, command, *fields = step.split()
        pairs = dict(field.split("=") for field in fields)
        n = int(pairs.pop("n", "0"))
        found.append((int(days), command, {t: int(c) for t, c in pairs.items()}, n))
    return found


#: A five-year product started, a system, and licenses redeemed 2,000 days later.
REDEEMED_AFTER_FIVE_YEARS = written("0 start core=1; 0 system core=1; 2000 redeem core=1")
#: Made on 29 February: allocations to this period and the next.
LEAP_DAY_ALLOCATIONS = written(
    "0 start core=1; 0 system core=5; 1 redeem core=10; 2 allocate core=5; 3 allocate core=3 n=1"
)
#: A system, its hardware, and extension licenses for it.
HARDWARE_LICENSES = written("0 system core=2; 0 hardware core=1; 5 redeem_hw core=4")


def history_example(catalog: Catalog, created: str, wait: int, *history: Step) -> example:
    """An example of the property below: the organization made on ``created``, then each
    (days after the last, command, quantities, n) step, then ``wait`` days."""
    return example(catalog=catalog, created=d(created), history=list(history), wait=wait)


@given(
    catalog=st.sampled_from([CATALOG, LONG_WINDOWS, FIVE_YEARS]),
    created=st.dates(date(2026, 1, 1), date(2030, 12, 31)),
    history=steps,
    wait=st.integers(0, 900),
)
@history_example(LONG_WINDOWS, "2026-03-10", 0, (0, "start", {"core": 1}, 0))
@history_example(FIVE_YEARS, "2026-03-10", 0, *REDEEMED_AFTER_FIVE_YEARS)
@history_example(CATALOG, "2028-02-29", 300, *LEAP_DAY_ALLOCATIONS)
@history_example(CATALOG, "2026-01-31", 1700, (0, "redeem", {"door": 2}, 0))
@history_example(CATALOG, "2026-06-01", 10, *HARDWARE_LICENSES)
def test_alerts_hold_until_the_horizon(
    catalog: Catalog,
    created: date,
    history: list[tuple[int, str, dict[str, int], int]],
    wait: int,
) -> None:
    org = Org(created, catalog)
    day = created
    for gap, command, quantities, n in history:
        day += timedelta(days=gap)
        run(org, day, command, quantities, n)
    start = day + timedelta(days=wait)
    horizon = horizon_of(org.state, start, catalog)
    assert horizon is None or horizon > start
    expected = keys(org.state, start, catalog)
    for later in checked_days(start, horizon):
        assert keys(org.state, later, catalog) == expected, (start, later, horizon)


def test_trial_end_is_the_horizon_and_the_alerts_change_there() -> None:
    # SPEC R3: S = 2026-03-10 gives a trial through 2026-04-08
    org = Org(d("2026-03-10"), CATALOG)
    org.start(d("2026-03-10"))
    org.system(d("2026-03-10"), "s1", {"core": 2})
    start = d("2026-03-10")
    assert horizon_of(org.state, start) == d("2026-04-09")
    assert kinds(org.state, d("2026-04-08")) == {("trial_ending", d("2026-04-09"))}
    assert kinds(org.state, d("2026-04-09")) == {
        ("unlicensed", None),
        ("system_unlicensed", None),
    }
    # then nothing until 60 days before the renewal on 2027-03-10
    assert horizon_of(org.state, d("2026-04-09")) == d("2027-01-09")
    assert kinds(org.state, d("2027-01-09")) == {
        ("unlicensed", None),
        ("system_unlicensed", None),
        ("renewal_uncovered", d("2027-03-10")),
    }


def test_a_window_longer_than_60_days_warns_60_days_before_it_ends() -> None:
    org = Org(d("2026-03-10"), LONG_WINDOWS)
    org.start(d("2026-03-10"))  # the 90-day trial ends on 2026-06-08
    assert horizon_of(org.state, d("2026-03-10"), LONG_WINDOWS) == d("2026-04-09")
    assert keys(org.state, d("2026-04-08"), LONG_WINDOWS) == set()
    assert keys(org.state, d("2026-04-09"), LONG_WINDOWS) == {
        ("trial_ending", "acs-pro", None, d("2026-06-08"))
    }


def test_a_covered_product_warns_60_days_before_its_renewal() -> None:
    org = Org(d("2026-03-10"), CATALOG)
    org.start(d("2026-03-10"))
    org.system(d("2026-03-10"), "s1", {"core": 4})
    org.redeem(d("2026-03-11"), {"core": 10})
    org.allocate(d("2026-03-12"), {"core": 4})  # locks the period
    after_trial = d("2026-04-20")
    assert kinds(org.state, after_trial) == set()
    assert horizon_of(org.state, after_trial) == d("2027-01-09")
    assert kinds(org.state, d("2027-01-08")) == set()
    assert kinds(org.state, d("2027-01-09")) == {("renewal_uncovered", d("2027-03-10"))}


def test_lots_warn_60_days_before_they_expire_and_clear_when_they_do() -> None:
    org = Org(d("2026-01-01"), CATALOG)
    org.redeem(d("2026-01-01"), {"door": 3})  # expires 2031-01-01 (R6)
    assert horizon_of(org.state, d("2026-01-01")) == d("2030-11-02")
    assert kinds(org.state, d("2030-11-01")) == set()
    assert kinds(org.state, d("2030-11-02")) == {("lots_expiring", d("2031-01-01"))}
    assert horizon_of(org.state, d("2030-11-02")) == d("2031-01-01")
    assert kinds(org.state, d("2031-01-01")) == set()
    assert horizon_of(org.state, d("2031-01-01")) is None


def test_nothing_changes_without_lots_or_subscriptions() -> None:
    org = Org(d("2026-01-01"), CATALOG)
    org.system(d("2026-01-02"), "s1", {"core": 3})
    assert kinds(org.state, d("2026-01-02")) == {("system_unlicensed", None)}
    assert horizon_of(org.state, d("2026-01-02")) is None


def test_change_dates_lists_every_candidate_after_the_day() -> None:
    org = Org(d("2026-03-10"), CATALOG)
    org.start(d("2026-03-10"))
    org.redeem(d("2026-03-11"), {"core": 1})
    state = engine.advance(org.state, CATALOG, d("2026-03-11"))[0]
    assert change_dates(state, CATALOG, d("2026-03-11"), WITHIN) == {
        d("2026-04-09"),  # the trial's end; its -60 days is past
        d("2027-03-10"),  # the next period
        d("2027-01-09"),  # 60 days before it
        d("2031-03-11"),  # the lot's expiry
        d("2031-01-10"),  # 60 days before it
    }
    assert change_dates(state, CATALOG, d("2026-03-11"), 0) == {
        d("2026-04-09"),
        d("2027-03-10"),
        d("2031-03-11"),
    }


def test_the_horizon_is_local_midnight_in_the_organizations_zone() -> None:
    org = Org(d("2026-03-10"), CATALOG)
    org.start(d("2026-03-10"))
    state = engine.advance(org.state, CATALOG, d("2026-03-10"))[0]
    stockholm = ZoneInfo("Europe/Stockholm")
    at = next_change(state, CATALOG, d("2026-03-10"), stockholm)
    assert at == datetime(2026, 4, 9, tzinfo=stockholm)
    assert at is not None
    assert at.astimezone(UTC) == datetime(2026, 4, 8, 22, tzinfo=UTC)  # CEST, +02:00
    assert next_change(Org(d("2026-01-01"), CATALOG).state, CATALOG, d("2026-01-01"), UTC) is None


def test_a_midnight_lost_to_dst_gives_the_instant_the_day_begins() -> None:
    # Chile moves its clocks from 00:00 to 01:00 on 2026-09-06
    santiago = ZoneInfo("America/Santiago")
    org = Org(d("2026-08-07"), CATALOG)
    org.start(d("2026-08-07"))  # the trial ends on 2026-09-06
    state = engine.advance(org.state, CATALOG, d("2026-08-07"))[0]
    at: Any = next_change(state, CATALOG, d("2026-08-07"), santiago)
    assert at.astimezone(UTC) == datetime(2026, 9, 6, 4, tzinfo=UTC)
    assert (at.date(), at.hour) == (d("2026-09-06"), 1)
    assert kinds(org.state, d("2026-09-05")) == {(AlertKind.TRIAL_ENDING.value, d("2026-09-06"))}


def test_a_sweep_records_what_appeared_and_what_cleared_once() -> None:
    org = Org(d("2026-03-10"), CATALOG)
    org.start(d("2026-03-10"))
    org.system(d("2026-03-10"), "s1", {"core": 2})
    state = engine.advance(org.state, CATALOG, d("2026-03-10"))[0]
    trial = alerts(state, CATALOG, d("2026-03-10"), WITHIN)
    raised, cleared = alert_changes([], trial)
    assert (raised, cleared) == (trial, [])
    recorded = {alert_key(a) for a in raised}
    assert alert_changes(recorded, trial) == ([], [])  # idempotent
    after = engine.advance(org.state, CATALOG, d("2026-04-09"))[0]
    now = alerts(after, CATALOG, d("2026-04-09"), WITHIN)
    raised, cleared = alert_changes(recorded, now)
    assert [(a.kind, a.system_id) for a in raised] == [
        (AlertKind.UNLICENSED, None),
        (AlertKind.SYSTEM_UNLICENSED, "s1"),
    ]
    assert cleared == [("trial_ending", "acs-pro", None, d("2026-04-09"))]
    assert alert_details(trial[0]) == {
        "kind": "trial_ending",
        "product": "acs-pro",
        "system_id": None,
        "on": "2026-04-09",
        "details": {"days_left": 30, "shortfall": {"core": 2}},
    }
    assert cleared_details(cleared[0]) == {
        "kind": "trial_ending",
        "product": "acs-pro",
        "system_id": None,
        "on": "2026-04-09",
    }
    assert cleared_details(alert_key(raised[0]))["on"] is None
