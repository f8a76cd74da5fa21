"""One entry point decides every command: ``decide(state, command, inputs, ctx)`` (R1–R15).

As h11 keys its transitions by event type, :data:`DECIDERS` keys one decider
per command type. The shell loads what the command declares it needs
(:meth:`~axis_licensing.policy.commands.Command.needs`: the systems and units
it names, the key's row, the shipments) into :class:`Inputs`, and this module
returns a :class:`Decision`: the new state, the facts in order, the claims the
shell must make in its transaction, and the result.

Claims are data. A system id, a serial or a key's redemption is unique across
the store, so the shell claims it when it applies the decision; a claim
another organization won first becomes the documented error there
(:exc:`~axis_licensing.errors.AlreadyRegistered`,
:exc:`~axis_licensing.errors.KeyAlreadyRedeemed`). Nothing here touches
storage, reads a clock or draws random numbers: a new key's text comes in as
an input, and an upload's license file is signed by the shell from the
decision (:class:`SignLicenseFile`).

Organization commands first :func:`~axis_licensing.policy.engine.advance` the
state to the command's local date, so the facts time caused come first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeAlias

import attrs

from axis_licensing._counts import Counts
from axis_licensing._validate import check_new_id, param_of
from axis_licensing.catalog import Catalog, CatalogVersion
from axis_licensing.errors import (
    AlreadyRegistered,
    InvalidInput,
    KeyAlreadyRedeemed,
    UnknownHardware,
    UnknownKey,
)
from axis_licensing.model import LicenseKind, Organization
from axis_licensing.policy import commands as cmd
from axis_licensing.policy import engine
from axis_licensing.policy import status as readings
from axis_licensing.policy.catalogs import check_compatible
from axis_licensing.policy.state import Fact, OrgState

__all__ = [
    "DECIDERS",
    "Claim",
    "ClaimHardware",
    "ClaimSystem",
    "CreateOrg",
    "Decision",
    "Inputs",
    "IssuedKey",
    "NewKey",
    "RecordCatalog",
    "RecordKey",
    "RecordShipment",
    "RedeemIssuedKey",
    "ShippedUnit",
    "SignLicenseFile",
    "check_inputs",
    "decide",
    "product_of",
]


# -- inputs: what the shell loads before deciding ------------------------------------------------


@attrs.frozen
class IssuedKey:
    """A license key's row as the vendor issued it (R10); never the key itself."""

    key_hash: str
    product: str
    kind: LicenseKind
    quantities: Counts
    redeemed: bool


@attrs.frozen
class ShippedUnit:
    """A shipped hardware unit (R9); ``holder`` is the organization that claimed it, if any."""

    serial: str
    product: str
    preloaded: Counts
    holder: str | None = None


@attrs.frozen
class NewKey:
    """A freshly drawn (or derived) key for ``vendor.issue_key``: its text, hash and tail."""

    key: str
    key_hash: str
    tail: str


@attrs.frozen
class Inputs:
    """What the shell loaded for a command, in the command's transaction.

    Attributes:
        catalog: the catalog in effect for the command (R15).
        key: the key's row (``RedeemKey``); None when it was never issued.
        shipments: per serial the command names, its shipment, or None if never shipped.
        new_key: the key ``IssueKey`` issues.
        latest: the store's latest catalog version (``PublishCatalog``).
        latest_command_at: the latest command recorded anywhere in the store.
    """

    catalog: Catalog
    key: IssuedKey | None = None
    shipments: Mapping[str, ShippedUnit | None] = attrs.field(factory=dict)
    new_key: NewKey | None = None
    latest: CatalogVersion | None = None
    latest_command_at: datetime | None = None


# -- claims: what the shell writes beside the state ----------------------------------------------


@attrs.frozen
class CreateOrg:
    """Reserve the organization's id; lost: ``AlreadyExists``."""

    org_id: str


@attrs.frozen
class ClaimSystem:
    """Claim a system id across the store; lost: ``AlreadyRegistered``."""

    system_id: str


@attrs.frozen
class ClaimHardware:
    """Claim a shipped unit for the organization; lost: ``AlreadyRegistered``."""

    serial: str


@attrs.frozen
class RedeemIssuedKey:
    """Mark a key redeemed by the organization; lost: ``KeyAlreadyRedeemed``."""

    key_hash: str
    tail: str


