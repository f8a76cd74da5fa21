"""The CLI's tables through a pipe (issue 13): whole words, ids and actions on one line.

``CliRunner`` is not a terminal, like a CI log or ``| less``: with no
``$COLUMNS`` the tables have no width limit, so nothing is cut mid-word.
"""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from axis_licensing import EXAMPLE_CATALOG
from axis_licensing._convert import dumps
from axis_licensing.cli import main

LONG_ORG = "northwind-logistics-scandinavia-regional-operations-centre"
ZONE = "Europe/Stockholm"


def test_i13_cli_tables_keep_whole_words_through_a_pipe(tmp_path: Path) -> None:
    db = str(tmp_path / "axis.db")
    catalog = tmp_path / "catalog.json"
    catalog.write_text(dumps(EXAMPLE_CATALOG), encoding="utf-8")
    runner = CliRunner(env={"COLUMNS": None})
    created = runner.invoke(
        main,
        [
            "create-organization",
            "--db",
            db,
            "--catalog",
            str(catalog),
            "--actor",
            "operations-automation@northwind.example",
            "--name",
            "Northwind Logistics Scandinavia Regional Operations Centre",
            "--timezone",
            ZONE,
            LONG_ORG,
        ],
    )
    assert created.exit_code == 0, created.output
    listed = runner.invoke(main, ["organizations", "--db", db])
    assert listed.exit_code == 0, listed.output
    row = [line for line in listed.output.splitlines() if LONG_ORG in line]
    assert len(row) == 1, listed.output
    assert "Northwind Logistics Scandinavia Regional Operations Centre" in row[0]
    assert ZONE in row[0]
    assert len(listed.output.splitlines()) == 3  # header, rule, one row

    history = runner.invoke(main, ["history", "--db", db, LONG_ORG])
    assert history.exit_code == 0, history.output
    lines = history.output.splitlines()
    created_rows = [line for line in lines if "organization_created" in line]
    assert len(created_rows) == 1, history.output
    assert "operations-automation@northwind.example" in created_rows[0]
    assert ZONE in created_rows[0]
    assert len(lines) == 3, history.output


def test_i13_cli_a_terminal_width_still_applies(tmp_path: Path) -> None:
    """$COLUMNS still fits a table to a terminal of 80; ids, actions and dates stay whole."""
    db = str(tmp_path / "axis.db")
    catalog = tmp_path / "catalog.json"
    catalog.write_text(dumps(EXAMPLE_CATALOG), encoding="utf-8")
    runner = CliRunner(env={"COLUMNS": "80"})
    args = ["--db", db, "--catalog", str(catalog), "--actor", "ops", "--name", "Acme Corp"]
    assert (
        runner.invoke(main, ["create-organization", *args, "--timezone", ZONE, "acme"]).exit_code
        == 0
    )
    history = runner.invoke(main, ["history", "--db", db, "acme"])
    assert history.exit_code == 0, history.output
    lines = history.output.splitlines()
    assert all(len(line) <= 80 for line in lines), history.output
    row = [line for line in lines if "organization_created" in line]
    assert len(row) == 1, history.output
    day, _, actor, action = row[0].split()[:4]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", day), row[0]
    assert (actor, action) == ("ops", "organization_created")
