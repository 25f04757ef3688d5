"""Who may open what: every route in app.url_map, for every role.

Each rule is requested with every method it accepts (GET, and POST with an
empty body) by an anonymous visitor, a volunteer and a staff member, on a
fresh copy of a database that holds one real record of each kind, so every
URL parameter is a real id.  A new route is covered as soon as it exists; a
new /staff route without @role_required fails here.
"""
from __future__ import annotations

from date_community.sqlitedriver import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import STAFF_PASSWORD, VOLUNTEER_PASSWORD, cheap_argon2, db_snapshot, login, make_web_records, rule_url
from date_community import accounts, content, db as dbmod, people
from webapp import create_app

# What each role gets.
LOGIN = "redirected to /login"
FORBIDDEN = "403 Forbidden"
ALLOWED = "works (200, a redirect, or 400/405 for an empty form)"
NO_ERROR = "anything below 500"
TOKEN = "works with the right token, 404 with a wrong one"

# THE POLICY.  The first row whose test matches the path wins.
POLICY = [
    # which paths                                   anonymous   volunteer   staff
    ("URL carries a secret <token>",                TOKEN,      TOKEN,      TOKEN),
    ("/staff and everything under it",              LOGIN,      FORBIDDEN,  ALLOWED),
    ("/volunteer and everything under it",          LOGIN,      ALLOWED,    FORBIDDEN),
    ("everything else (public pages, login)",       NO_ERROR,   NO_ERROR,   NO_ERROR),
]
ROLES = ("anonymous", "volunteer", "staff")
ALLOWED_STATUS = {200, 302, 303, 400, 405}


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def policy_for(rule) -> dict[str, str]:
    if "token" in rule.arguments:
        row = POLICY[0]
    elif _under(rule.rule, "/staff"):
        row = POLICY[1]
    elif _under(rule.rule, "/volunteer"):
        row = POLICY[2]
    else:
        row = POLICY[3]
    return dict(zip(ROLES, row[1:]))


def check(expectation: str, response, changed: bool) -> str | None:
    """None when the response meets the expectation, else what went wrong."""
    status = response.status_code
    if expectation == LOGIN:
        location = urlsplit(response.headers.get("Location", "")).path
        if status != 302 or location != "/login":
            return f"expected a redirect to /login, got {status} {location}"
    elif expectation == FORBIDDEN:
        if status != 403:
            return f"expected 403, got {status}"
    elif expectation in (ALLOWED, TOKEN):
        if status not in ALLOWED_STATUS:
            return f"expected one of {sorted(ALLOWED_STATUS)}, got {status}"
    elif expectation == NO_ERROR:
        if status >= 500:
            return f"expected a status below 500, got {status}"
    if changed and expectation in (LOGIN, FORBIDDEN):
        return "the database changed for a role that may not use this route"
    return None


# --- one template database per module, copied for every test ---------------------------

@pytest.fixture(scope="module")
def template_db(tmp_path_factory):
    """Catalogue, one staff and one volunteer login, and a record of each kind.
    Passwords are hashed with a cheap argon2id cost (kept in the hash itself) so
    hundreds of logins stay fast; nothing else differs from production."""
    path = tmp_path_factory.mktemp("roles") / "template.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "ARGON2_PARAMETERS", cheap_argon2())
        database = dbmod.connect(path)
        content.load_catalog(database)
        vid = people.add_volunteer(database, name="例 ボランティア", email="helper@example.org",
                                   skills=["basics"], devices=["iphone"])
        accounts.create_user(database, username="staff1", password=STAFF_PASSWORD, role="staff")
        accounts.create_user(database, username="vol1", password=VOLUNTEER_PASSWORD, role="volunteer",
                             volunteer_id=vid)
        ids = make_web_records(database, vid)
        database.close()
    return path, ids


