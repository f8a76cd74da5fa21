"""Accounts, members, invitations and API tokens in the store (SPEC §8), on every backend.

Each test runs on memory, SQLite and PostgreSQL (the ``manager`` fixture). The
services run over the Manager's own backend and clock
(:class:`axis_licensing.members.service.Access`).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from axis_licensing import (
    EXAMPLE_CATALOG,
    AlreadyExists,
    IdempotencyConflict,
    InvalidInput,
    InvitationInvalid,
    LastOwner,
    Manager,
    ManualClock,
    NotFound,
    PermissionDenied,
    UnknownAccount,
    UnknownOrganization,
)
from axis_licensing._migrate import migrate
from axis_licensing.backends import TABLES
from axis_licensing.members import Account, Membership, Role, TokenInfo, passwords
from axis_licensing.members._tables import MembershipRow
from axis_licensing.members.authorize import RolesPlugin
from axis_licensing.members.service import Access, record_creator
from axis_licensing.members.store import writer

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ALICE_PASSWORD = "correct horse battery"
BOB_PASSWORD = "tr0ub4dor&3-staple"


#: Cheap Argon2id parameters for the tests (the library's defaults cost ~0.1 s a hash).
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords with :data:`CHEAP` parameters, so the tests stay fast."""
    monkeypatch.setattr(passwords, "hasher", lambda: CHEAP)


@pytest.fixture
def access(manager: Manager) -> Access:
    """Members of the Manager's store; ``alice`` owns ``acme``, ``bob`` has no membership."""
    found = Access.of(manager)
    found.accounts.create("alice", name="Alice", password=ALICE_PASSWORD, actor="setup")
    found.accounts.create("bob", name="Bob", password=BOB_PASSWORD, actor="alice")
    manager.create_organization("acme", name="Acme", actor="alice")
    return found


def _join(access: Access, org_id: str, account_id: str, role: str) -> Membership:
    invitation = access.members.invite(org_id, account_id, role=role, actor="alice")
    return access.members.accept(invitation.token, account_id=account_id)


def _store(manager: Manager) -> dict[str, list[dict[str, Any]]]:
    return {table: list(manager.backend.export_rows(table)) for table in TABLES}


# -- accounts ------------------------------------------------------------------------------------


def test_accounts_create_returns_the_account_and_refuses_a_taken_id(
    manager: Manager, access: Access
) -> None:
    carol = access.accounts.create("carol", name="Carol", actor="bob")
    assert carol == Account("carol", "Carol", vendor=False, created_at=START)
    assert access.accounts.get("carol") == carol
    with pytest.raises(AlreadyExists) as caught:
        access.accounts.create("carol", name="Other", actor="alice")
    assert caught.value.details == {"account_id": "carol"}
    with pytest.raises(UnknownAccount):
        access.accounts.get("nobody")


def test_the_first_account_is_the_bootstrap_then_only_accounts_create_accounts(
    manager: Manager,
) -> None:
    access = Access.of(manager)
    first = access.accounts.create("root", name="Root", vendor=True, actor="anyone")
    assert first.vendor is True
    with pytest.raises(PermissionDenied) as caught:
        access.accounts.create("eve", name="Eve", actor="stranger")
    assert caught.value.details == {"actor": "stranger", "action": "accounts.create"}
    access.accounts.create("plain", name="Plain", actor="root")
    with pytest.raises(PermissionDenied):  # a vendor account only by a vendor account
        access.accounts.create("sneaky", name="Sneaky", vendor=True, actor="plain")
    assert access.accounts.create("vendor2", name="V2", vendor=True, actor="root").vendor


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"account_id": "system"}, "account_id"),
        ({"account_id": "has space"}, "account_id"),
        ({"password": "short"}, "password"),
        ({"vendor": "yes"}, "vendor"),
        ({"name": ""}, "name"),
    ],
)
def test_accounts_create_refuses_bad_input(
    manager: Manager, kwargs: dict[str, Any], param: str
) -> None:
    args: dict[str, Any] = {"account_id": "dave", "name": "Dave", "actor": "x", **kwargs}
    with pytest.raises(InvalidInput) as caught:
        Access.of(manager).accounts.create(**args)
    assert caught.value.details["param"] == param
    assert "short" not in caught.value.message  # the password never shows


def test_accounts_create_replays_a_request_id(manager: Manager, access: Access) -> None:
    first = access.accounts.create("carol", name="Carol", actor="alice", request_id="r-1")
    again = access.accounts.create("carol", name="Carol", actor="alice", request_id="r-1")
    assert again == first
    with pytest.raises(IdempotencyConflict):
        access.accounts.create("carol", name="Caroline", actor="alice", request_id="r-1")


