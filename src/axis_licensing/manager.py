"""The Manager: the thin shell around the policy core (SPEC §3).

Every command reads the clock, checks its input (R14), asks the authorize
hook, then in one backend transaction: replays a remembered ``request_id``
(R13), locks the organization and loads the parts of its state the command
needs (:mod:`axis_licensing._parts`), lets :mod:`axis_licensing.policy.engine`
decide, and appends the parts that changed with its activities. After the
commit it tells the activity observers. Queries load the parts in force at
``at`` and project them forward with the same policy.

The organization's own parts are cached per organization, keyed by the version
they were read or written at: a query reads the head version (one small row)
and reuses the cache when it is current (SPEC §5).
"""

from __future__ import annotations

import base64
import contextlib
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

from axis_licensing import _keys, _parts, offline
from axis_licensing._convert import converter, dumps, dumps_data, loads
from axis_licensing._counts import Counts
from axis_licensing._plugins import Plugins
from axis_licensing._time import (
    Clock,
    SystemClock,
    check_aware,
    check_zone,
    from_us,
    local_date,
    midnight,
    to_us,
)
from axis_licensing._validate import check_counts, check_id, check_int, check_text, param_of
from axis_licensing.backends import (
    ActivityRow,
    Backend,
    CatalogRow,
    Head,
    HistoryQuery,
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
    CatalogMismatch,
    CatalogRequired,
    ConcurrencyConflict,
    IdempotencyConflict,
    IncompatibleCatalog,
    InvalidInput,
    KeyAlreadyRedeemed,
    PermissionDenied,
    StorageError,
    StoreNotFound,
    UnknownHardware,
    UnknownKey,
    UnknownOrganization,
    UnknownProduct,
    UnknownSystem,
)
from axis_licensing.model import (
    Action,
    Activity,
    Alert,
    Allocation,
    LicenseKind,
    NeedReport,
    Organization,
    ProductState,
    ProductStatus,
    Redemption,
    SystemStatus,
    Wallet,
)
from axis_licensing.policy import alerts as alerting
from axis_licensing.policy import catalogs as editions
from axis_licensing.policy import engine
from axis_licensing.policy import status as readings
from axis_licensing.policy.state import Fact, HardwareRecord, OrgState, SystemRecord

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

#: The ``within_days`` of the alerts compared after each command for the alert hook.
ALERT_HOOK_DAYS = 60

Decide = Callable[[WriteTx, OrgState, engine.Context, Catalog], engine.Outcome[T]]


@attrs.frozen
class _View:
    """An organization as a query sees it: state, local date, instant and catalog."""

    state: OrgState
    day: date
    instant: datetime
    catalog: Catalog


@attrs.frozen
class _Change:
    """An organization's state before and after one command, with their instants."""

    before: OrgState
    before_at: datetime
    after: OrgState
    after_at: datetime
    #: The version the command wrote.
    seq: int


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
        spec = m._spec(check_id(product, "product"))
        kind = LicenseKind.of(kind)
        counts = check_counts(quantities, "quantities", allow_zero=False, allow_empty=False)
        m._check_types(spec.code, counts, "quantities")
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
        spec = m._spec(check_id(product, "product"))
        counts = check_counts(
            {} if preloaded is None else preloaded, "preloaded", allow_zero=False, allow_empty=True
        )
        m._check_types(spec.code, counts, "preloaded")
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

    def publish_catalog(
        self, catalog: Catalog, *, actor: str = "vendor", request_id: str | None = None
    ) -> int:
        """Record a new version of the store's catalog, in effect from now (R15).

        Allowed: adding products and license types; changing names,
        ``growth_rate``, ``trial_days`` and ``grace_days`` (each period keeps
        the terms of the version in effect when it opened). A catalog equal to
        the latest version records nothing and returns its number.

        Args:
            catalog: the new catalog.
            actor: who publishes it.
            request_id: makes the call idempotent (R13).

        Returns:
            The number of the version in effect afterwards.

        Raises:
            InvalidInput: not a Catalog, or a bad actor or request id.
            IncompatibleCatalog: it removes a product or a license type, changes
                a ``term_years`` or what a license type covers; ``.reasons``
                lists every reason.
            PermissionDenied: the authorize hook refused.
            IdempotencyConflict: ``request_id`` was used with other arguments.
            ConcurrencyConflict: the command kept losing races.
            StorageError: the backend failed.
        """
        m = self._m
        if not isinstance(catalog, Catalog):
            raise InvalidInput(
                f"catalog must be a Catalog, got {type(catalog).__name__}", param="catalog"
            )
        actor = check_id(actor, "actor")
        request_id = m._check_request_id(request_id)
        m._read(m._refresh_catalogs)
        args = {"catalog": catalog}
        fingerprint = _fingerprint("vendor.publish_catalog", args)
        prior = m._read(lambda tx: m._replayed(tx, _VENDOR_SCOPE, request_id, fingerprint))
        if prior is None:
            # a repeat returns its first result even once later versions exist (R13),
            # so only a new request is checked against the latest version here
            m._check_compatible(m.catalog, catalog)
        m._authorize(actor, None, "vendor.publish_catalog", None)

        def run(tx: WriteTx, now: datetime) -> tuple[int, str]:
            latest = m._refresh_catalogs(tx)[-1]
            m._check_compatible(latest.catalog, catalog)
            if catalog == latest.catalog:
                return latest.version, json.dumps(latest.version)
            version = latest.version + 1
            effective = max(to_us(now), to_us(latest.effective_at))
            if not tx.insert_catalog(CatalogRow(version, effective, dumps(catalog))):
                raise RetryableConflict(f"catalog version {version} was recorded concurrently")
            return version, json.dumps(version)

        version = m._vendor_command(
            "vendor.publish_catalog",
            args,
            request_id,
            run,
            lambda tx, stored: int(json.loads(stored)),
        )
        # The version is committed: a store that fails now must not turn that into an
        # error (R13). Every later command reads the versions again in its transaction.
        with contextlib.suppress(StorageError, ConcurrencyConflict):
            m._read(m._refresh_catalogs)
        return version


