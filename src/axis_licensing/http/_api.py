"""The JSON API under ``/v1``: one controller per resource (SPEC §3, §6).

Each handler checks who is asking, asks the authorize hook about the
organization (queries included, so a token never reads another
organization), calls one Manager method and returns its value. Request
bodies are the small attrs classes below; responses are the library's own
values. The OpenAPI schema is generated from both.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing
from datetime import date, datetime
from typing import Annotated, Any

import anyio
import attrs
from litestar import Controller, Request, Response, Router, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    SerializationException,
)
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from litestar.types import ASGIApp, ControllerRouterHandler, Message, Receive, Scope, Send

from axis_licensing._time import _iana_names
from axis_licensing._validate import MAX_ID
from axis_licensing.catalog import (
    MAX_GROWTH_RATE,
    MAX_TERM_YEARS,
    MAX_WINDOW_DAYS,
    Catalog,
    CatalogVersion,
    LicenseType,
    ProductSpec,
)
from axis_licensing.errors import InvalidInput
from axis_licensing.http import _access, _auth
from axis_licensing.http._access import visible_organizations
from axis_licensing.http._problems import PROBLEM_JSON, Problem
from axis_licensing.http._schema import (
    BODY_TYPES,
    NEW_ID_PATTERN,
    REF_PATTERN,
    body,
    body_fields,
    counts_schema,
    extra,
    id_schema,
    new_id_schema,
    spec,
    text_schema,
)
from axis_licensing.manager import Manager
from axis_licensing.model import (
    Action,
    Activity,
    Alert,
    Allocation,
    LicenseKind,
    NeedReport,
    Organization,
    ProductStatus,
    Redemption,
    SystemStatus,
    Wallet,
)
from axis_licensing.shell.keys import MAX_INPUT_LENGTH as MAX_KEY_INPUT
from axis_licensing.shell.operations import MAX_HORIZON

__all__ = [
    "API_ROUTES",
    "MAX_BODY",
    "MAX_DEPTH",
    "MAX_UPLOAD",
    "bearer_actor",
    "check_body",
    "dependencies",
    "first_answer",
    "head_as_get",
    "json_depth",
]

#: System description files are small; anything above this is refused with 413 (SPEC §6).
MAX_UPLOAD = 1024 * 1024

#: The largest JSON request body accepted, in bytes (SPEC §6.1); larger is 413.
MAX_BODY = 64 * 1024

#: How deep a JSON request body may nest arrays and objects (SPEC §6.1); deeper is 400.
MAX_DEPTH = 32

#: The most entries (organizations, systems, history) one page holds.
MAX_PAGE = 1000

#: The largest ``offset`` of a listing.
MAX_OFFSET = 10_000_000

#: The longest display name (of an organization or a product), as the library checks it.
MAX_NAME = 200

#: The longest ``within_days`` of the alerts.
MAX_WITHIN_DAYS = 3660


def _problems(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(Problem, description="An RFC 9457 problem", media_type=PROBLEM_JSON)
        for status in (400, 401, 403, 503, *statuses)
    }


def _body_problems(*statuses: int) -> dict[int, ResponseSpec]:
    """The problems of an operation with a JSON body: also too large (413) and not JSON (415)."""
    return _problems(413, 415, *statuses)


ManagerDep = NamedDependency[Manager]
ActorDep = NamedDependency[str]
RequestIdDep = NamedDependency[str | None]


# -- who is asking -------------------------------------------------------------------------------


def bearer_actor(manager: Manager, authorization: str | None) -> str | None:
    """The actor of an ``Authorization: Bearer <token>`` header, or None (SPEC §6, §8)."""
    return _auth.bearer_actor(manager, authorization)


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


def dependencies(manager: Manager) -> dict[str, Provide]:
    """The dependencies every API handler may ask for: the manager, the actor, the request id."""

    def provide_manager() -> Manager:
        return manager

    return {
        "manager": Provide(provide_manager, sync_to_thread=False, use_cache=True),
        "actor": Provide(_provide_actor, sync_to_thread=False),
        "request_id": Provide(_provide_request_id, sync_to_thread=False),
    }


def allow(
    manager: Manager, actor: str, org_id: str | None, action: str, product: str | None = None
) -> None:
    """Check the request before any read or write of ``org_id`` (SPEC §4, §8).

    Raises:
        PermissionDenied: refused; the message says nothing about the organization.
    """
    _access.allow(manager, actor, org_id, action, product)


def first_answer(manager: Manager, name: str, **params: object) -> object | None:
    """Run command ``name`` through ``Manager.execute`` where the Manager has it (issue 14).

    ``execute`` answers a command with its full result, kept with the request
    id, so a replay answers the first answer even after the state moved on
    (SPEC §6.1). Without it (a Manager before issue 14) this returns None and
    the handler runs the command's method and reads the state after it.

    Raises:
        LicensingError: what the command raises.
    """
    execute = getattr(manager, "execute", None)
    if execute is None:
        return None
    answer: object = execute(name, **params)
    return answer


# -- request bodies ------------------------------------------------------------------------------
#
# A body's fields take the JSON values as they came (``Any``: nothing is coerced, so
# ``"3"`` and ``3.0`` reach the library as they are); the library checks them (R14)
# and refuses with its own message, code and ``param``. Each field declares its
# schema beside it, from the library's constants (``_schema``).

_COUNT_TEXT = "Counts per license type: JSON integers"


@body
@attrs.frozen
class NewOrganization:
    """Create an organization."""

    org_id: Any = spec(new_id_schema("The new organization's id"))
    name: Any = spec(text_schema("Its display name", MAX_NAME))
    timezone: Any = spec(
        Schema(
            type=OpenAPIType.STRING,
            enum=sorted(_iana_names()),
            description="An IANA time zone, such as Europe/Stockholm (the names the server knows)",
        ),
        default="UTC",
    )


@body
@attrs.frozen
class NewSystem:
    """Register a system of a product, with its device counts per license type."""

    system_id: Any = spec(new_id_schema("The new system's id"))
    product: Any = spec(id_schema("The product's code"))
    devices: Any = spec(
        counts_schema(f"{_COUNT_TEXT} from 0", allow_zero=True, allow_empty=True),
        factory=dict,
    )


@body
@attrs.frozen
class DeviceReport:
    """A system's device counts per license type; types left out become 0 (R1)."""

    devices: Any = spec(counts_schema(f"{_COUNT_TEXT} from 0", allow_zero=True, allow_empty=True))


