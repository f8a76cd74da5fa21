"""The ``axis-licensing`` command line: every command and query of the library.

Commands write (they take ``--actor``, default ``$AXIS_LICENSING_ACTOR`` or
the OS user, and ``--request-id`` for idempotent retries, R13):
``create-organization``, ``register-system``, ``report-devices``, ``start``,
``redeem``, ``allocate``, ``allocate-need``, ``register-hardware``,
``allocate-to-hardware``, ``upload-system-file`` and the vendor's
``vendor issue-key``, ``vendor ship-hardware`` and ``vendor publish-catalog``.

Queries only read, and never create anything: ``status`` (``--timeline``,
``--svg``), ``need``, ``wallet``, ``system-status``, ``history``,
``organizations``, ``products``, ``systems``, ``alerts``,
``catalog-versions`` and ``public-key``. Besides: ``demo``, ``migrate``,
``serve`` (the JSON API and the portal) and ``version``.

``--db`` takes a backend URL (``sqlite:///PATH``, ``postgresql://…``) or a
bare path, read as an SQLite file; it defaults to ``$AXIS_LICENSING_DB``, then
``./axis-licensing.db``. A store knows its catalog (R15): only a write given
``--catalog`` creates a store, recording that catalog as version 1.

``--json`` prints results as JSON (:func:`axis_licensing.to_jsonable`); errors
then go to stderr as ``{"code", "message", "details"}``. Without it, results
are tables that fit the terminal's width (``$COLUMNS``, else the terminal's);
when the output is not a terminal and ``$COLUMNS`` is unset, lines are as long
as their content, so no word is cut. Ids, actions and dates stay whole
whenever the width holds them. An error is one line on stderr.

Exit codes, one per error family:

== ===========================================================================
0  success
1  a migration failed or did not verify
2  bad usage or invalid input: ``InvalidInput`` (``KeyTypo``,
   ``MalformedSystemFile``, ``IncompatibleCatalog``), ``CatalogRequired``,
   a refused migration, an unreadable file
3  not found: ``NotFound`` (``UnknownOrganization``, ``UnknownProduct``,
   ``UnknownSystem``, ``UnknownHardware``, ``UnknownKey``, ``StoreNotFound``)
4  conflict: ``AlreadyExists``, ``AlreadyRegistered``, ``AlreadyStarted``,
   ``KeyAlreadyRedeemed``, ``IdempotencyConflict``, ``ConcurrencyConflict``,
   ``CatalogMismatch``
5  the rules refuse it now: ``InsufficientLicenses``,
   ``OutsideAllocationWindow``, ``SubscriptionNotStarted``
6  permission denied: ``PermissionDenied`` (the authorize hook)
7  storage: ``StorageError``
8  a license file is rejected: ``LicenseFileError``
== ===========================================================================
"""

from __future__ import annotations

import getpass
import importlib
import json
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

import cattrs
import click
from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from axis_licensing import __version__, errors
from axis_licensing._convert import converter, to_jsonable
from axis_licensing._demo import DEMO_CATALOG, DEMO_ORG, STEP_KEYS, DemoRun, DemoStep, run_demo
from axis_licensing._migrate import (
    MigrationFailed,
    MigrationRefused,
    MigrationReport,
    migrate,
)
from axis_licensing._plugins import Plugins
from axis_licensing._time import SystemClock
from axis_licensing._timeline import build_timeline, render_timeline, save_timeline_svg
from axis_licensing.catalog import EXAMPLE_CATALOG, Catalog
from axis_licensing.manager import Manager
from axis_licensing.model import (
    Activity,
    Alert,
    Allocation,
    LicenseKind,
    Lot,
    NeedReport,
    ProductStatus,
    Redemption,
    SystemStatus,
    Wallet,
)

__all__ = ["EXIT_CODES", "exit_code_of", "main"]

#: The default store, in the working directory.
DEFAULT_DB = "axis-licensing.db"
#: The demo's default SQLite file, in the working directory.
DEMO_DB = "axis-licensing-demo.db"

_CATALOGS: dict[str, Catalog] = {"demo": DEMO_CATALOG, "example": EXAMPLE_CATALOG}

#: Exit code per error family, most specific first (see the module docstring).
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (MigrationFailed, 1),
    (MigrationRefused, 2),
    (errors.InvalidInput, 2),
    (errors.CatalogRequired, 2),
    (errors.NotFound, 3),
    (errors.AlreadyExists, 4),
    (errors.AlreadyRegistered, 4),
    (errors.AlreadyStarted, 4),
    (errors.KeyAlreadyRedeemed, 4),
    (errors.IdempotencyConflict, 4),
    (errors.ConcurrencyConflict, 4),
    (errors.CatalogMismatch, 4),
    (errors.LastOwner, 4),  # SPEC §8
    (errors.InvitationInvalid, 4),  # SPEC §8
    (errors.InsufficientLicenses, 5),
    (errors.OutsideAllocationWindow, 5),
    (errors.SubscriptionNotStarted, 5),
    (errors.PermissionDenied, 6),
    (errors.StorageError, 7),
    (errors.LicenseFileError, 8),
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


def _error_document(error: errors.LicensingError) -> Any:
    """``{"code", "message", "details"}`` for an error (R14), the message on one line."""
    document = to_jsonable(error)
    document["message"] = _one_line(error)
    return document


class CliError(Exception):
    """A refusal of the CLI itself (an unreadable file, a bad --catalog): exit code 2."""

    exit_code = 2


def _fail(message: str) -> NoReturn:
    raise CliError(message)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _report(ctx: click.Context, document: Mapping[str, Any], exit_code: int) -> NoReturn:
    """Print an error on stderr (JSON under ``--json``, else one line) and exit with its code."""
    if ctx.find_root().meta.get(_JSON_META):
        click.echo(json.dumps(document, sort_keys=True, ensure_ascii=False), err=True)
    else:
        click.echo(f"error: {document['message']}", err=True)
    ctx.exit(exit_code)


_JSON_META = "axis_licensing.json"


