"""Webhook signing, the retry schedule and the safe transport (SPEC §7, "Safety").

The transport talks to a real receiver on 127.0.0.1 (tests/events_support.py)
that verifies each signature with the ``standardwebhooks`` package's own verifier.
Timeouts are shortened for the tests (the default is 10 s).
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from axis_licensing.errors import InvalidInput
from axis_licensing.events.model import Event, check_event_types, event_id
from axis_licensing.events.retry import retry_at
from axis_licensing.events.signing import check_secret, mask, new_secret, sign_headers
from axis_licensing.events.transport import (
    DEFAULT_TIMEOUT,
    MAX_BODY,
    Attempt,
    HttpTransport,
    Target,
    address_refusal,
    check_url,
)
from events_support import Receiver, self_signed

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
US = 1_000_000
S = US
H = 3600 * US
DAY = 24 * H


def signed(event: Event, secrets: Sequence[str] = (SECRET,)) -> tuple[dict[str, str], bytes]:
    body = event.body()
    return sign_headers(event.id, datetime.now(UTC), body, secrets), body


EVENT = Event(
    id=event_id("acme", 1),
    type="licenses_allocated",
    org_id="acme",
    seq=1,
    at=datetime(2026, 3, 1, 12, tzinfo=UTC),
    data={"quantities": {"core": 3}},
)

# --- signing ----------------------------------------------------------------------------------


def test_secrets_are_whsec_and_random() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first[6:])) == 32
    assert check_secret(first) == first
    assert mask(first) == "whsec_…"
    assert mask(None) == ""
    for bad in ("hunter2", "whsec_!!!", "whsec_" + base64.b64encode(b"short").decode()):
        with pytest.raises(InvalidInput) as caught:
            check_secret(bad)
        assert bad not in caught.value.message
        assert caught.value.details == {"param": "secret"}


def test_headers_follow_standard_webhooks_and_verify() -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    body = EVENT.body()
    headers = sign_headers(EVENT.id, at, body, [SECRET])
    assert headers["webhook-id"] == EVENT.id
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    assert headers["webhook-signature"] == Webhook(SECRET).sign(EVENT.id, at, body)
    assert headers["content-type"] == "application/json"
    assert Webhook(SECRET).verify(body, headers) == {
        "id": EVENT.id,
        "type": "licenses_allocated",
        "org_id": "acme",
        "seq": 1,
        "at": "2026-03-01T12:00:00Z",
        "data": {"quantities": {"core": 3}},
    }


def test_a_rotation_sends_both_signatures() -> None:
    at = datetime.now(UTC)
    body = EVENT.body()
    headers = sign_headers(EVENT.id, at, body, [SECRET, OLD_SECRET])
    new_sig, old_sig = headers["webhook-signature"].split(" ")
    assert new_sig.startswith("v1,")
    assert old_sig.startswith("v1,")
    assert new_sig == Webhook(SECRET).sign(EVENT.id, at, body)
    assert old_sig == Webhook(OLD_SECRET).sign(EVENT.id, at, body)
    # a receiver holding either secret verifies
    Webhook(SECRET).verify(body, headers)
    Webhook(OLD_SECRET).verify(body, headers)
    with pytest.raises(ValueError, match="at least one signing secret"):
        sign_headers(EVENT.id, at, body, [])


def test_event_types_are_checked() -> None:
    assert check_event_types(None) is None
    assert check_event_types(["alert.raised", "key_redeemed", "alert.raised"]) == (
        "alert.raised",
        "key_redeemed",
    )
    for bad, text in (
        (["key_redeemd"], "unknown event type 'key_redeemd'"),
        ([], "at least one event type"),
        ("alert.raised", "not one string"),
        ([3], "unknown event type 3"),
    ):
        with pytest.raises(InvalidInput, match=text) as caught:
            check_event_types(bad)  # type: ignore[arg-type]
        assert caught.value.details == {"param": "types"}


# --- the retry schedule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "now", "draw", "expected"),
    [
        (1, 0, 0.0, 5 * S),  # 10 s, jittered to half
        (1, 0, 0.5, 7_500_000),  # half + half of the other half
        (1, 0, 0.999999, 9_999_995),
        (2, 0, 0.0, 10 * S),  # 20 s
        (3, 100 * S, 0.25, 100 * S + 25 * S),  # 40 s: 20 + 0.25 * 20
        (12, 0, 0.0, 10240 * S),  # 10 s * 2^11 = 20480 s, halved
        (13, 0, 0.0, 3 * H),  # 10 s * 2^12 = 40960 s > 6 h: capped, then halved
        (40, 0, 0.999, 3 * H + int(0.999 * 3 * H)),
        (200, 0, 0.0, 3 * H),  # huge attempt counts stay capped
        (30, 3 * DAY - 60 * S, 0.5, 3 * DAY),  # moved to the window's end
        (31, 3 * DAY, 0.5, None),  # at the end: failed for good
        (31, 3 * DAY + 1, 0.0, None),
    ],
)
def test_retry_schedule(attempts: int, now: int, draw: float, expected: int | None) -> None:
    assert retry_at(0, attempts, now, draw) == expected


def test_retry_schedule_window_starts_at_the_event_or_a_redelivery() -> None:
    start = 1_000 * DAY
    assert retry_at(start, 5, start + 3 * DAY - 1, 0.0) == start + 3 * DAY
    assert retry_at(start, 5, start + 3 * DAY, 0.0) is None
    # the whole schedule with a fixed draw: doubling from 10 s to the 6 h cap, ends at 3 days
    now, attempts, waits = start, 0, []
    while (now_next := retry_at(start, attempts + 1, now, 0.0)) is not None:
        waits.append((now_next - now) // S)
        now, attempts = now_next, attempts + 1
    assert waits[:12] == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240]
    assert set(waits[12:-1]) == {10800}
    assert now == start + 3 * DAY
    assert attempts == len(waits) == 35


def test_retry_schedule_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="attempts must be at least 1"):
        retry_at(0, 0, 0, 0.0)
    with pytest.raises(ValueError, match=r"draw must be in \[0, 1\)"):
        retry_at(0, 1, 0, 1.0)


# --- URL checks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allow_http", "allow_private", "message"),
    [
        ("http://hooks.example.com/x", False, False, "must use https; plain http needs"),
        ("ftp://hooks.example.com/x", True, True, "must use https, not 'ftp'"),
        ("hooks.example.com/x", False, False, "must use https, not 'no scheme'"),
        ("https://user:pw@hooks.example.com/x", False, False, "user name or password"),
        ("https://hooks.example.com/x#frag", False, False, "fragment"),
        ("https:///x", False, False, "must name a host"),
        ("https://hooks_example.com/x", False, False, "not a valid host name"),
        ("https://hooks.example.com:0/x", False, False, "port must be 1 to 65535"),
        ("https://hooks.example.com:99999/x", False, False, "malformed webhook URL"),
        ("https://[::1/x", False, False, "malformed webhook URL"),
        ("https://hooks.example.com/a b", False, False, "no spaces"),
        ("https://hooks.exämple.com/", False, False, "non-ASCII"),
        ("https://" + "a" * 2050 + ".com/", False, False, "1 to 2048 characters"),
        ("", False, False, "1 to 2048 characters"),
        ("https://127.0.0.1/x", False, False, "address 127.0.0.1 is loopback"),
        ("https://localhost:8443/x", False, False, "address 127.0.0.1 is loopback"),
        ("https://10.1.2.3/x", False, False, "address 10.1.2.3 is private"),
        ("https://192.168.0.10/x", False, False, "is private"),
        ("https://169.254.169.254/latest", False, False, "is link-local"),
        ("https://[::1]/x", False, False, "address ::1 is loopback"),
        ("https://[fe80::1]/x", False, False, "is link-local"),
        ("https://[::ffff:127.0.0.1]/x", False, False, "address 127.0.0.1 is loopback"),
        ("https://100.64.0.1/x", False, False, "reserved or not global"),
        ("https://0.0.0.0/x", False, True, "multicast or unspecified"),
        ("https://224.0.0.1/x", False, True, "multicast or unspecified"),
    ],
)
def test_bad_urls_are_refused(
    url: str, allow_http: bool, allow_private: bool, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        check_url(url, allow_http=allow_http, allow_private=allow_private)
    assert caught.value.details == {"param": "url"}


@pytest.mark.parametrize(
    ("url", "allow_http", "allow_private"),
    [
        ("https://hooks.example.com/x?a=1", False, False),
        ("https://hooks.example.com:8443/", False, False),
        ("https://93.184.216.34/x", False, False),
        ("https://[2606:4700::1]/x", False, False),
        ("http://127.0.0.1:8080/x", True, True),
        ("https://10.1.2.3/x", False, True),
        ("https://localhost/x", False, True),
    ],
)
def test_good_urls_pass(url: str, allow_http: bool, allow_private: bool) -> None:
    assert check_url(url, allow_http=allow_http, allow_private=allow_private) == url


def test_url_check_refuses_non_bool_flags_and_non_strings() -> None:
    with pytest.raises(InvalidInput, match="allow_http must be True or False") as caught:
        check_url("https://hooks.example.com/", allow_http=1)  # type: ignore[arg-type]
    assert caught.value.details == {"param": "allow_http"}
    with pytest.raises(InvalidInput, match="must be a string, got int"):
        check_url(3)


def test_address_refusals() -> None:
    assert address_refusal("93.184.216.34", allow_private=False) is None
    assert address_refusal("127.0.0.1", allow_private=True) is None
    assert address_refusal("fe80::1%eth0", allow_private=True) is None
    assert address_refusal("::", allow_private=True) == "address :: is multicast or unspecified"
    assert address_refusal("nonsense", allow_private=True) == "'nonsense' is not an IP address"


# --- the transport ----------------------------------------------------------------------------


def quick(**kw: object) -> HttpTransport:
    return HttpTransport(timeout=0.5, **kw)  # type: ignore[arg-type]


def test_transport_defaults() -> None:
    transport = HttpTransport()
    assert (transport.timeout, transport.max_body) == (DEFAULT_TIMEOUT, MAX_BODY) == (10.0, 65536)
    with pytest.raises(ValueError, match="must be positive"):
        HttpTransport(timeout=0)


def test_a_signed_post_is_delivered_and_verified() -> None:
    with Receiver([SECRET]) as receiver:
        headers, body = signed(EVENT)
        attempt = quick().post(Target(receiver.url, True, True), headers, body)
    assert attempt == Attempt(200, None)
    assert attempt.ok
    assert receiver.counts == {EVENT.id: 1}
    assert receiver.bad == []
    assert receiver.hosts == [f"127.0.0.1:{receiver.port}"]
    assert receiver.bodies[EVENT.id]["data"] == {"quantities": {"core": 3}}


def test_a_wrong_signature_is_refused_by_the_receiver() -> None:
    with Receiver([OLD_SECRET]) as receiver:
        headers, body = signed(EVENT)
        attempt = quick().post(Target(receiver.url, True, True), headers, body)
    assert attempt == Attempt(400, "HTTP 400")
    assert receiver.counts == {}
    assert len(receiver.bad) == 1


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("500", Attempt(500, "HTTP 500")),
        ("redirect", Attempt(302, "HTTP 302: redirects are not followed")),
        ("hang", Attempt(None, "timed out after 0.5 s")),
        ("cut", Attempt(200, "connection closed mid-body (990 bytes missing)")),
    ],
)
def test_failing_receivers_give_failed_attempts(behaviour: str, expected: Attempt) -> None:
    with Receiver([SECRET], behaviour, hang_seconds=2.0) as receiver:
        headers, body = signed(EVENT)
        attempt = quick().post(Target(receiver.url, True, True), headers, body)
    assert attempt == expected
    assert not attempt.ok
    assert receiver.requests == 1  # a redirect is not followed


def test_at_most_64_kib_of_the_body_is_read() -> None:
    # the receiver sends 65 KiB of a 1 MiB body and then stalls: reading past the cap
    # would wait for the timeout
    with Receiver([SECRET], "big", hang_seconds=2.0) as receiver:
        headers, body = signed(EVENT)
        attempt = quick().post(Target(receiver.url, True, True), headers, body)
    assert attempt == Attempt(200, None)
    with Receiver([SECRET], "big", hang_seconds=2.0) as receiver:
        bigger = HttpTransport(timeout=0.5, max_body=MAX_BODY * 2)
        assert bigger.post(Target(receiver.url, True, True), headers, body) == Attempt(
            200, "timed out after 0.5 s"
        )


def test_a_refused_connection_is_a_failed_attempt() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    headers, body = signed(EVENT)
    attempt = quick().post(Target(f"http://127.0.0.1:{port}/x", True, True), headers, body)
    assert attempt.status is None
    assert attempt.error is not None
    assert attempt.error.startswith("ConnectionRefusedError: ")
    assert SECRET not in attempt.error


@pytest.mark.parametrize(
    ("allow_http", "allow_private", "refusal"),
    [
        (False, True, "a webhook URL must use https; plain http needs allow_http=True"),
        (True, False, "refused: 127.0.0.1 address 127.0.0.1 is loopback (allow_private is off)"),
    ],
    ids=["https_unless_http_is_allowed", "private_address_unless_allowed"],
)
def test_a_target_refused_by_its_settings_is_never_sent(
    allow_http: bool, allow_private: bool, refusal: str
) -> None:
    with Receiver([SECRET]) as receiver:
        headers, body = signed(EVENT)
        attempt = quick().post(Target(receiver.url, allow_http, allow_private), headers, body)
    assert attempt == Attempt(None, refusal)
    assert receiver.requests == 0


class Resolver:
    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.addresses


def test_a_name_is_resolved_once_and_the_checked_address_is_used() -> None:
    with Receiver([SECRET]) as receiver:
        resolver = Resolver(["127.0.0.1"])
        headers, body = signed(EVENT)
        url = f"http://hooks.test:{receiver.port}/hook"
        attempt = quick(resolve=resolver).post(Target(url, True, True), headers, body)
    assert attempt == Attempt(200, None)
    assert resolver.calls == [("hooks.test", receiver.port)]
    assert receiver.hosts == [f"hooks.test:{receiver.port}"]


@pytest.mark.parametrize(
    ("addresses", "error"),
    [
        (["10.0.0.5"], "refused: hooks.test address 10.0.0.5 is private (allow_private is off)"),
        # one bad address among good ones refuses the name (rebinding tricks)
        (
            ["93.184.216.34", "127.0.0.1"],
            "refused: hooks.test address 127.0.0.1 is loopback (allow_private is off)",
        ),
        ([], "hooks.test resolves to no address"),
    ],
)
def test_names_resolving_to_private_addresses_are_refused(addresses: list[str], error: str) -> None:
    headers, body = signed(EVENT)
    attempt = quick(resolve=Resolver(addresses)).post(Target("https://hooks.test/x"), headers, body)
    assert attempt == Attempt(None, error)


def test_a_name_that_does_not_resolve_is_a_failed_attempt() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise socket.gaierror(-2, "Name or service not known")

    headers, body = signed(EVENT)
    attempt = quick(resolve=fail).post(Target("https://nowhere.test/x"), headers, body)
    assert attempt == Attempt(
        None, "cannot resolve nowhere.test: gaierror: [Errno -2] Name or service not known"
    )


def test_https_names_the_host_while_connecting_to_the_checked_address(tmp_path: Path) -> None:
    server_tls, client_tls = self_signed("hooks.test", tmp_path)
    with Receiver([SECRET], tls=server_tls) as receiver:
        headers, body = signed(EVENT)
        url = f"https://hooks.test:{receiver.port}/hook"
        transport = quick(resolve=Resolver(["127.0.0.1"]), ssl_context=client_tls)
        assert transport.post(Target(url, False, True), headers, body) == Attempt(200, None)
        assert receiver.hosts == [f"hooks.test:{receiver.port}"]
        # the certificate is checked against the URL's host, not the address
        other = f"https://other.test:{receiver.port}/hook"
        attempt = transport.post(Target(other, False, True), headers, body)
    assert attempt.status is None
    assert attempt.error is not None
    assert attempt.error.startswith("SSLCertVerificationError: ")
    assert "other.test" in attempt.error
    assert receiver.counts == {EVENT.id: 1}


def test_the_deadline_covers_the_whole_exchange() -> None:
    # the default is 10 s; a shorter one holds for a receiver that never answers
    started = datetime.now(UTC)
    with Receiver([SECRET], "hang", hang_seconds=2.0) as receiver:
        headers, body = signed(EVENT)
        attempt = HttpTransport(timeout=0.3).post(Target(receiver.url, True, True), headers, body)
    assert attempt == Attempt(None, "timed out after 0.3 s")
    assert datetime.now(UTC) - started < timedelta(seconds=2)
