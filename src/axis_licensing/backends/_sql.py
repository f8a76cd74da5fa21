"""The SQL the SQLite and PostgreSQL backends share, written once.

- :data:`TABLE_KEYS`: each table's key columns, the order rows are exported in;
- :data:`SHARED`: the statements both backends run with the same text. They are
  written for PostgreSQL (``%s`` placeholders, ``{s}.`` before each table for
  its schema); :func:`for_sqlite` gives SQLite's form (``?``, no schema);
- what both do alike around their own SQL: a part as at a past version
  (:func:`as_of`), the filters of a history query (:func:`history_filters`),
  and the columns ``migrate`` copies (:func:`export_columns`, :func:`sql_column`).

What differs stays in each backend: PostgreSQL's one-statement ``append`` and
``FOR UPDATE`` lock, SQLite's ``IN (?, …)`` lists and its activity ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, LiteralString, TypeVar

from axis_licensing.backends import EXPORT_COLUMNS, TABLES, HistoryQuery, PartRow
from axis_licensing.events.store import EVENT_ORDER
from axis_licensing.members._tables import MEMBER_ORDER

_T = TypeVar("_T")

__all__ = [
    "LOCK_WITH_CATALOG",
    "SHARED",
    "TABLE_KEYS",
    "as_of",
    "export_columns",
    "for_sqlite",
    "history_filters",
    "maybe_row",
    "sql_column",
]

#: Each table's key columns, in the order its rows are exported (``Backend.export_rows``).
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "meta": ("name",),
    "catalogs": ("version",),
    "orgs": ("org_id",),
    "versions": ("org_id", "seq"),
    "parts": ("org_id", "part"),
    "part_history": ("org_id", "part", "seq"),
    "states": ("org_id", "seq"),
    "activities": ("org_id", "id"),
    "systems": ("system_id",),
    "shipments": ("serial",),
    "keys": ("key_hash",),
    "requests": ("scope", "request_id"),
    **EVENT_ORDER,  # events out (SPEC §7)
    **MEMBER_ORDER,  # members (SPEC §8)
}

#: The head of an organization with the store's latest catalog version, in one round trip
#: (``Head.catalog_version``); PostgreSQL adds ``FOR UPDATE`` to lock the row.
LOCK_WITH_CATALOG: LiteralString = (
    "SELECT head, at_us, (SELECT MAX(version) FROM {s}.catalogs) FROM {s}.orgs WHERE org_id = %s"
)

#: The statements both backends run with the same text (PostgreSQL's spelling).
SHARED: dict[str, LiteralString] = {
    "head": "SELECT head, at_us FROM {s}.orgs WHERE org_id = %s",
    "seq_at": (
        "SELECT seq FROM {s}.versions WHERE org_id = %s AND at_us <= %s "
        "ORDER BY at_us DESC, seq DESC LIMIT 1"
    ),
    "part_before": (
        "SELECT seq, at_us, value FROM {s}.part_history WHERE org_id = %s AND part = %s "
        "AND seq <= %s ORDER BY seq DESC LIMIT 1"
    ),
    "legacy_orgs": "SELECT DISTINCT org_id FROM {s}.states ORDER BY org_id",
    "legacy_states": "SELECT seq, at_us, state FROM {s}.states WHERE org_id = %s ORDER BY seq",
    "drop_legacy": "DELETE FROM {s}.states WHERE org_id = %s",
    "key": (
        "SELECT key_hash, product, kind, quantities, tail, issued_at_us, redeemed_by, "
        "redeemed_at_us FROM {s}.keys WHERE key_hash = %s"
    ),
    "shipment": (
        "SELECT serial, product, preloaded, shipped_at_us, org_id FROM {s}.shipments "
        "WHERE serial = %s"
    ),
    "system_owner": "SELECT org_id FROM {s}.systems WHERE system_id = %s",
    "request": (
        "SELECT scope, request_id, fingerprint, result FROM {s}.requests "
        "WHERE scope = %s AND request_id = %s"
    ),
    "meta": "SELECT value FROM {s}.meta WHERE name = %s",
    "create_org": (
        "INSERT INTO {s}.orgs (org_id, head, at_us) VALUES (%s, 0, 0) ON CONFLICT DO NOTHING"
    ),
    "claim_system": (
        "INSERT INTO {s}.systems (system_id, org_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"
    ),
    "claim_hardware": "UPDATE {s}.shipments SET org_id = %s WHERE serial = %s AND org_id IS NULL",
    "insert_key": (
        "INSERT INTO {s}.keys (key_hash, product, kind, quantities, tail, issued_at_us) "
        "VALUES (%s, %s, %s, %s, %s, %s)"
    ),
    "redeem_key": (
        "UPDATE {s}.keys SET redeemed_by = %s, redeemed_at_us = %s "
        "WHERE key_hash = %s AND redeemed_by IS NULL"
    ),
    "insert_shipment": (
        "INSERT INTO {s}.shipments (serial, product, preloaded, shipped_at_us) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
    ),
    "put_request": (
        "INSERT INTO {s}.requests (scope, request_id, fingerprint, result) VALUES (%s, %s, %s, %s)"
    ),
    "insert_meta": "INSERT INTO {s}.meta (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING",
    "catalogs": (
        "SELECT version, effective_at_us, catalog FROM {s}.catalogs WHERE version > %s "
        "ORDER BY version"
    ),
    "org_ids": "SELECT org_id FROM {s}.orgs ORDER BY org_id LIMIT %s OFFSET %s",
    "latest_version_at": "SELECT MAX(at_us) FROM {s}.orgs WHERE head > 0",
    "insert_catalog": (
        "INSERT INTO {s}.catalogs (version, effective_at_us, catalog) VALUES (%s, %s, %s) "
        "ON CONFLICT DO NOTHING"
    ),
}


def for_sqlite(text: str) -> str:
    """A shared statement in SQLite's spelling: ``?`` placeholders and no schema.

    Args:
        text: a statement of :data:`SHARED`.

    Returns:
        The same statement for sqlite3.
    """
    return text.replace("{s}.", "").replace("%s", "?")


def as_of(
    org_id: str,
    rows: Iterable[Sequence[Any]],
    seq: int | None,
    part_before: Callable[[str, int], Sequence[Any] | None],
) -> list[PartRow]:
    """Each part's latest row as it was at version ``seq``: itself, or the version it replaced.

    Args:
        org_id: the organization.
        rows: ``(part, seq, at_us, value)`` of each part's latest version, by name.
        seq: the version (None: the head, the rows as they are).
        part_before: ``(part, seq)`` to the ``(seq, at_us, value)`` of that part's
            latest replaced version ``<= seq`` (the ``part_before`` statement), or None.

    Returns:
        The parts as at ``seq``; a part not written by then is left out.
    """
    found: list[PartRow] = []
    for name, row_seq, at_us, value in rows:
        if seq is not None and row_seq > seq:
            older = part_before(name, seq)
            if older is None:
                continue
            row_seq, at_us, value = older
        found.append(PartRow(org_id, name, row_seq, at_us, value))
    return found


def history_filters(query: HistoryQuery) -> list[tuple[str, str, Any]]:
    """The ``(column, operator, value)`` of each filter ``query`` sets, but its actions.

    Both backends add ``org_id`` first and the actions last, each in its own SQL.
    """
    return [
        (column, op, value)
        for column, op, value in (
            ("product", "=", query.product),
            ("actor", "=", query.actor),
            ("at_us", ">=", query.since_us),
            ("at_us", "<=", query.until_us),
            ("on_date", ">=", query.since_on),
            ("on_date", "<=", query.until_on),
        )
        if value is not None
    ]


def export_columns(table: str) -> tuple[str, ...]:
    """The exported row format of ``table`` (:data:`~axis_licensing.backends.EXPORT_COLUMNS`).

    Raises:
        ValueError: ``table`` is not one of :data:`~axis_licensing.backends.TABLES`.
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    return EXPORT_COLUMNS[table]


def sql_column(table: str, column: str) -> str:
    """The stored column of ``column`` of the exported row format of ``table``."""
    return "on_date" if (table, column) == ("activities", "on") else column


def maybe_row(make: Callable[..., _T], row: Sequence[Any] | None) -> _T | None:
    """``make(*row)`` for a fetched row, None when the query found none."""
    return None if row is None else make(*row)
