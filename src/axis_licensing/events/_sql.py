"""Events out on SQLite and PostgreSQL: one set of SQL, two thin dialects.

Every statement is written once, with ``%s`` marks and ``{s}.`` before each
table; SQLite's dialect drops the schema and uses ``?``, PostgreSQL's quotes the
schema with :class:`psycopg.sql.Identifier`. The two differ in one place: a
claim on PostgreSQL adds ``FOR UPDATE … SKIP LOCKED``, so concurrent
dispatchers (or sweeps) take disjoint rows without waiting for each other;
SQLite has one writer at a time (``BEGIN IMMEDIATE``), which gives the same.

On SQLite, a write transaction's lock of an organization also reads what its
outbox needs (:data:`SQLITE_LOCK_FACTS`: its latest event ``seq``, when it is
due for a sweep, whether any enabled endpoint may receive its events), and the
transaction keeps those facts current as it writes (:class:`OutboxFacts`). A
command then writes its events without another read, skips the webhooks table
when no endpoint can receive them, and leaves the sweep index alone when its
due instant is unchanged. The write lock (``BEGIN IMMEDIATE``) makes them exact:
no other connection writes while the transaction holds it. PostgreSQL reads
them in the outbox's own statements, after its row lock.

Errors: inside a transaction, a raw ``sqlite3`` error is translated by the
SQLite backend's transaction (busy → ``RetryableConflict``, else
``StorageError``); :mod:`axis_licensing.events._postgresql` translates psycopg's.
"""

from __future__ import annotations

import abc
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, LiteralString

import attrs

from axis_licensing.events.model import (
    Delivery,
    DeliveryState,
    Event,
    EventDraft,
    OutboxStats,
    delivery_id,
    event_id,
)
from axis_licensing.events.store import (
    EVENT_EXPORT_COLUMNS,
    NO_LIMIT,
    Claim,
    DeliveryRow,
    EndpointRow,
    EventsTx,
    Outcome,
    event_data,
    event_from_row,
    from_us,
    to_us,
)

__all__ = [
    "POSTGRESQL_EVENTS_KEYED",
    "POSTGRESQL_MIGRATION",
    "SQLITE_EVENTS_KEYED",
    "SQLITE_LOCK_FACTS",
    "SQLITE_MIGRATION",
    "STATEMENTS",
    "OutboxFacts",
    "SQLEventsTx",
    "SQLiteEventsTx",
]

#: The schema of events out, one migration step (PostgreSQL; ``{s}`` is the schema).
POSTGRESQL_MIGRATION: tuple[LiteralString, ...] = (
    """CREATE TABLE {s}.webhooks (
        endpoint_id TEXT COLLATE "C" PRIMARY KEY, scope TEXT COLLATE "C" NOT NULL,
        url TEXT COLLATE "C" NOT NULL, types TEXT, enabled INTEGER NOT NULL,
        allow_http INTEGER NOT NULL, allow_private INTEGER NOT NULL,
        created_at_us BIGINT NOT NULL, secret TEXT NOT NULL, previous_secret TEXT,
        previous_until_us BIGINT, UNIQUE (scope, url))""",
    """CREATE TABLE {s}.events (
        org_id TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL,
        event_id TEXT COLLATE "C" NOT NULL UNIQUE, type TEXT COLLATE "C" NOT NULL,
        at_us BIGINT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (org_id, seq))""",
    """CREATE TABLE {s}.deliveries (
        delivery_id TEXT COLLATE "C" PRIMARY KEY, event_id TEXT COLLATE "C" NOT NULL,
        org_id TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL,
        endpoint_id TEXT COLLATE "C" NOT NULL, state TEXT COLLATE "C" NOT NULL,
        attempts INTEGER NOT NULL, next_at_us BIGINT, window_us BIGINT NOT NULL,
        lease_owner TEXT, lease_until_us BIGINT NOT NULL, last_status INTEGER,
        last_error TEXT, created_at_us BIGINT NOT NULL, delivered_at_us BIGINT)""",
    # the claim reads the due pending deliveries, /metrics the oldest pending, the
    # owner's page the failed ones: each a range of a partial index
    (
        "CREATE INDEX deliveries_due ON {s}.deliveries (next_at_us, delivery_id) "
        "WHERE state = 'pending'"
    ),
    "CREATE INDEX deliveries_age ON {s}.deliveries (created_at_us) WHERE state = 'pending'",
    "CREATE INDEX deliveries_failed ON {s}.deliveries (created_at_us) WHERE state = 'failed'",
    "CREATE INDEX deliveries_endpoint ON {s}.deliveries (endpoint_id)",
    """CREATE TABLE {s}.sweep_due (
        org_id TEXT COLLATE "C" PRIMARY KEY, due_us BIGINT NOT NULL)""",
    "CREATE INDEX sweep_due_at ON {s}.sweep_due (due_us, org_id)",
)

