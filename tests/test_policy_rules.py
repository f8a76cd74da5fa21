"""SPEC R4-R9 through the pure policy engine: need, locking and status, lots, allocation,
compensation and hardware.

Every test drives :mod:`axis_licensing.policy.engine` the way ``Manager._command`` does:
``engine.advance(state, catalog, day)`` to the command's local date, then the command with
``Context(at, on, actor)``; the facts of both are kept in order. Queries advance a copy of
the state to the day asked about, as ``Manager._view`` does, and read it with
:mod:`axis_licensing.policy.status`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import TypeVar

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import engine_driver
from axis_licensing._counts import Counts
from axis_licensing.catalog import EXAMPLE_CATALOG, Catalog, LicenseType, ProductSpec
from axis_licensing.errors import (
    AlreadyRegistered,
    InsufficientLicenses,
    InvalidInput,
    SubscriptionNotStarted,
    UnknownHardware,
    UnknownSystem,
)
from axis_licensing.model import (
    Action,
    Allocation,
    LicenseKind,
    Lot,
    Period,
    ProductState,
)
from axis_licensing.policy import engine, status
from engine_driver import ctx, d, details

T = TypeVar("T")

ACS = EXAMPLE_CATALOG.product("acs-pro")  # core / universal (covers core) / door
TYPES = (LicenseType("core"), LicenseType("universal", covers=("core",)))
PRODUCT_B = ProductSpec("prod-b", "Product B", license_types=TYPES)
ONE_TYPE = ProductSpec("one", "One type")  # core only, growth_rate 1
HALF_GROWTH = ProductSpec("half", "Half growth", growth_rate=Fraction(1, 2))
NO_GROWTH = ProductSpec("none", "No growth", growth_rate=Fraction(0))
FIVE_YEAR = ProductSpec("five", "Five-year term", term_years=5)
CATALOG = Catalog(products=(ACS, PRODUCT_B, ONE_TYPE, HALF_GROWTH, NO_GROWTH, FIVE_YEAR))

C = Counts
SUB = LicenseKind.SUBSCRIPTION
HW = LicenseKind.HARDWARE


class Org(engine_driver.Org):
    """An organization on this file's catalog."""

    def __init__(self, created: date, catalog: Catalog = CATALOG) -> None:
        super().__init__(created, catalog)


def started_org(
    devices: dict[str, int] | None = None,
    wallet: dict[str, int] | None = None,
    product: str = "acs-pro",
    on: str = "2026-01-01",
) -> Org:
    """An organization whose ``product`` started on ``on`` (the anchor), with one system."""
    org = Org(d(on))
    org.system(d(on), "sys-1", devices or {}, product=product)
    org.start(d(on), product=product)
    if wallet:
        org.redeem(d(on), wallet, product=product)
    return org


# --- R4: devices and need ---------------------------------------------------------------------


def test_r4_subscription_devices_sum_over_the_products_systems() -> None:
    org = started_org({"core": 3, "door": 1})
    org.system(d("2026-01-02"), "sys-2", {"core": 4, "universal": 2})
    org.system(d("2026-01-02"), "sys-b", {"core": 50}, product="prod-b")
    st_ = org.status(d("2026-01-02"))
    assert st_.devices == {"core": 7, "universal": 2, "door": 1}
    assert org.status(d("2026-01-02"), product="prod-b").devices == {"core": 50}
    assert status.subscription_devices(org.state, PRODUCT_B) == {"core": 50}


def test_r4_report_devices_replaces_the_whole_mapping() -> None:
    org = started_org({"core": 3, "door": 1})
    org.report(d("2026-01-05"), "sys-1", {"universal": 2})
    assert org.state.systems["sys-1"].devices == {"universal": 2}
    assert org.status(d("2026-01-05")).devices == {"universal": 2}


def test_r4_need_unlocked_is_the_current_devices() -> None:
    org = started_org({"core": 8, "universal": 2}, wallet={"core": 20})
    org.allocate(d("2026-01-01"), {"core": 3})
    org.allocate(d("2026-01-01"), {"core": 5}, offset=1)
    report = org.need(d("2026-01-10"), horizon=2)
    current, next_, later = report.periods
    assert (current.need, current.allocated, current.shortfall) == (
        C({"core": 8, "universal": 2}),
        C({"core": 3}),
        C({"core": 5, "universal": 2}),
    )
    assert (next_.need, next_.allocated, next_.shortfall) == (
        C({"core": 8, "universal": 2}),
        C({"core": 5}),
        C({"core": 3, "universal": 2}),
    )
    assert (later.need, later.allocated, later.shortfall) == (
        C({"core": 8, "universal": 2}),
        C(),
        C({"core": 8, "universal": 2}),
    )
    assert report.wallet == {"core": 12}
    assert report.to_buy == {"core": 4, "universal": 6}


def test_r4_need_locked_is_allocated_plus_required_now() -> None:
    org = started_org({"core": 10}, wallet={"core": 15}, product="one")
    org.allocate(d("2026-01-01"), {"core": 10}, product="one")
    org.report(d("2026-02-10"), "sys-1", {"core": 23})
    report = org.need(d("2026-02-10"), horizon=2, product="one")
    assert [(pn.need, pn.allocated, pn.shortfall) for pn in report.periods] == [
        (C({"core": 12}), C({"core": 10}), C({"core": 2})),
        (C({"core": 23}), C(), C({"core": 23})),
        (C({"core": 23}), C(), C({"core": 23})),
    ]
    assert report.wallet == {"core": 5}
    assert report.to_buy == {"core": 43}  # 2 + 23 + 23 - 5


def test_r4_to_buy_never_below_zero_per_type() -> None:
    org = started_org({"core": 2, "door": 3}, wallet={"core": 50, "door": 1})
    report = org.need(d("2026-01-01"), horizon=1)
    assert report.wallet == {"core": 50, "door": 1}
    assert report.to_buy == {"door": 5}  # core: 4 - 50 clipped to 0


def test_r4_need_wallet_counts_subscription_lots_only() -> None:
    org = started_org({"core": 2})
    org.redeem(d("2026-01-01"), {"core": 7}, kind=HW)
    report = org.need(d("2026-01-01"), horizon=0)
    assert report.wallet == {}
    assert report.to_buy == {"core": 2}


# --- R5: coverage, locking, growth and status ------------------------------------------------


def test_r5_not_started() -> None:
    org = Org(d("2026-01-01"))
    org.system(d("2026-01-01"), "sys-1", {"core": 4})
    st_ = org.status(d("2026-03-01"))
    assert st_.state is ProductState.NOT_STARTED
    assert (st_.period, st_.window_ends_on, st_.licensed_through) == (None, None, None)
    assert st_.devices == {"core": 4}
    org.start(d("2026-03-01"))
    assert org.status(d("2026-02-28")).state is ProductState.NOT_STARTED
    assert org.status(d("2026-03-01")).state is ProductState.TRIAL


def test_r5_trial_then_unlicensed_without_coverage() -> None:
    org = started_org({"core": 5}, wallet={"core": 3})
    org.allocate(d("2026-01-01"), {"core": 3})  # does not cover 5 devices: no lock
    trial = org.status(d("2026-01-30"))
    assert (trial.state, trial.locked, trial.licensed_through) == (ProductState.TRIAL, False, None)
    assert trial.allocated == {"core": 3}
    late = org.status(d("2026-01-31"))
    assert (late.state, late.locked, late.licensed_through) == (
        ProductState.UNLICENSED,
        False,
        None,
    )
    assert late.growth_exceeded is False
    assert org.state.ledger("acs-pro").locked == frozenset()


