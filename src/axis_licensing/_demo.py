"""The scripted multi-year scenario behind ``axis-licensing demo``.

:func:`run_demo` drives a :class:`~axis_licensing.Manager` with a
:class:`~axis_licensing.ManualClock` through five years of one organization's
life and returns one :class:`DemoStep` per step, holding the typed results
(statuses, wallets, allocations, …). The CLI renders them; tests check them
without parsing text.

The steps, with the rules they show:

1. ``trial``: acs-pro starts, the 30-day trial runs to 2026-01-31 (R2, R3).
2. ``redeem``: a key fills the wallet, one lot per type, expiring in 5 years (R6, R10).
3. ``allocate``: "Confirm allocation" licenses the period (R5, R7).
4. ``growth``: devices grow beyond the 100 % allowance: a warning, not a cut-off (R4, R5).
5. ``second-product``: acs-analytics starts mid-period, in a partial first period (R2, R3).
6. ``compensation``: its allocation gets the overlap back, 4 licenses and 72/73 credit (R8).
7. ``grace``: the next period begins in grace (R3).
8. ``renewal``: a new key, and the need is allocated (R7).
9. ``advance``: the two following periods are paid ahead (R5 ``licensed_through``, R7).
10. ``expiry``: five years on, the first key's unused lots expire (R6).
11. ``history``: the whole activity history (R11).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from axis_licensing._time import ManualClock
from axis_licensing.catalog import EXAMPLE_CATALOG, Catalog, LicenseType, ProductSpec
from axis_licensing.manager import Manager
from axis_licensing.model import (
    Activity,
    Allocation,
    NeedReport,
    ProductStatus,
    Redemption,
    Wallet,
)

__all__ = [
    "DEMO_CATALOG",
    "DEMO_ORG",
    "DEMO_START",
    "STEP_KEYS",
    "DemoRun",
    "DemoStep",
    "run_demo",
]

#: The demo's catalog: the example's acs-pro, plus acs-analytics for the compensation step.
DEMO_CATALOG = Catalog(
    products=[
        *EXAMPLE_CATALOG.products,
        ProductSpec(
            "acs-analytics", "AXIS Camera Station Analytics", license_types=[LicenseType("core")]
        ),
    ]
)

#: The organization the demo creates.
DEMO_ORG = "demo-org"
#: The demo's first instant; every step runs at 12:00 UTC (13:00 or 14:00 in Stockholm).
DEMO_START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

#: The steps' keys, in order.
STEP_KEYS = (
    "trial",
    "redeem",
    "allocate",
    "growth",
    "second-product",
    "compensation",
    "grace",
    "renewal",
    "advance",
    "expiry",
    "history",
)

_ACTOR = "alice"
_PRO = "acs-pro"
_ANALYTICS = "acs-analytics"


@attrs.frozen
class DemoStep:
    """One step of the demo: what happened, when, and the results to show.

    Attributes:
        key: a stable name for the step (``trial``, ``growth``, ``expiry``, …).
        title: a one-line headline.
        at: the clock's instant when the step ran.
        notes: sentences explaining the step, with its numbers.
        statuses: product statuses read after the step.
        redemptions: keys redeemed in the step.
        allocations: allocations made in the step.
        wallets: wallets read after the step (for ``expiry``: before, then after).
        wallets_at: the instant each wallet was read at (its ``at``).
        need: a need report read after the step.
        activities: history entries the step points at.
    """

    key: str
    title: str
    at: datetime
    notes: tuple[str, ...] = ()
    statuses: tuple[ProductStatus, ...] = ()
    redemptions: tuple[Redemption, ...] = ()
    allocations: tuple[Allocation, ...] = ()
    wallets: tuple[Wallet, ...] = ()
    wallets_at: tuple[datetime, ...] = ()
    need: NeedReport | None = None
    activities: tuple[Activity, ...] = ()


@attrs.frozen
class DemoRun:
    """The whole demo: where it ran and its steps, in order."""

    url: str
    org_id: str
    steps: tuple[DemoStep, ...]

    def step(self, key: str) -> DemoStep:
        """The step named ``key``.

        Raises:
            KeyError: no step has that name.
        """
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)


def _at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, 0, tzinfo=UTC)


def run_demo(url: str, *, on_step: Callable[[DemoStep], None] | None = None) -> DemoRun:  # noqa: PLR0915  one linear story
    """Run the scenario on an empty store at ``url`` and return its steps.

    Args:
        url: a backend URL whose store is empty (``sqlite:///…``, ``memory://``, …).
        on_step: called with each step as soon as it is done (the CLI prints it).

    Returns:
        The steps, in order.

    Raises:
        AlreadyExists: the store already holds the demo organization.
        LicensingError: any other failure of the library (a bug, or a broken store).
    """
    clock = ManualClock(DEMO_START)
    steps: list[DemoStep] = []

    def emit(key: str, title: str, **shown: Any) -> None:
        """Record the step ``key``, at the clock's instant, with what it shows."""
        step = DemoStep(key=key, title=title, at=clock.now(), **shown)
        steps.append(step)
        if on_step is not None:
            on_step(step)

    org = DEMO_ORG
    with Manager.open(url, catalog=DEMO_CATALOG, clock=clock) as m:
        # 1. trial -----------------------------------------------------------------------
        vendor = m.vendor
        first_key = vendor.issue_key(_PRO, quantities={"core": 40, "universal": 5, "door": 10})
        second_key = vendor.issue_key(_PRO, quantities={"core": 50, "door": 10})
        analytics_key = vendor.issue_key(_ANALYTICS, quantities={"core": 10})
        m.create_organization(org, name="Demo AB", timezone="Europe/Stockholm", actor=_ACTOR)
        m.register_system(org, _PRO, "vms-1", devices={"core": 8, "door": 2}, actor=_ACTOR)
        m.start_subscription(org, _PRO, actor=_ACTOR)
        trial = m.status(org, _PRO)
        emit(
            "trial",
            "acs-pro starts: a 30-day trial (R2, R3)",
            notes=(
                "The vendor issues three keys. Demo AB (Europe/Stockholm) registers vms-1 "
                "with 8 core and 2 door devices and starts acs-pro on 2026-01-01.",
                "That sets the organization's anchor: periods run 1 January to 1 January.",
                f"The trial window ends on {trial.window_ends_on} (the first day outside it).",
            ),
            statuses=(trial,),
        )

        # 2. redeem ----------------------------------------------------------------------
        clock.set(_at(2026, 1, 15))
        redemption = m.redeem_key(org, first_key, actor=_ACTOR)
        emit(
            "redeem",
            "A key goes into the wallet (R6, R10)",
            notes=(
                f"The key ending in {redemption.key_tail} adds one lot per license type.",
                "Each lot expires five years after the redemption date, on "
                f"{redemption.lots[0].expires_on}.",
            ),
            redemptions=(redemption,),
            wallets=(m.wallet(org, _PRO),),
            wallets_at=(clock.now(),),
        )

        # 3. allocate --------------------------------------------------------------------
        allocation = m.allocate_need(org, _PRO, actor=_ACTOR)
        licensed = m.status(org, _PRO)
        emit(
            "allocate",
            "Confirm allocation: the period is licensed (R5, R7)",
            notes=(
                "allocate_need moves the exact shortfall, 8 core and 2 door, to the current "
                "period. It covers the devices, so the period locks.",
                "The trial began with the period, so the overlap is 0 days: no compensation.",
                f"acs-pro is {licensed.state.name}, licensed through {licensed.licensed_through}.",
            ),
            allocations=(allocation,),
            statuses=(licensed,),
        )

        # 4. growth ----------------------------------------------------------------------
        clock.set(_at(2026, 5, 4))
        m.report_devices(org, "vms-1", {"core": 20, "door": 2}, actor=_ACTOR)
        grown = m.status(org, _PRO)
        warnings = m.history(org, actions=["growth_exceeded"])
        emit(
            "growth",
            "Devices grow beyond the allowance: a warning (R4, R5)",
            notes=(
                "vms-1 now reports 20 core devices. A locked period allows growth up to "
                "(1 + 100 %) x 8 = 16 core without new licenses.",
                f"20 is more: growth_exceeded is {grown.growth_exceeded} and required_now "
                f"is ceil(20 / 2) - 8 = {grown.required_now.get('core')} core. The status "
                f"stays {grown.state.name}.",
                "The need of the next periods is the 20 core devices of today.",
            ),
            statuses=(grown,),
            need=m.need(org, _PRO, horizon=2),
            activities=tuple(warnings),
        )

        # 5. second product --------------------------------------------------------------
        clock.set(_at(2026, 7, 2))
        m.register_system(org, _ANALYTICS, "analytics-1", devices={"core": 10}, actor=_ACTOR)
        m.start_subscription(org, _ANALYTICS, actor=_ACTOR)
        second = m.status(org, _ANALYTICS)
        emit(
            "second-product",
            "A second product starts mid-period (R2, R3)",
            notes=(
                "acs-analytics starts on 2026-07-02, 182 days into the organization's "
                "period 2026-01-01 to 2027-01-01. Period dates never move: its first "
                "period is partial.",
                f"Its trial runs from its start date and ends on {second.window_ends_on}.",
            ),
            statuses=(second,),
        )

        # 6. compensation ----------------------------------------------------------------
        clock.set(_at(2026, 7, 10))
        analytics_lots = m.redeem_key(org, analytics_key, actor=_ACTOR)
        compensated = m.allocate(org, _ANALYTICS, {"core": 10}, actor=_ACTOR)
        emit(
            "compensation",
            "Compensation for the overlap (R8)",
            notes=(
                "10 core licenses are allocated on 2026-07-10, inside the trial, so coverage "
                "counts from the start date 2026-07-02.",
                "The 182 days before it are paid back: 10 x 182 / 365 = 4 + 72/73.",
                f"{compensated.compensation.get('core')} whole core licenses return to the "
                f"wallet as a new lot; {compensated.credit['core']} stays as credit.",
            ),
            redemptions=(analytics_lots,),
            allocations=(compensated,),
            wallets=(m.wallet(org, _ANALYTICS),),
            wallets_at=(clock.now(),),
            statuses=(m.status(org, _ANALYTICS),),
        )

        # 7. grace -----------------------------------------------------------------------
        clock.set(_at(2027, 1, 10))
        grace = m.status(org, _PRO)
        emit(
            "grace",
            "The next period starts in grace (R3, R4)",
            notes=(
                "On 2027-01-01 a new period began with nothing allocated to it. For 30 days "
                f"the product is in GRACE; the window ends on {grace.window_ends_on}.",
                "The need is the current 20 core and 2 door devices, for every period.",
            ),
            statuses=(grace,),
            need=m.need(org, _PRO, horizon=2),
        )

        # 8. renewal ---------------------------------------------------------------------
        renewal_lots = m.redeem_key(org, second_key, actor=_ACTOR)
        renewal = m.allocate_need(org, _PRO, actor=_ACTOR)
        renewed = m.status(org, _PRO)
        emit(
            "renewal",
            "Renewal: a new key, then allocate the need (R6, R7)",
            notes=(
                "allocate_need takes 20 core and 2 door, from the lots that expire first "
                "(the 2026 key's).",
                "Inside the grace window coverage counts from the period start: no compensation.",
                f"acs-pro is {renewed.state.name} through {renewed.licensed_through}.",
            ),
            redemptions=(renewal_lots,),
            allocations=(renewal,),
            statuses=(renewed,),
        )

        # 9. advance ---------------------------------------------------------------------
        clock.set(_at(2027, 2, 1))
        advance = m.allocate_need(org, _PRO, through=2, actor=_ACTOR)
        ahead = m.status(org, _PRO)
        emit(
            "advance",
            "Renewal in advance: two more periods (R5, R7)",
            notes=(
                "allocate_need(through=2) covers the periods at offsets 1 and 2: "
                "2028 and 2029, 20 core and 2 door each.",
                f"licensed_through moves from {renewed.licensed_through} to "
                f"{ahead.licensed_through}.",
                "Allocations to future periods get no compensation.",
            ),
            allocations=(advance,),
            statuses=(ahead,),
            wallets=(m.wallet(org, _PRO),),
            wallets_at=(clock.now(),),
        )

        # 10. expiry ---------------------------------------------------------------------
        before = _at(2031, 1, 14)
        clock.set(_at(2031, 1, 20))
        expired = m.history(org, actions=["licenses_expired"])
        emit(
            "expiry",
            "Five years on: unused lots expire (R6)",
            notes=(
                "The clock jumps to 2031-01-20. The 2026 key's lots were usable through "
                "2031-01-14 and expired on 2031-01-15 (local midnight in Stockholm, "
                "23:00 UTC the day before): 5 universal and 2 door.",
                "No command ran since; queries and the history still show the expiry.",
                "Wallet on 2031-01-14, then today:",
            ),
            wallets=(m.wallet(org, _PRO, at=before), m.wallet(org, _PRO)),
            wallets_at=(before, clock.now()),
            activities=tuple(expired),
        )

        # 11. history --------------------------------------------------------------------
        emit(
            "history",
            "The activity history (R11)",
            notes=("Every change, oldest first; 'system' marks expiry, compensation and growth.",),
            activities=tuple(m.history(org)),
        )
    return DemoRun(url=url, org_id=org, steps=tuple(steps))
