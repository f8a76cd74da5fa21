"""``axis-licensing deliver`` and ``axis-licensing sweep`` (SPEC §7), from cli_events.

cli.py registers them; here they run under a bare click group, one pass each,
and ``deliver --forever`` in a subprocess stopped with SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from click.testing import CliRunner

from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock
from axis_licensing.cli_events import deliver, sweep
from events_support import receiving


def _group() -> click.Group:
    group = click.Group()
    group.add_command(deliver)
    group.add_command(sweep)
    return group


def _store(tmp_path: Path) -> str:
    db = str(tmp_path / "axis.db")
    with Manager.open(
        f"sqlite:///{db}", catalog=EXAMPLE_CATALOG, clock=ManualClock(datetime.now(UTC))
    ) as m:
        m.create_organization("nord", name="Nord", actor="alice")
        m.start_subscription("nord", "acs-pro", actor="alice")
    return db


def test_sweep_once_and_deliver_once(tmp_path: Path) -> None:
    db = _store(tmp_path)
    runner = CliRunner()
    done = runner.invoke(_group(), ["sweep", "--db", db, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output) == {"organizations": 1, "raised": 1, "cleared": 0}
    done = runner.invoke(_group(), ["sweep", "--db", db])
    assert done.output == "read 0 organizations: 0 alerts raised, 0 cleared\n"
    done = runner.invoke(_group(), ["deliver", "--db", db, "--json"])
    assert json.loads(done.output) == {"sent": 0, "failed": 0, "retrying": 0}
    done = runner.invoke(_group(), ["sweep", "--db", db, "--at", "2027-01-01"])
    assert done.exit_code == 2
    assert "no UTC offset" in done.output


def test_deliver_forever_sends_and_stops_on_sigterm(tmp_path: Path) -> None:
    db = _store(tmp_path)
    with receiving([]) as receiver:
        with Manager.open(f"sqlite:///{db}") as m:
            ep = m.webhooks.add(
                "nord", receiver.url, actor="alice", allow_http=True, allow_private=True
            )
            receiver.secrets = [str(ep.secret)]
            wanted = m.events("nord")[-1].id  # webhook_added
        code = (
            "import sys; from axis_licensing.cli_events import deliver; "
            "deliver.main(sys.argv[1:], standalone_mode=True)"
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "--db", db, "--forever", "--poll", "0.1"], env=env
        )
        try:
            deadline = time.monotonic() + 30
            while receiver.counts[wanted] == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert receiver.counts[wanted] == 1
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        assert receiver.bad == []
