"""The licensing rules, end to end through the Manager, on every built-in backend (SPEC §2–§5).

One pytest test class, :class:`BackendRules`, drives every command and query
of SPEC §3 through the public :class:`~axis_licensing.Manager` API and checks
exact values: dates, counts, fractions, states and error types.
``tests/test_conformance.py`` runs it on ``memory://``, ``sqlite:///`` and
``postgresql://``. It was ``axis_licensing.testing.conformance`` before issue
14; a backend author now runs the per-method suite that module holds.

Its one fixture, ``make_manager``, returns ``(clock, catalog) -> Manager`` on
the test's own store; every call opens the same store again. A backend that
keeps nothing across a reopen sets ``persistent = False``. Every test starts
from a :class:`~axis_licensing.ManualClock` at 2026-01-01 12:00 UTC. Test names
cite the SPEC rule they check (``test_r8_...``); those about query instants cite §1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from fractions import Fraction
from typing import Any, ClassVar, Protocol

import attrs
import pytest

from _support import per_period
from axis_licensing import (
    EXAMPLE_CATALOG,
    Activity,
    Allocation,
    AlreadyExists,
    AlreadyRegistered,
    AlreadyStarted,
    Catalog,
    CatalogMismatch,
    CatalogVersion,
    Counts,
    Entitlement,
    IdempotencyConflict,
    InsufficientLicenses,
    InvalidInput,
    KeyAlreadyRedeemed,
    KeyTypo,
    LicenseFileExpired,
    LicenseKind,
    LicenseType,
    LicensingError,
    MalformedSystemFile,
    Manager,
    ManualClock,
    Organization,
    OutsideAllocationWindow,
    Period,
    PeriodAllocation,
    ProductSpec,
    ProductState,
    ProductStatus,
    SubscriptionNotStarted,
    UnknownHardware,
    UnknownKey,
    UnknownOrganization,
    UnknownProduct,
    UnknownSystem,
    Wallet,
    WrongSystem,
    offline,
)
from axis_licensing._time import to_us
from axis_licensing.backends import CatalogRow

__all__ = [
    "EDGE",
    "ORG",
    "OTHER",
    "PRODUCT",
    "START",
    "SUITE_CATALOG",
    "VAULT",
    "BackendRules",
    "MakeManager",
    "Managers",
]

#: Where every test's clock starts.
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
#: The organizations the suite creates.
ORG = "org-a"
OTHER = "org-b"
#: The example catalog's product.
PRODUCT = "acs-pro"
#: A second 1-year product, started later to check the shared anchor (R2, R8).
EDGE = "acs-edge"
#: A 5-year product (R2, R7, R8).
VAULT = "acs-vault"
ACTOR = "alice"

#: The example catalog plus a second 1-year product and a 5-year one.
SUITE_CATALOG = Catalog(
    products=[
        *EXAMPLE_CATALOG.products,
        ProductSpec(
            EDGE,
            "AXIS Edge",
            license_types=[LicenseType("core"), LicenseType("universal", covers=("core",))],
        ),
        ProductSpec(VAULT, "AXIS Vault", term_years=5, license_types=[LicenseType("core")]),
    ]
)

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class MakeManager(Protocol):
    """Opens a Manager on the current test's store (see the module docstring)."""

    def __call__(self, clock: ManualClock, catalog: Catalog = ...) -> Manager:
        """A Manager on the test's store with ``clock`` and ``catalog``."""
        ...


class Managers:
    """The Managers one test opened; it reopens the store and closes them all at the end."""

    def __init__(self, make: MakeManager, clock: ManualClock) -> None:
        self._make = make
        self._clock = clock
        self._open: list[tuple[Manager, Catalog]] = []

    def open(self, catalog: Catalog = EXAMPLE_CATALOG) -> Manager:
        """A new Manager on the test's store."""
        manager = self._make(self._clock, catalog)
        self._open.append((manager, catalog))
        return manager

    def reopen(self, manager: Manager) -> Manager:
        """Close ``manager`` and open the same store again with the same catalog."""
        for index, (opened, catalog) in enumerate(self._open):
            if opened is manager:
                del self._open[index]
                manager.close()
                return self.open(catalog)
        raise AssertionError("reopen() takes a Manager that this test opened")

    def close_all(self) -> None:
        """Close every Manager still open, newest first."""
        while self._open:
            manager, _ = self._open.pop()
            manager.close()


# -- small helpers -----------------------------------------------------------------------------


def _us(instant: datetime) -> int:
    """``instant`` in microseconds since the epoch, as backends store instants."""
    return to_us(instant)


def _noon(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, 0, tzinfo=UTC)


def _lots(wallet: Wallet) -> list[tuple[LicenseKind, str, int, date, date]]:
    """The wallet's lots without their ids, in the order the wallet lists them."""
    return [
        (lot.kind, lot.license_type, lot.quantity, lot.acquired_on, lot.expires_on)
        for lot in wallet.lots
    ]


def _who(activity: Activity) -> tuple[str, str, str | None, str | None]:
    """An activity's action, actor, system and product."""
    return activity.action, activity.actor, activity.system_id, activity.product


def _actions(history: Sequence[Activity]) -> list[str]:
    return [str(activity.action) for activity in history]


def _typo(key: str) -> str:
    """``key`` with its first symbol replaced by another Crockford symbol (R10)."""
    for index, char in enumerate(key):
        if char.upper() in _CROCKFORD:
            other = _CROCKFORD[(_CROCKFORD.index(char.upper()) + 1) % len(_CROCKFORD)]
            return key[:index] + other + key[index + 1 :]
    raise AssertionError(f"no symbol in {key!r}")


def _normalised(key: str) -> str:
    return key.replace("-", "").replace(" ", "").upper()


def _never_issued_key() -> str:
    """A well-formed key the store under test never issued: a private memory store issued it."""
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as other:
        return other.vendor.issue_key(PRODUCT, quantities={"core": 1})


def _create(m: Manager, org_id: str = ORG, *, timezone_name: str = "UTC") -> None:
    m.create_organization(org_id, name=f"Org {org_id}", timezone=timezone_name, actor=ACTOR)


def _window(status: ProductStatus) -> tuple[Period | None, date | None]:
    """The status's period and the end of its trial or grace window."""
    return status.period, status.window_ends_on


def _year(index: int) -> Period:
    """The subscription year ``index`` of an organization anchored on 2026-01-01."""
    return Period(index, date(2026 + index, 1, 1), date(2027 + index, 1, 1))


def _edge_life(
    m: Manager,
    index: int,
    trial_end: date,
    after: ProductState,
    grace_at: datetime,
    grace_end: date,
) -> None:
    """EDGE in its trial in year ``index`` until ``trial_end``, ``after`` at noon that day,
    and in grace the next year at ``grace_at``, until ``grace_end``."""
    edge = m.status(ORG, EDGE)
    assert edge.state is ProductState.TRIAL
    assert _window(edge) == (_year(index), trial_end)
    ended = datetime.combine(trial_end, time(12), UTC)
    assert m.status(ORG, EDGE, at=ended).state is after
    grace = m.status(ORG, EDGE, at=grace_at)
    assert grace.state is ProductState.GRACE
    assert _window(grace) == (_year(index + 1), grace_end)


def _noon_on(clock: ManualClock, year: int, month: int, day: int) -> datetime:
    """Set ``clock`` to noon UTC on that day; that instant."""
    clock.set(_noon(year, month, day))
    return clock.now()


def _bought(m: Manager, quantities: dict[str, int], period: int = 0) -> None:
    """Redeem a key of ``quantities`` and allocate them all to ``period``."""
    _redeem(m, quantities)
    m.allocate(ORG, PRODUCT, quantities, period=period, actor=ACTOR)


def _redeem_on(m: Manager, clock: ManualClock, on: datetime, quantities: dict[str, int]) -> None:
    """Set the clock to ``on``, then redeem a key of ``quantities`` in the organization."""
    clock.set(on)
    _redeem(m, quantities)


def _two_keys(
    m: Manager, clock: ManualClock, first: dict[str, int], on: datetime, then: dict[str, int]
) -> None:
    """The organization, a key of ``first`` redeemed now and one of ``then`` on ``on``."""
    _create(m)
    _redeem(m, first)
    _redeem_on(m, clock, on, then)


def _started(m: Manager, **devices: int) -> Manager:
    """The organization, its subscription to PRODUCT started, and sys-1 with ``devices`` if any.

    Returns ``m``.
    """
    _create(m)
    m.start_subscription(ORG, PRODUCT, actor=ACTOR)
    if devices:
        m.register_system(ORG, PRODUCT, "sys-1", devices=devices, actor=ACTOR)
    return m


def _redeem(
    m: Manager,
    quantities: dict[str, int],
    *,
    org_id: str = ORG,
    product: str = PRODUCT,
    kind: LicenseKind = LicenseKind.SUBSCRIPTION,
) -> str:
    key = m.vendor.issue_key(product, kind, quantities)
    m.redeem_key(org_id, key, actor=ACTOR)
    return key


def _off1(now: datetime, devices: dict[str, int], hardware: Sequence[str] = ()) -> bytes:
    """The description file of the offline system off-1, made at ``now``."""
    return offline.describe_system(
        system_id="off-1", product=PRODUCT, devices=devices, hardware=hardware, now=now
    )


def _license(m: Manager, file: bytes, system_id: str, now: datetime) -> Entitlement:
    return offline.verify_license_file(
        file, trusted_keys=m.public_key, system_id=system_id, now=now
    )


@attrs.frozen
class _Snapshot:
    """Everything a failed command must leave as it was."""

    history: tuple[tuple[Activity, ...], ...]
    wallets: tuple[Wallet, ...]
    statuses: tuple[object, ...]
    systems: tuple[object, ...]


def _snapshot(
    m: Manager,
    orgs: Sequence[str] = (ORG,),
    *,
    products: Sequence[str] = (PRODUCT,),
    systems: Sequence[tuple[str, str]] = (),
) -> _Snapshot:
    return _Snapshot(
        history=tuple(tuple(m.history(org)) for org in orgs),
        wallets=tuple(m.wallet(org, p) for org in orgs for p in products),
        statuses=tuple(m.status(org, p) for org in orgs for p in products),
        systems=tuple(m.system_status(org, s) for org, s in systems),
    )


# -- the failure cases (a failed command changes nothing) -------------------------------------


@attrs.frozen
class _Rich:
    """What :meth:`BackendRules._rich_org` set up."""

    redeemed_key: str
    unknown_key: str
    now: datetime


_Case = Callable[[Manager, _Rich], object]


def _upload(system_id: str, devices: dict[str, int], hardware: Sequence[str]) -> _Case:
    def run(m: Manager, rich: _Rich) -> object:
        file = offline.describe_system(
            system_id=system_id, product=PRODUCT, devices=devices, hardware=hardware, now=rich.now
        )
        return m.upload_system_file(ORG, file, actor=ACTOR)

    return run


def _org(method: str, *args: object, **kwargs: object) -> _Case:
    """A case calling ``m.<method>(ORG, *args, actor=ACTOR, **kwargs)``."""

    def run(m: Manager, rich: _Rich) -> object:
        return getattr(m, method)(ORG, *args, actor=ACTOR, **kwargs)

    return run


#: The failing commands, by the error each must raise.
_FAILING: dict[type[LicensingError], dict[str, _Case]] = {
    InsufficientLicenses: {
        "allocate-insufficient": _org("allocate", PRODUCT, {"core": 4}),
        "allocate-need-insufficient": _org("allocate_need", PRODUCT, through=1),
        "allocate-to-hardware-insufficient": _org("allocate_to_hardware", "HW-1", {"door": 2}),
    },
    OutsideAllocationWindow: {
        "allocate-beyond-five-years": _org("allocate", PRODUCT, {"core": 1}, period=6),
        "allocate-negative-offset": _org("allocate", PRODUCT, {"core": 1}, period=-1),
    },
    InvalidInput: {
        "allocate-unknown-type": _org("allocate", PRODUCT, {"gold": 1}),
        "allocate-zero": _org("allocate", PRODUCT, {"core": 0}),
        "report-unknown-type": _org("report_devices", "sys-1", {"gold": 1}),
    },
    UnknownProduct: {"allocate-unknown-product": _org("allocate", "nope", {"core": 1})},
    KeyAlreadyRedeemed: {
        "redeem-twice": lambda m, r: m.redeem_key(ORG, r.redeemed_key, actor=ACTOR),
        "redeem-other-orgs-key": lambda m, r: m.redeem_key(OTHER, r.redeemed_key, actor=ACTOR),
    },
    UnknownKey: {"redeem-never-issued": lambda m, r: m.redeem_key(ORG, r.unknown_key, actor=ACTOR)},
    KeyTypo: {"redeem-typo": lambda m, r: m.redeem_key(ORG, _typo(r.unknown_key), actor=ACTOR)},
    AlreadyRegistered: {
        "register-system-again": _org("register_system", PRODUCT, "sys-1"),
        "register-other-orgs-system": _org("register_system", PRODUCT, "sys-b"),
        "register-other-orgs-hardware": _org("register_hardware", "sys-1", "HW-B"),
        "upload-other-orgs-hardware": _upload("off-2", {"core": 1}, ["HW-B"]),
        "upload-other-orgs-system": _upload("sys-b", {"core": 1}, []),
    },
    UnknownHardware: {
        "register-unknown-hardware": _org("register_hardware", "sys-1", "HW-404"),
        "allocate-to-other-orgs-hardware": _org("allocate_to_hardware", "HW-B", {"door": 1}),
        "upload-unknown-hardware": _upload("off-2", {"core": 1}, ["HW-404"]),
    },
    AlreadyStarted: {"start-again": _org("start_subscription", PRODUCT)},
    UnknownSystem: {
        "report-unknown-system": _org("report_devices", "sys-404", {"core": 1}),
        "report-other-orgs-system": _org("report_devices", "sys-b", {"core": 1}),
    },
    MalformedSystemFile: {"upload-malformed": _org("upload_system_file", b'{"format_version": 1}')},
    AlreadyExists: {"create-existing-organization": _org("create_organization", name="again")},
}
_FAILURES: dict[str, tuple[_Case, type[LicensingError]]] = {
    name: (case, error) for error, cases in _FAILING.items() for name, case in cases.items()
}


