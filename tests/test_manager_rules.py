"""Manager-layer rules on every backend (issue 3).

R1 isolation between organizations, R10 keys stored only as hashes, R11 the
activity history, R13 idempotency, R14 input checks, and queries at a past
instant or across a DST change. Each test runs on memory, SQLite and
PostgreSQL through the ``manager`` / ``backend_url`` fixtures of conftest.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from axis_licensing import (
    EXAMPLE_CATALOG,
    Activity,
    AlreadyExists,
    AlreadyRegistered,
    AlreadyStarted,
    Catalog,
    IdempotencyConflict,
    InsufficientLicenses,
    InvalidInput,
    KeyAlreadyRedeemed,
    KeyTypo,
    LicenseKind,
    LicenseType,
    MalformedSystemFile,
    Manager,
    ManualClock,
    OutsideAllocationWindow,
    ProductSpec,
    ProductState,
    UnknownHardware,
    UnknownKey,
    UnknownOrganization,
    UnknownProduct,
    UnknownSystem,
    _keys,
    offline,
)
from axis_licensing._keys import normalize_key
from axis_licensing.backends import TABLES
from axis_licensing.members import roles

PRODUCT = "acs-pro"
#: A second product, for commands whose arguments are only a product (R13).
LITE = "acs-lite"
CATALOG2 = Catalog(
    products=[
        *EXAMPLE_CATALOG.products,
        ProductSpec(
            LITE, "AXIS Camera Station Lite", term_years=5, license_types=[LicenseType("core")]
        ),
    ]
)

ALPHA = "org-alpha-7"
ALPHA_NAME = "Alpha Corp"
BETA = "org-beta-3"
BETA_NAME = "Beta Inc"

Rows = dict[str, list[dict[str, Any]]]


def snapshot(manager: Manager) -> Rows:
    """Every stored row of every table."""
    return {table: list(manager.backend.export_rows(table)) for table in TABLES}


def brief(activities: list[Activity]) -> list[tuple[str, str, str | None, str | None]]:
    """(action, actor, product, system_id) of each activity."""
    return [(a.action, a.actor, a.product, a.system_id) for a in activities]


def assert_no_leak(exc: BaseException, *secrets: str) -> None:
    text = f"{exc} {exc.args!r}"
    for secret in secrets:
        assert secret not in text, f"{secret!r} leaked in {text!r}"


def key_windows(key: str, width: int = 5) -> set[str]:
    """Every run of ``width`` symbols of the normalized key, as the key is written.

    Lower-case runs are left out: five lower-case letters can be part of an
    English word in the stored JSON ("rdwar" in "hardware"), which made this
    check fail by chance. The whole key in lower case is still looked for.
    """
    normalized = normalize_key(key)
    return {normalized[i : i + width] for i in range(len(normalized) - width + 1)}


@pytest.fixture
def lm(backend_url: str, clock: ManualClock) -> Iterator[Manager]:
    """A Manager whose catalog has two products (acs-pro, and acs-lite with a 5-year term)."""
    with Manager.open(backend_url, catalog=CATALOG2, clock=clock) as opened:
        yield opened


# -- R1 isolation ------------------------------------------------------------------------------


def _two_orgs(manager: Manager) -> tuple[str, str]:
    """Alpha with a system, a started subscription, a redeemed key, an allocation and
    hardware; Beta empty. Returns Alpha's subscription key and its hardware serial."""
    manager.create_organization(ALPHA, name=ALPHA_NAME, actor="alice")
    manager.create_organization(BETA, name=BETA_NAME, actor="bob")
    manager.register_system(ALPHA, PRODUCT, "sys-alpha", devices={"core": 3}, actor="alice")
    manager.start_subscription(ALPHA, PRODUCT, actor="alice")
    key = manager.vendor.issue_key(PRODUCT, quantities={"core": 10})
    manager.redeem_key(ALPHA, key, actor="alice")
    manager.allocate(ALPHA, PRODUCT, {"core": 3}, actor="alice")
    manager.vendor.ship_hardware("SN-ALPHA", PRODUCT, {"core": 1})
    manager.register_hardware(ALPHA, "sys-alpha", "SN-ALPHA", actor="alice")
    return key, "SN-ALPHA"


def test_r1_queries_of_one_org_never_show_another(manager: Manager) -> None:
    _two_orgs(manager)
    history = manager.history(BETA)
    assert brief(history) == [("organization_created", "bob", None, None)]
    assert history[0].details == {"name": BETA_NAME, "timezone": "UTC"}
    assert manager.history(BETA, product=PRODUCT) == []
    wallet = manager.wallet(BETA, PRODUCT)
    assert wallet.lots == ()
    assert wallet.credit == {}
    assert wallet.balance() == {}
    assert wallet.balance(LicenseKind.HARDWARE) == {}
    status = manager.status(BETA, PRODUCT)
    assert status.state is ProductState.NOT_STARTED
    assert status.devices == {}
    assert status.allocated == {}
    with pytest.raises(UnknownSystem) as caught:
        manager.system_status(BETA, "sys-alpha")
    assert_no_leak(caught.value, ALPHA, ALPHA_NAME)
    # Alpha's own view is intact.
    assert manager.status(ALPHA, PRODUCT).state is ProductState.LICENSED
    assert manager.system_status(ALPHA, "sys-alpha").hardware == ("SN-ALPHA",)


def test_r1_system_id_held_elsewhere_raises_already_registered_without_naming_owner(
    manager: Manager,
) -> None:
    _two_orgs(manager)
    before = snapshot(manager)
    with pytest.raises(AlreadyRegistered) as caught:
        manager.register_system(BETA, PRODUCT, "sys-alpha", devices={"core": 1}, actor="bob")
    assert_no_leak(caught.value, ALPHA, ALPHA_NAME)
    # Registering it again in its own organization is refused the same way.
    with pytest.raises(AlreadyRegistered):
        manager.register_system(ALPHA, PRODUCT, "sys-alpha", actor="alice")
    assert snapshot(manager) == before


def test_r1_key_redeemed_elsewhere_raises_without_naming_owner(manager: Manager) -> None:
    key, _ = _two_orgs(manager)
    before = snapshot(manager)
    with pytest.raises(KeyAlreadyRedeemed) as caught:
        manager.redeem_key(BETA, key, actor="bob")
    assert_no_leak(caught.value, ALPHA, ALPHA_NAME, *key_windows(key))
    with pytest.raises(KeyAlreadyRedeemed) as again:
        manager.redeem_key(ALPHA, key.lower(), actor="alice")
    assert_no_leak(again.value, *key_windows(key))
    assert snapshot(manager) == before


