"""Member commands racing on one organization from two Managers (SPEC §8, R13).

"An organization always keeps at least one owner", also when two owners demote
or remove each other at the same moment from two processes' Managers: a member
command locks its organization, as every command of it does, so the second
sees the first's change and is refused (``LastOwner``, or ``PermissionDenied``
when its actor is no longer an owner).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

import pytest
from argon2 import PasswordHasher

from axis_licensing import EXAMPLE_CATALOG, LastOwner, Manager, PermissionDenied
from axis_licensing.members import Role, passwords

ROUNDS = 8


def _race(first: Callable[[], object], second: Callable[[], object]) -> list[BaseException]:
    """Run both at once (released together by a barrier); what they raised."""
    barrier = threading.Barrier(2)
    raised: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as exc:
            raised.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return raised


@pytest.mark.parametrize("how", ["set_role", "remove"])
def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    persistent_url: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        passwords, "hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    with (
        Manager.open(persistent_url, catalog=EXAMPLE_CATALOG) as m,
        Manager.open(persistent_url) as one,
        Manager.open(persistent_url) as other,
    ):
        m.accounts.create("ann", name="Ann", actor="setup")
        m.accounts.create("bob", name="Bob", actor="ann")

        def demote(manager: Manager, org: str, account_id: str, actor: str) -> None:
            if how == "set_role":
                manager.members.set_role(org, account_id, "viewer", actor=actor)
            else:
                manager.members.remove(org, account_id, actor=actor)

        for n in range(ROUNDS):
            org = f"org-{n}"
            m.create_organization(org, name="Org", actor="ann")
            invitation = m.members.invite(org, "bob", role="owner", actor="ann")
            m.members.accept(invitation.token, account_id="bob")
            raised = _race(
                partial(demote, one, org, "ann", "bob"), partial(demote, other, org, "bob", "ann")
            )
            # the second is refused: LastOwner, or PermissionDenied when the roles were
            # asked (before its transaction) after the first had made its actor a viewer
            assert [type(exc) in (LastOwner, PermissionDenied) for exc in raised] == [True], (
                org,
                raised,
            )
            owners = [x.account_id for x in m.members.list(org) if x.role is Role.OWNER]
            assert len(owners) == 1, (org, owners)
