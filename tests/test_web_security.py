"""Web security: headers, cookies, login and its throttle, redirects, CSRF,
no state change on GET, and error pages that reveal nothing."""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from flask_babel import gettext
from markupsafe import escape

from conftest import STAFF_PASSWORD, VOLUNTEER_PASSWORD, db_snapshot, login, rule_url
from webapp import create_app

LOCALES = ("ja", "en", "zh_Hans", "zh_Hant", "ko")
HTML_LANG = {"ja": "ja", "en": "en", "zh_Hans": "zh-Hans", "zh_Hant": "zh-Hant", "ko": "ko"}


def translated(app, msgid: str, locale: str, **values) -> str:
    """What the app shows for ``msgid`` in ``locale``, HTML-escaped as in a page
    (works before and after the catalogues are translated)."""
    with app.test_request_context(f"/?lang={locale}"):
        return str(escape(gettext(msgid, **values)))


def csp_directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


# --- security headers ------------------------------------------------------------

@pytest.mark.parametrize("method, path, status", [
    ("GET", "/", 200),                     # an HTML page
    ("GET", "/no-such-page", 404),         # the not-found page
    ("GET", "/healthz", 200),              # the JSON health check
    ("GET", "/static/css/app.css", 200),   # a static file
    ("POST", "/logout", 302),              # a redirect after a POST
])
def test_security_headers_on_every_kind_of_response(client, method, path, status):
    with client.open(path, method=method) as response:
        assert status == response.status_code
        headers = response.headers
    csp = csp_directives(headers["Content-Security-Policy"])
    assert "script-src" in csp
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "'unsafe-eval'" not in csp["script-src"]
    assert "'unsafe-inline'" not in csp.get("style-src", csp.get("default-src", []))
    assert ["'none'"] == csp["frame-ancestors"]
    assert "nosniff" == headers["X-Content-Type-Options"]
    assert headers["Referrer-Policy"] in {"same-origin", "no-referrer", "strict-origin-when-cross-origin"}


# --- cookies and the secret key -------------------------------------------------------

def _session_set_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "no session cookie was set"
    return cookies[-1]


