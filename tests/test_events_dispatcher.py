"""The dispatcher (SPEC §7): at least once, retries, failure after three days, several
dispatchers at once, and a dispatcher killed at random points losing nothing.

Events are written with the storage's own ``append_events`` (the shell is not wired
to events yet). Receivers are local (tests/events_support.py) and verify every
signature with the ``standardwebhooks`` package's own verifier.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from axis_licensing.backends import Backend
from axis_licensing.events.dispatcher import deliver, deliver_forever, lease_for
from axis_licensing.events.model import DeliveryReport, DeliveryState, EventDraft
from axis_licensing.events.signing import new_secret
from axis_licensing.events.store import to_us
from axis_licensing.events.transport import HttpTransport
from events_kill import run_kill_harness
from events_support import Receiver, add_endpoint, open_backend, tx_of

SECRET = new_secret()


def commit(store: Backend, count: int, at: datetime, org_id: str = "acme") -> list[str]:
    with store.write() as tx:
        drafts = [EventDraft("licenses_allocated", at, {"n": n}) for n in range(count)]
        return [e.id for e in tx_of(tx).append_events(org_id, drafts)]


def frozen(seconds: float = 0.0) -> float:
    return seconds


def test_deliver_sends_each_event_once_signed(store: Backend) -> None:
    now = datetime.now(UTC)
    with Receiver([SECRET]) as receiver:
        add_endpoint(store, receiver.url, secret=SECRET)
        add_endpoint(store, receiver.url, org_id="zeta", endpoint_id="wh_z", secret=SECRET)
        ids = commit(store, 12, now)
        transport = HttpTransport(timeout=2.0)
        assert deliver(store, transport, now, limit=5, batch=2) == DeliveryReport(sent=5)
        assert deliver(store, transport, now) == DeliveryReport(sent=7)
        assert deliver(store, transport, now) == DeliveryReport()
    assert receiver.counts == dict.fromkeys(ids, 1)
    assert receiver.bad == []
    assert [receiver.bodies[i]["seq"] for i in ids] == list(range(1, 13))
    with store.read() as tx:
        deliveries = tx_of(tx).deliveries("acme")
        assert tx_of(tx).outbox_stats().depth == 0
    assert {d.state for d in deliveries} == {DeliveryState.DELIVERED}
    assert {(d.attempts, d.last_status, d.last_error) for d in deliveries} == {(1, 200, None)}
    assert all(d.delivered_at is not None and d.delivered_at >= now for d in deliveries)


def test_during_a_rotation_both_secrets_sign(store: Backend) -> None:
    now = datetime.now(UTC)
    old = new_secret()
    with Receiver([old]) as receiver:
        row = add_endpoint(store, receiver.url, secret=old)
        rotated = attrs.evolve(
            row,
            secret=new_secret(),
            previous_secret=old,
            previous_until_us=to_us(now + timedelta(hours=1)),
        )
        with store.write() as tx:
            tx_of(tx).update_endpoint(rotated)
        (event,) = commit(store, 1, now)
        assert deliver(store, HttpTransport(timeout=2.0), now) == DeliveryReport(sent=1)
    # the receiver still holds the old secret only, and it verified
    assert receiver.counts == {event: 1}


@pytest.mark.parametrize(
    ("behaviour", "status", "error"),
    [
        ("500", 500, "HTTP 500"),
        ("redirect", 302, "HTTP 302: redirects are not followed"),
        ("hang", None, "timed out after 0.3 s"),
        ("cut", 200, "connection closed mid-body (990 bytes missing)"),
    ],
)
def test_failing_receivers_are_retried_then_failed(
    tmp_path: Path, behaviour: str, status: int | None, error: str
) -> None:
    store = open_backend(f"sqlite:///{tmp_path / 'axis.db'}")
    now = datetime.now(UTC).replace(microsecond=0)
    transport = HttpTransport(timeout=0.3)
    with Receiver([SECRET], behaviour, hang_seconds=1.0) as receiver:
        add_endpoint(store, receiver.url, secret=SECRET)
        (event,) = commit(store, 1, now)

        def run(at: datetime) -> DeliveryReport:
            return deliver(store, transport, at, draw=lambda: 0.0, elapsed=frozen)

        assert run(now) == DeliveryReport(retrying=1)
        with store.read() as tx:
            (pending,) = tx_of(tx).deliveries()
        assert pending.state is DeliveryState.PENDING
        assert (pending.attempts, pending.last_status, pending.last_error) == (1, status, error)
        assert pending.next_at == now + timedelta(seconds=5)  # 10 s, half of it with draw 0
        assert run(now + timedelta(seconds=4)) == DeliveryReport()  # not due yet
        assert run(now + timedelta(seconds=5)) == DeliveryReport(retrying=1)
        with store.read() as tx:
            assert tx_of(tx).deliveries()[0].next_at == now + timedelta(seconds=15)
        # three days after the event, a failure is final
        assert run(now + timedelta(days=3)) == DeliveryReport(failed=1)
        assert run(now + timedelta(days=4)) == DeliveryReport()
        with store.read() as tx:
            (failed,) = tx_of(tx).deliveries(state=DeliveryState.FAILED)
            assert tx_of(tx).outbox_stats().depth == 0
        assert (failed.attempts, failed.next_at, failed.last_error) == (3, None, error)
        assert failed.event_id == event
    # fixed by hand: point the endpoint at a working receiver and redeliver
    with Receiver([SECRET]) as good:
        with store.write() as tx:
            row = tx_of(tx).endpoint_row("wh_1")
            assert row is not None
            tx_of(tx).update_endpoint(attrs.evolve(row, url=good.url))
            tx_of(tx).redeliver(failed.delivery_id, to_us(now))
        assert deliver(store, transport, now) == DeliveryReport(sent=1)
    assert good.counts == {event: 1}
    store.close()


def test_a_hanging_receiver_does_not_hold_up_the_others(tmp_path: Path) -> None:
    store = open_backend(f"sqlite:///{tmp_path / 'axis.db'}")
    now = datetime.now(UTC)
    with Receiver([SECRET], "hang", hang_seconds=1.0) as slow, Receiver([SECRET]) as fast:
        add_endpoint(store, slow.url, endpoint_id="wh_slow", secret=SECRET)
        add_endpoint(store, fast.url, endpoint_id="wh_fast", secret=SECRET)
        ids = commit(store, 3, now)
        report = deliver(store, HttpTransport(timeout=0.2), now)
    assert report == DeliveryReport(sent=3, retrying=3)
    assert fast.counts == dict.fromkeys(ids, 1)
    store.close()


def _race(urls: list[str], receiver: Receiver, count: int) -> list[DeliveryReport]:
    """Two dispatchers, each with its own connections, drain one outbox at once."""
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(urls))

    def dispatcher(url: str) -> None:
        backend = open_backend(url)
        try:
            start.wait()
            transport = HttpTransport(timeout=5.0)
            while (report := deliver(backend, transport, datetime.now(UTC), 4, batch=2)).sent:
                reports.append(report)
        except BaseException as exc:
            errors.append(exc)
        finally:
            backend.close()

    threads = [threading.Thread(target=dispatcher, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return reports


def test_concurrent_dispatchers_never_send_one_event_twice(persistent_url: str) -> None:
    url = persistent_url
    store = open_backend(url)
    with Receiver([SECRET], "slow-ok") as receiver:
        add_endpoint(store, receiver.url, secret=SECRET)
        ids = commit(store, 30, datetime.now(UTC))
        reports = _race([url, url], receiver, 30)
    assert sum(r.sent for r in reports) == 30
    assert receiver.counts == dict.fromkeys(ids, 1)
    assert receiver.overlaps == 0
    assert receiver.bad == []
    with store.read() as tx:
        assert {d.state for d in tx_of(tx).deliveries()} == {DeliveryState.DELIVERED}
    store.close()


def test_deliver_checks_its_arguments(tmp_path: Path) -> None:
    store = open_backend("memory://")
    with pytest.raises(ValueError, match="limit and batch must be at least 1"):
        deliver(store, HttpTransport(), datetime.now(UTC), 0)
    assert lease_for(10) == timedelta(seconds=150)


def test_killing_the_dispatcher_loses_no_event(persistent_url: str) -> None:
    url = persistent_url
    report = run_kill_harness(url, kills=3, events_per_round=8, seed=15)
    assert report.events == report.received == 24
    assert (report.bad_signatures, report.undelivered) == (0, 0)


def test_deliver_forever_wakes_on_a_commit_and_stops(tmp_path: Path) -> None:
    store = open_backend(f"sqlite:///{tmp_path / 'axis.db'}")
    stop, wake = threading.Event(), threading.Event()
    with Receiver([SECRET]) as receiver:
        add_endpoint(store, receiver.url, secret=SECRET)
        worker = threading.Thread(
            target=deliver_forever,
            args=(store, HttpTransport(timeout=2.0), lambda: datetime.now(UTC), stop),
            kwargs={"interval": 60.0, "wake": wake},
        )
        worker.start()
        ids = commit(store, 2, datetime.now(UTC))
        wake.set()  # without it, the next poll would be a minute away
        for _ in range(500):
            if len(receiver.counts) == 2:
                break
            threading.Event().wait(0.01)
        stop.set()
        wake.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert receiver.counts == dict.fromkeys(ids, 1)
    store.close()
