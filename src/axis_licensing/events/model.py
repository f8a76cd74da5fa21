"""The values of events out (SPEC §7): events, webhook endpoints, deliveries and reports.

An event is ``{"id", "type", "org_id", "seq", "at", "data"}``:

- ``seq`` counts 1, 2, 3, … per organization, in the order the events were
  committed (the store assigns it inside the command's own transaction);
- ``id`` is derived from ``(org_id, seq)`` alone (:func:`event_id`), so it is the
  same on every backend, after ``migrate`` and on every redelivery; receivers
  deduplicate on it (it is also the ``webhook-id`` header);
- ``type`` is the activity's ``action`` (R11) or ``alert.raised`` / ``alert.cleared``;
- ``data`` holds the typed fields of that action, as JSON-ready values.

Instants are aware datetimes in UTC; the store keeps them as whole microseconds.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
import orjson

from axis_licensing._enums import Action
from axis_licensing.errors import InvalidInput

__all__ = [
    "ALERT_CLEARED",
    "ALERT_RAISED",
    "Delivery",
    "DeliveryReport",
    "DeliveryState",
    "Event",
    "EventDraft",
    "OutboxStats",
    "SweepReport",
    "WebhookEndpoint",
    "check_event_types",
    "event_id",
    "event_type",
    "event_types",
]

#: The event type of an alert that first appears (SPEC §7).
ALERT_RAISED = "alert.raised"
#: The event type of an alert that clears (SPEC §7).
ALERT_CLEARED = "alert.cleared"

#: The namespace of event ids (a UUIDv5 over the organization and ``seq``).
_EVENT_NAMESPACE = uuid.UUID("6f0c0f53-5bd8-5d38-9a3e-2d2f7c1d7a11")


_NAMESPACE_BYTES = _EVENT_NAMESPACE.bytes


def _uuid5_hex(name: list[str | int]) -> str:
    """``uuid.uuid5(_EVENT_NAMESPACE, json_of(name)).hex``, without building UUID objects.

    The name's JSON is compact UTF-8, not ASCII-escaped: orjson writes the bytes
    ``json.dumps(name, ensure_ascii=False, separators=(",", ":")).encode()`` gives
    for strings and integers, faster (every event needs an id).
    """
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + orjson.dumps(name)).digest()[:16]  # noqa: S324 - RFC 4122 v5
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    return digest.hex()


def event_id(org_id: str, seq: int) -> str:
    """The stable id of an organization's ``seq``-th event: ``evt_`` + a UUIDv5 in hex.

    It depends on ``(org_id, seq)`` only, so every backend, every replay and every
    redelivery give the same id.
    """
    return "evt_" + _uuid5_hex([org_id, seq])


def delivery_id(event: str, endpoint_id: str) -> str:
    """The stable id of the delivery of event ``event`` to endpoint ``endpoint_id``."""
    return "dlv_" + _uuid5_hex([event, endpoint_id])


#: The event type of the actions whose type is not their own name (SPEC §7).
_RENAMED = {Action.ALERT_RAISED: ALERT_RAISED, Action.ALERT_CLEARED: ALERT_CLEARED}


#: The same, by the action's value (a member's hash is not its value's).
_RENAMED_VALUES = {action.value: renamed for action, renamed in _RENAMED.items()}


def event_type(action: str) -> str:
    """The event type of an activity's ``action``: the action itself, except
    ``alert_raised`` → ``alert.raised`` and ``alert_cleared`` → ``alert.cleared``."""
    return _RENAMED_VALUES.get(str(action), action)


def event_types() -> frozenset[str]:
    """Every event type: each activity action (R11), the alert actions as
    ``alert.raised`` and ``alert.cleared``."""
    return frozenset(event_type(a) for a in Action)


def check_event_types(types: Iterable[str] | None) -> tuple[str, ...] | None:
    """The event types an endpoint subscribes to, checked and sorted; None means all.

    Raises:
        InvalidInput: ``types`` is a single string, empty, or names an unknown type
            (``param="types"``).
    """
    if types is None:
        return None
    if isinstance(types, str | bytes):
        raise InvalidInput("types must be a list of event types, not one string", param="types")
    try:
        listed = list(types)
    except TypeError as exc:
        raise InvalidInput("types must be a list of event types", param="types") from exc
    if not listed:
        raise InvalidInput(
            "types must name at least one event type (leave it out for all)", param="types"
        )
    known = event_types()
    unknown = sorted({repr(t) for t in listed if not isinstance(t, str) or t not in known})
    if unknown:
        raise InvalidInput(
            f"unknown event type {', '.join(unknown)}; known types: {', '.join(sorted(known))}",
            param="types",
        )
    return tuple(sorted(set(listed)))


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("an event instant must be timezone-aware")
    return value.astimezone(UTC)


@attrs.frozen
class EventDraft:
    """An event about to be written: the store gives it its ``seq`` and ``id``.

    Attributes:
        type: the activity's action, or ``alert.raised`` / ``alert.cleared``.
        at: when it happened (the command's instant, or the sweep's).
        data: the typed fields of that action, JSON-ready.
    """

    type: str
    at: datetime = attrs.field(converter=_utc)
    data: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class EncodedDraft(EventDraft):
    """An :class:`EventDraft` whose ``data`` comes with its stored JSON, made once.

    The outbox's own drafts (:func:`axis_licensing.shell.outbox.drafts_of`); not
    part of the package's public names.

    Attributes:
        data_json: ``data`` as :func:`~axis_licensing.events.store.event_data`
            stores it (compact, keys sorted, not ASCII-escaped); the store writes
            this text instead of encoding ``data`` again.
    """

    data_json: str = attrs.field(kw_only=True, eq=False, repr=False)


@attrs.frozen
class Event:
    """One event of an organization (SPEC §7).

    Attributes:
        id: unique and stable: :func:`event_id` of ``(org_id, seq)``.
        type: the activity's action, or ``alert.raised`` / ``alert.cleared``.
        org_id: the organization.
        seq: 1, 2, 3, … per organization, in commit order.
        at: when it happened, in UTC.
        data: the typed fields of that action, JSON-ready.
    """

    id: str
    type: str
    org_id: str
    seq: int
    at: datetime = attrs.field(converter=_utc)
    data: Mapping[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The event as JSON-ready data, ``at`` in ISO 8601 with ``Z``."""
        return {
            "id": self.id,
            "type": self.type,
            "org_id": self.org_id,
            "seq": self.seq,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "data": dict(self.data),
        }

    def body(self) -> bytes:
        """The webhook request body: :meth:`to_json` as compact UTF-8 JSON, keys sorted."""
        return json.dumps(
            self.to_json(), ensure_ascii=False, separators=(",", ":"), sort_keys=True
        ).encode()


