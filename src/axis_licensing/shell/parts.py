"""How an organization's state is stored: as parts, each a small JSON value (SPEC §5).

A command writes only the parts it changed, so its cost follows the change,
not the organization's size:

- ``org``: the header (name, zone, anchor, ``as_of``, the next lot id);
- ``org.product:CODE``: a product's ledger (allocations, locks, lots, credit, tallies);
- ``org.devices:CODE``: a product's subscription devices over all its systems (R4);
- ``system:ID``: one system; ``hardware:SERIAL``: one hardware unit.

The parts whose names start with ``org`` are what ``status``, ``need``,
``wallet`` and every command need; a system and its units are read only when a
command or query names them. Parts are immutable values, so a part changed when
its value is not the same object, and not equal, as before.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping

import attrs

from axis_licensing._convert import dumps_fast, loads
from axis_licensing._counts import Counts
from axis_licensing.backends import Backend, PartRow, ReadTx
from axis_licensing.errors import StorageError
from axis_licensing.policy.state import (
    HardwareRecord,
    OrgBasics,
    OrgState,
    ProductLedger,
    SystemRecord,
)

__all__ = [
    "ORG",
    "SYSTEM_PREFIX",
    "OrgHeader",
    "assemble",
    "changed",
    "hardware_part",
    "header",
    "stored_versions",
    "system_part",
    "systems_page",
    "with_parts",
]

#: The header part, and the prefix of every part the organization itself owns.
ORG = "org"
_PRODUCT = "org.product:"
_DEVICES = "org.devices:"
#: The prefix of the system parts, which list an organization's systems by id.
SYSTEM_PREFIX = "system:"
_HARDWARE = "hardware:"


def system_part(system_id: str) -> str:
    """The part that holds one system."""
    return SYSTEM_PREFIX + system_id


def hardware_part(serial: str) -> str:
    """The part that holds one hardware unit."""
    return _HARDWARE + serial


@attrs.frozen
class OrgHeader(OrgBasics):
    """The organization's own facts, stored as the ``org`` part."""

    next_lot_id: int = 1

    @classmethod
    def of(cls, state: OrgState) -> OrgHeader:
        """The header of ``state``: its fields of the same names."""
        return cls(*_header_values(state))


#: The values of a state's header fields, in the header's field order.
_header_values = operator.attrgetter(*(field.name for field in attrs.fields(OrgHeader)))


def _changed_values(
    before: Mapping[str, object], after: Mapping[str, object], prefix: str
) -> list[tuple[str, str]]:
    if before is after:
        return []
    return [
        (prefix + key, dumps_fast(value))
        for key, value in after.items()
        if value is not (old := before.get(key)) and value != old
    ]


def changed(before: OrgState | None, after: OrgState) -> list[tuple[str, str]]:
    """The ``(name, JSON)`` parts of ``after`` that differ from ``before`` (all, if None).

    Nothing is ever removed from a state, so the parts of ``after`` are all there is.
    """
    out: list[tuple[str, str]] = []
    if before is None or _header_values(before) != _header_values(after):
        out.append((ORG, dumps_fast(OrgHeader.of(after))))
    out += _changed_values({} if before is None else before.products, after.products, _PRODUCT)
    out += _changed_values({} if before is None else before.devices, after.devices, _DEVICES)
    out += _changed_values({} if before is None else before.systems, after.systems, SYSTEM_PREFIX)
    out += _changed_values({} if before is None else before.hardware, after.hardware, _HARDWARE)
    return out


def with_parts(state: OrgState, rows: Iterable[PartRow]) -> OrgState:
    """``state`` with the systems and hardware units of ``rows`` added."""
    systems = dict(state.systems)
    hardware = dict(state.hardware)
    for row in rows:
        if row.part.startswith(SYSTEM_PREFIX):
            systems[row.part[len(SYSTEM_PREFIX) :]] = loads(row.value, SystemRecord)
        elif row.part.startswith(_HARDWARE):
            hardware[row.part[len(_HARDWARE) :]] = loads(row.value, HardwareRecord)
    return attrs.evolve(state, systems=systems, hardware=hardware)


def header(org_id: str, rows: Iterable[PartRow]) -> OrgHeader:
    """The header among ``rows``.

    Raises:
        StorageError: the rows hold no header: the store lost a part.
    """
    for row in rows:
        if row.part == ORG:
            return loads(row.value, OrgHeader)
    raise _no_header(org_id)


def _no_header(org_id: str) -> StorageError:
    return StorageError(
        f"the store holds no header part for organization {org_id!r}",
        details={"org_id": org_id},
    )


def assemble(org_id: str, rows: Iterable[PartRow]) -> OrgState:
    """The organization's own state (no systems loaded) from its ``org…`` parts.

    Raises:
        StorageError: the rows hold no header: the store lost a part.
    """
    header: OrgHeader | None = None
    products: dict[str, ProductLedger] = {}
    devices: dict[str, Counts] = {}
    for row in rows:
        if row.part == ORG:
            header = loads(row.value, OrgHeader)
        elif row.part.startswith(_PRODUCT):
            products[row.part[len(_PRODUCT) :]] = loads(row.value, ProductLedger)
        elif row.part.startswith(_DEVICES):
            devices[row.part[len(_DEVICES) :]] = loads(row.value, Counts)
    if header is None:
        raise _no_header(org_id)
    return OrgState(**attrs.asdict(header, recurse=False), products=products, devices=devices)


def stored_versions(backend: Backend, org_id: str) -> list[tuple[int, OrgState]]:
    """Every stored version of the organization's own state, oldest first (for tests).

    Each is the organization's own parts as at that version: no systems loaded.

    Raises:
        StorageError: the store failed, or lost a part.
    """
    seqs = sorted(int(r["seq"]) for r in backend.export_rows("versions") if r["org_id"] == org_id)
    with backend.read() as tx:
        return [(seq, assemble(org_id, tx.parts_prefixed(org_id, ORG, seq=seq))) for seq in seqs]


def systems_page(
    tx: ReadTx,
    state: OrgState,
    *,
    seq: int | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> tuple[OrgState, list[str]]:
    """A page of the organization's systems by id, loaded into ``state`` with their units.

    Reads one range of system parts (ids greater than ``after``, at most
    ``limit``) and the units of those systems, as at version ``seq`` (default:
    the head), so listing costs what the page holds, not the organization's size.

    Args:
        tx: a read (or write) transaction.
        state: the organization's own state as at ``seq``.
        seq: the version to read at; None for the head.
        after: list only the systems whose id is greater.
        limit: at most this many.

    Returns:
        ``state`` with the page's systems and units, and the page's ids in order.

    Raises:
        StorageError: the store failed.
    """
    start = None if after is None else system_part(after)
    rows = tx.parts_prefixed(state.org_id, SYSTEM_PREFIX, seq=seq, after=start, limit=limit)
    state = with_parts(state, rows)
    ids = [row.part[len(SYSTEM_PREFIX) :] for row in rows]
    serials = [serial for i in ids for serial in state.systems[i].hardware]
    if serials:
        units = tx.parts(state.org_id, [hardware_part(s) for s in serials], seq)
        state = with_parts(state, units)
    return state, ids
