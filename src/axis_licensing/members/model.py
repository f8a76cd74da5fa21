"""The values of members and roles (SPEC §8): accounts, memberships, invitations, tokens.

Frozen attrs classes named as nouns, as the rest of the public API. A value
that carries a secret (:class:`Invitation`, :class:`IssuedToken`) is returned
once, by the command that made it; its ``repr`` never shows the secret.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

__all__ = ["Account", "Invitation", "IssuedToken", "Membership", "Role", "TokenInfo"]


class Role(enum.StrEnum):
    """A member's role in one organization (SPEC §8).

    - ``viewer``: queries only;
    - ``admin``: every command of the organization;
    - ``owner``: an admin who also manages members, webhooks and tokens.

    Members compare equal to their lower-case values (``Role.OWNER == "owner"``).
    """

    VIEWER = "viewer"
    ADMIN = "admin"
    OWNER = "owner"


@attrs.frozen
class Account:
    """A person or program that signs in (SPEC §8).

    Attributes:
        account_id: the account's id; it is the actor recorded in the history.
        name: the name shown to people.
        vendor: whether the account may run the vendor's commands (``vendor.*``).
        created_at: when the account was created (UTC).
    """

    account_id: str
    name: str
    vendor: bool
    created_at: datetime


@attrs.frozen
class Membership:
    """An account's role in one organization (SPEC §8)."""

    account_id: str
    org_id: str
    role: Role


@attrs.frozen
class Invitation:
    """An invitation of an account into an organization, with a role (SPEC §8).

    Attributes:
        token: the one-time secret of the invitation link; shown here only,
            stored hashed, and left out of ``repr``.
        org_id: the organization.
        account_id: the account invited; only it may accept.
        role: the role it gets on accepting.
        expires_at: the invitation is refused from this instant on (7 days after it was made).
    """

    token: str = attrs.field(repr=False)
    org_id: str
    account_id: str
    role: Role
    expires_at: datetime


@attrs.frozen
class TokenFields:
    """What an API token is made with (:class:`TokenInfo` and the ``token_created`` fact).

    Attributes:
        token_id: the token's id.
        account_id: the account the token acts for.
        prefix: the public start of the secret.
        orgs: the organizations it may reach, sorted; ``None`` means every one of its account.
        read_only: whether it may run queries only.
        expires_at: when it stops working, or ``None`` for never.
    """

    token_id: str
    account_id: str
    prefix: str
    orgs: tuple[str, ...] | None
    read_only: bool
    expires_at: datetime | None


@attrs.frozen
class TokenInfo(TokenFields):
    """An API token, as listed: everything but its secret (SPEC §8).

    Attributes:
        token_id: the token's id, for ``tokens.revoke``.
        account_id: the account the token acts for.
        prefix: the public start of the secret (``axl_`` and 8 characters), to recognize it.
        orgs: the organizations it may reach, sorted; ``None`` means every
            organization its account is a member of.
        read_only: whether it may run queries only.
        expires_at: when it stops working, or ``None`` for never.
        created_at: when it was made.
        last_used_at: when it last authenticated a request (to the minute), or ``None``.
        revoked_at: when it was revoked, or ``None``.
    """

    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def reaches(self, org_id: str) -> bool:
        """Whether the token's limits let it act in ``org_id`` (its account's role aside)."""
        return self.orgs is None or org_id in self.orgs


@attrs.frozen
class IssuedToken:
    """A token just created: its secret, shown this once, and its description.

    Attributes:
        secret: the bearer token (``axl_…``); stored only as its SHA-256, left out of ``repr``.
        info: what ``tokens.list`` shows of it.
    """

    secret: str = attrs.field(repr=False)
    info: TokenInfo
