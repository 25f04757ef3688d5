"""Tourist sites: validation, fallback order, staleness, geo helpers."""
from __future__ import annotations

import math

import pytest

from date_community import audit
from date_community.errors import NotFound, ValidationError
from date_community.tourism import geo, sites


def site_data(slug="kyu-kameoka", code="DT04", marker_id=4, **over):
    data = {
        "slug": slug, "code": code, "marker_id": marker_id, "categories": ["history", "museum"],
        "district": "保原", "sort_order": 40, "lat": 37.81953, "lon": 140.56956, "coord_quality": "sourced",
        "coord_source": "test", "address": "福島県伊達市保原町", "opens": "09:00", "closes": "17:00",
        "fee_free": False, "sources": ["https://example.jp/a"],
        "images": [{"file": "images/a.jpg", "licence": "CC BY 4.0", "credit": "伊達市",
                    "alt": {"ja": "外観", "en": "The house"}}],
        "texts": {
            "ja": {"name": "旧亀岡家住宅", "kana": "きゅうかめおかけじゅうたく", "summary": "明治の洋館です。",
                   "body_md": "## 見どころ\n\n和洋折衷の建物です。", "hours": "9:00〜17:00", "version": 2},
            "en": {"name": "Former Kameoka Residence", "summary": "A Meiji-era house.", "version": 2},
        },
    }
    data.update(over)
    return data


@pytest.fixture
def site(db):
    sites.save_site(db, site_data(), actor="test")
    return "kyu-kameoka"


# --- geo -------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, metres, tolerance", [
    ((0, 0), (1, 0), 6371008.8 * math.pi / 180, 0.01),          # one degree of latitude on the sphere
    ((0, 0), (0, 90), 6371008.8 * math.pi / 2, 0.01),           # a quarter of the equator
    ((35.681236, 139.767125), (34.702485, 135.495951), 403_000, 1_000),  # Tokyo Station → Osaka Station ≈ 403 km
    ((51.5007, -0.1246), (40.6892, -74.0445), 5_575_000, 5_000),  # Big Ben → Statue of Liberty ≈ 5,575 km
    ((37.8, 140.5), (37.8, 140.5), 0, 0.001),                   # same point
])
def test_haversine_known_distances(a, b, metres, tolerance):
    assert geo.haversine_m(*a, *b) == pytest.approx(metres, abs=tolerance)


@pytest.mark.parametrize("b, bearing", [
    ((1, 0), 0),      # due north
    ((0, 1), 90),     # due east on the equator
    ((-1, 0), 180),   # due south
    ((0, -1), 270),   # due west
])
def test_bearing_cardinal_directions(b, bearing):
    assert geo.bearing_deg(0, 0, *b) == pytest.approx(bearing, abs=1e-9)


@pytest.mark.parametrize("bearing, point", [
    (0, "N"), (22.4, "N"), (22.5, "NE"), (45, "NE"), (90, "E"), (135, "SE"), (180, "S"),
    (225, "SW"), (270, "W"), (315, "NW"), (337.4, "NW"), (337.5, "N"), (359.9, "N"), (360, "N"),
])  # sector edges: each point covers ±22.5°
def test_compass_points(bearing, point):
    assert geo.compass(bearing) == point


@pytest.mark.parametrize("metres, minutes", [
    (0, 0),        # no walk
    (1, 1),        # any distance takes at least a minute
    (4000, 60),    # 4 km/h
    (1000, 15),    # exactly 15 minutes
    (1001, 16),    # rounded up, never down
])
def test_walking_minutes(metres, minutes):
    assert geo.walking_minutes(metres) == minutes


# --- saving and validation ---------------------------------------------------------

def test_save_and_get_site_round_trip(db, site):
    got = sites.get_site(db, site, "en")
    assert got["code"] == "DT04" and got["marker_id"] == 4
    assert got["categories"] == ["history", "museum"] and got["sources"] == ["https://example.jp/a"]
    assert got["fee_free"] is False and got["map_ok"] is True
    assert got["name"] == "Former Kameoka Residence" and got["text_locale"] == "en" and got["fallback"] is False
    assert got["kana"] == "きゅうかめおかけじゅうたく"
    assert got["names"] == {"ja": "旧亀岡家住宅", "en": "Former Kameoka Residence"}
    assert got["available_locales"] == ["ja", "en"]
    assert got["images"] == [{"file": "images/a.jpg", "licence": "CC BY 4.0", "credit": "伊達市",
                              "source_url": "", "alt": "The house"}]
    ja = sites.get_site(db, site, "ja")
    assert ja["body_html"] == "<h2>見どころ</h2>\n<p>和洋折衷の建物です。</p>"