class _Group(click.Group):
    """Turns errors into exit codes and messages (JSON under ``--json``), never tracebacks."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.find_root().meta.setdefault(_JSON_META, "--json" in args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            document = {"code": "cli_error", "message": _one_line(exc), "details": {}}
            _report(ctx, document, exc.exit_code)
        except click.UsageError as exc:
            if not ctx.find_root().meta.get(_JSON_META):
                raise
            param = exc.param if isinstance(exc, click.BadParameter) else None
            details = {"param": param.name} if param is not None and param.name else {}
            document = {"code": "usage", "message": exc.format_message(), "details": details}
            _report(ctx, document, exc.exit_code)
        except errors.LicensingError as exc:
            _report(ctx, _error_document(exc), exit_code_of(exc))


# -- output ----------------------------------------------------------------------------------


#: The width of output that is not a terminal (a pipe, a file, a CI log): no limit, in
#: effect, so a table never cuts a word; each line is as long as its content.
_UNBOUNDED = 10_000

#: Columns whose cells are ids, codes, actions or dates: they do not wrap while the table
#: fits the width with them whole.
_WHOLE = frozenset(
    {
        *("organization", "system", "product", "action", "actor", "lot", "kind", "type"),
        *("alert", "date", "on", "anchor", "acquired", "expires", "start", "end"),
    }
)


#: The least width a folding column keeps while ids and dates stay whole.
_FOLDED_MIN = 8


def _width() -> int | None:
    """The terminal's width: ``$COLUMNS``, else the terminal's; None when it is unknown."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((80, 24)).columns
    return None


def _console(*, stderr: bool = False) -> Console:
    return Console(
        width=_width() or _UNBOUNDED,
        stderr=stderr,
        markup=False,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )


def _show(*renderables: RenderableType) -> None:
    """Print renderables to stdout, fitted to the terminal's width."""
    console = _console()
    with console.capture() as captured:
        for renderable in renderables:
            console.print(renderable)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def _emit_json(value: object) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=True, ensure_ascii=False))


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[str] = ()
) -> Table:
    """A table with a header rule; cells fold rather than overflow the width.

    Ids, codes, actions and dates (:data:`_WHOLE`) do not wrap when the width
    holds them whole and leaves the other columns room to fold
    (:data:`_FOLDED_MIN`); only a terminal too narrow for that folds them too,
    so nothing is ever cut.
    """
    width = _width()
    if width is None:
        return _build_table(headers, rows, right, keep_whole=True)
    needed = 2 * (len(headers) - 1)  # the padding between columns
    for index, header in enumerate(headers):
        cells = [len(row[index]) for row in rows]
        widest = max([*cells, *(len(word) for word in header.split())])
        needed += widest if header in _WHOLE else min(widest, _FOLDED_MIN)
    return _build_table(headers, rows, right, keep_whole=needed <= width)


def _build_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: Sequence[str],
    *,
    keep_whole: bool,
) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        header_style="bold",
        collapse_padding=True,
    )
    for header in headers:
        table.add_column(
            header,
            justify="right" if header in right else "left",
            overflow="fold",
            no_wrap=keep_whole and header in _WHOLE,
        )
    for row in rows:
        table.add_row(*row)
    return table


def _fields(pairs: Sequence[tuple[str, str]]) -> Table:
    """A two-column table of a value's fields: name, value."""
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name, value in pairs:
        table.add_row(name, value)
    return table


def _indent(renderable: RenderableType) -> Padding:
    return Padding(renderable, (0, 0, 0, 2))


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def _fractions(values: Mapping[str, Fraction]) -> str:
    return ", ".join(f"{k} {v}" for k, v in values.items()) or "-"


def _opt(value: object) -> str:
    return "-" if value is None else str(value)


def _period_text(status: ProductStatus) -> str:
    return f"{status.period.start} .. {status.period.end}" if status.period is not None else "-"


def _status_fields(s: ProductStatus) -> Table:
    return _fields(
        [
            ("product", s.product),
            ("state", s.state.name),
            ("started on", _opt(s.started_on)),
            (
                "period",
                f"{s.period.index}: {s.period.start} .. {s.period.end}"
                if s.period is not None
                else "-",
            ),
            ("window ends", _opt(s.window_ends_on)),
            ("renews on", _opt(s.renews_on)),
            ("devices", _counts(s.devices)),
            ("allocated", _counts(s.allocated)),
            ("required now", _counts(s.required_now)),
            ("growth", "exceeded" if s.growth_exceeded else "ok"),
            ("licensed through", _opt(s.licensed_through)),
        ]
    )


def _status_table(statuses: Sequence[ProductStatus]) -> Table:
    rows = [
        [
            s.product,
            s.state.name,
            _period_text(s),
            _opt(s.window_ends_on),
            _counts(s.devices),
            _counts(s.allocated),
            _counts(s.required_now),
            "exceeded" if s.growth_exceeded else "ok",
            _opt(s.licensed_through),
        ]
        for s in statuses
    ]
    return _table(
        [
            "product",
            "state",
            "period",
            "window ends",
            "devices",
            "allocated",
            "required now",
            "growth",
            "licensed through",
        ],
        rows,
    )


def _lots_table(lots: Sequence[Lot]) -> Table:
    rows = [
        [
            str(lot.lot_id),
            lot.kind.value,
            lot.license_type,
            str(lot.quantity),
            str(lot.acquired_on),
            str(lot.expires_on),
        ]
        for lot in lots
    ]
    return _table(["lot", "kind", "type", "left", "acquired", "expires"], rows, right=["left"])


def _wallet_block(wallet: Wallet, label: str | None = None) -> Group:
    head = label or f"wallet of {wallet.product}"
    lots: RenderableType = _lots_table(wallet.lots) if wallet.lots else Text("(no live lots)")
    balance = Text(
        f"balance: subscription {_counts(wallet.balance())}; "
        f"hardware {_counts(wallet.balance(LicenseKind.HARDWARE))}; "
        f"credit {_fractions(wallet.credit)}"
    )
    return Group(Text(head), _indent(lots), _indent(balance))


def _redemption_block(redemption: Redemption) -> Group:
    return Group(
        Text(f"key ...{redemption.key_tail} redeemed into the {redemption.product} wallet"),
        _indent(_lots_table(redemption.lots)),
    )


def _allocation_block(allocation: Allocation) -> Group:
    rows = [
        [str(p.period.index), str(p.period.start), str(p.period.end), _counts(p.quantities)]
        for p in allocation.periods
    ]
    table: RenderableType = (
        _table(["period", "start", "end", "allocated"], rows, right=["period"])
        if rows
        else Text("(nothing)")
    )
    return Group(
        Text(f"allocation of {allocation.product}"),
        _indent(table),
        _indent(
            Text(
                f"compensation back to the wallet: {_counts(allocation.compensation)}; "
                f"credit now: {_fractions(allocation.credit)}"
            )
        ),
    )


