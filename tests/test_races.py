"""R13 under real concurrency: OS processes racing on one SQLite file or one PostgreSQL schema.

Each race runs N spawned processes (a warm pool, started once per module) that
wait for one common instant, then hammer one store. A checker turns what the
processes saw and what the store holds into a list of anomalies; the real
backends must give none.

The checkers are proved able to fail: the same races run against
a deliberately broken subclass of each backend (registered by a plugin
under its own ``lostupdate+`` schemes) that reads in one transaction, pauses,
and writes in another, without any lock. The checkers must report its lost
updates, over-allocations and double redemptions (issue 4).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager as ContextManager
from pathlib import Path
from typing import Any

import attrs
import pytest

from _support import START
from axis_licensing import EXAMPLE_CATALOG, LicenseKind, Manager, ManualClock, backends, hookimpl
from axis_licensing._parts import stored_versions
from axis_licensing.backends.sqlite import SQLiteBackend
from axis_licensing.errors import InsufficientLicenses, KeyAlreadyRedeemed, LicensingError
from axis_licensing.policy.state import OrgState

pytestmark = pytest.mark.slow

SPAWN = multiprocessing.get_context("spawn")
PRODUCT = "acs-pro"
#: The period start: allocations to the current period get no compensation (R8).
#: The most processes any race uses (PostgreSQL: 8).
POOL_SIZE = 8
#: Seconds between submitting a race and its common start instant.
START_DELAY = 0.5
#: Seconds the broken backend waits between its read and its write.
BROKEN_PAUSE = 0.004
BROKEN = "lostupdate+"
#: Seconds of random pause before each allocation, so that processes interleave.
JITTER = 0.002


# -- the deliberately broken control backend ------------------------------------------------


class _UnlockedTx(backends.WriteTx):
    """Every call is its own short transaction; reads pause before answering.

    ``lock`` takes no lock, ``append`` writes the next version after whatever
    is there now (last writer wins), and ``redeem_key`` trusts the earlier
    read instead of its own conditional update: the classic read-then-write
    races that R13 forbids.
    """

    def __init__(
        self,
        write: Callable[[], ContextManager[backends.WriteTx]],
        read: Callable[[], ContextManager[backends.ReadTx]],
    ) -> None:
        self._write = write
        self._read = read

    def _paused(self) -> None:
        time.sleep(BROKEN_PAUSE)

    def head(self, org_id: str) -> backends.Head | None:
        with self._read() as tx:
            return tx.head(org_id)

    def seq_at(self, org_id: str, at_us: int) -> int | None:
        with self._read() as tx:
            return tx.seq_at(org_id, at_us)

    def parts(
        self, org_id: str, names: Sequence[str], seq: int | None = None
    ) -> list[backends.PartRow]:
        with self._read() as tx:
            return tx.parts(org_id, names, seq)

    def parts_prefixed(self, org_id: str, prefix: str, **page: Any) -> list[backends.PartRow]:
        with self._read() as tx:
            return tx.parts_prefixed(org_id, prefix, **page)

    def legacy_orgs(self) -> list[str]:
        with self._read() as tx:
            return tx.legacy_orgs()

    def legacy_states(self, org_id: str) -> list[backends.StateRow]:
        with self._read() as tx:
            return tx.legacy_states(org_id)

    def drop_legacy(self, org_id: str) -> None:
        with self._write() as tx:
            tx.drop_legacy(org_id)

    def history(
        self, org_id: str, query: backends.HistoryQuery, limit: int | None, offset: int
    ) -> list[backends.ActivityRow]:
        with self._read() as tx:
            return tx.history(org_id, query, limit, offset)

    def count_history(self, org_id: str, query: backends.HistoryQuery) -> int:
        with self._read() as tx:
            return tx.count_history(org_id, query)

    def key(self, key_hash: str) -> backends.KeyRow | None:
        with self._read() as tx:
            row = tx.key(key_hash)
        self._paused()
        return row

    def shipment(self, serial: str) -> backends.ShipmentRow | None:
        with self._read() as tx:
            return tx.shipment(serial)

    def system_owner(self, system_id: str) -> str | None:
        with self._read() as tx:
            return tx.system_owner(system_id)

    def request(self, scope: str, request_id: str) -> backends.RequestRow | None:
        with self._read() as tx:
            row = tx.request(scope, request_id)
        self._paused()
        return row

    def meta(self, name: str) -> str | None:
        with self._read() as tx:
            return tx.meta(name)

    def catalogs(self, after: int = 0) -> list[backends.CatalogRow]:
        with self._read() as tx:
            return tx.catalogs(after)

    def org_ids(self, limit: int | None, offset: int) -> list[str]:
        with self._read() as tx:
            return tx.org_ids(limit, offset)

    def insert_catalog(self, row: backends.CatalogRow) -> bool:
        with self._write() as tx:
            return tx.insert_catalog(row)

    def lock(self, org_id: str) -> backends.Head | None:
        row = self.head(org_id)
        self._paused()
        return row

    def create_org(self, org_id: str) -> bool:
        with self._write() as tx:
            return tx.create_org(org_id)

    def append(
        self,
        version: backends.Head,
        parts: Sequence[tuple[str, str]],
        activities: Iterable[backends.ActivityRow],
    ) -> None:
        with self._write() as tx:
            head = tx.head(version.org_id)
            seq = 1 if head is None else head.seq + 1
            tx.append(attrs.evolve(version, seq=seq), parts, activities)

    def claim_system(self, system_id: str, org_id: str) -> bool:
        with self._write() as tx:
            return tx.claim_system(system_id, org_id)

    def claim_hardware(self, serial: str, org_id: str) -> bool:
        with self._write() as tx:
            return tx.claim_hardware(serial, org_id)

    def insert_key(self, row: backends.KeyRow) -> None:
        with self._write() as tx:
            tx.insert_key(row)

    def redeem_key(self, key_hash: str, org_id: str, at_us: int) -> bool:
        with self._write() as tx:
            tx.redeem_key(key_hash, org_id, at_us)
        return True  # the bug: the earlier read said "not redeemed"

    def insert_shipment(self, row: backends.ShipmentRow) -> bool:
        with self._write() as tx:
            return tx.insert_shipment(row)

    def put_request(self, row: backends.RequestRow) -> None:
        with self._write() as tx:
            tx.put_request(row)

    def insert_meta(self, name: str, value: str) -> bool:
        with self._write() as tx:
            return tx.insert_meta(name, value)


class LostUpdateSQLite(SQLiteBackend):
    """``lostupdate+sqlite:///PATH``: the SQLite backend, with unlocked writes."""

    def __init__(self, url: str) -> None:
        super().__init__(url.removeprefix(BROKEN))

    def write(self) -> ContextManager[backends.WriteTx]:
        return contextlib.nullcontext(_UnlockedTx(super().write, self.read))


