"""The plugin hooks of SPEC §4, through ``Manager.open(..., plugins=[obj])``.

Every hookspec of :mod:`axis_licensing.hookspecs` is named by a test here and
documented in ``docs/plugins.md`` (the datasette meta-tests at the end).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from _support import START, AuthCall, Gate
from axis_licensing import (
    EXAMPLE_CATALOG,
    Activity,
    Alert,
    Catalog,
    LicenseKind,
    LicenseType,
    Manager,
    ManualClock,
    ProductSpec,
    ProductState,
    hookimpl,
    hookspecs,
    offline,
)
from axis_licensing.backends import TABLES, BackendRegistry, WriteTx
from axis_licensing.backends.memory import MemoryBackend
from axis_licensing.errors import AlreadyStarted, InvalidInput, PermissionDenied, UnknownProduct
from axis_licensing.policy import alerts as alerting

PRODUCT = "acs-pro"
ORG = "org-1"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"

Rows = dict[str, list[dict[str, Any]]]


def snapshot(manager: Manager) -> Rows:
    return {table: list(manager.backend.export_rows(table)) for table in TABLES}


class Observer:
    """An ``axis_licensing_activity`` plugin that records what it is told.

    With a ``manager`` it also reads the history while being told, to show the
    activity is already committed.
    """

    def __init__(self) -> None:
        self.seen: list[Activity] = []
        self.committed: list[bool] = []
        self.manager: Manager | None = None

    @hookimpl
    def axis_licensing_activity(self, activity: Activity) -> None:
        self.seen.append(activity)
        if self.manager is not None:
            self.committed.append(activity in self.manager.history(ORG))


class FailingObserver:
    """An ``axis_licensing_activity`` plugin that always raises."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def axis_licensing_activity(self, activity: Activity) -> None:
        self.calls += 1
        raise RuntimeError(f"webhook down for {activity.action}")


@contextlib.contextmanager
def opened(url: str, *plugins: object, clock: ManualClock | None = None) -> Iterator[Manager]:
    with Manager.open(
        url, catalog=EXAMPLE_CATALOG, clock=clock or ManualClock(START), plugins=list(plugins)
    ) as manager:
        yield manager


Gated = tuple[Gate, Manager]


@pytest.fixture
def gated(backend_url: str, clock: ManualClock) -> Iterator[Gated]:
    """A Manager on each backend, with a Gate that records what the authorize hook is asked."""
    gate = Gate()
    with opened(backend_url, gate, clock=clock) as manager:
        yield gate, manager


def world(manager: Manager, clock: ManualClock) -> dict[str, str | bytes]:
    """An organization with sys-1 (hardware SN-1), acs-pro started and licenses in the wallet."""
    manager.create_organization(ORG, name="Org", actor="alice")
    manager.register_system(ORG, PRODUCT, "sys-1", devices={"core": 3}, actor="alice")
    manager.register_system(ORG, PRODUCT, "sys-2", devices={"core": 1}, actor="alice")
    manager.start_subscription(ORG, PRODUCT, actor="alice")
    manager.redeem_key(ORG, manager.vendor.issue_key(PRODUCT, quantities={"core": 10}), actor="a")
    manager.vendor.ship_hardware("SN-1", PRODUCT, {"core": 1})
    manager.vendor.ship_hardware("SN-2", PRODUCT, {"core": 1})
    manager.register_hardware(ORG, "sys-1", "SN-1", actor="alice")
    extension = manager.vendor.issue_key(PRODUCT, LicenseKind.HARDWARE, {"core": 2})
    manager.redeem_key(ORG, extension, actor="alice")
    return {
        "key": manager.vendor.issue_key(PRODUCT, quantities={"core": 5}),
        "file": offline.describe_system(
            system_id="sys-off", product=PRODUCT, devices={"core": 1}, now=clock.now()
        ),
    }


Command = Callable[[Manager, dict[str, str | bytes]], object]


def _key(w: dict[str, str | bytes]) -> str:
    value = w["key"]
    assert isinstance(value, str)
    return value


def _file(w: dict[str, str | bytes]) -> bytes:
    value = w["file"]
    assert isinstance(value, bytes)
    return value


