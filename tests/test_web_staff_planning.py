"""The staff planning pages: sessions and series, booking on a resident's
behalf, the waitlist, venues, topics and volunteers' logins."""
from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape

import pytest

from conftest import BASE, VOLUNTEER_PASSWORD, login
from date_community import people, timeutil
from date_community.scheduling import bookings, catalog, sessions


def _text(response) -> str:
    return unescape(response.get_data(as_text=True))


def _ids(db):
    return catalog.get_topic(db, "basics")["id"], catalog.get_venue(db, "city-hall")["id"]


def _form(db, **overrides) -> dict:
    topic, venue = _ids(db)
    form = {"topic": str(topic), "venue": str(venue), "date": "2031-04-08", "start_time": "10:00",
            "end_time": "11:30", "kind": "class", "seats": "10", "walkin_seats": "2", "helpers_min": "1",
            "helpers_max": "3", "loaner_phones": "4", "signup_opens": "", "signup_closes": "",
            "bring": "", "notes": "", "repeat": "none", "repeat_until": "", "repeat_count": ""}
    form.update(overrides)
    return form


def _rows(db, sql, params=()):
    return list(db.query(sql, list(params)))


def _audit(db, entity, action):
    return [json.loads(r["detail"]) | {"actor": r["actor"], "entity_id": r["entity_id"]} for r in _rows(
        db, "SELECT * FROM audit_log WHERE entity = ? AND action = ? ORDER BY id", (entity, action))]


def _staff_actor(db):
    return "user:%d" % _rows(db, "SELECT id FROM users WHERE username = 'staff1'")[0]["id"]


def _series(db, count=3, seats=5):
    start = BASE + dt.timedelta(days=1, hours=1)  # Tuesday 2031-04-08 10:00
    return sessions.add_series(db, rule=f"FREQ=WEEKLY;BYDAY=TU;COUNT={count}", topic="basics", venue="city-hall",
                               starts_at=start, ends_at=start + dt.timedelta(minutes=90), seats=seats,
                               helpers_min=1, helpers_max=3)["session_ids"]


# --- every page, and who may see it -----------------------------------------------------

@pytest.fixture(autouse=True)
def _english_pages(request):
    """Flash messages are translated when the POST is handled, so the whole
    conversation must be in English for the assertions on English text."""
    if "staff_client" in request.fixturenames:
        request.getfixturevalue("staff_client").set_cookie("lang", "en")


@pytest.fixture
def pages(make_session, catalog_db):
    sid = make_session()
    vid = _rows(catalog_db, "SELECT id FROM volunteers")[0]["id"]
    topic, venue = _ids(catalog_db)
    return {
        "/staff/": "Staff area",
        "/staff/sessions": "Classes and sessions",
        "/staff/sessions/new": "Add a class",
        f"/staff/sessions/{sid}": "Smartphone basics: power, buttons and the touch screen",
        f"/staff/sessions/{sid}/edit": "Change a class",
        f"/staff/sessions/{sid}/cancel": "Cancel a class",
        f"/staff/sessions/{sid}/book": "Book a resident",
        "/staff/venues": "Venues",
        "/staff/venues/new": "Add a venue",
        f"/staff/venues/{venue}/edit": "Change a venue",
        "/staff/topics": "Topics",
        "/staff/topics/new": "Add a topic",
        f"/staff/topics/{topic}/edit": "Change a topic",
        "/staff/volunteers": "Volunteers",
        "/staff/volunteers/new": "Add a volunteer",
        f"/staff/volunteers/{vid}/password": "Reset a volunteer's password",
    }


def test_every_page_renders_for_staff(staff_client, pages):
    for url, heading in pages.items():
        response = staff_client.get(url, headers={"Accept-Language": "en"})
        assert 200 == response.status_code, url
        h1 = re.search(r"<h1>(.*?)</h1>", _text(response), re.S).group(1).strip()
        assert heading == h1, url
        assert "no-store" == response.headers["Cache-Control"], url
        assert "<script>" not in _text(response) and 'style="' not in _text(response), url


def test_anonymous_is_sent_to_log_in_and_volunteers_are_refused(app, client, volunteer_client, pages):
    for url in pages:
        anonymous = client.get(url)
        assert 302 == anonymous.status_code, url
        assert anonymous.headers["Location"].startswith("/login?next="), url
        assert 403 == volunteer_client.get(url).status_code, url


@pytest.mark.parametrize("url", [
    "/staff/sessions/new",  # creating a session
    "/staff/venues/new",  # creating a venue
    "/staff/topics/new",  # creating a topic
    "/staff/volunteers/new",  # creating a login
])
def test_volunteers_cannot_post(volunteer_client, client, catalog_db, url):
    before = _rows(catalog_db, "SELECT count(*) AS n FROM audit_log")[0]["n"]
    assert 403 == volunteer_client.post(url, data=_form(catalog_db)).status_code
    assert 302 == client.post(url, data=_form(catalog_db)).status_code
    assert before == _rows(catalog_db, "SELECT count(*) AS n FROM audit_log")[0]["n"]


def test_volunteer_cannot_move_or_cancel_bookings(volunteer_client, make_session, make_resident, catalog_db):
    sid = make_session(seats=1)
    bookings.book_seat(catalog_db, sid, make_resident(), source="phone", actor="t")
    waiting = bookings.book_seat(catalog_db, sid, make_resident(), source="phone", actor="t")["booking_id"]
    assert 403 == volunteer_client.post(f"/staff/sessions/{sid}/bookings/{waiting}/cancel").status_code
    assert "waitlisted" == bookings.get_booking(catalog_db, waiting)["status"]


