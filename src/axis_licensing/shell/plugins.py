"""A small typed wrapper around pluggy's ``PluginManager`` (STYLE.md: tox 4, datasette).

``pm.hook.*`` returns ``Any``; this class keeps that inside, with one typed
method per hook.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pluggy

from axis_licensing import hookspecs
from axis_licensing.backends import BackendRegistry
from axis_licensing.errors import InvalidInput
from axis_licensing.model import Activity, Alert

__all__ = ["Plugins"]

log = logging.getLogger("axis_licensing")


class Plugins:
    """The plugins of one Manager: built-ins, installed entry points and the host's own.

    Raises:
        InvalidInput: ``extra`` is not an iterable of plugins, a plugin is given
            twice, or a plugin implements a hook that does not exist, or with
            the wrong arguments.
    """

    def __init__(self, extra: Iterable[object] = ()) -> None:
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        from axis_licensing.backends import builtin

        pm.register(builtin, name="axis_licensing.backends.builtin")
        if isinstance(extra, str | bytes) or not isinstance(extra, Iterable):
            raise InvalidInput(
                f"plugins must be an iterable of plugin objects, got {type(extra).__name__}"
            )
        try:
            pm.load_setuptools_entrypoints(hookspecs.PROJECT)
            for plugin in extra:
                pm.register(plugin)
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise InvalidInput(f"invalid axis-licensing plugin: {exc}") from exc
        except ValueError as exc:  # pluggy: the same plugin (or name) registered twice
            raise InvalidInput(f"invalid axis-licensing plugins: {exc}") from exc
        self._pm = pm

    @property
    def manager(self) -> pluggy.PluginManager:
        """The underlying pluggy ``PluginManager``."""
        return self._pm

    def add(self, plugin: object) -> None:
        """Register one more plugin (the Manager's built-in roles, SPEC §8).

        Raises:
            InvalidInput: it implements a hook wrongly, or is registered already.
        """
        try:
            self._pm.register(plugin)
            self._pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise InvalidInput(f"invalid axis-licensing plugin: {exc}") from exc

    def plugins(self) -> list[object]:
        """Every registered plugin object."""
        return list(self._pm.get_plugins())

    def backends(self) -> BackendRegistry:
        """Ask every plugin to register its backends, and return the registry."""
        registry = BackendRegistry()
        self._pm.hook.axis_licensing_register_backends(registry=registry)
        return registry

    def authorize(self, actor: str, org_id: str | None, action: str, product: str | None) -> bool:
        """False when a plugin refuses the command."""
        if not self._pm.hook.axis_licensing_authorize.get_hookimpls():
            return True
        answer = self._pm.hook.axis_licensing_authorize(
            actor=actor, org_id=org_id, action=action, product=product
        )
        return answer is not False

    def authenticate(self, token: str) -> str | None:
        """The actor a plugin resolves ``token`` to, or None when no plugin knows it (SPEC §6)."""
        answer = self._pm.hook.axis_licensing_authenticate(token=token)
        return answer if isinstance(answer, str) and answer else None

    def activity(self, activity: Activity) -> None:
        """Tell every observer; an observer's failure is logged, never raised."""
        for impl in self._pm.hook.axis_licensing_activity.get_hookimpls():
            try:
                impl.function(activity=activity)
            except Exception:
                log.exception(
                    "activity observer %s failed on %s; the commit stands",
                    impl.plugin_name,
                    activity.action,
                )

    def has_alert_observers(self) -> bool:
        """Whether any plugin implements ``axis_licensing_alert``."""
        return bool(self._pm.hook.axis_licensing_alert.get_hookimpls())

    def alert(self, org_id: str, alert: Alert) -> None:
        """Tell every alert observer; an observer's failure is logged, never raised."""
        given = {"org_id": org_id, "alert": alert}
        for impl in self._pm.hook.axis_licensing_alert.get_hookimpls():
            try:  # pluggy lets an implementation take a subset of the arguments
                impl.function(**{name: given[name] for name in impl.argnames})
            except Exception:
                log.exception(
                    "alert observer %s failed on %s; the commit stands",
                    impl.plugin_name,
                    alert.kind,
                )
