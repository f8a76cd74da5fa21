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

Asked again, such an answer costs one statement. A query whose answer the
Manager keeps for the organization's head (:data:`_KEPT`) leaves a *verdict*
under its ``Authorization`` header and path: the bytes it answered, the
store's access version and the organization's :data:`~axis_licensing.shell.loading.Stamp`
it was answered under, read before the token was checked. The same request
again reads the head and the access version in one statement
(:meth:`~axis_licensing.backends.sqlite.SQLiteBackend.peek_access`) and
answers the same bytes only when both are unchanged: no account, membership
or token changed (a revoked token, a removed member or a changed role raise
the access version, SPEC §8), and the organization's view is the same (its
head, catalog version and local date). A stored token's expiry and the
minute its last use is written end a verdict too, and so does any change of
the authenticate and authorize hooks; a verdict is left only when every one
of them is a tokens file, the store's roles or the request's token limits
(:class:`~axis_licensing.http._access.RequestLimits`), whose answers depend on
their fixed entries, the store's members and the token of the header the
verdict is kept under, and when the roles answered at
the access version read (not from an older read of a store without
accounts, :data:`~axis_licensing.members.authorize.EMPTY_RECHECK`). Anything
else is answered as the first time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import attrs
from litestar import Litestar, MediaType
from litestar.exceptions import HTTPException
from litestar.serialization import encode_json, get_serializer
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from axis_licensing._time import to_us
from axis_licensing.backends import Backend, Head
from axis_licensing.backends.sqlite import SQLiteBackend
from axis_licensing.http._access import RequestLimits
from axis_licensing.http._api import PLAIN_QUERIES, PlainQuery, on_loop
from axis_licensing.http._auth import TokenFile, bearer_actor, request_token
from axis_licensing.manager import Manager
from axis_licensing.members.authorize import TOUCH_US, RolesPlugin
from axis_licensing.members.store import access_version_now
from axis_licensing.shell.loading import Stamp

__all__ = ["kept_answers"]

#: Host header values that every router takes as valid (a narrower set than Litestar's).
_PLAIN_HOST = re.compile(rb"[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?\Z")
#: How many encoded answers are kept (one per kept answer of the Manager that is asked again).
_ENCODED = 1024
#: How many verdicts are kept (one per token and path asked again).
_VERDICTS = 1024
#: Headers whose presence means the request carries a body (left to the application).
_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
#: The plain queries whose answer, without ``at``, the Manager keeps for the organization's
#: head (``shell.queries``' ``_answered``): the same for the same :data:`Stamp`.
_KEPT = frozenset({"status", "need", "wallet", "products", "system_status"})
#: The plugins whose authenticate and authorize answers depend on their own fixed
#: entries, the store's members (which the access version covers) and the request's
#: stored token (fixed for the ``Authorization`` header a verdict is kept under).
_KNOWN_PLUGINS = (TokenFile, RolesPlugin, RequestLimits)

#: The implementations of the authenticate and authorize hooks, in calling order.
_Hooks = tuple[list[Any], list[Any]]
#: What a verdict confirms before answering again: the head and the access version.
_Read = tuple[Head, int]
#: What a verdict depends on, read together before the token is checked: the head and
#: the access version (None without such an organization), the hooks, and the instant.
_Seen = tuple[_Read | None, _Hooks, datetime]


@attrs.frozen
class _Verdict:
    """A plain query answered once, and what must be unchanged to answer it again.

    Attributes:
        org_id: the organization asked about.
        access: the store's access version, read before the token was checked.
        stamp: the organization's view then (head, catalog version, local date).
        hooks: the authenticate and authorize hook implementations then.
        until_us: for a stored token, when it expires or its last use is
            written again (the Manager's roles do it once a minute); None for others.
        handler: the route's handler (for the metrics).
        template: the route's path template (for the metrics).
        body: the answer's bytes.
    """

    org_id: str
    access: int
    stamp: Stamp
    hooks: _Hooks
    until_us: int | None
    handler: Any
    template: str
    body: bytes

    def holds(self, manager: Manager, seen: _Seen) -> bool:
        """Whether nothing the answer depends on changed (as ``seen`` now): the same answer."""
        read, hooks, now = seen
        if read is None or read[1] != self.access or hooks != self.hooks:
            return False
        if self.until_us is not None and to_us(now) >= self.until_us:
            return False
        return manager._stamp_at(read[0], now) == self.stamp


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
    answers = _Answers(app, manager)

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        body = answers.body(scope)
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