#: The same schema for SQLite (no schema name; SQLite compares text by bytes already).
SQLITE_MIGRATION: tuple[str, ...] = tuple(
    statement.replace("{s}.", "").replace(' COLLATE "C"', "") for statement in POSTGRESQL_MIGRATION
)

#: The next step: ``event_id`` loses its own unique index. The id is derived from the
#: key ``(org_id, seq)`` (:func:`~axis_licensing.events.model.event_id`), so the key
#: already makes it unique, and nothing looks an event up by its id; the index cost
#: every command one more b-tree page written (at a random place: ids are hashes).
POSTGRESQL_EVENTS_KEYED: tuple[LiteralString, ...] = (
    "ALTER TABLE {s}.events DROP CONSTRAINT IF EXISTS events_event_id_key",
)

#: The same step for SQLite, which cannot drop a constraint: the table is rebuilt,
#: clustered by its key (``WITHOUT ROWID``), so an event is one row in one b-tree
#: where it was a row, its key's index and the id's index.
SQLITE_EVENTS_KEYED: tuple[str, ...] = (
    """CREATE TABLE events_keyed (
        org_id TEXT NOT NULL, seq BIGINT NOT NULL, event_id TEXT NOT NULL,
        type TEXT NOT NULL, at_us BIGINT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (org_id, seq)) WITHOUT ROWID""",
    "INSERT INTO events_keyed (org_id, seq, event_id, type, at_us, data) "
    "SELECT org_id, seq, event_id, type, at_us, data FROM events",
    "DROP TABLE events",
    "ALTER TABLE events_keyed RENAME TO events",
)


_ENDPOINT_COLUMNS: LiteralString = (
    "endpoint_id, scope, url, types, enabled, allow_http, allow_private, created_at_us, "
    "secret, previous_secret, previous_until_us"
)
_DELIVERY_COLUMNS: LiteralString = (
    "delivery_id, event_id, org_id, seq, endpoint_id, state, attempts, next_at_us, window_us, "
    "lease_owner, lease_until_us, last_status, last_error, created_at_us, delivered_at_us"
)
_D_DELIVERY_COLUMNS: LiteralString = (
    "d.delivery_id, d.event_id, d.org_id, d.seq, d.endpoint_id, d.state, d.attempts, "
    "d.next_at_us, d.window_us, d.lease_owner, d.lease_until_us, d.last_status, d.last_error, "
    "d.created_at_us, d.delivered_at_us"
)
_W_ENDPOINT_COLUMNS: LiteralString = (
    "w.endpoint_id, w.scope, w.url, w.types, w.enabled, w.allow_http, w.allow_private, "
    "w.created_at_us, w.secret, w.previous_secret, w.previous_until_us"
)
_N_DELIVERY = len(EVENT_EXPORT_COLUMNS["deliveries"])
_N_ENDPOINT = len(EVENT_EXPORT_COLUMNS["webhooks"])

#: A claim's lock: PostgreSQL only (see the module docstring).
_SKIP_LOCKED_D: LiteralString = " FOR UPDATE OF d SKIP LOCKED"
_SKIP_LOCKED: LiteralString = " FOR UPDATE SKIP LOCKED"

