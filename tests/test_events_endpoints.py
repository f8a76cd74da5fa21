"""The endpoint commands' steps: input checks and rows, never a secret in the details (SPEC §7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from axis_licensing.errors import InvalidInput
from axis_licensing.events.endpoints import (
    ROTATION_OVERLAP,
    changed_endpoint,
    duplicate_endpoint,
    endpoint_details,
    new_endpoint,
    new_endpoint_id,
    rotated_endpoint,
)
from axis_licensing.events.store import to_us

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
URL = "https://hooks.example.com/axis"


def test_a_new_endpoint_shows_its_secret_once() -> None:
    row, shown = new_endpoint("acme", URL, now=NOW, types=["alert.raised"])
    assert shown.secret is not None
    assert shown.secret.startswith("whsec_")
    assert shown.secret == row.secret
    assert shown.endpoint_id == row.endpoint_id
    assert shown.endpoint_id.startswith("wh_")
    assert len(shown.endpoint_id) == 27
    assert (shown.org_id, shown.url, shown.types, shown.enabled) == (
        "acme",
        URL,
        ("alert.raised",),
        True,
    )
    assert (shown.allow_http, shown.allow_private, shown.created_at) == (False, False, NOW)
    assert row.endpoint().secret is None
    assert shown.secret not in repr(shown)
    assert new_endpoint_id() != new_endpoint_id()
    vendor, _ = new_endpoint(None, URL, now=NOW, endpoint_id="wh_vendor")
    assert (vendor.scope, vendor.endpoint_id, vendor.types) == ("", "wh_vendor", None)


@pytest.mark.parametrize(
    ("kwargs", "param", "message"),
    [
        ({"url": "http://hooks.example.com/"}, "url", "must use https"),
        ({"url": "https://10.0.0.1/"}, "url", "is private"),
        ({"types": ["no_such_type"]}, "types", "unknown event type 'no_such_type'"),
        ({"allow_http": "yes"}, "allow_http", "allow_http must be True or False"),
    ],
)
def test_bad_input_is_refused(kwargs: dict[str, object], param: str, message: str) -> None:
    arguments: dict[str, object] = {"url": URL, **kwargs}
    url = arguments.pop("url")
    with pytest.raises(InvalidInput, match=message) as caught:
        new_endpoint("acme", url, now=NOW, **arguments)  # type: ignore[arg-type]
    assert caught.value.details == {"param": param}
    assert caught.value.code == "invalid_input"


def test_changes_are_checked_against_the_new_flags() -> None:
    row, _ = new_endpoint(
        "acme", "http://127.0.0.1:8080/x", now=NOW, allow_http=True, allow_private=True
    )
    off = changed_endpoint(row, enabled=False, types=["key_redeemed", "alert.raised"])
    assert (off.enabled, off.types, off.url, off.secret) == (
        0,
        '["alert.raised","key_redeemed"]',
        row.url,
        row.secret,
    )
    assert changed_endpoint(off, types=None).types is None
    assert changed_endpoint(off, enabled=True).enabled == 1
    moved = changed_endpoint(
        row, url="https://hooks.example.com/new", allow_http=False, allow_private=False
    )
    assert (moved.url, moved.allow_http, moved.allow_private) == (
        "https://hooks.example.com/new",
        0,
        0,
    )
    with pytest.raises(InvalidInput, match="must use https"):
        changed_endpoint(row, allow_http=False)  # the URL is plain http
    with pytest.raises(InvalidInput, match="is loopback"):
        changed_endpoint(row, allow_private=False)
    with pytest.raises(InvalidInput, match="enabled must be True or False"):
        changed_endpoint(row, enabled=1)  # type: ignore[arg-type]


def test_a_rotation_keeps_the_old_secret_signing_for_a_day() -> None:
    row, first = new_endpoint("acme", URL, now=NOW)
    rotated, shown = rotated_endpoint(row, NOW)
    assert shown.secret == rotated.secret != first.secret
    assert rotated.previous_secret == first.secret
    assert rotated.previous_until_us == to_us(NOW + ROTATION_OVERLAP)
    assert timedelta(hours=24) == ROTATION_OVERLAP
    assert rotated.secrets_at(to_us(NOW)) == (rotated.secret, first.secret)
    assert rotated.secrets_at(to_us(NOW + ROTATION_OVERLAP)) == (rotated.secret,)


def test_details_never_hold_a_secret() -> None:
    row, shown = new_endpoint("acme", URL, now=NOW, types=["alert.raised"])
    rotated, _ = rotated_endpoint(row, NOW)
    details = endpoint_details(rotated)
    assert details == {
        "endpoint_id": row.endpoint_id,
        "org_id": "acme",
        "url": URL,
        "types": ["alert.raised"],
        "enabled": True,
        "allow_http": False,
        "allow_private": False,
    }
    text = json.dumps(details)
    assert "whsec_" not in text
    error = duplicate_endpoint(URL)
    assert error.details == {"param": "url"}
    assert error.message == f"a webhook endpoint with the URL {URL!r} already exists here"
    assert shown.secret is not None
    assert shown.secret not in error.message
