"""The service's edges agree with the library (issue 13, SPEC §6.1, R14), on every backend.

One named regression test per item of issue 13 that the API owns: listing
filtered before paging (items 1, 2), the body's edge (3, 4, 5), ids that can
be reached again (6), HEAD (17), and the schema's limits probed at the
server (14): every bound the OpenAPI document states is where the server
starts refusing.
"""

from __future__ import annotations

import copy
import logging
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")

from litestar import Litestar
from litestar.testing import TestClient

from axis_licensing import EXAMPLE_CATALOG, InvalidInput, Manager, ManualClock, hookimpl
from axis_licensing._convert import converter
from axis_licensing.backends import TABLES
from axis_licensing.http import TokenFile, create_app
from axis_licensing.http._api import MAX_BODY, MAX_DEPTH, json_depth
from http_support import ALICE, ORG, PRODUCT, VENDOR, bearer, problem, snapshot, tokens

LATE = "zz-late"  # sorts after every crowded organization

TOKENS = tokens(zed=[LATE, "no-such-org"])
ZED = bearer("zed")


@pytest.fixture
def client(manager: Manager) -> Iterator[TestClient[Litestar]]:
    with TestClient(create_app(manager, tokens=TokenFile.parse(TOKENS))) as c:
        yield c


def populate(manager: Manager) -> None:
    """acme with a system, a started subscription, 50 core licenses and a hardware unit."""
    manager.create_organization(ORG, name="Acme", actor="setup")
    manager.register_system(ORG, PRODUCT, "srv-1", devices={"core": 2}, actor="setup")
    manager.start_subscription(ORG, PRODUCT, actor="setup")
    key = manager.vendor.issue_key(PRODUCT, quantities={"core": 50, "door": 5})
    manager.redeem_key(ORG, key, actor="setup")
    manager.vendor.ship_hardware("HW-1", PRODUCT, {"door": 2})
    manager.register_hardware(ORG, "srv-1", "HW-1", actor="setup")


# -- items 1 and 2: listing filtered before paging --------------------------------------------

CROWD = 1_100


@pytest.fixture
def crowded(backend_url: str, clock: ManualClock) -> Iterator[Manager]:
    """A store of 1,100 organizations (o00000…o01099) and zz-late, which sorts after them.

    They are written once in memory and copied row by row, so that building the
    store costs a fraction of a second on every backend.
    """
    source = Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock)
    for n in range(CROWD):
        source.create_organization(f"o{n:05d}", name=f"Org {n}", actor="setup")
    source.create_organization(LATE, name="Late", timezone="Europe/Stockholm", actor="setup")
    source.start_subscription(LATE, PRODUCT, actor="setup")
    if backend_url == "memory://":
        yield source
        source.close()
        return
    target = source.plugin_manager.backends().open(backend_url)
    try:
        for table in TABLES:
            target.import_rows(table, list(source.backend.export_rows(table)))
    finally:
        target.close()
        source.close()
    with Manager.open(backend_url, clock=clock) as manager:
        yield manager


LATE_JSON = {
    "org_id": LATE,
    "name": "Late",
    "timezone": "Europe/Stockholm",
    "anchor": "2026-01-01",
}


class OnlyLate:
    """A host's authorize plugin: nobody sees any organization but zz-late and o00007."""

    @hookimpl
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool | None:
        return None if org_id in (None, LATE, "o00007") else False


def test_i13_item2_listing_filters_before_it_pages(crowded: Manager) -> None:
    with TestClient(create_app(crowded, tokens=TokenFile.parse(TOKENS))) as client:
        # a token for one organization that sorts after 1,100 others: its first page is it
        r = client.get("/v1/organizations", params={"limit": 1}, headers=ZED)
        assert r.status_code == 200, r.text
        assert r.json() == [LATE_JSON]
        r = client.get("/v1/organizations", params={"limit": 1, "offset": 1}, headers=ZED)
        assert r.json() == []
        # a token for every organization pages through all of them
        r = client.get("/v1/organizations", params={"limit": 2, "offset": CROWD - 1}, headers=ALICE)
        assert [o["org_id"] for o in r.json()] == [f"o{CROWD - 1:05d}", LATE]
        r = client.get("/v1/organizations", params={"limit": 1000}, headers=ALICE)
        assert len(r.json()) == 1000
        assert r.json()[0]["org_id"] == "o00000"


