"""iCalendar output: parseable, stable UIDs, rising SEQUENCE, cancellations, Tokyo times."""
from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar

from conftest import BASE
from date_community import timeutil
from date_community.errors import NotFound
from date_community.scheduling import calendar, sessions, shifts


def _events(ics: bytes) -> dict[str, dict]:
    cal = Calendar.from_ical(ics)
    out = {}
    for ev in cal.walk("VEVENT"):
        out[str(ev["UID"])] = {
            "sequence": int(ev["SEQUENCE"]),
            "status": str(ev["STATUS"]),
            "start": ev.decoded("DTSTART"),
            "end": ev.decoded("DTEND"),
            "summary": str(ev["SUMMARY"]),
        }
    return out


def _feed(db, vid):
    return _events(calendar.volunteer_feed(db, vid))


@pytest.fixture
def staffed(make_session, make_volunteer, catalog_db):
    """One volunteer with shifts on two sessions."""
    vid = make_volunteer(name="伊達 ボランティア")
    first = make_session(day=1, hour=13.5, minutes=90)
    second = make_session(day=8, hour=10, minutes=60, topic="line", venue="hobara-chuo")
    a = shifts.book_shift(catalog_db, first, vid, role="lead", actor="staff")["shift_id"]
    b = shifts.book_shift(catalog_db, second, vid, actor="staff")["shift_id"]
    return {"vid": vid, "sessions": (first, second), "shifts": (a, b)}


def test_volunteer_feed_parses_with_one_event_per_shift(staffed, catalog_db):
    ics = calendar.volunteer_feed(catalog_db, staffed["vid"])
    cal = Calendar.from_ical(ics)
    assert "2.0" == str(cal["VERSION"])
    events = _events(ics)
    a, b = staffed["shifts"]
    assert {f"shift-{a}@date-community", f"shift-{b}@date-community"} == set(events)
    first = events[f"shift-{a}@date-community"]
    assert BASE + dt.timedelta(days=1, hours=4.5) == first["start"]
    assert dt.timedelta(minutes=90) == first["end"] - first["start"]
    assert "CONFIRMED" == first["status"]
    assert first["summary"].startswith("【リーダー】スマホの基本操作")
    assert events[f"shift-{b}@date-community"]["summary"].startswith("【サポーター】LINEを始めよう")


def test_uids_are_stable_across_calls(staffed, catalog_db):
    first = _feed(catalog_db, staffed["vid"])
    sessions.update_session(catalog_db, staffed["sessions"][0], actor="staff", notes="changed")
    second = _feed(catalog_db, staffed["vid"])
    assert sorted(first) == sorted(second)


def test_sequence_rises_after_update_session(staffed, catalog_db):
    a = f"shift-{staffed['shifts'][0]}@date-community"
    b = f"shift-{staffed['shifts'][1]}@date-community"
    before = _feed(catalog_db, staffed["vid"])
    sessions.update_session(catalog_db, staffed["sessions"][0], actor="staff",
                            starts_at=BASE + dt.timedelta(days=1, hours=5),
                            ends_at=BASE + dt.timedelta(days=1, hours=6, minutes=30))
    after = _feed(catalog_db, staffed["vid"])
    assert after[a]["sequence"] > before[a]["sequence"]
    assert before[b]["sequence"] == after[b]["sequence"]  # the other shift did not change
    assert BASE + dt.timedelta(days=1, hours=5) == after[a]["start"]


def test_cancelled_shift_is_kept_as_cancelled_with_higher_sequence(staffed, catalog_db):
    a = f"shift-{staffed['shifts'][0]}@date-community"
    before = _feed(catalog_db, staffed["vid"])
    shifts.cancel_shift(catalog_db, staffed["shifts"][0], actor="staff", by_staff=True)
    after = _feed(catalog_db, staffed["vid"])
    assert "CANCELLED" == after[a]["status"]
    assert after[a]["sequence"] > before[a]["sequence"]


