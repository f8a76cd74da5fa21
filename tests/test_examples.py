"""The scripts under ``examples/`` run, and print the values the docs promise.

Each example is loaded by path and its ``main()`` called; its output is
compared line by line, so a change in the rules that moves a date or a
count shows up here.
"""

from __future__ import annotations

import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest

from axis_licensing.backends import Backend
from axis_licensing.testing.conformance import BackendConformance, MakeBackend

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(name: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run ``examples/<name>.py``'s ``main()`` and return its output lines."""
    namespace = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")
    main = cast(Callable[[], None], namespace["main"])
    capsys.readouterr()
    main()
    return capsys.readouterr().out.splitlines()


#: What each example prints, line by line (the SPEC rules it shows in the comment).
PRINTS = {
    # R3, R6, R7
    "quickstart": [
        "trial: window ends on 2026-04-09",
        "redeemed {'core': 12, 'door': 2} expiring 2031-03-17",
        "allocated {'core': 10, 'door': 2}",
        "licensed through 2027-03-10",
        "wallet {'core': 2}",
    ],
    # R12
    "offline_system": [
        "trial license file: trial, may run=True, valid until 2026-01-30",
        "licensed=True devices={'core': 8, 'door': 4}",
        "valid until 2027-01-31 (UTC)",
        "forged file refused: the license file cannot be trusted: "
        "its signature does not match its content",
        "a year later: the license file was valid until 2027-01-31 and today is 2027-02-05 in UTC",
    ],
    # R11: the webhook and authorize plugins
    "webhook_plugin": [
        "refused: 'bob' may not allocate_need",
        "webhook sent 5 payloads:",
        "  2026-01-01 organization_created by ann",
        "  2026-01-01 system_registered by ann",
        "  2026-01-01 subscription_started by ann",
        "  2026-01-01 key_redeemed by bob",
        "  2026-01-01 licenses_allocated by ann",
    ],
    # SPEC §4: a backend plugin
    "custom_backend": [
        "backend CountingBackend, product trial",
        "transactions: {'read': 1, 'write': 2}",
    ],
}


def test_every_example_is_tested() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.py")) == [
        "custom_backend",
        "offline_system",
        "quickstart",
        "webhook_plugin",
    ]
    assert sorted(PRINTS) == sorted(p.stem for p in EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("name", list(PRINTS))
def test_example_prints_what_the_docs_promise(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(name, capsys) == PRINTS[name]


@pytest.mark.parametrize("name", sorted(PRINTS))
def test_examples_run_as_scripts(name: str) -> None:
    """``python examples/<name>.py`` runs ``main()`` through its ``__main__`` guard."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stderr == ""
    assert done.stdout.splitlines()[0] == PRINTS[name][0]


class TestCustomBackendConformance(BackendConformance):
    """SPEC §4: the example's third-party backend passes the conformance kit, as documented."""

    shared = False  # each CountingBackend is a store of its own

    @pytest.fixture
    def make_backend(self) -> MakeBackend:
        namespace = runpy.run_path(str(EXAMPLES / "custom_backend.py"), run_name="example_backend")
        factory = namespace["CountingBackend"]
        return lambda: cast(Backend, factory("counting://"))
