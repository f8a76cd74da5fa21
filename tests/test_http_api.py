"""The JSON API under /v1 (SPEC §6), on memory, SQLite and PostgreSQL through the test client.

Each test drives the API as a client would and asserts exact bodies: the
values the Manager returns, as JSON, and RFC 9457 problems with their codes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")

from litestar import Litestar
from litestar.testing import TestClient

from axis_licensing import Manager, ManualClock, hookimpl, offline
from axis_licensing.http import MAX_BODY, TokenFile, create_app
from http_support import (
    ALICE,
    ORG,
    PRODUCT,
    VENDOR,
    bearer,
    offline_system,
    problem,
    snapshot,
    tokens,
)

TOKENS = tokens(bob=["globex"])
BOB = bearer("bob")


@pytest.fixture
def app(manager: Manager) -> Litestar:
    return create_app(manager, tokens=TokenFile.parse(TOKENS))


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as c:
        yield c


def issue_key(
    client: TestClient[Litestar], quantities: dict[str, int], kind: str = "subscription"
) -> str:
    r = client.post(
        "/v1/vendor/keys",
        json={"product": PRODUCT, "quantities": quantities, "kind": kind},
        headers=VENDOR,
    )
    assert r.status_code == 201, r.text
    key: str = r.json()["key"]
    return key


def setup_org(client: TestClient[Litestar]) -> None:
    r = client.post("/v1/organizations", json={"org_id": ORG, "name": "Acme"}, headers=ALICE)
    assert r.status_code == 201, r.text
    assert r.json() == {"org_id": ORG, "name": "Acme", "timezone": "UTC", "anchor": None}


# -- the journey -----------------------------------------------------------------------------------


def test_api_journey_from_organization_to_licensed(
    client: TestClient[Litestar], clock: ManualClock
) -> None:
    setup_org(client)
    r = client.post(
        f"/v1/organizations/{ORG}/systems",
        json={"system_id": "srv-1", "product": PRODUCT, "devices": {"core": 3, "door": 1}},
        headers=ALICE,
    )
    assert r.status_code == 201
    assert r.json()["devices"] == {"core": 3, "door": 1}
    assert r.json()["licensed"] is False

    r = client.post(f"/v1/organizations/{ORG}/products/{PRODUCT}/subscription", headers=ALICE)
    assert r.status_code == 201
    status = r.json()
    assert status["state"] == "trial"
    assert status["period"] == {"index": 0, "start": "2026-01-01", "end": "2027-01-01"}
    assert status["window_ends_on"] == "2026-01-31"
    assert status["required_now"] == {"core": 3, "door": 1}

    clock.advance(days=2)
    key = issue_key(client, {"core": 5, "door": 2})
    r = client.post(f"/v1/organizations/{ORG}/keys", json={"key": key}, headers=ALICE)
    assert r.status_code == 201
    redemption = r.json()
    assert redemption["product"] == PRODUCT
    assert redemption["key_tail"] == key.replace("-", "")[-4:]
    assert [
        (lot["license_type"], lot["quantity"], lot["expires_on"]) for lot in redemption["lots"]
    ] == [
        ("core", 5, "2031-01-03"),
        ("door", 2, "2031-01-03"),
    ]

    r = client.get(f"/v1/organizations/{ORG}/products/{PRODUCT}/need", headers=ALICE)
    assert r.status_code == 200
    need = r.json()
    assert need["periods"][0]["need"] == {"core": 3, "door": 1}
    assert need["wallet"] == {"core": 5, "door": 2}
    assert len(need["periods"]) == 6

    r = client.post(
        f"/v1/organizations/{ORG}/products/{PRODUCT}/allocations/need",
        json={"through": 0},
        headers=ALICE,
    )
    assert r.status_code == 201
    assert r.json()["periods"] == [
        {
            "period": {"index": 0, "start": "2026-01-01", "end": "2027-01-01"},
            "quantities": {"core": 3, "door": 1},
        }
    ]

    r = client.get(f"/v1/organizations/{ORG}/products/{PRODUCT}", headers=ALICE)
    assert r.json()["state"] == "licensed"
    assert r.json()["licensed_through"] == "2027-01-01"

    r = client.get(f"/v1/organizations/{ORG}/products/{PRODUCT}/wallet", headers=ALICE)
    assert [(lot["license_type"], lot["quantity"]) for lot in r.json()["lots"]] == [
        ("core", 2),
        ("door", 1),
    ]

    r = client.get(f"/v1/organizations/{ORG}/systems/srv-1", headers=ALICE)
    assert r.json()["licensed"] is True

    # a day before, the product was still in its trial
    at = (clock.now() - timedelta(days=1)).isoformat()
    r = client.get(f"/v1/organizations/{ORG}/products/{PRODUCT}", params={"at": at}, headers=ALICE)
    assert r.json()["state"] == "trial"


def test_api_report_devices_and_hardware_extension(client: TestClient[Litestar]) -> None:
    setup_org(client)
    client.post(
        f"/v1/organizations/{ORG}/systems",
        json={"system_id": "srv-1", "product": PRODUCT, "devices": {"door": 4}},
        headers=ALICE,
    )
    r = client.post(
        "/v1/vendor/hardware",
        json={"serial": "HW-1", "product": PRODUCT, "preloaded": {"door": 2}},
        headers=VENDOR,
    )
    assert r.status_code == 204
    r = client.post(
        f"/v1/organizations/{ORG}/systems/srv-1/hardware", json={"serial": "HW-1"}, headers=ALICE
    )
    assert r.status_code == 201
    assert r.json()["hardware"] == ["HW-1"]
    assert r.json()["hardware_covered"] == {"door": 2}
    assert r.json()["subscription_devices"] == {"door": 2}

    key = issue_key(client, {"door": 2}, kind="hardware")
    client.post(f"/v1/organizations/{ORG}/keys", json={"key": key}, headers=ALICE)
    r = client.post(
        f"/v1/organizations/{ORG}/hardware/HW-1/allocations",
        json={"quantities": {"door": 2}},
        headers=ALICE,
    )
    assert r.status_code == 204
    r = client.get(f"/v1/organizations/{ORG}/systems/srv-1", headers=ALICE)
    assert r.json()["hardware_capacity"] == {"door": 4}
    assert r.json()["licensed"] is True

    r = client.put(
        f"/v1/organizations/{ORG}/systems/srv-1/devices",
        json={"devices": {"door": 6}},
        headers=ALICE,
    )
    assert r.status_code == 200
    assert r.json()["devices"] == {"door": 6}
    assert r.json()["subscription_devices"] == {"door": 2}


def test_r12_api_upload_system_file_answers_a_license_file_that_verifies(
    client: TestClient[Litestar], manager: Manager, clock: ManualClock
) -> None:
    setup_org(client)
    data = offline_system(clock)
    r = client.post(
        f"/v1/organizations/{ORG}/system-files",
        content=data,
        headers={**ALICE, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    entitlement = offline.verify_license_file(
        r.content,
        trusted_keys=[client.get("/v1/public-key").json()["pem"].encode()],
        system_id="offline-1",
        now=clock.now(),
    )
    assert entitlement.org_id == ORG
    assert entitlement.licensed is False
    r = client.get(f"/v1/organizations/{ORG}/systems/offline-1", headers=ALICE)
    assert r.json()["devices"] == {"core": 2}


def test_r11_api_history_filters_and_pages(client: TestClient[Litestar]) -> None:
    setup_org(client)
    for n in range(3):
        client.post(
            f"/v1/organizations/{ORG}/systems",
            json={"system_id": f"srv-{n}", "product": PRODUCT, "devices": {"core": 1}},
            headers=ALICE,
        )
    url = f"/v1/organizations/{ORG}/history"
    r = client.get(url, params={"limit": 2}, headers=ALICE)
    page = r.json()
    assert [a["action"] for a in page["items"]] == ["organization_created", "system_registered"]
    assert (page["offset"], page["limit"], page["next_offset"]) == (0, 2, 2)
    r = client.get(url, params={"limit": 2, "offset": 2}, headers=ALICE)
    assert [a["system_id"] for a in r.json()["items"]] == ["srv-1", "srv-2"]
    assert r.json()["next_offset"] is None
    r = client.get(
        url, params={"action": ["system_registered"], "since": "2026-01-01"}, headers=ALICE
    )
    assert [a["system_id"] for a in r.json()["items"]] == ["srv-0", "srv-1", "srv-2"]
    r = client.get(url, params={"actor": "bob"}, headers=ALICE)
    assert r.json()["items"] == []
    problem(client.get(url, params={"action": "nope"}, headers=ALICE), 400, "invalid_input")
    problem(client.get(url, params={"since": "yesterday"}, headers=ALICE), 400, "invalid_input")
    problem(client.get(url, params={"limit": 0}, headers=ALICE), 400, "invalid_input")


# -- idempotency -----------------------------------------------------------------------------------


def test_r13_api_idempotency_key_is_the_request_id(
    client: TestClient[Litestar], manager: Manager
) -> None:
    setup_org(client)
    client.post(f"/v1/organizations/{ORG}/products/{PRODUCT}/subscription", headers=ALICE)
    key = issue_key(client, {"core": 10})
    client.post(f"/v1/organizations/{ORG}/keys", json={"key": key}, headers=ALICE)
    url = f"/v1/organizations/{ORG}/products/{PRODUCT}/allocations"
    headers = {**ALICE, "Idempotency-Key": "alloc-1"}
    first = client.post(url, json={"quantities": {"core": 2}}, headers=headers)
    before = snapshot(manager)
    again = client.post(url, json={"quantities": {"core": 2}}, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert snapshot(manager) == before
    problem(
        client.post(url, json={"quantities": {"core": 3}}, headers=headers),
        409,
        "idempotency_conflict",
    )
    r = client.get(f"/v1/organizations/{ORG}/products/{PRODUCT}/wallet", headers=ALICE)
    assert r.json()["lots"][0]["quantity"] == 8


# -- errors ----------------------------------------------------------------------------------------


def test_api_errors_are_problems_with_the_status_of_their_family(
    client: TestClient[Litestar], manager: Manager
) -> None:
    setup_org(client)
    base = f"/v1/organizations/{ORG}"
    problem(
        client.post("/v1/organizations", json={"org_id": ORG, "name": "Again"}, headers=ALICE),
        409,
        "already_exists",
    )
    body = problem(
        client.post(
            "/v1/organizations",
            json={"org_id": "x", "name": "X", "timezone": "Mars/Base"},
            headers=ALICE,
        ),
        400,
        "invalid_input",
    )
    assert "Mars/Base" in body["detail"]
    problem(client.get(f"{base}/products/nope", headers=ALICE), 404, "unknown_product")
    problem(
        client.get("/v1/organizations/nobody/products/acs-pro", headers=ALICE),
        404,
        "unknown_organization",
    )
    problem(client.get(f"{base}/systems/none", headers=ALICE), 404, "unknown_system")
    problem(
        client.get(f"{base}/products/{PRODUCT}/need", headers=ALICE),
        409,
        "subscription_not_started",
    )
    client.post(f"{base}/products/{PRODUCT}/subscription", headers=ALICE)
    problem(
        client.post(f"{base}/products/{PRODUCT}/subscription", headers=ALICE),
        409,
        "already_started",
    )
    body = problem(
        client.post(
            f"{base}/products/{PRODUCT}/allocations",
            json={"quantities": {"core": 4}},
            headers=ALICE,
        ),
        422,
        "insufficient_licenses",
    )
    assert body["details"]["shortfall"] == {"core": 4}
    problem(
        client.post(
            f"{base}/products/{PRODUCT}/allocations",
            json={"quantities": {"core": 1}, "period": 9},
            headers=ALICE,
        ),
        422,
        "outside_allocation_window",
    )
    problem(client.post(f"{base}/keys", json={"key": "ABCD"}, headers=ALICE), 400, "key_typo")
    key = issue_key(client, {"core": 1})
    client.post(f"{base}/keys", json={"key": key}, headers=ALICE)
    problem(
        client.post(f"{base}/keys", json={"key": key}, headers=ALICE), 409, "key_already_redeemed"
    )
    problem(
        client.post(
            f"{base}/system-files",
            content=b"{}",
            headers={**ALICE, "Content-Type": "application/octet-stream"},
        ),
        400,
        "malformed_system_file",
    )


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"quantities": {"core": "three"}}, "wrong type"),
        ({"quantities": {"core": -1}}, "negative"),
        ({"quantities": {"core": 10**30}}, "huge"),
        ({"quantities": {"": 1}}, "empty type"),
        ({"quantities": {"core": 1}, "period": True}, "bool period"),
        ({}, "missing field"),
        ([1, 2], "not an object"),
    ],
)
def test_r14_api_bad_bodies_are_400_and_change_nothing(
    client: TestClient[Litestar], manager: Manager, body: object, where: str
) -> None:
    setup_org(client)
    client.post(f"/v1/organizations/{ORG}/products/{PRODUCT}/subscription", headers=ALICE)
    before = snapshot(manager)
    r = client.post(
        f"/v1/organizations/{ORG}/products/{PRODUCT}/allocations", json=body, headers=ALICE
    )
    problem(r, 400, "invalid_input")
    assert snapshot(manager) == before, where


@pytest.mark.parametrize("at", ["415", "yesterday", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z"])
def test_r14_api_at_must_be_an_aware_iso_instant(client: TestClient[Litestar], at: str) -> None:
    setup_org(client)
    r = client.get(f"/v1/organizations/{ORG}/products/{PRODUCT}", params={"at": at}, headers=ALICE)
    assert problem(r, 400, "invalid_input")["details"]["param"] == "at"


def test_api_malformed_json_and_oversized_bodies(client: TestClient[Litestar]) -> None:
    setup_org(client)
    headers = {**ALICE, "Content-Type": "application/json"}
    problem(
        client.post("/v1/organizations", content=b"{nope", headers=headers), 400, "invalid_input"
    )
    big = b'{"key": "' + b"A" * MAX_BODY + b'"}'
    problem(
        client.post(f"/v1/organizations/{ORG}/keys", content=big, headers=headers),
        413,
        "request_too_large",
    )
    upload = b"x" * (1024 * 1024 + 1)
    problem(
        client.post(
            f"/v1/organizations/{ORG}/system-files",
            content=upload,
            headers={**ALICE, "Content-Type": "application/octet-stream"},
        ),
        413,
        "request_too_large",
    )
    problem(client.get("/v1/nowhere", headers=ALICE), 404, "not_found")
    problem(
        client.delete(f"/v1/organizations/{ORG}/keys", headers=ALICE), 405, "method_not_allowed"
    )


# -- authentication and authorization --------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0000000"},
        {"Authorization": "Basic YTpi"},
        {"Authorization": "Bearer"},
    ],
)
def test_api_without_a_valid_token_is_401(
    client: TestClient[Litestar], headers: dict[str, str]
) -> None:
    r = client.get(f"/v1/organizations/{ORG}/products/{PRODUCT}", headers=headers)
    problem(r, 401, "unauthenticated")
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_r1_api_token_for_another_organization_is_403_and_leaks_nothing(
    client: TestClient[Litestar], manager: Manager
) -> None:
    setup_org(client)
    existing = client.get(f"/v1/organizations/{ORG}/products/{PRODUCT}", headers=BOB)
    missing = client.get(f"/v1/organizations/no-such-org/products/{PRODUCT}", headers=BOB)
    a = problem(existing, 403, "permission_denied")
    b = problem(missing, 403, "permission_denied")
    assert a["detail"].replace(ORG, "") == a["detail"]
    assert {k: v for k, v in a.items()} == {k: v for k, v in b.items()}
    before = snapshot(manager)
    problem(
        client.post(
            f"/v1/organizations/{ORG}/systems",
            json={"system_id": "sneaky", "product": PRODUCT},
            headers=BOB,
        ),
        403,
        "permission_denied",
    )
    problem(client.get(f"/v1/organizations/{ORG}/history", headers=BOB), 403, "permission_denied")
    assert snapshot(manager) == before


def test_api_vendor_commands_need_a_vendor_token(client: TestClient[Litestar]) -> None:
    r = client.post(
        "/v1/vendor/keys", json={"product": PRODUCT, "quantities": {"core": 1}}, headers=ALICE
    )
    problem(r, 403, "permission_denied")
    r = client.post(
        "/v1/vendor/keys", json={"product": "nope", "quantities": {"core": 1}}, headers=VENDOR
    )
    problem(r, 404, "unknown_product")


def test_api_public_key_needs_no_token(client: TestClient[Litestar], manager: Manager) -> None:
    r = client.get("/v1/public-key")
    assert r.status_code == 200
    assert r.json() == {"pem": manager.public_key.decode()}


# -- the schema ------------------------------------------------------------------------------------


def test_openapi_is_3_1_and_generated_from_the_attrs_types(client: TestClient[Litestar]) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    schema = r.json()
    assert schema["openapi"].startswith("3.1")
    components = schema["components"]["schemas"]
    for name in (
        "ProductStatus",
        "Wallet",
        "Lot",
        "NeedReport",
        "Allocation",
        "Redemption",
        "Problem",
        "AllocationRequest",
    ):
        assert name in components, name
    assert components["AllocationRequest"]["required"] == ["quantities"]
    assert components["ProductState"]["enum"] == [
        "not_started",
        "trial",
        "grace",
        "licensed",
        "unlicensed",
    ]
    assert components["ProductStatus"]["properties"]["devices"]["additionalProperties"] == {
        "type": "integer",
        "minimum": 1,
    }
    paths = schema["paths"]
    assert "/v1/organizations/{org_id}/products/{product}/allocations" in paths
    assert not any(p.startswith(("/orgs", "/signin", "/static")) for p in paths)
    assert client.get("/docs").status_code == 200


# -- the tokens file -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tokens = 1", "array of tables"),
        ("[[tokens]]\nactor = 'a'", "exactly one of token or sha256"),
        ("[[tokens]]\ntoken = 'short'\nactor = 'a'", "at least 16"),
        ("[[tokens]]\nsha256 = 'zz'\nactor = 'a'", "64 hex"),
        ("[[tokens]]\ntoken = '0123456789abcdefg'\nactor = 'a'\nvendor = 'yes'", "true or false"),
        ("[[tokens]]\ntoken = '0123456789abcdefg'\nactor = 'a'\nrole = 'x'", "unknown keys role"),
        (
            "[[tokens]]\ntoken = '0123456789abcdefg'\nactor = 'a'\n"
            "[[tokens]]\ntoken = '0123456789abcdefg'\nactor = 'b'",
            "twice",
        ),
        ("not toml [", "not valid TOML"),
        # the library's own actor, whom the roles allow everything (SPEC §8)
        ("[[tokens]]\ntoken = '0123456789abcdefg'\nactor = 'system'", "library's own"),
    ],
)
def test_tokens_file_errors_are_invalid_input(text: str, message: str) -> None:
    from axis_licensing import InvalidInput

    with pytest.raises(InvalidInput, match=message):
        TokenFile.parse(text)


def test_tokens_file_keeps_only_hashes() -> None:
    plugin = TokenFile.parse(TOKENS)
    assert "alice-0123456789abcdef" not in repr(vars(plugin))
    assert plugin.axis_licensing_authenticate(token="alice-0123456789abcdef") == "alice"
    assert plugin.axis_licensing_authenticate(token="vendor-0123456789abcdef") == "vendor-bot"
    assert plugin.axis_licensing_authenticate(token="alice-0123456789abcdeF") is None


# -- listings, alerts and the catalog (SPEC §3, R15) ---------------------------------------------


def test_api_lists_only_the_organizations_a_token_may_use(
    client: TestClient[Litestar], manager: Manager
) -> None:
    setup_org(client)
    manager.create_organization("globex", name="Globex", timezone="Europe/Paris", actor="setup")
    r = client.get("/v1/organizations", headers=ALICE)
    assert r.json() == [
        {"org_id": "acme", "name": "Acme", "timezone": "UTC", "anchor": None},
        {"org_id": "globex", "name": "Globex", "timezone": "Europe/Paris", "anchor": None},
    ]
    r = client.get("/v1/organizations", headers=BOB)
    assert [o["org_id"] for o in r.json()] == ["globex"]
    r = client.get("/v1/organizations", params={"limit": 1, "offset": 1}, headers=ALICE)
    assert [o["org_id"] for o in r.json()] == ["globex"]


def test_api_products_systems_and_alerts(client: TestClient[Litestar]) -> None:
    setup_org(client)
    base = f"/v1/organizations/{ORG}"
    r = client.get(f"{base}/products", headers=ALICE)
    assert [(p["product"], p["state"]) for p in r.json()] == [(PRODUCT, "not_started")]
    for n in (2, 1):
        client.post(
            f"{base}/systems",
            json={"system_id": f"srv-{n}", "product": PRODUCT, "devices": {"core": n}},
            headers=ALICE,
        )
    r = client.get(f"{base}/systems", headers=ALICE)
    assert [(s["system_id"], s["devices"]) for s in r.json()] == [
        ("srv-1", {"core": 1}),
        ("srv-2", {"core": 2}),
    ]
    r = client.get(f"{base}/systems", params={"limit": 1, "offset": 1}, headers=ALICE)
    assert [s["system_id"] for s in r.json()] == ["srv-2"]
    client.post(f"{base}/products/{PRODUCT}/subscription", headers=ALICE)
    r = client.get(f"{base}/alerts", headers=ALICE)
    trial = [a for a in r.json() if a["kind"] == "trial_ending"]
    assert trial == [
        {
            "kind": "trial_ending",
            "product": PRODUCT,
            "on": "2026-01-31",
            "system_id": None,
            "details": trial[0]["details"],
        }
    ]
    r = client.get(f"{base}/alerts", params={"within_days": 10}, headers=ALICE)
    assert [a for a in r.json() if a["kind"] == "trial_ending"] == []
    problem(client.get(f"{base}/alerts", headers=BOB), 403, "permission_denied")


def test_r15_api_catalog_versions_and_publishing(client: TestClient[Litestar]) -> None:
    r = client.get("/v1/catalog/versions", headers=ALICE)
    assert [v["version"] for v in r.json()] == [1]
    first = r.json()[0]["catalog"]["products"][0]
    assert first["code"] == PRODUCT
    assert first["growth_rate"] == "1"
    body = {
        "products": [
            {
                "code": PRODUCT,
                "name": "AXIS Camera Station Pro",
                "growth_rate": "1/2",
                "license_types": [
                    {"code": "core"},
                    {"code": "universal", "covers": ["core"]},
                    {"code": "door"},
                ],
            }
        ]
    }
    problem(client.post("/v1/catalog/versions", json=body, headers=ALICE), 403, "permission_denied")
    r = client.post("/v1/catalog/versions", json=body, headers=VENDOR)
    assert r.status_code == 201, r.text
    assert r.json() == {"version": 2}
    versions = client.get("/v1/catalog/versions", headers=ALICE).json()
    assert [(v["version"], v["catalog"]["products"][0]["growth_rate"]) for v in versions] == [
        (1, "1"),
        (2, "1/2"),
    ]
    narrower = {"products": [{**body["products"][0], "license_types": [{"code": "core"}]}]}
    problem(
        client.post("/v1/catalog/versions", json=narrower, headers=VENDOR),
        400,
        "incompatible_catalog",
    )
    bad = {"products": [{**body["products"][0], "growth_rate": "half"}]}
    problem(client.post("/v1/catalog/versions", json=bad, headers=VENDOR), 400, "invalid_input")


class RefuseHistory:
    """A host's authorize plugin: nobody reads the history of acme."""

    @hookimpl
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool | None:
        return False if (org_id, action) == (ORG, "history") else None


