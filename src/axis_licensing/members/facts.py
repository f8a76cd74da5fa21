"""What happened to accounts, memberships and tokens (SPEC §8): one class per kind of fact.

Each fact is recorded in the history (R11) as an activity whose ``action`` is
the class's :attr:`ACTION` and whose ``details`` are :meth:`details`. A fact
never holds a secret: not a password, nor its hash, nor a token or invitation
secret (a token is named by its id and public prefix).

Where each is recorded: membership facts in the organization's history;
token facts in the history of every organization the token reaches (its
``orgs``, or every organization of its account); :class:`AccountCreated`
belongs to no organization, and is returned to the shell only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import attrs

from axis_licensing._enums import Action
from axis_licensing.members.model import Role

__all__ = [
    "AccountCreated",
    "MemberFact",
    "MemberInvited",
    "MemberJoined",
    "MemberRemoved",
    "MemberRoleChanged",
    "TokenCreated",
    "TokenRevoked",
]


@attrs.frozen
class MemberFact:
    """The base of the facts of this module."""

    #: The history ``action`` of this kind of fact.
    ACTION: ClassVar[str] = ""

    def details(self) -> dict[str, Any]:
        """The activity's details: the fact's fields as JSON-ready data (never a secret)."""
        out: dict[str, Any] = {}
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, Role):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            out[field.name] = value
        return out


@attrs.frozen
class AccountCreated(MemberFact):
    """An account was created (``vendor``: it may run the vendor's commands)."""

    ACTION: ClassVar[str] = "account_created"

    account_id: str
    name: str
    vendor: bool


@attrs.frozen
class MemberInvited(MemberFact):
    """An account was invited into the organization with a role, until ``expires_at``."""

    ACTION: ClassVar[str] = Action.MEMBER_INVITED

    account_id: str
    role: Role
    expires_at: datetime


@attrs.frozen
class MemberJoined(MemberFact):
    """An account became a member (it accepted an invitation, or created the organization)."""

    ACTION: ClassVar[str] = Action.MEMBER_JOINED

    account_id: str
    role: Role


@attrs.frozen
class MemberRoleChanged(MemberFact):
    """A member's role changed from ``previous`` to ``role``."""

    ACTION: ClassVar[str] = Action.MEMBER_ROLE_CHANGED

    account_id: str
    role: Role
    previous: Role


@attrs.frozen
class MemberRemoved(MemberFact):
    """A member was removed (it had the role ``previous``)."""

    ACTION: ClassVar[str] = Action.MEMBER_REMOVED

    account_id: str
    previous: Role


@attrs.frozen
class TokenCreated(MemberFact):
    """An API token was created for an account (named by id and prefix, never its secret)."""

    ACTION: ClassVar[str] = Action.TOKEN_CREATED

    token_id: str
    account_id: str
    prefix: str
    orgs: tuple[str, ...] | None
    read_only: bool
    expires_at: datetime | None


@attrs.frozen
class TokenRevoked(MemberFact):
    """An API token was revoked."""

    ACTION: ClassVar[str] = Action.TOKEN_REVOKED

    token_id: str
    account_id: str
    prefix: str
