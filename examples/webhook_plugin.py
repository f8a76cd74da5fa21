"""Host plugins: an activity observer (a webhook) and an authorization policy (SPEC §4).

Both are plain objects whose methods carry ``axis_licensing.hookimpl``; the
host passes them to ``Manager.open(plugins=[...])``::

    python examples/webhook_plugin.py
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from axis_licensing import (
    EXAMPLE_CATALOG,
    Activity,
    Manager,
    ManualClock,
    PermissionDenied,
    hookimpl,
    to_json,
)

PRODUCT = "acs-pro"


class Webhook:
    """Queues one JSON payload per new activity; a real one would POST it."""

    def __init__(self) -> None:
        self.outbox: list[str] = []

    @hookimpl
    def axis_licensing_activity(self, activity: Activity) -> None:
        """Called after each commit, once per activity; a failure here never undoes it."""
        self.outbox.append(to_json(activity))


class OnlyAdminsAllocate:
    """Refuses allocations by anyone but the organization's admins."""

    def __init__(self, admins: set[str]) -> None:
        self.admins = admins

    @hookimpl
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool | None:
        """False refuses (PermissionDenied); None leaves the decision to other plugins."""
        if action in ("allocate", "allocate_need") and actor not in self.admins:
            return False
        return None


def main() -> None:
    """Run a few commands with both plugins and show what the webhook sent."""
    webhook = Webhook()
    clock = ManualClock(datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    plugins = [webhook, OnlyAdminsAllocate(admins={"ann"})]
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock, plugins=plugins) as m:
        m.create_organization("acme", name="Acme AB", actor="ann")
        m.register_system("acme", PRODUCT, "srv-1", devices={"core": 4}, actor="ann")
        m.start_subscription("acme", PRODUCT, actor="ann")
        m.redeem_key("acme", m.vendor.issue_key(PRODUCT, quantities={"core": 4}), actor="bob")
        try:
            m.allocate_need("acme", PRODUCT, actor="bob")
        except PermissionDenied as exc:
            print(f"refused: {exc}")
        m.allocate_need("acme", PRODUCT, actor="ann")

    print(f"webhook sent {len(webhook.outbox)} payloads:")
    for payload in webhook.outbox:
        event = json.loads(payload)
        print(f"  {event['on']} {event['action']} by {event['actor']}")


if __name__ == "__main__":
    main()