def test_r1_hardware_of_another_org_is_already_registered_or_unknown(manager: Manager) -> None:
    _, serial = _two_orgs(manager)
    manager.register_system(BETA, PRODUCT, "sys-beta", devices={"core": 1}, actor="bob")
    extension = manager.vendor.issue_key(PRODUCT, LicenseKind.HARDWARE, {"core": 2})
    manager.redeem_key(BETA, extension, actor="bob")
    before = snapshot(manager)
    with pytest.raises(AlreadyRegistered) as claimed:
        manager.register_hardware(BETA, "sys-beta", serial, actor="bob")
    assert_no_leak(claimed.value, ALPHA, ALPHA_NAME)
    # Beta has hardware licenses to spare: only ownership stops it.
    with pytest.raises(UnknownHardware) as unknown:
        manager.allocate_to_hardware(BETA, serial, {"core": 1}, actor="bob")
    assert_no_leak(unknown.value, ALPHA, ALPHA_NAME)
    assert snapshot(manager) == before
    assert manager.system_status(ALPHA, "sys-alpha").hardware_capacity == {"core": 1}


def test_r1_offline_upload_cannot_take_another_orgs_system_or_serial(
    manager: Manager, clock: ManualClock
) -> None:
    _, serial = _two_orgs(manager)
    before = snapshot(manager)
    taken_system = offline.describe_system(
        system_id="sys-alpha", product=PRODUCT, devices={"core": 1}, now=clock.now()
    )
    with pytest.raises(AlreadyRegistered) as caught:
        manager.upload_system_file(BETA, taken_system, actor="bob")
    assert_no_leak(caught.value, ALPHA, ALPHA_NAME)
    taken_serial = offline.describe_system(
        system_id="sys-beta-off",
        product=PRODUCT,
        devices={"core": 1},
        hardware=[serial],
        now=clock.now(),
    )
    with pytest.raises(AlreadyRegistered) as caught_serial:
        manager.upload_system_file(BETA, taken_serial, actor="bob")
    assert_no_leak(caught_serial.value, ALPHA, ALPHA_NAME)
    # Nothing of the file was applied: the new system is not in Beta either.
    assert snapshot(manager) == before
    with pytest.raises(UnknownSystem):
        manager.system_status(BETA, "sys-beta-off")


def test_r1_same_request_id_in_two_orgs_does_not_conflict(manager: Manager) -> None:
    manager.create_organization(ALPHA, name=ALPHA_NAME, actor="alice")
    manager.create_organization(BETA, name=BETA_NAME, actor="bob")
    manager.register_system(ALPHA, PRODUCT, "sys-a", devices={"core": 1}, actor="a", request_id="r")
    manager.register_system(BETA, PRODUCT, "sys-b", devices={"core": 2}, actor="b", request_id="r")
    assert manager.system_status(ALPHA, "sys-a").devices == {"core": 1}
    assert manager.system_status(BETA, "sys-b").devices == {"core": 2}


# -- R10 keys ----------------------------------------------------------------------------------


def test_r10_redeemed_key_is_stored_only_as_a_hash(manager: Manager) -> None:
    manager.create_organization(ALPHA, name=ALPHA_NAME, actor="alice")
    plain = manager.vendor.issue_key(PRODUCT, quantities={"core": 4})
    retried = manager.vendor.issue_key(PRODUCT, quantities={"universal": 2}, request_id="k-1")
    hardware = manager.vendor.issue_key(PRODUCT, LicenseKind.HARDWARE, {"door": 1})
    # Redeem as a user might type them: lower case, spaces, no dashes.
    manager.redeem_key(ALPHA, plain.lower(), actor="alice")
    manager.redeem_key(ALPHA, " ".join(retried.split("-")), actor="alice")
    manager.redeem_key(ALPHA, hardware.replace("-", ""), actor="alice")
    keys = [plain, retried, hardware]
    forbidden = set().union(*(key_windows(k) for k in keys))
    forbidden |= set(keys) | {k.lower() for k in keys}
    rows = snapshot(manager)
    assert len(rows["keys"]) == 3
    for table, table_rows in rows.items():
        for row in table_rows:
            for column, value in row.items():
                text = str(value)
                leaked = sorted(w for w in forbidden if w in text)
                assert not leaked, f"{table}.{column} holds {leaked}"
    redeemed = manager.history(ALPHA, actions=["key_redeemed"])
    assert [a.details["key"] for a in redeemed] == [f"…{normalize_key(k)[-4:]}" for k in keys]
    for activity in redeemed:
        text = json.dumps(activity.details, ensure_ascii=False)
        assert not [w for w in forbidden if w in text]


def test_r10_unknown_and_mistyped_keys_change_nothing(manager: Manager) -> None:
    manager.create_organization(ALPHA, name=ALPHA_NAME, actor="alice")
    key = manager.vendor.issue_key(PRODUCT, quantities={"core": 1})
    normalized = normalize_key(key)
    # A well-formed key nobody issued.
    other = _keys.generate_key(bytes(_keys.RANDOM_BYTES))
    before = snapshot(manager)
    with pytest.raises(UnknownKey) as unknown:
        manager.redeem_key(ALPHA, other, actor="alice")
    assert_no_leak(unknown.value, *key_windows(other))
    # One symbol changed: the check catches it.
    changed = "1" if normalized[5] == "0" else "0"
    with pytest.raises(KeyTypo, match="mistyped") as typo:
        manager.redeem_key(ALPHA, normalized[:5] + changed + normalized[6:], actor="alice")
    assert_no_leak(typo.value, normalized[-5:])
    assert snapshot(manager) == before


# -- R11 history -------------------------------------------------------------------------------


def _new(manager: Manager, org_id: str, before: int) -> list[Activity]:
    return manager.history(org_id)[before:]


