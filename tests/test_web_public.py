"""The public pages for residents: home, class list and detail, web sign-up, cancelling."""
from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from conftest import BASE
from date_community import i18n, people, timeutil
from date_community.scheduling import bookings, sessions

LANGS = [
    # (?lang= value, <html lang>, a word of the basics topic title in that language)
    ("ja", "ja", "スマホの基本操作"),
    ("en", "en", "Smartphone basics"),
    ("zh_Hans", "zh-Hans", "智能手机基本操作"),
    ("zh_Hant", "zh-Hant", "智慧型手機基本操作"),
    ("ko", "ko", "스마트폰 기본 조작"),
]

FORM = {"name_kanji": "伊達 花子", "name_kana": "だて はなこ", "phone": "090-1234-5678", "birth_year": "1948",
        "device": "rakuraku", "filled_by": "self", "consent": "yes"}


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True)).group(1)


def count(db, table: str) -> int:
    return next(iter(db.query(f"SELECT count(*) AS n FROM {table}")))["n"]


@pytest.fixture
def soon(make_session):
    """Sessions a few days from the real today: the public pages list from now on."""
    offset = (timeutil.now().date() - BASE.date()).days

    def factory(*, days: int = 3, **fields):
        return make_session(day=offset + days, **fields)

    return factory


@pytest.fixture
def fill(catalog_db, make_resident):
    """Book ``n`` other residents into a session (by phone, as staff would)."""
    def factory(sid: int, n: int) -> list[dict]:
        return [bookings.book_seat(catalog_db, sid, make_resident(), source="phone", actor="staff:1")
                for _ in range(n)]

    return factory


# --- languages -------------------------------------------------------------------------

@pytest.mark.parametrize("lang, expected_lang, title", LANGS)
@pytest.mark.parametrize("path", ["/", "/classes", "/classes/{sid}"])
def test_pages_render_in_each_language(client, soon, lang, expected_lang, title, path):
    sid = soon(topic="basics")
    response = client.get(path.format(sid=sid) + f"?lang={lang}")
    assert 200 == response.status_code
    assert expected_lang == html_lang(response)
    assert title in text(response)


@pytest.mark.parametrize("header, expected", [
    ("zh-TW,zh;q=0.9", "zh-Hant"),  # Taiwan: traditional characters
    ("zh-HK", "zh-Hant"),  # Hong Kong: traditional characters
    ("zh-CN,en;q=0.5", "zh-Hans"),  # mainland: simplified characters
    ("ko-KR,ko;q=0.9", "ko"),  # Korean with a region
    ("en-GB,en;q=0.8", "en"),  # English with a region
    ("fr-FR", "ja"),  # nothing supported: the default
])
def test_accept_language_chooses_the_page_language(client, soon, header, expected):
    sid = soon()
    response = client.get(f"/classes/{sid}", headers={"Accept-Language": header})
    assert expected == html_lang(response)
    assert "Accept-Language" in response.headers["Vary"]


def test_japanese_detail_shows_the_era_date(client, soon):
    sid = soon(days=5)
    day = (timeutil.now() + dt.timedelta(days=5)).date()
    era, year = i18n.era_year(day)
    page = text(client.get(f"/classes/{sid}?lang=ja"))
    assert era == "令和"
    assert f"令和{year}年（{day.year}年）{day.month}月{day.day}日" in page


def test_english_detail_shows_the_western_date(client, soon):
    sid = soon(days=5)
    day = (timeutil.now() + dt.timedelta(days=5)).date()
    page = text(client.get(f"/classes/{sid}?lang=en"))
    assert f"{day:%A}, {day:%B} {day.day}, {day.year}" in page
    assert "令和" not in page


# --- home --------------------------------------------------------------------------------

def test_home_lists_upcoming_classes_and_the_ways_to_sign_up(client, soon, app):
    sid = soon(topic="line", venue="yanagawa-chuo")
    page = text(client.get("/?lang=en"))
    assert f'href="/classes/{sid}"' in page
    assert "Getting started with LINE" in page and "Yanagawa Central Community Hall" in page
    assert app.config["OFFICE_PHONE"] in page and 'href="tel:0245771111"' in page
    assert "community hall" in page  # paper forms
    assert 'class="cards large-print"' in page
    assert 'href="/cancel"' in page


def test_home_without_classes_says_so(client):
    assert "There are no classes planned at the moment." in text(client.get("/?lang=en"))


# --- class list --------------------------------------------------------------------------

