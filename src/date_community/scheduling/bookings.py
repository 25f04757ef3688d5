"""Bookings of residents into sessions, and the waitlist.

Every function that reads counts and then writes runs inside
``write_transaction`` (BEGIN IMMEDIATE), so the seat cap holds at any level of
concurrency; the partial unique indexes in the schema back the rules that can
be expressed as constraints.
"""
from __future__ import annotations

import datetime as dt
import secrets

from ..sqlitedriver import sqlite3
from .. import audit, notify, timeutil
from ..db import query_one as _one
from ..db import write_transaction
from ..errors import NotFound, RuleViolation, ValidationError
from ..people import normalize_phone
from ..schema import SOURCES
from .sessions import HELD, get_session

# Booking references are read aloud over the phone: no 0/O, 1/I/L, 2/Z, 5/S, 8/B.
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
REFERENCE_LENGTH = 6


def new_reference() -> str:
    raw = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
    return f"{raw[:3]}-{raw[3:]}"


def normalize_reference(text: str) -> str:
    cleaned = "".join(ch for ch in (text or "").upper() if ch.isalnum())
    return f"{cleaned[:3]}-{cleaned[3:]}" if len(cleaned) == REFERENCE_LENGTH else cleaned


def _count(db, sql: str, params) -> int:
    return next(iter(db.query(sql, params)))["n"]


def get_booking(db, booking_id: int) -> dict:
    row = _one(db, "SELECT * FROM bookings WHERE id = ?", [booking_id])
    if row is None:
        raise NotFound("booking_not_found", id=booking_id)
    return row


def _capacity(session: dict) -> int:
    return session["seats"] - session["walkin_seats"]


def _held(db, session_id: int) -> int:
    return _count(db, f"SELECT count(*) AS n FROM bookings WHERE session_id = ? AND status IN {HELD!r}",
                  [session_id])


def book_seat(db, session_id: int, resident_id: int, *, source: str, actor: str,
              override_reason: str | None = None, paper_ref: str | None = None,
              now: dt.datetime | None = None) -> dict:
    """Book a resident into a session: confirmed if a seat is free, else waitlisted.

    Staff may pass ``override_reason`` to book outside the sign-up window or
    over an overlapping booking; the reason is written to the audit log.
    Returns ``{"booking_id", "reference", "status", "position"}``.
    """
    if source not in SOURCES:
        raise ValidationError("invalid_source", source=source)
    if override_reason is not None and not override_reason.strip():
        raise ValidationError("override_reason_required")
    moment = timeutil.iso(now or timeutil.now())
    with write_transaction(db):
        session = _one(db, "SELECT * FROM sessions WHERE id = ?", [session_id])
        if session is None:
            raise NotFound("session_not_found", id=session_id)
        if session["status"] != "scheduled":
            raise RuleViolation("session_cancelled")
        resident = _one(db, "SELECT id, merged_into FROM residents WHERE id = ?", [resident_id])
        if resident is None or resident["merged_into"]:
            raise NotFound("resident_not_found", id=resident_id)
        if _one(db, "SELECT id FROM bookings WHERE session_id = ? AND resident_id = ? AND status != 'cancelled'",
                [session_id, resident_id]):
            raise RuleViolation("already_booked")
        if override_reason is None:
            opens = session["signup_opens_at"]
            closes = session["signup_closes_at"] or session["starts_at"]
            if opens and moment < opens:
                raise RuleViolation("signup_not_open", opens_at=opens)
            if moment >= closes:
                raise RuleViolation("signup_closed")
            clash = _one(db, """
                SELECT b.id, b.session_id FROM bookings b JOIN sessions s ON s.id = b.session_id
                WHERE b.resident_id = ? AND b.status IN ('confirmed', 'waitlisted', 'attended', 'no_show')
                  AND s.status = 'scheduled'
                  AND s.starts_at < ? AND s.ends_at > ?""",
                         [resident_id, session["ends_at"], session["starts_at"]])
            if clash:
                raise RuleViolation("overlapping_booking", session=clash["session_id"])
        if _held(db, session_id) < _capacity(session):
            status, position = "confirmed", None
        else:
            status = "waitlisted"
            position = _count(db, "SELECT coalesce(max(position), 0) + 1 AS n FROM bookings "
                                  "WHERE session_id = ? AND status = 'waitlisted'", [session_id])
        stamp = timeutil.now().isoformat()
        for _ in range(10):
            reference = new_reference()
            try:
                cur = db.conn.execute(
                    "INSERT INTO bookings (reference, session_id, resident_id, status, position, source, entered_by, "
                    "paper_ref, override_reason, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [reference, session_id, resident_id, status, position, source, actor, paper_ref,
                     override_reason, stamp, stamp])
                break
            except sqlite3.IntegrityError as exc:
                if "reference" not in str(exc):
                    raise RuleViolation("already_booked") from exc
        else:  # pragma: no cover - 25^6 references make this practically impossible
            raise RuleViolation("database_busy")
        booking_id = cur.lastrowid
        detail = {"status": status, "position": position, "source": source}
        if override_reason:
            detail["override_reason"] = override_reason
        audit.record(db, actor, "book", "booking", booking_id, **detail)
    return {"booking_id": booking_id, "reference": reference, "status": status, "position": position}


