"""The transactional outbox's shell side (SPEC §7): a command's activities become its events.

Every command, and every sweep, calls :func:`write_events` inside its own write
transaction, right after appending its activities: each activity becomes one
event (``type`` from :func:`~axis_licensing.events.model.event_type`, ``data``
the activity's ``details``, which are the typed fact through the converter),
written with :meth:`~axis_licensing.events.store.EventsTx.store_events`. So an
event exists if and only if its command committed, on every backend.

The same call marks the organization due for the next sweep (its alerts may
have changed with the command), so the sweep records them as ``alert_raised`` /
``alert_cleared`` (see :mod:`axis_licensing.shell.sweep`).

After the commit the shell sets its *wake* (a :class:`threading.Event`, in
process only): a dispatcher running in the same process
(:func:`~axis_licensing.events.dispatcher.deliver_forever` with ``wake=``) starts
a pass at once instead of at its next poll. Other processes find the events at
their next poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from axis_licensing._convert import dumps_data
from axis_licensing._time import to_us
from axis_licensing.events.model import EncodedDraft, EventDraft, event_type
from axis_licensing.events.store import EventsTx
from axis_licensing.model import Activity

__all__ = ["drafts_of", "write_events"]


def drafts_of(
    activities: Sequence[Activity], encoded: Sequence[str] | None = None
) -> list[EventDraft]:
    """The events of ``activities``, in their order.

    Args:
        activities: a command's new activities.
        encoded: their details' JSON, as the history stores it (None: encode them here).

    Returns:
        One draft per activity: its event type, instant and details, with the
        details' JSON made once by orjson (the same text the history stores).
    """
    texts = [dumps_data(a.details) for a in activities] if encoded is None else encoded
    return [
        EncodedDraft(event_type(a.action), a.at, dict(a.details), data_json=text)
        for a, text in zip(activities, texts, strict=True)
    ]


def write_events(
    tx: object,
    org_id: str,
    activities: Sequence[Activity],
    due: datetime | None,
    encoded: Sequence[str] | None = None,
) -> None:
    """Append the events of ``activities`` in ``tx``; mark the organization due at ``due``.

    Args:
        tx: the command's write transaction (the organization is locked or new).
        org_id: the organization.
        activities: the activities the transaction appends.
        due: when the next sweep should read the organization (None: leave the index).
        encoded: the activities' details as JSON, when the caller made it already.

    A backend whose transactions lack the events-out methods (a third-party one
    written before SPEC §7, or a test's wrapper) commits without events: its
    commands keep working, while ``events``, ``sweep``, ``deliver`` and
    ``webhooks`` raise ``TypeError`` on it.

    Raises:
        StorageError: the store failed.
        RetryableConflict: the transaction lost a race.
    """
    if not isinstance(tx, EventsTx):
        return
    if activities:
        tx.store_events(org_id, drafts_of(activities, encoded))
    if due is not None:
        tx.set_sweep_due(org_id, to_us(due))
