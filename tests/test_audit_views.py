"""Every staff page, search or export that shows a resident's name or phone
writes an audit row (who, what kind of view, which record), and the row
never holds the name or the phone itself.

The pages are found by walking every GET route of the app with real ids,
plus the searches, which are POSTs (their words stay out of URLs).  Any
response that contains a resident's name, furigana or phone must have added
at least one audit row; so a new page that shows residents without logging
it fails here.
"""
from __future__ import annotations

import json

import pytest

from conftest import rule_url
from date_community import people
from date_community.forms import review


def _personal(db) -> list[str]:
    """Every resident's name, furigana and phone, as pages may show them."""
    texts = []
    for r in db.query("SELECT name_kanji, name_kana, phone FROM residents WHERE merged_into IS NULL"):
        texts += [r["name_kanji"], r["name_kana"]]
        if r["phone"]:
            texts += [r["phone"], people.format_phone(r["phone"])]
    return texts


def _audit_count(db) -> int:
    return next(db.query("SELECT max(id) AS n FROM audit_log"))["n"] or 0


def _requests(app, ids):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static" or "logout" in rule.endpoint:
            continue
        path = rule_url(rule, ids)
        if rule.endpoint in ("staff.call_list", "staff.call_list_csv", "staff.today"):
            path += f"?date={ids['day']}"  # the default (tomorrow) holds none of the test's sessions
        yield rule.endpoint, "get", path, None
    sid, sheet = ids["session_id"], ids["sheet_id"]
    yield "staff.residents (search by kana)", "post", "/staff/residents", {"q": "みほん"}
    yield "staff.residents (search by phone)", "post", "/staff/residents", {"q": "090-0000-0001"}
    yield "staff.session_book (search)", "post", f"/staff/sessions/{sid}/book", {"q": "みほん"}
    yield "staff.forms_sheet (duplicates)", "post", f"/staff/forms/sheets/{sheet}", {
        "action": "check", "name": "見本 一郎", "kana": "みほん いちろう", "phone": "090-0000-0001"}
    yield "staff.exports (bookings with names)", "post", "/staff/exports", {
        "report": "bookings", "bookings-from": ids["day"], "bookings-to": ids["day"], "bookings-personal": "yes"}
    yield "staff.resident_export", "post", f"/staff/residents/{ids['resident_id']}/export", {"format": "csv"}


@pytest.fixture
def ids(web_ids, catalog_db, make_resident):
    # A resident with a birth year, and a second record that looks like them,
    # so the duplicate suggestions have someone to show.
    people.update_resident(catalog_db, web_ids["resident_id"], actor="test", birth_year=1950)
    people.update_resident(catalog_db, web_ids["other_id"], actor="test", birth_year=1950)
    return web_ids


def test_every_view_of_residents_is_audited_without_the_data(app, staff_client, catalog_db, ids):
    db = catalog_db
    personal = _personal(db)
    showed, unaudited, leaked = [], [], []
    for label, method, path, form in _requests(app, ids):
        before = _audit_count(db)
        response = getattr(staff_client, method)(path, data=form)
        if not (response.mimetype.startswith("text/") or "json" in response.mimetype):
            continue  # images (crops are audited by test_forms_records), PDFs, iCalendar files
        body = response.get_data(as_text=True)
        if not any(text in body for text in personal):
            continue
        showed.append(label)
        rows = list(db.query("SELECT actor, action, entity, entity_id, detail FROM audit_log WHERE id > ?",
                             [before]))
        if not rows:
            unaudited.append(label)
        for row in rows:
            text = json.dumps(row, ensure_ascii=False)
            leaked += [(label, t) for t in personal if t in text]
    assert [] == unaudited
    assert [] == leaked
    # The walk really reached the pages the issue names.
    for endpoint in ("staff.resident", "staff.session_detail", "staff.attendance_page", "staff.call_list",
                     "staff.booking_slip", "staff.session_book (search)", "staff.residents (search by kana)",
                     "staff.forms_sheet (duplicates)"):
        assert endpoint in showed


def test_the_session_page_logs_which_session_and_how_many_residents(app, staff_client, catalog_db, ids):
    sid = ids["session_id"]
    assert 200 == staff_client.get(f"/staff/sessions/{sid}").status_code
    row = next(catalog_db.query("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1"))
    assert ("view_bookings", "session", sid) == (row["action"], row["entity"], row["entity_id"])
    assert [ids["resident_id"]] == json.loads(row["detail"])["shown"]


def test_the_booking_search_logs_who_was_shown_not_the_words(app, staff_client, catalog_db, ids):
    sid = ids["session_id"]
    assert 200 == staff_client.post(f"/staff/sessions/{sid}/book", data={"q": "みほん"}).status_code
    row = next(catalog_db.query("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1"))
    assert ("search", "resident") == (row["action"], row["entity"])
    assert sorted([ids["resident_id"], ids["other_id"]]) == sorted(json.loads(row["detail"])["shown"])
    assert "みほん" not in row["detail"]


def test_duplicate_suggestions_on_a_sheet_are_logged(catalog_db, ids):
    found = review.duplicate_suggestions(catalog_db, phone="090-0000-0001", actor="user:1")
    row = next(catalog_db.query("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1"))
    assert ("search", "resident", "user:1") == (row["action"], row["entity"], row["actor"])
    assert [r["id"] for r in found] == json.loads(row["detail"])["shown"]


def test_the_cli_listing_and_search_of_residents_are_audited(catalog_db, db_path, make_resident):
    from click.testing import CliRunner

    from date_community.cli import cli

    rid = make_resident(name_kanji="監査 花子", name_kana="かんさ はなこ", phone="090-5555-0001")
    runner = CliRunner()
    for args, action in ((["residents", "list"], "list"), (["residents", "find", "かんさ"], "search")):
        before = _audit_count(catalog_db)
        result = runner.invoke(cli, ["--db", str(db_path), *args])
        assert 0 == result.exit_code and "監査 花子" in result.output
        rows = list(catalog_db.query("SELECT * FROM audit_log WHERE id > ?", [before]))
        assert [(action, "resident")] == [(r["action"], r["entity"]) for r in rows]
        assert rid in json.loads(rows[0]["detail"])["shown"]
        assert "かんさ" not in rows[0]["detail"] and "監査" not in rows[0]["detail"]
