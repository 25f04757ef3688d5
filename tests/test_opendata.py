"""Open data: 観光施設一覧 and イベント一覧 exports, the multilingual extension file,
GeoJSON, the imports (encodings, header spellings, errors, all-or-nothing),
the web routes and the CLI."""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json

import pytest
from click.testing import CliRunner

from conftest import BASE, db_snapshot
from date_community import db as dbmod
from date_community import opendata
from date_community.cli import cli
from date_community.errors import ValidationError
from date_community.opendata import OpenDataError
from date_community.scheduling import catalog, sessions
from date_community.tourism import sites

# Typed from the recommended-dataset templates (domain notes), not imported from the code.
EXPECTED_TOURISM = [
    "都道府県コード又は市区町村コード", "NO", "都道府県名", "市区町村名", "名称", "名称_カナ", "名称_英語", "POIコード",
    "住所", "方書", "緯度", "経度", "利用可能曜日", "開始時間", "終了時間", "利用可能日時特記事項", "料金（基本）",
    "料金（詳細）", "説明", "説明_英語", "アクセス方法", "駐車場情報", "バリアフリー情報", "連絡先名称",
    "連絡先電話番号", "連絡先内線番号", "画像", "画像_ライセンス", "URL", "備考",
]
EXPECTED_EVENTS = [
    "都道府県コード又は市区町村コード", "NO", "都道府県名", "市区町村名", "イベント名", "イベント名_カナ",
    "イベント名_英語", "開始日", "終了日", "開始時間", "終了時間", "開始日時特記事項", "説明", "料金(基本)",
    "料金(詳細)", "連絡先名称", "連絡先電話番号", "連絡先内線番号", "主催者", "場所名称", "住所", "方書", "緯度",
    "経度", "アクセス方法", "駐車場情報", "定員", "参加申込終了日", "参加申込終了時間", "参加申込方法", "URL", "備考",
]
BASE_URL = "https://date.example.jp"
# Texts a CSV writer must protect: line breaks (both kinds), commas, quotes, emoji, leading "=".
TRICKY = 'Line one, with a comma\nline "two" 😀\r\n=SUM(A1) ＆ 全角'


def _site(slug, code, *, sort, lat=None, lon=None, quality="missing", texts=None, **facts):
    data = {"slug": slug, "code": code, "marker_id": int(code[2:]), "categories": ["history"], "district": "保原",
            "sort_order": sort, "lat": lat, "lon": lon, "coord_quality": quality, "coord_source": "test",
            "address": "", "address_note": "", "open_days": "", "opens": "", "closes": "", "fee_free": False,
            "texts": texts or {}}
    data.update(facts)
    return data


def site_records(rich: bool = True) -> list[dict]:
    """Three published sites (sourced, approximate, missing coordinates) and one unpublished.
    ``rich=False`` gives the same sites with Japanese texts only (an older database)."""
    kameoka_texts = {
        "ja": {"name": "旧亀岡家住宅", "kana": "きゅうかめおかけじゅうたく", "summary": "明治時代の洋風住宅です。",
               "body_md": "## 見どころ\n\n- 八角形の塔", "hours": "9:00〜17:00", "closed": "火曜日",
               "fee": "大人210円", "access": "保原総合公園内", "parking": "公園の駐車場", "barrier_free": "段差があります"},
        "en": {"name": "Former Kameoka House", "summary": "A Meiji-era house.", "body_md": "A *house*.",
               "fee": "Adults 210 yen"},
        "zh_Hans": {"name": "旧龟冈家住宅", "summary": TRICKY, "body_md": "第一段\n\n第二段, \"引号\""},
        "zh_Hant": {"name": "舊龜岡家住宅", "summary": "明治時代的住宅。"},
        "ko": {"name": "구 가메오카 가 주택", "summary": "메이지 시대 주택 🏠", "access": "공원 안, \"주차장\" 옆"},
    }
    ryozen_texts = {"ja": {"name": "霊山城跡", "summary": "山の上の城跡です。"},
                    "en": {"name": "Ryozen Castle Ruins", "summary": "Castle ruins on the mountain."}}
    if not rich:
        kameoka_texts = {"ja": {"name": "旧亀岡家住宅", "summary": "古い説明。"}}
        ryozen_texts = {"ja": ryozen_texts["ja"]}
    return [
        _site("kyu-kameoka", "DT04", sort=40, lat=37.81953, lon=140.56956, quality="sourced",
              address="福島県伊達市保原町大泉字宮脇265", address_note="保原総合公園内", open_days="月水木金土日",
              opens="09:00", closes="17:00", texts=kameoka_texts),
        _site("ryozen-jo", "DT02", sort=20, lat=37.7745, lon=140.6634, quality="approx", fee_free=True,
              district="霊山", texts=ryozen_texts),
        _site("takako-numa", "DT03", sort=30, texts={"ja": {"name": "高子沼", "kana": "たかこぬま"}}),
        _site("hidden", "DT09", sort=90, published=False, texts={"ja": {"name": "非公開の場所"}}),
    ]


