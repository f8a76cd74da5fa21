"""The vendor's commands: issuing keys, shipping hardware, publishing catalogs (R9, R10, R15).

Reached as ``manager.vendor``. They act on no organization, so they have an
idempotency scope of their own (R13) and ask the authorize hook with
``org_id=None`` and ``action="vendor.…"`` (§4). Each runs through the
Manager's vendor command shell.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from axis_licensing import _commands as cmd
from axis_licensing import _keys
from axis_licensing._catalog_versions import check_compatible
from axis_licensing._convert import dumps
from axis_licensing._time import to_us
from axis_licensing._validate import check_actor, check_counts, check_id, check_new_id
from axis_licensing.backends import (
    CatalogRow,
    KeyRow,
    ReadTx,
    RetryableConflict,
    ShipmentRow,
    WriteTx,
)
from axis_licensing.catalog import Catalog
from axis_licensing.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    IdempotencyConflict,
    InvalidInput,
    StorageError,
)
from axis_licensing.model import LicenseKind

if TYPE_CHECKING:
    from axis_licensing.manager import Manager

__all__ = ["VENDOR_SCOPE", "Vendor"]

#: The idempotency scope of the vendor's commands (R13).
VENDOR_SCOPE = "vendor"


class Vendor:
    """The vendor's commands: issuing keys and shipping hardware (R9, R10).

    Reached as ``manager.vendor``; they have an idempotency scope of their own (R13).
    """

    def __init__(self, manager: Manager) -> None:
        self._m = manager

    def issue_key(
        self,
        product: str,
        kind: LicenseKind = LicenseKind.SUBSCRIPTION,
        quantities: Mapping[str, int] | None = None,
        *,
        actor: str = "vendor",
        request_id: str | None = None,
    ) -> str:
        """Issue a license key for ``product`` carrying ``quantities`` of ``kind`` (R10).

        Only the key's hash is stored. With a ``request_id`` the key is derived
        from it and the signing key, so a repeated call returns the same key
        without the key ever being stored.

        Args:
            product: the product code.
            kind: subscription or hardware (extension) licenses.
            quantities: licenses per type, positive integers.
            actor: who issues it.
            request_id: makes the call idempotent (R13).

        Returns:
            The key, formatted for people (dash-separated groups).

        Raises:
            InvalidInput: bad quantities, kind, actor or request id, or an unknown license type.
            UnknownProduct: the catalog has no such product.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments,
                or issued its key under a signing key this Manager no longer has.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        m = self._m
        spec = m._spec(check_id(product, "product"))
        kind = LicenseKind.of(kind)
        counts = check_counts(quantities, "quantities", allow_zero=False, allow_empty=False)
        m._check_types(spec.code, counts, "quantities")
        actor = check_actor(actor)
        request_id = m._check_request_id(request_id)
        command = cmd.IssueKey(product=spec.code, kind=kind, quantities=counts)
        m._authorize(actor, None, command.ACTION, spec.code)

        def run(tx: WriteTx, now: datetime) -> tuple[str, str]:
            if request_id is None:
                key = _keys.generate_key()
            else:
                key = _keys.generate_key(m._deriver.key_bytes(request_id))
            normalized = _keys.normalize_key(key)
            digest = _keys.key_hash(normalized)
            tx.insert_key(
                KeyRow(
                    key_hash=digest,
                    product=spec.code,
                    kind=kind.value,
                    quantities=dumps(counts),
                    tail=_keys.key_tail(normalized),
                    issued_at_us=to_us(now),
                )
            )
            return key, json.dumps({"key_hash": digest})

        def replay(tx: ReadTx, stored: str) -> str:
            assert request_id is not None
            key = _keys.generate_key(m._deriver.key_bytes(request_id))
            if _keys.key_hash(_keys.normalize_key(key)) != json.loads(stored)["key_hash"]:
                raise IdempotencyConflict(
                    f"request_id {request_id!r} issued a key under another signing key; "
                    "that key cannot be shown again",
                    details={"request_id": request_id},
                )
            return key

        return m._vendor_command(command, request_id, run, replay)

    def ship_hardware(
        self,
        serial: str,
        product: str,
        preloaded: Mapping[str, int] | None = None,
        *,
        actor: str = "vendor",
        request_id: str | None = None,
    ) -> None:
        """Record a hardware unit shipped with preloaded hardware licenses (R9).

        Args:
            serial: the unit's serial number, unique across everything shipped.
            product: the product the unit is for.
            preloaded: hardware licenses per type on the unit (may be empty).
            actor: who ships it.
            request_id: makes the call idempotent (R13).

        Raises:
            InvalidInput: bad serial, counts, actor or request id, or an unknown license type.
            UnknownProduct: the catalog has no such product.
            AlreadyExists: the serial was shipped before.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        m = self._m
        serial = check_new_id(serial, "serial")
        spec = m._spec(check_id(product, "product"))
        counts = check_counts(
            {} if preloaded is None else preloaded, "preloaded", allow_zero=False, allow_empty=True
        )
        m._check_types(spec.code, counts, "preloaded")
        actor = check_actor(actor)
        request_id = m._check_request_id(request_id)
        command = cmd.ShipHardware(serial=serial, product=spec.code, preloaded=counts)
        m._authorize(actor, None, command.ACTION, spec.code)

        def run(tx: WriteTx, now: datetime) -> tuple[None, str]:
            row = ShipmentRow(
                serial=serial, product=spec.code, preloaded=dumps(counts), shipped_at_us=to_us(now)
            )
            if not tx.insert_shipment(row):
                raise AlreadyExists(
                    f"hardware {serial!r} was already shipped", details={"serial": serial}
                )
            return None, "null"

        m._vendor_command(command, request_id, run, lambda tx, s: None)

    def publish_catalog(
        self, catalog: Catalog, *, actor: str = "vendor", request_id: str | None = None
    ) -> int:
        """Record a new version of the store's catalog, in effect from now (R15).

        "Now" is never before the latest command recorded anywhere in the store
        (nor the latest version), so a vendor clock that is behind never changes
        what an organization's recorded past meant (R15, SPEC §1).

        Allowed: adding products and license types; changing names,
        ``growth_rate``, ``trial_days`` and ``grace_days`` (each period keeps
        the terms of the version in effect when it opened). A catalog equal to
        the latest version records nothing and returns its number.

        Args:
            catalog: the new catalog.
            actor: who publishes it.
            request_id: makes the call idempotent (R13).

        Returns:
            The number of the version in effect afterwards.

        Raises:
            InvalidInput: not a Catalog, or a bad actor or request id.
            IncompatibleCatalog: it removes a product or a license type, changes
                a ``term_years`` or what a license type covers; ``.reasons``
                lists every reason.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        m = self._m
        if not isinstance(catalog, Catalog):
            raise InvalidInput(
                f"catalog must be a Catalog, got {type(catalog).__name__}", param="catalog"
            )
        actor = check_actor(actor)
        request_id = m._check_request_id(request_id)
        m._read(m._refresh_catalogs)
        command = cmd.PublishCatalog(catalog=catalog)
        printed = command.fingerprint()
        prior = m._read(lambda tx: m._replayed(tx, VENDOR_SCOPE, request_id, printed))
        if prior is None:
            # a repeat returns its first result even once later versions exist (R13),
            # so only a new request is checked against the latest version here
            check_compatible(m.catalog, catalog)
        m._authorize(actor, None, command.ACTION, None)

        def run(tx: WriteTx, now: datetime) -> tuple[int, str]:
            latest = m._refresh_catalogs(tx)[-1]
            check_compatible(latest.catalog, catalog)
            if catalog == latest.catalog:
                return latest.version, json.dumps(latest.version)
            version = latest.version + 1
            # never before a recorded command, anywhere in the store: a version that took
            # effect in an organization's recorded past would change its meaning (R15, §1)
            effective = max(to_us(now), to_us(latest.effective_at), tx.latest_version_at_us() or 0)
            if not tx.insert_catalog(CatalogRow(version, effective, dumps(catalog))):
                raise RetryableConflict(f"catalog version {version} was recorded concurrently")
            return version, json.dumps(version)

        version = m._vendor_command(
            command,
            request_id,
            run,
            lambda tx, stored: int(json.loads(stored)),
        )
        # The version is committed: a store that fails now must not turn that into an
        # error (R13). Every later command reads the versions again in its transaction.
        with contextlib.suppress(StorageError, ConcurrencyConflict):
            m._read(m._refresh_catalogs)
        return version
