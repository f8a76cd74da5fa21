"""A seeded soak: one long random command sequence into several backends in lockstep (R13).

Every operation runs on each backend in turn; their outcomes (the result, or
the library error's class) must match at once, so the first divergence is
named with its operation number. Every ``--check-every`` operations, and at the
end, a hash of every organization's ledger (status, wallet and need of each
product) and history must match too.

Run it as ``nox -s soak`` (100,000 operations) or ``python tests/soak.py --ops N
--seed S --backends memory,sqlite,postgresql``; ``tests/test_soak.py`` runs a
short one in the normal suite.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from _support import START
from axis_licensing import (
    LicenseKind,
    LicensingError,
    Manager,
    ManualClock,
    SubscriptionNotStarted,
    offline,
    to_json,
)
from reliability_support import CATALOG, CATALOG_PLUS

POSTGRES_URL = os.environ.get(
    "AXIS_LICENSING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PRODUCTS = CATALOG.product_codes
TYPES = {spec.code: spec.type_codes for spec in CATALOG.products}
MAX_ORGS = 6
#: System ids cycle through this many, so that states stay small over a long soak.
MAX_SYSTEMS = 40
ZONES = ("UTC", "Europe/Paris", "Pacific/Auckland", "America/Los_Angeles", "Asia/Kolkata")


@dataclass
class World:
    """What the generator knows it created: it draws mostly valid arguments from it."""

    orgs: list[str] = field(default_factory=list)
    systems: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # org -> (id, product)
    shipped: list[tuple[str, str]] = field(default_factory=list)  # (serial, product)
    units: dict[str, list[str]] = field(default_factory=dict)  # org -> serials
    serial_no: int = 0
    system_no: int = 0
    published: bool = False


Op = tuple[str, Callable[[Manager], object]]


def _counts(rng: random.Random, product: str, *, zero: bool, most: int) -> dict[str, int]:
    types = rng.sample(TYPES[product], rng.randint(1, len(TYPES[product])))
    low = 0 if zero else 1
    return {t: rng.randint(low, most) for t in types}


def next_op(rng: random.Random, world: World, n: int) -> Op:
    """The ``n``-th operation: a name and a call, drawn from ``rng`` and ``world``."""
    roll = rng.random()
    if not world.orgs or (roll < 0.02 and len(world.orgs) < MAX_ORGS):
        org = f"org{len(world.orgs)}"
        zone = rng.choice(ZONES)
        world.orgs.append(org)
        world.systems[org] = []
        world.units[org] = []
        return "create_organization", lambda m: m.create_organization(
            org, name=org.upper(), timezone=zone, actor="soak"
        )
    org = rng.choice(world.orgs)
    product = rng.choice(PRODUCTS)
    request_id = f"r{n}" if rng.random() < 0.2 else None
    if roll < 0.10:
        world.system_no += 1
        system = f"{org}-sys{world.system_no % MAX_SYSTEMS}"  # a taken id now and then
        if all(s != system for s, _ in world.systems[org]):
            world.systems[org].append((system, product))
        devices = _counts(rng, product, zero=True, most=12)
        return "register_system", lambda m: m.register_system(
            org, product, system, devices=devices, actor="ops", request_id=request_id
        )
    if roll < 0.28 and world.systems[org]:
        system, product = rng.choice(world.systems[org])
        devices = _counts(rng, product, zero=True, most=25)
        return "report_devices", lambda m: m.report_devices(
            org, system, devices, actor="ops", request_id=request_id
        )
    if roll < 0.33:
        return "start_subscription", lambda m: m.start_subscription(
            org, product, actor="ops", request_id=request_id
        )
    if roll < 0.45:
        kind = LicenseKind.HARDWARE if rng.random() < 0.2 else LicenseKind.SUBSCRIPTION
        quantities = _counts(rng, product, zero=False, most=15)
        key_request = f"key{n}"
        other = rng.choice(world.orgs)

        def buy(m: Manager) -> object:
            key = m.vendor.issue_key(product, kind, quantities, request_id=key_request)
            first = m.redeem_key(org, key, actor="buyer")
            try:
                m.redeem_key(other, key.lower(), actor="buyer")  # a second redemption fails
            except LicensingError as exc:
                return first, type(exc).__name__
            return first, "redeemed twice"

        return "buy", buy
    if roll < 0.58:
        quantities = _counts(rng, product, zero=False, most=8)
        period = rng.choice((0, 0, 0, 1, 2, 6))
        return "allocate", lambda m: m.allocate(
            org, product, quantities, period=period, actor="ops", request_id=request_id
        )
    if roll < 0.66:
        through = rng.choice((0, 0, 1, 2))
        return "allocate_need", lambda m: m.allocate_need(
            org, product, through=through, actor="ops", request_id=request_id
        )
    if roll < 0.71:
        world.serial_no += 1
        serial = f"hw{world.serial_no}"
        world.shipped.append((serial, product))
        preloaded = _counts(rng, product, zero=False, most=4) if rng.random() < 0.7 else {}
        return "ship_hardware", lambda m: m.vendor.ship_hardware(serial, product, preloaded)
    if roll < 0.76 and world.shipped and world.systems[org]:
        serial, _ = rng.choice(world.shipped[-MAX_SYSTEMS:])
        system, _ = rng.choice(world.systems[org])
        world.units[org].append(serial)
        return "register_hardware", lambda m: m.register_hardware(
            org, system, serial, actor="ops", request_id=request_id
        )
    if roll < 0.80 and world.units[org]:
        serial = rng.choice(world.units[org])
        quantities = {rng.choice(TYPES[product]): rng.randint(1, 3)}
        return "allocate_to_hardware", lambda m: m.allocate_to_hardware(
            org, serial, quantities, actor="ops"
        )
    if roll < 0.83:
        system = f"off-{org}-{rng.randrange(MAX_SYSTEMS // 4)}"
        devices = _counts(rng, product, zero=True, most=6)
        units = [s for s, p in world.shipped if p == product][-2:] if rng.random() < 0.3 else []

        def upload(m: Manager) -> object:
            data = offline.describe_system(
                system_id=system,
                product=product,
                devices=devices,
                hardware=units,
                now=m.clock.now(),
            )
            return m.upload_system_file(org, data, actor="ops")

        return "upload_system_file", upload
    if roll < 0.90:
        back = timedelta(days=rng.randint(0, 400))
        return "status", lambda m: m.status(org, product, at=m.clock.now() - back)
    if roll < 0.94:
        horizon = rng.randint(0, 6)
        return "need", lambda m: m.need(org, product, horizon=horizon)
    if roll < 0.96:
        return "wallet", lambda m: m.wallet(org, product)
    if roll < 0.975:
        which = rng.randrange(4)
        days = rng.randint(0, 400)
        return (
            "listing",
            lambda m: (
                m.alerts(org, within_days=days)
                if which == 0
                else m.systems(org, limit=10)
                if which == 1
                else m.products(org)
                if which == 2
                else m.organizations()
            ),
        )
    if roll < 0.976 and not world.published:  # R15: a new catalog version, once
        world.published = True
        return "publish_catalog", lambda m: m.vendor.publish_catalog(CATALOG_PLUS, actor="v")
    limit = rng.randint(1, 20)
    offset = rng.randint(0, 50)
    return "history", lambda m: m.history(org, limit=limit, offset=offset)


def outcome(call: Callable[[Manager], object], m: Manager) -> str:
    """The call's result as JSON text, or the class of the library error it raised."""
    try:
        return to_json(call(m))
    except LicensingError as exc:
        return f"error:{type(exc).__name__}"