class Manager:
    """License management for many organizations over one storage backend (SPEC §3).

    Open one with :meth:`open`; close it with :meth:`close` or use it as a
    context manager. A Manager is safe to share between threads.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        catalog: Catalog | None = None,
        clock: Clock | None = None,
        signing_key: Ed25519PrivateKey | bytes | str | None = None,
        plugins: Plugins | None = None,
        create: bool = True,
    ) -> None:
        if catalog is not None and not isinstance(catalog, Catalog):
            raise InvalidInput(
                f"catalog must be a Catalog, got {type(catalog).__name__}", param="catalog"
            )
        if clock is not None and not callable(getattr(clock, "now", None)):
            raise InvalidInput(
                "clock must have a now() method returning an aware datetime", param="clock"
            )
        if not isinstance(create, bool):
            raise InvalidInput(f"create must be True or False, got {create!r}", param="create")
        self.backend = backend
        self.clock: Clock = clock or SystemClock()
        self._plugins = plugins or Plugins()
        self.vendor = Vendor(self)
        self._create = create
        self._states: dict[str, tuple[int, OrgState]] = {}
        self._states_lock = threading.Lock()
        self._versions: tuple[CatalogVersion, ...] = ()
        self._versions_lock = threading.Lock()
        self._editions: dict[tuple[str, int], tuple[editions.Edition, ...]] = {}
        self._refuse_incomplete()
        self._open_catalog(catalog)
        self._upgrade_legacy()
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
        catalog: Catalog | None = None,
        clock: Clock | None = None,
        signing_key: Ed25519PrivateKey | bytes | str | None = None,
        plugins: Iterable[object] = (),
        create: bool = True,
    ) -> Manager:
        """Open a Manager on the backend named by ``url``.

        Args:
            url: ``memory://``, ``sqlite:///PATH`` or ``postgresql://…``, or a
                scheme a plugin registered.
            catalog: the vendor's products and license types. On a store
                without a catalog it is recorded as version 1; otherwise it
                must equal the store's latest version. None uses the store's
                latest version (R15).
            clock: an object whose ``now()`` returns an aware datetime; the
                system clock if None.
            signing_key: the Ed25519 key that signs license files (PEM or key
                object); if None, one is generated once and kept by the backend.
            plugins: objects with ``axis_licensing.hookimpl`` methods.
            create: with False nothing is ever created (no file, schema,
                table, catalog version or signing key): read-only tools open so.

        Returns:
            An open Manager.

        Raises:
            InvalidInput: an unknown scheme (the message lists the known
                ones), a malformed URL, catalog, clock or signing key, or a
                plugin with a misspelt hook or wrong hook arguments.
            StoreNotFound: ``create=False`` and no store exists at ``url``
                (or it holds no signing key and none was passed).
            CatalogRequired: no catalog given, and the store has none (R15).
            CatalogMismatch: the catalog given differs from the store's latest
                version; ``.differences`` lists how (R15).
            ConcurrencyConflict: other processes kept the store busy while the
                signing key was stored.
            StorageError: the backend cannot be opened, or an interrupted
                ``migrate`` left it incomplete.
        """
        if not isinstance(create, bool):
            raise InvalidInput(f"create must be True or False, got {create!r}", param="create")
        registry = Plugins(plugins)
        backend = registry.backends().open(url, create=create)
        try:
            return cls(
                backend,
                catalog=catalog,
                clock=clock,
                signing_key=signing_key,
                plugins=registry,
                create=create,
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
    def catalog(self) -> Catalog:
        """The latest version of the store's catalog (R15), as this Manager last read it."""
        return self._versions[-1].catalog

    def catalog_versions(self) -> list[CatalogVersion]:
        """Every version of the store's catalog, oldest first (R15).

        Raises:
            StorageError: the backend failed.
        """
        return list(self._read(self._refresh_catalogs))

    @property
    def public_key(self) -> bytes:
        """The PEM public key that verifies this Manager's license files (R12)."""
        return self._public_key

    @property
    def plugin_manager(self) -> Plugins:
        """The Manager's plugins."""
        return self._plugins

    # -- plumbing --------------------------------------------------------------------------

    def _core(self, tx: ReadTx, head: Head) -> OrgState:
        """The organization's own parts at its head version; cached by version.

        Only committed versions are cached, and a version number names one
        state only, so a hit is always right, whoever wrote it.
        """
        cached = self._states.get(head.org_id)
        if cached is not None and cached[0] == head.seq:
            return cached[1]
        if head.seq == 0:
            raise StorageError(
                f"organization {head.org_id!r} is stored in the first storage format and was "
                "not converted yet; a Manager converts it when it opens the store",
                details={"org_id": head.org_id},
            )
        state = _parts.assemble(head.org_id, tx.parts_prefixed(head.org_id, _parts.ORG))
        self._remember(head.org_id, head.seq, state)
        return state

    def _remember(self, org_id: str, seq: int, state: OrgState) -> None:
        with self._states_lock:
            if org_id not in self._states and len(self._states) >= _STATE_CACHE_SIZE:
                self._states.pop(next(iter(self._states)))
            self._states[org_id] = (seq, state.without_systems())

    @staticmethod
    def _with_named(
        tx: ReadTx,
        state: OrgState,
        seq: int | None,
        systems: Iterable[str] = (),
        serials: Iterable[str] = (),
    ) -> OrgState:
        """``state`` with the named systems and units loaded as at version ``seq``.

        Each system comes with its hardware units, and each unit with its system
        (and that system's units), so the rules see whole systems (R9).
        """
        want_systems, want_serials = set(systems), set(serials)
        for _ in range(3):  # a unit's system, then that system's other units
            names = [_parts.system_part(s) for s in sorted(want_systems - set(state.systems))]
            names += [_parts.hardware_part(h) for h in sorted(want_serials - set(state.hardware))]
            if not names:
                break
            state = _parts.with_parts(state, tx.parts(state.org_id, names, seq))
            for system_id in want_systems & set(state.systems):
                want_serials.update(state.systems[system_id].hardware)
            for serial in want_serials & set(state.hardware):
                want_systems.add(state.hardware[serial].system_id)
        return state

    def _upgrade_legacy(self) -> None:
        """Convert organizations stored in the first format (one whole state per command).

        Each of its versions becomes the same version of parts (its ``seq`` and
        instant kept), so queries at a past instant answer as before. Each
        organization converts in one write transaction that holds its lock, so
        processes opening the store at once convert it once (SPEC §5).
        """
        if not self._create:  # never writes: an unconverted organization raises when read
            return
        pending = self._read(lambda tx: tx.legacy_orgs())
        for org_id in pending:

            def attempt(org_id: str = org_id) -> None:
                with self.backend.write() as tx:
                    head = tx.lock(org_id)
                    rows = tx.legacy_states(org_id)
                    if head is None or not rows:
                        return
                    if head.seq != 0:
                        raise StorageError(
                            f"organization {org_id!r} holds states of both storage formats",
                            details={"org_id": org_id},
                        )
                    previous: OrgState | None = None
                    for row in rows:
                        state = engine.recount_devices(loads(row.state, OrgState), self.catalog)
                        version = Head(org_id, row.seq, row.at_us)
                        tx.append(version, _parts.changed(previous, state), ())
                        previous = state
                    tx.drop_legacy(org_id)

            self._retrying(attempt)

    def _read(self, look: Callable[[ReadTx], T]) -> T:
        """Run ``look`` in a read transaction, again if the store was busy (R13)."""

        def attempt() -> T:
            with self.backend.read() as tx:
                return look(tx)

        return self._retrying(attempt)

    # -- the catalog (R15) --------------------------------------------------------------------

    def _refresh_catalogs(self, tx: ReadTx) -> tuple[CatalogVersion, ...]:
        """The versions, with any recorded since this Manager last looked."""
        known = self._versions
        rows = tx.catalogs(known[-1].version if known else 0)
        if not rows:
            return known
        added = tuple(
            CatalogVersion(
                version=row.version,
                effective_at=from_us(row.effective_at_us),
                catalog=loads(row.catalog, Catalog),
            )
            for row in rows
        )
        with self._versions_lock:
            if len(self._versions) == len(known):
                self._versions = known + added
            return self._versions

    def _open_catalog(self, catalog: Catalog | None) -> None:
        """Record ``catalog`` on a store without one, or check it against the latest (R15)."""
        versions = self._read(self._refresh_catalogs)
        if not versions:
            if catalog is None:
                raise CatalogRequired(
                    "this store has no catalog yet: open it once with catalog=… to record one"
                )
            if not self._create:
                raise CatalogRequired(
                    "this store has no catalog yet, and create=False records nothing: "
                    "open it once with create=True and catalog=… to record one"
                )
            row = CatalogRow(1, to_us(self._now()), dumps(catalog))

            def record() -> None:
                with self.backend.write() as tx:
                    tx.insert_catalog(row)  # False: another opener recorded one first

            self._retrying(record)
            versions = self._read(self._refresh_catalogs)
        if catalog is not None and catalog != versions[-1].catalog:
            found = editions.differences(versions[-1].catalog, catalog)
            raise CatalogMismatch(
                f"the catalog given differs from the store's catalog version "
                f"{versions[-1].version}: {'; '.join(found)}. Open the store without a "
                "catalog to use its own, or publish the new one with "
                "manager.vendor.publish_catalog",
                found,
            )

    @staticmethod
    def _check_compatible(old: Catalog, new: Catalog) -> None:
        reasons = editions.incompatibilities(old, new)
        if reasons:
            raise IncompatibleCatalog(
                f"the catalog cannot follow the store's: {'; '.join(reasons)}", reasons
            )

    def _spec(self, product: str) -> ProductSpec:
        """The product in the latest catalog, read again if another process published it."""
        try:
            return self.catalog.product(product)
        except UnknownProduct:
            return self._read(self._refresh_catalogs)[-1].catalog.product(product)

    def _check_types(self, product: str, counts: Counts, what: str) -> None:
        """Refuse license types the product lacks, after reading any newer catalog (R14, R15)."""
        try:
            engine.check_types(self.catalog.product(product), counts, what)
        except InvalidInput:
            latest = self._read(self._refresh_catalogs)[-1].catalog
            engine.check_types(latest.product(product), counts, what)

    def _catalog_at(self, state: OrgState, instant: datetime, day: date) -> Catalog:
        """The catalog the rules apply to ``state`` at ``instant`` (R15)."""
        versions = self._versions
        if len(versions) == 1:
            return versions[0].catalog
        now = editions.version_at(versions, instant)
        key = (state.timezone, now.version)
        known = self._editions.get(key)
        if known is None:
            known = tuple(
                editions.Edition(
                    version=v.version,
                    catalog=v.catalog,
                    first_day=date.min if v.version == 1 else self._first_day(v, state.timezone),
                )
                for v in versions[: now.version]
            )
            self._editions[key] = known
        return editions.catalog_for(state, day, known)

    @staticmethod
    def _first_day(version: CatalogVersion, timezone: str) -> date:
        """The first local day that starts with ``version`` in effect."""
        day = local_date(version.effective_at, timezone)
        if midnight(day, timezone) < version.effective_at:
            return date.fromordinal(day.toordinal() + 1)
        return day

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
        """The backend's setting ``name``, made and stored once (the first opener wins).

        Raises:
            StoreNotFound: it is not stored, and this Manager may create nothing.
        """
        stored = self._read(lambda tx: tx.meta(name))
        if stored is not None:
            return stored
        if not self._create:
            raise StoreNotFound(
                f"the store holds no {name.replace('_', ' ')} yet, and create=False makes none"
            )
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

    def _product_of(self, org_id: str, part: str) -> str | None:
        """The product a command acts on, read before the command (for its checks and hook).

        Commands that name a system, a unit or a key learn their product from the
        store. Reading it first (one part) lets their input be checked against
        that product, and the authorize hook be told it, before anything runs
        (§4, R14). None when the organization or the thing is unknown: the
        command then says so.
        """
        rows = self._read(lambda tx: tx.parts(org_id, [part]))
        if not rows:
            return None
        product = (
            loads(rows[0].value, SystemRecord).product
            if part.startswith(_parts.SYSTEM_PREFIX)
            else loads(rows[0].value, HardwareRecord).product
        )
        return product if product in self.catalog.product_codes else None

    def _check_types_of(self, product: str | None, counts: Counts, what: str) -> None:
        """Refuse license types that ``product`` (or, unknown, every product) lacks (R14)."""
        if product is not None:
            self._check_types(product, counts, what)
            return
        self._read(self._refresh_catalogs)
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
        systems: Sequence[str] = (),
        serials: Sequence[str] = (),
    ) -> T:
        self._authorize(actor, org_id, action, product)
        fingerprint = _fingerprint(action, args) if request_id is not None else ""
        scope = _org_scope(org_id)

        def attempt() -> tuple[T, list[Activity], _Change | None]:
            now = self._now()
            written: tuple[int, OrgState] | None = None
            with self.backend.write() as tx:
                prior = self._replayed(tx, scope, request_id, fingerprint)
                if prior is not None:
                    if decode is not None:
                        return decode(prior.result), [], None
                    return loads(prior.result, result_type), [], None
                head = tx.lock(org_id)
                if head is None:
                    raise UnknownOrganization(
                        f"unknown organization {org_id!r}", details={"org_id": org_id}
                    )
                self._refresh_catalogs(tx)
                state = self._with_named(tx, self._core(tx, head), None, systems, serials)
                ctx = engine.Context(at=now, on=local_date(now, state.timezone), actor=actor)
                # the version in effect at the command's instant, never before the last command
                instant = max(now, from_us(head.at_us))
                catalog = self._catalog_at(state, instant, ctx.on)
                advanced, pending = engine.advance(state, catalog, ctx.on)
                outcome = decide(tx, advanced, ctx, catalog)
                facts = (*pending, *outcome.facts)
                activities = [self._activity(f, state.timezone) for f in facts]
                changed = _parts.changed(state, outcome.state)
                if facts or changed:
                    # versions never go back in time, even if this server's clock is behind
                    version = Head(org_id, head.seq + 1, max(to_us(now), head.at_us))
                    tx.append(version, changed, [self._row(org_id, a) for a in activities])
                    written = (version.seq, outcome.state)
                if request_id is not None:
                    tx.put_request(
                        RequestRow(scope, request_id, fingerprint, encode(outcome.result))
                    )
                change = None
                if facts or changed:  # recorded: compare its alerts
                    change = _Change(
                        state, from_us(head.at_us), outcome.state, instant, head.seq + 1
                    )
            if written is not None:  # committed: the version is the state's for good
                self._remember(org_id, *written)
            return outcome.result, activities, change

        result, activities, change = self._retrying(attempt)
        self._notify(activities)
        if change is not None:
            self._notify_alerts(org_id, change)
        return result

    def _alerts_of(self, state: OrgState, instant: datetime, within_days: int) -> list[Alert]:
        """The alerts of ``state`` as of ``instant``: advanced to its local date first."""
        day = local_date(instant, state.timezone)
        catalog = self._catalog_at(state, instant, day)
        advanced, _ = engine.advance(state, catalog, day)
        return alerting.alerts(advanced, catalog, day, within_days)

    def _unlicensed(self, state: OrgState, instant: datetime) -> set[str]:
        """The products UNLICENSED or NOT_STARTED at ``instant`` that have uncovered devices."""
        day = local_date(instant, state.timezone)
        catalog = self._catalog_at(state, instant, day)
        advanced, _ = engine.advance(state, catalog, day)
        return {
            spec.code
            for spec in catalog.products
            if advanced.subscription_devices(spec.code)
            and readings.product_status(advanced, spec, day).state
            in (ProductState.UNLICENSED, ProductState.NOT_STARTED)
        }

    def _notify_alerts(self, org_id: str, change: _Change) -> None:
        """Tell alert observers of each alert that the command made appear (§4).

        An alert appears when it is among the organization's alerts right after the
        command (at its instant, ``within_days`` = :data:`ALERT_HOOK_DAYS`) and was
        not among them right after the previous command (at that one's instant),
        compared by :func:`~axis_licensing.policy.alerts.alert_key`. So an alert
        that time brought in between two commands is told at the second.
        """
        if not self._plugins.has_alert_observers():
            return
        before = {
            alerting.alert_key(a)
            for a in self._alerts_of(change.before, change.before_at, ALERT_HOOK_DAYS)
        }
        after = change.after
        # The states hold the systems the command loaded, the only ones whose
        # SYSTEM_UNLICENSED alert it can change, unless it made a product unlicensed
        # (or not started): then every system of that product may raise one.
        if self._unlicensed(after, change.after_at) - self._unlicensed(
            change.before, change.before_at
        ):
            after = self._read(lambda tx: self._all_systems(tx, change.after, change.seq))
        for alert in self._alerts_of(after, change.after_at, ALERT_HOOK_DAYS):
            if alerting.alert_key(alert) not in before:
                self._plugins.alert(org_id, alert)

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

    def _view(
        self,
        org_id: object,
        at: object,
        *,
        systems: Sequence[str] = (),
        serials: Sequence[str] = (),
        more: Callable[[ReadTx, OrgState, int | None], OrgState] | None = None,
    ) -> _View:
        """The organization's state in force at ``at``, projected to its local date.

        ``at=None`` is one coherent instant: ``max(clock now, the organization's
        latest recorded command)`` (SPEC §1), so a clock that is behind, or set
        back, never mixes "now" with later facts. The state holds the
        organization's own parts and the named systems and units; ``more`` may
        load more parts in the same read, as at the version read (None: the head).
        """
        org_id = check_id(org_id, "org_id")
        asked = None if at is None else check_aware(at, "at")
        now = self._now() if asked is None else asked

        def look(tx: ReadTx) -> tuple[OrgState, datetime]:
            head = tx.head(org_id)
            if head is None:
                raise UnknownOrganization(
                    f"unknown organization {org_id!r}", details={"org_id": org_id}
                )
            self._refresh_catalogs(tx)
            instant = max(now, from_us(head.at_us)) if asked is None else now
            seq: int | None = None
            if to_us(instant) >= head.at_us:
                state = self._core(tx, head)
            else:
                seq = tx.seq_at(org_id, to_us(instant))
                if seq is None:  # before the organization existed: nothing was recorded yet
                    return self._core(tx, head).as_created(), instant
                state = _parts.assemble(org_id, tx.parts_prefixed(org_id, _parts.ORG, seq=seq))
            state = self._with_named(tx, state, seq, systems, serials)
            return (state if more is None else more(tx, state, seq)), instant

        state, instant = self._read(look)
        day = local_date(instant, state.timezone)
        catalog = self._catalog_at(state, instant, day)
        state, _ = engine.advance(state, catalog, day)
        return _View(state, day, instant, catalog)

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
        check_zone(timezone)
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
                tx.append(
                    Head(org_id, 1, to_us(now)),
                    _parts.changed(None, outcome.state),
                    [self._row(org_id, a) for a in activities],
                )
                if request_id is not None:
                    tx.put_request(RequestRow(scope, request_id, fingerprint, "null"))
            self._remember(org_id, 1, outcome.state)
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
        spec = self._spec(check_id(product, "product"))
        system_id = check_id(system_id, "system_id")
        counts = check_counts(
            {} if devices is None else devices, "devices", allow_zero=True, allow_empty=True
        )
        self._check_types(spec.code, counts, "devices")
        actor = check_id(actor, "actor")
        request_id = self._check_request_id(request_id)

        def decide(
            tx: WriteTx, state: OrgState, ctx: engine.Context, catalog: Catalog
        ) -> engine.Outcome[None]:
            outcome = engine.register_system(
                state, catalog, ctx, product=spec.code, system_id=system_id, devices=counts
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
            systems=[system_id],
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
        product = self._product_of(org_id, _parts.system_part(system_id))
        self._check_types_of(product, counts, "devices")
        self._command(
            org_id,
            "report_devices",
            {"system_id": system_id, "devices": counts},
            actor=actor,
            request_id=request_id,
            result_type=type(None),
            product=product,
            decide=lambda tx, state, ctx, catalog: engine.report_devices(
                state, catalog, ctx, system_id=system_id, devices=counts
            ),
            systems=[system_id],
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
        spec = self._spec(check_id(product, "product"))
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
            decide=lambda tx, state, ctx, catalog: engine.start_subscription(
                state, catalog, ctx, product=spec.code
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

        def decide(
            tx: WriteTx, state: OrgState, ctx: engine.Context, catalog: Catalog
        ) -> engine.Outcome[Redemption]:
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
                catalog,
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
        spec = self._spec(check_id(product, "product"))
        counts = check_counts(quantities, "quantities", allow_zero=False, allow_empty=False)
        self._check_types(spec.code, counts, "quantities")
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
            decide=lambda tx, state, ctx, catalog: engine.allocate(
                state, catalog, ctx, product=spec.code, quantities=counts, offset=period
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
        spec = self._spec(check_id(product, "product"))
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
            decide=lambda tx, state, ctx, catalog: engine.allocate_need(
                state, catalog, ctx, product=spec.code, through=through
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

        def decide(
            tx: WriteTx, state: OrgState, ctx: engine.Context, catalog: Catalog
        ) -> engine.Outcome[None]:
            shipment = self._claimable(tx, serial)
            outcome = engine.register_hardware(
                state, catalog, ctx, system_id=system_id, shipment=shipment
            )
            if not tx.claim_hardware(serial, org_id):
                raise AlreadyRegistered(
                    f"hardware {serial!r} is already registered", details={"serial": serial}
                )
            return outcome

        product = self._product_of(org_id, _parts.system_part(system_id))
        self._command(
            org_id,
            "register_hardware",
            {"system_id": system_id, "serial": serial},
            actor=actor,
            request_id=request_id,
            result_type=type(None),
            decide=decide,
            product=product,
            systems=[system_id],
            serials=[serial],
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
        product = self._product_of(org_id, _parts.hardware_part(serial))
        self._check_types_of(product, counts, "quantities")
        self._command(
            org_id,
            "allocate_to_hardware",
            {"serial": serial, "quantities": counts},
            actor=actor,
            request_id=request_id,
            result_type=type(None),
            product=product,
            decide=lambda tx, state, ctx, catalog: engine.allocate_to_hardware(
                state, catalog, ctx, serial=serial, quantities=counts
            ),
            serials=[serial],
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
        spec = self._spec(description.product)
        self._check_types(spec.code, description.devices, "devices")
        actor = check_id(actor, "actor")
        request_id = self._check_request_id(request_id)

        def decide(
            tx: WriteTx, state: OrgState, ctx: engine.Context, catalog: Catalog
        ) -> engine.Outcome[bytes]:
            shipments = []
            for serial in description.hardware:
                held = state.hardware.get(serial)
                if held is not None and held.system_id == description.system_id:
                    shipments.append(engine.Shipment(serial, held.product, held.preloaded))
                    continue
                shipments.append(self._claimable(tx, serial))
            outcome = engine.upload_system(
                state,
                catalog,
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
            license_file = self._license_file(outcome.state, description.system_id, ctx, catalog)
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
            systems=[description.system_id],
            serials=list(description.hardware),
        )

    def _license_file(
        self, state: OrgState, system_id: str, ctx: engine.Context, catalog: Catalog
    ) -> bytes:
        terms = readings.license_terms(state, catalog, state.systems[system_id], ctx.on)
        return offline.sign_license_file(
            signing_key=self._signing_key,
            org_id=state.org_id,
            product=terms.product,
            system_id=system_id,
            issued_at=ctx.at,
            licensed=terms.licensed,
            state=terms.state,
            devices=terms.devices,
            valid_until=terms.valid_until,
            timezone=state.timezone,
        )

    # -- queries ---------------------------------------------------------------------------------

    def status(self, org_id: str, product: str, *, at: datetime | None = None) -> ProductStatus:
        """The product's license status at ``at`` (R3, R5).

        Args:
            org_id: the organization.
            product: the product.
            at: the instant asked about; None is ``max(now, the latest command)`` (SPEC §1).

        Returns:
            The status, under the catalog version in effect at ``at`` (R15).

        Raises:
            InvalidInput: a bad id or a naive ``at``.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog (then) has no such product.
            StorageError: the backend failed.
        """
        code = self._spec(check_id(product, "product")).code
        view = self._view(org_id, at)
        return readings.product_status(view.state, view.catalog.product(code), view.day)

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
        code = self._spec(check_id(product, "product")).code
        horizon = check_int(horizon, "horizon", minimum=0, maximum=MAX_HORIZON)
        view = self._view(org_id, at)
        spec = view.catalog.product(code)
        if view.day.year + (horizon + 2) * spec.term_years > date.max.year:
            raise InvalidInput(
                f"horizon {horizon}: {horizon} periods of {spec.term_years} years after "
                f"{view.day.isoformat()} reach past the calendar (year {date.max.year})",
                param="horizon",
            )
        return readings.need_report(view.state, spec, view.day, horizon)

    def wallet(self, org_id: str, product: str, *, at: datetime | None = None) -> Wallet:
        """The product's wallet at ``at``: live lots and the credit (R6, R8).

        Args:
            org_id: the organization.
            product: the product.
            at: the instant asked about; None is ``max(now, the latest command)`` (SPEC §1).

        Returns:
            The live lots, earliest expiry first, and the fractional credit.

        Raises:
            InvalidInput: a bad id or a naive ``at``.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog (then) has no such product.
            StorageError: the backend failed.
        """
        code = self._spec(check_id(product, "product")).code
        view = self._view(org_id, at)
        return readings.wallet_view(view.state, view.catalog.product(code).code, view.day)

    def system_status(
        self, org_id: str, system_id: str, *, at: datetime | None = None
    ) -> SystemStatus:
        """A system's devices, hardware coverage and whether it is licensed (R9).

        Args:
            org_id: the organization.
            system_id: the system.
            at: the instant asked about; None is ``max(now, the latest command)`` (SPEC §1).

        Returns:
            The system's status.

        Raises:
            InvalidInput: a bad id or a naive ``at``.
            UnknownOrganization: no such organization.
            UnknownProduct: the product involved is no longer in the catalog.
            UnknownSystem: the organization has no such system (then).
            StorageError: the backend failed.
        """
        system_id = check_id(system_id, "system_id")
        view = self._view(org_id, at, systems=[system_id])
        system = view.state.systems.get(system_id)
        if system is None:
            raise UnknownSystem(f"unknown system {system_id!r}", details={"system_id": system_id})
        return readings.system_status(view.state, view.catalog, system, view.day)

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
        if limit is not None:
            limit = check_int(limit, "limit", minimum=0, maximum=_MAX_ROWS)
        offset = check_int(offset, "offset", minimum=0, maximum=_MAX_ROWS)

        def look(tx: ReadTx) -> list[Organization]:
            listed = []
            for org_id in tx.org_ids(limit, offset):
                head = tx.head(org_id)
                if head is None or head.seq == 0:  # reserved by a command still running
                    continue
                cached = self._states.get(org_id)
                if cached is not None and cached[0] == head.seq:
                    header = _parts.OrgHeader.of(cached[1])
                else:  # the header part alone
                    header = _parts.header(org_id, tx.parts(org_id, [_parts.ORG]))
                listed.append(
                    Organization(
                        org_id=org_id,
                        name=header.name,
                        timezone=header.timezone,
                        anchor=header.anchor,
                    )
                )
            return listed

        return self._read(look)

    def products(self, org_id: str, *, at: datetime | None = None) -> list[ProductStatus]:
        """The status of every product of the catalog, NOT_STARTED included, in catalog order.

        Args:
            org_id: the organization.
            at: the instant asked about; None is ``max(now, the latest command)`` (SPEC §1).

        Returns:
            One status per product of the catalog version in effect at ``at`` (R15).

        Raises:
            InvalidInput: a bad id or a naive ``at``.
            UnknownOrganization: no such organization.
            StorageError: the backend failed.
        """
        view = self._view(org_id, at)
        return [
            readings.product_status(view.state, spec, view.day) for spec in view.catalog.products
        ]

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
        if product is not None:
            product = self._spec(check_id(product, "product")).code
        if limit is not None:
            limit = check_int(limit, "limit", minimum=0, maximum=_MAX_ROWS)
        offset = check_int(offset, "offset", minimum=0, maximum=_MAX_ROWS)
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

        view = self._view(org_id, at, more=page)
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
        within_days = check_int(
            within_days, "within_days", minimum=0, maximum=alerting.MAX_WITHIN_DAYS
        )
        # SYSTEM_UNLICENSED is about each system: this query reads them all
        view = self._view(org_id, at, more=self._all_systems)
        return alerting.alerts(view.state, view.catalog, view.day, within_days)

    @staticmethod
    def _all_systems(tx: ReadTx, state: OrgState, seq: int | None) -> OrgState:
        """``state`` with every system of the organization and its units, as at ``seq``."""
        after: str | None = None
        while True:
            state, ids = _parts.systems_page(tx, state, seq=seq, after=after, limit=1000)
            if not ids:
                return state
            after = ids[-1]

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
        org_id = check_id(org_id, "org_id")
        if product is not None:
            product = self._spec(check_id(product, "product")).code
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
            self._refresh_catalogs(tx)
            state = self._core(tx, head)
            instant = max(now, from_us(head.at_us))  # one coherent "now" (SPEC §1)
            day = local_date(instant, state.timezone)
            _, pending = engine.advance(state, self._catalog_at(state, instant, day), day)
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
