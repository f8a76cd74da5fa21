"""The built-in backends, registered as a plugin like any other (SPEC §4)."""

from __future__ import annotations

from axis_licensing.backends import Backend, BackendRegistry
from axis_licensing.errors import StorageError
from axis_licensing.hookspecs import hookimpl

__all__ = ["axis_licensing_register_backends"]


def _memory(url: str, *, create: bool = True) -> Backend:
    from axis_licensing.backends.memory import MemoryBackend

    return MemoryBackend(url, create=create)


def _sqlite(url: str, *, create: bool = True) -> Backend:
    from axis_licensing.backends.sqlite import SQLiteBackend

    return SQLiteBackend(url, create=create)


def _postgresql(url: str, *, create: bool = True) -> Backend:
    try:
        from axis_licensing.backends.postgresql import PostgreSQLBackend
    except ImportError as exc:  # psycopg is an extra
        raise StorageError(
            "the postgresql:// backend needs psycopg 3: pip install 'axis-licensing[postgres]'"
        ) from exc
    return PostgreSQLBackend(url, create=create)


@hookimpl
def axis_licensing_register_backends(registry: BackendRegistry) -> None:
    """Register ``memory://``, ``sqlite:///PATH`` and ``postgresql://``."""
    registry.add("memory", _memory)
    registry.add("sqlite", _sqlite)
    registry.add("postgresql", _postgresql)
    registry.add("postgres", _postgresql)
