"""What happened, typed: one frozen class per activity action (R11, SPEC §7).

The policy records each fact as a :class:`~axis_licensing.policy.state.Fact`
(when, who, which product and system) carrying one of these values as its
``data``. They are plain attrs classes with annotated fields: dates are dates,
counts are :class:`~axis_licensing.Counts`, shares are fractions. They reach
JSON only through the one converter (:mod:`axis_licensing._convert`), which
gives exactly the ``details`` that the history has always stored, field for
field, so stores written by earlier releases read unchanged.

These classes are also the ``data`` of the webhook events (SPEC §7): a
receiver gets the same fields as the activity's ``details``.
:data:`FACT_TYPES` maps each :class:`~axis_licensing.Action` to its class.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from fractions import Fraction
from typing import ClassVar

import attrs

from axis_licensing._counts import Counts
from axis_licensing._enums import Action, LicenseKind
from axis_licensing.members import facts as _members
from axis_licensing.model import Period

__all__ = [
    "FACT_TYPES",
    "CompensationCredited",
    "DevicesReported",
    "ExtensionAllocated",
    "FactData",
    "GrowthExceeded",
    "HardwareRegistered",
    "KeyRedeemed",
    "LicensesAllocated",
    "LicensesExpired",
    "LotUse",
    "OrganizationCreated",
    "PeriodPart",
    "SubscriptionStarted",
    "SystemFileUploaded",
    "SystemRegistered",
]


@attrs.frozen
class LotUse:
    """Licenses taken from one wallet lot (R6): the lot, its license type and how many."""

    lot_id: int
    license_type: str
    quantity: int


@attrs.frozen
class PeriodPart:
    """The licenses an allocation put into one period (R7)."""

    #: The period's offset from the current one when allocated (0 is current).
    offset: int
    #: The period.
    period: Period
    #: Licenses per type put into it.
    quantities: Counts


@attrs.frozen
class FactData:
    """The typed details of an activity; ``ACTION`` is the activity's action."""

    ACTION: ClassVar[Action]


@attrs.frozen
class OrganizationCreated(FactData):
    """``organization_created`` (R1): the organization exists from now on."""

    ACTION: ClassVar[Action] = Action.ORGANIZATION_CREATED
    #: Its display name.
    name: str
    #: The IANA zone whose calendar days the rules count.
    timezone: str


@attrs.frozen
class SystemRegistered(FactData):
    """``system_registered`` (R1, R4): a system joined, with its devices."""

    ACTION: ClassVar[Action] = Action.SYSTEM_REGISTERED
    #: Its devices per license type.
    devices: Counts


@attrs.frozen
class DevicesReported(FactData):
    """``devices_reported`` (R4): a system's device counts were replaced."""

    ACTION: ClassVar[Action] = Action.DEVICES_REPORTED
    #: The new devices per license type.
    devices: Counts
    #: The devices before.
    previous: Counts


@attrs.frozen
class SubscriptionStarted(FactData):
    """``subscription_started`` (R2, R3): a product's subscription started."""

    ACTION: ClassVar[Action] = Action.SUBSCRIPTION_STARTED
    #: The organization's anchor (its first subscription's start day).
    anchor: date
    #: The period the subscription started in.
    period: Period
    #: The day the trial ends (exclusive).
    trial_ends_on: date


@attrs.frozen
class KeyRedeemed(FactData):
    """``key_redeemed`` (R6, R10): a key's licenses entered the wallet."""

    ACTION: ClassVar[Action] = Action.KEY_REDEEMED
    #: The key's last characters, as ``"…WXYZ"``; never the key.
    key: str
    #: Subscription or hardware licenses.
    kind: LicenseKind
    #: Licenses per type.
    quantities: Counts
    #: The ids of the lots added, one per type.
    lots: list[int]
    #: The day those lots expire.
    expires_on: date


