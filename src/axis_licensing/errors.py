"""The exception tree of axis-licensing (SPEC §3).

Every error the library raises on purpose is a :class:`LicensingError`.
Leaves also subclass the matching builtin, so ``except ValueError`` and
``except LookupError`` keep working for callers who do not know this tree.

No message names another organization (SPEC R1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = [
    "AlreadyExists",
    "AlreadyRegistered",
    "AlreadyStarted",
    "CatalogError",
    "CatalogMismatch",
    "CatalogRequired",
    "ConcurrencyConflict",
    "IdempotencyConflict",
    "IncompatibleCatalog",
    "InsufficientLicenses",
    "InvalidInput",
    "KeyAlreadyRedeemed",
    "KeyTypo",
    "LicenseFileError",
    "LicenseFileExpired",
    "LicenseFileNotYetValid",
    "LicensingError",
    "MalformedSystemFile",
    "NotFound",
    "OutsideAllocationWindow",
    "PermissionDenied",
    "StorageError",
    "StoreNotFound",
    "SubscriptionNotStarted",
    "TamperedLicenseFile",
    "UnknownHardware",
    "UnknownKey",
    "UnknownOrganization",
    "UnknownProduct",
    "UnknownSystem",
    "WrongSystem",
]


class LicensingError(Exception):
    """The base of every error raised by axis-licensing."""


class InvalidInput(LicensingError, ValueError):
    """An argument failed its check (SPEC R14); the message says which and why."""


class KeyTypo(InvalidInput):
    """A license key failed its check symbols: it looks mistyped (SPEC R10)."""


class MalformedSystemFile(InvalidInput):
    """A system description file is not well formed (SPEC R12)."""


class NotFound(LicensingError, LookupError):
    """Something named by the caller does not exist (in the caller's organization)."""


class UnknownOrganization(NotFound):
    """No organization has this id."""


class UnknownProduct(NotFound):
    """The catalog has no product with this code."""


class UnknownSystem(NotFound):
    """The organization has no system with this id."""


class UnknownHardware(NotFound):
    """The serial was never shipped, or it is not registered to this organization."""


class UnknownKey(NotFound):
    """A well-formed license key that was never issued (SPEC R10)."""


class StoreNotFound(NotFound):
    """``Manager.open(..., create=False)`` found no store at the URL (SPEC §3)."""


class KeyAlreadyRedeemed(LicensingError):
    """The license key was already redeemed, in this or another organization (SPEC R1, R10)."""


class AlreadyRegistered(LicensingError):
    """A system id or hardware serial is already registered (SPEC R1, R9)."""


class AlreadyExists(LicensingError):
    """An organization with this id already exists."""


class AlreadyStarted(LicensingError):
    """The product's subscription was already started (SPEC R2)."""


class SubscriptionNotStarted(LicensingError):
    """The command needs a started subscription (SPEC R6, R7)."""


class InsufficientLicenses(LicensingError):
    """The wallet lacks licenses for the request (SPEC R7).

    Attributes:
        shortfall: the missing count per license type.
    """

    def __init__(self, message: str, shortfall: Mapping[str, int]) -> None:
        super().__init__(message)
        self.shortfall: dict[str, int] = {t: n for t, n in shortfall.items() if n}


class OutsideAllocationWindow(LicensingError):
    """The period is before the current one or starts more than five years ahead (SPEC R7)."""


class PermissionDenied(LicensingError):
    """An ``axis_licensing_authorize`` hook refused the command (SPEC §4)."""


class IdempotencyConflict(LicensingError):
    """A ``request_id`` was reused with different arguments (SPEC R13)."""


class ConcurrencyConflict(LicensingError):
    """The command kept conflicting with concurrent commands and was given up (SPEC R13)."""


class StorageError(LicensingError):
    """The storage backend failed; the original error is the ``__cause__``."""


class LicenseFileError(LicensingError):
    """A license file cannot be trusted or used (SPEC R12)."""


class TamperedLicenseFile(LicenseFileError):
    """A bad signature, an unknown key id, or malformed content."""


class WrongSystem(LicenseFileError):
    """The license file was issued for another system."""


class LicenseFileExpired(LicenseFileError):
    """The local date of ``now`` is after the file's ``valid_until``."""


class LicenseFileNotYetValid(LicenseFileError):
    """``now`` is more than five minutes before the file's ``issued_at``: a clock set back?"""


class CatalogError(LicensingError):
    """The store's catalog and the one given do not fit together (SPEC R15)."""


class CatalogRequired(CatalogError):
    """``Manager.open`` without a catalog on a store that has none yet (SPEC R15)."""


class CatalogMismatch(CatalogError):
    """The catalog given at open differs from the store's latest version (SPEC R15).

    Attributes:
        differences: every difference, one text each.
    """

    def __init__(self, message: str, differences: Sequence[str]) -> None:
        super().__init__(message)
        self.differences: list[str] = list(differences)


class IncompatibleCatalog(CatalogError, InvalidInput):
    """A published catalog would change what the store's catalog means (SPEC R15).

    Attributes:
        reasons: every reason it was refused, one text each.
    """

    def __init__(self, message: str, reasons: Sequence[str]) -> None:
        super().__init__(message)
        self.reasons: list[str] = list(reasons)
