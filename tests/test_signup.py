"""Self-service sign-up: finding or creating the resident and booking in one step."""
from __future__ import annotations

import datetime as dt

import pytest

from conftest import BASE
from date_community import people
from date_community.errors import NotFound, RuleViolation, ValidationError
from date_community.scheduling import bookings, sessions, signup

GOOD = {"name_kanji": "伊達 花子", "name_kana": "だて はなこ", "phone": "090-1234-5678"}


def _count(db, table):
    return next(iter(db.query(f"SELECT count(*) AS n FROM {table}")))["n"]


def test_new_person_gets_a_resident_with_consent_and_a_booking(make_session, catalog_db):
    sid = make_session()

    result = signup.sign_up(catalog_db, sid, **GOOD, birth_year="1948", device="rakuraku")

    assert ("confirmed", None, True) == (result["status"], result["position"], result["new_resident"])
    resident = people.get_resident(catalog_db, result["resident_id"])
    assert ("伊達 花子", "だて はなこ", "09012345678", 1948, "rakuraku", "web", "web") == (
        resident["name_kanji"], resident["name_kana"], resident["phone"], resident["birth_year"],
        resident["device"], resident["source"], resident["consent_channel"])
    assert resident["consent_at"]
    booking = bookings.get_booking(catalog_db, result["booking_id"])
    assert (sid, result["resident_id"], "web", "web", result["reference"]) == (
        booking["session_id"], booking["resident_id"], booking["source"], booking["entered_by"], booking["reference"])


def test_same_phone_and_kana_reuse_the_resident(make_session, make_resident, catalog_db):
    known = make_resident(name_kanji="伊達 花子", name_kana="ダテ ハナコ", phone="09012345678", birth_year=1948)
    first, second = make_session(day=1), make_session(day=2)

    # katakana vs hiragana, full-width digits and other hyphens all match
    a = signup.sign_up(catalog_db, first, name_kanji="伊達花子", name_kana="だてはなこ", phone="０９０ー１２３４ー５６７８")
    b = signup.sign_up(catalog_db, second, **GOOD, actor="web:family")

    assert (known, known, False, False) == (a["resident_id"], b["resident_id"], a["new_resident"], b["new_resident"])
    assert 1 == _count(catalog_db, "residents")
    # stored details are not overwritten by what a web form said
    assert "伊達 花子" == people.get_resident(catalog_db, known)["name_kanji"]
    assert "web:family" == bookings.get_booking(catalog_db, b["booking_id"])["entered_by"]


@pytest.mark.parametrize("other", [
    {"phone": "090-9999-0000"},  # same kana, different phone: another person
    {"name_kana": "だて たろう"},  # same phone (a shared home phone), different kana: another person
])
def test_a_partial_match_makes_a_new_resident(make_session, make_resident, catalog_db, other):
    known = make_resident(name_kana="だて はなこ", phone="09012345678")
    result = signup.sign_up(catalog_db, make_session(), **{**GOOD, **other})
    assert result["new_resident"] is True
    assert known != result["resident_id"]
    assert 2 == _count(catalog_db, "residents")


def test_merged_resident_is_not_reused(make_session, make_resident, catalog_db):
    keep = make_resident(name_kana="みほん", phone="0245770000")
    gone = make_resident(name_kana="だて はなこ", phone="09012345678")
    people.merge_residents(catalog_db, keep, gone, actor="staff:1")
    result = signup.sign_up(catalog_db, make_session(), **GOOD)
    assert result["new_resident"] is True
    assert result["resident_id"] not in (keep, gone)


def test_reused_resident_without_consent_gets_it_recorded(make_session, make_resident, catalog_db):
    known = make_resident(name_kana="だて はなこ", phone="09012345678", consent=False)
    signup.sign_up(catalog_db, make_session(), **GOOD)
    resident = people.get_resident(catalog_db, known)
    assert resident["consent_at"] and "web" == resident["consent_channel"]


def test_full_class_puts_the_person_on_the_waitlist(make_session, make_resident, catalog_db):
    sid = make_session(seats=1)
    bookings.book_seat(catalog_db, sid, make_resident(), source="phone", actor="staff:1")
    result = signup.sign_up(catalog_db, sid, **GOOD)
    assert ("waitlisted", 1) == (result["status"], result["position"])


@pytest.mark.parametrize("change, code", [
    ({"name_kanji": "  "}, "invalid_name"),  # a name of spaces only
    ({"name_kana": "Hanako"}, "invalid_kana"),  # furigana in letters
    ({"name_kana": ""}, "invalid_kana"),  # furigana missing
    ({"phone": "12345"}, "invalid_phone"),  # too short
    ({"phone": ""}, "invalid_phone"),  # phone missing
    ({"birth_year": "1850"}, "invalid_birth_year"),  # before 1900
    ({"birth_year": "昭和23"}, "invalid_birth_year"),  # not four digits
    ({"device": "tablet"}, "invalid_device"),  # not a known kind of phone
    ({"consent": False}, "consent_required"),  # no consent, nothing stored
])
def test_invalid_input_raises_its_code_and_stores_nothing(make_session, catalog_db, change, code):
    sid = make_session()
    with pytest.raises(ValidationError) as caught:
        signup.sign_up(catalog_db, sid, **{**GOOD, **change})
    assert code == caught.value.code
    assert (0, 0) == (_count(catalog_db, "residents"), _count(catalog_db, "bookings"))


