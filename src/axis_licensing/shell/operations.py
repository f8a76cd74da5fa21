"""One declaration per public command and query (SPEC §3, §6.1): written once, read by every edge.

Each :class:`Operation` names a Manager method (``"allocate"``, or
``"vendor.issue_key"`` for ``manager.vendor.issue_key``), says whether it is a
command or a query and whom it acts on, the action the authorize hook is asked
with (§4), its parameters with their checks and bounds, the type of its full
result, the errors it may raise, and a one-line summary.

The Manager's methods take their checks from here (:meth:`Operation.checked`),
and :meth:`axis_licensing.Manager.execute` runs any operation by name with the
same checks. The CLI and the HTTP API are drawn from the same declarations,
so a command cannot exist in the library and be missing, or checked
differently, at an edge.

Enumerate them with :data:`OPERATIONS` (by name, in SPEC §3 order)::

    for op in OPERATIONS.values():
        print(op.name, op.kind, [(p.name, p.check, p.required) for p in op.params])
"""

from __future__ import annotations

import enum
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

import attrs

from axis_licensing import offline
from axis_licensing._counts import Counts
from axis_licensing._time import check_aware, check_zone
from axis_licensing._validate import (
    MAX_ID,
    check_actor,
    check_counts,
    check_id,
    check_int,
    check_new_id,
    check_text,
)
from axis_licensing.catalog import Catalog, CatalogVersion, ProductSpec
from axis_licensing.errors import (
    AlreadyExists,
    AlreadyRegistered,
    AlreadyStarted,
    ConcurrencyConflict,
    IdempotencyConflict,
    IncompatibleCatalog,
    InsufficientLicenses,
    InvalidInput,
    InvitationInvalid,
    KeyAlreadyRedeemed,
    KeyTypo,
    LastOwner,
    LicensingError,
    MalformedSystemFile,
    NotFound,
    OutsideAllocationWindow,
    PermissionDenied,
    StorageError,
    SubscriptionNotStarted,
    UnknownAccount,
    UnknownHardware,
    UnknownKey,
    UnknownOrganization,
    UnknownProduct,
    UnknownSystem,
    UnknownWebhook,
)
from axis_licensing.events.model import (
    Delivery,
    DeliveryReport,
    Event,
    SweepReport,
    WebhookEndpoint,
    check_event_types,
)
from axis_licensing.members import model as members_model
from axis_licensing.members.roles import SYSTEM_ACTOR
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
from axis_licensing.policy.alerts import MAX_WITHIN_DAYS
from axis_licensing.shell import keys as _keys

__all__ = [
    "MAX_HORIZON",
    "MAX_ROWS",
    "MAX_WITHIN_DAYS",
    "OPERATIONS",
    "REQUIRED",
    "Check",
    "Kind",
    "Operation",
    "Param",
    "Scope",
    "documented",
    "operation",
]

#: The most periods ``need`` looks ahead.
MAX_HORIZON = 100
#: The largest ``limit`` or ``offset`` of a listing (what SQL integers hold).
MAX_ROWS = 2**63 - 1
#: The largest event ``seq`` asked after: the largest integer a JSON number holds exactly.
MAX_SEQ = 2**53 - 1
#: The longest organization name.
MAX_NAME = 200
#: The longest webhook URL.
MAX_URL = 2048


class _Required(enum.Enum):
    REQUIRED = "required"


#: The ``default`` of a parameter that has none.
REQUIRED = _Required.REQUIRED


class Kind(enum.StrEnum):
    """Whether an operation changes the store."""

    COMMAND = "command"
    QUERY = "query"


class Scope(enum.StrEnum):
    """Whom an operation acts on: one organization, the vendor, or the whole store."""

    ORGANIZATION = "organization"
    VENDOR = "vendor"
    STORE = "store"


class Check(enum.StrEnum):
    """The check a parameter's value passes (R14); each raises InvalidInput with ``param``."""

    #: An id that names something that exists (letters, digits, ``. _ - ~ : @ +``; 1–128).
    ID = "id"
    #: An id being created: the id rule of R14, never ``.`` or ``..``.
    NEW_ID = "new_id"
    #: A product code of the catalog (an id; ``UnknownProduct`` if the catalog lacks it).
    PRODUCT = "product"
    #: Who acts: printable text, 1–128 characters, no invisible or bidi characters.
    ACTOR = "actor"
    #: A request id (an id; a new one must also pass the new-id rule).
    REQUEST_ID = "request_id"
    #: Counts per license type: integers up to 1,000,000 keyed by ids.
    COUNTS = "counts"
    #: An integer (not a bool) within ``minimum`` .. ``maximum``.
    INT = "int"
    #: Text of at most ``max_length`` characters, not blank.
    TEXT = "text"
    #: An IANA time-zone name.
    ZONE = "zone"
    #: A license key as typed: case, spaces, dashes and I/L/O are forgiven (``KeyTypo``).
    KEY = "key"
    #: A system description file's bytes (``MalformedSystemFile``).
    SYSTEM_FILE = "system_file"
    #: An aware datetime.
    DATETIME = "datetime"
    #: A local date, or an aware datetime.
    DATE_OR_DATETIME = "date_or_datetime"
    #: A member of ``choices`` or its value.
    ENUM = "enum"
    #: A :class:`~axis_licensing.Catalog`.
    CATALOG = "catalog"
    #: One history action, or several.
    ACTIONS = "actions"
    # -- events out (SPEC §7)
    #: A webhook URL (text up to 2,048 characters; its scheme and address are
    #: checked by the command, against the endpoint's allowances).
    URL = "url"
    #: True or False (a bool, not a truthy value).
    FLAG = "flag"
    #: Event types (SPEC §7): a list of known types, not empty, not one string.
    EVENT_TYPES = "event_types"
    # -- members (SPEC §8)
    #: A list of ids (at least one; duplicates merged, sorted).
    IDS = "ids"
    #: A password: 8–1024 characters, no NUL; never logged, stored or recorded.
    PASSWORD = "password"  # noqa: S105 - a check's name
    #: A secret (an invitation token): non-empty text, never logged or recorded.
    SECRET = "secret"  # noqa: S105 - a check's name