@pytest.fixture
def od_db(request, catalog_db):
    for record in site_records(rich=getattr(request, "param", True)):
        sites.save_site(catalog_db, record, actor="test")
    return catalog_db


def rows_of(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def by_name(data: bytes) -> dict[str, dict[str, str]]:
    header, *rows = rows_of(data)
    return {row[header.index("名称")]: dict(zip(header, row)) for row in rows}


def load_error(call, *args, **kwargs) -> OpenDataError:
    with pytest.raises(OpenDataError) as info:
        call(*args, **kwargs)
    assert info.value.code == "opendata_invalid"
    return info.value


# --- 観光施設一覧 export -----------------------------------------------------------------------------

def test_tourism_csv_has_the_exact_header_a_bom_and_crlf_lines(od_db):
    data = opendata.export_tourism_csv(od_db, BASE_URL)
    assert data.startswith(codecs.BOM_UTF8)
    header = rows_of(data)[0]
    assert header == EXPECTED_TOURISM
    assert len(header) == 30
    text = data.decode("utf-8-sig")
    assert text.startswith("都道府県コード又は市区町村コード,NO,") and text.count("\r\n") >= 4
    assert "\n" not in text.replace("\r\n", "")  # no bare LF: no cell here holds a line break
    assert opendata.TOURISM_FILE == "072133_tourism.csv"


def test_tourism_csv_has_one_row_per_published_site_in_display_order(od_db):
    header, *rows = rows_of(opendata.export_tourism_csv(od_db, BASE_URL))
    assert [r[header.index("名称")] for r in rows] == ["霊山城跡", "高子沼", "旧亀岡家住宅"]
    assert [r[header.index("NO")] for r in rows] == ["1", "2", "3"]
    for row in rows:
        assert len(row) == 30
        assert row[0] == "072133"
        assert row[header.index("都道府県名")] == "福島県"
        assert row[header.index("市区町村名")] == "伊達市"


def test_tourism_csv_values_come_from_facts_and_texts(od_db):
    row = by_name(opendata.export_tourism_csv(od_db, BASE_URL))["旧亀岡家住宅"]
    assert row["名称_カナ"] == "きゅうかめおかけじゅうたく"
    assert row["名称_英語"] == "Former Kameoka House"
    assert row["住所"] == "福島県伊達市保原町大泉字宮脇265" and row["方書"] == "保原総合公園内"
    assert (row["緯度"], row["経度"]) == ("37.81953", "140.56956")
    assert (row["利用可能曜日"], row["開始時間"], row["終了時間"]) == ("月水木金土日", "09:00", "17:00")
    assert row["利用可能日時特記事項"] == "9:00〜17:00／休み：火曜日"
    assert (row["料金（基本）"], row["料金（詳細）"]) == ("有料", "大人210円")
    assert (row["説明"], row["説明_英語"]) == ("明治時代の洋風住宅です。", "A Meiji-era house.")
    assert (row["アクセス方法"], row["駐車場情報"], row["バリアフリー情報"]) == ("保原総合公園内", "公園の駐車場", "段差があります")
    assert row["URL"] == "https://date.example.jp/sites/kyu-kameoka"
    assert row["備考"] == ""


@pytest.mark.parametrize("name, lat, lon, note", [
    ("旧亀岡家住宅", "37.81953", "140.56956", ""),         # sourced: published, no note
    ("霊山城跡", "37.7745", "140.6634", "approximate"),    # approx: published, flagged in 備考
    ("高子沼", "", "", "surveyed"),                        # missing: empty, 備考 says to be surveyed
])
def test_coordinates_are_published_only_as_documented(od_db, name, lat, lon, note):
    row = by_name(opendata.export_tourism_csv(od_db, BASE_URL))[name]
    assert (row["緯度"], row["経度"]) == (lat, lon)
    assert note in row["備考"] and (note or row["備考"] == "")


def test_fee_basic_is_free_paid_or_unknown(od_db):
    rows = by_name(opendata.export_tourism_csv(od_db, BASE_URL))
    # free / paid with a fee text / not free but no fee known
    assert [rows[n]["料金（基本）"] for n in ("霊山城跡", "旧亀岡家住宅", "高子沼")] == ["無料", "有料", ""]


def test_the_first_image_and_its_licence_are_exported(od_db):
    record = site_records()[0]
    record["images"] = [{"file": "images/kameoka-1.jpg", "licence": "CC BY 4.0", "credit": "伊達市"},
                        {"file": "images/kameoka-2.jpg", "licence": "CC0", "credit": "伊達市"}]
    sites.save_site(od_db, record, actor="test")
    row = by_name(opendata.export_tourism_csv(od_db, BASE_URL))["旧亀岡家住宅"]
    assert row["画像"] == "https://date.example.jp/sites/photos/kameoka-1.jpg"
    assert row["画像_ライセンス"] == "CC BY 4.0"


# --- GeoJSON --------------------------------------------------------------------------------------------

def test_geojson_puts_longitude_first(od_db):
    collection = opendata.export_geojson(od_db, BASE_URL, "ja")
    assert collection["type"] == "FeatureCollection"
    feature = next(f for f in collection["features"] if f["properties"]["slug"] == "kyu-kameoka")
    assert feature["type"] == "Feature"
    assert feature["geometry"] == {"type": "Point", "coordinates": [140.56956, 37.81953]}
    lon, lat = feature["geometry"]["coordinates"]
    assert 139 < lon < 142 and 36 < lat < 39  # Date City, in that order
    assert feature["properties"]["coord_quality"] == "sourced"
    assert feature["properties"]["url"] == "https://date.example.jp/sites/kyu-kameoka"
    assert feature["properties"]["categories"] == ["history"]
    json.dumps(collection)  # serialisable as it is


def test_geojson_has_null_geometry_without_a_coordinate_and_flags_approx(od_db):
    features = {f["id"]: f for f in opendata.export_geojson(od_db, BASE_URL, "ja")["features"]}
    assert set(features) == {"kyu-kameoka", "ryozen-jo", "takako-numa"}  # unpublished left out
    assert features["takako-numa"]["geometry"] is None
    assert features["takako-numa"]["properties"]["coord_quality"] == "missing"
    assert features["ryozen-jo"]["geometry"]["coordinates"] == [140.6634, 37.7745]
    assert features["ryozen-jo"]["properties"]["coord_quality"] == "approx"


@pytest.mark.parametrize("locale, slug, name, used", [
    ("ko", "kyu-kameoka", "구 가메오카 가 주택", "ko"),      # the visitor's language exists
    ("zh_Hant", "ryozen-jo", "Ryozen Castle Ruins", "en"),  # no Chinese: English fallback
    ("en", "takako-numa", "高子沼", "ja"),                   # no English: Japanese fallback
])
def test_geojson_names_follow_the_locale_with_fallback(od_db, locale, slug, name, used):
    features = {f["id"]: f for f in opendata.export_geojson(od_db, BASE_URL, locale)["features"]}
    props = features[slug]["properties"]
    assert (props["name"], props["text_locale"]) == (name, used)
    assert props["names"]["ja"] == sites.get_site(od_db, slug, "ja")["name"]
    assert props["url"].endswith(f"/sites/{slug}?lang={locale}")


def test_geojson_refuses_an_unknown_locale(od_db):
    with pytest.raises(ValidationError) as info:
        opendata.export_geojson(od_db, BASE_URL, "fr")
    assert info.value.code == "invalid_locale"


# --- イベント一覧 export ---------------------------------------------------------------------------------

def test_events_csv_has_32_columns_and_values_from_the_session(make_session, catalog_db):
    closes = BASE + dt.timedelta(days=0, hours=8)  # 2031-04-07 17:00
    sid = make_session(day=1, hour=10, minutes=90, seats=12, walkin_seats=2, bring="スマートフォン",
                       signup_closes_at=closes)
    data = opendata.export_events_csv(catalog_db, dt.date(2031, 4, 1), dt.date(2031, 4, 30), BASE_URL)
    assert data.startswith(codecs.BOM_UTF8)
    header, *rows = rows_of(data)
    assert header == EXPECTED_EVENTS and len(header) == 32
    assert len(rows) == 1
    row = dict(zip(header, rows[0]))
    topic = catalog.get_topic(catalog_db, "basics")
    venue = catalog.get_venue(catalog_db, "city-hall")
    assert (row["都道府県コード又は市区町村コード"], row["NO"], row["都道府県名"], row["市区町村名"]) == (
        "072133", "1", "福島県", "伊達市")
    assert row["イベント名"] == topic["title_ja"] and row["イベント名_英語"] == topic["title_en"]
    assert (row["開始日"], row["終了日"], row["開始時間"], row["終了時間"]) == (
        "2031-04-08", "2031-04-08", "10:00", "11:30")
    assert row["場所名称"] == venue["name_ja"] and row["住所"] == venue["address"]
    assert (row["緯度"], row["経度"]) == (repr(venue["lat"]), repr(venue["lon"]))
    assert row["定員"] == "12"
    assert row["料金(基本)"] == "無料"
    assert (row["参加申込終了日"], row["参加申込終了時間"]) == ("2031-04-07", "17:00")
    assert row["URL"] == f"https://date.example.jp/classes/{sid}"
    assert "電話" in row["参加申込方法"] and "申込用紙" in row["参加申込方法"] and row["URL"] in row["参加申込方法"]
    assert row["連絡先電話番号"] == "024-577-1111" and row["主催者"] == "伊達市"
    assert "スマートフォン" in row["説明"] and "2席" in row["備考"]


def test_events_csv_skips_cancelled_and_out_of_range_sessions(make_session, catalog_db):
    kept = make_session(day=1)
    cancelled = make_session(day=2)
    make_session(day=40)  # after the range
    sessions.cancel_session(catalog_db, cancelled, actor="test")
    data = opendata.export_events_csv(catalog_db, dt.date(2031, 4, 8), dt.date(2031, 4, 30), BASE_URL,
                                      contact_phone="024-000-0000")
    header, *rows = rows_of(data)
    assert [r[header.index("URL")] for r in rows] == [f"https://date.example.jp/classes/{kept}"]
    assert rows[0][header.index("連絡先電話番号")] == "024-000-0000"
    assert rows[0][header.index("参加申込終了日")] == ""  # no sign-up close set


def test_events_csv_leaves_unknown_venue_coordinates_empty(make_session, catalog_db):
    make_session(day=1, venue="hobara-chuo")  # a hall whose coordinate is missing
    header, row = rows_of(opendata.export_events_csv(catalog_db, dt.date(2031, 4, 8), dt.date(2031, 4, 8), BASE_URL))
    assert (row[header.index("緯度")], row[header.index("経度")]) == ("", "")


def test_next_twelve_months_is_a_year_less_a_day():
    assert opendata.next_twelve_months(dt.date(2031, 4, 7)) == (dt.date(2031, 4, 7), dt.date(2032, 4, 6))


# --- 観光施設一覧 import ---------------------------------------------------------------------------------

def tourism_file(rows: list[dict[str, str]], header=EXPECTED_TOURISM) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in EXPECTED_TOURISM])
    return buffer.getvalue()


