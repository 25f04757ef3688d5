"""On the day: the audited attendance sheet, marking the rest absent, helper
undo, the per-session guard on check-ins, and the admission slip."""
from __future__ import annotations

import json

import pytest

from date_community.errors import NotFound, RuleViolation
from date_community.scheduling import attendance, bookings, shifts


def _book(db, sid, rid):
    return bookings.book_seat(db, sid, rid, source="phone", actor="staff")["booking_id"]


def _status(db, booking_id):
    return bookings.get_booking(db, booking_id)["status"]


def _audit(db, action):
    return [dict(r, detail=json.loads(r["detail"]))
            for r in db.query("SELECT * FROM audit_log WHERE action = ? ORDER BY id", [action])]


@pytest.fixture
def day(make_session, make_resident, make_volunteer, catalog_db):
    """One session (two seats) with two seated residents, one waitlisted,
    one cancelled, a lead and an assistant helper."""
    sid = make_session(seats=2)
    seated = [_book(catalog_db, sid, make_resident(name_kanji=n, name_kana=k))
              for n, k in (("伊達 次郎", "だて じろう"), ("伊達 一子", "だて いちこ"))]
    waiting = _book(catalog_db, sid, make_resident(name_kanji="待機 三郎"))
    gone = make_resident(name_kanji="取消 四郎")
    gone_booking = _book(catalog_db, sid, gone)
    bookings.cancel_booking(catalog_db, gone_booking, actor="staff")
    assistant = shifts.book_shift(catalog_db, sid, make_volunteer(name="例 助手", name_kana="れい じょしゅ"),
                                  actor="staff")["shift_id"]
    lead = shifts.book_shift(catalog_db, sid, make_volunteer(name="例 主任", name_kana="れい しゅにん"),
                             role="lead", actor="staff")["shift_id"]
    return {"sid": sid, "seated": seated, "waiting": waiting, "lead": lead, "assistant": assistant}


def test_sheet_lists_seated_residents_and_helpers(day, catalog_db):
    sheet = attendance.attendance_sheet(catalog_db, day["sid"], actor="user:3")
    assert day["sid"] == sheet["session"]["id"]
    # In kana order; the waitlisted and the cancelled are not on the sheet.
    assert ["伊達 一子", "伊達 次郎"] == [b["name_kanji"] for b in sheet["bookings"]]
    assert [day["lead"], day["assistant"]] == [h["id"] for h in sheet["shifts"]]
    assert ["lead", "assistant"] == [h["role"] for h in sheet["shifts"]]
    assert {"confirmed": 2, "attended": 0, "no_show": 0} == sheet["counts"]


def test_sheet_view_is_audited(day, catalog_db):
    attendance.attendance_sheet(catalog_db, day["sid"], actor="user:3")
    (row,) = _audit(catalog_db, "view_attendance")
    assert ("user:3", "session", day["sid"]) == (row["actor"], row["entity"], row["entity_id"])
    assert {"residents": 2, "helpers": 2} == row["detail"]
    # Only ids and counts are logged, never names.
    assert "伊達" not in json.dumps(row["detail"], ensure_ascii=False)


def test_sheet_of_missing_session(catalog_db):
    with pytest.raises(NotFound) as info:
        attendance.attendance_sheet(catalog_db, 999, actor="user:3")
    assert "session_not_found" == info.value.code
    assert [] == _audit(catalog_db, "view_attendance")


def test_sheet_counts_follow_check_ins(day, catalog_db):
    attendance.check_in(catalog_db, day["seated"][0], actor="staff")
    attendance.mark_no_show(catalog_db, day["seated"][1], actor="staff")
    sheet = attendance.attendance_sheet(catalog_db, day["sid"], actor="user:3")
    assert {"confirmed": 0, "attended": 1, "no_show": 1} == sheet["counts"]


