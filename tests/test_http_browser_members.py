"""Members and roles in a real browser (SPEC §8), in English and in French, on SQLite.

An owner signs in with a password, invites a viewer from the members page
and reads the one-time link; the viewer signs in, accepts, and cannot
allocate; the owner promotes her, and then she can. axe-core checks the
new pages (members, invitation, API tokens, sign-in). The browser set-up
is that of ``test_http_browser`` (Chromium at ``/usr/bin/chromium``; the
skip becomes a failure with ``AXIS_LICENSING_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")
pytest.importorskip("playwright", reason="the test extra is not installed")

from argon2 import PasswordHasher
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, expect

from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock, Role
from axis_licensing.members import passwords
from axis_licensing.members.model import Membership
from test_http_browser import (
    AXE_TAGS,
    START,
    LiveServer,
    Shots,
    _new_page,
    browser_fixture,  # noqa: F401 - the fixture ``browser``
)

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "hasher", lambda: cheap)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveServer, Manager]]:
    with (
        Manager.open(
            f"sqlite:///{tmp_path / 'members.db'}",
            catalog=EXAMPLE_CATALOG,
            clock=ManualClock(START),
        ) as m,
        LiveServer(m) as server,
    ):
        # olga is also the vendor: her webhooks page shows the vendor-wide endpoints (SPEC §7)
        m.accounts.create("olga", name="Olga Owner", password=PASSWORD, vendor=True, actor="setup")
        m.accounts.create("vera", name="Vera Viewer", password=PASSWORD, actor="olga")
        m.accounts.create("seller", name="Seller", vendor=True, actor="system")
        m.create_organization("acme", name="Acme", actor="olga")
        m.start_subscription("acme", "acs-pro", actor="olga")
        key = m.vendor.issue_key("acs-pro", quantities={"core": 10}, actor="seller")
        m.redeem_key("acme", key, actor="olga")
        m.webhooks.add(None, "https://hooks.example.com/every", actor="seller")
        yield server, m


def _sign_in(page: Page, url: str, account: str) -> None:
    page.goto(url + "/signin")
    page.locator("#account_id").fill(account)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    expect(page).to_have_url(re.compile(r"/orgs"))


def _axe(page: Page, axe: Axe, found: dict[str, list[str]], name: str) -> None:
    results = axe.run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    violations = results.response["violations"]
    if violations:
        found[name] = [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in violations]


TEXT = {
    "en": {"invite": "Invite", "role": "Change role", "accept": "Accept the invitation"},
    "fr": {"invite": "Inviter", "role": "Changer le rôle", "accept": "Rejoindre l'organisation"},
}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_owner_invites_a_viewer_who_allocates_once_promoted(
    browser: Browser, live: tuple[LiveServer, Manager], lang: str, tmp_path: Path
) -> None:
    server, manager = live
    shots = Shots(tmp_path, "sqlite")
    suffix = "-fr" if lang == "fr" else ""
    words = TEXT[lang]
    locale = "fr-FR" if lang == "fr" else "en-US"
    axe = Axe()
    found: dict[str, list[str]] = {}
    owner = _new_page(browser, locale=locale)
    owner.set_default_timeout(15_000)
    owner.goto(server.url + "/signin")
    _axe(owner, axe, found, "signin")
    _sign_in(owner, server.url, "olga")
    owner.goto(server.url + "/orgs/acme/members")
    invite = owner.locator("form[action$='/members/invite']")
    invite.locator("input[name=account_id]").fill("vera")
    invite.locator("select[name=role]").select_option("viewer")
    invite.get_by_role("button", name=words["invite"], exact=True).click()
    link = owner.locator("#invitation-link").input_value()
    assert "/invitations/" in link
    _axe(owner, axe, found, "members")
    shots.take(owner, "members" + suffix)
    owner.goto(server.url + "/orgs/acme/webhooks")
    expect(owner.locator("h1")).to_have_count(1)
    _axe(owner, axe, found, "webhooks")
    shots.take(owner, "webhooks" + suffix)

    viewer = _new_page(browser, locale=locale)
    viewer.set_default_timeout(15_000)
    _sign_in(viewer, server.url, "vera")
    viewer.goto(link)
    _axe(viewer, axe, found, "accept")
    viewer.get_by_role("button", name=words["accept"]).click()
    expect(viewer).to_have_url(re.compile(r"/orgs/acme/products$"))
    assert Membership("vera", "acme", Role.VIEWER) in manager.members.list("acme")

    licensing = server.url + "/orgs/acme/products/acs-pro/licensing"

    def review_one() -> int:
        viewer.goto(licensing)
        form = viewer.locator("form[data-balance]").first
        form.locator("input[name=q_core]").fill("1")
        with viewer.expect_response(lambda r: "/licensing/review" in r.url) as answer:
            form.locator("button").click()
        return answer.value.status

    assert review_one() == 403  # a viewer may look, but not allocate
    expect(viewer.locator(".confirm")).to_have_count(0)
    assert manager.history("acme", actions=["licenses_allocated"]) == []

    owner.goto(server.url + "/orgs/acme/members")
    row = owner.locator("tr[data-account=vera]")
    row.locator("select[name=role]").select_option("admin")
    row.get_by_role("button", name=words["role"]).click()
    expect(owner.locator("tr[data-account=vera]")).to_contain_text(
        "Administrateur" if lang == "fr" else "Admin"
    )
    assert review_one() == 200
    viewer.locator(".confirm button[type=submit]").first.click()
    expect(viewer.locator("[data-code=permission_denied]")).to_have_count(0)
    assert [a.actor for a in manager.history("acme", actions=["licenses_allocated"])] == ["vera"]

    viewer.goto(server.url + "/account/tokens")
    viewer.locator("form[action$='/tokens/new'] button").click()
    assert viewer.locator("#token-secret").input_value().startswith("axl_")
    _axe(viewer, axe, found, "tokens")
    shots.take(viewer, "tokens" + suffix)
    assert found == {}
    owner.context.close()
    viewer.context.close()
