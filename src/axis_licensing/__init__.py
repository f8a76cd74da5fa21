"""axis-licensing: subscription and hardware-bound license management (SPEC §3).

Open a :class:`Manager` on a backend URL with a :class:`Catalog`; everything
else is reached from it. The pure rules live in :mod:`axis_licensing.policy`,
the offline file formats in :mod:`axis_licensing.offline`, and the test
helpers (strategies, a manual clock, the backend conformance suite) in
:mod:`axis_licensing.testing`.
"""

from __future__ import annotations

from axis_licensing import errors, offline
from axis_licensing._convert import dumps as to_json
from axis_licensing._convert import to_jsonable
from axis_licensing._counts import Counts
from axis_licensing._time import Clock, ManualClock, SystemClock
from axis_licensing.catalog import EXAMPLE_CATALOG, Catalog, LicenseType, ProductSpec
from axis_licensing.errors import (
    AlreadyExists,
    AlreadyRegistered,
    AlreadyStarted,
    ConcurrencyConflict,
    IdempotencyConflict,
    InsufficientLicenses,
    InvalidInput,
    KeyAlreadyRedeemed,
    KeyTypo,
    LicenseFileError,
    LicenseFileExpired,
    LicenseFileNotYetValid,
    LicensingError,
    MalformedSystemFile,
    NotFound,
    OutsideAllocationWindow,
    PermissionDenied,
    StorageError,
    SubscriptionNotStarted,
    TamperedLicenseFile,
    UnknownHardware,
    UnknownKey,
    UnknownOrganization,
    UnknownProduct,
    UnknownSystem,
    WrongSystem,
)
from axis_licensing.hookspecs import hookimpl, hookspec
from axis_licensing.manager import Manager, Vendor
from axis_licensing.model import (
    Action,
    Activity,
    Allocation,
    Entitlement,
    LicenseKind,
    Lot,
    NeedReport,
    Period,
    PeriodAllocation,
    PeriodNeed,
    ProductState,
    ProductStatus,
    Redemption,
    SystemStatus,
    Wallet,
)

__version__ = "0.1.0"

__all__ = [
    "EXAMPLE_CATALOG",
    "Action",
    "Activity",
    "Allocation",
    "AlreadyExists",
    "AlreadyRegistered",
    "AlreadyStarted",
    "Catalog",
    "Clock",
    "ConcurrencyConflict",
    "Counts",
    "Entitlement",
    "IdempotencyConflict",
    "InsufficientLicenses",
    "InvalidInput",
    "KeyAlreadyRedeemed",
    "KeyTypo",
    "LicenseFileError",
    "LicenseFileExpired",
    "LicenseFileNotYetValid",
    "LicenseKind",
    "LicenseType",
    "LicensingError",
    "Lot",
    "MalformedSystemFile",
    "Manager",
    "ManualClock",
    "NeedReport",
    "NotFound",
    "OutsideAllocationWindow",
    "Period",
    "PeriodAllocation",
    "PeriodNeed",
    "PermissionDenied",
    "ProductSpec",
    "ProductState",
    "ProductStatus",
    "Redemption",
    "StorageError",
    "SubscriptionNotStarted",
    "SystemClock",
    "SystemStatus",
    "TamperedLicenseFile",
    "UnknownHardware",
    "UnknownKey",
    "UnknownOrganization",
    "UnknownProduct",
    "UnknownSystem",
    "Vendor",
    "Wallet",
    "WrongSystem",
    "__version__",
    "errors",
    "hookimpl",
    "hookspec",
    "offline",
    "to_json",
    "to_jsonable",
]
