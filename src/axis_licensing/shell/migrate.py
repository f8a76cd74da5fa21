"""Copy everything from one backend to another: the logic of ``axis-licensing migrate``.

:func:`migrate` copies every table of :data:`~axis_licensing.backends.TABLES`
(settings such as the signing key, organizations, state versions, history,
system claims, shipments, key hashes with their redemptions, idempotency
records), in that order, through the backends' ``export_rows`` /
``import_rows``. It never interprets a row: backends store and fetch.

The target is protected, step by step:

1. A target already marked incomplete is refused, and so is one holding data,
   unless ``force`` (then it is cleared first). A source marked incomplete is
   always refused.
2. Before the first row is copied, the target gets the meta row
   :data:`MARK` (``migration_incomplete``), naming the source and start time.
3. After the copy, every table is verified: the row counts of the source (again)
   and of the target, and a SHA-256 checksum of the rows, must all agree.
4. Only then is the mark removed. A failure at any step leaves it, so the
   target is plainly incomplete; ``migrate`` refuses it without ``force``.

The checksum of a table is the SHA-256 of the SHA-256 digests of its rows'
canonical JSON (keys sorted, compact, dates in ISO form), taken in a canonical
row order: by primary key, and for the history by organization, keeping each
organization's own order. So two backends that list rows in different but
equivalent orders agree, while a reordered history does not.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import time
import urllib.parse
from collections.abc import Callable, Generator, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import attrs

from axis_licensing.backends import SETTINGS_TABLES, TABLES, Backend, RetryableConflict
from axis_licensing.backends._sql import TABLE_KEYS
from axis_licensing.errors import InvalidInput, LicensingError
from axis_licensing.events.store import EVENT_TABLES
from axis_licensing.manager import MIGRATION_INCOMPLETE
from axis_licensing.members._tables import MEMBER_TABLES
from axis_licensing.shell.plugins import Plugins

__all__ = [
    "MARK",
    "MigrationError",
    "MigrationFailed",
    "MigrationRefused",
    "MigrationReport",
    "Progress",
    "TableReport",
    "canonical_row",
    "incomplete_mark",
    "migrate",
    "redact_url",
    "table_checksum",
]

#: The meta row that marks a target whose migration has not completed; ``Manager`` refuses it.
MARK = MIGRATION_INCOMPLETE

#: ``progress(table, rows_done, rows_total)``, called as each table is copied.
Progress = Callable[[str, int, int], None]

#: The columns that order each table's rows for the checksum (its primary key): the
#: licensing tables but activities (ordered by their place in their organization's
#: history); the rows of the tables of events out and members are checksummed as a set.
_ROW_KEYS: dict[str, tuple[str, ...]] = {
    table: keys
    for table, keys in TABLE_KEYS.items()
    if table not in {"activities", *EVENT_TABLES, *MEMBER_TABLES}
}


class MigrationError(LicensingError):
    """A migration did not happen or did not complete."""

    code = "migration_error"


class MigrationRefused(MigrationError):
    """The migration was refused before anything was written (``migrate`` exits 2)."""

    code = "migration_refused"


class MigrationFailed(MigrationError):
    """The copy failed or did not verify; the target is left marked incomplete (exit 1).

    Attributes:
        report: the per-table comparison, when the copy finished but did not verify.
    """

    code = "migration_failed"

    def __init__(self, message: str, report: MigrationReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@attrs.frozen
class TableReport:
    """One table's copy and its verification.

    Attributes:
        table: the table name.
        rows: rows copied.
        checksum: the checksum of the rows copied (see the module docstring).
        source_rows: the source's row count after the copy.
        target_rows: the target's row count after the copy (the mark left out).
        target_checksum: the checksum of the target's rows after the copy.
    """

    table: str
    rows: int
    checksum: str
    source_rows: int
    target_rows: int
    target_checksum: str

    @property
    def verified(self) -> bool:
        """Whether counts and checksums agree."""
        return (
            self.rows == self.source_rows == self.target_rows
            and self.checksum == self.target_checksum
        )


@attrs.frozen
class MigrationReport:
    """What ``migrate`` copied, table by table (URLs with passwords hidden)."""

    source: str
    target: str
    started_at: datetime
    finished_at: datetime
    cleared_target: bool
    tables: tuple[TableReport, ...]

    @property
    def verified(self) -> bool:
        """Whether every table verified."""
        return all(t.verified for t in self.tables)

    @property
    def rows(self) -> int:
        """All rows copied."""
        return sum(t.rows for t in self.tables)

    def table(self, name: str) -> TableReport:
        """The report of table ``name``.

        Raises:
            KeyError: no such table.
        """
        return {report.table: report for report in self.tables}[name]


# -- checksums -------------------------------------------------------------------------------


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    raise TypeError(f"cannot checksum a value of type {type(value).__name__}")


def canonical_row(row: Mapping[str, Any]) -> str:
    """``row`` as canonical JSON: keys sorted, compact, dates in ISO form."""
    return json.dumps(
        dict(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


class _Checksum:
    """Collects one table's rows; :attr:`hexdigest` is order-canonical (module docstring)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._items: list[tuple[tuple[Any, ...], bytes]] = []
        self._history_seen: dict[str, int] = {}

    def add(self, row: Mapping[str, Any]) -> None:
        text = canonical_row(row)
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        key: tuple[Any, ...]
        if self.table == "activities":
            org = str(row.get("org_id"))
            position = self._history_seen.get(org, 0)
            self._history_seen[org] = position + 1
            key = (org, position)
        elif self.table in _ROW_KEYS:
            key = tuple(
                json.dumps(row.get(c), default=_json_default) for c in _ROW_KEYS[self.table]
            )
        else:  # a table this module does not know: order-insensitive
            key = (text,)
        self._items.append((key, digest))

    @property
    def count(self) -> int:
        return len(self._items)

    @property
    def hexdigest(self) -> str:
        total = hashlib.sha256()
        for _, digest in sorted(self._items):
            total.update(digest)
        return total.hexdigest()


