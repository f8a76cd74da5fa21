"""(f) ``GET`` status over HTTP against a bare Litestar application, at 1 and 16 clients.

Both applications run under the same server in the same run: uvicorn, one
worker, on loopback, no access log. The service serves
``GET /v1/organizations/{org}/products/{product}`` over an SQLite file with a
bearer token checked on every request (the app that ``axis-licensing serve``
builds, through :func:`axis_licensing.http.app_from_env`); the baseline is a
bare Litestar application whose one ``GET`` route answers a constant small JSON
object. The client is one asyncio process holding 1 or 16 kept-alive
connections, each sending its next request when the answer to the last one is
read. The two servers are measured in alternate rounds, and the p50, p99 and
requests per second of each are compared: the target is at most 1.2x the bare
application's p50 (and at most 1.2x its requests per second, inverted) at 1
and at 16 clients. ``Manager.status`` is also timed in this process: the bare
round trip plus that time is the floor that no HTTP layer can go under. It
prints figures and never fails.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import attrs

from axis_licensing import Manager, SystemClock
from bench._common import PRODUCT, Ratio, Settings, open_manager, print_table, setup_org
from bench._server import free_port, wait_until_up

__all__ = ["bare_app", "run"]

#: The ratio to the bare application this service should meet (p50, and requests per second).
TARGET = 1.2
CLIENTS = (1, 16)
TOKEN = secrets.token_urlsafe(24)
ORG = "org-http"

_SERVER = """
import sys
import uvicorn
uvicorn.run(sys.argv[1], factory=True, host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning", access_log=False, workers=1, lifespan="on")
"""


def bare_app() -> object:
    """The baseline: a bare Litestar application with one constant ``GET`` JSON route."""
    from litestar import Litestar, get

    @get("/v1/organizations/{org_id:str}/products/{product:str}", sync_to_thread=False)
    def status(org_id: str, product: str) -> dict[str, object]:
        return {"org_id": "org-http", "product": "acs-pro", "state": "active", "days": 30}

    return Litestar(route_handlers=[status], openapi_config=None)


def _start(factory: str, env: Mapping[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    root = Path(__file__).resolve().parent.parent
    path = os.pathsep.join([str(root / "src"), str(root), os.environ.get("PYTHONPATH", "")])
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, factory, str(port)],
        env={**os.environ, **env, "PYTHONPATH": path, "PYTHONWARNINGS": "ignore"},
    )
    try:
        wait_until_up(port, server, what=f"the server of {factory}")
    except RuntimeError:
        server.terminate()
        raise
    return server, port


async def _client(port: int, request: bytes, count: int, samples: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            samples.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"answered {head.splitlines()[0]!r}: {body[:200]!r}")
    finally:
        writer.close()


async def _load(
    port: int, request: bytes, clients: int, per_client: int
) -> tuple[list[float], float]:
    samples: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(_client(port, request, per_client, samples) for _ in range(clients)))
    return samples, time.perf_counter() - started


@attrs.frozen
class _Figures:
    p50: float
    p99: float
    rps: float


def _figures(samples: list[float], count: int, seconds: float) -> _Figures:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return _Figures(statistics.median(ordered), p99, count / seconds)


def _status_in_process(url: str, warmup: int, calls: int) -> float:
    """The p50 of ``Manager.status`` called in this process: what no HTTP layer can save."""
    with Manager.open(url, clock=SystemClock(), create=False) as m:
        for _ in range(warmup):
            m.status(ORG, PRODUCT)
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            m.status(ORG, PRODUCT)
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run(settings: Settings) -> list[Ratio]:
    """Measure (f) and print its table."""
    per_round = 600 if settings.quick else 3000
    rounds = 2 if settings.quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'http.db'}"
        with open_manager(url) as m:
            setup_org(m, ORG)
            m.register_system(ORG, PRODUCT, "srv-1", devices={"core": 5}, actor="bench")
        tokens = Path(tmp) / "tokens.toml"
        tokens.write_text(
            f'[[tokens]]\ntoken = "{TOKEN}"\nactor = "bench"\norganizations = ["{ORG}"]\n',
            encoding="utf-8",
        )
        ours_env = {
            "AXIS_LICENSING_DB": url,
            "AXIS_LICENSING_TOKENS": str(tokens),
            "AXIS_LICENSING_STATE_DIR": str(Path(tmp) / "state"),
        }
        path = f"/v1/organizations/{ORG}/products/{PRODUCT}"
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        ).encode()
        servers = {
            "service": _start("axis_licensing.http:app_from_env", ours_env),
            "bare": _start("bench.http_status:bare_app", {}),
        }
        results: dict[tuple[str, int], _Figures] = {}
        try:
            for clients in CLIENTS:
                per_client = max(1, per_round // clients)
                pooled: dict[str, tuple[list[float], float]] = {name: ([], 0.0) for name in servers}
                for _server, port in servers.values():  # warm up
                    asyncio.run(_load(port, request, clients, max(settings.warmup // clients, 5)))
                for _ in range(rounds):
                    for name, (_, port) in servers.items():
                        samples, seconds = asyncio.run(_load(port, request, clients, per_client))
                        old, total = pooled[name]
                        pooled[name] = ([*old, *samples], total + seconds)
                for name, (samples, seconds) in pooled.items():
                    results[name, clients] = _figures(samples, len(samples), seconds)
        finally:
            for server, _ in servers.values():
                server.terminate()
            for server, _ in servers.values():
                server.wait(timeout=10)
        in_process = _status_in_process(url, settings.warmup, per_round)
    rows: list[tuple[str, str]] = []
    ratios: list[Ratio] = []
    for clients in CLIENTS:
        ours, bare = results["service", clients], results["bare", clients]
        for name, figures in (("bare Litestar", bare), ("service", ours)):
            rows += [
                (f"{clients:>2} client(s), {name}: p50", f"{figures.p50 * 1e3:.3f} ms"),
                (f"{clients:>2} client(s), {name}: p99", f"{figures.p99 * 1e3:.3f} ms"),
                (f"{clients:>2} client(s), {name}: requests/s", f"{figures.rps:,.0f}"),
            ]
        rows.append(
            (
                f"{clients:>2} client(s), service - bare: p50",
                f"{(ours.p50 - bare.p50) * 1e3:+.3f} ms",
            )
        )
        ratios += [
            Ratio(f"(f) {clients} client(s): service / bare, p50", ours.p50 / bare.p50, TARGET),
            Ratio(f"(f) {clients} client(s): service / bare, p99", ours.p99 / bare.p99),
            Ratio(
                f"(f) {clients} client(s): bare / service, requests/s",
                bare.rps / ours.rps,
                TARGET,
            ),
        ]
    floor = (results["bare", 1].p50 + in_process) / results["bare", 1].p50
    rows.append(("in process: Manager.status, p50", f"{in_process * 1e3:.3f} ms"))
    ratios.append(Ratio("(f) floor: (bare p50 + in-process status p50) / bare p50", floor))
    print_table(
        "(f) GET status over HTTP vs a bare Litestar app (uvicorn, one worker, loopback), "
        f"{rounds} alternate rounds of {per_round} requests each",
        rows,
        ratios,
    )
    return ratios
