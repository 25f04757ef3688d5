"""Sessions and recurring series: validation, times, rules, updates, cancellation, listing."""
from __future__ import annotations

import calendar as stdcal
import datetime as dt

import pytest

from conftest import BASE
from date_community import notify, timeutil
from date_community.errors import NotFound, RuleViolation, ValidationError
from date_community.scheduling import bookings, sessions, shifts

UTC = dt.timezone.utc


def _session(db, sid):
    return sessions.get_session(db, sid)


def _book(db, sid, rid):
    return bookings.book_seat(db, sid, rid, source="phone", actor="staff")


def _add(db, **fields):
    start = BASE + dt.timedelta(days=1, hours=1)
    base = {"topic": "basics", "venue": "city-hall", "starts_at": start,
            "ends_at": start + dt.timedelta(hours=1), "seats": 10}
    base.update(fields)
    return sessions.add_session(db, **base)


# --- validation ---------------------------------------------------------------------

@pytest.mark.parametrize("fields, code", [
    ({"ends_at": BASE}, "invalid_time_range"),  # ends before it starts
    ({"ends_at": BASE + dt.timedelta(days=1, hours=1)}, "invalid_time_range"),  # ends when it starts
    ({"seats": 5, "walkin_seats": 6}, "invalid_seats"),  # more walk-in seats than seats
    ({"seats": -1}, "invalid_seats"),  # negative seats
    ({"seats": "ten"}, "invalid_seats"),  # not a number
    ({"loaner_phones": -2}, "invalid_seats"),  # negative loaner phones
    ({"helpers_min": 3, "helpers_max": 2}, "invalid_helpers"),  # minimum above maximum
    ({"helpers_min": -1}, "invalid_helpers"),  # negative helpers
    ({"topic": "no-such-topic"}, "topic_not_found"),  # unknown topic code
    ({"venue": "no-such-venue"}, "venue_not_found"),  # unknown venue slug
    ({"kind": "lecture"}, "invalid_kind"),  # unknown kind
    ({"starts_at": "next tuesday"}, "invalid_time"),  # unparseable time
    ({"signup_opens_at": BASE, "signup_closes_at": BASE - dt.timedelta(days=1)},
     "invalid_time_range"),  # sign-up closes before it opens
])
def test_add_session_validation(catalog_db, fields, code):
    with pytest.raises((ValidationError, NotFound)) as info:
        _add(catalog_db, **fields)
    assert code == info.value.code
    assert 0 == catalog_db.conn.execute("SELECT count(*) FROM sessions").fetchone()[0]


@pytest.mark.parametrize("kind", [
    "class",  # a taught class
    "consultation",  # one-to-one help
    "drop-in",  # come when you like
])
def test_add_session_kinds(catalog_db, kind):
    sid = _add(catalog_db, kind=kind)
    assert kind == _session(catalog_db, sid)["kind"]


def test_add_session_is_audited(catalog_db):
    sid = _add(catalog_db, actor="staff:1")
    rows = list(catalog_db.query("SELECT actor FROM audit_log WHERE entity = 'session' AND entity_id = ? "
                                 "AND action = 'create'", [sid]))
    assert [{"actor": "staff:1"}] == rows


# --- times --------------------------------------------------------------------------

