"""The PostgreSQL backend: URL settings, schema migrations, R1 uniqueness, R13 races, errors.

Every test that needs a server uses the ``postgres_url`` fixture (a fresh schema,
dropped afterwards), so the file skips without one. URL parsing and an
unreachable server need no server.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg import sql

from _support import START
from axis_licensing import EXAMPLE_CATALOG, LicenseKind, Manager, ManualClock, ProductState
from axis_licensing.backends import TABLES, HistoryQuery, RequestRow, RetryableConflict
from axis_licensing.backends.postgresql import (
    MIGRATION_LOCK,
    SCHEMA_VERSION,
    PostgreSQLBackend,
    parse_url,
)
from axis_licensing.backends.sqlite import SQLiteBackend
from axis_licensing.errors import (
    AlreadyRegistered,
    InsufficientLicenses,
    InvalidInput,
    KeyAlreadyRedeemed,
    StorageError,
)

PRODUCT = "acs-pro"
EXPECTED_TABLES = {*TABLES, "schema_version"}


# -- helpers ----------------------------------------------------------------------------------


def schema_of(url: str) -> str:
    return parse_url(url).schema


def admin(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection to the server of ``url`` (our parameters removed)."""
    return psycopg.connect(parse_url(url).conninfo, autocommit=True)


def with_params(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)


def tables_in(url: str, schema: str | None = None) -> set[str]:
    with admin(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = %s",
            (schema or schema_of(url),),
        ).fetchall()
    return {str(row[0]) for row in rows}


def stored_version(url: str) -> int:
    with admin(url) as conn:
        row = conn.execute(
            sql.SQL("SELECT version FROM {}").format(
                sql.Identifier(schema_of(url), "schema_version")
            )
        ).fetchone()
    assert row is not None
    return int(row[0])


def waiting_on_lock(url: str, application_name: str, count: int, timeout: float = 10.0) -> None:
    """Wait until ``count`` sessions named ``application_name`` wait for a lock."""
    deadline = time.monotonic() + timeout
    with admin(url) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = %s AND wait_event_type = 'Lock'",
                (application_name,),
            ).fetchone()
            assert row is not None
            if int(row[0]) >= count:
                return
            time.sleep(0.01)
    raise AssertionError(f"no session of {application_name} started waiting for a lock")


