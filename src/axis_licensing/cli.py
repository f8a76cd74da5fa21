"""The ``axis-licensing`` command line: ``demo``, ``migrate`` and a few read-only queries.

- ``demo`` runs the scripted scenario of :mod:`axis_licensing._demo` on a fresh
  SQLite file and prints a table after each step (``--json``: one document).
- ``migrate --from URL --to URL`` copies a whole store between backends with
  :func:`axis_licensing._migrate.migrate`; progress goes to stderr.
- ``status``, ``wallet`` and ``history`` read one organization; ``version``
  tells the version and the backend schemes installed. Each has ``--json``.

A database is a backend URL (``sqlite:///PATH``, ``postgresql://…``) or a bare
path, read as an SQLite file. Exit codes: 0 success, 1 a migration that failed
or did not verify, 2 bad usage or a refusal. Errors are one line on stderr.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import sqlite3
import sys
import textwrap
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import IO, Any, NoReturn, TextIO

import click

from axis_licensing import __version__
from axis_licensing._convert import to_jsonable
from axis_licensing._demo import DEMO_CATALOG, DEMO_ORG, STEP_KEYS, DemoRun, DemoStep, run_demo
from axis_licensing._migrate import (
    MigrationFailed,
    MigrationRefused,
    MigrationReport,
    migrate,
)
from axis_licensing._plugins import Plugins
from axis_licensing._time import SystemClock
from axis_licensing.catalog import EXAMPLE_CATALOG, Catalog
from axis_licensing.errors import CatalogRequired, LicensingError
from axis_licensing.manager import Manager
from axis_licensing.model import (
    Activity,
    Allocation,
    LicenseKind,
    Lot,
    NeedReport,
    ProductStatus,
    Redemption,
    Wallet,
)

__all__ = ["main", "render_table"]

#: The demo's default SQLite file, in the working directory.
DEMO_DB = "axis-licensing-demo.db"

_CATALOGS: dict[str, Catalog] = {"demo": DEMO_CATALOG, "example": EXAMPLE_CATALOG}


class CliError(click.ClickException):
    """A refusal or a library error: one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"error: {self.format_message()}", file=file or sys.stderr)


class CliFailure(CliError):
    """A migration that failed or did not verify: exit code 1."""

    exit_code = 1


def _fail(message: str) -> NoReturn:
    raise CliError(message)


