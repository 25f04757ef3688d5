"""Residents' bookings: the seat cap, the waitlist, overlaps, sign-up windows, references."""
from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from conftest import BASE
from date_community import notify
from date_community.errors import DateCommunityError, NotFound, RuleViolation, ValidationError
from date_community.scheduling import bookings, sessions

# Characters that are misheard or misread over the phone and must never appear.
AMBIGUOUS = set("0O1IL2Z5S8B")


def _book(db, sid, rid, **kw):
    kw.setdefault("source", "phone")
    kw.setdefault("actor", "staff:1")
    return bookings.book_seat(db, sid, rid, **kw)


def _audit_rows(db, entity_id, action=None):
    sql, params = "SELECT * FROM audit_log WHERE entity = 'booking' AND entity_id = ?", [entity_id]
    if action:
        sql += " AND action = ?"
        params.append(action)
    return list(db.query(sql + " ORDER BY id", params))


def _waitlist(db, sid):
    return [(r["id"], r["position"]) for r in bookings.waitlist(db, sid)]


# --- seat cap and waitlist ------------------------------------------------------------

@pytest.mark.parametrize("seats, walkin, bookable", [
    (5, 0, 5),  # no walk-in seats: every seat is bookable
    (5, 2, 3),  # two seats held back for people who turn up
    (3, 3, 0),  # a drop-in only session: everyone is waitlisted
])
def test_seat_cap_is_seats_minus_walkin(make_session, make_resident, catalog_db, seats, walkin, bookable):
    sid = make_session(seats=seats, walkin_seats=walkin)
    results = [_book(catalog_db, sid, make_resident()) for _ in range(bookable + 3)]
    assert ["confirmed"] * bookable + ["waitlisted"] * 3 == [r["status"] for r in results]
    assert [None] * bookable + [1, 2, 3] == [r["position"] for r in results]
    listed = sessions.get_session(catalog_db, sid)
    assert (bookable, 3, 0) == (listed["confirmed"], listed["waitlisted"], listed["seats_left"])


def test_cancel_confirmed_promotes_head_of_waitlist(make_session, make_resident, catalog_db):
    sid = make_session(seats=2)
    first, _ = (_book(catalog_db, sid, make_resident()) for _ in range(2))
    w1, w2, w3 = (_book(catalog_db, sid, make_resident()) for _ in range(3))

    result = bookings.cancel_booking(catalog_db, first["booking_id"], actor="staff:2")

    assert w1["booking_id"] == result["promoted"]
    promoted = bookings.get_booking(catalog_db, w1["booking_id"])
    assert ("confirmed", None) == (promoted["status"], promoted["position"])
    assert [(w2["booking_id"], 1), (w3["booking_id"], 2)] == _waitlist(catalog_db, sid)
    promote_rows = _audit_rows(catalog_db, w1["booking_id"], "promote")
    assert 1 == len(promote_rows)
    assert {"from_position": 1} == json.loads(promote_rows[0]["detail"])
    queued = [m for m in notify.messages(catalog_db) if m["kind"] == "waitlist_promoted"]
    assert 1 == len(queued)
    assert w1["booking_id"] == queued[0]["payload"]["booking_id"]
    assert sid == queued[0]["payload"]["session_id"]


@pytest.mark.parametrize("cancel_index, remaining", [
    (0, [1, 2]),  # the head leaves: the others move up
    (1, [0, 2]),  # a gap in the middle closes
    (2, [0, 1]),  # the tail leaves: nothing moves
])
def test_cancel_waitlisted_closes_the_gap(make_session, make_resident, catalog_db, cancel_index, remaining):
    sid = make_session(seats=1)
    _book(catalog_db, sid, make_resident())
    waiting = [_book(catalog_db, sid, make_resident())["booking_id"] for _ in range(3)]
    result = bookings.cancel_booking(catalog_db, waiting[cancel_index], actor="staff")
    assert result["promoted"] is None
    assert [(waiting[i], pos) for pos, i in enumerate(remaining, start=1)] == _waitlist(catalog_db, sid)
    assert [] == [m for m in notify.messages(catalog_db) if m["kind"] == "waitlist_promoted"]


