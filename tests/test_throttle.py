"""Throttles (webapp/throttle.py): log-in and cancel failures, anonymous sign-ups, the bounded store."""
from __future__ import annotations

import html
import re

import pytest

from conftest import BASE, STAFF_PASSWORD, login
from date_community import timeutil
from webapp import create_app, throttle

A, B = "192.0.2.10", "192.0.2.20"
FORM = {"name_kanji": "伊達 花子", "name_kana": "だて はなこ", "birth_year": "1948",
        "device": "rakuraku", "filled_by": "self", "consent": "yes"}


def post(client, path, data, address=A):
    return client.post(path, data=data, environ_base={"REMOTE_ADDR": address})


def fail_login(client, username, address=A):
    return post(client, "/login?lang=en", {"username": username, "password": "not-the-password"}, address)


def good_login(client, address=A):
    return post(client, "/login", {"username": "staff1", "password": STAFF_PASSWORD}, address)


@pytest.fixture
def soon_session(make_session):
    """A class three days from the real today, open for sign-ups."""
    days = (timeutil.now().date() - BASE.date()).days + 3
    return lambda seats=40: make_session(day=days, seats=seats)


# --- logging in -------------------------------------------------------------------------------------

def test_an_attackers_failures_do_not_lock_out_the_user_elsewhere(app):
    attacker, user = app.test_client(), app.test_client()
    for _ in range(5):
        assert 200 == fail_login(attacker, "staff1").status_code
    assert 429 == fail_login(attacker, "staff1").status_code
    assert 429 == good_login(attacker).status_code  # the right password waits too, from that address
    assert 302 == good_login(user, address=B).status_code


def test_the_lockout_says_how_long_in_the_users_language(app):
    c = app.test_client()
    for _ in range(5):
        fail_login(c, "staff1")
    response = post(c, "/login?lang=ja", {"username": "staff1", "password": "x"})
    assert 429 == response.status_code
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 60
    with app.test_request_context("/?lang=ja"):
        from flask_babel import gettext
        expected = gettext("Too many failed attempts. Please wait %(seconds)d seconds and try again.",
                           seconds=wait)
    assert expected != "Too many failed attempts. Please wait %d seconds and try again." % wait
    assert html.escape(expected, quote=False) in response.get_data(as_text=True)


def test_spraying_junk_user_names_neither_resets_nor_dodges_the_lockout(app, monkeypatch):
    c = app.test_client()
    per_address = int(throttle.LOGIN_PER_ADDRESS.split()[0])
    # four tries per junk name stays under the per-name limit every time...
    for n in range(per_address):
        assert 200 == fail_login(c, f"junk{n // 4}").status_code
    # ... but the address has used its allowance: every name waits, a fresh one too
    assert 429 == fail_login(c, "never-tried-before").status_code
    assert 429 == good_login(c).status_code
    assert 302 == good_login(app.test_client(), address=B).status_code


def test_a_success_clears_only_that_name(app):
    c = app.test_client()
    for _ in range(4):
        fail_login(c, "staff1")
    assert 302 == good_login(c).status_code
    c = app.test_client()
    for _ in range(5):  # the name's count started again after the success
        assert 200 == fail_login(c, "staff1").status_code
    assert 429 == fail_login(c, "staff1").status_code


def test_each_app_has_its_own_counters(app, db_path):
    c = app.test_client()
    for _ in range(6):
        fail_login(c, "staff1")
    other = create_app({"TESTING": True, "DATABASE": str(db_path), "SECRET_KEY": "x",
                        "WTF_CSRF_ENABLED": False})
    assert 302 == good_login(other.test_client()).status_code


# --- cancelling by reference ------------------------------------------------------------------------

def test_cancel_guesses_are_capped_per_address_across_references(app):
    c = app.test_client()
    per_address = int(throttle.CANCEL_PER_ADDRESS.split()[0])
    for n in range(per_address):
        response = post(c, "/cancel?lang=en", {"reference": f"AA{n % 10}-{n // 10}AA", "phone": "0900000000"})
        assert 200 == response.status_code
    response = post(c, "/cancel?lang=en", {"reference": "ZZZ-ZZZ", "phone": "0900000000"})
    assert 429 == response.status_code
    assert int(response.headers["Retry-After"]) > 0
    # another address is not affected
    assert 200 == post(app.test_client(), "/cancel?lang=en", {"reference": "ZZZ-ZZZ", "phone": "09000"},
                       address=B).status_code


# --- anonymous sign-ups -----------------------------------------------------------------------------

def sign_up(client, sid, n, address=A, lang="en"):
    data = {**FORM, "phone": f"090{n:08d}"}
    return post(client, f"/classes/{sid}/signup?lang={lang}", data, address)


def test_sign_ups_are_limited_per_browser_session(app, soon_session):
    sid = soon_session()
    per_session = int(throttle.SIGNUPS_PER_SESSION.split()[0])
    c = app.test_client()
    for n in range(per_session):
        assert 302 == sign_up(c, sid, n).status_code
    response = sign_up(c, sid, 99, lang="ja")
    assert 429 == response.status_code
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    page = response.get_data(as_text=True)
    assert '<html lang="ja"' in page
    with app.test_request_context("/?lang=ja"):
        from flask_babel import gettext
        assert html.escape(gettext("Too many attempts"), quote=False) in page
    # a new browser at the same address may still sign up
    assert 302 == sign_up(app.test_client(), sid, 100).status_code


def test_sign_ups_are_limited_per_address_per_hour(app, soon_session):
    sid = soon_session(seats=60)
    per_address = int(throttle.SIGNUPS_PER_ADDRESS.split()[0])
    n = 0
    while n < per_address:  # fresh browsers, so only the address limit applies
        assert 302 == sign_up(app.test_client(), sid, n).status_code, n
        n += 1
    assert 429 == sign_up(app.test_client(), sid, n).status_code
    assert 302 == sign_up(app.test_client(), sid, n, address=B).status_code


def test_a_form_with_mistakes_does_not_count_as_a_sign_up(app, soon_session):
    sid = soon_session()
    c = app.test_client()
    for _ in range(10):  # an elderly user retyping the phone number many times
        response = post(c, f"/classes/{sid}/signup?lang=en", {**FORM, "phone": "12"})
        assert 200 == response.status_code
    assert 302 == sign_up(c, sid, 1).status_code


# --- memory -----------------------------------------------------------------------------------------

def test_the_store_keeps_a_bounded_number_of_keys():
    from limits import parse
    from limits.strategies import MovingWindowRateLimiter

    store = throttle.BoundedMemoryStorage("bounded-memory://", max_keys=100)
    limiter = MovingWindowRateLimiter(store)
    item = parse("5 per hour")
    for n in range(1000):
        limiter.hit(item, "login", f"junk-{n}")
    assert len(store.events) <= 100
    # the newest keys are kept: a lockout just earned is not forgotten first
    for _ in range(5):
        limiter.hit(item, "login", "attacker")
    assert not limiter.test(item, "login", "attacker")


def test_keys_stay_small_whatever_is_typed(app):
    c = app.test_client()
    fail_login(c, "x" * 500_000)
    storage = app.extensions["throttle_limiter"].storage
    assert storage.events and max(len(key) for key in storage.events) < 200


def test_the_app_uses_the_bounded_store(app):
    limiter = app.extensions["throttle_limiter"]
    assert isinstance(limiter.storage, throttle.BoundedMemoryStorage)
    assert re.search(r"moving", type(limiter.limiter).__name__, re.I)


def test_login_still_works_after_the_throttle(client):
    assert 302 == login(client, "staff1", STAFF_PASSWORD).status_code
