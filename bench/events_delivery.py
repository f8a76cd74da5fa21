"""(i) Webhook delivery (SPEC §7): from commit to the receiver's 2xx, and events per second.

- Latency: one dispatcher (``deliver_forever``, woken by the commit as a host
  does) on an SQLite store, and a local receiver; events are committed one at a
  time with ``append_events`` in a write transaction, and the time from the end
  of the commit to the receiver's answer is measured. Target: p50 <= 50 ms.
- Throughput: events per second of one dispatcher draining a full outbox,
  against the floor, a bare loop of signed POSTs to the same receiver through
  the same transport. Target: floor / dispatcher <= 2 (throughput >= 0.5x the floor).

Run alone with ``python -m bench.events_delivery [--quick]``; ``python -m bench``
calls :func:`run`.
"""

from __future__ import annotations

import http.server
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from axis_licensing import EXAMPLE_CATALOG, Manager
from axis_licensing.backends.sqlite import SQLiteBackend
from axis_licensing.events.background import Background
from axis_licensing.events.dispatcher import deliver, deliver_forever
from axis_licensing.events.model import EventDraft, WebhookEndpoint, event_id
from axis_licensing.events.signing import new_secret, sign_headers
from axis_licensing.events.store import EndpointRow, events_of
from axis_licensing.events.transport import HttpTransport, Target
from bench._common import Ratio, Settings, print_table, run_alone

__all__ = ["run"]


class _Receiver:
    """Answers 200 to every POST and notes when each ``webhook-id`` arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.done = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()
                with receiver.done:
                    receiver.arrived.setdefault(
                        self.headers.get("webhook-id", ""), time.perf_counter()
                    )
                    receiver.done.notify_all()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 60.0) -> None:
        with self.done:
            self.done.wait_for(lambda: len(self.arrived) >= count, timeout)


@contextmanager
def _setup() -> Iterator[tuple[SQLiteBackend, _Receiver]]:
    receiver = _Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    with tempfile.TemporaryDirectory() as directory:
        store = SQLiteBackend(f"sqlite:///{Path(directory) / 'bench.db'}")
        endpoint = WebhookEndpoint(
            endpoint_id="wh_bench",
            org_id="acme",
            url=receiver.url,
            types=None,
            enabled=True,
            allow_http=True,
            allow_private=True,
            created_at=datetime.now(UTC),
        )
        with store.write() as tx:
            events_of(tx).insert_endpoint(EndpointRow.new(endpoint, new_secret()))
        try:
            yield store, receiver
        finally:
            store.close()
            receiver.server.shutdown()
            receiver.server.server_close()


def _commit(store: SQLiteBackend, count: int) -> list[str]:
    with store.write() as tx:
        drafts = [
            EventDraft("licenses_allocated", datetime.now(UTC), {"n": n}) for n in range(count)
        ]
        return [event.id for event in events_of(tx).append_events("acme", drafts)]


def _latency(events: int) -> list[float]:
    """Seconds from the end of each commit to the receiver's answer."""
    with _setup() as (store, receiver):
        stop, wake = threading.Event(), threading.Event()
        worker = threading.Thread(
            target=deliver_forever,
            args=(store, HttpTransport(), lambda: datetime.now(UTC), stop),
            kwargs={"interval": 1.0, "wake": wake},
        )
        worker.start()
        committed: dict[str, float] = {}
        try:
            for n in range(events):
                (event_id,) = _commit(store, 1)
                committed[event_id] = time.perf_counter()
                wake.set()
                receiver.wait_for(n + 1)
        finally:
            stop.set()
            wake.set()
            worker.join()
        return [receiver.arrived[i] - committed[i] for i in committed]


def _latency_of_commands(commands: int) -> list[float]:
    """Seconds from the end of each Manager command (``report_devices``) to the receiver's
    answer: the whole path, the command's own transaction writing its event, the
    Manager's ``events_wake`` waking an in-process dispatcher (as ``serve`` runs it)."""
    receiver = _Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    with tempfile.TemporaryDirectory() as directory:
        m = Manager.open(f"sqlite:///{Path(directory) / 'bench.db'}", catalog=EXAMPLE_CATALOG)
        m.create_organization("acme", name="Acme", actor="bench")
        m.register_system("acme", "acs-pro", "srv-1", devices={"core": 1}, actor="bench")
        m.webhooks.add(
            "acme",
            receiver.url,
            types=["devices_reported"],
            actor="bench",
            allow_http=True,
            allow_private=True,
        )
        background = Background(m, sweep=False, poll=1.0)
        background.start()
        committed: dict[str, float] = {}
        try:
            for n in range(commands):
                m.report_devices("acme", "srv-1", {"core": 2 + n}, actor="bench")
                done = time.perf_counter()  # committed: the clock starts here
                committed[event_id("acme", m.events("acme")[-1].seq)] = done
                receiver.wait_for(n + 1)
        finally:
            background.stop()
            m.close()
            receiver.server.shutdown()
            receiver.server.server_close()
    return [receiver.arrived[i] - committed[i] for i in committed]


def _throughput(events: int) -> tuple[float, float]:
    """Events per second: one dispatcher draining the outbox, and the bare-loop floor."""
    with _setup() as (store, receiver):
        _commit(store, events)
        transport = HttpTransport()
        started = time.perf_counter()
        while deliver(store, transport, datetime.now(UTC), 100).sent:
            pass
        dispatched = events / (time.perf_counter() - started)
        secret = new_secret()
        target = Target(receiver.url, True, True)
        body = b'{"type":"licenses_allocated","data":{}}'
        started = time.perf_counter()
        for n in range(events):
            headers = sign_headers(f"evt_floor_{n}", datetime.now(UTC), body, [secret])
            transport.post(target, headers, body)
        floor = events / (time.perf_counter() - started)
        return dispatched, floor


def run(settings: Settings) -> list[Ratio]:
    """Measure (i) and print its table."""
    latencies = sorted(_latency(100 if settings.quick else 400))
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    dispatched, floor = _throughput(300 if settings.quick else 1000)
    through = sorted(_latency_of_commands(50 if settings.quick else 200))
    c50 = statistics.median(through) * 1000
    c99 = through[min(len(through) - 1, int(len(through) * 0.99))] * 1000
    ratios = [
        Ratio("(i) commit to 2xx, p50 (ms)", p50, 50.0),
        Ratio("(i) Manager command to 2xx, p50 (ms)", c50, 50.0),
        Ratio("(i) floor / dispatcher events per second", floor / dispatched, 2.0),
    ]
    print_table(
        "(i) webhook delivery, SQLite, one dispatcher, local receiver",
        [
            ("commit to 2xx p50", f"{p50:.1f} ms"),
            ("commit to 2xx p99", f"{p99:.1f} ms"),
            ("Manager command to 2xx p50", f"{c50:.1f} ms"),
            ("Manager command to 2xx p99", f"{c99:.1f} ms"),
            ("dispatcher", f"{dispatched:.0f} events/s"),
            ("floor: bare signed POSTs", f"{floor:.0f} events/s"),
        ],
        ratios,
    )
    return ratios


if __name__ == "__main__":
    run_alone(run, "python -m bench.events_delivery")
