"""``date-community users``: staff and volunteer logins from the shell.

This is how a fresh production database gets its first staff account
(``users add admin --role staff``).  Passwords are typed twice without echo,
or read from one line of standard input with ``--password-stdin`` (for
scripts; never as an argument, where ``ps`` and the shell history would show
it).  Every change is audited with the OS user as the actor.
"""
from __future__ import annotations

import sys

import click

from . import accounts
from .cli import _state, actor, cli, emit, json_option, table

_ROLE = click.Choice(("staff", "volunteer"))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    # On stderr, so --json output on stdout stays one document.
    return click.prompt("Password (at least 15 characters; a few words with spaces is fine)", hide_input=True,
                        confirmation_prompt="Type the password again", err=True)


def _password_option(f):
    return click.option("--password-stdin", is_flag=True,
                        help="Read the password from the first line of standard input instead of asking.")(f)


@cli.group()
def users() -> None:
    """Logins for staff and volunteers: add, change a password, list, disable, enable."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=_ROLE, required=True, help="staff, or volunteer (then --volunteer-id is needed).")
@click.option("--volunteer-id", type=click.IntRange(min=1, max=2**63 - 1), metavar="N",
              help="The volunteer record this login belongs to (see the staff pages' volunteer list).")
@_password_option
@json_option
def users_add(username: str, role: str, volunteer_id: int | None, password_stdin: bool) -> None:
    """Create a login.  Asks for the password twice unless --password-stdin is given."""
    database = _state().db
    password = _read_password(password_stdin)
    uid = accounts.create_user(database, username=username, password=password, role=role,
                               volunteer_id=volunteer_id, actor=actor())
    user = accounts.get_user(database, uid)
    emit({"id": uid, "username": user["username"], "role": role, "volunteer_id": volunteer_id},
         f"Added {role} login {user['username']} (id {uid}).")


@users.command("passwd")
@click.argument("username")
@_password_option
@json_option
def users_passwd(username: str, password_stdin: bool) -> None:
    """Set a new password; the user is logged out everywhere."""
    database = _state().db
    user = accounts.get_user_by_name(database, username)
    accounts.set_password(database, user["id"], _read_password(password_stdin), actor=actor())
    emit({"id": user["id"], "username": user["username"]},
         f"Changed the password of {user['username']}; their login sessions have ended.")


@users.command("list")
@json_option
def users_list() -> None:
    """List every login with its role and state."""
    rows = [{k: v for k, v in row.items() if k != "volunteer_name"} for row in accounts.list_users(_state().db)]
    emit(rows, lambda: table(
        ("ID", "USERNAME", "ROLE", "STATE", "VOLUNTEER", "LAST SEEN"),
        ((r["id"], r["username"], r["role"], "active" if r["active"] else "disabled", r["volunteer_id"] or "",
          (r["last_seen_at"] or "")[:16].replace("T", " ")) for r in rows), "No logins."))


def _set_active(username: str, active: bool) -> None:
    database = _state().db
    user = accounts.get_user_by_name(database, username)
    accounts.set_user_active(database, user["id"], active, actor=actor())
    emit({"id": user["id"], "username": user["username"], "active": active},
         f"Enabled {user['username']}." if active
         else f"Disabled {user['username']}; their login sessions have ended.")


@users.command("disable")
@click.argument("username")
@json_option
def users_disable(username: str) -> None:
    """Stop a login from working and end its sessions at once.  The last active staff login cannot be disabled."""
    _set_active(username, False)


@users.command("enable")
@click.argument("username")
@json_option
def users_enable(username: str) -> None:
    """Let a disabled login work again."""
    _set_active(username, True)
