"""The storage interface of events out (SPEC §7): the outbox, endpoints, deliveries, sweeps.

Every backend's transaction gains these methods through a mixin
(:class:`~axis_licensing.events._memory.MemoryEventsTx`,
:class:`~axis_licensing.events._sql.SQLiteEventsTx`,
:class:`~axis_licensing.events._sql.PostgreSQLEventsTx`), so they run inside the
backend's own transactions:

- :meth:`EventsTx.append_events` is called by the shell inside a command's write
  transaction: the events and their deliveries commit with the command or not
  at all (a transactional outbox).
- The dispatcher claims due deliveries in one short write transaction
  (:meth:`EventsTx.claim_deliveries`), sends them outside any transaction, and
  records each outcome in another (:meth:`EventsTx.finish_delivery`). A claim is
  a *lease*: until it runs out, no other dispatcher claims that delivery, so an
  event is never sent twice at the same moment; when a dispatcher dies, its
  leases run out and the deliveries are claimed again (at least once).

The tables (:data:`EVENT_TABLES`) are copied by ``migrate`` like every other, in
the row format of :data:`EVENT_EXPORT_COLUMNS`. Flags are stored as 0/1 integers
on every backend, so exports compare equal across backends.

**Webhook secrets** are kept as they are, in ``webhooks.secret``: signing needs
the key itself (HMAC), so a hash would not do. They are treated as the store
already treats its Ed25519 signing key (R12, in ``meta``): readable by whoever
can read the store, and nowhere else. :meth:`EndpointRow.endpoint` leaves them
out of every value unless asked (adding or rotating, shown once); no event,
activity, error text or log line holds them.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import attrs

from axis_licensing.events.model import (
    Delivery,
    DeliveryState,
    EncodedDraft,
    Event,
    EventDraft,
    OutboxStats,
    WebhookEndpoint,
)
from axis_licensing.events.transport import Target

__all__ = [
    "EVENT_EXPORT_COLUMNS",
    "EVENT_TABLES",
    "VENDOR_SCOPE",
    "Claim",
    "DeliveryRow",
    "EndpointRow",
    "EventsTx",
    "Outcome",
    "events_of",
    "from_us",
    "to_us",
    "types_json",
]

#: The ``scope`` of a vendor-wide endpoint (an organization id is never empty, R14).
VENDOR_SCOPE = ""

#: The tables of events out, in the order ``migrate`` copies them.
EVENT_TABLES = ("webhooks", "events", "deliveries", "sweep_due")

#: The exported row format of each table of :data:`EVENT_TABLES`.
EVENT_EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "webhooks": (
        "endpoint_id",
        "scope",
        "url",
        "types",
        "enabled",
        "allow_http",
        "allow_private",
        "created_at_us",
        "secret",
        "previous_secret",
        "previous_until_us",
    ),
    "events": ("org_id", "seq", "event_id", "type", "at_us", "data"),
    "deliveries": (
        "delivery_id",
        "event_id",
        "org_id",
        "seq",
        "endpoint_id",
        "state",
        "attempts",
        "next_at_us",
        "window_us",
        "lease_owner",
        "lease_until_us",
        "last_status",
        "last_error",
        "created_at_us",
        "delivered_at_us",
    ),
    "sweep_due": ("org_id", "due_us"),
}

#: The primary key of each table, which orders its export.
EVENT_ORDER: dict[str, tuple[str, ...]] = {
    "webhooks": ("endpoint_id",),
    "events": ("org_id", "seq"),
    "deliveries": ("delivery_id",),
    "sweep_due": ("org_id",),
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(instant: datetime) -> int:
    """Whole microseconds since the Unix epoch (``instant`` must be aware)."""
    return (instant - _EPOCH) // timedelta(microseconds=1)


def from_us(micros: int) -> datetime:
    """The UTC instant ``micros`` microseconds after the Unix epoch."""
    return _EPOCH + timedelta(microseconds=micros)


def types_json(types: Sequence[str] | None) -> str | None:
    """Subscribed event types as stored: a sorted compact JSON list; None for all."""
    return None if types is None else json.dumps(sorted(types), separators=(",", ":"))


@attrs.frozen
class EndpointRow:
    """A stored webhook endpoint, secrets included (never shown; see the module docstring).

    Attributes:
        endpoint_id: its id.
        scope: the organization id, or :data:`VENDOR_SCOPE` for vendor-wide.
        url: where events are POSTed.
        types: the subscribed event types as a sorted JSON list, None for all.
        enabled: 1 or 0.
        allow_http: 1 or 0.
        allow_private: 1 or 0.
        created_at_us: when it was added.
        secret: the current ``whsec_`` secret.
        previous_secret: the secret before the last rotation, still signed with
            until ``previous_until_us``.
        previous_until_us: when the previous secret stops being used.
    """

    endpoint_id: str
    scope: str
    url: str
    types: str | None
    enabled: int
    allow_http: int
    allow_private: int
    created_at_us: int
    secret: str = attrs.field(repr=False)
    previous_secret: str | None = attrs.field(default=None, repr=False)
    previous_until_us: int | None = None

    @classmethod
    def new(
        cls,
        endpoint: WebhookEndpoint,
        secret: str,
    ) -> EndpointRow:
        """The row of a new endpoint (its ``secret`` is given apart from the value)."""
        return cls(
            endpoint_id=endpoint.endpoint_id,
            scope=VENDOR_SCOPE if endpoint.org_id is None else endpoint.org_id,
            url=endpoint.url,
            types=types_json(endpoint.types),
            enabled=int(endpoint.enabled),
            allow_http=int(endpoint.allow_http),
            allow_private=int(endpoint.allow_private),
            created_at_us=to_us(endpoint.created_at),
            secret=secret,
        )

    @property
    def type_list(self) -> tuple[str, ...] | None:
        """The subscribed event types, None for all."""
        return None if self.types is None else tuple(json.loads(self.types))

    def receives(self, event_type: str) -> bool:
        """Whether this endpoint subscribes to ``event_type``."""
        types = self.type_list
        return types is None or event_type in types

    def secrets_at(self, now_us: int) -> tuple[str, ...]:
        """The secrets to sign with at ``now_us``: the current one, then the previous
        one while the rotation lasts."""
        if self.previous_secret and (self.previous_until_us or 0) > now_us:
            return (self.secret, self.previous_secret)
        return (self.secret,)

    def endpoint(self, *, with_secret: bool = False) -> WebhookEndpoint:
        """The public value; the secret only with ``with_secret`` (adding, rotating)."""
        return WebhookEndpoint(
            endpoint_id=self.endpoint_id,
            org_id=None if self.scope == VENDOR_SCOPE else self.scope,
            url=self.url,
            types=self.type_list,
            enabled=bool(self.enabled),
            allow_http=bool(self.allow_http),
            allow_private=bool(self.allow_private),
            created_at=from_us(self.created_at_us),
            secret=self.secret if with_secret else None,
        )

    def target(self) -> Target:
        """Where deliveries to this endpoint go, and what it allows."""
        return Target(self.url, bool(self.allow_http), bool(self.allow_private))


@attrs.frozen
class DeliveryRow:
    """A stored delivery (the row format of ``deliveries``)."""

    delivery_id: str
    event_id: str
    org_id: str
    seq: int
    endpoint_id: str
    state: str
    attempts: int
    next_at_us: int | None
    window_us: int
    lease_owner: str | None
    lease_until_us: int
    last_status: int | None
    last_error: str | None
    created_at_us: int
    delivered_at_us: int | None

    def delivery(self) -> Delivery:
        """The public value."""
        return Delivery(
            delivery_id=self.delivery_id,
            event_id=self.event_id,
            endpoint_id=self.endpoint_id,
            org_id=self.org_id,
            attempts=self.attempts,
            next_at=None if self.next_at_us is None else from_us(self.next_at_us),
            state=DeliveryState(self.state),
            last_status=self.last_status,
            last_error=self.last_error,
            created_at=from_us(self.created_at_us),
            delivered_at=None if self.delivered_at_us is None else from_us(self.delivered_at_us),
        )


def event_from_row(  # noqa: PLR0917 - the stored columns
    org_id: str, seq: int, event_id: str, type_: str, at_us: int, data: str
) -> Event:
    """An event from its stored columns."""
    return Event(
        id=event_id, type=type_, org_id=org_id, seq=seq, at=from_us(at_us), data=json.loads(data)
    )


#: The JSON of an event's ``data`` (made once: every command's events need it).
_DATA_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def event_data(draft: EventDraft) -> str:
    """An event's ``data`` as stored: compact JSON, keys sorted."""
    if isinstance(draft, EncodedDraft):
        return draft.data_json  # encoded once already, the same way
    return _DATA_JSON.encode(dict(draft.data))


