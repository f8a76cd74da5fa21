"""The testing kit installs cleanly (issue 8 item 9).

``axis-licensing[testing]`` declares just what the kit needs, and
``ManualClock``, ``LedgerModel`` and the conformance suite import without
hypothesis; the strategies and the state machine say which extra they need.
The worked example of docs/testing.md runs with the docs' doctests
(tests/test_docs.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import axis_licensing.testing

ROOT = Path(__file__).resolve().parent.parent


def test_the_testing_extra_holds_hypothesis_and_pytest() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extra = project["optional-dependencies"]["testing"]
    assert sorted(requirement.split(">")[0] for requirement in extra) == ["hypothesis", "pytest"]


def _without_hypothesis(code: str) -> subprocess.CompletedProcess[str]:
    blocker = "import sys\nsys.modules['hypothesis'] = None  # as if not installed\n"
    return subprocess.run(
        [sys.executable, "-c", blocker + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        timeout=120,
        check=False,
    )


def test_manual_clock_and_the_conformance_suite_import_without_hypothesis() -> None:
    done = _without_hypothesis(
        """
        from datetime import UTC, datetime
        from axis_licensing.testing import LedgerModel, ManualClock
        from axis_licensing.testing.conformance import BackendConformance
        clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
        print(clock.advance(days=2).date(), BackendConformance.__name__, LedgerModel.__name__)
        """
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "2026-01-03 BackendConformance LedgerModel\n"


def test_the_strategies_name_the_extra_they_need_without_hypothesis() -> None:
    done = _without_hypothesis(
        """
        import axis_licensing.testing as kit
        for name in ("strategies", "make_ledger_machine"):
            try:
                getattr(kit, name)
            except ImportError as exc:
                print(exc)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "axis_licensing.testing.strategies needs hypothesis: pip install 'axis-licensing[testing]'",
        "axis_licensing.testing.make_ledger_machine needs hypothesis: "
        "pip install 'axis-licensing[testing]'",
    ]


def test_every_name_of_the_kit_loads_with_hypothesis() -> None:
    for name in axis_licensing.testing.__all__:
        assert getattr(axis_licensing.testing, name) is not None
    assert "strategies" in dir(axis_licensing.testing)