@body
@attrs.frozen
class NewHardware:
    """Register a shipped hardware unit to a system (R9)."""

    serial: Any = spec(new_id_schema("The hardware unit's serial"))


@body
@attrs.frozen
class Quantities:
    """Licenses per license type, for an extension allocation to hardware (R9)."""

    quantities: Any = spec(
        counts_schema(f"{_COUNT_TEXT} from 1", allow_zero=False, allow_empty=False)
    )


@body
@attrs.frozen
class AllocationRequest:
    """Allocate licenses from the wallet to a period: 0 is the current one (R7)."""

    quantities: Any = spec(
        counts_schema(f"{_COUNT_TEXT} from 1", allow_zero=False, allow_empty=False)
    )
    period: Any = spec(
        Schema(
            type=OpenAPIType.INTEGER,
            description="The period's offset from the current one (0); a JSON integer",
        ),
        default=0,
    )


@body
@attrs.frozen
class NeedAllocationRequest:
    """Allocate what the periods up to ``through`` still need (R7)."""

    through: Any = spec(
        Schema(
            type=OpenAPIType.INTEGER,
            description="The last period's offset from the current one (0); a JSON integer",
        ),
        default=0,
    )


@body
@attrs.frozen
class KeyRedemption:
    """A license key to redeem into the organization's wallets (R6, R10)."""

    key: Any = spec(text_schema("The license key, as typed or pasted", MAX_KEY_INPUT))


@body
@attrs.frozen
class KeyOrder:
    """The vendor issues a key for a product, a kind and quantities (R10)."""

    product: Any = spec(id_schema("The product's code"))
    quantities: Any = spec(
        counts_schema(f"{_COUNT_TEXT} from 1", allow_zero=False, allow_empty=False)
    )
    kind: Any = spec(
        Schema(type=OpenAPIType.STRING, enum=[k.value for k in LicenseKind]),
        default=LicenseKind.SUBSCRIPTION.value,
    )


@attrs.frozen
class IssuedKey:
    """A key the vendor issued."""

    key: str


@body
@attrs.frozen
class Shipment:
    """The vendor ships a hardware unit with preloaded licenses (R9)."""

    serial: Any = spec(new_id_schema("The hardware unit's serial"))
    product: Any = spec(id_schema("The product's code"))
    preloaded: Any = spec(
        counts_schema(f"{_COUNT_TEXT} from 1", allow_zero=False, allow_empty=True),
        factory=dict,
    )