def ledger_hash(m: Manager, orgs: Sequence[str]) -> str:
    """A hash of every organization's status, wallet and need per product, alerts and history."""
    digest = hashlib.sha256()
    for org in orgs:
        for product in PRODUCTS:
            digest.update(to_json(m.status(org, product)).encode())
            digest.update(to_json(m.wallet(org, product)).encode())
            try:
                need = to_json(m.need(org, product, horizon=3))
            except SubscriptionNotStarted:
                need = "not started"
            digest.update(need.encode())
        digest.update(to_json(m.alerts(org)).encode())
        digest.update(to_json(m.history(org)).encode())
    return digest.hexdigest()


def _signing_key(seed: int) -> Ed25519PrivateKey:
    """The signing key of a seed: the same keys and license files in every run of it."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"soak:{seed}".encode()).digest())


class Diverged(AssertionError):
    """Two backends answered one operation differently."""


@contextmanager
def managers(
    names: Sequence[str], clock: ManualClock, folder: Path, seed: int
) -> Iterator[list[Manager]]:
    """One Manager per backend name, on fresh stores, sharing one clock and signing key."""
    key = _signing_key(seed)
    drop: list[str] = []
    with ExitStack() as stack:
        opened = []
        for name in names:
            if name == "memory":
                url = "memory://"
            elif name == "sqlite":
                url = f"sqlite:///{folder / 'soak.db'}"
            elif name == "postgresql":
                schema = f"axis_soak_{uuid.uuid4().hex[:12]}"
                drop.append(schema)
                url = POSTGRES_URL + ("&" if "?" in POSTGRES_URL else "?") + f"schema={schema}"
            else:
                raise ValueError(f"unknown backend {name!r}")
            m = Manager.open(url, catalog=CATALOG, clock=clock, signing_key=key)
            stack.callback(m.close)
            opened.append(m)
        try:
            yield opened
        finally:
            stack.close()
            if drop:
                import psycopg

                with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                    for schema in drop:
                        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def soak(
    ops: int,
    seed: int,
    backends: Sequence[str],
    *,
    check_every: int = 1000,
    progress: TextIO | None = None,
) -> str:
    """Run ``ops`` seeded operations into ``backends`` in lockstep; returns the final ledger hash.

    Raises:
        Diverged: the backends answered an operation, or the ledger, differently.
    """
    rng = random.Random(seed)
    world = World()
    clock = ManualClock(START)
    started = time.monotonic()
    tally: dict[str, int] = {}
    with (
        tempfile.TemporaryDirectory() as folder,
        managers(backends, clock, Path(folder), seed) as ms,
    ):
        for n in range(1, ops + 1):
            if rng.random() < 0.15:
                clock.advance(timedelta(hours=rng.randint(1, 24 * rng.choice((1, 1, 3, 20)))))
            name, call = next_op(rng, world, n)
            answers = [outcome(call, m) for m in ms]
            if len(set(answers)) != 1:
                raise Diverged(
                    f"seed {seed}, operation {n} ({name}) at {clock.now().isoformat()}: "
                    + "; ".join(f"{b}: {a[:300]}" for b, a in zip(backends, answers, strict=True))
                )
            kind = "error" if answers[0].startswith("error:") else "ok"
            tally[f"{name}:{kind}"] = tally.get(f"{name}:{kind}", 0) + 1
            if n % check_every == 0 or n == ops:
                hashes = [ledger_hash(m, world.orgs) for m in ms]
                if len(set(hashes)) != 1:
                    raise Diverged(
                        f"seed {seed}, after operation {n}: ledger hashes differ: "
                        + ", ".join(f"{b}={h[:12]}" for b, h in zip(backends, hashes, strict=True))
                    )
                if progress is not None:
                    rate = n / (time.monotonic() - started)
                    print(
                        f"soak seed {seed}: {n:,}/{ops:,} operations on {', '.join(backends)}; "
                        f"{rate:,.0f} ops/s; {clock.now().date()}; ledger {hashes[0][:12]}",
                        file=progress,
                        flush=True,
                    )
        if progress is not None:
            print(
                "outcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(tally.items())),
                file=progress,
            )
        return hashes[0]


def main(argv: Sequence[str] | None = None) -> int:
    """``python tests/soak.py [--ops N] [--seed S] [--backends a,b,c] [--check-every N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backends", default="memory,sqlite,postgresql")
    parser.add_argument("--check-every", type=int, default=5000)
    args = parser.parse_args(argv)
    final = soak(
        args.ops,
        args.seed,
        args.backends.split(","),
        check_every=args.check_every,
        progress=sys.stdout,
    )
    print(f"soak passed: seed {args.seed}, {args.ops:,} operations, ledger {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
