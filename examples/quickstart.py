"""Quickstart: one organization from its trial to a licensed product (R2-R8).

It runs on a throwaway SQLite file with a manual clock, so every date it
prints is the same on every run::

    python examples/quickstart.py
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from axis_licensing import EXAMPLE_CATALOG, Manager, ManualClock

PRODUCT = "acs-pro"


def main() -> None:
    """Trial, redemption, allocation and status of one organization."""
    clock = ManualClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'quickstart.db'}"
        with Manager.open(url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
            m.create_organization("acme", name="Acme AB", timezone="Europe/Stockholm", actor="ann")
            m.register_system(
                "acme", PRODUCT, "srv-1", devices={"core": 10, "door": 2}, actor="ann"
            )
            m.start_subscription("acme", PRODUCT, actor="ann")  # the anchor and trial (R2, R3)
            trial = m.status("acme", PRODUCT)
            print(f"{trial.state.value}: window ends on {trial.window_ends_on}")

            clock.advance(days=7)
            key = m.vendor.issue_key(PRODUCT, quantities={"core": 12, "door": 2})
            redemption = m.redeem_key("acme", key, actor="ann")  # into the wallet (R6, R10)
            print(
                f"redeemed {dict(redemption.quantities)} expiring {redemption.lots[0].expires_on}"
            )

            allocation = m.allocate_need("acme", PRODUCT, actor="ann")  # "Confirm allocation" (R7)
            print(f"allocated {dict(allocation.quantities)}")

            status = m.status("acme", PRODUCT)
            wallet = m.wallet("acme", PRODUCT)
            print(f"{status.state.value} through {status.licensed_through}")
            print(f"wallet {dict(wallet.balance())}")


if __name__ == "__main__":
    main()
