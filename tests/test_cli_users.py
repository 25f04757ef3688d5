"""``date-community users``: add, passwd, list, disable, enable, on a real database file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from date_community import accounts, db as dbmod, people
from date_community.cli import cli

PW = "sunny orchard kettle"
OTHER_PW = "quiet river lantern"


def run(db_path: Path, *args, input: str | None = None, expect: int = 0, env=None):
    result = CliRunner().invoke(cli, ["--db", str(db_path), *[str(a) for a in args]], input=input,
                                env={"USER": "tanaka", **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == expect, (args, result.exit_code, result.stdout, result.stderr)
    return result


def _open(db_path):
    return dbmod.connect(db_path)


def test_init_db_alone_gives_an_empty_production_database(db_path):
    run(db_path, "init-db")
    database = _open(db_path)
    try:
        assert [] == list(database.query("SELECT 1 FROM users"))
        assert [] == list(database.query("SELECT 1 FROM instance_meta WHERE key = 'demo'"))
    finally:
        database.close()


def test_add_a_staff_account_from_stdin_and_log_in(db_path):
    out = json.loads(run(db_path, "users", "add", "admin", "--role", "staff", "--password-stdin", "--json",
                         input=PW + "\n").stdout)
    assert (out["username"], out["role"]) == ("admin", "staff")
    database = _open(db_path)
    try:
        assert accounts.authenticate(database, "admin", PW)["role"] == "staff"
        stored = database.execute("SELECT password_hash FROM users").fetchone()[0]
        assert stored.startswith("$argon2id$") and PW not in stored
        audit = list(database.query("SELECT actor, action FROM audit_log WHERE entity = 'user'"))
        assert [("cli:tanaka", "create")] == [(a["actor"], a["action"]) for a in audit]
    finally:
        database.close()


def test_add_asks_twice_without_echo(db_path):
    result = run(db_path, "users", "add", "admin", "--role", "staff", input=f"{PW}\n{PW}\n")
    assert PW not in result.output  # hidden input is not echoed
    assert "Added staff login admin" in result.stdout
    mismatch = run(db_path, "users", "add", "other", "--role", "staff", input=f"{PW}\n{OTHER_PW}\n{PW}\n{PW}\n")
    assert "Added staff login other" in mismatch.stdout  # asked again after the mismatch


@pytest.mark.parametrize("args, password, code", [
    (("admin", "--role", "staff"), "short", "password_too_short"),
    (("admin", "--role", "staff"), "passwordpassword", "password_too_common"),
    (("admin", "--role", "staff"), "admin-admin-2026-admin", "password_like_username"),
    (("vol", "--role", "volunteer"), PW, "invalid_value"),  # a volunteer login needs --volunteer-id
    (("vol", "--role", "volunteer", "--volunteer-id", 999), PW, "volunteer_not_found"),
])
def test_add_refusals_are_one_line_and_write_nothing(db_path, args, password, code):
    result = run(db_path, "users", "add", *args, "--password-stdin", input=password + "\n", expect=1)
    assert result.stderr.strip().endswith(f"[{code}]") and len(result.stderr.strip().splitlines()) == 1
    database = _open(db_path)
    try:
        assert [] == list(database.query("SELECT 1 FROM users"))
    finally:
        database.close()


def test_add_a_volunteer_login_linked_to_a_volunteer(db_path):
    database = _open(db_path)
    vid = people.add_volunteer(database, name="例 花子", email="hanako@example.org")
    database.close()
    run(db_path, "users", "add", "hanako", "--role", "volunteer", "--volunteer-id", vid, "--password-stdin",
        input=PW + "\n")
    listed = json.loads(run(db_path, "users", "list", "--json").stdout)
    assert [(u["username"], u["role"], u["volunteer_id"], u["active"]) for u in listed] == \
        [("hanako", "volunteer", vid, True)]
    again = run(db_path, "users", "add", "hanako2", "--role", "volunteer", "--volunteer-id", vid,
                "--password-stdin", input=PW + "\n", expect=1)
    assert "[volunteer_has_login]" in again.stderr


def test_passwd_changes_the_password_and_ends_sessions(db_path):
    run(db_path, "users", "add", "admin", "--role", "staff", "--password-stdin", input=PW + "\n")
    database = _open(db_path)
    token = accounts.start_login_session(database, accounts.get_user_by_name(database, "admin")["id"])
    database.close()
    run(db_path, "users", "passwd", "ADMIN", "--password-stdin", input=OTHER_PW + "\n")
    database = _open(db_path)
    try:
        assert accounts.authenticate(database, "admin", PW) is None
        assert accounts.authenticate(database, "admin", OTHER_PW) is not None
        assert accounts.user_for_login_session(database, token) is None
    finally:
        database.close()
    assert "[user_not_found]" in run(db_path, "users", "passwd", "nobody", "--password-stdin",
                                     input=PW + "\n", expect=1).stderr
    assert "[password_too_short]" in run(db_path, "users", "passwd", "admin", "--password-stdin",
                                         input="short\n", expect=1).stderr


def test_disable_enable_and_the_last_staff_account(db_path):
    run(db_path, "users", "add", "admin", "--role", "staff", "--password-stdin", input=PW + "\n")
    refused = run(db_path, "users", "disable", "admin", expect=1)
    assert refused.stderr.strip().endswith("[last_staff_account]")
    run(db_path, "users", "add", "second", "--role", "staff", "--password-stdin", input=PW + "\n")
    database = _open(db_path)
    token = accounts.start_login_session(database, accounts.get_user_by_name(database, "admin")["id"])
    database.close()
    assert "Disabled admin" in run(db_path, "users", "disable", "admin").stdout
    database = _open(db_path)
    try:
        assert accounts.user_for_login_session(database, token) is None  # ended at once
        assert accounts.authenticate(database, "admin", PW) is None
    finally:
        database.close()
    text = run(db_path, "users", "list").stdout
    assert "admin" in text and "disabled" in text
    run(db_path, "users", "enable", "admin")
    listed = {u["username"]: u["active"] for u in json.loads(run(db_path, "users", "list", "--json").stdout)}
    assert listed == {"admin": True, "second": True}
    database = _open(db_path)
    try:
        actions = [(r["actor"], r["action"]) for r in database.query(
            "SELECT actor, action FROM audit_log WHERE entity = 'user' AND action IN ('activate', 'deactivate')")]
        assert actions == [("cli:tanaka", "deactivate"), ("cli:tanaka", "activate")]
    finally:
        database.close()


def test_list_of_an_empty_database(db_path):
    assert "No logins." in run(db_path, "users", "list").stdout
    assert [] == json.loads(run(db_path, "users", "list", "--json").stdout)
