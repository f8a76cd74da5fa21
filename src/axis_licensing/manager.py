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
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from axis_licensing import _commands as cmd
from axis_licensing import _history, _keys, _parts, offline
from axis_licensing._alert_hook import Change, appeared
from axis_licensing._catalog_versions import CatalogVersions
from axis_licensing._convert import dumps, loads
from axis_licensing._counts import Counts
from axis_licensing._derive import KeyDeriver
from axis_licensing._plugins import Plugins
from axis_licensing._queries import Queries
from axis_licensing._signing import Signer
from axis_licensing._states import StateCache, all_systems, upgrade_legacy, with_named
from axis_licensing._time import (
    Clock,
    SystemClock,
    check_aware,
    check_zone,
    from_us,
    local_date,
    to_us,
)
from axis_licensing._validate import (
    check_actor,
    check_counts,
    check_id,
    check_int,
    check_new_id,
    check_text,
    param_of,
)
from axis_licensing.backends import (
    Backend,
    CatalogRow,
    Head,
    ReadTx,
    RequestRow,
    RetryableConflict,
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
    InvalidInput,
    KeyAlreadyRedeemed,
    PermissionDenied,
    StorageError,
    UnknownHardware,
    UnknownKey,
    UnknownOrganization,
    UnknownProduct,
)
from axis_licensing.model import (
    Activity,
    Allocation,
    LicenseKind,
    Redemption,
)
from axis_licensing.policy import catalogs as editions
from axis_licensing.policy import engine
from axis_licensing.policy.state import HardwareRecord, OrgState, SystemRecord
from axis_licensing.vendor import VENDOR_SCOPE, Vendor

__all__ = ["Manager", "Vendor"]  # Vendor lives in axis_licensing.vendor

log = logging.getLogger("axis_licensing")

T = TypeVar("T")

#: How many times a command that lost a race is run again before ConcurrencyConflict (R13).
MAX_ATTEMPTS = 12

#: The meta row ``migrate`` keeps on a target until it is complete and verified.
MIGRATION_INCOMPLETE = "migration_incomplete"


Decide = Callable[[WriteTx, OrgState, engine.Context, Catalog], engine.Outcome[T]]


def _org_scope(org_id: str) -> str:
    return f"org:{org_id}"


