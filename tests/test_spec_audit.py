"""An outsider's audit of the library against SPEC.md, through the public API only.

Every expected value below was worked out by hand from the SPEC text (the
rule cited in each test's name), not read from the implementation. Each test
runs on memory, SQLite and PostgreSQL (``backend_url``).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

import axis_licensing
from _support import Gate, per_period, pg_schema_exists
from axis_licensing import (
    EXAMPLE_CATALOG,
    AlertKind,
    AlreadyRegistered,
    AlreadyStarted,
    Catalog,
    CatalogError,
    CatalogMismatch,
    CatalogRequired,
    Entitlement,
    IdempotencyConflict,
    IncompatibleCatalog,
    InsufficientLicenses,
    InvalidInput,
    KeyAlreadyRedeemed,
    KeyTypo,
    LicenseFileExpired,
    LicenseFileNotYetValid,
    LicenseKind,
    LicenseType,
    LicensingError,
    Manager,
    ManualClock,
    NotFound,
    OutsideAllocationWindow,
    PermissionDenied,
    ProductSpec,
    ProductState,
    ProductStatus,
    StoreNotFound,
    SubscriptionNotStarted,
    UnknownHardware,
    UnknownKey,
    UnknownOrganization,
    UnknownProduct,
    WrongSystem,
    errors,
    offline,
    to_jsonable,
)

PRO = EXAMPLE_CATALOG.product("acs-pro")
SOLO = ProductSpec("solo", "Solo", license_types=[LicenseType("core")])
CATALOG = Catalog(products=[PRO, SOLO])
SUB = LicenseKind.SUBSCRIPTION
HW = LicenseKind.HARDWARE


def at(day: date | str, hour: int = 12) -> datetime:
    """Noon (or ``hour``) UTC on ``day``."""
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(at("2026-01-01"))


@pytest.fixture
def m(backend_url: str, clock: ManualClock) -> Iterator[Manager]:
    with Manager.open(backend_url, catalog=CATALOG, clock=clock) as opened:
        yield opened


def give(m: Manager, org: str, product: str, kind: LicenseKind = SUB, **quantities: int) -> None:
    """Issue a key for ``quantities`` and redeem it in ``org``, now."""
    key = m.vendor.issue_key(product, kind, quantities)
    m.redeem_key(org, key, actor="u")


def org(m: Manager, org_id: str = "o", timezone: str = "UTC") -> str:
    m.create_organization(org_id, name=org_id.upper(), timezone=timezone, actor="u")
    return org_id


def started(m: Manager, product: str, system: str, devices: dict[str, int], **stock: int) -> None:
    """Organization o, its ``product`` subscription started, ``system`` with ``devices``,
    and ``stock`` subscription licenses redeemed."""
    org(m)
    m.start_subscription("o", product, actor="u")
    m.register_system("o", product, system, devices=devices, actor="u")
    give(m, "o", product, SUB, **stock)


def period_of(status: ProductStatus) -> tuple[int, date, date]:
    """The status's period: its index, first day and end (checked to be there)."""
    assert status.period is not None
    return status.period.index, status.period.start, status.period.end


def history_len(m: Manager, org_id: str) -> int:
    return len(m.history(org_id))


# ---------------------------------------------------------------- §1: the default `at`


def test_r1_default_at_is_never_before_the_latest_command(m: Manager, clock: ManualClock) -> None:
    """§1: a query without `at` answers at max(now, latest command)."""
    org(m)
    clock.set(at("2026-06-01"))
    m.start_subscription("o", "acs-pro", actor="u")
    m.register_system("o", "acs-pro", "s1", devices={"core": 2}, actor="u")
    clock.set(at("2026-05-01"))  # a clock set back
    status = m.status("o", "acs-pro")
    assert status.state is ProductState.TRIAL
    assert status.period is not None
    assert status.period.start == d("2026-06-01")
    assert status.window_ends_on == d("2026-07-01")
    assert m.system_status("o", "s1").devices == {"core": 2}
    # an explicit earlier `at` answers from the facts recorded up to then
    assert m.status("o", "acs-pro", at=at("2026-05-15")).state is ProductState.NOT_STARTED
    # a later `at` projects forward: the trial has ended
    assert m.status("o", "acs-pro", at=at("2026-07-01")).state is ProductState.UNLICENSED


def test_r1_default_at_sees_a_window_end_reached_by_the_latest_command(
    m: Manager, clock: ManualClock
) -> None:
    """§1: the latest command at the window's end `e` wins over a clock set back a day."""
    org(m)
    clock.set(at("2026-03-10"))
    m.start_subscription("o", "acs-pro", actor="u")
    m.register_system("o", "acs-pro", "s1", devices={"core": 1}, actor="u")
    clock.set(at("2026-04-09"))
    m.report_devices("o", "s1", devices={"core": 2}, actor="u")
    clock.set(at("2026-04-08"))
    assert m.status("o", "acs-pro").state is ProductState.UNLICENSED
    assert m.status("o", "acs-pro", at=at("2026-04-08")).state is ProductState.TRIAL


def test_r1_ownership_and_unique_ids_across_organizations(m: Manager) -> None:
    org(m, "alpha-secret")
    org(m, "beta")
    m.register_system("alpha-secret", "acs-pro", "s1", devices={}, actor="u")
    with pytest.raises(AlreadyRegistered) as caught:
        m.register_system("beta", "acs-pro", "s1", devices={}, actor="u")
    assert "alpha-secret" not in str(caught.value)
    assert "alpha-secret" not in json.dumps(to_jsonable(caught.value))
    with pytest.raises(AlreadyRegistered):
        m.register_system("alpha-secret", "acs-pro", "s1", devices={}, actor="u")
    key = m.vendor.issue_key("acs-pro", SUB, {"core": 1})
    m.redeem_key("alpha-secret", key, actor="u")
    with pytest.raises(KeyAlreadyRedeemed) as redeemed:
        m.redeem_key("beta", key, actor="u")
    assert "alpha-secret" not in str(redeemed.value)
    assert m.wallet("beta", "acs-pro").lots == ()
    # report_devices replaces the whole mapping
    m.report_devices("alpha-secret", "s1", devices={"core": 3, "door": 1}, actor="u")
    m.report_devices("alpha-secret", "s1", devices={"door": 2}, actor="u")
    assert m.system_status("alpha-secret", "s1").devices == {"door": 2}


# ---------------------------------------------------------------- R2, R3


def test_r2_anchor_on_29_february_and_period_indices(m: Manager, clock: ManualClock) -> None:
    """R2: boundaries from the anchor: 2028-02-29 gives 2029-02-28, then 2032-02-29."""
    org(m)
    clock.set(at("2028-02-29"))
    m.start_subscription("o", "acs-pro", actor="u")
    assert m.organizations()[0].anchor == d("2028-02-29")
    p1 = m.status("o", "acs-pro", at=at("2029-03-01")).period
    assert p1 is not None
    assert (p1.index, p1.start, p1.end) == (1, d("2029-02-28"), d("2030-02-28"))
    p4 = m.status("o", "acs-pro", at=at("2032-02-29")).period
    assert p4 is not None
    assert (p4.index, p4.start, p4.end) == (4, d("2032-02-29"), d("2033-02-28"))
    p3 = m.status("o", "acs-pro", at=at("2032-02-28")).period
    assert p3 is not None
    assert (p3.index, p3.start) == (3, d("2031-02-28"))
    with pytest.raises(AlreadyStarted):
        m.start_subscription("o", "acs-pro", actor="u")


def test_r2_r3_partial_first_period_of_a_second_product(m: Manager, clock: ManualClock) -> None:
    """R2: the anchor stays; B's first period is the one containing S; R3: w = S."""
    org(m)
    m.start_subscription("o", "acs-pro", actor="u")
    clock.set(at("2026-07-02"))
    m.start_subscription("o", "solo", actor="u")
    status = m.status("o", "solo")
    assert period_of(status) == (0, d("2026-01-01"), d("2027-01-01"))
    assert status.window_ends_on == d("2026-08-01")
    assert status.state is ProductState.TRIAL
    assert m.organizations()[0].anchor == d("2026-01-01")
    # the next period is a grace period, of B as of every product
    later = m.status("o", "solo", at=at("2027-01-05"))
    assert later.state is ProductState.GRACE
    assert later.window_ends_on == d("2027-01-31")


def test_r3_trial_example_2026_03_10(m: Manager, clock: ManualClock) -> None:
    """R3: S = 2026-03-10 gives a trial through 2026-04-08; e = 2026-04-09."""
    org(m)
    clock.set(at("2026-03-10"))
    m.start_subscription("o", "acs-pro", actor="u")
    m.register_system("o", "acs-pro", "s1", devices={"core": 1}, actor="u")
    last = m.status("o", "acs-pro", at=at("2026-04-08", 23))
    assert last.state is ProductState.TRIAL
    assert last.window_ends_on == d("2026-04-09")
    assert m.status("o", "acs-pro", at=at("2026-04-09", 0)).state is ProductState.UNLICENSED
    # 0 devices with 0 licenses after the window: LICENSED (R5)
    m.report_devices("o", "s1", devices={}, actor="u")
    assert m.status("o", "acs-pro", at=at("2026-05-01")).state is ProductState.LICENSED


def test_r3_local_dates_follow_the_organization_zone(m: Manager, clock: ManualClock) -> None:
    """§1: a command's local date is its instant in the organization's zone."""
    org(m, "tokyo", timezone="Asia/Tokyo")
    clock.set(datetime(2026, 3, 9, 16, 0, tzinfo=UTC))  # 2026-03-10 01:00 in Tokyo
    m.start_subscription("tokyo", "acs-pro", actor="u")
    status = m.status("tokyo", "acs-pro")
    assert status.period is not None
    assert status.period.start == d("2026-03-10")
    assert status.window_ends_on == d("2026-04-09")
    assert m.history("tokyo", actions=["subscription_started"])[0].on == d("2026-03-10")