class _Group(click.Group):
    """Turns library errors into one-line messages and exit codes, never tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MigrationFailed as exc:
            raise CliFailure(_one_line(exc)) from exc
        except LicensingError as exc:
            raise CliError(_one_line(exc)) from exc
        except ImportError as exc:  # a backend whose optional dependency is missing
            raise CliError(
                f"{_one_line(exc)}; for PostgreSQL install 'axis-licensing[postgres]'"
            ) from exc


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


# -- rendering -------------------------------------------------------------------------------


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An aligned text table: a header, a rule, the rows; numeric columns align right."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    numeric = [
        any(row[i].isdigit() for row in rows) and all(_is_number(row[i]) for row in rows)
        for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in rows)
    return "\n".join(out)


def _is_number(text: str) -> bool:
    return text.isdigit() or text == "-"


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def _fractions(values: Mapping[str, Fraction]) -> str:
    return ", ".join(f"{k} {v}" for k, v in values.items()) or "-"


def _opt(value: object) -> str:
    return "-" if value is None else str(value)


def _status_table(statuses: Sequence[ProductStatus]) -> str:
    rows = [
        [
            s.product,
            s.state.name,
            f"{s.period.start} .. {s.period.end}" if s.period is not None else "-",
            _opt(s.window_ends_on),
            _counts(s.devices),
            _counts(s.allocated),
            _counts(s.required_now),
            "exceeded" if s.growth_exceeded else "ok",
            _opt(s.licensed_through),
        ]
        for s in statuses
    ]
    return render_table(
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


def _lots_table(lots: Sequence[Lot]) -> str:
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
    return render_table(["lot", "kind", "type", "left", "acquired", "expires"], rows)


def _wallet_block(wallet: Wallet, label: str | None = None) -> str:
    head = label or f"wallet of {wallet.product}"
    lines = [head, _indent(_lots_table(wallet.lots) if wallet.lots else "(no live lots)")]
    lines.append(
        _indent(
            f"balance: subscription {_counts(wallet.balance())}; "
            f"hardware {_counts(wallet.balance(LicenseKind.HARDWARE))}; "
            f"credit {_fractions(wallet.credit)}"
        )
    )
    return "\n".join(lines)


def _redemption_block(redemption: Redemption) -> str:
    return "\n".join(
        [
            f"key ...{redemption.key_tail} redeemed into the {redemption.product} wallet",
            _indent(_lots_table(redemption.lots)),
        ]
    )


def _allocation_block(allocation: Allocation) -> str:
    rows = [
        [str(p.period.index), str(p.period.start), str(p.period.end), _counts(p.quantities)]
        for p in allocation.periods
    ]
    table = render_table(["period", "start", "end", "allocated"], rows) if rows else "(nothing)"
    return "\n".join(
        [
            f"allocation of {allocation.product}",
            _indent(table),
            _indent(
                f"compensation back to the wallet: {_counts(allocation.compensation)}; "
                f"credit now: {_fractions(allocation.credit)}"
            ),
        ]
    )


def _need_block(need: NeedReport) -> str:
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
    return "\n".join(
        [
            f"need of {need.product}",
            _indent(render_table(["offset", "period", "need", "allocated", "shortfall"], rows)),
            _indent(f"wallet {_counts(need.wallet)}; to buy {_counts(need.to_buy)}"),
        ]
    )


def _summary(activity: Activity) -> str:
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


def _history_table(activities: Sequence[Activity]) -> str:
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
    return render_table(
        ["date", "at (UTC)", "actor", "action", "product", "system", "details"], rows
    )


def _indent(text: str) -> str:
    return textwrap.indent(text, "  ")


def _step_text(step: DemoStep, number: int, total: int) -> str:
    stamp = step.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"== Step {number} of {total} · {stamp} · {step.title}"]
    parts.extend(
        textwrap.fill(note, width=100, initial_indent="   ", subsequent_indent="   ")
        for note in step.notes
    )
    blocks: list[str] = []
    blocks.extend(_redemption_block(r) for r in step.redemptions)
    blocks.extend(_allocation_block(a) for a in step.allocations)
    if step.statuses:
        blocks.append("status\n" + _indent(_status_table(step.statuses)))
    if step.need is not None:
        blocks.append(_need_block(step.need))
    for wallet, read_at in zip(step.wallets, step.wallets_at, strict=True):
        label = f"wallet of {wallet.product}"
        if read_at != step.at:
            label += f" at {read_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')}"
        blocks.append(_wallet_block(wallet, label))
    if step.activities:
        blocks.append("history\n" + _indent(_history_table(step.activities)))
    return "\n".join(parts) + "\n\n" + "\n\n".join(blocks) + "\n"


def _emit_json(value: object) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=True, ensure_ascii=False))


# -- opening stores --------------------------------------------------------------------------


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


def _load_catalog(spec: str | None) -> Catalog | None:
    if spec is None:
        return None
    if spec in _CATALOGS:
        return _CATALOGS[spec]
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        _fail(f"--catalog must be one of {', '.join(_CATALOGS)} or MODULE:ATTRIBUTE, not {spec!r}")
    try:
        value = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        _fail(f"cannot load the catalog {spec!r}: {exc}")
    if not isinstance(value, Catalog):
        _fail(f"{spec} is a {type(value).__name__}, not a Catalog")
    return value


def _open_manager(db: str, catalog: str | None) -> Manager:
    """A Manager on an existing store, for a query: it creates nothing (``create=False``).

    Without ``--catalog`` it uses the store's own catalog (R15); with one, that
    catalog must equal the store's (``CatalogMismatch`` otherwise). ``Manager.open``
    also refuses a store that ``migrate`` left incomplete.
    """
    url = _url(db)
    path = _sqlite_path(url)
    if path is not None and not os.path.exists(path):
        _fail(f"no database at {path!r}")
    return Manager.open(url, catalog=_load_catalog(catalog), clock=SystemClock(), create=False)


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


def _db_option(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--catalog",
        default=None,
        metavar="NAME",
        envvar="AXIS_LICENSING_CATALOG",
        help=(
            "Check that the store's catalog is this one: 'demo', 'example', or "
            "MODULE:ATTRIBUTE naming a Catalog. By default the store's own catalog is used."
        ),
    )(command)
    return click.option(
        "--db",
        required=True,
        envvar="AXIS_LICENSING_DB",
        metavar="URL",
        help="The store: sqlite:///PATH, postgresql://…, or a path to an SQLite file.",
    )(command)


_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


# -- commands --------------------------------------------------------------------------------


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="axis-licensing")
def main() -> None:
    """Subscription and hardware-bound license management, after AXIS License Manager."""


@main.command()
@_json_option
def version(*, as_json: bool) -> None:
    """Print the version and the backend URL schemes installed."""
    schemes = list(Plugins().backends().schemes)
    if as_json:
        _emit_json({"version": __version__, "backends": schemes})
        return
    click.echo(f"axis-licensing {__version__}")
    click.echo(f"backends: {', '.join(schemes)}")


def _demo_file_kind(path: str) -> str:
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
    """Run a scripted five-year scenario and show each step's results.

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
            click.echo(_step_text(step, number=len(shown), total=len(STEP_KEYS)))

    run: DemoRun = run_demo(url, on_step=show)
    elapsed = time.perf_counter() - started
    if as_json:
        _emit_json(run)
        return
    click.echo(
        f"Done in {elapsed:.2f} s. The database stays at {db}; for example:\n"
        f"  axis-licensing status --db {db} {run.org_id} acs-pro --at 2031-01-20T12:00:00Z"
    )


