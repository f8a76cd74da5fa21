"""A safe HTTP transport for webhook deliveries (SPEC §7, "Safety").

What it promises, for every POST:

- ``https`` only, unless the endpoint allows plain ``http``; no user name or
  password in the URL, no fragment.
- The host is resolved once, and every address it resolves to is checked:
  private, loopback, link-local, shared (CGNAT), reserved, multicast and
  unspecified addresses are refused, unless the endpoint allows private
  addresses (multicast and unspecified are refused even then). The connection
  goes to the address that was checked, never to a second lookup, so a DNS
  answer that changes in between (DNS rebinding) cannot redirect it. For
  ``https`` the TLS handshake still names the host (SNI) and checks its
  certificate against it, and the ``Host`` header names it as well.
- One deadline (:attr:`HttpTransport.timeout`, 10 s) covers connecting,
  sending and reading the whole response: a watchdog closes the socket when it
  passes, so a receiver that drips its answer byte by byte cannot hold a
  dispatcher longer.
- Redirects are never followed: a 3xx is a failed attempt (retried).
- At most :data:`MAX_BODY` bytes (64 KiB) of the response body are read; the
  connection is then closed.
- Nothing escapes: a refused connection, a reset, a connection closed in the
  middle of the body, a timeout or a TLS failure becomes an :class:`Attempt`
  with a short error text. The request's headers (which carry signatures) are
  never put in that text.

The standard library's :mod:`http.client` does the HTTP/1.1 (no new runtime
dependency, and it never follows redirects by itself).
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import attrs

from axis_licensing.errors import InvalidInput

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_BODY",
    "MAX_URL_LENGTH",
    "Attempt",
    "HttpTransport",
    "Resolver",
    "Target",
    "Transport",
    "address_refusal",
    "check_url",
]

#: Seconds for one delivery: connect, send and read the whole response.
DEFAULT_TIMEOUT = 10.0
#: The most response-body bytes read.
MAX_BODY = 64 * 1024
#: The longest endpoint URL accepted.
MAX_URL_LENGTH = 2048
#: The longest error text kept for an attempt.
_MAX_ERROR = 200

#: ``resolve(host, port)`` -> the host's addresses, as text; raises ``OSError`` on failure.
Resolver = Callable[[str, int], Sequence[str]]


@attrs.frozen
class Target:
    """Where a delivery goes, and what the endpoint allows.

    Attributes:
        url: the endpoint's URL.
        allow_http: plain ``http`` is allowed.
        allow_private: private, loopback and link-local addresses are allowed.
    """

    url: str
    allow_http: bool = False
    allow_private: bool = False


@attrs.frozen
class Attempt:
    """The outcome of one POST.

    Attributes:
        status: the HTTP status received, None when none was (refused, timed out, …).
        error: why the attempt failed, in a few words; None when it succeeded.
    """

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the receiver answered 2xx and its whole (capped) body was read."""
        return self.error is None and self.status is not None and 200 <= self.status < 300


class Transport(Protocol):
    """What the dispatcher sends with (a test may pass its own)."""

    def post(self, target: Target, headers: Mapping[str, str], body: bytes) -> Attempt:
        """POST ``body`` to ``target``; never raises, every failure is an :class:`Attempt`."""
        ...


@attrs.frozen
class _Parsed:
    scheme: str
    host: str
    port: int
    path: str


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, param="url")


