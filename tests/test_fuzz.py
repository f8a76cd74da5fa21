"""Input fuzz of every public entry point (R14): only the library's errors come out.

Hypothesis throws wrong types, None, bools, floats, huge and negative ints,
empty, long and control-character strings, naive and out-of-range datetimes
and odd mappings at the Manager's commands and queries, the Vendor, the
catalog classes, ``Manager.open``, the offline files and the CLI. Every call
must either succeed or raise a :class:`~axis_licensing.errors.LicensingError`;
a failed call leaves the whole store exactly as it was (every table of
``backends.TABLES``). An argument that is plainly not of its kind (say
``devices=0``) must be refused, never taken as something else.

Memory and SQLite run every time; PostgreSQL runs with fewer examples.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import inspect
import os
import unicodedata
import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _support import START
from axis_licensing import (
    EXAMPLE_CATALOG,
    Catalog,
    InvalidInput,
    LicenseKind,
    LicenseType,
    LicensingError,
    Manager,
    ManualClock,
    ProductSpec,
    TamperedLicenseFile,
    offline,
)
from axis_licensing.cli import EXIT_CODES, main
from axis_licensing.offline import _canonical  # the signed form, to sign odd bodies
from axis_licensing.shell.operations import OPERATIONS
from conftest import POSTGRES_URL, _with_params, require_postgres
from reliability_support import CATALOG, CATALOG_PLUS, seed, snapshot

# -- what a valid argument of each kind is (an oracle written apart from the library) --------


def _valid_id(value: object, max_length: int = 128) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= max_length
        and bool(value.strip())
        and not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value)
    )


def _valid_counts(value: object, *, allow_zero: bool, allow_empty: bool) -> bool:
    if not isinstance(value, Mapping):
        return False
    if not value and not allow_empty:
        return False
    return all(
        _valid_id(k) and type(v) is int and (0 if allow_zero else 1) <= v <= 1_000_000
        for k, v in value.items()
    )


_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _valid_instant(value: object) -> bool:
    return (
        isinstance(value, datetime)
        and value.tzinfo is not None
        and value.utcoffset() is not None
        and _EARLIEST <= value <= _LATEST
    )


KINDS: dict[str, Callable[[object], bool]] = {
    "id": _valid_id,
    "name": lambda v: _valid_id(v, 200),
    "opt_id": lambda v: v is None or _valid_id(v),
    "int": lambda v: type(v) is int,
    "at": lambda v: v is None or _valid_instant(v),
    "bound": lambda v: (
        v is None or _valid_instant(v) or (isinstance(v, date) and not isinstance(v, datetime))
    ),
    "devices": lambda v: _valid_counts(v, allow_zero=True, allow_empty=True),
    "opt_devices": lambda v: v is None or _valid_counts(v, allow_zero=True, allow_empty=True),
    "preloaded": lambda v: v is None or _valid_counts(v, allow_zero=False, allow_empty=True),
    "quantities": lambda v: _valid_counts(v, allow_zero=False, allow_empty=False),
    "actions": lambda v: (
        v is None
        or isinstance(v, str)
        or (
            isinstance(v, Iterable)
            and not isinstance(v, bytes | Mapping)
            and all(isinstance(a, str) for a in v)
        )
    ),
    "key": lambda v: isinstance(v, str),
    "kind": lambda v: (
        isinstance(v, LicenseKind) or (isinstance(v, str) and v in {k.value for k in LicenseKind})
    ),
    "bytes": lambda v: isinstance(v, bytes),
    "any": lambda v: True,
}

# -- junk -------------------------------------------------------------------------------------

_CONTROL = st.characters(whitelist_categories=["Cc"])
TEXT_JUNK = st.one_of(
    st.sampled_from(["", " ", "\t", "\n", "a\x00b", "x" * 129, "é" * 300, "\u2028", "\x7f"]),
    st.text(max_size=12),
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=3), _CONTROL, st.text(max_size=3)),
    st.text(min_size=129, max_size=400),
)
NAIVE = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))
AWARE = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]),
)
ODD_MAPPINGS = st.dictionaries(
    keys=st.one_of(st.text(max_size=5), st.integers(), st.none(), st.booleans(), TEXT_JUNK),
    values=st.one_of(
        st.integers(),
        st.sampled_from([0, -1, 10**6 + 1, 2**63]),
        st.floats(),
        st.none(),
        st.booleans(),
        st.text(max_size=3),
    ),
    max_size=3,
)
#: The edges of the calendar, where date arithmetic overflows.
EDGES = st.sampled_from(
    [
        datetime.min,
        datetime.min + timedelta(minutes=4),
        datetime.max,
        datetime.max - timedelta(minutes=4),
        datetime(1899, 12, 31, 23, 59),
        datetime(9000, 1, 1, 0, 0, 1),
    ]
)
EDGE_INSTANTS = st.builds(
    lambda d, tz: d.replace(tzinfo=tz),
    EDGES,
    st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]),
)
#: The falsy values that are not what they stand in for: ``devices=0`` is not "no devices".
FALSY = st.sampled_from([[], (), "", 0.0, False, 0, set(), b"", -0.0])
JUNK = st.one_of(
    FALSY,
    FALSY,
    EDGES,
    EDGE_INSTANTS,
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**31, 2**63, -(2**63) - 1, 10**30]),
    st.floats(),
    st.sampled_from([0.0, float("nan"), float("inf"), -0.0]),
    TEXT_JUNK,
    st.binary(max_size=12),
    NAIVE,
    AWARE,
    st.dates(),
    st.sampled_from([frozenset({"core"}), [("core", 1)], {"core"}]),
    st.lists(st.one_of(st.integers(), st.text(max_size=4), st.none()), max_size=3),
    ODD_MAPPINGS,
    st.builds(object),
)

# -- the valid side of each argument ----------------------------------------------------------


def _ids(known: list[str], prefix: str) -> st.SearchStrategy[str]:
    """Known ids, and fresh ones, so that commands that create things can succeed again."""
    fresh = st.integers(0, 10**9).map(lambda i: f"{prefix}{i}")
    return st.one_of(st.sampled_from(known), fresh, fresh)


ORGS = st.sampled_from(["o1", "o1", "o2", "o3"])
NEW_ORGS = _ids(["o1", "o2"], "o-")
PRODUCTS = st.sampled_from(["acs-pro", "vms-5", "nope"])
SYSTEMS = st.sampled_from(["s1", "s2", "s9", "s-new"])
NEW_SYSTEMS = _ids(["s1", "s9"], "s-")
SERIALS = st.sampled_from(["hw1", "hw2", "hw3", "hw-new"])
NEW_SERIALS = _ids(["hw1", "hw2"], "hw-")
TYPES = st.sampled_from(["core", "universal", "door", "bogus"])
COUNTS = st.dictionaries(TYPES, st.integers(0, 5), max_size=3)
QUANTITIES = st.dictionaries(TYPES, st.integers(1, 5), min_size=1, max_size=2)
ACTORS = st.sampled_from(["admin", "ops"])
IN_RANGE = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(8999, 12, 30), timezones=st.just(UTC)
)


def _tz_names() -> list[str]:
    """Every zone of the tz database and every folder of one (``America``, ``Etc``, …)."""
    names = set(zoneinfo.available_timezones())
    folders = {"/".join(n.split("/")[:i]) for n in names for i in range(1, n.count("/") + 1)}
    return sorted(names | folders | {"Nowhere/City", "utc", "posixrules"})


ZONES = st.sampled_from(_tz_names())


JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def _system_files(draw: st.DrawFn) -> bytes:
    """Well-formed system description files (right checksum) with one or two odd fields."""
    fields: dict[str, st.SearchStrategy[Any]] = {
        "format_version": st.just(1),
        "system_id": st.sampled_from(["s1", "s2", "s9", "off1", "off2"]),
        "product": PRODUCTS,
        "devices": st.dictionaries(TYPES, st.integers(0, 4), max_size=2),
        "hardware": st.lists(SERIALS, max_size=2, unique=True).map(sorted),
        "made_at": st.one_of(NAIVE, EDGES).map(
            lambda d: d.isoformat(timespec="microseconds") + "Z"
        ),
    }
    odd = set(draw(st.lists(st.sampled_from(sorted(fields)), max_size=2)))
    content = {name: draw(JSON_VALUES if name in odd else v) for name, v in fields.items()}
    content["checksum"] = hashlib.sha256(_canonical(content)).hexdigest()
    return _canonical(content)


SYSTEM_FILES = _system_files()


@dataclass(frozen=True)
class Arg:
    """One argument: its valid values, and the kind that says what is valid."""

    valid: st.SearchStrategy[Any]
    kind: str


def arg(valid: st.SearchStrategy[Any], kind: str) -> Arg:
    return Arg(valid, kind)


@st.composite
def _args(draw: st.DrawFn, spec: Mapping[str, Arg]) -> dict[str, Any]:
    """Valid arguments but for one or two, which are junk (or all valid, now and then)."""
    names = list(spec)
    junk = set(draw(st.lists(st.sampled_from(names), max_size=2))) if names else set()
    return {name: draw(JUNK if name in junk else a.valid) for name, a in spec.items()}


def _draw_args(spec: Mapping[str, Arg]) -> st.SearchStrategy[dict[str, Any]]:
    return _args(spec)


def _junk_in(spec: Mapping[str, Arg], args: Mapping[str, Any]) -> list[str]:
    return [name for name, a in spec.items() if not KINDS[a.kind](args[name])]


# -- the entry points -------------------------------------------------------------------------

ACTOR = arg(ACTORS, "id")
REQUEST = arg(st.one_of(st.none(), st.sampled_from(["r1", "r2"])), "opt_id")


def manager_calls(spare: Mapping[str, str]) -> dict[str, tuple[str, dict[str, Arg]]]:
    """Each entry point of a Manager: the method path and its arguments."""
    keys = st.sampled_from(
        [spare["sub"], spare["hw"], spare["sub"].lower(), "ABCD-EFGH", "0000-0000-0000-0000"]
    )
    files = st.one_of(
        st.just(spare["file"].encode("latin-1")),
        st.binary(max_size=40),
        st.just(spare["file"].encode("latin-1")[:-3] + b"xx}"),
        SYSTEM_FILES,
    )
    return {
        "create_organization": (
            "create_organization",
            {
                "org_id": arg(NEW_ORGS, "id"),
                "name": arg(st.sampled_from(["Org", "Ørg 3"]), "name"),
                "timezone": arg(ZONES, "id"),
                "actor": ACTOR,
                "request_id": REQUEST,
            },
        ),
        "register_system": (
            "register_system",
            {
                "org_id": arg(ORGS, "id"),
                "product": arg(PRODUCTS, "id"),
                "system_id": arg(NEW_SYSTEMS, "id"),
                "devices": arg(st.one_of(st.none(), COUNTS), "opt_devices"),
                "actor": ACTOR,
                "request_id": REQUEST,
            },
        ),
        "report_devices": (
            "report_devices",
            {
                "org_id": arg(ORGS, "id"),
                "system_id": arg(SYSTEMS, "id"),
                "devices": arg(COUNTS, "devices"),
                "actor": ACTOR,
            },
        ),
        "start_subscription": (
            "start_subscription",
            {"org_id": arg(ORGS, "id"), "product": arg(PRODUCTS, "id"), "actor": ACTOR},
        ),
        "redeem_key": (
            "redeem_key",
            {"org_id": arg(ORGS, "id"), "key": arg(keys, "key"), "actor": ACTOR},
        ),
        "allocate": (
            "allocate",
            {
                "org_id": arg(ORGS, "id"),
                "product": arg(PRODUCTS, "id"),
                "quantities": arg(QUANTITIES, "quantities"),
                "period": arg(st.integers(-2, 8), "int"),
                "actor": ACTOR,
                "request_id": REQUEST,
            },
        ),
        "allocate_need": (
            "allocate_need",
            {
                "org_id": arg(ORGS, "id"),
                "product": arg(PRODUCTS, "id"),
                "through": arg(st.integers(-1, 6), "int"),
                "actor": ACTOR,
            },
        ),
        "register_hardware": (
            "register_hardware",
            {
                "org_id": arg(ORGS, "id"),
                "system_id": arg(SYSTEMS, "id"),
                "serial": arg(SERIALS, "id"),
                "actor": ACTOR,
            },
        ),
        "allocate_to_hardware": (
            "allocate_to_hardware",
            {
                "org_id": arg(ORGS, "id"),
                "serial": arg(SERIALS, "id"),
                "quantities": arg(QUANTITIES, "quantities"),
                "actor": ACTOR,
            },
        ),
        "upload_system_file": (
            "upload_system_file",
            {"org_id": arg(ORGS, "id"), "data": arg(files, "bytes"), "actor": ACTOR},
        ),
        "issue_key": (
            "vendor.issue_key",
            {
                "product": arg(PRODUCTS, "id"),
                "kind": arg(st.sampled_from(list(LicenseKind)), "kind"),
                "quantities": arg(QUANTITIES, "quantities"),
                "actor": ACTOR,
                "request_id": REQUEST,
            },
        ),
        "ship_hardware": (
            "vendor.ship_hardware",
            {
                "serial": arg(NEW_SERIALS, "id"),
                "product": arg(PRODUCTS, "id"),
                "preloaded": arg(st.one_of(st.none(), QUANTITIES), "preloaded"),
                "actor": ACTOR,
            },
        ),
        "status": (
            "status",
            {"org_id": arg(ORGS, "id"), "product": arg(PRODUCTS, "id"), "at": arg(IN_RANGE, "at")},
        ),
        "need": (
            "need",
            {
                "org_id": arg(ORGS, "id"),
                "product": arg(PRODUCTS, "id"),
                "at": arg(st.one_of(st.none(), IN_RANGE), "at"),
                "horizon": arg(st.integers(-1, 101), "int"),
            },
        ),
        "wallet": (
            "wallet",
            {"org_id": arg(ORGS, "id"), "product": arg(PRODUCTS, "id"), "at": arg(IN_RANGE, "at")},
        ),
        "system_status": (
            "system_status",
            {"org_id": arg(ORGS, "id"), "system_id": arg(SYSTEMS, "id"), "at": arg(IN_RANGE, "at")},
        ),
        "history": (
            "history",
            {
                "org_id": arg(ORGS, "id"),
                "product": arg(st.one_of(st.none(), PRODUCTS), "opt_id"),
                "actor": arg(st.one_of(st.none(), ACTORS), "opt_id"),
                "actions": arg(
                    st.one_of(
                        st.none(),
                        st.lists(st.sampled_from(["key_redeemed", "licenses_allocated", "x"])),
                    ),
                    "actions",
                ),
                "since": arg(st.one_of(st.none(), st.dates(), IN_RANGE), "bound"),
                "until": arg(st.one_of(st.none(), st.dates(), IN_RANGE), "bound"),
                "limit": arg(st.one_of(st.none(), st.integers(-1, 5)), "any"),
                "offset": arg(st.integers(-1, 5), "int"),
            },
        ),
    }


#: Arguments by name, for public methods the table above does not list yet (new ones).
BY_NAME: dict[str, Arg] = {
    "org_id": arg(ORGS, "id"),
    "product": arg(PRODUCTS, "id"),
    "system_id": arg(SYSTEMS, "id"),
    "serial": arg(SERIALS, "id"),
    "actor": ACTOR,
    "request_id": REQUEST,
    "at": arg(st.one_of(st.none(), IN_RANGE), "at"),
    "since": arg(st.one_of(st.none(), st.dates(), IN_RANGE), "bound"),
    "until": arg(st.one_of(st.none(), st.dates(), IN_RANGE), "bound"),
    "limit": arg(st.one_of(st.none(), st.integers(0, 5)), "any"),
    "offset": arg(st.integers(0, 5), "int"),
    "devices": arg(COUNTS, "devices"),
    "quantities": arg(QUANTITIES, "quantities"),
    "within_days": arg(st.integers(-1, 4000), "any"),
    "catalog": arg(st.sampled_from([CATALOG, CATALOG_PLUS, EXAMPLE_CATALOG]), "any"),
    "horizon": arg(st.integers(-1, 101), "any"),
    "through": arg(st.integers(-1, 6), "any"),
    "period": arg(st.integers(-2, 8), "any"),
}
#: Public methods that are not entry points to fuzz.
#: ``execute`` runs the other entry points by name: it has a fuzz of its own below.
NOT_FUZZED = frozenset(
    {"open", "close", "public_key", "plugin_manager", "catalog", "clock", "execute"}
)


def introspected_calls(m: Manager) -> dict[str, tuple[str, dict[str, Arg]]]:
    """Public Manager and Vendor methods the table does not list, with arguments by name.

    So an entry point added later is fuzzed from the day it lands: an argument
    with a known name gets that name's values, any other its default or junk.
    """
    listed = {path for path, _ in manager_calls({"sub": "", "hw": "", "file": ""}).values()}
    found: dict[str, tuple[str, dict[str, Arg]]] = {}
    for owner, prefix in ((m, ""), (m.vendor, "vendor.")):
        for name in dir(type(owner)):
            path = prefix + name
            if name.startswith("_") or name in NOT_FUZZED or path in listed:
                continue
            if isinstance(getattr(type(owner), name), property):
                continue
            method = getattr(owner, name)
            if not callable(method):
                continue
            spec: dict[str, Arg] = {}
            for param in inspect.signature(method).parameters.values():
                if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                    continue
                if param.name in BY_NAME:
                    spec[param.name] = BY_NAME[param.name]
                elif param.default is not param.empty:
                    spec[param.name] = arg(st.just(param.default), "any")
                else:
                    spec[param.name] = arg(JUNK, "any")
            found[path] = (path, spec)
    return found


def _method(m: Manager, path: str) -> Callable[..., Any]:
    target: Any = m
    for part in path.split("."):
        target = getattr(target, part)
    return target  # type: ignore[no-any-return]


# -- stores -----------------------------------------------------------------------------------

STORES = ("memory", "sqlite", "postgresql")
#: Examples per entry point: PostgreSQL is slower, so it gets fewer. ``FUZZ_SCALE=10``
#: multiplies them for a deeper search.
_SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
EXAMPLES = {"memory": 60 * _SCALE, "sqlite": 40 * _SCALE, "postgresql": 12 * _SCALE}


@dataclass
class Store:
    name: str
    manager: Manager
    clock: ManualClock
    spare: dict[str, str]


@pytest.fixture(scope="module", params=STORES)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """A seeded Manager on each backend, shared by this module's tests."""
    name = request.param
    drop: str | None = None
    if name == "memory":
        url = "memory://"
    elif name == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    else:
        require_postgres()
        drop = f"axis_fuzz_{uuid.uuid4().hex[:12]}"
        url = _with_params(POSTGRES_URL, schema=drop)
    clock = ManualClock(START)
    m = Manager.open(url, catalog=CATALOG, clock=clock)
    try:
        spare = seed(m)
        yield Store(name, m, clock, spare)
    finally:
        m.close()
        if drop is not None:
            import psycopg

            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{drop}" CASCADE')


