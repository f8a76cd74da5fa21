"""(c) Allocations per second on PostgreSQL: 1 and 8 client processes, 8 organizations or one.

Every client is its own spawned process with its own Manager (``pool_size=1``).
All clients start at one instant and allocate one core license at a time for
a fixed time. With the load spread, client ``i`` works on organization
``i mod 8`` (one client walks all 8); concentrated, all work on one, so its
row lock serializes them. A bare ``psycopg`` client doing the least work per
command (lock the state row ``FOR UPDATE``, rewrite it, add one history row,
commit) runs the same four configurations as the baseline.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import statistics
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import psycopg
from psycopg import sql

from bench._common import PRODUCT, Ratio, Settings, open_manager, setup_org

__all__ = ["DEFAULT_URL", "postgres_problem", "run"]

DEFAULT_URL = os.environ.get(
    "AXIS_LICENSING_BENCH_POSTGRES_URL",
    os.environ.get("AXIS_LICENSING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
)
ORGS = 8
CLIENTS = (1, 8)
#: Seconds from submitting a configuration to its common start (clients open and warm up).
START_DELAY = 2.0
WARMUP = 10


def postgres_problem(url: str) -> str | None:
    """Why (c) cannot run against ``url``, or None."""
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"no PostgreSQL server at {url}: {str(exc).strip()}"
    return None


def _orgs_of(client: int, clients: int, spread: bool) -> list[str]:
    if not spread:
        return ["org-0"]
    if clients == 1:
        return [f"org-{k}" for k in range(ORGS)]
    return [f"org-{client % ORGS}"]


def _until(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


def manager_client(url: str, orgs: list[str], start_at: float, seconds: float) -> int:
    """Allocate round-robin over ``orgs`` from ``start_at`` for ``seconds``; how many."""
    with open_manager(url) as m:
        cycle = itertools.cycle(orgs)
        for _ in range(WARMUP):
            m.allocate(next(cycle), PRODUCT, {"core": 1}, actor="bench")
        _until(start_at)
        done, stop = 0, start_at + seconds
        while time.time() < stop:
            m.allocate(next(cycle), PRODUCT, {"core": 1}, actor="bench")
            done += 1
        return done


def bare_client(
    base_url: str, schema: str, orgs: list[str], start_at: float, seconds: float
) -> int:
    """The baseline client: the least work per command, on its own connection."""
    states = sql.Identifier(schema, "bare_states")
    history = sql.Identifier(schema, "bare_history")
    select = sql.SQL("SELECT seq, state FROM {} WHERE org_id = %s FOR UPDATE").format(states)
    update = sql.SQL("UPDATE {} SET seq = %s, state = %s WHERE org_id = %s").format(states)
    insert = sql.SQL("INSERT INTO {} (org_id, seq, details) VALUES (%s, %s, %s)").format(history)

    def command(conn: psycopg.Connection[Any], org: str) -> None:
        with conn.transaction():
            row = conn.execute(select, (org,)).fetchone()
            assert row is not None
            conn.execute(update, (row[0] + 1, row[1], org))
            conn.execute(insert, (org, row[0], '{"quantities": {"core": 1}}'))

    with psycopg.connect(base_url, autocommit=True) as conn:
        cycle = itertools.cycle(orgs)
        for _ in range(WARMUP):
            command(conn, next(cycle))
        _until(start_at)
        done, stop = 0, start_at + seconds
        while time.time() < stop:
            command(conn, next(cycle))
            done += 1
        return done


def _warm(hold: float) -> int:
    time.sleep(hold)
    return os.getpid()


def _start_all(pool: ProcessPoolExecutor, size: int) -> None:
    pids: set[int] = set()
    while len(pids) < size:
        futures = [pool.submit(_warm, 0.2) for _ in range(size)]
        pids |= {f.result(timeout=120) for f in futures}


def _with_params(url: str, **params: str) -> str:
    joiner = "&" if "?" in url else "?"
    return url + joiner + "&".join(f"{k}={v}" for k, v in params.items())


def _prepare_bare(base_url: str, schema: str, state: str) -> None:
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (org_id TEXT PRIMARY KEY, seq BIGINT NOT NULL, "
                "state TEXT NOT NULL)"
            ).format(sql.Identifier(schema, "bare_states"))
        )
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id BIGSERIAL PRIMARY KEY, org_id TEXT NOT NULL, "
                "seq BIGINT NOT NULL, details TEXT NOT NULL)"
            ).format(sql.Identifier(schema, "bare_history"))
        )
        for k in range(ORGS):
            conn.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, 1, %s)").format(
                    sql.Identifier(schema, "bare_states")
                ),
                (f"org-{k}", state),
            )


def _server_version(base_url: str) -> str:
    with psycopg.connect(base_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return "?" if row is None else str(row[0]).split()[0]


def run(settings: Settings, base_url: str) -> list[Ratio]:
    """Measure, print the table, and return the ratios (scaling and baseline)."""
    schema = f"axis_bench_{uuid.uuid4().hex[:10]}"
    url = _with_params(base_url, schema=schema, pool_size="1")
    repetitions = 1 if settings.quick else 3
    rates: dict[tuple[str, int, bool], float] = {}
    try:
        with open_manager(url) as m:
            for k in range(ORGS):
                setup_org(m, f"org-{k}")
            with m.backend.read() as tx:
                (ledger,) = tx.parts_prefixed("org-0", "org.product:")
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        _prepare_bare(base_url, schema, ledger.value)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max(CLIENTS), mp_context=context) as pool:
            _start_all(pool, max(CLIENTS))
            for clients, spread, who in itertools.product(CLIENTS, (True, False), ("ours", "bare")):
                counts: list[float] = []
                for _ in range(repetitions):
                    start_at = time.time() + START_DELAY
                    futures = [
                        pool.submit(manager_client, url, orgs, start_at, settings.seconds)
                        if who == "ours"
                        else pool.submit(
                            bare_client, base_url, schema, orgs, start_at, settings.seconds
                        )
                        for orgs in (_orgs_of(i, clients, spread) for i in range(clients))
                    ]
                    counts.append(sum(f.result(timeout=600) for f in futures))
                rates[who, clients, spread] = statistics.median(counts) / settings.seconds
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    return _report(settings, base_url, repetitions, rates)


def _report(
    settings: Settings,
    base_url: str,
    repetitions: int,
    rates: dict[tuple[str, int, bool], float],
) -> list[Ratio]:
    print(
        f"\n(c) allocations per second on PostgreSQL {_server_version(base_url)}, "
        f"{os.cpu_count()} CPUs on this machine, client and server alike; "
        f"{settings.seconds:g} s per configuration, median of {repetitions}"
    )
    header = f"  {'clients':>7}  {'organizations':<13}  {'Manager.allocate':>16}  "
    print(header + f"{'bare psycopg':>12}  {'bare/ours':>9}")
    for clients, spread in itertools.product(CLIENTS, (True, False)):
        ours, bare = rates["ours", clients, spread], rates["bare", clients, spread]
        orgs = f"{ORGS} (spread)" if spread else "1 (one org)"
        print(
            f"  {clients:>7}  {orgs:<13}  {ours:>14,.0f}/s  {bare:>10,.0f}/s  {bare / ours:>9.2f}"
        )
    ratios = [
        Ratio(
            f"ours, {max(CLIENTS)} clients / 1 client, {'spread' if spread else 'one org'}",
            rates["ours", max(CLIENTS), spread] / rates["ours", 1, spread],
        )
        for spread in (True, False)
    ]
    ratios.append(
        Ratio("ours, one org / spread, 8 clients", rates["ours", 8, False] / rates["ours", 8, True])
    )
    width = max(len(r.name) for r in ratios)
    for ratio in ratios:
        print(f"  {ratio.name:<{width}}  {ratio.value:>6.2f}")
    return ratios
