"""The values of events out (SPEC §7): the event's JSON form, its id and the event types."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from axis_licensing._enums import Action
from axis_licensing.events.model import (
    ALERT_CLEARED,
    ALERT_RAISED,
    DeliveryState,
    Event,
    EventDraft,
    delivery_id,
    event_id,
    event_types,
)

#: The namespace of event and delivery ids (SPEC §7): stored ids depend on it.
NAMESPACE = uuid.UUID("6f0c0f53-5bd8-5d38-9a3e-2d2f7c1d7a11")


def test_an_event_is_id_type_org_seq_at_data() -> None:
    paris = timezone(timedelta(hours=1))
    event = Event(
        id=event_id("acme", 7),
        type="key_redeemed",
        org_id="acme",
        seq=7,
        at=datetime(2026, 3, 1, 13, 30, tzinfo=paris),
        data={"tail": "WXYZ", "quantities": {"core": 2}},
    )
    assert event.at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert event.at.tzinfo is UTC
    assert event.to_json() == {
        "id": event_id("acme", 7),
        "type": "key_redeemed",
        "org_id": "acme",
        "seq": 7,
        "at": "2026-03-01T12:30:00Z",
        "data": {"tail": "WXYZ", "quantities": {"core": 2}},
    }
    assert (
        event.body()
        == (
            '{"at":"2026-03-01T12:30:00Z","data":{"quantities":{"core":2},"tail":"WXYZ"},'
            f'"id":"{event_id("acme", 7)}","org_id":"acme","seq":7,"type":"key_redeemed"}}'
        ).encode()
    )
    assert json.loads(event.body()) == event.to_json()


@pytest.mark.parametrize(
    ("org_id", "seq", "expected"),
    [
        ("acme", 7, "evt_556661de7d655d6692cab7017cd37ad5"),
        ("Zürich-北京", 2**40, "evt_0d5a7691312e5e448dfd9cbadd098a55"),
    ],
)
def test_event_ids_are_uuid5_of_the_compact_json_name(org_id: str, seq: int, expected: str) -> None:
    name = json.dumps([org_id, seq], ensure_ascii=False, separators=(",", ":"))
    assert event_id(org_id, seq) == expected == "evt_" + uuid.uuid5(NAMESPACE, name).hex


def test_delivery_ids_are_uuid5_of_the_event_and_the_endpoint() -> None:
    name = json.dumps(["evt_x", "wh_é"], ensure_ascii=False, separators=(",", ":"))
    expected = "dlv_298ef9853aab56a5a6aceba9aace3642"
    assert delivery_id("evt_x", "wh_é") == expected == "dlv_" + uuid.uuid5(NAMESPACE, name).hex


def test_instants_must_be_aware() -> None:
    with pytest.raises(ValueError, match="must be timezone-aware"):
        EventDraft("key_redeemed", datetime(2026, 3, 1))


def test_event_types_are_the_actions_and_the_alert_transitions() -> None:
    types = event_types()
    assert {str(a) for a in Action} - {"alert_raised", "alert_cleared"} <= types
    assert {ALERT_RAISED, ALERT_CLEARED} <= types
    assert len(types) == len(Action)  # the alert actions' events are alert.raised/.cleared
    assert [s.value for s in DeliveryState] == ["pending", "delivered", "failed"]
