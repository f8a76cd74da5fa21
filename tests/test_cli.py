"""The ``axis-licensing`` CLI: the demo's exact numbers, every command and query, errors.

The demo's step records are checked as typed values (``run_demo``), then the
commands through click's ``CliRunner``: a store is built by the write
commands alone, on a manual clock, and read back by every query, as text and
as JSON with exact values; errors as JSON with their exit codes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from _support import per_period
from axis_licensing import (
    Action,
    Manager,
    ManualClock,
    Period,
    PermissionDenied,
    ProductState,
    StorageError,
    TamperedLicenseFile,
    __version__,
    _cli_store,
    cli,
    errors,
    offline,
)
from axis_licensing._demo import DEMO_CATALOG, DEMO_ORG, STEP_KEYS, DemoRun, run_demo
from axis_licensing._migrate import MARK
from axis_licensing.cli import exit_code_of, main

AT_END = "2031-01-20T12:00:00Z"


@pytest.fixture(scope="module")
def run() -> DemoRun:
    """The demo, run once on memory:// for its typed step records."""
    return run_demo("memory://")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo database written once by ``axis-licensing demo``."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = CliRunner().invoke(main, ["demo", "--db", str(path)])
    assert result.exit_code == 0, result.output
    return path


def invoke(*args: str, columns: int = 200, stdin: bytes | None = None) -> Result:
    """Run the CLI in-process on a terminal ``columns`` wide."""
    runner = CliRunner(env={"COLUMNS": str(columns)})
    return runner.invoke(main, list(args), input=stdin)


def invoke_json(*args: str) -> Any:
    """What a command prints with ``--json``, parsed, checked to exit 0."""
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_error(result: Result, code: int, text: str) -> None:
    """One line on stderr naming the problem, the exit code, and no traceback."""
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert text in lines[-1], result.stderr
    assert "Traceback" not in result.output


# -- the demo's step records ------------------------------------------------------------------


def test_demo_has_every_step_in_order(run: DemoRun) -> None:
    assert tuple(s.key for s in run.steps) == STEP_KEYS
    assert run.org_id == DEMO_ORG
    assert [s.at.date() for s in run.steps] == [
        date(2026, 1, 1),
        date(2026, 1, 15),
        date(2026, 1, 15),
        date(2026, 5, 4),
        date(2026, 7, 2),
        date(2026, 7, 10),
        date(2027, 1, 10),
        date(2027, 1, 10),
        date(2027, 2, 1),
        date(2031, 1, 20),
        date(2031, 1, 20),
    ]


def test_r3_demo_trial_ends_thirty_days_after_start(run: DemoRun) -> None:
    (status,) = run.step("trial").statuses
    assert status.product == "acs-pro"
    assert status.state is ProductState.TRIAL
    assert status.period == Period(0, date(2026, 1, 1), date(2027, 1, 1))
    assert status.window_ends_on == date(2026, 1, 31)
    assert status.devices == {"core": 8, "door": 2}
    assert status.licensed_through is None


def test_r6_demo_redemption_adds_one_lot_per_type_expiring_in_five_years(run: DemoRun) -> None:
    step = run.step("redeem")
    (redemption,) = step.redemptions
    assert redemption.quantities == {"core": 40, "universal": 5, "door": 10}
    assert {lot.acquired_on for lot in redemption.lots} == {date(2026, 1, 15)}
    assert {lot.expires_on for lot in redemption.lots} == {date(2031, 1, 15)}
    (wallet,) = step.wallets
    assert wallet.balance() == {"core": 40, "universal": 5, "door": 10}


def test_r7_demo_allocation_licenses_the_period(run: DemoRun) -> None:
    step = run.step("allocate")
    (allocation,) = step.allocations
    assert per_period(allocation) == [(0, {"core": 8, "door": 2})]
    assert allocation.compensation == {}
    (status,) = step.statuses
    assert status.state is ProductState.LICENSED
    assert status.licensed_through == date(2027, 1, 1)


def test_r5_demo_growth_beyond_allowance_warns(run: DemoRun) -> None:
    step = run.step("growth")
    (status,) = step.statuses
    assert status.state is ProductState.LICENSED
    assert status.devices == {"core": 20, "door": 2}
    assert status.allocated == {"core": 8, "door": 2}
    assert status.growth_exceeded is True
    assert status.required_now == {"core": 2}  # ceil(20 / 2) - 8
    assert step.need is not None
    assert [p.need for p in step.need.periods] == [
        {"core": 10, "door": 2},
        {"core": 20, "door": 2},
        {"core": 20, "door": 2},
    ]
    (warning,) = step.activities
    assert (warning.action, warning.actor, warning.on) == (
        Action.GROWTH_EXCEEDED,
        "system",
        date(2026, 5, 4),
    )
    assert warning.details["required_now"] == {"core": 2}


def test_r2_demo_second_product_starts_in_a_partial_period(run: DemoRun) -> None:
    (status,) = run.step("second-product").statuses
    assert status.product == "acs-analytics"
    assert status.state is ProductState.TRIAL
    assert status.started_on == date(2026, 7, 2)
    assert status.period == Period(0, date(2026, 1, 1), date(2027, 1, 1))
    assert status.window_ends_on == date(2026, 8, 1)


def test_r8_demo_compensation_is_four_and_72_73(run: DemoRun) -> None:
    step = run.step("compensation")
    (allocation,) = step.allocations
    assert allocation.product == "acs-analytics"
    assert allocation.compensation == {"core": 4}
    assert allocation.credit == {"core": Fraction(72, 73)}
    (wallet,) = step.wallets
    assert [
        (lot.license_type, lot.quantity, lot.acquired_on, lot.expires_on) for lot in wallet.lots
    ] == [("core", 4, date(2026, 7, 10), date(2031, 7, 10))]
    assert wallet.credit == {"core": Fraction(72, 73)}


def test_r3_demo_next_period_starts_in_grace(run: DemoRun) -> None:
    (status,) = run.step("grace").statuses
    assert status.state is ProductState.GRACE
    assert status.period == Period(1, date(2027, 1, 1), date(2028, 1, 1))
    assert status.window_ends_on == date(2027, 1, 31)
    assert status.required_now == {"core": 20, "door": 2}


