"""Regression tests for what the independent SPEC audits and code review found."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pendulum
import pytest

from axis_licensing import (
    EXAMPLE_CATALOG,
    Catalog,
    IdempotencyConflict,
    InvalidInput,
    LicenseKind,
    LicenseType,
    Manager,
    ManualClock,
    OutsideAllocationWindow,
    ProductSpec,
    ProductState,
    StorageError,
    offline,
)
from axis_licensing._migrate import MigrationRefused, migrate, redact_url
from axis_licensing.backends.postgresql import parse_url
from axis_licensing.backends.sqlite import SCHEMA_VERSION, SQLiteBackend

START = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_r14_pendulum_datetimes_are_aware_instants() -> None:
    clock = ManualClock(pendulum.datetime(2026, 1, 1, 12, tz="Pacific/Auckland"))
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock) as m:
        m.create_organization("o", name="O", timezone="Pacific/Auckland", actor="a")
        m.start_subscription("o", "acs-pro", actor="a")
        status = m.status("o", "acs-pro", at=pendulum.datetime(2026, 1, 2, 12))
        assert status.state is ProductState.TRIAL
        assert status.window_ends_on == date(2026, 1, 31)
        first = m.history("o", since=pendulum.datetime(2025, 1, 1))[0]
        assert first.at == datetime(2025, 12, 31, 23, tzinfo=UTC)
        assert first.on == date(2026, 1, 1)


def test_r5_a_float_growth_rate_means_its_decimal_value() -> None:
    spec = ProductSpec("p", "P", growth_rate=0.3, license_types=[LicenseType("core")])
    assert spec.growth_rate == Fraction(3, 10)
    clock = ManualClock(START)
    with Manager.open("memory://", catalog=Catalog(products=[spec]), clock=clock) as m:
        m.create_organization("o", name="O", actor="a")
        m.register_system("o", "p", "s", devices={"core": 10}, actor="a")
        m.start_subscription("o", "p", actor="a")
        m.redeem_key("o", m.vendor.issue_key("p", quantities={"core": 10}), actor="a")
        m.allocate("o", "p", {"core": 10}, actor="a")
        m.report_devices("o", "s", {"core": 13}, actor="a")  # 13 <= 1.3 x 10
        status = m.status("o", "p")
        assert status.growth_exceeded is False
        assert status.required_now == {}
        m.report_devices("o", "s", {"core": 14}, actor="a")  # ceil((14 - 13) / 1.3) = 1
        status = m.status("o", "p")
        assert status.growth_exceeded is True
        assert status.required_now == {"core": 1}


def test_r6_queries_default_to_the_latest_facts_when_the_clock_moved_back() -> None:
    clock = ManualClock(START)
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock) as m:
        m.create_organization("o", name="O", actor="a")
        m.start_subscription("o", "acs-pro", actor="a")
        clock.advance(days=200)
        m.redeem_key("o", m.vendor.issue_key("acs-pro", quantities={"core": 1}), actor="a")
        clock.set(START + timedelta(days=100))  # another server's clock, behind
        key = m.vendor.issue_key("acs-pro", quantities={"core": 2})
        lots = m.redeem_key("o", key, actor="a").lots
        assert [lot.acquired_on for lot in lots] == [date(2026, 4, 11)]
        assert m.wallet("o", "acs-pro").balance() == {"core": 3}
        # no devices and nothing allocated, past the trial: licensed (R5), as of the latest facts
        assert m.status("o", "acs-pro").state is ProductState.LICENSED


def test_r10_a_key_issued_with_a_request_id_is_given_back_only_with_the_signing_key(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    first_signer, second_signer = offline.generate_signing_key(), offline.generate_signing_key()
    with Manager.open(url, catalog=EXAMPLE_CATALOG, signing_key=first_signer) as m:
        key = m.vendor.issue_key("acs-pro", quantities={"core": 1}, request_id="order-1")
    with Manager.open(url, catalog=EXAMPLE_CATALOG, signing_key=first_signer) as m:
        assert m.vendor.issue_key("acs-pro", quantities={"core": 1}, request_id="order-1") == key
    with (
        Manager.open(url, catalog=EXAMPLE_CATALOG, signing_key=second_signer) as m,
        pytest.raises(IdempotencyConflict, match="another signing key"),
    ):
        m.vendor.issue_key("acs-pro", quantities={"core": 1}, request_id="order-1")
    stored = (tmp_path / "keys.db").read_bytes()
    assert key.replace("-", "").encode() not in stored


def test_r14_blank_ids_are_refused_in_system_files_too() -> None:
    with pytest.raises(InvalidInput, match="system_id must not be empty"):
        offline.describe_system(system_id="   ", product="acs-pro", devices={}, now=START)


def test_r14_wallet_balance_takes_a_kind_or_its_value() -> None:
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        m.create_organization("o", name="O", actor="a")
        key = m.vendor.issue_key("acs-pro", LicenseKind.HARDWARE, quantities={"core": 2})
        m.redeem_key("o", key, actor="a")
        wallet = m.wallet("o", "acs-pro")
        assert wallet.balance("hardware") == wallet.balance(LicenseKind.HARDWARE) == {"core": 2}
        with pytest.raises(InvalidInput, match="kind must be one of"):
            wallet.balance("extension")


def test_r12_hardware_alone_in_a_long_trial_keeps_the_window() -> None:
    spec = ProductSpec("p", "P", trial_days=60, license_types=[LicenseType("core")])
    clock = ManualClock(START)
    with Manager.open("memory://", catalog=Catalog(products=[spec]), clock=clock) as m:
        m.vendor.ship_hardware("HW-1", "p", preloaded={"core": 4})
        m.create_organization("o", name="O", actor="a")
        m.start_subscription("o", "p", actor="a")  # trial through 2026-03-01 (e = 03-02)
        data = offline.describe_system(
            system_id="s", product="p", devices={"core": 2}, hardware=["HW-1"], now=START
        )
        grant = offline.verify_license_file(
            m.upload_system_file("o", data, actor="a"),
            trusted_keys=m.public_key,
            system_id="s",
            now=START,
        )
        # the window's last day, e - 1 (R12), later than the issue date + 30 days
        assert (grant.licensed, grant.valid_until) == (True, date(2026, 3, 1))
        assert (grant.state, grant.may_run) == ("trial", True)


def test_r7_far_offsets_are_outside_the_window_not_beyond_the_calendar() -> None:
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        m.create_organization("o", name="O", actor="a")
        m.start_subscription("o", "acs-pro", actor="a")
        for offset in (6, 10_000, 10**9):
            with pytest.raises(OutsideAllocationWindow, match=f"offset {offset}\\)? starts"):
                m.allocate("o", "acs-pro", {"core": 1}, period=offset, actor="a")
        with pytest.raises(OutsideAllocationWindow, match="offset 1000000 starts"):
            m.allocate_need("o", "acs-pro", through=10**6, actor="a")


def test_r14_history_paging_beyond_sql_integers_is_invalid_input(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        m.create_organization("o", name="O", actor="a")
        with pytest.raises(InvalidInput, match="limit must be at most 9223372036854775807"):
            m.history("o", limit=2**63)
        with pytest.raises(InvalidInput, match="offset must be at most 9223372036854775807"):
            m.history("o", offset=2**63)
        assert len(m.history("o", limit=2**63 - 1)) == 1


def test_r13_sqlite_migration_never_sets_a_newer_schema_back(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    backend = SQLiteBackend(f"sqlite:///{path}")
    try:
        # as if a newer process migrated the file while this one waited for the lock
        backend._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        with pytest.raises(StorageError, match="newer than this axis-licensing supports"):
            backend._migrate()
        version = backend._conn.execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION + 1
    finally:
        backend.close()


def test_r13_migrate_refuses_one_store_spelled_two_ways(postgres_url: str) -> None:
    with Manager.open(postgres_url, catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        m.create_organization("o", name="O", actor="a")
    other_spelling = postgres_url.replace("127.0.0.1", "localhost").replace(
        "postgresql://", "postgres://"
    )
    assert other_spelling != postgres_url
    with pytest.raises(MigrationRefused, match="the same store"):
        migrate(postgres_url, other_spelling, force=True)
    with Manager.open(postgres_url, catalog=EXAMPLE_CATALOG, clock=ManualClock(START)) as m:
        assert [a.action for a in m.history("o")] == ["organization_created"]


def test_r1_migrate_never_shows_a_password() -> None:
    url = "postgresql://ann:s3cret@db1:5432,db2:5433/licensing?password=other&schema=x"
    assert redact_url(url) == (
        "postgresql://ann:***@db1:5432,db2:5433/licensing?password=***&schema=x"
    )
    assert redact_url("sqlite:///var/x.db") == "sqlite:///var/x.db"


def test_r14_postgresql_schema_names_with_percent_are_refused() -> None:
    with pytest.raises(InvalidInput, match="must not contain %"):
        parse_url("postgresql://postgres@127.0.0.1/test?schema=a%25s")
    settings = parse_url("postgresql:///test?host=/var/run/postgresql&schema=x")
    assert settings.schema == "x"


def test_r14_postgresql_without_psycopg_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "axis_licensing.backends.postgresql", None)
    with pytest.raises(StorageError, match=r"pip install 'axis-licensing\[postgres\]'"):
        Manager.open("postgresql://postgres@127.0.0.1/test", catalog=EXAMPLE_CATALOG)