def test_r11_every_command_appends_exactly_its_own_activities(
    manager: Manager, clock: ManualClock
) -> None:
    t0 = clock.now()
    manager.create_organization(ALPHA, name=ALPHA_NAME, actor="alice")
    log = manager.history(ALPHA)
    assert brief(log) == [("organization_created", "alice", None, None)]
    assert log[0].at == t0
    assert log[0].on == date(2026, 1, 1)
    assert log[0].details == {"name": ALPHA_NAME, "timezone": "UTC"}

    n = len(manager.history(ALPHA))
    manager.register_system(ALPHA, PRODUCT, "sys-1", devices={"core": 4, "door": 0}, actor="alice")
    [registered] = _new(manager, ALPHA, n)
    assert brief([registered]) == [("system_registered", "alice", PRODUCT, "sys-1")]
    assert registered.details == {"devices": {"core": 4}}

    n += 1
    manager.start_subscription(ALPHA, PRODUCT, actor="alice")
    [started] = _new(manager, ALPHA, n)
    assert brief([started]) == [("subscription_started", "alice", PRODUCT, None)]
    assert started.details == {
        "anchor": "2026-01-01",
        "period": {"index": 0, "start": "2026-01-01", "end": "2027-01-01"},
        "trial_ends_on": "2026-01-31",
    }

    # Vendor commands belong to no organization: they add nothing to its history.
    n += 1
    key = manager.vendor.issue_key(PRODUCT, quantities={"core": 20})
    manager.vendor.ship_hardware("SN-1", PRODUCT, {"core": 2})
    extension = manager.vendor.issue_key(PRODUCT, LicenseKind.HARDWARE, {"core": 3})
    assert len(manager.history(ALPHA)) == n

    manager.redeem_key(ALPHA, key, actor="bob")
    [redeemed] = _new(manager, ALPHA, n)
    assert brief([redeemed]) == [("key_redeemed", "bob", PRODUCT, None)]
    assert redeemed.details == {
        "key": f"…{normalize_key(key)[-4:]}",
        "kind": "subscription",
        "quantities": {"core": 20},
        "lots": [1],
        "expires_on": "2031-01-01",
    }

    # 60 days into the period, after the trial: 10 × 60/365 = 1 + 47/73 comes back (R8).
    clock.set(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    t1 = clock.now()
    n += 1
    allocation = manager.allocate(ALPHA, PRODUCT, {"core": 10}, actor="alice")
    assert allocation.compensation == {"core": 1}
    assert allocation.credit == {"core": Fraction(47, 73)}
    allocated, credited = _new(manager, ALPHA, n)
    assert brief([allocated, credited]) == [
        ("licenses_allocated", "alice", PRODUCT, None),
        ("compensation_credited", "system", PRODUCT, None),
    ]
    assert allocated.details["quantities"] == {"core": 10}
    assert allocated.details["periods"] == [
        {
            "offset": 0,
            "period": {"index": 0, "start": "2026-01-01", "end": "2027-01-01"},
            "quantities": {"core": 10},
        }
    ]
    assert credited.details["quantities"] == {"core": 1}
    assert credited.details["credit"] == {"core": "47/73"}
    assert (allocated.at, allocated.on) == (t1, date(2026, 3, 2))
    assert (credited.at, credited.on) == (t1, date(2026, 3, 2))

    # Growth past 2 × 10 in the locked period: one growth_exceeded, the first time only (R5).
    n += 2
    manager.report_devices(ALPHA, "sys-1", {"core": 25}, actor="carol")
    reported, exceeded = _new(manager, ALPHA, n)
    assert brief([reported, exceeded]) == [
        ("devices_reported", "carol", PRODUCT, "sys-1"),
        ("growth_exceeded", "system", PRODUCT, None),
    ]
    assert reported.details["devices"] == {"core": 25}
    assert exceeded.details["required_now"] == {"core": 3}
    n += 2
    manager.report_devices(ALPHA, "sys-1", {"core": 26}, actor="carol")
    assert brief(_new(manager, ALPHA, n)) == [("devices_reported", "carol", PRODUCT, "sys-1")]

    # Confirm allocation: 3 more; 47/73 + 3 × 60/365 = 1 + 10/73.
    n += 1
    topped = manager.allocate_need(ALPHA, PRODUCT, actor="alice")
    assert topped.quantities == {"core": 3}
    assert topped.compensation == {"core": 1}
    assert topped.credit == {"core": Fraction(10, 73)}
    assert brief(_new(manager, ALPHA, n)) == [
        ("licenses_allocated", "alice", PRODUCT, None),
        ("compensation_credited", "system", PRODUCT, None),
    ]
    # Nothing needed: nothing recorded (R7).
    n += 2
    assert manager.allocate_need(ALPHA, PRODUCT, actor="alice").periods == ()
    assert len(manager.history(ALPHA)) == n

    manager.register_hardware(ALPHA, "sys-1", "SN-1", actor="dave")
    [attached] = _new(manager, ALPHA, n)
    assert brief([attached]) == [("hardware_registered", "dave", PRODUCT, "sys-1")]
    assert attached.details == {"serial": "SN-1", "preloaded": {"core": 2}}

    n += 1
    manager.redeem_key(ALPHA, extension, actor="bob")
    n += 1
    manager.allocate_to_hardware(ALPHA, "SN-1", {"core": 1}, actor="dave")
    [extended] = _new(manager, ALPHA, n)
    assert brief([extended]) == [("extension_allocated", "dave", PRODUCT, "sys-1")]
    assert extended.details["serial"] == "SN-1"
    assert extended.details["quantities"] == {"core": 1}

    n += 1
    data = offline.describe_system(
        system_id="sys-off", product=PRODUCT, devices={"core": 1}, now=clock.now()
    )
    manager.upload_system_file(ALPHA, data, actor="erin")
    [uploaded] = _new(manager, ALPHA, n)
    assert brief([uploaded]) == [("system_file_uploaded", "erin", PRODUCT, "sys-off")]
    assert uploaded.details["devices"] == {"core": 1}
    assert uploaded.details["hardware"] == []
    assert len(manager.history(ALPHA)) == n + 1


def test_r11_expiry_is_recorded_by_system_with_its_own_date(
    manager: Manager, clock: ManualClock
) -> None:
    manager.create_organization(ALPHA, name=ALPHA_NAME, actor="alice")
    key = manager.vendor.issue_key(PRODUCT, quantities={"core": 2, "door": 1})
    manager.redeem_key(ALPHA, key, actor="alice")  # 2026-01-01: expires 2031-01-01
    clock.set(datetime(2031, 3, 5, 9, 0, tzinfo=UTC))
    expected = [
        ("licenses_expired", "system", PRODUCT, None),
        ("licenses_expired", "system", PRODUCT, None),
    ]
    projected = manager.history(ALPHA, actions=["licenses_expired"])
    assert brief(projected) == expected
    assert [(a.at, a.on) for a in projected] == [
        (datetime(2031, 1, 1, tzinfo=UTC), date(2031, 1, 1))
    ] * 2
    assert sorted((a.details["license_type"], a.details["quantity"]) for a in projected) == [
        ("core", 2),
        ("door", 1),
    ]
    # A later command stores them with their own dates, once, before its own activity.
    manager.register_system(ALPHA, PRODUCT, "sys-1", actor="alice")
    log = manager.history(ALPHA)
    assert brief(log[-3:]) == [*expected, ("system_registered", "alice", PRODUCT, "sys-1")]
    assert [a.on for a in log[-3:]] == [date(2031, 1, 1), date(2031, 1, 1), date(2031, 3, 5)]
    assert manager.history(ALPHA, actions=["licenses_expired"]) == projected
    assert manager.wallet(ALPHA, PRODUCT).lots == ()


def test_r11_failed_commands_add_nothing_and_history_only_grows(
    manager: Manager, clock: ManualClock
) -> None:
    manager.create_organization(ALPHA, name=ALPHA_NAME, actor="alice")
    manager.register_system(ALPHA, PRODUCT, "sys-1", devices={"core": 2}, actor="alice")
    manager.start_subscription(ALPHA, PRODUCT, actor="alice")
    manager.redeem_key(ALPHA, manager.vendor.issue_key(PRODUCT, quantities={"core": 3}), actor="a")
    unknown_key = _keys.generate_key(bytes(_keys.RANDOM_BYTES))
    first = manager.history(ALPHA)
    before = snapshot(manager)
    failures: list[tuple[type[Exception], Callable[[], object]]] = [
        (InsufficientLicenses, lambda: manager.allocate(ALPHA, PRODUCT, {"core": 4}, actor="a")),
        (AlreadyStarted, lambda: manager.start_subscription(ALPHA, PRODUCT, actor="a")),
        (AlreadyRegistered, lambda: manager.register_system(ALPHA, PRODUCT, "sys-1", actor="a")),
        (UnknownSystem, lambda: manager.report_devices(ALPHA, "sys-404", {"core": 1}, actor="a")),
        (UnknownHardware, lambda: manager.register_hardware(ALPHA, "sys-1", "SN-404", actor="a")),
        (
            OutsideAllocationWindow,
            lambda: manager.allocate(ALPHA, PRODUCT, {"core": 1}, period=-1, actor="a"),
        ),
        (AlreadyExists, lambda: manager.create_organization(ALPHA, name="again", actor="a")),
        (UnknownKey, lambda: manager.redeem_key(ALPHA, unknown_key, actor="a")),
    ]
    for error, fail in failures:
        with pytest.raises(error):
            fail()
        assert snapshot(manager) == before
    clock.advance(days=3)
    manager.allocate(ALPHA, PRODUCT, {"core": 2}, actor="alice")
    later = manager.history(ALPHA)
    assert later[: len(first)] == first
    assert brief(later[len(first) :]) == [("licenses_allocated", "alice", PRODUCT, None)]


def test_r11_history_filters_and_pages(manager: Manager, clock: ManualClock) -> None:
    manager.create_organization(ALPHA, name=ALPHA_NAME, actor="alice")
    manager.register_system(ALPHA, PRODUCT, "sys-1", devices={"core": 1}, actor="bob")
    clock.advance(days=1)
    manager.start_subscription(ALPHA, PRODUCT, actor="alice")
    clock.advance(days=1)
    manager.report_devices(ALPHA, "sys-1", {"core": 2}, actor="bob")
    every = manager.history(ALPHA)
    assert [a.action for a in every] == [
        "organization_created",
        "system_registered",
        "subscription_started",
        "devices_reported",
    ]
    assert [a.action for a in manager.history(ALPHA, actor="bob")] == [
        "system_registered",
        "devices_reported",
    ]
    assert [a.action for a in manager.history(ALPHA, product=PRODUCT)] == [
        "system_registered",
        "subscription_started",
        "devices_reported",
    ]
    assert manager.history(ALPHA, actions=["subscription_started"]) == [every[2]]
    assert manager.history(ALPHA, since=date(2026, 1, 2), until=date(2026, 1, 2)) == [every[2]]
    assert manager.history(ALPHA, since=every[2].at) == every[2:]
    assert manager.history(ALPHA, until=every[1].at) == every[:2]
    assert manager.history(ALPHA, limit=2, offset=1) == every[1:3]
    assert manager.history(ALPHA, offset=4) == []


# -- R13 idempotency ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class World:
    """What :func:`populate` made: spare keys and a description file."""

    spare_key: str
    spare_key_2: str
    system_file: bytes
    system_file_2: bytes


def populate(manager: Manager, clock: ManualClock) -> World:
    """Alpha with sys-1 (core 3, hardware SN-1), acs-pro started, 10 core and 2 hardware
    core licenses in the wallet; SN-2 and SN-3 shipped and unclaimed; two spare keys."""
    manager.create_organization(ALPHA, name=ALPHA_NAME, actor="alice")
    manager.register_system(ALPHA, PRODUCT, "sys-1", devices={"core": 3}, actor="alice")
    manager.register_system(ALPHA, PRODUCT, "sys-2", devices={"core": 1}, actor="alice")
    manager.start_subscription(ALPHA, PRODUCT, actor="alice")
    manager.redeem_key(ALPHA, manager.vendor.issue_key(PRODUCT, quantities={"core": 10}), actor="a")
    for serial in ("SN-1", "SN-2", "SN-3"):
        manager.vendor.ship_hardware(serial, PRODUCT, {"core": 1})
    manager.register_hardware(ALPHA, "sys-1", "SN-1", actor="alice")
    extension = manager.vendor.issue_key(PRODUCT, LicenseKind.HARDWARE, {"core": 2})
    manager.redeem_key(ALPHA, extension, actor="alice")
    clock.advance(days=1)
    return World(
        spare_key=manager.vendor.issue_key(PRODUCT, quantities={"core": 5}),
        spare_key_2=manager.vendor.issue_key(PRODUCT, quantities={"door": 5}),
        system_file=offline.describe_system(
            system_id="sys-off", product=PRODUCT, devices={"core": 1}, now=clock.now()
        ),
        system_file_2=offline.describe_system(
            system_id="sys-off", product=PRODUCT, devices={"core": 2}, now=clock.now()
        ),
    )


Call = Callable[[Manager, World, str | None], object]

#: command -> (the call, the same command with other arguments)
IDEMPOTENT: dict[str, tuple[Call, Call]] = {
    "create_organization": (
        lambda m, w, r: m.create_organization("org-new", name="New", actor="a", request_id=r),
        lambda m, w, r: m.create_organization("org-new", name="Other", actor="a", request_id=r),
    ),
    "register_system": (
        lambda m, w, r: m.register_system(
            ALPHA, PRODUCT, "sys-9", devices={"core": 1}, actor="a", request_id=r
        ),
        lambda m, w, r: m.register_system(
            ALPHA, PRODUCT, "sys-9", devices={"core": 2}, actor="a", request_id=r
        ),
    ),
    "report_devices": (
        lambda m, w, r: m.report_devices(ALPHA, "sys-1", {"core": 4}, actor="a", request_id=r),
        lambda m, w, r: m.report_devices(ALPHA, "sys-1", {"core": 5}, actor="a", request_id=r),
    ),
    "start_subscription": (
        lambda m, w, r: m.start_subscription(ALPHA, LITE, actor="a", request_id=r),
        lambda m, w, r: m.start_subscription(ALPHA, PRODUCT, actor="a", request_id=r),
    ),
    "redeem_key": (
        lambda m, w, r: m.redeem_key(ALPHA, w.spare_key, actor="a", request_id=r),
        lambda m, w, r: m.redeem_key(ALPHA, w.spare_key_2, actor="a", request_id=r),
    ),
    "allocate": (
        lambda m, w, r: m.allocate(ALPHA, PRODUCT, {"core": 2}, actor="a", request_id=r),
        lambda m, w, r: m.allocate(ALPHA, PRODUCT, {"core": 2}, period=1, actor="a", request_id=r),
    ),
    "allocate_need": (
        lambda m, w, r: m.allocate_need(ALPHA, PRODUCT, actor="a", request_id=r),
        lambda m, w, r: m.allocate_need(ALPHA, PRODUCT, through=1, actor="a", request_id=r),
    ),
    "register_hardware": (
        lambda m, w, r: m.register_hardware(ALPHA, "sys-2", "SN-2", actor="a", request_id=r),
        lambda m, w, r: m.register_hardware(ALPHA, "sys-2", "SN-3", actor="a", request_id=r),
    ),
    "allocate_to_hardware": (
        lambda m, w, r: m.allocate_to_hardware(ALPHA, "SN-1", {"core": 1}, actor="a", request_id=r),
        lambda m, w, r: m.allocate_to_hardware(ALPHA, "SN-1", {"core": 2}, actor="a", request_id=r),
    ),
    "upload_system_file": (
        lambda m, w, r: m.upload_system_file(ALPHA, w.system_file, actor="a", request_id=r),
        lambda m, w, r: m.upload_system_file(ALPHA, w.system_file_2, actor="a", request_id=r),
    ),
    "vendor.issue_key": (
        lambda m, w, r: m.vendor.issue_key(PRODUCT, quantities={"core": 5}, request_id=r),
        lambda m, w, r: m.vendor.issue_key(PRODUCT, quantities={"core": 6}, request_id=r),
    ),
    "vendor.ship_hardware": (
        lambda m, w, r: m.vendor.ship_hardware("SN-X", PRODUCT, {"core": 1}, request_id=r),
        lambda m, w, r: m.vendor.ship_hardware("SN-X", PRODUCT, {"core": 2}, request_id=r),
    ),
}


@pytest.mark.parametrize("command", sorted(IDEMPOTENT))
def test_r13_same_request_id_and_arguments_replays_the_first_result(
    lm: Manager, clock: ManualClock, command: str
) -> None:
    world = populate(lm, clock)
    call, other = IDEMPOTENT[command]
    before = snapshot(lm)
    first = call(lm, world, "req-1")
    after_first = snapshot(lm)
    assert after_first != before
    clock.advance(timedelta(hours=1))  # a retry comes later; the result must not change
    assert call(lm, world, "req-1") == first
    assert snapshot(lm) == after_first
    with pytest.raises(IdempotencyConflict, match="req-1"):
        other(lm, world, "req-1")
    assert snapshot(lm) == after_first


def test_r13_same_arguments_are_compared_after_normalising(
    manager: Manager, clock: ManualClock
) -> None:
    world = populate(manager, clock)
    manager.register_system(
        ALPHA, PRODUCT, "sys-9", devices={"core": 1}, actor="a", request_id="reg-9"
    )
    redemption = manager.redeem_key(ALPHA, world.spare_key, actor="a", request_id="key-1")
    before = snapshot(manager)
    # A zero count is no count; a key typed differently is the same key.
    manager.register_system(
        ALPHA, PRODUCT, "sys-9", devices={"door": 0, "core": 1}, actor="a", request_id="reg-9"
    )
    retyped = world.spare_key.lower().replace("-", " ")
    assert manager.redeem_key(ALPHA, retyped, actor="a", request_id="key-1") == redemption
    assert snapshot(manager) == before


def test_r13_replay_returns_first_result_after_state_moved_on(
    manager: Manager, clock: ManualClock
) -> None:
    populate(manager, clock)
    first = manager.allocate(ALPHA, PRODUCT, {"core": 2}, actor="a", request_id="alloc-1")
    manager.allocate(ALPHA, PRODUCT, {"core": 3}, actor="a")
    clock.advance(days=10)
    assert manager.allocate(ALPHA, PRODUCT, {"core": 2}, actor="a", request_id="alloc-1") == first
    assert manager.status(ALPHA, PRODUCT).allocated == {"core": 5}
    assert manager.wallet(ALPHA, PRODUCT).balance() == {"core": 5}


def test_r13_same_request_id_for_another_command_conflicts(
    manager: Manager, clock: ManualClock
) -> None:
    populate(manager, clock)
    manager.report_devices(ALPHA, "sys-1", {"core": 4}, actor="a", request_id="shared")
    before = snapshot(manager)
    with pytest.raises(IdempotencyConflict):
        manager.allocate(ALPHA, PRODUCT, {"core": 1}, actor="a", request_id="shared")
    assert snapshot(manager) == before


def test_r13_vendor_scope_is_separate_from_org_scope(manager: Manager, clock: ManualClock) -> None:
    populate(manager, clock)
    key = manager.vendor.issue_key(PRODUCT, quantities={"core": 1}, request_id="shared")
    allocation = manager.allocate(ALPHA, PRODUCT, {"core": 1}, actor="a", request_id="shared")
    manager.vendor.ship_hardware("SN-S", PRODUCT, request_id="shared-2")
    manager.report_devices(ALPHA, "sys-2", {"core": 2}, actor="a", request_id="shared-2")
    assert manager.vendor.issue_key(PRODUCT, quantities={"core": 1}, request_id="shared") == key
    assert (
        manager.allocate(ALPHA, PRODUCT, {"core": 1}, actor="a", request_id="shared") == allocation
    )
    assert manager.system_status(ALPHA, "sys-2").devices == {"core": 2}
    # The vendor's request ids are one scope: another vendor command with the id conflicts.
    with pytest.raises(IdempotencyConflict):
        manager.vendor.ship_hardware("SN-T", PRODUCT, request_id="shared")


def test_r13_issue_key_with_request_id_returns_the_same_redeemable_key(
    manager: Manager, clock: ManualClock
) -> None:
    manager.create_organization(ALPHA, name=ALPHA_NAME, actor="alice")
    first = manager.vendor.issue_key(PRODUCT, quantities={"core": 7}, request_id="order-42")
    keys_after_first = manager.backend.count_rows("keys")
    assert manager.vendor.issue_key(PRODUCT, quantities={"core": 7}, request_id="order-42") == first
    assert manager.backend.count_rows("keys") == keys_after_first
    other = manager.vendor.issue_key(PRODUCT, quantities={"core": 7}, request_id="order-43")
    assert other != first
    assert manager.redeem_key(ALPHA, first, actor="alice").quantities == {"core": 7}
    # Still the same key after it was redeemed.
    assert manager.vendor.issue_key(PRODUCT, quantities={"core": 7}, request_id="order-42") == first
    with pytest.raises(KeyAlreadyRedeemed):
        manager.redeem_key(ALPHA, first, actor="alice")


def test_r13_a_failed_command_is_not_remembered(manager: Manager, clock: ManualClock) -> None:
    populate(manager, clock)
    with pytest.raises(UnknownHardware):
        manager.register_hardware(ALPHA, "sys-2", "SN-LATE", actor="a", request_id="hw-1")
    manager.vendor.ship_hardware("SN-LATE", PRODUCT, {"door": 1})
    manager.register_hardware(ALPHA, "sys-2", "SN-LATE", actor="a", request_id="hw-1")
    assert manager.system_status(ALPHA, "sys-2").hardware == ("SN-LATE",)
    # Other arguments after a failure: no conflict, since nothing was remembered.
    with pytest.raises(InsufficientLicenses):
        manager.allocate(ALPHA, PRODUCT, {"core": 11}, actor="a", request_id="alloc-1")
    assert manager.allocate(
        ALPHA, PRODUCT, {"core": 1}, actor="a", request_id="alloc-1"
    ).quantities == {"core": 1}
    # The vendor's scope too.
    with pytest.raises(AlreadyExists):
        manager.vendor.ship_hardware("SN-1", PRODUCT, request_id="ship-1")
    manager.vendor.ship_hardware("SN-NEW", PRODUCT, request_id="ship-1")


# -- R14 input ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Bad:
    """A bad value for one parameter, the error it must raise and words its message holds."""

    param: str
    value: object
    error: type[Exception]
    words: tuple[str, ...]


NAIVE = datetime(2026, 1, 1, 12, 0)
#: Every public method that takes input: the organization's commands (as the roles name them),
#: the vendor's, and the queries that read one organization's state.
ENTRY_POINTS = (
    "create_organization",
    *roles.COMMANDS,
    "vendor.issue_key",
    "vendor.ship_hardware",
    *(q for q in roles.QUERIES if q in {"status", "need", "wallet", "system_status", "history"}),
)


def valid_kwargs(entry: str, world: World) -> dict[str, object]:
    """Arguments that pass every input check of ``entry``."""
    command = {"actor": "alice", "request_id": None}
    table: dict[str, dict[str, object]] = {
        "create_organization": {"org_id": "org-new", "name": "New", "timezone": "UTC", **command},
        "register_system": {
            "org_id": ALPHA,
            "product": PRODUCT,
            "system_id": "sys-new",
            "devices": {"core": 1},
            **command,
        },
        "report_devices": {
            "org_id": ALPHA,
            "system_id": "sys-1",
            "devices": {"core": 2},
            **command,
        },
        "start_subscription": {"org_id": ALPHA, "product": PRODUCT, **command},
        "redeem_key": {"org_id": ALPHA, "key": world.spare_key, **command},
        "allocate": {
            "org_id": ALPHA,
            "product": PRODUCT,
            "quantities": {"core": 1},
            "period": 0,
            **command,
        },
        "allocate_need": {"org_id": ALPHA, "product": PRODUCT, "through": 0, **command},
        "register_hardware": {"org_id": ALPHA, "system_id": "sys-2", "serial": "SN-2", **command},
        "allocate_to_hardware": {
            "org_id": ALPHA,
            "serial": "SN-1",
            "quantities": {"core": 1},
            **command,
        },
        "upload_system_file": {"org_id": ALPHA, "data": world.system_file, **command},
        "vendor.issue_key": {
            "product": PRODUCT,
            "kind": LicenseKind.SUBSCRIPTION,
            "quantities": {"core": 1},
            "actor": "vendor",
            "request_id": None,
        },
        "vendor.ship_hardware": {
            "serial": "SN-9",
            "product": PRODUCT,
            "preloaded": {"core": 1},
            "actor": "vendor",
            "request_id": None,
        },
        "status": {"org_id": ALPHA, "product": PRODUCT, "at": None},
        "need": {"org_id": ALPHA, "product": PRODUCT, "at": None, "horizon": 5},
        "wallet": {"org_id": ALPHA, "product": PRODUCT, "at": None},
        "system_status": {"org_id": ALPHA, "system_id": "sys-1", "at": None},
        "history": {
            "org_id": ALPHA,
            "product": None,
            "actor": None,
            "actions": None,
            "since": None,
            "until": None,
            "limit": None,
            "offset": 0,
        },
    }
    return table[entry]


def invoke(manager: Manager, entry: str, kwargs: dict[str, object]) -> object:
    target: object = manager
    name = entry
    if entry.startswith("vendor."):
        target, name = manager.vendor, entry.removeprefix("vendor.")
    method: Callable[..., object] = getattr(target, name)
    return method(**kwargs)


def bad_ids(param: str) -> list[Bad]:
    return [
        Bad(param, "", InvalidInput, (param, "empty")),
        Bad(param, "   ", InvalidInput, (param, "empty")),
        Bad(param, "x" * 129, InvalidInput, (param, "129", "128")),
        Bad(param, "a\x00b", InvalidInput, (param, "control")),
        Bad(param, "a\nb", InvalidInput, (param, "control")),
        Bad(param, 42, InvalidInput, (param, "string")),
    ]


def bad_counts(param: str, *, zero_ok: bool, empty_ok: bool) -> list[Bad]:
    cases = [
        Bad(param, {"core": -1}, InvalidInput, (param, "core", "-1")),
        Bad(param, {"core": "1"}, InvalidInput, (param, "core", "integer")),
        Bad(param, {"core": True}, InvalidInput, (param, "core", "integer")),
        Bad(param, {"core": 1.0}, InvalidInput, (param, "core", "integer")),
        Bad(param, {"core": 1_000_001}, InvalidInput, (param, "core", "1,000,000")),
        Bad(param, {"nosuch": 1}, InvalidInput, (param, "nosuch", "license type")),
        Bad(param, {"": 1}, InvalidInput, (param, "license type", "empty")),
        Bad(param, {"co\nre": 1}, InvalidInput, (param, "license type", "control")),
        Bad(param, [("core", 1)], InvalidInput, (param, "mapping")),
    ]
    if not zero_ok:
        cases.append(Bad(param, {"core": 0}, InvalidInput, (param, "core", "positive")))
    if not empty_ok:
        cases.append(Bad(param, {}, InvalidInput, (param, "at least one")))
    return cases


def bad_ints(param: str, *, none_ok: bool = False) -> list[Bad]:
    cases = [
        Bad(param, "1", InvalidInput, (param, "integer")),
        Bad(param, 1.0, InvalidInput, (param, "integer")),
        Bad(param, True, InvalidInput, (param, "integer")),
    ]
    if not none_ok:
        cases.append(Bad(param, None, InvalidInput, (param, "integer")))
    return cases


def bad_instants(param: str) -> list[Bad]:
    return [
        Bad(param, NAIVE, InvalidInput, (param, "timezone-aware")),
        Bad(param, "2026-01-01T12:00:00Z", InvalidInput, (param,)),
    ]


UNKNOWN_ORG = Bad("org_id", "org-nowhere", UnknownOrganization, ("org-nowhere",))
UNKNOWN_PRODUCT = Bad("product", "no-such-product", UnknownProduct, ("no-such-product",))


def bad_inputs(entry: str, world: World, clock: ManualClock) -> list[Bad]:
    """Every kind of bad input of ``entry``."""
    kwargs = valid_kwargs(entry, world)
    cases: list[Bad] = []
    for param in ("org_id", "system_id", "serial", "actor", "request_id"):
        if param in kwargs:
            cases += bad_ids(param)
    if "org_id" in kwargs and entry != "create_organization":
        cases.append(UNKNOWN_ORG)
    if "product" in kwargs:
        cases += [*bad_ids("product"), UNKNOWN_PRODUCT]
    if "at" in kwargs:
        cases += bad_instants("at")
    if entry == "create_organization":
        cases += [
            Bad("timezone", "Mars/Olympus", InvalidInput, ("time zone", "Mars/Olympus")),
            Bad("timezone", "", InvalidInput, ("timezone", "empty")),
            Bad("timezone", "UTC\n", InvalidInput, ("timezone", "control")),
            Bad("name", "", InvalidInput, ("name", "empty")),
            Bad("name", "a\x00b", InvalidInput, ("name", "control")),
            Bad("name", "n" * 201, InvalidInput, ("name", "200")),
        ]
    if entry in ("register_system", "report_devices"):
        cases += bad_counts("devices", zero_ok=True, empty_ok=True)
    if entry in ("allocate", "allocate_to_hardware", "vendor.issue_key"):
        cases += bad_counts("quantities", zero_ok=False, empty_ok=False)
    if entry == "vendor.ship_hardware":
        cases += bad_counts("preloaded", zero_ok=False, empty_ok=True)
    if entry == "vendor.issue_key":
        cases += [
            Bad("kind", "bogus", InvalidInput, ("kind", "bogus")),
            Bad("kind", 3, InvalidInput, ("kind",)),
        ]
    if entry == "allocate":
        cases += bad_ints("period")
    if entry == "allocate_need":
        cases += bad_ints("through")
    if entry == "need":
        cases += [
            *bad_ints("horizon"),
            Bad("horizon", -1, InvalidInput, ("horizon", "-1")),
            Bad("horizon", 101, InvalidInput, ("horizon", "101")),
        ]
    if entry == "redeem_key":
        cases += [
            Bad("key", "", InvalidInput, ("empty",)),
            Bad("key", " - ", InvalidInput, ("empty",)),
            Bad("key", "a\x00b", KeyTypo, ("mistyped",)),
            Bad("key", "x" * 201, InvalidInput, ("too long",)),
            Bad("key", 12345, InvalidInput, ("string",)),
        ]
    if entry == "upload_system_file":
        wrong_type = offline.describe_system(
            system_id="sys-off", product=PRODUCT, devices={"nosuch": 1}, now=clock.now()
        )
        wrong_product = offline.describe_system(
            system_id="sys-off", product="no-such-product", devices={"core": 1}, now=clock.now()
        )
        cases += [
            Bad("data", b"not a system file", MalformedSystemFile, ("JSON",)),
            Bad(
                "data",
                world.system_file.replace(b'"core":1', b'"core":2'),
                MalformedSystemFile,
                ("checksum",),
            ),
            Bad("data", "text", MalformedSystemFile, ("bytes",)),
            Bad("data", wrong_type, InvalidInput, ("devices", "nosuch")),
            Bad("data", wrong_product, UnknownProduct, ("no-such-product",)),
        ]
    if entry == "history":
        cases += [
            Bad("actions", ["nope"], InvalidInput, ("unknown actions", "nope")),
            *bad_instants("since"),
            *bad_instants("until"),
            *bad_ints("limit", none_ok=True),
            Bad("limit", -1, InvalidInput, ("limit", "-1")),
            *bad_ints("offset"),
            Bad("offset", -1, InvalidInput, ("offset", "-1")),
        ]
    return cases


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_r14_bad_input_raises_invalid_input_and_changes_nothing(
    manager: Manager, clock: ManualClock, entry: str
) -> None:
    world = populate(manager, clock)
    before = snapshot(manager)
    cases = bad_inputs(entry, world, clock)
    assert len(cases) >= 8
    problems: list[str] = []
    for case in cases:
        kwargs = {**valid_kwargs(entry, world), case.param: case.value}
        label = f"{entry}({case.param}={case.value!r})"
        try:
            invoke(manager, entry, kwargs)
        except Exception as exc:
            message = str(exc)
            if not isinstance(exc, case.error):
                problems.append(f"{label} raised {exc!r}, not {case.error.__name__}")
            elif (
                case.error is not UnknownOrganization
                and case.error is not UnknownProduct
                and (not isinstance(exc, ValueError))
            ):
                problems.append(f"{label}: {type(exc).__name__} is not a ValueError")
            missing = [w for w in case.words if w not in message]
            if missing:
                problems.append(f"{label}: message {message!r} lacks {missing}")
        else:
            problems.append(f"{label} raised nothing")
    # One check after all cases (a snapshot per case is slow on PostgreSQL).
    after = snapshot(manager)
    changed = [table for table in TABLES if after[table] != before[table]]
    if changed:
        problems.append(f"a bad {entry} call changed the tables {changed}")
    assert not problems, "\n".join(problems)


def test_r14_limits_themselves_are_accepted(manager: Manager) -> None:
    manager.create_organization("o" * 128, name="n" * 200, timezone="Europe/Stockholm", actor="a")
    key = manager.vendor.issue_key(PRODUCT, quantities={"core": 1_000_000}, actor="v" * 128)
    assert manager.redeem_key("o" * 128, key, actor="a").quantities == {"core": 1_000_000}
    manager.register_system("o" * 128, PRODUCT, "s" * 128, devices={"core": 1_000_000}, actor="a")
    assert manager.system_status("o" * 128, "s" * 128).devices == {"core": 1_000_000}


@pytest.mark.parametrize(
    ("timezone", "at"),
    [
        ("America/New_York", datetime(1, 1, 1, tzinfo=UTC)),
        ("UTC", datetime(9999, 12, 31, 23, 0, tzinfo=UTC)),
    ],
    ids=["year-1-in-new-york", "year-9999"],
)
def test_r14_instants_out_of_range_raise_invalid_input(
    manager: Manager, timezone: str, at: datetime
) -> None:
    manager.create_organization(ALPHA, name=ALPHA_NAME, timezone=timezone, actor="a")
    manager.register_system(ALPHA, PRODUCT, "sys-1", devices={"core": 1}, actor="a")
    manager.start_subscription(ALPHA, PRODUCT, actor="a")
    with pytest.raises(InvalidInput, match="at"):
        manager.status(ALPHA, PRODUCT, at=at)


def test_r14_manager_open_checks_its_input() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"url": 123}, "scheme"),
        ({"catalog": "acs-pro"}, "catalog"),
        ({"clock": object()}, "clock"),
        ({"signing_key": b"not a key"}, "signing key"),
    ]
    for changes, words in cases:
        kwargs: dict[str, Any] = {"url": "memory://", "catalog": EXAMPLE_CATALOG, **changes}
        with pytest.raises(InvalidInput, match=words):
            Manager.open(**kwargs)