def test_session_cookie_is_httponly_and_samesite_lax(client):
    response = login(client, "staff1", STAFF_PASSWORD)
    assert 302 == response.status_code
    cookie = _session_set_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_session_cookie_is_secure_outside_debug_and_tests(app, monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    production = create_app({"SECRET_KEY": "a-real-secret", "DATABASE": app.config["DATABASE"]})
    assert production.config["SESSION_COOKIE_SECURE"] is True
    with production.test_client() as c:
        response = c.get("/login", base_url="https://localhost")
        assert 200 == response.status_code
        cookie = _session_set_cookie(response)
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_secret_key_is_required_outside_debug(app, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(RuntimeError):
        create_app({"DATABASE": app.config["DATABASE"]})
    # in tests a random key is made up instead
    assert create_app({"DATABASE": app.config["DATABASE"], "TESTING": True}).config["SECRET_KEY"]


# --- logging in -------------------------------------------------------------------------------------

def test_good_login_redirects_to_the_users_area(client):
    response = login(client, "staff1", STAFF_PASSWORD)
    assert 302 == response.status_code
    assert "/staff/" == response.headers["Location"]
    assert 200 == client.get("/staff/").status_code


def test_wrong_password_shows_an_error_and_keeps_the_user_name(app, client):
    response = client.post("/login?lang=en", data={"username": "staff1", "password": "not-the-password"})
    assert 200 == response.status_code
    body = response.get_data(as_text=True)
    assert translated(app, "The user name or password is not right. Check them and try again.", "en") in body
    assert 'value="staff1"' in body
    assert 302 == client.get("/staff/").status_code  # still not logged in


def test_throttle_after_five_failures_only_for_that_address(app, client):
    for _ in range(5):
        assert 200 == client.post("/login?lang=en", data={"username": "staff1", "password": "wrong"}).status_code
    response = client.post("/login?lang=en", data={"username": "staff1", "password": "wrong"})
    assert 429 == response.status_code
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 60  # a resident who mistypes waits a minute at most (webapp/throttle.py)
    message = translated(app, "Too many failed attempts. Please wait %(seconds)d seconds and try again.", "en",
                         seconds=wait)
    assert message in response.get_data(as_text=True)
    # the right password from the throttled address must wait too
    assert 429 == login(client, "staff1", STAFF_PASSWORD).status_code
    # ... but the real user elsewhere is not locked out by an attacker
    elsewhere = app.test_client()
    response = elsewhere.post("/login", data={"username": "staff1", "password": STAFF_PASSWORD},
                              environ_base={"REMOTE_ADDR": "192.0.2.44"})
    assert 302 == response.status_code
    assert "/staff/" == response.headers["Location"]


def test_login_starts_a_new_session(client):
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    before = client.get_cookie("session").value
    assert 302 == login(client, "vol1", VOLUNTEER_PASSWORD).status_code
    after = client.get_cookie("session").value
    assert before != after
    with client.session_transaction() as sess:
        assert "planted" not in sess
        first_token = sess["_user_id"]
    client.post("/logout")
    login(client, "vol1", VOLUNTEER_PASSWORD)
    with client.session_transaction() as sess:
        assert first_token != sess["_user_id"]  # a fresh server-side token each time


def test_logout_ends_the_session_on_the_server(app, staff_client):
    stolen = staff_client.get_cookie("session").value
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert 200 == replay.get("/staff/").status_code  # the copied cookie works while logged in

    assert 302 == staff_client.post("/logout").status_code

    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/staff/")
    assert 302 == response.status_code
    assert "/login" == urlsplit(response.headers["Location"]).path


# --- where login sends you next -----------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    {"next": "//evil.example"},              # protocol-relative URL
    {"next": "/\\evil.example"},             # browsers read a backslash as a slash
    {"next": "https://evil.example"},        # absolute URL elsewhere
    {"next": "javascript:alert(1)"},         # script URL
    {"next": "/%2F%2Fevil"},                 # encoded slashes, taken literally
    "next=/%2F%2Fevil",                      # encoded slashes that decode to //evil
    {"next": " //evil.example"},             # leading space
    {"next": "/\t/evil.example"},            # a tab the browser would drop
])
def test_hostile_next_stays_on_the_site(client, query):
    response = client.post("/login", query_string=query,
                           data={"username": "staff1", "password": STAFF_PASSWORD})
    assert 302 == response.status_code
    location = response.headers["Location"]
    resolved = urlsplit(urljoin("http://localhost/login", location))
    assert ("http", "localhost") == (resolved.scheme, resolved.netloc), location
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location


def test_next_on_the_site_is_honoured(client):
    response = client.post("/login", query_string={"next": "/staff/"},
                           data={"username": "staff1", "password": STAFF_PASSWORD})
    assert "/staff/" == response.headers["Location"]


def test_protected_page_sends_anonymous_users_to_login_and_back(client):
    response = client.get("/staff/")
    assert 302 == response.status_code
    target = urlsplit(response.headers["Location"])
    assert "/login" == target.path
    response = client.post(f"/login?{target.query}", data={"username": "staff1", "password": STAFF_PASSWORD})
    assert "/staff/" == response.headers["Location"]


# --- CSRF ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def csrf_app(app):
    """The same database as ``app``, with CSRF protection switched on."""
    return create_app({"TESTING": True, "DATABASE": app.config["DATABASE"], "SECRET_KEY": "csrf-secret",
                       "SESSION_COOKIE_SECURE": False, "WTF_CSRF_ENABLED": True})


@pytest.mark.parametrize("locale", LOCALES)
def test_login_without_token_gets_the_generic_error_page(csrf_app, locale):
    c = csrf_app.test_client()
    response = c.post(f"/login?lang={locale}", data={"username": "staff1", "password": STAFF_PASSWORD})
    assert 400 == response.status_code
    body = response.get_data(as_text=True)
    assert f'<html lang="{HTML_LANG[locale]}"' in body
    assert translated(csrf_app, "Something went wrong with the form", locale) in body
    assert "Traceback" not in body
    assert "CSRF" not in body
    assert 302 == c.get("/staff/").status_code  # not logged in