#: Every statement, with ``%s`` marks and ``{s}.`` before each table.
STATEMENTS: dict[str, LiteralString] = {
    "last_seq": "SELECT COALESCE(MAX(seq), 0) FROM {s}.events WHERE org_id = %s",
    "endpoints_for": (
        "SELECT " + _ENDPOINT_COLUMNS + " FROM {s}.webhooks "  # noqa: S608 - fixed names
        "WHERE scope IN (%s, '') AND enabled = 1 ORDER BY endpoint_id"
    ),
    "insert_event": (
        "INSERT INTO {s}.events (org_id, seq, event_id, type, at_us, data) "
        "VALUES (%s, %s, %s, %s, %s, %s)"
    ),
    "insert_delivery": (
        "INSERT INTO {s}.deliveries (" + _DELIVERY_COLUMNS + ") "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    ),
    "events_after": (
        "SELECT org_id, seq, event_id, type, at_us, data FROM {s}.events "
        "WHERE org_id = %s AND seq > %s ORDER BY seq LIMIT %s"
    ),
    "insert_endpoint": (
        "INSERT INTO {s}.webhooks (" + _ENDPOINT_COLUMNS + ") "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
    ),
    "endpoint": "SELECT " + _ENDPOINT_COLUMNS + " FROM {s}.webhooks WHERE endpoint_id = %s",  # noqa: S608 - fixed names
    "endpoints_all": "SELECT " + _ENDPOINT_COLUMNS + " FROM {s}.webhooks ORDER BY endpoint_id",  # noqa: S608 - fixed names
    "endpoints_scope": (
        "SELECT " + _ENDPOINT_COLUMNS + " FROM {s}.webhooks WHERE scope = %s ORDER BY endpoint_id"  # noqa: S608 - fixed names
    ),
    "url_taken": ("SELECT 1 FROM {s}.webhooks WHERE scope = %s AND url = %s AND endpoint_id <> %s"),
    "update_endpoint": (
        "UPDATE {s}.webhooks SET url = %s, types = %s, enabled = %s, allow_http = %s, "
        "allow_private = %s, secret = %s, previous_secret = %s, previous_until_us = %s "
        "WHERE endpoint_id = %s"
    ),
    "delete_endpoint": "DELETE FROM {s}.webhooks WHERE endpoint_id = %s",
    "delete_endpoint_deliveries": (
        "DELETE FROM {s}.deliveries WHERE endpoint_id = %s AND state <> 'delivered'"
    ),
    "claim": (
        "SELECT " + _D_DELIVERY_COLUMNS + ", e.type, e.at_us, e.data, " + _W_ENDPOINT_COLUMNS + " "
        "FROM {s}.deliveries d "
        "JOIN {s}.events e ON e.org_id = d.org_id AND e.seq = d.seq "
        "JOIN {s}.webhooks w ON w.endpoint_id = d.endpoint_id "
        "WHERE d.state = 'pending' AND d.next_at_us <= %s AND d.lease_until_us <= %s "
        "AND w.enabled = 1 ORDER BY d.next_at_us, d.delivery_id LIMIT %s"
    ),
    "lease": (
        "UPDATE {s}.deliveries SET lease_owner = %s, lease_until_us = %s WHERE delivery_id = %s"
    ),
    "finish": (
        "UPDATE {s}.deliveries SET state = %s, attempts = attempts + 1, next_at_us = %s, "
        "lease_owner = NULL, lease_until_us = 0, last_status = %s, last_error = %s, "
        "delivered_at_us = COALESCE(%s, delivered_at_us) "
        "WHERE delivery_id = %s AND (lease_owner = %s OR (%s AND state <> 'delivered'))"
    ),
    "delivery": "SELECT " + _DELIVERY_COLUMNS + " FROM {s}.deliveries WHERE delivery_id = %s",  # noqa: S608 - fixed names
    "redeliver": (
        "UPDATE {s}.deliveries SET state = 'pending', next_at_us = %s, window_us = %s, "
        "lease_owner = NULL, lease_until_us = 0 "
        "WHERE delivery_id = %s AND (state <> 'pending' OR lease_until_us <= %s)"
    ),
    "stats": ("SELECT COUNT(*), MIN(created_at_us) FROM {s}.deliveries WHERE state = 'pending'"),
    "set_due": (
        "INSERT INTO {s}.sweep_due (org_id, due_us) VALUES (%s, %s) "
        "ON CONFLICT (org_id) DO UPDATE SET due_us = excluded.due_us"
    ),
    "drop_due": "DELETE FROM {s}.sweep_due WHERE org_id = %s",
    "claim_sweep": (
        "SELECT org_id FROM {s}.sweep_due WHERE due_us <= %s ORDER BY due_us, org_id LIMIT %s"
    ),
    "push_due": "UPDATE {s}.sweep_due SET due_us = %s WHERE org_id = %s",
    "sweep_due": "SELECT due_us FROM {s}.sweep_due WHERE org_id = %s",
}