def test_r7_demo_renewal_and_advance_move_licensed_through(run: DemoRun) -> None:
    renewal = run.step("renewal")
    (allocation,) = renewal.allocations
    assert per_period(allocation) == [(1, {"core": 20, "door": 2})]
    assert allocation.compensation == {}
    assert renewal.statuses[0].licensed_through == date(2028, 1, 1)
    advance = run.step("advance")
    (ahead,) = advance.allocations
    assert [(p.period.index, p.period.start, dict(p.quantities)) for p in ahead.periods] == [
        (2, date(2028, 1, 1), {"core": 20, "door": 2}),
        (3, date(2029, 1, 1), {"core": 20, "door": 2}),
    ]
    assert ahead.compensation == {}
    assert advance.statuses[0].state is ProductState.LICENSED
    assert advance.statuses[0].licensed_through == date(2030, 1, 1)


def test_r6_demo_lots_expire_after_five_years(run: DemoRun) -> None:
    step = run.step("expiry")
    before, after = step.wallets
    assert step.wallets_at == (datetime(2031, 1, 14, 12, tzinfo=UTC), step.at)
    assert before.balance() == {"core": 22, "door": 12, "universal": 5}
    assert after.balance() == {"core": 22, "door": 10}
    assert {lot.acquired_on for lot in after.lots} == {date(2027, 1, 10)}
    assert [
        (a.on, a.at, a.actor, a.details["license_type"], a.details["quantity"])
        for a in step.activities
    ] == [
        (date(2031, 1, 15), datetime(2031, 1, 14, 23, tzinfo=UTC), "system", "universal", 5),
        (date(2031, 1, 15), datetime(2031, 1, 14, 23, tzinfo=UTC), "system", "door", 2),
    ]


def test_r11_demo_history_lists_every_change(run: DemoRun) -> None:
    actions = [a.action for a in run.step("history").activities]
    assert actions == [
        "organization_created",
        "system_registered",
        "subscription_started",
        "key_redeemed",
        "licenses_allocated",
        "devices_reported",
        "growth_exceeded",
        "system_registered",
        "subscription_started",
        "key_redeemed",
        "licenses_allocated",
        "compensation_credited",
        "key_redeemed",
        "licenses_allocated",
        "licenses_allocated",
        "licenses_expired",
        "licenses_expired",
    ]


# -- the demo command ------------------------------------------------------------------------


def test_demo_prints_a_table_per_step(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    result = invoke("demo", "--db", str(path))
    assert result.exit_code == 0, result.output
    out = result.stdout
    for number in range(1, len(STEP_KEYS) + 1):
        assert f"== Step {number} of {len(STEP_KEYS)} · " in out
    assert "acs-pro  TRIAL  2026-01-01 .. 2027-01-01  2026-01-31" in out
    assert "compensation back to the wallet: core 4; credit now: core 72/73" in out
    assert "balance: subscription core 22, door 10; hardware -; credit -" in out
    assert "2031-01-15  2031-01-14 23:00  system  licenses_expired" in out
    assert path.exists()
    assert result.stderr == ""  # nothing was removed


def test_demo_fits_a_narrow_terminal(tmp_path: Path) -> None:
    result = invoke("demo", "--db", str(tmp_path / "demo.db"), columns=60)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines[:-2]) <= 60  # the closing hint is a command line
    assert "== Step 11 of 11 · " in result.stdout


def test_demo_json_is_one_document_of_every_step(tmp_path: Path) -> None:
    data = invoke_json("demo", "--db", str(tmp_path / "demo.db"))
    assert [s["key"] for s in data["steps"]] == list(STEP_KEYS)
    steps = {s["key"]: s for s in data["steps"]}
    assert steps["trial"]["statuses"][0]["window_ends_on"] == "2026-01-31"
    assert steps["trial"]["statuses"][0]["state"] == "trial"
    assert steps["growth"]["statuses"][0]["required_now"] == {"core": 2}
    assert steps["compensation"]["allocations"][0]["compensation"] == {"core": 4}
    assert steps["compensation"]["allocations"][0]["credit"] == {"core": "72/73"}
    assert steps["advance"]["statuses"][0]["licensed_through"] == "2030-01-01"
    assert [a["on"] for a in steps["expiry"]["activities"]] == ["2031-01-15", "2031-01-15"]


def test_demo_fresh_replaces_an_earlier_demo_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    assert invoke("demo", "--db", str(path), "--json").exit_code == 0
    again = invoke("demo", "--db", str(path), "--json")
    assert again.exit_code == 0, again.output
    assert f"Removed the previous demo database {path}" in again.stderr
    assert json.loads(again.stdout)["org_id"] == DEMO_ORG


def test_demo_keep_refuses_an_earlier_demo_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    assert invoke("demo", "--db", str(path), "--json").exit_code == 0
    assert_error(invoke("demo", "--db", str(path), "--keep"), 2, "already holds a demo run")


def test_demo_never_deletes_a_file_that_is_not_a_demo(tmp_path: Path) -> None:
    path = tmp_path / "precious.db"
    path.write_text("not a database")
    assert_error(invoke("demo", "--db", str(path)), 2, "not the demo's; refusing to touch it")
    assert path.read_text() == "not a database"


def test_demo_never_deletes_another_licensing_database(tmp_path: Path) -> None:
    path = tmp_path / "prod.db"
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    with Manager.open(f"sqlite:///{path}", catalog=DEMO_CATALOG, clock=clock) as m:
        m.create_organization("acme", name="Acme", actor="ops")
    assert_error(invoke("demo", "--db", str(path)), 2, "refusing to touch it")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT org_id FROM orgs").fetchall() == [("acme",)]


# -- queries on the demo database ------------------------------------------------------------


def test_r5_status_command_reads_the_demo_database(demo_db: Path) -> None:
    result = invoke(
        "status", "--db", str(demo_db), DEMO_ORG, "acs-pro", "--at", "2027-02-01T12:00Z"
    )
    assert result.exit_code == 0, result.output
    fields = {line[:18].strip(): line[18:].strip() for line in result.stdout.splitlines()}
    assert fields["state"] == "LICENSED"
    assert fields["period"] == "1: 2027-01-01 .. 2028-01-01"
    assert fields["licensed through"] == "2030-01-01"
    assert fields["required now"] == "-"