def _need_block(need: NeedReport) -> Group:
    rows = [
        [
            str(p.offset),
            f"{p.period.start} .. {p.period.end}",
            _counts(p.need),
            _counts(p.allocated),
            _counts(p.shortfall),
        ]
        for p in need.periods
    ]
    return Group(
        Text(f"need of {need.product}"),
        _indent(
            _table(["offset", "period", "need", "allocated", "shortfall"], rows, right=["offset"])
        ),
        _indent(Text(f"wallet {_counts(need.wallet)}; to buy {_counts(need.to_buy)}")),
    )


def _system_table(systems: Sequence[SystemStatus]) -> Table:
    rows = [
        [
            s.system_id,
            s.product,
            s.product_state.name,
            _counts(s.devices),
            ", ".join(s.hardware) or "-",
            _counts(s.hardware_covered),
            _counts(s.subscription_devices),
            "yes" if s.licensed else "NO",
        ]
        for s in systems
    ]
    return _table(
        [
            "system",
            "product",
            "state",
            "devices",
            "hardware",
            "on hardware",
            "on subscription",
            "licensed",
        ],
        rows,
    )


def _summary(activity: Activity) -> str:  # noqa: PLR0911  one line per action
    d = activity.details
    action = activity.action
    if action == "organization_created":
        return f"{d.get('name')} ({d.get('timezone')})"
    if action == "licenses_expired":
        return f"{d.get('quantity')} {d.get('license_type')} expired (lot {d.get('lot_id')})"
    if action == "compensation_credited":
        return f"{_counts(d.get('quantities', {}))} back; credit {_counts_text(d.get('credit'))}"
    if action == "growth_exceeded":
        return f"required now {_counts(d.get('required_now', {}))}"
    if action == "subscription_started":
        return f"trial ends {d.get('trial_ends_on')}"
    if action in ("devices_reported", "system_registered"):
        return f"devices {_counts(d.get('devices', {}))}"
    if action == "key_redeemed":
        return f"key {d.get('key')}: {_counts(d.get('quantities', {}))}"
    if action in ("licenses_allocated", "extension_allocated"):
        return _counts(d.get("quantities", {}))
    text = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _counts_text(value: object) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    return _opt(value)


def _history_table(activities: Sequence[Activity]) -> Table:
    rows = [
        [
            str(a.on),
            a.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            a.actor,
            a.action,
            _opt(a.product),
            _opt(a.system_id),
            _summary(a),
        ]
        for a in activities
    ]
    return _table(["date", "at (UTC)", "actor", "action", "product", "system", "details"], rows)


def _step_block(step: DemoStep, number: int, total: int) -> Group:
    stamp = step.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts: list[RenderableType] = [
        Text(f"== Step {number} of {total} · {stamp} · {step.title}", style="bold")
    ]
    parts.extend(Padding(Text(note), (0, 0, 0, 3)) for note in step.notes)
    parts.append(Text(""))
    parts.extend(_redemption_block(r) for r in step.redemptions)
    parts.extend(_allocation_block(a) for a in step.allocations)
    if step.statuses:
        parts.extend([Text("status"), _indent(_status_table(step.statuses))])
    if step.need is not None:
        parts.append(_need_block(step.need))
    for wallet, read_at in zip(step.wallets, step.wallets_at, strict=True):
        label = f"wallet of {wallet.product}"
        if read_at != step.at:
            label += f" at {read_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
        parts.append(_wallet_block(wallet, label))
    if step.activities:
        parts.extend([Text("history"), _indent(_history_table(step.activities))])
    return Group(*parts)


# -- input -----------------------------------------------------------------------------------


def _url(db: str) -> str:
    """A backend URL: ``db`` itself, or ``sqlite:///db`` for a bare path."""
    if "://" in db:
        return db
    return "sqlite:///" + db


def _sqlite_path(url: str) -> str | None:
    if not url.lower().startswith("sqlite:"):
        return None
    from axis_licensing.backends.sqlite import _path_of

    return _path_of(url)


def _structure_catalog(data: object, source: str) -> Catalog:
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


def _read_bytes(path: str) -> bytes:
    """The bytes of a file, or of stdin for ``-``."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        _fail(f"cannot read {path!r}: {exc.strerror}")


def _read_catalog_file(path: str) -> Catalog:
    """A Catalog from a JSON file (``-``: stdin), as ``to_jsonable(catalog)`` writes it."""
    data = _read_bytes(path)
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.InvalidInput(f"{path} is not JSON: {exc}") from exc
    return _structure_catalog(parsed, path)


def _load_catalog(spec: str) -> Catalog:
    """A catalog named ``demo`` or ``example``, a JSON file, or ``MODULE:ATTRIBUTE``."""
    if spec in _CATALOGS:
        return _CATALOGS[spec]
    if spec == "-" or spec.endswith(".json") or os.path.isfile(spec):
        return _read_catalog_file(spec)
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        _fail(
            f"--catalog must be {', '.join(_CATALOGS)}, a JSON file or MODULE:ATTRIBUTE, "
            f"not {spec!r}"
        )
    try:
        value = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        _fail(f"cannot load the catalog {spec!r}: {exc}")
    if not isinstance(value, Catalog):
        _fail(f"{spec} is a {type(value).__name__}, not a Catalog")
    return value


def _open_store(db: str, *, catalog: str | None = None) -> Manager:
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
    chosen = _load_catalog(catalog) if catalog is not None else None
    return Manager.open(_url(db), catalog=chosen, clock=SystemClock(), create=catalog is not None)


@contextmanager
def _store(db: str, *, catalog: str | None = None) -> Iterator[Manager]:
    manager = _open_store(db, catalog=catalog)
    try:
        yield manager
    finally:
        manager.close()


def _parse_at(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 instant, such as 2027-01-10T12:00:00+00:00"
        ) from None
    if instant.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} has no UTC offset; add one, such as {instant.isoformat()}Z"
        )
    return instant


def _parse_bound(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> date | datetime | None:
    """A history bound: a local date (``2027-01-10``) or an instant with a UTC offset."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return _parse_at(ctx, param, value)


def _parse_counts(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, int]:
    """``TYPE=N`` arguments as counts; the library checks the types and numbers (R14)."""
    counts: dict[str, int] = {}
    for item in values:
        name, sep, number = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not TYPE=N, such as core=8")
        try:
            count = int(number.strip())
        except ValueError:
            raise click.BadParameter(f"{item!r}: {number!r} is not a whole number") from None
        name = name.strip()
        if name in counts:
            raise click.BadParameter(f"{name!r} is given twice")
        counts[name] = count
    return counts


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry
        return ""