class Manager(Queries):
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
        self._states = StateCache()
        self._versions = CatalogVersions()
        self._refuse_incomplete()
        self._open_catalog(catalog)
        self._upgrade_legacy()
        self._signer = Signer.load(signing_key, backend, create=create, retrying=self._retrying)
        self._deriver = KeyDeriver(self._signer.key)

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
        return self._versions.known[-1].catalog

    def catalog_versions(self) -> list[CatalogVersion]:
        """Every version of the store's catalog, oldest first (R15).

        Raises:
            StorageError: the backend failed.
        """
        return list(self._read(self._refresh_catalogs))

    @property
    def public_key(self) -> bytes:
        """The PEM public key that verifies this Manager's license files (R12)."""
        return self._signer.public_key

    @property
    def plugin_manager(self) -> Plugins:
        """The Manager's plugins."""
        return self._plugins

    # -- plumbing --------------------------------------------------------------------------

    def _upgrade_legacy(self) -> None:
        """Convert organizations stored in the first format, unless this Manager creates nothing."""
        if self._create:  # else an unconverted organization raises when read
            upgrade_legacy(self.backend, self.catalog, self._retrying)

    def _read(self, look: Callable[[ReadTx], T]) -> T:
        """Run ``look`` in a read transaction, again if the store was busy (R13)."""

        def attempt() -> T:
            with self.backend.read() as tx:
                return look(tx)

        return self._retrying(attempt)

    # -- the catalog (R15) --------------------------------------------------------------------

    def _refresh_catalogs(self, tx: ReadTx) -> tuple[CatalogVersion, ...]:
        """The versions, with any recorded since this Manager last looked."""
        return self._versions.refresh(tx)

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
        return self._versions.at(state, instant, day)

    def _refuse_incomplete(self) -> None:
        mark = self._read(lambda tx: tx.meta(MIGRATION_INCOMPLETE))
        if mark is not None:
            raise StorageError(
                "this store was left incomplete by an interrupted `axis-licensing migrate` "
                f"({mark}); run the migration again with --force"
            )

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
        if prior is None:  # a new request id: R14's id rule (an old one still replays)
            check_new_id(request_id, "request_id")
        elif prior.fingerprint != fingerprint:
            raise IdempotencyConflict(
                f"request_id {request_id!r} was used with other arguments",
                details={"request_id": request_id},
            )
        return prior

    def _vendor_command(
        self,
        command: cmd.Command,
        request_id: str | None,
        run: Callable[[WriteTx, datetime], tuple[T, str]],
        replay: Callable[[ReadTx, str], T],
    ) -> T:
        fingerprint = command.fingerprint()

        def attempt() -> T:
            now = self._now()
            with self.backend.write() as tx:
                prior = self._replayed(tx, VENDOR_SCOPE, request_id, fingerprint)
                if prior is not None:
                    return replay(tx, prior.result)
                result, stored = run(tx, now)
                if request_id is not None:
                    tx.put_request(RequestRow(VENDOR_SCOPE, request_id, fingerprint, stored))
                return result

        return self._retrying(attempt)

    def _command(
        self,
        org_id: str,
        command: cmd.Command,
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
        self._authorize(actor, org_id, command.ACTION, product)
        fingerprint = command.fingerprint() if request_id is not None else ""
        scope = _org_scope(org_id)

        def attempt() -> tuple[T, list[Activity], Change | None]:
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
                state = with_named(tx, self._states.core(tx, head), None, systems, serials)
                # one coherent timeline (SPEC §1, R11): a clock behind the latest command
                # runs the command at that command's instant, never before it
                instant = max(now, from_us(head.at_us))
                ctx = engine.Context(
                    at=instant, on=local_date(instant, state.timezone), actor=actor
                )
                catalog = self._catalog_at(state, instant, ctx.on)
                advanced, pending = engine.advance(state, catalog, ctx.on)
                outcome = decide(tx, advanced, ctx, catalog)
                facts = (*pending, *outcome.facts)
                activities = [_history.activity_of(f, state.timezone) for f in facts]
                changed = _parts.changed(state, outcome.state)
                if facts or changed:
                    # versions never go back in time, even if this server's clock is behind
                    version = Head(org_id, head.seq + 1, to_us(instant))
                    tx.append(version, changed, [_history.row_of(org_id, a) for a in activities])
                    written = (version.seq, outcome.state)
                if request_id is not None:
                    tx.put_request(
                        RequestRow(scope, request_id, fingerprint, encode(outcome.result))
                    )
                change = None
                if facts or changed:  # recorded: compare its alerts
                    change = Change(
                        state, from_us(head.at_us), outcome.state, instant, head.seq + 1
                    )
            if written is not None:  # committed: the version is the state's for good
                self._states.remember(org_id, *written)
            return outcome.result, activities, change

        result, activities, change = self._retrying(attempt)
        self._notify(activities)
        if change is not None:
            self._notify_alerts(org_id, change)
        return result

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
        org_id = check_new_id(org_id, "org_id")
        name = check_text(name, "name", max_length=200)
        timezone = check_text(timezone, "timezone")
        check_zone(timezone)
        actor = check_actor(actor)
        request_id = self._check_request_id(request_id)
        command = cmd.CreateOrganization(org_id=org_id, name=name, timezone=timezone)
        self._authorize(actor, org_id, command.ACTION, None)
        fingerprint = command.fingerprint()
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
                activities = [_history.activity_of(f, timezone) for f in outcome.facts]
                tx.append(
                    Head(org_id, 1, to_us(now)),
                    _parts.changed(None, outcome.state),
                    [_history.row_of(org_id, a) for a in activities],
                )
                if request_id is not None:
                    tx.put_request(RequestRow(scope, request_id, fingerprint, "null"))
            self._states.remember(org_id, 1, outcome.state)
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
        system_id = check_new_id(system_id, "system_id")
        counts = check_counts(
            {} if devices is None else devices, "devices", allow_zero=True, allow_empty=True
        )
        self._check_types(spec.code, counts, "devices")
        actor = check_actor(actor)
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
            cmd.RegisterSystem(product=spec.code, system_id=system_id, devices=counts),
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
        actor = check_actor(actor)
        request_id = self._check_request_id(request_id)
        product = self._product_of(org_id, _parts.system_part(system_id))
        self._check_types_of(product, counts, "devices")
        self._command(
            org_id,
            cmd.ReportDevices(system_id=system_id, devices=counts),
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
        actor = check_actor(actor)
        request_id = self._check_request_id(request_id)
        self._command(
            org_id,
            cmd.StartSubscription(product=spec.code),
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
        actor = check_actor(actor)
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
            cmd.RedeemKey(key_hash=digest),
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
        actor = check_actor(actor)
        request_id = self._check_request_id(request_id)
        return self._command(
            org_id,
            cmd.Allocate(product=spec.code, quantities=counts, period=period),
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
        actor = check_actor(actor)
        request_id = self._check_request_id(request_id)
        return self._command(
            org_id,
            cmd.AllocateNeed(product=spec.code, through=through),
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
        serial = check_new_id(serial, "serial")
        actor = check_actor(actor)
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
            cmd.RegisterHardware(system_id=system_id, serial=serial),
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
        actor = check_actor(actor)
        request_id = self._check_request_id(request_id)
        product = self._product_of(org_id, _parts.hardware_part(serial))
        self._check_types_of(product, counts, "quantities")
        self._command(
            org_id,
            cmd.AllocateToHardware(serial=serial, quantities=counts),
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
        actor = check_actor(actor)
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
            if outcome.result:  # a new system: its id is created here (R14)
                check_new_id(description.system_id, "system_id")
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
            license_file = self._signer.license_file(
                outcome.state, description.system_id, ctx, catalog
            )
            return engine.Outcome(state=outcome.state, facts=outcome.facts, result=license_file)

        return self._command(
            org_id,
            cmd.UploadSystemFile(file=hashlib.sha256(bytes(data)).hexdigest()),
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
