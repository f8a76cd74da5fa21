"""The PostgreSQL backend (``postgresql://…``): one database shared by many app servers.

The URL is a libpq URL plus three settings of ours, removed before psycopg
sees it::

    postgresql://user@host:5432/db?schema=licensing&pool_size=8&connect_timeout=5

- ``schema`` (default ``public``): created if missing; every statement names
  its tables fully qualified, quoted with :class:`psycopg.sql.Identifier`.
- ``pool_size`` (default 4, 1..100): the most connections the pool opens.
- ``connect_timeout`` (default 5 s, 1..3600): a libpq setting, checked here
  and always passed on, so an unreachable server fails fast.

Any other libpq parameter (``sslmode``, ``application_name``, ``options``, …)
passes through; a parameter libpq does not know raises ``InvalidInput``.

How R13 holds across processes and machines:

- :meth:`PostgreSQLBackend.write` runs at READ COMMITTED, and ``lock(org_id)``
  takes ``SELECT … FOR UPDATE`` on the organization's row (which holds its head
  version); the parts are read in later statements, so commands on one
  organization run one at a time and each sees the parts its predecessor committed.
- Facts unique across organizations (system ids, serials, key redemptions)
  rest on primary keys, ``INSERT … ON CONFLICT DO NOTHING`` and
  ``UPDATE … WHERE … IS NULL`` with row-count checks.
- A lost race becomes :class:`RetryableConflict`: serialization failures
  (40001), deadlocks (40P01), lock timeouts (55P03), a unique violation on
  ``requests``, ``keys``, ``meta``, ``versions`` or ``part_history`` from a concurrent twin, an
  organization or shipment inserted by a concurrent transaction, and a
  ``request_id`` remembered by a twin while this transaction waited for the
  organization's lock. The Manager runs the command again, and it replays.
- :meth:`PostgreSQLBackend.read` is a REPEATABLE READ READ ONLY snapshot.

Schema changes run under ``pg_advisory_xact_lock`` with a version table, so
many processes may open a fresh schema at once. A schema newer than this code
is refused at open, before anything is written.

Every statement is parameterised. psycopg errors never reach callers raw: they
become :class:`RetryableConflict` or :class:`~axis_licensing.errors.StorageError`
raised ``from`` the original.
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, LiteralString

import attrs
import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

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
    history_filters,
    maybe_row,
    sql_column,
)
from axis_licensing.errors import InvalidInput, StorageError, StoreNotFound
from axis_licensing.events._postgresql import PostgreSQLEventsTx
from axis_licensing.events._sql import POSTGRESQL_EVENTS_KEYED, POSTGRESQL_MIGRATION
from axis_licensing.members.store import (  # members hook (SPEC §8)
    POSTGRESQL_DDL,
    PostgreSQLMembersTx,
)

__all__ = ["MIGRATION_LOCK", "SCHEMA_VERSION", "PostgreSQLBackend", "Settings", "parse_url"]

#: The schema version this code writes; see :data:`MIGRATIONS`.
SCHEMA_VERSION = 6

#: The ``pg_advisory_xact_lock`` key held while a schema is created or migrated.
MIGRATION_LOCK = int.from_bytes(b"axislic0", "big")

#: ``MIGRATIONS[v]`` takes a schema from version ``v`` to ``v + 1``; ``{s}`` is the schema.
#: Text keys use the "C" collation, so they order by bytes, as in SQLite.
MIGRATIONS: tuple[tuple[LiteralString, ...], ...] = (
    (
        'CREATE TABLE {s}.meta (name TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL)',
        'CREATE TABLE {s}.orgs (org_id TEXT COLLATE "C" PRIMARY KEY, head BIGINT NOT NULL)',
        """CREATE TABLE {s}.states (
            org_id TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, at_us BIGINT NOT NULL,
            state TEXT NOT NULL, PRIMARY KEY (org_id, seq))""",
        "CREATE INDEX states_at ON {s}.states (org_id, at_us, seq)",
        """CREATE TABLE {s}.activities (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, org_id TEXT COLLATE "C" NOT NULL,
            at_us BIGINT NOT NULL, on_date TEXT COLLATE "C" NOT NULL,
            actor TEXT COLLATE "C" NOT NULL, action TEXT COLLATE "C" NOT NULL,
            product TEXT COLLATE "C", system_id TEXT COLLATE "C", details TEXT NOT NULL)""",
        "CREATE INDEX activities_org ON {s}.activities (org_id, id)",
        """CREATE TABLE {s}.systems (
            system_id TEXT COLLATE "C" PRIMARY KEY, org_id TEXT COLLATE "C" NOT NULL)""",
        """CREATE TABLE {s}.shipments (
            serial TEXT COLLATE "C" PRIMARY KEY, product TEXT COLLATE "C" NOT NULL,
            preloaded TEXT NOT NULL, shipped_at_us BIGINT NOT NULL, org_id TEXT COLLATE "C")""",
        """CREATE TABLE {s}.keys (
            key_hash TEXT COLLATE "C" PRIMARY KEY, product TEXT COLLATE "C" NOT NULL,
            kind TEXT COLLATE "C" NOT NULL, quantities TEXT NOT NULL, tail TEXT NOT NULL,
            issued_at_us BIGINT NOT NULL, redeemed_by TEXT COLLATE "C", redeemed_at_us BIGINT)""",
        """CREATE TABLE {s}.requests (
            scope TEXT COLLATE "C" NOT NULL, request_id TEXT COLLATE "C" NOT NULL,
            fingerprint TEXT NOT NULL, result TEXT NOT NULL, PRIMARY KEY (scope, request_id))""",
    ),
    # 2: the catalog versions (R15)
    (
        """CREATE TABLE {s}.catalogs (
            version BIGINT PRIMARY KEY, effective_at_us BIGINT NOT NULL, catalog TEXT NOT NULL)""",
    ),
    # 3: the state as parts with their own versions (SPEC §5). ``states`` stays, read
    # only to convert what versions 1 and 2 wrote; an organization's head is 0 until the
    # Manager converts it (on open).
    (
        "ALTER TABLE {s}.orgs ADD COLUMN at_us BIGINT NOT NULL DEFAULT 0",
        "UPDATE {s}.orgs SET head = 0",
        """CREATE TABLE {s}.versions (
            org_id TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, at_us BIGINT NOT NULL,
            PRIMARY KEY (org_id, seq))""",
        "CREATE INDEX versions_at ON {s}.versions (org_id, at_us, seq)",
        """CREATE TABLE {s}.parts (
            org_id TEXT COLLATE "C" NOT NULL, part TEXT COLLATE "C" NOT NULL,
            seq BIGINT NOT NULL, at_us BIGINT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (org_id, part))""",
        """CREATE TABLE {s}.part_history (
            org_id TEXT COLLATE "C" NOT NULL, part TEXT COLLATE "C" NOT NULL,
            seq BIGINT NOT NULL, at_us BIGINT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (org_id, part, seq))""",
    ),
    # 4: events out (SPEC §7): webhooks, events, deliveries, sweep_due
    POSTGRESQL_MIGRATION,
    # 5: accounts, memberships, invitations and API tokens (SPEC §8)
    POSTGRESQL_DDL,
    # 6: events keyed by (org_id, seq) alone
    POSTGRESQL_EVENTS_KEYED,
)
assert len(MIGRATIONS) == SCHEMA_VERSION

_VERSION_TABLE = "schema_version"

_ORDER: dict[str, tuple[str, ...]] = {**TABLE_KEYS, "activities": ("id",)}

#: Tables where a unique violation means a concurrent twin won the race (R13).
_RACE_TABLES = frozenset({"requests", "keys", "meta", "versions", "part_history", "catalogs"})

#: SQLSTATEs of a lost race: serialization failure, deadlock, lock timeout.
_RETRYABLE = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
)

_BEGIN_WRITE: LiteralString = "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE"
#: How long a write waits for another's lock before it is run again (R13), as SQLite's
#: busy timeout does.
_LOCK_TIMEOUT: LiteralString = "SET LOCAL lock_timeout = '30s'"
_BEGIN_READ: LiteralString = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

#: The statements of a transaction; ``{s}`` is the schema.
_STATEMENTS: dict[str, LiteralString] = {
    **SHARED,
    "parts": (
        "SELECT part, seq, at_us, value FROM {s}.parts WHERE org_id = %s "
        "AND part = ANY(%s::text[]) ORDER BY part"
    ),
    "parts_from": (
        "SELECT part, seq, at_us, value FROM {s}.parts WHERE org_id = %s "
        "AND part >= %s AND part < %s ORDER BY part LIMIT %s"
    ),
    "parts_after": (
        "SELECT part, seq, at_us, value FROM {s}.parts WHERE org_id = %s "
        "AND part > %s AND part < %s ORDER BY part LIMIT %s"
    ),
    "lock": LOCK_WITH_CATALOG + " FOR UPDATE",
    "peek": LOCK_WITH_CATALOG,
    "org_exists": "SELECT 1 FROM {s}.orgs WHERE org_id = %s",
    # One statement, one round trip per command: its sub-statements all read the
    # snapshot from before it, so ``kept`` copies each part's version being replaced.
    "append": (
        "WITH version AS (INSERT INTO {s}.versions (org_id, seq, at_us) "
        "VALUES (%(org)s, %(seq)s, %(at)s)), "
        "kept AS (INSERT INTO {s}.part_history (org_id, part, seq, at_us, value) "
        "SELECT org_id, part, seq, at_us, value FROM {s}.parts "
        "WHERE org_id = %(org)s AND part = ANY(%(names)s::text[])), "
        "put AS (INSERT INTO {s}.parts (org_id, part, seq, at_us, value) "
        "SELECT %(org)s, name, %(seq)s, %(at)s, value "
        "FROM unnest(%(names)s::text[], %(values)s::text[]) AS given(name, value) "
        "ON CONFLICT (org_id, part) DO UPDATE SET "
        "seq = excluded.seq, at_us = excluded.at_us, value = excluded.value), "
        "logged AS (INSERT INTO {s}.activities "
        "(org_id, at_us, on_date, actor, action, product, system_id, details) "
        "SELECT %(org)s, a_at, a_on, a_actor, a_action, a_product, a_system, a_details "
        "FROM unnest(%(a_at)s::bigint[], %(a_on)s::text[], %(a_actor)s::text[], "
        "%(a_action)s::text[], %(a_product)s::text[], %(a_system)s::text[], "
        "%(a_details)s::text[]) WITH ORDINALITY "
        "AS given(a_at, a_on, a_actor, a_action, a_product, a_system, a_details, n) "
        "ORDER BY n) "
        "UPDATE {s}.orgs SET head = %(seq)s, at_us = %(at)s WHERE org_id = %(org)s"
    ),
    "shipment_exists": "SELECT 1 FROM {s}.shipments WHERE serial = %s",
}

_ACTIVITY_SELECT: LiteralString = (
    "SELECT org_id, at_us, on_date, actor, action, product, system_id, details "
    "FROM {s}.activities WHERE "
)

_DIGITS = re.compile(r"[0-9]{1,9}")


# -- URL ------------------------------------------------------------------------------------


@attrs.frozen
class Settings:
    """A PostgreSQL URL taken apart: what psycopg gets, and our own settings."""

    #: The libpq URL handed to psycopg (our parameters removed, ``connect_timeout`` set).
    conninfo: str = attrs.field(repr=False)
    #: The schema that holds the tables.
    schema: str = "public"
    #: The pool's largest size.
    pool_size: int = 4
    #: Seconds to wait for a connection to the server.
    connect_timeout: int = 5
    #: ``host:port/dbname``, for messages (never the password).
    where: str = ""


def _int_param(name: str, value: str, low: int, high: int) -> int:
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise InvalidInput(
            f"PostgreSQL URL parameter {name}={value!r} must be a whole number from {low} to {high}"
        )
    return int(value)


def _check_schema(value: str) -> str:
    if not value:
        raise InvalidInput("PostgreSQL URL parameter schema must not be empty")
    if len(value.encode("utf-8")) > 63:
        raise InvalidInput(
            f"PostgreSQL URL parameter schema={value!r} is longer than PostgreSQL's 63 bytes"
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput(f"PostgreSQL URL parameter schema={value!r} contains control characters")
    if "%" in value:
        raise InvalidInput(f"PostgreSQL URL parameter schema={value!r} must not contain %")
    if value.startswith("pg_"):
        raise InvalidInput(
            f"PostgreSQL URL parameter schema={value!r}: names starting with pg_ are reserved"
        )
    return value


def _where(params: dict[str, str]) -> str:
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = params.get("port") or "5432"
    return f"{host}:{port}/{params.get('dbname') or params.get('user') or ''}"


def parse_url(url: str) -> Settings:
    """Take a ``postgresql://`` URL apart into psycopg's conninfo and our settings.

    Args:
        url: ``postgresql://user@host:port/db?schema=NAME&pool_size=N&connect_timeout=S``
            (``postgres://`` works too), with any other libpq parameter.

    Returns:
        The settings, defaults filled in.

    Raises:
        InvalidInput: not a PostgreSQL URL, an unknown parameter, a repeated one, or a bad value.
    """
    if not isinstance(url, str):
        raise InvalidInput(f"a PostgreSQL URL must be a string, not {type(url).__name__}")
    try:
        parts = urllib.parse.urlsplit(url)
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise InvalidInput(f"malformed PostgreSQL URL: {exc}") from None
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        raise InvalidInput("a PostgreSQL URL starts with postgresql:// or postgres://")
    seen: set[str] = set()
    schema, pool_size, connect_timeout = "public", 4, 5
    passed: list[tuple[str, str]] = []
    for name, value in pairs:
        if name in seen:
            raise InvalidInput(f"PostgreSQL URL parameter {name!r} is given more than once")
        seen.add(name)
        if name == "schema":
            schema = _check_schema(value)
        elif name == "pool_size":
            pool_size = _int_param(name, value, 1, 100)
        elif name == "connect_timeout":
            connect_timeout = _int_param(name, value, 1, 3600)
        else:
            passed.append((name, value))
    passed.append(("connect_timeout", str(connect_timeout)))
    query = urllib.parse.urlencode(passed, quote_via=urllib.parse.quote)
    # built by hand: urlunsplit drops the // of a URL without a host (a Unix socket)
    conninfo = f"{parts.scheme.lower()}://{parts.netloc}{parts.path}?{query}"
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.Error as exc:
        raise InvalidInput(f"invalid PostgreSQL URL: {exc}") from None
    return Settings(
        conninfo=conninfo,
        schema=schema,
        pool_size=pool_size,
        connect_timeout=connect_timeout,
        where=_where({k: str(v) for k, v in params.items() if v is not None}),
    )


# -- errors ---------------------------------------------------------------------------------


def _translate(exc: psycopg.Error, *, retry: bool) -> Exception:
    """The exception to raise ``from exc``: a lost race, or a storage failure."""
    if retry:
        if isinstance(exc, _RETRYABLE):
            return RetryableConflict(f"PostgreSQL: {exc}")
        if isinstance(exc, pg_errors.UniqueViolation) and exc.diag.table_name in _RACE_TABLES:
            return RetryableConflict(f"a concurrent transaction won the race: {exc}")
    return StorageError(f"PostgreSQL failed: {exc}")


# -- transactions ---------------------------------------------------------------------------


Conn = psycopg.Connection[TupleRow]


class _Tx(PostgreSQLEventsTx, PostgreSQLMembersTx, WriteTx):  # SPEC §7, §8 storage
    def __init__(
        self, conn: Conn, q: dict[str, sql.Composed], s: sql.Identifier, *, write: bool, retry: bool
    ) -> None:
        self.conn = conn
        self._q = q
        self._s = s
        self._write = write
        self._retry = retry
        #: Requests looked up and not found; ``lock`` checks them again after waiting.
        self._missed: list[tuple[str, str]] = []

    # -- statement helpers
    def run(
        self, query: sql.SQL | sql.Composed, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> psycopg.Cursor[TupleRow]:
        try:
            return self.conn.execute(query, params)
        except psycopg.Error as exc:
            raise _translate(exc, retry=self._retry) from exc

    def _one(self, name: str, params: Sequence[Any]) -> TupleRow | None:
        try:
            return self.conn.execute(self._q[name], params).fetchone()
        except psycopg.Error as exc:
            raise _translate(exc, retry=self._retry) from exc

    def _rowcount(self, name: str, params: Sequence[Any]) -> int:
        return self.run(self._q[name], params).rowcount

    # -- reads
    def head(self, org_id: str) -> Head | None:
        row = self._one("head", (org_id,))
        return None if row is None else Head(org_id, row[0], row[1])

    def seq_at(self, org_id: str, at_us: int) -> int | None:
        row = self._one("seq_at", (org_id, at_us))
        return None if row is None else int(row[0])

    def _as_of(self, org_id: str, rows: list[TupleRow], seq: int | None) -> list[PartRow]:
        return as_of(org_id, rows, seq, lambda name, s: self._one("part_before", (org_id, name, s)))

    def _all(self, name: str, params: Sequence[Any]) -> list[TupleRow]:
        return self.run(self._q[name], params).fetchall()

    def parts(self, org_id: str, names: Sequence[str], seq: int | None = None) -> list[PartRow]:
        wanted = sorted(set(names))
        if not wanted:
            return []
        return self._as_of(org_id, self._all("parts", (org_id, wanted)), seq)

    def parts_prefixed(
        self,
        org_id: str,
        prefix: str,
        *,
        seq: int | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[PartRow]:
        sql_limit = None if seq is not None else limit
        if after is not None and after >= prefix:
            rows = self._all("parts_after", (org_id, after, prefix_end(prefix), sql_limit))
        else:
            rows = self._all("parts_from", (org_id, prefix, prefix_end(prefix), sql_limit))
        found = self._as_of(org_id, rows, seq)
        return found if limit is None else found[:limit]

    def legacy_orgs(self) -> list[str]:
        return [str(r[0]) for r in self._all("legacy_orgs", ())]

    def legacy_states(self, org_id: str) -> list[StateRow]:
        return [StateRow(org_id, r[0], r[1], r[2]) for r in self._all("legacy_states", (org_id,))]

    def _history_where(self, org_id: str, query: HistoryQuery) -> tuple[sql.Composed, list[Any]]:
        clauses: list[sql.Composable] = [sql.SQL("org_id = %s")]
        params: list[Any] = [org_id]
        for column, op, value in history_filters(query):
            clauses.append(sql.SQL("{} " + op + " %s").format(sql.Identifier(column)))
            params.append(value)
        if query.actions is not None:
            clauses.append(sql.SQL("action = ANY(%s::text[])"))
            params.append(list(query.actions))
        return sql.SQL(" AND ").join(clauses), params

    def history(
        self, org_id: str, query: HistoryQuery, limit: int | None, offset: int
    ) -> list[ActivityRow]:
        where, params = self._history_where(org_id, query)
        statement = sql.Composed(
            [
                sql.SQL(_ACTIVITY_SELECT).format(s=self._s),
                where,
                sql.SQL(" ORDER BY id LIMIT %s OFFSET %s"),
            ]
        )
        try:
            rows = self.conn.execute(statement, (*params, limit, offset)).fetchall()
        except psycopg.Error as exc:
            raise _translate(exc, retry=self._retry) from exc
        return [ActivityRow(*row) for row in rows]

    def count_history(self, org_id: str, query: HistoryQuery) -> int:
        where, params = self._history_where(org_id, query)
        statement = sql.Composed(
            [sql.SQL("SELECT count(*) FROM {s}.activities WHERE ").format(s=self._s), where]
        )
        try:
            row = self.conn.execute(statement, params).fetchone()
        except psycopg.Error as exc:
            raise _translate(exc, retry=self._retry) from exc
        assert row is not None
        return int(row[0])

    def key(self, key_hash: str) -> KeyRow | None:
        return maybe_row(KeyRow, self._one("key", (key_hash,)))

    def shipment(self, serial: str) -> ShipmentRow | None:
        return maybe_row(ShipmentRow, self._one("shipment", (serial,)))

    def system_owner(self, system_id: str) -> str | None:
        return maybe_row(str, self._one("system_owner", (system_id,)))

    def request(self, scope: str, request_id: str) -> RequestRow | None:
        row = self._one("request", (scope, request_id))
        if row is None:
            if self._write:
                self._missed.append((scope, request_id))
            return None
        return RequestRow(*row)

    def meta(self, name: str) -> str | None:
        return maybe_row(str, self._one("meta", (name,)))

    def catalogs(self, after: int = 0) -> list[CatalogRow]:
        rows = self.run(self._q["catalogs"], (after,)).fetchall()
        return [CatalogRow(*row) for row in rows]

    def org_ids(self, limit: int | None, offset: int) -> list[str]:
        rows = self.run(self._q["org_ids"], (limit, offset)).fetchall()
        return [str(row[0]) for row in rows]

    def latest_version_at_us(self) -> int | None:
        row = self._one("latest_version_at", ())
        return None if row is None or row[0] is None else int(row[0])

    # -- writes
    def insert_catalog(self, row: CatalogRow) -> bool:
        params = (row.version, row.effective_at_us, row.catalog)
        return self._rowcount("insert_catalog", params) == 1

    def lock(self, org_id: str) -> Head | None:
        # At READ COMMITTED the locked row is the one the lock's last holder committed,
        # and every later statement sees the parts it wrote.
        locked = self._one("lock", (org_id,))
        if locked is None:
            return None
        self._recheck_missed()
        return Head(org_id, locked[0], locked[1], locked[2])

    def _recheck_missed(self) -> None:
        """Run again if a twin remembered our request_id since we looked (R13).

        At READ COMMITTED a twin command can commit between our look for the
        request and a later statement; then the Manager must replay its
        result, not report what the twin did as a conflict.
        """
        for scope, request_id in self._missed:
            if self._one("request", (scope, request_id)) is not None:
                raise RetryableConflict(
                    f"request {request_id!r} was completed by a concurrent transaction"
                )

    def create_org(self, org_id: str) -> bool:
        if self._one("org_exists", (org_id,)) is not None:
            self._recheck_missed()
            return False
        if self._rowcount("create_org", (org_id,)) != 1:
            # A concurrent transaction created it after our look: the retry tells why.
            raise RetryableConflict(f"organization {org_id!r} was created concurrently")
        return True

    def append(
        self,
        version: Head,
        parts: Sequence[tuple[str, str]],
        activities: Iterable[ActivityRow],
    ) -> None:
        rows = list(activities)
        params = {
            "org": version.org_id,
            "seq": version.seq,
            "at": version.at_us,
            "names": [name for name, _ in parts],
            "values": [value for _, value in parts],
            "a_at": [a.at_us for a in rows],
            "a_on": [a.on for a in rows],
            "a_actor": [a.actor for a in rows],
            "a_action": [a.action for a in rows],
            "a_product": [a.product for a in rows],
            "a_system": [a.system_id for a in rows],
            "a_details": [a.details for a in rows],
        }
        if any(a.org_id != version.org_id for a in rows):
            raise StorageError("a version's activities must be its organization's")
        self.run(self._q["append"], params)

    def drop_legacy(self, org_id: str) -> None:
        self.run(self._q["drop_legacy"], (org_id,))

    def claim_system(self, system_id: str, org_id: str) -> bool:
        return self._rowcount("claim_system", (system_id, org_id)) == 1

    def claim_hardware(self, serial: str, org_id: str) -> bool:
        return self._rowcount("claim_hardware", (org_id, serial)) == 1

    def insert_key(self, row: KeyRow) -> None:
        self.run(
            self._q["insert_key"],
            (row.key_hash, row.product, row.kind, row.quantities, row.tail, row.issued_at_us),
        )

    def redeem_key(self, key_hash: str, org_id: str, at_us: int) -> bool:
        return self._rowcount("redeem_key", (org_id, at_us, key_hash)) == 1

    def insert_shipment(self, row: ShipmentRow) -> bool:
        if self._one("shipment_exists", (row.serial,)) is not None:
            self._recheck_missed()
            return False
        params = (row.serial, row.product, row.preloaded, row.shipped_at_us)
        if self._rowcount("insert_shipment", params) != 1:
            raise RetryableConflict(f"hardware {row.serial!r} was shipped concurrently")
        return True

    def put_request(self, row: RequestRow) -> None:
        self.run(self._q["put_request"], (row.scope, row.request_id, row.fingerprint, row.result))

    def insert_meta(self, name: str, value: str) -> bool:
        return self._rowcount("insert_meta", (name, value)) == 1


# -- the backend ----------------------------------------------------------------------------


def _idle(conn: Conn) -> bool:
    return conn.info.transaction_status == TransactionStatus.IDLE


class PostgreSQLBackend(Backend):
    """One PostgreSQL schema, shared safely by threads, processes and machines (R13)."""

    scheme = "postgresql"

    #: Seconds a transaction waits for a free pooled connection.
    pool_timeout = 30.0

    def __init__(self, url: str, *, create: bool = True) -> None:
        """Open (and with ``create``, make or upgrade) the schema named by ``url``.

        Args:
            url: see :func:`parse_url`.
            create: with False, nothing is created or changed: a missing
                schema, or one without our tables, raises ``StoreNotFound``.

        Raises:
            InvalidInput: a malformed URL.
            StoreNotFound: ``create=False`` and the schema holds no store.
            StorageError: the server cannot be reached, the schema is newer
                than this code, or (``create=False``) it needs an upgrade first.
        """
        settings = parse_url(url)
        self.settings = settings
        self.create = create
        self.schema = settings.schema
        self.pool_size = settings.pool_size
        self.connect_timeout = settings.connect_timeout
        self._s = sql.Identifier(settings.schema)
        self._q = {name: sql.SQL(text).format(s=self._s) for name, text in _STATEMENTS.items()}
        self._prepare()
        pool: ConnectionPool[Conn] = ConnectionPool(
            settings.conninfo,
            kwargs={"autocommit": True},
            min_size=1,
            max_size=settings.pool_size,
            open=False,
            timeout=self.pool_timeout,
            check=ConnectionPool.check_connection,  # drop connections the server closed
            name=f"axis-licensing:{settings.schema}",
        )
        try:
            pool.open(wait=True, timeout=settings.connect_timeout + 5.0)
        except psycopg.Error as exc:
            pool.close()
            raise StorageError(
                f"cannot open a connection pool to PostgreSQL at {settings.where}: {exc}"
            ) from exc
        self._pool = pool

    # -- opening
    def _connect(self) -> Conn:
        try:
            return psycopg.connect(self.settings.conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise StorageError(
                f"cannot connect to PostgreSQL at {self.settings.where}: {exc}"
            ) from exc

    def _version(self, conn: Conn) -> int | None:
        """The schema's version, or None when it has no version table (or no schema)."""
        found = conn.execute(
            "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = %s AND tablename = %s",
            (self.schema, _VERSION_TABLE),
        ).fetchone()
        if found is None:
            return None
        row = conn.execute(
            sql.SQL("SELECT max(version) FROM {}").format(
                sql.Identifier(self.schema, _VERSION_TABLE)
            )
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _too_new(self, version: int) -> StorageError:
        return StorageError(
            f"PostgreSQL schema {self.schema!r} at {self.settings.where} has schema version "
            f"{version}, newer than this axis-licensing supports ({SCHEMA_VERSION}); upgrade "
            "axis-licensing. Nothing was changed."
        )

    def _prepare(self) -> None:
        """Create or migrate the schema, once, whoever else opens it at the same time."""
        conn = self._connect()
        try:
            try:
                version = self._version(conn)
                if version is not None and version > SCHEMA_VERSION:
                    raise self._too_new(version)
                if version == SCHEMA_VERSION:
                    return
                if not self.create:
                    if version is None:
                        raise StoreNotFound(
                            f"PostgreSQL schema {self.schema!r} at {self.settings.where} "
                            "holds no axis-licensing store"
                        )
                    raise StorageError(
                        f"PostgreSQL schema {self.schema!r} at {self.settings.where} has schema "
                        f"version {version}; open it once for writing (create=True) to upgrade "
                        f"it to {SCHEMA_VERSION}"
                    )
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                    self._migrate(conn)
            except psycopg.Error as exc:
                raise StorageError(
                    f"cannot prepare PostgreSQL schema {self.schema!r} at "
                    f"{self.settings.where}: {exc}"
                ) from exc
        finally:
            conn.close()

    def _migrate(self, conn: Conn) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION`; the caller holds the migration lock."""
        exists = conn.execute(
            "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", (self.schema,)
        ).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(self._s))
        version = self._version(conn)  # again: another process may have migrated meanwhile
        if version is not None and version > SCHEMA_VERSION:
            raise self._too_new(version)
        if version is None:
            conn.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} (version INTEGER NOT NULL)").format(
                    self._s, sql.Identifier(_VERSION_TABLE)
                )
            )
            version = 0
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step]:
                conn.execute(sql.SQL(statement).format(s=self._s))
        table = sql.Identifier(self.schema, _VERSION_TABLE)
        conn.execute(sql.SQL("DELETE FROM {}").format(table))
        conn.execute(
            sql.SQL("INSERT INTO {} (version) VALUES (%s)").format(table), (SCHEMA_VERSION,)
        )

    # -- transactions
    @contextlib.contextmanager
    def _transaction(self, *, write: bool, retry: bool) -> Iterator[_Tx]:
        try:
            conn = self._pool.getconn()
        except psycopg.Error as exc:
            raise StorageError(f"no PostgreSQL connection to {self.settings.where}: {exc}") from exc
        try:
            tx = _Tx(conn, self._q, self._s, write=write, retry=retry)
            tx.run(sql.SQL(_BEGIN_WRITE if write else _BEGIN_READ))
            if write:
                tx.run(sql.SQL(_LOCK_TIMEOUT))
            try:
                yield tx
            except BaseException:
                self._end_failed(conn)
                raise
            if conn.info.transaction_status == TransactionStatus.INERROR:
                self._end_failed(conn)
                raise StorageError("a PostgreSQL statement failed; the transaction was rolled back")
            tx.run(sql.SQL("COMMIT"))
        except BaseException:
            self._end_failed(conn)  # such as a failed BEGIN or COMMIT
            raise
        finally:
            self._pool.putconn(conn)

    @staticmethod
    def _end_failed(conn: Conn) -> None:
        """Roll back what a failed transaction left; close the connection if that fails.

        The pool discards a closed connection when it is put back and opens a
        fresh one, so a connection whose ROLLBACK failed (or whose server
        session ended) is never handed out again (R13).
        """
        if conn.closed or _idle(conn):
            return
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")
        if not _idle(conn):
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def write(self) -> contextlib.AbstractContextManager[WriteTx]:
        return self._transaction(write=True, retry=True)

    def read(self) -> contextlib.AbstractContextManager[ReadTx]:
        return self._transaction(write=False, retry=True)

    def peek(self, org_id: str) -> Head | None:
        # One statement in autocommit mode sees one snapshot: one round trip, no
        # BEGIN and COMMIT (psycopg prepares it after a few runs on a connection).
        try:
            conn = self._pool.getconn()
        except psycopg.Error as exc:
            raise StorageError(f"no PostgreSQL connection to {self.settings.where}: {exc}") from exc
        try:
            row = conn.execute(self._q["peek"], (org_id,)).fetchone()
        except psycopg.Error as exc:
            self._end_failed(conn)
            raise _translate(exc, retry=True) from exc
        finally:
            self._pool.putconn(conn)
        return None if row is None else Head(org_id, row[0], row[1], row[2])

    def close(self) -> None:
        self._pool.close()

    # -- migrate
    def _table(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, table)

    @staticmethod
    def _columns(table: str, columns: Iterable[str]) -> sql.Composed:
        return sql.SQL(", ").join(sql.Identifier(sql_column(table, c)) for c in columns)

    def export_rows(self, table: str) -> Iterator[dict[str, Any]]:
        columns = export_columns(table)
        query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
            self._columns(table, columns),
            self._table(table),
            sql.SQL(", ").join(sql.Identifier(c) for c in _ORDER[table]),
        )
        with self._transaction(write=False, retry=False) as tx:
            try:
                with tx.conn.cursor(name="axis_licensing_export") as cursor:
                    cursor.itersize = 1000
                    cursor.execute(query)
                    for row in cursor:
                        yield dict(zip(columns, row, strict=True))
            except psycopg.Error as exc:
                raise StorageError(f"PostgreSQL failed to export {table}: {exc}") from exc

    def import_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        columns = export_columns(table)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            self._table(table), self._columns(table, columns)
        )
        count = 0
        with self._transaction(write=True, retry=False) as tx:
            try:
                with tx.conn.cursor() as cursor, cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row([row[c] for c in columns])
                        count += 1
            except psycopg.Error as exc:
                raise StorageError(f"PostgreSQL failed to import {table}: {exc}") from exc
        return count

    def count_rows(self, table: str) -> int:
        export_columns(table)
        with self._transaction(write=False, retry=False) as tx:
            row = tx.run(sql.SQL("SELECT count(*) FROM {}").format(self._table(table))).fetchone()
        assert row is not None
        return int(row[0])

    def delete_meta(self, name: str) -> bool:
        """Delete one backend-wide setting (``migrate`` drops its incomplete mark so).

        Returns:
            Whether the setting existed.

        Raises:
            StorageError: the store failed.
        """
        statement = sql.SQL("DELETE FROM {} WHERE name = %s").format(self._table("meta"))
        with self._transaction(write=True, retry=False) as tx:
            return tx.run(statement, (name,)).rowcount == 1

    def clear(self) -> None:
        with self._transaction(write=True, retry=False) as tx:
            tx.run(
                sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(self._table(t) for t in TABLES))
            )