def lost_update_postgresql(url: str) -> backends.Backend:
    """``lostupdate+postgresql://…``: the PostgreSQL backend, with unlocked writes."""
    from axis_licensing.backends.postgresql import PostgreSQLBackend

    class LostUpdatePostgreSQL(PostgreSQLBackend):
        def write(self) -> ContextManager[backends.WriteTx]:
            return contextlib.nullcontext(_UnlockedTx(super().write, self.read))

    return LostUpdatePostgreSQL(url.removeprefix(BROKEN))


class LostUpdatePlugin:
    """Registers the broken backend under ``lostupdate+sqlite`` and ``lostupdate+postgresql``."""

    @hookimpl
    def axis_licensing_register_backends(self, registry: backends.BackendRegistry) -> None:
        registry.add(BROKEN + "sqlite", LostUpdateSQLite)
        registry.add(BROKEN + "postgresql", lost_update_postgresql)


def open_manager(url: str) -> Manager:
    """A Manager on ``url`` at START; the broken schemes are known too."""
    return Manager.open(
        url, catalog=EXAMPLE_CATALOG, clock=ManualClock(START), plugins=[LostUpdatePlugin()]
    )


# -- what runs in the worker processes -------------------------------------------------------


def _warm(hold: float) -> int:
    time.sleep(hold)
    return os.getpid()


