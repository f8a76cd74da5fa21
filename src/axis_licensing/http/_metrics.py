"""The service's Prometheus metrics (SPEC §6.1): requests, latency, commands, the outbox.

One :class:`Metrics` per application. Its ASGI middleware wraps the whole
application (routing included), so every request is counted once, by its
route template (``/v1/organizations/{org_id}/products/{product}``,
never the raw path, so ids do not multiply the series; a path no route
matches counts as ``unmatched``), method and status, and its time goes to a
histogram per route. A ``POST`` or ``PUT`` under ``/v1`` is a command: it is
counted by the Manager's action name (``allocate``, ``vendor.issue_key``) and
its outcome, ``ok`` or the error ``code`` of the problem it was answered with.

When ``PROMETHEUS_MULTIPROC_DIR`` is set before ``prometheus_client`` is first
imported (``axis-licensing serve --workers N`` does so), the values live in
that directory and :meth:`Metrics.render` sums every worker's.
"""

from __future__ import annotations

import json
import os
from time import perf_counter
from typing import Any, cast

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from axis_licensing.shell.operations import OPERATIONS, Kind

__all__ = ["COMMAND_ACTIONS", "CONTENT_TYPE", "Metrics"]

#: The exposition's media type; Litestar appends the charset.
CONTENT_TYPE = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")

#: The command actions (the authorize hook's names, SPEC §4), by API handler name: every
#: declared command's, as the API names its handler (``vendor.issue_key``: ``vendor_issue_key``).
COMMAND_ACTIONS = {
    op.name.replace(".", "_"): op.name for op in OPERATIONS.values() if op.kind is Kind.COMMAND
}

#: Latency buckets in seconds: a status read takes about a millisecond on loopback.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_COMMAND_METHODS = frozenset({"POST", "PUT"})
#: Methods counted by name; any other counts as ``other``, so clients cannot add series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNMATCHED = "unmatched"


class Metrics:
    """The metrics of one application, and the middleware that records them."""

    def __init__(self) -> None:
        """Make the metrics in a registry of their own (several apps may share a process)."""
        self.registry = CollectorRegistry()
        self._multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self._requests = Counter(
            "axis_licensing_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "axis_licensing_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template.",
            ["route", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._commands = Counter(
            "axis_licensing_commands",
            "Manager commands run through the API, by action and outcome: ok or the error code.",
            ["action", "code"],
            registry=self.registry,
        )
        self._outbox_depth = Gauge(
            "axis_licensing_webhook_outbox_depth",
            "Webhook deliveries waiting in the outbox (SPEC §7).",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self._outbox_age = Gauge(
            "axis_licensing_webhook_outbox_oldest_age_seconds",
            "Age of the oldest webhook delivery waiting in the outbox, 0 when empty (SPEC §7).",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        # label children by (route, method, status): labels() takes a lock and builds tuples
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def set_outbox(self, depth: int, oldest_age_seconds: float) -> None:
        """Record the webhook outbox's depth and the age of its oldest delivery (SPEC §7).

        Args:
            depth: deliveries waiting.
            oldest_age_seconds: how long the oldest has waited; 0 when none waits.

        Raises:
            ValueError: a negative depth or age.
        """
        if depth < 0 or oldest_age_seconds < 0:
            raise ValueError("the outbox's depth and age cannot be negative")
        self._outbox_depth.set(depth)
        self._outbox_age.set(oldest_age_seconds)

    def count_command(self, action: str, code: str) -> None:
        """Count one command run: ``code`` is ``ok`` or the error's code (R14)."""
        self._commands.labels(action, code).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (every worker's, summed)."""
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def _observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self._requests.labels(route, method, str(status)),
                self._latency.labels(route, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Wrap ``app`` (the whole application, routing included) to record every request."""

        async def measured(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            started = perf_counter()
            method: str = cast("dict[str, Any]", scope)["method"]
            if method not in _METHODS:
                method = "other"
            status = 500
            body: list[bytes] | None = None

            async def noting(message: Message) -> None:
                nonlocal status, body
                if message["type"] == "http.response.start":
                    status = message["status"]
                    if status >= 400 and _command(scope, method) is not None:
                        body = []
                elif body is not None and message["type"] == "http.response.body":
                    body.append(message.get("body", b""))
                await send(message)

            try:
                await app(scope, receive, noting)
            finally:
                self._observe(
                    scope.get("path_template") or _UNMATCHED,
                    method,
                    status,
                    perf_counter() - started,
                )
                if method in _COMMAND_METHODS:
                    action = _command(scope, method)
                    if action is not None:
                        self.count_command(action, "ok" if status < 400 else _code(body, status))

        return measured


def _command(scope: Scope, method: str) -> str | None:
    """The action of a command route of the API, or None for anything else."""
    if method not in _COMMAND_METHODS:
        return None
    template = scope.get("path_template")
    handler = scope.get("route_handler")
    if not isinstance(template, str) or not template.startswith("/v1/") or handler is None:
        return None
    name = str(handler.handler_name)
    return COMMAND_ACTIONS.get(name, name)


def _code(body: list[bytes] | None, status: int) -> str:
    """The ``code`` of a problem answer; ``http_<status>`` when it has none."""
    try:
        code = json.loads(b"".join(body or ()))["code"]
    except (ValueError, TypeError, KeyError):
        return f"http_{status}"
    return code if isinstance(code, str) and code.isidentifier() else f"http_{status}"
