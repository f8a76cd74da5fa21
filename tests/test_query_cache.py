"""The queries' kept answers are the answers worked out afresh (SPEC §1, §5).

``status``, ``products``, ``need``, ``wallet`` and ``system_status`` keep their
answer about an organization's head under its version, the catalog version in
effect and the local date (``axis_licensing.shell.loading.Stamp``). These tests
ask one Manager (the cached one) again and again while another Manager on the
same SQLite file runs commands and publishes catalogs, and the clock crosses
local midnights, trial and grace windows, renewals and lot expiries; each answer
must equal the one a third Manager works out with every cache emptied, at
``at=None``, at past instants and at later ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _support import START
from axis_licensing import (
    EXAMPLE_CATALOG,
    Catalog,
    LicenseType,
    LicensingError,
    Manager,
    ManualClock,
    ProductSpec,
    ProductState,
)
from axis_licensing.backends import Backend, Head
from axis_licensing.backends.memory import MemoryBackend
from axis_licensing.shell.loading import ANSWERS_PER_ORG, StateCache

ORG = "org-c"
PRO = "acs-pro"


def _pro(**changes: object) -> ProductSpec:
    fields: dict[str, object] = {
        "code": PRO,
        "name": "AXIS Camera Station Pro",
        "license_types": [LicenseType("core"), LicenseType("universal", covers=("core",))],
        "trial_days": 30,
        "grace_days": 30,
    }
    fields.update(changes)
    return ProductSpec(**fields)  # type: ignore[arg-type]


EDGE = ProductSpec("acs-edge", "AXIS Camera Station Edge", license_types=[LicenseType("door")])
#: The catalog versions published in turn: new terms, then a new product.
VERSIONS = (
    Catalog([_pro()]),
    Catalog([_pro(trial_days=45, growth_rate=Fraction(1, 2))]),
    Catalog([_pro(trial_days=45, growth_rate=Fraction(1, 2)), EDGE]),
    Catalog([_pro(trial_days=60, grace_days=10, growth_rate=2), EDGE]),
)
QUERIES = ("status", "products", "need", "wallet", "system_status")


def _ask(m: Manager, name: str, at: datetime | None) -> object:
    """One query's answer, or its error's type and message."""
    try:
        if name == "status":
            return m.status(ORG, PRO, at=at)
        if name == "products":
            return m.products(ORG, at=at)
        if name == "need":
            return m.need(ORG, PRO, at=at, horizon=2)
        if name == "wallet":
            return m.wallet(ORG, PRO, at=at)
        return m.system_status(ORG, "srv-1", at=at)
    except LicensingError as exc:
        return (type(exc).__name__, str(exc))


def _fresh(m: Manager, name: str, at: datetime | None) -> object:
    """The answer worked out from the store alone: every cached state and answer dropped."""
    m._states.clear()
    return _ask(m, name, at)


class World:
    """Three Managers on one SQLite file with one clock: cached, writer and reference."""

    def __init__(self, path: Path) -> None:
        url = f"sqlite:///{path}"
        self.clock = ManualClock(START)
        self.writer = Manager.open(url, catalog=VERSIONS[0], clock=self.clock)
        self.cached = Manager.open(url, clock=self.clock)
        self.reference = Manager.open(url, clock=self.clock)
        self.published = 1
        self.systems = 0
        self.writer.create_organization(ORG, name="Cached", timezone="Europe/Stockholm", actor="a")

    def close(self) -> None:
        for m in (self.writer, self.cached, self.reference):
            m.close()

    def run(self, step: tuple[str, int]) -> None:
        """One step: a command by the writer, a catalog, or time passing."""
        what, n = step
        w = self.writer
        try:
            if what == "hours":
                self.clock.advance(timedelta(hours=n))
            elif what == "start":
                w.start_subscription(ORG, PRO, actor="a")
            elif what == "register":
                self.systems += 1
                w.register_system(ORG, PRO, f"srv-{self.systems}", devices={"core": n}, actor="a")
            elif what == "report":
                w.report_devices(ORG, "srv-1", {"core": n, "universal": n % 3}, actor="a")
            elif what == "redeem":
                key = w.vendor.issue_key(PRO, quantities={"core": n, "universal": 1})
                w.redeem_key(ORG, key, actor="a")
            elif what == "allocate":
                w.allocate(ORG, PRO, {"core": n}, period=n % 2, actor="a")
            elif what == "publish" and self.published < len(VERSIONS):
                w.vendor.publish_catalog(VERSIONS[self.published])
                self.published += 1
        except LicensingError:
            pass  # a refused command writes nothing

    def instants(self, back_hours: int, ahead_hours: int) -> list[datetime | None]:
        """``at=None``, a past instant (perhaps before the organization), and a later one."""
        now = self.clock.now()
        return [None, now - timedelta(hours=back_hours), now + timedelta(hours=ahead_hours)]

    def check(self, at: datetime | None) -> None:
        """Every query on the cached Manager, twice, equals the reference's fresh answer."""
        for name in QUERIES:
            fresh = _fresh(self.reference, name, at)
            assert _ask(self.cached, name, at) == fresh, (name, at)
            assert _ask(self.cached, name, at) == fresh, (name, at)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    opened = World(tmp_path / "cache.db")
    yield opened
    opened.close()


