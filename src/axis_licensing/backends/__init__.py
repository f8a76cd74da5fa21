"""Storage backends: the interface every backend implements, and their registry (SPEC §4).

Backends store and fetch; they make no licensing decisions. An organization's
state is kept as *parts*: small opaque JSON values, each with its own version
history (SPEC §5, "cost follows the change"). Every command is one *version*
of the organization (``seq`` 1, 2, 3, … at a non-decreasing instant ``at_us``)
and writes only the parts it changed, next to its append-only activities and
the few facts that are unique across organizations (system ids, hardware
serials, key redemptions, R1).

A part written by version ``seq`` stays in force until a later version writes
it again, so the state at version ``s`` is, for each part, its latest version
``<= s``. Backends keep each part's latest version apart (``parts``) from the
versions it replaced (``part_history``): reading the head state never looks at
history, and a query at a past instant reads, per part it needs, one indexed
row. Each stored part version is whole (its own snapshot): nothing is ever
rebuilt from deltas. Part names are chosen by the Manager; the ones starting
with ``org`` are the organization's own (header, product ledgers, device
totals), read together; ``system:…`` and ``hardware:…`` are read one by one or
listed in pages.

The ``states`` table is the first storage format (one whole state per command).
It is only read, to convert stores written by that format (``legacy_states``).

A backend is made by a factory registered through the
``axis_licensing_register_backends`` hook: ``registry.add("sqlite", factory)``,
where ``factory(url)`` returns a :class:`Backend`. A factory that also takes
a keyword ``create`` (``factory(url, *, create=True)``) is told whether it may
create the store; with ``create=False`` it must create nothing (no file,
schema, table or setting) and raise
:class:`~axis_licensing.errors.StoreNotFound` when the store does not exist.
The registry passes ``create`` only to factories that accept it, and refuses
``create=False`` for a factory that does not.
"""

from __future__ import annotations

import abc
import contextlib
import inspect
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast

import attrs

from axis_licensing.errors import InvalidInput
from axis_licensing.events.store import EVENT_EXPORT_COLUMNS, EVENT_TABLES  # events out (SPEC §7)
from axis_licensing.members._tables import MEMBER_COLUMNS, MEMBER_TABLES  # members hook (SPEC §8)

__all__ = [
    "EXPORT_COLUMNS",
    "SETTINGS_TABLES",
    "TABLES",
    "ActivityRow",
    "Backend",
    "BackendFactory",
    "BackendRegistry",
    "CatalogRow",
    "Head",
    "HistoryQuery",
    "KeyRow",
    "PartRow",
    "ReadTx",
    "RequestRow",
    "RetryableConflict",
    "ShipmentRow",
    "StateRow",
    "WriteTx",
    "prefix_end",
]

#: The tables every backend keeps, in the order ``migrate`` copies them.
TABLES = (
    "meta",
    "catalogs",
    "orgs",
    "versions",
    "parts",
    "part_history",
    "states",
    "activities",
    "systems",
    "shipments",
    "keys",
    "requests",
    *EVENT_TABLES,  # events out (SPEC §7): webhooks, events, deliveries, sweep_due
    *MEMBER_TABLES,  # members hook (SPEC §8): accounts, memberships, invitations, tokens
)

#: The tables a Manager fills on opening a store, before any data (see ``Backend.is_empty``).
SETTINGS_TABLES = frozenset({"meta", "catalogs"})

#: The row format of :meth:`Backend.export_rows` and :meth:`Backend.import_rows`, per
#: table: the keys of each exported dict. Every backend speaks it, so ``migrate`` can
#: copy between any two. ``orgs.head`` is the organization's latest version ``seq``, and
#: ``orgs.at_us`` its instant; ``parts`` holds each part's latest version, ``part_history``
#: the versions they replaced; ``states`` is the legacy format (see the module docstring).
EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "meta": ("name", "value"),
    "catalogs": ("version", "effective_at_us", "catalog"),
    "orgs": ("org_id", "head", "at_us"),
    "versions": ("org_id", "seq", "at_us"),
    "parts": ("org_id", "part", "seq", "at_us", "value"),
    "part_history": ("org_id", "part", "seq", "at_us", "value"),
    "states": ("org_id", "seq", "at_us", "state"),
    "activities": ("org_id", "at_us", "on", "actor", "action", "product", "system_id", "details"),
    "systems": ("system_id", "org_id"),
    "shipments": ("serial", "product", "preloaded", "shipped_at_us", "org_id"),
    "keys": (
        "key_hash",
        "product",
        "kind",
        "quantities",
        "tail",
        "issued_at_us",
        "redeemed_by",
        "redeemed_at_us",
    ),
    "requests": ("scope", "request_id", "fingerprint", "result"),
    **EVENT_EXPORT_COLUMNS,  # events out (SPEC §7)
    **MEMBER_COLUMNS,  # members hook (SPEC §8)
}


