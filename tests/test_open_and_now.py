"""SPEC §1 and §3: one coherent "now" for ``at=None``; ``Manager.open(..., create=False)``.

- A query without ``at`` answers at ``max(clock now, the organization's latest
  command)``, in every query, so a clock set back never mixes "now" with later facts.
- ``create=False`` creates nothing (file, schema, table, catalog or key) and raises
  ``StoreNotFound`` for a store that does not exist.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from _support import pg_schema_exists
from axis_licensing import (
    EXAMPLE_CATALOG,
    CatalogRequired,
    InvalidInput,
    Manager,
    ManualClock,
    NotFound,
    ProductState,
    StorageError,
    StoreNotFound,
    hookimpl,
)
from axis_licensing.backends import Backend, BackendRegistry
from axis_licensing.backends.memory import MemoryBackend
from axis_licensing.members._tables import MEMBER_TABLES

POSTGRES_URL = os.environ.get(
    "AXIS_LICENSING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

JAN_15_2027 = datetime(2027, 1, 15, 9, tzinfo=UTC)
SET_BACK = datetime(2026, 6, 1, 9, tzinfo=UTC)


def renewed_then_set_back(m: Manager, clock: ManualClock) -> None:
    """Anchor 2026-01-01; period 1 allocated and locked on 2027-01-15; then the clock goes back."""
    key = m.vendor.issue_key("acs-pro", quantities={"core": 5})
    m.create_organization("acme", name="Acme", actor="ann")
    m.register_system("acme", "acs-pro", "s-1", devices={"core": 5}, actor="ann")
    m.start_subscription("acme", "acs-pro", actor="ann")
    clock.set(JAN_15_2027)
    m.redeem_key("acme", key, actor="ann")
    m.allocate("acme", "acs-pro", {"core": 5}, period=0, actor="ann")  # period 1 is current
    clock.set(SET_BACK)  # a server whose clock is behind, or a simulation set back


@pytest.fixture
def m(manager: Manager) -> Manager:
    """The Manager on each backend in turn, by a short name."""
    return manager


def test_at_none_is_the_latest_command_when_the_clock_is_set_back_in_every_query(
    m: Manager, clock: ManualClock
) -> None:
    renewed_then_set_back(m, clock)
    status = m.status("acme", "acs-pro")
    assert status.period is not None
    assert status.period.index == 1
    assert status.state is ProductState.LICENSED
    assert status.licensed_through == date(2028, 1, 1)
    assert status == m.status("acme", "acs-pro", at=JAN_15_2027)
    assert m.need("acme", "acs-pro").periods[0].period.index == 1
    assert m.need("acme", "acs-pro") == m.need("acme", "acs-pro", at=JAN_15_2027)
    assert m.wallet("acme", "acs-pro") == m.wallet("acme", "acs-pro", at=JAN_15_2027)
    assert m.system_status("acme", "s-1").licensed is True
    assert m.products("acme") == [status]
    assert [s.licensed for s in m.systems("acme")] == [True]
    assert m.alerts("acme") == m.alerts("acme", at=JAN_15_2027)
    # an explicit earlier ``at`` still answers from the facts recorded up to it
    then = m.status("acme", "acs-pro", at=SET_BACK)
    assert then.period is not None
    assert then.period.index == 0
    assert then.state is ProductState.UNLICENSED
    assert [a.kind for a in m.alerts("acme", at=SET_BACK)] == [
        "unlicensed",
        "system_unlicensed",
    ]


def test_at_none_is_the_clock_when_it_is_ahead(m: Manager, clock: ManualClock) -> None:
    m.create_organization("acme", name="Acme", actor="ann")
    m.register_system("acme", "acs-pro", "s-1", devices={"core": 5}, actor="ann")
    m.start_subscription("acme", "acs-pro", actor="ann")
    clock.set(datetime(2026, 2, 1, tzinfo=UTC))  # the trial ended on 2026-01-31
    assert m.status("acme", "acs-pro").state is ProductState.UNLICENSED


def test_history_with_the_clock_behind_shows_what_the_latest_command_recorded(
    m: Manager, clock: ManualClock
) -> None:
    key = m.vendor.issue_key("acs-pro", quantities={"core": 3})
    m.create_organization("acme", name="Acme", actor="ann")
    m.redeem_key("acme", key, actor="ann")  # expires 2031-01-01
    clock.set(datetime(2031, 1, 2, tzinfo=UTC))
    m.register_system("acme", "acs-pro", "s-1", devices={}, actor="ann")  # records the expiry
    clock.set(SET_BACK)
    assert [a.action for a in m.history("acme")][-2:] == ["licenses_expired", "system_registered"]


# -- create=False ---------------------------------------------------------------------------


def test_create_false_on_a_missing_sqlite_file_raises_store_not_found_and_creates_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "typo.db"
    with pytest.raises(StoreNotFound, match="no SQLite database") as caught:
        Manager.open(f"sqlite:///{path}", create=False)
    assert isinstance(caught.value, NotFound)
    assert caught.value.code == "store_not_found"
    with pytest.raises(StoreNotFound):
        Manager.open(f"sqlite:///{path}", catalog=EXAMPLE_CATALOG, create=False)
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_create_false_on_an_empty_file_creates_no_tables(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    with pytest.raises(StoreNotFound, match="holds no axis-licensing database"):
        Manager.open(f"sqlite:///{path}", create=False)
    assert path.read_bytes() == b""


def test_create_false_on_a_missing_postgresql_schema_creates_nothing(postgres_url: str) -> None:
    assert not pg_schema_exists(postgres_url)
    with pytest.raises(StoreNotFound, match="holds no axis-licensing store"):
        Manager.open(postgres_url, create=False)
    with pytest.raises(StoreNotFound):
        Manager.open(postgres_url, catalog=EXAMPLE_CATALOG, create=False)
    assert not pg_schema_exists(postgres_url)


def test_create_false_on_a_memory_url_raises_store_not_found() -> None:
    with pytest.raises(StoreNotFound, match="private"):
        Manager.open("memory://", catalog=EXAMPLE_CATALOG, create=False)


def _acme_started_in(url: str, clock: ManualClock) -> bytes:
    """A new store at ``url`` with Acme's subscription started; the store's public key."""
    with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        m.create_organization("acme", name="Acme", actor="ann")
        m.start_subscription("acme", "acs-pro", actor="ann")
        return m.public_key


def test_create_false_opens_an_existing_store_with_its_own_catalog_and_key(
    persistent_url: str, clock: ManualClock
) -> None:
    public_key = _acme_started_in(persistent_url, clock)
    with Manager.open(persistent_url, clock=clock, create=False) as m:
        assert m.public_key == public_key
        assert m.catalog == EXAMPLE_CATALOG
        assert m.status("acme", "acs-pro").state is ProductState.TRIAL


def test_create_false_on_a_store_without_a_catalog_raises_catalog_required(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bare.db'}"
    from axis_licensing.backends.sqlite import SQLiteBackend

    SQLiteBackend(url).close()  # tables, but no catalog and no key
    with pytest.raises(CatalogRequired, match="create=False records nothing"):
        Manager.open(url, catalog=EXAMPLE_CATALOG, create=False)
    backend = SQLiteBackend(url, create=False)
    try:
        assert (backend.count_rows("catalogs"), backend.count_rows("meta")) == (0, 0)
    finally:
        backend.close()


def test_create_must_be_a_bool() -> None:
    with pytest.raises(InvalidInput, match="create must be True or False"):
        Manager.open("memory://", catalog=EXAMPLE_CATALOG, create="no")  # type: ignore[arg-type]


class PlainFactory:
    """A third-party backend registered with the plain ``factory(url)`` protocol."""

    @hookimpl
    def axis_licensing_register_backends(self, registry: BackendRegistry) -> None:
        def plain(url: str) -> Backend:  # no ``create`` keyword
            return MemoryBackend(url)

        registry.add("plain", plain)


class CreatingFactory:
    """A third-party backend whose factory takes ``create``."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    @hookimpl
    def axis_licensing_register_backends(self, registry: BackendRegistry) -> None:
        def factory(url: str, *, create: bool = True) -> Backend:
            self.calls.append(create)
            return MemoryBackend(url, create=create)

        registry.add("careful", factory)