NEW_SITE = {"名称": "高子岡城跡", "名称_カナ": "たかこおかじょうあと", "名称_英語": "Takakooka Castle Ruins",
            "住所": "福島県伊達市保原町上保原字高子", "緯度": "37.8319", "経度": "140.5540", "利用可能曜日": "月・火・水",
            "開始時間": "9:00", "終了時間": "１７：００", "料金（基本）": "無料", "説明": "高台の城跡です。",
            "URL": "https://elsewhere.example/sites/takakooka-jo", "備考": "位置は概略です（approximate）"}
UPDATE_KAMEOKA = {"名称": "旧亀岡家住宅", "住所": "福島県伊達市保原町大泉字宮脇265", "方書": "保原総合公園の中",
                  "説明": "明治時代の洋風住宅です。", "連絡先電話番号": "024-575-0000"}


@pytest.mark.parametrize("encoding", [
    "utf-8",      # plain UTF-8
    "utf-8-sig",  # UTF-8 with BOM, as we publish
    "cp932",      # Shift_JIS as Excel on Japanese Windows saves it
    "utf-16",     # UTF-16 with BOM, seen in some published files
])
def test_import_reads_every_encoding_and_creates_and_updates(od_db, encoding):
    data = tourism_file([UPDATE_KAMEOKA, NEW_SITE]).encode(encoding)
    result = opendata.import_tourism_csv(od_db, data, actor="test")
    assert result == {"rows": 2, "created": ["takakooka-jo"], "updated": ["kyu-kameoka"], "unchanged": 0}
    new = sites.get_site(od_db, "takakooka-jo", "ja")
    assert (new["name"], new["kana"], new["names"]["en"]) == ("高子岡城跡", "たかこおかじょうあと", "Takakooka Castle Ruins")
    assert (new["lat"], new["lon"], new["coord_quality"]) == (37.8319, 140.554, "approx")
    assert (new["open_days"], new["opens"], new["closes"], new["fee_free"]) == ("月火水", "09:00", "17:00", True)
    assert new["district"] == "保原" and new["code"] == "DT01"  # the first free sign code
    old = sites.get_site(od_db, "kyu-kameoka", "ja")
    assert (old["address_note"], old["contact_phone"]) == ("保原総合公園の中", "024-575-0000")
    assert old["summary"] == "明治時代の洋風住宅です。"  # unchanged cell: the Japanese version stays
    assert sites.translation_status(od_db, "kyu-kameoka")[1]["state"] == "current"


