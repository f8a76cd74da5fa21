"""Commands as values: one frozen attrs class per Manager and Vendor command (issue 7, R13).

Each public command method checks its input (R14) and builds one of these;
the command shell runs it and :func:`axis_licensing.policy.decide.decide`
decides it. A value holds *what* the command asks, after checking: not who
asks (``actor``), not the organization it acts on (the idempotency scope,
R13), and not its ``request_id``. Its converter form, less the fields marked
``fingerprint=False`` (what a field derived from another one adds), is its
idempotency fingerprint (:func:`axis_licensing._commands.fingerprint`): the
text earlier releases stored with each remembered ``request_id``, so an
idempotent retry after an upgrade still replays instead of raising
``IdempotencyConflict``.

:meth:`Command.needs` declares what the shell loads before deciding (the
systems and units it names, the key's row, the shipments).

Secrets never enter a value: :class:`RedeemKey` holds the key's hash (R10), and
:class:`UploadSystemFile` the SHA-256 of the file with what the file describes.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from axis_licensing._counts import Counts
from axis_licensing._enums import LicenseKind
from axis_licensing.catalog import Catalog
from axis_licensing.members.facts import with_action

__all__ = [
    "Allocate",
    "AllocateNeed",
    "AllocateToHardware",
    "Command",
    "CreateOrganization",
    "IssueKey",
    "Needs",
    "PublishCatalog",
    "RedeemKey",
    "RegisterHardware",
    "RegisterSystem",
    "ReportDevices",
    "ShipHardware",
    "StartSubscription",
    "UploadSystemFile",
]


#: The metadata of a field left out of the fingerprint: it is derived from the others.
NOT_FINGERPRINTED = {"fingerprint": False}


@attrs.frozen
class Needs:
    """What the shell loads for a command before it decides (its inputs).

    Attributes:
        systems: the systems it names (each with its hardware units).
        serials: the hardware units it names (each with its system).
        key_hash: the issued key whose row it reads (R10).
        shipments: the serials whose shipment rows it reads (R9).
    """

    systems: tuple[str, ...] = ()
    serials: tuple[str, ...] = ()
    key_hash: str | None = None
    shipments: tuple[str, ...] = ()


#: What most commands need: nothing beyond the organization.
_NOTHING = Needs()


@attrs.frozen
class Command:
    """A checked command; ``ACTION`` is the name the authorize hook is asked with (§4).

    ``VENDOR`` commands act on no organization: their idempotency scope is the
    vendor's (R13).
    """

    ACTION: ClassVar[str] = ""
    VENDOR: ClassVar[bool] = False

    def needs(self) -> Needs:
        """What the shell loads before deciding; nothing beyond the organization by default."""
        return _NOTHING


# -- the organization's commands (scope: the organization) -----------------------------------


@attrs.frozen
@with_action("create_organization")
class CreateOrganization(Command):
    """``create_organization`` (R1)."""

    org_id: str
    name: str
    timezone: str


@attrs.frozen
@with_action("register_system")
class RegisterSystem(Command):
    """``register_system`` (R1, R4)."""

    product: str
    system_id: str
    devices: Counts

    def needs(self) -> Needs:
        """The system (not yet there, unless the organization has it)."""
        return Needs(systems=(self.system_id,))


@attrs.frozen
@with_action("report_devices")
class ReportDevices(Command):
    """``report_devices`` (R1, R4)."""

    system_id: str
    devices: Counts

    def needs(self) -> Needs:
        """The system."""
        return Needs(systems=(self.system_id,))


@attrs.frozen
@with_action("start_subscription")
class StartSubscription(Command):
    """``start_subscription`` (R2)."""

    product: str


@attrs.frozen
@with_action("redeem_key")
class RedeemKey(Command):
    """``redeem_key`` (R6, R10): the key's SHA-256, never the key."""

    key_hash: str
    #: The key's last characters, for messages and the history (derived from the key).
    key_tail: str = attrs.field(default="", metadata=NOT_FINGERPRINTED)

    def needs(self) -> Needs:
        """The key's row."""
        return Needs(key_hash=self.key_hash)


@attrs.frozen
@with_action("allocate")
class Allocate(Command):
    """``allocate`` (R7, R8)."""

    product: str
    quantities: Counts
    period: int


@attrs.frozen
@with_action("allocate_need")
class AllocateNeed(Command):
    """``allocate_need`` (R7)."""

    product: str
    through: int


@attrs.frozen
@with_action("register_hardware")
class RegisterHardware(Command):
    """``register_hardware`` (R9)."""

    system_id: str
    serial: str

    def needs(self) -> Needs:
        """The system, the unit and its shipment."""
        return Needs(systems=(self.system_id,), serials=(self.serial,), shipments=(self.serial,))


@attrs.frozen
@with_action("allocate_to_hardware")
class AllocateToHardware(Command):
    """``allocate_to_hardware`` (R9)."""

    serial: str
    quantities: Counts

    def needs(self) -> Needs:
        """The unit (with its system)."""
        return Needs(serials=(self.serial,))


@attrs.frozen
@with_action("upload_system_file")
class UploadSystemFile(Command):
    """``upload_system_file`` (R12): the SHA-256 of the description file's bytes.

    The other fields are what the file describes (derived from it, so not fingerprinted).
    """

    file: str
    system_id: str = attrs.field(default="", metadata=NOT_FINGERPRINTED)
    product: str = attrs.field(default="", metadata=NOT_FINGERPRINTED)
    devices: Counts = attrs.field(default=Counts(), metadata=NOT_FINGERPRINTED)
    hardware: tuple[str, ...] = attrs.field(default=(), metadata=NOT_FINGERPRINTED)

    def needs(self) -> Needs:
        """The system, its units and the shipments of the serials it lists."""
        return Needs(systems=(self.system_id,), serials=self.hardware, shipments=self.hardware)


# -- the vendor's commands (scope: the vendor) ------------------------------------------------


@attrs.frozen
@with_action("vendor.issue_key")
class IssueKey(Command):
    """``vendor.issue_key`` (R10)."""

    VENDOR: ClassVar[bool] = True
    product: str
    kind: LicenseKind
    quantities: Counts


@attrs.frozen
@with_action("vendor.ship_hardware")
class ShipHardware(Command):
    """``vendor.ship_hardware`` (R9)."""

    VENDOR: ClassVar[bool] = True
    serial: str
    product: str
    preloaded: Counts


@attrs.frozen
@with_action("vendor.publish_catalog")
class PublishCatalog(Command):
    """``vendor.publish_catalog`` (R15)."""

    VENDOR: ClassVar[bool] = True
    catalog: Catalog
