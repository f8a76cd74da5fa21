"""(k) authentication per API request: a stored token (SPEC §8) against today's file token.

One SQLite file holds an organization with a system, an owner account and a
viewer account whose API token is stored hashed. Two services run on it
(uvicorn, one worker each, loopback), the same but for how they authenticate:

- **file token** (the baseline, §6): :class:`~axis_licensing.http.TokenFile`;
- **stored token**: the final wiring: ``Manager.open`` registers the built-in
  :class:`~axis_licensing.members.authorize.RolesPlugin`, the service resolves
  the ``axl_`` token through it (with its limits) and checks the role.

The client sends ``GET /v1/organizations/{org}/products/{product}`` with the
bearer token, one request at a time, alternating request by request between
the services (which goes first alternates by round); the ratio of the median
latencies is the figure (target ≤ 1.1). Both services run on one CPU and the
client on another (when the machine has two), so load from elsewhere weighs on
both alike.

Nothing that could let a revoked token live on is cached: each hook reads the
store-wide access version (one small statement) and answers from a
per-process cache only while it is unchanged; revoking a token, or changing
a membership, raises it. The last use is written at most once a minute.

For information, the same steps are also timed in process (authentication
alone, and authentication plus ``Manager.status``), where the request is
much cheaper than over HTTP, so the ratio there is larger.
"""

from __future__ import annotations

import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from axis_licensing import EXAMPLE_CATALOG, Manager
from axis_licensing.http import TokenEntry, TokenFile, hash_token
from axis_licensing.members.authorize import RolesPlugin
from axis_licensing.members.service import Access
from bench._common import PRODUCT, Ratio, Settings, open_manager, print_table, setup_org
from bench._server import free_port, wait_until_up

__all__ = ["TARGET", "run"]

#: The target of the ratio stored / file, per API request.
TARGET = 1.1
ORG = "org-auth"
FILE_TOKEN = "bench-file-token-0123456789abcdef"  # noqa: S105 - a bench token

_SERVER = textwrap.dedent(
    """
    import sys
    import uvicorn
    from axis_licensing import EXAMPLE_CATALOG, Manager
    from axis_licensing.http import TokenEntry, TokenFile, create_app, hash_token
    from axis_licensing.members.authorize import RolesPlugin

    url, port, kind, org, token = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
    manager = Manager.open(url, catalog=EXAMPLE_CATALOG)  # the roles plugin, built in (SPEC §8)
    plugins = []
    if kind == "file":  # today's baseline: a tokens file, and no roles
        manager.plugin_manager.manager.unregister(manager.roles)
        manager.roles = None
        plugins = [TokenFile([TokenEntry(hash_token(token), "viewer", frozenset({org}))])]
    app = create_app(manager, plugins=plugins)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                workers=1, ws="none", lifespan="on")
    """
)


def _median_us(action: Callable[[], object], calls: int) -> float:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def _prepare(url: str) -> str:
    """The store: an organization, its owner and a viewer; the viewer's token secret."""
    with open_manager(url) as m:
        setup_org(m, ORG)
        m.register_system(ORG, PRODUCT, "srv-1", devices={"core": 5}, actor="bench")
        access = Access.of(m)
        access.accounts.create("owner", name="Owner", actor="bench")
        access.accounts.create("viewer", name="Viewer", actor="owner")
        access.members.add_creator(ORG, "owner")
        invitation = access.members.invite(ORG, "viewer", role="viewer", actor="owner")
        access.members.accept(invitation.token, account_id="viewer")
        return access.tokens.create("viewer", actor="viewer").secret


def _pin(pids: list[int]) -> list[int]:
    """Put the services on one CPU and this client on another, when there are two.

    So neither service gets a quieter core than the other. Returns the CPUs this
    process may use, to restore (empty when nothing was pinned).
    """
    if not hasattr(os, "sched_getaffinity"):
        return []
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return []
    for pid in pids:
        os.sched_setaffinity(pid, {cpus[0]})
    os.sched_setaffinity(0, {cpus[1]})
    return cpus


