"""Integers out of SQLite's range, in URLs and in forms, never give a 500.

SQLite stores integers in 64 bits; Python hands it anything, and a bound
parameter of 2**63 raises OverflowError deep in a view.  Every integer URL
parameter goes through one bounded converter (webapp/fields.py), so a URL
whose id cannot exist is a 404.  Every form field that holds a number goes
through one parser, so a form with such a number is a form error (or a 400).

Both walks are programmatic: the URL walk reads app.url_map and the form walk
reads the forms the pages really show, so a new route or form is covered as
soon as it exists.
"""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from conftest import STAFF_PASSWORD, VOLUNTEER_PASSWORD, login, rule_url
from webapp import fields

HUGE = (str(2**63), str(10**30))
ROLES = ("anonymous", "volunteer", "staff")


def _client(app, role):
    c = app.test_client()
    if role == "staff":
        assert 302 == login(c, "staff1", STAFF_PASSWORD).status_code
    elif role == "volunteer":
        assert 302 == login(c, "vol1", VOLUNTEER_PASSWORD).status_code
    c.set_cookie("lang", "en")
    return c


def _int_rules(app):
    return [r for r in app.url_map.iter_rules()
            if any(isinstance(conv, fields.BoundedInt) for conv in r._converters.values())]


def _huge_url(rule, ids: dict, name: str, value: str) -> str:
    """The rule's path with every parameter real except ``name``, which is ``value``."""
    marker = 7_777_777
    path = rule_url(rule, dict(ids, **{name: marker}))
    assert str(marker) in path
    return path.replace(str(marker), value)


def test_every_int_url_parameter_uses_the_bounded_converter(app):
    # Without app.url_map.converters["int"] replaced, this list would be empty.
    rules = _int_rules(app)
    assert len(rules) >= 10
    plain = [r.rule for r in app.url_map.iter_rules() if "<int:" in r.rule and r not in rules]
    assert plain == []


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize("role", ("staff", "volunteer"))
def test_large_ids_in_urls_are_404(app, web_ids, role, value):
    c = _client(app, role)
    problems = []
    checked = 0
    for rule in _int_rules(app):
        for name, conv in rule._converters.items():
            if not isinstance(conv, fields.BoundedInt):
                continue
            path = _huge_url(rule, web_ids, name, value)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = c.open(path, method=method, data={} if method == "POST" else None)
                response.close()
                checked += 1
                if response.status_code >= 500:
                    problems.append(f"{method} {rule.rule} <{name}>={value}: {response.status_code}")
                elif response.status_code != 404 and role == "staff":
                    problems.append(f"{method} {rule.rule} <{name}>={value}: expected 404, "
                                    f"got {response.status_code}")
    assert checked >= 20
    assert problems == [], "\n".join(problems)