@attrs.frozen
class HistoryPage:
    """One page of the history, oldest first (R11).

    Attributes:
        items: the activities of this page.
        offset: how many were skipped.
        limit: the page size asked for.
        next_offset: the offset of the next page, or None on the last one.
    """

    items: list[Activity]
    offset: int
    limit: int
    next_offset: int | None


@body
@attrs.frozen
class LicenseTypeBody:
    """A license type of a published catalog; it covers itself and ``covers`` (R5)."""

    code: Any = spec(id_schema("The license type's code"))
    covers: Any = spec(
        Schema(
            type=OpenAPIType.ARRAY,
            items=id_schema("A license type of the same product"),
            description="The license types it also covers (not transitive)",
        ),
        factory=list,
    )


@body
@attrs.frozen
class ProductBody:
    """A product of a published catalog (SPEC §1); ``growth_rate`` is ``"n/d"`` or a number."""

    license_types: list[LicenseTypeBody] = extra(min_items=1)
    code: Any = spec(id_schema("The product's code"))
    name: Any = spec(text_schema("Its display name", MAX_NAME))
    term_years: Any = spec(
        Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_TERM_YEARS), default=1
    )
    growth_rate: Any = spec(
        Schema(
            type=OpenAPIType.STRING,
            pattern=r"^(100(\.0{1,6})?|[0-9]{1,2}(\.[0-9]{1,6})?|[0-9]{1,2}/[1-9][0-9]{0,5})$",
            description=(
                f"Allowed growth in a locked period (R5), 0 to {MAX_GROWTH_RATE}, as 'n/d' "
                "or a decimal; a denominator of at most 1,000,000"
            ),
        ),
        default="1",
    )
    trial_days: Any = spec(
        Schema(type=OpenAPIType.INTEGER, minimum=0, maximum=MAX_WINDOW_DAYS), default=30
    )
    grace_days: Any = spec(
        Schema(type=OpenAPIType.INTEGER, minimum=0, maximum=MAX_WINDOW_DAYS), default=30
    )


@body
@attrs.frozen
class CatalogBody:
    """A catalog to publish as the store's next version (R15)."""

    products: list[ProductBody] = extra(min_items=1)

    def to_catalog(self) -> Catalog:
        """The library's Catalog, checked by the library.

        Raises:
            InvalidInput: a catalog the library refuses.
        """
        return Catalog(
            products=[
                ProductSpec(
                    p.code,
                    p.name,
                    term_years=p.term_years,
                    growth_rate=p.growth_rate,
                    trial_days=p.trial_days,
                    grace_days=p.grace_days,
                    license_types=[LicenseType(t.code, covers=t.covers) for t in p.license_types],
                )
                for p in self.products
            ]
        )


@attrs.frozen
class PublishedCatalog:
    """The version number a published catalog got."""

    version: int


@attrs.frozen
class PublicKey:
    """The public key that verifies license files (R12), as PEM."""

    pem: str


# -- query parameters ----------------------------------------------------------------------------

#: The years an instant or a day may fall in: the library's supported range is 1900-01-01
#: to 9000-01-01, and a year inside it whatever the offset keeps a request valid.
_YEARS = r"^(19(0[1-9]|[1-9][0-9])|[2-8][0-9]{3})-"
_At = Annotated[
    str | None,
    QueryParameter(
        description="An aware ISO 8601 instant, from 1901 to 8999; default: now (SPEC §1)",
        required=False,
        format="date-time",
        schema_extra={"pattern": _YEARS, "max_length": 64},
    ),
]
_Bound = Annotated[
    str | None,
    QueryParameter(
        description=(
            "A local date (YYYY-MM-DD), from 1901 to 8999; an aware ISO 8601 instant is "
            "taken too (the schema states the date, which every validator reads alike)"
        ),
        required=False,
        format="date",
        schema_extra={"pattern": _YEARS, "max_length": 64},
    ),
]
#: An id in a path refers to one that exists: the library takes any id it once created
#: (R14), so the schema states its check (1 to 128 characters, no control characters,
#: not only spaces) and leaves checking to it.
_REF = {"min_length": 1, "max_length": MAX_ID, "pattern": REF_PATTERN}
OrgPath = Annotated[str, PathParameter(description="The organization's id", schema_extra=_REF)]
ProductPath = Annotated[str, PathParameter(description="The product's code", schema_extra=_REF)]
SystemPath = Annotated[str, PathParameter(description="The system's id", schema_extra=_REF)]
SerialPath = Annotated[
    str, PathParameter(description="The hardware unit's serial", schema_extra=_REF)
]
_Filter = Annotated[str | None, QueryParameter(required=False, schema_extra=_REF)]
_Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="At most this many")]
_Offset = Annotated[
    int, QueryParameter(ge=0, le=MAX_OFFSET, description="Skip this many first (after filtering)")
]


