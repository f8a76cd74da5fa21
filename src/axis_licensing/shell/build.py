"""From checked parameters to a command value: one builder per declared command.

:meth:`axis_licensing.shell.operations.Operation.checked` checks the
parameters; the builder here turns them into the command's value (and the
organization it acts on), and the pipeline runs it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from axis_licensing import _commands as cmd
from axis_licensing._counts import Counts
from axis_licensing.catalog import ProductSpec
from axis_licensing.offline import SystemDescription
from axis_licensing.shell import keys as _keys

__all__ = ["BUILDERS", "Catalogs"]


class Catalogs(Protocol):
    """What a builder asks of the shell: the latest catalog's products (R15)."""

    def _spec(self, product: str) -> ProductSpec:
        """The product in the latest catalog, read again if another process published one."""

    def _check_types(self, product: str, counts: Counts, what: str) -> None:
        """Refuse license types the product lacks (R14)."""


Built = tuple[str | None, cmd.Command]
Builder = Callable[[Catalogs, Mapping[str, Any], Mapping[str, object]], Built]


def _redeem_key(shell: Catalogs, a: Mapping[str, Any], raw: Mapping[str, object]) -> Built:
    normalized: str = a["key"]
    command = cmd.RedeemKey(
        key_hash=_keys.key_hash(normalized), key_tail=_keys.key_tail(normalized)
    )
    return a["org_id"], command


def _upload_system_file(shell: Catalogs, a: Mapping[str, Any], raw: Mapping[str, object]) -> Built:
    description: SystemDescription = a["data"]
    spec = shell._spec(description.product)
    shell._check_types(spec.code, description.devices, "devices")
    data = raw["data"]
    assert isinstance(data, bytes | bytearray | memoryview)
    command = cmd.UploadSystemFile(
        file=hashlib.sha256(bytes(data)).hexdigest(),
        system_id=description.system_id,
        product=spec.code,
        devices=Counts(description.devices),
        hardware=tuple(description.hardware),
    )
    return a["org_id"], command


def _by_name(command: type[cmd.Command]) -> Builder:
    """The builder of a ``command`` whose fields are the checked parameters of the same names."""
    names = tuple(field.name for field in attrs.fields(command))

    def build(shell: Catalogs, a: Mapping[str, Any], raw: Mapping[str, object]) -> Built:
        return None if command.VENDOR else a["org_id"], command(**{n: a[n] for n in names})

    return build


#: Each declared command's builder, by operation name.
BUILDERS: Mapping[str, Builder] = {
    "create_organization": _by_name(cmd.CreateOrganization),
    "register_system": _by_name(cmd.RegisterSystem),
    "report_devices": _by_name(cmd.ReportDevices),
    "start_subscription": _by_name(cmd.StartSubscription),
    "redeem_key": _redeem_key,
    "allocate": _by_name(cmd.Allocate),
    "allocate_need": _by_name(cmd.AllocateNeed),
    "register_hardware": _by_name(cmd.RegisterHardware),
    "allocate_to_hardware": _by_name(cmd.AllocateToHardware),
    "upload_system_file": _upload_system_file,
    "vendor.issue_key": _by_name(cmd.IssueKey),
    "vendor.ship_hardware": _by_name(cmd.ShipHardware),
    "vendor.publish_catalog": _by_name(cmd.PublishCatalog),
}
