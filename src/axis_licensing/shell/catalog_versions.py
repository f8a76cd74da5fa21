"""The store's catalog versions as one Manager knows them (R15).

A Manager reads the versions recorded since it last looked (never fewer), and
applies to each organization the version in effect at a command's or a query's
instant, each period keeping the terms of the version in effect at its start.
"""

from __future__ import annotations

import threading
from datetime import date, datetime

from axis_licensing._convert import loads
from axis_licensing._time import from_us, local_date, midnight
from axis_licensing.backends import ReadTx
from axis_licensing.catalog import Catalog, CatalogVersion
from axis_licensing.policy import catalogs as editions
from axis_licensing.policy.catalogs import check_compatible
from axis_licensing.policy.state import OrgState

__all__ = ["CatalogVersions", "check_compatible"]


def _first_day(version: CatalogVersion, timezone: str) -> date:
    """The first local day that starts with ``version`` in effect."""
    day = local_date(version.effective_at, timezone)
    if midnight(day, timezone) < version.effective_at:
        return date.fromordinal(day.toordinal() + 1)
    return day


class CatalogVersions:
    """The versions read so far, oldest first; safe to share between threads."""

    def __init__(self) -> None:
        self.known: tuple[CatalogVersion, ...] = ()
        self._lock = threading.Lock()
        self._editions: dict[tuple[str, int], tuple[editions.Edition, ...]] = {}

    def refresh(self, tx: ReadTx) -> tuple[CatalogVersion, ...]:
        """The versions, with any recorded since they were last read.

        Args:
            tx: a read of the store.

        Returns:
            Every version, oldest first.

        Raises:
            StorageError: the backend failed.
        """
        known = self.known
        rows = tx.catalogs(known[-1].version if known else 0)
        if not rows:
            return known
        added = tuple(
            CatalogVersion(
                version=row.version,
                effective_at=from_us(row.effective_at_us),
                catalog=loads(row.catalog, Catalog),
            )
            for row in rows
        )
        with self._lock:
            if len(self.known) == len(known):
                self.known = known + added
            return self.known

    def at(self, state: OrgState, instant: datetime, day: date) -> Catalog:
        """The catalog the rules apply to ``state`` at ``instant``, local date ``day`` (R15).

        Args:
            state: the organization.
            instant: the command's or query's instant.
            day: its local date.

        Returns:
            The version in effect at ``instant``, each period under the terms of
            the version in effect at its start.
        """
        return self.in_effect(state, instant, day)[1]

    def in_effect(self, state: OrgState, instant: datetime, day: date) -> tuple[int, Catalog]:
        """The number of the version in effect at ``instant``, and :meth:`at`'s catalog.

        The catalog is a function of the state, the day and that number alone
        (versions never change once recorded), so a query's answer may be
        kept under it.
        """
        versions = self.known
        if len(versions) == 1:
            return versions[0].version, versions[0].catalog
        now = editions.version_at(versions, instant)
        key = (state.timezone, now.version)
        known = self._editions.get(key)
        if known is None:
            known = tuple(
                editions.Edition(
                    version=v.version,
                    catalog=v.catalog,
                    first_day=date.min if v.version == 1 else _first_day(v, state.timezone),
                )
                for v in versions[: now.version]
            )
            self._editions[key] = known
        return now.version, editions.catalog_for(state, day, known)