def parse_at(value: str | None) -> datetime | None:
    """The ``at`` of a query: an ISO 8601 instant (the Manager refuses a naive one).

    Litestar would read ``at=415`` as 415 seconds after the epoch; the schema says
    an ISO 8601 string, so that is what is accepted.

    Raises:
        InvalidInput: not an ISO 8601 date and time.
    """
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"at must be an ISO 8601 instant such as 2027-01-10T12:00:00+00:00, got {value!r}",
            details={"param": "at"},
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


# -- controllers ---------------------------------------------------------------------------------


class ApiController(Controller):
    """A controller of the API (the router runs :func:`check_body` before each handler)."""


class OrganizationController(ApiController):
    """Organizations (R1)."""

    path = "/v1/organizations"
    tags = ("organizations",)

    @post("/", responses=_body_problems(409), sync_to_thread=True, status_code=HTTP_201_CREATED)
    def create_organization(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        data: JSONBody[NewOrganization],
    ) -> Organization:
        """Create an organization (R1); its time zone is IANA, ``UTC`` by default."""
        allow(manager, actor, data.org_id, "create_organization")
        manager.create_organization(
            data.org_id,
            name=data.name,
            timezone=data.timezone,
            actor=actor,
            request_id=request_id,
        )
        return Organization(data.org_id, data.name, data.timezone, anchor=None)

    @get("/", responses=_problems(), sync_to_thread=True)
    def organizations(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        limit: _Limit = 100,
        offset: _Offset = 0,
    ) -> list[Organization]:
        """The organizations this token may use, by id, filtered and then paged (R1, SPEC §6.1)."""
        return visible_organizations(manager, actor, limit=limit, offset=offset)

    @get("/{org_id:str}/products", responses=_problems(404), sync_to_thread=True)
    def products(
        self, *, manager: ManagerDep, actor: ActorDep, org_id: OrgPath, at: _At = None
    ) -> list[ProductStatus]:
        """Every product of the catalog with its status, NOT_STARTED included (R5)."""
        allow(manager, actor, org_id, "products")
        return manager.products(org_id, at=parse_at(at))

    @get("/{org_id:str}/alerts", responses=_problems(404), sync_to_thread=True)
    def alerts(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        org_id: OrgPath,
        at: _At = None,
        within_days: Annotated[int, QueryParameter(ge=0, le=MAX_WITHIN_DAYS)] = 60,
    ) -> list[Alert]:
        """What the organization should act on soon, soonest first."""
        allow(manager, actor, org_id, "alerts")
        return manager.alerts(org_id, at=parse_at(at), within_days=within_days)


