"""The API's edge, shared by every endpoint: who asks, the body's form, query values (SPEC §6.1).

* who is asking: the bearer token's actor, the ``Idempotency-Key`` as the
  request id, and the authorize hook (:func:`allow`);
* the body's edge: only ``application/json``, at most :data:`MAX_BODY` bytes,
  nested at most :data:`MAX_DEPTH` deep, shaped as the endpoint's body class
  (:func:`check_body`);
* query values: integers written as integers (:func:`check_query`), dates
  and instants as the library takes them (:func:`parse_at`,
  :func:`parse_bound`), and ``HEAD`` answered as ``GET``.

The endpoints themselves are drawn from the operations' declarations in
:mod:`axis_licensing.http._api`.
"""

from __future__ import annotations

import re
import typing
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Request, Response
from litestar.datastructures import URL
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    SerializationException,
    ValidationException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from axis_licensing._validate import MAX_ID
from axis_licensing.errors import InvalidInput
from axis_licensing.http._access import allow
from axis_licensing.http._auth import bearer_actor
from axis_licensing.http._problems import PROBLEM_JSON, Problem
from axis_licensing.http._schema import BODY_TYPES, NEW_ID_PATTERN, REF_PATTERN, body_fields
from axis_licensing.manager import Manager

__all__ = [
    "MAX_BODY",
    "MAX_DEPTH",
    "MAX_OFFSET",
    "MAX_PAGE",
    "MAX_UPLOAD",
    "REF",
    "ActorDep",
    "At",
    "Bound",
    "ManagerDep",
    "RequestIdDep",
    "allow",
    "bearer_actor",
    "check_body",
    "check_query",
    "check_request",
    "check_shape",
    "dependencies",
    "head_as_get",
    "json_depth",
    "license_response",
    "parse_at",
    "parse_bound",
    "problems",
]

MAX_UPLOAD = 1024 * 1024

#: The largest JSON request body accepted, in bytes (SPEC §6.1); larger is 413.
MAX_BODY = 64 * 1024

#: How deep a JSON request body may nest arrays and objects (SPEC §6.1); deeper is 400.
MAX_DEPTH = 32

#: The most entries (organizations, systems, history) one page holds.
MAX_PAGE = 1000

#: The largest ``offset`` of a listing.
MAX_OFFSET = 10_000_000


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """The RFC 9457 problems an endpoint may answer: 400, 401, 403, 503 and ``statuses``."""
    return {
        status: ResponseSpec(Problem, description="An RFC 9457 problem", media_type=PROBLEM_JSON)
        for status in sorted({400, 401, 403, 503, *statuses})
    }


ManagerDep = NamedDependency[Manager]
ActorDep = NamedDependency[str]
RequestIdDep = NamedDependency[str | None]


# -- who is asking -------------------------------------------------------------------------------


def _provide_actor(request: Request[Any, Any, Any], manager: ManagerDep) -> str:
    actor = bearer_actor(manager, request.headers.get("authorization"))
    if actor is None:
        raise NotAuthorizedException("a valid bearer token is required")
    return actor


def _provide_request_id(
    idempotency_key: Annotated[
        str | None,
        HeaderParameter(
            name="Idempotency-Key",
            required=False,
            description=(
                "Makes the command idempotent (R13): the Manager's request_id, a new id "
                "(R14) the first time it is used. The pattern states its ASCII part."
            ),
            schema_extra={"min_length": 1, "max_length": MAX_ID, "pattern": NEW_ID_PATTERN},
        ),
    ] = None,
) -> str | None:
    return idempotency_key


def head_as_get(app: ASGIApp) -> ASGIApp:
    """Answer ``HEAD`` as ``GET`` without the body (RFC 9110 §9.3.2), on every route.

    Litestar routes ``HEAD`` only to handlers declared for it; this middleware
    lets every ``GET`` route answer it with the same status and headers.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "HEAD":
            await app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await app({**scope, "method": "GET"}, receive, send_headers_only)

    return middleware


# -- the body's edge: media type, size, depth, shape (SPEC §6.1) -------------------------------

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(raw: bytes) -> int:
    """How deep ``raw`` (JSON text) nests arrays and objects; brackets in strings do not count."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "null" if value is None else "a number"


