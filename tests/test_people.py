"""Residents and volunteers: normalisation, duplicates, merging, export, erasure."""
from __future__ import annotations

import pytest

from date_community import audit, people, timeutil
from date_community.errors import DateCommunityError, NotFound, RuleViolation, ValidationError
from date_community.scheduling import bookings


def _audit(db, action, entity, entity_id):
    return list(db.query("SELECT * FROM audit_log WHERE action = ? AND entity = ? AND entity_id = ?",
                         [action, entity, entity_id]))


def _code(excinfo) -> str:
    return excinfo.value.code


# --- phone numbers ---------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("09012345678", "09012345678"),  # already clean
    ("０９０－１２３４－５６７８", "09012345678"),  # full-width digits and full-width hyphen-minus
    ("090-1234-5678", "09012345678"),  # ASCII hyphen
    ("090‐1234‐5678", "09012345678"),  # U+2010 hyphen
    ("090−1234−5678", "09012345678"),  # U+2212 minus sign
    ("090ー1234ー5678", "09012345678"),  # katakana long-vowel mark typed as a dash
    ("090―1234―5678", "09012345678"),  # U+2015 horizontal bar
    ("090 1234 5678", "09012345678"),  # spaces
    ("０９０　１２３４　５６７８", "09012345678"),  # ideographic spaces
    ("(024) 577-1111", "0245771111"),  # area code in brackets
    ("（０２４）５７７－１１１１", "0245771111"),  # full-width brackets
    ("+81 90-1234-5678", "09012345678"),  # country code, mobile
    ("+81-24-577-1111", "0245771111"),  # country code, Date City landline
    ("+81 (0)24-577-1111", "0245771111"),  # country code with the trunk zero in brackets
    ("0081 24 577 1111", "0245771111"),  # international prefix spelled out
    ("  024-577-1111\n", "0245771111"),  # stray whitespace
])
def test_normalize_phone(raw, expected):
    assert expected == people.normalize_phone(raw)


@pytest.mark.parametrize("raw", [
    "090-1234",  # too short
    "090-1234-56789",  # too long
    "090-ABCD-5678",  # letters
    "tel:0245771111",  # a prefix with letters
    "",  # empty
    "   ",  # only spaces
    None,  # missing
    "245771111",  # no leading zero
    "+1 415 555 0100",  # not a Japanese number
])
def test_normalize_phone_rejects(raw):
    with pytest.raises(ValidationError) as info:
        people.normalize_phone(raw)
    assert "invalid_phone" == _code(info)


@pytest.mark.parametrize("digits, expected", [
    ("09012345678", "090-1234-5678"),  # mobile 3-4-4
    ("0245771111", "024-577-1111"),  # Fukushima landline
    ("0312345678", "03-1234-5678"),  # Tokyo 2-4-4
    (None, ""),  # no phone on record
])
def test_format_phone(digits, expected):
    assert expected == people.format_phone(digits)


# --- kana and names ----------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("やまだ たろう", "やまだ たろう"),  # already hiragana
    ("ヤマダ タロウ", "やまだ たろう"),  # katakana becomes hiragana
    ("ヤマダ　タロウ", "やまだ たろう"),  # a full-width space becomes one ASCII space
    ("ﾔﾏﾀﾞ ﾀﾛｳ", "やまだ たろう"),  # half-width katakana with a separate voicing mark
    ("  すずき    いちろう ", "すずき いちろう"),  # runs of spaces collapse, ends are trimmed
    ("オーノ ユウ", "おーの ゆう"),  # the long-vowel mark is kept
    ("ヴァン", "ゔぁん"),  # small kana and ヴ
])
def test_normalize_kana(raw, expected):
    assert expected == people.normalize_kana(raw)


@pytest.mark.parametrize("raw", [
    "山田 太郎",  # kanji
    "Yamada Taro",  # Latin
    "やまだ たろう1",  # a digit
    "",  # empty
    "　",  # only a full-width space
    None,  # missing
])
def test_normalize_kana_rejects(raw):
    with pytest.raises(ValidationError) as info:
        people.normalize_kana(raw)
    assert "invalid_kana" == _code(info)


