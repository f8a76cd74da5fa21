"""The portal's pages for members and roles (SPEC §8): members, invitations, API tokens, setup.

- ``/orgs/{org}/members``: the organization's members and their roles; an
  owner invites (the one-time link is shown once), changes roles and removes;
- ``/invitations/{token}``: the invited account accepts, signed in;
- ``/account/tokens``: one's own API tokens (the secret shown once, then the
  prefix and last use), created and revoked;
- ``/setup/{secret}``: on a store without accounts, the one-time page that
  creates the first owner account (``serve`` prints its link).

Sign-in with an account and a password is in :mod:`._signin`. Every form
carries the CSRF token and a fresh request id; texts are gettext messages of
the page's language.
"""

from __future__ import annotations

import hmac
import secrets
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Response, get
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from axis_licensing import errors
from axis_licensing.http._access import check_new_token, check_revoke
from axis_licensing.http._i18n import N_
from axis_licensing.http._portal import (
    Form,
    Req,
    Seg,
    _actor,
    _error_flash,
    _flash,
    _form_post,
    _manager,
    _Page,
    _page_get,
    form_command,
    render,
)
from axis_licensing.members.model import Role

__all__ = ["ROUTES", "SETUP_KEY", "setup_link"]

#: The app state key of the one-time setup secret (a store without accounts).
SETUP_KEY = "members.setup_secret"


def setup_link(base_url: str, secret: str) -> str:
    """The one-time link that creates the first owner account."""
    return f"{base_url.rstrip('/')}/setup/{urllib.parse.quote(secret, safe='')}"


def _members_url(org_id: str) -> str:
    return f"/orgs/{urllib.parse.quote(org_id, safe='')}/members"


# -- members -------------------------------------------------------------------------------------


@_page_get("/orgs/{org_id:str}/members")
def members(request: Req, org_id: Seg) -> Response[Any]:
    """The organization's members; an owner's forms to invite, change roles and remove;
    a member's form to leave."""
    page = _Page(request, org_id, "members.list")
    listed = page.manager.members.list(org_id)
    names = _names(page, [m.account_id for m in listed])
    owner = page.manager.roles is None or page.manager.roles.permits(
        page.actor, org_id, "members.invite"
    )
    link = request.session.pop("invitation_link", None)
    return render(
        request,
        "members.html",
        **page.context(
            members=listed,
            names=names,
            owner=owner,
            member=any(m.account_id == page.actor for m in listed),
            roles=list(Role),
            link=link,
            tab="members",
        ),
    )


