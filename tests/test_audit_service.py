"""An independent audit of the service against SPEC §6, §6.1, §7 and §8, on every backend.

- §7 signatures: every delivery is checked here with a hand-written Standard
  Webhooks check (``v1`` HMAC-SHA256 over ``msg_id.timestamp.body`` with the
  base64 key after ``whsec_``) and with the ``standardwebhooks`` package; during a
  rotation both secrets verify, and after it only the new one.
- §7 events: each event's ``data`` matches the published schema
  (``docs/events.schema.json``) for every event type; an event exists iff its
  command committed; ``seq`` counts 1, 2, 3… per organization.
- §7 notices: alerts are raised and cleared once each, at the organization's local
  midnight (Pacific/Auckland), across a trial end, a grace start and end, a
  renewal window and a lot expiry.
- §8 roles: every role (and a non-member, a vendor, a non-account) against every
  action of §8's table, through the library and over HTTP (403
  ``permission_denied``, nothing changed); queries refuse a stranger the same way
  for an existing and an unknown organization; secrets are shown once and stored
  hashed; invitations expire after exactly 7 days, tokens at their expiry.
- §6.1: the same bad input gives the same error code through the library, the
  CLI and the API; replays over HTTP answer the library's first answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import jsonschema
import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")

from argon2 import PasswordHasher
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import TestClient
from standardwebhooks import Webhook

from axis_licensing import (
    EXAMPLE_CATALOG,
    Catalog,
    LicenseKind,
    LicenseType,
    LicensingError,
    Manager,
    ManualClock,
    PermissionDenied,
    ProductSpec,
    hookimpl,
    offline,
    to_jsonable,
)
from axis_licensing.backends import TABLES
from axis_licensing.cli import main
from axis_licensing.errors import InvitationInvalid, LastOwner
from axis_licensing.events.model import delivery_id, event_types
from axis_licensing.http import create_app
from axis_licensing.members import passwords
from events_support import license_nord_every_way, start_nord, walk_a_webhook

P = "acs-pro"
PASSWORD = "correct horse battery staple"
SECRET = b"k" * 32
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "events.schema.json").read_text())
#: The tables a refused request must leave unchanged (a token's last use may move).
STATE_TABLES = tuple(t for t in TABLES if t != "api_tokens")


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords with cheap parameters, so the tests stay fast."""
    monkeypatch.setattr(
        passwords, "hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def _state(m: Manager, tables: tuple[str, ...] = STATE_TABLES) -> dict[str, list[dict[str, Any]]]:
    return {t: list(m.backend.export_rows(t)) for t in tables}


def _dump(m: Manager) -> str:
    return json.dumps(_state(m, TABLES), default=str, ensure_ascii=False)


# -- §7: signatures, checked by hand and by the standardwebhooks package ----------------------


class _Capture:
    """A loopback receiver that keeps each request's raw headers and body, and answers 200."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        capture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                capture.got.append((self.path, headers, body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> _Capture:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _signed_by(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks check, by hand: one ``v1,`` entry is the HMAC of this secret."""
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    entries = headers["webhook-signature"].split(" ")
    return any(hmac.compare_digest(expected, entry) for entry in entries)


def test_deliveries_are_signed_per_standard_webhooks_and_a_rotation_sends_both(
    backend_url: str,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)  # the package checks the timestamp's age
    clock = ManualClock(now)
    with _Capture() as hook, Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        m.create_organization("acme", name="Acme", actor="alice")
        ep = m.webhooks.add("acme", hook.url, actor="alice", allow_http=True, allow_private=True)
        vendor = m.webhooks.add(
            None,
            hook.url + "/vendor",
            types=["system_registered"],
            actor="vendor",
            allow_http=True,
            allow_private=True,
        )
        m.create_organization("globex", name="Globex", actor="bob")
        m.register_system("globex", P, "g-1", actor="bob")
        m.register_system("acme", P, "a-1", devices={"core": 1}, actor="alice")
        assert (m.deliver().sent, m.deliver().sent) == (4, 0)
        events = {e.id: e for org in ("acme", "globex") for e in m.events(org)}
        seen = sorted(
            (path, json.loads(body)["org_id"], json.loads(body)["type"])
            for path, _, body in hook.got
        )
        assert seen == [
            ("/hook", "acme", "system_registered"),
            ("/hook", "acme", "webhook_added"),
            ("/hook/vendor", "acme", "system_registered"),
            ("/hook/vendor", "globex", "system_registered"),
        ]
        for path, headers, body in hook.got:
            secret = vendor.secret if path == "/hook/vendor" else ep.secret
            assert secret is not None
            event = events[headers["webhook-id"]]
            assert json.loads(body) == event.to_json()
            assert body == event.body()
            assert headers["webhook-timestamp"] == str(int(now.timestamp()))
            assert headers["content-type"] == "application/json"
            assert len(headers["webhook-signature"].split(" ")) == 1
            assert _signed_by(secret, headers, body)
            assert Webhook(secret).verify(body, headers) == event.to_json()
            other = ep.secret if secret == vendor.secret else vendor.secret
            assert other is not None
            assert not _signed_by(other, headers, body)

        # a rotation: both secrets sign for a while, then the new one alone
        old = ep.secret
        assert old is not None
        rotated = m.webhooks.rotate_secret(ep.endpoint_id, actor="alice")
        assert rotated.secret is not None
        assert rotated.secret != old
        assert [e.secret for e in m.webhooks.list("acme")] == [None]
        hook.got.clear()
        m.report_devices("acme", "a-1", {"core": 2}, actor="alice")
        m.deliver()
        assert sorted(json.loads(b)["type"] for p, _, b in hook.got if p == "/hook") == [
            "devices_reported",
            "webhook_secret_rotated",
        ]
        for path, headers, body in hook.got:
            if path == "/hook":
                assert len(headers["webhook-signature"].split(" ")) == 2
                assert _signed_by(old, headers, body)
                assert _signed_by(rotated.secret, headers, body)
                assert Webhook(old).verify(body, headers) == json.loads(body)
                assert Webhook(rotated.secret).verify(body, headers) == json.loads(body)
        clock.advance(timedelta(days=2))
        hook.got.clear()
        m.report_devices("acme", "a-1", {"core": 3}, actor="alice")
        m.deliver()
        ((path, headers, body),) = hook.got
        assert len(headers["webhook-signature"].split(" ")) == 1
        assert _signed_by(rotated.secret, headers, body)
        assert not _signed_by(old, headers, body)
        assert headers["webhook-timestamp"] == str(int((now + timedelta(days=2)).timestamp()))


# -- §7: every event type matches its published schema ----------------------------------------


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def test_every_event_type_occurs_and_matches_the_published_schema(backend_url: str) -> None:
    clock = ManualClock(T0)
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        m.accounts.create("alice", name="Alice", password=PASSWORD, actor="alice")
        m.accounts.create("bob", name="Bob", actor="alice")
        m.accounts.create("vendor", name="Vendor", vendor=True, actor="system")
        start_nord(m)
        license_nord_every_way(m, clock)
        walk_a_webhook(m, url="http://127.0.0.1:10/h")
        invitation = m.members.invite("nord", "bob", role="viewer", actor="alice")
        m.members.accept(invitation.token, account_id="bob")
        m.members.set_role("nord", "bob", "admin", actor="alice")
        issued = m.tokens.create("bob", orgs=["nord"], actor="bob")
        m.tokens.revoke(issued.info.token_id, actor="alice")
        m.members.remove("nord", "bob", actor="alice")
        assert m.sweep().raised == 1  # growth exceeded
        clock.set(datetime(2031, 1, 2, 12, 0, tzinfo=UTC))  # every lot expired
        report = m.sweep()
        assert (report.organizations, report.raised, report.cleared) == (1, 2, 1)
        events = m.events("nord")
        types = [e.type for e in events]
        assert set(types) == event_types()
        assert set(SCHEMA["$defs"]) == event_types()
        validator = _validator()
        for event in events:
            body = event.to_json()
            errors = [e.message for e in validator.iter_errors(body)]
            assert errors == [], (event.type, errors)
            # the event is its own type's, and the data is its activity's details
            own = SCHEMA["$defs"][event.type]
            assert list(jsonschema.Draft202012Validator(own).iter_errors(body)) == []
        history = m.history("nord")
        assert len(history) == len(events)
        assert [h.action.replace("alert_", "alert.") for h in history] == types
        assert [dict(h.details) for h in history] == [
            json.loads(json.dumps(e.data)) for e in events
        ]
        assert [h.at for h in history] == [e.at for e in events]
        # no secret reaches an event
        text = json.dumps([e.to_json() for e in events])
        assert issued.secret not in text
        assert invitation.token not in text
        assert "whsec_" not in text


# -- §7: an event exists iff its command committed; seq per organization ----------------------


class _Refuser:
    """An authorize plugin that refuses ``allocate`` by ``mallory``."""

    @hookimpl
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool | None:
        return False if (actor, action) == ("mallory", "allocate") else None


class _Failing:
    """An observer that fails on every activity (it must not undo the commit)."""

    @hookimpl
    def axis_licensing_activity(self, activity: object) -> None:
        raise RuntimeError("observer down")


def _refused(m: Manager, call: Callable[[], object], code: str) -> None:
    """``call`` raises the error ``code`` and changes no row of any table."""
    before = _state(m, TABLES)
    with pytest.raises(LicensingError) as raised:
        call()
    assert raised.value.code == code
    assert _state(m, TABLES) == before


def _typo(key: str) -> str:
    """``key`` with its last symbol replaced by another (a single-symbol substitution)."""
    return key[:-1] + ("2" if key[-1] != "2" else "3")


def test_events_exist_iff_the_command_committed_and_seq_counts_per_organization(
    backend_url: str,
) -> None:
    clock = ManualClock(T0)
    with Manager.open(
        backend_url, catalog=EXAMPLE_CATALOG, clock=clock, plugins=[_Refuser(), _Failing()]
    ) as m:
        hook = "http://127.0.0.1:9/h"
        m.create_organization("acme", name="Acme", actor="a")
        m.webhooks.add("acme", hook, actor="a", allow_http=True, allow_private=True)
        m.create_organization("globex", name="Globex", actor="b")
        m.register_system("acme", P, "s-1", devices={"core": 2}, actor="a", request_id="r-1")
        m.register_system("globex", P, "g-1", actor="b")
        m.start_subscription("acme", P, actor="a")
        key = m.vendor.issue_key(P, quantities={"core": 5})
        # refused commands: nothing written, no event, no delivery
        _refused(m, lambda: m.allocate("acme", P, {"core": 1}, actor="a"), "insufficient_licenses")
        _refused(m, lambda: m.register_system("globex", P, "s-1", actor="b"), "already_registered")
        _refused(m, lambda: m.start_subscription("acme", P, actor="a"), "already_started")
        _refused(
            m,
            lambda: m.register_system("acme", P, "s-2", actor="a", request_id="r-1"),
            "idempotency_conflict",
        )
        _refused(
            m,
            lambda: m.webhooks.add("acme", hook, actor="a", allow_http=True, allow_private=True),
            "invalid_input",
        )
        _refused(m, lambda: m.redeem_key("acme", _typo(key), actor="a"), "key_typo")
        _refused(
            m, lambda: m.allocate_need("acme", P, through=9, actor="a"), "outside_allocation_window"
        )
        _refused(
            m,
            lambda: m.upload_system_file("acme", b"{not a file", actor="a"),
            "malformed_system_file",
        )
        m.redeem_key("acme", key, actor="a")
        _refused(m, lambda: m.redeem_key("globex", key, actor="b"), "key_already_redeemed")
        _refused(
            m, lambda: m.allocate("acme", P, {"core": 1}, actor="mallory"), "permission_denied"
        )
        # a replay: the first answer, no new event
        before = _state(m, TABLES)
        m.register_system("acme", P, "s-1", devices={"core": 2}, actor="a", request_id="r-1")
        assert _state(m, TABLES) == before
        acme = m.events("acme")
        assert [(e.seq, e.type) for e in acme] == [
            (1, "organization_created"),
            (2, "webhook_added"),
            (3, "system_registered"),
            (4, "subscription_started"),
            (5, "key_redeemed"),
        ]
        assert [(e.seq, e.type) for e in m.events("globex")] == [
            (1, "organization_created"),
            (2, "system_registered"),
        ]
        # one delivery per event of acme from its endpoint's own addition on
        deliveries = sorted(row["event_id"] for row in m.backend.export_rows("deliveries"))
        assert deliveries == sorted(e.id for e in acme[1:])
        ids = [e.id for org in ("acme", "globex") for e in m.events(org)]
        assert len(set(ids)) == len(ids) == 7
        assert [e.seq for e in m.events("acme", after_seq=3, limit=1)] == [4]
        assert m.events("acme", after_seq=5) == []


# -- §7: notices when time passes, at local midnight, once each -------------------------------

AUCKLAND = ZoneInfo("Pacific/Auckland")


def _local(y: int, mo: int, d: int, h: int = 0) -> datetime:
    return datetime(y, mo, d, h, tzinfo=AUCKLAND).astimezone(UTC)


def test_alerts_are_raised_and_cleared_once_at_the_organizations_local_midnight(
    backend_url: str,
) -> None:
    clock = ManualClock(_local(2026, 1, 10, 9))
    eps = timedelta(microseconds=1)
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        m.create_organization("kiwi", name="Kiwi", timezone="Pacific/Auckland", actor="a")
        m.register_system("kiwi", P, "srv-1", devices={"core": 2}, actor="a")
        m.start_subscription("kiwi", P, actor="a")
        seen = len(m.events("kiwi"))

        def sweep(at: datetime) -> list[tuple[str, str, str | None, str | None]]:
            nonlocal seen
            clock.set(max(clock.now(), at))
            m.sweep(at=at)
            new = m.events("kiwi", after_seq=seen)
            seen += len(new)
            assert all(e.at == at for e in new if e.type.startswith("alert."))
            return [
                (e.type, e.data["kind"], e.data["system_id"], e.data["on"])
                if e.type.startswith("alert.")
                else (e.type, str(e.data.get("quantity")), None, e.data.get("expires_on"))
                for e in new
            ]

        raised, cleared = "alert.raised", "alert.cleared"
        assert sweep(clock.now()) == [(raised, "trial_ending", None, "2026-02-09")]
        assert sweep(_local(2026, 2, 9) - eps) == []
        assert sweep(_local(2026, 2, 9)) == [
            (cleared, "trial_ending", None, "2026-02-09"),
            (raised, "unlicensed", None, "2026-02-09"),
            (raised, "system_unlicensed", "srv-1", "2026-02-09"),
        ]
        assert sweep(_local(2026, 2, 9, 5)) == []
        clock.set(_local(2026, 2, 20, 10))
        m.redeem_key("kiwi", m.vendor.issue_key(P, quantities={"core": 10}), actor="a")
        m.allocate("kiwi", P, {"core": 2}, actor="a")
        seen = len(m.events("kiwi"))
        assert sweep(clock.now()) == [
            (cleared, "system_unlicensed", "srv-1", None),
            (cleared, "unlicensed", None, None),
        ]
        assert sweep(_local(2026, 11, 11) - eps) == []
        assert sweep(_local(2026, 11, 11)) == [(raised, "renewal_uncovered", None, "2027-01-10")]
        assert sweep(_local(2027, 1, 10) - eps) == []
        assert sweep(_local(2027, 1, 10)) == [
            (cleared, "renewal_uncovered", None, "2027-01-10"),
            (raised, "grace_ending", None, "2027-02-09"),
        ]
        assert sweep(_local(2027, 2, 9) - eps) == []
        assert sweep(_local(2027, 2, 9)) == [
            (cleared, "grace_ending", None, "2027-02-09"),
            (raised, "unlicensed", None, "2027-02-09"),
            (raised, "system_unlicensed", "srv-1", "2027-02-09"),
        ]
        assert sweep(_local(2027, 2, 9)) == []
        # 2031's period covered in advance; the lots left expire on 2031-02-20
        clock.set(_local(2030, 12, 21, 23))
        m.allocate("kiwi", P, {"core": 2}, period=1, actor="a")
        seen = len(m.events("kiwi"))
        assert sweep(_local(2030, 12, 22) - eps) == []
        assert sweep(_local(2030, 12, 22)) == [(raised, "lots_expiring", None, "2031-02-20")]
        assert sweep(_local(2031, 2, 20) - eps) == [
            (cleared, "system_unlicensed", "srv-1", None),
            (cleared, "unlicensed", None, None),
        ]
        assert sweep(_local(2031, 2, 20)) == [
            ("licenses_expired", "6", None, "2031-02-20"),
            (cleared, "lots_expiring", None, "2031-02-20"),
        ]
        assert sweep(_local(2031, 2, 20, 1)) == []
        (expired,) = [e for e in m.events("kiwi") if e.type == "licenses_expired"]
        assert expired.at == _local(2031, 2, 20)
        # each alert was raised once per appearance and cleared once
        kinds = [(e.type, e.data["kind"]) for e in m.events("kiwi") if e.type.startswith("alert.")]
        assert kinds.count((raised, "unlicensed")) == 2
        assert kinds.count((cleared, "unlicensed")) == 2
        assert (
            kinds.count((raised, "lots_expiring")) == kinds.count((cleared, "lots_expiring")) == 1
        )
        # time's own records are the system's
        timed = m.history("kiwi", actions=["alert_raised", "alert_cleared", "licenses_expired"])
        assert len(timed) == 17  # 8 raised, 8 cleared, 1 expiry
        assert {a.actor for a in timed} == {"system"}
        # the open alerts are exactly what alerts() says at that instant
        open_keys = set()
        for e in m.events("kiwi"):
            if e.type.startswith("alert."):
                k = (e.data["kind"], e.data["system_id"])
                if e.type == raised:
                    open_keys.add(k)
                else:
                    open_keys.discard(k)
        assert open_keys == {(str(a.kind), a.system_id) for a in m.alerts("kiwi")}


# -- §8: the role table, through the library ----------------------------------------------------

#: Each account's role in ``acme`` (None: not a member); ``mallory`` is no account at all.
ROLES: dict[str, str | None] = {
    "olga": "owner",
    "adam": "admin",
    "vera": "viewer",
    "sam": None,
    "seller": None,
    "mallory": None,
}
_RANK = {"viewer": 1, "admin": 2, "owner": 3}
#: The example catalog and one more product: a catalog the vendor may publish (R15).
WIDER = Catalog(
    products=[
        *EXAMPLE_CATALOG.products,
        ProductSpec("acs-lite", "ACS Lite", license_types=[LicenseType("core")]),
    ]
)


@attrs.frozen
class World:
    """``acme`` with an owner, an admin and two viewers, its endpoint, a delivery and a token."""

    m: Manager
    clock: ManualClock
    endpoint_id: str
    delivery_id: str
    token_id: str


def _world(url: str) -> World:
    clock = ManualClock(T0)
    m = Manager.open(url, catalog=EXAMPLE_CATALOG, clock=clock)
    m.accounts.create("olga", name="Olga", password=PASSWORD, actor="olga")
    for name in ("adam", "vera", "sam", "pat"):
        m.accounts.create(name, name=name.title(), actor="olga")
    m.accounts.create("seller", name="Seller", vendor=True, actor="system")
    m.create_organization("acme", name="Acme", actor="olga")
    for name, role in (("adam", "admin"), ("vera", "viewer"), ("pat", "viewer")):
        invitation = m.members.invite("acme", name, role=role, actor="olga")
        m.members.accept(invitation.token, account_id=name)
    m.register_system("acme", P, "srv-1", devices={"core": 2}, actor="olga")
    m.vendor.ship_hardware("SER-1", P, {"core": 1}, actor="seller")
    m.vendor.ship_hardware("SER-2", P, {"core": 1}, actor="seller")
    m.register_hardware("acme", "srv-1", "SER-2", actor="olga")
    m.redeem_key(
        "acme", m.vendor.issue_key(P, quantities={"core": 50}, actor="seller"), actor="olga"
    )
    hw = m.vendor.issue_key(P, LicenseKind.HARDWARE, {"core": 5}, actor="seller")
    m.redeem_key("acme", hw, actor="olga")
    ep = m.webhooks.add(
        "acme", "http://127.0.0.1:9/h", actor="olga", allow_http=True, allow_private=True
    )
    added = next(e for e in m.events("acme") if e.type == "webhook_added")
    token = m.tokens.create("pat", orgs=["acme"], actor="pat")
    return World(
        m, clock, ep.endpoint_id, delivery_id(added.id, ep.endpoint_id), token.info.token_id
    )


def _expected(actor: str, needs: str) -> bool:
    role = ROLES[actor]
    return {
        "admin": role is not None and _RANK[role] >= _RANK["admin"],
        "owner": role == "owner",
        "member": role is not None,
        "vendor": actor == "seller",
        "account": actor != "mallory",
        "nobody": False,
    }[needs]


def _library_actions(w: World) -> list[tuple[str, str, Callable[[str], object]]]:
    """(action, what it needs, the call by an actor), in an order where each can succeed."""
    m = w.m
    key = m.vendor.issue_key(P, quantities={"core": 1}, actor="seller")
    made = offline.describe_system(
        system_id="off-1", product=P, devices={"core": 1}, now=w.clock.now()
    )
    web = "http://127.0.0.1:9/"
    return [
        ("start_subscription", "admin", lambda a: m.start_subscription("acme", P, actor=a)),
        (
            "register_system",
            "admin",
            lambda a: m.register_system("acme", P, "srv-2", devices={"core": 1}, actor=a),
        ),
        (
            "report_devices",
            "admin",
            lambda a: m.report_devices("acme", "srv-1", {"core": 3}, actor=a),
        ),
        ("redeem_key", "admin", lambda a: m.redeem_key("acme", key, actor=a)),
        ("allocate", "admin", lambda a: m.allocate("acme", P, {"core": 1}, actor=a)),
        ("allocate_need", "admin", lambda a: m.allocate_need("acme", P, through=1, actor=a)),
        (
            "register_hardware",
            "admin",
            lambda a: m.register_hardware("acme", "srv-1", "SER-1", actor=a),
        ),
        (
            "allocate_to_hardware",
            "admin",
            lambda a: m.allocate_to_hardware("acme", "SER-1", {"core": 1}, actor=a),
        ),
        ("upload_system_file", "admin", lambda a: m.upload_system_file("acme", made, actor=a)),
        (
            "members.invite",
            "owner",
            lambda a: m.members.invite("acme", "sam", role="viewer", actor=a),
        ),
        (
            "members.set_role",
            "owner",
            lambda a: m.members.set_role("acme", "pat", "admin", actor=a),
        ),
        (
            "webhooks.add",
            "owner",
            lambda a: m.webhooks.add(
                "acme", web + "x", actor=a, allow_http=True, allow_private=True
            ),
        ),
        (
            "webhooks.update",
            "owner",
            lambda a: m.webhooks.update(w.endpoint_id, enabled=False, actor=a),
        ),
        (
            "webhooks.rotate_secret",
            "owner",
            lambda a: m.webhooks.rotate_secret(w.endpoint_id, actor=a),
        ),
        ("webhooks.redeliver", "owner", lambda a: m.webhooks.redeliver(w.delivery_id, actor=a)),
        ("webhooks.remove", "owner", lambda a: m.webhooks.remove(w.endpoint_id, actor=a)),
        ("tokens.revoke_member", "owner", lambda a: m.tokens.revoke(w.token_id, actor=a)),
        ("members.remove", "owner", lambda a: m.members.remove("acme", "pat", actor=a)),
        ("tokens.create for another", "nobody", lambda a: m.tokens.create("pat", actor=a)),
        (
            "vendor.issue_key",
            "vendor",
            lambda a: m.vendor.issue_key(P, quantities={"core": 1}, actor=a),
        ),
        (
            "vendor.ship_hardware",
            "vendor",
            lambda a: m.vendor.ship_hardware("SER-9", P, {}, actor=a),
        ),
        (
            "vendor.webhooks",
            "vendor",
            lambda a: m.webhooks.add(None, web + "v", actor=a, allow_http=True, allow_private=True),
        ),
        (
            "accounts.create_vendor",
            "vendor",
            lambda a: m.accounts.create("v2", name="V", vendor=True, actor=a),
        ),
        (
            "create_organization",
            "account",
            lambda a: m.create_organization("new-" + a, name="N", actor=a),
        ),
        ("tokens.create own", "account", lambda a: m.tokens.create(a, actor=a)),
        ("accounts.create", "account", lambda a: m.accounts.create("n-" + a, name="N", actor=a)),
        (
            "accounts.set_password of another",
            "nobody",
            lambda a: m.accounts.set_password("pat", PASSWORD, actor=a),
        ),
        (
            "accounts.set_password own",
            "account",
            lambda a: m.accounts.set_password(a, PASSWORD, actor=a),
        ),
        ("vendor.publish_catalog", "vendor", lambda a: m.vendor.publish_catalog(WIDER, actor=a)),
        ("members.leave", "member", lambda a: m.members.remove("acme", a, actor=a)),
    ]


@pytest.mark.parametrize("actor", list(ROLES))
def test_every_role_against_every_command_through_the_library(backend_url: str, actor: str) -> None:
    w = _world(backend_url)
    try:
        actions = _library_actions(w)
        outcomes = {}
        for action, _, call in actions:
            before = _state(w.m, TABLES)
            error: LicensingError | None = None
            try:
                call(actor)
            except (LastOwner, PermissionDenied) as refused:
                error = refused
            if error is not None:
                assert _state(w.m, TABLES) == before, action
            if isinstance(error, LastOwner):  # the role allows it; the last owner stays (§8)
                assert (action, actor) == ("members.leave", "olga")
            outcomes[action] = error is None or isinstance(error, LastOwner)
            if isinstance(error, PermissionDenied):
                assert error.code == "permission_denied"
        expected = {a: _expected(actor, needs) for a, needs, _ in actions}
        assert outcomes == expected
    finally:
        w.m.close()


# -- §8 over HTTP: the same table, 403 problems, and nothing leaked ----------------------------

ORG = "/v1/organizations/acme"


def _http_actions(w: World) -> list[tuple[str, str, str, str, object]]:
    """(action, what it needs, method, path, body) for each command of the table."""
    key = w.m.vendor.issue_key(P, quantities={"core": 1}, actor="seller")
    made = offline.describe_system(
        system_id="off-1", product=P, devices={"core": 1}, now=w.clock.now()
    )
    web = {"allow_http": True, "allow_private": True}
    ep, dlv = w.endpoint_id, w.delivery_id
    return [
        ("start_subscription", "admin", "POST", f"{ORG}/products/{P}/subscription", None),
        (
            "register_system",
            "admin",
            "POST",
            f"{ORG}/systems",
            {"system_id": "srv-2", "product": P, "devices": {"core": 1}},
        ),
        (
            "report_devices",
            "admin",
            "PUT",
            f"{ORG}/systems/srv-1/devices",
            {"devices": {"core": 3}},
        ),
        ("redeem_key", "admin", "POST", f"{ORG}/keys", {"key": key}),
        (
            "allocate",
            "admin",
            "POST",
            f"{ORG}/products/{P}/allocations",
            {"quantities": {"core": 1}},
        ),
        ("allocate_need", "admin", "POST", f"{ORG}/products/{P}/allocations/need", {"through": 1}),
        (
            "register_hardware",
            "admin",
            "POST",
            f"{ORG}/systems/srv-1/hardware",
            {"serial": "SER-1"},
        ),
        (
            "allocate_to_hardware",
            "admin",
            "POST",
            f"{ORG}/hardware/SER-1/allocations",
            {"quantities": {"core": 1}},
        ),
        ("upload_system_file", "admin", "POST", f"{ORG}/system-files", made),
        (
            "members.invite",
            "owner",
            "POST",
            f"{ORG}/invitations",
            {"account_id": "sam", "role": "viewer"},
        ),
        ("members.set_role", "owner", "PUT", f"{ORG}/members/pat", {"role": "admin"}),
        (
            "webhooks.add",
            "owner",
            "POST",
            "/v1/webhooks",
            {"org_id": "acme", "url": "http://127.0.0.1:9/x", **web},
        ),
        ("webhooks.update", "owner", "PATCH", f"/v1/webhooks/{ep}", {"enabled": False}),
        ("webhooks.rotate_secret", "owner", "POST", f"/v1/webhooks/{ep}/secret", None),
        ("webhooks.redeliver", "owner", "POST", f"/v1/deliveries/{dlv}/redeliver", None),
        ("webhooks.remove", "owner", "DELETE", f"/v1/webhooks/{ep}", None),
        ("tokens.revoke_member", "owner", "DELETE", f"/v1/tokens/{w.token_id}", None),
        ("members.remove", "owner", "DELETE", f"{ORG}/members/pat", None),
        ("tokens.create for another", "nobody", "POST", "/v1/accounts/pat/tokens", {}),
        (
            "vendor.issue_key",
            "vendor",
            "POST",
            "/v1/vendor/keys",
            {"product": P, "quantities": {"core": 1}},
        ),
        (
            "vendor.ship_hardware",
            "vendor",
            "POST",
            "/v1/vendor/hardware",
            {"serial": "SER-9", "product": P},
        ),
        (
            "vendor.webhooks",
            "vendor",
            "POST",
            "/v1/webhooks",
            {"org_id": None, "url": "http://127.0.0.1:9/v", **web},
        ),
        (
            "accounts.create_vendor",
            "vendor",
            "POST",
            "/v1/accounts",
            {"account_id": "v2", "name": "V", "vendor": True},
        ),
        ("vendor.sweep", "vendor", "POST", "/v1/sweep", {}),
        ("vendor.deliver", "vendor", "POST", "/v1/deliver", {}),
        (
            "create_organization",
            "account",
            "POST",
            "/v1/organizations",
            {"org_id": "new-x", "name": "N"},
        ),
        ("tokens.create own", "account", "POST", "/v1/accounts/{me}/tokens", {}),
        ("accounts.create", "account", "POST", "/v1/accounts", {"account_id": "n-x", "name": "N"}),
        ("members.leave", "member", "DELETE", f"{ORG}/members/{{me}}", None),
    ]


def _send(client: TestClient[Litestar], secret: str, method: str, path: str, body: object) -> Any:
    headers = {"Authorization": f"Bearer {secret}"}
    if isinstance(body, bytes):
        headers["content-type"] = "application/octet-stream"
        return client.request(method, path, headers=headers, content=body)
    if body is None:
        return client.request(method, path, headers=headers)
    return client.request(method, path, headers=headers, json=body)


HTTP_ACTORS = [a for a in ROLES if a != "mallory"]


@pytest.mark.parametrize("actor", HTTP_ACTORS)
def test_every_role_against_every_command_over_http(backend_url: str, actor: str) -> None:
    w = _world(backend_url)
    secret = w.m.tokens.create(actor, actor=actor).secret
    try:
        with TestClient(create_app(w.m, secret=SECRET)) as client:
            outcomes: dict[str, int] = {}
            expected: dict[str, int] = {}
            for action, needs, method, path, body in _http_actions(w):
                before = _state(w.m)
                response = _send(client, secret, method, path.replace("{me}", actor), body)
                allowed = _expected(actor, needs)
                if action == "members.leave" and actor == "olga":  # the last owner stays
                    expected[action] = 409
                else:
                    expected[action] = 403 if not allowed else response.status_code
                outcomes[action] = response.status_code
                if response.status_code >= 400:
                    problem = response.json()
                    assert response.headers["content-type"].startswith("application/problem+json")
                    code = "permission_denied" if response.status_code == 403 else "last_owner"
                    assert (problem["status"], problem["code"]) == (response.status_code, code)
                    assert _state(w.m) == before, action
                else:
                    assert response.status_code in (200, 201, 204), (action, response.text)
            assert outcomes == expected
    finally:
        w.m.close()


QUERIES = [
    "",
    "/products",
    f"/products/{P}",
    f"/products/{P}/need",
    f"/products/{P}/wallet",
    "/systems",
    "/systems/srv-1",
    "/history",
    "/alerts",
    "/events",
]


def test_queries_by_role_and_a_stranger_learns_nothing(backend_url: str) -> None:
    w = _world(backend_url)
    m = w.m
    m.start_subscription("acme", P, actor="olga")
    m.accounts.create("gina", name="Gina", actor="olga")
    m.create_organization("globex", name="Globex Secret", actor="gina")
    m.register_system("globex", P, "g-secret", actor="gina")
    m.webhooks.add(
        "globex",
        "http://127.0.0.1:9/globex-secret",
        actor="gina",
        allow_http=True,
        allow_private=True,
    )
    m.webhooks.add(
        None,
        "http://127.0.0.1:9/vendor-secret",
        actor="seller",
        allow_http=True,
        allow_private=True,
    )
    secrets = {
        a: m.tokens.create(a, actor=a).secret for a in ("olga", "adam", "vera", "sam", "seller")
    }
    reader = m.tokens.create("adam", read_only=True, actor="adam").secret
    try:
        with TestClient(create_app(m, secret=SECRET)) as client:
            for who, status in (
                ("olga", 200),
                ("adam", 200),
                ("vera", 200),
                ("sam", 403),
                ("seller", 403),
            ):
                for path in QUERIES:
                    got = _send(client, secrets[who], "GET", ORG + path, None)
                    assert got.status_code == status, (who, path, got.text)
            for path in QUERIES:
                got = _send(client, reader, "GET", ORG + path, None)
                assert got.status_code == 200
            # a stranger: the same answer for an organization that exists and one that does not
            for path in QUERIES:
                known = _send(client, secrets["sam"], "GET", ORG + path, None)
                unknown = _send(
                    client, secrets["sam"], "GET", "/v1/organizations/nope" + path, None
                )
                assert known.status_code == unknown.status_code == 403
                assert known.json()["code"] == unknown.json()["code"] == "permission_denied"
                assert known.json()["details"] == unknown.json()["details"] == {}
                body = known.text + unknown.text
                assert "Acme" not in body
                assert "srv-1" not in body
            # listings show only what the caller may see
            for who, orgs in (("olga", ["acme"]), ("vera", ["acme"]), ("sam", []), ("seller", [])):
                listed = _send(client, secrets[who], "GET", "/v1/organizations", None).json()
                assert [o["org_id"] for o in listed] == orgs
            hooks = {
                who: sorted(
                    h["url"]
                    for h in _send(client, secrets[who], "GET", "/v1/webhooks", None).json()
                )
                for who in ("olga", "vera", "sam", "seller")
            }
            assert hooks == {
                "olga": ["http://127.0.0.1:9/h"],
                "vera": ["http://127.0.0.1:9/h"],
                "sam": [],
                "seller": ["http://127.0.0.1:9/vendor-secret"],
            }
            for who in ("olga", "vera", "sam", "seller"):
                listed = _send(client, secrets[who], "GET", "/v1/webhooks", None)
                assert "whsec_" not in listed.text
                assert all(h["secret"] is None for h in listed.json())
                got = _send(client, secrets[who], "GET", "/v1/webhooks?org_id=globex", None)
                assert got.status_code == 403
                assert "globex-secret" not in got.text
    finally:
        m.close()


# -- §8: secrets shown once and stored hashed; invitations and tokens expire --------------------


def test_secrets_are_shown_once_and_never_stored_or_recorded_in_clear(backend_url: str) -> None:
    w = _world(backend_url)
    m = w.m
    try:
        issued = m.tokens.create("olga", orgs=["acme"], read_only=True, actor="olga")
        invitation = m.members.invite("acme", "sam", role="viewer", actor="olga")
        added = m.webhooks.add(
            "acme", "http://127.0.0.1:9/z", actor="olga", allow_http=True, allow_private=True
        )
        rotated = m.webhooks.rotate_secret(added.endpoint_id, actor="olga")
        assert issued.secret.startswith(issued.info.prefix + "_")
        assert len(issued.secret) > len(issued.info.prefix) + 32
        dump = _dump(m)
        # passwords: Argon2id only
        (olga,) = [r for r in m.backend.export_rows("accounts") if r["account_id"] == "olga"]
        assert str(olga["password_hash"]).startswith("$argon2id$v=19$")
        assert PASSWORD not in dump
        assert m.accounts.check_password("olga", PASSWORD) is not None
        assert m.accounts.check_password("olga", PASSWORD + "!") is None
        assert m.accounts.check_password("nobody", PASSWORD) is None
        # API tokens and invitation links: never stored, listed by prefix only
        assert issued.secret not in dump
        assert issued.secret.removeprefix(issued.info.prefix + "_") not in dump
        assert invitation.token not in dump
        assert issued.secret not in repr(m.tokens.list("olga"))
        assert invitation.token not in repr(invitation)
        assert m.tokens.resolve(issued.secret) == next(
            t for t in m.tokens.list("olga") if t.token_id == issued.info.token_id
        )
        # webhook secrets: shown on add and rotate, never listed, never in history or events
        assert added.secret is not None
        assert rotated.secret is not None
        assert [e.secret for e in m.webhooks.list("acme")] == [None, None]
        recorded = json.dumps(
            [a.details for a in m.history("acme")] + [e.to_json() for e in m.events("acme")],
            default=str,
        )
        for secret in (issued.secret, invitation.token, added.secret, rotated.secret, PASSWORD):
            assert secret not in recorded
        with TestClient(create_app(m, secret=SECRET)) as client:
            owner = m.tokens.create("olga", actor="olga").secret
            made = _send(client, owner, "POST", "/v1/accounts/olga/tokens", {"read_only": True})
            assert made.status_code == 201
            secret = made.json()["secret"]
            listed = _send(client, owner, "GET", "/v1/accounts/olga/tokens", None)
            assert secret not in listed.text
            assert owner not in listed.text
            assert "secret" not in listed.text
            assert secret not in _dump(m)
    finally:
        m.close()


def test_an_invitation_expires_after_exactly_seven_days_and_works_once(backend_url: str) -> None:
    w = _world(backend_url)
    m, clock = w.m, w.clock
    try:
        m.accounts.create("tina", name="Tina", actor="olga")
        first = m.members.invite("acme", "sam", role="viewer", actor="olga")
        late = m.members.invite("acme", "tina", role="admin", actor="olga")
        assert first.expires_at == late.expires_at == T0 + timedelta(days=7)
        # only its own account accepts it
        with pytest.raises(InvitationInvalid):
            m.members.accept(first.token, account_id="tina")
        clock.set(T0 + timedelta(days=7) - timedelta(microseconds=1))
        joined = m.members.accept(first.token, account_id="sam")
        assert (joined.account_id, joined.org_id, str(joined.role)) == ("sam", "acme", "viewer")
        before = _state(m)
        with pytest.raises(InvitationInvalid) as used:
            m.members.accept(first.token, account_id="sam")
        assert used.value.code == "invitation_invalid"
        clock.set(T0 + timedelta(days=7))
        with pytest.raises(InvitationInvalid):
            m.members.accept(late.token, account_id="tina")
        assert _state(m) == before
        assert [(x.account_id, str(x.role)) for x in m.members.list("acme")] == [
            ("adam", "admin"),
            ("olga", "owner"),
            ("pat", "viewer"),
            ("sam", "viewer"),
            ("vera", "viewer"),
        ]
        # over HTTP: 409 invitation_invalid, the same for an expired and an unknown link
        tina = m.tokens.create("tina", actor="tina").secret
        with TestClient(create_app(m, secret=SECRET)) as client:
            for token in (late.token, "axi_" + "A" * 43):
                got = _send(
                    client,
                    tina,
                    "POST",
                    "/v1/invitations/accept",
                    {"token": token, "account_id": "tina"},
                )
                assert got.status_code == 409
                assert (got.json()["code"], got.json()["details"]) == ("invitation_invalid", {})
    finally:
        m.close()


def test_a_token_stops_at_its_expiry_and_at_its_revocation(backend_url: str) -> None:
    w = _world(backend_url)
    m, clock = w.m, w.clock
    try:
        expiring = m.tokens.create("vera", expires_at=T0 + timedelta(hours=1), actor="vera")
        revoked = m.tokens.create("vera", actor="vera")
        with TestClient(create_app(m, secret=SECRET)) as client:
            for token in (expiring, revoked):
                assert _send(client, token.secret, "GET", ORG, None).status_code == 200
            m.tokens.revoke(revoked.info.token_id, actor="olga")  # an owner revokes a member's
            clock.set(T0 + timedelta(hours=1) - timedelta(microseconds=1))
            assert m.tokens.resolve(expiring.secret) is not None
            assert _send(client, expiring.secret, "GET", ORG, None).status_code == 200
            clock.set(T0 + timedelta(hours=1))
            assert m.tokens.resolve(expiring.secret) is None
            assert m.tokens.resolve(revoked.secret) is None
            for token in (expiring, revoked):
                got = _send(client, token.secret, "GET", ORG, None)
                assert got.status_code == 401
                assert got.json()["code"] == "unauthenticated"
    finally:
        m.close()


# -- §6.1: the same bad input, the same answer at every edge -------------------------------------

#: The HTTP status and the CLI exit code of each error code (SPEC §6, docs/cli.md).
FAMILY = {
    "invalid_input": (400, 2),
    "unknown_account": (404, 3),
    "unknown_webhook": (404, 3),
    "invitation_invalid": (409, 4),
    "last_owner": (409, 4),
    "already_exists": (409, 4),
    "permission_denied": (403, 6),
}

PAST = "2020-01-01T00:00:00+00:00"


def _parity_cases(
    m: Manager,
) -> list[tuple[str, Callable[[], object], list[str], tuple[str, str, str, object]]]:
    """(name, library call, CLI arguments, HTTP request as (who, method, path, body))."""
    https = "https://example.com/x"
    return [
        (
            "invite an unknown account",
            lambda: m.members.invite("acme", "zed", role="viewer", actor="olga"),
            ["members", "invite", "acme", "zed", "--role", "viewer", "--actor", "olga"],
            ("olga", "POST", f"{ORG}/invitations", {"account_id": "zed", "role": "viewer"}),
        ),
        (
            "an admin invites",
            lambda: m.members.invite("acme", "sam", role="viewer", actor="adam"),
            ["members", "invite", "acme", "sam", "--role", "viewer", "--actor", "adam"],
            ("adam", "POST", f"{ORG}/invitations", {"account_id": "sam", "role": "viewer"}),
        ),
        (
            "a token that expired already",
            lambda: m.tokens.create("olga", expires_at=datetime.fromisoformat(PAST), actor="olga"),
            ["tokens", "create", "olga", "--expires-at", PAST, "--actor", "olga"],
            ("olga", "POST", "/v1/accounts/olga/tokens", {"expires_at": PAST}),
        ),
        (
            "a token for an organization one is not in",
            lambda: m.tokens.create("olga", orgs=["globex"], actor="olga"),
            ["tokens", "create", "olga", "--org", "globex", "--actor", "olga"],
            ("olga", "POST", "/v1/accounts/olga/tokens", {"orgs": ["globex"]}),
        ),
        (
            "an ftp webhook",
            lambda: m.webhooks.add("acme", "ftp://example.com/x", actor="olga"),
            [
                "webhooks",
                "add",
                "--url",
                "ftp://example.com/x",
                "--org-id",
                "acme",
                "--actor",
                "olga",
            ],
            ("olga", "POST", "/v1/webhooks", {"org_id": "acme", "url": "ftp://example.com/x"}),
        ),
        (
            "a private address",
            lambda: m.webhooks.add("acme", "https://10.0.0.1/x", actor="olga"),
            [
                "webhooks",
                "add",
                "--url",
                "https://10.0.0.1/x",
                "--org-id",
                "acme",
                "--actor",
                "olga",
            ],
            ("olga", "POST", "/v1/webhooks", {"org_id": "acme", "url": "https://10.0.0.1/x"}),
        ),
        (
            "an unknown event type",
            lambda: m.webhooks.add("acme", https, types=["nope"], actor="olga"),
            [
                "webhooks",
                "add",
                "--url",
                https,
                "--org-id",
                "acme",
                "--type",
                "nope",
                "--actor",
                "olga",
            ],
            ("olga", "POST", "/v1/webhooks", {"org_id": "acme", "url": https, "types": ["nope"]}),
        ),
        (
            "an unknown endpoint",
            lambda: m.webhooks.remove("wh_nope", actor="olga"),
            ["webhooks", "remove", "wh_nope", "--actor", "olga"],
            ("olga", "DELETE", "/v1/webhooks/wh_nope", None),
        ),
        (
            "an unknown invitation",
            lambda: m.members.accept("axi_nope", account_id="sam"),
            ["members", "accept", "sam", "--token", "axi_nope"],
            ("sam", "POST", "/v1/invitations/accept", {"token": "axi_nope", "account_id": "sam"}),
        ),
        (
            "the last owner steps down",
            lambda: m.members.set_role("acme", "olga", "admin", actor="olga"),
            ["members", "set-role", "acme", "olga", "--role", "admin", "--actor", "olga"],
            ("olga", "PUT", f"{ORG}/members/olga", {"role": "admin"}),
        ),
        (
            "an account id with a slash",
            lambda: m.accounts.create("a/b", name="N", actor="olga"),
            ["accounts", "create", "a/b", "N", "--actor", "olga"],
            ("olga", "POST", "/v1/accounts", {"account_id": "a/b", "name": "N"}),
        ),
        (
            "the system's own id",
            lambda: m.accounts.create("system", name="N", actor="olga"),
            ["accounts", "create", "system", "N", "--actor", "olga"],
            ("olga", "POST", "/v1/accounts", {"account_id": "system", "name": "N"}),
        ),
        (
            "an account that exists",
            lambda: m.accounts.create("sam", name="N", actor="olga"),
            ["accounts", "create", "sam", "N", "--actor", "olga"],
            ("olga", "POST", "/v1/accounts", {"account_id": "sam", "name": "N"}),
        ),
    ]


def _parity_store(url: str) -> Manager:
    m = Manager.open(url, catalog=EXAMPLE_CATALOG)
    m.accounts.create("olga", name="Olga", actor="olga")
    for name in ("adam", "sam", "gina"):
        m.accounts.create(name, name=name.title(), actor="olga")
    m.create_organization("acme", name="Acme", actor="olga")
    m.create_organization("globex", name="Globex", actor="gina")
    m.members.accept(
        m.members.invite("acme", "adam", role="admin", actor="olga").token, account_id="adam"
    )
    return m


def _library_answer(call: Callable[[], object]) -> tuple[str, object]:
    with pytest.raises(LicensingError) as raised:
        call()
    return raised.value.code, raised.value.details.get("param")


def _cli_answer(url: str, args: list[str]) -> tuple[int, tuple[str, object]]:
    result = CliRunner().invoke(main, [*args, "--db", url, "--json"])
    document = json.loads(result.stderr)
    return result.exit_code, (document["code"], document["details"].get("param"))


def test_the_same_bad_input_gets_the_same_code_from_the_library_the_cli_and_the_api(
    persistent_url: str,
) -> None:
    m = _parity_store(persistent_url)
    try:
        secrets = {a: m.tokens.create(a, actor=a).secret for a in ("olga", "adam", "sam")}
        with TestClient(create_app(m, secret=SECRET)) as client:
            for name, call, args, (who, method, path, body) in _parity_cases(m):
                before = _state(m)
                library = _library_answer(call)
                exit_code, cli = _cli_answer(persistent_url, args)
                response = _send(client, secrets[who], method, path, body)
                problem = response.json()
                api = (problem["code"], problem["details"].get("param"))
                assert library == cli == api, name
                assert (response.status_code, exit_code) == FAMILY[library[0]], name
                assert _state(m) == before, name
    finally:
        m.close()


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (
            lambda m: m.tokens.create("olga", expires_at=datetime(2030, 1, 1), actor="olga"),
            ["tokens", "create", "olga", "--expires-at", "2030-01-01T00:00:00", "--actor", "olga"],
        ),
        (
            lambda m: m.members.invite("acme", "sam", role="superuser", actor="olga"),
            ["members", "invite", "acme", "sam", "--role", "superuser", "--actor", "olga"],
        ),
        (
            lambda m: m.status("acme", P, at=datetime(2030, 1, 1)),
            ["status", "acme", P, "--at", "2030-01-01T00:00:00"],
        ),
    ],
    ids=["naive-expires-at", "unknown-role", "naive-at"],
)
def test_the_cli_refuses_a_naive_instant_and_an_unknown_choice_as_the_library_does(
    tmp_path: Path, call: Callable[[Manager], object], args: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'axis.db'}"
    m = _parity_store(url)
    try:
        library = _library_answer(lambda: call(m))
        assert library[0] == "invalid_input"
        exit_code, cli = _cli_answer(url, args)
        assert exit_code == 2
        assert cli == library
    finally:
        m.close()