def test_check_password_is_the_account_or_none_with_the_same_work(
    manager: Manager, access: Access, monkeypatch: pytest.MonkeyPatch
) -> None:
    access.accounts.create("sso", name="Single sign-on", actor="alice")  # no password
    verified: list[str] = []
    real = passwords.verify_password

    def spy(encoded: str, password: str) -> bool:
        verified.append(encoded)
        return real(encoded, password)

    monkeypatch.setattr(passwords, "verify_password", spy)
    alice = access.accounts.check_password("alice", ALICE_PASSWORD)
    assert alice == Account("alice", "Alice", vendor=False, created_at=START)
    assert access.accounts.check_password("alice", BOB_PASSWORD) is None
    assert access.accounts.check_password("nobody", BOB_PASSWORD) is None
    assert access.accounts.check_password("sso", BOB_PASSWORD) is None
    # every answer verified one Argon2id hash: the stored one, or the dummy for unknowns
    dummy = passwords._dummy_hash()
    assert len(verified) == 4
    assert verified[0] == verified[1] != dummy
    assert verified[2:] == [dummy, dummy]
    assert all(h.startswith("$argon2id$") for h in verified)


def test_check_password_rehashes_when_the_parameters_change(
    manager: Manager, access: Access, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = access.read(lambda tx: tx.account("alice"))
    assert before is not None
    assert before.password_hash is not None
    stronger = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: stronger)
    assert access.accounts.check_password("alice", ALICE_PASSWORD) is not None
    after = access.read(lambda tx: tx.account("alice"))
    assert after is not None
    assert after.password_hash is not None
    assert after.password_hash != before.password_hash
    assert "t=2" in after.password_hash
    assert stronger.verify(after.password_hash, ALICE_PASSWORD)
    assert not passwords.needs_rehash(after.password_hash)


# -- members -------------------------------------------------------------------------------------


def test_invite_and_accept_make_a_member_recorded_in_the_history(
    manager: Manager, access: Access
) -> None:
    invitation = access.members.invite("acme", "bob", role=Role.VIEWER, actor="alice")
    assert invitation.org_id == "acme"
    assert invitation.account_id == "bob"
    assert invitation.role is Role.VIEWER
    assert invitation.expires_at == START + timedelta(days=7)
    assert invitation.token.startswith("axi_")
    assert access.members.accept(invitation.token, account_id="bob") == Membership(
        "bob", "acme", Role.VIEWER
    )
    assert access.members.list("acme") == [
        Membership("alice", "acme", Role.OWNER),
        Membership("bob", "acme", Role.VIEWER),
    ]
    assert access.members.of_account("bob") == [Membership("bob", "acme", Role.VIEWER)]
    history = [(a.actor, a.action, a.details) for a in manager.history("acme")]
    assert history[1:] == [
        ("alice", "member_joined", {"account_id": "alice", "role": "owner"}),
        (
            "alice",
            "member_invited",
            {"account_id": "bob", "role": "viewer", "expires_at": "2026-01-08T12:00:00+00:00"},
        ),
        ("bob", "member_joined", {"account_id": "bob", "role": "viewer"}),
    ]


def test_an_invitation_works_once_for_its_account_for_seven_days(
    manager: Manager, access: Access, clock: ManualClock
) -> None:
    access.accounts.create("carol", name="Carol", actor="alice")
    invitation = access.members.invite("acme", "bob", role="admin", actor="alice")
    with pytest.raises(InvitationInvalid):  # another account may not take it
        access.members.accept(invitation.token, account_id="carol")
    with pytest.raises(InvitationInvalid):
        access.members.accept("axi_never-issued", account_id="bob")
    access.members.accept(invitation.token, account_id="bob")
    with pytest.raises(InvitationInvalid):  # used
        access.members.accept(invitation.token, account_id="bob")
    late = access.members.invite("acme", "carol", role="viewer", actor="alice")
    clock.set(START + timedelta(days=7) - timedelta(microseconds=1))
    still = access.members.invite("acme", "carol", role="viewer", actor="alice")
    clock.set(START + timedelta(days=7))
    with pytest.raises(InvitationInvalid):  # expired: 7 days after it was made
        access.members.accept(late.token, account_id="carol")
    assert access.members.accept(still.token, account_id="carol").role is Role.VIEWER