def test_r5_grace_after_renewal_then_unlicensed() -> None:
    org = started_org({"core": 5}, wallet={"core": 5})
    org.allocate(d("2026-01-01"), {"core": 5})
    assert org.status(d("2026-12-31")).state is ProductState.LICENSED
    grace = org.status(d("2027-01-01"))
    assert (grace.state, grace.window_ends_on, grace.licensed_through) == (
        ProductState.GRACE,
        d("2027-01-31"),
        None,
    )
    assert org.status(d("2027-01-30")).state is ProductState.GRACE
    assert org.status(d("2027-01-31")).state is ProductState.UNLICENSED


def test_r5_licensed_via_lock_inside_the_trial() -> None:
    org = started_org({"core": 4, "door": 1}, wallet={"universal": 4, "door": 1})
    org.allocate(d("2026-01-05"), {"universal": 4})
    assert org.status(d("2026-01-05")).state is ProductState.TRIAL  # door uncovered
    org.allocate(d("2026-01-06"), {"door": 1})
    st_ = org.status(d("2026-01-06"))
    assert (st_.state, st_.locked, st_.growth_exceeded) == (ProductState.LICENSED, True, False)
    assert st_.required_now == {}
    assert st_.licensed_through == d("2027-01-01")
    assert org.state.ledger("acs-pro").locked == {0}
    assert org.status(d("2026-12-31")).state is ProductState.LICENSED


def test_r5_licensed_with_zero_devices_and_zero_licenses() -> None:
    org = started_org()
    trial = org.status(d("2026-01-30"))
    assert (trial.state, trial.locked) == (ProductState.TRIAL, False)
    after = org.status(d("2026-01-31"))
    assert (after.state, after.locked) == (ProductState.LICENSED, False)
    assert after.licensed_through == d("2027-01-01")
    assert after.required_now == {}
    assert org.status(d("2027-01-15")).state is ProductState.GRACE
    assert org.status(d("2027-01-31")).state is ProductState.LICENSED


def test_r5_locking_needs_at_least_one_license() -> None:
    org = started_org(wallet={"core": 1})
    assert org.status(d("2026-01-02")).locked is False
    org.allocate(d("2026-01-02"), {"core": 1})  # covers 0 devices with one license
    st_ = org.status(d("2026-01-02"))
    assert (st_.state, st_.locked) == (ProductState.LICENSED, True)


def test_r5_late_allocation_locks_an_unlicensed_period() -> None:
    org = started_org({"core": 6}, wallet={"core": 10})
    assert org.status(d("2026-02-01")).state is ProductState.UNLICENSED
    org.allocate(d("2026-03-01"), {"core": 6})
    st_ = org.status(d("2026-03-01"))
    assert (st_.state, st_.locked, st_.licensed_through) == (
        ProductState.LICENSED,
        True,
        d("2027-01-01"),
    )


def test_r5_fewer_devices_lock_the_period() -> None:
    org = started_org({"core": 8}, wallet={"core": 5})
    org.allocate(d("2026-01-01"), {"core": 5})
    assert org.status(d("2026-02-01")).state is ProductState.UNLICENSED
    org.report(d("2026-02-02"), "sys-1", {"core": 5})
    assert org.state.ledger("acs-pro").locked == {0}
    org.report(d("2026-02-03"), "sys-1", {"core": 8})  # growth within 2 x 5
    st_ = org.status(d("2026-02-03"))
    assert (st_.state, st_.locked, st_.growth_exceeded) == (ProductState.LICENSED, True, False)


def test_r5_locked_required_now_example() -> None:
    org = started_org({"core": 10}, wallet={"core": 10}, product="one")
    org.allocate(d("2026-01-01"), {"core": 10}, product="one")
    org.report(d("2026-04-01"), "sys-1", {"core": 23})
    st_ = org.status(d("2026-04-01"), product="one")
    assert st_.state is ProductState.LICENSED
    assert st_.growth_exceeded is True
    assert st_.required_now == {"core": 2}  # ceil(23 / 2) - 10


def test_r5_shortfall_core_universal_example() -> None:
    org = started_org({"core": 5, "universal": 2}, wallet={"core": 5, "universal": 2})
    org.allocate(d("2026-01-01"), {"core": 3})
    current = org.need(d("2026-01-01"), horizon=0).periods[0]
    assert current.shortfall == {"core": 2, "universal": 2}
    result = org.allocate_need(d("2026-01-01"), through=0)
    assert result.quantities == {"core": 2, "universal": 2}
    assert org.status(d("2026-01-01")).state is ProductState.LICENSED


def test_r5_lock_persists_after_growth() -> None:
    org = started_org({"core": 10}, wallet={"core": 10})
    org.allocate(d("2026-01-01"), {"core": 10})
    org.report(d("2026-03-01"), "sys-1", {"core": 30})
    st_ = org.status(d("2026-03-01"))
    assert (st_.state, st_.locked, st_.growth_exceeded) == (ProductState.LICENSED, True, True)
    assert st_.required_now == {"core": 5}  # (30 - 2 x 10) / 2
    org.report(d("2026-06-01"), "sys-1", {"core": 100})
    st_ = org.status(d("2026-12-31"))
    assert (st_.state, st_.locked) == (ProductState.LICENSED, True)
    assert st_.required_now == {"core": 40}
    assert st_.licensed_through == d("2027-01-01")
    assert org.state.ledger("acs-pro").locked == {0}


def test_r5_growth_within_allowance_sets_no_flag() -> None:
    org = started_org({"core": 10}, wallet={"core": 10})
    org.allocate(d("2026-01-01"), {"core": 10})
    org.report(d("2026-05-01"), "sys-1", {"core": 20})
    st_ = org.status(d("2026-05-01"))
    assert (st_.state, st_.growth_exceeded, st_.required_now) == (ProductState.LICENSED, False, C())
    assert org.actions(Action.GROWTH_EXCEEDED) == []
    report = org.need(d("2026-05-01"), horizon=1)
    assert [pn.need for pn in report.periods] == [{"core": 10}, {"core": 20}]  # extra goes ahead
    assert [pn.shortfall for pn in report.periods] == [{}, {"core": 20}]


def test_r5_growth_allowance_applies_the_covers_relation() -> None:
    org = started_org({"core": 5}, wallet={"universal": 5})
    org.allocate(d("2026-01-01"), {"universal": 5})
    org.report(d("2026-02-01"), "sys-1", {"core": 6, "universal": 4})  # 10 <= 2 x 5 universal
    assert org.status(d("2026-02-01")).growth_exceeded is False
    org.report(d("2026-02-02"), "sys-1", {"core": 7, "universal": 4, "door": 1})
    st_ = org.status(d("2026-02-02"))
    assert st_.growth_exceeded is True
    assert st_.required_now == {"core": 1, "door": 1}  # ceil(1/2) each


@pytest.mark.parametrize(
    ("product", "devices", "required"),
    [
        ("half", 15, {}),  # 10 x 3/2
        ("half", 16, {"core": 1}),  # ceil(1 / (3/2))
        ("half", 20, {"core": 4}),  # ceil(5 / (3/2)) = ceil(10/3)
        ("none", 10, {}),
        ("none", 13, {"core": 3}),
        ("one", 21, {"core": 1}),
    ],
)
def test_r5_growth_rate_comes_from_the_product(
    product: str, devices: int, required: dict[str, int]
) -> None:
    org = started_org({"core": 10}, wallet={"core": 10}, product=product)
    org.allocate(d("2026-01-01"), {"core": 10}, product=product)
    org.report(d("2026-02-01"), "sys-1", {"core": devices})
    st_ = org.status(d("2026-02-01"), product=product)
    assert st_.state is ProductState.LICENSED
    assert st_.required_now == required
    assert st_.growth_exceeded is bool(required)


