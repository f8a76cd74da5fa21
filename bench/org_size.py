"""(d) organization size, (e) storage per command and (h) many organizations (issue 7).

- (d) ``report_devices``, ``allocate`` and ``status`` on SQLite for organizations
  of 10, 1,000 and 10,000 systems (the largest with over 10,000 commands of
  history), warm (this process wrote last) and cold (``status`` and ``need``
  with the head cache emptied before each call, as when another process wrote
  last). Targets: 10,000 systems cost at most 1.5x 10 systems warm, 3x cold.
- (e) how much the store grows per command at 1,000 systems over 1,000
  commands (nine device reports to one allocation), on SQLite and PostgreSQL.
  Target: at most 2 kB per command.
- (h) ``status`` and ``report_devices`` in random order over many
  organizations (``--orgs``, 100,000 by default) against 100 organizations, in
  one SQLite file. Target: at most 2x. ``status`` is compared cold (nothing
  kept in this process, as when another process wrote last): the Manager keeps
  the states of its last 1,024 organizations, which would hold all of the 100
  and few of the many, so a warm comparison measures the cache, not the
  store. The warm figures are printed too.

Fixtures are built through the public API on ``memory://`` (no fsync per
command) and copied into the measured store with the backends'
``export_rows``/``import_rows``, as ``axis-licensing migrate`` does.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from axis_licensing import Manager
from axis_licensing.backends import TABLES, Backend, BackendRegistry, builtin
from bench._common import PRODUCT, Ratio, Settings, open_manager, print_table, setup_org, timed

__all__ = ["run_d", "run_e", "run_h"]

SIZES = (10, 1_000, 10_000)
QUICK_SIZES = (10, 1_000, 3_000)
WARM_TARGET = 1.5
COLD_TARGET = 3.0
BYTES_TARGET = 2_000
MANY_TARGET = 2.0
BASE_ORGS = 100


def _registry() -> BackendRegistry:
    registry = BackendRegistry()
    builtin.axis_licensing_register_backends(registry)
    return registry


def _copy(source: Manager, target: Backend) -> None:
    for table in TABLES:
        target.import_rows(table, source.backend.export_rows(table))


def _built_in_sqlite(path: Path, build: Callable[[Manager], object]) -> tuple[str, float]:
    """A SQLite store at ``path`` that ``build`` filled in memory: its URL and the seconds taken."""
    url = f"sqlite:///{path}"
    started = time.perf_counter()
    with open_manager("memory://") as memory:
        build(memory)
        target = _registry().open(url)
        try:
            _copy(memory, target)
        finally:
            target.close()
    return url, time.perf_counter() - started


def _system(org_id: str, n: int) -> str:
    return f"{org_id}-sys-{n:06d}"


def build_org(m: Manager, org_id: str, systems: int) -> None:
    """A started organization with ``systems`` systems of one core device each, licensed."""
    setup_org(m, org_id)
    for n in range(systems):
        m.register_system(org_id, PRODUCT, _system(org_id, n), devices={"core": 1}, actor="bench")
    m.allocate_need(org_id, PRODUCT, actor="bench")


def _alternating(
    actions: dict[tuple[str, int], Callable[[], object]],
    sizes: tuple[int, ...],
    settings: Settings,
) -> dict[str, dict[int, float]]:
    """Median ms per call of each ``(name, size)``; sizes alternate within each repetition,
    so that load from other processes hits them alike."""
    runs: dict[tuple[str, int], list[float]] = {key: [] for key in actions}
    for action in actions.values():
        timed(action, settings.warmup)
    for rep in range(settings.repetitions):
        for size in sizes[rep % len(sizes) :] + sizes[: rep % len(sizes)]:
            for (name, of), action in actions.items():
                if of == size:
                    runs[name, of].append(timed(action, settings.queries))
    figures: dict[str, dict[int, float]] = {}
    for (name, size), times in runs.items():
        figures.setdefault(name, {})[size] = 1e3 * statistics.median(times) / settings.queries
    return figures


def _cold(m: Manager, query: Callable[[], object]) -> Callable[[], object]:
    def action() -> object:
        m._states.clear()  # as when another process wrote last: nothing cached
        return query()

    return action


def run_d(settings: Settings) -> list[Ratio]:
    """(d): per-call times by organization size; ratios largest / smallest."""
    sizes = QUICK_SIZES if settings.quick else SIZES
    rng = random.Random(4)

    def build(memory: Manager) -> None:
        for size in sizes:
            build_org(memory, f"size-{size}", size)

    with tempfile.TemporaryDirectory(prefix="axis-bench-") as tmp:
        url, built = _built_in_sqlite(Path(tmp) / "size.db", build)
        figures: dict[str, dict[int, float]] = {}
        with open_manager(url) as m:
            actions: dict[tuple[str, int], Callable[[], object]] = {}
            for size in sizes:
                org = f"size-{size}"

                def report(org: str = org, size: int = size) -> None:
                    system = _system(org, rng.randrange(size))
                    m.report_devices(org, system, {"core": rng.randrange(1, 4)}, actor="bench")

                def allocate(org: str = org) -> None:
                    m.allocate(org, PRODUCT, {"core": 1}, period=1, actor="bench")

                def status(org: str = org) -> None:
                    m.status(org, PRODUCT)

                def need(org: str = org) -> None:
                    m.need(org, PRODUCT)

                actions["report_devices", size] = report
                actions["allocate", size] = allocate
                actions["status", size] = status
                actions["cold status", size] = _cold(m, status)
                actions["cold need", size] = _cold(m, need)
            figures = _alternating(actions, sizes, settings)
            commands = len(m.history(f"size-{sizes[-1]}"))
    small, big = sizes[0], sizes[-1]
    ratios = [
        Ratio(
            f"{name} {big:,} / {small:,} systems",
            by[big] / by[small],
            COLD_TARGET if name.startswith("cold") else WARM_TARGET,
        )
        for name, by in figures.items()
    ]
    print_table(
        f"(d) per-call time on SQLite by organization size (ms, median of "
        f"{settings.repetitions} x {settings.queries}); the {big:,}-system organization has "
        f"{commands:,} history rows; fixtures built in {built:.0f} s",
        [
            (f"{name} at {size:,} systems", f"{by[size]:.3f} ms")
            for name, by in figures.items()
            for size in sizes
        ],
        ratios,
    )
    return ratios


# -- (e) ----------------------------------------------------------------------------------------


def _sqlite_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    return int((pages - free) * size)


def _pg_bytes(url: str, schema: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'",
            (schema,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _growth(m: Manager, measure: Callable[[], int], commands: int, systems: int) -> float:
    rng = random.Random(5)
    before = measure()
    for n in range(commands):
        if n % 10 == 9:
            m.allocate("big", PRODUCT, {"core": 1}, period=1, actor="bench")
        else:
            devices = {"core": rng.randrange(1, 4), "door": rng.randrange(0, 3)}
            m.report_devices("big", _system("big", rng.randrange(systems)), devices, actor="b")
    return (measure() - before) / commands


def run_e(settings: Settings, postgres_url: str | None) -> list[Ratio]:
    """(e): bytes the store grows per command, SQLite and (with a server) PostgreSQL."""
    systems = 1_000
    commands = 300 if settings.quick else 1_000
    rows: list[tuple[str, str]] = []
    ratios: list[Ratio] = []
    with open_manager("memory://") as memory:
        build_org(memory, "big", systems)
        with tempfile.TemporaryDirectory(prefix="axis-bench-") as tmp:
            path = Path(tmp) / "growth.db"
            target = _registry().open(f"sqlite:///{path}")
            try:
                _copy(memory, target)
            finally:
                target.close()
            with open_manager(f"sqlite:///{path}") as m:
                per = _growth(m, lambda: _sqlite_bytes(path), commands, systems)
            rows.append(("SQLite", f"{per:,.0f} B/command"))
            ratios.append(Ratio("SQLite kB per command", per / 1000, BYTES_TARGET / 1000))
        if postgres_url is not None:
            schema = f"axis_bench_{uuid.uuid4().hex[:8]}"
            url = f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={schema}"
            target = _registry().open(url)
            try:
                _copy(memory, target)
                target.close()
                with open_manager(url) as m:
                    per = _growth(m, lambda: _pg_bytes(postgres_url, schema), commands, systems)
                rows.append(("PostgreSQL", f"{per:,.0f} B/command"))
                ratios.append(Ratio("PostgreSQL kB per command", per / 1000, BYTES_TARGET / 1000))
            finally:
                with psycopg.connect(postgres_url, autocommit=True) as conn:
                    conn.execute(
                        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                    )
    print_table(
        f"(e) store growth per command at {systems:,} systems over {commands:,} commands "
        "(9 device reports : 1 allocation)",
        rows,
        ratios,
    )
    return ratios


# -- (h) ----------------------------------------------------------------------------------------


def _build_orgs(m: Manager, count: int) -> None:
    key_stock = 10
    for n in range(count):
        org = f"org-{n:06d}"
        setup_org(m, org, key_stock)
        m.register_system(org, PRODUCT, f"{org}-sys", devices={"core": 1}, actor="bench")


def _over(
    m: Manager, groups: dict[str, Sequence[str]], settings: Settings, rng: random.Random
) -> dict[str, list[float]]:
    """Median ms per cold ``status``, ``report_devices`` and warm ``status`` over each group
    of organizations; the groups alternate within each repetition."""
    orders = {g: [rng.choice(orgs) for _ in range(settings.queries)] for g, orgs in groups.items()}

    def status(order: list[str]) -> None:
        for org in order:
            m.status(org, PRODUCT)

    def cold_status(order: list[str]) -> None:
        for org in order:
            m._states.clear()  # as when another process wrote last: nothing kept
            m.status(org, PRODUCT)

    def report(order: list[str]) -> None:
        for org in order:
            m.report_devices(org, f"{org}-sys", {"core": rng.randrange(1, 3)}, actor="bench")

    actions = (cold_status, report, status)

    runs: dict[tuple[str, int], list[float]] = {}
    for order in orders.values():  # warm-up pass
        status(order)
        report(order)
    for rep in range(settings.repetitions):
        for g in list(orders)[:: 1 if rep % 2 else -1]:
            for n, action in enumerate(actions):
                started = time.perf_counter()
                action(orders[g])
                runs.setdefault((g, n), []).append(time.perf_counter() - started)
    return {
        g: [1e3 * statistics.median(runs[g, n]) / settings.queries for n in range(len(actions))]
        for g in orders
    }


def run_h(settings: Settings, orgs: int) -> list[Ratio]:
    """(h): status and report_devices over ``orgs`` organizations against 100."""
    rng = random.Random(8)
    with tempfile.TemporaryDirectory(prefix="axis-bench-") as tmp:
        url, built = _built_in_sqlite(
            Path(tmp) / "many.db", lambda memory: _build_orgs(memory, max(orgs, BASE_ORGS))
        )
        names = [f"org-{n:06d}" for n in range(max(orgs, BASE_ORGS))]
        with open_manager(url) as m:
            times = _over(m, {"few": names[:BASE_ORGS], "many": names}, settings, rng)
        few, many = times["few"], times["many"]
    ratios = [
        Ratio(f"cold status {orgs:,} / {BASE_ORGS} orgs", many[0] / few[0], MANY_TARGET),
        Ratio(f"report_devices {orgs:,} / {BASE_ORGS} orgs", many[1] / few[1], MANY_TARGET),
        Ratio(
            f"warm status {orgs:,} / {BASE_ORGS} orgs (the cache holds the 100)", many[2] / few[2]
        ),
    ]
    print_table(
        f"(h) per-call time on SQLite over many organizations, random order (ms, median of "
        f"{settings.repetitions} x {settings.queries}); fixtures built in {built:.0f} s",
        [
            (f"cold status over {BASE_ORGS} orgs", f"{few[0]:.3f} ms"),
            (f"cold status over {orgs:,} orgs", f"{many[0]:.3f} ms"),
            (f"report_devices over {BASE_ORGS} orgs", f"{few[1]:.3f} ms"),
            (f"report_devices over {orgs:,} orgs", f"{many[1]:.3f} ms"),
            (f"warm status over {BASE_ORGS} orgs", f"{few[2]:.3f} ms"),
            (f"warm status over {orgs:,} orgs", f"{many[2]:.3f} ms"),
        ],
        ratios,
    )
    return ratios