def test_class_list_shows_each_upcoming_class_with_its_seats(client, soon, fill):
    open_sid = soon(days=2, seats=5, topic="maps", venue="city-hall")
    fill(open_sid, 2)
    full_sid = soon(days=3, seats=1, topic="line")
    fill(full_sid, 3)  # one seat, two on the waiting list
    page = text(client.get("/classes?lang=en"))
    assert "3 seats left" in page
    assert "Full – waiting list: 2 people" in page
    assert f'href="/classes/{open_sid}"' in page and f'href="/classes/{full_sid}"' in page
    assert "Date City Hall (Silk Hall)" in page and "Using a map app" in page
    assert "10:00–11:30" in page
    assert "2 classes found" in page


def test_class_list_leaves_out_cancelled_past_and_far_away_classes(client, soon, catalog_db):
    shown = soon(days=10, topic="maps")
    cancelled = soon(days=11, topic="line")
    sessions.cancel_session(catalog_db, cancelled, actor="staff:1")
    past = soon(days=-2, topic="etax")
    far = soon(days=120, topic="cashless")
    page = text(client.get("/classes?lang=en"))
    assert f'href="/classes/{shown}"' in page
    for sid in (cancelled, past, far):
        assert f'href="/classes/{sid}"' not in page


def test_class_list_in_japanese_uses_the_era_date(client, soon):
    soon(days=4)
    day = (timeutil.now() + dt.timedelta(days=4)).date()
    assert i18n.era_date(day) in text(client.get("/classes?lang=ja"))


@pytest.mark.parametrize("query, expected", [
    ("district=梁川", {"yanagawa"}),  # one area
    ("topic=maps", {"hall-maps"}),  # one topic
    ("district=保原&topic=line", {"hall-line"}),  # both together
    ("district=保原", {"hall-maps", "hall-line"}),  # an area with two classes
    ("district=Paris&topic=nope", {"yanagawa", "hall-maps", "hall-line"}),  # unknown values: no filter
    ("", {"yanagawa", "hall-maps", "hall-line"}),  # no filter at all
])
def test_class_list_filters(client, soon, query, expected):
    ids = {
        "yanagawa": soon(days=2, venue="yanagawa-chuo", topic="line"),
        "hall-maps": soon(days=3, venue="city-hall", topic="maps"),
        "hall-line": soon(days=4, venue="city-hall", topic="line"),
    }
    page = text(client.get(f"/classes?lang=en&{query}"))
    shown = {name for name, sid in ids.items() if f'href="/classes/{sid}"' in page}
    assert expected == shown


def test_filter_form_is_labelled_and_keeps_the_choice(client, soon):
    soon()
    page = text(client.get("/classes?lang=en&district=梁川&topic=maps"))
    assert '<form method="get" action="/classes"' in page
    assert '<label for="district">Area</label>' in page and '<label for="topic">Topic</label>' in page
    assert re.search(r'<option value="梁川"\s+selected>Yanagawa area</option>', page)
    assert re.search(r'<option value="maps"\s+selected>Using a map app</option>', page)
    assert '<button type="submit" class="button">Show classes</button>' in page
    assert "No classes match your choice" in page


# --- class detail ------------------------------------------------------------------------

def test_detail_shows_everything_a_resident_needs(client, soon, fill):
    sid = soon(seats=6, walkin_seats=1, loaner_phones=3, bring="老眼鏡", topic="maps", venue="city-hall",
               kind="consultation")
    fill(sid, 1)
    response = client.get(f"/classes/{sid}?lang=en")
    page = text(response)
    assert 200 == response.status_code
    assert "<h1>Using a map app</h1>" in page
    assert "<title>Using a map app – " in page
    assert "One-to-one consultation" in page
    assert "10:00–11:30" in page
    assert "Date City Hall (Silk Hall)" in page and "福島県伊達市保原町字舟橋180" in page
    assert 'href="https://www.openstreetmap.org/?mlat=37.81914&mlon=140.56297#map=17/37.81914/140.56297"' in page
    assert "address only" not in page
    assert "Please ask the desk about steps, lifts, toilets and parking." in page  # no barrier-free notes yet
    assert "4 seats left" in page  # 6 seats, 1 kept for walk-ins, 1 booked
    assert "1 more seat is kept for people who come on the day" in page
    assert "3 phones you can borrow during the class." in page
    assert "老眼鏡" in page
    assert f'<a class="button" href="/classes/{sid}/signup">Sign up</a>' in page


def test_detail_of_a_place_without_coordinates_has_no_map(client, soon):
    sid = soon(venue="hobara-chuo")
    page = text(client.get(f"/classes/{sid}?lang=en"))
    assert "openstreetmap.org" not in page
    assert "The location is shown by address only." in page
    assert "Hobara Central Community Hall" in page


