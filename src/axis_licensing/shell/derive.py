"""Key derivation: the license key issued for a ``request_id`` (R10, R13).

``vendor.issue_key(..., request_id=...)`` must give the same key when it is
repeated, without the key ever being stored (only its hash is, R10). So its
random part is derived: an HMAC of the request id under a secret that is
itself derived from the signing key. Only whoever holds the signing key can
issue the same key again.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from axis_licensing.shell import keys as _keys

__all__ = ["KeyDeriver"]

_CONTEXT = b"axis-licensing/issue-key/v1:"


class KeyDeriver:
    """Derives the random part of idempotently issued keys from a signing key."""

    def __init__(self, signing_key: Ed25519PrivateKey) -> None:
        raw = signing_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        self._secret = hashlib.sha256(_CONTEXT + raw).digest()

    def key_bytes(self, request_id: str) -> bytes:
        """The random part of the key issued for ``request_id`` (R10, R13).

        Args:
            request_id: the request id of the ``issue_key`` call.

        Returns:
            ``_keys.RANDOM_BYTES`` bytes for :func:`axis_licensing.shell.keys.generate_key`.
        """
        mac = hmac.new(self._secret, f"issue_key:{request_id}".encode(), hashlib.sha256)
        return mac.digest()[: _keys.RANDOM_BYTES]

    def derived(self, label: str, size: int = 32) -> bytes:
        """``size`` bytes derived from the signing key for ``label`` (at most 32).

        Used for secrets a replay must show again without storing them: a
        webhook endpoint's secret added or rotated with a ``request_id`` (SPEC §7).
        """
        return hmac.new(self._secret, label.encode(), hashlib.sha256).digest()[:size]
