"""Nox sessions: tests, typing, lint, docs and bench (STYLE.md, after urllib3)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "typing", "lint"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

PYTHON = "3.11"


def _pytest(session: nox.Session, *args: str, env: dict[str, str] | None = None) -> None:
    """Install the package with its test extra, then run pytest with ``args`` and the posargs."""
    session.install("-e", ".[test]")
    session.run("pytest", *args, *session.posargs, env=env)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (PostgreSQL tests need a server; see README)."""
    _pytest(session, "--strict-config", "--strict-markers")


@nox.session(python=PYTHON)
def coverage(session: nox.Session) -> None:
    """The test suite with line coverage (slower by about a quarter: CI runs ``tests``)."""
    _pytest(
        session, "--strict-config", "--strict-markers", "--cov", "--cov-report=term:skip-covered"
    )


#: The test files whose properties hypothesis explores (their examples follow the profile).
PROPERTY_TESTS = (
    "tests/test_state_machine.py",
    "tests/test_properties.py",
    "tests/test_policy_rules.py",
    "tests/test_policy_periods.py",
    "tests/test_policy_horizon.py",
    "tests/test_fuzz.py",
    "tests/test_coverage.py",
    "tests/test_query_cache.py",
    "tests/test_keys.py",
    "tests/test_offline.py",
)


@nox.session(python=PYTHON)
def properties(session: nox.Session) -> None:
    """The property tests at the "deep" profile: 300 examples each (CI runs 100)."""
    _pytest(session, *PROPERTY_TESTS, env={"HYPOTHESIS_PROFILE": "deep"})


@nox.session(python=PYTHON)
def typing(session: nox.Session) -> None:
    """mypy --strict over src, tests, examples, bench, docs/hooks and this noxfile."""
    session.install("-e", ".[typing]", "nox")
    session.run("mypy", "--strict", "src", "tests", "examples", "bench", "docs/hooks", "noxfile.py")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation, failing on any warning."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: print ratios against baselines measured in the same run."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "bench", *session.posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """A seeded soak: 100,000 random operations into memory, SQLite and PostgreSQL in lockstep.

    Every answer and every organization's ledger and history must match across
    the three. Arguments go to ``tests/soak.py``: ``nox -s soak -- --ops 20000 --seed 3``.
    Needs PostgreSQL (AXIS_LICENSING_TEST_POSTGRES_URL); not in the default sessions.
    """
    session.install("-e", ".[test]")
    session.run("python", "tests/soak.py", "--ops", "100000", *session.posargs)


@nox.session(python=PYTHON)
def faults(session: nox.Session) -> None:
    """The storage-fault sweep with every k on SQLite and PostgreSQL (CI strides PostgreSQL)."""
    _pytest(
        session,
        "tests/test_faults.py",
        env={"FAULT_SWEEP_STRIDE": "1", "FAULT_SWEEP_PG_STRIDE": "1"},
    )


@nox.session(python=PYTHON)
def events_soak(session: nox.Session) -> None:
    """Kill the webhook dispatcher with SIGKILL at 40 random points, on SQLite and PostgreSQL.

    The long form of tests/test_events_dispatcher.py's kill test (SPEC §7): every
    committed event must end delivered, each signature verified by the receiver.
    Arguments go to ``tests/events_kill.py`` (``nox -s events_soak -- --kills 100``).
    Needs PostgreSQL (AXIS_LICENSING_TEST_POSTGRES_URL); not in the default sessions.
    """
    import os
    import tempfile
    import uuid

    session.install("-e", ".[test]")
    postgres = os.environ.get(
        "AXIS_LICENSING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    joiner = "&" if "?" in postgres else "?"
    with tempfile.TemporaryDirectory() as directory:
        for url in (
            f"sqlite:///{directory}/events-soak.db",
            f"{postgres}{joiner}schema=events_soak_{uuid.uuid4().hex[:8]}",
        ):
            session.run("python", "tests/events_kill.py", "soak", url, *session.posargs)
    # the concurrent sweeps (SPEC §7) in their long form: more organizations and processes
    session.run(
        "pytest", "tests/test_events_wiring.py", "-k", "concurrent", env={"EVENTS_SOAK": "1"}
    )
