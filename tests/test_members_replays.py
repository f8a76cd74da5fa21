"""Member commands repeated with their request id answer the first result (R13, SPEC §8)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock, PermissionDenied
from axis_licensing.members import passwords


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        passwords, "hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def test_the_bootstrap_account_replays_after_the_store_has_accounts(
    backend_url: str, clock: ManualClock
) -> None:
    """Anyone may create the first account; a retried setup script gets it again."""
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        first = m.accounts.create("al", name="Al", actor="setup", request_id="acc-1")
        again = m.accounts.create("al", name="Al", actor="setup", request_id="acc-1")
        assert again == first
        assert (again.account_id, again.name, again.vendor) == ("al", "Al", False)
        # not a repeat: the store has an account now, so "setup" may not create one
        with pytest.raises(PermissionDenied, match=r"'setup' may not accounts\.create"):
            m.accounts.create("al", name="Al", actor="setup", request_id="acc-2")
        with pytest.raises(PermissionDenied):
            m.accounts.create("bo", name="Bo", actor="setup", request_id="acc-1")
        with pytest.raises(PermissionDenied):
            m.accounts.create("al", name="Al", actor="setup")
        assert [a.account_id for a in m.members.of_account("al")] == []