# --- the dashboard --------------------------------------------------------------------------

def test_dashboard_lists_links_understaffed_and_today(staff_client, catalog_db):
    now = timeutil.now()
    midnight = dt.datetime.combine(now.date(), dt.time(0, 5), timeutil.TZ)
    today = sessions.add_session(catalog_db, topic="calls-camera", venue="city-hall", starts_at=midnight,
                                 ends_at=midnight + dt.timedelta(minutes=30), seats=5)
    short = sessions.add_session(catalog_db, topic="maps", venue="city-hall", starts_at=now + dt.timedelta(days=3),
                                 ends_at=now + dt.timedelta(days=3, hours=1), seats=5, helpers_min=2, helpers_max=3)
    later = sessions.add_session(catalog_db, topic="line", venue="city-hall", starts_at=now + dt.timedelta(days=20),
                                 ends_at=now + dt.timedelta(days=20, hours=1), seats=5, helpers_min=2, helpers_max=3)
    page = _text(staff_client.get("/staff/", headers={"Accept-Language": "en"}))
    today_part, rest = page.split("Classes that need more helpers", 1)
    short_part = rest.split('id="planning"', 1)[0]
    assert f"/staff/sessions/{today}" in today_part
    assert f"/staff/sessions/{short}" in short_part and "needs 2 to 3" in short_part
    assert f"/staff/sessions/{later}" not in page  # three weeks away: not on the dashboard
    for href in ("/staff/sessions", "/staff/venues", "/staff/topics", "/staff/volunteers", "/staff/residents",
                 "/staff/residents/duplicates", "/staff/today", "/staff/call-list", "/staff/audit",
                 "/staff/exports"):
        assert f'href="{href}"' in page, href


# --- session list ----------------------------------------------------------------------------

def test_session_list_filters_and_markers(staff_client, make_session, make_volunteer, catalog_db):
    shown = make_session(day=1, seats=3, helpers_min=2)
    bookings.book_seat(catalog_db, shown, people.add_resident(catalog_db, name_kanji="甲", name_kana="こう",
                                                              source="phone"), source="phone", actor="t")
    outside = make_session(day=40)
    cancelled = make_session(day=2)
    sessions.cancel_session(catalog_db, cancelled, actor="t")
    series = _series(catalog_db, count=2)
    url = "/staff/sessions?from=2031-04-07&to=2031-04-20"
    page = _text(staff_client.get(url, headers={"Accept-Language": "en"}))
    assert f"/staff/sessions/{shown}\"" in page
    assert f"/staff/sessions/{outside}\"" not in page
    assert f"/staff/sessions/{cancelled}\"" not in page
    assert "1 of 3 booked" in page and "0 booked, needs 2 to 3" in page and "Needs helpers" in page
    assert "Repeats: class 2 of the series" in page and f"/staff/sessions/{series[1]}\"" in page
    with_cancelled = _text(staff_client.get(url + "&cancelled=yes", headers={"Accept-Language": "en"}))
    assert f"/staff/sessions/{cancelled}\"" in with_cancelled and "Class cancelled" in with_cancelled


@pytest.mark.parametrize("query, field", [
    ("from=soon", "from"),  # not a date
    ("from=2031-04-10&to=2031-04-01", "to"),  # ends before it starts
])
def test_session_list_bad_dates(staff_client, query, field):
    response = staff_client.get("/staff/sessions?" + query, headers={"Accept-Language": "en"})
    assert 200 == response.status_code
    assert f'href="#{field}"' in _text(response)
    assert "<title>Error:" in _text(response)


# --- creating sessions and series --------------------------------------------------------------

def test_create_single_session(staff_client, catalog_db):
    form = _form(catalog_db, kind="consultation", signup_opens="2031-03-25T09:00", signup_closes="2031-04-07T17:00",
                 bring="スマートフォン", notes="Room 2")
    response = staff_client.post("/staff/sessions/new", data=form)
    assert 302 == response.status_code
    row = _rows(catalog_db, "SELECT * FROM sessions")[0]
    assert response.headers["Location"] == f"/staff/sessions/{row['id']}"
    assert {"starts_at": "2031-04-08T10:00:00+09:00", "ends_at": "2031-04-08T11:30:00+09:00",
            "kind": "consultation", "seats": 10, "walkin_seats": 2, "helpers_min": 1, "helpers_max": 3,
            "loaner_phones": 4, "signup_opens_at": "2031-03-25T09:00:00+09:00",
            "signup_closes_at": "2031-04-07T17:00:00+09:00", "bring": "スマートフォン", "notes": "Room 2",
            "series_id": None} == {k: row[k] for k in ("starts_at", "ends_at", "kind", "seats", "walkin_seats",
                                                       "helpers_min", "helpers_max", "loaner_phones",
                                                       "signup_opens_at", "signup_closes_at", "bring", "notes",
                                                       "series_id")}
    assert [_staff_actor(catalog_db)] == [a["actor"] for a in _audit(catalog_db, "session", "create")]
    detail = _text(staff_client.get(response.headers["Location"], headers={"Accept-Language": "en"}))
    assert "The class has been added." in detail and "Room 2" in detail


