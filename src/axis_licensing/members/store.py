"""Where members and roles are stored (SPEC §8): the transaction interface and its three backends.

A backend's transaction object (what ``backend.read()`` / ``backend.write()``
yield) stores members when its class also derives from one of the mixins
here: :class:`SQLiteMembersTx`, :class:`PostgreSQLMembersTx` or
:class:`MemoryMembersTx`. They run in the backend's own transaction, so a
member change commits or rolls back with everything else the transaction
wrote. Backends store and fetch; every decision is in
:mod:`axis_licensing.members.decide`.

Every method may raise :class:`~axis_licensing.errors.StorageError` (or, in a
write, the backend's ``RetryableConflict``), as every transaction method does:
the SQL mixins run their statements through the backend's own transaction,
which translates driver errors.

:func:`member_tx` gives the typed view of a transaction, or a clear
:class:`~axis_licensing.errors.StorageError` for a backend that does not store
members (a third-party backend that has not added the mixin yet).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from typing import Any, LiteralString, cast

import attrs

from axis_licensing.backends import Backend, ReadTx, WriteTx
from axis_licensing.backends._sql import maybe_row
from axis_licensing.backends._undo import UndoLog
from axis_licensing.errors import StorageError
from axis_licensing.members._tables import (
    ACCESS_VERSION,
    MEMBER_COLUMNS,
    AccountRow,
    InvitationRow,
    MembershipRow,
    TokenRow,
)

__all__ = [
    "POSTGRESQL_DDL",
    "SQLITE_DDL",
    "MemberReadTx",
    "MemberWriteTx",
    "MemoryMembers",
    "MemoryMembersTx",
    "PostgreSQLMembersTx",
    "SQLiteMembersBackend",
    "SQLiteMembersTx",
    "StoreReadTx",
    "StoreWriteTx",
    "access_version_now",
    "member_tx",
    "writer",
]


class MemberReadTx(abc.ABC):
    """The member reads of a transaction."""

    @abc.abstractmethod
    def account(self, account_id: str) -> AccountRow | None:
        """An account by id."""

    @abc.abstractmethod
    def has_accounts(self) -> bool:
        """Whether the store holds any account (then roles are enforced, SPEC §8)."""

    @abc.abstractmethod
    def membership(self, org_id: str, account_id: str) -> MembershipRow | None:
        """The account's membership of the organization, if any."""

    @abc.abstractmethod
    def org_members(self, org_id: str) -> list[MembershipRow]:
        """The organization's memberships, by account id."""

    @abc.abstractmethod
    def account_memberships(self, account_id: str) -> list[MembershipRow]:
        """The account's memberships, by organization id."""

    @abc.abstractmethod
    def count_owners(self, org_id: str) -> int:
        """How many owners the organization has."""

    @abc.abstractmethod
    def invitation(self, token_hash: str) -> InvitationRow | None:
        """An invitation by the SHA-256 of its token."""

    @abc.abstractmethod
    def token(self, token_hash: str) -> TokenRow | None:
        """An API token by the SHA-256 of its secret."""

    @abc.abstractmethod
    def token_by_id(self, token_id: str) -> TokenRow | None:
        """An API token by id."""

    @abc.abstractmethod
    def account_tokens(self, account_id: str) -> list[TokenRow]:
        """The account's tokens (revoked ones too), oldest first."""

    @abc.abstractmethod
    def access_version(self) -> int:
        """The store-wide access version (0 before any change); see :data:`ACCESS_VERSION`."""


