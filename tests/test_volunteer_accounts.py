"""A volunteer and their login, made, listed and switched off together."""
from __future__ import annotations

import pytest

from date_community import accounts, people
from date_community.errors import DateCommunityError


def _count(db, table):
    return next(iter(db.query(f"SELECT count(*) AS n FROM {table}")))["n"]


def _create(db, **fields):
    fields.setdefault("username", "sato")
    fields.setdefault("password", "sunny-orchard-kettle")
    fields.setdefault("name", "佐藤 花子")
    fields.setdefault("email", "sato@example.org")
    return accounts.create_volunteer_account(db, actor="user:1", **fields)


def test_create_volunteer_account_makes_both(catalog_db):
    made = _create(catalog_db, skills=["basics"], devices=["iphone"], name_kana="さとう はなこ")
    volunteer = people.get_volunteer(catalog_db, made["volunteer_id"])
    assert ("佐藤 花子", ["basics"], ["iphone"], True) == \
        (volunteer["name"], volunteer["skills"], volunteer["devices"], volunteer["active"])
    user = accounts.authenticate(catalog_db, "sato", "sunny-orchard-kettle")
    assert (made["user_id"], "volunteer", made["volunteer_id"]) == (user["id"], user["role"], user["volunteer_id"])
    actions = [(r["action"], r["entity"], r["actor"]) for r in catalog_db.query(
        "SELECT * FROM audit_log WHERE entity IN ('volunteer', 'user') ORDER BY id")]
    assert [("create", "volunteer", "user:1"), ("create", "user", "user:1")] == actions


@pytest.mark.parametrize("fields, code, field", [
    ({"username": "  "}, "invalid_value", "username"),  # no user name
    ({"password": "short"}, "password_too_short", "password"),  # shorter than the minimum
    ({"email": "not-an-email"}, "invalid_email", None),  # the volunteer part fails
    ({"name": ""}, "invalid_name", None),  # no name
])
def test_create_volunteer_account_rejects_and_makes_nothing(catalog_db, fields, code, field):
    before = (_count(catalog_db, "volunteers"), _count(catalog_db, "users"))
    with pytest.raises(DateCommunityError) as info:
        _create(catalog_db, **fields)
    assert (code, field) == (info.value.code, info.value.params.get("field"))
    assert before == (_count(catalog_db, "volunteers"), _count(catalog_db, "users"))


@pytest.mark.parametrize("second, code", [
    ({"username": "other", "email": "SATO@example.org"}, "duplicate_email"),  # same email, any case
    ({"username": "SATO", "email": "other@example.org"}, "duplicate_code"),  # same user name, any case
])
def test_duplicates_roll_back_the_whole_account(catalog_db, second, code):
    _create(catalog_db)
    before = (_count(catalog_db, "volunteers"), _count(catalog_db, "users"))
    with pytest.raises(DateCommunityError) as info:
        _create(catalog_db, **second)
    assert code == info.value.code
    # the volunteer row made before the login failed is gone too
    assert before == (_count(catalog_db, "volunteers"), _count(catalog_db, "users"))


def test_list_and_get_volunteer_accounts(catalog_db, make_volunteer):
    made = _create(catalog_db)
    without_login = make_volunteer(name="鈴木 一郎")
    listed = {v["id"]: v for v in accounts.list_volunteer_accounts(catalog_db)}
    assert ("sato", made["user_id"], True) == tuple(listed[made["volunteer_id"]][k]
                                                    for k in ("username", "user_id", "user_active"))
    assert (None, None, None) == tuple(listed[without_login][k] for k in ("username", "user_id", "user_active"))
    assert ("佐藤 花子", "sato") == tuple(accounts.get_volunteer_account(catalog_db, made["volunteer_id"])[k]
                                        for k in ("name", "username"))
    with pytest.raises(DateCommunityError) as info:
        accounts.get_volunteer_account(catalog_db, 9999)
    assert "volunteer_not_found" == info.value.code


def test_deactivating_stops_login_and_ends_sessions(catalog_db):
    made = _create(catalog_db)
    token = accounts.start_login_session(catalog_db, made["user_id"])
    accounts.set_volunteer_account_active(catalog_db, made["volunteer_id"], False, actor="user:1")
    assert accounts.authenticate(catalog_db, "sato", "sunny-orchard-kettle") is None
    assert accounts.user_for_login_session(catalog_db, token) is None
    account = accounts.get_volunteer_account(catalog_db, made["volunteer_id"])
    assert (False, False) == (account["active"], account["user_active"])

    accounts.set_volunteer_account_active(catalog_db, made["volunteer_id"], True, actor="user:1")
    assert made["user_id"] == accounts.authenticate(catalog_db, "sato", "sunny-orchard-kettle")["id"]
    assert people.get_volunteer(catalog_db, made["volunteer_id"])["active"] is True


def test_set_volunteer_account_active_without_a_login(catalog_db, make_volunteer):
    vid = make_volunteer()
    accounts.set_volunteer_account_active(catalog_db, vid, False, actor="user:1")
    assert people.get_volunteer(catalog_db, vid)["active"] is False


def test_generated_passwords_are_long_random_and_readable():
    made = {accounts.generate_password() for _ in range(50)}
    assert 50 == len(made)
    for password in made:
        assert len(password) >= accounts.MIN_PASSWORD_LENGTH
        assert not set(password) & set("01ilo")  # nothing to confuse when read aloud