@pytest.mark.parametrize("repeat, end, rule, days", [
    ("monthly", {"repeat_count": "3"}, "FREQ=MONTHLY;BYDAY=+2TU;COUNT=3",
     ["2031-04-08", "2031-05-13", "2031-06-10"]),  # every 2nd Tuesday, three times
    ("weekly", {"repeat_until": "2031-04-22"}, "FREQ=WEEKLY;BYDAY=TU;UNTIL=20310422",
     ["2031-04-08", "2031-04-15", "2031-04-22"]),  # weekly, the last date included
    ("fortnightly", {"repeat_count": "2"}, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=2",
     ["2031-04-08", "2031-04-22"]),  # every two weeks
])
def test_create_series(staff_client, catalog_db, repeat, end, rule, days):
    form = _form(catalog_db, repeat=repeat, signup_closes="2031-04-07T12:00", **end)
    response = staff_client.post("/staff/sessions/new", data=form)
    assert 302 == response.status_code
    series = _rows(catalog_db, "SELECT * FROM series")
    assert [rule] == [s["rule"] for s in series]
    rows = _rows(catalog_db, "SELECT * FROM sessions ORDER BY series_index")
    assert days == [r["starts_at"][:10] for r in rows]
    assert {series[0]["id"]} == {r["series_id"] for r in rows}
    assert {10} == {r["seats"] for r in rows}
    # each occurrence's sign-up closes the day before it, at noon
    assert [f"{(dt.date.fromisoformat(d) - dt.timedelta(days=1)).isoformat()}T12:00:00+09:00" for d in days] == \
        [r["signup_closes_at"] for r in rows]
    assert response.headers["Location"] == f"/staff/sessions/{rows[0]['id']}"


@pytest.mark.parametrize("overrides, field", [
    ({"topic": ""}, "topic"),  # no topic chosen
    ({"venue": ""}, "venue"),  # no venue chosen
    ({"date": "8 April"}, "date"),  # not a date
    ({"start_time": "25:00"}, "start_time"),  # not a time
    ({"end_time": "09:00"}, "end_time"),  # ends before it starts (the library's rule)
    ({"kind": "party"}, "kind"),  # not a kind of session
    ({"seats": "ten"}, "seats"),  # not a number
    ({"seats": "-1"}, "seats"),  # negative
    ({"walkin_seats": "11"}, "walkin_seats"),  # more walk-in seats than seats (the library's rule)
    ({"helpers_min": "4"}, "helpers_max"),  # minimum above maximum (the library's rule)
    ({"signup_opens": "2031-04-05T09:00", "signup_closes": "2031-04-01T09:00"}, "signup_closes"),  # window reversed
    ({"signup_opens": "tomorrow"}, "signup_opens"),  # not a date and time
    ({"repeat": "weekly"}, "repeat_until"),  # repeats without an end
    ({"repeat": "weekly", "repeat_until": "2031-05-01", "repeat_count": "3"}, "repeat_until"),  # two ends
    ({"repeat": "monthly", "repeat_count": "1"}, "repeat_count"),  # one class is not a repeat
    ({"repeat": "weekly", "repeat_until": "2031-04-01"}, "repeat_until"),  # ends before the first class
    ({"repeat": "weekly", "repeat_until": "someday"}, "repeat_until"),  # not a date
    ({"repeat": "yearly", "repeat_count": "3"}, "repeat"),  # not a choice on the form
])
def test_create_validation_keeps_input(staff_client, catalog_db, overrides, field):
    form = _form(catalog_db, notes="Bring reading glasses", bring="充電器", **overrides)
    response = staff_client.post("/staff/sessions/new", data=form, headers={"Accept-Language": "en"})
    page = _text(response)
    assert 200 == response.status_code
    assert "<title>Error:" in page
    assert f'<a href="#{field}">' in page
    assert f'id="{field}-error"' in page
    assert "Bring reading glasses" in page and "充電器" in page
    for name in ("date", "start_time", "seats", "walkin_seats"):
        assert f'value="{form[name]}"' in page, name
    assert [] == _rows(catalog_db, "SELECT id FROM sessions")


def test_create_validation_lists_every_problem_in_page_order(staff_client, catalog_db):
    form = _form(catalog_db, topic="", date="", seats="", helpers_max="x")
    page = _text(staff_client.post("/staff/sessions/new", data=form, headers={"Accept-Language": "en"}))
    summary = page.split('class="error-summary"', 1)[1].split("</ul>", 1)[0]
    assert ["topic", "date", "seats", "helpers_max"] == re.findall(r'href="#([a-z_]+)"', summary)


# --- editing ---------------------------------------------------------------------------------

def _edit_form(db, sid, **overrides):
    s = sessions.get_session(db, sid)
    start, end = timeutil.parse(s["starts_at"]), timeutil.parse(s["ends_at"])
    form = _form(db, date=start.date().isoformat(), start_time=start.strftime("%H:%M"),
                 end_time=end.strftime("%H:%M"), seats=str(s["seats"]), walkin_seats=str(s["walkin_seats"]),
                 helpers_min=str(s["helpers_min"]), helpers_max=str(s["helpers_max"]),
                 loaner_phones=str(s["loaner_phones"]), scope="this")
    form.update(overrides)
    return form


def test_edit_form_is_filled_in(staff_client, make_session):
    sid = make_session(seats=7, walkin_seats=1, notes="二階")
    page = _text(staff_client.get(f"/staff/sessions/{sid}/edit"))
    for expected in ('value="2031-04-08"', 'value="10:00"', 'value="11:30"', 'value="7"', 'value="1"', "二階"):
        assert expected in page
    assert 'name="scope"' not in page  # a single session has nothing to choose