def test_japanese_detail_uses_japanese_names(client, soon):
    sid = soon(venue="city-hall", kind="drop-in")
    page = text(client.get(f"/classes/{sid}?lang=ja"))
    assert "伊達市役所本庁舎（シルクホール）" in page
    assert "<h1>スマホの基本操作（電源・ボタン・画面の操作）</h1>" in page


def test_detail_of_a_full_class_offers_the_waiting_list(client, soon, fill):
    sid = soon(seats=2)
    fill(sid, 5)
    page = text(client.get(f"/classes/{sid}?lang=en"))
    assert "This class is full. If you sign up, you join the waiting list." in page
    assert "3 people are on the waiting list now." in page
    assert f'<a class="button" href="/classes/{sid}/signup">Join the waiting list</a>' in page


@pytest.mark.parametrize("fields, cancel, message", [
    ({"signup_closes_at": "yesterday"}, False, "Sign-up on the web has closed for this class."),  # window ended
    ({}, True, "This class has been cancelled."),  # called off
    ({"signup_opens_at": "next week"}, False, "Sign-up opens on"),  # not open yet
])
def test_detail_without_sign_up_says_why_and_gives_the_phone(client, soon, app, catalog_db, fields, cancel,
                                                            message):
    now = timeutil.now()
    when = {"yesterday": now - dt.timedelta(days=1), "next week": now + dt.timedelta(days=7)}
    sid = soon(days=10, **{k: when[v] for k, v in fields.items()})
    if cancel:
        sessions.cancel_session(catalog_db, sid, actor="staff:1")
    page = text(client.get(f"/classes/{sid}?lang=en"))
    assert message in page
    assert f"/classes/{sid}/signup" not in page
    assert f'href="tel:0245771111">{app.config["OFFICE_PHONE"]}</a>' in page


def test_unknown_class_is_a_404_page(client):
    response = client.get("/classes/99999?lang=en")
    assert 404 == response.status_code
    assert "Page not found" in text(response)
    assert 404 == client.get("/classes/99999/signup").status_code


# --- sign-up -----------------------------------------------------------------------------

def test_signup_form_has_labelled_fields_and_the_privacy_notice(client, soon):
    sid = soon()
    page = text(client.get(f"/classes/{sid}/signup?lang=en"))
    for name in ("name_kanji", "name_kana", "phone", "birth_year", "consent"):
        assert f'<label for="{name}">' in page
    assert '<form method="post" novalidate>' in page
    assert "Raku-Raku smartphone (らくらくスマホ)" in page
    assert "Who is filling in this form?" in page
    for heading in ("What we collect", "What we use it for", "Who sees it", "How long we keep it", "Your rights"):
        assert f"<dt>{heading}</dt>" in page
    assert "City staff only." in page and "see, correct or delete" in page
    # the notice comes before the box that agrees to it
    assert page.index("How we use this information") < page.index('id="consent"')


def test_signup_confirmed_redirects_to_a_result_page(client, soon, catalog_db):
    sid = soon(bring="老眼鏡", venue="city-hall")
    response = client.post(f"/classes/{sid}/signup?lang=en", data=FORM)
    assert 302 == response.status_code
    assert "/signup/done" == response.headers["Location"]

    booking = next(iter(catalog_db.query("SELECT * FROM bookings")))
    resident = people.get_resident(catalog_db, booking["resident_id"])
    assert ("confirmed", "web", "web") == (booking["status"], booking["source"], booking["entered_by"])
    assert ("伊達 花子", "09012345678", 1948, "rakuraku", "web") == (
        resident["name_kanji"], resident["phone"], resident["birth_year"], resident["device"],
        resident["consent_channel"])

    done = client.get("/signup/done?lang=en")
    page = text(done)
    assert 200 == done.status_code
    assert f'<p class="reference">{booking["reference"]}</p>' in page
    assert "<h1>You are booked</h1>" in page
    assert "Date City Hall (Silk Hall)" in page and "老眼鏡" in page
    assert '<button type="button" class="button secondary" data-print hidden>' in page
    assert "no-store" == done.headers["Cache-Control"]
    assert "伊達" not in done.request.url and booking["reference"] not in done.request.url


def test_signup_on_a_full_class_shows_the_waitlist_position(client, soon, fill, catalog_db):
    sid = soon(seats=1)
    fill(sid, 3)  # one seat taken, two already waiting
    client.post(f"/classes/{sid}/signup", data=FORM)
    page = text(client.get("/signup/done?lang=en"))
    assert "<h1>You are on the waiting list</h1>" in page
    assert "You are number 3 on the waiting list. We will phone you if a seat becomes free." in page
    assert [3] == [b["position"] for b in catalog_db.query(
        "SELECT position FROM bookings WHERE source = 'web'")]


