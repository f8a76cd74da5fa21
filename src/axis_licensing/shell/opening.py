"""Opening a store: an interrupted migration refused, the catalog recorded or checked (R15).

:class:`Opening` is a base of the Manager: what its constructor runs before
the first command, over the pipeline's plumbing, the built-in roles plugin
bound (SPEC §8) included. :func:`check_open_arguments` checks what
``Manager.open`` and the constructor are given.
"""

from __future__ import annotations

from axis_licensing._convert import dumps
from axis_licensing._time import to_us
from axis_licensing.backends import CatalogRow
from axis_licensing.catalog import Catalog
from axis_licensing.errors import CatalogMismatch, CatalogRequired, InvalidInput, StorageError
from axis_licensing.members.authorize import RolesPlugin
from axis_licensing.members.store import MemberReadTx
from axis_licensing.policy import catalogs as editions
from axis_licensing.shell.loading import upgrade_legacy
from axis_licensing.shell.pipeline import Pipeline

__all__ = ["MIGRATION_INCOMPLETE", "Opening", "check_open_arguments"]

#: The meta row ``migrate`` keeps on a target until it is complete and verified.
MIGRATION_INCOMPLETE = "migration_incomplete"


def check_open_arguments(
    catalog: object = None, clock: object = None, *, create: object = True
) -> None:
    """Check the arguments of ``Manager.open`` and of the Manager's constructor.

    Raises:
        InvalidInput: ``catalog`` is not a Catalog, ``clock`` has no ``now()``
            method, or ``create`` is not a bool.
    """
    if catalog is not None and not isinstance(catalog, Catalog):
        raise InvalidInput(
            f"catalog must be a Catalog, got {type(catalog).__name__}", param="catalog"
        )
    if clock is not None and not callable(getattr(clock, "now", None)):
        raise InvalidInput(
            "clock must have a now() method returning an aware datetime", param="clock"
        )
    if not isinstance(create, bool):
        raise InvalidInput(f"create must be True or False, got {create!r}", param="create")


class Opening(Pipeline):
    """The steps of opening a store, run once by the Manager's constructor."""

    _create: bool
    roles: RolesPlugin | None

    def _bind_roles(self) -> RolesPlugin | None:
        """Register (or bind) the built-in roles plugin when the store keeps members (SPEC §8).

        It has no opinion while the store has no account, and enforces the
        roles from the first account on, in every process at once.
        """
        found = [p for p in self._plugins.plugins() if isinstance(p, RolesPlugin)]
        roles = found[0] if found else RolesPlugin(self.backend, self.clock)
        with self.backend.read() as tx:
            if not isinstance(tx, MemberReadTx):
                return None  # a backend of a plugin without members: the host authorizes
            if roles.backend is None:
                roles.bind(self.backend, self.clock)
            if roles.backend is self.backend:
                roles.prime(tx)
        if not found:
            self._plugins.add(roles)
        return roles

    def _access_changed(self) -> None:
        """This process changed accounts, members or tokens: the roles read them again."""
        if self.roles is not None:
            self.roles.forget()

    def _upgrade_legacy(self) -> None:
        """Convert organizations stored in the first format, unless this Manager creates nothing."""
        if self._create:  # else an unconverted organization raises when read
            upgrade_legacy(self.backend, self._latest(), self._retrying)

    # -- the catalog (R15) --------------------------------------------------------------------

    def _open_catalog(self, catalog: Catalog | None) -> None:
        """Record ``catalog`` on a store without one, or check it against the latest (R15)."""
        versions = self._read(self._refresh_catalogs)
        if not versions:
            if catalog is None:
                raise CatalogRequired(
                    "this store has no catalog yet: open it once with catalog=… to record one"
                )
            if not self._create:
                raise CatalogRequired(
                    "this store has no catalog yet, and create=False records nothing: "
                    "open it once with create=True and catalog=… to record one"
                )
            row = CatalogRow(1, to_us(self._now()), dumps(catalog))

            def record() -> None:
                with self.backend.write() as tx:
                    tx.insert_catalog(row)  # False: another opener recorded one first

            self._retrying(record)
            versions = self._read(self._refresh_catalogs)
        if catalog is not None and catalog != versions[-1].catalog:
            found = editions.differences(versions[-1].catalog, catalog)
            raise CatalogMismatch(
                f"the catalog given differs from the store's catalog version "
                f"{versions[-1].version}: {'; '.join(found)}. Open the store without a "
                "catalog to use its own, or publish the new one with "
                "manager.vendor.publish_catalog",
                found,
            )

    def _refuse_incomplete(self) -> None:
        mark = self._read(lambda tx: tx.meta(MIGRATION_INCOMPLETE))
        if mark is not None:
            raise StorageError(
                "this store was left incomplete by an interrupted `axis-licensing migrate` "
                f"({mark}); run the migration again with --force"
            )
