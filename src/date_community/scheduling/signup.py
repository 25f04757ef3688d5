"""Self-service sign-up: a resident (or a family member for them) books a class.

The web form collects a name, furigana and phone number.  A person who signs
up twice is recognised by the same phone number *and* the same furigana, so
their bookings stay on one record; anyone else gets a new record with their
consent written down.  The resident and the booking are created in one
transaction, so a booking that fails leaves no half-made record behind.
"""
from __future__ import annotations

import datetime as dt

from .. import audit, people, timeutil
from ..db import write_transaction
from ..errors import ValidationError
from . import bookings, sessions

# The order in which a form shows its fields, so errors can be listed in it.
FIELDS = ("name_kanji", "name_kana", "phone", "birth_year", "device", "consent")

SIGNUP_STATES = ("open", "not_open", "closed", "cancelled")


def validate(*, name_kanji: str | None, name_kana: str | None, phone: str | None,
             birth_year: str | int | None = None, device: str | None = None,
             consent: bool = True) -> dict[str, str]:
    """Check every sign-up field at once; return ``{field: error code}`` in form order.

    An empty result means :func:`sign_up` will accept the same values.
    """
    checks = (
        ("name_kanji", people.normalize_name, name_kanji),
        ("name_kana", people.normalize_kana, name_kana),
        ("phone", people.normalize_phone, phone),
        # the rule lives in people; it is private there only to keep the
        # module's public surface small
        ("birth_year", people.normalize_birth_year, birth_year),
        ("device", people.normalize_device, device),
    )
    errors: dict[str, str] = {}
    for field, check, value in checks:
        try:
            check(value)
        except ValidationError as exc:
            errors[field] = exc.code
    if not consent:
        errors["consent"] = "consent_required"
    return errors


def _find_resident(db, phone: str, kana: str) -> dict | None:
    rows = list(db.query(
        "SELECT id, consent_at FROM residents WHERE merged_into IS NULL AND phone = ? AND kana_key = ? "
        "ORDER BY id LIMIT 1", [phone, people.kana_key(kana)]))
    return rows[0] if rows else None


def sign_up(db, session_id: int, *, name_kanji: str, name_kana: str, phone: str,
            birth_year: str | int | None = None, device: str | None = None, consent: bool = True,
            source: str = "web", actor: str = "web", now: dt.datetime | None = None) -> dict:
    """Book a seat for a person who may or may not be known yet.

    A live resident with the same normalised phone and the same furigana is
    reused (their stored details are not changed; missing consent is
    recorded); otherwise a new resident is created.  Returns the result of
    :func:`bookings.book_seat` plus ``resident_id`` and ``new_resident``.
    """
    problems = validate(name_kanji=name_kanji, name_kana=name_kana, phone=phone, birth_year=birth_year,
                        device=device, consent=consent)
    if problems:
        field, code = next(iter(problems.items()))
        raise ValidationError(code, field=field)
    digits = people.normalize_phone(phone)
    kana = people.normalize_kana(name_kana)
    with write_transaction(db):
        existing = _find_resident(db, digits, kana)
        if existing is None:
            resident_id = people.add_resident(
                db, name_kanji=name_kanji, name_kana=kana, phone=digits, birth_year=birth_year,
                device=device, source=source, consent=True, actor=actor)
        else:
            resident_id = existing["id"]
            if not existing["consent_at"]:
                db.conn.execute("UPDATE residents SET consent_at = ?, consent_channel = ?, updated_at = ? "
                                "WHERE id = ?", [timeutil.now().isoformat(), source, timeutil.now().isoformat(),
                                                 resident_id])
                audit.record(db, actor, "consent", "resident", resident_id, channel=source)
        result = bookings.book_seat(db, session_id, resident_id, source=source, actor=actor, now=now)
    return {**result, "resident_id": resident_id, "new_resident": existing is None}


def signup_state(session: dict, *, now: dt.datetime | None = None) -> str:
    """Whether residents can sign up for a session themselves right now.

    One of ``open``, ``not_open`` (the window has not started), ``closed``
    (the window has ended or the class has started) or ``cancelled``.  The
    same window is enforced by :func:`bookings.book_seat`.
    """
    if session["status"] != "scheduled":
        return "cancelled"
    moment = timeutil.iso(now or timeutil.now())
    opens = session.get("signup_opens_at")
    closes = session.get("signup_closes_at") or session["starts_at"]
    if opens and moment < opens:
        return "not_open"
    if moment >= closes:
        return "closed"
    return "open"


def booking_summary(db, booking_id: int) -> dict:
    """What a resident may see about their own booking: no names or phone numbers.

    ``{"booking_id", "reference", "status", "position", "session"}`` where
    ``session`` is the session as :func:`sessions.get_session` returns it.
    """
    booking = bookings.get_booking(db, booking_id)
    return {
        "booking_id": booking["id"],
        "reference": booking["reference"],
        "status": booking["status"],
        "position": booking["position"],
        "session": sessions.get_session(db, booking["session_id"]),
    }

