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
``catalog-versions`` and ``public-key``. An offline system's side (R12),
which needs no store: ``describe-system`` builds its description file and
``verify-license-file`` checks a license file as the system does. Besides:
``demo``, ``migrate``, ``serve`` (the JSON API and the portal) and ``version``.

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

import enum
import getpass
import json
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

import attrs
import click
from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from axis_licensing import __version__, cli_accounts, cli_events, errors, model, offline
from axis_licensing._cli_options import (
    HELP,
    db_option,
    instant_callback,
    json_option,
    ranged_option,
)
from axis_licensing._cli_store import (
    CATALOGS,
    EXIT_CODES,
    CliError,
    exit_code_of,
    fail,
    open_store,
    read_bytes,
    read_catalog_file,
    store,
    url_of,
)
from axis_licensing._cli_store import now as clock_now
from axis_licensing._convert import to_jsonable
from axis_licensing._demo import DEMO_ORG, STEP_KEYS, DemoRun, DemoStep, run_demo
from axis_licensing._migrate import (
    MigrationFailed,
    MigrationReport,
    migrate,
)
from axis_licensing._plugins import Plugins
from axis_licensing._timeline import build_timeline, render_timeline, save_timeline_svg
from axis_licensing.catalog import CatalogVersion
from axis_licensing.shell.operations import (
    OPERATIONS,
    REQUIRED,
    Check,
    Kind,
    Operation,
    Param,
)

__all__ = ["EXIT_CODES", "VERBS", "Verb", "derived_command", "exit_code_of", "main"]

#: The demo's default SQLite file, in the working directory.
DEMO_DB = "axis-licensing-demo.db"

#: What serve runs: each worker builds the application from the environment serve sets.
_SERVED_APP = "axis_licensing.http:app_from_env"
#: How serve always runs uvicorn: the app from a factory, the client's address and
#: scheme from the X-Forwarded-* headers of trusted proxies, and info logs.
_UVICORN: dict[str, Any] = {"factory": True, "proxy_headers": True, "log_level": "info"}


def _error_document(error: errors.LicensingError) -> Any:
    """``{"code", "message", "details"}`` for an error (R14), the message on one line."""
    document = to_jsonable(error)
    document["message"] = _one_line(error)
    return document


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
            # a value the CLI cannot read is refused as the library refuses it (SPEC §6.1)
            code = "invalid_input" if param is not None else "usage"
            document = {"code": code, "message": exc.format_message(), "details": details}
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


def _period_text(status: model.ProductStatus) -> str:
    return f"{status.period.start} .. {status.period.end}" if status.period is not None else "-"


def _status_fields(s: model.ProductStatus) -> Table:
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


def _status_table(statuses: Sequence[model.ProductStatus]) -> Table:
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


def _lots_table(lots: Sequence[model.Lot]) -> Table:
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


def _wallet_block(wallet: model.Wallet, label: str | None = None) -> Group:
    head = label or f"wallet of {wallet.product}"
    lots: RenderableType = _lots_table(wallet.lots) if wallet.lots else Text("(no live lots)")
    balance = Text(
        f"balance: subscription {_counts(wallet.balance())}; "
        f"hardware {_counts(wallet.balance(model.LicenseKind.HARDWARE))}; "
        f"credit {_fractions(wallet.credit)}"
    )
    return Group(Text(head), _indent(lots), _indent(balance))


def _redemption_block(redemption: model.Redemption) -> Group:
    return Group(
        Text(f"key ...{redemption.key_tail} redeemed into the {redemption.product} wallet"),
        _indent(_lots_table(redemption.lots)),
    )


def _allocation_block(allocation: model.Allocation) -> Group:
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


def _need_block(need: model.NeedReport) -> Group:
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


def _system_table(systems: Sequence[model.SystemStatus]) -> Table:
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


def _summary(activity: model.Activity) -> str:  # noqa: PLR0911  one line per action
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