class MemberWriteTx(MemberReadTx):
    """The member writes of a write transaction."""

    @abc.abstractmethod
    def insert_account(self, row: AccountRow) -> bool:
        """Store a new account; False if the id is taken."""

    @abc.abstractmethod
    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        """Replace an account's password hash (a rehash with new parameters)."""

    @abc.abstractmethod
    def put_membership(self, row: MembershipRow) -> None:
        """Store a membership, replacing the account's role in that organization."""

    @abc.abstractmethod
    def delete_membership(self, org_id: str, account_id: str) -> bool:
        """Delete a membership; False if there was none."""

    @abc.abstractmethod
    def insert_invitation(self, row: InvitationRow) -> bool:
        """Store an invitation; False if its token hash is taken."""

    @abc.abstractmethod
    def use_invitation(self, token_hash: str, at_us: int) -> bool:
        """Mark an invitation used; False if it was already (or does not exist)."""

    @abc.abstractmethod
    def insert_token(self, row: TokenRow) -> None:
        """Store a new API token."""

    @abc.abstractmethod
    def revoke_token(self, token_id: str, at_us: int) -> bool:
        """Mark a token revoked; False if it already was (or does not exist)."""

    @abc.abstractmethod
    def touch_token(self, token_id: str, at_us: int, before_us: int) -> bool:
        """Set a token's last use to ``at_us`` if it is unset or earlier than ``before_us``."""

    @abc.abstractmethod
    def bump_access_version(self) -> int:
        """Raise the store-wide access version by one; returns the new version."""


class StoreReadTx(MemberReadTx, ReadTx):
    """For typing: a backend's read transaction that also stores members (never instantiated)."""


class StoreWriteTx(StoreReadTx, MemberWriteTx, WriteTx):
    """For typing: a backend's write transaction that also stores members (never instantiated)."""


def member_tx(tx: object, *, write: bool = False) -> StoreReadTx:
    """``tx`` as a member transaction.

    Args:
        tx: a transaction of a backend (from ``backend.read()`` or ``backend.write()``).
        write: whether a :class:`MemberWriteTx` is needed.

    Returns:
        The same object, typed.

    Raises:
        StorageError: the backend does not store members (its transaction class
            lacks the mixin of :mod:`axis_licensing.members.store`).
    """
    wanted = MemberWriteTx if write else MemberReadTx
    if not isinstance(tx, wanted):
        raise StorageError(
            f"this storage backend ({type(tx).__module__}) does not store accounts and "
            "memberships (SPEC §8): its transaction lacks axis_licensing.members.store's mixin"
        )
    return cast(StoreReadTx, tx)


def writer(tx: object) -> StoreWriteTx:
    """``tx`` as a member write transaction.

    Raises:
        StorageError: the backend does not store members.
    """
    return cast(StoreWriteTx, member_tx(tx, write=True))


# -- SQL (SQLite and PostgreSQL) -----------------------------------------------------------------