class ProductController(ApiController):
    """A product of an organization: status, subscription, need, wallet and allocations."""

    path = "/v1/organizations/{org_id:str}/products/{product:str}"
    tags = ("products",)

    @get("/", responses=_problems(404), sync_to_thread=True)
    def status(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        org_id: OrgPath,
        product: ProductPath,
        at: _At = None,
    ) -> ProductStatus:
        """The product's license status (R3, R5)."""
        allow(manager, actor, org_id, "status", product)
        return manager.status(org_id, product, at=parse_at(at))

    @post(
        "/subscription",
        responses=_problems(404, 409),
        sync_to_thread=True,
        status_code=HTTP_201_CREATED,
    )
    def start_subscription(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        org_id: OrgPath,
        product: ProductPath,
    ) -> ProductStatus:
        """Start the product's subscription (R2); the trial begins (R3)."""
        allow(manager, actor, org_id, "start_subscription", product)
        answer = first_answer(
            manager,
            "start_subscription",
            org_id=org_id,
            product=product,
            actor=actor,
            request_id=request_id,
        )
        if isinstance(answer, ProductStatus):
            return answer
        manager.start_subscription(org_id, product, actor=actor, request_id=request_id)
        return manager.status(org_id, product)

    @get("/need", responses=_problems(404, 409), sync_to_thread=True)
    def need(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        org_id: OrgPath,
        product: ProductPath,
        at: _At = None,
        horizon: Annotated[
            int, QueryParameter(ge=0, le=MAX_HORIZON, description="Periods ahead")
        ] = 5,
    ) -> NeedReport:
        """The need of the current and coming periods, and what to buy (R4, R7)."""
        allow(manager, actor, org_id, "need", product)
        return manager.need(org_id, product, at=parse_at(at), horizon=horizon)

    @get("/wallet", responses=_problems(404), sync_to_thread=True)
    def wallet(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        org_id: OrgPath,
        product: ProductPath,
        at: _At = None,
    ) -> Wallet:
        """The product's wallet: live lots with their expiry, and the credit (R6, R8)."""
        allow(manager, actor, org_id, "wallet", product)
        return manager.wallet(org_id, product, at=parse_at(at))

    @post(
        "/allocations",
        responses=_body_problems(404, 409, 422),
        sync_to_thread=True,
        status_code=HTTP_201_CREATED,
    )
    def allocate(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        org_id: OrgPath,
        product: ProductPath,
        data: JSONBody[AllocationRequest],
    ) -> Allocation:
        """Allocate licenses from the wallet to a period (R7, R8)."""
        allow(manager, actor, org_id, "allocate", product)
        return manager.allocate(
            org_id,
            product,
            data.quantities,
            period=data.period,
            actor=actor,
            request_id=request_id,
        )

    @post(
        "/allocations/need",
        responses=_body_problems(404, 409, 422),
        sync_to_thread=True,
        status_code=HTTP_201_CREATED,
    )
    def allocate_need(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        org_id: OrgPath,
        product: ProductPath,
        data: JSONBody[NeedAllocationRequest],
    ) -> Allocation:
        """Allocate what the periods up to ``through`` still need (R7)."""
        allow(manager, actor, org_id, "allocate_need", product)
        return manager.allocate_need(
            org_id, product, through=data.through, actor=actor, request_id=request_id
        )


class KeyController(ApiController):
    """License keys redeemed into an organization's wallets (R6, R10)."""

    path = "/v1/organizations/{org_id:str}/keys"
    tags = ("wallet",)

    @post(
        "/", responses=_body_problems(404, 409), sync_to_thread=True, status_code=HTTP_201_CREATED
    )
    def redeem_key(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        org_id: OrgPath,
        data: JSONBody[KeyRedemption],
    ) -> Redemption:
        """Redeem a license key: one lot per license type it carries (R6, R10)."""
        allow(manager, actor, org_id, "redeem_key")
        return manager.redeem_key(org_id, data.key, actor=actor, request_id=request_id)