def test_spec5_a_kept_answer_is_reused_until_the_head_the_day_or_the_catalog_changes(
    world: World,
) -> None:
    for step in (("start", 0), ("register", 4), ("redeem", 10)):
        world.run(step)
    first = world.cached.status(ORG, PRO)
    assert first.state is ProductState.TRIAL
    assert world.cached.status(ORG, PRO) is first  # kept: the same value
    # a command through another Manager, two hours later on the same local date: a new head
    world.clock.advance(timedelta(hours=2))
    world.run(("report", 6))
    second = world.cached.status(ORG, PRO)
    assert second is not first
    assert second.devices == {"core": 6}
    assert world.cached.status(ORG, PRO) is second
    # an hour before it, the same local date: what was true then, not the kept answer
    assert world.cached.status(ORG, PRO, at=START + timedelta(hours=1)).devices == {"core": 4}
    world.check(START + timedelta(hours=1))
    assert world.cached.status(ORG, PRO) is second
    assert world.cached.status(ORG, PRO, at=START + timedelta(hours=3)) is second
    # 11:59 in Stockholm (UTC+1), then past local midnight: a new local date
    world.clock.set(datetime(2026, 1, 1, 22, 59, tzinfo=UTC))
    assert world.cached.status(ORG, PRO) is second
    world.clock.set(datetime(2026, 1, 1, 23, 1, tzinfo=UTC))
    third = world.cached.status(ORG, PRO)
    assert third is not second
    assert third == _fresh(world.reference, "status", None)
    # a catalog version with a longer trial, in effect from now
    world.run(("publish", 0))
    fourth = world.cached.status(ORG, PRO)
    assert fourth is not third
    assert fourth == _fresh(world.reference, "status", None)
    # the last day of the trial, then the first day after it (local dates)
    world.clock.set(datetime(2026, 1, 30, 22, 59, tzinfo=UTC))
    world.check(None)
    world.clock.set(datetime(2026, 1, 31, 23, 1, tzinfo=UTC))
    world.check(None)
    # past instants stay exact: before the catalog, before the report, before the org
    for at in (
        datetime(2026, 1, 1, 23, 30, tzinfo=UTC),
        datetime(2026, 1, 1, 12, 0, 0, 1, tzinfo=UTC),
        datetime(2025, 12, 31, tzinfo=UTC),
    ):
        world.check(at)
    # a wallet handed out twice is two values: changing one never changes the next
    wallet = world.cached.wallet(ORG, PRO)
    wallet.credit["core"] = Fraction(1, 2)
    assert world.cached.wallet(ORG, PRO) == _fresh(world.reference, "wallet", None)
    products = world.cached.products(ORG)
    products.clear()
    assert world.cached.products(ORG) == _fresh(world.reference, "products", None)


def test_spec5_a_clock_behind_the_latest_command_answers_at_that_command(world: World) -> None:
    world.run(("start", 0))
    world.clock.advance(days=3)
    world.run(("register", 2))
    world.clock.set(START)  # set back: "now" is the latest command (SPEC §1)
    world.check(None)
    assert world.cached.status(ORG, PRO) == world.cached.status(
        ORG, PRO, at=START + timedelta(days=3)
    )


