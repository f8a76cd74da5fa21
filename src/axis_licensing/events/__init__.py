"""Events out (SPEC §7): the event values, webhook signing, a safe transport, the retry
schedule, the outbox's storage and the dispatcher.

Everything here is shell, not policy: it does I/O (HTTP, storage) but decides nothing
about licensing. The pure part, when an organization's alerts can next change, is
:mod:`axis_licensing.policy.horizon`.
"""

from __future__ import annotations

from axis_licensing.events.model import (
    ALERT_CLEARED,
    ALERT_RAISED,
    Delivery,
    DeliveryReport,
    DeliveryState,
    Event,
    EventDraft,
    OutboxStats,
    SweepReport,
    WebhookEndpoint,
    event_id,
    event_types,
)

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
    "event_id",
    "event_types",
]
