"""What the CLI's modules share (``cli.py``, ``cli_events.py``): each option declared once.

``cli.py`` registers the commands of ``cli_events.py`` in its group, so the
options both use live here rather than in either.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

__all__ = [
    "DEFAULT_DB",
    "HELP",
    "db_option",
    "instant_callback",
    "json_option",
    "ranged_option",
]

#: The same help options in every command, however it is invoked.
HELP: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

#: The default store, in the working directory.
DEFAULT_DB = "axis-licensing.db"

#: ``--db URL``: the store, also from ``AXIS_LICENSING_DB``.
db_option = click.option(
    "--db",
    default=DEFAULT_DB,
    envvar="AXIS_LICENSING_DB",
    show_default=True,
    show_envvar=True,
    metavar="URL",
    help="The store: sqlite:///PATH, postgresql://…, or a path to an SQLite file.",
)

#: ``--json``: print JSON instead of text.
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def ranged_option(
    name: str, kind: click.IntRange | click.FloatRange, default: float, help: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An option taking a number within ``kind``'s bounds, its default shown in the help."""
    return click.option(name, type=kind, default=default, show_default=True, help=help)


def instant_callback(
    not_iso: str, no_offset: str
) -> Callable[[click.Context, click.Parameter, str | None], datetime | None]:
    """A click callback that reads an instant with a UTC offset (None when not given).

    Args:
        not_iso: the message for text that is no ISO 8601 instant; ``{value}``
            is the text.
        no_offset: the message for an instant without an offset; ``{value}``
            is the text and ``{iso}`` the instant read.
    """

    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
        if value is None:
            return None
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(not_iso.format(value=value)) from None
        if instant.tzinfo is None:
            raise click.BadParameter(no_offset.format(value=value, iso=instant.isoformat()))
        return instant

    return parse
