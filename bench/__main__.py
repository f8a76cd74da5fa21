"""``python -m bench [--quick] [--profile] [--only a,…,k] [--orgs N] [--postgres-url URL]``.

Prints the command, the machine, then one table per benchmark with its ratio
against a baseline measured in the same run (see :mod:`bench`).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sqlite3
import sys
import time
from collections.abc import Sequence

from bench import (
    auth_tokens,
    events_delivery,
    events_sweep,
    http_status,
    org_size,
    postgres_scaling,
    sqlite_alloc,
    status_history,
)
from bench._common import Ratio, Settings

__all__ = ["main"]


def _machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.platform()}, {platform.machine()}, nproc={os.cpu_count()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"load average {load}"
    )


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0912, PLR0915  one branch per benchmark
    """Run the benchmarks; the exit status is 0 even when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (a few minutes)")
    parser.add_argument("--profile", action="store_true", help="print cProfile of (a) and (b)")
    parser.add_argument(
        "--only",
        default="a,b,c,d,e,f,h,i,j,k",
        help="comma-separated benchmarks to run (default a,b,c,d,e,f,h,i,j,k)",
    )
    parser.add_argument(
        "--orgs",
        type=int,
        default=None,
        help="organizations in (h) (default 100,000; 5,000 with --quick)",
    )
    parser.add_argument(
        "--postgres-url",
        default=postgres_scaling.DEFAULT_URL,
        help="a plain libpq URL for (c); a fresh schema is made and dropped "
        "(default: $AXIS_LICENSING_BENCH_POSTGRES_URL, $AXIS_LICENSING_TEST_POSTGRES_URL "
        "or postgresql://postgres@127.0.0.1:5432/test)",
    )
    args = parser.parse_args(argv)
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = only - {"a", "b", "c", "d", "e", "f", "h", "i", "j", "k"}
    if unknown:
        parser.error(
            f"unknown benchmarks {sorted(unknown)}; choose from a, b, c, d, e, f, h, i, j, k"
        )
    orgs = args.orgs if args.orgs is not None else (5_000 if args.quick else 100_000)
    if orgs < 1:
        parser.error("--orgs must be at least 1")
    settings = Settings.make(quick=args.quick, profile=args.profile)
    given = sys.argv[1:] if argv is None else list(argv)
    print("axis-licensing benchmarks")
    print(f"command: {shlex.join(['python', '-m', 'bench', *given])}  (cwd {os.getcwd()})")
    print(f"machine: {_machine()}")
    started = time.perf_counter()
    ratios: list[Ratio] = []
    if "a" in only:
        ratios += sqlite_alloc.run(settings)
    if "b" in only:
        ratios += status_history.run(settings)
    if "c" in only:
        problem = postgres_scaling.postgres_problem(args.postgres_url)
        if problem is None:
            ratios += postgres_scaling.run(settings, args.postgres_url)
        else:
            print(f"\n(c) skipped: {problem}")
    if "d" in only:
        ratios += org_size.run_d(settings)
    if "e" in only:
        problem = postgres_scaling.postgres_problem(args.postgres_url)
        if problem is not None:
            print(f"\n(e) on PostgreSQL skipped: {problem}")
        ratios += org_size.run_e(settings, args.postgres_url if problem is None else None)
    if "f" in only:
        ratios += http_status.run(settings)
    if "h" in only:
        ratios += org_size.run_h(settings, orgs)
    if "i" in only:
        ratios += events_delivery.run(settings)
    if "j" in only:
        ratios += events_sweep.run(settings)
    if "k" in only:
        ratios += auth_tokens.run(settings)
    print(f"\nsummary ({time.perf_counter() - started:.0f} s):")
    for ratio in ratios:
        if ratio.target is not None:
            print(
                f"  {ratio.name}: {ratio.value:.2f} (target <= {ratio.target:g}: {ratio.verdict})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