def test_mark_remaining_no_show_leaves_the_checked_in(day, catalog_db):
    came, missing = day["seated"]
    attendance.check_in(catalog_db, came, actor="staff")
    marked = attendance.mark_remaining_no_show(catalog_db, day["sid"], actor="user:3")
    assert [missing] == marked
    assert ("attended", "no_show", "waitlisted") == (
        _status(catalog_db, came), _status(catalog_db, missing), _status(catalog_db, day["waiting"]))
    assert [missing] == [r["entity_id"] for r in _audit(catalog_db, "no_show")]


def test_mark_remaining_no_show_twice_marks_no_one_more(day, catalog_db):
    attendance.mark_remaining_no_show(catalog_db, day["sid"], actor="user:3")
    assert [] == attendance.mark_remaining_no_show(catalog_db, day["sid"], actor="user:3")


def test_late_arrival_after_no_show_can_check_in(day, catalog_db):
    attendance.mark_remaining_no_show(catalog_db, day["sid"], actor="user:3")
    attendance.check_in(catalog_db, day["seated"][0], actor="staff", session_id=day["sid"])
    assert "attended" == _status(catalog_db, day["seated"][0])


@pytest.mark.parametrize("action, expected", [
    (attendance.check_in_helper, "attended"),  # arrived
    (attendance.mark_helper_no_show, "no_show"),  # did not come
])
def test_undo_helper_check_in(day, catalog_db, action, expected):
    action(catalog_db, day["lead"], actor="staff")
    assert expected == shifts.get_shift(catalog_db, day["lead"])["status"]
    attendance.undo_helper_check_in(catalog_db, day["lead"], actor="staff")
    assert "booked" == shifts.get_shift(catalog_db, day["lead"])["status"]


def test_undo_helper_check_in_of_cancelled_shift(day, catalog_db):
    shifts.cancel_shift(catalog_db, day["assistant"], actor="staff", by_staff=True)
    with pytest.raises(RuleViolation) as info:
        attendance.undo_helper_check_in(catalog_db, day["assistant"], actor="staff")
    assert "shift_not_active" == info.value.code


def test_check_in_refuses_a_booking_of_another_session(day, make_session, make_resident, catalog_db):
    other = make_session(day=2)
    foreign = _book(catalog_db, other, make_resident())
    with pytest.raises(NotFound) as info:
        attendance.check_in(catalog_db, foreign, actor="staff", session_id=day["sid"])
    assert "booking_not_found" == info.value.code
    assert "confirmed" == _status(catalog_db, foreign)


def test_helper_check_in_refuses_a_shift_of_another_session(day, make_session, make_volunteer, catalog_db):
    other = make_session(day=2)
    foreign = shifts.book_shift(catalog_db, other, make_volunteer(), actor="staff")["shift_id"]
    with pytest.raises(NotFound) as info:
        attendance.check_in_helper(catalog_db, foreign, actor="staff", session_id=day["sid"])
    assert "shift_not_found" == info.value.code
    assert "booked" == shifts.get_shift(catalog_db, foreign)["status"]


# --- admission slip -----------------------------------------------------------------------

def test_admission_slip_has_what_the_slip_prints_and_is_audited(day, catalog_db):
    booking_id = day["seated"][0]
    slip = bookings.admission_slip(catalog_db, booking_id, actor="user:3")
    assert bookings.get_booking(catalog_db, booking_id)["reference"] == slip["booking"]["reference"]
    assert "伊達 次郎" == slip["resident"]["name_kanji"]
    assert day["sid"] == slip["session"]["id"]
    assert slip["session"]["venue_address"]
    (row,) = _audit(catalog_db, "view_slip")
    assert ("user:3", "booking", booking_id) == (row["actor"], row["entity"], row["entity_id"])
    assert {"resident": slip["resident"]["id"]} == row["detail"]


def test_admission_slip_of_missing_booking(catalog_db):
    with pytest.raises(NotFound) as info:
        bookings.admission_slip(catalog_db, 999, actor="user:3")
    assert "booking_not_found" == info.value.code
