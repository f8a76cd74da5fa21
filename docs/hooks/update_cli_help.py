"""Rewrite the ``$ axis-licensing … --help`` blocks of docs/cli.md from the CLI itself.

Run ``python docs/hooks/update_cli_help.py`` after changing a command's options;
``tests/test_docs.py`` fails while the page is stale.
"""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from axis_licensing.cli import main

PAGE = Path(__file__).resolve().parents[1] / "cli.md"
BLOCK = re.compile(r"```text\n\$ axis-licensing ([^\n]*--help)\n.*?^```", re.S | re.M)


def help_block(args: list[str]) -> str:
    """The fenced block showing ``axis-licensing ARGS --help`` and what it prints."""
    result = CliRunner().invoke(
        main, [*args, "--help"], prog_name="axis-licensing", terminal_width=80
    )
    assert result.exit_code == 0, result.output
    shown = " ".join([*args, "--help"])
    return f"```text\n$ axis-licensing {shown}\n{result.output.rstrip()}\n```"


def update() -> None:
    """Rewrite every help block of the page."""
    text = PAGE.read_text(encoding="utf-8")
    text = BLOCK.sub(lambda m: help_block(m.group(1).split()[:-1]), text)
    PAGE.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    update()