def _history_table(activities: Sequence[model.Activity]) -> Table:
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


def _sqlite_path(url: str) -> str | None:
    if not url.lower().startswith("sqlite:"):
        return None
    from axis_licensing.backends.sqlite import _path_of

    return _path_of(url)


_parse_at = instant_callback(
    "{value!r} is not an ISO 8601 instant, such as 2027-01-10T12:00:00+00:00",
    "{value!r} has no UTC offset; add one, such as {iso}Z",
)


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


#: The options of a write command, after ``--db``, in the order ``--help`` lists them, by
#: name: ``--catalog``, and ``--actor`` and ``--request-id`` where the command has them.
_WRITE_OPTIONS = {
    "catalog": click.option(
        "--catalog",
        default=None,
        metavar="NAME|FILE",
        help="Create the store if it does not exist, with this catalog as version 1 (R15): "
        "'demo', 'example', a JSON file or MODULE:ATTRIBUTE. An existing store must "
        "hold the same catalog.",
    ),
    "actor": click.option(
        "--actor",
        default=_default_actor,
        envvar="AXIS_LICENSING_ACTOR",
        show_default="$AXIS_LICENSING_ACTOR, else the OS user",
        metavar="NAME",
        help="Who runs the command, as recorded in the history (R11).",
    ),
    "request_id": click.option(
        "--request-id",
        default=None,
        metavar="ID",
        help="Makes the command idempotent: a retry with the same id changes nothing (R13).",
    ),
}


