"""Accounts, members and API tokens (SPEC §8), run by the Manager's one shell.

:class:`Access` bundles :class:`Accounts`, :class:`Members` and :class:`Tokens`
(the SPEC's ``manager.accounts``, ``manager.members`` and ``manager.tokens``)
over the Manager's store. Each command checks its input, then asks the
Manager's ``axis_licensing_authorize`` hook once, outside any transaction, as
the command pipeline does (SPEC §4; the built-in roles plugin answers by the
table of :mod:`.roles`, under the action names listed there); then the one
shell (:meth:`~axis_licensing.shell.pipeline.Pipeline._once`) runs it in a
write transaction: lock the organization, replay a known ``request_id``, read,
decide (:mod:`.decide`), write the rows, record the facts in the history (R11,
:mod:`.history`) and raise the store's access version, then commit. A
transaction that lost a race runs again.

Nothing secret is stored, logged or recorded: passwords as Argon2id hashes,
token and invitation secrets as SHA-256; idempotent results leave them out.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TypeGuard, TypeVar, cast

import attrs

from axis_licensing._convert import dumps, fingerprint, loads
from axis_licensing._time import to_us
from axis_licensing._validate import check_id, check_new_id, check_text
from axis_licensing.backends import WriteTx
from axis_licensing.errors import (
    InvalidInput,
    InvitationInvalid,
    PermissionDenied,
    UnknownAccount,
)
from axis_licensing.members import decide, model, passwords, roles
from axis_licensing.members import tokens as secrets_
from axis_licensing.members._tables import AccountRow, TokenRow
from axis_licensing.members.history import record_creator, record_facts, record_owner
from axis_licensing.members.store import StoreReadTx, StoreWriteTx, member_tx, writer
from axis_licensing.shell import transact
from axis_licensing.shell.opening import Opening
from axis_licensing.shell.operations import OPERATIONS
from axis_licensing.shell.pipeline import Pipeline

__all__ = [
    "TOUCH_INTERVAL",
    "Access",
    "Accounts",
    "Members",
    "Tokens",
    "check_role",
    "record_creator",
    "record_facts",
    "record_owner",
]

T = TypeVar("T")

#: A token's last use is written at most this often (so authenticating stays a read).
TOUCH_INTERVAL = timedelta(minutes=1)
#: The ``meta`` setting that keys invitation secrets derived from request ids.
INVITE_KEY = "members.invite_key"


def _utf8(value: object) -> TypeGuard[str]:
    """Whether ``value`` is text that UTF-8 can encode (a lone surrogate cannot, R14)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_role(value: object, param: str = "role") -> model.Role:
    """``value`` as a :class:`Role`: a member or its value (``"viewer"``, ``"admin"``, ``"owner"``).

    Raises:
        InvalidInput: anything else.
    """
    if isinstance(value, model.Role):
        return value
    if isinstance(value, str):
        try:
            return model.Role(value)
        except ValueError:
            pass
    choices = ", ".join(r.value for r in model.Role)
    raise InvalidInput(f"{param} must be one of {choices}, got {value!r}", param=param)


