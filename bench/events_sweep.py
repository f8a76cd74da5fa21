"""(j) The sweep (SPEC §7): its cost follows the organizations that are due, not all.

Two SQLite stores hold the same 100 due organizations (each with a started
subscription, whose trial-ending alert the sweep records), among 1,000
organizations in one and 100,000 in the other (10,000 with ``--quick``). The
other organizations are real (a head, the ``org`` parts of a started product,
an activity, an index entry due in a year), copied from a template organization
in one write transaction through the backend's own methods, so building the big
store takes seconds, not the hours of running its commands.

A sweep is timed on each (three rounds; before each the 100 are made due again
and their recorded alerts forgotten, so every round does the same work). Target:
the big store's sweep costs at most 2x the small one's.

Run alone with ``python -m bench.events_sweep [--quick]``; ``python -m bench`` calls
:func:`run`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock
from axis_licensing._time import to_us
from axis_licensing.backends import Head
from axis_licensing.events.store import events_of
from axis_licensing.shell.sweep import RECORDED_PART
from bench._common import Ratio, Settings, print_table, run_alone

__all__ = ["run"]

DUE = 100
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _build(path: Path, total: int) -> Manager:
    """A store with ``DUE`` due organizations among ``total``."""
    clock = ManualClock(START)
    m = Manager.open(f"sqlite:///{path}", catalog=EXAMPLE_CATALOG, clock=clock)
    for n in range(DUE):
        org = f"due-{n:05d}"
        m.create_organization(org, name=org, actor="bench")
        m.start_subscription(org, "acs-pro", actor="bench")
    m.create_organization("template", name="template", actor="bench")
    m.start_subscription("template", "acs-pro", actor="bench")
    later = to_us(START + timedelta(days=365))
    with m.backend.write() as tx:
        head = tx.head("template")
        assert head is not None
        parts = tx.parts_prefixed("template", "org")
        for n in range(total - DUE):
            org = f"org-{n:07d}"
            tx.create_org(org)
            tx.append(
                Head(org, 1, head.at_us),
                [(p.part, p.value.replace('"template"', f'"{org}"')) for p in parts],
                [],
            )
            events_of(tx).set_sweep_due(org, later)
        events_of(tx).set_sweep_due("template", later)
    return m


def _reset(m: Manager) -> None:
    """Make the due organizations due again, their recorded alerts forgotten."""
    with m.backend.write() as tx:
        for n in range(DUE):
            org = f"due-{n:05d}"
            head = tx.lock(org)
            assert head is not None
            tx.append(Head(org, head.seq + 1, head.at_us), [(RECORDED_PART, "[]")], [])
            events_of(tx).set_sweep_due(org, to_us(START))
    m._states.clear()  # every round reads the states from the store


def _time_sweeps(m: Manager, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        _reset(m)
        started = time.perf_counter()
        report = m.sweep(at=START + timedelta(minutes=1))
        times.append(time.perf_counter() - started)
        assert (report.organizations, report.raised) == (DUE, DUE), report
    return statistics.median(times)


def run(settings: Settings) -> list[Ratio]:
    """Measure (j) and print its table."""
    big = 10_000 if settings.quick else 100_000
    with tempfile.TemporaryDirectory() as directory:
        built = time.perf_counter()
        small_m = _build(Path(directory) / "small.db", 1_000)
        big_m = _build(Path(directory) / "big.db", big)
        built = time.perf_counter() - built
        try:
            small = _time_sweeps(small_m)
            large = _time_sweeps(big_m)
        finally:
            small_m.close()
            big_m.close()
    ratios = [Ratio(f"(j) sweep, {big:,} / 1,000 organizations (100 due)", large / small, 2.0)]
    print_table(
        f"(j) sweep of {DUE} due organizations, SQLite (stores built in {built:.0f} s)",
        [
            ("1,000 organizations", f"{small * 1000:.0f} ms"),
            (f"{big:,} organizations", f"{large * 1000:.0f} ms"),
        ],
        ratios,
    )
    return ratios


if __name__ == "__main__":
    run_alone(run, "python -m bench.events_sweep")
