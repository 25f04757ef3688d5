"""Staff pages for tourist sites and tours: translation status, editing, validation, roles."""
from __future__ import annotations

import re

import pytest

from conftest import db_snapshot
from date_community import audit
from date_community.tourism import sites, tours

JA = {"name": "旧亀岡家住宅", "kana": "きゅうかめおかけじゅうたく", "summary": "明治の洋館です。",
      "body_md": "本文です。", "version": 2}


def _site(slug, code, marker, lat, texts):
    return {"slug": slug, "code": code, "marker_id": marker, "district": "保原", "sort_order": marker,
            "categories": ["history"], "lat": lat, "lon": 140.56, "coord_quality": "sourced", "texts": texts}


@pytest.fixture
def tourism(catalog_db):
    """Two sites (one with English and Korean, one Japanese only) and a tour."""
    sites.save_site(catalog_db, _site("kyu-kameoka", "DT04", 4, 37.81, {
        "ja": JA, "en": {"name": "Former Kameoka Residence", "summary": "A Meiji house.", "version": 2},
        "ko": {"name": "구 가메오카가 주택", "version": 1}}), actor="test")
    sites.save_site(catalog_db, _site("ryozen", "DT01", 1, 37.80, {"ja": {"name": "霊山", "version": 1}}),
                    actor="test")
    tours.save_tour(catalog_db, {"slug": "walk", "sites": ["ryozen", "kyu-kameoka"], "sort_order": 1,
                                 "texts": {"ja": {"name": "歴史散歩", "version": 1},
                                           "en": {"name": "History walk", "version": 1}}}, actor="test")
    return catalog_db


@pytest.fixture(autouse=True)
def _english_pages(request):
    """Flash messages are translated when the POST is handled: keep the whole
    conversation in English for assertions on English text."""
    if "staff_client" in request.fixturenames:
        request.getfixturevalue("staff_client").set_cookie("lang", "en")


def text(response) -> str:
    """The page's visible text with tags removed and whitespace folded."""
    html = response.get_data(as_text=True)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def states(db, slug):
    return {s["locale"]: s["state"] for s in sites.translation_status(db, slug)}


# --- lists and status ----------------------------------------------------------------------

def test_site_list_shows_status_in_words(tourism, staff_client):
    html = staff_client.get("/staff/tourism/sites").get_data(as_text=True)
    assert "Former Kameoka Residence" in html and "DT04" in html
    # kyu-kameoka: ja and en current, zh missing, ko stale (made from an older Japanese version)
    kameoka = html[html.index("Former Kameoka Residence"):html.index("</tr>", html.index("Former Kameoka Residence"))]
    assert re.findall(r'translation-(\w+)">([^<]+)<', kameoka) == [
        ("current", "Up to date"), ("current", "Up to date"), ("missing", "Missing"), ("missing", "Missing"),
        ("stale", "Out of date")]


def test_site_page_shows_versions_and_links(tourism, staff_client):
    page = text(staff_client.get("/staff/tourism/sites/kyu-kameoka"))
    assert "Version 2" in page
    assert "Made from Japanese version 1 of 2" in page          # Korean
    assert "Add the Simplified Chinese text" in page and "Change the English text" in page


def test_tour_list_and_page(tourism, staff_client):
    page = text(staff_client.get("/staff/tourism/tours"))
    assert "History walk" in page and "Up to date" in page and "Missing" in page
    page = text(staff_client.get("/staff/tourism/tours/walk"))
    assert "1112 m to the next stop, about 17 minutes on foot" in page
    assert "Add the Korean text" in page


# --- editing texts ----------------------------------------------------------------------------

def test_japanese_edit_makes_other_languages_stale(tourism, staff_client):
    form = {**{k: v for k, v in JA.items() if k != "version"}, "summary": "明治時代の洋館です。"}
    response = staff_client.post("/staff/tourism/sites/kyu-kameoka/text/ja", data=form)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/staff/tourism/sites/kyu-kameoka")
    assert states(tourism, "kyu-kameoka") == {"ja": "current", "en": "stale", "zh_Hans": "missing",
                                              "zh_Hant": "missing", "ko": "stale"}
    page = text(staff_client.get("/staff/tourism/sites/kyu-kameoka/text/en"))
    assert "made from version 2 of the Japanese text, which is now at version 3" in page
    assert "明治時代の洋館です。" in page   # the Japanese is shown beside the translation
    entry = audit.entries(tourism, entity="tourism_site")[0]
    assert entry["action"] == "update_text" and entry["actor"].startswith("user:")