def _check_bool(value: object, param: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{param} must be True or False, got {value!r}", param=param)
    return value


class Access:
    """Accounts, members and tokens of one store (SPEC §8).

    Attributes:
        accounts: :class:`Accounts`.
        members: :class:`Members`.
        tokens: :class:`Tokens`.
    """

    def __init__(self, shell: Pipeline, changed: Callable[[], None] | None = None) -> None:
        """Serve the store of ``shell`` (the Manager), on the command pipeline's plumbing.

        Its clock, its authorize hook (asked before each command, SPEC §4), its
        retries of a transaction that lost a race (R13), and its observers and
        in-process dispatcher, told of each command's activities once it
        committed (§4, §7).

        Args:
            shell: the Manager.
            changed: called after each committed write (the roles plugin's cache).
        """
        self._shell = shell
        self._changed = changed
        self.accounts = Accounts(self)
        self.members = Members(self)
        self.tokens = Tokens(self)

    @property
    def shell(self) -> Pipeline:
        """The Manager whose store and plumbing this serves (it resolves the checks' catalog)."""
        return self._shell

    @classmethod
    def of(cls, manager: Opening) -> Access:
        """The members of ``manager``'s store, on its plumbing."""
        return cls(manager, manager._access_changed)

    def now(self) -> datetime:
        """The clock's instant.

        Raises:
            InvalidInput: the clock gave a naive datetime.
        """
        return self._shell._now()

    def write(self, body: Callable[[StoreWriteTx, datetime], T]) -> T:
        """Run ``body(tx, now)`` in the shell's write transaction (R13).

        Once it committed, the roles' cache is dropped, and the activities it
        recorded wake an in-process dispatcher and are told to observers.

        Raises:
            ConcurrencyConflict: it kept losing races.
            StorageError: the store failed, or does not store members.
        """
        return self._shell._write(lambda tx, now: body(writer(tx), now), after=self._changed)

    def read(self, body: Callable[[StoreReadTx], T]) -> T:
        """Run ``body(tx)`` in a read transaction, again if the store was busy.

        Raises:
            ConcurrencyConflict: the store stayed busy.
            StorageError: the store failed, or does not store members.
        """
        return self._shell._read(lambda tx: body(member_tx(tx)))

    # -- the shell's steps, shared by the three services
    def once(
        self,
        scope: str,
        request_id: str | None,
        print_: str,
        kind: type[T],
        run: Callable[[StoreWriteTx, datetime], T],
        *,
        org_id: str | None = None,
        replay: Callable[[StoreWriteTx, T], T] | None = None,
        stored: Callable[[T], object] | None = None,
    ) -> T:
        """Run ``run`` in the shell's write transaction, once per ``request_id`` in ``scope`` (R13).

        A remembered ``request_id`` answers its first result (a ``kind``,
        passed through ``replay``); a new one runs, and its result is
        remembered (as ``stored`` makes it: never a secret).

        Args:
            scope: the request ids' scope.
            request_id: the caller's id, or None (not remembered).
            print_: the arguments' fingerprint.
            kind: the result's type.
            run: writes the command and returns its result.
            org_id: the organization the command acts in, checked and locked first.
            replay: the answer for a remembered result (default: itself).
            stored: what is remembered of a result (default: itself).

        Raises:
            InvalidInput: a new ``request_id`` that is not a valid new id.
            UnknownOrganization: no organization has the id ``org_id``.
            IdempotencyConflict: the id was used with other arguments.
            ConcurrencyConflict: it kept losing races.
            StorageError: the store failed.
        """

        def first(tx: WriteTx, now: datetime) -> tuple[T, str]:
            result = run(writer(tx), now)
            return result, dumps(result if stored is None else stored(result))

        def again(tx: WriteTx, text: str) -> T:
            value = cast("T", None if text == "null" else loads(text, kind))
            return value if replay is None else replay(writer(tx), value)

        return self._shell._once(
            scope, request_id, print_, first, again, org_id=org_id, after=self._changed
        )

    def first_result(
        self, scope: str, request_id: str | None, print_: str, kind: type[T]
    ) -> T | None:
        """The remembered result of ``request_id`` if it was run with these arguments.

        None when ``request_id`` is None, unknown, or was used with other arguments.

        Raises:
            ConcurrencyConflict: the store stayed busy.
            StorageError: the store failed.
        """
        if request_id is None:
            return None
        prior = self.read(lambda tx: tx.request(scope, request_id))
        if prior is None or prior.fingerprint != print_ or prior.result == "null":
            return None
        return loads(prior.result, kind)

    @staticmethod
    def org_role(tx: StoreReadTx, org_id: str, account_id: str) -> model.Role | None:
        """The account's role in the organization, or None."""
        row = tx.membership(org_id, account_id)
        return None if row is None else model.Role(row.role)

    def ask(self, actor: str, org_id: str | None, action: str) -> None:
        """Ask the authorize hook about a member command, outside any transaction (SPEC §4).

        Raises:
            PermissionDenied: a plugin refused.
            StorageError: the store failed (a plugin reading it).
        """
        self._shell._authorize(actor, org_id, action, None)

    @staticmethod
    def own(actor: str, account_id: str, action: str) -> None:
        """Refuse ``actor`` acting on another account than its own, unless it is ``system``.

        Only an account itself may run these (:data:`.roles.Scope.SELF`): no
        role allows them on another account, so the hook is then not asked.

        Raises:
            PermissionDenied: ``actor`` is another account.
        """
        if actor not in (account_id, roles.SYSTEM_ACTOR):
            raise PermissionDenied(
                f"{actor!r} may not {action} for another account",
                details={"actor": actor, "action": action},
            )


def _org_exists(tx: StoreReadTx, org_id: str) -> None:
    if tx.head(org_id) is None:
        raise transact.unknown_organization(org_id)


class Accounts:
    """``manager.accounts`` (SPEC §8): create accounts, check passwords."""

    def __init__(self, access: Access) -> None:
        self._a = access

    def create(
        self,
        account_id: str,
        *,
        name: str,
        password: str | None = None,
        vendor: bool = False,
        actor: str,
        request_id: str | None = None,
    ) -> model.Account:
        """Create an account (no rights until it is invited, SPEC §8).

        The store's first account may be created by anyone (the bootstrap);
        later ones by an existing account. A vendor account only by a vendor
        account (or the first, or ``system``). The authorize hook is asked
        ``accounts.create`` (``accounts.create_vendor`` for a vendor account)
        with ``org_id=None``. The password is not part of the idempotency
        fingerprint, so it is never stored, even as a fast hash.

        Args:
            account_id: a new id (R14); not ``system``.
            name: the name shown to people.
            password: for signing in; None for an account that signs in
                through the host's own ``axis_licensing_authenticate``.
            vendor: whether it may run the vendor's commands.
            actor: who creates it.
            request_id: makes the command idempotent (R13).

        Returns:
            The account.

        Raises:
            InvalidInput: a bad id, name, password, flag or actor.
            AlreadyExists: the id is taken.
            PermissionDenied: the actor may not create accounts (or vendor ones),
                or the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the store failed.
        """
        declared = OPERATIONS["accounts.create"].param("account_id")
        account_id = check_new_id(account_id, "account_id")
        if account_id in declared.reserved:  # one declaration: the API's schema states it too
            raise InvalidInput(declared.reserved[account_id], param="account_id")
        name = check_text(name, "name")
        vendor = _check_bool(vendor, "vendor")
        actor = check_id(actor, "actor")
        if password is not None:
            password = passwords.check_password_text(password)
        print_ = fingerprint(
            "accounts.create", {"account_id": account_id, "name": name, "vendor": vendor}
        )
        try:
            self._a.ask(actor, None, "accounts.create_vendor" if vendor else "accounts.create")
        except PermissionDenied:
            # The bootstrap: anyone may create the store's first account, and a repeat
            # of that request must answer as the first time (R13), although the store
            # has an account now. It tells the caller only what its arguments say.
            first = self._a.first_result("accounts", request_id, print_, model.Account)
            if first is None:
                raise
            return first
        hashed = None if password is None else passwords.hash_password(password)

        def run(tx: StoreWriteTx, now: datetime) -> model.Account:
            if actor != roles.SYSTEM_ACTOR and tx.account(actor) is None and tx.has_accounts():
                # only the first account is anyone's to create: a store that gained its
                # first account since the hook was asked (in another process) refuses
                raise PermissionDenied(
                    f"{actor!r} may not accounts.create",
                    details={"actor": actor, "action": "accounts.create"},
                )
            row, _fact = decide.decide_create_account(
                tx.account(account_id),
                account_id=account_id,
                name=name,
                password_hash=hashed,
                vendor=vendor,
                at=now,
            )
            tx.insert_account(row)
            tx.bump_access_version()
            return decide.account_of(row)

        return self._a.once("accounts", request_id, print_, model.Account, run)

    def get(self, account_id: str) -> model.Account:
        """An account by id.

        Raises:
            InvalidInput: a bad id.
            UnknownAccount: no account has this id.
            StorageError: the store failed.
        """
        account_id = check_id(account_id, "account_id")
        row = self._a.read(lambda tx: tx.account(account_id))
        if row is None:
            raise UnknownAccount(
                f"no account has the id {account_id!r}", details={"account_id": account_id}
            )
        return decide.account_of(row)

    def check_password(self, account_id: str, password: str) -> model.Account | None:
        """The account when ``password`` is its password; None otherwise (SPEC §8).

        One answer, and the same work, for an unknown account, an account
        without a password and a wrong password: an Argon2id verification
        (against a dummy hash when there is no stored one). A password that
        verifies against a hash made with older parameters is hashed again.

        Args:
            account_id: the account.
            password: the password given.

        Returns:
            The account, or None.

        Raises:
            StorageError: the store failed.
        """
        if not _utf8(account_id) or not _utf8(password):  # not text: no account's password
            return None
        row: AccountRow | None = None
        if account_id and len(account_id) <= 128:
            row = self._a.read(lambda tx: tx.account(account_id))
        if row is None or row.password_hash is None or len(password) > passwords.MAX_PASSWORD:
            passwords.verify_unknown(password[: passwords.MAX_PASSWORD])
            return None
        if not passwords.verify_password(row.password_hash, password):
            return None
        if passwords.needs_rehash(row.password_hash):
            fresh = passwords.hash_password(password)

            def rehash(tx: StoreWriteTx, _now: datetime) -> None:
                tx.set_password_hash(account_id, fresh)

            self._a.write(rehash)
        return decide.account_of(row)

    def set_password(self, account_id: str, password: str, *, actor: str) -> None:
        """Set an account's password (the account itself, or ``system``: the shell's tools).

        Not recorded in any history (an account belongs to none), and never
        logged; only the Argon2id hash is stored.

        Args:
            account_id: the account.
            password: its new password.
            actor: the account itself, or ``system``.

        Raises:
            InvalidInput: a bad id, password or actor.
            PermissionDenied: the actor is another account, or the authorize hook refused.
            UnknownAccount: no account has this id.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the store failed.
        """
        account_id = check_id(account_id, "account_id")
        actor = check_id(actor, "actor")
        password = passwords.check_password_text(password)
        self._a.own(actor, account_id, "accounts.set_password")
        self._a.ask(actor, None, "accounts.set_password")
        hashed = passwords.hash_password(password)

        def body(tx: StoreWriteTx, _now: datetime) -> None:
            if tx.account(account_id) is None:
                raise UnknownAccount(
                    f"no account has the id {account_id!r}", details={"account_id": account_id}
                )
            tx.set_password_hash(account_id, hashed)

        self._a.write(body)


class Members:
    """``manager.members`` (SPEC §8): list, invite, accept, change roles, remove."""

    def __init__(self, access: Access) -> None:
        self._a = access

    def _asked(
        self, action: str, org_id: str, account_id: str, actor: str, **more: object
    ) -> tuple[str, str, str, str, str]:
        """Check a member command's ids and ask the authorize hook with ``org_id``.

        Removing oneself (leaving) is asked as ``members.leave``.

        Returns:
            The checked ``org_id``, ``account_id`` and ``actor``, the idempotency
            scope, and the fingerprint of the arguments and ``more``.

        Raises:
            InvalidInput: bad ids.
            PermissionDenied: the hook refused.
        """
        org_id = check_id(org_id, "org_id")
        account_id = check_id(account_id, "account_id")
        actor = check_id(actor, "actor")
        asked = "members.leave" if action == "members.remove" and actor == account_id else action
        self._a.ask(actor, org_id, asked)
        print_ = fingerprint(action, {"org_id": org_id, "account_id": account_id, **more})
        return org_id, account_id, actor, f"members:{org_id}", print_

    def list(self, org_id: str) -> builtins.list[model.Membership]:
        """The organization's members, by account id.

        Raises:
            InvalidInput: a bad id.
            UnknownOrganization: no such organization.
            StorageError: the store failed.
        """
        org_id = check_id(org_id, "org_id")

        def body(tx: StoreReadTx) -> builtins.list[model.Membership]:
            _org_exists(tx, org_id)
            return [decide.membership_of(r) for r in tx.org_members(org_id)]

        return self._a.read(body)

    def of_account(self, account_id: str) -> builtins.list[model.Membership]:
        """The account's memberships, by organization id (the portal's organization switch).

        Raises:
            InvalidInput: a bad id.
            StorageError: the store failed.
        """
        account_id = check_id(account_id, "account_id")
        return self._a.read(
            lambda tx: [decide.membership_of(r) for r in tx.account_memberships(account_id)]
        )

    def invite(
        self,
        org_id: str,
        account_id: str,
        *,
        role: model.Role | str,
        actor: str,
        request_id: str | None = None,
    ) -> model.Invitation:
        """Invite an account into the organization; the link works once, for 7 days.

        A replay of ``request_id`` answers the same invitation, its token
        included: the token is derived from the request (see :mod:`.tokens`),
        never stored.

        Args:
            org_id: the organization.
            account_id: the account invited.
            role: the role it gets on accepting.
            actor: an owner of the organization.
            request_id: makes the command idempotent (R13).

        Returns:
            The invitation; ``.token`` is its secret, shown here only.

        Raises:
            InvalidInput: bad ids or role.
            UnknownOrganization: no such organization.
            PermissionDenied: the actor is not an owner of the organization.
            UnknownAccount: no account has this id.
            AlreadyExists: the account is already a member.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the store failed.
        """
        role = check_role(role)
        org_id, account_id, actor, scope, print_ = self._asked(
            "members.invite", org_id, account_id, actor, role=role
        )

        def run(tx: StoreWriteTx, now: datetime) -> model.Invitation:
            token = _invitation_token(tx, scope, request_id)
            row, fact = decide.decide_invite(
                org_id=org_id,
                account=tx.account(account_id),
                account_id=account_id,
                existing=tx.membership(org_id, account_id),
                role=role,
                token_hash=secrets_.hash_secret(token),
                invited_by=actor,
                at=now,
            )
            tx.insert_invitation(row)
            record_facts(tx, org_id, actor, [fact], now)
            return model.Invitation(token, org_id, account_id, role, fact.expires_at)

        return self._a.once(
            scope,
            request_id,
            print_,
            model.Invitation,
            run,
            org_id=org_id,
            replay=lambda tx, known: _with_token(known, _invitation_token(tx, scope, request_id)),
            stored=lambda invitation: _with_token(invitation, ""),
        )

    def accept(self, token: str, *, account_id: str) -> model.Membership:
        """Accept an invitation: the account becomes a member with the invited role.

        The account is the actor, acting on itself: the authorize hook is asked
        ``members.accept`` by it with ``org_id=None``, as the other commands on
        one's own account are (the owner who invited was asked with the
        organization).

        Args:
            token: the invitation's secret.
            account_id: the account accepting; it must be the one invited.

        Returns:
            The membership.

        Raises:
            InvalidInput: the token is not text, or a bad account id.
            InvitationInvalid: the invitation was used, has expired, does not
                exist, or was made for another account.
            PermissionDenied: the authorize hook refused (the store has
                accounts, and ``account_id`` is none of them).
            ConcurrencyConflict: the command kept losing races.
            StorageError: the store failed.
        """
        if not _utf8(token) or not token:
            raise InvalidInput("an invitation token must be non-empty text", param="token")
        account_id = check_id(account_id, "account_id")
        self._a.ask(account_id, None, "members.accept")
        token_hash = secrets_.hash_secret(token)

        def body(tx: StoreWriteTx, now: datetime) -> model.Membership:
            invitation = tx.invitation(token_hash)
            existing = None
            if invitation is not None:
                existing = tx.membership(invitation.org_id, account_id)
            row, fact = decide.decide_accept(
                invitation, account_id=account_id, existing=existing, at=now
            )
            if not tx.use_invitation(token_hash, to_us(now)):  # a concurrent accept won
                raise InvitationInvalid("this invitation was used, has expired, or does not exist")
            if fact is not None:
                tx.put_membership(row)
                tx.bump_access_version()
                record_facts(tx, row.org_id, account_id, [fact], now)
            return decide.membership_of(row)

        return self._a.write(body)

    def set_role(
        self,
        org_id: str,
        account_id: str,
        role: model.Role | str,
        *,
        actor: str,
        request_id: str | None = None,
    ) -> model.Membership:
        """Change a member's role.

        Args:
            org_id: the organization.
            account_id: the member.
            role: its new role.
            actor: an owner of the organization.
            request_id: makes the command idempotent (R13).

        Returns:
            The membership.

        Raises:
            InvalidInput: bad ids or role.
            UnknownOrganization: no such organization.
            PermissionDenied: the actor is not an owner of the organization.
            UnknownAccount: the account is not a member.
            LastOwner: it is the last owner, and ``role`` is not owner.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the store failed.
        """
        role = check_role(role)
        org_id, account_id, actor, scope, print_ = self._asked(
            "members.set_role", org_id, account_id, actor, role=role
        )

        def run(tx: StoreWriteTx, now: datetime) -> model.Membership:
            row, fact = decide.decide_set_role(
                tx.org_members(org_id), org_id=org_id, account_id=account_id, role=role
            )
            if fact is not None:
                tx.put_membership(row)
                tx.bump_access_version()
                record_facts(tx, org_id, actor, [fact], now)
            return decide.membership_of(row)

        return self._a.once(scope, request_id, print_, model.Membership, run, org_id=org_id)

    def remove(
        self, org_id: str, account_id: str, *, actor: str, request_id: str | None = None
    ) -> None:
        """Remove a member; its sessions and tokens lose the organization at once.

        An owner may remove anyone; any member may remove itself (leave).

        Args:
            org_id: the organization.
            account_id: the member.
            actor: an owner of the organization, or the member itself.
            request_id: makes the command idempotent (R13).

        Raises:
            InvalidInput: bad ids.
            UnknownOrganization: no such organization.
            PermissionDenied: the actor is neither an owner nor the member.
            UnknownAccount: the account is not a member.
            LastOwner: it is the last owner.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the store failed.
        """
        org_id, account_id, actor, scope, print_ = self._asked(
            "members.remove", org_id, account_id, actor
        )

        def run(tx: StoreWriteTx, now: datetime) -> None:
            row, fact = decide.decide_remove(
                tx.org_members(org_id), org_id=org_id, account_id=account_id
            )
            tx.delete_membership(row.org_id, row.account_id)
            tx.bump_access_version()
            record_facts(tx, org_id, actor, [fact], now)

        self._a.once(scope, request_id, print_, type(None), run, org_id=org_id)

    def add_creator(self, org_id: str, account_id: str) -> model.Membership:
        """Make ``account_id`` the owner of ``org_id``, which has no members yet.

        For the shell until ``create_organization`` calls :func:`record_creator`
        in its own transaction, and for organizations made before the store had
        accounts (seeding from a tokens file).

        Raises:
            InvalidInput: bad ids.
            UnknownOrganization: no such organization.
            UnknownAccount: no account has this id.
            AlreadyExists: the organization has members already.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the store failed.
        """
        org_id = check_id(org_id, "org_id")
        account_id = check_id(account_id, "account_id")

        def body(tx: StoreWriteTx, now: datetime) -> model.Membership:
            transact.lock_org(tx, org_id)
            if tx.account(account_id) is None:
                raise UnknownAccount(
                    f"no account has the id {account_id!r}", details={"account_id": account_id}
                )
            row, fact = decide.decide_creator(
                tx.org_members(org_id), org_id=org_id, account_id=account_id
            )
            tx.put_membership(row)
            tx.bump_access_version()
            record_facts(tx, org_id, account_id, [fact], now)
            return decide.membership_of(row)

        return self._a.write(body)


def _invitation_token(tx: StoreWriteTx, scope: str, request_id: str | None) -> str:
    """A new invitation's secret: random, or derived from ``request_id`` (so a replay shows it).

    The key it is derived with is made by the store's first such invitation.
    """
    if request_id is None:
        return secrets_.new_invitation_token()
    key = tx.meta(INVITE_KEY)
    if key is None:
        key = secrets_.new_key()
        if not tx.insert_meta(INVITE_KEY, key):
            key = tx.meta(INVITE_KEY)  # a concurrent first invitation set it
            assert key is not None
    return secrets_.derived_invitation_token(key, scope, request_id)


def _with_token(invitation: model.Invitation, token: str) -> model.Invitation:
    return model.Invitation(
        token, invitation.org_id, invitation.account_id, invitation.role, invitation.expires_at
    )


def _reached(tx: StoreReadTx, token: TokenRow) -> builtins.list[str]:
    """The organizations ``token`` reaches where its account is a member, by id."""
    info = decide.token_info_of(token)
    return [r.org_id for r in tx.account_memberships(token.account_id) if info.reaches(r.org_id)]


def _revoking(tx: StoreReadTx, token_id: str, actor: str) -> tuple[str | None, str]:
    """What revoking ``token_id`` asks the authorize hook: the organization and the action.

    The token's own account (or an unknown token) asks ``tokens.revoke``
    without an organization. Another actor asks ``tokens.revoke_member`` in an
    organization the token reaches where its account is a member: the first
    where the actor is an owner, else the first (which the roles refuse), else
    none.
    """
    token = tx.token_by_id(token_id)
    if token is None or actor == token.account_id:
        return None, "tokens.revoke"
    reached = _reached(tx, token)
    owner_of = [o for o in reached if Access.org_role(tx, o, actor) is model.Role.OWNER]
    return next(iter(owner_of or reached), None), "tokens.revoke_member"


class Tokens:
    """``manager.tokens`` (SPEC §8): create, list, revoke and resolve API tokens."""

    def __init__(self, access: Access) -> None:
        self._a = access

    def create(
        self,
        account_id: str,
        *,
        orgs: Iterable[str] | None = None,
        read_only: bool = False,
        expires_at: datetime | None = None,
        actor: str,
    ) -> model.IssuedToken:
        """Create an API token for an account; its secret is shown this once.

        Recorded as ``token_created`` in the history of every organization the
        token reaches; a limited token's ``orgs`` there name that organization
        only, so no history tells of the account's other organizations (R1).

        Args:
            account_id: the account it acts for.
            orgs: limit it to these organizations (the account's own); None: all of them.
            read_only: allow queries only.
            expires_at: when it stops working (aware), or None for never.
            actor: the account itself.

        Returns:
            The secret and the token's description.

        Raises:
            InvalidInput: bad ids, flags or instant; ``orgs`` outside the
                account's organizations; ``expires_at`` not in the future.
            PermissionDenied: the actor is not the account, or the authorize hook refused.
            UnknownAccount: no account has this id.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the store failed.
        """
        # the declaration's checks (R14), as the API's: a mapping is no list of ids
        a = OPERATIONS["tokens.create"].checked(locals(), self._a.shell)
        account_id, limited, read_only = a["account_id"], a["orgs"], a["read_only"]
        expires_at, actor = a["expires_at"], a["actor"]
        self._a.own(actor, account_id, "tokens.create")
        self._a.ask(actor, None, "tokens.create")
        secret, prefix = secrets_.new_token()
        token_id = secrets_.new_token_id()

        def body(tx: StoreWriteTx, now: datetime) -> model.IssuedToken:
            member_of = [r.org_id for r in tx.account_memberships(account_id)]
            row, fact = decide.decide_token(
                account=tx.account(account_id),
                account_id=account_id,
                member_of=member_of,
                orgs=limited,
                read_only=read_only,
                expires_at=expires_at,
                token_id=token_id,
                token_hash=secrets_.hash_secret(secret),
                prefix=prefix,
                at=now,
            )
            tx.insert_token(row)
            tx.bump_access_version()
            if limited is None:
                for org_id in member_of:
                    record_facts(tx, org_id, actor, [fact], now)
            else:  # each history names its own organization only, never the others (R1)
                for org_id in limited:
                    record_facts(tx, org_id, actor, [attrs.evolve(fact, orgs=(org_id,))], now)
            return model.IssuedToken(secret, decide.token_info_of(row))

        return self._a.write(body)

    def list(self, account_id: str) -> list[model.TokenInfo]:
        """The account's tokens, oldest first, revoked ones included; never their secrets.

        Raises:
            InvalidInput: a bad id.
            UnknownAccount: no account has this id.
            StorageError: the store failed.
        """
        account_id = check_id(account_id, "account_id")

        def body(tx: StoreReadTx) -> builtins.list[model.TokenInfo]:
            if tx.account(account_id) is None:
                raise UnknownAccount(
                    f"no account has the id {account_id!r}", details={"account_id": account_id}
                )
            return [decide.token_info_of(r) for r in tx.account_tokens(account_id)]

        return self._a.read(body)

    def revoke(self, token_id: str, *, actor: str) -> None:
        """Revoke a token: it stops working at once, in every process.

        Revoking a revoked token changes nothing. The token's account may
        revoke it (the authorize hook is asked ``tokens.revoke``, with
        ``org_id=None``); so may an owner of an organization the token reaches
        where its account is a member (asked ``tokens.revoke_member`` with that
        organization: one where the actor is an owner, if any).

        Args:
            token_id: the token.
            actor: its account, or such an owner.

        Raises:
            InvalidInput: bad ids.
            NotFound: no token has this id.
            PermissionDenied: the actor may not revoke it, or the authorize hook refused.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the store failed.
        """
        token_id = check_id(token_id, "token_id")
        actor = check_id(actor, "actor")
        self._a.ask(actor, *self._a.read(lambda tx: _revoking(tx, token_id, actor)))

        def body(tx: StoreWriteTx, now: datetime) -> None:
            token = tx.token_by_id(token_id)
            row, fact = decide.decide_revoke_token(token, token_id=token_id, at=now)
            if fact is None or not tx.revoke_token(token_id, to_us(now)):
                return  # revoked already, maybe by a concurrent revoke
            tx.bump_access_version()
            for org_id in _reached(tx, row):
                record_facts(tx, org_id, actor, [fact], now)

        self._a.write(body)

    def resolve(self, secret: str) -> model.TokenInfo | None:
        """The token whose secret this is, or None (unknown, revoked or expired).

        One indexed read by the secret's SHA-256: a revocation is seen at once
        by every process. The token's last use is written when it is older than
        :data:`TOUCH_INTERVAL` (a conditional update, at most once a minute per token).

        Args:
            secret: a bearer token.

        Returns:
            The token's description, or None.

        Raises:
            StorageError: the store failed.
        """
        if not secrets_.is_token_secret(secret):
            return None
        digest = secrets_.hash_secret(secret)
        row = self._a.read(lambda tx: tx.token(digest))
        if row is None or row.revoked_at_us is not None:
            return None
        now = self._a.now()
        now_us = to_us(now)
        if row.expires_at_us is not None and now_us >= row.expires_at_us:
            return None
        stale_before = to_us(now - TOUCH_INTERVAL)
        if row.last_used_at_us is None or row.last_used_at_us < stale_before:
            token_id = row.token_id

            def touch(tx: StoreWriteTx, _now: datetime) -> None:
                tx.touch_token(token_id, now_us, stale_before)

            self._a.write(touch)
            row = attrs.evolve(row, last_used_at_us=now_us)
        return decide.token_info_of(row)