def _options_of_write(
    *names: str,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator adding ``--db``, ``--catalog`` and the write options ``names`` names."""

    def add(command: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(("catalog", *names)):
            command = _WRITE_OPTIONS[name](command)
        return db_option(command)

    return add


#: Every write option: the hand-written commands all take ``--actor`` and ``--request-id``.
_write_options = _options_of_write("actor", "request_id")


_at_option = click.option(
    "--at", callback=_parse_at, metavar="ISO", help="An instant with a UTC offset (default: now)."
)
_limit_option = click.option(
    "--limit", type=click.IntRange(min=0), default=None, help="At most this many."
)
_offset_option = click.option(
    "--offset", type=click.IntRange(min=0), default=0, help="Skip this many first."
)


# -- the group -------------------------------------------------------------------------------


@click.group(cls=_Group, context_settings=HELP)
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
@json_option
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
            fail(f"cannot remove {path + suffix!r}: {exc.strerror}")


def _prepare_demo_store(db: str, fresh: bool) -> str:
    url = url_of(db)
    path = _sqlite_path(url)
    if path is None:
        plugins = Plugins()
        backend = plugins.backends().open(url)
        try:
            if not backend.is_empty():
                fail(f"{db} holds data; the demo needs an empty store")
        finally:
            backend.close()
        return url
    if not os.path.exists(path):
        return url
    kind = _demo_file_kind(path)
    if kind == "other":
        fail(
            f"{path} holds data that is not the demo's; refusing to touch it. "
            "Choose another file with --db."
        )
    if not fresh:
        if kind == "demo":
            fail(f"{path} already holds a demo run; drop --keep to replace it")
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
@json_option
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
@ranged_option("--batch-size", click.IntRange(min=1), 1000, "Rows per insert.")
@json_option
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
            url_of(source), url_of(target), force=force, batch_size=batch_size, progress=progress
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


def _alert_table(alerts: Sequence[model.Alert]) -> Table:
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


def _organizations_table(organizations: Sequence[model.Organization]) -> RenderableType:
    rows = [[o.org_id, o.name, o.timezone, _opt(o.anchor)] for o in organizations]
    if not rows:
        return Text("(no organizations)")
    return _table(["organization", "name", "time zone", "anchor"], rows)


def _catalog_versions_table(versions: Sequence[CatalogVersion]) -> Table:
    rows = [
        [
            str(v.version),
            v.effective_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
            ", ".join(
                f"{p.code} ({', '.join(t.code for t in p.license_types)})"
                for p in v.catalog.products
            ),
        ]
        for v in versions
    ]
    return _table(
        ["version", "effective (UTC)", "products (license types)"], rows, right=["version"]
    )


def _wallet_document(wallet: model.Wallet, values: Mapping[str, Any]) -> object:
    """The wallet as JSON, with its balance per kind."""
    data = to_jsonable(wallet)
    data["balance"] = {kind.value: to_jsonable(wallet.balance(kind)) for kind in model.LicenseKind}
    return data


# -- the commands, drawn from their declarations --------------------------------------------------


@main.group(cls=_Group)
def vendor() -> None:
    """The vendor: keys, hardware, the catalog."""


#: How a parameter is named on the command line, where its own name would read oddly.
_METAVARS = {"org_id": "ORG", "system_id": "SYSTEM"}

Shown = Callable[[Any, Mapping[str, Any]], RenderableType]


@attrs.frozen
class Verb:
    """What a command's declaration cannot say about its CLI form; the rest is drawn from it.

    Attributes:
        name: the command's name (under ``vendor`` for the vendor's commands).
        arguments: the parameters given as positional arguments, in order; a
            ``COUNTS`` one takes ``TYPE=N``...; the others are ``--options``.
        more: help text after the summary.
        show: the text shown for the result, given the values passed.
        document: the ``--json`` document; None: the result itself.
    """

    name: str
    arguments: tuple[str, ...]
    show: Shown
    more: str = ""
    document: Callable[[Any, Mapping[str, Any]], object] | None = None


def _shows(render: Callable[[Any], RenderableType], empty: str = "") -> Shown:
    """Show a result with ``render``; an empty listing as ``empty``."""
    return lambda result, values: render(result) if result or not empty else Text(empty)


def _system(status: model.SystemStatus) -> Table:
    return _system_table([status])


def _issued(key: str, v: Mapping[str, Any]) -> object:
    return {"key": key, "product": v["product"], "kind": v["kind"], "quantities": v["quantities"]}


def _shipped(_: None, v: Mapping[str, Any]) -> object:
    return {"serial": v["serial"], "product": v["product"], "preloaded": v["preloaded"]}


def _shipped_text(_: None, v: Mapping[str, Any]) -> Text:
    return Text(f"shipped {v['serial']} for {v['product']}: {_counts(v['preloaded'])}")


def _created_text(org: model.Organization, v: Mapping[str, Any]) -> Text:
    return Text(f"created organization {org.org_id} ({org.name}, {org.timezone})")


_ORG, _PRODUCT, _SYS = "org_id", "product", "system_id"
_TYPES = "Counts are TYPE=N, such as core=8 door=2"

#: The commands drawn from their declarations, by operation name.
VERBS: Mapping[str, Verb] = {
    "create_organization": Verb("create-organization", (_ORG,), _created_text),
    "register_system": Verb(
        "register-system", (_ORG, _PRODUCT, _SYS, "devices"), _shows(_system), f"{_TYPES}."
    ),
    "report_devices": Verb(
        "report-devices",
        (_ORG, _SYS, "devices"),
        _shows(_system),
        f"{_TYPES}; types left out become 0.",
    ),
    "start_subscription": Verb(
        "start",
        (_ORG, _PRODUCT),
        _shows(_status_fields),
        "Its trial begins; the first product started sets the organization's anchor.",
    ),
    "redeem_key": Verb(
        "redeem",
        (_ORG, "key"),
        _shows(_redemption_block),
        "Case, spaces, dashes and I/L/O are forgiven; one lot per type.",
    ),
    "allocate": Verb(
        "allocate",
        (_ORG, _PRODUCT, "quantities"),
        _shows(_allocation_block),
        f"{_TYPES}; overlap compensation is credited back.",
    ),
    "allocate_need": Verb(
        "allocate-need",
        (_ORG, _PRODUCT),
        _shows(_allocation_block),
        'Exactly the shortfall of the periods up to --through: "Confirm allocation".',
    ),
    "register_hardware": Verb("register-hardware", (_ORG, _SYS, "serial"), _shows(_system)),
    "allocate_to_hardware": Verb(
        "allocate-to-hardware",
        (_ORG, "serial", "quantities"),
        _shows(_system),
        f"{_TYPES}. From the wallet onto a registered unit, for the unit's lifetime;\n"
        "shows the system the unit is attached to.",
    ),
    "vendor.issue_key": Verb(
        "issue-key", (_PRODUCT, "quantities"), _shows(Text), f"{_TYPES}.", document=_issued
    ),
    "vendor.ship_hardware": Verb(
        "ship-hardware",
        ("serial", _PRODUCT, "preloaded"),
        _shipped_text,
        f"{_TYPES}: its preloaded hardware licenses.",
        document=_shipped,
    ),
    "need": Verb(
        "need",
        (_ORG, _PRODUCT),
        _shows(_need_block),
        "What each period needs, holds and lacks, and what to buy.",
    ),
    "wallet": Verb(
        "wallet",
        (_ORG, _PRODUCT),
        _shows(_wallet_block),
        "Its live lots, earliest expiry first (the order allocation uses them in),\n"
        "and its fractional credit. With --json, the result also holds the\n"
        "balance per kind.",
        document=_wallet_document,
    ),
    "system_status": Verb("system-status", (_ORG, _SYS), _shows(_system)),
    "history": Verb(
        "history",
        (_ORG,),
        _shows(_history_table, "(no activities)"),
        "--since and --until take a local date (inclusive) or an instant with a\nUTC offset.",
    ),
    "organizations": Verb("organizations", (), _shows(_organizations_table)),
    "organization": Verb("organization", (_ORG,), _shows(lambda o: _organizations_table([o]))),
    "products": Verb("products", (_ORG,), _shows(_status_table)),
    "systems": Verb("systems", (_ORG,), _shows(_system_table, "(no systems)")),
    "alerts": Verb("alerts", (_ORG,), _shows(_alert_table, "(no alerts)")),
    "catalog_versions": Verb(
        "catalog-versions",
        (),
        _shows(_catalog_versions_table),
        "With --json, each version holds its whole catalog.",
    ),
}


def _help_of(p: Param) -> str:
    return p.doc[:1].upper() + p.doc[1:] + "."


def _enum_option(p: Param, flag: str, shown: dict[str, Any]) -> click.Option:
    assert p.choices is not None
    default = p.default.value if isinstance(p.default, enum.Enum) else p.default
    choice = click.Choice([c.value for c in p.choices])
    return click.Option([flag], type=choice, **{**shown, "default": default})


def _counts_option(p: Param, flag: str, shown: dict[str, Any]) -> click.Option:
    return click.Option(
        [flag], multiple=True, callback=_parse_counts, metavar="TYPE=N", help=shown["help"]
    )


def _at_option_of(p: Param, flag: str, shown: dict[str, Any]) -> click.Option:
    if p.name == "at":
        help_text = "An instant with a UTC offset (default: now)."
    else:
        help_text = shown["help"].rstrip(".") + ": an instant with a UTC offset."
    return click.Option([flag], callback=_parse_at, metavar="ISO", help=help_text)


def _bound_option(p: Param, flag: str, shown: dict[str, Any]) -> click.Option:
    return click.Option([flag], callback=_parse_bound, metavar="DATE|ISO", help=shown["help"])


def _repeated_option(p: Param, flag: str, shown: dict[str, Any]) -> click.Option:
    """A list of strings: ``--action A --action B`` (the flag is the singular); none given
    is None (every action, every type, no limit)."""
    help_text = shown["help"] + " Repeatable."
    metavar = {Check.IDS: "ID", Check.EVENT_TYPES: "TYPE", Check.ACTIONS: "ACTION"}[p.check]
    return click.Option(
        [flag.removesuffix("s"), p.name],
        multiple=True,
        metavar=metavar,
        callback=lambda ctx, param, values: tuple(values) or None,
        help=help_text,
    )


def _flag_option(p: Param, flag: str, shown: dict[str, Any]) -> click.Option:
    """A bool: ``--allow-http`` when it defaults to False, else ``--enabled/--no-enabled``
    (not given: its default, None meaning "kept")."""
    if p.default is False:
        return click.Option([flag], is_flag=True, default=False, help=shown["help"])
    negative = f"--no-{flag.removeprefix('--')}"
    default = None if p.default is REQUIRED else p.default
    help_text = f"{shown['help']} {flag}: true, {negative}: false."
    return click.Option([f"{flag}/{negative}", p.name], default=default, help=help_text)


def _read_password(ctx: click.Context, param: click.Parameter, value: bool) -> str | None:
    """The first line of stdin under ``--password-stdin``; else None."""
    if not value:
        return None
    return sys.stdin.readline().rstrip("\r\n")


def _password_option(p: Param, flag: str, shown: dict[str, Any]) -> click.Option:
    """A password never on the command line (where ``ps`` shows it): read from stdin."""
    return click.Option(
        [flag + "-stdin", p.name],
        is_flag=True,
        callback=_read_password,
        help=shown["help"].rstrip(".") + ", read from the first line of standard input.",
    )


#: The click option of a parameter, by its check; any other is text (``--product``).
_OPTIONS: Mapping[Check, Callable[[Param, str, dict[str, Any]], click.Option]] = {
    Check.ENUM: _enum_option,
    Check.COUNTS: _counts_option,
    Check.DATETIME: _at_option_of,
    Check.DATE_OR_DATETIME: _bound_option,
    Check.ACTIONS: _repeated_option,
    Check.EVENT_TYPES: _repeated_option,
    Check.IDS: _repeated_option,
    Check.FLAG: _flag_option,
    Check.PASSWORD: _password_option,
    Check.INT: lambda p, flag, shown: click.Option([flag], type=click.INT, **shown),
}


def _cli_param(p: Param, verb: Verb) -> click.Parameter:
    """The click argument or option of ``p``; the library checks its value (R14).

    Only the form of a value is the CLI's: ``TYPE=N``, an integer, an instant.
    """
    if p.name in verb.arguments:
        if p.check is Check.COUNTS:
            return click.Argument([p.name], nargs=-1, callback=_parse_counts, metavar="[TYPE=N]...")
        return click.Argument([p.name], metavar=_METAVARS.get(p.name, p.name.upper()))
    flag = "--" + p.name.replace("_", "-")
    shown: dict[str, Any] = {"default": p.default, "show_default": p.default is not None}
    if p.required:
        # a value that may be None is not given to mean None (the library needs it said)
        shown = {"default": None} if p.optional else {"required": True}
    shown["help"] = _help_of(p)
    make = _OPTIONS.get(p.check)
    if make is not None:
        return make(p, flag, shown)
    return click.Option([flag], type=click.STRING, **shown)


def _params_of(
    decorator: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> list[click.Parameter]:
    """The click parameters a decorator such as :func:`_options_of_write` adds, in help order."""

    def probe() -> None: ...

    decorator(probe)
    return list(reversed(probe.__click_params__))  # type: ignore[attr-defined]


def derived_command(op: Operation, verb: Verb) -> click.Command:
    """The click command of the declared command or query ``op``.

    Its arguments and options are the declaration's parameters, with
    ``--db`` and ``--json`` (and ``--catalog``, ``--actor`` and ``--request-id``
    for a command); it runs :meth:`Manager.execute`, so the library checks
    every value, and an error exits with its family's code.
    """
    command_kind = op.kind is Kind.COMMAND
    # --actor and --request-id: only where the declaration has them (members.accept has neither)
    declared = {p.name for p in op.params}
    shared = [n for n in ("actor", "request_id") if command_kind and n in declared]
    own = [p for p in op.params if p.name not in shared]

    def run(**given: Any) -> None:
        values = {p.name: given[p.name] for p in own}
        values.update({name: given[name] for name in shared})
        with store(given["db"], catalog=given.get("catalog")) as manager:
            result = manager.execute(op.name, **values)
        document = verb.document(result, values) if verb.document else result
        _done(given["as_json"], document, lambda: verb.show(result, values))

    options = [p for p in own if p.name not in verb.arguments]
    arguments = sorted(
        (p for p in own if p.name in verb.arguments), key=lambda p: verb.arguments.index(p.name)
    )
    return click.Command(
        verb.name,
        callback=run,
        params=[
            *_params_of(_options_of_write(*shared) if command_kind else db_option),
            *(_cli_param(p, verb) for p in options),
            *_params_of(json_option),
            *(_cli_param(p, verb) for p in arguments),
        ],
        help=op.summary + ("\n\n" + verb.more if verb.more else ""),
    )


def default_verb(op: Operation) -> Verb:
    """The CLI form of an operation :data:`VERBS` does not list.

    Its name is the operation's last part with dashes (``webhooks.rotate_secret``
    is ``webhooks rotate-secret``); its required ids (``org_id``, ...) and counts
    are positional arguments, the rest options; it shows its result as JSON (``done``
    for a command that returns nothing).
    """
    positional = (Check.ID, Check.NEW_ID, Check.PRODUCT, Check.KEY, Check.TEXT, Check.COUNTS)
    arguments = tuple(
        p.name
        for p in op.params
        if p.required
        and not p.optional  # one that may be None is an option: ``webhooks add`` without
        # ``--org-id`` adds a vendor-wide endpoint (SPEC §7)
        and p.check in positional
        and p.name not in ("actor", "request_id")
    )
    return Verb(op.path[-1].replace("_", "-"), arguments, _as_json_text)


def _as_json_text(result: object, values: Mapping[str, Any]) -> Text:
    """A result as indented JSON; a command that returns nothing says ``done``."""
    if result is None:
        return Text("done")
    return Text(json.dumps(to_jsonable(result), indent=2, sort_keys=True, ensure_ascii=False))


def verb_of(op: Operation) -> Verb:
    """The CLI form of ``op``: its entry in :data:`VERBS`, or :func:`default_verb`."""
    return VERBS.get(op.name) or default_verb(op)


#: Operations whose CLI command is written by hand: bytes in and out, a catalog file, a
#: timeline, and the loops of events out (``deliver --forever``, ``sweep --every``,
#: in :mod:`axis_licensing.cli_events`).
OWN_COMMANDS = {
    "upload_system_file": "upload-system-file",
    "vendor.publish_catalog": "vendor publish-catalog",
    "status": "status",
    "deliver": "deliver",
    "sweep": "sweep",
}


def _group_of(op: Operation) -> click.Group:
    """The group a command joins: ``main``, or one per dotted prefix (``vendor``, ...)."""
    group: click.Group = main
    for part in op.path[:-1]:
        found = group.commands.get(part)
        if not isinstance(found, click.Group):
            found = _Group(part, help=f"The {part} commands.")
            group.add_command(found)
        group = found
    return group


for _op in OPERATIONS.values():
    if _op.name not in OWN_COMMANDS:
        _group_of(_op).add_command(derived_command(_op, verb_of(_op)))
main.add_command(cli_events.deliver)
main.add_command(cli_events.sweep)
main.add_command(cli_accounts.set_password)


def _output_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--output/-o PATH``: where a command writes the file it makes ('-': stdout)."""
    return click.option(
        "--output",
        "-o",
        default="-",
        show_default=True,
        metavar="PATH",
        help=f"Where to write the {what} ('-': stdout).",
    )