@pytest.mark.parametrize("scope, changed", [
    ("this", [5, 8, 5]),  # only the second class gets more seats
    ("following", [5, 8, 8]),  # the second and the third
])
def test_edit_scope(staff_client, catalog_db, scope, changed):
    ids = _series(catalog_db)
    assert 'name="scope"' in _text(staff_client.get(f"/staff/sessions/{ids[1]}/edit"))
    response = staff_client.post(f"/staff/sessions/{ids[1]}/edit",
                                 data=_edit_form(catalog_db, ids[1], seats="8", scope=scope))
    assert 302 == response.status_code
    assert changed == [sessions.get_session(catalog_db, sid)["seats"] for sid in ids]
    audited = _audit(catalog_db, "session", "update")
    assert [["seats"]] * (changed.count(8)) == [a["fields"] for a in audited]
    assert {scope} == {a["scope"] for a in audited}


def test_edit_following_moves_times_and_keeps_untouched_fields(staff_client, catalog_db):
    ids = _series(catalog_db)
    sessions.update_session(catalog_db, ids[2], actor="t", seats=9)  # the third class has extra seats
    form = _edit_form(catalog_db, ids[1], start_time="10:30", end_time="12:00", scope="following")
    assert 302 == staff_client.post(f"/staff/sessions/{ids[1]}/edit", data=form).status_code
    rows = [sessions.get_session(catalog_db, sid) for sid in ids]
    assert ["10:00", "10:30", "10:30"] == [r["starts_at"][11:16] for r in rows]
    assert ["11:30", "12:00", "12:00"] == [r["ends_at"][11:16] for r in rows]
    assert [5, 5, 9] == [r["seats"] for r in rows]  # the form's 5 was not copied over the 9


def test_edit_without_changes_changes_nothing(staff_client, make_session, catalog_db):
    sid = make_session()
    response = staff_client.post(f"/staff/sessions/{sid}/edit", data=_edit_form(catalog_db, sid, walkin_seats="0",
                                                                               loaner_phones="0"))
    assert 302 == response.status_code
    assert [] == _audit(catalog_db, "session", "update")


def test_edit_seats_below_confirmed(staff_client, make_session, make_resident, catalog_db):
    sid = make_session(seats=3)
    for _ in range(3):
        bookings.book_seat(catalog_db, sid, make_resident(), source="phone", actor="t")
    form = _edit_form(catalog_db, sid, seats="2", walkin_seats="0", loaner_phones="0")
    page = _text(staff_client.post(f"/staff/sessions/{sid}/edit", data=form, headers={"Accept-Language": "en"}))
    assert '<a href="#seats">More people are already booked than the new number of seats.</a>' in page
    assert 3 == sessions.get_session(catalog_db, sid)["seats"]


def test_cancelled_session_cannot_be_edited(staff_client, make_session, catalog_db):
    sid = make_session()
    sessions.cancel_session(catalog_db, sid, actor="t")
    response = staff_client.post(f"/staff/sessions/{sid}/edit", data=_edit_form(catalog_db, sid, seats="20"))
    assert f"/staff/sessions/{sid}" == response.headers["Location"]
    assert 10 == sessions.get_session(catalog_db, sid)["seats"]


def test_missing_session_is_404(staff_client):
    for url in ("/staff/sessions/999", "/staff/sessions/999/edit", "/staff/sessions/999/cancel",
                "/staff/sessions/999/book"):
        assert 404 == staff_client.get(url).status_code, url


# --- cancelling -------------------------------------------------------------------------------

def test_cancel_single_session(staff_client, make_session, make_resident, catalog_db):
    sid = make_session(seats=1)
    first = bookings.book_seat(catalog_db, sid, make_resident(), source="phone", actor="t")["booking_id"]
    second = bookings.book_seat(catalog_db, sid, make_resident(), source="phone", actor="t")["booking_id"]
    page = _text(staff_client.get(f"/staff/sessions/{sid}/cancel", headers={"Accept-Language": "en"}))
    assert "1 people are booked and 1 are on the waiting list" in page
    assert 'name="scope"' not in page
    response = staff_client.post(f"/staff/sessions/{sid}/cancel", data={"reason": "Hall closed for repairs"})
    assert f"/staff/sessions/{sid}" == response.headers["Location"]
    assert "cancelled" == sessions.get_session(catalog_db, sid)["status"]
    assert ["cancelled", "cancelled"] == [bookings.get_booking(catalog_db, b)["status"] for b in (first, second)]
    assert [("this", "Hall closed for repairs")] == [(a["scope"], a["reason"])
                                                     for a in _audit(catalog_db, "session", "cancel")]
    detail = _text(staff_client.get(f"/staff/sessions/{sid}", headers={"Accept-Language": "en"}))
    assert "The class has been cancelled." in detail and "Cancelled bookings (2)" in detail
    assert "Book a resident</a>" not in detail


@pytest.mark.parametrize("scope, statuses", [
    ("this", ["scheduled", "cancelled", "scheduled"]),  # one class off
    ("following", ["scheduled", "cancelled", "cancelled"]),  # the series ends early
])
def test_cancel_series_scope(staff_client, catalog_db, scope, statuses):
    ids = _series(catalog_db)
    assert 'name="scope"' in _text(staff_client.get(f"/staff/sessions/{ids[1]}/cancel"))
    staff_client.post(f"/staff/sessions/{ids[1]}/cancel", data={"scope": scope, "reason": ""})
    assert statuses == [sessions.get_session(catalog_db, sid)["status"] for sid in ids]


def test_cancel_with_a_bad_scope_shows_an_error(staff_client, catalog_db):
    ids = _series(catalog_db)
    page = _text(staff_client.post(f"/staff/sessions/{ids[0]}/cancel", data={"scope": "all"},
                                   headers={"Accept-Language": "en"}))
    assert '<a href="#scope">Choose which classes to change.</a>' in page
    assert ["scheduled"] * 3 == [sessions.get_session(catalog_db, sid)["status"] for sid in ids]