def test_r5_growth_beyond_allowance_records_one_fact_per_period() -> None:
    org = started_org({"core": 10}, wallet={"core": 40})
    org.allocate(d("2026-01-01"), {"core": 10})
    org.report(d("2026-03-01"), "sys-1", {"core": 21})
    st_ = org.status(d("2026-03-01"))
    assert (st_.growth_exceeded, st_.required_now) == (True, C({"core": 1}))
    for day, count in (("2026-03-02", 25), ("2026-04-01", 15), ("2026-05-01", 30)):
        org.report(d(day), "sys-1", {"core": count})
    assert org.status(d("2026-04-01")).growth_exceeded is True
    flags = org.actions(Action.GROWTH_EXCEEDED)
    assert len(flags) == 1
    flag = flags[0]
    assert (flag.on, flag.actor, flag.product) == (d("2026-03-01"), "system", "acs-pro")
    assert flag.at == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert details(flag)["period"] == {"index": 0, "start": "2026-01-01", "end": "2027-01-01"}
    assert details(flag)["required_now"] == {"core": 1}
    assert details(flag)["devices"] == {"core": 21}
    assert details(flag)["allocated"] == {"core": 10}
    # the next period, locked by a top-up, may be flagged once again
    org.allocate(d("2027-01-05"), {"core": 30})
    org.report(d("2027-02-01"), "sys-1", {"core": 61})
    org.report(d("2027-02-02"), "sys-1", {"core": 70})
    flags = org.actions(Action.GROWTH_EXCEEDED)
    assert [details(f)["period"]["index"] for f in flags] == [0, 1]
    assert details(flags[1])["required_now"] == {"core": 1}
    assert org.state.ledger("acs-pro").growth_flagged == {0, 1}


def test_r5_growth_fact_follows_the_command_that_caused_it() -> None:
    org = started_org({"core": 1}, wallet={"core": 1})
    org.allocate(d("2026-01-01"), {"core": 1})
    advanced, _ = engine.advance(org.state, CATALOG, d("2026-02-01"))
    outcome = engine.report_devices(
        advanced, CATALOG, ctx(d("2026-02-01"), "bob"), system_id="sys-1", devices={"core": 3}
    )
    assert [(f.action, f.actor) for f in outcome.facts] == [
        (Action.DEVICES_REPORTED, "bob"),
        (Action.GROWTH_EXCEEDED, "system"),
    ]


def test_r5_locking_at_period_start_with_advance_allocation() -> None:
    org = started_org({"core": 10}, wallet={"core": 20})
    org.allocate(d("2026-01-01"), {"core": 10})
    org.allocate(d("2026-06-01"), {"core": 10}, offset=1)
    assert org.state.ledger("acs-pro").locked == {0}
    st_ = org.status(d("2027-01-01"))
    assert (st_.state, st_.locked) == (ProductState.LICENSED, True)
    assert st_.window_ends_on == d("2027-01-31")
    advanced, facts = engine.advance(org.state, CATALOG, d("2027-01-01"))
    assert advanced.ledger("acs-pro").locked == {0, 1}
    assert facts == ()
    # locked at the start, so growth within the allowance afterwards keeps it licensed
    org.report(d("2027-02-15"), "sys-1", {"core": 20})
    st_ = org.status(d("2027-02-15"))
    assert (st_.state, st_.growth_exceeded) == (ProductState.LICENSED, False)
    assert org.state.ledger("acs-pro").locked == {0, 1}


def test_r5_advance_allocation_that_no_longer_covers_does_not_lock() -> None:
    org = started_org({"core": 10}, wallet={"core": 25})
    org.allocate(d("2026-01-01"), {"core": 10})
    org.allocate(d("2026-01-01"), {"core": 10}, offset=1)
    org.report(d("2026-11-01"), "sys-1", {"core": 15})  # within period 0's allowance
    assert org.status(d("2026-11-01")).licensed_through == d("2027-01-01")
    grace = org.status(d("2027-01-01"))
    assert (grace.state, grace.locked, grace.allocated) == (
        ProductState.GRACE,
        False,
        C({"core": 10}),
    )
    assert org.status(d("2027-01-31")).state is ProductState.UNLICENSED
    org.allocate(d("2027-02-01"), {"core": 5})
    st_ = org.status(d("2027-02-01"))
    assert (st_.state, st_.locked, st_.allocated) == (ProductState.LICENSED, True, C({"core": 15}))


def test_r5_advance_allocation_locks_even_when_no_command_ran_for_a_period() -> None:
    org = started_org({"core": 10}, wallet={"core": 20})
    org.allocate(d("2026-01-01"), {"core": 10})
    org.allocate(d("2026-01-01"), {"core": 10}, offset=2)
    assert org.status(d("2027-05-01")).state is ProductState.UNLICENSED  # period 1: nothing
    assert org.status(d("2028-05-01")).state is ProductState.LICENSED  # period 2: locked
    org.report(d("2028-05-01"), "sys-1", {"core": 25})  # first command since 2026
    assert org.state.ledger("acs-pro").locked == {0, 2}
    flags = org.actions(Action.GROWTH_EXCEEDED)
    assert [(f.on, details(f)["period"]["index"]) for f in flags] == [(d("2028-05-01"), 2)]
    assert details(flags[0])["required_now"] == {"core": 3}


def test_r5_advance_to_an_earlier_day_changes_nothing() -> None:
    org = started_org({"core": 10}, wallet={"core": 10})
    org.allocate(d("2026-01-01"), {"core": 5})  # period 0: 5 for 10 devices, never locks
    org.allocate(d("2026-01-01"), {"core": 5}, offset=1)
    org.report(d("2027-02-01"), "sys-1", {"core": 5})  # period 1 locks now
    assert org.state.ledger("acs-pro").locked == {1}
    earlier, facts = engine.advance(org.state, CATALOG, d("2026-06-01"))
    assert facts == ()
    assert earlier.ledger("acs-pro").locked == {1}
    assert earlier == org.state


def test_r5_licensed_through_run_of_advance_allocated_periods() -> None:
    org = started_org({"core": 10}, wallet={"core": 60})
    org.allocate(d("2026-01-01"), {"core": 10})
    for offset in (1, 2):
        org.allocate(d("2026-01-01"), {"core": 10}, offset=offset)
    org.allocate(d("2026-01-01"), {"core": 9}, offset=3)  # does not cover: breaks the run
    org.allocate(d("2026-01-01"), {"core": 10}, offset=4)
    assert org.status(d("2026-01-01")).licensed_through == d("2029-01-01")
    org.allocate(d("2026-02-01"), {"core": 1}, offset=3)
    assert org.status(d("2026-02-01")).licensed_through == d("2031-01-01")
    # later, inside period 2, the run is shorter
    assert org.status(d("2028-03-01")).licensed_through == d("2031-01-01")
    assert org.status(d("2028-03-01")).period == Period(2, d("2028-01-01"), d("2029-01-01"))


def test_r5_licensed_through_uses_the_current_devices() -> None:
    org = started_org({"core": 10}, wallet={"core": 30})
    org.allocate(d("2026-01-01"), {"core": 10})
    org.allocate(d("2026-01-01"), {"core": 10}, offset=1)
    org.allocate(d("2026-01-01"), {"core": 10}, offset=2)
    assert org.status(d("2026-01-01")).licensed_through == d("2029-01-01")
    org.report(d("2026-06-01"), "sys-1", {"core": 11})
    assert org.status(d("2026-06-01")).licensed_through == d("2027-01-01")


