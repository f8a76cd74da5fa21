"""Replays return the first answer (issue 13 item 7, R13): commands the library stores results of.

Each test sends a command with an ``Idempotency-Key``, then moves the state on
(another command, or time), then sends the same request again: the replay
must answer the same status and the same body as the first time, although a
fresh read now shows something else.

These commands' answers are the library's stored results already (R13); the
others, whose answers the API reads after the command, are in
``test_http_replay.py`` and wait for ``Manager.execute`` (issue 14).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")

from litestar import Litestar
from litestar.testing import TestClient

from axis_licensing import Manager, ManualClock
from http_support import ALICE, BASE, ORG, PRODUCT, key, offline_system, replay_client, same_answer


@pytest.fixture
def client(manager: Manager) -> Iterator[TestClient[Litestar]]:
    yield from replay_client(manager)


def licensed(manager: Manager, cores: int = 50) -> None:
    """A started subscription and ``cores`` core licenses in the wallet."""
    manager.start_subscription(ORG, PRODUCT, actor="setup")
    issued = manager.vendor.issue_key(PRODUCT, quantities={"core": cores, "door": 5})
    manager.redeem_key(ORG, issued, actor="setup")


def test_i13_item7_replay_create_organization(
    client: TestClient[Litestar], manager: Manager
) -> None:
    body = {"org_id": "globex", "name": "Globex", "timezone": "Europe/Paris"}
    first = client.post("/v1/organizations", json=body, headers=key("org-1"))
    assert first.status_code == 201, first.text
    manager.start_subscription("globex", PRODUCT, actor="setup")  # the anchor is set now
    listed = client.get("/v1/organizations", headers=ALICE).json()
    assert [o["anchor"] for o in listed if o["org_id"] == "globex"] == ["2026-01-01"]
    same_answer(first, client.post("/v1/organizations", json=body, headers=key("org-1")))


def test_i13_item7_replay_allocate(client: TestClient[Litestar], manager: Manager) -> None:
    licensed(manager)
    url = f"{BASE}/products/{PRODUCT}/allocations"
    first = client.post(url, json={"quantities": {"core": 1}}, headers=key("alloc-1"))
    assert first.status_code == 201, first.text
    client.post(url, json={"quantities": {"core": 2}, "period": 1}, headers=ALICE)
    same_answer(first, client.post(url, json={"quantities": {"core": 1}}, headers=key("alloc-1")))


def test_i13_item7_replay_allocate_need(client: TestClient[Litestar], manager: Manager) -> None:
    licensed(manager)
    url = f"{BASE}/products/{PRODUCT}/allocations/need"
    first = client.post(url, json={"through": 0}, headers=key("need-1"))
    assert first.json()["periods"][0]["quantities"] == {"core": 2}
    client.put(f"{BASE}/systems/srv-1/devices", json={"devices": {"core": 6}}, headers=ALICE)
    client.post(url, json={"through": 0}, headers=ALICE)
    same_answer(first, client.post(url, json={"through": 0}, headers=key("need-1")))


def test_i13_item7_replay_redeem_key(client: TestClient[Litestar], manager: Manager) -> None:
    manager.start_subscription(ORG, PRODUCT, actor="setup")
    issued = manager.vendor.issue_key(PRODUCT, quantities={"core": 4})
    first = client.post(f"{BASE}/keys", json={"key": issued}, headers=key("redeem-1"))
    assert first.status_code == 201, first.text
    client.post(
        f"{BASE}/products/{PRODUCT}/allocations", json={"quantities": {"core": 3}}, headers=ALICE
    )
    wallet = client.get(f"{BASE}/products/{PRODUCT}/wallet", headers=ALICE).json()
    assert [lot["quantity"] for lot in wallet["lots"]] == [1]
    same_answer(first, client.post(f"{BASE}/keys", json={"key": issued}, headers=key("redeem-1")))


def test_i13_item7_replay_upload_system_file(
    client: TestClient[Litestar], manager: Manager, clock: ManualClock
) -> None:
    licensed(manager)
    data = offline_system(clock)
    headers = {**key("upload-1"), "Content-Type": "application/octet-stream"}
    url = f"{BASE}/system-files"
    first = client.post(url, content=data, headers=headers)
    assert first.status_code == 200, first.text
    clock.advance(timedelta(days=3))
    client.post(f"{BASE}/products/{PRODUCT}/allocations/need", json={"through": 0}, headers=ALICE)
    again = client.post(url, content=data, headers=headers)
    assert (again.status_code, again.content) == (first.status_code, first.content)
