"""Members and roles in the store (SPEC §8): accounts, memberships, invitations, API tokens.

- :mod:`~axis_licensing.members.model`: the values (:class:`Account`, :class:`Role`, …);
- :mod:`~axis_licensing.members.passwords`: Argon2id hashing, timing-neutral checks;
- :mod:`~axis_licensing.members.tokens`: API token and invitation secrets;
- :mod:`~axis_licensing.members.roles`: the pure decision table role × action;
- :mod:`~axis_licensing.members.facts` and :mod:`~axis_licensing.members.decide`: what
  happened, and the pure decisions of each command;
- :mod:`~axis_licensing.members.store`: the storage interface and its three backends;
- :mod:`~axis_licensing.members.service`: ``Accounts``, ``Members`` and ``Tokens``
  over a backend, and :mod:`~axis_licensing.members.authorize`: the built-in authorize plugin.

Importing this package loads the values only (attrs); the rest loads on use.
"""

from __future__ import annotations

from axis_licensing.members.model import (
    Account,
    Invitation,
    IssuedToken,
    Membership,
    Role,
    TokenInfo,
)

__all__ = ["Account", "Invitation", "IssuedToken", "Membership", "Role", "TokenInfo"]
