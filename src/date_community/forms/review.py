"""Reviewing a scanned sheet and turning it into a resident and bookings.

Staff type the handwritten fields (the machine reads only the tick boxes),
settle any uncertain box, and confirm.  Confirmation is one write
transaction: the resident is created or updated, every ticked session is
booked through :func:`scheduling.bookings.book_seat` with ``source="paper"``
and the sheet's reference, and the sheet is marked confirmed.  A session that
cannot be booked (already booked, closed, cancelled) is reported in the
result instead of undoing the whole sheet: the other sessions still stand.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from .. import audit, people, timeutil
from ..db import query_one, write_transaction
from ..errors import DateCommunityError, NotFound, RuleViolation, ValidationError
from ..schema import DEVICES
from ..scheduling import bookings, calllist, sessions
from . import records

BOX_STATES = ("marked", "empty")
# Form fields → resident columns.
FIELD_COLUMNS = {"name": "name_kanji", "kana": "name_kana", "phone": "phone", "birth_year": "birth_year",
                 "district": "district"}
REQUIRED = ("name", "kana", "phone")
_EMPTY = {"name": "invalid_name", "kana": "invalid_kana", "phone": "invalid_phone"}
# When several device boxes are ticked, the one a class should plan for wins:
# a smartphone before a feature phone before "none".
DEVICE_PRIORITY = ("iphone", "android", "rakuraku", "feature_phone", "none")


def field_errors(fields: dict[str, Any]) -> dict[str, str]:
    """Check the typed fields all at once: ``{field: error code}`` in form order."""
    errors: dict[str, str] = {}
    for name, column in FIELD_COLUMNS.items():
        value = fields.get(name)
        if value in (None, ""):
            if name in REQUIRED:
                errors[name] = _EMPTY[name]
            continue
        found = people.resident_errors({column: value})
        if found:
            errors[name] = found[column]
    return errors


def _clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    errors = field_errors(fields)
    if errors:
        name, code = next(iter(errors.items()))
        raise ValidationError(code, field=name)
    return {FIELD_COLUMNS[k]: fields[k] for k in FIELD_COLUMNS if fields.get(k) not in (None, "")}


def duplicate_suggestions(db, *, phone: str | None = None, kana: str | None = None,
                          birth_year: Any = None, actor: str | None = None) -> list[dict]:
    """Residents who may be the person on the sheet: the same normalised phone,
    or the same furigana and the same birth year.  Values that do not parse
    are ignored, so half-typed fields still give suggestions for the rest."""
    def tolerant(check, value):
        try:
            return check(value) if value not in (None, "") else None
        except ValidationError:
            return None

    return people.duplicate_candidates(
        db, phone=tolerant(people.normalize_phone, phone), name_kana=tolerant(people.normalize_kana, kana),
        birth_year=tolerant(people.normalize_birth_year, birth_year), actor=actor)


def _pending(db, sheet_id: int) -> dict:
    row = records.sheet_row(db, sheet_id)
    if row["review_state"] == "confirmed":
        raise RuleViolation("sheet_already_confirmed")
    if row["review_state"] != "pending" or row["status"] != "ok":
        raise RuleViolation("sheet_not_pending")
    return row


def _apply_boxes(result: dict, changes: dict[str, str], *, actor: str, stamp: str) -> list[str]:
    """Set box states in ``result`` (in place); returns the keys that changed."""
    changed = []
    for key, state in changes.items():
        if key not in result["boxes"]:
            raise ValidationError("invalid_value", field=str(key)[:60])
        if state not in BOX_STATES:
            raise ValidationError("invalid_value", field=str(key)[:60])
        before = result["boxes"][key]["state"]
        if before != state:
            result["boxes"][key]["state"] = state
            result.setdefault("edits", []).append({"key": key, "from": before, "to": state, "by": actor, "at": stamp})
            changed.append(key)
    return changed


def set_box(db, sheet_id: int, key: str, state: str, *, actor: str) -> dict:
    """Staff decide one box: ``marked`` or ``empty``.  The change is kept with the sheet and audited."""
    stamp = timeutil.now().isoformat()
    with write_transaction(db):
        row = _pending(db, sheet_id)
        result = row["result"]
        changed = _apply_boxes(result, {key: state}, actor=actor, stamp=stamp)
        if changed:
            db.conn.execute("UPDATE scanned_sheets SET result_json = ? WHERE id = ?", [json.dumps(result), sheet_id])
            audit.record(db, actor, "set_box", "scanned_sheet", sheet_id, key=key, state=state)
    return result["boxes"][key]


def _device(marked_devices: list[str]) -> str | None:
    for code in DEVICE_PRIORITY:
        if code in marked_devices:
            return code
    return None


def confirm_sheet(db, sheet_id: int, fields: dict[str, Any], resident_id: int | None = None, *,
                  boxes: dict[str, str] | None = None, actor: str, now: dt.datetime | None = None) -> dict:
    """Create or update the resident and book every ticked session, in one transaction.

    ``fields``: ``name``, ``kana``, ``phone`` (required), ``birth_year`` and
    ``district`` (optional), as staff typed them from the sheet.
    ``resident_id``: an existing resident this sheet belongs to, or None to
    create one.  ``boxes``: box states staff set on the review page.

    Refused with ``sheet_has_uncertain_boxes`` while a box is uncertain,
    ``consent_required`` when the consent box is not ticked, and
    ``sheet_already_confirmed`` for a second confirmation of the same sheet
    of paper.  Returns ``{"sheet_id", "resident_id", "new_resident",
    "bookings": [{"session_id", "status", "position", "booking_id",
    "reference", "code"}]}`` where ``status`` is ``confirmed``, ``waitlisted``
    or ``not_booked`` (with the reason in ``code``).
    """
    columns = _clean_fields(fields)
    moment = now or timeutil.now()
    stamp = timeutil.now().isoformat()
    with write_transaction(db):
        row = _pending(db, sheet_id)
        if query_one(db, "SELECT id FROM scanned_sheets WHERE serial = ? AND review_state = 'confirmed'",
                     [row["serial"]]):
            raise RuleViolation("sheet_already_confirmed")
        result = row["result"]
        _apply_boxes(result, boxes or {}, actor=actor, stamp=stamp)
        uncertain = [k for k, b in result["boxes"].items() if b["state"] == "uncertain"]
        if uncertain:
            raise RuleViolation("sheet_has_uncertain_boxes", count=len(uncertain))
        layout = records.get_layout(db, row["version"])
        marked = {k for k, b in result["boxes"].items() if b["state"] == "marked"}
        consent = [b for b in layout.boxes if b.kind == "consent"]
        if not consent or any(b.key not in marked for b in consent):
            raise RuleViolation("consent_required")
        device = _device([str(b.value) for b in layout.boxes if b.kind == "device" and b.key in marked
                          and str(b.value) in DEVICES])
        new_resident = resident_id is None
        if new_resident:
            resident_id = people.add_resident(
                db, name_kanji=columns["name_kanji"], name_kana=columns["name_kana"], phone=columns["phone"],
                birth_year=columns.get("birth_year"), district=columns.get("district"), device=device,
                source="paper", consent=True, actor=actor)
        else:
            existing = query_one(db, "SELECT id, merged_into, consent_at FROM residents WHERE id = ?", [resident_id])
            if existing is None or existing["merged_into"]:
                raise NotFound("resident_not_found", id=resident_id)
            changes = dict(columns)
            if device:
                changes["device"] = device
            if not existing["consent_at"]:
                changes.update(consent_at=stamp, consent_channel="paper")
            people.update_resident(db, resident_id, actor=actor, **changes)
        ref = records.paper_ref(row["serial"])
        outcomes = []
        for box in layout.boxes:
            if box.kind != "session" or box.key not in marked:
                continue
            session_id = int(box.value)
            try:
                booked = bookings.book_seat(db, session_id, resident_id, source="paper", actor=actor,
                                            paper_ref=ref, now=moment)
            except (RuleViolation, NotFound) as exc:
                outcomes.append({"session_id": session_id, "status": "not_booked", "position": None,
                                 "booking_id": None, "reference": None, "code": exc.code})
            else:
                outcomes.append({"session_id": session_id, "status": booked["status"],
                                 "position": booked["position"], "booking_id": booked["booking_id"],
                                 "reference": booked["reference"], "code": None})
        result["outcomes"] = outcomes
        db.conn.execute(
            "UPDATE scanned_sheets SET review_state = 'confirmed', confirmed_at = ?, confirmed_by = ?, "
            "resident_id = ?, result_json = ?, purge_after = ? WHERE id = ?",
            [stamp, actor, resident_id, json.dumps(result), records.purge_date(timeutil.parse(stamp)), sheet_id])
        audit.record(db, actor, "confirm", "scanned_sheet", sheet_id, resident=resident_id,
                     new_resident=new_resident, booked=[o["booking_id"] for o in outcomes if o["booking_id"]],
                     not_booked=[o["session_id"] for o in outcomes if not o["booking_id"]])
    return {"sheet_id": sheet_id, "resident_id": resident_id, "new_resident": new_resident, "bookings": outcomes}


def discard_sheet(db, sheet_id: int, *, actor: str) -> None:
    """Take a sheet out of the queue without booking anything (a test print, a spoilt sheet)."""
    stamp = timeutil.now()
    with write_transaction(db):
        _pending(db, sheet_id)
        db.conn.execute("UPDATE scanned_sheets SET review_state = 'discarded', discarded_at = ?, discarded_by = ?, "
                        "purge_after = ? WHERE id = ?",
                        [stamp.isoformat(), actor, records.purge_date(stamp), sheet_id])
        audit.record(db, actor, "discard", "scanned_sheet", sheet_id)


def confirmation(db, sheet_id: int, *, actor: str) -> dict:
    """What a confirmed sheet led to: the resident and each session's outcome,
    with the session (venue, address, coordinates) for the slips.  Audited."""
    row = records.sheet_row(db, sheet_id)
    if row["review_state"] != "confirmed":
        raise RuleViolation("sheet_not_pending")
    resident = query_one(db, "SELECT id, name_kanji, name_kana FROM residents WHERE id = ?", [row["resident_id"]])
    items = []
    for outcome in row["result"].get("outcomes", []):
        item = dict(outcome)
        try:
            item["session"] = sessions.get_session(db, outcome["session_id"])
        except DateCommunityError:
            item["session"] = None
        if outcome["booking_id"]:
            # The booking may have changed since (promoted, cancelled): show it as it is now.
            current = bookings.get_booking(db, outcome["booking_id"])
            item["current_status"], item["current_position"] = current["status"], current["position"]
        else:
            item["current_status"], item["current_position"] = "not_booked", None
        items.append(item)
    with write_transaction(db):
        audit.record(db, actor, "view_result", "scanned_sheet", sheet_id, resident=row["resident_id"])
    return {"sheet": row, "resident": resident, "bookings": items}


def waitlist_calls(db, sheet_id: int, *, actor: str) -> list[dict]:
    """The call list narrowed to this sheet's bookings still on a waiting list,
    in the row shape of :func:`scheduling.calllist.call_list`.  Audited."""
    row = records.sheet_row(db, sheet_id)
    rows = calllist.waitlisted_by_paper_ref(db, records.paper_ref(row["serial"] or 0))
    with write_transaction(db):
        audit.record(db, actor, "view_call_list", "scanned_sheet", sheet_id, residents=len(rows))
    return rows
