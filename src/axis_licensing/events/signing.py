"""Webhook secrets and signatures, after the Standard Webhooks specification (SPEC §7).

The signing itself is the ``standardwebhooks`` package's (``Webhook.sign``): ``v1``
HMAC-SHA256 over ``"{webhook-id}.{webhook-timestamp}.{body}"`` with the key a
``whsec_`` secret carries. During a secret rotation each delivery is signed with
both the new and the previous secret, the two ``v1,…`` entries separated by a
space, so a receiver verifies with whichever secret it holds.

A secret is never logged, never put in an error and never in an event or the
history: :func:`mask` gives what may be shown.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

from axis_licensing.errors import InvalidInput

__all__ = ["SECRET_BYTES", "SECRET_PREFIX", "check_secret", "mask", "new_secret", "sign_headers"]

#: Every signing secret starts with this.
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
#: Random bytes in a new secret (256 bits, as long as HMAC-SHA256's block needs).
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64 (from :mod:`secrets`)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def check_secret(secret: str) -> str:
    """``secret`` if it is a well-formed ``whsec_`` secret of at least 24 bytes.

    Raises:
        InvalidInput: not a ``whsec_`` secret (the message never repeats it).
    """
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise InvalidInput("a webhook secret starts with 'whsec_'", param="secret")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except ValueError as exc:
        raise InvalidInput("a webhook secret is base64 after 'whsec_'", param="secret") from exc
    if len(key) < 24:
        raise InvalidInput("a webhook secret holds at least 24 bytes", param="secret")
    return secret


def mask(secret: str | None) -> str:
    """What may be shown of a secret: its prefix only (``whsec_…``)."""
    return "" if not secret else SECRET_PREFIX + "…"


def sign_headers(
    msg_id: str, timestamp: datetime, body: bytes, secrets_: Sequence[str]
) -> dict[str, str]:
    """The Standard Webhooks headers of one delivery.

    Args:
        msg_id: the event's id (``webhook-id``; the same on every retry).
        timestamp: the moment of sending (``webhook-timestamp``, whole seconds).
        body: the exact request body.
        secrets_: the current secret, then, during a rotation, the previous one.

    Returns:
        ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (one
        ``v1,…`` entry per secret, space-separated), and ``content-type``.

    Raises:
        ValueError: no secret was given, or a secret is malformed.
    """
    if not secrets_:
        raise ValueError("a delivery needs at least one signing secret")
    signatures = [Webhook(s).sign(msg_id, timestamp, body) for s in secrets_]
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