def _now_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--at ISO``, the library's ``now``: an instant with a UTC offset (default: now)."""
    return click.option(
        "--at",
        "now",
        callback=_parse_at,
        metavar="ISO",
        help=f"{what}: an instant with a UTC offset (default: now).",
    )


@main.command(name="upload-system-file")
@_write_options
@_output_option("signed license file")
@json_option
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
    data = read_bytes(file)
    with store(db, catalog=catalog) as manager:
        license_file = manager.upload_system_file(org, data, actor=actor, request_id=request_id)
    _write_output(output, license_file, as_json, "license file")


# -- queries ---------------------------------------------------------------------------------


@main.command()
@db_option
@_at_option
@click.option(
    "--timeline",
    is_flag=True,
    help="Draw the periods, windows, allocations, licensed-through date and lot expiries.",
)
@click.option("--svg", metavar="PATH", default=None, help="Also write the timeline as an SVG file.")
@ranged_option(
    "--horizon", click.IntRange(min=0), 5, "Periods ahead of the current one on the timeline."
)
@json_option
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
    with store(db) as manager:
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
            fail(f"cannot write {svg!r}: {exc.strerror}")
    if as_json:
        _emit_json(drawn)
        return
    width = _width() or 80
    _show(render_timeline(drawn, width))
    if svg is not None:
        click.echo(f"wrote {svg}", err=True)