def test_import_accepts_half_width_brackets_and_stray_spaces(od_db):
    header = [f" {c} ".replace("（", "(").replace("）", ")") for c in EXPECTED_TOURISM]
    header[header.index(" 名称_英語 ")] = "名称＿英語"  # a full-width underscore
    data = tourism_file([{"名称": "霊山城跡", "料金（基本）": "有料", "料金（詳細）": "200円"}], header=header)
    result = opendata.import_tourism_csv(od_db, data.encode("utf-8"), actor="test")
    assert result["updated"] == ["ryozen-jo"]
    site = sites.get_site(od_db, "ryozen-jo", "ja")
    assert (site["fee_free"], site["fee"]) == (False, "200円")


def test_import_of_our_own_export_changes_nothing(od_db, db_path):
    data = opendata.export_tourism_csv(od_db, BASE_URL)
    before = db_snapshot(db_path)
    result = opendata.import_tourism_csv(od_db, data, actor="test")
    assert result == {"rows": 3, "created": [], "updated": [], "unchanged": 3}
    assert db_snapshot(db_path) == before


def test_a_changed_japanese_summary_makes_translations_stale(od_db):
    row = {**UPDATE_KAMEOKA, "説明": "明治時代の後期に建てられた洋風の住宅です。"}
    opendata.import_tourism_csv(od_db, tourism_file([row]).encode("utf-8"), actor="test")
    states = {s["locale"]: s["state"] for s in sites.translation_status(od_db, "kyu-kameoka")}
    assert states == {"ja": "current", "en": "stale", "zh_Hans": "stale", "zh_Hant": "stale", "ko": "stale"}


