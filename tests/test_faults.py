"""Storage-fault sweep in SQLite's own style: every command is all or nothing (R13).

For every command, the k-th call into the database driver fails, for every k,
in each mode:

- ``once``: that call fails, later ones work;
- ``always``: that call and every later one fail (reconnecting too), until the
  fault is lifted;
- ``rollback``: that call fails, and so does the ROLLBACK that follows;
- ``terminate`` (PostgreSQL): the server ends the session (``pg_terminate_backend``)
  just before that call.

Then: a command that failed left every table exactly as before, and one that
succeeded made exactly the change a fault-free run makes; the same Manager runs
the command again once the fault is gone (recovery); another connection can take
the write lock at once (none is left held); and the store opens again.

Faults are injected at the driver, below the backend: a ``sqlite3.Connection``
subclass handed out by ``sqlite3.connect``, and psycopg's ``Cursor.execute``, so
the sweep does not depend on the backends' own methods. ``FAULT_SWEEP_STRIDE``
(SQLite, default 1: every k) and ``FAULT_SWEEP_PG_STRIDE`` (PostgreSQL, default 3,
each mode offset by one) choose how many k; ``nox -s faults`` runs every k on both.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from _support import START
from axis_licensing import LicensingError, Manager, ManualClock, ProductState, StorageError
from axis_licensing.backends import TABLES, Backend
from axis_licensing.backends.postgresql import PostgreSQLBackend
from axis_licensing.backends.sqlite import SQLiteBackend
from conftest import POSTGRES_URL, _with_params, require_postgres
from reliability_support import CATALOG, CATALOG_PLUS, Snapshot, seed, snapshot

#: Sweep every ``STRIDE``-th k on SQLite (1: every k).
STRIDE = int(os.environ.get("FAULT_SWEEP_STRIDE", "1"))
#: On PostgreSQL (slower: each trial restores the schema), every ``PG_STRIDE``-th k per
#: mode, each mode starting one later, so that the modes together still fail every call.
PG_STRIDE = int(os.environ.get("FAULT_SWEEP_PG_STRIDE", "3"))


class InjectedFault(sqlite3.OperationalError):
    """The error the sweep injects into sqlite3 (not "busy": that would just be retried)."""


@dataclass
class Injector:
    """Counts driver calls while armed, and fails the k-th one as ``mode`` says."""

    k: int = 0
    mode: str = "once"
    armed: bool = False
    calls: int = 0
    fired: bool = False
    #: Called when the fault fires instead of raising (PostgreSQL's ``terminate``).
    on_fire: Callable[[Any], None] | None = None
    statements: list[str] = field(default_factory=list)
    #: The statements that were made to fail.
    failed: list[str] = field(default_factory=list)

    def arm(self, k: int, mode: str) -> None:
        self.k, self.mode, self.armed, self.calls, self.fired = k, mode, True, 0, False
        self.statements, self.failed = [], []

    def disarm(self) -> None:
        self.armed = False

    def should_fail(self, statement: str) -> bool:
        """Whether the call about to run ``statement`` fails (it counts the call)."""
        if not self.armed:
            return False
        self.calls += 1
        self.statements.append(statement)
        fail = self._decide(statement)
        if fail:
            self.failed.append(statement)
        return fail

    def _decide(self, statement: str) -> bool:
        if self.mode == "always" and self.fired:
            return True
        if self.mode == "rollback" and self.fired:
            return statement.strip().upper().startswith("ROLLBACK")
        if self.calls == self.k and not self.fired:
            self.fired = True
            return True
        return False

    def refuse_connect(self) -> bool:
        return self.armed and self.mode == "always" and self.fired


# -- SQLite: a connection class whose calls can fail ------------------------------------------

INJECTOR = Injector()


class FaultyCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> FaultyCursor:
        if INJECTOR.should_fail(sql):
            raise InjectedFault(f"disk I/O error (injected at call {INJECTOR.calls})")
        super().execute(sql, parameters)
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> FaultyCursor:
        if INJECTOR.should_fail(sql):
            raise InjectedFault(f"disk I/O error (injected at call {INJECTOR.calls})")
        super().executemany(sql, seq_of_parameters)
        return self


class FaultyConnection(sqlite3.Connection):
    def cursor(self, factory: Any = FaultyCursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        cursor: FaultyCursor = self.cursor()
        return cursor.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        cursor: FaultyCursor = self.cursor()
        return cursor.executemany(sql, parameters)

    def commit(self) -> None:
        if INJECTOR.should_fail("COMMIT"):
            raise InjectedFault("disk I/O error (injected commit)")
        super().commit()

    def rollback(self) -> None:
        if INJECTOR.should_fail("ROLLBACK"):
            raise InjectedFault("disk I/O error (injected rollback)")
        super().rollback()


_real_connect = sqlite3.connect


def _faulty_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    if INJECTOR.refuse_connect():
        raise InjectedFault("unable to open database file (injected)")
    kwargs.setdefault("factory", FaultyConnection)
    conn: sqlite3.Connection = _real_connect(*args, **kwargs)
    return conn


class _QuickSQLite(SQLiteBackend):
    """An independent view of the file that gives up on a held write lock in 2 s."""

    busy_timeout = 2.0


# -- the commands -----------------------------------------------------------------------------

Command = Callable[[Manager, Mapping[str, str]], object]

COMMANDS: dict[str, Command] = {
    "create_organization": lambda m, s: m.create_organization(
        "o9", name="Nine", timezone="Asia/Tokyo", actor="a"
    ),
    "register_system": lambda m, s: m.register_system(
        "o1", "acs-pro", "s7", devices={"core": 1, "door": 2}, actor="a"
    ),
    "report_devices": lambda m, s: m.report_devices("o1", "s1", {"core": 9}, actor="a"),
    "start_subscription": lambda m, s: m.start_subscription("o2", "acs-pro", actor="a"),
    "redeem_key": lambda m, s: m.redeem_key("o1", s["sub"], actor="a"),
    "allocate": lambda m, s: m.allocate("o1", "acs-pro", {"core": 3}, actor="a"),
    "allocate_idempotent": lambda m, s: m.allocate(
        "o1", "acs-pro", {"universal": 1}, period=1, actor="a", request_id="req-1"
    ),
    "allocate_need": lambda m, s: m.allocate_need("o1", "acs-pro", through=1, actor="a"),
    "register_hardware": lambda m, s: m.register_hardware("o1", "s1", "hw2", actor="a"),
    "allocate_to_hardware": lambda m, s: m.allocate_to_hardware(
        "o1", "hw1", {"core": 1}, actor="a"
    ),
    "upload_system_file": lambda m, s: m.upload_system_file(
        "o1", s["file"].encode("latin-1"), actor="a"
    ),
    "issue_key": lambda m, s: m.vendor.issue_key(
        "acs-pro", quantities={"door": 2}, request_id="key-1"
    ),
    "ship_hardware": lambda m, s: m.vendor.ship_hardware("hw9", "acs-pro", {"universal": 1}),
    "publish_catalog": lambda m, s: m.vendor.publish_catalog(CATALOG_PLUS, actor="v"),
}

MODES = ("once", "always", "rollback")


@dataclass
class Outcome:
    """What one faulty run did."""

    failed: bool
    error: BaseException | None


def _run_faulty(
    m: Manager,
    command: Command,
    spare: Mapping[str, str],
    k: int,
    mode: str,
    injector: Injector = INJECTOR,
) -> Outcome:
    injector.arm(k, mode)
    try:
        command(m, spare)
    except LicensingError as exc:
        return Outcome(True, exc)
    finally:
        injector.disarm()
    return Outcome(False, None)


def _calls_of(url: str, command: Command, spare: Mapping[str, str], injector: Injector) -> int:
    """Run ``command`` on ``url`` without a fault: how many driver calls it makes."""
    with Manager.open(url, catalog=CATALOG, clock=ManualClock(START)) as m:
        injector.arm(10**9, "once")
        command(m, spare)
        calls = injector.calls
        injector.disarm()
    return calls


# -- SQLite sweep -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A seeded SQLite file, closed (so a plain copy is the whole store)."""
    path = tmp_path_factory.mktemp("faults") / "template.db"
    with Manager.open(f"sqlite:///{path}", catalog=CATALOG, clock=ManualClock(START)) as m:
        spare = seed(m)
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    return path, spare


