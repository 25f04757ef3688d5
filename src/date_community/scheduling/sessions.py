"""Sessions and recurring series.

A series is stored as its RFC 5545 rule plus one concrete ``sessions`` row per
occurrence.  Materialising occurrences (instead of expanding the rule on every
read) is what lets each occurrence carry its own seats, bookings and helpers,
and lets staff change or cancel one occurrence, or the rest of the series.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from dateutil import rrule

from .. import audit, notify, timeutil
from ..db import write_transaction
from ..errors import NotFound, RuleViolation, ValidationError
from ..schema import SESSION_KINDS
from . import catalog

MAX_OCCURRENCES = 400
# A rule without COUNT or UNTIL would never end; cap it at this horizon.
DEFAULT_HORIZON_DAYS = 366

EDITABLE = ("topic", "venue", "starts_at", "ends_at", "kind", "seats", "walkin_seats", "helpers_min",
            "helpers_max", "loaner_phones", "signup_opens_at", "signup_closes_at", "bring", "notes")

# Held seats: a confirmed booking keeps its seat once checked in or marked absent.
HELD = ("confirmed", "attended", "no_show")


def _int(value: Any, code: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(code) from exc
    if number < 0:
        raise ValidationError(code)
    return number


def _clean(fields: dict[str, Any], db) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "topic" in fields:
        out["topic_id"] = catalog.get_topic(db, fields["topic"])["id"]
    if "venue" in fields:
        out["venue_id"] = catalog.get_venue(db, fields["venue"])["id"]
    for key in ("starts_at", "ends_at"):
        if key in fields:
            out[key] = timeutil.iso(fields[key])
    for key in ("signup_opens_at", "signup_closes_at"):
        if key in fields:
            out[key] = timeutil.iso(fields[key]) if fields[key] else None
    if "kind" in fields:
        if fields["kind"] not in SESSION_KINDS:
            raise ValidationError("invalid_kind", kind=fields["kind"])
        out["kind"] = fields["kind"]
    for key in ("seats", "walkin_seats", "loaner_phones"):
        if key in fields:
            out[key] = _int(fields[key], "invalid_seats")
    for key in ("helpers_min", "helpers_max"):
        if key in fields:
            out[key] = _int(fields[key], "invalid_helpers")
    for key in ("bring", "notes"):
        if key in fields:
            out[key] = (fields[key] or "").strip()
    return out


def _check(row: dict[str, Any]) -> None:
    # ``field`` names the value to correct, so a form can show the message beside it.
    if row["ends_at"] <= row["starts_at"]:
        raise ValidationError("invalid_time_range", field="ends_at")
    if row["walkin_seats"] > row["seats"]:
        raise ValidationError("invalid_seats", field="walkin_seats")
    if row["helpers_max"] < row["helpers_min"]:
        raise ValidationError("invalid_helpers", field="helpers_max")
    if row.get("signup_opens_at") and row.get("signup_closes_at") and \
            row["signup_closes_at"] <= row["signup_opens_at"]:
        raise ValidationError("invalid_time_range", field="signup_closes_at")


def parse_helpers(spec: str) -> tuple[int, int]:
    """``"2:4"`` → (2, 4); ``"3"`` → (3, 3)."""
    parts = str(spec).split(":")
    try:
        low, high = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (None, None)
    except ValueError as exc:
        raise ValidationError("invalid_helpers") from exc
    if low is None or low < 0 or high < low:
        raise ValidationError("invalid_helpers")
    return low, high


def _insert(db, row: dict[str, Any]) -> int:
    stamp = timeutil.now().isoformat()
    row = {**row, "created_at": stamp, "updated_at": stamp}
    cur = db.conn.execute(f"INSERT INTO sessions ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                          list(row.values()))
    return cur.lastrowid


def _defaults(fields: dict[str, Any]) -> dict[str, Any]:
    base = {"kind": "class", "walkin_seats": 0, "helpers_min": 0, "helpers_max": 0, "loaner_phones": 0,
            "signup_opens_at": None, "signup_closes_at": None, "bring": "", "notes": ""}
    return {**base, **fields}


def add_session(db, *, topic, venue, starts_at, ends_at, seats, actor: str = "system", **fields: Any) -> int:
    row = _defaults(_clean({"topic": topic, "venue": venue, "starts_at": starts_at, "ends_at": ends_at,
                            "seats": seats, **fields}, db))
    _check(row)
    with write_transaction(db):
        sid = _insert(db, row)
        audit.record(db, actor, "create", "session", sid)
    return sid


_BOUND = re.compile(r"\b(COUNT|UNTIL)=", re.IGNORECASE)
_UNTIL = re.compile(r"\bUNTIL=(\d{8})(T\d{6}Z?)?(?![\dT])", re.IGNORECASE)


def _local_until(match: re.Match) -> str:
    """UNTIL as Tokyo wall time, since the rule is expanded in wall time.

    RFC 5545's UNTIL is inclusive: a bare date (``UNTIL=20270331``) means
    "through that day", which dateutil would read as its first midnight and so
    drop that day's occurrence; a ``Z`` time is UTC, which ``ignoretz`` would
    misread as Tokyo time.
    """
    day, time = match.group(1), (match.group(2) or "").upper()
    if not time:
        return f"UNTIL={day}T235959"
    if time.endswith("Z"):
        try:
            utc = dt.datetime.strptime(day + time[:-1], "%Y%m%dT%H%M%S").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            return match.group(0)  # left for dateutil to reject
        return "UNTIL=" + utc.astimezone(timeutil.TZ).strftime("%Y%m%dT%H%M%S")
    return match.group(0)


def expand_rule(rule: str, first_start: dt.datetime, *, limit: int = MAX_OCCURRENCES) -> list[dt.datetime]:
    """Occurrence start times for an RFC 5545 RRULE such as
    ``FREQ=MONTHLY;BYDAY=+2TU;COUNT=6`` or ``FREQ=WEEKLY;BYDAY=TH;UNTIL=20270331``."""
    text = (rule or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text:
        raise ValidationError("invalid_rule")
    start = timeutil.parse(first_start)
    bounded = _BOUND.search(text) is not None
    try:
        # dateutil compares UNTIL with naive dtstart; expand in local wall time.
        parsed = rrule.rrulestr(_UNTIL.sub(_local_until, text), dtstart=start.replace(tzinfo=None), ignoretz=True)
    except (ValueError, TypeError) as exc:
        raise ValidationError("invalid_rule") from exc
    horizon = start.replace(tzinfo=None) + dt.timedelta(days=DEFAULT_HORIZON_DAYS)
    out = []
    for occurrence in parsed:
        if (not bounded and occurrence > horizon) or len(out) >= limit:
            break
        out.append(occurrence.replace(tzinfo=timeutil.TZ))
    if not out:
        raise ValidationError("invalid_rule")
    return out


def add_series(db, *, rule: str, topic, venue, starts_at, ends_at, seats, actor: str = "system",
               **fields: Any) -> dict[str, Any]:
    """Create a recurring series.  ``starts_at``/``ends_at`` give the first
    occurrence; every occurrence has the same length and its own seats."""
    template = _defaults(_clean({"topic": topic, "venue": venue, "starts_at": starts_at, "ends_at": ends_at,
                                 "seats": seats, **fields}, db))
    _check(template)
    first = timeutil.parse(template["starts_at"])
    length = timeutil.parse(template["ends_at"]) - first
    window = {}
    for key in ("signup_opens_at", "signup_closes_at"):
        if template[key]:
            window[key] = timeutil.parse(template[key]) - first
    starts = expand_rule(rule, first)
    ids = []
    with write_transaction(db):
        cur = db.conn.execute("INSERT INTO series (rule, created_at) VALUES (?, ?)",
                              [rule.strip(), timeutil.now().isoformat()])
        series_id = cur.lastrowid
        for index, start in enumerate(starts):
            row = {**template, "starts_at": start.isoformat(), "ends_at": (start + length).isoformat(),
                   "series_id": series_id, "series_index": index}
            for key, offset in window.items():
                row[key] = (start + offset).isoformat()
            ids.append(_insert(db, row))
        audit.record(db, actor, "create", "series", series_id, occurrences=len(ids))
    return {"series_id": series_id, "session_ids": ids}


def get_session(db, session_id: int) -> dict:
    rows = list(db.query(_LIST_SQL + " WHERE s.id = ?", [session_id]))
    if not rows:
        raise NotFound("session_not_found", id=session_id)
    return _decorate(rows[0])


_LIST_SQL = """
SELECT s.*, t.code AS topic_code, t.title_ja, t.title_en, t.title_zh_Hans, t.title_zh_Hant, t.title_ko,
       v.slug AS venue_slug, v.name_ja AS venue_name_ja, v.name_en AS venue_name_en, v.address AS venue_address,
       v.district AS venue_district, v.lat AS venue_lat, v.lon AS venue_lon,
       v.coord_quality AS venue_coord_quality, v.barrier_free AS venue_barrier_free,
       (SELECT count(*) FROM bookings b WHERE b.session_id = s.id AND b.status IN ('confirmed', 'attended', 'no_show'))
           AS confirmed,
       (SELECT count(*) FROM bookings b WHERE b.session_id = s.id AND b.status = 'waitlisted') AS waitlisted,
       (SELECT count(*) FROM shifts h WHERE h.session_id = s.id AND h.status IN ('booked', 'attended', 'no_show'))
           AS helpers_booked