# -- options ---------------------------------------------------------------------------------


def _db_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--db",
        default=DEFAULT_DB,
        envvar="AXIS_LICENSING_DB",
        show_default=True,
        show_envvar=True,
        metavar="URL",
        help="The store: sqlite:///PATH, postgresql://…, or a path to an SQLite file.",
    )(command)


def _write_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--request-id",
        default=None,
        metavar="ID",
        help="Makes the command idempotent: a retry with the same id changes nothing (R13).",
    )(command)
    command = click.option(
        "--actor",
        default=_default_actor,
        envvar="AXIS_LICENSING_ACTOR",
        show_default="$AXIS_LICENSING_ACTOR, else the OS user",
        metavar="NAME",
        help="Who runs the command, as recorded in the history (R11).",
    )(command)
    command = click.option(
        "--catalog",
        default=None,
        metavar="NAME|FILE",
        help="Create the store if it does not exist, with this catalog as version 1 (R15): "
        "'demo', 'example', a JSON file or MODULE:ATTRIBUTE. An existing store must "
        "hold the same catalog.",
    )(command)
    return _db_option(command)


_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
_at_option = click.option(
    "--at", callback=_parse_at, metavar="ISO", help="An instant with a UTC offset (default: now)."
)
_counts_argument = click.argument("counts", nargs=-1, callback=_parse_counts, metavar="[TYPE=N]...")
_limit_option = click.option(
    "--limit", type=click.IntRange(min=0), default=None, help="At most this many."
)
_offset_option = click.option(
    "--offset", type=click.IntRange(min=0), default=0, help="Skip this many first."
)


# -- the group -------------------------------------------------------------------------------


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="axis-licensing")
def main() -> None:
    """Subscription and hardware-bound license management, after AXIS License Manager.

    Writes take --actor and --request-id; queries never create a store. With
    --json, results are JSON and errors are JSON on stderr. Exit codes: 0 ok,
    1 migration failed, 2 usage or invalid input, 3 not found, 4 conflict,
    5 refused by the rules now, 6 permission denied, 7 storage, 8 license
    file rejected.
    """


@main.command()
@_json_option
def version(*, as_json: bool) -> None:
    """Print the version and the backends installed."""
    schemes = list(Plugins().backends().schemes)
    if as_json:
        _emit_json({"version": __version__, "backends": schemes})
        return
    click.echo(f"axis-licensing {__version__}")
    click.echo(f"backends: {', '.join(schemes)}")


# -- demo ------------------------------------------------------------------------------------


def _demo_file_kind(path: str) -> str:  # noqa: PLR0911  each probe decides
    """'empty', 'demo' (only the demo's organization) or 'other' (anything else)."""
    if os.path.getsize(path) == 0:
        return "empty"
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        return "other"
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"orgs", "keys", "shipments"} <= tables:
            return "other"
        orgs = {r[0] for r in conn.execute("SELECT org_id FROM orgs")}
        if orgs == {DEMO_ORG}:
            return "demo"
        if orgs:
            return "other"
        vendor = conn.execute(
            "SELECT (SELECT count(*) FROM keys) + (SELECT count(*) FROM shipments)"
        ).fetchone()[0]
        return "empty" if vendor == 0 else "other"
    except sqlite3.Error:
        return "other"
    finally:
        conn.close()


def _remove_sqlite_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            continue
        except OSError as exc:
            _fail(f"cannot remove {path + suffix!r}: {exc.strerror}")


def _prepare_demo_store(db: str, fresh: bool) -> str:
    url = _url(db)
    path = _sqlite_path(url)
    if path is None:
        plugins = Plugins()
        backend = plugins.backends().open(url)
        try:
            if not backend.is_empty():
                _fail(f"{db} holds data; the demo needs an empty store")
        finally:
            backend.close()
        return url
    if not os.path.exists(path):
        return url
    kind = _demo_file_kind(path)
    if kind == "other":
        _fail(
            f"{path} holds data that is not the demo's; refusing to touch it. "
            "Choose another file with --db."
        )
    if not fresh:
        if kind == "demo":
            _fail(f"{path} already holds a demo run; drop --keep to replace it")
        return url
    _remove_sqlite_files(path)
    click.echo(
        f"Removed the previous demo database {path}: the demo starts from an empty file "
        "(--keep refuses instead).",
        err=True,
    )
    return url


@main.command()
@click.option(
    "--db",
    default=DEMO_DB,
    show_default=True,
    metavar="PATH",
    help="The SQLite file to write (or a backend URL of an empty store).",
)
@_json_option
@click.option(
    "--fresh/--keep",
    default=True,
    show_default=True,
    help="--fresh deletes an earlier demo file first; --keep never deletes one.",
)
def demo(*, db: str, as_json: bool, fresh: bool) -> None:
    """Run a scripted five-year scenario, showing each step.

    One organization, on a manual clock: the trial, a key redeemed and
    allocated, growth beyond the allowance, a second product started mid-period
    and its compensation, the renewal grace period, renewal in advance, and lot
    expiry after five years. The database stays for inspection afterwards.
    """
    url = _prepare_demo_store(db, fresh)
    started = time.perf_counter()
    shown: list[DemoStep] = []

    def show(step: DemoStep) -> None:
        shown.append(step)
        if not as_json:
            _show(_step_block(step, number=len(shown), total=len(STEP_KEYS)), Text(""))

    run: DemoRun = run_demo(url, on_step=show)
    elapsed = time.perf_counter() - started
    if as_json:
        _emit_json(run)
        return
    click.echo(
        f"Done in {elapsed:.2f} s. The database stays at {db}; for example:\n"
        f"  axis-licensing status --db {db} {run.org_id} acs-pro --at 2031-01-20T12:00:00Z"
    )


# -- migrate ---------------------------------------------------------------------------------