def test_r5_status_json(demo_db: Path) -> None:
    data = invoke_json(
        "status",
        "--db",
        f"sqlite:///{demo_db}",
        DEMO_ORG,
        "acs-pro",
        "--at",
        "2026-05-04T12:00:00+00:00",
    )
    assert data["state"] == "licensed"
    assert data["growth_exceeded"] is True
    assert data["required_now"] == {"core": 2}


def test_r6_wallet_json_shows_lots_balance_and_credit(demo_db: Path) -> None:
    data = invoke_json("wallet", "--db", str(demo_db), DEMO_ORG, "acs-analytics", "--at", AT_END)
    assert data["credit"] == {"core": "72/73"}
    assert data["balance"] == {"subscription": {"core": 4}, "hardware": {}}
    assert [(lot["quantity"], lot["expires_on"]) for lot in data["lots"]] == [(4, "2031-07-10")]


def test_r6_wallet_text(demo_db: Path) -> None:
    result = invoke("wallet", "--db", str(demo_db), DEMO_ORG, "acs-pro", "--at", AT_END)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "wallet of acs-pro"
    assert "balance: subscription core 22, door 10; hardware -; credit -" in result.stdout


def test_r11_history_command_filters_and_limits(demo_db: Path) -> None:
    data = invoke_json(
        "history", "--db", str(demo_db), DEMO_ORG, "--action", "key_redeemed", "--limit", "2"
    )
    assert [(a["action"], a["product"], a["on"]) for a in data] == [
        ("key_redeemed", "acs-pro", "2026-01-15"),
        ("key_redeemed", "acs-analytics", "2026-07-10"),
    ]
    text = invoke(
        "history", "--db", str(demo_db), DEMO_ORG, "--product", "acs-analytics", "--limit", "1"
    )
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert len(lines) == 3
    assert lines[2].split()[:5] == [
        "2026-07-02",
        "2026-07-02",
        "12:00",
        "alice",
        "system_registered",
    ]


def test_r11_history_command_filters_by_actor_and_dates(demo_db: Path) -> None:
    data = invoke_json(
        "history", "--db", str(demo_db), DEMO_ORG, "--actor", "system", "--since", "2026-06-01",
        "--until", "2026-12-31T23:59:59+00:00",
    )  # fmt: skip
    assert [(a["action"], a["product"], a["on"]) for a in data] == [
        ("compensation_credited", "acs-analytics", "2026-07-10"),
    ]
    bad = invoke("history", "--db", str(demo_db), DEMO_ORG, "--since", "yesterday")
    assert bad.exit_code == 2
    assert "'yesterday' is not an ISO 8601 instant" in bad.stderr


def test_version_command() -> None:
    result = invoke("version")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"axis-licensing {__version__}"
    data = json.loads(invoke("version", "--json").stdout)
    assert data["version"] == __version__
    assert {"memory", "sqlite", "postgresql"} <= set(data["backends"])


