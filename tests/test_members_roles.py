"""Who may do what (SPEC §8): the role table, and the built-in authorize plugin in a Manager.

The matrix states the expected answer of every role for every action name
here, independently of :mod:`axis_licensing.members.roles`, so a change to the
table fails a test. The plugin then runs in real Managers on the three backends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from argon2 import PasswordHasher

from axis_licensing import (
    EXAMPLE_CATALOG,
    InvalidInput,
    Manager,
    ManualClock,
    PermissionDenied,
    hookimpl,
    offline,
)
from axis_licensing.backends import TABLES
from axis_licensing.members import Role, passwords, roles
from axis_licensing.members._tables import MembershipRow
from axis_licensing.members.authorize import RolesPlugin
from axis_licensing.members.decide import decide_set_role
from axis_licensing.members.service import Access
from axis_licensing.shell.operations import OPERATIONS

PRODUCT = "acs-pro"

#: Who may run each action: the least role in its organization ("viewer" < "admin" < "owner"),
#: "vendor" (a vendor account), "self" (an account acting on itself), "any" (any account) or
#: "member" (any member). Written here by hand, so a change to the role table fails a test.
LEAST: dict[str, str] = {
    # the commands of an organization, as SPEC §3 names the Manager's methods
    "register_system": "admin",
    "report_devices": "admin",
    "start_subscription": "admin",
    "redeem_key": "admin",
    "allocate": "admin",
    "allocate_need": "admin",
    "register_hardware": "admin",
    "allocate_to_hardware": "admin",
    "upload_system_file": "admin",
    # the queries of an organization
    "organizations": "viewer",
    "organization": "viewer",
    "status": "viewer",
    "need": "viewer",
    "wallet": "viewer",
    "system_status": "viewer",
    "history": "viewer",
    "products": "viewer",
    "systems": "viewer",
    "alerts": "viewer",
    "events": "viewer",
    "members.list": "viewer",
    "webhooks.list": "viewer",
    "webhooks.failed": "viewer",
    "members.invite": "owner",
    "members.set_role": "owner",
    "members.remove": "owner",
    "webhooks.add": "owner",
    "webhooks.update": "owner",
    "webhooks.rotate_secret": "owner",
    "webhooks.remove": "owner",
    "webhooks.redeliver": "owner",
    "tokens.revoke_member": "owner",
    "vendor.issue_key": "vendor",
    "vendor.ship_hardware": "vendor",
    "vendor.publish_catalog": "vendor",
    "vendor.webhooks": "vendor",
    "vendor.sweep": "vendor",
    "vendor.deliver": "vendor",
    "accounts.create_vendor": "vendor",
    "tokens.create": "self",
    "tokens.revoke": "self",
    "members.accept": "self",
    "accounts.set_password": "self",
    "tokens.list": "self",
    # the store's first account: anyone, as the plugin has no opinion
    "create_organization": "any",
    "accounts.create": "any",
    "members.leave": "member",
}


def _least(who: str) -> tuple[str, ...]:
    return tuple(action for action, least in LEAST.items() if least == who)


ORG_COMMANDS = _least("admin")
ORG_QUERIES = _least("viewer")
OWNER_ACTIONS = _least("owner")
VENDOR_ACTIONS = _least("vendor")
SELF_ACTIONS = _least("self")
ANY_ACCOUNT = _least("any")
EVERY_ACTION = tuple(LEAST)

#: What each role may do in its organization (vendor flag and self-service aside).
MAY: dict[Role | None, frozenset[str]] = {
    None: frozenset(ANY_ACCOUNT),
    Role.VIEWER: frozenset({*ORG_QUERIES, *ANY_ACCOUNT, "members.leave"}),
    Role.ADMIN: frozenset({*ORG_QUERIES, *ORG_COMMANDS, *ANY_ACCOUNT, "members.leave"}),
    Role.OWNER: frozenset(
        {*ORG_QUERIES, *ORG_COMMANDS, *OWNER_ACTIONS, *ANY_ACCOUNT, "members.leave"}
    ),
}


def test_the_table_knows_exactly_these_actions() -> None:
    assert set(roles.ACTIONS) == set(EVERY_ACTION)
    for name in (*ORG_COMMANDS, "create_organization"):
        assert callable(getattr(Manager, name))
    assert roles.allowed("sweep", role=Role.OWNER, vendor=True, own=True) is False


def test_the_table_knows_every_declared_action() -> None:
    """Each declared operation a member may run has a row, so none is refused by omission.

    The Manager asks a command's ``action`` (§4); the service asks a query's name.
    ``sweep``, ``deliver`` and ``catalog_versions`` act on the whole store with no
    organization and no actor: the service decides who may run them.
    """
    store_wide = {"sweep", "deliver", "catalog_versions"}
    asked = {op.action or name for name, op in OPERATIONS.items() if name not in store_wide}
    assert asked - set(roles.ACTIONS) == set()


@pytest.mark.parametrize("action", EVERY_ACTION)
@pytest.mark.parametrize("role", [None, Role.VIEWER, Role.ADMIN, Role.OWNER])
def test_role_matrix(role: Role | None, action: str) -> None:
    plain = roles.allowed(action, role=role)
    assert plain is (action in MAY[role])
    # a vendor account may also run the vendor's commands, and nothing else more
    assert roles.allowed(action, role=role, vendor=True) is (
        action in MAY[role] or action in VENDOR_ACTIONS
    )
    # an account acting on itself may manage its own tokens and accept its invitation
    assert roles.allowed(action, role=role, own=True) is (
        action in MAY[role] or action in SELF_ACTIONS
    )
    # a read-only token keeps the queries only
    assert roles.allowed(action, role=role, vendor=True, own=True, read_only=True) is (
        (action in MAY[role] and action in ORG_QUERIES) or action == "tokens.list"
    )


def test_setting_the_same_role_records_nothing() -> None:
    members = [MembershipRow("acme", "alice", "owner")]
    row, fact = decide_set_role(members, org_id="acme", account_id="alice", role=Role.OWNER)
    assert (row, fact) == (members[0], None)


def test_passwords_use_argon2id_with_the_current_defaults() -> None:
    encoded = passwords.hash_password("correct horse battery")
    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password(encoded, "correct horse battery")
    assert not passwords.verify_password(encoded, "correct horse battery!")
    assert not passwords.verify_password("not a hash", "correct horse battery")
    assert passwords.verify_unknown("correct horse battery") is False
    assert not passwords.needs_rehash(encoded)
    cheaper = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("x" * 8)
    assert passwords.needs_rehash(cheaper)
    for bad in (None, "short", "x" * 1025, "nul\x00in password"):
        with pytest.raises(InvalidInput) as caught:
            passwords.check_password_text(bad)
        assert caught.value.details == {"param": "password"}


# -- the plugin in a Manager -----------------------------------------------------------------


def _store(manager: Manager) -> dict[str, list[dict[str, Any]]]:
    return {table: list(manager.backend.export_rows(table)) for table in TABLES}


class RefuseAllocate:
    """A host's own authorizer: it refuses every allocation."""

    @hookimpl
    def axis_licensing_authorize(
        self, actor: str, org_id: str | None, action: str, product: str | None
    ) -> bool | None:
        """Refuse ``allocate``."""
        return False if action == "allocate" else None


