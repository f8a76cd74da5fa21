"""Running the service (SPEC §6.1): health, readiness, metrics, the session secret, cookies."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("litestar", reason="the server extra is not installed")
pytest.importorskip("prometheus_client", reason="the server extra is not installed")

from litestar import Litestar
from litestar.testing import TestClient

from axis_licensing import EXAMPLE_CATALOG, InvalidInput, Manager, ManualClock
from axis_licensing.http import Metrics, TokenEntry, TokenFile, app_from_env, create_app, hash_token
from axis_licensing.http import _ops as ops
from conftest import POSTGRES_URL

TOKEN = "ops-0123456789abcdef"
METRICS_TOKEN = "scrape-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _tokens() -> TokenFile:
    return TokenFile([TokenEntry(hash_token(TOKEN), "ops", frozenset({"*"}), vendor=True)])


@pytest.fixture
def manager() -> Iterator[Manager]:
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG) as m:
        yield m


def _samples(text: str) -> dict[str, float]:
    """The metric lines of a Prometheus exposition, by name and labels."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def _family(found: dict[str, float], name: str) -> dict[str, float]:
    """The samples of the metric ``name``, by their labels (``{a="1",b="2"}``)."""
    return {k.removeprefix(name): v for k, v in found.items() if k.startswith(name + "{")}


def test_healthz_and_readyz_answer_without_a_token(manager: Manager) -> None:
    with TestClient(create_app(manager, tokens=_tokens())) as client:
        r = client.get("/healthz")
        assert (r.status_code, r.json()) == (200, {"status": "ok"})
        assert "set-cookie" not in r.headers
        r = client.get("/readyz")
        assert (r.status_code, r.json()) == (200, {"status": "ok"})


def test_readyz_answers_503_when_the_store_is_gone(postgres_url: str) -> None:
    import psycopg

    schema = postgres_url.rpartition("schema=")[2]
    with (
        Manager.open(postgres_url, catalog=EXAMPLE_CATALOG) as m,
        TestClient(create_app(m, tokens=_tokens())) as client,
    ):
        assert client.get("/readyz").status_code == 200
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json() == {
            "title": "Service Unavailable",
            "status": 503,
            "detail": "the store does not answer",
            "code": "storage_error",
            "details": {},
            "type": "about:blank",
        }
        assert client.get("/healthz").status_code == 200


def test_metrics_count_requests_commands_and_the_outbox() -> None:
    clock = ManualClock(datetime.now(UTC))
    manager = Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock)
    metrics = Metrics()
    app = create_app(manager, tokens=_tokens(), metrics=metrics, metrics_token=METRICS_TOKEN)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz").status_code == 200
        new = {"org_id": "acme", "name": "Acme"}
        assert client.post("/v1/organizations", json=new, headers=AUTH).status_code == 201
        assert client.post("/v1/organizations", json=new, headers=AUTH).status_code == 409
        assert client.post("/v1/organizations", json={"name": "x"}, headers=AUTH).status_code == 400
        path = "/v1/organizations/acme/products/acs-pro/subscription"
        assert client.post(path, headers=AUTH).status_code == 201
        assert (
            client.get("/v1/organizations/acme/products/acs-pro", headers=AUTH).status_code == 200
        )
        assert client.get("/v1/organizations/acme/products/acs-pro").status_code == 401
        assert client.get("/no/such/page").status_code == 404
        assert client.request("BREW", "/healthz").status_code == 405
        # the outbox gauges come from the store (SPEC §7): one pending delivery, just written
        manager.webhooks.add(
            "acme", "http://127.0.0.1:9/h", actor="ops", allow_http=True, allow_private=True
        )
        clock.advance(timedelta(seconds=12.5))
        assert client.get("/metrics").status_code == 403  # not loopback, no token
        r = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    found = _samples(r.text)
    status = "/v1/organizations/{org_id}/products/{product}"
    assert _family(found, "axis_licensing_http_requests_total") == {
        '{method="GET",route="/healthz",status="200"}': 2.0,
        '{method="POST",route="/v1/organizations",status="201"}': 1.0,
        '{method="POST",route="/v1/organizations",status="409"}': 1.0,
        '{method="POST",route="/v1/organizations",status="400"}': 1.0,
        f'{{method="POST",route="{status}/subscription",status="201"}}': 1.0,
        f'{{method="GET",route="{status}",status="200"}}': 1.0,
        f'{{method="GET",route="{status}",status="401"}}': 1.0,
        '{method="GET",route="unmatched",status="404"}': 1.0,
        '{method="other",route="unmatched",status="405"}': 1.0,
        '{method="GET",route="/metrics",status="403"}': 1.0,
    }
    assert _family(found, "axis_licensing_commands_total") == {
        '{action="create_organization",code="ok"}': 1.0,
        '{action="create_organization",code="already_exists"}': 1.0,
        '{action="create_organization",code="invalid_input"}': 1.0,
        '{action="start_subscription",code="ok"}': 1.0,
    }
    latency = "axis_licensing_http_request_duration_seconds"
    assert found[f'{latency}_count{{method="GET",route="{status}"}}'] == 2.0
    assert found[f'{latency}_bucket{{le="+Inf",method="GET",route="/healthz"}}'] == 2.0
    assert found["axis_licensing_webhook_outbox_depth"] == 1.0
    assert found["axis_licensing_webhook_outbox_oldest_age_seconds"] == 12.5
    with pytest.raises(ValueError, match="cannot be negative"):
        metrics.set_outbox(-1, 0)
    manager.close()


