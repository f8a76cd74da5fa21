"""The one command pipeline, for the organizations' commands and the vendor's alike (R13).

Every command runs :meth:`Pipeline._run`, in one write transaction retried
while it loses races:

1. read the clock; in the transaction, read the catalog versions (R15) and
   any remembered result of the ``request_id``;
2. lock the organization and load the parts of its state the command names,
   and the inputs it declares (:meth:`~axis_licensing.policy.commands.Command.needs`):
   the key's row, the shipments, the latest catalog version, a new key;
3. check what needs the store (license types of the product a system or unit
   has). The authorize hook is asked once, with the command's product (§4),
   outside any transaction, so that a host's hook may read the store or take
   its time without holding the write lock: before the transaction when the
   command names its product, else once the transaction has read it (the
   transaction is then rolled back, the hook asked, and the command run again);
4. replay a remembered ``request_id`` (its first result) or refuse it with
   other arguments (R13);
5. :func:`~axis_licensing.policy.decide.decide`; apply its claims (a lost
   claim is the documented error); append the changed parts and the
   activities; sign an upload's license file from the decision; remember the
   result under the ``request_id``; commit;
   the command's events are written in the same transaction (the outbox,
   :mod:`~axis_licensing.shell.outbox`, SPEC §7);
6. set the wake of an in-process dispatcher; tell the activity and alert observers.

Results are stored through the one converter; a result stored as ``null`` by
an earlier release replays as None.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar, cast

import attrs

from axis_licensing import _commands as cmd
from axis_licensing._convert import dumps, loads
from axis_licensing._counts import Counts
from axis_licensing._time import Clock, check_aware, from_us, local_date, to_us
from axis_licensing.backends import (
    Backend,
    CatalogRow,
    Head,
    KeyRow,
    ReadTx,
    RequestRow,
    RetryableConflict,
    ShipmentRow,
    WriteTx,
)
from axis_licensing.catalog import Catalog, CatalogVersion, ProductSpec
from axis_licensing.errors import (
    AlreadyExists,
    AlreadyRegistered,
    ConcurrencyConflict,
    IdempotencyConflict,
    InvalidInput,
    KeyAlreadyRedeemed,
    LicensingError,
    PermissionDenied,
    StorageError,
    UnknownProduct,
)
from axis_licensing.members.history import record_owner
from axis_licensing.members.store import MemberWriteTx
from axis_licensing.model import (
    Activity,
    Allocation,
    LicenseKind,
    Organization,
    ProductStatus,
    Redemption,
    SystemStatus,
)
from axis_licensing.policy import decide as decisions
from axis_licensing.policy import engine
from axis_licensing.policy.catalogs import check_compatible
from axis_licensing.policy.state import OrgState
from axis_licensing.shell import history as _history
from axis_licensing.shell import keys as _keys
from axis_licensing.shell import parts as _parts
from axis_licensing.shell.alert_hook import Change, appeared
from axis_licensing.shell.build import BUILDERS
from axis_licensing.shell.catalog_versions import CatalogVersions
from axis_licensing.shell.derive import KeyDeriver
from axis_licensing.shell.loading import StateCache, all_systems, with_named
from axis_licensing.shell.operations import OPERATIONS, Check
from axis_licensing.shell.plugins import Plugins
from axis_licensing.shell.signing import Signer
from axis_licensing.shell.transact import (
    RECORDED,
    judged,
    lock_org,
    prior_request,
    record,
    unknown_organization,
)

__all__ = ["MAX_ATTEMPTS", "RESULT_TYPES", "VENDOR_SCOPE", "Pipeline", "Ran", "org_scope"]

T = TypeVar("T")

#: How many times a command that lost a race is run again before ConcurrencyConflict (R13).
MAX_ATTEMPTS = 12

#: The idempotency scope of the vendor's commands (R13).
VENDOR_SCOPE = "vendor"

#: The type of each command's (stored) result.
RESULT_TYPES: dict[type[cmd.Command], type] = {
    cmd.CreateOrganization: Organization,
    cmd.RegisterSystem: SystemStatus,
    cmd.ReportDevices: SystemStatus,
    cmd.StartSubscription: ProductStatus,
    cmd.RedeemKey: Redemption,
    cmd.Allocate: Allocation,
    cmd.AllocateNeed: Allocation,
    cmd.RegisterHardware: SystemStatus,
    cmd.AllocateToHardware: SystemStatus,
    cmd.UploadSystemFile: bytes,
    cmd.IssueKey: str,
    cmd.ShipHardware: type(None),
    cmd.PublishCatalog: int,
}


def org_scope(org_id: str) -> str:
    """The idempotency scope of an organization's commands (R13)."""
    return f"org:{org_id}"


