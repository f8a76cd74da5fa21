"""``migrate``: copying a whole store between backends, verified, with an incomplete mark.

Round trips must give identical answers to every query; refusals must leave
the target untouched; a failure half-way must leave the target marked
incomplete so nothing mistakes it for a good copy (R13: nothing half-applied).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from axis_licensing import (
    Activity,
    KeyAlreadyRedeemed,
    LicenseKind,
    LicensingError,
    Manager,
    ManualClock,
    hookimpl,
    offline,
)
from axis_licensing._demo import DEMO_CATALOG, DEMO_ORG, run_demo
from axis_licensing._migrate import (
    MARK,
    MigrationFailed,
    MigrationRefused,
    canonical_row,
    incomplete_mark,
    migrate,
    redact_url,
    table_checksum,
)
from axis_licensing._plugins import Plugins
from axis_licensing.backends import TABLES, BackendRegistry
from axis_licensing.backends.memory import MemoryBackend
from axis_licensing.backends.sqlite import SQLiteBackend
from axis_licensing.cli import main
from axis_licensing.errors import InvalidInput, StorageError, SubscriptionNotStarted
from axis_licensing.manager import MIGRATION_INCOMPLETE

#: When the snapshots are read: every query answers as of these instants.
INSTANTS = (
    datetime(2026, 1, 1, 12, tzinfo=UTC),
    datetime(2026, 3, 2, 12, tzinfo=UTC),
    datetime(2026, 7, 10, 12, tzinfo=UTC),
    datetime(2027, 1, 20, 12, tzinfo=UTC),
    datetime(2031, 1, 20, 12, tzinfo=UTC),
)
QUERY_NOW = datetime(2031, 2, 1, 12, tzinfo=UTC)
SYSTEMS = {DEMO_ORG: ("vms-1", "analytics-1"), "north": ("nvr-7", "offline-1")}


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def populate(url: str) -> dict[str, str]:
    """The demo's organization, plus one with hardware, extensions, request ids and offline use.

    Returns the keys that the second organization did not redeem, by name.
    """
    run_demo(url)
    clock = ManualClock(datetime(2026, 2, 1, 9, tzinfo=UTC))
    with Manager.open(url, catalog=DEMO_CATALOG, clock=clock) as m:
        m.vendor.ship_hardware("SN-1", "acs-pro", {"core": 4}, request_id="ship-1")
        m.vendor.ship_hardware("SN-2", "acs-pro", {"door": 1})
        extension = m.vendor.issue_key(
            "acs-pro", LicenseKind.HARDWARE, {"core": 2}, request_id="ext-1"
        )
        subscription = m.vendor.issue_key(
            "acs-pro", quantities={"core": 6, "universal": 2, "door": 2}
        )
        spare = m.vendor.issue_key("acs-pro", quantities={"door": 3}, request_id="spare-1")
        m.create_organization(
            "north", name="North Inc", timezone="America/New_York", actor="bob", request_id="c-1"
        )
        m.register_system("north", "acs-pro", "nvr-7", devices={"core": 9, "door": 1}, actor="bob")
        m.register_hardware("north", "nvr-7", "SN-1", actor="bob", request_id="hw-1")
        m.redeem_key("north", extension, actor="bob")
        m.allocate_to_hardware("north", "SN-1", {"core": 2}, actor="bob")
        clock.set(datetime(2026, 3, 2, 15, tzinfo=UTC))
        m.start_subscription("north", "acs-pro", actor="bob")
        m.redeem_key("north", subscription, actor="bob", request_id="r-1")
        m.allocate_need("north", "acs-pro", actor="bob", request_id="a-1")
        clock.set(datetime(2026, 4, 1, 15, tzinfo=UTC))
        data = offline.describe_system(
            system_id="offline-1", product="acs-pro", devices={"core": 1}, now=clock.now()
        )
        m.upload_system_file("north", data, actor="bob")
    return {"spare": spare, "subscription": subscription}


def snapshot(url: str) -> dict[str, Any]:
    """Every query's answer for every organization, product and system at a few instants."""
    out: dict[str, Any] = {}
    with Manager.open(url, catalog=DEMO_CATALOG, clock=ManualClock(QUERY_NOW)) as m:
        out["public_key"] = m.public_key
        for org, systems in SYSTEMS.items():
            history: list[Activity] = m.history(org)
            out[f"{org}/history"] = history
            out[f"{org}/history/page"] = m.history(org, actions=["licenses_allocated"], offset=1)
            for at in (*INSTANTS, None):
                for product in DEMO_CATALOG.product_codes:
                    out[f"{org}/{product}/{at}/status"] = m.status(org, product, at=at)
                    out[f"{org}/{product}/{at}/wallet"] = m.wallet(org, product, at=at)
                    try:
                        out[f"{org}/{product}/{at}/need"] = m.need(org, product, at=at)
                    except SubscriptionNotStarted as exc:
                        out[f"{org}/{product}/{at}/need"] = type(exc).__name__
                for system in systems:
                    try:
                        out[f"{org}/{system}/{at}"] = m.system_status(org, system, at=at)
                    except LicensingError as exc:
                        out[f"{org}/{system}/{at}"] = type(exc).__name__
    return out


