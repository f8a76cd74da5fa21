"""The portal's webhooks page (SPEC §7): list, add (secret once), rotate, disable, enable,
remove, failed deliveries sent again; CSRF and request ids as on every portal form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")

from litestar import Litestar
from litestar.testing import TestClient

from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock
from axis_licensing.http import TokenFile, create_app
from test_http_portal import TOKENS, sign_in

BASE = "/orgs/acme/webhooks"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def portal(clock: ManualClock) -> Iterator[tuple[Manager, TestClient[Litestar]]]:
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock) as m:
        m.create_organization("acme", name="Acme", actor="setup")
        m.create_organization("globex", name="Globex", actor="setup")
        with TestClient(create_app(m, tokens=TokenFile.parse(TOKENS))) as c:
            yield m, c


def _form(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to ``action``."""
    found = re.search(
        r'<form[^>]*action="' + re.escape(action) + r'"[^>]*>(.*?)</form>', html, re.S
    )
    assert found is not None, action
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', found.group(1)))


def test_an_owner_adds_rotates_disables_and_removes_a_webhook(
    portal: tuple[Manager, TestClient[Litestar]],
) -> None:
    m, client = portal
    sign_in(client)
    page = client.get(BASE)
    assert page.status_code == 200
    assert 'aria-current="page"' in page.text
    form = _form(page.text, BASE + "/new")
    assert set(form) == {"_csrf_token", "request_id"}
    added = client.post(
        BASE + "/new",
        data={**form, "url": "https://example.com/hook", "types": ["key_redeemed", "alert.raised"]},
    )
    assert added.status_code == 200
    (secret,) = re.findall(r"<code data-secret>(whsec_[^<]+)</code>", added.text)
    (endpoint,) = m.webhooks.list("acme")
    assert (endpoint.url, endpoint.types) == (
        "https://example.com/hook",
        ("alert.raised", "key_redeemed"),
    )
    # a reload (the same request id) adds nothing and shows the same secret; a later visit none
    again = client.post(
        BASE + "/new",
        data={**form, "url": "https://example.com/hook", "types": ["key_redeemed", "alert.raised"]},
    )
    assert re.findall(r"<code data-secret>(whsec_[^<]+)</code>", again.text) == [secret]
    assert len(m.webhooks.list("acme")) == 1
    listed = client.get(BASE).text
    assert secret not in listed
    assert "https://example.com/hook" in listed
    one = f"{BASE}/{endpoint.endpoint_id}"
    rotated = client.post(one + "/rotate", data=_form(listed, one + "/rotate"))
    (new_secret,) = re.findall(r"<code data-secret>(whsec_[^<]+)</code>", rotated.text)
    assert new_secret != secret
    client.post(one + "/disable", data=_form(client.get(BASE).text, one + "/disable"))
    assert m.webhooks.list("acme")[0].enabled is False
    client.post(one + "/enable", data=_form(client.get(BASE).text, one + "/enable"))
    assert m.webhooks.list("acme")[0].enabled is True
    client.post(one + "/remove", data=_form(client.get(BASE).text, one + "/remove"))
    assert m.webhooks.list("acme") == []
    assert [a.action for a in m.history("acme")][1:] == [
        "webhook_added",
        "webhook_secret_rotated",
        "webhook_changed",
        "webhook_changed",
        "webhook_removed",
    ]


def test_bad_input_and_another_organizations_endpoint_are_refused(
    portal: tuple[Manager, TestClient[Litestar]],
) -> None:
    m, client = portal
    sign_in(client)
    form = _form(client.get(BASE).text, BASE + "/new")
    bad = client.post(BASE + "/new", data={**form, "url": "http://example.com/hook"})
    assert bad.status_code == 200  # redirected to the page, the error shown by its code
    assert 'data-code="invalid_input"' in bad.text
    other = m.webhooks.add("globex", "https://example.com/g", actor="setup")
    one = f"{BASE}/{other.endpoint_id}"
    page = client.get(BASE).text
    fields = _form(page, BASE + "/new")
    refused = client.post(one + "/remove", data=fields)
    assert 'data-code="unknown_webhook"' in refused.text
    assert len(m.webhooks.list("globex")) == 1
    # without the CSRF token nothing happens
    assert client.post(one + "/remove", data={"request_id": "x"}).status_code == 403
    assert len(m.webhooks.list("globex")) == 1


