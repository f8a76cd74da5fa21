"""The portal in a real browser: Debian's Chromium driven by Playwright (SPEC §6).

The service runs with uvicorn on a free loopback port, over SQLite and
PostgreSQL. The tests click what a person clicks, through the manual's
screens, and keep screenshots of the main pages. Set
``AXIS_LICENSING_SCREENSHOTS=docs/screenshots`` to refresh the ones in the docs.

Without Chromium (``/usr/bin/chromium``) they skip with the reason, unless
``AXIS_LICENSING_REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns the skip into a
failure.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")
pytest.importorskip("playwright", reason="the test extra is not installed")

import uvicorn
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, expect, sync_playwright

from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock, offline
from axis_licensing.http import TokenFile, create_app

CHROMIUM = os.environ.get("AXIS_LICENSING_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("AXIS_LICENSING_REQUIRE_BROWSER") == "1"
TOKEN = "portal-0123456789abcdef"
TOKENS = f"""
[[tokens]]
token = "{TOKEN}"
actor = "alice"
organizations = ["*"]
"""
START = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def _require_browser() -> None:
    if os.path.exists(CHROMIUM) or shutil.which(CHROMIUM):
        return
    reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if REQUIRE_BROWSER:
        pytest.fail(f"AXIS_LICENSING_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """The service on a loopback port, in a thread of this process."""

    def __init__(self, manager: Manager) -> None:
        self.port = _free_port()
        app = create_app(manager, tokens=TokenFile.parse(TOKENS))
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", ws="none", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the service did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Browser]:
    """Chromium, launched once per module (``test_http_browser_members`` imports it)."""
    _require_browser()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def live(persistent_url: str, clock: ManualClock) -> Iterator[tuple[LiveServer, Manager]]:
    with (
        Manager.open(persistent_url, catalog=EXAMPLE_CATALOG, clock=clock) as manager,
        LiveServer(manager) as server,
    ):
        yield server, manager


class Shots:
    """Where screenshots go: ``$AXIS_LICENSING_SCREENSHOTS`` or the test's own directory."""

    def __init__(self, tmp_path: Path, store: str) -> None:
        chosen = os.environ.get("AXIS_LICENSING_SCREENSHOTS")
        self.dir = Path(chosen) if chosen and store.startswith("sqlite") else tmp_path
        self.dir.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    def take(self, page: Page, name: str) -> None:
        path = self.dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)


def _new_page(browser: Browser, **context: Any) -> Page:
    ctx = browser.new_context(
        viewport={"width": 1200, "height": 800}, accept_downloads=True, **context
    )
    return ctx.new_page()


def submit(page: Page, button: str, **fields: str) -> None:
    """Fills the form's fields, then clicks ``button``, as a person does.

    A field is named by its label, ``_`` for a space (``Time_zone``), or, in
    lower case, by its input's name where it has no label of its own (``d_core``).
    """
    for field, value in fields.items():
        if field.islower():
            page.locator(f"input[name={field}]").fill(value)
        else:
            page.get_by_label(field.replace("_", " ")).fill(value)
    page.get_by_role("button", name=button).click()