def _over_http(url: str, secret: str, settings: Settings) -> tuple[float, float]:
    """The median latency of the request over HTTP with each token, in microseconds."""
    calls = 300 if settings.quick else 1000
    ports = {"file": free_port(), "stored": free_port()}
    tokens = {"file": FILE_TOKEN, "stored": secret}
    servers = {
        kind: subprocess.Popen(
            [sys.executable, "-c", _SERVER, url, str(port), kind, ORG, tokens[kind]],
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        for kind, port in ports.items()
    }
    cpus = _pin([server.pid for server in servers.values()])
    path = f"/v1/organizations/{ORG}/products/{PRODUCT}"
    medians: dict[str, list[float]] = {"file": [], "stored": []}
    try:
        for kind, server in servers.items():
            wait_until_up(ports[kind], server)
        connections = {k: http.client.HTTPConnection("127.0.0.1", p) for k, p in ports.items()}

        def request(kind: str) -> None:
            connection = connections[kind]
            connection.request("GET", path, headers={"Authorization": f"Bearer {tokens[kind]}"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path} with the {kind} token answered {response.status}")

        for kind in medians:
            for _ in range(settings.warmup):
                request(kind)
        for n in range(settings.repetitions):
            samples: dict[str, list[float]] = {"file": [], "stored": []}
            # request by request, alternating which goes first, so drift and load affect both alike
            order = ("file", "stored") if n % 2 == 0 else ("stored", "file")
            for _ in range(calls):
                for kind in order:
                    started = time.perf_counter()
                    request(kind)
                    samples[kind].append(time.perf_counter() - started)
            for kind, found in medians.items():
                found.append(statistics.median(samples[kind]) * 1e6)
        for connection in connections.values():
            connection.close()
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(timeout=10)
        if cpus:
            os.sched_setaffinity(0, set(cpus))
    return statistics.median(medians["file"]), statistics.median(medians["stored"])


def _in_process(url: str, secret: str, settings: Settings) -> tuple[float, float, float, float]:
    """Medians in process: file auth, stored auth, and each with ``status`` (microseconds)."""
    calls = 300 if settings.quick else 1000
    file_plugin = TokenFile([TokenEntry(hash_token(FILE_TOKEN), "viewer", frozenset({ORG}))])
    roles = RolesPlugin()
    with Manager.open(url, catalog=EXAMPLE_CATALOG, plugins=[roles]) as m:
        roles.bind(m.backend, m.clock)

        def file_auth() -> None:
            actor = file_plugin.axis_licensing_authenticate(FILE_TOKEN)
            assert actor == "viewer"
            assert file_plugin.axis_licensing_authorize(actor, ORG, "status", None) is not False

        def stored_auth() -> None:
            actor = roles.axis_licensing_authenticate(secret)
            assert actor == "viewer"
            assert roles.axis_licensing_authorize(actor, ORG, "status", None) is not False

        def file_request() -> None:
            file_auth()
            m.status(ORG, PRODUCT)

        def stored_request() -> None:
            stored_auth()
            m.status(ORG, PRODUCT)

        for action in (file_request, stored_request):
            for _ in range(settings.warmup):
                action()
        samples: list[list[float]] = [[], [], [], []]
        for _ in range(settings.repetitions):
            for n, action in enumerate((file_auth, stored_auth, file_request, stored_request)):
                samples[n].append(_median_us(action, calls))
    auth_file, auth_stored, req_file, req_stored = (statistics.median(s) for s in samples)
    return auth_file, auth_stored, req_file, req_stored


def run(settings: Settings) -> list[Ratio]:
    """Measure (k) and print its table."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'auth.db'}"
        secret = _prepare(url)
        http_file, http_stored = _over_http(url, secret, settings)
        auth_file, auth_stored, req_file, req_stored = _in_process(url, secret, settings)
    ratios = [
        Ratio("(k) API request, stored token / file token", http_stored / http_file, TARGET),
        Ratio("(k) in process, auth + status, stored / file (information)", req_stored / req_file),
        Ratio("(k) in process, auth alone, stored / file (information)", auth_stored / auth_file),
    ]
    print_table(
        f"(k) authentication per API request (SQLite; {settings.repetitions} alternating rounds, "
        "median of per-round medians)",
        [
            ("over HTTP: GET .../products/{product}, file token", f"{http_file:.1f} us"),
            ("over HTTP: GET .../products/{product}, stored token", f"{http_stored:.1f} us"),
            ("in process: authenticate + authorize, file token", f"{auth_file:.1f} us"),
            ("in process: authenticate + authorize, stored token", f"{auth_stored:.1f} us"),
            ("in process: auth + Manager.status, file token", f"{req_file:.1f} us"),
            ("in process: auth + Manager.status, stored token", f"{req_stored:.1f} us"),
        ],
        ratios,
    )
    return ratios
