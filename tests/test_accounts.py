"""Login accounts: password hashing, authentication and server-side sessions."""
from __future__ import annotations

import pytest

from date_community import accounts
from date_community.errors import RuleViolation, ValidationError


def test_production_hash_uses_the_memory_hard_cost(monkeypatch):
    monkeypatch.setattr(accounts, "SCRYPT_N", accounts.PRODUCTION_SCRYPT_N)
    stored = accounts.hash_password("correct horse battery")
    scheme, n, r, p, _salt, _digest = stored.split("$")
    assert ("scrypt", 2**15, 8, 1) == (scheme, int(n), int(r), int(p))
    assert accounts.check_password(stored, "correct horse battery")


@pytest.mark.parametrize("stored, password, expected", [
    (None, "secret-password", True),            # the right password
    (None, "secret-passwore", False),           # one character off
    ("plain$text", "secret-password", False),   # a malformed stored value never matches
    ("bcrypt$1$2$3$4$5", "secret-password", False),  # unknown scheme
])
def test_check_password(stored, password, expected):
    stored = stored or accounts.hash_password("secret-password")
    assert expected == accounts.check_password(stored, password)


def test_hashes_are_salted():
    assert accounts.hash_password("same-password") != accounts.hash_password("same-password")


def test_authenticate_and_inactive_users(db):
    uid = accounts.create_user(db, username="Staff1", password="long-enough-pw", role="staff")
    assert uid == accounts.authenticate(db, "staff1", "long-enough-pw")["id"]  # names are case-insensitive
    assert accounts.authenticate(db, "staff1", "wrong-password") is None
    assert accounts.authenticate(db, "nobody", "long-enough-pw") is None
    accounts.set_user_active(db, uid, False, actor="t")
    assert accounts.authenticate(db, "staff1", "long-enough-pw") is None


@pytest.mark.parametrize("fields, code", [
    ({"username": "", "password": "long-enough-pw", "role": "staff"}, "invalid_name"),
    ({"username": "a", "password": "short", "role": "staff"}, "invalid_value"),
    ({"username": "a", "password": "long-enough-pw", "role": "admin"}, "invalid_role"),
    ({"username": "a", "password": "long-enough-pw", "role": "volunteer"}, "invalid_value"),  # needs a volunteer
])
def test_create_user_validation(db, fields, code):
    with pytest.raises(ValidationError) as info:
        accounts.create_user(db, **fields)
    assert code == info.value.code


def test_duplicate_username(db):
    accounts.create_user(db, username="staff", password="long-enough-pw", role="staff")
    with pytest.raises(RuleViolation):
        accounts.create_user(db, username="STAFF", password="long-enough-pw", role="staff")


def test_login_sessions_end_on_logout_and_password_reset(db):
    uid = accounts.create_user(db, username="s", password="long-enough-pw", role="staff")
    first = accounts.start_login_session(db, uid)
    second = accounts.start_login_session(db, uid)
    assert uid == accounts.user_for_login_session(db, first)["id"]
    accounts.end_login_session(db, first)
    assert accounts.user_for_login_session(db, first) is None
    assert accounts.user_for_login_session(db, second) is not None
    accounts.set_password(db, uid, "another-long-pw", actor="t")
    assert accounts.user_for_login_session(db, second) is None
    # only a hash of the token is stored
    assert [] == list(db.query("SELECT 1 FROM login_sessions WHERE token_hash = ?", [second]))
