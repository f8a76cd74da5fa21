"""Issue 16 wired: members and roles at the service's edges (SPEC §8), on every backend.

The API answers every query and command by the caller's role (a viewer's
write is 403 and changes nothing), stored API tokens keep their limits and
stop at once when revoked or when their account is removed, and the portal
signs accounts in with a password (one answer, known account or not) and
walks the owner's journey: invite a viewer, who cannot allocate until
promoted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")

from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import TestClient

from axis_licensing import EXAMPLE_CATALOG, InvalidInput, Manager, Role
from axis_licensing.backends import TABLES
from axis_licensing.http import create_app, setup_secret
from axis_licensing.members import passwords
from axis_licensing.members.model import Membership

PRODUCT = "acs-pro"
PASSWORD = "correct horse battery staple"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
SECRET = b"k" * 32
#: The tables a refused request must leave unchanged (a token's last use may move).
STATE_TABLES = tuple(t for t in TABLES if t != "api_tokens")


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords with cheap parameters, so the tests stay fast."""
    monkeypatch.setattr(passwords, "hasher", lambda: CHEAP)


@pytest.fixture
def org(manager: Manager) -> dict[str, str]:
    """``acme`` with an owner, an admin and a viewer, a stranger, a seller; their tokens."""
    m = manager
    m.accounts.create("owner", name="Olga Owner", password=PASSWORD, actor="setup")
    for name in ("admin", "viewer", "stranger"):
        m.accounts.create(name, name=name.title(), password=PASSWORD, actor="owner")
    m.accounts.create("seller", name="Seller", vendor=True, actor="system")
    m.create_organization("acme", name="Acme", actor="owner")
    m.create_organization("globex", name="Globex", actor="stranger")
    for name in ("admin", "viewer"):
        invitation = m.members.invite("acme", name, role=name, actor="owner")
        m.members.accept(invitation.token, account_id=name)
    m.start_subscription("acme", PRODUCT, actor="owner")
    m.redeem_key(
        "acme", m.vendor.issue_key(PRODUCT, quantities={"core": 50}, actor="seller"), actor="owner"
    )
    m.register_system("acme", PRODUCT, "srv-1", devices={"core": 2}, actor="owner")
    m.vendor.ship_hardware("SER-1", PRODUCT, actor="seller")
    tokens = {
        n: m.tokens.create(n, actor=n).secret for n in ("owner", "admin", "viewer", "stranger")
    }
    tokens["admin-read"] = m.tokens.create("admin", read_only=True, actor="admin").secret
    tokens["key"] = m.vendor.issue_key(PRODUCT, quantities={"core": 5}, actor="seller")
    return tokens


@pytest.fixture
def api(manager: Manager) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(manager, secret=SECRET)) as client:
        yield client


def _state(manager: Manager) -> dict[str, list[dict[str, Any]]]:
    return {t: list(manager.backend.export_rows(t)) for t in STATE_TABLES}


QUERIES = [
    "/v1/organizations/acme/products",
    "/v1/organizations/acme/alerts",
    f"/v1/organizations/acme/products/{PRODUCT}",
    f"/v1/organizations/acme/products/{PRODUCT}/need",
    f"/v1/organizations/acme/products/{PRODUCT}/wallet",
    "/v1/organizations/acme/systems",
    "/v1/organizations/acme/systems/srv-1",
    "/v1/organizations/acme/history",
]


