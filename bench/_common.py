"""What the benchmarks share: settings, timing, a clock, setup helpers and the report table."""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import attrs

from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock

__all__ = [
    "PRODUCT",
    "START",
    "Ratio",
    "Settings",
    "compare",
    "open_manager",
    "per_second",
    "print_table",
    "profile",
    "run_alone",
    "setup_org",
    "timed",
]

PRODUCT = "acs-pro"
#: A period start: allocations to the current period get no compensation (R8).
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
#: The most licenses one key may carry (R14).
MAX_KEY = 1_000_000


@attrs.frozen
class Settings:
    """How long to measure."""

    quick: bool
    #: Timed repetitions per measurement; the median is reported.
    repetitions: int
    #: Commands per timed repetition in (a).
    batch: int
    #: Untimed commands before measuring.
    warmup: int
    #: Queries per timed repetition in (b).
    queries: int
    #: Seconds each PostgreSQL configuration runs in (c).
    seconds: float
    #: Print a cProfile of our side of (a) and (b).
    profile: bool = False

    @classmethod
    def make(cls, *, quick: bool, profile: bool = False) -> Settings:
        """The quick (about 30 s) or the full settings."""
        if quick:
            return cls(
                quick, repetitions=5, batch=100, warmup=30, queries=100, seconds=1.5,
                profile=profile,
            )  # fmt: skip
        return cls(
            quick, repetitions=9, batch=400, warmup=100, queries=400, seconds=4.0, profile=profile
        )


@attrs.frozen
class Ratio:
    """A measured ratio and its target (``None``: no target, for information)."""

    name: str
    value: float
    target: float | None = None

    @property
    def verdict(self) -> str:
        """``meets`` or ``MISSES`` the target, or empty."""
        if self.target is None:
            return ""
        return "meets target" if self.value <= self.target else "MISSES target"


def open_manager(url: str) -> Manager:
    """A Manager on ``url`` with the example catalog and a clock stopped at START."""
    return Manager.open(url, catalog=EXAMPLE_CATALOG, clock=ManualClock(START))


def setup_org(m: Manager, org_id: str, stock: int = MAX_KEY) -> None:
    """A started organization with ``stock`` core licenses in its wallet."""
    m.create_organization(org_id, name=org_id, actor="bench")
    m.start_subscription(org_id, PRODUCT, actor="bench")
    if stock:
        key = m.vendor.issue_key(PRODUCT, quantities={"core": stock})
        m.redeem_key(org_id, key, actor="bench")


def timed(action: Callable[[], object], times: int) -> float:
    """Seconds to run ``action`` ``times`` times."""
    started = time.perf_counter()
    for _ in range(times):
        action()
    return time.perf_counter() - started


def per_second(count: int, seconds: Sequence[float]) -> float:
    """The median rate of ``count`` operations over repetitions that took ``seconds``."""
    return count / statistics.median(seconds)


def profile(label: str, action: Callable[[], object], times: int, top: int = 18) -> None:
    """Print where ``action`` spends its time (cumulative, ``top`` lines)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(times):
        action()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative").print_stats(top)
    print(f"\n--- profile: {label} ({times} calls) ---")
    print(out.getvalue().strip())


def compare(
    baseline: Callable[[], object],
    measured: Callable[[], object],
    *,
    calls: int,
    settings: Settings,
    label: str,
) -> tuple[float, float]:
    """The median rates per second of ``baseline`` and ``measured``, ``calls`` calls a repetition.

    Both are warmed up, then timed in ``settings.repetitions`` alternating
    repetitions (which goes first alternates), so that load from other processes
    hits both alike; with ``settings.profile``, ``measured`` is then profiled as ``label``.
    """
    timed(baseline, settings.warmup)
    timed(measured, settings.warmup)
    baseline_s: list[float] = []
    measured_s: list[float] = []
    for rep in range(settings.repetitions):
        pairs = ((baseline, baseline_s), (measured, measured_s))
        for action, times in pairs[:: 1 if rep % 2 else -1]:
            times.append(timed(action, calls))
    if settings.profile:
        profile(label, measured, calls)
    return per_second(calls, baseline_s), per_second(calls, measured_s)


def print_table(title: str, rows: Sequence[tuple[str, str]], ratios: Sequence[Ratio]) -> None:
    """One benchmark's figures, then its ratios against baselines of this run."""
    print(f"\n{title}")
    width = max(len(name) for name, _ in [*rows, *((r.name, "") for r in ratios)])
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>14}")
    for ratio in ratios:
        target = "" if ratio.target is None else f"  (target <= {ratio.target:g}: {ratio.verdict})"
        print(f"  {ratio.name:<{width}}  {ratio.value:>14.2f}{target}")


def run_alone(run: Callable[[Settings], object], prog: str) -> None:
    """Run one benchmark from the command line: ``python -m bench.<name> [--quick]``."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--quick", action="store_true")
    run(Settings.make(quick=parser.parse_args().quick))