def test_the_plugin_enforces_roles_for_every_command(
    backend_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        passwords, "hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    plugin = RolesPlugin()
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock, plugins=[plugin]) as m:
        plugin.bind(m.backend, m.clock)
        access = Access.of(m)
        m.create_organization("early", name="Early", actor="anyone")  # no accounts: no opinion
        access.accounts.create("owner", name="Owner", actor="setup")
        for name in ("admin", "viewer", "stranger"):
            access.accounts.create(name, name=name.title(), actor="owner")
        access.accounts.create("seller", name="Seller", vendor=True, actor="system")
        with pytest.raises(PermissionDenied):  # now every actor must be an account
            m.create_organization("rogue", name="Rogue", actor="mallory")
        m.create_organization("acme", name="Acme", actor="owner")
        for name in ("admin", "viewer"):
            invitation = access.members.invite("acme", name, role=name, actor="owner")
            access.members.accept(invitation.token, account_id=name)
        with pytest.raises(PermissionDenied):
            m.vendor.issue_key(PRODUCT, quantities={"core": 10}, actor="owner")
        keys = [m.vendor.issue_key(PRODUCT, quantities={"core": 10}, actor="seller") for _ in "ab"]
        m.vendor.ship_hardware("SER-1", PRODUCT, actor="seller")
        m.start_subscription("acme", PRODUCT, actor="admin")
        m.redeem_key("acme", keys[0], actor="admin")
        m.register_system("acme", PRODUCT, "srv-1", devices={"core": 2}, actor="admin")
        system_file = offline.describe_system(
            system_id="srv-1", product=PRODUCT, devices={"core": 3}, now=clock.now()
        )
        writes: dict[str, Callable[[str], object]] = {
            "register_system": lambda a: m.register_system(
                "acme", PRODUCT, "srv-2", devices={"core": 1}, actor=a
            ),
            "report_devices": lambda a: m.report_devices("acme", "srv-1", {"core": 3}, actor=a),
            "start_subscription": lambda a: m.start_subscription("acme", PRODUCT, actor=a),
            "redeem_key": lambda a: m.redeem_key("acme", keys[1], actor=a),
            "allocate": lambda a: m.allocate("acme", PRODUCT, {"core": 2}, actor=a),
            "allocate_need": lambda a: m.allocate_need("acme", PRODUCT, actor=a),
            "register_hardware": lambda a: m.register_hardware("acme", "srv-1", "SER-1", actor=a),
            "allocate_to_hardware": lambda a: m.allocate_to_hardware(
                "acme", "SER-1", {"core": 1}, actor=a
            ),
            "upload_system_file": lambda a: m.upload_system_file("acme", system_file, actor=a),
        }
        assert sorted(writes) == sorted(ORG_COMMANDS)
        before = _store(m)
        for actor in ("viewer", "stranger", "mallory", "seller"):
            for name, write in writes.items():
                with pytest.raises(PermissionDenied):
                    write(actor)
                assert _store(m) == before, (actor, name)
        assert m.allocate("acme", PRODUCT, {"core": 2}, actor="admin").quantities == {"core": 2}
        m.create_organization("beta", name="Beta", actor="viewer")  # any account may create
        # promoted, the viewer may allocate at once; removed, it may not
        access.members.set_role("acme", "viewer", "admin", actor="owner")
        assert m.allocate("acme", PRODUCT, {"core": 1}, actor="viewer").quantities == {"core": 1}
        access.members.remove("acme", "viewer", actor="owner")
        with pytest.raises(PermissionDenied):
            m.allocate("acme", PRODUCT, {"core": 1}, actor="viewer")
        assert plugin.permits("viewer", "acme", "status") is False
        assert plugin.permits("admin", "acme", "status") is True
        assert plugin.permits("system", "acme", "allocate") is True