def test_portal_journey_from_sign_in_to_a_license_file(
    browser: Browser,
    live: tuple[LiveServer, Manager],
    clock: ManualClock,
    tmp_path: Path,
    persistent_url: str,
) -> None:
    server, manager = live
    shots = Shots(tmp_path, persistent_url)
    page = _new_page(browser, locale="en-US")
    page.set_default_timeout(15_000)

    # sign in with a token
    page.goto(server.url + "/")
    expect(page).to_have_url(re.compile(r"/signin$"))
    shots.take(page, "signin")
    page.get_by_label("Access token").fill(TOKEN)
    page.locator("form:has(#token) button").click()  # SPEC §8: the password form comes first
    expect(page.get_by_role("heading", name="Organizations")).to_be_visible()

    # create an organization
    shots.take(page, "organizations")
    submit(page, "Create organization", Id="acme", Name="Acme Security", Time_zone="Europe/Paris")
    expect(page.get_by_text("Organization acme created.")).to_be_visible()
    expect(page.locator("#org-switch")).to_have_value("acme")

    # register a system
    page.get_by_role("link", name="Systems").click()
    submit(page, "Register system", System_id="srv-1", d_core="3", d_door="1")
    expect(page.get_by_text("System srv-1 registered.")).to_be_visible()
    expect(page.locator("[data-field=licensed]")).to_have_text("No")

    # start the subscription from the product overview
    page.get_by_role("link", name="Products").click()
    expect(page.locator("tr[data-product=acs-pro] [data-state]")).to_have_text("Not started")
    page.get_by_role("link", name="AXIS Camera Station Pro").click()
    page.get_by_role("button", name="Start subscription").click()
    expect(page.get_by_text("The subscription has started.").first).to_be_visible()
    expect(page.locator(".card [data-state]")).to_have_text("Trial")
    expect(page.locator("[data-field=window_ends_on]")).to_have_text("Apr 8, 2026")
    expect(page.locator("li.alert[data-kind=trial_ending]")).to_contain_text("Apr 8, 2026")
    shots.take(page, "product-overview")
    page.get_by_role("link", name="Products").first.click()
    expect(page.locator("li.alert[data-kind=trial_ending]")).to_be_visible()
    shots.take(page, "products")

    # redeem a key in the product wallet
    clock.advance(days=3)
    key = manager.vendor.issue_key("acs-pro", quantities={"core": 5, "door": 2})
    page.get_by_role("link", name="AXIS Camera Station Pro").click()
    page.get_by_role("link", name="Product wallet").click()
    submit(page, "Redeem license key", License_key=key.lower().replace("-", " "))
    expect(page.get_by_text("licenses added")).to_be_visible()
    lots = page.locator("table.lots tbody tr")
    expect(lots).to_have_count(2)
    expect(lots.nth(0)).to_contain_text("core")
    expect(lots.nth(0)).to_contain_text("Mar 12, 2031")  # the last day of use (SPEC §6.1)
    expect(page.locator("[data-field=subscription]")).to_contain_text("5 core")
    shots.take(page, "wallet")

    # a mistyped key shows the message for its code, not a trace
    submit(page, "Redeem license key", License_key="ABCD-EFGH")
    expect(page.locator(".flash.error[data-code=key_typo]")).to_contain_text("looks mistyped")

    # licensing: the need per year, "Confirm allocation", then "Confirm"
    page.get_by_role("link", name="Product licensing").click()
    expect(page.locator("table.need tr[data-offset='0']")).to_contain_text("3 core")
    expect(page.locator("input[name=q_core]")).to_have_value("3")
    expect(page.locator("input[name=q_door]")).to_have_value("1")
    shots.take(page, "licensing")
    page.get_by_role("button", name="Confirm allocation").first.click()
    expect(page.get_by_role("heading", name="Confirm allocation")).to_be_visible()
    expect(page.locator(".confirm table")).to_contain_text("3 core")
    shots.take(page, "confirm-allocation")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_text("4 licenses allocated.")).to_be_visible()
    page.get_by_role("link", name="Product overview").click()
    expect(page.locator(".card [data-state]")).to_have_text("Licensed")
    assert manager.status("acme", "acs-pro").state.value == "licensed"

    # upload a system file, download its license file
    page.get_by_role("link", name="Systems").click()
    system_file = offline.describe_system(
        system_id="offline-7", product="acs-pro", devices={"core": 1}, now=clock.now()
    )
    upload = tmp_path / "offline-7.axis-system.json"
    upload.write_bytes(system_file)
    page.get_by_label("System description file").set_input_files(str(upload))
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Upload and download the license file").click()
    download = download_info.value
    saved = tmp_path / "license.json"
    download.save_as(saved)
    entitlement = offline.verify_license_file(
        saved.read_bytes(),
        trusted_keys=[manager.public_key],
        system_id="offline-7",
        now=clock.now(),
    )
    assert entitlement.org_id == "acme"
    assert entitlement.licensed is True
    page.reload()
    expect(page.locator("tr[data-system=offline-7]")).to_be_visible()
    shots.take(page, "systems")
    page.get_by_role("link", name="srv-1").click()
    shots.take(page, "system")

    # the history, then filtered in place by htmx
    page.get_by_role("link", name="History").click()
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(6)
    expect(rows.nth(0)).to_have_attribute("data-action", "organization_created")
    expect(rows.nth(5)).to_have_attribute("data-action", "system_file_uploaded")
    shots.take(page, "history")
    page.get_by_label("Action").select_option("key_redeemed")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"action=key_redeemed"))
    expect(rows.nth(0)).to_contain_text("alice")

    # the same pages in French, through the switch
    page.get_by_role("link", name="FR").click()
    expect(page.get_by_role("heading", name="Historique")).to_be_visible()
    expect(rows.nth(0)).to_contain_text("Organisation créée")
    expect(rows.nth(2)).to_contain_text("Abonnement démarré")
    page.get_by_role("link", name="Produits").click()
    page.get_by_role("link", name="AXIS Camera Station Pro").click()
    expect(page.get_by_role("link", name="Vue d'ensemble du produit")).to_be_visible()
    expect(page.locator(".card [data-state]")).to_have_text("Sous licence")
    shots.take(page, "product-overview-fr")
    page.get_by_role("link", name="Licence de produit").click()
    expect(page.get_by_role("button", name="Confirmer l'affectation").first).to_be_visible()

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/signin$"))
    assert len(shots.taken) == 11


