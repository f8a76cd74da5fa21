"""API token and invitation secrets (SPEC §8): their form, and how they are stored.

An API token is ``axl_`` + 8 public characters + ``_`` + 43 characters of
``secrets.token_urlsafe(32)`` (256 random bits). Its first 12 characters (``axl_``
and the public part) are its *prefix*, shown in lists to recognize it. An
invitation token is ``axi_`` + 43 such characters.

Both are stored as the SHA-256 of the whole secret, never the secret: they are
high-entropy, so a fast hash is safe, and a lookup by hash is one indexed read.
The secret is shown once, by the command that made it.

An invitation made with a ``request_id`` takes its secret from an HMAC of the
request (keyed by a random key of the store's ``meta``), so a replay of the
same request answers the same link without the secret ever being stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

__all__ = [
    "INVITATION_PREFIX",
    "TOKEN_PREFIX",
    "derived_invitation_token",
    "hash_secret",
    "is_token_secret",
    "new_invitation_token",
    "new_key",
    "new_token",
    "new_token_id",
]

#: Every API token starts so, which makes a leaked token easy to recognize and scan for.
TOKEN_PREFIX = "axl_"  # noqa: S105 - a public marker, not a secret
#: Every invitation token starts so.
INVITATION_PREFIX = "axi_"

_PUBLIC_ALPHABET = string.ascii_lowercase + string.digits
_PUBLIC_LENGTH = 8
#: ``secrets.token_urlsafe(32)`` is 43 characters.
_SECRET_LENGTH = 43
_TOKEN_LENGTH = len(TOKEN_PREFIX) + _PUBLIC_LENGTH + 1 + _SECRET_LENGTH
_SEPARATOR = len(TOKEN_PREFIX) + _PUBLIC_LENGTH


def hash_secret(secret: str) -> str:
    """The SHA-256 of a token or invitation secret, lower-case hex, as the store keeps it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A new API token secret and its public prefix.

    Returns:
        ``(secret, prefix)``: the secret, shown once, and its first 12 characters.
    """
    public = "".join(secrets.choice(_PUBLIC_ALPHABET) for _ in range(_PUBLIC_LENGTH))
    prefix = TOKEN_PREFIX + public
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


def new_token_id() -> str:
    """A new token id (``tok_`` and 16 hex digits): public, used to revoke a token."""
    return "tok_" + secrets.token_hex(8)


def is_token_secret(value: object) -> bool:
    """Whether ``value`` has the form of an API token: its length, ``axl_`` and the ``_``.

    A cheap test before any lookup; what else a secret holds is checked by its
    hash matching a stored one.
    """
    return (
        isinstance(value, str)
        and len(value) == _TOKEN_LENGTH
        and value.startswith(TOKEN_PREFIX)
        and value[_SEPARATOR] == "_"
    )


def new_invitation_token() -> str:
    """A new random invitation token."""
    return INVITATION_PREFIX + secrets.token_urlsafe(32)


def new_key() -> str:
    """A new random key (64 hex digits) for :func:`derived_invitation_token`."""
    return secrets.token_hex(32)


def derived_invitation_token(key: str, scope: str, request_id: str) -> str:
    """The invitation token of the request ``request_id`` in ``scope``: the same on a replay.

    Args:
        key: the store's invitation key (hex).
        scope: the request's scope (its organization).
        request_id: the caller's request id.

    Returns:
        ``axi_`` + the URL-safe base64 of HMAC-SHA256(key, scope, request_id), 43 characters.
    """
    import base64

    message = f"{scope}\x00{request_id}".encode()
    digest = hmac.new(bytes.fromhex(key), message, hashlib.sha256).digest()
    return INVITATION_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
