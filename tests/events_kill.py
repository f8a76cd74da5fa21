"""Kill the dispatcher with SIGKILL at random points; no committed event may be lost (SPEC §7).

A dispatcher runs in a child process (``python tests/events_kill.py child URL``),
sending to a local receiver that verifies every signature with the
``standardwebhooks`` package's own verifier and counts each ``webhook-id``. The
harness commits events, kills the child at a random moment, commits more,
starts a new child, and so on. At the end, one more pass runs after every lease
a killed child held has run out, and then:

- every committed event has a delivery, and each delivery is delivered;
- every event was received, with a valid signature (duplicates are allowed:
  delivery is at least once);
- no delivery is failed, and the outbox is empty.

``run_kill_harness`` is called by tests/test_events_dispatcher.py in a short
form (a few kills) and, in a longer form, by the ``events_soak`` nox session
(``python tests/events_kill.py soak URL --kills 40``).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).parent))

from axis_licensing.events.dispatcher import deliver, deliver_forever, lease_for
from axis_licensing.events.model import DeliveryState, EventDraft
from axis_licensing.events.signing import new_secret
from axis_licensing.events.transport import Attempt, HttpTransport, Target
from events_support import Receiver, add_endpoint, open_backend, tx_of

__all__ = ["KillReport", "run_kill_harness"]

#: The child's batch: small, so kills land between claims, sends and records.
CHILD_BATCH = 3


@attrs.frozen
class KillReport:
    """What one run of the harness saw."""

    events: int
    kills: int
    received: int
    duplicates: int
    bad_signatures: int
    undelivered: int
    overlaps: int


def child(url: str) -> None:
    """The dispatcher process: deliver until killed."""
    store = open_backend(url)
    stop = threading.Event()
    deliver_forever(
        store,
        _ChildTransport(HttpTransport(timeout=2.0)),
        lambda: datetime.now(UTC),
        stop,
        interval=0.02,
        limit=CHILD_BATCH,
    )


class _ChildTransport:
    """The real transport, with a random pause after each send: kills then land
    between a send and its record, where a lost record means a resend."""

    def __init__(self, inner: HttpTransport) -> None:
        self.inner = inner

    def post(self, target: Target, headers: Mapping[str, str], body: bytes) -> Attempt:
        attempt = self.inner.post(target, headers, body)
        time.sleep(random.uniform(0.0, 0.02))
        return attempt


def _start_child(url: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    src = str(Path(__file__).parent.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH", "")]))
    return subprocess.Popen(
        [sys.executable, __file__, "child", url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_kill_harness(
    url: str,
    *,
    kills: int,
    events_per_round: int,
    seed: int,
    org_id: str = "acme",
) -> KillReport:
    """Commit events and SIGKILL the dispatcher ``kills`` times; check nothing is lost.

    Raises:
        AssertionError: an event was lost, a signature failed, or a delivery failed.
    """
    rng = random.Random(seed)
    store = open_backend(url)
    secret = new_secret()
    try:
        with Receiver([secret]) as receiver:
            add_endpoint(store, receiver.url, org_id=org_id, secret=secret)
            committed = 0
            for _ in range(kills):
                with store.write() as tx:
                    drafts = [
                        EventDraft("licenses_allocated", datetime.now(UTC), {"n": committed + i})
                        for i in range(events_per_round)
                    ]
                    committed += len(tx_of(tx).append_events(org_id, drafts))
                process = _start_child(url)
                time.sleep(rng.uniform(0.2, 1.2))  # the child needs ~0.3 s to start
                process.send_signal(signal.SIGKILL)
                process.wait()
            # every lease a killed child held has run out by then
            later = datetime.now(UTC) + lease_for(CHILD_BATCH) + timedelta(seconds=1)
            transport = HttpTransport(timeout=2.0)
            while (report := deliver(store, transport, later, 50)).sent + report.retrying:
                assert report.retrying == 0, report
            with store.read() as tx:
                events = tx_of(tx).events_after(org_id)
                deliveries = tx_of(tx).deliveries(org_id)
                stats = tx_of(tx).outbox_stats()
            assert len(events) == committed
            assert {d.event_id for d in deliveries} == {e.id for e in events}
            undelivered = [d for d in deliveries if d.state is not DeliveryState.DELIVERED]
            assert undelivered == []
            assert stats.depth == 0
            received = set(receiver.counts)
            assert received == {e.id for e in events}, "an event was lost"
            assert receiver.bad == []
            return KillReport(
                events=committed,
                kills=kills,
                received=len(received),
                duplicates=sum(receiver.counts.values()) - len(received),
                bad_signatures=len(receiver.bad),
                undelivered=len(undelivered),
                overlaps=receiver.overlaps,
            )
    finally:
        store.close()


def main(argv: list[str]) -> None:
    """``child URL`` runs a dispatcher; ``soak URL [--kills N]`` runs the long harness."""
    parser = argparse.ArgumentParser(prog="events_kill")
    parser.add_argument("mode", choices=("child", "soak"))
    parser.add_argument("url")
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.mode == "child":
        child(args.url)
        return
    report = run_kill_harness(
        args.url, kills=args.kills, events_per_round=args.events, seed=args.seed
    )
    print(report)


if __name__ == "__main__":
    main(sys.argv[1:])
