"""``axis-licensing serve``: the service from the command line (SPEC §6)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.parse
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


def _request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> tuple[int, dict[str, list[str]], bytes]:
    """One request on a new connection, so that any worker may take it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        found: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            found.setdefault(name.lower(), []).append(value)
        return response.status, found, response.read()
    finally:
        connection.close()


def _workers(parent: int, count: int) -> list[int]:
    """The pids of uvicorn's worker processes under ``parent``, once ``count`` run."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == parent and b"spawn_main" in cmdline:
                found.append(int(entry.name))
        if len(found) == count:
            return sorted(found)
        time.sleep(0.1)
    pytest.fail(f"serve did not start {count} workers within 30 s")


def _cookie(headers: dict[str, list[str]], name: str) -> str:
    for value in headers.get("set-cookie", []):
        if value.startswith(name + "="):
            return value
    pytest.fail(f"no {name} cookie in {headers.get('set-cookie')}")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds workers through /proc")
def test_serve_two_workers_share_the_store_the_session_and_the_metrics(tmp_path: Path) -> None:
    token = "serve-0123456789abcdef"
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[tokens]]\ntoken = "{token}"\nactor = "ops"\norganizations = ["*"]\n', encoding="utf-8"
    )
    port = _free_port()
    db = tmp_path / "served.db"
    server = subprocess.Popen(
        [
            sys.executable, "-m", "axis_licensing.cli", "serve",
            "--db", f"sqlite:///{db}", "--catalog", "example", "--port", str(port),
            "--tokens", str(tokens), "--workers", "2", "--forwarded-allow-ips", "127.0.0.1",
        ],
        env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    healthz = 0
    stopped: int | None = None
    try:
        _wait(port, server)
        first, second = _workers(server.pid, 2)
        # only the worker that is not stopped can accept a connection
        os.kill(first, signal.SIGSTOP)
        stopped = first
        status, headers, page = _request(port, "GET", "/signin")
        assert status == 200
        csrf_cookie = _cookie(headers, "axis_csrf").split(";")[0]
        assert "secure" not in _cookie(headers, "axis_csrf").lower()
        found = re.search(r'name="_csrf_token" value="([^"]+)"', page.decode())
        assert found is not None
        status, headers, _ = _request(
            port,
            "POST",
            "/signin",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": csrf_cookie,
                "X-Forwarded-Proto": "https",  # a TLS proxy on 127.0.0.1 forwarded it
            },
            body=urllib.parse.urlencode({"token": token, "_csrf_token": found.group(1)}),
        )
        assert (status, headers["location"]) == (302, ["/"])
        session = _cookie(headers, "axis_session")
        assert "; Secure" in session
        body = {"org_id": "acme", "name": "Acme"}
        status, _, _ = _request(
            port,
            "POST",
            "/v1/organizations",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body=json.dumps(body),
        )
        assert status == 201
        for _ in range(3):
            assert _request(port, "GET", "/healthz")[0] == 200
            healthz += 1
        os.kill(first, signal.SIGCONT)
        os.kill(second, signal.SIGSTOP)
        stopped = second
        # the other worker reads the same store, and opens the session the first one made
        status, _, page = _request(port, "GET", "/orgs", headers={"Cookie": session.split(";")[0]})
        assert status == 200
        assert b"Acme" in page
        status, headers, _ = _request(port, "GET", "/orgs", headers={"Cookie": "axis_session=x"})
        assert (status, headers["location"]) == (302, ["/signin"])
        for _ in range(2):
            assert _request(port, "GET", "/healthz")[0] == 200
            healthz += 1
        status, _, ready = _request(port, "GET", "/readyz")
        assert (status, json.loads(ready)) == (200, {"status": "ok"})
        os.kill(second, signal.SIGCONT)
        stopped = None
        # /metrics sums both workers
        status, _, text = _request(port, "GET", "/metrics")
        assert status == 200
        lines = text.decode().splitlines()
        assert (
            f'axis_licensing_http_requests_total{{method="GET",route="/healthz",status="200"}} '
            f"{float(healthz)}"
        ) in lines
        assert 'axis_licensing_commands_total{action="create_organization",code="ok"} 1.0' in lines
    finally:
        if stopped is not None:
            os.kill(stopped, signal.SIGCONT)
        server.terminate()
        out, err = server.communicate(timeout=20)
    secret = tmp_path / "served.db-state" / "session-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert f"the session secret is in the file {str(secret)!r} (made now)" in err
    value = secret.read_text(encoding="ascii").strip()
    assert value not in out
    assert value not in err


def test_serve_refuses_a_bad_session_secret_and_a_shared_memory_store(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("not a secret", encoding="ascii")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    args = ["serve", "--db", db, "--catalog", "example", "--session-secret-file", str(secret)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert f"the session secret file {str(secret)!r} must be 16, 24 or 32 bytes" in result.output
    result = CliRunner().invoke(main, ["serve", "--db", "memory://", "--workers", "2"])
    assert result.exit_code == 2
    assert "a memory:// store lives in one process: serve it with --workers 1" in result.output