def test_i13_item2_listing_filters_before_paging_under_a_host_plugin(crowded: Manager) -> None:
    """Another authorize plugin: the store is walked, filtering, until the page is full."""
    app = create_app(crowded, tokens=TokenFile.parse(TOKENS), plugins=[OnlyLate()])
    with TestClient(app) as client:
        r = client.get("/v1/organizations", params={"limit": 1}, headers=ALICE)
        assert [o["org_id"] for o in r.json()] == ["o00007"]
        r = client.get("/v1/organizations", params={"limit": 1, "offset": 1}, headers=ALICE)
        assert r.json() == [LATE_JSON]
        r = client.get("/v1/organizations", params={"limit": 5}, headers=ZED)
        assert r.json() == [LATE_JSON]


def sign_in(client: TestClient[Litestar], token: str) -> None:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/signin").text)
    assert found is not None
    r = client.post("/signin", data={"token": token, "_csrf_token": found.group(1)})
    assert r.status_code == 200


@pytest.mark.parametrize("token", ["alice-0123456789abcdef", "zed-0123456789abcdef"])
def test_i13_item1_portal_shows_an_organization_that_sorts_after_the_500th(
    crowded: Manager, token: str
) -> None:
    with TestClient(create_app(crowded, tokens=TokenFile.parse(TOKENS))) as client:
        sign_in(client, token)
        for page in ("products", "systems", "history"):
            r = client.get(f"/orgs/{LATE}/{page}")
            assert r.status_code == 200, (page, r.text[:500])
            assert f'<option value="{LATE}" selected>Late</option>' in r.text
        r = client.get("/orgs")
        assert r.status_code == 200
        # zed sees only zz-late: first on its page; alice's page is the first 500 of 1,101
        assert (f"<code>{LATE}</code>" in r.text) is token.startswith("zed")
        assert r.text.count("<code>o0") == (0 if token.startswith("zed") else 500)


# -- item 3: nesting and size ------------------------------------------------------------------


def test_i13_item3_deep_nesting_is_400_never_500(
    client: TestClient[Litestar], manager: Manager, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {**ALICE, "Content-Type": "application/json"}
    before = snapshot(manager)
    with caplog.at_level(logging.ERROR, logger="axis_licensing.http"):
        for body in (b"[" * 970 + b"]" * 970, b'{"org_id": ' + b"[" * 5000 + b"]" * 5000 + b"}"):
            r = client.post("/v1/organizations", content=body, headers=headers)
            assert problem(r, 400, "invalid_input")["details"] == {"param": "body"}
            assert r.json()["detail"] == f"the body is nested more than {MAX_DEPTH} deep"
    assert caplog.records == []
    assert snapshot(manager) == before


def test_i13_item3_nesting_bound_is_32(client: TestClient[Litestar]) -> None:
    headers = {**ALICE, "Content-Type": "application/json"}
    at_bound = b'{"org_id": ' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b', "name": "X"}'
    over = b'{"org_id": ' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b', "name": "X"}'
    assert (json_depth(at_bound), json_depth(over)) == (MAX_DEPTH, MAX_DEPTH + 1)
    r = client.post("/v1/organizations", content=at_bound, headers=headers)
    assert problem(r, 400, "invalid_input")["detail"] == "org_id must be a string, got list"
    r = client.post("/v1/organizations", content=over, headers=headers)
    assert problem(r, 400, "invalid_input")["details"] == {"param": "body"}
    # brackets inside strings are text, not nesting
    name = "[" * 100 + "{" * 100
    r = client.post("/v1/organizations", json={"org_id": "b", "name": name}, headers=ALICE)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name


def test_i13_item3_size_bound_is_64_kib(client: TestClient[Litestar]) -> None:
    headers = {**ALICE, "Content-Type": "application/json"}
    head = b'{"org_id": "big", "name": "Big", "timezone": "UTC"'
    filler = b" " * (MAX_BODY - len(head) - 1)
    r = client.post("/v1/organizations", content=head + filler + b"}", headers=headers)
    assert r.status_code == 201, r.text
    r = client.post("/v1/organizations", content=head + filler + b" }", headers=headers)
    problem(r, 413, "request_too_large")


# -- item 4: media types -----------------------------------------------------------------------


REFUSED_TYPES = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/xml",
    "text/json",
    "application/json; charset=latin-1",
    None,
]