def test_validate_reports_every_field_in_form_order():
    problems = signup.validate(name_kanji="", name_kana="abc", phone="1", birth_year="x", device="pager",
                               consent=False)
    assert [("name_kanji", "invalid_name"), ("name_kana", "invalid_kana"), ("phone", "invalid_phone"),
            ("birth_year", "invalid_birth_year"), ("device", "invalid_device"),
            ("consent", "consent_required")] == list(problems.items())


def test_validate_accepts_good_input_with_optional_fields_empty():
    assert {} == signup.validate(**GOOD, birth_year="", device="")


@pytest.mark.parametrize("fields, cancel, code", [
    ({}, True, "session_cancelled"),  # the class was called off
    ({"signup_closes_at": BASE - dt.timedelta(days=1)}, False, "signup_closed"),  # the window has ended
    ({"signup_opens_at": BASE + dt.timedelta(days=30)}, False, "signup_not_open"),  # not open yet
])
def test_failed_booking_creates_no_resident(make_session, catalog_db, fields, cancel, code):
    # the resident is created inside the same transaction as the booking
    sid = make_session(**fields)
    if cancel:
        sessions.cancel_session(catalog_db, sid, actor="staff:1")
    audit_before = _count(catalog_db, "audit_log")
    with pytest.raises(RuleViolation) as caught:
        signup.sign_up(catalog_db, sid, **GOOD, now=BASE)
    assert code == caught.value.code
    assert (0, 0) == (_count(catalog_db, "residents"), _count(catalog_db, "bookings"))
    assert audit_before == _count(catalog_db, "audit_log")


def test_second_sign_up_of_the_same_person_is_refused(make_session, catalog_db):
    sid = make_session()
    signup.sign_up(catalog_db, sid, **GOOD)
    with pytest.raises(RuleViolation) as caught:
        signup.sign_up(catalog_db, sid, **GOOD)
    assert "already_booked" == caught.value.code
    assert (1, 1) == (_count(catalog_db, "residents"), _count(catalog_db, "bookings"))


def test_unknown_session_creates_no_resident(catalog_db):
    with pytest.raises(NotFound) as caught:
        signup.sign_up(catalog_db, 9999, **GOOD)
    assert "session_not_found" == caught.value.code
    assert 0 == _count(catalog_db, "residents")


@pytest.mark.parametrize("fields, now, state", [
    ({}, BASE, "open"),  # no window set: open until the class starts
    ({"signup_opens_at": BASE + dt.timedelta(hours=1)}, BASE, "not_open"),  # window starts later
    ({"signup_closes_at": BASE - dt.timedelta(hours=1)}, BASE, "closed"),  # window already ended
    ({}, BASE + dt.timedelta(days=1, hours=1), "closed"),  # the class has started
])
def test_signup_state(make_session, catalog_db, fields, now, state):
    session = sessions.get_session(catalog_db, make_session(**fields))
    assert state == signup.signup_state(session, now=now)


def test_signup_state_of_cancelled_session(make_session, catalog_db):
    sid = make_session()
    sessions.cancel_session(catalog_db, sid, actor="staff:1")
    assert "cancelled" == signup.signup_state(sessions.get_session(catalog_db, sid), now=BASE)


def test_signup_state_agrees_with_book_seat(make_session, make_resident, catalog_db):
    # the page must not offer a button that the booking then refuses
    sid = make_session(signup_opens_at=BASE + dt.timedelta(hours=1))
    session = sessions.get_session(catalog_db, sid)
    assert "not_open" == signup.signup_state(session, now=BASE)
    with pytest.raises(RuleViolation) as caught:
        bookings.book_seat(catalog_db, sid, make_resident(), source="web", actor="web", now=BASE)
    assert "signup_not_open" == caught.value.code
    assert "open" == signup.signup_state(session, now=BASE + dt.timedelta(hours=1))


def test_booking_summary_has_the_class_but_no_personal_data(make_session, catalog_db):
    sid = make_session(seats=1, bring="老眼鏡")
    signup.sign_up(catalog_db, sid, name_kanji="一番", name_kana="いちばん", phone="0801112222")
    result = signup.sign_up(catalog_db, sid, **GOOD)

    summary = signup.booking_summary(catalog_db, result["booking_id"])

    assert (result["reference"], "waitlisted", 1, sid, "老眼鏡") == (
        summary["reference"], summary["status"], summary["position"], summary["session"]["id"],
        summary["session"]["bring"])
    text = repr(summary)
    assert "09012345678" not in text and "花子" not in text and "resident_id" not in summary
