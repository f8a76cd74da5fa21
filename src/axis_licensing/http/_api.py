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
from datetime import date, datetime
from fractions import Fraction
from typing import Annotated, Any

import anyio
import attrs
from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromQuery, HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from axis_licensing.catalog import Catalog, CatalogVersion, LicenseType, ProductSpec
from axis_licensing.errors import InvalidInput, PermissionDenied
from axis_licensing.http._problems import PROBLEM_JSON, Problem
from axis_licensing.manager import Manager
from axis_licensing.model import (
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

__all__ = ["API_ROUTES", "MAX_UPLOAD", "bearer_actor", "dependencies"]

#: System description files are small; anything above this is refused with 413 (SPEC §6).
MAX_UPLOAD = 1024 * 1024

#: The most history entries one page holds.
MAX_PAGE = 1000


def _problems(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(Problem, description="An RFC 9457 problem", media_type=PROBLEM_JSON)
        for status in (400, 401, 403, 503, *statuses)
    }


ManagerDep = NamedDependency[Manager]
ActorDep = NamedDependency[str]
RequestIdDep = NamedDependency[str | None]


# -- who is asking -------------------------------------------------------------------------------


def bearer_actor(manager: Manager, authorization: str | None) -> str | None:
    """The actor of an ``Authorization: Bearer <token>`` header, or None (SPEC §6)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 4096:
        return None
    return manager.plugin_manager.authenticate(token)


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
            description="Makes the command idempotent (R13): the Manager's request_id.",
        ),
    ] = None,
) -> str | None:
    return idempotency_key


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
    """Ask the authorize hook (SPEC §4) before any read or write of ``org_id``.

    Raises:
        PermissionDenied: a plugin refused; the message says nothing about the organization.
    """
    if not manager.plugin_manager.authorize(actor, org_id, action, product):
        raise PermissionDenied(f"actor {actor!r} may not {action} here")


# -- request bodies ------------------------------------------------------------------------------


@attrs.frozen
class NewOrganization:
    """Create an organization."""

    org_id: str
    name: str
    timezone: str = "UTC"


@attrs.frozen
class NewSystem:
    """Register a system of a product, with its device counts per license type."""

    system_id: str
    product: str
    devices: dict[str, int] = attrs.field(factory=dict)


@attrs.frozen
class DeviceReport:
    """A system's device counts per license type; types left out become 0 (R1)."""

    devices: dict[str, int]


@attrs.frozen
class NewHardware:
    """Register a shipped hardware unit to a system (R9)."""

    serial: str


@attrs.frozen
class Quantities:
    """Licenses per license type, for an extension allocation to hardware (R9)."""

    quantities: dict[str, int]


@attrs.frozen
class AllocationRequest:
    """Allocate licenses from the wallet to a period: 0 is the current one (R7)."""

    quantities: dict[str, int]
    period: int = 0


@attrs.frozen
class NeedAllocationRequest:
    """Allocate what the periods up to ``through`` still need (R7)."""

    through: int = 0


@attrs.frozen
class KeyRedemption:
    """A license key to redeem into the organization's wallets (R6, R10)."""

    key: str


@attrs.frozen
class KeyOrder:
    """The vendor issues a key for a product, a kind and quantities (R10)."""

    product: str
    quantities: dict[str, int]
    kind: LicenseKind = LicenseKind.SUBSCRIPTION


@attrs.frozen
class IssuedKey:
    """A key the vendor issued."""

    key: str


@attrs.frozen
class Shipment:
    """The vendor ships a hardware unit with preloaded licenses (R9)."""

    serial: str
    product: str
    preloaded: dict[str, int] = attrs.field(factory=dict)


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


@attrs.frozen
class LicenseTypeBody:
    """A license type of a published catalog; it covers itself and ``covers`` (R5)."""

    code: str
    covers: list[str] = attrs.field(factory=list)


@attrs.frozen
class ProductBody:
    """A product of a published catalog (SPEC §1); ``growth_rate`` is ``"n/d"`` or a number."""

    code: str
    name: str
    license_types: list[LicenseTypeBody]
    term_years: int = 1
    growth_rate: str = "1"
    trial_days: int = 30
    grace_days: int = 30


@attrs.frozen
class CatalogBody:
    """A catalog to publish as the store's next version (R15)."""

    products: list[ProductBody]

    def to_catalog(self) -> Catalog:
        """The library's Catalog.

        Raises:
            InvalidInput: a growth rate that is not a fraction, or a catalog the library refuses.
        """
        specs = []
        for p in self.products:
            try:
                growth = Fraction(p.growth_rate)
            except (ValueError, ZeroDivisionError):
                raise InvalidInput(
                    f"product {p.code!r}: growth_rate must be a fraction such as '1/2', "
                    f"got {p.growth_rate!r}"
                ) from None
            specs.append(
                ProductSpec(
                    p.code,
                    p.name,
                    term_years=p.term_years,
                    growth_rate=growth,
                    trial_days=p.trial_days,
                    grace_days=p.grace_days,
                    license_types=[
                        LicenseType(t.code, covers=tuple(t.covers)) for t in p.license_types
                    ],
                )
            )
        return Catalog(products=specs)


@attrs.frozen
class PublishedCatalog:
    """The version number a published catalog got."""

    version: int


@attrs.frozen
class PublicKey:
    """The public key that verifies license files (R12), as PEM."""

    pem: str


# -- query parameters ----------------------------------------------------------------------------

_At = Annotated[
    str | None,
    QueryParameter(
        description="An aware ISO 8601 instant; default: now (SPEC §1)",
        required=False,
        format="date-time",
        max_length=64,
    ),
]
OrgPath = Annotated[str, PathParameter(description="The organization's id", max_length=1024)]
ProductPath = Annotated[str, PathParameter(description="The product's code", max_length=1024)]
SystemPath = Annotated[str, PathParameter(description="The system's id", max_length=1024)]
SerialPath = Annotated[
    str, PathParameter(description="The hardware unit's serial", max_length=1024)
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
            f"{which} must be a date (YYYY-MM-DD) or an aware ISO 8601 instant, got {value!r}"
        ) from None


# -- controllers ---------------------------------------------------------------------------------


class OrganizationController(Controller):
    """Organizations (R1)."""

    path = "/v1/organizations"
    tags = ("organizations",)

    @post("/", responses=_problems(409), sync_to_thread=True, status_code=HTTP_201_CREATED)
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
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
    ) -> list[Organization]:
        """The organizations this token may use, by id, paged (R1)."""
        listed = manager.organizations(limit=limit, offset=offset)
        return [
            org
            for org in listed
            if manager.plugin_manager.authorize(actor, org.org_id, "organizations", None)
        ]

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
        within_days: Annotated[int, QueryParameter(ge=0, le=3660)] = 60,
    ) -> list[Alert]:
        """What the organization should act on soon, soonest first."""
        allow(manager, actor, org_id, "alerts")
        return manager.alerts(org_id, at=parse_at(at), within_days=within_days)