# ---------------------------------------------------------------- R4, R5


def _locked_solo(m: Manager, allocated: int, devices: int) -> None:
    org(m)
    m.start_subscription("o", "solo", actor="u")
    m.register_system("o", "solo", "s1", devices={"core": allocated}, actor="u")
    give(m, "o", "solo", core=allocated)
    m.allocate("o", "solo", {"core": allocated}, actor="u")
    m.report_devices("o", "s1", devices={"core": devices}, actor="u")


def test_r5_locked_one_type_10_allocated_23_devices(m: Manager) -> None:
    """R5: required_now = ceil(23/2) − 10 = 2; LICENSED with a warning."""
    _locked_solo(m, 10, 23)
    status = m.status("o", "solo")
    assert status.state is ProductState.LICENSED
    assert status.growth_exceeded is True
    assert status.required_now == {"core": 2}
    assert status.licensed_through == d("2027-01-01")
    need = m.need("o", "solo", horizon=1)
    assert need.periods[0].need == {"core": 12}  # R4: allocated + required_now
    assert need.periods[0].shortfall == {"core": 2}
    assert need.periods[1].need == {"core": 23}  # R4: future need = current devices
    assert need.to_buy == {"core": 25}
    grown = m.history("o", actions=["growth_exceeded"])
    assert [(a.actor, a.product) for a in grown] == [("system", "solo")]
    # within the allowance: 20 devices need nothing
    m.report_devices("o", "s1", devices={"core": 20}, actor="u")
    assert m.status("o", "solo").required_now == {}
    assert m.status("o", "solo").growth_exceeded is False


def test_r5_unlocked_shortfall_core_5_universal_2(m: Manager) -> None:
    """R5: 3 core licenses, devices core 5 + universal 2: {core: 2, universal: 2}."""
    started(m, "acs-pro", "s1", {"core": 5, "universal": 2}, core=3)
    m.allocate("o", "acs-pro", {"core": 3}, actor="u")
    status = m.status("o", "acs-pro")
    assert status.state is ProductState.TRIAL
    assert status.allocated == {"core": 3}
    need = m.need("o", "acs-pro", horizon=0)
    assert need.periods[0].need == {"core": 5, "universal": 2}
    assert need.periods[0].shortfall == {"core": 2, "universal": 2}


def test_r5_locked_smallest_shortfall_worked_example(m: Manager) -> None:
    """R5: allocated core 3 + universal 8, devices core 17 + universal 19.

    required_now = {universal: 2, core: 5}.
    """
    started(m, "acs-pro", "s1", {"core": 3, "universal": 8}, core=3, universal=8)
    m.allocate("o", "acs-pro", {"core": 3, "universal": 8}, actor="u")
    assert m.status("o", "acs-pro").state is ProductState.LICENSED  # locked
    m.report_devices("o", "s1", devices={"core": 17, "universal": 19}, actor="u")
    status = m.status("o", "acs-pro")
    assert status.state is ProductState.LICENSED
    assert status.growth_exceeded is True
    assert status.required_now == {"universal": 2, "core": 5}
    need = m.need("o", "acs-pro", horizon=0)
    assert need.periods[0].need == {"core": 8, "universal": 10}
    assert need.periods[0].shortfall == {"core": 5, "universal": 2}


def test_r5_advance_allocation_locks_at_period_start_and_licensed_through(
    m: Manager, clock: ManualClock
) -> None:
    """R5: licenses allocated in advance lock the period at its start; licensed_through."""
    started(m, "solo", "s1", {"core": 2}, core=10)
    m.allocate("o", "solo", {"core": 2}, actor="u")
    m.allocate("o", "solo", {"core": 2}, period=1, actor="u")
    m.allocate("o", "solo", {"core": 2}, period=3, actor="u")  # period 2 left bare
    status = m.status("o", "solo")
    assert status.licensed_through == d("2028-01-01")
    renewed = m.status("o", "solo", at=at("2027-01-05"))
    assert renewed.state is ProductState.LICENSED
    assert renewed.licensed_through == d("2028-01-01")
    bare = m.status("o", "solo", at=at("2028-01-05"))
    assert bare.state is ProductState.GRACE
    assert bare.licensed_through is None
    assert m.status("o", "solo", at=at("2028-01-31")).state is ProductState.UNLICENSED


# ---------------------------------------------------------------- R6, R7


def test_r6_lot_of_29_february_expires_28_february(m: Manager, clock: ManualClock) -> None:
    """R6: 2028-02-29 gives 2033-02-28; expiry shows without any command in between."""
    org(m)
    clock.set(at("2028-02-29"))
    give(m, "o", "solo", core=3)
    lots = m.wallet("o", "solo").lots
    assert [(lot.quantity, lot.acquired_on, lot.expires_on) for lot in lots] == [
        (3, d("2028-02-29"), d("2033-02-28"))
    ]
    assert m.wallet("o", "solo", at=at("2033-02-27", 23)).balance() == {"core": 3}
    gone = m.wallet("o", "solo", at=at("2033-02-28", 0))
    assert gone.lots == ()
    assert gone.balance() == {}
    clock.set(at("2033-03-01"))
    expired = m.history("o", actions=["licenses_expired"])
    assert [(a.on, a.actor, a.product) for a in expired] == [(d("2033-02-28"), "system", "solo")]


def test_r6_allocation_takes_the_earliest_expiry_first(m: Manager, clock: ManualClock) -> None:
    org(m)
    m.start_subscription("o", "solo", actor="u")
    give(m, "o", "solo", core=3)
    clock.set(at("2026-02-01"))
    give(m, "o", "solo", core=5)
    # both lots are live; the older expiry first
    assert [lot.expires_on for lot in m.wallet("o", "solo").lots] == [
        d("2031-01-01"),
        d("2031-02-01"),
    ]
    clock.set(at("2026-02-02"))
    m.allocate("o", "solo", {"core": 4}, actor="u")  # in the trial: no compensation
    lots = m.wallet("o", "solo").lots
    assert [(lot.quantity, lot.expires_on) for lot in lots] == [(4, d("2031-02-01"))]
    assert m.wallet("o", "solo").balance(kind=SUB) == {"core": 4}


def test_r6_r7_allocation_needs_a_started_subscription(m: Manager) -> None:
    org(m)
    give(m, "o", "solo", core=1)  # redeeming needs no subscription
    with pytest.raises(SubscriptionNotStarted):
        m.allocate("o", "solo", {"core": 1}, actor="u")
    with pytest.raises(SubscriptionNotStarted):
        m.allocate_need("o", "solo", actor="u")
    with pytest.raises(SubscriptionNotStarted):
        m.need("o", "solo")


def test_r7_five_year_window_and_insufficient(m: Manager) -> None:
    """R7: period start ≤ local date + 5 years; a short wallet changes nothing."""
    org(m)
    m.start_subscription("o", "solo", actor="u")
    give(m, "o", "solo", core=3)
    allocation = m.allocate("o", "solo", {"core": 1}, period=5, actor="u")  # 2031-01-01
    assert [(p.period.start, dict(p.quantities)) for p in allocation.periods] == [
        (d("2031-01-01"), {"core": 1})
    ]
    before = history_len(m, "o")
    with pytest.raises(OutsideAllocationWindow):
        m.allocate("o", "solo", {"core": 1}, period=6, actor="u")
    with pytest.raises(OutsideAllocationWindow):
        m.allocate("o", "solo", {"core": 1}, period=-1, actor="u")
    with pytest.raises(InsufficientLicenses) as short:
        m.allocate("o", "solo", {"core": 5}, actor="u")
    assert short.value.shortfall == {"core": 3}
    assert short.value.details["shortfall"] == {"core": 3}
    assert history_len(m, "o") == before
    assert m.wallet("o", "solo").balance() == {"core": 2}


def test_r7_allocate_need_all_or_nothing(m: Manager) -> None:
    started(m, "acs-pro", "s1", {"core": 5, "universal": 2}, core=9, universal=10, door=3)
    before = history_len(m, "o")
    with pytest.raises(InsufficientLicenses) as short:
        m.allocate_need("o", "acs-pro", through=1, actor="u")
    assert short.value.shortfall == {"core": 1}
    assert history_len(m, "o") == before
    give(m, "o", "acs-pro", core=1)
    allocation = m.allocate_need("o", "acs-pro", through=1, actor="u")
    assert per_period(allocation) == [
        (0, {"core": 5, "universal": 2}),
        (1, {"core": 5, "universal": 2}),
    ]
    assert m.wallet("o", "acs-pro").balance() == {"universal": 6, "door": 3}
    count = history_len(m, "o")
    again = m.allocate_need("o", "acs-pro", through=1, actor="u")
    assert again.periods == ()
    assert again.compensation == {}
    assert history_len(m, "o") == count


# ---------------------------------------------------------------- R8