@pytest.mark.parametrize("cells, column, problem", [
    ({"緯度": "北緯37度"}, "緯度", "bad_latitude"),              # not a number
    ({"緯度": "95.0", "経度": "140.5"}, "緯度", "bad_latitude"),  # out of range
    ({"経度": "140.5"}, "緯度", "half_coordinate"),              # longitude without latitude
    ({"利用可能曜日": "月火X"}, "利用可能曜日", "bad_weekdays"),   # a letter that is no day
    ({"開始時間": "9時"}, "開始時間", "bad_time"),                 # not HH:MM
    ({"料金（基本）": "たぶん"}, "料金（基本）", "bad_fee"),       # neither 無料 nor 有料
    ({"名称": ""}, "名称", "missing_name"),                       # the name is required
])
def test_import_errors_name_the_row_and_column_and_change_nothing(od_db, db_path, cells, column, problem):
    bad = {"名称": "新しい場所", "住所": "福島県伊達市", **cells}
    data = tourism_file([UPDATE_KAMEOKA, bad]).encode("utf-8")
    before = db_snapshot(db_path)
    error = load_error(opendata.import_tourism_csv, od_db, data, actor="test")
    assert (error.params["row"], error.params["column"], error.params["problem"]) == (3, column, problem)
    assert "row 3" in str(error) and column in str(error)
    assert db_snapshot(db_path) == before  # row 2's valid update was rolled back too


def test_import_error_for_a_row_with_a_missing_cell(od_db, db_path):
    text = tourism_file([UPDATE_KAMEOKA, {"名称": "新しい場所"}])
    lines = text.split("\r\n")
    lines[2] = lines[2].rsplit(",", 1)[0]  # drop the last cell (備考) of row 3
    before = db_snapshot(db_path)
    error = load_error(opendata.import_tourism_csv, od_db, "\r\n".join(lines).encode("utf-8"), actor="test")
    assert (error.params["row"], error.params["column"], error.params["problem"]) == (3, "備考", "wrong_column_count")
    assert db_snapshot(db_path) == before


