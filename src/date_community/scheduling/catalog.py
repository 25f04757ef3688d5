"""Venues and topics: the fixed catalogue that sessions refer to."""
from __future__ import annotations

from typing import Any

from .. import audit
from ..db import write_transaction
from ..errors import NotFound, ValidationError
from ..schema import DISTRICTS

LANGS = ("ja", "en", "zh_Hans", "zh_Hant", "ko")


def _venue_row(fields: dict[str, Any]) -> dict[str, Any]:
    row = {k: fields.get(k) for k in ("slug", "name_ja", "name_en", "district", "address", "lat", "lon",
                                      "coord_quality", "seats", "barrier_free", "source_url")}
    if not row["slug"] or not row["name_ja"] or not row["name_en"]:
        raise ValidationError("invalid_name")
    if row["district"] not in DISTRICTS:
        raise ValidationError("invalid_district", district=row["district"])
    for key in ("lat", "lon"):
        row[key] = float(row[key]) if row[key] not in (None, "") else None
    if row["lat"] is None or row["lon"] is None:
        row["lat"] = row["lon"] = None
        row["coord_quality"] = "missing"
    row["coord_quality"] = row["coord_quality"] or "sourced"
    try:
        row["seats"] = int(row["seats"] or 0)
    except (TypeError, ValueError) as exc:
        raise ValidationError("invalid_seats") from exc
    for key in ("address", "barrier_free", "source_url"):
        row[key] = row[key] or ""
    return row


def upsert_venue(db, *, actor: str = "system", **fields: Any) -> int:
    row = _venue_row(fields)
    with write_transaction(db):
        existing = list(db.query("SELECT id FROM venues WHERE slug = ?", [row["slug"]]))
        if existing:
            vid = existing[0]["id"]
            sets = ", ".join(f"{k} = ?" for k in row if k != "slug")
            db.conn.execute(f"UPDATE venues SET {sets} WHERE id = ?",
                            [v for k, v in row.items() if k != "slug"] + [vid])
            audit.record(db, actor, "update", "venue", vid)
        else:
            cur = db.conn.execute(f"INSERT INTO venues ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                                  list(row.values()))
            vid = cur.lastrowid
            audit.record(db, actor, "create", "venue", vid)
    return vid


def list_venues(db) -> list[dict]:
    return list(db.query("SELECT * FROM venues ORDER BY district, slug"))


def get_venue(db, ref: int | str) -> dict:
    col = "id" if isinstance(ref, int) or str(ref).isdigit() else "slug"
    rows = list(db.query(f"SELECT * FROM venues WHERE {col} = ?", [ref]))
    if not rows:
        raise NotFound("venue_not_found", venue=ref)
    return rows[0]


def upsert_topic(db, *, code: str, titles: dict[str, str], sort_order: int = 0, actor: str = "system") -> int:
    code = (code or "").strip()
    if not code:
        raise ValidationError("invalid_value", field="code")
    missing = [lang for lang in LANGS if not (titles.get(lang) or "").strip()]
    if missing:
        raise ValidationError("invalid_name", missing=",".join(missing))
    values = [titles[lang].strip() for lang in LANGS]
    with write_transaction(db):
        existing = list(db.query("SELECT id FROM topics WHERE code = ?", [code]))
        if existing:
            tid = existing[0]["id"]
            db.conn.execute(
                "UPDATE topics SET sort_order = ?, title_ja = ?, title_en = ?, title_zh_Hans = ?, "
                "title_zh_Hant = ?, title_ko = ? WHERE id = ?", [sort_order, *values, tid])
            audit.record(db, actor, "update", "topic", tid)
        else:
            cur = db.conn.execute(
                "INSERT INTO topics (code, sort_order, title_ja, title_en, title_zh_Hans, title_zh_Hant, title_ko) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", [code, sort_order, *values])
            tid = cur.lastrowid
            audit.record(db, actor, "create", "topic", tid)
    return tid


def list_topics(db) -> list[dict]:
    return list(db.query("SELECT * FROM topics ORDER BY sort_order, code"))


def get_topic(db, ref: int | str) -> dict:
    col = "id" if isinstance(ref, int) or str(ref).isdigit() else "code"
    rows = list(db.query(f"SELECT * FROM topics WHERE {col} = ?", [ref]))
    if not rows:
        raise NotFound("topic_not_found", topic=ref)
    return rows[0]


def topic_title(topic: dict, lang: str) -> str:
    return topic.get(f"title_{lang}") or topic["title_ja"]

