"""The built-in authorize plugin: roles from the store (SPEC §4, §8).

:class:`RolesPlugin` answers ``axis_licensing_authorize`` from the accounts and
memberships in the store, by the table of :mod:`.roles`. While the store has
no account it has no opinion (``None``: other plugins, such as a tokens file,
decide). It never answers ``True``, so a host's own authorizer is still asked
and may refuse.

Every check reads the store-wide access version (one small row, one query),
and answers from a per-process cache of accounts and roles kept for that
version. Every change of accounts, memberships or tokens raises the version in
its own transaction, so a removed member is refused by every process at its
next check, and a check costs one indexed read.

:meth:`RolesPlugin.permits` is the same check for queries (which the Manager
does not authorize, §4) and for tokens' limits (some organizations,
read-only); :meth:`RolesPlugin.authenticate` resolves a bearer token and
checks it in one read transaction, for the service's requests.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import datetime

import attrs

from axis_licensing._time import Clock, SystemClock, check_aware, from_us, to_us
from axis_licensing.backends import Backend, RetryableConflict
from axis_licensing.hookspecs import hookimpl
from axis_licensing.members import roles
from axis_licensing.members import tokens as secrets_
from axis_licensing.members.decide import token_info_of
from axis_licensing.members.model import Role, TokenInfo
from axis_licensing.members.store import (
    StoreReadTx,
    access_version_now,
    member_tx,
    writer,
)

#: While the store has no account, whether one appeared is read at most this often (seconds).
EMPTY_RECHECK = 1.0
#: A token's last use is written at most this often, in microseconds (one minute).
TOUCH_US = 60_000_000

__all__ = ["Grant", "RolesPlugin"]


@attrs.frozen
class Grant:
    """What a bearer token may do in one request: its token, and whether the action is allowed.

    Attributes:
        token: the token's description (``token.account_id`` is the actor), or
            None when the secret is no live token of the store.
        allowed: whether the token may run the action asked.
    """

    token: TokenInfo | None
    allowed: bool


@attrs.define
class _Token:
    """A live token as cached for one access version: its description and expiry.

    ``info.last_used_at`` is what this process last wrote or read.
    """

    info: TokenInfo
    expires_at_us: int | None
    last_used_us: int | None


@attrs.define
class _Cache:
    version: int = -1
    has_accounts: bool = False
    #: when (monotonic seconds) the store was last seen without accounts
    seen_empty_at: float = -1e9
    #: account id -> its vendor flag, or None for no such account
    accounts: dict[str, bool | None] = attrs.Factory(dict)
    #: (org id, account id) -> role, or None for not a member
    roles: dict[tuple[str, str], Role | None] = attrs.Factory(dict)
    #: token hash -> the token (live when cached: revoking one raises the version)
    tokens: dict[str, _Token] = attrs.Factory(dict)


@attrs.frozen
class _Asked:
    """One question: may ``actor`` run ``action`` in ``org_id`` (with ``token``'s limits)?

    ``own``: for the ``self`` scopes, whether the actor acts on its own account.
    """

    actor: str
    org_id: str | None
    action: str
    token: TokenInfo | None = None
    own: bool = False


class _Miss(Exception):
    """The cache lacks an answer: read the store."""


class RolesPlugin:
    """Enforce the roles of the store's memberships for every command (SPEC §8).

    Register it as a plugin and bind it to the Manager's store once open::

        plugin = RolesPlugin()
        manager = Manager.open(url, catalog=catalog, plugins=[plugin])
        plugin.bind(manager.backend)

    (or pass a backend at once: ``RolesPlugin(backend)``). Until it is bound it
    refuses every command: it fails closed.
    """

    def __init__(self, backend: Backend | None = None, clock: Clock | None = None) -> None:
        """Read memberships from ``backend``'s store (or the one :meth:`bind` gives later).

        Args:
            backend: an open backend whose transactions store members, or None.
            clock: tells the time of requests (tokens' expiry and last use);
                default: the system's.
        """
        self.backend = backend
        self.clock: Clock = clock or SystemClock()
        self._cache = _Cache()
        self._lock = threading.Lock()

    def bind(self, backend: Backend, clock: Clock | None = None) -> None:
        """Read memberships from ``backend``'s store from now on (and forget the cache).

        Args:
            backend: an open backend whose transactions store members.
            clock: the clock to use from now on (default: keep the current one).
        """
        with self._lock:
            self.backend = backend
            if clock is not None:
                self.clock = clock
            self._cache = _Cache()

    # -- the cache
    def _current(self, backend: Backend) -> _Cache | None:
        """The cache, if it is that of the store's current access version (one cheap read)."""
        cache = self._cache
        if access_version_now(backend) != cache.version:
            return None
        if not cache.has_accounts:
            cache.seen_empty_at = time.monotonic()
        return cache

    def _fresh(self, tx: StoreReadTx) -> _Cache:
        """The cache for the access version ``tx`` reads (a new one when it moved)."""
        version = tx.access_version()
        with self._lock:
            if self._cache.version != version:
                self._cache = _Cache(version, tx.has_accounts())
            if not self._cache.has_accounts:
                self._cache.seen_empty_at = time.monotonic()
            return self._cache

    def _still_empty(self) -> bool:
        """Whether the store had no account when last read, under :data:`EMPTY_RECHECK` ago.

        Until the first account exists the plugin has no opinion; it reads
        whether one appeared (in another process) at most this often, so a
        store without accounts pays no read per command. From the first
        account on, every check reads the access version.
        """
        cache = self._cache
        return not cache.has_accounts and time.monotonic() - cache.seen_empty_at < EMPTY_RECHECK

    def cached_version(self) -> int:
        """The access version the cached answers were read at (-1 before the first read).

        While the store has no account, answers come from this cache for up to
        :data:`EMPTY_RECHECK` seconds without reading the version again, so it
        may be older than the store's.
        """
        return self._cache.version

    def prime(self, tx: object) -> None:
        """Read the store's access version and whether it has accounts, in ``tx``.

        Raises:
            StorageError: the store failed, or does not store members.
        """
        self._fresh(member_tx(tx))

    def forget(self) -> None:
        """Drop the cache: this process changed accounts, members or tokens."""
        with self._lock:
            self._cache = _Cache()

    @staticmethod
    def _vendor(tx: StoreReadTx | None, cache: _Cache, account_id: str) -> bool | None:
        if account_id not in cache.accounts:
            if tx is None:
                raise _Miss
            row = tx.account(account_id)
            cache.accounts[account_id] = None if row is None else bool(row.vendor)
        return cache.accounts[account_id]

    @staticmethod
    def _role(tx: StoreReadTx | None, cache: _Cache, org_id: str, account_id: str) -> Role | None:
        key = (org_id, account_id)
        if key not in cache.roles:
            if tx is None:
                raise _Miss
            row = tx.membership(org_id, account_id)
            cache.roles[key] = None if row is None else Role(row.role)
        return cache.roles[key]

    def _decide(self, tx: StoreReadTx | None, cache: _Cache, asked: _Asked) -> bool | None:
        """True/False by the table; None when the store has no accounts (no opinion).

        With ``tx`` None it answers from the cache alone, or raises ``_Miss``.
        """
        if not cache.has_accounts:
            return None
        actor, org_id, token = asked.actor, asked.org_id, asked.token
        vendor = self._vendor(tx, cache, actor)
        if vendor is None:
            return False
        if token is not None and (
            token.account_id != actor or (org_id is not None and not token.reaches(org_id))
        ):
            return False
        role = None
        if org_id is not None and roles.scope_of(asked.action) is not roles.Scope.CREATE:
            role = self._role(tx, cache, org_id, actor)
        return roles.allowed(
            asked.action,
            role=role,
            vendor=vendor,
            read_only=token is not None and token.read_only,
            own=asked.own,
        )

    def _decide_read(self, backend: Backend, cache: _Cache | None, asked: _Asked) -> bool | None:
        """:meth:`_decide` from ``cache`` when it holds the answer, else in one read transaction."""
        if cache is not None:
            try:
                return self._decide(None, cache, asked)
            except _Miss:
                pass
        with backend.read() as tx:
            mtx = member_tx(tx)
            return self._decide(mtx, self._fresh(mtx), asked)

    def _answer(self, asked: _Asked) -> bool | None:
        """:meth:`_decide`, from the cache when it is current, else from one read transaction."""
        if asked.actor == roles.SYSTEM_ACTOR:
            return None
        backend = self.backend
        if backend is None:
            return False
        if self._still_empty():
            return None
        return self._decide_read(backend, self._current(backend), asked)

    @hookimpl
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool | None:
        """Refuse a command the actor's role does not allow (``None`` otherwise).

        The member commands ask their ``self`` actions (``tokens.create``,
        ``tokens.revoke``, ``members.accept``, ``accounts.set_password``) only
        when the actor acts on its own account (:mod:`.roles`), so here they
        are the actor's own.

        Raises:
            StorageError: the store failed, or does not store members.
        """
        answer = self._answer(_Asked(actor, org_id, action, own=True))
        return None if answer is None or answer else False

    def permits(
        self,
        actor: str,
        org_id: str | None,
        action: str,
        *,
        token: TokenInfo | None = None,
        own: bool = False,
    ) -> bool:
        """Whether ``actor`` (with ``token``'s limits, if given) may run ``action``.

        For the service's queries and every request: ``action`` is a name of
        :data:`.roles.ACTIONS`. True when the store has no accounts.

        Args:
            actor: the account (``system`` is always allowed).
            org_id: the organization the action is about, or None.
            action: the action's name.
            token: the token the request came with: its organizations and
                read-only limits apply, and it must be ``actor``'s.
            own: for the account's own actions (``tokens.create``, ``tokens.list``,
                ``tokens.revoke`` of its own token, ``members.accept``): whether
                the actor acts on itself.

        Returns:
            Whether it is allowed; False while the plugin is not bound.

        Raises:
            StorageError: the store failed, or does not store members.
        """
        return self._answer(_Asked(actor, org_id, action, token, own)) is not False

    def _token(self, backend: Backend, secret: str, now_us: int) -> tuple[_Token, _Cache] | None:
        """The live token of ``secret`` and the cache it is in, or None; writes its last use.

        From the cache when the access version is current (one small read),
        else from one read transaction. Its last use is written when this
        process has not seen one in the last minute (a conditional update,
        which another process's recent write makes a no-op; a lost race is
        ignored).
        """
        if not secrets_.is_token_secret(secret):
            return None
        digest = secrets_.hash_secret(secret)
        cache = self._current(backend)
        found = None if cache is None else cache.tokens.get(digest)
        if found is None or cache is None:
            with backend.read() as tx:
                mtx = member_tx(tx)
                cache = self._fresh(mtx)
                row = mtx.token(digest)
                if row is None or row.revoked_at_us is not None:
                    return None
                found = _Token(token_info_of(row), row.expires_at_us, row.last_used_at_us)
                cache.tokens[digest] = found
        if found.expires_at_us is not None and now_us >= found.expires_at_us:
            return None
        if found.last_used_us is None or found.last_used_us < now_us - TOUCH_US:
            token_id = found.info.token_id
            with contextlib.suppress(RetryableConflict), backend.write() as wtx:
                writer(wtx).touch_token(token_id, now_us, now_us - TOUCH_US)
            found.last_used_us = now_us
            found.info = attrs.evolve(found.info, last_used_at=from_us(now_us))
        return found, cache

    def token_of(self, secret: str, *, now: datetime) -> TokenInfo | None:
        """The live stored token of a bearer ``secret``, or None (unknown, revoked or expired).

        As :meth:`authenticate` resolves it (one small read while the access
        version is unchanged); its limits are applied by :meth:`permits`
        with ``token=``.

        Raises:
            StorageError: the store failed, or does not store members.
        """
        backend = self.backend
        if backend is None:
            return None
        got = self._token(backend, secret, to_us(now))
        return None if got is None else got[0].info

    def has_accounts(self) -> bool:
        """Whether the store has an account (then every actor must be one, SPEC §8).

        Raises:
            StorageError: the store failed, or does not store members.
        """
        backend = self.backend
        if backend is None:
            return False
        cache = self._current(backend)
        if cache is None:
            with backend.read() as tx:
                cache = self._fresh(member_tx(tx))
        return cache.has_accounts

    def authenticate(self, secret: str, org_id: str | None, action: str, *, now: datetime) -> Grant:
        """Resolve a bearer token and check it, with its limits, for one action.

        When the store's access version is the one cached, this costs one
        small read (the version) and answers from the cache: a revocation, a
        removed membership or a changed role raises the version, so it is seen
        at once. Otherwise one read transaction reads the token and the role.
        As :meth:`~axis_licensing.members.service.Tokens.resolve` does, the
        token's last use is written at most once a minute (per process).

        Args:
            secret: the bearer token.
            org_id: the organization of the request, or None.
            action: the action's name (:data:`.roles.ACTIONS`).
            now: the request's instant (aware).

        Returns:
            The token (None for no live token) and whether it may run the action.

        Raises:
            StorageError: the store failed, or does not store members.
        """
        backend = self.backend
        if backend is None:
            return Grant(None, False)
        got = self._token(backend, secret, to_us(now))
        if got is None:
            return Grant(None, False)
        found, cache = got
        info = found.info
        answer = self._decide_read(backend, cache, _Asked(info.account_id, org_id, action, info))
        return Grant(info, answer is not False)

    @hookimpl
    def axis_licensing_authenticate(self, token: str) -> str | None:
        """The account of a stored API token without limits, for the service's bearer tokens.

        A token limited to some organizations or to read-only is not answered
        here (None): the hook passes on only the actor, and its limits would be
        lost. The service resolves those with :meth:`authenticate`, which
        applies them.

        Raises:
            StorageError: the store failed, or does not store members.
        """
        backend = self.backend
        if backend is None:
            return None
        got = self._token(backend, token, to_us(check_aware(self.clock.now(), "clock.now()")))
        if got is None:
            return None
        info = got[0].info
        return info.account_id if info.orgs is None and not info.read_only else None