def test_i13_item4_json_only_else_415(client: TestClient[Litestar], manager: Manager) -> None:
    before = snapshot(manager)
    body = b'{"org_id": "acme", "name": "Acme"}'
    for content_type in REFUSED_TYPES:
        headers = dict(ALICE)
        if content_type is not None:
            headers["Content-Type"] = content_type
        r = client.post("/v1/organizations", content=body, headers=headers)
        problem(r, 415, "unsupported_media_type")
    assert snapshot(manager) == before
    for n, content_type in enumerate(
        ["application/json", "application/json; charset=utf-8", "Application/JSON"]
    ):
        body = f'{{"org_id": "acme-{n}", "name": "Acme"}}'.encode()
        r = client.post(
            "/v1/organizations", content=body, headers={**ALICE, "Content-Type": content_type}
        )
        assert r.status_code == 201, r.text


def test_i13_item4_system_files_are_octet_streams(
    client: TestClient[Litestar], manager: Manager
) -> None:
    manager.create_organization(ORG, name="Acme", actor="setup")
    url = f"/v1/organizations/{ORG}/system-files"
    for content_type in ("text/plain", "application/json", "multipart/form-data"):
        r = client.post(url, content=b"{}", headers={**ALICE, "Content-Type": content_type})
        problem(r, 415, "unsupported_media_type")
    r = client.post(
        url, content=b"{}", headers={**ALICE, "Content-Type": "application/octet-stream"}
    )
    problem(r, 400, "malformed_system_file")


# -- item 5: integers are JSON integers, checked by the library --------------------------------


