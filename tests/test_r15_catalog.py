"""R15: the catalog lives in the store, with every version; each period keeps its terms.

Every test runs on memory, SQLite and PostgreSQL (``backend_url``), except those that
reopen a store, which memory cannot (it is private to the Manager that opened it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from _support import START
from axis_licensing import (
    EXAMPLE_CATALOG,
    Catalog,
    CatalogError,
    CatalogMismatch,
    CatalogRequired,
    CatalogVersion,
    IdempotencyConflict,
    IncompatibleCatalog,
    InvalidInput,
    LicenseType,
    Manager,
    ManualClock,
    PermissionDenied,
    ProductSpec,
    ProductState,
    UnknownProduct,
    hookimpl,
    to_jsonable,
)
from axis_licensing._migrate import migrate
from axis_licensing.policy.catalogs import Edition, catalog_for, differences, version_at
from axis_licensing.policy.state import OrgState, ProductLedger

PRO_TYPES = (
    LicenseType("core"),
    LicenseType("universal", covers=("core",)),
    LicenseType("door"),
)
EDGE = ProductSpec("acs-edge", "AXIS Edge", license_types=[LicenseType("core")])


def pro(**changes: object) -> ProductSpec:
    """acs-pro as in EXAMPLE_CATALOG, with ``changes``."""
    fields: dict[str, object] = {
        "code": "acs-pro",
        "name": "AXIS Camera Station Pro",
        "license_types": PRO_TYPES,
        **changes,
    }
    return ProductSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture(params=("sqlite", "postgresql"))
def persistent_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store that survives a reopen: SQLite and PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'axis.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


def test_r15_first_open_records_the_catalog_as_version_1(manager: Manager) -> None:
    assert pro() == EXAMPLE_CATALOG.products[0]
    assert manager.catalog == EXAMPLE_CATALOG
    assert manager.catalog_versions() == [
        CatalogVersion(version=1, effective_at=START, catalog=EXAMPLE_CATALOG)
    ]


def test_r15_open_without_a_catalog_on_an_empty_store_raises_catalog_required(
    backend_url: str,
) -> None:
    with pytest.raises(CatalogRequired, match="no catalog yet") as caught:
        Manager.open(backend_url)
    assert isinstance(caught.value, CatalogError)


def test_r15_reopen_without_a_catalog_uses_the_latest_version(
    persistent_url: str, clock: ManualClock
) -> None:
    newer = Catalog([pro(growth_rate=Fraction(1, 2)), EDGE])
    with Manager.open(persistent_url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        clock.advance(days=3)
        assert m.vendor.publish_catalog(newer) == 2
    with Manager.open(persistent_url, clock=clock) as m:
        assert m.catalog == newer
        assert [(v.version, v.effective_at) for v in m.catalog_versions()] == [
            (1, START),
            (2, START + timedelta(days=3)),
        ]
    with Manager.open(persistent_url, catalog=newer, clock=clock) as m:  # equal: accepted
        assert m.catalog == newer


def test_r15_another_catalog_at_open_raises_catalog_mismatch_listing_every_difference(
    persistent_url: str, clock: ManualClock
) -> None:
    with Manager.open(persistent_url, catalog=EXAMPLE_CATALOG, clock=clock):
        pass
    other = Catalog([pro(name="ACS Pro", growth_rate=Fraction(1, 2)), EDGE])
    with pytest.raises(CatalogMismatch) as caught:
        Manager.open(persistent_url, catalog=other, clock=clock)
    assert caught.value.differences == [
        "product 'acs-pro': name AXIS Camera Station Pro -> ACS Pro",
        "product 'acs-pro': growth_rate 1 -> 1/2",
        "product 'acs-edge' is added",
    ]
    assert "growth_rate 1 -> 1/2" in str(caught.value)
    assert to_jsonable(caught.value) == {
        "code": "catalog_mismatch",
        "message": str(caught.value),
        "details": {"differences": caught.value.differences},
    }
    with Manager.open(persistent_url, clock=clock) as m:  # nothing changed
        assert m.catalog_versions() == [CatalogVersion(1, START, EXAMPLE_CATALOG)]


def test_r15_differences_name_types_and_covers() -> None:
    old = Catalog([pro(), EDGE])
    new = Catalog([pro(license_types=[LicenseType("core"), LicenseType("universal")])])
    assert differences(old, new) == [
        "product 'acs-pro': license types [core, universal (covers core), door] -> "
        "[core, universal]",
        "product 'acs-edge' is left out",
    ]
    assert differences(old, old) == []


def test_r15_publish_catalog_records_a_version_effective_from_its_instant(
    manager: Manager, clock: ManualClock
) -> None:
    newer = Catalog([pro(name="ACS Pro", growth_rate=Fraction(1, 2), trial_days=45), EDGE])
    clock.advance(days=10)
    assert manager.vendor.publish_catalog(newer, actor="vera") == 2
    assert manager.catalog == newer
    assert manager.catalog_versions() == [
        CatalogVersion(1, START, EXAMPLE_CATALOG),
        CatalogVersion(2, START + timedelta(days=10), newer),
    ]
    # the same catalog again records nothing
    clock.advance(days=1)
    assert manager.vendor.publish_catalog(newer) == 2
    assert len(manager.catalog_versions()) == 2


def test_r15_publish_catalog_refuses_an_incompatible_catalog_listing_every_reason(
    manager: Manager, clock: ManualClock
) -> None:
    assert manager.vendor.publish_catalog(Catalog([pro(), EDGE])) == 2
    bad = Catalog(
        [
            pro(
                term_years=2,
                license_types=[LicenseType("core"), LicenseType("universal"), LicenseType("new")],
            )
        ]
    )
    with pytest.raises(IncompatibleCatalog) as caught:
        manager.vendor.publish_catalog(bad)
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.code == "incompatible_catalog"
    assert caught.value.details == {"reasons": caught.value.reasons}
    assert caught.value.reasons == [
        "product 'acs-pro': term_years changes from 1 to 2",
        "product 'acs-pro': license type 'universal' covers nothing instead of core",
        "product 'acs-pro': license type 'door' is removed",
        "product 'acs-edge' is removed",
    ]
    assert [v.version for v in manager.catalog_versions()] == [1, 2]
    with pytest.raises(InvalidInput, match="catalog must be a Catalog"):
        manager.vendor.publish_catalog("acs-pro")  # type: ignore[arg-type]


class Gate:
    def __init__(self, allow: bool = True) -> None:
        self.allow = allow
        self.asked: list[tuple[str, str | None, str, str | None]] = []

    @hookimpl
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool:
        self.asked.append((actor, org_id, action, product))
        return self.allow


def test_r15_publish_catalog_is_an_idempotent_vendor_command_asking_authorize(
    backend_url: str, clock: ManualClock
) -> None:
    gate = Gate()
    newer = Catalog([pro(), EDGE])
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock, plugins=[gate]) as m:
        assert m.vendor.publish_catalog(newer, actor="vera", request_id="cat-2") == 2
        clock.advance(days=1)
        assert m.vendor.publish_catalog(newer, actor="vera", request_id="cat-2") == 2
        assert gate.asked == [("vera", None, "vendor.publish_catalog", None)] * 2
        with pytest.raises(IdempotencyConflict):
            m.vendor.publish_catalog(Catalog([pro(), EDGE, pro(code="x")]), request_id="cat-2")
        assert [v.version for v in m.catalog_versions()] == [1, 2]
        gate.allow = False
        with pytest.raises(PermissionDenied):
            m.vendor.publish_catalog(Catalog([pro(growth_rate=2), EDGE]), actor="eve")
        assert m.catalog == newer
        assert [v.version for v in m.catalog_versions()] == [1, 2]


def test_r15_each_period_keeps_the_terms_of_the_version_in_effect_at_its_start(
    manager: Manager, clock: ManualClock
) -> None:
    """growth_rate and trial_days change mid-period: the period keeps the old ones."""
    m = manager
    key = m.vendor.issue_key("acs-pro", quantities={"core": 40})
    m.create_organization("acme", name="Acme", actor="ann")
    m.register_system("acme", "acs-pro", "s-1", devices={"core": 10}, actor="ann")
    m.start_subscription("acme", "acs-pro", actor="ann")  # anchor 2026-01-01
    m.redeem_key("acme", key, actor="ann")
    m.allocate("acme", "acs-pro", {"core": 10}, actor="ann")  # period 0 locks
    before_v2 = datetime(2026, 2, 1, tzinfo=UTC)
    clock.set(datetime(2026, 3, 1, 9, tzinfo=UTC))
    v2 = Catalog([pro(growth_rate=Fraction(1, 2)), EDGE])
    assert m.vendor.publish_catalog(v2) == 2
    clock.set(datetime(2026, 3, 2, 9, tzinfo=UTC))
    m.report_devices("acme", "s-1", {"core": 16}, actor="ann")
    # period 0 opened under version 1 (growth 1): 10 licenses allow 20 devices
    now = m.status("acme", "acs-pro")
    assert now.state is ProductState.LICENSED
    assert now.required_now == {}
    assert now.growth_exceeded is False
    m.allocate("acme", "acs-pro", {"core": 16}, period=1, actor="ann")
    # acs-edge is new in version 2; started under it, its trial has 30 days
    m.start_subscription("acme", "acs-edge", actor="ann")
    clock.set(datetime(2026, 3, 3, 9, tzinfo=UTC))
    v3 = Catalog([pro(growth_rate=Fraction(1, 2)), attrs_evolve(EDGE, trial_days=45)])
    assert m.vendor.publish_catalog(v3) == 3
    assert m.status("acme", "acs-edge").window_ends_on == date(2026, 4, 1)
    # period 1 opens under version 3 (growth 1/2): 16 licenses allow 24 devices
    clock.set(datetime(2027, 1, 10, 9, tzinfo=UTC))
    m.report_devices("acme", "s-1", {"core": 25}, actor="ann")
    later = m.status("acme", "acs-pro")
    assert later.period is not None
    assert later.period.index == 1
    assert later.state is ProductState.LICENSED
    assert later.required_now == {"core": 1}
    assert later.growth_exceeded is True
    # a past ``at`` uses the version in effect then: acs-edge did not exist yet
    assert [p.product for p in m.products("acme", at=before_v2)] == ["acs-pro"]
    assert [p.product for p in m.products("acme")] == ["acs-pro", "acs-edge"]
    with pytest.raises(UnknownProduct):
        m.status("acme", "acs-edge", at=before_v2)


def attrs_evolve(spec: ProductSpec, **changes: object) -> ProductSpec:
    import attrs

    return attrs.evolve(spec, **changes)  # type: ignore[arg-type]


def test_r15_migrate_carries_every_catalog_version(
    backend_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        clock.advance(days=2)
        m.vendor.publish_catalog(Catalog([pro(), EDGE]))
        versions = m.catalog_versions()
        report = migrate(m.backend, target)
    assert report.table("catalogs").rows == 2
    with Manager.open(target, clock=clock) as copy:
        assert copy.catalog_versions() == versions


def test_r15_version_at_and_catalog_for_are_pure_decisions() -> None:
    v1 = CatalogVersion(1, datetime(2026, 1, 1, tzinfo=UTC), Catalog([pro()]))
    v2 = CatalogVersion(2, datetime(2026, 6, 1, tzinfo=UTC), Catalog([pro(trial_days=60)]))
    assert version_at([v1, v2], datetime(2025, 1, 1, tzinfo=UTC)) is v1  # before every version
    assert version_at([v1, v2], datetime(2026, 6, 1, tzinfo=UTC)) is v2
    editions = [Edition(1, v1.catalog, date.min), Edition(2, v2.catalog, date(2026, 6, 2))]
    started = OrgState(
        org_id="o",
        name="O",
        timezone="UTC",
        created_on=date(2026, 1, 1),
        as_of=date(2026, 7, 1),
        anchor=date(2026, 1, 1),
        products={"acs-pro": ProductLedger(code="acs-pro", started_on=date(2026, 6, 1))},
    )
    # the window opened on 2026-06-01, the day before version 2's first day
    assert catalog_for(started, date(2026, 7, 1), editions).products[0].trial_days == 30
    later = attrs_evolve_state(started, date(2026, 6, 2))
    assert catalog_for(later, date(2026, 7, 1), editions) is v2.catalog


def attrs_evolve_state(state: OrgState, started_on: date) -> OrgState:
    return state.with_ledger(ProductLedger(code="acs-pro", started_on=started_on))
