"""The default authentication plugin: a tokens file (SPEC §4, §6).

A tokens file is TOML. Each ``[[tokens]]`` entry gives a bearer token (or its
SHA-256 in hex), the actor it stands for, the organizations that actor may
use (``"*"`` for every one) and whether it may run the vendor's commands::

    [[tokens]]
    token = "correct-horse-battery-staple"
    actor = "alice"
    organizations = ["acme", "globex"]

    [[tokens]]
    sha256 = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
    actor = "vendor-bot"
    organizations = []
    vendor = true

Only the SHA-256 of each token is kept in memory. The plugin answers
``axis_licensing_authenticate`` for its tokens and ``axis_licensing_authorize``
for its actors; it has no opinion on actors that other plugins know.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from axis_licensing._validate import check_id
from axis_licensing.errors import InvalidInput
from axis_licensing.hookspecs import hookimpl

__all__ = ["TokenEntry", "TokenFile", "hash_token"]

_HEX = frozenset("0123456789abcdef")


def hash_token(token: str) -> str:
    """The SHA-256 of a token, as the ``sha256`` of a tokens file holds it.

    Args:
        token: the bearer token.

    Returns:
        The SHA-256 of its UTF-8 bytes, in lower-case hex.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@attrs.frozen
class TokenEntry:
    """One token of a tokens file: who it is, and where it may act.

    Attributes:
        sha256: the token's SHA-256, lower-case hex.
        actor: the actor recorded in the history for its commands.
        organizations: the organization ids it may use; ``"*"`` means all.
        vendor: whether it may run the vendor's commands.
    """

    sha256: str
    actor: str
    organizations: frozenset[str] = frozenset()
    vendor: bool = False


def _entry(raw: object, where: str) -> TokenEntry:
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where}: each [[tokens]] entry must be a table")
    unknown = sorted(set(raw) - {"token", "sha256", "actor", "organizations", "vendor"})
    if unknown:
        raise InvalidInput(f"{where}: unknown keys {', '.join(unknown)}")
    token, digest = raw.get("token"), raw.get("sha256")
    if (token is None) == (digest is None):
        raise InvalidInput(f"{where}: give exactly one of token or sha256")
    if token is not None:
        if not isinstance(token, str) or len(token) < 16:
            raise InvalidInput(f"{where}: token must be a string of at least 16 characters")
        digest = hash_token(token)
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest.lower()) <= _HEX:
        raise InvalidInput(f"{where}: sha256 must be 64 hex digits")
    actor = check_id(raw.get("actor"), f"{where}: actor")
    orgs = raw.get("organizations", [])
    if not isinstance(orgs, list):
        raise InvalidInput(f"{where}: organizations must be a list of organization ids or '*'")
    vendor = raw.get("vendor", False)
    if not isinstance(vendor, bool):
        raise InvalidInput(f"{where}: vendor must be true or false")
    return TokenEntry(
        sha256=digest.lower(),
        actor=actor,
        organizations=frozenset(check_id(o, f"{where}: organization") for o in orgs),
        vendor=vendor,
    )


class TokenFile:
    """The tokens-file plugin: bearer tokens to actors, and actors to organizations.

    Register it like any plugin (``Manager.open(..., plugins=[TokenFile.load(path)])``),
    or pass ``tokens=path`` to :func:`axis_licensing.http.create_app`.
    """

    def __init__(self, entries: Iterable[TokenEntry]) -> None:
        """Keep the entries, by token hash.

        Args:
            entries: the tokens; two entries with the same token are refused.

        Raises:
            InvalidInput: a token appears twice.
        """
        self._by_hash: dict[str, TokenEntry] = {}
        self._orgs: dict[str, set[str]] = {}
        self._vendors: set[str] = set()
        for entry in entries:
            if entry.sha256 in self._by_hash:
                raise InvalidInput(f"the token of actor {entry.actor!r} appears twice")
            self._by_hash[entry.sha256] = entry
            self._orgs.setdefault(entry.actor, set()).update(entry.organizations)
            if entry.vendor:
                self._vendors.add(entry.actor)

    @classmethod
    def parse(cls, text: str, source: str = "tokens file") -> TokenFile:
        """A plugin from the TOML text of a tokens file (see the module's docstring).

        Args:
            text: the file's content.
            source: how to name the file in messages.

        Returns:
            The plugin.

        Raises:
            InvalidInput: the text is not TOML, or an entry is malformed.
        """
        try:
            data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput(f"{source} is not valid TOML: {exc}") from None
        unknown = sorted(set(data) - {"tokens"})
        if unknown:
            raise InvalidInput(f"{source}: unknown keys {', '.join(unknown)}; expected [[tokens]]")
        raw = data.get("tokens", [])
        if not isinstance(raw, list):
            raise InvalidInput(f"{source}: tokens must be an array of tables ([[tokens]])")
        return cls(_entry(item, f"{source}, token {n}") for n, item in enumerate(raw, 1))

    @classmethod
    def load(cls, path: str | Path) -> TokenFile:
        """A plugin from the tokens file at ``path``.

        Raises:
            InvalidInput: the file cannot be read, or is malformed.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read the tokens file {str(path)!r}: {exc}") from None
        return cls.parse(text, f"tokens file {str(path)!r}")

    def organizations_of(self, actor: str) -> frozenset[str] | None:
        """The organizations this file lets ``actor`` use; None when it does not limit them.

        None means the file does not know ``actor``, or gives it ``"*"``.
        """
        orgs = self._orgs.get(actor)
        if orgs is None or "*" in orgs:
            return None
        return frozenset(orgs)

    @hookimpl
    def axis_licensing_authenticate(self, token: str) -> str | None:
        """The actor of ``token``, compared by its SHA-256."""
        digest = hash_token(token)
        entry = self._by_hash.get(digest)
        if entry is None or not hmac.compare_digest(entry.sha256, digest):
            return None
        return entry.actor

    @hookimpl
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool | None:
        """Refuse this file's actors outside their organizations, and non-vendors vendor work."""
        orgs = self._orgs.get(actor)
        if orgs is None:
            return None
        if org_id is None:
            return None if actor in self._vendors else False
        return None if ("*" in orgs or org_id in orgs) else False