def test_minor_japanese_edit_keeps_translations_current(tourism, staff_client):
    form = {**{k: v for k, v in JA.items() if k != "version"}, "summary": "明治の洋館。", "minor": "yes"}
    assert staff_client.post("/staff/tourism/sites/kyu-kameoka/text/ja", data=form).status_code == 302
    assert sites.site_texts(tourism, "kyu-kameoka")["ja"]["summary"] == "明治の洋館。"
    assert states(tourism, "kyu-kameoka")["en"] == "current"


def test_translation_edit_becomes_current(tourism, staff_client):
    response = staff_client.post("/staff/tourism/sites/kyu-kameoka/text/ko",
                                 data={"name": "구 가메오카가 주택", "summary": "메이지 시대의 저택입니다."})
    assert response.status_code == 302
    assert states(tourism, "kyu-kameoka")["ko"] == "current"
    assert sites.get_site(tourism, "kyu-kameoka", "ko")["summary"] == "메이지 시대의 저택입니다."
    assert "The Korean text has been saved." in text(staff_client.get(response.headers["Location"]))


def test_missing_language_can_be_added(tourism, staff_client):
    response = staff_client.post("/staff/tourism/sites/ryozen/text/zh_Hant", data={"name": "靈山"})
    assert response.status_code == 302
    assert states(tourism, "ryozen")["zh_Hant"] == "current"
    assert sites.get_site(tourism, "ryozen", "zh_Hant")["name"] == "靈山"


