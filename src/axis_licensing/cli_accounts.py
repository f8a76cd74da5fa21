"""``axis-licensing set-password ACCOUNT``: set an account's password from the shell (SPEC §8).

The other ``accounts`` commands come from the declarations
(:mod:`axis_licensing.shell.operations`); this one reads a secret, which a
declaration-drawn command must never take as an argument: the password is
asked twice without echo (or read from standard input with
``--password-stdin``), never logged, and only its Argon2id hash is stored.
It acts as ``system``, the library's own actor: whoever runs it holds the
store.
"""

from __future__ import annotations

import sys

import click

from axis_licensing import errors
from axis_licensing._cli_options import HELP, db_option
from axis_licensing._cli_store import exit_code_of, open_store

__all__ = ["set_password"]


@click.command("set-password", context_settings=HELP)
@click.argument("account_id")
@db_option
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
def set_password(account_id: str, db: str, password_stdin: bool) -> None:
    """Set the password of ACCOUNT_ID (asked without echo)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with open_store(db) as manager:
            manager.accounts.set_password(account_id, password, actor="system")
    except errors.LicensingError as exc:
        click.echo(f"error: {exc}", err=True)  # no message holds the password
        sys.exit(exit_code_of(exc))
    click.echo(f"the password of {account_id} was set", err=True)