def _as_api(value: object) -> Any:
    """``to_jsonable(value)`` with UTC instants written as the API writes them (``Z``)."""
    return json.loads(json.dumps(to_jsonable(value)).replace('+00:00"', 'Z"'))


def test_a_replay_over_http_answers_what_the_library_answered_first(backend_url: str) -> None:
    w = _world(backend_url)
    m = w.m
    try:
        m.start_subscription("acme", P, actor="olga")
        invitation = m.members.invite(
            "acme", "sam", role="viewer", actor="olga", request_id="inv-1"
        )
        endpoint = m.webhooks.add(
            "acme",
            "http://127.0.0.1:9/r",
            actor="olga",
            request_id="wh-1",
            allow_http=True,
            allow_private=True,
        )
        allocation = m.allocate("acme", P, {"core": 3}, actor="adam", request_id="al-1")
        # the state moves on: the invitation is used, the endpoint removed, the wallet spent
        m.members.accept(invitation.token, account_id="sam")
        m.webhooks.remove(endpoint.endpoint_id, actor="olga")
        m.allocate("acme", P, {"core": 40}, actor="adam")
        secrets = {a: m.tokens.create(a, actor=a).secret for a in ("olga", "adam")}
        with TestClient(create_app(m, secret=SECRET)) as client:

            def replay(who: str, key: str, method: str, path: str, body: object) -> Any:
                headers = {"Authorization": f"Bearer {secrets[who]}", "Idempotency-Key": key}
                return client.request(method, path, headers=headers, json=body)

            before = _state(m)
            got = replay(
                "olga",
                "inv-1",
                "POST",
                f"{ORG}/invitations",
                {"account_id": "sam", "role": "viewer"},
            )
            assert (got.status_code, got.json()) == (201, _as_api(invitation))
            assert got.json()["token"] == invitation.token
            web = {"allow_http": True, "allow_private": True}
            got = replay(
                "olga",
                "wh-1",
                "POST",
                "/v1/webhooks",
                {"org_id": "acme", "url": "http://127.0.0.1:9/r", **web},
            )
            assert (got.status_code, got.json()) == (201, _as_api(endpoint))
            assert got.json()["secret"] == endpoint.secret
            alloc = f"{ORG}/products/{P}/allocations"
            got = replay("adam", "al-1", "POST", alloc, {"quantities": {"core": 3}})
            assert (got.status_code, got.json()) == (201, _as_api(allocation))
            assert _state(m) == before
            # the same key with other arguments: the library's conflict
            got = replay("adam", "al-1", "POST", alloc, {"quantities": {"core": 4}})
            assert got.status_code == 409
            conflict = _library_answer(
                lambda: m.allocate("acme", P, {"core": 4}, actor="adam", request_id="al-1")
            )
            assert (got.json()["code"], got.json()["details"].get("param")) == conflict
            assert conflict == ("idempotency_conflict", None)
            assert _state(m) == before
    finally:
        m.close()