def _parse(url: object, *, allow_http: bool) -> _Parsed:
    """The parts of an endpoint URL, checked (see the module docstring).

    Raises:
        InvalidInput: a malformed or refused URL (``param="url"``).
    """
    if not isinstance(url, str):
        raise _refuse(f"a webhook URL must be a string, got {type(url).__name__}")
    if not url or len(url) > MAX_URL_LENGTH:
        raise _refuse(f"a webhook URL holds 1 to {MAX_URL_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() or ord(c) > 0x7E for c in url):
        raise _refuse("a webhook URL holds no spaces, control or non-ASCII characters")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise _refuse(f"malformed webhook URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise _refuse(f"a webhook URL must use https, not {scheme or 'no scheme'!r}")
    if scheme == "http" and not allow_http:
        raise _refuse("a webhook URL must use https; plain http needs allow_http=True")
    if parts.username is not None or parts.password is not None:
        raise _refuse("a webhook URL must not hold a user name or password")
    if parts.fragment:
        raise _refuse("a webhook URL must not hold a fragment (#…)")
    if not host:
        raise _refuse("a webhook URL must name a host")
    if not _is_ip(host) and not all(
        label and len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
        for label in host.rstrip(".").split(".")
    ):
        raise _refuse(f"the webhook URL's host {host!r} is not a valid host name")
    if port == 0:
        raise _refuse("a webhook URL's port must be 1 to 65535")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Parsed(scheme, host, port or (443 if scheme == "https" else 80), path)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


#: What a host written as a number may hold: digits, dots, and hex (``0x7f.1``).
_NUMERIC_HOST = frozenset("0123456789abcdefxABCDEFX.")


def _as_address(host: str) -> str:
    """``host`` as the IPv4 address a resolver reads it as, or ``host`` unchanged.

    Besides the dotted quad, resolvers take IPv4 in shorthand (``127.1``), as
    one number (``2130706433``) and in hex or octal (``0x7f000001``,
    ``0177.0.0.1``); each is checked as the address it stands for.
    """
    if not host or not set(host) <= _NUMERIC_HOST or _is_ip(host):
        return host
    try:
        packed = socket.inet_aton(host)
    except OSError:
        return host  # a name such as "cafe.be"
    return str(ipaddress.IPv4Address(packed))


def address_refusal(address: str, *, allow_private: bool) -> str | None:  # noqa: PLR0911 - one refusal each
    """Why a delivery may not connect to ``address``; None when it may.

    Multicast and unspecified addresses are always refused. Private, loopback,
    link-local, shared (100.64.0.0/10), reserved and other non-global addresses
    are refused unless ``allow_private``. An IPv4 address mapped into IPv6 is
    judged as the IPv4 address.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast or ip.is_unspecified:
        return f"address {ip} is multicast or unspecified"
    if allow_private:
        return None
    if ip.is_loopback:
        return f"address {ip} is loopback (allow_private is off)"
    if ip.is_link_local:
        return f"address {ip} is link-local (allow_private is off)"
    if ip.is_private:
        return f"address {ip} is private (allow_private is off)"
    if ip.is_reserved or not ip.is_global:
        return f"address {ip} is reserved or not global (allow_private is off)"
    return None


def check_url(url: object, *, allow_http: bool = False, allow_private: bool = False) -> str:
    """Check an endpoint's URL when it is added or changed.

    The scheme, the form and, when the host is an IP address literal or
    ``localhost``, the address are checked now; a host name is resolved and its
    addresses checked at each delivery (a name's addresses may change).

    Args:
        url: the URL.
        allow_http: plain ``http`` is allowed.
        allow_private: private, loopback and link-local addresses are allowed.

    Returns:
        The URL, unchanged.

    Raises:
        InvalidInput: a bad URL, scheme or address (``param="url"``), or a flag
            that is not a bool (``param`` names it).
    """
    for name, flag in (("allow_http", allow_http), ("allow_private", allow_private)):
        if not isinstance(flag, bool):
            raise InvalidInput(f"{name} must be True or False, got {flag!r}", param=name)
    parsed = _parse(url, allow_http=allow_http)
    host = parsed.host
    if host.rstrip(".").lower() == "localhost" or host.rstrip(".").lower().endswith(".localhost"):
        host = "127.0.0.1"
    host = _as_address(host)
    if _is_ip(host):
        reason = address_refusal(host, allow_private=allow_private)
        if reason is not None:
            raise _refuse(f"the webhook URL's {reason}")
    assert isinstance(url, str)
    return url


def _resolve(host: str, port: int) -> Sequence[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:_MAX_ERROR]


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to a checked address; ``Host`` names the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address; SNI, the certificate check and ``Host`` name the host."""

    def __init__(
        self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.address = address
        self.tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        try:
            self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


class HttpTransport:
    """POSTs deliveries safely (see the module docstring). Thread-safe; keeps no connection."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_body: int = MAX_BODY,
        resolve: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Make a transport.

        Args:
            timeout: seconds for one delivery, connect to last byte (tests shorten it).
            max_body: the most response-body bytes read.
            resolve: how host names are resolved (default: :func:`socket.getaddrinfo`).
            ssl_context: TLS settings (default: the system's trusted CAs, hostname checked).

        Raises:
            ValueError: a timeout or body limit that is not positive.
        """
        if timeout <= 0 or max_body <= 0:
            raise ValueError("timeout and max_body must be positive")
        self.timeout = float(timeout)
        self.max_body = max_body
        self._resolve = resolve or _resolve
        self._ssl = ssl_context or ssl.create_default_context()

    def post(self, target: Target, headers: Mapping[str, str], body: bytes) -> Attempt:
        """POST ``body`` with ``headers`` to ``target``.

        Returns:
            The status received, and an error text unless it was 2xx with its
            (capped) body read whole.
        """
        try:
            parsed = _parse(target.url, allow_http=target.allow_http)
        except InvalidInput as exc:
            return Attempt(None, exc.message[:_MAX_ERROR])
        try:
            addresses = (
                [parsed.host] if _is_ip(parsed.host) else self._resolve(parsed.host, parsed.port)
            )
        except (OSError, UnicodeError) as exc:
            return Attempt(None, f"cannot resolve {parsed.host}: {_short(exc)}"[:_MAX_ERROR])
        if not addresses:
            return Attempt(None, f"{parsed.host} resolves to no address")
        for address in addresses:
            reason = address_refusal(address, allow_private=target.allow_private)
            if reason is not None:
                return Attempt(None, f"refused: {parsed.host} {reason}"[:_MAX_ERROR])
        return self._send(parsed, addresses[0].split("%", 1)[0], headers, body)

    def _send(
        self, parsed: _Parsed, address: str, headers: Mapping[str, str], body: bytes
    ) -> Attempt:
        conn: http.client.HTTPConnection
        if parsed.scheme == "https":
            conn = _PinnedHTTPS(parsed.host, parsed.port, address, self.timeout, self._ssl)
        else:
            conn = _PinnedHTTP(parsed.host, parsed.port, address, self.timeout)
        expired = threading.Event()

        def watchdog() -> None:
            expired.set()
            sock = conn.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(self.timeout, watchdog)
        timer.daemon = True
        status: int | None = None
        started = time.monotonic()
        timer.start()
        try:
            conn.request("POST", parsed.path, body=body, headers=dict(headers))
            response = conn.getresponse()
            status = response.status
            error = self._drain(response)
        except Exception as exc:  # every failure is an attempt, never an escape
            if expired.is_set() or isinstance(exc, TimeoutError):
                error = f"timed out after {self.timeout:g} s"
            else:
                error = _short(exc)
        finally:
            timer.cancel()
            conn.close()
        if error is None and expired.is_set():
            error = f"timed out after {self.timeout:g} s"
        if error is None and time.monotonic() - started > self.timeout:
            error = f"timed out after {self.timeout:g} s"
        if error is None and status is not None and not 200 <= status < 300:
            error = _status_text(status)
        return Attempt(status, error)

    def _drain(self, response: http.client.HTTPResponse) -> str | None:
        """Read up to :attr:`max_body` bytes; an error text if the body was cut short."""
        left = self.max_body
        while left > 0:
            chunk = response.read(min(left, 16384))
            if not chunk:
                break
            left -= len(chunk)
        if left > 0 and response.length:  # EOF before Content-Length bytes came
            return f"connection closed mid-body ({response.length} bytes missing)"
        return None


def _status_text(status: int) -> str:
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed"
    return f"HTTP {status}"
