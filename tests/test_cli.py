"""The ``axis-licensing`` CLI: the demo's exact numbers, its JSON, the queries and error exits.

The demo's step records are checked as typed values (``run_demo``), then the
commands through click's ``CliRunner``.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from axis_licensing import (
    Action,
    Manager,
    ManualClock,
    Period,
    ProductState,
    __version__,
)
from axis_licensing._demo import DEMO_CATALOG, DEMO_ORG, STEP_KEYS, DemoRun, run_demo
from axis_licensing._migrate import MARK
from axis_licensing.cli import main, render_table

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


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


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
    assert [(p.period.index, dict(p.quantities)) for p in allocation.periods] == [
        (0, {"core": 8, "door": 2})
    ]
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
    assert [(p.period.index, dict(p.quantities)) for p in allocation.periods] == [
        (1, {"core": 20, "door": 2})
    ]
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


def test_demo_json_is_one_document_of_every_step(tmp_path: Path) -> None:
    result = invoke("demo", "--db", str(tmp_path / "demo.db"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
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


# -- the queries -----------------------------------------------------------------------------


def test_r5_status_command_reads_the_demo_database(demo_db: Path) -> None:
    result = invoke(
        "status", "--db", str(demo_db), DEMO_ORG, "acs-pro", "--at", "2027-02-01T12:00Z"
    )
    assert result.exit_code == 0, result.output
    header, rule, row = result.stdout.splitlines()
    assert header.split()[:3] == ["product", "state", "period"]
    assert set(rule) <= {"-", " "}
    assert row.split()[:5] == ["acs-pro", "LICENSED", "2027-01-01", "..", "2028-01-01"]
    assert row.split()[-1] == "2030-01-01"


def test_r5_status_json(demo_db: Path) -> None:
    result = invoke(
        "status",
        "--db",
        f"sqlite:///{demo_db}",
        DEMO_ORG,
        "acs-pro",
        "--at",
        "2026-05-04T12:00:00+00:00",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["state"] == "licensed"
    assert data["growth_exceeded"] is True
    assert data["required_now"] == {"core": 2}


def test_r6_wallet_json_shows_lots_balance_and_credit(demo_db: Path) -> None:
    result = invoke(
        "wallet", "--db", str(demo_db), DEMO_ORG, "acs-analytics", "--at", AT_END, "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["credit"] == {"core": "72/73"}
    assert data["balance"] == {"subscription": {"core": 4}, "hardware": {}}
    assert [(lot["quantity"], lot["expires_on"]) for lot in data["lots"]] == [(4, "2031-07-10")]


def test_r6_wallet_text(demo_db: Path) -> None:
    result = invoke("wallet", "--db", str(demo_db), DEMO_ORG, "acs-pro", "--at", AT_END)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "wallet of acs-pro"
    assert "balance: subscription core 22, door 10; hardware -; credit -" in result.stdout


def test_r11_history_command_filters_and_limits(demo_db: Path) -> None:
    result = invoke(
        "history",
        "--db",
        str(demo_db),
        DEMO_ORG,
        "--action",
        "key_redeemed",
        "--limit",
        "2",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
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
    result = invoke(
        "history", "--db", str(demo_db), DEMO_ORG, "--actor", "system", "--since", "2026-06-01",
        "--until", "2026-12-31T23:59:59+00:00", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
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


def test_catalog_can_be_named_by_import_path(demo_db: Path) -> None:
    ok = invoke(
        "status",
        "--db",
        str(demo_db),
        "--catalog",
        "axis_licensing._demo:DEMO_CATALOG",
        DEMO_ORG,
        "acs-analytics",
        "--at",
        AT_END,
        "--json",
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["started_on"] == "2026-07-02"
    missing = invoke("status", "--db", str(demo_db), DEMO_ORG, "nope")
    assert_error(missing, 2, "unknown product 'nope'")


def test_r15_queries_use_the_stored_catalog_without_catalog_option(demo_db: Path) -> None:
    result = invoke(
        "status", "--db", str(demo_db), DEMO_ORG, "acs-analytics", "--at", AT_END, "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["started_on"] == "2026-07-02"


def test_r15_another_catalog_is_refused_with_its_differences(demo_db: Path) -> None:
    before = demo_db.read_bytes()
    result = invoke(
        "status", "--db", str(demo_db), "--catalog", "example", DEMO_ORG, "acs-pro", "--json"
    )
    assert_error(result, 2, "product 'acs-analytics' is left out")
    assert demo_db.read_bytes() == before


def test_r15_a_query_on_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    assert_error(invoke("status", "--db", str(missing), "acme", "acs-pro"), 2, "no database at")
    assert_error(
        invoke("status", "--db", f"sqlite:///{missing}", "acme", "acs-pro"), 2, "no database at"
    )
    assert list(tmp_path.iterdir()) == []


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("status", DEMO_ORG, "nope"), "unknown product 'nope'"),
        (("status", "nobody", "acs-pro"), "unknown organization 'nobody'"),
        (("wallet", "nobody", "acs-pro"), "unknown organization 'nobody'"),
        (("history", "nobody"), "unknown organization 'nobody'"),
        (("history", DEMO_ORG, "--action", "teleported"), "unknown actions ['teleported']"),
        (
            ("status", "--catalog", "nowhere:CATALOG", DEMO_ORG, "acs-pro"),
            "cannot load the catalog",
        ),
        (
            ("status", "--catalog", "json:dumps", DEMO_ORG, "acs-pro"),
            "is a function, not a Catalog",
        ),
    ],
)
def test_r14_errors_are_one_line_and_exit_2(
    demo_db: Path, args: tuple[str, ...], message: str
) -> None:
    command, *rest = args
    assert_error(invoke(command, "--db", str(demo_db), *rest), 2, message)


def test_missing_database_is_refused_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    assert_error(invoke("status", "--db", str(path), DEMO_ORG, "acs-pro"), 2, "no database at")
    assert not path.exists()


def test_r14_naive_at_is_a_usage_error(demo_db: Path) -> None:
    result = invoke("status", "--db", str(demo_db), DEMO_ORG, "acs-pro", "--at", "2031-01-20")
    assert result.exit_code == 2
    assert "has no UTC offset; add one, such as 2031-01-20T00:00:00Z" in result.stderr
    result = invoke("status", "--db", str(demo_db), DEMO_ORG, "acs-pro", "--at", "soon")
    assert result.exit_code == 2
    assert "is not an ISO 8601 instant" in result.stderr


def test_unknown_backend_scheme_lists_the_known_ones() -> None:
    result = invoke("status", "--db", "nosql://x", DEMO_ORG, "acs-pro")
    assert_error(result, 2, "unknown backend scheme 'nosql'; known schemes: memory, postgres")


def test_queries_refuse_a_database_marked_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "half.db"
    assert invoke("demo", "--db", str(path), "--json").exit_code == 0
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (MARK, '{"source":"x"}'))
    assert_error(
        invoke("status", "--db", str(path), DEMO_ORG, "acs-pro"),
        2,
        'left incomplete by an interrupted `axis-licensing migrate` ({"source":"x"})',
    )


# -- rendering -------------------------------------------------------------------------------


def test_render_table_aligns_columns_and_right_aligns_numbers() -> None:
    text = render_table(["type", "left", "note"], [["core", "8", "-"], ["universal", "12", "x"]])
    assert text.splitlines() == [
        "type       left  note",
        "---------  ----  ----",
        "core          8  -",
        "universal    12  x",
    ]