def _commands(key: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (
            "POST",
            f"/v1/organizations/acme/products/{PRODUCT}/allocations",
            {"quantities": {"core": 1}},
        ),
        ("POST", f"/v1/organizations/acme/products/{PRODUCT}/allocations/need", {"through": 0}),
        ("POST", "/v1/organizations/acme/keys", {"key": key}),
        ("POST", "/v1/organizations/acme/systems", {"system_id": "srv-2", "product": PRODUCT}),
        ("PUT", "/v1/organizations/acme/systems/srv-1/devices", {"devices": {"core": 3}}),
        ("POST", "/v1/organizations/acme/systems/srv-1/hardware", {"serial": "SER-1"}),
        ("POST", "/v1/organizations/acme/hardware/SER-1/allocations", {"quantities": {"core": 1}}),
    ]


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_role_matrix_through_the_api(
    api: TestClient[Litestar], manager: Manager, org: dict[str, str]
) -> None:
    # viewers query and change nothing; strangers see nothing; read-only tokens only read
    for who, reads in (("viewer", 200), ("stranger", 403), ("admin-read", 200)):
        for path in QUERIES:
            assert api.get(path, headers=_bearer(org[who])).status_code == reads, (who, path)
        before = _state(manager)
        for method, path, body in _commands(org["key"]):
            r = api.request(method, path, json=body, headers=_bearer(org[who]))
            assert (r.status_code, r.json()["code"]) == (403, "permission_denied"), (who, path)
        assert _state(manager) == before, who
    # an admin runs every command; an owner too
    for method, path, body in _commands(org["key"]):
        r = api.request(method, path, json=body, headers=_bearer(org["admin"]))
        assert r.status_code not in (401, 403), (path, r.text)  # allowed (the rules may refuse)
    for path in QUERIES:
        assert api.get(path, headers=_bearer(org["owner"])).status_code == 200
    # each sees only its organizations
    listed = api.get("/v1/organizations", headers=_bearer(org["viewer"])).json()
    assert [o["org_id"] for o in listed] == ["acme"]
    listed = api.get("/v1/organizations", headers=_bearer(org["stranger"])).json()
    assert [o["org_id"] for o in listed] == ["globex"]


def test_a_removed_member_and_a_revoked_token_stop_at_once(
    api: TestClient[Litestar], manager: Manager, org: dict[str, str]
) -> None:
    path = QUERIES[0]
    assert api.get(path, headers=_bearer(org["viewer"])).status_code == 200
    manager.members.remove("acme", "viewer", actor="owner")
    assert api.get(path, headers=_bearer(org["viewer"])).status_code == 403
    admin = next(t for t in manager.tokens.list("admin") if org["admin"].startswith(t.prefix))
    manager.tokens.revoke(admin.token_id, actor="admin")
    assert api.get(path, headers=_bearer(org["admin"])).status_code == 401
    limited = manager.tokens.create("owner", orgs=["acme"], actor="owner").secret
    assert api.get(path, headers=_bearer(limited)).status_code == 200
    manager.create_organization("initech", name="Initech", actor="owner")
    assert (
        api.get("/v1/organizations/initech/products", headers=_bearer(limited)).status_code == 403
    )


def test_a_member_leaves_through_the_api_and_a_limited_token_acts_only_where_it_reaches(
    api: TestClient[Litestar], manager: Manager, org: dict[str, str]
) -> None:
    """A command's roles are the Manager's to ask (``members.leave`` for oneself, SPEC §8);
    the edge applies only the token's own limits."""
    viewer = _bearer(org["viewer"])
    refused = api.delete("/v1/organizations/acme/members/admin", headers=viewer)
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    left = api.delete("/v1/organizations/acme/members/viewer", headers=viewer)
    assert left.status_code == 204, left.text
    assert [m.account_id for m in manager.members.list("acme")] == ["admin", "owner"]
    manager.create_organization("initech", name="Initech", actor="owner")
    limited = _bearer(manager.tokens.create("owner", orgs=["initech"], actor="owner").secret)
    before = _state(manager)
    r = api.post(
        f"/v1/organizations/acme/products/{PRODUCT}/allocations",
        json={"quantities": {"core": 1}},
        headers=limited,
    )
    assert (r.status_code, r.json()["code"]) == (403, "permission_denied")
    assert _state(manager) == before


# -- the portal ------------------------------------------------------------------------------------