class SystemController(ApiController):
    """An organization's systems, their devices and hardware (R1, R9, R12)."""

    path = "/v1/organizations/{org_id:str}/systems"
    tags = ("systems",)

    @post(
        "/", responses=_body_problems(404, 409), sync_to_thread=True, status_code=HTTP_201_CREATED
    )
    def register_system(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        org_id: OrgPath,
        data: JSONBody[NewSystem],
    ) -> SystemStatus:
        """Register a system of a product with its devices (R1)."""
        allow(manager, actor, org_id, "register_system", data.product)
        answer = first_answer(
            manager,
            "register_system",
            org_id=org_id,
            product=data.product,
            system_id=data.system_id,
            devices=data.devices,
            actor=actor,
            request_id=request_id,
        )
        if isinstance(answer, SystemStatus):
            return answer
        manager.register_system(
            org_id,
            data.product,
            data.system_id,
            devices=data.devices,
            actor=actor,
            request_id=request_id,
        )
        return manager.system_status(org_id, data.system_id)

    @get("/", responses=_problems(404), sync_to_thread=True)
    def systems(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        org_id: OrgPath,
        product: _Filter = None,
        at: _At = None,
        limit: _Limit = 100,
        offset: _Offset = 0,
    ) -> list[SystemStatus]:
        """The organization's systems with their status, by id, paged (R9)."""
        allow(manager, actor, org_id, "systems", product)
        return manager.systems(org_id, product=product, at=parse_at(at), limit=limit, offset=offset)

    @get("/{system_id:str}", responses=_problems(404), sync_to_thread=True)
    def system_status(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        org_id: OrgPath,
        system_id: SystemPath,
        at: _At = None,
    ) -> SystemStatus:
        """A system's devices, hardware coverage and whether it is licensed (R9)."""
        allow(manager, actor, org_id, "system_status")
        return manager.system_status(org_id, system_id, at=parse_at(at))

    @put("/{system_id:str}/devices", responses=_body_problems(404, 409), sync_to_thread=True)
    def report_devices(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        org_id: OrgPath,
        system_id: SystemPath,
        data: JSONBody[DeviceReport],
    ) -> SystemStatus:
        """Replace the system's device counts; types left out become 0 (R1, R4)."""
        allow(manager, actor, org_id, "report_devices")
        answer = first_answer(
            manager,
            "report_devices",
            org_id=org_id,
            system_id=system_id,
            devices=data.devices,
            actor=actor,
            request_id=request_id,
        )
        if isinstance(answer, SystemStatus):
            return answer
        manager.report_devices(
            org_id, system_id, devices=data.devices, actor=actor, request_id=request_id
        )
        return manager.system_status(org_id, system_id)

    @post(
        "/{system_id:str}/hardware",
        responses=_body_problems(404, 409),
        sync_to_thread=True,
        status_code=HTTP_201_CREATED,
    )
    def register_hardware(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        org_id: OrgPath,
        system_id: SystemPath,
        data: JSONBody[NewHardware],
    ) -> SystemStatus:
        """Attach a shipped hardware unit to the system; its licenses come with it (R9)."""
        allow(manager, actor, org_id, "register_hardware")
        answer = first_answer(
            manager,
            "register_hardware",
            org_id=org_id,
            system_id=system_id,
            serial=data.serial,
            actor=actor,
            request_id=request_id,
        )
        if isinstance(answer, SystemStatus):
            return answer
        manager.register_hardware(
            org_id, system_id, data.serial, actor=actor, request_id=request_id
        )
        return manager.system_status(org_id, system_id)


class HardwareController(ApiController):
    """Hardware units of an organization: extension licenses (R9)."""

    path = "/v1/organizations/{org_id:str}/hardware"
    tags = ("systems",)

    @post(
        "/{serial:str}/allocations",
        responses=_body_problems(404, 409, 422),
        sync_to_thread=True,
        status_code=HTTP_204_NO_CONTENT,
    )
    def allocate_to_hardware(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        org_id: OrgPath,
        serial: SerialPath,
        data: JSONBody[Quantities],
    ) -> None:
        """Allocate extension (hardware-kind) licenses from the wallet to a unit (R9)."""
        allow(manager, actor, org_id, "allocate_to_hardware")
        manager.allocate_to_hardware(
            org_id, serial, data.quantities, actor=actor, request_id=request_id
        )


@dataclasses.dataclass
class _RawUpload(Operation):
    """The OpenAPI operation of a raw upload: the body is the file's bytes."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            content={
                "application/octet-stream": OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
                )
            },
            description="A system description file, at most 1 MiB",
            required=True,
        )


class SystemFileController(ApiController):
    """Offline systems: a system description file in, a signed license file out (R12)."""

    path = "/v1/organizations/{org_id:str}/system-files"
    tags = ("systems",)

    @post(
        "/",
        responses=_problems(404, 409, 413, 415),
        status_code=HTTP_200_OK,
        request_max_body_size=MAX_UPLOAD,
        media_type="application/octet-stream",
        response_description="The signed license file (canonical JSON) for the system",
        operation_class=_RawUpload,
    )
    async def upload_system_file(
        self,
        *,
        request: Request[Any, Any, Any],
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        org_id: OrgPath,
    ) -> Response[bytes]:
        """Upload a system description file (at most 1 MiB); answer its license file (R12)."""
        content_type = request.headers.get("content-type", "")
        if content_type.partition(";")[0].strip().lower() != "application/octet-stream":
            raise HTTPException(
                status_code=415,
                detail=(
                    "a system file is sent as application/octet-stream, "
                    f"got {content_type or 'no content type'!r}"
                ),
            )
        allow(manager, actor, org_id, "upload_system_file")
        data = await request.body()
        license_file = await anyio.to_thread.run_sync(
            functools.partial(
                manager.upload_system_file, org_id, data, actor=actor, request_id=request_id
            )
        )
        return license_response(license_file)


def license_response(license_file: bytes) -> Response[bytes]:
    """A license file as a download."""
    return Response(
        license_file,
        media_type="application/octet-stream",
        headers={"Content-Disposition": 'attachment; filename="axis-license.json"'},
    )


class HistoryController(ApiController):
    """The organization's activity history (R11)."""

    path = "/v1/organizations/{org_id:str}/history"
    tags = ("history",)

    @get("/", responses=_problems(404), sync_to_thread=True)
    def history(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        org_id: OrgPath,
        product: _Filter = None,
        by: Annotated[
            str | None, QueryParameter(name="actor", required=False, schema_extra=_REF)
        ] = None,
        action: Annotated[
            list[str] | None,
            QueryParameter(
                required=False,
                schema_extra={"items": Schema(type=OpenAPIType.STRING, enum=list(Action))},
            ),
        ] = None,
        since: _Bound = None,
        until: _Bound = None,
        limit: _Limit = 50,
        offset: _Offset = 0,
    ) -> HistoryPage:
        """The activities, oldest first, filtered and paged (R11)."""
        allow(manager, actor, org_id, "history", product)
        items = manager.history(
            org_id,
            product=product,
            actor=by,
            actions=action,
            since=parse_bound(since, "since"),
            until=parse_bound(until, "until"),
            limit=limit + 1,
            offset=offset,
        )
        more = len(items) > limit
        return HistoryPage(
            items=items[:limit],
            offset=offset,
            limit=limit,
            next_offset=offset + limit if more else None,
        )


