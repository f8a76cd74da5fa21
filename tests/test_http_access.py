"""Who may do what at the HTTP edge (SPEC §6.1, §7, §8): the audit's items, on every backend.

1. A read-only token runs queries only; a token limited to some organizations
   acts in those only (never vendor-wide), and never makes a token wider than
   itself; in the API and in the portal.
2. Listings of webhooks, failed deliveries and tokens show only what the
   caller may see; another organization named explicitly is 403.
3. ``sweep`` and ``deliver`` are the vendor's.
4. An invitation is accepted by its own account only.
5. Integers in a query string are integers: ``1.0`` and ``1e0`` are 400.
6. The schema says what the server takes: ``NewWebhook.org_id`` may be null.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")

from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import TestClient

from axis_licensing import Manager, ManualClock
from axis_licensing.backends import TABLES
from axis_licensing.http import TokenFile, create_app, seed_accounts
from axis_licensing.members import passwords
from http_support import ALICE, VENDOR, bearer, problem, tokens

PRODUCT = "acs-pro"
PASSWORD = "correct horse battery staple"
SECRET = b"k" * 32
#: The tables a refused request must leave unchanged (a token's last use may move).
STATE_TABLES = tuple(t for t in TABLES if t != "api_tokens")
HOOK = "http://127.0.0.1:9/"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords with cheap parameters, so the tests stay fast."""
    monkeypatch.setattr(
        passwords, "hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def _hook(m: Manager, org_id: str | None, name: str, actor: str) -> str:
    added = m.webhooks.add(org_id, HOOK + name, actor=actor, allow_http=True, allow_private=True)
    return added.endpoint_id


def _failed_for_good(m: Manager, clock: ManualClock) -> None:
    """Every pending delivery tried, then given up on (the receiver never answers)."""
    m.deliver(limit=1000)
    clock.advance(timedelta(days=4))
    m.deliver(limit=1000)


@pytest.fixture
def world(manager: Manager, clock: ManualClock) -> dict[str, str]:
    """Accounts and organizations, an endpoint in each and a vendor-wide one, failed deliveries.

    ``owner`` owns ``acme`` and ``beta``, ``viewer`` views ``acme``, ``stranger``
    owns ``globex``, ``seller`` is the vendor (and owns ``vend``), ``bob`` is
    invited to ``acme``. The answer holds the endpoints' ids, the invitation
    and each account's full token.
    """
    m = manager
    m.accounts.create("owner", name="Owner", password=PASSWORD, actor="setup")
    for name in ("viewer", "stranger", "bob"):
        m.accounts.create(name, name=name.title(), actor="owner")
    m.accounts.create("seller", name="Seller", vendor=True, actor="system")
    for org, who in (("acme", "owner"), ("beta", "owner"), ("globex", "stranger")):
        m.create_organization(org, name=org.title(), actor=who)
    m.create_organization("vend", name="Vend", actor="seller")
    viewer = m.members.invite("acme", "viewer", role="viewer", actor="owner")
    m.members.accept(viewer.token, account_id="viewer")
    found = {
        "acme_ep": _hook(m, "acme", "acme", "owner"),
        "beta_ep": _hook(m, "beta", "beta", "owner"),
        "globex_ep": _hook(m, "globex", "globex", "stranger"),
        "vendor_ep": _hook(m, None, "vendor", "seller"),
    }
    for org, who in (("acme", "owner"), ("beta", "owner"), ("globex", "stranger")):
        m.register_system(org, PRODUCT, f"srv-{org}", devices={"core": 1}, actor=who)
    _failed_for_good(m, clock)
    found["bob_invitation"] = m.members.invite("acme", "bob", role="admin", actor="owner").token
    for name in ("owner", "viewer", "stranger", "bob", "seller"):
        found[name] = m.tokens.create(name, actor=name).secret
    return found


@pytest.fixture
def api(manager: Manager) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(manager, secret=SECRET)) as client:
        yield client