def test_spec5_a_kept_answer_is_read_while_a_command_of_the_same_manager_holds_the_store(
    world: World,
) -> None:
    world.run(("start", 0))
    first = world.cached.status(ORG, PRO)
    got: list[object] = []
    asking = threading.Thread(target=lambda: got.append(world.cached.status(ORG, PRO)))
    with world.cached.backend.write():  # as a command holds it, until it commits
        asking.start()
        asking.join(timeout=30)
        assert got == [first]  # answered meanwhile: the head is read on its own connection
    asking.join()


def test_spec5_the_kept_answers_are_bounded_and_an_older_version_never_replaces_a_newer() -> None:
    cache = StateCache(size=2)
    day = START.date()
    for n in range(ANSWERS_PER_ORG + 5):
        cache.keep_answer("a", (3, 1, day), ("status", n), n)
    asked = range(ANSWERS_PER_ORG + 5)
    kept = [n for n in asked if cache.answer("a", (3, 1, day), ("status", n)) is not None]
    assert kept == list(range(5, ANSWERS_PER_ORG + 5))  # the oldest questions dropped
    cache.keep_answer("a", (2, 1, day), ("status", 0), "older")  # a slower query's
    assert cache.answer("a", (2, 1, day), ("status", 0)) is None
    assert cache.answer("a", (3, 1, day), ("status", 9)) == 9
    cache.keep_answer("a", (4, 1, day), ("status", 0), "newer")  # a new head drops the rest
    assert cache.answer("a", (3, 1, day), ("status", 9)) is None
    assert cache.answer("a", (4, 1, day), ("status", 0)) == "newer"
    for org_id in ("b", "c"):  # two organizations at most: the first kept goes
        cache.keep_answer(org_id, (1, 1, day), ("status",), org_id)
    assert cache.answer("a", (4, 1, day), ("status", 0)) is None
    assert [cache.answer(o, (1, 1, day), ("status",)) for o in ("b", "c")] == ["b", "c"]
    cache.clear()
    assert cache.answer("c", (1, 1, day), ("status",)) is None


class _DefaultPeek(MemoryBackend):
    """A backend whose ``peek`` is the interface's default, as a third-party one's may be."""

    def peek(self, org_id: str) -> Head | None:
        return Backend.peek(self, org_id)


def test_spec5_a_backend_without_its_own_peek_reads_in_full_and_keeps_answers() -> None:
    clock = ManualClock(START)
    with Manager(_DefaultPeek(), catalog=EXAMPLE_CATALOG, clock=clock) as m:
        m.create_organization(ORG, name="Plain", actor="a")
        m.start_subscription(ORG, PRO, actor="a")
        first = m.status(ORG, PRO)
        assert m.status(ORG, PRO) is first  # kept, found after the full read
        assert m._peeks is False
        m.register_system(ORG, PRO, "srv-1", devices={"core": 2}, actor="a")
        second = m.status(ORG, PRO)
        assert second.devices == {"core": 2}
        clock.advance(days=40)  # past the trial: another local date
        later = m.status(ORG, PRO)
        assert later.state is not second.state
        m._states.clear()
        assert m.status(ORG, PRO) == later


STEPS = st.one_of(
    st.tuples(st.just("hours"), st.integers(1, 30)),
    st.tuples(st.just("check"), st.integers(0, 3)),
    st.tuples(st.just("hours"), st.integers(24 * 20, 24 * 400)),
    st.tuples(st.just("hours"), st.integers(24 * 1500, 24 * 1900)),  # lots expire after 5 years
    st.tuples(st.sampled_from(["start", "publish"]), st.just(0)),
    st.tuples(st.sampled_from(["register", "report", "redeem", "allocate"]), st.integers(1, 9)),
    st.tuples(st.just("check"), st.integers(0, 24 * 400)),
)


@settings(max_examples=25)
@given(steps=st.lists(STEPS, min_size=1, max_size=14))
def test_spec5_kept_answers_equal_fresh_ones_across_days_commands_and_catalogs(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int]]
) -> None:
    world = World(tmp_path_factory.mktemp("cache") / "cache.db")
    try:
        for step in [("check", 5), *steps, ("check", 30)]:
            if step[0] == "check":
                for at in world.instants(back_hours=step[1], ahead_hours=step[1] * 3 + 1):
                    world.check(at)
            else:
                world.run(step)
    finally:
        world.close()
