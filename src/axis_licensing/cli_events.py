"""The long-running commands of events out (SPEC §7): ``deliver`` and ``sweep``.

They are plain click commands, registered in the CLI's group by ``cli.py``::

    main.add_command(cli_events.deliver); main.add_command(cli_events.sweep)

after the commands drawn from the declarations, so these two replace the
generic ``deliver`` and ``sweep`` (one pass each) with the same pass plus the
loops a service needs:

- ``axis-licensing deliver`` sends the due webhook deliveries once;
  ``--forever`` runs the dispatcher until SIGINT or SIGTERM (several may run at
  once, on one store or many hosts);
- ``axis-licensing sweep`` records the alerts that appeared or cleared;
  ``--every SECONDS`` repeats it until SIGINT or SIGTERM (``serve`` does that
  every 60 seconds by itself).

Errors are :class:`~axis_licensing.errors.LicensingError`\\s, which the CLI's
group turns into exit codes and messages.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import FrameType

import click

from axis_licensing._cli_options import (
    HELP,
    db_option,
    instant_callback,
    json_option,
    ranged_option,
)
from axis_licensing._cli_store import store
from axis_licensing.events.background import Background

__all__ = ["deliver", "sweep"]

_parse_at = instant_callback(
    "{value!r} is not an ISO 8601 instant", "{value!r} has no UTC offset; add one, such as +00:00"
)


@contextmanager
def _until_signalled() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM while the block runs (main thread only)."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@click.command(name="deliver", context_settings=HELP)
@db_option
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="At most this many in one pass."
)
@click.option("--forever", is_flag=True, help="Keep delivering until SIGINT or SIGTERM.")
@ranged_option(
    "--poll", click.FloatRange(min=0.05), 1.0, "With --forever: seconds between polls when idle."
)
@json_option
def deliver(db: str, limit: int | None, forever: bool, poll: float, as_json: bool) -> None:
    """Send the due webhook deliveries: one pass, or --forever (SPEC §7).

    2xx is delivered; anything else is retried with backoff for three days,
    then failed (see `webhooks failed` and `webhooks redeliver`).
    """
    with store(db) as manager:
        if not forever:
            report = manager.deliver(limit=limit)
            if as_json:
                click.echo(
                    json.dumps(
                        {"sent": report.sent, "failed": report.failed, "retrying": report.retrying}
                    )
                )
            else:
                click.echo(
                    f"sent {report.sent}, failed {report.failed}, retrying {report.retrying}"
                )
            return
        background = Background(manager, sweep=False, poll=poll)
        with _until_signalled() as stop:
            background.start()
            click.echo("delivering; stop with Ctrl-C or SIGTERM", err=True)
            stop.wait()
            background.stop()


@click.command(name="sweep", context_settings=HELP)
@db_option
@click.option("--at", callback=_parse_at, default=None, help="The instant (ISO 8601 with offset).")
@click.option(
    "--limit", type=click.IntRange(min=0), default=None, help="At most this many organizations."
)
@click.option(
    "--every",
    type=click.FloatRange(min=1.0),
    default=None,
    metavar="SECONDS",
    help="Sweep again every SECONDS until SIGINT or SIGTERM.",
)
@json_option
def sweep(
    db: str, at: datetime | None, limit: int | None, every: float | None, as_json: bool
) -> None:
    """Record the alerts that appeared or cleared with time, once each (SPEC §7).

    Reads only the organizations whose alerts can have changed. Safe to run in
    several processes at once.
    """
    with store(db) as manager, _until_signalled() as stop:
        while True:
            report = manager.sweep(at=at, limit=limit)
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "organizations": report.organizations,
                            "raised": report.raised,
                            "cleared": report.cleared,
                        }
                    )
                )
            else:
                click.echo(
                    f"read {report.organizations} organizations: "
                    f"{report.raised} alerts raised, {report.cleared} cleared"
                )
            if every is None or stop.wait(every):
                return