class _MigrationProgress:
    """Progress per table on stderr: a rich progress bar on a terminal, else a line per table."""

    def __init__(self) -> None:
        self._console = _console(stderr=True)
        self._progress: Progress | None = None
        self._task: Any = None
        self._table: str | None = None

    def __call__(self, table: str, done: int, total: int) -> None:
        if self._console.is_terminal:
            if self._progress is None:
                self._progress = Progress(
                    TextColumn("{task.description:<10}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    console=self._console,
                )
                self._progress.start()
            if table != self._table:
                self._task = self._progress.add_task(table, total=total)
                self._table = table
            self._progress.update(self._task, completed=done, total=total)
            return
        if done >= total and table != self._table:
            self._table = table
            click.echo(f"copied {table:<10} {done:>8} rows", err=True)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _report_table(report: MigrationReport) -> Table:
    rows = [
        [
            t.table,
            str(t.rows),
            str(t.target_rows),
            t.checksum[:16],
            "ok" if t.verified else "MISMATCH",
        ]
        for t in report.tables
    ]
    return _table(
        ["table", "copied", "in target", "sha-256 (start)", "verified"],
        rows,
        right=["copied", "in target"],
    )


@main.command(name="migrate")
@click.option("--from", "source", required=True, metavar="URL", help="The store to copy.")
@click.option("--to", "target", required=True, metavar="URL", help="The empty store to fill.")
@click.option(
    "--force",
    is_flag=True,
    help="Clear a non-empty target, or one left incomplete by a failed migration, first.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Rows per insert.",
)
@_json_option
def migrate_command(
    *, source: str, target: str, force: bool, batch_size: int, as_json: bool
) -> None:
    """Copy a store to another backend, and verify it.

    The target is marked incomplete before the first row and unmarked only
    after every table's row count and SHA-256 checksum match the source. Stop
    writers to the source first. Exit codes: 0 verified, 1 failed or did not
    verify (the target stays marked incomplete), 2 refused.
    """
    progress = _MigrationProgress()
    try:
        report = migrate(
            _url(source), _url(target), force=force, batch_size=batch_size, progress=progress
        )
    except MigrationFailed as exc:
        progress.close()
        if exc.report is not None and not as_json:
            _console(stderr=True).print(_report_table(exc.report))
        raise
    finally:
        progress.close()
    if as_json:
        _emit_json({"verified": report.verified, "report": report})
        return
    _show(_report_table(report))
    cleared = " (the target was cleared first)" if report.cleared_target else ""
    click.echo(
        f"Copied {report.rows} rows from {report.source} to {report.target}{cleared}; "
        "every table verified."
    )


# -- writes ----------------------------------------------------------------------------------


def _done(as_json: bool, result: object, text: Callable[[], RenderableType]) -> None:
    if as_json:
        _emit_json(result)
    else:
        _show(text())


@main.command(name="create-organization")
@_write_options
@click.option("--name", required=True, help="The organization's display name.")
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="The IANA zone whose calendar days the rules count.",
)
@_json_option
@click.argument("org")
def create_organization(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    name: str,
    timezone: str,
    as_json: bool,
    org: str,
) -> None:
    """Create an organization, the owner of licenses (R1)."""
    with _store(db, catalog=catalog) as manager:
        manager.create_organization(
            org, name=name, timezone=timezone, actor=actor, request_id=request_id
        )
    result = {"org_id": org, "name": name, "timezone": timezone}
    _done(as_json, result, lambda: Text(f"created organization {org} ({name}, {timezone})"))


@main.command(name="register-system")
@_write_options
@_json_option
@click.argument("org")
@click.argument("product")
@click.argument("system")
@_counts_argument
def register_system(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    as_json: bool,
    org: str,
    product: str,
    system: str,
    counts: dict[str, int],
) -> None:
    """Register a system with its devices (R1, R4).

    Device counts are TYPE=N, such as core=8 door=2.
    """
    with _store(db, catalog=catalog) as manager:
        manager.register_system(
            org, product, system, devices=counts, actor=actor, request_id=request_id
        )
        result = manager.system_status(org, system)
    _done(as_json, result, lambda: _system_table([result]))


@main.command(name="report-devices")
@_write_options
@_json_option
@click.argument("org")
@click.argument("system")
@_counts_argument
def report_devices(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    as_json: bool,
    org: str,
    system: str,
    counts: dict[str, int],
) -> None:
    """Set a system's device counts (R4, R5).

    Counts are TYPE=N; types left out become 0.
    """
    with _store(db, catalog=catalog) as manager:
        manager.report_devices(org, system, counts, actor=actor, request_id=request_id)
        result = manager.system_status(org, system)
    _done(as_json, result, lambda: _system_table([result]))


@main.command(name="start")
@_write_options
@_json_option
@click.argument("org")
@click.argument("product")
def start(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    as_json: bool,
    org: str,
    product: str,
) -> None:
    """Start a product's subscription (R2, R3).

    Its trial begins; the first product started sets the organization's anchor.
    """
    with _store(db, catalog=catalog) as manager:
        manager.start_subscription(org, product, actor=actor, request_id=request_id)
        result = manager.status(org, product)
    _done(as_json, result, lambda: _status_fields(result))


@main.command()
@_write_options
@_json_option
@click.argument("org")
@click.argument("key")
def redeem(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    as_json: bool,
    org: str,
    key: str,
) -> None:
    """Redeem a license key into a wallet (R6, R10).

    Case, spaces, dashes and I/L/O are forgiven; one lot per type.
    """
    with _store(db, catalog=catalog) as manager:
        result = manager.redeem_key(org, key, actor=actor, request_id=request_id)
    _done(as_json, result, lambda: _redemption_block(result))


@main.command()
@_write_options
@click.option(
    "--period",
    type=int,
    default=0,
    show_default=True,
    help="The period, counted from the current one (0).",
)
@_json_option
@click.argument("org")
@click.argument("product")
@_counts_argument
def allocate(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    period: int,
    as_json: bool,
    org: str,
    product: str,
    counts: dict[str, int],
) -> None:
    """Allocate wallet licenses to a period (R7, R8).

    Counts are TYPE=N, such as core=8; overlap compensation is credited back.
    """
    with _store(db, catalog=catalog) as manager:
        result = manager.allocate(
            org, product, counts, period=period, actor=actor, request_id=request_id
        )
    _done(as_json, result, lambda: _allocation_block(result))


@main.command(name="allocate-need")
@_write_options
@click.option(
    "--through",
    type=int,
    default=0,
    show_default=True,
    help="Cover the periods up to this one, counted from the current one (0).",
)
@_json_option
@click.argument("org")
@click.argument("product")
def allocate_need(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    through: int,
    as_json: bool,
    org: str,
    product: str,
) -> None:
    """Allocate what the periods lack (R7).

    Exactly the shortfall of the periods up to --through: "Confirm allocation".
    """
    with _store(db, catalog=catalog) as manager:
        result = manager.allocate_need(
            org, product, through=through, actor=actor, request_id=request_id
        )
    _done(as_json, result, lambda: _allocation_block(result))


