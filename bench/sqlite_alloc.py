"""(a) ``Manager.allocate`` per second on SQLite against a bare ``sqlite3`` baseline.

The baseline does the least work any implementation must do per command, on
the same kind of file (WAL, ``synchronous=FULL``): ``BEGIN IMMEDIATE``, read one
state row, write it back with one history row, ``COMMIT``. Its state row is
the size of the product ledger part that an allocation rewrites (the largest
part of the Manager's state it writes), so both write about as many bytes. The two
are timed in alternating repetitions, so that load from other processes hits
both alike.

Below the ratio, the table says where the time goes: the WAL pages each commit
writes and syncs (one per b-tree a command changes, plus splits), and both
timed again with ``synchronous=OFF``, which leaves the work without the syncs.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from axis_licensing import Manager
from axis_licensing.backends.sqlite import SQLiteBackend
from bench._common import (
    PRODUCT,
    Ratio,
    Settings,
    compare,
    open_manager,
    print_table,
    setup_org,
    timed,
)

__all__ = ["BareSQLite", "run"]

TARGET = 1.5  # issue 14 (it was 3 before)


class BareSQLite:
    """The baseline: one state row per organization, rewritten with a history row per command."""

    def __init__(self, path: Path, state: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute(
            "CREATE TABLE states (org_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, "
            "state TEXT NOT NULL)"
        )
        self._conn.execute(
            "CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, org_id TEXT NOT NULL, "
            "at_us INTEGER NOT NULL, action TEXT NOT NULL, details TEXT NOT NULL)"
        )
        self._conn.execute("INSERT INTO states VALUES ('org', 1, ?)", (state,))
        self._details = json.dumps({"quantities": {"core": 1}})

    def command(self) -> None:
        """One command: lock, read the state, write it and one history row, commit."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        seq, state = conn.execute("SELECT seq, state FROM states WHERE org_id = 'org'").fetchone()
        conn.execute("UPDATE states SET seq = ?, state = ? WHERE org_id = 'org'", (seq + 1, state))
        conn.execute(
            "INSERT INTO history (org_id, at_us, action, details) VALUES ('org', ?, ?, ?)",
            (seq, "licenses_allocated", self._details),
        )
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _counted(conn: sqlite3.Connection, action: Callable[[], None]) -> int:
    """How many SQL statements ``action`` runs on ``conn`` (BEGIN and COMMIT included)."""
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        action()
    finally:
        conn.set_trace_callback(None)
    return len(seen)


def _statements(m: Manager, action: Callable[[], None]) -> int:
    """How many SQL statements one command of the Manager runs on its SQLite connection."""
    backend = m.backend
    assert isinstance(backend, SQLiteBackend)
    with backend.write() as tx:  # the connection every transaction of this thread uses
        conn = tx.conn  # type: ignore[attr-defined]
    return _counted(conn, action)


def _wal_pages(conn: sqlite3.Connection, wal: Path, action: Callable[[], None]) -> float:
    """WAL pages (frames) ``action`` writes per call: each is one page the commit syncs."""
    calls = 40  # few enough that no automatic checkpoint starts the WAL again
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for _ in range(calls):
        action()
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    return (wal.stat().st_size - 32) / (page_size + 24) / calls


def _synchronous(conns: Sequence[sqlite3.Connection], mode: str) -> None:
    for conn in conns:
        conn.execute(f"PRAGMA synchronous = {mode}")


def run(settings: Settings) -> list[Ratio]:
    """Measure, print the table, and return the ratio."""
    with (
        tempfile.TemporaryDirectory(prefix="axis-bench-") as tmp,
        open_manager(f"sqlite:///{Path(tmp) / 'ours.db'}") as m,
    ):
        setup_org(m, "org")

        def ours() -> None:
            m.allocate("org", PRODUCT, {"core": 1}, actor="bench")

        timed(ours, settings.warmup)
        ours_statements = _statements(m, ours)
        with m.backend.read() as tx:
            (ledger,) = tx.parts_prefixed("org", "org.product:")
        bare = BareSQLite(Path(tmp) / "bare.db", ledger.value)
        bare_statements = _counted(bare._conn, bare.command)
        with m.backend.write() as tx:
            conn = tx.conn  # type: ignore[attr-defined]
        try:
            rates = {}
            for sync in ("FULL", "OFF"):  # OFF: where the time goes without the syncs
                _synchronous([bare._conn, conn], sync)
                rates[sync] = compare(
                    bare.command,
                    ours,
                    calls=settings.batch,
                    settings=settings,
                    label=f"(a) Manager.allocate on SQLite, synchronous={sync}",
                )
                if sync == "FULL":  # the pages each commit syncs
                    bare_pages = _wal_pages(bare._conn, Path(tmp) / "bare.db-wal", bare.command)
                    ours_pages = _wal_pages(conn, Path(tmp) / "ours.db-wal", ours)
            _synchronous([bare._conn, conn], "FULL")
            (bare_rate, ours_rate), (bare_cpu, ours_cpu) = rates["FULL"], rates["OFF"]
        finally:
            bare.close()
    ratio = Ratio("ratio baseline/ours", bare_rate / ours_rate, TARGET)
    print_table(
        f"(a) allocations per second on SQLite (WAL, synchronous=FULL), one process; "
        f"median of {settings.repetitions} x {settings.batch}, state row {len(ledger.value)} bytes",
        [
            ("bare sqlite3 baseline", f"{bare_rate:,.0f} /s"),
            ("Manager.allocate", f"{ours_rate:,.0f} /s"),
            ("  per command: baseline", f"{1e3 / bare_rate:.3f} ms"),
            ("  per command: ours", f"{1e3 / ours_rate:.3f} ms"),
            ("  SQL statements per command: baseline", f"{bare_statements}"),
            ("  SQL statements per command: ours", f"{ours_statements}"),
            ("  WAL pages synced per command: baseline", f"{bare_pages:.2f}"),
            ("  WAL pages synced per command: ours", f"{ours_pages:.2f}"),
            ("  without the syncs (synchronous=OFF): baseline", f"{1e3 / bare_cpu:.3f} ms"),
            ("  without the syncs (synchronous=OFF): ours", f"{1e3 / ours_cpu:.3f} ms"),
        ],
        [ratio],
    )
    return [ratio]