def test_python_dash_m_runs_the_cli() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}

    def python_m(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "axis_licensing", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=60,
        )

    done = python_m("version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"axis-licensing {__version__}"
    usage = python_m("--help")
    assert usage.stdout.startswith("Usage: axis-licensing [OPTIONS] COMMAND")


# -- a store built by the write commands -----------------------------------------------------

START = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The CLI's clock, set to ``START``: every write happens then."""
    manual = ManualClock(START)
    monkeypatch.setattr(_cli_store, "SystemClock", lambda: manual)  # every command's store
    return manual


def ok(*args: str) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def ok_json(*args: str) -> object:
    return json.loads(ok(*args, "--json").stdout)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """acme (Europe/Stockholm) with srv-1 licensed for one period, all through the CLI.

    On an SQLite file (a bare path) and on a PostgreSQL schema in turn.
    ``$AXIS_LICENSING_DB`` names the store, so the commands below need no --db.
    Returns the key redeemed.
    """
    if request.param == "sqlite":
        db = str(tmp_path / "licensing.db")
    else:
        db = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("AXIS_LICENSING_DB", db)
    monkeypatch.setenv("AXIS_LICENSING_ACTOR", "alice")
    issued = ok_json(
        "vendor", "issue-key", "--catalog", "example", "acs-pro", "core=10", "door=2",
        "--actor", "vendor",
    )  # fmt: skip
    assert isinstance(issued, dict)
    ok("create-organization", "acme", "--name", "Acme AB", "--timezone", "Europe/Stockholm")
    ok("register-system", "acme", "acs-pro", "srv-1", "core=8", "door=2")
    ok("start", "acme", "acs-pro")
    ok("redeem", "acme", issued["key"])
    ok("allocate-need", "acme", "acs-pro")
    return str(issued["key"])


def test_r1_write_commands_build_a_store_from_nothing(tmp_path: Path, clock: ManualClock) -> None:
    db = str(tmp_path / "new.db")
    issued = ok_json(
        "vendor", "issue-key", "--db", db, "--catalog", "example", "acs-pro", "core=10", "door=2",
    )  # fmt: skip
    assert isinstance(issued, dict)
    assert issued["product"] == "acs-pro"
    assert issued["kind"] == "subscription"
    assert issued["quantities"] == {"core": 10, "door": 2}
    assert len(issued["key"].replace("-", "")) == 24
    created = ok_json(
        "create-organization", "--db", db, "acme", "--name", "Acme AB",
        "--timezone", "Europe/Stockholm", "--actor", "alice",
    )  # fmt: skip
    assert created == {
        "org_id": "acme",
        "name": "Acme AB",
        "timezone": "Europe/Stockholm",
        "anchor": None,
    }
    system = ok_json(
        "register-system", "--db", db, "acme", "acs-pro", "srv-1", "core=8", "door=2",
        "--actor", "alice",
    )  # fmt: skip
    assert system == {
        "system_id": "srv-1",
        "product": "acs-pro",
        "devices": {"core": 8, "door": 2},
        "hardware": [],
        "hardware_capacity": {},
        "hardware_covered": {},
        "subscription_devices": {"core": 8, "door": 2},
        "licensed": False,
        "product_state": "not_started",
    }
    started = ok_json("start", "--db", db, "acme", "acs-pro", "--actor", "alice")
    assert isinstance(started, dict)
    assert started["state"] == "trial"
    assert started["started_on"] == "2027-01-10"
    assert started["window_ends_on"] == "2027-02-09"
    assert started["period"] == {"index": 0, "start": "2027-01-10", "end": "2028-01-10"}
    assert started["required_now"] == {"core": 8, "door": 2}
    redeemed = ok_json("redeem", "--db", db, "acme", issued["key"].lower(), "--actor", "alice")
    assert isinstance(redeemed, dict)
    assert [
        (lot["license_type"], lot["quantity"], lot["expires_on"]) for lot in redeemed["lots"]
    ] == [
        ("core", 10, "2032-01-10"),
        ("door", 2, "2032-01-10"),
    ]
    allocation = ok_json("allocate-need", "--db", db, "acme", "acs-pro", "--actor", "alice")
    assert allocation == {
        "product": "acs-pro",
        "periods": [
            {
                "period": {"index": 0, "start": "2027-01-10", "end": "2028-01-10"},
                "quantities": {"core": 8, "door": 2},
            }
        ],
        "compensation": {},
        "credit": {},
    }
    ahead = ok_json(
        "allocate", "--db", db, "acme", "acs-pro", "core=2", "--period", "1", "--actor", "alice"
    )
    assert isinstance(ahead, dict)
    assert ahead["periods"] == [
        {
            "period": {"index": 1, "start": "2028-01-10", "end": "2029-01-10"},
            "quantities": {"core": 2},
        }
    ]
    history = ok_json("history", "--db", db, "acme")
    assert isinstance(history, list)
    assert [(a["action"], a["actor"], a["on"]) for a in history] == [
        ("organization_created", "alice", "2027-01-10"),
        ("system_registered", "alice", "2027-01-10"),
        ("subscription_started", "alice", "2027-01-10"),
        ("key_redeemed", "alice", "2027-01-10"),
        ("licenses_allocated", "alice", "2027-01-10"),
        ("licenses_allocated", "alice", "2027-01-10"),
    ]


def test_r13_request_id_makes_a_write_idempotent(store: str) -> None:
    first = ok_json("vendor", "issue-key", "acs-pro", "core=1", "--request-id", "order-7")
    again = ok_json("vendor", "issue-key", "acs-pro", "core=1", "--request-id", "order-7")
    assert isinstance(first, dict)
    assert isinstance(again, dict)
    assert first["key"] == again["key"]
    other = invoke("vendor", "issue-key", "acs-pro", "core=2", "--request-id", "order-7", "--json")
    assert other.exit_code == 4
    assert json.loads(other.stderr)["code"] == "idempotency_conflict"


def test_actor_defaults_to_the_environment_then_the_os_user(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    ok("report-devices", "acme", "srv-1", "core=9", "door=2")
    monkeypatch.delenv("AXIS_LICENSING_ACTOR")
    ok("report-devices", "acme", "srv-1", "core=10", "door=2")
    history = ok_json("history", "acme", "--action", "devices_reported")
    assert isinstance(history, list)
    assert [(a["actor"], a["details"]["devices"]) for a in history] == [
        ("alice", {"core": 9, "door": 2}),
        ("os-user", {"core": 10, "door": 2}),
    ]


def test_r5_status_need_wallet_and_system_status(store: str, clock: ManualClock) -> None:
    status = ok_json("status", "acme", "acs-pro")
    assert isinstance(status, dict)
    assert status["state"] == "licensed"
    assert status["licensed_through"] == "2028-01-10"
    assert status["allocated"] == {"core": 8, "door": 2}
    need = ok_json("need", "acme", "acs-pro", "--horizon", "1")
    assert need == {
        "product": "acs-pro",
        "periods": [
            {
                "offset": 0,
                "period": {"index": 0, "start": "2027-01-10", "end": "2028-01-10"},
                "need": {"core": 8, "door": 2},
                "allocated": {"core": 8, "door": 2},
                "shortfall": {},
            },
            {
                "offset": 1,
                "period": {"index": 1, "start": "2028-01-10", "end": "2029-01-10"},
                "need": {"core": 8, "door": 2},
                "allocated": {},
                "shortfall": {"core": 8, "door": 2},
            },
        ],
        "wallet": {"core": 2},
        "to_buy": {"core": 6, "door": 2},
    }
    text = ok("need", "acme", "acs-pro", "--horizon", "1").stdout.splitlines()
    assert text[0] == "need of acs-pro"
    assert text[-1] == "  wallet core 2; to buy core 6, door 2"
    wallet = ok_json("wallet", "acme", "acs-pro")
    assert isinstance(wallet, dict)
    assert wallet["balance"] == {"subscription": {"core": 2}, "hardware": {}}
    system = ok_json("system-status", "acme", "srv-1")
    assert isinstance(system, dict)
    assert (system["licensed"], system["subscription_devices"]) == (True, {"core": 8, "door": 2})
    row = ok("system-status", "acme", "srv-1").stdout.splitlines()[2].split()
    assert row == [
        "srv-1",
        "acs-pro",
        "LICENSED",
        "core",
        "8,",
        "door",
        "2",
        "-",
        "-",
        "core",
        "8,",
        "door",
        "2",
        "yes",
    ]


def test_r9_hardware_commands(store: str) -> None:
    shipped = ok_json("vendor", "ship-hardware", "SN-1", "acs-pro", "door=1")
    assert shipped == {"serial": "SN-1", "product": "acs-pro", "preloaded": {"door": 1}}
    system = ok_json("register-hardware", "acme", "srv-1", "SN-1")
    assert isinstance(system, dict)
    assert system["hardware"] == ["SN-1"]
    assert system["hardware_capacity"] == {"door": 1}
    extension = ok_json("vendor", "issue-key", "acs-pro", "door=1", "--kind", "hardware")
    assert isinstance(extension, dict)
    assert extension["kind"] == "hardware"
    ok("redeem", "acme", extension["key"])
    moved = ok_json("allocate-to-hardware", "acme", "SN-1", "door=1")
    assert isinstance(moved, dict)
    assert moved["system_id"] == "srv-1"
    assert moved["hardware_capacity"] == {"door": 2}
    assert moved["hardware_covered"] == {"door": 2}
    assert moved["subscription_devices"] == {"core": 8}
    assert ok_json("system-status", "acme", "srv-1") == moved


def test_r12_upload_system_file_writes_a_license_file_that_verifies(
    store: str, tmp_path: Path, clock: ManualClock
) -> None:
    described = offline.describe_system(
        system_id="off-1", product="acs-pro", devices={"core": 2}, now=clock.now()
    )
    source = tmp_path / "off-1.system.json"
    source.write_bytes(described)
    target = tmp_path / "off-1.license.json"
    written = ok_json("upload-system-file", "acme", str(source), "--output", str(target))
    data = target.read_bytes()
    assert written == {"output": str(target), "bytes": len(data)}
    pem = ok("public-key").stdout.encode()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    entitlement = offline.verify_license_file(
        data, trusted_keys=pem, system_id="off-1", now=clock.now()
    )
    assert (entitlement.org_id, entitlement.product, dict(entitlement.devices)) == (
        "acme",
        "acs-pro",
        {"core": 2},
    )
    piped = invoke("upload-system-file", "acme", "-", stdin=described)
    assert piped.exit_code == 0, piped.output
    assert piped.stdout_bytes == data  # the same upload again: the same file
    broken = invoke("upload-system-file", "acme", "-", "--json", stdin=b"{}")
    assert broken.exit_code == 2
    assert json.loads(broken.stderr)["code"] == "malformed_system_file"


def test_r12_the_offline_side_describes_a_system_and_checks_its_license_file(
    store: str, tmp_path: Path, clock: ManualClock
) -> None:
    source = tmp_path / "off-2.system.json"
    written = ok_json(
        "describe-system", "off-2", "acs-pro", "core=2", "--hardware", "SN-9",
        "--output", str(source),
    )  # fmt: skip
    expected = offline.describe_system(
        system_id="off-2", product="acs-pro", devices={"core": 2}, hardware=["SN-9"],
        now=clock.now(),
    )  # fmt: skip
    assert source.read_bytes() == expected  # the library's file, made at the CLI's clock
    assert written == {"output": str(source), "bytes": len(expected)}
    piped = invoke("describe-system", "off-2", "acs-pro", "core=2", "--hardware", "SN-9")
    assert piped.stdout_bytes == expected  # exactly: a pipe carries a file the library takes
    plain = invoke("describe-system", "off-2", "acs-pro", "core=2").stdout_bytes  # no units
    license_file = tmp_path / "off-2.license.json"
    uploaded = invoke("upload-system-file", "acme", "-", "--output", str(license_file), stdin=plain)
    assert uploaded.exit_code == 0, uploaded.output
    key = tmp_path / "store.pem"
    key.write_text(ok("public-key").stdout)
    granted = {
        "org_id": "acme",
        "system_id": "off-2",
        "product": "acs-pro",
        "state": "licensed",
        "licensed": True,
        "may_run": True,
        "valid_until": "2028-02-09",  # licensed through 2028-01-10, + 30 days (R12)
        "devices": {"core": 2},
        "issued_at": "2027-01-10T12:00:00+00:00",
        "timezone": "Europe/Stockholm",
    }
    checked = ok_json("verify-license-file", str(license_file), "--system-id", "off-2",
                      "--key", str(key))  # fmt: skip
    assert checked == granted
    by_store = ok_json("verify-license-file", str(license_file), "--system-id", "off-2")
    assert by_store == granted  # no --key: the store's own key
    shown = invoke("verify-license-file", str(license_file), "--system-id", "off-2", columns=100)
    assert shown.exit_code == 0, shown.output
    assert "valid until   2028-02-09 (Europe/Stockholm), inclusive" in shown.stdout.splitlines()
    # a rejected file exits with code 8 and its error, as the library raises it
    refused: list[tuple[tuple[str, ...], str | None]] = [
        (("--system-id", "srv-1"), "wrong_system"),
        (("--system-id", "off-2", "--at", "2026-01-01T00:00:00Z"), "license_file_not_yet_valid"),
        (("--system-id", "off-2", "--at", "2028-02-09T23:59:59+01:00"), None),
        (("--system-id", "off-2", "--at", "2028-02-10T00:00:00+01:00"), "license_file_expired"),
    ]
    for args, code in refused:
        result = invoke("verify-license-file", str(license_file), *args, "--json")
        if code is None:  # the last second of the last valid day, in Stockholm
            assert result.exit_code == 0, result.output
            continue
        assert (result.exit_code, json.loads(result.stderr)["code"]) == (8, code), args
    tampered = invoke(
        "verify-license-file", "-", "--system-id", "off-2", "--json",
        stdin=license_file.read_bytes().replace(b'"core":2', b'"core":3'),
    )  # fmt: skip
    assert (tampered.exit_code, json.loads(tampered.stderr)["code"]) == (
        8,
        "tampered_license_file",
    )
    naive = invoke("describe-system", "off-2", "acs-pro", "--at", "2027-01-10T12:00:00", "--json")
    assert (naive.exit_code, json.loads(naive.stderr)["details"]) == (2, {"param": "now"})


def test_r5_status_timeline_draws_periods_windows_allocations_and_lots(
    store: str, tmp_path: Path
) -> None:
    data = ok_json("status", "acme", "acs-pro", "--timeline", "--horizon", "2")
    assert isinstance(data, dict)
    assert data["status"]["licensed_through"] == "2028-01-10"
    assert data["on"] == "2027-01-10"
    assert data["window"] == {"kind": "trial", "start": "2027-01-10", "end": "2027-02-09"}
    assert [(p["period"]["index"], p["allocated"], p["shortfall"]) for p in data["periods"]] == [
        (0, {"core": 8, "door": 2}, {}),
        (1, {}, {"core": 8, "door": 2}),
        (2, {}, {"core": 8, "door": 2}),
    ]
    assert data["lots"] == [{"expires_on": "2032-01-10", "quantities": {"core": 2}}]
    svg = tmp_path / "timeline.svg"
    result = invoke(
        "status", "acme", "acs-pro", "--timeline", "--horizon", "2", "--svg", str(svg), columns=120
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "acs-pro  LICENSED  period 0: 2027-01-10 .. 2028-01-10  as of 2027-01-10"
    labels = [line[:18].strip() for line in lines[1:-1]]
    assert labels == [
        "periods",
        "trial window",
        "allocated",
        "shortfall",
        "licensed through",
        "lots expire",
        "",  # the date axis
        "now",
    ]
    assert lines[8] == "now               ▲ 2027-01-10"
    assert [lines[1].count(f"P{i}") for i in range(3)] == [1, 1, 1]
    assert "core 8, door 2" in lines[3]
    assert "▼ 2028-01-10" in lines[5]
    assert "2032-01-10: core 2" in lines[6]
    assert max(len(line) for line in lines) <= 120
    narrow = invoke("status", "acme", "acs-pro", "--timeline", "--horizon", "2", columns=60)
    (allocated,) = [line for line in narrow.stdout.splitlines() if line.startswith("allocated")]
    assert "core 8…" in allocated
    assert f"wrote {svg}" in result.stderr
    text = svg.read_text(encoding="utf-8")
    assert text.startswith("<svg")
    assert "2032-01-10:&#160;core&#160;2" in text


def test_r3_timeline_of_a_product_not_started(store: str) -> None:
    result = ok("status", "acme", "acs-pro", "--timeline", "--at", "2026-01-01T00:00Z")
    assert "(not started: no periods to draw)" in result.stdout


# -- terminal width --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("status", "acme", "acs-pro"),
        ("need", "acme", "acs-pro"),
        ("wallet", "acme", "acs-pro"),
        ("history", "acme"),
        ("system-status", "acme", "srv-1"),
        ("status", "acme", "acs-pro", "--timeline"),
    ],
)
@pytest.mark.parametrize("columns", [50, 72, 120])
def test_tables_fit_the_terminal_width(store: str, args: tuple[str, ...], columns: int) -> None:
    result = invoke(*args, columns=columns)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= max(columns, 42)


def test_history_rows_stay_on_one_line_when_the_terminal_is_wide(store: str) -> None:
    lines = invoke("history", "acme", columns=200).stdout.splitlines()
    assert len(lines) == 2 + 5
    narrow = invoke("history", "acme", columns=60).stdout.splitlines()
    assert len(narrow) > len(lines)  # folded, not cut


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "exit_code", "code", "message"),
    [
        (("status", "acme", "nope"), 3, "unknown_product", "unknown product 'nope'"),
        (("status", "nobody", "acs-pro"), 3, "unknown_organization", "unknown organization"),
        (("wallet", "nobody", "acs-pro"), 3, "unknown_organization", "unknown organization"),
        (("history", "nobody"), 3, "unknown_organization", "unknown organization"),
        (("system-status", "acme", "srv-9"), 3, "unknown_system", "srv-9"),
        (("register-hardware", "acme", "srv-1", "SN-9"), 3, "unknown_hardware", "SN-9"),
        (("history", "acme", "--action", "teleported"), 2, "invalid_input", "['teleported']"),
        (("allocate", "acme", "acs-pro", "core=-1"), 2, "invalid_input", "positive integer"),
        (("allocate", "acme", "acs-pro", "disk=1"), 2, "invalid_input", "disk"),
        (("create-organization", "new", "--name", "N", "--timezone", "Mars/Base"), 2,
         "invalid_input", "Mars/Base"),
        (("redeem", "acme", "ABC"), 2, "key_typo", "looks mistyped"),
        (("create-organization", "acme", "--name", "Again"), 4, "already_exists", "acme"),
        (("register-system", "acme", "acs-pro", "srv-1"), 4, "already_registered", "srv-1"),
        (("start", "acme", "acs-pro"), 4, "already_started", "acs-pro"),
        (("allocate", "acme", "acs-pro", "core=100"), 5, "insufficient_licenses", "98 core"),
        (("allocate", "acme", "acs-pro", "core=1", "--period", "9"), 5,
         "outside_allocation_window", "five years"),
    ],
)  # fmt: skip
def test_r14_errors_as_json_on_stderr_with_one_exit_code_per_family(
    store: str, args: tuple[str, ...], exit_code: int, code: str, message: str
) -> None:
    result = invoke(*args, "--json")
    assert result.exit_code == exit_code, result.output
    assert result.stdout == ""
    error = json.loads(result.stderr)
    assert sorted(error) == ["code", "details", "message"]
    assert error["code"] == code
    assert message in error["message"]
    text = invoke(*args)
    assert_error(text, exit_code, message)
    assert text.stderr.startswith("error: ")


