"""From checked parameters to a command value: one builder per declared command.

:meth:`axis_licensing.shell.operations.Operation.checked` checks the
parameters; the builder here turns them into the command's value (and the
organization it acts on), and the pipeline runs it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from axis_licensing import _commands as cmd
from axis_licensing._counts import Counts
from axis_licensing.offline import SystemDescription
from axis_licensing.shell import keys as _keys

if TYPE_CHECKING:
    from axis_licensing.shell.pipeline import Pipeline

__all__ = ["BUILDERS"]

Built = tuple[str | None, cmd.Command]
Builder = Callable[["Pipeline", Mapping[str, Any], Mapping[str, object]], Built]


def _redeem_key(shell: Pipeline, a: Mapping[str, Any], raw: Mapping[str, object]) -> Built:
    normalized: str = a["key"]
    command = cmd.RedeemKey(
        key_hash=_keys.key_hash(normalized), key_tail=_keys.key_tail(normalized)
    )
    return a["org_id"], command


def _upload_system_file(shell: Pipeline, a: Mapping[str, Any], raw: Mapping[str, object]) -> Built:
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


#: Each declared command's builder, by operation name.
BUILDERS: Mapping[str, Builder] = {
    "create_organization": lambda s, a, r: (
        a["org_id"],
        cmd.CreateOrganization(org_id=a["org_id"], name=a["name"], timezone=a["timezone"]),
    ),
    "register_system": lambda s, a, r: (
        a["org_id"],
        cmd.RegisterSystem(product=a["product"], system_id=a["system_id"], devices=a["devices"]),
    ),
    "report_devices": lambda s, a, r: (
        a["org_id"],
        cmd.ReportDevices(system_id=a["system_id"], devices=a["devices"]),
    ),
    "start_subscription": lambda s, a, r: (
        a["org_id"],
        cmd.StartSubscription(product=a["product"]),
    ),
    "redeem_key": _redeem_key,
    "allocate": lambda s, a, r: (
        a["org_id"],
        cmd.Allocate(product=a["product"], quantities=a["quantities"], period=a["period"]),
    ),
    "allocate_need": lambda s, a, r: (
        a["org_id"],
        cmd.AllocateNeed(product=a["product"], through=a["through"]),
    ),
    "register_hardware": lambda s, a, r: (
        a["org_id"],
        cmd.RegisterHardware(system_id=a["system_id"], serial=a["serial"]),
    ),
    "allocate_to_hardware": lambda s, a, r: (
        a["org_id"],
        cmd.AllocateToHardware(serial=a["serial"], quantities=a["quantities"]),
    ),
    "upload_system_file": _upload_system_file,
    "vendor.issue_key": lambda s, a, r: (
        None,
        cmd.IssueKey(product=a["product"], kind=a["kind"], quantities=a["quantities"]),
    ),
    "vendor.ship_hardware": lambda s, a, r: (
        None,
        cmd.ShipHardware(serial=a["serial"], product=a["product"], preloaded=a["preloaded"]),
    ),
    "vendor.publish_catalog": lambda s, a, r: (None, cmd.PublishCatalog(catalog=a["catalog"])),
}