def library_refusal(call: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value


def test_i13_item5_string_count_refused(client: TestClient[Litestar], manager: Manager) -> None:
    """``"3"``, ``3.0``, ``true``…: the library's own refusal, word for word, and no change."""
    populate(manager)
    before = snapshot(manager)
    url = f"/v1/organizations/{ORG}/products/{PRODUCT}/allocations"
    for count in ("3", 3.0, True, 2.5, None, [3]):
        r = client.post(url, json={"quantities": {"core": count}}, headers=ALICE)
        body = problem(r, 400, "invalid_input")
        expected = library_refusal(
            lambda count=count: manager.allocate(ORG, PRODUCT, {"core": count}, actor="alice")
        )
        assert (body["detail"], body["code"], body["details"]) == (
            str(expected),
            expected.code,
            {"param": "quantities"},
        )
    r = client.put(
        f"/v1/organizations/{ORG}/systems/srv-1/devices",
        json={"devices": {"core": 1.0}},
        headers=ALICE,
    )
    expected = library_refusal(
        lambda: manager.report_devices(ORG, "srv-1", devices={"core": 1.0}, actor="a")  # type: ignore[dict-item]
    )
    assert problem(r, 400, "invalid_input")["detail"] == str(expected)
    assert snapshot(manager) == before


WRONG_TYPES: list[tuple[str, dict[str, Any], str]] = [
    (
        f"/v1/organizations/{ORG}/products/{PRODUCT}/allocations",
        {"quantities": {"core": 1}, "period": "0"},
        "period",
    ),
    (
        f"/v1/organizations/{ORG}/products/{PRODUCT}/allocations",
        {"quantities": {"core": 1}, "period": 0.0},
        "period",
    ),
    (f"/v1/organizations/{ORG}/products/{PRODUCT}/allocations/need", {"through": "1"}, "through"),
    (f"/v1/organizations/{ORG}/products/{PRODUCT}/allocations/need", {"through": False}, "through"),
    (
        f"/v1/organizations/{ORG}/systems",
        {"system_id": "s", "product": PRODUCT, "devices": {"core": "2"}},
        "devices",
    ),
    (
        f"/v1/organizations/{ORG}/hardware/HW-1/allocations",
        {"quantities": {"door": 1.0}},
        "quantities",
    ),
    ("/v1/organizations", {"org_id": 7, "name": "Seven"}, "org_id"),
    ("/v1/organizations", {"org_id": "seven", "name": 7}, "name"),
    ("/v1/organizations", {"org_id": "x", "name": "X", "time_zone": "UTC"}, "time_zone"),
    ("/v1/organizations", {"name": "X"}, "org_id"),
    ("/v1/organizations", [{"org_id": "x", "name": "X"}], "body"),  # type: ignore[list-item]
    ("/v1/organizations", "x", "body"),  # type: ignore[list-item]
]


def test_i13_item5_numbers_strings_and_shapes_as_the_library_takes_them(
    client: TestClient[Litestar], manager: Manager
) -> None:
    populate(manager)
    before = snapshot(manager)
    for url, payload, param in WRONG_TYPES:
        body = problem(client.post(url, json=payload, headers=ALICE), 400, "invalid_input")
        assert body["details"] == {"param": param}, (url, payload)
    assert snapshot(manager) == before


# -- item 6: ids that cannot be reached again are refused; the others are reached --------------

BAD_IDS = ["a/b", ".", "..", "a b", "zero\u200bwidth", "left\u202eright", "a\u2066b", "", "x" * 129]


def test_i13_item6_unreachable_ids_are_refused_with_the_library_code(
    client: TestClient[Litestar], manager: Manager
) -> None:
    populate(manager)
    before = snapshot(manager)
    for bad in BAD_IDS:
        cases = [
            ("/v1/organizations", {"org_id": bad, "name": "X"}, ALICE, "org_id"),
            (
                f"/v1/organizations/{ORG}/systems",
                {"system_id": bad, "product": PRODUCT},
                ALICE,
                "system_id",
            ),
            (f"/v1/organizations/{ORG}/systems/srv-1/hardware", {"serial": bad}, ALICE, "serial"),
            ("/v1/vendor/hardware", {"serial": bad, "product": PRODUCT}, VENDOR, "serial"),
        ]
        for url, payload, headers, param in cases:
            r = client.post(url, json=payload, headers=headers)
            assert problem(r, 400, "invalid_input")["details"] == {"param": param}, (url, bad)
        if bad.isascii():  # a header carries ASCII
            r = client.post(
                f"/v1/organizations/{ORG}/products/{PRODUCT}/allocations",
                json={"quantities": {"core": 1}},
                headers={**ALICE, "Idempotency-Key": bad},
            )
            assert problem(r, 400, "invalid_input")["details"] == {"param": "request_id"}, bad
    assert snapshot(manager) == before


GOOD_IDS = ["a.b_c-d~e:f@g+h", "Ärlig-Örebro", "東京-1", "x" * 128, "..a", "a.."]


def test_i13_item6_every_created_id_is_reached_again_by_its_url(
    client: TestClient[Litestar],
) -> None:
    for good in GOOD_IDS:
        r = client.post("/v1/organizations", json={"org_id": good, "name": "N"}, headers=ALICE)
        assert r.status_code == 201, r.text
        org = urllib.parse.quote(good, safe="")
        r = client.get(f"/v1/organizations/{org}/products", headers=ALICE)
        assert r.status_code == 200, r.text
        r = client.post(
            f"/v1/organizations/{org}/systems",
            json={"system_id": good, "product": PRODUCT},
            headers=ALICE,
        )
        assert r.status_code == 201, r.text
        r = client.get(f"/v1/organizations/{org}/systems/{org}", headers=ALICE)
        assert r.status_code == 200, r.text
        assert r.json()["system_id"] == good
        r = client.post(
            "/v1/vendor/hardware", json={"serial": good, "product": PRODUCT}, headers=VENDOR
        )
        assert r.status_code == 204, r.text
        r = client.post(
            f"/v1/organizations/{org}/systems/{org}/hardware", json={"serial": good}, headers=ALICE
        )
        assert r.status_code == 201, r.text
        r = client.post(
            f"/v1/organizations/{org}/hardware/{org}/allocations",
            json={"quantities": {"door": 1}},
            headers=ALICE,
        )
        problem(r, 422, "insufficient_licenses")  # reached: the unit is found, the wallet is empty
    listed = client.get("/v1/organizations", headers=ALICE).json()
    assert [o["org_id"] for o in listed] == sorted(GOOD_IDS)


# -- item 17: HEAD -----------------------------------------------------------------------------


def test_i13_item17_head_answers_as_get_without_a_body(
    client: TestClient[Litestar], manager: Manager
) -> None:
    populate(manager)
    for url in (
        "/v1/organizations",
        f"/v1/organizations/{ORG}/products/{PRODUCT}",
        "/openapi.json",
    ):
        got = client.get(url, headers=ALICE)
        head = client.head(url, headers=ALICE)
        assert (head.status_code, head.content) == (got.status_code, b""), url
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers["content-length"] == got.headers["content-length"]
    missing = client.head("/v1/organizations/nobody/products", headers=ALICE)
    assert (missing.status_code, missing.content) == (404, b"")
    assert missing.headers["content-type"] == "application/problem+json"
    assert client.head(f"/v1/organizations/{ORG}/keys", headers=ALICE).status_code == 405


# -- item 14: the schema's limits are the server's ---------------------------------------------


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _fill(template: str, params: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: urllib.parse.quote(params[m.group(1)], safe=""), template)


#: A request each body operation accepts in the populated store, as a baseline to vary.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/v1/organizations"): {"org_id": "fresh", "name": "Fresh"},
    ("post", "/v1/organizations/{org_id}/systems"): {"system_id": "fresh", "product": PRODUCT},
    ("put", "/v1/organizations/{org_id}/systems/{system_id}/devices"): {"devices": {"core": 1}},
    ("post", "/v1/organizations/{org_id}/systems/{system_id}/hardware"): {"serial": "fresh"},
    ("post", "/v1/organizations/{org_id}/hardware/{serial}/allocations"): {
        "quantities": {"door": 1}
    },
    ("post", "/v1/organizations/{org_id}/products/{product}/allocations"): {
        "quantities": {"core": 1}
    },
    ("post", "/v1/organizations/{org_id}/products/{product}/allocations/need"): {"through": 0},
    ("post", "/v1/organizations/{org_id}/keys"): {"key": "ABCD"},
    ("post", "/v1/vendor/keys"): {"product": PRODUCT, "quantities": {"core": 1}},
    ("post", "/v1/vendor/hardware"): {"serial": "fresh", "product": PRODUCT},
    ("post", "/v1/catalog/versions"): converter.unstructure(EXAMPLE_CATALOG),
    # events out (SPEC §7)
    ("post", "/v1/sweep"): {},
    ("post", "/v1/deliver"): {"limit": 10},
    ("post", "/v1/webhooks"): {
        "org_id": ORG,
        "url": "http://127.0.0.1:9/hook",
        "allow_http": True,
        "allow_private": True,
    },
    ("patch", "/v1/webhooks/{endpoint_id}"): {"enabled": True},
    # members and roles (SPEC §8)
    ("post", "/v1/accounts"): {"account_id": "fresh", "name": "Fresh"},
    ("post", "/v1/organizations/{org_id}/invitations"): {"account_id": "fresh", "role": "viewer"},
    # the caller accepts for its own account (another's is 403 whatever the body)
    ("post", "/v1/invitations/accept"): {"token": "axi_unknown", "account_id": "alice"},
    ("put", "/v1/organizations/{org_id}/members/{account_id}"): {"role": "owner"},
    ("post", "/v1/accounts/{account_id}/tokens"): {},
}
PATH_VALUES = {
    "org_id": ORG,
    "product": PRODUCT,
    "system_id": "srv-1",
    "serial": "HW-1",
    "endpoint_id": "no-such-endpoint",
    "delivery_id": "no-such-delivery",
    "account_id": "alice",
    "token_id": "no-such-token",
}


