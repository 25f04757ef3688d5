"""The call list: who to phone the day before, with their numbers (staff only)."""
from __future__ import annotations

import html

from .. import audit, csvout, timeutil
from ..db import write_transaction
from ..people import format_phone

COLUMNS = ("starts_at", "venue", "topic", "status", "position", "name_kanji", "name_kana", "phone", "needs",
           "reference", "booking_id")
HEADERS_JA = ("開始", "会場", "内容", "状態", "順番", "氏名", "ふりがな", "電話番号", "配慮事項", "予約番号",
              "予約ID")
STATUS_JA = {"confirmed": "確定", "waitlisted": "キャンセル待ち"}


def _rows(db, where: str, params: list, order: str) -> list[dict]:
    """Call-list rows (one per booking, with the resident's phone) for bookings matching ``where``."""
    return list(db.query(f"""
        SELECT s.starts_at, v.name_ja AS venue, t.title_ja AS topic, b.status, b.position,
               r.name_kanji, r.name_kana, r.phone, r.needs, b.reference, b.id AS booking_id, r.id AS resident_id,
               s.id AS session_id
        FROM bookings b JOIN sessions s ON s.id = b.session_id JOIN residents r ON r.id = b.resident_id
        JOIN venues v ON v.id = s.venue_id JOIN topics t ON t.id = s.topic_id
        WHERE s.status = 'scheduled' AND {where}
        ORDER BY {order}""", params))


def call_list(db, day, *, actor: str) -> list[dict]:
    """Residents booked or waitlisted for the day's sessions.  The view is logged."""
    start, end = timeutil.day_bounds(timeutil.parse_date(day))
    rows = _rows(db, "s.starts_at >= ? AND s.starts_at < ? AND b.status IN ('confirmed', 'waitlisted')",
                 [start, end], "s.starts_at, s.id, b.status, b.position, r.kana_key")
    with write_transaction(db):
        audit.record(db, actor, "view_call_list", "call_list", None, day=str(day), residents=len(rows))
    return rows


def waitlisted_by_paper_ref(db, paper_ref: str) -> list[dict]:
    """Call-list rows of one paper sheet's bookings still on a waiting list.

    Not audited here: the caller logs the view against the sheet it shows.
    """
    return _rows(db, "b.paper_ref = ? AND b.status = 'waitlisted'", [paper_ref], "s.starts_at, s.id")


def to_csv(rows: list[dict]) -> str:
    # csvout neutralises cells that a spreadsheet would run as formulas:
    # names and notes are typed by residents.
    return csvout.to_text(HEADERS_JA, ([
        timeutil.parse(row["starts_at"]).strftime("%H:%M"), row["venue"], row["topic"],
        STATUS_JA.get(row["status"], row["status"]), row["position"] or "", row["name_kanji"],
        row["name_kana"], format_phone(row["phone"]), row["needs"], row["reference"], row["booking_id"],
    ] for row in rows))


def to_html(rows: list[dict], day) -> str:
    """A self-contained printable page (large print, one row per call)."""
    date = timeutil.parse_date(day)
    e = html.escape
    body = []
    for row in rows:
        body.append(
            "<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in (
                timeutil.parse(row["starts_at"]).strftime("%H:%M"), row["venue"], row["topic"],
                STATUS_JA.get(row["status"], row["status"]) + (f" {row['position']}番" if row["position"] else ""),
                row["name_kanji"], row["name_kana"], format_phone(row["phone"]), row["needs"], row["reference"])
            ) + "<td class=\"done\"></td></tr>")
    headers = "".join(f"<th scope=\"col\">{e(h)}</th>" for h in HEADERS_JA[:-1]) + "<th scope=\"col\">済</th>"
    empty = "<p>この日の予約はありません。</p>" if not rows else ""
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>電話連絡リスト {date.isoformat()}</title>
<style>
body {{ font-family: "BIZ UDGothic", "Noto Sans CJK JP", sans-serif; font-size: 1.125rem; line-height: 1.6; }}
table {{ border-collapse: collapse; width: 100%; }} th, td {{ border: 1px solid #000; padding: .4rem; }}
td.done {{ width: 3rem; }} @media print {{ body {{ font-size: 12pt; }} }}
</style></head><body>
<h1>電話連絡リスト {date.year}年{date.month}月{date.day}日</h1>
{empty}<table><thead><tr>{headers}</tr></thead><tbody>
{''.join(body)}
</tbody></table></body></html>
"""
