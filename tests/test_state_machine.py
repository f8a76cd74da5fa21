"""The ledger state machine over every backend, and proof that it can fail (SPEC §5).

``axis_licensing.testing.machine`` drives the public Manager API at random and
checks conservation, expiry order, credit and period dates against a plain
model after every step. It runs here on memory, SQLite (a fresh file per
example) and PostgreSQL (a fresh schema per example). The second half breaks a
Manager on purpose, in four different ways, and requires hypothesis to find
each break.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from axis_licensing import (
    EXAMPLE_CATALOG,
    Allocation,
    Catalog,
    Counts,
    LicenseKind,
    LicenseType,
    LicensingError,
    Lot,
    Manager,
    ManualClock,
    ProductSpec,
)
from axis_licensing.policy import engine
from axis_licensing.policy.compensation import credit_back
from axis_licensing.policy.lots import expires_on
from axis_licensing.testing.machine import (
    LedgerInvariantError,
    LedgerMachine,
    make_ledger_machine,
)
from conftest import POSTGRES_URL, require_postgres

#: Two products: the example one (1-year term, 100 % growth, universal covers core) and a
#: 5-year one with 50 % growth, unequal trial and grace windows, and a covers cycle.
MACHINE_CATALOG = Catalog(
    products=(
        EXAMPLE_CATALOG.product("acs-pro"),
        ProductSpec(
            "fleet",
            "Fleet",
            term_years=5,
            growth_rate=Fraction(1, 2),
            trial_days=14,
            grace_days=45,
            license_types=(
                LicenseType("cam"),
                LicenseType("edge", covers=("cam", "door")),
                LicenseType("door", covers=("edge",)),
            ),
        ),
    )
)

#: One 5-year product with one type and no growth, and a 1-year one whose relation is a
#: chain (a covers b, b covers c; never made transitive) with 200 % growth.
SMALL_CATALOG = Catalog(
    products=(
        ProductSpec("solo", "Solo", term_years=5, growth_rate=Fraction(0)),
        ProductSpec(
            "chain",
            "Chain",
            growth_rate=Fraction(2),
            license_types=(
                LicenseType("a", covers=("b",)),
                LicenseType("b", covers=("c",)),
                LicenseType("c"),
            ),
        ),
    )
)

#: The dev profile's example count (the ci profile raises it), shared out per backend.
BASE_EXAMPLES = settings().max_examples


def machine_settings(max_examples: int, steps: int) -> settings:
    return settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def memory_manager(clock: ManualClock) -> Manager:
    return Manager.open("memory://", catalog=MACHINE_CATALOG, clock=clock)


def test_r5_r6_r8_ledger_machine_on_memory() -> None:
    machine = make_ledger_machine(memory_manager, name="MemoryLedgerMachine")
    run_state_machine_as_test(machine, settings=machine_settings(BASE_EXAMPLES, 40))


def test_r5_r6_r8_ledger_machine_on_memory_with_a_chain_catalog() -> None:
    def small_manager(clock: ManualClock) -> Manager:
        return Manager.open("memory://", catalog=SMALL_CATALOG, clock=clock)

    machine = make_ledger_machine(small_manager, name="ChainLedgerMachine")
    run_state_machine_as_test(machine, settings=machine_settings(BASE_EXAMPLES // 2, 40))


def test_r5_r6_r8_ledger_machine_on_sqlite(tmp_path: Path) -> None:
    files = itertools.count()

    def sqlite_manager(clock: ManualClock) -> Manager:
        path = tmp_path / f"ledger-{next(files)}.db"
        return Manager.open(f"sqlite:///{path}", catalog=MACHINE_CATALOG, clock=clock)

    machine = make_ledger_machine(sqlite_manager, name="SQLiteLedgerMachine")
    run_state_machine_as_test(machine, settings=machine_settings(max(15, BASE_EXAMPLES // 4), 30))
    assert next(files) >= 15  # one fresh file per example


@pytest.fixture
def postgres_schemas() -> Iterator[list[str]]:
    """Names of schemas the test creates; all are dropped afterwards."""
    require_postgres()
    import psycopg

    created: list[str] = []
    yield created
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for schema in created:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_r5_r6_r8_ledger_machine_on_postgresql(postgres_schemas: list[str]) -> None:
    def postgres_manager(clock: ManualClock) -> Manager:
        schema = f"axis_machine_{uuid.uuid4().hex[:12]}"
        postgres_schemas.append(schema)
        joiner = "&" if "?" in POSTGRES_URL else "?"
        url = f"{POSTGRES_URL}{joiner}schema={schema}"
        return Manager.open(url, catalog=MACHINE_CATALOG, clock=clock)

    machine = make_ledger_machine(postgres_manager, name="PostgreSQLLedgerMachine")
    run_state_machine_as_test(machine, settings=machine_settings(max(15, BASE_EXAMPLES // 4), 30))
    assert len(postgres_schemas) >= 15


def test_make_ledger_machine_binds_the_factory() -> None:
    machine = make_ledger_machine(memory_manager, name="Bound")
    assert issubclass(machine, LedgerMachine)
    assert machine.__name__ == "Bound"
    instance = machine()
    try:
        assert instance.manager.catalog == MACHINE_CATALOG
        assert instance.clock.now() is not None
    finally:
        instance.teardown()


# --- the machine must be able to fail ---------------------------------------------------------

#: Generation only (no shrinking), derandomized: each break below is found quickly and
#: deterministically.
HUNT = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)


class LeakyManager(Manager):
    """Broken: every allocation also moves one more license silently to the next period."""

    def allocate(
        self,
        org_id: str,
        product: str,
        quantities: Mapping[str, int],
        *,
        actor: str,
        **options: Any,
    ) -> Allocation:
        result = super().allocate(org_id, product, quantities, actor=actor, **options)
        for license_type in self.wallet(org_id, product).balance():
            try:
                super().allocate(org_id, product, {license_type: 1}, period=1, actor=actor)
            except LicensingError:
                continue
            break
        return result


def leaky_manager(clock: ManualClock) -> Manager:
    backend = Manager.open("memory://", catalog=MACHINE_CATALOG, clock=clock).backend
    return LeakyManager(backend, catalog=MACHINE_CATALOG, clock=clock)


def hunt(factory: type[LedgerMachine]) -> LedgerInvariantError:
    with pytest.raises(LedgerInvariantError) as caught:
        run_state_machine_as_test(factory, settings=HUNT)
    return caught.value


def test_r6_machine_catches_a_license_lost_on_allocation() -> None:
    error = hunt(make_ledger_machine(leaky_manager, name="LeakyMachine"))
    assert "wallet (kind, type, acquired_on, quantity)" in str(error)


def latest_first_take(
    lots: tuple[Lot, ...], kind: LicenseKind, quantities: Mapping[str, int]
) -> tuple[tuple[Lot, ...], Counts, tuple[tuple[int, str, int], ...]]:
    """Broken R6: uses the latest-expiring lots first."""
    ordered = sorted(lots, key=lambda lot: lot.consumption_key, reverse=True)
    available = Counts([(lot.license_type, lot.quantity) for lot in ordered if lot.kind is kind])
    missing = Counts({t: max(0, q - available.get(t, 0)) for t, q in quantities.items()})
    if missing:
        return tuple(lots), missing, ()
    wanted = dict(quantities)
    after: list[Lot] = []
    used: list[tuple[int, str, int]] = []
    for lot in ordered:
        need = wanted.get(lot.license_type, 0) if lot.kind is kind else 0
        drawn = min(need, lot.quantity)
        if drawn:
            wanted[lot.license_type] = need - drawn
            used.append((lot.lot_id, lot.license_type, drawn))
        if lot.quantity > drawn:
            after.append(attrs.evolve(lot, quantity=lot.quantity - drawn))
    return tuple(after), Counts(), tuple(used)


def test_r6_machine_catches_lots_used_latest_expiry_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "take", latest_first_take)
    error = hunt(make_ledger_machine(memory_manager, name="LatestFirstMachine"))
    assert "wallet (kind, type, acquired_on, quantity)" in str(error)


def test_r8_machine_catches_credit_rounded_away(monkeypatch: pytest.MonkeyPatch) -> None:
    def rounding_credit_back(
        credit: Mapping[str, Fraction], shares: Mapping[str, Fraction]
    ) -> tuple[Counts, dict[str, Fraction]]:
        whole, _ = credit_back(credit, shares)
        return whole, {}  # broken: the fraction is lost

    monkeypatch.setattr(engine, "credit_back", rounding_credit_back)
    error = hunt(make_ledger_machine(memory_manager, name="RoundingMachine"))
    assert "credit" in str(error)


def test_r6_machine_catches_lots_that_expire_a_day_late(monkeypatch: pytest.MonkeyPatch) -> None:
    def a_day_late(acquired_on: date) -> date:
        return expires_on(acquired_on) + timedelta(days=1)

    monkeypatch.setattr(engine, "expires_on", a_day_late)
    error = hunt(make_ledger_machine(memory_manager, name="LateExpiryMachine"))
    assert "expir" in str(error)