@attrs.frozen
class LicensesAllocated(FactData):
    """``licenses_allocated`` (R7): licenses moved from the wallet into periods."""

    ACTION: ClassVar[Action] = Action.LICENSES_ALLOCATED
    #: What went into each period.
    periods: list[PeriodPart]
    #: The total per type.
    quantities: Counts
    #: The lots they were taken from, earliest expiry first.
    lots: list[LotUse]


@attrs.frozen
class CompensationCredited(FactData):
    """``compensation_credited`` (R8): whole licenses credited back for an overlap."""

    ACTION: ClassVar[Action] = Action.COMPENSATION_CREDITED
    #: Whole licenses credited back per type.
    quantities: Counts
    #: The overlap's share per type, exact.
    shares: Mapping[str, Fraction]
    #: The fractional credit left per type afterwards, exact.
    credit: Mapping[str, Fraction]
    #: The period allocated to.
    period: Period
    #: The ids of the lots credited.
    lots: list[int]
    #: Who allocated.
    allocated_by: str


@attrs.frozen
class LicensesExpired(FactData):
    """``licenses_expired`` (R6): a lot left the wallet unused at its expiry."""

    ACTION: ClassVar[Action] = Action.LICENSES_EXPIRED
    #: The lot.
    lot_id: int
    #: Subscription or hardware licenses.
    kind: LicenseKind
    #: The lot's license type.
    license_type: str
    #: How many expired.
    quantity: int
    #: The day the lot was acquired.
    acquired_on: date
    #: The day it expired.
    expires_on: date


@attrs.frozen
class HardwareRegistered(FactData):
    """``hardware_registered`` (R9): a shipped unit was attached to a system."""

    ACTION: ClassVar[Action] = Action.HARDWARE_REGISTERED
    #: The unit's serial.
    serial: str
    #: Its preloaded hardware licenses per type.
    preloaded: Counts


@attrs.frozen
class ExtensionAllocated(FactData):
    """``extension_allocated`` (R9): hardware licenses moved onto a unit for its lifetime."""

    ACTION: ClassVar[Action] = Action.EXTENSION_ALLOCATED
    #: The unit's serial.
    serial: str
    #: Licenses per type.
    quantities: Counts
    #: The lots they were taken from.
    lots: list[LotUse]


@attrs.frozen
class SystemFileUploaded(FactData):
    """``system_file_uploaded`` (R12): an offline system was registered or updated."""

    ACTION: ClassVar[Action] = Action.SYSTEM_FILE_UPLOADED
    #: Its devices per license type.
    devices: Counts
    #: The serials of its hardware, sorted.
    hardware: list[str]
    #: Whether the system was new.
    new_system: bool


@attrs.frozen
class GrowthExceeded(FactData):
    """``growth_exceeded`` (R5): devices grew past the allowance of a locked period."""

    ACTION: ClassVar[Action] = Action.GROWTH_EXCEEDED
    #: The locked period.
    period: Period
    #: The product's subscription devices then.
    devices: Counts
    #: The licenses allocated to the period.
    allocated: Counts
    #: The licenses still required now.
    required_now: Counts


#: Each action's class (the members' facts of SPEC §8 are :mod:`axis_licensing.members.facts`).
FACT_TYPES: Mapping[Action, type[FactData] | type[_members.MemberFact]] = {
    Action(cls.ACTION): cls
    for cls in (
        OrganizationCreated,
        SystemRegistered,
        DevicesReported,
        SubscriptionStarted,
        KeyRedeemed,
        LicensesAllocated,
        CompensationCredited,
        LicensesExpired,
        HardwareRegistered,
        ExtensionAllocated,
        SystemFileUploaded,
        GrowthExceeded,
        _members.MemberInvited,
        _members.MemberJoined,
        _members.MemberRoleChanged,
        _members.MemberRemoved,
        _members.TokenCreated,
        _members.TokenRevoked,
    )
}
assert set(FACT_TYPES) == set(Action)
