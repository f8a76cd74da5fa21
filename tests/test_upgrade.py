"""A store written by the first storage format opens and answers exactly as before (SPEC §5).

``tests/data/v1_store.sqlite`` was written by that format (one whole state per
command), and ``v1_expected.json`` holds what that code answered about it; see
``tests/data/make_v1_store.py``. Opening a copy with today's code converts it
(every past version too), and every answer, at past instants included, stays
the same. ``axis-licensing migrate`` then carries the converted store to the
other backends, where the answers stay the same as well.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from axis_licensing import Manager, ManualClock
from axis_licensing._demo import DEMO_CATALOG
from axis_licensing._migrate import migrate
from axis_licensing.backends import Backend, BackendRegistry, builtin
from axis_licensing.backends.memory import MemoryBackend

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(DATA))
import make_v1_store  # noqa: E402


def _copy_store(tmp_path: Path) -> str:
    target = tmp_path / "v1.sqlite"
    shutil.copyfile(DATA / "v1_store.sqlite", target)
    return f"sqlite:///{target}"


def _expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "v1_expected.json").read_text())
    return data


def test_the_checked_in_store_is_of_the_first_format() -> None:
    with sqlite3.connect(f"file:{DATA / 'v1_store.sqlite'}?mode=ro&immutable=1", uri=True) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM states").fetchone()[0] == 38


def test_a_v1_store_upgrades_on_open_and_answers_as_before(tmp_path: Path) -> None:
    url = _copy_store(tmp_path)
    assert make_v1_store.answers(url) == _expected()
    with Manager.open(url, catalog=DEMO_CATALOG, clock=ManualClock(make_v1_store.INSTANTS[0])) as m:
        backend: Backend = m.backend
        assert backend.count_rows("states") == 0  # converted: versions and parts now
        assert backend.count_rows("versions") == 38
        with backend.read() as tx:
            assert tx.legacy_orgs() == []
            head = tx.head("north")
            assert head is not None
            assert head.seq == 19
    # Opening again converts nothing more, and answers the same.
    assert make_v1_store.answers(url) == _expected()


@pytest.mark.parametrize("target", ["memory", "postgresql"])
def test_an_upgraded_store_migrates_and_answers_as_before(
    tmp_path: Path, target: str, request: pytest.FixtureRequest
) -> None:
    source = _copy_store(tmp_path)
    dest_url = "memory://" if target == "memory" else request.getfixturevalue("postgres_url")
    Manager.open(source, catalog=DEMO_CATALOG).close()  # converts
    registry = BackendRegistry()
    builtin.axis_licensing_register_backends(registry)
    dest = registry.open(dest_url)
    try:
        assert migrate(source, dest).verified
        m = Manager(dest, catalog=DEMO_CATALOG, clock=ManualClock(make_v1_store.ANSWERS_NOW))
        assert make_v1_store.answers_of(m) == _expected()
    finally:
        dest.close()


def test_a_v1_store_migrated_before_upgrading_converts_on_the_target(tmp_path: Path) -> None:
    """``migrate`` carries states of the first format as they are; the target converts them."""
    dest = MemoryBackend()
    assert migrate(_copy_store(tmp_path), dest).verified
    assert dest.count_rows("states") == 38
    m = Manager(dest, catalog=DEMO_CATALOG, clock=ManualClock(make_v1_store.ANSWERS_NOW))
    assert dest.count_rows("states") == 0
    assert make_v1_store.answers_of(m) == _expected()