class SwitchClock:
    """A clock that turns naive on demand."""

    def __init__(self, start: datetime) -> None:
        self.instant = start
        self.naive = False

    def now(self) -> datetime:
        return self.instant.replace(tzinfo=None) if self.naive else self.instant


def test_r14_a_clock_returning_naive_datetimes_is_refused(
    backend_url: str, clock: ManualClock
) -> None:
    switch = SwitchClock(clock.now())
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=switch) as manager:
        world = populate(manager, ManualClock(switch.now()))
        before = snapshot(manager)
        switch.naive = True
        problems: list[str] = []
        for entry in ENTRY_POINTS:
            try:
                invoke(manager, entry, valid_kwargs(entry, world))
            except InvalidInput as exc:
                if "clock" not in str(exc) or "timezone-aware" not in str(exc):
                    problems.append(f"{entry}: {exc}")
            except Exception as exc:
                problems.append(f"{entry} raised {exc!r}")
            else:
                problems.append(f"{entry} accepted a naive clock")
            if snapshot(manager) != before:
                problems.append(f"{entry} changed the store")
        assert not problems, "\n".join(problems)
        # An explicit aware `at` does not need the clock.
        at = datetime(2026, 1, 2, 13, 0, tzinfo=UTC)
        assert manager.wallet(ALPHA, PRODUCT, at=at).balance() == {"core": 10}


