"""The timeline of one product in one organization, for ``axis-licensing status --timeline``.

:func:`build_timeline` reads it through the public queries (``status``,
``need`` and ``wallet`` at one instant); :func:`render_timeline` draws it with
rich as lines of exactly the console's width, so the same drawing goes to a
terminal or, recorded, to an SVG file (:func:`save_timeline_svg`).

Nothing here decides a rule: the windows, allocations, shortfalls, the
licensed-through date and the lot expiries are the library's answers.
"""

from __future__ import annotations

import io
from datetime import date, datetime

import attrs
from rich.console import Console, Group
from rich.text import Text

from axis_licensing._counts import Counts
from axis_licensing._time import local_date
from axis_licensing.manager import Manager
from axis_licensing.model import LicenseKind, PeriodNeed, ProductState, ProductStatus

__all__ = [
    "LABEL_WIDTH",
    "ExpiringLots",
    "Timeline",
    "Window",
    "build_timeline",
    "render_timeline",
    "save_timeline_svg",
]

#: The width of the label column, in characters.
LABEL_WIDTH = 18
#: The narrowest chart drawn, in characters, whatever the terminal's width.
MIN_CHART = 24
#: The SVG's width, in characters.
SVG_WIDTH = 130

_PERIOD_STYLES = ("bright_cyan", "blue")
_COVERED = "bold green"
_SHORT = "bold red"
_WINDOW = "yellow"
_MARK = "bold magenta"
_LOTS = "bold blue"


@attrs.frozen
class Window:
    """A trial or grace window: ``[start, end)`` in local dates (R3)."""

    kind: str
    start: date
    end: date


@attrs.frozen
class ExpiringLots:
    """The live lots that expire on one date (R6): subscription counts per type."""

    expires_on: date
    quantities: Counts = attrs.field(converter=Counts)


@attrs.frozen
class Timeline:
    """What ``status --timeline`` draws, as of one instant.

    Attributes:
        status: the product's status at ``at``.
        on: the organization's local date of the instant read at, marked as now.
        periods: the current period and the ones ahead (``need`` offsets 0..horizon),
            each with its need, allocation and shortfall.
        window: the current period's trial or grace window, if it has one.
        lots: the live subscription lots, grouped by expiry date, soonest first.
    """

    status: ProductStatus
    on: date
    periods: tuple[PeriodNeed, ...]
    window: Window | None
    lots: tuple[ExpiringLots, ...]


def build_timeline(
    manager: Manager, org_id: str, product: str, *, at: datetime | None, horizon: int = 5
) -> Timeline:
    """Read a product's timeline through the public queries.

    Args:
        manager: an open Manager.
        org_id: the organization.
        product: the product.
        at: the instant to read at. None is the queries' own "now",
            ``max(clock now, the latest recorded activity)`` (SPEC §1): it is
            found once, and the three queries read at that one instant.
        horizon: how many periods ahead of the current one to show.

    Returns:
        The timeline. A product that has not started has no periods.

    Raises:
        InvalidInput: a bad id or a naive ``at``.
        UnknownOrganization: no such organization.
        UnknownProduct: the catalog has no such product.
        StorageError: the backend failed.
    """
    if at is None:
        now = manager.clock.now()
        later = manager.history(org_id, since=now)
        at = max([now, *(activity.at for activity in later)])
    status = manager.status(org_id, product, at=at)
    wallet = manager.wallet(org_id, product, at=at)
    periods: tuple[PeriodNeed, ...] = ()
    window: Window | None = None
    if status.state is not ProductState.NOT_STARTED and status.period is not None:
        periods = manager.need(org_id, product, at=at, horizon=horizon).periods
        if status.window_ends_on is not None:
            started = status.started_on
            if started is not None and started >= status.period.start:
                window = Window("trial", started, status.window_ends_on)
            else:
                window = Window("grace", status.period.start, status.window_ends_on)
    by_expiry: dict[date, dict[str, int]] = {}
    for lot in wallet.lots:
        if lot.kind is LicenseKind.SUBSCRIPTION:
            counts = by_expiry.setdefault(lot.expires_on, {})
            counts[lot.license_type] = counts.get(lot.license_type, 0) + lot.quantity
    lots = tuple(ExpiringLots(day, by_expiry[day]) for day in sorted(by_expiry))
    created = manager.history(org_id, actions=["organization_created"], limit=1)
    zone = str(created[0].details.get("timezone", "UTC")) if created else "UTC"
    on = local_date(at, zone)
    return Timeline(status=status, on=on, periods=periods, window=window, lots=lots)