class Resolver(Protocol):
    """What a check needs from the Manager: the catalog (read again when it is stale)."""

    def _spec(self, product: str) -> ProductSpec: ...
    def _check_types(self, product: str, counts: Counts, what: str) -> None: ...


@attrs.frozen
class Param:
    """One parameter of an operation, with its check.

    Attributes:
        name: the Python parameter name.
        annotation: its Python type, as the method's signature spells it.
        check: the check its value passes.
        doc: one line for the CLI's help and the OpenAPI description.
        default: its default, or :data:`REQUIRED`.
        keyword_only: whether it comes after ``*`` in the signature.
        optional: None is accepted (and means "none" or "not given").
        allow_zero: counts may be 0 (``COUNTS``).
        allow_empty: counts may be empty (``COUNTS``).
        minimum: the smallest integer (``INT``).
        maximum: the largest integer (``INT``).
        max_length: the longest text (``TEXT``, ids).
        choices: the enumeration (``ENUM``).
        types_of: for ``COUNTS``, the parameter naming the product whose license
            types the keys must be; ``"*"`` when the product is only known from
            the store (checked in the command's transaction).
        reserved: values the check takes that this parameter refuses, each with
            why (the account id ``system`` is the library's own actor).
    """

    name: str
    annotation: Any
    check: Check
    doc: str
    default: object = REQUIRED
    keyword_only: bool = False
    optional: bool = False
    allow_zero: bool = False
    allow_empty: bool = False
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    choices: type[enum.Enum] | None = None
    types_of: str | None = None
    reserved: Mapping[str, str] = attrs.field(factory=dict, hash=False)

    @property
    def required(self) -> bool:
        """Whether a caller must give it."""
        return self.default is REQUIRED

    def validate(self, value: object, checked: Mapping[str, object], shell: Resolver) -> object:
        """``value`` checked (and normalized); see :class:`Check`.

        Args:
            value: what the caller passed.
            checked: the parameters before it, already checked.
            shell: resolves products and license types against the catalog.

        Returns:
            The checked value: a product's code, Counts, a normalized key, …

        Raises:
            InvalidInput: the value fails the check (``param`` names it).
            KeyTypo: a key fails its check symbols.
            MalformedSystemFile: not a valid description file.
            UnknownProduct: a product the catalog lacks.
        """
        if value is None and self.optional and self.check is not Check.COUNTS:
            return None
        if isinstance(value, str) and value in self.reserved:
            raise InvalidInput(self.reserved[value], param=self.name)
        return _CHECKS[self.check](self, value, checked, shell)


def _counts(p: Param, value: object, checked: Mapping[str, object], shell: Resolver) -> Counts:
    given = {} if value is None and p.optional else value
    counts = check_counts(given, p.name, allow_zero=p.allow_zero, allow_empty=p.allow_empty)
    if p.types_of is not None and p.types_of != "*":
        product = checked[p.types_of]
        assert isinstance(product, str)
        shell._check_types(product, counts, p.name)
    return counts


def _zone(p: Param, value: object, checked: Mapping[str, object], shell: Resolver) -> str:
    zone = check_text(value, p.name)
    check_zone(zone)
    return zone


def _catalog(p: Param, value: object, checked: Mapping[str, object], shell: Resolver) -> Catalog:
    if not isinstance(value, Catalog):
        raise InvalidInput(f"{p.name} must be a Catalog, got {type(value).__name__}", param=p.name)
    return value


def _system_file(
    p: Param, value: object, checked: Mapping[str, object], shell: Resolver
) -> offline.SystemDescription:
    return offline.parse_system_file(value)  # type: ignore[arg-type]  # it checks the type


def _actions(
    p: Param, value: object, checked: Mapping[str, object], shell: Resolver
) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, bytes | Mapping):
        raise InvalidInput(
            f"{p.name} must be an action or an iterable of actions, got {value!r}", param=p.name
        )
    listed = list(items)
    odd = [a for a in listed if not isinstance(a, str)]
    if odd:
        raise InvalidInput(f"{p.name} must be strings, got {odd[0]!r}", param=p.name)
    known = {a.value for a in Action}
    wanted = tuple(str(a) for a in listed)
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise InvalidInput(f"unknown actions {unknown}; known: {sorted(known)}", param=p.name)
    return wanted


def _date_or_datetime(
    p: Param, value: object, checked: Mapping[str, object], shell: Resolver
) -> date | datetime:
    if isinstance(value, datetime):
        return check_aware(value, p.name)
    if isinstance(value, date):
        return value
    raise InvalidInput(f"{p.name} must be a date or an aware datetime, got {value!r}", param=p.name)


@functools.lru_cache(maxsize=1024)
def _known_actor(value: str, name: str) -> str:
    """An actor checked once: every command of one user names the same actor (R14)."""
    return check_actor(value, name)


