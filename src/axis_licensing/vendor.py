"""The vendor's commands: issuing keys, shipping hardware, publishing catalogs (R9, R10, R15).

Reached as ``manager.vendor``. They act on no organization, so they have an
idempotency scope of their own (R13) and ask the authorize hook with
``org_id=None`` and ``action="vendor.…"`` (§4). Each runs through the one
command pipeline (:mod:`axis_licensing.shell.pipeline`), checked by its
declaration (:mod:`axis_licensing.shell.operations`).
"""

from __future__ import annotations

from collections.abc import Mapping

from axis_licensing.catalog import Catalog
from axis_licensing.model import LicenseKind
from axis_licensing.shell.operations import documented
from axis_licensing.shell.pipeline import VENDOR_SCOPE, Pipeline

__all__ = ["VENDOR_SCOPE", "Vendor"]


class Vendor:
    """The vendor's commands: issuing keys and shipping hardware (R9, R10).

    Reached as ``manager.vendor``; they have an idempotency scope of their own (R13).
    """

    def __init__(self, shell: Pipeline) -> None:
        self._shell = shell

    @documented("vendor.issue_key")
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
        result: str = self._shell._execute("vendor.issue_key", locals())
        return result

    @documented("vendor.ship_hardware")
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

        Raises:
            InvalidInput: bad serial, counts, actor or request id, or an unknown license type.
            UnknownProduct: the catalog has no such product.
            AlreadyExists: the serial was shipped before.
        """
        self._shell._execute("vendor.ship_hardware", locals())

    @documented("vendor.publish_catalog")
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

        Returns:
            The number of the version in effect afterwards.

        Raises:
            InvalidInput: not a Catalog, or a bad actor or request id.
            IncompatibleCatalog: it removes a product or a license type, changes
                a ``term_years`` or what a license type covers; ``.reasons``
                lists every reason.
        """
        result: int = self._shell._execute("vendor.publish_catalog", locals())
        return result