def test_r5_licensed_through_is_none_unless_licensed() -> None:
    org = started_org({"core": 10}, wallet={"core": 20})
    org.allocate(d("2026-01-01"), {"core": 10}, offset=1)
    org.allocate(d("2026-01-01"), {"core": 10}, offset=2)
    assert org.status(d("2026-01-10")).state is ProductState.TRIAL
    assert org.status(d("2026-01-10")).licensed_through is None
    assert org.status(d("2026-02-10")).state is ProductState.UNLICENSED
    assert org.status(d("2026-02-10")).licensed_through is None
    assert org.status(d("2027-01-01")).licensed_through == d("2029-01-01")


# --- R6: wallet, lots and the five-year storage limit -----------------------------------------


def test_r6_redeem_adds_one_lot_per_type() -> None:
    org = Org(d("2026-03-15"))
    redemption = org.redeem(d("2026-03-15"), {"door": 2, "core": 5, "universal": 1})
    assert [(lot.license_type, lot.quantity) for lot in redemption.lots] == [
        ("core", 5),
        ("universal", 1),
        ("door", 2),
    ]
    assert {(lot.acquired_on, lot.expires_on, lot.kind) for lot in redemption.lots} == {
        (d("2026-03-15"), d("2031-03-15"), SUB)
    }
    assert [lot.lot_id for lot in redemption.lots] == [1, 2, 3]
    assert org.wallet(d("2026-03-15")).lots == redemption.lots


def test_r6_leap_day_lot_expiry() -> None:
    org = Org(d("2028-02-29"))
    (lot,) = org.redeem(d("2028-02-29"), {"core": 4}).lots
    assert (lot.acquired_on, lot.expires_on) == (d("2028-02-29"), d("2033-02-28"))
    assert org.wallet(d("2033-02-27")).balance() == {"core": 4}
    assert org.wallet(d("2033-02-28")).balance() == {}
    _, facts = engine.advance(org.state, CATALOG, d("2033-02-28"))
    assert [(f.action, f.on, f.actor, f.at) for f in facts] == [
        (Action.LICENSES_EXPIRED, d("2033-02-28"), "system", None)
    ]


def test_r6_lot_usable_through_the_day_before_expiry() -> None:
    org = started_org(wallet={"core": 3})
    org.allocate(d("2030-12-31"), {"core": 1})
    org.allocate(d("2030-12-31"), {"core": 1}, offset=1)
    with pytest.raises(InsufficientLicenses) as excinfo:
        org.allocate(d("2031-01-01"), {"core": 1})
    assert excinfo.value.shortfall == {"core": 1}


def test_r6_expiry_facts_dated_expires_on_with_system_actor() -> None:
    org = Org(d("2026-01-01"))
    org.redeem(d("2026-01-01"), {"core": 5})
    org.redeem(d("2026-03-15"), {"core": 3, "door": 2})
    org.redeem(d("2026-03-15"), {"universal": 1}, product="prod-b")
    org.redeem(d("2027-01-01"), {"core": 9})
    state, facts = engine.advance(org.state, CATALOG, d("2032-01-01"))
    summary = [
        (
            f.on,
            f.actor,
            f.product,
            details(f)["lot_id"],
            details(f)["license_type"],
            details(f)["quantity"],
        )
        for f in facts
    ]
    assert summary == [
        (d("2031-01-01"), "system", "acs-pro", 1, "core", 5),
        (d("2031-03-15"), "system", "acs-pro", 2, "core", 3),
        (d("2031-03-15"), "system", "acs-pro", 3, "door", 2),
        (d("2031-03-15"), "system", "prod-b", 4, "universal", 1),
        (d("2032-01-01"), "system", "acs-pro", 5, "core", 9),
    ]
    assert all(f.action == Action.LICENSES_EXPIRED and f.at is None for f in facts)
    assert details(facts[0])["expires_on"] == "2031-01-01"
    assert details(facts[0])["acquired_on"] == "2026-01-01"
    assert details(facts[0])["kind"] == "subscription"
    assert state.ledger("acs-pro").lots == ()
    assert state.ledger("acs-pro").expired.subscription == {"core": 17, "door": 2}
    assert state.as_of == d("2032-01-01")


def test_r6_expiry_shows_in_queries_without_any_command() -> None:
    org = started_org({"core": 2}, wallet={"core": 6})
    org.redeem(d("2027-06-01"), {"core": 1})
    assert org.state.as_of == d("2027-06-01")
    wallet = status.wallet_view(org.state, "acs-pro", d("2031-01-01"))
    assert wallet.balance() == {"core": 1}
    assert [lot.lot_id for lot in wallet.lots] == [2]
    report = status.need_report(org.state, ACS, d("2031-01-01"), 0)
    assert report.wallet == {"core": 1}
    assert org.wallet(d("2030-12-31")).balance() == {"core": 7}


def test_r6_partly_used_lot_expires_its_rest() -> None:
    org = started_org({"core": 4}, wallet={"core": 10})
    org.allocate(d("2026-01-01"), {"core": 4})
    org.report(d("2030-12-31"), "sys-1", {"core": 4})
    org.report(d("2031-01-02"), "sys-1", {"core": 4})
    expired = org.actions(Action.LICENSES_EXPIRED)
    assert [(f.on, details(f)["quantity"]) for f in expired] == [(d("2031-01-01"), 6)]
    ledger = org.state.ledger("acs-pro")
    assert (ledger.expired.subscription, ledger.balance(SUB)) == (C({"core": 6}), C())


def test_r6_lots_used_earliest_expiry_first() -> None:
    org = started_org(wallet={"core": 5})  # lot 1, expires 2031-01-01
    org.redeem(d("2026-06-01"), {"core": 5})  # lot 2, expires 2031-06-01
    org.redeem(d("2026-06-01"), {"core": 5})  # lot 3, same day: lot id breaks the tie
    org.allocate(d("2026-07-01"), {"core": 7}, offset=1)  # no compensation lot
    used = details(org.actions(Action.LICENSES_ALLOCATED)[-1])["lots"]
    assert used == [
        {"lot_id": 1, "license_type": "core", "quantity": 5},
        {"lot_id": 2, "license_type": "core", "quantity": 2},
    ]
    lots = org.wallet(d("2026-07-01")).lots
    assert [(lot.lot_id, lot.quantity) for lot in lots] == [(2, 3), (3, 5)]
    org.allocate(d("2026-07-02"), {"core": 4}, offset=1)
    assert [(lot.lot_id, lot.quantity) for lot in org.wallet(d("2026-07-02")).lots] == [(3, 4)]


def test_r6_expiry_ties_use_the_oldest_acquired_lot_first() -> None:
    # 28 and 29 February 2028 both expire on 2033-02-28; the older lot goes first,
    # whatever the lot ids say.
    org = started_org(on="2028-02-28")
    late = Lot(1, SUB, "core", 2, d("2028-02-29"), d("2033-02-28"))
    early = Lot(2, SUB, "core", 2, d("2028-02-28"), d("2033-02-28"))
    later = Lot(0, SUB, "core", 2, d("2028-03-01"), d("2033-03-01"))
    ledger = attrs.evolve(org.state.ledger("acs-pro"), lots=(late, later, early))
    org.state = attrs.evolve(org.state.with_ledger(ledger), next_lot_id=3)
    assert [lot.lot_id for lot in org.wallet(d("2028-03-01")).lots] == [2, 1, 0]
    org.allocate(d("2028-03-01"), {"core": 3})
    used = details(org.actions(Action.LICENSES_ALLOCATED)[-1])["lots"]
    assert [(u["lot_id"], u["quantity"]) for u in used] == [(2, 2), (1, 1)]


