"""(f) ``status`` over HTTP on loopback against the in-process call, at p50 and p99.

The service runs in its own process (uvicorn, one worker) over an SQLite file;
the client (the standard library's ``http.client``) keeps one connection open and sends ``GET
/v1/organizations/{org}/products/{product}`` with a bearer token. The baseline
is ``Manager.status`` on the same file, called in this process. Both are timed
one call at a time, and the ratio of the medians (and of the 99th percentiles)
is reported. The target is a p50 under 1 ms over HTTP.
"""

from __future__ import annotations

import http.client
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from axis_licensing import EXAMPLE_CATALOG, Manager
from bench._common import PRODUCT, Ratio, Settings, open_manager, print_table, setup_org

__all__ = ["run"]

#: The p50 over HTTP this machine should meet, in milliseconds.
TARGET_P50_MS = 1.0
TOKEN = secrets.token_urlsafe(24)

_SERVER = textwrap.dedent(
    """
    import sys
    import uvicorn
    from axis_licensing import EXAMPLE_CATALOG, Manager
    from axis_licensing.http import TokenEntry, TokenFile, create_app, hash_token

    url, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    manager = Manager.open(url, catalog=EXAMPLE_CATALOG)
    tokens = TokenFile([TokenEntry(hash_token(token), "bench", frozenset({"*"}))])
    app = create_app(manager, tokens=tokens)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                workers=1, ws="none", lifespan="on")
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def _wait_until_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the service exited before it listened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the service did not listen within 30 s")


def run(settings: Settings) -> list[Ratio]:
    """Measure (f) and print its table."""
    calls = 500 if settings.quick else 3000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'http.db'}"
        with open_manager(url) as m:
            setup_org(m, "org-http")
            m.register_system("org-http", PRODUCT, "srv-1", devices={"core": 5}, actor="bench")
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", _SERVER, url, str(port), TOKEN],
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        try:
            _wait_until_up(port, server)
            path = f"/v1/organizations/org-http/products/{PRODUCT}"
            headers = {"Authorization": f"Bearer {TOKEN}"}
            over_http: list[float] = []
            connection = http.client.HTTPConnection("127.0.0.1", port)  # one kept-alive connection
            try:
                for n in range(settings.warmup + calls):
                    started = time.perf_counter()
                    connection.request("GET", path, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    if n >= settings.warmup:
                        over_http.append(time.perf_counter() - started)
                    if response.status != 200:
                        raise RuntimeError(f"GET {path} answered {response.status}")
            finally:
                connection.close()
            in_process: list[float] = []
            with Manager.open(url, catalog=EXAMPLE_CATALOG) as m:
                for _ in range(settings.warmup):
                    m.status("org-http", PRODUCT)
                for _ in range(calls):
                    started = time.perf_counter()
                    m.status("org-http", PRODUCT)
                    in_process.append(time.perf_counter() - started)
        finally:
            server.terminate()
            server.wait(timeout=10)
    http_p50, http_p99 = _percentiles(over_http)
    call_p50, call_p99 = _percentiles(in_process)
    ratios = [
        Ratio("(f) status over HTTP / in process, p50", http_p50 / call_p50),
        Ratio("(f) status over HTTP / in process, p99", http_p99 / call_p99),
        Ratio("(f) status over HTTP, p50 in ms", http_p50 * 1e3, target=TARGET_P50_MS),
    ]
    print_table(
        f"(f) status over HTTP (uvicorn, one worker, loopback) vs in process, {calls} calls each",
        [
            ("in process: Manager.status, p50", f"{call_p50 * 1e3:.3f} ms"),
            ("in process: Manager.status, p99", f"{call_p99 * 1e3:.3f} ms"),
            ("over HTTP: GET /v1/.../products/{product}, p50", f"{http_p50 * 1e3:.3f} ms"),
            ("over HTTP: GET /v1/.../products/{product}, p99", f"{http_p99 * 1e3:.3f} ms"),
        ],
        ratios,
    )
    return ratios
