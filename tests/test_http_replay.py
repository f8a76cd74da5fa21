"""A replay returns the first answer (issue 13 item 7, SPEC §6.1, R13), on every backend.

Each test sends a command with an ``Idempotency-Key``, then moves the state on
(another command, or time), then sends the same request again: the replay
must answer the same status and the same body as the first time, although a
fresh read now shows something else.

The answers come from the command's stored first result, never from a read of
the state after it, so a replay shows the first answer, not the state of now.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")

from litestar import Litestar
from litestar.testing import TestClient

from axis_licensing import Manager, ManualClock
from http_support import ALICE, BASE, PRODUCT, key, replay_client, same_answer


@pytest.fixture
def client(manager: Manager) -> Iterator[TestClient[Litestar]]:
    yield from replay_client(manager)


def test_i13_item7_replay_register_system(client: TestClient[Litestar]) -> None:
    body = {"system_id": "srv-9", "product": PRODUCT, "devices": {"core": 1}}
    first = client.post(f"{BASE}/systems", json=body, headers=key("sys-1"))
    assert (first.status_code, first.json()["devices"]) == (201, {"core": 1})
    client.put(f"{BASE}/systems/srv-9/devices", json={"devices": {"core": 5}}, headers=ALICE)
    assert client.get(f"{BASE}/systems/srv-9", headers=ALICE).json()["devices"] == {"core": 5}
    same_answer(first, client.post(f"{BASE}/systems", json=body, headers=key("sys-1")))


def test_i13_item7_replay_report_devices(client: TestClient[Litestar]) -> None:
    url = f"{BASE}/systems/srv-1/devices"
    first = client.put(url, json={"devices": {"core": 3}}, headers=key("dev-1"))
    assert (first.status_code, first.json()["devices"]) == (200, {"core": 3})
    client.put(url, json={"devices": {"core": 7}}, headers=ALICE)
    assert client.get(f"{BASE}/systems/srv-1", headers=ALICE).json()["devices"] == {"core": 7}
    same_answer(first, client.put(url, json={"devices": {"core": 3}}, headers=key("dev-1")))


def test_i13_item7_replay_register_hardware(client: TestClient[Litestar], manager: Manager) -> None:
    for serial in ("HW-2", "HW-3"):
        manager.vendor.ship_hardware(serial, PRODUCT, {"core": 1})
    url = f"{BASE}/systems/srv-1/hardware"
    first = client.post(url, json={"serial": "HW-2"}, headers=key("hw-1"))
    assert (first.status_code, first.json()["hardware"]) == (201, ["HW-2"])
    client.post(url, json={"serial": "HW-3"}, headers=ALICE)
    assert client.get(f"{BASE}/systems/srv-1", headers=ALICE).json()["hardware"] == [
        "HW-2",
        "HW-3",
    ]
    same_answer(first, client.post(url, json={"serial": "HW-2"}, headers=key("hw-1")))


def test_i13_item7_replay_start_subscription(
    client: TestClient[Litestar], clock: ManualClock
) -> None:
    url = f"{BASE}/products/{PRODUCT}/subscription"
    first = client.post(url, headers=key("start-1"))
    assert (first.status_code, first.json()["state"]) == (201, "trial")
    clock.advance(days=40)  # past the trial: unlicensed
    assert client.get(f"{BASE}/products/{PRODUCT}", headers=ALICE).json()["state"] == "unlicensed"
    same_answer(first, client.post(url, headers=key("start-1")))


def test_i13_item7_replay_webhook_removal(client: TestClient[Litestar]) -> None:
    """A removal replays 204 after its endpoint is gone (R13), where it answered 404."""
    added = client.post(
        "/v1/webhooks",
        json={"org_id": "acme", "url": "https://hooks.example.com/h"},
        headers=ALICE,
    )
    assert added.status_code == 201, added.text
    url = f"/v1/webhooks/{added.json()['endpoint_id']}"
    first = client.delete(url, headers=key("del-1"))
    assert first.status_code == 204
    again = client.delete(url, headers=key("del-1"))
    assert (again.status_code, again.content) == (204, b"")
    assert client.delete(url, headers=key("del-2")).status_code == 404
