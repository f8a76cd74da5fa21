"""Kept answers (``http._fast``) answer exactly as the routed application would (SPEC §6).

A successful plain query is answered without Litestar's request machinery;
every other request goes on to the application. The answers must be the same,
byte for byte, status and headers included, whichever path a request takes:
each request here is sent twice, once with the kept-answer path and once with
it switched off, on every backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")

from litestar import Litestar
from litestar.testing import TestClient

from _support import Gate
from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock
from axis_licensing.http import TokenFile, _api, _fast, create_app
from axis_licensing.members import authorize
from http_support import ALICE, BASE, ORG, PRODUCT, VENDOR, bearer, tokens

BOB = bearer("bob")  # limited to globex
PATHS = (
    f"{BASE}/products/{PRODUCT}",
    f"{BASE}/products/{PRODUCT}/",
    f"{BASE}/products/{PRODUCT}?at=2026-01-02T00:00:00%2B00:00",
    f"{BASE}/products/no-such-product",
    "/v1/organizations/nobody/products/acs-pro",
    "/v1/organizations/globex/products/acs-pro",
    f"{BASE}/products",
    f"{BASE}/products/{PRODUCT}/wallet",
    f"{BASE}/products/{PRODUCT}/need",
    f"{BASE}/systems",
    f"{BASE}/systems/srv-1",
    f"{BASE}/systems/srv-9",
    f"{BASE}/history",
    "/v1/organizations",
    "/v1/public-key",
    "/v1/nowhere",
)
HEADERS: dict[str, dict[str, str]] = {
    "alice": ALICE,
    "bob": BOB,
    "vendor": VENDOR,
    "unknown token": bearer("mallory"),
    "basic": {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
    "none": {},
    "odd host": {**ALICE, "Host": "exa mple"},
}
#: Requests with a header given twice (httpx sends each pair as it is listed).
TWICE: dict[str, list[tuple[str, str]]] = {
    "bob then alice": [("Authorization", BOB["Authorization"]), *ALICE.items()],
    "alice then bob": [*ALICE.items(), ("Authorization", BOB["Authorization"])],
    "alice with a body": [*ALICE.items(), ("Content-Length", "0")],
}


@pytest.fixture
def app(manager: Manager) -> Litestar:
    manager.create_organization(ORG, name="Acme", actor="setup")
    manager.create_organization("globex", name="Globex", actor="setup")
    manager.register_system(ORG, PRODUCT, "srv-1", devices={"core": 2}, actor="setup")
    return create_app(manager, tokens=TokenFile.parse(tokens(bob=["globex"])))


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def fast_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The plain queries the kept-answer path answered, by name, in order."""
    calls: list[str] = []
    for name, plain in list(_api.PLAIN_QUERIES.items()):

        def counted(*, _name: str = name, _handle: Any = plain.handle, **given: Any) -> object:
            answer = _handle(**given)
            calls.append(_name)  # answered: a refusal or an error goes on to the application
            return answer

        monkeypatch.setitem(_api.PLAIN_QUERIES, name, _api.PlainQuery(counted, plain.defaults))
    return calls