def test_portal_speaks_french_to_a_french_browser(
    browser: Browser, live: tuple[LiveServer, Manager]
) -> None:
    server, manager = live
    manager.create_organization("globex", name="Globex", actor="setup")
    page = _new_page(browser, locale="fr-FR")
    page.goto(server.url + "/signin")
    expect(page.get_by_role("heading", name="Se connecter", exact=True)).to_be_visible()
    page.get_by_label("Jeton d'accès").fill("not-a-token-at-all")
    page.locator("form:has(#token) button").click()
    expect(page.locator(".flash.error")).to_have_text("Ce jeton d'accès n'est pas valide.")
    page.get_by_label("Jeton d'accès").fill(TOKEN)
    page.locator("form:has(#token) button").click()
    expect(page.get_by_role("heading", name="Organisations")).to_be_visible()
    page.locator("#org-switch").select_option("globex")
    page.get_by_role("button", name="Ouvrir").click()
    expect(page).to_have_url(re.compile(r"/orgs/globex/products$"))
    expect(page.locator("tr[data-product=acs-pro] [data-state]")).to_have_text("Non démarré")
    page.get_by_role("link", name="AXIS Camera Station Pro").click()
    expect(page.get_by_role("button", name="Démarrer votre abonnement")).to_be_visible()


# -- issue 13: keyboard, focus and accessibility (SPEC §6.1) -------------------------------------

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture
def world(tmp_path: Path, clock: ManualClock) -> Iterator[tuple[LiveServer, Manager]]:
    """The service over SQLite with an organization in use: every page has something to show."""
    with (
        Manager.open(
            f"sqlite:///{tmp_path / 'world.db'}", catalog=EXAMPLE_CATALOG, clock=clock
        ) as m,
        LiveServer(m) as server,
    ):
        m.create_organization("acme", name="Acme", timezone="Europe/Stockholm", actor="alice")
        m.create_organization("globex", name="Globex", actor="alice")
        m.register_system("acme", "acs-pro", "srv-1", devices={"core": 3, "door": 1}, actor="alice")
        m.start_subscription("acme", "acs-pro", actor="alice")
        m.redeem_key(
            "acme", m.vendor.issue_key("acs-pro", quantities={"core": 1, "door": 2}), actor="alice"
        )
        m.vendor.ship_hardware("SN-1", "acs-pro", {"core": 1})
        m.register_hardware("acme", "srv-1", "SN-1", actor="alice")
        yield server, m