def test_r14_insufficient_licenses_details_hold_the_shortfall(store: str) -> None:
    result = invoke("allocate", "acme", "acs-pro", "core=100", "door=3", "--json")
    assert result.exit_code == 5
    assert json.loads(result.stderr)["details"]["shortfall"] == {"core": 98, "door": 3}


def test_r14_a_refused_write_changes_nothing(store: str) -> None:
    before = ok_json("history", "acme")
    assert invoke("allocate", "acme", "acs-pro", "core=1", "disk=1").exit_code == 2
    assert ok_json("history", "acme") == before


def test_r14_the_key_of_another_organization_conflicts(store: str) -> None:
    ok("create-organization", "other", "--name", "Other")
    result = invoke("redeem", "other", store, "--json")
    assert result.exit_code == 4
    assert json.loads(result.stderr)["code"] == "key_already_redeemed"


@pytest.mark.parametrize(
    ("args", "param"),
    [
        (("allocate", "acme", "acs-pro", "core=x"), "quantities"),
        (("allocate", "acme", "acs-pro", "core"), "quantities"),
        (("allocate", "acme", "acs-pro", "core=1", "core=2"), "quantities"),
        (("status", "acme", "acs-pro", "--at", "2031-01-20"), "at"),
        (("status", "acme", "acs-pro", "--at", "soon"), "at"),
    ],
)
def test_unreadable_values_exit_2_and_are_invalid_input_under_json(
    store: str, args: tuple[str, ...], param: str
) -> None:
    # a value the CLI cannot read is refused as the library refuses it (SPEC §6.1),
    # naming the library's parameter
    result = invoke(*args, "--json")
    assert result.exit_code == 2, result.output
    error = json.loads(result.stderr)
    assert (error["code"], error["details"]) == ("invalid_input", {"param": param})
    plain = invoke(*args)
    assert plain.exit_code == 2
    assert "Usage: " in plain.stderr


