"""Helper shifts: volunteers booking the sessions they staff."""
from __future__ import annotations

import datetime as dt
import json

from .. import audit, notify, timeutil
from ..db import query_one as _one
from ..db import write_transaction
from ..errors import NotFound, RuleViolation, ValidationError
from ..schema import ROLES

# Volunteers cannot drop a shift this close to the start; staff can.  The web
# app and the CLI pass their own configured value.
DEFAULT_CANCEL_CUTOFF_HOURS = 48
LIVE = ("booked", "attended", "no_show")


def get_shift(db, shift_id: int) -> dict:
    row = _one(db, "SELECT * FROM shifts WHERE id = ?", [shift_id])
    if row is None:
        raise NotFound("shift_not_found", id=shift_id)
    return row


def book_shift(db, session_id: int, volunteer_id: int, *, role: str = "assistant", actor: str,
               now: dt.datetime | None = None) -> dict:
    """Book a volunteer on a session.  Never double-books: overlapping shifts,
    a full helper roster or a second lead are refused atomically."""
    if role not in ROLES:
        raise ValidationError("invalid_role", role=role)
    moment = timeutil.iso(now or timeutil.now())
    with write_transaction(db):
        session = _one(db, "SELECT * FROM sessions WHERE id = ?", [session_id])
        if session is None:
            raise NotFound("session_not_found", id=session_id)
        if session["status"] != "scheduled":
            raise RuleViolation("session_cancelled")
        if session["starts_at"] <= moment:
            raise RuleViolation("session_past")
        volunteer = _one(db, "SELECT id, active, email FROM volunteers WHERE id = ?", [volunteer_id])
        if volunteer is None:
            raise NotFound("volunteer_not_found", id=volunteer_id)
        if not volunteer["active"]:
            raise RuleViolation("volunteer_inactive")
        if _one(db, "SELECT id FROM shifts WHERE session_id = ? AND volunteer_id = ? AND status != 'cancelled'",
                [session_id, volunteer_id]):
            raise RuleViolation("already_on_shift")
        clash = _one(db, """
            SELECT h.session_id FROM shifts h JOIN sessions s ON s.id = h.session_id
            WHERE h.volunteer_id = ? AND h.status IN ('booked', 'attended', 'no_show') AND s.status = 'scheduled'
              AND s.starts_at < ? AND s.ends_at > ?""", [volunteer_id, session["ends_at"], session["starts_at"]])
        if clash:
            raise RuleViolation("overlapping_shift", session=clash["session_id"])
        booked = next(iter(db.query(
            f"SELECT count(*) AS n FROM shifts WHERE session_id = ? AND status IN {LIVE!r}", [session_id])))["n"]
        if booked >= session["helpers_max"]:
            raise RuleViolation("helpers_full")
        if role == "lead" and _one(db, "SELECT id FROM shifts WHERE session_id = ? AND role = 'lead' "
                                       "AND status != 'cancelled'", [session_id]):
            raise RuleViolation("lead_taken")
        stamp = timeutil.now().isoformat()
        cur = db.conn.execute(
            "INSERT INTO shifts (session_id, volunteer_id, role, status, created_at, updated_at) "
            "VALUES (?, ?, ?, 'booked', ?, ?)", [session_id, volunteer_id, role, stamp, stamp])
        shift_id = cur.lastrowid
        audit.record(db, actor, "book", "shift", shift_id, role=role)
        notify.enqueue(db, "shift_booked", "email", volunteer["email"], shift_id=shift_id, session_id=session_id)
    return {"shift_id": shift_id, "status": "booked", "role": role}


def cancel_shift(db, shift_id: int, *, actor: str, by_staff: bool = False,
                 cutoff_hours: float = DEFAULT_CANCEL_CUTOFF_HOURS, now: dt.datetime | None = None) -> dict:
    moment = timeutil.parse(now or timeutil.now())
    with write_transaction(db):
        shift = get_shift(db, shift_id)
        if shift["status"] != "booked":
            raise RuleViolation("shift_not_active")
        session = _one(db, "SELECT starts_at FROM sessions WHERE id = ?", [shift["session_id"]])
        starts = timeutil.parse(session["starts_at"])
        if not by_staff and moment > starts - dt.timedelta(hours=cutoff_hours):
            raise RuleViolation("too_late_to_cancel", hours=cutoff_hours)
        db.conn.execute("UPDATE shifts SET status = 'cancelled', sequence = sequence + 1, updated_at = ? "
                        "WHERE id = ?", [timeutil.now().isoformat(), shift_id])
        audit.record(db, actor, "cancel", "shift", shift_id, by_staff=by_staff)
        email = _one(db, "SELECT email FROM volunteers WHERE id = ?", [shift["volunteer_id"]])["email"]
        notify.enqueue(db, "shift_cancelled", "email", email, shift_id=shift_id, session_id=shift["session_id"])
    return {"shift_id": shift_id, "status": "cancelled"}


