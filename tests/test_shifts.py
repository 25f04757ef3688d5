"""Helper shifts: booking rules, cancellation cut-off, staffing reports, notifications."""
from __future__ import annotations

import datetime as dt

import pytest

from conftest import BASE
from date_community import notify, people
from date_community.errors import NotFound, RuleViolation, ValidationError
from date_community.scheduling import sessions, shifts


def _start(day=1, hour=10):
    return BASE + dt.timedelta(days=day, hours=hour - 9)


def _shift(db, sid, vid, **kw):
    kw.setdefault("actor", "staff:1")
    return shifts.book_shift(db, sid, vid, **kw)


def _outbox(db, kind):
    return [(m["channel"], m["recipient"], m["payload"]["shift_id"], m["payload"]["session_id"])
            for m in notify.messages(db) if m["kind"] == kind]


def test_book_shift(make_session, make_volunteer, catalog_db):
    sid = make_session()
    vid = make_volunteer(email="sato@example.org")
    result = _shift(catalog_db, sid, vid, role="lead", actor="volunteer:1")
    assert {"status": "booked", "role": "lead"} == {k: result[k] for k in ("status", "role")}
    row = shifts.get_shift(catalog_db, result["shift_id"])
    assert (sid, vid, "lead", "booked", 0) == (row["session_id"], row["volunteer_id"], row["role"], row["status"],
                                                row["sequence"])
    assert [("email", "sato@example.org", result["shift_id"], sid)] == _outbox(catalog_db, "shift_booked")
    audited = list(catalog_db.query("SELECT actor, action FROM audit_log WHERE entity = 'shift' AND entity_id = ?",
                                    [result["shift_id"]]))
    assert [{"actor": "volunteer:1", "action": "book"}] == audited
    assert 1 == sessions.get_session(catalog_db, sid)["helpers_booked"]


# The first session is on day 1, 10:00-11:30.
@pytest.mark.parametrize("day, hour, minutes, overlaps", [
    (1, 10, 90, True),  # same time at another venue
    (1, 11, 60, True),  # starts during the first
    (1, 9.5, 60, True),  # ends during the first
    (1, 9, 240, True),  # wraps the first
    (1, 11.5, 60, False),  # starts exactly when the first ends
    (1, 8, 120, False),  # ends exactly when the first starts
    (2, 10, 90, False),  # another day
])
def test_overlapping_shift(make_session, make_volunteer, catalog_db, day, hour, minutes, overlaps):
    first = make_session(day=1, hour=10, minutes=90)
    second = make_session(day=day, hour=hour, minutes=minutes, venue="ryozen-chuo")
    vid = make_volunteer()
    _shift(catalog_db, first, vid)
    if overlaps:
        with pytest.raises(RuleViolation) as info:
            _shift(catalog_db, second, vid)
        assert "overlapping_shift" == info.value.code
        assert {"session": first} == info.value.params
    else:
        assert "booked" == _shift(catalog_db, second, vid)["status"]


def test_cancelled_shift_does_not_overlap(make_session, make_volunteer, catalog_db):
    first, second = make_session(), make_session(venue="ryozen-chuo")
    vid = make_volunteer()
    shift = _shift(catalog_db, first, vid)
    shifts.cancel_shift(catalog_db, shift["shift_id"], actor="staff", by_staff=True)
    assert "booked" == _shift(catalog_db, second, vid)["status"]


def test_already_on_shift(make_session, make_volunteer, catalog_db):
    sid, vid = make_session(), make_volunteer()
    _shift(catalog_db, sid, vid)
    with pytest.raises(RuleViolation) as info:
        _shift(catalog_db, sid, vid, role="lead")
    assert "already_on_shift" == info.value.code


def test_rebook_after_cancel(make_session, make_volunteer, catalog_db):
    sid, vid = make_session(), make_volunteer()
    first = _shift(catalog_db, sid, vid)
    shifts.cancel_shift(catalog_db, first["shift_id"], actor="staff", by_staff=True)
    second = _shift(catalog_db, sid, vid)
    assert first["shift_id"] != second["shift_id"]


@pytest.mark.parametrize("helpers_max", [
    1,  # a single helper
    3,  # the factory default
])
def test_helpers_full(make_session, make_volunteer, catalog_db, helpers_max):
    sid = make_session(helpers_min=0, helpers_max=helpers_max)
    for _ in range(helpers_max):
        _shift(catalog_db, sid, make_volunteer())
    with pytest.raises(RuleViolation) as info:
        _shift(catalog_db, sid, make_volunteer())
    assert "helpers_full" == info.value.code
    assert helpers_max == sessions.get_session(catalog_db, sid)["helpers_booked"]


def test_helpers_max_zero_takes_no_helpers(make_session, make_volunteer, catalog_db):
    sid = make_session(helpers_min=0, helpers_max=0)
    with pytest.raises(RuleViolation) as info:
        _shift(catalog_db, sid, make_volunteer())
    assert "helpers_full" == info.value.code