@pytest.fixture
def verdicts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the kept-answer path answered again from a verdict, in order."""
    hits: list[str] = []
    holds = _fast._Verdict.holds

    def counted(self: _fast._Verdict, manager: Manager, seen: Any) -> bool:
        held = holds(self, manager, seen)
        if held:
            hits.append(self.template)
        return held

    monkeypatch.setattr(_fast._Verdict, "holds", counted)
    return hits


def _routed_only(off: pytest.MonkeyPatch) -> None:
    """Switch the kept-answer path off: no plain query, and no verdict holds."""
    off.setattr(_fast, "PLAIN_QUERIES", {})
    off.setattr(_fast._Verdict, "holds", lambda self, manager, seen: False)


def _answer(
    client: TestClient[Litestar],
    method: str,
    path: str,
    headers: dict[str, str] | list[tuple[str, str]],
) -> Any:
    r = client.request(method, path, headers=headers)
    return r.status_code, sorted(r.headers.multi_items()), r.content


def test_kept_answers_equal_the_routed_ones(
    client: TestClient[Litestar],
    manager: Manager,
    monkeypatch: pytest.MonkeyPatch,
    fast_calls: list[str],
    verdicts: list[str],
) -> None:
    asked = [(method, path, who) for method in ("GET", "HEAD") for path in PATHS for who in HEADERS]
    kept = [_answer(client, method, path, HEADERS[who]) for method, path, who in asked]
    with monkeypatch.context() as off:
        _routed_only(off)
        routed = [_answer(client, method, path, HEADERS[who]) for method, path, who in asked]
    for request, one, other in zip(asked, kept, routed, strict=True):
        assert one == other, request
    # the kept-answer path answered what it can, and only on a local store
    local = manager.backend.scheme in ("memory", "sqlite")
    answered = {  # per method: alice's queries, and bob's on globex; the listing for all three
        "status": 4,  # acme (also with a trailing slash) and globex for alice, globex for bob
        "products": 1,
        "wallet": 1,
        "systems": 1,
        "system_status": 1,
        "history": 1,
        "organizations": 3,
    }
    kept_once = {"status", "products", "wallet", "system_status"}  # HEAD: from the GET's verdict
    expected = sorted(
        name
        for name, times in answered.items()
        for _ in range(times if name in kept_once else 2 * times)
    )
    assert sorted(fast_calls) == (expected if local else [])
    assert len(verdicts) == (sum(answered[name] for name in kept_once) if local else 0)
    statuses = {(m, p, w): a[0] for (m, p, w), a in zip(asked, kept, strict=True)}
    assert statuses["GET", PATHS[0], "alice"] == 200
    assert statuses["GET", PATHS[0], "bob"] == 403
    assert statuses["GET", PATHS[0], "none"] == 401
    assert statuses["GET", PATHS[3], "alice"] == 404
    assert statuses["GET", PATHS[0], "odd host"] == 400


def test_a_header_given_twice_goes_on_to_the_application(
    client: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch, fast_calls: list[str]
) -> None:
    """Two tokens, or a body's length: the application answers, as it always would."""
    path = PATHS[0]
    kept = {who: _answer(client, "GET", path, headers) for who, headers in TWICE.items()}
    with monkeypatch.context() as off:
        _routed_only(off)
        routed = {who: _answer(client, "GET", path, headers) for who, headers in TWICE.items()}
    assert kept == routed
    assert fast_calls == []
    assert {who: answer[0] for who, answer in kept.items()} == {
        "bob then alice": 401,  # two tokens are no valid token
        "alice then bob": 401,
        "alice with a body": 200,
    }


def test_a_kept_answer_follows_the_store(
    client: TestClient[Litestar], manager: Manager, clock: ManualClock, fast_calls: list[str]
) -> None:
    path = f"{BASE}/products/{PRODUCT}"
    manager.start_subscription(ORG, PRODUCT, actor="setup")
    first = client.get(path, headers=ALICE).json()
    assert first["devices"] == {"core": 2}
    assert first["required_now"] == {"core": 2}
    manager.report_devices(ORG, "srv-1", {"core": 5}, actor="setup")
    again = client.get(path, headers=ALICE).json()
    assert again["devices"] == {"core": 5}
    assert again["required_now"] == {"core": 5}
    clock.advance(days=40)  # past the trial's 30 days: the same head, another day
    later = client.get(path, headers=ALICE).json()
    assert (first["state"], later["state"]) == ("trial", "unlicensed")
    local = manager.backend.scheme in ("memory", "sqlite")
    assert fast_calls == (["status"] * 3 if local else [])


def test_a_command_over_http_asks_the_hook_once_after_its_input_is_checked(
    manager: Manager,
) -> None:
    """SPEC §4: asked before every command, after its input is checked; once."""
    manager.create_organization(ORG, name="Acme", actor="setup")
    asked = Gate()
    app = create_app(manager, tokens=TokenFile.parse(tokens()), plugins=[asked])
    with TestClient(app) as client:
        r = client.post(f"{BASE}/products/{PRODUCT}/subscription", headers=ALICE, json={})
        assert r.status_code == 201, r.text
        assert asked.calls == [("alice", ORG, "start_subscription", PRODUCT)]
        asked.calls.clear()
        bad = client.post(
            f"{BASE}/products/{PRODUCT}/allocations",
            headers=ALICE,
            json={"quantities": {"core": "3"}},
        )
        assert bad.status_code == 400, bad.text
        assert bad.json()["code"] == "invalid_input"
        assert asked.calls == []  # refused for its input: the hook was never asked
        ok = client.get(f"{BASE}/products/{PRODUCT}", headers=ALICE)
        assert ok.status_code == 200
        assert asked.calls == [("alice", ORG, "status", PRODUCT)]  # the service asks for queries


