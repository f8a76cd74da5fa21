"""Rewrite the generated parts of docs/cli.md, and docs/timeline.svg, from the CLI itself.

- Every ``$ axis-licensing … --help`` block: what that command prints.
- The session between ``<!-- session -->`` and ``<!-- /session -->``: the
  commands of :data:`SESSION` run in order on a fresh store, on a manual
  clock, with their output (and exit code when it is not 0).
- docs/timeline.svg: ``status --timeline --svg`` on the demo's database.

Run ``python docs/hooks/update_cli_help.py`` after changing a command;
``tests/test_docs.py`` fails while the page or the SVG is stale.
"""

from __future__ import annotations

import re
import shlex
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from axis_licensing import ManualClock, _cli_store, offline
from axis_licensing.cli import main

DOCS = Path(__file__).resolve().parents[1]
PAGE = DOCS / "cli.md"
SVG = DOCS / "timeline.svg"
BLOCK = re.compile(r"```text\n\$ axis-licensing ([^\n]*--help)\n.*?^```", re.S | re.M)
SESSION_BLOCK = re.compile(r"(<!-- session -->\n).*?(<!-- /session -->)", re.S)

#: The width the page's examples are drawn at.
COLUMNS = 100
#: The instant every command of the session runs at.
SESSION_AT = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
#: The session: shell lines. ``VAR=$(axis-licensing …)`` keeps a command's output for ``"$VAR"``.
SESSION = (
    "export AXIS_LICENSING_DB=cli-session.db AXIS_LICENSING_ACTOR=alice",
    "KEY=$(axis-licensing vendor issue-key --catalog example acs-pro core=10 door=2"
    " --request-id qs-key)",
    "echo $KEY",
    "axis-licensing create-organization acme --name 'Acme AB' --timezone Europe/Stockholm"
    " --request-id qs-org",
    "axis-licensing register-system acme acs-pro srv-1 core=8 door=2 --request-id qs-srv",
    "axis-licensing start acme acs-pro --request-id qs-start",
    'axis-licensing redeem acme "$KEY" --request-id qs-redeem',
    "axis-licensing allocate-need acme acs-pro --request-id qs-need",
    "axis-licensing need acme acs-pro --horizon 2",
    "axis-licensing allocate acme acs-pro core=20 --period 1 --json",
    "echo $?",
    "axis-licensing systems acme",
    "axis-licensing alerts acme --at 2027-12-01T12:00:00Z",
    "axis-licensing history acme --limit 3",
)
#: A fixed signing key for the session, so that its license key is the same on every run.
_SESSION_SIGNING_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32))).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)


def help_block(args: list[str]) -> str:
    """The fenced block showing ``axis-licensing ARGS --help`` and what it prints."""
    result = CliRunner().invoke(
        main, [*args, "--help"], prog_name="axis-licensing", terminal_width=80
    )
    assert result.exit_code == 0, result.output
    shown = " ".join([*args, "--help"])
    return f"```text\n$ axis-licensing {shown}\n{result.output.rstrip()}\n```"


@contextmanager
def _fixed(at: datetime) -> Iterator[None]:
    """The CLI on a manual clock at ``at``, and a fixed signing key for new stores."""
    with (
        mock.patch.object(_cli_store, "SystemClock", return_value=ManualClock(at)),
        mock.patch.object(offline, "generate_signing_key", return_value=_SESSION_SIGNING_KEY),
    ):
        yield


def session_block() -> str:
    """The session's console block: each line of :data:`SESSION` and what it prints."""
    out: list[str] = ["```console"]
    variables: dict[str, str] = {}
    env = {"COLUMNS": str(COLUMNS)}
    exit_code = 0
    with tempfile.TemporaryDirectory() as tmp, _fixed(SESSION_AT):
        runner = CliRunner(env=env)
        for line in SESSION:
            out.append(f"$ {line}")
            if line.startswith("export "):
                for pair in shlex.split(line)[1:]:
                    name, _, value = pair.partition("=")
                    env[name] = str(Path(tmp) / value) if name.endswith("_DB") else value
                runner = CliRunner(env=env)
                continue
            if line.startswith("echo "):
                name = line.split()[1].lstrip("$")
                out.append(str(exit_code) if name == "?" else variables[name])
                continue
            target = None
            command = line
            assign = re.fullmatch(r"(\w+)=\$\((.*)\)", line)
            if assign is not None:
                target, command = assign.group(1), assign.group(2)
            for name, value in variables.items():
                command = command.replace(f'"${name}"', shlex.quote(value))
            args = shlex.split(command)
            assert args[0] == "axis-licensing", line
            result = runner.invoke(main, args[1:], prog_name="axis-licensing")
            exit_code = result.exit_code
            if target is not None:
                assert exit_code == 0, result.output
                variables[target] = result.stdout.strip()
                continue
            text = result.output.rstrip()
            if text:
                out.append(text)
    out.append("```")
    return "\n".join(out) + "\n"


def timeline_svg() -> str:
    """docs/timeline.svg's text: the demo's acs-pro on 1 February 2027."""
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "demo.db")
        svg = Path(tmp) / "timeline.svg"
        runner = CliRunner()
        done = runner.invoke(main, ["demo", "--db", db, "--json"])
        assert done.exit_code == 0, done.output
        args = ["status", "--db", db, "demo-org", "acs-pro", "--at", "2027-02-01T12:00:00Z"]
        drawn = runner.invoke(main, [*args, "--timeline", "--svg", str(svg)])
        assert drawn.exit_code == 0, drawn.output
        return svg.read_text(encoding="utf-8")


def page_text() -> str:
    """docs/cli.md with every generated part brought up to date."""
    text = PAGE.read_text(encoding="utf-8")
    text = BLOCK.sub(lambda m: help_block(m.group(1).split()[:-1]), text)
    session = session_block()
    return SESSION_BLOCK.sub(lambda m: m.group(1) + session + m.group(2), text)


def update() -> None:
    """Rewrite docs/cli.md and docs/timeline.svg."""
    PAGE.write_text(page_text(), encoding="utf-8")
    SVG.write_text(timeline_svg(), encoding="utf-8")


if __name__ == "__main__":
    update()
