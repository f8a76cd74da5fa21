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

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import attrs

from axis_licensing._enums import Action
from axis_licensing.members.model import Role, TokenFields

__all__ = [
    "AccountCreated",
    "MemberFact",
    "MemberInvited",
    "MemberJoined",
    "MemberRemoved",
    "MemberRoleChanged",
    "TokenCreated",
    "TokenRevoked",
    "with_action",
]


_C = TypeVar("_C", bound=type)


def with_action(action: str) -> Callable[[_C], _C]:
    """A class decorator, under ``@attrs.frozen``: the fact class's history ``ACTION``."""

    def named(cls: _C) -> _C:
        setattr(cls, "ACTION", action)  # noqa: B010  (ACTION is a ClassVar of the base)
        return cls

    return named


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
@with_action("account_created")
class AccountCreated(MemberFact):
    """An account was created (``vendor``: it may run the vendor's commands)."""

    account_id: str
    name: str
    vendor: bool


@attrs.frozen
@with_action(Action.MEMBER_INVITED)
class MemberInvited(MemberFact):
    """An account was invited into the organization with a role, until ``expires_at``."""

    account_id: str
    role: Role
    expires_at: datetime


@attrs.frozen
@with_action(Action.MEMBER_JOINED)
class MemberJoined(MemberFact):
    """An account became a member (it accepted an invitation, or created the organization)."""

    account_id: str
    role: Role


@attrs.frozen
@with_action(Action.MEMBER_ROLE_CHANGED)
class MemberRoleChanged(MemberFact):
    """A member's role changed from ``previous`` to ``role``."""

    account_id: str
    role: Role
    previous: Role


@attrs.frozen
@with_action(Action.MEMBER_REMOVED)
class MemberRemoved(MemberFact):
    """A member was removed (it had the role ``previous``)."""

    account_id: str
    previous: Role


@attrs.frozen
@with_action(Action.TOKEN_CREATED)
class TokenCreated(MemberFact, TokenFields):
    """An API token was created for an account (named by id and prefix, never its secret)."""


@attrs.frozen
@with_action(Action.TOKEN_REVOKED)
class TokenRevoked(MemberFact):
    """An API token was revoked."""

    token_id: str
    account_id: str
    prefix: str
