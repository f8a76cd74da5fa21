"""The licensing rules end to end on every built-in backend (SPEC §2–§5).

The rule tests live in ``tests/rules_suite.py`` (they were
``axis_licensing.testing.conformance`` before issue 14, which now holds the
per-method suite a backend author runs); here they run against
``memory://``, ``sqlite:///`` (a fresh file per test) and ``postgresql://`` (a
fresh schema per test on a real server: skipped without one, failed in CI).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.register_assert_rewrite("rules_suite")

from axis_licensing import EXAMPLE_CATALOG, Catalog, Manager, ManualClock  # noqa: E402
from rules_suite import BackendRules, MakeManager  # noqa: E402


class TestMemoryConformance(BackendRules):
    """``memory://`` is private to the Manager that opened it, so nothing survives a reopen."""

    persistent = False

    @pytest.fixture
    def make_manager(self) -> MakeManager:
        def make(clock: ManualClock, catalog: Catalog = EXAMPLE_CATALOG) -> Manager:
            return Manager.open("memory://", catalog=catalog, clock=clock)

        return make


class TestSQLiteConformance(BackendRules):
    """``sqlite:///PATH``: one fresh database file per test."""

    @pytest.fixture
    def make_manager(self, tmp_path: Path) -> MakeManager:
        url = f"sqlite:///{tmp_path / 'axis.db'}"

        def make(clock: ManualClock, catalog: Catalog = EXAMPLE_CATALOG) -> Manager:
            return Manager.open(url, catalog=catalog, clock=clock)

        return make


@pytest.mark.postgres
class TestPostgreSQLConformance(BackendRules):
    """``postgresql://``: one fresh schema per test on a real server."""

    @pytest.fixture
    def make_manager(self, postgres_url: str) -> MakeManager:
        def make(clock: ManualClock, catalog: Catalog = EXAMPLE_CATALOG) -> Manager:
            return Manager.open(postgres_url, catalog=catalog, clock=clock)

        return make
