"""Repeat rules built from the planning form, and series edits that keep each
occurrence's sign-up window relative to its own start."""
from __future__ import annotations

import datetime as dt

import pytest

from date_community import timeutil
from date_community.errors import ValidationError
from date_community.scheduling import sessions

TUESDAY = dt.datetime(2031, 4, 8, 13, 30, tzinfo=timeutil.TZ)  # the 2nd Tuesday of April 2031


@pytest.mark.parametrize("repeat, first, kwargs, expected", [
    ("weekly", TUESDAY, {"count": 4}, "FREQ=WEEKLY;BYDAY=TU;COUNT=4"),  # every week, four times
    ("fortnightly", TUESDAY, {"count": 3}, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=3"),  # every other week
    ("monthly", TUESDAY, {"count": 6}, "FREQ=MONTHLY;BYDAY=+2TU;COUNT=6"),  # every 2nd Tuesday
    ("monthly", dt.datetime(2031, 4, 1, 10, 0), {"count": 2}, "FREQ=MONTHLY;BYDAY=+1TU;COUNT=2"),  # 1st Tuesday
    ("monthly", dt.datetime(2031, 4, 28, 10, 0), {"count": 2}, "FREQ=MONTHLY;BYDAY=+4MO;COUNT=2"),  # the 4th Monday
    ("monthly", dt.datetime(2031, 4, 29, 10, 0), {"count": 2}, "FREQ=MONTHLY;BYDAY=-1TU;COUNT=2"),  # 5th = last
    ("weekly", TUESDAY, {"until": dt.date(2031, 5, 6)}, "FREQ=WEEKLY;BYDAY=TU;UNTIL=20310506"),  # until a date
    ("weekly", TUESDAY, {"until": "2031-05-06"}, "FREQ=WEEKLY;BYDAY=TU;UNTIL=20310506"),  # the date as ISO text
    ("weekly", "2031-04-12T10:00:00+09:00", {"count": "2"}, "FREQ=WEEKLY;BYDAY=SA;COUNT=2"),  # strings from a form
])
def test_build_rule(repeat, first, kwargs, expected):
    assert expected == sessions.build_rule(repeat, first, **kwargs)


@pytest.mark.parametrize("repeat, first, expected_days", [
    ("weekly", TUESDAY, [dt.date(2031, 4, 8), dt.date(2031, 4, 15), dt.date(2031, 4, 22)]),  # a week apart
    ("fortnightly", TUESDAY, [dt.date(2031, 4, 8), dt.date(2031, 4, 22), dt.date(2031, 5, 6)]),  # two weeks apart
    ("monthly", TUESDAY, [dt.date(2031, 4, 8), dt.date(2031, 5, 13), dt.date(2031, 6, 10)]),  # each 2nd Tuesday
    ("monthly", dt.datetime(2031, 4, 29, 10, 0),
     [dt.date(2031, 4, 29), dt.date(2031, 5, 27), dt.date(2031, 6, 24)]),  # each last Tuesday, even without a 5th
])
def test_built_rules_expand_to_the_expected_days(repeat, first, expected_days):
    rule = sessions.build_rule(repeat, first, count=3)
    assert expected_days == [s.date() for s in sessions.expand_rule(rule, first)]


def test_until_includes_the_last_day():
    rule = sessions.build_rule("weekly", TUESDAY, until=dt.date(2031, 4, 22))
    assert [dt.date(2031, 4, 8), dt.date(2031, 4, 15), dt.date(2031, 4, 22)] == \
        [s.date() for s in sessions.expand_rule(rule, TUESDAY)]


@pytest.mark.parametrize("repeat, kwargs, code, field", [
    ("daily", {"count": 3}, "invalid_rule", None),  # not one of the form's choices
    ("none", {"count": 3}, "invalid_rule", None),  # "does not repeat" has no rule
    ("weekly", {}, "invalid_repeat_end", None),  # neither an end date nor a count
    ("weekly", {"count": 3, "until": dt.date(2031, 6, 1)}, "invalid_repeat_end", None),  # both
    ("weekly", {"count": 1}, "invalid_repeat_end", "count"),  # one class is not a repeat
    ("weekly", {"count": 0}, "invalid_repeat_end", "count"),  # zero
    ("weekly", {"count": sessions.MAX_OCCURRENCES + 1}, "invalid_repeat_end", "count"),  # beyond the cap
    ("weekly", {"count": "six"}, "invalid_repeat_end", "count"),  # not a number
    ("weekly", {"until": dt.date(2031, 4, 8)}, "invalid_repeat_end", "until"),  # ends on the first day
    ("weekly", {"until": dt.date(2031, 4, 1)}, "invalid_repeat_end", "until"),  # ends before it starts
])
def test_build_rule_rejects(repeat, kwargs, code, field):
    with pytest.raises(ValidationError) as info:
        sessions.build_rule(repeat, TUESDAY, **kwargs)
    assert code == info.value.code
    assert field == info.value.params.get("field")


@pytest.mark.parametrize("fields, code, field", [
    ({"ends_at": TUESDAY}, "invalid_time_range", "ends_at"),  # ends when it starts
    ({"walkin_seats": 11}, "invalid_seats", "walkin_seats"),  # more walk-in seats than seats
    ({"helpers_min": 4}, "invalid_helpers", "helpers_max"),  # minimum above the maximum of 3
    ({"signup_opens_at": TUESDAY - dt.timedelta(days=1), "signup_closes_at": TUESDAY - dt.timedelta(days=2)},
     "invalid_time_range", "signup_closes_at"),  # sign-up closes before it opens
])
def test_session_errors_name_the_field(catalog_db, fields, code, field):
    base = {"topic": "basics", "venue": "city-hall", "starts_at": TUESDAY,
            "ends_at": TUESDAY + dt.timedelta(hours=1), "seats": 10, "helpers_min": 1, "helpers_max": 3}
    with pytest.raises(ValidationError) as info:
        sessions.add_session(catalog_db, **{**base, **fields})
    assert (code, field) == (info.value.code, info.value.params.get("field"))


def _series(db):
    created = sessions.add_series(
        db, rule="FREQ=WEEKLY;BYDAY=TU;COUNT=3", topic="basics", venue="city-hall", starts_at=TUESDAY,
        ends_at=TUESDAY + dt.timedelta(hours=1), seats=10,
        signup_opens_at=TUESDAY - dt.timedelta(days=14), signup_closes_at=TUESDAY - dt.timedelta(days=1))
    return created["session_ids"]


def _window(db, sid):
    s = sessions.get_session(db, sid)
    start = timeutil.parse(s["starts_at"])
    return (timeutil.parse(s["signup_opens_at"]) - start, timeutil.parse(s["signup_closes_at"]) - start)


def test_new_signup_window_follows_each_later_occurrence(catalog_db):
    first, second, third = _series(catalog_db)
    second_start = timeutil.parse(sessions.get_session(catalog_db, second)["starts_at"])
    # close sign-up two days before instead of one, from the second class on
    sessions.update_session(catalog_db, second, actor="staff:1", scope="following",
                            signup_closes_at=second_start - dt.timedelta(days=2))
    assert (dt.timedelta(days=-14), dt.timedelta(days=-1)) == _window(catalog_db, first)
    assert (dt.timedelta(days=-14), dt.timedelta(days=-2)) == _window(catalog_db, second)
    assert (dt.timedelta(days=-14), dt.timedelta(days=-2)) == _window(catalog_db, third)


def test_signup_window_moves_with_a_moved_start(catalog_db):
    first, second, third = _series(catalog_db)
    s = sessions.get_session(catalog_db, second)
    new_start = timeutil.parse(s["starts_at"]) + dt.timedelta(days=1)
    # the class moves to Wednesday and sign-up now closes the evening before it
    sessions.update_session(catalog_db, second, actor="staff:1", scope="following", starts_at=new_start,
                            ends_at=timeutil.parse(s["ends_at"]) + dt.timedelta(days=1),
                            signup_closes_at=new_start - dt.timedelta(hours=15, minutes=30))
    moved = sessions.get_session(catalog_db, third)
    assert dt.date(2031, 4, 23) == timeutil.parse(moved["starts_at"]).date()
    assert "2031-04-22T22:00:00+09:00" == moved["signup_closes_at"]


def test_clearing_the_window_clears_it_for_following(catalog_db):
    first, second, third = _series(catalog_db)
    sessions.update_session(catalog_db, second, actor="staff:1", scope="following", signup_opens_at=None)
    assert [True, None, None] == [
        sessions.get_session(catalog_db, sid)["signup_opens_at"] and True for sid in (first, second, third)]