def prefix_end(prefix: str) -> str:
    """The least text greater than every text starting with ``prefix`` (for range scans).

    Texts compare by code point, as SQLite's and PostgreSQL's "C" collation do on UTF-8.

    Raises:
        ValueError: ``prefix`` is empty.
    """
    if not prefix:
        raise ValueError("a part prefix must not be empty")
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class RetryableConflict(Exception):
    """Raised by a backend when a transaction lost a race and may simply be run again (R13)."""


@attrs.frozen
class Head:
    """An organization's latest version: its ``seq`` and the instant it was written at.

    ``catalog_version`` is optional: a backend whose :meth:`WriteTx.lock` (or
    :meth:`Backend.peek`) reads the store's latest catalog version in the same
    statement returns it, and the Manager then reads the catalog versions only
    when one was added (R15). None (the default) means it was not read; it
    never affects equality.
    """

    org_id: str
    seq: int
    at_us: int
    catalog_version: int | None = attrs.field(default=None, eq=False)


@attrs.frozen
class PartRow:
    """One version of one part of an organization's state, written by the command ``seq``."""

    org_id: str
    part: str
    seq: int
    at_us: int
    value: str


@attrs.frozen
class StateRow:
    """One whole state of the first storage format, written by the command ``seq`` (legacy)."""

    org_id: str
    seq: int
    at_us: int
    state: str


@attrs.frozen
class CatalogRow:
    """One version of the store's catalog (R15); ``catalog`` is JSON text."""

    version: int
    effective_at_us: int
    catalog: str


@attrs.frozen
class ActivityRow:
    """One stored activity (R11); ``details`` is JSON text."""

    org_id: str
    at_us: int
    on: str
    actor: str
    action: str
    product: str | None
    system_id: str | None
    details: str


@attrs.frozen
class KeyRow:
    """An issued license key: only its hash is kept (R10)."""

    key_hash: str
    product: str
    kind: str
    quantities: str
    tail: str
    issued_at_us: int
    redeemed_by: str | None = None
    redeemed_at_us: int | None = None


@attrs.frozen
class ShipmentRow:
    """A hardware unit shipped by the vendor, and the organization that claimed it (R9)."""

    serial: str
    product: str
    preloaded: str
    shipped_at_us: int
    org_id: str | None = None


@attrs.frozen
class RequestRow:
    """The remembered result of an idempotent command (R13)."""

    scope: str
    request_id: str
    fingerprint: str
    result: str


@attrs.frozen
class HistoryQuery:
    """Filters of ``Manager.history``; bounds are inclusive (R11)."""

    product: str | None = None
    actor: str | None = None
    actions: tuple[str, ...] | None = None
    since_us: int | None = None
    until_us: int | None = None
    since_on: str | None = None
    until_on: str | None = None

    def matches(self, row: ActivityRow) -> bool:
        """Whether ``row`` passes the filters (for backends that filter in Python)."""
        return (
            (self.product is None or row.product == self.product)
            and (self.actor is None or row.actor == self.actor)
            and (self.actions is None or row.action in self.actions)
            and (self.since_us is None or row.at_us >= self.since_us)
            and (self.until_us is None or row.at_us <= self.until_us)
            and (self.since_on is None or row.on >= self.since_on)
            and (self.until_on is None or row.on <= self.until_on)
        )