# -- queries at a past instant, and dates in the organization's zone -----------------------


def test_query_at_a_past_instant_answers_from_the_facts_then(
    manager: Manager, clock: ManualClock
) -> None:
    t0 = clock.now()  # 2026-01-01 12:00
    manager.create_organization(ALPHA, name=ALPHA_NAME, actor="a")
    manager.register_system(ALPHA, PRODUCT, "sys-1", devices={"core": 4}, actor="a")
    manager.start_subscription(ALPHA, PRODUCT, actor="a")
    t1 = clock.advance(days=10)
    manager.redeem_key(ALPHA, manager.vendor.issue_key(PRODUCT, quantities={"core": 10}), actor="a")
    t2 = clock.advance(days=30)  # 2026-02-10, after the trial
    manager.allocate(ALPHA, PRODUCT, {"core": 4}, actor="a")
    t3 = clock.advance(days=5)
    manager.report_devices(ALPHA, "sys-1", {"core": 6}, actor="a")
    manager.register_system(ALPHA, PRODUCT, "sys-2", devices={"door": 1}, actor="a")
    clock.advance(days=5)

    hour = timedelta(hours=1)
    before_redeem = manager.wallet(ALPHA, PRODUCT, at=t1 - hour)
    assert before_redeem.lots == ()
    assert manager.wallet(ALPHA, PRODUCT, at=t1).balance() == {"core": 10}  # inclusive
    trial = manager.status(ALPHA, PRODUCT, at=t1 + hour)
    assert trial.state is ProductState.TRIAL
    assert trial.devices == {"core": 4}
    assert trial.allocated == {}
    # 2026-02-01 .. 2026-02-10 before noon: trial over, nothing allocated yet.
    assert manager.status(ALPHA, PRODUCT, at=t2 - hour).state is ProductState.UNLICENSED
    locked = manager.status(ALPHA, PRODUCT, at=t2 + hour)
    assert locked.state is ProductState.LICENSED
    assert locked.devices == {"core": 4}
    assert locked.allocated == {"core": 4}
    assert manager.wallet(ALPHA, PRODUCT, at=t2 + hour).balance() == {"core": 6}
    assert manager.system_status(ALPHA, "sys-1", at=t3 - hour).devices == {"core": 4}
    with pytest.raises(UnknownSystem):
        manager.system_status(ALPHA, "sys-2", at=t3 - hour)
    need = manager.need(ALPHA, PRODUCT, at=t2 - hour, horizon=1)
    assert [p.shortfall for p in need.periods] == [{"core": 4}, {"core": 4}]
    now = manager.status(ALPHA, PRODUCT)
    assert now.devices == {"door": 1, "core": 6}
    assert now.state is ProductState.LICENSED
    assert now.growth_exceeded is True  # door has no licence to grow from
    # Before the organization existed: nothing was recorded yet.
    assert manager.status(ALPHA, PRODUCT, at=t0 - hour).state is ProductState.NOT_STARTED
    assert manager.wallet(ALPHA, PRODUCT, at=t0 - hour).lots == ()