def _actor_of(p: Param, value: object, checked: Mapping[str, object], shell: Resolver) -> str:
    if type(value) is str:
        return _known_actor(value, p.name)
    return check_actor(value, p.name)


def _flag(p: Param, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{p.name} must be True or False, got {value!r}", param=p.name)
    return value


def _enum(p: Param, value: object) -> enum.Enum:
    if p.choices is None or p.choices is LicenseKind:
        return LicenseKind.of(value)
    if isinstance(value, p.choices):
        return value
    try:
        return p.choices(value)
    except ValueError:
        choices = ", ".join(str(c.value) for c in p.choices)
        raise InvalidInput(
            f"{p.name} must be one of {choices}, got {value!r}", param=p.name
        ) from None


def _ids(p: Param, value: object) -> tuple[str, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidInput(f"{p.name} must be a list of ids, got {value!r}", param=p.name)
    checked = tuple(sorted({check_id(v, p.name) for v in value}))
    if not checked:
        raise InvalidInput(f"{p.name} must name at least one id (or be none)", param=p.name)
    return checked


def _password(p: Param, value: object) -> str:
    from axis_licensing.members.passwords import check_password_text

    return check_password_text(value, param=p.name)


def _secret(p: Param, value: object) -> str:
    if not isinstance(value, str) or not value or _has_surrogate(value):
        raise InvalidInput(f"{p.name} must be non-empty text", param=p.name)
    return value


def _has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate, which no encoding of text can carry (R14)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_Checker = Callable[[Param, object, Mapping[str, object], Resolver], object]

#: How each check runs.
_CHECKS: Mapping[Check, _Checker] = {
    Check.ID: lambda p, v, c, s: check_id(v, p.name),
    Check.NEW_ID: lambda p, v, c, s: check_new_id(v, p.name),
    Check.PRODUCT: lambda p, v, c, s: s._spec(check_id(v, p.name)).code,
    Check.ACTOR: _actor_of,
    Check.REQUEST_ID: lambda p, v, c, s: check_id(v, p.name),
    Check.COUNTS: _counts,
    Check.INT: lambda p, v, c, s: check_int(v, p.name, minimum=p.minimum, maximum=p.maximum),
    Check.TEXT: lambda p, v, c, s: check_text(v, p.name, max_length=p.max_length or MAX_ID),
    Check.ZONE: _zone,
    Check.KEY: lambda p, v, c, s: _keys.normalize_key(v),
    Check.SYSTEM_FILE: _system_file,
    Check.DATETIME: lambda p, v, c, s: check_aware(v, p.name),
    Check.DATE_OR_DATETIME: _date_or_datetime,
    Check.ENUM: lambda p, v, c, s: _enum(p, v),
    Check.CATALOG: _catalog,
    Check.ACTIONS: _actions,
    Check.URL: lambda p, v, c, s: check_text(v, p.name, max_length=p.max_length or MAX_URL),
    Check.FLAG: lambda p, v, c, s: _flag(p, v),
    Check.EVENT_TYPES: lambda p, v, c, s: check_event_types(v),  # type: ignore[arg-type]
    Check.IDS: lambda p, v, c, s: _ids(p, v),
    Check.PASSWORD: lambda p, v, c, s: _password(p, v),
    Check.SECRET: lambda p, v, c, s: _secret(p, v),
}


@attrs.frozen
class Operation:
    """One public command or query of the Manager.

    Attributes:
        name: the Manager method: ``"allocate"``, or ``"vendor.issue_key"``.
        kind: command or query.
        scope: whom it acts on.
        action: the action the authorize hook is asked with (§4); None for queries.
        params: its parameters in signature order, ``request_id`` included.
        result: the type of the full result :meth:`Manager.execute` returns.
        returns: what the public method returns (None where SPEC §3 says so).
        errors: the error classes it may raise (its Raises contract).
        summary: one line.
    """

    name: str
    kind: Kind
    scope: Scope
    action: str | None
    params: tuple[Param, ...]
    result: Any
    returns: Any
    errors: tuple[type[LicensingError], ...]
    summary: str

    @property
    def path(self) -> tuple[str, ...]:
        """The attribute path from the Manager: ``("vendor", "issue_key")``."""
        return tuple(self.name.split("."))

    def param(self, name: str) -> Param:
        """The parameter called ``name``.

        Raises:
            KeyError: no such parameter.
        """
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def bind(self, given: Mapping[str, object]) -> dict[str, object]:
        """``given`` with the defaults filled in, every name known and every required one given.

        Raises:
            InvalidInput: an unknown or a missing parameter.
        """
        names = {p.name for p in self.params}
        unknown = sorted(set(given) - names)
        if unknown:
            raise InvalidInput(
                f"{self.name}: unknown parameter(s) {', '.join(unknown)} "
                f"(it takes: {', '.join(p.name for p in self.params)})",
                param=unknown[0],
            )
        bound: dict[str, object] = {}
        for p in self.params:
            if p.name in given:
                bound[p.name] = given[p.name]
            elif p.required:
                raise InvalidInput(f"{self.name}: {p.name} is required", param=p.name)
            else:
                bound[p.name] = p.default
        return bound

    def checked(
        self, values: Mapping[str, object], shell: Resolver, *, new_ids: bool = True
    ) -> dict[str, Any]:
        """Every parameter of ``values`` checked, in signature order (R14).

        Args:
            values: each parameter's value (a method's ``locals()`` will do).
            shell: resolves products and license types against the catalog.
            new_ids: check the ids a command creates by R14's new-id rule; False
                checks them as ids referred to (for a repeat of a remembered request).

        Returns:
            The checked values by name.

        Raises:
            InvalidInput: the first parameter that fails its check.
            KeyTypo: a key that fails its check symbols.
            MalformedSystemFile: a bad description file.
            UnknownProduct: a product the catalog lacks.
        """
        out: dict[str, Any] = {}
        for p in self.params:
            param = p if new_ids or p.check is not Check.NEW_ID else attrs.evolve(p, check=Check.ID)
            out[p.name] = param.validate(values[p.name], out, shell)
        return out


# -- the parameters they share ---------------------------------------------------------------

_ORG = Param("org_id", str, Check.ID, "the organization")
_PRODUCT = Param("product", str, Check.PRODUCT, "the product code")
_SYSTEM = Param("system_id", str, Check.ID, "the system")
_SERIAL = Param("serial", str, Check.ID, "the hardware unit's serial")
_AT = Param(
    "at",
    datetime | None,
    Check.DATETIME,
    "the instant asked about (aware); none: max(now, the latest command)",
    default=None,
    keyword_only=True,
    optional=True,
)
_LIMIT = Param(
    "limit",
    int | None,
    Check.INT,
    "at most this many (none: all the rest)",
    default=None,
    keyword_only=True,
    optional=True,
    minimum=0,
    maximum=MAX_ROWS,
)
_OFFSET = Param(
    "offset",
    int,
    Check.INT,
    "skip this many first",
    default=0,
    keyword_only=True,
    minimum=0,
    maximum=MAX_ROWS,
)


def _actor(default: object = REQUIRED) -> Param:
    return Param("actor", str, Check.ACTOR, "who acts", default=default, keyword_only=True)


_REQUEST_ID = Param(
    "request_id",
    str | None,
    Check.REQUEST_ID,
    "makes the call idempotent (R13): a repeat returns the first result",
    default=None,
    keyword_only=True,
    optional=True,
)

_COMMAND_ERRORS: tuple[type[LicensingError], ...] = (
    InvalidInput,
    PermissionDenied,
    IdempotencyConflict,
    ConcurrencyConflict,
    StorageError,
)
_QUERY_ERRORS: tuple[type[LicensingError], ...] = (InvalidInput, StorageError)


#: What allocating into periods may refuse (R7).
_ALLOCATION_ERRORS: tuple[type[LicensingError], ...] = (
    UnknownOrganization,
    UnknownProduct,
    SubscriptionNotStarted,
    OutsideAllocationWindow,
    InsufficientLicenses,
)


def _command(
    name: str,
    params: Iterable[Param],
    result: Any,
    errors: Iterable[type[LicensingError]],
    summary: str,
    *,
    returns: Any = None,
    vendor: bool = False,
) -> Operation:
    actor = _actor("vendor") if vendor else _actor()
    return Operation(
        name=name,
        kind=Kind.COMMAND,
        scope=Scope.VENDOR if vendor else Scope.ORGANIZATION,
        action=name,
        params=(*params, actor, _REQUEST_ID),
        result=result,
        returns=returns,
        errors=(*_COMMAND_ERRORS, *errors),
        summary=summary,
    )


def _query(
    name: str,
    params: Iterable[Param],
    result: Any,
    errors: Iterable[type[LicensingError]],
    summary: str,
    *,
    scope: Scope = Scope.ORGANIZATION,
) -> Operation:
    declared = tuple(params)
    return Operation(
        name=name,
        kind=Kind.QUERY,
        scope=scope,
        action=None,
        params=declared,
        result=result,
        returns=result,
        errors=(*(_QUERY_ERRORS if declared else (StorageError,)), *errors),
        summary=summary,
    )


_DECLARED: tuple[Operation, ...] = (
    _command(
        "vendor.publish_catalog",
        [Param("catalog", Catalog, Check.CATALOG, "the new catalog")],
        int,
        [IncompatibleCatalog],
        "Record a new version of the store's catalog, in effect from now (R15).",
        returns=int,
        vendor=True,
    ),
    _command(
        "vendor.issue_key",
        [
            _PRODUCT,
            Param(
                "kind",
                LicenseKind,
                Check.ENUM,
                "subscription or hardware (extension) licenses",
                default=LicenseKind.SUBSCRIPTION,
                choices=LicenseKind,
            ),
            Param(
                "quantities",
                Mapping[str, int] | None,
                Check.COUNTS,
                "licenses per type, positive integers",
                default=None,
                optional=True,
                types_of="product",
            ),
        ],
        str,
        [UnknownProduct],
        "Issue a license key carrying licenses of one kind (R10).",
        returns=str,
        vendor=True,
    ),
    _command(
        "vendor.ship_hardware",
        [
            Param(
                "serial", str, Check.NEW_ID, "the unit's serial, unique across everything shipped"
            ),
            _PRODUCT,
            Param(
                "preloaded",
                Mapping[str, int] | None,
                Check.COUNTS,
                "hardware licenses per type on the unit (may be empty)",
                default=None,
                optional=True,
                allow_empty=True,
                types_of="product",
            ),
        ],
        type(None),
        [UnknownProduct, AlreadyExists],
        "Record a hardware unit shipped with preloaded hardware licenses (R9).",
        vendor=True,
    ),
    _command(
        "create_organization",
        [
            Param("org_id", str, Check.NEW_ID, "the new organization's id"),
            Param(
                "name", str, Check.TEXT, "a display name", keyword_only=True, max_length=MAX_NAME
            ),
            Param(
                "timezone",
                str,
                Check.ZONE,
                "the IANA zone whose calendar days the rules count",
                default="UTC",
                keyword_only=True,
            ),
        ],
        Organization,
        [AlreadyExists],
        "Create an organization, the owner of licenses (R1).",
    ),
    _command(
        "register_system",
        [
            _ORG,
            _PRODUCT,
            Param("system_id", str, Check.NEW_ID, "the new system's id, unique across the store"),
            Param(
                "devices",
                Mapping[str, int] | None,
                Check.COUNTS,
                "device counts per license type (none means none)",
                default=None,
                keyword_only=True,
                optional=True,
                allow_zero=True,
                allow_empty=True,
                types_of="product",
            ),
        ],
        SystemStatus,
        [UnknownOrganization, UnknownProduct, AlreadyRegistered],
        "Register a system of a product with its device counts (R1, R4).",
    ),
    _command(
        "report_devices",
        [
            _ORG,
            _SYSTEM,
            Param(
                "devices",
                Mapping[str, int],
                Check.COUNTS,
                "device counts per license type; types left out become 0",
                allow_zero=True,
                allow_empty=True,
                types_of="*",
            ),
        ],
        SystemStatus,
        [UnknownOrganization, UnknownSystem],
        "Replace a system's device counts (R1, R4).",
    ),
    _command(
        "start_subscription",
        [_ORG, _PRODUCT],
        ProductStatus,
        [UnknownOrganization, UnknownProduct, AlreadyStarted],
        "Start a product's subscription; the first sets the organization anchor (R2, R3).",
    ),
    _command(
        "redeem_key",
        [_ORG, Param("key", str, Check.KEY, "the key as typed or pasted")],
        Redemption,
        [KeyTypo, UnknownOrganization, UnknownProduct, UnknownKey, KeyAlreadyRedeemed],
        "Redeem a license key into the product's wallet, one lot per type (R6, R10).",
        returns=Redemption,
    ),
    _command(
        "allocate",
        [
            _ORG,
            _PRODUCT,
            Param(
                "quantities",
                Mapping[str, int],
                Check.COUNTS,
                "licenses per type, positive integers",
                types_of="product",
            ),
            Param(
                "period",
                int,
                Check.INT,
                "the period offset: 0 is current, 1 the next, and so on",
                default=0,
                keyword_only=True,
            ),
        ],
        Allocation,
        _ALLOCATION_ERRORS,
        "Move licenses from the wallet to one period (R7), with overlap compensation (R8).",
        returns=Allocation,
    ),
    _command(
        "allocate_need",
        [
            _ORG,
            _PRODUCT,
            Param(
                "through",
                int,
                Check.INT,
                "the last period offset to cover",
                default=0,
                keyword_only=True,
            ),
        ],
        Allocation,
        _ALLOCATION_ERRORS,
        "Allocate the exact shortfall of periods 0..through at once (R7).",
        returns=Allocation,
    ),
    _command(
        "register_hardware",
        [
            _ORG,
            _SYSTEM,
            Param("serial", str, Check.NEW_ID, "the shipped unit's serial"),
        ],
        SystemStatus,
        [UnknownOrganization, UnknownSystem, UnknownHardware, AlreadyRegistered],
        "Claim a shipped unit and attach it to a system (R9).",
    ),
    _command(
        "allocate_to_hardware",
        [
            _ORG,
            _SERIAL,
            Param(
                "quantities",
                Mapping[str, int],
                Check.COUNTS,
                "hardware licenses per type, positive integers",
                types_of="*",
            ),
        ],
        SystemStatus,
        [UnknownOrganization, UnknownProduct, UnknownHardware, InsufficientLicenses],
        "Move hardware (extension) licenses from the wallet onto a unit (R9).",
    ),
    _command(
        "upload_system_file",
        [_ORG, Param("data", bytes, Check.SYSTEM_FILE, "the system description file's bytes")],
        bytes,
        [
            MalformedSystemFile,
            UnknownOrganization,
            UnknownProduct,
            UnknownHardware,
            AlreadyRegistered,
        ],
        "Register or update an offline system from its description file (R12).",
        returns=bytes,
    ),
    _query(
        "catalog_versions",
        [],
        list[CatalogVersion],
        [],
        "Every version of the store's catalog, oldest first (R15).",
        scope=Scope.STORE,
    ),
    _query(
        "status",
        [_ORG, _PRODUCT, _AT],
        ProductStatus,
        [UnknownOrganization, UnknownProduct],
        "A product's license status (R3, R5).",
    ),
    _query(
        "need",
        [
            _ORG,
            _PRODUCT,
            _AT,
            Param(
                "horizon",
                int,
                Check.INT,
                "how many periods after the current one",
                default=5,
                keyword_only=True,
                minimum=0,
                maximum=MAX_HORIZON,
            ),
        ],
        NeedReport,
        [UnknownOrganization, UnknownProduct, SubscriptionNotStarted],
        "The need of the current and the next periods, and what to buy (R4, R7).",
    ),
    _query(
        "wallet",
        [_ORG, _PRODUCT, _AT],
        Wallet,
        [UnknownOrganization, UnknownProduct],
        "A product's wallet: live lots and the credit (R6, R8).",
    ),
    _query(
        "system_status",
        [_ORG, _SYSTEM, _AT],
        SystemStatus,
        [UnknownOrganization, UnknownProduct, UnknownSystem],
        "A system's devices, hardware coverage and whether it is licensed (R9).",
    ),
    _query(
        "history",
        [
            _ORG,
            Param(
                "product",
                str | None,
                Check.PRODUCT,
                "only this product's activities",
                default=None,
                keyword_only=True,
                optional=True,
            ),
            Param(
                "actor",
                str | None,
                Check.ID,
                "only this actor's",
                default=None,
                keyword_only=True,
                optional=True,
            ),
            Param(
                "actions",
                Iterable[str] | None,
                Check.ACTIONS,
                "only these actions",
                default=None,
                keyword_only=True,
                optional=True,
            ),
            Param(
                "since",
                date | datetime | None,
                Check.DATE_OR_DATETIME,
                "from this local date, or this instant (inclusive)",
                default=None,
                keyword_only=True,
                optional=True,
            ),
            Param(
                "until",
                date | datetime | None,
                Check.DATE_OR_DATETIME,
                "through this local date, or this instant (inclusive)",
                default=None,
                keyword_only=True,
                optional=True,
            ),
            _LIMIT,
            _OFFSET,
        ],
        list[Activity],
        [UnknownOrganization, UnknownProduct],
        "The organization's activities, oldest first (R11).",
    ),
    _query(
        "organizations",
        [_LIMIT, _OFFSET],
        list[Organization],
        [],
        "The organizations, by org_id, paged.",
        scope=Scope.STORE,
    ),
    _query(
        "organization",
        [_ORG],
        Organization,
        [UnknownOrganization],
        "One organization: its id, name, zone and anchor (an addition to SPEC §3).",
    ),
    _query(
        "products",
        [_ORG, _AT],
        list[ProductStatus],
        [UnknownOrganization],
        "The status of every product of the catalog, in catalog order.",
    ),
    _query(
        "systems",
        [
            _ORG,
            Param(
                "product",
                str | None,
                Check.PRODUCT,
                "only this product's systems",
                default=None,
                keyword_only=True,
                optional=True,
            ),
            _AT,
            _LIMIT,
            _OFFSET,
        ],
        list[SystemStatus],
        [UnknownOrganization, UnknownProduct],
        "The organization's systems with their status, by system_id, paged (R9).",
    ),
    _query(
        "alerts",
        [
            _ORG,
            _AT,
            Param(
                "within_days",
                int,
                Check.INT,
                "how far ahead dated alerts look, in days",
                default=60,
                keyword_only=True,
                minimum=0,
                maximum=MAX_WITHIN_DAYS,
            ),
        ],
        list[Alert],
        [UnknownOrganization],
        "What the organization should act on, soonest first.",
    ),
)

# -- events out (SPEC §7) -------------------------------------------------------------------------

_OPTIONAL_ORG = Param(
    "org_id",
    str | None,
    Check.ID,
    "the organization; none: every organization (vendor-wide)",
    default=None,
    optional=True,
)
_ENDPOINT = Param("endpoint_id", str, Check.ID, "the webhook endpoint")
_TYPES = Param(
    "types",
    Iterable[str] | None,
    Check.EVENT_TYPES,
    "the event types it receives (none: every type)",
    default=None,
    keyword_only=True,
    optional=True,
)


def _webhook_command(
    name: str,
    params: Iterable[Param],
    result: Any,
    summary: str,
    *,
    returns: Any = None,
    errors: Iterable[type[LicensingError]] = (UnknownWebhook,),
) -> Operation:
    """A ``manager.webhooks`` command; its action is its name, or ``"vendor.webhooks"``
    for a vendor-wide endpoint (decided by the endpoint, so the scope is the store)."""
    declared = tuple(params)
    tail = tuple(p for p in declared if p.name in _AFTER_REQUEST)
    head = tuple(p for p in declared if p.name not in _AFTER_REQUEST)
    return Operation(
        name=name,
        kind=Kind.COMMAND,
        scope=Scope.STORE,
        action=name,
        params=(*head, _actor(), _REQUEST_ID, *tail),
        result=result,
        returns=returns,
        errors=(*_COMMAND_ERRORS, *errors),
        summary=summary,
    )


#: The flags that follow ``request_id`` in ``webhooks.add``'s signature (SPEC §7).
_AFTER_REQUEST = ("allow_http", "allow_private")

_EVENTS_OUT: tuple[Operation, ...] = (
    _query(
        "events",
        [
            _ORG,
            Param(
                "after_seq",
                int | None,
                Check.INT,
                "only events after this seq (none: from the first)",
                default=None,
                keyword_only=True,
                optional=True,
                minimum=0,
                maximum=MAX_SEQ,
            ),
            _LIMIT,
        ],
        list[Event],
        [UnknownOrganization],
        "The organization's events (SPEC §7), by seq.",
    ),
    Operation(
        name="sweep",
        kind=Kind.COMMAND,
        scope=Scope.STORE,
        action=None,
        params=(
            Param(
                "at",
                datetime | None,
                Check.DATETIME,
                "the instant to sweep at (aware); none: now",
                default=None,
                keyword_only=True,
                optional=True,
            ),
            attrs.evolve(_LIMIT, doc="at most this many organizations (none: every one due)"),
        ),
        result=SweepReport,
        returns=SweepReport,
        errors=(InvalidInput, ConcurrencyConflict, StorageError),
        summary="Record the alerts that appeared or cleared with time (SPEC §7).",
    ),
    Operation(
        name="deliver",
        kind=Kind.COMMAND,
        scope=Scope.STORE,
        action=None,
        params=(attrs.evolve(_LIMIT, doc="at most this many deliveries (none: 100)"),),
        result=DeliveryReport,
        returns=DeliveryReport,
        errors=(InvalidInput, StorageError),
        summary="One pass of the webhook dispatcher: send the due deliveries (SPEC §7).",
    ),
    _webhook_command(
        "webhooks.add",
        [
            attrs.evolve(_OPTIONAL_ORG, default=REQUIRED),
            Param("url", str, Check.URL, "where events are POSTed (https, a public address)"),
            _TYPES,
            Param(
                "allow_http",
                bool,
                Check.FLAG,
                "allow plain http (loopback testing)",
                default=False,
                keyword_only=True,
            ),
            Param(
                "allow_private",
                bool,
                Check.FLAG,
                "allow private, loopback and link-local addresses",
                default=False,
                keyword_only=True,
            ),
        ],
        WebhookEndpoint,
        "Add a webhook endpoint; its secret is shown in this answer only (SPEC §7).",
        returns=WebhookEndpoint,
        errors=(UnknownOrganization,),
    ),
    _query(
        "webhooks.list",
        [_OPTIONAL_ORG],
        list[WebhookEndpoint],
        [UnknownOrganization],
        "The webhook endpoints, secrets left out (SPEC §7).",
        scope=Scope.STORE,
    ),
    _webhook_command(
        "webhooks.update",
        [
            _ENDPOINT,
            Param(
                "url",
                str | None,
                Check.URL,
                "the new URL (none: kept)",
                default=None,
                keyword_only=True,
                optional=True,
            ),
            attrs.evolve(_TYPES, doc="the new event types (none: kept)"),
            Param(
                "enabled",
                bool | None,
                Check.FLAG,
                "false disables, true enables (none: kept)",
                default=None,
                keyword_only=True,
                optional=True,
            ),
        ],
        WebhookEndpoint,
        "Change a webhook endpoint's URL or types, or disable or enable it (SPEC §7).",
        returns=WebhookEndpoint,
    ),
    _webhook_command(
        "webhooks.rotate_secret",
        [_ENDPOINT],
        WebhookEndpoint,
        "Give an endpoint a new secret, shown once; the old one signs 24 more hours (SPEC §7).",
        returns=WebhookEndpoint,
    ),
    _webhook_command(
        "webhooks.remove",
        [_ENDPOINT],
        type(None),
        "Remove a webhook endpoint and its undelivered deliveries (SPEC §7).",
    ),
    _query(
        "webhooks.failed",
        [attrs.evolve(_OPTIONAL_ORG, doc="only this organization's events (none: all)")],
        list[Delivery],
        [UnknownOrganization],
        "The deliveries that failed for good, oldest first (SPEC §7).",
        scope=Scope.STORE,
    ),
    _webhook_command(
        "webhooks.redeliver",
        [Param("delivery_id", str, Check.ID, "the failed delivery")],
        type(None),
        "Send a delivery again, with a fresh three-day window (SPEC §7).",
    ),
)

# -- members and roles (SPEC §8): ``manager.accounts``, ``manager.members``, ``manager.tokens`` --

_ACCOUNT = Param("account_id", str, Check.ID, "the account")
_ROLE = Param(
    "role",
    members_model.Role,
    Check.ENUM,
    "viewer (queries only), admin (commands) or owner",
    choices=members_model.Role,
)
_MEMBER_ERRORS: tuple[type[LicensingError], ...] = (
    InvalidInput,
    ConcurrencyConflict,
    StorageError,
)


def _member(
    name: str,
    params: Iterable[Param],
    result: Any,
    errors: Iterable[type[LicensingError]],
    summary: str,
    *,
    kind: Kind = Kind.COMMAND,
    scope: Scope = Scope.ORGANIZATION,
    returns: Any = None,
) -> Operation:
    """A declaration of SPEC §8, whose parameters are exactly its signature's."""
    command = kind is Kind.COMMAND
    return Operation(
        name=name,
        kind=kind,
        scope=scope,
        action=name if command else None,
        params=tuple(params),
        result=result,
        returns=returns if command else result,
        errors=(*(_MEMBER_ERRORS if command else _QUERY_ERRORS), *errors),
        summary=summary,
    )


_MEMBERS: tuple[Operation, ...] = (
    _member(
        "accounts.create",
        [
            Param(
                "account_id",
                str,
                Check.NEW_ID,
                "the new account's id (never 'system')",
                reserved={SYSTEM_ACTOR: "the account id 'system' is the library's own"},
            ),
            Param(
                "name",
                str,
                Check.TEXT,
                "the name shown to people",
                keyword_only=True,
                max_length=MAX_ID,
            ),
            Param(
                "password",
                str | None,
                Check.PASSWORD,
                "its password, 8 to 1024 characters (none: it signs in through the host's hook)",
                default=None,
                keyword_only=True,
                optional=True,
            ),
            Param(
                "vendor",
                bool,
                Check.FLAG,
                "whether it may run the vendor's commands",
                default=False,
                keyword_only=True,
            ),
            _actor(),
            _REQUEST_ID,
        ],
        members_model.Account,
        [PermissionDenied, IdempotencyConflict, AlreadyExists],
        "Create an account; it has no rights until it is invited (SPEC §8).",
        scope=Scope.STORE,
        returns=members_model.Account,
    ),
    _member(
        "members.list",
        [_ORG],
        list[members_model.Membership],
        [UnknownOrganization],
        "The organization's members and their roles, by account id (SPEC §8).",
        kind=Kind.QUERY,
    ),
    _member(
        "members.invite",
        [
            _ORG,
            _ACCOUNT,
            attrs.evolve(_ROLE, keyword_only=True),
            _actor(),
            _REQUEST_ID,
        ],
        members_model.Invitation,
        [
            UnknownOrganization,
            PermissionDenied,
            UnknownAccount,
            AlreadyExists,
            IdempotencyConflict,
        ],
        "Invite an account with a role: a one-time link that expires in 7 days (SPEC §8).",
        returns=members_model.Invitation,
    ),
    _member(
        "members.accept",
        [
            Param("token", str, Check.SECRET, "the invitation's secret (from its link)"),
            Param("account_id", str, Check.ID, "the account invited, accepting", keyword_only=True),
        ],
        members_model.Membership,
        [InvitationInvalid, PermissionDenied],
        "Accept an invitation: the account becomes a member with the role invited (SPEC §8).",
        scope=Scope.STORE,
        returns=members_model.Membership,
    ),
    _member(
        "members.set_role",
        [_ORG, _ACCOUNT, _ROLE, _actor(), _REQUEST_ID],
        members_model.Membership,
        [UnknownOrganization, PermissionDenied, UnknownAccount, LastOwner, IdempotencyConflict],
        "Change a member's role; the last owner stays an owner (SPEC §8).",
        returns=members_model.Membership,
    ),
    _member(
        "members.remove",
        [_ORG, _ACCOUNT, _actor(), _REQUEST_ID],
        type(None),
        [UnknownOrganization, PermissionDenied, UnknownAccount, LastOwner, IdempotencyConflict],
        "Remove a member (or leave); its sessions and tokens lose the organization at once.",
    ),
    _member(
        "tokens.create",
        [
            _ACCOUNT,
            Param(
                "orgs",
                Iterable[str] | None,
                Check.IDS,
                "limit it to these organizations of the account (none: all of them)",
                default=None,
                keyword_only=True,
                optional=True,
            ),
            Param(
                "read_only",
                bool,
                Check.FLAG,
                "allow queries only",
                default=False,
                keyword_only=True,
            ),
            Param(
                "expires_at",
                datetime | None,
                Check.DATETIME,
                "when it stops working (aware; none: never)",
                default=None,
                keyword_only=True,
                optional=True,
            ),
            _actor(),
        ],
        members_model.IssuedToken,
        [PermissionDenied, UnknownAccount],
        "Create an API token for an account; its secret is shown this once (SPEC §8).",
        scope=Scope.STORE,
        returns=members_model.IssuedToken,
    ),
    _member(
        "tokens.list",
        [_ACCOUNT],
        list[members_model.TokenInfo],
        [UnknownAccount],
        "The account's API tokens with their prefix and last use, never their secrets.",
        kind=Kind.QUERY,
        scope=Scope.STORE,
    ),
    _member(
        "tokens.revoke",
        [Param("token_id", str, Check.ID, "the token"), _actor()],
        type(None),
        [PermissionDenied, NotFound],
        "Revoke an API token: it stops working at once, in every process (SPEC §8).",
        scope=Scope.STORE,
    ),
)

#: Every public command and query, by name.
OPERATIONS: Mapping[str, Operation] = {op.name: op for op in (*_DECLARED, *_EVENTS_OUT, *_MEMBERS)}


F = TypeVar("F", bound=Callable[..., object])


#: What every command may raise, as its ``Raises:`` section says it (the pipeline's errors).
_PIPELINE_RAISES: Mapping[type[LicensingError], str] = {
    PermissionDenied: "the authorize hook refused.",
    IdempotencyConflict: "``request_id`` was used with other arguments.",
    ConcurrencyConflict: "the command kept losing races.",
    StorageError: "the backend failed.",
}


def documented(name: str, *, args: bool = True) -> Callable[[F], F]:
    """A decorator: the method's ``Args:`` section, written from the declaration of ``name``.

    The parameters are documented once, here; the method's own docstring says
    what it does, returns and raises. A command's ``Raises:`` section, which
    comes last, is completed with the pipeline's errors it leaves out
    (:data:`_PIPELINE_RAISES`), in that order. With ``args=False`` the
    method's docstring keeps its own ``Args:`` section.

    Raises:
        KeyError: no operation has that name (a bug in the decorated module).
    """
    op = OPERATIONS[name]

    def apply(method: F) -> F:
        doc = inspect.cleandoc(method.__doc__ or "")
        raises = doc.partition("\nRaises:\n")[2]
        if op.kind is Kind.COMMAND and raises:
            doc += "".join(
                f"\n    {error.__name__}: {text}"
                for error, text in _PIPELINE_RAISES.items()
                if error in op.errors and f"    {error.__name__}:" not in raises
            )
        if args:
            section = "".join(f"    {p.name}: {p.doc.rstrip('.')}.\n" for p in op.params)
            cut = min(
                (i for i in (doc.find("\nReturns:"), doc.find("\nRaises:")) if i >= 0),
                default=len(doc),
            )
            doc = doc[: cut + 1] + "Args:\n" + section + "\n" + doc[cut + 1 :]
        method.__doc__ = doc
        return method

    return apply


def operation(name: str) -> Operation:
    """The declaration of ``name``.

    Raises:
        InvalidInput: no operation has that name (the message lists them).
    """
    try:
        return OPERATIONS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown operation {name!r}; known: {', '.join(OPERATIONS)}", param="name"
        ) from None