@attrs.frozen
class RecordKey:
    """Store an issued key's hash and contents (R10)."""

    key_hash: str
    product: str
    kind: LicenseKind
    quantities: Counts
    tail: str


@attrs.frozen
class RecordShipment:
    """Store a shipped unit (R9); lost: ``AlreadyExists``."""

    serial: str
    product: str
    preloaded: Counts


@attrs.frozen
class RecordCatalog:
    """Store a new catalog version (R15); lost to a concurrent publisher: try again."""

    version: int
    effective_at: datetime
    catalog: Catalog


Claim: TypeAlias = (
    CreateOrg
    | ClaimSystem
    | ClaimHardware
    | RedeemIssuedKey
    | RecordKey
    | RecordShipment
    | RecordCatalog
)


@attrs.frozen
class SignLicenseFile:
    """The result of an upload: the shell signs the system's license file from the decision."""

    system_id: str


@attrs.frozen
class Decision:
    """What a command decided: the new state (None for the vendor's), facts, claims and result."""

    state: OrgState | None
    facts: tuple[Fact, ...]
    claims: tuple[Claim, ...]
    result: object


# -- before authorizing: the product and the input checks that need the store ------------------


def _known(product: str, catalog: Catalog) -> str | None:
    return product if product in catalog.product_codes else None


def product_of(command: cmd.Command, state: OrgState | None, inputs: Inputs) -> str | None:
    """The product ``command`` acts on, as the authorize hook is told it (§4).

    Commands that name a system, a unit or a key learn it from what was
    loaded; None when that is unknown (the command then says so).
    """
    product = getattr(command, "product", None)
    if isinstance(product, str) and product:
        return product
    if isinstance(command, cmd.RedeemKey):
        return inputs.key.product if inputs.key is not None else None
    if state is None:
        return None
    if isinstance(command, cmd.ReportDevices | cmd.RegisterHardware):
        system = state.systems.get(command.system_id)
        return _known(system.product, inputs.catalog) if system is not None else None
    if isinstance(command, cmd.AllocateToHardware):
        unit = state.hardware.get(command.serial)
        return _known(unit.product, inputs.catalog) if unit is not None else None
    return None


def check_inputs(command: cmd.Command, product: str | None, latest: Catalog) -> None:
    """Refuse license types the command's product (or, unknown, every product) lacks (R14).

    The checks of commands whose product is only known once loaded; the
    others are checked before the shell runs.

    Raises:
        InvalidInput: an unknown license type.
    """
    if isinstance(command, cmd.ReportDevices):
        counts, what = command.devices, "devices"
    elif isinstance(command, cmd.AllocateToHardware):
        counts, what = command.quantities, "quantities"
    else:
        return
    if product is not None:
        engine.check_types(latest.product(product), counts, what)
        return
    known = {t for spec in latest.products for t in spec.type_codes}
    unknown = sorted(set(counts) - known)
    if unknown:
        raise InvalidInput(
            f"{what}: unknown license type(s) {', '.join(map(repr, unknown))} "
            f"(the catalog has: {', '.join(sorted(known))})",
            param=param_of(what),
        )


# -- the deciders ---------------------------------------------------------------------------------


def _system_after(
    outcome: engine.Outcome[Any], catalog: Catalog, system_id: str, ctx: engine.Context
) -> object:
    state = outcome.state
    return readings.system_status(state, catalog, state.systems[system_id], ctx.on)


def _create_organization(
    state: OrgState | None, command: cmd.CreateOrganization, inputs: Inputs, ctx: engine.Context
) -> Decision:
    outcome = engine.create_organization(
        ctx, org_id=command.org_id, name=command.name, timezone=command.timezone
    )
    organization = Organization(
        org_id=command.org_id, name=command.name, timezone=command.timezone, anchor=None
    )
    return Decision(outcome.state, outcome.facts, (CreateOrg(command.org_id),), organization)


def _register_system(
    state: OrgState, command: cmd.RegisterSystem, inputs: Inputs, ctx: engine.Context
) -> Decision:
    outcome = engine.register_system(
        state,
        inputs.catalog,
        ctx,
        product=command.product,
        system_id=command.system_id,
        devices=command.devices,
    )
    result = _system_after(outcome, inputs.catalog, command.system_id, ctx)
    return Decision(outcome.state, outcome.facts, (ClaimSystem(command.system_id),), result)


