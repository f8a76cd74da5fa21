"""Commands as values (issue 7, item 1): their converter form is the idempotency fingerprint (R13).

The digests below were computed by the code before commands were values
(``manager._fingerprint(action, args)`` at commit 7146890). Stores keep them in
their request rows, so they must never change: an idempotent retry after an
upgrade must replay, not raise IdempotencyConflict.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from axis_licensing import EXAMPLE_CATALOG, LicenseKind, ManualClock, offline
from axis_licensing import _commands as cmd
from axis_licensing._convert import converter
from axis_licensing._counts import Counts
from axis_licensing._demo import DEMO_CATALOG
from axis_licensing.errors import IdempotencyConflict
from axis_licensing.manager import Manager

DATA = Path(__file__).parent / "data"
#: After every command of the checked-in store.
LATER = datetime(2027, 6, 1, 12, tzinfo=UTC)

STORED = {
    "create_organization": "76f9b8b22b8fb9ca111532a511497188f8d2677d3edb0490fbbdb8ab71bdb66d",
    "register_system": "66c2912de4c978466cbba4a0f2793868ffae643a5d26a6d2554055bad7818a01",
    "report_devices": "60e5a891b90cc284ee432d5f1ab192e86e992ac40c0c25f497de5442af503204",
    "start_subscription": "348dec65ef299ddba8840e81a7385fb653fa6d5913eb0821de3b2f583b9c738d",
    "redeem_key": "3834abdb988ada6c3abee1d0b6552f76e800346e5fc1b188d022a2fc53f70576",
    "allocate": "ce7f696a86e4bf343f04c41ec22c78a89f40858f81fefe64dcd57497b0fc603c",
    "allocate_need": "c02440d9abaadce6275b8def4d5ec8db3972fdfd9d0d2c0759ae35f4acc30e6b",
    "register_hardware": "c755f8bf3d7623b1ad59fc7fcc330b94bc2fb3319c793e08cd6c47cc205128f6",
    "allocate_to_hardware": "d62f9de629b244408a63e9bf1c554ee36211477ae45708f9a2c7c2494ab414f9",
    "upload_system_file": "cdc2959fec48e4a4c2f4c693146af9c68069c54c58907c7a3d8e7ee0a2035fa0",
    "vendor.issue_key": "97d2eaffbb7e9ed578796c947d0bb019db8a45fb33462bbe8944233b0951fbf8",
    "vendor.ship_hardware": "6b0dd12dbdafaa99eab096ef614dbb772a75a6dd3099d67341e6851db851a9ef",
    "vendor.publish_catalog": "144143538b0262ce7ac917a8b4d07445c604275683796017ea1ece6990ec499e",
}

COMMANDS: list[cmd.Command] = [
    cmd.CreateOrganization(org_id="o", name="Örg", timezone="Europe/Stockholm"),
    cmd.RegisterSystem(product="acs-pro", system_id="s", devices=Counts({"core": 2, "door": 0})),
    cmd.ReportDevices(system_id="s", devices=Counts({"core": 3})),
    cmd.StartSubscription(product="acs-pro"),
    cmd.RedeemKey(key_hash="ab" * 32),
    cmd.Allocate(product="acs-pro", quantities=Counts({"core": 1, "universal": 2}), period=1),
    cmd.AllocateNeed(product="acs-pro", through=2),
    cmd.RegisterHardware(system_id="s", serial="SN-1"),
    cmd.AllocateToHardware(serial="SN-1", quantities=Counts({"core": 4})),
    cmd.UploadSystemFile(file="cd" * 32),
    cmd.IssueKey(product="acs-pro", kind=LicenseKind.HARDWARE, quantities=Counts({"door": 5})),
    cmd.ShipHardware(serial="SN-1", product="acs-pro", preloaded=Counts({})),
    cmd.PublishCatalog(catalog=EXAMPLE_CATALOG),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.ACTION)
def test_r13_a_command_fingerprint_equals_the_one_stored_before(command: cmd.Command) -> None:
    assert cmd.fingerprint(command) == STORED[command.ACTION]


def test_r13_one_command_class_per_manager_and_vendor_command() -> None:
    assert sorted(c.ACTION for c in COMMANDS) == sorted(STORED)
    assert len({type(c) for c in COMMANDS}) == 13
    for command in COMMANDS:
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            command.ACTION = "x"  # type: ignore[misc]


def test_r13_the_fingerprint_is_the_converter_form_of_the_value() -> None:
    allocate = cmd.Allocate(product="acs-pro", quantities=Counts({"core": 1}), period=0)
    assert converter.unstructure(allocate) == {
        "product": "acs-pro",
        "quantities": {"core": 1},
        "period": 0,
    }
    assert cmd.fingerprint(allocate) != cmd.fingerprint(attrs.evolve(allocate, period=1))
    assert cmd.fingerprint(allocate) == cmd.fingerprint(attrs.evolve(allocate))


def test_r13_a_request_remembered_by_the_previous_code_replays(tmp_path: Path) -> None:
    """The checked-in store's ``north-confirm`` request, made by earlier code, replays."""
    target = tmp_path / "v1.sqlite"
    shutil.copyfile(DATA / "v1_store.sqlite", target)
    with Manager.open(f"sqlite:///{target}", catalog=DEMO_CATALOG, clock=ManualClock(LATER)) as m:
        history = m.history("north")
        again = m.allocate_need(
            "north", "acs-pro", through=1, actor="ann", request_id="north-confirm"
        )
        assert m.history("north") == history  # nothing applied twice
        # what the first run allocated on 2026-02-20, as its history says
        assert [(p.period.index, p.quantities) for p in again.periods] == [
            (0, Counts({"core": 3, "door": 4})),
            (1, Counts({"core": 3, "door": 4})),
        ]
        with pytest.raises(IdempotencyConflict):
            m.allocate_need("north", "acs-pro", through=0, actor="ann", request_id="north-confirm")