def test_r6_wallets_are_per_product_and_per_kind() -> None:
    org = Org(d("2026-01-01"))
    org.redeem(d("2026-01-01"), {"core": 2})
    org.redeem(d("2026-01-01"), {"core": 3}, kind=HW)
    org.redeem(d("2026-01-01"), {"core": 7}, product="prod-b")
    wallet = org.wallet(d("2026-01-01"))
    assert wallet.balance() == {"core": 2}
    assert wallet.balance(HW) == {"core": 3}
    assert org.wallet(d("2026-01-01"), product="prod-b").balance() == {"core": 7}
    org.start(d("2026-01-02"))
    with pytest.raises(InsufficientLicenses) as excinfo:  # hardware lots are kept apart
        org.allocate(d("2026-01-02"), {"core": 4})
    assert excinfo.value.shortfall == {"core": 2}


def test_r6_redeeming_needs_no_started_subscription_but_allocating_does() -> None:
    org = Org(d("2026-01-01"))
    org.system(d("2026-01-01"), "sys-1", {"core": 1})
    org.redeem(d("2026-01-01"), {"core": 2})
    assert org.wallet(d("2026-01-01")).balance() == {"core": 2}
    with pytest.raises(SubscriptionNotStarted):
        org.allocate(d("2026-01-01"), {"core": 1})
    with pytest.raises(SubscriptionNotStarted):
        org.allocate_need(d("2026-01-01"))
    org.start(d("2026-01-01"), product="prod-b")  # another product's start does not help
    with pytest.raises(SubscriptionNotStarted):
        org.allocate(d("2026-01-01"), {"core": 1})


def test_r6_advance_is_idempotent() -> None:
    org = Org(d("2026-01-01"))
    org.redeem(d("2026-01-01"), {"core": 2})
    org.redeem(d("2026-08-01"), {"door": 2})
    once, facts = engine.advance(org.state, CATALOG, d("2031-02-01"))
    assert len(facts) == 1
    twice, again = engine.advance(once, CATALOG, d("2031-02-01"))
    assert (twice, again) == (once, ())
    earlier, none = engine.advance(once, CATALOG, d("2030-01-01"))
    assert (earlier, none) == (once, ())
    assert earlier.as_of == d("2031-02-01")
    later, more = engine.advance(once, CATALOG, d("2031-08-01"))
    assert [details(f)["license_type"] for f in more] == ["door"]
    assert engine.advance(org.state, CATALOG, d("2031-08-01")) == (later, (facts[0], more[0]))


def test_r6_expired_facts_come_before_the_command_that_advanced() -> None:
    org = started_org({"core": 1}, wallet={"core": 2})
    org.redeem(d("2031-01-05"), {"core": 1})
    tail = [(f.action, f.on) for f in org.facts[-2:]]
    assert tail == [
        (Action.LICENSES_EXPIRED, d("2031-01-01")),
        (Action.KEY_REDEEMED, d("2031-01-05")),
    ]


# --- R7: allocating subscription licenses -----------------------------------------------------


def test_r7_allocate_moves_licenses_to_one_period() -> None:
    org = started_org({"core": 3}, wallet={"core": 10, "door": 2})
    result = org.allocate(d("2026-01-01"), {"core": 4, "door": 1}, offset=2)
    assert [(p.period, p.quantities) for p in result.periods] == [
        (Period(2, d("2028-01-01"), d("2029-01-01")), C({"core": 4, "door": 1}))
    ]
    assert (result.compensation, result.credit) == (C(), {})
    assert org.wallet(d("2026-01-01")).balance() == {"core": 6, "door": 1}
    assert org.state.ledger("acs-pro").allocations == {2: {"core": 4, "door": 1}}
    fact = org.actions(Action.LICENSES_ALLOCATED)[-1]
    assert (fact.actor, fact.on, fact.product) == ("alice", d("2026-01-01"), "acs-pro")
    assert details(fact)["quantities"] == {"core": 4, "door": 1}
    assert details(fact)["periods"] == [
        {
            "offset": 2,
            "period": {"index": 2, "start": "2028-01-01", "end": "2029-01-01"},
            "quantities": {"core": 4, "door": 1},
        }
    ]


def test_r7_allocating_more_than_the_need_is_allowed() -> None:
    org = started_org({"core": 1}, wallet={"core": 10})
    org.allocate(d("2026-01-01"), {"core": 10})
    st_ = org.status(d("2026-01-01"))
    assert (st_.state, st_.allocated) == (ProductState.LICENSED, C({"core": 10}))


@pytest.mark.parametrize(
    ("request_", "shortfall"),
    [
        ({"core": 3, "door": 2}, {"door": 2}),
        ({"core": 7, "door": 1}, {"core": 2, "door": 1}),
        ({"universal": 1}, {"universal": 1}),
    ],
)
def test_r7_insufficient_licenses_changes_nothing(
    request_: dict[str, int], shortfall: dict[str, int]
) -> None:
    org = started_org({"core": 3}, wallet={"core": 5})
    before, facts_before = org.state, list(org.facts)
    with pytest.raises(InsufficientLicenses) as excinfo:
        org.allocate(d("2026-01-02"), request_)
    assert excinfo.value.shortfall == shortfall
    assert (org.state, org.facts) == (before, facts_before)


def test_r7_unknown_license_type_is_invalid_input() -> None:
    org = started_org(wallet={"core": 5}, product="prod-b")
    with pytest.raises(InvalidInput):
        org.allocate(d("2026-01-02"), {"door": 1}, product="prod-b")


def test_r7_allocate_need_all_or_nothing() -> None:
    org = started_org({"core": 8, "door": 2}, wallet={"core": 20, "door": 5})
    before = org.state
    with pytest.raises(InsufficientLicenses) as excinfo:
        org.allocate_need(d("2026-01-01"), through=2)
    assert excinfo.value.shortfall == {"core": 4, "door": 1}  # 24 - 20, 6 - 5
    assert org.state is before
    assert org.actions(Action.LICENSES_ALLOCATED) == []
    result = org.allocate_need(d("2026-01-01"), through=1)
    assert [(p.period.index, p.quantities) for p in result.periods] == [
        (0, C({"core": 8, "door": 2})),
        (1, C({"core": 8, "door": 2})),
    ]
    assert result.quantities == {"core": 16, "door": 4}
    assert org.wallet(d("2026-01-01")).balance() == {"core": 4, "door": 1}
    assert len(org.actions(Action.LICENSES_ALLOCATED)) == 1


def test_r7_allocate_need_tops_up_each_period_exactly() -> None:
    org = started_org({"core": 8}, wallet={"core": 40})
    org.allocate(d("2026-01-01"), {"core": 8})
    org.allocate(d("2026-01-01"), {"core": 5}, offset=1)
    org.allocate(d("2026-01-01"), {"core": 9}, offset=3)
    result = org.allocate_need(d("2026-03-01"), through=3)
    assert [(p.period.index, p.quantities) for p in result.periods] == [
        (1, C({"core": 3})),
        (2, C({"core": 8})),
    ]
    assert org.need(d("2026-03-01"), horizon=3).to_buy == {}
    assert org.status(d("2026-03-01")).licensed_through == d("2030-01-01")


