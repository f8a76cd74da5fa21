"""The plugin hooks of axis-licensing (SPEC §4).

Plugins implement these with :data:`axis_licensing.hookimpl`; they are found
in the ``axis_licensing`` entry-point group or passed to ``Manager.open(plugins=...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from axis_licensing.backends import BackendRegistry
    from axis_licensing.model import Activity, Alert

__all__ = ["hookimpl", "hookspec"]

PROJECT = "axis_licensing"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def axis_licensing_register_backends(registry: BackendRegistry) -> None:
    """Register storage backends: call ``registry.add(scheme, factory)`` for each.

    ``factory(url)`` returns a :class:`axis_licensing.backends.Backend`. A factory
    that also takes a keyword ``create`` (``factory(url, *, create=True)``) is told
    whether it may create the store: with ``create=False`` it must create nothing
    and raise :class:`axis_licensing.errors.StoreNotFound` for a missing store.
    The built-in ``memory``, ``sqlite`` and ``postgresql`` backends register this way.
    """


@hookspec(firstresult=True)
def axis_licensing_authorize(
    actor: str, org_id: str | None, action: str, product: str | None
) -> bool | None:
    """Allow or refuse a command before it runs; return ``False`` to refuse.

    Asked before every command, after its input is checked, never before
    queries. ``action`` is the Manager method's name (``"allocate"``, …);
    vendor commands ask with ``org_id=None`` and ``action="vendor.issue_key"``
    or ``"vendor.ship_hardware"``. ``None`` or ``True`` allows. A refusal
    raises :class:`axis_licensing.errors.PermissionDenied` and changes nothing.
    """


@hookspec(firstresult=True)
def axis_licensing_authenticate(token: str) -> str | None:
    """Resolve a bearer token of the HTTP service to the actor it stands for (SPEC §6).

    Return the actor (a user id string, recorded in the history), or ``None``
    when this plugin does not know the token; the first actor returned wins.
    The service answers 401 when no plugin knows the token. What the actor may
    do is then asked of ``axis_licensing_authorize``, per organization.
    The default plugin, :class:`axis_licensing.http.TokenFile`, reads a tokens file.
    """


@hookspec
def axis_licensing_activity(activity: Activity) -> None:
    """Called after each commit, once for each new activity (notifications, webhooks).

    An observer that fails never undoes or blocks the commit: its error is logged.
    """


@hookspec
def axis_licensing_alert(org_id: str, alert: Alert) -> None:
    """Called after a command's commit for each alert of the organization that first appears.

    An alert first appears when it is among the organization's alerts right after
    the command, at the command's instant (``within_days=60``), and was not right
    after the organization's previous recorded command. Alerts are the same one by
    kind, product, system and, for dated kinds, their date. So an alert that time
    brought in between two commands is told at the later one, once. Alerts are only
    computed when some plugin implements this hook. An observer that fails never
    undoes or blocks the commit: its error is logged.
    """