class BackendRules:
    """The conformance suite. Subclass it and provide ``make_manager`` (see the module docs)."""

    #: Whether the store keeps its content when a Manager is closed and another opened on it.
    persistent: ClassVar[bool] = True

    # -- fixtures --------------------------------------------------------------------------------

    @pytest.fixture
    def make_manager(self) -> MakeManager:
        """Override this: a callable opening a Manager on the test's store."""
        pytest.fail(
            f"{type(self).__name__} must define a make_manager fixture; "
            "see axis_licensing.testing.conformance"
        )

    @pytest.fixture
    def clock(self) -> ManualClock:
        """A manual clock at 2026-01-01 12:00 UTC."""
        return ManualClock(START)

    @pytest.fixture
    def managers(self, make_manager: MakeManager, clock: ManualClock) -> Iterator[Managers]:
        """Opens Managers on the test's store and closes them after the test."""
        pool = Managers(make_manager, clock)
        try:
            yield pool
        finally:
            pool.close_all()

    @pytest.fixture
    def m(self, managers: Managers) -> Manager:
        """A Manager with the example catalog on an empty store."""
        return managers.open()

    @pytest.fixture
    def suite(self, managers: Managers) -> Manager:
        """A Manager with :data:`SUITE_CATALOG` (three products) on an empty store."""
        return managers.open(SUITE_CATALOG)

    @pytest.fixture
    def reopenable(self, managers: Managers) -> Managers:
        """The Managers, for a test that reopens the store: skipped where it keeps nothing."""
        self._require_persistence()
        return managers

    def _require_persistence(self) -> None:
        if not self.persistent:
            pytest.skip(f"{type(self).__name__}: the store does not persist across a reopen")

    # -- R1: organizations, systems, ownership -------------------------------------------------

    def test_r1_create_organization_records_its_local_date(self, m: Manager) -> None:
        # 2026-01-01 12:00 UTC is 2026-01-02 01:00 in Auckland (UTC+13 in summer).
        _create(m, timezone_name="Pacific/Auckland")
        history = m.history(ORG)
        assert len(history) == 1
        created = history[0]
        assert created.action == "organization_created"
        assert created.actor == ACTOR
        assert created.on == date(2026, 1, 2)
        assert created.at == START
        assert created.product is None
        assert created.system_id is None
        assert m.status(ORG, PRODUCT).state is ProductState.NOT_STARTED

    def test_r1_create_organization_twice_raises_already_exists(self, m: Manager) -> None:
        _create(m)
        with pytest.raises(AlreadyExists):
            m.create_organization(ORG, name="Another", actor="bob")
        assert _actions(m.history(ORG)) == ["organization_created"]

    def test_r14_create_organization_rejects_an_unknown_time_zone(self, m: Manager) -> None:
        with pytest.raises(InvalidInput, match="Mars/Olympus"):
            m.create_organization(ORG, name="Org", timezone="Mars/Olympus", actor=ACTOR)
        with pytest.raises(UnknownOrganization):
            m.history(ORG)
        _create(m)  # the id was not taken by the failed call
        assert len(m.history(ORG)) == 1

    def test_r1_unknown_organization_raises_everywhere(self, m: Manager) -> None:
        _create(m)
        with pytest.raises(UnknownOrganization):
            m.status("nobody", PRODUCT)
        with pytest.raises(UnknownOrganization):
            m.wallet("nobody", PRODUCT)
        with pytest.raises(UnknownOrganization):
            m.history("nobody")
        with pytest.raises(UnknownOrganization):
            m.system_status("nobody", "sys-1")
        with pytest.raises(UnknownOrganization):
            m.register_system("nobody", PRODUCT, "sys-1", actor=ACTOR)
        with pytest.raises(UnknownOrganization):
            m.start_subscription("nobody", PRODUCT, actor=ACTOR)
        # nothing was claimed by the failed registration
        m.register_system(ORG, PRODUCT, "sys-1", actor=ACTOR)
        assert m.system_status(ORG, "sys-1").devices == {}

    def test_r1_register_system_records_its_devices(self, m: Manager) -> None:
        _create(m)
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 5, "door": 0}, actor="bob")
        status = m.system_status(ORG, "sys-1")
        assert status.devices == {"core": 5}
        assert status.hardware_capacity == {}
        assert status.subscription_devices == {"core": 5}
        assert status.licensed is False
        registered = m.history(ORG)[-1]
        assert _who(registered) == ("system_registered", "bob", "sys-1", PRODUCT)
        assert registered.details["devices"] == {"core": 5}
        assert m.status(ORG, PRODUCT).devices == {"core": 5}

    def test_r1_register_system_twice_in_the_same_organization(self, m: Manager) -> None:
        _create(m)
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 1}, actor=ACTOR)
        before = _snapshot(m, systems=[(ORG, "sys-1")])
        with pytest.raises(AlreadyRegistered):
            m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 9}, actor=ACTOR)
        assert _snapshot(m, systems=[(ORG, "sys-1")]) == before

    def test_r1_system_held_by_another_organization_is_not_revealed(self, m: Manager) -> None:
        _create(m)
        _create(m, OTHER)
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 1}, actor=ACTOR)
        before = _snapshot(m, [ORG, OTHER])
        with pytest.raises(AlreadyRegistered) as raised:
            m.register_system(OTHER, PRODUCT, "sys-1", actor=ACTOR)
        assert ORG not in str(raised.value)
        assert _snapshot(m, [ORG, OTHER]) == before
        with pytest.raises(UnknownSystem):
            m.system_status(OTHER, "sys-1")
        assert m.status(OTHER, PRODUCT).devices == {}

    def test_r1_report_devices_replaces_the_whole_mapping(self, m: Manager) -> None:
        _create(m)
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 5, "door": 2}, actor=ACTOR)
        m.report_devices(ORG, "sys-1", {"universal": 3}, actor="carol")
        assert m.system_status(ORG, "sys-1").devices == {"universal": 3}
        assert m.status(ORG, PRODUCT).devices == {"universal": 3}
        reported = m.history(ORG)[-1]
        assert _who(reported) == ("devices_reported", "carol", "sys-1", PRODUCT)
        assert reported.details["devices"] == {"universal": 3}
        m.report_devices(ORG, "sys-1", {}, actor=ACTOR)
        assert m.system_status(ORG, "sys-1").devices == {}

    def test_r1_organizations_never_see_each_other(self, m: Manager) -> None:
        _create(m)
        _create(m, OTHER)
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 2}, actor=ACTOR)
        m.start_subscription(ORG, PRODUCT, actor=ACTOR)
        _redeem(m, {"core": 7})
        assert m.wallet(OTHER, PRODUCT).lots == ()
        assert m.status(OTHER, PRODUCT).state is ProductState.NOT_STARTED
        assert m.status(OTHER, PRODUCT).devices == {}
        assert _actions(m.history(OTHER)) == ["organization_created"]
        with pytest.raises(SubscriptionNotStarted):
            m.need(OTHER, PRODUCT)

    # -- R2, R3: subscriptions, anchor, windows ---------------------------------------------------

    def test_r3_trial_of_a_start_on_2026_03_10_ends_2026_04_09(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _create(m)
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 3}, actor=ACTOR)
        clock.set(_noon(2026, 3, 10))
        m.start_subscription(ORG, PRODUCT, actor=ACTOR)
        status = m.status(ORG, PRODUCT)
        assert status.state is ProductState.TRIAL
        assert status.period == Period(0, date(2026, 3, 10), date(2027, 3, 10))
        assert status.window_ends_on == date(2026, 4, 9)
        assert status.renews_on == date(2027, 3, 10)
        assert status.devices == {"core": 3}
        assert status.allocated == {}
        assert status.licensed_through is None
        last_trial_day = datetime(2026, 4, 8, 23, 59, 59, tzinfo=UTC)
        assert m.status(ORG, PRODUCT, at=last_trial_day).state is ProductState.TRIAL
        after = m.status(ORG, PRODUCT, at=datetime(2026, 4, 9, tzinfo=UTC))
        assert after.state is ProductState.UNLICENSED
        assert after.licensed_through is None
        started = m.history(ORG, actions=["subscription_started"])
        assert [(a.on, a.product, a.actor) for a in started] == [
            (date(2026, 3, 10), PRODUCT, ACTOR)
        ]
        before_start = m.status(ORG, PRODUCT, at=_noon(2026, 3, 9))
        assert before_start.state is ProductState.NOT_STARTED

    def test_r2_start_subscription_twice_raises_already_started(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _started(m)
        clock.advance(days=40)
        before = _snapshot(m)
        with pytest.raises(AlreadyStarted):
            m.start_subscription(ORG, PRODUCT, actor=ACTOR)
        assert _snapshot(m) == before
        assert m.status(ORG, PRODUCT).period == Period(0, date(2026, 1, 1), date(2027, 1, 1))

    def test_r2_later_product_shares_the_organization_anchor(
        self, suite: Manager, clock: ManualClock
    ) -> None:
        m = _started(suite)
        clock.set(_noon(2026, 7, 2))
        m.start_subscription(ORG, EDGE, actor=ACTOR)
        _edge_life(
            m, 0, date(2026, 8, 1), ProductState.LICENSED, _noon(2027, 1, 1), date(2027, 1, 31)
        )
        assert m.status(ORG, VAULT).state is ProductState.NOT_STARTED

    def test_r2_product_started_in_a_later_period_has_its_trial_there(
        self, suite: Manager, clock: ManualClock
    ) -> None:
        m = _started(suite)  # anchor 2026-01-01
        clock.set(_noon(2027, 6, 1))
        m.register_system(ORG, EDGE, "edge-1", devices={"core": 1}, actor=ACTOR)
        m.start_subscription(ORG, EDGE, actor=ACTOR)
        _edge_life(
            m, 1, date(2027, 7, 1), ProductState.UNLICENSED, _noon(2028, 1, 5), date(2028, 1, 31)
        )
        assert m.status(ORG, EDGE, at=_noon(2027, 5, 31)).state is ProductState.NOT_STARTED
        with pytest.raises(SubscriptionNotStarted):
            m.need(ORG, EDGE, at=_noon(2027, 5, 31))
        need = m.need(ORG, EDGE)
        assert [pn.offset for pn in need.periods] == [0, 1, 2, 3, 4, 5]  # default horizon 5
        assert [pn.period.index for pn in need.periods] == [1, 2, 3, 4, 5, 6]
        assert need.to_buy == {"core": 6}

    def test_r2_five_year_term_product(self, suite: Manager, clock: ManualClock) -> None:
        m = suite
        _create(m)
        clock.set(_noon(2026, 3, 2))
        m.start_subscription(ORG, PRODUCT, actor=ACTOR)  # anchor 2026-03-02
        clock.set(_noon(2027, 6, 1))
        m.start_subscription(ORG, VAULT, actor=ACTOR)
        vault = m.status(ORG, VAULT)
        assert vault.state is ProductState.TRIAL
        assert _window(vault) == (Period(0, date(2026, 3, 2), date(2031, 3, 2)), date(2027, 7, 1))
        need = m.need(ORG, VAULT, horizon=1)
        assert [pn.period for pn in need.periods] == [
            Period(0, date(2026, 3, 2), date(2031, 3, 2)),
            Period(1, date(2031, 3, 2), date(2036, 3, 2)),
        ]

    def test_r2_leap_day_anchor_gives_28_february_in_common_years(
        self, m: Manager, clock: ManualClock
    ) -> None:
        clock.set(_noon(2028, 2, 29))
        _started(m)
        status = m.status(ORG, PRODUCT)
        assert status.period == Period(0, date(2028, 2, 29), date(2029, 2, 28))
        assert status.window_ends_on == date(2028, 3, 30)
        need = m.need(ORG, PRODUCT, horizon=4)
        assert [(pn.period.start, pn.period.end) for pn in need.periods] == [
            (date(2028, 2, 29), date(2029, 2, 28)),
            (date(2029, 2, 28), date(2030, 2, 28)),
            (date(2030, 2, 28), date(2031, 2, 28)),
            (date(2031, 2, 28), date(2032, 2, 29)),
            (date(2032, 2, 29), date(2033, 2, 28)),
        ]
        later = m.status(ORG, PRODUCT, at=_noon(2032, 3, 1))
        assert later.period == Period(4, date(2032, 2, 29), date(2033, 2, 28))
        assert later.state is ProductState.GRACE
        assert later.window_ends_on == date(2032, 3, 30)

    def test_r3_grace_follows_each_renewal(self, m: Manager, clock: ManualClock) -> None:
        _create(m)
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 3}, actor=ACTOR)
        clock.set(_noon(2026, 3, 10))
        m.start_subscription(ORG, PRODUCT, actor=ACTOR)
        _bought(m, {"core": 3})
        licensed = m.status(ORG, PRODUCT)
        assert licensed.state is ProductState.LICENSED
        assert licensed.licensed_through == date(2027, 3, 10)
        assert licensed.allocated == {"core": 3}
        grace = m.status(ORG, PRODUCT, at=_noon(2027, 3, 10))
        assert grace.state is ProductState.GRACE
        assert _window(grace) == (Period(1, date(2027, 3, 10), date(2028, 3, 10)), date(2027, 4, 9))
        assert grace.allocated == {}
        assert grace.licensed_through is None
        assert m.status(ORG, PRODUCT, at=_noon(2027, 4, 8)).state is ProductState.GRACE
        assert m.status(ORG, PRODUCT, at=_noon(2027, 4, 9)).state is ProductState.UNLICENSED

    def test_r5_no_devices_and_no_licenses_is_licensed_after_the_window(self, m: Manager) -> None:
        _started(m)
        assert m.status(ORG, PRODUCT).state is ProductState.TRIAL
        after = m.status(ORG, PRODUCT, at=_noon(2026, 1, 31))
        assert after.state is ProductState.LICENSED
        assert after.licensed_through == date(2027, 1, 1)

    def test_r3_local_dates_follow_the_organization_zone(
        self, m: Manager, clock: ManualClock
    ) -> None:
        # Auckland is UTC+13 in January: 2026-01-01 12:00 UTC is 2026-01-02 there.
        _create(m, timezone_name="Pacific/Auckland")
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 1}, actor=ACTOR)
        m.start_subscription(ORG, PRODUCT, actor=ACTOR)
        _redeem(m, {"core": 2})
        status = m.status(ORG, PRODUCT)
        assert _window(status) == (Period(0, date(2026, 1, 2), date(2027, 1, 2)), date(2026, 2, 1))
        # 2026-02-01 00:00 NZDT is 2026-01-31 11:00 UTC.
        last = datetime(2026, 1, 31, 10, 59, tzinfo=UTC)
        assert m.status(ORG, PRODUCT, at=last).state is ProductState.TRIAL
        first_out = datetime(2026, 1, 31, 11, 0, tzinfo=UTC)
        assert m.status(ORG, PRODUCT, at=first_out).state is ProductState.UNLICENSED
        assert _lots(m.wallet(ORG, PRODUCT)) == [
            (LicenseKind.SUBSCRIPTION, "core", 2, date(2026, 1, 2), date(2031, 1, 2))
        ]
        # The lot expires at 2031-01-02 00:00 NZDT, 2031-01-01 11:00 UTC.
        live = m.wallet(ORG, PRODUCT, at=datetime(2031, 1, 1, 10, 59, tzinfo=UTC))
        assert live.balance() == {"core": 2}
        gone = m.wallet(ORG, PRODUCT, at=datetime(2031, 1, 1, 11, 0, tzinfo=UTC))
        assert gone.lots == ()
        assert {a.on for a in m.history(ORG)} == {date(2026, 1, 2)}
        assert len(m.history(ORG, since=date(2026, 1, 2))) == 4
        assert m.history(ORG, until=date(2026, 1, 1)) == []
        clock.set(datetime(2031, 1, 1, 11, 0, tzinfo=UTC))
        expired = m.history(ORG, actions=["licenses_expired"])
        assert [(a.on, a.actor, a.details["quantity"]) for a in expired] == [
            (date(2031, 1, 2), "system", 2)
        ]

    # -- R6, R10: keys, wallet, lots --------------------------------------------------------------

    def test_r6_redeem_key_adds_one_lot_per_type(self, m: Manager) -> None:
        _create(m)
        key = m.vendor.issue_key(PRODUCT, LicenseKind.SUBSCRIPTION, {"core": 10, "universal": 2})
        redemption = m.redeem_key(ORG, key, actor="bob")
        assert redemption.product == PRODUCT
        assert redemption.kind is LicenseKind.SUBSCRIPTION
        assert redemption.quantities == {"core": 10, "universal": 2}
        assert sorted(
            (lot.license_type, lot.quantity, lot.acquired_on, lot.expires_on)
            for lot in redemption.lots
        ) == [
            ("core", 10, date(2026, 1, 1), date(2031, 1, 1)),
            ("universal", 2, date(2026, 1, 1), date(2031, 1, 1)),
        ]
        assert len({lot.lot_id for lot in redemption.lots}) == 2
        wallet = m.wallet(ORG, PRODUCT)
        assert sorted(wallet.lots, key=lambda lot: lot.lot_id) == sorted(
            redemption.lots, key=lambda lot: lot.lot_id
        )
        assert wallet.balance() == {"core": 10, "universal": 2}
        assert wallet.balance(LicenseKind.HARDWARE) == {}
        assert wallet.credit == {}
        redeemed = m.history(ORG)[-1]
        assert redeemed.action == "key_redeemed"
        assert redeemed.actor == "bob"
        assert redeemed.product == PRODUCT
        assert redeemed.on == date(2026, 1, 1)

    def test_r10_key_input_is_normalised(self, m: Manager) -> None:
        _create(m)
        key = m.vendor.issue_key(PRODUCT, quantities={"door": 4})
        typed = "  " + key.lower().replace("-", " ") + " "
        redemption = m.redeem_key(ORG, typed, actor=ACTOR)
        assert redemption.quantities == {"door": 4}
        with pytest.raises(KeyAlreadyRedeemed):
            m.redeem_key(ORG, key, actor=ACTOR)
        assert m.wallet(ORG, PRODUCT).balance() == {"door": 4}

    def test_r10_look_alike_letters_are_read_as_digits(self, m: Manager) -> None:
        _create(m)
        for _ in range(100):  # about 4 keys in 5 hold a 0 or a 1
            key = m.vendor.issue_key(PRODUCT, quantities={"core": 1})
            if "0" in key or "1" in key:
                break
        else:
            pytest.fail("no issued key held a 0 or a 1")
        typed = key.replace("-", "").replace("0", "o").replace("1", "l").replace("l", "I", 1)
        assert m.redeem_key(ORG, typed, actor=ACTOR).quantities == {"core": 1}

    def test_r10_mistyped_unknown_and_redeemed_keys(self, m: Manager) -> None:
        _create(m)
        _create(m, OTHER)
        key = _redeem(m, {"core": 3})
        before = _snapshot(m, [ORG, OTHER])
        with pytest.raises(KeyTypo, match="mistyped"):
            m.redeem_key(ORG, _typo(key), actor=ACTOR)
        never = _never_issued_key()
        with pytest.raises(UnknownKey) as unknown:
            m.redeem_key(ORG, never, actor=ACTOR)
        assert _normalised(never)[:-4] not in _normalised(str(unknown.value))
        with pytest.raises(KeyAlreadyRedeemed) as same:
            m.redeem_key(ORG, key, actor=ACTOR)
        with pytest.raises(KeyAlreadyRedeemed) as other:
            m.redeem_key(OTHER, key, actor=ACTOR)
        assert ORG not in str(other.value)
        for raised in (same.value, other.value):
            assert _normalised(key)[:-4] not in _normalised(str(raised))
        assert _snapshot(m, [ORG, OTHER]) == before

    def test_r14_vendor_commands_check_their_input(self, m: Manager) -> None:
        with pytest.raises(UnknownProduct):
            m.vendor.issue_key("nope", quantities={"core": 1})
        with pytest.raises(InvalidInput):
            m.vendor.issue_key(PRODUCT, quantities={"gold": 1})
        with pytest.raises(InvalidInput):
            m.vendor.issue_key(PRODUCT, quantities={})
        with pytest.raises(InvalidInput):
            m.vendor.issue_key(PRODUCT, quantities={"core": 1_000_001})
        with pytest.raises(InvalidInput):
            m.vendor.ship_hardware("HW-1", PRODUCT, {"gold": 1})
        with pytest.raises(UnknownProduct):
            m.vendor.ship_hardware("HW-1", "nope")
        # None of those shipped HW-1.
        m.vendor.ship_hardware("HW-1", PRODUCT, {"core": 1})
        _create(m)
        m.register_system(ORG, PRODUCT, "sys-1", actor=ACTOR)
        m.register_hardware(ORG, "sys-1", "HW-1", actor=ACTOR)
        assert m.system_status(ORG, "sys-1").hardware_capacity == {"core": 1}

    def test_r10_history_holds_at_most_the_last_four_symbols(self, m: Manager) -> None:
        _create(m)
        key = _redeem(m, {"core": 1})
        text = json.dumps(
            [attrs.asdict(a) for a in m.history(ORG)], default=str, ensure_ascii=False
        )
        assert _normalised(key)[-5:] not in _normalised(text)
        assert key not in text

    def test_r6_hardware_key_adds_hardware_lots_only(self, m: Manager) -> None:
        _create(m)
        _redeem(m, {"core": 4}, kind=LicenseKind.HARDWARE)
        _redeem(m, {"core": 1})
        wallet = m.wallet(ORG, PRODUCT)
        assert wallet.balance(LicenseKind.HARDWARE) == {"core": 4}
        assert wallet.balance() == {"core": 1}
        assert wallet.balance(LicenseKind.SUBSCRIPTION) == {"core": 1}
        m.start_subscription(ORG, PRODUCT, actor=ACTOR)
        with pytest.raises(InsufficientLicenses) as raised:
            m.allocate(ORG, PRODUCT, {"core": 2}, actor=ACTOR)
        assert raised.value.shortfall == {"core": 1}

    def test_r6_lot_of_29_february_expires_28_february(
        self, m: Manager, clock: ManualClock
    ) -> None:
        clock.set(_noon(2028, 2, 29))
        _create(m)
        _redeem(m, {"core": 1})
        assert _lots(m.wallet(ORG, PRODUCT)) == [
            (LicenseKind.SUBSCRIPTION, "core", 1, date(2028, 2, 29), date(2033, 2, 28))
        ]
        assert m.wallet(ORG, PRODUCT, at=_noon(2033, 2, 27)).balance() == {"core": 1}
        assert m.wallet(ORG, PRODUCT, at=datetime(2033, 2, 28, tzinfo=UTC)).lots == ()

    def test_r6_allocation_uses_the_earliest_expiry_first(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _started(m)
        _redeem_on(m, clock, _noon(2026, 6, 1), {"core": 5})
        _redeem_on(m, clock, _noon(2026, 6, 2), {"core": 5, "door": 1})
        assert _lots(m.wallet(ORG, PRODUCT)) == [
            (LicenseKind.SUBSCRIPTION, "core", 5, date(2026, 6, 1), date(2031, 6, 1)),
            (LicenseKind.SUBSCRIPTION, "core", 5, date(2026, 6, 2), date(2031, 6, 2)),
            (LicenseKind.SUBSCRIPTION, "door", 1, date(2026, 6, 2), date(2031, 6, 2)),
        ]
        m.allocate(ORG, PRODUCT, {"core": 7}, period=1, actor=ACTOR)
        assert _lots(m.wallet(ORG, PRODUCT)) == [
            (LicenseKind.SUBSCRIPTION, "core", 3, date(2026, 6, 2), date(2031, 6, 2)),
            (LicenseKind.SUBSCRIPTION, "door", 1, date(2026, 6, 2), date(2031, 6, 2)),
        ]

    def test_r6_redeeming_needs_no_subscription_allocating_does(self, m: Manager) -> None:
        _create(m)
        _redeem(m, {"core": 2})
        assert m.wallet(ORG, PRODUCT).balance() == {"core": 2}
        before = _snapshot(m)
        with pytest.raises(SubscriptionNotStarted):
            m.allocate(ORG, PRODUCT, {"core": 1}, actor=ACTOR)
        with pytest.raises(SubscriptionNotStarted):
            m.allocate_need(ORG, PRODUCT, actor=ACTOR)
        with pytest.raises(SubscriptionNotStarted):
            m.need(ORG, PRODUCT)
        assert _snapshot(m) == before

    def test_r6_lots_expire_after_five_years_without_any_command(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _two_keys(m, clock, {"core": 10}, _noon(2026, 6, 1), {"core": 3})
        stored = len(m.history(ORG))
        clock.set(_noon(2031, 2, 1))
        wallet = m.wallet(ORG, PRODUCT)
        assert _lots(wallet) == [
            (LicenseKind.SUBSCRIPTION, "core", 3, date(2026, 6, 1), date(2031, 6, 1))
        ]
        assert m.wallet(ORG, PRODUCT, at=datetime(2030, 12, 31, 23, 59, tzinfo=UTC)).balance() == {
            "core": 13
        }
        history = m.history(ORG)
        assert len(history) == stored + 1
        expired = history[-1]
        assert expired.action == "licenses_expired"
        assert expired.on == date(2031, 1, 1)
        assert expired.actor == "system"
        assert expired.product == PRODUCT
        assert expired.details["quantity"] == 10
        assert expired.details["license_type"] == "core"
        assert m.history(ORG, until=date(2030, 12, 31)) == history[:-1]
        assert m.history(ORG, since=date(2031, 1, 1)) == [expired]
        assert m.history(ORG, actions=["licenses_expired"]) == [expired]
        assert m.history(ORG, actor="system") == [expired]
        # A later command records it once, with its own date, before its own activity.
        _redeem(m, {"door": 1})
        after = m.history(ORG)
        assert _actions(after[stored:]) == ["licenses_expired", "key_redeemed"]
        assert [(a.on, a.details["quantity"]) for a in after if a.action == "licenses_expired"] == [
            (date(2031, 1, 1), 10)
        ]
        assert after[stored + 1].on == date(2031, 2, 1)

    def test_r6_hardware_lots_expire_too(self, m: Manager, clock: ManualClock) -> None:
        _create(m)
        m.vendor.ship_hardware("HW-1", PRODUCT)
        m.register_system(ORG, PRODUCT, "sys-1", devices={"door": 2}, actor=ACTOR)
        m.register_hardware(ORG, "sys-1", "HW-1", actor=ACTOR)
        _redeem(m, {"door": 2}, kind=LicenseKind.HARDWARE)
        clock.set(_noon(2031, 1, 1))
        assert m.wallet(ORG, PRODUCT).balance(LicenseKind.HARDWARE) == {}
        expired = m.history(ORG, actions=["licenses_expired"])
        assert [(a.on, a.details["kind"], a.details["quantity"]) for a in expired] == [
            (date(2031, 1, 1), "hardware", 2)
        ]
        with pytest.raises(InsufficientLicenses) as raised:
            m.allocate_to_hardware(ORG, "HW-1", {"door": 2}, actor=ACTOR)
        assert raised.value.shortfall == {"door": 2}
        assert m.system_status(ORG, "sys-1").hardware_capacity == {}

    # -- R7: allocation -------------------------------------------------------------------------

    def test_r7_allocation_to_a_future_period_gets_no_compensation(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _started(m)
        _redeem_on(m, clock, _noon(2026, 5, 1), {"core": 20})
        allocation = m.allocate(ORG, PRODUCT, {"core": 5}, period=1, actor="bob")
        assert allocation == Allocation(
            product=PRODUCT,
            periods=(PeriodAllocation(Period(1, date(2027, 1, 1), date(2028, 1, 1)), {"core": 5}),),
            compensation={},
            credit={},
        )
        assert allocation.quantities == {"core": 5}
        assert m.wallet(ORG, PRODUCT).balance() == {"core": 15}
        allocated = m.history(ORG)[-1]
        assert allocated.action == "licenses_allocated"
        assert allocated.actor == "bob"
        assert allocated.product == PRODUCT
        assert m.need(ORG, PRODUCT, horizon=1).periods[1].allocated == {"core": 5}

    def test_r7_allocation_window_is_five_years_ahead(self, m: Manager, clock: ManualClock) -> None:
        _started(m)
        _redeem(m, {"core": 10})
        edge = m.allocate(ORG, PRODUCT, {"core": 1}, period=5, actor=ACTOR)
        assert edge.periods[0].period == Period(5, date(2031, 1, 1), date(2032, 1, 1))
        before = _snapshot(m)
        with pytest.raises(OutsideAllocationWindow):
            m.allocate(ORG, PRODUCT, {"core": 1}, period=6, actor=ACTOR)
        with pytest.raises(OutsideAllocationWindow):
            m.allocate(ORG, PRODUCT, {"core": 1}, period=-1, actor=ACTOR)
        assert _snapshot(m) == before
        clock.set(_noon(2026, 12, 31))
        with pytest.raises(OutsideAllocationWindow):
            m.allocate(ORG, PRODUCT, {"core": 1}, period=6, actor=ACTOR)
        clock.set(_noon(2027, 1, 1))
        later = m.allocate(ORG, PRODUCT, {"core": 1}, period=5, actor=ACTOR)
        assert later.periods[0].period == Period(6, date(2032, 1, 1), date(2033, 1, 1))

    def test_r7_insufficient_licenses_gives_the_exact_shortfall(self, m: Manager) -> None:
        _started(m)
        _redeem(m, {"core": 20, "universal": 1})
        before = _snapshot(m)
        with pytest.raises(InsufficientLicenses) as raised:
            m.allocate(ORG, PRODUCT, {"core": 25, "universal": 1, "door": 2}, actor=ACTOR)
        assert raised.value.shortfall == {"core": 5, "door": 2}
        assert _snapshot(m) == before

    def test_r14_allocate_checks_its_input(self, m: Manager) -> None:
        _started(m)
        _redeem(m, {"core": 5})
        before = _snapshot(m)
        bad: list[tuple[dict[str, Any], type[Exception]]] = [
            ({"quantities": {"gold": 1}}, InvalidInput),
            ({"quantities": {"core": 0}}, InvalidInput),
            ({"quantities": {"core": -1}}, InvalidInput),
            ({"quantities": {"core": 1_000_001}}, InvalidInput),
            ({"quantities": {}}, InvalidInput),
            ({"quantities": {"core": 1}, "period": "1"}, InvalidInput),
            ({"quantities": {"core": 1}, "period": 1.0}, InvalidInput),
        ]
        for kwargs, error in bad:
            quantities = kwargs.pop("quantities")
            with pytest.raises(error):
                m.allocate(ORG, PRODUCT, quantities, actor=ACTOR, **kwargs)
        with pytest.raises(InvalidInput):
            m.allocate(ORG, PRODUCT, {"core": 1}, actor="")
        with pytest.raises(UnknownProduct):
            m.allocate(ORG, "nope", {"core": 1}, actor=ACTOR)
        assert _snapshot(m) == before

    def test_r7_allocate_need_allocates_the_exact_shortfall_through_n(self, m: Manager) -> None:
        _started(m)
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 5, "universal": 2}, actor=ACTOR)
        _redeem(m, {"core": 20, "universal": 10})
        need = m.need(ORG, PRODUCT, horizon=2)
        assert [(pn.offset, pn.period) for pn in need.periods] == [
            (0, Period(0, date(2026, 1, 1), date(2027, 1, 1))),
            (1, Period(1, date(2027, 1, 1), date(2028, 1, 1))),
            (2, Period(2, date(2028, 1, 1), date(2029, 1, 1))),
        ]
        for pn in need.periods:
            assert pn.need == {"core": 5, "universal": 2}
            assert pn.allocated == {}
            assert pn.shortfall == {"core": 5, "universal": 2}
        assert need.wallet == {"core": 20, "universal": 10}
        assert need.to_buy == {}

        allocation = m.allocate_need(ORG, PRODUCT, through=2, actor=ACTOR)
        assert per_period(allocation) == [
            (0, {"core": 5, "universal": 2}),
            (1, {"core": 5, "universal": 2}),
            (2, {"core": 5, "universal": 2}),
        ]
        assert allocation.quantities == {"core": 15, "universal": 6}
        assert allocation.compensation == {}
        assert allocation.credit == {}
        assert m.wallet(ORG, PRODUCT).balance() == {"core": 5, "universal": 4}
        status = m.status(ORG, PRODUCT)
        assert status.state is ProductState.LICENSED
        assert status.allocated == {"core": 5, "universal": 2}
        assert status.required_now == {}
        assert status.growth_exceeded is False
        assert status.licensed_through == date(2029, 1, 1)
        assert _actions(m.history(ORG, actions=["licenses_allocated"])) == ["licenses_allocated"]

        need = m.need(ORG, PRODUCT, horizon=5)
        assert [pn.shortfall for pn in need.periods] == [
            {},
            {},
            {},
            {"core": 5, "universal": 2},
            {"core": 5, "universal": 2},
            {"core": 5, "universal": 2},
        ]
        assert need.periods[0].need == {"core": 5, "universal": 2}
        assert need.wallet == {"core": 5, "universal": 4}
        assert need.to_buy == {"core": 10, "universal": 2}

        before = _snapshot(m)
        with pytest.raises(InsufficientLicenses) as raised:
            m.allocate_need(ORG, PRODUCT, through=5, actor=ACTOR)
        assert raised.value.shortfall == {"core": 10, "universal": 2}
        with pytest.raises(OutsideAllocationWindow):
            m.allocate_need(ORG, PRODUCT, through=6, actor=ACTOR)
        with pytest.raises(OutsideAllocationWindow):
            m.allocate_need(ORG, PRODUCT, through=-1, actor=ACTOR)
        assert _snapshot(m) == before

    def test_r7_allocate_need_with_nothing_needed_records_nothing(self, m: Manager) -> None:
        _started(m, core=2)
        _redeem(m, {"core": 9})
        m.allocate_need(ORG, PRODUCT, through=1, actor=ACTOR)
        before = _snapshot(m)
        again = m.allocate_need(ORG, PRODUCT, through=1, actor=ACTOR)
        assert again == Allocation(product=PRODUCT)
        assert again.periods == ()
        assert again.quantities == {}
        assert again.compensation == {}
        assert _snapshot(m) == before
        m.report_devices(ORG, "sys-1", {}, actor=ACTOR)
        m.register_system(ORG, PRODUCT, "sys-2", actor=ACTOR)
        before = _snapshot(m)
        assert m.allocate_need(ORG, PRODUCT, through=3, actor=ACTOR).periods == ()
        assert _snapshot(m) == before

    def test_r7_allocate_need_takes_needed_types_only(self, m: Manager) -> None:
        _started(m, core=2)
        _redeem(m, {"universal": 5})
        before = _snapshot(m)
        with pytest.raises(InsufficientLicenses) as raised:
            m.allocate_need(ORG, PRODUCT, actor=ACTOR)
        assert raised.value.shortfall == {"core": 2}
        assert _snapshot(m) == before

    # -- R8: overlap compensation --------------------------------------------------------------

    def test_r8_new_product_mid_period_compensation(
        self, suite: Manager, clock: ManualClock
    ) -> None:
        m = _started(suite)  # anchor 2026-01-01
        clock.set(_noon(2026, 7, 2))
        m.start_subscription(ORG, EDGE, actor=ACTOR)
        clock.set(_noon(2026, 7, 10))
        _redeem(m, {"core": 10}, product=EDGE)
        allocation = m.allocate(ORG, EDGE, {"core": 10}, actor=ACTOR)
        assert allocation.periods == (
            PeriodAllocation(Period(0, date(2026, 1, 1), date(2027, 1, 1)), {"core": 10}),
        )
        assert allocation.compensation == {"core": 4}
        assert allocation.credit == {"core": Fraction(72, 73)}
        wallet = m.wallet(ORG, EDGE)
        assert _lots(wallet) == [
            (LicenseKind.SUBSCRIPTION, "core", 4, date(2026, 7, 10), date(2031, 7, 10))
        ]
        assert wallet.credit == {"core": Fraction(72, 73)}
        assert m.wallet(ORG, PRODUCT).credit == {}
        future = m.allocate(ORG, EDGE, {"core": 1}, period=1, actor=ACTOR)
        assert future.compensation == {}
        assert future.credit == {"core": Fraction(72, 73)}  # the credit after it, unchanged
        _redeem(m, {"core": 1}, product=EDGE)
        history = m.history(ORG)
        assert _actions(history[-4:]) == [
            "licenses_allocated",
            "compensation_credited",
            "licenses_allocated",
            "key_redeemed",
        ]
        credited = history[-3]
        assert credited.actor == "system"
        assert credited.product == EDGE
        assert credited.on == date(2026, 7, 10)
        assert credited.details["quantities"] == {"core": 4}

        # With an earlier credit of 72/73: period [2027-01-01, 2028-01-01), grace ends
        # 2027-01-31, 10 licenses on 2027-03-02 → 72/73 + 120/73 = 2 + 46/73.
        clock.set(_noon(2027, 3, 2))
        _redeem(m, {"core": 10}, product=EDGE)
        second = m.allocate(ORG, EDGE, {"core": 10}, actor=ACTOR)
        assert second.periods[0].period == Period(1, date(2027, 1, 1), date(2028, 1, 1))
        assert second.compensation == {"core": 2}
        assert second.credit == {"core": Fraction(46, 73)}
        # The 4 compensated licenses expire first, so they were used first.
        assert _lots(m.wallet(ORG, EDGE)) == [
            (LicenseKind.SUBSCRIPTION, "core", 4, date(2027, 3, 2), date(2032, 3, 2)),
            (LicenseKind.SUBSCRIPTION, "core", 2, date(2027, 3, 2), date(2032, 3, 2)),
        ]
        assert m.wallet(ORG, EDGE).credit == {"core": Fraction(46, 73)}

    def test_r8_allocation_after_the_grace_window(self, m: Manager, clock: ManualClock) -> None:
        _started(m, core=10)
        _redeem_on(m, clock, _noon(2027, 3, 2), {"core": 10})
        assert m.status(ORG, PRODUCT).state is ProductState.UNLICENSED
        allocation = m.allocate(ORG, PRODUCT, {"core": 10}, actor=ACTOR)
        assert allocation.periods[0].period == Period(1, date(2027, 1, 1), date(2028, 1, 1))
        assert allocation.compensation == {"core": 1}
        assert allocation.credit == {"core": Fraction(47, 73)}
        assert _lots(m.wallet(ORG, PRODUCT)) == [
            (LicenseKind.SUBSCRIPTION, "core", 1, date(2027, 3, 2), date(2032, 3, 2))
        ]
        status = m.status(ORG, PRODUCT)
        assert status.state is ProductState.LICENSED
        assert status.licensed_through == date(2028, 1, 1)

    def test_r8_compensation_on_a_five_year_term(self, suite: Manager, clock: ManualClock) -> None:
        m = suite
        _create(m)
        m.start_subscription(ORG, VAULT, actor=ACTOR)  # [2026-01-01, 2031-01-01): 1826 days
        clock.set(_noon(2026, 3, 2))
        _redeem(m, {"core": 10}, product=VAULT)
        allocation = m.allocate(ORG, VAULT, {"core": 10}, actor=ACTOR)
        assert allocation.compensation == {}
        assert allocation.credit == {"core": Fraction(300, 913)}  # 10 × 60 / 1826
        assert m.wallet(ORG, VAULT).credit == {"core": Fraction(300, 913)}
        assert "compensation_credited" not in _actions(m.history(ORG))

    def test_r8_top_up_of_a_locked_period_after_its_window(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _started(m, core=4)
        _redeem(m, {"core": 10})
        first = m.allocate(ORG, PRODUCT, {"core": 4}, actor=ACTOR)
        assert first.compensation == {}
        assert first.credit == {}
        clock.set(_noon(2026, 7, 20))  # 200 days into a 365-day period
        top_up = m.allocate(ORG, PRODUCT, {"core": 2}, actor=ACTOR)
        assert top_up.compensation == {"core": 1}  # 2 × 200 / 365 = 1 + 7/73
        assert top_up.credit == {"core": Fraction(7, 73)}
        assert m.status(ORG, PRODUCT).allocated == {"core": 6}
        assert m.wallet(ORG, PRODUCT).balance() == {"core": 5}

    # -- R4, R5: need, locking, growth ---------------------------------------------------------

    def test_r5_locked_period_allows_growth_then_requires_more(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _started(m, core=10)
        _bought(m, {"core": 10})
        m.report_devices(ORG, "sys-1", {"core": 20}, actor=ACTOR)
        within = m.status(ORG, PRODUCT)
        assert within.state is ProductState.LICENSED
        assert within.growth_exceeded is False
        assert within.required_now == {}
        need = m.need(ORG, PRODUCT, horizon=1)
        assert need.periods[0].need == {"core": 10}
        assert need.periods[0].shortfall == {}
        assert need.periods[1].need == {"core": 20}
        assert need.periods[1].shortfall == {"core": 20}
        assert m.history(ORG, actions=["growth_exceeded"]) == []

        clock.set(_noon(2026, 2, 1))
        m.report_devices(ORG, "sys-1", {"core": 23}, actor=ACTOR)
        assert _actions(m.history(ORG)[-2:]) == ["devices_reported", "growth_exceeded"]
        over = m.status(ORG, PRODUCT)
        assert over.state is ProductState.LICENSED
        assert over.growth_exceeded is True
        assert over.required_now == {"core": 2}  # ceil(23 / 2) - 10
        need = m.need(ORG, PRODUCT, horizon=0)
        assert need.periods[0].need == {"core": 12}
        assert need.periods[0].shortfall == {"core": 2}
        assert need.to_buy == {"core": 2}
        flagged = m.history(ORG, actions=["growth_exceeded"])
        assert [(a.on, a.actor, a.product) for a in flagged] == [
            (date(2026, 2, 1), "system", PRODUCT)
        ]
        assert flagged[0].details["required_now"] == {"core": 2}

        m.report_devices(ORG, "sys-1", {"core": 25}, actor=ACTOR)
        assert m.status(ORG, PRODUCT).required_now == {"core": 3}
        assert len(m.history(ORG, actions=["growth_exceeded"])) == 1

        _redeem(m, {"core": 3})
        top_up = m.allocate_need(ORG, PRODUCT, actor=ACTOR)
        assert top_up.quantities == {"core": 3}
        assert top_up.credit == {"core": Fraction(93, 365)}  # 3 × 31 / 365
        fixed = m.status(ORG, PRODUCT)
        assert fixed.growth_exceeded is False
        assert fixed.required_now == {}
        assert fixed.allocated == {"core": 13}

    def test_r5_shortfall_is_counted_per_needed_type(self, m: Manager) -> None:
        _started(m)
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 5, "universal": 2}, actor=ACTOR)
        _bought(m, {"core": 3}, period=1)
        need = m.need(ORG, PRODUCT, horizon=1)
        assert need.periods[1].allocated == {"core": 3}
        assert need.periods[1].shortfall == {"core": 2, "universal": 2}
        assert need.to_buy == {"core": 7, "universal": 4}

    def test_r5_universal_licenses_cover_core_devices(self, m: Manager) -> None:
        _started(m, core=5)
        _bought(m, {"core": 3, "universal": 2})
        status = m.status(ORG, PRODUCT, at=_noon(2026, 6, 1))
        assert status.state is ProductState.LICENSED
        assert status.required_now == {}

    def test_r5_advance_allocation_locks_at_the_period_start(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _started(m, core=5)
        _bought(m, {"core": 5}, period=1)
        now = m.status(ORG, PRODUCT)
        assert now.state is ProductState.TRIAL
        assert now.licensed_through is None
        renewed = m.status(ORG, PRODUCT, at=_noon(2027, 1, 1))
        assert renewed.state is ProductState.LICENSED
        assert renewed.period == Period(1, date(2027, 1, 1), date(2028, 1, 1))
        assert renewed.licensed_through == date(2028, 1, 1)
        # Growth after the lock stays within the allowance (5 × 2).
        clock.set(_noon(2027, 1, 2))
        m.report_devices(ORG, "sys-1", {"core": 8}, actor=ACTOR)
        grown = m.status(ORG, PRODUCT)
        assert grown.state is ProductState.LICENSED
        assert grown.growth_exceeded is False

    def test_r5_advance_allocation_that_no_longer_covers_gives_grace(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _started(m, core=5)
        _bought(m, {"core": 5}, period=1)
        clock.set(_noon(2026, 6, 1))
        m.report_devices(ORG, "sys-1", {"core": 8}, actor=ACTOR)
        assert m.need(ORG, PRODUCT, horizon=1).periods[1].shortfall == {"core": 3}
        renewed = m.status(ORG, PRODUCT, at=_noon(2027, 1, 1))
        assert renewed.state is ProductState.GRACE
        assert renewed.window_ends_on == date(2027, 1, 31)
        assert renewed.allocated == {"core": 5}
        assert m.status(ORG, PRODUCT, at=_noon(2027, 1, 31)).state is ProductState.UNLICENSED
        # Back within the allocation during the grace window: the period locks then,
        # and later growth within the allowance (5 × 2) keeps it licensed.
        clock.set(_noon(2027, 1, 10))
        m.report_devices(ORG, "sys-1", {"core": 5}, actor=ACTOR)
        assert m.status(ORG, PRODUCT).state is ProductState.LICENSED
        m.report_devices(ORG, "sys-1", {"core": 10}, actor=ACTOR)
        relocked = m.status(ORG, PRODUCT, at=_noon(2027, 6, 1))
        assert relocked.state is ProductState.LICENSED
        assert relocked.growth_exceeded is False
        assert relocked.licensed_through == date(2028, 1, 1)

    def test_r5_licensed_through_counts_the_unbroken_run(self, m: Manager) -> None:
        _started(m, core=5)
        _redeem(m, {"core": 20})
        for offset in (0, 1, 2, 4):
            m.allocate(ORG, PRODUCT, {"core": 5}, period=offset, actor=ACTOR)
        assert m.status(ORG, PRODUCT).licensed_through == date(2029, 1, 1)
        at_period_3 = m.status(ORG, PRODUCT, at=_noon(2029, 6, 1))
        assert at_period_3.state is ProductState.UNLICENSED
        assert at_period_3.licensed_through is None
        at_period_4 = m.status(ORG, PRODUCT, at=_noon(2030, 6, 1))
        assert at_period_4.state is ProductState.LICENSED
        assert at_period_4.licensed_through == date(2031, 1, 1)

    # -- R9: hardware ---------------------------------------------------------------------------

    def test_r9_hardware_covers_its_own_system_first(self, m: Manager) -> None:
        _create(m)
        m.vendor.ship_hardware("HW-1", PRODUCT, {"core": 4})
        m.vendor.ship_hardware("HW-2", PRODUCT, {"universal": 2})
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 7, "door": 1}, actor=ACTOR)
        m.register_system(ORG, PRODUCT, "sys-2", devices={"core": 2}, actor=ACTOR)
        m.register_hardware(ORG, "sys-1", "HW-1", actor="bob")
        one = m.system_status(ORG, "sys-1")
        assert one.devices == {"core": 7, "door": 1}
        assert one.hardware_capacity == {"core": 4}
        assert one.hardware_covered == {"core": 4}
        assert one.subscription_devices == {"core": 3, "door": 1}
        assert one.licensed is False
        registered = m.history(ORG)[-1]
        assert registered.action == "hardware_registered"
        assert registered.actor == "bob"
        assert registered.system_id == "sys-1"
        assert registered.details["serial"] == "HW-1"
        assert m.status(ORG, PRODUCT).devices == {"core": 5, "door": 1}

        m.register_hardware(ORG, "sys-1", "HW-2", actor=ACTOR)
        two = m.system_status(ORG, "sys-1")
        assert two.hardware_capacity == {"core": 4, "universal": 2}
        assert two.hardware_covered == {"core": 6}
        assert two.subscription_devices == {"core": 1, "door": 1}
        # Hardware covers its own system only.
        assert m.system_status(ORG, "sys-2").subscription_devices == {"core": 2}
        assert m.status(ORG, PRODUCT).devices == {"core": 3, "door": 1}

    def test_r9_extension_licenses_move_onto_hardware(self, m: Manager) -> None:
        _create(m)
        m.vendor.ship_hardware("HW-1", PRODUCT, {"core": 6})
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 7, "door": 1}, actor=ACTOR)
        m.register_hardware(ORG, "sys-1", "HW-1", actor=ACTOR)
        _redeem(m, {"core": 1, "door": 1}, kind=LicenseKind.HARDWARE)
        assert m.wallet(ORG, PRODUCT).balance(LicenseKind.HARDWARE) == {"core": 1, "door": 1}
        m.allocate_to_hardware(ORG, "HW-1", {"core": 1, "door": 1}, actor="bob")
        assert m.wallet(ORG, PRODUCT).balance(LicenseKind.HARDWARE) == {}
        status = m.system_status(ORG, "sys-1")
        assert status.hardware_capacity == {"core": 7, "door": 1}
        assert status.hardware_covered == {"core": 7, "door": 1}
        assert status.subscription_devices == {}
        assert status.licensed is True
        assert m.status(ORG, PRODUCT).devices == {}
        extended = m.history(ORG)[-1]
        assert extended.action == "extension_allocated"
        assert extended.actor == "bob"
        assert extended.system_id == "sys-1"
        assert extended.details["serial"] == "HW-1"
        before = _snapshot(m, systems=[(ORG, "sys-1")])
        with pytest.raises(InsufficientLicenses) as raised:
            m.allocate_to_hardware(ORG, "HW-1", {"core": 1}, actor=ACTOR)
        assert raised.value.shortfall == {"core": 1}
        assert _snapshot(m, systems=[(ORG, "sys-1")]) == before

    def test_r9_system_licensed_through_its_product(self, m: Manager) -> None:
        _create(m)
        m.vendor.ship_hardware("HW-1", PRODUCT, {"core": 1})
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 3}, actor=ACTOR)
        m.register_hardware(ORG, "sys-1", "HW-1", actor=ACTOR)
        m.start_subscription(ORG, PRODUCT, actor=ACTOR)
        assert m.system_status(ORG, "sys-1").licensed is False
        _redeem(m, {"core": 2})
        m.allocate_need(ORG, PRODUCT, actor=ACTOR)
        status = m.system_status(ORG, "sys-1")
        assert status.subscription_devices == {"core": 2}
        assert status.licensed is True
        assert m.status(ORG, PRODUCT).allocated == {"core": 2}

    def test_r9_hardware_registration_errors(self, suite: Manager) -> None:
        m = suite
        _create(m)
        _create(m, OTHER)
        m.vendor.ship_hardware("HW-1", PRODUCT, {"core": 1})
        m.vendor.ship_hardware("HW-E", EDGE, {"core": 1})
        m.register_system(ORG, PRODUCT, "sys-1", actor=ACTOR)
        m.register_system(ORG, PRODUCT, "sys-2", actor=ACTOR)
        m.register_system(OTHER, PRODUCT, "sys-b", actor=ACTOR)
        m.register_hardware(ORG, "sys-1", "HW-1", actor=ACTOR)
        systems = [(ORG, "sys-1"), (ORG, "sys-2"), (OTHER, "sys-b")]
        before = _snapshot(m, [ORG, OTHER], systems=systems)
        with pytest.raises(AlreadyRegistered):
            m.register_hardware(ORG, "sys-1", "HW-1", actor=ACTOR)
        with pytest.raises(AlreadyRegistered):
            m.register_hardware(ORG, "sys-2", "HW-1", actor=ACTOR)
        with pytest.raises(AlreadyRegistered) as elsewhere:
            m.register_hardware(OTHER, "sys-b", "HW-1", actor=ACTOR)
        assert ORG not in str(elsewhere.value)
        with pytest.raises(UnknownHardware):
            m.register_hardware(ORG, "sys-2", "HW-404", actor=ACTOR)
        with pytest.raises(InvalidInput):
            m.register_hardware(ORG, "sys-2", "HW-E", actor=ACTOR)
        with pytest.raises(UnknownSystem):
            m.register_hardware(ORG, "sys-b", "HW-E", actor=ACTOR)
        with pytest.raises(UnknownHardware):
            m.allocate_to_hardware(OTHER, "HW-1", {"core": 1}, actor=ACTOR)
        with pytest.raises(AlreadyExists):
            m.vendor.ship_hardware("HW-1", PRODUCT, {"core": 9})
        assert _snapshot(m, [ORG, OTHER], systems=systems) == before
        # The unit for the other product is still free to claim.
        m.register_system(ORG, EDGE, "sys-e", actor=ACTOR)
        m.register_hardware(ORG, "sys-e", "HW-E", actor=ACTOR)
        assert m.system_status(ORG, "sys-e").hardware_capacity == {"core": 1}

    # -- R12: offline systems -------------------------------------------------------------------

    def test_r12_license_file_in_trial(self, m: Manager, clock: ManualClock) -> None:
        _started(m)
        now = clock.now()
        file = _off1(now, {"core": 2})
        license_file = m.upload_system_file(ORG, file, actor="bob")
        entitlement = _license(m, license_file, "off-1", now)
        assert entitlement == Entitlement(
            org_id=ORG,
            product=PRODUCT,
            system_id="off-1",
            licensed=False,
            state=ProductState.TRIAL,
            valid_until=date(2026, 1, 30),  # the trial's last day, e - 1 (R12)
            devices=Counts({"core": 2}),  # inside the trial: the reported devices
            issued_at=now,
            timezone="UTC",
        )
        assert entitlement.may_run  # a VMS keeps running through its trial
        assert m.system_status(ORG, "off-1").devices == {"core": 2}
        uploaded = m.history(ORG)[-1]
        assert _who(uploaded) == ("system_file_uploaded", "bob", "off-1", PRODUCT)
        assert uploaded.details["devices"] == {"core": 2}
        assert uploaded.details["hardware"] == []
        with pytest.raises(WrongSystem):
            _license(m, license_file, "off-2", now)
        assert _license(m, license_file, "off-1", _noon(2026, 1, 30)).may_run
        with pytest.raises(LicenseFileExpired):  # on day e the portal says UNLICENSED
            _license(m, license_file, "off-1", _noon(2026, 1, 31))

    def test_r12_license_file_when_licensed(self, m: Manager, clock: ManualClock) -> None:
        _started(m)
        now = clock.now()
        file = _off1(now, {"core": 2})
        m.upload_system_file(ORG, file, actor=ACTOR)
        _redeem(m, {"core": 4})
        m.allocate(ORG, PRODUCT, {"core": 2}, actor=ACTOR)
        now = _noon_on(clock, 2026, 3, 1)
        file = _off1(now, {"core": 2})
        entitlement = _license(m, m.upload_system_file(ORG, file, actor=ACTOR), "off-1", now)
        assert entitlement.licensed is True
        assert (entitlement.state, entitlement.may_run) == (ProductState.LICENSED, True)
        assert entitlement.valid_until == date(2027, 1, 31)  # licensed_through + 30 days
        assert entitlement.devices == {"core": 2}
        assert entitlement.issued_at == now
        m.allocate(ORG, PRODUCT, {"core": 2}, period=1, actor=ACTOR)
        entitlement = _license(m, m.upload_system_file(ORG, file, actor=ACTOR), "off-1", now)
        assert entitlement.valid_until == date(2028, 1, 31)
        assert len(m.history(ORG, actions=["system_file_uploaded"])) == 3

    def test_r12_license_file_in_grace(self, m: Manager, clock: ManualClock) -> None:
        _started(m)
        m.register_system(ORG, PRODUCT, "off-1", devices={"core": 2}, actor=ACTOR)
        _bought(m, {"core": 2})
        now = _noon_on(clock, 2027, 1, 10)
        file = _off1(now, {"core": 2})
        entitlement = _license(m, m.upload_system_file(ORG, file, actor=ACTOR), "off-1", now)
        assert m.status(ORG, PRODUCT).state is ProductState.GRACE
        assert entitlement.licensed is False
        assert (entitlement.state, entitlement.may_run) == (ProductState.GRACE, True)
        assert entitlement.valid_until == date(2027, 1, 30)  # the window's last day, e - 1
        assert entitlement.devices == {"core": 2}

    def test_r12_license_file_through_hardware_alone(self, m: Manager, clock: ManualClock) -> None:
        _create(m)
        m.vendor.ship_hardware("HW-9", PRODUCT, {"core": 3})
        now = _noon_on(clock, 2026, 2, 15)
        file = _off1(now, {"core": 2}, ["HW-9"])
        entitlement = _license(m, m.upload_system_file(ORG, file, actor=ACTOR), "off-1", now)
        assert entitlement.licensed is True
        # the product has not started: the file says unlicensed, yet the hardware lets it run
        assert (entitlement.state, entitlement.may_run) == (ProductState.UNLICENSED, True)
        assert entitlement.valid_until == date(2026, 3, 17)  # issue date + 30 days
        assert entitlement.devices == {"core": 2}
        status = m.system_status(ORG, "off-1")
        assert status.hardware_capacity == {"core": 3}
        assert status.hardware_covered == {"core": 2}
        assert status.subscription_devices == {}
        assert m.history(ORG)[-1].details["hardware"] == ["HW-9"]
        # The same file again: the unit is already this system's.
        again = _license(m, m.upload_system_file(ORG, file, actor=ACTOR), "off-1", now)
        assert again.valid_until == date(2026, 3, 17)

    def test_r12_license_file_when_unlicensed(self, m: Manager, clock: ManualClock) -> None:
        _started(m)
        m.vendor.ship_hardware("HW-5", PRODUCT, {"core": 1})
        now = _noon_on(clock, 2026, 2, 15)
        file = _off1(now, {"core": 3}, ["HW-5"])
        license_file = m.upload_system_file(ORG, file, actor=ACTOR)
        entitlement = _license(m, license_file, "off-1", now)
        assert entitlement.licensed is False
        assert (entitlement.state, entitlement.may_run) == (ProductState.UNLICENSED, False)
        assert entitlement.valid_until == date(2026, 2, 15)  # the issue date
        assert entitlement.devices == {"core": 1}  # what the hardware covers
        assert m.status(ORG, PRODUCT).state is ProductState.UNLICENSED
        with pytest.raises(LicenseFileExpired):
            _license(m, license_file, "off-1", datetime(2026, 2, 16, tzinfo=UTC))

    def test_r12_upload_replaces_devices_of_a_known_system(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _create(m)
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 4}, actor=ACTOR)
        now = clock.now()
        file = offline.describe_system(
            system_id="sys-1", product=PRODUCT, devices={"door": 1}, now=now
        )
        m.upload_system_file(ORG, file, actor=ACTOR)
        assert m.system_status(ORG, "sys-1").devices == {"door": 1}
        assert _actions(m.history(ORG)) == [
            "organization_created",
            "system_registered",
            "system_file_uploaded",
        ]

    def test_r12_upload_is_all_or_nothing(self, m: Manager, clock: ManualClock) -> None:
        _create(m)
        _create(m, OTHER)
        m.vendor.ship_hardware("HW-1", PRODUCT, {"core": 1})
        m.vendor.ship_hardware("HW-B", PRODUCT, {"core": 1})
        m.register_system(OTHER, PRODUCT, "sys-b", actor=ACTOR)
        m.register_hardware(OTHER, "sys-b", "HW-B", actor=ACTOR)
        before = _snapshot(m, [ORG, OTHER])
        now = clock.now()
        file = offline.describe_system(
            system_id="off-2",
            product=PRODUCT,
            devices={"core": 2},
            hardware=["HW-1", "HW-B"],
            now=now,
        )
        with pytest.raises(AlreadyRegistered) as raised:
            m.upload_system_file(ORG, file, actor=ACTOR)
        assert OTHER not in str(raised.value)
        assert _snapshot(m, [ORG, OTHER]) == before
        with pytest.raises(UnknownSystem):
            m.system_status(ORG, "off-2")
        # Neither the system id nor HW-1 was claimed by the failed upload.
        m.register_system(ORG, PRODUCT, "off-2", actor=ACTOR)
        m.register_hardware(ORG, "off-2", "HW-1", actor=ACTOR)
        assert m.system_status(ORG, "off-2").hardware_capacity == {"core": 1}

    # -- R11: history ---------------------------------------------------------------------------

    def _history_org(self, m: Manager, clock: ManualClock) -> None:
        _create(m)  # 2026-01-01 12:00, alice
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 2}, actor=ACTOR)
        clock.set(_noon(2026, 1, 2))
        m.start_subscription(ORG, PRODUCT, actor="bob")
        clock.set(_noon(2026, 1, 3))
        key = m.vendor.issue_key(PRODUCT, quantities={"core": 5})
        m.redeem_key(ORG, key, actor="bob")
        clock.set(_noon(2026, 1, 4))
        m.allocate(ORG, PRODUCT, {"core": 2}, actor=ACTOR)
        clock.set(_noon(2026, 1, 5))
        m.report_devices(ORG, "sys-1", {"core": 3}, actor="carol")
        m.create_organization(OTHER, name="Other", actor="dave")

    def test_r11_history_is_oldest_first_and_filters(self, m: Manager, clock: ManualClock) -> None:
        self._history_org(m, clock)
        history = m.history(ORG)
        assert [(a.action, a.actor, a.on, a.at) for a in history] == [
            ("organization_created", ACTOR, date(2026, 1, 1), _noon(2026, 1, 1)),
            ("system_registered", ACTOR, date(2026, 1, 1), _noon(2026, 1, 1)),
            ("subscription_started", "bob", date(2026, 1, 2), _noon(2026, 1, 2)),
            ("key_redeemed", "bob", date(2026, 1, 3), _noon(2026, 1, 3)),
            ("licenses_allocated", ACTOR, date(2026, 1, 4), _noon(2026, 1, 4)),
            ("devices_reported", "carol", date(2026, 1, 5), _noon(2026, 1, 5)),
        ]
        assert [a.product for a in history] == [None, *[PRODUCT] * 5]
        assert [a.system_id for a in history] == [None, "sys-1", None, None, None, "sys-1"]
        assert _actions(m.history(OTHER)) == ["organization_created"]
        assert m.history(OTHER)[0].actor == "dave"

        assert m.history(ORG, product=PRODUCT) == history[1:]
        assert m.history(ORG, actor="bob") == history[2:4]
        assert m.history(ORG, actions=["devices_reported", "key_redeemed"]) == [
            history[3],
            history[5],
        ]
        assert m.history(ORG, actions=[]) == []
        assert m.history(ORG, since=date(2026, 1, 3)) == history[3:]
        assert m.history(ORG, until=date(2026, 1, 2)) == history[:3]
        assert m.history(ORG, since=date(2026, 1, 2), until=date(2026, 1, 4)) == history[2:5]
        assert (
            m.history(ORG, since=_noon(2026, 1, 2), until=datetime(2026, 1, 4, 11, 59, tzinfo=UTC))
            == history[2:4]
        )
        plus_one = timezone(timedelta(hours=1))
        assert m.history(ORG, since=datetime(2026, 1, 3, 13, 0, tzinfo=plus_one)) == history[3:]
        assert m.history(ORG, actor=ACTOR, product=PRODUCT) == [history[1], history[4]]
        assert m.history(ORG, actor="nobody") == []

    def test_r11_history_pages(self, m: Manager, clock: ManualClock) -> None:
        self._history_org(m, clock)
        history = m.history(ORG)
        assert m.history(ORG, limit=2) == history[:2]
        assert m.history(ORG, limit=2, offset=2) == history[2:4]
        assert m.history(ORG, offset=5) == history[5:]
        assert m.history(ORG, offset=6) == []
        assert m.history(ORG, limit=0) == []
        assert m.history(ORG, actor=ACTOR, product=PRODUCT, limit=1, offset=1) == [history[4]]
        with pytest.raises(InvalidInput):
            m.history(ORG, limit=-1)
        with pytest.raises(InvalidInput):
            m.history(ORG, offset=-1)
        with pytest.raises(InvalidInput):
            m.history(ORG, actions=["no_such_action"])
        with pytest.raises(InvalidInput):
            m.history(ORG, since=datetime(2026, 1, 1))  # naive on purpose
        with pytest.raises(UnknownProduct):
            m.history(ORG, product="nope")

    def test_r11_pending_expiries_page_like_stored_activities(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _two_keys(m, clock, {"core": 1}, _noon(2026, 1, 2), {"door": 1})
        clock.set(_noon(2031, 3, 1))
        history = m.history(ORG)
        assert [(a.action, a.on) for a in history] == [
            ("organization_created", date(2026, 1, 1)),
            ("key_redeemed", date(2026, 1, 1)),
            ("key_redeemed", date(2026, 1, 2)),
            ("licenses_expired", date(2031, 1, 1)),
            ("licenses_expired", date(2031, 1, 2)),
        ]
        assert m.history(ORG, limit=3) == history[:3]
        assert m.history(ORG, limit=2, offset=2) == history[2:4]
        assert m.history(ORG, offset=3) == history[3:]
        assert m.history(ORG, offset=4) == history[4:]
        assert m.history(ORG, limit=1, offset=4) == history[4:]
        assert m.history(ORG, offset=5) == []
        assert m.history(ORG, actions=["licenses_expired"], offset=1) == history[4:]
        assert m.history(ORG, since=date(2031, 1, 2)) == history[4:]
        assert m.history(ORG, until=date(2031, 1, 1)) == history[:4]

    def test_r14_ids_are_kept_exactly(self, m: Manager, clock: ManualClock) -> None:
        long_id = "ö" * 127 + "x"  # 128 characters, non-ASCII
        quoted = "o.rg@x+_-1~:"  # a new id's characters (R14)
        m.create_organization(long_id, name="Café 東京 ✓", actor="émilie", timezone="UTC")
        m.create_organization(quoted, name="Quoted", actor="al_ce")
        m.create_organization(quoted.upper(), name="Upper", actor="alice")
        m.register_system(long_id, PRODUCT, long_id, devices={"core": 1}, actor="émilie")
        m.register_system(quoted, PRODUCT, "sys-1", actor="al_ce")
        m.register_system(quoted.upper(), PRODUCT, "SYS-1", actor="alice")
        created = m.history(long_id)[0]
        assert created.actor == "émilie"
        assert created.details["name"] == "Café 東京 ✓"
        assert m.system_status(long_id, long_id).devices == {"core": 1}
        assert m.history(long_id)[-1].system_id == long_id
        assert [a.actor for a in m.history(quoted)] == ["al_ce", "al_ce"]
        assert m.history(quoted, actor="al_ce") == m.history(quoted)
        assert m.history(quoted.upper(), actor="al_ce") == []
        assert m.history(quoted.upper(), actor="al%") == []
        assert m.system_status(quoted.upper(), "SYS-1").system_id == "SYS-1"
        with pytest.raises(UnknownSystem):
            m.system_status(quoted.upper(), "sys-1")
        with pytest.raises(UnknownOrganization):
            m.history("O'RG")

    def test_r14_bad_ids_are_rejected(self, m: Manager) -> None:
        for bad in ("", "   ", "x" * 129, "a\nb", "a\x00b"):
            with pytest.raises(InvalidInput):
                m.create_organization(bad, name="Org", actor=ACTOR)
        _create(m)
        for bad in ("", "x" * 129, "tab\there"):
            with pytest.raises(InvalidInput):
                m.register_system(ORG, PRODUCT, bad, actor=ACTOR)
            with pytest.raises(InvalidInput):
                m.register_system(ORG, PRODUCT, "sys-1", actor=bad)
            with pytest.raises(InvalidInput):
                m.start_subscription(ORG, PRODUCT, actor=ACTOR, request_id=bad)
        assert _actions(m.history(ORG)) == ["organization_created"]

    def test_r11_instants_keep_their_microseconds(self, m: Manager, clock: ManualClock) -> None:
        instant = datetime(2026, 1, 1, 12, 0, 0, 123457, tzinfo=UTC)
        clock.set(instant)
        _create(m)
        clock.set(instant + timedelta(microseconds=1))
        m.register_system(ORG, PRODUCT, "sys-1", actor=ACTOR)
        history = m.history(ORG)
        assert [a.at for a in history] == [instant, instant + timedelta(microseconds=1)]
        assert m.history(ORG, since=instant + timedelta(microseconds=1)) == history[1:]
        assert m.history(ORG, until=instant) == history[:1]
        with pytest.raises(UnknownSystem):
            m.system_status(ORG, "sys-1", at=instant)
        assert m.system_status(ORG, "sys-1", at=history[1].at).devices == {}

    # -- §1: the instant of a query --------------------------------------------------------------

    def test_queries_before_the_latest_command_answer_from_the_facts_then(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _started(m, core=3)
        clock.set(_noon(2026, 2, 15))
        m.report_devices(ORG, "sys-1", {"core": 4}, actor=ACTOR)
        _redeem(m, {"core": 4})
        allocation = m.allocate(ORG, PRODUCT, {"core": 4}, actor=ACTOR)
        assert allocation.compensation == {}
        assert allocation.credit == {"core": Fraction(36, 73)}  # 4 × 45 / 365
        m.register_system(ORG, PRODUCT, "sys-2", actor=ACTOR)

        now = m.status(ORG, PRODUCT)
        assert now.state is ProductState.LICENSED
        assert now.devices == {"core": 4}
        assert now.licensed_through == date(2027, 1, 1)
        trial = m.status(ORG, PRODUCT, at=_noon(2026, 1, 15))
        assert trial.state is ProductState.TRIAL
        assert trial.devices == {"core": 3}
        assert trial.allocated == {}
        lapsed = m.status(ORG, PRODUCT, at=_noon(2026, 2, 10))
        assert lapsed.state is ProductState.UNLICENSED
        assert lapsed.devices == {"core": 3}
        just_before = datetime(2026, 2, 15, 11, 59, tzinfo=UTC)
        assert m.status(ORG, PRODUCT, at=just_before).state is ProductState.UNLICENSED
        empty = m.wallet(ORG, PRODUCT, at=just_before)
        assert empty.lots == ()
        assert empty.credit == {}
        assert m.wallet(ORG, PRODUCT).credit == {"core": Fraction(36, 73)}
        early_need = m.need(ORG, PRODUCT, at=_noon(2026, 1, 15), horizon=0)
        assert early_need.periods[0].shortfall == {"core": 3}
        assert early_need.wallet == {}
        assert early_need.to_buy == {"core": 3}
        with pytest.raises(UnknownSystem):
            m.system_status(ORG, "sys-2", at=just_before)
        assert m.system_status(ORG, "sys-1", at=just_before).devices == {"core": 3}
        assert m.status(ORG, PRODUCT, at=_noon(2025, 12, 31)).state is ProductState.NOT_STARTED
        with pytest.raises(SubscriptionNotStarted):
            m.need(ORG, PRODUCT, at=_noon(2025, 12, 31))
        with pytest.raises(InvalidInput):
            m.status(ORG, PRODUCT, at=datetime(2026, 1, 15))  # naive on purpose

    def test_a_query_at_an_instant_shared_by_several_commands_sees_them_all(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _started(m, core=3)
        _redeem(m, {"core": 1})
        _redeem_on(m, clock, _noon(2026, 2, 15), {"core": 2})
        then = m.status(ORG, PRODUCT, at=START)
        assert then.state is ProductState.TRIAL
        assert then.devices == {"core": 3}
        assert m.wallet(ORG, PRODUCT, at=START).balance() == {"core": 1}
        assert m.wallet(ORG, PRODUCT, at=START - timedelta(microseconds=1)).lots == ()

    def test_queries_after_the_latest_command_project_forward(
        self, m: Manager, clock: ManualClock
    ) -> None:
        _started(m, core=4)
        _redeem_on(m, clock, _noon(2026, 2, 15), {"core": 10})
        m.allocate(ORG, PRODUCT, {"core": 4}, actor=ACTOR)
        clock.set(_noon(2026, 2, 16))  # queries below are after every command
        grace = m.status(ORG, PRODUCT, at=_noon(2027, 1, 1))
        assert grace.state is ProductState.GRACE
        assert _window(grace) == (Period(1, date(2027, 1, 1), date(2028, 1, 1)), date(2027, 1, 31))
        assert grace.devices == {"core": 4}
        assert m.status(ORG, PRODUCT, at=_noon(2027, 1, 31)).state is ProductState.UNLICENSED
        need = m.need(ORG, PRODUCT, at=_noon(2027, 6, 1), horizon=1)
        assert [pn.period.index for pn in need.periods] == [1, 2]
        assert need.periods[0].shortfall == {"core": 4}
        assert need.wallet == {"core": 6}
        assert need.to_buy == {"core": 2}
        assert m.wallet(ORG, PRODUCT, at=_noon(2031, 2, 14)).balance() == {"core": 6}
        assert m.wallet(ORG, PRODUCT, at=_noon(2031, 2, 15)).lots == ()
        expired = m.need(ORG, PRODUCT, at=_noon(2031, 2, 15), horizon=0)
        assert expired.wallet == {}
        # Nothing was recorded by looking ahead.
        assert m.wallet(ORG, PRODUCT).balance() == {"core": 6}
        assert "licenses_expired" not in _actions(m.history(ORG))

    # -- R13: idempotency ---------------------------------------------------------------------

    def test_r13_repeating_a_request_returns_the_first_result(
        self, m: Manager, clock: ManualClock
    ) -> None:
        m.create_organization(ORG, name="Org", actor=ACTOR, request_id="c1")
        m.create_organization(ORG, name="Org", actor=ACTOR, request_id="c1")
        m.start_subscription(ORG, PRODUCT, actor=ACTOR, request_id="s1")
        m.start_subscription(ORG, PRODUCT, actor=ACTOR, request_id="s1")
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 4}, actor=ACTOR, request_id="g1")
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 4}, actor=ACTOR, request_id="g1")
        key = m.vendor.issue_key(PRODUCT, quantities={"core": 10}, request_id="k1")
        assert m.vendor.issue_key(PRODUCT, quantities={"core": 10}, request_id="k1") == key
        m.vendor.ship_hardware("HW-1", PRODUCT, {"core": 1}, request_id="h1")
        m.vendor.ship_hardware("HW-1", PRODUCT, {"core": 1}, request_id="h1")
        redemption = m.redeem_key(ORG, key, actor=ACTOR, request_id="r1")
        assert m.redeem_key(ORG, key.lower(), actor=ACTOR, request_id="r1") == redemption
        clock.set(_noon(2026, 2, 15))
        allocation = m.allocate(ORG, PRODUCT, {"core": 4}, actor=ACTOR, request_id="a1")
        assert allocation.credit == {"core": Fraction(36, 73)}
        m.register_hardware(ORG, "sys-1", "HW-1", actor=ACTOR, request_id="w1")
        now = clock.now()
        file = _off1(now, {"core": 1})
        license_file = m.upload_system_file(ORG, file, actor=ACTOR, request_id="u1")
        before = _snapshot(m, systems=[(ORG, "sys-1"), (ORG, "off-1")])
        assert len(before.history[0]) == 7

        clock.set(_noon(2026, 3, 1))
        m.create_organization(ORG, name="Org", actor=ACTOR, request_id="c1")
        m.start_subscription(ORG, PRODUCT, actor=ACTOR, request_id="s1")
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 4}, actor=ACTOR, request_id="g1")
        assert m.redeem_key(ORG, key, actor=ACTOR, request_id="r1") == redemption
        again = m.allocate(ORG, PRODUCT, {"core": 4}, actor=ACTOR, request_id="a1")
        assert again == allocation
        m.register_hardware(ORG, "sys-1", "HW-1", actor=ACTOR, request_id="w1")
        assert m.upload_system_file(ORG, file, actor=ACTOR, request_id="u1") == license_file
        clock.set(_noon(2026, 2, 15))
        assert _snapshot(m, systems=[(ORG, "sys-1"), (ORG, "off-1")]) == before

    def test_r13_same_request_id_with_other_arguments_conflicts(self, m: Manager) -> None:
        _started(m)
        _redeem(m, {"core": 10})
        m.allocate(ORG, PRODUCT, {"core": 1}, actor=ACTOR, request_id="a1")
        before = _snapshot(m)
        with pytest.raises(IdempotencyConflict):
            m.allocate(ORG, PRODUCT, {"core": 2}, actor=ACTOR, request_id="a1")
        with pytest.raises(IdempotencyConflict):
            m.allocate(ORG, PRODUCT, {"core": 1}, period=1, actor=ACTOR, request_id="a1")
        with pytest.raises(IdempotencyConflict):
            m.allocate_need(ORG, PRODUCT, actor=ACTOR, request_id="a1")
        assert _snapshot(m) == before
        m.vendor.issue_key(PRODUCT, quantities={"core": 1}, request_id="k1")
        with pytest.raises(IdempotencyConflict):
            m.vendor.issue_key(PRODUCT, quantities={"core": 2}, request_id="k1")
        m.vendor.ship_hardware("HW-1", PRODUCT, {"core": 1}, request_id="h1")
        with pytest.raises(IdempotencyConflict):
            m.vendor.ship_hardware("HW-2", PRODUCT, {"core": 1}, request_id="h1")
        m.register_system(ORG, PRODUCT, "sys-1", actor=ACTOR)
        with pytest.raises(UnknownHardware):  # HW-2 was not shipped by the conflicting call
            m.register_hardware(ORG, "sys-1", "HW-2", actor=ACTOR)

    def test_r13_a_failed_command_is_not_remembered(self, m: Manager) -> None:
        _started(m)
        before = _snapshot(m)
        with pytest.raises(InsufficientLicenses):
            m.allocate(ORG, PRODUCT, {"core": 5}, actor=ACTOR, request_id="a2")
        assert _snapshot(m) == before
        _redeem(m, {"core": 5})
        retried = m.allocate(ORG, PRODUCT, {"core": 5}, actor=ACTOR, request_id="a2")
        assert retried.quantities == {"core": 5}
        assert m.wallet(ORG, PRODUCT).balance() == {}
        with pytest.raises(UnknownKey):
            m.redeem_key(ORG, _never_issued_key(), actor=ACTOR, request_id="r9")
        key = m.vendor.issue_key(PRODUCT, quantities={"door": 2})
        assert m.redeem_key(ORG, key, actor=ACTOR, request_id="r9").quantities == {"door": 2}
        assert m.wallet(ORG, PRODUCT).balance() == {"door": 2}

    def test_r13_request_ids_are_scoped_per_organization_and_vendor(self, m: Manager) -> None:
        _create(m)
        _create(m, OTHER)
        key_a = m.vendor.issue_key(PRODUCT, quantities={"core": 1}, request_id="x1")
        key_b = m.vendor.issue_key(PRODUCT, quantities={"core": 2})
        m.redeem_key(ORG, key_a, actor=ACTOR, request_id="x1")
        redeemed = m.redeem_key(OTHER, key_b, actor=ACTOR, request_id="x1")
        assert redeemed.quantities == {"core": 2}
        assert m.wallet(ORG, PRODUCT).balance() == {"core": 1}
        assert m.wallet(OTHER, PRODUCT).balance() == {"core": 2}

    def test_r13_idempotency_survives_a_reopen(
        self, reopenable: Managers, clock: ManualClock
    ) -> None:
        m = reopenable.open()
        _started(m)
        key = m.vendor.issue_key(PRODUCT, quantities={"core": 10}, request_id="k1")
        redemption = m.redeem_key(ORG, key, actor=ACTOR, request_id="r1")
        clock.set(_noon(2026, 2, 15))
        allocation = m.allocate(ORG, PRODUCT, {"core": 4}, actor=ACTOR, request_id="a1")
        before = _snapshot(m)
        m = reopenable.reopen(m)
        assert m.vendor.issue_key(PRODUCT, quantities={"core": 10}, request_id="k1") == key
        assert m.redeem_key(ORG, key, actor=ACTOR, request_id="r1") == redemption
        assert m.allocate(ORG, PRODUCT, {"core": 4}, actor=ACTOR, request_id="a1") == allocation
        with pytest.raises(IdempotencyConflict):
            m.allocate(ORG, PRODUCT, {"core": 3}, actor=ACTOR, request_id="a1")
        with pytest.raises(IdempotencyConflict):
            m.vendor.issue_key(PRODUCT, quantities={"core": 9}, request_id="k1")
        assert _snapshot(m) == before

    # -- persistence ----------------------------------------------------------------------------

    def test_everything_is_kept_across_a_reopen(
        self, reopenable: Managers, clock: ManualClock
    ) -> None:
        m = reopenable.open(SUITE_CATALOG)
        _create(m, timezone_name="Europe/Stockholm")
        _create(m, OTHER)
        m.vendor.ship_hardware("HW-1", PRODUCT, {"core": 2})
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 5, "door": 1}, actor=ACTOR)
        m.register_hardware(ORG, "sys-1", "HW-1", actor=ACTOR)
        m.start_subscription(ORG, PRODUCT, actor=ACTOR)
        key = _redeem(m, {"core": 10})
        _redeem(m, {"door": 1}, kind=LicenseKind.HARDWARE)
        m.allocate_to_hardware(ORG, "HW-1", {"door": 1}, actor=ACTOR)
        clock.set(_noon(2026, 7, 20))
        m.start_subscription(ORG, EDGE, actor=ACTOR)
        allocation = m.allocate(ORG, PRODUCT, {"core": 4}, actor=ACTOR)
        assert allocation.compensation == {"core": 2}  # 4 × 200 / 365 = 2 + 14/73
        assert allocation.credit == {"core": Fraction(14, 73)}
        file = _off1(clock.now(), {"core": 1})
        m.upload_system_file(ORG, file, actor=ACTOR)
        m.register_system(OTHER, PRODUCT, "sys-b", actor=ACTOR)
        public_key = m.public_key

        def everything(m: Manager) -> tuple[object, ...]:
            past = _noon(2026, 3, 1)
            future = _noon(2027, 2, 15)
            return (
                m.history(ORG),
                m.history(OTHER),
                [m.status(ORG, p) for p in SUITE_CATALOG.product_codes],
                m.status(ORG, PRODUCT, at=past),
                m.status(ORG, PRODUCT, at=future),
                m.need(ORG, PRODUCT, horizon=3),
                m.wallet(ORG, PRODUCT),
                m.wallet(ORG, PRODUCT, at=past),
                m.system_status(ORG, "sys-1"),
                m.system_status(ORG, "off-1"),
                m.system_status(OTHER, "sys-b"),
            )

        kept = everything(m)
        m = reopenable.reopen(m)
        assert m.public_key == public_key
        assert everything(m) == kept
        # What is unique across organizations stays claimed (R1, R10).
        with pytest.raises(AlreadyExists):
            _create(m)
        with pytest.raises(KeyAlreadyRedeemed):
            m.redeem_key(OTHER, key, actor=ACTOR)
        with pytest.raises(AlreadyRegistered):
            m.register_system(OTHER, PRODUCT, "sys-1", actor=ACTOR)
        with pytest.raises(AlreadyRegistered):
            m.register_hardware(OTHER, "sys-b", "HW-1", actor=ACTOR)
        with pytest.raises(AlreadyExists):
            m.vendor.ship_hardware("HW-1", PRODUCT)
        with pytest.raises(AlreadyStarted):
            m.start_subscription(ORG, PRODUCT, actor=ACTOR)
        # And the store keeps working.
        more = m.allocate(ORG, PRODUCT, {"core": 1}, period=1, actor=ACTOR)
        assert more.periods[0].period == Period(1, date(2027, 1, 1), date(2028, 1, 1))
        assert m.wallet(ORG, PRODUCT).balance() == {"core": 7}

    def test_r13_two_managers_on_one_store_share_it(
        self, reopenable: Managers, clock: ManualClock
    ) -> None:
        first = reopenable.open()
        second = reopenable.open()
        assert second.public_key == first.public_key
        _create(first)
        second.start_subscription(ORG, PRODUCT, actor=ACTOR)
        key = first.vendor.issue_key(PRODUCT, quantities={"core": 5}, request_id="k1")
        assert second.vendor.issue_key(PRODUCT, quantities={"core": 5}, request_id="k1") == key
        redemption = second.redeem_key(ORG, key, actor=ACTOR, request_id="r1")
        assert first.redeem_key(ORG, key, actor=ACTOR, request_id="r1") == redemption
        with pytest.raises(KeyAlreadyRedeemed):
            first.redeem_key(ORG, key, actor=ACTOR)
        first.allocate(ORG, PRODUCT, {"core": 2}, actor=ACTOR)
        assert second.wallet(ORG, PRODUCT).balance() == {"core": 3}
        assert second.history(ORG) == first.history(ORG)
        assert len(first.history(ORG)) == 4
        with pytest.raises(AlreadyExists):
            _create(second)

    def test_r12_signing_key_is_kept_by_the_backend(
        self, reopenable: Managers, clock: ManualClock
    ) -> None:
        first = reopenable.open()
        public_key = first.public_key
        _create(first)
        second = reopenable.reopen(first)
        assert second.public_key == public_key
        now = clock.now()
        file = _off1(now, {"core": 1})
        license_file = second.upload_system_file(ORG, file, actor=ACTOR)
        entitlement = offline.verify_license_file(
            license_file, trusted_keys=public_key, system_id="off-1", now=now
        )
        assert entitlement.org_id == ORG

    # -- a failed command changes nothing ----------------------------------------------------------

    def _rich_org(self, m: Manager, clock: ManualClock) -> _Rich:
        _create(m)
        _create(m, OTHER)
        m.vendor.ship_hardware("HW-1", PRODUCT, {"core": 1})
        m.vendor.ship_hardware("HW-B", PRODUCT, {"core": 1})
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 5}, actor=ACTOR)
        m.register_hardware(ORG, "sys-1", "HW-1", actor=ACTOR)
        m.register_system(OTHER, PRODUCT, "sys-b", actor=ACTOR)
        m.register_hardware(OTHER, "sys-b", "HW-B", actor=ACTOR)
        m.start_subscription(ORG, PRODUCT, actor=ACTOR)
        key = _redeem(m, {"core": 3})
        _redeem(m, {"door": 1}, kind=LicenseKind.HARDWARE)
        clock.set(_noon(2026, 3, 1))
        return _Rich(redeemed_key=key, unknown_key=_never_issued_key(), now=clock.now())

    def test_r14_a_failed_command_changes_nothing(self, m: Manager, clock: ManualClock) -> None:
        """Each case of ``_FAILURES`` raises its error and leaves every reading as it was.

        The cases run one after another on one store; each is judged against the
        readings just before it, so one faulty case does not hide another.
        """
        rich = self._rich_org(m, clock)
        systems = [(ORG, "sys-1"), (OTHER, "sys-b")]

        def readings() -> tuple[_Snapshot, object]:
            return (
                _snapshot(m, [ORG, OTHER], systems=systems),
                m.need(ORG, PRODUCT, horizon=2),
            )

        problems: list[str] = []
        before = readings()
        stored = len(before[0].history[0])
        for case, (run, error) in sorted(_FAILURES.items()):
            try:
                run(m, rich)
            except error:
                pass
            except Exception as exc:  # reported below, with the case
                problems.append(f"{case}: raised {type(exc).__name__}: {exc}, not {error.__name__}")
            else:
                problems.append(f"{case}: raised nothing, not {error.__name__}")
            after = readings()
            if after != before:
                problems.append(f"{case}: changed the store")
                before = after
        assert not problems, "\n".join(problems)
        # The store still takes commands afterwards.
        m.report_devices(ORG, "sys-1", {"core": 2}, actor=ACTOR)
        assert len(m.history(ORG)) == stored + 1

    # -- R15: catalog versions; listing organizations (SPEC §3) ------------------------------------

    def test_r15_catalog_rows_are_numbered_kept_in_order_and_never_replaced(
        self, m: Manager
    ) -> None:
        """``insert_catalog`` and ``catalogs(after)`` at the backend interface."""
        with m.backend.read() as tx:
            assert [(r.version, r.effective_at_us) for r in tx.catalogs()] == [
                (1, _us(START)),
            ]
        rows = [
            CatalogRow(2, _us(START) + 1, '{"v":2}'),
            CatalogRow(3, _us(START) + 2, '{"v":3}'),
        ]
        with m.backend.write() as wtx:
            assert [wtx.insert_catalog(row) for row in rows] == [True, True]
            assert wtx.insert_catalog(CatalogRow(2, 0, '{"v":"again"}')) is False

        def fail_after_insert() -> None:
            with m.backend.write() as wtx:
                assert wtx.insert_catalog(CatalogRow(4, 0, "{}")) is True
                raise RuntimeError("the transaction fails: nothing of it stays")

        with pytest.raises(RuntimeError):
            fail_after_insert()
        with m.backend.read() as tx:
            assert tx.catalogs(after=1) == rows
            assert tx.catalogs(after=3) == []
            assert [r.version for r in tx.catalogs(after=0)] == [1, 2, 3]

    def test_r15_catalog_versions_are_kept_across_a_reopen(
        self, reopenable: Managers, clock: ManualClock
    ) -> None:
        m = reopenable.open()
        clock.advance(days=1)
        newer = Catalog([*EXAMPLE_CATALOG.products, *SUITE_CATALOG.products[1:]])
        assert m.vendor.publish_catalog(newer) == 2
        m.close()
        with pytest.raises(CatalogMismatch):
            reopenable.open(EXAMPLE_CATALOG)
        again = reopenable.open(newer)
        assert again.catalog_versions() == [
            CatalogVersion(1, START, EXAMPLE_CATALOG),
            CatalogVersion(2, START + timedelta(days=1), newer),
        ]

    def test_organizations_are_paged_by_id_in_the_backend(self, m: Manager) -> None:
        """``org_ids(limit, offset)`` at the backend interface, and ``Manager.organizations``."""
        for org_id in ("b", "A", "é", "a", "ab"):
            _create(m, org_id)
        with m.backend.read() as tx:
            assert tx.org_ids(None, 0) == ["A", "a", "ab", "b", "é"]
            assert tx.org_ids(2, 1) == ["a", "ab"]
            assert tx.org_ids(0, 0) == []
            assert tx.org_ids(None, 4) == ["é"]
            assert tx.org_ids(3, 9) == []
        assert m.organizations(limit=1, offset=4) == [Organization("é", "Org é", "UTC", None)]
