"""The Manager: the facade of the library (SPEC §3).

Its commands check their input by their declarations
(:mod:`axis_licensing.shell.operations`) and run through the one pipeline
(:mod:`axis_licensing.shell.pipeline`): authorize, idempotency, lock, load
inputs, decide (:mod:`axis_licensing.policy.decide`), apply claims, append,
commit, notify. Its queries (:mod:`axis_licensing.shell.queries`) load the parts in
force at ``at`` and project them forward with the same policy.
:meth:`Manager.execute` runs any declared operation by name. Each command's
docstring says what is its own; :func:`~axis_licensing.shell.operations.documented`
adds its ``Args:`` from the declaration and the ``Raises:`` lines every command
shares (``PermissionDenied``, ``IdempotencyConflict``, ``ConcurrencyConflict``,
``StorageError``).

The organization's own parts are cached per organization, keyed by the version
they were read or written at: a query reads the head version (one small row)
and reuses the cache when it is current (SPEC §5).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from axis_licensing._time import Clock, SystemClock
from axis_licensing.backends import Backend
from axis_licensing.catalog import Catalog, CatalogVersion
from axis_licensing.members.authorize import RolesPlugin
from axis_licensing.members.service import Access, Accounts, Members, Tokens
from axis_licensing.model import Allocation, Redemption
from axis_licensing.shell.build import BUILDERS
from axis_licensing.shell.catalog_versions import CatalogVersions
from axis_licensing.shell.derive import KeyDeriver
from axis_licensing.shell.events_out import EventsOut
from axis_licensing.shell.loading import StateCache
from axis_licensing.shell.opening import MIGRATION_INCOMPLETE, Opening, check_open_arguments
from axis_licensing.shell.operations import Kind, documented, operation
from axis_licensing.shell.pipeline import MAX_ATTEMPTS
from axis_licensing.shell.plugins import Plugins
from axis_licensing.shell.queries import Queries
from axis_licensing.shell.signing import Signer
from axis_licensing.vendor import Vendor

__all__ = ["MAX_ATTEMPTS", "MIGRATION_INCOMPLETE", "Manager", "Vendor"]


class Manager(Opening, Queries, EventsOut):
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
        check_open_arguments(catalog, clock, create=create)
        self.backend = backend
        self.clock: Clock = clock or SystemClock()
        self._plugins = plugins or Plugins()
        self.vendor = Vendor(self)
        self._create = create
        self._states = StateCache()
        self._versions = CatalogVersions()
        # set after each commit that wrote events (SPEC §7): pass it as the ``wake`` of an
        # in-process dispatcher (deliver_forever) so it sends them at once
        self._wake = threading.Event()
        self._refuse_incomplete()
        self._open_catalog(catalog)
        self._upgrade_legacy()
        self._signer = Signer.load(signing_key, backend, create=create, retrying=self._retrying)
        self._deriver = KeyDeriver(self._signer.key)
        # -- members and roles (SPEC §8)
        self.roles: RolesPlugin | None = self._bind_roles()
        access = Access.of(self)
        self.accounts: Accounts = access.accounts
        self.members: Members = access.members
        self.tokens: Tokens = access.tokens

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
        check_open_arguments(create=create)
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

    # -- organizations and systems ----------------------------------------------------------

    @documented("create_organization")
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

        Raises:
            InvalidInput: a bad id, name, zone, actor or request id.
            AlreadyExists: the id is taken.
        """
        self._execute("create_organization", locals())

    @documented("register_system")
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

        Raises:
            InvalidInput: bad ids or counts, or an unknown license type.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog has no such product.
            AlreadyRegistered: the system id is registered, here or elsewhere.
        """
        self._execute("register_system", locals())

    @documented("report_devices")
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

        Raises:
            InvalidInput: bad ids or counts, or an unknown license type.
            UnknownOrganization: no such organization.
            UnknownSystem: the organization has no such system.
        """
        self._execute("report_devices", locals())

    @documented("start_subscription")
    def start_subscription(
        self, org_id: str, product: str, *, actor: str, request_id: str | None = None
    ) -> None:
        """Start the product's subscription; the first sets the organization anchor (R2, R3).

        Raises:
            InvalidInput: bad ids.
            UnknownOrganization: no such organization.
            UnknownProduct: the catalog has no such product.
            AlreadyStarted: the subscription already started.
        """
        self._execute("start_subscription", locals())

    # -- wallet and allocation ---------------------------------------------------------------

    @documented("redeem_key")
    def redeem_key(
        self, org_id: str, key: str, *, actor: str, request_id: str | None = None
    ) -> Redemption:
        """Redeem a license key into the product's wallet, one lot per type (R6, R10).

        Returns:
            The lots added.

        Raises:
            KeyTypo: the key fails its check symbols.
            InvalidInput: bad ids, or a key that is not a string.
            UnknownOrganization: no such organization.
            UnknownProduct: the product involved is no longer in the catalog.
            UnknownKey: a well-formed key that was never issued.
            KeyAlreadyRedeemed: the key was redeemed, here or elsewhere.
        """
        result: Redemption = self._execute("redeem_key", locals())
        return result

    @documented("allocate")
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
        """
        result: Allocation = self._execute("allocate", locals())
        return result

    @documented("allocate_need")
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
        """
        result: Allocation = self._execute("allocate_need", locals())
        return result

    # -- hardware ------------------------------------------------------------------------------

    @documented("register_hardware")
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

        Raises:
            InvalidInput: bad ids, or a unit shipped for another product.
            UnknownOrganization: no such organization.
            UnknownSystem: the organization has no such system.
            UnknownHardware: the vendor never shipped this serial.
            AlreadyRegistered: the unit is registered, here or elsewhere.
        """
        self._execute("register_hardware", locals())

    @documented("allocate_to_hardware")
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

        Raises:
            InvalidInput: bad ids or quantities, or an unknown license type.
            UnknownOrganization: no such organization.
            UnknownProduct: the product involved is no longer in the catalog.
            UnknownHardware: the organization has no such unit.
            InsufficientLicenses: the wallet lacks hardware licenses (``.shortfall``).
        """
        self._execute("allocate_to_hardware", locals())

    # -- offline systems -------------------------------------------------------------------------

    @documented("upload_system_file")
    def upload_system_file(
        self, org_id: str, data: bytes, *, actor: str, request_id: str | None = None
    ) -> bytes:
        """Register or update an offline system from its description file (R12).

        Returns its signed license file.

        The file is checked in full first; the system, its devices and its
        hardware claims are then applied as one step.

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
        """
        result: bytes = self._execute("upload_system_file", locals())
        return result

    # -- any declared operation, by name ---------------------------------------------------------

    def execute(self, name: str, /, **params: object) -> object:
        """Run the declared command or query ``name`` with ``params``, as its method would.

        The same checks run as for the method (its declaration in
        :data:`axis_licensing.shell.operations.OPERATIONS`). A command returns
        its full result, the value an HTTP edge answers, also where the method
        returns None: ``create_organization`` its :class:`Organization`;
        ``register_system``, ``report_devices``, ``register_hardware`` and
        ``allocate_to_hardware`` the system's :class:`SystemStatus` right after
        the command; ``start_subscription`` the product's :class:`ProductStatus`
        right after. A replay returns the first answer (R13), even after the
        state moved on; for a request an earlier release remembered without
        its answer, the current one.

        Args:
            name: the operation, such as ``"allocate"`` or ``"vendor.issue_key"``.
            **params: its parameters by name; left-out ones take their defaults.

        Returns:
            The operation's result (``Operation.result``).

        Raises:
            InvalidInput: an unknown operation, an unknown or missing parameter,
                or a parameter that fails its check.
            LicensingError: what the operation's declaration lists in ``errors``.
        """
        op = operation(name)
        bound = op.bind(params)
        if op.kind is Kind.QUERY or name not in BUILDERS:  # queries; events out (SPEC §7)
            method: Any = self
            for part in op.path:
                method = getattr(method, part)
            return method(**bound)
        result = self._execute(name, bound)
        if result is None and op.result is not type(None):
            return self._answer_again(name, bound)
        return result
