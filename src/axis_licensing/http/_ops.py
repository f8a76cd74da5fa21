"""Running the service for real (SPEC §6.1): health, readiness, metrics, secrets, workers.

- ``GET /healthz``: the process is up (200 ``{"status": "ok"}``).
- ``GET /readyz``: the store answers a cheap read through the Manager (200), or
  a 503 problem with the error's code (``storage_error``).
- ``GET /metrics``: Prometheus text (:mod:`axis_licensing.http._metrics`). It
  needs no API token, but it answers loopback clients only, unless a metrics
  token is configured: then any client that sends it as a bearer token.

``axis-licensing serve`` runs uvicorn on :func:`app_from_env`, an application
factory that each worker process calls; it reads its options from the
``AXIS_LICENSING_*`` environment variables that ``serve`` sets, so every worker
opens the same store with the same tokens, session secret and cookie policy.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import ipaddress
import os
import secrets
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, Request, Response, get
from litestar.types import Message, Scope

from axis_licensing._convert import to_jsonable
from axis_licensing.errors import ConcurrencyConflict, InvalidInput, StorageError
from axis_licensing.events.background import Background
from axis_licensing.events.store import events_of
from axis_licensing.http._metrics import CONTENT_TYPE, Metrics
from axis_licensing.http._problems import PROBLEM_JSON, Problem
from axis_licensing.manager import Manager

__all__ = [
    "ENV_ADMIN_SHA256",
    "ENV_CATALOG",
    "ENV_DB",
    "ENV_METRICS_TOKEN",
    "ENV_SECRET",
    "ENV_SECRET_FILE",
    "ENV_SECURE_COOKIES",
    "ENV_STATE_DIR",
    "ENV_TOKENS",
    "OPS_PATHS",
    "app_from_env",
    "default_state_dir",
    "load_session_secret",
    "ops_routes",
    "parse_secret",
    "secure_cookies_over_https",
    "session_secret",
]

ENV_DB = "AXIS_LICENSING_DB"
ENV_CATALOG = "AXIS_LICENSING_CATALOG"
ENV_TOKENS = "AXIS_LICENSING_TOKENS"
ENV_SECRET = "AXIS_LICENSING_SESSION_SECRET"  # noqa: S105  a variable's name
ENV_SECRET_FILE = "AXIS_LICENSING_SESSION_SECRET_FILE"  # noqa: S105
ENV_STATE_DIR = "AXIS_LICENSING_STATE_DIR"
ENV_SECURE_COOKIES = "AXIS_LICENSING_SECURE_COOKIES"
ENV_METRICS_TOKEN = "AXIS_LICENSING_METRICS_TOKEN"  # noqa: S105
#: "0" turns off the sweeper and dispatcher threads of each worker (SPEC §7); on by default.
ENV_EVENTS = "AXIS_LICENSING_EVENTS"
#: The SHA-256 of the one-time admin token ``serve`` prints when it has no tokens file.
ENV_ADMIN_SHA256 = "AXIS_LICENSING_SERVE_ADMIN_SHA256"

#: The paths of :func:`ops_routes`: no session, no CSRF cookie.
OPS_PATHS = ("/healthz", "/readyz", "/metrics")

#: The name of the generated session secret in the state directory.
SECRET_FILE_NAME = "session-secret"  # noqa: S105  a file's name

_SECRET_SIZES = (16, 24, 32)


# -- health, readiness, metrics ------------------------------------------------------------------


def _fill_outbox(manager: Manager, metrics: Metrics) -> None:
    """Set the outbox gauges from the store (SPEC §7); a failing store leaves them as they were."""
    try:
        with manager.backend.read() as tx:
            stats = events_of(tx).outbox_stats()
    except (StorageError, TypeError):  # TypeError: a backend that stores no events
        return
    metrics.set_outbox(stats.depth, stats.oldest_age_seconds(manager.clock.now()))


def _problem(status: int, title: str, detail: str, code: str) -> Response[Any]:
    problem = Problem(title=title, status=status, detail=detail, code=code)
    return Response(to_jsonable(problem), status_code=status, media_type=PROBLEM_JSON)


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def ops_routes(manager: Manager, metrics: Metrics, metrics_token: str | None = None) -> list[Any]:
    """The ``/healthz``, ``/readyz`` and ``/metrics`` route handlers (no API token needed).

    Args:
        manager: the Manager whose store ``/readyz`` reads.
        metrics: the application's metrics, rendered by ``/metrics``.
        metrics_token: a bearer token that opens ``/metrics`` to any client;
            without it, only loopback clients may read it.

    Returns:
        The route handlers, for ``Litestar(route_handlers=...)``.
    """

    @get("/healthz", sync_to_thread=False, include_in_schema=False, media_type=MediaType.JSON)
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @get("/readyz", sync_to_thread=True, include_in_schema=False, media_type=MediaType.JSON)
    def readyz() -> Response[Any]:
        """The store answers a cheap read through the Manager; 503 when it does not."""
        try:
            manager.organizations(limit=1)
        except (StorageError, ConcurrencyConflict) as exc:  # its message may name the store
            return _problem(503, "Service Unavailable", "the store does not answer", exc.code)
        return Response({"status": "ok"}, media_type=MediaType.JSON)

    @get("/metrics", sync_to_thread=False, include_in_schema=False)
    def metrics_text(request: Request[Any, Any, Any]) -> Response[Any]:
        """Prometheus text; loopback clients only, or any client with the metrics token."""
        if metrics_token is not None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            allowed = scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode(), metrics_token.encode()
            )
        else:
            client = request.scope.get("client")
            allowed = client is not None and _is_loopback(client[0])
        if not allowed:
            return _problem(
                403,
                "Forbidden",
                "metrics are for loopback clients or the metrics token",
                "permission_denied",
            )
        _fill_outbox(manager, metrics)
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return [healthz, readyz, metrics_text]


# -- cookies ---------------------------------------------------------------------------------------


async def secure_cookies_over_https(message: Message, scope: Scope) -> None:
    """Mark every cookie ``Secure`` on a request that came over HTTPS (``before_send`` hook).

    Behind a TLS proxy whose address is in uvicorn's ``--forwarded-allow-ips``,
    uvicorn takes the scheme from ``X-Forwarded-Proto``, so the cookies of such
    a request are ``Secure`` without configuration.
    """
    if message["type"] != "http.response.start" or scope.get("scheme") != "https":
        return
    headers = message.get("headers")
    if not headers:
        return
    changed = []
    for name, value in headers:
        if name.lower() == b"set-cookie" and b"; secure" not in value.lower():
            value = value + b"; Secure"
        changed.append((name, value))
    message["headers"] = changed


# -- the session secret ----------------------------------------------------------------------------


def parse_secret(text: str, source: str) -> bytes:
    """The session secret written as hex or base64: 16, 24 or 32 bytes.

    Args:
        text: the secret's text (surrounding whitespace is ignored).
        source: how to name where it came from in messages (never the value).

    Returns:
        The secret's bytes.

    Raises:
        InvalidInput: not hex or base64 of 16, 24 or 32 bytes.
    """
    text = text.strip()
    candidates: list[bytes] = []
    if len(text) in (2 * n for n in _SECRET_SIZES):
        with contextlib.suppress(ValueError):
            candidates.append(bytes.fromhex(text))
    for alphabet in (text, text.replace("-", "+").replace("_", "/")):
        try:
            candidates.append(base64.b64decode(alphabet.encode("ascii"), validate=True))
        except (binascii.Error, ValueError):
            continue
    for secret in candidates:
        if len(secret) in _SECRET_SIZES:
            return secret
    raise InvalidInput(f"{source} must be 16, 24 or 32 bytes written in hex or base64")


def load_session_secret(path: str | Path) -> bytes:
    """The session secret in the file at ``path`` (hex or base64 text).

    Raises:
        InvalidInput: the file cannot be read, or does not hold a secret.
    """
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the session secret file {str(path)!r}: {exc}") from None
    return parse_secret(text, f"the session secret file {str(path)!r}")


def default_state_dir(url: str) -> Path:
    """Where ``serve`` keeps its state (session secret, shared sessions) for the store ``url``.

    Beside an SQLite file (``PATH-state/``); for other stores the user's state
    directory (``$XDG_STATE_HOME/axis-licensing``, else ``~/.local/state/axis-licensing``).
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme.lower() == "sqlite" and not parsed.netloc:
        path = urllib.parse.unquote(parsed.path)
        path = path[1:] if path.startswith("/") else path
        if path and path != ":memory:":
            return Path(path).resolve().parent / (Path(path).name + "-state")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "axis-licensing"