def test_save_is_an_upsert_by_slug(db, site):
    first = sites.get_site(db, site, "ja")["id"]
    again = sites.save_site(db, site_data(district="霊山", texts={"ja": {"name": "新しい名前"}}), actor="test")
    assert again == first
    got = sites.get_site(db, site, "en")
    assert got["district"] == "霊山" and got["name"] == "新しい名前" and got["fallback"] is True
    assert db.execute("SELECT count(*) FROM tourism_sites").fetchone()[0] == 1


@pytest.mark.parametrize("override, code, field", [
    ({"slug": "Bad Slug"}, "site_invalid_slug", "slug"),                            # spaces and capitals
    ({"code": "DT7"}, "site_invalid_code", "code"),                                 # one digit
    ({"code": "XX07"}, "site_invalid_code", "code"),                                # wrong prefix
    ({"district": "東京"}, "invalid_district", "district"),                          # not a Date City district
    ({"lat": 91}, "invalid_coordinates", "lat"),                                    # latitude out of range
    ({"lon": -181}, "invalid_coordinates", "lon"),                                  # longitude out of range
    ({"lat": None}, "invalid_coordinates", "lat"),                                  # sourced without latitude
    ({"coord_quality": "missing"}, "invalid_coordinates", "lat"),                   # coordinate next to "missing"
    ({"coord_quality": "guessed"}, "invalid_coordinates", "coord_quality"),         # unknown quality
    ({"texts": {"en": {"name": "x"}}}, "site_text_missing", "texts.ja"),            # no Japanese text
    ({"texts": {"ja": {"name": " "}}}, "site_text_missing", "texts.ja.name"),       # Japanese name blank
    ({"texts": {"ja": {"name": "x"}, "fr": {"name": "y"}}}, "invalid_locale", "texts.fr"),  # unsupported language
    ({"marker_id": 64}, "invalid_value", "marker_id"),                              # beyond AR.js barcode 3x3 range
    ({"categories": ["castle"]}, "invalid_value", "categories"),                    # unknown category
    ({"opens": "9時"}, "invalid_time", "opens"),                                    # not HH:MM
    ({"texts": {"ja": {"name": "x", "version": 1}, "en": {"name": "y", "version": 2}}},
     "invalid_value", "texts.en.version"),                                          # translates a future version
])
def test_save_site_validation(db, override, code, field):
    with pytest.raises(ValidationError) as info:
        sites.save_site(db, site_data(**override), actor="test")
    assert info.value.code == code
    assert info.value.params["field"] == field
    assert db.execute("SELECT count(*) FROM tourism_sites").fetchone()[0] == 0


@pytest.mark.parametrize("override, field", [
    ({"code": "DT04", "marker_id": 9}, "code"),       # same sign code as another site
    ({"code": "dt-04", "marker_id": 9}, "code"),      # same code typed differently
    ({"code": "DT09", "marker_id": 4}, "marker_id"),  # same AR marker as another site
])
def test_duplicate_codes_are_refused(db, site, override, field):
    with pytest.raises(ValidationError) as info:
        sites.save_site(db, site_data(slug="other", **override), actor="test")
    assert (info.value.code, info.value.params["field"]) == ("duplicate_code", field)


def test_missing_coordinates_are_stored_honestly(db):
    sites.save_site(db, site_data(lat=None, lon=None, coord_quality="missing"), actor="test")
    got = sites.get_site(db, "kyu-kameoka", "ja")
    assert (got["lat"], got["lon"], got["coord_quality"], got["map_ok"]) == (None, None, "missing", False)


def test_approximate_coordinates_are_not_map_ok(db):
    sites.save_site(db, site_data(coord_quality="approx"), actor="test")
    assert sites.get_site(db, "kyu-kameoka", "ja")["map_ok"] is False
    assert sites.list_sites(db, "ja")[0]["map_ok"] is False


def test_unknown_site_is_not_found(db):
    with pytest.raises(NotFound) as info:
        sites.get_site(db, "nowhere", "ja")
    assert info.value.code == "site_not_found"