def test_a_limited_tokens_record_names_no_other_organization(backend_url: str) -> None:
    """R1, §8: ``acme``'s history and events never name ``beta`` (fixed: they listed every
    organization the token was limited to, telling acme's viewers of adam's other ones)."""
    w = _world(backend_url)
    m = w.m
    try:
        m.create_organization("beta", name="Beta", actor="olga")
        m.members.accept(
            m.members.invite("beta", "adam", role="viewer", actor="olga").token, account_id="adam"
        )
        issued = m.tokens.create("adam", orgs=["beta", "acme"], read_only=True, actor="adam")
        everywhere = m.tokens.create("adam", actor="adam")
        for org in ("acme", "beta"):
            created = [e.data for e in m.events(org) if e.type == "token_created"][-2:]
            assert created == [
                {
                    "account_id": "adam",
                    "expires_at": None,
                    "orgs": [org],
                    "prefix": issued.info.prefix,
                    "read_only": True,
                    "token_id": issued.info.token_id,
                },
                {
                    "account_id": "adam",
                    "expires_at": None,
                    "orgs": None,
                    "prefix": everywhere.info.prefix,
                    "read_only": False,
                    "token_id": everywhere.info.token_id,
                },
            ]
            recorded = json.dumps(
                [a.details for a in m.history(org)] + [e.to_json() for e in m.events(org)]
            )
            other = "beta" if org == "acme" else "acme"
            assert f'"{other}"' not in recorded
        # the account itself still sees its token's limits whole
        (info,) = [t for t in m.tokens.list("adam") if t.token_id == issued.info.token_id]
        assert info.orgs == ("acme", "beta")
    finally:
        m.close()


