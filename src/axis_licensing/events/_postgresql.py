"""Events out on PostgreSQL: the statements of :mod:`axis_licensing.events._sql`, with
claims that lock ``FOR UPDATE … SKIP LOCKED``, and psycopg errors translated.

psycopg errors never leave raw: a serialization failure, deadlock, lock timeout
or a unique violation on one of our tables (a concurrent twin won the race)
becomes :class:`~axis_licensing.backends.RetryableConflict`, anything else
:class:`~axis_licensing.errors.StorageError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, LiteralString

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import TupleRow

from axis_licensing.backends import RetryableConflict
from axis_licensing.errors import StorageError
from axis_licensing.events._sql import STATEMENTS, SQLEventsTx

__all__ = ["PostgreSQLEventsTx"]

#: Tables where a unique violation means a concurrent twin won the race.
_RACE_TABLES = frozenset({"events", "deliveries", "webhooks", "sweep_due"})


class PostgreSQLEventsTx(SQLEventsTx):
    """The events-out methods of a PostgreSQL transaction.

    The host provides ``conn`` (a psycopg connection inside the transaction)
    and ``_s`` (the schema, a :class:`psycopg.sql.Identifier`).
    """

    _skip_locked = True
    conn: psycopg.Connection[TupleRow]
    _s: sql.Identifier

    def _statement(self, name: str, suffix: LiteralString = "") -> sql.Composed:
        return sql.SQL(STATEMENTS[name] + suffix).format(s=self._s)

    @staticmethod
    def _translate(exc: psycopg.Error) -> Exception:
        if isinstance(
            exc,
            pg_errors.SerializationFailure
            | pg_errors.DeadlockDetected
            | pg_errors.LockNotAvailable,
        ):
            return RetryableConflict(f"PostgreSQL: {exc}")
        if isinstance(exc, pg_errors.UniqueViolation) and exc.diag.table_name in _RACE_TABLES:
            return RetryableConflict(f"a concurrent transaction won the race: {exc}")
        return StorageError(f"PostgreSQL failed: {exc}")

    def _ev_rows(self, name: str, params: Sequence[Any], suffix: LiteralString = "") -> list[Any]:
        try:
            return list(self.conn.execute(self._statement(name, suffix), tuple(params)).fetchall())
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    def _ev_run(self, name: str, params: Sequence[Any]) -> int:
        try:
            return int(self.conn.execute(self._statement(name), tuple(params)).rowcount)
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    def _ev_many(self, name: str, params: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(p) for p in params]
        if not rows:
            return
        try:
            with self.conn.cursor() as cursor:
                cursor.executemany(self._statement(name), rows)
        except psycopg.Error as exc:
            raise self._translate(exc) from exc