def check_shape(value: object, cls: type, where: str = "") -> None:
    """A body's shape: an object with the fields of ``cls``, no others, the required ones present.

    The values themselves are the library's to check (R14).

    Raises:
        InvalidInput: another shape; ``param`` names the field.
    """
    label = where or "the body"
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{label} must be a JSON object, got {_json_type(value)}", param=where or "body"
        )
    hints, required = body_fields(cls)
    unknown = sorted(set(value) - set(hints))
    if unknown:
        raise InvalidInput(
            f"{label} has an unknown field {unknown[0]!r}; its fields are {', '.join(hints)}",
            param=where + "." + unknown[0] if where else unknown[0],
        )
    missing = sorted(required - set(value))
    if missing:
        name = where + "." + missing[0] if where else missing[0]
        raise InvalidInput(f"{name} is required", param=name)
    for name, hint in hints.items():
        args = typing.get_args(hint)
        if name not in value or typing.get_origin(hint) is not list or args[0] not in BODY_TYPES:
            continue
        items = value[name]
        path = where + "." + name if where else name
        if not isinstance(items, list):
            raise InvalidInput(f"{path} must be an array, got {_json_type(items)}", param=path)
        for index, item in enumerate(items):
            check_shape(item, args[0], f"{path}[{index}]")


