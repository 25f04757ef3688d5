"""The AR page /sites/<slug>/ar and /api/sites/nearby.json, without a browser:
the content is there without JavaScript, the AR libraries and the camera
parameters come from this site, and only this page gets the looser CSP."""
from __future__ import annotations

import html
import json
import re
from urllib.parse import urlsplit

import pytest

from date_community.tourism import geo, marker, sites, tours
from webapp import ar, security

# Three sites: one with a sourced coordinate, one approximate, one with none.
SITES = [
    {"slug": "kyu-kameoka", "code": "DT04", "marker_id": 4, "district": "保原", "sort_order": 10,
     "lat": 37.81953, "lon": 140.56956, "coord_quality": "sourced",
     "texts": {"ja": {"name": "旧亀岡家住宅", "summary": "明治時代の擬洋風建築です。"},
               "en": {"name": "Former Kameoka Residence", "summary": "A Meiji-era house in Western style."}}},
    {"slug": "ryozen-jinja", "code": "DT03", "marker_id": 3, "district": "霊山", "sort_order": 20,
     "lat": 37.79594, "lon": 140.64989, "coord_quality": "sourced",
     "texts": {"ja": {"name": "霊山神社", "summary": "霊山のふもとの神社です。"}}},
    {"slug": "yanagawa-jo", "code": "DT08", "marker_id": 8, "district": "梁川", "sort_order": 30,
     "lat": 37.855, "lon": 140.611, "coord_quality": "approx",
     "texts": {"ja": {"name": "梁川城跡", "summary": "城跡です。"}}},
    {"slug": "takako-numa", "code": "DT07", "marker_id": None, "district": "伊達", "sort_order": 40,
     "coord_quality": "missing", "texts": {"ja": {"name": "高子沼", "summary": "沼です。"}}},
]


@pytest.fixture
def ar_db(catalog_db):
    for data in SITES:
        sites.save_site(catalog_db, dict(data), actor="test")
    tours.save_tour(catalog_db, {"slug": "hobara-walk", "sort_order": 1,
                                 "sites": ["kyu-kameoka", "ryozen-jinja", "yanagawa-jo"],
                                 "texts": {"ja": {"name": "保原と霊山めぐり", "summary": "歩いて回ります。"},
                                           "en": {"name": "Hobara and Ryozen walk", "summary": "On foot."}}},
                    actor="test")
    return catalog_db


@pytest.fixture
def ar_client(ar_db, app):
    return app.test_client()