def test_r7_allocate_need_allocates_the_needed_types_only() -> None:
    org = started_org({"core": 5}, wallet={"universal": 10})
    with pytest.raises(InsufficientLicenses) as excinfo:
        org.allocate_need(d("2026-01-01"))
    assert excinfo.value.shortfall == {"core": 5}


def test_r7_allocate_need_in_a_locked_period_allocates_required_now() -> None:
    org = started_org({"core": 10}, wallet={"core": 15}, product="one")
    org.allocate(d("2026-01-01"), {"core": 10}, product="one")
    org.report(d("2026-02-01"), "sys-1", {"core": 23})
    result = org.allocate_need(d("2026-02-01"), product="one")
    assert [(p.period.index, p.quantities) for p in result.periods] == [(0, C({"core": 2}))]
    st_ = org.status(d("2026-02-01"), product="one")
    assert (st_.growth_exceeded, st_.required_now, st_.allocated) == (False, C(), C({"core": 12}))


def test_r7_allocate_need_with_nothing_needed_records_nothing() -> None:
    org = started_org({"core": 2}, wallet={"core": 10})
    org.allocate(d("2026-01-01"), {"core": 2})
    advanced, _ = engine.advance(org.state, CATALOG, d("2026-02-01"))
    outcome = engine.allocate_need(
        advanced, CATALOG, ctx(d("2026-02-01")), product="acs-pro", through=0
    )
    assert outcome.facts == ()
    assert outcome.state == advanced
    assert outcome.result == Allocation(product="acs-pro")
    assert outcome.result.quantities == {}


def test_r7_allocate_need_parts_and_compensation() -> None:
    org = Org(d("2026-01-01"))
    org.start(d("2026-01-01"))
    org.system(d("2026-07-02"), "sys-b", {"core": 10}, product="prod-b")
    org.start(d("2026-07-02"), product="prod-b")
    org.redeem(d("2026-07-02"), {"core": 20}, product="prod-b")
    result = org.allocate_need(d("2026-07-10"), through=1, product="prod-b")
    assert [(p.period.index, p.quantities) for p in result.periods] == [
        (0, C({"core": 10})),
        (1, C({"core": 10})),
    ]
    assert result.compensation == {"core": 4}  # the current part only
    assert result.credit == {"core": Fraction(72, 73)}
    assert org.wallet(d("2026-07-10"), product="prod-b").balance() == {"core": 4}


def test_r7_allocated_licenses_never_return_to_the_wallet() -> None:
    org = started_org({"core": 5}, wallet={"core": 5})
    org.allocate(d("2026-01-01"), {"core": 5})
    org.report(d("2026-02-01"), "sys-1", {})
    ledger = org.view(d("2027-06-01")).ledger("acs-pro")
    assert ledger.balance(SUB) == {}
    assert ledger.allocations == {0: {"core": 5}}


# --- R8: overlap compensation -----------------------------------------------------------------


def test_r8_new_product_mid_period_compensation() -> None:
    org = Org(d("2026-01-01"))
    org.start(d("2026-01-01"))  # anchor
    org.start(d("2026-07-02"), product="prod-b")  # 182 days into a 365-day period
    org.redeem(d("2026-07-02"), {"core": 10}, product="prod-b")
    result = org.allocate(d("2026-07-10"), {"core": 10}, product="prod-b")
    assert result.compensation == {"core": 4}
    assert result.credit == {"core": Fraction(72, 73)}
    wallet = org.wallet(d("2026-07-10"), product="prod-b")
    assert wallet.credit == {"core": Fraction(72, 73)}
    assert [(lot.quantity, lot.acquired_on, lot.expires_on) for lot in wallet.lots] == [
        (4, d("2026-07-10"), d("2031-07-10"))
    ]
    (credited,) = org.actions(Action.COMPENSATION_CREDITED)
    assert (credited.actor, credited.on, credited.product) == ("system", d("2026-07-10"), "prod-b")
    assert details(credited)["quantities"] == {"core": 4}
    assert details(credited)["shares"] == {"core": "364/73"}
    assert details(credited)["credit"] == {"core": "72/73"}
    assert details(credited)["allocated_by"] == "alice"
    # the periods do not move
    assert org.status(d("2026-07-10"), product="prod-b").period == Period(
        0, d("2026-01-01"), d("2027-01-01")
    )


def test_r8_after_grace_compensation() -> None:
    org = started_org(wallet={"core": 10})
    org.redeem(d("2027-01-01"), {"core": 10})
    result = org.allocate(d("2027-03-02"), {"core": 10})  # 60 days after 2027-01-01
    assert result.compensation == {"core": 1}
    assert result.credit == {"core": Fraction(47, 73)}
    assert org.state.ledger("acs-pro").compensated == {"core": 1}


@pytest.mark.parametrize(
    ("earlier", "credit_before", "whole", "credit_after"),
    [
        # 1 core on 2026-03-02: 60/365 = 12/73; 12/73 + 120/73 = 1 + 59/73
        (1, Fraction(12, 73), 1, Fraction(59, 73)),
        # 3 core: 36/73; 36/73 + 120/73 = 2 + 10/73
        (3, Fraction(36, 73), 2, Fraction(10, 73)),
        # 6 core: 72/73; 72/73 + 120/73 = 2 + 46/73
        (6, Fraction(72, 73), 2, Fraction(46, 73)),
    ],
)
def test_r8_after_grace_compensation_with_an_earlier_credit(
    earlier: int, credit_before: Fraction, whole: int, credit_after: Fraction
) -> None:
    org = started_org(wallet={"core": earlier})
    first = org.allocate(d("2026-03-02"), {"core": earlier})  # 60 days into 2026 too
    assert (first.compensation, first.credit) == (C(), {"core": credit_before})
    org.redeem(d("2027-01-01"), {"core": 10})
    result = org.allocate(d("2027-03-02"), {"core": 10})
    assert result.compensation == {"core": whole}
    assert result.credit == {"core": credit_after}
    assert credit_before + Fraction(120, 73) == whole + credit_after


def test_r8_no_compensation_inside_the_window_of_a_full_period() -> None:
    org = started_org(wallet={"core": 20})
    for day in ("2026-01-01", "2026-01-30", "2027-01-01", "2027-01-30"):
        result = org.allocate(d(day), {"core": 5})
        assert (result.compensation, result.credit) == (C(), {})
    assert org.actions(Action.COMPENSATION_CREDITED) == []


def test_r8_window_end_is_the_first_compensated_day() -> None:
    org = started_org(wallet={"core": 73})
    result = org.allocate(d("2026-01-31"), {"core": 73})  # c = d: 30 days of 365
    assert result.compensation == {"core": 6}
    assert result.credit == {}  # 73 x 30/365 = 6 exactly


def test_r8_no_fact_when_no_whole_license_comes_back() -> None:
    org = started_org(wallet={"core": 1})
    result = org.allocate(d("2026-03-02"), {"core": 1})
    assert result.compensation == {}
    assert result.credit == {"core": Fraction(12, 73)}
    assert org.actions(Action.COMPENSATION_CREDITED) == []
    assert org.wallet(d("2026-03-02")).lots == ()
    assert org.state.ledger("acs-pro").credit == {"core": Fraction(12, 73)}


def test_r8_future_periods_get_no_compensation() -> None:
    org = started_org(wallet={"core": 30})
    result = org.allocate(d("2026-09-01"), {"core": 30}, offset=1)
    assert (result.compensation, result.credit) == (C(), {})
    assert org.wallet(d("2026-09-01")).balance() == {}