# --- fallback order ------------------------------------------------------------------

@pytest.mark.parametrize("have, wanted, used", [
    (["ja", "en", "zh_Hans", "zh_Hant", "ko"], "ko", "ko"),   # own language present
    (["ja", "en", "zh_Hans"], "zh_Hant", "zh_Hans"),          # Traditional → Simplified first
    (["ja", "en", "zh_Hant"], "zh_Hans", "zh_Hant"),          # Simplified → Traditional first
    (["ja", "en"], "zh_Hant", "en"),                          # then English
    (["ja", "en"], "zh_Hans", "en"),
    (["ja"], "zh_Hans", "ja"),                                # then Japanese
    (["ja", "en", "zh_Hans"], "ko", "en"),                    # Korean skips Chinese
    (["ja", "zh_Hans"], "ko", "ja"),
    (["ja"], "en", "ja"),                                     # English → Japanese
    (["ja", "ko"], "en", "ja"),
])
def test_fallback_order(db, have, wanted, used):
    texts = {loc: {"name": f"name-{loc}"} for loc in have}
    sites.save_site(db, site_data(texts=texts), actor="test")
    got = sites.get_site(db, "kyu-kameoka", wanted)
    assert got["text_locale"] == used and got["name"] == f"name-{used}"
    assert got["fallback"] is (used != wanted)
    listed = sites.list_sites(db, wanted)[0]
    assert (listed["text_locale"], listed["name"], listed["fallback"]) == (used, f"name-{used}", used != wanted)


def test_image_alt_falls_back_to_japanese(db, site):
    assert sites.get_site(db, site, "ko")["images"][0]["alt"] == "The house"  # ko → en
    sites.save_site(db, site_data(images=[{"file": "a.jpg", "alt": {"ja": "外観"}}]), actor="test")
    assert sites.get_site(db, site, "ko")["images"][0]["alt"] == "外観"


def test_invalid_locale_is_refused(db, site):
    with pytest.raises(ValidationError) as info:
        sites.get_site(db, site, "fr")
    assert info.value.code == "invalid_locale"


# --- staleness ---------------------------------------------------------------------------

def states(db, slug):
    return {s["locale"]: s["state"] for s in sites.translation_status(db, slug)}


def test_translation_status_per_locale(db):
    texts = {"ja": {"name": "a", "version": 3}, "en": {"name": "b", "version": 3},
             "zh_Hans": {"name": "c", "version": 2}}
    sites.save_site(db, site_data(texts=texts), actor="test")
    status = sites.translation_status(db, "kyu-kameoka")
    assert status == [
        {"locale": "ja", "state": "current", "version": 3, "ja_version": 3},
        {"locale": "en", "state": "current", "version": 3, "ja_version": 3},
        {"locale": "zh_Hans", "state": "stale", "version": 2, "ja_version": 3},
        {"locale": "zh_Hant", "state": "missing", "version": None, "ja_version": 3},
        {"locale": "ko", "state": "missing", "version": None, "ja_version": 3},
    ]
    assert sites.get_site(db, "kyu-kameoka", "zh_Hans")["stale"] is True
    assert sites.get_site(db, "kyu-kameoka", "zh_Hant")["stale"] is True   # its fallback zh_Hans is stale
    assert sites.get_site(db, "kyu-kameoka", "en")["stale"] is False


@pytest.mark.parametrize("fields, bumps", [
    ({"summary": "新しい要約です。"}, True),        # meaning changed
    ({"body_md": "本文を書き直しました。"}, True),
    ({"fee": "無料"}, True),                         # practical notes are translated too
    ({"kana": "きゅうかめおかけ"}, False),           # reading aid only
    ({"summary": "明治の洋館です。"}, False),        # same text saved again
])
def test_japanese_edit_makes_translations_stale(db, site, fields, bumps):
    sites.update_site_text(db, site, "ja", fields, actor="staff:1")
    ja_version = sites.site_texts(db, site)["ja"]["version"]
    assert ja_version == (3 if bumps else 2)
    assert states(db, site)["en"] == ("stale" if bumps else "current")


def test_minor_japanese_edit_keeps_translations_current(db, site):
    sites.update_site_text(db, site, "ja", {"summary": "明治時代の洋館です。"}, actor="staff:1", minor=True)
    assert sites.site_texts(db, site)["ja"]["summary"] == "明治時代の洋館です。"
    assert states(db, site)["en"] == "current"


