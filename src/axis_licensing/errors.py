"""The exception tree of axis-licensing (SPEC §3, R14).

Every error the library raises on purpose is a :class:`LicensingError`.
Leaves also subclass the matching builtin, so ``except ValueError`` and
``except LookupError`` keep working for callers who do not know this tree.

Every class has a stable, snake_case :attr:`~LicensingError.code` (one per
class; hosts map codes to their own texts, messages may change but codes may
not) and every error carries :attr:`~LicensingError.details`, a JSON-ready
mapping such as the offending ``param`` or the ``shortfall`` (R14).
:func:`axis_licensing.to_jsonable` turns an error into
``{"code", "message", "details"}``.

No message and no detail names another organization or anything it holds
beyond what the caller passed in (SPEC R1).

This module imports the standard library only: the offline verifier that a
VMS carries uses it (R12).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from fractions import Fraction
from typing import Any, ClassVar

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
    "InvitationInvalid",
    "KeyAlreadyRedeemed",
    "KeyTypo",
    "LastOwner",
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
    "UnknownAccount",
    "UnknownHardware",
    "UnknownKey",
    "UnknownOrganization",
    "UnknownProduct",
    "UnknownSystem",
    "UnknownWebhook",
    "WrongSystem",
]


def _jsonable(value: object) -> Any:
    """``value`` as JSON-ready data: the types a detail may hold, and nothing else."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, str | Fraction):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, Sequence | frozenset | set):
        items = [_jsonable(v) for v in value]
        return items if isinstance(value, Sequence) else sorted(items, key=repr)
    raise TypeError(f"an error detail must be JSON-ready data, got {type(value).__name__}")


def _restore(cls: type[LicensingError], message: str, details: dict[str, Any]) -> LicensingError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.details = details
    return error


class LicensingError(Exception):
    """The base of every error raised by axis-licensing.

    Attributes:
        code: the class's stable snake_case code (R14); a class attribute.
        details: JSON-ready facts about this error, such as ``param`` (R14).
    """

    code: ClassVar[str] = "licensing_error"

    def __init__(self, message: str = "", *, details: Mapping[str, object] | None = None) -> None:
        """Make the error.

        Args:
            message: what went wrong, for people.
            details: facts for programs; values are made JSON-ready
                (dates as ISO text, fractions as ``"n/d"``).

        Raises:
            TypeError: a detail is not JSON-ready data.
        """
        super().__init__(message)
        self.details: dict[str, Any] = _jsonable(dict(details or {}))

    @property
    def message(self) -> str:
        """The message, for people (it may change between versions; the code does not)."""
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.message, self.details), dict(self.__dict__))


def error_jsonable(error: LicensingError) -> dict[str, Any]:
    """``error`` as ``{"code", "message", "details"}``, JSON-ready (R14).

    Args:
        error: any library error.

    Returns:
        A fresh dict: the class's code, the message and a copy of the details.
    """
    return {"code": error.code, "message": error.message, "details": _jsonable(error.details)}


