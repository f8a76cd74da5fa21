"""``manager.webhooks``: the webhook endpoint commands and queries (SPEC §7).

Adding, changing, rotating the secret of and removing an endpoint, and
redelivering a delivery, are recorded commands. :meth:`Webhooks._command`
checks them by their declarations
(:data:`~axis_licensing.shell.operations.OPERATIONS`) and authorizes them outside
any transaction; the one shell (:meth:`~axis_licensing.shell.pipeline.Pipeline._once`)
then runs them as it runs every command: in one write transaction, lock the
organization, judge the ``request_id`` (R13), change the store, append the
activity (``webhook_added``, …, never a secret) and its event, remember the
result, commit; then wake the dispatcher and tell the activity observers. Their
docstrings leave out the ``Raises:`` lines every command shares;
:func:`~axis_licensing.shell.operations.documented` adds them.

**Where they are recorded.** An organization's endpoint commands are activities
of that organization's history (and so events). Vendor-wide endpoints (``org_id``
None) belong to no organization: like the vendor's other commands (``issue_key``,
``ship_hardware``), they are authorized as ``"vendor.webhooks"``, remembered
under the vendor's idempotency scope, and logged (logger ``axis_licensing.events``,
level INFO, never the secret); no organization's history holds them (R1).

**Secrets and replays.** The secret is in the answer of ``add`` and
``rotate_secret`` only. With a ``request_id``, the secret is not random but
derived from the store's signing key and the request id (as ``issue_key``
derives its key, R10), so a replay returns the same secret while the requests
table keeps the endpoint without it.
"""

from __future__ import annotations

import base64
import builtins
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from axis_licensing._convert import dumps, loads
from axis_licensing._time import to_us
from axis_licensing.backends import RequestRow, WriteTx
from axis_licensing.errors import (
    UnknownWebhook,
)
from axis_licensing.events.endpoints import (
    changed_endpoint,
    duplicate_endpoint,
    new_endpoint,
    rotated_endpoint,
)
from axis_licensing.events.model import Delivery, DeliveryState, WebhookEndpoint
from axis_licensing.events.signing import SECRET_PREFIX
from axis_licensing.events.store import VENDOR_SCOPE as VENDOR_ENDPOINTS
from axis_licensing.events.store import EndpointRow, events_of
from axis_licensing.policy.facts import (
    FactData,
    WebhookAdded,
    WebhookChanged,
    WebhookFields,
    WebhookRedelivered,
    WebhookRemoved,
    WebhookSecretRotated,
)
from axis_licensing.shell import history as _history
from axis_licensing.shell.operations import OPERATIONS, documented
from axis_licensing.shell.transact import record_facts, unknown_organization

if TYPE_CHECKING:
    from axis_licensing.shell.pipeline import Pipeline

__all__ = ["VENDOR_ACTION", "Webhooks"]

#: The authorize hook's action for every vendor-wide endpoint command (SPEC §7).
VENDOR_ACTION = "vendor.webhooks"

_log = logging.getLogger("axis_licensing.events")

# what one endpoint command does in its transaction: (answer, stored answer, fact)
_Work = Callable[[WriteTx, datetime], tuple[object, str, FactData | None]]


def _fields(cls: type[WebhookFields], row: EndpointRow) -> WebhookFields:
    endpoint = row.endpoint()
    return cls(
        endpoint_id=endpoint.endpoint_id,
        url=endpoint.url,
        types=None if endpoint.types is None else builtins.list(endpoint.types),
        enabled=endpoint.enabled,
        allow_http=endpoint.allow_http,
        allow_private=endpoint.allow_private,
    )


