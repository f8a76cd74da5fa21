"""The member commands ask the authorize hook (SPEC §4, §8), on every backend.

Every member command asks ``axis_licensing_authorize`` once, after its input is
checked and before it writes, with the action names of
:mod:`axis_licensing.members.roles`. The built-in roles plugin answers them by
its table; a host's own plugin is asked after it (the Manager registers the
roles plugin last, so pluggy asks it first) and may refuse more, but cannot
allow what the roles refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher

from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock, PermissionDenied, hookimpl
from axis_licensing.backends import TABLES
from axis_licensing.members import Membership, Role, passwords

PASSWORD = "correct horse battery"

#: One call of the hook: (actor, org_id, action, product).
Call = tuple[str, str | None, str, str | None]


class Recorder:
    """A host's own authorizer: it records every question, and refuses the actions in ``refuse``.

    It answers ``allow`` (None: no opinion) for the rest, and for everything
    until it is ``armed`` (once the test's store is set up).
    """

    def __init__(self, refuse: frozenset[str] = frozenset(), allow: bool | None = None) -> None:
        self.calls: list[Call] = []
        self.refuse = refuse
        self.allow = allow
        self.armed = False

    @hookimpl
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool | None:
        """Record the question; refuse the actions of ``refuse``."""
        self.calls.append((actor, org_id, action, product))
        if not self.armed:
            return None
        return False if action in self.refuse else self.allow

    def taken(self) -> list[Call]:
        """The calls recorded since the last ``taken()``."""
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords with cheap Argon2id parameters, so the tests stay fast."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: cheap)


@pytest.fixture
def host(request: pytest.FixtureRequest) -> Recorder:
    """The host's recording authorizer: refusing nothing, or as the test's parameter says."""
    return Recorder(**getattr(request, "param", {}))


@pytest.fixture
def m(backend_url: str, clock: ManualClock, host: Recorder) -> Iterator[Manager]:
    """A Manager with the host's plugin, where ``alice`` owns ``acme`` and ``bob`` is an account."""
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock, plugins=[host]) as opened:
        opened.accounts.create("alice", name="Alice", actor="setup")
        opened.accounts.create("bob", name="Bob", actor="alice")
        opened.create_organization("acme", name="Acme", actor="alice")
        host.taken()
        host.armed = True
        yield opened


def _store(manager: Manager) -> dict[str, list[dict[str, Any]]]:
    return {table: list(manager.backend.export_rows(table)) for table in TABLES}


def test_every_member_command_asks_the_hook_once_with_its_action(
    m: Manager, host: Recorder
) -> None:
    asked: list[list[Call]] = []

    def ask() -> None:
        asked.append(host.taken())

    m.accounts.create("carol", name="Carol", actor="alice")
    ask()
    m.accounts.create("seller", name="Seller", vendor=True, actor="system")
    ask()
    m.accounts.set_password("carol", PASSWORD, actor="carol")
    ask()
    invitation = m.members.invite("acme", "carol", role="viewer", actor="alice")
    ask()
    assert m.members.accept(invitation.token, account_id="carol") == Membership(
        "carol", "acme", Role.VIEWER
    )
    ask()
    m.members.set_role("acme", "carol", Role.ADMIN, actor="alice", request_id="r-1")
    ask()
    theirs = m.tokens.create("carol", actor="carol")
    ask()
    own = m.tokens.create("carol", actor="carol")
    host.taken()
    m.tokens.revoke(theirs.info.token_id, actor="alice")  # an owner revokes a member's token
    ask()
    m.tokens.revoke(own.info.token_id, actor="carol")
    ask()
    m.members.remove("acme", "carol", actor="alice")
    ask()
    bob = m.members.invite("acme", "bob", role="viewer", actor="alice")
    m.members.accept(bob.token, account_id="bob")
    host.taken()
    m.members.remove("acme", "bob", actor="bob")  # leaving
    ask()
    assert asked == [
        [("alice", None, "accounts.create", None)],
        [("system", None, "accounts.create_vendor", None)],
        [("carol", None, "accounts.set_password", None)],
        [("alice", "acme", "members.invite", None)],
        [("carol", None, "members.accept", None)],
        [("alice", "acme", "members.set_role", None)],
        [("carol", None, "tokens.create", None)],
        [("alice", "acme", "tokens.revoke_member", None)],
        [("carol", None, "tokens.revoke", None)],
        [("alice", "acme", "members.remove", None)],
        [("bob", "acme", "members.leave", None)],
    ]
    # a replay asks again, as every command does (§4), and answers the first result
    m.members.set_role("acme", "alice", Role.OWNER, actor="alice", request_id="r-2")
    assert host.taken() == [("alice", "acme", "members.set_role", None)]