FROM sessions s JOIN topics t ON t.id = s.topic_id JOIN venues v ON v.id = s.venue_id
"""


def _decorate(row: dict) -> dict:
    row["capacity"] = row["seats"] - row["walkin_seats"]
    row["seats_left"] = max(0, row["capacity"] - row["confirmed"])
    row["understaffed"] = row["status"] == "scheduled" and row["helpers_booked"] < row["helpers_min"]
    row["helpers_needed"] = max(0, row["helpers_max"] - row["helpers_booked"])
    return row


def list_sessions(db, *, start=None, end=None, venue=None, topic=None, district: str | None = None,
                  include_cancelled: bool = False, limit: int | None = None) -> list[dict]:
    """Sessions starting in [start, end) with their seat and helper counts."""
    where, params = [], []
    if start is not None:
        where.append("s.starts_at >= ?")
        params.append(timeutil.iso(start))
    if end is not None:
        where.append("s.starts_at < ?")
        params.append(timeutil.iso(end))
    if venue is not None:
        where.append("s.venue_id = ?")
        params.append(catalog.get_venue(db, venue)["id"])
    if topic is not None:
        where.append("s.topic_id = ?")
        params.append(catalog.get_topic(db, topic)["id"])
    if district is not None:
        where.append("v.district = ?")
        params.append(district)
    if not include_cancelled:
        where.append("s.status = 'scheduled'")
    sql = _LIST_SQL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY s.starts_at, s.id"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [_decorate(r) for r in db.query(sql, params)]


def _targets(db, session: dict, scope: str) -> list[dict]:
    if scope not in ("this", "following"):
        raise ValidationError("invalid_scope")
    if scope == "this" or session["series_id"] is None:
        return [session]
    return list(db.query(
        "SELECT * FROM sessions WHERE series_id = ? AND series_index >= ? AND status = 'scheduled' "
        "ORDER BY series_index", [session["series_id"], session["series_index"]]))


def update_session(db, session_id: int, *, actor: str, scope: str = "this", **changes: Any) -> list[int]:
    """Change one occurrence, or it and the rest of its series (``scope='following'``).

    A new start or end moves every targeted occurrence by the same amount, so
    "from now on, start 30 minutes later" works across a series.  Raising the
    seats promotes people from the waitlist at once.
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError("invalid_value", fields=",".join(sorted(unknown)))
    from . import bookings  # sessions ↔ bookings: promotion after a seat change

    cleaned = _clean(changes, db)
    changed = []
    with write_transaction(db):
        session = get_session(db, session_id)
        if session["status"] == "cancelled":
            raise RuleViolation("session_cancelled")
        shift_start = shift_end = None
        if "starts_at" in cleaned:
            shift_start = timeutil.parse(cleaned.pop("starts_at")) - timeutil.parse(session["starts_at"])
        if "ends_at" in cleaned:
            shift_end = timeutil.parse(cleaned.pop("ends_at")) - timeutil.parse(session["ends_at"])
        # A new sign-up window is kept relative to each occurrence's start, as
        # add_series does: "closes the day before" stays the day before each one.
        new_start = timeutil.parse(session["starts_at"]) + (shift_start or dt.timedelta(0))
        window = {key: timeutil.parse(cleaned.pop(key)) - new_start
                  for key in ("signup_opens_at", "signup_closes_at") if cleaned.get(key)}
        for target in _targets(db, session, scope):
            row = {**target, **cleaned}
            for key, delta in (("starts_at", shift_start), ("ends_at", shift_end)):
                if delta is not None:
                    row[key] = (timeutil.parse(target[key]) + delta).isoformat()
            for key, offset in window.items():
                row[key] = (timeutil.parse(row["starts_at"]) + offset).isoformat()
            _check(row)
            held = next(iter(db.query(
                "SELECT count(*) AS n FROM bookings WHERE session_id = ? AND status IN ('confirmed', 'attended', 'no_show')",
                [target["id"]])))["n"]
            if held > row["seats"] - row["walkin_seats"]:
                raise RuleViolation("seats_below_confirmed", session=target["id"])
            helpers = next(iter(db.query(
                "SELECT count(*) AS n FROM shifts WHERE session_id = ? AND status IN ('booked', 'attended', 'no_show')",
                [target["id"]])))["n"]
            if helpers > row["helpers_max"]:
                raise RuleViolation("helpers_above_max", session=target["id"])
            updates = {k: row[k] for k in ("topic_id", "venue_id", "starts_at", "ends_at", "kind", "seats",
                                           "walkin_seats", "helpers_min", "helpers_max", "loaner_phones",
                                           "signup_opens_at", "signup_closes_at", "bring", "notes")}
            updates["updated_at"] = timeutil.now().isoformat()
            sets = ", ".join(f"{k} = ?" for k in updates)
            db.conn.execute(f"UPDATE sessions SET {sets}, sequence = sequence + 1 WHERE id = ?",
                            [*updates.values(), target["id"]])
            audit.record(db, actor, "update", "session", target["id"], fields=sorted(changes), scope=scope)
            bookings.promote_waitlist(db, target["id"], actor=actor)
            _notify_helpers(db, target["id"], "session_changed")
            changed.append(target["id"])
    return changed


