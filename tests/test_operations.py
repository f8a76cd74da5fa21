"""Issue 14, item 4: one declaration per public command and query, and ``Manager.execute``.

The declarations in :mod:`axis_licensing.shell.operations` must match the
Manager's and the Vendor's public methods exactly (names, parameters, order,
keyword-only, defaults), so that edges drawn from them accept what the library
accepts. ``Manager.execute`` runs any of them by name with the same checks and
returns the full result, which a replay returns unchanged (R13).
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

import pytest

from axis_licensing import (
    EXAMPLE_CATALOG,
    Counts,
    InvalidInput,
    ManualClock,
    Organization,
    ProductState,
    ProductStatus,
    SystemStatus,
)
from axis_licensing._commands import RegisterSystem, fingerprint
from axis_licensing.backends import RequestRow
from axis_licensing.errors import KeyTypo, LicensingError, UnknownOrganization
from axis_licensing.manager import Manager
from axis_licensing.members.service import Accounts, Members, Tokens
from axis_licensing.shell.operations import OPERATIONS, REQUIRED, Check, Kind, Scope
from axis_licensing.shell.pipeline import org_scope
from axis_licensing.shell.webhooks import Webhooks
from axis_licensing.vendor import Vendor

#: Public callables of the Manager that are not operations: opening, and SPEC §8's
#: authentication steps (they take secrets, and the service rate-limits them), the
#: portal's helpers (an account, its memberships) and the seeding of an owner.
NOT_OPERATIONS = {
    "open",
    "close",
    "execute",
    "accounts.check_password",
    "accounts.get",
    "accounts.set_password",
    "members.of_account",
    "members.add_creator",
    "tokens.resolve",
}
#: Where the public methods live, and their names' prefixes.
OWNERS = (
    (Manager, ""),
    (Vendor, "vendor."),
    (Accounts, "accounts."),
    (Members, "members."),
    (Tokens, "tokens."),
    (Webhooks, "webhooks."),
)


def _owner(name: str) -> type:
    prefix = name.rpartition(".")[0]
    return next(o for o, p in OWNERS if p == (prefix + "." if prefix else ""))


def _public_methods() -> dict[str, inspect.Signature]:
    found = {}
    for owner, prefix in OWNERS:
        for name, member in inspect.getmembers(owner, inspect.isfunction):
            if name.startswith("_") or prefix + name in NOT_OPERATIONS or name in NOT_OPERATIONS:
                continue
            found[prefix + name] = inspect.signature(member)
    return found


def test_every_public_command_and_query_is_declared_once() -> None:
    assert sorted(OPERATIONS) == sorted(_public_methods())
    commands = sorted(n for n, op in OPERATIONS.items() if op.kind is Kind.COMMAND)
    assert [c for c in commands if c not in _EVENTS_OUT_COMMANDS] == sorted(
        [
            "allocate",
            "allocate_need",
            "allocate_to_hardware",
            "create_organization",
            "redeem_key",
            "register_hardware",
            "register_system",
            "report_devices",
            "start_subscription",
            "upload_system_file",
            "vendor.issue_key",
            "vendor.publish_catalog",
            "vendor.ship_hardware",
            "accounts.create",
            "members.accept",
            "members.invite",
            "members.remove",
            "members.set_role",
            "tokens.create",
            "tokens.revoke",
        ]
    )
    assert set(commands) >= _EVENTS_OUT_COMMANDS


#: SPEC §7's commands: the store-wide jobs (no actor, no authorize action) and the
#: webhook commands (the endpoint decides whom they act on; ``webhooks.add`` takes its
#: flags after ``request_id``, as SPEC §7 writes it).
_JOBS = {"sweep", "deliver"}
_EVENTS_OUT_COMMANDS = _JOBS | {
    "webhooks.add",
    "webhooks.update",
    "webhooks.rotate_secret",
    "webhooks.remove",
    "webhooks.redeliver",
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_a_declaration_equals_its_method_signature(name: str) -> None:
    op = OPERATIONS[name]
    signature = _public_methods()[name]
    params = [p for p in signature.parameters.values() if p.name != "self"]
    assert [p.name for p in params] == [p.name for p in op.params]
    for declared, actual in zip(op.params, params, strict=True):
        assert declared.keyword_only == (actual.kind is inspect.Parameter.KEYWORD_ONLY), name
        if actual.default is inspect.Parameter.empty:
            assert declared.default is REQUIRED, (name, declared.name)
        else:
            assert declared.default == actual.default, (name, declared.name)
        assert declared.doc, (name, declared.name)
    assert op.summary.endswith(".")
    assert all(issubclass(e, LicensingError) for e in op.errors)
    if op.kind is Kind.COMMAND and name in _JOBS:
        assert (op.action, op.scope) == (None, Scope.STORE)
        assert [p.check for p in op.params if p.check is Check.ACTOR] == []
    elif op.kind is Kind.COMMAND and name.startswith("webhooks."):
        assert (op.action, op.scope) == (name, Scope.STORE)
        names = [p.name for p in op.params]
        tail = names[names.index("actor") :]
        assert tail[:2] == ["actor", "request_id"]
        assert set(tail[2:]) <= {"allow_http", "allow_private"}
    elif op.kind is Kind.COMMAND and _owner(name) in (Manager, Vendor):
        assert op.action == name
        assert op.params[-2].check is Check.ACTOR
        assert op.params[-1].name == "request_id"
        assert op.scope is (Scope.VENDOR if name.startswith("vendor.") else Scope.ORGANIZATION)
    elif op.kind is Kind.COMMAND:  # SPEC §8 spells each signature: accept has no actor
        assert op.action == name
        names = [p.name for p in op.params]
        assert ("actor" in names) is (name != "members.accept")
        assert op.scope is (Scope.ORGANIZATION if "org_id" in names else Scope.STORE)
    else:
        assert op.action is None


def test_declared_errors_are_in_each_methods_raises_contract() -> None:
    for name, op in OPERATIONS.items():
        doc = inspect.getdoc(getattr(_owner(name), op.path[-1])) or ""
        raises = doc.split("Raises:", 1)[1]
        for error in op.errors:
            assert f"{error.__name__}:" in raises, (name, error.__name__)


#: The arguments of registering system s (2 core devices) in organization o.
REGISTER_S: dict[str, object] = {
    "org_id": "o",
    "product": "acs-pro",
    "system_id": "s",
    "devices": {"core": 2},
    "actor": "u",
}


@pytest.fixture
def m() -> Manager:
    clock = ManualClock(datetime(2026, 1, 1, 12, tzinfo=UTC))
    return Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock)


def test_execute_returns_the_answer_a_method_returning_none_leaves_out(m: Manager) -> None:
    org = m.execute("create_organization", org_id="o", name="O", actor="u", request_id="c")
    assert org == Organization(org_id="o", name="O", timezone="UTC", anchor=None)
    started = m.execute("start_subscription", org_id="o", product="acs-pro", actor="u")
    assert isinstance(started, ProductStatus)
    assert (started.product, started.state) == ("acs-pro", ProductState.TRIAL)
    status = m.execute("register_system", **REGISTER_S, request_id="r")
    assert status == m.system_status("o", "s")
    assert isinstance(status, SystemStatus)
    assert status.devices == Counts({"core": 2})
    m.report_devices("o", "s", {"core": 5}, actor="u")
    # a replay answers as the first time, though the state moved on (R13, SPEC §6.1)
    again = m.execute("register_system", **REGISTER_S, request_id="r")
    assert again == status
    assert m.execute("create_organization", org_id="o", name="O", actor="u", request_id="c") == org
    assert m.execute("status", org_id="o", product="acs-pro") == m.status("o", "acs-pro")
    assert m.execute("vendor.ship_hardware", serial="SN", product="acs-pro") is None


def test_execute_checks_as_the_method_does(m: Manager) -> None:
    with pytest.raises(InvalidInput) as unknown:
        m.execute("nothing")
    assert unknown.value.details["param"] == "name"
    with pytest.raises(InvalidInput) as extra:
        m.execute("create_organization", org_id="o", name="O", actor="u", colour="red")
    assert extra.value.details["param"] == "colour"
    with pytest.raises(InvalidInput) as missing:
        m.execute("create_organization", org_id="o", actor="u")
    assert missing.value.details["param"] == "name"
    with pytest.raises(InvalidInput) as bad:
        m.execute("allocate", org_id="o", product="acs-pro", quantities={"core": "3"}, actor="u")
    assert bad.value.details["param"] == "quantities"
    with pytest.raises(KeyTypo):
        m.execute("redeem_key", org_id="o", key="AAAA-AAAA", actor="u")
    with pytest.raises(UnknownOrganization):
        m.execute("report_devices", org_id="nobody", system_id="s", devices={}, actor="u")


def test_execute_answers_a_request_an_earlier_release_remembered_as_null(m: Manager) -> None:
    m.create_organization("o", name="O", actor="u")
    m.register_system("o", "acs-pro", "s", devices={"core": 2}, actor="u")
    command = RegisterSystem(product="acs-pro", system_id="s", devices=Counts({"core": 2}))
    with m.backend.write() as tx:  # what earlier releases stored for this command
        tx.put_request(RequestRow(org_scope("o"), "old", fingerprint(command), "null"))
    replayed = m.execute("register_system", **REGISTER_S, request_id="old")
    assert replayed == m.system_status("o", "s")
    assert (
        m.register_system("o", "acs-pro", "s", devices={"core": 2}, actor="u", request_id="old")
        is None
    )


def test_the_vendor_module_imports_on_its_own_without_a_cycle() -> None:
    import subprocess
    import sys

    code = (
        "import sys, importlib; "
        "importlib.import_module('axis_licensing.vendor'); "
        "print('axis_licensing.manager' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    # the package re-exports the Manager lazily, and vendor.py never imports manager.py
    assert done.stderr == ""
    assert done.stdout.strip() == "False"


def test_organization_reads_one_organization_as_listed(m: Manager) -> None:
    m.create_organization("o", name="O", timezone="Europe/Stockholm", actor="u")
    m.start_subscription("o", "acs-pro", actor="u")
    assert m.organization("o") == m.organizations()[0]
    assert m.organization("o") == Organization(
        org_id="o", name="O", timezone="Europe/Stockholm", anchor=m.organizations()[0].anchor
    )
    assert m.organization("o").anchor is not None
    assert m.execute("organization", org_id="o") == m.organization("o")
    with pytest.raises(UnknownOrganization) as unknown:
        m.organization("nobody")
    assert unknown.value.details == {"org_id": "nobody"}
    with pytest.raises(InvalidInput) as bad:
        m.organization("")
    assert bad.value.details["param"] == "org_id"