@pytest.mark.parametrize("name", [
    "山田 太郎",  # ordinary kanji
    "髙橋 一郎",  # 髙 (hashigo-daka), not folded to 高
    "山﨑 花子",  # 﨑 (tatsu-saki, U+FA11), not folded to 崎
    "𠮷田 次郎",  # 𠮷 outside the BMP
    "John Smith",  # Latin
    "Nguyễn Thị Lan",  # Latin with diacritics
    "さとう はなこ",  # kana only
])
def test_names_are_accepted_unchanged(name):
    assert name == people.normalize_name(name)


@pytest.mark.parametrize("raw", [
    "",  # empty
    "   ",  # spaces only
    None,  # missing
    "あ" * 101,  # absurdly long
])
def test_normalize_name_rejects(raw):
    with pytest.raises(ValidationError) as info:
        people.normalize_name(raw)
    assert "invalid_name" == _code(info)


def test_resident_with_variant_kanji_is_stored_as_typed(make_resident, catalog_db):
    rid = make_resident(name_kanji="髙﨑 𠮷子", name_kana="タカサキ ヨシコ")
    row = people.get_resident(catalog_db, rid)
    assert "髙﨑 𠮷子" == row["name_kanji"]
    assert "たかさき よしこ" == row["name_kana"]


# --- adding residents ------------------------------------------------------------------

def test_add_resident_records_consent_and_source(catalog_db):
    before = timeutil.now()
    rid = people.add_resident(catalog_db, name_kanji="伊達 花子", name_kana="だて はなこ",
                              phone="024-577-1111", birth_year=1950, district="梁川町", device="らくらくスマホ",
                              topics_wanted=["line", "basics", "line"], source="paper", actor="staff:1")
    row = people.get_resident(catalog_db, rid)
    assert "paper" == row["source"]
    assert "paper" == row["consent_channel"]
    assert before <= timeutil.parse(row["consent_at"]) <= timeutil.now()
    assert row["consent_at"].endswith("+09:00")
    assert "0245771111" == row["phone"]
    assert "梁川" == row["district"]
    assert "rakuraku" == row["device"]
    assert ["basics", "line"] == row["topics_wanted"]
    created = _audit(catalog_db, "create", "resident", rid)
    assert 1 == len(created)
    assert "staff:1" == created[0]["actor"]


def test_add_resident_without_consent(catalog_db):
    rid = people.add_resident(catalog_db, name_kanji="伊達 次郎", name_kana="だて じろう", source="counter",
                              consent=False)
    row = people.get_resident(catalog_db, rid)
    assert (None, None) == (row["consent_at"], row["consent_channel"])
    assert "counter" == row["source"]


@pytest.mark.parametrize("field, value, code", [
    ("source", "fax", "invalid_source"),  # not one of the intake channels
    ("district", "東京", "invalid_district"),  # not a district of Date City
    ("device", "blackberry", "invalid_device"),  # unknown device
    ("phone", "12345", "invalid_phone"),  # bad phone
    ("name_kana", "山田", "invalid_kana"),  # kanji as furigana
    ("name_kanji", "  ", "invalid_name"),  # blank name
])
def test_add_resident_validation(catalog_db, field, value, code):
    fields = {"name_kanji": "伊達 三郎", "name_kana": "だて さぶろう", "source": "phone", field: value}
    with pytest.raises(ValidationError) as info:
        people.add_resident(catalog_db, **fields)
    assert code == _code(info)
    assert 0 == catalog_db.conn.execute("SELECT count(*) FROM residents").fetchone()[0]


@pytest.mark.parametrize("value, expected", [
    (1950, 1950),  # an int
    ("1938", 1938),  # a string
    ("１９４５", 1945),  # full-width digits from a form
    (1900, 1900),  # lower bound
    ("", None),  # not given
    (None, None),  # not given
])
def test_birth_year_accepted(make_resident, catalog_db, value, expected):
    rid = make_resident(birth_year=value)
    assert expected == people.get_resident(catalog_db, rid)["birth_year"]


@pytest.mark.parametrize("value", [
    1899,  # before the range
    "abc",  # not a number
    "昭和25",  # an era year is not converted
    "1950.5",  # not an integer
])
def test_birth_year_rejected(make_resident, value):
    with pytest.raises(ValidationError) as info:
        make_resident(birth_year=value)
    assert "invalid_birth_year" == _code(info)


