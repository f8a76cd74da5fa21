"""A short seeded soak in the normal suite (R13); ``nox -s soak`` runs 100,000 operations.

The same random command sequence goes into memory, SQLite and PostgreSQL in
lockstep: every answer, and every organization's ledger and history, must be
the same on all three.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from axis_licensing import Manager
from conftest import require_postgres
from soak import Diverged, soak

#: Operations of the short soak: enough to reach renewals, expiries and hardware.
SHORT_OPS = 2_000


def test_r13_short_soak_gives_the_same_answers_and_ledgers_on_every_backend() -> None:
    require_postgres()
    progress = io.StringIO()
    final = soak(
        SHORT_OPS, 7, ("memory", "sqlite", "postgresql"), check_every=500, progress=progress
    )
    lines = progress.getvalue().splitlines()
    assert [line.split(":")[1].split()[0] for line in lines[:4]] == [
        "500/2,000",
        "1,000/2,000",
        "1,500/2,000",
        "2,000/2,000",
    ]
    assert f"ledger {final[:12]}" in lines[3]
    outcomes = dict(item.split("=") for item in lines[4].removeprefix("outcomes: ").split(", "))
    for kind in ("allocate:ok", "buy:ok", "register_hardware:ok", "upload_system_file:ok"):
        assert int(outcomes[kind]) > 0, f"the soak never reached {kind}"


def test_r13_the_soak_is_reproducible_and_names_the_first_divergence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert soak(300, 11, ("memory", "memory")) == soak(300, 11, ("memory",))
    import soak as module

    original = module.outcome
    calls = {"n": 0}

    def flaky(call: Callable[[Manager], object], m: Manager) -> str:
        calls["n"] += 1  # two backends: the 41st answer is the second one of operation 21
        answer = original(call, m)
        return answer + "!" if calls["n"] == 41 else answer

    monkeypatch.setattr(module, "outcome", flaky)
    with pytest.raises(Diverged, match=r"seed 11, operation 21 \("):
        soak(300, 11, ("memory", "memory"))
