"""A third-party backend: a plugin that registers a new URL scheme (SPEC §4).

``counting://`` wraps the built-in memory backend and counts the
transactions it runs, as a metrics layer might. Any backend is a
:class:`axis_licensing.backends.Backend`; it is made by a factory that a
plugin registers with ``registry.add(scheme, factory)``. A real backend must
pass the conformance suite of ``axis_licensing.testing`` (see docs/plugins.md)::

    python examples/custom_backend.py
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock, hookimpl
from axis_licensing.backends import Backend, BackendRegistry, ReadTx, WriteTx
from axis_licensing.backends.memory import MemoryBackend

PRODUCT = "acs-pro"


class CountingBackend(Backend):
    """Delegates everything to a memory backend and counts reads and writes."""

    scheme = "counting"

    def __init__(self, url: str) -> None:
        self.url = url
        self.inner = MemoryBackend("memory://")
        self.counts: Counter[str] = Counter()

    @contextlib.contextmanager
    def write(self) -> Iterator[WriteTx]:
        self.counts["write"] += 1
        with self.inner.write() as tx:
            yield tx

    @contextlib.contextmanager
    def read(self) -> Iterator[ReadTx]:
        self.counts["read"] += 1
        with self.inner.read() as tx:
            yield tx

    def close(self) -> None:
        self.inner.close()

    def export_rows(self, table: str) -> Iterator[dict[str, Any]]:
        return self.inner.export_rows(table)

    def import_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        return self.inner.import_rows(table, rows)

    def count_rows(self, table: str) -> int:
        return self.inner.count_rows(table)

    def clear(self) -> None:
        self.inner.clear()

    def delete_meta(self, name: str) -> bool:
        return self.inner.delete_meta(name)


class CountingPlugin:
    """The plugin: installed packages list it in the ``axis_licensing`` entry-point group."""

    @hookimpl
    def axis_licensing_register_backends(self, registry: BackendRegistry) -> None:
        """Serve ``counting://`` URLs."""
        registry.add("counting", CountingBackend)


def main() -> None:
    """Open a Manager on ``counting://`` and run a few commands and queries."""
    clock = ManualClock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    with Manager.open(
        "counting://", catalog=EXAMPLE_CATALOG, clock=clock, plugins=[CountingPlugin()]
    ) as m:
        assert isinstance(m.backend, CountingBackend)
        m.backend.counts.clear()  # forget the reads and writes of opening
        m.create_organization("acme", name="Acme AB", actor="ann")
        m.start_subscription("acme", PRODUCT, actor="ann")
        state = m.status("acme", PRODUCT).state
        print(f"backend {type(m.backend).__name__}, product {state.value}")
        print(f"transactions: {dict(sorted(m.backend.counts.items()))}")


if __name__ == "__main__":
    main()
