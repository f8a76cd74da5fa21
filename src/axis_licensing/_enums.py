"""The enumerations of the public API (SPEC §3).

Each is an :class:`enum.StrEnum` whose values are the members' lower-case
names, so members compare and print the same in Python, JSON and templates
(``ProductState.GRACE == "grace"``).

This module imports the standard library only: the offline verifier that a
VMS carries uses :class:`ProductState` (R12).
"""

from __future__ import annotations

import enum

from axis_licensing.errors import InvalidInput

__all__ = ["Action", "AlertKind", "LicenseKind", "ProductState"]


class LicenseKind(enum.StrEnum):
    """Subscription licenses are valid for periods; hardware licenses for a unit's lifetime.

    Members compare equal to their lower-case values (``LicenseKind.HARDWARE == "hardware"``).
    """

    SUBSCRIPTION = "subscription"
    HARDWARE = "hardware"

    @classmethod
    def of(cls, value: object) -> LicenseKind:
        """``value`` as a LicenseKind: a member, or its value such as ``"hardware"``.

        Raises:
            InvalidInput: anything else.
        """
        if isinstance(value, cls):
            return value
        try:
            if isinstance(value, str):
                return cls(value)
        except ValueError:
            pass
        raise InvalidInput(
            f"kind must be one of {', '.join(k.value for k in cls)}, got {value!r}",
            param="kind",
        )


class ProductState(enum.StrEnum):
    """A product's license state at a date (R5).

    Members compare equal to their lower-case values (``ProductState.GRACE == "grace"``).
    """

    NOT_STARTED = "not_started"
    TRIAL = "trial"
    GRACE = "grace"
    LICENSED = "licensed"
    UNLICENSED = "unlicensed"


class Action(enum.StrEnum):
    """The actions of the activity history (R11). Members compare equal to their strings."""

    ORGANIZATION_CREATED = "organization_created"
    SYSTEM_REGISTERED = "system_registered"
    DEVICES_REPORTED = "devices_reported"
    SUBSCRIPTION_STARTED = "subscription_started"
    KEY_REDEEMED = "key_redeemed"
    LICENSES_ALLOCATED = "licenses_allocated"
    COMPENSATION_CREDITED = "compensation_credited"
    LICENSES_EXPIRED = "licenses_expired"
    HARDWARE_REGISTERED = "hardware_registered"
    EXTENSION_ALLOCATED = "extension_allocated"
    SYSTEM_FILE_UPLOADED = "system_file_uploaded"
    GROWTH_EXCEEDED = "growth_exceeded"
    # -- events out (SPEC §7): alerts recorded by a sweep, and the webhook commands
    ALERT_RAISED = "alert_raised"
    ALERT_CLEARED = "alert_cleared"
    WEBHOOK_ADDED = "webhook_added"
    WEBHOOK_CHANGED = "webhook_changed"
    WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated"  # noqa: S105 - an action, no secret
    WEBHOOK_REMOVED = "webhook_removed"
    WEBHOOK_REDELIVERED = "webhook_redelivered"
    # -- members and tokens (SPEC §8): recorded in the organization's history, never a secret
    MEMBER_INVITED = "member_invited"
    MEMBER_JOINED = "member_joined"
    MEMBER_ROLE_CHANGED = "member_role_changed"
    MEMBER_REMOVED = "member_removed"
    TOKEN_CREATED = "token_created"  # noqa: S105 - an action, not a secret
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 - an action, not a secret


class AlertKind(enum.StrEnum):
    """What an :class:`Alert` warns about (SPEC §3, ``Manager.alerts``)."""

    #: The trial window ends within the days asked (R3).
    TRIAL_ENDING = "trial_ending"
    #: The grace window ends within the days asked (R3).
    GRACE_ENDING = "grace_ending"
    #: The product is unlicensed (R5).
    UNLICENSED = "unlicensed"
    #: The next period starts within the days asked and is not covered (R5).
    RENEWAL_UNCOVERED = "renewal_uncovered"
    #: Lots expire within the days asked (R6).
    LOTS_EXPIRING = "lots_expiring"
    #: Devices grew beyond the allowance of a locked period (R5).
    GROWTH_EXCEEDED = "growth_exceeded"
    #: A system whose devices are not all licensed (R9).
    SYSTEM_UNLICENSED = "system_unlicensed"