def test_invite_is_for_owners_and_known_non_members(manager: Manager, access: Access) -> None:
    _join(access, "acme", "bob", "admin")
    access.accounts.create("carol", name="Carol", actor="alice")
    with pytest.raises(PermissionDenied):  # an admin does not manage members
        access.members.invite("acme", "carol", role="viewer", actor="bob")
    with pytest.raises(UnknownAccount):
        access.members.invite("acme", "nobody", role="viewer", actor="alice")
    with pytest.raises(AlreadyExists):
        access.members.invite("acme", "bob", role="viewer", actor="alice")
    with pytest.raises(PermissionDenied):  # asked first, as every command (§4): no role there
        access.members.invite("globex", "carol", role="viewer", actor="alice")
    with pytest.raises(UnknownOrganization):
        access.members.invite("globex", "carol", role="viewer", actor="system")
    with pytest.raises(InvalidInput) as caught:
        access.members.invite("acme", "carol", role="god", actor="alice")
    assert caught.value.details == {"param": "role"}


def test_invite_replays_the_same_link_without_storing_it(manager: Manager, access: Access) -> None:
    first = access.members.invite("acme", "bob", role="viewer", actor="alice", request_id="i-1")
    again = access.members.invite("acme", "bob", role="viewer", actor="alice", request_id="i-1")
    assert again == first
    assert again.token == first.token
    with pytest.raises(IdempotencyConflict):
        access.members.invite("acme", "bob", role="admin", actor="alice", request_id="i-1")
    assert first.token not in json.dumps(_store(manager), default=str)


def test_set_role_and_remove_keep_an_owner(manager: Manager, access: Access) -> None:
    _join(access, "acme", "bob", "viewer")
    with pytest.raises(LastOwner) as caught:
        access.members.set_role("acme", "alice", "admin", actor="alice")
    assert caught.value.details == {"org_id": "acme", "account_id": "alice"}
    with pytest.raises(LastOwner):
        access.members.remove("acme", "alice", actor="alice")
    with pytest.raises(PermissionDenied):  # a viewer changes nothing
        access.members.set_role("acme", "bob", "owner", actor="bob")
    promoted = access.members.set_role("acme", "bob", "owner", actor="alice", request_id="s-1")
    assert promoted == Membership("bob", "acme", Role.OWNER)
    assert access.members.set_role("acme", "bob", "owner", actor="alice", request_id="s-1") == (
        promoted
    )
    access.members.set_role("acme", "alice", "viewer", actor="bob")  # no longer the last
    with pytest.raises(LastOwner):
        access.members.remove("acme", "bob", actor="bob")
    access.members.remove("acme", "alice", actor="alice")  # a member may leave
    assert access.members.list("acme") == [Membership("bob", "acme", Role.OWNER)]
    with pytest.raises(UnknownAccount) as unknown:
        access.members.set_role("acme", "alice", "viewer", actor="bob")
    assert unknown.value.details == {"account_id": "alice", "org_id": "acme"}
    actions = [(a.actor, a.action, a.details) for a in manager.history("acme")][-3:]
    assert actions == [
        (
            "alice",
            "member_role_changed",
            {"account_id": "bob", "role": "owner", "previous": "viewer"},
        ),
        (
            "bob",
            "member_role_changed",
            {"account_id": "alice", "role": "viewer", "previous": "owner"},
        ),
        ("alice", "member_removed", {"account_id": "alice", "previous": "viewer"}),
    ]


def test_members_list_needs_an_organization(manager: Manager, access: Access) -> None:
    with pytest.raises(UnknownOrganization):
        access.members.list("globex")


# -- tokens --------------------------------------------------------------------------------------


def test_tokens_are_shown_once_listed_by_prefix_and_resolved(
    manager: Manager, access: Access
) -> None:
    issued = access.tokens.create("alice", orgs=["acme"], read_only=True, actor="alice")
    info = issued.info
    assert issued.secret.startswith(info.prefix + "_")
    assert len(info.prefix) == 12
    assert info == TokenInfo(
        token_id=info.token_id,
        account_id="alice",
        prefix=info.prefix,
        orgs=("acme",),
        read_only=True,
        expires_at=None,
        created_at=START,
    )
    assert access.tokens.list("alice") == [info]
    resolved = access.tokens.resolve(issued.secret)
    assert resolved == TokenInfo(
        info.token_id, "alice", info.prefix, ("acme",), True, None, START, last_used_at=START
    )
    assert access.tokens.resolve(issued.secret[:-1] + "x") is None
    assert access.tokens.resolve("not a token") is None
    created = manager.history("acme", actions=None)[-1]
    assert (created.action, created.details) == (
        "token_created",
        {
            "token_id": info.token_id,
            "account_id": "alice",
            "prefix": info.prefix,
            "orgs": ["acme"],
            "read_only": True,
            "expires_at": None,
        },
    )