def _names(page: _Page, account_ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for account_id in account_ids:
        try:
            found[account_id] = page.manager.accounts.get(account_id).name
        except errors.LicensingError:
            found[account_id] = account_id
    return found


def _member_form(
    request: Req,
    org_id: str,
    data: dict[str, str],
    name: str,
    *,
    message: str,
    then: Callable[[Any], str] | None = None,
) -> Response[Any]:
    """Run member command ``name`` from its form (the library asks the roles, SPEC §8).

    After a success, ``message`` is flashed about the account the form names, and
    ``then(result)`` says where to go (the members page if None).
    """
    page = _Page(request, org_id, "members.list")
    account_id = str(data.get("account_id", "")).strip()

    def done(result: Any) -> str:
        _flash(request, "success", message, account=account_id)
        return _members_url(org_id) if then is None else then(result)

    back = _members_url(org_id)
    return form_command(page, name, data, back=back, done=done, org_id=org_id)


@_form_post("/orgs/{org_id:str}/members/invite")
def invite(request: Req, org_id: Seg, data: Form) -> Response[Any]:
    """Invite an account; the one-time link is shown once, on the members page."""

    def then(invitation: Any) -> str:
        base = str(request.base_url).rstrip("/")
        token = urllib.parse.quote(invitation.token, safe="")
        request.session["invitation_link"] = f"{base}/invitations/{token}"
        return _members_url(org_id)

    message = N_("Invitation created for %(account)s.")
    return _member_form(request, org_id, data, "members.invite", message=message, then=then)


@_form_post("/orgs/{org_id:str}/members/role")
def set_role(request: Req, org_id: Seg, data: Form) -> Response[Any]:
    """Change a member's role."""
    message = N_("The role of %(account)s was changed.")
    return _member_form(request, org_id, data, "members.set_role", message=message)


@_form_post("/orgs/{org_id:str}/members/remove")
def remove(request: Req, org_id: Seg, data: Form) -> Response[Any]:
    """Remove a member, or leave the organization."""
    leaving = str(data.get("account_id", "")).strip() == _actor(request)
    then = (lambda _: "/orgs") if leaving else None
    message = N_("%(account)s was removed.")
    return _member_form(request, org_id, data, "members.remove", message=message, then=then)


# -- invitations -----------------------------------------------------------------------------------


@get("/invitations/{link:str}", sync_to_thread=False, include_in_schema=False)
def invitation_page(request: Req, link: Seg) -> Response[Any]:
    """The accept page of an invitation (signed in as the account invited)."""
    page = _Page(request, None, "members.accept")
    return render(request, "accept.html", **page.context(link=link))


@_form_post("/invitations/{link:str}")
def accept(request: Req, link: Seg, data: Form) -> Response[Any]:
    """Accept the invitation: the signed-in account joins with the role invited."""
    page = _Page(request, None, "members.accept")
    try:
        membership = page.manager.members.accept(link, account_id=page.actor)
    except errors.LicensingError as exc:
        _error_flash(request, exc)
        return Redirect(path="/orgs")
    _flash(request, "success", "You joined %(org)s.", org=membership.org_id)
    return Redirect(path=f"/orgs/{urllib.parse.quote(membership.org_id, safe='')}/products")


# -- one's own API tokens -----------------------------------------------------------------------


@_page_get("/account/tokens")
def tokens(request: Req) -> Response[Any]:
    """One's own API tokens: prefix, limits, last use; the new secret once."""
    page = _Page(request, None, "tokens.list")
    listed = page.manager.tokens.list(page.actor) if _is_account(page) else []
    secret = request.session.pop("token_secret", None)
    return render(request, "tokens.html", **page.context(tokens=listed, secret=secret))


def _is_account(page: _Page) -> bool:
    try:
        page.manager.accounts.get(page.actor)
    except errors.LicensingError:
        return False
    return True


@_form_post("/account/tokens/new")
def create_token(request: Req, data: Form) -> Response[Any]:
    """Create a token; its secret is shown once."""
    page = _Page(request, None, "tokens.create")
    days = str(data.get("days", "")).strip()
    orgs = [o for o in str(data.get("orgs", "")).replace(",", " ").split() if o]
    try:
        if days and (not days.isdigit() or not 1 <= int(days) <= 3650):
            raise errors.InvalidInput("days must be a whole number from 1 to 3650", param="days")
        expires = datetime.now(UTC) + timedelta(days=int(days)) if days else None
        read_only = data.get("read_only") == "on"
        check_new_token(page.actor, orgs or None, read_only, expires)  # never wider (§8)
        issued = page.manager.tokens.create(
            page.actor,
            orgs=orgs or None,
            read_only=read_only,
            expires_at=expires,
            actor=page.actor,
        )
    except errors.LicensingError as exc:
        _error_flash(request, exc)
        return Redirect(path="/account/tokens")
    request.session["token_secret"] = issued.secret
    return Redirect(path="/account/tokens")


@_form_post("/account/tokens/revoke")
def revoke_token(request: Req, data: Form) -> Response[Any]:
    """Revoke one of one's tokens: it stops working at once."""
    page = _Page(request, None, "tokens.revoke")
    token_id = str(data.get("token_id", "")).strip()
    try:
        check_revoke(page.manager, page.actor, token_id)  # within a limited token's reach (§8)
        page.manager.tokens.revoke(token_id, actor=page.actor)
    except errors.LicensingError as exc:
        _error_flash(request, exc)
        return Redirect(path="/account/tokens")
    _flash(request, "success", "The token was revoked.")
    return Redirect(path="/account/tokens")


# -- bootstrap ---------------------------------------------------------------------------------


def _setup_secret(request: Req, given: str) -> bool:
    expected = request.app.state.get(SETUP_KEY)
    roles = _manager(request).roles
    if not isinstance(expected, str) or roles is None or roles.has_accounts():
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


@get("/setup/{secret:str}", sync_to_thread=False, include_in_schema=False)
def setup_page(request: Req, secret: Seg) -> Response[Any]:
    """Create the first owner account (works once, on a store without accounts)."""
    if not _setup_secret(request, secret):
        return render(request, "setup.html", http_status=404, secret=None)
    return render(request, "setup.html", secret=secret)


@_form_post("/setup/{secret:str}")
def setup(request: Req, secret: Seg, data: Form) -> Response[Any]:
    """Create the first account, a vendor account, and sign it in."""
    if not _setup_secret(request, secret):
        return render(request, "setup.html", http_status=404, secret=None)
    manager = _manager(request)
    account_id = str(data.get("account_id", "")).strip()
    try:
        manager.accounts.create(
            account_id,
            name=str(data.get("name", "")).strip() or account_id,
            password=str(data.get("password", "")),
            vendor=True,
            actor="system",
        )
    except errors.LicensingError as exc:
        _error_flash(request, exc)
        return Redirect(path=f"/setup/{urllib.parse.quote(secret, safe='')}")
    request.app.state[SETUP_KEY] = secrets.token_urlsafe(32)  # used: never again
    request.set_session({"account": account_id})
    return Redirect(path="/orgs")


ROUTES: list[ControllerRouterHandler] = [
    members,
    invite,
    set_role,
    remove,
    invitation_page,
    accept,
    tokens,
    create_token,
    revoke_token,
    setup_page,
    setup,
]