def test_cancelled_shift_frees_a_helper_place(make_session, make_volunteer, catalog_db):
    sid = make_session(helpers_min=0, helpers_max=1)
    shift = _shift(catalog_db, sid, make_volunteer())
    shifts.cancel_shift(catalog_db, shift["shift_id"], actor="staff", by_staff=True)
    assert "booked" == _shift(catalog_db, sid, make_volunteer())["status"]


def test_lead_taken(make_session, make_volunteer, catalog_db):
    sid = make_session(helpers_max=3)
    _shift(catalog_db, sid, make_volunteer(), role="lead")
    with pytest.raises(RuleViolation) as info:
        _shift(catalog_db, sid, make_volunteer(), role="lead")
    assert "lead_taken" == info.value.code
    assert "assistant" == _shift(catalog_db, sid, make_volunteer())["role"]


def test_lead_free_again_after_cancel(make_session, make_volunteer, catalog_db):
    sid = make_session()
    lead = _shift(catalog_db, sid, make_volunteer(), role="lead")
    shifts.cancel_shift(catalog_db, lead["shift_id"], actor="staff", by_staff=True)
    assert "lead" == _shift(catalog_db, sid, make_volunteer(), role="lead")["role"]


def test_invalid_role(make_session, make_volunteer, catalog_db):
    with pytest.raises(ValidationError) as info:
        _shift(catalog_db, make_session(), make_volunteer(), role="boss")
    assert "invalid_role" == info.value.code


def test_volunteer_inactive(make_session, make_volunteer, catalog_db):
    vid = make_volunteer()
    people.set_volunteer_active(catalog_db, vid, False, actor="staff")
    with pytest.raises(RuleViolation) as info:
        _shift(catalog_db, make_session(), vid)
    assert "volunteer_inactive" == info.value.code


@pytest.mark.parametrize("which, code", [
    ("session", "session_not_found"),  # no such session
    ("volunteer", "volunteer_not_found"),  # no such volunteer
])
def test_unknown_session_or_volunteer(make_session, make_volunteer, catalog_db, which, code):
    sid, vid = make_session(), make_volunteer()
    with pytest.raises(NotFound) as info:
        _shift(catalog_db, 9999 if which == "session" else sid, 9999 if which == "volunteer" else vid)
    assert code == info.value.code


def test_shift_on_cancelled_session(make_session, make_volunteer, catalog_db):
    sid = make_session()
    sessions.cancel_session(catalog_db, sid, actor="staff")
    with pytest.raises(RuleViolation) as info:
        _shift(catalog_db, sid, make_volunteer())
    assert "session_cancelled" == info.value.code


@pytest.mark.parametrize("offset, past", [
    (dt.timedelta(minutes=-1), False),  # a minute before the start
    (dt.timedelta(0), True),  # the moment it starts
    (dt.timedelta(minutes=30), True),  # while it runs
    (dt.timedelta(days=3), True),  # long after
])
def test_session_past(make_session, make_volunteer, catalog_db, offset, past):
    sid = make_session(day=1, hour=10)
    now = _start(1, 10) + offset
    if past:
        with pytest.raises(RuleViolation) as info:
            _shift(catalog_db, sid, make_volunteer(), now=now)
        assert "session_past" == info.value.code
    else:
        assert "booked" == _shift(catalog_db, sid, make_volunteer(), now=now)["status"]


# --- cancelling ----------------------------------------------------------------------

@pytest.mark.parametrize("hours_before, cutoff, by_staff, allowed", [
    (49, 48, False, True),  # outside the default 48-hour cut-off
    (48, 48, False, True),  # exactly at the cut-off
    (47, 48, False, False),  # inside the cut-off: the volunteer must call the office
    (1, 48, False, False),  # an hour before
    (47, 48, True, True),  # staff may always cancel
    (1, 48, True, True),  # even an hour before
    (13, 12, False, True),  # a shorter configured cut-off
    (11, 12, False, False),  # inside the shorter cut-off
])
def test_cancel_cutoff(make_session, make_volunteer, catalog_db, hours_before, cutoff, by_staff, allowed):
    sid = make_session(day=5)
    shift = _shift(catalog_db, sid, make_volunteer())
    now = _start(5, 10) - dt.timedelta(hours=hours_before)
    if allowed:
        result = shifts.cancel_shift(catalog_db, shift["shift_id"], actor="x", by_staff=by_staff,
                                     cutoff_hours=cutoff, now=now)
        assert "cancelled" == result["status"]
        assert "cancelled" == shifts.get_shift(catalog_db, shift["shift_id"])["status"]
    else:
        with pytest.raises(RuleViolation) as info:
            shifts.cancel_shift(catalog_db, shift["shift_id"], actor="x", by_staff=by_staff,
                                cutoff_hours=cutoff, now=now)
        assert "too_late_to_cancel" == info.value.code
        assert "booked" == shifts.get_shift(catalog_db, shift["shift_id"])["status"]