def _copy_db(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


@pytest.fixture
def fresh(template_db, tmp_path):
    source, ids = template_db
    path = tmp_path / "roles.db"
    _copy_db(source, path)
    application = create_app({"TESTING": True, "DATABASE": str(path), "SECRET_KEY": "roles-secret",
                              "SESSION_COOKIE_SECURE": False, "WTF_CSRF_ENABLED": False})
    return application, ids


def client_as(application, role: str):
    c = application.test_client()
    if role == "staff":
        assert 302 == login(c, "staff1", STAFF_PASSWORD).status_code
    elif role == "volunteer":
        assert 302 == login(c, "vol1", VOLUNTEER_PASSWORD).status_code
    return c


def _rules() -> list[tuple[str, str, str]]:
    """(method, rule, endpoint) for every route, read from a throwaway app."""
    with tempfile.TemporaryDirectory() as tmp:
        application = create_app({"TESTING": True, "DATABASE": str(Path(tmp) / "rules.db"), "SECRET_KEY": "x"})
        out = []
        for rule in application.url_map.iter_rules():
            if rule.endpoint == "static":
                continue
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                out.append((method, rule.rule, rule.endpoint))
    return sorted(out, key=lambda item: (item[1], item[0]))


RULES = _rules()


def _request(application, ids, role, method, rule_text, endpoint):
    rule = next(r for r in application.url_map.iter_rules() if r.rule == rule_text and r.endpoint == endpoint)
    path = rule_url(rule, ids)
    c = client_as(application, role)
    before = db_snapshot(application.config["DATABASE"])
    response = c.open(path, method=method, data={} if method != "GET" else None)
    response.close()
    after = db_snapshot(application.config["DATABASE"])
    return rule, path, response, before != after


# --- the matrix ----------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method, rule_text, endpoint", RULES, ids=[f"{m} {r}" for m, r, _ in RULES])
def test_route_follows_the_policy(fresh, role, method, rule_text, endpoint):
    application, ids = fresh
    rule, path, response, changed = _request(application, ids, role, method, rule_text, endpoint)
    expectation = policy_for(rule)[role]
    problem = check(expectation, response, changed)
    assert problem is None, f"{method} {path} ({endpoint}) as {role}: {problem}"


def test_the_matrix_covers_the_protected_areas():
    # guards the walk itself: a matrix without staff and volunteer routes would pass vacuously
    paths = {rule for _, rule, _ in RULES}
    assert any(_under(p, "/staff") for p in paths)
    assert any(_under(p, "/volunteer") for p in paths)
    assert {"/", "/login", "/logout"} <= paths


@pytest.mark.parametrize("role", ROLES)
def test_token_routes_refuse_a_wrong_token(fresh, role):
    application, ids = fresh
    token_rules = [r for r in application.url_map.iter_rules() if "token" in r.arguments]
    for rule in token_rules:
        c = client_as(application, role)
        right = c.get(rule_url(rule, ids))
        right.close()
        assert 200 == right.status_code, rule.rule
        wrong = c.get(rule_url(rule, dict(ids, token="not-the-token-" + "x" * 20)))
        wrong.close()
        assert wrong.status_code in {403, 404}, rule.rule


# --- the check itself catches an unguarded staff route ----------------------------------

@pytest.fixture
def app_with_test_routes(fresh):
    from webapp.auth import role_required

    application, ids = fresh

    def unguarded():
        return "personal data for anyone"

    @role_required("staff")
    def guarded():
        return "staff only"

    application.add_url_rule("/staff/_test/unguarded", "_test_unguarded", unguarded)
    application.add_url_rule("/staff/_test/guarded", "_test_guarded", guarded)
    return application, ids


@pytest.mark.parametrize("role, endpoint, fails", [
    ("anonymous", "_test_unguarded", True),    # no login needed: must be reported
    ("volunteer", "_test_unguarded", True),    # a volunteer sees staff data: must be reported
    ("staff", "_test_unguarded", False),       # staff are allowed anyway
    ("anonymous", "_test_guarded", False),     # redirected to login
    ("volunteer", "_test_guarded", False),     # 403
    ("staff", "_test_guarded", False),         # 200
])
def test_the_policy_check_catches_a_missing_role_required(app_with_test_routes, role, endpoint, fails):
    application, ids = app_with_test_routes
    rule_text = "/staff/_test/unguarded" if endpoint == "_test_unguarded" else "/staff/_test/guarded"
    rule, _, response, changed = _request(application, ids, role, "GET", rule_text, endpoint)
    problem = check(policy_for(rule)[role], response, changed)
    assert fails == (problem is not None), problem