def text_of(page: str) -> str:
    """The visible text, tags removed, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_page_shows_the_content_without_javascript(ar_client):
    page = ar_client.get("/sites/kyu-kameoka/ar?lang=en").get_data(as_text=True)
    text = text_of(page)
    assert "AR view: Former Kameoka Residence" in text
    assert "A Meiji-era house in Western style." in text
    # The next stop, with distance and direction computed from the coordinates.
    metres = geo.haversine_m(37.81953, 140.56956, 37.79594, 140.64989)
    bearing = geo.bearing_deg(37.81953, 140.56956, 37.79594, 140.64989)
    assert geo.compass(bearing) == "E"  # 霊山神社 lies east-south-east of Hobara
    assert "On the walking tour “Hobara and Ryozen walk”, the next stop is:" in text
    assert "霊山神社" in text  # shown in Japanese: it has no English text
    assert f"{metres / 1000:.1f} km to the east, about {geo.walking_minutes(metres)} minutes on foot" in text
    assert 'class="ar-arrow arrow-e"' in page
    # No script is inline; the button is there (ar.js shows it).
    assert re.search(r'<button type="button" id="ar-start" class="button" hidden>Start AR camera</button>', page)
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/ld\+json)[^>]*>", page)
    assert "style=" not in page


def test_page_passes_marker_and_local_library_urls_to_the_script(ar_client):
    page = ar_client.get("/sites/kyu-kameoka/ar?lang=en").get_data(as_text=True)
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', page))
    assert attrs["marker-id"] == "4"
    assert attrs["matrix-code-type"] == marker.MATRIX_CODE_TYPE == "4x4_BCH_13_9_3"
    assert float(attrs["pattern-ratio"]) == marker.PATTERN_RATIO
    assert urlsplit(attrs["aframe-src"]).path == "/static/vendor/aframe/aframe-v1.6.0.min.js"
    assert urlsplit(attrs["arjs-src"]).path == "/static/vendor/arjs/aframe-ar.js"
    assert urlsplit(attrs["camera-params"]).path == "/static/vendor/arjs/camera_para.dat"
    assert attrs["label-name"] == "Former Kameoka Residence"
    assert attrs["label-next"].startswith("Next: 霊山神社, ") and attrs["label-next"].endswith(" east")
    assert attrs["msg-found"] == "Marker found. The information is shown over the sign."
    assert attrs["sites-url"] == "/api/sites/nearby.json?lang=en"
    # Every script the page loads, and every library URL it hands on, is on this site.
    for url in re.findall(r'<script[^>]*src="([^"]+)"', page) + [attrs["aframe-src"], attrs["arjs-src"]]:
        assert url.startswith("/static/"), url
    assert "cdn" not in page.lower() and "raw.githack" not in page and "://" not in attrs["camera-params"]


def test_vendor_files_are_served(ar_client):
    # tools/vendor.sh puts them in place; the page is useless without them.
    for path in ar.VENDOR.values():
        response = ar_client.get("/static/" + path)
        assert response.status_code == 200, path
        assert len(response.data) > 100
        response.close()


@pytest.mark.parametrize("locale, fallback", [
    ("ja", False),   # the site's own language: no note, no lang attribute on the text
    ("ko", True),    # no Korean text: Japanese is shown, said in a note and marked lang="ja"
])
def test_text_language_and_fallback_note(ar_client, locale, fallback):
    response = ar_client.get(f"/sites/ryozen-jinja/ar?lang={locale}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'<html lang="{locale}">' in page
    assert ('<p class="lead" lang="ja">霊山のふもとの神社です。</p>' in page) is fallback
    assert ('<p class="lead">霊山のふもとの神社です。</p>' in page) is not fallback
    assert ('class="notice" role="note"' in page) is fallback
    assert 'data-label-name="霊山神社"' in page and 'data-label-lang="ja"' in page


def test_last_stop_and_missing_marker(ar_client):
    page = text_of(ar_client.get("/sites/yanagawa-jo/ar?lang=en").get_data(as_text=True))
    assert "This site is not on a walking tour, or it is the last stop." in page
    page = text_of(ar_client.get("/sites/takako-numa/ar?lang=en").get_data(as_text=True))
    assert "This site has no AR marker on its sign yet." in page
    assert "Start AR camera" not in page


def test_unplaced_sites_are_named(ar_client):
    page = ar_client.get("/sites/kyu-kameoka/ar?lang=en").get_data(as_text=True)
    section = page[page.index('id="nearby"'):]
    text = text_of(section)
    assert "Not in this list, because we do not have their exact location yet:" in text
    assert "梁川城跡" in text and "高子沼" in text
    assert "旧亀岡家住宅" not in text.split("Not in this list")[1]


@pytest.mark.parametrize("path", [
    "/sites/no-such-site/ar",      # an unknown slug
    "/sites/KYU-KAMEOKA/ar",       # slugs are exact
])
def test_unknown_site_is_404(ar_client, path):
    assert ar_client.get(path).status_code == 404


def test_csp_is_relaxed_only_on_the_ar_page(ar_client):
    ar_csp = ar_client.get("/sites/kyu-kameoka/ar").headers["Content-Security-Policy"]
    assert ar_csp == ar.AR_CSP
    directives = dict(d.strip().split(" ", 1) for d in ar_csp.split(";"))
    assert directives["script-src"] == "'self' 'unsafe-eval'"
    assert directives["style-src"] == "'self' 'unsafe-inline'"
    assert directives["connect-src"] == "'self' data:"
    # Nothing else differs from the site-wide policy.
    base = dict(d.strip().split(" ", 1) for d in security.CSP.split(";"))
    changed = {k for k in base if base[k] != directives.get(k)}
    assert changed == {"script-src", "style-src", "connect-src"}
    assert set(directives) == set(base)
    for other in ("/", "/sites/kyu-kameoka", "/api/sites/nearby.json", "/sites/no-such-site/ar"):
        csp = ar_client.get(other).headers["Content-Security-Policy"]
        assert "unsafe-eval" not in csp and "unsafe-inline" not in csp, other
    # A cached copy of the AR page still gets its policy (the header is set outside the cache).
    again = ar_client.get("/sites/kyu-kameoka/ar")
    assert again.headers["Content-Security-Policy"] == ar.AR_CSP


def test_nearby_json_places_only_sourced_coordinates(ar_client):
    response = ar_client.get("/api/sites/nearby.json?lang=en")
    assert response.status_code == 200 and response.mimetype == "application/json"
    data = json.loads(response.data)
    assert data["locale"] == "en"
    placed = {s["slug"]: s for s in data["sites"]}
    assert set(placed) == {"kyu-kameoka", "ryozen-jinja"}
    assert placed["kyu-kameoka"] == {"slug": "kyu-kameoka", "name": "Former Kameoka Residence",
                                     "url": "/sites/kyu-kameoka", "ar_url": "/sites/kyu-kameoka/ar",
                                     "lat": 37.81953, "lon": 140.56956}
    assert {(s["slug"], s["coord_quality"]) for s in data["unplaced"]} == {("yanagawa-jo", "approx"),
                                                                           ("takako-numa", "missing")}
    assert all("lat" not in s for s in data["unplaced"])


def test_location_mode_section_hands_its_texts_to_the_script(ar_client):
    page = ar_client.get("/sites/takako-numa/ar?lang=en").get_data(as_text=True)
    # Location mode does not need a marker: a site without one still offers it.
    assert re.search(r'<button type="button" id="places-start" class="button" hidden>'
                     r"Show nearby sites in the camera</button>", page)
    section = page[page.index('id="places"') - 200:page.index('id="places-title"')]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', section))
    assert attrs["radius-m"] == str(ar.PLACES_RADIUS_M) == "20000"
    assert attrs["state"] == "idle"
    # {n} is filled in by the script; every reason it may give has its text.
    assert attrs["msg-placed"] == "Sites placed in the camera view: {n}. Turn slowly to find their labels."
    assert attrs["msg-noplaces"] == "None of our sites with a known location is within 20 km of you."
    for key in ("locating", "starting", "insecure", "nocamera", "denied", "failed", "unsupported",
                "locationdenied", "locationfailed", "stopped"):
        assert attrs["msg-" + key], key
    # The live region that says how many sites were placed.
    assert '<p id="places-status" class="ar-status" role="status" aria-live="polite"></p>' in page
