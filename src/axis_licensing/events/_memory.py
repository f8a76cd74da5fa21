"""Events out on the in-memory backend: the data, and the transaction mixin.

The memory backend runs every transaction under one lock, so a claim is atomic
by construction. Every write here pushes its undo onto the transaction's undo
log, so a command that fails leaves no event behind (R13).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs

from axis_licensing.backends._undo import UndoLog
from axis_licensing.events.model import (
    Delivery,
    DeliveryState,
    Event,
    EventDraft,
    OutboxStats,
    delivery_id,
    event_id,
)
from axis_licensing.events.store import (
    EVENT_EXPORT_COLUMNS,
    VENDOR_SCOPE,
    Claim,
    DeliveryRow,
    EndpointRow,
    EventsTx,
    Outcome,
    event_data,
    event_from_row,
    from_us,
    to_us,
)

__all__ = ["MemoryEventsData", "MemoryEventsTx"]


@attrs.frozen
class _EventRow:
    org_id: str
    seq: int
    event_id: str
    type: str
    at_us: int
    data: str

    def event(self) -> Event:
        return event_from_row(
            self.org_id, self.seq, self.event_id, self.type, self.at_us, self.data
        )


class MemoryEventsData:
    """The tables of events out, kept in a memory store."""

    def __init__(self) -> None:
        self.webhooks: dict[str, EndpointRow] = {}
        self.events: dict[str, list[_EventRow]] = {}
        self.by_id: dict[str, _EventRow] = {}
        self.deliveries: dict[str, DeliveryRow] = {}
        self.sweep_due: dict[str, int] = {}

    def export(self, table: str) -> Iterator[dict[str, Any]]:
        """Every row of ``table``, ordered by its primary key, in the export format."""
        rows: Iterable[Any]
        if table == "webhooks":
            rows = (self.webhooks[k] for k in sorted(self.webhooks))
        elif table == "events":
            rows = (r for k in sorted(self.events) for r in self.events[k])
        elif table == "deliveries":
            rows = (self.deliveries[k] for k in sorted(self.deliveries))
        elif table == "sweep_due":
            return iter([{"org_id": k, "due_us": v} for k, v in sorted(self.sweep_due.items())])
        else:
            raise ValueError(f"unknown table {table!r}")
        return iter([attrs.asdict(r) for r in rows])

    def import_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        """Insert exported rows; returns how many."""
        columns = EVENT_EXPORT_COLUMNS[table]
        count = 0
        for raw in rows:
            row = {c: raw[c] for c in columns}
            count += 1
            if table == "webhooks":
                self.webhooks[row["endpoint_id"]] = EndpointRow(**row)
            elif table == "events":
                event = _EventRow(**row)
                log = self.events.setdefault(event.org_id, [])
                log.append(event)
                log.sort(key=lambda r: r.seq)
                self.by_id[event.event_id] = event
            elif table == "deliveries":
                self.deliveries[row["delivery_id"]] = DeliveryRow(**row)
            else:
                self.sweep_due[row["org_id"]] = row["due_us"]
        return count

    def count(self, table: str) -> int:
        """How many rows ``table`` holds."""
        if table == "events":
            return sum(map(len, self.events.values()))
        sizes = {
            "webhooks": len(self.webhooks),
            "deliveries": len(self.deliveries),
            "sweep_due": len(self.sweep_due),
        }
        return sizes[table]


class MemoryEventsTx(UndoLog, EventsTx):
    """The events-out methods of a memory transaction.

    The host transaction provides :meth:`events_data` and the undo log's
    ``undo`` list.
    """

    @abc.abstractmethod
    def events_data(self) -> MemoryEventsData:
        """The store's events-out tables."""

    # -- the outbox
    def append_events(self, org_id: str, drafts: Sequence[EventDraft]) -> list[Event]:
        data = self.events_data()
        log = data.events.setdefault(org_id, [])
        size = len(log)
        last = log[-1].seq if log else 0
        endpoints = [
            row
            for _, row in sorted(data.webhooks.items())
            if row.enabled and row.scope in (org_id, VENDOR_SCOPE)
        ]
        written: list[_EventRow] = []
        for n, draft in enumerate(drafts, start=1):
            seq = last + n
            written.append(
                _EventRow(
                    org_id, seq, event_id(org_id, seq), draft.type, _us(draft), event_data(draft)
                )
            )

        def undo() -> None:
            for row in log[size:]:
                data.by_id.pop(row.event_id, None)
            del log[size:]

        self.undo.append(undo)
        log.extend(written)
        for row in written:
            data.by_id[row.event_id] = row
            for endpoint in endpoints:
                if endpoint.receives(row.type):
                    self._set(
                        data.deliveries,
                        delivery_id(row.event_id, endpoint.endpoint_id),
                        _new_delivery(row, endpoint.endpoint_id),
                    )
        return [row.event() for row in written]

    def events_after(
        self, org_id: str, after_seq: int | None = None, limit: int | None = None
    ) -> list[Event]:
        log = self.events_data().events.get(org_id, [])
        start = 0 if after_seq is None else _first_after(log, after_seq)
        chosen = log[start:] if limit is None else log[start : start + limit]
        return [row.event() for row in chosen]

    def last_event_seq(self, org_id: str) -> int:
        log = self.events_data().events.get(org_id, [])
        return log[-1].seq if log else 0

    # -- endpoints
    def _url_taken(self, row: EndpointRow) -> bool:
        return any(
            other.scope == row.scope
            and other.url == row.url
            and other.endpoint_id != row.endpoint_id
            for other in self.events_data().webhooks.values()
        )

    def insert_endpoint(self, row: EndpointRow) -> bool:
        hooks = self.events_data().webhooks
        if row.endpoint_id in hooks or self._url_taken(row):
            return False
        self._set(hooks, row.endpoint_id, row)
        return True

    def endpoint_row(self, endpoint_id: str) -> EndpointRow | None:
        return self.events_data().webhooks.get(endpoint_id)

    def endpoint_rows(self, scope: str | None = None) -> list[EndpointRow]:
        hooks = self.events_data().webhooks
        return [hooks[k] for k in sorted(hooks) if scope is None or hooks[k].scope == scope]

    def update_endpoint(self, row: EndpointRow) -> bool:
        hooks = self.events_data().webhooks
        if row.endpoint_id not in hooks or self._url_taken(row):
            return False
        self._set(hooks, row.endpoint_id, row)
        return True

    def delete_endpoint(self, endpoint_id: str) -> bool:
        data = self.events_data()
        if endpoint_id not in data.webhooks:
            return False
        self._drop(data.webhooks, endpoint_id)
        for key, row in list(data.deliveries.items()):
            if row.endpoint_id == endpoint_id and row.state != DeliveryState.DELIVERED:
                self._drop(data.deliveries, key)
        return True

    # -- deliveries
    def claim_deliveries(self, now_us: int, limit: int, owner: str, lease_us: int) -> list[Claim]:
        data = self.events_data()
        due = sorted(
            (
                row
                for row in data.deliveries.values()
                if row.state == DeliveryState.PENDING
                and row.next_at_us is not None
                and row.next_at_us <= now_us
                and row.lease_until_us <= now_us
                and (hook := data.webhooks.get(row.endpoint_id)) is not None
                and hook.enabled
            ),
            key=lambda r: (r.next_at_us, r.delivery_id),
        )[: max(limit, 0)]
        claims: list[Claim] = []
        for row in due:
            leased = attrs.evolve(row, lease_owner=owner, lease_until_us=now_us + lease_us)
            self._set(data.deliveries, row.delivery_id, leased)
            claims.append(
                Claim(leased, data.by_id[row.event_id].event(), data.webhooks[row.endpoint_id])
            )
        return claims

    def finish_delivery(self, delivery_id: str, owner: str, outcome: Outcome) -> bool:
        data = self.events_data()
        row = data.deliveries.get(delivery_id)
        if row is None:
            return False
        delivered = outcome.state == DeliveryState.DELIVERED
        if not (row.lease_owner == owner or (delivered and row.state != DeliveryState.DELIVERED)):
            return False
        self._set(data.deliveries, delivery_id, _finished(row, outcome))
        return True

    def delivery_row(self, delivery_id: str) -> DeliveryRow | None:
        return self.events_data().deliveries.get(delivery_id)

    def deliveries(
        self,
        org_id: str | None = None,
        state: DeliveryState | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Delivery]:
        rows = sorted(
            (
                row
                for row in self.events_data().deliveries.values()
                if (org_id is None or row.org_id == org_id)
                and (state is None or row.state == state)
            ),
            key=lambda r: (r.created_at_us, r.delivery_id),
        )[offset:]
        return [row.delivery() for row in (rows if limit is None else rows[:limit])]

    def redeliver(self, delivery_id: str, now_us: int) -> DeliveryRow | None:
        data = self.events_data()
        row = data.deliveries.get(delivery_id)
        if row is None:
            return None
        if row.state == DeliveryState.PENDING and row.lease_until_us > now_us:
            return row
        fresh = _redelivered(row, now_us)
        self._set(data.deliveries, delivery_id, fresh)
        return fresh

    def outbox_stats(self) -> OutboxStats:
        pending = [
            row.created_at_us
            for row in self.events_data().deliveries.values()
            if row.state == DeliveryState.PENDING
        ]
        return OutboxStats(len(pending), from_us(min(pending)) if pending else None)

    # -- the sweep index
    def set_sweep_due(self, org_id: str, due_us: int | None) -> None:
        table = self.events_data().sweep_due
        if due_us is None:
            self._drop(table, org_id)
        else:
            self._set(table, org_id, due_us)

    def claim_sweep(self, now_us: int, limit: int, lease_us: int) -> list[str]:
        table = self.events_data().sweep_due
        due = sorted((at, org) for org, at in table.items() if at <= now_us)[: max(limit, 0)]
        for _, org_id in due:
            self._set(table, org_id, now_us + lease_us)
        return [org_id for _, org_id in due]

    def sweep_due(self, org_id: str) -> int | None:
        return self.events_data().sweep_due.get(org_id)