@attrs.frozen
class _IssuedKeyResult:
    """What ``vendor.issue_key`` remembers of a request: the key's hash, never the key (R10)."""

    key_hash: str


@attrs.frozen
class Ran:
    """One transaction's outcome: the result, and what the shell does once it committed."""

    result: object
    #: The organization it wrote, or None.
    org_id: str | None = None
    #: The version written and the state it holds, kept once committed.
    written: tuple[int, OrgState] | None = None
    #: The state before and after, for the alert observers (not for a new organization).
    change: Change | None = None


@attrs.define
class _Call:
    """One call of a command: what it asks, for whom, and the products already authorized."""

    command: cmd.Command
    org_id: str | None
    actor: str
    request_id: str | None
    scope: str
    fingerprint: str
    authorized: set[str | None] = attrs.field(factory=set)


class _AskFirst(Exception):
    """The command's product is known only now: ask the authorize hook outside the transaction."""

    def __init__(self, product: str | None) -> None:
        super().__init__(product)
        self.product = product


#: Commands whose product the store says (the system's, the unit's, the key's).
_PRODUCT_STORED = (cmd.RedeemKey, cmd.ReportDevices, cmd.RegisterHardware, cmd.AllocateToHardware)


@attrs.frozen
class _Loaded:
    """What one attempt loaded: the head and state, when the command runs, and its inputs."""

    head: Head | None
    state: OrgState | None
    instant: datetime
    day: date
    latest: CatalogVersion
    inputs: decisions.Inputs