def test_birth_year_in_the_future_is_rejected(make_resident):
    import datetime as dt
    with pytest.raises(ValidationError) as info:
        make_resident(birth_year=dt.date.today().year + 1)
    assert "invalid_birth_year" == _code(info)


def test_update_resident_normalises_and_audits(make_resident, catalog_db):
    rid = make_resident()
    row = people.update_resident(catalog_db, rid, actor="staff:2", phone="０２４－５７７－２２２２", needs=" 補聴器 ")
    assert ("0245772222", "補聴器") == (row["phone"], row["needs"])
    assert 1 == len(_audit(catalog_db, "update", "resident", rid))
    with pytest.raises(ValidationError) as info:
        people.update_resident(catalog_db, rid, actor="staff:2", source="web")
    assert "invalid_value" == _code(info)


def test_find_residents_by_kana_either_script_and_by_phone(make_resident, catalog_db):
    rid = make_resident(name_kana="さとう はなこ", phone="024-577-3333")
    make_resident(name_kana="すずき いちろう")
    assert [rid] == [r["id"] for r in people.find_residents(catalog_db, "サトウ")]
    assert [rid] == [r["id"] for r in people.find_residents(catalog_db, "577-3333")]


# --- duplicates ----------------------------------------------------------------------

def test_duplicate_by_phone_in_different_formats(make_resident, catalog_db):
    a = make_resident(name_kana="やまだ たろう", phone="090-1111-2222")
    b = make_resident(name_kana="やまだ じろう", phone="０９０（１１１１）２２２２")
    found = people.duplicate_candidates(catalog_db, b)
    assert [a] == [r["id"] for r in found]
    assert ["phone"] == found[0]["reasons"]


def test_duplicate_by_kana_and_birth_year(make_resident, catalog_db):
    a = make_resident(name_kana="ヤマダ タロウ", birth_year=1948, phone=None)
    b = make_resident(name_kana="やまだ　たろう", birth_year=1948, phone=None)
    found = people.duplicate_candidates(catalog_db, b)
    assert [a] == [r["id"] for r in found]
    assert ["kana_birth_year"] == found[0]["reasons"]
    assert [{"keep_id": a, "other_id": b, "reason": "kana_birth_year"}] == people.all_duplicate_pairs(catalog_db)


def test_same_kana_different_birth_year_is_not_a_duplicate(make_resident, catalog_db):
    make_resident(name_kana="やまだ たろう", birth_year=1948, phone=None)
    b = make_resident(name_kana="やまだ たろう", birth_year=1952, phone=None)
    assert [] == people.duplicate_candidates(catalog_db, b)
    assert [] == people.all_duplicate_pairs(catalog_db)


def test_erased_residents_are_not_duplicates_of_each_other(make_resident, catalog_db):
    # erasure blanks the kana key; two blanks with the same birth year are not one person
    a = make_resident(name_kana="こう", birth_year=1950)
    b = make_resident(name_kana="おつ", birth_year=1950)
    people.delete_resident(catalog_db, a, actor="staff")
    people.delete_resident(catalog_db, b, actor="staff")
    assert [] == people.all_duplicate_pairs(catalog_db)
    assert [] == people.duplicate_candidates(catalog_db, b)


def test_duplicate_candidates_for_a_paper_form(make_resident, catalog_db):
    a = make_resident(name_kana="さとう はなこ", birth_year=1950, phone="024-577-4444")
    found = people.duplicate_candidates(catalog_db, phone="０２４ ５７７ ４４４４")
    assert [a] == [r["id"] for r in found]
    found = people.duplicate_candidates(catalog_db, name_kana="サトウ ハナコ", birth_year=1950)
    assert [a] == [r["id"] for r in found]
    assert [] == people.duplicate_candidates(catalog_db, name_kana="サトウ ハナコ", birth_year=1951)


# --- merging ------------------------------------------------------------------------

def _bookings_of(db, resident_id):
    return {r["id"]: r for r in db.query("SELECT * FROM bookings WHERE resident_id = ?", [resident_id])}


