"""The webhook endpoint commands' own steps (SPEC §7): check the input, build the rows.

The shell runs each of ``manager.webhooks.add / change / rotate_secret / remove``
as a recorded command: authorize, idempotency, then one of these builders, then
the storage call (:class:`~axis_licensing.events.store.EventsTx`) in the
command's transaction, and an activity whose details come from
:func:`endpoint_details`, which never holds a secret.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import attrs

from axis_licensing.errors import InvalidInput
from axis_licensing.events.model import WebhookEndpoint, check_event_types
from axis_licensing.events.signing import new_secret
from axis_licensing.events.store import EndpointRow, to_us, types_json
from axis_licensing.events.transport import check_url

__all__ = [
    "ROTATION_OVERLAP",
    "changed_endpoint",
    "duplicate_endpoint",
    "endpoint_details",
    "new_endpoint",
    "new_endpoint_id",
    "rotated_endpoint",
]

#: How long the previous secret still signs after a rotation (both signatures are sent).
ROTATION_OVERLAP = timedelta(hours=24)


def new_endpoint_id() -> str:
    """A fresh endpoint id: ``wh_`` and 24 random hex digits."""
    return "wh_" + secrets.token_hex(12)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be True or False, got {value!r}", param=name)
    return value


def new_endpoint(
    org_id: str | None,
    url: str,
    *,
    now: datetime,
    types: Iterable[str] | None = None,
    allow_http: bool = False,
    allow_private: bool = False,
    endpoint_id: str | None = None,
) -> tuple[EndpointRow, WebhookEndpoint]:
    """Check a new endpoint and build it, with a fresh secret.

    Args:
        org_id: the organization (already checked by the shell), None for vendor-wide.
        url: where events go.
        now: the command's instant (its ``created_at``).
        types: the event types it receives; None for all.
        allow_http: plain http allowed (loopback testing).
        allow_private: private, loopback and link-local addresses allowed.
        endpoint_id: its id; default a fresh one.

    Returns:
        The row to store, and the value to answer with: the only one that
        carries the secret.

    Raises:
        InvalidInput: a bad URL, scheme or address (``param="url"``), an unknown
            event type (``param="types"``) or a flag that is not a bool.
    """
    endpoint = WebhookEndpoint(
        endpoint_id=endpoint_id or new_endpoint_id(),
        org_id=org_id,
        url=check_url(url, allow_http=allow_http, allow_private=allow_private),
        types=check_event_types(types),
        enabled=True,
        allow_http=allow_http,
        allow_private=allow_private,
        created_at=now,
    )
    secret = new_secret()
    return EndpointRow.new(endpoint, secret), attrs.evolve(endpoint, secret=secret)


_KEEP: Any = object()


def changed_endpoint(
    row: EndpointRow,
    *,
    url: str = _KEEP,
    types: Iterable[str] | None = _KEEP,
    enabled: bool = _KEEP,
    allow_http: bool = _KEEP,
    allow_private: bool = _KEEP,
) -> EndpointRow:
    """``row`` with the given fields changed (each checked, the URL against the new flags).

    Raises:
        InvalidInput: a bad URL, event type or flag; the URL no longer allowed by
            changed flags.
    """
    http = bool(row.allow_http) if allow_http is _KEEP else _flag(allow_http, "allow_http")
    private = (
        bool(row.allow_private) if allow_private is _KEEP else _flag(allow_private, "allow_private")
    )
    new_url = check_url(row.url if url is _KEEP else url, allow_http=http, allow_private=private)
    new_types = row.types if types is _KEEP else types_json(check_event_types(types))
    return attrs.evolve(
        row,
        url=new_url,
        types=new_types,
        enabled=row.enabled if enabled is _KEEP else int(_flag(enabled, "enabled")),
        allow_http=int(http),
        allow_private=int(private),
    )


def rotated_endpoint(
    row: EndpointRow, now: datetime, overlap: timedelta = ROTATION_OVERLAP
) -> tuple[EndpointRow, WebhookEndpoint]:
    """``row`` with a fresh secret; the old one still signs for ``overlap``.

    Returns:
        The row to store, and the value to answer with (the new secret, shown once).
    """
    secret = new_secret()
    rotated = attrs.evolve(
        row,
        secret=secret,
        previous_secret=row.secret,
        previous_until_us=to_us(now + overlap),
    )
    return rotated, rotated.endpoint(with_secret=True)


def endpoint_details(row: EndpointRow) -> dict[str, Any]:
    """An endpoint's fields for the history and events: never its secrets."""
    endpoint = row.endpoint()
    return {
        "endpoint_id": endpoint.endpoint_id,
        "org_id": endpoint.org_id,
        "url": endpoint.url,
        "types": None if endpoint.types is None else list(endpoint.types),
        "enabled": endpoint.enabled,
        "allow_http": endpoint.allow_http,
        "allow_private": endpoint.allow_private,
    }


def duplicate_endpoint(url: str) -> InvalidInput:
    """The error for a URL its scope already has (``insert_endpoint`` returned False)."""
    return InvalidInput(f"a webhook endpoint with the URL {url!r} already exists here", param="url")