@pytest.mark.parametrize(
    ("schema", "path", "body", "status"),
    [
        # the library's own actor: the pattern excludes it, and the server refuses it
        ("NewAccount", "/v1/accounts", {"account_id": "system", "name": "N"}, 400),
        # RFC 3339 allows a lower-case t and z: the schema admits it, and so does the server
        ("NewToken", "/v1/accounts/olga/tokens", {"expires_at": "2030-01-01t00:00:00z"}, 201),
    ],
    ids=["account-system", "lower-case-instant"],
)
def test_the_published_schema_and_the_server_agree(
    schema: str, path: str, body: dict[str, object], status: int
) -> None:
    """§6.1: a body valid by the schema is accepted, and one the server refuses is invalid."""
    m = _parity_store("memory://")
    try:
        secret = m.tokens.create("olga", actor="olga").secret
        with TestClient(create_app(m, secret=SECRET)) as client:
            document = client.get("/openapi.json").json()
            component = {**document["components"]["schemas"][schema], **document}
            valid = jsonschema.Draft202012Validator(component).is_valid(body)
            got = _send(client, secret, "POST", path, body)
            assert (valid, got.status_code) == (status == 201, status), got.text
    finally:
        m.close()


def test_an_instant_that_does_not_parse_is_refused_naming_its_own_field() -> None:
    """§6.1 (fixed): the API named every unparsable instant ``at``; it names the field sent."""
    m = _parity_store("memory://")
    try:
        m.accounts.create("seller", name="Seller", vendor=True, actor="system")
        secrets = {a: m.tokens.create(a, actor=a).secret for a in ("olga", "seller")}
        with TestClient(create_app(m, secret=SECRET)) as client:
            for who, path, field, call in (
                (
                    "olga",
                    "/v1/accounts/olga/tokens",
                    "expires_at",
                    lambda: m.tokens.create("olga", expires_at="soon", actor="olga"),  # type: ignore[arg-type]
                ),
                ("seller", "/v1/sweep", "at", lambda: m.sweep(at="soon")),  # type: ignore[arg-type]
            ):
                before = _state(m)
                got = _send(client, secrets[who], "POST", path, {field: "soon"})
                assert got.status_code == 400
                problem = got.json()
                assert (problem["code"], problem["details"]) == ("invalid_input", {"param": field})
                assert _library_answer(call) == ("invalid_input", field)
                assert _state(m) == before
    finally:
        m.close()


