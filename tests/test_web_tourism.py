"""The public tourism pages: site list, site page, tours, the map."""
from __future__ import annotations

import html
import json
import re
from urllib.parse import urlsplit

import pytest

from date_community.tourism import geo, sites, tours

# Five sites that cover every case the pages must handle:
#   castle  all five languages, sourced coordinate, opening days and hours
#   shrine  Japanese only (every other language falls back), sourced, free entry
#   lake    ja version 2, English made from version 1 (stale), approximate coordinate
#   hill    Japanese only, no coordinate
#   evil    a name, summary and body written to break out of HTML, JSON-LD and JS
CASTLE = {"ja": "見本城跡", "en": "Sample Castle Ruins", "zh_Hans": "样本城遗址", "zh_Hant": "樣本城遺址",
          "ko": "견본 성터"}
EVIL_NAME = '</script><script>alert("name")</script>`${alert(1)}'
EVIL_SUMMARY = '"><img src=x onerror=alert(2)>'
EVIL_BODY = ("<script>alert(3)</script>\n\n[click](javascript:alert(4))\n\n"
             '<a href="https://example.org" onclick="alert(5)">raw</a>')


def _site(slug, code, marker, *, quality, lat=None, lon=None, district="保原", categories=("history",),
          texts, **facts):
    data = {"slug": slug, "code": code, "marker_id": marker, "categories": list(categories), "district": district,
            "sort_order": marker * 10, "coord_quality": quality, "lat": lat, "lon": lon,
            "coord_source": "test", "address": "福島県伊達市保原町見本1", "sources": ["https://example.org/src"],
            "texts": texts}
    data.update(facts)
    return data


def _text(name, summary="", body="", version=None, **extra):
    text = {"name": name, "summary": summary, "body_md": body, **extra}
    if version is not None:
        text["version"] = version
    return text


@pytest.fixture
def tour_db(catalog_db):
    db = catalog_db
    sites.save_site(db, _site(
        "castle", "DT01", 1, quality="sourced", lat=37.8502, lon=140.5521, categories=("history", "museum"),
        open_days="月水木金土日", opens="09:00", closes="17:00", fee_free=False,
        texts={loc: _text(name, f"summary-{loc}", f"## History\n\nbody-{loc} paragraph.",
                          fee=f"fee-{loc}", hours=f"hours-{loc}")
               for loc, name in CASTLE.items()}), actor="test")
    sites.save_site(db, _site(
        "shrine", "DT02", 2, quality="sourced", lat=37.8610, lon=140.5630, district="霊山",
        categories=("shrine",), fee_free=True,
        texts={"ja": _text("見本神社", "神社の説明です。", "本文です。", access="駅から徒歩10分")}), actor="test")
    sites.save_site(db, _site(
        "lake", "DT03", 3, quality="approx", lat=37.8700, lon=140.5800, district="梁川",
        categories=("nature",),
        texts={"ja": _text("見本沼", "沼の説明。", version=2),
               "en": _text("Sample Pond", "An old translation.", version=1)}), actor="test")
    sites.save_site(db, _site(
        "hill", "DT04", 4, quality="missing", district="月舘", categories=("hiking",),
        texts={"ja": _text("見本山", "山の説明。")}), actor="test")
    sites.save_site(db, _site(
        "evil", "DT05", 5, quality="sourced", lat=37.8400, lon=140.5400, categories=("information",),
        texts={"ja": _text(EVIL_NAME, EVIL_SUMMARY, EVIL_BODY),
               "en": _text(EVIL_NAME, EVIL_SUMMARY, EVIL_BODY)}), actor="test")
    tours.save_tour(db, {"slug": "walk", "sort_order": 1, "sites": ["castle", "shrine", "hill", "lake"],
                         "texts": {"ja": {"name": "見本さんぽ", "summary": "歩きます。"},
                                   "en": {"name": "Sample Walk", "summary": "A walk."}}}, actor="test")
    return db


def body(response) -> str:
    return response.get_data(as_text=True)


def text(response) -> str:
    return html.unescape(body(response))


def json_ld(response) -> dict:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', body(response), re.S)
    assert len(blocks) == 1
    return json.loads(blocks[0])


