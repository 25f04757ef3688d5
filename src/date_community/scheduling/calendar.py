"""iCalendar (RFC 5545) files: a feed per volunteer and one file per session.

UIDs are derived from row ids, so they never change; SEQUENCE is the sum of
counters that only go up (the session's and the shift's), so every change a
calendar client must notice raises it.
"""
from __future__ import annotations

from icalendar import Calendar, Event

from .. import timeutil
from ..errors import NotFound
from .sessions import get_session
from .shifts import volunteer_shifts

PRODID = "-//date-community//scheduling//JA"
UID_DOMAIN = "date-community"


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Tokyo")
    return cal


def _event(uid: str, session: dict, sequence: int, cancelled: bool, summary: str, description: str = "") -> Event:
    ev = Event()
    ev.add("uid", uid)
    ev.add("dtstamp", timeutil.parse(session["updated_at"]))
    ev.add("dtstart", timeutil.parse(session["starts_at"]))
    ev.add("dtend", timeutil.parse(session["ends_at"]))
    ev.add("sequence", sequence)
    ev.add("summary", summary)
    location = session.get("venue_name_ja") or ""
    if session.get("venue_address"):
        location = f"{location} {session['venue_address']}".strip()
    if location:
        ev.add("location", location)
    if description:
        ev.add("description", description)
    ev.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return ev


def _finish(cal: Calendar) -> bytes:
    # Adds a VTIMEZONE for Asia/Tokyo so clients need not know the zone.
    cal.add_missing_timezones()
    return cal.to_ical()


def session_ics(db, session_id: int) -> bytes:
    session = get_session(db, session_id)
    cal = _calendar(session["title_ja"])
    cal.add_component(_event(f"session-{session_id}@{UID_DOMAIN}", session, session["sequence"],
                             session["status"] == "cancelled", session["title_ja"], session.get("bring") or ""))
    return _finish(cal)


def volunteer_feed(db, volunteer_id: int) -> bytes:
    """Every shift of one volunteer, cancelled ones included so clients remove them."""
    rows = list(db.query("SELECT name FROM volunteers WHERE id = ?", [volunteer_id]))
    if not rows:
        raise NotFound("volunteer_not_found", id=volunteer_id)
    cal = _calendar(f"{rows[0]['name']} – date-community")
    for shift in volunteer_shifts(db, volunteer_id, include_cancelled=True):
        cal.add_component(_shift_event(db, shift)[0])
    return _finish(cal)


def _shift_event(db, shift: dict) -> tuple[Event, bool]:
    session = {**get_session(db, shift["session_id"])}
    cancelled = shift["status"] == "cancelled" or session["status"] == "cancelled"
    role = "リーダー" if shift["role"] == "lead" else "サポーター"
    summary = f"【{role}】{session['title_ja']} / {session['title_en']}"
    session["updated_at"] = max(session["updated_at"], shift["updated_at"])
    return _event(f"shift-{shift['id']}@{UID_DOMAIN}", session, session["sequence"] + shift["sequence"],
                  cancelled, summary), cancelled


def shift_ics(db, shift_id: int, *, organizer: str | None = None) -> tuple[bytes, str]:
    """One shift as an email invitation: ``(ics, method)``.

    The UID and SEQUENCE are the ones the volunteer's feed uses, so a client
    that has both sees one event.  The method follows the shift's state now
    (``CANCEL`` once the shift or its session is cancelled, else ``REQUEST``),
    so a late message can never put a cancelled shift back in a calendar.
    """
    rows = list(db.query("SELECT h.*, v.email FROM shifts h JOIN volunteers v ON v.id = h.volunteer_id "
                         "WHERE h.id = ?", [shift_id]))
    if not rows:
        raise NotFound("shift_not_found", id=shift_id)
    shift = rows[0]
    event, cancelled = _shift_event(db, shift)
    method = "CANCEL" if cancelled else "REQUEST"
    if organizer:
        event.add("organizer", f"mailto:{organizer}")
    event.add("attendee", f"mailto:{shift['email']}", parameters={"ROLE": "REQ-PARTICIPANT", "RSVP": "FALSE"})
    cal = _calendar(event["summary"])
    cal.add("method", method)
    cal.add_component(event)
    return _finish(cal), method


def feed_for_token(db, token: str) -> bytes:
    """The feed behind a volunteer's secret calendar address; unknown tokens are not found."""
    from ..people import volunteer_by_token

    return volunteer_feed(db, volunteer_by_token(db, token)["id"])