# --- booking on a resident's behalf -------------------------------------------------------------

def test_search_uses_the_post_body_not_the_url(staff_client, make_session, make_resident):
    sid = make_session()
    make_resident(name_kanji="伊達 政子", name_kana="だて まさこ")
    page = _text(staff_client.get(f"/staff/sessions/{sid}/book?q=だて"))
    assert "伊達 政子" not in page  # a query string is ignored: searches are POSTed
    assert re.search(r'<form method="post"[^>]*>\s*<input type="hidden" name="csrf_token"[^>]*>\s*'
                     r'<input type="hidden" name="action" value="search">', page)
    found = _text(staff_client.post(f"/staff/sessions/{sid}/book", data={"action": "search", "q": "ダテ"}))
    assert "伊達 政子" in found and "/staff/residents/new" in found


def test_search_needs_words(staff_client, make_session):
    sid = make_session()
    page = _text(staff_client.post(f"/staff/sessions/{sid}/book", data={"action": "search", "q": " "},
                                   headers={"Accept-Language": "en"}))
    assert '<a href="#q">Enter the furigana or the phone number to search for.</a>' in page


def test_book_confirmed_then_waitlisted(staff_client, make_session, make_resident, catalog_db):
    sid = make_session(seats=1)
    first = make_resident(name_kana="いちばん", phone="090-1111-2222")
    second = make_resident(name_kana="にばん")
    found = _text(staff_client.post(f"/staff/sessions/{sid}/book", data={"action": "search", "q": "090-1111"},
                                    headers={"Accept-Language": "en"}))
    assert "いちばん" in found and "phone 090-1111-2222" in found and "にばん" not in found

    response = staff_client.post(f"/staff/sessions/{sid}/book", data={
        "action": "book", "q": "090-1111", "resident_id": str(first), "source": "phone", "override_reason": ""})
    assert f"/staff/sessions/{sid}" == response.headers["Location"]
    booked = _rows(catalog_db, "SELECT * FROM bookings WHERE resident_id = ?", [first])[0]
    assert ("confirmed", "phone", _staff_actor(catalog_db), None) == \
        (booked["status"], booked["source"], booked["entered_by"], booked["override_reason"])
    assert f"The booking reference is {booked['reference']}." in _text(
        staff_client.get(response.headers["Location"], headers={"Accept-Language": "en"}))

    staff_client.post(f"/staff/sessions/{sid}/book", data={
        "action": "book", "q": "にばん", "resident_id": str(second), "source": "counter"})
    waiting = _rows(catalog_db, "SELECT * FROM bookings WHERE resident_id = ?", [second])[0]
    assert ("waitlisted", 1, "counter") == (waiting["status"], waiting["position"], waiting["source"])
    detail = _text(staff_client.get(f"/staff/sessions/{sid}", headers={"Accept-Language": "en"}))
    assert "on the waiting list at number 1" in detail
    assert "Booked (1)" in detail and "Waiting list (1)" in detail and "090-1111-2222" in detail


@pytest.mark.parametrize("data, field", [
    ({"resident_id": ""}, "resident_id"),  # no one chosen
    ({"source": "web"}, "source"),  # staff book by phone or at the counter
    ({"source": ""}, "source"),  # nothing chosen
])
def test_book_validation(staff_client, make_session, make_resident, catalog_db, data, field):
    sid = make_session()
    rid = make_resident(name_kana="みほん")
    form = {"action": "book", "q": "みほん", "resident_id": str(rid), "source": "phone", **data}
    page = _text(staff_client.post(f"/staff/sessions/{sid}/book", data=form, headers={"Accept-Language": "en"}))
    assert f'<a href="#{field}">' in page
    assert [] == _rows(catalog_db, "SELECT id FROM bookings")


def test_book_twice_is_refused(staff_client, make_session, make_resident, catalog_db):
    sid = make_session()
    rid = make_resident(name_kana="みほん")
    form = {"action": "book", "q": "みほん", "resident_id": str(rid), "source": "phone"}
    staff_client.post(f"/staff/sessions/{sid}/book", data=form)
    page = _text(staff_client.post(f"/staff/sessions/{sid}/book", data=form, headers={"Accept-Language": "en"}))
    assert '<a href="#resident_id">This person is already booked on this class.</a>' in page
    assert 1 == len(_rows(catalog_db, "SELECT id FROM bookings"))


def test_staff_override_reason_is_required_and_audited(staff_client, make_session, make_resident, catalog_db):
    # sign-up opens long after today's date, so only an override can book now
    sid = make_session(signup_opens_at=BASE + dt.timedelta(hours=1))
    rid = make_resident(name_kana="みほん")
    form = {"action": "book", "q": "みほん", "resident_id": str(rid), "source": "counter", "override_reason": ""}
    page = _text(staff_client.post(f"/staff/sessions/{sid}/book", data=form, headers={"Accept-Language": "en"}))
    assert '<a href="#override_reason">Sign-up for this class has not opened yet. To book anyway, enter the reason.' \
        in page
    assert [] == _rows(catalog_db, "SELECT id FROM bookings")

    form["override_reason"] = "Came to the counter with her son"
    assert 302 == staff_client.post(f"/staff/sessions/{sid}/book", data=form).status_code
    booking = _rows(catalog_db, "SELECT * FROM bookings")[0]
    assert "Came to the counter with her son" == booking["override_reason"]
    entry = _audit(catalog_db, "booking", "book")[0]
    assert ("Came to the counter with her son", _staff_actor(catalog_db), booking["id"]) == \
        (entry["override_reason"], entry["actor"], entry["entity_id"])


