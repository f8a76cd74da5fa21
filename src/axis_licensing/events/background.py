"""Events out inside a long-running process (SPEC §7): a sweeper and a dispatcher thread.

``serve`` (and ``axis-licensing deliver --forever``) start a :class:`Background`
beside their Manager:

- the **dispatcher** thread runs
  :func:`~axis_licensing.events.dispatcher.deliver_forever` with the Manager's
  ``events_wake``, so events committed in this process leave at once, and others
  at the next poll (every ``poll`` seconds);
- the **sweeper** thread runs ``manager.sweep()`` every ``sweep_every`` seconds
  (60 by default).

Each process runs its own; that is safe (dispatchers lease what they send,
sweeps lock what they record). :meth:`Background.stop` sets the stop event,
wakes both threads and joins them (a delivery in flight ends within the
transport's timeout), so a shutdown is clean. A failing store is logged and
tried again; it never ends a thread.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from axis_licensing.events.dispatcher import deliver_forever
from axis_licensing.events.transport import HttpTransport, Transport

if TYPE_CHECKING:
    from axis_licensing.manager import Manager

__all__ = ["Background"]

_log = logging.getLogger("axis_licensing.events")


class Background:
    """A sweeper and a dispatcher thread over one Manager (see the module docstring)."""

    def __init__(
        self,
        manager: Manager,
        *,
        sweep_every: float = 60.0,
        poll: float = 1.0,
        sweep: bool = True,
        deliver: bool = True,
        transport: Transport | None = None,
    ) -> None:
        """Prepare the threads (nothing runs before :meth:`start`).

        Args:
            manager: the open Manager.
            sweep_every: seconds between sweeps.
            poll: seconds between the dispatcher's polls when idle.
            sweep: run the sweeper.
            deliver: run the dispatcher.
            transport: what the dispatcher sends with (default the Manager's, or
                an :class:`HttpTransport`).
        """
        self._manager = manager
        self._sweep_every = sweep_every
        self._poll = poll
        self._want = (sweep, deliver)
        self._transport = transport or manager.transport or HttpTransport()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def running(self) -> bool:
        """Whether the threads are started and not stopped."""
        return bool(self._threads) and not self._stop.is_set()

    def start(self) -> None:
        """Start the threads (daemon threads, named ``axis-licensing-sweep`` / ``-deliver``)."""
        if self._threads:
            return
        sweep, deliver = self._want
        if sweep:
            self._threads.append(
                threading.Thread(target=self._sweeper, name="axis-licensing-sweep", daemon=True)
            )
        if deliver:
            self._threads.append(
                threading.Thread(
                    target=self._dispatcher, name="axis-licensing-deliver", daemon=True
                )
            )
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the threads and wait for them (at most ``timeout`` seconds each)."""
        self._stop.set()
        self._manager.events_wake.set()  # the dispatcher waits on it
        for thread in self._threads:
            thread.join(timeout)

    def _sweeper(self) -> None:
        while not self._stop.is_set():
            try:
                report = self._manager.sweep()
                if report.raised or report.cleared:
                    _log.info(
                        "sweep: %d organizations, %d alerts raised, %d cleared",
                        report.organizations,
                        report.raised,
                        report.cleared,
                    )
            except Exception:  # a store failure must not end the sweeper
                _log.exception("the sweep failed; trying again at the next one")
            self._stop.wait(self._sweep_every)

    def _dispatcher(self) -> None:
        manager = self._manager
        deliver_forever(
            manager.backend,
            self._transport,
            manager.clock.now,
            self._stop,
            interval=self._poll,
            wake=manager.events_wake,
        )