def test_api_asks_the_authorize_hook_before_queries_too(manager: Manager) -> None:
    app = create_app(manager, tokens=TokenFile.parse(TOKENS), plugins=[RefuseHistory()])
    with TestClient(app) as client:
        setup_org(client)
        problem(
            client.get(f"/v1/organizations/{ORG}/history", headers=ALICE), 403, "permission_denied"
        )
        r = client.get(f"/v1/organizations/{ORG}/products/{PRODUCT}", headers=ALICE)
        assert r.status_code == 200


class WhereAsked:
    """A host's authorize plugin that notes, per action, whether it ran on the event loop."""

    def __init__(self) -> None:
        self.on_loop: dict[str, bool] = {}

    @hookimpl
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool | None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self.on_loop[action] = False
        else:
            self.on_loop[action] = True
        return None


def test_api_queries_on_a_local_store_answer_on_the_event_loop(manager: Manager) -> None:
    where = WhereAsked()
    app = create_app(manager, tokens=TokenFile.parse(TOKENS), plugins=[where])
    with TestClient(app) as client:
        setup_org(client)
        r = client.get(f"/v1/organizations/{ORG}/products/{PRODUCT}", headers=ALICE)
        assert r.status_code == 200
    local = manager.backend.scheme in ("sqlite", "memory")
    assert where.on_loop["status"] is local  # PostgreSQL reads in a worker thread
    assert where.on_loop["create_organization"] is False  # a command always runs in a worker thread
