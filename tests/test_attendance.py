"""On the day: check-in, no-shows, undo, and volunteer hours."""
from __future__ import annotations

import datetime as dt

import pytest

from conftest import BASE
from date_community.errors import NotFound, RuleViolation
from date_community.scheduling import attendance, bookings, shifts


def _book(db, sid, rid):
    return bookings.book_seat(db, sid, rid, source="counter", actor="staff")["booking_id"]


def _status(db, booking_id):
    return bookings.get_booking(db, booking_id)["status"]


def _actions(db, entity, entity_id):
    return [r["action"] for r in db.query("SELECT action FROM audit_log WHERE entity = ? AND entity_id = ? "
                                          "ORDER BY id", [entity, entity_id])]


@pytest.mark.parametrize("steps, final", [
    ([attendance.check_in], "attended"),  # arrived
    ([attendance.mark_no_show], "no_show"),  # did not come
    ([attendance.check_in, attendance.undo_check_in], "confirmed"),  # a mistaken tap undone
    ([attendance.mark_no_show, attendance.check_in], "attended"),  # turned up late after all
    ([attendance.check_in, attendance.mark_no_show], "no_show"),  # checked in the wrong person
])
def test_check_in_transitions(make_session, make_resident, catalog_db, steps, final):
    bid = _book(catalog_db, make_session(), make_resident())
    for step in steps:
        result = step(catalog_db, bid, actor="staff:1")
    assert {"booking_id": bid, "status": final} == result
    assert final == _status(catalog_db, bid)
    assert ["book"] + [{"check_in": "attended", "mark_no_show": "no_show", "undo_check_in": "confirmed"}[
        s.__name__] for s in steps] == _actions(catalog_db, "booking", bid)


@pytest.mark.parametrize("step", [
    attendance.check_in,  # cannot check in
    attendance.mark_no_show,  # cannot mark absent
    attendance.undo_check_in,  # cannot revive it through undo
])
def test_cancelled_booking_is_not_active(make_session, make_resident, catalog_db, step):
    bid = _book(catalog_db, make_session(), make_resident())
    bookings.cancel_booking(catalog_db, bid, actor="staff")
    with pytest.raises(RuleViolation) as info:
        step(catalog_db, bid, actor="staff")
    assert "booking_not_active" == info.value.code
    assert "cancelled" == _status(catalog_db, bid)


def test_waitlisted_booking_cannot_be_checked_in(make_session, make_resident, catalog_db):
    sid = make_session(seats=1)
    _book(catalog_db, sid, make_resident())
    waiting = _book(catalog_db, sid, make_resident())
    with pytest.raises(RuleViolation) as info:
        attendance.check_in(catalog_db, waiting, actor="staff")
    assert "booking_not_active" == info.value.code


def test_unknown_booking(catalog_db):
    with pytest.raises(NotFound) as info:
        attendance.check_in(catalog_db, 9999, actor="staff")
    assert "booking_not_found" == info.value.code


def test_helper_check_in_and_no_show(make_session, make_volunteer, catalog_db):
    sid = make_session()
    a = shifts.book_shift(catalog_db, sid, make_volunteer(), actor="staff")["shift_id"]
    b = shifts.book_shift(catalog_db, sid, make_volunteer(), actor="staff")["shift_id"]
    attendance.check_in_helper(catalog_db, a, actor="staff")
    attendance.mark_helper_no_show(catalog_db, b, actor="staff")
    assert ("attended", "no_show") == (shifts.get_shift(catalog_db, a)["status"],
                                       shifts.get_shift(catalog_db, b)["status"])
    assert ["book", "attended"] == _actions(catalog_db, "shift", a)


def test_cancelled_shift_cannot_be_checked_in(make_session, make_volunteer, catalog_db):
    shift = shifts.book_shift(catalog_db, make_session(), make_volunteer(), actor="staff")["shift_id"]
    shifts.cancel_shift(catalog_db, shift, actor="staff", by_staff=True)
    with pytest.raises(RuleViolation) as info:
        attendance.check_in_helper(catalog_db, shift, actor="staff")
    assert "shift_not_active" == info.value.code


def test_volunteer_hours_sums_attended_shifts_only(make_session, make_volunteer, catalog_db):
    vid = make_volunteer()
    long_one = make_session(day=1, minutes=90)
    short_one = make_session(day=2, minutes=30)
    booked_only = make_session(day=3, minutes=120)
    no_show = make_session(day=4, minutes=60)
    cancelled = make_session(day=5, minutes=45)
    ids = {sid: shifts.book_shift(catalog_db, sid, vid, actor="staff")["shift_id"]
           for sid in (long_one, short_one, booked_only, no_show, cancelled)}
    attendance.check_in_helper(catalog_db, ids[long_one], actor="staff")
    attendance.check_in_helper(catalog_db, ids[short_one], actor="staff")
    attendance.mark_helper_no_show(catalog_db, ids[no_show], actor="staff")
    shifts.cancel_shift(catalog_db, ids[cancelled], actor="staff", by_staff=True)
    # someone else's attended shift on the same session is not ours
    other = make_volunteer()
    attendance.check_in_helper(catalog_db, shifts.book_shift(catalog_db, long_one, other, actor="staff")["shift_id"],
                               actor="staff")

    assert 2.0 == attendance.volunteer_hours(catalog_db, vid)
    assert 1.5 == attendance.volunteer_hours(catalog_db, other)


@pytest.mark.parametrize("start_day, end_day, expected", [
    (None, None, 2.0),  # everything
    (2, None, 0.5),  # from day 2: only the 30-minute shift
    (None, 2, 1.5),  # before day 2: only the 90-minute shift
    (3, None, 0.0),  # nothing after day 3
])
def test_volunteer_hours_date_range(make_session, make_volunteer, catalog_db, start_day, end_day, expected):
    vid = make_volunteer()
    for day, minutes in ((1, 90), (2, 30)):
        sid = make_session(day=day, minutes=minutes)
        attendance.check_in_helper(catalog_db, shifts.book_shift(catalog_db, sid, vid, actor="s")["shift_id"],
                                   actor="s")
    start = None if start_day is None else BASE + dt.timedelta(days=start_day)
    end = None if end_day is None else BASE + dt.timedelta(days=end_day)
    assert expected == attendance.volunteer_hours(catalog_db, vid, start=start, end=end)


def test_hours_report(make_session, make_volunteer, catalog_db):
    busy = make_volunteer(name="多忙 花子", name_kana="たぼう はなこ")
    idle = make_volunteer(name="暇 太郎", name_kana="ひま たろう")
    sid = make_session(minutes=45)
    attendance.check_in_helper(catalog_db, shifts.book_shift(catalog_db, sid, busy, actor="s")["shift_id"], actor="s")
    assert [(busy, 0.75), (idle, 0.0)] == [(r["volunteer_id"], r["hours"])
                                          for r in attendance.hours_report(catalog_db)]