class Pipeline:
    """The shell's plumbing and the one command pipeline; a base of the Manager."""

    backend: Backend
    clock: Clock
    _plugins: Plugins
    _states: StateCache
    _versions: CatalogVersions
    _signer: Signer
    _deriver: KeyDeriver
    #: Set after every commit that wrote events: wakes an in-process dispatcher (SPEC §7).
    _wake: threading.Event

    # -- plumbing -------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return check_aware(self.clock.now(), "clock.now()")

    def _read(self, look: Callable[[ReadTx], T]) -> T:
        """Run ``look`` in a read transaction, again if the store was busy (R13)."""

        def attempt() -> T:
            with self.backend.read() as tx:
                return look(tx)

        return self._retrying(attempt)

    def _retrying(self, attempt: Callable[[], T]) -> T:
        delay = 0.002
        for _ in range(MAX_ATTEMPTS):
            try:
                return attempt()
            except RetryableConflict:
                time.sleep(delay * random.random())
                delay = min(delay * 2, 0.5)
        raise ConcurrencyConflict(
            f"the command lost {MAX_ATTEMPTS} races with concurrent commands and was not applied",
            details={"attempts": MAX_ATTEMPTS},
        )

    def _refresh_catalogs(self, tx: ReadTx) -> tuple[CatalogVersion, ...]:
        """The versions, with any recorded since this Manager last looked."""
        return self._versions.refresh(tx)

    def _catalog_at(self, state: OrgState, instant: datetime, day: date) -> Catalog:
        """The catalog the rules apply to ``state`` at ``instant`` (R15)."""
        return self._versions.at(state, instant, day)

    def _latest(self) -> Catalog:
        return self._versions.known[-1].catalog

    def _spec(self, product: str) -> ProductSpec:
        """The product in the latest catalog, read again if another process published it."""
        try:
            return self._latest().product(product)
        except UnknownProduct:
            return self._read(self._refresh_catalogs)[-1].catalog.product(product)

    def _check_types(self, product: str, counts: Counts, what: str) -> None:
        """Refuse license types the product lacks, after reading any newer catalog (R14, R15)."""
        try:
            engine.check_types(self._latest().product(product), counts, what)
        except InvalidInput:  # perhaps a type a newer catalog added: read it
            latest = self._read(self._refresh_catalogs)[-1].catalog
            engine.check_types(latest.product(product), counts, what)

    def _authorize_call(self, call: _Call, product: str | None) -> None:
        """Ask the authorize hook about ``call`` with ``product``, once per product (§4)."""
        if product in call.authorized:
            return
        org_id = None if call.command.VENDOR else call.org_id
        self._authorize(call.actor, org_id, call.command.ACTION, product)
        call.authorized.add(product)

    def _authorize(self, actor: str, org_id: str | None, action: str, product: str | None) -> None:
        if not self._plugins.authorize(actor, org_id, action, product):
            raise PermissionDenied(
                f"{actor!r} may not {action}", details={"actor": actor, "action": action}
            )

    def _notify(self, activities: Sequence[Activity]) -> None:
        for activity in activities:
            self._plugins.activity(activity)

    # -- the pipeline ---------------------------------------------------------------------------

    def _execute(self, name: str, values: Mapping[str, object]) -> Any:
        """Check ``values`` by the declaration of command ``name``, build it and run it.

        Args:
            name: a declared command (:data:`~axis_licensing.shell.operations.OPERATIONS`).
            values: its parameters by name (a public method's ``locals()``).

        Returns:
            Its full result (see :meth:`_run`).

        Raises:
            LicensingError: as the command's declaration lists.
        """
        try:
            checked = OPERATIONS[name].checked(values, self)
        except InvalidInput as refused:
            checked = self._repeated(name, values, refused)
        org_id, command = BUILDERS[name](self, checked, values)
        return self._run(
            command, org_id=org_id, actor=checked["actor"], request_id=checked["request_id"]
        )

    def _repeated(
        self, name: str, values: Mapping[str, object], refused: InvalidInput
    ) -> dict[str, Any]:
        """The checked values of a repeat of a request recorded before R14's id rule.

        A new id obeys the rule, but a repeat creates nothing (R13): when the
        store remembers ``values``' request id with the same arguments, the ids
        are checked as ids referred to (R14), and the pipeline replays it.

        Raises:
            InvalidInput: ``refused``, when ``values`` are not such a repeat.
        """
        new_ids = {p.name for p in OPERATIONS[name].params if p.check is Check.NEW_ID}
        if values.get("request_id") is None or refused.details.get("param") not in new_ids:
            raise refused
        try:
            checked = OPERATIONS[name].checked(values, self, new_ids=False)
            org_id, command = BUILDERS[name](self, checked, values)
        except LicensingError:
            raise refused from None
        scope = VENDOR_SCOPE if command.VENDOR else org_scope(str(org_id))
        request_id: str = checked["request_id"]
        prior = self._read(lambda tx: tx.request(scope, request_id))
        if prior is None or prior.fingerprint != cmd.fingerprint(command):
            raise refused
        return checked

    def _run(
        self, command: cmd.Command, *, org_id: str | None, actor: str, request_id: str | None
    ) -> Any:
        """Run ``command`` through the pipeline; its decided (or replayed) result.

        Args:
            command: the checked command.
            org_id: the organization it acts on; None for the vendor's commands.
            actor: who runs it.
            request_id: makes it idempotent (R13).

        Returns:
            The result (for a replay, the first run's result; None if an earlier
            release stored none).

        Raises:
            LicensingError: what the command's checks, the authorize hook, the
                idempotency check, the decision or a lost claim raise.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        call = _Call(
            command=command,
            org_id=org_id,
            actor=actor,
            request_id=request_id,
            scope=VENDOR_SCOPE if command.VENDOR else org_scope(str(org_id)),
            fingerprint=cmd.fingerprint(command) if request_id is not None else "",
        )

        if not isinstance(command, _PRODUCT_STORED):
            named = getattr(command, "product", None)
            self._authorize_call(call, named if isinstance(named, str) and named else None)

        def body(tx: WriteTx, now: datetime) -> Ran:
            loaded = self._load(tx, call, now)
            prior = self._admit(tx, call, loaded)
            if prior is not None:
                return Ran(self._replay(command, prior.request_id, prior.result))
            return self._apply(tx, call, loaded)

        after = self._catalog_recorded if isinstance(command, cmd.PublishCatalog) else None
        while True:
            try:
                return self._transact(body, after=after).result
            except _AskFirst as ask:  # rolled back: nothing was written
                self._authorize_call(call, ask.product)

    def _catalog_recorded(self) -> None:
        """Read the catalog versions again once a new one committed."""
        # The version is committed: a store that fails now must not turn that into an
        # error (R13). Every later command reads the versions again in its transaction.
        with contextlib.suppress(StorageError, ConcurrencyConflict):
            self._read(self._refresh_catalogs)

    def _transact(
        self, body: Callable[[WriteTx, datetime], Ran], *, after: Callable[[], None] | None = None
    ) -> Ran:
        """The one shell's write: every command, of every kind, commits through here.

        Runs ``body(tx, now)`` in a write transaction, again while it loses a race
        (R13). Once it committed: the state cache keeps the version it wrote,
        ``after`` runs, an in-process dispatcher wakes for the events, and the
        observers hear of the activities it recorded (:func:`.transact.record`)
        and of the alerts that appeared (§4, §7).

        Raises:
            ConcurrencyConflict: it kept losing races.
            StorageError: the store failed.
            LicensingError: what ``body`` raises (nothing is written).
        """

        def attempt() -> tuple[Ran, list[Activity]]:
            now = self._now()
            recorded: list[Activity] = []
            token = RECORDED.set(recorded)
            try:
                with self.backend.write() as tx:
                    ran = body(tx, now)
            finally:
                RECORDED.reset(token)
            return ran, recorded

        ran, recorded = self._retrying(attempt)
        if ran.written is not None and ran.org_id is not None:
            self._states.remember(ran.org_id, *ran.written)  # committed: the version's for good
        if after is not None:
            after()
        if recorded and not self._wake.is_set():
            self._wake.set()  # the events are committed: an in-process dispatcher sends them now
        self._notify(recorded)
        if ran.change is not None and ran.org_id is not None:
            self._notify_alerts(ran.org_id, ran.change)
        return ran

    def _write(
        self, body: Callable[[WriteTx, datetime], T], *, after: Callable[[], None] | None = None
    ) -> T:
        """:meth:`_transact` for a step that writes no version of its own, only records.

        Raises:
            ConcurrencyConflict: it kept losing races.
            StorageError: the store failed.
            LicensingError: what ``body`` raises (nothing is written).
        """
        return cast("T", self._transact(lambda tx, now: Ran(body(tx, now)), after=after).result)

    def _once(
        self,
        scope: str,
        request_id: str | None,
        fingerprint: str,
        run: Callable[[WriteTx, datetime], tuple[T, str]],
        replay: Callable[[WriteTx, str], T],
        *,
        org_id: str | None = None,
        after: Callable[[], None] | None = None,
    ) -> T:
        """A command on the store's own tables (members, tokens, webhooks), once per request id.

        In the one shell's transaction (:meth:`_transact`): lock ``org_id``
        (when given), then replay a remembered ``request_id`` (``replay`` of
        its stored text), or ``run`` it and remember what it returns to store
        (never a secret) (R13).

        Raises:
            UnknownOrganization: no organization has the id ``org_id``.
            InvalidInput: a new ``request_id`` that is not a valid new id (R14).
            IdempotencyConflict: the id was used with other arguments.
            ConcurrencyConflict: it kept losing races.
            StorageError: the store failed.
            LicensingError: what ``run`` raises (nothing is written).
        """

        def body(tx: WriteTx, now: datetime) -> T:
            if org_id is not None:  # one coherent timeline (SPEC §1): never before its latest
                now = max(now, from_us(lock_org(tx, org_id).at_us))
            prior = prior_request(tx, scope, request_id, fingerprint)
            if prior is not None:
                return replay(tx, prior.result)
            result, stored = run(tx, now)
            if request_id is not None:
                tx.put_request(RequestRow(scope, request_id, fingerprint, stored))
            return result

        return self._write(body, after=after)

    def _load(self, tx: WriteTx, call: _Call, now: datetime) -> _Loaded:
        """Lock the organization; load its state, the named parts and the command's inputs."""
        command = call.command
        needs = command.needs()
        head: Head | None = None
        state: OrgState | None = None
        if not command.VENDOR and not isinstance(command, cmd.CreateOrganization):
            head = tx.lock(str(call.org_id))
        known = self._versions.known
        if head is not None and known and head.catalog_version == known[-1].version:
            latest = known[-1]  # the lock read the latest version number: none was added
        else:
            latest = self._refresh_catalogs(tx)[-1]
        instant, catalog = now, latest.catalog
        if command.VENDOR or head is None:
            day = now.astimezone(UTC).date()
        if isinstance(command, cmd.CreateOrganization):
            day = local_date(now, command.timezone)
        elif head is not None:
            state = self._states.core(tx, head)
            if needs.systems or needs.serials:
                state = with_named(tx, state, None, needs.systems, needs.serials)
            # one coherent timeline (SPEC §1, R11): a clock behind the latest command
            # runs the command at that command's instant, never before it
            instant = max(now, from_us(head.at_us))
            day = local_date(instant, state.timezone)
            catalog = self._catalog_at(state, instant, day)
        inputs = self._inputs(tx, call, needs, catalog, latest)
        return _Loaded(head, state, instant, day, latest, inputs)

    def _admit(self, tx: WriteTx, call: _Call, loaded: _Loaded) -> RequestRow | None:
        """Check what needs the store, authorize (once), then judge the request id (R13, §4).

        Returns:
            The remembered request to replay, or None to run the command.
        """
        command, request_id = call.command, call.request_id
        prior = tx.request(call.scope, request_id) if request_id is not None else None
        latest = loaded.latest.catalog
        product = decisions.product_of(command, loaded.state, loaded.inputs)
        decisions.check_inputs(command, product, latest)
        if isinstance(command, cmd.PublishCatalog) and prior is None:
            # a repeat returns its first result even once later versions exist (R13),
            # so only a new request is checked against the latest version here
            check_compatible(latest, command.catalog)
        if product not in call.authorized:
            raise _AskFirst(product)  # asked outside the transaction, then run again
        return judged(prior, request_id, call.fingerprint)

    def _apply(self, tx: WriteTx, call: _Call, loaded: _Loaded) -> Ran:
        """Decide, apply the claims, append the new version and remember the result."""
        command, org_id = call.command, call.org_id
        organization = not command.VENDOR and not isinstance(command, cmd.CreateOrganization)
        if organization and loaded.state is None:
            raise unknown_organization(str(org_id))
        ctx = engine.Context(at=loaded.instant, on=loaded.day, actor=call.actor)
        decision = decisions.decide(loaded.state, command, loaded.inputs, ctx)
        for claim in decision.claims:
            _CLAIMS[type(claim)](tx, claim, org_id, loaded.instant)
        if decision.state is not None:
            ran = self._append(tx, str(org_id), loaded.head, loaded.state, decision, ctx.at)
        else:
            ran = Ran(decision.result)
        if isinstance(command, cmd.CreateOrganization):  # its creator is its owner (SPEC §8)
            _make_owner(tx, str(org_id), call.actor, ctx.at)
        if isinstance(ran.result, decisions.SignLicenseFile):
            assert decision.state is not None
            signed = self._signer.license_file(
                decision.state, ran.result.system_id, ctx, loaded.inputs.catalog
            )
            ran = attrs.evolve(ran, result=signed)
        if call.request_id is not None:
            stored = self._encode(command, decision, ran.result)
            tx.put_request(RequestRow(call.scope, call.request_id, call.fingerprint, stored))
        return ran

    def _append(  # noqa: PLR0917 - the version's parts, in the order they are written
        self,
        tx: WriteTx,
        org_id: str,
        head: Head | None,
        before: OrgState | None,
        decision: decisions.Decision,
        instant: datetime,
    ) -> Ran:
        """Append the parts the decision changed and its activities as the next version."""
        after = decision.state
        assert after is not None
        activities = [_history.activity_of(f, after.timezone) for f in decision.facts]
        changed = _parts.changed(before, after)
        if not decision.facts and not changed:
            return Ran(decision.result)
        seq = 1 if head is None else head.seq + 1
        # versions never go back in time, even if this server's clock is behind; the next
        # sweep reads the organization (its alerts may have changed with the command)
        record(tx, Head(org_id, seq, to_us(instant)), changed, activities, due=instant)
        change = None
        if head is not None and before is not None:  # recorded: compare its alerts
            change = Change(before, from_us(head.at_us), after, instant, seq)
        return Ran(decision.result, org_id, (seq, after), change)

    def _inputs(
        self, tx: WriteTx, call: _Call, needs: cmd.Needs, catalog: Catalog, latest: CatalogVersion
    ) -> decisions.Inputs:
        """Load what the command declared it needs (its inputs)."""
        command = call.command
        key = None
        if needs.key_hash is not None:
            row = tx.key(needs.key_hash)
            if row is not None:
                key = decisions.IssuedKey(
                    key_hash=row.key_hash,
                    product=row.product,
                    kind=LicenseKind(row.kind),
                    quantities=loads(row.quantities, Counts),
                    redeemed=row.redeemed_by is not None,
                )
        shipments: dict[str, decisions.ShippedUnit | None] = {}
        for serial in needs.shipments:
            shipped = tx.shipment(serial)
            shipments[serial] = (
                None
                if shipped is None
                else decisions.ShippedUnit(
                    serial=serial,
                    product=shipped.product,
                    preloaded=loads(shipped.preloaded, Counts),
                    holder=shipped.org_id,
                )
            )
        new_key = None
        if isinstance(command, cmd.IssueKey):
            new_key = self._new_key(call.request_id)
        latest_at = None
        if isinstance(command, cmd.PublishCatalog):
            micros = tx.latest_version_at_us()
            latest_at = None if micros is None else from_us(micros)
        return decisions.Inputs(
            catalog=catalog,
            key=key,
            shipments=shipments,
            new_key=new_key,
            latest=latest,
            latest_command_at=latest_at,
        )

    def _new_key(self, request_id: str | None) -> decisions.NewKey:
        """A random key, or with a ``request_id`` the one derived from it and the signing key."""
        if request_id is None:
            key = _keys.generate_key()
        else:
            key = _keys.generate_key(self._deriver.key_bytes(request_id))
        normalized = _keys.normalize_key(key)
        return decisions.NewKey(key, _keys.key_hash(normalized), _keys.key_tail(normalized))

    @staticmethod
    def _encode(command: cmd.Command, decision: decisions.Decision, result: object) -> str:
        """The result remembered under the request id, through the converter (R13)."""
        if isinstance(command, cmd.IssueKey):  # never the key itself (R10)
            (claim,) = decision.claims
            assert isinstance(claim, decisions.RecordKey)
            return dumps(_IssuedKeyResult(claim.key_hash))
        return dumps(result)

    def _replay(self, command: cmd.Command, request_id: str, stored: str) -> object:
        """The first result of a remembered request (R13).

        Raises:
            IdempotencyConflict: an issued key's request made under another signing key.
        """
        if isinstance(command, cmd.IssueKey):
            key = self._new_key(request_id)
            if key.key_hash != loads(stored, _IssuedKeyResult).key_hash:
                raise IdempotencyConflict(
                    f"request_id {request_id!r} issued a key under another signing key; "
                    "that key cannot be shown again",
                    details={"request_id": request_id},
                )
            return key.key
        if stored == "null":  # nothing, or a result earlier releases did not store
            return None
        return loads(stored, RESULT_TYPES[type(command)])

    def _notify_alerts(self, org_id: str, change: Change) -> None:
        """Tell alert observers of each alert that the command made appear (§4)."""
        if not self._plugins.has_alert_observers():
            return
        for alert in appeared(
            change,
            self._catalog_at,
            lambda state, seq: self._read(lambda tx: all_systems(tx, state, seq)),
        ):
            self._plugins.alert(org_id, alert)