def test_a_value_out_of_bounds_is_refused_as_the_library_refuses_it(store: str) -> None:
    """SPEC §6.1: the CLI answers as the library does (it was a click usage error)."""
    result = invoke("need", "acme", "acs-pro", "--horizon", "-1", "--json")
    assert result.exit_code == 2, result.output
    error = json.loads(result.stderr)
    assert (error["code"], error["details"]["param"]) == ("invalid_input", "horizon")


def test_r14_naive_at_names_the_fix(store: str) -> None:
    result = invoke("status", "acme", "acs-pro", "--at", "2031-01-20")
    assert "has no UTC offset; add one, such as 2031-01-20T00:00:00Z" in result.stderr


def test_exit_codes_of_the_families_no_command_here_reaches() -> None:
    assert exit_code_of(PermissionDenied("refused")) == 6
    assert exit_code_of(StorageError("down")) == 7
    assert exit_code_of(TamperedLicenseFile("bad")) == 8


def test_a_bad_catalog_option_is_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    for spec, message in [
        ("nowhere:CATALOG", "cannot load the catalog"),
        ("json:dumps", "is a function, not a Catalog"),
        ("plain", "--catalog must be"),
    ]:
        result = invoke("create-organization", "acme", "--name", "A", "--db", db, "--catalog", spec)
        assert_error(result, 2, message)
    bad = tmp_path / "bad.json"
    bad.write_text('{"products": [{"code": "x", "name": "X", "term_years": 0}]}')
    result = invoke(
        "create-organization", "acme", "--name", "A", "--db", db, "--catalog", str(bad), "--json"
    )
    assert result.exit_code == 2
    error = json.loads(result.stderr)
    assert error["code"] == "invalid_input"
    assert error["message"] == "term_years (of product 'x') must be at least 1, got 0"