#: Each command, and the exact question it asks the authorize hook. Commands that name a
#: system, a unit or a key ask with the product it belongs to.
COMMANDS: dict[str, tuple[Command, AuthCall]] = {
    "create_organization": (
        lambda m, w: m.create_organization("org-2", name="Two", actor="bob"),
        ("bob", "org-2", "create_organization", None),
    ),
    "register_system": (
        lambda m, w: m.register_system(ORG, PRODUCT, "sys-9", devices={"core": 1}, actor="bob"),
        ("bob", ORG, "register_system", PRODUCT),
    ),
    "report_devices": (
        lambda m, w: m.report_devices(ORG, "sys-1", {"core": 4}, actor="bob"),
        ("bob", ORG, "report_devices", PRODUCT),
    ),
    "start_subscription": (
        lambda m, w: m.start_subscription("org-fresh", PRODUCT, actor="bob"),
        ("bob", "org-fresh", "start_subscription", PRODUCT),
    ),
    "redeem_key": (
        lambda m, w: m.redeem_key(ORG, _key(w), actor="bob"),
        ("bob", ORG, "redeem_key", PRODUCT),
    ),
    "allocate": (
        lambda m, w: m.allocate(ORG, PRODUCT, {"core": 2}, period=1, actor="bob"),
        ("bob", ORG, "allocate", PRODUCT),
    ),
    "allocate_need": (
        lambda m, w: m.allocate_need(ORG, PRODUCT, through=1, actor="bob"),
        ("bob", ORG, "allocate_need", PRODUCT),
    ),
    "register_hardware": (
        lambda m, w: m.register_hardware(ORG, "sys-2", "SN-2", actor="bob"),
        ("bob", ORG, "register_hardware", PRODUCT),
    ),
    "allocate_to_hardware": (
        lambda m, w: m.allocate_to_hardware(ORG, "SN-1", {"core": 1}, actor="bob"),
        ("bob", ORG, "allocate_to_hardware", PRODUCT),
    ),
    "upload_system_file": (
        lambda m, w: m.upload_system_file(ORG, _file(w), actor="bob"),
        ("bob", ORG, "upload_system_file", PRODUCT),
    ),
    "vendor.issue_key": (
        lambda m, w: m.vendor.issue_key(PRODUCT, quantities={"door": 3}, actor="carol"),
        ("carol", None, "vendor.issue_key", PRODUCT),
    ),
    "vendor.ship_hardware": (
        lambda m, w: m.vendor.ship_hardware("SN-9", PRODUCT, {"core": 1}, actor="carol"),
        ("carol", None, "vendor.ship_hardware", PRODUCT),
    ),
}

QUERIES: dict[str, Command] = {
    "status": lambda m, w: m.status(ORG, PRODUCT),
    "need": lambda m, w: m.need(ORG, PRODUCT),
    "wallet": lambda m, w: m.wallet(ORG, PRODUCT),
    "system_status": lambda m, w: m.system_status(ORG, "sys-1"),
    "history": lambda m, w: m.history(ORG),
}


def _fresh_org(manager: Manager) -> None:
    manager.create_organization("org-fresh", name="Fresh", actor="alice")


# -- axis_licensing_register_backends ----------------------------------------------------------