def test_r13_every_command_retried_with_its_request_id_replays(tmp_path: Path) -> None:
    """Each command retried after a reopen with its request id replays: nothing twice."""
    clock = ManualClock(datetime(2026, 1, 1, 12, tzinfo=UTC))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    file = offline.describe_system(
        system_id="s2", product="acs-pro", devices={"core": 1}, now=clock.now()
    )

    def run(m: Manager) -> tuple[object, ...]:
        m.create_organization("o", name="O", actor="u", request_id="c")
        key = m.vendor.issue_key("acs-pro", quantities={"core": 3}, request_id="k")
        m.vendor.ship_hardware("SN", "acs-pro", {"core": 1}, request_id="h")
        m.register_system("o", "acs-pro", "s", devices={"core": 2}, actor="u", request_id="r1")
        m.report_devices("o", "s", {"core": 2}, actor="u", request_id="r2")
        m.start_subscription("o", "acs-pro", actor="u", request_id="r3")
        lots = m.redeem_key("o", key, actor="u", request_id="r4").lots
        allocation = m.allocate("o", "acs-pro", {"core": 1}, actor="u", request_id="r5")
        need = m.allocate_need("o", "acs-pro", actor="u", request_id="r6")
        m.register_hardware("o", "s", "SN", actor="u", request_id="r7")
        extension = m.vendor.issue_key(
            "acs-pro", LicenseKind.HARDWARE, {"core": 1}, request_id="k2"
        )
        m.redeem_key("o", extension, actor="u", request_id="r8a")
        m.allocate_to_hardware("o", "SN", {"core": 1}, actor="u", request_id="r8")
        signed = m.upload_system_file("o", file, actor="u", request_id="r9")
        version = m.vendor.publish_catalog(EXAMPLE_CATALOG, request_id="p")
        return key, lots, allocation, need, signed, version

    with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        first = run(m)
        history = m.history("o")
    clock.advance(days=1)
    with Manager.open(url, clock=clock) as m:
        assert run(m) == first
        assert m.history("o") == history
