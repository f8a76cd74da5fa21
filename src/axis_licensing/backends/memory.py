"""The in-memory backend (``memory://``): private to the Manager that opened it.

A transaction holds one lock and keeps an undo log, so a failed command
leaves nothing behind (R13, R14).
"""

from __future__ import annotations

import bisect
import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs

from axis_licensing.backends import (
    TABLES,
    ActivityRow,
    Backend,
    CatalogRow,
    Head,
    HistoryQuery,
    KeyRow,
    PartRow,
    ReadTx,
    RequestRow,
    ShipmentRow,
    StateRow,
    WriteTx,
)
from axis_licensing.errors import StorageError, StoreNotFound
from axis_licensing.events._memory import MemoryEventsData, MemoryEventsTx
from axis_licensing.events.store import EVENT_TABLES
from axis_licensing.members._tables import MEMBER_TABLES  # members hook (SPEC §8)
from axis_licensing.members.store import MemoryMembers, MemoryMembersTx  # members hook (SPEC §8)

__all__ = ["MemoryBackend"]


class _Store:
    def __init__(self) -> None:
        self.meta: dict[str, str] = {}
        self.catalogs: list[CatalogRow] = []
        self.orgs: dict[str, tuple[int, int]] = {}
        self.versions: dict[str, list[tuple[int, int]]] = {}
        #: Every version of every part, oldest first: the last one is the part's latest.
        self.parts: dict[str, dict[str, list[PartRow]]] = {}
        self.states: dict[str, list[StateRow]] = {}
        self.activities: dict[str, list[ActivityRow]] = {}
        self.systems: dict[str, str] = {}
        self.shipments: dict[str, ShipmentRow] = {}
        self.keys: dict[str, KeyRow] = {}
        self.requests: dict[tuple[str, str], RequestRow] = {}
        self.events = MemoryEventsData()  # events out (SPEC §7)
        self.members = MemoryMembers()  # members (SPEC §8)