def element_with(response, marker: str) -> str:
    """The opening tag of the first element whose attributes contain ``marker``."""
    match = re.search(r"<[a-z0-9]+[^>]*" + re.escape(marker) + r"[^>]*>", body(response))
    assert match, marker
    return match.group(0)


# --- the site list ---------------------------------------------------------------------

def test_the_list_shows_every_published_site_with_its_summary_and_kinds(tour_db, client):
    page = text(client.get("/sites?lang=en"))
    for name in ("Sample Castle Ruins", "見本神社", "Sample Pond", "見本山"):
        assert name in page
    assert "summary-en" in page
    assert "Museums" in page and "Shrines and temples" in page  # category codes as words
    assert "Places found: 5" in page


@pytest.mark.parametrize("query, expected", [
    ("category=shrine", {"shrine"}),                        # one kind
    ("category=history", {"castle"}),                       # a site with two kinds matches either
    ("district=梁川", {"lake"}),                             # one area
    ("category=nature&district=梁川", {"lake"}),             # both filters together
    ("category=nature&district=保原", set()),                # nothing matches: an empty list, not an error
    ("category=nonsense", {"castle", "shrine", "lake", "hill", "evil"}),  # an unknown value means no filter
])
def test_the_list_filters_by_kind_and_area(tour_db, client, query, expected):
    response = client.get(f"/sites?lang=en&{query}")
    assert response.status_code == 200
    linked = set(re.findall(r'<h3><a href="/sites/([a-z-]+)"', body(response)))
    assert linked == expected


def test_the_list_marks_text_shown_in_another_language(tour_db, client):
    page = body(client.get("/sites?lang=en"))
    shrine_link = element_with(client.get("/sites?lang=en"), 'href="/sites/shrine"')
    assert 'lang="ja"' in shrine_link
    castle_link = element_with(client.get("/sites?lang=en"), 'href="/sites/castle"')
    assert "lang=" not in castle_link
    assert page.count("Shown in Japanese: not yet translated.") == 2  # shrine and hill


# --- the site page ---------------------------------------------------------------------

@pytest.mark.parametrize("locale, html_lang", [
    ("ja", "ja"),            # Japanese
    ("en", "en"),            # English
    ("zh_Hans", "zh-Hans"),  # Simplified Chinese
    ("zh_Hant", "zh-Hant"),  # Traditional Chinese
    ("ko", "ko"),            # Korean
])
def test_the_site_page_is_in_the_visitors_language(tour_db, client, locale, html_lang):
    response = client.get(f"/sites/castle?lang={locale}")
    assert response.status_code == 200
    page = text(response)
    assert f'<html lang="{html_lang}">' in page
    assert re.search(r"<h1[^>]*>" + re.escape(CASTLE[locale]) + "</h1>", page)
    assert f"summary-{locale}" in page and f"body-{locale} paragraph." in page
    assert f"fee-{locale}" in page and f"hours-{locale}" in page
    assert "<h2>History</h2>" in page  # the Markdown body is rendered
    assert "09:00" in page and "17:00" in page
    assert "not yet available" not in page and 'role="note"' not in page


def test_the_site_page_lists_the_facts(tour_db, client):
    page = text(client.get("/sites/castle?lang=en"))
    assert "福島県伊達市保原町見本1" in page
    assert "Monday, Wednesday, Thursday, Friday, Saturday, and Sunday" in page
    assert "09:00–17:00" in page
    assert '<a href="https://example.org/src">' in page  # sources
    assert 'href="/sites/castle/ar"' in page  # the AR view
    assert '<a href="/map">See it on the map</a>' in page  # sourced: linked to the map
    free = text(client.get("/sites/shrine?lang=en"))
    assert "Free of charge" in free and "駅から徒歩10分" in free


@pytest.mark.parametrize("slug, locale, shown, language", [
    ("shrine", "en", "ja", "Japanese"),        # English → Japanese
    ("shrine", "ko", "ja", "Japanese"),        # Korean → (no English) → Japanese
    ("lake", "zh_Hant", "en", "English"),      # Traditional Chinese → (no Simplified) → English
])
def test_a_missing_translation_shows_the_best_other_text_with_a_note(tour_db, client, slug, locale, shown, language):
    response = client.get(f"/sites/{slug}?lang={locale}")
    page = text(response)
    assert response.status_code == 200
    assert 'role="note"' in page
    h1 = re.search(r"<h1([^>]*)>", page).group(1)
    assert f'lang="{shown}"' in h1  # the fallback text carries its real language
    body_tag = element_with(response, "data-read-aloud")
    assert f'data-lang="{shown}"' in body_tag  # and is read aloud in that language
    if locale == "en":
        assert f"This page is not yet available in English; it is shown in {language}." in page