def test_token_last_use_is_written_at_most_once_a_minute(
    manager: Manager, access: Access, clock: ManualClock
) -> None:
    issued = access.tokens.create("alice", actor="alice")
    access.tokens.resolve(issued.secret)
    clock.set(START + timedelta(seconds=59))
    access.tokens.resolve(issued.secret)
    assert access.tokens.list("alice")[0].last_used_at == START
    clock.set(START + timedelta(seconds=61))
    assert access.tokens.resolve(issued.secret) is not None
    assert access.tokens.list("alice")[0].last_used_at == START + timedelta(seconds=61)


def test_token_expiry_and_revocation(manager: Manager, access: Access, clock: ManualClock) -> None:
    expiring = access.tokens.create(
        "alice", expires_at=START + timedelta(hours=1), actor="alice"
    ).secret
    clock.set(START + timedelta(hours=1) - timedelta(microseconds=1))
    assert access.tokens.resolve(expiring) is not None
    clock.set(START + timedelta(hours=1))
    assert access.tokens.resolve(expiring) is None
    kept = access.tokens.create("alice", actor="alice")
    access.tokens.revoke(kept.info.token_id, actor="alice")
    access.tokens.revoke(kept.info.token_id, actor="alice")  # again: nothing changes
    assert access.tokens.resolve(kept.secret) is None
    listed = access.tokens.list("alice")[-1]
    assert listed.revoked_at == START + timedelta(hours=1)
    revoked = [a for a in manager.history("acme") if a.action == "token_revoked"]
    assert len(revoked) == 1
    with pytest.raises(NotFound) as caught:
        access.tokens.revoke("tok_0000000000000000", actor="alice")
    assert caught.value.details == {"token_id": "tok_0000000000000000"}


def test_token_commands_check_their_input_and_actor(manager: Manager, access: Access) -> None:
    with pytest.raises(InvalidInput) as outside:
        access.tokens.create("alice", orgs=["globex"], actor="alice")
    assert outside.value.details == {"param": "orgs"}
    with pytest.raises(InvalidInput) as past:
        access.tokens.create("alice", expires_at=START, actor="alice")
    assert past.value.details == {"param": "expires_at"}
    with pytest.raises(InvalidInput):
        access.tokens.create("alice", orgs="acme", actor="alice")
    with pytest.raises(PermissionDenied):  # another account's token
        access.tokens.create("alice", actor="bob")
    with pytest.raises(UnknownAccount):
        access.tokens.create("nobody", actor="system")
    with pytest.raises(UnknownAccount):
        access.tokens.list("nobody")
    theirs = access.tokens.create("alice", actor="alice")
    with pytest.raises(PermissionDenied):  # not a member of any organization it reaches
        access.tokens.revoke(theirs.info.token_id, actor="bob")


def test_an_owner_may_revoke_a_members_token_reaching_the_organization(
    manager: Manager, access: Access
) -> None:
    _join(access, "acme", "bob", "admin")
    token = access.tokens.create("bob", actor="bob")
    with pytest.raises(PermissionDenied):  # an admin may not revoke another's token
        access.tokens.revoke(
            access.tokens.create("alice", actor="alice").info.token_id, actor="bob"
        )
    access.tokens.revoke(token.info.token_id, actor="alice")
    assert access.tokens.resolve(token.secret) is None


# -- the shell's hooks and transactions ------------------------------------------------------


def test_create_organization_makes_its_creating_account_owner_in_its_transaction(
    manager: Manager, access: Access
) -> None:
    # SPEC §8 wired: the creator is the owner from the creating command on
    manager.create_organization("globex", name="Globex", actor="bob")
    assert access.members.list("globex") == [Membership("bob", "globex", Role.OWNER)]
    history = manager.history("globex")
    assert [(a.actor, a.action, a.details) for a in history] == [
        ("bob", "organization_created", {"name": "Globex", "timezone": "UTC"}),
        ("bob", "member_joined", {"account_id": "bob", "role": "owner"}),
    ]
    with manager.backend.write() as tx:
        assert record_creator(tx, "globex", "mallory", START) is None  # not an account