@pytest.mark.parametrize("locale, message", [
    ("ja", "Enter the name in Japanese."),  # the source text needs its name
    ("en", "Enter the name."),              # so does a translation
])
def test_text_validation_errors_are_shown(tourism, staff_client, locale, message):
    before = db_snapshot_tables(tourism)
    response = staff_client.post(f"/staff/tourism/sites/kyu-kameoka/text/{locale}",
                                 data={"name": "", "summary": "typed text is kept"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "There is a problem" in html and message in html
    assert 'href="#name"' in html and 'aria-invalid="true"' in html
    assert "typed text is kept" in html
    assert db_snapshot_tables(tourism) == before


def test_markdown_body_with_script_is_stored_but_rendered_safely(tourism, staff_client):
    form = {**{k: v for k, v in JA.items() if k != "version"}, "body_md": "<script>alert(1)</script>\n\n## 見どころ"}
    assert staff_client.post("/staff/tourism/sites/kyu-kameoka/text/ja", data=form).status_code == 302
    html = sites.get_site(tourism, "kyu-kameoka", "ja")["body_html"]
    assert "<script" not in html and "<h2>見どころ</h2>" in html


# --- editing facts ------------------------------------------------------------------------------

def _facts_form(**over):
    form = {"code": "DT04", "marker_id": "4", "district": "保原", "sort_order": "40", "categories": ["history"],
            "coord_quality": "sourced", "lat": "37.81", "lon": "140.56", "address": "伊達市保原町",
            "opens": "09:00", "closes": "17:00", "sources": "https://example.jp/a\nhttps://example.jp/b",
            "published": "yes"}
    form.update(over)
    return form


def test_facts_edit_saves(tourism, staff_client):
    response = staff_client.post("/staff/tourism/sites/kyu-kameoka/facts",
                                 data=_facts_form(fee_free="yes", categories=["history", "museum"]))
    assert response.status_code == 302
    site = sites.get_site(tourism, "kyu-kameoka", "ja")
    assert (site["fee_free"], site["categories"], site["sources"], site["sort_order"]) == (
        True, ["history", "museum"], ["https://example.jp/a", "https://example.jp/b"], 40)
    assert states(tourism, "kyu-kameoka")["en"] == "current"  # facts are language-neutral


@pytest.mark.parametrize("over, field, message", [
    ({"lat": "97"}, "lat", "Enter the latitude as a number from -90 to 90"),          # out of range
    ({"coord_quality": "missing"}, "lat", "Enter the latitude as a number"),           # position with "not known"
    ({"code": "DT01"}, "code", "Another place already uses this sign code."),          # ryozen's code
    ({"code": "D4"}, "code", "Enter the sign code as DT followed by two digits"),      # malformed code
    ({"marker_id": "99"}, "marker_id", "from 0 to 63"),                                # marker out of range
    ({"opens": "9時"}, "opens", "Enter the time as hours and minutes"),               # not HH:MM
    ({"district": ""}, "district", "Choose a district."),                              # no district
])
def test_facts_validation_errors_are_shown(tourism, staff_client, over, field, message):
    before = db_snapshot_tables(tourism)
    response = staff_client.post("/staff/tourism/sites/kyu-kameoka/facts", data=_facts_form(**over))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'href="#{field}"' in html and message in html
    assert db_snapshot_tables(tourism) == before


def test_missing_position_clears_coordinates(tourism, staff_client):
    response = staff_client.post("/staff/tourism/sites/kyu-kameoka/facts",
                                 data=_facts_form(coord_quality="missing", lat="", lon=""))
    assert response.status_code == 302
    site = sites.get_site(tourism, "kyu-kameoka", "ja")
    assert (site["lat"], site["coord_quality"], site["map_ok"]) == (None, "missing", False)


# --- tours ------------------------------------------------------------------------------------------

def test_tour_stops_are_reordered(tourism, staff_client):
    response = staff_client.post("/staff/tourism/tours/walk", data={"stops": "kyu-kameoka\nryozen"})
    assert response.status_code == 302
    assert [s["slug"] for s in tours.get_tour(tourism, "walk", "ja")["stops"]] == ["kyu-kameoka", "ryozen"]


def test_tour_unknown_stop_is_shown(tourism, staff_client):
    response = staff_client.post("/staff/tourism/tours/walk", data={"stops": "kyu-kameoka\nnowhere"})
    assert response.status_code == 200
    assert "There is no place with the short name nowhere." in response.get_data(as_text=True)
    assert [s["slug"] for s in tours.get_tour(tourism, "walk", "ja")["stops"]] == ["ryozen", "kyu-kameoka"]


def test_tour_text_edits_follow_the_version_rule(tourism, staff_client):
    assert staff_client.post("/staff/tourism/tours/walk/text/ja", data={"name": "城下町散歩"}).status_code == 302
    status = {s["locale"]: s["state"] for s in tours.tour_translation_status(tourism, "walk")}
    assert status["en"] == "stale"
    page = text(staff_client.get("/staff/tourism/tours/walk/text/en"))
    assert "城下町散歩" in page and "Out of date" in page
    assert staff_client.post("/staff/tourism/tours/walk/text/en", data={"name": "Castle town walk"}).status_code == 302
    status = {s["locale"]: s["state"] for s in tours.tour_translation_status(tourism, "walk")}
    assert status["en"] == "current"


# --- who may do this --------------------------------------------------------------------------------

PAGES = ["/staff/tourism/sites", "/staff/tourism/sites/kyu-kameoka", "/staff/tourism/sites/kyu-kameoka/facts",
         "/staff/tourism/sites/kyu-kameoka/text/en", "/staff/tourism/tours", "/staff/tourism/tours/walk",
         "/staff/tourism/tours/walk/text/ko"]


def test_staff_only(tourism, client, volunteer_client, staff_client):
    # one test walking every page: the app set-up dominates the time of each test
    for url in PAGES:
        assert staff_client.get(url).status_code == 200, url
        assert volunteer_client.get(url).status_code == 403, url
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login"), url


@pytest.mark.parametrize("url", [
    "/staff/tourism/sites/kyu-kameoka/text/en",   # text
    "/staff/tourism/sites/kyu-kameoka/facts",     # facts
    "/staff/tourism/tours/walk",                  # stops
])
def test_volunteer_post_changes_nothing(tourism, volunteer_client, db_path, url):
    before = db_snapshot(db_path)
    assert volunteer_client.post(url, data={"name": "x", "code": "DT77", "stops": "ryozen"}).status_code == 403
    assert db_snapshot(db_path) == before


def test_unknown_records_are_404(tourism, staff_client):
    for url in ("/staff/tourism/sites/nowhere",               # unknown site
                "/staff/tourism/sites/kyu-kameoka/text/fr",   # unsupported language
                "/staff/tourism/tours/nowhere",               # unknown tour
                "/staff/tourism/tours/walk/text/xx"):         # unsupported language
        assert staff_client.get(url).status_code == 404, url


def test_staff_home_links_to_tourism(tourism, staff_client):
    html = staff_client.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/tourism/sites"' in html and 'href="/staff/tourism/tours"' in html


def db_snapshot_tables(db) -> dict:
    return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
            for t in ("tourism_sites", "tourism_site_texts", "tourism_tours", "tourism_tour_texts",
                      "tourism_tour_stops")}