def test_logout_without_token_is_refused(csrf_app):
    c = csrf_app.test_client()
    token = csrf_token_from(c.get("/login").get_data(as_text=True))
    response = c.post("/login", data={"username": "staff1", "password": STAFF_PASSWORD, "csrf_token": token})
    assert 302 == response.status_code

    response = c.post("/logout")
    assert 400 == response.status_code
    assert "Traceback" not in response.get_data(as_text=True)
    assert 200 == c.get("/staff/").status_code  # a forged logout did nothing

    token = csrf_token_from(c.get("/staff/").get_data(as_text=True))
    assert 302 == c.post("/logout", data={"csrf_token": token}).status_code
    assert 302 == c.get("/staff/").status_code


# --- no state change on GET ---------------------------------------------------------------------------------

ACTION_WORDS = ("cancel", "book", "delete", "merge", "renew", "logout", "check_in", "no_show", "promote",
                "restore", "backup", "deactivate", "activate", "move", "undo")


def _get_changes_nothing(app, web_ids, clients) -> list[str]:
    """GET every rule that also changes things (accepts POST, or is named after
    an action) as the role that may use it; return the ones that changed the DB."""
    problems = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in rule.methods:
            continue
        if "POST" not in rule.methods and not any(w in rule.endpoint for w in ACTION_WORDS):
            continue
        path = rule_url(rule, web_ids)
        role = "staff" if path.startswith("/staff") else "volunteer" if path.startswith("/volunteer") else "anonymous"
        before = db_snapshot(app.config["DATABASE"])
        response = clients[role].get(path)
        response.close()
        after = db_snapshot(app.config["DATABASE"])
        if before != after:
            changed = sorted(t for t in after if before.get(t) != after[t])
            problems.append(f"GET {path} ({rule.endpoint}) as {role} changed {changed}")
    return problems


def test_logout_is_post_only(app):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint == "auth.logout"]
    assert rules
    assert all("GET" not in r.methods for r in rules)


def test_no_get_changes_the_database(app, web_ids, client, staff_client, volunteer_client):
    clients = {"anonymous": client, "staff": staff_client, "volunteer": volunteer_client}
    assert [] == _get_changes_nothing(app, web_ids, clients)


@pytest.fixture
def app_with_a_get_that_cancels(app):
    """A deliberately wrong view, registered before any request."""
    from date_community.scheduling import bookings
    from webapp.database import get_db

    def cancel_on_get(booking_id):
        bookings.cancel_booking(get_db(), booking_id, actor="test")
        return "cancelled"

    app.add_url_rule("/staff/_test/bookings/<int:booking_id>/cancel", "_test_cancel_on_get", cancel_on_get)
    return app


def test_the_get_check_catches_a_get_that_cancels(app_with_a_get_that_cancels, web_ids, client, staff_client,
                                                 volunteer_client):
    clients = {"anonymous": client, "staff": staff_client, "volunteer": volunteer_client}
    problems = _get_changes_nothing(app_with_a_get_that_cancels, web_ids, clients)
    assert 1 == len(problems)
    assert "_test_cancel_on_get" in problems[0]


# --- unexpected errors ------------------------------------------------------------------------------------------------

SECRET_DETAIL = "internal-detail-4711"


@pytest.fixture
def exploding_app(app):
    def explode():
        raise RuntimeError(f"database password is {SECRET_DETAIL}")

    app.add_url_rule("/_test/explode", "_test_explode", explode)
    return app


@pytest.mark.parametrize("locale", LOCALES)
def test_unexpected_error_shows_the_generic_page_in_the_users_language(exploding_app, locale, caplog):
    response = exploding_app.test_client().get(f"/_test/explode?lang={locale}")
    assert 500 == response.status_code
    body = response.get_data(as_text=True)
    assert f'<html lang="{HTML_LANG[locale]}"' in body
    assert translated(exploding_app, "Sorry, there is a problem with the service", locale) in body
    for leak in ("Traceback", "RuntimeError", SECRET_DETAIL, "database password"):
        assert leak not in body
    assert SECRET_DETAIL not in caplog.text  # the log names the error type, not its text