@vendor.command(name="publish-catalog")
@_write_options
@json_option
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
    new = read_catalog_file(file)
    with store(db, catalog=catalog) as manager:
        number = manager.vendor.publish_catalog(new, actor=actor, request_id=request_id)
    result = {"version": number}
    _done(as_json, result, lambda: Text(f"the store's catalog is version {number}"))


def _write_output(output: str, data: bytes, as_json: bool, what: str) -> None:
    """Write ``data`` to ``output`` ('-': stdout); with --json and a path, say where, how much."""
    if output == "-":
        # the exact bytes, so that a pipe carries a file the library takes; a newline
        # only for a terminal's prompt
        stream = sys.stdout.buffer
        stream.write(data + b"\n" if sys.stdout.isatty() else data)
        stream.flush()
        return
    try:
        Path(output).write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {output!r}: {exc.strerror}")
    result = {"output": output, "bytes": len(data)}
    _done(as_json, result, lambda: Text(f"wrote the {what} to {output}"))


# -- the offline system's side (R12): no store needed -----------------------------------------


@main.command(name="describe-system")
@click.option(
    "--hardware",
    multiple=True,
    metavar="SERIAL",
    help="The serial of a hardware unit attached to the system (repeat for more).",
)
@_now_option("When the file is made")
@_output_option("system description file")
@json_option
@click.argument("system_id")
@click.argument("product")
@click.argument("devices", nargs=-1, callback=_parse_counts, metavar="[TYPE=N]...")
def describe_system(
    *,
    hardware: tuple[str, ...],
    now: datetime | None,
    output: str,
    as_json: bool,
    system_id: str,
    product: str,
    devices: Mapping[str, int],
) -> None:
    """Build an offline system's description file (R12), for upload-system-file.

    Counts are TYPE=N, such as core=8 door=2: the devices per license type.
    The file goes to --output; with --json and an --output path, stdout gets
    {"output", "bytes"}.
    """
    made_at = clock_now() if now is None else now
    data = offline.describe_system(
        system_id=system_id, product=product, devices=devices, hardware=hardware, now=made_at
    )
    _write_output(output, data, as_json, "system description file")