def test_a_failed_delivery_is_listed_and_sent_again(
    portal: tuple[Manager, TestClient[Litestar]], clock: ManualClock
) -> None:
    m, client = portal
    sign_in(client)
    m.webhooks.add(
        "acme", "http://127.0.0.1:9/h", actor="setup", allow_http=True, allow_private=True
    )
    m.deliver()
    clock.advance(timedelta(days=4))
    m.deliver()
    (failed,) = m.webhooks.failed("acme")
    page = client.get(BASE).text
    action = f"/orgs/acme/deliveries/{failed.delivery_id}/redeliver"
    assert f'data-delivery="{failed.delivery_id}"' in page
    client.post(action, data=_form(page, action))
    assert m.webhooks.failed("acme") == []
    assert m.history("acme")[-1].action == "webhook_redelivered"


VENDOR_TOKENS = """
[[tokens]]
token = "vera-0123456789abcdef"
actor = "vera"
organizations = ["*"]
vendor = true

[[tokens]]
token = "carl-0123456789abcdef"
actor = "carl"
organizations = ["acme"]
"""


def test_a_vendor_manages_the_vendor_wide_webhooks_from_an_organizations_page(
    clock: ManualClock,
) -> None:
    """SPEC §7: vendor-wide endpoints through the portal too, for the vendor only."""
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock) as m:
        m.create_organization("acme", name="Acme", actor="setup")
        wide = m.webhooks.add(None, "https://example.com/every", actor="setup")
        with TestClient(create_app(m, tokens=TokenFile.parse(VENDOR_TOKENS))) as client:
            sign_in(client, "carl-0123456789abcdef")  # not the vendor: neither sees nor adds
            page = client.get(BASE).text
            assert "data-vendor-webhooks" not in page
            assert "https://example.com/every" not in page
            assert 'name="everywhere"' not in page
            form = _form(page, BASE + "/new")
            client.post(
                BASE + "/new", data={**form, "url": "https://x.example/h", "everywhere": "1"}
            )
            assert [e.url for e in m.webhooks.list(None)] == ["https://example.com/every"]
            one = f"{BASE}/{wide.endpoint_id}/disable"
            refused = client.post(one, data={"_csrf_token": form["_csrf_token"]})
            assert "This webhook or delivery does not exist." in refused.text  # as unknown
            assert m.webhooks.list(None)[0].enabled is True

        with TestClient(create_app(m, tokens=TokenFile.parse(VENDOR_TOKENS))) as client:
            sign_in(client, "vera-0123456789abcdef")
            page = client.get(BASE).text
            assert "data-vendor-webhooks" in page
            assert "https://example.com/every" in page
            form = _form(page, BASE + "/new")
            added = client.post(
                BASE + "/new", data={**form, "url": "https://y.example/h", "everywhere": "1"}
            )
            assert added.status_code == 200
            assert re.findall(r"<code data-secret>(whsec_[^<]+)</code>", added.text)
            assert sorted(e.url for e in m.webhooks.list(None) if e.org_id is None) == [
                "https://example.com/every",
                "https://y.example/h",
            ]
            assert m.webhooks.list("acme") == []
            listed = client.get(BASE).text
            disabled = client.post(one, data=_form(listed, one))
            assert "Webhook disabled." in disabled.text
            assert {e.url: e.enabled for e in m.webhooks.list(None)}[
                "https://example.com/every"
            ] is False
            french = client.get(BASE, headers={"Accept-Language": "fr"}).text
            assert "Toutes les organisations" in french
