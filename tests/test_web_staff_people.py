"""Staff pages for residents, the day itself and records (webapp/staff_people.py)."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from date_community import people
from date_community.scheduling import attendance, bookings, shifts

# make_session(day=1) starts on 2031-04-08 at 10:00 (conftest BASE is 2031-04-07).
DAY1 = "2031-04-08"

GOOD_FORM = {
    "name_kanji": "伊達 花子", "name_kana": "だて はなこ", "phone": "090-4321-8765", "birth_year": "1948",
    "district": "保原", "device": "android", "topics_wanted": ["line", "maps"], "needs": "耳が遠い",
    "source": "counter", "consent": "yes",
}


def html(response) -> str:
    return response.get_data(as_text=True)


def audit_rows(db, action, entity=None):
    sql, params = "SELECT * FROM audit_log WHERE action = ?", [action]
    if entity:
        sql += " AND entity = ?"
        params.append(entity)
    return [dict(r, detail=json.loads(r["detail"])) for r in db.query(sql + " ORDER BY id", params)]


def staff_actor(db) -> str:
    return "user:%d" % next(iter(db.query("SELECT id FROM users WHERE username = 'staff1'")))["id"]


def urls_in(page: str) -> list[str]:
    return re.findall(r'(?:href|action|src)="([^"]*)"', page)


def csv_rows(response) -> list[list[str]]:
    text = html(response)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.fixture
def staff(staff_client):
    """The staff client reading English pages, so assertions do not depend on translations."""
    staff_client.set_cookie("lang", "en")
    return staff_client


def book(db, sid, rid):
    return bookings.book_seat(db, sid, rid, source="phone", actor="staff")


# --- access ----------------------------------------------------------------------

PAGES = [
    "/staff/residents", "/staff/residents/new", "/staff/residents/{rid}", "/staff/residents/{rid}/edit",
    "/staff/residents/{rid}/delete", "/staff/residents/duplicates", "/staff/residents/merge?keep={rid}&other={rid2}",
    "/staff/today", "/staff/attendance/{sid}", "/staff/attendance/{sid}/no-show", "/staff/call-list",
    "/staff/call-list.csv", "/staff/bookings/{bid}/slip", "/staff/audit", "/staff/exports",
]
POSTS = [
    "/staff/residents", "/staff/residents/new", "/staff/residents/{rid}/edit", "/staff/residents/{rid}/export",
    "/staff/residents/{rid}/delete", "/staff/residents/merge", "/staff/attendance/{sid}/booking",
    "/staff/attendance/{sid}/helper", "/staff/attendance/{sid}/no-show", "/staff/exports",
]


@pytest.fixture
def ids(make_session, make_resident, catalog_db):
    sid = make_session(day=1)
    rid, rid2 = make_resident(), make_resident()
    return {"sid": sid, "rid": rid, "rid2": rid2, "bid": book(catalog_db, sid, rid)["booking_id"]}


def test_anonymous_is_sent_to_login(client, ids):
    for path in PAGES:
        response = client.get(path.format(**ids))
        assert (path, 302) == (path, response.status_code)
        assert response.headers["Location"].startswith("/login?next=")


def test_volunteer_is_refused(volunteer_client, ids):
    for path in PAGES:
        assert (path, 403) == (path, volunteer_client.get(path.format(**ids)).status_code)


def test_volunteer_cannot_post(volunteer_client, ids, catalog_db):
    before = list(catalog_db.query("SELECT id, status FROM bookings"))
    for path in POSTS:
        response = volunteer_client.post(path.format(**ids), data={
            "q": "みほん", "booking_id": ids["bid"], "action": "check_in", "report": "bookings"})
        assert (path, 403) == (path, response.status_code)
    assert before == list(catalog_db.query("SELECT id, status FROM bookings"))
    assert [] == audit_rows(catalog_db, "search")


@pytest.mark.parametrize("path", ["/staff/residents/{rid}", "/staff/attendance/{sid}", "/staff/call-list"])
def test_personal_pages_are_not_stored(staff, ids, path):
    assert "no-store" == staff.get(path.format(**ids)).headers["Cache-Control"]


# --- search ----------------------------------------------------------------------

@pytest.fixture
def two_residents(make_resident):
    return {
        "hanako": make_resident(name_kanji="伊達 花子", name_kana="だて はなこ", phone="090-1234-5678"),
        "jiro": make_resident(name_kanji="見本 次郎", name_kana="みほん じろう", phone="024-577-0001"),
    }


def test_search_page_has_a_post_form(staff):
    page = html(staff.get("/staff/residents"))
    assert '<form method="post" action="/staff/residents" novalidate>' in page
    assert "Results" not in page


@pytest.mark.parametrize("query, found", [
    ("ダテ", "hanako"),  # katakana finds the hiragana furigana
    ("だて はな", "hanako"),  # hiragana with a space
    ("みほん", "jiro"),  # hiragana
    ("090-1234-5678", "hanako"),  # phone with hyphens
    ("０９０１２３４", "hanako"),  # the start of the number, full-width
    ("577-0001", "jiro"),  # the end of a landline number
])
def test_search_finds_by_kana_or_phone(staff, two_residents, query, found):
    response = staff.post("/staff/residents", data={"q": query})
    assert 200 == response.status_code
    page = html(response)
    other = "jiro" if found == "hanako" else "hanako"
    assert f'href="/staff/residents/{two_residents[found]}"' in page
    assert f'href="/staff/residents/{two_residents[other]}"' not in page
    # The term and the phone numbers stay out of every URL on the page.
    digits = {"09012345678", "0245770001", "090-1234-5678", "024-577-0001"}
    for url in urls_in(page):
        assert query not in url and not any(d in url for d in digits)


def test_search_without_term_shows_an_error(staff):
    response = staff.post("/staff/residents", data={"q": "  "})
    page = html(response)
    assert "<title>Error: Residents" in page
    assert 'href="#q">Enter a name in kana or a phone number.</a>' in page


def test_search_with_no_match(staff, two_residents):
    page = html(staff.post("/staff/residents", data={"q": "すずき"}))
    assert "No residents match." in page
    assert 'value="すずき"' in page


def test_search_is_audited_without_the_term(staff, two_residents, catalog_db):
    staff.post("/staff/residents", data={"q": "ダテ"})
    (row,) = audit_rows(catalog_db, "search")
    assert staff_actor(catalog_db) == row["actor"]
    assert {"shown": [two_residents["hanako"]]} == row["detail"]


# --- one resident ------------------------------------------------------------------------

def test_resident_page_shows_details_and_bookings(staff, make_session, make_resident, catalog_db):
    rid = make_resident(name_kanji="伊達 花子", name_kana="だて はなこ", phone="09012345678", district="霊山",
                        needs="車いす", topics_wanted=["line"])
    booking = book(catalog_db, make_session(day=1), rid)
    page = html(staff.get(f"/staff/residents/{rid}"))
    assert "<h1><span lang=\"ja\">伊達 花子</span></h1>" in page
    assert "090-1234-5678" in page
    assert "霊山 (Ryozen)" in page
    assert "車いす" in page
    assert "Getting started with LINE" in page
    assert booking["reference"] in page
    assert f'href="/staff/bookings/{booking["booking_id"]}/slip"' in page


def test_resident_view_is_audited(staff, make_resident, catalog_db):
    rid = make_resident()
    staff.get(f"/staff/residents/{rid}")
    (row,) = audit_rows(catalog_db, "view", "resident")
    assert (staff_actor(catalog_db), rid) == (row["actor"], row["entity_id"])


def test_missing_resident_is_404(staff):
    assert 404 == staff.get("/staff/residents/999").status_code


# --- add -------------------------------------------------------------------------------------

def test_add_resident(staff, catalog_db):
    response = staff.post("/staff/residents/new", data=GOOD_FORM)
    assert 302 == response.status_code
    (row,) = list(catalog_db.query("SELECT * FROM residents"))
    assert f"/staff/residents/{row['id']}" == response.headers["Location"]
    assert ("伊達 花子", "だて はなこ", "09043218765", 1948, "保原", "android") == (
        row["name_kanji"], row["name_kana"], row["phone"], row["birth_year"], row["district"], row["device"])
    assert ["line", "maps"] == json.loads(row["topics_wanted"])
    assert ("耳が遠い", "counter", "counter") == (row["needs"], row["source"], row["consent_channel"])
    assert row["consent_at"]
    page = html(staff.get(response.headers["Location"]))
    assert "The resident has been added." in page
    assert "This may be the same person" not in page


def test_add_form_shows_districts_with_romaji(staff):
    page = html(staff.get("/staff/residents/new"))
    for label in ("伊達 (Date)", "梁川 (Yanagawa)", "保原 (Hobara)", "霊山 (Ryozen)", "月舘 (Tsukidate)"):
        assert label in page
    ja_page = html(staff.get("/staff/residents/new?lang=ja"))
    assert ">霊山</option>" in ja_page and "(Ryozen)" not in ja_page


@pytest.mark.parametrize("changes, field, message", [
    ({"name_kanji": ""}, "name_kanji", "Enter the name."),  # no name
    ({"name_kana": "Hanako"}, "name_kana", "Enter the furigana in hiragana or katakana."),  # not kana
    ({"phone": "090-12"}, "phone", "Enter a phone number with 10 or 11 digits"),  # too short
    ({"phone": ""}, "phone", "Enter a phone number with 10 or 11 digits"),  # missing
    ({"birth_year": "19４"}, "birth_year", "Enter the year of birth as four digits"),  # three digits
    ({"district": ""}, "district", "Choose a district."),  # not chosen
    ({"device": ""}, "device", "Choose the kind of phone."),  # not chosen
    ({"source": ""}, "source", "Choose how the sign-up was received."),  # not chosen
    ({"source": "web"}, "source", "Choose how the sign-up was received."),  # not a staff channel
    ({"consent": ""}, "consent", "Ask if we may keep their details"),  # no consent
])
def test_add_resident_errors_keep_the_input(staff, catalog_db, changes, field, message):
    form = {**GOOD_FORM, **changes}
    response = staff.post("/staff/residents/new", data=form)
    assert 200 == response.status_code
    page = html(response)
    assert "<title>Error: Add a resident" in page
    assert f'<a href="#{field}">{message}' in page
    assert f'id="{field}-error"' in page
    assert [] == list(catalog_db.query("SELECT id FROM residents"))
    # Everything typed is still there.
    for name in ("name_kanji", "name_kana", "phone", "birth_year"):
        if form[name]:
            assert f'value="{form[name]}"' in page
    assert "耳が遠い</textarea>" in page
    assert re.search(r'value="line"\s+checked', page)
    assert not re.search(r'value="basics"\s+checked', page)
    if form["district"]:
        assert re.search(r'<option value="保原"\s+selected>', page)


def test_add_resident_lists_every_error_in_order(staff):
    page = html(staff.post("/staff/residents/new", data={"phone": "12"}))
    order = [page.index(f'href="#{name}"') for name in
             ("name_kanji", "name_kana", "phone", "district", "device", "source", "consent")]
    assert order == sorted(order)


def test_add_duplicate_shows_suggestions(staff, make_resident):
    old = make_resident(name_kanji="伊達 花子", name_kana="だて はなこ", phone="090-4321-8765")
    response = staff.post("/staff/residents/new", data=GOOD_FORM)
    new = int(response.headers["Location"].rsplit("/", 1)[1])
    page = html(staff.get(response.headers["Location"]))
    assert "This may be the same person as another record" in page
    assert "Same phone number" in page
    assert f'href="/staff/residents/merge?keep={new}&amp;other={old}"' in page


# --- duplicates and merge -----------------------------------------------------------------------

@pytest.fixture
def pair(make_session, make_resident, catalog_db):
    keep = make_resident(name_kanji="伊達 花子", name_kana="だて はなこ", phone="090-4321-8765", birth_year=1948)
    other = make_resident(name_kanji="伊達 はな子", name_kana="ダテ ハナコ", phone="090-4321-8765",
                          district="梁川")
    shared, only_other = make_session(day=1), make_session(day=2)
    book(catalog_db, shared, keep)
    book(catalog_db, shared, other)
    moved = book(catalog_db, only_other, other)["booking_id"]
    return {"keep": keep, "other": other, "moved": moved}


def test_duplicates_page_lists_pairs(staff, pair):
    page = html(staff.get("/staff/residents/duplicates"))
    assert f"Record {pair['keep']} and record {pair['other']}" in page
    assert f'href="/staff/residents/merge?keep={pair["keep"]}&amp;other={pair["other"]}"' in page
    assert "伊達" not in page  # ids only: names are shown on the audited compare page


def test_compare_page_shows_both_and_is_audited(staff, pair, catalog_db):
    page = html(staff.get(f"/staff/residents/merge?keep={pair['keep']}&other={pair['other']}"))
    assert "伊達 花子" in page and "伊達 はな子" in page
    assert re.search(rf'value="{pair["keep"]}"\s+checked', page)
    assert {pair["keep"], pair["other"]} == {r["entity_id"] for r in audit_rows(catalog_db, "compare")}


@pytest.mark.parametrize("query, status", [
    ("", 400),  # no records named
    ("?keep=1&other=1", 400),  # the same record twice
    ("?keep=1&other=999", 404),  # a record that does not exist
])
def test_compare_page_needs_two_records(staff, make_resident, query, status):
    make_resident()
    assert status == staff.get("/staff/residents/merge" + query).status_code


def test_merge_moves_bookings(staff, pair, catalog_db):
    response = staff.post("/staff/residents/merge", data={"first": pair["keep"], "second": pair["other"],
                                                           "keep": pair["keep"]})
    assert 302 == response.status_code
    assert f"/staff/residents/{pair['keep']}" == response.headers["Location"]
    assert pair["keep"] == bookings.get_booking(catalog_db, pair["moved"])["resident_id"]
    assert [] == list(catalog_db.query("SELECT id FROM bookings WHERE resident_id = ?", [pair["other"]]))
    merged = people.get_resident(catalog_db, pair["other"])
    assert pair["keep"] == merged["merged_into"]
    assert "梁川" == people.get_resident(catalog_db, pair["keep"])["district"]  # gap filled
    assert "Bookings moved: 2." in html(staff.get(response.headers["Location"]))


def test_merge_can_keep_the_second_record(staff, pair, catalog_db):
    staff.post("/staff/residents/merge", data={"first": pair["keep"], "second": pair["other"],
                                               "keep": pair["other"]})
    assert pair["other"] == people.get_resident(catalog_db, pair["keep"])["merged_into"]


@pytest.mark.parametrize("keep", [
    "",  # nothing chosen
    "999",  # a record that is not one of the two
])
def test_merge_needs_a_choice(staff, pair, catalog_db, keep):
    response = staff.post("/staff/residents/merge", data={"first": pair["keep"], "second": pair["other"],
                                                           "keep": keep})
    assert 400 == response.status_code
    assert 'href="#keep">Choose which record to keep.' in html(response)
    assert people.get_resident(catalog_db, pair["other"])["merged_into"] is None


def test_merge_of_already_merged_record_shows_error(staff, pair, catalog_db, make_resident):
    third = make_resident(phone="090-4321-8765")
    people.merge_residents(catalog_db, pair["keep"], pair["other"], actor="staff")
    response = staff.post("/staff/residents/merge", data={"first": third, "second": pair["other"],
                                                           "keep": third})
    assert 400 == response.status_code
    assert "We could not find that resident." in html(response)


# --- correct ----------------------------------------------------------------------------------

def test_correct_form_is_filled_in(staff, make_resident):
    rid = make_resident(name_kanji="伊達 花子", phone="09012345678", district="月舘", device="rakuraku",
                        topics_wanted=["maps"])
    page = html(staff.get(f"/staff/residents/{rid}/edit"))
    assert 'value="伊達 花子"' in page and 'value="090-1234-5678"' in page
    assert re.search(r'<option value="月舘"\s+selected>', page)
    assert re.search(r'value="rakuraku"\s+checked', page)
    assert re.search(r'value="maps"\s+checked', page)
    assert 'name="consent"' not in page and 'name="source"' not in page


def test_correct_resident(staff, make_resident, catalog_db):
    rid = make_resident(name_kanji="伊達 花子", name_kana="だて はなこ", phone="09012345678")
    form = {**GOOD_FORM, "phone": "024-577-1234", "district": "月舘", "topics_wanted": ["etax"]}
    response = staff.post(f"/staff/residents/{rid}/edit", data=form)
    assert 302 == response.status_code
    assert f"/staff/residents/{rid}" == response.headers["Location"]
    row = people.get_resident(catalog_db, rid)
    assert ("0245771234", "月舘", ["etax"]) == (row["phone"], row["district"], row["topics_wanted"])
    (entry,) = audit_rows(catalog_db, "update", "resident")
    assert (staff_actor(catalog_db), rid) == (entry["actor"], entry["entity_id"])


def test_correct_with_error_keeps_input(staff, make_resident, catalog_db):
    rid = make_resident(phone="09012345678")
    response = staff.post(f"/staff/residents/{rid}/edit", data={**GOOD_FORM, "name_kana": "Hana"})
    page = html(response)
    assert "<title>Error: Correct the details" in page
    assert 'value="Hana"' in page and 'value="090-4321-8765"' in page
    assert "09012345678" == people.get_resident(catalog_db, rid)["phone"]


# --- export ---------------------------------------------------------------------------------

def test_export_json(staff, make_session, make_resident, catalog_db):
    rid = make_resident(name_kanji="写し 花子", phone="09011112222")
    booking = book(catalog_db, make_session(day=1), rid)
    response = staff.post(f"/staff/residents/{rid}/export", data={"format": "json"})
    assert 200 == response.status_code
    assert f'attachment; filename="resident-{rid}.json"' == response.headers["Content-Disposition"]
    assert response.mimetype == "application/json"
    data = json.loads(html(response))
    assert ("写し 花子", "09011112222") == (data["name_kanji"], data["phone"])
    assert [booking["reference"]] == [b["reference"] for b in data["bookings"]]
    (row,) = audit_rows(catalog_db, "export", "resident")
    assert (staff_actor(catalog_db), rid) == (row["actor"], row["entity_id"])
    assert "no-store" == response.headers["Cache-Control"]


def test_export_csv(staff, make_resident, catalog_db):
    rid = make_resident(name_kanji="写し 花子")
    response = staff.post(f"/staff/residents/{rid}/export", data={"format": "csv"})
    assert f'attachment; filename="resident-{rid}.csv"' == response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert ["項目", "内容"] == rows[0]
    assert ["氏名", "写し 花子"] in rows
    assert 1 == len(audit_rows(catalog_db, "export", "resident"))


def test_export_is_post_only(staff, make_resident):
    assert 405 == staff.get(f"/staff/residents/{make_resident()}/export").status_code


# --- delete ----------------------------------------------------------------------------------

def test_delete_confirmation_explains(staff, make_resident):
    rid = make_resident(name_kanji="消去 花子")
    page = html(staff.get(f"/staff/residents/{rid}/delete"))
    assert "消去 花子" in page
    assert "This cannot be undone." in page
    assert f'action="/staff/residents/{rid}/delete"' in page


def test_delete_blanks_the_data(staff, make_session, make_resident, catalog_db):
    rid = make_resident(name_kanji="消去 花子", phone="09099998888", needs="補聴器")
    booking = book(catalog_db, make_session(day=1), rid)
    response = staff.post(f"/staff/residents/{rid}/delete")
    assert 302 == response.status_code
    assert "/staff/residents" == response.headers["Location"]
    row = people.get_resident(catalog_db, rid)
    assert ("（削除済み）", None, "") == (row["name_kanji"], row["phone"], row["needs"])
    assert "cancelled" == bookings.get_booking(catalog_db, booking["booking_id"])["status"]
    assert 1 == len(audit_rows(catalog_db, "erase", "resident"))


def test_no_personal_data_in_redirects(staff, make_resident, catalog_db):
    """Every redirect of the add, correct, merge and delete flows uses ids only."""
    old = make_resident(phone="090-4321-8765")
    secrets = ("09043218765", "090-4321-8765", "だて", "伊達", "%E4%BC%8A", "%E3%81%A0")
    locations = [staff.post("/staff/residents/new", data=GOOD_FORM).headers["Location"]]
    new = int(locations[0].rsplit("/", 1)[1])
    locations.append(staff.post(f"/staff/residents/{new}/edit", data=GOOD_FORM).headers["Location"])
    locations.append(staff.post("/staff/residents/merge", data={"first": new, "second": old,
                                                                "keep": new}).headers["Location"])
    locations.append(staff.post(f"/staff/residents/{new}/delete").headers["Location"])
    assert [f"/staff/residents/{new}"] * 3 + ["/staff/residents"] == locations
    for location in locations:
        assert not any(s in location for s in secrets)


# --- on the day --------------------------------------------------------------------------------

@pytest.fixture
def class_day(make_session, make_resident, catalog_db, app):
    sid = make_session(day=1)
    came = make_resident(name_kanji="出席 一郎", name_kana="しゅっせき いちろう")
    late = make_resident(name_kanji="遅刻 二郎", name_kana="ちこく じろう", needs="杖を使う")
    shift = shifts.book_shift(catalog_db, sid, app.config["VOLUNTEER_ID"], actor="staff")["shift_id"]
    return {"sid": sid, "came": book(catalog_db, sid, came)["booking_id"],
            "late": book(catalog_db, sid, late)["booking_id"], "shift": shift}


def test_today_lists_the_days_sessions(staff, class_day, make_session):
    other_day = make_session(day=3)
    page = html(staff.get(f"/staff/today?date={DAY1}"))
    assert f'href="/staff/attendance/{class_day["sid"]}"' in page
    assert f'href="/staff/attendance/{other_day}"' not in page
    assert "Tuesday, April 8, 2031" in page


def test_today_with_bad_date(staff):
    page = html(staff.get("/staff/today?date=2031-02-30"))
    assert "<title>Error: On the day" in page
    assert 'href="#date">Enter a real date and time.' in page


def test_attendance_page_lists_names_and_is_audited(staff, class_day, catalog_db):
    page = html(staff.get(f"/staff/attendance/{class_day['sid']}"))
    assert 'class="attendance-list"' in page
    for text in ("出席 一郎", "しゅっせき いちろう", "遅刻 二郎", "ちこく じろう", "杖を使う", "例 ボランティア"):
        assert text in page
    assert 3 == page.count("Tap to check in")
    (row,) = audit_rows(catalog_db, "view_attendance")
    assert (staff_actor(catalog_db), class_day["sid"]) == (row["actor"], row["entity_id"])


def test_attendance_toggle(staff, class_day, catalog_db):
    sid, bid = class_day["sid"], class_day["came"]
    response = staff.post(f"/staff/attendance/{sid}/booking", data={"booking_id": bid, "action": "check_in"})
    assert 302 == response.status_code
    assert f"/staff/attendance/{sid}#booking-{bid}" == response.headers["Location"]
    assert "attended" == bookings.get_booking(catalog_db, bid)["status"]
    page = html(staff.get(f"/staff/attendance/{sid}"))
    item = page[page.index(f'id="booking-{bid}"'):]
    item = item[:item.index("</li>")]
    assert "✓" in item and "Checked in" in item and 'value="undo"' in item
    staff.post(f"/staff/attendance/{sid}/booking", data={"booking_id": bid, "action": "undo"})
    assert "confirmed" == bookings.get_booking(catalog_db, bid)["status"]


def test_attendance_refuses_booking_of_another_class(staff, class_day, make_session, make_resident, catalog_db):
    other = book(catalog_db, make_session(day=2), make_resident())["booking_id"]
    response = staff.post(f"/staff/attendance/{class_day['sid']}/booking",
                          data={"booking_id": other, "action": "check_in"})
    assert 302 == response.status_code
    assert "confirmed" == bookings.get_booking(catalog_db, other)["status"]
    assert "We could not find that booking." in html(staff.get(response.headers["Location"]))


@pytest.mark.parametrize("data", [
    {"action": "check_in"},  # no booking id
    {"booking_id": "1", "action": "delete"},  # unknown action
])
def test_attendance_bad_post(staff, class_day, data):
    assert 400 == staff.post(f"/staff/attendance/{class_day['sid']}/booking", data=data).status_code


def test_mark_remaining_as_no_show(staff, class_day, catalog_db):
    sid = class_day["sid"]
    attendance.check_in(catalog_db, class_day["came"], actor="staff")
    page = html(staff.get(f"/staff/attendance/{sid}/no-show"))
    assert "遅刻 二郎" in page and "出席 一郎" not in page
    assert f'action="/staff/attendance/{sid}/no-show"' in page
    assert "attended" == bookings.get_booking(catalog_db, class_day["came"])["status"]  # GET changes nothing
    response = staff.post(f"/staff/attendance/{sid}/no-show")
    assert f"/staff/attendance/{sid}" == response.headers["Location"]
    assert ("attended", "no_show") == (bookings.get_booking(catalog_db, class_day["came"])["status"],
                                       bookings.get_booking(catalog_db, class_day["late"])["status"])
    page = html(staff.get(response.headers["Location"]))
    assert "Marked as did not come: 1." in page
    assert "✕" in page


@pytest.mark.parametrize("action, expected", [
    ("check_in", "attended"),  # the helper arrived
    ("no_show", "no_show"),  # the helper did not come
])
def test_helper_attendance(staff, class_day, catalog_db, action, expected):
    response = staff.post(f"/staff/attendance/{class_day['sid']}/helper",
                          data={"shift_id": class_day["shift"], "action": action})
    assert f"/staff/attendance/{class_day['sid']}#helper-{class_day['shift']}" == response.headers["Location"]
    assert expected == shifts.get_shift(catalog_db, class_day["shift"])["status"]
    staff.post(f"/staff/attendance/{class_day['sid']}/helper",
               data={"shift_id": class_day["shift"], "action": "undo"})
    assert "booked" == shifts.get_shift(catalog_db, class_day["shift"])["status"]


# --- call list and slips --------------------------------------------------------------------------

@pytest.fixture
def calls(make_session, make_resident, catalog_db):
    sid = make_session(day=1, seats=1)
    seated = make_resident(name_kanji="電話 一郎", phone="090-1000-0001")
    waiting = make_resident(name_kanji="電話 二郎", phone="090-1000-0002")
    cancelled = make_resident(name_kanji="取消 三郎", phone="090-1000-0003")
    other_day = make_resident(name_kanji="別日 四郎", phone="090-1000-0004")
    book(catalog_db, sid, seated)
    book(catalog_db, sid, waiting)
    gone = book(catalog_db, make_session(day=1, hour=14), cancelled)
    bookings.cancel_booking(catalog_db, gone["booking_id"], actor="staff")
    book(catalog_db, make_session(day=2), other_day)
    return sid


def test_call_list_page(staff, calls, catalog_db):
    response = staff.get(f"/staff/call-list?date={DAY1}")
    page = html(response)
    assert "電話 一郎" in page and "090-1000-0001" in page
    assert "電話 二郎" in page and "Waiting list (number 1)" in page
    assert "取消 三郎" not in page and "別日 四郎" not in page
    assert "data-print hidden" in page
    assert f'href="/staff/call-list.csv?date={DAY1}"' in page
    (row,) = audit_rows(catalog_db, "view_call_list")
    assert (staff_actor(catalog_db), {"day": DAY1, "residents": 2}) == (row["actor"], row["detail"])


def test_call_list_csv(staff, calls, catalog_db):
    response = staff.get(f"/staff/call-list.csv?date={DAY1}")
    assert f'attachment; filename="call-list-{DAY1}.csv"' == response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert "氏名" in rows[0] and "電話番号" in rows[0]
    assert ["電話 一郎", "電話 二郎"] == [r[rows[0].index("氏名")] for r in rows[1:]]
    assert 1 == len(audit_rows(catalog_db, "view_call_list"))


def test_call_list_bad_date(staff):
    assert 'href="#date">Enter a real date and time.' in html(staff.get("/staff/call-list?date=tomorrow"))
    assert 400 == staff.get("/staff/call-list.csv?date=tomorrow").status_code


@pytest.mark.parametrize("lang, date_text", [
    ("ja", "令和13年（2031年）4月8日（火）"),  # era date on Japanese pages
    ("en", "Tuesday, April 8, 2031"),  # Babel's full date elsewhere
])
def test_slip(staff, make_session, make_resident, catalog_db, lang, date_text):
    sid = make_session(day=1, bring="スマートフォン")
    booking = book(catalog_db, sid, make_resident(name_kanji="受講 花子"))
    page = html(staff.get(f"/staff/bookings/{booking['booking_id']}/slip?lang={lang}"))
    assert booking["reference"] in page
    assert date_text in page
    assert "受講 花子" in page
    assert "福島県伊達市保原町字舟橋180" in page
    assert "スマートフォン" in page
    assert "024-577-1111" in page
    assert "data-print hidden" in page
    assert 1 == len(audit_rows(catalog_db, "view_slip"))


def test_slip_of_missing_booking(staff):
    assert 404 == staff.get("/staff/bookings/999/slip").status_code


# --- records --------------------------------------------------------------------------------------

def test_audit_viewer_lists_newest_first(staff, make_resident, catalog_db):
    rid = make_resident(actor="user:42")
    staff.get(f"/staff/residents/{rid}")
    page = html(staff.get("/staff/audit"))
    view_at = page.index("<td>view</td>")
    create_at = page.index("<td>create</td>")
    assert view_at < create_at
    assert "<td>user:42</td>" in page


def test_audit_viewer_filters(staff, make_resident, make_session):
    make_resident(actor="user:42")
    make_session()
    page = html(staff.get("/staff/audit?entity=session"))
    assert "<td>session</td>" in page
    assert "<td>resident</td>" not in page
    page = html(staff.get("/staff/audit?actor=user:42"))
    assert "<td>user:42</td>" in page and "<td>system</td>" not in page


def test_audit_viewer_pages(staff, make_resident):
    for _ in range(55):
        make_resident(actor="user:77")
    first = html(staff.get("/staff/audit?actor=user:77"))
    assert 50 == first.count("<td>user:77</td>")
    assert 'href="/staff/audit?page=2&amp;actor=user:77"' in first
    second = html(staff.get("/staff/audit?actor=user:77&page=2"))
    assert 5 == second.count("<td>user:77</td>")
    assert "Older entries" not in second and "Newer entries" in second


@pytest.fixture
def report_data(make_session, make_resident, catalog_db, app):
    sid = make_session(day=1)
    later = make_session(day=40)
    rids = [make_resident(name_kanji=f"報告 {i}", birth_year=1950, district="伊達") for i in range(3)]
    first = [book(catalog_db, sid, rid)["booking_id"] for rid in rids]
    book(catalog_db, later, rids[0])
    attendance.check_in(catalog_db, first[0], actor="staff")
    attendance.check_in(catalog_db, first[1], actor="staff")
    shift = shifts.book_shift(catalog_db, sid, app.config["VOLUNTEER_ID"], actor="staff")
    attendance.check_in_helper(catalog_db, shift["shift_id"], actor="staff")
    return sid


def _export(staff, report, start=DAY1, end="2031-04-30", **extra):
    return staff.post("/staff/exports", data={"report": report, f"{report}-from": start, f"{report}-to": end,
                                              **extra})


def test_exports_page(staff):
    page = html(staff.get("/staff/exports"))
    for report in ("bookings", "hours", "participants"):
        assert f'name="report" value="{report}"' in page
        assert f'id="{report}-from"' in page


def test_export_bookings_csv(staff, report_data, catalog_db):
    response = _export(staff, "bookings")
    assert f'attachment; filename="bookings-{DAY1}_2031-04-30.csv"' == response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert ["予約ID", "開始日時", "内容", "会場", "講座の状態", "予約の状態", "申込方法", "受付日時"] == rows[0]
    assert 3 == len(rows) - 1  # the booking on day 40 is outside the range
    assert "報告" not in html(response)
    (row,) = audit_rows(catalog_db, "export", "bookings")
    assert (staff_actor(catalog_db), False) == (row["actor"], row["detail"]["personal"])


def test_export_bookings_with_names(staff, report_data, catalog_db):
    response = _export(staff, "bookings", **{"bookings-personal": "yes"})
    rows = csv_rows(response)
    assert ["予約番号", "氏名", "ふりがな", "電話番号"] == rows[0][-4:]
    assert {"報告 0", "報告 1", "報告 2"} == {r[9] for r in rows[1:]}
    assert audit_rows(catalog_db, "export", "bookings")[0]["detail"]["personal"] is True


def test_export_volunteer_hours_csv(staff, report_data, catalog_db, app):
    rows = csv_rows(_export(staff, "hours"))
    assert ["ボランティアID", "氏名", "活動時間"] == rows[0]
    assert [str(app.config["VOLUNTEER_ID"]), "例 ボランティア", "1.50"] in rows
    assert 1 == len(audit_rows(catalog_db, "export", "volunteer_hours"))


def test_export_participants_csv(staff, report_data, catalog_db):
    rows = csv_rows(_export(staff, "participants"))
    assert ["内容", "年代", "地区", "参加延べ人数", "参加実人数"] == rows[0]
    assert [["スマホの基本操作（電源・ボタン・画面の操作）", "75〜84歳", "伊達", "2", "2"]] == rows[1:]
    assert 1 == len(audit_rows(catalog_db, "export", "participants"))


@pytest.mark.parametrize("start, end, field, message", [
    ("", "2031-04-30", "hours-from", "Enter a real date, like 2026-04-01."),  # missing start
    (DAY1, "30/04/2031", "hours-to", "Enter a real date, like 2026-04-01."),  # not ISO
    ("2031-04-30", DAY1, "hours-to", "The end must be after the start."),  # backwards
])
def test_export_date_errors_keep_input(staff, catalog_db, start, end, field, message):
    response = _export(staff, "hours", start, end)
    page = html(response)
    assert "<title>Error: Exports" in page
    assert f'<a href="#{field}">{message}</a>' in page
    assert f'value="{end}"' in page
    assert [] == audit_rows(catalog_db, "export")

