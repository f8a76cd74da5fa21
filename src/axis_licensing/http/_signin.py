"""Signing in to the portal with an account and a password (SPEC §8), and account names.

Sign-in is rate-limited by :class:`SignInLimiter`, per account and per client
address, with one answer whatever the reason (unknown account, wrong password,
too many attempts). The portal's pages (:mod:`._portal`) and its member pages
(:mod:`._portal_members`) both use this module; it uses neither.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from litestar import Request

from axis_licensing import errors
from axis_licensing.manager import Manager

__all__ = ["SignInLimiter", "account_names", "password_signin"]


class SignInLimiter:
    """Failed password attempts, per account and per client address, in a sliding window.

    After ``limit`` failures within ``window`` for the account or for the
    address, attempts are refused without checking the password (the same
    answer as a wrong one). Kept per process; a success clears the account's.
    """

    def __init__(self, limit: int = 5, window: timedelta = timedelta(minutes=15)) -> None:
        """Allow ``limit`` failures per ``window``."""
        self.limit = limit
        self.window = window.total_seconds()
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        found = self._failures.setdefault(key, deque())
        while found and found[0] <= now - self.window:
            found.popleft()
        return found

    def blocked(self, account_id: str, address: str) -> bool:
        """Whether the account or the address used up its attempts."""
        now = time.monotonic()
        with self._lock:
            return any(
                len(self._recent(k, now)) >= self.limit
                for k in (f"account:{account_id}", f"address:{address}")
            )

    def failed(self, account_id: str, address: str) -> None:
        """Count a failure for both."""
        now = time.monotonic()
        with self._lock:
            for key in (f"account:{account_id}", f"address:{address}"):
                self._recent(key, now).append(now)

    def succeeded(self, account_id: str) -> None:
        """Forget the account's failures."""
        with self._lock:
            self._failures.pop(f"account:{account_id}", None)


def password_signin(request: Request[Any, Any, Any], account_id: str, password: str) -> str | None:
    """The account signed in with ``password``, or None (one answer for every failure).

    Raises:
        StorageError: the store failed.
    """
    from axis_licensing.members import passwords

    limiter: SignInLimiter = request.app.state.setdefault("members.limiter", SignInLimiter())
    address = request.client.host if request.client is not None else "-"
    if limiter.blocked(account_id, address):
        passwords.verify_unknown(password)  # the same work as a real check
        return None
    try:
        manager: Manager = request.app.state["manager"]
        account = manager.accounts.check_password(account_id, password)
    except errors.InvalidInput:
        passwords.verify_unknown(password)
        account = None
    if account is None:
        limiter.failed(account_id, address)
        return None
    limiter.succeeded(account_id)
    return account.account_id


def account_names(manager: Manager) -> Callable[[str], str]:
    """For a page: an actor's account name (read once per actor), or the actor itself."""
    known: dict[str, str] = {}

    def name(actor: str) -> str:
        if actor not in known:
            try:
                known[actor] = manager.accounts.get(actor).name
            except errors.LicensingError:  # not an account (a file actor, ``system``)
                known[actor] = actor
        return known[actor]

    return name
