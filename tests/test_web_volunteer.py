"""The volunteer area: my shifts, booking and cancelling, the session page, the calendar feed."""
from __future__ import annotations

import datetime as dt
import html
import re

import icalendar
import pytest

from conftest import BASE
from date_community import people, timeutil
from date_community.errors import NotFound
from date_community.scheduling import attendance, bookings, sessions, shifts
from webapp.messages import error_text


@pytest.fixture(autouse=True)
def _english_pages(request):
    """These tests read English text; flash messages are translated when the
    POST is handled, so every request of the conversation asks for English."""
    for name in ("client", "volunteer_client", "staff_client"):
        if name in request.fixturenames:
            request.getfixturevalue(name).set_cookie("lang", "en")



def _shift(db, sid, vid, role="assistant"):
    return shifts.book_shift(db, sid, vid, role=role, actor="test")["shift_id"]


def _live_shifts(db, vid):
    return [(r["session_id"], r["role"]) for r in db.query(
        "SELECT session_id, role FROM shifts WHERE volunteer_id = ? AND status = 'booked' ORDER BY id", [vid])]


def _soon(db, *, hours: float, minutes: int = 90, **fields) -> int:
    """A session starting ``hours`` from the real now (negative: already started)."""
    start = timeutil.now() + dt.timedelta(hours=hours)
    return sessions.add_session(db, topic="basics", venue="city-hall", starts_at=start,
                                ends_at=start + dt.timedelta(minutes=minutes), seats=10,
                                helpers_min=1, helpers_max=3, **fields)


def _message(app, code: str) -> str:
    # In English, like every page these tests request (see _english_pages).
    with app.test_request_context("/?lang=en"):
        return html.escape(error_text(code))


# --- library helpers the pages use -------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("伊達 花子", "花子"),  # family name, space, given name
    ("伊達　花子", "花子"),  # ideographic space
    ("  伊達   花子 ", "花子"),  # stray and repeated spaces
    ("Maria Garcia Lopez", "Garcia Lopez"),  # everything after the first space
    ("伊達花子", "伊"),  # no space: only the first character
    ("（削除済み）", "削"),  # brackets are not a name
    ("", ""),  # nothing to show
    (None, ""),  # missing
])
def test_first_name(name, expected):
    assert expected == people.first_name(name)


@pytest.mark.parametrize("day, first, last", [
    ("2031-04-01", dt.date(2031, 4, 1), dt.date(2032, 3, 31)),  # first day of the fiscal year
    ("2032-03-31", dt.date(2031, 4, 1), dt.date(2032, 3, 31)),  # last day belongs to the year before
    ("2031-12-25", dt.date(2031, 4, 1), dt.date(2032, 3, 31)),  # the middle
])
def test_hours_summary_counts_the_fiscal_year(make_session, make_volunteer, catalog_db, day, first, last):
    vid = make_volunteer()
    inside = make_session(day=30, minutes=120)  # 2031-05-07, in fiscal 2031
    before = make_session(day=-10, minutes=60)  # 2031-03-28, fiscal 2030
    for sid in (inside, before):
        attendance.check_in_helper(catalog_db, _shift(catalog_db, sid, vid), actor="staff")
    summary = attendance.hours_summary(catalog_db, vid, today=day)
    assert (3.0, 2.0, first, last) == (summary["total"], summary["fiscal_year"], summary["fiscal_start"],
                                       summary["fiscal_end"])


def test_cancel_own_shift_refuses_another_volunteers_shift(make_session, make_volunteer, catalog_db):
    me, other = make_volunteer(), make_volunteer()
    theirs = _shift(catalog_db, make_session(), other)
    with pytest.raises(NotFound) as excinfo:
        shifts.cancel_own_shift(catalog_db, theirs, me, actor="test")
    assert "shift_not_found" == excinfo.value.code
    assert "booked" == shifts.get_shift(catalog_db, theirs)["status"]


def test_session_for_volunteer_only_for_helpers_on_it(make_session, make_volunteer, make_resident, catalog_db):
    sid = make_session()
    me, stranger = make_volunteer(name="伊達 一郎"), make_volunteer()
    _shift(catalog_db, sid, me, role="lead")
    bookings.book_seat(catalog_db, sid, make_resident(name_kanji="保原 ハナ"), source="phone", actor="t")
    view = shifts.session_for_volunteer(catalog_db, sid, me, actor="user:9")
    assert (["ハナ"], 1) == (view["participants"], view["participant_count"])
    assert [{"first_name": "一郎", "role": "lead", "me": True}] == view["helpers"]
    logged = list(catalog_db.query("SELECT actor, detail FROM audit_log WHERE action = 'view_participants'"))
    assert [("user:9", '{"participants": 1}')] == [(r["actor"], r["detail"]) for r in logged]
    with pytest.raises(NotFound):
        shifts.session_for_volunteer(catalog_db, sid, stranger, actor="user:10")