def test_cancel_shift_notifies_and_audits(make_session, make_volunteer, catalog_db):
    sid = make_session(day=5)
    vid = make_volunteer(email="suzuki@example.org")
    shift = _shift(catalog_db, sid, vid)["shift_id"]
    shifts.cancel_shift(catalog_db, shift, actor="volunteer:9", now=BASE)
    assert [("email", "suzuki@example.org", shift, sid)] == _outbox(catalog_db, "shift_cancelled")
    assert 1 == shifts.get_shift(catalog_db, shift)["sequence"]
    rows = list(catalog_db.query("SELECT actor FROM audit_log WHERE entity = 'shift' AND entity_id = ? "
                                 "AND action = 'cancel'", [shift]))
    assert [{"actor": "volunteer:9"}] == rows


def test_cancel_shift_twice(make_session, make_volunteer, catalog_db):
    shift = _shift(catalog_db, make_session(), make_volunteer())["shift_id"]
    shifts.cancel_shift(catalog_db, shift, actor="staff", by_staff=True)
    with pytest.raises(RuleViolation) as info:
        shifts.cancel_shift(catalog_db, shift, actor="staff", by_staff=True)
    assert "shift_not_active" == info.value.code
    with pytest.raises(NotFound) as info:
        shifts.cancel_shift(catalog_db, 9999, actor="staff", by_staff=True)
    assert "shift_not_found" == info.value.code


# --- staffing reports -----------------------------------------------------------------

def test_understaffed(make_session, make_volunteer, catalog_db):
    short = make_session(day=1, helpers_min=2, helpers_max=3)
    enough = make_session(day=2, helpers_min=1, helpers_max=2)
    none_needed = make_session(day=3, helpers_min=0, helpers_max=2)
    cancelled = make_session(day=4, helpers_min=2, helpers_max=2)
    sessions.cancel_session(catalog_db, cancelled, actor="staff")
    _shift(catalog_db, short, make_volunteer())
    _shift(catalog_db, enough, make_volunteer())
    assert [short] == [s["id"] for s in shifts.understaffed(catalog_db)]
    _shift(catalog_db, short, make_volunteer())
    assert [] == [s["id"] for s in shifts.understaffed(catalog_db)]
    assert none_needed not in [s["id"] for s in shifts.understaffed(catalog_db)]


def test_understaffed_respects_the_date_range(make_session, catalog_db):
    early = make_session(day=1, helpers_min=1)
    late = make_session(day=10, helpers_min=1)
    assert [early] == [s["id"] for s in shifts.understaffed(catalog_db, end=_start(5))]
    assert [late] == [s["id"] for s in shifts.understaffed(catalog_db, start=_start(5))]


def test_sessions_needing_helpers_order(make_session, make_volunteer, catalog_db):
    vid = make_volunteer(skills=["line"])
    # created out of date order so that sorting by date alone would give a different answer
    plain_late = make_session(day=6, topic="basics", helpers_min=0, helpers_max=2)
    skill_ok = make_session(day=5, topic="line", helpers_min=0, helpers_max=2)
    short_plain = make_session(day=2, topic="basics", helpers_min=1, helpers_max=2)
    short_skill = make_session(day=4, topic="line", helpers_min=1, helpers_max=2)
    plain_early = make_session(day=1, topic="maps", helpers_min=0, helpers_max=2)
    full = make_session(day=3, topic="line", helpers_min=0, helpers_max=1)
    mine = make_session(day=7, topic="line", helpers_min=2, helpers_max=3)
    _shift(catalog_db, full, make_volunteer())
    _shift(catalog_db, mine, vid)

    ordered = shifts.sessions_needing_helpers(catalog_db, volunteer_id=vid)

    assert [short_skill, short_plain, skill_ok, plain_early, plain_late] == [s["id"] for s in ordered]
    assert [True, False, True, False, False] == [s["matches_skills"] for s in ordered]


def test_sessions_needing_helpers_without_volunteer(make_session, catalog_db):
    a = make_session(day=2, helpers_min=0, helpers_max=1)
    b = make_session(day=3, helpers_min=1, helpers_max=1)
    assert [b, a] == [s["id"] for s in shifts.sessions_needing_helpers(catalog_db)]


def test_sessions_needing_helpers_unknown_volunteer(catalog_db):
    with pytest.raises(NotFound) as info:
        shifts.sessions_needing_helpers(catalog_db, volunteer_id=9999)
    assert "volunteer_not_found" == info.value.code


def test_volunteer_shifts_listing(make_session, make_volunteer, catalog_db):
    vid = make_volunteer()
    later, sooner = make_session(day=3), make_session(day=1)
    a = _shift(catalog_db, later, vid)["shift_id"]
    b = _shift(catalog_db, sooner, vid)["shift_id"]
    shifts.cancel_shift(catalog_db, a, actor="staff", by_staff=True)
    assert [b] == [s["id"] for s in shifts.volunteer_shifts(catalog_db, vid)]
    assert [b, a] == [s["id"] for s in shifts.volunteer_shifts(catalog_db, vid, include_cancelled=True)]
