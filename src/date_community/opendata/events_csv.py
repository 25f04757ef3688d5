"""The smartphone classes as an イベント一覧 (events) file.

Every scheduled, not cancelled session in the date range becomes one row:
classes, one-to-one consultations and drop-in desks alike, because the public
class list shows all three and a resident can come to each.  The rows speak
Japanese, as the standard's columns do; the English title goes in
イベント名_英語.
"""
from __future__ import annotations

import datetime as dt

from .. import timeutil
from ..scheduling import sessions
from . import columns, readers, sitedata

# 開始日時特記事項 / 説明: what kind of session this is, in the words the city's leaflets use.
KIND_JA = {
    "class": "スマートフォン教室",
    "consultation": "スマートフォン個別相談会",
    "drop-in": "スマートフォンなんでも相談（予約なしで参加できます）",
}

DEFAULT_CONTACT_NAME = "伊達市 スマホ相談窓口"
DEFAULT_CONTACT_PHONE = "024-577-1111"
ORGANIZER = "伊達市"

# Where a class's public page lives (webapp/public.py); the file links each row to it.
CLASS_PATH = "/classes/{id}"


def class_url(base_url: str, session_id: int) -> str:
    return base_url.rstrip("/") + CLASS_PATH.format(id=session_id)


def _signup_methods(phone: str, url: str) -> str:
    # Residents sign up by phone, on a paper form at a community hall or the
    # city hall, or on the web page in the URL column.
    return (f"電話（{phone}）、交流館・市役所の申込用紙、またはウェブサイト（{url}）からお申し込みください。"
            if phone else f"交流館・市役所の申込用紙、またはウェブサイト（{url}）からお申し込みください。")


def event_rows(db, date_from: dt.date, date_to: dt.date, base_url: str, *,
               contact_name: str = DEFAULT_CONTACT_NAME, contact_phone: str = DEFAULT_CONTACT_PHONE) -> list[list]:
    """The data rows for sessions starting on ``date_from`` … ``date_to`` (both included)."""
    start = dt.datetime.combine(timeutil.parse_date(date_from), dt.time(), timeutil.TZ)
    end = dt.datetime.combine(timeutil.parse_date(date_to) + dt.timedelta(days=1), dt.time(), timeutil.TZ)
    rows = []
    for number, s in enumerate(sessions.list_sessions(db, start=start, end=end), start=1):
        begins, ends = timeutil.parse(s["starts_at"]), timeutil.parse(s["ends_at"])
        url = class_url(base_url, s["id"])
        has_coordinate = s["venue_coord_quality"] in ("sourced", "approx") and s["venue_lat"] is not None
        description = KIND_JA.get(s["kind"], KIND_JA["class"]) + "です。"
        if s["bring"]:
            description += f"持ち物：{s['bring']}"
        notes = []
        if s["venue_coord_quality"] == "approx":
            notes.append("会場の緯度・経度は概略の位置です（approximate）。")
        if s["walkin_seats"]:
            notes.append(f"定員のうち{s['walkin_seats']}席は、申し込みなしで当日来られた方の席です。")
        closes = timeutil.parse(s["signup_closes_at"]) if s["signup_closes_at"] else None
        values = {
            "都道府県コード又は市区町村コード": columns.MUNICIPALITY_CODE,
            "NO": number,
            "都道府県名": columns.PREFECTURE,
            "市区町村名": columns.MUNICIPALITY,
            "イベント名": s["title_ja"],
            "イベント名_カナ": "",
            "イベント名_英語": s["title_en"],
            "開始日": begins.strftime("%Y-%m-%d"),
            "終了日": ends.strftime("%Y-%m-%d"),
            "開始時間": begins.strftime("%H:%M"),
            "終了時間": ends.strftime("%H:%M"),
            "開始日時特記事項": "",
            "説明": description,
            "料金(基本)": "無料",
            "料金(詳細)": "",
            "連絡先名称": contact_name,
            "連絡先電話番号": contact_phone,
            "連絡先内線番号": "",
            "主催者": ORGANIZER,
            "場所名称": s["venue_name_ja"],
            "住所": s["venue_address"],
            "方書": "",
            "緯度": sitedata.coordinate_text(s["venue_lat"]) if has_coordinate else "",
            "経度": sitedata.coordinate_text(s["venue_lon"]) if has_coordinate else "",
            "アクセス方法": "",
            "駐車場情報": "",
            "定員": s["seats"],
            "参加申込終了日": closes.strftime("%Y-%m-%d") if closes else "",
            "参加申込終了時間": closes.strftime("%H:%M") if closes else "",
            "参加申込方法": _signup_methods(contact_phone, url),
            "URL": url,
            "備考": "".join(notes),
        }
        rows.append([values[name] for name in columns.EVENT_COLUMNS])
    return rows


def export_events_csv(db, date_from: dt.date, date_to: dt.date, base_url: str, *,
                      contact_name: str = DEFAULT_CONTACT_NAME, contact_phone: str = DEFAULT_CONTACT_PHONE) -> bytes:
    """イベント一覧 (32 columns, UTF-8 with BOM, CRLF) for the sessions in the range."""
    return readers.write_table(columns.EVENT_COLUMNS, event_rows(
        db, date_from, date_to, base_url, contact_name=contact_name, contact_phone=contact_phone))


def next_twelve_months(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The default range: today and the following twelve months (the day before the same date next year)."""
    today = today or timeutil.now().date()
    try:
        year_later = today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        year_later = today.replace(year=today.year + 1, day=28)
    return today, year_later - dt.timedelta(days=1)