def test_r8_top_up_of_a_locked_period_is_compensated() -> None:
    org = started_org({"core": 10}, wallet={"core": 15})
    org.allocate(d("2026-01-01"), {"core": 10})
    org.report(d("2026-07-01"), "sys-1", {"core": 25})
    assert org.status(d("2026-07-01")).required_now == {"core": 3}
    result = org.allocate(d("2026-07-01"), {"core": 5})  # 181 days gone
    assert result.compensation == {"core": 2}
    assert result.credit == {"core": Fraction(175, 365)}  # 905/365 = 2 + 175/365
    assert org.wallet(d("2026-07-01")).balance() == {"core": 2}


def test_r8_last_day_of_a_period() -> None:
    org = started_org(wallet={"core": 5})
    result = org.allocate(d("2026-12-31"), {"core": 5})  # 364 of 365 days gone
    assert result.compensation == {"core": 4}
    assert result.credit == {"core": Fraction(72, 73)}


def test_r8_leap_year_period_has_366_days() -> None:
    org = started_org(wallet={"core": 61}, on="2028-01-01")
    result = org.allocate(d("2028-03-01"), {"core": 61})  # 60 of 366 days
    assert result.compensation == {"core": 10}
    assert result.credit == {}


def test_r8_five_year_term_period_length() -> None:
    org = started_org(wallet={"core": 913}, product="five")  # [2026-01-01, 2031-01-01)
    result = org.allocate(d("2026-03-02"), {"core": 913}, product="five")
    assert result.compensation == {"core": 30}  # 913 x 60 / 1826
    assert result.credit == {}
    org.redeem(d("2031-01-01"), {"core": 1}, product="five")
    result = org.allocate(d("2031-03-03"), {"core": 1}, product="five")  # 61 of 1826 days
    assert (result.compensation, result.credit) == (C(), {"core": Fraction(61, 1826)})


def test_r8_credit_is_kept_per_type() -> None:
    org = started_org(wallet={"core": 1, "universal": 2})
    org.allocate(d("2026-03-02"), {"core": 1, "universal": 2})
    assert org.state.ledger("acs-pro").credit == {
        "core": Fraction(12, 73),
        "universal": Fraction(24, 73),
    }
    org.redeem(d("2026-03-02"), {"core": 5})
    result = org.allocate(d("2026-12-31"), {"core": 5})
    assert result.compensation == {"core": 5}  # 12/73 + 364/73 = 5 + 11/73
    assert result.credit == {"core": Fraction(11, 73), "universal": Fraction(24, 73)}


@given(
    allocations=st.lists(
        st.tuples(st.integers(0, 1824), st.integers(1, 40)), min_size=1, max_size=12
    )
)
@example(allocations=[(59, 1), (365 + 60, 10)])
@example(allocations=[(364, 5), (365 + 29, 3), (365 + 30, 7)])
def test_r8_no_fraction_is_ever_lost(allocations: list[tuple[int, int]]) -> None:
    anchor = d("2026-01-01")
    org = started_org(wallet={"core": 10_000}, on="2026-01-01")
    expected = Fraction(0)
    for days, quantity in sorted(allocations):
        day = anchor + timedelta(days=days)
        ps, pe = date(day.year, 1, 1), date(day.year + 1, 1, 1)  # calendar-year periods
        coverage_start = ps if day < ps + timedelta(days=30) else day
        expected += Fraction(quantity * (coverage_start - ps).days, (pe - ps).days)
        result = org.allocate(day, {"core": quantity})
        assert all(0 <= c < 1 for c in result.credit.values())
    ledger = org.state.ledger("acs-pro")
    assert ledger.compensated.get("core", 0) + ledger.credit.get("core", Fraction(0)) == expected
    allocated = sum(q for _, q in allocations)
    balance = 10_000 - allocated + ledger.compensated.get("core", 0)
    assert ledger.balance(SUB) == {"core": balance}
    whole = sum(details(f)["quantities"]["core"] for f in org.actions(Action.COMPENSATION_CREDITED))
    assert whole == ledger.compensated.get("core", 0)


# --- R9: hardware-bound licenses --------------------------------------------------------------


def test_r9_hardware_covers_own_devices_first() -> None:
    org = started_org({"core": 10})
    org.system(d("2026-01-01"), "sys-2", {"core": 3})
    org.hardware(d("2026-01-01"), "sys-1", "SN-1", {"core": 4}, "acs-pro")
    assert org.status(d("2026-01-01")).devices == {"core": 9}
    one = org.system_status(d("2026-01-01"), "sys-1")
    assert (one.devices, one.hardware_capacity, one.hardware_covered, one.subscription_devices) == (
        C({"core": 10}),
        C({"core": 4}),
        C({"core": 4}),
        C({"core": 6}),
    )
    assert one.hardware == ("SN-1",)
    # spare hardware capacity never covers another system's devices
    org.hardware(d("2026-01-02"), "sys-1", "SN-2", {"core": 20}, "acs-pro")
    assert org.status(d("2026-01-02")).devices == {"core": 3}
    one = org.system_status(d("2026-01-02"), "sys-1")
    assert (one.hardware_capacity, one.hardware_covered, one.subscription_devices) == (
        C({"core": 24}),
        C({"core": 10}),
        C(),
    )
    two = org.system_status(d("2026-01-02"), "sys-2")
    assert (two.hardware_capacity, two.hardware_covered, two.subscription_devices) == (
        C(),
        C(),
        C({"core": 3}),
    )


def test_r9_hardware_applies_the_covers_relation() -> None:
    org = started_org({"core": 2, "universal": 2, "door": 1})
    org.hardware(d("2026-01-01"), "sys-1", "SN-1", {"universal": 3}, "acs-pro")
    one = org.system_status(d("2026-01-01"), "sys-1")
    assert one.hardware_covered == {"universal": 2, "core": 1}  # hardest type first
    assert one.subscription_devices == {"core": 1, "door": 1}
    assert org.status(d("2026-01-01")).devices == {"core": 1, "door": 1}


def test_r9_hardware_reduces_the_need() -> None:
    org = started_org({"core": 10}, wallet={"core": 20})
    org.hardware(d("2026-01-01"), "sys-1", "SN-1", {"core": 4}, "acs-pro")
    result = org.allocate_need(d("2026-01-01"), through=1)
    assert [p.quantities for p in result.periods] == [{"core": 6}, {"core": 6}]


def test_r9_hardware_that_lowers_the_devices_locks_the_period() -> None:
    org = started_org({"core": 10}, wallet={"core": 6})
    org.allocate(d("2026-01-01"), {"core": 6})
    assert org.status(d("2026-02-01")).state is ProductState.UNLICENSED
    org.hardware(d("2026-02-01"), "sys-1", "SN-1", {"core": 4}, "acs-pro")
    st_ = org.status(d("2026-02-01"))
    assert (st_.state, st_.locked, st_.devices) == (ProductState.LICENSED, True, C({"core": 6}))
    assert org.state.ledger("acs-pro").locked == {0}


def test_r9_system_status_licensed() -> None:
    org = Org(d("2026-01-01"))
    org.system(d("2026-01-01"), "sys-hw", {"core": 2})
    org.system(d("2026-01-01"), "sys-sub", {"core": 3})
    org.hardware(d("2026-01-01"), "sys-hw", "SN-1", {"core": 2}, "acs-pro")
    # covered by its hardware alone: licensed whatever the product's state
    hw = org.system_status(d("2026-01-01"), "sys-hw")
    assert (hw.licensed, hw.product_state) == (True, ProductState.NOT_STARTED)
    sub = org.system_status(d("2026-01-01"), "sys-sub")
    assert (sub.licensed, sub.product_state) == (False, ProductState.NOT_STARTED)
    org.start(d("2026-01-01"))
    assert org.system_status(d("2026-01-10"), "sys-sub").licensed is False  # TRIAL
    assert org.system_status(d("2026-02-10"), "sys-sub").licensed is False  # UNLICENSED
    assert org.system_status(d("2026-02-10"), "sys-hw").licensed is True
    org.redeem(d("2026-02-10"), {"core": 3})
    org.allocate(d("2026-02-10"), {"core": 3})
    sub = org.system_status(d("2026-02-10"), "sys-sub")
    assert (sub.licensed, sub.product_state) == (True, ProductState.LICENSED)
    assert sub.subscription_devices == {"core": 3}