def test_overlapping_booking_can_be_overridden(staff_client, make_session, make_resident, catalog_db):
    first = make_session(hour=10)
    clash = make_session(hour=10.5)
    rid = make_resident(name_kana="みほん")
    bookings.book_seat(catalog_db, first, rid, source="phone", actor="t")
    form = {"action": "book", "q": "みほん", "resident_id": str(rid), "source": "phone"}
    page = _text(staff_client.post(f"/staff/sessions/{clash}/book", data=form, headers={"Accept-Language": "en"}))
    assert "already booked on another class at the same time. To book anyway" in page
    form["override_reason"] = "Will leave the first class early"
    staff_client.post(f"/staff/sessions/{clash}/book", data=form)
    assert ["confirmed"] == [b["status"] for b in _rows(catalog_db, "SELECT * FROM bookings WHERE session_id = ?",
                                                        [clash])]


# --- the waitlist ----------------------------------------------------------------------------------

def _full_session(make_session, make_resident, db, waiting=3):
    sid = make_session(seats=1)
    confirmed = bookings.book_seat(db, sid, make_resident(), source="phone", actor="t")["booking_id"]
    queue = [bookings.book_seat(db, sid, make_resident(), source="phone", actor="t")["booking_id"]
             for _ in range(waiting)]
    return sid, confirmed, queue


def _queue(db, sid):
    return [b["id"] for b in bookings.waitlist(db, sid)]


@pytest.mark.parametrize("index, direction, order", [
    (0, "down", [1, 0, 2]),  # the first moves down one place
    (2, "up", [0, 2, 1]),  # the last moves up one place
    (1, "up", [1, 0, 2]),  # the middle one moves to the front
])
def test_move_in_waitlist(staff_client, make_session, make_resident, catalog_db, index, direction, order):
    sid, _, queue = _full_session(make_session, make_resident, catalog_db)
    response = staff_client.post(f"/staff/sessions/{sid}/bookings/{queue[index]}/move", data={"direction": direction})
    assert f"/staff/sessions/{sid}#waiting-list" == response.headers["Location"]
    assert [queue[i] for i in order] == _queue(catalog_db, sid)
    assert [(queue[index], _staff_actor(catalog_db))] == [(a["entity_id"], a["actor"])
                                                          for a in _audit(catalog_db, "booking", "reorder")]


def test_move_past_the_end_is_refused(staff_client, make_session, make_resident, catalog_db):
    sid, _, queue = _full_session(make_session, make_resident, catalog_db, waiting=2)
    staff_client.post(f"/staff/sessions/{sid}/bookings/{queue[1]}/move", data={"direction": "down"})
    assert queue == _queue(catalog_db, sid)


def test_booking_of_another_session_is_404(staff_client, make_session, make_resident, catalog_db):
    sid, confirmed, queue = _full_session(make_session, make_resident, catalog_db)
    other = make_session(day=3)
    assert 404 == staff_client.post(f"/staff/sessions/{other}/bookings/{queue[0]}/move",
                                    data={"direction": "down"}).status_code
    assert 404 == staff_client.post(f"/staff/sessions/{other}/bookings/{confirmed}/cancel").status_code
    assert "confirmed" == bookings.get_booking(catalog_db, confirmed)["status"]


def test_cancel_confirmed_booking_shows_who_was_promoted(staff_client, make_session, make_resident, catalog_db):
    sid, confirmed, queue = _full_session(make_session, make_resident, catalog_db)
    response = staff_client.post(f"/staff/sessions/{sid}/bookings/{confirmed}/cancel")
    assert f"/staff/sessions/{sid}?promoted={queue[0]}" == response.headers["Location"]
    assert ("cancelled", "confirmed") == (bookings.get_booking(catalog_db, confirmed)["status"],
                                          bookings.get_booking(catalog_db, queue[0])["status"])
    page = _text(staff_client.get(response.headers["Location"], headers={"Accept-Language": "en"}))
    booked = page.split('id="booked"', 1)[1].split('id="waiting-list"', 1)[0]
    promoted = people.get_resident(catalog_db, bookings.get_booking(catalog_db, queue[0])["resident_id"])
    row = booked.split(promoted["name_kanji"], 1)[1].split("</tr>", 1)[0]
    assert "Moved up from the waiting list: please phone" in row
    assert "The first person on the waiting list now has a seat." in page


def test_cancel_waitlisted_booking(staff_client, make_session, make_resident, catalog_db):
    sid, _, queue = _full_session(make_session, make_resident, catalog_db)
    response = staff_client.post(f"/staff/sessions/{sid}/bookings/{queue[0]}/cancel")
    assert f"/staff/sessions/{sid}" == response.headers["Location"]
    assert queue[1:] == _queue(catalog_db, sid)
    again = staff_client.post(f"/staff/sessions/{sid}/bookings/{queue[0]}/cancel")
    assert "This booking has already been cancelled." in _text(
        staff_client.get(again.headers["Location"], headers={"Accept-Language": "en"}))


# --- venues and topics -------------------------------------------------------------------------------

def _venue_form(db, **overrides):
    v = catalog.get_venue(db, "city-hall")
    form = {k: "" if v[k] is None else str(v[k]) for k in ("name_ja", "name_en", "district", "address", "seats",
                                                           "lat", "lon", "coord_quality", "barrier_free",
                                                           "source_url")}
    form.update(overrides)
    return form


