"""Reports and CSV exports for the city: bookings, volunteer hours, participants.

Every CSV is written by :mod:`csvout` (formula-like cells neutralised), UTF-8 with a byte-order mark (so Excel on the office PCs reads the
Japanese correctly), CRLF line ends and Japanese headers.  Every export is
written to the audit log; the bookings export leaves out names and phone
numbers unless staff ask for them.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Iterable, Sequence

from . import audit, csvout, timeutil
from .db import write_transaction
from .errors import ValidationError
from .people import DEVICE_LABELS_JA, format_phone
from .schema import DISTRICTS
from .scheduling import attendance

AGE_BANDS = ("under_65", "65_74", "75_84", "85_plus", "unknown")
AGE_BAND_JA = {"under_65": "65歳未満", "65_74": "65〜74歳", "75_84": "75〜84歳", "85_plus": "85歳以上",
               "unknown": "不明"}
UNKNOWN_DISTRICT = "不明"
BOOKING_STATUS_JA = {"confirmed": "確定", "waitlisted": "キャンセル待ち", "cancelled": "取消", "attended": "出席",
                     "no_show": "欠席"}
SESSION_STATUS_JA = {"scheduled": "実施予定", "cancelled": "中止"}
SOURCE_JA = {"paper": "紙", "phone": "電話", "web": "ウェブ", "counter": "窓口"}

BOOKING_HEADERS = ("予約ID", "開始日時", "内容", "会場", "講座の状態", "予約の状態", "申込方法", "受付日時")
BOOKING_PERSONAL_HEADERS = ("予約番号", "氏名", "ふりがな", "電話番号")
HOURS_HEADERS = ("ボランティアID", "氏名", "活動時間")
PARTICIPANT_HEADERS = ("内容", "年代", "地区", "参加延べ人数", "参加実人数")


def _csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    return csvout.to_text(headers, rows)


def date_range(start, end) -> tuple[str, str]:
    """Inclusive dates → ``[start 00:00, day after end 00:00)`` as stored ISO strings."""
    first, last = timeutil.parse_date(start), timeutil.parse_date(end)
    if last < first:
        raise ValidationError("invalid_time_range")
    return timeutil.day_bounds(first)[0], timeutil.day_bounds(last)[1]


def _stamp(value: str | None) -> str:
    return timeutil.parse(value).strftime("%Y-%m-%d %H:%M") if value else ""


def age_band(birth_year: int | None, on: dt.date | dt.datetime | str) -> str:
    """The age band on the session's date.  Only the birth year is known, so the
    age is the one the resident reaches in that calendar year."""
    if not birth_year:
        return "unknown"
    age = timeutil.parse(on).year - int(birth_year)
    if age < 65:
        return "under_65"
    if age < 75:
        return "65_74"
    if age < 85:
        return "75_84"
    return "85_plus"


# --- bookings ----------------------------------------------------------------------

def bookings_export(db, *, start, end, actor: str, personal: bool = False) -> list[dict]:
    """All bookings for sessions starting between ``start`` and ``end`` (dates, inclusive)."""
    low, high = date_range(start, end)
    extra = ", b.reference, r.name_kanji, r.name_kana, r.phone" if personal else ""
    rows = list(db.query(
        "SELECT b.id, s.starts_at, t.title_ja AS topic, v.name_ja AS venue, s.status AS session_status, "
        f"b.status, b.source, b.created_at{extra} "
        "FROM bookings b JOIN sessions s ON s.id = b.session_id JOIN topics t ON t.id = s.topic_id "
        "JOIN venues v ON v.id = s.venue_id JOIN residents r ON r.id = b.resident_id "
        "WHERE s.starts_at >= ? AND s.starts_at < ? ORDER BY s.starts_at, s.id, b.id", [low, high]))
    with write_transaction(db):
        audit.record(db, actor, "export", "bookings", None, start=str(start), end=str(end), rows=len(rows),
                     personal=personal)
    return rows


def bookings_csv(rows: list[dict], *, personal: bool = False) -> str:
    headers = BOOKING_HEADERS + (BOOKING_PERSONAL_HEADERS if personal else ())
    out = []
    for row in rows:
        line = [row["id"], _stamp(row["starts_at"]), row["topic"], row["venue"],
                SESSION_STATUS_JA.get(row["session_status"], row["session_status"]),
                BOOKING_STATUS_JA.get(row["status"], row["status"]), SOURCE_JA.get(row["source"], row["source"]),
                _stamp(row["created_at"])]
        if personal:
            line += [row["reference"], row["name_kanji"], row["name_kana"], format_phone(row["phone"])]
        out.append(line)
    return _csv(headers, out)


# --- volunteer hours ---------------------------------------------------------------

def volunteer_hours(db, *, start, end, actor: str) -> list[dict]:
    """Hours of attended shifts per volunteer; volunteers' names, so logged."""
    low, high = date_range(start, end)
    rows = attendance.hours_report(db, start=low, end=high)
    with write_transaction(db):
        audit.record(db, actor, "export", "volunteer_hours", None, start=str(start), end=str(end), rows=len(rows))
    return rows


