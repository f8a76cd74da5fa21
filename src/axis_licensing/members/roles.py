"""Who may do what (SPEC §8): the decision table role × action, as data.

Pure: no I/O, no clock. Each action name (the Manager method's name, as the
``axis_licensing_authorize`` hook is asked it, §4, or the query's name) has a
*scope*; the scope says which role (or flag) it needs:

=============== =================================================== ===========================
scope           actions                                             needs
=============== =================================================== ===========================
``query``       every query of an organization, ``members.list``,   any role (``viewer`` up)
                ``webhooks.list``, ``webhooks.failed``
``command``     every command of an organization                    ``admin`` or ``owner``
``owner``       ``members.invite/set_role/remove``, ``webhooks.*``  ``owner``
                writes, ``tokens.revoke_member`` (a member's token)
``member``      ``members.leave`` (removing oneself)                any role (``viewer`` up)
``vendor``      ``vendor.*``, ``accounts.create_vendor``            the account's vendor flag
                (``vendor.sweep``, ``vendor.deliver``: the jobs
                over HTTP, which the library runs unasked)
``create``      ``create_organization``, ``accounts.create``        any account (the first
                                                                    account: anyone, below)
``self``        ``tokens.create``, ``tokens.revoke`` of one's own,  the account itself
                ``members.accept``, ``accounts.set_password``
``self_query``  ``tokens.list`` of one's own                        the account itself
=============== =================================================== ===========================

The member commands ask the ``axis_licensing_authorize`` hook with these
names (SPEC §4, §8): a ``self`` action is asked only when the actor acts on
its own account (or is ``system``), so through the hook it is the actor's
own; removing oneself is asked as ``members.leave``, another member as
``members.remove``; revoking another account's token as
``tokens.revoke_member`` in an organization it reaches; creating a vendor
account as ``accounts.create_vendor``. While the store has no account the
built-in plugin has no opinion, so anyone may create the first (the bootstrap).

A read-only token allows the ``query`` and ``self_query`` scopes only. An
action this table does not know is refused (a new command must be added here
before members may run it). The actor ``system`` is the library's own (its
sweeps): it is not an account (no account may take that id), and is allowed.
"""

from __future__ import annotations

import enum

from axis_licensing.members.model import Role

__all__ = [
    "ACTIONS",
    "COMMANDS",
    "QUERIES",
    "SYSTEM_ACTOR",
    "Scope",
    "allowed",
    "at_least",
    "scope_of",
]

#: The library's own actor: never an account.
SYSTEM_ACTOR = "system"


class Scope(enum.StrEnum):
    """What an action needs (see the module's table)."""

    QUERY = "query"
    COMMAND = "command"
    OWNER = "owner"
    MEMBER = "member"
    VENDOR = "vendor"
    CREATE = "create"
    SELF = "self"
    SELF_QUERY = "self_query"


#: The commands of an organization (the Manager's method names, SPEC §3).
COMMANDS: tuple[str, ...] = (
    "register_system",
    "report_devices",
    "start_subscription",
    "redeem_key",
    "allocate",
    "allocate_need",
    "register_hardware",
    "allocate_to_hardware",
    "upload_system_file",
)

#: The queries of an organization (SPEC §3, §7, §8); ``organizations``: seeing it listed.
QUERIES: tuple[str, ...] = (
    "organizations",
    "organization",
    "status",
    "need",
    "wallet",
    "system_status",
    "history",
    "products",
    "systems",
    "alerts",
    "events",
    "members.list",
    "webhooks.list",
    "webhooks.failed",
)

#: Every action this table knows, and its scope.
ACTIONS: dict[str, Scope] = {
    **dict.fromkeys(QUERIES, Scope.QUERY),
    **dict.fromkeys(COMMANDS, Scope.COMMAND),
    "create_organization": Scope.CREATE,
    "accounts.create": Scope.CREATE,
    "members.leave": Scope.MEMBER,
    **dict.fromkeys(
        (
            "members.invite",
            "members.set_role",
            "members.remove",
            "webhooks.add",
            "webhooks.update",
            "webhooks.rotate_secret",
            "webhooks.remove",
            "webhooks.redeliver",
            "tokens.revoke_member",
        ),
        Scope.OWNER,
    ),
    **dict.fromkeys(
        (
            "vendor.issue_key",
            "vendor.ship_hardware",
            "vendor.publish_catalog",
            "vendor.webhooks",
            "vendor.sweep",
            "vendor.deliver",
            "accounts.create_vendor",
        ),
        Scope.VENDOR,
    ),
    **dict.fromkeys(
        ("tokens.create", "tokens.revoke", "members.accept", "accounts.set_password"), Scope.SELF
    ),
    "tokens.list": Scope.SELF_QUERY,
}

_RANK = {Role.VIEWER: 1, Role.ADMIN: 2, Role.OWNER: 3}
_NEEDS = {
    Scope.QUERY: Role.VIEWER,
    Scope.MEMBER: Role.VIEWER,
    Scope.COMMAND: Role.ADMIN,
    Scope.OWNER: Role.OWNER,
}


def scope_of(action: str) -> Scope | None:
    """The scope of ``action``, or None when the table does not know it."""
    return ACTIONS.get(action)


def at_least(role: Role | None, needed: Role) -> bool:
    """Whether ``role`` is ``needed`` or above (viewer < admin < owner); None is below all."""
    return role is not None and _RANK[role] >= _RANK[needed]


def allowed(
    action: str,
    *,
    role: Role | None,
    vendor: bool = False,
    read_only: bool = False,
    own: bool = False,
) -> bool:
    """Whether an account may run ``action``.

    Args:
        action: the action's name (``"allocate"``, ``"members.invite"``, ``"vendor.issue_key"``…).
        role: the account's role in the organization the action is about, or None
            (not a member, or no organization).
        vendor: the account's vendor flag.
        read_only: whether the request came with a read-only token.
        own: for the ``self`` scopes, whether the account acts on itself (its own
            tokens, its own invitation).

    Returns:
        True when the decision table allows it; False for an unknown action.
    """
    scope = ACTIONS.get(action)
    if scope is None:
        return False
    if read_only and scope not in (Scope.QUERY, Scope.SELF_QUERY):
        return False
    if scope is Scope.VENDOR:
        return vendor
    if scope is Scope.CREATE:
        return True
    if scope in (Scope.SELF, Scope.SELF_QUERY):
        return own
    return at_least(role, _NEEDS[scope])
