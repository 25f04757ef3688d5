"""Walking tours: stops, legs, totals, texts and the next stop from a site."""
from __future__ import annotations

import pytest

from date_community import audit
from date_community.errors import NotFound, ValidationError
from date_community.tourism import geo, sites, tours

# Three points due north of each other, 0.01° of latitude (≈1112 m) apart.
POINTS = {"a": (37.80, 140.56), "b": (37.81, 140.56), "c": (37.82, 140.56)}
LEG = round(geo.haversine_m(37.80, 140.56, 37.81, 140.56))


def add_site(db, slug, n, *, quality="sourced", texts=None):
    lat, lon = POINTS.get(slug, (37.83, 140.56))
    if quality == "missing":
        lat = lon = None
    sites.save_site(db, {
        "slug": slug, "code": f"DT{n:02d}", "marker_id": n, "district": "保原", "sort_order": n,
        "lat": lat, "lon": lon, "coord_quality": quality,
        "texts": texts or {"ja": {"name": f"{slug}の名前"}, "en": {"name": f"{slug} name"}},
    }, actor="test")


@pytest.fixture
def three(db):
    for n, slug in enumerate(["a", "b", "c"], start=1):
        add_site(db, slug, n)
    return db


def tour_data(slug="walk", stops=("a", "b", "c"), sort_order=1, **texts):
    return {"slug": slug, "sort_order": sort_order, "sites": list(stops),
            "texts": texts or {"ja": {"name": "歴史散歩", "summary": "町を歩きます。", "version": 2},
                               "en": {"name": "History walk", "summary": "A walk.", "version": 2},
                               "ko": {"name": "역사 산책", "version": 1}}}


def test_leg_distances_and_times(three):
    tours.save_tour(three, tour_data(), actor="test")
    tour = tours.get_tour(three, "walk", "en")
    assert LEG == 1112
    assert [(s["position"], s["slug"], s["leg_m"], s["leg_min"]) for s in tour["stops"]] == [
        (1, "a", LEG, 17), (2, "b", LEG, 17), (3, "c", None, None)]
    assert tour["stops"][0]["name"] == "a name" and tour["stops"][0]["code"] == "DT01"
    assert (tour["total_m"], tour["total_min"], tour["complete"]) == (2 * LEG, 34, True)
    assert (tour["name"], tour["text_locale"], tour["fallback"], tour["stale"]) == ("History walk", "en", False, False)


def test_leg_to_a_site_without_coordinate_is_unknown(db):
    add_site(db, "a", 1)
    add_site(db, "x", 2, quality="missing")
    add_site(db, "c", 3)
    tours.save_tour(db, tour_data(stops=("a", "x", "c")), actor="test")
    tour = tours.get_tour(db, "walk", "ja")
    assert [s["leg_m"] for s in tour["stops"]] == [None, None, None]
    assert tour["stops"][1]["map_ok"] is False and tour["stops"][1]["coord_quality"] == "missing"
    assert (tour["total_m"], tour["complete"]) == (0, False)


def test_tour_text_fallback_and_staleness(three):
    tours.save_tour(three, tour_data(), actor="test")
    ko = tours.get_tour(three, "walk", "ko")
    assert (ko["name"], ko["text_locale"], ko["stale"]) == ("역사 산책", "ko", True)
    zh = tours.get_tour(three, "walk", "zh_Hant")
    assert (zh["name"], zh["text_locale"], zh["fallback"]) == ("History walk", "en", True)
    states = {s["locale"]: s["state"] for s in tours.tour_translation_status(three, "walk")}
    assert states == {"ja": "current", "en": "current", "zh_Hans": "missing", "zh_Hant": "missing", "ko": "stale"}


def test_tour_text_edits_follow_the_version_rule(three):
    tours.save_tour(three, tour_data(), actor="test")
    tours.tour_update_text(three, "walk", "ja", {"summary": "新しい説明です。"}, actor="staff:1")
    states = {s["locale"]: s["state"] for s in tours.tour_translation_status(three, "walk")}
    assert states["en"] == "stale" and tours.tour_texts(three, "walk")["ja"]["version"] == 3
    tours.tour_update_text(three, "walk", "en", {"summary": "A new walk."}, actor="staff:1")
    states = {s["locale"]: s["state"] for s in tours.tour_translation_status(three, "walk")}
    assert states["en"] == "current"
    with pytest.raises(ValidationError) as info:
        tours.tour_update_text(three, "walk", "ja", {"name": ""}, actor="staff:1")
    assert info.value.code == "site_text_missing"


