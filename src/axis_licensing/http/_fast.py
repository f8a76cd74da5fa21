"""Kept answers: a query that succeeds is answered without Litestar's request machinery.

Most of the service's traffic is a VMS asking again about the same organization
(``GET /v1/organizations/{org}/products/{product}``), and the Manager keeps
those answers (:mod:`axis_licensing.shell.queries`): asked again, it costs
one indexed read. What such a request then costs is the framework's:
dependency injection, signature parsing, the ``Response`` and its hooks, five
times the Manager's part (docs/performance.md, benchmark (f)).

:func:`kept_answers` wraps the application. For a ``GET`` with no query
string and no body, it routes the path with the application's own router
(so a path means what it means to Litestar), and when the route is a query
handler that can run without its query string (:data:`._api.PLAIN_QUERIES`)
it calls that handler's own plain function (the same token check, the same
authorize check, the same Manager call) and writes its JSON with the
application's own encoder. Only a success is answered here; anything else
(no token, a refusal, an error, a path that is not such a query, a store
that is not local) goes on to the application, which answers it as it
answers every request. ``tests/test_http_fast.py`` holds both answers equal,
byte for byte, status and headers included.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

from litestar import Litestar, MediaType
from litestar.exceptions import HTTPException
from litestar.serialization import encode_json, get_serializer
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from axis_licensing.http._api import PLAIN_QUERIES, PlainQuery, on_loop
from axis_licensing.http._auth import bearer_actor
from axis_licensing.manager import Manager

__all__ = ["kept_answers"]

#: Host header values that every router takes as valid (a narrower set than Litestar's).
_PLAIN_HOST = re.compile(rb"[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?\Z")
#: How many encoded answers are kept (one per kept answer of the Manager that is asked again).
_ENCODED = 1024
#: Headers whose presence means the request carries a body (left to the application).
_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})


def kept_answers(app: Litestar, manager: Manager, inner: ASGIApp) -> ASGIApp:
    """Wrap ``inner`` (``app``'s ASGI handler) to answer successful plain queries directly.

    Args:
        app: the application, whose router and response encoder are used.
        manager: the Manager the application serves.
        inner: the ASGI callable that answers every other request.

    Returns:
        The wrapped ASGI callable. It raises nothing of its own: a kept answer
        that cannot be given, for any reason, is left to ``inner``.
    """
    route = app.asgi_router.handle_routing
    serializer = get_serializer(app.type_encoders)
    encoded: dict[int, tuple[object, bytes]] = {}

    def encode(answer: object) -> bytes:
        kept = encoded.get(id(answer))
        if kept is not None and kept[0] is answer:  # the Manager's kept answer, asked again
            return kept[1]
        body = encode_json(answer, serializer)
        if len(encoded) >= _ENCODED:
            encoded.pop(next(iter(encoded)))
        encoded[id(answer)] = (answer, body)
        return body

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        body = _plain(scope, manager, route, encode)
        if body is None:
            await inner(scope, receive, send)
            return
        start: Message = {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return answer


def _plain(
    scope: Scope,
    manager: Manager,
    route: Callable[..., tuple[Any, Any, str, dict[str, Any], str]],
    encode: Callable[[object], bytes],
) -> bytes | None:
    """The body of a successful plain query's answer to ``scope``; None to leave it to the app."""
    raw = cast("dict[str, Any]", scope)
    found = _route(raw, route) if on_loop(manager) else None
    if found is None:
        return None
    plain, handler, params, template, authorization = found
    try:
        actor = bearer_actor(manager, authorization.decode("latin-1"))
        if actor is None:  # the application answers 401
            return None
        body = encode(plain.handle(manager=manager, actor=actor, **params, **plain.defaults))
    except Exception:  # refused or failed: the application answers it, as every error
        return None
    raw["path_template"] = template  # what the metrics name the route by
    raw["route_handler"] = handler
    return body


def _route(
    raw: dict[str, Any], route: Callable[..., tuple[Any, Any, str, dict[str, Any], str]]
) -> tuple[PlainQuery, Any, dict[str, Any], str, bytes] | None:
    """The plain query a request asks, with its handler, parameters, template and token."""
    if (
        raw["type"] != "http"
        or raw["method"] != "GET"
        or raw.get("query_string")
        or raw.get("root_path")
        or not raw["path"].startswith("/v1/")
    ):
        return None
    authorization = _token_header(raw["headers"])
    if authorization is None:
        return None
    try:
        _, handler, path, params, template = route(path=raw["path"], method="GET")
    except HTTPException:  # not found, or not allowed: the application says so
        return None
    plain = PLAIN_QUERIES.get(handler.handler_name)
    if (
        plain is None
        or path != raw["path"]
        or handler.status_code != 200
        or handler.media_type != MediaType.JSON
    ):
        return None
    return plain, handler, params, template, authorization


def _token_header(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The one ``Authorization`` header of a request without a body and with a plain host.

    None for anything else: no token or two, a body, an unusual host.
    """
    authorization = None
    for name, value in headers:
        if name in _BODY_HEADERS or (name == b"host" and not _PLAIN_HOST.match(value)):
            return None
        if name == b"authorization":
            if authorization is not None:
                return None
            authorization = value
    return authorization