def test_a_refusing_hook_refuses_a_command_over_http_and_changes_nothing(
    manager: Manager,
) -> None:
    manager.create_organization(ORG, name="Acme", actor="setup")
    asked = Gate()
    asked.refuse.add("start_subscription")
    app = create_app(manager, tokens=TokenFile.parse(tokens()), plugins=[asked])
    with TestClient(app) as client:
        r = client.post(f"{BASE}/products/{PRODUCT}/subscription", headers=ALICE, json={})
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "permission_denied"
        assert asked.calls == [("alice", ORG, "start_subscription", PRODUCT)]
    assert manager.status(ORG, PRODUCT).state == "not_started"


# -- verdicts: an answer given again only while nothing it depends on changed (SPEC §6, §8) -------


@pytest.fixture
def members(manager: Manager) -> Litestar:
    """``acme`` with its owner ``alice`` and the viewer ``bob``, served without a tokens file."""
    manager.create_organization(ORG, name="Acme", actor="setup")
    manager.register_system(ORG, PRODUCT, "srv-1", devices={"core": 2}, actor="setup")
    manager.accounts.create("alice", name="Alice", actor="system")
    manager.accounts.create("bob", name="Bob", actor="system")
    manager.members.add_creator(ORG, "alice")
    invitation = manager.members.invite(ORG, "bob", role="viewer", actor="alice")
    manager.members.accept(invitation.token, account_id="bob")
    return create_app(manager)


def _stored(manager: Manager, account_id: str, **limits: Any) -> tuple[str, dict[str, str]]:
    issued = manager.tokens.create(account_id, actor=account_id, **limits)
    return issued.info.token_id, {"Authorization": f"Bearer {issued.secret}"}


def _twice(client: TestClient[Litestar], path: str, headers: dict[str, str]) -> list[int]:
    return [client.get(path, headers=headers).status_code for _ in range(2)]


STATUS = f"{BASE}/products/{PRODUCT}"