def _fuzz(store: Store, strategy: st.SearchStrategy[Any], check: Callable[[Any], None]) -> None:
    @settings(
        max_examples=EXAMPLES[store.name],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(strategy)
    def run(value: Any) -> None:
        check(value)

    run()


def _call_refused_or_done(
    store: Store, label: str, call: Callable[[], object], junk: list[str]
) -> None:
    """Run ``call``: a library error leaves the store as it was; junk must be refused."""
    before = snapshot(store.manager.backend)
    try:
        call()
    except LicensingError:
        assert snapshot(store.manager.backend) == before, f"{label} failed but changed the store"
        return
    except Exception as exc:  # the bug this fuzz is for
        raise AssertionError(f"{label} raised {type(exc).__name__}: {exc}") from exc
    assert not junk, f"{label} accepted the invalid argument(s) {junk}"


ENTRY_POINTS = sorted(manager_calls({"sub": "", "hw": "", "file": ""}))


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_r14_fuzz_manager_entry_points_raise_only_library_errors_and_change_nothing(
    store: Store, entry: str
) -> None:
    path, spec = manager_calls(store.spare)[entry]
    method = _method(store.manager, path)

    def check(drawn: tuple[dict[str, Any], int]) -> None:
        args, days = drawn
        store.clock.advance(days=days)
        junk = _junk_in(spec, args)
        _call_refused_or_done(store, f"{path}({args!r})", lambda: method(**args), junk)

    _fuzz(store, st.tuples(_draw_args(spec), st.integers(0, 20)), check)


def base_arguments(spare: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Arguments that pass every check, per entry point (fresh ids where a command creates)."""
    fresh = uuid.uuid4().hex[:8]
    return {
        "create_organization": {"org_id": f"o-{fresh}", "name": "N", "timezone": "UTC"},
        "register_system": {
            "org_id": "o1",
            "product": "acs-pro",
            "system_id": f"s-{fresh}",
            "devices": {"core": 1},
        },
        "report_devices": {"org_id": "o1", "system_id": "s1", "devices": {"core": 1}},
        "start_subscription": {"org_id": "o2", "product": "acs-pro"},
        "redeem_key": {"org_id": "o1", "key": spare["sub"]},
        "allocate": {"org_id": "o1", "product": "acs-pro", "quantities": {"core": 1}, "period": 1},
        "allocate_need": {"org_id": "o1", "product": "acs-pro", "through": 0},
        "register_hardware": {"org_id": "o1", "system_id": "s1", "serial": "hw2"},
        "allocate_to_hardware": {"org_id": "o1", "serial": "hw1", "quantities": {"core": 1}},
        "upload_system_file": {"org_id": "o1", "data": spare["file"].encode("latin-1")},
        "issue_key": {"product": "acs-pro", "kind": "subscription", "quantities": {"core": 1}},
        "ship_hardware": {"serial": f"hw-{fresh}", "product": "acs-pro", "preloaded": {"core": 1}},
        "status": {"org_id": "o1", "product": "acs-pro", "at": None},
        "need": {"org_id": "o1", "product": "acs-pro", "at": None, "horizon": 2},
        "wallet": {"org_id": "o1", "product": "acs-pro", "at": None},
        "system_status": {"org_id": "o1", "system_id": "s1", "at": None},
        "history": {"org_id": "o1", "actions": ["key_redeemed"], "limit": 3, "offset": 0},
    }


#: Falsy values that are none of the things they could be mistaken for.
FALSY_VALUES: tuple[object, ...] = (0, False, "", [], (), 0.0, b"", set())


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_r14_a_falsy_value_never_stands_in_for_an_argument(store: Store, entry: str) -> None:
    """``devices=0``, ``preloaded=""``, ``actions=0``…: each is refused, never read as "none"."""
    path, spec = manager_calls(store.spare)[entry]
    base = base_arguments(store.spare)[entry]
    for name in spec:
        if name in ("request_id", "limit") or spec[name].kind in ("any", "key"):
            continue  # None is a valid request_id or limit; any string is a key to try
        for value in FALSY_VALUES:
            args = {**({"actor": "admin"} if "actor" in spec else {}), **base, name: value}
            if KINDS[spec[name].kind](value):
                continue
            _call_refused_or_done(
                store,
                f"{path}({args!r})",
                functools.partial(_method(store.manager, path), **args),
                [name],
            )


def test_r14_fuzz_public_methods_the_table_does_not_list(store: Store) -> None:
    """Entry points added after this fuzz was written are fuzzed by their arguments' names."""
    calls = introspected_calls(store.manager)
    for path, spec in calls.values():
        method = _method(store.manager, path)

        def check(args: dict[str, Any], path: str = path, method: Any = method) -> None:
            _call_refused_or_done(store, f"{path}({args!r})", lambda: method(**args), [])

        _fuzz(store, _draw_args(spec), check)


def test_r14_fuzz_execute_refuses_what_each_method_refuses(store: Store) -> None:
    """``Manager.execute`` runs each declared entry point with the same checks (issue 14)."""
    names = sorted(OPERATIONS)

    def draw(name: str) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
        spec = {
            p.name: BY_NAME.get(p.name, arg(JUNK if p.required else st.just(p.default), "any"))
            for p in OPERATIONS[name].params
        }
        return _draw_args(spec).map(lambda args: (name, args))

    def check(drawn: tuple[str, dict[str, Any]]) -> None:
        name, args = drawn
        _call_refused_or_done(
            store, f"execute({name!r}, {args!r})", lambda: store.manager.execute(name, **args), []
        )

    _fuzz(store, st.sampled_from(names).flatmap(draw), check)


class _Later(Manager):
    """A Manager with an entry point this file's table does not list."""

    def frobnicate(self, org_id: str, *, product: str | None = None, flavour: int = 3) -> str:
        return f"{org_id} {product} {flavour}"


def test_the_fuzz_finds_entry_points_added_later() -> None:
    with _Later.open("memory://", catalog=CATALOG) as m:
        calls = introspected_calls(m)
    assert "frobnicate" in calls
    _, spec = calls["frobnicate"]
    assert (spec["org_id"], spec["product"]) == (BY_NAME["org_id"], BY_NAME["product"])
    assert spec["flavour"].kind == "any"


# -- the catalog ------------------------------------------------------------------------------

LICENSE_TYPES = st.lists(
    st.builds(LicenseType, st.sampled_from(["core", "door", "core"]), st.just(())),
    min_size=1,
    max_size=2,
)
PRODUCT_ARGS: dict[str, Arg] = {
    "code": arg(st.sampled_from(["p", "q"]), "id"),
    "name": arg(st.just("P"), "name"),
    "term_years": arg(st.one_of(st.integers(-1, 12), st.integers(0, 10**4)), "any"),
    "growth_rate": arg(st.sampled_from([0, 1, "1/2", 0.3, "2"]), "any"),
    "trial_days": arg(st.one_of(st.integers(-1, 400), st.integers(0, 10**10)), "any"),
    "grace_days": arg(st.one_of(st.integers(-1, 400), st.integers(0, 10**10)), "any"),
    "license_types": arg(LICENSE_TYPES, "any"),
}


def _use_product(spec: ProductSpec, start: datetime, horizon: int, later: datetime) -> None:
    """Run a product through a Manager's commands and queries: dates must never overflow."""
    clock = ManualClock(start)
    with Manager.open("memory://", catalog=Catalog(products=[spec]), clock=clock) as m:
        core = spec.type_codes[0]
        m.create_organization("o", name="O", actor="a")
        m.register_system("o", spec.code, "s", devices={core: 3}, actor="a")
        m.start_subscription("o", spec.code, actor="a")
        m.redeem_key("o", m.vendor.issue_key(spec.code, quantities={core: 9}), actor="a")
        m.allocate_need("o", spec.code, actor="a")
        m.need("o", spec.code, horizon=horizon)
        m.allocate("o", spec.code, {core: 1}, period=1, actor="a")
        for at in (later, start):
            m.status("o", spec.code, at=at)
            m.wallet("o", spec.code, at=at)
            m.system_status("o", "s", at=at)
            m.need("o", spec.code, at=at, horizon=horizon)
        m.history("o")


@settings(max_examples=150, deadline=None)
@given(
    _draw_args(PRODUCT_ARGS),
    IN_RANGE,
    st.integers(0, 100),
    IN_RANGE,
)
def test_r14_fuzz_product_specs_are_refused_or_work_end_to_end(
    args: dict[str, Any], start: datetime, horizon: int, later: datetime
) -> None:
    try:
        spec = ProductSpec(**args)
    except LicensingError:
        return
    except Exception as exc:
        raise AssertionError(f"ProductSpec({args!r}) raised {type(exc).__name__}: {exc}") from exc
    try:
        _use_product(spec, start, horizon, later)
    except LicensingError:
        pass
    except Exception as exc:
        raise AssertionError(
            f"{spec!r} from {start} (horizon {horizon}, at {later}) raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        JUNK,
        st.lists(st.one_of(JUNK, st.just(CATALOG.products[0])), max_size=3),
        st.just(list(CATALOG.products)),
    ),
    st.one_of(JUNK, TYPES),
    st.one_of(JUNK, st.lists(TYPES, max_size=2)),
)
def test_r14_fuzz_catalogs_and_license_types_raise_only_library_errors(
    products: object, code: object, covers: object
) -> None:
    for label, make in (
        ("Catalog", lambda: Catalog(products=products)),  # type: ignore[arg-type]
        ("LicenseType", lambda: LicenseType(code, covers)),  # type: ignore[arg-type]
        (
            "ProductSpec",
            lambda: ProductSpec("p", "P", license_types=products),  # type: ignore[arg-type]
        ),
    ):
        try:
            made = make()
        except LicensingError:
            continue
        except Exception as exc:
            raise AssertionError(f"{label} raised {type(exc).__name__}: {exc}") from exc
        if label == "Catalog":
            assert isinstance(made, Catalog)
            for spec in made.products:
                assert isinstance(spec, ProductSpec)


# -- Manager.open -----------------------------------------------------------------------------


class _NaiveClock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_r14_fuzz_manager_open_raises_only_library_errors(
    tmp_path: Path, data: st.DataObject
) -> None:
    name = "".join(
        data.draw(
            st.lists(
                st.sampled_from([*"ab.-_ é", "\x00", "%00", "\x1f", "%", "%zz", "?", "#"]),
                max_size=6,
            )
        )
    )
    url = data.draw(
        st.one_of(
            st.just("memory://"),
            st.just(f"sqlite:///{tmp_path}/{name}"),
            st.just(f"sqlite://{name}/x.db"),
            st.sampled_from(
                ["sqlite://", "sqlite:///", "sqlite://[/x", "nope://x", "://", "memory"]
            ),
            JUNK.filter(lambda v: not isinstance(v, str) or "://" not in v),
        )
    )
    catalog = data.draw(st.one_of(st.just(CATALOG), JUNK))
    clock = data.draw(
        st.one_of(st.none(), st.builds(ManualClock, IN_RANGE), st.just(_NaiveClock()), JUNK)
    )
    signing_key = data.draw(st.one_of(st.none(), st.just(offline.generate_signing_key()), JUNK))
    plugins = data.draw(st.one_of(st.just(()), st.just([]), JUNK, st.lists(JUNK, max_size=2)))
    try:
        m = Manager.open(
            url, catalog=catalog, clock=clock, signing_key=signing_key, plugins=plugins
        )
    except LicensingError:
        return
    except Exception as exc:
        raise AssertionError(
            f"Manager.open({url!r}, catalog={catalog!r}, clock={clock!r}, "
            f"signing_key={signing_key!r}, plugins={plugins!r}) raised {type(exc).__name__}: {exc}"
        ) from exc
    with m:
        try:
            m.create_organization("o", name="O", actor="a")
            m.history("o")
        except LicensingError:
            pass


# -- offline files ----------------------------------------------------------------------------

_KEY = offline.generate_signing_key()
_PRIVATE = offline.load_signing_key(_KEY)
_PUBLIC = offline.public_key_pem(_PRIVATE)
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _instant_text(value: datetime) -> str:
    return value.isoformat(timespec="microseconds") + "Z"


def _signed(body: dict[str, Any]) -> bytes:
    signature = _PRIVATE.sign(_canonical(body))
    return _canonical({"body": body, "signature": base64.b64encode(signature).decode("ascii")})


@st.composite
def _bodies(draw: st.DrawFn) -> dict[str, Any]:
    """License file bodies: every field well-formed but for one or two odd ones."""
    fields: dict[str, st.SearchStrategy[Any]] = {
        "format_version": st.just(1),
        "key_id": st.just(offline.key_id(_PRIVATE.public_key())),
        "org_id": st.just("o"),
        "product": st.just("acs-pro"),
        "system_id": st.just("s1"),
        "issued_at": st.one_of(NAIVE, EDGES).map(_instant_text),
        "licensed": st.booleans(),
        "devices": st.dictionaries(TYPES, st.integers(0, 3), max_size=2),
        "valid_until": st.one_of(st.dates(), st.sampled_from([date.min, date.max])).map(
            date.isoformat
        ),
        "timezone": ZONES,
    }
    odd = set(draw(st.lists(st.sampled_from(sorted(fields)), max_size=2)))
    return {name: draw(JSONISH if name in odd else value) for name, value in fields.items()}


BODIES = _bodies()


@settings(max_examples=200, deadline=None)
@given(
    BODIES,
    st.one_of(AWARE, EDGE_INSTANTS, IN_RANGE, IN_RANGE, NAIVE),
    st.one_of(st.just("s1"), st.just("s1"), JUNK),
)
def test_r12_r14_fuzz_correctly_signed_odd_license_files_raise_only_library_errors(
    body: dict[str, Any], now: datetime, system_id: object
) -> None:
    data = _signed(body)
    try:
        offline.verify_license_file(
            data,
            trusted_keys=_PUBLIC,
            system_id=system_id,  # type: ignore[arg-type]
            now=now,
        )
    except LicensingError:
        return
    except Exception as exc:
        raise AssertionError(
            f"verify_license_file of {body!r} at {now!r} raised {type(exc).__name__}: {exc}"
        ) from exc


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(st.just("s1"), JUNK),
    st.one_of(PRODUCTS, JUNK),
    st.one_of(COUNTS, JUNK),
    st.one_of(st.lists(SERIALS, max_size=2), JUNK),
    st.one_of(IN_RANGE, JUNK),
    st.one_of(st.binary(max_size=30), JUNK),
    st.one_of(st.just(_PUBLIC), JUNK, st.lists(JUNK, max_size=2)),
)
def test_r12_r14_fuzz_offline_functions_raise_only_library_errors(
    system_id: object,
    product: object,
    devices: object,
    hardware: object,
    now: object,
    data: object,
    trusted: object,
) -> None:
    calls: list[tuple[str, Callable[[], object]]] = [
        (
            "describe_system",
            lambda: offline.describe_system(
                system_id=system_id,  # type: ignore[arg-type]
                product=product,  # type: ignore[arg-type]
                devices=devices,  # type: ignore[arg-type]
                hardware=hardware,  # type: ignore[arg-type]
                now=now,  # type: ignore[arg-type]
            ),
        ),
        ("parse_system_file", lambda: offline.parse_system_file(data)),  # type: ignore[arg-type]
        (
            "verify_license_file",
            lambda: offline.verify_license_file(
                data,  # type: ignore[arg-type]
                trusted_keys=trusted,  # type: ignore[arg-type]
                system_id=system_id,  # type: ignore[arg-type]
                now=now,  # type: ignore[arg-type]
            ),
        ),
    ]
    for label, call in calls:
        try:
            call()
        except LicensingError:
            continue
        except Exception as exc:
            raise AssertionError(f"offline.{label} raised {type(exc).__name__}: {exc}") from exc