def test_r8_first_example_partial_period(m: Manager, clock: ManualClock) -> None:
    """R8: B starts 2026-07-02; 10 core on 2026-07-10 → 4 back, credit 72/73."""
    org(m)
    m.start_subscription("o", "acs-pro", actor="u")
    clock.set(at("2026-07-02"))
    m.start_subscription("o", "solo", actor="u")
    clock.set(at("2026-07-10"))
    give(m, "o", "solo", core=10)
    allocation = m.allocate("o", "solo", {"core": 10}, actor="u")
    assert allocation.compensation == {"core": 4}
    assert allocation.credit == {"core": Fraction(72, 73)}
    wallet = m.wallet("o", "solo")
    assert wallet.credit == {"core": Fraction(72, 73)}
    assert [(lot.quantity, lot.acquired_on, lot.expires_on) for lot in wallet.lots] == [
        (4, d("2026-07-10"), d("2031-07-10"))
    ]
    credited = m.history("o", actions=["compensation_credited"])
    assert [(a.actor, a.on) for a in credited] == [("system", d("2026-07-10"))]
    # second example with the earlier credit: 72/73 + 120/73 = 2 + 46/73
    clock.set(at("2027-03-02"))
    give(m, "o", "solo", core=10)
    later = m.allocate("o", "solo", {"core": 10}, actor="u")
    assert later.compensation == {"core": 2}
    assert later.credit == {"core": Fraction(46, 73)}


def test_r8_second_example_after_the_grace(m: Manager, clock: ManualClock) -> None:
    """R8: period [2027-01-01, 2028-01-01), 10 core on 2027-03-02 → 1 back, 47/73."""
    org(m)
    m.start_subscription("o", "solo", actor="u")
    assert m.status("o", "solo", at=at("2027-01-15")).window_ends_on == d("2027-01-31")
    clock.set(at("2027-03-02"))
    give(m, "o", "solo", core=10)
    allocation = m.allocate("o", "solo", {"core": 10}, actor="u")
    assert allocation.compensation == {"core": 1}
    assert allocation.credit == {"core": Fraction(47, 73)}
    # future periods get no compensation and no activity
    give(m, "o", "solo", core=10)
    count = len(m.history("o", actions=["compensation_credited"]))
    future = m.allocate("o", "solo", {"core": 10}, period=1, actor="u")
    assert future.compensation == {}
    assert len(m.history("o", actions=["compensation_credited"])) == count


# ---------------------------------------------------------------- R9


def test_r9_hardware_covers_its_system_first(m: Manager) -> None:
    org(m)
    m.start_subscription("o", "acs-pro", actor="u")
    m.vendor.ship_hardware("SN-1", "acs-pro", {"core": 4})
    m.vendor.ship_hardware("SN-2", "solo", {"core": 1})
    m.register_system("o", "acs-pro", "s1", devices={"core": 6, "door": 1}, actor="u")
    m.register_hardware("o", "s1", "SN-1", actor="u")
    s1 = m.system_status("o", "s1")
    assert s1.hardware == ("SN-1",)
    assert s1.hardware_capacity == {"core": 4}
    assert s1.hardware_covered == {"core": 4}
    assert s1.subscription_devices == {"core": 2, "door": 1}
    assert m.status("o", "acs-pro").devices == {"core": 2, "door": 1}
    give(m, "o", "acs-pro", HW, universal=2)
    assert m.wallet("o", "acs-pro").balance(kind=HW) == {"universal": 2}
    assert m.wallet("o", "acs-pro").balance() == {}
    m.allocate_to_hardware("o", "SN-1", {"universal": 2}, actor="u")
    s1 = m.system_status("o", "s1")
    assert s1.hardware_capacity == {"core": 4, "universal": 2}
    assert s1.hardware_covered == {"core": 6}
    assert s1.subscription_devices == {"door": 1}
    assert m.wallet("o", "acs-pro").balance(kind=HW) == {}
    with pytest.raises(AlreadyRegistered):
        m.register_hardware("o", "s1", "SN-1", actor="u")
    with pytest.raises(UnknownHardware):
        m.register_hardware("o", "s1", "SN-9", actor="u")
    with pytest.raises(InvalidInput):
        m.register_hardware("o", "s1", "SN-2", actor="u")
    # licensed: everything covered by hardware
    m.report_devices("o", "s1", devices={"core": 6}, actor="u")
    assert m.system_status("o", "s1", at=at("2026-03-01")).licensed is True
    assert m.status("o", "acs-pro", at=at("2026-03-01")).state is ProductState.LICENSED


# ---------------------------------------------------------------- R10, R11


CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ-")


def test_r10_keys_typos_and_unknown(m: Manager, backend_url: str) -> None:
    org(m)
    key = m.vendor.issue_key("solo", SUB, {"core": 2})
    assert len(key) <= 40
    assert set(key.upper()) <= CROCKFORD
    symbols = key.replace("-", "").upper()
    # one substitution → KeyTypo
    i = len(symbols) // 2
    other = "0" if symbols[i] != "0" else "1"
    with pytest.raises(KeyTypo):
        m.redeem_key("o", symbols[:i] + other + symbols[i + 1 :], actor="u")
    # a transposition of two different neighbours → KeyTypo
    j = next(k for k in range(len(symbols) - 1) if symbols[k] != symbols[k + 1])
    swapped = symbols[:j] + symbols[j + 1] + symbols[j] + symbols[j + 2 :]
    with pytest.raises(KeyTypo):
        m.redeem_key("o", swapped, actor="u")
    # a well-formed key never issued by this store → UnknownKey
    with Manager.open("memory://", catalog=CATALOG) as elsewhere:
        foreign = elsewhere.vendor.issue_key("solo", SUB, {"core": 1})
    with pytest.raises(UnknownKey):
        m.redeem_key("o", foreign, actor="u")
    # normalised: case, spaces and dashes
    typed = " ".join(symbols[k : k + 4] for k in range(0, len(symbols), 4)).lower()
    typed = typed.replace("1", "l").replace("0", "o")
    redemption = m.redeem_key("o", typed, actor="u")
    assert [(lot.license_type, lot.quantity) for lot in redemption.lots] == [("core", 2)]
    with pytest.raises(KeyAlreadyRedeemed) as again:
        m.redeem_key("o", key, actor="u")
    stored = json.dumps([a.details for a in m.history("o")], ensure_ascii=False) + str(again.value)
    for k in range(len(symbols) - 4):
        assert symbols[k : k + 5] not in stored.upper()


def test_r11_history_filters_and_order(m: Manager, clock: ManualClock) -> None:
    org(m)
    m.start_subscription("o", "acs-pro", actor="ann")
    clock.set(at("2026-01-02"))
    m.register_system("o", "acs-pro", "s1", devices={"core": 1}, actor="bob")
    clock.set(at("2026-01-03"))
    m.report_devices("o", "s1", devices={"core": 2}, actor="ann")
    actions = [a.action for a in m.history("o")]
    assert actions == [
        "organization_created",
        "subscription_started",
        "system_registered",
        "devices_reported",
    ]
    registered = m.history("o", actions=["system_registered"])[0]
    assert (registered.system_id, registered.product, registered.on) == (
        "s1",
        "acs-pro",
        d("2026-01-02"),
    )
    assert [a.action for a in m.history("o", actor="ann")] == [
        "subscription_started",
        "devices_reported",
    ]
    assert [a.on for a in m.history("o", since=at("2026-01-02", 0))] == [
        d("2026-01-02"),
        d("2026-01-03"),
    ]
    assert [a.action for a in m.history("o", limit=2, offset=1)] == [
        "subscription_started",
        "system_registered",
    ]


# ---------------------------------------------------------------- R12


def describe(
    clock: ManualClock, system_id: str, devices: dict[str, int], hardware: tuple[str, ...] = ()
) -> bytes:
    return offline.describe_system(
        system_id=system_id, product="acs-pro", devices=devices, hardware=hardware, now=clock.now()
    )


def verify(m: Manager, data: bytes, system_id: str, now: datetime) -> Entitlement:
    return offline.verify_license_file(
        data, trusted_keys=[m.public_key], system_id=system_id, now=now
    )


def s1_file(m: Manager, clock: ManualClock, checked_at: datetime) -> tuple[bytes, Entitlement]:
    """The license file of system s1 (2 core devices), made now; what it says at ``checked_at``."""
    data = m.upload_system_file("o", describe(clock, "s1", {"core": 2}), actor="u")
    return data, verify(m, data, "s1", checked_at)


def file_terms(ent: Entitlement) -> tuple[ProductState, date, bool, bool, dict[str, int]]:
    """What a license file says: state, last valid day, licensed, may run, devices."""
    return ent.state, ent.valid_until, ent.licensed, ent.may_run, dict(ent.devices)


def test_r12_trial_file_ends_on_the_window_last_day(m: Manager, clock: ManualClock) -> None:
    """R12: in TRIAL, valid_until = e − 1 = 2026-04-08; may_run, not licensed."""
    org(m)
    clock.set(at("2026-03-10"))
    m.start_subscription("o", "acs-pro", actor="u")
    clock.set(at("2026-03-15"))
    data, ent = s1_file(m, clock, at("2026-04-08", 23))
    assert file_terms(ent) == (ProductState.TRIAL, d("2026-04-08"), False, True, {"core": 2})
    with pytest.raises(LicenseFileExpired):
        verify(m, data, "s1", at("2026-04-09", 0))
    with pytest.raises(WrongSystem):
        verify(m, data, "s2", at("2026-03-20"))
    with pytest.raises(LicenseFileNotYetValid):
        verify(m, data, "s1", at("2026-03-15") - timedelta(minutes=6))
    assert verify(m, data, "s1", at("2026-03-15") - timedelta(minutes=4)).valid_until == d(
        "2026-04-08"
    )
    uploaded = m.history("o", actions=["system_file_uploaded"])
    assert [(a.system_id, a.actor) for a in uploaded] == [("s1", "u")]