def test_a_failed_transaction_leaves_no_member_change(manager: Manager, access: Access) -> None:
    def fail(tx: Any, now: datetime) -> None:
        tx.put_membership(MembershipRow("acme", "bob", "owner"))
        tx.delete_membership("acme", "alice")
        tx.bump_access_version()
        raise LastOwner("rolled back")

    version = access.read(lambda tx: tx.access_version())
    with pytest.raises(LastOwner):
        access.write(fail)
    assert access.members.list("acme") == [Membership("alice", "acme", Role.OWNER)]
    assert access.read(lambda tx: tx.access_version()) == version
    with manager.backend.write() as tx:
        assert writer(tx).membership("acme", "bob") is None


# -- secrets -------------------------------------------------------------------------------------


def test_secrets_are_never_stored_recorded_shown_or_logged(
    manager: Manager, access: Access, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    invitation = access.members.invite("acme", "bob", role="viewer", actor="alice")
    access.members.accept(invitation.token, account_id="bob")
    issued = access.tokens.create("bob", actor="bob")
    access.tokens.resolve(issued.secret)
    access.accounts.check_password("alice", ALICE_PASSWORD)
    access.accounts.check_password("alice", "a wrong password")
    secrets = [invitation.token, issued.secret, ALICE_PASSWORD, BOB_PASSWORD]
    stored = json.dumps(_store(manager), default=str)
    history = repr(manager.history("acme"))
    shown = repr((invitation, issued, issued.info, access.tokens.list("bob")))
    for secret in secrets:
        assert secret not in stored
        assert secret not in history
        assert secret not in shown
        assert secret not in caplog.text
    assert issued.info.prefix in shown  # the prefix alone is shown
    accounts = {row["account_id"]: row for row in _store(manager)["accounts"]}
    assert accounts["alice"]["password_hash"].startswith("$argon2id$")


# -- across processes and migrate ---------------------------------------------------------------


def test_a_revocation_and_a_removal_are_seen_at_once_by_another_instance(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    clock = ManualClock(START)
    with (
        Manager.open(url, catalog=EXAMPLE_CATALOG, clock=clock) as first,
        Manager.open(url, catalog=EXAMPLE_CATALOG, clock=clock) as second,
    ):
        access = Access.of(first)
        access.accounts.create("alice", name="Alice", actor="setup")
        access.accounts.create("bob", name="Bob", actor="alice")
        first.create_organization("acme", name="Acme", actor="alice")
        _join(access, "acme", "bob", "admin")
        token = access.tokens.create("bob", actor="bob")
        other = RolesPlugin(second.backend, clock)
        assert other.authenticate(token.secret, "acme", "allocate", now=START).allowed
        assert other.permits("bob", "acme", "allocate")  # cached now
        access.members.set_role("acme", "bob", "viewer", actor="alice")
        grant = other.authenticate(token.secret, "acme", "allocate", now=START)
        assert grant.token is not None
        assert grant.allowed is False
        assert other.permits("bob", "acme", "status")
        access.members.remove("acme", "bob", actor="alice")
        assert other.permits("bob", "acme", "status") is False
        access.tokens.revoke(token.info.token_id, actor="bob")
        assert other.authenticate(token.secret, "acme", "status", now=START).token is None
        assert other.axis_licensing_authenticate(token.secret) is None


def test_migrate_carries_members(tmp_path: Path, clock: ManualClock) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"
    with Manager.open(source, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        access = Access.of(m)
        access.accounts.create("alice", name="Alice", password=ALICE_PASSWORD, actor="setup")
        access.accounts.create("bob", name="Bob", actor="alice")
        m.create_organization("acme", name="Acme", actor="alice")
        _join(access, "acme", "bob", "viewer")
        secret = access.tokens.create("bob", actor="bob").secret
    report = migrate(source, target)
    assert {
        t.table: t.rows
        for t in report.tables
        if t.table in ("accounts", "memberships", "invitations", "api_tokens", "access_version")
    } == {"accounts": 2, "memberships": 2, "invitations": 1, "api_tokens": 1, "access_version": 1}
    with Manager.open(target, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        access = Access.of(m)
        assert access.members.list("acme") == [
            Membership("alice", "acme", Role.OWNER),
            Membership("bob", "acme", Role.VIEWER),
        ]
        assert access.accounts.check_password("alice", ALICE_PASSWORD) is not None
        resolved = access.tokens.resolve(secret)
        assert resolved is not None
        assert resolved.account_id == "bob"