def test_a_catalog_file_creates_the_store(tmp_path: Path, clock: ManualClock) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(
        json.dumps(
            {"products": [{"code": "cams", "name": "Cams", "license_types": [{"code": "cam"}]}]}
        )
    )
    db = str(tmp_path / "c.db")
    ok("create-organization", "acme", "--name", "A", "--db", db, "--catalog", str(catalog))
    ok("register-system", "acme", "cams", "s1", "cam=3", "--db", db)
    status = ok_json("status", "acme", "cams", "--db", db)
    assert isinstance(status, dict)
    assert (status["state"], status["devices"]) == ("not_started", {"cam": 3})


def test_r15_a_query_on_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    for db in (str(path), f"sqlite:///{path}"):
        result = invoke("status", "--db", db, DEMO_ORG, "acs-pro", "--json")
        assert result.exit_code == 3
        assert json.loads(result.stderr)["code"] == "store_not_found"
    write = invoke("start", "--db", str(path), DEMO_ORG, "acs-pro")
    assert write.exit_code == 3  # a write without --catalog does not create a store either
    assert list(tmp_path.iterdir()) == []


def test_r15_queries_use_the_stored_catalog(demo_db: Path) -> None:
    result = invoke(
        "status", "--db", str(demo_db), DEMO_ORG, "acs-analytics", "--at", AT_END, "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["started_on"] == "2026-07-02"


def test_r15_a_write_with_another_catalog_is_refused_with_its_differences(
    demo_db: Path,
) -> None:
    before = demo_db.read_bytes()
    result = invoke(
        "report-devices", "--db", str(demo_db), "--catalog", "example", DEMO_ORG, "vms-1",
        "core=1", "--json",
    )  # fmt: skip
    assert result.exit_code == 4
    error = json.loads(result.stderr)
    assert error["code"] == "catalog_mismatch"
    assert "product 'acs-analytics' is left out" in error["message"]
    assert demo_db.read_bytes() == before


def test_r15_db_defaults_to_the_environment_then_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AXIS_LICENSING_DB", raising=False)
    ok("create-organization", "acme", "--name", "A", "--catalog", "example", "--actor", "a")
    assert (tmp_path / "axis-licensing.db").exists()
    monkeypatch.setenv("AXIS_LICENSING_DB", str(tmp_path / "elsewhere.db"))
    assert invoke("history", "acme").exit_code == 3
    assert not (tmp_path / "elsewhere.db").exists()


def test_unknown_backend_scheme_lists_the_known_ones() -> None:
    result = invoke("status", "--db", "nosql://x", DEMO_ORG, "acs-pro")
    assert_error(result, 2, "unknown backend scheme 'nosql'; known schemes: memory, postgres")


def test_queries_refuse_a_database_marked_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "half.db"
    assert invoke("demo", "--db", str(path), "--json").exit_code == 0
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (MARK, '{"source":"x"}'))
    result = invoke("status", "--db", str(path), DEMO_ORG, "acs-pro", "--json")
    assert result.exit_code == 7
    error = json.loads(result.stderr)
    assert error["code"] == "storage_error"
    assert (
        'left incomplete by an interrupted `axis-licensing migrate` ({"source":"x"})'
        in (error["message"])
    )


# -- listings, alerts and the catalog (R15) --------------------------------------------------


def test_organizations_command_lists_and_pages(store: str) -> None:
    ok("create-organization", "beta", "--name", "Beta", "--timezone", "UTC")
    data = ok_json("organizations")
    assert data == [
        {
            "org_id": "acme",
            "name": "Acme AB",
            "timezone": "Europe/Stockholm",
            "anchor": "2027-01-10",
        },
        {"org_id": "beta", "name": "Beta", "timezone": "UTC", "anchor": None},
    ]
    assert ok_json("organizations", "--limit", "1", "--offset", "1") == [data[1]]
    lines = ok("organizations").stdout.splitlines()
    assert lines[2].split() == ["acme", "Acme", "AB", "Europe/Stockholm", "2027-01-10"]
    assert lines[3].split() == ["beta", "Beta", "UTC", "-"]


