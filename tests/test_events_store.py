"""The outbox's storage on every backend, method by method (SPEC §7).

Each test runs against memory, SQLite and PostgreSQL (``backend_url`` of conftest)
through the bare backend, since the shell is not wired to events yet.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from axis_licensing._migrate import migrate
from axis_licensing.backends import EXPORT_COLUMNS, TABLES, Backend, Head
from axis_licensing.backends.memory import MemoryBackend
from axis_licensing.events.model import (
    ALERT_RAISED,
    DeliveryState,
    EventDraft,
    delivery_id,
    event_id,
)
from axis_licensing.events.store import (
    EVENT_TABLES,
    VENDOR_SCOPE,
    EndpointRow,
    Outcome,
    from_us,
    to_us,
)
from events_support import add_endpoint, open_backend, tx_of

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
US = 1_000_000


def drafts(*types: str, at: datetime = T0) -> list[EventDraft]:
    return [EventDraft(t, at, {"n": i, "type": t}) for i, t in enumerate(types)]


def test_event_ids_are_stable_and_distinct() -> None:
    assert event_id("acme", 1) == event_id("acme", 1)
    assert event_id("acme", 1).startswith("evt_")
    assert len(event_id("acme", 1)) == 4 + 32
    assert len({event_id("acme", 1), event_id("acme", 2), event_id("acme2", 1)}) == 3
    # the separator cannot be forged by an id that holds it
    assert event_id("a", 12) != event_id("a1", 2)
    assert delivery_id(event_id("acme", 1), "wh_1") != delivery_id(event_id("acme", 1), "wh_2")
    # the ids of stored events never change: UUIDv5 of the JSON of (org_id, seq)
    assert event_id("acme", 1) == "evt_190b7f62516b527988eab255ec20d4c3"
    assert event_id("ärø", 2**40) == "evt_cb9e0aef38ef58c49b3595f4526ec452"
    assert delivery_id(event_id("acme", 1), "wh_1") == "dlv_8030b0c068b951f0b01bc2f3e32e7c9d"


def test_append_events_numbers_them_per_organization(store: Backend) -> None:
    with store.write() as tx:
        first = tx_of(tx).append_events("acme", drafts("licenses_allocated", "key_redeemed"))
        other = tx_of(tx).append_events("zeta", drafts("organization_created"))
    with store.write() as tx:
        more = tx_of(tx).append_events("acme", drafts(ALERT_RAISED))
    assert [(e.org_id, e.seq, e.type) for e in first + other + more] == [
        ("acme", 1, "licenses_allocated"),
        ("acme", 2, "key_redeemed"),
        ("zeta", 1, "organization_created"),
        ("acme", 3, "alert.raised"),
    ]
    assert [e.id for e in first] == [event_id("acme", 1), event_id("acme", 2)]
    assert first[0].at == T0
    assert first[1].data == {"n": 1, "type": "key_redeemed"}
    with store.read() as tx:
        events = tx_of(tx)
        assert events.events_after("acme") == first + more
        assert events.events_after("acme", after_seq=1) == [first[1], more[0]]
        assert events.events_after("acme", after_seq=1, limit=1) == [first[1]]
        assert events.events_after("acme", after_seq=3) == []
        assert events.events_after("nobody") == []
        assert events.last_event_seq("acme") == 3
        assert events.last_event_seq("nobody") == 0


def test_events_exist_only_if_their_transaction_committed(store: Backend) -> None:
    add_endpoint(store, "http://127.0.0.1:9/hook")

    def failing_command() -> None:
        with store.write() as tx:
            tx_of(tx).append_events("acme", drafts("licenses_allocated"))
            raise RuntimeError("the command failed")

    with pytest.raises(RuntimeError, match="the command failed"):
        failing_command()
    with store.read() as tx:
        assert tx_of(tx).events_after("acme") == []
        assert tx_of(tx).deliveries() == []
        assert tx_of(tx).outbox_stats().depth == 0
    with store.write() as tx:
        (event,) = tx_of(tx).append_events("acme", drafts("licenses_allocated"))
    assert event.seq == 1  # the rolled-back seq is used again


def test_deliveries_go_to_matching_enabled_endpoints(store: Backend) -> None:
    add_endpoint(store, "http://127.0.0.1:9/a", endpoint_id="wh_all")
    add_endpoint(store, "http://127.0.0.1:9/b", endpoint_id="wh_alerts", types=(ALERT_RAISED,))
    add_endpoint(store, "http://127.0.0.1:9/c", endpoint_id="wh_off", enabled=False)
    add_endpoint(store, "http://127.0.0.1:9/d", endpoint_id="wh_vendor", org_id=None)
    add_endpoint(store, "http://127.0.0.1:9/e", endpoint_id="wh_zeta", org_id="zeta")
    with store.write() as tx:
        allocated, raised = tx_of(tx).append_events(
            "acme", drafts("licenses_allocated", ALERT_RAISED)
        )
    with store.read() as tx:
        made = tx_of(tx).deliveries("acme")
        assert tx_of(tx).deliveries("zeta") == []
    assert sorted((d.event_id, d.endpoint_id) for d in made) == sorted(
        [
            (allocated.id, "wh_all"),
            (allocated.id, "wh_vendor"),
            (raised.id, "wh_all"),
            (raised.id, "wh_alerts"),
            (raised.id, "wh_vendor"),
        ]
    )
    first = next(d for d in made if (d.event_id, d.endpoint_id) == (allocated.id, "wh_all"))
    assert first.delivery_id == delivery_id(allocated.id, "wh_all")
    assert first.state is DeliveryState.PENDING
    assert first.attempts == 0
    assert first.next_at == T0
    assert first.created_at == T0
    assert (first.last_status, first.last_error, first.delivered_at) == (None, None, None)


def test_endpoints_are_added_listed_changed_and_removed(store: Backend) -> None:
    row = add_endpoint(store, "http://127.0.0.1:9/a", endpoint_id="wh_1")
    vendor = add_endpoint(store, "http://127.0.0.1:9/a", endpoint_id="wh_v", org_id=None)
    with store.write() as tx:
        events = tx_of(tx)
        # the same URL twice in one scope, or an id taken, is refused
        assert not events.insert_endpoint(attrs.evolve(row, endpoint_id="wh_2"))
        assert not events.insert_endpoint(attrs.evolve(row, url="http://127.0.0.1:9/other"))
    with store.read() as tx:
        events = tx_of(tx)
        assert events.endpoint_rows() == [row, vendor]
        assert events.endpoint_rows("acme") == [row]
        assert events.endpoint_rows(VENDOR_SCOPE) == [vendor]
        assert events.endpoint_row("wh_1") == row
        assert events.endpoint_row("nope") is None
    public = row.endpoint()
    assert public.org_id == "acme"
    assert public.secret is None
    assert row.secret not in repr(row)
    assert row.endpoint(with_secret=True).secret == row.secret
    assert vendor.endpoint().org_id is None
    rotated = attrs.evolve(
        row,
        enabled=0,
        types='["alert.raised"]',
        secret="whsec_" + "A" * 44,
        previous_secret=row.secret,
        previous_until_us=to_us(T0) + 10,
    )
    with store.write() as tx:
        assert tx_of(tx).update_endpoint(rotated)
        assert not tx_of(tx).update_endpoint(attrs.evolve(rotated, endpoint_id="nope"))
    with store.read() as tx:
        assert tx_of(tx).endpoint_row("wh_1") == rotated
    assert rotated.secrets_at(to_us(T0)) == ("whsec_" + "A" * 44, row.secret)
    assert rotated.secrets_at(to_us(T0) + 10) == ("whsec_" + "A" * 44,)
    with store.write() as tx:
        assert tx_of(tx).delete_endpoint("wh_1")
        assert not tx_of(tx).delete_endpoint("wh_1")
    with store.read() as tx:
        assert tx_of(tx).endpoint_rows() == [vendor]


def test_removing_an_endpoint_drops_its_undelivered_deliveries(store: Backend) -> None:
    add_endpoint(store, "http://127.0.0.1:9/a", endpoint_id="wh_1")
    with store.write() as tx:
        tx_of(tx).append_events("acme", drafts("licenses_allocated", "key_redeemed"))
    with store.write() as tx:
        (claim, _) = tx_of(tx).claim_deliveries(to_us(T0), 10, "me", 60 * US)
        tx_of(tx).finish_delivery(
            claim.row.delivery_id, "me", Outcome(DeliveryState.DELIVERED, to_us(T0), status=200)
        )
    with store.write() as tx:
        assert tx_of(tx).delete_endpoint("wh_1")
    with store.read() as tx:
        left = tx_of(tx).deliveries()
        assert [(d.delivery_id, d.state) for d in left] == [
            (claim.row.delivery_id, DeliveryState.DELIVERED)
        ]
        assert tx_of(tx).outbox_stats().depth == 0


def test_a_claim_is_a_lease(store: Backend) -> None:
    add_endpoint(store, "http://127.0.0.1:9/a")
    with store.write() as tx:
        first, second, third = tx_of(tx).append_events(
            "acme",
            [
                EventDraft("key_redeemed", T0 + timedelta(seconds=2)),
                EventDraft("licenses_allocated", T0),
                EventDraft("alert.raised", T0 + timedelta(hours=1)),
            ],
        )
    now = to_us(T0 + timedelta(seconds=5))
    with store.write() as tx:
        claims = tx_of(tx).claim_deliveries(now, 10, "one", 60 * US)
    # due ones only, soonest first; the lease and the endpoint come with them
    assert [c.event for c in claims] == [second, first]
    assert [c.row.lease_owner for c in claims] == ["one", "one"]
    assert [c.row.lease_until_us for c in claims] == [now + 60 * US] * 2
    assert claims[0].endpoint.endpoint_id == "wh_1"
    assert "whsec_" not in repr(claims[0])
    with store.write() as tx:
        # leased: nobody else gets them until the lease runs out
        assert tx_of(tx).claim_deliveries(now + 59 * US, 10, "two", 60 * US) == []
    with store.write() as tx:
        again = tx_of(tx).claim_deliveries(now + 60 * US, 1, "two", 60 * US)
    assert [c.event for c in again] == [second]
    # the first owner lost that lease: its failure is not recorded, its success is
    failure = Outcome(DeliveryState.PENDING, now, now + US, 500, "HTTP 500")
    success = Outcome(DeliveryState.DELIVERED, now + 61 * US, status=204)
    with store.write() as tx:
        events = tx_of(tx)
        assert not events.finish_delivery(claims[0].row.delivery_id, "one", failure)
        assert events.finish_delivery(claims[1].row.delivery_id, "one", failure)
        assert events.finish_delivery(claims[0].row.delivery_id, "one", success)
        assert not events.finish_delivery(claims[0].row.delivery_id, "two", success)
        assert not events.finish_delivery("dlv_unknown", "one", success)
    with store.read() as tx:
        done = tx_of(tx).delivery_row(claims[0].row.delivery_id)
        retry = tx_of(tx).delivery_row(claims[1].row.delivery_id)
        assert tx_of(tx).delivery_row("dlv_unknown") is None
    assert done is not None
    assert retry is not None
    assert (done.state, done.attempts, done.next_at_us, done.lease_owner) == (
        "delivered",
        1,
        None,
        None,
    )
    assert (done.last_status, done.last_error, done.delivered_at_us) == (204, None, now + 61 * US)
    assert (retry.state, retry.attempts, retry.next_at_us, retry.lease_until_us) == (
        "pending",
        1,
        now + US,
        0,
    )
    assert (retry.last_status, retry.last_error) == (500, "HTTP 500")
    assert third.seq == 3


def test_disabled_endpoints_hold_their_deliveries(store: Backend) -> None:
    row = add_endpoint(store, "http://127.0.0.1:9/a")
    with store.write() as tx:
        tx_of(tx).append_events("acme", drafts("key_redeemed"))
        tx_of(tx).update_endpoint(attrs.evolve(row, enabled=0))
    with store.write() as tx:
        assert tx_of(tx).claim_deliveries(to_us(T0), 10, "me", US) == []
        tx_of(tx).update_endpoint(row)
    with store.write() as tx:
        assert len(tx_of(tx).claim_deliveries(to_us(T0), 10, "me", US)) == 1


def test_failed_deliveries_are_listed_and_redelivered(store: Backend) -> None:
    add_endpoint(store, "http://127.0.0.1:9/a")
    add_endpoint(store, "http://127.0.0.1:9/z", org_id="zeta", endpoint_id="wh_z")
    with store.write() as tx:
        tx_of(tx).append_events("acme", drafts("key_redeemed"))
        tx_of(tx).append_events("zeta", drafts("key_redeemed", at=T0 + timedelta(seconds=1)))
    end = to_us(T0 + timedelta(days=3))
    with store.write() as tx:
        claims = tx_of(tx).claim_deliveries(end, 10, "me", US)
        for claim in claims:
            tx_of(tx).finish_delivery(
                claim.row.delivery_id,
                "me",
                Outcome(DeliveryState.FAILED, end, None, None, "timed out after 10 s"),
            )
    with store.read() as tx:
        failed = tx_of(tx).deliveries(state=DeliveryState.FAILED)
        assert [d.org_id for d in failed] == ["acme", "zeta"]
        assert tx_of(tx).deliveries("zeta", DeliveryState.FAILED) == failed[1:]
        assert tx_of(tx).deliveries(state=DeliveryState.FAILED, limit=1, offset=1) == failed[1:]
        assert tx_of(tx).deliveries(state=DeliveryState.PENDING) == []
        assert tx_of(tx).outbox_stats().depth == 0
    assert failed[0].next_at is None
    assert failed[0].last_error == "timed out after 10 s"
    later = end + 3600 * US
    with store.write() as tx:
        again = tx_of(tx).redeliver(failed[0].delivery_id, later)
        assert tx_of(tx).redeliver("dlv_unknown", later) is None
    assert again is not None
    assert (again.state, again.next_at_us, again.window_us, again.attempts) == (
        "pending",
        later,
        later,
        1,
    )
    with store.write() as tx:
        (claim,) = tx_of(tx).claim_deliveries(later, 10, "me", 60 * US)
        # redelivering one that is being sent right now leaves it alone
        held = tx_of(tx).redeliver(claim.row.delivery_id, later + US)
    assert held is not None
    assert held.lease_owner == "me"


def test_outbox_stats_count_pending_and_oldest(store: Backend) -> None:
    add_endpoint(store, "http://127.0.0.1:9/a")
    with store.read() as tx:
        empty = tx_of(tx).outbox_stats()
    assert (empty.depth, empty.oldest_pending_at) == (0, None)
    assert empty.oldest_age_seconds(T0) == 0.0
    with store.write() as tx:
        tx_of(tx).append_events("acme", drafts("key_redeemed", at=T0 + timedelta(seconds=30)))
        tx_of(tx).append_events("acme", drafts("key_redeemed", at=T0))
    with store.read() as tx:
        stats = tx_of(tx).outbox_stats()
    assert (stats.depth, stats.oldest_pending_at) == (2, T0)
    assert stats.oldest_age_seconds(T0 + timedelta(minutes=1)) == 60.0


def test_the_sweep_index(store: Backend) -> None:
    with store.write() as tx:
        events = tx_of(tx)
        events.set_sweep_due("acme", 100)
        events.set_sweep_due("beta", 50)
        events.set_sweep_due("zeta", 500)
        events.set_sweep_due("acme", 40)  # moved
    with store.write() as tx:
        assert tx_of(tx).claim_sweep(100, 10, 30) == ["acme", "beta"]
    with store.write() as tx:
        events = tx_of(tx)
        # claimed: pushed by the lease, so a concurrent sweep skips them
        assert events.sweep_due("acme") == 130
        assert events.claim_sweep(129, 10, 30) == []
        assert events.claim_sweep(1000, 1, 30) == ["acme"]
        events.set_sweep_due("acme", None)
        events.set_sweep_due("nobody", None)
        assert events.sweep_due("acme") is None
    with store.read() as tx:
        assert tx_of(tx).sweep_due("zeta") == 500


def test_a_locked_organizations_outbox_follows_the_transactions_own_writes(
    store: Backend,
) -> None:
    # SQLite's lock reads the latest event seq, the sweep due instant and whether an
    # endpoint is subscribed; what the transaction writes after it must still count
    with store.write() as tx:
        assert tx.create_org("acme")
        tx.append(Head("acme", 1, 10), [("org", "o1")], [])
        tx_of(tx).append_events("acme", drafts("key_redeemed"))
        tx_of(tx).set_sweep_due("acme", 100)
    off = add_endpoint(store, "http://127.0.0.1:9/off", endpoint_id="wh_off", enabled=False)
    with store.write() as tx:
        assert tx.lock("acme") == Head("acme", 1, 10)
        events = tx_of(tx)
        (second,) = events.append_events("acme", drafts("licenses_allocated"))
        assert events.update_endpoint(attrs.evolve(off, enabled=1))  # enabled in this transaction
        (third,) = events.append_events("acme", drafts("key_redeemed"))
        row = EndpointRow.new(
            attrs.evolve(
                off.endpoint(), endpoint_id="wh_new", url="http://127.0.0.1:9/new", enabled=True
            ),
            "whsec_new",
        )
        assert events.insert_endpoint(row)  # added in this transaction
        (fourth,) = events.append_events("acme", drafts("key_redeemed"))
        events.set_sweep_due("acme", 100)  # unchanged
        assert events.claim_sweep(100, 10, 30) == ["acme"]  # pushed to 130
        events.set_sweep_due("acme", 100)  # back again
    assert [second.seq, third.seq, fourth.seq] == [2, 3, 4]
    with store.read() as tx:
        assert [e.seq for e in tx_of(tx).events_after("acme")] == [1, 2, 3, 4]
        assert sorted((d.event_id, d.endpoint_id) for d in tx_of(tx).deliveries("acme")) == [
            (third.id, "wh_off"),
            (fourth.id, "wh_new"),
            (fourth.id, "wh_off"),
        ]
        assert tx_of(tx).sweep_due("acme") == 100
    with store.write() as tx:
        assert tx.lock("acme") == Head("acme", 1, 10)
        tx_of(tx).set_sweep_due("acme", None)
        tx_of(tx).set_sweep_due("acme", 100)
        assert tx_of(tx).claim_sweep(100, 10, 30) == ["acme"]
        tx_of(tx).set_sweep_due("acme", None)
    with store.read() as tx:
        assert tx_of(tx).sweep_due("acme") is None


def test_event_tables_are_exported_and_imported(store: Backend) -> None:
    assert set(EVENT_TABLES) <= set(TABLES)
    row = add_endpoint(store, "http://127.0.0.1:9/a", org_id=None)
    with store.write() as tx:
        tx_of(tx).append_events("acme", drafts("key_redeemed", ALERT_RAISED))
        tx_of(tx).set_sweep_due("acme", 77)
    exported = {t: list(store.export_rows(t)) for t in EVENT_TABLES}
    assert {t: store.count_rows(t) for t in EVENT_TABLES} == {
        "webhooks": 1,
        "events": 2,
        "deliveries": 2,
        "sweep_due": 1,
    }
    for table, rows in exported.items():
        assert all(tuple(r) == EXPORT_COLUMNS[table] for r in rows)
    assert exported["webhooks"][0]["secret"] == row.secret
    assert exported["webhooks"][0]["enabled"] == 1
    assert exported["sweep_due"] == [{"org_id": "acme", "due_us": 77}]
    copy = MemoryBackend()
    for table, rows in exported.items():
        assert copy.import_rows(table, rows) == len(rows)
    assert {t: list(copy.export_rows(t)) for t in EVENT_TABLES} == exported
    with copy.read() as tx:
        assert [e.seq for e in tx_of(tx).events_after("acme")] == [1, 2]
        assert tx_of(tx).endpoint_row(row.endpoint_id) == row
    with store.write() as tx:
        # the outbox goes on after a copy: the next seq follows the last
        assert tx_of(tx).append_events("acme", drafts("key_redeemed"))[0].seq == 3
    store.clear()
    assert {t: store.count_rows(t) for t in EVENT_TABLES} == dict.fromkeys(EVENT_TABLES, 0)


def test_endpoint_rows_round_trip_their_values() -> None:
    row = EndpointRow(
        endpoint_id="wh_1",
        scope="acme",
        url="https://hooks.example.com/x",
        types='["alert.cleared","alert.raised"]',
        enabled=1,
        allow_http=0,
        allow_private=0,
        created_at_us=to_us(T0),
        secret="whsec_" + "B" * 44,
    )
    endpoint = row.endpoint()
    assert endpoint.types == ("alert.cleared", "alert.raised")
    assert endpoint.receives("alert.raised")
    assert not endpoint.receives("key_redeemed")
    assert endpoint.created_at == T0 == from_us(to_us(T0))
    assert EndpointRow.new(endpoint, row.secret) == row
    target = row.target()
    assert (target.url, target.allow_http, target.allow_private) == (
        "https://hooks.example.com/x",
        False,
        False,
    )


@pytest.mark.parametrize(("source", "target"), [("sqlite", "postgresql"), ("postgresql", "sqlite")])
def test_migrate_carries_the_outbox_between_backends(
    source: str, target: str, tmp_path: Path, postgres_url: str
) -> None:
    urls = {"sqlite": f"sqlite:///{tmp_path / 'axis.db'}", "postgresql": postgres_url}
    store = open_backend(urls[source])
    add_endpoint(store, "http://127.0.0.1:9/a")
    with store.write() as tx:
        tx_of(tx).append_events("acme", drafts("key_redeemed", ALERT_RAISED))
        (claim,) = tx_of(tx).claim_deliveries(to_us(T0), 1, "me", US)
        retry = Outcome(DeliveryState.PENDING, to_us(T0), to_us(T0) + 9, 500, "HTTP 500")
        tx_of(tx).finish_delivery(claim.row.delivery_id, "me", retry)
        tx_of(tx).set_sweep_due("acme", 5)
    before = {t: list(store.export_rows(t)) for t in EVENT_TABLES}
    copy = open_backend(urls[target])
    report = migrate(store, copy)
    assert report.verified
    assert {t: report.table(t).rows for t in EVENT_TABLES} == {
        "webhooks": 1,
        "events": 2,
        "deliveries": 2,
        "sweep_due": 1,
    }
    assert {t: list(copy.export_rows(t)) for t in EVENT_TABLES} == before
    with copy.write() as tx:
        assert tx_of(tx).append_events("acme", drafts("key_redeemed"))[0].seq == 3
        due = tx_of(tx).claim_deliveries(to_us(T0) + 10, 5, "you", US)
        assert sorted(c.event.seq for c in due) == [1, 2, 3]
    store.close()
    copy.close()