class _Answers:
    """The bodies of successful plain queries, and the verdicts to give them again."""

    def __init__(self, app: Litestar, manager: Manager) -> None:
        self.manager = manager
        self.route = app.asgi_router.handle_routing
        self.serializer = get_serializer(app.type_encoders)
        self.encoded: dict[int, tuple[object, bytes]] = {}
        self.verdicts: dict[tuple[bytes, str], _Verdict] = {}
        hook = manager.plugin_manager.manager.hook
        self.callers = (hook.axis_licensing_authenticate, hook.axis_licensing_authorize)

    def hooks(self) -> _Hooks:
        """The authenticate and authorize hook implementations now."""
        return self.callers[0].get_hookimpls(), self.callers[1].get_hookimpls()

    def encode(self, answer: object) -> bytes:
        """The JSON of ``answer``, as the application encodes it."""
        kept = self.encoded.get(id(answer))
        if kept is not None and kept[0] is answer:  # the Manager's kept answer, asked again
            return kept[1]
        body = encode_json(answer, self.serializer)
        if len(self.encoded) >= _ENCODED:
            self.encoded.pop(next(iter(self.encoded)))
        self.encoded[id(answer)] = (answer, body)
        return body

    def body(self, scope: Scope) -> bytes | None:
        """The body of a successful plain query's answer to ``scope``; None to leave it."""
        raw = cast("dict[str, Any]", scope)
        authorization = _plain_request(raw) if on_loop(self.manager) else None
        if authorization is None:
            return None
        key = (authorization, raw["path"])
        try:
            verdict = self.verdicts.get(key)
            seen = None
            if verdict is not None:
                seen = self.seen(verdict.org_id)
                if verdict.holds(self.manager, seen):
                    raw["path_template"] = verdict.template  # what the metrics name the route by
                    raw["route_handler"] = verdict.handler
                    return verdict.body
            return self._first(raw, key, seen)
        except Exception:  # refused or failed: the application answers it, as every error
            return None

    def seen(self, org_id: str) -> _Seen:
        """What a verdict about ``org_id`` depends on, now.

        Raises:
            StorageError: the store failed.
        """
        return _head_and_access(self.manager.backend, org_id), self.hooks(), self.manager._now()

    def _first(
        self, raw: dict[str, Any], key: tuple[bytes, str], seen: _Seen | None
    ) -> bytes | None:
        """:meth:`body` through the query's handler, leaving a verdict when one may be kept.

        ``seen`` is what the request's verdict that did not hold saw (the same
        organization's), or None.

        Raises:
            Exception: what the handler raises (the application answers it).
        """
        manager = self.manager
        found = _route(raw, self.route)
        if found is None:
            return None
        query, name, handler, params, template = found
        before = seen
        org_id = params.get("org_id")
        if before is None and name in _KEPT and isinstance(org_id, str):  # before the token
            before = self.seen(org_id)
        actor = bearer_actor(manager, key[0].decode("latin-1"))
        if actor is None:  # the application answers 401
            return None
        body = self.encode(query.handle(manager=manager, actor=actor, **params, **query.defaults))
        raw["path_template"] = template
        raw["route_handler"] = handler
        if before is not None:
            made = _verdict(manager, before, (handler, template, body))
            if made is not None:
                if len(self.verdicts) >= _VERDICTS and key not in self.verdicts:
                    self.verdicts.pop(next(iter(self.verdicts)))
                self.verdicts[key] = made
        return body


def _verdict(manager: Manager, seen: _Seen, answered: tuple[Any, str, bytes]) -> _Verdict | None:
    """The verdict of an answer given after ``seen``; None when none may be kept.

    ``seen`` was read before the token was checked and the answer worked out,
    so what it saw is no later than what they saw: when a later request reads
    the same access version and stamp, nothing changed in between either.
    """
    read, hooks, now = seen
    if read is None or not all(type(i.plugin) in _KNOWN_PLUGINS for h in hooks for i in h):
        return None
    head, access = read
    roles = manager.roles
    if roles is not None and roles.cached_version() != access:
        return None  # the roles answered from an older read (a store seen without accounts)
    stamp = manager._stamp_at(head, now)
    if stamp is None:
        return None
    until_us = None
    token = request_token()
    if token is not None:  # a stored token: until it expires, or its use is written again
        if token.last_used_at is None:
            return None
        until_us = to_us(token.last_used_at) + TOUCH_US
        if token.expires_at is not None:
            until_us = min(until_us, to_us(token.expires_at))
    handler, template, body = answered
    return _Verdict(head.org_id, access, stamp, hooks, until_us, handler, template, body)


def _head_and_access(backend: Backend, org_id: str) -> _Read | None:
    """The organization's head and the store's access version; None without such an organization.

    Raises:
        StorageError: the store failed.
    """
    if isinstance(backend, SQLiteBackend):
        return backend.peek_access(org_id)  # one statement
    access = access_version_now(backend)
    head = backend.peek(org_id)
    return None if head is None else (head, access)


def _plain_request(raw: dict[str, Any]) -> bytes | None:
    """The ``Authorization`` header of a plain ``GET`` under ``/v1/``; None for any other."""
    if (
        raw["type"] != "http"
        or raw["method"] != "GET"
        or raw.get("query_string")
        or raw.get("root_path")
        or not raw["path"].startswith("/v1/")
    ):
        return None
    return _token_header(raw["headers"])


def _route(
    raw: dict[str, Any], route: Callable[..., tuple[Any, Any, str, dict[str, Any], str]]
) -> tuple[PlainQuery, str, Any, dict[str, Any], str] | None:
    """The plain query a request asks, with its name, handler, parameters and template."""
    try:
        _, handler, path, params, template = route(path=raw["path"], method="GET")
    except HTTPException:  # not found, or not allowed: the application says so
        return None
    name = handler.handler_name
    plain = PLAIN_QUERIES.get(name)
    if (
        plain is None
        or path != raw["path"]
        or handler.status_code != 200
        or handler.media_type != MediaType.JSON
    ):
        return None
    return plain, name, handler, params, template


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