class ProductController(Controller):
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
        horizon: Annotated[int, QueryParameter(ge=0, le=100, description="Periods ahead")] = 5,
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
        responses=_problems(404, 409, 422),
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
        responses=_problems(404, 409, 422),
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


class KeyController(Controller):
    """License keys redeemed into an organization's wallets (R6, R10)."""

    path = "/v1/organizations/{org_id:str}/keys"
    tags = ("wallet",)

    @post("/", responses=_problems(404, 409), sync_to_thread=True, status_code=HTTP_201_CREATED)
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


class SystemController(Controller):
    """An organization's systems, their devices and hardware (R1, R9, R12)."""

    path = "/v1/organizations/{org_id:str}/systems"
    tags = ("systems",)

    @post("/", responses=_problems(404, 409), sync_to_thread=True, status_code=HTTP_201_CREATED)
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
        product: FromQuery[str | None] = None,
        at: _At = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
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

    @put("/{system_id:str}/devices", responses=_problems(404, 409), sync_to_thread=True)
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
        manager.report_devices(
            org_id, system_id, devices=data.devices, actor=actor, request_id=request_id
        )
        return manager.system_status(org_id, system_id)

    @post(
        "/{system_id:str}/hardware",
        responses=_problems(404, 409),
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
        manager.register_hardware(
            org_id, system_id, data.serial, actor=actor, request_id=request_id
        )
        return manager.system_status(org_id, system_id)


class HardwareController(Controller):
    """Hardware units of an organization: extension licenses (R9)."""

    path = "/v1/organizations/{org_id:str}/hardware"
    tags = ("systems",)

    @post(
        "/{serial:str}/allocations",
        responses=_problems(404, 409, 422),
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


class SystemFileController(Controller):
    """Offline systems: a system description file in, a signed license file out (R12)."""

    path = "/v1/organizations/{org_id:str}/system-files"
    tags = ("systems",)

    @post(
        "/",
        responses=_problems(404, 409, 413),
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


class HistoryController(Controller):
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
        product: FromQuery[str | None] = None,
        by: Annotated[str | None, QueryParameter(name="actor", required=False)] = None,
        action: Annotated[list[str] | None, QueryParameter(required=False)] = None,
        since: Annotated[
            str | None, QueryParameter(description="A local date or an aware instant")
        ] = None,
        until: Annotated[
            str | None, QueryParameter(description="A local date or an aware instant")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 50,
        offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
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


class VendorController(Controller):
    """The vendor's commands: keys and hardware (R9, R10)."""

    path = "/v1/vendor"
    tags = ("vendor",)

    @post("/keys", responses=_problems(404, 409), sync_to_thread=True, status_code=HTTP_201_CREATED)
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
        responses=_problems(404, 409),
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


class CatalogController(Controller):
    """The store's catalog and its versions (R15)."""

    path = "/v1/catalog"
    tags = ("catalog",)

    @get("/versions", responses=_problems(), sync_to_thread=True)
    def catalog_versions(self, *, manager: ManagerDep, actor: ActorDep) -> list[CatalogVersion]:
        """Every recorded version of the catalog, oldest first (R15)."""
        return manager.catalog_versions()

    @post(
        "/versions",
        responses=_problems(409),
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


API_ROUTES: list[ControllerRouterHandler] = [
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
]
