"""Every declared command and query runs once from the CLI, end to end, on SQLite.

The CLI's commands are drawn from their declarations
(:data:`~axis_licensing.shell.operations.OPERATIONS`), so a declaration the
derivation maps wrongly (a bool as text, a list as one string, an ``--actor``
the command does not take) gives a command that always fails. This session
runs each of them, with valid arguments, on one SQLite store on a manual
clock, through click's ``CliRunner``: every run must exit 0, print JSON that
parses under ``--json`` and hold the values expected; a query's text form is
read too. The last check fails when a declared operation was left out, so a
new one must join the session.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import attrs
import pytest
from click.testing import CliRunner

from axis_licensing import (
    EXAMPLE_CATALOG,
    LicenseType,
    Manager,
    ManualClock,
    ProductSpec,
    _cli_store,
    offline,
    to_jsonable,
)
from axis_licensing.cli import OWN_COMMANDS, main, verb_of
from axis_licensing.shell.operations import OPERATIONS

#: When the session starts.
T0 = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)

#: The catalog published as version 2: the example's, and a second product.
CATALOG_2 = attrs.evolve(
    EXAMPLE_CATALOG,
    products=[
        *EXAMPLE_CATALOG.products,
        ProductSpec("acs-lite", "ACS Lite", license_types=[LicenseType("core")]),
    ],
)

#: The CLI words of each operation: ``("webhooks", "add")``.
CLI_PATHS: dict[tuple[str, ...], str] = {
    tuple(
        OWN_COMMANDS[op.name].split()
        if op.name in OWN_COMMANDS
        else [*op.path[:-1], verb_of(op).name]
    ): op.name
    for op in OPERATIONS.values()
}


class Session:
    """The CLI on one SQLite store and one manual clock, noting which operations ran."""

    def __init__(self, db: Path, clock: ManualClock) -> None:
        self.clock = clock
        self.runner = CliRunner(
            env={"AXIS_LICENSING_DB": str(db), "AXIS_LICENSING_ACTOR": "alice", "COLUMNS": "200"}
        )
        self.ran: set[str] = set()

    def _invoke(self, args: list[str], stdin: str | None) -> str:
        for words in sorted(CLI_PATHS, key=len, reverse=True):
            if tuple(args[: len(words)]) == words:
                self.ran.add(CLI_PATHS[words])
                break
        result = self.runner.invoke(main, args, input=stdin, catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
        return result.stdout

    def json(self, *args: str, stdin: str | None = None) -> Any:
        """What ``axis-licensing ARGS --json`` prints, parsed."""
        return json.loads(self._invoke([*args, "--json"], stdin))

    def text(self, *args: str, stdin: str | None = None) -> str:
        """What ``axis-licensing ARGS`` prints."""
        return self._invoke(list(args), stdin)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    clock = ManualClock(T0)
    with (
        mock.patch.object(_cli_store, "SystemClock", return_value=clock),  # every command's store
    ):
        yield Session(tmp_path / "every.db", clock)


def _licensing(s: Session, tmp_path: Path) -> None:
    """The vendor's and an organization's commands, and every query, by ``alice``."""
    issued = s.json("vendor", "issue-key", "--catalog", "example", "acs-pro", "core=10", "door=2")
    key = issued.pop("key")
    assert issued == {
        "kind": "subscription",
        "product": "acs-pro",
        "quantities": {"core": 10, "door": 2},
    }
    hardware_key = s.text("vendor", "issue-key", "acs-pro", "core=3", "--kind", "hardware").strip()
    assert s.json("vendor", "ship-hardware", "SN-1", "acs-pro", "core=2") == {
        "serial": "SN-1",
        "product": "acs-pro",
        "preloaded": {"core": 2},
    }
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps(to_jsonable(CATALOG_2)), encoding="utf-8")
    assert s.json("vendor", "publish-catalog", str(catalog_file)) == {"version": 2}
    created = s.json(
        "create-organization", "acme", "--name", "Acme AB", "--timezone", "Europe/Stockholm"
    )
    # the same document as the API's answer and organizations --json (SPEC §6.1)
    assert created == {
        "org_id": "acme",
        "name": "Acme AB",
        "timezone": "Europe/Stockholm",
        "anchor": None,
    }
    system = s.json("register-system", "acme", "acs-pro", "srv-1", "core=8", "door=2")
    assert (system["system_id"], system["devices"]) == ("srv-1", {"core": 8, "door": 2})
    system = s.json("report-devices", "acme", "srv-1", "core=9", "door=2")
    assert system["devices"] == {"core": 9, "door": 2}
    assert s.json("start", "acme", "acs-pro")["state"] == "trial"
    redeemed = s.json("redeem", "acme", key)
    assert sorted((lot["license_type"], lot["quantity"]) for lot in redeemed["lots"]) == [
        ("core", 10),
        ("door", 2),
    ]
    need = s.json("allocate-need", "acme", "acs-pro")
    assert need["periods"][0]["quantities"] == {"core": 9, "door": 2}
    allocation = s.json("allocate", "acme", "acs-pro", "core=1", "--period", "1")
    assert [p["quantities"] for p in allocation["periods"]] == [{"core": 1}]
    s.json("redeem", "acme", hardware_key)
    hardware = s.json("register-hardware", "acme", "srv-1", "SN-1")
    assert hardware["hardware"] == ["SN-1"]
    on_hardware = s.json("allocate-to-hardware", "acme", "SN-1", "core=1")
    assert on_hardware["hardware_capacity"] == {"core": 3}
    description = tmp_path / "off-1.json"
    description.write_bytes(
        offline.describe_system(
            system_id="off-1", product="acs-pro", devices={"core": 1}, now=s.clock.now()
        )
    )
    license_file = tmp_path / "off-1.lic"
    uploaded = s.json("upload-system-file", "acme", str(description), "-o", str(license_file))
    assert uploaded == {"output": str(license_file), "bytes": license_file.stat().st_size}
    # every query, as JSON and as text
    versions = s.json("catalog-versions")
    assert [v["version"] for v in versions] == [1, 2]
    assert s.json("status", "acme", "acs-pro")["state"] == "licensed"
    assert "LICENSED" in s.text("status", "acme", "acs-pro")
    need_report = s.json("need", "acme", "acs-pro", "--horizon", "1")
    assert len(need_report["periods"]) == 2
    wallet = s.json("wallet", "acme", "acs-pro")
    assert set(wallet["balance"]) == {"subscription", "hardware"}
    assert "wallet of acs-pro" in s.text("wallet", "acme", "acs-pro")
    assert s.json("system-status", "acme", "off-1")["system_id"] == "off-1"
    history = s.json("history", "acme", "--action", "key_redeemed", "--action", "devices_reported")
    assert sorted(a["action"] for a in history) == [
        "devices_reported",
        "key_redeemed",
        "key_redeemed",
    ]
    assert "key_redeemed" in s.text("history", "acme", "--action", "key_redeemed")
    assert [o["org_id"] for o in s.json("organizations")] == ["acme"]
    assert s.json("organization", "acme")["name"] == "Acme AB"
    assert "Acme AB" in s.text("organization", "acme")
    assert [p["product"] for p in s.json("products", "acme")] == [
        p.code for p in CATALOG_2.products
    ]
    assert [x["system_id"] for x in s.json("systems", "acme")] == ["off-1", "srv-1"]
    later = "2028-12-01T12:00:00Z"  # the second period unallocated, the third ahead
    alerts = s.json("alerts", "acme", "--at", later, "--within-days", "60")
    assert [(a["on"], a["kind"], a["system_id"]) for a in alerts] == [
        ("2028-12-01", "unlicensed", None),
        ("2028-12-01", "system_unlicensed", "off-1"),
        ("2028-12-01", "system_unlicensed", "srv-1"),
        ("2029-01-10", "renewal_uncovered", None),
    ]
    assert "renewal_uncovered" in s.text("alerts", "acme", "--at", later)
    events = s.json("events", "acme", "--limit", "2")
    assert [e["seq"] for e in events] == [1, 2]


def _events_out(s: Session) -> None:
    """Sweep, deliver and every webhook command: a delivery fails for good and is sent again."""
    assert s.json("sweep") == {"organizations": 1, "raised": 0, "cleared": 0}
    endpoint = s.json(
        "webhooks",
        "add",
        "--org-id",
        "acme",
        "--url",
        "http://127.0.0.1:9/h",
        "--allow-http",
        "--allow-private",
    )
    assert endpoint["secret"].startswith("whsec_")
    assert (endpoint["url"], endpoint["enabled"], endpoint["types"]) == (
        "http://127.0.0.1:9/h",
        True,
        None,
    )
    endpoint_id = endpoint["endpoint_id"]
    assert s.json("deliver") == {"sent": 0, "failed": 0, "retrying": 1}
    s.clock.advance(timedelta(days=3, minutes=1))
    assert s.text("deliver") == "sent 0, failed 1, retrying 0\n"
    (failed,) = s.json("webhooks", "failed", "--org-id", "acme")
    assert (failed["endpoint_id"], failed["state"]) == (endpoint_id, "failed")
    assert s.text("webhooks", "redeliver", failed["delivery_id"]) == "done\n"
    updated = s.json(
        "webhooks",
        "update",
        endpoint_id,
        "--no-enabled",
        "--type",
        "licenses_allocated",
        "--type",
        "key_redeemed",
        "--url",
        "http://127.0.0.1:9/g",
    )
    assert (updated["url"], updated["enabled"], updated["types"]) == (
        "http://127.0.0.1:9/g",
        False,
        ["key_redeemed", "licenses_allocated"],
    )
    updated = s.json("webhooks", "update", endpoint_id, "--enabled")
    assert (updated["enabled"], updated["types"]) == (True, ["key_redeemed", "licenses_allocated"])
    rotated = s.json("webhooks", "rotate-secret", endpoint_id)
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != endpoint["secret"]
    listed = s.json("webhooks", "list", "--org-id", "acme")
    assert [(e["endpoint_id"], e["secret"]) for e in listed] == [(endpoint_id, None)]
    assert s.json("webhooks", "remove", endpoint_id) is None
    assert s.json("webhooks", "list") == []
    # without --org-id, an endpoint for every organization (SPEC §7: vendor-wide)
    wide = s.json("webhooks", "add", "--url", "https://hooks.example.com/all")
    assert [e["endpoint_id"] for e in s.json("webhooks", "list")] == [wide["endpoint_id"]]
    assert s.json("webhooks", "list", "--org-id", "acme") == []
    assert s.json("webhooks", "remove", wide["endpoint_id"]) is None


def _members(s: Session) -> None:
    """Accounts, members and tokens: the first account is a vendor; it invites a second."""
    alice = s.json(
        "accounts",
        "create",
        "alice",
        "Alice",
        "--vendor",
        "--password-stdin",
        stdin="correct horse\n",
    )
    assert (alice["account_id"], alice["name"], alice["vendor"]) == ("alice", "Alice", True)
    bob = s.json("accounts", "create", "bob", "Bob")
    assert (bob["account_id"], bob["vendor"]) == ("bob", False)
    s.json("create-organization", "beta", "--name", "Beta")
    invitation = s.json("members", "invite", "beta", "bob", "--role", "viewer")
    assert (invitation["org_id"], invitation["account_id"], invitation["role"]) == (
        "beta",
        "bob",
        "viewer",
    )
    accepted = s.json("members", "accept", "bob", "--token", invitation["token"])
    assert accepted == {"account_id": "bob", "org_id": "beta", "role": "viewer"}
    promoted = s.json("members", "set-role", "beta", "bob", "--role", "admin")
    assert promoted == {"account_id": "bob", "org_id": "beta", "role": "admin"}
    assert s.json("members", "list", "beta") == [
        {"account_id": "alice", "org_id": "beta", "role": "owner"},
        {"account_id": "bob", "org_id": "beta", "role": "admin"},
    ]
    issued = s.json(
        "tokens",
        "create",
        "bob",
        "--actor",
        "bob",
        "--org",
        "beta",
        "--read-only",
        "--expires-at",
        "2030-01-01T00:00:00Z",
    )
    info = issued["info"]
    assert issued["secret"].startswith(info["prefix"])
    assert (info["orgs"], info["read_only"], info["expires_at"]) == (
        ["beta"],
        True,
        "2030-01-01T00:00:00+00:00",
    )
    assert [t["token_id"] for t in s.json("tokens", "list", "bob")] == [info["token_id"]]
    assert s.text("tokens", "revoke", info["token_id"], "--actor", "bob") == "done\n"
    (revoked,) = s.json("tokens", "list", "bob")
    assert revoked["revoked_at"] is not None
    assert s.json("members", "remove", "beta", "bob") is None
    assert [m["account_id"] for m in s.json("members", "list", "beta")] == ["alice"]


def test_every_declared_command_runs_from_the_cli(session: Session, tmp_path: Path) -> None:
    _licensing(session, tmp_path)
    _events_out(session)
    _members(session)
    assert sorted(set(OPERATIONS) - session.ran) == []
    with Manager.open(f"sqlite:///{tmp_path / 'every.db'}") as manager:
        assert manager.accounts.check_password("alice", "correct horse") is not None
        assert manager.accounts.check_password("bob", "correct horse") is None
