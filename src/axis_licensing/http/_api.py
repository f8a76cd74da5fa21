"""The JSON API under ``/v1``, drawn from the operations' declarations (SPEC §3, §6, §6.1).

Every command and query of :data:`~axis_licensing.shell.operations.OPERATIONS`
is an endpoint. Its declaration gives the parameters with their checks and
bounds, the OpenAPI schema, the problem statuses (from its declared errors),
the authorize action and the result's type; the table :data:`ENDPOINTS` adds
only what a declaration cannot say: the path and method, the resource's tag,
the name of the body's schema, and the few answers shaped for HTTP (a key in
an object, a history page, 204 for a command that answers nothing). An
operation the table lacks gets :func:`default_endpoint`.

Each endpoint asks the authorize hook about the organization (queries
included, so a token never reads another organization), then runs the
operation through :meth:`~axis_licensing.Manager.execute`, with the token's
actor and the ``Idempotency-Key`` as the request id: the same checks as the
library, and a replay answers the first answer (SPEC §6.1).

A body's fields take the JSON values as they came (nothing is coerced, so
``"3"`` and ``3.0`` reach the library as they are); the library checks them
(R14) and refuses with its own message, code and ``param``.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import anyio
import attrs
from litestar import Request, Response, Router, get, post, route
from litestar.concurrency import sync_to_thread
from litestar.enums import HttpMethod
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    RequestBody,
    Schema,
)
from litestar.openapi.spec import (
    Operation as OpenAPIOperation,
)
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.types import ControllerRouterHandler

from axis_licensing._time import _iana_names
from axis_licensing._validate import MAX_QUANTITY
from axis_licensing.backends.memory import MemoryBackend
from axis_licensing.backends.sqlite import SQLiteBackend
from axis_licensing.catalog import (
    MAX_GROWTH_RATE,
    MAX_TERM_YEARS,
    MAX_WINDOW_DAYS,
    Catalog,
    LicenseType,
    ProductSpec,
)
from axis_licensing.events.model import event_types
from axis_licensing.events.transport import MAX_URL_LENGTH
from axis_licensing.http._access import (
    GUARDS,
    Ask,
    allow_command,
    manager_asks,
    visible_failures,
    visible_organizations,
    visible_webhooks,
)
from axis_licensing.http._edge import (
    MAX_BODY,
    MAX_DEPTH,
    MAX_OFFSET,
    MAX_PAGE,
    MAX_UPLOAD,
    REF,
    YEARS,
    ActorDep,
    At,
    Bound,
    ManagerDep,
    RequestIdDep,
    allow,
    bearer_actor,
    check_body,
    check_request,
    dependencies,
    head_as_get,
    json_depth,
    license_response,
    parse_at,
    parse_bound,
    problems,
)
from axis_licensing.http._problems import family_status
from axis_licensing.http._schema import (
    body,
    counts_schema,
    extra,
    id_schema,
    new_id_schema,
    spec,
    text_schema,
)
from axis_licensing.manager import Manager
from axis_licensing.members.passwords import MAX_PASSWORD, MIN_PASSWORD
from axis_licensing.model import Action, Activity, LicenseKind
from axis_licensing.shell.keys import MAX_INPUT_LENGTH as MAX_KEY_INPUT
from axis_licensing.shell.operations import (
    MAX_NAME,
    OPERATIONS,
    Check,
    Kind,
    Operation,
    Param,
    Scope,
)

__all__ = [
    "API_ROUTES",
    "ENDPOINTS",
    "MAX_BODY",
    "MAX_DEPTH",
    "MAX_UPLOAD",
    "PLAIN_QUERIES",
    "Endpoint",
    "PlainQuery",
    "allow",
    "bearer_actor",
    "body_type",
    "check_body",
    "default_endpoint",
    "dependencies",
    "endpoint",
    "head_as_get",
    "json_depth",
    "license_response",
    "on_loop",
    "parse_at",
    "parse_bound",
]

#: The parameters every command takes from the request itself, not from its path or body.
_FROM_REQUEST = ("actor", "request_id")


# -- answers shaped for HTTP, and the catalog's body ---------------------------------------------


@attrs.frozen
class IssuedKey:
    """A key the vendor issued."""

    key: str


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

    def params(self) -> dict[str, object]:
        """The parameters of ``vendor.publish_catalog``: the library's Catalog.

        Raises:
            InvalidInput: a catalog the library refuses.
        """
        return {"catalog": self.to_catalog()}

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


# -- what a declaration cannot say -------------------------------------------------------------

Run = Callable[[Manager, str, dict[str, Any]], object]


@attrs.frozen
class Endpoint:
    """Where an operation lives in the API, and how it answers (the rest is its declaration).

    Attributes:
        method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
        path: the URL path; each ``{name}`` is a parameter of the operation read from it.
            A query's other parameters come from the query string; a command's from
            the JSON body, except ``actor`` (the token's) and ``request_id``
            (the ``Idempotency-Key`` header).
        tag: the OpenAPI tag: the resource.
        body: the OpenAPI name of the body's schema, derived from the declaration; or a
            body class of its own with ``params() -> dict`` (the catalog); None: no body.
        status: the status of a success; None: 200 for ``GET`` and ``PUT``, 201 for ``POST``.
        answer: the response body made from the operation's result; None: the result.
        answer_type: the type ``answer`` returns (None for no content).
        page: for a listing, the API's default ``limit`` (it pages every listing:
            ``limit`` 1 to :data:`MAX_PAGE`, ``offset`` up to :data:`MAX_OFFSET`).
        query_names: a parameter's name in the query string, where it differs.
        run: runs the operation with its checked-at-the-edge values, where
            :meth:`Manager.execute` alone does not answer (a filtered listing, a page).
    """

    method: str
    path: str
    tag: str
    body: str | type | None = None
    status: int | None = None
    answer: Callable[[Any], object] | None = None
    answer_type: Any = None
    page: int | None = None
    query_names: Mapping[str, str] = attrs.field(factory=dict)
    run: Run | None = None

    @property
    def success(self) -> int:
        """The status of a success."""
        if self.status is not None:
            return self.status
        return 201 if self.method == "POST" else 200

    @property
    def path_params(self) -> tuple[str, ...]:
        """The names the path reads, in order."""
        return tuple(re.findall(r"\{(\w+)\}", self.path))


def _visible(manager: Manager, actor: str, values: dict[str, Any]) -> object:
    return visible_organizations(manager, actor, limit=values["limit"], offset=values["offset"])


def _webhooks(manager: Manager, actor: str, values: dict[str, Any]) -> object:
    return visible_webhooks(manager, actor, values.get("org_id"))


def _failures(manager: Manager, actor: str, values: dict[str, Any]) -> object:
    return visible_failures(manager, actor, values.get("org_id"))


def _history_page(manager: Manager, actor: str, values: dict[str, Any]) -> object:
    limit, offset = values["limit"], values["offset"]
    items = manager.execute("history", **{**values, "limit": limit + 1})
    assert isinstance(items, list)
    more = len(items) > limit
    return HistoryPage(
        items=items[:limit],
        offset=offset,
        limit=limit,
        next_offset=offset + limit if more else None,
    )


_ORG = "/v1/organizations/{org_id}"
_PRODUCT = _ORG + "/products/{product}"
_SYSTEMS = _ORG + "/systems"

#: Each operation's place in the API.
ENDPOINTS: Mapping[str, Endpoint] = {
    "vendor.publish_catalog": Endpoint(
        "POST",
        "/v1/catalog/versions",
        "catalog",
        body=CatalogBody,
        answer=PublishedCatalog,
        answer_type=PublishedCatalog,
    ),
    "vendor.issue_key": Endpoint(
        "POST",
        "/v1/vendor/keys",
        "vendor",
        body="KeyOrder",
        answer=IssuedKey,
        answer_type=IssuedKey,
    ),
    "vendor.ship_hardware": Endpoint(
        "POST", "/v1/vendor/hardware", "vendor", body="Shipment", status=204
    ),
    "create_organization": Endpoint(
        "POST", "/v1/organizations", "organizations", body="NewOrganization"
    ),
    "register_system": Endpoint("POST", _SYSTEMS, "systems", body="NewSystem"),
    "report_devices": Endpoint(
        "PUT", _SYSTEMS + "/{system_id}/devices", "systems", body="DeviceReport"
    ),
    "start_subscription": Endpoint("POST", _PRODUCT + "/subscription", "products"),
    "redeem_key": Endpoint("POST", _ORG + "/keys", "wallet", body="KeyRedemption"),
    "allocate": Endpoint("POST", _PRODUCT + "/allocations", "products", body="AllocationRequest"),
    "allocate_need": Endpoint(
        "POST", _PRODUCT + "/allocations/need", "products", body="NeedAllocationRequest"
    ),
    "register_hardware": Endpoint(
        "POST", _SYSTEMS + "/{system_id}/hardware", "systems", body="NewHardware"
    ),
    "allocate_to_hardware": Endpoint(
        "POST",
        _ORG + "/hardware/{serial}/allocations",
        "systems",
        body="Quantities",
        status=204,
    ),
    "upload_system_file": Endpoint("POST", _ORG + "/system-files", "systems", status=200),
    "catalog_versions": Endpoint("GET", "/v1/catalog/versions", "catalog"),
    "status": Endpoint("GET", _PRODUCT, "products"),
    "need": Endpoint("GET", _PRODUCT + "/need", "products"),
    "wallet": Endpoint("GET", _PRODUCT + "/wallet", "products"),
    "system_status": Endpoint("GET", _SYSTEMS + "/{system_id}", "systems"),
    "history": Endpoint(
        "GET",
        _ORG + "/history",
        "history",
        page=50,
        query_names={"actions": "action"},
        run=_history_page,
        answer_type=HistoryPage,
    ),
    "organizations": Endpoint("GET", "/v1/organizations", "organizations", page=100, run=_visible),
    "organization": Endpoint("GET", _ORG, "organizations"),
    "products": Endpoint("GET", _ORG + "/products", "organizations"),
    "systems": Endpoint("GET", _SYSTEMS, "systems", page=100),
    "alerts": Endpoint("GET", _ORG + "/alerts", "organizations"),
    "events": Endpoint("GET", _ORG + "/events", "events", page=100),
    # events out (SPEC §7): the jobs, endpoints and deliveries as resources
    "sweep": Endpoint("POST", "/v1/sweep", "events", body="SweepRequest", status=200),
    "deliver": Endpoint("POST", "/v1/deliver", "events", body="DeliverRequest", status=200),
    "webhooks.add": Endpoint("POST", "/v1/webhooks", "webhooks", body="NewWebhook"),
    "webhooks.list": Endpoint("GET", "/v1/webhooks", "webhooks", run=_webhooks),
    "webhooks.update": Endpoint(
        "PATCH", "/v1/webhooks/{endpoint_id}", "webhooks", body="WebhookChange", status=200
    ),
    "webhooks.rotate_secret": Endpoint(
        "POST", "/v1/webhooks/{endpoint_id}/secret", "webhooks", status=200
    ),
    "webhooks.remove": Endpoint("DELETE", "/v1/webhooks/{endpoint_id}", "webhooks", status=204),
    "webhooks.failed": Endpoint("GET", "/v1/deliveries/failed", "webhooks", run=_failures),
    "webhooks.redeliver": Endpoint(
        "POST", "/v1/deliveries/{delivery_id}/redeliver", "webhooks", status=204
    ),
    # members and roles (SPEC §8)
    "accounts.create": Endpoint("POST", "/v1/accounts", "members", body="NewAccount"),
    "members.invite": Endpoint("POST", _ORG + "/invitations", "members", body="NewInvitation"),
    "members.accept": Endpoint(
        "POST", "/v1/invitations/accept", "members", body="InvitationAcceptance", status=200
    ),
    "members.set_role": Endpoint(
        "PUT", _ORG + "/members/{account_id}", "members", body="RoleChange"
    ),
    "members.remove": Endpoint("DELETE", _ORG + "/members/{account_id}", "members", status=204),
    "tokens.create": Endpoint(
        "POST", "/v1/accounts/{account_id}/tokens", "tokens", body="NewToken"
    ),
    "tokens.list": Endpoint("GET", "/v1/accounts/{account_id}/tokens", "tokens"),
    "tokens.revoke": Endpoint("DELETE", "/v1/tokens/{token_id}", "tokens", status=204),
}


def default_endpoint(op: Operation) -> Endpoint:
    """The endpoint of an operation :data:`ENDPOINTS` does not list.

    Under ``/v1/organizations/{org_id}`` when the operation acts on one
    organization, else under ``/v1``. A dotted name is a resource and a verb:
    ``webhooks.add`` is ``POST .../webhooks``, ``webhooks.list`` is
    ``GET .../webhooks``, and any other verb is its own path below the resource
    (``POST .../webhooks/rotate-secret``, ``GET .../webhooks/failed``). An
    undotted name is its own path (``POST .../sweep``). Queries are ``GET``,
    commands ``POST``; the tag is the resource.
    """
    names = {p.name for p in op.params}
    base = _ORG if op.scope is Scope.ORGANIZATION and "org_id" in names else "/v1"
    *resource, verb = op.name.replace("_", "-").split(".")
    if resource and verb in ("add", "create", "list"):
        path = "/".join([base, *resource])
    else:
        path = "/".join([base, *resource, verb])
    method = "GET" if op.kind is Kind.QUERY else "POST"
    has_body = (
        any(p.name not in (*_FROM_REQUEST, "org_id") for p in op.params) and op.kind is Kind.COMMAND
    )
    body_name = "".join(w.capitalize() for w in re.split(r"[._]", op.name)) + "Request"
    return Endpoint(method, path, (resource or [verb])[0], body=body_name if has_body else None)


def endpoint(op: Operation) -> Endpoint:
    """The endpoint of ``op``: its entry in :data:`ENDPOINTS`, or :func:`default_endpoint`."""
    return ENDPOINTS.get(op.name) or default_endpoint(op)


# -- the body, from the declaration ---------------------------------------------------------------


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _counts_schema(p: Param, doc: str) -> Schema:
    least = 0 if p.allow_zero else 1
    return counts_schema(
        f"{doc}; JSON integers from {least} to {MAX_QUANTITY:,}",
        allow_zero=p.allow_zero,
        allow_empty=p.allow_empty,
    )


def _int_schema(p: Param, doc: str) -> Schema:
    return Schema(
        type=OpenAPIType.INTEGER,
        minimum=p.minimum,
        maximum=p.maximum,
        description=f"{doc}; a JSON integer",
    )


def _zone_schema(p: Param, doc: str) -> Schema:
    return Schema(
        type=OpenAPIType.STRING,
        enum=sorted(_iana_names()),
        description=f"{doc}: an IANA time zone (the names the server knows)",
    )


def _enum_schema(p: Param, doc: str) -> Schema:
    assert p.choices is not None
    return Schema(type=OpenAPIType.STRING, enum=[c.value for c in p.choices], description=doc)


def _url_schema(p: Param, doc: str) -> Schema:
    return Schema(
        type=OpenAPIType.STRING,
        min_length=1,
        max_length=MAX_URL_LENGTH,
        pattern=r"^https?://[!-~]+$",
        description=f"{doc}; its address is checked when the endpoint is saved (SPEC §7)",
    )


def _datetime_schema(p: Param, doc: str) -> Schema:
    return Schema(
        type=OpenAPIType.STRING,
        format=OpenAPIFormat.DATE_TIME,
        pattern=YEARS,
        max_length=64,
        description=f"{doc}; an aware ISO 8601 instant, from 1901 to 8999",
    )


def _flag_schema(p: Param, doc: str) -> Schema:
    return Schema(type=OpenAPIType.BOOLEAN, description=doc)


def _event_types_schema(p: Param, doc: str) -> Schema:
    items = Schema(type=OpenAPIType.STRING, enum=sorted(event_types()))
    return Schema(type=OpenAPIType.ARRAY, items=items, min_items=1, description=doc)


def _ids_schema(p: Param, doc: str) -> Schema:
    return Schema(type=OpenAPIType.ARRAY, items=id_schema("An id"), min_items=1, description=doc)


def _password_schema(p: Param, doc: str) -> Schema:
    return Schema(
        type=OpenAPIType.STRING,
        min_length=MIN_PASSWORD,
        max_length=MAX_PASSWORD,
        pattern=r"^[^\u0000]*$",
        description=doc,
    )


def _secret_schema(p: Param, doc: str) -> Schema:
    return Schema(type=OpenAPIType.STRING, min_length=1, description=doc)


#: The schema of a body field, by its check: the bounds the check enforces.
_FIELD_SCHEMAS: Mapping[Check, Callable[[Param, str], Schema]] = {
    Check.ID: lambda p, doc: id_schema(doc),
    Check.PRODUCT: lambda p, doc: id_schema(doc),
    Check.NEW_ID: lambda p, doc: new_id_schema(doc, p.reserved),
    Check.COUNTS: _counts_schema,
    Check.INT: _int_schema,
    Check.TEXT: lambda p, doc: text_schema(doc, p.max_length or MAX_NAME),
    Check.KEY: lambda p, doc: text_schema(doc, MAX_KEY_INPUT),
    Check.ZONE: _zone_schema,
    Check.ENUM: _enum_schema,
    Check.DATETIME: _datetime_schema,
    Check.URL: _url_schema,
    Check.FLAG: _flag_schema,
    Check.EVENT_TYPES: _event_types_schema,
    Check.IDS: _ids_schema,
    Check.PASSWORD: _password_schema,
    Check.SECRET: _secret_schema,
}


def field_schema(p: Param) -> Schema:
    """The OpenAPI schema of parameter ``p`` in a JSON body: the bounds its check enforces.

    A check the table does not know yet gets a schema without bounds (the
    library still checks the value; ``tests/test_edges_agree.py`` asks for its
    bounds where the declaration states some).
    """
    make = _FIELD_SCHEMAS.get(p.check)
    if make is None:  # a check this table does not know yet: any JSON value, the library checks it
        return Schema(description=_capital(p.doc))
    return make(p, _capital(p.doc))


def body_required(p: Param) -> bool:
    """Whether a body must carry ``p``: it has no default, or its default fails its check."""
    return p.required or (p.check is Check.COUNTS and not p.allow_empty)


def _nullable(schema: Schema) -> Schema:
    if not isinstance(schema.type, OpenAPIType):
        return schema
    return dataclasses.replace(schema, type=[schema.type, OpenAPIType.NULL])


def _body_field(p: Param) -> Any:
    if body_required(p):  # given, and null where the library takes None (a vendor-wide webhook)
        return spec(_nullable(field_schema(p)) if p.optional else field_schema(p))
    if p.check is Check.COUNTS and p.default is None:
        return spec(field_schema(p), factory=dict)
    default = p.default.value if isinstance(p.default, LicenseKind) else p.default
    schema = field_schema(p)
    if default is None:  # null: the default, none
        schema = _nullable(schema)
    return spec(schema, default=default)


def body_params(op: Operation, at: Endpoint) -> tuple[Param, ...]:
    """The parameters of ``op`` its JSON body carries."""
    if op.kind is Kind.QUERY or at.method == "GET":
        return ()
    skip = {*_FROM_REQUEST, *at.path_params}
    return tuple(p for p in op.params if p.name not in skip)


def body_type(op: Operation, at: Endpoint) -> type | None:
    """The body class of ``op``'s endpoint: its own, or one made from the declaration."""
    if at.body is None or isinstance(at.body, type):
        return at.body
    params = body_params(op, at)
    namespace: dict[str, Any] = {
        "__annotations__": {p.name: Any for p in params},
        "__doc__": op.summary,
        "__module__": __name__,
        "__qualname__": at.body,
    }
    # required fields first, as attrs wants them
    ordered = sorted(params, key=lambda p: not body_required(p))
    namespace.update({p.name: _body_field(p) for p in ordered})
    namespace["__annotations__"] = {p.name: Any for p in ordered}
    return body(attrs.frozen(type(at.body, (), namespace)))


