"""Opening a store: an interrupted migration refused, the catalog recorded or checked (R15).

:class:`Opening` is a base of the Manager: what its constructor runs before
the first command, over the pipeline's plumbing.
"""

from __future__ import annotations

from axis_licensing._convert import dumps
from axis_licensing._time import to_us
from axis_licensing.backends import CatalogRow
from axis_licensing.catalog import Catalog
from axis_licensing.errors import CatalogMismatch, CatalogRequired, StorageError
from axis_licensing.policy import catalogs as editions
from axis_licensing.shell.loading import upgrade_legacy
from axis_licensing.shell.pipeline import Pipeline

__all__ = ["MIGRATION_INCOMPLETE", "Opening"]

#: The meta row ``migrate`` keeps on a target until it is complete and verified.
MIGRATION_INCOMPLETE = "migration_incomplete"


class Opening(Pipeline):
    """The steps of opening a store, run once by the Manager's constructor."""

    _create: bool

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
