"""Accounts on the web: one's own password, the staff accounts page, the
demo banner and demo logins, and the staff/volunteer session time limits."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from conftest import STAFF_PASSWORD, VOLUNTEER_PASSWORD, login
from date_community import accounts, db as dbmod, demo, timeutil

NEW_PW = "quiet river lantern"
EN = {"Accept-Language": "en"}


def _text(response) -> str:
    return response.get_data(as_text=True)


def _uid(app, username):
    database = dbmod.connect(app.config["DATABASE"])
    try:
        return accounts.get_user_by_name(database, username)["id"]
    finally:
        database.close()


def _audit(app, action):
    database = dbmod.connect(app.config["DATABASE"])
    try:
        return [(r["actor"], r["entity_id"]) for r in database.query(
            "SELECT actor, entity_id FROM audit_log WHERE entity = 'user' AND action = ? ORDER BY id", [action])]
    finally:
        database.close()


# --- one's own password ---------------------------------------------------------------

@pytest.mark.parametrize("who, username, old", [("staff", "staff1", STAFF_PASSWORD),
                                                ("volunteer", "vol1", VOLUNTEER_PASSWORD)])
def test_every_signed_in_user_can_change_their_password(app, who, username, old):
    browser, elsewhere = app.test_client(), app.test_client()
    assert login(browser, username, old).status_code == 302
    assert login(elsewhere, username, old).status_code == 302
    page = browser.get("/account/password", headers=EN)
    assert 200 == page.status_code and "no-store" == page.headers["Cache-Control"]
    assert 'href="/account/password"' in _text(browser.get("/", headers=EN))  # the link in the menu
    assert "A few words with spaces between them is fine" in _text(page)
    done = browser.post("/account/password", data={"current_password": old, "password": NEW_PW,
                                                   "password_again": NEW_PW}, headers=EN)
    assert done.status_code == 302
    assert browser.get("/account/password").status_code == 200  # still signed in here
    assert elsewhere.get("/account/password").status_code == 302  # signed out elsewhere
    assert login(app.test_client(), username, old).status_code == 200
    assert login(app.test_client(), username, NEW_PW).status_code == 302
    uid = _uid(app, username)
    assert (f"user:{uid}", uid) in _audit(app, "set_password")


@pytest.mark.parametrize("form, field, words", [
    ({"current_password": "wrong password here", "password": NEW_PW, "password_again": NEW_PW},
     "current_password", "The current password is not right"),
    ({"current_password": STAFF_PASSWORD, "password": "short", "password_again": "short"},
     "password", "Use at least 15 characters"),
    ({"current_password": STAFF_PASSWORD, "password": "passwordpassword", "password_again": "passwordpassword"},
     "password", "too easy to guess"),
    ({"current_password": STAFF_PASSWORD, "password": NEW_PW, "password_again": NEW_PW + "x"},
     "password_again", "not the same"),
    ({"current_password": "", "password": "", "password_again": ""}, "current_password", "Enter your current password"),
])
def test_changing_ones_password_refuses_with_an_error_summary(staff_client, app, form, field, words):
    response = staff_client.post("/account/password", data=form, headers=EN)
    page = _text(response)
    assert response.status_code == 200
    assert 'class="error-summary"' in page and f'<a href="#{field}">' in page and words in page
    assert 'aria-invalid="true"' in page
    assert NEW_PW not in page and STAFF_PASSWORD not in page  # passwords are never sent back
    assert login(app.test_client(), "staff1", STAFF_PASSWORD).status_code == 302  # unchanged


def test_guessing_the_current_password_is_throttled(staff_client, app):
    wrong = {"current_password": "not my password at all", "password": NEW_PW, "password_again": NEW_PW}
    for _ in range(5):
        assert staff_client.post("/account/password", data=wrong, headers=EN).status_code == 200
    right = dict(wrong, current_password=STAFF_PASSWORD)
    response = staff_client.post("/account/password", data=right, headers=EN)
    assert response.status_code == 429 and "Too many failed attempts" in _text(response)
    assert int(response.headers["Retry-After"]) >= 1
    # The lock-out is this address's: the same name still logs in from elsewhere, with
    # the unchanged password (the right one was not taken while locked out).
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.99"
    assert login(elsewhere, "staff1", STAFF_PASSWORD).status_code == 302


def test_the_password_page_needs_a_login(client):
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- staff accounts ----------------------------------------------------------------------

def test_staff_create_a_staff_account_with_a_typed_password(staff_client, app):
    page = _text(staff_client.get("/staff/accounts", headers=EN))
    assert "staff1" in page and "vol1" not in page  # volunteers are on their own page
    assert 'href="/staff/accounts"' in _text(staff_client.get("/staff/", headers=EN))
    response = staff_client.post("/staff/accounts/new", data={"username": "suzuki", "password": NEW_PW},
                                 headers=EN)
    assert response.status_code == 200 and "The password you typed is now in use." in _text(response)
    assert NEW_PW not in _text(response)
    assert login(app.test_client(), "suzuki", NEW_PW).status_code == 302
    assert (f"user:{_uid(app, 'staff1')}", _uid(app, "suzuki")) in _audit(app, "create")


def test_staff_create_a_staff_account_with_a_made_up_password(staff_client, app):
    response = staff_client.post("/staff/accounts/new", data={"username": "sato", "password": ""}, headers=EN)
    shown = re.search(r'<dd class="reference">([^<]+)</dd>', _text(response)).group(1)
    assert len(shown) >= 15
    assert login(app.test_client(), "sato", shown).status_code == 302


@pytest.mark.parametrize("form, field, words", [
    ({"username": "", "password": NEW_PW}, "username", "Enter a user name"),
    ({"username": "staff1", "password": NEW_PW}, "username", "already in use"),
    ({"username": "kato", "password": "kato-kato-1234567"}, "password", "too close to the user name"),
    ({"username": "kato", "password": "short"}, "password", "Use at least 15 characters"),
])
def test_staff_account_form_errors(staff_client, app, form, field, words):
    page = _text(staff_client.post("/staff/accounts/new", data=form, headers=EN))
    assert 'class="error-summary"' in page and f'<a href="#{field}">' in page and words in page
    assert [r for r in accounts.list_users(dbmod.connect(app.config["DATABASE"]), role="staff")
            if r["username"] == "kato"] == []


def test_disable_enable_and_the_last_staff_account_on_the_web(staff_client, app):
    me = _uid(app, "staff1")
    refused = staff_client.post(f"/staff/accounts/{me}/active", data={"active": "0"}, headers=EN,
                                follow_redirects=True)
    assert "This is the last staff account that can log in" in _text(refused)
    assert staff_client.get("/staff/accounts").status_code == 200  # still signed in
    staff_client.post("/staff/accounts/new", data={"username": "suzuki", "password": NEW_PW})
    other = app.test_client()
    assert login(other, "suzuki", NEW_PW).status_code == 302
    suzuki = _uid(app, "suzuki")
    staff_client.post(f"/staff/accounts/{suzuki}/active", data={"active": "0"})
    assert other.get("/staff/").status_code == 302  # logged out at once
    assert login(app.test_client(), "suzuki", NEW_PW).status_code == 200
    page = _text(staff_client.get("/staff/accounts", headers=EN))
    assert "Disabled" in page and "Enable again" in page
    staff_client.post(f"/staff/accounts/{suzuki}/active", data={"active": "1"})
    assert login(app.test_client(), "suzuki", NEW_PW).status_code == 302
    assert [(f"user:{me}", suzuki)] == _audit(app, "deactivate")
    assert [(f"user:{me}", suzuki)] == _audit(app, "activate")


def test_reset_a_staff_password(staff_client, app):
    staff_client.post("/staff/accounts/new", data={"username": "suzuki", "password": NEW_PW})
    suzuki = _uid(app, "suzuki")
    page = staff_client.post(f"/staff/accounts/{suzuki}/password", data={"password": ""}, headers=EN)
    made = re.search(r'<dd class="reference">([^<]+)</dd>', _text(page)).group(1)
    assert login(app.test_client(), "suzuki", NEW_PW).status_code == 200
    assert login(app.test_client(), "suzuki", made).status_code == 302
    short = _text(staff_client.post(f"/staff/accounts/{suzuki}/password", data={"password": "short"}, headers=EN))
    assert 'class="error-summary"' in short and "Use at least 15 characters" in short
    assert (f"user:{_uid(app, 'staff1')}", suzuki) in _audit(app, "set_password")


def test_volunteer_logins_are_not_staff_accounts(staff_client, app, volunteer_client):
    vol = _uid(app, "vol1")
    assert staff_client.get(f"/staff/accounts/{vol}/password").status_code == 404
    assert staff_client.post(f"/staff/accounts/{vol}/active", data={"active": "0"}).status_code == 404
    assert staff_client.get("/staff/accounts/999999/password").status_code == 404
    assert staff_client.get(f"/staff/accounts/{2**63}/password").status_code == 404
    assert staff_client.post(f"/staff/accounts/{10**30}/active", data={"active": "0"}).status_code == 404
    assert volunteer_client.get("/staff/accounts").status_code == 403


# --- demo data -------------------------------------------------------------------------

@pytest.fixture
def demo_app(tmp_path):
    from webapp import create_app

    path = tmp_path / "demo.db"
    database = dbmod.connect(path)
    demo.load_demo(database)
    database.close()
    return create_app({"TESTING": True, "DATABASE": str(path), "SECRET_KEY": "test-secret",
                       "SESSION_COOKIE_SECURE": False, "WTF_CSRF_ENABLED": False})


BANNER = 'class="demo-banner"'
PUBLIC_PAGES = ["/", "/classes", "/login", "/sites", "/tours", "/opendata/", "/no-such-page"]


def test_every_page_of_a_demo_database_shows_the_banner(demo_app):
    client = demo_app.test_client()
    for path in PUBLIC_PAGES:
        for _ in range(2):  # the second request is answered from the page cache
            response = client.get(path, headers=EN, follow_redirects=True)
            assert BANNER in _text(response) and "Demo data" in _text(response), path
    assert demo_app.extensions.get("page_cache"), "the page cache was not used"
    staff_name, staff_pw = demo.STAFF_LOGIN
    assert login(client, staff_name, staff_pw).status_code == 302
    for path in ["/staff/", "/staff/accounts", "/staff/volunteers", "/account/password"]:
        assert BANNER in _text(client.get(path, headers=EN)), path
    volunteer = demo_app.test_client()
    assert login(volunteer, *demo.VOLUNTEER_LOGIN).status_code == 302
    assert BANNER in _text(volunteer.get("/volunteer/", headers=EN))


def test_a_production_database_has_no_banner(client, staff_client):
    for path in PUBLIC_PAGES:
        assert BANNER not in _text(client.get(path, follow_redirects=True)), path
    assert BANNER not in _text(staff_client.get("/staff/"))


def test_demo_logins_are_refused_in_a_production_database(app):
    # The demo users, copied with their hashes into a database that is not a demo.
    source = dbmod.connect(app.config["DATABASE"] + ".demo")
    demo.load_demo(source)
    target = dbmod.connect(app.config["DATABASE"])
    try:
        for row in source.query("SELECT username, password_hash, role, created_at FROM users WHERE role = 'staff'"):
            target["users"].insert(row)
        assert not demo.is_demo_database(target)
    finally:
        source.close()
        target.close()
    response = login(app.test_client(), *demo.STAFF_LOGIN)
    assert response.status_code == 200 and "/staff" not in response.headers.get("Location", "")


# --- session time limits ----------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    """timeutil.now(), moved on by the test."""
    state = {"now": dt.datetime(2031, 4, 7, 9, 0, tzinfo=timeutil.TZ)}
    monkeypatch.setattr(timeutil, "now", lambda: state["now"])

    def advance(**delta):
        state["now"] += dt.timedelta(**delta)

    advance.now = lambda: state["now"]
    return advance


def test_a_staff_session_ends_after_the_idle_limit(app, clock):
    app.config.update(SESSION_IDLE_HOURS=2.0, SESSION_MAX_DAYS=30.0)
    browser = app.test_client()
    assert login(browser, "staff1", STAFF_PASSWORD).status_code == 302
    clock(hours=1, minutes=59)
    assert browser.get("/staff/").status_code == 200
    clock(hours=1, minutes=59)  # 1:59 after the last request: still alive
    assert browser.get("/staff/").status_code == 200
    clock(hours=2)
    assert browser.get("/staff/").status_code == 302  # idle for 2 hours: logged out
    database = dbmod.connect(app.config["DATABASE"])
    try:
        assert [] == list(database.query("SELECT 1 FROM login_sessions"))  # the row is gone
    finally:
        database.close()


def test_a_volunteer_session_ends_at_the_maximum_age_however_busy(app, clock):
    app.config.update(SESSION_IDLE_HOURS=12.0, SESSION_MAX_DAYS=1.0)
    browser = app.test_client()
    assert login(browser, "vol1", VOLUNTEER_PASSWORD).status_code == 302
    for _ in range(5):
        clock(hours=4)
        assert browser.get("/volunteer/").status_code == 200  # busy: never idle
    clock(hours=4)  # 24 hours after logging in
    assert browser.get("/volunteer/").status_code == 302


def test_last_seen_is_written_at_most_once_a_minute_on_the_web(app, clock):
    browser = app.test_client()
    login(browser, "staff1", STAFF_PASSWORD)

    def last_seen():
        database = dbmod.connect(app.config["DATABASE"])
        try:
            return database.execute("SELECT last_seen_at FROM login_sessions").fetchone()[0]
        finally:
            database.close()

    start = last_seen()
    clock(seconds=30)
    browser.get("/staff/")
    assert last_seen() == start
    clock(seconds=31)
    browser.get("/staff/")
    assert last_seen() == timeutil.iso(clock.now())


def test_public_pages_keep_no_time_limit(client, clock):
    client.get("/")
    clock(days=400)
    assert client.get("/classes").status_code == 200
