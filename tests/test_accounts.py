"""Login accounts: argon2id hashing and re-hashing, authentication, the
last-staff rule, server-side sessions and their time limits."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from argon2 import PasswordHasher, extract_parameters

from date_community import accounts, demo, timeutil
from date_community.errors import NotFound, RuleViolation, ValidationError

PW = "sunny orchard kettle"
OTHER_PW = "quiet river lantern"


def _hash(db, uid):
    return db.execute("SELECT password_hash FROM users WHERE id = ?", [uid]).fetchone()[0]


def test_production_parameters_are_at_least_owasps():
    # OWASP's argon2id minimum: m=19456 KiB, t=2, p=1.  RFC 9106's low-memory profile is above it.
    p = accounts.PRODUCTION_ARGON2
    assert p.type.name == "ID"
    assert (p.memory_cost, p.time_cost, p.parallelism) == (65536, 3, 4)
    assert p.memory_cost >= 19456 and p.time_cost >= 2 and p.parallelism >= 1
    assert accounts.ARGON2_PARAMETERS is not p  # the test fixture lowered the cost


def test_production_hash_carries_the_production_parameters(monkeypatch):
    monkeypatch.setattr(accounts, "ARGON2_PARAMETERS", accounts.PRODUCTION_ARGON2)
    stored = accounts.hash_password(PW)
    assert stored.startswith("$argon2id$")
    got = extract_parameters(stored)
    assert (got.memory_cost, got.time_cost, got.parallelism) == (65536, 3, 4)
    assert accounts.check_password(stored, PW)
    assert not accounts.needs_rehash(stored)


@pytest.mark.parametrize("stored, password, expected", [
    (None, "secret-password", True),            # the right password
    (None, "secret-passwore", False),           # one character off
    ("plain$text", "secret-password", False),   # a malformed stored value never matches
    ("bcrypt$1$2$3$4$5", "secret-password", False),  # unknown scheme
    ("$argon2id$v=19$m=1,t=1,p=1$bad", "secret-password", False),  # a broken argon2 hash
])
def test_check_password(stored, password, expected):
    stored = stored or accounts.hash_password("secret-password")
    assert expected == accounts.check_password(stored, password)


def test_passwords_are_hashed_in_nfkc_form():
    # A full-width password typed on a Japanese keyboard is the same password.
    stored = accounts.hash_password("ｓｕｎｎｙ ｏｒｃｈａｒｄ ｋｅｔｔｌｅ")
    assert accounts.check_password(stored, PW)


def test_hashes_are_salted():
    assert accounts.hash_password("same-password") != accounts.hash_password("same-password")


def test_login_replaces_a_scrypt_hash_with_argon2id(db):
    uid = accounts.create_user(db, username="old", password=PW, role="staff")
    db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [accounts.scrypt_hash(PW), uid])
    assert accounts.needs_rehash(_hash(db, uid))
    assert accounts.authenticate(db, "old", PW)["id"] == uid
    stored = _hash(db, uid)
    assert stored.startswith("$argon2id$") and not accounts.needs_rehash(stored)
    assert accounts.authenticate(db, "old", PW)["id"] == uid  # the new hash works


def test_login_replaces_a_weaker_argon2_hash(db):
    uid = accounts.create_user(db, username="weak", password=PW, role="staff")
    weaker = dataclasses.replace(accounts.ARGON2_PARAMETERS, memory_cost=32)
    db.execute("UPDATE users SET password_hash = ? WHERE id = ?",
               [PasswordHasher.from_parameters(weaker).hash(PW), uid])
    accounts.authenticate(db, "weak", PW)
    assert extract_parameters(_hash(db, uid)).memory_cost == accounts.ARGON2_PARAMETERS.memory_cost


def test_a_wrong_password_does_not_rehash(db):
    uid = accounts.create_user(db, username="old", password=PW, role="staff")
    legacy = accounts.scrypt_hash(PW)
    db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [legacy, uid])
    assert accounts.authenticate(db, "old", OTHER_PW) is None
    assert _hash(db, uid) == legacy


def test_authenticate_and_inactive_users(db):
    uid = accounts.create_user(db, username="Staff1", password=PW, role="staff")
    accounts.create_user(db, username="Staff2", password=PW, role="staff")
    assert uid == accounts.authenticate(db, "staff1", PW)["id"]  # names are case-insensitive
    assert accounts.authenticate(db, "staff1", OTHER_PW) is None
    assert accounts.authenticate(db, "nobody", PW) is None
    accounts.set_user_active(db, uid, False, actor="t")
    assert accounts.authenticate(db, "staff1", PW) is None


@pytest.mark.parametrize("fields, code", [
    ({"username": "", "password": PW, "role": "staff"}, "invalid_name"),
    ({"username": "a", "password": "short", "role": "staff"}, "password_too_short"),
    ({"username": "a", "password": PW, "role": "admin"}, "invalid_role"),
    ({"username": "a", "password": PW, "role": "volunteer"}, "invalid_value"),  # needs a volunteer
    ({"username": "a", "password": PW, "role": "staff", "volunteer_id": 1}, "invalid_value"),  # staff: none
    ({"username": "tanaka", "password": "tanaka-2026-tanaka", "role": "staff"}, "password_like_username"),
    ({"username": "a", "password": "passwordpassword", "role": "staff"}, "password_too_common"),
])
def test_create_user_validation(db, fields, code):
    with pytest.raises(ValidationError) as info:
        accounts.create_user(db, **fields)
    assert code == info.value.code
    assert [] == list(db.query("SELECT 1 FROM users"))


def test_a_volunteer_login_needs_a_volunteer_without_one(db, make_volunteer):
    with pytest.raises(NotFound):
        accounts.create_user(db, username="v", password=PW, role="volunteer", volunteer_id=9999)
    vid = make_volunteer()
    accounts.create_user(db, username="v", password=PW, role="volunteer", volunteer_id=vid)
    with pytest.raises(RuleViolation) as info:
        accounts.create_user(db, username="v2", password=PW, role="volunteer", volunteer_id=vid)
    assert info.value.code == "volunteer_has_login"


def test_duplicate_username(db):
    accounts.create_user(db, username="staff", password=PW, role="staff")
    with pytest.raises(RuleViolation):
        accounts.create_user(db, username="STAFF", password=PW, role="staff")


def test_the_last_active_staff_account_cannot_be_disabled(db, make_volunteer):
    first = accounts.create_user(db, username="first", password=PW, role="staff")
    vol = accounts.create_user(db, username="vol", password=PW, role="volunteer", volunteer_id=make_volunteer())
    with pytest.raises(RuleViolation) as info:
        accounts.set_user_active(db, first, False, actor="t")
    assert info.value.code == "last_staff_account"
    assert accounts.get_user(db, first)["active"] == 1
    second = accounts.create_user(db, username="second", password=PW, role="staff")
    accounts.set_user_active(db, first, False, actor="t")  # now allowed: "second" remains
    with pytest.raises(RuleViolation):
        accounts.set_user_active(db, second, False, actor="t")
    accounts.set_user_active(db, vol, False, actor="t")  # volunteers are not counted
    accounts.set_user_active(db, first, True, actor="t")
    accounts.set_user_active(db, second, False, actor="t")
    states = {u["username"]: (u["active"], u["disabled_at"] is not None) for u in accounts.list_users(db)}
    assert states == {"first": (True, False), "second": (False, True), "vol": (False, True)}


def test_disabling_ends_the_users_sessions_at_once(db):
    uid = accounts.create_user(db, username="s", password=PW, role="staff")
    accounts.create_user(db, username="t", password=PW, role="staff")
    token = accounts.start_login_session(db, uid)
    accounts.set_user_active(db, uid, False, actor="t")
    assert accounts.user_for_login_session(db, token) is None
    assert [] == list(db.query("SELECT 1 FROM login_sessions WHERE user_id = ?", [uid]))


def test_login_sessions_end_on_logout_and_password_reset(db):
    uid = accounts.create_user(db, username="s", password=PW, role="staff")
    first = accounts.start_login_session(db, uid)
    second = accounts.start_login_session(db, uid)
    assert uid == accounts.user_for_login_session(db, first)["id"]
    accounts.end_login_session(db, first)
    assert accounts.user_for_login_session(db, first) is None
    assert accounts.user_for_login_session(db, second) is not None
    accounts.set_password(db, uid, OTHER_PW, actor="t")
    assert accounts.user_for_login_session(db, second) is None
    # only a hash of the token is stored
    assert [] == list(db.query("SELECT 1 FROM login_sessions WHERE token_hash = ?", [second]))


def test_changing_ones_own_password(db):
    uid = accounts.create_user(db, username="s", password=PW, role="staff")
    here, elsewhere = accounts.start_login_session(db, uid), accounts.start_login_session(db, uid)
    with pytest.raises(ValidationError) as info:
        accounts.change_own_password(db, uid, "not the password", OTHER_PW, keep_token=here)
    assert (info.value.code, info.value.params["field"]) == ("wrong_password", "current_password")
    with pytest.raises(ValidationError) as info:
        accounts.change_own_password(db, uid, PW, PW, keep_token=here)
    assert info.value.code == "password_unchanged"
    with pytest.raises(ValidationError) as info:
        accounts.change_own_password(db, uid, PW, "short", keep_token=here)
    assert info.value.code == "password_too_short"
    assert accounts.authenticate(db, "s", PW)  # nothing changed so far
    accounts.change_own_password(db, uid, PW, OTHER_PW, keep_token=here)
    assert accounts.authenticate(db, "s", PW) is None and accounts.authenticate(db, "s", OTHER_PW)
    assert accounts.user_for_login_session(db, here) is not None  # this browser stays signed in
    assert accounts.user_for_login_session(db, elsewhere) is None  # others are signed out
    rows = [(r["actor"], r["action"]) for r in db.query("SELECT actor, action FROM audit_log WHERE entity = 'user'")]
    assert (f"user:{uid}", "set_password") in rows


# --- demo logins ------------------------------------------------------------------

def test_demo_logins_work_only_in_a_demo_database(db, tmp_path):
    from date_community import db as dbmod

    demo.load_demo(db)
    staff_name, staff_pw = demo.STAFF_LOGIN
    assert accounts.authenticate(db, staff_name, staff_pw)["role"] == "staff"
    # The same users copied into a database that is not marked as demo data.
    other = dbmod.connect(tmp_path / "prod.db")
    try:
        for row in db.query("SELECT username, password_hash, role, created_at FROM users WHERE role = 'staff'"):
            other["users"].insert(row)
        assert not demo.is_demo_database(other)
        assert accounts.authenticate(other, staff_name, staff_pw) is None
        # The published demo password cannot be given to a real account either.
        with pytest.raises(ValidationError) as info:
            accounts.create_user(other, username="admin", password=staff_pw, role="staff")
        assert info.value.code == "password_too_common"
    finally:
        other.close()


def test_demo_logins_present_names_accounts_with_a_published_password(db):
    assert [] == accounts.demo_logins_present(db)
    demo.load_demo(db)
    assert ["staff", "volunteer"] == accounts.demo_logins_present(db)
    uid = accounts.get_user_by_name(db, "staff")["id"]
    accounts.set_password(db, uid, OTHER_PW, actor="t")
    assert ["volunteer"] == accounts.demo_logins_present(db)


def test_init_db_alone_creates_no_user(db):
    assert [] == list(db.query("SELECT 1 FROM users"))
    assert not demo.is_demo_database(db)


# --- session time limits --------------------------------------------------------------

T0 = dt.datetime(2031, 4, 7, 9, 0, tzinfo=timeutil.TZ)
IDLE, MAX = dt.timedelta(hours=12), dt.timedelta(days=30)


def _last_seen(db):
    return db.execute("SELECT last_seen_at FROM login_sessions").fetchone()[0]


def _user(db, token, at):
    return accounts.user_for_login_session(db, token, idle=IDLE, max_age=MAX, now=at)


def test_a_session_ends_after_the_idle_limit(db):
    uid = accounts.create_user(db, username="s", password=PW, role="staff")
    token = accounts.start_login_session(db, uid, now=T0)
    assert _user(db, token, T0 + IDLE - dt.timedelta(seconds=1)) is not None
    token = accounts.start_login_session(db, uid, now=T0)
    assert _user(db, token, T0 + IDLE) is None
    assert [] == list(db.query("SELECT 1 FROM login_sessions WHERE last_seen_at = ?", [timeutil.iso(T0)]))


def test_activity_keeps_a_session_alive_until_the_maximum_age(db):
    uid = accounts.create_user(db, username="s", password=PW, role="staff")
    token = accounts.start_login_session(db, uid, now=T0)
    at = T0
    while at + dt.timedelta(hours=11) < T0 + MAX:
        at += dt.timedelta(hours=11)  # used twice a day: never idle for 12 hours
        assert _user(db, token, at) is not None
    assert _user(db, token, T0 + MAX) is None  # 30 days after login, whatever the activity
    assert [] == list(db.query("SELECT 1 FROM login_sessions"))


def test_last_seen_is_written_at_most_once_a_minute(db):
    uid = accounts.create_user(db, username="s", password=PW, role="staff")
    token = accounts.start_login_session(db, uid, now=T0)
    _user(db, token, T0 + dt.timedelta(seconds=59))
    assert _last_seen(db) == timeutil.iso(T0)
    _user(db, token, T0 + dt.timedelta(seconds=60))
    assert _last_seen(db) == timeutil.iso(T0 + dt.timedelta(seconds=60))
    _user(db, token, T0 + dt.timedelta(seconds=100))
    assert _last_seen(db) == timeutil.iso(T0 + dt.timedelta(seconds=60))


def test_expired_rows_are_deleted_at_the_next_login(db):
    uid = accounts.create_user(db, username="s", password=PW, role="staff")
    accounts.start_login_session(db, uid, now=T0)  # never used again
    accounts.start_login_session(db, uid, now=T0 - MAX)  # very old
    accounts.start_login_session(db, uid, now=T0 + IDLE + dt.timedelta(minutes=1))
    assert 1 == db.execute("SELECT count(*) FROM login_sessions").fetchone()[0]
    assert 0 == accounts.purge_expired_sessions(db, now=T0 + IDLE + dt.timedelta(minutes=2))
