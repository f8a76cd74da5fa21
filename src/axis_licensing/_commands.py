"""Commands as values: one frozen attrs class per Manager and Vendor command (issue 7, R13).

Each public command method checks its input (R14) and builds one of these;
the command shell runs it. A value holds *what* the command asks, after
checking: not who asks (``actor``), not the organization it acts on (the
idempotency scope, R13), and not its ``request_id``. So its converter form is
exactly its idempotency fingerprint: :meth:`Command.fingerprint`. The text is
the one earlier releases stored with each remembered ``request_id``, so an
idempotent retry after an upgrade still replays instead of raising
``IdempotencyConflict``.

Secrets never enter a value: :class:`RedeemKey` holds the key's hash (R10), and
:class:`UploadSystemFile` the SHA-256 of the file.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from axis_licensing._convert import converter, fingerprint
from axis_licensing._counts import Counts
from axis_licensing._enums import LicenseKind
from axis_licensing.catalog import Catalog

__all__ = [
    "Allocate",
    "AllocateNeed",
    "AllocateToHardware",
    "Command",
    "CreateOrganization",
    "IssueKey",
    "PublishCatalog",
    "RedeemKey",
    "RegisterHardware",
    "RegisterSystem",
    "ReportDevices",
    "ShipHardware",
    "StartSubscription",
    "UploadSystemFile",
]


@attrs.frozen
class Command:
    """A checked command; ``ACTION`` is the name the authorize hook is asked with (§4)."""

    ACTION: ClassVar[str] = ""

    def fingerprint(self) -> str:
        """The idempotency fingerprint: a SHA-256 of the action and the converter's form (R13).

        Returns:
            The hex digest.
        """
        return fingerprint(self.ACTION, converter.unstructure(self))


# -- the organization's commands (scope: the organization) -----------------------------------


@attrs.frozen
class CreateOrganization(Command):
    """``create_organization`` (R1)."""

    ACTION: ClassVar[str] = "create_organization"
    org_id: str
    name: str
    timezone: str


@attrs.frozen
class RegisterSystem(Command):
    """``register_system`` (R1, R4)."""

    ACTION: ClassVar[str] = "register_system"
    product: str
    system_id: str
    devices: Counts


@attrs.frozen
class ReportDevices(Command):
    """``report_devices`` (R1, R4)."""

    ACTION: ClassVar[str] = "report_devices"
    system_id: str
    devices: Counts


@attrs.frozen
class StartSubscription(Command):
    """``start_subscription`` (R2)."""

    ACTION: ClassVar[str] = "start_subscription"
    product: str


@attrs.frozen
class RedeemKey(Command):
    """``redeem_key`` (R6, R10): the key's SHA-256, never the key."""

    ACTION: ClassVar[str] = "redeem_key"
    key_hash: str


@attrs.frozen
class Allocate(Command):
    """``allocate`` (R7, R8)."""

    ACTION: ClassVar[str] = "allocate"
    product: str
    quantities: Counts
    period: int


@attrs.frozen
class AllocateNeed(Command):
    """``allocate_need`` (R7)."""

    ACTION: ClassVar[str] = "allocate_need"
    product: str
    through: int


@attrs.frozen
class RegisterHardware(Command):
    """``register_hardware`` (R9)."""

    ACTION: ClassVar[str] = "register_hardware"
    system_id: str
    serial: str


@attrs.frozen
class AllocateToHardware(Command):
    """``allocate_to_hardware`` (R9)."""

    ACTION: ClassVar[str] = "allocate_to_hardware"
    serial: str
    quantities: Counts


@attrs.frozen
class UploadSystemFile(Command):
    """``upload_system_file`` (R12): the SHA-256 of the description file's bytes."""

    ACTION: ClassVar[str] = "upload_system_file"
    file: str


# -- the vendor's commands (scope: the vendor) ------------------------------------------------


@attrs.frozen
class IssueKey(Command):
    """``vendor.issue_key`` (R10)."""

    ACTION: ClassVar[str] = "vendor.issue_key"
    product: str
    kind: LicenseKind
    quantities: Counts


@attrs.frozen
class ShipHardware(Command):
    """``vendor.ship_hardware`` (R9)."""

    ACTION: ClassVar[str] = "vendor.ship_hardware"
    serial: str
    product: str
    preloaded: Counts


@attrs.frozen
class PublishCatalog(Command):
    """``vendor.publish_catalog`` (R15)."""

    ACTION: ClassVar[str] = "vendor.publish_catalog"
    catalog: Catalog
