"""The JSON Schema of every event type (SPEC §7): generated, published, complete, and true."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock
from axis_licensing.events.model import event_types
from axis_licensing.events.schema import events_schema
from events_support import license_nord_every_way, start_nord, walk_a_webhook

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_published_schema_is_the_generated_one() -> None:
    published = json.loads((DOCS / "events.schema.json").read_text(encoding="utf-8"))
    assert published == events_schema(), (
        "regenerate it: python -m axis_licensing.events.schema > docs/events.schema.json"
    )


def test_every_event_type_has_a_schema_and_the_docs_name_it() -> None:
    schema = events_schema()
    assert set(schema["$defs"]) == event_types()
    jsonschema.Draft202012Validator.check_schema(schema)
    page = (DOCS / "events.md").read_text(encoding="utf-8")
    for name in event_types():
        assert f"`{name}`" in page


@pytest.fixture(scope="module")
def every_event() -> list[dict[str, object]]:
    """A real event of every type, from one organization's life (memory backend)."""
    start = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    clock = ManualClock(start)
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock) as m:
        start_nord(m)
        m.sweep()  # alert.raised: the trial ends
        license_nord_every_way(m, clock)
        m.sweep()  # alert.cleared: the trial's alert
        walk_a_webhook(m, types=["key_redeemed"])
        clock.set(datetime(2031, 2, 3, 12, 0, tzinfo=UTC))
        m.register_system("nord", "acs-pro", "srv-2", devices={"core": 1}, actor="a")  # + expiry
        # members and tokens (SPEC §8): their activities are events too
        m.accounts.create("alice", name="Alice", actor="alice")
        m.accounts.create("bob", name="Bob", actor="alice")
        m.members.add_creator("nord", "alice")
        invited = m.members.invite("nord", "bob", role="viewer", actor="alice")
        m.members.accept(invited.token, account_id="bob")
        m.members.set_role("nord", "bob", "admin", actor="alice")
        issued = m.tokens.create("bob", actor="bob")
        m.tokens.revoke(issued.info.token_id, actor="bob")
        m.members.remove("nord", "bob", actor="alice")
        return [e.to_json() for e in m.events("nord")]


def test_a_real_event_of_every_type_validates(every_event: list[dict[str, object]]) -> None:
    assert {e["type"] for e in every_event} == event_types()
    validator = jsonschema.Draft202012Validator(
        events_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for event in every_event:
        errors = [e.message for e in validator.iter_errors(event)]
        assert errors == [], (event["type"], errors)


def test_the_schema_refuses_a_wrong_event(every_event: list[dict[str, object]]) -> None:
    validator = jsonschema.Draft202012Validator(events_schema())
    event = dict(every_event[0])
    event["data"] = {"name": 3}
    assert not validator.is_valid(event)
    assert not validator.is_valid({**every_event[0], "type": "no_such_type"})