# --- my shifts ---------------------------------------------------------------------

def test_index_lists_only_my_shifts(app, volunteer_client, make_session, make_volunteer, catalog_db):
    vid = app.config["VOLUNTEER_ID"]
    mine = make_session(day=2, topic="line")
    theirs = make_session(day=3, topic="maps")
    _shift(catalog_db, mine, vid, role="lead")
    _shift(catalog_db, theirs, make_volunteer())
    page = volunteer_client.get("/volunteer/").get_data(as_text=True)
    assert f"/volunteer/sessions/{mine}" in page
    assert f"/volunteer/sessions/{theirs}" not in page
    assert "Lead helper" in page
    assert 1 == page.count("Cancel this shift<")
    assert "/volunteer/calendar" in page


def test_index_shows_hours(app, volunteer_client, make_session, catalog_db):
    sid = make_session(day=-400, minutes=150)  # long ago: counts in total only
    attendance.check_in_helper(catalog_db, _shift(catalog_db, sid, app.config["VOLUNTEER_ID"]), actor="staff")
    page = volunteer_client.get("/volunteer/").get_data(as_text=True)
    assert "2.5 hours" in page
    assert "0 hours" in page  # this fiscal year


# --- sessions that need helpers and booking -----------------------------------------

def test_sessions_page_orders_and_marks_in_text(app, volunteer_client, make_session, make_volunteer, catalog_db):
    # The test volunteer's skills are ["basics"].
    plain = make_session(day=1, topic="maps", helpers_min=0)
    match = make_session(day=2, topic="basics", helpers_min=0)
    short = make_session(day=3, topic="maps", helpers_min=2)
    page = volunteer_client.get("/volunteer/sessions").get_data(as_text=True)
    order = [int(m) for m in re.findall(r'id="session-(\d+)"', page)]
    assert [short, match, plain] == order
    cards = dict(zip(order, page.split('id="session-')[1:]))
    assert "Needs helpers" in cards[short] and "Matches your skills" not in cards[short]
    assert "Matches your skills" in cards[match] and "Needs helpers" not in cards[match]
    assert "Needs helpers" not in cards[plain] and "Matches your skills" not in cards[plain]
    # Each card has its own role group, assistant chosen by default.
    assert re.search(rf'name="role-{plain}" value="assistant"\s+checked', cards[plain])


def test_booking_flow(app, volunteer_client, make_session, catalog_db):
    vid = app.config["VOLUNTEER_ID"]
    sid = make_session(day=5)
    response = volunteer_client.post("/volunteer/shifts", data={"session_id": sid, f"role-{sid}": "lead"})
    assert (302, "/volunteer/") == (response.status_code, response.headers["Location"])
    assert [(sid, "lead")] == _live_shifts(catalog_db, vid)
    page = volunteer_client.get("/volunteer/").get_data(as_text=True)
    assert "You are booked to help at this session" in page
    # Booked sessions leave the "need helpers" list.
    assert f'id="session-{sid}"' not in volunteer_client.get("/volunteer/sessions").get_data(as_text=True)
    # The booking queued a confirmation email for the volunteer.
    queued = list(catalog_db.query("SELECT kind, recipient FROM outbox WHERE kind = 'shift_booked'"))
    assert [{"kind": "shift_booked", "recipient": "helper@example.org"}] == queued


def _overlap(db, sid, vid, other):
    shifts.book_shift(db, sessions.add_session(
        db, topic="line", venue="hobara-chuo", starts_at=BASE + dt.timedelta(days=4, hours=1, minutes=30),
        ends_at=BASE + dt.timedelta(days=4, hours=3), seats=5, helpers_max=2), vid, actor="t")


def _full(db, sid, vid, other):
    sessions.update_session(db, sid, actor="t", helpers_min=1, helpers_max=1)
    shifts.book_shift(db, sid, other, actor="t")


def _lead(db, sid, vid, other):
    shifts.book_shift(db, sid, other, role="lead", actor="t")


def _mine(db, sid, vid, other):
    shifts.book_shift(db, sid, vid, actor="t")