def test_metrics_refuse_a_wrong_token(manager: Manager) -> None:
    app = create_app(manager, tokens=_tokens(), metrics_token=METRICS_TOKEN)
    with TestClient(app) as client:
        r = client.get("/metrics", headers=AUTH)
    assert (r.status_code, r.json()["code"]) == (403, "permission_denied")


def _cookies(app: Litestar, base_url: str = "http://testserver.local") -> list[str]:
    with TestClient(app, base_url=base_url) as client:
        r = client.get("/signin")
    assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    assert any(c.startswith("axis_csrf=") for c in cookies)
    return cookies


def test_cookies_are_secure_over_https_or_when_forced(manager: Manager) -> None:
    assert not any("secure" in c.lower() for c in _cookies(create_app(manager)))
    assert all(
        "; Secure" in c for c in _cookies(create_app(manager), base_url="https://testserver.local")
    )
    assert all("secure" in c.lower() for c in _cookies(create_app(manager, secure_cookies=True)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00" * 32, bytes(32)),
        ("ab" * 16 + "\n", bytes([0xAB]) * 16),
        (base64.b64encode(b"\xfb" * 24).decode(), b"\xfb" * 24),
        (base64.urlsafe_b64encode(b"\xfb" * 32).decode(), b"\xfb" * 32),
    ],
)
def test_a_session_secret_is_hex_or_base64(text: str, expected: bytes) -> None:
    assert ops.parse_secret(text, "test") == expected


@pytest.mark.parametrize("text", ["", "00" * 8, "zz" * 32, base64.b64encode(b"x" * 20).decode()])
def test_a_malformed_session_secret_is_refused(text: str) -> None:
    with pytest.raises(
        InvalidInput, match="test must be 16, 24 or 32 bytes written in hex or base64"
    ):
        ops.parse_secret(text, "test")


def test_the_session_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    secret, where = ops.session_secret(file=None, env=None, state_dir=state)
    path = state / "session-secret"
    assert where == f"the file {str(path)!r} (made now)"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="ascii") == secret.hex() + "\n"
    assert secret.hex() not in where
    again, where = ops.session_secret(file=None, env=None, state_dir=state)
    assert (again, where) == (secret, f"the file {str(path)!r}")
    given = tmp_path / "given"
    given.write_text("11" * 16, encoding="ascii")
    assert ops.session_secret(file=given, env="22" * 16, state_dir=state) == (
        b"\x11" * 16,
        f"the file {str(given)!r}",
    )
    assert ops.session_secret(file=None, env="22" * 16, state_dir=state) == (
        b"\x22" * 16,
        "$AXIS_LICENSING_SESSION_SECRET",
    )
    with pytest.raises(InvalidInput, match="cannot read the session secret file"):
        ops.load_session_secret(tmp_path / "missing")


