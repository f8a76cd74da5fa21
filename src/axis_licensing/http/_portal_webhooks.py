"""The portal's webhooks page (SPEC §7): an organization's endpoints and failed deliveries.

A visitor allowed the vendor's commands also sees, and manages, the vendor-wide
endpoints there ("Every organization"), and may add one (SPEC §7: vendor-wide
endpoints through the portal too); the library asks ``vendor.webhooks`` for them.

``/orgs/{org}/webhooks`` lists the organization's endpoints (never a secret)
and its failed deliveries, with forms to add an endpoint, rotate its secret,
disable or enable it, remove it, and send a failed delivery again. Each form
carries the CSRF token and a fresh request id (SPEC §6.1), so a double submit
applies once.

A secret is shown once: adding an endpoint and rotating its secret answer
with the page itself (no redirect), the secret in it. A reload sends the same
request id, and the library answers with the same (derived) secret, so it
never has to be kept in the session. Every command goes through
``manager.webhooks``, which asks the authorize hook (action ``webhooks.add``,
…), so who may manage webhooks is the host's roles' decision (the owner's).
The failed deliveries shown are those the API shows the same visitor
(:func:`~axis_licensing.http._access.visible_failures`): a vendor-wide
endpoint's are the vendor's, not the organization's.
"""

from __future__ import annotations

from typing import Any

from litestar import Response
from litestar.params import URLEncodedBody
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from axis_licensing import errors
from axis_licensing.events.model import Delivery, WebhookEndpoint, event_types
from axis_licensing.http._access import vendor_reads, visible_failures
from axis_licensing.http._portal import (
    Form,
    Req,
    Seg,
    _CommandPage,
    _error_flash,
    _flash,
    _form_post,
    _org_url,
    _Page,
    _page_get,
    _request_id,
    render,
)

__all__ = ["ROUTES"]


def _failed(page: _Page, org_id: str) -> list[Delivery]:
    """The organization's failed deliveries that the visitor may see, as the API lists them."""
    return visible_failures(page.manager, page.actor, org_id)


def _vendor_wide(page: _Page) -> list[WebhookEndpoint] | None:
    """The vendor-wide endpoints, for a visitor allowed the vendor's; None for others."""
    if not vendor_reads(page.manager, page.actor):
        return None
    return [e for e in page.manager.webhooks.list(None) if e.org_id is None]


def _page(request: Req, org_id: str, *, shown: WebhookEndpoint | None = None) -> Response[Any]:
    page = _Page(request, org_id, "webhooks.list")
    hooks = page.manager.webhooks
    return render(
        request,
        "webhooks.html",
        **page.context(
            endpoints=hooks.list(org_id),
            wide=_vendor_wide(page),
            failed=_failed(page, org_id),
            shown=shown,
            event_types=sorted(event_types()),
            tab="webhooks",
        ),
    )


def _own(request: Req, org_id: str, endpoint_id: str) -> _Page:
    """The page of a command on ``endpoint_id``, refused unless it is this organization's.

    The actor must be allowed to list the endpoints; the Manager asks about the
    command itself when it runs it (SPEC §4).

    Raises:
        UnknownWebhook: no such endpoint here (another organization's is unknown too).
    """
    page = _Page(request, org_id, "webhooks.list")
    shown = [*page.manager.webhooks.list(org_id), *(_vendor_wide(page) or [])]
    if endpoint_id not in {e.endpoint_id for e in shown}:
        raise errors.UnknownWebhook(
            "unknown webhook endpoint", details={"endpoint_id": endpoint_id}
        )
    return page


@_page_get("/orgs/{org_id:str}/webhooks")
def webhooks(request: Req, org_id: Seg) -> Response[Any]:
    """The organization's webhook endpoints and failed deliveries."""
    return _page(request, org_id)


@_form_post("/orgs/{org_id:str}/webhooks/new")
def add_webhook(request: Req, org_id: Seg, data: URLEncodedBody[dict[str, Any]]) -> Response[Any]:
    """Add an endpoint (for every organization, when asked); the answer shows its secret, once."""
    page = _CommandPage(request, org_id, "webhooks.add")
    chosen = data.get("types")
    types = None if not chosen else [chosen] if isinstance(chosen, str) else list(chosen)
    try:
        added = page.manager.webhooks.add(
            None if data.get("everywhere") else org_id,  # the library asks vendor.webhooks
            str(data.get("url", "")).strip(),
            types=types,
            actor=page.actor,
            request_id=_request_id(data),
        )
    except errors.LicensingError as exc:
        _error_flash(request, exc)
        return Redirect(path=_org_url(org_id, "webhooks"))
    return _page(request, org_id, shown=added)


@_form_post("/orgs/{org_id:str}/webhooks/{endpoint_id:str}/{change:str}")
def change_webhook(
    request: Req,
    org_id: Seg,
    endpoint_id: Seg,
    change: Seg,
    data: Form,
) -> Response[Any]:
    """Rotate the secret (the answer shows it, once), disable, enable or remove an endpoint."""
    if change not in ("rotate", "disable", "enable", "remove"):
        raise errors.UnknownWebhook("unknown change", details={"endpoint_id": endpoint_id})
    rid = _request_id(data)
    try:
        page = _own(request, org_id, endpoint_id)
        hooks = page.manager.webhooks
        if change == "rotate":
            rotated = hooks.rotate_secret(endpoint_id, actor=page.actor, request_id=rid)
            return _page(request, org_id, shown=rotated)
        if change == "remove":
            hooks.remove(endpoint_id, actor=page.actor, request_id=rid)
            _flash(request, "success", "Webhook removed.")
        else:
            enabled = change == "enable"
            hooks.update(endpoint_id, enabled=enabled, actor=page.actor, request_id=rid)
            if enabled:
                _flash(request, "success", "Webhook enabled.")
            else:
                _flash(request, "success", "Webhook disabled.")
    except errors.LicensingError as exc:
        _error_flash(request, exc)
    return Redirect(path=_org_url(org_id, "webhooks"))


@_form_post("/orgs/{org_id:str}/deliveries/{delivery_id:str}/redeliver")
def redeliver(
    request: Req,
    org_id: Seg,
    delivery_id: Seg,
    data: Form,
) -> Response[Any]:
    """Send a failed delivery of this organization again."""
    page = _Page(request, org_id, "webhooks.failed")
    try:
        if delivery_id not in {d.delivery_id for d in _failed(page, org_id)}:
            raise errors.UnknownWebhook(
                "unknown webhook delivery", details={"delivery_id": delivery_id}
            )
        page.manager.webhooks.redeliver(delivery_id, actor=page.actor, request_id=_request_id(data))
        _flash(request, "success", "The delivery will be sent again.")
    except errors.LicensingError as exc:
        _error_flash(request, exc)
    return Redirect(path=_org_url(org_id, "webhooks"))


#: The routes of this page, registered by :func:`axis_licensing.http.create_app`.
ROUTES: list[ControllerRouterHandler] = [webhooks, add_webhook, change_webhook, redeliver]