def test_create_is_passed_only_to_factories_that_take_it() -> None:
    with Manager.open("plain://", catalog=EXAMPLE_CATALOG, plugins=[PlainFactory()]) as m:
        assert m.catalog == EXAMPLE_CATALOG
    with pytest.raises(InvalidInput, match="takes no `create` keyword"):
        Manager.open("plain://", catalog=EXAMPLE_CATALOG, plugins=[PlainFactory()], create=False)
    careful = CreatingFactory()
    with Manager.open("careful://", catalog=EXAMPLE_CATALOG, plugins=[careful]):
        pass
    with pytest.raises(StoreNotFound):
        Manager.open("careful://", catalog=EXAMPLE_CATALOG, plugins=[careful], create=False)
    assert careful.calls == [True, False]


def _downgrade_to_schema_1(url: str) -> None:
    """Make ``url`` a store as schema version 1 wrote it: no catalog versions, and one
    whole state per command in ``states`` (the organization's own parts, enough here)."""
    from axis_licensing._convert import dumps_fast
    from axis_licensing._parts import stored_versions
    from axis_licensing.backends import builtin
    from axis_licensing.events.store import EVENT_TABLES

    registry = BackendRegistry()
    builtin.axis_licensing_register_backends(registry)
    backend = registry.open(url)
    try:
        at_of = {(r["org_id"], r["seq"]): r["at_us"] for r in backend.export_rows("versions")}
        states = [
            (org_id, at_of[org_id, seq], seq, dumps_fast(state))
            for org_id in sorted({org for org, _ in at_of})
            for seq, state in stored_versions(backend, org_id)
        ]
    finally:
        backend.close()
    # the tables of schema versions 2 to 5 (4: events out, SPEC §7; 5: members, SPEC §8)
    dropped = ("catalogs", "versions", "parts", "part_history", *EVENT_TABLES, *MEMBER_TABLES)
    if url.startswith("sqlite:"):
        import sqlite3

        lite = sqlite3.connect(url.removeprefix("sqlite:///"))
        with lite:
            for table in dropped:
                lite.execute(f"DROP TABLE {table}")
            lite.execute("ALTER TABLE orgs DROP COLUMN head")
            lite.execute("ALTER TABLE orgs DROP COLUMN at_us")
            lite.executemany(
                "INSERT INTO states (org_id, at_us, seq, state) VALUES (?, ?, ?, ?)", states
            )
            lite.execute("PRAGMA user_version = 1")
        lite.close()
        return
    import psycopg

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for table in dropped:
            conn.execute(f'DROP TABLE "{schema}".{table}')
        conn.execute(f'ALTER TABLE "{schema}".orgs DROP COLUMN at_us')
        with conn.cursor() as cursor:
            cursor.executemany(
                f'INSERT INTO "{schema}".states (org_id, at_us, seq, state) '
                "VALUES (%s, %s, %s, %s)",
                states,
            )
        conn.execute(
            f'UPDATE "{schema}".orgs o SET head = '
            f'(SELECT max(seq) FROM "{schema}".states s WHERE s.org_id = o.org_id)'
        )
        conn.execute(f'UPDATE "{schema}".schema_version SET version = 1')


def test_r15_a_store_of_schema_1_is_upgraded_and_gets_its_catalog_recorded(
    persistent_url: str, clock: ManualClock
) -> None:
    _acme_started_in(persistent_url, clock)
    _downgrade_to_schema_1(persistent_url)
    with pytest.raises(StorageError, match="has schema version 1; open it once for writing"):
        Manager.open(persistent_url, create=False)
    with pytest.raises(CatalogRequired):
        Manager.open(persistent_url, clock=clock)  # upgraded, but no catalog to record
    with Manager.open(persistent_url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        assert [v.version for v in m.catalog_versions()] == [1]
        assert m.status("acme", "acs-pro").state is ProductState.TRIAL
    with Manager.open(persistent_url, clock=clock, create=False) as m:
        assert m.catalog == EXAMPLE_CATALOG
