"""The SQLite backend (``sqlite:///PATH``): durability settings, schema versions,
concurrent opening, error wrapping, URL forms and indexed reads (SPEC §4, R13, STYLE.md).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from axis_licensing import (
    EXAMPLE_CATALOG,
    InvalidInput,
    Manager,
    ManualClock,
    StorageError,
)
from axis_licensing.backends import TABLES
from axis_licensing.backends.sqlite import SCHEMA_VERSION, SQLiteBackend

PRODUCT = "acs-pro"
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_backend(manager: Manager) -> SQLiteBackend:
    backend = manager.backend
    assert isinstance(backend, SQLiteBackend)
    return backend


def pragma(conn: sqlite3.Connection, name: str) -> Any:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "axis.db"


@pytest.fixture
def sqlite_manager(db_path: Path) -> Iterator[Manager]:
    with Manager.open(url_of(db_path), catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        yield m


def files_in(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


# -- durability settings and schema version ---------------------------------------------------


def test_sqlite_uses_wal_synchronous_full_and_a_busy_timeout(
    sqlite_manager: Manager, db_path: Path
) -> None:
    sqlite_manager.create_organization("org-1", name="One", actor="alice")
    conn = sqlite_backend(sqlite_manager)._conn
    # a write waits for the lock in its own short steps, with SQLite's timeout off (issue 14:
    # the pragma is set only when the kind of transaction changes); a read waits in SQLite
    assert pragma(conn, "busy_timeout") == 0
    sqlite_manager.organizations()
    assert pragma(conn, "journal_mode") == "wal"
    assert pragma(conn, "synchronous") == 2  # FULL
    assert pragma(conn, "busy_timeout") >= 1000
    # WAL is a property of the file: another connection sees it too.
    other = sqlite3.connect(db_path)
    try:
        assert pragma(other, "journal_mode") == "wal"
    finally:
        other.close()


def test_sqlite_schema_version_is_kept_in_user_version(
    sqlite_manager: Manager, db_path: Path
) -> None:
    assert SCHEMA_VERSION >= 1
    sqlite_manager.close()
    conn = sqlite3.connect(db_path)
    try:
        assert pragma(conn, "user_version") == SCHEMA_VERSION
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert set(TABLES) <= names
    # Opening it again migrates nothing and keeps the data.
    with Manager.open(url_of(db_path), catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as again:
        again.create_organization("org-1", name="One", actor="alice")
        assert again.backend.count_rows("orgs") == 1


def _bump_user_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA user_version = {version}")
        conn.commit()
        if pragma(conn, "journal_mode") == "wal":
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


@pytest.mark.parametrize("made_by", ["axis-licensing", "plain sqlite"])
def test_sqlite_newer_schema_is_refused_and_the_file_left_byte_identical(
    db_path: Path, made_by: str
) -> None:
    if made_by == "axis-licensing":
        with Manager.open(url_of(db_path), catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
            m.create_organization("org-1", name="One", actor="alice")
    else:
        conn = sqlite3.connect(db_path)
        conn.execute("CREATE TABLE future (x INTEGER)")
        conn.commit()
        conn.close()
    newer = SCHEMA_VERSION + 1
    _bump_user_version(db_path, newer)
    before = files_in(db_path.parent)
    with pytest.raises(StorageError) as caught:
        Manager.open(url_of(db_path), catalog=EXAMPLE_CATALOG)
    assert str(newer) in str(caught.value)
    assert "newer" in str(caught.value)
    assert files_in(db_path.parent) == before
    conn = sqlite3.connect(db_path)
    try:
        assert pragma(conn, "user_version") == newer
    finally:
        conn.close()


# -- several processes opening a new file at once ------------------------------------------------


def _open_at_once(url: str, index: int, barrier: Any, results: Any) -> None:
    """Run in a spawned process: wait for the others, open, write one organization."""
    try:
        barrier.wait(timeout=60)
        with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as manager:
            manager.create_organization(f"org-{index}", name=f"Org {index}", actor="p")
            manager.register_system(f"org-{index}", PRODUCT, f"sys-{index}", actor="p")
        results.put((index, "ok"))
    except BaseException as exc:
        results.put((index, repr(exc)))


def test_sqlite_processes_opening_a_new_file_at_the_same_moment_all_succeed(
    db_path: Path,
) -> None:
    processes = 4
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_open_at_once, args=(url_of(db_path), i, barrier, results))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = dict(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert outcomes == {i: "ok" for i in range(processes)}
    assert [w.exitcode for w in workers] == [0] * processes
    with Manager.open(url_of(db_path), catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        assert m.backend.count_rows("orgs") == processes
        assert m.backend.count_rows("systems") == processes
        # One signing key for everyone, kept by the backend.
        assert [r["name"] for r in m.backend.export_rows("meta")].count("signing_key") == 1
    conn = sqlite3.connect(db_path)
    try:
        assert pragma(conn, "user_version") == SCHEMA_VERSION
    finally:
        conn.close()


# -- sqlite3 errors never escape raw -----------------------------------------------------------


def test_sqlite_a_path_in_a_missing_directory_raises_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as caught:
        Manager.open(url_of(tmp_path / "missing" / "axis.db"), catalog=EXAMPLE_CATALOG)
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    assert not (tmp_path / "missing").exists()


def test_sqlite_a_file_that_is_no_database_raises_storage_error(db_path: Path) -> None:
    db_path.write_bytes(b"this is not an SQLite database, just text. " * 200)
    before = files_in(db_path.parent)
    with pytest.raises(StorageError) as caught:
        Manager.open(url_of(db_path), catalog=EXAMPLE_CATALOG)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    assert files_in(db_path.parent) == before


def test_sqlite_a_directory_as_the_database_raises_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as caught:
        Manager.open(url_of(tmp_path), catalog=EXAMPLE_CATALOG)
    assert isinstance(caught.value.__cause__, sqlite3.Error)


def test_sqlite_errors_during_commands_and_queries_become_storage_errors(
    sqlite_manager: Manager, db_path: Path
) -> None:
    sqlite_manager.create_organization("org-1", name="One", actor="alice")
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("DROP TABLE activities")
        conn.commit()
    finally:
        conn.close()
    with pytest.raises(StorageError) as command:
        sqlite_manager.register_system("org-1", PRODUCT, "sys-1", actor="alice")
    assert isinstance(command.value.__cause__, sqlite3.Error)
    with pytest.raises(StorageError) as query:
        sqlite_manager.history("org-1")
    assert isinstance(query.value.__cause__, sqlite3.Error)
    # The failed command left no half: no new version, no claimed system id.
    assert sqlite_manager.backend.count_rows("versions") == 1
    assert sqlite_manager.backend.count_rows("systems") == 0


# -- URL forms ---------------------------------------------------------------------------------


def test_sqlite_url_with_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    for url, path in [
        ("sqlite:///relative.db", tmp_path / "relative.db"),
        ("sqlite:///sub/nested.db", tmp_path / "sub" / "nested.db"),
        ("sqlite:///with%20space.db", tmp_path / "with space.db"),
    ]:
        with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as manager:
            manager.create_organization("org-1", name="One", actor="alice")
        assert path.is_file(), url
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("SELECT org_id FROM orgs").fetchall() == [("org-1",)]
        finally:
            conn.close()


def test_sqlite_url_with_an_absolute_path(tmp_path: Path) -> None:
    path = tmp_path / "absolute.db"
    url = f"sqlite:///{path}"
    assert url.startswith("sqlite:////")
    with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as manager:
        manager.create_organization("org-1", name="One", actor="alice")
        assert sqlite_backend(manager).path == str(path)
    assert path.is_file()


@pytest.mark.parametrize("url", ["sqlite://host/axis.db", "sqlite:///", "sqlite://"])
def test_sqlite_malformed_urls_raise_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput, match="sqlite"):
        Manager.open(url, catalog=EXAMPLE_CATALOG)


# -- reads use indexes, whatever the history length ----------------------------------------------


def _grow(
    manager: Manager, clock: ManualClock, commands: int, step: timedelta = timedelta(hours=1)
) -> None:
    for org in ("org-1", "org-2"):
        manager.create_organization(org, name=org, actor="alice")
        manager.register_system(org, PRODUCT, f"{org}-sys", devices={"core": 1}, actor="alice")
    for i in range(commands):
        clock.advance(step)
        for org in ("org-1", "org-2"):
            manager.report_devices(org, f"{org}-sys", {"core": i + 1}, actor="alice")


def _traced(conn: sqlite3.Connection, run: Any) -> list[str]:
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        run()
    finally:
        conn.set_trace_callback(None)
    return statements


def _traced_selects(conn: sqlite3.Connection, run: Any) -> list[str]:
    return [s for s in _traced(conn, run) if s.lstrip().upper().startswith("SELECT")]


def test_sqlite_head_and_state_at_queries_search_an_index(db_path: Path) -> None:
    clock = ManualClock(START)
    with Manager.open(url_of(db_path), catalog=EXAMPLE_CATALOG, clock=clock) as manager:
        _grow(manager, clock, 60)
        conn = sqlite_backend(manager)._conn
        past = START + timedelta(hours=30, minutes=30)
        state_reads: list[str] = []
        for run in (
            lambda: manager.status("org-1", PRODUCT, at=past),
            lambda: manager.system_status("org-1", "org-1-sys", at=past),
            lambda: manager.status("org-1", PRODUCT),
            lambda: manager.report_devices("org-1", "org-1-sys", {"core": 2}, actor="a"),
        ):
            state_reads += [
                s
                for s in _traced_selects(conn, run)
                if any(f" {t} " in s for t in ("orgs", "versions", "parts", "part_history"))
            ]
        assert manager.system_status("org-1", "org-1-sys", at=past).devices == {"core": 30}
        assert len(set(state_reads)) >= 4  # head, version at an instant, parts then and now
        problems: list[str] = []
        for sql in sorted(set(state_reads)):
            plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
            if any(step.startswith("SCAN") or "TEMP B-TREE" in step for step in plan):
                problems.append(f"{sql}\n  -> {plan}")
            if not any(
                step.startswith("SEARCH") and ("INDEX" in step or "PRIMARY KEY" in step)
                for step in plan
            ):
                problems.append(f"{sql}\n  -> no indexed search: {plan}")
        assert not problems, "\n".join(problems)


def test_sqlite_a_read_runs_as_many_statements_for_a_long_history_as_for_a_short(
    tmp_path: Path,
) -> None:
    counts: list[int] = []
    for commands in (3, 80):
        clock = ManualClock(START)
        url = url_of(tmp_path / f"axis-{commands}.db")
        with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=clock) as manager:
            # within one day, so both change the same parts after ``past``
            _grow(manager, clock, commands, timedelta(minutes=1))
            conn = sqlite_backend(manager)._conn
            past = START + timedelta(minutes=2, seconds=30)
            read = functools.partial(manager.status, "org-1", PRODUCT, at=past)
            counts.append(len(_traced_selects(conn, read)))
    assert counts[0] == counts[1] >= 1


def test_sqlite_data_and_signing_key_survive_reopen(db_path: Path) -> None:
    with Manager.open(url_of(db_path), catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        m.create_organization("org-1", name="One", actor="alice")
        key = m.public_key
    with Manager.open(url_of(db_path), catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        # The generated signing key is kept by the backend (R12).
        assert m.public_key == key
        assert [a.action for a in m.history("org-1")] == ["organization_created"]
    assert os.path.getsize(db_path) > 0


# -- a command's outbox: read with the lock (benchmark a) ---------------------------------------


def test_sqlite_a_command_reads_its_outbox_with_the_lock(db_path: Path) -> None:
    clock = ManualClock(START)
    with Manager.open(url_of(db_path), catalog=EXAMPLE_CATALOG, clock=clock) as manager:
        manager.create_organization("org-1", name="One", actor="alice")
        manager.start_subscription("org-1", PRODUCT, actor="alice")
        key = manager.vendor.issue_key(PRODUCT, quantities={"core": 10})
        manager.redeem_key("org-1", key, actor="alice")
        conn = sqlite_backend(manager)._conn
        allocate = functools.partial(manager.allocate, "org-1", PRODUCT, {"core": 1}, actor="a")

        # no endpoint, the same instant as the last command: the lock is the one read, and
        # the sweep index, already due then, is not written again
        same_instant = _traced(conn, allocate)
        reads = [s for s in same_instant if s.startswith("SELECT")]
        assert len(reads) == 1
        assert "FROM webhooks" in reads[0]
        assert "MAX(seq) FROM events" in reads[0]
        assert not [s for s in same_instant if "sweep_due" in s and not s.startswith("SELECT")]
        assert sum(s.startswith("INSERT INTO events") for s in same_instant) == 1

        clock.advance(timedelta(minutes=1))  # a later instant: the organization is due then
        later = _traced(conn, allocate)
        assert sum(s.startswith("INSERT INTO sweep_due") for s in later) == 1

        # an endpoint that receives the events: the command reads it and writes a delivery
        manager.webhooks.add(
            "org-1", "http://127.0.0.1:9/hook", actor="alice", allow_http=True, allow_private=True
        )
        subscribed = _traced(conn, allocate)
        assert sum("FROM webhooks" in s for s in subscribed) == 2  # the lock's, then the list
        assert sum(s.startswith("INSERT INTO deliveries") for s in subscribed) == 1
        with manager.backend.read() as tx:
            sweep_due = tx.sweep_due("org-1")  # type: ignore[attr-defined]
        assert sweep_due == int((START + timedelta(minutes=1)).timestamp() * 1_000_000)
    events = [e.type for e in manager_events(db_path)]
    assert events[-4:] == [
        "licenses_allocated",
        "licenses_allocated",
        "webhook_added",
        "licenses_allocated",
    ]
    assert [e.seq for e in manager_events(db_path)] == list(range(1, len(events) + 1))


def manager_events(db_path: Path) -> list[Any]:
    with Manager.open(url_of(db_path), catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        return list(m.events("org-1"))