def test_merge_moves_every_booking(make_session, make_resident, catalog_db):
    s1, s2, s3 = make_session(day=1), make_session(day=2), make_session(day=3)
    keep = make_resident(phone="090-0000-0001")
    other = make_resident(phone=None, birth_year=1950, district="霊山", topics_wanted=["line"], needs="杖")
    b1 = bookings.book_seat(catalog_db, s1, keep, source="phone", actor="staff")["booking_id"]
    b2 = bookings.book_seat(catalog_db, s2, other, source="paper", actor="staff")["booking_id"]
    b3 = bookings.book_seat(catalog_db, s3, other, source="paper", actor="staff")["booking_id"]
    bookings.cancel_booking(catalog_db, b3, actor="staff")  # history moves too

    result = people.merge_residents(catalog_db, keep, other, actor="staff:1")

    assert 2 == result["bookings_moved"]
    assert [] == result["released"]
    assert {b1, b2, b3} == set(_bookings_of(catalog_db, keep))
    assert {} == _bookings_of(catalog_db, other)
    merged = people.get_resident(catalog_db, other)
    assert keep == merged["merged_into"]
    kept = people.get_resident(catalog_db, keep)
    # gaps filled from the duplicate, existing values kept
    assert ("09000000001", 1950, "霊山", ["line"], "杖") == (
        kept["phone"], kept["birth_year"], kept["district"], kept["topics_wanted"], kept["needs"])
    assert 1 == len(_audit(catalog_db, "merge", "resident", keep))
    # the merged record is gone from lists and cannot be booked
    assert [keep] == [r["id"] for r in people.list_residents(catalog_db)]
    with pytest.raises(NotFound) as info:
        bookings.book_seat(catalog_db, s2, other, source="phone", actor="staff")
    assert "resident_not_found" == _code(info)


def test_merge_clash_keeps_the_better_booking_and_promotes(make_session, make_resident, catalog_db):
    sid = make_session(seats=2)
    keep, other, third = make_resident(), make_resident(), make_resident()
    kb = bookings.book_seat(catalog_db, sid, keep, source="phone", actor="staff")
    ob = bookings.book_seat(catalog_db, sid, other, source="phone", actor="staff")
    tb = bookings.book_seat(catalog_db, sid, third, source="phone", actor="staff")
    assert ("confirmed", "confirmed", "waitlisted") == (kb["status"], ob["status"], tb["status"])

    result = people.merge_residents(catalog_db, keep, other, actor="staff:1")

    rows = _bookings_of(catalog_db, keep)
    assert {kb["booking_id"], ob["booking_id"]} == set(rows)
    statuses = sorted(r["status"] for r in rows.values())
    assert ["cancelled", "confirmed"] == statuses
    assert [ob["booking_id"]] == result["released"]
    # the seat held by the duplicate went to the waitlist
    assert "confirmed" == bookings.get_booking(catalog_db, tb["booking_id"])["status"]
    assert [] == bookings.waitlist(catalog_db, sid)


def test_merge_clash_confirmed_beats_waitlisted(make_session, make_resident, catalog_db):
    sid = make_session(seats=1)
    first, other, keep, last = (make_resident() for _ in range(4))
    bookings.book_seat(catalog_db, sid, first, source="phone", actor="staff")  # takes the seat
    kb = bookings.book_seat(catalog_db, sid, keep, source="phone", actor="staff")  # waitlist 1
    lb = bookings.book_seat(catalog_db, sid, last, source="phone", actor="staff")  # waitlist 2
    # move the duplicate's booking into the seat: it becomes the better one
    catalog_db.conn.execute("UPDATE bookings SET resident_id = ? WHERE resident_id = ?", [other, first])
    catalog_db.conn.commit()

    result = people.merge_residents(catalog_db, keep, other, actor="staff:1")

    rows = _bookings_of(catalog_db, keep)
    live = [r for r in rows.values() if r["status"] != "cancelled"]
    assert ["confirmed"] == [r["status"] for r in live]
    assert [kb["booking_id"]] == result["released"]
    assert "cancelled" == rows[kb["booking_id"]]["status"]
    # the waitlist behind the released place closes up
    assert [(lb["booking_id"], 1)] == [(r["id"], r["position"]) for r in bookings.waitlist(catalog_db, sid)]