@pytest.mark.parametrize("mutate, row, column, problem", [
    (lambda h: [c for c in h if c != "緯度"], 1, "緯度", "missing_column"),      # a column left out
    (lambda h: h + ["名称"], 1, "名称", "duplicate_column"),                    # a column twice
])
def test_header_problems_are_row_1(od_db, mutate, row, column, problem):
    header = mutate(list(EXPECTED_TOURISM))
    data = ",".join(header) + "\r\n"
    error = load_error(opendata.import_tourism_csv, od_db, data.encode("utf-8"), actor="test")
    assert (error.params["row"], error.params["column"], error.params["problem"]) == (row, column, problem)


def test_the_same_site_twice_is_an_error(od_db):
    data = tourism_file([UPDATE_KAMEOKA, {"名称": "旧亀岡家 住宅"}]).encode("utf-8")  # matches despite the space
    error = load_error(opendata.import_tourism_csv, od_db, data, actor="test")
    assert (error.params["row"], error.params["problem"]) == (3, "duplicate_site")


def test_undecodable_bytes_name_their_row(od_db):
    data = tourism_file([UPDATE_KAMEOKA]).encode("utf-8") + b"\xff\xfe\xfd,broken\r\n"
    error = load_error(opendata.import_tourism_csv, od_db, data, actor="test")
    assert (error.params["row"], error.params["problem"]) == (3, "encoding")


def test_blank_rows_at_the_end_are_ignored_and_rows_count_as_a_spreadsheet_does(od_db):
    text = tourism_file([UPDATE_KAMEOKA]) + "," * 29 + "\r\n" + tourism_file([{"名称": "x", "緯度": "nan?"}]).split("\r\n", 1)[1]
    error = load_error(opendata.import_tourism_csv, od_db, text.encode("utf-8"), actor="test")
    assert error.params["row"] == 4  # header 1, kameoka 2, blank 3, bad 4


# --- the multilingual extension file --------------------------------------------------------------------

def test_i18n_header_and_rows(od_db):
    header, *rows = rows_of(opendata.export_tourism_i18n_csv(od_db))
    assert header[:5] == ["slug", "code", "name_ja", "kana_ja", "summary_ja"]
    for locale in ("ja", "en", "zh_Hans", "zh_Hant", "ko"):
        for field in ("name", "summary", "body", "hours", "closed", "fee", "access", "parking", "barrier_free"):
            assert f"{field}_{locale}" in header
    assert [r[0] for r in rows] == ["ryozen-jo", "takako-numa", "kyu-kameoka"]
    kameoka = dict(zip(header, rows[2]))
    assert kameoka["summary_zh_Hans"] == TRICKY.strip()
    assert kameoka["name_ko"] == "구 가메오카 가 주택" and kameoka["name_zh_Hant"] == "舊龜岡家住宅"


@pytest.mark.parametrize("od_db", [False], indirect=True)
def test_i18n_round_trip_is_byte_identical(od_db, tmp_path):
    # Source: a database with every language, including tricky texts.
    source = dbmod.connect(tmp_path / "source.db")
    for record in site_records(rich=True):
        sites.save_site(source, record, actor="test")
    exported = opendata.export_tourism_i18n_csv(source)
    # Target (od_db): the same sites with Japanese only, and an older Japanese summary.
    assert exported != opendata.export_tourism_i18n_csv(od_db)
    result = opendata.import_tourism_i18n_csv(od_db, exported, actor="test")
    assert result["updated"]["kyu-kameoka"] == ["ja", "en", "zh_Hans", "zh_Hant", "ko"]
    again = opendata.export_tourism_i18n_csv(od_db)
    assert again == exported
    # Japanese went first, so the translations it brought along are current.
    states = {s["locale"]: s["state"] for s in sites.translation_status(od_db, "kyu-kameoka")}
    assert set(states.values()) == {"current"}
    # And once more: importing the same file again changes nothing.
    assert opendata.import_tourism_i18n_csv(od_db, again, actor="test")["updated"] == {}
    assert opendata.export_tourism_i18n_csv(od_db) == exported
    source.close()