def test_cancelled_booking_cannot_be_cancelled_again(make_session, make_resident, catalog_db):
    b = _book(catalog_db, make_session(), make_resident())
    bookings.cancel_booking(catalog_db, b["booking_id"], actor="staff")
    with pytest.raises(RuleViolation) as info:
        bookings.cancel_booking(catalog_db, b["booking_id"], actor="staff")
    assert "booking_not_active" == info.value.code


def test_rebooking_after_cancel_is_allowed(make_session, make_resident, catalog_db):
    sid, rid = make_session(), make_resident()
    first = _book(catalog_db, sid, rid)
    bookings.cancel_booking(catalog_db, first["booking_id"], actor="staff")
    again = _book(catalog_db, sid, rid)
    assert "confirmed" == again["status"]
    assert first["reference"] != again["reference"]


# --- rules --------------------------------------------------------------------------

def test_already_booked(make_session, make_resident, catalog_db):
    sid, rid = make_session(), make_resident()
    _book(catalog_db, sid, rid)
    with pytest.raises(RuleViolation) as info:
        _book(catalog_db, sid, rid)
    assert "already_booked" == info.value.code


def test_already_waitlisted_is_already_booked(make_session, make_resident, catalog_db):
    sid, rid = make_session(seats=1), make_resident()
    _book(catalog_db, sid, make_resident())
    assert "waitlisted" == _book(catalog_db, sid, rid)["status"]
    with pytest.raises(RuleViolation) as info:
        _book(catalog_db, sid, rid, override_reason="二重登録の確認")
    assert "already_booked" == info.value.code


# The first session is on day 1, 10:00-11:30.
@pytest.mark.parametrize("day, hour, minutes, overlaps", [
    (1, 10, 90, True),  # exactly the same time
    (1, 11, 60, True),  # starts during the first
    (1, 9, 90, True),  # ends during the first
    (1, 10.5, 30, True),  # inside the first
    (1, 9, 240, True),  # wraps the first
    (1, 11.5, 60, False),  # starts exactly when the first ends
    (1, 8.5, 90, False),  # ends exactly when the first starts
    (2, 10, 90, False),  # same time on another day
])
def test_overlapping_booking(make_session, make_resident, catalog_db, day, hour, minutes, overlaps):
    first = make_session(day=1, hour=10, minutes=90)
    second = make_session(day=day, hour=hour, minutes=minutes, venue="hobara-chuo")
    rid = make_resident()
    _book(catalog_db, first, rid)
    if overlaps:
        with pytest.raises(RuleViolation) as info:
            _book(catalog_db, second, rid)
        assert "overlapping_booking" == info.value.code
        assert {"session": first} == info.value.params
    else:
        assert "confirmed" == _book(catalog_db, second, rid)["status"]


def test_waitlist_place_also_counts_as_overlap(make_session, make_resident, catalog_db):
    first = make_session(seats=1)
    second = make_session(venue="hobara-chuo")
    _book(catalog_db, first, make_resident())
    rid = make_resident()
    assert "waitlisted" == _book(catalog_db, first, rid)["status"]
    with pytest.raises(RuleViolation) as info:
        _book(catalog_db, second, rid)
    assert "overlapping_booking" == info.value.code


def test_cancelled_booking_does_not_count_as_overlap(make_session, make_resident, catalog_db):
    first, second = make_session(), make_session(venue="hobara-chuo")
    rid = make_resident()
    b = _book(catalog_db, first, rid)
    bookings.cancel_booking(catalog_db, b["booking_id"], actor="staff")
    assert "confirmed" == _book(catalog_db, second, rid)["status"]


def _windowed_session(make_session):
    # day 1 at 10:00; sign-up from 7 days before until the day before at noon
    start = BASE + dt.timedelta(days=1, hours=1)
    return make_session(signup_opens_at=start - dt.timedelta(days=7),
                        signup_closes_at=start - dt.timedelta(hours=22)), start