def _compact_after(db, session_id: int, position: int) -> None:
    # Two steps, because the unique index on (session, position) is checked row
    # by row and a single "position - 1" could collide mid-update.
    db.conn.execute("UPDATE bookings SET position = -position WHERE session_id = ? AND status = 'waitlisted' "
                    "AND position > ?", [session_id, position])
    db.conn.execute("UPDATE bookings SET position = -position - 1 WHERE session_id = ? AND status = 'waitlisted' "
                    "AND position < 0", [session_id])


def _release(db, booking: dict, *, actor: str, reason: str = "cancelled") -> int | None:
    """Cancel a live booking inside an open transaction; returns a promoted id."""
    stamp = timeutil.now().isoformat()
    db.conn.execute("UPDATE bookings SET status = 'cancelled', position = NULL, updated_at = ? WHERE id = ?",
                    [stamp, booking["id"]])
    audit.record(db, actor, "cancel", "booking", booking["id"], previous=booking["status"], reason=reason)
    if booking["status"] == "waitlisted":
        _compact_after(db, booking["session_id"], booking["position"])
        return None
    promoted = promote_waitlist(db, booking["session_id"], actor=actor)
    return promoted[0] if promoted else None


def cancel_booking(db, booking_id: int, *, actor: str) -> dict:
    """Cancel a booking.  A freed seat goes to the first on the waitlist."""
    with write_transaction(db):
        booking = get_booking(db, booking_id)
        if booking["status"] not in ("confirmed", "waitlisted"):
            raise RuleViolation("booking_not_active")
        promoted = _release(db, booking, actor=actor)
    return {"promoted": promoted}


def cancel_by_reference(db, reference: str, phone: str) -> dict:
    """Self-service cancellation: the reference plus the phone number on record."""
    ref = normalize_reference(reference)
    try:
        digits = normalize_phone(phone)
    except ValidationError as exc:
        raise NotFound("invalid_reference") from exc
    with write_transaction(db):
        booking = _one(db, "SELECT b.* FROM bookings b JOIN residents r ON r.id = b.resident_id "
                           "WHERE b.reference = ? AND r.phone = ?", [ref, digits])
        if booking is None:
            raise NotFound("invalid_reference")
        if booking["status"] not in ("confirmed", "waitlisted"):
            raise RuleViolation("booking_not_active")
        promoted = _release(db, booking, actor="resident:self-service")
    return {"booking_id": booking["id"], "promoted": promoted}


def promote_waitlist(db, session_id: int, *, actor: str) -> list[int]:
    """Move people from the head of the waitlist into free seats, first in first out."""
    promoted: list[int] = []
    with write_transaction(db):
        session = _one(db, "SELECT * FROM sessions WHERE id = ?", [session_id])
        if session is None:
            raise NotFound("session_not_found", id=session_id)
        if session["status"] != "scheduled":
            return promoted
        free = _capacity(session) - _held(db, session_id)
        while free > 0:
            head = _one(db, "SELECT * FROM bookings WHERE session_id = ? AND status = 'waitlisted' "
                            "ORDER BY position LIMIT 1", [session_id])
            if head is None:
                break
            db.conn.execute("UPDATE bookings SET status = 'confirmed', position = NULL, updated_at = ? WHERE id = ?",
                            [timeutil.now().isoformat(), head["id"]])
            _compact_after(db, session_id, head["position"])
            audit.record(db, actor, "promote", "booking", head["id"], from_position=head["position"])
            # Residents mostly have no email: staff phone them, so the notice goes to staff.
            notify.enqueue(db, "waitlist_promoted", "staff", "staff", booking_id=head["id"],
                           session_id=session_id, resident_id=head["resident_id"])
            promoted.append(head["id"])
            free -= 1
    return promoted