#: Changes of the store's members after which bob's request is refused, with the status.
CHANGES: dict[str, tuple[Callable[[Manager, str], object], int]] = {
    "token revoked": (lambda m, token_id: m.tokens.revoke(token_id, actor="bob"), 401),
    "member removed": (lambda m, token_id: m.members.remove(ORG, "bob", actor="alice"), 403),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_of_members_is_effective_at_once(
    members: Litestar, manager: Manager, verdicts: list[str], change: str
) -> None:
    """SPEC §8: the next request after a revocation or a removal is refused, kept or not."""
    token_id, headers = _stored(manager, "bob")
    make, status = CHANGES[change]
    with TestClient(members) as client:
        assert _twice(client, STATUS, headers) == [200, 200]
        make(manager, token_id)
        assert _twice(client, STATUS, headers) == [status, status]
        assert _twice(client, f"{BASE}/products", headers) == [status, status]
    local = manager.backend.scheme in ("memory", "sqlite")
    assert len(verdicts) == (1 if local else 0)


def test_a_stored_token_expires_and_writes_its_use_while_answers_are_kept(
    members: Litestar, manager: Manager, clock: ManualClock, verdicts: list[str]
) -> None:
    token_id, headers = _stored(manager, "bob", expires_at=clock.now() + timedelta(minutes=3))

    def last_used() -> datetime | None:
        (info,) = [t for t in manager.tokens.list("bob") if t.token_id == token_id]
        return info.last_used_at

    with TestClient(members) as client:
        assert _twice(client, STATUS, headers) == [200, 200]
        assert last_used() == clock.now()
        clock.advance(timedelta(minutes=2))  # its last use is a minute old: written again
        assert _twice(client, STATUS, headers) == [200, 200]
        assert last_used() == clock.now()
        clock.advance(timedelta(minutes=1))  # expired
        assert client.get(STATUS, headers=headers).status_code == 401
    local = manager.backend.scheme in ("memory", "sqlite")
    assert len(verdicts) == (2 if local else 0)


def test_a_hook_added_later_is_asked(app: Litestar, manager: Manager, verdicts: list[str]) -> None:
    """A verdict holds only for the hooks it was given under; a host's own hook is asked always."""
    gate = Gate()
    with TestClient(app) as client:
        assert _twice(client, STATUS, ALICE) == [200, 200]
        manager.plugin_manager.manager.register(gate)
        gate.refuse.add("status")
        assert _twice(client, STATUS, ALICE) == [403, 403]
        gate.refuse.clear()
        assert _twice(client, STATUS, ALICE) == [200, 200]
    # asked for every request; on a local store twice for a refusal (the kept-answer path
    # leaves it to the application, which asks again)
    local = manager.backend.scheme in ("memory", "sqlite")
    assert gate.calls == [("alice", ORG, "status", PRODUCT)] * (6 if local else 4)
    assert len(verdicts) == (1 if local else 0)


def test_a_verdict_is_per_token_and_path(
    app: Litestar, manager: Manager, verdicts: list[str]
) -> None:
    """Bob's token reaches globex only: alice's verdict on acme is not his."""
    with TestClient(app) as client:
        assert _twice(client, STATUS, ALICE) == [200, 200]
        assert _twice(client, STATUS, BOB) == [403, 403]
        globex = "/v1/organizations/globex/products/acs-pro"
        assert _twice(client, globex, BOB) == [200, 200]
        assert _twice(client, STATUS, ALICE) == [200, 200]
    local = manager.backend.scheme in ("memory", "sqlite")
    assert len(verdicts) == (4 if local else 0)


def test_a_change_in_another_process_is_seen_at_once(
    persistent_url: str, clock: ManualClock, verdicts: list[str]
) -> None:
    """Another Manager on the same store revokes the token, or moves the head: seen at once."""
    with Manager.open(persistent_url, catalog=EXAMPLE_CATALOG, clock=clock) as served:
        served.create_organization(ORG, name="Acme", actor="setup")
        served.accounts.create("bob", name="Bob", actor="system")
        served.members.add_creator(ORG, "bob")
        token_id, headers = _stored(served, "bob")
        with (
            TestClient(create_app(served)) as client,
            Manager.open(persistent_url, clock=clock, create=False) as other,
        ):
            assert _twice(client, STATUS, headers) == [200, 200]
            other.start_subscription(ORG, PRODUCT, actor="bob")
            assert client.get(STATUS, headers=headers).json()["state"] == "trial"
            other.tokens.revoke(token_id, actor="bob")
            assert _twice(client, STATUS, headers) == [401, 401]
    local = persistent_url.startswith("sqlite")
    assert len(verdicts) == (1 if local else 0)


def test_an_account_made_in_another_process_ends_a_verdict(
    persistent_url: str, clock: ManualClock, verdicts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first account makes every actor an account (SPEC §8): a file actor is refused.

    Until then the roles read whether one appeared only every ``EMPTY_RECHECK``
    seconds, so the first requests after it may still be answered; no verdict
    keeps such an answer past that.
    """
    monkeypatch.setattr(authorize, "EMPTY_RECHECK", 0.2)
    with Manager.open(persistent_url, catalog=EXAMPLE_CATALOG, clock=clock) as served:
        served.create_organization(ORG, name="Acme", actor="setup")
        app = create_app(served, tokens=TokenFile.parse(tokens()))
        with (
            TestClient(app) as client,
            Manager.open(persistent_url, clock=clock, create=False) as other,
        ):
            assert _twice(client, STATUS, ALICE) == [200, 200]
            head = served.backend.peek(ORG)
            other.accounts.create("carol", name="Carol", actor="system")
            assert served.backend.peek(ORG) == head  # the access version moved, the head did not
            assert client.get(STATUS, headers=ALICE).status_code == 200  # not seen yet
            time.sleep(0.3)
            assert _twice(client, STATUS, ALICE) == [403, 403]
    local = persistent_url.startswith("sqlite")
    assert len(verdicts) == (1 if local else 0)
