"""SPEC §3: listing organizations, products and systems, and the alerts of every kind.

Also the ``axis_licensing_alert`` hook (§4): observers hear of each alert once, when it
first appears. Every test runs on memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from axis_licensing import (
    EXAMPLE_CATALOG,
    Alert,
    AlertKind,
    Catalog,
    InvalidInput,
    LicenseType,
    Manager,
    ManualClock,
    Organization,
    ProductSpec,
    ProductState,
    UnknownOrganization,
    UnknownProduct,
)

TWO = Catalog(
    [
        EXAMPLE_CATALOG.products[0],
        ProductSpec("acs-edge", "AXIS Edge", license_types=[LicenseType("core")]),
    ]
)


@pytest.fixture
def two(backend_url: str, clock: ManualClock) -> Iterator[Manager]:
    """A Manager whose catalog has acs-pro and acs-edge."""
    with Manager.open(backend_url, catalog=TWO, clock=clock) as m:
        yield m


# -- organizations ----------------------------------------------------------------------------


def test_organizations_are_listed_by_id_in_byte_order_and_paged(
    manager: Manager, clock: ManualClock
) -> None:
    m = manager
    for org_id in ("b-org", "é", "a-org", "Z", "c-org"):
        zone = "Europe/Stockholm" if org_id == "b-org" else "UTC"
        m.create_organization(org_id, name=org_id.upper(), timezone=zone, actor="ann")
    m.start_subscription("b-org", "acs-pro", actor="ann")
    every = m.organizations()
    assert every == [
        Organization("Z", "Z", "UTC", None),
        Organization("a-org", "A-ORG", "UTC", None),
        Organization("b-org", "B-ORG", "Europe/Stockholm", date(2026, 1, 1)),
        Organization("c-org", "C-ORG", "UTC", None),
        Organization("é", "É", "UTC", None),
    ]
    assert m.organizations(limit=2, offset=1) == every[1:3]
    assert m.organizations(offset=4) == every[4:]
    assert m.organizations(limit=0) == []
    assert m.organizations(offset=9) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": -1}, "limit must be at least 0"),
        ({"offset": -1}, "offset must be at least 0"),
        ({"limit": "2"}, "limit must be an integer"),
        ({"offset": True}, "offset must be an integer"),
    ],
)
def test_r14_organizations_checks_its_paging(
    manager: Manager, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        manager.organizations(**kwargs)


# -- products and systems ---------------------------------------------------------------------


def test_products_lists_every_catalog_product_not_started_included(two: Manager) -> None:
    two.create_organization("acme", name="Acme", actor="ann")
    two.start_subscription("acme", "acs-pro", actor="ann")
    listed = two.products("acme")
    assert [(p.product, p.state) for p in listed] == [
        ("acs-pro", ProductState.TRIAL),
        ("acs-edge", ProductState.NOT_STARTED),
    ]
    assert listed == [two.status("acme", "acs-pro"), two.status("acme", "acs-edge")]
    with pytest.raises(UnknownOrganization):
        two.products("nobody")
    with pytest.raises(InvalidInput, match="timezone-aware"):
        two.products("acme", at=datetime(2026, 1, 1))


def test_systems_are_listed_by_id_with_product_and_hardware_filtered_and_paged(
    two: Manager, clock: ManualClock
) -> None:
    m = two
    m.vendor.ship_hardware("HW-1", "acs-edge", {"core": 1})
    m.create_organization("acme", name="Acme", actor="ann")
    m.register_system("acme", "acs-pro", "s-3", devices={"core": 1}, actor="ann")
    before = clock.now()
    clock.advance(days=1)
    m.register_system("acme", "acs-pro", "s-1", devices={"core": 2}, actor="ann")
    m.register_system("acme", "acs-edge", "s-2", devices={"core": 1}, actor="ann")
    m.register_hardware("acme", "s-2", "HW-1", actor="ann")
    listed = m.systems("acme")
    assert [(s.system_id, s.product, s.hardware) for s in listed] == [
        ("s-1", "acs-pro", ()),
        ("s-2", "acs-edge", ("HW-1",)),
        ("s-3", "acs-pro", ()),
    ]
    assert listed == [m.system_status("acme", s) for s in ("s-1", "s-2", "s-3")]
    assert listed[1].licensed is True  # its hardware covers its one device
    assert [s.system_id for s in m.systems("acme", product="acs-pro")] == ["s-1", "s-3"]
    assert [s.system_id for s in m.systems("acme", limit=1, offset=1)] == ["s-2"]
    assert [s.system_id for s in m.systems("acme", product="acs-pro", offset=1)] == ["s-3"]
    assert [s.system_id for s in m.systems("acme", at=before)] == ["s-3"]
    with pytest.raises(UnknownProduct):
        m.systems("acme", product="nope")
    with pytest.raises(InvalidInput, match="limit must be at least 0"):
        m.systems("acme", limit=-1)
    with pytest.raises(InvalidInput, match="offset must be an integer"):
        m.systems("acme", offset=1.5)  # type: ignore[arg-type]


def alert(
    kind: AlertKind,
    on: date,
    *,
    product: str = "acs-pro",
    system_id: str | None = None,
    **details: object,
) -> Alert:
    """An alert about ``product`` (acs-pro unless said), with ``details``."""
    return Alert(kind=kind, product=product, on=on, system_id=system_id, details=details)


# -- alerts -----------------------------------------------------------------------------------


def test_alerts_of_every_kind_soonest_first(two: Manager, clock: ManualClock) -> None:
    m = two
    m.create_organization("acme", name="Acme", actor="ann")
    m.register_system("acme", "acs-pro", "s-1", devices={"core": 4}, actor="ann")
    m.start_subscription("acme", "acs-pro", actor="ann")  # trial through 2026-01-30
    trial = alert(AlertKind.TRIAL_ENDING, date(2026, 1, 31), days_left=30, shortfall={"core": 4})
    assert m.alerts("acme") == [trial]
    assert m.alerts("acme", within_days=29) == []
    assert m.alerts("acme", within_days=30) == [trial]

    m.register_system("acme", "acs-edge", "s-2", devices={"core": 2}, actor="ann")
    edge_system = alert(
        AlertKind.SYSTEM_UNLICENSED,
        date(2026, 1, 1),
        product="acs-edge",
        system_id="s-2",
        unlicensed_devices={"core": 2},
    )
    assert m.alerts("acme") == [edge_system, trial]
    m.vendor.ship_hardware("HW-1", "acs-edge", {"core": 2})
    m.register_hardware("acme", "s-2", "HW-1", actor="ann")
    assert m.alerts("acme") == [trial]

    clock.set(datetime(2026, 2, 10, 12, tzinfo=UTC))
    assert m.alerts("acme") == [
        alert(AlertKind.UNLICENSED, date(2026, 2, 10), since="2026-01-31", shortfall={"core": 4}),
        alert(
            AlertKind.SYSTEM_UNLICENSED,
            date(2026, 2, 10),
            system_id="s-1",
            unlicensed_devices={"core": 4},
        ),
    ]
    key = m.vendor.issue_key("acs-pro", quantities={"core": 10})
    m.redeem_key("acme", key, actor="ann")  # lot 1 expires 2031-02-10
    m.allocate("acme", "acs-pro", {"core": 4}, actor="ann")
    assert m.alerts("acme") == []
    m.report_devices("acme", "s-1", {"core": 9}, actor="ann")  # 4 licenses allow 8
    growth = alert(AlertKind.GROWTH_EXCEEDED, date(2026, 2, 10), required_now={"core": 1})
    assert m.alerts("acme") == [growth]

    clock.set(datetime(2026, 11, 15, 12, tzinfo=UTC))
    assert m.alerts("acme") == [
        alert(AlertKind.GROWTH_EXCEEDED, date(2026, 11, 15), required_now={"core": 1}),
        alert(AlertKind.RENEWAL_UNCOVERED, date(2027, 1, 1), period=1, shortfall={"core": 9}),
    ]
    assert m.alerts("acme", within_days=46) == m.alerts("acme")[:1]

    clock.set(datetime(2027, 1, 5, 12, tzinfo=UTC))
    assert m.alerts("acme") == [
        alert(AlertKind.GRACE_ENDING, date(2027, 1, 31), days_left=26, shortfall={"core": 9})
    ]
    at = datetime(2031, 1, 1, 12, tzinfo=UTC)
    assert m.alerts("acme", at=at) == [
        alert(AlertKind.GRACE_ENDING, date(2031, 1, 31), days_left=30, shortfall={"core": 9}),
        alert(
            AlertKind.LOTS_EXPIRING,
            date(2031, 2, 10),
            lots=[{"lot_id": 1, "kind": "subscription", "license_type": "core", "quantity": 6}],
            subscription={"core": 6},
        ),
    ]
    # a past ``at`` answers from the facts then
    assert m.alerts("acme", at=datetime(2026, 1, 1, 13, tzinfo=UTC)) == [trial]


@pytest.mark.parametrize(
    ("within_days", "message"),
    [
        (-1, "within_days must be at least 0"),
        (3661, "within_days must be at most 3660"),
        ("5", "within_days must be an integer"),
        (True, "within_days must be an integer"),
    ],
)
def test_r14_alerts_checks_within_days(manager: Manager, within_days: Any, message: str) -> None:
    manager.create_organization("acme", name="Acme", actor="ann")
    with pytest.raises(InvalidInput, match=message):
        manager.alerts("acme", within_days=within_days)


def test_alerts_of_an_unknown_organization_raise(manager: Manager) -> None:
    with pytest.raises(UnknownOrganization):
        manager.alerts("nobody")