def _csrf(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _rid(html: str) -> str:
    found = re.search(r'name="request_id" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def _sign_in(client: TestClient[Litestar], account: str, password: str = PASSWORD) -> str:
    page = client.get("/signin").text
    r = client.post(
        "/signin",
        data={"account_id": account, "password": password, "_csrf_token": _csrf(page)},
    )
    assert r.status_code == 200
    return r.text


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_journey_owner_invites_a_viewer_who_allocates_once_promoted(
    manager: Manager, org: dict[str, str], lang: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    manager.accounts.create("vera", name="Vera Viewer", password=PASSWORD, actor="owner")
    with (
        TestClient(create_app(manager, secret=SECRET)) as owner,
        TestClient(create_app(manager, secret=SECRET)) as vera,
    ):
        for c in (owner, vera):
            c.get(f"/lang/{lang}")
        _sign_in(owner, "owner")
        page = owner.get("/orgs/acme/members").text
        r = owner.post(
            "/orgs/acme/members/invite",
            data={
                "account_id": "vera",
                "role": "viewer",
                "_csrf_token": _csrf(page),
                "request_id": _rid(page),
            },
        )
        link = re.search(r'id="invitation-link" readonly value="([^"]+)"', r.text)
        assert link is not None
        path = "/" + link.group(1).split("/", 3)[3]
        assert owner.get("/orgs/acme/members").text.count(path) == 0  # shown once
        _sign_in(vera, "vera")
        r = vera.post(path, data={"_csrf_token": _csrf(vera.get(path).text)})
        assert r.url.path == "/orgs/acme/products"
        assert (
            vera.post(path, data={"_csrf_token": _csrf(r.text)}).status_code == 200
        )  # used: refused
        assert Membership("vera", "acme", Role.VIEWER) in manager.members.list("acme")
        licensing = f"/orgs/acme/products/{PRODUCT}/licensing"
        form = {"mode": "quantities", "period": "0", "q_core": "1"}
        html = vera.get(licensing).text
        before = _state(manager)
        r = vera.post(
            f"{licensing}/allocate",
            data={**form, "_csrf_token": _csrf(html), "request_id": _rid(html)},
        )
        assert 'data-code="permission_denied"' in r.text
        assert _state(manager) == before
        page = owner.get("/orgs/acme/members").text
        owner.post(
            "/orgs/acme/members/role",
            data={
                "account_id": "vera",
                "role": "admin",
                "_csrf_token": _csrf(page),
                "request_id": _rid(page),
            },
        )
        html = vera.get(licensing).text
        r = vera.post(
            f"{licensing}/allocate",
            data={**form, "_csrf_token": _csrf(html), "request_id": _rid(html)},
        )
        assert 'data-code="permission_denied"' not in r.text
        assert manager.history("acme", actions=["licenses_allocated"])[-1].actor == "vera"
        history = owner.get("/orgs/acme/history").text
        assert ("Rôle d'un membre modifié" if lang == "fr" else "Member's role changed") in history
        assert "<td>Olga Owner</td>" in history  # account names, not ids
        # removed, her session stops at once
        page = owner.get("/orgs/acme/members").text
        owner.post(
            "/orgs/acme/members/remove",
            data={"account_id": "vera", "_csrf_token": _csrf(page), "request_id": _rid(page)},
        )
        assert vera.get("/orgs/acme/products").status_code == 403
    assert PASSWORD not in caplog.text
    stored = [str(row) for row in manager.backend.export_rows("accounts")]
    assert not any(PASSWORD in row for row in stored)


def test_wrong_passwords_get_one_answer_and_are_rate_limited(
    manager: Manager, org: dict[str, str]
) -> None:
    with TestClient(create_app(manager, secret=SECRET)) as client:
        known = _sign_in(client, "owner", "a wrong password")
        unknown = _sign_in(client, "nobody", "a wrong password")
        strip = re.compile(r'value="[^"]*"')
        assert strip.sub("", known) == strip.sub("", unknown)
        assert "This account and password do not match." in known
        for _ in range(5):
            _sign_in(client, "admin", "a wrong password")
        refused = _sign_in(client, "admin")  # the right password, but blocked now
        assert strip.sub("", refused) == strip.sub("", known)


def test_the_setup_link_creates_the_first_owner_once(manager: Manager) -> None:
    path = f"/setup/{setup_secret(SECRET)}"
    with TestClient(create_app(manager, secret=SECRET)) as client:
        page = client.get(path)
        assert page.status_code == 200
        r = client.post(
            path,
            data={
                "account_id": "root",
                "name": "Root",
                "password": PASSWORD,
                "_csrf_token": _csrf(page.text),
            },
        )
        assert r.url.path == "/orgs"
        assert manager.accounts.get("root").vendor is True
        assert client.get(path).status_code == 404


def test_set_password_from_the_shell_without_echo(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from axis_licensing.cli_accounts import set_password

    db = tmp_path / "store.db"
    with Manager.open(f"sqlite:///{db}", catalog=EXAMPLE_CATALOG) as m:
        m.accounts.create("ann", name="Ann", actor="setup")
    runner = CliRunner()
    result = runner.invoke(
        set_password, ["ann", "--db", str(db)], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    result = runner.invoke(
        set_password, ["nobody", "--db", str(db), "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 3
    with Manager.open(f"sqlite:///{db}") as m:
        assert m.accounts.check_password("ann", PASSWORD) is not None


def test_own_actions_are_left_to_the_library_but_a_read_only_token_only_reads(
    manager: Manager, org: dict[str, str]
) -> None:
    from axis_licensing.http import _access, _auth

    assert _auth.bearer_actor(manager, f"Bearer {org['admin-read']}") == "admin"
    assert _access.may(manager, _access.Ask("admin", None, "tokens.list")) is True
    assert _access.may(manager, _access.Ask("admin", None, "tokens.create")) is False
    assert _access.may(manager, _access.Ask("admin", "acme", "status")) is True
    assert _access.may(manager, _access.Ask("admin", "acme", "allocate")) is False
    assert _auth.bearer_actor(manager, f"Bearer {org['viewer']}") == "viewer"
    assert _access.may(manager, _access.Ask("viewer", None, "tokens.create")) is True
    assert _access.may(manager, _access.Ask("viewer", "acme", "members.invite")) is False
    assert (
        _access.may(manager, _access.Ask("owner", "acme", "members.invite")) is False
    )  # not its token
    assert _auth.bearer_actor(manager, None) is None  # a session: no token, the roles alone
    assert _access.may(manager, _access.Ask("owner", "acme", "members.invite")) is True
    assert _auth.bearer_actor(manager, "Bearer axl_unknown") is None


def test_a_first_account_made_elsewhere_is_enforced_here_after_the_recheck(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from axis_licensing import PermissionDenied
    from axis_licensing.members import authorize

    url = f"sqlite:///{tmp_path / 'two.db'}"
    with (
        Manager.open(url, catalog=EXAMPLE_CATALOG) as first,
        Manager.open(url, catalog=EXAMPLE_CATALOG) as second,
    ):
        second.create_organization("early", name="Early", actor="anyone")  # no accounts yet
        first.accounts.create("root", name="Root", actor="setup")
        monkeypatch.setattr(authorize, "EMPTY_RECHECK", 0.0)  # the second looks again now
        with pytest.raises(PermissionDenied):
            second.create_organization("late", name="Late", actor="anyone")
        second.create_organization("late", name="Late", actor="root")
        assert second.members.list("late") == [Membership("root", "late", Role.OWNER)]


def test_a_viewer_leaves_through_the_portal_but_may_not_remove_another(
    manager: Manager, org: dict[str, str]
) -> None:
    """The portal's member forms run the declared commands: ``members.leave`` for oneself."""
    with TestClient(create_app(manager, secret=SECRET)) as viewer:
        _sign_in(viewer, "viewer")
        page = viewer.get("/orgs/acme/members").text
        before = _state(manager)
        r = viewer.post(
            "/orgs/acme/members/remove",
            data={"account_id": "admin", "_csrf_token": _csrf(page), "request_id": _rid(page)},
        )
        assert 'data-code="permission_denied"' in r.text
        assert _state(manager) == before
        page = viewer.get("/orgs/acme/members").text
        r = viewer.post(
            "/orgs/acme/members/remove",
            data={"account_id": "viewer", "_csrf_token": _csrf(page), "request_id": _rid(page)},
        )
        assert r.url.path == "/orgs"
    assert [m.account_id for m in manager.members.list("acme")] == ["admin", "owner"]


@pytest.mark.parametrize("orgs", [{"acme": True}, "acme", b"acme", 3, []])
def test_a_tokens_organizations_are_a_list_of_ids(
    manager: Manager, org: dict[str, str], orgs: object
) -> None:
    """R14: a mapping is refused, not read as its keys (an API body's ``{"beta": true}``)."""
    before = manager.tokens.list("owner")
    with pytest.raises(InvalidInput) as caught:
        manager.tokens.create("owner", orgs=orgs, actor="owner")  # type: ignore[arg-type]
    assert caught.value.details == {"param": "orgs"}
    assert manager.tokens.list("owner") == before