def test_a_hosts_own_authorizer_is_still_asked(clock: ManualClock) -> None:
    plugin = RolesPlugin()
    with Manager.open(
        "memory://", catalog=EXAMPLE_CATALOG, clock=clock, plugins=[plugin, RefuseAllocate()]
    ) as m:
        plugin.bind(m.backend, m.clock)
        access = Access.of(m)
        access.accounts.create("owner", name="Owner", actor="setup")
        m.create_organization("acme", name="Acme", actor="owner")
        m.start_subscription("acme", PRODUCT, actor="owner")
        with pytest.raises(PermissionDenied):
            m.allocate("acme", PRODUCT, {"core": 1}, actor="owner")


def test_an_unbound_plugin_fails_closed(clock: ManualClock) -> None:
    plugin = RolesPlugin()
    assert plugin.axis_licensing_authorize("owner", "acme", "status", None) is False
    assert plugin.permits("owner", "acme", "status") is False
    assert plugin.axis_licensing_authenticate("axl_" + "x" * 52) is None
    grant = plugin.authenticate("axl_" + "x" * 52, "acme", "status", now=datetime.now(UTC))
    assert (grant.token, grant.allowed) == (None, False)


def test_limited_tokens_are_not_answered_by_the_authenticate_hook(clock: ManualClock) -> None:
    with Manager.open("memory://", catalog=EXAMPLE_CATALOG, clock=clock) as m:
        access = Access.of(m)
        access.accounts.create("owner", name="Owner", actor="setup")
        m.create_organization("acme", name="Acme", actor="owner")
        plugin = RolesPlugin(m.backend, m.clock)
        full = access.tokens.create("owner", actor="owner").secret
        reading = access.tokens.create("owner", read_only=True, actor="owner").secret
        assert plugin.axis_licensing_authenticate(full) == "owner"
        assert plugin.axis_licensing_authenticate(reading) is None
        now = clock.now()
        assert plugin.authenticate(reading, "acme", "status", now=now).allowed is True
        assert plugin.authenticate(reading, "acme", "allocate", now=now).allowed is False
        assert plugin.authenticate(full, "acme", "allocate", now=now).allowed is True
        assert plugin.authenticate(full, "globex", "status", now=now).allowed is False


def test_an_owner_changes_its_webhooks_and_an_admin_may_not(
    backend_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """§7, §8: an owner manages webhooks, changing one included (``webhooks.update``)."""
    monkeypatch.setattr(
        passwords, "hasher", lambda: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    with Manager.open(backend_url, catalog=EXAMPLE_CATALOG, clock=clock) as m:
        m.accounts.create("owner", name="Owner", actor="setup")
        m.accounts.create("admin", name="Admin", actor="owner")
        m.create_organization("acme", name="Acme", actor="owner")
        invitation = m.members.invite("acme", "admin", role="admin", actor="owner")
        m.members.accept(invitation.token, account_id="admin")
        endpoint = m.webhooks.add("acme", "https://hooks.example.com/a", actor="owner")
        with pytest.raises(PermissionDenied, match=r"'admin' may not webhooks\.update"):
            m.webhooks.update(endpoint.endpoint_id, enabled=False, actor="admin")
        changed = m.webhooks.update(endpoint.endpoint_id, enabled=False, actor="owner")
        assert (changed.enabled, m.webhooks.list("acme")[0].enabled) == (False, False)
        assert m.history("acme")[-1].action == "webhook_changed"
        # the organization's own page is a query of its members (GET /v1/organizations/{org})
        assert m.roles is not None
        assert m.roles.permits("admin", "acme", "organization") is True
        assert m.roles.permits("admin", "beta", "organization") is False