@attrs.frozen
class WebhookEndpoint:
    """A webhook receiver (SPEC §7).

    Attributes:
        endpoint_id: its id.
        org_id: the organization whose events it receives; None is vendor-wide
            (every organization's).
        url: where events are POSTed.
        types: the event types it receives, sorted; None is every type.
        enabled: False holds its deliveries (they wait, pending) until enabled again.
        allow_http: plain ``http`` is allowed (loopback testing).
        allow_private: private, loopback and link-local addresses are allowed.
        created_at: when it was added.
        secret: the ``whsec_`` signing secret, set only in the answer of adding the
            endpoint or rotating its secret, None everywhere else (never in ``repr``).
    """

    endpoint_id: str
    org_id: str | None
    url: str
    types: tuple[str, ...] | None
    enabled: bool
    allow_http: bool
    allow_private: bool
    created_at: datetime
    secret: str | None = attrs.field(default=None, repr=False)

    def receives(self, event_type: str) -> bool:
        """Whether this endpoint subscribes to ``event_type``."""
        return self.types is None or event_type in self.types


class DeliveryState(enum.StrEnum):
    """Where a delivery stands."""

    #: Not delivered yet; tried again at ``next_at``.
    PENDING = "pending"
    #: The receiver answered 2xx.
    DELIVERED = "delivered"
    #: Three days of retries failed; redeliverable by hand.
    FAILED = "failed"


@attrs.frozen
class Delivery:
    """The delivery of one event to one endpoint (SPEC §7).

    Attributes:
        delivery_id: stable: derived from the event's and the endpoint's ids.
        event_id: the event.
        endpoint_id: the endpoint.
        org_id: the event's organization.
        attempts: how many times it was sent.
        next_at: when it is due (again); None once delivered or failed.
        state: pending, delivered or failed.
        last_status: the HTTP status of the last attempt, None if there was none
            (refused, timed out, never tried).
        last_error: a short text saying why the last attempt failed, None after success.
        created_at: when the event was written to the outbox.
        delivered_at: when the receiver answered 2xx.
    """

    delivery_id: str
    event_id: str
    endpoint_id: str
    org_id: str
    attempts: int
    next_at: datetime | None
    state: DeliveryState
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@attrs.frozen
class DeliveryReport:
    """What one pass of the dispatcher did (``manager.deliver``).

    Attributes:
        sent: deliveries the receivers accepted (2xx).
        failed: deliveries given up on after three days of retries.
        retrying: deliveries that failed this time and will be tried again.
    """

    sent: int = 0
    failed: int = 0
    retrying: int = 0


@attrs.frozen
class SweepReport:
    """What a sweep did (``manager.sweep``).

    Attributes:
        organizations: how many organizations it read (those that were due).
        raised: alerts recorded as appeared.
        cleared: alerts recorded as cleared.
    """

    organizations: int = 0
    raised: int = 0
    cleared: int = 0


@attrs.frozen
class OutboxStats:
    """The outbox's size, for ``/metrics`` (SPEC §6.1, §7).

    Attributes:
        depth: pending deliveries.
        oldest_pending_at: when the oldest pending delivery was written; None when
            none is pending.
    """

    depth: int
    oldest_pending_at: datetime | None

    def oldest_age_seconds(self, now: datetime) -> float:
        """How long the oldest pending delivery has waited at ``now``; 0 when none."""
        if self.oldest_pending_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_pending_at).total_seconds())
