"""The portal through the test client: sessions, CSRF, languages and error pages (SPEC §6).

The browser tests walk the journey; these pin the rules underneath it on
every backend: a form without its CSRF token changes nothing, a token of
another organization sees nothing of it, errors show the text of their
code, and the gettext catalogs are complete and compiled.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from litestar import Litestar
from litestar.testing import TestClient

from axis_licensing import LicenseKind, Manager, ManualClock, errors, offline
from axis_licensing.http import TokenFile, _i18n, create_app
from axis_licensing.model import Action
from events_support import license_nord_every_way, start_nord, walk_a_webhook
from http_support import snapshot

HTTP = Path(__file__).resolve().parent.parent / "src" / "axis_licensing" / "http"
TOKENS = """
[[tokens]]
token = "alice-0123456789abcdef"
actor = "alice"
organizations = ["*"]

[[tokens]]
token = "bob-0123456789abcdef"
actor = "bob"
organizations = ["globex"]
"""


@pytest.fixture
def client(manager: Manager) -> Iterator[TestClient[Litestar]]:
    manager.create_organization("acme", name="Acme", actor="setup")
    manager.create_organization("globex", name="Globex", actor="setup")
    with TestClient(create_app(manager, tokens=TokenFile.parse(TOKENS))) as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient[Litestar], token: str = "alice-0123456789abcdef") -> str:
    csrf = csrf_of(client.get("/signin").text)
    r = client.post("/signin", data={"token": token, "_csrf_token": csrf})
    assert r.status_code == 200
    return csrf


def sign_in_and_start(client: TestClient[Litestar]) -> str:
    """Sign in and start Acme's subscription from its product page; the CSRF token."""
    csrf = sign_in(client)
    client.post("/orgs/acme/products/acs-pro/start", data={"_csrf_token": csrf})
    return csrf


def start_acme(manager: Manager, wallet: dict[str, int] | None = None) -> None:
    """Acme's system ``srv-1`` (3 core, 1 door), its subscription, a key of ``wallet`` redeemed."""
    manager.register_system("acme", "acs-pro", "srv-1", devices={"core": 3, "door": 1}, actor="x")
    manager.start_subscription("acme", "acs-pro", actor="x")
    if wallet:
        manager.redeem_key(
            "acme", manager.vendor.issue_key("acs-pro", quantities=wallet), actor="x"
        )


def test_portal_pages_need_a_session(client: TestClient[Litestar]) -> None:
    for path in ("/", "/orgs", "/orgs/acme/products", "/orgs/acme/history"):
        r = client.get(path)
        assert r.url.path == "/signin", path
    r = client.get("/signin")
    assert "Access token" in r.text


def test_portal_refuses_a_form_without_its_csrf_token(
    client: TestClient[Litestar], manager: Manager
) -> None:
    sign_in(client)
    before = snapshot(manager)
    r = client.post("/orgs/acme/products/acs-pro/start", data={})
    assert r.status_code == 403
    assert "Traceback" not in r.text
    r = client.post("/orgs/acme/products/acs-pro/start", data={"_csrf_token": "forged"})
    assert r.status_code == 403
    assert snapshot(manager) == before


