"""The backend conformance kit on every built-in backend, and its contract on a broken one.

The kit is :mod:`axis_licensing.testing.conformance`: the per-method contract
of :mod:`axis_licensing.testing.contract` (each method of the backend
interface called directly) plus a few end-to-end checks through the Manager
(issue 14, item 6). Here it runs against ``memory://``,
``sqlite:///`` (a fresh file per test) and ``postgresql://`` (a fresh schema
per test). A backend with an off-by-one in ``seq_at`` fails it, and only in
the tests named after ``seq_at``.
"""

from __future__ import annotations

import contextlib
import inspect
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, cast

import psycopg
import pytest
from psycopg import sql

pytest.register_assert_rewrite(
    "axis_licensing.testing.contract", "axis_licensing.testing.conformance"
)

from axis_licensing.backends import Backend, Head, ReadTx, WriteTx  # noqa: E402
from axis_licensing.backends.memory import MemoryBackend  # noqa: E402
from axis_licensing.backends.postgresql import PostgreSQLBackend  # noqa: E402
from axis_licensing.backends.sqlite import SQLiteBackend  # noqa: E402
from axis_licensing.testing.conformance import BackendConformance  # noqa: E402
from axis_licensing.testing.contract import BackendContract, MakeBackend  # noqa: E402


class TestMemoryContract(BackendConformance):
    """``memory://``: each backend is its own store, and it has no driver to fail."""

    shared = False

    @pytest.fixture
    def make_backend(self) -> MakeBackend:
        return MemoryBackend


class TestSQLiteContract(BackendConformance):
    """``sqlite:///PATH``: one fresh file per test."""

    @pytest.fixture
    def make_backend(self, tmp_path: Path) -> MakeBackend:
        return lambda: SQLiteBackend(f"sqlite:///{tmp_path / 'axis.db'}")

    def break_store(self, backend: Backend) -> bool:
        assert isinstance(backend, SQLiteBackend)
        conn = sqlite3.connect(backend.path)
        try:
            conn.execute("DROP TABLE versions")
            conn.commit()
        finally:
            conn.close()
        return True


@pytest.mark.postgres
class TestPostgreSQLContract(BackendConformance):
    """``postgresql://``: one fresh schema per test on a real server."""

    @pytest.fixture
    def make_backend(self, postgres_url: str) -> MakeBackend:
        return lambda: PostgreSQLBackend(postgres_url)

    def break_store(self, backend: Backend) -> bool:
        assert isinstance(backend, PostgreSQLBackend)
        with psycopg.connect(backend.settings.conninfo, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP TABLE {}").format(sql.Identifier(backend.schema, "versions"))
            )
        return True


# -- a deliberately broken backend ----------------------------------------------------------------


class _OffByOneTx:
    """A transaction whose ``seq_at`` misses versions written exactly at the instant asked."""

    def __init__(self, inner: ReadTx) -> None:
        self._inner = inner

    def seq_at(self, org_id: str, at_us: int) -> int | None:
        return self._inner.seq_at(org_id, at_us - 1)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _WrappedBackend(MemoryBackend):
    """The memory backend, each of its transactions seen through ``wrapper``."""

    wrapper: ClassVar[type[_OffByOneTx]]

    @contextlib.contextmanager
    def write(self) -> Iterator[WriteTx]:
        with super().write() as tx:
            yield cast(WriteTx, self.wrapper(tx))

    @contextlib.contextmanager
    def read(self) -> Iterator[ReadTx]:
        with super().read() as tx:
            yield cast(ReadTx, self.wrapper(tx))


class OffByOneBackend(_WrappedBackend):
    """The memory backend with an off-by-one in ``ReadTx.seq_at``."""

    wrapper = _OffByOneTx


def _outcomes(make: MakeBackend) -> dict[str, str]:
    """Run every test of the contract suite on backends from ``make``: name -> outcome."""
    suite = BackendContract()
    suite.shared = False  # type: ignore[misc]
    outcomes: dict[str, str] = {}
    for name in sorted(n for n in dir(BackendContract) if n.startswith("test_")):
        method = getattr(suite, name)
        wanted = inspect.signature(method).parameters
        backend = make()
        kwargs = {"backend": backend, "make_backend": make}
        try:
            method(**{k: v for k, v in kwargs.items() if k in wanted})
            outcomes[name] = "passed"
        except pytest.skip.Exception:
            outcomes[name] = "skipped"
        except (AssertionError, pytest.fail.Exception):
            outcomes[name] = "failed"
        finally:
            backend.close()
    return outcomes


def test_the_suite_passes_on_a_correct_backend_run_by_hand() -> None:
    outcomes = _outcomes(MemoryBackend)
    assert set(outcomes.values()) <= {"passed", "skipped"}
    assert len(outcomes) == 35  # issue 14 added catalogs, insert_catalog, lock, org_ids; peek


def test_a_backend_with_an_off_by_one_in_seq_at_fails_the_tests_named_after_seq_at() -> None:
    outcomes = _outcomes(OffByOneBackend)
    failed = sorted(name for name, outcome in outcomes.items() if outcome == "failed")
    assert failed == [
        "test_seq_at_finds_the_version_in_force_at_its_boundaries",
        "test_seq_at_takes_the_last_of_versions_at_one_instant",
    ]


class _DefaultLatestTx(_OffByOneTx):
    """A transaction that answers ``latest_version_at_us`` with the interface's default."""

    def seq_at(self, org_id: str, at_us: int) -> int | None:
        return self._inner.seq_at(org_id, at_us)

    def latest_version_at_us(self) -> int | None:
        return ReadTx.latest_version_at_us(cast(ReadTx, self))


class DefaultLatestBackend(_WrappedBackend):
    """The memory backend without its own ``latest_version_at_us`` (a third-party backend)."""

    wrapper = _DefaultLatestTx


def test_r15_the_default_latest_version_at_us_passes_the_suite() -> None:
    outcomes = _outcomes(DefaultLatestBackend)
    assert outcomes["test_latest_version_at_us_is_the_latest_head_over_every_organization"] == (
        "passed"
    )
    assert set(outcomes.values()) <= {"passed", "skipped"}


class DefaultPeekBackend(MemoryBackend):
    """The memory backend without its own ``peek`` (a third-party backend)."""

    def peek(self, org_id: str) -> Head | None:
        return Backend.peek(self, org_id)


def test_spec5_the_default_peek_passes_the_suite() -> None:
    outcomes = _outcomes(DefaultPeekBackend)
    assert outcomes["test_peek_reads_the_head_and_the_latest_catalog_version_or_nothing"] == (
        "passed"
    )
