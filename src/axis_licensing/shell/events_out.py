"""Events out, on the Manager (SPEC §7): ``events``, ``sweep``, ``deliver`` and ``webhooks``.

- :meth:`EventsOut.events` reads an organization's events back (a host may pull
  instead of, or as well as, receiving webhooks).
- :meth:`EventsOut.sweep` claims the organizations due in the sweep index and
  sweeps each (:mod:`axis_licensing.shell.sweep`).
- :meth:`EventsOut.deliver` runs one pass of the dispatcher
  (:func:`axis_licensing.events.dispatcher.deliver`) with :attr:`EventsOut.transport`.
- ``manager.webhooks`` is :class:`~axis_licensing.shell.webhooks.Webhooks`.
"""

from __future__ import annotations

import functools
import threading
from datetime import datetime, timedelta

from axis_licensing._time import check_aware, to_us
from axis_licensing.backends import RetryableConflict, WriteTx
from axis_licensing.errors import StorageError
from axis_licensing.events import dispatcher
from axis_licensing.events.model import DeliveryReport, Event, SweepReport
from axis_licensing.events.store import NO_LIMIT, events_of
from axis_licensing.events.transport import HttpTransport, Transport
from axis_licensing.shell.operations import OPERATIONS
from axis_licensing.shell.pipeline import Pipeline, Ran
from axis_licensing.shell.sweep import Swept, sweep_org
from axis_licensing.shell.transact import unknown_organization
from axis_licensing.shell.webhooks import Webhooks

__all__ = ["SWEEP_LEASE", "EventsOut"]

#: How long a sweep holds the organizations it claimed before another sweep may take them.
SWEEP_LEASE = timedelta(minutes=5)


class EventsOut(Pipeline):
    """The Manager's events-out methods (see the module docstring)."""

    #: What :meth:`deliver` sends with; an :class:`HttpTransport` unless a host sets another.
    transport: Transport | None = None

    @property
    def events_wake(self) -> threading.Event:
        """Set after every commit that wrote events, in this process only (SPEC §7).

        Pass it as ``wake`` to :func:`~axis_licensing.events.dispatcher.deliver_forever`
        so a dispatcher in the same process sends new events at once rather than
        at its next poll; dispatchers in other processes find them at their next poll.
        """
        return self._wake

    @functools.cached_property
    def webhooks(self) -> Webhooks:
        """Webhook endpoints and failed deliveries (SPEC §7)."""
        return Webhooks(self)

    def events(
        self, org_id: str, *, after_seq: int | None = None, limit: int | None = None
    ) -> list[Event]:
        """The organization's events, by ``seq`` (SPEC §7).

        Args:
            org_id: the organization.
            after_seq: only those with a greater ``seq``; None: from the first.
            limit: at most this many; None: all the rest.

        Returns:
            The events, by ``seq``.

        Raises:
            InvalidInput: a bad id, ``after_seq`` or ``limit``.
            UnknownOrganization: no such organization.
            StorageError: the backend failed.
        """
        a = OPERATIONS["events"].checked(locals(), self)

        def look(tx: object) -> list[Event]:
            if tx.head(a["org_id"]) is None:  # type: ignore[attr-defined]
                raise unknown_organization(a["org_id"])
            return events_of(tx).events_after(a["org_id"], a["after_seq"], a["limit"])

        return self._read(look)

    def sweep(self, *, at: datetime | None = None, limit: int | None = None) -> SweepReport:
        """Record every alert that appeared or cleared as of ``at`` (SPEC §7).

        Reads only the organizations due in the sweep index (whose alerts can
        have changed since they were last swept or changed by a command). Each
        is swept in its own transaction under its lock, so several sweeps at
        once never record an alert twice. Alerts are recorded as
        ``alert_raised`` / ``alert_cleared`` activities (actor ``system``) and
        their ``alert.raised`` / ``alert.cleared`` events; lots that expired
        since the last command are recorded too (``licenses_expired``).

        Args:
            at: the instant (aware); None: now. Never before an organization's
                latest command: the later of the two is used.
            limit: at most this many organizations; None: every one due.

        Returns:
            How many organizations were read, and alerts raised and cleared.

        Raises:
            InvalidInput: a naive ``at`` or a bad ``limit``.
            ConcurrencyConflict: the sweep kept losing races.
            StorageError: the backend failed.
        """
        a = OPERATIONS["sweep"].checked(locals(), self)
        now = self._now() if a["at"] is None else check_aware(a["at"], "at")
        most = NO_LIMIT if a["limit"] is None else a["limit"]
        if most == 0:
            return SweepReport()
        lease = to_us(now + SWEEP_LEASE) - to_us(now)

        def claim() -> list[str]:
            with self.backend.write() as tx:
                return events_of(tx).claim_sweep(to_us(now), most, lease)

        due = self._retrying(claim)
        raised = cleared = 0
        for org_id in due:
            swept = self._sweep_one(org_id, now)
            raised += swept.raised
            cleared += swept.cleared
        return SweepReport(organizations=len(due), raised=raised, cleared=cleared)

    def _sweep_one(self, org_id: str, at: datetime) -> Swept:
        """Sweep one organization in the one shell's transaction (:meth:`_transact`)."""

        def body(tx: WriteTx, now: datetime) -> Ran:
            states, catalog_at, refresh = self._states, self._catalog_at, self._refresh_catalogs
            swept = sweep_org(tx, org_id, at, states, catalog_at, refresh)
            return Ran(swept, org_id, swept.written)

        swept = self._transact(body).result
        assert isinstance(swept, Swept)
        return swept

    def deliver(self, *, limit: int | None = None) -> DeliveryReport:
        """One pass of the dispatcher: send up to ``limit`` due deliveries (SPEC §7).

        2xx is delivered; anything else is retried with exponential backoff and
        jitter for three days, then failed. Safe to run in several processes at once.

        Args:
            limit: at most this many deliveries; None: 100.

        Returns:
            How many were sent, failed for good, and are to be retried.

        Raises:
            InvalidInput: a bad ``limit``.
            StorageError: the backend failed, or kept losing races.
        """
        a = OPERATIONS["deliver"].checked(locals(), self)
        most = dispatcher.DEFAULT_LIMIT if a["limit"] is None else a["limit"]
        if most == 0:
            return DeliveryReport()
        if self.transport is None:
            self.transport = HttpTransport()
        try:
            return dispatcher.deliver(self.backend, self.transport, self._now(), most)
        except RetryableConflict as exc:
            raise StorageError("the dispatcher kept losing races; try again") from exc
