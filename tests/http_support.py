"""What the HTTP tests share: tokens, bearer headers, problems, snapshots, replays (SPEC §6)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from axis_licensing import Manager, ManualClock, offline
from axis_licensing.backends import TABLES
from axis_licensing.http import TokenFile, create_app, hash_token

ORG = "acme"
PRODUCT = "acs-pro"
BASE = f"/v1/organizations/{ORG}"


def offline_system(clock: ManualClock) -> bytes:
    """The description file of the offline system ``offline-1``: two core devices, made now."""
    return offline.describe_system(
        system_id="offline-1", product=PRODUCT, devices={"core": 2}, now=clock.now()
    )


def snapshot(manager: Manager) -> dict[str, list[dict[str, Any]]]:
    """Every stored row of every table: what a refused request must leave unchanged."""
    return {table: list(manager.backend.export_rows(table)) for table in TABLES}


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """The body of ``response``, checked to be an RFC 9457 problem of this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert (body["code"], body["status"]) == (code, status)
    assert "Traceback" not in response.text
    return body


def bearer(name: str) -> dict[str, str]:
    """The ``Authorization`` header of ``name``'s token in :func:`tokens`."""
    return {"Authorization": f"Bearer {name}-0123456789abcdef"}


ALICE = bearer("alice")
VENDOR = bearer("vendor")


def tokens(**limited: list[str]) -> str:
    """A tokens file: ``alice`` for every organization, each of ``limited`` for its
    organizations, and ``vendor-bot`` (the vendor, its token stored as a hash)."""
    entries = ['token = "alice-0123456789abcdef"\nactor = "alice"\norganizations = ["*"]']
    entries += [
        f'token = "{name}-0123456789abcdef"\nactor = "{name}"\norganizations = {orgs!r}'.replace(
            "'", '"'
        )
        for name, orgs in limited.items()
    ]
    vendor_hash = hash_token("vendor-0123456789abcdef")
    entries.append(f'sha256 = "{vendor_hash}"\nactor = "vendor-bot"\nvendor = true')
    return "".join(f"\n[[tokens]]\n{entry}\n" for entry in entries)


def key(request_id: str) -> dict[str, str]:
    """Alice's headers with ``Idempotency-Key: request_id``."""
    return {**ALICE, "Idempotency-Key": request_id}


def same_answer(first: Any, again: Any) -> None:
    """A replay answered as the first time: the same status and the same body (SPEC §6.1)."""
    assert again.status_code == first.status_code, again.text
    assert again.json() == first.json()


def replay_client(manager: Manager) -> Iterator[TestClient[Litestar]]:
    """A client over ``manager`` with ``acme`` and its system ``srv-1`` (2 cores) in it."""
    manager.create_organization(ORG, name="Acme", actor="setup")
    manager.register_system(ORG, PRODUCT, "srv-1", devices={"core": 2}, actor="setup")
    with TestClient(create_app(manager, tokens=TokenFile.parse(tokens()))) as c:
        yield c