@main.command(name="register-hardware")
@_write_options
@_json_option
@click.argument("org")
@click.argument("system")
@click.argument("serial")
def register_hardware(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    as_json: bool,
    org: str,
    system: str,
    serial: str,
) -> None:
    """Attach a shipped hardware unit to a system (R9)."""
    with _store(db, catalog=catalog) as manager:
        manager.register_hardware(org, system, serial, actor=actor, request_id=request_id)
        result = manager.system_status(org, system)
    _done(as_json, result, lambda: _system_table([result]))


@main.command(name="allocate-to-hardware")
@_write_options
@_json_option
@click.argument("org")
@click.argument("serial")
@_counts_argument
def allocate_to_hardware(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    as_json: bool,
    org: str,
    serial: str,
    counts: dict[str, int],
) -> None:
    """Move hardware licenses onto a unit (R9).

    From the wallet onto a registered unit, for the unit's lifetime. Shows
    the system the unit is attached to.
    """
    with _store(db, catalog=catalog) as manager:
        manager.allocate_to_hardware(org, serial, counts, actor=actor, request_id=request_id)
        holders = [s for s in manager.systems(org) if serial in s.hardware]
    _done(as_json, holders[0], lambda: _system_table(holders))


@main.command(name="upload-system-file")
@_write_options
@click.option(
    "--output",
    "-o",
    default="-",
    show_default=True,
    metavar="PATH",
    help="Where to write the signed license file ('-': stdout).",
)
@_json_option
@click.argument("org")
@click.argument("file", metavar="FILE|-")
def upload_system_file(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    output: str,
    as_json: bool,
    org: str,
    file: str,
) -> None:
    """Upload an offline system's file (R12).

    Registers or updates the system from its description file, and writes
    its signed license file.

    FILE is the system description file ('-': stdin). The license file goes to
    --output; with --json and an --output path, stdout gets {"output", "bytes"}.
    """
    data = _read_bytes(file)
    with _store(db, catalog=catalog) as manager:
        license_file = manager.upload_system_file(org, data, actor=actor, request_id=request_id)
    if output == "-":
        stream = sys.stdout.buffer
        stream.write(license_file + b"\n")
        stream.flush()
        return
    try:
        Path(output).write_bytes(license_file)
    except OSError as exc:
        _fail(f"cannot write {output!r}: {exc.strerror}")
    result = {"output": output, "bytes": len(license_file)}
    _done(as_json, result, lambda: Text(f"wrote the license file to {output}"))


# -- the vendor ------------------------------------------------------------------------------


@main.group(cls=_Group)
def vendor() -> None:
    """The vendor: keys, hardware, the catalog."""


@vendor.command(name="issue-key")
@_write_options
@click.option(
    "--kind",
    type=click.Choice([k.value for k in LicenseKind]),
    default=LicenseKind.SUBSCRIPTION.value,
    show_default=True,
    help="Subscription licenses, or hardware (extension) licenses.",
)
@_json_option
@click.argument("product")
@_counts_argument
def issue_key(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    kind: str,
    as_json: bool,
    product: str,
    counts: dict[str, int],
) -> None:
    """Issue a license key (R10).

    It carries licenses per type, TYPE=N, such as core=10 door=2.
    """
    with _store(db, catalog=catalog) as manager:
        key = manager.vendor.issue_key(
            product, LicenseKind(kind), counts, actor=actor, request_id=request_id
        )
    if as_json:
        _emit_json({"key": key, "product": product, "kind": kind, "quantities": counts})
        return
    click.echo(key)


@vendor.command(name="ship-hardware")
@_write_options
@_json_option
@click.argument("serial")
@click.argument("product")
@_counts_argument
def ship_hardware(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    as_json: bool,
    serial: str,
    product: str,
    counts: dict[str, int],
) -> None:
    """Record a shipped hardware unit (R9).

    With its preloaded hardware licenses, TYPE=N.
    """
    with _store(db, catalog=catalog) as manager:
        manager.vendor.ship_hardware(serial, product, counts, actor=actor, request_id=request_id)
    result = {"serial": serial, "product": product, "preloaded": counts}
    _done(as_json, result, lambda: Text(f"shipped {serial} for {product}: {_counts(counts)}"))


# -- queries ---------------------------------------------------------------------------------


@main.command()
@_db_option
@_at_option
@click.option(
    "--timeline",
    is_flag=True,
    help="Draw the periods, windows, allocations, licensed-through date and lot expiries.",
)
@click.option("--svg", metavar="PATH", default=None, help="Also write the timeline as an SVG file.")
@click.option(
    "--horizon",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Periods ahead of the current one on the timeline.",
)
@_json_option
@click.argument("org")
@click.argument("product")
def status(
    *,
    db: str,
    at: datetime | None,
    timeline: bool,
    svg: str | None,
    horizon: int,
    as_json: bool,
    org: str,
    product: str,
) -> None:
    """Show a product's license status (R3, R5).

    --timeline draws the periods ahead, the trial or grace window, allocations,
    the licensed-through date and lot expiries; --svg also writes the drawing.
    """
    with _store(db) as manager:
        if not (timeline or svg):
            result = manager.status(org, product, at=at)
        else:
            drawn = build_timeline(manager, org, product, at=at, horizon=horizon)
            result = drawn.status
    if not (timeline or svg):
        _done(as_json, result, lambda: _status_fields(result))
        return
    if svg is not None:
        try:
            save_timeline_svg(drawn, svg)
        except OSError as exc:
            _fail(f"cannot write {svg!r}: {exc.strerror}")
    if as_json:
        _emit_json(drawn)
        return
    width = _width() or 80
    _show(render_timeline(drawn, width))
    if svg is not None:
        click.echo(f"wrote {svg}", err=True)


@main.command()
@_db_option
@_at_option
@click.option(
    "--horizon",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Periods ahead of the current one.",
)
@_json_option
@click.argument("org")
@click.argument("product")
def need(
    *, db: str, at: datetime | None, horizon: int, as_json: bool, org: str, product: str
) -> None:
    """Show each period's need and shortfall (R5, R7).

    What each period needs, holds and lacks, and what to buy.
    """
    with _store(db) as manager:
        result = manager.need(org, product, at=at, horizon=horizon)
    _done(as_json, result, lambda: _need_block(result))


