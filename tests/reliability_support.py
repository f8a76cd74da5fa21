"""Helpers shared by the fuzz, the storage-fault sweep and the soak (R13, R14).

- :func:`snapshot`: every row of every table the backend keeps (whatever
  :data:`axis_licensing.backends.TABLES` holds), to compare a store before and
  after a call.
- :data:`CATALOG` and :func:`seed`: a small catalog and a store with a bit of
  everything in it (organizations, systems, subscriptions, keys, hardware).
"""

from __future__ import annotations

from typing import Any

from axis_licensing import (
    EXAMPLE_CATALOG,
    Catalog,
    LicenseKind,
    LicenseType,
    Manager,
    ProductSpec,
    offline,
)
from axis_licensing.backends import TABLES, Backend

#: The example catalog and a five-year product.
CATALOG = Catalog(
    products=[
        *EXAMPLE_CATALOG.products,
        ProductSpec("vms-5", "VMS, five-year term", term_years=5, growth_rate="1/2"),
    ]
)

#: A later version of :data:`CATALOG`: one more product and one more license type (R15).
CATALOG_PLUS = Catalog(
    products=[
        ProductSpec(
            "acs-pro",
            "AXIS Camera Station Pro",
            grace_days=45,
            license_types=[
                LicenseType("core"),
                LicenseType("universal", covers=("core",)),
                LicenseType("door"),
                LicenseType("intercom"),
            ],
        ),
        ProductSpec("vms-5", "VMS, five-year term", term_years=5, growth_rate="1/2"),
        ProductSpec("body-cam", "Body cameras", license_types=[LicenseType("cam")]),
    ]
)

Snapshot = dict[str, list[dict[str, Any]]]


def snapshot(backend: Backend) -> Snapshot:
    """Every row of every table of ``backend``, in the backend's stable order."""
    return {table: list(backend.export_rows(table)) for table in TABLES}


def seed(m: Manager) -> dict[str, str]:
    """Fill ``m`` with two organizations and a bit of everything; returns spare keys.

    The returned mapping holds an unredeemed subscription key (``"sub"``), an
    unredeemed hardware key (``"hw"``) and an offline system description
    (``"file"``, latin-1 text of its bytes).
    """
    m.create_organization("o1", name="One", timezone="Europe/Paris", actor="admin")
    m.create_organization("o2", name="Two", actor="admin")
    m.register_system("o1", "acs-pro", "s1", devices={"core": 3, "universal": 1}, actor="admin")
    m.register_system("o1", "vms-5", "s2", devices={"core": 2}, actor="admin")
    m.register_system("o2", "acs-pro", "s9", actor="admin")
    m.start_subscription("o1", "acs-pro", actor="admin")
    m.start_subscription("o1", "vms-5", actor="admin")
    key = m.vendor.issue_key("acs-pro", quantities={"core": 10, "universal": 2, "door": 1})
    m.redeem_key("o1", key, actor="admin")
    m.allocate("o1", "acs-pro", {"core": 2}, actor="admin")
    m.vendor.ship_hardware("hw1", "acs-pro", {"core": 2})
    m.vendor.ship_hardware("hw2", "acs-pro", {})
    m.vendor.ship_hardware("hw3", "vms-5", {"core": 1})
    m.register_hardware("o1", "s1", "hw1", actor="admin")
    hw_key = m.vendor.issue_key("acs-pro", LicenseKind.HARDWARE, {"core": 3})
    m.redeem_key("o1", hw_key, actor="admin")
    spare = {
        "sub": m.vendor.issue_key("vms-5", quantities={"core": 4}),
        "hw": m.vendor.issue_key("acs-pro", LicenseKind.HARDWARE, {"door": 1}),
        "file": offline.describe_system(
            system_id="off1",
            product="acs-pro",
            devices={"core": 2},
            hardware=["hw2"],
            now=m.clock.now(),
        ).decode("latin-1"),
    }
    return spare