class Webhooks:
    """Webhook endpoints and their deliveries: ``manager.webhooks`` (SPEC §7)."""

    def __init__(self, shell: Pipeline) -> None:
        self._shell = shell

    # -- queries --------------------------------------------------------------------------------

    def list(self, org_id: str | None = None) -> builtins.list[WebhookEndpoint]:
        """The endpoints, secrets left out, by ``endpoint_id``.

        Args:
            org_id: an organization's own endpoints; None: every endpoint (the
                vendor's view: the vendor-wide ones and every organization's).

        Returns:
            The endpoints, ``secret`` None.

        Raises:
            InvalidInput: a bad id.
            UnknownOrganization: no organization has the id ``org_id``.
            StorageError: the backend failed.
        """
        a = OPERATIONS["webhooks.list"].checked(locals(), self._shell)
        scope = a["org_id"]

        def look(tx: Any) -> builtins.list[EndpointRow]:
            _known(tx, scope)
            return events_of(tx).endpoint_rows(scope)

        return [row.endpoint() for row in self._shell._read(look)]

    def failed(self, org_id: str | None = None) -> builtins.list[Delivery]:
        """The deliveries given up on after three days of retries, oldest first.

        Args:
            org_id: only this organization's events; None: all.

        Returns:
            The failed deliveries (redeliver them with :meth:`redeliver`).

        Raises:
            InvalidInput: a bad id.
            UnknownOrganization: no organization has the id ``org_id``.
            StorageError: the backend failed.
        """
        a = OPERATIONS["webhooks.failed"].checked(locals(), self._shell)

        def look(tx: Any) -> builtins.list[Delivery]:
            _known(tx, a["org_id"])
            return events_of(tx).deliveries(a["org_id"], DeliveryState.FAILED)

        return self._shell._read(look)

    # -- commands -------------------------------------------------------------------------------

    @documented("webhooks.add", args=False)
    def add(
        self,
        org_id: str | None,
        url: str,
        *,
        types: Iterable[str] | None = None,
        actor: str,
        request_id: str | None = None,
        allow_http: bool = False,
        allow_private: bool = False,
    ) -> WebhookEndpoint:
        """Add an endpoint that receives the organization's events (or every one's).

        Args:
            org_id: the organization; None: vendor-wide (every organization's events).
            url: where events are POSTed: ``https``, a public address.
            types: the event types it receives; None: every type.
            actor: who acts.
            request_id: makes it idempotent (R13): a repeat returns the same
                endpoint and secret.
            allow_http: allow plain ``http`` (loopback testing).
            allow_private: allow private, loopback and link-local addresses.

        Returns:
            The endpoint, with its ``whsec_`` secret: the only time it is shown.

        Raises:
            InvalidInput: a bad URL, scheme or address, an unknown event type, a
                URL this organization (or the vendor) already has, a bad flag, id,
                actor or request id.
            UnknownOrganization: no such organization.
        """
        a = OPERATIONS["webhooks.add"].checked(locals(), self._shell)
        org = a["org_id"]

        def work(tx: WriteTx, now: datetime) -> tuple[object, str, FactData | None]:
            row, endpoint = new_endpoint(
                org,
                a["url"],
                now=now,
                types=a["types"],
                allow_http=a["allow_http"],
                allow_private=a["allow_private"],
            )
            secret = self._secret(org, a["request_id"], "add")
            if secret is not None:
                row = attrs.evolve(row, secret=secret)
                endpoint = attrs.evolve(endpoint, secret=secret)
            if not events_of(tx).insert_endpoint(row):
                raise duplicate_endpoint(endpoint.url)
            return endpoint, dumps(attrs.evolve(endpoint, secret=None)), _fields(WebhookAdded, row)

        def replay(stored: str) -> object:
            endpoint = loads(stored, WebhookEndpoint)
            return attrs.evolve(endpoint, secret=self._secret(org, a["request_id"], "add"))

        endpoint: WebhookEndpoint = self._command("webhooks.add", org, a, work, replay)
        return endpoint

    @documented("webhooks.update", args=False)
    def update(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        types: Iterable[str] | None = None,
        enabled: bool | None = None,
        actor: str,
        request_id: str | None = None,
    ) -> WebhookEndpoint:
        """Change an endpoint's URL or event types, or disable (enable) it.

        A disabled endpoint's deliveries wait, pending, until it is enabled again.

        Args:
            endpoint_id: the endpoint.
            url: the new URL (checked against the endpoint's allowances); None keeps it.
            types: the new event types; None keeps them.
            enabled: False disables, True enables; None keeps it.
            actor: who acts.
            request_id: makes it idempotent (R13).

        Returns:
            The endpoint after the change, secret left out.

        Raises:
            InvalidInput: a bad URL, scheme or address, an unknown event type, a
                URL the endpoint's scope already has, a bad flag, id, actor or request id.
            UnknownWebhook: no such endpoint.
        """
        a = OPERATIONS["webhooks.update"].checked(locals(), self._shell)
        changes = {k: a[k] for k in ("url", "types", "enabled") if a[k] is not None}

        def work(tx: WriteTx, now: datetime) -> tuple[object, str, FactData | None]:
            row = self._row(tx, a["endpoint_id"])
            new = changed_endpoint(row, **changes)
            if new != row and not events_of(tx).update_endpoint(new):
                raise duplicate_endpoint(new.url)
            endpoint = new.endpoint()
            fact = _fields(WebhookChanged, new) if new != row else None
            return endpoint, dumps(endpoint), fact

        org = self._scope_of(a["endpoint_id"])
        changed: WebhookEndpoint = self._command(
            "webhooks.update", org, a, work, lambda s: loads(s, WebhookEndpoint)
        )
        return changed

    @documented("webhooks.rotate_secret", args=False)
    def rotate_secret(
        self, endpoint_id: str, *, actor: str, request_id: str | None = None
    ) -> WebhookEndpoint:
        """Give an endpoint a new secret; the previous one still signs for 24 hours.

        During that time every delivery carries both signatures, so the receiver
        can switch over.

        Args:
            endpoint_id: the endpoint.
            actor: who acts.
            request_id: makes it idempotent (R13): a repeat returns the same secret.

        Returns:
            The endpoint with its new secret: the only time it is shown.

        Raises:
            InvalidInput: a bad id, actor or request id.
            UnknownWebhook: no such endpoint.
        """
        a = OPERATIONS["webhooks.rotate_secret"].checked(locals(), self._shell)
        org = self._scope_of(a["endpoint_id"])
        label = "rotate:" + a["endpoint_id"]

        def work(tx: WriteTx, now: datetime) -> tuple[object, str, FactData | None]:
            row, endpoint = rotated_endpoint(self._row(tx, a["endpoint_id"]), now)
            secret = self._secret(org, a["request_id"], label)
            if secret is not None:
                row = attrs.evolve(row, secret=secret)
                endpoint = attrs.evolve(endpoint, secret=secret)
            events_of(tx).update_endpoint(row)
            stored = dumps(attrs.evolve(endpoint, secret=None))
            return endpoint, stored, _fields(WebhookSecretRotated, row)

        def replay(stored: str) -> object:
            endpoint = loads(stored, WebhookEndpoint)
            return attrs.evolve(endpoint, secret=self._secret(org, a["request_id"], label))

        rotated: WebhookEndpoint = self._command("webhooks.rotate_secret", org, a, work, replay)
        return rotated

    @documented("webhooks.remove", args=False)
    def remove(self, endpoint_id: str, *, actor: str, request_id: str | None = None) -> None:
        """Remove an endpoint, and its deliveries not delivered yet.

        Args:
            endpoint_id: the endpoint.
            actor: who acts.
            request_id: makes it idempotent (R13).

        Raises:
            InvalidInput: a bad id, actor or request id.
            UnknownWebhook: no such endpoint.
        """
        a = OPERATIONS["webhooks.remove"].checked(locals(), self._shell)
        # The endpoint is gone once removed, and with it the organization whose scope
        # holds the request id; so the removal also remembers the id under the
        # endpoint's own name, where a replay finds it (R13).
        request_id = a["request_id"]
        gone = None
        if request_id is not None:
            fingerprint = _fingerprint("webhooks.remove", a)
            gone = RequestRow(_removed_scope(a["endpoint_id"]), request_id, fingerprint, "null")

        def work(tx: WriteTx, now: datetime) -> tuple[object, str, FactData | None]:
            row = self._row(tx, a["endpoint_id"])
            events_of(tx).delete_endpoint(row.endpoint_id)
            if gone is not None:
                tx.put_request(gone)
            return None, "null", _fields(WebhookRemoved, row)

        try:
            org = self._scope_of(a["endpoint_id"])
        except UnknownWebhook:
            if gone is not None and self._repeats(gone):
                return  # a repeat of the removal that made it unknown: its first result
            raise
        self._command("webhooks.remove", org, a, work, lambda s: None)

    @documented("webhooks.redeliver", args=False)
    def redeliver(self, delivery_id: str, *, actor: str, request_id: str | None = None) -> None:
        """Make a delivery due again now, with a fresh three-day window of retries.

        A delivery being sent right now is left as it is.

        Args:
            delivery_id: the delivery (see :meth:`failed`).
            actor: who acts.
            request_id: makes it idempotent (R13).

        Raises:
            InvalidInput: a bad id, actor or request id.
            UnknownWebhook: no such delivery (``details["delivery_id"]``).
        """
        a = OPERATIONS["webhooks.redeliver"].checked(locals(), self._shell)
        delivery_id = a["delivery_id"]

        def look(tx: Any) -> str | None:
            row = events_of(tx).delivery_row(delivery_id)
            if row is None:
                raise _unknown_delivery(delivery_id)
            endpoint = events_of(tx).endpoint_row(row.endpoint_id)
            # a vendor-wide endpoint's deliveries are the vendor's business
            return None if endpoint is None or endpoint.scope == VENDOR_ENDPOINTS else row.org_id

        org = self._shell._read(look)

        def work(tx: WriteTx, now: datetime) -> tuple[object, str, FactData | None]:
            row = events_of(tx).redeliver(delivery_id, to_us(now))
            if row is None:
                raise _unknown_delivery(delivery_id)
            fact = WebhookRedelivered(row.delivery_id, row.event_id, row.endpoint_id)
            return None, "null", fact

        self._command("webhooks.redeliver", org, a, work, lambda s: None)

    # -- the runner -------------------------------------------------------------------------------

    def _scope_of(self, endpoint_id: str) -> str | None:
        """The organization of an endpoint (None: vendor-wide).

        Raises:
            UnknownWebhook: no such endpoint.
        """
        row = self._shell._read(lambda tx: events_of(tx).endpoint_row(endpoint_id))
        if row is None:
            raise _unknown_endpoint(endpoint_id)
        return None if row.scope == VENDOR_ENDPOINTS else row.scope

    def _repeats(self, request: RequestRow) -> bool:
        """Whether ``request`` was remembered already, with the same arguments."""
        return (
            self._shell._read(lambda tx: tx.request(request.scope, request.request_id)) == request
        )

    @staticmethod
    def _row(tx: WriteTx, endpoint_id: str) -> EndpointRow:
        row = events_of(tx).endpoint_row(endpoint_id)
        if row is None:
            raise _unknown_endpoint(endpoint_id)
        return row

    def _secret(self, org_id: str | None, request_id: str | None, label: str) -> str | None:
        """The secret of a command with ``request_id`` (derived); None: a random one."""
        if request_id is None:
            return None
        scope = "vendor" if org_id is None else f"org:{org_id}"
        raw = self._shell._deriver.derived(f"webhook-secret:{scope}:{label}:{request_id}")
        return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")

    def _command(
        self,
        name: str,
        org_id: str | None,
        checked: Mapping[str, Any],
        work: _Work,
        replay: Callable[[str], object],
    ) -> Any:
        """Run an endpoint command (see the module docstring).

        Raises:
            UnknownOrganization: ``org_id`` does not exist.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: the request id was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
            LicensingError: what ``work`` raises.
        """
        shell = self._shell
        actor, request_id = checked["actor"], checked["request_id"]
        shell._authorize(actor, org_id, name if org_id is not None else VENDOR_ACTION, None)
        scope = "vendor" if org_id is None else f"org:{org_id}"
        fingerprint = "" if request_id is None else _fingerprint(name, checked)

        def run(tx: WriteTx, now: datetime) -> tuple[object, str]:
            result, stored, fact = work(tx, now)
            if fact is not None and org_id is not None:
                details = _history.details_of(fact)
                record_facts(tx, org_id, actor, [(str(fact.ACTION), details)], now)
            return result, stored

        result = shell._once(
            scope, request_id, fingerprint, run, lambda tx, text: replay(text), org_id=org_id
        )
        if org_id is None:
            _log.info("vendor webhook command %s by %r", name, actor)
        return result


def _known(tx: Any, org_id: str | None) -> None:
    """Refuse an organization that does not exist (None: the vendor's view, always known).

    Raises:
        UnknownOrganization: no organization has the id ``org_id``.
    """
    if org_id is not None and tx.head(org_id) is None:
        raise unknown_organization(org_id)


def _fingerprint(name: str, checked: Mapping[str, Any]) -> str:
    """What a request id remembers of a command's arguments (its actor aside)."""
    given = {k: v for k, v in checked.items() if k not in ("actor", "request_id")}
    return json.dumps([name, given], sort_keys=True, default=str)


def _removed_scope(endpoint_id: str) -> str:
    """The request ids' scope of the removal of ``endpoint_id``."""
    return f"webhook-removed:{endpoint_id}"


def _unknown_endpoint(endpoint_id: str) -> UnknownWebhook:
    return UnknownWebhook(
        f"unknown webhook endpoint {endpoint_id!r}", details={"endpoint_id": endpoint_id}
    )


def _unknown_delivery(delivery_id: str) -> UnknownWebhook:
    return UnknownWebhook(
        f"unknown webhook delivery {delivery_id!r}", details={"delivery_id": delivery_id}
    )