class CountingBackend(MemoryBackend):
    """A MemoryBackend that counts its write transactions."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.writes = 0

    @contextlib.contextmanager
    def write(self) -> Iterator[WriteTx]:
        self.writes += 1
        with super().write() as tx:
            yield tx


class CustomBackends:
    """Registers the scheme ``custom`` through ``axis_licensing_register_backends``."""

    def __init__(self) -> None:
        self.made: list[CountingBackend] = []

    @hookimpl
    def axis_licensing_register_backends(self, registry: BackendRegistry) -> None:
        registry.add("custom", self.make)

    def make(self, url: str) -> CountingBackend:
        backend = CountingBackend(url)
        self.made.append(backend)
        return backend


def test_axis_licensing_register_backends_a_plugin_scheme_is_used() -> None:
    plugin = CustomBackends()
    with opened("custom://tenant-7", plugin) as manager:
        [backend] = plugin.made
        assert manager.backend is backend
        assert backend.url == "custom://tenant-7"
        writes = backend.writes
        manager.create_organization(ORG, name="Org", actor="alice")
        assert backend.writes == writes + 1
        assert [a.action for a in manager.history(ORG)] == ["organization_created"]
        assert backend.count_rows("orgs") == 1
    # Without the plugin the scheme is unknown, and the message lists the known ones.
    with pytest.raises(InvalidInput, match="custom") as caught:
        Manager.open("custom://tenant-7", catalog=EXAMPLE_CATALOG)
    for scheme in ("memory", "sqlite", "postgresql"):
        assert scheme in str(caught.value)


@pytest.mark.parametrize("url", ["nosuch://x", "mongodb://host/db", "axis-licensing.db"])
def test_axis_licensing_register_backends_unknown_scheme_lists_known_schemes(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Manager.open(url, catalog=EXAMPLE_CATALOG)
    message = str(caught.value)
    assert "scheme" in message
    for scheme in ("memory", "sqlite", "postgresql"):
        assert scheme in message
    with pytest.raises(InvalidInput) as with_plugin:
        Manager.open(url, catalog=EXAMPLE_CATALOG, plugins=[CustomBackends()])
    assert "custom" in str(with_plugin.value)


def test_axis_licensing_register_backends_found_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = "axis_licensing_test_entry_plugin"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from axis_licensing import hookimpl
            from axis_licensing.backends.memory import MemoryBackend

            @hookimpl
            def axis_licensing_register_backends(registry):
                registry.add("entrypoint", MemoryBackend)
            """
        )
    )
    dist = tmp_path / "axis_licensing_test_entry_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: axis-licensing-test-entry-plugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(f"[axis_licensing]\ntest_entry = {module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with opened("entrypoint://") as manager:
            assert isinstance(manager.backend, MemoryBackend)
            manager.create_organization(ORG, name="Org", actor="alice")
            assert manager.backend.count_rows("orgs") == 1
    finally:
        sys.modules.pop(module, None)


# -- axis_licensing_authorize -------------------------------------------------------------------


def test_axis_licensing_authorize_is_asked_exactly_once_per_command_with_its_arguments(
    gated: Gated, clock: ManualClock
) -> None:
    gate, manager = gated
    w = world(manager, clock)
    _fresh_org(manager)
    problems: list[str] = []
    for name, (command, expected) in COMMANDS.items():
        gate.calls.clear()
        command(manager, w)
        if gate.calls != [expected]:
            problems.append(f"{name}: asked {gate.calls}, expected [{expected}]")
    assert not problems, "\n".join(problems)


def test_axis_licensing_authorize_is_never_asked_before_queries(
    gated: Gated, clock: ManualClock
) -> None:
    gate, manager = gated
    w = world(manager, clock)
    gate.answer = False  # a query that asked would now be refused
    gate.calls.clear()
    answers = [query(manager, w) for query in QUERIES.values()]
    assert gate.calls == []
    assert len(answers) == 5


@pytest.mark.parametrize("answer", [True, None])
def test_axis_licensing_authorize_true_or_none_allows(answer: bool | None) -> None:
    gate = Gate(answer=answer)
    with opened("memory://", gate) as manager:
        manager.create_organization(ORG, name="Org", actor="alice")
        assert [a.action for a in manager.history(ORG)] == ["organization_created"]


def test_axis_licensing_authorize_one_refusal_among_plugins_refuses() -> None:
    with opened("memory://", Gate(answer=None), Gate(answer=False)) as manager:
        with pytest.raises(PermissionDenied):
            manager.create_organization(ORG, name="Org", actor="alice")
        assert manager.backend.count_rows("orgs") == 0


def test_axis_licensing_authorize_false_raises_permission_denied_and_changes_nothing(
    backend_url: str, clock: ManualClock
) -> None:
    gate = Gate()
    observer = Observer()
    with opened(backend_url, gate, observer, clock=clock) as manager:
        w = world(manager, clock)
        _fresh_org(manager)
        problems: list[str] = []
        for name, (command, expected) in COMMANDS.items():
            before = snapshot(manager)
            observer.seen.clear()
            gate.refuse = {expected[2]}
            try:
                command(manager, w)
            except PermissionDenied as exc:
                if expected[0] not in str(exc) or expected[2] not in str(exc):
                    problems.append(f"{name}: message {exc} names neither actor nor action")
            else:
                problems.append(f"{name} ran though refused")
            if snapshot(manager) != before:
                problems.append(f"{name} changed the store though refused")
            if observer.seen:
                problems.append(f"{name} told observers {observer.seen} though refused")
            gate.refuse = set()
            command(manager, w)  # the refusal was the only obstacle
        assert not problems, "\n".join(problems)


def anything(value: object) -> Any:
    """``value``, typed so that deliberately wrong arguments pass mypy."""
    return value


#: A command with bad input, per command: the hook must not be asked.
BAD_INPUT: dict[str, Command] = {
    "create_organization": lambda m, w: m.create_organization(
        "org-2", name="Two", timezone="Mars/Olympus", actor="bob"
    ),
    "register_system": lambda m, w: m.register_system(
        ORG, PRODUCT, "sys-9", devices={"core": -1}, actor="bob"
    ),
    "report_devices": lambda m, w: m.report_devices(
        ORG, "sys-1", {"core": anything(1.5)}, actor="bob"
    ),
    "start_subscription": lambda m, w: m.start_subscription(ORG, PRODUCT, actor=""),
    "redeem_key": lambda m, w: m.redeem_key(ORG, "not a key!", actor="bob"),
    "allocate": lambda m, w: m.allocate(
        ORG, PRODUCT, {"core": 1}, period=anything("1"), actor="bob"
    ),
    "allocate_need": lambda m, w: m.allocate_need(ORG, PRODUCT, through=True, actor="bob"),
    "register_hardware": lambda m, w: m.register_hardware(ORG, "sys\n2", "SN-2", actor="bob"),
    "allocate_to_hardware": lambda m, w: m.allocate_to_hardware(
        ORG, "SN-1", {"core": 0}, actor="bob"
    ),
    "upload_system_file": lambda m, w: m.upload_system_file(ORG, b"{}", actor="bob"),
    "vendor.issue_key": lambda m, w: m.vendor.issue_key(PRODUCT, quantities={"core": 2_000_000}),
    "vendor.ship_hardware": lambda m, w: m.vendor.ship_hardware(
        "SN-9", PRODUCT, {"nosuch": 1}, request_id="x" * 129
    ),
}


def test_axis_licensing_authorize_is_asked_after_input_checks(
    gated: Gated, clock: ManualClock
) -> None:
    gate, manager = gated
    w = world(manager, clock)
    before = snapshot(manager)
    problems: list[str] = []
    for name, command in BAD_INPUT.items():
        gate.calls.clear()
        try:
            command(manager, w)
        except InvalidInput:
            pass
        except Exception as exc:
            problems.append(f"{name} raised {exc!r}, not InvalidInput")
        else:
            problems.append(f"{name} accepted bad input")
        if gate.calls:
            problems.append(f"{name} asked the hook {gate.calls} before checking input")
    gate.calls.clear()
    with pytest.raises(UnknownProduct):
        manager.allocate(ORG, "no-such-product", {"core": 1}, actor="bob")
    assert gate.calls == []
    assert snapshot(manager) == before
    assert not problems, "\n".join(problems)


def test_axis_licensing_authorize_not_asked_for_unknown_license_types(clock: ManualClock) -> None:
    gate = Gate()
    with opened("memory://", gate, clock=clock) as manager:
        world(manager, clock)
        gate.calls.clear()
        with pytest.raises(InvalidInput, match="nosuch"):
            manager.report_devices(ORG, "sys-1", {"nosuch": 1}, actor="bob")
        with pytest.raises(InvalidInput, match="nosuch"):
            manager.allocate_to_hardware(ORG, "SN-1", {"nosuch": 1}, actor="bob")
        assert gate.calls == []


# -- axis_licensing_activity ---------------------------------------------------------------------


def test_axis_licensing_activity_is_told_each_new_activity_once_after_commit_in_order(
    backend_url: str, clock: ManualClock
) -> None:
    observer, second = Observer(), Observer()
    with opened(backend_url, observer, second, clock=clock) as manager:
        observer.manager = manager
        world(manager, clock)
        assert observer.committed == [True] * len(observer.seen)
        clock.set(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
        manager.allocate(ORG, PRODUCT, {"core": 10}, actor="bob")  # + compensation_credited
        manager.report_devices(ORG, "sys-1", {"core": 40}, actor="bob")  # + growth_exceeded
        history = manager.history(ORG)
        assert observer.seen == history
        assert second.seen == history
        assert observer.committed == [True] * len(history)
        assert [a.action for a in history[-4:]] == [
            "licenses_allocated",
            "compensation_credited",
            "devices_reported",
            "growth_exceeded",
        ]
        # Expiries found by a later command are told when that command commits.
        clock.set(datetime(2031, 6, 1, tzinfo=UTC))
        told = len(observer.seen)
        manager.report_devices(ORG, "sys-2", {"core": 2}, actor="bob")
        new = manager.history(ORG)[len(history) :]
        assert observer.seen[told:] == new
        assert [a.action for a in new] == [
            "licenses_expired",
            "licenses_expired",
            "devices_reported",
        ]
        # Vendor commands, replays, queries and failures tell nobody.
        told = len(observer.seen)
        manager.vendor.issue_key(PRODUCT, quantities={"core": 1})
        manager.report_devices(ORG, "sys-2", {"core": 3}, actor="bob", request_id="r-1")
        manager.report_devices(ORG, "sys-2", {"core": 3}, actor="bob", request_id="r-1")
        with pytest.raises(AlreadyStarted):
            manager.start_subscription(ORG, PRODUCT, actor="bob")
        manager.status(ORG, PRODUCT)
        assert [a.action for a in observer.seen[told:]] == ["devices_reported"]


def test_axis_licensing_activity_a_failing_observer_neither_undoes_nor_blocks_the_commit(
    backend_url: str, caplog: pytest.LogCaptureFixture, clock: ManualClock
) -> None:
    failing = FailingObserver()
    observer = Observer()
    with (
        caplog.at_level(logging.ERROR, logger="axis_licensing"),
        opened(backend_url, failing, observer, clock=clock) as manager,
    ):
        manager.create_organization(ORG, name="Org", actor="alice")
        manager.register_system(ORG, PRODUCT, "sys-1", devices={"core": 1}, actor="alice")
        history = manager.history(ORG)
        assert [a.action for a in history] == ["organization_created", "system_registered"]
        assert observer.seen == history
        assert failing.calls == 2
    errors = [
        r for r in caplog.records if r.name == "axis_licensing" and r.levelno >= logging.ERROR
    ]
    assert len(errors) == 2
    assert all(r.exc_info is not None and r.exc_info[0] is RuntimeError for r in errors)
    assert "system_registered" in errors[1].getMessage()


# -- axis_licensing_authenticate (SPEC §6) -------------------------------------------------------


class Tokens:
    """An ``axis_licensing_authenticate`` plugin that knows some tokens."""

    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.asked: list[str] = []

    @hookimpl
    def axis_licensing_authenticate(self, token: str) -> str | None:
        self.asked.append(token)
        return self.known.get(token)


def test_axis_licensing_authenticate_first_actor_wins_and_unknown_is_none() -> None:
    first, second = Tokens({"t-1": "alice"}), Tokens({"t-1": "mallory", "t-2": "bob"})
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, plugins=[second, first]) as m:
        assert m.plugin_manager.authenticate("t-1") == "alice"
        assert m.plugin_manager.authenticate("t-2") == "bob"
        assert m.plugin_manager.authenticate("t-3") is None
    assert first.asked == ["t-1", "t-2", "t-3"]
    assert second.asked == ["t-2", "t-3"]


def test_axis_licensing_authenticate_without_plugins_knows_no_token() -> None:
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG) as m:
        assert m.plugin_manager.authenticate("anything") is None
    empty = Tokens({"t": ""})
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, plugins=[empty]) as m:
        assert m.plugin_manager.authenticate("t") is None


