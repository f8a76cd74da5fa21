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

:func:`allow` is every request's check (SPEC §4, §8): the request's stored
token limits (some organizations, read-only) and the roles of the store,
then the authorize hooks. Once the store has accounts, an account's
organizations are its memberships, and only those are read for a listing.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from axis_licensing.errors import InvalidInput, PermissionDenied, UnknownOrganization
from axis_licensing.http._auth import TokenFile, request_token
from axis_licensing.manager import Manager
from axis_licensing.members.authorize import RolesPlugin
from axis_licensing.model import Organization
from axis_licensing.shell.operations import OPERATIONS, Kind

__all__ = ["LISTING_ACTION", "Ask", "allow", "manager_asks", "may", "visible_organizations"]

#: The action the authorize hook is asked with for seeing an organization in a list.
LISTING_ACTION = "organizations"

#: Actions on one's own account or on the store, which the library itself checks
#: (an account's own tokens and invitations, creating accounts; SPEC §8): a request
#: is only refused here when a read-only token would write.
_OWN_ACTIONS = frozenset(
    {
        "tokens.create",
        "tokens.list",
        "tokens.revoke",
        "members.accept",
        "accounts.create",
        "catalog_versions",
    }
)
_OWN_QUERIES = frozenset({"tokens.list", "catalog_versions"})

#: How many organizations one read of the store walks when filtering.
_WALK_PAGE = 500


@attrs.frozen
class Ask:
    """What a request asks: may ``actor`` run ``action`` on ``org_id`` (and ``product``)?

    ``action`` is a command, a query or a listing (:data:`LISTING_ACTION`); these
    are the arguments the authorize hooks are asked with (SPEC §4).
    """

    actor: str
    org_id: str | None
    action: str
    product: str | None = None


def manager_asks(name: str) -> bool:
    """Whether the Manager asks the authorize hooks itself about operation ``name`` (§4).

    It does for every command, once, after checking its input (the pipeline's,
    the webhooks' and the members'); never for a query, which takes no actor.
    """
    op = OPERATIONS.get(name)
    return op is not None and op.kind is Kind.COMMAND


def may(manager: Manager, ask: Ask, *, hook: bool = True) -> bool:
    """Whether ``ask.actor`` may run ``ask.action`` on ``ask.org_id``.

    The stored token of the request (if any) limits it to its organizations
    and, when read-only, to queries; the store's roles apply to queries too
    (SPEC §8: a viewer queries, an admin also commands, an owner also manages
    members, tokens and webhooks); then every authorize hook is asked (§4),
    unless ``hook`` is false: a command the Manager runs asks the hooks itself,
    once, after it has checked its input.

    Raises:
        StorageError: the store failed.
    """
    actor, org_id, action = ask.actor, ask.org_id, ask.action
    roles = manager.roles
    token = request_token()
    if action in _OWN_ACTIONS:  # the library checks who acts on whom (SPEC §8)
        return token is None or not token.read_only or action in _OWN_QUERIES
    if not hook:  # a command: the roles and the hooks are the Manager's to ask, once
        return token is None or (
            token.account_id == actor
            and not token.read_only
            and (org_id is None or token.reaches(org_id))
        )
    if (
        token is not None
        and roles is not None
        and not roles.permits(actor, org_id, action, token=token)
    ):
        return False
    return manager.plugin_manager.authorize(actor, org_id, action, ask.product)


def allow(manager: Manager, ask: Ask, *, hook: bool = True) -> None:
    """Refuse, before any read or write of ``ask.org_id``, what :func:`may` refuses.

    Raises:
        PermissionDenied: refused; the message says nothing about the organization.
        StorageError: the store failed.
    """
    if not may(manager, ask, hook=hook):
        raise PermissionDenied(f"actor {ask.actor!r} may not {ask.action} here")


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
        if not may(manager, Ask(actor, org.org_id, LISTING_ACTION)):
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

    That is when the store has accounts (an account's memberships, within its
    token's organizations), or when every authorize plugin is a tokens file
    (which never allows what another refuses) and one of them limits this actor.
    """
    impls = manager.plugin_manager.manager.hook.axis_licensing_authorize.get_hookimpls()
    plugins = [impl.plugin for impl in impls]
    bound: frozenset[str] | None = None
    roles = [p for p in plugins if isinstance(p, RolesPlugin)]
    if roles and roles[0].has_accounts():  # SPEC §8: an account sees its memberships only
        try:
            bound = frozenset(m.org_id for m in manager.members.of_account(actor))
        except InvalidInput:  # no account can have this id
            return frozenset()
        token = request_token()
        if token is not None and token.orgs is not None:
            bound &= frozenset(token.orgs)
    plugins = [p for p in plugins if not isinstance(p, RolesPlugin)]
    if bound is None and (not plugins or not all(isinstance(p, TokenFile) for p in plugins)):
        return None
    if bound is not None and not all(isinstance(p, TokenFile) for p in plugins):
        return bound  # the other plugins may refuse more: each is still asked
    for plugin in plugins:
        assert isinstance(plugin, TokenFile)
        orgs = plugin.organizations_of(actor)
        if orgs is not None:
            bound = orgs if bound is None else bound & orgs
    return bound