def _report_devices(
    state: OrgState, command: cmd.ReportDevices, inputs: Inputs, ctx: engine.Context
) -> Decision:
    outcome = engine.report_devices(
        state, inputs.catalog, ctx, system_id=command.system_id, devices=command.devices
    )
    result = _system_after(outcome, inputs.catalog, command.system_id, ctx)
    return Decision(outcome.state, outcome.facts, (), result)


def _start_subscription(
    state: OrgState, command: cmd.StartSubscription, inputs: Inputs, ctx: engine.Context
) -> Decision:
    outcome = engine.start_subscription(state, inputs.catalog, ctx, product=command.product)
    spec = inputs.catalog.product(command.product)
    result = readings.product_status(outcome.state, spec, ctx.on)
    return Decision(outcome.state, outcome.facts, (), result)


def _redeem_key(
    state: OrgState, command: cmd.RedeemKey, inputs: Inputs, ctx: engine.Context
) -> Decision:
    tail = command.key_tail
    key = inputs.key
    if key is None:
        raise UnknownKey(
            f"no license key ending in {tail} was ever issued", details={"key_tail": tail}
        )
    if key.redeemed:
        raise KeyAlreadyRedeemed(
            f"the license key ending in {tail} was already redeemed", details={"key_tail": tail}
        )
    outcome = engine.redeem(
        state,
        inputs.catalog,
        ctx,
        product=key.product,
        kind=key.kind,
        quantities=key.quantities,
        key_tail=tail,
    )
    claim = RedeemIssuedKey(key.key_hash, tail)
    return Decision(outcome.state, outcome.facts, (claim,), outcome.result)


def _allocate(
    state: OrgState, command: cmd.Allocate, inputs: Inputs, ctx: engine.Context
) -> Decision:
    outcome = engine.allocate(
        state,
        inputs.catalog,
        ctx,
        product=command.product,
        quantities=command.quantities,
        offset=command.period,
    )
    return Decision(outcome.state, outcome.facts, (), outcome.result)


def _allocate_need(
    state: OrgState, command: cmd.AllocateNeed, inputs: Inputs, ctx: engine.Context
) -> Decision:
    outcome = engine.allocate_need(
        state, inputs.catalog, ctx, product=command.product, through=command.through
    )
    return Decision(outcome.state, outcome.facts, (), outcome.result)


def _claimable(inputs: Inputs, serial: str) -> engine.Shipment:
    """The shipment of a unit the organization may claim (R9).

    Raises:
        UnknownHardware: never shipped.
        AlreadyRegistered: another organization (or this one) holds it.
    """
    unit = inputs.shipments.get(serial)
    if unit is None:
        raise UnknownHardware(f"hardware {serial!r} was never shipped", details={"serial": serial})
    if unit.holder is not None:
        raise AlreadyRegistered(
            f"hardware {serial!r} is already registered", details={"serial": serial}
        )
    return engine.Shipment(serial=serial, product=unit.product, preloaded=unit.preloaded)


def _register_hardware(
    state: OrgState, command: cmd.RegisterHardware, inputs: Inputs, ctx: engine.Context
) -> Decision:
    shipment = _claimable(inputs, command.serial)
    outcome = engine.register_hardware(
        state, inputs.catalog, ctx, system_id=command.system_id, shipment=shipment
    )
    result = _system_after(outcome, inputs.catalog, command.system_id, ctx)
    return Decision(outcome.state, outcome.facts, (ClaimHardware(command.serial),), result)


def _allocate_to_hardware(
    state: OrgState, command: cmd.AllocateToHardware, inputs: Inputs, ctx: engine.Context
) -> Decision:
    outcome = engine.allocate_to_hardware(
        state, inputs.catalog, ctx, serial=command.serial, quantities=command.quantities
    )
    system_id = outcome.state.hardware[command.serial].system_id
    result = _system_after(outcome, inputs.catalog, system_id, ctx)
    return Decision(outcome.state, outcome.facts, (), result)


