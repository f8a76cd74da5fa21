"""The service: a JSON API and a portal over one Manager (SPEC §6).

Install it with the ``server`` extra (``pip install 'axis-licensing[server]'``)
and build the ASGI application with :func:`create_app`; ``axis-licensing serve``
runs it with uvicorn. Like the CLI it is an adapter: it turns requests into
Manager calls, and results and errors into JSON or pages. It decides nothing
about licensing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

try:
    import jinja2 as _jinja2  # noqa: F401
    import litestar as _litestar  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "axis_licensing.http needs the server extra: pip install 'axis-licensing[server]'"
    ) from exc

from litestar import Litestar, MediaType, Request, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import RedocRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.types import Message, Scope

from axis_licensing import __version__
from axis_licensing.errors import InvalidInput
from axis_licensing.http._access import RequestLimits
from axis_licensing.http._api import API_ROUTES
from axis_licensing.http._auth import TokenEntry, TokenFile, hash_token, seed_accounts
from axis_licensing.http._edge import MAX_BODY, dependencies, head_as_get
from axis_licensing.http._fast import kept_answers
from axis_licensing.http._metrics import Metrics
from axis_licensing.http._ops import (
    OPS_PATHS,
    app_from_env,
    ops_routes,
    secure_cookies_over_https,
)
from axis_licensing.http._problems import Problem
from axis_licensing.http._schema import BodySchemas, ValueSchemas, type_encoders
from axis_licensing.manager import Manager

__all__ = [
    "MAX_BODY",
    "Metrics",
    "Problem",
    "TokenEntry",
    "TokenFile",
    "app_from_env",
    "create_app",
    "hash_token",
    "seed_accounts",
    "setup_secret",
]

HERE = Path(__file__).resolve().parent


def setup_secret(session_secret: bytes) -> str:
    """The secret of the one-time link that creates a store's first owner account (SPEC §8).

    Derived from the session secret, so every worker of ``serve`` (which share
    it, §6.1) answers the same link, at ``/setup/<secret>``; it stops working
    once the store has an account.

    Args:
        session_secret: the service's session secret.

    Returns:
        The link's secret (URL-safe text).
    """
    digest = hmac.new(session_secret, b"axis-licensing setup link", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _openapi_json(request: Request[Any, Any, Any]) -> Response[Any]:
    return Response(
        request.app.openapi_schema.to_schema(),
        media_type="application/vnd.oai.openapi+json",
    )


_TYPED = re.compile(r":[a-z]+}")


async def _allow_every_method(message: Message, scope: Scope) -> None:
    """Answer OPTIONS with every method of the path.

    Litestar builds a path's OPTIONS answer from its first handler only, so a
    path with GET and POST handlers said ``Allow: GET, OPTIONS``.
    """
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    app = scope.get("litestar_app")
    template = scope.get("path_template")
    if app is None or not isinstance(template, str):
        return
    methods = {
        _TYPED.sub("}", path): methods for path, methods in app.route_handler_method_map.items()
    }.get(_TYPED.sub("}", template))
    if not methods:
        return
    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
    headers.append((b"allow", ", ".join(sorted(methods)).encode()))
    message["headers"] = headers


def create_app(
    manager: Manager,
    *,
    tokens: str | Path | TokenFile | None = None,
    plugins: Iterable[object] = (),
    secret: bytes | None = None,
    secure_cookies: bool = False,
    metrics: Metrics | None = None,
    metrics_token: str | None = None,
    debug: bool = False,
    session_store: Store | str | Path | None = None,
) -> Litestar:
    """The ASGI application serving the API under ``/v1`` and the portal (SPEC §6).

    Mount it in a host's own ASGI app, or run it with any ASGI server.

    Args:
        manager: the open Manager it serves; the caller closes it.
        tokens: a tokens file (path) or a :class:`TokenFile`; it is registered
            with the Manager's plugins. Without it, the Manager's own
            ``axis_licensing_authenticate`` plugins resolve tokens, and with none
            every request is answered 401.
        plugins: more plugin objects to register with the Manager (hooks of SPEC §4, §6).
        secret: 16, 24 or 32 bytes that sign the portal's CSRF cookie; random
            (forms opened before a restart are refused) if None. Worker
            processes that share sessions must share it.
        secure_cookies: send cookies only over HTTPS, always; without it, the
            cookies of a request that came over HTTPS (or through a trusted
            proxy that says so) are ``Secure``.
        metrics: where ``GET /metrics`` and the request middleware record; a new
            :class:`Metrics` if None (its ``set_outbox`` feeds the outbox gauges).
        metrics_token: a bearer token that opens ``/metrics`` to any client;
            without it ``/metrics`` answers loopback clients only.
        debug: Litestar's debug mode (never shows traces: errors are problems).
        session_store: where the portal keeps its sessions (they live on the
            server: signing out ends one for good). A Litestar ``Store``, or a
            directory (``str`` or ``Path``) for a ``FileStore`` that several
            worker processes share; an in-memory store of this process if None.

    Returns:
        The Litestar application.

    Raises:
        InvalidInput: a malformed tokens file or secret, or a session directory
            that cannot be created.
    """
    from axis_licensing.http import _portal, _portal_members, _portal_webhooks

    pm = manager.plugin_manager.manager
    extra = list(plugins)
    if tokens is not None:
        extra.append(tokens if isinstance(tokens, TokenFile) else TokenFile.load(tokens))
    if not any(isinstance(p, RequestLimits) for p in pm.get_plugins()):
        extra.append(RequestLimits())  # a stored token's limits, in all its request does (§8)
    for plugin in extra:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    key = secrets.token_bytes(32) if secret is None else secret
    if not isinstance(key, bytes) or len(key) not in (16, 24, 32):
        raise InvalidInput("secret must be 16, 24 or 32 bytes")
    static = create_static_files_router(
        path="/static", directories=[HERE / "static"], name="static", include_in_schema=False
    )
    openapi_json = get(
        "/openapi.json",
        include_in_schema=False,
        sync_to_thread=False,
        media_type=MediaType.JSON,
    )(_openapi_json)
    metrics = Metrics() if metrics is None else metrics
    app = Litestar(
        route_handlers=[
            *API_ROUTES,
            *_portal.ROUTES,
            *_portal_webhooks.ROUTES,  # SPEC §7
            *_portal_members.ROUTES,  # SPEC §8
            static,
            openapi_json,
            *ops_routes(manager, metrics, metrics_token),
        ],
        dependencies=dependencies(manager),
        exception_handlers={Exception: _portal.error_handler},
        plugins=[BodySchemas(), ValueSchemas()],
        type_encoders=type_encoders(),
        request_max_body_size=MAX_BODY,
        middleware=[_portal.session_config(secure=secure_cookies, exclude=OPS_PATHS).middleware],
        stores={_portal.SESSION_STORE: _portal.session_store(session_store)},
        csrf_config=CSRFConfig(
            secret=key.hex(),
            cookie_name="axis_csrf",
            cookie_secure=secure_cookies,
            cookie_httponly=True,
            exclude=["/v1", *OPS_PATHS],
        ),
        openapi_config=OpenAPIConfig(
            title="axis-licensing",
            version=__version__,
            description=(
                "Subscription and hardware-bound license management (SPEC §6). "
                "Errors are RFC 9457 problems with a stable `code`."
            ),
            path="/docs",
            render_plugins=[
                RedocRenderPlugin(
                    path="/",
                    js_url="/static/redoc.standalone.js",
                    google_fonts=False,
                    favicon="",
                )
            ],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
            ),
            security=[{"bearer": []}],
            use_handler_docstrings=True,
        ),
        state=_portal.state(manager),
        before_send=[_allow_every_method, _portal.security_headers, secure_cookies_over_https],
        debug=debug,
    )
    app.state[_portal_members.SETUP_KEY] = setup_secret(key)  # SPEC §8: the first owner
    # HEAD as GET on every route, before routing; metrics see every request
    # kept answers: a successful plain query skips Litestar's request machinery (see _fast)
    app.asgi_handler = metrics.middleware(head_as_get(kept_answers(app, manager, app.asgi_handler)))
    return app