def test_venue_list_and_edit(staff_client, catalog_db):
    vid = catalog.get_venue(catalog_db, "city-hall")["id"]
    assert catalog.get_venue(catalog_db, vid)["name_ja"] in _text(staff_client.get("/staff/venues"))
    response = staff_client.post(f"/staff/venues/{vid}/edit", data=_venue_form(
        catalog_db, name_en="Date City Hall (main building)", seats="40", slug="hacked"))
    assert "/staff/venues" == response.headers["Location"]
    venue = catalog.get_venue(catalog_db, vid)
    assert ("city-hall", "Date City Hall (main building)", 40) == (venue["slug"], venue["name_en"], venue["seats"])
    assert [vid] == [a["entity_id"] for a in _audit(catalog_db, "venue", "update")]


def test_venue_new(staff_client, catalog_db):
    form = {"slug": "new-hall", "name_ja": "新しい集会所", "name_en": "New hall", "district": "梁川", "address": "",
            "seats": "20", "lat": "37.85", "lon": "140.6", "coord_quality": "approx", "barrier_free": "",
            "source_url": ""}
    assert 302 == staff_client.post("/staff/venues/new", data=form).status_code
    venue = catalog.get_venue(catalog_db, "new-hall")
    assert ("新しい集会所", "梁川", 37.85, 140.6, "approx") == \
        (venue["name_ja"], venue["district"], venue["lat"], venue["lon"], venue["coord_quality"])


@pytest.mark.parametrize("overrides, field", [
    ({"name_ja": ""}, "name_ja"),  # no Japanese name
    ({"name_en": " "}, "name_en"),  # no English name
    ({"district": "東京"}, "district"),  # not one of Date's districts
    ({"seats": "many"}, "seats"),  # not a number
    ({"lat": "north"}, "lat"),  # not a number
    ({"lat": "137.8"}, "lat"),  # beyond 90 degrees
    ({"lat": "37.8", "lon": ""}, "lon"),  # only half a position
])
def test_venue_validation_keeps_input(staff_client, catalog_db, overrides, field):
    vid = catalog.get_venue(catalog_db, "city-hall")["id"]
    before = catalog.get_venue(catalog_db, vid)
    form = _venue_form(catalog_db, address="保原町 1-2-3", **overrides)
    page = _text(staff_client.post(f"/staff/venues/{vid}/edit", data=form, headers={"Accept-Language": "en"}))
    assert f'<a href="#{field}">' in page and "<title>Error:" in page
    assert 'value="保原町 1-2-3"' in page
    assert before == catalog.get_venue(catalog_db, vid)


@pytest.mark.parametrize("slug", [
    "city-hall",  # already in use: would silently overwrite that venue
    "City Hall",  # not a code
    "",  # missing
])
def test_venue_new_needs_a_fresh_code(staff_client, catalog_db, slug):
    before = len(catalog.list_venues(catalog_db))
    form = {"slug": slug, "name_ja": "会場", "name_en": "Hall", "district": "伊達", "seats": "5"}
    page = _text(staff_client.post("/staff/venues/new", data=form, headers={"Accept-Language": "en"}))
    assert '<a href="#slug">' in page
    assert before == len(catalog.list_venues(catalog_db))


def test_topic_list_and_edit(staff_client, catalog_db):
    topic = catalog.get_topic(catalog_db, "basics")
    assert topic["title_en"] in _text(staff_client.get("/staff/topics", headers={"Accept-Language": "en"}))
    form = {f"title_{lang}": topic[f"title_{lang}"] for lang in catalog.LANGS}
    form.update(title_en="Smartphone basics", sort_order="5", code="other")
    assert "/staff/topics" == staff_client.post(f"/staff/topics/{topic['id']}/edit", data=form).headers["Location"]
    changed = catalog.get_topic(catalog_db, topic["id"])
    assert ("basics", "Smartphone basics", 5, topic["title_ja"]) == \
        (changed["code"], changed["title_en"], changed["sort_order"], changed["title_ja"])


@pytest.mark.parametrize("missing", ["title_ja", "title_en", "title_zh_Hans", "title_zh_Hant", "title_ko"])
def test_topic_needs_all_five_titles(staff_client, catalog_db, missing):
    # each of the five languages is required
    form = {"code": "scams", "sort_order": "9", "title_ja": "詐欺対策", "title_en": "Avoiding scams",
            "title_zh_Hans": "防诈骗", "title_zh_Hant": "防詐騙", "title_ko": "사기 예방", missing: ""}
    page = _text(staff_client.post("/staff/topics/new", data=form, headers={"Accept-Language": "en"}))
    assert f'<a href="#{missing}">' in page
    assert 'value="Avoiding scams"' in page or missing == "title_en"
    form[missing] = "x"
    assert 302 == staff_client.post("/staff/topics/new", data=form).status_code
    assert "x" == catalog.get_topic(catalog_db, "scams")[missing]


# --- volunteers -----------------------------------------------------------------------------------------

def _volunteer_form(**overrides):
    form = {"name": "佐藤 花子", "name_kana": "さとう はなこ", "email": "sato@example.org", "phone": "",
            "skills": ["basics", "maps"], "devices": ["android"], "username": "sato", "password": "first-password-1"}
    form.update(overrides)
    return form


def test_volunteer_list(staff_client, app):
    page = _text(staff_client.get("/staff/volunteers", headers={"Accept-Language": "en"}))
    row = page.split("例 ボランティア", 1)[1].split("</tr>", 1)[0]
    assert "helper@example.org" in row and "vol1" in row and "Active" in row
    assert "Smartphone basics: power, buttons and the touch screen" in row  # the topic title, not its code


