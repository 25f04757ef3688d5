"""On the day: checking residents and helpers in, no-shows, volunteer hours."""
from __future__ import annotations

import datetime as dt

from .. import audit, timeutil
from ..db import write_transaction
from ..errors import NotFound, RuleViolation
from .bookings import get_booking
from .sessions import get_session
from .shifts import get_shift


def _set_booking(db, booking_id: int, status: str, actor: str, session_id: int | None = None) -> dict:
    with write_transaction(db):
        booking = get_booking(db, booking_id)
        if session_id is not None and booking["session_id"] != session_id:
            # A stale tablet page must not change a booking of another class.
            raise NotFound("booking_not_found", id=booking_id)
        if booking["status"] not in ("confirmed", "attended", "no_show"):
            raise RuleViolation("booking_not_active")
        db.conn.execute("UPDATE bookings SET status = ?, updated_at = ? WHERE id = ?",
                        [status, timeutil.now().isoformat(), booking_id])
        audit.record(db, actor, status, "booking", booking_id, previous=booking["status"])
    return {"booking_id": booking_id, "status": status}


def check_in(db, booking_id: int, *, actor: str, session_id: int | None = None) -> dict:
    return _set_booking(db, booking_id, "attended", actor, session_id)


def mark_no_show(db, booking_id: int, *, actor: str, session_id: int | None = None) -> dict:
    return _set_booking(db, booking_id, "no_show", actor, session_id)


def undo_check_in(db, booking_id: int, *, actor: str, session_id: int | None = None) -> dict:
    """A mistaken tap on the tablet is put back to confirmed."""
    return _set_booking(db, booking_id, "confirmed", actor, session_id)


def _set_shift(db, shift_id: int, status: str, actor: str, session_id: int | None = None) -> dict:
    with write_transaction(db):
        shift = get_shift(db, shift_id)
        if session_id is not None and shift["session_id"] != session_id:
            raise NotFound("shift_not_found", id=shift_id)
        if shift["status"] == "cancelled":
            raise RuleViolation("shift_not_active")
        db.conn.execute("UPDATE shifts SET status = ?, updated_at = ? WHERE id = ?",
                        [status, timeutil.now().isoformat(), shift_id])
        audit.record(db, actor, status, "shift", shift_id, previous=shift["status"])
    return {"shift_id": shift_id, "status": status}


def check_in_helper(db, shift_id: int, *, actor: str, session_id: int | None = None) -> dict:
    return _set_shift(db, shift_id, "attended", actor, session_id)


def mark_helper_no_show(db, shift_id: int, *, actor: str, session_id: int | None = None) -> dict:
    return _set_shift(db, shift_id, "no_show", actor, session_id)


def undo_helper_check_in(db, shift_id: int, *, actor: str, session_id: int | None = None) -> dict:
    """A helper checked in (or marked absent) by mistake goes back to booked."""
    return _set_shift(db, shift_id, "booked", actor, session_id)


def mark_remaining_no_show(db, session_id: int, *, actor: str) -> list[int]:
    """After the class: everyone still only ``confirmed`` did not come.

    One transaction, so a tablet that loses its connection half-way leaves
    either everyone marked or no one.  Returns the bookings marked.
    """
    marked = []
    with write_transaction(db):
        get_session(db, session_id)
        for row in list(db.query("SELECT id FROM bookings WHERE session_id = ? AND status = 'confirmed' "
                                 "ORDER BY id", [session_id])):
            _set_booking(db, row["id"], "no_show", actor)
            marked.append(row["id"])
    return marked


def attendance_sheet(db, session_id: int, *, actor: str) -> dict:
    """The on-the-day list for one session: the session, the residents holding a
    seat (confirmed, checked in or absent) and the helpers.

    Names and needs are personal data, so every call writes an audit row.
    """
    session = get_session(db, session_id)
    bookings = list(db.query(
        "SELECT b.id, b.reference, b.status, b.resident_id, r.name_kanji, r.name_kana, r.needs "
        "FROM bookings b JOIN residents r ON r.id = b.resident_id "
        "WHERE b.session_id = ? AND b.status IN ('confirmed', 'attended', 'no_show') "
        "ORDER BY r.kana_key, b.id", [session_id]))
    shifts = list(db.query(
        "SELECT h.id, h.role, h.status, h.volunteer_id, v.name, v.name_kana "
        "FROM shifts h JOIN volunteers v ON v.id = h.volunteer_id "
        "WHERE h.session_id = ? AND h.status != 'cancelled' "
        "ORDER BY CASE h.role WHEN 'lead' THEN 0 ELSE 1 END, v.name_kana, h.id", [session_id]))
    with write_transaction(db):
        audit.record(db, actor, "view_attendance", "session", session_id, residents=len(bookings),
                     helpers=len(shifts))
    counts = {status: sum(1 for b in bookings if b["status"] == status)
              for status in ("confirmed", "attended", "no_show")}
    return {"session": session, "bookings": bookings, "shifts": shifts, "counts": counts}


def volunteer_hours(db, volunteer_id: int, *, start=None, end=None) -> float:
    """Total length, in hours, of the volunteer's attended shifts."""
    where, params = ["h.volunteer_id = ?", "h.status = 'attended'"], [volunteer_id]
    if start is not None:
        where.append("s.starts_at >= ?")
        params.append(timeutil.iso(start))
    if end is not None:
        where.append("s.starts_at < ?")
        params.append(timeutil.iso(end))
    total = 0.0
    for row in db.query("SELECT s.starts_at, s.ends_at FROM shifts h JOIN sessions s ON s.id = h.session_id WHERE "
                        + " AND ".join(where), params):
        total += (timeutil.parse(row["ends_at"]) - timeutil.parse(row["starts_at"])).total_seconds() / 3600
    return round(total, 2)


def hours_report(db, *, start=None, end=None) -> list[dict]:
    """Hours per volunteer for the city's reports."""
    rows = []
    for vol in db.query("SELECT id, name, email FROM volunteers ORDER BY name_kana, id"):
        rows.append({"volunteer_id": vol["id"], "name": vol["name"],
                     "hours": volunteer_hours(db, vol["id"], start=start, end=end)})
    return rows


def fiscal_year_bounds(day) -> tuple[dt.date, dt.date]:
    """The Japanese fiscal year (April to March) containing ``day``: first day, first day of the next."""
    day = timeutil.parse_date(day)
    first = dt.date(day.year if day.month >= 4 else day.year - 1, 4, 1)
    return first, first.replace(year=first.year + 1)


def hours_summary(db, volunteer_id: int, *, today=None) -> dict:
    """A volunteer's attended hours: in total and in the current fiscal year."""
    first, after = fiscal_year_bounds(today or timeutil.now())
    return {
        "total": volunteer_hours(db, volunteer_id),
        "fiscal_year": volunteer_hours(db, volunteer_id, start=first, end=after),
        "fiscal_start": first,
        "fiscal_end": after - dt.timedelta(days=1),
    }
