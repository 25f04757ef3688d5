"""``date-community doctor`` against real deployments in tmp_path: a clean one,
and one broken in each way it must catch (real SMTP server on loopback, real
closed port, a real read-only database file)."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from date_community import accounts, backups, db as dbmod, demo, doctor, timeutil
from date_community.cli import cli

GOOD_KEY = "k" * 64


class _Quiet:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_port():
    port = _free_port()
    controller = Controller(_Quiet(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def production(tmp_path, smtp_port):
    """A database and settings a city could go live with: a real staff account, a fresh backup."""
    path = tmp_path / "instance" / "date-community.db"
    database = dbmod.connect(path)
    accounts.create_user(database, username="sato", password="a long passphrase of words", role="staff")
    backups.make_backup(database, folder=tmp_path / "backups")
    database.close()
    env = {"DATE_COMMUNITY_CONFIG": str(tmp_path / "config.toml"), "SECRET_KEY": GOOD_KEY,
           "DATE_COMMUNITY_DB": str(path), "DATE_COMMUNITY_BASE_URL": "https://smartphone.city.example.jp",
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_port)}
    return {"path": path, "env": env}


def run_doctor(env: dict, *args, expect: int):
    # Every setting the app reads is given explicitly, so the machine's own environment cannot leak in.
    full = {s: "" for s in ("SECRET_KEY", "DATE_COMMUNITY_DB", "DATE_COMMUNITY_BASE_URL", "MAIL_SERVER",
                            "MAIL_PORT", "MAIL_USE_SSL", "MAIL_USE_TLS")}
    result = CliRunner().invoke(cli, [*map(str, args), "doctor"], env={**full, **env})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
    return result


def codes(env: dict, *args, expect: int) -> dict[str, bool]:
    data = json.loads(run_doctor(env, *args, "--json", expect=expect).stdout)
    return {f["code"]: f["blocking"] for f in data["findings"]}


# --- a clean setup ------------------------------------------------------------------------------------


def test_a_clean_production_setup_has_no_problems(production):
    result = run_doctor(production["env"], expect=0)
    assert result.stdout == "no problems\n" and result.stderr == ""
    data = json.loads(run_doctor(production["env"], "--json", expect=0).stdout)
    assert data["ok"] is True and data["findings"] == [] and data["blocking"] == 0
    assert dbmod.sqlite_version_is_safe(data["sqlite"]["version"])


def test_settings_come_from_config_toml_too(production, tmp_path):
    env = dict(production["env"])
    del env["SECRET_KEY"]
    assert codes(env, expect=1) == {"secret_key_missing": True}
    (tmp_path / "config.toml").write_text(f'SECRET_KEY = "{GOOD_KEY}"\n', encoding="utf-8")
    run_doctor(env, expect=0)


def test_db_option_wins_over_the_setting(production, tmp_path):
    assert codes(production["env"], "--db", tmp_path / "elsewhere.db", expect=1) == {"database_missing": True}
    assert not (tmp_path / "elsewhere.db").exists()  # doctor never creates a database


def test_doctor_changes_nothing(production):
    run_doctor(production["env"], expect=0)
    database = dbmod.connect(production["path"])
    try:
        assert [] == list(database.query("SELECT * FROM instance_meta WHERE key = 'doctor_probe'"))
        assert dbmod.integrity_ok(database)
    finally:
        database.close()


# --- each problem, with its code and whether it blocks -----------------------------------------------


@pytest.mark.parametrize("change, code, blocking", [
    ({"SECRET_KEY": ""}, "secret_key_missing", True),
    ({"SECRET_KEY": "short-key-of-31-characters-xxxx"}, "secret_key_short", True),
    ({"DATE_COMMUNITY_BASE_URL": ""}, "base_url_unset", True),
    ({"DATE_COMMUNITY_BASE_URL": "http://smartphone.city.example.jp"}, "base_url_not_https", True),
    ({"DATE_COMMUNITY_BASE_URL": "https://"}, "base_url_not_https", True),
    ({"MAIL_SERVER": ""}, "mail_not_configured", False),
    ({"MAIL_PORT": "not-a-port"}, "invalid_setting", True),
])
def test_each_setting_problem(production, change, code, blocking):
    found = codes({**production["env"], **change}, expect=1 if blocking else 0)
    assert found == {code: blocking}


def test_a_32_character_key_is_enough(production):
    run_doctor({**production["env"], "SECRET_KEY": "x" * 32}, expect=0)


def test_unreachable_smtp_is_reported_with_its_fix(production):
    closed = _free_port()
    result = run_doctor({**production["env"], "MAIL_PORT": str(closed)}, expect=0)
    assert result.stdout.startswith("warning: The mail server 127.0.0.1:%d cannot be reached" % closed)
    assert "Fix: check MAIL_SERVER and MAIL_PORT" in result.stdout
    assert result.stdout.rstrip().endswith("[smtp_unreachable]") and len(result.stdout.splitlines()) == 1


def test_demo_data_blocks(production):
    database = dbmod.connect(production["path"])
    demo.mark_demo(database)
    database.close()
    assert codes(production["env"], expect=1) == {"demo_data": True}


def test_demo_logins_block_even_without_the_demo_flag(production):
    database = dbmod.connect(production["path"])
    staff_name, staff_password = demo.STAFF_LOGIN
    # As a database made before demo passwords were refused would hold it: create_user refuses it now.
    uid = accounts._insert_user(database, staff_name, accounts.hash_password(staff_password), "staff", None, "test")
    database.close()
    result = run_doctor(production["env"], expect=1)
    assert f"'{staff_name}'" in result.stdout and f"users passwd {staff_name}" in result.stdout
    assert codes(production["env"], expect=1) == {"demo_login": True}
    # the same name with a password of its own is fine
    database = dbmod.connect(production["path"])
    accounts.set_password(database, uid, "a different long passphrase", actor="test")
    database.close()
    run_doctor(production["env"], expect=0)


def test_no_backup_and_an_old_backup_warn(production, tmp_path):
    database = dbmod.connect(production["path"])
    try:
        database.execute("DELETE FROM instance_meta WHERE key = 'last_backup_at'")
        assert codes(production["env"], expect=0) == {"no_backup": False}
        backups.record_backup(database, timeutil.now() - dt.timedelta(hours=25))
        result = run_doctor(production["env"], expect=0)
        assert "25 hours ago" in result.stdout and "backup --keep 14" in result.stdout
        assert codes(production["env"], expect=0) == {"backup_old": False}
        backups.record_backup(database, timeutil.now() - dt.timedelta(hours=23))
        run_doctor(production["env"], expect=0)
    finally:
        database.close()


def test_a_database_without_the_schema_blocks(production, tmp_path):
    other = tmp_path / "foreign.db"
    other.write_bytes(b"")
    assert codes(production["env"], "--db", other, expect=1) == {"database_not_migrated": True}
    other.write_bytes(b"not a database" * 500)
    assert codes(production["env"], "--db", other, expect=1) == {"database_unreadable": True}


def test_a_read_only_database_blocks(production):
    # The tests run as root, which ignores file modes; the immutable attribute stops root too.
    path = production["path"]
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
        pytest.skip("this file system cannot make a file immutable")
    try:
        result = run_doctor(production["env"], expect=1)
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert codes(production["env"], expect=0) == {}
    assert "[database_not_writable]" in result.stdout and "write access" in result.stdout


# --- checks that need a value this machine does not have ---------------------------------------------


def test_old_sqlite_is_one_warning_line_with_what_to_do():
    assert doctor.check_sqlite() == []  # the driver `make install` builds has the fix
    assert doctor.check_sqlite("3.51.3") == []
    [finding] = doctor.check_sqlite("3.40.1")
    assert (finding.code, finding.blocking) == ("sqlite_wal_reset_bug", False)
    assert "3.40.1" in finding.message and "make install" in finding.fix


def test_low_disk_warns_below_ten_percent(tmp_path):
    path = tmp_path / "date-community.db"
    assert doctor.check_disk(path, usage=lambda folder: (1000, 901, 99))[0].code == "disk_low"
    assert doctor.check_disk(path, usage=lambda folder: (1000, 900, 100)) == []
    assert doctor.check_disk(path) == [] or shutil.disk_usage(tmp_path).free / shutil.disk_usage(tmp_path).total < 0.1


def test_doctor_is_documented():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    section = docs[docs.index("### `doctor`"):]
    for code in ("secret_key_missing", "base_url_not_https", "demo_login", "smtp_unreachable",
                 "sqlite_wal_reset_bug", "database_not_writable", "disk_low", "no_backup"):
        assert code in section, code