# -- axis_licensing_alert -----------------------------------------------------------------------

TWO = Catalog(
    [
        EXAMPLE_CATALOG.products[0],
        ProductSpec("acs-edge", "AXIS Edge", license_types=[LicenseType("core")]),
    ]
)


class AlertObserver:
    def __init__(self) -> None:
        self.told: list[tuple[str, str, str | None, str | None, date | None]] = []

    @hookimpl
    def axis_licensing_alert(self, org_id: str, alert: Alert) -> None:
        self.told.append((org_id, alert.kind, alert.product, alert.system_id, alert.on))


class AlertOnlyObserver:
    """Implements the hook with a subset of its arguments, as pluggy allows."""

    def __init__(self) -> None:
        self.kinds: list[str] = []

    @hookimpl
    def axis_licensing_alert(self, alert: Alert) -> None:
        self.kinds.append(alert.kind)


class FailingAlertObserver:
    @hookimpl
    def axis_licensing_alert(self, org_id: str, alert: Alert) -> None:
        raise RuntimeError("webhook down")


def test_axis_licensing_alert_is_told_each_alert_once_when_it_first_appears(
    backend_url: str, clock: ManualClock
) -> None:
    seen, kinds = AlertObserver(), AlertOnlyObserver()
    with Manager.open(backend_url, catalog=TWO, clock=clock, plugins=[seen, kinds]) as m:
        m.create_organization("acme", name="Acme", actor="ann")
        m.register_system("acme", "acs-pro", "s-1", devices={"core": 4}, actor="ann")
        m.start_subscription("acme", "acs-pro", actor="ann")
        m.report_devices("acme", "s-1", {"core": 4}, actor="ann")  # nothing new
        clock.set(datetime(2026, 2, 10, 12, tzinfo=UTC))
        key = m.vendor.issue_key("acs-pro", quantities={"core": 10})
        m.redeem_key("acme", key, actor="ann")  # time brought two alerts: told now
        m.allocate("acme", "acs-pro", {"core": 4}, actor="ann")
        m.report_devices("acme", "s-1", {"core": 9}, actor="ann", request_id="r-9")
        m.report_devices("acme", "s-1", {"core": 9}, actor="ann", request_id="r-9")  # replay
        m.report_devices("acme", "s-1", {"core": 9}, actor="ann")  # the same growth
    jan1, feb10 = date(2026, 1, 1), date(2026, 2, 10)
    assert seen.told == [
        ("acme", "system_unlicensed", "acs-pro", "s-1", jan1),
        ("acme", "trial_ending", "acs-pro", None, date(2026, 1, 31)),
        ("acme", "unlicensed", "acs-pro", None, feb10),
        ("acme", "system_unlicensed", "acs-pro", "s-1", feb10),
        ("acme", "growth_exceeded", "acs-pro", None, feb10),
    ]
    assert kinds.kinds == [told[1] for told in seen.told]