def test_the_note_names_both_languages_in_english(tour_db, client):
    page = text(client.get("/sites/shrine?lang=en"))
    assert "This page is not yet available in English; it is shown in Japanese." in page


@pytest.mark.parametrize("locale, stale", [
    ("en", True),    # the English text was made from Japanese version 1; Japanese is at 2
    ("ja", False),   # the Japanese original is never stale
])
def test_an_old_translation_is_flagged(tour_db, client, locale, stale):
    page = text(client.get(f"/sites/lake?lang={locale}"))
    assert ("This translation may be out of date." in page) is stale


@pytest.mark.parametrize("slug, expected", [
    ("castle", {"ja", "en", "zh-Hans", "zh-Hant", "ko", "x-default"}),  # every language
    ("shrine", {"ja", "x-default"}),                                     # only the languages that exist
])
def test_hreflang_alternates_list_the_available_languages(tour_db, client, slug, expected):
    page = body(client.get(f"/sites/{slug}?lang=en"))
    links = dict(re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">', page))
    assert set(links) == expected
    assert links["x-default"] == f"/sites/{slug}"
    assert links["ja"] == f"/sites/{slug}?lang=ja"


def test_hreflang_and_json_ld_use_the_configured_public_address(tour_db, app, client):
    app.config["BASE_URL"] = "https://kanko.example.jp/"
    response = client.get("/sites/castle?lang=ko", headers={"Host": "attacker.example"})
    links = dict(re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">', body(response)))
    assert links["ko"] == "https://kanko.example.jp/sites/castle?lang=ko"
    assert json_ld(response)["url"] == "https://kanko.example.jp/sites/castle?lang=ko"
    assert "attacker.example" not in body(response)


@pytest.mark.parametrize("slug, geo_expected", [
    ("castle", (37.8502, 140.5521)),   # sourced coordinate: geo given
    ("lake", None),                    # approximate: no geo, search engines must not pin it
    ("hill", None),                    # missing
])
def test_json_ld_describes_a_tourist_attraction(tour_db, client, slug, geo_expected):
    data = json_ld(client.get(f"/sites/{slug}?lang=en"))
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "TouristAttraction"
    assert data["name"] and data["description"]
    assert data["url"] == f"/sites/{slug}?lang=en"
    if geo_expected:
        assert data["geo"] == {"@type": "GeoCoordinates", "latitude": geo_expected[0], "longitude": geo_expected[1]}
    else:
        assert "geo" not in data


def test_json_ld_has_opening_hours_fee_and_language(tour_db, client):
    castle = json_ld(client.get("/sites/castle?lang=ko"))
    assert castle["openingHours"] == "Mo,We,Th,Fr,Sa,Su 09:00-17:00"
    assert castle["isAccessibleForFree"] is False
    assert castle["inLanguage"] == "ko"
    assert castle["address"]["streetAddress"] == "福島県伊達市保原町見本1"
    shrine = json_ld(client.get("/sites/shrine?lang=ko"))
    assert shrine["isAccessibleForFree"] is True
    assert shrine["inLanguage"] == "ja"  # the text really shown
    assert "openingHours" not in shrine


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_malicious_text_renders_inert(tour_db, client, locale):
    response = client.get(f"/sites/evil?lang={locale}")
    page = body(response)
    assert response.status_code == 200
    # only our own three script elements: the JSON-LD block and two same-origin files
    # (static URLs carry ?v=<file hash>: webapp/staticfiles.py)
    assert sorted(re.sub(r'\?v=[0-9a-f]{12}"', '"', tag) for tag in re.findall(r"<script[^>]*>", page)) == sorted([
        '<script src="/static/js/app.js" defer>',
        '<script type="application/ld+json">',
        '<script src="/static/js/read_aloud.js" defer>'])
    assert "<img" not in page  # the injected tag is text, not an element
    assert not re.search(r"<[a-z][^>]*\son[a-z]+=", page)  # no event-handler attribute on any element
    assert not re.search(r"""href=["']?\s*javascript:""", page, re.I)  # written as text, never a link
    assert "&lt;script&gt;alert(" in page  # the name is shown as text
    assert json_ld(response)["name"] == EVIL_NAME  # the JSON-LD block holds it as data, intact


def test_an_unknown_site_is_a_404_in_the_visitors_language(tour_db, client):
    ja = client.get("/sites/no-such-site?lang=ja")
    assert ja.status_code == 404 and "ページが見つかりません" in text(ja)
    ko = client.get("/sites/no-such-site?lang=ko")
    assert ko.status_code == 404 and "페이지를 찾을 수 없습니다" in text(ko)
    assert client.get("/tours/no-such-tour?lang=en").status_code == 404
    assert client.get("/tours/no-such-tour/map.js").status_code == 404


def test_an_unpublished_site_is_not_shown(tour_db, client):
    sites.update_site_facts(tour_db, "hill", {"published": False}, actor="test")
    assert client.get("/sites/hill?lang=en").status_code == 404
    assert 'href="/sites/hill"' not in body(client.get("/sites?lang=en"))


def test_the_way_to_the_next_site_on_the_tour(tour_db, client):
    page = text(client.get("/sites/castle?lang=en"))
    metres = geo.haversine_m(37.8502, 140.5521, 37.8610, 140.5630)
    direction = {"NE": "north-east", "N": "north", "E": "east"}[geo.compass(
        geo.bearing_deg(37.8502, 140.5521, 37.8610, 140.5630))]
    minutes = geo.walking_minutes(round(metres))
    assert "Tour: Sample Walk" in page
    assert f"{round(metres / 1000, 1)} km, about {minutes} min on foot, towards the {direction}." in page
    assert 'href="/tours/walk"' in page
    # from the shrine the next stop has no coordinate: said in words
    shrine = text(client.get("/sites/shrine?lang=en"))
    assert "The distance is not known yet: the location is still to be surveyed." in shrine


@pytest.mark.parametrize("path", [
    "/sites/castle?lang=en",      # the next stop on the site page
    "/tours/walk?lang=en",        # the route on the tour page
    "/sites/castle/ar?lang=en",   # the next stop on the AR page
])
def test_a_stop_name_in_another_language_is_marked_with_its_lang(tour_db, client, path):
    # The shrine has only a Japanese name: a screen reader must read it as Japanese.
    page = text(client.get(path))
    assert re.search(r'<a [^>]*href="/sites/shrine(/ar)?" lang="ja">見本神社</a>', page)
    assert not re.search(r'href="/sites/castle(/ar)?" lang=', page)


@pytest.mark.parametrize("slug, note", [
    ("lake", "Approximate location: the exact position is still to be surveyed."),
    ("hill", "Not on the map yet: the location is still to be surveyed."),
])
def test_sites_without_a_sourced_coordinate_say_so_and_have_no_map_link(tour_db, client, slug, note):
    page = text(client.get(f"/sites/{slug}?lang=en"))
    assert note in page
    after_menu = page.split('class="tourism-nav"')[1].split("</nav>", 1)[1]
    assert 'href="/map"' not in after_menu and "See it on the map" not in after_menu


# --- page weight ---------------------------------------------------------------------

def _same_origin_assets(page: str) -> list[str]:
    refs = re.findall(r'<script[^>]+src="([^"]+)"', page) + \
        re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', page)
    # static URLs carry ?v=<file hash> (webapp/staticfiles.py); compare without it
    return [re.sub(r"\?v=[0-9a-f]{12}$", "", r) for r in refs if not urlsplit(r).netloc]


@pytest.mark.parametrize("slug", ["castle", "evil"])
def test_a_site_page_weighs_under_100_kb_with_its_css_and_js(tour_db, client, slug):
    response = client.get(f"/sites/{slug}?lang=ja")
    page = body(response)
    assets = _same_origin_assets(page)
    assert "/static/css/app.css" in assets and "/static/js/read_aloud.js" in assets
    total = len(response.get_data())
    for asset in assets:
        fetched = client.get(asset)
        assert fetched.status_code == 200, asset
        total += len(fetched.get_data())
        fetched.close()
    assert 10_000 < total <= 100 * 1024


# --- tours -------------------------------------------------------------------------------

def test_the_tour_list_shows_each_tour_with_its_length(tour_db, client):
    page = text(client.get("/tours?lang=en"))
    assert "Sample Walk" in page and "A walk." in page
    assert "Some distances are not known yet." in page


def test_the_tour_page_lists_the_route_in_order_with_each_leg(tour_db, client):
    page = text(client.get("/tours/walk?lang=en"))
    route = page.split('<ol class="route">')[1].split("</ol>")[0]
    order = re.findall(r'href="/sites/([a-z]+)"', route)
    assert order == ["castle", "shrine", "hill", "lake"]
    t = tours.get_tour(tour_db, "walk", "en")
    first = t["stops"][0]
    assert f"To the next stop: {round(first['leg_m'] / 1000, 1)} km, about {first['leg_min']} min on foot" in route
    assert route.count("To the next stop: the distance is not known yet.") == 2
    assert "Legs whose distance is not known yet are not counted." in page
    assert 'id="map_tour"' in page
    assert '/tours/walk/map.js?lang=en' in page


def test_the_tour_map_draws_the_stops_and_the_line(tour_db, client):
    script = body(client.get("/tours/walk/map.js?lang=en"))
    assert re.findall(r"L\.marker\(\s*\[([\d.]+), ([\d.]+)\]", script) == [("37.8502", "140.5521"),
                                                                          ("37.861", "140.563")]
    assert "L.polyline" in script and "L.circleMarker" in script


# --- the map -------------------------------------------------------------------------------

def test_the_map_page_loads_nothing_from_elsewhere(tour_db, client):
    response = client.get("/map?lang=en")
    page = body(response)
    assert response.status_code == 200
    assert not re.findall(r"https?://", page), "an external URL in the map page"
    assert not re.findall(r"""(?:src|href)=["']//""", page)
    assets = _same_origin_assets(page)
    assert "/static/vendor/leaflet/leaflet.js" in assets and "/static/vendor/leaflet/leaflet.css" in assets
    assert "/map/sites.js?lang=en" in assets
    for banned in ("jquery", "bootstrap", "awesome", "fontawesome", "cdn"):
        assert banned not in page.lower()
    assert "<style" not in page and "style=" not in page
    # the map script names only the tile server and its terms page
    script = body(client.get("/map/sites.js?lang=en"))
    hosts = {urlsplit(u).netloc for u in re.findall(r"https?://[^\"'\s)]+", script)}
    assert hosts == {"cyberjapandata.gsi.go.jp", "maps.gsi.go.jp"}
    for banned in ("jquery", "$(", "bootstrap", "awesome"):
        assert banned not in script.lower()


def test_the_map_script_has_markers_only_for_sourced_sites_in_lat_lon_order(tour_db, client):
    response = client.get("/map/sites.js?lang=en")
    assert response.mimetype == "text/javascript"
    script = body(response)
    markers = {(float(a), float(b)) for a, b in re.findall(r"L\.marker\(\s*\[([-\d.]+), ([-\d.]+)\]", script)}
    assert markers == {(37.8502, 140.5521), (37.861, 140.563), (37.84, 140.54)}  # [lat, lon]
    rings = re.findall(r"L\.circleMarker\(\s*\[([-\d.]+), ([-\d.]+)\]", script)
    assert rings == [("37.87", "140.58")]  # the approximate lake, as a dashed ring
    assert "Approximate location" in script
    assert 'id="map_sites"' not in script and 'L.map(\n                "map_sites"' in script
    assert "Sample Castle Ruins" in script and "見本山" not in script  # the hill has no coordinate


def test_the_map_script_escapes_names(tour_db, client):
    script = body(client.get("/map/sites.js?lang=en"))
    assert "</script>" not in script and "<script>" not in script
    assert "\\u003c/script\\u003e" in script  # inside JSON strings only


def test_the_list_beside_the_map_has_every_site_and_says_which_are_not_on_it(tour_db, client):
    page = text(client.get("/map?lang=en"))
    listing = page.split('class="plain-list map-sites"')[1]
    assert set(re.findall(r'href="/sites/([a-z]+)"', listing)) == {"castle", "shrine", "lake", "hill", "evil"}
    assert "Not on the map yet: the location is still to be surveyed." in listing
    assert "Approximate location: the exact position is still to be surveyed." in listing


@pytest.mark.parametrize("path, tiles", [
    ("/map?lang=en", True),          # the map: tiles allowed
    ("/tours/walk?lang=en", True),   # the tour's small map
    ("/sites/castle?lang=en", False),  # a site page: the strict default
    ("/sites?lang=en", False),       # the list
])
def test_only_map_pages_may_load_tiles(tour_db, client, path, tiles):
    csp = client.get(path).headers["Content-Security-Policy"]
    assert ("https://cyberjapandata.gsi.go.jp" in csp) is tiles
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "nonce" not in csp


def test_map_pages_keep_their_tile_policy_when_served_from_the_cache(tour_db, client):
    first = client.get("/map?lang=ja")
    second = client.get("/map?lang=ja")
    assert body(first) == body(second)
    assert "cyberjapandata" in second.headers["Content-Security-Policy"]


def test_the_sightseeing_link_is_in_the_main_menu(tour_db, client):
    page = body(client.get("/?lang=en"))
    nav = page.split('class="main-nav"')[1].split("</nav>")[0]
    assert 'href="/sites"' in nav and "Sightseeing" in nav


# --- photos ---------------------------------------------------------------------------------

@pytest.fixture
def photo_dir(tmp_path, monkeypatch):
    """A content folder of the test's own with one photo in images/."""
    folder = tmp_path / "content"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "castle-1.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "secret.txt").write_text("not a photo")
    monkeypatch.setenv("DATE_COMMUNITY_CONTENT", str(folder))
    return folder


def test_a_site_with_photos_shows_them_with_credit_licence_and_alt_text(tour_db, client, photo_dir):
    data = _site("pond", "DT06", 6, quality="sourced", lat=37.8, lon=140.5,
                 texts={"ja": _text("写真の池"), "en": _text("Photo Pond")},
                 images=[{"file": "images/castle-1.jpg", "licence": "CC BY 4.0", "credit": "伊達市",
                          "source_url": "https://example.org/photo", "alt": {"ja": "池の写真", "en": "The pond"}}])
    sites.save_site(tour_db, data, actor="test")
    page = text(client.get("/sites/pond?lang=en"))
    figure = page.split("<figure")[1].split("</figure>")[0]
    assert '<img src="/sites/photos/castle-1.jpg" alt="The pond"' in figure
    assert "Photo: 伊達市 (CC BY 4.0)" in figure and 'href="https://example.org/photo"' in figure
    assert 'alt="池の写真"' in text(client.get("/sites/pond?lang=ja"))
    photo = client.get("/sites/photos/castle-1.jpg")
    assert photo.status_code == 200 and photo.get_data().startswith(b"\xff\xd8")
    photo.close()


@pytest.mark.parametrize("path", [
    "/sites/photos/../secret.txt",        # out of images/
    "/sites/photos/%2e%2e/secret.txt",    # the same, encoded
    "/sites/photos/missing.jpg",          # not there
    "/sites/photos/castle-1.txt",         # not a photo type
])
def test_the_photo_route_serves_only_photos_in_the_images_folder(tour_db, client, photo_dir, path):
    assert client.get(path).status_code == 404


def test_a_site_without_photos_has_no_photo_section(tour_db, client):
    assert "<figure" not in body(client.get("/sites/castle?lang=en"))


def test_photos_come_from_the_apps_own_content_folder(app, photo_dir, monkeypatch):
    # With several towns on one service each app has its own CONTENT_DIR; the environment is not it.
    monkeypatch.delenv("DATE_COMMUNITY_CONTENT")
    assert app.test_client().get("/sites/photos/castle-1.jpg").status_code == 404
    app.config["CONTENT_DIR"] = str(photo_dir)
    photo = app.test_client().get("/sites/photos/castle-1.jpg")
    assert photo.status_code == 200 and photo.get_data().startswith(b"\xff\xd8")
    photo.close()