@pytest.mark.parametrize("keep_status, other_status, live_owner", [
    ("attended", "confirmed", "keep"),  # attendance is the better record
    ("confirmed", "attended", "other"),  # whichever side holds it
    ("no_show", "waitlisted", "keep"),  # a no-show still beats a waitlist place
])
def test_merge_clash_ranking(make_session, make_resident, catalog_db, keep_status, other_status, live_owner):
    sid = make_session(seats=5)
    keep, other = make_resident(), make_resident()
    ids = {}
    for who, rid, status in (("keep", keep, keep_status), ("other", other, other_status)):
        ids[who] = bookings.book_seat(catalog_db, sid, rid, source="phone", actor="staff")["booking_id"]
        position = 1 if status == "waitlisted" else None
        catalog_db.conn.execute("UPDATE bookings SET status = ?, position = ? WHERE id = ?",
                                [status, position, ids[who]])
    catalog_db.conn.commit()
    people.merge_residents(catalog_db, keep, other, actor="staff:1")
    rows = _bookings_of(catalog_db, keep)
    loser = "other" if live_owner == "keep" else "keep"
    assert "cancelled" == rows[ids[loser]]["status"]
    assert (keep_status if live_owner == "keep" else other_status) == rows[ids[live_owner]]["status"]


def test_merge_with_itself_or_twice(make_resident, catalog_db):
    a, b = make_resident(), make_resident()
    with pytest.raises(ValidationError) as info:
        people.merge_residents(catalog_db, a, a, actor="staff")
    assert "same_resident" == _code(info)
    people.merge_residents(catalog_db, a, b, actor="staff")
    with pytest.raises(DateCommunityError) as info:
        people.merge_residents(catalog_db, a, b, actor="staff")
    assert "resident_not_found" == _code(info)


# --- access, export and erasure -----------------------------------------------------------

def test_get_resident_with_actor_is_audited(make_resident, catalog_db):
    rid = make_resident()
    people.get_resident(catalog_db, rid)
    assert [] == _audit(catalog_db, "view", "resident", rid)
    people.get_resident(catalog_db, rid, actor="staff:7")
    rows = _audit(catalog_db, "view", "resident", rid)
    assert ["staff:7"] == [r["actor"] for r in rows]


def test_get_unknown_resident(catalog_db):
    with pytest.raises(NotFound) as info:
        people.get_resident(catalog_db, 999)
    assert "resident_not_found" == _code(info)


def test_export_resident_includes_bookings_and_is_audited(make_session, make_resident, catalog_db):
    sid = make_session()
    rid = make_resident(name_kanji="伊達 輸出")
    ref = bookings.book_seat(catalog_db, sid, rid, source="phone", actor="staff")["reference"]
    data = people.export_resident(catalog_db, rid, actor="staff:3")
    assert "伊達 輸出" == data["name_kanji"]
    assert [(ref, "basics")] == [(b["reference"], b["topic"]) for b in data["bookings"]]
    rows = _audit(catalog_db, "export", "resident", rid)
    assert ["staff:3"] == [r["actor"] for r in rows]


def test_delete_resident_blanks_data_and_frees_seats(make_session, make_resident, catalog_db):
    s1, s2 = make_session(day=1, seats=1), make_session(day=2)
    rid = make_resident(name_kanji="消去 太郎", phone="090-9999-0000", needs="車椅子", topics_wanted=["line"])
    waiting = make_resident()
    mine = bookings.book_seat(catalog_db, s1, rid, source="phone", actor="staff")
    theirs = bookings.book_seat(catalog_db, s1, waiting, source="phone", actor="staff")
    other = bookings.book_seat(catalog_db, s2, rid, source="phone", actor="staff")
    assert "waitlisted" == theirs["status"]

    people.delete_resident(catalog_db, rid, actor="staff:4")

    row = people.get_resident(catalog_db, rid)
    assert (None, "", [], None) == (row["phone"], row["needs"], row["topics_wanted"], row["consent_at"])
    assert "消去" not in row["name_kanji"]
    for b in (mine, other):
        assert "cancelled" == bookings.get_booking(catalog_db, b["booking_id"])["status"]
    assert "confirmed" == bookings.get_booking(catalog_db, theirs["booking_id"])["status"]
    assert 1 == len(_audit(catalog_db, "erase", "resident", rid))
    # nothing personal is left anywhere in the audit log
    details = " ".join(r["detail"] for r in catalog_db.query("SELECT detail FROM audit_log"))
    assert "09099990000" not in details and "消去" not in details


