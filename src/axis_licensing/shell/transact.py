"""The steps every command's transaction shares, written once.

The one shell (:meth:`~axis_licensing.shell.pipeline.Pipeline._transact`) runs
every write: the licensing commands, the members' (SPEC §8), the webhook
endpoints' and the sweep (SPEC §7). Inside its transaction they use these:

- :func:`lock_org`: lock an organization for the rest of the transaction, or
  refuse an unknown one (:func:`unknown_organization`);
- :func:`prior_request`: R13's idempotency check of a request id;
- :func:`record`: append a version with its changed parts, its activities and
  their events (the outbox, SPEC §7). It is the only place a version is
  appended. The activities it appends are collected for the running
  transaction (:data:`RECORDED`), so the shell tells them to observers once the
  transaction commits, whichever step recorded them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from axis_licensing import _parts
from axis_licensing._time import from_us, local_date, to_us
from axis_licensing._validate import check_new_id
from axis_licensing.backends import Head, ReadTx, RequestRow, WriteTx
from axis_licensing.errors import IdempotencyConflict, UnknownOrganization
from axis_licensing.model import Activity
from axis_licensing.shell import history as _history
from axis_licensing.shell.outbox import write_events

__all__ = [
    "RECORDED",
    "judged",
    "lock_org",
    "prior_request",
    "record",
    "record_facts",
    "unknown_organization",
]

#: The activities the running write transaction appended (None outside the shell's).
RECORDED: contextvars.ContextVar[list[Activity] | None] = contextvars.ContextVar(
    "axis_licensing_recorded", default=None
)


def unknown_organization(org_id: str) -> UnknownOrganization:
    """The error for an organization id that names none (R14)."""
    return UnknownOrganization(f"unknown organization {org_id!r}", details={"org_id": org_id})


def lock_org(tx: WriteTx, org_id: str) -> Head:
    """Lock the organization for the rest of ``tx``; its head.

    Its commands then run one at a time, whichever kind they are (R13): two
    owners demoting each other at once cannot both see the other as the
    remaining owner (PostgreSQL runs write transactions at READ COMMITTED,
    where only the row lock orders them).

    Raises:
        UnknownOrganization: no organization has the id ``org_id``.
        StorageError: the store failed.
    """
    head = tx.lock(org_id)
    if head is None:
        raise unknown_organization(org_id)
    return head


def prior_request(
    tx: ReadTx, scope: str, request_id: str | None, fingerprint: str
) -> RequestRow | None:
    """The remembered request ``request_id`` in ``scope`` to replay, or None to run (R13).

    Raises:
        InvalidInput: a new ``request_id`` that is not a valid new id (R14).
        IdempotencyConflict: the id was used with other arguments.
        StorageError: the store failed.
    """
    if request_id is None:
        return None
    return judged(tx.request(scope, request_id), request_id, fingerprint)


def judged(prior: RequestRow | None, request_id: str | None, fingerprint: str) -> RequestRow | None:
    """R13's verdict on ``request_id``, given the request remembered with it (``prior``).

    Returns:
        ``prior`` to replay, or None to run the command (no id, or a new one).

    Raises:
        InvalidInput: a new ``request_id`` that is not a valid new id (R14).
        IdempotencyConflict: the id was used with other arguments.
    """
    if request_id is None:
        return None
    if prior is None:  # a new request id: R14's id rule (an old one still replays)
        check_new_id(request_id, "request_id")
        return None
    if prior.fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"request_id {request_id!r} was used with other arguments",
            details={"request_id": request_id},
        )
    return prior


def record(
    tx: WriteTx,
    version: Head,
    parts: Sequence[tuple[str, str]],
    activities: Sequence[Activity],
    due: datetime | None = None,
) -> None:
    """Append ``version`` with its changed ``parts``, its ``activities`` and their events.

    Args:
        tx: the write transaction; the organization is locked (or new) in it.
        version: the organization, the new version's number and instant.
        parts: the parts the version changes, ``(name, JSON)``.
        activities: what it records (R11); each is also an event (SPEC §7).
        due: when the next sweep should read the organization (None: leave it).

    Raises:
        StorageError: the version is already stored, or the store failed.
    """
    rows = [_history.row_of(version.org_id, a) for a in activities]
    tx.append(version, parts, rows)
    write_events(tx, version.org_id, activities, due, [row.details for row in rows])
    recorded = RECORDED.get()
    if recorded is not None:
        recorded.extend(activities)


def record_facts(
    tx: WriteTx,
    org_id: str,
    actor: str,
    facts: Sequence[tuple[str, dict[str, Any]]],
    now: datetime,
) -> list[Activity]:
    """Lock ``org_id`` and record ``facts`` as one new version that changes no part.

    For the commands on the store's own tables (members, webhooks): each fact
    is its action and its JSON-ready details. The version's instant never goes
    back before the organization's latest, as the licensing commands' do.

    Returns:
        The activities recorded.

    Raises:
        UnknownOrganization: no such organization.
        StorageError: the store failed.
    """
    head = lock_org(tx, org_id)
    if not facts:
        return []
    instant = max(now, from_us(head.at_us))
    header = _parts.header(org_id, tx.parts(org_id, [_parts.ORG]))
    on = local_date(instant, header.timezone)
    activities = [Activity(instant, on, actor, action, None, None, d) for action, d in facts]
    record(tx, Head(org_id, head.seq + 1, to_us(instant)), (), activities)
    return activities
