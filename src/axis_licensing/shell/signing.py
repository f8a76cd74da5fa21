"""Signing: the Manager's signing key, kept by the backend, and license files (R12).

The signing key is passed in at open; if none is, one is generated once and
kept by the backend (the first opener wins). It signs the license files that
``upload_system_file`` returns; :attr:`Signer.public_key` verifies them.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from axis_licensing import offline
from axis_licensing.backends import Backend
from axis_licensing.catalog import Catalog
from axis_licensing.errors import StoreNotFound
from axis_licensing.policy import engine
from axis_licensing.policy import status as readings
from axis_licensing.policy.state import OrgState

__all__ = ["SIGNING_KEY", "Signer", "stored_secret"]

#: The backend setting that keeps a generated signing key.
SIGNING_KEY = "signing_key"


def stored_secret(
    backend: Backend,
    name: str,
    make: Callable[[], bytes],
    *,
    create: bool,
    retrying: Callable[[Callable[[], str]], str],
) -> str:
    """The backend's setting ``name``, made and stored once (the first opener wins).

    Args:
        backend: the store.
        name: the setting's name.
        make: makes a value when none is stored.
        create: whether a value may be stored.
        retrying: runs an attempt again while it loses races (R13).

    Returns:
        The stored value, this opener's or an earlier one's.

    Raises:
        StoreNotFound: it is not stored, and ``create`` is False.
        ConcurrencyConflict: other openers kept the store busy.
        StorageError: the backend failed.
    """

    def read() -> str | None:
        with backend.read() as tx:
            return tx.meta(name)

    stored = retrying(lambda: read() or "")
    if stored:
        return stored
    if not create:
        raise StoreNotFound(
            f"the store holds no {name.replace('_', ' ')} yet, and create=False makes none"
        )
    candidate = make().decode("ascii")

    def attempt() -> str:
        with backend.write() as tx:
            tx.insert_meta(name, candidate)
            kept = tx.meta(name)
        assert kept is not None
        return kept

    return retrying(attempt)


class Signer:
    """Signs license files with one Ed25519 key (R12)."""

    def __init__(self, signing_key: Ed25519PrivateKey) -> None:
        self.key = signing_key
        #: The PEM public key that verifies the license files.
        self.public_key = offline.public_key_pem(signing_key)

    @classmethod
    def load(
        cls,
        given: Ed25519PrivateKey | bytes | str | None,
        backend: Backend,
        *,
        create: bool,
        retrying: Callable[[Callable[[], str]], str],
    ) -> Signer:
        """The signer of ``given``, or of the key the backend keeps (made once if none).

        Args:
            given: the key passed at open (PEM or key object), or None.
            backend: the store that keeps a generated key.
            create: whether a key may be generated and stored.
            retrying: runs an attempt again while it loses races (R13).

        Returns:
            The signer.

        Raises:
            InvalidInput: ``given`` is not a valid Ed25519 key.
            StoreNotFound: no key is given or stored, and ``create`` is False.
            StorageError: the backend failed.
        """
        if given is not None:
            return cls(offline.load_signing_key(given))
        pem = stored_secret(
            backend, SIGNING_KEY, offline.generate_signing_key, create=create, retrying=retrying
        )
        return cls(offline.load_signing_key(pem))

    def license_file(
        self, state: OrgState, system_id: str, ctx: engine.Context, catalog: Catalog
    ) -> bytes:
        """The signed license file of ``system_id`` as ``state`` stands at ``ctx`` (R12).

        Args:
            state: the organization, with the system loaded.
            system_id: the system.
            ctx: the command's instant and local date.
            catalog: the catalog in effect.

        Returns:
            The canonical, signed license file.
        """
        terms = readings.license_terms(state, catalog, state.systems[system_id], ctx.on)
        return offline.sign_license_file(
            signing_key=self.key,
            org_id=state.org_id,
            system_id=system_id,
            issued_at=ctx.at,
            timezone=state.timezone,
            **attrs.asdict(terms, recurse=False),  # product, licensed, state, devices, valid_until
        )