@attrs.frozen
class Claim:
    """A delivery leased to one dispatcher, with all it needs to send it.

    Attributes:
        row: the delivery as claimed.
        event: the event to send.
        endpoint: the endpoint (its secrets included: never log a claim).
    """

    row: DeliveryRow
    event: Event
    endpoint: EndpointRow = attrs.field(repr=False)


@attrs.frozen
class Outcome:
    """What became of one attempt, for :meth:`EventsTx.finish_delivery`.

    Attributes:
        state: pending (retry at ``next_at_us``), delivered or failed.
        at_us: when the attempt ended.
        next_at_us: the next attempt (pending only).
        status: the HTTP status received, if any.
        error: why it failed, None when delivered.
    """

    state: DeliveryState
    at_us: int
    next_at_us: int | None = None
    status: int | None = None
    error: str | None = None


#: An upper bound used as "no limit" in SQL (SQLite and PostgreSQL read LIMIT differently).
NO_LIMIT = 2**62


class EventsTx(abc.ABC):
    """The events-out methods of a backend transaction (see the module docstring).

    Methods that write need a write transaction. Every method may raise
    :class:`~axis_licensing.errors.StorageError` when the store fails, and, in a
    write transaction, :class:`~axis_licensing.backends.RetryableConflict` when it
    lost a race and the transaction may be run again.
    """

    # -- the outbox
    @abc.abstractmethod
    def append_events(self, org_id: str, drafts: Sequence[EventDraft]) -> list[Event]:
        """Write ``drafts`` as the organization's next events, and their deliveries.

        Each event gets the next ``seq`` (1 for the organization's first) and its
        :func:`~axis_licensing.events.model.event_id`. Each event gets one pending
        delivery per enabled endpoint that subscribes to its type: the
        organization's own and the vendor-wide ones, due at once, retried for
        three days from the event's ``at``. Called inside the command's own
        transaction, after the organization was locked.

        Returns:
            The events written, by ``seq``.
        """

    def store_events(self, org_id: str, drafts: Sequence[EventDraft]) -> None:
        """Write ``drafts`` as :meth:`append_events` does, without returning the events.

        The outbox calls this for every command; a backend may write faster when
        it need not build the events' values. This default calls
        :meth:`append_events`.
        """
        self.append_events(org_id, drafts)

    @abc.abstractmethod
    def events_after(
        self, org_id: str, after_seq: int | None = None, limit: int | None = None
    ) -> list[Event]:
        """The organization's events with ``seq`` above ``after_seq`` (all when None), by
        ``seq``, at most ``limit``."""

    @abc.abstractmethod
    def last_event_seq(self, org_id: str) -> int:
        """The organization's latest event ``seq``; 0 when it has none."""

    # -- endpoints
    @abc.abstractmethod
    def insert_endpoint(self, row: EndpointRow) -> bool:
        """Store a new endpoint; False if its id is taken or its scope has that URL already."""

    @abc.abstractmethod
    def endpoint_row(self, endpoint_id: str) -> EndpointRow | None:
        """An endpoint by id, secrets included."""

    @abc.abstractmethod
    def endpoint_rows(self, scope: str | None = None) -> list[EndpointRow]:
        """The endpoints of ``scope`` (an organization id, or :data:`VENDOR_SCOPE`), or
        every endpoint when None, by ``endpoint_id``."""

    @abc.abstractmethod
    def update_endpoint(self, row: EndpointRow) -> bool:
        """Replace the stored endpoint of ``row.endpoint_id`` (URL, types, flags, secrets).

        Returns:
            False if there is no such endpoint, or its scope has ``row.url`` on
            another endpoint.
        """

    @abc.abstractmethod
    def delete_endpoint(self, endpoint_id: str) -> bool:
        """Delete an endpoint and its deliveries that are not delivered; False if unknown."""

    # -- deliveries
    @abc.abstractmethod
    def claim_deliveries(self, now_us: int, limit: int, owner: str, lease_us: int) -> list[Claim]:
        """Lease up to ``limit`` due deliveries to ``owner`` until ``now_us + lease_us``.

        Due: pending, ``next_at_us <= now_us``, no lease running at ``now_us``,
        and the endpoint enabled. Soonest due first. A delivery claimed here is
        claimed by no one else until its lease runs out or its outcome is recorded
        (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the single writer on SQLite,
        the store's lock in memory).
        """

    @abc.abstractmethod
    def finish_delivery(self, delivery_id: str, owner: str, outcome: Outcome) -> bool:
        """Record an attempt's outcome and release the lease; ``attempts`` grows by one.

        It is recorded only while ``owner`` holds the lease, except a success,
        which is recorded whoever holds it (unless already delivered).

        Returns:
            Whether it was recorded.
        """

    @abc.abstractmethod
    def delivery_row(self, delivery_id: str) -> DeliveryRow | None:
        """A delivery by id."""

    @abc.abstractmethod
    def deliveries(
        self,
        org_id: str | None = None,
        state: DeliveryState | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Delivery]:
        """Deliveries of an organization (or all when None) in ``state`` (or any),
        oldest first (by ``created_at``, then id), paged."""

    @abc.abstractmethod
    def redeliver(self, delivery_id: str, now_us: int) -> DeliveryRow | None:
        """Make a delivery due again at ``now_us``, with a fresh three-day window.

        A pending delivery leased to a dispatcher right now is left as it is (it
        is being sent). Its attempts so far are kept.

        Returns:
            The delivery after the change, or None if there is no such delivery.
        """

    @abc.abstractmethod
    def outbox_stats(self) -> OutboxStats:
        """The number of pending deliveries and when the oldest was written."""

    # -- the sweep index
    @abc.abstractmethod
    def set_sweep_due(self, org_id: str, due_us: int | None) -> None:
        """Keep when the organization's alerts can next change; None: never (removed)."""

    @abc.abstractmethod
    def claim_sweep(self, now_us: int, limit: int, lease_us: int) -> list[str]:
        """Up to ``limit`` organizations due at ``now_us``, soonest first, each pushed
        to ``now_us + lease_us`` so a concurrent sweep skips it (the sweep then sets
        its real next instant with :meth:`set_sweep_due`)."""

    @abc.abstractmethod
    def sweep_due(self, org_id: str) -> int | None:
        """When the organization is next due, None if it is not in the index."""


def events_of(tx: object) -> EventsTx:
    """``tx`` as a transaction with the events-out methods.

    Raises:
        TypeError: the backend's transactions do not store events (a third-party
            backend that has not added :class:`EventsTx`).
    """
    if not isinstance(tx, EventsTx):
        raise TypeError(
            f"this backend's transactions ({type(tx).__name__}) do not store events "
            "(they need the EventsTx methods of axis_licensing.events.store)"
        )
    return tx