@pytest.mark.parametrize("starts_at, expected", [
    (dt.datetime(2031, 4, 8, 13, 30), "2031-04-08T13:30:00+09:00"),  # naive: Tokyo wall time
    (dt.datetime(2031, 4, 8, 4, 30, tzinfo=UTC), "2031-04-08T13:30:00+09:00"),  # UTC converted
    (dt.datetime(2031, 4, 8, 13, 30, 45, 123456, tzinfo=timeutil.TZ),
     "2031-04-08T13:30:45+09:00"),  # microseconds dropped
    ("2031-04-08T13:30", "2031-04-08T13:30:00+09:00"),  # an ISO string without offset
    ("2031-04-08T04:30:00Z", "2031-04-08T13:30:00+09:00"),  # an ISO string in UTC
    ("2031-04-08T06:30:00+02:00", "2031-04-08T13:30:00+09:00"),  # another offset
    (dt.datetime(2031, 4, 7, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
     "2031-04-08T13:30:00+09:00"),  # the previous day in New York
])
def test_times_are_stored_in_tokyo(catalog_db, starts_at, expected):
    sid = _add(catalog_db, starts_at=starts_at, ends_at=dt.datetime(2031, 4, 8, 20, 0))
    row = catalog_db.conn.execute("SELECT starts_at, ends_at FROM sessions WHERE id = ?", [sid]).fetchone()
    assert (expected, "2031-04-08T20:00:00+09:00") == row


# --- repeat rules ------------------------------------------------------------------------

def _second_tuesdays(year, month, count):
    out = []
    while len(out) < count:
        tuesdays = [d for d in stdcal.Calendar().itermonthdates(year, month)
                    if d.month == month and d.weekday() == stdcal.TUESDAY]
        out.append(tuesdays[1])
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def test_expand_monthly_second_tuesday():
    first = dt.datetime(2031, 4, 8, 13, 30)  # the second Tuesday of April 2031
    starts = sessions.expand_rule("FREQ=MONTHLY;BYDAY=+2TU;COUNT=6", first)
    assert _second_tuesdays(2031, 4, 6) == [s.date() for s in starts]
    assert {dt.time(13, 30)} == {s.timetz().replace(tzinfo=None) for s in starts}
    assert {"+09:00"} == {s.isoformat()[-6:] for s in starts}


def test_expand_rule_accepts_rrule_prefix():
    first = dt.datetime(2031, 4, 8, 13, 30)
    with_prefix = sessions.expand_rule("RRULE:FREQ=MONTHLY;BYDAY=+2TU;COUNT=3", first)
    assert _second_tuesdays(2031, 4, 3) == [s.date() for s in with_prefix]


_THURSDAYS = [dt.date(2031, 4, 10), dt.date(2031, 4, 17), dt.date(2031, 4, 24), dt.date(2031, 5, 1)]


@pytest.mark.parametrize("until, expected", [
    ("20310501", _THURSDAYS),  # a bare date includes that day's session (RFC 5545: UNTIL is inclusive)
    ("20310501T100000", _THURSDAYS),  # exactly the start time of the last one
    ("20310501T095959", _THURSDAYS[:3]),  # a second before it excludes it
    ("20310430T235959", _THURSDAYS[:3]),  # the night before excludes it
    ("20310424", _THURSDAYS[:3]),  # a bare date on an earlier Thursday
    ("20310423", _THURSDAYS[:2]),  # a bare date on a Wednesday
    ("20310501T010000Z", _THURSDAYS),  # UTC: 01:00Z is 10:00 in Tokyo, the last start exactly
    ("20310501T005959Z", _THURSDAYS[:3]),  # UTC: a second before the last start
])
def test_expand_weekly_until(until, expected):
    first = dt.datetime(2031, 4, 10, 10, 0)  # a Thursday
    starts = sessions.expand_rule(f"FREQ=WEEKLY;BYDAY=TH;UNTIL={until}", first)
    assert expected == [s.date() for s in starts]
    assert {dt.time(10, 0)} == {s.timetz().replace(tzinfo=None) for s in starts}


def test_expand_rule_with_count_is_not_cut_at_a_year():
    # two years of monthly classes: COUNT bounds the rule, the one-year horizon must not
    first = dt.datetime(2031, 4, 8, 13, 30)
    starts = sessions.expand_rule("FREQ=MONTHLY;BYDAY=+2TU;COUNT=24", first)
    assert _second_tuesdays(2031, 4, 24) == [s.date() for s in starts]


def test_expand_rule_without_end_stops_at_the_horizon():
    first = dt.datetime(2031, 4, 10, 10, 0)
    starts = sessions.expand_rule("FREQ=WEEKLY;BYDAY=TH", first)
    # every Thursday within 366 days of the first: 0, 7, ..., 364 days later
    assert [first.date() + dt.timedelta(days=7 * i) for i in range(53)] == [s.date() for s in starts]


def test_expand_rule_limit():
    starts = sessions.expand_rule("FREQ=DAILY;COUNT=50", dt.datetime(2031, 4, 10, 10, 0), limit=7)
    assert 7 == len(starts)


@pytest.mark.parametrize("rule", [
    "garbage",  # not a rule at all
    "",  # empty
    "   ",  # blank
    "RRULE:",  # only the prefix
    "FREQ=FORTNIGHTLY",  # unknown frequency
    "FREQ=WEEKLY;BYDAY=XX",  # unknown weekday
    "FREQ=WEEKLY;INTERVAL=two",  # non-numeric interval
    "FREQ=MONTHLY;BYDAY=+2TU;UNTIL=20300101",  # ends before it starts: no occurrences
])
def test_expand_rule_rejects(rule):
    with pytest.raises(ValidationError) as info:
        sessions.expand_rule(rule, dt.datetime(2031, 4, 8, 13, 30))
    assert "invalid_rule" == info.value.code


# --- series ------------------------------------------------------------------------------

def _series(db, rule="FREQ=WEEKLY;BYDAY=TU;COUNT=4", seats=1, **fields):
    start = dt.datetime(2031, 4, 8, 13, 30)
    return sessions.add_series(db, rule=rule, topic="line", venue="hobara-chuo", starts_at=start,
                               ends_at=start + dt.timedelta(minutes=90), seats=seats, **fields)


def test_add_series_creates_occurrences(catalog_db):
    result = _series(catalog_db, helpers_min=1, helpers_max=2,
                     signup_opens_at=dt.datetime(2031, 4, 1, 9, 0))
    rows = [_session(catalog_db, sid) for sid in result["session_ids"]]
    assert 4 == len(rows)
    assert [dt.datetime(2031, 4, 8 + 7 * i, 13, 30, tzinfo=timeutil.TZ) for i in range(4)] == [
        timeutil.parse(r["starts_at"]) for r in rows]
    assert {dt.timedelta(minutes=90)} == {timeutil.parse(r["ends_at"]) - timeutil.parse(r["starts_at"])
                                          for r in rows}
    assert [0, 1, 2, 3] == [r["series_index"] for r in rows]
    assert {result["series_id"]} == {r["series_id"] for r in rows}
    # the sign-up window moves with each occurrence
    assert [dt.datetime(2031, 4, 1 + 7 * i, 9, 0, tzinfo=timeutil.TZ) for i in range(4)] == [
        timeutil.parse(r["signup_opens_at"]) for r in rows]
    assert {("line", "hobara-chuo", 1, 1, 2)} == {
        (r["topic_code"], r["venue_slug"], r["seats"], r["helpers_min"], r["helpers_max"]) for r in rows}


def test_series_occurrences_have_their_own_seats(catalog_db, make_resident):
    ids = _series(catalog_db, seats=1)["session_ids"]
    a = _book(catalog_db, ids[0], make_resident())
    b = _book(catalog_db, ids[1], make_resident())
    c = _book(catalog_db, ids[0], make_resident())
    assert ("confirmed", "confirmed", "waitlisted") == (a["status"], b["status"], c["status"])
    assert [0, 0, 1, 1] == [_session(catalog_db, sid)["seats_left"] for sid in ids]


def test_add_series_with_bad_rule_creates_nothing(catalog_db):
    with pytest.raises(ValidationError):
        _series(catalog_db, rule="garbage")
    assert (0, 0) == catalog_db.conn.execute(
        "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM series)").fetchone()


# --- updates ---------------------------------------------------------------------------

def test_update_this_only_changes_one_occurrence(catalog_db):
    ids = _series(catalog_db, seats=5)["session_ids"]
    before = [_session(catalog_db, sid) for sid in ids]
    changed = sessions.update_session(catalog_db, ids[1], actor="staff", scope="this", seats=8,
                                      starts_at=dt.datetime(2031, 4, 15, 14, 0),
                                      ends_at=dt.datetime(2031, 4, 15, 15, 30))
    after = [_session(catalog_db, sid) for sid in ids]
    assert [ids[1]] == changed
    assert [5, 8, 5, 5] == [r["seats"] for r in after]
    assert [0, 1, 0, 0] == [r["sequence"] for r in after]
    assert "2031-04-15T14:00:00+09:00" == after[1]["starts_at"]
    for i in (0, 2, 3):
        assert (before[i]["starts_at"], before[i]["ends_at"]) == (after[i]["starts_at"], after[i]["ends_at"])


def test_update_following_moves_by_the_same_delta(catalog_db):
    ids = _series(catalog_db, seats=5)["session_ids"]
    before = [_session(catalog_db, sid) for sid in ids]
    new_start = timeutil.parse(before[1]["starts_at"]) + dt.timedelta(minutes=30)
    new_end = timeutil.parse(before[1]["ends_at"]) + dt.timedelta(minutes=30)
    changed = sessions.update_session(catalog_db, ids[1], actor="staff", scope="following", seats=12,
                                      starts_at=new_start, ends_at=new_end)
    after = [_session(catalog_db, sid) for sid in ids]
    assert ids[1:] == changed
    deltas = [timeutil.parse(a["starts_at"]) - timeutil.parse(b["starts_at"]) for a, b in zip(after, before)]
    assert [dt.timedelta(0)] + [dt.timedelta(minutes=30)] * 3 == deltas
    end_deltas = [timeutil.parse(a["ends_at"]) - timeutil.parse(b["ends_at"]) for a, b in zip(after, before)]
    assert deltas == end_deltas
    assert [5, 12, 12, 12] == [r["seats"] for r in after]
    assert [0, 1, 1, 1] == [r["sequence"] for r in after]
    assert {"+09:00"} == {r["starts_at"][-6:] for r in after}


def test_update_following_skips_cancelled_occurrences(catalog_db):
    ids = _series(catalog_db, seats=5)["session_ids"]
    sessions.cancel_session(catalog_db, ids[2], actor="staff")
    changed = sessions.update_session(catalog_db, ids[1], actor="staff", scope="following", notes="持ち物: 充電器")
    assert [ids[1], ids[3]] == changed
    assert ["", "持ち物: 充電器", "", "持ち物: 充電器"] == [_session(catalog_db, s)["notes"] for s in ids]


def test_raising_seats_promotes_from_waitlist(make_session, make_resident, catalog_db):
    sid = make_session(seats=1)
    _book(catalog_db, sid, make_resident())
    w1, w2, w3 = (_book(catalog_db, sid, make_resident()) for _ in range(3))
    sessions.update_session(catalog_db, sid, actor="staff", seats=3)
    statuses = [bookings.get_booking(catalog_db, b["booking_id"]) for b in (w1, w2, w3)]
    assert [("confirmed", None), ("confirmed", None), ("waitlisted", 1)] == [
        (b["status"], b["position"]) for b in statuses]
    kinds = [m["kind"] for m in notify.messages(catalog_db)]
    assert 2 == kinds.count("waitlist_promoted")


@pytest.mark.parametrize("change", [
    {"seats": 1},  # fewer seats than confirmed bookings
    {"walkin_seats": 2},  # holding back seats that are already booked
])
def test_lowering_seats_below_confirmed(make_session, make_resident, catalog_db, change):
    sid = make_session(seats=3)
    for _ in range(2):
        _book(catalog_db, sid, make_resident())
    with pytest.raises(RuleViolation) as info:
        sessions.update_session(catalog_db, sid, actor="staff", **change)
    assert "seats_below_confirmed" == info.value.code
    row = _session(catalog_db, sid)
    assert (3, 0, 0) == (row["seats"], row["walkin_seats"], row["sequence"])


def test_lowering_seats_to_confirmed_is_allowed(make_session, make_resident, catalog_db):
    sid = make_session(seats=3)
    for _ in range(2):
        _book(catalog_db, sid, make_resident())
    sessions.update_session(catalog_db, sid, actor="staff", seats=2)
    assert (2, 0) == (_session(catalog_db, sid)["seats"], _session(catalog_db, sid)["seats_left"])


def test_failed_following_update_changes_nothing(catalog_db, make_resident):
    ids = _series(catalog_db, seats=3)["session_ids"]
    for _ in range(3):
        _book(catalog_db, ids[3], make_resident())  # only the last one is full
    with pytest.raises(RuleViolation) as info:
        sessions.update_session(catalog_db, ids[0], actor="staff", scope="following", seats=2)
    assert "seats_below_confirmed" == info.value.code
    assert [3, 3, 3, 3] == [_session(catalog_db, s)["seats"] for s in ids]
    assert [0, 0, 0, 0] == [_session(catalog_db, s)["sequence"] for s in ids]


@pytest.mark.parametrize("changes, code", [
    ({"colour": "red"}, "invalid_value"),  # not an editable field
    ({"helpers_min": 5}, "invalid_helpers"),  # above the existing maximum of 3
    ({"ends_at": BASE}, "invalid_time_range"),  # end moved before the start
    ({"kind": "party"}, "invalid_kind"),  # unknown kind
])
def test_update_session_validation(make_session, catalog_db, changes, code):
    sid = make_session()
    with pytest.raises(ValidationError) as info:
        sessions.update_session(catalog_db, sid, actor="staff", **changes)
    assert code == info.value.code


def test_update_scope_and_state_errors(make_session, catalog_db):
    sid = make_session()
    with pytest.raises(ValidationError) as info:
        sessions.update_session(catalog_db, sid, actor="staff", scope="all", seats=5)
    assert "invalid_scope" == info.value.code
    sessions.cancel_session(catalog_db, sid, actor="staff")
    with pytest.raises(RuleViolation) as info:
        sessions.update_session(catalog_db, sid, actor="staff", seats=5)
    assert "session_cancelled" == info.value.code
    with pytest.raises(NotFound) as info:
        sessions.update_session(catalog_db, 9999, actor="staff", seats=5)
    assert "session_not_found" == info.value.code


def test_update_notifies_booked_helpers(make_session, make_volunteer, catalog_db):
    sid = make_session()
    vid = make_volunteer(email="helper@example.org")
    shift = shifts.book_shift(catalog_db, sid, vid, actor="staff")
    sessions.update_session(catalog_db, sid, actor="staff", notes="部屋が変わりました")
    changed = [m for m in notify.messages(catalog_db) if m["kind"] == "session_changed"]
    assert [("email", "helper@example.org", shift["shift_id"])] == [
        (m["channel"], m["recipient"], m["payload"]["shift_id"]) for m in changed]


# --- cancelling -------------------------------------------------------------------------

def _status(db, table, row_id):
    return db.conn.execute(f"SELECT status FROM {table} WHERE id = ?", [row_id]).fetchone()[0]


@pytest.mark.parametrize("scope, cancelled_indexes", [
    ("this", [1]),  # only the chosen occurrence
    ("following", [1, 2, 3]),  # it and every later one
])
def test_cancel_session_scope(catalog_db, make_resident, make_volunteer, scope, cancelled_indexes):
    ids = _series(catalog_db, seats=1, helpers_max=2)["session_ids"]
    booked, waiting, helper = [], [], []
    vid = make_volunteer(email="h@example.org")
    for sid in ids:
        booked.append(_book(catalog_db, sid, make_resident())["booking_id"])
        waiting.append(_book(catalog_db, sid, make_resident())["booking_id"])
        helper.append(shifts.book_shift(catalog_db, sid, vid, actor="staff")["shift_id"])
    notify_before = len(notify.messages(catalog_db))

    result = sessions.cancel_session(catalog_db, ids[1], actor="staff", scope=scope, reason="台風")

    assert [ids[i] for i in cancelled_indexes] == result
    for i, sid in enumerate(ids):
        gone = i in cancelled_indexes
        assert ("cancelled" if gone else "scheduled") == _session(catalog_db, sid)["status"]
        assert ("cancelled" if gone else "confirmed") == _status(catalog_db, "bookings", booked[i])
        assert ("cancelled" if gone else "waitlisted") == _status(catalog_db, "bookings", waiting[i])
        assert ("cancelled" if gone else "booked") == _status(catalog_db, "shifts", helper[i])
        assert (1 if gone else 0) == _session(catalog_db, sid)["sequence"]
    queued = notify.messages(catalog_db)[notify_before:]
    residents = [m for m in queued if m["kind"] == "session_cancelled_resident"]
    helpers = [m for m in queued if m["kind"] == "session_cancelled"]
    expected_calls = sorted([booked[i] for i in cancelled_indexes] + [waiting[i] for i in cancelled_indexes])
    assert expected_calls == sorted(m["payload"]["booking_id"] for m in residents)
    assert {"staff"} == {m["channel"] for m in residents}
    assert [("email", "h@example.org", helper[i]) for i in cancelled_indexes] == [
        (m["channel"], m["recipient"], m["payload"]["shift_id"]) for m in helpers]
    audited = [r["entity_id"] for r in catalog_db.query(
        "SELECT entity_id FROM audit_log WHERE entity = 'session' AND action = 'cancel' ORDER BY id")]
    assert [ids[i] for i in cancelled_indexes] == audited


def test_cancel_session_twice(make_session, catalog_db):
    sid = make_session()
    sessions.cancel_session(catalog_db, sid, actor="staff")
    with pytest.raises(RuleViolation) as info:
        sessions.cancel_session(catalog_db, sid, actor="staff")
    assert "session_cancelled" == info.value.code


# --- listing ----------------------------------------------------------------------------

def test_list_sessions_counts(make_session, make_resident, make_volunteer, catalog_db):
    sid = make_session(seats=4, walkin_seats=1, helpers_min=2, helpers_max=3)
    other = make_session(day=2, venue="hobara-chuo", topic="line")
    for _ in range(5):
        _book(catalog_db, sid, make_resident())
    cancelled = _book(catalog_db, other, make_resident())
    bookings.cancel_booking(catalog_db, cancelled["booking_id"], actor="staff")
    shifts.book_shift(catalog_db, sid, make_volunteer(), actor="staff")

    rows = {r["id"]: r for r in sessions.list_sessions(catalog_db)}

    assert [sid, other] == list(rows)
    first = rows[sid]
    assert (3, 2, 1, 0, 3) == (first["confirmed"], first["waitlisted"], first["helpers_booked"],
                               first["seats_left"], first["capacity"])
    assert first["understaffed"] is True
    assert 2 == first["helpers_needed"]
    second = rows[other]
    assert (0, 0, 10) == (second["confirmed"], second["waitlisted"], second["seats_left"])


def test_list_sessions_filters(make_session, catalog_db):
    a = make_session(day=1)
    b = make_session(day=2, venue="hobara-chuo")
    c = make_session(day=3, topic="line")
    d = make_session(day=4)
    sessions.cancel_session(catalog_db, d, actor="staff")
    ids = lambda **kw: [r["id"] for r in sessions.list_sessions(catalog_db, **kw)]  # noqa: E731
    assert [a, b, c] == ids()
    assert [a, b, c, d] == ids(include_cancelled=True)
    assert [b] == ids(venue="hobara-chuo")
    assert [c] == ids(topic="line")
    assert [b, c] == ids(start=BASE + dt.timedelta(days=2), end=BASE + dt.timedelta(days=4))
    assert [a] == ids(limit=1)


def test_attended_and_no_show_still_hold_seats(make_session, make_resident, catalog_db):
    from date_community.scheduling import attendance
    sid = make_session(seats=2)
    a = _book(catalog_db, sid, make_resident())
    b = _book(catalog_db, sid, make_resident())
    attendance.check_in(catalog_db, a["booking_id"], actor="staff")
    attendance.mark_no_show(catalog_db, b["booking_id"], actor="staff")
    row = _session(catalog_db, sid)
    assert (2, 0) == (row["confirmed"], row["seats_left"])
    assert "waitlisted" == _book(catalog_db, sid, make_resident())["status"]


def test_lowering_helpers_max_below_booked_helpers_is_refused(catalog_db, make_session, make_volunteer):
    sid = make_session(helpers_min=0, helpers_max=3)
    for _ in range(2):
        shifts.book_shift(catalog_db, sid, make_volunteer(), actor="t")
    with pytest.raises(RuleViolation) as info:
        sessions.update_session(catalog_db, sid, actor="t", helpers_max=1)
    assert "helpers_above_max" == info.value.code
    assert 3 == sessions.get_session(catalog_db, sid)["helpers_max"]


def test_list_sessions_by_district(catalog_db, make_session):
    hobara = make_session(venue="city-hall")            # city hall is in 保原
    yanagawa = make_session(venue="yanagawa-chuo", day=2)
    assert [hobara] == [s["id"] for s in sessions.list_sessions(catalog_db, district="保原")]
    assert [yanagawa] == [s["id"] for s in sessions.list_sessions(catalog_db, district="梁川")]
    assert {hobara, yanagawa} == {s["id"] for s in sessions.list_sessions(catalog_db)}
