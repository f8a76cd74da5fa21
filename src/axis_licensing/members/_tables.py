"""The stored rows of members and roles (SPEC §8), and their tables for ``migrate``.

Backends store and fetch these rows; they decide nothing. Secrets are never
stored: a password as its Argon2id hash, an invitation or API token as the
SHA-256 of its secret. Instants are whole microseconds since the epoch (UTC),
as everywhere in the store.

This module imports attrs only, so :mod:`axis_licensing.backends` may import
it to list the tables (``TABLES``, ``EXPORT_COLUMNS``).
"""

from __future__ import annotations

import attrs

__all__ = [
    "ACCESS_VERSION",
    "MEMBER_COLUMNS",
    "MEMBER_ORDER",
    "MEMBER_TABLES",
    "AccountRow",
    "InvitationRow",
    "MembershipRow",
    "TokenRow",
]

#: The name of the store-wide access version in ``access_version``: it goes up with
#: every change of accounts, memberships or tokens, in the change's transaction, so a
#: process that caches any of them sees a change at its next read of this one row.
ACCESS_VERSION = "access"

#: The export row format (as ``backends.EXPORT_COLUMNS``) of the member tables, in
#: the order ``migrate`` copies them.
MEMBER_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id", "name", "password_hash", "vendor", "created_at_us"),
    "memberships": ("org_id", "account_id", "role"),
    "invitations": (
        "token_hash",
        "org_id",
        "account_id",
        "role",
        "invited_by",
        "created_at_us",
        "expires_at_us",
        "used_at_us",
    ),
    "api_tokens": (
        "token_id",
        "token_hash",
        "account_id",
        "prefix",
        "orgs",
        "read_only",
        "created_at_us",
        "expires_at_us",
        "last_used_at_us",
        "revoked_at_us",
    ),
    "access_version": ("name", "value"),
}

#: The member tables, in the order ``migrate`` copies them.
MEMBER_TABLES: tuple[str, ...] = tuple(MEMBER_COLUMNS)

#: The stable export order of each member table (its primary key).
MEMBER_ORDER: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id",),
    "memberships": ("org_id", "account_id"),
    "invitations": ("token_hash",),
    "api_tokens": ("token_id",),
    "access_version": ("name",),
}


@attrs.frozen
class AccountRow:
    """A stored account; ``password_hash`` is Argon2id's encoded hash, or None (no password)."""

    account_id: str
    name: str
    password_hash: str | None = attrs.field(repr=False)
    vendor: int
    created_at_us: int


@attrs.frozen
class MembershipRow:
    """A stored membership: ``role`` is a :class:`~axis_licensing.members.Role` value."""

    org_id: str
    account_id: str
    role: str


@attrs.frozen
class InvitationRow:
    """A stored invitation, by the SHA-256 of its token; ``used_at_us`` once accepted."""

    token_hash: str = attrs.field(repr=False)
    org_id: str
    account_id: str
    role: str
    invited_by: str
    created_at_us: int
    expires_at_us: int
    used_at_us: int | None = None


@attrs.frozen
class TokenRow:
    """A stored API token, by the SHA-256 of its secret.

    ``orgs`` is a JSON list of organization ids, or None for every organization
    of the account; ``read_only`` is 0 or 1.
    """

    token_id: str
    token_hash: str = attrs.field(repr=False)
    account_id: str
    prefix: str
    orgs: str | None
    read_only: int
    created_at_us: int
    expires_at_us: int | None = None
    last_used_at_us: int | None = None
    revoked_at_us: int | None = None
