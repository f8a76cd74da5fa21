"""Loading an organization's state: the cache of its own parts, named parts, and old stores.

An organization's own parts (header, product ledgers, device totals) are cached
per organization, keyed by the version they were read or written at: a
command or query reads the head version (one small row) and reuses the cache
when it is current (SPEC §5). Systems and hardware units are loaded by name,
or all of them, as a command or query needs them.

The same cache keeps the queries' answers about an organization's latest
version (:class:`Stamp`): a query that asks again about the same version, on
the same local date, under the same catalog version, reads the head and
nothing more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from datetime import date

from axis_licensing._convert import loads
from axis_licensing.backends import Backend, Head, ReadTx
from axis_licensing.catalog import Catalog
from axis_licensing.errors import StorageError
from axis_licensing.policy import engine
from axis_licensing.policy.state import OrgState
from axis_licensing.shell import parts as _parts

__all__ = ["Stamp", "StateCache", "all_systems", "upgrade_legacy", "with_named"]

#: How many organizations the cache holds.
CACHE_SIZE = 1024
#: How many answers the cache keeps per organization (about one version, date and catalog).
ANSWERS_PER_ORG = 64

#: What a query's answer at or after the head depends on besides its question: the
#: organization's head version, the catalog version in effect at the query's instant,
#: and the instant's local date (time acts on whole local days only: R3, R5, R6).
Stamp = tuple[int, int, date]


class StateCache:
    """Each organization's own parts at one version; safe to share between threads."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._states: dict[str, tuple[int, OrgState]] = {}
        self._answers: dict[str, tuple[Stamp, dict[Hashable, object]]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every cached state, as when other processes wrote last (the cold benchmarks)."""
        with self._lock:
            self._states.clear()
            self._answers.clear()

    def answer(self, org_id: str, stamp: Stamp, question: Hashable) -> object | None:
        """The answer kept for ``question`` about ``org_id`` at ``stamp``, if any.

        Args:
            org_id: the organization.
            stamp: its head version, the catalog version in effect and the local date.
            question: the query and its arguments, such as ``("status", "acs-pro")``.

        Returns:
            The answer, or None.
        """
        kept = self._answers.get(org_id)
        if kept is None or kept[0] != stamp:
            return None
        return kept[1].get(question)

    def keep_answer(self, org_id: str, stamp: Stamp, question: Hashable, answer: object) -> None:
        """Keep ``answer`` to ``question`` about ``org_id`` at ``stamp``.

        An organization's answers at another stamp are dropped: only the
        latest version's answers on one date are worth keeping. The answer
        must be immutable, as the query returns it to every caller.
        """
        with self._lock:
            kept = self._answers.get(org_id)
            if kept is not None and kept[0] != stamp and kept[0][0] > stamp[0]:
                return  # a slower query about an older version: keep the newer answers
            if kept is None or kept[0] != stamp:
                if kept is None and len(self._answers) >= self._size:
                    self._answers.pop(next(iter(self._answers)))
                kept = (stamp, {})
                self._answers[org_id] = kept
            answers = kept[1]
            if question not in answers and len(answers) >= ANSWERS_PER_ORG:
                answers.pop(next(iter(answers)))
            answers[question] = answer

    def get(self, org_id: str) -> tuple[int, OrgState] | None:
        """The cached ``(version, state)`` of ``org_id``, if any."""
        return self._states.get(org_id)

    def core(self, tx: ReadTx, head: Head) -> OrgState:
        """The organization's own parts at its head version; cached by version.

        Only committed versions are cached, and a version number names one
        state only, so a hit is always right, whoever wrote it.

        Args:
            tx: a read of the store.
            head: the organization's head version.

        Returns:
            The state without its systems and units.

        Raises:
            StorageError: the organization is still in the first storage format,
                or the backend failed.
        """
        cached = self._states.get(head.org_id)
        if cached is not None and cached[0] == head.seq:
            return cached[1]
        if head.seq == 0:
            raise StorageError(
                f"organization {head.org_id!r} is stored in the first storage format and was "
                "not converted yet; a Manager converts it when it opens the store",
                details={"org_id": head.org_id},
            )
        state = _parts.assemble(head.org_id, tx.parts_prefixed(head.org_id, _parts.ORG))
        self.remember(head.org_id, head.seq, state)
        return state

    def remember(self, org_id: str, seq: int, state: OrgState) -> None:
        """Keep ``state``, committed as version ``seq``, without its systems."""
        with self._lock:
            if org_id not in self._states and len(self._states) >= self._size:
                self._states.pop(next(iter(self._states)))
            self._states[org_id] = (seq, state.without_systems())


def with_named(
    tx: ReadTx,
    state: OrgState,
    seq: int | None,
    systems: Iterable[str] = (),
    serials: Iterable[str] = (),
) -> OrgState:
    """``state`` with the named systems and units loaded as at version ``seq``.

    Each system comes with its hardware units, and each unit with its system
    (and that system's units), so the rules see whole systems (R9).

    Args:
        tx: a read of the store.
        state: the state so far.
        seq: the version (None: the head).
        systems: the system ids to load.
        serials: the hardware serials to load.

    Returns:
        The state with them.
    """
    want_systems, want_serials = set(systems), set(serials)
    for _ in range(3):  # a unit's system, then that system's other units
        names = [_parts.system_part(s) for s in sorted(want_systems - set(state.systems))]
        names += [_parts.hardware_part(h) for h in sorted(want_serials - set(state.hardware))]
        if not names:
            break
        state = _parts.with_parts(state, tx.parts(state.org_id, names, seq))
        for system_id in want_systems & set(state.systems):
            want_serials.update(state.systems[system_id].hardware)
        for serial in want_serials & set(state.hardware):
            want_systems.add(state.hardware[serial].system_id)
    return state


def all_systems(tx: ReadTx, state: OrgState, seq: int | None) -> OrgState:
    """``state`` with every system of the organization and its units, as at ``seq``."""
    after: str | None = None
    while True:
        state, ids = _parts.systems_page(tx, state, seq=seq, after=after, limit=1000)
        if not ids:
            return state
        after = ids[-1]


def upgrade_legacy(
    backend: Backend, catalog: Catalog, retrying: Callable[[Callable[[], None]], None]
) -> None:
    """Convert organizations stored in the first format (one whole state per command).

    Each of its versions becomes the same version of parts (its ``seq`` and
    instant kept), so queries at a past instant answer as before. Each
    organization converts in one write transaction that holds its lock, so
    processes opening the store at once convert it once (SPEC §5).

    Args:
        backend: the store.
        catalog: the catalog whose license types recount the device totals.
        retrying: runs an attempt again while it loses races (R13).

    Raises:
        StorageError: an organization holds states of both formats, or the backend failed.
        ConcurrencyConflict: other processes kept the store busy.
    """

    def pending() -> list[str]:
        with backend.read() as tx:
            return tx.legacy_orgs()

    found: list[str] = []
    retrying(lambda: found.extend(pending()))
    for org_id in found:

        def attempt(org_id: str = org_id) -> None:
            with backend.write() as tx:
                head = tx.lock(org_id)
                rows = tx.legacy_states(org_id)
                if head is None or not rows:
                    return
                if head.seq != 0:
                    raise StorageError(
                        f"organization {org_id!r} holds states of both storage formats",
                        details={"org_id": org_id},
                    )
                previous: OrgState | None = None
                for row in rows:
                    state = engine.recount_devices(loads(row.state, OrgState), catalog)
                    version = Head(org_id, row.seq, row.at_us)
                    tx.append(version, _parts.changed(previous, state), ())
                    previous = state
                tx.drop_legacy(org_id)

        retrying(attempt)