def _is_json(content_type: str) -> bool:
    media, _, params = content_type.partition(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return False
    return True


async def check_body(request: Request[Any, Any, Any]) -> None:
    """The edge of a JSON body (SPEC §6.1), before anything decodes it.

    Only ``application/json`` (UTF-8) is taken (415 otherwise), at most
    :data:`MAX_BODY` bytes (413), nested at most :data:`MAX_DEPTH` deep and
    shaped as the handler's body class (400 ``invalid_input``). Handlers
    without a body are left alone.

    Raises:
        HTTPException: 415 for another media type, 413 for a body too large.
        ClientException: 400 for text that is not JSON.
        InvalidInput: a body nested too deep, or of another shape.
    """
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        raise HTTPException(
            status_code=415,
            detail=f"the body must be application/json, got {content_type or 'no content type'!r}",
        )
    raw = await request.body()
    if json_depth(raw) > MAX_DEPTH:
        raise InvalidInput(f"the body is nested more than {MAX_DEPTH} deep", param="body")
    try:
        value = await request.json()
    except SerializationException:
        raise ClientException("the body is not valid JSON") from None
    if data.annotation in BODY_TYPES:
        check_shape(value, data.annotation)


#: An integer in a query string: digits, an optional minus, no leading zero, no fraction
#: or exponent (SPEC §6.1: ``1.0`` and ``1e0`` are not integers, as the library says).
_QUERY_INT = re.compile(r"-?(0|[1-9][0-9]*)")

#: The query keys each handler reads as integers, by handler.
_INT_KEYS: dict[HTTPRouteHandler, tuple[str, ...]] = {}


def _int_keys(handler: HTTPRouteHandler) -> tuple[str, ...]:
    """The query keys ``handler`` reads as integers (``int`` or ``int | None``)."""
    keys = _INT_KEYS.get(handler)
    if keys is None:
        found = []
        for name, field in handler.parsed_fn_signature.parameters.items():
            kwarg = field.kwarg_definition
            if not isinstance(kwarg, QueryParameter):
                continue
            types = set(typing.get_args(field.annotation)) or {field.annotation}
            if int in types:
                found.append(kwarg.query or kwarg.name or name)
        keys = _INT_KEYS[handler] = tuple(found)
    return keys


def check_query(request: Request[Any, Any, Any]) -> None:
    """The integers of a query string are written as integers (SPEC §6.1), for every route.

    The framework would read ``limit=2.0`` or ``limit=1e0`` as 2 and 1; the
    library refuses such numbers, so the edge does too: 400 ``invalid_input``,
    with the framework's findings in ``details.errors`` (as for ``limit=1.5``).
    Bounds are the framework's to check, as the schema states them.

    Raises:
        ValidationException: a value of an integer parameter that is not one.
    """
    keys = _int_keys(request.route_handler)
    if not keys:
        return
    params = request.query_params
    bad = [
        {"message": "Expected `int`, got `str`", "key": key, "source": "query"}
        for key in keys
        if any(_QUERY_INT.fullmatch(value) is None for value in params.getall(key, []))
    ]
    if bad:
        path = URL.from_components(path=request.url.path, query=request.url.query)
        raise ValidationException(
            detail=f"Validation failed for {request.method} {path}", extra=bad
        )


async def check_request(request: Request[Any, Any, Any]) -> None:
    """Every API request's edge, before anything decodes it: its query, then its body."""
    check_query(request)
    await check_body(request)


def dependencies(manager: Manager) -> dict[str, Provide]:
    """The dependencies every API handler may ask for: the manager, the actor, the request id."""

    def provide_manager() -> Manager:
        return manager

    return {
        "manager": Provide(provide_manager, sync_to_thread=False, use_cache=True),
        "actor": Provide(_provide_actor, sync_to_thread=False),
        "request_id": Provide(_provide_request_id, sync_to_thread=False),
    }


# -- query parameters ----------------------------------------------------------------------------

#: The years an instant or a day may fall in: the library's supported range is 1900-01-01
#: to 9000-01-01, and a year inside it whatever the offset keeps a request valid.
YEARS = r"^(19(0[1-9]|[1-9][0-9])|[2-8][0-9]{3})-"
At = Annotated[
    str | None,
    QueryParameter(
        description="An aware ISO 8601 instant, from 1901 to 8999; default: now (SPEC §1)",
        required=False,
        format="date-time",
        schema_extra={"pattern": YEARS, "max_length": 64},
    ),
]
Bound = Annotated[
    str | None,
    QueryParameter(
        description=(
            "A local date (YYYY-MM-DD), from 1901 to 8999; an aware ISO 8601 instant is "
            "taken too (the schema states the date, which every validator reads alike)"
        ),
        required=False,
        format="date",
        schema_extra={"pattern": YEARS, "max_length": 64},
    ),
]
#: An id in a path refers to one that exists: the library takes any id it once created
#: (R14), so the schema states its check (1 to 128 characters, no control characters,
#: not only spaces) and leaves checking to it.
REF = {"min_length": 1, "max_length": MAX_ID, "pattern": REF_PATTERN}


def parse_at(value: str | None, param: str = "at") -> datetime | None:
    """The ``at`` of a query, or another instant of a request: an ISO 8601 instant
    (the Manager refuses a naive one).

    Litestar would read ``at=415`` as 415 seconds after the epoch; the schema says
    an ISO 8601 string, so that is what is accepted.

    Args:
        value: the text sent, or None.
        param: the parameter's name, which the error names (``at``, ``expires_at``…).

    Raises:
        InvalidInput: not an ISO 8601 date and time (``details.param`` is ``param``).
    """
    if value is None:
        return None
    try:
        # RFC 3339 (the schema's date-time) allows a lower-case t and z; Python reads upper case
        return datetime.fromisoformat(value.upper())
    except ValueError:
        raise InvalidInput(
            f"{param} must be an ISO 8601 instant such as 2027-01-10T12:00:00+00:00, got {value!r}",
            details={"param": param},
        ) from None


def parse_bound(value: str | None, which: str) -> date | datetime | None:
    """A history bound: a local date (``2026-03-10``) or an aware instant.

    Raises:
        InvalidInput: neither.
    """
    if value is None:
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{which} must be a date (YYYY-MM-DD) or an aware ISO 8601 instant, got {value!r}",
            param=which,
        ) from None


def license_response(license_file: bytes) -> Response[bytes]:
    """A license file as a download."""
    return Response(
        license_file,
        media_type="application/octet-stream",
        headers={"Content-Disposition": 'attachment; filename="axis-license.json"'},
    )