def cancel_session(db, session_id: int, *, actor: str, scope: str = "this", reason: str = "") -> list[int]:
    """Cancel one occurrence or the rest of its series.

    Live bookings and shifts are cancelled with it; staff are asked (through
    the outbox) to phone each booked resident, and helpers get an email.
    """
    cancelled = []
    with write_transaction(db):
        session = get_session(db, session_id)
        if session["status"] == "cancelled":
            raise RuleViolation("session_cancelled")
        stamp = timeutil.now().isoformat()
        for target in _targets(db, session, scope):
            db.conn.execute("UPDATE sessions SET status = 'cancelled', sequence = sequence + 1, updated_at = ? "
                            "WHERE id = ?", [stamp, target["id"]])
            for b in list(db.query("SELECT id, resident_id, status FROM bookings WHERE session_id = ? "
                                   "AND status IN ('confirmed', 'waitlisted')", [target["id"]])):
                db.conn.execute("UPDATE bookings SET status = 'cancelled', position = NULL, updated_at = ? "
                                "WHERE id = ?", [stamp, b["id"]])
                audit.record(db, actor, "cancel", "booking", b["id"], reason="session_cancelled")
                notify.enqueue(db, "session_cancelled_resident", "staff", "staff", booking_id=b["id"],
                               session_id=target["id"], resident_id=b["resident_id"])
            _notify_helpers(db, target["id"], "session_cancelled")
            db.conn.execute("UPDATE shifts SET status = 'cancelled', sequence = sequence + 1, updated_at = ? "
                            "WHERE session_id = ? AND status = 'booked'", [stamp, target["id"]])
            audit.record(db, actor, "cancel", "session", target["id"], scope=scope, reason=reason)
            cancelled.append(target["id"])
    return cancelled


