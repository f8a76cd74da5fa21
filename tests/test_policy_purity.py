"""SPEC §5 "Pure core": nothing under ``axis_licensing.policy`` does I/O, reads a clock or
draws random numbers.

Three independent checks:

- statically, every import of the policy modules (and of the value modules they use) is on
  an allow-list of pure modules, and no call reads a clock, opens a file or draws randomness;
- in a fresh interpreter, importing every policy module pulls in no module beyond the
  allowed ones, even when the I/O modules that pendulum itself loads are blocked;
- in a fresh interpreter with clocks, randomness, files and sockets booby-trapped, a whole
  scenario runs through the engine and gives exact answers.

The subprocesses load ``axis_licensing`` as a bare namespace (its ``__init__`` re-exports the
Manager, which is allowed to do I/O), so only the policy's own imports are measured.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import axis_licensing.policy

POLICY_DIR = Path(axis_licensing.policy.__file__).parent
PACKAGE_DIR = POLICY_DIR.parent
POLICY_FILES = sorted(POLICY_DIR.glob("*.py"))
# the value modules the policy builds on; they must be just as pure
SUPPORT_MODULES = ("_counts", "_entitlement", "_enums", "_validate", "catalog", "errors", "model")
CHECKED_FILES = POLICY_FILES + [PACKAGE_DIR / f"{name}.py" for name in SUPPORT_MODULES]

PURE_STDLIB = frozenset(
    {
        "__future__",
        "collections",
        "dataclasses",
        "datetime",
        "enum",
        "fractions",
        "functools",
        "itertools",
        "math",
        "operator",
        "re",
        "typing",
        "unicodedata",
    }
)
PURE_THIRD_PARTY = frozenset({"attrs", "pendulum"})
PURE_PACKAGE = frozenset(
    {f"axis_licensing.{name}" for name in SUPPORT_MODULES}
    | {"axis_licensing.policy"}
    | {f"axis_licensing.policy.{path.stem}" for path in POLICY_FILES if path.stem != "__init__"}
    # SPEC §8: the members' facts are typed facts of the history (attrs values, no I/O)
    | {"axis_licensing.members", "axis_licensing.members.facts", "axis_licensing.members.model"}
)

#: Calls that read a clock, draw randomness or do I/O, by the called attribute or name.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "now",
        "today",
        "utcnow",
        "fromtimestamp",
        "utcfromtimestamp",
        "time",
        "time_ns",
        "monotonic",
        "perf_counter",
        "process_time",
        "localtime",
        "sleep",
        "urandom",
        "getrandbits",
        "randint",
        "randrange",
        "shuffle",
        "token_bytes",
        "token_hex",
        "uuid4",
        "read_text",
        "write_text",
        "read_bytes",
        "write_bytes",
        "local_timezone",
    }
)
FORBIDDEN_NAMES = frozenset(
    {"open", "print", "input", "eval", "exec", "compile", "__import__", "breakpoint"}
)

#: Modules that mean I/O, a clock or randomness; pendulum loads several of them itself.
IO_MODULES = (
    "asyncio",
    "cattrs",
    "cryptography",
    "hashlib",
    "http",
    "json",
    "logging",
    "pluggy",
    "psycopg",
    "psycopg_pool",
    "random",
    "secrets",
    "select",
    "selectors",
    "shutil",
    "socket",
    "sqlite3",
    "ssl",
    "subprocess",
    "tempfile",
    "threading",
    "time",
    "urllib",
    "uuid",
)


def _imports(tree: ast.Module) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports are not used in this package"
            assert node.module is not None
            found.append((node.lineno, node.module))
    return found


def _allowed(module: str) -> bool:
    top = module.split(".", maxsplit=1)[0]
    if top == "axis_licensing":
        return module in PURE_PACKAGE
    return top in PURE_STDLIB or top in PURE_THIRD_PARTY


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_checked_files_are_the_policy_package() -> None:
    names = {path.stem for path in POLICY_FILES}
    assert {"engine", "status", "periods", "coverage", "lots", "compensation", "state"} <= names
    assert all(path.is_file() for path in CHECKED_FILES)


@pytest.mark.parametrize("path", CHECKED_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_policy_imports_only_pure_modules(path: Path) -> None:
    bad = [(line, module) for line, module in _imports(_tree(path)) if not _allowed(module)]
    assert bad == [], f"{path.name} imports modules outside the pure allow-list"


@pytest.mark.parametrize("path", CHECKED_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_policy_calls_no_clock_randomness_or_io(path: Path) -> None:
    bad: list[tuple[int, str]] = []
    for node in ast.walk(_tree(path)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_ATTRIBUTES:
            bad.append((node.lineno, f".{func.attr}()"))
        elif isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES:
            bad.append((node.lineno, f"{func.id}()"))
    assert bad == [], f"{path.name} calls something impure"


def test_the_static_checks_catch_impure_code() -> None:
    impure = ast.parse(
        "import time\nfrom datetime import date\nimport axis_licensing.manager\n"
        "x = date.today()\ny = open('f')\nz = pendulum.now()\n"
    )
    assert [m for _, m in _imports(impure) if not _allowed(m)] == [
        "time",
        "axis_licensing.manager",
    ]
    calls = [
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(impure)
        if isinstance(node, ast.Call)
    ]
    assert sorted(c for c in calls if c in FORBIDDEN_ATTRIBUTES | FORBIDDEN_NAMES) == [
        "now",
        "open",
        "today",
    ]


#: Names of the storage objects a decision must never see (issue 14: claims are data).
STORAGE_NAMES = frozenset({"WriteTx", "ReadTx", "Backend", "Connection", "cursor"})


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_storage_object_is_reachable_from_policy(path: Path) -> None:
    """No policy module names a transaction or a backend: what it wants claimed, it returns."""
    found = sorted(
        {
            node.id if isinstance(node, ast.Name) else node.attr
            for node in ast.walk(_tree(path))
            if isinstance(node, ast.Name | ast.Attribute)
            and (node.id if isinstance(node, ast.Name) else node.attr) in STORAGE_NAMES
        }
    )
    assert found == [], f"{path.name} refers to storage objects"


def test_every_command_is_decided_in_policy() -> None:
    from axis_licensing.policy import commands, decide

    declared = {
        cls
        for cls in vars(commands).values()
        if isinstance(cls, type) and issubclass(cls, commands.Command) and cls.ACTION
    }
    assert set(decide.DECIDERS) == declared
    assert len(declared) == 13


def test_the_import_rules_ban_storage_and_the_shell_from_policy() -> None:
    import tomllib

    rules = tomllib.loads((POLICY_DIR / "ruff.toml").read_text(encoding="utf-8"))
    banned = set(rules["lint"]["flake8-tidy-imports"]["banned-api"])
    assert {"axis_licensing.backends", "axis_licensing.shell", "axis_licensing.manager"} <= banned
    assert {"sqlite3", "psycopg", "time", "random", "secrets"} <= banned


# --- in a fresh interpreter -------------------------------------------------------------------

_PRELUDE = f"""
import importlib, json, sys, types