def _counts_text(counts: Counts) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


class _Row:
    """One chart line: characters and a style per column."""

    def __init__(self, width: int) -> None:
        self.chars = [" "] * width
        self.styles: list[str | None] = [None] * width

    def fill(self, start: int, end: int, char: str, style: str | None) -> None:
        for col in range(max(start, 0), min(end, len(self.chars))):
            self.chars[col] = char
            self.styles[col] = style

    def put(self, col: int, text: str, style: str | None, *, limit: int | None = None) -> int:
        """Write ``text`` from ``col``, cut with ``…`` at ``limit`` or the row's end.

        Returns:
            The columns written.
        """
        stop = len(self.chars) if limit is None else min(limit, len(self.chars))
        if col + len(text) > stop and stop - col >= 1:
            text = text[: stop - col - 1] + "…"
        written = 0
        for i, char in enumerate(text):
            if col + i >= stop:
                break
            if col + i >= 0:
                self.chars[col + i] = char
                self.styles[col + i] = style
                written += 1
        return written

    def text(self, label: str) -> Text:
        out = Text(label[: LABEL_WIDTH - 1].ljust(LABEL_WIDTH), style="bold", no_wrap=True)
        start = 0
        for col in range(1, len(self.chars) + 1):
            if col == len(self.chars) or self.styles[col] != self.styles[start]:
                out.append("".join(self.chars[start:col]), style=self.styles[start] or "")
                start = col
        return out


class _Scale:
    """Maps dates to chart columns."""

    def __init__(self, first: date, last: date, width: int) -> None:
        self.first = first
        self.days = max((last - first).days, 1)
        self.width = width

    def col(self, day: date) -> int:
        return round((day - self.first).days * (self.width - 1) / self.days)