def test_r2_r3_r6_local_dates_around_a_dst_change_in_stockholm(
    manager: Manager, clock: ManualClock
) -> None:
    # 2026-03-28 23:30 UTC is 00:30 on 29 March in Stockholm (CET, +1); clocks
    # spring forward at 01:00 UTC that night.
    clock.set(datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
    manager.create_organization(ALPHA, name=ALPHA_NAME, timezone="Europe/Stockholm", actor="a")
    manager.register_system(ALPHA, PRODUCT, "sys-1", devices={"core": 1}, actor="a")
    manager.start_subscription(ALPHA, PRODUCT, actor="a")
    key = manager.vendor.issue_key(PRODUCT, quantities={"core": 3})
    redeemed = manager.redeem_key(ALPHA, key, actor="a")
    assert [(lot.acquired_on, lot.expires_on) for lot in redeemed.lots] == [
        (date(2026, 3, 29), date(2031, 3, 29))
    ]
    [created, _, started, _] = manager.history(ALPHA)
    assert (created.at, created.on) == (
        datetime(2026, 3, 28, 23, 30, tzinfo=UTC),
        date(2026, 3, 29),
    )
    assert started.details["anchor"] == "2026-03-29"
    assert started.details["trial_ends_on"] == "2026-04-28"
    status = manager.status(ALPHA, PRODUCT)
    assert status.period is not None
    assert (status.period.start, status.period.end) == (date(2026, 3, 29), date(2027, 3, 29))
    assert status.window_ends_on == date(2026, 4, 28)
    # Summer time (+2): the last trial minute is 27 April 21:59 UTC.
    assert (
        manager.status(ALPHA, PRODUCT, at=datetime(2026, 4, 27, 21, 59, tzinfo=UTC)).state
        is ProductState.TRIAL
    )
    assert (
        manager.status(ALPHA, PRODUCT, at=datetime(2026, 4, 27, 22, 0, tzinfo=UTC)).state
        is ProductState.UNLICENSED
    )
    # Just after the jump (03:30 CEST) it is still 29 March: the first period.
    spring = manager.status(ALPHA, PRODUCT, at=datetime(2026, 3, 29, 1, 30, tzinfo=UTC))
    assert spring.state is ProductState.TRIAL
    # The lot expires at local midnight of 29 March 2031, winter time (+1): 28 March 23:00 UTC.
    last_minute = datetime(2031, 3, 28, 22, 59, tzinfo=UTC)
    expiry = datetime(2031, 3, 28, 23, 0, tzinfo=UTC)
    assert manager.wallet(ALPHA, PRODUCT, at=last_minute).balance() == {"core": 3}
    assert manager.wallet(ALPHA, PRODUCT, at=expiry).balance() == {}
    clock.set(expiry + timedelta(days=1))
    [expired] = manager.history(ALPHA, actions=["licenses_expired"])
    assert (expired.at, expired.on, expired.actor) == (expiry, date(2031, 3, 29), "system")
