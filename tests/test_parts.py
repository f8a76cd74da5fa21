"""The storage layout of an organization's state as parts (SPEC §5, issue 7).

What a command writes: only the parts it changed. What a listing reads: one
page of systems with their units, at the head or at a past version.
"""

from __future__ import annotations

from datetime import timedelta

from axis_licensing import Counts, Manager, ManualClock
from axis_licensing._parts import changed, stored_versions, systems_page
from axis_licensing.backends import Backend

PRODUCT = "acs-pro"


def _org(manager: Manager, clock: ManualClock) -> None:
    manager.vendor.ship_hardware("SN-2", PRODUCT, {"core": 1})
    manager.create_organization("acme", name="Acme", actor="ann")
    for n in range(5):
        manager.register_system("acme", PRODUCT, f"sys-{n}", devices={"core": n}, actor="ann")
    clock.advance(timedelta(days=1))
    manager.register_hardware("acme", "sys-2", "SN-2", actor="ann")


def _written(backend: Backend, seq: int) -> list[str]:
    return sorted(
        r["part"]
        for table in ("parts", "part_history")
        for r in backend.export_rows(table)
        if r["org_id"] == "acme" and r["seq"] == seq
    )


def test_r4_a_device_report_writes_the_system_and_the_device_total_only(
    manager: Manager, clock: ManualClock
) -> None:
    _org(manager, clock)
    manager.report_devices("acme", "sys-3", {"core": 7}, actor="ann")
    assert _written(manager.backend, 8) == ["org.devices:acs-pro", "system:sys-3"]
    # the day changed before register_hardware: the header (as_of) is written then, once
    assert _written(manager.backend, 7) == [
        "hardware:SN-2",
        "org",
        "org.devices:acs-pro",
        "system:sys-2",
    ]
    assert manager.status("acme", PRODUCT).devices == {"core": 0 + 1 + 1 + 7 + 4}


def test_r4_device_totals_of_every_stored_version_are_the_sum_over_systems(
    manager: Manager, clock: ManualClock
) -> None:
    _org(manager, clock)
    totals = [
        state.subscription_devices(PRODUCT) for _, state in stored_versions(manager.backend, "acme")
    ]
    assert totals == [
        Counts(),
        Counts(),
        Counts({"core": 1}),
        Counts({"core": 3}),
        Counts({"core": 6}),
        Counts({"core": 10}),
        Counts({"core": 9}),  # SN-2 covers one of sys-2's two devices
    ]


def test_systems_page_lists_systems_by_id_with_their_units_at_any_version(
    manager: Manager, clock: ManualClock
) -> None:
    _org(manager, clock)
    with manager.backend.read() as tx:
        state = manager._core(tx, tx.head("acme"))  # type: ignore[arg-type]
        page, ids = systems_page(tx, state, limit=2)
        assert ids == ["sys-0", "sys-1"]
        page, ids = systems_page(tx, state, after="sys-1", limit=2)
        assert ids == ["sys-2", "sys-3"]
        assert page.systems["sys-2"].hardware == ("SN-2",)
        assert page.hardware["SN-2"].capacity == {"core": 1}
        assert systems_page(tx, state, after="sys-4")[1] == []
        past, ids = systems_page(tx, state, seq=3)
        assert ids == ["sys-0", "sys-1"]
        assert past.systems["sys-1"].devices == {"core": 1}


def test_changed_is_every_part_of_a_new_state_and_nothing_of_the_same(
    manager: Manager, clock: ManualClock
) -> None:
    _org(manager, clock)
    _, state = stored_versions(manager.backend, "acme")[-1]
    # no subscription started: no product ledger yet, but the device total of acs-pro
    assert [name for name, _ in changed(None, state)] == ["org", "org.devices:acs-pro"]
    assert changed(state, state) == []