def in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    """Run ``work`` in a started thread; the list receives what it raised."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, raised


@pytest.fixture
def pg_manager(postgres_url: str, clock: ManualClock) -> Iterator[Manager]:
    with Manager.open(postgres_url, catalog=EXAMPLE_CATALOG, clock=clock) as manager:
        yield manager


@pytest.fixture
def second_postgres_url(postgres_url: str) -> Iterator[str]:
    """Another fresh schema on the same server, dropped afterwards."""
    schema = f"axis_test_{uuid.uuid4().hex[:12]}"
    base = parse_url(postgres_url)
    yield with_params(postgres_url.split("?", 1)[0], schema=schema)
    with psycopg.connect(base.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# -- the Manager end to end -------------------------------------------------------------------


def test_r13_postgres_manager_smoke_flow(
    postgres_url: str, pg_manager: Manager, clock: ManualClock
) -> None:
    m = pg_manager
    m.create_organization("acme", name="Acme", actor="alice")
    m.register_system("acme", PRODUCT, "sys-1", devices={"core": 5, "door": 2}, actor="alice")
    m.start_subscription("acme", PRODUCT, actor="alice")
    trial = m.status("acme", PRODUCT)
    assert trial.state is ProductState.TRIAL
    assert trial.period is not None
    assert (trial.period.index, trial.period.start, trial.period.end) == (
        0,
        date(2026, 1, 1),
        date(2027, 1, 1),
    )
    assert trial.window_ends_on == date(2026, 1, 31)

    key = m.vendor.issue_key(PRODUCT, quantities={"core": 10, "door": 5})
    redemption = m.redeem_key("acme", key, actor="alice")
    assert [
        (lot.license_type, lot.quantity, lot.acquired_on, lot.expires_on) for lot in redemption.lots
    ] == [
        ("core", 10, date(2026, 1, 1), date(2031, 1, 1)),
        ("door", 5, date(2026, 1, 1), date(2031, 1, 1)),
    ]

    clock.advance(days=60)  # 2026-03-02: the trial ended on 2026-01-31
    assert m.status("acme", PRODUCT).state is ProductState.UNLICENSED

    # R8: overlap 60 days of 365: core 10·60/365 = 1 + 47/73, door 5·60/365 = 60/73.
    allocation = m.allocate("acme", PRODUCT, {"core": 10, "door": 5}, actor="alice")
    assert allocation.compensation == {"core": 1}
    assert allocation.credit == {"core": Fraction(47, 73), "door": Fraction(60, 73)}

    status = m.status("acme", PRODUCT)
    assert status.state is ProductState.LICENSED
    assert status.allocated == {"core": 10, "door": 5}
    assert status.devices == {"core": 5, "door": 2}
    assert status.licensed_through == date(2027, 1, 1)
    assert status.required_now == {}

    wallet = m.wallet("acme", PRODUCT)
    assert [
        (lot.license_type, lot.quantity, lot.acquired_on, lot.expires_on) for lot in wallet.lots
    ] == [
        ("core", 1, date(2026, 3, 2), date(2031, 3, 2)),
    ]
    assert wallet.balance() == {"core": 1}
    assert wallet.credit == {"core": Fraction(47, 73), "door": Fraction(60, 73)}

    assert m.system_status("acme", "sys-1").licensed is True
    # A past instant reads the parts then in force (seq_at, parts).
    past = m.status("acme", PRODUCT, at=START + timedelta(days=1))
    assert past.state is ProductState.TRIAL
    assert past.allocated == {}

    history = m.history("acme")
    assert [a.action for a in history] == [
        "organization_created",
        "system_registered",
        "subscription_started",
        "key_redeemed",
        "licenses_allocated",
        "compensation_credited",
    ]
    assert [a.on for a in history] == [date(2026, 1, 1)] * 4 + [date(2026, 3, 2)] * 2
    assert [a.actor for a in history] == ["alice"] * 5 + ["system"]
    assert [a.action for a in m.history("acme", actions=["key_redeemed"])] == ["key_redeemed"]
    assert [a.action for a in m.history("acme", limit=2, offset=3)] == [
        "key_redeemed",
        "licenses_allocated",
    ]

    # A second Manager (another app server) sees the same store and the same signing key.
    with Manager.open(postgres_url, catalog=EXAMPLE_CATALOG, clock=clock) as other:
        assert other.public_key == m.public_key
        assert other.wallet("acme", PRODUCT) == wallet
        assert [a.action for a in other.history("acme")] == [a.action for a in history]


# -- URL settings -----------------------------------------------------------------------------


def test_r14_url_defaults() -> None:
    settings = parse_url("postgresql://alice:s3cret@db.example:5433/licensing")
    assert (settings.schema, settings.pool_size, settings.connect_timeout) == ("public", 4, 5)
    assert settings.where == "db.example:5433/licensing"
    assert psycopg.conninfo.conninfo_to_dict(settings.conninfo) == {
        "user": "alice",
        "password": "s3cret",
        "host": "db.example",
        "port": "5433",
        "dbname": "licensing",
        "connect_timeout": "5",
    }
    assert "s3cret" not in repr(settings)


def test_r14_url_own_parameters_are_stripped_and_libpq_ones_pass() -> None:
    settings = parse_url(
        "postgres://u@h/db?schema=Lic%20Schema&pool_size=7&connect_timeout=2"
        "&sslmode=disable&application_name=portal"
    )
    assert (settings.schema, settings.pool_size, settings.connect_timeout) == ("Lic Schema", 7, 2)
    assert psycopg.conninfo.conninfo_to_dict(settings.conninfo) == {
        "user": "u",
        "host": "h",
        "dbname": "db",
        "sslmode": "disable",
        "application_name": "portal",
        "connect_timeout": "2",
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("pool_size=0", "pool_size='0' must be a whole number from 1 to 100"),
        ("pool_size=101", "pool_size='101' must be a whole number from 1 to 100"),
        ("pool_size=abc", "pool_size='abc'"),
        ("pool_size=-1", "pool_size='-1'"),
        ("pool_size=", "pool_size=''"),
        ("connect_timeout=0", "connect_timeout='0' must be a whole number from 1 to 3600"),
        ("connect_timeout=2.5", "connect_timeout='2.5'"),
        ("schema=", "schema must not be empty"),
        ("schema=pg_mine", "reserved"),
        ("schema=" + "x" * 64, "longer than PostgreSQL's 63 bytes"),
        ("schema=a%00b", "control characters"),
        ("schema=a&schema=b", "'schema' is given more than once"),
        ("colour=blue", 'invalid URI query parameter: "colour"'),
    ],
)
def test_r14_url_bad_parameter_raises_invalid_input(query: str, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_url(f"postgresql://u@h/db?{query}")
    assert message in str(info.value)


def test_r14_url_wrong_scheme_raises_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="postgresql://"):
        parse_url("mysql://u@h/db")


def test_r14_unknown_parameter_through_manager_open(postgres_url: str) -> None:
    with pytest.raises(InvalidInput, match='invalid URI query parameter: "colour"'):
        Manager.open(with_params(postgres_url, colour="blue"), catalog=EXAMPLE_CATALOG)
    assert tables_in(postgres_url) == set()  # refused before connecting


def test_r14_pool_size_sets_the_pool_max_size(postgres_url: str) -> None:
    backend = PostgreSQLBackend(with_params(postgres_url, pool_size="2"))
    try:
        assert backend.pool_size == 2
        assert backend._pool.max_size == 2
        # Two transactions at once fit; both see the fresh schema.
        with backend.read() as first, backend.read() as second:
            assert first.meta("x") is None
            assert second.meta("x") is None
    finally:
        backend.close()


def test_r13_schema_is_created_quoted_and_indexed(postgres_url: str) -> None:
    schema = f'Axis "odd" schema {uuid.uuid4().hex[:8]}'
    url = with_params(postgres_url.split("?", 1)[0], schema=schema)
    try:
        backend = PostgreSQLBackend(url)
        backend.close()
        assert tables_in(url, schema) == EXPECTED_TABLES
        assert stored_version(url) == SCHEMA_VERSION
        with admin(url) as conn:
            indexes = {
                str(row[0])
                for row in conn.execute(
                    "SELECT indexname FROM pg_catalog.pg_indexes WHERE schemaname = %s",
                    (schema,),
                ).fetchall()
            }
        # head(), seq_at() and the parts in force at a version are index lookups
        # (O(log n)), as in SQLite.
        assert {
            "orgs_pkey",
            "versions_pkey",
            "versions_at",
            "parts_pkey",
            "part_history_pkey",
            "activities_org",
        } <= indexes
    finally:
        with admin(url) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# -- schema versions --------------------------------------------------------------------------


def test_r13_newer_schema_version_is_refused_and_nothing_changes(postgres_url: str) -> None:
    PostgreSQLBackend(postgres_url).close()
    schema = schema_of(postgres_url)
    with admin(postgres_url) as conn:
        conn.execute(
            sql.SQL("UPDATE {} SET version = %s").format(sql.Identifier(schema, "schema_version")),
            (SCHEMA_VERSION + 1,),
        )
    with pytest.raises(StorageError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        PostgreSQLBackend(postgres_url)
    with pytest.raises(StorageError, match="upgrade axis-licensing"):
        Manager.open(postgres_url, catalog=EXAMPLE_CATALOG)
    assert stored_version(postgres_url) == SCHEMA_VERSION + 1
    assert tables_in(postgres_url) == EXPECTED_TABLES
    with admin(postgres_url) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "meta"))
        ).fetchone()
    assert row == (0,)  # not even the signing key was stored


def test_r13_newer_version_table_alone_gets_no_tables(postgres_url: str) -> None:
    schema = schema_of(postgres_url)
    with admin(postgres_url) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL("CREATE TABLE {} (version INTEGER NOT NULL)").format(
                sql.Identifier(schema, "schema_version")
            )
        )
        conn.execute(
            sql.SQL("INSERT INTO {} VALUES (99)").format(sql.Identifier(schema, "schema_version"))
        )
    with pytest.raises(StorageError, match="schema version 99"):
        PostgreSQLBackend(postgres_url)
    assert tables_in(postgres_url) == {"schema_version"}
    assert stored_version(postgres_url) == 99


def test_r13_threads_open_a_fresh_schema_at_once(postgres_url: str) -> None:
    barrier = threading.Barrier(8)
    opened: list[PostgreSQLBackend] = []

    def open_backend() -> None:
        barrier.wait()
        opened.append(PostgreSQLBackend(postgres_url))

    started = [in_thread(open_backend) for _ in range(8)]
    for thread, _ in started:
        thread.join()
    try:
        assert [exc for _, raised in started for exc in raised] == []
        assert len(opened) == 8
        assert tables_in(postgres_url) == EXPECTED_TABLES
        with admin(postgres_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = %s",
                (schema_of(postgres_url),),
            ).fetchone()
        assert row == (1,)
        with opened[0].write() as tx:
            assert tx.create_org("o") is True
        with opened[7].read() as rtx:
            assert rtx.system_owner("s") is None
        assert stored_version(postgres_url) == SCHEMA_VERSION
        assert opened[3].count_rows("orgs") == 1
    finally:
        for backend in opened:
            backend.close()


def test_r13_processes_open_a_fresh_schema_at_once(postgres_url: str) -> None:
    # Each process imports, says "ready", and opens when the test says "go", so they race.
    code = (
        "import sys\n"
        "from axis_licensing.backends.postgresql import PostgreSQLBackend\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "PostgreSQLBackend(sys.argv[1]).close()\n"
        "print('opened')\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, postgres_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        results = [process.communicate("go\n", timeout=60) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [(p.returncode, out) for p, (out, _) in zip(processes, results, strict=True)] == [
        (0, "opened\n")
    ] * 3, [err for _, err in results]
    assert tables_in(postgres_url) == EXPECTED_TABLES
    assert stored_version(postgres_url) == SCHEMA_VERSION


def test_r13_migration_waits_for_the_advisory_lock(postgres_url: str) -> None:
    """A fresh schema is only created under the migration lock."""
    with admin(postgres_url) as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        app = f"axis_mig_{uuid.uuid4().hex[:8]}"
        thread, raised = in_thread(
            lambda: PostgreSQLBackend(with_params(postgres_url, application_name=app)).close()
        )
        waiting_on_lock(postgres_url, app, 1)
        assert tables_in(postgres_url) == set()
        holder.execute("COMMIT")
        thread.join()
    assert raised == []
    assert tables_in(postgres_url) == EXPECTED_TABLES


# -- R1: unique across organizations ----------------------------------------------------------


def test_r1_postgres_system_serial_and_key_are_unique_across_organizations(
    pg_manager: Manager,
) -> None:
    m = pg_manager
    m.create_organization("acme-corp", name="Acme", actor="alice")
    m.create_organization("globex-inc", name="Globex", actor="bob")
    m.register_system("acme-corp", PRODUCT, "sys-1", devices={"core": 1}, actor="alice")
    m.register_system("globex-inc", PRODUCT, "sys-2", devices={"core": 1}, actor="bob")

    with pytest.raises(AlreadyRegistered) as system_error:
        m.register_system("globex-inc", PRODUCT, "sys-1", devices={"core": 1}, actor="bob")
    assert "acme-corp" not in str(system_error.value)

    m.vendor.ship_hardware("SN-1", PRODUCT, preloaded={"door": 2})
    m.register_hardware("acme-corp", "sys-1", "SN-1", actor="alice")
    with pytest.raises(AlreadyRegistered) as hardware_error:
        m.register_hardware("globex-inc", "sys-2", "SN-1", actor="bob")
    assert "acme-corp" not in str(hardware_error.value)

    key = m.vendor.issue_key(PRODUCT, quantities={"core": 3})
    m.redeem_key("acme-corp", key, actor="alice")
    with pytest.raises(KeyAlreadyRedeemed) as key_error:
        m.redeem_key("globex-inc", key, actor="bob")
    assert "acme-corp" not in str(key_error.value)

    assert m.wallet("globex-inc", PRODUCT).balance() == {}
    assert m.wallet("acme-corp", PRODUCT).balance() == {"core": 3}
    assert m.system_status("acme-corp", "sys-1").hardware_capacity == {"door": 2}
    assert m.system_status("globex-inc", "sys-2").hardware_capacity == {}
    assert [a.action for a in m.history("globex-inc")] == [
        "organization_created",
        "system_registered",
    ]
    with m.backend.read() as tx:
        assert tx.system_owner("sys-1") == "acme-corp"
        assert tx.system_owner("sys-2") == "globex-inc"


# -- errors become StorageError ---------------------------------------------------------------


def test_r13_unreachable_server_raises_storage_error() -> None:
    url = "postgresql://postgres:s3cret@127.0.0.1:1/test?connect_timeout=2"
    with pytest.raises(StorageError) as info:
        PostgreSQLBackend(url)
    assert isinstance(info.value.__cause__, psycopg.OperationalError)
    assert "cannot connect to PostgreSQL at 127.0.0.1:1/test" in str(info.value)
    assert "s3cret" not in str(info.value)
    with pytest.raises(StorageError) as via_manager:
        Manager.open(url, catalog=EXAMPLE_CATALOG)
    assert isinstance(via_manager.value.__cause__, psycopg.Error)


def test_r13_closed_backend_raises_storage_error(postgres_url: str) -> None:
    backend = PostgreSQLBackend(postgres_url)
    backend.close()
    with pytest.raises(StorageError) as info, backend.read():
        pass
    assert isinstance(info.value.__cause__, psycopg.Error)


def test_r13_failing_statement_raises_storage_error(postgres_url: str, pg_manager: Manager) -> None:
    pg_manager.create_organization("acme", name="Acme", actor="alice")
    with admin(postgres_url) as conn:
        conn.execute(
            sql.SQL("DROP TABLE {}").format(sql.Identifier(schema_of(postgres_url), "orgs"))
        )
    with pytest.raises(StorageError) as info:
        pg_manager.status("acme", PRODUCT)
    assert isinstance(info.value.__cause__, pg_errors.UndefinedTable)
    with pytest.raises(StorageError) as write_info:
        pg_manager.start_subscription("acme", PRODUCT, actor="alice")
    assert isinstance(write_info.value.__cause__, pg_errors.UndefinedTable)


# -- lost races become RetryableConflict ------------------------------------------------------


@pytest.fixture
def named_backend(postgres_url: str) -> Iterator[tuple[PostgreSQLBackend, str, str]]:
    """A backend whose sessions carry a unique application_name, so a test can see them wait."""
    app = f"axis_race_{uuid.uuid4().hex[:8]}"
    url = with_params(postgres_url, application_name=app)
    backend = PostgreSQLBackend(url)
    yield backend, url, app
    backend.close()


def test_r13_twin_request_insert_is_retryable(
    named_backend: tuple[PostgreSQLBackend, str, str],
) -> None:
    backend, url, app = named_backend
    row = RequestRow("vendor", "r-1", "fp", "null")
    with backend.write() as first:
        first.put_request(row)

        def twin() -> None:
            with backend.write() as second:
                second.put_request(row)

        thread, raised = in_thread(twin)
        waiting_on_lock(url, app, 1)
    thread.join()
    assert [type(exc) for exc in raised] == [RetryableConflict]
    assert isinstance(raised[0].__cause__, pg_errors.UniqueViolation)
    with backend.read() as tx:
        assert tx.request("vendor", "r-1") == row


def test_r13_create_org_race_has_one_winner(
    named_backend: tuple[PostgreSQLBackend, str, str],
) -> None:
    backend, url, app = named_backend
    with backend.write() as first:
        assert first.create_org("acme") is True

        def twin() -> None:
            with backend.write() as second:
                second.create_org("acme")

        thread, raised = in_thread(twin)
        waiting_on_lock(url, app, 1)
    thread.join()
    assert [type(exc) for exc in raised] == [RetryableConflict]
    with backend.write() as again:
        assert again.create_org("acme") is False  # the retry sees the winner
    assert backend.count_rows("orgs") == 1


def _create_orgs(url: str, clock: ManualClock, *org_ids: str) -> None:
    """The organizations ``org_ids``, created in the store at ``url``."""
    with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        for org_id in org_ids:
            m.create_organization(org_id, name=org_id.upper(), actor="x")


def test_r13_request_remembered_while_waiting_for_the_lock_is_retryable(
    named_backend: tuple[PostgreSQLBackend, str, str], clock: ManualClock
) -> None:
    backend, url, app = named_backend
    _create_orgs(url, clock, "acme")
    row = RequestRow("org:acme", "r-1", "fp", "null")
    with backend.write() as first:
        assert first.request(row.scope, row.request_id) is None
        assert first.lock("acme") is not None
        first.put_request(row)

        def twin() -> None:
            with backend.write() as second:
                assert second.request(row.scope, row.request_id) is None
                second.lock("acme")

        thread, raised = in_thread(twin)
        waiting_on_lock(url, app, 1)
    thread.join()
    assert [type(exc) for exc in raised] == [RetryableConflict]
    assert "r-1" in str(raised[0])


def test_r13_deadlock_is_retryable(
    named_backend: tuple[PostgreSQLBackend, str, str], clock: ManualClock
) -> None:
    backend, url, _ = named_backend
    _create_orgs(url, clock, "a", "b")
    both_locked = threading.Barrier(2)

    def lock_in_order(first: str, second: str) -> None:
        with backend.write() as tx:
            tx.lock(first)
            both_locked.wait()
            tx.lock(second)

    one, one_raised = in_thread(lambda: lock_in_order("a", "b"))
    two, two_raised = in_thread(lambda: lock_in_order("b", "a"))
    one.join()
    two.join()
    raised = one_raised + two_raised
    assert [type(exc) for exc in raised] == [RetryableConflict]
    assert isinstance(raised[0].__cause__, pg_errors.DeadlockDetected)


def test_r13_read_is_a_consistent_snapshot(pg_manager: Manager) -> None:
    pg_manager.create_organization("acme", name="Acme", actor="alice")
    with pg_manager.backend.read() as tx:
        before = tx.head("acme")
        pg_manager.start_subscription("acme", PRODUCT, actor="alice")
        assert tx.head("acme") == before
        assert tx.count_history("acme", HistoryQuery()) == 1
    with pg_manager.backend.read() as fresh:
        head = fresh.head("acme")
        assert head is not None
        assert before is not None
        assert head.seq == before.seq + 1


# -- racing allocations -----------------------------------------------------------------------


@pytest.mark.parametrize("managers", [1, 4])
def test_r13_racing_allocations_take_exactly_the_stock(
    postgres_url: str, clock: ManualClock, managers: int
) -> None:
    stock, threads, tries = 20, 8, 4
    opened = [
        Manager.open(postgres_url, catalog=EXAMPLE_CATALOG, clock=clock) for _ in range(managers)
    ]
    try:
        setup = opened[0]
        setup.create_organization("acme", name="Acme", actor="alice")
        setup.start_subscription("acme", PRODUCT, actor="alice")
        setup.redeem_key(
            "acme", setup.vendor.issue_key(PRODUCT, quantities={"core": stock}), actor="alice"
        )
        outcomes: Counter[str] = Counter()
        shortfalls: list[dict[str, int]] = []
        lock = threading.Lock()
        barrier = threading.Barrier(threads)

        def racer(m: Manager) -> None:
            barrier.wait()
            for _ in range(tries):
                try:
                    m.allocate("acme", PRODUCT, {"core": 1}, actor="racer")
                    result = "allocated"
                except InsufficientLicenses as exc:
                    result = "insufficient"
                    with lock:
                        shortfalls.append(exc.shortfall)
                with lock:
                    outcomes[result] += 1

        started = [
            in_thread(functools.partial(racer, opened[i % managers])) for i in range(threads)
        ]
        for thread, _ in started:
            thread.join()
        assert [exc for _, raised in started for exc in raised] == []
        assert outcomes == {"allocated": stock, "insufficient": threads * tries - stock}
        assert shortfalls == [{"core": 1}] * (threads * tries - stock)
        for m in opened:
            assert m.wallet("acme", PRODUCT).balance() == {}
            assert m.status("acme", PRODUCT).allocated == {"core": stock}
        assert len(setup.history("acme", actions=["licenses_allocated"])) == stock
        assert setup.history("acme", actions=["compensation_credited"]) == []
    finally:
        for m in opened:
            m.close()


# -- migrate: the same rows on every backend --------------------------------------------------


def test_r13_export_import_round_trips_through_sqlite_and_postgres(
    pg_manager: Manager, second_postgres_url: str, tmp_path: Path
) -> None:
    m = pg_manager
    m.create_organization("acme", name="Acmé", actor="alice")
    m.register_system("acme", PRODUCT, "sys-1", devices={"core": 2}, actor="alice")
    m.start_subscription("acme", PRODUCT, actor="alice")
    m.redeem_key("acme", m.vendor.issue_key(PRODUCT, quantities={"core": 4}), actor="alice")
    m.vendor.issue_key(PRODUCT, LicenseKind.HARDWARE, quantities={"door": 1})
    m.vendor.ship_hardware("SN-9", PRODUCT, preloaded={"core": 1})
    m.allocate("acme", PRODUCT, {"core": 2}, actor="alice", request_id="req-1")
    source = m.backend
    exported = {table: list(source.export_rows(table)) for table in TABLES}
    assert {table: len(rows) for table, rows in exported.items()} == {
        table: source.count_rows(table) for table in TABLES
    }
    assert len(exported["activities"]) == 5
    assert exported["requests"][0]["request_id"] == "req-1"

    sqlite = SQLiteBackend(f"sqlite:///{tmp_path / 'copy.db'}")
    other = PostgreSQLBackend(second_postgres_url)
    try:
        for target in (sqlite, other):
            for table in TABLES:
                assert target.import_rows(table, iter(exported[table])) == len(exported[table])
            assert {table: list(target.export_rows(table)) for table in TABLES} == exported
        with Manager.open(second_postgres_url, catalog=EXAMPLE_CATALOG, clock=m.clock) as copy:
            assert copy.wallet("acme", PRODUCT) == m.wallet("acme", PRODUCT)
            assert copy.public_key == m.public_key
        assert other.delete_meta("signing_key") is True
        assert other.delete_meta("signing_key") is False
        assert other.count_rows("meta") == len(exported["meta"]) - 1
        other.clear()
        assert other.is_empty()
        assert [other.count_rows(table) for table in TABLES] == [0] * len(TABLES)
    finally:
        sqlite.close()
        other.close()


def test_r13_import_conflict_is_a_storage_error(pg_manager: Manager) -> None:
    pg_manager.create_organization("acme", name="Acme", actor="alice")
    rows = list(pg_manager.backend.export_rows("orgs"))
    with pytest.raises(StorageError) as info:
        pg_manager.backend.import_rows("orgs", rows)
    assert isinstance(info.value.__cause__, psycopg.Error)
    assert pg_manager.backend.count_rows("orgs") == 1


# -- one pooled connection ------------------------------------------------------------------


def test_r13_issue_key_with_request_id_on_a_single_connection(
    postgres_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No command needs a second connection while it holds one (no nested transactions)."""
    monkeypatch.setattr(PostgreSQLBackend, "pool_timeout", 0.5)
    with Manager.open(
        with_params(postgres_url, pool_size="1"), catalog=EXAMPLE_CATALOG, clock=clock
    ) as m:
        first = m.vendor.issue_key(PRODUCT, quantities={"core": 1}, request_id="k-1")
        assert m.vendor.issue_key(PRODUCT, quantities={"core": 1}, request_id="k-1") == first


