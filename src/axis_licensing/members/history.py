"""The members' facts in an organization's history (SPEC §8, R11).

What the member commands record, and what the shell records when the account
that creates an organization becomes its owner, in the same transaction. Both
the pipeline (``create_organization``) and :mod:`.service` use these; neither
is imported here, so the shell reaches them without an import cycle.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime

from axis_licensing.members import decide, model
from axis_licensing.members.facts import MemberFact
from axis_licensing.members.store import StoreWriteTx, writer
from axis_licensing.model import Activity
from axis_licensing.shell import transact

__all__ = ["record_creator", "record_facts", "record_owner"]


def record_facts(
    tx: StoreWriteTx,
    org_id: str,
    actor: str,
    facts: Sequence[MemberFact],
    now: datetime,
) -> builtins.list[Activity]:
    """Lock ``org_id`` and append ``facts`` to its history as one new version (no part changes).

    Their events are written in the same transaction (the outbox, SPEC §7),
    and the shell tells them to observers once it commits (:func:`.transact.record`).

    Returns:
        The activities recorded.

    Raises:
        UnknownOrganization: no such organization.
        StorageError: the store failed.
    """
    return transact.record_facts(
        tx, org_id, actor, [(str(f.ACTION), f.details()) for f in facts], now
    )


def record_creator(tx: object, org_id: str, actor: str, now: datetime) -> model.Membership | None:
    """Make the account that created ``org_id`` its owner, in the creating transaction (SPEC §8).

    For the shell's ``create_organization``: call it in the same write
    transaction, after the organization exists. It does nothing (None) when the
    store has no accounts, or ``actor`` is not an account.

    Raises:
        StorageError: the store failed, or does not store members.
    """
    made = record_owner(tx, org_id, actor, now)
    return None if made is None else made[0]


def record_owner(
    tx: object, org_id: str, actor: str, now: datetime
) -> tuple[model.Membership, builtins.list[Activity]] | None:
    """:func:`record_creator`, with the activities it recorded (for the shell to notify).

    Raises:
        StorageError: the store failed, or does not store members.
    """
    mtx = writer(tx)
    if not mtx.has_accounts() or mtx.account(actor) is None:
        return None
    row, fact = decide.decide_creator(mtx.org_members(org_id), org_id=org_id, account_id=actor)
    mtx.put_membership(row)
    mtx.bump_access_version()
    activities = record_facts(mtx, org_id, actor, [fact], now)
    return decide.membership_of(row), activities