def counts(url: str) -> dict[str, int]:
    backend = Plugins().backends().open(url)
    try:
        return {table: backend.count_rows(table) for table in TABLES}
    finally:
        backend.close()


def mark_of(url: str) -> str | None:
    backend = Plugins().backends().open(url)
    try:
        return incomplete_mark(backend)
    finally:
        backend.close()


@pytest.fixture
def source(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A populated SQLite store and the keys it left unredeemed."""
    url = sqlite_url(tmp_path / "source.db")
    return url, populate(url)


# -- round trips -----------------------------------------------------------------------------


def test_r13_round_trip_sqlite_postgresql_sqlite_answers_every_query_alike(
    source: tuple[str, dict[str, str]], postgres_url: str, tmp_path: Path
) -> None:
    url, keys = source
    expected = snapshot(url)
    source_counts = counts(url)
    assert source_counts["orgs"] == 2
    assert source_counts["shipments"] == 2
    assert source_counts["requests"] >= 7

    to_pg = migrate(url, postgres_url, batch_size=3)
    assert to_pg.verified
    assert {t.table: t.rows for t in to_pg.tables} == source_counts
    assert mark_of(postgres_url) is None
    assert snapshot(postgres_url) == expected

    back = sqlite_url(tmp_path / "back.db")
    report = migrate(postgres_url, back)
    assert report.verified
    assert {t.table: t.checksum for t in report.tables} == {
        t.table: t.checksum for t in to_pg.tables
    }
    assert counts(back) == source_counts
    assert snapshot(back) == expected

    # Keys, redemptions, idempotency records and the key secret came along too (R10, R13).
    clock = ManualClock(QUERY_NOW)
    with Manager.open(back, catalog=DEMO_CATALOG, clock=clock) as m:
        with pytest.raises(KeyAlreadyRedeemed):
            m.redeem_key("north", keys["subscription"], actor="bob")
        spare = m.vendor.issue_key("acs-pro", quantities={"door": 3}, request_id="spare-1")
        assert spare == keys["spare"]
        replay = m.allocate_need("north", "acs-pro", actor="bob", request_id="a-1")
        assert replay.quantities == {"core": 3, "door": 1}
        assert m.redeem_key("north", spare, actor="bob").quantities == {"door": 3}
    assert counts(back)["activities"] == source_counts["activities"] + 1


def test_r13_memory_to_sqlite(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 1, 1, 12, tzinfo=UTC))
    target = sqlite_url(tmp_path / "target.db")
    with Manager.open("memory://", catalog=DEMO_CATALOG, clock=clock) as m:
        key = m.vendor.issue_key("acs-pro", quantities={"core": 20})
        m.create_organization("acme", name="Acme", actor="ann")
        m.register_system("acme", "acs-pro", "s-1", devices={"core": 5}, actor="ann")
        m.start_subscription("acme", "acs-pro", actor="ann")
        clock.set(datetime(2026, 2, 10, 12, tzinfo=UTC))
        m.redeem_key("acme", key, actor="ann", request_id="r-1")
        first = m.allocate("acme", "acs-pro", {"core": 10}, actor="ann")
        assert first.compensation == {"core": 1}
        assert first.credit == {"core": Fraction(7, 73)}
        report = migrate(m.backend, target)
        assert report.verified
        assert report.source == "memory://"
        assert {t.table: t.rows for t in report.tables} == {
            "meta": 1,  # the generated signing key
            "catalogs": 1,  # the catalog recorded at open (R15)
            "orgs": 1,
            "versions": 5,
            "parts": 4,  # org, org.product:acs-pro, org.devices:acs-pro, system:s-1
            "part_history": 5,
            "states": 0,
            "activities": 6,
            "systems": 1,
            "shipments": 0,
            "keys": 1,
            "requests": 1,
            # events out (SPEC §7): no endpoint, event or delivery yet
            "webhooks": 0,
            "events": 6,  # SPEC §7: every activity is an event
            "deliveries": 0,
            "sweep_due": 1,  # the organization is due for the next sweep
            # members and roles (SPEC §8): carried too, none here
            "accounts": 0,
            "memberships": 0,
            "invitations": 0,
            "api_tokens": 0,
            "access_version": 0,
        }
        clock.set(QUERY_NOW)
        with Manager.open(target, catalog=DEMO_CATALOG, clock=clock) as copy:
            assert copy.public_key == m.public_key
            for at in (*INSTANTS, None):
                assert copy.status("acme", "acs-pro", at=at) == m.status("acme", "acs-pro", at=at)
                assert copy.wallet("acme", "acs-pro", at=at) == m.wallet("acme", "acs-pro", at=at)
                assert copy.system_status("acme", "s-1", at=at) == m.system_status(
                    "acme", "s-1", at=at
                )
            assert copy.need("acme", "acs-pro") == m.need("acme", "acs-pro")
            assert copy.history("acme") == m.history("acme")
            # The fractional credit came along: 7/73 + 5 x 31/365 = 38/73 in both (R8).
            again = copy.allocate("acme", "acs-pro", {"core": 5}, actor="ann")
            assert again == m.allocate("acme", "acs-pro", {"core": 5}, actor="ann")
            assert not again.compensation
            assert again.credit == {"core": Fraction(38, 73)}
            assert copy.wallet("acme", "acs-pro") == m.wallet("acme", "acs-pro")


def test_r13_sqlite_to_a_memory_backend_object(source: tuple[str, dict[str, str]]) -> None:
    url, _ = source
    target = MemoryBackend()
    report = migrate(url, target, batch_size=2)
    assert report.verified
    assert incomplete_mark(target) is None
    assert {t: target.count_rows(t) for t in TABLES} == counts(url)
    assert (
        report.table("activities").checksum
        == table_checksum("activities", target.export_rows("activities"))[1]
    )


def test_progress_reports_each_table_in_batches(
    source: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, _ = source
    calls: list[tuple[str, int, int]] = []
    migrate(
        url,
        sqlite_url(tmp_path / "t.db"),
        batch_size=4,
        progress=lambda table, done, total: calls.append((table, done, total)),
    )
    assert [c[0] for c in calls if c[1] == 0] == list(TABLES)
    source_counts = counts(url)
    for table in TABLES:
        done = [c[1] for c in calls if c[0] == table]
        expected = [0, *range(4, source_counts[table], 4)]
        if source_counts[table]:
            expected.append(source_counts[table])
        assert done == expected
        assert {c[2] for c in calls if c[0] == table} == {source_counts[table]}


# -- refusals --------------------------------------------------------------------------------


def busy_target(tmp_path: Path) -> str:
    """An SQLite store that holds an organization of its own."""
    target = sqlite_url(tmp_path / "busy.db")
    with Manager.open(target, catalog=DEMO_CATALOG) as m:
        m.create_organization("other", name="Other", actor="x")
    return target


def test_refuses_a_non_empty_target_and_leaves_it_alone(
    source: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, _ = source
    target = busy_target(tmp_path)
    before = counts(target)
    with pytest.raises(
        MigrationRefused,
        match=r"is not empty \(orgs 1, versions 1, parts 1, activities 1, events 1, sweep_due 1\)",
    ):
        migrate(url, target)
    assert counts(target) == before
    assert mark_of(target) is None


def test_force_clears_a_non_empty_target(
    source: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, _ = source
    target = busy_target(tmp_path)
    report = migrate(url, target, force=True)
    assert report.cleared_target
    assert counts(target) == counts(url)
    assert snapshot(target) == snapshot(url)


def test_a_target_with_only_its_own_settings_counts_as_empty(
    source: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, _ = source
    target = sqlite_url(tmp_path / "fresh.db")
    with Manager.open(target, catalog=DEMO_CATALOG) as m:  # generates its own signing key
        own_key = m.public_key
    report = migrate(url, target)
    assert report.cleared_target
    with (
        Manager.open(target, catalog=DEMO_CATALOG) as m,
        Manager.open(url, catalog=DEMO_CATALOG) as s,
    ):
        assert m.public_key == s.public_key != own_key


def test_refusals_before_anything_is_written(
    source: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, _ = source
    with pytest.raises(MigrationRefused, match="the same store"):
        migrate(url, url)
    with pytest.raises(MigrationRefused, match="the same store"):
        migrate(url, f"sqlite:///{tmp_path}/./source.db")
    with pytest.raises(MigrationRefused, match="memory:// cannot be the source"):
        migrate("memory://", sqlite_url(tmp_path / "x.db"))
    with pytest.raises(MigrationRefused, match="memory:// cannot be the target"):
        migrate(url, "memory://")
    missing = tmp_path / "missing.db"
    with pytest.raises(MigrationRefused, match="does not exist"):
        migrate(sqlite_url(missing), sqlite_url(tmp_path / "y.db"))
    assert not missing.exists()
    with pytest.raises(InvalidInput, match="batch_size must be a positive integer"):
        migrate(url, sqlite_url(tmp_path / "z.db"), batch_size=0)
    with pytest.raises(InvalidInput, match="unknown backend scheme 'nosql'"):
        migrate(url, "nosql://x")


# -- failures half-way -----------------------------------------------------------------------


class FlakyBackend(SQLiteBackend):
    """An SQLite backend whose ``import_rows`` fails on the third table, or corrupts a row."""

    scheme = "flaky"

    def __init__(self, url: str, *, mode: str) -> None:
        super().__init__("sqlite" + url.removeprefix("flaky"))
        self.url = url
        self.mode = mode
        self.tables: list[str] = []

    def import_rows(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        if table not in self.tables:
            self.tables.append(table)
        rows = list(rows)
        if self.mode == "fail" and len(self.tables) == 4:  # meta, catalogs, orgs, states
            raise RuntimeError("disk on fire")
        if self.mode == "corrupt" and table == "activities":
            rows = [dict(rows[0], actor="mallory"), *rows[1:]]
        return super().import_rows(table, rows)


class FlakyPlugin:
    def __init__(self, mode: str) -> None:
        self.mode = mode

    @hookimpl
    def axis_licensing_register_backends(self, registry: BackendRegistry) -> None:
        registry.add("flaky", lambda url: FlakyBackend(url, mode=self.mode))


def test_r13_a_failure_half_way_leaves_the_mark_and_the_next_attempt_refuses(
    source: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, _ = source
    path = tmp_path / "half.db"
    with pytest.raises(
        MigrationFailed, match="copying table 'versions' failed: disk on fire"
    ) as info:
        migrate(url, f"flaky:///{path}", plugins=[FlakyPlugin("fail")])
    assert info.value.report is None
    target = sqlite_url(path)
    mark = mark_of(target)
    assert mark is not None
    assert json.loads(mark)["source"] == url
    half = counts(target)
    # meta: the signing key and the mark
    assert (half["meta"], half["orgs"], half["versions"], half["activities"]) == (2, 2, 0, 0)

    with pytest.raises(MigrationRefused, match="holds an incomplete migration"):
        migrate(url, target)
    assert counts(target) == half

    runner = CliRunner()
    refused = runner.invoke(main, ["migrate", "--from", url, "--to", target])
    assert refused.exit_code == 2
    assert "holds an incomplete migration" in refused.stderr
    status = runner.invoke(main, ["status", "--db", target, DEMO_ORG, "acs-pro"])
    assert status.exit_code == 7  # a StorageError
    assert "left incomplete by an interrupted" in status.stderr

    report = migrate(url, target, force=True)
    assert report.verified
    assert report.cleared_target
    assert mark_of(target) is None
    assert counts(target) == counts(url)


def test_r13_a_copy_that_does_not_verify_keeps_the_mark(
    source: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, _ = source
    path = tmp_path / "bad.db"
    with pytest.raises(MigrationFailed, match="verification failed for activities") as info:
        migrate(url, f"flaky:///{path}", plugins=[FlakyPlugin("corrupt")])
    report = info.value.report
    assert report is not None
    assert not report.verified
    bad = report.table("activities")
    assert bad.rows == bad.source_rows == bad.target_rows
    assert bad.checksum != bad.target_checksum
    assert all(t.verified for t in report.tables if t.table != "activities")
    assert mark_of(sqlite_url(path)) is not None


def test_cli_exit_1_when_the_copy_does_not_verify(
    source: tuple[str, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import axis_licensing._migrate as migrate_module

    def plugins_with_flaky(extra: Iterable[object] = ()) -> Plugins:
        return Plugins([FlakyPlugin("corrupt"), *extra])

    monkeypatch.setattr(migrate_module, "Plugins", plugins_with_flaky)
    url, _ = source
    result = CliRunner().invoke(
        main, ["migrate", "--from", url, "--to", f"flaky:///{tmp_path / 'b.db'}"]
    )
    assert result.exit_code == 1, result.output
    assert "MISMATCH" in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error: verification failed for activities;")
    )
    assert "Traceback" not in result.output


def test_r13_manager_refuses_a_store_marked_incomplete(
    source: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, _ = source
    path = tmp_path / "half.db"
    with pytest.raises(MigrationFailed):
        migrate(url, f"flaky:///{path}", plugins=[FlakyPlugin("fail")])
    assert MARK == MIGRATION_INCOMPLETE
    with pytest.raises(StorageError, match="left incomplete by an interrupted"):
        Manager.open(sqlite_url(path), catalog=DEMO_CATALOG).close()


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_migrate_copies_verifies_and_reports(
    source: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, _ = source
    target = tmp_path / "copy.db"
    result = CliRunner().invoke(
        main, ["migrate", "--from", url, "--to", str(target), "--batch-size", "5"]
    )
    assert result.exit_code == 0, result.output
    source_counts = counts(url)
    for table in TABLES:
        assert f"copied {table:<10} {source_counts[table]:>8} rows" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["table", "copied", "in", "target", "sha-256", "(start)", "verified"]
    assert lines[-1].startswith(
        f"Copied {sum(source_counts.values())} rows from {url} to sqlite:///"
    )
    assert lines[-1].endswith("every table verified.")
    assert counts(sqlite_url(target)) == source_counts

    again = CliRunner().invoke(main, ["migrate", "--from", url, "--to", str(target)])
    assert again.exit_code == 2
    assert "is not empty" in again.stderr
    assert "use --force" in again.stderr

    forced = CliRunner().invoke(
        main, ["migrate", "--from", url, "--to", str(target), "--force", "--json"]
    )
    assert forced.exit_code == 0, forced.output
    data = json.loads(forced.stdout)
    assert data["verified"] is True
    assert data["report"]["cleared_target"] is True
    assert [t["table"] for t in data["report"]["tables"]] == list(TABLES)


def test_cli_migrate_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["migrate", "--to", str(tmp_path / "x.db")])
    assert missing.exit_code == 2
    batch = runner.invoke(main, ["migrate", "--from", "a.db", "--to", "b.db", "--batch-size", "0"])
    assert batch.exit_code == 2
    gone = runner.invoke(
        main, ["migrate", "--from", str(tmp_path / "no.db"), "--to", str(tmp_path / "b.db")]
    )
    assert gone.exit_code == 2
    assert "does not exist" in gone.stderr


# -- checksums -------------------------------------------------------------------------------


def _activity(org: str, n: int) -> dict[str, Any]:
    return {
        "org_id": org,
        "at_us": n,
        "on": "2026-01-01",
        "actor": "a",
        "action": "x",
        "details": "{}",
    }


def test_checksum_ignores_how_organizations_interleave_but_not_their_own_order() -> None:
    interleaved = [_activity("a", 1), _activity("b", 1), _activity("a", 2), _activity("b", 2)]
    grouped = [_activity("a", 1), _activity("a", 2), _activity("b", 1), _activity("b", 2)]
    swapped = [_activity("a", 2), _activity("a", 1), _activity("b", 1), _activity("b", 2)]
    assert table_checksum("activities", interleaved) == table_checksum("activities", grouped)
    assert table_checksum("activities", swapped)[1] != table_checksum("activities", grouped)[1]
    assert table_checksum("activities", swapped)[0] == 4


def test_checksum_orders_rows_by_primary_key_and_sees_every_value() -> None:
    rows = [
        {"org_id": "b", "seq": 2, "at_us": 1, "state": "{}"},
        {"org_id": "a", "seq": 10, "at_us": 1, "state": "{}"},
    ]
    assert table_checksum("states", rows) == table_checksum("states", rows[::-1])
    changed = [rows[0], dict(rows[1], state="{ }")]
    assert table_checksum("states", changed) != table_checksum("states", rows)
    assert table_checksum("states", []) == (
        0,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    )


def test_canonical_row_is_sorted_compact_json_with_iso_dates() -> None:
    from datetime import date

    assert canonical_row({"b": 1, "a": date(2026, 1, 2), "c": None, "d": "é"}) == (
        '{"a":"2026-01-02","b":1,"c":null,"d":"é"}'
    )


def test_redact_url_hides_passwords() -> None:
    assert redact_url("postgresql://ann:s3cret@db.example:5433/lic?schema=x") == (
        "postgresql://ann:***@db.example:5433/lic?schema=x"
    )
    assert redact_url("sqlite:///a.db") == "sqlite:///a.db"
