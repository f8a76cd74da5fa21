"""``axis-licensing serve``: the service from the command line (SPEC §6)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")
pytest.importorskip("uvicorn", reason="the server extra is not installed")

from click.testing import CliRunner

from axis_licensing import InvalidInput
from axis_licensing.cli import main
from axis_licensing.http import TokenFile

SRC = Path(__file__).resolve().parent.parent / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(port: int, path: str, token: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _wait(port: int, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("axis-licensing serve did not listen within 30 s")


def test_serve_a_new_store_with_a_tokens_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        '[[tokens]]\ntoken = "serve-0123456789abcdef"\nactor = "ops"\norganizations = ["*"]\n',
        encoding="utf-8",
    )
    port = _free_port()
    db = tmp_path / "served.db"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "axis_licensing.cli",
            "serve",
            "--db",
            f"sqlite:///{db}",
            "--catalog",
            "example",
            "--port",
            str(port),
            "--tokens",
            str(tokens),
        ],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait(port, server)
        status, body = _get(port, "/v1/organizations", "serve-0123456789abcdef")
        assert (status, json.loads(body)) == (200, [])
        status, body = _get(port, "/v1/organizations")
        assert status == 401
        assert json.loads(body)["code"] == "unauthenticated"
        status, body = _get(port, "/signin")
        assert status == 200
        assert b"Access token" in body
        status, body = _get(port, "/openapi.json")
        assert json.loads(body)["openapi"].startswith("3.1")
    finally:
        server.terminate()
        server.communicate(timeout=10)
    assert db.exists()


def test_serve_refuses_a_malformed_tokens_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text('[[tokens]]\ntoken = "short"\nactor = "x"\n', encoding="utf-8")
    result = CliRunner().invoke(
        main, ["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--tokens", str(tokens)]
    )
    assert result.exit_code != 0
    assert "at least 16 characters" in result.output
    result = CliRunner().invoke(main, ["serve", "--db", f"sqlite:///{tmp_path / 'new.db'}"])
    assert result.exit_code != 0
    assert "pass --catalog NAME" in result.output
    with pytest.raises(InvalidInput, match="cannot read the tokens file"):
        TokenFile.load(tmp_path / "missing.toml")