@pytest.mark.parametrize(
    "host", [{"refuse": frozenset({"members.invite"})}], ids=["refuse-invite"], indirect=True
)
def test_a_host_plugin_that_refuses_an_invitation_changes_nothing(
    m: Manager, host: Recorder
) -> None:
    before = _store(m)
    with pytest.raises(PermissionDenied) as caught:
        m.members.invite("acme", "bob", role="viewer", actor="alice", request_id="i-1")
    assert caught.value.details == {"actor": "alice", "action": "members.invite"}
    assert host.taken() == [("alice", "acme", "members.invite", None)]
    assert _store(m) == before
    assert m.members.list("acme") == [Membership("alice", "acme", Role.OWNER)]
    # what it does not refuse runs
    assert m.members.set_role("acme", "alice", "owner", actor="alice").role is Role.OWNER


_REFUSED = frozenset(
    {
        "accounts.create",
        "accounts.set_password",
        "members.accept",
        "members.leave",
        "tokens.create",
        "tokens.revoke",
    }
)


@pytest.mark.parametrize("host", [{"refuse": _REFUSED}], ids=["refuse-own"], indirect=True)
def test_a_host_plugin_may_refuse_what_an_account_does_on_its_own(
    m: Manager, host: Recorder
) -> None:
    host.armed = False
    m.accounts.create("carol", name="Carol", actor="alice")
    invitation = m.members.invite("acme", "carol", role="viewer", actor="alice")
    joined = m.members.invite("acme", "bob", role="viewer", actor="alice")
    m.members.accept(joined.token, account_id="bob")
    token = m.tokens.create("alice", actor="alice")
    host.armed = True
    before = _store(m)
    host.taken()
    refused: dict[str, Callable[[], object]] = {
        "accounts.create": lambda: m.accounts.create("dave", name="Dave", actor="alice"),
        "accounts.set_password": lambda: m.accounts.set_password("bob", PASSWORD, actor="bob"),
        "members.accept": lambda: m.members.accept(invitation.token, account_id="carol"),
        "members.leave": lambda: m.members.remove("acme", "bob", actor="bob"),
        "tokens.create": lambda: m.tokens.create("bob", actor="bob"),
        "tokens.revoke": lambda: m.tokens.revoke(token.info.token_id, actor="alice"),
    }
    for action, run in refused.items():
        with pytest.raises(PermissionDenied) as caught:
            run()
        assert caught.value.details["action"] == action
        assert _store(m) == before, action
    assert [action for _, _, action, _ in host.taken()] == list(refused)
    assert m.tokens.resolve(token.secret) is not None


@pytest.mark.parametrize("host", [{"allow": True}], ids=["allow-all"], indirect=True)
def test_a_host_plugin_cannot_allow_what_the_roles_refuse(m: Manager, host: Recorder) -> None:
    """The roles plugin is registered last, so pluggy asks it first: its refusal stands."""
    invitation = m.members.invite("acme", "bob", role="viewer", actor="alice")
    m.members.accept(invitation.token, account_id="bob")
    token_id = m.tokens.create("alice", actor="system").info.token_id
    host.taken()
    before = _store(m)
    refused: tuple[Callable[[], object], ...] = (
        lambda: m.members.invite("acme", "alice", role="viewer", actor="bob"),
        lambda: m.members.set_role("acme", "bob", "owner", actor="bob"),
        lambda: m.members.remove("acme", "alice", actor="bob"),
        lambda: m.accounts.create("dave", name="Dave", actor="mallory"),
        lambda: m.accounts.create("dave", name="Dave", vendor=True, actor="alice"),
        lambda: m.tokens.revoke(token_id, actor="bob"),
    )
    for run in refused:
        with pytest.raises(PermissionDenied):
            run()
    assert host.taken() == []  # never asked: the roles answered first
    assert _store(m) == before
    # another account's password or token is refused before the hook is asked at all
    with pytest.raises(PermissionDenied):
        m.accounts.set_password("alice", PASSWORD, actor="bob")
    with pytest.raises(PermissionDenied):
        m.tokens.create("alice", actor="bob")
    assert host.taken() == []


