"""The pure decisions of the member commands (SPEC §8).

Each ``decide_*`` takes what the shell read from the store, the checked
arguments and the instant, and returns the rows to write and the facts that
happened, or raises. Nothing here reads a clock, touches storage or draws
random numbers: secrets and ids are made by the shell and passed in, hashed.
Who may run a command is asked before, outside the transaction, of the
``axis_licensing_authorize`` hook (the built-in roles plugin answers by
:mod:`.roles`).

The rule of owners: an organization always keeps at least one owner, so
removing or demoting its last owner raises :class:`~axis_licensing.errors.LastOwner`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from axis_licensing._time import from_us, to_us
from axis_licensing.errors import (
    AlreadyExists,
    InvalidInput,
    InvitationInvalid,
    LastOwner,
    NotFound,
    UnknownAccount,
)
from axis_licensing.members._tables import AccountRow, InvitationRow, MembershipRow, TokenRow
from axis_licensing.members.facts import (
    AccountCreated,
    MemberInvited,
    MemberJoined,
    MemberRemoved,
    MemberRoleChanged,
    TokenCreated,
    TokenRevoked,
)
from axis_licensing.members.model import Account, Membership, Role, TokenInfo

__all__ = [
    "INVITATION_LIFETIME",
    "account_of",
    "decide_accept",
    "decide_create_account",
    "decide_creator",
    "decide_invite",
    "decide_remove",
    "decide_revoke_token",
    "decide_set_role",
    "decide_token",
    "membership_of",
    "token_info_of",
]

#: An invitation is refused from this long after it was made (SPEC §8).
INVITATION_LIFETIME = timedelta(days=7)


def account_of(row: AccountRow) -> Account:
    """The public value of a stored account (no password hash)."""
    return Account(row.account_id, row.name, bool(row.vendor), from_us(row.created_at_us))


def membership_of(row: MembershipRow) -> Membership:
    """The public value of a stored membership."""
    return Membership(row.account_id, row.org_id, Role(row.role))


def _instant(micros: int | None) -> datetime | None:
    return None if micros is None else from_us(micros)


def token_info_of(row: TokenRow) -> TokenInfo:
    """The public value of a stored token (no hash, no secret)."""
    return TokenInfo(
        token_id=row.token_id,
        account_id=row.account_id,
        prefix=row.prefix,
        orgs=None if row.orgs is None else tuple(json.loads(row.orgs)),
        read_only=bool(row.read_only),
        expires_at=_instant(row.expires_at_us),
        created_at=from_us(row.created_at_us),
        last_used_at=_instant(row.last_used_at_us),
        revoked_at=_instant(row.revoked_at_us),
    )


def decide_create_account(
    existing: AccountRow | None,
    *,
    account_id: str,
    name: str,
    password_hash: str | None,
    vendor: bool,
    at: datetime,
) -> tuple[AccountRow, AccountCreated]:
    """A new account.

    Raises:
        AlreadyExists: the id is taken.
    """
    if existing is not None:
        raise AlreadyExists(
            f"an account {account_id!r} already exists", details={"account_id": account_id}
        )
    row = AccountRow(account_id, name, password_hash, int(vendor), to_us(at))
    return row, AccountCreated(account_id, name, vendor)


def _unknown_member(org_id: str, account_id: str) -> UnknownAccount:
    return UnknownAccount(
        f"account {account_id!r} is not a member of organization {org_id!r}",
        details={"account_id": account_id, "org_id": org_id},
    )


def decide_invite(
    *,
    org_id: str,
    account: AccountRow | None,
    account_id: str,
    existing: MembershipRow | None,
    role: Role,
    token_hash: str,
    invited_by: str,
    at: datetime,
) -> tuple[InvitationRow, MemberInvited]:
    """An invitation of ``account_id`` into ``org_id``, valid for :data:`INVITATION_LIFETIME`.

    Raises:
        UnknownAccount: no account has this id.
        AlreadyExists: the account is already a member (change its role instead).
    """
    if account is None:
        raise UnknownAccount(
            f"no account has the id {account_id!r}", details={"account_id": account_id}
        )
    if existing is not None:
        raise AlreadyExists(
            f"account {account_id!r} is already a member of organization {org_id!r}; "
            "change its role instead",
            details={"account_id": account_id, "org_id": org_id},
        )
    expires = at + INVITATION_LIFETIME
    row = InvitationRow(
        token_hash, org_id, account_id, role.value, invited_by, to_us(at), to_us(expires)
    )
    return row, MemberInvited(account_id, role, expires)


def decide_accept(
    invitation: InvitationRow | None,
    *,
    account_id: str,
    existing: MembershipRow | None,
    at: datetime,
) -> tuple[MembershipRow, MemberJoined | None]:
    """The membership an invitation gives, as ``account_id`` accepts it at ``at``.

    An account that became a member meanwhile keeps its role (no fact).

    Raises:
        InvitationInvalid: no such invitation, it was used, it has expired, or it
            was made for another account (one answer for all four).
    """
    if (
        invitation is None
        or invitation.used_at_us is not None
        or to_us(at) >= invitation.expires_at_us
        or invitation.account_id != account_id
    ):
        raise InvitationInvalid("this invitation was used, has expired, or does not exist")
    if existing is not None:
        return existing, None
    role = Role(invitation.role)
    return MembershipRow(invitation.org_id, account_id, role.value), MemberJoined(account_id, role)


def decide_creator(
    members: Sequence[MembershipRow], *, org_id: str, account_id: str
) -> tuple[MembershipRow, MemberJoined]:
    """The owner membership of the account that created an organization (SPEC §8).

    Raises:
        AlreadyExists: the organization has members already.
    """
    if members:
        raise AlreadyExists(
            f"organization {org_id!r} already has members", details={"org_id": org_id}
        )
    return MembershipRow(org_id, account_id, Role.OWNER.value), MemberJoined(account_id, Role.OWNER)


def _find(members: Sequence[MembershipRow], org_id: str, account_id: str) -> MembershipRow:
    for row in members:
        if row.account_id == account_id:
            return row
    raise _unknown_member(org_id, account_id)


def _keeps_an_owner(members: Sequence[MembershipRow], current: MembershipRow, org_id: str) -> None:
    owners = sum(1 for row in members if row.role == Role.OWNER)
    if current.role == Role.OWNER and owners <= 1:
        raise LastOwner(
            f"account {current.account_id!r} is the last owner of organization {org_id!r}; "
            "make another member owner first",
            details={"org_id": org_id, "account_id": current.account_id},
        )


def decide_set_role(
    members: Sequence[MembershipRow], *, org_id: str, account_id: str, role: Role
) -> tuple[MembershipRow, MemberRoleChanged | None]:
    """The member's new role; no fact when it already has it.

    Args:
        members: every membership of the organization.
        org_id: the organization.
        account_id: the member.
        role: its new role.

    Raises:
        UnknownAccount: the account is not a member.
        LastOwner: it is the last owner and would no longer be one.
    """
    current = _find(members, org_id, account_id)
    if current.role == role:
        return current, None
    _keeps_an_owner(members, current, org_id)
    fact = MemberRoleChanged(account_id, role, Role(current.role))
    return MembershipRow(org_id, account_id, role.value), fact


def decide_remove(
    members: Sequence[MembershipRow], *, org_id: str, account_id: str
) -> tuple[MembershipRow, MemberRemoved]:
    """The membership to delete.

    Raises:
        UnknownAccount: the account is not a member.
        LastOwner: it is the last owner.
    """
    current = _find(members, org_id, account_id)
    _keeps_an_owner(members, current, org_id)
    return current, MemberRemoved(account_id, Role(current.role))


def decide_token(
    *,
    account: AccountRow | None,
    account_id: str,
    member_of: Sequence[str],
    orgs: tuple[str, ...] | None,
    read_only: bool,
    expires_at: datetime | None,
    token_id: str,
    token_hash: str,
    prefix: str,
    at: datetime,
) -> tuple[TokenRow, TokenCreated]:
    """A new API token of ``account_id``.

    Args:
        account: the stored account, or None.
        account_id: the account.
        member_of: the organizations the account is a member of.
        orgs: the organizations the token is limited to (sorted, unique), or None.
        read_only: whether it may run queries only.
        expires_at: when it stops working, or None.
        token_id: its new id.
        token_hash: the SHA-256 of its secret.
        prefix: its public prefix.
        at: now.

    Raises:
        UnknownAccount: no account has this id.
        InvalidInput: ``orgs`` names an organization the account is not a member
            of, or ``expires_at`` is not after ``at``.
    """
    if account is None:
        raise UnknownAccount(
            f"no account has the id {account_id!r}", details={"account_id": account_id}
        )
    if orgs is not None:
        outside = sorted(set(orgs) - set(member_of))
        if outside:
            raise InvalidInput(
                f"account {account_id!r} is not a member of {', '.join(map(repr, outside))}",
                param="orgs",
            )
    if expires_at is not None and expires_at <= at:
        raise InvalidInput("expires_at must be after now", param="expires_at")
    row = TokenRow(
        token_id=token_id,
        token_hash=token_hash,
        account_id=account_id,
        prefix=prefix,
        orgs=None if orgs is None else json.dumps(list(orgs)),
        read_only=int(read_only),
        created_at_us=to_us(at),
        expires_at_us=None if expires_at is None else to_us(expires_at),
    )
    fact = TokenCreated(token_id, account_id, prefix, orgs, read_only, expires_at)
    return row, fact


def decide_revoke_token(
    token: TokenRow | None, *, token_id: str, at: datetime
) -> tuple[TokenRow, TokenRevoked | None]:
    """The revoked token; no fact when it already was revoked.

    Raises:
        NotFound: no token has this id.
    """
    if token is None:
        raise NotFound(f"no API token has the id {token_id!r}", details={"token_id": token_id})
    if token.revoked_at_us is not None:
        return token, None
    revoked = attrs.evolve(token, revoked_at_us=to_us(at))
    return revoked, TokenRevoked(token.token_id, token.account_id, token.prefix)