# -- the CLI ----------------------------------------------------------------------------------

CLI_WORDS = st.one_of(
    st.sampled_from(
        [
            "o1",
            "acs-pro",
            "--at",
            "--json",
            "--since",
            "--until",
            "--limit",
            "--offset",
            "--action",
            "--product",
            "--actor",
            "--catalog",
            "example",
            "demo",
            "--db",
            "2026-01-01",
            "2026-01-01T00:00:00Z",
            "0001-01-01T00:00:00+00:00",
            "9999-12-31T23:59:59-12:00",
            "-1",
            "0",
            "99999999999999999999",
            "--from",
            "--to",
        ]
    ),
    TEXT_JUNK.filter(lambda s: "\x00" not in s),
)


#: Every command of the CLI but ``demo`` (slow, and it runs no argument of the user's
#: through the library) and ``serve`` (it serves until stopped; the HTTP package has
#: its own tests); new commands are fuzzed as they land.
CLI_COMMANDS = sorted(set(main.commands) - {"demo", "serve"})


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An SQLite store seeded for the CLI, with the example catalog's product."""
    path = tmp_path_factory.mktemp("cli") / "cli.db"
    with Manager.open(f"sqlite:///{path}", catalog=CATALOG, clock=ManualClock(START)) as m:
        seed(m)
    return str(path)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from([*CLI_COMMANDS, "nope"]),
    st.lists(CLI_WORDS, max_size=6),
    st.booleans(),
)
def test_r14_fuzz_cli_arguments_end_in_a_message_and_an_exit_code(
    cli_db: str, tmp_path: Path, command: str, words: list[str], with_db: bool
) -> None:
    if command == "migrate":  # only ever into a fresh file of this test's folder
        words = [
            "--from",
            f"sqlite:///{cli_db}",
            "--to",
            f"sqlite:///{tmp_path}/{uuid.uuid4().hex}.db",
            *words,
        ]
    args = [command, *(["--db", cli_db, "--catalog", "example"] if with_db else []), *words]
    runner = CliRunner()
    with contextlib.chdir(tmp_path):  # a bare path makes an SQLite file here, not in the repo
        result = runner.invoke(main, args, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"axis-licensing {args!r} raised {type(result.exception).__name__}: "
            f"{result.exception}\n{result.output}"
        ) from result.exception
    documented = {0, *(code for _, code in EXIT_CODES)}  # one per error family
    assert result.exit_code in documented, (args, result.exit_code, result.output)