def test_cancelled_session_cancels_the_event(staffed, catalog_db):
    b = f"shift-{staffed['shifts'][1]}@date-community"
    before = _feed(catalog_db, staffed["vid"])
    sessions.cancel_session(catalog_db, staffed["sessions"][1], actor="staff")
    after = _feed(catalog_db, staffed["vid"])
    assert "CANCELLED" == after[b]["status"]
    assert after[b]["sequence"] > before[b]["sequence"]


def test_sequence_never_goes_down_across_changes(staffed, catalog_db):
    uid = f"shift-{staffed['shifts'][0]}@date-community"
    seen = [_feed(catalog_db, staffed["vid"])[uid]["sequence"]]
    sessions.update_session(catalog_db, staffed["sessions"][0], actor="staff", notes="1")
    seen.append(_feed(catalog_db, staffed["vid"])[uid]["sequence"])
    sessions.update_session(catalog_db, staffed["sessions"][0], actor="staff", seats=12)
    seen.append(_feed(catalog_db, staffed["vid"])[uid]["sequence"])
    shifts.cancel_shift(catalog_db, staffed["shifts"][0], actor="staff", by_staff=True)
    seen.append(_feed(catalog_db, staffed["vid"])[uid]["sequence"])
    assert all(later > earlier for earlier, later in zip(seen, seen[1:])), seen


def test_times_carry_the_tokyo_tzid_and_a_vtimezone(staffed, catalog_db):
    ics = calendar.volunteer_feed(catalog_db, staffed["vid"])
    assert b"DTSTART;TZID=Asia/Tokyo:20310408T133000" in ics
    assert b"DTEND;TZID=Asia/Tokyo:20310408T150000" in ics
    cal = Calendar.from_ical(ics)
    zones = [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")]
    assert ["Asia/Tokyo"] == zones
    # DTSTAMP must be UTC (RFC 5545 3.8.7.2)
    for ev in cal.walk("VEVENT"):
        assert dt.timedelta(0) == ev.decoded("DTSTAMP").utcoffset()


def test_session_ics(make_session, catalog_db):
    sid = make_session(day=2, hour=14, minutes=60, bring="充電器")
    ics = calendar.session_ics(catalog_db, sid)
    assert b"DTSTART;TZID=Asia/Tokyo:20310409T140000" in ics
    assert b"BEGIN:VTIMEZONE" in ics
    events = _events(ics)
    assert [f"session-{sid}@date-community"] == list(events)
    ev = events[f"session-{sid}@date-community"]
    assert (0, "CONFIRMED") == (ev["sequence"], ev["status"])
    assert timeutil.parse("2031-04-09T14:00:00+09:00") == ev["start"]
    cal = Calendar.from_ical(ics)
    vevent = cal.walk("VEVENT")[0]
    assert "充電器" == str(vevent["DESCRIPTION"])
    assert str(vevent["LOCATION"]).startswith("伊達市役所本庁舎")


def test_session_ics_after_cancel(make_session, catalog_db):
    sid = make_session()
    sessions.cancel_session(catalog_db, sid, actor="staff")
    ev = _events(calendar.session_ics(catalog_db, sid))[f"session-{sid}@date-community"]
    assert (1, "CANCELLED") == (ev["sequence"], ev["status"])


def test_empty_feed_is_still_a_calendar(make_volunteer, catalog_db):
    vid = make_volunteer()
    cal = Calendar.from_ical(calendar.volunteer_feed(catalog_db, vid))
    assert [] == cal.walk("VEVENT")
    assert "VCALENDAR" == cal.name


@pytest.mark.parametrize("call, code", [
    (lambda db: calendar.volunteer_feed(db, 9999), "volunteer_not_found"),  # unknown volunteer
    (lambda db: calendar.session_ics(db, 9999), "session_not_found"),  # unknown session
])
def test_unknown_ids(catalog_db, call, code):
    with pytest.raises(NotFound) as info:
        call(catalog_db)
    assert code == info.value.code
