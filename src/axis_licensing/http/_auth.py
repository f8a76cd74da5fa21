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

Once the store has accounts (SPEC §8), bearer tokens are the store's own API
tokens (``axl_…``): :func:`bearer_actor` resolves them through the Manager's
roles plugin and keeps the token of the request (its organizations and
read-only limits) for :func:`axis_licensing.http._access.allow`. A tokens file
then only seeds accounts (:func:`seed_accounts`).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from axis_licensing._validate import check_id
from axis_licensing.errors import InvalidInput
from axis_licensing.hookspecs import hookimpl
from axis_licensing.members.roles import SYSTEM_ACTOR

if TYPE_CHECKING:
    from axis_licensing.manager import Manager
    from axis_licensing.members.model import TokenInfo

__all__ = [
    "TokenEntry",
    "TokenFile",
    "bearer_actor",
    "forget_request_token",
    "hash_token",
    "request_token",
    "request_token_as",
    "seed_accounts",
]

#: The stored API token the current request came with (SPEC §8), for its limits.
_REQUEST_TOKEN: contextvars.ContextVar[TokenInfo | None] = contextvars.ContextVar(
    "axis_licensing_request_token", default=None
)
#: The longest bearer token read.
_MAX_TOKEN = 4096


def bearer_actor(manager: Manager, authorization: str | None) -> str | None:
    """The actor of an ``Authorization: Bearer <token>`` header, or None (SPEC §6, §8).

    A stored API token (``axl_…``) resolves to its account through the
    Manager's roles plugin, live (a revoked or expired one is None at once),
    and is kept for this request's checks (:func:`request_token`). Any other
    token is asked of the ``axis_licensing_authenticate`` hooks (a tokens file,
    a host's single sign-on).

    Args:
        manager: the Manager.
        authorization: the header's value.

    Returns:
        The actor, or None.

    Raises:
        StorageError: the store failed.
    """
    from axis_licensing._time import check_aware
    from axis_licensing.members.tokens import is_token_secret

    _REQUEST_TOKEN.set(None)
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN:
        return None
    roles = manager.roles
    if roles is not None and is_token_secret(token):
        info = roles.token_of(token, now=check_aware(manager.clock.now(), "clock.now()"))
        if info is None:
            return None
        _REQUEST_TOKEN.set(info)
        return info.account_id
    return manager.plugin_manager.authenticate(token)


def forget_request_token() -> None:
    """The current request came without a stored token (a portal session of an account)."""
    _REQUEST_TOKEN.set(None)


def request_token() -> TokenInfo | None:
    """The stored API token of the current request, set by :func:`bearer_actor`, or None."""
    return _REQUEST_TOKEN.get()


@contextlib.contextmanager
def request_token_as(token: TokenInfo | None) -> Iterator[None]:
    """Within the block, the current request's stored token is ``token``; then as before.

    For a check that reads with a token's other limits (a read-only token
    asking what it may *see* of the vendor's, SPEC §8).
    """
    reset = _REQUEST_TOKEN.set(token)
    try:
        yield
    finally:
        _REQUEST_TOKEN.reset(reset)


def seed_accounts(manager: Manager, tokens: TokenFile) -> list[str]:
    """Seed accounts from a tokens file on a store without accounts (SPEC §8).

    Each actor of the file becomes an account (no password: it signs in by
    its token until it sets one), the owner of each organization the file
    names for it that exists and has no members yet, and a vendor account
    when the file says ``vendor = true``. Nothing happens when the store has
    an account already: the file is then only a seed, never the store.

    Args:
        manager: the Manager.
        tokens: the tokens file.

    Returns:
        The accounts created, sorted.

    Raises:
        StorageError: the store failed.
    """
    roles = manager.roles
    if roles is None or roles.has_accounts():
        return []
    from axis_licensing.errors import AlreadyExists, UnknownOrganization

    made: list[str] = []
    for actor in sorted(tokens.actors()):
        try:
            manager.accounts.create(
                actor, name=actor, vendor=tokens.is_vendor(actor), actor="system"
            )
        except (AlreadyExists, InvalidInput):
            continue  # an actor that is no valid account id stays a file actor
        made.append(actor)
    for actor in made:
        for org_id in sorted(tokens.organizations_of(actor) or ()):
            try:
                manager.members.add_creator(org_id, actor)
            except (AlreadyExists, UnknownOrganization, InvalidInput):
                continue
    return made


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
    if actor == SYSTEM_ACTOR:  # the roles allow the library's own actor everything (SPEC §8)
        raise InvalidInput(f"{where}: the actor {SYSTEM_ACTOR!r} is the library's own")
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

    def actors(self) -> frozenset[str]:
        """Every actor this file names."""
        return frozenset(self._orgs)

    def is_vendor(self, actor: str) -> bool:
        """Whether this file lets ``actor`` run the vendor's commands."""
        return actor in self._vendors

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
        """Refuse this file's actors outside their organizations, and non-vendors vendor work.

        Without an organization, only the vendor's commands (``vendor.*``) are
        refused to non-vendors; an account's own commands (``tokens.create``,
        ``accounts.create``, …, SPEC §8) are left to the roles.
        """
        orgs = self._orgs.get(actor)
        if orgs is None:
            return None
        if org_id is None:
            vendor_work = action.startswith("vendor.")
            return None if actor in self._vendors or not vendor_work else False
        return None if ("*" in orgs or org_id in orgs) else False