# -- the cases of issue 10, one named test each ------------------------------------------------


@pytest.fixture
def memory_manager() -> Iterator[Manager]:
    with Manager.open("memory://", catalog=CATALOG, clock=ManualClock(START)) as m:
        m.create_organization("o1", name="One", actor="admin")
        yield m


@pytest.mark.parametrize("name", ["America", "Etc", "America/Argentina", "Europe/", "/UTC", "."])
def test_r14_case1_a_time_zone_naming_a_tz_folder_is_invalid_input(
    memory_manager: Manager, name: str
) -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        memory_manager.create_organization("o2", name="Two", timezone=name, actor="admin")
    assert [row["org_id"] for row in memory_manager.backend.export_rows("orgs")] == ["o1"]


@pytest.mark.parametrize("actions", [0, 1.5, True, b"key_redeemed", [0], {"key_redeemed": 1}])
def test_r14_case2_history_actions_not_strings_is_invalid_input(
    memory_manager: Manager, actions: object
) -> None:
    with pytest.raises(InvalidInput, match="actions"):
        memory_manager.history("o1", actions=actions)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", FALSY_VALUES)
def test_r14_case3_falsy_non_mappings_are_not_empty_counts(
    memory_manager: Manager, value: object
) -> None:
    m = memory_manager
    with pytest.raises(InvalidInput, match="devices must be a mapping"):
        m.register_system("o1", "acs-pro", "s1", devices=value, actor="a")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="preloaded must be a mapping"):
        m.vendor.ship_hardware("hw1", "acs-pro", preloaded=value)  # type: ignore[arg-type]
    assert list(m.backend.export_rows("systems")) == []
    assert list(m.backend.export_rows("shipments")) == []
    m.register_system("o1", "acs-pro", "s1", devices=None, actor="a")  # None still means none
    assert m.system_status("o1", "s1").devices == {}