@main.command(name="verify-license-file")
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="PATH",
    help="A PEM public key to trust (repeat for more; default: the store's, from --db).",
)
@click.option(
    "--system-id",
    required=True,
    metavar="ID",
    help="The id of the system checking the file (the file must be issued for it).",
)
@db_option
@_now_option("The instant to check at")
@json_option
@click.argument("file", metavar="FILE|-")
def verify_license_file(
    *,
    system_id: str,
    keys: tuple[str, ...],
    db: str,
    now: datetime | None,
    as_json: bool,
    file: str,
) -> None:
    """Check a license file as the offline system does (R12) and show what it grants.

    FILE is the license file ('-': stdin). It is trusted when signed by one of
    the --key public keys, or without --key by the store's (public-key shows
    it). A rejected file exits with code 8 and says why.
    """
    data = read_bytes(file)
    if keys:
        trusted = [read_bytes(path) for path in keys]
    else:
        with store(db) as manager:
            trusted = [manager.public_key]
    checked_at = clock_now() if now is None else now
    granted = offline.verify_license_file(
        data, trusted_keys=trusted, system_id=system_id, now=checked_at
    )
    # what the system decides on is may_run (R12), a property the JSON form adds
    document = {**to_jsonable(granted), "may_run": granted.may_run}
    _done(as_json, document, lambda: _entitlement_fields(granted))