def volunteer_shifts(db, volunteer_id: int, *, start=None, include_cancelled: bool = False) -> list[dict]:
    where = ["h.volunteer_id = ?"]
    params: list = [volunteer_id]
    if start is not None:
        where.append("s.starts_at >= ?")
        params.append(timeutil.iso(start))
    if not include_cancelled:
        where.append("h.status != 'cancelled'")
    return list(db.query(
        "SELECT h.*, s.starts_at, s.ends_at, s.kind, s.status AS session_status, s.sequence AS session_sequence, "
        "t.code AS topic_code, t.title_ja, t.title_en, t.title_zh_Hans, t.title_zh_Hant, t.title_ko, "
        "v.name_ja AS venue_name_ja, v.name_en AS venue_name_en, v.address AS venue_address "
        "FROM shifts h JOIN sessions s ON s.id = h.session_id JOIN topics t ON t.id = s.topic_id "
        "JOIN venues v ON v.id = s.venue_id WHERE " + " AND ".join(where) + " ORDER BY s.starts_at", params))


def sessions_needing_helpers(db, *, volunteer_id: int | None = None, start=None, end=None) -> list[dict]:
    """Scheduled sessions with free helper slots, best matches first.

    Sessions below their minimum come first; then those whose topic is one of
    the volunteer's skills; then by date.
    """
    from .sessions import list_sessions

    sessions = [s for s in list_sessions(db, start=start or timeutil.now(), end=end) if s["helpers_needed"] > 0]
    skills: set[str] = set()
    mine: set[int] = set()
    if volunteer_id is not None:
        vol = _one(db, "SELECT skills FROM volunteers WHERE id = ?", [volunteer_id])
        if vol is None:
            raise NotFound("volunteer_not_found", id=volunteer_id)
        skills = set(json.loads(vol["skills"]))
        mine = {r["session_id"] for r in db.query(
            "SELECT session_id FROM shifts WHERE volunteer_id = ? AND status != 'cancelled'", [volunteer_id])}
    out = []
    for s in sessions:
        if s["id"] in mine:
            continue
        s["matches_skills"] = s["topic_code"] in skills
        out.append(s)
    out.sort(key=lambda s: (not s["understaffed"], not s["matches_skills"], s["starts_at"]))
    return out


def understaffed(db, *, start=None, end=None) -> list[dict]:
    from .sessions import list_sessions

    return [s for s in list_sessions(db, start=start or timeutil.now(), end=end) if s["understaffed"]]


def cancel_own_shift(db, shift_id: int, volunteer_id: int, *, actor: str,
                     cutoff_hours: float = DEFAULT_CANCEL_CUTOFF_HOURS, now: dt.datetime | None = None) -> dict:
    """A volunteer cancelling one of their own shifts.

    Someone else's shift is reported as not found, so a volunteer cannot even
    learn which shift ids exist.
    """
    with write_transaction(db):
        shift = _one(db, "SELECT id FROM shifts WHERE id = ? AND volunteer_id = ?", [shift_id, volunteer_id])
        if shift is None:
            raise NotFound("shift_not_found", id=shift_id)
        return cancel_shift(db, shift_id, actor=actor, cutoff_hours=cutoff_hours, now=now)


def session_for_volunteer(db, session_id: int, volunteer_id: int, *, actor: str) -> dict:
    """A session as a helper booked on it may see it.

    Helpers and participants are given by first name only, with the number of
    participants: enough to greet people at the door.  No phone numbers, kana,
    needs or addresses leave the staff area.  Only helpers with a live shift on
    the session may look; for anyone else it does not exist.  Each look is
    written to the audit log, since it shows part of residents' names.
    """
    from ..people import first_name
    from .sessions import get_session

    mine = _one(db, "SELECT id, role, status FROM shifts WHERE session_id = ? AND volunteer_id = ? "
                    "AND status != 'cancelled'", [session_id, volunteer_id])
    if mine is None:
        raise NotFound("session_not_found", id=session_id)
    session = get_session(db, session_id)
    helpers = [{"first_name": first_name(r["name"]), "role": r["role"], "me": r["volunteer_id"] == volunteer_id}
               for r in db.query(
                   "SELECT h.volunteer_id, h.role, v.name FROM shifts h JOIN volunteers v ON v.id = h.volunteer_id "
                   f"WHERE h.session_id = ? AND h.status IN {LIVE!r} "
                   "ORDER BY CASE h.role WHEN 'lead' THEN 0 ELSE 1 END, h.id", [session_id])]
    participants = [first_name(r["name_kanji"]) for r in db.query(
        "SELECT r.name_kanji FROM bookings b JOIN residents r ON r.id = b.resident_id "
        "WHERE b.session_id = ? AND b.status IN ('confirmed', 'attended', 'no_show') ORDER BY b.id",
        [session_id])]
    with write_transaction(db):
        audit.record(db, actor, "view_participants", "session", session_id, participants=len(participants))
    return {"session": session, "my_shift": mine, "helpers": helpers, "participants": participants,
            "participant_count": len(participants)}


def session_shifts(db, session_id: int, *, include_cancelled: bool = False) -> list[dict]:
    """The helpers of one session with their names and contact details (staff only)."""
    where = "" if include_cancelled else " AND h.status != 'cancelled'"
    return list(db.query(
        "SELECT h.*, v.name, v.name_kana, v.email, v.phone, v.active AS volunteer_active FROM shifts h "
        "JOIN volunteers v ON v.id = h.volunteer_id WHERE h.session_id = ?" + where +
        " ORDER BY CASE h.status WHEN 'cancelled' THEN 1 ELSE 0 END, CASE h.role WHEN 'lead' THEN 0 ELSE 1 END, h.id",
        [session_id]))