#: ``deliveries(org_id, state)``: the filters, in this order.
_LIST_DELIVERIES: dict[tuple[bool, bool], LiteralString] = {
    (org, state): (
        "SELECT "  # noqa: S608 - fixed names
        + _DELIVERY_COLUMNS
        + " FROM {s}.deliveries"
        + (" WHERE" if org or state else "")
        + (" org_id = %s" if org else "")
        + (" AND" if org and state else "")
        + (" state = %s" if state else "")
        + " ORDER BY created_at_us, delivery_id LIMIT %s OFFSET %s"
    )
    for org in (False, True)
    for state in (False, True)
}
for (_org, _state), _text in _LIST_DELIVERIES.items():
    STATEMENTS[f"deliveries_{int(_org)}{int(_state)}"] = _text


def _endpoint(row: Sequence[Any]) -> EndpointRow:
    return EndpointRow(*row)


def _delivery(row: Sequence[Any]) -> DeliveryRow:
    return DeliveryRow(*row)


#: An event's columns: org_id, seq, event_id, type, at_us, data.
_EventColumns = tuple[str, int, str, str, int, str]


def _new_delivery_values(event: _EventColumns, endpoint_id: str) -> tuple[Any, ...]:
    """A new delivery's columns, of an event's columns."""
    org_id, seq, event_id_, _, at_us, _ = event
    return (
        delivery_id(event_id_, endpoint_id),
        event_id_,
        org_id,
        seq,
        endpoint_id,
        DeliveryState.PENDING.value,
        0,
        at_us,
        at_us,
        None,
        0,
        None,
        None,
        at_us,
        None,
    )


#: What SQLite's write lock of an organization also reads (see the module docstring), in
#: this order: its latest event ``seq`` (NULL: none), its sweep due instant (NULL: not in
#: the index), and whether an enabled endpoint of the organization or the vendor exists.
#: ``?1`` is the organization id.
SQLITE_LOCK_FACTS = (
    "(SELECT MAX(seq) FROM events WHERE org_id = ?1), "
    "(SELECT due_us FROM sweep_due WHERE org_id = ?1), "
    "EXISTS (SELECT 1 FROM webhooks WHERE scope IN (?1, '') AND enabled = 1)"
)


@attrs.define
class OutboxFacts:
    """What a write transaction knows of an organization's outbox, kept current by its writes.

    Attributes:
        last_seq: its latest event ``seq`` (0: none).
        due_us: when it is due for a sweep (None: not in the index).
        subscribed: False when no enabled endpoint can receive its events (the
            webhooks table need not be read); True means read it.
    """

    last_seq: int
    due_us: int | None
    subscribed: bool

    @classmethod
    def of(cls, row: Sequence[Any]) -> OutboxFacts:
        """The facts :data:`SQLITE_LOCK_FACTS` read, from its three columns."""
        last_seq, due_us, subscribed = row
        return cls(int(last_seq or 0), due_us, bool(subscribed))