@pytest.mark.parametrize("data, code, field", [
    (tour_data(stops=("a", "nowhere")), "tour_unknown_site", "sites"),       # stop that is not a site
    (tour_data(stops=()), "invalid_value", "sites"),                         # no stops at all
    (tour_data(stops=("a", "b", "a")), "invalid_value", "sites"),            # a stop twice
    (tour_data(en={"name": "x"}), "site_text_missing", "texts.ja"),          # no Japanese text
    (tour_data(slug="Walk 1"), "site_invalid_slug", "slug"),                 # bad slug
    (tour_data(ja={"name": "x"}, xx={"name": "y"}), "invalid_locale", "texts.xx"),  # unknown language
])
def test_save_tour_validation(three, data, code, field):
    with pytest.raises(ValidationError) as info:
        tours.save_tour(three, data, actor="test")
    assert (info.value.code, info.value.params["field"]) == (code, field)
    assert three.execute("SELECT count(*) FROM tourism_tours").fetchone()[0] == 0


def test_save_tour_is_an_upsert_and_set_stops(three):
    first = tours.save_tour(three, tour_data(), actor="test")
    assert tours.save_tour(three, tour_data(stops=("c", "a")), actor="test") == first
    assert [s["slug"] for s in tours.get_tour(three, "walk", "ja")["stops"]] == ["c", "a"]
    tours.set_tour_stops(three, "walk", ["b", "c"], actor="staff:1")
    assert [s["slug"] for s in tours.get_tour(three, "walk", "ja")["stops"]] == ["b", "c"]
    assert audit.entries(three, entity="tourism_tour")[0]["action"] == "set_stops"
    with pytest.raises(ValidationError):
        tours.set_tour_stops(three, "walk", ["b", "zzz"], actor="staff:1")
    assert [s["slug"] for s in tours.get_tour(three, "walk", "ja")["stops"]] == ["b", "c"]


def test_list_tours(three):
    tours.save_tour(three, tour_data(slug="second", stops=("c", "b"), sort_order=2), actor="test")
    tours.save_tour(three, tour_data(slug="first", stops=("a", "b", "c"), sort_order=1), actor="test")
    listed = tours.list_tours(three, "en")
    assert [(t["slug"], t["name"], t["stop_count"], t["total_m"], t["complete"]) for t in listed] == [
        ("first", "History walk", 3, 2 * LEG, True), ("second", "History walk", 2, LEG, True)]


def test_unknown_tour(three):
    with pytest.raises(NotFound) as info:
        tours.get_tour(three, "nope", "ja")
    assert info.value.code == "tour_not_found"


def test_next_on_tour(three):
    add_site(three, "d", 4)  # on no tour
    tours.save_tour(three, tour_data(slug="later", stops=("b", "a"), sort_order=5), actor="test")
    tours.save_tour(three, tour_data(slug="walk", stops=("a", "b", "c"), sort_order=1), actor="test")
    nxt = tours.next_on_tour(three, "b", "en")  # b is on both: the first tour by sort order wins
    assert nxt == {"tour_slug": "walk", "tour_name": "History walk", "slug": "c", "name": "c name",
                   "name_locale": "en", "distance_m": LEG, "bearing_deg": pytest.approx(0, abs=1e-6), "compass": "N", "map_ok": True}
    back = tours.next_on_tour(three, "a", "ja")
    assert (back["slug"], back["name"], back["compass"]) == ("b", "bの名前", "N")
    assert tours.next_on_tour(three, "c", "en") is None   # last stop
    assert tours.next_on_tour(three, "d", "en") is None   # on no tour


def test_next_on_tour_without_coordinates(db):
    add_site(db, "a", 1)
    add_site(db, "x", 2, quality="missing")
    tours.save_tour(db, tour_data(stops=("a", "x")), actor="test")
    nxt = tours.next_on_tour(db, "a", "ko")
    assert (nxt["slug"], nxt["distance_m"], nxt["bearing_deg"], nxt["compass"], nxt["map_ok"]) == (
        "x", None, None, None, False)
    assert nxt["name"] == "x name"  # ko → en