class VendorController(ApiController):
    """The vendor's commands: keys and hardware (R9, R10)."""

    path = "/v1/vendor"
    tags = ("vendor",)

    @post(
        "/keys",
        responses=_body_problems(404, 409),
        sync_to_thread=True,
        status_code=HTTP_201_CREATED,
    )
    def issue_key(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        data: JSONBody[KeyOrder],
    ) -> IssuedKey:
        """Issue a license key (R10)."""
        allow(manager, actor, None, "vendor.issue_key", data.product)
        key = manager.vendor.issue_key(
            data.product, data.kind, data.quantities, actor=actor, request_id=request_id
        )
        return IssuedKey(key)

    @post(
        "/hardware",
        responses=_body_problems(404, 409),
        sync_to_thread=True,
        status_code=HTTP_204_NO_CONTENT,
    )
    def ship_hardware(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        data: JSONBody[Shipment],
    ) -> None:
        """Ship a hardware unit with preloaded licenses (R9)."""
        allow(manager, actor, None, "vendor.ship_hardware", data.product)
        manager.vendor.ship_hardware(
            data.serial, data.product, data.preloaded, actor=actor, request_id=request_id
        )


class CatalogController(ApiController):
    """The store's catalog and its versions (R15)."""

    path = "/v1/catalog"
    tags = ("catalog",)

    @get("/versions", responses=_problems(), sync_to_thread=True)
    def catalog_versions(self, *, manager: ManagerDep, actor: ActorDep) -> list[CatalogVersion]:
        """Every recorded version of the catalog, oldest first (R15)."""
        return manager.catalog_versions()

    @post(
        "/versions",
        responses=_body_problems(409),
        sync_to_thread=True,
        status_code=HTTP_201_CREATED,
    )
    def publish_catalog(
        self,
        *,
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        data: JSONBody[CatalogBody],
    ) -> PublishedCatalog:
        """Publish a new catalog version, in effect from now (R15); a vendor command."""
        allow(manager, actor, None, "vendor.publish_catalog")
        version = manager.vendor.publish_catalog(
            data.to_catalog(), actor=actor, request_id=request_id
        )
        return PublishedCatalog(version)


@get(
    "/v1/public-key",
    tags=["keys"],
    sync_to_thread=False,
    responses=_problems(),
    security=[{}],
)
def public_key(manager: ManagerDep) -> PublicKey:
    """The PEM public key that verifies license files offline (R12); no token needed."""
    return PublicKey(manager.public_key.decode("ascii"))


#: The API: every JSON body passes :func:`check_body` before anything decodes it.
API_ROUTES: list[ControllerRouterHandler] = [
    Router(
        path="/",
        route_handlers=[
            OrganizationController,
            ProductController,
            KeyController,
            SystemController,
            HardwareController,
            SystemFileController,
            HistoryController,
            VendorController,
            CatalogController,
            public_key,
        ],
        before_request=check_body,
    )
]
