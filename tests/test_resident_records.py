"""Library support for the staff residents pages: checking a whole form at
once, audited search, a resident's bookings, and the audit viewer's filters."""
from __future__ import annotations

import json

import pytest

from date_community import audit, people
from date_community.scheduling import bookings

GOOD = {"name_kanji": "伊達 花子", "name_kana": "だて はなこ", "phone": "090-1234-5678", "birth_year": "1948",
        "district": "保原", "device": "iphone", "topics_wanted": ["line"], "needs": "", "source": "phone"}
REQUIRED = ("name_kanji", "name_kana", "phone", "district", "device", "source")


def test_resident_errors_none_for_good_input():
    assert {} == people.resident_errors(GOOD, required=REQUIRED)


@pytest.mark.parametrize("field, value, code", [
    ("name_kanji", "", "invalid_name"),  # empty name
    ("name_kana", "Hanako", "invalid_kana"),  # furigana in Latin letters
    ("name_kana", "", "invalid_kana"),  # empty furigana
    ("phone", "090-1234", "invalid_phone"),  # too short
    ("phone", "", "invalid_phone"),  # required and empty
    ("birth_year", "48", "invalid_birth_year"),  # two digits
    ("birth_year", "1850", "invalid_birth_year"),  # too early
    ("district", "福島", "invalid_district"),  # not a district of Date City
    ("district", "", "invalid_district"),  # required and empty
    ("device", "pager", "invalid_device"),  # unknown device
    ("device", "", "invalid_device"),  # required and empty
    ("source", "web", None),  # the library accepts every source it knows
    ("source", "fax", "invalid_source"),  # unknown source
])
def test_resident_errors_one_field(field, value, code):
    errors = people.resident_errors({**GOOD, field: value}, required=REQUIRED)
    assert ({field: code} if code else {}) == errors


def test_resident_errors_finds_every_problem_in_form_order():
    bad = {**GOOD, "name_kanji": " ", "phone": "12", "district": "東京"}
    assert ["name_kanji", "phone", "district"] == list(people.resident_errors(bad, required=REQUIRED))


def test_resident_errors_optional_fields_may_be_empty():
    assert {} == people.resident_errors({**GOOD, "birth_year": "", "district": "", "device": ""},
                                        required=("name_kanji",))


def test_resident_errors_unknown_field():
    assert {"shoe_size": "invalid_value"} == people.resident_errors({"shoe_size": "24"})


@pytest.mark.parametrize("query", [
    "ダテ",  # katakana
    "だて",  # hiragana
    "０９０－１２３４",  # full-width phone digits
])
def test_find_residents_with_actor_is_audited_without_the_term(make_resident, catalog_db, query):
    rid = make_resident(name_kanji="伊達 花子", name_kana="だて はなこ", phone="090-1234-5678")
    make_resident(name_kanji="見本 次郎", name_kana="みほん じろう", phone="024-577-0001")
    assert [rid] == [r["id"] for r in people.find_residents(catalog_db, query, actor="user:5")]
    rows = list(catalog_db.query("SELECT * FROM audit_log WHERE action = 'search'"))
    assert 1 == len(rows)
    assert ("user:5", "resident", None) == (rows[0]["actor"], rows[0]["entity"], rows[0]["entity_id"])
    assert {"shown": [rid]} == json.loads(rows[0]["detail"])
    assert query not in rows[0]["detail"]


def test_find_residents_without_actor_writes_nothing(make_resident, catalog_db):
    make_resident(name_kana="だて はなこ")
    people.find_residents(catalog_db, "だて")
    assert [] == list(catalog_db.query("SELECT * FROM audit_log WHERE action = 'search'"))


def test_resident_bookings_newest_first_with_session_details(make_session, make_resident, catalog_db):
    rid = make_resident()
    early, late = make_session(day=1), make_session(day=5, venue="hobara-chuo", topic="line")
    first = bookings.book_seat(catalog_db, early, rid, source="phone", actor="staff")
    second = bookings.book_seat(catalog_db, late, rid, source="counter", actor="staff")
    bookings.book_seat(catalog_db, early, make_resident(), source="phone", actor="staff")  # someone else
    rows = bookings.resident_bookings(catalog_db, rid)
    assert [second["booking_id"], first["booking_id"]] == [r["id"] for r in rows]
    assert ("LINEを始めよう", "保原中央交流館") == (rows[0]["title_ja"], rows[0]["venue_name_ja"])
    assert (late, "counter", second["reference"]) == (rows[0]["session_id"], rows[0]["source"],
                                                       rows[0]["reference"])


def test_audit_filter_values(make_resident, catalog_db):
    make_resident(actor="user:2")
    people.find_residents(catalog_db, "みほん", actor="user:9")
    values = audit.filter_values(catalog_db)
    assert "resident" in values["entities"]
    assert {"user:2", "user:9"} <= set(values["actors"])
    assert values["entities"] == sorted(values["entities"])