def test_family_member_signs_up_for_a_resident(client, soon, catalog_db):
    sid = soon()
    client.post(f"/classes/{sid}/signup", data={**FORM, "filled_by": "family"})
    booking = next(iter(catalog_db.query("SELECT * FROM bookings")))
    assert ("web:family", "confirmed") == (booking["entered_by"], booking["status"])
    assert "伊達 花子" == people.get_resident(catalog_db, booking["resident_id"])["name_kanji"]


def test_who_is_filling_in_is_optional(client, soon, catalog_db):
    sid = soon()
    form = {k: v for k, v in FORM.items() if k not in ("filled_by", "device", "birth_year")}
    assert 302 == client.post(f"/classes/{sid}/signup", data=form).status_code
    booking = next(iter(catalog_db.query("SELECT * FROM bookings")))
    resident = people.get_resident(catalog_db, booking["resident_id"])
    assert ("web", None, "none") == (booking["entered_by"], resident["birth_year"], resident["device"])


@pytest.mark.parametrize("field, value, message", [
    ("name_kanji", "", "Enter the name."),  # empty name
    ("name_kana", "Hanako", "Enter the furigana in hiragana or katakana."),  # furigana in letters
    ("name_kana", "", "Enter the furigana in hiragana or katakana."),  # no furigana
    ("phone", "12-34", "Enter a phone number with 10 or 11 digits, like 024-577-1111."),  # too short
    ("phone", "", "Enter a phone number with 10 or 11 digits, like 024-577-1111."),  # no phone
    ("birth_year", "1850", "Enter the year of birth as four digits, like 1950."),  # too early
    ("birth_year", "せんきゅう", "Enter the year of birth as four digits, like 1950."),  # not a number
    ("consent", None, "Tick the box to agree to how we use this information."),  # no consent
])
def test_each_validation_error_keeps_the_input(client, soon, catalog_db, field, value, message):
    sid = soon()
    data = {**FORM, "filled_by": "family"}
    if value is None:
        del data[field]
    else:
        data[field] = value
    response = client.post(f"/classes/{sid}/signup?lang=en", data=data)
    page = text(response)
    assert 200 == response.status_code
    assert "<title>Error: " in page
    assert "There is a problem" in page
    assert f'<a href="#{field}">{message}</a>' in page  # in the summary, linked to the field
    assert f'id="{field}-error"' in page
    assert "no-store" == response.headers["Cache-Control"]
    # everything typed is still there
    for name in ("name_kanji", "name_kana", "phone", "birth_year"):
        assert f'name="{name}" type="{"tel" if name == "phone" else "text"}" value="{data[name]}"' in page
    assert re.search(r'name="device" value="rakuraku" checked', page)
    assert re.search(r'name="filled_by" value="family" checked', page)
    assert ('id="consent" name="consent" value="yes" checked' in page) == (field != "consent")
    assert (0, 0) == (count(catalog_db, "residents"), count(catalog_db, "bookings"))


def test_several_errors_are_listed_in_form_order(client, soon):
    sid = soon()
    page = text(client.post(f"/classes/{sid}/signup?lang=en",
                            data={"name_kanji": "", "name_kana": "x", "phone": "1"}))
    start = page.index("There is a problem")
    summary = page[start:page.index("</ul>", start)]
    links = re.findall(r'href="#([a-z_]+)"', summary)
    assert ["name_kanji", "name_kana", "phone", "consent"] == links


def test_booking_twice_shows_the_library_error(client, soon, catalog_db):
    sid = soon()
    client.post(f"/classes/{sid}/signup", data=FORM)
    response = client.post(f"/classes/{sid}/signup?lang=en", data=FORM)
    page = text(response)
    assert "There is a problem" in page
    assert "This person is already booked on this class." in page
    assert 'value="伊達 花子"' in page
    assert 1 == count(catalog_db, "bookings")


def test_overlapping_booking_shows_the_library_error(client, soon):
    first = soon(days=6, venue="city-hall")
    second = soon(days=6, venue="yanagawa-chuo")  # the same hours elsewhere
    client.post(f"/classes/{first}/signup", data=FORM)
    page = text(client.post(f"/classes/{second}/signup?lang=en", data=FORM))
    assert "This person is already booked on another class at the same time." in page


