"""A verifier a VMS can carry (R12, issue 8 item 10).

- ``axis_licensing.offline`` imports only the standard library and
  ``cryptography``: checked here by the modules a fresh interpreter loads, and
  in a new venv that holds only ``cryptography`` (skipped, with the reason,
  only when pip cannot install it).
- The published test vectors in ``docs/offline-vectors/`` are exactly what the
  deterministic generator gives, byte for byte, and every case gets its
  expected verdict.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import offline_vectors

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "docs" / "offline-vectors"
PACKAGE = ROOT / "src" / "axis_licensing"
PORTAL_ONLY = ("attrs", "cattrs", "pendulum", "orjson", "pluggy", "click", "psycopg")


def test_r12_vectors_regenerate_byte_for_byte() -> None:
    generated = offline_vectors.generate()
    published = {path.name: path.read_bytes() for path in VECTORS.iterdir()}
    assert sorted(published) == sorted(generated)
    for name, data in generated.items():
        assert published[name] == data, f"{name} differs: run tests/offline_vectors.py generate"


def test_r12_every_vector_gets_its_expected_verdict() -> None:
    assert offline_vectors.check(VECTORS) == []
    cases = json.loads((VECTORS / "index.json").read_text(encoding="ascii"))["cases"]
    verdicts = sorted({c["expected"].get("code", "ok") for c in cases})
    assert verdicts == [
        "license_file_expired",
        "license_file_not_yet_valid",
        "ok",
        "tampered_license_file",
        "wrong_system",
    ]
    may_run = {
        c["file"]: c["expected"]["entitlement"]["may_run"]
        for c in cases
        if "entitlement" in c["expected"]
    }
    assert may_run["trial.json"] is True
    assert may_run["unlicensed.json"] is False


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_r12_importing_offline_loads_no_portal_dependency() -> None:
    done = _fresh_python(
        f"""
        import sys
        import axis_licensing.offline
        from axis_licensing import offline, Entitlement, ProductState, errors
        loaded = sorted(m for m in {PORTAL_ONLY!r} if m in sys.modules)
        assert loaded == [], loaded
        from axis_licensing import Manager  # the rest loads on first use (PEP 562)
        assert "pendulum" in sys.modules and Manager.__name__ == "Manager"
        print("ok")
        """
    )
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "ok\n")


def test_r12_the_package_keeps_every_public_name() -> None:
    done = _fresh_python(
        """
        import axis_licensing
        missing = [n for n in axis_licensing.__all__ if not hasattr(axis_licensing, n)]
        assert missing == [], missing
        assert set(axis_licensing.__all__) <= set(dir(axis_licensing))
        try:
            axis_licensing.nothing_here
        except AttributeError as exc:
            print(exc)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "module 'axis_licensing' has no attribute 'nothing_here'\n"


def test_r12_verifier_runs_in_a_venv_holding_only_cryptography(tmp_path: Path) -> None:
    venv = tmp_path / "vms"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "cryptography",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if installed.returncode != 0:
        pytest.skip(f"pip could not install cryptography: {installed.stderr.strip()[-300:]}")
    # Only the package's files and the vectors, nothing installed beside cryptography.
    shutil.copytree(PACKAGE, tmp_path / "src" / "axis_licensing")
    shutil.copy(Path(offline_vectors.__file__), tmp_path / "offline_vectors.py")
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(tmp_path / "src")}
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=env,
    )
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert names <= {"cryptography", "cffi", "pycparser", "pip", "setuptools"}
    assert not names & {"attrs", "pendulum", "cattrs", "orjson", "pluggy"}
    done = subprocess.run(
        [str(python), str(tmp_path / "offline_vectors.py"), "check", str(VECTORS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    cases = len(json.loads((VECTORS / "index.json").read_text(encoding="ascii"))["cases"])
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[-1] == f"{cases} passed, 0 failed"
