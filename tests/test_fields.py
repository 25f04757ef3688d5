"""One parser per field type (webapp/fields.py): the ranges every form shares.

The id and number walks over every route and form are in test_large_ids.py;
this file covers the parsers themselves and the far-off dates that used to
reach date arithmetic and overflow (9999-12-31 plus a week).
"""
from __future__ import annotations

import datetime as dt

import pytest

from date_community.scheduling import catalog
from webapp import fields


@pytest.mark.parametrize("text, expected", [
    ("2031-04-08", dt.date(2031, 4, 8)), (" 2031-04-08 ", dt.date(2031, 4, 8)), ("1900-01-01", dt.date(1900, 1, 1)),
    ("2999-12-31", dt.date(2999, 12, 31)), ("9999-12-31", None), ("0001-01-01", None), ("1899-12-31", None),
    ("2031-02-30", None), ("", None), (None, None), ("tomorrow", None),
])
def test_date_parser(text, expected):
    assert fields.date(text) == expected


def test_time_and_local_datetime_parsers():
    assert fields.time("13:30") == dt.time(13, 30)
    assert fields.time("25:00") is None
    moment = fields.local_datetime("2031-04-08T10:00")
    assert moment.isoformat() == "2031-04-08T10:00:00+09:00"
    assert fields.local_datetime("9999-12-31T23:59") is None
    assert fields.local_datetime("0001-01-01T00:00") is None


@pytest.mark.parametrize("text, limit, expected", [
    ("37.8191", 90, 37.8191), ("-140.5", 180, -140.5), ("91", 90, None), ("nan", 90, None), ("inf", 180, None),
    ("1e309", 180, None), ("", 90, None), ("37,8", 90, None),
])
def test_decimal_parser(text, limit, expected):
    assert fields.decimal(text, limit=limit) == expected


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_far_off_dates_are_form_errors_not_500(staff_client, catalog_db, day):
    staff_client.set_cookie("lang", "en")
    topic, venue = catalog.get_topic(catalog_db, "basics")["id"], catalog.get_venue(catalog_db, "city-hall")["id"]
    for repeat in ("none", "weekly"):
        form = {"topic": str(topic), "venue": str(venue), "date": day, "start_time": "00:00", "end_time": "23:30",
                "kind": "class", "seats": "10", "walkin_seats": "2", "helpers_min": "1", "helpers_max": "3",
                "loaner_phones": "4", "signup_opens": f"{day}T00:00", "signup_closes": "", "bring": "",
                "notes": "", "repeat": repeat, "repeat_until": day, "repeat_count": ""}
        response = staff_client.post("/staff/sessions/new", data=form)
        assert response.status_code == 200, (repeat, response.status_code)
        assert "Enter the date of the class" in response.get_data(as_text=True)
    for path in (f"/staff/sessions?from={day}", f"/staff/sessions?from=2031-04-01&to={day}", f"/staff/today?date={day}",
                 f"/staff/call-list?date={day}", f"/staff/signs/scans?from={day}", f"/opendata/events.csv?from={day}"):
        response = staff_client.get(path)
        response.close()
        assert response.status_code in (200, 400), (path, response.status_code)
    response = staff_client.post("/staff/exports", data={"report": "bookings", "bookings-from": day,
                                                         "bookings-to": day})
    assert response.status_code == 200 and "Enter a real date" in response.get_data(as_text=True)