class SQLEventsTx(EventsTx):
    """The events-out methods over one SQL connection; a dialect runs the statements."""

    #: Whether claims lock with ``FOR UPDATE … SKIP LOCKED``.
    _skip_locked = False
    #: The outbox facts of the organizations this transaction locked (None: it keeps none,
    #: and reads them when it writes); a dialect whose lock reads them sets a dict.
    _facts: dict[str, OutboxFacts] | None = None

    @abc.abstractmethod
    def _ev_rows(self, name: str, params: Sequence[Any], suffix: LiteralString = "") -> list[Any]:
        """Run statement ``name`` (plus ``suffix``) and fetch every row."""

    @abc.abstractmethod
    def _ev_run(self, name: str, params: Sequence[Any]) -> int:
        """Run statement ``name``; the number of rows it changed."""

    @abc.abstractmethod
    def _ev_many(self, name: str, params: Iterable[Sequence[Any]]) -> None:
        """Run statement ``name`` once per parameter tuple."""

    def _known(self, org_id: str) -> OutboxFacts | None:
        return None if self._facts is None else self._facts.get(org_id)

    def _forget_subscriptions(self) -> None:
        """An endpoint changed in this transaction: read the webhooks table from now on."""
        for facts in (self._facts or {}).values():
            facts.subscribed = True

    # -- the outbox
    def append_events(self, org_id: str, drafts: Sequence[EventDraft]) -> list[Event]:
        return [event_from_row(*row) for row in self._write_events(org_id, drafts)]

    def store_events(self, org_id: str, drafts: Sequence[EventDraft]) -> None:
        self._write_events(org_id, drafts)

    def _write_events(self, org_id: str, drafts: Sequence[EventDraft]) -> list[_EventColumns]:
        """Insert the events of ``drafts`` and their deliveries; the events' rows, by seq."""
        if not drafts:
            return []
        known = self._known(org_id)
        last = int(self._ev_rows("last_seq", (org_id,))[0][0]) if known is None else known.last_seq
        endpoints = []
        if known is None or known.subscribed:
            endpoints = [_endpoint(r) for r in self._ev_rows("endpoints_for", (org_id,))]
        event_rows: list[_EventColumns] = []
        delivery_rows: list[tuple[Any, ...]] = []
        for n, draft in enumerate(drafts, start=1):
            seq = last + n
            at_us = to_us(draft.at)
            row = (org_id, seq, event_id(org_id, seq), draft.type, at_us, event_data(draft))
            event_rows.append(row)
            delivery_rows.extend(
                _new_delivery_values(row, endpoint.endpoint_id)
                for endpoint in endpoints
                if endpoint.receives(draft.type)
            )
        self._ev_many("insert_event", event_rows)
        if delivery_rows:
            self._ev_many("insert_delivery", delivery_rows)
        if known is not None:
            known.last_seq = last + len(drafts)
        return event_rows

    def events_after(
        self, org_id: str, after_seq: int | None = None, limit: int | None = None
    ) -> list[Event]:
        rows = self._ev_rows(
            "events_after",
            (org_id, -1 if after_seq is None else after_seq, NO_LIMIT if limit is None else limit),
        )
        return [event_from_row(*row) for row in rows]

    def last_event_seq(self, org_id: str) -> int:
        return int(self._ev_rows("last_seq", (org_id,))[0][0])

    # -- endpoints
    def _url_taken(self, row: EndpointRow) -> bool:
        return bool(self._ev_rows("url_taken", (row.scope, row.url, row.endpoint_id)))

    def insert_endpoint(self, row: EndpointRow) -> bool:
        if self._url_taken(row):
            return False
        self._forget_subscriptions()
        values = tuple(getattr(row, c) for c in EVENT_EXPORT_COLUMNS["webhooks"])
        return self._ev_run("insert_endpoint", values) == 1

    def endpoint_row(self, endpoint_id: str) -> EndpointRow | None:
        rows = self._ev_rows("endpoint", (endpoint_id,))
        return _endpoint(rows[0]) if rows else None

    def endpoint_rows(self, scope: str | None = None) -> list[EndpointRow]:
        if scope is None:
            rows = self._ev_rows("endpoints_all", ())
        else:
            rows = self._ev_rows("endpoints_scope", (scope,))
        return [_endpoint(r) for r in rows]

    def update_endpoint(self, row: EndpointRow) -> bool:
        if self._url_taken(row):
            return False
        self._forget_subscriptions()
        changed = self._ev_run(
            "update_endpoint",
            (
                row.url,
                row.types,
                row.enabled,
                row.allow_http,
                row.allow_private,
                row.secret,
                row.previous_secret,
                row.previous_until_us,
                row.endpoint_id,
            ),
        )
        return changed == 1

    def delete_endpoint(self, endpoint_id: str) -> bool:
        self._forget_subscriptions()
        if self._ev_run("delete_endpoint", (endpoint_id,)) != 1:
            return False
        self._ev_run("delete_endpoint_deliveries", (endpoint_id,))
        return True

    # -- deliveries
    def claim_deliveries(self, now_us: int, limit: int, owner: str, lease_us: int) -> list[Claim]:
        if limit <= 0:
            return []
        rows = self._ev_rows(
            "claim", (now_us, now_us, limit), _SKIP_LOCKED_D if self._skip_locked else ""
        )
        if not rows:
            return []
        until = now_us + lease_us
        self._ev_many("lease", [(owner, until, row[0]) for row in rows])
        claims = []
        for row in rows:
            leased = attrs.evolve(
                _delivery(row[:_N_DELIVERY]), lease_owner=owner, lease_until_us=until
            )
            type_, at_us, data = row[_N_DELIVERY : _N_DELIVERY + 3]
            event = event_from_row(leased.org_id, leased.seq, leased.event_id, type_, at_us, data)
            endpoint = _endpoint(row[_N_DELIVERY + 3 : _N_DELIVERY + 3 + _N_ENDPOINT])
            claims.append(Claim(leased, event, endpoint))
        return claims

    def finish_delivery(self, delivery_id: str, owner: str, outcome: Outcome) -> bool:
        delivered = outcome.state == DeliveryState.DELIVERED
        changed = self._ev_run(
            "finish",
            (
                outcome.state.value,
                outcome.next_at_us if outcome.state == DeliveryState.PENDING else None,
                outcome.status,
                None if delivered else outcome.error,
                outcome.at_us if delivered else None,
                delivery_id,
                owner,
                delivered,
            ),
        )
        return changed == 1

    def delivery_row(self, delivery_id: str) -> DeliveryRow | None:
        rows = self._ev_rows("delivery", (delivery_id,))
        return _delivery(rows[0]) if rows else None

    def deliveries(
        self,
        org_id: str | None = None,
        state: DeliveryState | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Delivery]:
        params: list[Any] = []
        if org_id is not None:
            params.append(org_id)
        if state is not None:
            params.append(DeliveryState(state).value)
        params += [NO_LIMIT if limit is None else limit, offset]
        name = f"deliveries_{int(org_id is not None)}{int(state is not None)}"
        return [_delivery(r).delivery() for r in self._ev_rows(name, params)]

    def redeliver(self, delivery_id: str, now_us: int) -> DeliveryRow | None:
        self._ev_run("redeliver", (now_us, now_us, delivery_id, now_us))
        return self.delivery_row(delivery_id)

    def outbox_stats(self) -> OutboxStats:
        count, oldest = self._ev_rows("stats", ())[0]
        return OutboxStats(int(count), None if oldest is None else from_us(int(oldest)))

    # -- the sweep index
    def set_sweep_due(self, org_id: str, due_us: int | None) -> None:
        known = self._known(org_id)
        if known is not None and known.due_us == due_us:
            return  # already so: nothing to write
        if due_us is None:
            self._ev_run("drop_due", (org_id,))
        else:
            self._ev_run("set_due", (org_id, due_us))
        if known is not None:
            known.due_us = due_us

    def claim_sweep(self, now_us: int, limit: int, lease_us: int) -> list[str]:
        if limit <= 0:
            return []
        rows = self._ev_rows(
            "claim_sweep", (now_us, limit), _SKIP_LOCKED if self._skip_locked else ""
        )
        orgs = [str(r[0]) for r in rows]
        self._ev_many("push_due", [(now_us + lease_us, org_id) for org_id in orgs])
        if self._facts is not None:  # their due instants moved: read them again if asked
            for org_id in orgs:
                self._facts.pop(org_id, None)
        return orgs

    def sweep_due(self, org_id: str) -> int | None:
        rows = self._ev_rows("sweep_due", (org_id,))
        return int(rows[0][0]) if rows else None


# -- SQLite -----------------------------------------------------------------------------------

_SQLITE_STATEMENTS = {
    name: text.replace("{s}.", "").replace("%s", "?") for name, text in STATEMENTS.items()
}


class SQLiteEventsTx(SQLEventsTx):
    """The events-out methods of an SQLite transaction (the host provides ``conn``).

    The host's transaction translates ``sqlite3`` errors (busy → ``RetryableConflict``).
    """

    @property
    @abc.abstractmethod
    def conn(self) -> sqlite3.Connection:
        """The connection of the host transaction."""

    def _ev_rows(self, name: str, params: Sequence[Any], suffix: LiteralString = "") -> list[Any]:
        return self.conn.execute(_SQLITE_STATEMENTS[name] + suffix, tuple(params)).fetchall()

    def _ev_run(self, name: str, params: Sequence[Any]) -> int:
        return self.conn.execute(_SQLITE_STATEMENTS[name], tuple(params)).rowcount

    def _ev_many(self, name: str, params: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(p) for p in params]
        if len(rows) == 1:  # a command's one event: execute() costs less than executemany()
            self.conn.execute(_SQLITE_STATEMENTS[name], rows[0])
        else:
            self.conn.executemany(_SQLITE_STATEMENTS[name], rows)