def _entitlement_fields(granted: offline.Entitlement) -> RenderableType:
    return _fields(
        [
            ("organization", granted.org_id),
            ("system", granted.system_id),
            ("product", granted.product),
            ("state", str(granted.state)),
            ("licensed", "yes" if granted.licensed else "no"),
            ("may run", "yes" if granted.may_run else "no"),
            ("valid until", f"{granted.valid_until} ({granted.timezone}), inclusive"),
            ("devices", _counts(granted.devices)),
            ("issued at", granted.issued_at.isoformat()),
        ]
    )


@main.command(name="public-key")
@db_option
@json_option
def public_key(*, db: str, as_json: bool) -> None:
    """Print the key that verifies license files (R12).

    The store's public key, PEM, for offline systems to trust.
    """
    with store(db) as manager:
        pem = manager.public_key.decode("ascii")
    if as_json:
        _emit_json({"public_key": pem})
        return
    click.echo(pem, nl=False)


@main.command()
@db_option
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
def serve(*, workers: int, **options: Any) -> None:
    """Serve the JSON API (/v1, /openapi.json, /docs) and the portal with uvicorn (SPEC §6).

    Also GET /healthz (the process is up), GET /readyz (the store answers) and
    GET /metrics (Prometheus text), which need no API token.
    """
    metrics_dir: str | None = None
    if workers > 1:  # before prometheus_client is imported: each worker writes its values there
        metrics_dir = tempfile.mkdtemp(prefix="axis-licensing-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        _serve(workers=workers, **options)
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
        fail(f"serve needs the server extra: pip install 'axis-licensing[server]' ({exc})")
    if tokens is not None:
        TokenFile.load(tokens)  # refuse a malformed file before any worker starts
    url = url_of(db)
    if workers > 1 and url.lower().startswith("memory:"):
        fail("a memory:// store lives in one process: serve it with --workers 1")
    try:
        open_store(db, catalog=catalog).close()  # create it once, or check its catalog
    except (errors.CatalogRequired, errors.StoreNotFound) as exc:
        fail(
            f"{_one_line(exc)}; to create a store, pass --catalog NAME ('demo', 'example', "
            "a JSON file or MODULE:ATTRIBUTE) to record its catalog"
        )
    state = Path(state_dir).resolve() if state_dir else ops.default_state_dir(url)
    _, where = ops.session_secret(
        file=session_secret_file, env=os.environ.get(ops.ENV_SECRET), state_dir=state
    )
    click.echo(f"axis-licensing: the session secret is in {where}", err=True)
    if catalog is not None and catalog not in CATALOGS and os.path.isfile(catalog):
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
    uvicorn.run(
        _SERVED_APP,
        host=host,
        port=port,
        workers=workers,
        forwarded_allow_ips=forwarded_allow_ips,  # None: $FORWARDED_ALLOW_IPS, else 127.0.0.1
        **_UVICORN,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