@pytest.mark.parametrize("offset, code", [
    (dt.timedelta(days=-8), "signup_not_open"),  # a day before sign-up opens
    (dt.timedelta(days=-7, seconds=-1), "signup_not_open"),  # a second before it opens
    (dt.timedelta(days=-7), None),  # the moment it opens
    (dt.timedelta(hours=-23), None),  # an hour before it closes
    (dt.timedelta(hours=-22), "signup_closed"),  # the moment it closes
    (dt.timedelta(hours=1), "signup_closed"),  # after the session started
])
def test_signup_window(make_session, make_resident, catalog_db, offset, code):
    sid, start = _windowed_session(make_session)
    rid = make_resident()
    if code is None:
        assert "confirmed" == _book(catalog_db, sid, rid, now=start + offset)["status"]
    else:
        with pytest.raises(RuleViolation) as info:
            _book(catalog_db, sid, rid, now=start + offset)
        assert code == info.value.code


def test_without_a_close_time_signup_closes_at_the_start(make_session, make_resident, catalog_db):
    sid = make_session()
    start = BASE + dt.timedelta(days=1, hours=1)
    assert "confirmed" == _book(catalog_db, sid, make_resident(), now=start - dt.timedelta(minutes=1))["status"]
    with pytest.raises(RuleViolation) as info:
        _book(catalog_db, sid, make_resident(), now=start)
    assert "signup_closed" == info.value.code


def test_staff_override_bypasses_window_and_overlap(make_session, make_resident, catalog_db):
    sid, start = _windowed_session(make_session)
    clashing = make_session(venue="hobara-chuo")
    rid = make_resident()
    _book(catalog_db, clashing, rid)
    reason = "民生委員さんから電話で依頼"
    result = _book(catalog_db, sid, rid, now=start + dt.timedelta(days=-30), override_reason=reason,
                   actor="staff:5")
    assert "confirmed" == result["status"]
    assert reason == bookings.get_booking(catalog_db, result["booking_id"])["override_reason"]
    rows = _audit_rows(catalog_db, result["booking_id"], "book")
    assert 1 == len(rows)
    assert "staff:5" == rows[0]["actor"]
    assert reason == json.loads(rows[0]["detail"])["override_reason"]


def test_override_does_not_bypass_the_seat_cap(make_session, make_resident, catalog_db):
    sid = make_session(seats=1)
    _book(catalog_db, sid, make_resident())
    assert "waitlisted" == _book(catalog_db, sid, make_resident(), override_reason="特例")["status"]


@pytest.mark.parametrize("reason", [
    "",  # empty
    "   ",  # blank
    "\u3000",  # a lone ideographic space
])
def test_empty_override_reason(make_session, make_resident, catalog_db, reason):
    with pytest.raises(ValidationError) as info:
        _book(catalog_db, make_session(), make_resident(), override_reason=reason)
    assert "override_reason_required" == info.value.code


def test_booking_a_cancelled_session(make_session, make_resident, catalog_db):
    sid = make_session()
    sessions.cancel_session(catalog_db, sid, actor="staff")
    with pytest.raises(RuleViolation) as info:
        _book(catalog_db, sid, make_resident())
    assert "session_cancelled" == info.value.code


@pytest.mark.parametrize("which, code", [
    ("session", "session_not_found"),  # no such session
    ("resident", "resident_not_found"),  # no such resident
])
def test_unknown_session_or_resident(make_session, make_resident, catalog_db, which, code):
    sid, rid = make_session(), make_resident()
    if which == "session":
        sid = 9999
    else:
        rid = 9999
    with pytest.raises(NotFound) as info:
        _book(catalog_db, sid, rid)
    assert code == info.value.code


def test_unknown_source(make_session, make_resident, catalog_db):
    with pytest.raises(ValidationError) as info:
        _book(catalog_db, make_session(), make_resident(), source="fax")
    assert "invalid_source" == info.value.code


def test_failed_booking_writes_nothing(make_session, make_resident, catalog_db):
    sid, rid = make_session(), make_resident()
    _book(catalog_db, sid, rid)
    sql = "SELECT (SELECT count(*) FROM bookings) + (SELECT count(*) FROM audit_log)"
    before = catalog_db.conn.execute(sql).fetchone()[0]
    with pytest.raises(RuleViolation):
        _book(catalog_db, sid, rid)
    after = catalog_db.conn.execute(sql).fetchone()[0]
    assert before == after
    assert not catalog_db.conn.in_transaction


