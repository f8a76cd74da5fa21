"""The activity history (R11): facts to activities, activities to and from stored rows.

The Manager turns each fact the policy records into an :class:`Activity`
(instant and local date), stores it as an :class:`ActivityRow`, and reads
rows back; history queries bound their range with :func:`bound`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import attrs

from axis_licensing._convert import converter, dumps_data, loads_data
from axis_licensing._time import check_aware, from_us, midnight, to_us
from axis_licensing.backends import ActivityRow, HistoryQuery
from axis_licensing.errors import InvalidInput
from axis_licensing.model import Activity
from axis_licensing.policy.facts import FactData
from axis_licensing.policy.state import Fact

__all__ = ["activity_of", "bound", "details_of", "from_row", "row_of"]


def details_of(data: FactData) -> dict[str, Any]:
    """The JSON-ready ``details`` of a typed fact: the form the history stores (R11).

    Args:
        data: the fact's typed details.

    Returns:
        Its fields as JSON-ready data, exactly the keys and values earlier releases stored.
    """
    details: dict[str, Any] = converter.unstructure(data)
    return details


def activity_of(fact: Fact, timezone: str) -> Activity:
    """The activity of ``fact``; a fact dated by its day alone is at that day's local midnight.

    Args:
        fact: what the policy recorded.
        timezone: the organization's zone.

    Returns:
        The activity, its instant in UTC.
    """
    at = fact.at if fact.at is not None else midnight(fact.on, timezone)
    return Activity(
        at=at.astimezone(UTC),
        on=fact.on,
        actor=fact.actor,
        action=str(fact.action),
        product=fact.product,
        system_id=fact.system_id,
        details=details_of(fact.data),
    )


def row_of(org_id: str, activity: Activity) -> ActivityRow:
    """The stored row of ``activity`` in ``org_id``'s history.

    Args:
        org_id: the organization.
        activity: the activity.

    Returns:
        The row, its details as JSON.
    """
    return ActivityRow(
        org_id=org_id,
        at_us=to_us(activity.at),
        on=activity.on.isoformat(),
        actor=activity.actor,
        action=activity.action,
        product=activity.product,
        system_id=activity.system_id,
        details=dumps_data(activity.details),
    )


def from_row(row: ActivityRow) -> Activity:
    """The activity a stored row holds.

    Args:
        row: the stored row.

    Returns:
        The activity.
    """
    return Activity(
        at=from_us(row.at_us),
        on=date.fromisoformat(row.on),
        actor=row.actor,
        action=row.action,
        product=row.product,
        system_id=row.system_id,
        details=loads_data(row.details),
    )


def bound(query: HistoryQuery, value: object, which: str) -> HistoryQuery:
    """``query`` bounded by ``value`` as its ``since`` or ``until`` (inclusive).

    Args:
        query: the query so far.
        value: a local date, an aware instant, or None (no bound).
        which: ``"since"`` or ``"until"``.

    Returns:
        The bounded query.

    Raises:
        InvalidInput: ``value`` is neither a date nor an aware datetime.
    """
    if value is None:
        return query
    if isinstance(value, datetime):
        micros = to_us(check_aware(value, which))
        if which == "since":
            return attrs.evolve(query, since_us=micros)
        return attrs.evolve(query, until_us=micros)
    if isinstance(value, date):
        if which == "since":
            return attrs.evolve(query, since_on=value.isoformat())
        return attrs.evolve(query, until_on=value.isoformat())
    raise InvalidInput(f"{which} must be a date or an aware datetime, got {value!r}", param=which)