def _bound_probes(schema: dict[str, Any], valid: object) -> list[tuple[object, bool]]:
    """(value, whether the schema allows it) at each bound the schema states."""
    probes: list[tuple[object, bool]] = []
    if "format" in schema:  # a date-time: only its length bound, from outside
        return [("x" * (schema["maxLength"] + 1), False)] if "maxLength" in schema else []
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "string" in types or "maxLength" in schema:
        if "maxLength" in schema:
            longest = "x" * schema["maxLength"]
            fits = "pattern" not in schema or re.search(schema["pattern"], longest) is not None
            probes += [(longest, fits), ("x" * (schema["maxLength"] + 1), False)]
        if schema.get("minLength") == 1:
            probes.append(("", False))
        if "pattern" in schema:
            for text in (
                "a/b",
                ".",
                "..",
                " ",
                "a b",
                "a\u200bb",
                "a\u202eb",
                "ok-1.2_3~4:5@6+7",
                "\t",
            ):
                probes.append((text, re.search(schema["pattern"], text) is not None))
    if "integer" in types:
        for bound, step in (("minimum", -1), ("maximum", 1)):
            if bound in schema:
                edge = int(schema[bound])
                probes += [(edge, True), (edge + step, False)]
    if schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict):
        values = schema["additionalProperties"]
        assert isinstance(valid, dict)
        key = next(iter(valid), "core")
        for bound, step in (("minimum", -1), ("maximum", 1)):
            edge = int(values[bound])
            probes += [({key: edge}, True), ({key: edge + step}, False)]
        names = schema["propertyNames"]
        probes += [({"x" * (names["maxLength"] + 1): 1}, False), ({"": 1}, False)]
        if schema.get("minProperties") == 1:
            probes.append(({}, False))
    return probes