def test_an_alert_changes_when_the_local_day_begins_in_a_dst_gap(backend_url: str) -> None:
    """Santiago skips 2026-09-06 00:00-01:00: the trial ends when that day begins, at 01:00."""
    clock = ManualClock(datetime(2026, 8, 7, 15, 0, tzinfo=UTC))
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        m.create_organization("cl", name="Chile", timezone="America/Santiago", actor="a")
        m.register_system("cl", P, "s-1", devices={"core": 1}, actor="a")
        m.start_subscription("cl", P, actor="a")
        assert m.status("cl", P).window_ends_on == date(2026, 9, 6)
        assert (m.sweep().raised, len(m.events("cl"))) == (1, 4)
        begins = datetime(
            2026, 9, 6, 4, 0, tzinfo=UTC
        )  # 01:00 -03:00, the first instant of the day
        assert begins.astimezone(ZoneInfo("America/Santiago")).isoformat() == (
            "2026-09-06T01:00:00-03:00"
        )
        clock.set(begins - timedelta(microseconds=1))
        assert m.sweep(at=begins - timedelta(microseconds=1)).organizations == 0
        clock.set(begins)
        report = m.sweep(at=begins)
        assert (report.organizations, report.raised, report.cleared) == (1, 2, 1)
        assert [(e.type, e.data["kind"], e.at) for e in m.events("cl", after_seq=4)] == [
            ("alert.cleared", "trial_ending", begins),
            ("alert.raised", "unlicensed", begins),
            ("alert.raised", "system_unlicensed", begins),
        ]


