"""The documentation builds, covers the public surface, and its examples hold.

- ``mkdocs build --strict`` succeeds (skipped when mkdocs is not installed).
- Every name of ``axis_licensing.__all__``, every public method of
  ``Manager`` and ``Vendor`` and every history action appears in docs/api.md;
  every hook of ``axis_licensing.hookspecs`` appears in docs/plugins.md (the
  datasette meta-test, STYLE.md).
- Every ```` ```pycon ```` block of every page runs as a doctest, the blocks of
  a page sharing one namespace in order. So the worked numbers of
  docs/concepts.md (R1-R14) are checked against the code, not copied by hand.
"""

from __future__ import annotations

import doctest
import importlib.util
import inspect
import io
import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import axis_licensing
from axis_licensing import Action, Manager, Vendor, hookspecs
from axis_licensing.backends import BackendFactory

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p.name for p in DOCS.glob("*.md"))

_PYCON = re.compile(r"^```pycon[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def _in_backticks(name: str, text: str) -> bool:
    """``name`` appears as code: `` `name` ``, `` `name(…`` or `` `name.…``."""
    return re.search(r"`" + re.escape(name) + r"[`(.\[ ]", text) is not None


def _public_methods(cls: type) -> list[str]:
    return sorted(
        name
        for name, member in vars(cls).items()
        if not name.startswith("_")
        and (inspect.isfunction(member) or isinstance(member, classmethod | property))
    )


def test_docs_pages_are_listed_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert PAGES == [
        "api.md",
        "backends.md",
        "changelog.md",
        "cli.md",
        "concepts.md",
        "decisions.md",
        "errors.md",
        "events.md",
        "index.md",
        "offline.md",
        "performance.md",
        "plugins.md",
        "service.md",
        "testing.md",
    ]
    for page in PAGES:
        assert f": {page}" in nav, f"{page} is missing from the nav of mkdocs.yml"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed")
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for page in PAGES:
        built = tmp_path / ("index.html" if page == "index.md" else f"{page[:-3]}/index.html")
        assert built.is_file(), f"{page} was not built"


@pytest.mark.parametrize("name", sorted(axis_licensing.__all__))
def test_api_page_names_every_public_name(name: str) -> None:
    assert _in_backticks(name, (DOCS / "api.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "name",
    [f"Manager.{m}" for m in _public_methods(Manager)]
    + [f"vendor.{m}" for m in _public_methods(Vendor)],
)
def test_api_page_documents_every_method(name: str) -> None:
    method = name.split(".", 1)[1]
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    assert re.search(r"^#+ .*`[\w.]*" + re.escape(method) + r"[`(]", text, re.MULTILINE), (
        f"docs/api.md has no heading for {name}"
    )


@pytest.mark.parametrize("action", [a.value for a in Action])
def test_r11_every_action_is_documented(action: str) -> None:
    assert _in_backticks(action, (DOCS / "api.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "hook", sorted(n for n in vars(hookspecs) if n.startswith("axis_licensing_"))
)
def test_plugins_page_names_every_hook(hook: str) -> None:
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    assert _in_backticks(hook, text)
    assert re.search(r"^#+ .*`" + re.escape(hook), text, re.MULTILINE), f"no heading for {hook}"


def test_register_backends_hook_documents_the_factory_it_calls() -> None:
    doc = hookspecs.axis_licensing_register_backends.__doc__ or ""
    assert typing.get_args(BackendFactory)[0] == [str]  # factory(url) -> Backend
    assert "factory(url)" in doc
    assert "factory(url, catalog)" not in doc


def test_plugins_page_misspelt_hook_fails_at_open_with_invalid_input() -> None:
    class Misspelt:
        @axis_licensing.hookimpl
        def axis_licensing_activty(self, activity: axis_licensing.Activity) -> None:
            """``activity`` without its i: check_pending() finds no such hook."""

    with pytest.raises(axis_licensing.InvalidInput, match="axis_licensing_activty"):
        Manager.open("memory://", catalog=axis_licensing.EXAMPLE_CATALOG, plugins=[Misspelt()])


def test_plugins_page_knows_the_hooks() -> None:
    """The hook list above is not empty by accident: SPEC §4's hooks, the alert hook and §6's."""
    assert sorted(n for n in vars(hookspecs) if n.startswith("axis_licensing_")) == [
        "axis_licensing_activity",
        "axis_licensing_alert",
        "axis_licensing_authenticate",
        "axis_licensing_authorize",
        "axis_licensing_register_backends",
    ]


_HELP_BLOCK = re.compile(
    r"^```text\n\$ axis-licensing ((?:[\w-]+ )*)--help\n(.*?)^```", re.MULTILINE | re.DOTALL
)


def _cli_commands() -> list[str]:
    if importlib.util.find_spec("axis_licensing.cli") is None:
        return []
    from axis_licensing.cli import main

    assert isinstance(main, click.Group)
    names: list[str] = []
    for name, command in main.commands.items():
        names.append(name)
        if isinstance(command, click.Group):
            names.extend(f"{name} {sub}" for sub in command.commands)
    return sorted(names)


@pytest.mark.skipif(not _cli_commands(), reason="axis_licensing.cli is not there yet")
def test_cli_page_shows_the_current_help_of_every_command() -> None:
    """Each ``$ axis-licensing … --help`` block of docs/cli.md is what the CLI prints."""
    from axis_licensing.cli import main

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    shown = {m.group(1).strip(): m.group(2) for m in _HELP_BLOCK.finditer(text)}
    assert sorted(shown) == ["", *_cli_commands()]
    runner = CliRunner()
    for command, block in shown.items():
        args = [*command.split(), "--help"]
        result = runner.invoke(main, args, prog_name="axis-licensing", terminal_width=80)
        assert result.exit_code == 0, result.output
        shown_as = " ".join(["axis-licensing", *args])
        assert block == result.output, (
            f"docs/cli.md is stale for `{shown_as}`: run python docs/hooks/update_cli_help.py"
        )
    for command in _cli_commands():
        assert f"\n## axis-licensing {command}\n" in text


def _cli_docs_hook() -> Any:
    """docs/hooks/update_cli_help.py, loaded by path (docs/hooks is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "update_cli_help", DOCS / "hooks" / "update_cli_help.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not _cli_commands(), reason="axis_licensing.cli is not there yet")
def test_cli_page_session_and_timeline_svg_are_in_step() -> None:
    """The session of docs/cli.md is what its commands print; timeline.svg is what is drawn."""
    hook = _cli_docs_hook()
    stale = "run python docs/hooks/update_cli_help.py"
    assert hook.page_text() == (DOCS / "cli.md").read_text(encoding="utf-8"), stale
    assert hook.timeline_svg() == (DOCS / "timeline.svg").read_text(encoding="utf-8"), stale
    assert "![The timeline of the demo's acs-pro" in (DOCS / "cli.md").read_text(encoding="utf-8")


def _examples(page: str) -> list[tuple[int, str]]:
    """The ``pycon`` blocks of a page: (line number of the block, its text)."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(1)), m.group(1)) for m in _PYCON.finditer(text)]


PAGES_WITH_EXAMPLES = [p for p in PAGES if _examples(p)]


def test_the_worked_examples_are_checked() -> None:
    assert {"concepts.md", "index.md", "offline.md", "plugins.md"} <= set(PAGES_WITH_EXAMPLES)


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES)
def test_r1_to_r14_docs_examples_hold(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run a page's examples in order, in one namespace, as doctests."""
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    globs: dict[str, object] = {"__name__": f"docs_{page[:-3]}"}
    tried = 0
    for lineno, block in _examples(page):
        test = parser.get_doctest(block, globs, page, str(DOCS / page), lineno)
        runner.run(test, out=report.write, clear_globs=False)
        globs = test.globs
        tried += len(test.examples)
    results = runner.summarize(verbose=False)
    assert tried > 0
    assert results.failed == 0, report.getvalue()


def test_api_quickstart_runs_twice_with_the_same_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The quickstart of docs/api.md replays by request_id, so a second run works (R13, R15)."""
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    outputs = []
    for _ in range(2):
        exec(compile(code, "docs/api.md#quickstart", "exec"), {})
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] == "licensed\n['qs-org']\n['qs-server']\n[]\n1\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["quickstart.db"]