@pytest.mark.parametrize(
    ("url", "plugins"),
    [
        ("sqlite:///%00", ()),
        ("sqlite:///a%00b.db", ()),
        ("sqlite://[/x.db", ()),
        ("memory://", 5),
        ("memory://", "plugin"),
        ("memory://", None),
    ],
)
def test_r14_case4_manager_open_bad_url_or_plugins_is_invalid_input(
    url: str, plugins: object
) -> None:
    with pytest.raises(InvalidInput):
        Manager.open(url, catalog=CATALOG, plugins=plugins)  # type: ignore[arg-type]


def test_r14_case4_the_same_plugin_twice_is_invalid_input() -> None:
    plugin = object()
    with pytest.raises(InvalidInput, match="plugin"):
        Manager.open("memory://", catalog=CATALOG, plugins=[plugin, plugin])


@pytest.mark.parametrize(
    "make",
    [
        lambda: Catalog(products=[1]),  # type: ignore[list-item]
        lambda: Catalog(products=5),  # type: ignore[arg-type]
        lambda: Catalog(products="acs-pro"),  # type: ignore[arg-type]
        lambda: ProductSpec("p", "P", license_types=["core"]),  # type: ignore[list-item]
        lambda: ProductSpec("p", "P", license_types=None),  # type: ignore[arg-type]
        lambda: ProductSpec("p", "P", license_types=[]),
        lambda: ProductSpec(5, "P"),  # type: ignore[arg-type]
        lambda: ProductSpec("p", None),  # type: ignore[arg-type]
        lambda: ProductSpec("p", "P", growth_rate=None),  # type: ignore[arg-type]
        lambda: ProductSpec("p", "P", growth_rate="1e999999999"),
        lambda: LicenseType(5),  # type: ignore[arg-type]
        lambda: LicenseType("core", covers=5),  # type: ignore[arg-type]
        lambda: LicenseType("core", covers=[None]),  # type: ignore[list-item]
    ],
)
def test_r14_case5_catalog_of_wrong_types_is_invalid_input(make: Callable[[], object]) -> None:
    with pytest.raises(InvalidInput):
        make()


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [("term_years", 1, 10), ("trial_days", 0, 366), ("grace_days", 0, 366)],
)
def test_r2_r3_case6_product_terms_and_windows_are_bounded(field: str, low: int, high: int) -> None:
    for good in (low, high):
        fine: dict[str, Any] = {field: good}
        assert getattr(ProductSpec("p", "P", **fine), field) == good
    for bad in (low - 1, high + 1, 10**9, True, 1.0, "1", None):
        wrong: dict[str, Any] = {field: bad}
        with pytest.raises(InvalidInput, match=field):
            ProductSpec("p", "P", **wrong)


