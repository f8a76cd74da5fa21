"""What the CLI's modules share to reach a store: catalogs, stores and exit codes.

``cli.py``, ``cli_events.py`` and ``cli_accounts.py`` open stores and load
catalogs the same way, and ``serve``'s workers (:mod:`axis_licensing.http._ops`)
load the catalog ``serve`` names as ``--catalog`` does; the exit code of each
error family is written once here (see :mod:`axis_licensing.cli`).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import cattrs

from axis_licensing import errors
from axis_licensing._convert import converter
from axis_licensing._demo import DEMO_CATALOG
from axis_licensing._migrate import MigrationFailed, MigrationRefused
from axis_licensing._time import SystemClock
from axis_licensing.catalog import EXAMPLE_CATALOG, Catalog
from axis_licensing.manager import Manager

__all__ = [
    "CATALOGS",
    "EXIT_CODES",
    "CliError",
    "exit_code_of",
    "fail",
    "load_catalog",
    "now",
    "open_store",
    "read_bytes",
    "read_catalog_file",
    "store",
    "structure_catalog",
    "url_of",
]

#: The catalogs ``--catalog`` knows by name.
CATALOGS: dict[str, Catalog] = {"demo": DEMO_CATALOG, "example": EXAMPLE_CATALOG}


#: The error families of each exit code (see the docstring of :mod:`axis_licensing.cli`).
_EXIT_FAMILIES: dict[int, tuple[type[BaseException], ...]] = {
    1: (MigrationFailed,),
    2: (MigrationRefused, errors.InvalidInput, errors.CatalogRequired),
    3: (errors.NotFound,),
    4: (
        errors.AlreadyExists,
        errors.AlreadyRegistered,
        errors.AlreadyStarted,
        errors.KeyAlreadyRedeemed,
        errors.IdempotencyConflict,
        errors.ConcurrencyConflict,
        errors.CatalogMismatch,
        errors.LastOwner,  # SPEC §8
        errors.InvitationInvalid,  # SPEC §8
    ),
    5: (errors.InsufficientLicenses, errors.OutsideAllocationWindow, errors.SubscriptionNotStarted),
    6: (errors.PermissionDenied,),
    7: (errors.StorageError,),
    8: (errors.LicenseFileError,),
}

#: Exit code per error family, the lowest code first: an error in two families gets the lower.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = tuple(
    (family, code) for code, families in _EXIT_FAMILIES.items() for family in families
)


def exit_code_of(error: BaseException) -> int:
    """The exit code of a library error: its family's (see the module docstring).

    Args:
        error: an exception a library call raised.

    Returns:
        The first matching code of :data:`EXIT_CODES`; 2 for any other error.
    """
    for family, code in EXIT_CODES:
        if isinstance(error, family):
            return code
    return 2


class CliError(Exception):
    """A refusal of the CLI itself (an unreadable file, a bad --catalog): exit code 2."""

    exit_code = 2


def fail(message: str) -> NoReturn:
    raise CliError(message)


def url_of(db: str) -> str:
    """A backend URL: ``db`` itself, or ``sqlite:///db`` for a bare path."""
    if "://" in db:
        return db
    return "sqlite:///" + db


def structure_catalog(data: object, source: str) -> Catalog:
    """A Catalog from JSON data, through the one converter; the library checks its values."""
    try:
        return converter.structure(data, Catalog)
    except cattrs.BaseValidationError as exc:
        for leaf in _leaves(exc):
            if isinstance(leaf, errors.LicensingError):
                raise leaf from exc
        problems = "; ".join(cattrs.transform_error(exc, path=source))
        raise errors.InvalidInput(f"{source} is not a catalog: {problems}") from exc


def _leaves(group: BaseException) -> Iterator[BaseException]:
    if isinstance(group, BaseExceptionGroup):
        for inner in group.exceptions:
            yield from _leaves(inner)
    else:
        yield group


def read_bytes(path: str) -> bytes:
    """The bytes of a file, or of stdin for ``-``."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        fail(f"cannot read {path!r}: {exc.strerror}")


def read_catalog_file(path: str) -> Catalog:
    """A Catalog from a JSON file (``-``: stdin), as ``to_jsonable(catalog)`` writes it."""
    data = read_bytes(path)
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.InvalidInput(f"{path} is not JSON: {exc}") from exc
    return structure_catalog(parsed, path)


def load_catalog(spec: str) -> Catalog:
    """A catalog named ``demo`` or ``example``, a JSON file, or ``MODULE:ATTRIBUTE``."""
    if spec in CATALOGS:
        return CATALOGS[spec]
    if spec == "-" or spec.endswith(".json") or os.path.isfile(spec):
        return read_catalog_file(spec)
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        fail(
            f"--catalog must be {', '.join(CATALOGS)}, a JSON file or MODULE:ATTRIBUTE, "
            f"not {spec!r}"
        )
    try:
        value = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        fail(f"cannot load the catalog {spec!r}: {exc}")
    if not isinstance(value, Catalog):
        fail(f"{spec} is a {type(value).__name__}, not a Catalog")
    return value


def open_store(db: str, *, catalog: str | None = None) -> Manager:
    """A Manager on the store ``db`` names, on the system clock.

    Without ``catalog`` the store must exist and its own catalog is used
    (R15): nothing is created (``create=False``). With one, the store is
    created if needed, with that catalog as version 1; an existing store
    must hold the same catalog (``CatalogMismatch``).

    Raises:
        StoreNotFound: no store there, and no ``catalog`` to create one with.
        CatalogMismatch: ``catalog`` differs from the store's.
        CliError: ``catalog`` cannot be loaded.
        StorageError: the backend cannot be opened, or ``migrate`` left it incomplete.
    """
    chosen = load_catalog(catalog) if catalog is not None else None
    return Manager.open(url_of(db), catalog=chosen, clock=SystemClock(), create=catalog is not None)


@contextmanager
def store(db: str, *, catalog: str | None = None) -> Iterator[Manager]:
    manager = open_store(db, catalog=catalog)
    try:
        yield manager
    finally:
        manager.close()


def now() -> datetime:
    """The CLI's current instant: the system clock's, as the stores it opens use."""
    return SystemClock().now()