# -- the query string, from the declaration --------------------------------------------------------


def _paging(p: Param, at: Endpoint) -> tuple[Any, object] | None:
    """The API's own bounds of a listing's ``limit`` and ``offset``; None for other parameters."""
    if at.page is None or p.name not in ("limit", "offset"):
        return None
    if p.name == "limit":
        limit = QueryParameter(ge=1, le=MAX_PAGE, description="At most this many")
        return Annotated[int, limit], at.page
    offset = QueryParameter(
        ge=0, le=MAX_OFFSET, description="Skip this many first (after filtering)"
    )
    return Annotated[int, offset], 0


def _query_annotation(p: Param, at: Endpoint) -> tuple[Any, object]:
    """The Litestar annotation and default of query parameter ``p``: text for other checks."""
    paged = _paging(p, at)
    if paged is not None:
        return paged
    name = at.query_names.get(p.name, p.name)
    doc = _capital(p.doc)
    annotated: tuple[Any, object]
    match p.check:
        case Check.DATETIME:
            annotated = At, None
        case Check.DATE_OR_DATETIME:
            annotated = Bound, None
        case Check.INT if p.default is None:  # optional: absent means none
            bounded = QueryParameter(
                name=name,
                ge=p.minimum,
                le=p.maximum,
                required=False,
                description=doc,
                # Litestar leaves out a minimum of 0 beside the null type: state it
                schema_extra={} if p.minimum is None else {"minimum": p.minimum},
            )
            annotated = Annotated[int | None, bounded], None
        case Check.INT:
            bounded = QueryParameter(name=name, ge=p.minimum, le=p.maximum, description=doc)
            annotated = Annotated[int, bounded], p.default
        case Check.ACTIONS:
            items = Schema(type=OpenAPIType.STRING, enum=list(Action))
            listed = QueryParameter(
                name=name, required=False, description=doc, schema_extra={"items": items}
            )
            annotated = Annotated[list[str] | None, listed], None
        case Check.ID | Check.PRODUCT | Check.NEW_ID if p.required:
            text = QueryParameter(name=name, description=doc, schema_extra=REF)
            annotated = Annotated[str, text], inspect.Parameter.empty
        case Check.ID | Check.PRODUCT | Check.NEW_ID:
            text = QueryParameter(name=name, required=False, description=doc, schema_extra=REF)
            annotated = Annotated[str | None, text], None
        case _:  # text, as sent; the library checks it
            text = QueryParameter(name=name, required=p.required, description=doc)
            default = inspect.Parameter.empty if p.required else p.default
            annotated = Annotated[str if p.required else str | None, text], default
    return annotated