def test_r2_r4_case6_the_longest_terms_and_horizon_never_overflow() -> None:
    spec = ProductSpec("p", "P", term_years=10, trial_days=366, grace_days=366)
    late = datetime(8990, 6, 1, tzinfo=UTC)
    with Manager.open("memory://", catalog=Catalog(products=[spec]), clock=ManualClock(late)) as m:
        m.create_organization("o", name="O", actor="a")
        m.register_system("o", "p", "s", devices={"core": 2}, actor="a")
        m.start_subscription("o", "p", actor="a")
        assert m.status("o", "p").window_ends_on == date(8991, 6, 2)
        assert len(m.need("o", "p", horizon=0).periods) == 1
        with pytest.raises(InvalidInput, match="past the calendar"):
            m.need("o", "p", horizon=100)
    with Manager.open("memory://", catalog=Catalog(products=[spec]), clock=ManualClock(START)) as m:
        m.create_organization("o", name="O", actor="a")
        m.start_subscription("o", "p", actor="a")
        report = m.need("o", "p", horizon=100)
        assert report.periods[-1].period.end == date(3036, 1, 1)


@pytest.mark.parametrize(
    "issued_at",
    ["0001-01-01T00:00:00.000000Z", "1899-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"],
)
def test_r12_case7_a_signed_file_issued_outside_the_calendar_is_tampered(issued_at: str) -> None:
    body = {
        "format_version": 1,
        "key_id": offline.key_id(_PRIVATE.public_key()),
        "org_id": "o",
        "product": "acs-pro",
        "system_id": "s1",
        "issued_at": issued_at,
        "licensed": True,
        "devices": {"core": 1},
        "valid_until": "2030-01-01",
        "timezone": "UTC",
    }
    with pytest.raises(TamperedLicenseFile, match="issued_at"):
        offline.verify_license_file(_signed(body), trusted_keys=_PUBLIC, system_id="s1", now=START)
