"""Events out through the library (SPEC §7): the outbox in each command's transaction,
the sweep, ``manager.webhooks``, ``manager.deliver``, on every backend."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import axis_licensing
from _support import START
from axis_licensing import (
    EXAMPLE_CATALOG,
    Action,
    DeliveryState,
    IdempotencyConflict,
    InsufficientLicenses,
    InvalidInput,
    Manager,
    ManualClock,
    PermissionDenied,
    UnknownOrganization,
    UnknownWebhook,
    hookimpl,
)
from axis_licensing.events.model import delivery_id, event_id, event_type, event_types
from axis_licensing.events.store import events_of
from axis_licensing.shell import transact
from axis_licensing.shell.operations import OPERATIONS, Kind, Scope
from events_support import receiving

ORG = "nord"


def _org(m: Manager, org_id: str = ORG) -> None:
    m.create_organization(org_id, name="Nord", actor="alice")


def _pairs(m: Manager, org_id: str = ORG) -> list[tuple[Any, Any]]:
    return list(zip(m.events(org_id), m.history(org_id), strict=True))


# -- the outbox ----------------------------------------------------------------------------------


def test_every_command_yields_its_events_in_seq_order(manager: Manager) -> None:
    m = manager
    _org(m)
    m.start_subscription(ORG, "acs-pro", actor="alice")
    m.register_system(ORG, "acs-pro", "srv-1", devices={"core": 3}, actor="alice")
    key = m.vendor.issue_key("acs-pro", quantities={"core": 5})
    m.redeem_key(ORG, key, actor="alice")
    m.allocate(ORG, "acs-pro", {"core": 3}, actor="alice")
    events = m.events(ORG)
    assert [(e.seq, e.type) for e in events] == [
        (1, "organization_created"),
        (2, "subscription_started"),
        (3, "system_registered"),
        (4, "key_redeemed"),
        (5, "licenses_allocated"),
    ]
    for event, activity in _pairs(m):
        assert event.id == event_id(ORG, event.seq)
        assert event.org_id == ORG
        assert event.at == activity.at
        assert event.data == activity.details
    assert events[0].data == {"name": "Nord", "timezone": "UTC"}
    assert events[2].data == {"devices": {"core": 3}}
    assert events[4].data["quantities"] == {"core": 3}
    assert m.events(ORG, after_seq=3) == events[3:]
    assert m.events(ORG, after_seq=1, limit=2) == events[1:3]
    assert m.execute("events", org_id=ORG, after_seq=4) == events[4:]


def test_a_failed_command_yields_no_event(manager: Manager) -> None:
    _org(manager)
    manager.start_subscription(ORG, "acs-pro", actor="alice")
    with pytest.raises(InsufficientLicenses):
        manager.allocate(ORG, "acs-pro", {"core": 1}, actor="alice")
    with pytest.raises(UnknownOrganization):
        manager.events("nobody")
    assert [e.seq for e in manager.events(ORG)] == [1, 2]


def test_events_exist_iff_the_command_committed(
    manager: Manager, monkeypatch: pytest.MonkeyPatch
) -> None:
    _org(manager)
    real = transact.write_events  # type: ignore[attr-defined]

    def write_then_fail(*args: Any) -> None:
        real(*args)  # the events are written in the transaction ...
        raise RuntimeError("killed before the commit")  # ... which never commits

    monkeypatch.setattr(transact, "write_events", write_then_fail)
    with pytest.raises(RuntimeError, match="killed"):
        manager.start_subscription(ORG, "acs-pro", actor="alice")
    monkeypatch.setattr(transact, "write_events", real)
    assert [e.type for e in manager.events(ORG)] == ["organization_created"]
    assert [a.action for a in manager.history(ORG)] == ["organization_created"]
    manager.start_subscription(ORG, "acs-pro", actor="alice")
    assert [(e.seq, e.type) for e in manager.events(ORG)] == [
        (1, "organization_created"),
        (2, "subscription_started"),
    ]


def test_a_replayed_command_yields_no_new_event(manager: Manager) -> None:
    _org(manager)
    for _ in range(2):
        manager.start_subscription(ORG, "acs-pro", actor="alice", request_id="r-1")
    assert len(manager.events(ORG)) == 2


def test_a_commit_sets_the_wake(manager: Manager) -> None:
    manager.events_wake.clear()
    _org(manager)
    assert manager.events_wake.is_set()


# -- the sweep -------------------------------------------------------------------------------


def test_sweep_records_each_alert_once(manager: Manager, clock: ManualClock) -> None:
    m = manager
    _org(m)
    m.start_subscription(ORG, "acs-pro", actor="alice")  # trial ends 2026-01-31
    assert m.sweep() == axis_licensing.SweepReport(organizations=1, raised=1, cleared=0)
    assert m.sweep() == axis_licensing.SweepReport()  # not due again: nothing read
    raised = m.events(ORG)[-1]
    assert raised.type == "alert.raised"
    assert raised.data == {
        "kind": "trial_ending",
        "product": "acs-pro",
        "system_id": None,
        "on": "2026-01-31",
        "details": {"days_left": 30, "shortfall": {}},
    }
    last = m.history(ORG)[-1]
    assert (last.actor, last.action, last.product) == ("system", "alert_raised", "acs-pro")
    # the trial ends: the alert clears, the product is unlicensed? no devices: licensed
    clock.set(datetime(2026, 2, 1, 12, 0, tzinfo=UTC))
    report = m.sweep()
    assert report == axis_licensing.SweepReport(organizations=1, raised=0, cleared=1)
    assert m.events(ORG)[-1].data == {
        "kind": "trial_ending",
        "product": "acs-pro",
        "system_id": None,
        "on": "2026-01-31",
    }
    assert m.events(ORG)[-1].type == "alert.cleared"
    # swept again at the same instant, with the index reset: nothing new (idempotent)
    with m.backend.write() as tx:
        events_of(tx).set_sweep_due(ORG, 0)
    assert m.sweep() == axis_licensing.SweepReport(organizations=1, raised=0, cleared=0)
    assert [e.type for e in m.events(ORG)].count("alert.raised") == 1


def test_a_sweep_reads_only_due_organizations(manager: Manager, clock: ManualClock) -> None:
    m = manager
    for org in ("a", "b", "c"):
        _org(m, org)
    assert m.sweep().organizations == 3  # each new organization is due once
    assert m.sweep().organizations == 0  # none can change with time: out of the index
    m.start_subscription("b", "acs-pro", actor="alice")
    assert m.sweep() == axis_licensing.SweepReport(organizations=1, raised=1, cleared=0)
    clock.set(START + timedelta(days=5))
    assert m.sweep().organizations == 0  # b's next change is its trial's end
    clock.set(datetime(2026, 1, 31, 0, 0, tzinfo=UTC))
    assert m.sweep().organizations == 1
    assert m.sweep(limit=0) == axis_licensing.SweepReport()


def _sweep_in_process(url: str, at: datetime, queue: Any) -> None:
    with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=ManualClock(at)) as m:
        report = m.sweep(at=at)
        queue.put((report.raised, report.cleared))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_sweeps_in_processes_record_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'axis.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    # short in CI; the events_soak nox session runs the long form
    orgs, processes = (60, 6) if os.environ.get("EVENTS_SOAK") else (6, 3)
    with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        for n in range(orgs):
            _org(m, f"o{n}")
            m.start_subscription(f"o{n}", "acs-pro", actor="alice")
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_sweep_in_process, args=(url, START, queue)) for _ in range(processes)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert sum(raised for raised, _ in results) == orgs
    with Manager.open(url, clock=ManualClock(START)) as m:
        for n in range(orgs):
            types = [e.type for e in m.events(f"o{n}")]
            assert types.count("alert.raised") == 1


# -- webhooks --------------------------------------------------------------------------------


class _Recorder:
    def __init__(self, refuse: str | None = None) -> None:
        self.calls: list[tuple[str, str | None, str]] = []
        self.refuse = refuse

    @hookimpl
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool | None:
        self.calls.append((actor, org_id, action))
        return False if action == self.refuse else None


@pytest.fixture
def recorded(backend_url: str, clock: ManualClock) -> Iterator[tuple[Manager, _Recorder]]:
    recorder = _Recorder(refuse="webhooks.remove")
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock, plugins=[recorder]) as m:
        yield m, recorder


def test_webhook_commands_are_recorded_without_secrets(
    recorded: tuple[Manager, _Recorder],
) -> None:
    m, recorder = recorded
    _org(m)
    ep = m.webhooks.add(
        ORG,
        "http://127.0.0.1:9/h",
        actor="alice",
        types=["key_redeemed"],
        allow_http=True,
        allow_private=True,
    )
    assert ep.secret is not None
    assert ep.secret.startswith("whsec_")
    assert (ep.org_id, ep.url, ep.types, ep.enabled) == (
        ORG,
        "http://127.0.0.1:9/h",
        ("key_redeemed",),
        True,
    )
    listed = m.webhooks.list(ORG)
    assert listed == [ep.__class__(**{**_fields(ep), "secret": None})]
    changed = m.webhooks.update(
        ep.endpoint_id, enabled=False, types=["alert.raised"], actor="alice"
    )
    assert (changed.enabled, changed.types, changed.secret) == (False, ("alert.raised",), None)
    rotated = m.webhooks.rotate_secret(ep.endpoint_id, actor="alice")
    assert rotated.secret is not None
    assert rotated.secret != ep.secret
    history = m.history(ORG)
    assert [a.action for a in history[1:]] == [
        "webhook_added",
        "webhook_changed",
        "webhook_secret_rotated",
    ]
    assert history[1].details == {
        "endpoint_id": ep.endpoint_id,
        "url": "http://127.0.0.1:9/h",
        "types": ["key_redeemed"],
        "enabled": True,
        "allow_http": True,
        "allow_private": True,
    }
    assert [e.type for e in m.events(ORG)][1:] == [
        "webhook_added",
        "webhook_changed",
        "webhook_secret_rotated",
    ]
    text = json.dumps([a.details for a in history]) + json.dumps([e.data for e in m.events(ORG)])
    assert ep.secret not in text
    assert rotated.secret not in text
    assert ("alice", ORG, "webhooks.add") in recorder.calls
    with pytest.raises(PermissionDenied):
        m.webhooks.remove(ep.endpoint_id, actor="alice")
    assert len(m.webhooks.list()) == 1


def _fields(ep: Any) -> dict[str, Any]:
    return (
        {k: getattr(ep, k) for k in ep.__attrs_attrs__.__class__.__annotations__}
        if False
        else {a.name: getattr(ep, a.name) for a in ep.__attrs_attrs__}
    )


def test_vendor_wide_endpoints_are_vendor_commands(recorded: tuple[Manager, _Recorder]) -> None:
    m, recorder = recorded
    _org(m)
    ep = m.webhooks.add(
        None, "http://127.0.0.1:9/all", actor="ops", allow_http=True, allow_private=True
    )
    assert ep.org_id is None
    assert ("ops", None, "vendor.webhooks") in recorder.calls
    assert [a.action for a in m.history(ORG)] == ["organization_created"]
    assert [e.endpoint_id for e in m.webhooks.list()] == [ep.endpoint_id]
    assert m.webhooks.list(ORG) == []
    m.webhooks.remove(ep.endpoint_id, actor="ops")  # the vendor action is allowed
    assert m.webhooks.list() == []


def test_add_and_rotate_replay_the_same_secret(manager: Manager) -> None:
    m = manager
    _org(m)
    add = functools.partial(
        m.webhooks.add, ORG, actor="a", request_id="add-1", allow_http=True, allow_private=True
    )
    first = add("http://127.0.0.1:9/h")
    again = add("http://127.0.0.1:9/h")
    assert again == first
    assert again.secret == first.secret
    with pytest.raises(IdempotencyConflict):
        add("http://127.0.0.1:9/other")
    r1 = m.webhooks.rotate_secret(first.endpoint_id, actor="a", request_id="rot-1")
    r2 = m.webhooks.rotate_secret(first.endpoint_id, actor="a", request_id="rot-1")
    assert r1.secret == r2.secret != first.secret
    with m.backend.read() as tx:
        stored = [tx.request(f"org:{ORG}", rid) for rid in ("add-1", "rot-1")]
    assert all(row is not None for row in stored)
    for row in stored:
        assert row is not None
        assert str(first.secret) not in row.result
        assert str(r1.secret) not in row.result
    assert len(m.webhooks.list(ORG)) == 1
    assert [a.action for a in m.history(ORG)].count("webhook_added") == 1


def test_listing_an_unknown_organizations_webhooks_is_refused(manager: Manager) -> None:
    """``UnknownOrganization``, as ``events`` and ``members.list`` raise, not an empty list."""
    _org(manager)
    for look in (manager.webhooks.list, manager.webhooks.failed):
        with pytest.raises(UnknownOrganization) as caught:
            look("nope")
        assert caught.value.details == {"org_id": "nope"}
        assert look(ORG) == []
        assert look(None) == []


@pytest.mark.parametrize("org_id", [ORG, None])
def test_a_removal_replays_its_first_result(manager: Manager, org_id: str | None) -> None:
    """R13: repeating ``webhooks.remove`` with its request id answers None, not UnknownWebhook."""
    m = manager
    _org(m)
    endpoint = m.webhooks.add(org_id, "https://hooks.example.com/h", actor="a")
    assert m.webhooks.remove(endpoint.endpoint_id, actor="a", request_id="rm-1") is None
    assert m.webhooks.remove(endpoint.endpoint_id, actor="a", request_id="rm-1") is None
    assert m.webhooks.list(org_id) == []
    assert [a.action for a in m.history(ORG)].count("webhook_removed") == (org_id is not None)
    with pytest.raises(UnknownWebhook):  # another request, or none: it is gone
        m.webhooks.remove(endpoint.endpoint_id, actor="a", request_id="rm-2")
    with pytest.raises(UnknownWebhook):
        m.webhooks.remove(endpoint.endpoint_id, actor="a")


@pytest.mark.parametrize(
    ("call", "error", "param"),
    [
        (lambda m: m.webhooks.add(ORG, "http://example.com/h", actor="a"), InvalidInput, "url"),
        (lambda m: m.webhooks.add(ORG, "ftp://example.com/h", actor="a"), InvalidInput, "url"),
        (lambda m: m.webhooks.add(ORG, "https://10.0.0.1/h", actor="a"), InvalidInput, "url"),
        (lambda m: m.webhooks.add(ORG, "https://127.0.0.1/h", actor="a"), InvalidInput, "url"),
        # IPv4 as resolvers also read it: shorthand, one number, hex, octal
        (lambda m: m.webhooks.add(ORG, "https://127.1/h", actor="a"), InvalidInput, "url"),
        (lambda m: m.webhooks.add(ORG, "https://2130706433/h", actor="a"), InvalidInput, "url"),
        (lambda m: m.webhooks.add(ORG, "https://0x7f000001/h", actor="a"), InvalidInput, "url"),
        (lambda m: m.webhooks.add(ORG, "https://0177.0.0.1/h", actor="a"), InvalidInput, "url"),
        (lambda m: m.webhooks.add(ORG, "https://10.1/h", actor="a"), InvalidInput, "url"),
        (lambda m: m.webhooks.add(ORG, "not a url", actor="a"), InvalidInput, "url"),
        (
            lambda m: m.webhooks.add(ORG, "https://example.com/h", types=["nope"], actor="a"),
            InvalidInput,
            "types",
        ),
        (
            lambda m: m.webhooks.add(ORG, "https://example.com/h", types="key_redeemed", actor="a"),
            InvalidInput,
            "types",
        ),
        (
            lambda m: m.webhooks.add(ORG, "https://example.com/h", allow_http=1, actor="a"),
            InvalidInput,
            "allow_http",
        ),
        (lambda m: m.webhooks.add(ORG, "https://example.com/h", actor=""), InvalidInput, "actor"),
        (
            lambda m: m.webhooks.add("", "https://example.com/h", actor="a"),
            InvalidInput,
            "org_id",
        ),
        (
            lambda m: m.webhooks.add("nobody", "https://example.com/h", actor="a"),
            UnknownOrganization,
            None,
        ),
        (lambda m: m.webhooks.update("wh_none", enabled=False, actor="a"), UnknownWebhook, None),
        (lambda m: m.webhooks.rotate_secret("wh_none", actor="a"), UnknownWebhook, None),
        (lambda m: m.webhooks.remove("wh_none", actor="a"), UnknownWebhook, None),
        (lambda m: m.webhooks.redeliver("dlv_none", actor="a"), UnknownWebhook, None),
        (lambda m: m.webhooks.list(org_id=3), InvalidInput, "org_id"),
        (lambda m: m.events(ORG, after_seq=-1), InvalidInput, "after_seq"),
        (lambda m: m.sweep(at=datetime(2026, 1, 1)), InvalidInput, "at"),
        (lambda m: m.deliver(limit=-1), InvalidInput, "limit"),
    ],
)
def test_webhook_errors(
    manager: Manager, call: Any, error: type[Exception], param: str | None
) -> None:
    _org(manager)
    before = manager.history(ORG)
    with pytest.raises(error) as caught:
        call(manager)
    if param is not None:
        assert caught.value.details["param"] == param  # type: ignore[attr-defined]
    assert caught.value.code in {"invalid_input", "unknown_organization", "unknown_webhook"}  # type: ignore[attr-defined]
    assert manager.history(ORG) == before
    assert manager.webhooks.list() == []


def test_a_duplicate_endpoint_is_invalid_and_changes_nothing(manager: Manager) -> None:
    _org(manager)
    ep = manager.webhooks.add(
        ORG, "http://127.0.0.1:9/h", actor="a", allow_http=True, allow_private=True
    )
    other = manager.webhooks.add(
        ORG, "http://127.0.0.1:9/g", actor="a", allow_http=True, allow_private=True
    )
    with pytest.raises(InvalidInput) as caught:
        manager.webhooks.add(
            ORG, "http://127.0.0.1:9/h", actor="a", allow_http=True, allow_private=True
        )
    assert caught.value.details["param"] == "url"
    with pytest.raises(InvalidInput):
        manager.webhooks.update(other.endpoint_id, url="http://127.0.0.1:9/h", actor="a")
    assert sorted(e.url for e in manager.webhooks.list(ORG)) == [
        "http://127.0.0.1:9/g",
        ep.url,
    ]


def test_unknown_webhook_is_a_not_found_with_a_code() -> None:
    assert issubclass(UnknownWebhook, axis_licensing.NotFound)
    assert UnknownWebhook.code == "unknown_webhook"


# -- end to end --------------------------------------------------------------------------------


def test_a_command_reaches_the_receiver_signed_with_its_exact_body(
    manager: Manager, clock: ManualClock
) -> None:
    m = manager
    clock.set(datetime.now(UTC))  # the receiver checks the signature's timestamp
    _org(m)
    with receiving([]) as receiver:
        ep = m.webhooks.add(ORG, receiver.url, actor="alice", allow_http=True, allow_private=True)
        assert ep.secret is not None
        receiver.secrets = [ep.secret]
        m.start_subscription(ORG, "acs-pro", actor="alice")
        assert m.deliver() == axis_licensing.DeliveryReport(sent=2)
        assert receiver.bad == []
        events = m.events(ORG)[1:]  # webhook_added, subscription_started
        assert dict(receiver.counts) == {e.id: 1 for e in events}
        for e in events:
            assert receiver.bodies[e.id] == e.to_json()
        # rotation: both signatures are sent, the old secret and the new one verify
        rotated = m.webhooks.rotate_secret(ep.endpoint_id, actor="alice")
        assert m.deliver().sent == 1
        receiver.secrets = [str(rotated.secret)]
        m.register_system(ORG, "acs-pro", "srv-1", actor="alice")
        assert m.deliver().sent == 1
        assert receiver.bad == []
        assert sum(receiver.counts.values()) == 4


def test_failed_deliveries_are_listed_and_redelivered(manager: Manager, clock: ManualClock) -> None:
    m = manager
    now = datetime.now(UTC)
    clock.set(now)  # the receiver checks the signature's timestamp
    _org(m)
    with receiving([], "500") as receiver:
        ep = m.webhooks.add(
            ORG,
            receiver.url,
            actor="alice",
            types=["subscription_started"],
            allow_http=True,
            allow_private=True,
        )
        receiver.secrets = [str(ep.secret)]
        m.start_subscription(ORG, "acs-pro", actor="alice")
        assert m.deliver() == axis_licensing.DeliveryReport(retrying=1)
        clock.advance(days=4)  # past the three days of retries
        assert m.deliver() == axis_licensing.DeliveryReport(failed=1)
        (failed,) = m.webhooks.failed(ORG)
        event = m.events(ORG)[-1]
        assert (failed.event_id, failed.state, failed.attempts, failed.last_status) == (
            event.id,
            DeliveryState.FAILED,
            2,
            500,
        )
        assert failed.delivery_id == delivery_id(event.id, ep.endpoint_id)
        receiver.behaviour = "ok"
        clock.set(now + timedelta(seconds=1))
        m.webhooks.redeliver(failed.delivery_id, actor="alice")
        assert m.webhooks.failed() == []
        assert m.deliver() == axis_licensing.DeliveryReport(sent=1)
        assert receiver.counts[event.id] == 1
        last = m.history(ORG)[-1]
        assert (last.action, last.details) == (
            "webhook_redelivered",
            {
                "delivery_id": failed.delivery_id,
                "event_id": event.id,
                "endpoint_id": ep.endpoint_id,
            },
        )


# -- declarations ---------------------------------------------------------------------------


def test_the_events_out_operations_are_declared() -> None:
    names = {
        "events": Kind.QUERY,
        "sweep": Kind.COMMAND,
        "deliver": Kind.COMMAND,
        "webhooks.add": Kind.COMMAND,
        "webhooks.list": Kind.QUERY,
        "webhooks.update": Kind.COMMAND,
        "webhooks.rotate_secret": Kind.COMMAND,
        "webhooks.remove": Kind.COMMAND,
        "webhooks.failed": Kind.QUERY,
        "webhooks.redeliver": Kind.COMMAND,
    }
    assert {n: OPERATIONS[n].kind for n in names} == names
    assert [p.name for p in OPERATIONS["webhooks.add"].params] == [
        "org_id",
        "url",
        "types",
        "actor",
        "request_id",
        "allow_http",
        "allow_private",
    ]
    assert OPERATIONS["webhooks.add"].scope is Scope.STORE
    assert UnknownWebhook in OPERATIONS["webhooks.remove"].errors


def test_execute_runs_the_events_out_operations(manager: Manager) -> None:
    _org(manager)
    ep = manager.execute(
        "webhooks.add",
        org_id=ORG,
        url="http://127.0.0.1:9/h",
        actor="a",
        allow_http=True,
        allow_private=True,
    )
    assert manager.execute("webhooks.list", org_id=ORG) == [
        ep.__class__(**{**_fields(ep), "secret": None})
    ]
    assert manager.execute("sweep") == axis_licensing.SweepReport(organizations=1)
    # the webhook_added event goes to a closed port: retried later
    assert manager.execute("deliver", limit=5) == axis_licensing.DeliveryReport(retrying=1)


def test_every_action_has_an_event_type() -> None:
    assert {event_type(a) for a in Action} == event_types()
    assert event_type("alert_raised") == "alert.raised"
    assert date(2026, 1, 1)  # keeps the import list honest


def test_stored_event_data_is_the_json_of_the_details_compact_and_sorted(
    manager: Manager,
) -> None:
    m = manager
    m.create_organization(ORG, name="Nörd — 北", actor="élodie")
    m.start_subscription(ORG, "acs-pro", actor="élodie")
    m.register_system(ORG, "acs-pro", "srv-1", devices={"core": 3}, actor="élodie")
    key = m.vendor.issue_key("acs-pro", quantities={"core": 5})
    m.redeem_key(ORG, key, actor="élodie")
    m.allocate(ORG, "acs-pro", {"core": 3}, actor="élodie")
    stored = [row["data"] for row in m.backend.export_rows("events") if row["org_id"] == ORG]
    expected = [
        json.dumps(a.details, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        for a in m.history(ORG)
    ]
    assert len(stored) == 5
    assert stored == expected
    assert '"name":"Nörd — 北"' in stored[0]