def _query_value(p: Param, value: object) -> object:
    """A query value, or a body's instant, as the library takes it: instants parsed."""
    if p.check is Check.DATETIME:
        return parse_at(value, p.name) if isinstance(value, str) else value
    if p.check is Check.DATE_OR_DATETIME:
        return parse_bound(value, p.name)  # type: ignore[arg-type]
    return value


# -- the handlers ----------------------------------------------------------------------------------

#: Keyword names a handler takes from its dependencies; a parameter with one of these
#: names (history's ``actor`` filter) gets another keyword in the handler.
_RESERVED = frozenset({"manager", "actor", "request_id", "data", "request"})


def _keyword(p: Param) -> str:
    return f"{p.name}_filter" if p.name in _RESERVED else p.name


def _responses(op: Operation, at: Endpoint, has_body: bool) -> dict[int, Any]:
    statuses = {family_status(error) for error in op.errors}
    return problems(*statuses, *((413, 415) if has_body else ()))


def _authorize(manager: Manager, actor: str, op: Operation, raw: Mapping[str, object]) -> None:
    """Refuse, before the operation reads or writes an organization, what the caller may not.

    A query is asked of the authorize hooks here (the library's queries take no
    actor, SPEC §8). A command that the Manager runs is asked of them by the
    Manager, once, after its input is checked (§4): here only the request's own
    limits apply (a stored token's organizations and read-only flag). A
    store-wide command is refused here to a read-only token; its other rules
    (:data:`~axis_licensing.http._access.GUARDS`) run with its values.
    """
    if op.scope is Scope.STORE:
        if op.kind is Kind.COMMAND:
            allow_command(actor, op.name)
        return
    org_id = raw.get("org_id") if op.scope is Scope.ORGANIZATION else None
    if op.scope is Scope.ORGANIZATION and not isinstance(org_id, str):
        return  # an org_id the library refuses (R14) before it asks the hook itself
    assert org_id is None or isinstance(org_id, str)
    product = raw.get("product")
    ask = Ask(actor, org_id, op.action or op.name, product if isinstance(product, str) else None)
    allow(manager, ask, hook=op.kind is Kind.QUERY or not manager_asks(op.name))


