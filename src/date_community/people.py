"""Residents and volunteers: normalising names, kana and phones; duplicates; merging."""
from __future__ import annotations

import json
import re
import secrets
import unicodedata
from typing import Any, Iterable

from . import audit, timeutil
from .db import write_transaction
from .errors import NotFound, RuleViolation, ValidationError
from .schema import DEVICES, DISTRICTS, SOURCES

# Labels for the device codes, for CSVs and the CLI; the web app translates.
DEVICE_LABELS_JA = {
    "none": "なし",
    "iphone": "iPhone",
    "android": "Android",
    "rakuraku": "らくらくスマホ",
    "feature_phone": "携帯電話（ガラケー）",
}
_DEVICE_ALIASES = {
    "らくらくスマホ": "rakuraku", "らくらくスマートフォン": "rakuraku",
    "iphone": "iphone", "android": "android", "なし": "none",
    "ガラケー": "feature_phone", "携帯電話": "feature_phone", "feature phone": "feature_phone",
    "feature-phone": "feature_phone",
}

_HYPHENS = "-‐‑‒–—―−ー－ｰ"
_PHONE_STRIP = re.compile(r"[\s()（）" + re.escape(_HYPHENS) + r"]")
# Hiragana, the long-vowel mark, iteration marks, spaces and the middle dot
# that separates given and family names written in katakana (ジョン・スミス).
_KANA_OK = re.compile(r"^[\u3041-\u3096\u309d\u309e\u30fb\u30fc\u3000 ]+$")


def normalize_phone(raw: str | None) -> str:
    """Return the phone as plain domestic digits, e.g. ``0245771111``.

    Accepts full-width digits, any hyphen or dash, spaces, brackets and the
    +81 country code (``+81 90-1234-5678`` → ``09012345678``).
    """
    if raw is None:
        raise ValidationError("invalid_phone")
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    text = _PHONE_STRIP.sub("", text)
    if text.startswith("+81"):
        text = "0" + text[3:].lstrip("0")
    elif text.startswith("0081"):
        text = "0" + text[4:].lstrip("0")
    # isascii(): str.isdigit() also accepts digits of other scripts.
    if not (text.isascii() and text.isdigit()) or not text.startswith("0") or len(text) not in (10, 11):
        raise ValidationError("invalid_phone")
    return text


def format_phone(digits: str | None) -> str:
    """Group a normalised number for reading aloud (mobile 3-4-4, else 2/3/4 split)."""
    if not digits:
        return ""
    if len(digits) == 11:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if digits.startswith("03") or digits.startswith("06"):
        return f"{digits[:2]}-{digits[2:6]}-{digits[6:]}"
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


def kana_key(kana: str) -> str:
    """Kana folded for matching: NFKC, katakana → hiragana, no spaces."""
    text = unicodedata.normalize("NFKC", kana)
    out = []
    for ch in text:
        code = ord(ch)
        if 0x30A1 <= code <= 0x30F6:
            ch = chr(code - 0x60)
        if not ch.isspace():
            out.append(ch)
    return "".join(out)


def normalize_kana(kana: str | None) -> str:
    """Furigana as hiragana with single spaces; raise ``invalid_kana`` otherwise."""
    text = unicodedata.normalize("NFKC", kana or "").strip()
    text = "".join(chr(ord(c) - 0x60) if 0x30A1 <= ord(c) <= 0x30F6 else c for c in text)
    text = re.sub(r"\s+", " ", text)
    if not text or not _KANA_OK.match(text):
        raise ValidationError("invalid_kana")
    return text


def normalize_name(name: str | None) -> str:
    # Names are never checked against an alphabet: kanji, kana, Latin and
    # variant characters are all legitimate.  Only emptiness is an error.
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", name or "")).strip()
    if not text or len(text) > 100:
        raise ValidationError("invalid_name")
    return text


def normalize_device(device: str | None) -> str:
    if not device:
        return "none"
    key = unicodedata.normalize("NFKC", device).strip()
    key = _DEVICE_ALIASES.get(key.lower(), _DEVICE_ALIASES.get(key, key.lower()))
    if key not in DEVICES:
        raise ValidationError("invalid_device", device=device)
    return key