def test_i18n_empty_language_is_left_alone_and_a_changed_one_is_written(od_db):
    header, *rows = rows_of(opendata.export_tourism_i18n_csv(od_db))
    kameoka = dict(zip(header, rows[2]))
    for column in header:
        if column.endswith("_ko"):
            kameoka[column] = ""  # every Korean cell empty: Korean is kept, not deleted
    kameoka["summary_zh_Hant"] = "明治時代的洋風住宅。"
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows([header, [kameoka[c] for c in header]])
    result = opendata.import_tourism_i18n_csv(od_db, buffer.getvalue().encode("utf-8"), actor="test")
    assert result["updated"] == {"kyu-kameoka": ["zh_Hant"]}
    assert sites.get_site(od_db, "kyu-kameoka", "ko")["name"] == "구 가메오카 가 주택"
    assert sites.get_site(od_db, "kyu-kameoka", "zh_Hant")["summary"] == "明治時代的洋風住宅。"


@pytest.mark.parametrize("cells, column, problem", [
    ({"slug": "no-such-site"}, "slug", "unknown_site"),               # a slug we do not have
    ({"slug": ""}, "slug", "missing_slug"),                            # no key at all
    ({"code": "DT99"}, "code", "code_mismatch"),                       # the code of another site
    ({"name_ko": "", "summary_ko": "요약"}, "name_ko", "missing_name"),  # text without a name
])
def test_i18n_errors_name_the_row_and_column(od_db, db_path, cells, column, problem):
    header, *rows = rows_of(opendata.export_tourism_i18n_csv(od_db))
    first = dict(zip(header, rows[0]), summary_en="changed first row")
    second = dict(zip(header, rows[2]), **cells)
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows([header, [first[c] for c in header],
                                                         [second[c] for c in header]])
    before = db_snapshot(db_path)
    error = load_error(opendata.import_tourism_i18n_csv, od_db, buffer.getvalue().encode("utf-8"), actor="test")
    assert (error.params["row"], error.params["column"], error.params["problem"]) == (3, column, problem)
    assert db_snapshot(db_path) == before


def test_i18n_refuses_an_unknown_column(od_db):
    header = list(opendata.I18N_COLUMNS) + ["name_fr"]
    error = load_error(opendata.import_tourism_i18n_csv, od_db, (",".join(header) + "\r\n").encode(), actor="t")
    assert (error.params["row"], error.params["column"], error.params["problem"]) == (1, "name_fr", "unknown_column")


# --- web routes --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, mimetype, filename", [
    ("/opendata/tourism.csv", "text/csv", "072133_tourism.csv"),
    ("/opendata/tourism-i18n.csv", "text/csv", "072133_tourism_i18n.csv"),
    ("/opendata/events.csv", "text/csv", "072133_event.csv"),
    ("/api/sites.geojson", "application/geo+json", None),
])
def test_download_routes(od_db, client, path, mimetype, filename):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == mimetype
    disposition = response.headers.get("Content-Disposition")
    assert disposition == (f'attachment; filename="{filename}"' if filename else None)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    if mimetype == "text/csv":
        assert response.data.startswith(codecs.BOM_UTF8)


def test_routes_link_to_the_requesting_host_or_base_url(od_db, app, client):
    row = by_name(client.get("/opendata/tourism.csv").data)["旧亀岡家住宅"]
    assert row["URL"] == "http://localhost/sites/kyu-kameoka"
    app.config["BASE_URL"] = "https://kanko.example.jp/"
    row = by_name(client.get("/opendata/tourism.csv").data)["旧亀岡家住宅"]
    assert row["URL"] == "https://kanko.example.jp/sites/kyu-kameoka"


def test_geojson_route_uses_lang(od_db, client):
    collection = json.loads(client.get("/api/sites.geojson?lang=ko").data)
    names = {f["id"]: f["properties"]["name"] for f in collection["features"]}
    assert names["kyu-kameoka"] == "구 가메오카 가 주택"


def test_events_route_takes_a_date_range(make_session, client):
    sid = make_session(day=1)
    header, *rows = rows_of(client.get("/opendata/events.csv?from=2031-04-01&to=2031-04-30").data)
    assert header == EXPECTED_EVENTS
    assert [r[header.index("URL")] for r in rows] == [f"http://localhost/classes/{sid}"]
    # the default range starts today, long before 2031
    assert len(rows_of(client.get("/opendata/events.csv").data)) == 1


@pytest.mark.parametrize("query", [
    "from=2031-13-01",                  # not a date
    "from=2031-05-01&to=2031-04-01",    # reversed
    "from=2020-01-01&to=2031-01-01",    # over three years
])
def test_events_route_rejects_bad_ranges(client, query):
    assert client.get(f"/opendata/events.csv?{query}").status_code == 400


