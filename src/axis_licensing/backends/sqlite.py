"""The SQLite backend (``sqlite:///PATH``): the embedded default.

- WAL journal, ``synchronous=FULL`` (a license ledger must not lose a
  committed allocation on power loss) and a busy timeout.
- ``BEGIN IMMEDIATE`` for every read-modify-write, so commands on one file
  run one at a time across threads and processes (R13). A writer waits for
  the lock in short, even steps rather than SQLite's growing sleeps, so no
  writer starves under contention.
- A connection whose ROLLBACK failed is closed (releasing the write lock) and
  replaced, so one storage fault never wedges the Manager.
- A schema version in ``PRAGMA user_version`` with forward migrations; a file
  with a newer schema is refused before anything is written.
- Reads cost O(1) in history length: the head is one row of ``orgs`` (read
  by :meth:`SQLiteBackend.peek` in one statement, with no BEGIN, on a
  connection of its own that never waits for this process's commands), each
  part's latest version one row of ``parts``; a past version of a part is one
  indexed row of ``part_history``.

Every SQL statement is parameterised. sqlite3 errors never reach callers
raw: a lost race becomes :class:`RetryableConflict`, anything else
:class:`~axis_licensing.errors.StorageError`.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from axis_licensing.backends import (
    TABLES,
    ActivityRow,
    Backend,
    CatalogRow,
    Head,
    HistoryQuery,
    KeyRow,
    PartRow,
    ReadTx,
    RequestRow,
    RetryableConflict,
    ShipmentRow,
    StateRow,
    WriteTx,
    prefix_end,
)
from axis_licensing.backends._sql import (
    LOCK_WITH_CATALOG,
    SHARED,
    TABLE_KEYS,
    as_of,
    export_columns,
    for_sqlite,
    history_filters,
    maybe_row,
    sql_column,
)
from axis_licensing.errors import InvalidInput, StorageError, StoreNotFound
from axis_licensing.events._sql import (
    SQLITE_EVENTS_KEYED,
    SQLITE_LOCK_FACTS,
    SQLITE_MIGRATION,
    OutboxFacts,
    SQLiteEventsTx,
)
from axis_licensing.members._tables import ACCESS_VERSION
from axis_licensing.members.store import (  # members hook (SPEC §8)
    SQLITE_DDL,
    SQLiteMembersBackend,
    SQLiteMembersTx,
)

__all__ = ["SCHEMA_VERSION", "SQLiteBackend"]

#: The schema version this code writes; see :data:`MIGRATIONS`.
SCHEMA_VERSION = 6

#: ``MIGRATIONS[v]`` takes a database from version ``v`` to ``v + 1``.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE orgs (org_id TEXT PRIMARY KEY)",
        # One b-tree serves both the head (the last row of an organization) and
        # the state in force at an instant: the Manager keeps at_us non-decreasing.
        """CREATE TABLE states (
            org_id TEXT NOT NULL, at_us INTEGER NOT NULL, seq INTEGER NOT NULL,
            state TEXT NOT NULL, PRIMARY KEY (org_id, at_us, seq)) WITHOUT ROWID""",
        # Clustered by organization: a command appends to one b-tree, and a history
        # query reads one range. ``id`` orders an organization's history oldest
        # first: (state seq << 20) + the activity's place in its command, or for
        # rows copied in by ``import_rows``, 1, 2, 3, … in the order they came.
        """CREATE TABLE activities (
            org_id TEXT NOT NULL, id INTEGER NOT NULL,
            at_us INTEGER NOT NULL, on_date TEXT NOT NULL, actor TEXT NOT NULL,
            action TEXT NOT NULL, product TEXT, system_id TEXT, details TEXT NOT NULL,
            PRIMARY KEY (org_id, id)) WITHOUT ROWID""",
        "CREATE TABLE systems (system_id TEXT PRIMARY KEY, org_id TEXT NOT NULL)",
        """CREATE TABLE shipments (
            serial TEXT PRIMARY KEY, product TEXT NOT NULL, preloaded TEXT NOT NULL,
            shipped_at_us INTEGER NOT NULL, org_id TEXT)""",
        """CREATE TABLE keys (
            key_hash TEXT PRIMARY KEY, product TEXT NOT NULL, kind TEXT NOT NULL,
            quantities TEXT NOT NULL, tail TEXT NOT NULL, issued_at_us INTEGER NOT NULL,
            redeemed_by TEXT, redeemed_at_us INTEGER)""",
        """CREATE TABLE requests (
            scope TEXT NOT NULL, request_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
            result TEXT NOT NULL, PRIMARY KEY (scope, request_id))""",
    ),
    # 2: the catalog versions (R15)
    (
        """CREATE TABLE catalogs (
            version INTEGER PRIMARY KEY, effective_at_us INTEGER NOT NULL,
            catalog TEXT NOT NULL)""",
    ),
    # 3: the state as parts with their own versions (SPEC §5). ``states`` stays, read
    # only to convert what versions 1 and 2 wrote; the head of an organization converted
    # from it is 0 until the Manager converts it (on open).
    (
        "ALTER TABLE orgs ADD COLUMN head INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE orgs ADD COLUMN at_us INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE versions (
            org_id TEXT NOT NULL, at_us INTEGER NOT NULL, seq INTEGER NOT NULL,
            PRIMARY KEY (org_id, at_us, seq)) WITHOUT ROWID""",
        # Each part's latest version, and the versions it replaced.
        """CREATE TABLE parts (
            org_id TEXT NOT NULL, part TEXT NOT NULL, seq INTEGER NOT NULL,
            at_us INTEGER NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (org_id, part)) WITHOUT ROWID""",
        """CREATE TABLE part_history (
            org_id TEXT NOT NULL, part TEXT NOT NULL, seq INTEGER NOT NULL,
            at_us INTEGER NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (org_id, part, seq)) WITHOUT ROWID""",
    ),
    # 4: events out (SPEC §7): webhooks, events, deliveries, sweep_due
    SQLITE_MIGRATION,
    # 5: accounts, memberships, invitations and API tokens (SPEC §8)
    SQLITE_DDL,
    # 6: events keyed by (org_id, seq) alone, one b-tree
    SQLITE_EVENTS_KEYED,
)
assert len(MIGRATIONS) == SCHEMA_VERSION