def _h(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _token(m: Manager, account: str, **limits: Any) -> dict[str, str]:
    return _h(m.tokens.create(account, actor=account, **limits).secret)


def _state(m: Manager) -> dict[str, list[dict[str, Any]]]:
    return {t: list(m.backend.export_rows(t)) for t in STATE_TABLES}


def _failed_of(m: Manager, endpoint_id: str) -> str:
    return next(d.delivery_id for d in m.webhooks.failed() if d.endpoint_id == endpoint_id)


Call = tuple[str, str, dict[str, Any] | None, dict[str, str]]


def _endpoint_commands(m: Manager, endpoint_id: str, headers: dict[str, str]) -> list[Call]:
    """Every command on an existing endpoint and on one of its failed deliveries."""
    one = f"/v1/webhooks/{endpoint_id}"
    return [
        ("POST", one + "/secret", None, headers),
        ("PATCH", one, {"enabled": False}, headers),
        ("DELETE", one, None, headers),
        ("POST", f"/v1/deliveries/{_failed_of(m, endpoint_id)}/redeliver", None, headers),
    ]


# -- 1. a token's limits ---------------------------------------------------------------------------


def test_audit_item1_a_read_only_token_runs_queries_only(
    manager: Manager, world: dict[str, str], api: TestClient[Litestar]
) -> None:
    m = manager
    ro = _token(m, "owner", read_only=True)
    seller_ro = _token(m, "seller", read_only=True)
    own = m.tokens.list("owner")[0].token_id
    acme_ep = world["acme_ep"]
    writes: list[Call] = [
        ("POST", "/v1/accounts/owner/tokens", {}, ro),
        ("POST", "/v1/accounts/owner/tokens", {"read_only": True}, ro),
        ("POST", "/v1/webhooks", {"org_id": "acme", "url": "https://example.com/x"}, ro),
        *_endpoint_commands(m, acme_ep, ro),
        ("POST", "/v1/accounts", {"account_id": "new", "name": "New"}, ro),
        ("POST", "/v1/organizations/acme/invitations", {"account_id": "bob", "role": "viewer"}, ro),
        ("DELETE", f"/v1/tokens/{own}", None, ro),
        ("POST", "/v1/sweep", {}, seller_ro),
        ("POST", "/v1/deliver", {}, seller_ro),
        ("POST", "/v1/webhooks", {"org_id": None, "url": "https://example.com/v"}, seller_ro),
    ]
    before = _state(m)
    tokens_before = len(m.tokens.list("owner"))
    for method, path, body, headers in writes:
        r = api.request(method, path, json=body, headers=headers)
        problem(r, 403, "permission_denied")
        assert "secret" not in r.json(), path
    assert _state(m) == before
    assert len(m.tokens.list("owner")) == tokens_before
    assert all(t.revoked_at is None for t in m.tokens.list("owner"))
    # its queries answer as before
    listed = api.get("/v1/webhooks?org_id=acme", headers=ro)
    assert [e["endpoint_id"] for e in listed.json()] == [acme_ep]
    assert api.get("/v1/accounts/owner/tokens", headers=ro).status_code == 200
    assert api.get("/v1/organizations/acme/events", headers=ro).status_code == 200


def test_audit_item1_a_limited_token_acts_in_its_organizations_only(
    manager: Manager, world: dict[str, str], api: TestClient[Litestar]
) -> None:
    m = manager
    lim = _token(m, "owner", orgs=["acme"])
    beta_ep = world["beta_ep"]
    refused: list[Call] = [
        ("POST", "/v1/webhooks", {"org_id": "beta", "url": "https://example.com/b"}, lim),
        *_endpoint_commands(m, beta_ep, lim),
        ("POST", "/v1/accounts", {"account_id": "new", "name": "New"}, lim),
        (
            "POST",
            "/v1/invitations/accept",
            {"token": world["bob_invitation"], "account_id": "owner"},
            lim,
        ),
        ("GET", "/v1/webhooks?org_id=beta", None, lim),
        ("GET", "/v1/deliveries/failed?org_id=beta", None, lim),
    ]
    vend = _token(m, "seller", orgs=["vend"])  # the vendor's account, limited: nothing vendor-wide
    refused += [
        ("POST", "/v1/webhooks", {"org_id": None, "url": "https://example.com/v"}, vend),
        ("POST", "/v1/vendor/keys", {"product": PRODUCT, "quantities": {"core": 1}}, vend),
        ("POST", "/v1/sweep", {}, vend),
        ("POST", "/v1/deliver", {}, vend),
        ("GET", "/v1/accounts/owner/tokens", None, vend),
    ]
    before = _state(m)
    for method, path, body, headers in refused:
        r = api.request(method, path, json=body, headers=headers)
        problem(r, 403, "permission_denied")
        assert "beta" not in r.json()["detail"], path
    assert _state(m) == before
    # what it reaches answers as it did
    assert [e["org_id"] for e in api.get("/v1/webhooks", headers=lim).json()] == ["acme"]
    failed = api.get("/v1/deliveries/failed", headers=lim).json()
    assert {d["endpoint_id"] for d in failed} == {world["acme_ep"]}
    added = api.post(
        "/v1/webhooks", json={"org_id": "acme", "url": "https://example.com/a"}, headers=lim
    )
    assert added.status_code == 201, added.text
    assert api.post(f"/v1/webhooks/{world['acme_ep']}/secret", headers=lim).status_code == 200
    vendor_wide = {"org_id": None, "url": "https://example.com/v"}
    assert (
        api.post("/v1/webhooks", json=vendor_wide, headers=_h(world["seller"])).status_code == 201
    )


def test_audit_item1_a_token_never_makes_a_wider_token(
    manager: Manager, clock: ManualClock, world: dict[str, str], api: TestClient[Litestar]
) -> None:
    m = manager
    lim = _token(m, "owner", orgs=["acme"])
    url = "/v1/accounts/owner/tokens"
    before = len(m.tokens.list("owner"))
    for body in ({}, {"orgs": ["acme", "beta"]}, {"orgs": ["beta"]}):
        problem(api.post(url, json=body, headers=lim), 403, "permission_denied")
    made = api.post(url, json={"orgs": ["acme"], "read_only": True}, headers=lim)
    assert made.status_code == 201, made.text
    assert (made.json()["info"]["orgs"], made.json()["info"]["read_only"]) == (["acme"], True)
    expiring = _token(m, "owner", expires_at=clock.now() + timedelta(days=1))
    for later in ({}, {"expires_at": (clock.now() + timedelta(days=2)).isoformat()}):
        problem(api.post(url, json=later, headers=expiring), 403, "permission_denied")
    sooner = {"expires_at": (clock.now() + timedelta(hours=1)).isoformat()}
    assert api.post(url, json=sooner, headers=expiring).status_code == 201
    assert len(m.tokens.list("owner")) == before + 2 + 1  # lim, expiring, and the two made
    # a malformed value is still the library's to refuse, for its form
    problem(api.post(url, json={"orgs": "acme"}, headers=lim), 400, "invalid_input")
    # an object is not a list of ids: refused, never read as its keys (a review's bypass)
    for orgs in ({"beta": True}, {"acme": 1, "beta": 1}):
        problem(api.post(url, json={"orgs": orgs}, headers=lim), 400, "invalid_input")
    assert len(m.tokens.list("owner")) == before + 2 + 1
    # revoking: a limited token may not revoke its account's wider token
    wide = next(t for t in m.tokens.list("owner") if t.orgs is None)
    problem(api.delete(f"/v1/tokens/{wide.token_id}", headers=lim), 403, "permission_denied")
    assert all(t.revoked_at is None for t in m.tokens.list("owner"))
    narrow = made.json()["info"]["token_id"]
    assert api.delete(f"/v1/tokens/{narrow}", headers=lim).status_code == 204


def _portal_sign_in(client: TestClient[Litestar], secret: str) -> str:
    from test_http_portal import csrf_of

    csrf = csrf_of(client.get("/signin").text)
    r = client.post("/signin", data={"token": secret, "_csrf_token": csrf})
    assert r.status_code == 200, r.text
    return csrf


def test_audit_item1_the_portal_keeps_a_tokens_limits(
    manager: Manager, world: dict[str, str], api: TestClient[Litestar]
) -> None:
    m = manager
    ro = m.tokens.create("owner", read_only=True, actor="owner").secret
    csrf = _portal_sign_in(api, ro)
    before = _state(m)
    tokens_before = len(m.tokens.list("owner"))
    posts = [
        ("/orgs/acme/members/invite", {"account_id": "bob", "role": "owner"}),
        (f"/orgs/acme/webhooks/{world['acme_ep']}/rotate", {}),
        (f"/orgs/acme/webhooks/{world['acme_ep']}/remove", {}),
        ("/orgs/acme/webhooks/new", {"url": "https://example.com/p"}),
        ("/account/tokens/new", {}),
        ("/orgs/acme/systems/new", {"system_id": "s9", "product": PRODUCT}),
    ]
    for n, (path, fields) in enumerate(posts):
        r = api.post(path, data={**fields, "_csrf_token": csrf, "request_id": f"rq-{n}"})
        assert r.status_code in (200, 403), (path, r.status_code)
    assert _state(m) == before
    assert len(m.tokens.list("owner")) == tokens_before
    api.cookies.clear()
    lim = m.tokens.create("owner", orgs=["acme"], actor="owner").secret
    csrf = _portal_sign_in(api, lim)
    api.post("/account/tokens/new", data={"_csrf_token": csrf, "request_id": "rq-t"})
    assert len(m.tokens.list("owner")) == tokens_before + 1  # only ``lim`` itself
    api.post(
        "/account/tokens/new", data={"orgs": "acme", "_csrf_token": csrf, "request_id": "rq-u"}
    )
    assert [t.orgs for t in m.tokens.list("owner")].count(("acme",)) == 2
    # the same form with a token that may: the refusals above were the token's
    fields = {"system_id": "s9", "product": PRODUCT, "_csrf_token": csrf, "request_id": "rq-s"}
    api.post("/orgs/acme/systems/new", data=fields)
    assert "s9" in {s.system_id for s in m.systems("acme")}


# -- 2. listings show what the caller may see ---------------------------------------------------


def test_audit_item2_webhooks_and_failed_deliveries_are_filtered_by_the_caller(
    manager: Manager, world: dict[str, str], api: TestClient[Litestar]
) -> None:
    viewer, seller, owner = (_h(world[n]) for n in ("viewer", "seller", "owner"))

    def ids(path: str, headers: dict[str, str], key: str = "endpoint_id") -> set[str]:
        r = api.get(path, headers=headers)
        assert r.status_code == 200, r.text
        assert "globex" not in r.text or headers is not viewer
        return {item[key] for item in r.json()}

    acme_ep, vendor_ep = world["acme_ep"], world["vendor_ep"]
    assert ids("/v1/webhooks", viewer) == {acme_ep}
    assert ids("/v1/webhooks?org_id=acme", viewer) == {acme_ep}
    assert ids("/v1/deliveries/failed", viewer, "endpoint_id") == {acme_ep}
    assert ids("/v1/deliveries/failed?org_id=acme", viewer, "endpoint_id") == {acme_ep}
    for path in ("/v1/webhooks?org_id=globex", "/v1/deliveries/failed?org_id=globex"):
        body = problem(api.get(path, headers=viewer), 403, "permission_denied")
        assert "globex" not in body["detail"]
    # the same answer for an organization that does not exist
    problem(api.get("/v1/webhooks?org_id=nowhere", headers=viewer), 403, "permission_denied")
    assert ids("/v1/webhooks", owner) == {acme_ep, world["beta_ep"]}
    # the vendor sees the vendor-wide endpoint and its deliveries, whoever's events they carry
    assert ids("/v1/webhooks", seller) == {vendor_ep}
    failed = api.get("/v1/deliveries/failed", headers=seller).json()
    assert {(d["endpoint_id"], d["org_id"]) for d in failed} == {
        (vendor_ep, "acme"),
        (vendor_ep, "beta"),
        (vendor_ep, "globex"),
    }
    # a read-only vendor token reads it too
    ro = _token(manager, "seller", read_only=True)
    assert ids("/v1/webhooks", ro) == {vendor_ep}


def test_audit_item2_the_portal_shows_an_organizations_own_failed_deliveries(
    manager: Manager, world: dict[str, str], api: TestClient[Litestar]
) -> None:
    _portal_sign_in(api, world["owner"])
    page = api.get("/orgs/acme/webhooks")
    assert page.status_code == 200
    assert f'data-delivery="{_failed_of(manager, world["acme_ep"])}"' in page.text
    failed = manager.webhooks.failed("acme")
    vendors = [d.delivery_id for d in failed if d.endpoint_id == world["vendor_ep"]]
    assert vendors  # acme's events, sent to the vendor-wide endpoint
    assert all(d not in page.text for d in vendors)


def test_audit_item2_tokens_of_another_account_are_the_vendors_only(
    manager: Manager, world: dict[str, str], api: TestClient[Litestar]
) -> None:
    for name in ("stranger", "viewer"):
        for account in ("owner", "nobody"):  # the same answer whether it exists or not
            r = api.get(f"/v1/accounts/{account}/tokens", headers=_h(world[name]))
            problem(r, 403, "permission_denied")
    assert api.get("/v1/accounts/owner/tokens", headers=_h(world["owner"])).status_code == 200
    assert api.get("/v1/accounts/owner/tokens", headers=_h(world["seller"])).status_code == 200
    unknown = api.get("/v1/accounts/nobody/tokens", headers=_h(world["seller"]))
    problem(unknown, 404, "unknown_account")


def test_audit_item2_a_tokens_file_lists_only_its_organizations(manager: Manager) -> None:
    m = manager
    for org in ("acme", "globex"):
        m.create_organization(org, name=org.title(), actor="setup")
        m.webhooks.add(org, f"https://example.com/{org}", actor="setup")
    m.webhooks.add(None, "https://example.com/vendor", actor="setup")
    plugin = TokenFile.parse(tokens(bob=["acme"]))
    bob = bearer("bob")
    with TestClient(create_app(m, tokens=plugin, secret=SECRET)) as c:

        def orgs(headers: dict[str, str]) -> list[str | None]:
            r = c.get("/v1/webhooks", headers=headers)
            assert r.status_code == 200, r.text
            return [e["org_id"] for e in r.json()]

        assert orgs(bob) == ["acme"]
        assert sorted(orgs(ALICE), key=str) == ["acme", "globex"]  # every org, not the vendor's
        assert orgs(VENDOR) == [None]
        problem(c.get("/v1/webhooks?org_id=globex", headers=bob), 403, "permission_denied")
        r = c.get("/v1/deliveries/failed?org_id=globex", headers=bob)
        problem(r, 403, "permission_denied")
        # accounts seeded from the file: another account's tokens are the vendor's to list
        assert seed_accounts(m, plugin) == ["alice", "bob", "vendor-bot"]
        m.tokens.create("alice", actor="alice")
        problem(c.get("/v1/accounts/alice/tokens", headers=bob), 403, "permission_denied")
        assert len(c.get("/v1/accounts/alice/tokens", headers=VENDOR).json()) == 1
        assert len(c.get("/v1/accounts/alice/tokens", headers=ALICE).json()) == 1


# -- 3. the vendor's jobs -----------------------------------------------------------------------


def test_audit_item3_sweep_and_deliver_are_the_vendors(
    manager: Manager, clock: ManualClock, world: dict[str, str], api: TestClient[Litestar]
) -> None:
    m = manager
    future = (clock.now() + timedelta(days=3650)).isoformat()
    callers = [_h(world[n]) for n in ("owner", "viewer", "stranger", "bob")]
    callers += [_token(m, "seller", read_only=True), _token(m, "seller", orgs=["vend"])]
    before = _state(m)
    for headers in callers:
        problem(
            api.post("/v1/sweep", json={"at": future}, headers=headers), 403, "permission_denied"
        )
        problem(api.post("/v1/deliver", json={}, headers=headers), 403, "permission_denied")
    assert _state(m) == before
    # input is checked first, as for every command (SPEC §4)
    bad = api.post("/v1/sweep", json={"limit": -1}, headers=callers[0])
    problem(bad, 400, "invalid_input")
    seller = _h(world["seller"])
    assert api.post("/v1/sweep", json={}, headers=seller).status_code == 200
    assert api.post("/v1/deliver", json={}, headers=seller).status_code == 200


def test_audit_item3_in_a_tokens_file_the_vendor_runs_the_jobs(manager: Manager) -> None:
    manager.create_organization("acme", name="Acme", actor="setup")
    plugin = TokenFile.parse(tokens(bob=["acme"]))
    with TestClient(create_app(manager, tokens=plugin, secret=SECRET)) as c:
        for headers in (ALICE, bearer("bob")):
            for path in ("/v1/sweep", "/v1/deliver"):
                problem(c.post(path, json={}, headers=headers), 403, "permission_denied")
        for path in ("/v1/sweep", "/v1/deliver"):
            assert c.post(path, json={}, headers=VENDOR).status_code == 200


# -- 4. invitations -----------------------------------------------------------------------------


def test_audit_item4_an_invitation_is_accepted_by_its_own_account_only(
    manager: Manager, world: dict[str, str], api: TestClient[Litestar]
) -> None:
    body = {"token": world["bob_invitation"], "account_id": "bob"}
    r = api.post("/v1/invitations/accept", json=body, headers=_h(world["stranger"]))
    problem(r, 403, "permission_denied")
    assert "bob" not in {x.account_id for x in manager.members.list("acme")}
    r = api.post("/v1/invitations/accept", json=body, headers=_h(world["bob"]))
    assert r.status_code == 200, r.text
    assert r.json() == {"account_id": "bob", "org_id": "acme", "role": "admin"}


# -- 5. integers in the query string --------------------------------------------------------------


def test_audit_item5_query_integers_with_a_fraction_are_refused(manager: Manager) -> None:
    manager.create_organization("acme", name="Acme", actor="setup")
    base = "/v1/organizations/acme"
    with TestClient(create_app(manager, tokens=TokenFile.parse(tokens()), secret=SECRET)) as c:
        for path, name in (
            (f"{base}/events?after_seq=1.0", "after_seq"),
            (f"{base}/events?limit=2.0", "limit"),
            (f"{base}/history?limit=2.0", "limit"),
            (f"{base}/history?offset=0.0", "offset"),
            (f"{base}/alerts?within_days=1.0", "within_days"),
            (f"{base}/products/{PRODUCT}/need?horizon=1e0", "horizon"),
            ("/v1/organizations?limit=1e0", "limit"),
            ("/v1/organizations?limit=1.5", "limit"),
            ("/v1/organizations?limit=%2B1", "limit"),
            ("/v1/organizations?limit=1&limit=1.0", "limit"),
        ):
            body = problem(c.get(path, headers=ALICE), 400, "invalid_input")
            assert [e["key"] for e in body["details"]["errors"]] == [name], path
        for path in (f"{base}/events?after_seq=1&limit=2", "/v1/organizations?limit=1"):
            assert c.get(path, headers=ALICE).status_code == 200, path
        problem(c.get(f"{base}/events?after_seq=-1", headers=ALICE), 400, "invalid_input")
        doc = c.get("/openapi.json").json()
    for path, name in (
        ("/v1/organizations", "limit"),
        ("/v1/organizations/{org_id}/events", "after_seq"),
        ("/v1/organizations/{org_id}/history", "offset"),
    ):
        (param,) = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == name]
        schema = param["schema"]
        types = [s.get("type") for s in schema.get("oneOf", [schema])]
        assert "integer" in types, (path, schema)
        assert "number" not in types, (path, schema)


# -- 6. the schema of a vendor-wide webhook -----------------------------------------------------


def test_audit_item6_new_webhook_org_id_is_required_and_may_be_null(manager: Manager) -> None:
    manager.create_organization("acme", name="Acme", actor="setup")
    with TestClient(create_app(manager, tokens=TokenFile.parse(tokens()), secret=SECRET)) as c:
        schema = c.get("/openapi.json").json()["components"]["schemas"]["NewWebhook"]
        assert "org_id" in schema["required"]
        assert sorted(schema["properties"]["org_id"]["type"]) == ["null", "string"]
        vendor_wide = c.post(
            "/v1/webhooks", json={"org_id": None, "url": "https://example.com/v"}, headers=VENDOR
        )
        assert vendor_wide.status_code == 201, vendor_wide.text
        assert vendor_wide.json()["org_id"] is None
        missing = c.post("/v1/webhooks", json={"url": "https://example.com/w"}, headers=VENDOR)
        assert problem(missing, 400, "invalid_input")["details"]["param"] == "org_id"