def move_in_waitlist(db, booking_id: int, new_position: int, *, actor: str) -> None:
    """Staff reorder the waitlist (e.g. a resident who was skipped by mistake)."""
    with write_transaction(db):
        booking = get_booking(db, booking_id)
        if booking["status"] != "waitlisted":
            raise RuleViolation("booking_not_active")
        length = _count(db, "SELECT count(*) AS n FROM bookings WHERE session_id = ? AND status = 'waitlisted'",
                        [booking["session_id"]])
        if not 1 <= new_position <= length:
            raise ValidationError("invalid_value", field="position")
        old = booking["position"]
        sid = booking["session_id"]
        db.conn.execute("UPDATE bookings SET position = 0 WHERE id = ?", [booking_id])
        if new_position < old:
            lo, hi, step = new_position, old - 1, 1
        else:
            lo, hi, step = old + 1, new_position, -1
        db.conn.execute("UPDATE bookings SET position = -(position + ?) WHERE session_id = ? AND status = 'waitlisted' "
                        "AND position BETWEEN ? AND ?", [step, sid, lo, hi])
        db.conn.execute("UPDATE bookings SET position = -position WHERE session_id = ? AND status = 'waitlisted' "
                        "AND position < 0", [sid])
        db.conn.execute("UPDATE bookings SET position = ? WHERE id = ?", [new_position, booking_id])
        audit.record(db, actor, "reorder", "booking", booking_id, from_position=old, to_position=new_position)


def session_bookings(db, session_id: int, *, actor: str | None = None) -> list[dict]:
    """Bookings of one session with resident details (staff only).

    With ``actor`` the view is written to the audit log: the session and the
    residents shown, by id.
    """
    rows = list(db.query(
        "SELECT b.*, r.name_kanji, r.name_kana, r.phone, r.device, r.needs FROM bookings b "
        "JOIN residents r ON r.id = b.resident_id WHERE b.session_id = ? "
        "ORDER BY CASE b.status WHEN 'waitlisted' THEN 1 WHEN 'cancelled' THEN 2 ELSE 0 END, b.position, r.kana_key",
        [session_id]))
    if actor:
        with write_transaction(db):
            audit.record(db, actor, "view_bookings", "session", session_id,
                         shown=sorted({r["resident_id"] for r in rows}))
    return rows


def waitlist(db, session_id: int) -> list[dict]:
    return list(db.query("SELECT * FROM bookings WHERE session_id = ? AND status = 'waitlisted' ORDER BY position",
                         [session_id]))


def resident_bookings(db, resident_id: int) -> list[dict]:
    """Every booking of one resident, newest session first, with the session's
    topic and venue (staff only; the caller has already audited the view)."""
    return list(db.query(
        "SELECT b.id, b.reference, b.status, b.position, b.source, b.created_at, s.id AS session_id, "
        "s.starts_at, s.ends_at, s.status AS session_status, t.title_ja, t.title_en, t.title_zh_Hans, "
        "t.title_zh_Hant, t.title_ko, v.name_ja AS venue_name_ja, v.name_en AS venue_name_en "
        "FROM bookings b JOIN sessions s ON s.id = b.session_id JOIN topics t ON t.id = s.topic_id "
        "JOIN venues v ON v.id = s.venue_id WHERE b.resident_id = ? ORDER BY s.starts_at DESC, b.id DESC",
        [resident_id]))


def admission_slip(db, booking_id: int, *, actor: str) -> dict:
    """What the admission slip (受講票) prints: the booking, its session and the
    resident's name.  Showing the name is a view of personal data, so it is logged."""
    booking = get_booking(db, booking_id)
    resident = _one(db, "SELECT id, name_kanji, name_kana FROM residents WHERE id = ?", [booking["resident_id"]])
    session = get_session(db, booking["session_id"])
    with write_transaction(db):
        audit.record(db, actor, "view_slip", "booking", booking_id, resident=booking["resident_id"])
    return {"booking": booking, "session": session, "resident": resident}
