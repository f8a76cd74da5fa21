"""axis-licensing: subscription and hardware-bound license management (SPEC §3).

Open a :class:`Manager` on a backend URL with a :class:`Catalog`; everything
else is reached from it. The pure rules live in :mod:`axis_licensing.policy`,
the offline file formats in :mod:`axis_licensing.offline`, and the test
helpers (strategies, a manual clock, the backend conformance suite) in
:mod:`axis_licensing.testing`.

Importing the package is light: the errors, counts, clocks and enumerations
load at once (standard library only), everything else on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from axis_licensing import _lazy, errors
from axis_licensing._counts import Counts
from axis_licensing._entitlement import Entitlement
from axis_licensing._enums import Action, AlertKind, LicenseKind, ProductState
from axis_licensing._time import Clock, ManualClock, SystemClock
from axis_licensing.errors import *  # noqa: F403 (the exception tree, SPEC §3)

if TYPE_CHECKING:
    from axis_licensing import offline
    from axis_licensing._convert import dumps as to_json
    from axis_licensing._convert import to_jsonable
    from axis_licensing.catalog import (
        EXAMPLE_CATALOG,
        Catalog,
        CatalogVersion,
        LicenseType,
        ProductSpec,
    )
    from axis_licensing.events.model import (
        Delivery,
        DeliveryReport,
        DeliveryState,
        Event,
        SweepReport,
        WebhookEndpoint,
    )
    from axis_licensing.hookspecs import hookimpl, hookspec
    from axis_licensing.manager import Manager
    from axis_licensing.members import Account, Invitation, IssuedToken, Membership, Role, TokenInfo
    from axis_licensing.model import (
        Activity,
        Alert,
        Allocation,
        Lot,
        NeedReport,
        Organization,
        Period,
        PeriodAllocation,
        PeriodNeed,
        ProductStatus,
        Redemption,
        SystemStatus,
        Wallet,
    )
    from axis_licensing.vendor import Vendor

#: The names loaded on first use (PEP 562): ``import axis_licensing.offline`` runs this
#: module first, and a VMS that only verifies license files must not need pendulum, attrs,
#: cattrs, orjson or pluggy (R12). Each name maps to its module and its name there.
_LAZY: dict[str, tuple[str, str]] = {
    "offline": ("axis_licensing.offline", ""),
    "to_json": ("axis_licensing._convert", "dumps"),
    "to_jsonable": ("axis_licensing._convert", "to_jsonable"),
    "EXAMPLE_CATALOG": ("axis_licensing.catalog", "EXAMPLE_CATALOG"),
    "Catalog": ("axis_licensing.catalog", "Catalog"),
    "CatalogVersion": ("axis_licensing.catalog", "CatalogVersion"),
    "LicenseType": ("axis_licensing.catalog", "LicenseType"),
    "ProductSpec": ("axis_licensing.catalog", "ProductSpec"),
    "hookimpl": ("axis_licensing.hookspecs", "hookimpl"),
    "hookspec": ("axis_licensing.hookspecs", "hookspec"),
    "Manager": ("axis_licensing.manager", "Manager"),
    "Vendor": ("axis_licensing.vendor", "Vendor"),
    "Activity": ("axis_licensing.model", "Activity"),
    "Alert": ("axis_licensing.model", "Alert"),
    "Allocation": ("axis_licensing.model", "Allocation"),
    "Lot": ("axis_licensing.model", "Lot"),
    "NeedReport": ("axis_licensing.model", "NeedReport"),
    "Organization": ("axis_licensing.model", "Organization"),
    "Period": ("axis_licensing.model", "Period"),
    "PeriodAllocation": ("axis_licensing.model", "PeriodAllocation"),
    "PeriodNeed": ("axis_licensing.model", "PeriodNeed"),
    "ProductStatus": ("axis_licensing.model", "ProductStatus"),
    "Redemption": ("axis_licensing.model", "Redemption"),
    "SystemStatus": ("axis_licensing.model", "SystemStatus"),
    "Wallet": ("axis_licensing.model", "Wallet"),
    # events out (SPEC §7)
    "Delivery": ("axis_licensing.events.model", "Delivery"),
    "DeliveryReport": ("axis_licensing.events.model", "DeliveryReport"),
    "DeliveryState": ("axis_licensing.events.model", "DeliveryState"),
    "Event": ("axis_licensing.events.model", "Event"),
    "SweepReport": ("axis_licensing.events.model", "SweepReport"),
    "WebhookEndpoint": ("axis_licensing.events.model", "WebhookEndpoint"),
    # -- members and roles (SPEC §8)
    "Account": ("axis_licensing.members.model", "Account"),
    "Invitation": ("axis_licensing.members.model", "Invitation"),
    "IssuedToken": ("axis_licensing.members.model", "IssuedToken"),
    "Membership": ("axis_licensing.members.model", "Membership"),
    "Role": ("axis_licensing.members.model", "Role"),
    "TokenInfo": ("axis_licensing.members.model", "TokenInfo"),
}


def __getattr__(name: str) -> object:
    """Import a public name on first use (PEP 562), then keep it as a module global.

    Raises:
        AttributeError: ``name`` is not a public name of the package.
    """
    return _lazy.load("axis_licensing", _LAZY, globals(), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [
    "EXAMPLE_CATALOG",
    "Account",
    "Action",
    "Activity",
    "Alert",
    "AlertKind",
    "Allocation",
    "Catalog",
    "CatalogVersion",
    "Clock",
    "Counts",
    "Delivery",
    "DeliveryReport",
    "DeliveryState",
    "Entitlement",
    "Event",
    "Invitation",
    "IssuedToken",
    "LicenseKind",
    "LicenseType",
    "Lot",
    "Manager",
    "ManualClock",
    "Membership",
    "NeedReport",
    "Organization",
    "Period",
    "PeriodAllocation",
    "PeriodNeed",
    "ProductSpec",
    "ProductState",
    "ProductStatus",
    "Redemption",
    "Role",
    "SweepReport",
    "SystemClock",
    "SystemStatus",
    "TokenInfo",
    "Vendor",
    "Wallet",
    "WebhookEndpoint",
    "__version__",
    "errors",
    "hookimpl",
    "hookspec",
    "offline",
    "to_json",
    "to_jsonable",
]
__all__ += errors.__all__  # the exception tree