def test_negative_and_zero_ids_in_urls_are_never_500(app, web_ids):
    c = _client(app, "staff")
    for rule in _int_rules(app):
        name = next(n for n, conv in rule._converters.items() if isinstance(conv, fields.BoundedInt))
        for value in ("-1", "0", "00000000000000000000000001"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = c.open(_huge_url(rule, web_ids, name, value), method=method,
                                  data={} if method == "POST" else None)
                response.close()
                assert response.status_code < 500, (method, rule.rule, value)


# --- forms -----------------------------------------------------------------------------

class _Forms(HTMLParser):
    """Every POST form on a page: its action and its fields with the values the page fills in."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            if (a.get("method") or "get").lower() == "post":
                self._form = {"action": a.get("action") or "", "fields": {}, "enctype": a.get("enctype")}
                self.forms.append(self._form)
            return
        if self._form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a or name not in self._form["fields"]:
                    self._form["fields"][name] = a.get("value", "on")
            elif kind == "file":
                return
            else:
                self._form["fields"][name] = a.get("value") or ""
        elif tag == "button" and name:
            self._form["fields"].setdefault(name, a.get("value") or "")
        elif tag == "select" and name:
            self._select = name
            self._form["fields"].setdefault(name, "")
        elif tag == "option" and self._select:
            current = self._form["fields"].get(self._select)
            if "selected" in a or not current:
                self._form["fields"][self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self._form["fields"][name] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _page_forms(c, path: str) -> list[dict]:
    response = c.get(path)
    try:
        if response.status_code != 200 or "text/html" not in response.content_type:
            return []
        parser = _Forms()
        parser.feed(response.get_data(as_text=True))
        return parser.forms
    finally:
        response.close()


def _get_pages(app, ids):
    pages = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        try:
            pages.append(rule_url(rule, ids))
        except Exception:  # a parameter the fixtures do not fill: covered by test_web_roles
            continue
    return sorted(set(pages))


@pytest.mark.parametrize("role", ROLES)
def test_large_numbers_in_every_form_field_are_never_500(app, web_ids, role):
    c = _client(app, role)
    problems = []
    posted = 0
    seen: set[tuple] = set()
    for page in _get_pages(app, web_ids):
        for form in _page_forms(c, page):
            action = urlsplit(form["action"]).path or page
            key = (action, tuple(sorted(form["fields"])))
            if key in seen:
                continue
            seen.add(key)
            for name in form["fields"]:
                if name == "csrf_token":
                    continue
                for value in HUGE:
                    data = dict(form["fields"], **{name: value})
                    response = c.post(action, data=data)
                    response.close()
                    posted += 1
                    if response.status_code >= 500:
                        problems.append(f"{role} POST {action} {name}={value} (from {page}): "
                                        f"{response.status_code}")
    if role != "anonymous":
        assert posted >= 20
    assert problems == [], "\n".join(problems)


ID_FIELDS = ("session_id", "booking_id", "shift_id", "resident_id", "venue_id", "topic_id", "volunteer_id",
             "resident", "first", "second", "keep", "venue", "topic", "copies", "seats", "walkin_seats",
             "helpers_min", "helpers_max", "loaner_phones", "repeat_count", "page", "birth_year")


@pytest.mark.parametrize("value", HUGE)
def test_every_post_route_refuses_huge_ids_without_500(app, web_ids, value):
    """Blind pass: every POST route, every id-like field at once, huge."""
    c = _client(app, "staff")
    vc = _client(app, "volunteer")
    problems = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        path = rule_url(rule, web_ids)
        for who in (c, vc):
            response = who.post(path, data={name: value for name in ID_FIELDS})
            response.close()
            if response.status_code >= 500:
                problems.append(f"POST {rule.rule}: {response.status_code}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("text, expected", [
    ("12", 12), (" 7 ", 7), ("0", 0), (str(2**63 - 1), 2**63 - 1),
    (str(2**63), None), (str(10**30), None), ("-1", None), ("1.5", None), ("١٢", None), ("", None),
    ("１２", None), ("12a", None),
])
def test_whole_number_parser(text, expected):
    assert fields.whole(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("1", 1), (str(2**63 - 1), 2**63 - 1), ("0", None), (str(2**63), None), ("x", None), (None, None),
])
def test_record_id_parser(text, expected):
    assert fields.record_id(text) == expected


@pytest.mark.parametrize("value", HUGE + ("-1",))
def test_large_numbers_in_query_strings_are_never_500(app, web_ids, value):
    c = _client(app, "staff")
    sid, rid = web_ids["session_id"], web_ids["resident_id"]
    for path in (f"/staff/audit?page={value}", f"/staff/residents/merge?keep={value}&other={rid}",
                 f"/staff/residents/merge?keep={rid}&other={value}", f"/staff/sessions/{sid}?promoted={value}",
                 f"/staff/today?date={value}", f"/opendata/events.csv?from={value}"):
        response = c.get(path)
        response.close()
        assert response.status_code in (200, 400, 404), (path, response.status_code)


@pytest.mark.parametrize("argv", [
    ["book", "--session", str(2**63), "--resident", "1"],
    ["book", "--session", "1", "--resident", str(10**30)],
    ["cancel", "--booking", str(2**63)],
    ["residents", "list", "--offset", str(10**30)],
    ["residents", "merge", str(2**63), "1"],
])
def test_cli_refuses_ids_beyond_sqlite_as_usage_errors(db_path, argv):
    from click.testing import CliRunner

    from date_community.cli import cli

    result = CliRunner().invoke(cli, ["--db", str(db_path), *argv])
    assert result.exit_code == 2, result.output
    assert "is not in the range" in result.output
    assert "internal error" not in result.output
