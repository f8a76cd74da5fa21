"""A local webhook receiver for the events-out tests (SPEC §7), and store helpers.

:class:`Receiver` runs ``http.server`` on 127.0.0.1 in a thread. Every request's
signature is checked with the ``standardwebhooks`` package's own
``Webhook.verify``, against each secret the receiver knows; verified requests
are counted per ``webhook-id``, failures kept in :attr:`Receiver.bad`. A
``behaviour`` makes it answer 200, 500, a 302 redirect, hang, close mid-body, or
send a body larger than the transport reads. It also records whether two
requests with one ``webhook-id`` were ever in flight at the same moment.

A plain module (tests/ has no package), imported by name.
"""

from __future__ import annotations

import collections
import contextlib
import http.server
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from axis_licensing import LicenseKind, Manager, ManualClock, offline
from axis_licensing.backends import Backend
from axis_licensing.backends.memory import MemoryBackend
from axis_licensing.backends.postgresql import PostgreSQLBackend
from axis_licensing.backends.sqlite import SQLiteBackend
from axis_licensing.events.model import WebhookEndpoint, delivery_id
from axis_licensing.events.signing import new_secret
from axis_licensing.events.store import EndpointRow, EventsTx, events_of

__all__ = ["Receiver", "add_endpoint", "open_backend", "self_signed", "tx_of"]

BEHAVIOURS = ("ok", "500", "redirect", "hang", "cut", "big", "slow-ok")


def self_signed(host: str, directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server TLS context with a fresh self-signed certificate for ``host``, and a
    client context that trusts exactly that certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "cert.pem").write_bytes(cert_pem)
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client


def open_backend(url: str) -> Backend:
    """A bare backend for ``url`` (no Manager: the shell is not wired to events yet)."""
    if url.startswith("memory"):
        return MemoryBackend(url)
    if url.startswith("sqlite"):
        return SQLiteBackend(url)
    return PostgreSQLBackend(url)


def tx_of(tx: object) -> EventsTx:
    """The events-out view of a transaction."""
    return events_of(tx)


def add_endpoint(
    store: Backend,
    url: str,
    *,
    org_id: str | None = "acme",
    endpoint_id: str = "wh_1",
    types: tuple[str, ...] | None = None,
    enabled: bool = True,
    secret: str | None = None,
    created_at: datetime = datetime(2026, 1, 1, tzinfo=UTC),
) -> EndpointRow:
    """Store an endpoint (loopback and http allowed) and return its row."""
    endpoint = WebhookEndpoint(
        endpoint_id=endpoint_id,
        org_id=org_id,
        url=url,
        types=types,
        enabled=enabled,
        allow_http=True,
        allow_private=True,
        created_at=created_at,
    )
    row = EndpointRow.new(endpoint, secret or new_secret())
    with store.write() as tx:
        assert tx_of(tx).insert_endpoint(row)
    return row