#: The tables, in SQLite's dialect; ``backends.sqlite`` runs them as one schema migration.
SQLITE_DDL: tuple[str, ...] = (
    """CREATE TABLE accounts (
        account_id TEXT PRIMARY KEY, name TEXT NOT NULL, password_hash TEXT,
        vendor INTEGER NOT NULL, created_at_us INTEGER NOT NULL)""",
    """CREATE TABLE memberships (
        org_id TEXT NOT NULL, account_id TEXT NOT NULL, role TEXT NOT NULL,
        PRIMARY KEY (org_id, account_id)) WITHOUT ROWID""",
    "CREATE INDEX memberships_account ON memberships (account_id, org_id)",
    """CREATE TABLE invitations (
        token_hash TEXT PRIMARY KEY, org_id TEXT NOT NULL, account_id TEXT NOT NULL,
        role TEXT NOT NULL, invited_by TEXT NOT NULL, created_at_us INTEGER NOT NULL,
        expires_at_us INTEGER NOT NULL, used_at_us INTEGER)""",
    """CREATE TABLE api_tokens (
        token_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, account_id TEXT NOT NULL,
        prefix TEXT NOT NULL, orgs TEXT, read_only INTEGER NOT NULL,
        created_at_us INTEGER NOT NULL, expires_at_us INTEGER, last_used_at_us INTEGER,
        revoked_at_us INTEGER)""",
    "CREATE INDEX api_tokens_account ON api_tokens (account_id, created_at_us)",
    "CREATE TABLE access_version (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)

#: The tables, in PostgreSQL's dialect; ``{s}`` is the schema. Text keys use the "C"
#: collation, so they order by bytes, as in SQLite.
POSTGRESQL_DDL: tuple[LiteralString, ...] = (
    """CREATE TABLE {s}.accounts (
        account_id TEXT COLLATE "C" PRIMARY KEY, name TEXT NOT NULL, password_hash TEXT,
        vendor INTEGER NOT NULL, created_at_us BIGINT NOT NULL)""",
    """CREATE TABLE {s}.memberships (
        org_id TEXT COLLATE "C" NOT NULL, account_id TEXT COLLATE "C" NOT NULL,
        role TEXT NOT NULL, PRIMARY KEY (org_id, account_id))""",
    "CREATE INDEX memberships_account ON {s}.memberships (account_id, org_id)",
    """CREATE TABLE {s}.invitations (
        token_hash TEXT COLLATE "C" PRIMARY KEY, org_id TEXT COLLATE "C" NOT NULL,
        account_id TEXT COLLATE "C" NOT NULL, role TEXT NOT NULL, invited_by TEXT NOT NULL,
        created_at_us BIGINT NOT NULL, expires_at_us BIGINT NOT NULL, used_at_us BIGINT)""",
    """CREATE TABLE {s}.api_tokens (
        token_id TEXT COLLATE "C" PRIMARY KEY, token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
        account_id TEXT COLLATE "C" NOT NULL, prefix TEXT NOT NULL, orgs TEXT,
        read_only INTEGER NOT NULL, created_at_us BIGINT NOT NULL, expires_at_us BIGINT,
        last_used_at_us BIGINT, revoked_at_us BIGINT)""",
    "CREATE INDEX api_tokens_account ON {s}.api_tokens (account_id, created_at_us)",
    """CREATE TABLE {s}.access_version (
        name TEXT COLLATE "C" PRIMARY KEY, value BIGINT NOT NULL)""",
)


def _columns(table: str) -> str:
    return ", ".join(MEMBER_COLUMNS[table])


_ACCOUNT = f"SELECT {_columns('accounts')} FROM {{s}}accounts"  # noqa: S608 - fixed names
_MEMBERSHIP = f"SELECT {_columns('memberships')} FROM {{s}}memberships"  # noqa: S608
_INVITATION = f"SELECT {_columns('invitations')} FROM {{s}}invitations"  # noqa: S608
_TOKEN = f"SELECT {_columns('api_tokens')} FROM {{s}}api_tokens"  # noqa: S608

#: The statements both SQL backends run, with ``?`` for parameters and ``{s}`` where
#: the schema (with its dot) goes; each dialect mixin rewrites them once.
STATEMENTS: dict[str, str] = {
    "account": f"{_ACCOUNT} WHERE account_id = ?",
    "has_accounts": "SELECT 1 FROM {s}accounts LIMIT 1",
    "membership": f"{_MEMBERSHIP} WHERE org_id = ? AND account_id = ?",
    "org_members": f"{_MEMBERSHIP} WHERE org_id = ? ORDER BY account_id",
    "account_memberships": f"{_MEMBERSHIP} WHERE account_id = ? ORDER BY org_id",
    "count_owners": "SELECT count(*) FROM {s}memberships WHERE org_id = ? AND role = 'owner'",
    "invitation": f"{_INVITATION} WHERE token_hash = ?",
    "token": f"{_TOKEN} WHERE token_hash = ?",
    "token_by_id": f"{_TOKEN} WHERE token_id = ?",
    "account_tokens": f"{_TOKEN} WHERE account_id = ? ORDER BY created_at_us, token_id",
    "access_version": "SELECT value FROM {s}access_version WHERE name = ?",
    "insert_account": (
        f"INSERT INTO {{s}}accounts ({_columns('accounts')}) VALUES (?, ?, ?, ?, ?) "  # noqa: S608
        "ON CONFLICT DO NOTHING"
    ),
    "set_password_hash": "UPDATE {s}accounts SET password_hash = ? WHERE account_id = ?",
    "put_membership": (
        "INSERT INTO {s}memberships (org_id, account_id, role) VALUES (?, ?, ?) "
        "ON CONFLICT (org_id, account_id) DO UPDATE SET role = excluded.role"
    ),
    "delete_membership": "DELETE FROM {s}memberships WHERE org_id = ? AND account_id = ?",
    "insert_invitation": (
        f"INSERT INTO {{s}}invitations ({_columns('invitations')}) "  # noqa: S608
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
    ),
    "use_invitation": (
        "UPDATE {s}invitations SET used_at_us = ? WHERE token_hash = ? AND used_at_us IS NULL"
    ),
    "insert_token": (
        f"INSERT INTO {{s}}api_tokens ({_columns('api_tokens')}) "  # noqa: S608
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "revoke_token": (
        "UPDATE {s}api_tokens SET revoked_at_us = ? WHERE token_id = ? AND revoked_at_us IS NULL"
    ),
    "touch_token": (
        "UPDATE {s}api_tokens SET last_used_at_us = ? WHERE token_id = ? "
        "AND (last_used_at_us IS NULL OR last_used_at_us < ?)"
    ),
    "bump_access_version": (
        "INSERT INTO {s}access_version AS v (name, value) VALUES (?, 1) "
        "ON CONFLICT (name) DO UPDATE SET value = v.value + 1 RETURNING value"
    ),
}


class _SQLMembersTx(MemberWriteTx):
    """The member methods over the shared statements; a dialect supplies ``_m_run``."""

    @abc.abstractmethod
    def _m_run(self, name: str, params: Sequence[Any]) -> Any:
        """Run the statement ``name`` and return the driver's cursor."""

    def _m_one(self, name: str, params: Sequence[Any]) -> Any:
        return self._m_run(name, params).fetchone()

    def _m_all(self, name: str, params: Sequence[Any]) -> list[Any]:
        return list(self._m_run(name, params).fetchall())

    def _m_count(self, name: str, params: Sequence[Any]) -> int:
        return int(self._m_run(name, params).rowcount)

    def account(self, account_id: str) -> AccountRow | None:
        return maybe_row(AccountRow, self._m_one("account", (account_id,)))

    def has_accounts(self) -> bool:
        return self._m_one("has_accounts", ()) is not None

    def membership(self, org_id: str, account_id: str) -> MembershipRow | None:
        return maybe_row(MembershipRow, self._m_one("membership", (org_id, account_id)))

    def org_members(self, org_id: str) -> list[MembershipRow]:
        return [MembershipRow(*row) for row in self._m_all("org_members", (org_id,))]

    def account_memberships(self, account_id: str) -> list[MembershipRow]:
        return [MembershipRow(*row) for row in self._m_all("account_memberships", (account_id,))]

    def count_owners(self, org_id: str) -> int:
        return int(self._m_one("count_owners", (org_id,))[0])

    def invitation(self, token_hash: str) -> InvitationRow | None:
        return maybe_row(InvitationRow, self._m_one("invitation", (token_hash,)))

    def token(self, token_hash: str) -> TokenRow | None:
        return maybe_row(TokenRow, self._m_one("token", (token_hash,)))

    def token_by_id(self, token_id: str) -> TokenRow | None:
        return maybe_row(TokenRow, self._m_one("token_by_id", (token_id,)))

    def account_tokens(self, account_id: str) -> list[TokenRow]:
        return [TokenRow(*row) for row in self._m_all("account_tokens", (account_id,))]

    def access_version(self) -> int:
        row = self._m_one("access_version", (ACCESS_VERSION,))
        return 0 if row is None else int(row[0])

    def insert_account(self, row: AccountRow) -> bool:
        return self._m_count("insert_account", attrs.astuple(row)) == 1

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        self._m_run("set_password_hash", (password_hash, account_id))

    def put_membership(self, row: MembershipRow) -> None:
        self._m_run("put_membership", attrs.astuple(row))

    def delete_membership(self, org_id: str, account_id: str) -> bool:
        return self._m_count("delete_membership", (org_id, account_id)) == 1

    def insert_invitation(self, row: InvitationRow) -> bool:
        return self._m_count("insert_invitation", attrs.astuple(row)) == 1

    def use_invitation(self, token_hash: str, at_us: int) -> bool:
        return self._m_count("use_invitation", (at_us, token_hash)) == 1

    def insert_token(self, row: TokenRow) -> None:
        self._m_run("insert_token", attrs.astuple(row))

    def revoke_token(self, token_id: str, at_us: int) -> bool:
        return self._m_count("revoke_token", (at_us, token_id)) == 1

    def touch_token(self, token_id: str, at_us: int, before_us: int) -> bool:
        return self._m_count("touch_token", (at_us, token_id, before_us)) == 1

    def bump_access_version(self) -> int:
        return int(self._m_one("bump_access_version", (ACCESS_VERSION,))[0])


_SQLITE: dict[str, str] = {name: text.replace("{s}", "") for name, text in STATEMENTS.items()}


class SQLiteMembersTx(_SQLMembersTx):
    """The member methods of ``backends.sqlite``'s transaction (it has the connection ``_c``).

    sqlite3's errors are translated by the backend's transaction, which they leave through.
    """

    def _m_run(self, name: str, params: Sequence[Any]) -> Any:
        return self._c.execute(_SQLITE[name], tuple(params))  # type: ignore[attr-defined]


class SQLiteMembersBackend:
    """A mixin of ``backends.sqlite.SQLiteBackend``: the access version in one statement.

    It uses the backend's lock and connection (``_lock``, ``_connection()``).
    """

    def access_version_now(self) -> int:
        """The store-wide access version, read by one statement outside any transaction.

        In autocommit mode one SELECT is its own read transaction: it sees every
        committed change, and costs a fraction of ``BEGIN … COMMIT``.

        Raises:
            StorageError: the store failed.
        """
        import sqlite3

        with self._lock:  # type: ignore[attr-defined]
            try:
                conn = self._connection()  # type: ignore[attr-defined]
                row = conn.execute(_SQLITE["access_version"], (ACCESS_VERSION,)).fetchone()
            except sqlite3.Error as exc:
                raise StorageError(f"SQLite failed to read the access version: {exc}") from exc
        return 0 if row is None else int(row[0])


def access_version_now(backend: Backend) -> int:
    """The store's access version, by the backend's one-statement read when it has one.

    Raises:
        StorageError: the store failed, or does not store members.
    """
    if isinstance(backend, SQLiteMembersBackend):
        return backend.access_version_now()
    with backend.read() as tx:
        return member_tx(tx).access_version()


_PG_CACHE: dict[str, dict[str, Any]] = {}


def _pg_statements(schema: Any) -> dict[str, Any]:
    """The statements for one schema (a ``psycopg.sql.Identifier``), composed once."""
    key = repr(schema)
    found = _PG_CACHE.get(key)
    if found is None:
        from psycopg import sql

        found = {
            name: sql.SQL(text.replace("?", "%s").replace("{s}", "{s}.")).format(s=schema)
            for name, text in STATEMENTS.items()
        }
        _PG_CACHE[key] = found
    return found


class PostgreSQLMembersTx(_SQLMembersTx):
    """The member methods of ``backends.postgresql``'s transaction (``_s`` schema, ``run``)."""

    def _m_run(self, name: str, params: Sequence[Any]) -> Any:
        # ``_s`` (the schema) and ``run`` are the backend transaction's; ``run``
        # translates psycopg's errors
        schema = self._s  # type: ignore[attr-defined]
        return self.run(_pg_statements(schema)[name], tuple(params))  # type: ignore[attr-defined]


# -- memory ---------------------------------------------------------------------------------------


class MemoryMembers:
    """The member tables of one ``memory://`` store."""

    def __init__(self) -> None:
        self.accounts: dict[str, AccountRow] = {}
        self.memberships: dict[tuple[str, str], MembershipRow] = {}
        self.invitations: dict[str, InvitationRow] = {}
        self.tokens: dict[str, TokenRow] = {}
        self.token_ids: dict[str, str] = {}
        self.versions: dict[str, int] = {}

    def export_rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of a member table, in its stable order."""
        if table == "accounts":
            rows: Iterable[Any] = (r for _, r in sorted(self.accounts.items()))
        elif table == "memberships":
            rows = (r for _, r in sorted(self.memberships.items()))
        elif table == "invitations":
            rows = (r for _, r in sorted(self.invitations.items()))
        elif table == "api_tokens":
            rows = (r for _, r in sorted(self.tokens.items()))
        else:
            return [{"name": k, "value": v} for k, v in sorted(self.versions.items())]
        return [attrs.asdict(r) for r in rows]

    def import_row(self, table: str, row: dict[str, Any]) -> None:
        """Store one exported row of a member table."""
        if table == "accounts":
            self.accounts[row["account_id"]] = AccountRow(**row)
        elif table == "memberships":
            self.memberships[(row["org_id"], row["account_id"])] = MembershipRow(**row)
        elif table == "invitations":
            self.invitations[row["token_hash"]] = InvitationRow(**row)
        elif table == "api_tokens":
            self.tokens[row["token_id"]] = TokenRow(**row)
            self.token_ids[row["token_hash"]] = row["token_id"]
        else:
            self.versions[row["name"]] = row["value"]

    def count_rows(self, table: str) -> int:
        """How many rows a member table holds."""
        sizes = {
            "accounts": len(self.accounts),
            "memberships": len(self.memberships),
            "invitations": len(self.invitations),
            "api_tokens": len(self.tokens),
            "access_version": len(self.versions),
        }
        return sizes[table]


class MemoryMembersTx(UndoLog, MemberWriteTx):
    """The member methods of ``backends.memory``'s transaction (``_s.members``, the undo log)."""

    @property
    def _m(self) -> MemoryMembers:
        members: MemoryMembers = self._s.members  # type: ignore[attr-defined]
        return members

    def account(self, account_id: str) -> AccountRow | None:
        return self._m.accounts.get(account_id)

    def has_accounts(self) -> bool:
        return bool(self._m.accounts)

    def membership(self, org_id: str, account_id: str) -> MembershipRow | None:
        return self._m.memberships.get((org_id, account_id))

    def org_members(self, org_id: str) -> list[MembershipRow]:
        return sorted(
            (r for r in self._m.memberships.values() if r.org_id == org_id),
            key=lambda r: r.account_id,
        )

    def account_memberships(self, account_id: str) -> list[MembershipRow]:
        return sorted(
            (r for r in self._m.memberships.values() if r.account_id == account_id),
            key=lambda r: r.org_id,
        )

    def count_owners(self, org_id: str) -> int:
        return sum(1 for r in self.org_members(org_id) if r.role == "owner")

    def invitation(self, token_hash: str) -> InvitationRow | None:
        return self._m.invitations.get(token_hash)

    def token(self, token_hash: str) -> TokenRow | None:
        token_id = self._m.token_ids.get(token_hash)
        return None if token_id is None else self._m.tokens.get(token_id)

    def token_by_id(self, token_id: str) -> TokenRow | None:
        return self._m.tokens.get(token_id)

    def account_tokens(self, account_id: str) -> list[TokenRow]:
        return sorted(
            (r for r in self._m.tokens.values() if r.account_id == account_id),
            key=lambda r: (r.created_at_us, r.token_id),
        )

    def access_version(self) -> int:
        return self._m.versions.get(ACCESS_VERSION, 0)

    def insert_account(self, row: AccountRow) -> bool:
        return self._add(self._m.accounts, row.account_id, row)

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        row = self._m.accounts.get(account_id)
        if row is not None:
            self._set(self._m.accounts, account_id, attrs.evolve(row, password_hash=password_hash))

    def put_membership(self, row: MembershipRow) -> None:
        self._set(self._m.memberships, (row.org_id, row.account_id), row)

    def delete_membership(self, org_id: str, account_id: str) -> bool:
        return self._drop(self._m.memberships, (org_id, account_id))

    def insert_invitation(self, row: InvitationRow) -> bool:
        return self._add(self._m.invitations, row.token_hash, row)

    def use_invitation(self, token_hash: str, at_us: int) -> bool:
        return self._evolve(
            self._m.invitations, token_hash, lambda r: r.used_at_us is None, used_at_us=at_us
        )

    def insert_token(self, row: TokenRow) -> None:
        if row.token_id in self._m.tokens or row.token_hash in self._m.token_ids:
            raise StorageError("an API token with this id or secret is already stored")
        self._set(self._m.tokens, row.token_id, row)
        self._set(self._m.token_ids, row.token_hash, row.token_id)

    def revoke_token(self, token_id: str, at_us: int) -> bool:
        return self._evolve(
            self._m.tokens, token_id, lambda r: r.revoked_at_us is None, revoked_at_us=at_us
        )

    def touch_token(self, token_id: str, at_us: int, before_us: int) -> bool:
        return self._evolve(
            self._m.tokens,
            token_id,
            lambda r: r.last_used_at_us is None or r.last_used_at_us < before_us,
            last_used_at_us=at_us,
        )

    def bump_access_version(self) -> int:
        value = self._m.versions.get(ACCESS_VERSION, 0) + 1
        self._set(self._m.versions, ACCESS_VERSION, value)
        return value
