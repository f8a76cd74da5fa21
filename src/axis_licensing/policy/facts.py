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
from typing import Any, ClassVar

import attrs

from axis_licensing._counts import Counts
from axis_licensing._enums import Action, AlertKind, LicenseKind
from axis_licensing.members import facts as _members
from axis_licensing.members.facts import with_action
from axis_licensing.model import LotFields, Period

__all__ = [
    "FACT_TYPES",
    "AlertCleared",
    "AlertRaised",
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
    "WebhookAdded",
    "WebhookChanged",
    "WebhookRedelivered",
    "WebhookRemoved",
    "WebhookSecretRotated",
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
@with_action(Action.ORGANIZATION_CREATED)
class OrganizationCreated(FactData):
    """``organization_created`` (R1): the organization exists from now on."""

    #: Its display name.
    name: str
    #: The IANA zone whose calendar days the rules count.
    timezone: str


@attrs.frozen
@with_action(Action.SYSTEM_REGISTERED)
class SystemRegistered(FactData):
    """``system_registered`` (R1, R4): a system joined, with its devices."""

    #: Its devices per license type.
    devices: Counts


@attrs.frozen
@with_action(Action.DEVICES_REPORTED)
class DevicesReported(FactData):
    """``devices_reported`` (R4): a system's device counts were replaced."""

    #: The new devices per license type.
    devices: Counts
    #: The devices before.
    previous: Counts


@attrs.frozen
@with_action(Action.SUBSCRIPTION_STARTED)
class SubscriptionStarted(FactData):
    """``subscription_started`` (R2, R3): a product's subscription started."""

    #: The organization's anchor (its first subscription's start day).
    anchor: date
    #: The period the subscription started in.
    period: Period
    #: The day the trial ends (exclusive).
    trial_ends_on: date


@attrs.frozen
@with_action(Action.KEY_REDEEMED)
class KeyRedeemed(FactData):
    """``key_redeemed`` (R6, R10): a key's licenses entered the wallet."""

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
@with_action(Action.LICENSES_ALLOCATED)
class LicensesAllocated(FactData):
    """``licenses_allocated`` (R7): licenses moved from the wallet into periods."""

    #: What went into each period.
    periods: list[PeriodPart]
    #: The total per type.
    quantities: Counts
    #: The lots they were taken from, earliest expiry first.
    lots: list[LotUse]


@attrs.frozen
@with_action(Action.COMPENSATION_CREDITED)
class CompensationCredited(FactData):
    """``compensation_credited`` (R8): whole licenses credited back for an overlap."""

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
@with_action(Action.LICENSES_EXPIRED)
class LicensesExpired(FactData, LotFields):
    """``licenses_expired`` (R6): a lot left the wallet unused at its expiry."""


@attrs.frozen
@with_action(Action.HARDWARE_REGISTERED)
class HardwareRegistered(FactData):
    """``hardware_registered`` (R9): a shipped unit was attached to a system."""

    #: The unit's serial.
    serial: str
    #: Its preloaded hardware licenses per type.
    preloaded: Counts


@attrs.frozen
@with_action(Action.EXTENSION_ALLOCATED)
class ExtensionAllocated(FactData):
    """``extension_allocated`` (R9): hardware licenses moved onto a unit for its lifetime."""

    #: The unit's serial.
    serial: str
    #: Licenses per type.
    quantities: Counts
    #: The lots they were taken from.
    lots: list[LotUse]


@attrs.frozen
@with_action(Action.SYSTEM_FILE_UPLOADED)
class SystemFileUploaded(FactData):
    """``system_file_uploaded`` (R12): an offline system was registered or updated."""

    #: Its devices per license type.
    devices: Counts
    #: The serials of its hardware, sorted.
    hardware: list[str]
    #: Whether the system was new.
    new_system: bool


@attrs.frozen
@with_action(Action.GROWTH_EXCEEDED)
class GrowthExceeded(FactData):
    """``growth_exceeded`` (R5): devices grew past the allowance of a locked period."""

    #: The locked period.
    period: Period
    #: The product's subscription devices then.
    devices: Counts
    #: The licenses allocated to the period.
    allocated: Counts
    #: The licenses still required now.
    required_now: Counts


# -- events out (SPEC §7) ---------------------------------------------------------------------


@attrs.frozen
@with_action(Action.ALERT_RAISED)
class AlertRaised(FactData):
    """``alert_raised`` (SPEC §7): a sweep found an alert that was not recorded yet.

    Its event's type is ``alert.raised``. The fields are the alert's
    (:class:`~axis_licensing.Alert`), so a receiver needs no other call.
    """

    #: What the alert warns about.
    kind: AlertKind
    #: The product it is about, if any.
    product: str | None
    #: The system it is about, if any.
    system_id: str | None
    #: The date it is about (a window end, a renewal, an expiry); None for a state.
    on: date | None
    #: The alert's own details (days left, shortfall, …), JSON-ready.
    details: Mapping[str, Any]


@attrs.frozen
@with_action(Action.ALERT_CLEARED)
class AlertCleared(FactData):
    """``alert_cleared`` (SPEC §7): an alert recorded as raised is gone.

    Its event's type is ``alert.cleared``. The fields are the alert's key.
    """

    #: What the alert warned about.
    kind: AlertKind
    #: The product it was about, if any.
    product: str | None
    #: The system it was about, if any.
    system_id: str | None
    #: The date it was about; None for a state.
    on: date | None


@attrs.frozen
class WebhookFields(FactData):
    """An organization's webhook endpoint as the history records it: never its secret."""

    #: The endpoint.
    endpoint_id: str
    #: Where events are POSTed.
    url: str
    #: The event types it receives, sorted; None is every type.
    types: list[str] | None
    #: Whether deliveries to it go out.
    enabled: bool
    #: Plain http allowed (loopback testing).
    allow_http: bool
    #: Private, loopback and link-local addresses allowed.
    allow_private: bool


@attrs.frozen
@with_action(Action.WEBHOOK_ADDED)
class WebhookAdded(WebhookFields):
    """``webhook_added`` (SPEC §7): an endpoint was added (its secret only in the answer)."""


@attrs.frozen
@with_action(Action.WEBHOOK_CHANGED)
class WebhookChanged(WebhookFields):
    """``webhook_changed`` (SPEC §7): an endpoint's URL, types or enabled flag changed."""


@attrs.frozen
@with_action(Action.WEBHOOK_SECRET_ROTATED)
class WebhookSecretRotated(WebhookFields):
    """``webhook_secret_rotated`` (SPEC §7): an endpoint got a new secret; the old one
    still signs for a day (both signatures are sent)."""


@attrs.frozen
@with_action(Action.WEBHOOK_REMOVED)
class WebhookRemoved(WebhookFields):
    """``webhook_removed`` (SPEC §7): an endpoint and its undelivered deliveries were removed."""


@attrs.frozen
@with_action(Action.WEBHOOK_REDELIVERED)
class WebhookRedelivered(FactData):
    """``webhook_redelivered`` (SPEC §7): a delivery was made due again by hand."""

    #: The delivery.
    delivery_id: str
    #: Its event.
    event_id: str
    #: Its endpoint.
    endpoint_id: str


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
        AlertRaised,
        AlertCleared,
        WebhookAdded,
        WebhookChanged,
        WebhookSecretRotated,
        WebhookRemoved,
        WebhookRedelivered,
        _members.MemberInvited,
        _members.MemberJoined,
        _members.MemberRoleChanged,
        _members.MemberRemoved,
        _members.TokenCreated,
        _members.TokenRevoked,
    )
}
assert set(FACT_TYPES) == set(Action)