def _sign_in(page: Page, url: str) -> None:
    page.goto(url + "/signin")
    page.locator("#token").fill(TOKEN)
    page.locator("#token").press("Enter")
    expect(page).to_have_url(re.compile(r"/orgs"))


def test_i13_item15_keyboard_skip_link_focus_after_swap_and_explicit_switch(
    browser: Browser, world: tuple[LiveServer, Manager]
) -> None:
    server, _ = world
    page = _new_page(browser, locale="en-US")
    page.set_default_timeout(15_000)
    _sign_in(page, server.url)
    page.goto(server.url + "/orgs/acme/products/acs-pro/licensing")

    # the first Tab reaches the skip link; Enter moves focus to the main content
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # the wallet cannot cover the need: "Confirm allocation" is disabled, with its reason
    quantities = page.locator("form[data-balance]").first
    button = quantities.get_by_role("button", name="Confirm allocation")
    expect(button).to_be_disabled()
    expect(quantities.locator("[data-reason]")).to_be_visible()
    quantities.locator("input[name=q_core]").fill("1")
    expect(button).to_be_enabled()
    expect(quantities.locator("[data-reason]")).to_be_hidden()

    # after htmx brings the confirmation step, focus is on it, and Tab stays inside it
    button.focus()
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name="Confirm allocation")
    expect(heading).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Confirm", exact=True)).to_be_focused()

    # the organization switch: ArrowDown changes the choice, never the page
    switch = page.locator("#org-switch")
    switch.focus()
    expect(switch).to_have_value("acme")
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(300)
    expect(page).to_have_url(re.compile(r"/orgs/acme/products/acs-pro/licensing(#main)?$"))
    switch.select_option("globex")
    page.wait_for_timeout(300)
    expect(page).to_have_url(re.compile(r"/orgs/acme/"))
    switch.press("Enter")
    expect(page).to_have_url(re.compile(r"/orgs/globex/products$"))
    page.context.close()


def _pages(org: str) -> list[tuple[str, str]]:
    o = f"/orgs/{org}"
    return [
        ("organizations", "/orgs"),
        ("products", f"{o}/products"),
        ("product-overview", f"{o}/products/acs-pro"),
        ("wallet", f"{o}/products/acs-pro/wallet"),
        ("licensing", f"{o}/products/acs-pro/licensing"),
        ("systems", f"{o}/systems"),
        ("system", f"{o}/systems/srv-1"),
        ("history", f"{o}/history"),
        ("error", f"{o}/systems/nope"),
    ]


def test_i13_accessibility_axe_finds_no_violation_on_any_page_in_either_language(
    browser: Browser, world: tuple[LiveServer, Manager], tmp_path: Path
) -> None:
    server, _ = world
    shots = Shots(tmp_path, "sqlite")
    axe = Axe()
    found: dict[str, list[str]] = {}
    checked = 0
    for lang in ("en", "fr"):
        page = _new_page(browser, locale="fr-FR" if lang == "fr" else "en-US")
        page.set_default_timeout(15_000)
        suffix = "-fr" if lang == "fr" else ""
        page.goto(server.url + "/signin")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        visits = [("signin", None)]
        for name, path in visits + _pages("acme") + [("confirm-allocation", None)]:
            if name == "organizations":
                page.locator("#token").fill(TOKEN)
                page.locator("#token").press("Enter")
                expect(page).to_have_url(re.compile(r"/orgs"))
            if path is not None:
                page.goto(server.url + path)
            if name == "confirm-allocation":
                page.goto(server.url + "/orgs/acme/products/acs-pro/licensing")
                page.locator("form[data-balance] input[name=q_core]").first.fill("1")
                page.locator("form[data-balance] button").first.click()
                expect(page.locator(".confirm h2")).to_be_focused()
            expect(page.locator("html")).to_have_attribute("lang", lang)
            results = axe.run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
            checked += 1
            violations = results.response["violations"]
            if violations:
                found[f"{lang} {name}"] = [
                    f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in violations
                ]
            shots.take(page, name + suffix)
        page.context.close()
    assert found == {}
    assert checked == 2 * 11
