"""The Manager's queries (SPEC §3): status, need, wallet, systems, listings, alerts, history.

Queries read; they never write. ``at=None`` is one coherent instant:
``max(clock now, the organization's latest recorded command)`` (SPEC §1). A
query loads the organization's parts in force at ``at`` (its own parts from the
cache when current, plus the systems it names) and projects them forward with
the same policy as the commands (R3–R9).

At or after the latest command, an answer is a pure function of the question,
the organization's head version, the catalog version in effect at the instant,
and the instant's local date (a :data:`~axis_licensing.shell.loading.Stamp`):
``status``, ``products``, ``need``, ``wallet`` and ``system_status`` keep their
answers under it, so asking again costs one read of the head (SPEC §5). An
answer at a past ``at`` is always worked out again from the parts in force then.

The readings at an instant take their ``Args:`` from their declarations
(:func:`~axis_licensing.shell.operations.documented`), as the commands do.

:class:`Queries` is a base of :class:`~axis_licensing.manager.Manager`, which
provides the plumbing it declares.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, TypeVar, cast

import attrs

from axis_licensing._convert import loads
from axis_licensing._counts import Counts
from axis_licensing._time import check_aware, from_us, local_date, to_us
from axis_licensing._validate import check_id
from axis_licensing.backends import Backend, Head, HistoryQuery, ReadTx
from axis_licensing.catalog import Catalog, CatalogVersion, ProductSpec
from axis_licensing.errors import InvalidInput, UnknownSystem
from axis_licensing.model import (
    Activity,
    Alert,
    NeedReport,
    Organization,
    ProductStatus,
    SystemStatus,
    Wallet,
)
from axis_licensing.policy import alerts as alerting
from axis_licensing.policy import catalogs as editions
from axis_licensing.policy import engine
from axis_licensing.policy import status as readings
from axis_licensing.policy.state import HardwareRecord, OrgState
from axis_licensing.shell import history as _history
from axis_licensing.shell import parts as _parts
from axis_licensing.shell.catalog_versions import CatalogVersions
from axis_licensing.shell.loading import Stamp, StateCache, all_systems, with_named
from axis_licensing.shell.operations import MAX_HORIZON, OPERATIONS, documented
from axis_licensing.shell.transact import unknown_organization

__all__ = ["MAX_HORIZON", "Queries"]

T = TypeVar("T")


@attrs.frozen
class _View:
    """An organization as a query sees it: state, local date, instant and catalog.

    ``stamp`` is what the answer depends on besides the question, when the
    state is the head's (``at`` at or after the latest command); None at a past ``at``.
    """

    state: OrgState
    day: date
    instant: datetime
    catalog: Catalog
    stamp: Stamp | None = None


class Queries:
    """The Manager's queries; they read the store and never write it."""

    #: Whether the backend's ``peek`` reads the catalog version too (learnt on the first query).
    _peeks: bool = True

    if TYPE_CHECKING:  # provided by the Manager
        backend: Backend
        _states: StateCache
        _versions: CatalogVersions

        def _read(self, look: Callable[[ReadTx], T]) -> T: ...
        def _retrying(self, attempt: Callable[[], T]) -> T: ...
        def _now(self) -> datetime: ...
        def _spec(self, product: str) -> ProductSpec: ...
        def _check_types(self, product: str, counts: Counts, what: str) -> None: ...
        def _refresh_catalogs(self, tx: ReadTx) -> tuple[CatalogVersion, ...]: ...
        def _catalog_at(self, state: OrgState, instant: datetime, day: date) -> Catalog: ...

    def _view(
        self,
        org_id: object,
        at: object,
        *,
        more: Callable[[ReadTx, OrgState, int | None], OrgState],
    ) -> _View:
        """The organization's state in force at ``at``, projected to its local date.

        ``at=None`` is one coherent instant: ``max(clock now, the organization's
        latest recorded command)`` (SPEC §1), so a clock that is behind, or set
        back, never mixes "now" with later facts. The state holds the
        organization's own parts and what ``more`` loads in the same read, as at
        the version read (None: the head).
        """
        view = self._loaded(org_id, at, more=more)
        state, _ = engine.advance(view.state, view.catalog, view.day)
        return attrs.evolve(view, state=state)

    def _loaded(
        self,
        org_id: object,
        at: object,
        *,
        systems: Sequence[str] = (),
        serials: Sequence[str] = (),
        more: Callable[[ReadTx, OrgState, int | None], OrgState] | None = None,
    ) -> _View:
        """:meth:`_view` before time is applied: the state as stored, and the answer's stamp."""
        org_id = check_id(org_id, "org_id")
        asked = None if at is None else check_aware(at, "at")
        now = self._now() if asked is None else asked

        def look(tx: ReadTx) -> tuple[OrgState, datetime, int | None]:
            head = tx.head(org_id)
            if head is None:
                raise unknown_organization(org_id)
            self._refresh_catalogs(tx)
            instant = max(now, from_us(head.at_us)) if asked is None else now
            seq: int | None = None
            if to_us(instant) >= head.at_us:
                state = self._states.core(tx, head)
            else:
                seq = tx.seq_at(org_id, to_us(instant))
                if seq is None:  # before the organization existed: nothing was recorded yet
                    return self._states.core(tx, head).as_created(), instant, None
                state = _parts.assemble(org_id, tx.parts_prefixed(org_id, _parts.ORG, seq=seq))
            state = with_named(tx, state, seq, systems, serials)
            state = state if more is None else more(tx, state, seq)
            return state, instant, head.seq if seq is None else None

        state, instant, at_head = self._read(look)
        day = local_date(instant, state.timezone)
        version, catalog = self._versions.in_effect(state, instant, day)
        stamp = None if at_head is None else (at_head, version, day)
        return _View(state, day, instant, catalog, stamp)

    def _answered(
        self,
        question: tuple[Hashable, ...],
        org_id: str,
        at: datetime | None,
        reading: Callable[[_View], T],
        *,
        system_id: str | None = None,
    ) -> T:
        """``reading`` of the organization's view at ``at``, kept for its head (SPEC §5).

        The answer at or after the latest command depends on the question and
        the :data:`Stamp` alone, so it is kept under both: asking again reads
        the head (one statement, :meth:`Backend.peek`) and returns it. The
        answer must be immutable (copy mutable parts in the caller). At a past
        ``at``, or on a miss, it is worked out from the store.

        Args:
            question: the query's name and every other argument it depends on.
            org_id: the organization (checked).
            at: the instant asked about (checked); None is ``max(now, latest command)``.
            reading: the pure reading of the view.
            system_id: a system to load with the state.

        Returns:
            The answer.

        Raises:
            LicensingError: as the query raises.
        """
        now = self._now() if at is None else at
        if self._peeks and type(self.backend).peek is Backend.peek:
            self._peeks = False  # the interface's default reads through read(): no cheaper
        if self._peeks:
            head = self._retrying(lambda: self.backend.peek(org_id))
            if head is not None:
                if head.catalog_version is None:  # the backend cannot say: read in full
                    self._peeks = False
                else:
                    kept = self._kept_answer(head, now, at is None, question)
                    if kept is not None:
                        return cast("T", kept)
        view = self._loaded(org_id, at, systems=() if system_id is None else (system_id,))
        if view.stamp is not None:
            kept = self._states.answer(org_id, view.stamp, question)
            if kept is not None:
                return cast("T", kept)
        state, _ = engine.advance(view.state, view.catalog, view.day)
        answer = reading(attrs.evolve(view, state=state))
        if view.stamp is not None:
            self._states.keep_answer(org_id, view.stamp, question, answer)
        return answer

    def _product_reading(
        self,
        name: str,
        values: Mapping[str, object],
        reading: Callable[[OrgState, ProductSpec, date], T],
    ) -> T:
        """The query ``name`` about one product at ``values["at"]``: what ``reading`` makes of it.

        It checks ``values`` and raises as :meth:`status` and :meth:`wallet` say.
        """
        a = OPERATIONS[name].checked(values, self)
        product = a["product"]

        def read(view: _View) -> T:
            return reading(view.state, view.catalog.product(product), view.day)

        return self._answered((name, product), a["org_id"], a["at"], read)

    def _kept_answer(
        self, head: Head, now: datetime, coherent: bool, question: tuple[Hashable, ...]
    ) -> object | None:
        """The answer kept for ``question`` about ``head``, at ``now``; None if there is none."""
        stamp = self._stamp_at(head, now, coherent)
        return None if stamp is None else self._states.answer(head.org_id, stamp, question)

    def _stamp_at(self, head: Head, now: datetime, coherent: bool = True) -> Stamp | None:
        """The :data:`Stamp` a query about ``head``'s organization at ``now`` is kept under.

        None when this Manager cannot say without reading the organization
        (another head or catalog version than it holds, or a past instant).
        ``coherent`` is what ``at=None`` asks: the later of ``now`` and the
        latest command. The kept-answer path of the service
        (:mod:`axis_licensing.http._fast`) compares it with the stamp of an
        answer it gave.
        """
        known = self._versions.known
        cached = self._states.get(head.org_id)
        if cached is None or cached[0] != head.seq or known[-1].version != head.catalog_version:
            return None  # another version, or a catalog this Manager has not read yet
        instant = max(now, from_us(head.at_us)) if coherent else now
        if to_us(instant) < head.at_us:
            return None  # a past instant: worked out from the parts in force then
        day = local_date(instant, cached[1].timezone)
        return (head.seq, editions.version_at(known, instant).version, day)

    # -- queries ---------------------------------------------------------------------------------

    @documented("status")
    def status(self, org_id: str, product: str, *, at: datetime | None = None) -> ProductStatus:
        """The product's license status at ``at`` (R3, R5).

        Returns:
            The status, under the catalog version in effect at ``at`` (R15).

        Raises:
            InvalidInput: a bad id or a naive ``at``.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog (then) has no such product.
            StorageError: the backend failed.
        """
        return self._product_reading("status", locals(), readings.product_status)

    def need(
        self, org_id: str, product: str, *, at: datetime | None = None, horizon: int = 5
    ) -> NeedReport:
        """The need of the current and the next ``horizon`` periods, and what to buy (R4, R7).

        Args:
            org_id: the organization.
            product: the product.
            at: the instant asked about; None is ``max(now, the latest command)`` (SPEC §1).
            horizon: how many periods after the current one, 0 to 100.

        Returns:
            The need per period, the wallet balance and what to buy.

        Raises:
            InvalidInput: a bad id, a naive ``at`` or a bad horizon: not an integer
                from 0 to 100, or reaching past the year 9999.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog (then) has no such product.
            SubscriptionNotStarted: the subscription has not started.
            StorageError: the backend failed.
        """
        a = OPERATIONS["need"].checked(locals(), self)
        product, horizon = a["product"], a["horizon"]

        def reading(view: _View) -> NeedReport:
            spec = view.catalog.product(product)
            if view.day.year + (horizon + 2) * spec.term_years > date.max.year:
                raise InvalidInput(
                    f"horizon {horizon}: {horizon} periods of {spec.term_years} years after "
                    f"{view.day.isoformat()} reach past the calendar (year {date.max.year})",
                    param="horizon",
                )
            return readings.need_report(view.state, spec, view.day, horizon)

        return self._answered(("need", product, horizon), a["org_id"], a["at"], reading)

    @documented("wallet")
    def wallet(self, org_id: str, product: str, *, at: datetime | None = None) -> Wallet:
        """The product's wallet at ``at``: live lots and the credit (R6, R8).

        Returns:
            The live lots, earliest expiry first, and the fractional credit.

        Raises:
            InvalidInput: a bad id or a naive ``at``.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog (then) has no such product.
            StorageError: the backend failed.
        """
        kept = self._product_reading(
            "wallet", locals(), lambda state, spec, day: readings.wallet_view(state, spec.code, day)
        )
        # its credit is a dict: each caller gets its own
        return Wallet(product=kept.product, lots=kept.lots, credit=kept.credit)

    @documented("system_status")
    def system_status(
        self, org_id: str, system_id: str, *, at: datetime | None = None
    ) -> SystemStatus:
        """A system's devices, hardware coverage and whether it is licensed (R9).

        Returns:
            The system's status.

        Raises:
            InvalidInput: a bad id or a naive ``at``.
            UnknownOrganization: no such organization.
            UnknownProduct: the product involved is no longer in the catalog.
            UnknownSystem: the organization has no such system (then).
            StorageError: the backend failed.
        """
        a = OPERATIONS["system_status"].checked(locals(), self)
        system_id = a["system_id"]

        def reading(view: _View) -> SystemStatus:
            system = view.state.systems.get(system_id)
            if system is None:
                raise UnknownSystem(
                    f"unknown system {system_id!r}", details={"system_id": system_id}
                )
            return readings.system_status(view.state, view.catalog, system, view.day)

        return self._answered(
            ("system_status", system_id), a["org_id"], a["at"], reading, system_id=system_id
        )

    # -- listings and alerts (SPEC §3) -------------------------------------------------------------

    def organizations(self, *, limit: int | None = None, offset: int = 0) -> list[Organization]:
        """The organizations, by ``org_id`` (byte order of its UTF-8 text), paged.

        Only the listed page is read from the store.

        Args:
            limit: at most this many (None: all the rest).
            offset: skip this many first.

        Returns:
            Each organization's id, name, zone and anchor (R2).

        Raises:
            InvalidInput: ``limit`` or ``offset`` is not a non-negative integer.
            StorageError: the backend failed.
        """
        a = OPERATIONS["organizations"].checked(locals(), self)
        limit, offset = a["limit"], a["offset"]

        def look(tx: ReadTx) -> list[Organization]:
            found = (self._organization(tx, org_id) for org_id in tx.org_ids(limit, offset))
            return [org for org in found if org is not None]

        return self._read(look)

    def organization(self, org_id: str) -> Organization:
        """One organization: its id, name, zone and anchor, as :meth:`organizations` lists it.

        An addition to SPEC §3. Only that organization's header is read, whatever
        the number of organizations.

        Args:
            org_id: the organization.

        Returns:
            The organization.

        Raises:
            InvalidInput: a malformed id.
            UnknownOrganization: no such organization.
            StorageError: the backend failed.
        """
        org_id = OPERATIONS["organization"].checked(locals(), self)["org_id"]
        found = self._read(lambda tx: self._organization(tx, org_id))
        if found is None:
            raise unknown_organization(org_id)
        return found

    def _organization(self, tx: ReadTx, org_id: str) -> Organization | None:
        """The header of ``org_id``, or None (no such organization, or one still being created)."""
        head = tx.head(org_id)
        if head is None or head.seq == 0:  # reserved by a command still running
            return None
        cached = self._states.get(org_id)
        if cached is not None and cached[0] == head.seq:
            header = _parts.OrgHeader.of(cached[1])
        else:  # the header part alone
            header = _parts.header(org_id, tx.parts(org_id, [_parts.ORG]))
        return Organization(
            org_id=org_id, name=header.name, timezone=header.timezone, anchor=header.anchor
        )

    @documented("products")
    def products(self, org_id: str, *, at: datetime | None = None) -> list[ProductStatus]:
        """The status of every product of the catalog, NOT_STARTED included, in catalog order.

        Returns:
            One status per product of the catalog version in effect at ``at`` (R15).

        Raises:
            InvalidInput: a bad id or a naive ``at``.
            UnknownOrganization: no such organization.
            StorageError: the backend failed.
        """
        a = OPERATIONS["products"].checked(locals(), self)

        def reading(view: _View) -> tuple[ProductStatus, ...]:
            return tuple(
                readings.product_status(view.state, spec, view.day)
                for spec in view.catalog.products
            )

        return list(self._answered(("products",), a["org_id"], a["at"], reading))

    def systems(
        self,
        org_id: str,
        *,
        product: str | None = None,
        at: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[SystemStatus]:
        """The organization's systems with their status, by ``system_id``, paged (R9).

        Args:
            org_id: the organization.
            product: only this product's systems.
            at: the instant asked about; None is ``max(now, the latest command)`` (SPEC §1).
            limit: at most this many (None: all the rest).
            offset: skip this many first.

        Returns:
            Each system's status, with its ``system_id``, ``product`` and ``hardware``.

        Raises:
            InvalidInput: a bad id, a naive ``at``, or a bad ``limit`` or ``offset``.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog has no such product.
            StorageError: the backend failed.
        """
        a = OPERATIONS["systems"].checked(locals(), self)
        product, limit, offset = a["product"], a["limit"], a["offset"]
        chosen: list[str] = []

        def page(tx: ReadTx, state: OrgState, seq: int | None) -> OrgState:
            # pages of system parts by id: reads what the answer needs, and what it skips
            skip, after = offset, None
            while limit is None or len(chosen) < limit:
                state, ids = _parts.systems_page(tx, state, seq=seq, after=after, limit=500)
                if not ids:
                    break
                after = ids[-1]
                for system_id in ids:
                    if product is not None and state.systems[system_id].product != product:
                        continue
                    if skip:
                        skip -= 1
                    elif limit is None or len(chosen) < limit:
                        chosen.append(system_id)
            return state

        view = self._view(a["org_id"], a["at"], more=page)
        return [
            readings.system_status(view.state, view.catalog, view.state.systems[s], view.day)
            for s in chosen
        ]

    def alerts(
        self, org_id: str, *, at: datetime | None = None, within_days: int = 60
    ) -> list[Alert]:
        """What the organization should act on, soonest first (SPEC §3).

        See :mod:`axis_licensing.policy.alerts` for each :class:`AlertKind`.

        Args:
            org_id: the organization.
            at: the instant asked about; None is ``max(now, the latest command)`` (SPEC §1).
            within_days: how far ahead dated alerts look, 0 to 3660 days.

        Returns:
            The alerts, soonest first.

        Raises:
            InvalidInput: a bad id, a naive ``at`` or a bad ``within_days``.
            UnknownOrganization: no such organization.
            StorageError: the backend failed.
        """
        a = OPERATIONS["alerts"].checked(locals(), self)
        # SYSTEM_UNLICENSED is about each system: this query reads them all
        view = self._view(a["org_id"], a["at"], more=all_systems)
        return alerting.alerts(view.state, view.catalog, view.day, a["within_days"])

    def history(
        self,
        org_id: str,
        *,
        product: str | None = None,
        actor: str | None = None,
        actions: Iterable[str] | None = None,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Activity]:
        """The organization's activities, oldest first (R11).

        Expiries that happened since the last command, up to ``max(now, the
        latest command)``, are included with their own dates, though no command
        recorded them yet.

        Args:
            org_id: the organization.
            product: only this product's activities.
            actor: only this actor's.
            actions: only these actions.
            since: from this local date, or this instant (inclusive).
            until: through this local date, or this instant (inclusive).
            limit: at most this many.
            offset: skip this many first.

        Raises:
            InvalidInput: bad ids, unknown actions, naive instants or bad paging.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog has no such product.
            StorageError: the backend failed.
        """
        a = OPERATIONS["history"].checked(locals(), self)
        org_id, product, actor, wanted = a["org_id"], a["product"], a["actor"], a["actions"]
        limit, offset = a["limit"], a["offset"]
        query = HistoryQuery(product=product, actor=actor, actions=wanted)
        query = _history.bound(query, since, "since")
        query = _history.bound(query, until, "until")
        now = self._now()

        def look(tx: ReadTx) -> tuple[list[Activity], list[Activity], int]:
            head = tx.head(org_id)
            if head is None:
                raise unknown_organization(org_id)
            stored = [_history.from_row(r) for r in tx.history(org_id, query, limit, offset)]
            self._refresh_catalogs(tx)
            state = self._states.core(tx, head)
            instant = max(now, from_us(head.at_us))  # one coherent "now" (SPEC §1)
            day = local_date(instant, state.timezone)
            _, pending = engine.advance(state, self._catalog_at(state, instant, day), day)
            projected = [
                a
                for a in (_history.activity_of(f, state.timezone) for f in pending)
                if query.matches(_history.row_of(org_id, a))
            ]
            if not projected or (limit is not None and len(stored) >= limit):
                return stored, [], 0
            skip = max(0, offset - tx.count_history(org_id, query)) if not stored else 0
            return stored, projected, skip

        stored, projected, skip = self._read(look)
        tail = projected[skip:]
        if limit is not None:
            tail = tail[: limit - len(stored)]
        return stored + tail

    def _answer_again(self, name: str, bound: Mapping[str, object]) -> object:
        """The answer to a replayed request whose first answer an earlier release did not keep."""
        org_id = str(bound["org_id"])
        if name == "create_organization":
            header = self._read(lambda tx: _parts.header(org_id, tx.parts(org_id, [_parts.ORG])))
            return Organization(
                org_id=org_id, name=header.name, timezone=header.timezone, anchor=header.anchor
            )
        if name == "start_subscription":
            return self.status(org_id, str(bound["product"]))
        if name == "allocate_to_hardware":
            serial = str(bound["serial"])
            rows = self._read(lambda tx: tx.parts(org_id, [_parts.hardware_part(serial)]))
            if not rows:
                raise unknown_organization(org_id)
            return self.system_status(org_id, loads(rows[0].value, HardwareRecord).system_id)
        return self.system_status(org_id, str(bound["system_id"]))