def test_r12_licensed_grace_and_unlicensed_files(m: Manager, clock: ManualClock) -> None:
    org(m)
    m.start_subscription("o", "acs-pro", actor="u")
    m.upload_system_file("o", describe(clock, "s1", {"core": 2}), actor="u")
    give(m, "o", "acs-pro", core=2)
    m.allocate("o", "acs-pro", {"core": 2}, actor="u")
    clock.set(at("2026-01-10"))
    _, licensed = s1_file(m, clock, at("2026-06-01"))
    # LICENSED: licensed_through (2027-01-01) + 30 days
    assert licensed.state is ProductState.LICENSED
    assert licensed.valid_until == d("2027-01-31")
    assert (licensed.licensed, licensed.may_run) == (True, True)
    # GRACE in period 1: w = 2027-01-01, e = 2027-01-31 → valid through 2027-01-30
    clock.set(at("2027-01-05"))
    grace_file, grace = s1_file(m, clock, at("2027-01-30", 23))
    assert file_terms(grace) == (ProductState.GRACE, d("2027-01-30"), False, True, {"core": 2})
    with pytest.raises(LicenseFileExpired):
        verify(m, grace_file, "s1", at("2027-01-31", 0))
    # UNLICENSED: valid on the issue date only, only what hardware covers
    clock.set(at("2027-03-01"))
    unlicensed_file, unlicensed = s1_file(m, clock, at("2027-03-01", 23))
    assert file_terms(unlicensed) == (ProductState.UNLICENSED, d("2027-03-01"), False, False, {})
    with pytest.raises(LicenseFileExpired):
        verify(m, unlicensed_file, "s1", at("2027-03-02", 0))


def test_r12_hardware_alone(m: Manager, clock: ManualClock) -> None:
    """R12: licensed through hardware alone: the later of the state's date and issue + 30."""
    org(m)
    m.start_subscription("o", "acs-pro", actor="u")
    m.vendor.ship_hardware("SN-1", "acs-pro", {"core": 2})
    clock.set(at("2026-01-10"))
    in_trial = verify(
        m,
        m.upload_system_file("o", describe(clock, "s1", {"core": 2}, ("SN-1",)), actor="u"),
        "s1",
        at("2026-01-10"),
    )
    assert in_trial.state is ProductState.TRIAL
    assert in_trial.licensed is True
    assert in_trial.may_run is True
    assert in_trial.valid_until == d("2026-02-09")  # max(2026-01-30, 2026-01-10 + 30)
    m.register_system("o", "acs-pro", "s2", devices={"core": 5}, actor="u")
    clock.set(at("2026-03-01"))
    data = m.upload_system_file("o", describe(clock, "s1", {"core": 2}, ("SN-1",)), actor="u")
    ent = verify(m, data, "s1", at("2026-03-31", 23))
    assert ent.state is ProductState.UNLICENSED
    assert (ent.licensed, ent.may_run) == (True, True)
    assert ent.valid_until == d("2026-03-31")
    assert ent.devices == {"core": 2}
    assert m.system_status("o", "s2").licensed is False


def test_r12_failed_upload_changes_nothing(m: Manager) -> None:
    org(m)
    org(m, "other")
    m.vendor.ship_hardware("SN-1", "acs-pro", {"core": 1})
    m.register_system("other", "acs-pro", "x", devices={}, actor="u")
    m.register_hardware("other", "x", "SN-1", actor="u")
    before = history_len(m, "o")
    data = offline.describe_system(
        system_id="s1",
        product="acs-pro",
        devices={"core": 1},
        hardware=("SN-1",),
        now=at("2026-01-01"),
    )
    with pytest.raises(AlreadyRegistered) as caught:
        m.upload_system_file("o", data, actor="u")
    assert "other" not in json.dumps(to_jsonable(caught.value))
    assert history_len(m, "o") == before
    assert m.systems("o") == []


# ---------------------------------------------------------------- R13


def test_r13_idempotency(m: Manager) -> None:
    org(m)
    m.start_subscription("o", "solo", actor="u")
    give(m, "o", "solo", core=2)
    with pytest.raises(InsufficientLicenses):
        m.allocate("o", "solo", {"core": 3}, actor="u", request_id="r1")
    give(m, "o", "solo", core=2)
    first = m.allocate("o", "solo", {"core": 3}, actor="u", request_id="r1")  # runs again
    count = history_len(m, "o")
    assert m.allocate("o", "solo", {"core": 3}, actor="u", request_id="r1") == first
    assert history_len(m, "o") == count
    assert m.wallet("o", "solo").balance() == {"core": 1}
    with pytest.raises(IdempotencyConflict):
        m.allocate("o", "solo", {"core": 1}, actor="u", request_id="r1")
    k1 = m.vendor.issue_key("solo", SUB, {"core": 1}, request_id="v1")
    assert m.vendor.issue_key("solo", SUB, {"core": 1}, request_id="v1") == k1


# ---------------------------------------------------------------- R14


SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def _error_classes() -> list[type[LicensingError]]:
    found = [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, LicensingError)
    ]
    return sorted(found, key=lambda cls: cls.__name__)


def test_r14_every_error_code_is_snake_case_unique_and_documented() -> None:
    classes = _error_classes()
    assert len(classes) >= 31
    codes = [cls.code for cls in classes]
    assert all(SNAKE.match(code) for code in codes), codes
    assert len(set(codes)) == len(codes)
    for cls in classes:
        assert getattr(axis_licensing, cls.__name__) is cls
    docs = (Path(__file__).parent.parent / "docs" / "errors.md").read_text()
    for code in codes:
        assert f"`{code}`" in docs, code
    # a few codes pinned: they are the contract and may not change
    assert InsufficientLicenses.code == "insufficient_licenses"
    assert CatalogMismatch.code == "catalog_mismatch"
    assert StoreNotFound.code == "store_not_found"
    assert issubclass(IncompatibleCatalog, InvalidInput)
    assert issubclass(StoreNotFound, NotFound)
    assert issubclass(CatalogRequired, CatalogError)
    assert issubclass(InvalidInput, ValueError)
    assert issubclass(NotFound, LookupError)


def _assert_jsonable(error: LicensingError) -> dict[str, Any]:
    data = to_jsonable(error)
    assert set(data) == {"code", "message", "details"}
    assert data["code"] == type(error).code
    assert data["message"] == str(error)
    assert json.loads(json.dumps(data)) == data
    result: dict[str, Any] = data["details"]
    return result


BAD_QUANTITIES: list[object] = [0, -1, 1.5, "2", True, None, 1_000_001]


@pytest.mark.parametrize("bad", BAD_QUANTITIES, ids=repr)
def test_r14_bad_quantities_are_refused_and_change_nothing(m: Manager, bad: object) -> None:
    org(m)
    m.start_subscription("o", "solo", actor="u")
    give(m, "o", "solo", core=5)
    count = history_len(m, "o")
    with pytest.raises(InvalidInput) as caught:
        m.allocate("o", "solo", {"core": bad}, actor="u")  # type: ignore[dict-item]
    _assert_jsonable(caught.value)
    with pytest.raises(InvalidInput):
        m.vendor.issue_key("solo", SUB, {"core": bad})  # type: ignore[dict-item]
    if bad != 0:  # a device count may be 0 (§3: zero entries mean none)
        with pytest.raises(InvalidInput):
            m.register_system("o", "solo", "s1", devices={"core": bad}, actor="u")  # type: ignore[dict-item]
    assert history_len(m, "o") == count
    assert m.wallet("o", "solo").balance() == {"core": 5}


def test_r14_quantity_of_one_million_is_allowed(m: Manager) -> None:
    org(m)
    give(m, "o", "solo", core=1_000_000)
    assert m.wallet("o", "solo").balance() == {"core": 1_000_000}


