"""(b) ``Manager.status`` at 10,000 history rows against 10 rows, on one SQLite file.

Both organizations run the same kinds of commands (a system, allocations of one
core license, device reports that keep every device covered), so their states
have the same shape and only the length of their history differs. The history
is built on ``memory://`` (no fsync per command) and copied into the SQLite file
with the backends' ``export_rows``/``import_rows``, as ``migrate`` does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from axis_licensing import Manager
from axis_licensing.backends import TABLES, BackendRegistry, builtin
from bench._common import PRODUCT, Ratio, Settings, compare, open_manager, print_table, setup_org

__all__ = ["build_history", "run"]

TARGET = 1.3
SMALL, BIG = 10, 10_000


def build_history(m: Manager, org_id: str, rows: int) -> None:
    """An organization whose history holds exactly ``rows`` activities."""
    setup_org(m, org_id)  # organization_created, subscription_started, key_redeemed
    system = f"{org_id}-server"
    m.register_system(org_id, PRODUCT, system, devices={}, actor="bench")
    allocated = 0
    for step in range(rows - 4):
        if step % 2 == 0:
            m.allocate(org_id, PRODUCT, {"core": 1}, actor="bench")
            allocated += 1
        else:
            m.report_devices(org_id, system, {"core": allocated}, actor="bench")
    written = len(m.history(org_id))
    assert written == rows, f"{org_id} has {written} history rows, not {rows}"


def _copy(source: Manager, url: str) -> None:
    registry = BackendRegistry()
    builtin.axis_licensing_register_backends(registry)
    target = registry.open(url)
    try:
        for table in TABLES:
            target.import_rows(table, source.backend.export_rows(table))
    finally:
        target.close()


def run(settings: Settings) -> list[Ratio]:
    """Measure, print the table, and return the ratio."""
    with tempfile.TemporaryDirectory(prefix="axis-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'status.db'}"
        with open_manager("memory://") as memory:
            build_history(memory, "small", SMALL)
            build_history(memory, "big", BIG)
            _copy(memory, url)
        with open_manager(url) as m:
            assert len(m.history("big")) == BIG
            assert len(m.history("small")) == SMALL
            assert m.status("big", PRODUCT).state == m.status("small", PRODUCT).state

            def small() -> None:
                m.status("small", PRODUCT)

            def big() -> None:
                m.status("big", PRODUCT)

            small_rate, big_rate = compare(
                small,
                big,
                calls=settings.queries,
                settings=settings,
                label="(b) Manager.status at 10,000 history rows",
            )
    ratio = Ratio("ratio 10,000 rows / 10 rows", small_rate / big_rate, TARGET)
    print_table(
        f"(b) Manager.status time on SQLite by history length; "
        f"median of {settings.repetitions} x {settings.queries} calls",
        [
            (f"{SMALL:,} history rows", f"{1e3 / small_rate:.3f} ms"),
            (f"{BIG:,} history rows", f"{1e3 / big_rate:.3f} ms"),
        ],
        [ratio],
    )
    return [ratio]
