"""Make ``tests/data/v1_store.sqlite`` and its expected answers, with the code of that time.

The store was written by axis-licensing's first storage format (one whole
organization state per command, SQLite schema version 1). It was made once by
running this script on that code, and is checked in together with
``v1_expected.json``: what that code answered about it. ``test_upgrade.py``
opens a copy with the current code and asserts the same answers (SPEC §5: a
store from the previous format opens and answers exactly as before).

Run from the repository root::

    PYTHONPATH=src python tests/data/make_v1_store.py
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from axis_licensing import LicenseKind, Manager, ManualClock, offline, to_jsonable
from axis_licensing._demo import DEMO_CATALOG, run_demo
from axis_licensing.errors import LicensingError

HERE = Path(__file__).parent
STORE = HERE / "v1_store.sqlite"
EXPECTED = HERE / "v1_expected.json"

#: The organizations of the store, with their systems and products.
ORGS = ("demo-org", "north", "south")
PRODUCTS = ("acs-pro", "acs-analytics")
SYSTEMS = {
    "demo-org": ("vms-1",),
    "north": ("n-vms-1", "n-vms-2", "n-vms-3", "n-offline"),
    "south": ("s-vms-1",),
}

#: The instants the expected answers are taken at (12:00 UTC), past ones included.
INSTANTS = tuple(
    datetime.fromisoformat(f"{day}T12:00:00+00:00")
    for day in [
        "2025-12-31",
        "2026-01-01",
        "2026-01-20",
        "2026-03-01",
        "2026-07-02",
        "2026-12-31",
        "2027-01-10",
        "2027-06-01",
        "2028-02-29",
        "2029-03-01",
        "2031-01-20",
        "2031-06-01",
        "2033-01-01",
    ]
)


def _at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, 0, tzinfo=UTC)


def build(url: str) -> None:
    """Write the store: the demo's five years, plus two organizations with hardware."""
    run_demo(url)
    clock = ManualClock(_at(2026, 2, 1))
    with Manager.open(url, catalog=DEMO_CATALOG, clock=clock) as m:
        v = m.vendor
        v.ship_hardware("HW-N1", "acs-pro", {"core": 4})
        v.ship_hardware("HW-N2", "acs-pro", {"door": 2, "universal": 1})
        v.ship_hardware("HW-OFF", "acs-pro", {"core": 1})
        v.ship_hardware("HW-S1", "acs-pro", {})
        m.create_organization("north", name="North Oy", timezone="Europe/Helsinki", actor="ann")
        m.create_organization("south", name="South Pty", timezone="Australia/Sydney", actor="bo")
        m.register_system("north", "acs-pro", "n-vms-1", devices={"core": 6}, actor="ann")
        m.register_system(
            "north", "acs-pro", "n-vms-2", devices={"core": 3, "door": 4}, actor="ann"
        )
        m.register_hardware("north", "n-vms-1", "HW-N1", actor="ann")
        m.start_subscription("north", "acs-pro", actor="ann")
        m.redeem_key(
            "north",
            v.issue_key("acs-pro", quantities={"core": 30, "door": 10, "universal": 4}),
            actor="ann",
        )
        m.redeem_key(
            "north",
            v.issue_key("acs-pro", kind=LicenseKind.HARDWARE, quantities={"core": 3}),
            actor="ann",
        )
        clock.set(_at(2026, 2, 20))
        m.allocate_to_hardware("north", "HW-N1", {"core": 2}, actor="ann")
        m.allocate_need("north", "acs-pro", through=1, actor="ann", request_id="north-confirm")
        clock.set(_at(2026, 8, 3))
        m.register_system("north", "acs-pro", "n-vms-3", devices={"universal": 2}, actor="cy")
        m.register_hardware("north", "n-vms-2", "HW-N2", actor="cy")
        data = offline.describe_system(
            system_id="n-offline",
            product="acs-pro",
            devices={"core": 2},
            hardware=("HW-OFF",),
            now=clock.now(),
        )
        m.upload_system_file("north", data, actor="cy")
        m.report_devices("north", "n-vms-1", {"core": 20}, actor="cy")  # growth exceeded
        clock.set(_at(2027, 1, 10))
        m.allocate("north", "acs-pro", {"core": 6, "universal": 2}, actor="ann")
        m.start_subscription("north", "acs-analytics", actor="ann")
        m.redeem_key("north", v.issue_key("acs-analytics", quantities={"core": 5}), actor="ann")
        m.allocate("north", "acs-analytics", {"core": 3}, actor="ann")
        clock.set(_at(2028, 2, 29))
        m.redeem_key("north", v.issue_key("acs-pro", quantities={"core": 7}), actor="ann")
        m.report_devices("north", "n-vms-3", {"universal": 1, "core": 1}, actor="cy")
        clock.set(_at(2026, 3, 1))
        m.register_system("south", "acs-pro", "s-vms-1", devices={"core": 2}, actor="bo")
        m.register_hardware("south", "s-vms-1", "HW-S1", actor="bo")
        clock.set(_at(2029, 3, 1))
        m.start_subscription("south", "acs-pro", actor="bo")
        m.redeem_key("south", v.issue_key("acs-pro", quantities={"core": 2}), actor="bo")
        m.allocate("south", "acs-pro", {"core": 2}, actor="bo")


def _answer(call: Callable[[], Any]) -> Any:
    try:
        return {"ok": to_jsonable(call())}
    except LicensingError as exc:
        return {"error": type(exc).__name__}


#: The clock of the answers: after every instant asked about.
ANSWERS_NOW = _at(2033, 6, 1)


def answers(url: str) -> dict[str, Any]:
    """What the store at ``url`` answers (see :func:`answers_of`)."""
    with Manager.open(url, catalog=DEMO_CATALOG, clock=ManualClock(ANSWERS_NOW)) as m:
        return answers_of(m)


def answers_of(m: Manager) -> dict[str, Any]:
    """What ``m`` answers: status, need, wallet and system status at every instant, and
    the history, per organization (its clock at :data:`ANSWERS_NOW`)."""
    out: dict[str, Any] = {}
    for org in ORGS:
        per: dict[str, Any] = {"history": _answer(functools.partial(m.history, org))}
        for at in INSTANTS:
            here: dict[str, Any] = {}
            for product in PRODUCTS:
                here[f"status:{product}"] = _answer(
                    functools.partial(m.status, org, product, at=at)
                )
                here[f"need:{product}"] = _answer(functools.partial(m.need, org, product, at=at))
                here[f"wallet:{product}"] = _answer(
                    functools.partial(m.wallet, org, product, at=at)
                )
            for system in SYSTEMS[org]:
                here[f"system:{system}"] = _answer(
                    functools.partial(m.system_status, org, system, at=at)
                )
            per[at.isoformat()] = here
        per["now"] = {f"status:{p}": _answer(functools.partial(m.status, org, p)) for p in PRODUCTS}
        out[org] = per
    return out


def main() -> None:
    """Write the store and the expected answers next to this script."""
    STORE.unlink(missing_ok=True)
    url = f"sqlite:///{STORE}"
    build(url)
    EXPECTED.write_text(json.dumps(answers(url), indent=1, sort_keys=True) + "\n")
    for suffix in ("-wal", "-shm"):
        Path(f"{STORE}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
