"""Drive the policy engine as ``Manager._command`` does: advance to the day, then decide.

Shared by the policy tests; a plain module (tests/ has no package), imported by name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from axis_licensing import (
    Allocation,
    Catalog,
    Counts,
    LicenseKind,
    NeedReport,
    ProductStatus,
    Redemption,
    SystemStatus,
    Wallet,
)
from axis_licensing.policy import engine, status
from axis_licensing.policy.state import Fact, OrgState
from axis_licensing.shell.history import details_of

__all__ = ["Org", "ctx", "d", "details"]

T = TypeVar("T")
SUB = LicenseKind.SUBSCRIPTION


def d(text: str) -> date:
    return date.fromisoformat(text)


def details(fact: Fact) -> dict[str, Any]:
    """The ``details`` the history stores for ``fact``: its typed data through the converter."""
    return details_of(fact.data)


def ctx(day: date, actor: str = "alice") -> engine.Context:
    return engine.Context(
        at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC), on=day, actor=actor
    )


class Org:
    """One organization driven through the engine as ``Manager._command`` does."""

    def __init__(self, created: date, catalog: Catalog) -> None:
        outcome = engine.create_organization(
            ctx(created), org_id="org-1", name="Org", timezone="UTC"
        )
        self.catalog = catalog
        self.state: OrgState = outcome.state
        self.facts: list[Fact] = list(outcome.facts)

    def run(
        self, day: date, command: Callable[..., engine.Outcome[T]], actor: str = "alice", **kw: Any
    ) -> T:
        advanced, pending = engine.advance(self.state, self.catalog, day)
        outcome = command(advanced, self.catalog, ctx(day, actor), **kw)
        self.state = outcome.state
        self.facts.extend((*pending, *outcome.facts))
        return outcome.result

    # commands

    def start(self, day: date, product: str = "acs-pro") -> None:
        self.run(day, engine.start_subscription, product=product)

    def system(
        self, day: date, system_id: str, devices: dict[str, int], product: str = "acs-pro"
    ) -> None:
        self.run(day, engine.register_system, product=product, system_id=system_id, devices=devices)

    def report(self, day: date, system_id: str, devices: dict[str, int]) -> None:
        self.run(day, engine.report_devices, system_id=system_id, devices=devices)

    def redeem(
        self,
        day: date,
        quantities: dict[str, int],
        product: str = "acs-pro",
        kind: LicenseKind = SUB,
    ) -> Redemption:
        return self.run(
            day, engine.redeem, product=product, kind=kind, quantities=quantities, key_tail="WXYZ"
        )

    def allocate(
        self, day: date, quantities: dict[str, int], offset: int = 0, product: str = "acs-pro"
    ) -> Allocation:
        return self.run(day, engine.allocate, product=product, quantities=quantities, offset=offset)

    def allocate_need(self, day: date, through: int = 0, product: str = "acs-pro") -> Allocation:
        return self.run(day, engine.allocate_need, product=product, through=through)

    def hardware(
        self, day: date, system_id: str, serial: str, preloaded: dict[str, int], product: str
    ) -> None:
        shipment = engine.Shipment(serial=serial, product=product, preloaded=Counts(preloaded))
        self.run(day, engine.register_hardware, system_id=system_id, shipment=shipment)

    def to_hardware(self, day: date, serial: str, quantities: dict[str, int]) -> None:
        self.run(day, engine.allocate_to_hardware, serial=serial, quantities=quantities)

    # queries

    def view(self, day: date) -> OrgState:
        return engine.advance(self.state, self.catalog, day)[0]

    def status(self, day: date, product: str = "acs-pro") -> ProductStatus:
        return status.product_status(self.view(day), self.catalog.product(product), day)

    def need(self, day: date, horizon: int = 5, product: str = "acs-pro") -> NeedReport:
        return status.need_report(self.view(day), self.catalog.product(product), day, horizon)

    def wallet(self, day: date, product: str = "acs-pro") -> Wallet:
        return status.wallet_view(self.view(day), product, day)

    def system_status(self, day: date, system_id: str) -> SystemStatus:
        state = self.view(day)
        return status.system_status(state, self.catalog, state.systems[system_id], day)

    def actions(self, action: str) -> list[Fact]:
        return [f for f in self.facts if f.action == action]