# --- references -------------------------------------------------------------------------

def test_new_references_use_only_unambiguous_characters():
    refs = {bookings.new_reference() for _ in range(2000)}
    assert len(refs) > 1990  # random, not a counter
    for ref in refs:
        assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}", ref), ref
        assert set() == set(ref.replace("-", "")) & AMBIGUOUS


def test_booking_reference_format(make_session, make_resident, catalog_db):
    ref = _book(catalog_db, make_session(), make_resident())["reference"]
    assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}", ref)
    assert set() == set(ref) & AMBIGUOUS


@pytest.mark.parametrize("transform", [
    lambda r: r,  # as printed
    lambda r: r.lower(),  # typed in lower case
    lambda r: r.replace("-", ""),  # without the hyphen
    lambda r: " " + r.replace("-", " ") + " ",  # with spaces
])
def test_cancel_by_reference(make_session, make_resident, catalog_db, transform):
    sid = make_session(seats=1)
    rid = make_resident(phone="024-577-1234")
    mine = _book(catalog_db, sid, rid)
    waiting = _book(catalog_db, sid, make_resident())
    result = bookings.cancel_by_reference(catalog_db, transform(mine["reference"]), "０２４（５７７）１２３４")
    assert {"booking_id": mine["booking_id"], "promoted": waiting["booking_id"]} == result
    assert "cancelled" == bookings.get_booking(catalog_db, mine["booking_id"])["status"]
    rows = _audit_rows(catalog_db, mine["booking_id"], "cancel")
    assert ["resident:self-service"] == [r["actor"] for r in rows]


@pytest.mark.parametrize("reference, phone", [
    (None, "024-577-9999"),  # right reference, someone else's phone
    (None, "not a phone"),  # right reference, garbage phone
    ("AAA-AAA", "024-577-1234"),  # unknown reference, right phone
    ("", "024-577-1234"),  # no reference
])
def test_cancel_by_reference_needs_the_right_phone(make_session, make_resident, catalog_db, reference, phone):
    sid = make_session()
    mine = _book(catalog_db, sid, make_resident(phone="024-577-1234"))
    make_resident(phone="024-577-9999")
    with pytest.raises(NotFound) as info:
        bookings.cancel_by_reference(catalog_db, mine["reference"] if reference is None else reference, phone)
    assert "invalid_reference" == info.value.code
    assert "confirmed" == bookings.get_booking(catalog_db, mine["booking_id"])["status"]


def test_cancel_by_reference_twice(make_session, make_resident, catalog_db):
    mine = _book(catalog_db, make_session(), make_resident(phone="024-577-1234"))
    bookings.cancel_by_reference(catalog_db, mine["reference"], "0245771234")
    with pytest.raises(RuleViolation) as info:
        bookings.cancel_by_reference(catalog_db, mine["reference"], "0245771234")
    assert "booking_not_active" == info.value.code


# --- reordering the waitlist -----------------------------------------------------------

@pytest.mark.parametrize("move_from, move_to, order", [
    (4, 1, "DABC"),  # last to first
    (1, 4, "BCDA"),  # first to last
    (3, 2, "ACBD"),  # one place up
    (2, 3, "ACBD"),  # one place down
    (2, 2, "ABCD"),  # no move
])
def test_move_in_waitlist(make_session, make_resident, catalog_db, move_from, move_to, order):
    sid = make_session(seats=1)
    _book(catalog_db, sid, make_resident())
    ids = {letter: _book(catalog_db, sid, make_resident())["booking_id"] for letter in "ABCD"}
    moved = ids["ABCD"[move_from - 1]]
    bookings.move_in_waitlist(catalog_db, moved, move_to, actor="staff:3")
    assert [(ids[letter], pos) for pos, letter in enumerate(order, start=1)] == _waitlist(catalog_db, sid)
    rows = _audit_rows(catalog_db, moved, "reorder")
    assert {"from_position": move_from, "to_position": move_to} == json.loads(rows[0]["detail"])