class InvalidInput(LicensingError, ValueError):
    """An argument failed its check (SPEC R14); the message says which and why.

    ``details["param"]`` names the argument when it is known.
    """

    code = "invalid_input"

    def __init__(
        self,
        message: str = "",
        *,
        param: str | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        """Make the error.

        Args:
            message: what was wrong.
            param: the argument at fault, put in ``details["param"]``.
            details: further facts.
        """
        merged = dict(details or {})
        if param is not None:
            merged["param"] = param
        super().__init__(message, details=merged)


class KeyTypo(InvalidInput):
    """A license key failed its check symbols: it looks mistyped (SPEC R10)."""

    code = "key_typo"


class MalformedSystemFile(InvalidInput):
    """A system description file is not well formed (SPEC R12)."""

    code = "malformed_system_file"


class NotFound(LicensingError, LookupError):
    """Something named by the caller does not exist (in the caller's organization)."""

    code = "not_found"


class UnknownOrganization(NotFound):
    """No organization has this id (``details["org_id"]``)."""

    code = "unknown_organization"


class UnknownProduct(NotFound):
    """The catalog has no product with this code (``details["product"]``)."""

    code = "unknown_product"


class UnknownSystem(NotFound):
    """The organization has no system with this id (``details["system_id"]``)."""

    code = "unknown_system"


class UnknownHardware(NotFound):
    """The serial was never shipped, or it is not registered to this organization."""

    code = "unknown_hardware"


class UnknownKey(NotFound):
    """A well-formed license key that was never issued (SPEC R10; ``details["key_tail"]``)."""

    code = "unknown_key"


class UnknownAccount(NotFound):
    """No account has this id, or it is not a member of the organization (SPEC §8).

    ``details["account_id"]`` names the account; ``details["org_id"]`` the
    organization when the account is not one of its members.
    """

    code = "unknown_account"


class UnknownWebhook(NotFound):
    """No webhook endpoint (or delivery) has this id (SPEC §7).

    ``details["endpoint_id"]`` or ``details["delivery_id"]`` names it.
    """

    code = "unknown_webhook"


class StoreNotFound(NotFound):
    """``Manager.open(..., create=False)`` found no store at the URL (SPEC §3)."""

    code = "store_not_found"


class KeyAlreadyRedeemed(LicensingError):
    """The license key was already redeemed, in this or another organization (SPEC R1, R10)."""

    code = "key_already_redeemed"


class AlreadyRegistered(LicensingError):
    """A system id or hardware serial is already registered (SPEC R1, R9).

    The details name the caller's own ``system_id`` or ``serial``, never who holds it.
    """

    code = "already_registered"


class AlreadyExists(LicensingError):
    """An organization with this id (or a shipped serial) already exists."""

    code = "already_exists"


class AlreadyStarted(LicensingError):
    """The product's subscription was already started (SPEC R2)."""

    code = "already_started"


class SubscriptionNotStarted(LicensingError):
    """The command needs a started subscription (SPEC R6, R7)."""

    code = "subscription_not_started"


class InsufficientLicenses(LicensingError):
    """The wallet lacks licenses for the request (SPEC R7).

    Attributes:
        shortfall: the missing count per license type (also ``details["shortfall"]``).
    """

    code = "insufficient_licenses"

    def __init__(
        self,
        message: str,
        shortfall: Mapping[str, int],
        *,
        details: Mapping[str, object] | None = None,
    ) -> None:
        """Make the error.

        Args:
            message: what is missing, for people.
            shortfall: the missing count per license type; zero entries are left out.
            details: further facts (such as the license ``kind``).
        """
        missing = {t: n for t, n in sorted(shortfall.items()) if n}
        super().__init__(message, details={**(details or {}), "shortfall": missing})

    @property
    def shortfall(self) -> dict[str, int]:
        """The missing count per license type."""
        return dict(self.details.get("shortfall", {}))


class OutsideAllocationWindow(LicensingError):
    """The period is before the current one or starts more than five years ahead (SPEC R7)."""

    code = "outside_allocation_window"


class PermissionDenied(LicensingError):
    """An ``axis_licensing_authorize`` hook refused the command (SPEC §4)."""

    code = "permission_denied"


class LastOwner(LicensingError):
    """The command would leave the organization without an owner (SPEC §8).

    Removing or demoting an organization's last owner is refused; the
    organization keeps its owner. A conflict with the store's state, as
    :class:`KeyAlreadyRedeemed` is (HTTP 409). ``details``: ``org_id``, ``account_id``.
    """

    code = "last_owner"


class InvitationInvalid(LicensingError):
    """An invitation token that was used, has expired, or was never issued (SPEC §8).

    One error for the three cases, so the answer tells nothing about which
    tokens exist. Like :class:`KeyAlreadyRedeemed`, a conflict with the
    store's state rather than malformed input (HTTP 409); a token that is not
    even text is an :class:`InvalidInput`.
    """

    code = "invitation_invalid"


class IdempotencyConflict(LicensingError):
    """A ``request_id`` was reused with different arguments (SPEC R13)."""

    code = "idempotency_conflict"


class ConcurrencyConflict(LicensingError):
    """The command kept conflicting with concurrent commands and was given up (SPEC R13)."""

    code = "concurrency_conflict"


class StorageError(LicensingError):
    """The storage backend failed; the original error is the ``__cause__``.

    Its details never hold the URL or credentials.
    """

    code = "storage_error"


class LicenseFileError(LicensingError):
    """A license file cannot be trusted or used (SPEC R12)."""

    code = "license_file_error"


class TamperedLicenseFile(LicenseFileError):
    """A bad signature, an unknown key id, or malformed content."""

    code = "tampered_license_file"


class WrongSystem(LicenseFileError):
    """The license file was issued for another system."""

    code = "wrong_system"


class LicenseFileExpired(LicenseFileError):
    """The local date of ``now`` is after the file's ``valid_until``."""

    code = "license_file_expired"


class LicenseFileNotYetValid(LicenseFileError):
    """``now`` is more than five minutes before the file's ``issued_at``: a clock set back?"""

    code = "license_file_not_yet_valid"


class CatalogError(LicensingError):
    """The store's catalog and the one given do not fit together (SPEC R15)."""

    code = "catalog_error"


class CatalogRequired(CatalogError):
    """``Manager.open`` without a catalog on a store that has none yet (SPEC R15)."""

    code = "catalog_required"


class CatalogMismatch(CatalogError):
    """The catalog given at open differs from the store's latest version (SPEC R15).

    ``details["differences"]`` lists every difference, as text.
    """

    code = "catalog_mismatch"

    def __init__(
        self,
        message: str,
        differences: Sequence[str],
        *,
        details: Mapping[str, object] | None = None,
    ) -> None:
        """Make the error.

        Args:
            message: a summary, for people.
            differences: every difference, one text each.
            details: further facts.
        """
        super().__init__(message, details={**(details or {}), "differences": list(differences)})

    @property
    def differences(self) -> list[str]:
        """Every difference between the catalogs."""
        return list(self.details.get("differences", []))


class IncompatibleCatalog(CatalogError, InvalidInput):
    """A published catalog changes what the store's catalog means (SPEC R15).

    ``details["reasons"]`` lists every reason, as text.
    """

    code = "incompatible_catalog"

    def __init__(
        self,
        message: str,
        reasons: Sequence[str],
        *,
        details: Mapping[str, object] | None = None,
    ) -> None:
        """Make the error.

        Args:
            message: a summary, for people.
            reasons: every reason the catalog is refused, one text each.
            details: further facts.
        """
        super().__init__(message, details={**(details or {}), "reasons": list(reasons)})

    @property
    def reasons(self) -> list[str]:
        """Every reason the catalog was refused."""
        return list(self.details.get("reasons", []))
