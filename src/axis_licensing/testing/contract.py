"""The backend contract suite: each method of the backend interface, tested directly.

A backend author runs it through :mod:`axis_licensing.testing.conformance`,
which adds a few end-to-end checks through the Manager. This suite calls the
:class:`~axis_licensing.backends.Backend`, :class:`~axis_licensing.backends.ReadTx` and
:class:`~axis_licensing.backends.WriteTx` methods themselves, with no
Manager, and each test is named after the method it checks
(``test_seq_at_...``, ``test_claim_hardware_...``), so a failure points at
the method to fix. It covers versions and their ``seq``, parts read at
version boundaries, every claim made twice, key redemption, history filters,
paging and counts, request rows, the export/import round trip, lost races
and driver errors.

How to run it against your backend
----------------------------------

Subclass :class:`BackendContract` in a test module (its name starting with
``Test``) and give it the fixture ``make_backend``: a callable returning an
open backend on **this test's store**, empty when the test starts. Each call
opens the *same* store again (a second handle, as another process would);
the suite closes every backend it opens. A backend whose handles cannot
share a store (like ``memory://``) sets ``shared = False``, and the tests that
need two handles skip. To check that driver errors become
:class:`~axis_licensing.errors.StorageError`, also override
:meth:`BackendContract.break_store` to damage the store behind the
backend's back (drop a table, say)::

    class TestMyDbContract(BackendContract):
        @pytest.fixture
        def make_backend(self, tmp_path: Path) -> MakeBackend:
            return lambda: MyDbBackend(f"mydb://{tmp_path / 'store'}")

        def break_store(self, backend: Backend) -> bool:
            drop_the_versions_table(backend)
            return True

Ask pytest to rewrite this module's asserts in your ``conftest.py``:
``pytest.register_assert_rewrite("axis_licensing.testing.contract")``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import attrs
import pytest

from axis_licensing import backends
from axis_licensing.backends import Backend, Head, HistoryQuery
from axis_licensing.errors import StorageError

__all__ = ["BackendContract", "MakeBackend"]

#: Opens a backend on the current test's store.
MakeBackend = Callable[[], Backend]

ORG = "org-a"
OTHER = "org-b"


def _activity(org_id: str, n: int, **fields: Any) -> backends.ActivityRow:
    """Activity ``n``: at instant 1000·n on 2026-01-n, by ann, about acs-pro; ``fields`` replace."""
    row = backends.ActivityRow(
        org_id=org_id,
        at_us=1_000 * n,
        on=f"2026-01-{n:02d}",
        actor="ann",
        action="devices_reported",
        product="acs-pro",
        system_id=None,
        details=f'{{"n":{n}}}',
    )
    return attrs.evolve(row, **fields)


class BackendContract:
    """Pytest tests of each backend method; subclass it and give ``make_backend``."""

    #: Whether two handles from ``make_backend`` share one store.
    shared: ClassVar[bool] = True

    # -- fixtures and helpers -----------------------------------------------------------------

    @pytest.fixture
    def backend(self, make_backend: MakeBackend) -> Iterator[Backend]:
        """An open backend on an empty store, closed after the test."""
        opened = make_backend()
        try:
            yield opened
        finally:
            opened.close()

    @contextlib.contextmanager
    def _two_handles(self, make_backend: MakeBackend) -> Iterator[tuple[Backend, Backend]]:
        """Two open backends on one store, closed on leaving; the test skips unless ``shared``."""
        if not self.shared:
            pytest.skip("the backend's handles do not share a store")
        with (
            contextlib.closing(make_backend()) as first,
            contextlib.closing(make_backend()) as second,
        ):
            yield first, second

    def break_store(self, backend: Backend) -> bool:
        """Damage the store behind ``backend``'s back so that its driver fails.

        Returns:
            False when the backend has no driver to fail (the test then skips).
        """
        return False

    @staticmethod
    def _org(backend: Backend, org_id: str = ORG, versions: int = 3) -> None:
        """An organization with ``versions`` versions: ``seq`` n at instant 100·n.

        Version 1 writes parts ``org`` and ``system:a``; version 2 writes
        ``org`` and ``system:b``; version 3 writes ``system:a`` again.
        """
        writes = [
            [("org", "o1"), ("system:a", "a1")],
            [("org", "o2"), ("system:b", "b2")],
            [("system:a", "a3")],
        ]
        with backend.write() as tx:
            assert tx.create_org(org_id)
        for seq in range(1, versions + 1):
            with backend.write() as tx:
                head = tx.lock(org_id)
                assert head is not None
                parts = writes[seq - 1] if seq <= len(writes) else [("org", f"o{seq}")]
                tx.append(Head(org_id, seq, 100 * seq), parts, [_activity(org_id, seq)])

    # -- versions: create_org, append, head, lock, seq_at ------------------------------------

    def test_create_org_twice_is_refused(self, backend: Backend) -> None:
        with backend.write() as tx:
            assert tx.create_org(ORG) is True
            assert tx.create_org(ORG) is False
        with backend.write() as tx:
            assert tx.create_org(ORG) is False

    def test_head_of_an_unknown_organization_is_none(self, backend: Backend) -> None:
        with backend.read() as tx:
            assert tx.head(ORG) is None
            assert tx.seq_at(ORG, 10**12) is None
            assert tx.parts(ORG, ["org"]) == []
            assert tx.parts_prefixed(ORG, "org") == []
        with backend.write() as tx:
            assert tx.lock(ORG) is None

    def test_append_moves_the_head_to_the_new_version(self, backend: Backend) -> None:
        self._org(backend)
        with backend.read() as tx:
            assert tx.head(ORG) == Head(ORG, 3, 300)
            assert tx.head(OTHER) is None
        with backend.write() as tx:
            assert tx.lock(ORG) == Head(ORG, 3, 300)

    def test_append_of_a_version_that_exists_fails_and_changes_nothing(
        self, backend: Backend
    ) -> None:
        self._org(backend)

        def twin() -> None:
            with backend.write() as tx:
                tx.append(Head(ORG, 3, 400), [("org", "twin")], [])

        with pytest.raises((backends.RetryableConflict, StorageError)):
            twin()
        with backend.read() as tx:
            assert tx.head(ORG) == Head(ORG, 3, 300)
            assert [r.value for r in tx.parts(ORG, ["org"])] == ["o2"]
            assert tx.count_history(ORG, HistoryQuery()) == 3

    def test_seq_at_finds_the_version_in_force_at_its_boundaries(self, backend: Backend) -> None:
        self._org(backend)
        with backend.read() as tx:
            assert tx.seq_at(ORG, 99) is None
            assert tx.seq_at(ORG, 100) == 1
            assert tx.seq_at(ORG, 199) == 1
            assert tx.seq_at(ORG, 200) == 2
            assert tx.seq_at(ORG, 300) == 3
            assert tx.seq_at(ORG, 10**15) == 3

    def test_seq_at_takes_the_last_of_versions_at_one_instant(self, backend: Backend) -> None:
        with backend.write() as tx:
            tx.create_org(ORG)
            for seq in (1, 2, 3):
                tx.append(Head(ORG, seq, 500), [("org", f"o{seq}")], [])
        with backend.read() as tx:
            assert tx.seq_at(ORG, 500) == 3
            assert tx.seq_at(ORG, 499) is None

    def test_latest_version_at_us_is_the_latest_head_over_every_organization(
        self, backend: Backend
    ) -> None:
        """R15: a catalog version never takes effect before a recorded command anywhere."""
        with backend.read() as tx:
            assert tx.latest_version_at_us() is None
        with backend.write() as tx:
            assert tx.create_org(OTHER)  # created, no version yet
        with backend.read() as tx:
            assert tx.latest_version_at_us() is None
        self._org(backend)  # versions at 100, 200, 300
        with backend.read() as tx:
            assert tx.latest_version_at_us() == 300
        with backend.write() as tx:
            assert tx.lock(OTHER) == Head(OTHER, 0, 0)
            tx.append(Head(OTHER, 1, 250), [("org", "x1")], [])
            assert tx.latest_version_at_us() == 300
            tx.append(Head(OTHER, 2, 700), [("org", "x2")], [])
            assert tx.latest_version_at_us() == 700  # its own write, in the transaction
        with backend.read() as tx:
            assert tx.latest_version_at_us() == 700

    # -- parts --------------------------------------------------------------------------------

    def test_parts_at_the_head_are_each_part_latest_version(self, backend: Backend) -> None:
        self._org(backend)
        with backend.read() as tx:
            assert tx.parts(ORG, ["system:a", "org", "system:b", "missing"]) == [
                backends.PartRow(ORG, "org", 2, 200, "o2"),
                backends.PartRow(ORG, "system:a", 3, 300, "a3"),
                backends.PartRow(ORG, "system:b", 2, 200, "b2"),
            ]
            assert tx.parts(ORG, []) == []
            assert tx.parts(OTHER, ["org"]) == []

    def test_parts_at_a_past_version_are_the_versions_then_in_force(self, backend: Backend) -> None:
        self._org(backend)
        with backend.read() as tx:
            names = ["org", "system:a", "system:b"]
            assert [(r.part, r.value) for r in tx.parts(ORG, names, seq=1)] == [
                ("org", "o1"),
                ("system:a", "a1"),
            ]
            assert [(r.part, r.value) for r in tx.parts(ORG, names, seq=2)] == [
                ("org", "o2"),
                ("system:a", "a1"),
                ("system:b", "b2"),
            ]
            assert [r.value for r in tx.parts(ORG, names, seq=3)] == ["o2", "a3", "b2"]
            assert tx.parts(ORG, names, seq=0) == []

    def test_parts_prefixed_lists_by_name_in_pages(self, backend: Backend) -> None:
        self._org(backend)
        with backend.write() as tx:
            tx.append(
                Head(ORG, 4, 400),
                [("system:c", "c4"), ("systems", "not a system"), ("hardware:x", "x4")],
                [],
            )
        with backend.read() as tx:
            names = [r.part for r in tx.parts_prefixed(ORG, "system:")]
            assert names == ["system:a", "system:b", "system:c"]
            page = tx.parts_prefixed(ORG, "system:", limit=2)
            assert [r.part for r in page] == ["system:a", "system:b"]
            rest = tx.parts_prefixed(ORG, "system:", after="system:b", limit=2)
            assert [(r.part, r.value) for r in rest] == [("system:c", "c4")]
            assert tx.parts_prefixed(ORG, "system:", after="system:c") == []
            assert [r.part for r in tx.parts_prefixed(ORG, "org")] == ["org"]
            assert tx.parts_prefixed(OTHER, "system:") == []

    def test_parts_prefixed_at_a_past_version_leaves_out_later_parts(
        self, backend: Backend
    ) -> None:
        self._org(backend)
        with backend.read() as tx:
            past = tx.parts_prefixed(ORG, "system:", seq=1)
            assert past == [backends.PartRow(ORG, "system:a", 1, 100, "a1")]
            paged = tx.parts_prefixed(ORG, "system:", seq=2, limit=1, after="system:a")
            assert paged == [backends.PartRow(ORG, "system:b", 2, 200, "b2")]

    def test_append_writes_parts_of_one_organization_only(self, backend: Backend) -> None:
        self._org(backend)
        self._org(backend, OTHER, versions=1)
        with backend.read() as tx:
            assert [r.value for r in tx.parts(ORG, ["org"])] == ["o2"]
            assert [r.value for r in tx.parts(OTHER, ["org"])] == ["o1"]

    # -- claims -------------------------------------------------------------------------------

    def test_claim_system_twice_is_refused(self, backend: Backend) -> None:
        with backend.write() as tx:
            assert tx.claim_system("sys-1", ORG) is True
            assert tx.claim_system("sys-1", ORG) is False
            assert tx.claim_system("sys-1", OTHER) is False
        with backend.read() as tx:
            assert tx.system_owner("sys-1") == ORG
            assert tx.system_owner("sys-2") is None

    def test_insert_shipment_twice_is_refused(self, backend: Backend) -> None:
        row = backends.ShipmentRow("SN-1", "acs-pro", '{"core":2}', 5)
        with backend.write() as tx:
            assert tx.insert_shipment(row) is True
        with backend.write() as tx:
            assert tx.insert_shipment(backends.ShipmentRow("SN-1", "other", "{}", 6)) is False
        with backend.read() as tx:
            assert tx.shipment("SN-1") == row
            assert tx.shipment("SN-2") is None

    def test_claim_hardware_twice_is_refused(self, backend: Backend) -> None:
        with backend.write() as tx:
            tx.insert_shipment(backends.ShipmentRow("SN-1", "acs-pro", "{}", 5))
            assert tx.claim_hardware("SN-0", ORG) is False  # never shipped
            assert tx.claim_hardware("SN-1", ORG) is True
        with backend.write() as tx:
            assert tx.claim_hardware("SN-1", ORG) is False
            assert tx.claim_hardware("SN-1", OTHER) is False
        with backend.read() as tx:
            assert tx.shipment("SN-1") == backends.ShipmentRow("SN-1", "acs-pro", "{}", 5, ORG)

    # -- keys ---------------------------------------------------------------------------------

    def test_redeem_key_once_only(self, backend: Backend) -> None:
        row = backends.KeyRow("h" * 64, "acs-pro", "subscription", '{"core":5}', "ABCD", 7)
        with backend.write() as tx:
            tx.insert_key(row)
            assert tx.redeem_key("x" * 64, ORG, 8) is False  # never issued
        with backend.write() as tx:
            assert tx.redeem_key(row.key_hash, ORG, 9) is True
        with backend.write() as tx:
            assert tx.redeem_key(row.key_hash, OTHER, 10) is False
            assert tx.redeem_key(row.key_hash, ORG, 11) is False
        with backend.read() as tx:
            assert tx.key(row.key_hash) == backends.KeyRow(
                row.key_hash, "acs-pro", "subscription", '{"core":5}', "ABCD", 7, ORG, 9
            )
            assert tx.key("y" * 64) is None

    def test_insert_key_twice_fails(self, backend: Backend) -> None:
        row = backends.KeyRow("h" * 64, "acs-pro", "subscription", "{}", "ABCD", 7)
        with backend.write() as tx:
            tx.insert_key(row)
        with pytest.raises((backends.RetryableConflict, StorageError)), backend.write() as tx:
            tx.insert_key(backends.KeyRow("h" * 64, "other", "hardware", "{}", "WXYZ", 8))
        with backend.read() as tx:
            assert tx.key(row.key_hash) == row

    # -- requests and meta --------------------------------------------------------------------

    def test_put_request_twice_fails_and_keeps_the_first(self, backend: Backend) -> None:
        first = backends.RequestRow("org:a", "r-1", "f" * 64, '{"ok":1}')
        with backend.write() as tx:
            tx.put_request(first)
            tx.put_request(backends.RequestRow("org:b", "r-1", "g" * 64, "null"))  # another scope
        with pytest.raises((backends.RetryableConflict, StorageError)), backend.write() as tx:
            tx.put_request(backends.RequestRow("org:a", "r-1", "e" * 64, "null"))
        with backend.read() as tx:
            assert tx.request("org:a", "r-1") == first
            assert tx.request("org:a", "r-2") is None
            assert tx.request("org:b", "r-1") == backends.RequestRow(
                "org:b", "r-1", "g" * 64, "null"
            )

    def test_insert_meta_keeps_the_first_value(self, backend: Backend) -> None:
        with backend.write() as tx:
            assert tx.insert_meta("signing_key", "one") is True
            assert tx.insert_meta("signing_key", "two") is False
        with backend.read() as tx:
            assert tx.meta("signing_key") == "one"
            assert tx.meta("other") is None

    def test_delete_meta_says_whether_it_existed(self, backend: Backend) -> None:
        with backend.write() as tx:
            tx.insert_meta("mark", "x")
        assert backend.delete_meta("mark") is True
        assert backend.delete_meta("mark") is False
        with backend.read() as tx:
            assert tx.meta("mark") is None

    # -- the catalog versions and the organization listing (R15, SPEC §3) ---------------------

    def test_insert_catalog_once_per_version_and_catalogs_lists_them_in_order(
        self, backend: Backend
    ) -> None:
        with backend.write() as tx:
            assert tx.insert_catalog(backends.CatalogRow(2, 200, '{"v":2}')) is True
            assert tx.insert_catalog(backends.CatalogRow(1, 100, '{"v":1}')) is True
            assert tx.insert_catalog(backends.CatalogRow(1, 150, '{"v":"other"}')) is False
        with backend.read() as tx:
            assert tx.catalogs() == [
                backends.CatalogRow(1, 100, '{"v":1}'),
                backends.CatalogRow(2, 200, '{"v":2}'),
            ]
            assert tx.catalogs(1) == [backends.CatalogRow(2, 200, '{"v":2}')]
            assert tx.catalogs(2) == []

    def test_insert_catalog_rolls_back_with_its_transaction(self, backend: Backend) -> None:
        with contextlib.suppress(RuntimeError), backend.write() as tx:
            assert tx.insert_catalog(backends.CatalogRow(1, 100, '{"v":1}')) is True
            raise RuntimeError("abandon")
        with backend.read() as tx:
            assert tx.catalogs() == []

    def test_lock_names_the_latest_catalog_version_or_nothing(self, backend: Backend) -> None:
        self._org(backend, versions=1)
        with backend.write() as tx:
            tx.insert_catalog(backends.CatalogRow(1, 100, '{"v":1}'))
            tx.insert_catalog(backends.CatalogRow(2, 200, '{"v":2}'))
        with backend.write() as tx:
            head = tx.lock(ORG)
            assert head == Head(ORG, 1, 100)
            assert head is not None
            assert head.catalog_version in (None, 2)

    def test_peek_reads_the_head_and_the_latest_catalog_version_or_nothing(
        self, backend: Backend
    ) -> None:
        assert backend.peek(ORG) is None
        self._org(backend, versions=1)
        with backend.write() as tx:
            tx.insert_catalog(backends.CatalogRow(1, 100, '{"v":1}'))
        head = backend.peek(ORG)
        assert head == Head(ORG, 1, 100)
        assert head is not None
        assert head.catalog_version in (None, 1)
        with backend.write() as tx:
            tx.insert_catalog(backends.CatalogRow(2, 200, '{"v":2}'))
            assert tx.lock(ORG) is not None
            tx.append(Head(ORG, 2, 300), [("org", "o2")], [])
        head = backend.peek(ORG)
        assert head == Head(ORG, 2, 300)
        assert head is not None
        assert head.catalog_version in (None, 2)
        assert backend.peek(OTHER) is None

    def test_org_ids_lists_every_organization_in_byte_order_paged(self, backend: Backend) -> None:
        ids = ["b", "a", "Z", "é", "a-1", "a.1"]
        with backend.write() as tx:
            for org_id in ids:
                assert tx.create_org(org_id)
        expected = sorted(ids, key=lambda text: text.encode())
        with backend.read() as tx:
            assert tx.org_ids(None, 0) == expected
            assert tx.org_ids(2, 1) == expected[1:3]
            assert tx.org_ids(0, 0) == []
            assert tx.org_ids(None, 4) == expected[4:]
            assert tx.org_ids(None, 10) == []

    # -- history ------------------------------------------------------------------------------

    def _history(self, backend: Backend) -> None:
        with backend.write() as tx:
            tx.create_org(ORG)
            tx.create_org(OTHER)
            tx.append(
                Head(ORG, 1, 1_000),
                [("org", "o")],
                [
                    _activity(ORG, 1, action="organization_created", product=None),
                    _activity(ORG, 2, actor="bo", system_id="s-1"),
                ],
            )
            tx.append(Head(OTHER, 1, 1_000), [("org", "o")], [_activity(OTHER, 1)])
        with backend.write() as tx:
            tx.append(
                Head(ORG, 2, 3_000),
                [("org", "p")],
                [_activity(ORG, 3), _activity(ORG, 4, product="acs-analytics", actor="bo")],
            )

    def test_history_keeps_the_append_order_per_organization(self, backend: Backend) -> None:
        self._history(backend)
        with backend.read() as tx:
            rows = tx.history(ORG, HistoryQuery(), None, 0)
            assert [r.details for r in rows] == ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}']
            assert rows[1] == _activity(ORG, 2, actor="bo", system_id="s-1")
            assert [r.org_id for r in tx.history(OTHER, HistoryQuery(), None, 0)] == [OTHER]

    def test_history_filters(self, backend: Backend) -> None:
        self._history(backend)
        cases = {
            HistoryQuery(product="acs-pro"): [2, 3],
            HistoryQuery(actor="bo"): [2, 4],
            HistoryQuery(actions=("organization_created",)): [1],
            HistoryQuery(actions=("organization_created", "devices_reported")): [1, 2, 3, 4],
            HistoryQuery(actions=()): [],
            HistoryQuery(since_us=2_000, until_us=3_000): [2, 3],
            HistoryQuery(since_on="2026-01-03"): [3, 4],
            HistoryQuery(until_on="2026-01-01"): [1],
            HistoryQuery(product="acs-pro", actor="ann"): [3],
        }
        with backend.read() as tx:
            for query, expected in cases.items():
                rows = tx.history(ORG, query, None, 0)
                assert [int(r.details[5:-1]) for r in rows] == expected, query
                assert tx.count_history(ORG, query) == len(expected), query

    def test_history_pages_with_limit_and_offset(self, backend: Backend) -> None:
        self._history(backend)
        with backend.read() as tx:
            pick = [r.details for r in tx.history(ORG, HistoryQuery(), 2, 1)]
            assert pick == ['{"n":2}', '{"n":3}']
            assert tx.history(ORG, HistoryQuery(), 0, 0) == []
            assert tx.history(ORG, HistoryQuery(), None, 4) == []
            assert len(tx.history(ORG, HistoryQuery(), 10, 3)) == 1
            assert tx.count_history(ORG, HistoryQuery()) == 4
            assert tx.count_history("nobody", HistoryQuery()) == 0

    # -- transactions -------------------------------------------------------------------------

    def test_write_rolls_back_everything_when_it_raises(self, backend: Backend) -> None:
        self._org(backend)

        def failing_command() -> None:
            with backend.write() as tx:
                tx.append(
                    Head(ORG, 4, 400), [("org", "o4"), ("system:z", "z")], [_activity(ORG, 4)]
                )
                tx.claim_system("sys-9", ORG)
                tx.insert_meta("m", "v")
                tx.put_request(backends.RequestRow("s", "r", "f", "null"))
                raise RuntimeError("the command failed")

        with pytest.raises(RuntimeError):
            failing_command()
        with backend.read() as tx:
            assert tx.head(ORG) == Head(ORG, 3, 300)
            assert [r.value for r in tx.parts(ORG, ["org", "system:z"])] == ["o2"]
            assert tx.seq_at(ORG, 10**15) == 3
            assert tx.count_history(ORG, HistoryQuery()) == 3
            assert tx.system_owner("sys-9") is None
            assert tx.meta("m") is None
            assert tx.request("s", "r") is None

    def test_lock_serialises_writers_or_raises_retryable_conflict(
        self, make_backend: MakeBackend
    ) -> None:
        """Two writers of one organization: the second sees the first's version, or loses."""
        with self._two_handles(make_backend) as (first, second):
            self._org(first, versions=1)
            locked = threading.Event()
            outcome: list[object] = []

            def late_writer() -> None:
                locked.wait(10)
                try:
                    with second.write() as tx:
                        head = tx.lock(ORG)
                        assert head is not None
                        tx.append(Head(ORG, head.seq + 1, 500), [("org", "late")], [])
                        outcome.append(head.seq)
                except backends.RetryableConflict as exc:
                    outcome.append(exc)

            thread = threading.Thread(target=late_writer)
            thread.start()
            with first.write() as tx:
                head = tx.lock(ORG)
                locked.set()
                time.sleep(0.3)  # the late writer runs into the lock meanwhile
                assert head == Head(ORG, 1, 100)
                tx.append(Head(ORG, 2, 200), [("org", "early")], [])
            thread.join(60)
            assert len(outcome) == 1
            with first.read() as view:
                if isinstance(
                    outcome[0], backends.RetryableConflict
                ):  # lost the race: nothing written
                    assert view.head(ORG) == Head(ORG, 2, 200)
                else:  # waited for the lock, and saw the first writer's version
                    assert outcome == [2]
                    assert view.head(ORG) == Head(ORG, 3, 500)
                    assert [r.value for r in view.parts(ORG, ["org"], seq=2)] == ["early"]

    def test_read_sees_what_a_committed_write_wrote_from_another_handle(
        self, make_backend: MakeBackend
    ) -> None:
        with self._two_handles(make_backend) as (writer, reader):
            self._org(writer)
            with reader.read() as tx:
                assert tx.head(ORG) == Head(ORG, 3, 300)
                assert [r.value for r in tx.parts(ORG, ["system:a"], seq=2)] == ["a1"]

    def test_read_and_write_wrap_driver_errors_as_storage_error(self, backend: Backend) -> None:
        self._org(backend)
        if not self.break_store(backend):
            pytest.skip("the backend has no driver to fail")

        def read() -> None:
            with backend.read() as tx:
                tx.head(ORG)
                tx.seq_at(ORG, 150)
                tx.parts(ORG, ["org"], seq=1)

        def write() -> None:
            with backend.write() as tx:
                tx.lock(ORG)
                tx.append(Head(ORG, 4, 400), [("org", "o4")], [])

        with pytest.raises(StorageError) as read_error:
            read()
        assert read_error.value.__cause__ is not None
        with pytest.raises(StorageError) as write_error:
            write()
        assert write_error.value.__cause__ is not None

    # -- export, import, count, clear ---------------------------------------------------------

    def _fill(self, backend: Backend) -> None:
        self._org(backend)
        with backend.write() as tx:
            tx.insert_meta("signing_key", "k")
            tx.claim_system("sys-1", ORG)
            tx.insert_shipment(backends.ShipmentRow("SN-1", "acs-pro", "{}", 5))
            tx.claim_hardware("SN-1", ORG)
            tx.insert_key(backends.KeyRow("h" * 64, "acs-pro", "subscription", "{}", "ABCD", 7))
            tx.redeem_key("h" * 64, ORG, 8)
            tx.put_request(backends.RequestRow("org:a", "r-1", "f", "null"))

    def test_export_rows_import_rows_round_trip(
        self, backend: Backend, make_backend: MakeBackend
    ) -> None:
        """What one store exports, another imports, and exports again the same."""
        self._fill(backend)
        exported = {table: list(backend.export_rows(table)) for table in backends.TABLES}
        assert {t: len(rows) for t, rows in exported.items()} == {
            "meta": 1,
            "catalogs": 0,
            "orgs": 1,
            "versions": 3,
            "parts": 3,
            "part_history": 2,
            "states": 0,
            "activities": 3,
            "systems": 1,
            "shipments": 1,
            "keys": 1,
            "requests": 1,
            # events out (SPEC §7): empty here; tests/test_events_store.py fills them
            "webhooks": 0,
            "events": 0,
            "deliveries": 0,
            "sweep_due": 0,
            # members and roles (SPEC §8): the tables exist, empty here
            "accounts": 0,
            "memberships": 0,
            "invitations": 0,
            "api_tokens": 0,
            "access_version": 0,
        }
        assert exported["orgs"] == [{"org_id": ORG, "head": 3, "at_us": 300}]
        assert exported["part_history"] == [
            {"org_id": ORG, "part": "org", "seq": 1, "at_us": 100, "value": "o1"},
            {"org_id": ORG, "part": "system:a", "seq": 1, "at_us": 100, "value": "a1"},
        ]
        backend.clear()
        assert backend.is_empty()
        assert all(backend.count_rows(t) == 0 for t in backends.TABLES)
        for table in backends.TABLES:
            assert backend.import_rows(table, exported[table]) == len(exported[table])
        assert {table: list(backend.export_rows(table)) for table in backends.TABLES} == exported
        assert {t: backend.count_rows(t) for t in backends.TABLES} == {
            t: len(rows) for t, rows in exported.items()
        }
        with backend.read() as tx:  # and the imported store reads as the original did
            assert tx.head(ORG) == Head(ORG, 3, 300)
            assert [r.value for r in tx.parts(ORG, ["org", "system:a"], seq=1)] == ["o1", "a1"]
            assert tx.seq_at(ORG, 250) == 2
        with backend.write() as tx:  # and takes the next version
            tx.append(Head(ORG, 4, 400), [("system:a", "a4")], [_activity(ORG, 4)])
        with backend.read() as tx:
            assert [r.details for r in tx.history(ORG, HistoryQuery(), None, 0)][-1] == '{"n":4}'

    def test_export_rows_of_an_unknown_table_fails(self, backend: Backend) -> None:
        with pytest.raises(ValueError, match="unknown table"):
            list(backend.export_rows("nope"))
        with pytest.raises(ValueError, match="unknown table"):
            backend.count_rows("nope")

    def test_legacy_states_are_listed_read_and_dropped(self, backend: Backend) -> None:
        rows = [
            {"org_id": ORG, "seq": 1, "at_us": 100, "state": "{}"},
            {"org_id": ORG, "seq": 2, "at_us": 200, "state": "{ }"},
            {"org_id": OTHER, "seq": 1, "at_us": 100, "state": "{}"},
        ]
        backend.import_rows("states", rows)
        with backend.read() as tx:
            assert tx.legacy_orgs() == [ORG, OTHER]
            assert [(r.seq, r.at_us, r.state) for r in tx.legacy_states(ORG)] == [
                (1, 100, "{}"),
                (2, 200, "{ }"),
            ]
        with backend.write() as tx:
            tx.drop_legacy(ORG)
        with backend.read() as tx:
            assert tx.legacy_orgs() == [OTHER]
            assert tx.legacy_states(ORG) == []