def session_secret(
    *, file: str | Path | None, env: str | None, state_dir: Path
) -> tuple[bytes, str]:
    """The session secret that every worker and every restart shares, and where it is.

    From ``file`` if given, else from ``env`` (the value of
    ``$AXIS_LICENSING_SESSION_SECRET``), else from ``state_dir/session-secret``,
    which is made once (32 random bytes in hex, readable by its owner only).

    Returns:
        The secret, and a description of where it is (never its value).

    Raises:
        InvalidInput: the file or the variable does not hold a secret, or the
            state directory cannot be written.
    """
    if file is not None:
        return load_session_secret(file), f"the file {str(file)!r}"
    if env:
        return parse_secret(env, f"${ENV_SECRET}"), f"${ENV_SECRET}"
    path = state_dir / SECRET_FILE_NAME
    if path.exists():
        return load_session_secret(path), f"the file {str(path)!r}"
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, draft = tempfile.mkstemp(dir=state_dir, prefix=".session-secret-")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
            os.link(draft, path)  # complete or absent: workers starting together agree
        finally:
            os.unlink(draft)
    except FileExistsError:
        return load_session_secret(path), f"the file {str(path)!r}"
    except OSError as exc:
        raise InvalidInput(
            f"cannot write the session secret in {str(state_dir)!r}: {exc}"
        ) from None
    return load_session_secret(path), f"the file {str(path)!r} (made now)"


