"""Reports for the city: bookings, volunteer hours and participants, as CSV."""
from __future__ import annotations

import csv
import io
import json

import pytest

from date_community import people, reports
from date_community.errors import ValidationError
from date_community.scheduling import attendance, bookings, shifts

# make_session(day=1) is on 2031-04-08 (BASE is Monday 2031-04-07).
FIRST, LAST = "2031-04-08", "2031-04-10"


def _book(db, sid, rid):
    return bookings.book_seat(db, sid, rid, source="phone", actor="staff")


def _rows(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _audit(db, entity):
    return [dict(r, detail=json.loads(r["detail"]))
            for r in db.query("SELECT * FROM audit_log WHERE entity = ? ORDER BY id", [entity])]


# --- age bands ----------------------------------------------------------------------

@pytest.mark.parametrize("birth_year, band", [
    (None, "unknown"),  # not given
    (1967, "under_65"),  # turns 64 in 2031
    (1966, "65_74"),  # turns 65: the first year of the band
    (1957, "65_74"),  # turns 74: the last year of the band
    (1956, "75_84"),  # turns 75
    (1947, "75_84"),  # turns 84
    (1946, "85_plus"),  # turns 85
    (1925, "85_plus"),  # over 100
])
def test_age_band_on_the_session_date(birth_year, band):
    assert band == reports.age_band(birth_year, "2031-04-08T10:00:00+09:00")


def test_age_band_uses_the_session_year_not_today():
    # Born 1966: under 65 in a 2030 session, 65 to 74 in a 2031 one.
    assert ("under_65", "65_74") == (reports.age_band(1966, "2030-12-31T10:00:00+09:00"),
                                     reports.age_band(1966, "2031-01-01T10:00:00+09:00"))


# --- date ranges ---------------------------------------------------------------------

def test_date_range_includes_the_last_day():
    assert ("2031-04-08T00:00:00+09:00", "2031-04-11T00:00:00+09:00") == reports.date_range(FIRST, LAST)


@pytest.mark.parametrize("start, end, code", [
    ("2031-04-10", "2031-04-08", "invalid_time_range"),  # end before start
    ("2031-13-01", "2031-04-08", "invalid_time"),  # no such month
    ("", "2031-04-08", "invalid_time"),  # empty
])
def test_date_range_rejects(start, end, code):
    with pytest.raises(ValidationError) as info:
        reports.date_range(start, end)
    assert code == info.value.code


# --- bookings --------------------------------------------------------------------------

@pytest.fixture
def booked(make_session, make_resident, catalog_db):
    """Two sessions in the range and one after it, with four bookings in the range."""
    inside = make_session(day=1, seats=2)
    later = make_session(day=3, hour=14, venue="hobara-chuo", topic="line")
    outside = make_session(day=10)
    residents = [make_resident(name_kanji=f"範囲 {i}", phone=f"0245770{i:03d}") for i in range(4)]
    ids = [_book(catalog_db, inside, residents[0])["booking_id"],
           _book(catalog_db, inside, residents[1])["booking_id"],
           _book(catalog_db, inside, residents[2])["booking_id"],  # waitlisted: two seats
           _book(catalog_db, later, residents[3])["booking_id"]]
    _book(catalog_db, outside, residents[0])
    bookings.cancel_booking(catalog_db, ids[1], actor="staff")
    return {"inside": inside, "later": later, "ids": ids, "residents": residents}


def test_bookings_export_covers_the_range_without_names(booked, catalog_db):
    rows = reports.bookings_export(catalog_db, start=FIRST, end=LAST, actor="user:1")
    assert booked["ids"] == [r["id"] for r in rows]
    assert ["confirmed", "cancelled", "confirmed", "confirmed"] == [r["status"] for r in rows]
    assert "name_kanji" not in rows[0] and "phone" not in rows[0]
    text = reports.bookings_csv(rows)
    table = _rows(text)
    assert list(reports.BOOKING_HEADERS) == table[0]
    assert 5 == len(table)
    assert ["確定", "取消", "確定", "確定"] == [line[5] for line in table[1:]]
    assert "範囲" not in text and "0245770" not in text
    assert "2031-04-08 10:00" == table[1][1]
    assert "電話" == table[1][6]


def test_bookings_export_with_names_when_asked(booked, catalog_db):
    rows = reports.bookings_export(catalog_db, start=FIRST, end=LAST, actor="user:1", personal=True)
    table = _rows(reports.bookings_csv(rows, personal=True))
    assert list(reports.BOOKING_HEADERS + reports.BOOKING_PERSONAL_HEADERS) == table[0]
    assert "範囲 0" == table[1][9]
    assert "024-577-0000" == table[1][11]


@pytest.mark.parametrize("personal", [
    False,  # the anonymous export is logged too
    True,  # the export with names says so in the log
])
def test_bookings_export_is_audited(booked, catalog_db, personal):
    reports.bookings_export(catalog_db, start=FIRST, end=LAST, actor="user:7", personal=personal)
    (row,) = _audit(catalog_db, "bookings")
    assert ("user:7", "export") == (row["actor"], row["action"])
    assert {"start": FIRST, "end": LAST, "rows": 4, "personal": personal} == row["detail"]


# --- volunteer hours -------------------------------------------------------------------

def test_volunteer_hours_counts_attended_shifts_in_range(make_session, make_volunteer, catalog_db):
    vid = make_volunteer(name="例 時間")
    other = make_volunteer(name="例 欠席")
    came = make_session(day=1, minutes=90)
    missed = make_session(day=2, minutes=120)
    outside = make_session(day=20, minutes=60)
    for sid in (came, missed, outside):
        shift = shifts.book_shift(catalog_db, sid, vid, actor="staff")
        if sid != missed:
            attendance.check_in_helper(catalog_db, shift["shift_id"], actor="staff")
    absent = shifts.book_shift(catalog_db, came, other, actor="staff")
    attendance.mark_helper_no_show(catalog_db, absent["shift_id"], actor="staff")
    rows = reports.volunteer_hours(catalog_db, start=FIRST, end=LAST, actor="user:1")
    hours = {r["volunteer_id"]: r["hours"] for r in rows}
    assert (1.5, 0.0) == (hours[vid], hours[other])
    table = _rows(reports.hours_csv(rows))
    assert list(reports.HOURS_HEADERS) == table[0]
    assert [str(vid), "例 時間", "1.50"] in table
    (row,) = _audit(catalog_db, "volunteer_hours")
    assert ("user:1", "export", len(rows)) == (row["actor"], row["action"], row["detail"]["rows"])


# --- participants ------------------------------------------------------------------------

def test_participants_by_topic_age_band_and_district(make_session, make_resident, catalog_db):
    basics = make_session(day=1)
    basics_again = make_session(day=2)
    line = make_session(day=2, hour=14, topic="line")
    young = make_resident(birth_year=1970, district="伊達")  # 61 in 2031
    old = make_resident(birth_year=1940, district="梁川")  # 91
    unknown = make_resident()  # no birth year, no district
    absent = make_resident(birth_year=1940, district="梁川")
    for sid, rid in ((basics, young), (basics_again, young), (basics, old), (line, unknown), (basics, absent)):
        booking = _book(catalog_db, sid, rid)
        if rid != absent:
            attendance.check_in(catalog_db, booking["booking_id"], actor="staff")
    rows = reports.participants(catalog_db, start=FIRST, end=LAST, actor="user:1")
    got = [(r["topic_code"], r["age_band"], r["district"], r["attendances"], r["residents"]) for r in rows]
    assert [
        ("basics", "under_65", "伊達", 2, 1),  # came twice: two visits, one person
        ("basics", "85_plus", "梁川", 1, 1),  # the absent one is not counted
        ("line", "unknown", "不明", 1, 1),
    ] == got
    table = _rows(reports.participants_csv(rows))
    assert list(reports.PARTICIPANT_HEADERS) == table[0]
    assert ["スマホの基本操作（電源・ボタン・画面の操作）", "65歳未満", "伊達", "2", "1"] == table[1]
    assert "不明" == table[3][1]
    (row,) = _audit(catalog_db, "participants")
    assert 3 == row["detail"]["rows"]


def test_participants_outside_range_are_left_out(make_session, make_resident, catalog_db):
    booking = _book(catalog_db, make_session(day=30), make_resident(birth_year=1950))
    attendance.check_in(catalog_db, booking["booking_id"], actor="staff")
    assert [] == reports.participants(catalog_db, start=FIRST, end=LAST, actor="user:1")


# --- one resident's data -------------------------------------------------------------------

def test_resident_csv_holds_the_record_and_bookings(make_session, make_resident, catalog_db):
    rid = make_resident(name_kanji="写し 花子", phone="090-1234-0000", topics_wanted=["line"], device="iphone")
    booking = _book(catalog_db, make_session(day=1), rid)
    data = people.export_resident(catalog_db, rid, actor="user:1")
    table = _rows(reports.resident_csv(data))
    pairs = {line[0]: line[1] for line in table[1:len(reports.RESIDENT_LABELS) + 1]}
    assert "写し 花子" == pairs["氏名"]
    assert "090-1234-0000" == pairs["電話番号"]
    assert "line" == pairs["希望する内容"]
    assert "iPhone" == pairs["持っている電話"]
    header_at = table.index(list(reports.RESIDENT_BOOKING_HEADERS))
    assert booking["reference"] == table[header_at + 1][0]
    assert "確定" == table[header_at + 1][3]