@main.command()
@_db_option
@_at_option
@_json_option
@click.argument("org")
@click.argument("product")
def wallet(*, db: str, at: datetime | None, as_json: bool, org: str, product: str) -> None:
    """Show a product's wallet (R6, R8).

    Its live lots, earliest expiry first (the order allocation uses them in),
    and its fractional credit. With --json, the result also holds the
    balance per kind.
    """
    with _store(db) as manager:
        result = manager.wallet(org, product, at=at)
    if as_json:
        data = to_jsonable(result)
        data["balance"] = {kind.value: to_jsonable(result.balance(kind)) for kind in LicenseKind}
        click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
        return
    _show(_wallet_block(result))


@main.command(name="system-status")
@_db_option
@_at_option
@_json_option
@click.argument("org")
@click.argument("system")
def system_status(*, db: str, at: datetime | None, as_json: bool, org: str, system: str) -> None:
    """Show how a system's devices are licensed (R4, R9)."""
    with _store(db) as manager:
        result = manager.system_status(org, system, at=at)
    _done(as_json, result, lambda: _system_table([result]))


@main.command()
@_db_option
@click.option("--product", default=None, help="Only this product's activities.")
@click.option("--actor", default=None, help="Only this actor's activities.")
@click.option("--action", "actions", multiple=True, help="Only these actions (repeatable).")
@click.option(
    "--since", callback=_parse_bound, metavar="DATE|ISO", help="From this local date or instant."
)
@click.option(
    "--until", callback=_parse_bound, metavar="DATE|ISO", help="Through this date or instant."
)
@_limit_option
@_offset_option
@_json_option
@click.argument("org")
def history(
    *,
    db: str,
    product: str | None,
    actor: str | None,
    actions: tuple[str, ...],
    since: date | datetime | None,
    until: date | datetime | None,
    limit: int | None,
    offset: int,
    as_json: bool,
    org: str,
) -> None:
    """Show an organization's history (R11).

    Activities oldest first. --since and --until take a local date
    (inclusive) or an instant with a UTC offset.
    """
    with _store(db) as manager:
        result = manager.history(
            org,
            product=product,
            actor=actor,
            actions=actions or None,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
    _done(
        as_json,
        result,
        lambda: _history_table(result) if result else Text("(no activities)"),
    )


@vendor.command(name="publish-catalog")
@_write_options
@_json_option
@click.argument("file", metavar="FILE|-")
def publish_catalog(
    *,
    db: str,
    catalog: str | None,
    actor: str,
    request_id: str | None,
    as_json: bool,
    file: str,
) -> None:
    """Publish a new version of the store's catalog (R15).

    FILE is a JSON catalog ('-': stdin), as catalog-versions --json shows one.
    It takes effect now; an incompatible change is refused with every reason.
    """
    new = _read_catalog_file(file)
    with _store(db, catalog=catalog) as manager:
        number = manager.vendor.publish_catalog(new, actor=actor, request_id=request_id)
    result = {"version": number}
    _done(as_json, result, lambda: Text(f"the store's catalog is version {number}"))


@main.command()
@_db_option
@_limit_option
@_offset_option
@_json_option
def organizations(*, db: str, limit: int | None, offset: int, as_json: bool) -> None:
    """List the organizations, by id (R1)."""
    with _store(db) as manager:
        result = manager.organizations(limit=limit, offset=offset)
    rows = [[o.org_id, o.name, o.timezone, _opt(o.anchor)] for o in result]
    _done(
        as_json,
        result,
        lambda: (
            _table(["organization", "name", "time zone", "anchor"], rows)
            if rows
            else Text("(no organizations)")
        ),
    )


@main.command()
@_db_option
@_at_option
@_json_option
@click.argument("org")
def products(*, db: str, at: datetime | None, as_json: bool, org: str) -> None:
    """Show every catalog product's status in an organization (R2, R3)."""
    with _store(db) as manager:
        result = manager.products(org, at=at)
    _done(as_json, result, lambda: _status_table(result))


@main.command()
@_db_option
@click.option("--product", default=None, help="Only this product's systems.")
@_at_option
@_limit_option
@_offset_option
@_json_option
@click.argument("org")
def systems(
    *,
    db: str,
    product: str | None,
    at: datetime | None,
    limit: int | None,
    offset: int,
    as_json: bool,
    org: str,
) -> None:
    """List an organization's systems and how they are licensed (R4, R9)."""
    with _store(db) as manager:
        result = manager.systems(org, product=product, at=at, limit=limit, offset=offset)
    _done(
        as_json,
        result,
        lambda: _system_table(result) if result else Text("(no systems)"),
    )


def _alert_table(alerts: Sequence[Alert]) -> Table:
    rows = [
        [
            _opt(a.on),
            a.kind.value,
            _opt(a.product),
            _opt(a.system_id),
            ", ".join(f"{k} {_counts_text(v)}" for k, v in sorted(a.details.items())) or "-",
        ]
        for a in alerts
    ]
    return _table(["on", "alert", "product", "system", "details"], rows)


@main.command()
@_db_option
@_at_option
@click.option(
    "--within-days",
    type=int,
    default=60,
    show_default=True,
    help="How far ahead dated alerts look.",
)
@_json_option
@click.argument("org")
def alerts(*, db: str, at: datetime | None, within_days: int, as_json: bool, org: str) -> None:
    """Show what an organization should act on, soonest first."""
    with _store(db) as manager:
        result = manager.alerts(org, at=at, within_days=within_days)
    _done(as_json, result, lambda: _alert_table(result) if result else Text("(no alerts)"))


@main.command(name="catalog-versions")
@_db_option
@_json_option
def catalog_versions(*, db: str, as_json: bool) -> None:
    """List the versions of the store's catalog, oldest first (R15).

    With --json, each version holds its whole catalog.
    """
    with _store(db) as manager:
        result = manager.catalog_versions()
    rows = [
        [
            str(v.version),
            v.effective_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            ", ".join(
                f"{p.code} ({', '.join(t.code for t in p.license_types)})"
                for p in v.catalog.products
            ),
        ]
        for v in result
    ]
    _done(
        as_json,
        result,
        lambda: _table(
            ["version", "effective (UTC)", "products (license types)"], rows, right=["version"]
        ),
    )


@main.command(name="public-key")
@_db_option
@_json_option
def public_key(*, db: str, as_json: bool) -> None:
    """Print the key that verifies license files (R12).

    The store's public key, PEM, for offline systems to trust.
    """
    with _store(db) as manager:
        pem = manager.public_key.decode("ascii")
    if as_json:
        _emit_json({"public_key": pem})
        return
    click.echo(pem, nl=False)


@main.command()
@_db_option
@click.option(
    "--catalog",
    default=None,
    metavar="NAME|FILE",
    help="Create the store if it does not exist, with this catalog as version 1 (R15): "
    "'demo', 'example', a JSON file or MODULE:ATTRIBUTE. An existing store uses its own.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--tokens",
    "tokens",
    default=None,
    envvar="AXIS_LICENSING_TOKENS",
    type=click.Path(exists=True, dir_okay=False),
    help="The tokens file (TOML, see docs/service.md). Without it, a one-time admin "
    "token is printed.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Worker processes over the one store; they share the session secret, the "
    "portal's sessions and /metrics.",
)
@click.option(
    "--session-secret-file",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="A file holding the session secret (16, 24 or 32 bytes in hex or base64). "
    "Else $AXIS_LICENSING_SESSION_SECRET, else one made once in the state directory.",
)
@click.option(
    "--state-dir",
    default=None,
    envvar="AXIS_LICENSING_STATE_DIR",
    type=click.Path(file_okay=False),
    help="Where serve keeps its session secret and the workers' shared sessions "
    "[default: PATH-state beside an SQLite file, else $XDG_STATE_HOME/axis-licensing].",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    metavar="IPS",
    help="Proxy addresses (comma-separated, or '*') trusted for X-Forwarded-For and "
    "X-Forwarded-Proto: a request they forward over https gets Secure cookies "
    "[default: $FORWARDED_ALLOW_IPS, else 127.0.0.1].",
)
@click.option(
    "--secure-cookies",
    is_flag=True,
    default=False,
    help="Mark every cookie Secure (the service is reached over HTTPS only).",
)
@click.option(
    "--metrics-token",
    default=None,
    envvar="AXIS_LICENSING_METRICS_TOKEN",
    metavar="TOKEN",
    help="A bearer token that opens GET /metrics to any client (prefer the variable "
    "$AXIS_LICENSING_METRICS_TOKEN); without it /metrics answers loopback clients only.",
)
def serve(
    *,
    db: str,
    catalog: str | None,
    host: str,
    port: int,
    tokens: str | None,
    workers: int,
    session_secret_file: str | None,
    state_dir: str | None,
    forwarded_allow_ips: str | None,
    secure_cookies: bool,
    metrics_token: str | None,
) -> None:
    """Serve the JSON API (/v1, /openapi.json, /docs) and the portal with uvicorn (SPEC §6).

    Also GET /healthz (the process is up), GET /readyz (the store answers) and
    GET /metrics (Prometheus text), which need no API token.
    """
    metrics_dir: str | None = None
    if workers > 1:  # before prometheus_client is imported: each worker writes its values there
        metrics_dir = tempfile.mkdtemp(prefix="axis-licensing-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        _serve(
            db=db,
            catalog=catalog,
            host=host,
            port=port,
            tokens=tokens,
            workers=workers,
            session_secret_file=session_secret_file,
            state_dir=state_dir,
            forwarded_allow_ips=forwarded_allow_ips,
            secure_cookies=secure_cookies,
            metrics_token=metrics_token,
        )
    finally:
        if metrics_dir is not None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve(
    *,
    db: str,
    catalog: str | None,
    host: str,
    port: int,
    tokens: str | None,
    workers: int,
    session_secret_file: str | None,
    state_dir: str | None,
    forwarded_allow_ips: str | None,
    secure_cookies: bool,
    metrics_token: str | None,
) -> None:
    """Check the options once, hand them to the workers through the environment, run uvicorn."""
    try:
        import uvicorn

        from axis_licensing.http import TokenFile, hash_token
        from axis_licensing.http import _ops as ops
    except ImportError as exc:
        _fail(f"serve needs the server extra: pip install 'axis-licensing[server]' ({exc})")
    if tokens is not None:
        TokenFile.load(tokens)  # refuse a malformed file before any worker starts
    url = _url(db)
    if workers > 1 and url.lower().startswith("memory:"):
        _fail("a memory:// store lives in one process: serve it with --workers 1")
    try:
        _open_store(db, catalog=catalog).close()  # create it once, or check its catalog
    except (errors.CatalogRequired, errors.StoreNotFound) as exc:
        _fail(
            f"{_one_line(exc)}; to create a store, pass --catalog NAME ('demo', 'example', "
            "a JSON file or MODULE:ATTRIBUTE) to record its catalog"
        )
    state = Path(state_dir).resolve() if state_dir else ops.default_state_dir(url)
    _, where = ops.session_secret(
        file=session_secret_file, env=os.environ.get(ops.ENV_SECRET), state_dir=state
    )
    click.echo(f"axis-licensing: the session secret is in {where}", err=True)
    if catalog is not None and catalog not in _CATALOGS and os.path.isfile(catalog):
        catalog = str(Path(catalog).resolve())  # the workers check the same file
    env: dict[str, str | None] = {
        ops.ENV_DB: url,
        ops.ENV_CATALOG: catalog if catalog != "-" else None,
        ops.ENV_TOKENS: str(Path(tokens).resolve()) if tokens is not None else None,
        ops.ENV_ADMIN_SHA256: None,
        ops.ENV_STATE_DIR: str(state),
        ops.ENV_SECRET_FILE: (
            str(Path(session_secret_file).resolve()) if session_secret_file is not None else None
        ),
        ops.ENV_SECURE_COOKIES: "1" if secure_cookies else None,
        ops.ENV_METRICS_TOKEN: metrics_token or None,
    }
    if tokens is None:
        token = secrets.token_urlsafe(24)
        env[ops.ENV_ADMIN_SHA256] = hash_token(token)
        click.echo(f"No --tokens file: sign in as 'admin' with this token: {token}", err=True)
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    scheme = "https" if secure_cookies else "http"
    click.echo(
        f"axis-licensing: the portal is at {scheme}://{host}:{port}/ ({workers} worker(s))",
        err=True,
    )
    options: dict[str, Any] = {}
    if forwarded_allow_ips is not None:
        options["forwarded_allow_ips"] = forwarded_allow_ips
    uvicorn.run(
        "axis_licensing.http:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
        **options,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
