"""The dispatcher: sends the outbox's due deliveries (SPEC §7).

One pass (:func:`deliver`) works in small batches:

1. claim up to ``batch`` due deliveries in one short write transaction; each
   claim is a lease, long enough for the whole batch to be sent;
2. send each, outside any transaction, signed with the endpoint's secret(s),
   through the transport (which never raises and never takes longer than its
   timeout);
3. record the batch's outcomes in one short write transaction: 2xx is delivered;
   anything else is retried after the backoff of :mod:`~axis_licensing.events.retry`,
   or, three days after the delivery's window opened, failed.

So delivery is at least once: a dispatcher killed after sending and before
recording leaves the lease to run out, and the delivery is sent again (with the
same ``webhook-id``, so the receiver can tell). Several dispatchers never hold
one delivery at the same moment, because a claim skips leased deliveries.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from axis_licensing.backends import Backend, RetryableConflict
from axis_licensing.events.model import DeliveryReport, DeliveryState
from axis_licensing.events.retry import retry_at
from axis_licensing.events.signing import sign_headers
from axis_licensing.events.store import Claim, Outcome, events_of, to_us
from axis_licensing.events.transport import DEFAULT_TIMEOUT, Transport

__all__ = ["DEFAULT_BATCH", "DEFAULT_LIMIT", "deliver", "deliver_forever", "lease_for"]

T = TypeVar("T")

_log = logging.getLogger("axis_licensing.events")

#: Deliveries claimed in one transaction.
DEFAULT_BATCH = 10
#: Deliveries sent in one pass at most.
DEFAULT_LIMIT = 100
#: How many times a claim or a record is run again after losing a race.
_RETRIES = 5


def lease_for(batch: int, timeout: float = DEFAULT_TIMEOUT) -> timedelta:
    """How long a claim lasts: enough to send a whole batch, each taking its full timeout."""
    return timedelta(seconds=batch * (timeout + 5.0))


def _write(store: Backend, work: Callable[[object], T]) -> T:
    """Run ``work(tx)`` in a write transaction, again when it lost a race.

    Raises:
        RetryableConflict: it lost the race :data:`_RETRIES` times.
        StorageError: the store failed.
    """
    for attempt in range(_RETRIES):
        try:
            with store.write() as tx:
                return work(tx)
        except RetryableConflict:
            if attempt == _RETRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def deliver(
    store: Backend,
    transport: Transport,
    now: datetime,
    limit: int = DEFAULT_LIMIT,
    *,
    batch: int = DEFAULT_BATCH,
    lease: timedelta | None = None,
    owner: str | None = None,
    draw: Callable[[], float] = random.random,
    elapsed: Callable[[], float] | None = None,
) -> DeliveryReport:
    """One pass of the dispatcher: send up to ``limit`` due deliveries.

    Args:
        store: the backend (its transactions carry the events-out methods).
        transport: what sends (an :class:`~axis_licensing.events.transport.HttpTransport`).
        now: the instant the pass starts (a clock's now); later instants in the
            pass are ``now`` plus the time elapsed since.
        limit: the most deliveries sent in this pass.
        batch: the most deliveries claimed at once.
        lease: how long a claim lasts (default :func:`lease_for` of the most claimed at once).
        owner: who holds the claims (default: a fresh random id per pass).
        draw: the random source of the backoff's jitter, in ``[0, 1)``.
        elapsed: seconds since the pass started (default: :func:`time.monotonic`);
            tests pass their own.

    Returns:
        How many were delivered, failed for good, and are to be retried.

    Raises:
        ValueError: ``limit`` or ``batch`` below 1.
        TypeError: the backend does not store events.
        StorageError: the store failed.
        RetryableConflict: a claim or a record lost its race five times in a row.
    """
    if limit < 1 or batch < 1:
        raise ValueError("limit and batch must be at least 1")
    owner = owner or uuid.uuid4().hex
    lease_us = to_us(now + (lease or lease_for(min(batch, limit)))) - to_us(now)
    if elapsed is None:
        started = time.monotonic()

        def since() -> float:
            return time.monotonic() - started
    else:
        since = elapsed

    def at() -> datetime:
        return now + timedelta(seconds=since())

    sent = failed = retrying = 0
    remaining = limit
    while remaining > 0:
        size = min(batch, remaining)
        claims = _write(store, _claimer(to_us(at()), size, owner, lease_us))
        remaining -= len(claims)
        outcomes = [(claim.row.delivery_id, _send(transport, claim, at, draw)) for claim in claims]
        for state in _write(store, _recorder(outcomes, owner)):
            if state is DeliveryState.DELIVERED:
                sent += 1
            elif state is DeliveryState.FAILED:
                failed += 1
            elif state is DeliveryState.PENDING:
                retrying += 1
        if len(claims) < size:
            break
    return DeliveryReport(sent=sent, failed=failed, retrying=retrying)


def _claimer(now_us: int, size: int, owner: str, lease_us: int) -> Callable[[object], list[Claim]]:
    def claim(tx: object) -> list[Claim]:
        return events_of(tx).claim_deliveries(now_us, size, owner, lease_us)

    return claim


def _recorder(
    outcomes: list[tuple[str, Outcome]], owner: str
) -> Callable[[object], list[DeliveryState | None]]:
    """Record a batch's outcomes in one transaction: one commit (one fsync) per batch."""

    def record(tx: object) -> list[DeliveryState | None]:
        events = events_of(tx)
        return [
            outcome.state if events.finish_delivery(delivery, owner, outcome) else None
            for delivery, outcome in outcomes
        ]

    return record


def _send(
    transport: Transport,
    claim: Claim,
    at: Callable[[], datetime],
    draw: Callable[[], float],
) -> Outcome:
    """Send one claimed delivery, signed; what became of it (not recorded yet)."""
    event, endpoint, row = claim.event, claim.endpoint, claim.row
    body = event.body()
    sending = at()
    headers = sign_headers(event.id, sending, body, endpoint.secrets_at(to_us(sending)))
    attempt = transport.post(endpoint.target(), headers, body)
    ended = to_us(at())
    if attempt.ok:
        return Outcome(DeliveryState.DELIVERED, ended, status=attempt.status)
    next_at = retry_at(row.window_us, row.attempts + 1, ended, draw())
    _log.info(
        "webhook delivery %s to endpoint %s failed (attempt %d, %s): %s",
        row.delivery_id,
        row.endpoint_id,
        row.attempts + 1,
        "will retry" if next_at is not None else "giving up",
        attempt.error,
    )
    state = DeliveryState.FAILED if next_at is None else DeliveryState.PENDING
    return Outcome(state, ended, next_at, attempt.status, attempt.error)


def deliver_forever(
    store: Backend,
    transport: Transport,
    clock: Callable[[], datetime],
    stop: threading.Event,
    *,
    interval: float = 1.0,
    limit: int = DEFAULT_LIMIT,
    wake: threading.Event | None = None,
) -> None:
    """Run :func:`deliver` until ``stop`` is set: at once again after a full pass,
    else after ``interval`` seconds, or as soon as ``wake`` is set.

    A host that commits events in this process sets ``wake`` after the commit, so
    a delivery starts at once rather than at the next poll (set it too when
    setting ``stop``). A failing store is logged and tried again.

    Raises:
        ValueError: a bad ``limit`` (see :func:`deliver`).
        TypeError: the backend does not store events.
    """
    while not stop.is_set():
        try:
            report = deliver(store, transport, clock(), limit)
        except (ValueError, TypeError):
            raise
        except Exception:  # a store failure must not end the dispatcher
            _log.exception("the webhook dispatcher's pass failed; trying again")
            _idle(stop, wake, interval)
            continue
        if report.sent + report.failed + report.retrying < limit:
            _idle(stop, wake, interval)


def _idle(stop: threading.Event, wake: threading.Event | None, interval: float) -> None:
    if wake is None:
        stop.wait(interval)
    else:
        wake.wait(interval)
        wake.clear()