_ORDER = {table: ", ".join(keys) for table, keys in TABLE_KEYS.items()}
#: The statements shared with PostgreSQL, in SQLite's spelling.
_SQL = {name: for_sqlite(text) for name, text in SHARED.items()}
_LOCK = for_sqlite(LOCK_WITH_CATALOG)
#: :meth:`SQLiteBackend.peek_access`: the head and the access version, in one statement.
_PEEK_ACCESS = (
    "SELECT head, at_us, (SELECT MAX(version) FROM catalogs), "
    "(SELECT value FROM access_version WHERE name = ?2) FROM orgs WHERE org_id = ?1"
)
#: A write transaction's lock: the head, the latest catalog version and the outbox's
#: facts (events out, SPEC §7), in one statement.
_LOCK_WRITE = (
    "SELECT head, at_us, (SELECT MAX(version) FROM catalogs), "  # noqa: S608 - fixed text
    f"{SQLITE_LOCK_FACTS} FROM orgs WHERE org_id = ?1"
)

_ACTIVITY_COLUMNS = "org_id, at_us, on_date, actor, action, product, system_id, details"
_INSERT_ACTIVITY = (
    f"INSERT INTO activities (id, {_ACTIVITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
)
_BEGIN_WRITE = "BEGIN IMMEDIATE"
#: The longest a writer sleeps between two looks at a busy write lock (seconds).
_WAIT_STEP = 0.002

#: Room for this many activities per command in an organization's ``id`` sequence.
_ACTIVITY_ID_BITS = 20


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _where(query: HistoryQuery) -> tuple[str, list[Any]]:
    clauses = ["org_id = ?"]
    params: list[Any] = []
    for column, op, value in history_filters(query):
        clauses.append(f"{column} {op} ?")
        params.append(value)
    if query.actions is not None:
        clauses.append(f"action IN ({', '.join('?' for _ in query.actions)})")
        params.extend(query.actions)
    return " AND ".join(clauses), params