def normalize_birth_year(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        year = int(unicodedata.normalize("NFKC", str(value)).strip())
    except ValueError as exc:
        raise ValidationError("invalid_birth_year") from exc
    if not 1900 <= year <= timeutil.now().year:
        raise ValidationError("invalid_birth_year")
    return year


def _district(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().removesuffix("町")
    if value not in DISTRICTS:
        raise ValidationError("invalid_district", district=value)
    return value


def _source(value: str) -> str:
    if value not in SOURCES:
        raise ValidationError("invalid_source", source=value)
    return value


def _json_list(values: Iterable[str] | None) -> str:
    return json.dumps(sorted(set(values or [])), ensure_ascii=False)


# --- residents ---------------------------------------------------------------

RESIDENT_FIELDS = ("name_kanji", "name_kana", "phone", "birth_year", "district", "device",
                   "topics_wanted", "needs", "consent_at", "consent_channel")


def _clean_resident(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name_kanji" in fields:
        out["name_kanji"] = normalize_name(fields["name_kanji"])
    if "name_kana" in fields:
        out["name_kana"] = normalize_kana(fields["name_kana"])
        out["kana_key"] = kana_key(out["name_kana"])
    if "phone" in fields:
        out["phone"] = normalize_phone(fields["phone"]) if fields["phone"] else None
    if "birth_year" in fields:
        out["birth_year"] = normalize_birth_year(fields["birth_year"])
    if "district" in fields:
        out["district"] = _district(fields["district"])
    if "device" in fields:
        out["device"] = normalize_device(fields["device"])
    if "topics_wanted" in fields:
        out["topics_wanted"] = _json_list(fields["topics_wanted"])
    if "needs" in fields:
        out["needs"] = (fields["needs"] or "").strip()[:1000]
    if "consent_channel" in fields:
        out["consent_channel"] = _source(fields["consent_channel"]) if fields["consent_channel"] else None
    if "consent_at" in fields:
        out["consent_at"] = timeutil.iso(fields["consent_at"]) if fields["consent_at"] else None
    return out


def add_resident(db, *, name_kanji: str, name_kana: str, phone: str | None = None,
                 birth_year: int | str | None = None, district: str | None = None,
                 device: str | None = None, topics_wanted: Iterable[str] | None = None,
                 needs: str = "", source: str, consent: bool = True, actor: str = "system") -> int:
    """Register a resident.  Consent is recorded with its time and channel."""
    stamp = timeutil.now().isoformat()
    row = _clean_resident({
        "name_kanji": name_kanji, "name_kana": name_kana, "phone": phone,
        "birth_year": birth_year, "district": district, "device": device,
        "topics_wanted": topics_wanted, "needs": needs,
    })
    row.update(source=_source(source), created_at=stamp, updated_at=stamp,
               consent_at=stamp if consent else None, consent_channel=source if consent else None)
    with write_transaction(db):
        cols = ", ".join(row)
        cur = db.conn.execute(
            f"INSERT INTO residents ({cols}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))
        rid = cur.lastrowid
        audit.record(db, actor, "create", "resident", rid, source=source)
    return rid


def _resident_row(db, resident_id: int) -> dict:
    rows = list(db.query("SELECT * FROM residents WHERE id = ?", [resident_id]))
    if not rows:
        raise NotFound("resident_not_found", id=resident_id)
    row = rows[0]
    row["topics_wanted"] = json.loads(row["topics_wanted"])
    return row


def get_resident(db, resident_id: int, *, actor: str | None = None, purpose: str = "view") -> dict:
    """A resident's record.  With ``actor`` the view is written to the audit log."""
    row = _resident_row(db, resident_id)
    if actor:
        with write_transaction(db):
            audit.record(db, actor, purpose, "resident", resident_id)
    return row


def update_resident(db, resident_id: int, *, actor: str, **fields: Any) -> dict:
    unknown = set(fields) - set(RESIDENT_FIELDS)
    if unknown:
        raise ValidationError("invalid_value", fields=",".join(sorted(unknown)))
    changes = _clean_resident(fields)
    with write_transaction(db):
        _resident_row(db, resident_id)
        if changes:
            changes["updated_at"] = timeutil.now().isoformat()
            sets = ", ".join(f"{k} = ?" for k in changes)
            db.conn.execute(f"UPDATE residents SET {sets} WHERE id = ?", [*changes.values(), resident_id])
        audit.record(db, actor, "update", "resident", resident_id, fields=sorted(fields))
    return _resident_row(db, resident_id)


def list_residents(db, *, limit: int = 100, offset: int = 0, actor: str | None = None) -> list[dict]:
    """Live residents in kana order.  With ``actor`` the listing is audited (ids shown)."""
    rows = list(db.query(
        "SELECT id, name_kanji, name_kana, phone, birth_year, district, device, source "
        "FROM residents WHERE merged_into IS NULL ORDER BY kana_key, id LIMIT ? OFFSET ?",
        [limit, offset]))
    if actor:
        with write_transaction(db):
            audit.record(db, actor, "list", "resident", None, shown=[r["id"] for r in rows])
    return rows


def find_residents(db, query: str, *, limit: int = 50, actor: str | None = None) -> list[dict]:
    """Search by kana (prefix or substring, katakana or hiragana) or by phone digits.

    With ``actor`` the search is written to the audit log: who searched and
    which residents were shown, never the search term itself.
    """
    query = (query or "").strip()
    if not query:
        return []
    digits = _PHONE_STRIP.sub("", unicodedata.normalize("NFKC", query))
    base = ("SELECT id, name_kanji, name_kana, phone, birth_year, district, device, source "
            "FROM residents WHERE merged_into IS NULL AND ")
    if digits.isdigit() or digits.startswith("+81"):
        try:
            digits = normalize_phone(digits)
        except ValidationError:
            pass
        rows = list(db.query(base + "phone LIKE ? ORDER BY kana_key LIMIT ?", [f"%{digits}%", limit]))
    else:
        key = kana_key(query)
        rows = list(db.query(
            base + "(kana_key LIKE ? OR name_kanji LIKE ?) ORDER BY kana_key LIMIT ?",
            [f"%{key}%", f"%{query}%", limit]))
    if actor:
        with write_transaction(db):
            audit.record(db, actor, "search", "resident", None, shown=[r["id"] for r in rows])
    return rows


# The error code a required field gets when it is left empty.
_EMPTY_CODES = {"name_kanji": "invalid_name", "name_kana": "invalid_kana", "phone": "invalid_phone",
                "birth_year": "invalid_birth_year", "district": "invalid_district", "device": "invalid_device",
                "source": "invalid_source"}


def resident_errors(fields: dict[str, Any], *, required: Iterable[str] = ()) -> dict[str, str]:
    """Check a resident form field by field: ``{field: error code}`` in the order given.

    Unlike :func:`add_resident`, which stops at the first problem, this finds
    every problem at once so a form can show them all.  ``source`` is checked
    too.  Fields named in ``required`` must not be empty.
    """
    errors: dict[str, str] = {}
    for name, value in fields.items():
        if name in required and value in (None, "", [], ()):
            errors[name] = _EMPTY_CODES.get(name, "invalid_value")
            continue
        try:
            if name == "source":
                _source(value)
            elif name in RESIDENT_FIELDS:
                _clean_resident({name: value})
            else:
                raise ValidationError("invalid_value", field=name)
        except ValidationError as exc:
            errors[name] = exc.code
    return errors


def duplicate_candidates(db, resident_id: int | None = None, *, phone: str | None = None,
                         name_kana: str | None = None, birth_year: int | None = None,
                         actor: str | None = None) -> list[dict]:
    """Residents that may be the same person: same phone, or same kana and birth year.

    Either give an existing ``resident_id`` or the fields of a person about to
    be entered (the paper-form review uses the latter).  With ``actor``,
    candidates shown are written to the audit log by id (nothing is logged
    when none is found: no one's data was shown).
    """
    if resident_id is not None:
        me = _resident_row(db, resident_id)
        phone, key, birth_year = me["phone"], me["kana_key"], me["birth_year"]
    else:
        phone = normalize_phone(phone) if phone else None
        key = kana_key(name_kana) if name_kana else None
    clauses, params = [], []
    if phone:
        clauses.append("phone = ?")
        params.append(phone)
    if key and birth_year:
        clauses.append("(kana_key = ? AND birth_year = ?)")
        params.extend([key, birth_year])
    if not clauses:
        return []
    sql = ("SELECT id, name_kanji, name_kana, phone, birth_year, district FROM residents "
           f"WHERE merged_into IS NULL AND ({' OR '.join(clauses)})")
    if resident_id is not None:
        sql += " AND id != ?"
        params.append(resident_id)
    rows = list(db.query(sql + " ORDER BY id", params))
    for row in rows:
        reasons = []
        if phone and row["phone"] == phone:
            reasons.append("phone")
        if key and birth_year and kana_key(row["name_kana"]) == key and row["birth_year"] == birth_year:
            reasons.append("kana_birth_year")
        row["reasons"] = reasons
    if actor and rows:
        with write_transaction(db):
            audit.record(db, actor, "search", "resident", None, purpose="duplicates",
                         shown=[r["id"] for r in rows])
    return rows


def all_duplicate_pairs(db, *, limit: int = 200) -> list[dict]:
    """Every pair of live residents that match on phone or on kana + birth year."""
    return list(db.query(
        """SELECT a.id AS keep_id, b.id AS other_id,
                  CASE WHEN a.phone = b.phone THEN 'phone' ELSE 'kana_birth_year' END AS reason
           FROM residents a JOIN residents b ON a.id < b.id
           WHERE a.merged_into IS NULL AND b.merged_into IS NULL
             AND (a.phone = b.phone OR (a.kana_key = b.kana_key AND a.kana_key != ''
                                        AND a.birth_year = b.birth_year))
           ORDER BY a.id, b.id LIMIT ?""", [limit]))


def merge_residents(db, keep_id: int, other_id: int, *, actor: str) -> dict:
    """Merge ``other_id`` into ``keep_id``.  Every booking is kept.

    Bookings move to the kept resident.  Where both hold a live booking for the
    same session, the better one stays live (confirmed beats waitlisted) and the
    other is kept as a cancelled row, so no history is lost and the seat or
    waitlist place it held is released to the next person.
    """
    from .scheduling import bookings as _bookings  # people → scheduling only here

    if keep_id == other_id:
        raise ValidationError("same_resident")
    moved = 0
    released: list[int] = []
    with write_transaction(db):
        keep = _resident_row(db, keep_id)
        other = _resident_row(db, other_id)
        if keep["merged_into"] or other["merged_into"]:
            raise RuleViolation("resident_not_found")
        rank = {"attended": 0, "no_show": 1, "confirmed": 2, "waitlisted": 3}
        for b in db.query("SELECT * FROM bookings WHERE resident_id = ? ORDER BY id", [other_id]):
            clash = None
            if b["status"] != "cancelled":
                found = list(db.query(
                    "SELECT * FROM bookings WHERE resident_id = ? AND session_id = ? AND status != 'cancelled'",
                    [keep_id, b["session_id"]]))
                clash = found[0] if found else None
            if clash is not None:
                loser = b if rank[b["status"]] >= rank[clash["status"]] else clash
                _bookings._release(db, loser, actor=actor, reason="merged_duplicate")
                released.append(loser["id"])
            db.conn.execute("UPDATE bookings SET resident_id = ?, updated_at = ? WHERE id = ?",
                            [keep_id, timeutil.now().isoformat(), b["id"]])
            moved += 1
        # Fill gaps in the kept record from the duplicate, never overwrite.
        fill = {k: other[k] for k in ("phone", "birth_year", "district", "consent_at", "consent_channel")
                if keep[k] in (None, "") and other[k] not in (None, "")}
        wanted = sorted(set(keep["topics_wanted"]) | set(other["topics_wanted"]))
        fill["topics_wanted"] = json.dumps(wanted, ensure_ascii=False)
        if other["needs"] and other["needs"] not in keep["needs"]:
            fill["needs"] = (keep["needs"] + "\n" + other["needs"]).strip()
        fill["updated_at"] = timeutil.now().isoformat()
        sets = ", ".join(f"{k} = ?" for k in fill)
        db.conn.execute(f"UPDATE residents SET {sets} WHERE id = ?", [*fill.values(), keep_id])
        db.conn.execute("UPDATE residents SET merged_into = ?, updated_at = ? WHERE id = ?",
                        [keep_id, timeutil.now().isoformat(), other_id])
        audit.record(db, actor, "merge", "resident", keep_id, merged=other_id, bookings_moved=moved,
                     released=released)
    return {"kept": keep_id, "merged": other_id, "bookings_moved": moved, "released": released}


def delete_resident(db, resident_id: int, *, actor: str) -> dict:
    """Erase a resident's personal data on request (APPI), keeping anonymous counts.

    Bookings stay, for attendance statistics, but point at a record whose
    name, phone and notes are blanked.  Live bookings are cancelled first so
    their seats go to the waitlist.  Everything else that carries the person
    goes too:

    * duplicate records merged into this one (they still hold the old name
      and phone) are blanked the same way;
    * their scanned sheets lose the page image, the crops of the handwriting
      and the uploaded file's name (the box states and the booking outcomes
      stay: they hold only ids);
    * staff overrides typed on their bookings are removed, from the booking
      and from its audit rows (free text may name the person);
    * queued messages about them are deleted.

    ``PRAGMA secure_delete`` (set by :func:`db.connect`) zeroes the freed
    bytes, and a WAL checkpoint afterwards removes the frames that still hold
    the old rows.  Returns what was erased, as counts.
    """
    from .db import checkpoint
    from .scheduling import bookings as _bookings

    stamp = timeutil.now().isoformat()
    with write_transaction(db):
        _resident_row(db, resident_id)
        ids = [resident_id] + [r["id"] for r in db.query(
            "SELECT id FROM residents WHERE merged_into = ? ORDER BY id", [resident_id])]
        marks = ", ".join("?" for _ in ids)
        for b in list(db.query(
                f"SELECT * FROM bookings WHERE resident_id IN ({marks}) AND status IN ('confirmed', 'waitlisted')",
                ids)):
            _bookings.cancel_booking(db, b["id"], actor=actor)
        phones = [r["phone"] for r in db.query(f"SELECT phone FROM residents WHERE id IN ({marks})", ids)
                  if r["phone"]]
        booking_ids = [r["id"] for r in db.query(f"SELECT id FROM bookings WHERE resident_id IN ({marks})", ids)]
        db.conn.execute(
            "UPDATE residents SET name_kanji = '（削除済み）', name_kana = 'さくじょずみ', kana_key = '', "
            f"phone = NULL, needs = '', topics_wanted = '[]', consent_at = NULL, updated_at = ? WHERE id IN ({marks})",
            [stamp, *ids])
        sheets = db.conn.execute(
            f"UPDATE scanned_sheets SET image = NULL, crops = NULL, source_name = '', purged_at = ? "
            f"WHERE resident_id IN ({marks})", [stamp, *ids]).rowcount
        _erase_overrides(db, booking_ids)
        messages = _delete_messages(db, ids, booking_ids, phones)
        audit.record(db, actor, "erase", "resident", resident_id, merged=ids[1:], sheets=sheets, messages=messages)
    checkpoint(db)
    return {"residents": len(ids), "sheets": sheets, "messages": messages}


def _erase_overrides(db, booking_ids: list[int]) -> None:
    """Remove the staff's free-text override reasons from these bookings and their audit rows."""
    for chunk in _chunks(booking_ids):
        marks = ", ".join("?" for _ in chunk)
        db.conn.execute(f"UPDATE bookings SET override_reason = NULL WHERE id IN ({marks}) "
                        "AND override_reason IS NOT NULL", chunk)
        db.conn.execute(
            "UPDATE audit_log SET detail = json_remove(detail, '$.override_reason') "
            f"WHERE entity = 'booking' AND entity_id IN ({marks}) "
            "AND json_extract(detail, '$.override_reason') IS NOT NULL", chunk)


def _delete_messages(db, resident_ids: list[int], booking_ids: list[int], phones: list[str]) -> int:
    """Delete outbox rows not yet sent that are about these residents or bookings.

    Sent rows stay as the delivery record; they hold ids only, which point
    at the blanked record.
    """
    deleted = 0
    for column, values in (("resident_id", resident_ids), ("booking_id", booking_ids)):
        for chunk in _chunks(values):
            marks = ", ".join("?" for _ in chunk)
            deleted += db.conn.execute(
                f"DELETE FROM outbox WHERE state != 'sent' AND json_extract(payload, '$.{column}') IN ({marks})",
                chunk).rowcount
    for chunk in _chunks(phones):
        marks = ", ".join("?" for _ in chunk)
        deleted += db.conn.execute(f"DELETE FROM outbox WHERE state != 'sent' AND recipient IN ({marks})",
                                   chunk).rowcount
    return deleted


def _chunks(values: list, size: int = 500):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def export_resident(db, resident_id: int, *, actor: str) -> dict:
    """Everything held about one resident (a subject-access request), logged."""
    data = _resident_row(db, resident_id)
    data["bookings"] = list(db.query(
        "SELECT b.reference, b.status, b.position, b.source, b.created_at, s.starts_at, t.code AS topic "
        "FROM bookings b JOIN sessions s ON s.id = b.session_id JOIN topics t ON t.id = s.topic_id "
        "WHERE b.resident_id = ? ORDER BY s.starts_at", [resident_id]))
    with write_transaction(db):
        audit.record(db, actor, "export", "resident", resident_id)
    return data


# --- volunteers --------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def add_volunteer(db, *, name: str, email: str, name_kana: str = "", phone: str | None = None,
                  skills: Iterable[str] | None = None, devices: Iterable[str] | None = None,
                  languages: Iterable[str] | None = None, actor: str = "system") -> int:
    name = normalize_name(name)
    email = (email or "").strip()
    if not _EMAIL.match(email):
        raise ValidationError("invalid_email")
    row = {
        "name": name,
        "name_kana": normalize_kana(name_kana) if name_kana else "",
        "email": email,
        "phone": normalize_phone(phone) if phone else None,
        "skills": _json_list(skills),
        "devices": _json_list(normalize_device(d) for d in (devices or [])),
        "languages": _json_list(languages),
        "calendar_token": secrets.token_urlsafe(24),
        "created_at": timeutil.now().isoformat(),
    }
    with write_transaction(db):
        if list(db.query("SELECT 1 FROM volunteers WHERE email = ? COLLATE NOCASE", [email])):
            raise RuleViolation("duplicate_email")
        cur = db.conn.execute(
            f"INSERT INTO volunteers ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()))
        vid = cur.lastrowid
        audit.record(db, actor, "create", "volunteer", vid)
    return vid


def _volunteer_out(row: dict) -> dict:
    for key in ("skills", "devices", "languages"):
        row[key] = json.loads(row[key])
    row["active"] = bool(row["active"])
    return row


def get_volunteer(db, volunteer_id: int) -> dict:
    rows = list(db.query("SELECT * FROM volunteers WHERE id = ?", [volunteer_id]))
    if not rows:
        raise NotFound("volunteer_not_found", id=volunteer_id)
    return _volunteer_out(rows[0])


def list_volunteers(db, *, active_only: bool = False) -> list[dict]:
    sql = "SELECT * FROM volunteers"
    if active_only:
        sql += " WHERE active = 1"
    return [_volunteer_out(r) for r in db.query(sql + " ORDER BY name_kana, id")]


def set_volunteer_active(db, volunteer_id: int, active: bool, *, actor: str) -> None:
    with write_transaction(db):
        get_volunteer(db, volunteer_id)
        db.conn.execute("UPDATE volunteers SET active = ? WHERE id = ?", [int(active), volunteer_id])
        audit.record(db, actor, "activate" if active else "deactivate", "volunteer", volunteer_id)


def renew_calendar_token(db, volunteer_id: int, *, actor: str) -> str:
    token = secrets.token_urlsafe(24)
    with write_transaction(db):
        get_volunteer(db, volunteer_id)
        db.conn.execute("UPDATE volunteers SET calendar_token = ? WHERE id = ?", [token, volunteer_id])
        audit.record(db, actor, "renew_calendar_token", "volunteer", volunteer_id)
    return token


def volunteer_by_token(db, token: str) -> dict:
    rows = list(db.query("SELECT * FROM volunteers WHERE calendar_token = ? AND active = 1", [token or ""]))
    if not rows or not token:
        raise NotFound("volunteer_not_found")
    return _volunteer_out(rows[0])


def first_name(name_kanji: str | None) -> str:
    """Only the given name, for pages outside the staff area (a volunteer's roster).

    Names are stored family name first with a space (``伊達 花子`` → ``花子``).
    Without a space we cannot tell where the family name ends, so only the
    first character is shown: enough to greet someone, too little to identify them.
    """
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", name_kanji or "")).strip()
    if not text:
        return ""
    given = text.partition(" ")[2]
    if given:
        return given
    letters = [ch for ch in text if ch.isalnum()]
    return letters[0] if letters else ""