@pytest.mark.parametrize("position", [
    0,  # before the head
    4,  # past the end of a three-person list
    -1,  # negative
])
def test_move_in_waitlist_out_of_range(make_session, make_resident, catalog_db, position):
    sid = make_session(seats=1)
    _book(catalog_db, sid, make_resident())
    waiting = [_book(catalog_db, sid, make_resident())["booking_id"] for _ in range(3)]
    with pytest.raises(ValidationError) as info:
        bookings.move_in_waitlist(catalog_db, waiting[0], position, actor="staff")
    assert "invalid_value" == info.value.code
    assert [(b, i) for i, b in enumerate(waiting, start=1)] == _waitlist(catalog_db, sid)


def test_move_confirmed_booking_in_waitlist(make_session, make_resident, catalog_db):
    b = _book(catalog_db, make_session(), make_resident())
    with pytest.raises(RuleViolation) as info:
        bookings.move_in_waitlist(catalog_db, b["booking_id"], 1, actor="staff")
    assert "booking_not_active" == info.value.code


# --- the audit trail and error texts ---------------------------------------------------------

def test_every_booking_change_is_audited(make_session, make_resident, catalog_db):
    sid = make_session(seats=1)
    a = _book(catalog_db, sid, make_resident())["booking_id"]
    b = _book(catalog_db, sid, make_resident())["booking_id"]
    c = _book(catalog_db, sid, make_resident())["booking_id"]
    bookings.move_in_waitlist(catalog_db, c, 1, actor="staff")
    bookings.cancel_booking(catalog_db, a, actor="staff")  # promotes c
    bookings.cancel_booking(catalog_db, b, actor="staff")
    actions = {bid: [r["action"] for r in _audit_rows(catalog_db, bid)] for bid in (a, b, c)}
    assert {a: ["book", "cancel"], b: ["book", "cancel"], c: ["book", "reorder", "promote"]} == actions


def _raise_everything(make_session, make_resident, db):
    sid, rid = make_session(), make_resident()
    b = _book(db, sid, rid)
    bookings.cancel_booking(db, b["booking_id"], actor="s")
    other = make_session(venue="hobara-chuo")
    _book(db, other, rid)
    cancelled = make_session(day=5)
    sessions.cancel_session(db, cancelled, actor="s")
    attempts = [
        lambda: _book(db, other, rid),
        lambda: _book(db, sid, rid),
        lambda: _book(db, 9999, rid),
        lambda: _book(db, sid, 9999),
        lambda: _book(db, cancelled, rid),
        lambda: _book(db, sid, rid, source="fax"),
        lambda: _book(db, sid, rid, override_reason=" "),
        lambda: bookings.cancel_booking(db, b["booking_id"], actor="s"),
        lambda: bookings.cancel_booking(db, 9999, actor="s"),
        lambda: bookings.cancel_by_reference(db, "AAA-AAA", "0245771111"),
        lambda: bookings.move_in_waitlist(db, b["booking_id"], 1, actor="s"),
    ]
    caught = []
    for attempt in attempts:
        with pytest.raises(DateCommunityError) as info:
            attempt()
        caught.append(info.value)
    return caught


def test_error_messages_never_contain_sql(make_session, make_resident, catalog_db):
    caught = _raise_everything(make_session, make_resident, catalog_db)
    assert 11 == len(caught)
    for exc in caught:
        text = exc.message.upper()
        assert "SELECT" not in text and "INSERT" not in text and "UPDATE " not in text, exc.code
        assert exc.code in exc.as_dict()["error"]


def test_schema_level_duplicate_is_reported_as_already_booked(make_session, make_resident, catalog_db,
                                                             monkeypatch):
    # a race that slips past the Python check is still caught by the unique index
    sid, rid = make_session(), make_resident()
    _book(catalog_db, sid, rid)
    real_one = bookings._one

    def skip_live_check(db, sql, params):
        if "status != 'cancelled'" in sql and "resident_id = ?" in sql and "session_id = ?" in sql:
            return None
        return real_one(db, sql, params)

    monkeypatch.setattr(bookings, "_one", skip_live_check)
    with pytest.raises(RuleViolation) as info:
        _book(catalog_db, sid, rid, override_reason="test")
    assert "already_booked" == info.value.code
    assert "INSERT" not in str(info.value).upper()
    assert 1 == catalog_db.conn.execute("SELECT count(*) FROM bookings").fetchone()[0]
