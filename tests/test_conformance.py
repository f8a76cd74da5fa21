"""The backend conformance suite on every built-in backend (SPEC §4, §5 "Backends").

The suite itself lives in :mod:`axis_licensing.testing.conformance`, where a
third-party backend imports it from; here it runs against ``memory://``,
``sqlite:///`` (a fresh file per test) and ``postgresql://`` (a fresh schema
per test on a real server: skipped without one, failed in CI).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.register_assert_rewrite("axis_licensing.testing.conformance")

from axis_licensing import EXAMPLE_CATALOG, Catalog, Manager, ManualClock  # noqa: E402
from axis_licensing.testing.conformance import BackendConformance, MakeManager  # noqa: E402


class TestMemoryConformance(BackendConformance):
    """``memory://`` is private to the Manager that opened it, so nothing survives a reopen."""

    persistent = False

    @pytest.fixture
    def make_manager(self) -> MakeManager:
        def make(clock: ManualClock, catalog: Catalog = EXAMPLE_CATALOG) -> Manager:
            return Manager.open("memory://", catalog=catalog, clock=clock)

        return make


class TestSQLiteConformance(BackendConformance):
    """``sqlite:///PATH``: one fresh database file per test."""

    @pytest.fixture
    def make_manager(self, tmp_path: Path) -> MakeManager:
        url = f"sqlite:///{tmp_path / 'axis.db'}"

        def make(clock: ManualClock, catalog: Catalog = EXAMPLE_CATALOG) -> Manager:
            return Manager.open(url, catalog=catalog, clock=clock)

        return make


@pytest.mark.postgres
class TestPostgreSQLConformance(BackendConformance):
    """``postgresql://``: one fresh schema per test on a real server."""

    @pytest.fixture
    def make_manager(self, postgres_url: str) -> MakeManager:
        def make(clock: ManualClock, catalog: Catalog = EXAMPLE_CATALOG) -> Manager:
            return Manager.open(postgres_url, catalog=catalog, clock=clock)

        return make