def test_r9_hardware_shipped_for_another_product_is_invalid_input() -> None:
    org = started_org({"core": 2})
    before = org.state
    with pytest.raises(InvalidInput):
        org.hardware(d("2026-01-02"), "sys-1", "SN-B", {"core": 2}, "prod-b")
    assert org.state is before
    assert org.state.hardware == {}


def test_r9_hardware_registered_twice_raises_already_registered() -> None:
    org = started_org({"core": 2})
    org.system(d("2026-01-01"), "sys-2", {"core": 1})
    org.hardware(d("2026-01-01"), "sys-1", "SN-1", {"core": 2}, "acs-pro")
    for system_id in ("sys-1", "sys-2"):
        with pytest.raises(AlreadyRegistered):
            org.hardware(d("2026-01-02"), system_id, "SN-1", {"core": 2}, "acs-pro")
    assert org.state.hardware["SN-1"].system_id == "sys-1"
    assert org.state.systems["sys-2"].hardware == ()


def test_r9_hardware_on_an_unknown_system() -> None:
    org = started_org()
    with pytest.raises(UnknownSystem):
        org.hardware(d("2026-01-02"), "nope", "SN-1", {"core": 2}, "acs-pro")


def test_r9_extension_lots_allocation() -> None:
    org = started_org({"core": 6, "door": 1})
    org.hardware(d("2026-01-01"), "sys-1", "SN-1", {"core": 2}, "acs-pro")
    org.redeem(d("2026-01-01"), {"core": 3, "door": 1}, kind=HW)
    org.redeem(d("2026-02-01"), {"core": 5}, kind=HW)
    org.to_hardware(d("2026-03-01"), "SN-1", {"core": 4, "door": 1})
    unit = org.state.hardware["SN-1"]
    assert (unit.preloaded, unit.extensions, unit.capacity) == (
        C({"core": 2}),
        C({"core": 4, "door": 1}),
        C({"core": 6, "door": 1}),
    )
    assert org.wallet(d("2026-03-01")).balance(HW) == {"core": 4}
    one = org.system_status(d("2026-03-01"), "sys-1")
    assert (one.hardware_covered, one.subscription_devices, one.licensed) == (
        C({"core": 6, "door": 1}),
        C(),
        True,
    )
    fact = org.actions(Action.EXTENSION_ALLOCATED)[-1]
    assert (fact.system_id, details(fact)["serial"]) == ("sys-1", "SN-1")
    assert details(fact)["lots"] == [
        {"lot_id": 1, "license_type": "core", "quantity": 3},
        {"lot_id": 2, "license_type": "door", "quantity": 1},
        {"lot_id": 3, "license_type": "core", "quantity": 1},
    ]
    # extension licenses stay on the unit for its lifetime, after their lots would expire
    assert org.view(d("2035-01-01")).hardware["SN-1"].capacity == {"core": 6, "door": 1}


def test_r9_extension_needs_hardware_lots() -> None:
    org = started_org({"core": 6}, wallet={"core": 10})
    org.hardware(d("2026-01-01"), "sys-1", "SN-1", {"core": 2}, "acs-pro")
    org.redeem(d("2026-01-01"), {"core": 1}, kind=HW)
    before = org.state
    with pytest.raises(InsufficientLicenses) as excinfo:
        org.to_hardware(d("2026-01-02"), "SN-1", {"core": 3})
    assert excinfo.value.shortfall == {"core": 2}
    assert org.state is before
    with pytest.raises(UnknownHardware):
        org.to_hardware(d("2026-01-02"), "SN-404", {"core": 1})


def test_r9_extension_lots_expire_in_the_wallet() -> None:
    org = Org(d("2026-01-01"))
    org.redeem(d("2026-01-01"), {"core": 3}, kind=HW)
    state, facts = engine.advance(org.state, CATALOG, d("2031-01-01"))
    assert [(f.on, details(f)["kind"], details(f)["quantity"]) for f in facts] == [
        (d("2031-01-01"), "hardware", 3)
    ]
    assert state.ledger("acs-pro").expired.hardware == {"core": 3}
    assert status.wallet_view(state, "acs-pro", d("2031-01-01")).balance(HW) == {}


def test_r12_license_terms_follow_the_product_and_the_hardware() -> None:
    org = started_org({"core": 2}, wallet={"core": 2})
    org.system(d("2026-01-01"), "sys-hw", {"core": 1})
    org.hardware(d("2026-01-01"), "sys-hw", "SN-1", {"core": 1}, "acs-pro")

    def terms(day: str, system_id: str) -> status.LicenseTerms:
        state = org.view(d(day))
        return status.license_terms(state, CATALOG, state.systems[system_id], d(day))

    trial, licensed, unlicensed = ProductState.TRIAL, ProductState.LICENSED, ProductState.UNLICENSED
    # TRIAL: the window's last day e - 1, with the reported devices (it may run);
    # hardware alone: the later of issue + 30 and e - 1
    assert terms("2026-01-10", "sys-1") == status.LicenseTerms(
        "acs-pro", False, trial, C({"core": 2}), d("2026-01-30")
    )
    assert terms("2026-01-10", "sys-hw") == status.LicenseTerms(
        "acs-pro", True, trial, C({"core": 1}), d("2026-02-09")
    )
    assert terms("2026-01-30", "sys-hw").valid_until == d("2026-03-01")  # issue + 30 days
    # UNLICENSED: the issue date, and only what hardware covers
    assert terms("2026-03-01", "sys-1") == status.LicenseTerms(
        "acs-pro", False, unlicensed, C(), d("2026-03-01")
    )
    # LICENSED: licensed_through + 30 days
    org.allocate(d("2026-03-01"), {"core": 2})
    assert terms("2026-03-01", "sys-1") == status.LicenseTerms(
        "acs-pro", True, licensed, C({"core": 2}), d("2027-01-31")
    )


def test_r7_spelled_out_constructors_know_every_field() -> None:
    """with_ledger and allocated_from_wallet list the fields by hand: a new field must be added."""
    import attrs

    from axis_licensing.policy.state import OrgState, ProductLedger

    assert [f.name for f in attrs.fields(ProductLedger)] == [
        "code", "started_on", "allocations", "locked", "growth_flagged", "credit", "lots",
        "redeemed", "compensated", "expired", "to_hardware",
    ]  # fmt: skip
    assert [f.name for f in attrs.fields(OrgState)] == [
        "org_id", "name", "timezone", "created_on", "as_of", "anchor", "products", "systems",
        "hardware", "next_lot_id", "devices",
    ]  # fmt: skip
    org = started_org({"core": 2}, wallet={"core": 5})
    org.allocate(d("2026-03-01"), {"core": 3})
    ledger = org.state.ledger("acs-pro")
    same = ledger.allocated_from_wallet(
        lots=ledger.lots,
        allocations=ledger.allocations,
        credit=ledger.credit,
        compensated=ledger.compensated,
    )
    assert same == ledger
    assert org.state.with_ledger(ledger) == org.state