def test_the_state_directory_sits_beside_an_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "axis.db"
    assert ops.default_state_dir(f"sqlite:///{db}") == tmp_path / "axis.db-state"
    os.environ["XDG_STATE_HOME"] = str(tmp_path / "xdg")
    try:
        assert ops.default_state_dir("memory://") == tmp_path / "xdg" / "axis-licensing"
    finally:
        del os.environ["XDG_STATE_HOME"]


def test_app_from_env_serves_the_store_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    Manager.open(url, catalog=EXAMPLE_CATALOG).close()
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[tokens]]\ntoken = "{TOKEN}"\nactor = "ops"\norganizations = ["*"]\n', encoding="utf-8"
    )
    for name in (ops.ENV_SECRET, ops.ENV_SECRET_FILE, ops.ENV_METRICS_TOKEN, ops.ENV_ADMIN_SHA256):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ops.ENV_DB, url)
    monkeypatch.setenv(ops.ENV_TOKENS, str(tokens))
    monkeypatch.setenv(ops.ENV_STATE_DIR, str(tmp_path / "state"))
    monkeypatch.setenv(ops.ENV_SECURE_COOKIES, "1")
    with TestClient(app_from_env()) as client:
        assert client.get("/v1/organizations", headers=AUTH).json() == []
        assert client.get("/v1/organizations").status_code == 401
        cookies = client.get("/signin").headers.get_list("set-cookie")
    assert cookies
    assert all("; secure" in c.lower() for c in cookies)
    assert (tmp_path / "state" / "session-secret").exists()
    monkeypatch.setenv(ops.ENV_DB, "")
    with pytest.raises(InvalidInput, match="AXIS_LICENSING_DB must name the store"):
        app_from_env()


def test_app_from_env_keeps_sessions_in_the_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every worker keeps the portal's sessions in the state directory's ``sessions/``."""
    url = f"sqlite:///{tmp_path / 'env.db'}"
    Manager.open(url, catalog=EXAMPLE_CATALOG).close()
    for name in (ops.ENV_SECRET, ops.ENV_SECRET_FILE, ops.ENV_TOKENS, ops.ENV_STATE_DIR):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ops.ENV_DB, url)
    sessions = tmp_path / "env.db-state" / "sessions"
    with TestClient(app_from_env()) as client:
        assert client.get("/healthz").status_code == 200
        assert sessions.is_dir()
        assert sessions.stat().st_mode & 0o777 == 0o700


def test_app_from_env_handles_the_catalog_as_serve_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from axis_licensing import CatalogMismatch

    for name in (ops.ENV_SECRET, ops.ENV_SECRET_FILE, ops.ENV_TOKENS, ops.ENV_ADMIN_SHA256):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ops.ENV_STATE_DIR, str(tmp_path / "state"))
    monkeypatch.setenv(ops.ENV_DB, "memory://")
    monkeypatch.setenv(ops.ENV_CATALOG, "example")
    monkeypatch.setenv(ops.ENV_ADMIN_SHA256, hash_token(TOKEN))
    with TestClient(app_from_env()) as client:
        r = client.get("/v1/catalog/versions", headers=AUTH)
        assert r.status_code == 200
        assert [v["version"] for v in r.json()] == [1]
    url = f"sqlite:///{tmp_path / 'example.db'}"
    Manager.open(url, catalog=EXAMPLE_CATALOG).close()
    monkeypatch.setenv(ops.ENV_DB, url)
    monkeypatch.setenv(ops.ENV_CATALOG, "demo")
    with pytest.raises(CatalogMismatch):
        app_from_env()


def test_every_command_of_the_api_is_counted_by_its_action(manager: Manager) -> None:
    """The commands metric names each API command by its declared action (SPEC §3, §6.1)."""
    from axis_licensing.http._metrics import COMMAND_ACTIONS
    from axis_licensing.shell.operations import OPERATIONS, Kind

    app = create_app(manager)
    handled = {
        handler.handler_name
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if route.path.startswith("/v1/")
        and handler.http_methods & {"POST", "PUT", "PATCH", "DELETE"}
    }
    commands = {name for name, op in OPERATIONS.items() if op.kind is Kind.COMMAND}
    assert {COMMAND_ACTIONS[name] for name in handled} == commands
    assert COMMAND_ACTIONS["vendor_issue_key"] == "vendor.issue_key"
    assert COMMAND_ACTIONS["members_set_role"] == "members.set_role"