class _Tx(MemoryEventsTx, MemoryMembersTx, WriteTx):  # events out (SPEC §7), members (SPEC §8)
    def __init__(self, store: _Store) -> None:
        self._s = store
        self.undo: list[Callable[[], None]] = []

    def events_data(self) -> MemoryEventsData:  # events out (SPEC §7)
        return self._s.events

    # -- reads
    def head(self, org_id: str) -> Head | None:
        found = self._s.orgs.get(org_id)
        return None if found is None else Head(org_id, *found)

    def seq_at(self, org_id: str, at_us: int) -> int | None:
        best: int | None = None
        for seq, at in self._s.versions.get(org_id, ()):
            if at <= at_us and (best is None or seq > best):
                best = seq
        return best

    @staticmethod
    def _in_force(versions: list[PartRow], seq: int | None) -> PartRow | None:
        if seq is None:
            return versions[-1]
        for row in reversed(versions):
            if row.seq <= seq:
                return row
        return None

    def parts(self, org_id: str, names: Sequence[str], seq: int | None = None) -> list[PartRow]:
        held = self._s.parts.get(org_id, {})
        found = (self._in_force(held[n], seq) for n in sorted(set(names)) if n in held)
        return [row for row in found if row is not None]

    def parts_prefixed(
        self,
        org_id: str,
        prefix: str,
        *,
        seq: int | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[PartRow]:
        held = self._s.parts.get(org_id, {})
        rows: list[PartRow] = []
        for name in sorted(held):
            if not name.startswith(prefix) or (after is not None and name <= after):
                continue
            if limit is not None and len(rows) >= limit:
                break
            row = self._in_force(held[name], seq)
            if row is not None:
                rows.append(row)
        return rows

    def legacy_orgs(self) -> list[str]:
        return sorted(org for org, rows in self._s.states.items() if rows)

    def legacy_states(self, org_id: str) -> list[StateRow]:
        return sorted(self._s.states.get(org_id, ()), key=lambda r: r.seq)

    def _matching(self, org_id: str, query: HistoryQuery) -> list[ActivityRow]:
        return [row for row in self._s.activities.get(org_id, ()) if query.matches(row)]

    def history(
        self, org_id: str, query: HistoryQuery, limit: int | None, offset: int
    ) -> list[ActivityRow]:
        rows = self._matching(org_id, query)[offset:]
        return rows if limit is None else rows[:limit]

    def count_history(self, org_id: str, query: HistoryQuery) -> int:
        return len(self._matching(org_id, query))

    def key(self, key_hash: str) -> KeyRow | None:
        return self._s.keys.get(key_hash)

    def shipment(self, serial: str) -> ShipmentRow | None:
        return self._s.shipments.get(serial)

    def system_owner(self, system_id: str) -> str | None:
        return self._s.systems.get(system_id)

    def request(self, scope: str, request_id: str) -> RequestRow | None:
        return self._s.requests.get((scope, request_id))

    def meta(self, name: str) -> str | None:
        return self._s.meta.get(name)

    def catalogs(self, after: int = 0) -> list[CatalogRow]:
        return [row for row in self._s.catalogs if row.version > after]

    def org_ids(self, limit: int | None, offset: int) -> list[str]:
        ids = sorted(self._s.orgs)[offset:]
        return ids if limit is None else ids[:limit]

    def latest_version_at_us(self) -> int | None:
        return max((at for seq, at in self._s.orgs.values() if seq > 0), default=None)

    # -- writes, each with its undo
    def lock(self, org_id: str) -> Head | None:
        return self.head(org_id)

    def create_org(self, org_id: str) -> bool:
        if not self._add(self._s.orgs, org_id, (0, 0)):
            return False
        self._set(self._s.versions, org_id, [])
        self._set(self._s.parts, org_id, {})
        self._set(self._s.activities, org_id, [])
        return True

    def append(
        self,
        version: Head,
        parts: Sequence[tuple[str, str]],
        activities: Iterable[ActivityRow],
    ) -> None:
        org_id = version.org_id
        versions = self._s.versions[org_id]
        if versions and versions[-1][0] >= version.seq:
            raise StorageError(f"version {version.seq} of {org_id!r} is already stored")
        held = self._s.parts[org_id]
        log = self._s.activities[org_id]
        n_versions, n_log = len(versions), len(log)
        touched = [(name, len(held.get(name, ()))) for name, _ in parts]

        def undo() -> None:
            del versions[n_versions:]
            del log[n_log:]
            for name, size in reversed(touched):
                if size:
                    del held[name][size:]
                else:
                    held.pop(name, None)

        self.undo.append(undo)
        versions.append((version.seq, version.at_us))
        for name, value in parts:
            held.setdefault(name, []).append(
                PartRow(org_id, name, version.seq, version.at_us, value)
            )
        log.extend(activities)
        self._set(self._s.orgs, org_id, (version.seq, version.at_us))

    def drop_legacy(self, org_id: str) -> None:
        if org_id in self._s.states:
            self._set(self._s.states, org_id, [])

    def claim_system(self, system_id: str, org_id: str) -> bool:
        return self._add(self._s.systems, system_id, org_id)

    def claim_hardware(self, serial: str, org_id: str) -> bool:
        return self._evolve(self._s.shipments, serial, lambda r: r.org_id is None, org_id=org_id)

    def insert_key(self, row: KeyRow) -> None:
        if row.key_hash in self._s.keys:
            raise StorageError("a key with this hash was already issued")
        self._set(self._s.keys, row.key_hash, row)

    def redeem_key(self, key_hash: str, org_id: str, at_us: int) -> bool:
        return self._evolve(
            self._s.keys,
            key_hash,
            lambda r: r.redeemed_by is None,
            redeemed_by=org_id,
            redeemed_at_us=at_us,
        )

    def insert_shipment(self, row: ShipmentRow) -> bool:
        if row.serial in self._s.shipments:
            return False
        self._set(self._s.shipments, row.serial, row)
        return True

    def put_request(self, row: RequestRow) -> None:
        if (row.scope, row.request_id) in self._s.requests:
            raise StorageError(f"request {row.request_id!r} is already remembered")
        self._set(self._s.requests, (row.scope, row.request_id), row)

    def insert_meta(self, name: str, value: str) -> bool:
        return self._add(self._s.meta, name, value)

    def insert_catalog(self, row: CatalogRow) -> bool:
        catalogs = self._s.catalogs
        if any(r.version == row.version for r in catalogs):
            return False
        count = len(catalogs)
        self.undo.append(lambda: catalogs.__delitem__(slice(count, None)))
        catalogs.append(row)
        catalogs.sort(key=lambda r: r.version)
        return True


class MemoryBackend(Backend):
    """Keeps everything in this process's memory; nothing survives ``close()``."""

    scheme = "memory"

    def __init__(self, url: str = "memory://", *, create: bool = True) -> None:
        """Open a new, empty store.

        Raises:
            StoreNotFound: ``create=False``: a memory store never exists before it is opened.
        """
        if not create:
            raise StoreNotFound(
                "memory:// holds no store before it is opened: it is private to its Manager"
            )
        self.url = url
        self._store = _Store()
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def write(self) -> Iterator[WriteTx]:
        with self._lock:
            tx = _Tx(self._store)
            try:
                yield tx
            except BaseException:
                for undo in reversed(tx.undo):
                    undo()
                raise

    @contextlib.contextmanager
    def read(self) -> Iterator[ReadTx]:
        with self._lock:
            yield _Tx(self._store)

    def peek(self, org_id: str) -> Head | None:
        with self._lock:
            found = self._store.orgs.get(org_id)
            if found is None:
                return None
            catalogs = self._store.catalogs
            return Head(org_id, *found, catalogs[-1].version if catalogs else None)

    def close(self) -> None:
        """Nothing to release."""

    # -- migrate
    def export_rows(self, table: str) -> Iterator[dict[str, Any]]:  # noqa: PLR0912 - one branch per table
        s = self._store
        with self._lock:
            if table in EVENT_TABLES:  # events out (SPEC §7)
                rows: list[dict[str, Any]] = list(s.events.export(table))
            elif table in MEMBER_TABLES:  # members hook (SPEC §8)
                rows = s.members.export_rows(table)
            elif table == "meta":
                rows = [{"name": k, "value": v} for k, v in sorted(s.meta.items())]
            elif table == "catalogs":
                rows = [attrs.asdict(r) for r in s.catalogs]
            elif table == "orgs":
                rows = [
                    {"org_id": k, "head": seq, "at_us": at}
                    for k, (seq, at) in sorted(s.orgs.items())
                ]
            elif table == "versions":
                rows = [
                    {"org_id": k, "seq": seq, "at_us": at}
                    for k in sorted(s.versions)
                    for seq, at in s.versions[k]
                ]
            elif table in ("parts", "part_history"):
                latest = table == "parts"
                rows = [
                    attrs.asdict(r)
                    for k in sorted(s.parts)
                    for name in sorted(s.parts[k])
                    for r in (s.parts[k][name][-1:] if latest else s.parts[k][name][:-1])
                ]
            elif table == "states":
                rows = [attrs.asdict(r) for k in sorted(s.states) for r in s.states[k]]
            elif table == "activities":
                rows = [attrs.asdict(r) for k in sorted(s.activities) for r in s.activities[k]]
            elif table == "systems":
                rows = [{"system_id": k, "org_id": v} for k, v in sorted(s.systems.items())]
            elif table == "shipments":
                rows = [attrs.asdict(r) for _, r in sorted(s.shipments.items())]
            elif table == "keys":
                rows = [attrs.asdict(r) for _, r in sorted(s.keys.items())]
            elif table == "requests":
                rows = [attrs.asdict(r) for _, r in sorted(s.requests.items())]
            else:
                raise ValueError(f"unknown table {table!r}")
        yield from rows

    def import_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        s = self._store
        count = 0
        with self._lock:
            if table in EVENT_TABLES:  # events out (SPEC §7)
                return s.events.import_rows(table, rows)
            for row in rows:
                count += 1
                if table in MEMBER_TABLES:  # members hook (SPEC §8)
                    s.members.import_row(table, row)
                elif not (_import_org_row(s, table, row) or _import_plain_row(s, table, row)):
                    raise ValueError(f"unknown table {table!r}")
        return count

    def count_rows(self, table: str) -> int:
        s = self._store
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        if table in EVENT_TABLES:  # events out (SPEC §7)
            return s.events.count(table)
        if table in MEMBER_TABLES:  # members hook (SPEC §8)
            return s.members.count_rows(table)
        sizes = {
            "meta": len(s.meta),
            "catalogs": len(s.catalogs),
            "orgs": len(s.orgs),
            "versions": sum(map(len, s.versions.values())),
            "parts": sum(len(p) for p in s.parts.values()),
            "part_history": sum(len(v) - 1 for p in s.parts.values() for v in p.values()),
            "states": sum(map(len, s.states.values())),
            "activities": sum(map(len, s.activities.values())),
            "systems": len(s.systems),
            "shipments": len(s.shipments),
            "keys": len(s.keys),
            "requests": len(s.requests),
        }
        return sizes[table]

    def clear(self) -> None:
        with self._lock:
            self._store = _Store()

    def delete_meta(self, name: str) -> bool:
        with self._lock:
            return self._store.meta.pop(name, None) is not None


def _import_org_row(s: _Store, table: str, row: dict[str, Any]) -> bool:
    """Import one row of a table kept per organization; False if ``table`` is not one."""
    if table == "orgs":
        s.orgs[row["org_id"]] = (row["head"], row["at_us"])
        s.versions.setdefault(row["org_id"], [])
        s.parts.setdefault(row["org_id"], {})
        s.activities.setdefault(row["org_id"], [])
    elif table == "versions":
        bisect.insort(s.versions.setdefault(row["org_id"], []), (row["seq"], row["at_us"]))
    elif table in ("parts", "part_history"):
        versions = s.parts.setdefault(row["org_id"], {}).setdefault(row["part"], [])
        bisect.insort(versions, PartRow(**row), key=lambda r: r.seq)
    elif table == "states":
        s.states.setdefault(row["org_id"], []).append(StateRow(**row))
    elif table == "activities":
        s.activities.setdefault(row["org_id"], []).append(ActivityRow(**row))
    else:
        return False
    return True


def _import_plain_row(s: _Store, table: str, row: dict[str, Any]) -> bool:
    """Import one row of a store-wide table; False if ``table`` is not one."""
    if table == "meta":
        s.meta[row["name"]] = row["value"]
    elif table == "catalogs":
        s.catalogs.append(CatalogRow(**row))
        s.catalogs.sort(key=lambda r: r.version)
    elif table == "systems":
        s.systems[row["system_id"]] = row["org_id"]
    elif table == "shipments":
        s.shipments[row["serial"]] = ShipmentRow(**row)
    elif table == "keys":
        s.keys[row["key_hash"]] = KeyRow(**row)
    elif table == "requests":
        s.requests[(row["scope"], row["request_id"])] = RequestRow(**row)
    else:
        return False
    return True