@pytest.mark.parametrize("bad", ["", "x" * 129, "a\nb", "a\x00b", "tab\there", 7], ids=repr)
def test_r14_bad_ids_are_refused(m: Manager, bad: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        m.create_organization(bad, name="n", actor="u")  # type: ignore[arg-type]
    _assert_jsonable(caught.value)
    org(m)
    with pytest.raises(InvalidInput):
        m.register_system("o", "solo", bad, devices={}, actor="u")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        m.start_subscription("o", "solo", actor=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        m.start_subscription("o", "solo", actor="u", request_id=bad)  # type: ignore[arg-type]
    assert m.organizations()[0].org_id == "o"
    assert len(m.organizations()) == 1
    assert m.status("o", "solo").state is ProductState.NOT_STARTED
    m.create_organization("y" * 128, name="n", actor="u")  # 128 is fine


def test_r14_other_inputs(m: Manager) -> None:
    org(m)
    m.start_subscription("o", "solo", actor="u")
    give(m, "o", "solo", core=3)
    with pytest.raises(InvalidInput) as naive:
        m.status("o", "solo", at=datetime(2026, 1, 1))
    assert _assert_jsonable(naive.value).get("param") == "at"
    with pytest.raises(InvalidInput):
        m.create_organization("z", name="Z", timezone="Mars/Olympus", actor="u")
    with pytest.raises(InvalidInput):
        m.allocate("o", "solo", {"door": 1}, actor="u")  # not a type of solo
    for period in ("1", 1.0, None, True):
        with pytest.raises(InvalidInput) as caught:
            m.allocate("o", "solo", {"core": 1}, period=period, actor="u")  # type: ignore[arg-type]
        assert _assert_jsonable(caught.value).get("param") == "period"
    with pytest.raises(UnknownProduct) as unknown_product:
        m.status("o", "nope")
    _assert_jsonable(unknown_product.value)
    with pytest.raises(UnknownOrganization):
        m.status("nope", "solo")
    with pytest.raises(InsufficientLicenses) as short:
        m.allocate("o", "solo", {"core": 5}, actor="u")
    assert _assert_jsonable(short.value)["shortfall"] == {"core": 2}
    assert m.wallet("o", "solo").balance() == {"core": 3}
    assert [a.action for a in m.history("o")][-1] == "key_redeemed"


# ---------------------------------------------------------------- R15


def _reopenable(backend_url: str) -> None:
    if backend_url == "memory://":
        pytest.skip("memory:// is private to the Manager that opened it (§3)")


def test_r15_empty_store_needs_a_catalog(backend_url: str) -> None:
    with pytest.raises(CatalogRequired) as caught:
        Manager.open(backend_url)
    assert isinstance(caught.value, CatalogError)
    _assert_jsonable(caught.value)


def test_r15_first_open_records_version_1_and_reopen_uses_it(
    backend_url: str, clock: ManualClock
) -> None:
    _reopenable(backend_url)
    with Manager.open(backend_url, catalog=CATALOG, clock=clock) as first:
        versions = first.catalog_versions()
        assert [(v.version, v.catalog) for v in versions] == [(1, CATALOG)]
        org(first)
    with Manager.open(backend_url, clock=clock) as again:
        assert again.catalog == CATALOG
        assert again.status("o", "solo").state is ProductState.NOT_STARTED
    with Manager.open(backend_url, catalog=CATALOG, clock=clock) as same:
        assert len(same.catalog_versions()) == 1


def test_r15_mismatch_lists_differences_and_changes_nothing(
    backend_url: str, clock: ManualClock
) -> None:
    _reopenable(backend_url)
    with Manager.open(backend_url, catalog=CATALOG, clock=clock):
        pass
    other = Catalog(
        products=[
            PRO,
            ProductSpec(
                "solo", "Solo", growth_rate=Fraction(1, 2), license_types=[LicenseType("core")]
            ),
            ProductSpec("extra", "Extra"),
        ]
    )
    with pytest.raises(CatalogMismatch) as caught:
        Manager.open(backend_url, catalog=other, clock=clock)
    message = str(caught.value)
    assert "extra" in message
    assert "growth_rate" in message
    _assert_jsonable(caught.value)
    with Manager.open(backend_url, clock=clock) as after:
        assert after.catalog == CATALOG
        assert len(after.catalog_versions()) == 1


def test_r15_publish_allowed_changes(m: Manager, clock: ManualClock) -> None:
    started(m, "solo", "s1", {"core": 10}, core=40)
    m.allocate("o", "solo", {"core": 10}, actor="u")
    m.report_devices("o", "s1", devices={"core": 23}, actor="u")
    clock.set(at("2026-06-01"))
    v2 = Catalog(
        products=[
            ProductSpec(
                "acs-pro",
                "Camera Station Pro (renamed)",
                license_types=[*PRO.license_types, LicenseType("lpr")],
            ),
            ProductSpec(
                "solo",
                "Solo",
                growth_rate=Fraction(3),
                grace_days=10,
                license_types=[LicenseType("core")],
            ),
            ProductSpec("new", "New"),
        ]
    )
    assert m.vendor.publish_catalog(v2, actor="vendor") == 2
    versions = m.catalog_versions()
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].effective_at == at("2026-06-01")
    assert versions[1].catalog == v2
    assert versions[0].catalog == CATALOG
    assert versions[0].effective_at <= at("2026-01-01")
    assert m.catalog == v2
    # period 0 began under version 1: multiplier 2, so 23 devices need 2 more
    assert m.status("o", "solo").required_now == {"core": 2}
    # period 1 begins under version 2: grace of 10 days, multiplier 4
    renewal = m.status("o", "solo", at=at("2027-01-02"))
    assert renewal.window_ends_on == d("2027-01-11")
    assert renewal.state is ProductState.GRACE
    m.allocate("o", "solo", {"core": 23}, period=1, actor="u")  # locks period 1 at its start
    # a past `at` uses the version in effect then
    assert [p.product for p in m.products("o", at=at("2026-05-01"))] == ["acs-pro", "solo"]
    assert [p.product for p in m.products("o")] == ["acs-pro", "solo", "new"]
    with pytest.raises(UnknownProduct):
        m.status("o", "new", at=at("2026-05-01"))
    m.start_subscription("o", "new", actor="u")
    # idempotent with a request id
    v3 = Catalog(products=[*v2.products, ProductSpec("newer", "Newer")])
    clock.set(at("2026-07-01"))
    assert m.vendor.publish_catalog(v3, actor="vendor", request_id="p1") == 3
    assert m.vendor.publish_catalog(v3, actor="vendor", request_id="p1") == 3
    assert len(m.catalog_versions()) == 3
    # in period 1 (version 2's multiplier 4), 23 licenses allow 92 devices
    clock.set(at("2027-01-05"))
    m.report_devices("o", "s1", devices={"core": 92}, actor="u")
    renewed = m.status("o", "solo")
    assert renewed.state is ProductState.LICENSED
    assert renewed.required_now == {}
    assert renewed.growth_exceeded is False
    m.report_devices("o", "s1", devices={"core": 93}, actor="u")
    assert m.status("o", "solo").required_now == {"core": 1}


def test_r15_publish_refused_lists_every_reason(m: Manager) -> None:
    bad = Catalog(
        products=[
            ProductSpec(
                "acs-pro",
                "AXIS Camera Station Pro",
                term_years=5,
                license_types=[LicenseType("core"), LicenseType("universal")],
            )
        ]
    )
    with pytest.raises(IncompatibleCatalog) as caught:
        m.vendor.publish_catalog(bad, actor="vendor")
    assert isinstance(caught.value, InvalidInput)
    message = str(caught.value)
    for word in ("solo", "door", "term_years", "universal"):
        assert word in message, word
    details = _assert_jsonable(caught.value)
    assert len(details["reasons"]) == 4
    assert len(m.catalog_versions()) == 1
    assert m.catalog == CATALOG


def test_r15_publish_asks_the_authorize_hook(backend_url: str, clock: ManualClock) -> None:
    gate = Gate(answer=True)
    gate.refuse.add("vendor.publish_catalog")
    with Manager.open(backend_url, catalog=CATALOG, clock=clock, plugins=[gate]) as m:
        v2 = Catalog(products=[*CATALOG.products, ProductSpec("new", "New")])
        with pytest.raises(PermissionDenied):
            m.vendor.publish_catalog(v2, actor="vendor")
        assert ("vendor", None, "vendor.publish_catalog") in [c[:3] for c in gate.calls]
        assert len(m.catalog_versions()) == 1


# ---------------------------------------------------------------- §3 listings and alerts


def test_r1_organizations_listing_is_paged_by_org_id(m: Manager) -> None:
    for org_id in ("c", "a", "b"):
        org(m, org_id)
    m.start_subscription("b", "solo", actor="u")
    listed = m.organizations()
    assert [(o.org_id, o.name, o.timezone, o.anchor) for o in listed] == [
        ("a", "A", "UTC", None),
        ("b", "B", "UTC", d("2026-01-01")),
        ("c", "C", "UTC", None),
    ]
    assert [o.org_id for o in m.organizations(limit=2, offset=1)] == ["b", "c"]
    assert [o.org_id for o in m.organizations(limit=1)] == ["a"]
    assert m.organizations(offset=3) == []


def test_r5_products_and_systems_listings(m: Manager) -> None:
    org(m)
    m.start_subscription("o", "solo", actor="u")
    products = m.products("o")
    assert [(p.product, p.state) for p in products] == [
        ("acs-pro", ProductState.NOT_STARTED),
        ("solo", ProductState.TRIAL),
    ]
    m.vendor.ship_hardware("SN-1", "acs-pro", {"core": 1})
    for system_id, product in (("z9", "solo"), ("a1", "acs-pro"), ("m5", "acs-pro")):
        m.register_system("o", product, system_id, devices={"core": 1}, actor="u")
    m.register_hardware("o", "a1", "SN-1", actor="u")
    systems = m.systems("o")
    assert [(s.system_id, s.product, s.hardware) for s in systems] == [
        ("a1", "acs-pro", ("SN-1",)),
        ("m5", "acs-pro", ()),
        ("z9", "solo", ()),
    ]
    assert [s.system_id for s in m.systems("o", product="acs-pro")] == ["a1", "m5"]
    assert [s.system_id for s in m.systems("o", limit=1, offset=1)] == ["m5"]
    assert systems[0] == m.system_status("o", "a1")


def test_r6_alerts_every_kind_soonest_first(m: Manager, clock: ManualClock) -> None:
    started(m, "acs-pro", "s1", {"core": 2}, core=3)

    def kinds(when: str, within: int = 60) -> list[tuple[AlertKind, str | None, date | None]]:
        alerts = m.alerts("o", at=at(when), within_days=within)
        ons = [a.on for a in alerts]
        assert ons == sorted(ons)  # type: ignore[type-var]
        return [(a.kind, a.system_id, a.on) for a in alerts]

    assert kinds("2026-01-10") == [(AlertKind.TRIAL_ENDING, None, d("2026-01-31"))]
    assert kinds("2026-01-10", within=10) == []
    assert sorted(kinds("2026-02-15")) == sorted(
        [
            (AlertKind.UNLICENSED, None, d("2026-02-15")),
            (AlertKind.SYSTEM_UNLICENSED, "s1", d("2026-02-15")),
        ]
    )
    clock.set(at("2026-02-20"))
    m.allocate("o", "acs-pro", {"core": 2}, actor="u")
    assert kinds("2026-03-01") == []
    assert kinds("2026-11-15") == [(AlertKind.RENEWAL_UNCOVERED, None, d("2027-01-01"))]
    assert kinds("2027-01-05") == [(AlertKind.GRACE_ENDING, None, d("2027-01-31"))]
    assert sorted(kinds("2030-12-01")) == sorted(
        [
            (AlertKind.UNLICENSED, None, d("2030-12-01")),
            (AlertKind.SYSTEM_UNLICENSED, "s1", d("2030-12-01")),
            (AlertKind.RENEWAL_UNCOVERED, None, d("2031-01-01")),
            (AlertKind.LOTS_EXPIRING, None, d("2031-01-01")),
        ]
    )
    clock.set(at("2026-03-01"))
    m.report_devices("o", "s1", devices={"core": 5}, actor="u")
    assert kinds("2026-03-01") == [(AlertKind.GROWTH_EXCEEDED, None, d("2026-03-01"))]
    assert {a.product for a in m.alerts("o", at=at("2026-03-01"))} == {"acs-pro"}


def test_r15_create_false_creates_nothing(tmp_path: Path, postgres_url: str) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(StoreNotFound):
        Manager.open(f"sqlite:///{path}", catalog=CATALOG, create=False)
    assert not path.exists()
    with pytest.raises(StoreNotFound):
        Manager.open(postgres_url, catalog=CATALOG, create=False)
    assert not pg_schema_exists(postgres_url)


def test_r11_enumerations_are_str_enums_with_lower_case_values() -> None:
    for enumeration in (ProductState, LicenseKind, axis_licensing.Action, AlertKind):
        assert issubclass(enumeration, enum.StrEnum)
        for member in enumeration:
            assert member.value == member.name.lower()
            assert member == member.name.lower()
    assert {a.value for a in axis_licensing.Action} == {
        "organization_created",
        "system_registered",
        "devices_reported",
        "subscription_started",
        "key_redeemed",
        "licenses_allocated",
        "compensation_credited",
        "licenses_expired",
        "hardware_registered",
        "extension_allocated",
        "system_file_uploaded",
        "growth_exceeded",
        # SPEC §7: alerts recorded by a sweep, and the webhook endpoint commands
        "alert_raised",
        "alert_cleared",
        "webhook_added",
        "webhook_changed",
        "webhook_secret_rotated",
        "webhook_removed",
        "webhook_redelivered",
        # SPEC §8: membership and token changes are recorded in the history
        "member_invited",
        "member_joined",
        "member_role_changed",
        "member_removed",
        "token_created",
        "token_revoked",
    }
    assert len(AlertKind) == 7


# ---------------------------------------------------------------- further probes


def test_r1_default_at_is_per_organization(m: Manager, clock: ManualClock) -> None:
    """§1: only the organization's own latest command moves its default `at`."""
    org(m, "a")
    org(m, "b")
    clock.set(at("2026-02-15"))
    m.start_subscription("b", "solo", actor="u")
    m.register_system("b", "solo", "sb", devices={"core": 1}, actor="u")
    clock.set(at("2026-06-01"))
    m.register_system("a", "solo", "sa", devices={}, actor="u")
    m.vendor.issue_key("solo", SUB, {"core": 1})
    clock.set(at("2026-03-01"))  # b's trial runs through 2026-03-16
    assert m.status("b", "solo").state is ProductState.TRIAL
    assert m.status("b", "solo").window_ends_on == d("2026-03-17")


def test_r11_command_with_a_clock_behind_keeps_one_coherent_timeline(
    m: Manager, clock: ManualClock
) -> None:
    org(m)
    m.start_subscription("o", "solo", actor="u")
    m.register_system("o", "solo", "s", devices={"core": 6}, actor="u")
    clock.set(at("2026-03-10"))
    m.report_devices("o", "s", devices={"core": 4}, actor="u")
    clock.set(at("2026-03-01"))  # a server whose clock is behind
    m.report_devices("o", "s", devices={"core": 3}, actor="u")
    history = m.history("o")
    instants = [a.at for a in history]
    assert instants == sorted(instants)  # R11: oldest first, append-only
    # what the history says happened by 2026-03-05 is what a query at 2026-03-05 sees
    reported = m.history("o", actions=["devices_reported"], until=at("2026-03-05"))
    seen = m.status("o", "solo", at=at("2026-03-05")).devices
    assert [a.details["devices"] for a in reported][-1:] == ([dict(seen)] if reported else [])


def test_r5_lock_by_fewer_devices_and_an_advance_allocation_that_no_longer_covers(
    m: Manager, clock: ManualClock
) -> None:
    """R5: a period locks when covers() first holds inside it, never on allocation alone."""
    started(m, "solo", "s", {"core": 5}, core=10)
    m.allocate("o", "solo", {"core": 3}, actor="u")
    assert m.status("o", "solo").state is ProductState.TRIAL
    m.report_devices("o", "s", devices={"core": 3}, actor="u")  # fewer devices: locks
    m.report_devices("o", "s", devices={"core": 6}, actor="u")  # within 2 × 3
    now = m.status("o", "solo")
    assert (now.state, dict(now.required_now), now.growth_exceeded) == (
        ProductState.LICENSED,
        {},
        False,
    )
    m.allocate("o", "solo", {"core": 2}, period=1, actor="u")
    # period 1 opens with 2 licenses for 6 devices: not covered, so not locked
    assert m.status("o", "solo", at=at("2027-01-05")).state is ProductState.GRACE
    assert m.status("o", "solo", at=at("2027-01-31")).state is ProductState.UNLICENSED
    need = m.need("o", "solo", horizon=2)
    assert [
        (p.period.index, dict(p.need), dict(p.allocated), dict(p.shortfall)) for p in need.periods
    ] == [
        (0, {"core": 3}, {"core": 3}, {}),
        (1, {"core": 6}, {"core": 2}, {"core": 4}),
        (2, {"core": 6}, {}, {"core": 6}),
    ]
    # R4 / §3: to_buy is the total shortfall less the wallet balance (5 left)
    assert need.wallet == {"core": 5}
    assert need.to_buy == {"core": 5}
    clock.set(at("2027-01-10"))
    m.report_devices("o", "s", devices={"core": 2}, actor="u")  # locks period 1
    m.report_devices("o", "s", devices={"core": 4}, actor="u")
    assert m.status("o", "solo").state is ProductState.LICENSED
    assert m.status("o", "solo").growth_exceeded is False


def test_r15_trial_and_grace_days_of_a_later_version(m: Manager, clock: ManualClock) -> None:
    """R15: a period opened after a version took effect uses its trial_days and grace_days."""
    clock.set(at("2027-02-01"))
    v2 = Catalog(
        products=[
            ProductSpec(
                "acs-pro", PRO.name, trial_days=10, grace_days=5, license_types=PRO.license_types
            ),
            SOLO,
        ]
    )
    m.vendor.publish_catalog(v2, actor="vendor")
    org(m, "n")
    clock.set(at("2027-02-02"))
    m.start_subscription("n", "acs-pro", actor="u")
    assert m.status("n", "acs-pro").window_ends_on == d("2027-02-12")
    assert m.status("n", "acs-pro", at=at("2028-02-03")).window_ends_on == d("2028-02-07")
    assert m.status("n", "acs-pro", at=at("2027-02-12")).state is ProductState.LICENSED


def test_r12_the_file_judges_dates_in_the_organization_zone(m: Manager, clock: ManualClock) -> None:
    """R12: valid_until is a local date of the organization's zone (Auckland, UTC+12 in April)."""
    org(m, "nz", timezone="Pacific/Auckland")
    clock.set(datetime(2026, 3, 9, 12, 0, tzinfo=UTC))  # 2026-03-10 01:00 in Auckland
    m.start_subscription("nz", "solo", actor="u")
    data = offline.describe_system(
        system_id="s", product="solo", devices={"core": 1}, now=clock.now()
    )
    signed = m.upload_system_file("nz", data, actor="u")
    ok = verify(m, signed, "s", datetime(2026, 4, 8, 11, 30, tzinfo=UTC))  # 23:30 on 04-08
    assert (ok.state, ok.valid_until, ok.timezone) == (
        ProductState.TRIAL,
        d("2026-04-08"),
        "Pacific/Auckland",
    )
    with pytest.raises(LicenseFileExpired):
        verify(m, signed, "s", datetime(2026, 4, 8, 12, 30, tzinfo=UTC))  # 00:30 on 04-09


def test_r12_licensed_with_no_devices_and_no_licenses(m: Manager, clock: ManualClock) -> None:
    """R5/R12: 0 devices, 0 licenses after the window: LICENSED through the period's end."""
    org(m)
    m.start_subscription("o", "solo", actor="u")
    clock.set(at("2026-03-01"))
    signed = m.upload_system_file(
        "o",
        offline.describe_system(system_id="z", product="solo", devices={}, now=clock.now()),
        actor="u",
    )
    status = m.status("o", "solo")
    assert (status.state, status.licensed_through) == (ProductState.LICENSED, d("2027-01-01"))
    ent = verify(m, signed, "z", at("2026-03-01"))
    assert (ent.state, ent.licensed, ent.may_run) == (ProductState.LICENSED, True, True)
    assert ent.valid_until == d("2027-01-31")


def test_r13_request_ids_are_scoped(m: Manager) -> None:
    """R13: a request id is scoped to the organization; the vendor has a scope of its own."""
    org(m, "a")
    org(m, "b")
    m.vendor.issue_key("solo", SUB, {"core": 1}, request_id="same")
    m.start_subscription("a", "solo", actor="u", request_id="same")
    m.start_subscription("b", "solo", actor="u", request_id="same")
    m.start_subscription("a", "acs-pro", actor="u", request_id="other")
    assert m.status("b", "solo").state is ProductState.TRIAL
    assert m.status("a", "acs-pro").state is ProductState.TRIAL
    with pytest.raises(IdempotencyConflict):
        m.start_subscription("a", "acs-pro", actor="u", request_id="same")


def test_r15_create_false_on_empty_stores_creates_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    """§3: create=False never creates tables in an empty file or an existing empty schema."""
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    with pytest.raises(StoreNotFound):
        Manager.open(f"sqlite:///{path}", catalog=CATALOG, create=False)
    assert path.stat().st_size == 0
    import psycopg

    schema = postgres_url.rsplit("schema=", 1)[1]
    base = postgres_url.split("?", 1)[0]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    with pytest.raises(StoreNotFound):
        Manager.open(postgres_url, catalog=CATALOG, create=False)
    with psycopg.connect(base) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchone()
    assert row is not None
    assert row[0] == 0
    # an existing store opens read-only with create=False, without a catalog
    with Manager.open(postgres_url, catalog=CATALOG) as made:
        org(made)
    with Manager.open(postgres_url, create=False) as reader:
        assert [o.org_id for o in reader.organizations()] == ["o"]


WIDE = ProductSpec(
    "wide",
    "Wide",
    license_types=[
        LicenseType("core"),
        LicenseType("door"),
        LicenseType("universal", covers=("core", "door")),
    ],
)


@pytest.fixture
def w(backend_url: str, clock: ManualClock) -> Iterator[Manager]:
    with Manager.open(
        backend_url, catalog=Catalog(products=[PRO, SOLO, WIDE]), clock=clock
    ) as opened:
        yield opened


def _lock(m: Manager, product: str, allocated: dict[str, int]) -> None:
    """Start ``product`` in org "o" and lock period 0 with ``allocated`` (devices equal to it)."""
    org(m)
    m.start_subscription("o", product, actor="u")
    m.register_system("o", product, "s", devices=allocated, actor="u")
    key = m.vendor.issue_key(product, SUB, allocated)
    m.redeem_key("o", key, actor="u")
    m.allocate("o", product, allocated, actor="u")
    assert m.status("o", product).locked


def test_r5_unlocked_shortfall_covers_the_hardest_types_first(m: Manager) -> None:
    """R5: universal devices (covered by 1 type) before core (covered by 2)."""
    started(m, "acs-pro", "s", {"core": 1, "universal": 2}, universal=2)
    m.allocate("o", "acs-pro", {"universal": 2}, actor="u")
    need = m.need("o", "acs-pro")
    assert len(need.periods) == 6  # horizon=5: offsets 0..5
    assert need.periods[0].shortfall == {"core": 1}


def test_r5_smallest_shortfall_uses_a_wider_needed_type(m: Manager) -> None:
    """R5: core 3 + universal 1 over core 1 locked: one universal (2 places) is enough."""
    _lock(m, "acs-pro", {"core": 1})
    m.report_devices("o", "s", devices={"core": 3, "universal": 1}, actor="u")
    assert m.status("o", "acs-pro").required_now == {"universal": 1}


def test_r5_smallest_shortfall_prefers_narrow_licenses_on_a_tie(m: Manager) -> None:
    """R5: core 4 + universal 1 over core 1 locked: 2 extra either way; take a core one."""
    _lock(m, "acs-pro", {"core": 1})
    m.report_devices("o", "s", devices={"core": 4, "universal": 1}, actor="u")
    assert m.status("o", "acs-pro").required_now == {"core": 1, "universal": 1}


def test_r5_smallest_shortfall_only_of_needed_types(w: Manager) -> None:
    """R5: a universal would cover the spare core and door, but it is not a needed type."""
    _lock(w, "wide", {"core": 1, "door": 1})
    w.report_devices("o", "s", devices={"core": 3, "door": 3}, actor="u")
    assert w.status("o", "wide").required_now == {"core": 1, "door": 1}
    give(w, "o", "wide", core=1, door=1, universal=5)
    allocation = w.allocate_need("o", "wide", actor="u")
    assert per_period(allocation) == [(0, {"core": 1, "door": 1})]
    assert w.status("o", "wide").required_now == {}


def test_r8_top_up_of_a_locked_period_after_its_window(m: Manager, clock: ManualClock) -> None:
    """R8: a top-up of the current, locked period after the window: c = d."""
    _lock(m, "solo", {"core": 1})
    clock.set(at("2026-03-02"))
    give(m, "o", "solo", core=10)
    allocation = m.allocate("o", "solo", {"core": 10}, actor="u")
    assert allocation.compensation == {"core": 1}  # 10 × 60/365 = 1 + 47/73
    assert allocation.credit == {"core": Fraction(47, 73)}


def test_r12_a_changed_byte_is_tampering(m: Manager) -> None:
    org(m)
    m.start_subscription("o", "solo", actor="u")
    signed = m.upload_system_file(
        "o",
        offline.describe_system(
            system_id="s", product="solo", devices={"core": 1}, now=at("2026-01-01")
        ),
        actor="u",
    )
    text = signed.decode()
    forged = text.replace('"core":1', '"core":9').encode()
    assert forged != signed
    with pytest.raises(axis_licensing.TamperedLicenseFile):
        verify(m, forged, "s", at("2026-01-02"))
    with pytest.raises(axis_licensing.TamperedLicenseFile):
        verify(m, signed + b" ", "s", at("2026-01-02"))


def test_r1_systems_listing_at_a_past_instant(m: Manager, clock: ManualClock) -> None:
    org(m)
    m.register_system("o", "solo", "early", devices={}, actor="u")
    clock.set(at("2026-02-01"))
    m.register_system("o", "solo", "late", devices={}, actor="u")
    assert [s.system_id for s in m.systems("o")] == ["early", "late"]
    assert [s.system_id for s in m.systems("o", at=at("2026-01-15"))] == ["early"]


@pytest.mark.parametrize(
    "name", ["localtime", "posixrules", "right/UTC", "posix/Europe/Stockholm", "utc", "Mars/Base"]
)
def test_r14_only_iana_zones_are_accepted(m: Manager, name: str) -> None:
    """§1/R14: host aliases (``localtime``) and ``right/`` variants are no IANA zone."""
    with pytest.raises(InvalidInput) as caught:
        m.create_organization("z", name="Z", timezone=name, actor="u")
    assert _assert_jsonable(caught.value).get("param") == "timezone"
    assert m.organizations() == []


def test_r14_iana_zones_are_accepted(m: Manager) -> None:
    for i, name in enumerate(
        ["UTC", "Europe/Stockholm", "Etc/GMT+5", "America/Argentina/Buenos_Aires"]
    ):
        m.create_organization(f"z{i}", name="Z", timezone=name, actor="u")
    assert [o.timezone for o in m.organizations()][1] == "Europe/Stockholm"


def test_r1_listings_order_ids_the_same_on_every_backend(m: Manager) -> None:
    """§3: organizations by org_id and systems by system_id, whatever the database's collation."""
    ids = ["b", "B", "a", "é", "z", "a-1", "a_1", "A1"]
    for org_id in ids:
        m.create_organization(org_id, name="n", actor="u")
        m.register_system(org_id, "solo", f"sys-{org_id}", devices={}, actor="u")
    expected = sorted(ids, key=lambda text: text.encode())
    assert [o.org_id for o in m.organizations()] == expected
    assert [o.org_id for o in m.organizations(limit=3, offset=2)] == expected[2:5]
    for system_id in ids:
        m.register_system("a", "solo", system_id, devices={}, actor="u")
    listed = [s.system_id for s in m.systems("a")]
    assert listed == sorted([*ids, "sys-a"], key=lambda text: text.encode())


def test_r6_an_expiry_is_recorded_once_and_in_order(m: Manager, clock: ManualClock) -> None:
    """R6/R11: the expiry shows before and after the next command, once, oldest first."""
    org(m)
    give(m, "o", "solo", core=2)
    clock.set(at("2031-01-15"))
    projected = m.history("o", actions=["licenses_expired"])
    assert [(a.on, a.actor) for a in projected] == [(d("2031-01-01"), "system")]
    clock.set(at("2031-02-01"))
    m.register_system("o", "solo", "s", devices={}, actor="u")
    history = m.history("o")
    assert [(a.action, a.product) for a in history] == [
        ("organization_created", None),
        ("key_redeemed", "solo"),
        ("licenses_expired", "solo"),
        ("system_registered", "solo"),
    ]
    assert [a.on for a in history] == sorted(a.on for a in history)
    assert history[2].on == d("2031-01-01")
    assert m.wallet("o", "solo").lots == ()


def test_r14_authorize_is_asked_after_the_input_check_and_never_for_queries(
    backend_url: str, clock: ManualClock
) -> None:
    """§4: the hook is asked before every command, after its input is checked; not for queries."""
    gate = Gate()

    def asked() -> list[tuple[str | None, str, str | None]]:
        return [(org_id, action, product) for _, org_id, action, product in gate.calls]

    with Manager.open(backend_url, catalog=CATALOG, clock=clock, plugins=[gate]) as m:
        org(m)
        m.start_subscription("o", "solo", actor="u")
        key = m.vendor.issue_key("solo", SUB, {"core": 1})
        assert asked() == [
            ("o", "create_organization", None),
            ("o", "start_subscription", "solo"),
            (None, "vendor.issue_key", "solo"),
        ]
        gate.calls.clear()
        with pytest.raises(InvalidInput):
            m.allocate("o", "solo", {"core": 0}, actor="u")
        m.status("o", "solo")
        m.wallet("o", "solo")
        m.need("o", "solo")
        m.alerts("o")
        m.products("o")
        m.systems("o")
        m.history("o")
        m.organizations()
        assert asked() == []
        m.redeem_key("o", key, actor="u")
        assert asked() == [("o", "redeem_key", "solo")]


def test_r13_a_repeated_publish_returns_its_first_result_after_later_versions(
    m: Manager, clock: ManualClock
) -> None:
    """R13/R15: same id, same catalog → the first version number, even after a newer one."""
    v2 = Catalog(products=[*CATALOG.products, ProductSpec("n2", "N2")])
    v3 = Catalog(products=[*v2.products, ProductSpec("n3", "N3")])
    clock.set(at("2026-02-01"))
    assert m.vendor.publish_catalog(v2, actor="vendor", request_id="p") == 2
    clock.set(at("2026-03-01"))
    assert m.vendor.publish_catalog(v3, actor="vendor") == 3
    assert m.vendor.publish_catalog(v2, actor="vendor", request_id="p") == 2
    assert [v.version for v in m.catalog_versions()] == [1, 2, 3]
    assert m.catalog == v3
    with pytest.raises(IdempotencyConflict):
        m.vendor.publish_catalog(v3, actor="vendor", request_id="p")
    # a new request with v2 would remove n3: refused, listing the reason
    with pytest.raises(IncompatibleCatalog):
        m.vendor.publish_catalog(v2, actor="vendor", request_id="q")
    assert len(m.catalog_versions()) == 3


def test_r15_a_second_manager_sees_a_published_version(
    backend_url: str, clock: ManualClock
) -> None:
    """R15: versions live in the store; another Manager on it uses them at once."""
    _reopenable(backend_url)
    v2 = Catalog(products=[*CATALOG.products, ProductSpec("new", "New")])
    with (
        Manager.open(backend_url, catalog=CATALOG, clock=clock) as first,
        Manager.open(backend_url, clock=clock) as second,
    ):
        org(second)
        clock.set(at("2026-02-01"))
        assert first.vendor.publish_catalog(v2, actor="vendor") == 2
        second.start_subscription("o", "new", actor="u")
        assert second.status("o", "new").state is ProductState.TRIAL
        assert [v.version for v in second.catalog_versions()] == [1, 2]
        assert second.catalog == v2
        assert [p.product for p in second.products("o")] == ["acs-pro", "solo", "new"]
    # the store's latest version is v2 now: opening with version 1 is a mismatch
    with pytest.raises(CatalogMismatch):
        Manager.open(backend_url, catalog=CATALOG, clock=clock)
    with Manager.open(backend_url, catalog=v2, clock=clock, create=False) as reader:
        assert len(reader.catalog_versions()) == 2


def test_r12_unlicensed_file_allows_only_what_hardware_covers(
    m: Manager, clock: ManualClock
) -> None:
    """R12: outside a window and not licensed, only the hardware's devices are allowed."""
    org(m)
    m.start_subscription("o", "acs-pro", actor="u")
    m.vendor.ship_hardware("SN-1", "acs-pro", {"universal": 1})
    clock.set(at("2026-02-10"))
    data = describe(clock, "s1", {"core": 3, "door": 1}, ("SN-1",))
    ent = verify(m, m.upload_system_file("o", data, actor="u"), "s1", at("2026-02-10"))
    assert (ent.state, ent.licensed, ent.may_run) == (ProductState.UNLICENSED, False, False)
    assert ent.devices == {"core": 1}
    assert ent.valid_until == d("2026-02-10")
    status = m.system_status("o", "s1")
    assert status.hardware_covered == {"core": 1}
    assert status.subscription_devices == {"core": 2, "door": 1}


FIVE = ProductSpec("five", "Five", term_years=5, license_types=[LicenseType("core")])


@pytest.fixture
def f5(backend_url: str, clock: ManualClock) -> Iterator[Manager]:
    with Manager.open(backend_url, catalog=Catalog(products=[SOLO, FIVE]), clock=clock) as opened:
        yield opened


def test_r2_r7_r8_a_five_year_product(f5: Manager, clock: ManualClock) -> None:
    """R2: [A + 5k years); R7: the window; R8: a 1,826-day period, 181 days of overlap."""
    org(f5)
    f5.start_subscription("o", "solo", actor="u")  # anchor 2026-01-01
    clock.set(at("2026-07-01"))
    f5.start_subscription("o", "five", actor="u")
    status = f5.status("o", "five")
    assert period_of(status) == (0, d("2026-01-01"), d("2031-01-01"))
    assert status.window_ends_on == d("2026-07-31")
    assert status.renews_on == d("2031-01-01")
    clock.set(at("2026-07-10"))
    give(f5, "o", "five", core=20)
    allocation = f5.allocate("o", "five", {"core": 10}, actor="u")
    assert allocation.compensation == {}
    assert allocation.credit == {"core": Fraction(10 * 181, 1826)}
    assert f5.history("o", actions=["compensation_credited"]) == []
    ahead = f5.allocate("o", "five", {"core": 1}, period=1, actor="u")
    assert [(p.period.start, p.period.end) for p in ahead.periods] == [
        (d("2031-01-01"), d("2036-01-01"))
    ]
    with pytest.raises(OutsideAllocationWindow):
        f5.allocate("o", "five", {"core": 1}, period=2, actor="u")


def test_r5_growth_exceeded_is_recorded_once_per_period(m: Manager, clock: ManualClock) -> None:
    """R5: the first time growth is exceeded in a period, and only then."""
    _locked_solo(m, 2, 5)
    m.report_devices("o", "s1", devices={"core": 3}, actor="u")
    m.report_devices("o", "s1", devices={"core": 6}, actor="u")
    assert len(m.history("o", actions=["growth_exceeded"])) == 1
    # the next period (locked at its start by an advance allocation) records its own
    give(m, "o", "solo", core=3)
    m.allocate("o", "solo", {"core": 3}, period=1, actor="u")
    m.report_devices("o", "s1", devices={"core": 3}, actor="u")
    clock.set(at("2027-01-05"))
    m.report_devices("o", "s1", devices={"core": 7}, actor="u")
    grown = m.history("o", actions=["growth_exceeded"])
    assert [a.on for a in grown] == [d("2026-01-01"), d("2027-01-05")]


def test_r12_the_generated_signing_key_is_kept_by_the_store(
    backend_url: str, clock: ManualClock
) -> None:
    """R12: without a key at open, one is generated once and kept; public_key is PEM."""
    _reopenable(backend_url)
    with Manager.open(backend_url, catalog=CATALOG, clock=clock) as first:
        pem = first.public_key
        org(first)
        first.start_subscription("o", "solo", actor="u")
        signed = first.upload_system_file(
            "o",
            offline.describe_system(system_id="s", product="solo", devices={}, now=clock.now()),
            actor="u",
        )
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    with Manager.open(backend_url, clock=clock, create=False) as again:
        assert again.public_key == pem
    ent = offline.verify_license_file(signed, trusted_keys=[pem], system_id="s", now=clock.now())
    assert ent.state is ProductState.TRIAL


def test_r15_a_version_never_takes_effect_before_recorded_commands(
    m: Manager, clock: ManualClock
) -> None:
    clock.set(at("2026-05-10"))
    org(m)
    m.start_subscription("o", "solo", actor="u")  # trial through 2026-06-08 under version 1
    m.register_system("o", "solo", "s", devices={"core": 1}, actor="u")
    clock.set(at("2026-06-01"))
    m.report_devices("o", "s", devices={"core": 2}, actor="u")
    before = m.status("o", "solo")
    assert (before.state, before.window_ends_on) == (ProductState.TRIAL, d("2026-06-09"))
    clock.set(at("2026-05-01"))  # the vendor's server is behind
    shorter = ProductSpec("solo", "Solo", trial_days=10, license_types=[LicenseType("core")])
    m.vendor.publish_catalog(Catalog(products=[PRO, shorter]), actor="vendor")
    after = m.status("o", "solo", at=at("2026-06-01"))
    assert (after.state, after.window_ends_on) == (ProductState.TRIAL, d("2026-06-09"))


def test_r9_hardware_lots_expire_and_extensions_need_hardware_lots(
    m: Manager, clock: ManualClock
) -> None:
    """R9/R6: extension lots follow the five-year limit; subscription lots never feed hardware."""
    org(m)
    m.vendor.ship_hardware("SN-1", "acs-pro", {"core": 1})
    m.register_system("o", "acs-pro", "s1", devices={"core": 4}, actor="u")
    m.register_hardware("o", "s1", "SN-1", actor="u")
    give(m, "o", "acs-pro", HW, core=2)
    give(m, "o", "acs-pro", core=5)
    count = history_len(m, "o")
    with pytest.raises(InsufficientLicenses) as short:
        m.allocate_to_hardware("o", "SN-1", {"core": 3}, actor="u")
    assert short.value.shortfall == {"core": 1}
    assert history_len(m, "o") == count
    m.allocate_to_hardware("o", "SN-1", {"core": 1}, actor="u")
    assert m.system_status("o", "s1").hardware_capacity == {"core": 2}
    wallet = m.wallet("o", "acs-pro", at=at("2030-12-31"))
    assert wallet.balance(kind=HW) == {"core": 1}
    assert wallet.balance() == {"core": 5}
    gone = m.wallet("o", "acs-pro", at=at("2031-01-01", 0))
    assert gone.balance(kind=HW) == {}
    assert gone.balance() == {}
    # the hardware's own licenses stay: they are on the unit for its lifetime
    assert m.system_status("o", "s1", at=at("2031-06-01")).hardware_capacity == {"core": 2}
    clock.set(at("2031-01-02"))
    expired = m.history("o", actions=["licenses_expired"])
    assert [(a.on, a.actor) for a in expired] in (
        [(d("2031-01-01"), "system")],
        [(d("2031-01-01"), "system"), (d("2031-01-01"), "system")],
    )