def test_products_command_shows_every_catalog_product(store: str) -> None:
    data = ok_json("products", "acme")
    assert isinstance(data, list)
    assert [(p["product"], p["state"], p["licensed_through"]) for p in data] == [
        ("acs-pro", "licensed", "2028-01-10"),
    ]


def test_systems_command_lists_and_filters(store: str) -> None:
    ok("register-system", "acme", "acs-pro", "srv-0", "core=1")
    data = ok_json("systems", "acme")
    assert isinstance(data, list)
    assert [(s["system_id"], s["devices"], s["licensed"]) for s in data] == [
        ("srv-0", {"core": 1}, True),  # within the growth allowance (R5)
        ("srv-1", {"core": 8, "door": 2}, True),
    ]
    paged = ok_json("systems", "acme", "--product", "acs-pro", "--limit", "1", "--offset", "1")
    assert isinstance(paged, list)
    assert [s["system_id"] for s in paged] == ["srv-1"]
    missing = invoke("systems", "nobody", "--json")
    assert missing.exit_code == 3


def test_alerts_command(store: str) -> None:
    assert ok_json("alerts", "acme") == []  # licensed for the current period, trial over
    later = ok_json("alerts", "acme", "--at", "2027-12-01T12:00Z")
    assert isinstance(later, list)
    assert [(a["kind"], a["product"], a["on"], a["system_id"]) for a in later] == [
        ("renewal_uncovered", "acs-pro", "2028-01-10", None),
    ]
    assert later[0]["details"]["shortfall"] == {"core": 8, "door": 2}
    assert ok_json("alerts", "acme", "--at", "2027-12-01T12:00Z", "--within-days", "20") == []
    text = ok("alerts", "acme", "--at", "2027-12-01T12:00Z").stdout.splitlines()
    assert text[2].split()[:4] == ["2028-01-10", "renewal_uncovered", "acs-pro", "-"]
    assert "shortfall core 8, door 2" in text[2]
    assert ok("alerts", "acme").stdout == "(no alerts)\n"
    bad = invoke("alerts", "acme", "--within-days", "-1", "--json")
    assert bad.exit_code == 2
    assert json.loads(bad.stderr)["code"] == "invalid_input"


def test_r15_publish_catalog_and_catalog_versions(
    store: str, tmp_path: Path, clock: ManualClock
) -> None:
    versions = ok_json("catalog-versions")
    assert isinstance(versions, list)
    assert [(v["version"], v["effective_at"]) for v in versions] == [
        (1, "2027-01-10T12:00:00+00:00")
    ]
    catalog = versions[0]["catalog"]
    catalog["products"][0]["trial_days"] = 45
    catalog["products"].append(
        {"code": "cams", "name": "Cams", "license_types": [{"code": "cam", "covers": []}]}
    )
    path = tmp_path / "catalog-2.json"
    path.write_text(json.dumps(catalog))
    clock.advance(days=1)
    assert ok_json("vendor", "publish-catalog", str(path)) == {"version": 2}
    after = ok_json("catalog-versions")
    assert isinstance(after, list)
    assert [(v["version"], v["effective_at"]) for v in after] == [
        (1, "2027-01-10T12:00:00+00:00"),
        (2, "2027-01-11T12:00:00+00:00"),
    ]
    rows = ok("catalog-versions").stdout.splitlines()
    assert rows[3].split()[:4] == ["2", "2027-01-11", "12:00", "acs-pro"]
    products = ok_json("products", "acme")
    assert isinstance(products, list)
    assert [p["product"] for p in products] == ["acs-pro", "cams"]
    catalog["products"].pop()
    path.write_text(json.dumps(catalog))
    refused = invoke("vendor", "publish-catalog", str(path), "--json")
    assert refused.exit_code == 2
    assert json.loads(refused.stderr)["code"] == "incompatible_catalog"


def test_r15_a_query_on_a_missing_postgresql_schema_creates_nothing(postgres_url: str) -> None:
    import psycopg

    result = invoke("status", "--db", postgres_url, "acme", "acs-pro", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stderr)["code"] == "store_not_found"
    schema = postgres_url.rsplit("schema=", 1)[1]
    with psycopg.connect(postgres_url.split("?", maxsplit=1)[0]) as conn:
        found = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", (schema,)
        ).fetchone()
    assert found == (0,)


def test_r14_every_error_class_has_its_exit_code_in_the_docs_table() -> None:
    """Each error class, or a family it belongs to, is in its exit code's row of docs/cli.md."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    rows = {
        int(cells[1]): cells[3]
        for line in page.splitlines()
        if line.startswith("| ") and (cells := line.split("|"))[1].strip().isdigit()
    }
    checked = 0
    for name in errors.__all__:
        cls = getattr(errors, name)
        if not (isinstance(cls, type) and issubclass(cls, errors.LicensingError)):
            continue
        if cls in (errors.LicensingError, errors.CatalogError):
            continue  # bases only: every error raised is of a subclass
        code = next((c for family, c in cli.EXIT_CODES if issubclass(cls, family)), 2)
        names = {f"`{k.__name__}`" for k in cls.__mro__}
        assert any(n in rows[code] for n in names), f"{name}: exit code {code}"
        checked += 1
    assert checked >= 25


def test_r15_timeline_without_at_is_as_of_one_coherent_now(store: str, clock: ManualClock) -> None:
    """``at=None`` is ``max(clock now, the latest command)`` (SPEC §1), once for the drawing."""
    clock.set(datetime(2026, 6, 1, 12, tzinfo=UTC))  # a clock set back before the commands
    behind = ok_json("status", "acme", "acs-pro", "--timeline")
    assert isinstance(behind, dict)
    assert (behind["on"], behind["status"]["state"]) == ("2027-01-10", "licensed")
    clock.set(datetime(2027, 3, 1, 23, 30, tzinfo=UTC))  # 00:30 on 2 March in Stockholm
    ahead = ok_json("status", "acme", "acs-pro", "--timeline")
    assert isinstance(ahead, dict)
    assert ahead["on"] == "2027-03-02"
    assert ahead["window"] == {"kind": "trial", "start": "2027-01-10", "end": "2027-02-09"}
