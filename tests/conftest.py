"""Shared fixtures: hypothesis profiles, a manual clock, and a Manager on every backend.

PostgreSQL tests use the server named by ``AXIS_LICENSING_TEST_POSTGRES_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``), one fresh schema per
test. Without a server they skip with the reason, unless
``AXIS_LICENSING_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which turns the skip
into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from _support import START
from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock
from axis_licensing.backends import Backend
from events_support import open_backend

# CI runs every test in one job under 30 minutes on a 2-core machine: 100 examples per
# property there; `nox -s properties` runs the property tests at the "deep" profile's 300.
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

POSTGRES_URL = os.environ.get(
    "AXIS_LICENSING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("AXIS_LICENSING_REQUIRE_POSTGRES") == "1"

_postgres_problem: str | None = None
_postgres_checked = False


def postgres_problem() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    global _postgres_checked, _postgres_problem
    if not _postgres_checked:
        _postgres_checked = True
        try:
            import psycopg

            with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except Exception as exc:
            _postgres_problem = f"no PostgreSQL at {POSTGRES_URL}: {exc}"
    return _postgres_problem


def require_postgres() -> None:
    """Skip (or, in CI, fail) when no PostgreSQL server is reachable."""
    problem = postgres_problem()
    if problem is None:
        return
    if REQUIRE_POSTGRES:
        pytest.fail(f"AXIS_LICENSING_REQUIRE_POSTGRES=1 but {problem}")
    pytest.skip(problem)


def _with_params(url: str, **params: str) -> str:
    joiner = "&" if "?" in url else "?"
    return url + joiner + "&".join(f"{k}={v}" for k, v in params.items())


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of a fresh, empty PostgreSQL schema, dropped afterwards."""
    require_postgres()
    import psycopg

    schema = f"axis_test_{uuid.uuid4().hex[:12]}"
    yield _with_params(POSTGRES_URL, schema=schema)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


BACKENDS = ("memory", "sqlite", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store on each backend in turn."""
    name = request.param
    if name == "memory":
        yield "memory://"
    elif name == "sqlite":
        yield f"sqlite:///{tmp_path / 'axis.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def persistent_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store that outlives its Manager and that processes can share: a file, then a schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'axis.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(backend_url: str) -> Iterator[Backend]:
    """A bare backend on each backend in turn (no Manager), closed after the test."""
    backend = open_backend(backend_url)
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def clock() -> ManualClock:
    """A manual clock at 2026-01-01 12:00 UTC."""
    return ManualClock(START)


@pytest.fixture
def manager(backend_url: str, clock: ManualClock) -> Iterator[Manager]:
    """A Manager with the example catalog on each backend in turn."""
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock) as opened:
        yield opened