# -- members (SPEC §8): the account that creates an organization owns it, in the same transaction


def _make_owner(tx: WriteTx, org_id: str, actor: str, at: datetime) -> None:
    """Make the creator of ``org_id`` its owner, when the store has accounts (SPEC §8)."""
    if isinstance(tx, MemberWriteTx):
        record_owner(tx, org_id, actor, at)


# -- claims: applied in the command's transaction; a lost one is the documented error -----------


def _create_org(tx: WriteTx, claim: decisions.CreateOrg, org_id: str | None, at: datetime) -> None:
    if not tx.create_org(claim.org_id):
        raise AlreadyExists(
            f"organization {claim.org_id!r} already exists", details={"org_id": claim.org_id}
        )


def _claim_system(
    tx: WriteTx, claim: decisions.ClaimSystem, org_id: str | None, at: datetime
) -> None:
    if not tx.claim_system(claim.system_id, str(org_id)):
        raise AlreadyRegistered(
            f"system {claim.system_id!r} is already registered",
            details={"system_id": claim.system_id},
        )


def _claim_hardware(
    tx: WriteTx, claim: decisions.ClaimHardware, org_id: str | None, at: datetime
) -> None:
    if not tx.claim_hardware(claim.serial, str(org_id)):
        raise AlreadyRegistered(
            f"hardware {claim.serial!r} is already registered", details={"serial": claim.serial}
        )