def _upload_system_file(
    state: OrgState, command: cmd.UploadSystemFile, inputs: Inputs, ctx: engine.Context
) -> Decision:
    shipments = []
    for serial in command.hardware:
        held = state.hardware.get(serial)
        if held is not None and held.system_id == command.system_id:
            shipments.append(engine.Shipment(serial, held.product, held.preloaded))
            continue
        shipments.append(_claimable(inputs, serial))
    outcome = engine.upload_system(
        state,
        inputs.catalog,
        ctx,
        product=command.product,
        system_id=command.system_id,
        devices=command.devices,
        shipments=shipments,
    )
    claims: list[Claim] = []
    if outcome.result:  # a new system: its id is created here (R14)
        check_new_id(command.system_id, "system_id")
        claims.append(ClaimSystem(command.system_id))
    claims += [ClaimHardware(s.serial) for s in shipments if s.serial not in state.hardware]
    return Decision(outcome.state, outcome.facts, tuple(claims), SignLicenseFile(command.system_id))


def _issue_key(
    state: OrgState | None, command: cmd.IssueKey, inputs: Inputs, ctx: engine.Context
) -> Decision:
    new = inputs.new_key
    assert new is not None, "the shell draws the key"
    claim = RecordKey(
        key_hash=new.key_hash,
        product=command.product,
        kind=command.kind,
        quantities=command.quantities,
        tail=new.tail,
    )
    return Decision(None, (), (claim,), new.key)


def _ship_hardware(
    state: OrgState | None, command: cmd.ShipHardware, inputs: Inputs, ctx: engine.Context
) -> Decision:
    claim = RecordShipment(
        serial=command.serial, product=command.product, preloaded=command.preloaded
    )
    return Decision(None, (), (claim,), None)


def _publish_catalog(
    state: OrgState | None, command: cmd.PublishCatalog, inputs: Inputs, ctx: engine.Context
) -> Decision:
    latest = inputs.latest
    assert latest is not None, "the shell loads the latest version"
    check_compatible(latest.catalog, command.catalog)
    if command.catalog == latest.catalog:
        return Decision(None, (), (), latest.version)
    # never before a recorded command, anywhere in the store: a version that took
    # effect in an organization's recorded past would change its meaning (R15, §1)
    effective = max(ctx.at, latest.effective_at)
    if inputs.latest_command_at is not None:
        effective = max(effective, inputs.latest_command_at)
    claim = RecordCatalog(
        version=latest.version + 1, effective_at=effective, catalog=command.catalog
    )
    return Decision(None, (), (claim,), latest.version + 1)


Decider = Callable[[Any, Any, Inputs, engine.Context], Decision]

#: One decider per command type (as h11 keys its transitions).
DECIDERS: Mapping[type[cmd.Command], Decider] = {
    cmd.CreateOrganization: _create_organization,
    cmd.RegisterSystem: _register_system,
    cmd.ReportDevices: _report_devices,
    cmd.StartSubscription: _start_subscription,
    cmd.RedeemKey: _redeem_key,
    cmd.Allocate: _allocate,
    cmd.AllocateNeed: _allocate_need,
    cmd.RegisterHardware: _register_hardware,
    cmd.AllocateToHardware: _allocate_to_hardware,
    cmd.UploadSystemFile: _upload_system_file,
    cmd.IssueKey: _issue_key,
    cmd.ShipHardware: _ship_hardware,
    cmd.PublishCatalog: _publish_catalog,
}


def decide(
    state: OrgState | None, command: cmd.Command, inputs: Inputs, ctx: engine.Context
) -> Decision:
    """Decide ``command``: the new state, the facts, the claims to make and the result.

    An organization's state is first advanced to ``ctx.on`` (lot expiry, locks),
    and the facts that time caused come first.

    Args:
        state: the organization's state with what the command needs loaded;
            None for ``CreateOrganization`` and the vendor's commands.
        command: the checked command.
        inputs: what the shell loaded for it.
        ctx: the command's instant, local date and actor.

    Returns:
        The decision.

    Raises:
        LicensingError: the rule the command breaks (each decider's documented errors).
    """
    decider = DECIDERS[type(command)]
    if state is None:
        return decider(None, command, inputs, ctx)
    advanced, pending = engine.advance(state, inputs.catalog, ctx.on)
    decision = decider(advanced, command, inputs, ctx)
    if not pending:
        return decision
    return attrs.evolve(decision, facts=(*pending, *decision.facts))
