"""Schema step 6: events are keyed by ``(org_id, seq)`` alone (SPEC §7, issue 14's (a)).

A store of schema 5 has a unique index on ``events.event_id`` besides the key, and on
SQLite a rowid table with the key as a second b-tree. Opening it with today's code
drops that index (SQLite rebuilds the table clustered by the key); every stored event
keeps its id, type, instant and data, and the next command numbers its event after
them. A new store has the same shape as an upgraded one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from _support import START
from axis_licensing import EXAMPLE_CATALOG, Event, Manager, ManualClock
from axis_licensing.backends.postgresql import SCHEMA_VERSION as PG_VERSION
from axis_licensing.backends.postgresql import parse_url
from axis_licensing.backends.sqlite import SCHEMA_VERSION as SQLITE_VERSION
from axis_licensing.events._sql import SQLITE_MIGRATION
from axis_licensing.events.model import event_id

#: The events table as schema 5 created it on SQLite (from step 4's DDL).
_V5_EVENTS = next(s for s in SQLITE_MIGRATION if s.startswith("CREATE TABLE events"))


def _record(url: str) -> list[Event]:
    """Write a few commands' events to a new store at ``url``; its events, by seq."""
    with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        m.create_organization("acme", name="Acme", actor="ops")
        m.register_system("acme", "acs-pro", "sys-1", devices={"core": 2}, actor="ops")
        m.create_organization("zeta", name="Zeta", actor="ops")
        return m.events("acme")


def _continue(url: str) -> tuple[list[Event], list[Event]]:
    """Open the store, add one event to ``acme``; its events and ``zeta``'s."""
    with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        m.register_system("acme", "acs-pro", "sys-2", devices={"core": 1}, actor="ops")
        return m.events("acme"), m.events("zeta")


def _check_continued(before: list[Event], after: list[Event], zeta: list[Event]) -> None:
    assert after[: len(before)] == before  # ids, types, instants and data kept
    assert [e.seq for e in after] == list(range(1, len(before) + 2))
    new = after[-1]
    assert new.id == event_id("acme", len(before) + 1)
    assert new.type == "system_registered"
    assert new.data == {"devices": {"core": 1}}
    assert [(e.seq, e.id, e.type) for e in zeta] == [
        (1, event_id("zeta", 1), "organization_created")
    ]


def _sqlite_shape(path: Path) -> tuple[int, str, list[str]]:
    with sqlite3.connect(path) as conn:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        (ddl,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()
        indexes = [str(row[1]) for row in conn.execute("PRAGMA index_list(events)")]
    return version, str(ddl), indexes


def test_sqlite_store_of_schema_5_upgrades_and_keeps_its_events(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    url = f"sqlite:///{path}"
    before = _record(url)
    assert [e.type for e in before] == ["organization_created", "system_registered"]
    # Put the events table back as schema 5 had it.
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE events RENAME TO events_now")
        conn.execute(_V5_EVENTS)
        conn.execute("INSERT INTO events SELECT * FROM events_now")
        conn.execute("DROP TABLE events_now")
        conn.execute("PRAGMA user_version = 5")
    version, ddl, indexes = _sqlite_shape(path)
    assert (version, "UNIQUE" in ddl, len(indexes)) == (5, True, 2)

    after, zeta = _continue(url)

    _check_continued(before, after, zeta)
    version, ddl, indexes = _sqlite_shape(path)
    assert version == SQLITE_VERSION == 6
    assert "WITHOUT ROWID" in ddl
    assert "UNIQUE" not in ddl
    assert indexes == ["sqlite_autoindex_events_1"]  # the key, which is the table


def test_a_new_sqlite_store_has_the_upgraded_shape(tmp_path: Path) -> None:
    _record(f"sqlite:///{tmp_path / 'new.db'}")
    version, ddl, indexes = _sqlite_shape(tmp_path / "new.db")
    assert version == 6
    assert "WITHOUT ROWID" in ddl
    assert indexes == ["sqlite_autoindex_events_1"]


def _pg(url: str) -> tuple[psycopg.Connection[Any], str]:
    """An autocommit connection to the server of ``url``, and the store's schema."""
    settings = parse_url(url)
    return psycopg.connect(settings.conninfo, autocommit=True), settings.schema


def _pg_shape(url: str) -> tuple[int, list[str]]:
    """The stored schema version and the events table's indexes."""
    conn, schema = _pg(url)
    with conn:
        row = conn.execute(
            sql.SQL("SELECT version FROM {}").format(sql.Identifier(schema, "schema_version"))
        ).fetchone()
        indexes = [
            str(index)
            for (index,) in conn.execute(
                "SELECT indexname FROM pg_catalog.pg_indexes "
                "WHERE schemaname = %s AND tablename = 'events' ORDER BY indexname",
                (schema,),
            )
        ]
    assert row is not None
    return int(row[0]), indexes


def test_postgresql_store_of_schema_5_upgrades_and_keeps_its_events(postgres_url: str) -> None:
    before = _record(postgres_url)
    conn, schema = _pg(postgres_url)
    with conn:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT events_event_id_key UNIQUE (event_id)").format(
                sql.Identifier(schema, "events")
            )
        )
        conn.execute(
            sql.SQL("UPDATE {} SET version = 5").format(sql.Identifier(schema, "schema_version"))
        )
    assert _pg_shape(postgres_url) == (5, ["events_event_id_key", "events_pkey"])

    after, zeta = _continue(postgres_url)

    _check_continued(before, after, zeta)
    assert _pg_shape(postgres_url) == (PG_VERSION, ["events_pkey"])
    assert PG_VERSION == 6


def test_a_new_postgresql_store_has_the_upgraded_shape(postgres_url: str) -> None:
    _record(postgres_url)
    assert _pg_shape(postgres_url) == (6, ["events_pkey"])