class ReadTx(abc.ABC):
    """A consistent read of the store.

    Every method may raise :class:`~axis_licensing.errors.StorageError` when the
    store fails (with the driver's error as ``__cause__``), and nothing else.
    """

    @abc.abstractmethod
    def head(self, org_id: str) -> Head | None:
        """The organization's latest version (one small row), or None if it does not exist."""

    @abc.abstractmethod
    def seq_at(self, org_id: str, at_us: int) -> int | None:
        """The latest version written at or before ``at_us``; None if none was (yet)."""

    @abc.abstractmethod
    def parts(self, org_id: str, names: Sequence[str], seq: int | None = None) -> list[PartRow]:
        """The named parts as they were at version ``seq`` (default: the head), by name.

        Each is the part's latest version ``<= seq``; a part not written by then
        is left out.
        """

    @abc.abstractmethod
    def parts_prefixed(
        self,
        org_id: str,
        prefix: str,
        *,
        seq: int | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[PartRow]:
        """The parts whose name starts with ``prefix``, as at version ``seq``, by name.

        Paged: only names greater than ``after``, at most ``limit`` of them. This
        is how an organization's own parts (prefix ``org``) are read at once,
        and how its systems are listed (prefix ``system:``, paged by id).
        """

    @abc.abstractmethod
    def legacy_orgs(self) -> list[str]:
        """The organizations that still have states of the first storage format, sorted."""

    @abc.abstractmethod
    def legacy_states(self, org_id: str) -> list[StateRow]:
        """The organization's states of the first storage format, by ``seq``."""

    @abc.abstractmethod
    def history(
        self, org_id: str, query: HistoryQuery, limit: int | None, offset: int
    ) -> list[ActivityRow]:
        """Stored activities passing ``query``, oldest first, paged."""

    @abc.abstractmethod
    def count_history(self, org_id: str, query: HistoryQuery) -> int:
        """How many stored activities pass ``query``."""

    @abc.abstractmethod
    def key(self, key_hash: str) -> KeyRow | None:
        """An issued key by hash."""

    @abc.abstractmethod
    def shipment(self, serial: str) -> ShipmentRow | None:
        """A shipped hardware unit by serial."""

    @abc.abstractmethod
    def system_owner(self, system_id: str) -> str | None:
        """The organization that holds a system id."""

    @abc.abstractmethod
    def request(self, scope: str, request_id: str) -> RequestRow | None:
        """A remembered idempotent result."""

    @abc.abstractmethod
    def meta(self, name: str) -> str | None:
        """A backend-wide setting, such as the signing key."""

    @abc.abstractmethod
    def catalogs(self, after: int = 0) -> list[CatalogRow]:
        """The catalog versions numbered above ``after``, oldest first (R15)."""

    @abc.abstractmethod
    def org_ids(self, limit: int | None, offset: int) -> list[str]:
        """Organization ids in byte order of their UTF-8 text, paged (SPEC §3)."""

    def latest_version_at_us(self) -> int | None:
        """The instant of the store's latest version over every organization (R15).

        This is the latest recorded command anywhere in the store: a new catalog
        version never takes effect before it. None when no organization has a
        version yet. This default reads every head; backends answer it in one
        query.
        """
        latest: int | None = None
        offset = 0
        while page := self.org_ids(1000, offset):
            offset += len(page)
            for org_id in page:
                head = self.head(org_id)
                if head is not None and head.seq > 0 and (latest is None or head.at_us > latest):
                    latest = head.at_us
        return latest


class WriteTx(ReadTx):
    """A read-modify-write transaction: all of it commits, or none (R13).

    Every method may raise :class:`~axis_licensing.errors.StorageError` when the
    store fails, or :class:`RetryableConflict` when the transaction lost a race
    and may be run again; nothing else.
    """

    @abc.abstractmethod
    def lock(self, org_id: str) -> Head | None:
        """The organization's latest version, locked until the transaction ends (R13)."""

    @abc.abstractmethod
    def create_org(self, org_id: str) -> bool:
        """Reserve an organization id; False if it exists."""

    @abc.abstractmethod
    def append(
        self,
        version: Head,
        parts: Sequence[tuple[str, str]],
        activities: Iterable[ActivityRow],
    ) -> None:
        """Store version ``version.seq`` (the head's + 1): the ``(name, value)`` parts it
        changed, each replacing that part's latest version, and its activities; it
        becomes the organization's head."""

    @abc.abstractmethod
    def drop_legacy(self, org_id: str) -> None:
        """Delete the organization's states of the first format, once converted."""

    @abc.abstractmethod
    def claim_system(self, system_id: str, org_id: str) -> bool:
        """Claim a system id for an organization; False if anyone holds it (R1)."""

    @abc.abstractmethod
    def claim_hardware(self, serial: str, org_id: str) -> bool:
        """Claim a shipped serial; False if it is already claimed (R1, R9)."""

    @abc.abstractmethod
    def insert_key(self, row: KeyRow) -> None:
        """Store an issued key."""

    @abc.abstractmethod
    def redeem_key(self, key_hash: str, org_id: str, at_us: int) -> bool:
        """Mark a key redeemed; False if it already was (R1, R10)."""

    @abc.abstractmethod
    def insert_shipment(self, row: ShipmentRow) -> bool:
        """Store a shipped unit; False if the serial was shipped before."""

    @abc.abstractmethod
    def put_request(self, row: RequestRow) -> None:
        """Remember an idempotent result."""

    @abc.abstractmethod
    def insert_meta(self, name: str, value: str) -> bool:
        """Set a setting unless it is set; False if it was."""

    @abc.abstractmethod
    def insert_catalog(self, row: CatalogRow) -> bool:
        """Record a catalog version; False if that version number is taken (R15)."""


class Backend(abc.ABC):
    """A storage backend; it must pass the conformance suite of ``axis_licensing.testing``.

    Every method may raise :class:`~axis_licensing.errors.StorageError` when the
    store fails (with the driver's error as ``__cause__``); a driver's own
    exception never leaves a backend.
    """

    #: The URL scheme this backend serves.
    scheme: str = ""

    @abc.abstractmethod
    def write(self) -> contextlib.AbstractContextManager[WriteTx]:
        """A write transaction; raises :class:`RetryableConflict` when it lost a race.

        Raises:
            RetryableConflict: the transaction may be run again.
            StorageError: the store failed.
        """

    @abc.abstractmethod
    def read(self) -> contextlib.AbstractContextManager[ReadTx]:
        """A consistent read.

        Raises:
            StorageError: the store failed.
        """

    def peek(self, org_id: str) -> Head | None:
        """The organization's head and the store's latest catalog version, read at once.

        A query whose answer about that head is cached reads nothing more
        (SPEC §5), so backends answer this in one statement outside any
        transaction, with ``catalog_version`` set. This default reads the head
        in a read transaction and leaves ``catalog_version`` None: the
        Manager then reads through :meth:`read` instead.

        Args:
            org_id: the organization.

        Returns:
            Its head, or None if it does not exist.

        Raises:
            RetryableConflict: the store was busy; the read may be run again.
            StorageError: the store failed.
        """
        with self.read() as tx:
            return tx.head(org_id)

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections and files."""

    @abc.abstractmethod
    def export_rows(self, table: str) -> Iterator[dict[str, Any]]:
        """Every row of ``table`` (one of :data:`TABLES`), in a stable order, for ``migrate``."""

    @abc.abstractmethod
    def import_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        """Insert rows exported from another backend; returns how many."""

    @abc.abstractmethod
    def count_rows(self, table: str) -> int:
        """How many rows ``table`` holds."""

    @abc.abstractmethod
    def clear(self) -> None:
        """Delete everything (``migrate --force`` on a non-empty target)."""

    @abc.abstractmethod
    def delete_meta(self, name: str) -> bool:
        """Delete one backend-wide setting; ``migrate`` drops its incomplete mark so.

        Returns:
            Whether the setting existed.

        Raises:
            StorageError: the store failed.
        """

    def is_empty(self) -> bool:
        """True when no table holds a row, settings aside.

        The settings are ``meta`` and ``catalogs``: what a Manager records on
        opening a store (its signing key, the catalog of R15), before any data.
        """
        return all(self.count_rows(t) == 0 for t in TABLES if t not in SETTINGS_TABLES)


#: ``factory(url)``; a factory may also take a keyword ``create`` (``factory(url, *,
#: create=True)``) to open an existing store without creating anything (see the
#: module's docstring).
BackendFactory = Callable[[str], Backend]


def _takes_create(factory: BackendFactory) -> bool:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: assume the plain protocol
        return False
    return any(
        p.name == "create" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in parameters
    ) or any(p.kind is p.VAR_KEYWORD for p in parameters)


class BackendRegistry:
    """Where plugins register backend factories by URL scheme (SPEC §4)."""

    def __init__(self) -> None:
        self._factories: dict[str, BackendFactory] = {}

    def add(self, scheme: str, factory: BackendFactory) -> None:
        """Register ``factory(url) -> Backend`` for ``scheme``; a later one replaces it.

        A factory that accepts a keyword ``create`` is passed it (see the module's docstring).
        """
        self._factories[scheme.lower()] = factory

    @property
    def schemes(self) -> tuple[str, ...]:
        """The known schemes, sorted."""
        return tuple(sorted(self._factories))

    def open(self, url: str, *, create: bool = True) -> Backend:
        """A backend for ``url``.

        Args:
            url: the store's URL; its scheme picks the factory.
            create: whether the store may be created; with False nothing is
                created, and a missing store raises ``StoreNotFound``.

        Raises:
            InvalidInput: the URL has no scheme, no backend serves it, or
                ``create=False`` for a factory that does not take ``create``.
            StoreNotFound: ``create=False`` and the store does not exist.
            StorageError: the backend cannot be opened.
        """
        if not isinstance(url, str) or "://" not in url:
            raise InvalidInput(
                f"backend URL {url!r} has no scheme; known schemes: {', '.join(self.schemes)}"
            )
        scheme = url.split("://", 1)[0].lower()
        factory = self._factories.get(scheme)
        if factory is None:
            raise InvalidInput(
                f"unknown backend scheme {scheme!r}; known schemes: {', '.join(self.schemes)}"
            )
        if not isinstance(create, bool):
            raise InvalidInput(f"create must be True or False, got {create!r}", param="create")
        if _takes_create(factory):
            return cast(Callable[..., Backend], factory)(url, create=create)
        if not create:
            raise InvalidInput(
                f"the backend of scheme {scheme!r} cannot open a store without creating it "
                "(its factory takes no `create` keyword)"
            )
        return factory(url)