def _wait_until(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


def _outcome(exc: LicensingError) -> str:
    if isinstance(exc, InsufficientLicenses):
        return "short"
    if isinstance(exc, KeyAlreadyRedeemed):
        return "already"
    return f"error:{type(exc).__name__}"


def allocate_task(url: str, org_id: str, attempts: int, start_at: float) -> dict[str, Any]:
    """Try ``attempts`` allocations of one core license; count the outcomes."""
    with open_manager(url) as m:
        outcomes: Counter[str] = Counter()
        _wait_until(start_at)
        for _ in range(attempts):
            time.sleep(random.uniform(0, JITTER))
            try:
                m.allocate(org_id, PRODUCT, {"core": 1}, actor=f"pid{os.getpid()}")
                outcomes["ok"] += 1
            except LicensingError as exc:
                outcomes[_outcome(exc)] += 1
    return {"pid": os.getpid(), "outcomes": dict(outcomes)}


def redeem_task(url: str, org_id: str, keys: list[str], start_at: float) -> dict[str, Any]:
    """Try to redeem every key, in the given order; one outcome per key."""
    with open_manager(url) as m:
        outcomes: list[str] = []
        _wait_until(start_at)
        for key in keys:
            try:
                m.redeem_key(org_id, key, actor=f"pid{os.getpid()}")
                outcomes.append("won")
            except LicensingError as exc:
                outcomes.append(_outcome(exc))
    return {"pid": os.getpid(), "outcomes": outcomes}


def idempotent_task(
    url: str, org_id: str, keys: list[str], allocations: int, start_at: float
) -> dict[str, Any]:
    """Redeem ``keys[j]`` with request id ``key-j``, then allocate with ``alloc-j``."""
    with open_manager(url) as m:
        redeemed: list[str] = []
        allocated: list[str] = []
        _wait_until(start_at)
        for j, key in enumerate(keys):
            try:
                redeemed.append(repr(m.redeem_key(org_id, key, actor="a", request_id=f"key-{j}")))
            except LicensingError as exc:
                redeemed.append(_outcome(exc))
        for j in range(allocations):
            try:
                result = m.allocate(
                    org_id, PRODUCT, {"core": 1}, actor="a", request_id=f"alloc-{j}"
                )
                allocated.append(repr(result))
            except LicensingError as exc:
                allocated.append(_outcome(exc))
    return {"pid": os.getpid(), "redeemed": redeemed, "allocated": allocated}


# -- fixtures ----------------------------------------------------------------------------------


def warm_up(executor: ProcessPoolExecutor) -> None:
    """Wait until all POOL_SIZE worker processes run (busy workers make the pool start more)."""
    pids: set[int] = set()
    while len(pids) < POOL_SIZE:
        futures = [executor.submit(_warm, 0.2) for _ in range(POOL_SIZE)]
        pids |= {f.result(timeout=120) for f in futures}


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    """POOL_SIZE spawned worker processes, started and warmed once."""
    with ProcessPoolExecutor(max_workers=POOL_SIZE, mp_context=SPAWN) as executor:
        warm_up(executor)
        yield executor


@attrs.frozen
class Store:
    """One fresh store for a race, and how many processes race on it."""

    url: str
    processes: int

    @property
    def broken(self) -> Store:
        """The same store behind the deliberately broken backend."""
        return Store(BROKEN + self.url, self.processes)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A fresh SQLite file (6 processes) or PostgreSQL schema (8 processes)."""
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'race.db'}", 6)
    url: str = request.getfixturevalue("postgres_url")
    return Store(f"{url}&pool_size=2", 8)


def run_race(
    pool: ProcessPoolExecutor, task: Callable[..., dict[str, Any]], calls: list[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    """Run ``task(*args, start_at)`` for each ``args`` in its own process, all from one instant."""
    assert len(calls) <= POOL_SIZE
    start_at = time.time() + START_DELAY
    futures = [pool.submit(task, *args, start_at) for args in calls]
    results = [f.result(timeout=300) for f in futures]
    pids = {r["pid"] for r in results}
    assert len(pids) == len(calls), "two racers shared a process"
    return results


# -- setup and checkers -------------------------------------------------------------------------


def setup_orgs(m: Manager, orgs: Iterable[str], stock: int) -> None:
    """Create started organizations; redeem ``stock`` core licenses into each (if > 0)."""
    for org in orgs:
        m.create_organization(org, name=org, actor="setup")
        m.start_subscription(org, PRODUCT, actor="setup")
        if stock:
            key = m.vendor.issue_key(PRODUCT, quantities={"core": stock})
            m.redeem_key(org, key, actor="setup")


def versions(m: Manager, org_id: str) -> list[OrgState]:
    """Every stored version of the organization's own state, in order."""
    return [state for _, state in stored_versions(m.backend, org_id)]


def allocation_anomalies(
    m: Manager, org_id: str, stock: int, results: list[dict[str, Any]], attempts: int
) -> list[str]:
    """What went wrong in an allocation race from a wallet of ``stock`` core licenses."""
    found: list[str] = []
    totals: Counter[str] = Counter()
    for r in results:
        totals.update(r["outcomes"])
        if sum(r["outcomes"].values()) != attempts:
            found.append(f"process {r['pid']} reported {r['outcomes']}")
    wins = totals["ok"]
    if set(totals) - {"ok", "short"}:
        found.append(f"unexpected errors: {dict(totals)}")
    if wins > stock:
        found.append(f"over-allocation: {wins} allocations succeeded from a stock of {stock}")
    elif wins < stock:
        found.append(f"under-allocation: only {wins} of {stock} allocations succeeded")
    balance = m.wallet(org_id, PRODUCT).balance()
    if balance != {}:
        found.append(f"the wallet ends at {dict(balance)}, not empty")
    allocated = m.status(org_id, PRODUCT).allocated
    if allocated != {"core": stock}:
        found.append(f"lost update: {dict(allocated)} allocated, expected core={stock}")
    if allocated.get("core", 0) != wins:
        found.append(f"lost update: {wins} successes but {dict(allocated)} allocated")
    rows = m.history(org_id, actions=["licenses_allocated"])
    if len(rows) != stock:
        found.append(f"{len(rows)} licenses_allocated activities, expected {stock}")
    # Replay every stored version: one license more per allocation, never a negative lot.
    stored = versions(m, org_id)
    seen = [s.ledger(PRODUCT).allocated_total.get("core", 0) for s in stored]
    steps = [n for n in seen if n]
    if steps != list(range(1, len(steps) + 1)):
        repeats = sorted(n for n, c in Counter(steps).items() if c > 1)
        found.append(f"lost updates: versions repeat allocated totals {repeats[:10]}")
    for state in stored:
        ledger = state.ledger(PRODUCT)
        if any(lot.quantity < 0 for lot in ledger.lots):
            found.append(f"a negative lot in {ledger.lots}")
        held = ledger.balance(LicenseKind.SUBSCRIPTION) + ledger.allocated_total
        if ledger.redeemed.subscription and held != ledger.redeemed.subscription:
            found.append(f"conservation broken: {dict(held)} != {ledger.redeemed.subscription}")
            break
    return found


def redemption_anomalies(
    m: Manager, orgs_of: list[str], keys: int, quantity: int, results: list[dict[str, Any]]
) -> list[str]:
    """What went wrong when processes (in the orgs ``orgs_of``) raced to redeem ``keys`` keys."""
    found: list[str] = []
    won_by: Counter[str] = Counter()
    for j in range(keys):
        outcomes = [r["outcomes"][j] for r in results]
        winners = [org for org, o in zip(orgs_of, outcomes, strict=True) if o == "won"]
        if len(winners) != 1:
            found.append(f"key {j}: {len(winners)} winners {winners}")
        if sorted(set(outcomes) - {"won"}) not in ([], ["already"]):
            found.append(f"key {j}: losers saw {sorted(set(outcomes))}")
        won_by.update(winners)
    for org in sorted(set(orgs_of)):
        balance = m.wallet(org, PRODUCT).balance()
        if balance.get("core", 0) != quantity * won_by[org]:
            found.append(f"{org} holds {dict(balance)} after {won_by[org]} wins of {quantity}")
        rows = m.history(org, actions=["key_redeemed"])
        if len(rows) != won_by[org]:
            found.append(f"{org}: {len(rows)} key_redeemed activities, {won_by[org]} wins")
    redeemed = [r for r in m.backend.export_rows("keys") if r["redeemed_by"] is not None]
    if len(redeemed) != keys:
        found.append(f"{len(redeemed)} keys marked redeemed, expected {keys}")
    return found


# -- the races -----------------------------------------------------------------------------------


def allocation_race(pool: ProcessPoolExecutor, store: Store) -> tuple[list[str], int]:
    """R13: N processes allocate one license at a time from one wallet.

    Returns what went wrong, and how often consecutive allocations came from
    different processes (a race with no interleaving would prove little).
    """
    stock, attempts = 20 * store.processes, 30
    with open_manager(store.url) as m:
        setup_orgs(m, ["race"], stock)
        results = run_race(pool, allocate_task, [(store.url, "race", attempts)] * store.processes)
        actors = [a.actor for a in m.history("race", actions=["licenses_allocated"])]
        switches = sum(1 for a, b in itertools.pairwise(actors) if a != b)
        return allocation_anomalies(m, "race", stock, results, attempts), switches


def test_r13_racing_allocations_take_exactly_the_stock(
    pool: ProcessPoolExecutor, store: Store
) -> None:
    anomalies, switches = allocation_race(pool, store)
    assert anomalies == []
    assert switches >= 10, "the processes hardly interleaved"


def test_r13_race_checker_catches_lost_updates(pool: ProcessPoolExecutor, store: Store) -> None:
    anomalies, _ = allocation_race(pool, store.broken)
    assert any(a.startswith("over-allocation") for a in anomalies), anomalies
    assert any(a.startswith("lost update") for a in anomalies), anomalies


def redemption_race(pool: ProcessPoolExecutor, store: Store) -> list[str]:
    """R1, R10, R13: processes in several orgs (two per org) race to redeem the same keys."""
    count, quantity = 12, 5
    orgs_of = [f"org-{i // 2}" for i in range(store.processes)]
    with open_manager(store.url) as m:
        setup_orgs(m, sorted(set(orgs_of)), 0)
        keys = [m.vendor.issue_key(PRODUCT, quantities={"core": quantity}) for _ in range(count)]
        results = run_race(pool, redeem_task, [(store.url, org, keys) for org in orgs_of])
        return redemption_anomalies(m, orgs_of, count, quantity, results)


def test_r10_racing_redemptions_have_one_winner_per_key(
    pool: ProcessPoolExecutor, store: Store
) -> None:
    assert redemption_race(pool, store) == []


def test_r10_race_checker_catches_double_redemption(
    pool: ProcessPoolExecutor, store: Store
) -> None:
    anomalies = redemption_race(pool, store.broken)
    assert any("winners" in a for a in anomalies), anomalies


def idempotency_race(pool: ProcessPoolExecutor, store: Store) -> list[str]:
    """R13: processes of two orgs repeat the same request ids at once; one effect per id and org.

    Both orgs race for the same keys with the same request ids (request ids are
    scoped per organization, so the orgs compete and the processes of one org
    share the result), then allocate their whole stock with shared request ids.
    """
    count, quantity, allocations = 6, 5, 12
    orgs = ["idem-0", "idem-1"]
    orgs_of = [orgs[i % 2] for i in range(store.processes)]
    found: list[str] = []
    with open_manager(store.url) as m:
        setup_orgs(m, orgs, allocations)
        keys = [m.vendor.issue_key(PRODUCT, quantities={"core": quantity}) for _ in range(count)]
        results = run_race(
            pool, idempotent_task, [(store.url, org, keys, allocations) for org in orgs_of]
        )
        groups = {
            org: [r for r, o in zip(results, orgs_of, strict=True) if o == org] for org in orgs
        }
        won: Counter[str] = Counter()
        for j in range(count):
            by_org = {org: {r["redeemed"][j] for r in groups[org]} for org in orgs}
            winners = [org for org in orgs if by_org[org] != {"already"}]
            if len(winners) != 1 or any(len(seen) != 1 for seen in by_org.values()):
                found.append(f"key-{j}: {by_org}")
            won.update(winners)
        for org in orgs:
            for j in range(allocations):
                seen = {r["allocated"][j] for r in groups[org]}
                if len(seen) != 1 or not next(iter(seen)).startswith("Allocation("):
                    found.append(f"{org} alloc-{j}: {sorted(seen)}")
            allocated = m.status(org, PRODUCT).allocated
            if allocated != {"core": allocations}:
                found.append(f"{org}: {dict(allocated)} allocated, expected core={allocations}")
            rows = m.history(org, actions=["licenses_allocated"])
            if len(rows) != allocations:
                found.append(f"{org}: {len(rows)} licenses_allocated, expected {allocations}")
            balance = m.wallet(org, PRODUCT).balance()
            if balance != ({"core": quantity * won[org]} if won[org] else {}):
                found.append(f"{org}: wallet {dict(balance)} after {won[org]} keys")
            redeemed = len(m.history(org, actions=["key_redeemed"])) - 1  # less the setup key
            if redeemed != won[org]:
                found.append(f"{org}: {redeemed} key_redeemed activities, {won[org]} keys won")
    return found


def test_r13_shared_request_ids_have_one_effect(pool: ProcessPoolExecutor, store: Store) -> None:
    assert idempotency_race(pool, store) == []


def test_r13_race_checker_catches_repeated_effects(pool: ProcessPoolExecutor, store: Store) -> None:
    anomalies = idempotency_race(pool, store.broken)
    assert any("allocated, expected" in a for a in anomalies), anomalies