def _us(draft: EventDraft) -> int:
    return to_us(draft.at)


def _first_after(log: list[_EventRow], after_seq: int) -> int:
    low, high = 0, len(log)
    while low < high:
        mid = (low + high) // 2
        if log[mid].seq <= after_seq:
            low = mid + 1
        else:
            high = mid
    return low


def _new_delivery(event: _EventRow, endpoint_id: str) -> DeliveryRow:
    return DeliveryRow(
        delivery_id=delivery_id(event.event_id, endpoint_id),
        event_id=event.event_id,
        org_id=event.org_id,
        seq=event.seq,
        endpoint_id=endpoint_id,
        state=DeliveryState.PENDING.value,
        attempts=0,
        next_at_us=event.at_us,
        window_us=event.at_us,
        lease_owner=None,
        lease_until_us=0,
        last_status=None,
        last_error=None,
        created_at_us=event.at_us,
        delivered_at_us=None,
    )


def _finished(row: DeliveryRow, outcome: Outcome) -> DeliveryRow:
    delivered = outcome.state == DeliveryState.DELIVERED
    return attrs.evolve(
        row,
        state=outcome.state.value,
        attempts=row.attempts + 1,
        next_at_us=outcome.next_at_us if outcome.state == DeliveryState.PENDING else None,
        lease_owner=None,
        lease_until_us=0,
        last_status=outcome.status,
        last_error=None if delivered else outcome.error,
        delivered_at_us=outcome.at_us if delivered else row.delivered_at_us,
    )


def _redelivered(row: DeliveryRow, now_us: int) -> DeliveryRow:
    return attrs.evolve(
        row,
        state=DeliveryState.PENDING.value,
        next_at_us=now_us,
        window_us=now_us,
        lease_owner=None,
        lease_until_us=0,
    )