def _notify_helpers(db, session_id: int, kind: str) -> None:
    for shift in db.query("SELECT h.id, v.email FROM shifts h JOIN volunteers v ON v.id = h.volunteer_id "
                          "WHERE h.session_id = ? AND h.status = 'booked'", [session_id]):
        notify.enqueue(db, kind, "email", shift["email"], shift_id=shift["id"], session_id=session_id)


# --- repeat rules for the planning form --------------------------------------

REPEATS = ("weekly", "fortnightly", "monthly")
_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def nth_weekday(day: dt.date) -> int:
    """Which of its month's weekdays ``day`` is: 1 to 4, or -1 for a fifth (the last).

    A fifth Tuesday exists only in some months, so "every 5th Tuesday" would
    silently skip months; "the last Tuesday" is what staff mean.
    """
    nth = (day.day - 1) // 7 + 1
    return -1 if nth == 5 else nth


def build_rule(repeat: str, first_start, *, until=None, count=None) -> str:
    """The RFC 5545 RRULE for a repeat chosen on the planning form.

    ``repeat`` is ``weekly``, ``fortnightly`` (every 2 weeks) or ``monthly``
    (the same nth weekday, e.g. every 2nd Tuesday), anchored on the first
    occurrence's weekday.  Exactly one of ``until`` (a date, inclusive) or
    ``count`` (occurrences including the first, at least 2) ends it.
    """
    if repeat not in REPEATS:
        raise ValidationError("invalid_rule", repeat=str(repeat)[:20])
    start = timeutil.parse(first_start)
    until = None if until in (None, "") else until
    count = None if count in (None, "") else count
    if (until is None) == (count is None):
        raise ValidationError("invalid_repeat_end")
    day = _BYDAY[start.weekday()]
    if repeat == "weekly":
        parts = ["FREQ=WEEKLY", f"BYDAY={day}"]
    elif repeat == "fortnightly":
        parts = ["FREQ=WEEKLY", "INTERVAL=2", f"BYDAY={day}"]
    else:
        parts = ["FREQ=MONTHLY", f"BYDAY={nth_weekday(start.date()):+d}{day}"]
    if count is not None:
        try:
            number = int(count)
        except (TypeError, ValueError) as exc:
            raise ValidationError("invalid_repeat_end", field="count") from exc
        if not 2 <= number <= MAX_OCCURRENCES:
            raise ValidationError("invalid_repeat_end", field="count")
        parts.append(f"COUNT={number}")
    else:
        last = timeutil.parse_date(until)
        if last <= start.date():
            raise ValidationError("invalid_repeat_end", field="until")
        parts.append(f"UNTIL={last:%Y%m%d}")
    return ";".join(parts)