@pytest.mark.parametrize("code, prepare, role", [
    ("overlapping_shift", _overlap, "assistant"),  # I already help elsewhere at the same time
    ("helpers_full", _full, "assistant"),  # the roster is full
    ("lead_taken", _lead, "lead"),  # someone else is already the lead
    ("already_on_shift", _mine, "assistant"),  # I already help at this session
    ("invalid_role", None, "boss"),  # a role that does not exist
])
def test_booking_errors_are_shown_in_words(app, volunteer_client, make_session, make_volunteer, catalog_db,
                                           code, prepare, role):
    vid = app.config["VOLUNTEER_ID"]
    sid = make_session(day=4, hour=10, minutes=120)
    if prepare:
        prepare(catalog_db, sid, vid, make_volunteer())
    before = _live_shifts(catalog_db, vid)
    response = volunteer_client.post("/volunteer/shifts", data={"session_id": sid, f"role-{sid}": role})
    page = response.get_data(as_text=True)
    assert response.status_code in (400, 409)
    assert _message(app, code) in page
    assert "<title>Error:" in page
    assert before == _live_shifts(catalog_db, vid)


def test_booking_a_started_session_is_refused(app, volunteer_client, catalog_db):
    sid = _soon(catalog_db, hours=-0.5)
    response = volunteer_client.post("/volunteer/shifts", data={"session_id": sid, f"role-{sid}": "assistant"})
    assert 409 == response.status_code
    assert _message(app, "session_past") in response.get_data(as_text=True)
    assert [] == _live_shifts(catalog_db, app.config["VOLUNTEER_ID"])


def test_booking_unknown_session_is_404(volunteer_client):
    assert 404 == volunteer_client.post("/volunteer/shifts", data={"session_id": 9999, "role": "assistant"}).status_code


# --- cancelling ----------------------------------------------------------------------

def test_cancel_own_shift(app, volunteer_client, make_session, catalog_db):
    vid = app.config["VOLUNTEER_ID"]
    shift_id = _shift(catalog_db, make_session(day=10), vid)
    response = volunteer_client.post(f"/volunteer/shifts/{shift_id}/cancel")
    assert 302 == response.status_code
    assert "cancelled" == shifts.get_shift(catalog_db, shift_id)["status"]
    assert "Your shift has been cancelled." in volunteer_client.get("/volunteer/").get_data(as_text=True)


def test_cancel_someone_elses_shift_is_404(volunteer_client, make_session, make_volunteer, catalog_db):
    shift_id = _shift(catalog_db, make_session(day=10), make_volunteer())
    assert 404 == volunteer_client.post(f"/volunteer/shifts/{shift_id}/cancel").status_code
    assert "booked" == shifts.get_shift(catalog_db, shift_id)["status"]


def test_cancel_too_late_shows_error(app, volunteer_client, catalog_db):
    # The cut-off is 48 hours by default; this session starts in 5.
    shift_id = _shift(catalog_db, _soon(catalog_db, hours=5), app.config["VOLUNTEER_ID"])
    response = volunteer_client.post(f"/volunteer/shifts/{shift_id}/cancel")
    assert 409 == response.status_code
    assert _message(app, "too_late_to_cancel") in response.get_data(as_text=True)
    assert "booked" == shifts.get_shift(catalog_db, shift_id)["status"]


def test_cancel_cutoff_comes_from_config(app, volunteer_client, catalog_db):
    app.config["SHIFT_CANCEL_CUTOFF_HOURS"] = 2
    shift_id = _shift(catalog_db, _soon(catalog_db, hours=5), app.config["VOLUNTEER_ID"])
    assert 302 == volunteer_client.post(f"/volunteer/shifts/{shift_id}/cancel").status_code
    assert "cancelled" == shifts.get_shift(catalog_db, shift_id)["status"]


# --- the session page: first names only ----------------------------------------------------

def test_session_page_shows_first_names_only(app, volunteer_client, make_session, make_resident, catalog_db):
    sid = make_session(day=6)
    _shift(catalog_db, sid, app.config["VOLUNTEER_ID"])
    residents = [
        make_resident(name_kanji="梁川 ウメ", name_kana="やながわ うめ", phone="090-4444-7777",
                      needs="耳が遠い", district="梁川"),
        make_resident(name_kanji="霊山 マツ", name_kana="りょうぜん まつ", phone="024-586-9911"),
    ]
    for rid in residents:
        bookings.book_seat(catalog_db, sid, rid, source="phone", actor="t")
    response = volunteer_client.get(f"/volunteer/sessions/{sid}")
    page = response.get_data(as_text=True)
    assert 200 == response.status_code
    assert "ウメ" in page and "マツ" in page
    assert "2 people are booked." in page
    for secret in ("梁川 ウメ", "霊山 マツ", "やながわ", "りょうぜん", "耳が遠い", "44447777", "4444-7777", "5869911",
                   "586-9911"):
        assert secret not in page
    assert "no-store" == response.headers["Cache-Control"]