def _leaves(
    doc: dict[str, Any], schema: dict[str, Any], value: Any, where: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any], Any]]:
    """Each field of a body (into the first item of arrays of objects): where, schema, value."""
    for name, own in _resolve(doc, schema)["properties"].items():
        own = _resolve(doc, own)
        present = value.get(name, own.get("default"))
        items = own.get("items", {})
        if own.get("type") == "array" and ("$ref" in items or items.get("type") == "object"):
            yield from _leaves(doc, items, present[0], (*where, name, 0))
        elif name in value or "default" in own:
            yield (*where, name), own, present


def _set(body: dict[str, Any], where: tuple[str | int, ...], value: object) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target: Any = changed
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    return changed


def _refused_for(response: Any, name: str) -> bool:
    """Refused for the form of ``name`` (not, say, for a key's checksum or the state)."""
    if response.status_code != 400 or response.json()["code"] != "invalid_input":
        return False
    details = response.json().get("details", {})
    return bool(details.get("param") == name or details.get("errors"))


def test_i13_item14_schema_bounds_are_where_the_server_refuses(
    client: TestClient[Litestar], manager: Manager
) -> None:
    populate(manager)
    # accounts (SPEC §8), made first, so that creating more while probing changes no right
    manager.accounts.create("vendor-bot", name="Vendor", vendor=True, actor="vendor-bot")
    manager.accounts.create("alice", name="Alice", actor="vendor-bot")
    manager.members.add_creator(ORG, "alice")
    doc = client.get("/openapi.json").json()
    checked: list[str] = []
    for template, operations in doc["paths"].items():
        for method, operation in operations.items():
            body = BODIES.get((method, template))
            body_schema = None
            if "requestBody" in operation:
                content = operation["requestBody"]["content"]
                if "application/json" not in content:
                    continue
                assert body is not None, (method, template)
                body_schema = _resolve(doc, content["application/json"]["schema"])
                assert body_schema["additionalProperties"] is False, template
            headers = VENDOR if template.startswith(("/v1/vendor", "/v1/catalog")) else ALICE

            def call(
                path: dict[str, str],
                query: dict[str, Any],
                data: Any,
                method: str = method,
                template: str = template,
                headers: dict[str, str] = headers,
            ) -> Any:
                kwargs: dict[str, Any] = {"params": query, "headers": headers}
                if data is not None:
                    kwargs["json"] = data
                return client.request(method.upper(), _fill(template, path), **kwargs)

            for parameter in operation.get("parameters", []):
                where, name, schema = parameter["in"], parameter["name"], parameter["schema"]
                if where not in ("path", "query"):
                    continue
                valid = PATH_VALUES.get(name, "x")
                for value, allowed in _bound_probes(schema, valid):
                    path = dict(PATH_VALUES)
                    query: dict[str, Any] = {}
                    if where == "path":
                        path[name] = str(value)
                    else:
                        query[name] = value
                    if where == "path" and (value in (".", "..", "") or "/" in str(value)):
                        continue  # a client resolves these before they reach a server
                    r = call(path, query, copy.deepcopy(body))
                    label = f"{method} {template} {where} {name}={value!r}: {r.text[:200]}"
                    if allowed:
                        assert not _refused_for(r, name), label
                    else:
                        assert _refused_for(r, name), label
                    checked.append(label)
            if body_schema is None:
                continue
            assert body is not None
            for where, schema, valid in _leaves(doc, body_schema, body, ()):
                for value, allowed in _bound_probes(schema, valid):
                    data = _set(body, where, value)
                    r = call(dict(PATH_VALUES), {}, data)
                    label = f"{method} {template} body {where}={value!r}: {r.text[:200]}"
                    if allowed:
                        assert not _refused_for(r, str(where[-1])), label
                    else:
                        assert _refused_for(r, str(where[-1])), label
                    checked.append(label)
            # required fields: each is refused when left out, by name; the others may be
            for name in body_schema["properties"]:
                if name not in body:
                    continue
                data = {k: v for k, v in body.items() if k != name}
                r = call(dict(PATH_VALUES), {}, data)
                label = f"{method} {template} without {name}: {r.text[:200]}"
                assert _refused_for(r, name) is (name in body_schema["required"]), label
                checked.append(label)
    assert len(checked) > 150, len(checked)


def test_i13_item14_path_ids_are_at_most_128_with_a_pattern(client: TestClient[Litestar]) -> None:
    doc = client.get("/openapi.json").json()
    for template, operations in doc["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    schema = parameter["schema"]
                    assert (schema["minLength"], schema["maxLength"]) == (1, 128), template
                    assert "pattern" in schema, template