class Receiver:
    """A webhook receiver on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        secrets: Sequence[str],
        behaviour: str = "ok",
        *,
        hang_seconds: float = 3.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        assert behaviour in BEHAVIOURS
        self.secrets = list(secrets)
        self.behaviour = behaviour
        self.hang_seconds = hang_seconds
        self.counts: collections.Counter[str] = collections.Counter()
        self.bodies: dict[str, Any] = {}
        self.bad: list[str] = []
        self.requests = 0
        self.overlaps = 0
        self.hosts: list[str] = []
        self._in_flight: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The receiver's URL (plain http on loopback)."""
        return f"{self.scheme}://127.0.0.1:{self.port}/hook"

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def verify(self, body: bytes, headers: dict[str, str]) -> Any:
        """The parsed body if some secret verifies it; raises otherwise."""
        errors = []
        for secret in self.secrets:
            try:
                return Webhook(secret).verify(body, headers)
            except WebhookVerificationError as exc:
                errors.append(str(exc))
        raise WebhookVerificationError("; ".join(errors))

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                msg_id = headers.get("webhook-id", "")
                with receiver._lock:
                    receiver.requests += 1
                    receiver.hosts.append(headers.get("host", ""))
                    receiver._in_flight[msg_id] += 1
                    if receiver._in_flight[msg_id] > 1:
                        receiver.overlaps += 1
                try:
                    self._answer(body, headers, msg_id)
                finally:
                    with receiver._lock:
                        receiver._in_flight[msg_id] -= 1

            def _answer(self, body: bytes, headers: dict[str, str], msg_id: str) -> None:
                behaviour = receiver.behaviour
                if behaviour == "hang":
                    time.sleep(receiver.hang_seconds)
                    self._reply(200, b"late")
                    return
                if behaviour == "500":
                    self._reply(500, b"boom")
                    return
                if behaviour == "redirect":
                    self.send_response(302)
                    self.send_header("location", receiver.url + "/elsewhere")
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if behaviour == "cut":
                    self.send_response(200)
                    self.send_header("content-length", "1000")
                    self.end_headers()
                    self.wfile.write(b"x" * 10)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                try:
                    parsed = receiver.verify(body, headers)
                except WebhookVerificationError as exc:
                    with receiver._lock:
                        receiver.bad.append(f"{msg_id}: {exc}")
                    self._reply(400, b"bad signature")
                    return
                with receiver._lock:
                    receiver.counts[msg_id] += 1
                    receiver.bodies[msg_id] = parsed
                if behaviour == "big":
                    # more than 64 KiB comes at once, the rest never: a transport
                    # that reads past its cap waits for its timeout
                    self.send_response(200)
                    self.send_header("content-length", str(1024 * 1024))
                    self.end_headers()
                    self.wfile.write(b"y" * (65 * 1024))
                    self.wfile.flush()
                    time.sleep(receiver.hang_seconds)
                    return
                if behaviour == "slow-ok":
                    time.sleep(0.05)
                self._reply(200, b"ok")

            def _reply(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                # the transport may have stopped reading (64 KiB cap, timeout)
                with contextlib.suppress(OSError):
                    self.wfile.write(payload)

        return Handler


@contextmanager
def receiving(secrets: Sequence[str], behaviour: str = "ok", **kw: Any) -> Iterator[Receiver]:
    """A running :class:`Receiver`."""
    with Receiver(secrets, behaviour, **kw) as receiver:
        yield receiver


def start_nord(m: Manager) -> None:
    """Alice's organization ``nord`` in Stockholm, its system ``srv-1`` and subscription started."""
    m.create_organization("nord", name="Nord", timezone="Europe/Stockholm", actor="alice")
    m.register_system("nord", "acs-pro", "srv-1", devices={"core": 3, "door": 1}, actor="alice")
    m.start_subscription("nord", "acs-pro", actor="alice")


def license_nord_every_way(m: Manager, clock: ManualClock) -> str:
    """Organization ``nord``, its subscription started: every way a license comes and goes.

    A key redeemed, hardware shipped, registered to ``srv-1`` and extended, a
    system file uploaded, then on 2026-03-02 an allocation (with compensation)
    and devices past the allowance (growth). Every action is Alice's. Returns
    the subscription key it redeemed.
    """
    key = m.vendor.issue_key("acs-pro", quantities={"core": 20, "door": 2})
    m.redeem_key("nord", key, actor="alice")
    m.vendor.ship_hardware("SN-1", "acs-pro", {"core": 2})
    m.register_hardware("nord", "srv-1", "SN-1", actor="alice")
    hw = m.vendor.issue_key("acs-pro", LicenseKind.HARDWARE, {"core": 3})
    m.redeem_key("nord", hw, actor="alice")
    m.allocate_to_hardware("nord", "SN-1", {"core": 1}, actor="alice")
    m.upload_system_file(
        "nord",
        offline.describe_system(
            system_id="off-1", product="acs-pro", devices={"core": 1}, now=clock.now()
        ),
        actor="alice",
    )
    clock.set(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    m.allocate("nord", "acs-pro", {"core": 10, "door": 1}, actor="alice")  # + compensation
    m.report_devices("nord", "srv-1", {"core": 40, "door": 1}, actor="alice")  # + growth
    return key


def walk_a_webhook(m: Manager, **changes: Any) -> None:
    """Every webhook command on ``nord``, by Alice: add, update with ``changes``, rotate the
    secret, send the ``webhook_added`` event again, remove."""
    ep = m.webhooks.add(
        "nord", "http://127.0.0.1:9/h", actor="alice", allow_http=True, allow_private=True
    )
    m.webhooks.update(ep.endpoint_id, **changes, actor="alice")
    m.webhooks.rotate_secret(ep.endpoint_id, actor="alice")
    added = next(e for e in m.events("nord") if e.type == "webhook_added")
    m.webhooks.redeliver(delivery_id(added.id, ep.endpoint_id), actor="alice")
    m.webhooks.remove(ep.endpoint_id, actor="alice")
