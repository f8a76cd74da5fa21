"""An mkdocs hook: the Changelog page shows the repository's CHANGELOG.md.

The changelog is kept by hand in one place, the root ``CHANGELOG.md``;
``docs/changelog.md`` holds only the marker this hook replaces, so the two
never drift apart. Hooks are built into mkdocs (no plugin package needed).
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

MARKER = "<!-- include: CHANGELOG.md -->"


def on_page_markdown(markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace the marker with the root CHANGELOG.md."""
    if MARKER not in markdown:
        return markdown
    root = Path(config.config_file_path).resolve().parent
    return markdown.replace(MARKER, (root / "CHANGELOG.md").read_text(encoding="utf-8"))