def test_a_failed_first_answer_is_not_replayed_over_http(backend_url: str) -> None:
    """R13 read with §6.1: a command that failed is not remembered, so the same
    ``Idempotency-Key`` runs it again once it can succeed; then it is replayed."""
    w = _world(backend_url)
    m = w.m
    try:
        m.start_subscription("acme", P, actor="olga")
        headers = {
            "Authorization": f"Bearer {m.tokens.create('adam', actor='adam').secret}",
            "Idempotency-Key": "k-1",
        }
        path = f"{ORG}/products/{P}/allocations"
        body = {"quantities": {"core": 60}}
        with TestClient(create_app(m, secret=SECRET)) as client:
            first = client.post(path, json=body, headers=headers)
            assert first.status_code == 422
            assert first.json()["details"] == {"kind": "subscription", "shortfall": {"core": 10}}
            key = m.vendor.issue_key(P, quantities={"core": 10}, actor="seller")
            m.redeem_key("acme", key, actor="olga")
            second = client.post(path, json=body, headers=headers)
            assert second.status_code == 201
            before = _state(m)
            third = client.post(path, json=body, headers=headers)
            assert (third.status_code, third.json()) == (201, second.json())
            assert _state(m) == before
            assert m.wallet("acme", P).balance() == {}
    finally:
        m.close()
