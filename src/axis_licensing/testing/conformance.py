"""The backend conformance suite: what a backend author runs (SPEC §4, §5).

:class:`BackendConformance` is the per-method contract of
:mod:`axis_licensing.testing.contract` (each test named after the backend
method it checks, so a failure points at the method to fix), plus a handful of
end-to-end checks through the :class:`~axis_licensing.Manager` on the same
store: a day of commands and queries with exact answers, a replayed request,
a query at a past instant, and (for a store that two handles share) a reopen.
The licensing rules themselves are tested end to end in this project's own
tests, on the built-in backends; a backend only stores and fetches.

How to run it against your backend
----------------------------------

Subclass :class:`BackendConformance` in a test module (its name starting with
``Test``) and give it one fixture, ``make_backend``: a callable returning an
open backend on **this test's store**, empty when the test starts. Each call
opens the *same* store again (a second handle, as another process would); a
backend whose handles cannot share a store (like ``memory://``) sets
``shared = False``. Override :meth:`~BackendContract.break_store` to let the
suite check that driver errors become ``StorageError``::

    class TestMyDbConformance(BackendConformance):
        @pytest.fixture
        def make_backend(self, tmp_path: Path) -> MakeBackend:
            return lambda: MyDbBackend(f"mydb://{tmp_path / 'store'}")

Ask pytest to rewrite the suite's asserts in your ``conftest.py``, before the
test module imports it::

    pytest.register_assert_rewrite(
        "axis_licensing.testing.contract", "axis_licensing.testing.conformance"
    )
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from axis_licensing._counts import Counts
from axis_licensing._time import ManualClock
from axis_licensing.backends import Backend
from axis_licensing.catalog import EXAMPLE_CATALOG
from axis_licensing.errors import IdempotencyConflict, InsufficientLicenses, UnknownSystem
from axis_licensing.manager import Manager
from axis_licensing.model import LicenseKind, ProductState
from axis_licensing.testing.contract import BackendContract, MakeBackend

__all__ = ["BackendConformance", "MakeBackend"]

#: Where every end-to-end check starts.
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ORG = "org-e2e"
PRODUCT = "acs-pro"


class BackendConformance(BackendContract):
    """The contract of every backend method, plus end-to-end checks through the Manager."""

    @pytest.fixture
    def clock(self) -> ManualClock:
        """The Manager's clock: 2026-01-01 12:00 UTC, moved only by the test."""
        return ManualClock(START)

    @pytest.fixture
    def manager(self, make_backend: MakeBackend, clock: ManualClock) -> Iterator[Manager]:
        """A Manager over a fresh handle on the test's store, with the example catalog."""
        with Manager(make_backend(), catalog=EXAMPLE_CATALOG, clock=clock) as opened:
            yield opened

    @staticmethod
    def _day_of_commands(m: Manager) -> None:
        """An organization with a system of 4 core devices, 10 core licenses, 4 allocated."""
        m.create_organization(ORG, name="End to end", actor="ann")
        m.register_system(ORG, PRODUCT, "sys-1", devices={"core": 4}, actor="ann")
        m.start_subscription(ORG, PRODUCT, actor="ann")
        key = m.vendor.issue_key(PRODUCT, LicenseKind.SUBSCRIPTION, {"core": 10})
        m.redeem_key(ORG, key, actor="ann")
        m.allocate(ORG, PRODUCT, {"core": 4}, actor="ann", request_id="alloc-1")

    def test_e2e_commands_and_queries_answer_exactly(self, manager: Manager) -> None:
        self._day_of_commands(manager)
        status = manager.status(ORG, PRODUCT)
        assert status.state is ProductState.LICENSED
        assert status.devices == Counts({"core": 4})
        assert status.allocated == Counts({"core": 4})
        assert manager.wallet(ORG, PRODUCT).balance() == {"core": 6}
        assert manager.system_status(ORG, "sys-1").licensed is True
        assert [a.action for a in manager.history(ORG)] == [
            "organization_created",
            "system_registered",
            "subscription_started",
            "key_redeemed",
            "licenses_allocated",
        ]
        assert [o.org_id for o in manager.organizations()] == [ORG]
        with pytest.raises(InsufficientLicenses):
            manager.allocate(ORG, PRODUCT, {"core": 7}, actor="ann")
        assert manager.wallet(ORG, PRODUCT).balance() == {"core": 6}  # nothing taken

    def test_e2e_a_request_id_replays_its_first_result(self, manager: Manager) -> None:
        self._day_of_commands(manager)
        first = manager.history(ORG)[-1]
        again = manager.allocate(ORG, PRODUCT, {"core": 4}, actor="ann", request_id="alloc-1")
        assert again.periods[0].quantities == Counts({"core": 4})
        assert manager.history(ORG)[-1] == first  # applied once
        assert manager.wallet(ORG, PRODUCT).balance() == {"core": 6}
        with pytest.raises(IdempotencyConflict):
            manager.allocate(ORG, PRODUCT, {"core": 1}, actor="ann", request_id="alloc-1")

    def test_e2e_a_query_at_a_past_instant_reads_the_versions_then(
        self, manager: Manager, clock: ManualClock
    ) -> None:
        self._day_of_commands(manager)
        before = clock.now()
        clock.advance(days=40)
        manager.report_devices(ORG, "sys-1", {"core": 9}, actor="ann")
        assert manager.status(ORG, PRODUCT).devices == Counts({"core": 9})
        assert manager.status(ORG, PRODUCT, at=before).devices == Counts({"core": 4})
        assert manager.system_status(ORG, "sys-1", at=before).devices == Counts({"core": 4})
        with pytest.raises(UnknownSystem):  # before its command, the system was not there
            manager.system_status(ORG, "sys-1", at=before - timedelta(microseconds=1))
        assert manager.history(ORG, since=date(2026, 2, 1))[0].action == "devices_reported"

    def test_e2e_a_second_handle_sees_everything_and_the_signing_key(
        self, make_backend: MakeBackend, clock: ManualClock
    ) -> None:
        if not self.shared:
            pytest.skip("the backend's handles do not share a store")
        with Manager(make_backend(), catalog=EXAMPLE_CATALOG, clock=clock) as first:
            self._day_of_commands(first)
            public_key = first.public_key
            history = first.history(ORG)
        backend: Backend = make_backend()
        with Manager(backend, clock=clock) as reopened:
            assert reopened.public_key == public_key
            assert reopened.history(ORG) == history
            assert reopened.catalog == EXAMPLE_CATALOG
            assert reopened.wallet(ORG, PRODUCT).balance() == {"core": 6}
