"""What a caller may see: organizations filtered before they are paged (SPEC §6.1).

Listing asks the authorize hook about each organization *before* it counts
it against ``offset`` and ``limit``, so ``limit=1`` returns the caller's
first organization, and a caller whose organization sorts after any number
of others still sees it. A page costs what it answers where the plugins allow:
when the only authorize plugins are tokens files, the actor's organizations
are known, and only those are read; otherwise the store is walked in pages,
filtering, until the page is full.

A page that shows one organization reads that one directly
(:meth:`~axis_licensing.Manager.organization`); it never looks for it in a page of them.
"""

from __future__ import annotations

from collections.abc import Iterator

from axis_licensing.errors import UnknownOrganization
from axis_licensing.http._auth import TokenFile
from axis_licensing.manager import Manager
from axis_licensing.model import Organization

__all__ = ["LISTING_ACTION", "visible_organizations"]

#: The action the authorize hook is asked with for seeing an organization in a list.
LISTING_ACTION = "organizations"

#: How many organizations one read of the store walks when filtering.
_WALK_PAGE = 500


def visible_organizations(
    manager: Manager, actor: str, *, limit: int, offset: int = 0
) -> list[Organization]:
    """The organizations ``actor`` may see, by id, filtered and then paged.

    Args:
        manager: the Manager.
        actor: who asks.
        limit: at most this many.
        offset: skip this many of those the actor may see.

    Returns:
        The page, in the store's order (byte order of the ids' UTF-8 text).

    Raises:
        StorageError: the backend failed.
    """
    found: list[Organization] = []
    skip = offset
    for org in _candidates(manager, actor, wanted=offset + limit):
        if not manager.plugin_manager.authorize(actor, org.org_id, LISTING_ACTION, None):
            continue
        if skip:
            skip -= 1
            continue
        found.append(org)
        if len(found) >= limit:
            break
    return found


def _candidates(manager: Manager, actor: str, *, wanted: int) -> Iterator[Organization]:
    """The organizations that may be visible to ``actor``, in order, read lazily.

    The store is read in pages: the first as large as the ``wanted`` count (a
    page of 1 reads 1 when the caller sees everything), doubling up to
    :data:`_WALK_PAGE` when filtering leaves it short.
    """
    known = _known_organizations(manager, actor)
    if known is not None:
        for org_id in sorted(known):  # code point order is UTF-8 byte order
            try:
                yield manager.organization(org_id)
            except UnknownOrganization:
                continue
        return
    start, size = 0, max(1, min(wanted, _WALK_PAGE))
    while True:
        listed = manager.organizations(limit=size, offset=start)
        if not listed:
            return
        yield from listed
        start += size
        size = min(size * 2, _WALK_PAGE)


def _known_organizations(manager: Manager, actor: str) -> frozenset[str] | None:
    """The only organizations ``actor`` can be allowed, when the plugins say so; else None.

    That is when every authorize plugin is a tokens file (which never allows
    what another refuses) and at least one of them limits this actor.
    """
    impls = manager.plugin_manager.manager.hook.axis_licensing_authorize.get_hookimpls()
    plugins = [impl.plugin for impl in impls]
    if not plugins or not all(isinstance(p, TokenFile) for p in plugins):
        return None
    bound: frozenset[str] | None = None
    for plugin in plugins:
        assert isinstance(plugin, TokenFile)
        orgs = plugin.organizations_of(actor)
        if orgs is not None:
            bound = orgs if bound is None else bound & orgs
    return bound