# -- the application factory -----------------------------------------------------------------------


def app_from_env() -> Litestar:
    """The application of one ``serve`` worker, configured by environment variables.

    ``AXIS_LICENSING_DB`` names the store; ``AXIS_LICENSING_CATALOG`` (a
    catalog as ``serve --catalog`` takes it) creates it if needed and must be
    the store's, as with ``--catalog``; without it the store must exist and
    its own catalog is used (R15). ``AXIS_LICENSING_TOKENS`` names a tokens file;
    ``AXIS_LICENSING_SESSION_SECRET_FILE`` or ``AXIS_LICENSING_SESSION_SECRET``
    the session secret (else the state directory's, made once);
    ``AXIS_LICENSING_STATE_DIR`` the state directory; ``AXIS_LICENSING_SECURE_COOKIES=1``
    marks every cookie ``Secure``; ``AXIS_LICENSING_METRICS_TOKEN`` opens
    ``/metrics`` to clients that send it. The portal's sessions are files in
    the state directory's ``sessions/`` (private to the user), shared by the
    workers and kept across restarts.
    The Manager is closed when the application shuts down.

    Returns:
        The application.

    Raises:
        InvalidInput: a variable is missing or malformed.
        StoreNotFound: no store at ``AXIS_LICENSING_DB``, and no catalog to create one.
        CatalogMismatch: ``AXIS_LICENSING_CATALOG`` differs from the store's.
        StorageError: the store cannot be opened.
    """
    from axis_licensing import SystemClock
    from axis_licensing.http import TokenEntry, TokenFile, create_app

    env = os.environ
    url = env.get(ENV_DB)
    if not url:
        raise InvalidInput(f"${ENV_DB} must name the store to serve")
    if "://" not in url:
        url = "sqlite:///" + url
    state_dir = Path(env[ENV_STATE_DIR]) if env.get(ENV_STATE_DIR) else default_state_dir(url)
    secret, _ = session_secret(
        file=env.get(ENV_SECRET_FILE) or None, env=env.get(ENV_SECRET), state_dir=state_dir
    )
    tokens: TokenFile | None = None
    if env.get(ENV_TOKENS):
        tokens = TokenFile.load(env[ENV_TOKENS])
    elif env.get(ENV_ADMIN_SHA256):
        admin = TokenEntry(env[ENV_ADMIN_SHA256].lower(), "admin", frozenset({"*"}), vendor=True)
        tokens = TokenFile([admin])
    catalog = None
    if env.get(ENV_CATALOG):
        from axis_licensing._cli_store import load_catalog  # the same names and files as serve's

        catalog = load_catalog(env[ENV_CATALOG])
    manager = Manager.open(url, catalog=catalog, clock=SystemClock(), create=catalog is not None)
    try:
        app = create_app(
            manager,
            tokens=tokens,
            secret=secret,
            secure_cookies=env.get(ENV_SECURE_COOKIES, "") in ("1", "true", "yes"),
            metrics_token=env.get(ENV_METRICS_TOKEN) or None,
            session_store=state_dir / "sessions",
        )
    except BaseException:
        manager.close()
        raise
    # events out (SPEC §7): a sweep every minute and a dispatcher, in this worker
    if env.get(ENV_EVENTS, "1") not in ("0", "false", "no"):
        background = Background(manager)

        def start_events() -> None:
            background.start()

        def stop_events() -> None:
            background.stop()

        app.on_startup.append(start_events)
        app.on_shutdown.append(stop_events)
    app.on_shutdown.append(manager.close)
    _members_first_start(manager, tokens if env.get(ENV_TOKENS) else None, secret)
    return app


def _members_first_start(manager: Manager, tokens: Any, secret: bytes) -> None:
    """SPEC §8 on a store without accounts: seed them from a tokens file, or print the setup link.

    Every worker answers the same link (derived from the shared session
    secret); it works once, until the first account exists.
    """
    from axis_licensing.http import seed_accounts, setup_secret

    roles = manager.roles
    if roles is None or roles.has_accounts():
        return
    if tokens is not None:
        seeded = seed_accounts(manager, tokens)
        print(
            f"axis-licensing: seeded {len(seeded)} account(s) from the tokens file", file=sys.stderr
        )
        return
    print(
        "axis-licensing: no account yet; create the first owner at the portal's "
        f"/setup/{setup_secret(secret)} (this link works once)",
        file=sys.stderr,
    )
