"""(g) Contention tail latency: N processes writing to one organization (R13, issue 10).

``python -m bench.contention [--seconds S] [--processes N] [--backends sqlite,postgresql]``

Each process opens its own Manager on one store and runs ``report_devices`` on
one shared organization for S seconds, timing every command. The report gives
the throughput and the latency p50, p99 and max over all commands; the target
on SQLite is a maximum under 250 ms with 4 writing processes. Figures, not a
pass/fail test.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench._common import open_manager, setup_org

ORG = "contended"
DEFAULT_PG = os.environ.get(
    "AXIS_LICENSING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _client(url: str, start_at: float, seconds: float, client: int) -> list[float]:
    """Run commands until ``start_at + seconds``; the latency of each, in seconds."""
    latencies: list[float] = []
    with open_manager(url) as m:
        m.status(ORG, "acs-pro")  # connect and warm up before the start
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        n = 0
        while time.time() < end:
            n += 1
            began = time.perf_counter()
            m.report_devices(ORG, "s1", {"core": (client * 1000 + n) % 50}, actor=f"c{client}")
            latencies.append(time.perf_counter() - began)
    return latencies


def measure(url: str, processes: int, seconds: float) -> dict[str, float]:
    """Throughput and latency percentiles of ``processes`` writers on one organization."""
    with open_manager(url) as m:
        setup_org(m, ORG, stock=0)
        m.register_system(ORG, "acs-pro", "s1", devices={"core": 1}, actor="bench")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        start_at = time.time() + 3.0
        futures = [pool.submit(_client, url, start_at, seconds, c) for c in range(processes)]
        latencies = sorted(x for f in futures for x in f.result())
    count = len(latencies)
    return {
        "commands": count,
        "per_second": count / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(count - 1, int(count * 0.99))],
        "max_ms": 1000 * latencies[-1],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print (g) for each backend asked for."""
    parser = argparse.ArgumentParser(prog="python -m bench.contention", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    args = parser.parse_args(argv)
    print(f"(g) contention: {args.processes} processes, one organization, {args.seconds:g} s")
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as folder:
            drop = None
            if backend == "sqlite":
                url = f"sqlite:///{Path(folder) / 'contention.db'}"
            else:
                drop = f"axis_bench_g_{uuid.uuid4().hex[:10]}"
                joiner = "&" if "?" in args.postgres_url else "?"
                url = f"{args.postgres_url}{joiner}schema={drop}"
            try:
                r = measure(url, args.processes, args.seconds)
            finally:
                if drop is not None:
                    import psycopg

                    with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                        conn.execute(f'DROP SCHEMA IF EXISTS "{drop}" CASCADE')
        print(
            f"  {backend:<10} {r['per_second']:8.0f} commands/s   p50 {r['p50_ms']:7.1f} ms   "
            f"p99 {r['p99_ms']:7.1f} ms   max {r['max_ms']:7.1f} ms   "
            f"({r['commands']:.0f} commands)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