def test_a_tokens_file_leaves_an_accounts_own_commands_to_the_roles(
    backend_url: str, clock: ManualClock
) -> None:
    """Without an organization, the tokens file refuses non-vendors the vendor's commands only."""
    from axis_licensing.http import TokenFile
    from axis_licensing.http._auth import TokenEntry

    tokens = TokenFile([TokenEntry("0" * 64, "alice", frozenset({"acme"}))])
    assert tokens.axis_licensing_authorize("alice", None, "tokens.create", None) is None
    assert tokens.axis_licensing_authorize("alice", None, "vendor.issue_key", "acs-pro") is False
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock, plugins=[tokens]) as m:
        m.accounts.create("alice", name="Alice", actor="alice")
        m.create_organization("acme", name="Acme", actor="alice")
        m.accounts.create("bob", name="Bob", actor="alice")
        assert m.tokens.create("alice", actor="alice").info.account_id == "alice"
        with pytest.raises(PermissionDenied):
            m.vendor.issue_key("acs-pro", quantities={"core": 1}, actor="alice")
        with pytest.raises(PermissionDenied):  # outside its organizations
            m.create_organization("globex", name="Globex", actor="alice")


def test_member_requests_are_remembered_as_before_and_replay(m: Manager) -> None:
    """The remembered results keep their stored text (old stores replay), and never a secret."""
    account = m.accounts.create("carol", name="Carol", actor="alice", request_id="a-1")
    invitation = m.members.invite("acme", "carol", role="viewer", actor="alice", request_id="i-1")
    m.members.accept(invitation.token, account_id="carol")
    changed = m.members.set_role("acme", "carol", "admin", actor="alice", request_id="s-1")
    m.members.remove("acme", "carol", actor="alice", request_id="r-1")
    rows = {
        (r["scope"], r["request_id"]): r["result"]
        for r in m.backend.export_rows("requests")
        if r["request_id"] in ("a-1", "i-1", "s-1", "r-1")
    }
    created_at = account.created_at.isoformat()
    expires_at = invitation.expires_at.isoformat()
    assert rows == {
        ("accounts", "a-1"): (
            f'{{"account_id":"carol","created_at":"{created_at}","name":"Carol","vendor":false}}'
        ),
        ("members:acme", "i-1"): (
            f'{{"account_id":"carol","expires_at":"{expires_at}","org_id":"acme",'
            '"role":"viewer","token":""}'
        ),
        ("members:acme", "s-1"): '{"account_id":"carol","org_id":"acme","role":"admin"}',
        ("members:acme", "r-1"): "null",
    }
    # replays answer the first results, the invitation's secret derived again
    assert m.accounts.create("carol", name="Carol", actor="alice", request_id="a-1") == account
    again = m.members.invite("acme", "carol", role="viewer", actor="alice", request_id="i-1")
    assert again == invitation
    assert again.token == invitation.token != ""
    assert m.members.set_role("acme", "carol", "admin", actor="alice", request_id="s-1") == changed
    assert m.members.remove("acme", "carol", actor="alice", request_id="r-1") is None  # type: ignore[func-returns-value]


def test_a_member_command_wakes_an_in_process_dispatcher(m: Manager) -> None:
    """Its activities are events in the outbox (SPEC §7), sent at once as the pipeline's are."""
    wake = m.events_wake
    wake.clear()
    m.accounts.create("carol", name="Carol", actor="alice")
    assert not wake.is_set()  # an account belongs to no organization: nothing recorded
    m.members.invite("acme", "bob", role="viewer", actor="alice")
    assert wake.is_set()
    assert [e.type for e in m.events("acme")][-1] == "member_invited"