def table_checksum(table: str, rows: Iterable[Mapping[str, Any]]) -> tuple[int, str]:
    """The row count and checksum of ``rows`` of ``table`` (see the module docstring)."""
    checksum = _Checksum(table)
    for row in rows:
        checksum.add(row)
    return checksum.count, checksum.hexdigest


# -- opening and marks -----------------------------------------------------------------------


_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def redact_url(url: str) -> str:
    """``url`` with any password, in the user part or the query, replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<malformed URL>"
    netloc = parts.netloc
    if "@" in netloc:
        credentials, hosts = netloc.rsplit("@", 1)
        if ":" in credentials:
            netloc = f"{credentials.split(':', 1)[0]}:***@{hosts}"
    query = "&".join(
        f"{name}=***" if name.lower() in _SECRET_PARAMETERS else f"{name}={value}"
        for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    )
    if netloc == parts.netloc and query == parts.query:
        return url
    rebuilt = f"{parts.scheme}://{netloc}{parts.path}"  # urlunsplit would drop an empty //
    return f"{rebuilt}?{query}" if query else rebuilt


def _sqlite_path(url: str) -> str | None:
    if not url.lower().startswith("sqlite:"):
        return None
    from axis_licensing.backends.sqlite import _path_of

    return _path_of(url)


def _check_where(where: object, role: str) -> None:
    if isinstance(where, Backend):
        return
    if not isinstance(where, str):
        raise InvalidInput(f"the {role} must be a backend URL, got {type(where).__name__}")
    if where.lower().startswith("memory:"):
        raise MigrationRefused(
            f"memory:// cannot be the {role}: it is private to the process that opens it"
        )


def _open(
    where: str | Backend, role: str, registry: Plugins, owned: list[Backend]
) -> tuple[Backend, str]:
    if isinstance(where, Backend):
        label = getattr(where, "url", None)
        return where, redact_url(label) if isinstance(label, str) else type(where).__name__
    path = _sqlite_path(where)
    if role == "source" and path is not None and not os.path.exists(path):
        raise MigrationRefused(f"the source database {path!r} does not exist")
    backend = registry.backends().open(where)
    owned.append(backend)
    return backend, redact_url(where)


def _same_store(source: str | Backend, target: str | Backend) -> bool:
    if isinstance(source, Backend) or isinstance(target, Backend):
        return source is target
    if source == target:
        return True
    source_path, target_path = _sqlite_path(source), _sqlite_path(target)
    return (
        source_path is not None
        and target_path is not None
        and os.path.realpath(source_path) == os.path.realpath(target_path)
    )


def _one_store(src: Backend, dst: Backend) -> bool:
    """True when writing to ``dst`` shows in ``src``: one store under two spellings.

    URLs can name one store in many ways (``localhost`` and ``127.0.0.1``,
    ``postgres://`` and ``postgresql://``, a default schema spelled out), so
    this asks the stores themselves, before anything could be cleared.
    """
    probe = f"migrate_probe_{secrets.token_hex(8)}"
    with dst.write() as tx:
        tx.insert_meta(probe, "1")
    try:
        with src.read() as tx:
            return tx.meta(probe) is not None
    finally:
        dst.delete_meta(probe)


def incomplete_mark(backend: Backend) -> str | None:
    """The value of the backend's incomplete-migration mark, or None when it has none.

    Raises:
        StorageError: the store failed.
    """
    with backend.read() as tx:
        return tx.meta(MARK)


def _retry(action: Callable[[], bool]) -> bool:
    for _ in range(20):
        try:
            return action()
        except RetryableConflict:
            time.sleep(0.05)
    raise MigrationRefused("the target is busy: another process keeps writing to it")


def _set_mark(backend: Backend, value: str) -> None:
    def insert() -> bool:
        with backend.write() as tx:
            return tx.insert_meta(MARK, value)

    if not _retry(insert):
        raise MigrationRefused("the target gained an incomplete-migration mark meanwhile")


def _remove_mark(backend: Backend) -> None:
    """Delete the mark, once the copy is verified."""
    backend.delete_meta(MARK)


# -- the copy --------------------------------------------------------------------------------


def _rows(backend: Backend, table: str) -> Generator[dict[str, Any], None, None]:
    """The table's rows without the mark; the export is closed even when abandoned."""
    exported = backend.export_rows(table)
    try:
        for row in exported:
            if table == "meta" and row.get("name") == MARK:
                continue
            yield row
    finally:
        close = getattr(exported, "close", None)
        if callable(close):
            close()


def _copy_table(
    source: Backend, target: Backend, table: str, batch_size: int, progress: Progress | None
) -> _Checksum:
    total = source.count_rows(table)
    if progress is not None:
        progress(table, 0, total)
    checksum = _Checksum(table)
    batch: list[dict[str, Any]] = []
    done = 0

    def flush() -> None:
        nonlocal batch, done
        pending, batch = batch, []
        imported = target.import_rows(table, pending)
        if imported != len(pending):
            raise MigrationFailed(
                f"the target took {imported} of {len(pending)} rows of table {table!r}; "
                f"it is left marked incomplete ({MARK!r})"
            )
        done += imported
        if progress is not None:
            progress(table, done, max(total, done))

    with contextlib.closing(_rows(source, table)) as rows:
        for row in rows:
            checksum.add(row)
            batch.append(row)
            if len(batch) >= batch_size:
                flush()
    if batch:
        flush()
    return checksum


def _verify(source: Backend, target: Backend, copied: _Checksum, marked: bool) -> TableReport:
    table = copied.table
    with contextlib.closing(_rows(target, table)) as rows:
        _, target_sum = table_checksum(table, rows)
    target_rows = target.count_rows(table) - (1 if table == "meta" and marked else 0)
    return TableReport(
        table=table,
        rows=copied.count,
        checksum=copied.hexdigest,
        source_rows=source.count_rows(table),
        target_rows=target_rows,
        target_checksum=target_sum,
    )


def migrate(
    source: str | Backend,
    target: str | Backend,
    *,
    force: bool = False,
    batch_size: int = 1000,
    progress: Progress | None = None,
    plugins: Iterable[object] = (),
) -> MigrationReport:
    """Copy every table from ``source`` to ``target``, verify, and return the report.

    Stop writers to the source first: a source that changes during the copy
    fails verification. Backends opened from URLs are closed at the end; backend
    objects passed in are left open.

    Args:
        source: a backend URL (through the plugin registry), or a backend object.
        target: likewise; it must be empty (meta settings aside) unless ``force``.
        force: clear a non-empty target, or one marked incomplete, before copying.
        batch_size: rows per ``import_rows`` call, at least 1.
        progress: ``progress(table, rows_done, rows_total)``, for a progress bar.
        plugins: extra plugin objects, for backends they register.

    Returns:
        The per-table counts and checksums, all verified.

    Raises:
        InvalidInput: a malformed URL, an unknown scheme, or a bad batch size.
        MigrationRefused: the target holds data or an incomplete migration and
            ``force`` is off, the source is marked incomplete, source and target
            are the same store, the source file does not exist, or a
            ``memory://`` URL was given. Nothing was written.
        MigrationFailed: the copy failed, or it did not verify (``.report``).
            The target keeps the :data:`MARK` row.
        StorageError: a backend could not be opened or read before the copy began.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInput(f"batch_size must be a positive integer, got {batch_size!r}")
    _check_where(source, "source")
    _check_where(target, "target")
    if _same_store(source, target):
        raise MigrationRefused("the source and the target are the same store")
    registry = Plugins(plugins)
    owned: list[Backend] = []
    try:
        src, source_label = _open(source, "source", registry, owned)
        dst, target_label = _open(target, "target", registry, owned)
        return _run(
            src=src,
            dst=dst,
            source_label=source_label,
            target_label=target_label,
            force=force,
            batch_size=batch_size,
            progress=progress,
        )
    finally:
        for backend in owned:
            backend.close()


def _run(
    *,
    src: Backend,
    dst: Backend,
    source_label: str,
    target_label: str,
    force: bool,
    batch_size: int,
    progress: Progress | None,
) -> MigrationReport:
    if _one_store(src, dst):
        raise MigrationRefused(
            f"the source and the target are the same store ({source_label}); nothing was done"
        )
    if incomplete_mark(src) is not None:
        raise MigrationRefused(
            f"the source {source_label} is itself marked incomplete by an unfinished migration "
            f"({incomplete_mark(src)}); it cannot be copied"
        )
    mark = incomplete_mark(dst)
    if mark is not None and not force:
        raise MigrationRefused(
            f"the target {target_label} holds an incomplete migration ({mark}); "
            "use --force to clear it and copy again"
        )
    if not force and not dst.is_empty():
        held = ", ".join(
            f"{t} {n}" for t in TABLES if t not in SETTINGS_TABLES and (n := dst.count_rows(t)) > 0
        )
        raise MigrationRefused(
            f"the target {target_label} is not empty ({held}); use --force to clear it first"
        )
    cleared = any(dst.count_rows(t) > 0 for t in TABLES)
    if cleared:
        dst.clear()
    started = datetime.now(UTC)
    _set_mark(
        dst,
        json.dumps(
            {"source": source_label, "started_at": started.isoformat()},
            sort_keys=True,
            separators=(",", ":"),
        ),
    )
    copied: list[_Checksum] = []
    step = "copying"
    table = ""
    try:
        for table in TABLES:
            copied.append(_copy_table(src, dst, table, batch_size, progress))
        step = "verifying"
        reports = []
        for checksum in copied:
            table = checksum.table
            reports.append(_verify(src, dst, checksum, marked=True))
    except MigrationError:
        raise
    except Exception as exc:
        raise MigrationFailed(
            f"{step} table {table!r} failed: {exc}; the target {target_label} is left "
            f"marked incomplete ({MARK!r})"
        ) from exc
    report = MigrationReport(
        source=source_label,
        target=target_label,
        started_at=started,
        finished_at=datetime.now(UTC),
        cleared_target=cleared,
        tables=tuple(reports),
    )
    if not report.verified:
        bad = ", ".join(t.table for t in reports if not t.verified)
        raise MigrationFailed(
            f"verification failed for {bad}; the target {target_label} is left marked "
            f"incomplete ({MARK!r})",
            report=report,
        )
    _remove_mark(dst)
    if incomplete_mark(dst) is not None:
        raise MigrationFailed(
            f"the copy verified, but the {MARK!r} mark of {target_label} could not be removed",
            report=report,
        )
    return report