def render_timeline(timeline: Timeline, width: int) -> Group:
    """The timeline drawn as text lines of exactly ``max(width, LABEL_WIDTH + MIN_CHART)``.

    Rows: the periods (alternating shades, with their index), the trial or
    grace window, the allocation per period (green when the period is covered,
    red when it falls short) and the shortfall, the licensed-through date, one
    row per lot expiry date, a date axis, and ``▲`` at now.

    Args:
        timeline: what to draw.
        width: the console's width in characters.

    Returns:
        A rich renderable.
    """
    status = timeline.status
    chart = max(width - LABEL_WIDTH, MIN_CHART)
    head = _header(timeline)
    if not timeline.periods:
        return Group(head, Text("(not started: no periods to draw)"))
    dates = [timeline.periods[0].period.start, timeline.periods[-1].period.end]
    dates.extend(lots.expires_on for lots in timeline.lots)
    if status.licensed_through is not None:
        dates.append(status.licensed_through)
    if timeline.window is not None:
        dates.extend((timeline.window.start, timeline.window.end))
    scale = _Scale(min(dates), max(dates), chart)
    lines: list[Text] = [head]

    periods = _Row(chart)
    allocated = _Row(chart)
    shortfall = _Row(chart)
    for i, need in enumerate(timeline.periods):
        start, end = scale.col(need.period.start), scale.col(need.period.end)
        style = _PERIOD_STYLES[i % 2]
        periods.fill(start, end, "━", style)
        periods.put(start, f"P{need.period.index}", f"bold {style}", limit=end)
        covered = not need.shortfall
        allocated.put(
            start, _counts_text(need.allocated), _COVERED if covered else _SHORT, limit=end - 1
        )
        if need.shortfall:
            shortfall.put(start, _counts_text(need.shortfall), _SHORT, limit=end - 1)
    lines.append(periods.text("periods"))
    if timeline.window is not None:
        row = _Row(chart)
        start, end = scale.col(timeline.window.start), scale.col(timeline.window.end)
        end = max(end, start + 1)
        row.fill(start, end, "█", _WINDOW)
        row.put(end + 1, f"ends {timeline.window.end}", None)
        lines.append(row.text(f"{timeline.window.kind} window"))
    lines.append(allocated.text("allocated"))
    lines.append(shortfall.text("shortfall"))
    if status.licensed_through is not None:
        col = scale.col(status.licensed_through)
        through = _marked(chart, col, "▼", str(status.licensed_through), _MARK)
    else:
        through = _Row(chart)
        through.put(0, "-", None)
    lines.append(through.text("licensed through"))
    for lots in timeline.lots:
        label = f"{lots.expires_on}: {_counts_text(lots.quantities)}"
        row = _marked(chart, scale.col(lots.expires_on), "◆", label, _LOTS)
        lines.append(row.text("lots expire"))
    lines.append(_axis(scale, chart, timeline).text(""))
    now = _marked(chart, scale.col(timeline.on), "▲", str(timeline.on), _MARK)
    lines.append(now.text("now"))
    return Group(*lines, _legend())


def _header(timeline: Timeline) -> Text:
    """The first line: the product, its state, the current period and the date drawn."""
    status = timeline.status
    head = Text(no_wrap=False)
    head.append(f"{status.product}", style="bold")
    head.append(f"  {status.state.name}")
    if status.period is not None:
        head.append(f"  period {status.period.index}: {status.period.start} .. {status.period.end}")
    head.append(f"  as of {timeline.on}")
    return head


def _marked(chart: int, col: int, mark: str, label: str, style: str) -> _Row:
    """A row with ``mark`` at ``col`` and ``label`` after it, or before it where it does not fit."""
    row = _Row(chart)
    row.put(col, mark, style)
    if col + 2 + len(label) <= chart:
        row.put(col + 2, label, style)
    else:
        start = max(col - 1 - len(label), 0)
        row.put(start, label, style, limit=col - 1)
    return row


def _axis(scale: _Scale, chart: int, timeline: Timeline) -> _Row:
    """A rule with each period's start year."""
    row = _Row(chart)
    row.fill(0, chart, "─", "dim")
    taken = -1
    for need in timeline.periods:
        col = scale.col(need.period.start)
        label = f"┬{need.period.start.year}"
        if col > taken:
            taken = col + row.put(col, label, "dim")
    return row


def _legend() -> Text:
    legend = Text(no_wrap=False)
    legend.append("▲ now  ", style=_MARK)
    legend.append("▼ licensed through  ", style=_MARK)
    legend.append("◆ lots expire  ", style=_LOTS)
    legend.append("covered", style=_COVERED)
    legend.append(" / ")
    legend.append("short", style=_SHORT)
    return legend


def save_timeline_svg(timeline: Timeline, path: str, *, width: int = SVG_WIDTH) -> None:
    """Write the timeline as an SVG file, drawn by rich's recording console.

    Args:
        timeline: what to draw.
        path: the file to write.
        width: the drawing's width in characters.

    Raises:
        OSError: the file cannot be written.
    """
    console = Console(
        record=True,
        width=width,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        markup=False,
        highlight=False,
        emoji=False,
    )
    console.print(render_timeline(timeline, width))
    status = timeline.status
    console.save_svg(path, title=f"axis-licensing status --timeline: {status.product}")
