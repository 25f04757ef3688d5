"""On the day: checking residents and helpers in, no-shows, volunteer hours."""
from __future__ import annotations

from .. import audit, timeutil
from ..db import write_transaction
from ..errors import RuleViolation
from .bookings import get_booking
from .shifts import get_shift


def _set_booking(db, booking_id: int, status: str, actor: str) -> dict:
    with write_transaction(db):
        booking = get_booking(db, booking_id)
        if booking["status"] not in ("confirmed", "attended", "no_show"):
            raise RuleViolation("booking_not_active")
        db.conn.execute("UPDATE bookings SET status = ?, updated_at = ? WHERE id = ?",
                        [status, timeutil.now().isoformat(), booking_id])
        audit.record(db, actor, status, "booking", booking_id, previous=booking["status"])
    return {"booking_id": booking_id, "status": status}


def check_in(db, booking_id: int, *, actor: str) -> dict:
    return _set_booking(db, booking_id, "attended", actor)


def mark_no_show(db, booking_id: int, *, actor: str) -> dict:
    return _set_booking(db, booking_id, "no_show", actor)


def undo_check_in(db, booking_id: int, *, actor: str) -> dict:
    """A mistaken tap on the tablet is put back to confirmed."""
    return _set_booking(db, booking_id, "confirmed", actor)


def _set_shift(db, shift_id: int, status: str, actor: str) -> dict:
    with write_transaction(db):
        shift = get_shift(db, shift_id)
        if shift["status"] == "cancelled":
            raise RuleViolation("shift_not_active")
        db.conn.execute("UPDATE shifts SET status = ?, updated_at = ? WHERE id = ?",
                        [status, timeutil.now().isoformat(), shift_id])
        audit.record(db, actor, status, "shift", shift_id, previous=shift["status"])
    return {"shift_id": shift_id, "status": status}


def check_in_helper(db, shift_id: int, *, actor: str) -> dict:
    return _set_shift(db, shift_id, "attended", actor)


def mark_helper_no_show(db, shift_id: int, *, actor: str) -> dict:
    return _set_shift(db, shift_id, "no_show", actor)


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