def test_create_volunteer_with_typed_password(staff_client, app, catalog_db):
    response = staff_client.post("/staff/volunteers/new", data=_volunteer_form())
    assert "/staff/volunteers" == response.headers["Location"]
    volunteer = _rows(catalog_db, "SELECT * FROM volunteers WHERE email = 'sato@example.org'")[0]
    assert (["basics", "maps"], ["android"]) == (json.loads(volunteer["skills"]), json.loads(volunteer["devices"]))
    fresh = app.test_client()
    assert "/volunteer/" == login(fresh, "sato", "first-password-1").headers["Location"]


def test_create_volunteer_with_generated_password(staff_client, app, catalog_db):
    response = staff_client.post("/staff/volunteers/new", data=_volunteer_form(password=""),
                                 headers={"Accept-Language": "en"})
    assert 200 == response.status_code and "no-store" == response.headers["Cache-Control"]
    password = re.search(r'<dd class="reference">([^<]+)</dd>', _text(response)).group(1)
    assert "It will not be shown again." in _text(response)
    assert 302 == login(app.test_client(), "sato", password).status_code
    assert password not in json.dumps([dict(r) for r in _rows(catalog_db, "SELECT * FROM audit_log")])


@pytest.mark.parametrize("overrides, field", [
    ({"name": ""}, "name"),  # no name
    ({"email": ""}, "email"),  # no email
    ({"email": "sato-at-example"}, "email"),  # not an email address
    ({"email": "helper@example.org"}, "email"),  # already a volunteer's address
    ({"username": ""}, "username"),  # no user name
    ({"username": "vol1"}, "username"),  # user name taken
    ({"password": "short"}, "password"),  # shorter than ten characters
    ({"phone": "12345"}, "phone"),  # not a phone number
    ({"name_kana": "Sato"}, "name_kana"),  # furigana in Latin letters
])
def test_create_volunteer_validation(staff_client, catalog_db, overrides, field):
    before = [_rows(catalog_db, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("volunteers", "users")]
    form = _volunteer_form(**overrides)
    page = _text(staff_client.post("/staff/volunteers/new", data=form, headers={"Accept-Language": "en"}))
    assert f'<a href="#{field}">' in page and "<title>Error:" in page
    assert "first-password-1" not in page  # a typed password is never sent back
    if field != "name":
        assert 'value="佐藤 花子"' in page
    assert 'value="basics" checked' in page and 'value="android" checked' in page
    assert before == [_rows(catalog_db, f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in ("volunteers", "users")]


def test_deactivate_and_reactivate_volunteer(staff_client, app, catalog_db):
    vid = app.config["VOLUNTEER_ID"]
    logged_in = app.test_client()
    login(logged_in, "vol1", VOLUNTEER_PASSWORD)
    assert 200 == logged_in.get("/volunteer/").status_code

    assert "/staff/volunteers" == staff_client.post(f"/staff/volunteers/{vid}/active",
                                                    data={"active": "0"}).headers["Location"]
    assert 302 == logged_in.get("/volunteer/").status_code  # the open session has ended
    failed = login(app.test_client(), "vol1", VOLUNTEER_PASSWORD)
    assert 200 == failed.status_code  # the login form again, with an error
    assert "Inactive" in _text(staff_client.get("/staff/volunteers", headers={"Accept-Language": "en"}))

    staff_client.post(f"/staff/volunteers/{vid}/active", data={"active": "1"})
    assert 302 == login(app.test_client(), "vol1", VOLUNTEER_PASSWORD).status_code
    assert [vid, vid] == [a["entity_id"] for a in _audit(catalog_db, "volunteer", "deactivate")
                          + _audit(catalog_db, "volunteer", "activate")]


@pytest.mark.parametrize("data", [
    {},  # nothing said: not a reason to lock someone out
    {"active": "no"},  # not one of the two values the form sends
])
def test_volunteer_active_needs_an_explicit_value(staff_client, app, catalog_db, data):
    vid = app.config["VOLUNTEER_ID"]
    assert 400 == staff_client.post(f"/staff/volunteers/{vid}/active", data=data).status_code
    assert people.get_volunteer(catalog_db, vid)["active"] is True


@pytest.mark.parametrize("typed", [
    "",  # staff let the system make one
    "a-new-password-99",  # staff typed one
])
def test_reset_password(staff_client, app, typed):
    vid = app.config["VOLUNTEER_ID"]
    response = staff_client.post(f"/staff/volunteers/{vid}/password", data={"password": typed},
                                 headers={"Accept-Language": "en"})
    assert 200 == response.status_code and "no-store" == response.headers["Cache-Control"]
    shown = re.search(r'<dd class="reference">([^<]+)</dd>', _text(response))
    if typed:
        assert shown is None and "The password you typed is now in use." in _text(response)
        new = typed
    else:
        new = shown.group(1)
    assert 200 == login(app.test_client(), "vol1", VOLUNTEER_PASSWORD).status_code  # the old one fails
    assert 302 == login(app.test_client(), "vol1", new).status_code


def test_reset_password_too_short(staff_client, app):
    vid = app.config["VOLUNTEER_ID"]
    page = _text(staff_client.post(f"/staff/volunteers/{vid}/password", data={"password": "short"},
                                   headers={"Accept-Language": "en"}))
    assert '<a href="#password">Enter a password of at least 15 characters' in page
    assert 302 == login(app.test_client(), "vol1", VOLUNTEER_PASSWORD).status_code


def test_reset_password_without_a_login(staff_client, make_volunteer):
    vid = make_volunteer()
    page = _text(staff_client.get(f"/staff/volunteers/{vid}/password", headers={"Accept-Language": "en"}))
    assert "This volunteer has no login" in page and 'name="password"' not in page
    assert 404 == staff_client.get("/staff/volunteers/9999/password").status_code