class _ProgressBars:
    """Progress per table on stderr: a click progress bar on a terminal, else a line per table."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream: TextIO = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._table: str | None = None
        self._bar: Any = None
        self._shown = 0

    def __call__(self, table: str, done: int, total: int) -> None:
        if table != self._table:
            self.close()
            self._table = table
            self._shown = 0
            if self._tty:
                self._bar = click.progressbar(
                    length=total, label=f"{table:<10}", file=self._stream, show_pos=True
                )
                self._bar.__enter__()
        if self._bar is not None and done > self._shown:
            self._bar.update(done - self._shown)
        self._shown = done
        if done >= total:
            if self._bar is None and self._table is not None:
                click.echo(f"copied {table:<10} {done:>8} rows", file=self._stream)
            self.close()
            self._table = None

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def _report_table(report: MigrationReport) -> str:
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
    return render_table(["table", "copied", "in target", "sha-256 (start)", "verified"], rows)


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
    """Copy everything from one backend to another, then verify it.

    The target is marked incomplete before the first row and unmarked only
    after every table's row count and SHA-256 checksum match the source. Stop
    writers to the source first. Exit codes: 0 verified, 1 failed or did not
    verify (the target stays marked incomplete), 2 refused.
    """
    bars = _ProgressBars()
    try:
        report = migrate(
            _url(source), _url(target), force=force, batch_size=batch_size, progress=bars
        )
    except MigrationFailed as exc:
        bars.close()
        if exc.report is not None:
            click.echo(_report_table(exc.report), err=True)
        raise
    except MigrationRefused:
        bars.close()
        raise
    finally:
        bars.close()
    if as_json:
        _emit_json({"verified": report.verified, "report": report})
        return
    click.echo(_report_table(report))
    cleared = " (the target was cleared first)" if report.cleared_target else ""
    click.echo(
        f"Copied {report.rows} rows from {report.source} to {report.target}{cleared}; "
        "every table verified."
    )


@main.command()
@_db_option
@click.option("--at", callback=_parse_at, metavar="ISO", help="An instant with a UTC offset.")
@_json_option
@click.argument("org")
@click.argument("product")
def status(
    *, db: str, catalog: str | None, at: datetime | None, as_json: bool, org: str, product: str
) -> None:
    """Show a product's license status in an organization (R3, R5)."""
    with _open_manager(db, catalog) as manager:
        result = manager.status(org, product, at=at)
    if as_json:
        _emit_json(result)
        return
    click.echo(_status_table([result]))