def hours_csv(rows: list[dict]) -> str:
    return _csv(HOURS_HEADERS, ([r["volunteer_id"], r["name"], f"{r['hours']:.2f}"] for r in rows))


# --- participants --------------------------------------------------------------------

def participants(db, *, start, end, actor: str) -> list[dict]:
    """Residents who came (checked in), counted by topic, age band and district.

    One row per combination that occurs, in topic, age-band and district
    order.  ``attendances`` counts each visit; ``residents`` counts each person
    once within the row.  No names: only the counts leave the database.
    """
    low, high = date_range(start, end)
    visits: dict[tuple, int] = defaultdict(int)
    people: dict[tuple, set[int]] = defaultdict(set)
    topics: dict[str, tuple[int, str]] = {}
    for row in db.query(
            "SELECT b.resident_id, s.starts_at, t.code, t.title_ja, t.sort_order, r.birth_year, r.district "
            "FROM bookings b JOIN sessions s ON s.id = b.session_id JOIN topics t ON t.id = s.topic_id "
            "JOIN residents r ON r.id = b.resident_id "
            "WHERE b.status = 'attended' AND s.starts_at >= ? AND s.starts_at < ?", [low, high]):
        topics[row["code"]] = (row["sort_order"], row["title_ja"])
        key = (row["code"], age_band(row["birth_year"], row["starts_at"]), row["district"] or UNKNOWN_DISTRICT)
        visits[key] += 1
        people[key].add(row["resident_id"])
    district_order = {d: i for i, d in enumerate((*DISTRICTS, UNKNOWN_DISTRICT))}
    keys = sorted(visits, key=lambda k: (topics[k[0]][0], k[0], AGE_BANDS.index(k[1]), district_order[k[2]]))
    rows = [{"topic_code": code, "topic": topics[code][1], "age_band": band, "district": district,
             "attendances": visits[(code, band, district)], "residents": len(people[(code, band, district)])}
            for code, band, district in keys]
    with write_transaction(db):
        audit.record(db, actor, "export", "participants", None, start=str(start), end=str(end), rows=len(rows))
    return rows


def participants_csv(rows: list[dict]) -> str:
    return _csv(PARTICIPANT_HEADERS, ([r["topic"], AGE_BAND_JA[r["age_band"]], r["district"], r["attendances"],
                                       r["residents"]] for r in rows))


# --- one resident's data (subject-access request) -----------------------------------

RESIDENT_LABELS = (("id", "ID"), ("name_kanji", "氏名"), ("name_kana", "ふりがな"), ("phone", "電話番号"),
                   ("birth_year", "生まれ年"), ("district", "地区"), ("device", "持っている電話"),
                   ("topics_wanted", "希望する内容"), ("needs", "配慮事項"), ("consent_at", "同意日時"),
                   ("consent_channel", "同意の経路"), ("source", "登録経路"), ("merged_into", "統合先ID"),
                   ("created_at", "登録日時"), ("updated_at", "更新日時"))
RESIDENT_BOOKING_HEADERS = ("予約番号", "開始日時", "内容", "予約の状態", "順番", "申込方法", "受付日時")


def resident_csv(data: dict) -> str:
    """The result of :func:`people.export_resident` as CSV: the record as
    label/value rows, a blank row, then one row per booking."""
    def value(key: str) -> Any:
        raw = data.get(key)
        if key == "phone":
            return format_phone(raw)
        if key == "device":
            return DEVICE_LABELS_JA.get(raw, raw or "")
        if key == "topics_wanted":
            return "、".join(raw or [])
        if key in ("consent_channel", "source"):
            return SOURCE_JA.get(raw, raw or "")
        if key in ("consent_at", "created_at", "updated_at"):
            return _stamp(raw)
        return "" if raw is None else raw

    table = csvout.Table(("項目", "内容"))
    for key, label in RESIDENT_LABELS:
        table.row((label, value(key)))
    table.row(())
    table.row(RESIDENT_BOOKING_HEADERS)
    for b in data.get("bookings", []):
        table.row((b["reference"], _stamp(b["starts_at"]), b["topic"],
                         BOOKING_STATUS_JA.get(b["status"], b["status"]), b["position"] or "",
                         SOURCE_JA.get(b["source"], b["source"]), _stamp(b["created_at"])))
    return table.text()
