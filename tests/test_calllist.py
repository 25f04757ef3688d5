"""The day-before call list: who is on it, its audit row, CSV and printable HTML."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest

from conftest import BASE
from date_community.scheduling import bookings, calllist, sessions

DAY = (BASE + dt.timedelta(days=1)).date()  # the factory's default session day


def _book(db, sid, rid):
    return bookings.book_seat(db, sid, rid, source="phone", actor="staff")["booking_id"]


@pytest.fixture
def day_with_bookings(make_session, make_resident, catalog_db):
    morning = make_session(day=1, hour=10, seats=1)
    afternoon = make_session(day=1, hour=14, topic="line", venue="hobara-chuo")
    next_day = make_session(day=2, hour=10)
    dropped = make_session(day=1, hour=16)
    people = {
        "confirmed": make_resident(name_kanji="確定 一郎", name_kana="かくてい いちろう", phone="090-1111-0001",
                                   needs="耳が遠い"),
        "waiting": make_resident(name_kanji="待機 花子", name_kana="たいき はなこ", phone="024-577-0002"),
        "cancelled": make_resident(name_kanji="取消 次郎", name_kana="とりけし じろう", phone="090-1111-0003"),
        "afternoon": make_resident(name_kanji="午後 三郎", name_kana="ごご さぶろう", phone="090-1111-0004"),
        "tomorrow": make_resident(name_kanji="翌日 四郎", name_kana="よくじつ しろう", phone="090-1111-0005"),
        "dropped": make_resident(name_kanji="中止 五郎", name_kana="ちゅうし ごろう", phone="090-1111-0006"),
    }
    ids = {
        "confirmed": _book(catalog_db, morning, people["confirmed"]),
        "waiting": _book(catalog_db, morning, people["waiting"]),
        "afternoon": _book(catalog_db, afternoon, people["afternoon"]),
        "tomorrow": _book(catalog_db, next_day, people["tomorrow"]),
        "dropped": _book(catalog_db, dropped, people["dropped"]),
    }
    cancelled = _book(catalog_db, afternoon, people["cancelled"])
    bookings.cancel_booking(catalog_db, cancelled, actor="staff")
    sessions.cancel_session(catalog_db, dropped, actor="staff")
    return ids


def test_call_list_contents(day_with_bookings, catalog_db):
    rows = calllist.call_list(catalog_db, DAY, actor="staff:1")
    ids = day_with_bookings
    assert [ids["confirmed"], ids["waiting"], ids["afternoon"]] == [r["booking_id"] for r in rows]
    assert [("確定 一郎", "09011110001", "confirmed", None),
            ("待機 花子", "0245770002", "waitlisted", 1),
            ("午後 三郎", "09011110004", "confirmed", None)] == [
        (r["name_kanji"], r["phone"], r["status"], r["position"]) for r in rows]


@pytest.mark.parametrize("day", [
    DAY,  # a date object
    DAY.isoformat(),  # an ISO string from a form or the CLI
    dt.datetime.combine(DAY, dt.time(23, 59)),  # a datetime late on that day
])
def test_call_list_day_forms(day_with_bookings, catalog_db, day):
    assert 3 == len(calllist.call_list(catalog_db, day, actor="staff"))


def test_call_list_other_day(day_with_bookings, catalog_db):
    rows = calllist.call_list(catalog_db, DAY + dt.timedelta(days=1), actor="staff")
    assert [day_with_bookings["tomorrow"]] == [r["booking_id"] for r in rows]
    assert [] == calllist.call_list(catalog_db, DAY - dt.timedelta(days=1), actor="staff")


def test_call_list_is_audited_without_personal_data(day_with_bookings, catalog_db):
    calllist.call_list(catalog_db, DAY, actor="staff:7")
    rows = list(catalog_db.query("SELECT * FROM audit_log WHERE action = 'view_call_list'"))
    assert 1 == len(rows)
    assert ("staff:7", "call_list") == (rows[0]["actor"], rows[0]["entity"])
    detail = json.loads(rows[0]["detail"])
    assert {"day": DAY.isoformat(), "residents": 3} == detail
    assert "0901111" not in rows[0]["detail"] and "確定" not in rows[0]["detail"]


def test_to_csv(day_with_bookings, catalog_db):
    text = calllist.to_csv(calllist.call_list(catalog_db, DAY, actor="staff"))
    assert text.startswith("\ufeff")
    parsed = list(csv.reader(io.StringIO(text[1:])))
    assert ["開始", "会場", "内容", "状態", "順番", "氏名", "ふりがな", "電話番号", "配慮事項", "予約番号",
            "予約ID"] == parsed[0]
    assert 4 == len(parsed)
    first = dict(zip(parsed[0], parsed[1]))
    assert ("10:00", "確定", "", "確定 一郎", "090-1111-0001", "耳が遠い") == (
        first["開始"], first["状態"], first["順番"], first["氏名"], first["電話番号"], first["配慮事項"])
    second = dict(zip(parsed[0], parsed[2]))
    assert ("キャンセル待ち", "1", "024-577-0002") == (second["状態"], second["順番"], second["電話番号"])
    assert text.endswith("\r\n")


def test_to_csv_encodes_for_excel(day_with_bookings, catalog_db):
    data = calllist.to_csv(calllist.call_list(catalog_db, DAY, actor="staff")).encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")


def test_empty_csv_has_only_the_header():
    text = calllist.to_csv([])
    assert ["開始", "会場"] == list(csv.reader(io.StringIO(text[1:])))[0][:2]
    assert 1 == text.count("\r\n")


def test_to_html_escapes_and_is_japanese(make_session, make_resident, catalog_db):
    sid = make_session()
    rid = make_resident(name_kanji="<script>alert(1)</script>", needs='"quoted" & <b>bold</b>')
    _book(catalog_db, sid, rid)
    page = calllist.to_html(calllist.call_list(catalog_db, DAY, actor="staff"), DAY)
    assert '<html lang="ja">' in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert "<b>" not in page
    assert f"{DAY.year}年{DAY.month}月{DAY.day}日" in page


def test_to_html_empty_day():
    page = calllist.to_html([], DAY)
    assert "この日の予約はありません。" in page
    assert "<tbody>\n\n</tbody>" in page


def test_to_html_shows_waitlist_position(day_with_bookings, catalog_db):
    page = calllist.to_html(calllist.call_list(catalog_db, DAY, actor="staff"), DAY)
    assert "キャンセル待ち 1番" in page
    assert "024-577-0002" in page


@pytest.mark.parametrize("name, needs", [
    ("=HYPERLINK(\"http://evil.example\",\"x\")", "普通"),  # a formula in the name
    ("伊達 花子", "+81-cmd|' /C calc'!A0"),  # a DDE payload in the notes
    ("@SUM(1+1)", "-2+3"),  # the other characters Excel treats as a formula start
])
def test_to_csv_neutralises_formulas(make_session, make_resident, catalog_db, name, needs):
    sid = make_session()
    _book(catalog_db, sid, make_resident(name_kanji=name, needs=needs))
    parsed = list(csv.reader(io.StringIO(calllist.to_csv(calllist.call_list(catalog_db, DAY, actor="s"))[1:])))
    row = dict(zip(parsed[0], parsed[1]))
    for header in ("氏名", "配慮事項"):
        assert row[header][:1] not in ("=", "+", "-", "@"), row[header]
    expected = {value if value[0] not in "=+-@" else "'" + value for value in (name, needs)}
    assert expected == {row["氏名"], row["配慮事項"]}
    # the phone number's own hyphens are not touched
    assert re.fullmatch(r"\d{3}-\d{4}-\d{4}", row["電話番号"])