@main.command()
@_db_option
@click.option("--at", callback=_parse_at, metavar="ISO", help="An instant with a UTC offset.")
@_json_option
@click.argument("org")
@click.argument("product")
def wallet(
    *, db: str, catalog: str | None, at: datetime | None, as_json: bool, org: str, product: str
) -> None:
    """Show a product's wallet: live lots and fractional credit (R6, R8).

    Lots are listed earliest expiry first, the order allocation uses them in.
    """
    with _open_manager(db, catalog) as manager:
        result = manager.wallet(org, product, at=at)
    if as_json:
        data = to_jsonable(result)
        data["balance"] = {kind.value: to_jsonable(result.balance(kind)) for kind in LicenseKind}
        click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
        return
    click.echo(_wallet_block(result))


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
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many first.")
@_json_option
@click.argument("org")
def history(
    *,
    db: str,
    catalog: str | None,
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
    """Show an organization's activity history, oldest first (R11).

    --since and --until take a local date (inclusive) or an instant with a UTC offset.
    """
    with _open_manager(db, catalog) as manager:
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
    if as_json:
        _emit_json(result)
        return
    click.echo(_history_table(result) if result else "(no activities)")


@main.command()
@click.option(
    "--db",
    required=True,
    envvar="AXIS_LICENSING_DB",
    metavar="URL",
    help="The store: sqlite:///PATH, postgresql://…, or a path to an SQLite file.",
)
@click.option(
    "--catalog",
    default=None,
    metavar="NAME",
    help="Record this catalog in a new store ('demo', 'example' or MODULE:ATTRIBUTE); "
    "an existing store uses its own (R15).",
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
def serve(*, db: str, catalog: str | None, host: str, port: int, tokens: str | None) -> None:
    """Serve the JSON API (/v1, /openapi.json, /docs) and the portal with uvicorn (SPEC §6)."""
    try:
        import uvicorn

        from axis_licensing.http import TokenEntry, TokenFile, create_app, hash_token
    except ImportError as exc:
        _fail(f"serve needs the server extra: pip install 'axis-licensing[server]' ({exc})")
    plugin = TokenFile.load(tokens) if tokens is not None else None
    url = _url(db)
    chosen = _load_catalog(catalog) if catalog is not None else None
    try:
        manager = Manager.open(url, catalog=chosen, clock=SystemClock())
    except CatalogRequired:
        _fail(
            "this store has no catalog yet: pass --catalog NAME ('demo', 'example' or "
            "MODULE:ATTRIBUTE) to record one"
        )
    with manager:
        if plugin is None:
            token = secrets.token_urlsafe(24)
            plugin = TokenFile(
                [TokenEntry(hash_token(token), "admin", frozenset({"*"}), vendor=True)]
            )
            click.echo(f"No --tokens file: sign in as 'admin' with this token: {token}", err=True)
        app = create_app(manager, tokens=plugin)
        click.echo(f"axis-licensing: the portal is at http://{host}:{port}/", err=True)
        uvicorn.run(app, host=host, port=port, log_level="info")


if __name__ == "__main__":  # pragma: no cover
    main()