# -- bugs in other files ----------------------------------------------------------------------


def test_r10_conformance_tail_check_with_a_key_whose_fifth_last_symbol_is_6(
    pg_manager: Manager, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import attrs

    from axis_licensing import _keys
    from rules_suite import BackendRules

    keys = iter(
        [
            _keys.generate_key(hashlib.sha256(seed).digest()[: _keys.RANDOM_BYTES])
            for seed in (b"0", b"52")
        ]
    )
    monkeypatch.setattr(_keys, "generate_key", lambda random_bytes=None: next(keys))
    # A key whose fifth-last symbol is 6: the history holds only its last four symbols.
    probe = pg_manager.vendor.issue_key(PRODUCT, quantities={"core": 1})
    assert probe == "BZPEPS-QZS1QK-HPAJF1-P6TTKR"
    pg_manager.create_organization("probe", name="Probe", actor="alice")
    pg_manager.redeem_key("probe", probe, actor="alice")
    history = [attrs.asdict(a) for a in pg_manager.history("probe")]
    assert history[-1]["details"]["key"] == "…TTKR"
    assert "6TTKR" not in json.dumps(history, default=str, ensure_ascii=False).upper()
    # The conformance check, given the next such key (…J6V1DG), calls it a leak.
    BackendRules().test_r10_history_holds_at_most_the_last_four_symbols(pg_manager)