def test_opendata_page_lists_the_files_and_the_licence(od_db, client):
    response = client.get("/opendata?lang=en")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<h1>") == 1
    for text in ("CC BY 4.0", "072133_tourism.csv", "072133_event.csv", "072133_tourism_i18n.csv",
                 "/api/sites.geojson", "料金（基本）", "料金(基本)"):
        assert text in html


# --- CLI ------------------------------------------------------------------------------------------------------

def run_cli(db_path, *args, expect=0):
    result = CliRunner().invoke(cli, ["--db", str(db_path), *map(str, args)])
    assert "Traceback" not in result.output
    assert result.exit_code == expect, (result.stdout, result.stderr)
    return result


@pytest.mark.parametrize("what, check", [
    ("tourism", lambda data: rows_of(data)[0] == EXPECTED_TOURISM),
    ("tourism-i18n", lambda data: rows_of(data)[0][:2] == ["slug", "code"]),
    ("events", lambda data: rows_of(data)[0] == EXPECTED_EVENTS),
    ("geojson", lambda data: json.loads(data)["type"] == "FeatureCollection"),
])
def test_cli_export(od_db, db_path, tmp_path, what, check):
    out = tmp_path / "out.file"
    result = run_cli(db_path, "opendata", "export", "--what", what, "--out", out, "--base-url", BASE_URL, "--json")
    assert json.loads(result.stdout)["path"] == str(out)
    assert check(out.read_bytes())


def test_cli_export_needs_a_base_url(od_db, db_path, tmp_path, monkeypatch):
    monkeypatch.delenv("DATE_COMMUNITY_BASE_URL", raising=False)
    result = run_cli(db_path, "opendata", "export", "--what", "tourism", "--out", tmp_path / "x.csv", expect=2)
    assert "--base-url" in result.stderr


def test_cli_import_and_its_one_line_error(od_db, db_path, tmp_path):
    good = tmp_path / "good.csv"
    good.write_bytes(tourism_file([NEW_SITE]).encode("cp932"))
    result = run_cli(db_path, "opendata", "import", "--what", "tourism", good, "--json")
    assert json.loads(result.stdout)["created"] == ["takakooka-jo"]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(tourism_file([UPDATE_KAMEOKA, {"名称": "x", "利用可能曜日": "毎日"}]).encode("utf-8"))
    result = run_cli(db_path, "opendata", "import", "--what", "tourism", bad, expect=1)
    assert result.stderr.count("\n") == 1
    assert "row 3" in result.stderr and "利用可能曜日" in result.stderr and "[opendata_invalid]" in result.stderr
    result = run_cli(db_path, "opendata", "import", "--what", "tourism-i18n", bad, "--json", expect=1)
    assert json.loads(result.stdout)["error"] == "opendata_invalid"


# --- the real content/ ---------------------------------------------------------------------------------------

def test_real_content_exports_one_row_per_site_with_honest_coordinates(sites_db):
    listed = sites.list_sites(sites_db, "ja")
    assert len(listed) >= 12
    header, *rows = rows_of(opendata.export_tourism_csv(sites_db, BASE_URL))
    assert header == EXPECTED_TOURISM
    assert [r[header.index("URL")] for r in rows] == [f"{BASE_URL}/sites/{s['slug']}" for s in listed]
    for site, row in zip(listed, rows):
        located = site["coord_quality"] in ("sourced", "approx")
        assert bool(row[header.index("緯度")]) == located and bool(row[header.index("経度")]) == located
        assert ("approximate" in row[header.index("備考")]) == (site["coord_quality"] == "approx")


def test_real_content_geojson_has_kyu_kameoka_longitude_first(sites_db):
    features = {f["id"]: f for f in opendata.export_geojson(sites_db, BASE_URL, "en")["features"]}
    assert features["kyu-kameoka"]["geometry"]["coordinates"] == [140.56956, 37.81953]
    assert features["kyu-kameoka"]["properties"]["names"]["ja"] == "旧亀岡家住宅"


def test_real_content_reimports_without_any_change(sites_db, db_path):
    tourism = opendata.export_tourism_csv(sites_db, BASE_URL)
    i18n = opendata.export_tourism_i18n_csv(sites_db)
    before = db_snapshot(db_path)
    assert opendata.import_tourism_csv(sites_db, tourism, actor="test")["updated"] == []
    assert opendata.import_tourism_i18n_csv(sites_db, i18n, actor="test")["updated"] == {}
    assert db_snapshot(db_path) == before
    assert opendata.export_tourism_i18n_csv(sites_db) == i18n