class _Tx(SQLiteEventsTx, SQLiteMembersTx, WriteTx):  # SPEC §7, §8 storage
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn
        self._facts: dict[str, OutboxFacts] = {}

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection this transaction runs on."""
        return self._c

    def _one(self, sql: str, params: Iterable[Any]) -> Any:
        return self._c.execute(sql, tuple(params)).fetchone()

    def head(self, org_id: str) -> Head | None:
        row = self._one(_SQL["head"], (org_id,))
        return None if row is None else Head(org_id, row[0], row[1])

    def seq_at(self, org_id: str, at_us: int) -> int | None:
        row = self._one(_SQL["seq_at"], (org_id, at_us))
        return None if row is None else int(row[0])

    def _as_of(self, org_id: str, rows: list[Any], seq: int | None) -> list[PartRow]:
        return as_of(
            org_id, rows, seq, lambda name, s: self._one(_SQL["part_before"], (org_id, name, s))
        )

    def parts(self, org_id: str, names: Sequence[str], seq: int | None = None) -> list[PartRow]:
        wanted = sorted(set(names))
        if not wanted:
            return []
        rows = self._c.execute(
            "SELECT part, seq, at_us, value FROM parts WHERE org_id = ? "  # noqa: S608 - marks only
            f"AND part IN ({', '.join('?' for _ in wanted)}) ORDER BY part",
            (org_id, *wanted),
        ).fetchall()
        return self._as_of(org_id, rows, seq)

    def parts_prefixed(
        self,
        org_id: str,
        prefix: str,
        *,
        seq: int | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[PartRow]:
        low, op = prefix, ">="
        if after is not None and after >= prefix:
            low, op = after, ">"
        sql_limit = -1 if limit is None or seq is not None else limit
        rows = self._c.execute(
            "SELECT part, seq, at_us, value FROM parts WHERE org_id = ? "  # noqa: S608 - fixed op
            f"AND part {op} ? AND part < ? ORDER BY part LIMIT ?",
            (org_id, low, prefix_end(prefix), sql_limit),
        ).fetchall()
        found = self._as_of(org_id, rows, seq)
        return found if limit is None else found[:limit]

    def legacy_orgs(self) -> list[str]:
        rows = self._c.execute(_SQL["legacy_orgs"]).fetchall()
        return [str(r[0]) for r in rows]

    def legacy_states(self, org_id: str) -> list[StateRow]:
        rows = self._c.execute(_SQL["legacy_states"], (org_id,)).fetchall()
        return [StateRow(org_id, r[0], r[1], r[2]) for r in rows]

    def history(
        self, org_id: str, query: HistoryQuery, limit: int | None, offset: int
    ) -> list[ActivityRow]:
        where, params = _where(query)
        rows = self._c.execute(
            f"SELECT {_ACTIVITY_COLUMNS} FROM activities WHERE {where} "  # noqa: S608 - fixed columns
            "ORDER BY id LIMIT ? OFFSET ?",
            (org_id, *params, -1 if limit is None else limit, offset),
        ).fetchall()
        return [ActivityRow(*row) for row in rows]

    def count_history(self, org_id: str, query: HistoryQuery) -> int:
        where, params = _where(query)
        return int(
            self._one(f"SELECT count(*) FROM activities WHERE {where}", (org_id, *params))[0]  # noqa: S608
        )

    def key(self, key_hash: str) -> KeyRow | None:
        return maybe_row(KeyRow, self._one(_SQL["key"], (key_hash,)))

    def shipment(self, serial: str) -> ShipmentRow | None:
        return maybe_row(ShipmentRow, self._one(_SQL["shipment"], (serial,)))

    def system_owner(self, system_id: str) -> str | None:
        return maybe_row(str, self._one(_SQL["system_owner"], (system_id,)))

    def request(self, scope: str, request_id: str) -> RequestRow | None:
        return maybe_row(RequestRow, self._one(_SQL["request"], (scope, request_id)))

    def meta(self, name: str) -> str | None:
        return maybe_row(str, self._one(_SQL["meta"], (name,)))

    def catalogs(self, after: int = 0) -> list[CatalogRow]:
        rows = self._c.execute(_SQL["catalogs"], (after,)).fetchall()
        return [CatalogRow(*row) for row in rows]

    def org_ids(self, limit: int | None, offset: int) -> list[str]:
        rows = self._c.execute(_SQL["org_ids"], (-1 if limit is None else limit, offset)).fetchall()
        return [str(row[0]) for row in rows]

    def latest_version_at_us(self) -> int | None:
        row = self._one(_SQL["latest_version_at"], ())
        return None if row is None or row[0] is None else int(row[0])

    def insert_catalog(self, row: CatalogRow) -> bool:
        cursor = self._c.execute(
            _SQL["insert_catalog"], (row.version, row.effective_at_us, row.catalog)
        )
        return cursor.rowcount == 1

    def lock(self, org_id: str) -> Head | None:
        # BEGIN IMMEDIATE already holds the write lock; one statement also reads the
        # latest catalog version, so a command reads the catalogs only when one was added,
        # and what the outbox needs, so that it writes the events without reading more
        row = self._one(_LOCK_WRITE, (org_id,))
        if row is None:
            return None
        self._facts[org_id] = OutboxFacts.of(row[3:])
        return Head(org_id, row[0], row[1], row[2])

    def create_org(self, org_id: str) -> bool:
        cursor = self._c.execute(_SQL["create_org"], (org_id,))
        return cursor.rowcount == 1

    def append(
        self,
        version: Head,
        parts: Sequence[tuple[str, str]],
        activities: Iterable[ActivityRow],
    ) -> None:
        org_id, seq, at_us = version.org_id, version.seq, version.at_us
        moved = self._c.execute(
            "UPDATE orgs SET head = ?, at_us = ? WHERE org_id = ? AND head < ?",
            (seq, at_us, org_id, seq),
        )
        if moved.rowcount != 1:  # the raise rolls the transaction back
            raise StorageError(
                f"version {seq} of organization {org_id!r} is already stored, or it is unknown",
                details={"org_id": org_id},
            )
        self._c.execute(
            "INSERT INTO versions (org_id, at_us, seq) VALUES (?, ?, ?)", (org_id, at_us, seq)
        )
        for name, value in parts:
            self._c.execute(
                "INSERT INTO part_history (org_id, part, seq, at_us, value) "
                "SELECT org_id, part, seq, at_us, value FROM parts WHERE org_id = ? AND part = ?",
                (org_id, name),
            )
            self._c.execute(
                "INSERT INTO parts (org_id, part, seq, at_us, value) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (org_id, part) DO UPDATE SET "
                "seq = excluded.seq, at_us = excluded.at_us, value = excluded.value",
                (org_id, name, seq, at_us, value),
            )
        first = seq << _ACTIVITY_ID_BITS
        rows = [
            (
                first + n,
                a.org_id,
                a.at_us,
                a.on,
                a.actor,
                a.action,
                a.product,
                a.system_id,
                a.details,
            )
            for n, a in enumerate(activities)
        ]
        if len(rows) == 1:
            self._c.execute(_INSERT_ACTIVITY, rows[0])
        elif rows:
            self._c.executemany(_INSERT_ACTIVITY, rows)

    def drop_legacy(self, org_id: str) -> None:
        self._c.execute(_SQL["drop_legacy"], (org_id,))

    def claim_system(self, system_id: str, org_id: str) -> bool:
        cursor = self._c.execute(_SQL["claim_system"], (system_id, org_id))
        return cursor.rowcount == 1

    def claim_hardware(self, serial: str, org_id: str) -> bool:
        cursor = self._c.execute(_SQL["claim_hardware"], (org_id, serial))
        return cursor.rowcount == 1

    def insert_key(self, row: KeyRow) -> None:
        self._c.execute(
            _SQL["insert_key"],
            (row.key_hash, row.product, row.kind, row.quantities, row.tail, row.issued_at_us),
        )

    def redeem_key(self, key_hash: str, org_id: str, at_us: int) -> bool:
        cursor = self._c.execute(_SQL["redeem_key"], (org_id, at_us, key_hash))
        return cursor.rowcount == 1

    def insert_shipment(self, row: ShipmentRow) -> bool:
        cursor = self._c.execute(
            _SQL["insert_shipment"],
            (row.serial, row.product, row.preloaded, row.shipped_at_us),
        )
        return cursor.rowcount == 1

    def put_request(self, row: RequestRow) -> None:
        self._c.execute(
            _SQL["put_request"],
            (row.scope, row.request_id, row.fingerprint, row.result),
        )

    def insert_meta(self, name: str, value: str) -> bool:
        cursor = self._c.execute(_SQL["insert_meta"], (name, value))
        return cursor.rowcount == 1


def _path_of(url: str) -> str:
    try:
        parsed = urllib.parse.urlsplit(url)
    except ValueError as exc:  # such as an unbalanced "[" in the host part
        raise InvalidInput(f"malformed SQLite URL {url!r}: {exc}") from exc
    if parsed.scheme.lower() != "sqlite" or parsed.netloc:
        raise InvalidInput(f"an SQLite URL looks like sqlite:///PATH, not {url!r}")
    path = urllib.parse.unquote(parsed.path)
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise InvalidInput(f"the SQLite URL {url!r} names no file")
    if "\x00" in path:
        raise InvalidInput(f"the SQLite URL {url!r} names a path with a NUL character")
    return path


def _file_uri(path: str) -> str:
    """``path`` as an SQLite ``file:`` URI (so that ``mode=rw`` can be added)."""
    return "file:" + urllib.parse.quote(os.path.abspath(path))


class SQLiteBackend(SQLiteMembersBackend, Backend):  # members hook (SPEC §8): the mixin
    """One SQLite file, shared safely by threads and processes."""

    scheme = "sqlite"

    #: Seconds a command waits for another process's write lock.
    busy_timeout = 30.0

    def __init__(self, url: str, *, create: bool = True) -> None:
        """Open (and with ``create``, make or upgrade) the database file.

        Args:
            url: ``sqlite:///PATH``.
            create: with False, nothing is created or changed: a missing file,
                or one without our tables, raises ``StoreNotFound``.

        Raises:
            InvalidInput: a malformed URL.
            StoreNotFound: ``create=False`` and no database is there.
            StorageError: the file cannot be opened, is newer than this code,
                or (``create=False``) needs an upgrade first.
        """
        self.url = url
        self.path = _path_of(url)
        self.create = create
        self._lock = threading.RLock()
        #: The connection :meth:`peek` reads on, opened at its first use.
        self._reader: sqlite3.Connection | None = None
        self._peek_lock = threading.Lock()
        if not create and not os.path.isfile(self.path):
            raise StoreNotFound(f"no SQLite database at {self.path!r}")
        self._conn = self._connect()
        #: True after a discarded connection, until the next transaction opens a fresh one.
        self._stale = False
        #: Whether the connection's busy timeout is SQLite's own (for reads) or 0 (writes).
        self._waits = True
        try:
            self._prepare()
        except BaseException:
            self._connection().close()
            raise

    def _connect(self) -> sqlite3.Connection:
        if self.create:
            target: str = self.path
        else:  # mode=rw never creates the file
            target = f"{_file_uri(self.path)}?mode=rw"
        try:
            return sqlite3.connect(
                target,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
                uri=not self.create,
            )
        except (sqlite3.Error, ValueError, OSError) as exc:
            if not self.create and not os.path.isfile(self.path):
                raise StoreNotFound(f"no SQLite database at {self.path!r}") from exc
            raise StorageError(f"cannot open SQLite database {self.path!r}: {exc}") from exc

    def _discard(self, conn: sqlite3.Connection) -> None:
        """Close a connection whose ROLLBACK failed, and open a fresh one (R13).

        Such a connection may still be inside its transaction and hold the
        write lock: every later BEGIN on it would fail, and other processes
        would wait for the lock. Closing it rolls back and releases the lock.
        If the fresh connection cannot be opened yet, the next transaction tries.
        """
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        self._stale = True
        with contextlib.suppress(StorageError, StoreNotFound):
            self._connection()

    def _connection(self) -> sqlite3.Connection:
        """The open connection, opened again (and prepared) after a discarded one."""
        if not self._stale:
            return self._conn
        conn = self._connect()
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            raise StorageError(f"cannot reopen SQLite database {self.path!r}: {exc}") from exc
        self._conn, self._stale, self._waits = conn, False, True
        return conn

    def _prepare(self) -> None:
        conn = self._connection()
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if version > SCHEMA_VERSION:
                    raise StorageError(
                        f"SQLite database {self.path!r} has schema version {version}, newer "
                        f"than this axis-licensing supports ({SCHEMA_VERSION}); upgrade "
                        "axis-licensing. The file was not changed."
                    )
                if not self.create and version == 0:
                    raise StoreNotFound(f"{self.path!r} holds no axis-licensing database")
                if not self.create and version < SCHEMA_VERSION:
                    raise StorageError(
                        f"SQLite database {self.path!r} has schema version {version}; open it "
                        f"once for writing (create=True) to upgrade it to {SCHEMA_VERSION}"
                    )
                if self.create:
                    conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                if version < SCHEMA_VERSION:
                    self._migrate()
                return
            except sqlite3.OperationalError as exc:
                if _is_busy(exc) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                raise StorageError(f"cannot prepare SQLite database {self.path!r}: {exc}") from exc
            except sqlite3.Error as exc:
                raise StorageError(f"cannot prepare SQLite database {self.path!r}: {exc}") from exc

    def _migrate(self) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:  # a newer process migrated it while we waited
                raise StorageError(
                    f"SQLite database {self.path!r} has schema version {version}, newer "
                    f"than this axis-licensing supports ({SCHEMA_VERSION}); upgrade "
                    "axis-licensing. The file was not changed."
                )
            if version == SCHEMA_VERSION:  # another process migrated it while we waited
                conn.execute("COMMIT")
                return
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _transaction(self, begin: str) -> Iterator[_Tx]:
        with self._lock:
            conn = self._connection()
            try:
                if begin == _BEGIN_WRITE:
                    self._begin_write(conn)
                else:
                    self._wait_in_sqlite(conn, wait=True)
                    conn.execute(begin)
            except sqlite3.OperationalError as exc:
                self._end_failed(conn)
                if _is_busy(exc):
                    raise RetryableConflict(str(exc)) from exc
                raise StorageError(f"SQLite failed to begin a transaction: {exc}") from exc
            except sqlite3.Error as exc:
                self._end_failed(conn)
                raise StorageError(f"SQLite failed to begin a transaction: {exc}") from exc
            try:
                yield _Tx(conn)
                conn.execute("COMMIT")
            except BaseException as exc:
                self._end_failed(conn)
                if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                    raise RetryableConflict(str(exc)) from exc
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(f"SQLite failed: {exc}") from exc
                raise

    def _begin_write(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, waiting for the write lock in short, even steps (R13).

        SQLite's own busy handler sleeps longer and longer (up to 100 ms a
        time) while it waits, so under steady contention a waiter can lose
        every hand-over for seconds. Here every waiter, in any process, looks
        again within 2 ms, so the lock goes to whichever waiter comes first and
        none starves. The wait is bounded by :attr:`busy_timeout`, as before.

        Raises:
            sqlite3.OperationalError: busy after :attr:`busy_timeout`, or another failure.
        """
        self._wait_in_sqlite(conn, wait=False)
        deadline: float | None = None  # read the clock only when the lock was busy
        while True:
            try:
                conn.execute(_BEGIN_WRITE)
                return
            except sqlite3.OperationalError as exc:
                now = time.monotonic()
                deadline = now + self.busy_timeout if deadline is None else deadline
                if not _is_busy(exc) or now >= deadline:
                    raise
            time.sleep(random.uniform(_WAIT_STEP / 4, _WAIT_STEP))

    def _wait_in_sqlite(self, conn: sqlite3.Connection, *, wait: bool) -> None:
        """Set the connection's busy timeout: SQLite's own waiting for reads, none for writes.

        A write transaction holds the write lock once it began, so it needs no
        busy handler; only reads do. The pragma runs only when the kind of
        transaction changes, not for every command.
        """
        if self._waits is not wait:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000) if wait else 0}")
            self._waits = wait

    def _end_failed(self, conn: sqlite3.Connection) -> None:
        """Roll back what a failed transaction left; discard the connection if that fails."""
        try:
            active = conn.in_transaction
        except sqlite3.Error:  # a closed connection holds no transaction
            return
        if not active:
            return
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            self._discard(conn)
            return
        if conn.in_transaction:  # pragma: no cover - a ROLLBACK that did not end it
            self._discard(conn)

    def write(self) -> contextlib.AbstractContextManager[WriteTx]:
        return self._transaction(_BEGIN_WRITE)

    def read(self) -> contextlib.AbstractContextManager[ReadTx]:
        return self._transaction("BEGIN")

    def peek(self, org_id: str) -> Head | None:
        rows = self._peek_rows(_LOCK, (org_id,))
        if not rows:
            return None
        head, at_us, catalog = rows[0]
        return Head(org_id, head, at_us, catalog)

    def peek_access(self, org_id: str) -> tuple[Head, int] | None:
        """:meth:`peek` and the store's access version (SPEC §8), in one statement.

        One read of the store, one snapshot: what the service's kept answers
        (:mod:`axis_licensing.http._fast`) confirm before they answer again.

        Returns:
            The head and the access version (0 before any change), or None when
            there is no such organization.

        Raises:
            RetryableConflict: the store was busy.
            StorageError: the store failed.
        """
        rows = self._peek_rows(_PEEK_ACCESS, (org_id, ACCESS_VERSION))
        if not rows:
            return None
        head, at_us, catalog, access = rows[0]
        return Head(org_id, head, at_us, catalog), 0 if access is None else int(access)

    def _peek_rows(self, statement: str, params: tuple[object, ...]) -> list[Any]:
        # On a connection of its own, so a query never waits for this process's
        # commands (WAL readers never wait for a writer). One statement in autocommit
        # mode is its own read transaction, one snapshot: no BEGIN and COMMIT around
        # a one-row read; fetchall() steps it to its end, which ends that read at once.
        with self._peek_lock:
            try:
                if self._reader is None:
                    self._reader = self._connect()
                return self._reader.execute(statement, params).fetchall()
            except sqlite3.Error as exc:
                reader, self._reader = self._reader, None  # opened afresh next time
                if reader is not None:
                    with contextlib.suppress(sqlite3.Error):
                        reader.close()
                if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                    raise RetryableConflict(str(exc)) from exc
                raise StorageError(f"SQLite failed: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        with self._peek_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    # -- migrate
    def export_rows(self, table: str) -> Iterator[dict[str, Any]]:
        columns = export_columns(table)
        sql_columns = ", ".join(sql_column(table, c) for c in columns)
        with self._transaction("BEGIN") as tx:
            rows = tx.conn.execute(
                f"SELECT {sql_columns} FROM {table} ORDER BY {_ORDER[table]}"  # noqa: S608 - fixed names
            ).fetchall()
        for row in rows:
            yield dict(zip(columns, row, strict=True))

    def import_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        columns = export_columns(table)
        sql_columns = ", ".join(sql_column(table, c) for c in columns)
        marks = ", ".join("?" for _ in columns)
        values = [tuple(row[c] for c in columns) for row in rows]
        with self._transaction(_BEGIN_WRITE) as tx:
            if table == "activities":  # number them after what the organization already has
                sql_columns, marks = f"id, {sql_columns}", f"?, {marks}"
                values = self._number_activities(tx.conn, values)
            tx.conn.executemany(
                f"INSERT INTO {table} ({sql_columns}) VALUES ({marks})",  # noqa: S608 - fixed names
                values,
            )
        return len(values)

    @staticmethod
    def _number_activities(
        conn: sqlite3.Connection, values: list[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        last: dict[str, int] = {}
        numbered = []
        for row in values:
            org_id = row[0]
            if org_id not in last:
                found = conn.execute(
                    "SELECT max(id) FROM activities WHERE org_id = ?", (org_id,)
                ).fetchone()[0]
                last[org_id] = found or 0
            last[org_id] += 1
            numbered.append((last[org_id], *row))
        return numbered

    def count_rows(self, table: str) -> int:
        export_columns(table)
        with self._transaction("BEGIN") as tx:
            return int(tx.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608

    def delete_meta(self, name: str) -> bool:
        with self._transaction(_BEGIN_WRITE) as tx:
            return tx.conn.execute("DELETE FROM meta WHERE name = ?", (name,)).rowcount == 1

    def clear(self) -> None:
        with self._transaction(_BEGIN_WRITE) as tx:
            for table in TABLES:
                tx.conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