def test_axis_licensing_alert_a_failing_observer_neither_undoes_nor_blocks_the_commit(
    backend_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    seen = AlertObserver()
    plugins = [FailingAlertObserver(), seen]
    with (
        caplog.at_level(logging.ERROR, logger="axis_licensing"),
        Manager.open(backend_url, catalog=TWO, clock=clock, plugins=plugins) as m,
    ):
        m.create_organization("acme", name="Acme", actor="ann")
        m.start_subscription("acme", "acs-pro", actor="ann")
        assert m.status("acme", "acs-pro").state is ProductState.TRIAL
    assert [told[1] for told in seen.told] == ["trial_ending"]
    assert any("alert observer" in r.getMessage() for r in caplog.records)


def test_axis_licensing_alert_alerts_are_not_computed_without_observers(
    manager: Manager, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[date] = []
    real = alerting.alerts

    def counting(*args: Any, **kwargs: Any) -> list[Alert]:
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(alerting, "alerts", counting)
    manager.create_organization("acme", name="Acme", actor="ann")
    manager.start_subscription("acme", "acs-pro", actor="ann")
    assert calls == []
    assert len(manager.alerts("acme")) == 1
    assert calls == [date(2026, 1, 1)]


# -- the meta-tests (datasette) ------------------------------------------------------------------


def hook_names() -> list[str]:
    """Every hookspec of :mod:`axis_licensing.hookspecs`."""
    marker = f"{hookspecs.PROJECT}_spec"
    return sorted(
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and getattr(value, marker, None) is not None
    )


def test_hookspecs_are_those_of_the_spec() -> None:
    assert hook_names() == [
        "axis_licensing_activity",
        "axis_licensing_alert",
        "axis_licensing_authenticate",
        "axis_licensing_authorize",
        "axis_licensing_register_backends",
    ]


def test_every_hook_has_a_test_here() -> None:
    tests = [
        name for name, value in globals().items() if name.startswith("test_") and callable(value)
    ]
    untested = [
        hook for hook in hook_names() if not any(name.startswith(f"test_{hook}_") for name in tests)
    ]
    assert untested == []


@pytest.mark.xfail(not DOCS.exists(), reason="docs/plugins.md not written yet", strict=False)
def test_every_hook_is_documented_in_docs_plugins_md() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert [hook for hook in hook_names() if hook not in text] == []