def test_r1_portal_token_for_another_organization_sees_nothing_of_it(
    client: TestClient[Litestar], manager: Manager
) -> None:
    csrf = sign_in(client, "bob-0123456789abcdef")
    r = client.get("/orgs")
    assert "Globex" in r.text
    assert "Acme" not in r.text
    for path in ("/orgs/acme/products", "/orgs/acme/history", "/orgs/nowhere/products"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert 'data-code="permission_denied"' in r.text
        assert "Acme" not in r.text
    before = snapshot(manager)
    r = client.post("/orgs/acme/products/acs-pro/start", data={"_csrf_token": csrf})
    assert r.status_code == 403
    assert snapshot(manager) == before


def test_portal_language_from_accept_language_and_from_the_switch(
    client: TestClient[Litestar],
) -> None:
    r = client.get("/signin", headers={"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
    assert '<html lang="fr">' in r.text
    assert "Jeton d'accès" in r.text
    r = client.get("/signin", headers={"Accept-Language": "de, en;q=0.2"})
    assert '<html lang="en">' in r.text
    r = client.get("/lang/fr?next=/signin")
    assert r.url.path == "/signin"
    assert "Se connecter" in r.text
    r = client.get("/lang/fr?next=https://evil.example/")
    assert r.url.path == "/signin"


def test_portal_error_shows_the_text_of_its_code(
    client: TestClient[Litestar], manager: Manager
) -> None:
    csrf = sign_in_and_start(client)
    r = client.post(
        "/orgs/acme/products/acs-pro/licensing/allocate",
        data={"_csrf_token": csrf, "mode": "quantities", "period": "0", "q_core": "7"},
    )
    assert r.url.path == "/orgs/acme/products/acs-pro/licensing"
    assert 'data-code="insufficient_licenses"' in r.text
    assert "The wallet does not hold enough licenses for this." in r.text
    assert "7 core" in r.text
    client.get("/lang/fr?next=/")
    r = client.post(
        "/orgs/acme/products/acs-pro/licensing/allocate",
        data={"_csrf_token": csrf, "mode": "quantities", "period": "0", "q_core": "x"},
    )
    assert "Certaines valeurs saisies ne sont pas valides." in r.text
    r = client.get("/orgs/acme/systems/nope")
    assert r.status_code == 404
    assert "Le système nope n'est pas enregistré dans l'organisation." in r.text


def test_portal_licensing_says_when_the_wallet_lacks_licenses(
    client: TestClient[Litestar], manager: Manager
) -> None:
    start_acme(manager, wallet={"core": 1, "door": 4})
    sign_in(client)
    page = client.get("/orgs/acme/products/acs-pro/licensing").text
    warning = page.split('data-field="wallet_short">', 1)[1].split("</p>", 1)[0]
    assert '<span class="count">2 core</span>' in warning
    assert "door" not in warning


def test_portal_allocation_step_error_under_htmx_reloads_the_whole_page(
    client: TestClient[Litestar],
) -> None:
    csrf = sign_in_and_start(client)
    r = client.post(
        "/orgs/acme/products/acs-pro/licensing/review",
        data={"_csrf_token": csrf, "mode": "quantities", "period": "0", "q_core": "0"},
        headers={"HX-Request": "true"},
    )
    assert r.headers["hx-redirect"] == "/orgs/acme/products/acs-pro/licensing"
    page = client.get("/orgs/acme/products/acs-pro/licensing").text
    assert 'data-code="invalid_input"' in page
    r = client.post(
        "/orgs/acme/products/acs-pro/licensing/review",
        data={"_csrf_token": csrf, "mode": "quantities", "period": "1", "q_core": "2"},
        headers={"HX-Request": "true"},
    )
    assert "Confirm allocation" in r.text
    assert 'name="q_core" value="2"' in r.text
    assert 'name="period" value="1"' in r.text


def test_portal_history_pages_and_htmx_swaps_only_the_table(
    client: TestClient[Litestar], manager: Manager
) -> None:
    for n in range(25):
        manager.register_system("acme", "acs-pro", f"srv-{n:02}", devices={}, actor="setup")
    sign_in(client)
    r = client.get("/orgs/acme/history")
    assert r.text.count("<tr data-action=") == 20
    assert "offset=20" in r.text
    r = client.get(
        "/orgs/acme/history?offset=20", headers={"HX-Request": "true", "HX-Target": "history"}
    )
    assert r.text.lstrip().startswith('<div id="history">')
    assert r.text.count("<tr data-action=") == 6
    assert "offset=0" in r.text
    r = client.get("/orgs/acme/history?action=organization_created")
    assert r.text.count("<tr data-action=") == 1


def test_portal_and_api_docs_work_offline(client: TestClient[Litestar]) -> None:
    for path in ("/signin", "/docs"):
        html = client.get(path).text
        assert "http://" not in html
        assert "https://" not in html, path
    assert "/static/redoc.standalone.js" in client.get("/docs").text
    r = client.get("/static/htmx.min.js")
    assert r.status_code == 200
    assert r.text.startswith("var htmx=")


def test_every_error_code_has_a_text_in_the_portal() -> None:
    macros = (HTTP / "templates" / "_macros.html").read_text(encoding="utf-8")
    classes = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.LicensingError)
    ]
    assert len(classes) > 25
    assert [cls.code for cls in classes if f'"{cls.code}"' not in macros] == []


def test_catalogs_hold_every_message_translated_and_compiled() -> None:
    found = {
        item[2]
        for item in extract_from_dir(
            str(HTTP),
            method_map=[("**.py", "python"), ("templates/**.html", "jinja2")],
            options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
            keywords={"_": None, "gettext": None, "ngettext": (1, 2), "_flash": (3,), "N_": None},
        )
        if isinstance(item[2], str)
    }
    assert len(found) > 150
    for lang in _i18n.LANGUAGES:
        folder = HTTP / "locales" / lang / "LC_MESSAGES"
        with (folder / "messages.po").open("rb") as f:
            po = read_po(f)
        with (folder / "messages.mo").open("rb") as f:
            mo = read_mo(f)
        ids = {m.id for m in po if m.id}
        assert found <= ids, (lang, sorted(found - ids))
        if lang == "fr":
            untranslated = sorted(m.id for m in po if m.id and not m.string)
            assert untranslated == []
        compiled = {m.id: m.string for m in mo if m.id}
        assert compiled == {m.id: m.string for m in po if m.id and m.string}, lang
    fr = gettext.translation("messages", localedir=HTTP / "locales", languages=["fr"])
    assert fr.gettext("Confirm allocation") == "Confirmer l'affectation"


# -- issue 13: the portal's edges (SPEC §6.1) ------------------------------------------------------


class _Forms(HTMLParser):
    """The hidden fields of each form of a page, by the form's action."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        seen = dict(attrs)
        if tag == "form":
            self._current = self.forms.setdefault(seen.get("action") or "", {})
        elif tag == "input" and self._current is not None and seen.get("type") == "hidden":
            self._current[seen.get("name") or ""] = seen.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def hidden_fields(html: str, action: str) -> dict[str, str]:
    """The hidden fields (CSRF token, request id, …) of the form posting to ``action``."""
    parser = _Forms()
    parser.feed(html)
    assert action in parser.forms, sorted(parser.forms)
    return parser.forms[action]


def count(manager: Manager, action: str) -> int:
    return len(manager.history("acme", actions=[action]))


def test_i13_item8_a_cookie_copied_before_sign_out_stops_working(
    client: TestClient[Litestar], manager: Manager
) -> None:
    csrf = sign_in(client)
    copied = client.cookies.get("axis_session")
    assert copied is not None
    assert len(copied) == 64  # a random id: the session itself stays on the server
    client.cookies.delete("axis_session")
    client.cookies.set("axis_session", copied)
    assert client.get("/orgs").url.path == "/orgs"  # the copy works while signed in
    r = client.post("/signout", data={"_csrf_token": csrf})
    assert r.url.path == "/signin"
    client.cookies.delete("axis_session")
    client.cookies.set("axis_session", copied)
    r = client.get("/orgs")
    assert r.url.path == "/signin"
    assert "Access token" in r.text
    r = client.get("/orgs/acme/products", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (302, "/signin")


def test_i13_item8_sign_in_takes_a_new_session_id(client: TestClient[Litestar]) -> None:
    client.get("/lang/fr?next=/signin")
    before = client.cookies.get("axis_session")
    assert before is not None
    sign_in(client)
    after = client.cookies.get("axis_session")
    assert after is not None
    assert after != before
    client.cookies.delete("axis_session")
    client.cookies.set("axis_session", before)
    assert client.get("/orgs").url.path == "/signin"


def test_i13_item8_sessions_in_a_directory_are_shared_by_two_apps(
    manager: Manager, tmp_path: Path
) -> None:
    manager.create_organization("acme", name="Acme", actor="setup")
    folder = tmp_path / "sessions"
    first = create_app(manager, tokens=TokenFile.parse(TOKENS), session_store=folder)
    second = create_app(manager, tokens=TokenFile.parse(TOKENS), session_store=str(folder))
    with TestClient(first) as a, TestClient(second) as b:
        csrf = sign_in(a)
        b.cookies.set("axis_session", a.cookies["axis_session"])
        assert b.get("/orgs").url.path == "/orgs"
        a.post("/signout", data={"_csrf_token": csrf})
        assert b.get("/orgs").url.path == "/signin"


def _walk(client: TestClient[Litestar], manager: Manager) -> list[tuple[str, Any]]:
    """Every kind of portal page once (signed in, with data): (what, response)."""
    start_acme(manager)
    csrf = sign_in(client)
    pages: list[tuple[str, Any]] = [
        (path, client.get(path))
        for path in (
            "/orgs",
            "/orgs/acme/products",
            "/orgs/acme/products/acs-pro",
            "/orgs/acme/products/acs-pro/wallet",
            "/orgs/acme/products/acs-pro/licensing",
            "/orgs/acme/systems",
            "/orgs/acme/systems/srv-1",
            "/orgs/acme/history",
            "/orgs/acme/systems/nope",
        )
    ]
    review = client.post(
        "/orgs/acme/products/acs-pro/licensing/review",
        data={"_csrf_token": csrf, "mode": "quantities", "period": "0", "q_core": "1"},
    )
    pages.append(("confirm", review))
    return pages


def test_i13_item9_every_portal_response_sends_the_security_headers(
    client: TestClient[Litestar], manager: Manager
) -> None:
    signin = client.get("/signin")
    pages = [("/signin", signin), *_walk(client, manager)]
    for what, r in pages:
        assert r.status_code in (200, 404), what
        csp = r.headers["content-security-policy"]
        assert "script-src 'self';" in csp, what
        assert "frame-ancestors 'none'" in csp, what
        assert "unsafe-inline" not in csp, what
        assert r.headers["x-frame-options"] == "DENY", what
        assert r.headers["x-content-type-options"] == "nosniff", what
        assert r.headers["referrer-policy"] == "same-origin", what
        assert r.headers["cache-control"] == "no-store", what
        assert "<script>" not in r.text, what
        assert re.search(r"<script(?![^>]*\bsrc=)", r.text) is None, what
        assert re.search(r"\son[a-z]+=", r.text) is None, what
        assert re.search(r"\sstyle=", r.text) is None, what
    redirect = client.get("/orgs/acme/products", follow_redirects=False)
    assert redirect.headers["x-frame-options"] == "DENY"
    assert client.get("/docs").headers["x-frame-options"] == "DENY"
    static = client.get("/static/style.css")
    assert static.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in static.headers.get("cache-control", "")


def test_i13_item17_head_answers_like_get_and_the_favicon_answers(
    client: TestClient[Litestar],
) -> None:
    sign_in(client)
    for path in ("/signin", "/orgs", "/orgs/acme/products", "/orgs/acme/history"):
        got = client.get(path)
        head = client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers["content-security-policy"] == got.headers["content-security-policy"]
    missing = client.head("/orgs/nowhere/products")
    assert missing.status_code == client.get("/orgs/nowhere/products").status_code == 404
    assert missing.content == b""
    assert client.get("/favicon.ico").status_code == 204
    assert client.head("/favicon.ico").status_code == 204


def test_i13_item10_confirm_twice_allocates_once(
    client: TestClient[Litestar], manager: Manager
) -> None:
    manager.register_system("acme", "acs-pro", "srv-1", devices={"core": 3}, actor="x")
    manager.start_subscription("acme", "acs-pro", actor="x")
    manager.redeem_key(
        "acme", manager.vendor.issue_key("acs-pro", quantities={"core": 10}), actor="x"
    )
    csrf = sign_in(client)
    base = "/orgs/acme/products/acs-pro/licensing"
    review = client.post(
        base + "/review",
        data={"_csrf_token": csrf, "mode": "quantities", "period": "0", "q_core": "3"},
    )
    form = hidden_fields(review.text, base + "/allocate")
    assert len(form["request_id"]) == 22
    for _ in range(2):
        r = client.post(base + "/allocate", data=form)
        assert r.url.path == base
        assert "3 licenses allocated." in r.text
    assert count(manager, "licenses_allocated") == 1
    assert manager.wallet("acme", "acs-pro").balance(LicenseKind.SUBSCRIPTION) == {"core": 7}
    again = client.post(
        base + "/review",
        data={"_csrf_token": csrf, "mode": "quantities", "period": "0", "q_core": "3"},
    )
    assert hidden_fields(again.text, base + "/allocate")["request_id"] != form["request_id"]


def test_i13_item10_redeem_start_register_upload_extension_apply_once(
    client: TestClient[Litestar], manager: Manager, clock: ManualClock
) -> None:
    sign_in(client)
    # start subscription
    page = client.get("/orgs/acme/products/acs-pro").text
    form = hidden_fields(page, "/orgs/acme/products/acs-pro/start")
    for _ in range(2):
        r = client.post("/orgs/acme/products/acs-pro/start", data=form)
        assert "Subscription started." in r.text
        assert "data-code" not in r.text
    assert count(manager, "subscription_started") == 1
    # redeem a key
    key = manager.vendor.issue_key("acs-pro", quantities={"core": 2})
    page = client.get("/orgs/acme/products/acs-pro/wallet").text
    form = hidden_fields(page, "/orgs/acme/products/acs-pro/wallet/redeem") | {"key": key}
    for _ in range(2):
        r = client.post("/orgs/acme/products/acs-pro/wallet/redeem", data=form)
        assert "2 licenses added." in r.text
        assert "data-code" not in r.text
    assert count(manager, "key_redeemed") == 1
    # register a system
    page = client.get("/orgs/acme/systems").text
    form = hidden_fields(page, "/orgs/acme/systems/new")
    form |= {"system_id": "srv-1", "product": "acs-pro", "d_core": "1"}
    for _ in range(2):
        r = client.post("/orgs/acme/systems/new", data=form)
        assert r.url.path == "/orgs/acme/systems/srv-1"
        assert "data-code" not in r.text
    assert count(manager, "system_registered") == 1
    # upload a system file
    upload = offline.describe_system(
        system_id="off-1", product="acs-pro", devices={"core": 1}, now=clock.now()
    )
    form = hidden_fields(page, "/orgs/acme/system-files")
    answers = [
        client.post(
            "/orgs/acme/system-files",
            data=form,
            files={"file": ("off-1.json", upload, "application/json")},
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].content == answers[1].content
    assert count(manager, "system_file_uploaded") == 1
    # extension licenses to hardware
    manager.vendor.ship_hardware("hw-1", "acs-pro")
    manager.register_hardware("acme", "srv-1", "hw-1", actor="x")
    manager.redeem_key(
        "acme",
        manager.vendor.issue_key("acs-pro", LicenseKind.HARDWARE, quantities={"core": 4}),
        actor="x",
    )
    page = client.get("/orgs/acme/systems/srv-1").text
    form = hidden_fields(page, "/orgs/acme/systems/srv-1/extension")
    form |= {"serial": "hw-1", "q_core": "1"}
    for _ in range(2):
        r = client.post("/orgs/acme/systems/srv-1/extension", data=form)
        assert "Extension licenses allocated to hw-1." in r.text
        assert "data-code" not in r.text
    assert count(manager, "extension_allocated") == 1
    assert manager.wallet("acme", "acs-pro").balance(LicenseKind.HARDWARE) == {"core": 3}


def test_i13_item11_instants_in_the_organizations_zone_with_the_zone_named(
    client: TestClient[Litestar], manager: Manager
) -> None:
    manager.create_organization("nord", name="Nord", timezone="Europe/Stockholm", actor="setup")
    sign_in(client)
    row = client.get("/orgs/nord/history").text.split("<tbody>", 1)[1]
    assert (
        '<time datetime="2026-01-01T12:00:00+00:00">'
        "Jan 1, 2026 1:00\u202fPM (Europe/Stockholm)</time>" in row
    )
    client.get("/lang/fr?next=/")
    row = client.get("/orgs/nord/history").text.split("<tbody>", 1)[1]
    assert ">1 janv. 2026 13:00 (Europe/Stockholm)</time>" in row
    row = client.get("/orgs/acme/history").text.split("<tbody>", 1)[1]
    assert ">1 janv. 2026 12:00 (UTC)</time>" in row


def test_i13_item12_every_end_is_shown_as_its_last_day(
    client: TestClient[Litestar], manager: Manager
) -> None:
    manager.register_system("acme", "acs-pro", "srv-1", devices={"core": 3}, actor="x")
    manager.start_subscription("acme", "acs-pro", actor="x")
    assert manager.status("acme", "acs-pro").window_ends_on == date(2026, 1, 31)  # exclusive
    manager.redeem_key(
        "acme", manager.vendor.issue_key("acs-pro", quantities={"core": 1}), actor="x"
    )
    sign_in(client)
    page = client.get("/orgs/acme/products/acs-pro").text
    assert '<dd data-field="window_ends_on">Jan 30, 2026</dd>' in page
    assert '<dd data-field="period">Jan 1, 2026 – Dec 31, 2026</dd>' in page
    assert "Last day of the trial: Jan 30, 2026. Allocate licenses by then." in page
    products = client.get("/orgs/acme/products").text
    assert "Last day of the trial: Jan 30, 2026." in products
    assert "<td>Jan 30, 2026</td>" in products
    wallet = client.get("/orgs/acme/products/acs-pro/wallet").text
    assert '<td data-field="last_day">Dec 31, 2030</td>' in wallet
    licensing = client.get("/orgs/acme/products/acs-pro/licensing").text
    assert "Jan 1, 2026 – Dec 31, 2026" in licensing
    assert "Jan 1, 2027 – Dec 31, 2027" in licensing
    assert "Jan 1, 2027</" not in licensing.replace("Jan 1, 2027 –", "")
    history = client.get("/orgs/acme/history").text
    assert "Last day of the trial:</span> Jan 30, 2026" in history
    assert "Subscription year:</span> Jan 1, 2026 – Dec 31, 2026" in history
    assert "Last day of use:</span> Dec 31, 2030" in history
    manager.redeem_key(
        "acme", manager.vendor.issue_key("acs-pro", quantities={"core": 2}), actor="x"
    )
    manager.allocate("acme", "acs-pro", {"core": 3}, actor="x")
    page = client.get("/orgs/acme/products/acs-pro").text
    assert "<dt>Last day licensed</dt>" in page
    assert '<dd data-field="licensed_through">Dec 31, 2026</dd>' in page


def test_i13_item16_confirm_allocation_is_disabled_when_the_wallet_cannot_cover_it(
    client: TestClient[Litestar], manager: Manager
) -> None:
    start_acme(manager, wallet={"core": 2, "door": 5})
    csrf = sign_in(client)
    base = "/orgs/acme/products/acs-pro/licensing"
    page = client.get(base).text
    reason = "The wallet cannot cover this allocation: redeem a license key first."
    assert page.count(" disabled>Confirm allocation</button>") == 2
    assert page.count(f"data-reason>{reason}</p>") == 2  # shown, not hidden
    assert 'data-balance="{&#34;core&#34;: 2, &#34;door&#34;: 5}"' in page
    assert '<option value="0" data-covered="false">' in page
    review = client.post(
        base + "/review",
        data={"_csrf_token": csrf, "mode": "quantities", "period": "0", "q_core": "3"},
    ).text
    assert 'disabled aria-describedby="confirm-reason">Confirm</button>' in review
    assert "The wallet cannot cover this allocation." in review
    assert '<span class="count">1 core</span>' in review.split('id="confirm-reason"', 1)[1]
    review = client.post(
        base + "/review",
        data={"_csrf_token": csrf, "mode": "quantities", "period": "0", "q_core": "2"},
    ).text
    assert 'class="primary">Confirm</button>' in review
    assert "confirm-reason" not in review
    manager.redeem_key(
        "acme", manager.vendor.issue_key("acs-pro", quantities={"core": 1}), actor="x"
    )
    page = client.get(base).text
    assert page.count(" disabled>Confirm allocation</button>") == 0
    assert page.count(f"data-reason hidden>{reason}</p>") == 2
    assert '<option value="0" data-covered="true">' in page


SRC = HTTP.parent
_RAISED = re.compile(r"raise\s+[\w.]+\(\s*((?:f?\"[^\"]*\"\s*)+)")
#: Words of the library's own (English) messages that are French words too, or names.
_SHARED = {
    "date",
    "type",
    "types",
    "total",
    "minute",
    "format",
    "code",
    "version",
    "page",
    "base",
    "instant",
    "action",
    "actions",
    "compensation",
    "lots",
    "allocation",
    "axis",
}


def library_english_words() -> set[str]:
    """Every word of four letters or more in the messages the library raises (not its values)."""
    words: set[str] = set()
    for path in SRC.rglob("*.py"):
        if "http" in path.parts or path.name == "cli.py":
            continue
        for literal in _RAISED.findall(path.read_text(encoding="utf-8")):
            text = re.sub(r"\{[^}]*\}", " ", literal)
            words |= {w.lower() for w in re.findall(r"[A-Za-z]{4,}", text)}
    return words - _SHARED


class _Text(HTMLParser):
    """A page's visible text nodes and its readable attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("title", "aria-label", "placeholder", "alt") and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(data)


def french_faults(html: str, english: set[str]) -> list[str]:
    """What on a French page is English, a raw key, or against French typography."""
    parser = _Text()
    parser.feed(html)
    faults: list[str] = []
    for text in parser.texts:
        text = text.replace("axis-licensing", "")  # the project's name
        text = re.sub(r"https?://\S+", "", text)  # a webhook's URL is data, not prose (§7)
        for word in re.findall(r"[A-Za-zÀ-ÿ]{4,}", text):
            if word.lower() in english:
                faults.append(f"English word {word!r} in {text.strip()!r}")
        for key in re.findall(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b", text):
            faults.append(f"raw key {key!r} in {text.strip()!r}")
        if re.search(r"(?<![\u00a0\u202f\d]):|(?<=\d):(?!\d)", text):
            faults.append(f"':' without a non-breaking space in {text.strip()!r}")
        if re.search(r"(?<![\u00a0\u202f])[;?!]", text):
            faults.append(f"';', '?' or '!' without a non-breaking space in {text.strip()!r}")
        if re.search(r"«(?![\u00a0\u202f])|(?<![\u00a0\u202f])»", text):
            faults.append(f"« » without non-breaking spaces in {text.strip()!r}")
    return faults


def test_i13_item13_the_checker_catches_english_keys_and_typography() -> None:
    english = library_english_words()
    assert {"wallet", "subscription", "already", "registered", "unknown"} <= english
    assert french_faults("<p>Appareils\u00a0: 3 core</p><p>10:29</p>", english) == []
    assert len(french_faults("<p>Appareils : 3</p>", english)) == 1
    assert len(french_faults("<p>Clé <b>lot_id</b></p>", english)) == 1
    assert len(french_faults("<p>the wallet is short</p>", english)) == 1
    assert (
        french_faults("<script>a: b</script><p title='Heure\u00a0: 10:29'>Vrai\u202f!</p>", english)
        == []
    )


def test_i13_item13_every_page_in_french_speaks_french(
    client: TestClient[Litestar], manager: Manager, clock: ManualClock
) -> None:
    m = manager
    start_nord(m)
    key = license_nord_every_way(m, clock)
    # events out (SPEC §7): the sweep's alerts and the webhook commands are activities too
    m.sweep()  # alert_raised: the trial ends
    walk_a_webhook(m, enabled=False)
    clock.set(datetime(2031, 1, 3, 12, 0, tzinfo=UTC))
    m.register_system("nord", "acs-pro", "srv-2", devices={"core": 1}, actor="alice")  # + expiry
    m.sweep()  # alert_cleared
    # members and tokens (SPEC §8): alice, seeded as the owner, invites bob, and so on
    m.accounts.create("alice", name="Alice", actor="alice")
    m.accounts.create("bob", name="Bob", actor="alice")
    m.members.add_creator("nord", "alice")
    m.members.accept(
        m.members.invite("nord", "bob", role="viewer", actor="alice").token, account_id="bob"
    )
    m.members.set_role("nord", "bob", "admin", actor="alice")
    issued = m.tokens.create("bob", actor="bob")
    m.tokens.revoke(issued.info.token_id, actor="bob")
    m.members.remove("nord", "bob", actor="alice")
    actions = {a.action for a in m.history("nord", limit=500)}
    assert actions == {a.value for a in Action}

    english = library_english_words()
    csrf = sign_in(client)
    client.get("/lang/fr?next=/")
    pages: dict[str, str] = {}
    o = "/orgs/nord"
    for path in (
        "/orgs",
        f"{o}/products",
        f"{o}/products/acs-pro",
        f"{o}/products/acs-pro/wallet",
        f"{o}/products/acs-pro/licensing",
        f"{o}/systems",
        f"{o}/systems/srv-1",
        f"{o}/history",
        f"{o}/history?offset=20",
        f"{o}/systems/nope",
        f"{o}/products/nope",
        "/orgs/nowhere/products",
        "/nothing-here",
        f"{o}/history?since=yesterday",
    ):
        pages[path] = client.get(path).text
    rid = {"_csrf_token": csrf}
    posts: list[tuple[str, dict[str, str], str]] = [
        (
            f"{o}/products/acs-pro/licensing/review",
            {"mode": "quantities", "period": "0", "q_core": "1"},
            "",
        ),
        (f"{o}/products/acs-pro/wallet/redeem", {"key": "ABCD-EFGH"}, "key_typo"),
        (f"{o}/products/acs-pro/wallet/redeem", {"key": key}, "key_already_redeemed"),
        (
            f"{o}/products/acs-pro/licensing/allocate",
            {"mode": "quantities", "period": "0", "q_core": "900"},
            "insufficient_licenses",
        ),
        (
            f"{o}/products/acs-pro/licensing/allocate",
            {"mode": "quantities", "period": "0", "q_core": "x"},
            "invalid_input",
        ),
        (
            f"{o}/products/acs-pro/licensing/allocate",
            {"mode": "quantities", "period": "9", "q_core": "1"},
            "outside_allocation_window",
        ),
        (f"{o}/products/acs-pro/start", {}, "already_started"),
        (f"{o}/systems/new", {"system_id": "srv-1", "product": "acs-pro"}, "already_registered"),
        ("/orgs/new", {"org_id": "nord", "name": "Nord"}, "already_exists"),
        (f"{o}/systems/srv-1/hardware", {"serial": "SN-404"}, "unknown_hardware"),
        (
            f"{o}/systems/srv-1/extension",
            {"serial": "SN-1", "q_core": "50"},
            "insufficient_licenses",
        ),
    ]
    for path, form, code in posts:
        r = client.post(path, data=rid | form)
        assert f'data-code="{code}"' in r.text or not code, (path, code)
        pages[f"POST {path} {code}"] = r.text
    r = client.post(
        f"{o}/system-files", data=rid, files={"file": ("x.json", b"{]", "application/json")}
    )
    pages["upload malformed"] = r.text
    shown = {code for page in pages.values() for code in re.findall(r'data-code="(\w+)"', page)}
    assert shown >= {
        "key_typo",
        "key_already_redeemed",
        "insufficient_licenses",
        "invalid_input",
        "outside_allocation_window",
        "already_started",
        "already_registered",
        "already_exists",
        "unknown_hardware",
        "malformed_system_file",
        "unknown_system",
        "unknown_product",
        # with accounts (SPEC §8), an organization one is not a member of, existing or not,
        # reads the same: not allowed
        "permission_denied",
        "not_found",
    }
    assert [what for what, html in pages.items() if '<html lang="fr">' not in html] == []
    faults = {what: french_faults(html, english) for what, html in pages.items()}
    found = sorted({f for page in faults.values() for f in page})
    assert found == []


def test_i13_item13_every_error_code_reads_in_french_without_english() -> None:
    from axis_licensing.http import _portal

    english = library_english_words()
    _i18n.using("fr")
    template = _portal._ENV.from_string(
        '{% import "_macros.html" as m with context %}<main>{{ m.error_box(error) }}</main>'
    )
    samples = {
        "system_id": "srv-1",
        "serial": "SN-1",
        "product": "acs-pro",
        "param": "quantities",
        "shortfall": {"core": 2},
        "kind": "subscription",
        "period": 9,
        "starts_on": "2031-01-01",
        "org_id": "nord",
        "key_tail": "ABCD",
        "request_id": "r-1",
        "differences": ["the products differ"],
        "reasons": ["a type was removed"],
    }
    classes: list[type[errors.LicensingError]] = [
        c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.LicensingError)
    ]

    class Other(errors.LicensingError):
        code = "whatever_else"

    codes = [c.code for c in classes] + [Other.code]
    for code in codes:
        html = template.render(
            error={"code": code, "details": samples},
            fmt_date=_portal._fmt_date("fr"),
            last_day=_portal._last_day,
        )
        assert f'data-code="{code}"' in html
        assert french_faults(html.split("<main>", 1)[1], english) == [], code


def test_i13_item13_french_catalog_follows_french_typography() -> None:
    with (HTTP / "locales" / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        po = read_po(f)
    strings: list[str] = []
    for m in po:
        if m.id:
            strings += [m.string] if isinstance(m.string, str) else list(m.string or ())
    assert len(strings) > 150
    assert [s for s in strings if re.search(r"(?<![\u00a0\u202f\d]):|(?<=\d):(?!\d)", s)] == []
    assert [s for s in strings if re.search(r"(?<![\u00a0\u202f])[;?!]", s)] == []
    assert [s for s in strings if re.search(r" [:;?!]", s)] == []
    fr = gettext.translation("messages", localedir=HTTP / "locales", languages=["fr"])
    assert fr.gettext("%(label)s:") == "%(label)s\u00a0:"
