"""Where (a)'s floor lies: ``python -m bench.floor_a [--quick]``.

Not a benchmark with a target: three measurements that bound what (a)
(:mod:`bench.sqlite_alloc`) can reach, each against the same bare ``sqlite3``
baseline, alternated, on files in one temporary directory (WAL,
``synchronous=FULL``):

1. **Our statements alone.** The nine statements one ``Manager.allocate``
   runs (read off its connection), replayed with their parameters by bare
   ``sqlite3``: the cost of the stored format with no Python of ours.
2. **A journal layout.** The least a format could write that keeps a version
   history: the head, the part, and one journal row per version holding the
   old part, the activity and the event (three b-trees). A bound for a
   storage redesign, not a proposal: every query reads those tables.
3. **Work between commits.** The baseline again, with a busy wait between
   its commands: how much dearer its own commit gets when each command spends
   that long in Python first (the disk's ``fsync`` here costs more after a
   longer pause).
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._common import (
    PRODUCT,
    Settings,
    compare,
    open_manager,
    print_table,
    run_alone,
    setup_org,
)
from bench.sqlite_alloc import BareSQLite

__all__ = ["run"]

_ORG = "org"
_PART = f"org.product:{PRODUCT}"
_DETAILS = (
    '{"lots":[{"license_type":"core","lot_id":1,"quantity":1}],"periods":[{"offset":0,'
    '"period":{"end":"2027-01-01","index":0,"start":"2026-01-01"},"quantities":{"core":1}}],'
    '"quantities":{"core":1}}'
)
_LOCK = (
    "SELECT head, at_us, (SELECT MAX(version) FROM catalogs), "
    "(SELECT MAX(seq) FROM events WHERE org_id = ?), "
    "(SELECT due_us FROM sweep_due WHERE org_id = ?), "
    "EXISTS (SELECT 1 FROM webhooks WHERE scope IN (?, '') AND enabled = 1) "
    "FROM orgs WHERE org_id = ?"
)


class _Ours:
    """Our nine statements of one allocation, on a store the Manager made, by bare sqlite3."""

    def __init__(self, path: Path, ledger: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.execute("PRAGMA synchronous = FULL")
        self._ledger = ledger
        (self._seq,) = self._conn.execute(
            "SELECT head FROM orgs WHERE org_id = ?", (_ORG,)
        ).fetchone()
        (self._event,) = self._conn.execute("SELECT MAX(seq) FROM events").fetchone()

    def command(self) -> None:
        """Lock, write the head, version, old part, part, activity and event, commit."""
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        c.execute(_LOCK, (_ORG, _ORG, _ORG, _ORG)).fetchone()
        self._seq += 1
        self._event += 1
        seq, at = self._seq, 1_767_268_800_000_000 + self._seq
        c.execute(
            "UPDATE orgs SET head = ?, at_us = ? WHERE org_id = ? AND head < ?",
            (seq, at, _ORG, seq),
        )
        c.execute("INSERT INTO versions (org_id, at_us, seq) VALUES (?, ?, ?)", (_ORG, at, seq))
        c.execute(
            "INSERT INTO part_history (org_id, part, seq, at_us, value) "
            "SELECT org_id, part, seq, at_us, value FROM parts WHERE org_id = ? AND part = ?",
            (_ORG, _PART),
        )
        c.execute(
            "INSERT INTO parts (org_id, part, seq, at_us, value) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (org_id, part) DO UPDATE SET "
            "seq = excluded.seq, at_us = excluded.at_us, value = excluded.value",
            (_ORG, _PART, seq, at, self._ledger),
        )
        c.execute(
            "INSERT INTO activities (id, org_id, at_us, on_date, actor, action, product, "
            "system_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq << 20,
                _ORG,
                at,
                "2026-01-01",
                "bench",
                "licenses_allocated",
                PRODUCT,
                None,
                _DETAILS,
            ),
        )
        c.execute(
            "INSERT INTO events (org_id, seq, event_id, type, at_us, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (_ORG, self._event, f"evt_{seq:032x}", "licenses_allocated", at, _DETAILS),
        )
        c.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class _Journal:
    """A three-b-tree layout: the head, the part, one journal row per version."""

    def __init__(self, path: Path, ledger: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        c = self._conn
        c.execute("PRAGMA journal_mode = WAL")
        c.execute("PRAGMA synchronous = FULL")
        c.execute("CREATE TABLE orgs (org_id TEXT PRIMARY KEY, head INTEGER, at_us INTEGER)")
        c.execute(
            "CREATE TABLE parts (org_id TEXT, part TEXT, seq INTEGER, value TEXT, "
            "PRIMARY KEY (org_id, part)) WITHOUT ROWID"
        )
        c.execute(
            "CREATE TABLE journal (org_id TEXT, seq INTEGER, at_us INTEGER, body TEXT, "
            "PRIMARY KEY (org_id, seq)) WITHOUT ROWID"
        )
        c.execute("INSERT INTO orgs VALUES (?, 1, 0)", (_ORG,))
        c.execute("INSERT INTO parts VALUES (?, ?, 1, ?)", (_ORG, _PART, ledger))
        self._ledger = ledger
        self._seq = 1

    def command(self) -> None:
        """Lock, write the head, the part and one journal row, commit."""
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        c.execute("SELECT head, at_us FROM orgs WHERE org_id = ?", (_ORG,)).fetchone()
        self._seq += 1
        seq, at = self._seq, 1_767_268_800_000_000 + self._seq
        c.execute("UPDATE orgs SET head = ?, at_us = ? WHERE org_id = ?", (seq, at, _ORG))
        c.execute("UPDATE parts SET seq = ?, value = ? WHERE org_id = ? AND part = ?",
                  (seq, self._ledger, _ORG, _PART))  # fmt: skip
        body = f'{{"old":{self._ledger},"activity":{_DETAILS},"event":{_DETAILS}}}'
        c.execute("INSERT INTO journal VALUES (?, ?, ?, ?)", (_ORG, seq, at, body))
        c.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _busy(seconds: float, command: Callable[[], None]) -> Callable[[], None]:
    """``command`` after a busy wait of ``seconds`` (work done before the commit)."""

    def run() -> None:
        until = time.perf_counter() + seconds
        while time.perf_counter() < until:
            pass
        command()

    return run


def run(settings: Settings) -> None:
    """Measure and print the three tables."""
    with tempfile.TemporaryDirectory(prefix="axis-floor-") as tmp:
        path = Path(tmp) / "ours.db"
        with open_manager(f"sqlite:///{path}") as m:
            setup_org(m, _ORG)
            m.allocate(_ORG, PRODUCT, {"core": 1}, actor="bench")
            with m.backend.read() as tx:
                (ledger,) = tx.parts_prefixed(_ORG, "org.product:")
        # the ledger is JSON: the journal row nests it as a value
        bare = BareSQLite(Path(tmp) / "bare.db", ledger.value)
        ours = _Ours(path, ledger.value)
        journal = _Journal(Path(tmp) / "journal.db", ledger.value)
        try:
            rows: list[tuple[str, str]] = []
            for label, side in (("our statements alone", ours), ("a journal layout", journal)):
                base, measured = compare(
                    bare.command, side.command, calls=settings.batch, settings=settings, label=label
                )
                rows += [
                    (f"{label}: per command", f"{1e3 / measured:.3f} ms"),
                    (f"{label}: baseline", f"{1e3 / base:.3f} ms"),
                    (f"{label}: ratio", f"{base / measured:.2f}"),
                ]
            for pause_ms in (0.25, 0.5, 1.0):
                base, paused = compare(
                    bare.command,
                    _busy(pause_ms / 1e3, bare.command),
                    calls=settings.batch,
                    settings=settings,
                    label=f"baseline after {pause_ms} ms",
                )
                commit = 1e3 / paused - pause_ms
                rows.append(
                    (
                        f"baseline's command after {pause_ms} ms of work",
                        f"{commit:.3f} ms (alone {1e3 / base:.3f})",
                    )
                )
        finally:
            bare.close()
            ours.close()
            journal.close()
    print_table(
        f"(a)'s floors on SQLite (WAL, synchronous=FULL); median of "
        f"{settings.repetitions} x {settings.batch}",
        rows,
        [],
    )


if __name__ == "__main__":
    run_alone(run, "python -m bench.floor_a")
