"""The Manager: the thin shell around the policy core (SPEC §3).

Every command reads the clock, checks its input (R14), asks the authorize
hook, then in one backend transaction: replays a remembered ``request_id``
(R13), loads the organization's state, lets :mod:`axis_licensing.policy.engine`
decide, and appends the new state with its activities. After the commit it
tells the activity observers. Queries load the state in force at ``at`` and
project it forward with the same policy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, TypeVar

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from axis_licensing import _keys, offline
from axis_licensing._convert import converter, dumps, dumps_data, dumps_fast, loads
from axis_licensing._counts import Counts
from axis_licensing._plugins import Plugins
from axis_licensing._time import (
    Clock,
    SystemClock,
    check_aware,
    from_us,
    local_date,
    midnight,
    to_us,
    zone,
)
from axis_licensing._validate import check_counts, check_id, check_int, check_text, param_of
from axis_licensing.backends import (
    ActivityRow,
    Backend,
    HistoryQuery,
    KeyRow,
    ReadTx,
    RequestRow,
    RetryableConflict,
    ShipmentRow,
    StateRow,
    WriteTx,
)
from axis_licensing.catalog import Catalog
from axis_licensing.errors import (
    AlreadyExists,
    AlreadyRegistered,
    ConcurrencyConflict,
    IdempotencyConflict,
    InvalidInput,
    KeyAlreadyRedeemed,
    PermissionDenied,
    StorageError,
    UnknownHardware,
    UnknownKey,
    UnknownOrganization,
    UnknownSystem,
)
from axis_licensing.model import (
    Action,
    Activity,
    Allocation,
    LicenseKind,
    NeedReport,
    ProductStatus,
    Redemption,
    SystemStatus,
    Wallet,
)
from axis_licensing.policy import engine
from axis_licensing.policy import status as readings
from axis_licensing.policy.state import Fact, OrgState

__all__ = ["Manager", "Vendor"]

log = logging.getLogger("axis_licensing")

T = TypeVar("T")

#: How many times a command that lost a race is run again before ConcurrencyConflict (R13).
MAX_ATTEMPTS = 12
#: The most periods ``need`` looks ahead.
MAX_HORIZON = 100

#: The meta row ``migrate`` keeps on a target until it is complete and verified.
MIGRATION_INCOMPLETE = "migration_incomplete"

_VENDOR_SCOPE = "vendor"
_STATE_CACHE_SIZE = 1024
#: The largest ``limit`` or ``offset`` of a history query (what SQL integers hold).
_MAX_ROWS = 2**63 - 1
_SIGNING_KEY = "signing_key"

Decide = Callable[[WriteTx, OrgState, engine.Context], engine.Outcome[T]]


def _org_scope(org_id: str) -> str:
    return f"org:{org_id}"


def _fingerprint(action: str, args: Mapping[str, Any]) -> str:
    text = json.dumps(
        {"action": action, "args": converter.unstructure(dict(args))},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


class Vendor:
    """The vendor's commands: issuing keys and shipping hardware (R9, R10).

    Reached as ``manager.vendor``; they have an idempotency scope of their own (R13).
    """

    def __init__(self, manager: Manager) -> None:
        self._m = manager

    def issue_key(
        self,
        product: str,
        kind: LicenseKind = LicenseKind.SUBSCRIPTION,
        quantities: Mapping[str, int] | None = None,
        *,
        actor: str = "vendor",
        request_id: str | None = None,
    ) -> str:
        """Issue a license key for ``product`` carrying ``quantities`` of ``kind`` (R10).

        Only the key's hash is stored. With a ``request_id`` the key is derived
        from it and the signing key, so a repeated call returns the same key
        without the key ever being stored.

        Args:
            product: the product code.
            kind: subscription or hardware (extension) licenses.
            quantities: licenses per type, positive integers.
            actor: who issues it.
            request_id: makes the call idempotent (R13).

        Returns:
            The key, formatted for people (dash-separated groups).

        Raises:
            InvalidInput: bad quantities, kind, actor or request id, or an unknown license type.
            UnknownProduct: the catalog has no such product.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments,
                or issued its key under a signing key this Manager no longer has.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        m = self._m
        spec = m.catalog.product(check_id(product, "product"))
        kind = LicenseKind.of(kind)
        counts = check_counts(quantities, "quantities", allow_zero=False, allow_empty=False)
        engine.check_types(spec, counts, "quantities")
        actor = check_id(actor, "actor")
        request_id = m._check_request_id(request_id)
        m._authorize(actor, None, "vendor.issue_key", spec.code)
        args = {"product": spec.code, "kind": kind.value, "quantities": counts}

        def run(tx: WriteTx, now: datetime) -> tuple[str, str]:
            if request_id is None:
                key = _keys.generate_key()
            else:
                key = _keys.generate_key(m._derive_key_bytes(request_id))
            normalized = _keys.normalize_key(key)
            digest = _keys.key_hash(normalized)
            tx.insert_key(
                KeyRow(
                    key_hash=digest,
                    product=spec.code,
                    kind=kind.value,
                    quantities=dumps(counts),
                    tail=_keys.key_tail(normalized),
                    issued_at_us=to_us(now),
                )
            )
            return key, json.dumps({"key_hash": digest})

        def replay(tx: ReadTx, stored: str) -> str:
            assert request_id is not None
            key = _keys.generate_key(m._derive_key_bytes(request_id))
            if _keys.key_hash(_keys.normalize_key(key)) != json.loads(stored)["key_hash"]:
                raise IdempotencyConflict(
                    f"request_id {request_id!r} issued a key under another signing key; "
                    "that key cannot be shown again",
                    details={"request_id": request_id},
                )
            return key

        return m._vendor_command("vendor.issue_key", args, request_id, run, replay)

    def ship_hardware(
        self,
        serial: str,
        product: str,
        preloaded: Mapping[str, int] | None = None,
        *,
        actor: str = "vendor",
        request_id: str | None = None,
    ) -> None:
        """Record a hardware unit shipped with preloaded hardware licenses (R9).

        Args:
            serial: the unit's serial number, unique across everything shipped.
            product: the product the unit is for.
            preloaded: hardware licenses per type on the unit (may be empty).
            actor: who ships it.
            request_id: makes the call idempotent (R13).

        Raises:
            InvalidInput: bad serial, counts, actor or request id, or an unknown license type.
            UnknownProduct: the catalog has no such product.
            AlreadyExists: the serial was shipped before.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        m = self._m
        serial = check_id(serial, "serial")
        spec = m.catalog.product(check_id(product, "product"))
        counts = check_counts(
            {} if preloaded is None else preloaded, "preloaded", allow_zero=False, allow_empty=True
        )
        engine.check_types(spec, counts, "preloaded")
        actor = check_id(actor, "actor")
        request_id = m._check_request_id(request_id)
        m._authorize(actor, None, "vendor.ship_hardware", spec.code)
        args = {"serial": serial, "product": spec.code, "preloaded": counts}

        def run(tx: WriteTx, now: datetime) -> tuple[None, str]:
            row = ShipmentRow(
                serial=serial, product=spec.code, preloaded=dumps(counts), shipped_at_us=to_us(now)
            )
            if not tx.insert_shipment(row):
                raise AlreadyExists(
                    f"hardware {serial!r} was already shipped", details={"serial": serial}
                )
            return None, "null"

        m._vendor_command("vendor.ship_hardware", args, request_id, run, lambda tx, s: None)


class Manager:
    """License management for many organizations over one storage backend (SPEC §3).

    Open one with :meth:`open`; close it with :meth:`close` or use it as a
    context manager. A Manager is safe to share between threads.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        catalog: Catalog,
        clock: Clock | None = None,
        signing_key: Ed25519PrivateKey | bytes | str | None = None,
        plugins: Plugins | None = None,
    ) -> None:
        if not isinstance(catalog, Catalog):
            raise InvalidInput(
                f"catalog must be a Catalog, got {type(catalog).__name__}", param="catalog"
            )
        if clock is not None and not callable(getattr(clock, "now", None)):
            raise InvalidInput(
                "clock must have a now() method returning an aware datetime", param="clock"
            )
        self.catalog = catalog
        self.backend = backend
        self.clock: Clock = clock or SystemClock()
        self._plugins = plugins or Plugins()
        self.vendor = Vendor(self)
        self._states: dict[str, tuple[str, OrgState]] = {}
        self._states_lock = threading.Lock()
        self._refuse_incomplete()
        self._signing_key = self._load_signing_key(signing_key)
        self._key_secret = hashlib.sha256(
            b"axis-licensing/issue-key/v1:"
            + self._signing_key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        ).digest()
        self._public_key = offline.public_key_pem(self._signing_key)

    @classmethod
    def open(
        cls,
        url: str = "sqlite:///axis-licensing.db",
        *,
        catalog: Catalog,
        clock: Clock | None = None,
        signing_key: Ed25519PrivateKey | bytes | str | None = None,
        plugins: Iterable[object] = (),
    ) -> Manager:
        """Open a Manager on the backend named by ``url``.

        Args:
            url: ``memory://``, ``sqlite:///PATH`` or ``postgresql://…``, or a
                scheme a plugin registered.
            catalog: the vendor's products and license types.
            clock: an object whose ``now()`` returns an aware datetime; the
                system clock if None.
            signing_key: the Ed25519 key that signs license files (PEM or key
                object); if None, one is generated once and kept by the backend.
            plugins: objects with ``axis_licensing.hookimpl`` methods.

        Returns:
            An open Manager.

        Raises:
            InvalidInput: an unknown scheme (the message lists the known
                ones), a malformed URL, catalog, clock or signing key, or a
                plugin with a misspelt hook or wrong hook arguments.
            ConcurrencyConflict: other processes kept the store busy while the
                signing key was stored.
            StorageError: the backend cannot be opened, or an interrupted
                ``migrate`` left it incomplete.
        """
        registry = Plugins(plugins)
        backend = registry.backends().open(url)
        try:
            return cls(
                backend, catalog=catalog, clock=clock, signing_key=signing_key, plugins=registry
            )
        except BaseException:
            backend.close()
            raise

    def close(self) -> None:
        """Release the backend's connections."""
        self.backend.close()

    def __enter__(self) -> Manager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def public_key(self) -> bytes:
        """The PEM public key that verifies this Manager's license files (R12)."""
        return self._public_key

    @property
    def plugin_manager(self) -> Plugins:
        """The Manager's plugins."""
        return self._plugins

    # -- plumbing --------------------------------------------------------------------------

    def _state_of(self, org_id: str, text: str) -> OrgState:
        """The state stored as ``text``; the last one seen per organization is kept decoded.

        States are immutable and ``text`` decodes to one state only, so a hit is
        always right, whoever wrote the text.
        """
        cached = self._states.get(org_id)
        if cached is not None and cached[0] == text:
            return cached[1]
        state = loads(text, OrgState)
        self._remember(org_id, text, state)
        return state

    def _remember(self, org_id: str, text: str, state: OrgState) -> None:
        with self._states_lock:
            if org_id not in self._states and len(self._states) >= _STATE_CACHE_SIZE:
                self._states.pop(next(iter(self._states)))
            self._states[org_id] = (text, state)

    def _read(self, look: Callable[[ReadTx], T]) -> T:
        """Run ``look`` in a read transaction, again if the store was busy (R13)."""

        def attempt() -> T:
            with self.backend.read() as tx:
                return look(tx)

        return self._retrying(attempt)

    def _refuse_incomplete(self) -> None:
        mark = self._read(lambda tx: tx.meta(MIGRATION_INCOMPLETE))
        if mark is not None:
            raise StorageError(
                "this store was left incomplete by an interrupted `axis-licensing migrate` "
                f"({mark}); run the migration again with --force"
            )

    def _load_signing_key(
        self, signing_key: Ed25519PrivateKey | bytes | str | None
    ) -> Ed25519PrivateKey:
        if signing_key is not None:
            return offline.load_signing_key(signing_key)
        return offline.load_signing_key(
            self._backend_secret(_SIGNING_KEY, offline.generate_signing_key)
        )

    def _backend_secret(self, name: str, make: Callable[[], bytes]) -> str:
        """The backend's setting ``name``, made and stored once (the first opener wins)."""
        stored = self._read(lambda tx: tx.meta(name))
        if stored is not None:
            return stored
        candidate = make().decode("ascii")

        def attempt() -> str:
            with self.backend.write() as tx:
                tx.insert_meta(name, candidate)
                kept = tx.meta(name)
            assert kept is not None
            return kept

        return self._retrying(attempt)

    def _derive_key_bytes(self, request_id: str) -> bytes:
        """The random part of the key issued for ``request_id``.

        An HMAC of the request id under a secret derived from the signing key,
        so only whoever holds the signing key can issue the same key again.
        """
        mac = hmac.new(self._key_secret, f"issue_key:{request_id}".encode(), hashlib.sha256)
        return mac.digest()[: _keys.RANDOM_BYTES]

    def _now(self) -> datetime:
        return check_aware(self.clock.now(), "clock.now()")

    def _product_of(self, org_id: str, find: Callable[[OrgState], str | None]) -> str | None:
        """The product a command acts on, read before the command (for its checks and hook).

        Commands that name a system, a unit or a key learn their product from the
        store. Reading it first lets their input be checked against that product,
        and the authorize hook be told it, before anything runs (§4, R14). None
        when the organization or the thing is unknown: the command then says so.
        """
        head = self._read(lambda tx: tx.head(org_id))
        if head is None:
            return None
        product = find(self._state_of(org_id, head.state))
        return product if product in self.catalog.product_codes else None

    def _check_types_of(self, product: str | None, counts: Counts, what: str) -> None:
        """Refuse license types that ``product`` (or, unknown, every product) lacks (R14)."""
        if product is not None:
            engine.check_types(self.catalog.product(product), counts, what)
            return
        known = {t for spec in self.catalog.products for t in spec.type_codes}
        unknown = sorted(set(counts) - known)
        if unknown:
            raise InvalidInput(
                f"{what}: unknown license type(s) {', '.join(map(repr, unknown))} "
                f"(the catalog has: {', '.join(sorted(known))})",
                param=param_of(what),
            )

    @staticmethod
    def _check_request_id(request_id: object) -> str | None:
        return None if request_id is None else check_id(request_id, "request_id")

    def _authorize(self, actor: str, org_id: str | None, action: str, product: str | None) -> None:
        if not self._plugins.authorize(actor, org_id, action, product):
            raise PermissionDenied(
                f"{actor!r} may not {action}", details={"actor": actor, "action": action}
            )

    def _notify(self, activities: Sequence[Activity]) -> None:
        for activity in activities:
            self._plugins.activity(activity)

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

    @staticmethod
    def _replayed(
        tx: ReadTx, scope: str, request_id: str | None, fingerprint: str
    ) -> RequestRow | None:
        """The remembered result of ``request_id`` in ``scope``, if any (R13).

        Raises:
            IdempotencyConflict: the id was used with other arguments.
        """
        if request_id is None:
            return None
        prior = tx.request(scope, request_id)
        if prior is not None and prior.fingerprint != fingerprint:
            raise IdempotencyConflict(
                f"request_id {request_id!r} was used with other arguments",
                details={"request_id": request_id},
            )
        return prior

    def _vendor_command(
        self,
        action: str,
        args: Mapping[str, Any],
        request_id: str | None,
        run: Callable[[WriteTx, datetime], tuple[T, str]],
        replay: Callable[[ReadTx, str], T],
    ) -> T:
        fingerprint = _fingerprint(action, args)

        def attempt() -> T:
            now = self._now()
            with self.backend.write() as tx:
                prior = self._replayed(tx, _VENDOR_SCOPE, request_id, fingerprint)
                if prior is not None:
                    return replay(tx, prior.result)
                result, stored = run(tx, now)
                if request_id is not None:
                    tx.put_request(RequestRow(_VENDOR_SCOPE, request_id, fingerprint, stored))
                return result

        return self._retrying(attempt)

    def _command(
        self,
        org_id: str,
        action: str,
        args: Mapping[str, Any],
        *,
        actor: str,
        request_id: str | None,
        result_type: type[T],
        decide: Decide[T],
        product: str | None = None,
        encode: Callable[[T], str] = dumps,
        decode: Callable[[str], T] | None = None,
    ) -> T:
        self._authorize(actor, org_id, action, product)
        fingerprint = _fingerprint(action, args) if request_id is not None else ""
        scope = _org_scope(org_id)

        def attempt() -> tuple[T, list[Activity]]:
            now = self._now()
            with self.backend.write() as tx:
                prior = self._replayed(tx, scope, request_id, fingerprint)
                if prior is not None:
                    if decode is not None:
                        return decode(prior.result), []
                    return loads(prior.result, result_type), []
                head = tx.lock(org_id)
                if head is None:
                    raise UnknownOrganization(
                        f"unknown organization {org_id!r}", details={"org_id": org_id}
                    )
                state = self._state_of(org_id, head.state)
                ctx = engine.Context(at=now, on=local_date(now, state.timezone), actor=actor)
                advanced, pending = engine.advance(state, self.catalog, ctx.on)
                outcome = decide(tx, advanced, ctx)
                facts = (*pending, *outcome.facts)
                activities = [self._activity(f, state.timezone) for f in facts]
                if facts or outcome.state is not state:
                    text = dumps_fast(outcome.state)
                    # versions never go back in time, even if this server's clock is behind
                    at_us = max(to_us(now), head.at_us)
                    tx.append(
                        StateRow(org_id, head.seq + 1, at_us, text),
                        [self._row(org_id, a) for a in activities],
                    )
                    self._remember(org_id, text, outcome.state)
                if request_id is not None:
                    tx.put_request(
                        RequestRow(scope, request_id, fingerprint, encode(outcome.result))
                    )
                return outcome.result, activities

        result, activities = self._retrying(attempt)
        self._notify(activities)
        return result

    @staticmethod
    def _activity(fact: Fact, timezone: str) -> Activity:
        at = fact.at if fact.at is not None else midnight(fact.on, timezone)
        return Activity(
            at=at.astimezone(UTC),
            on=fact.on,
            actor=fact.actor,
            action=str(fact.action),
            product=fact.product,
            system_id=fact.system_id,
            details=dict(fact.details),
        )

    @staticmethod
    def _row(org_id: str, activity: Activity) -> ActivityRow:
        return ActivityRow(
            org_id=org_id,
            at_us=to_us(activity.at),
            on=activity.on.isoformat(),
            actor=activity.actor,
            action=activity.action,
            product=activity.product,
            system_id=activity.system_id,
            details=dumps_data(activity.details),
        )

    @staticmethod
    def _from_row(row: ActivityRow) -> Activity:
        return Activity(
            at=from_us(row.at_us),
            on=date.fromisoformat(row.on),
            actor=row.actor,
            action=row.action,
            product=row.product,
            system_id=row.system_id,
            details=json.loads(row.details),
        )

    def _view(self, org_id: object, at: object) -> tuple[OrgState, date, datetime]:
        """The organization's state in force at ``at``, projected to its local date."""
        org_id = check_id(org_id, "org_id")
        instant = self._now() if at is None else check_aware(at, "at")

        def look(tx: ReadTx) -> tuple[StateRow, StateRow | None]:
            row = tx.head(org_id)
            if row is None:
                raise UnknownOrganization(
                    f"unknown organization {org_id!r}", details={"org_id": org_id}
                )
            # at=None is "now": the latest facts, even if this clock is behind the last command's
            late = at is None or to_us(instant) >= row.at_us
            return row, row if late else tx.state_at(org_id, to_us(instant))

        row, past = self._read(look)
        if past is not None:
            latest = past is row
            state = self._state_of(org_id, past.state) if latest else loads(past.state, OrgState)
        else:  # before the organization existed: nothing was recorded yet
            state = self._state_of(org_id, row.state).as_created()
        day = local_date(instant, state.timezone)
        state, _ = engine.advance(state, self.catalog, day)
        return state, day, instant

    # -- organizations and systems ----------------------------------------------------------

    def create_organization(
        self,
        org_id: str,
        *,
        name: str,
        timezone: str = "UTC",
        actor: str,
        request_id: str | None = None,
    ) -> None:
        """Create an organization, the owner of licenses (R1).

        Args:
            org_id: the organization's id.
            name: a display name.
            timezone: the IANA zone whose calendar days the rules count.
            actor: who creates it.
            request_id: makes the call idempotent (R13).

        Raises:
            InvalidInput: a bad id, name, zone, actor or request id.
            AlreadyExists: the id is taken.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        org_id = check_id(org_id, "org_id")
        name = check_text(name, "name", max_length=200)
        timezone = check_text(timezone, "timezone")
        zone(timezone)
        actor = check_id(actor, "actor")
        request_id = self._check_request_id(request_id)
        self._authorize(actor, org_id, "create_organization", None)
        args = {"org_id": org_id, "name": name, "timezone": timezone}
        fingerprint = _fingerprint("create_organization", args)
        scope = _org_scope(org_id)

        def attempt() -> list[Activity]:
            now = self._now()
            with self.backend.write() as tx:
                if self._replayed(tx, scope, request_id, fingerprint) is not None:
                    return []
                if not tx.create_org(org_id):
                    raise AlreadyExists(
                        f"organization {org_id!r} already exists", details={"org_id": org_id}
                    )
                ctx = engine.Context(at=now, on=local_date(now, timezone), actor=actor)
                outcome = engine.create_organization(
                    ctx, org_id=org_id, name=name, timezone=timezone
                )
                activities = [self._activity(f, timezone) for f in outcome.facts]
                text = dumps_fast(outcome.state)
                tx.append(
                    StateRow(org_id, 1, to_us(now), text),
                    [self._row(org_id, a) for a in activities],
                )
                if request_id is not None:
                    tx.put_request(RequestRow(scope, request_id, fingerprint, "null"))
                self._remember(org_id, text, outcome.state)
                return activities

        self._notify(self._retrying(attempt))

    def register_system(
        self,
        org_id: str,
        product: str,
        system_id: str,
        *,
        devices: Mapping[str, int] | None = None,
        actor: str,
        request_id: str | None = None,
    ) -> None:
        """Register a system of ``product`` with its device counts (R1, R4).

        Args:
            org_id: the organization.
            product: the product the system runs.
            system_id: unique across all organizations.
            devices: device counts per license type (None or left out means none).
            actor: who registers it.
            request_id: makes the call idempotent (R13).

        Raises:
            InvalidInput: bad ids or counts, or an unknown license type.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog has no such product.
            AlreadyRegistered: the system id is registered, here or elsewhere.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        org_id = check_id(org_id, "org_id")
        spec = self.catalog.product(check_id(product, "product"))
        system_id = check_id(system_id, "system_id")
        counts = check_counts(
            {} if devices is None else devices, "devices", allow_zero=True, allow_empty=True
        )
        engine.check_types(spec, counts, "devices")
        actor = check_id(actor, "actor")
        request_id = self._check_request_id(request_id)

        def decide(tx: WriteTx, state: OrgState, ctx: engine.Context) -> engine.Outcome[None]:
            outcome = engine.register_system(
                state, self.catalog, ctx, product=spec.code, system_id=system_id, devices=counts
            )
            if not tx.claim_system(system_id, org_id):
                raise AlreadyRegistered(
                    f"system {system_id!r} is already registered", details={"system_id": system_id}
                )
            return outcome

        self._command(
            org_id,
            "register_system",
            {"product": spec.code, "system_id": system_id, "devices": counts},
            actor=actor,
            request_id=request_id,
            result_type=type(None),
            decide=decide,
            product=spec.code,
        )

    def report_devices(
        self,
        org_id: str,
        system_id: str,
        devices: Mapping[str, int],
        *,
        actor: str,
        request_id: str | None = None,
    ) -> None:
        """Replace a system's device counts; types left out become 0 (R1, R4).

        Args:
            org_id: the organization.
            system_id: the system.
            devices: device counts per license type.
            actor: who reports them.
            request_id: makes the call idempotent (R13).

        Raises:
            InvalidInput: bad ids or counts, or an unknown license type.
            UnknownOrganization: no such organization.
            UnknownSystem: the organization has no such system.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        org_id = check_id(org_id, "org_id")
        system_id = check_id(system_id, "system_id")
        counts = check_counts(devices, "devices", allow_zero=True, allow_empty=True)
        actor = check_id(actor, "actor")
        request_id = self._check_request_id(request_id)
        product = self._product_of(
            org_id, lambda s: s.systems[system_id].product if system_id in s.systems else None
        )
        self._check_types_of(product, counts, "devices")
        self._command(
            org_id,
            "report_devices",
            {"system_id": system_id, "devices": counts},
            actor=actor,
            request_id=request_id,
            result_type=type(None),
            product=product,
            decide=lambda tx, state, ctx: engine.report_devices(
                state, self.catalog, ctx, system_id=system_id, devices=counts
            ),
        )

    def start_subscription(
        self, org_id: str, product: str, *, actor: str, request_id: str | None = None
    ) -> None:
        """Start the product's subscription; the first sets the organization anchor (R2, R3).

        Args:
            org_id: the organization.
            product: the product.
            actor: who starts it.
            request_id: makes the call idempotent (R13).

        Raises:
            InvalidInput: bad ids.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog has no such product.
            AlreadyStarted: the subscription already started.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        org_id = check_id(org_id, "org_id")
        spec = self.catalog.product(check_id(product, "product"))
        actor = check_id(actor, "actor")
        request_id = self._check_request_id(request_id)
        self._command(
            org_id,
            "start_subscription",
            {"product": spec.code},
            actor=actor,
            request_id=request_id,
            result_type=type(None),
            product=spec.code,
            decide=lambda tx, state, ctx: engine.start_subscription(
                state, self.catalog, ctx, product=spec.code
            ),
        )

    # -- wallet and allocation ---------------------------------------------------------------

    def redeem_key(
        self, org_id: str, key: str, *, actor: str, request_id: str | None = None
    ) -> Redemption:
        """Redeem a license key into the product's wallet, one lot per type (R6, R10).

        Args:
            org_id: the organization.
            key: the key as typed or pasted; case, spaces, dashes and I/L/O are forgiven.
            actor: who redeems it.
            request_id: makes the call idempotent (R13).

        Returns:
            The lots added.

        Raises:
            KeyTypo: the key fails its check symbols.
            InvalidInput: bad ids, or a key that is not a string.
            UnknownOrganization: no such organization.
            UnknownProduct: the product involved is no longer in the catalog.
            UnknownKey: a well-formed key that was never issued.
            KeyAlreadyRedeemed: the key was redeemed, here or elsewhere.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        org_id = check_id(org_id, "org_id")
        normalized = _keys.normalize_key(key)
        digest = _keys.key_hash(normalized)
        tail = _keys.key_tail(normalized)
        actor = check_id(actor, "actor")
        request_id = self._check_request_id(request_id)

        def decide(tx: WriteTx, state: OrgState, ctx: engine.Context) -> engine.Outcome[Redemption]:
            row = tx.key(digest)
            if row is None:
                raise UnknownKey(
                    f"no license key ending in {tail} was ever issued", details={"key_tail": tail}
                )
            if row.redeemed_by is not None or not tx.redeem_key(digest, org_id, to_us(ctx.at)):
                raise KeyAlreadyRedeemed(
                    f"the license key ending in {tail} was already redeemed",
                    details={"key_tail": tail},
                )
            return engine.redeem(
                state,
                self.catalog,
                ctx,
                product=row.product,
                kind=LicenseKind(row.kind),
                quantities=loads(row.quantities, Counts),
                key_tail=tail,
            )

        issued = self._read(lambda tx: tx.key(digest))
        return self._command(
            org_id,
            "redeem_key",
            {"key_hash": digest},
            actor=actor,
            request_id=request_id,
            result_type=Redemption,
            decide=decide,
            product=issued.product if issued is not None else None,
        )

    def allocate(
        self,
        org_id: str,
        product: str,
        quantities: Mapping[str, int],
        *,
        period: int = 0,
        actor: str,
        request_id: str | None = None,
    ) -> Allocation:
        """Move licenses from the wallet to one period (R7), with overlap compensation (R8).

        Args:
            org_id: the organization.
            product: the product.
            quantities: licenses per type, positive integers.
            period: the period offset: 0 is current, 1 next, …
            actor: who allocates.
            request_id: makes the call idempotent (R13).

        Returns:
            What went where, the whole licenses credited back, and the credit left.

        Raises:
            InvalidInput: bad ids or quantities, an unknown license type, or a
                period that is not an integer.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog has no such product.
            SubscriptionNotStarted: the subscription has not started.
            OutsideAllocationWindow: a negative offset, or a period starting
                more than five years ahead.
            InsufficientLicenses: the wallet lacks part of it (``.shortfall``).
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        org_id = check_id(org_id, "org_id")
        spec = self.catalog.product(check_id(product, "product"))
        counts = check_counts(quantities, "quantities", allow_zero=False, allow_empty=False)
        engine.check_types(spec, counts, "quantities")
        period = check_int(period, "period")
        actor = check_id(actor, "actor")
        request_id = self._check_request_id(request_id)
        return self._command(
            org_id,
            "allocate",
            {"product": spec.code, "quantities": counts, "period": period},
            actor=actor,
            request_id=request_id,
            result_type=Allocation,
            product=spec.code,
            decide=lambda tx, state, ctx: engine.allocate(
                state, self.catalog, ctx, product=spec.code, quantities=counts, offset=period
            ),
        )

    def allocate_need(
        self,
        org_id: str,
        product: str,
        *,
        through: int = 0,
        actor: str,
        request_id: str | None = None,
    ) -> Allocation:
        """Allocate the exact shortfall of periods 0..``through`` at once (R7).

        This is the manual's "Confirm allocation".

        Args:
            org_id: the organization.
            product: the product.
            through: the last period offset to cover.
            actor: who allocates.
            request_id: makes the call idempotent (R13).

        Returns:
            What went where; an empty Allocation when nothing was needed.

        Raises:
            InvalidInput: bad ids, or ``through`` not an integer.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog has no such product.
            SubscriptionNotStarted: the subscription has not started.
            OutsideAllocationWindow: a negative ``through``, or its period
                starts more than five years ahead.
            InsufficientLicenses: the wallet cannot cover all of it.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        org_id = check_id(org_id, "org_id")
        spec = self.catalog.product(check_id(product, "product"))
        through = check_int(through, "through")
        actor = check_id(actor, "actor")
        request_id = self._check_request_id(request_id)
        return self._command(
            org_id,
            "allocate_need",
            {"product": spec.code, "through": through},
            actor=actor,
            request_id=request_id,
            result_type=Allocation,
            product=spec.code,
            decide=lambda tx, state, ctx: engine.allocate_need(
                state, self.catalog, ctx, product=spec.code, through=through
            ),
        )

    # -- hardware ------------------------------------------------------------------------------

    def register_hardware(
        self,
        org_id: str,
        system_id: str,
        serial: str,
        *,
        actor: str,
        request_id: str | None = None,
    ) -> None:
        """Claim a shipped unit and attach it to a system; its licenses are active at once (R9).

        Args:
            org_id: the organization.
            system_id: the system to attach it to.
            serial: the unit's serial.
            actor: who registers it.
            request_id: makes the call idempotent (R13).

        Raises:
            InvalidInput: bad ids, or a unit shipped for another product.
            UnknownOrganization: no such organization.
            UnknownSystem: the organization has no such system.
            UnknownHardware: the vendor never shipped this serial.
            AlreadyRegistered: the unit is registered, here or elsewhere.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        org_id = check_id(org_id, "org_id")
        system_id = check_id(system_id, "system_id")
        serial = check_id(serial, "serial")
        actor = check_id(actor, "actor")
        request_id = self._check_request_id(request_id)

        def decide(tx: WriteTx, state: OrgState, ctx: engine.Context) -> engine.Outcome[None]:
            shipment = self._claimable(tx, serial)
            outcome = engine.register_hardware(
                state, self.catalog, ctx, system_id=system_id, shipment=shipment
            )
            if not tx.claim_hardware(serial, org_id):
                raise AlreadyRegistered(
                    f"hardware {serial!r} is already registered", details={"serial": serial}
                )
            return outcome

        product = self._product_of(
            org_id, lambda s: s.systems[system_id].product if system_id in s.systems else None
        )
        self._command(
            org_id,
            "register_hardware",
            {"system_id": system_id, "serial": serial},
            actor=actor,
            request_id=request_id,
            result_type=type(None),
            decide=decide,
            product=product,
        )

    @staticmethod
    def _claimable(tx: ReadTx, serial: str) -> engine.Shipment:
        row = tx.shipment(serial)
        if row is None:
            raise UnknownHardware(
                f"hardware {serial!r} was never shipped", details={"serial": serial}
            )
        if row.org_id is not None:
            raise AlreadyRegistered(
                f"hardware {serial!r} is already registered", details={"serial": serial}
            )
        return engine.Shipment(
            serial=serial, product=row.product, preloaded=loads(row.preloaded, Counts)
        )

    def allocate_to_hardware(
        self,
        org_id: str,
        serial: str,
        quantities: Mapping[str, int],
        *,
        actor: str,
        request_id: str | None = None,
    ) -> None:
        """Move hardware (extension) licenses from the wallet onto a unit for its lifetime (R9).

        Args:
            org_id: the organization.
            serial: a unit registered to the organization.
            quantities: licenses per type, positive integers.
            actor: who allocates.
            request_id: makes the call idempotent (R13).

        Raises:
            InvalidInput: bad ids or quantities, or an unknown license type.
            UnknownOrganization: no such organization.
            UnknownProduct: the product involved is no longer in the catalog.
            UnknownHardware: the organization has no such unit.
            InsufficientLicenses: the wallet lacks hardware licenses (``.shortfall``).
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        org_id = check_id(org_id, "org_id")
        serial = check_id(serial, "serial")
        counts = check_counts(quantities, "quantities", allow_zero=False, allow_empty=False)
        actor = check_id(actor, "actor")
        request_id = self._check_request_id(request_id)
        product = self._product_of(
            org_id, lambda s: s.hardware[serial].product if serial in s.hardware else None
        )
        self._check_types_of(product, counts, "quantities")
        self._command(
            org_id,
            "allocate_to_hardware",
            {"serial": serial, "quantities": counts},
            actor=actor,
            request_id=request_id,
            result_type=type(None),
            product=product,
            decide=lambda tx, state, ctx: engine.allocate_to_hardware(
                state, self.catalog, ctx, serial=serial, quantities=counts
            ),
        )

    # -- offline systems -------------------------------------------------------------------------

    def upload_system_file(
        self, org_id: str, data: bytes, *, actor: str, request_id: str | None = None
    ) -> bytes:
        """Register or update an offline system from its description file (R12).

        Returns its signed license file.

        The file is checked in full first; the system, its devices and its
        hardware claims are then applied as one step.

        Args:
            org_id: the organization.
            data: the bytes of ``offline.describe_system(...)``.
            actor: who uploads it.
            request_id: makes the call idempotent (R13).

        Returns:
            The signed license file (canonical JSON, Ed25519).

        Raises:
            MalformedSystemFile: the file is not a valid description file.
            InvalidInput: bad ids, an unknown license type, a system of another
                product, or hardware shipped for another product.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog has no such product.
            UnknownHardware: a serial the vendor never shipped.
            AlreadyRegistered: the system or a serial is held elsewhere.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        org_id = check_id(org_id, "org_id")
        description = offline.parse_system_file(data)
        spec = self.catalog.product(description.product)
        engine.check_types(spec, description.devices, "devices")
        actor = check_id(actor, "actor")
        request_id = self._check_request_id(request_id)

        def decide(tx: WriteTx, state: OrgState, ctx: engine.Context) -> engine.Outcome[bytes]:
            shipments = []
            for serial in description.hardware:
                held = state.hardware.get(serial)
                if held is not None and held.system_id == description.system_id:
                    shipments.append(engine.Shipment(serial, held.product, held.preloaded))
                    continue
                shipments.append(self._claimable(tx, serial))
            outcome = engine.upload_system(
                state,
                self.catalog,
                ctx,
                product=spec.code,
                system_id=description.system_id,
                devices=description.devices,
                shipments=shipments,
            )
            if outcome.result and not tx.claim_system(description.system_id, org_id):
                raise AlreadyRegistered(
                    f"system {description.system_id!r} is already registered",
                    details={"system_id": description.system_id},
                )
            for shipment in shipments:
                if shipment.serial not in state.hardware and not tx.claim_hardware(
                    shipment.serial, org_id
                ):
                    raise AlreadyRegistered(
                        f"hardware {shipment.serial!r} is already registered",
                        details={"serial": shipment.serial},
                    )
            license_file = self._license_file(outcome.state, description.system_id, ctx)
            return engine.Outcome(state=outcome.state, facts=outcome.facts, result=license_file)

        return self._command(
            org_id,
            "upload_system_file",
            {"file": hashlib.sha256(bytes(data)).hexdigest()},
            actor=actor,
            request_id=request_id,
            result_type=bytes,
            product=spec.code,
            decide=decide,
            encode=lambda b: json.dumps(base64.b64encode(b).decode("ascii")),
            decode=lambda s: base64.b64decode(json.loads(s)),
        )

    def _license_file(self, state: OrgState, system_id: str, ctx: engine.Context) -> bytes:
        terms = readings.license_terms(state, self.catalog, state.systems[system_id], ctx.on)
        return offline.sign_license_file(
            signing_key=self._signing_key,
            org_id=state.org_id,
            product=terms.product,
            system_id=system_id,
            issued_at=ctx.at,
            licensed=terms.licensed,
            devices=terms.devices,
            valid_until=terms.valid_until,
            timezone=state.timezone,
        )

    # -- queries ---------------------------------------------------------------------------------

    def status(self, org_id: str, product: str, *, at: datetime | None = None) -> ProductStatus:
        """The product's license status at ``at`` (default now) (R3, R5).

        Raises:
            InvalidInput: a bad id or a naive ``at``.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog has no such product.
            StorageError: the backend failed.
        """
        spec = self.catalog.product(check_id(product, "product"))
        state, day, _ = self._view(org_id, at)
        return readings.product_status(state, spec, day)

    def need(
        self, org_id: str, product: str, *, at: datetime | None = None, horizon: int = 5
    ) -> NeedReport:
        """The need of the current and the next ``horizon`` periods, and what to buy (R4, R7).

        Raises:
            InvalidInput: a bad id, a naive ``at`` or a bad horizon: not an integer
                from 0 to 100, or reaching past the year 9999.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog has no such product.
            SubscriptionNotStarted: the subscription has not started.
            StorageError: the backend failed.
        """
        spec = self.catalog.product(check_id(product, "product"))
        horizon = check_int(horizon, "horizon", minimum=0, maximum=MAX_HORIZON)
        state, day, _ = self._view(org_id, at)
        if day.year + (horizon + 2) * spec.term_years > date.max.year:
            raise InvalidInput(
                f"horizon {horizon}: {horizon} periods of {spec.term_years} years after "
                f"{day.isoformat()} reach past the calendar (year {date.max.year})",
                param="horizon",
            )
        return readings.need_report(state, spec, day, horizon)

    def wallet(self, org_id: str, product: str, *, at: datetime | None = None) -> Wallet:
        """The product's wallet at ``at``: live lots and the credit (R6, R8).

        Raises:
            InvalidInput: a bad id or a naive ``at``.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog has no such product.
            StorageError: the backend failed.
        """
        spec = self.catalog.product(check_id(product, "product"))
        state, day, _ = self._view(org_id, at)
        return readings.wallet_view(state, spec.code, day)

    def system_status(
        self, org_id: str, system_id: str, *, at: datetime | None = None
    ) -> SystemStatus:
        """A system's devices, hardware coverage and whether it is licensed (R9).

        Raises:
            InvalidInput: a bad id or a naive ``at``.
            UnknownOrganization: no such organization.
            UnknownProduct: the product involved is no longer in the catalog.
            UnknownSystem: the organization has no such system (then).
            StorageError: the backend failed.
        """
        system_id = check_id(system_id, "system_id")
        state, day, _ = self._view(org_id, at)
        system = state.systems.get(system_id)
        if system is None:
            raise UnknownSystem(f"unknown system {system_id!r}", details={"system_id": system_id})
        return readings.system_status(state, self.catalog, system, day)

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

        Expiries that happened since the last command are included with their
        own dates, though no command recorded them yet.

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
        org_id = check_id(org_id, "org_id")
        if product is not None:
            product = self.catalog.product(check_id(product, "product")).code
        if actor is not None:
            actor = check_id(actor, "actor")
        wanted: tuple[str, ...] | None = None
        if actions is not None:
            if isinstance(actions, str):
                actions = [actions]
            if not isinstance(actions, Iterable) or isinstance(actions, bytes | Mapping):
                raise InvalidInput(
                    f"actions must be an action or an iterable of actions, got {actions!r}",
                    param="actions",
                )
            items = list(actions)
            odd = [a for a in items if not isinstance(a, str)]
            if odd:
                raise InvalidInput(f"actions must be strings, got {odd[0]!r}", param="actions")
            known = {a.value for a in Action}
            wanted = tuple(str(a) for a in items)
            unknown = sorted(set(wanted) - known)
            if unknown:
                raise InvalidInput(
                    f"unknown actions {unknown}; known: {sorted(known)}", param="actions"
                )
        if limit is not None:
            limit = check_int(limit, "limit", minimum=0, maximum=_MAX_ROWS)
        offset = check_int(offset, "offset", minimum=0, maximum=_MAX_ROWS)
        query = HistoryQuery(product=product, actor=actor, actions=wanted)
        query = self._bound(query, since, "since")
        query = self._bound(query, until, "until")
        now = self._now()

        def look(tx: ReadTx) -> tuple[list[Activity], list[Activity], int]:
            head = tx.head(org_id)
            if head is None:
                raise UnknownOrganization(
                    f"unknown organization {org_id!r}", details={"org_id": org_id}
                )
            stored = [self._from_row(r) for r in tx.history(org_id, query, limit, offset)]
            state = self._state_of(org_id, head.state)
            _, pending = engine.advance(state, self.catalog, local_date(now, state.timezone))
            projected = [
                a
                for a in (self._activity(f, state.timezone) for f in pending)
                if query.matches(self._row(org_id, a))
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

    @staticmethod
    def _bound(query: HistoryQuery, value: object, which: str) -> HistoryQuery:
        if value is None:
            return query
        if isinstance(value, datetime):
            micros = to_us(check_aware(value, which))
            if which == "since":
                return attrs.evolve(query, since_us=micros)
            return attrs.evolve(query, until_us=micros)
        if isinstance(value, date):
            if which == "since":
                return attrs.evolve(query, since_on=value.isoformat())
            return attrs.evolve(query, until_on=value.isoformat())
        raise InvalidInput(
            f"{which} must be a date or an aware datetime, got {value!r}", param=which
        )