def _redeem_key(
    tx: WriteTx, claim: decisions.RedeemIssuedKey, org_id: str | None, at: datetime
) -> None:
    if not tx.redeem_key(claim.key_hash, str(org_id), to_us(at)):
        raise KeyAlreadyRedeemed(
            f"the license key ending in {claim.tail} was already redeemed",
            details={"key_tail": claim.tail},
        )


def _record_key(tx: WriteTx, claim: decisions.RecordKey, org_id: str | None, at: datetime) -> None:
    tx.insert_key(
        KeyRow(
            key_hash=claim.key_hash,
            product=claim.product,
            kind=claim.kind.value,
            quantities=dumps(claim.quantities),
            tail=claim.tail,
            issued_at_us=to_us(at),
        )
    )


def _record_shipment(
    tx: WriteTx, claim: decisions.RecordShipment, org_id: str | None, at: datetime
) -> None:
    row = ShipmentRow(
        serial=claim.serial,
        product=claim.product,
        preloaded=dumps(claim.preloaded),
        shipped_at_us=to_us(at),
    )
    if not tx.insert_shipment(row):
        raise AlreadyExists(
            f"hardware {claim.serial!r} was already shipped", details={"serial": claim.serial}
        )


def _record_catalog(
    tx: WriteTx, claim: decisions.RecordCatalog, org_id: str | None, at: datetime
) -> None:
    row = CatalogRow(claim.version, to_us(claim.effective_at), dumps(claim.catalog))
    if not tx.insert_catalog(row):
        raise RetryableConflict(f"catalog version {claim.version} was recorded concurrently")


#: How the shell applies each kind of claim.
_CLAIMS: Mapping[type, Callable[[WriteTx, Any, str | None, datetime], None]] = {
    decisions.CreateOrg: _create_org,
    decisions.ClaimSystem: _claim_system,
    decisions.ClaimHardware: _claim_hardware,
    decisions.RedeemIssuedKey: _redeem_key,
    decisions.RecordKey: _record_key,
    decisions.RecordShipment: _record_shipment,
    decisions.RecordCatalog: _record_catalog,
}