# --- volunteers ---------------------------------------------------------------------

def test_add_volunteer(catalog_db):
    vid = people.add_volunteer(catalog_db, name="ボランティア 一号", email=" helper@example.org ",
                               name_kana="ボランティア", phone="090-2222-3333", skills=["line", "basics"],
                               devices=["iPhone", "らくらくスマホ"], languages=["ja", "en"])
    vol = people.get_volunteer(catalog_db, vid)
    assert "helper@example.org" == vol["email"]
    assert "ぼらんてぃあ" == vol["name_kana"]
    assert "09022223333" == vol["phone"]
    assert ["basics", "line"] == vol["skills"]
    assert ["iphone", "rakuraku"] == vol["devices"]
    assert vol["active"] is True
    assert vol["calendar_token"]
    assert 1 == len(_audit(catalog_db, "create", "volunteer", vid))


@pytest.mark.parametrize("email", [
    "dup@example.org",  # identical
    "DUP@Example.ORG",  # differs only in case
])
def test_duplicate_volunteer_email(make_volunteer, email):
    make_volunteer(email="dup@example.org")
    with pytest.raises(RuleViolation) as info:
        make_volunteer(email=email)
    assert "duplicate_email" == _code(info)


@pytest.mark.parametrize("email", [
    "",  # empty
    "no-at-sign.example.org",  # no @
    "a@b",  # no dot in the domain
    "two words@example.org",  # a space
])
def test_invalid_volunteer_email(make_volunteer, email):
    with pytest.raises(ValidationError) as info:
        make_volunteer(email=email)
    assert "invalid_email" == _code(info)


def test_deactivate_volunteer(make_volunteer, catalog_db):
    vid = make_volunteer()
    token = people.get_volunteer(catalog_db, vid)["calendar_token"]
    people.set_volunteer_active(catalog_db, vid, False, actor="staff")
    assert people.get_volunteer(catalog_db, vid)["active"] is False
    assert [] == [v["id"] for v in people.list_volunteers(catalog_db, active_only=True)]
    assert [vid] == [v["id"] for v in people.list_volunteers(catalog_db)]
    assert 1 == len(_audit(catalog_db, "deactivate", "volunteer", vid))
    # an inactive volunteer's feed link stops working
    with pytest.raises(NotFound):
        people.volunteer_by_token(catalog_db, token)


def test_renew_calendar_token(make_volunteer, catalog_db):
    vid = make_volunteer()
    old = people.get_volunteer(catalog_db, vid)["calendar_token"]
    assert vid == people.volunteer_by_token(catalog_db, old)["id"]
    new = people.renew_calendar_token(catalog_db, vid, actor="staff")
    assert old != new
    assert new == people.get_volunteer(catalog_db, vid)["calendar_token"]
    assert vid == people.volunteer_by_token(catalog_db, new)["id"]
    with pytest.raises(NotFound) as info:
        people.volunteer_by_token(catalog_db, old)
    assert "volunteer_not_found" == _code(info)


@pytest.mark.parametrize("token", [
    "",  # empty
    None,  # missing
    "not-a-token",  # unknown
])
def test_volunteer_by_bad_token(make_volunteer, catalog_db, token):
    make_volunteer()
    with pytest.raises(NotFound):
        people.volunteer_by_token(catalog_db, token)


def test_audit_entries_filter(make_resident, catalog_db):
    rid = make_resident()
    people.get_resident(catalog_db, rid, actor="staff:9")
    rows = audit.entries(catalog_db, entity="resident", entity_id=rid, actor="staff:9")
    assert ["view"] == [r["action"] for r in rows]
    assert {} == rows[0]["detail"]


@pytest.mark.parametrize("raw, expected", [
    ("ジョン・スミス", "じょん・すみす"),  # katakana foreign name with the middle dot
])
def test_kana_accepts_the_middle_dot(raw, expected):
    assert expected == people.normalize_kana(raw)


@pytest.mark.parametrize("raw", [
    "०९०१२३४५६७८",  # Devanagari digits are digits to str.isdigit(), not to a phone
    "0९०१२३४५६७८",  # mixed: starts with an ASCII zero
])
def test_phone_rejects_non_ascii_digits(raw):
    with pytest.raises(ValidationError):
        people.normalize_phone(raw)