@pytest.fixture
def faulty_sqlite(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """sqlite3.connect hands out connections whose calls the injector can fail."""
    monkeypatch.setattr(sqlite3, "connect", _faulty_connect)
    INJECTOR.disarm()
    yield
    INJECTOR.disarm()


def _sqlite_view(url: str) -> Snapshot:
    backend = _QuickSQLite(url)
    try:
        return snapshot(backend)
    finally:
        backend.close()


def _assert_write_lock_free(url: str) -> None:
    """Another connection takes the write lock at once: no connection was left holding it."""
    backend = _QuickSQLite(url)
    try:
        with backend.write() as tx:
            tx.meta("signing_key")
    finally:
        backend.close()


def _fresh_copy(template: Path, into: Path, name: str) -> str:
    target = into / f"{name}.db"
    shutil.copyfile(template, target)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{target}"


def _sweep_sqlite(template: Path, spare: dict[str, str], tmp_path: Path, name: str) -> int:
    command = COMMANDS[name]
    # the fault-free run: what success looks like, and how many driver calls it makes
    url = _fresh_copy(template, tmp_path, f"{name}-clean")
    before = _sqlite_view(url)
    calls = _calls_of(url, command, spare, INJECTOR)
    after = _sqlite_view(url)
    assert after != before, f"{name} changed nothing: the sweep would prove nothing"
    assert calls >= 3
    trials = failures = 0
    for mode in MODES:
        for k in range(1, calls + 2, STRIDE):
            trials += 1
            url = _fresh_copy(template, tmp_path, f"{name}-{mode}-{k}")
            m = Manager.open(url, catalog=CATALOG, clock=ManualClock(START))
            try:
                outcome = _run_faulty(m, command, spare, k, mode)
                label = f"{name}, {mode}, call {k} of {calls}"
                if outcome.failed:  # reported: then nothing was applied
                    failures += 1
                    assert isinstance(outcome.error, StorageError), (label, outcome.error)
                    assert _sqlite_view(url) == before, f"{label}: a failed command left changes"
                # else: a fault after the commit (a cache refresh) may pass unreported, but
                # then the command must be applied exactly, as checked below
                _assert_write_lock_free(url)
                if outcome.failed:  # the same Manager recovers once the fault is gone
                    command(m, spare)
                assert _sqlite_view(url) == after, f"{label}: not exactly the command's change"
            finally:
                m.close()
            with Manager.open(url, clock=ManualClock(START)) as again:  # the store's own catalog
                assert again.history("o1")[0].action == "organization_created"
    assert failures >= len(MODES) * calls // 2 // STRIDE, "the injected faults went unreported"
    return trials


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_r13_sqlite_every_storage_fault_leaves_all_or_nothing_and_recovers(
    faulty_sqlite: None,
    sqlite_template: tuple[Path, dict[str, str]],
    tmp_path: Path,
    name: str,
) -> None:
    template, spare = sqlite_template
    assert _sweep_sqlite(template, spare, tmp_path, name) >= 3 * len(MODES) // STRIDE


@pytest.fixture
def o1(faulty_sqlite: None, tmp_path: Path) -> Iterator[tuple[str, Manager]]:
    """A Manager on a new SQLite file, under the fault injector, with organization o1; the URL."""
    url = f"sqlite:///{tmp_path / 'o1.db'}"
    with Manager.open(url, catalog=CATALOG, clock=ManualClock(START)) as m:
        m.create_organization("o1", name="One", actor="a")
        yield url, m


def test_r13_case8_sqlite_a_failed_rollback_discards_the_connection(
    o1: tuple[str, Manager],
) -> None:
    """Issue 10, case 8: after ROLLBACK itself failed, the Manager works and the lock is free."""
    url, m = o1
    before = _sqlite_view(url)
    INJECTOR.arm(3, "rollback")  # BEGIN IMMEDIATE, the replay lookup, then this fails
    with pytest.raises(StorageError, match="injected"):
        m.register_system("o1", "acs-pro", "s1", devices={"core": 1}, actor="a")
    INJECTOR.disarm()
    assert INJECTOR.failed[-1] == "ROLLBACK"  # the rollback failed too
    assert _sqlite_view(url) == before
    _assert_write_lock_free(url)  # another process is not kept waiting
    m.register_system("o1", "acs-pro", "s1", devices={"core": 1}, actor="a")
    assert m.system_status("o1", "s1").devices == {"core": 1}


def test_r13_sqlite_a_store_that_cannot_reopen_yet_is_retried_by_the_next_command(
    o1: tuple[str, Manager],
) -> None:
    _, m = o1
    INJECTOR.arm(2, "always")  # the fault stays: the rollback and the reconnect fail
    with pytest.raises(StorageError):
        m.start_subscription("o1", "acs-pro", actor="a")
    with pytest.raises(StorageError):
        m.status("o1", "acs-pro")
    INJECTOR.disarm()
    m.start_subscription("o1", "acs-pro", actor="a")
    assert m.status("o1", "acs-pro").state is ProductState.TRIAL


# -- PostgreSQL sweep -------------------------------------------------------------------------

PG_MODES = ("once", "always", "rollback", "terminate")
PG_INJECTOR = Injector()


class InjectedPgFault(psycopg.OperationalError):
    """The error the sweep injects into psycopg: a lost connection, as far as anyone can tell."""


@pytest.fixture
def faulty_psycopg(monkeypatch: pytest.MonkeyPatch) -> Iterator[psycopg.Connection[Any]]:
    """psycopg's cursors fail as the injector says; yields an admin connection it leaves alone."""
    require_postgres()
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    real_execute = psycopg.Cursor.execute
    real_executemany = psycopg.Cursor.executemany

    def check(cursor: psycopg.Cursor[Any], query: object) -> None:
        if cursor.connection is admin:
            return
        text = query.as_string(cursor) if hasattr(query, "as_string") else str(query)
        if not text.strip():  # the pool's health check of a connection, not the backend's call
            return
        if PG_INJECTOR.should_fail(text):
            if PG_INJECTOR.mode == "terminate":
                pid = cursor.connection.info.backend_pid
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                PG_INJECTOR.mode = "done"  # the real failure follows; no more faults
                return
            raise InjectedPgFault(
                f"server closed the connection (injected, call {PG_INJECTOR.calls})"
            )

    def execute(self: psycopg.Cursor[Any], query: Any, params: Any = None, **kw: Any) -> Any:
        check(self, query)
        return real_execute(self, query, params, **kw)

    def executemany(self: psycopg.Cursor[Any], query: Any, params_seq: Any, **kw: Any) -> Any:
        check(self, query)
        return real_executemany(self, query, params_seq, **kw)

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    monkeypatch.setattr(psycopg.Cursor, "executemany", executemany)
    PG_INJECTOR.disarm()
    try:
        yield admin
    finally:
        PG_INJECTOR.disarm()
        admin.close()


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[tuple[str, Snapshot, dict[str, str]]]:
    """A seeded PostgreSQL schema, and its rows to restore it from before each trial."""
    require_postgres()
    schema = f"axis_faults_{uuid.uuid4().hex[:12]}"
    url = _with_params(POSTGRES_URL, schema=schema)
    with Manager.open(url, catalog=CATALOG, clock=ManualClock(START)) as m:
        spare = seed(m)
        rows = snapshot(m.backend)
    yield url, rows, spare
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _restore(backend: Backend, rows: Snapshot) -> None:
    backend.clear()
    for table in TABLES:
        backend.import_rows(table, rows[table])


@pytest.mark.postgres
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_r13_postgresql_every_storage_fault_leaves_all_or_nothing_and_recovers(
    faulty_psycopg: psycopg.Connection[Any],
    pg_schema: tuple[str, Snapshot, dict[str, str]],
    name: str,
) -> None:
    url, rows, spare = pg_schema
    command = COMMANDS[name]
    view = PostgreSQLBackend(url)
    try:
        _restore(view, rows)
        before = snapshot(view)
        calls = _calls_of(url, command, spare, PG_INJECTOR)
        after = snapshot(view)
        assert after != before
        for index, mode in enumerate(PG_MODES):
            for k in range(1 + index % PG_STRIDE, calls + 2, PG_STRIDE):
                _restore(view, rows)
                label = f"{name}, {mode}, call {k} of {calls}"
                with Manager.open(url, catalog=CATALOG, clock=ManualClock(START)) as m:
                    outcome = _run_faulty(m, command, spare, k, mode, PG_INJECTOR)
                    if outcome.failed:
                        assert snapshot(view) == before, f"{label}: a failed command left changes"
                        command(m, spare)  # the same Manager recovers
                    # else: a fault after the commit (a cache refresh) may pass unreported
                    assert snapshot(view) == after, f"{label}: not exactly the command's change"
        with Manager.open(url, clock=ManualClock(START)) as again:  # the store's own catalog
            assert again.history("o1")[0].action == "organization_created"
    finally:
        view.close()


@pytest.mark.postgres
def test_r13_postgresql_a_failed_rollback_discards_the_connection(
    faulty_psycopg: psycopg.Connection[Any], postgres_url: str
) -> None:
    with Manager.open(postgres_url, catalog=CATALOG, clock=ManualClock(START)) as m:
        m.create_organization("o1", name="One", actor="a")
        assert isinstance(m.backend, PostgreSQLBackend)
        PG_INJECTOR.arm(3, "rollback")
        with pytest.raises(StorageError):
            m.register_system("o1", "acs-pro", "s1", devices={"core": 1}, actor="a")
        PG_INJECTOR.disarm()
        assert PG_INJECTOR.failed[-1] == "ROLLBACK"
        for _ in range(m.backend.pool_size + 1):  # whichever pooled connection comes next
            assert m.history("o1", actions=["system_registered"]) == []
        m.register_system("o1", "acs-pro", "s1", devices={"core": 1}, actor="a")
        assert m.system_status("o1", "s1").devices == {"core": 1}
