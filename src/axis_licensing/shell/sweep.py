"""The sweep (SPEC §7): record the alerts that appeared or cleared with time alone.

:func:`sweep_org` runs in one write transaction per organization, after the
organization was claimed from the sweep index
(:meth:`~axis_licensing.events.store.EventsTx.claim_sweep`):

1. lock the organization (so concurrent sweeps, and commands, wait for each other);
2. load its state with every system, advance it to the local date of the
   sweep's instant (lots that expired since the last command leave the wallet,
   recorded as ``licenses_expired`` like a command would);
3. compare the alerts (``within_days`` 60) with the keys recorded by earlier
   sweeps (:func:`~axis_licensing.policy.horizon.alert_changes`), kept in the
   organization's part ``sweep:alerts`` (a part outside the ``org`` prefix, so
   no command or query loads it);
4. if anything changed, append one version: the changed parts, the new keys,
   the activities (actor ``system``) and their events (the outbox);
5. set the organization's next due instant from
   :func:`~axis_licensing.policy.horizon.next_change` (None: leave the index).

Since the recorded keys are read and written under the organization's lock,
two sweeps of the same organization at the same instant record each alert
once: the second finds nothing new. A command marks the organization due at
its own instant (:mod:`~axis_licensing.shell.outbox`), so the next sweep
records what the command changed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import attrs

from axis_licensing._time import from_us, local_date, to_us, zone
from axis_licensing.backends import Head, WriteTx
from axis_licensing.catalog import Catalog
from axis_licensing.events.store import events_of
from axis_licensing.model import Activity, Alert, AlertKind
from axis_licensing.policy import alerts as alerting
from axis_licensing.policy import engine
from axis_licensing.policy.alerts import AlertKey
from axis_licensing.policy.facts import AlertCleared, AlertRaised
from axis_licensing.policy.horizon import alert_changes, next_change
from axis_licensing.policy.state import OrgState
from axis_licensing.shell import history as _history
from axis_licensing.shell import parts as _parts
from axis_licensing.shell.loading import StateCache, all_systems
from axis_licensing.shell.transact import record

__all__ = ["RECORDED_PART", "SWEEP_ACTOR", "SWEEP_WITHIN_DAYS", "Swept", "sweep_org"]

#: The part that holds the keys of the alerts recorded as raised and not cleared.
RECORDED_PART = "sweep:alerts"
#: Who records what time alone did (R11).
SWEEP_ACTOR = "system"
#: How far ahead the sweep's dated alerts look (``Manager.alerts``' default).
SWEEP_WITHIN_DAYS = 60


@attrs.frozen
class Swept:
    """What sweeping one organization recorded.

    Attributes:
        raised: alerts recorded as appeared.
        cleared: alerts recorded as cleared.
        activities: every activity appended (expiries included), for the observers.
        written: the version written and its state, to cache once committed.
    """

    raised: int = 0
    cleared: int = 0
    activities: Sequence[Activity] = ()
    written: tuple[int, OrgState] | None = None


def _dump_keys(keys: Sequence[AlertKey]) -> str:
    rows = [[k, p, s, None if on is None else on.isoformat()] for k, p, s, on in keys]
    return json.dumps(sorted(rows, key=json.dumps), separators=(",", ":"))


def _load_keys(value: str) -> list[AlertKey]:
    return [
        (k, p, s, None if on is None else date.fromisoformat(on))
        for k, p, s, on in json.loads(value)
    ]


def _raised(alert: Alert) -> AlertRaised:
    fields = attrs.asdict(alert, recurse=False)  # the fact's fields are the alert's
    return AlertRaised(**{**fields, "details": dict(alert.details)})


def _cleared(key: AlertKey) -> AlertCleared:
    kind, product, system_id, on = key
    return AlertCleared(kind=AlertKind(kind), product=product, system_id=system_id, on=on)


def _activity(
    data: Any, product: str | None, system_id: str | None, at: datetime, on: date
) -> Activity:
    return Activity(
        at=at.astimezone(UTC),
        on=on,
        actor=SWEEP_ACTOR,
        action=str(data.ACTION),
        product=product,
        system_id=system_id,
        details=_history.details_of(data),
    )


def sweep_org(  # noqa: PLR0917 - the organization and what the shell passes in
    tx: WriteTx,
    org_id: str,
    at: datetime,
    states: StateCache,
    catalog_at: Any,
    refresh: Any,
) -> Swept:
    """Sweep one organization in ``tx`` (see the module docstring).

    Args:
        tx: a write transaction.
        org_id: the organization.
        at: the sweep's instant (a version is never written before the
            organization's latest: the later of the two is used).
        states: the shell's state cache.
        catalog_at: ``(state, instant, day) -> Catalog``, the catalog in effect (R15).
        refresh: ``(tx) -> versions``, reads catalog versions recorded since.

    Returns:
        What was recorded.

    Raises:
        StorageError: the store failed.
        RetryableConflict: the transaction lost a race.
    """
    events = events_of(tx)
    head = tx.lock(org_id)
    if head is None or head.seq == 0:
        events.set_sweep_due(org_id, None)
        return Swept()
    refresh(tx)
    before = all_systems(tx, states.core(tx, head), None)
    instant = max(at, from_us(head.at_us))
    day = local_date(instant, before.timezone)
    catalog: Catalog = catalog_at(before, instant, day)
    after, facts = engine.advance(before, catalog, day)
    current = alerting.alerts(after, catalog, day, SWEEP_WITHIN_DAYS)
    rows = tx.parts(org_id, [RECORDED_PART])
    recorded = _load_keys(rows[0].value) if rows else []
    raised, cleared = alert_changes(recorded, current)
    nxt = next_change(after, catalog, day, zone(before.timezone), SWEEP_WITHIN_DAYS)
    events.set_sweep_due(org_id, None if nxt is None else to_us(nxt))
    changed = _parts.changed(before, after)
    if not (raised or cleared or facts or changed):
        return Swept()
    activities = [_history.activity_of(f, after.timezone) for f in facts]
    activities += [_activity(_cleared(k), k[1], k[2], instant, day) for k in cleared]
    activities += [_activity(_raised(a), a.product, a.system_id, instant, day) for a in raised]
    if raised or cleared:
        keys = [alerting.alert_key(a) for a in current]
        changed.append((RECORDED_PART, _dump_keys(keys)))
    seq = head.seq + 1
    record(tx, Head(org_id, seq, to_us(instant)), changed, activities)
    return Swept(len(raised), len(cleared), activities, (seq, after))