#: The stores whose queries run on the event loop: a query answers from the
#: library's cache (microseconds), which a thread hop costs more than; on a
#: cache miss a query reads the local file (or memory) on the loop, and waits
#: there for the store's lock while a command writes, which is short on these
#: stores. PostgreSQL, and any other backend (a plugin's), reads in a thread.
_LOOP_BACKENDS: tuple[type, ...] = (SQLiteBackend, MemoryBackend)


def on_loop(manager: Manager) -> bool:
    """Whether a query of ``manager`` runs on the event loop (its store is local and quick)."""
    return type(manager.backend) in _LOOP_BACKENDS


@attrs.frozen
class PlainQuery:
    """A query's handler as a plain call, which the kept-answer path runs (:mod:`._fast`).

    ``handle`` takes the handler's keywords (``manager``, ``actor``, the path's
    parameters and the query's); ``defaults`` are the query's keywords and the
    values they take when the query string is empty.
    """

    handle: Callable[..., object]
    defaults: Mapping[str, object]


#: The ``GET`` query handlers that can answer without their query string, by handler name.
PLAIN_QUERIES: dict[str, PlainQuery] = {}


#: ``JSONBody``, applied to body classes made at run time (which no type checker sees).
_JSON_BODY: Any = JSONBody


def handler(op: Operation, at: Endpoint) -> HTTPRouteHandler:
    """The Litestar handler of ``op`` at ``at``, drawn from the declaration.

    Raises:
        KeyError: the path names a parameter the operation lacks (a bug in the table).
    """
    keyword = inspect.Parameter.KEYWORD_ONLY
    signature = [
        inspect.Parameter("manager", keyword, annotation=ManagerDep),
        inspect.Parameter("actor", keyword, annotation=ActorDep),
    ]
    if op.kind is Kind.COMMAND and any(p.name == "request_id" for p in op.params):
        signature.append(inspect.Parameter("request_id", keyword, annotation=RequestIdDep))
    in_path = [op.param(name) for name in at.path_params]
    for p in in_path:
        described = PathParameter(description=_capital(p.doc), schema_extra=REF)
        signature.append(inspect.Parameter(p.name, keyword, annotation=Annotated[str, described]))
    in_query: list[Param] = []
    if op.kind is Kind.QUERY:
        in_query = [p for p in op.params if p.name not in at.path_params]
        for p in in_query:
            annotation, default = _query_annotation(p, at)
            signature.append(
                inspect.Parameter(_keyword(p), keyword, annotation=annotation, default=default)
            )
    data = body_type(op, at)
    if data is not None:
        signature.append(inspect.Parameter("data", keyword, annotation=_JSON_BODY[data]))

    def handle(**given: Any) -> object:
        manager: Manager = given["manager"]
        actor: str = given["actor"]
        raw: dict[str, object] = {p.name: given[p.name] for p in in_path}
        raw.update({p.name: given[_keyword(p)] for p in in_query})
        sent = given.get("data")
        if sent is not None:
            raw.update(
                sent.params() if hasattr(sent, "params") else attrs.asdict(sent, recurse=False)
            )
        for p in in_path:  # a malformed id is refused as such, before whom it concerns (§4)
            if p.check in (Check.ID, Check.NEW_ID):
                p.validate(raw[p.name], {}, manager)
        _authorize(manager, actor, op, raw)
        values = {
            p.name: _query_value(p, raw[p.name])
            if p in in_query or p.check is Check.DATETIME
            else raw[p.name]
            for p in op.params
            if p.name in raw
        }
        guard = GUARDS.get(op.name)
        if guard is not None:  # a store-wide operation's own rules (SPEC §7, §8)
            guard(manager, actor, op, values)
        if op.kind is Kind.COMMAND:  # who asks and the request id, where it declares them
            declared = {p.name for p in op.params}
            values.update(
                {
                    name: value
                    for name, value in (("actor", actor), ("request_id", given.get("request_id")))
                    if name in declared
                }
            )
        result = at.run(manager, actor, values) if at.run else manager.execute(op.name, **values)
        if at.success == 204:
            return None
        return at.answer(result) if at.answer else result

    target: Callable[..., object] = handle
    if op.kind is Kind.QUERY and at.method == "GET":
        defaults = {
            _keyword(p): default for p in in_query for default in (_query_annotation(p, at)[1],)
        }
        if inspect.Parameter.empty not in defaults.values():
            PLAIN_QUERIES[op.name.replace(".", "_")] = PlainQuery(handle, defaults)
    if op.kind is Kind.QUERY:  # a query on a local store answers on the event loop (on_loop)

        async def query(**given: Any) -> object:
            if on_loop(given["manager"]):
                return handle(**given)
            return await sync_to_thread(handle, **given)

        target = query
    returns = None if at.success == 204 else (at.answer_type or op.result)
    target.__signature__ = inspect.Signature(signature, return_annotation=returns)  # type: ignore[attr-defined]
    target.__annotations__ = {p.name: p.annotation for p in signature} | {"return": returns}
    target.__name__ = target.__qualname__ = op.name.replace(".", "_")
    target.__doc__ = op.summary
    return route(
        re.sub(r"\{(\w+)\}", r"{\1:str}", at.path),
        http_method=[HttpMethod(at.method)],
        status_code=at.success,
        responses=_responses(op, at, data is not None),
        sync_to_thread=None if op.kind is Kind.QUERY else True,  # a command waits in a thread
        tags=[at.tag],
        description=op.summary,
    )(target)