def test_session_page_for_a_session_i_am_not_on_is_404(volunteer_client, make_session, make_volunteer, catalog_db):
    sid = make_session(day=6)
    _shift(catalog_db, sid, make_volunteer())
    assert 404 == volunteer_client.get(f"/volunteer/sessions/{sid}").status_code


# --- the calendar feed -----------------------------------------------------------------

def _feed_path(page: str) -> str:
    match = re.search(r"<code>http://localhost(/calendar/[A-Za-z0-9_-]+\.ics)</code>", page)
    assert match, "the page shows an absolute feed address"
    return match.group(1)


def test_calendar_page_and_feed(app, volunteer_client, client, make_session, catalog_db):
    sid = make_session(day=8)
    shift_id = _shift(catalog_db, sid, app.config["VOLUNTEER_ID"])
    page = volunteer_client.get("/volunteer/calendar").get_data(as_text=True)
    path = _feed_path(page)
    assert "webcal://localhost" + path in page
    token = people.get_volunteer(catalog_db, app.config["VOLUNTEER_ID"])["calendar_token"]
    assert f"/calendar/{token}.ics" == path

    response = client.get(path)  # no login needed
    assert 200 == response.status_code
    assert "text/calendar; charset=utf-8" == response.headers["Content-Type"]
    assert "no-store" == response.headers["Cache-Control"]
    events = icalendar.Calendar.from_ical(response.data).walk("VEVENT")
    assert [f"shift-{shift_id}@date-community"] == [str(e["UID"]) for e in events]


def test_renewing_the_address_retires_the_old_one(app, volunteer_client, client):
    old = _feed_path(volunteer_client.get("/volunteer/calendar").get_data(as_text=True))
    response = volunteer_client.post("/volunteer/calendar/renew")
    assert (302, "/volunteer/calendar") == (response.status_code, response.headers["Location"])
    new = _feed_path(volunteer_client.get("/volunteer/calendar").get_data(as_text=True))
    assert old != new
    assert 404 == client.get(old).status_code
    assert 200 == client.get(new).status_code


@pytest.mark.parametrize("path", [
    "/calendar/not-a-real-token.ics",  # a guessed token
    "/calendar/.ics",  # an empty token
])
def test_unknown_feed_token_is_404(client, path):
    assert 404 == client.get(path).status_code


def test_feed_failure_does_not_log_the_token(app, client, catalog_db, caplog, monkeypatch):
    token = people.get_volunteer(catalog_db, app.config["VOLUNTEER_ID"])["calendar_token"]

    def broken(db, token):
        raise RuntimeError(token)  # the worst case: the token inside the exception

    monkeypatch.setattr("date_community.scheduling.calendar.feed_for_token", broken)
    with caplog.at_level("DEBUG"):
        response = client.get(f"/calendar/{token}.ics")
    assert 500 == response.status_code
    assert "calendar feed failed: RuntimeError" in caplog.text
    assert token not in caplog.text


# --- who may see the volunteer area ------------------------------------------------------

VOLUNTEER_PAGES = [
    ("get", "/volunteer/"),  # my shifts
    ("get", "/volunteer/sessions"),  # sessions that need helpers
    ("get", "/volunteer/sessions/1"),  # one session
    ("get", "/volunteer/calendar"),  # the calendar page
    ("post", "/volunteer/shifts"),  # booking
    ("post", "/volunteer/shifts/1/cancel"),  # cancelling
    ("post", "/volunteer/calendar/renew"),  # renewing the feed address
]


@pytest.mark.parametrize("method, path", VOLUNTEER_PAGES)
def test_staff_cannot_use_the_volunteer_area(staff_client, method, path):
    assert 403 == getattr(staff_client, method)(path).status_code


@pytest.mark.parametrize("method, path", VOLUNTEER_PAGES)
def test_anonymous_users_are_sent_to_login(client, method, path):
    response = getattr(client, method)(path)
    assert 302 == response.status_code
    assert response.headers["Location"].startswith("/login?next=")
