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

A stored token's limits hold for everything the request makes the library
do: :class:`RequestLimits`, registered by :func:`axis_licensing.http.create_app`,
answers the authorize hook for the request's token, so a command whose
organization the library finds itself (a webhook endpoint's, a token's) is
refused outside the token's organizations, and every command for a
read-only token. The store-wide operations have their own rules
(:data:`GUARDS`): the vendor's jobs (``sweep``, ``deliver``), an account's
own tokens and invitations; and what a caller may *see* of webhooks and
deliveries is filtered (:func:`visible_webhooks`, :func:`visible_failures`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import attrs

from axis_licensing._validate import check_id
from axis_licensing.errors import InvalidInput, PermissionDenied, UnknownOrganization
from axis_licensing.events.model import Delivery, WebhookEndpoint
from axis_licensing.hookspecs import hookimpl
from axis_licensing.http._auth import TokenFile, request_token, request_token_as
from axis_licensing.manager import Manager
from axis_licensing.members.authorize import RolesPlugin
from axis_licensing.members.model import TokenInfo
from axis_licensing.model import Organization
from axis_licensing.shell.operations import OPERATIONS, Kind, Operation
from axis_licensing.shell.webhooks import VENDOR_ACTION

__all__ = [
    "GUARDS",
    "LISTING_ACTION",
    "VENDOR_ACTION",
    "Ask",
    "RequestLimits",
    "allow",
    "allow_command",
    "check_new_token",
    "check_revoke",
    "manager_asks",
    "may",
    "token_allows",
    "vendor_reads",
    "visible_failures",
    "visible_organizations",
    "visible_webhooks",
]

#: The action the authorize hook is asked with for seeing an organization in a list.
LISTING_ACTION = "organizations"

#: Actions on one's own account or on the store, which the library itself checks
#: (an account's own tokens and invitations, creating accounts; SPEC §8): here only
#: the request's token limits apply.
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

#: The actions without an organization that a token limited to some organizations may
#: still ask: its account's own tokens, within its limits (:data:`GUARDS`).
_LIMITED_OWN = frozenset({"tokens.create", "tokens.list", "tokens.revoke", "catalog_versions"})

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

    It does for every command that takes an actor, once, after checking its
    input (the pipeline's, the webhooks' and the members'); never for a query,
    which takes no actor, nor for the vendor's jobs (``sweep``, ``deliver``).
    """
    op = OPERATIONS.get(name)
    return op is not None and op.kind is Kind.COMMAND and op.action is not None


def _is_query(action: str) -> bool:
    op = OPERATIONS.get(action)
    return op is not None and op.kind is Kind.QUERY


def token_allows(token: TokenInfo | None, actor: str, org_id: str | None, action: str) -> bool:
    """Whether a request's stored ``token`` lets ``actor`` ask ``action`` on ``org_id`` (SPEC §8).

    A token acts for its own account only; a read-only one runs queries only;
    one limited to some organizations acts in those only, never vendor-wide
    or store-wide, except on its account's own tokens (which
    :func:`check_new_token` keeps within its limits). No token (a portal
    session, a tokens file's token) has no limits of its own.
    """
    if token is None:
        return True
    if token.account_id != actor:
        return False
    if token.read_only and not _is_query(action):
        return False
    if token.orgs is None:
        return True
    return action in _LIMITED_OWN if org_id is None else token.reaches(org_id)


class RequestLimits:
    """The authorize hook of the current request's stored token: its limits (SPEC §8).

    The library asks the hooks about every command with the organization it
    concerns, which it may find itself (a webhook endpoint's, the token
    revoked); the roles plugin answers for the account, and this plugin for
    the token the request came with (:func:`token_allows`), so an API token
    limited to some organizations, or read-only, is limited in everything
    the request makes the library do. Outside a request, or for a request
    without a stored token, it has no opinion. It is asked first, and never
    allows what another refuses.
    """

    @hookimpl(tryfirst=True)
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool | None:
        """Refuse what the request's stored token does not allow; no opinion otherwise."""
        return None if token_allows(request_token(), actor, org_id, action) else False


def may(manager: Manager, ask: Ask, *, hook: bool = True) -> bool:
    """Whether ``ask.actor`` may run ``ask.action`` on ``ask.org_id``.

    The stored token of the request (if any) limits it to its organizations
    and, when read-only, to queries (:func:`token_allows`); the store's roles
    apply to queries too (SPEC §8: a viewer queries, an admin also commands,
    an owner also manages members, tokens and webhooks); then every authorize
    hook is asked (§4), unless ``hook`` is false: a command the Manager runs
    asks the hooks itself, once, after it has checked its input. An action on
    one's own account is the library's to check (SPEC §8).

    Raises:
        StorageError: the store failed.
    """
    actor, org_id, action = ask.actor, ask.org_id, ask.action
    roles = manager.roles
    token = request_token()
    if not token_allows(token, actor, org_id, action):
        return False
    if action in _OWN_ACTIONS or not hook:
        return True
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


def allow_command(actor: str, action: str) -> None:
    """Refuse a command to a request whose stored token is another account's or read-only.

    For the store-wide commands, before their input is read: the organization
    they concern, if any, is the library's to find, and :class:`RequestLimits`
    applies the token's organizations when the library asks the hooks.

    Raises:
        PermissionDenied: a read-only token, or another account's.
    """
    token = request_token()
    if token is not None and (token.account_id != actor or token.read_only):
        raise PermissionDenied(f"actor {actor!r} may not {action} with this token")


def vendor_reads(manager: Manager, actor: str) -> bool:
    """Whether ``actor`` may see what is the vendor's: a caller allowed the vendor's commands.

    The vendor-wide webhook endpoints and their deliveries, and other accounts'
    tokens. Asked as the vendor's webhook command (``vendor.webhooks``, §7) of
    the roles (a vendor account) and the hooks (a tokens file's ``vendor =
    true``); a read-only token may read what its account may, a token limited
    to some organizations sees nothing vendor-wide.

    Raises:
        StorageError: the store failed.
    """
    token = request_token()
    reading = None if token is None else attrs.evolve(token, read_only=False)
    with request_token_as(reading):
        return may(manager, Ask(actor, None, VENDOR_ACTION))


class _Sees:
    """Whether ``actor`` may run query ``action`` on an organization; None: the vendor's."""

    def __init__(self, manager: Manager, actor: str, action: str) -> None:
        self._manager, self._actor, self._action = manager, actor, action
        self._known: dict[str | None, bool] = {}

    def __call__(self, org_id: str | None) -> bool:
        if org_id not in self._known:
            if org_id is None:
                seen = vendor_reads(self._manager, self._actor)
            else:
                seen = may(self._manager, Ask(self._actor, org_id, self._action))
            self._known[org_id] = seen
        return self._known[org_id]


def _asked_org(manager: Manager, actor: str, action: str, org_id: object) -> str | None:
    """An organization a listing names, checked as the library checks it, then allowed."""
    if org_id is None:
        return None
    checked = OPERATIONS[action].param("org_id").validate(org_id, {}, manager)
    assert isinstance(checked, str)
    allow(manager, Ask(actor, checked, action))
    return checked


def visible_webhooks(manager: Manager, actor: str, org_id: object = None) -> list[WebhookEndpoint]:
    """The webhook endpoints ``actor`` may see (SPEC §6.1, §7), secrets left out.

    With ``org_id``, that organization's, if the actor may ``webhooks.list``
    there (else refused); without, each organization's endpoints the actor
    may list, and the vendor-wide ones to a caller allowed the vendor's
    commands (:func:`vendor_reads`).

    Raises:
        InvalidInput: a malformed ``org_id``.
        PermissionDenied: the actor may not list ``org_id``'s endpoints.
        StorageError: the store failed.
    """
    asked = _asked_org(manager, actor, "webhooks.list", org_id)
    if asked is not None:
        return manager.webhooks.list(asked)
    sees = _Sees(manager, actor, "webhooks.list")
    return [e for e in manager.webhooks.list() if sees(e.org_id)]


def visible_failures(manager: Manager, actor: str, org_id: object = None) -> list[Delivery]:
    """The failed deliveries ``actor`` may see (SPEC §6.1, §7), oldest first.

    A delivery is its endpoint's: an organization's endpoint's deliveries are
    seen by who may ``webhooks.failed`` there, a vendor-wide endpoint's (or a
    removed one's) by a caller allowed the vendor's commands, whichever
    organization's event it carries. With ``org_id``, only that organization's
    events, if the actor may ``webhooks.failed`` there (else refused).

    Raises:
        InvalidInput: a malformed ``org_id``.
        PermissionDenied: the actor may not list ``org_id``'s deliveries.
        StorageError: the store failed.
    """
    asked = _asked_org(manager, actor, "webhooks.failed", org_id)
    owner = {e.endpoint_id: e.org_id for e in manager.webhooks.list()}
    sees = _Sees(manager, actor, "webhooks.failed")
    return [d for d in manager.webhooks.failed(asked) if sees(owner.get(d.endpoint_id))]


def check_new_token(
    actor: str, orgs: object, read_only: object, expires_at: object, action: str = "tokens.create"
) -> None:
    """Refuse a token wider than the request's own stored token (SPEC §8).

    A token limited to some organizations makes tokens limited to some of
    them; a read-only one, read-only ones; one that expires, ones that expire
    no later. Values of another form are left to the library, which refuses
    them.

    Raises:
        PermissionDenied: the new token would be wider.
    """
    token = request_token()
    if token is None:
        return
    wider = (token.read_only and read_only is not True) or (
        token.orgs is not None
        and (
            orgs is None
            or (
                isinstance(orgs, list)
                and all(isinstance(o, str) for o in orgs)
                and not set(orgs) <= set(token.orgs)
            )
        )
    )
    if token.expires_at is not None:
        if expires_at is None:
            wider = True
        elif isinstance(expires_at, datetime) and expires_at.tzinfo is not None:
            wider = wider or expires_at > token.expires_at
    if wider:
        raise PermissionDenied(
            f"actor {actor!r} may not {action}: a token may not make a token wider than itself"
        )


def check_revoke(manager: Manager, actor: str, token_id: object) -> None:
    """Refuse a token limited to some organizations revoking its account's wider tokens.

    Another account's token is revoked as an owner of an organization it
    reaches, which the library asks the hooks about (:class:`RequestLimits`
    then holds the request's token to its organizations).

    Raises:
        PermissionDenied: the token revoked is wider than the request's.
        StorageError: the store failed.
    """
    token = request_token()
    if token is None or token.orgs is None or token.account_id != actor:
        return
    for own in manager.tokens.list(actor):
        if own.token_id == token_id and (own.orgs is None or not set(own.orgs) <= set(token.orgs)):
            raise PermissionDenied(
                f"actor {actor!r} may not tokens.revoke: the token reaches further than this one"
            )


def _vendor_job(manager: Manager, actor: str, op: Operation, values: Mapping[str, Any]) -> None:
    op.checked(op.bind(values), manager)  # its input first, as every command (SPEC §4)
    if not may(manager, Ask(actor, None, f"vendor.{op.name}")):  # vendor.sweep, vendor.deliver
        raise PermissionDenied(f"actor {actor!r} may not {op.name}: it is the vendor's")


def _accept(manager: Manager, actor: str, op: Operation, values: Mapping[str, Any]) -> None:
    account_id = values.get("account_id")
    try:
        account_id = check_id(account_id, "account_id")
    except InvalidInput:
        return  # the library refuses it as it is
    if account_id != actor:
        raise PermissionDenied(f"actor {actor!r} may not accept another account's invitation")


def _new_token(manager: Manager, actor: str, op: Operation, values: Mapping[str, Any]) -> None:
    check_new_token(actor, values.get("orgs"), values.get("read_only"), values.get("expires_at"))


def _tokens_of(manager: Manager, actor: str, op: Operation, values: Mapping[str, Any]) -> None:
    if values.get("account_id") != actor and not vendor_reads(manager, actor):
        raise PermissionDenied(f"actor {actor!r} may not list another account's tokens")


def _revoke(manager: Manager, actor: str, op: Operation, values: Mapping[str, Any]) -> None:
    check_revoke(manager, actor, values.get("token_id"))


Guard = Callable[[Manager, str, Operation, Mapping[str, Any]], None]

#: The rules of store-wide operations, run with their values before the Manager runs them:
#: the vendor's jobs, an account's own invitations and tokens (SPEC §7, §8).
GUARDS: Mapping[str, Guard] = {
    "sweep": _vendor_job,
    "deliver": _vendor_job,
    "members.accept": _accept,
    "tokens.create": _new_token,
    "tokens.list": _tokens_of,
    "tokens.revoke": _revoke,
}


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
    plugins = [p for p in plugins if not isinstance(p, RolesPlugin | RequestLimits)]
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