PACKAGE_DIR = {str(PACKAGE_DIR)!r}
POLICY = {sorted(path.stem for path in POLICY_FILES if path.stem != "__init__")!r}
IO_MODULES = {IO_MODULES!r}
"""
_PRELUDE += """
import attrs, pendulum  # the allowed dependencies, with whatever they load
baseline = set(sys.modules)

# ``axis_licensing`` as a bare namespace: its __init__ would load the Manager.
package = types.ModuleType("axis_licensing")
package.__path__ = [PACKAGE_DIR]
sys.modules["axis_licensing"] = package

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in IO_MODULES:
            raise ImportError(f"the pure core imported {name}")
        return None

unloaded = {}
for name in list(sys.modules):
    if name.split(".")[0] in IO_MODULES:
        unloaded[name] = sys.modules.pop(name)
sys.meta_path.insert(0, Blocker())
"""


def _run(script: str) -> dict[str, object]:
    code = _PRELUDE + textwrap.dedent(script)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_policy_import_pulls_in_no_io_module() -> None:
    result = _run(
        """
        for name in POLICY:
            importlib.import_module("axis_licensing.policy." + name)
        new = sorted(set(sys.modules) - baseline)
        print(json.dumps({"new": new}))
        """
    )
    new = result["new"]
    assert isinstance(new, list)
    outside = [m for m in new if not _allowed(m) and m != "axis_licensing"]
    assert outside == []
    assert "axis_licensing.policy.engine" in new
    assert not {"axis_licensing.manager", "axis_licensing._time", "axis_licensing.backends"} & set(
        new
    )


def test_the_import_blocker_works() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + "import time\n"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "the pure core imported time" in done.stderr


def test_engine_runs_with_clocks_randomness_and_io_booby_trapped() -> None:
    result = _run(
        """
        import builtins, datetime as _dt, os

        engine = importlib.import_module("axis_licensing.policy.engine")
        status = importlib.import_module("axis_licensing.policy.status")
        catalog = importlib.import_module("axis_licensing.catalog")
        model = importlib.import_module("axis_licensing.model")
        counts = importlib.import_module("axis_licensing._counts")

        calls = []

        def trap(name):
            def sprung(*args, **kwargs):
                calls.append(name)
                raise AssertionError(f"the pure core called {name}")
            return sprung

        # pendulum loaded time and random before the blocker: trap the very modules it holds
        for name, functions in {
            "time": ("time", "time_ns", "monotonic", "perf_counter", "localtime", "sleep"),
            "random": ("random", "randint", "randrange", "choice", "getrandbits", "shuffle"),
        }.items():
            for function in functions:
                setattr(unloaded[name], function, trap(f"{name}.{function}"))
        for attr in ("now", "today", "local", "tomorrow", "yesterday"):
            setattr(pendulum, attr, trap("pendulum." + attr))
        os.urandom = trap("os.urandom")
        builtins.open = trap("open")
        builtins.print = trap("print")

        UTC = _dt.timezone.utc
        ACS = catalog.EXAMPLE_CATALOG
        SUB, HW = model.LicenseKind.SUBSCRIPTION, model.LicenseKind.HARDWARE

        def ctx(day):
            return engine.Context(
                at=_dt.datetime(day.year, day.month, day.day, 12, tzinfo=UTC), on=day, actor="a"
            )

        state = None
        facts = []

        def run(day, command, **kw):
            global state
            advanced, pending = engine.advance(state, ACS, day)
            outcome = command(advanced, ACS, ctx(day), **kw)
            state = outcome.state
            facts.extend((*pending, *outcome.facts))
            return outcome.result

        D = _dt.date
        state = engine.create_organization(
            ctx(D(2026, 1, 1)), org_id="o", name="O", timezone="UTC"
        ).state
        run(D(2026, 1, 1), engine.register_system, product="acs-pro", system_id="s",
            devices={"core": 10})
        run(D(2026, 1, 1), engine.start_subscription, product="acs-pro")
        run(D(2026, 1, 1), engine.redeem, product="acs-pro", kind=SUB,
            quantities={"core": 30}, key_tail="ABCD")
        run(D(2026, 1, 1), engine.redeem, product="acs-pro", kind=HW,
            quantities={"core": 2}, key_tail="EFGH")
        need = run(D(2026, 3, 2), engine.allocate_need, product="acs-pro", through=1)
        shipment = engine.Shipment(serial="SN", product="acs-pro",
                                   preloaded=counts.Counts({"core": 1}))
        run(D(2026, 3, 3), engine.register_hardware, system_id="s", shipment=shipment)
        run(D(2026, 3, 4), engine.allocate_to_hardware, serial="SN", quantities={"core": 2})
        run(D(2026, 3, 5), engine.report_devices, system_id="s", devices={"core": 30})
        day = D(2031, 1, 1)
        state, expired = engine.advance(state, ACS, day)
        spec = ACS.product("acs-pro")
        st = status.product_status(state, spec, day)
        report = status.need_report(state, spec, day, 1)
        wallet = status.wallet_view(state, "acs-pro", day)
        system = status.system_status(state, ACS, state.systems["s"], day)
        sys.stdout.write(json.dumps({
            "calls": calls,
            "need": [dict(p.quantities) for p in need.periods],
            "compensation": dict(need.compensation),
            "credit": {t: str(v) for t, v in need.credit.items()},
            "actions": [str(f.action) for f in facts],
            "expired": [(f.on.isoformat(), f.data.quantity) for f in expired],
            "state": st.state.value,
            "to_buy": dict(report.to_buy),
            "wallet": dict(wallet.balance()),
            "hardware_covered": dict(system.hardware_covered),
        }) + "\\n")
        """
    )
    assert result == {
        "calls": [],
        "need": [{"core": 10}, {"core": 10}],
        # 10 x 60/365 = 1 + 47/73, back as a lot acquired on 2026-03-02
        "compensation": {"core": 1},
        "credit": {"core": "47/73"},
        "actions": [
            "system_registered",
            "subscription_started",
            "key_redeemed",
            "key_redeemed",
            "licenses_allocated",
            "compensation_credited",
            "hardware_registered",
            "extension_allocated",
            "devices_reported",
            "growth_exceeded",
        ],
        # the 10 licenses left of the first key expire on 2031-01-01 (the compensation lot lives on)
        "expired": [["2031-01-01", 10]],
        "state": "grace",  # period 5 has nothing allocated
        # 30 devices - 3 on hardware = 27 in each of periods 5 and 6, less 1 in the wallet
        "to_buy": {"core": 53},
        "wallet": {"core": 1},
        "hardware_covered": {"core": 3},
    }