def test_signup_page_of_a_closed_class_has_no_form(client, soon, catalog_db):
    sid = soon(signup_closes_at=timeutil.now() - dt.timedelta(hours=1))
    page = text(client.get(f"/classes/{sid}/signup?lang=en"))
    assert "<form method=\"post\"" not in page
    assert "Sign-up on the web has closed for this class." in page
    # a form posted anyway gets the library's answer
    page = text(client.post(f"/classes/{sid}/signup?lang=en", data=FORM))
    assert "Sign-up for this class has closed. Please phone the office." in page
    assert 0 == count(catalog_db, "residents")


def test_result_page_without_a_sign_up_goes_to_the_class_list(client):
    response = client.get("/signup/done")
    assert (302, "/classes") == (response.status_code, response.headers["Location"])


def test_public_pages_without_personal_data_may_be_cached(client, soon):
    sid = soon()
    for path in ("/", "/classes", f"/classes/{sid}"):
        assert "no-store" != client.get(path).headers.get("Cache-Control")


# --- cancelling --------------------------------------------------------------------------

def _sign_up(client, sid, **changes) -> str:
    """Sign up through the web and return the reference shown on the result page."""
    client.post(f"/classes/{sid}/signup", data={**FORM, **changes})
    return re.search(r'<p class="reference">([A-Z0-9-]+)</p>', text(client.get("/signup/done"))).group(1)


def test_cancel_with_reference_and_phone_promotes_the_waitlist(client, soon, fill, catalog_db):
    sid = soon(seats=1)
    reference = _sign_up(client, sid)
    waiting = fill(sid, 1)[0]
    assert "waitlisted" == waiting["status"]

    # typed loosely: lower case, spaces, a different phone layout
    response = client.post("/cancel?lang=en", data={"reference": reference.lower().replace("-", " "),
                                                    "phone": "09012345678"})
    assert (302, "/cancel/done") == (response.status_code, response.headers["Location"])
    statuses = {b["reference"]: b["status"] for b in catalog_db.query("SELECT * FROM bookings")}
    assert {reference: "cancelled", waiting["reference"]: "confirmed"} == statuses

    done = client.get("/cancel/done?lang=en")
    page = text(done)
    assert f"Booking {reference} is cancelled." in page
    assert "no-store" == done.headers["Cache-Control"]


@pytest.mark.parametrize("change", [
    {"phone": "090-0000-0000"},  # right reference, wrong phone
    {"reference": "AAA-AAA"},  # a reference that does not exist
])
def test_wrong_reference_or_phone_is_refused_and_keeps_the_input(client, soon, catalog_db, change):
    sid = soon()
    reference = _sign_up(client, sid)
    data = {"reference": reference, "phone": "090-1234-5678", **change}
    response = client.post("/cancel?lang=en", data=data)
    page = text(response)
    assert 200 == response.status_code
    assert "We could not find a booking with that reference number and phone number." in page
    assert f'value="{data["reference"]}"' in page and f'value="{data["phone"]}"' in page
    assert "confirmed" == next(iter(catalog_db.query("SELECT status FROM bookings")))["status"]


@pytest.mark.parametrize("field, message", [
    ("reference", "Enter your booking reference, like K7M-4PX."),  # reference left empty
    ("phone", "Enter the phone number you gave when you signed up."),  # phone left empty
])
def test_cancel_form_requires_both_fields(client, field, message):
    data = {"reference": "K7M-4PX", "phone": "09012345678", field: ""}
    page = text(client.post("/cancel?lang=en", data=data))
    assert f'<a href="#{field}">{message}</a>' in page


def test_cancelling_twice_says_it_is_already_cancelled(client, soon):
    reference = _sign_up(client, soon())
    client.post("/cancel", data={"reference": reference, "phone": FORM["phone"]})
    page = text(client.post("/cancel?lang=en", data={"reference": reference, "phone": FORM["phone"]}))
    assert "This booking has already been cancelled." in page


def test_repeated_wrong_guesses_are_throttled(client, soon, app):
    reference = _sign_up(client, soon())
    for _ in range(5):  # webapp/throttle.py CANCEL_PER_REFERENCE: 5 a minute
        assert 200 == client.post("/cancel", data={"reference": reference, "phone": "0900000000"}).status_code
    # even the right answer waits now
    response = client.post("/cancel?lang=en", data={"reference": reference, "phone": FORM["phone"]})
    assert 429 == response.status_code
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many wrong attempts" in text(response)


def test_cancel_form_is_labelled(client):
    page = text(client.get("/cancel?lang=en"))
    assert '<label for="reference">Booking reference</label>' in page
    assert '<label for="phone">Phone number</label>' in page
    assert 'data-confirm="Are you sure you want to cancel this booking?"' in page