@dataclasses.dataclass
class _RawUpload(OpenAPIOperation):
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


def _upload_handler(op: Operation, at: Endpoint) -> HTTPRouteHandler:
    """The system-file upload: the body is the file's bytes, the answer the license file."""

    async def upload_system_file(
        *,
        request: Request[Any, Any, Any],
        manager: ManagerDep,
        actor: ActorDep,
        request_id: RequestIdDep,
        org_id: Annotated[str, PathParameter(description="The organization", schema_extra=REF)],
    ) -> Response[bytes]:
        content_type = request.headers.get("content-type", "")
        if content_type.partition(";")[0].strip().lower() != "application/octet-stream":
            raise HTTPException(
                status_code=415,
                detail=(
                    "a system file is sent as application/octet-stream, "
                    f"got {content_type or 'no content type'!r}"
                ),
            )
        _authorize(manager, actor, op, {"org_id": org_id})
        data = await request.body()
        license_file = await anyio.to_thread.run_sync(
            lambda: manager.execute(
                op.name, org_id=org_id, data=data, actor=actor, request_id=request_id
            )
        )
        assert isinstance(license_file, bytes)
        return license_response(license_file)

    upload_system_file.__doc__ = op.summary + " At most 1 MiB; the answer is its license file."
    return post(
        re.sub(r"\{(\w+)\}", r"{\1:str}", at.path),
        responses=_responses(op, at, True),
        status_code=at.success,
        request_max_body_size=MAX_UPLOAD,
        media_type="application/octet-stream",
        response_description="The signed license file (canonical JSON) for the system",
        operation_class=_RawUpload,
        tags=[at.tag],
    )(upload_system_file)


#: Operations whose bytes in or out a JSON endpoint cannot carry.
_OWN_HANDLERS: Mapping[str, Callable[[Operation, Endpoint], HTTPRouteHandler]] = {
    "upload_system_file": _upload_handler,
}


def handlers() -> list[HTTPRouteHandler]:
    """One handler per declared operation, in declaration order."""
    made = []
    for op in OPERATIONS.values():
        make = _OWN_HANDLERS.get(op.name, handler)
        made.append(make(op, endpoint(op)))
    return made


@get(
    "/v1/public-key",
    tags=["keys"],
    sync_to_thread=False,
    responses=problems(),
    security=[{}],
)
def public_key(manager: ManagerDep) -> PublicKey:
    """The PEM public key that verifies license files offline (R12); no token needed."""
    return PublicKey(manager.public_key.decode("ascii"))


#: The API: every request's integers in the query string and JSON body pass
#: :func:`check_request` before anything decodes them.
API_ROUTES: list[ControllerRouterHandler] = [
    Router(path="/", route_handlers=[*handlers(), public_key], before_request=check_request)
]
