"""R5's smallest shortfall through the public API, on every backend.

``status``, ``need`` and ``allocate_need`` all take the locked period's
shortfall from one place (``axis_licensing.policy.coverage.shortfall``), so
they agree on SPEC R5's worked example.
"""

from __future__ import annotations

from datetime import date

from axis_licensing import Manager, ManualClock, ProductState

ORG = "acme"
PRODUCT = "acs-pro"


def test_r5_locked_smallest_shortfall_status_need_and_allocate_need_agree(
    manager: Manager, clock: ManualClock
) -> None:
    m = manager
    m.create_organization(ORG, name="Acme", actor="ann")
    m.register_system(ORG, PRODUCT, "srv-1", devices={"core": 3, "universal": 8}, actor="ann")
    m.start_subscription(ORG, PRODUCT, actor="ann")
    key = m.vendor.issue_key(PRODUCT, quantities={"core": 3 + 9, "universal": 8 + 4})
    m.redeem_key(ORG, key, actor="ann")
    m.allocate(ORG, PRODUCT, {"core": 3, "universal": 8}, actor="ann")
    assert m.status(ORG, PRODUCT).locked

    m.report_devices(ORG, "srv-1", {"core": 17, "universal": 19}, actor="ann")
    status = m.status(ORG, PRODUCT)
    assert status.state is ProductState.LICENSED
    assert status.growth_exceeded
    # per type, ceil(11 / 2) + ceil(3 / 2) would be core 6 + universal 2
    assert status.required_now == {"universal": 2, "core": 5}
    current = m.need(ORG, PRODUCT, horizon=1).periods[0]
    assert current.shortfall == {"universal": 2, "core": 5}
    assert current.need == {"core": 8, "universal": 10}
    flagged = m.history(ORG, actions=["growth_exceeded"])
    assert [a.details["required_now"] for a in flagged] == [{"core": 5, "universal": 2}]

    allocation = m.allocate_need(ORG, PRODUCT, through=0, actor="ann")
    assert [(p.period.start, dict(p.quantities)) for p in allocation.periods] == [
        (date(2026, 1, 1), {"core": 5, "universal": 2})
    ]
    after = m.status(ORG, PRODUCT)
    assert after.allocated == {"core": 8, "universal": 10}
    assert after.required_now == {}
    assert not after.growth_exceeded