def test_translation_edit_becomes_current(db, site):
    sites.update_site_text(db, site, "ja", {"summary": "変更"}, actor="staff:1")
    assert states(db, site)["en"] == "stale"
    sites.update_site_text(db, site, "en", {"summary": "Changed"}, actor="staff:1")
    assert states(db, site)["en"] == "current"
    assert sites.site_texts(db, site)["en"]["version"] == 3
    # a missing language is created by its first edit, already current
    sites.update_site_text(db, site, "ko", {"name": "구 가메오카가 주택"}, actor="staff:1")
    assert states(db, site)["ko"] == "current"
    rows = audit.entries(db, entity="tourism_site")
    assert [r["action"] for r in rows[:3]] == ["update_text"] * 3
    assert rows[0]["detail"]["locale"] == "ko" and rows[0]["actor"] == "staff:1"


def test_text_edit_validation(db, site):
    with pytest.raises(ValidationError) as info:
        sites.update_site_text(db, site, "ja", {"name": ""}, actor="staff:1")
    assert (info.value.code, info.value.params["field"]) == ("site_text_missing", "name")
    with pytest.raises(ValidationError) as info:
        sites.update_site_text(db, site, "de", {"name": "x"}, actor="staff:1")
    assert info.value.code == "invalid_locale"
    assert sites.site_texts(db, site)["ja"]["name"] == "旧亀岡家住宅"


# --- facts ---------------------------------------------------------------------------------

def test_update_facts_keeps_other_fields_and_audits(db, site):
    sites.update_site_facts(db, site, {"address": "新住所", "fee_free": True, "categories": ["park"]},
                            actor="staff:1")
    got = sites.get_site(db, site, "ja")
    assert (got["address"], got["fee_free"], got["categories"], got["code"]) == ("新住所", True, ["park"], "DT04")
    entry = audit.entries(db, entity="tourism_site")[0]
    assert entry["action"] == "update_facts" and entry["detail"]["fields"] == ["address", "categories", "fee_free"]


def test_update_facts_to_missing_clears_the_coordinate(db, site):
    sites.update_site_facts(db, site, {"coord_quality": "missing"}, actor="staff:1")
    got = sites.get_site(db, site, "ja")
    assert (got["lat"], got["lon"], got["map_ok"]) == (None, None, False)


@pytest.mark.parametrize("fields, code, field", [
    ({"lat": 120}, "invalid_coordinates", "lat"),          # out of range
    ({"district": "仙台"}, "invalid_district", "district"),  # not in the city
    ({"closes": "25:99"}, "invalid_time", "closes"),       # not a time
    ({"colour": "red"}, "invalid_value", "colour"),        # not a fact
])
def test_update_facts_validation(db, site, fields, code, field):
    with pytest.raises(ValidationError) as info:
        sites.update_site_facts(db, site, fields, actor="staff:1")
    assert (info.value.code, info.value.params["field"]) == (code, field)
    assert sites.get_site(db, site, "ja")["lat"] == pytest.approx(37.81953)


# --- lookups -----------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["DT04", "dt04", "dt-04", " DT 04 ", "ＤＴ０４"])  # printed, lower, hyphen, spaces, full-width
def test_site_by_code_is_forgiving(db, site, typed):
    assert sites.site_by_code(db, typed) == {"id": 1, "slug": site, "code": "DT04"}


@pytest.mark.parametrize("typed", ["DT05", "", "DT"])  # unknown, empty, incomplete
def test_site_by_code_unknown(db, site, typed):
    assert sites.site_by_code(db, typed) is None


def test_list_filters_and_categories(db, site):
    sites.save_site(db, site_data(slug="ryozen", code="DT01", marker_id=1, sort_order=10, district="霊山",
                                  categories=["nature", "hiking"]), actor="test")
    assert [s["slug"] for s in sites.list_sites(db, "ja")] == ["ryozen", "kyu-kameoka"]
    assert [s["slug"] for s in sites.list_sites(db, "ja", category="hiking")] == ["ryozen"]
    assert [s["slug"] for s in sites.list_sites(db, "ja", category="hik")] == []  # whole codes only
    assert [s["slug"] for s in sites.list_sites(db, "ja", district="保原")] == ["kyu-kameoka"]
    assert sites.category_codes(db) == ["nature", "history", "museum", "hiking"]
