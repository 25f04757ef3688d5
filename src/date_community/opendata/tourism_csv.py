"""観光施設一覧 (tourism facilities): export and import of the standard's 30 columns.

Export: one row per published site, in display order.  The standard's file
is Japanese with English in the ``_英語`` columns; Chinese and Korean live in
the extension file (:mod:`.i18n_csv`).

Import: a row is matched to a stored site first by its URL column (our own
export links every row to ``…/sites/<slug>``), then by its Japanese name
(名称, compared without spaces and width differences).  The standard has no
column for our slug, so these are the only keys a file from elsewhere can
carry.  A matched site gets only the cells that differ from what the export
would write, so re-importing our own file changes nothing and a Japanese text
is not made "changed" (which would mark its translations stale) by a no-op.
An empty cell never erases a stored value: a partial file from another
office cannot wipe what we know.  A row that matches nothing creates a site,
with a slug from its URL when it has one, the next free sign code and AR
marker, and the district read from the address.  The whole file is one
write transaction: any error leaves the database as it was.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from .. import audit
from ..db import write_transaction
from ..errors import ValidationError
from ..schema import DISTRICTS
from ..tourism import sites as sitesmod
from . import columns, readers, sitedata
from .readers import OpenDataError

# 備考 notes about the coordinate.  The English words in brackets make the
# state findable by a script that does not read Japanese.
NOTE_APPROX = "緯度・経度は概略の位置です（approximate）。"
NOTE_MISSING = "緯度・経度は調査中のため空欄です（location to be surveyed）。"
# 利用可能日時特記事項 holds both the opening-hours note and the closed days.
CLOSED_LABEL = "休み："
CLOSED_JOIN = "／" + CLOSED_LABEL

WEEKDAYS = "月火水木金土日祝"
# Separators people put between days in spreadsheets: 月・火, 月,火, 月、火, 月 火.
_DAY_SEPARATORS = re.compile(r"[\s・,、/／]+")
_TIME = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")

# Where the site validation names a field, the column to report it in.
_FIELD_COLUMN = {
    "lat": "緯度", "lon": "経度", "coord_quality": "緯度", "open_days": "利用可能曜日", "opens": "開始時間",
    "closes": "終了時間", "address": "住所", "address_note": "方書", "fee_free": "料金（基本）",
    "contact_name": "連絡先名称", "contact_phone": "連絡先電話番号", "contact_ext": "連絡先内線番号",
    "district": "住所", "code": "URL", "slug": "URL",
}
_JA_TEXT_COLUMN = {"name": "名称", "kana": "名称_カナ", "summary": "説明", "fee": "料金（詳細）",
                   "access": "アクセス方法", "parking": "駐車場情報", "barrier_free": "バリアフリー情報",
                   "hours": "利用可能日時特記事項", "closed": "利用可能日時特記事項"}
_EN_TEXT_COLUMN = {"name": "名称_英語", "summary": "説明_英語"}


# --- export ---------------------------------------------------------------------------------------

def _availability_note(ja: dict) -> str:
    hours, closed = (ja.get("hours") or "").strip(), (ja.get("closed") or "").strip()
    if hours and closed:
        return hours + CLOSED_JOIN + closed
    if closed:
        return CLOSED_LABEL + closed
    return hours


def _split_availability(cell: str) -> tuple[str, str]:
    """利用可能日時特記事項 → (hours, closed), the inverse of :func:`_availability_note`."""
    if CLOSED_JOIN in cell:
        hours, _, closed = cell.rpartition(CLOSED_JOIN)
        return hours.strip(), closed.strip()
    if cell.startswith(CLOSED_LABEL):
        return "", cell[len(CLOSED_LABEL):].strip()
    return cell.strip(), ""


def _fee_basic(site: dict) -> str:
    # fee_free is "entry is free"; not free with no fee text means we do not know.
    if site["fee_free"]:
        return "無料"
    return "有料" if (site["texts"].get("ja", {}).get("fee") or "").strip() else ""


def tourism_values(site: dict[str, Any], number: int, base_url: str) -> dict[str, str]:
    """One site's row as {column: cell} (``site`` as from :func:`sitedata.published_sites`)."""
    ja, en = site["texts"].get("ja", {}), site["texts"].get("en", {})
    located = sitedata.has_coordinate(site)
    note = {"approx": NOTE_APPROX, "missing": NOTE_MISSING}.get(site["coord_quality"], "")
    image = site.get("image")
    return {
        "都道府県コード又は市区町村コード": columns.MUNICIPALITY_CODE,
        "NO": str(number),
        "都道府県名": columns.PREFECTURE,
        "市区町村名": columns.MUNICIPALITY,
        "名称": ja.get("name", ""),
        "名称_カナ": ja.get("kana", ""),
        "名称_英語": en.get("name", ""),
        "POIコード": "",  # we have no codes from the POI code list
        "住所": site["address"],
        "方書": site["address_note"],
        "緯度": sitedata.coordinate_text(site["lat"]) if located else "",
        "経度": sitedata.coordinate_text(site["lon"]) if located else "",
        "利用可能曜日": site["open_days"],
        "開始時間": site["opens"],
        "終了時間": site["closes"],
        "利用可能日時特記事項": _availability_note(ja),
        "料金（基本）": _fee_basic(site),
        "料金（詳細）": ja.get("fee", ""),
        "説明": ja.get("summary", ""),
        "説明_英語": en.get("summary", ""),
        "アクセス方法": ja.get("access", ""),
        "駐車場情報": ja.get("parking", ""),
        "バリアフリー情報": ja.get("barrier_free", ""),
        "連絡先名称": site["contact_name"],
        "連絡先電話番号": site["contact_phone"],
        "連絡先内線番号": site["contact_ext"],
        "画像": sitedata.image_url(base_url, image["file"]) if image else "",
        "画像_ライセンス": image["licence"] if image else "",
        "URL": sitedata.site_url(base_url, site["slug"]),
        "備考": note,
    }


def export_tourism_csv(db, base_url: str = "") -> bytes:
    """観光施設一覧: 30 columns, UTF-8 with BOM, CRLF; NO numbers the rows from 1."""
    rows = []
    for number, site in enumerate(sitedata.published_sites(db), start=1):
        values = tourism_values(site, number, base_url)
        rows.append([values[name] for name in columns.TOURISM_COLUMNS])
    return readers.write_table(columns.TOURISM_COLUMNS, rows)


# --- cell parsing (import) -----------------------------------------------------------------------

def _nfkc(cell: str) -> str:
    return unicodedata.normalize("NFKC", cell).strip()


def name_key(name: str) -> str:
    """名称 as compared when matching: width-folded, without any spaces."""
    return "".join(_nfkc(name).split())


def parse_coordinate(cell: str, *, row: int, column: str, limit: float) -> float | None:
    text = _nfkc(cell)
    if not text:
        return None
    problem = "bad_latitude" if limit == 90 else "bad_longitude"
    try:
        value = float(text)
    except ValueError:
        raise OpenDataError(problem, row=row, column=column) from None
    if not -limit <= value <= limit or value != value:  # value != value: NaN
        raise OpenDataError(problem, row=row, column=column)
    return value


def parse_weekdays(cell: str, *, row: int, column: str) -> str:
    """``月・水・金`` or ``月水金`` → ``月水金`` (in week order, each day once)."""
    text = _DAY_SEPARATORS.sub("", _nfkc(cell))
    if any(ch not in WEEKDAYS for ch in text):
        raise OpenDataError("bad_weekdays", row=row, column=column)
    return "".join(ch for ch in WEEKDAYS if ch in text)


def parse_time(cell: str, *, row: int, column: str) -> str:
    """``9:00`` or ``０９：００`` → ``09:00``; 24:00 is allowed as a closing time."""
    text = _nfkc(cell)
    if not text:
        return ""
    match = _TIME.match(text)
    if not match:
        raise OpenDataError("bad_time", row=row, column=column)
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise OpenDataError("bad_time", row=row, column=column)
    return f"{hours:02d}:{minutes:02d}"


def parse_fee(cell: str, *, row: int, column: str) -> bool | None:
    text = _nfkc(cell)
    if not text:
        return None
    if text in ("無料", "有料"):
        return text == "無料"
    raise OpenDataError("bad_fee", row=row, column=column)


def slug_from_url(cell: str) -> str | None:
    """``https://…/sites/kyu-kameoka`` → ``kyu-kameoka`` (None for any other URL)."""
    path = urlsplit(cell.strip()).path.rstrip("/")
    prefix, _, slug = path.rpartition("/")
    if not prefix.endswith(sitedata.SITE_PATH.split("/{")[0]) or not slug:
        return None
    try:
        return sitesmod.check_slug(slug)
    except ValidationError:
        return None


def district_from_address(address: str) -> str:
    """The district of a Date City address: 保原町… → 保原; the old Date town has no 町 name."""
    text = _nfkc(address)
    for district in DISTRICTS:
        if district != "伊達" and f"{district}町" in text:
            return district
    return "伊達"


def _as_open_data_error(exc: ValidationError, row: int, text_columns: dict[str, str] | None = None):
    """A library validation error, re-raised at the row and column it came from."""
    field = str(exc.params.get("field", "")).split(".")[-1]
    column = (text_columns or {}).get(field) or _FIELD_COLUMN.get(field, "")
    return OpenDataError("invalid_site", row=row, column=column, reason=exc.code)


# --- import -----------------------------------------------------------------------------------------

def _row_changes(site: dict | None, cells: dict[str, str], row: int) -> tuple[dict, dict, dict]:
    """(facts, ja text, en text) that this row sets: only non-empty cells that differ
    from what the export writes for ``site`` (all non-empty cells for a new site)."""
    # NO, URL and 画像 are not compared, so the numbering and base URL do not matter here.
    current = tourism_values(site, 0, "") if site else {}

    def given(column: str) -> str | None:
        cell = cells[column].strip()
        if not cell or cell == current.get(column, "").strip():
            return None
        return cell

    facts: dict[str, Any] = {}
    lat = parse_coordinate(cells["緯度"], row=row, column="緯度", limit=90)
    lon = parse_coordinate(cells["経度"], row=row, column="経度", limit=180)
    if (lat is None) != (lon is None):
        raise OpenDataError("half_coordinate", row=row, column="経度" if lon is None else "緯度")
    if lat is not None and (given("緯度") is not None or given("経度") is not None):
        if not site or (lat, lon) != (site["lat"], site["lon"]):
            remark = cells["備考"]
            facts["coord_quality"] = "approx" if ("approximate" in remark.lower() or "概略" in remark) else "sourced"
            facts["lat"], facts["lon"] = lat, lon
            facts["coord_source"] = "open-data CSV (観光施設一覧)"
    for column, key in (("住所", "address"), ("方書", "address_note"), ("連絡先名称", "contact_name"),
                        ("連絡先電話番号", "contact_phone"), ("連絡先内線番号", "contact_ext")):
        if given(column) is not None:
            facts[key] = cells[column].strip()
    days = parse_weekdays(cells["利用可能曜日"], row=row, column="利用可能曜日")
    if days and days != (site or {}).get("open_days"):
        facts["open_days"] = days
    for column, key in (("開始時間", "opens"), ("終了時間", "closes")):
        value = parse_time(cells[column], row=row, column=column)
        if value and value != (site or {}).get(key):
            facts[key] = value
    free = parse_fee(cells["料金（基本）"], row=row, column="料金（基本）")
    if free is not None and given("料金（基本）") is not None:
        facts["fee_free"] = free

    ja: dict[str, str] = {}
    for column, key in (("名称", "name"), ("名称_カナ", "kana"), ("説明", "summary"), ("料金（詳細）", "fee"),
                        ("アクセス方法", "access"), ("駐車場情報", "parking"), ("バリアフリー情報", "barrier_free")):
        if given(column) is not None:
            ja[key] = cells[column].strip()
    if given("利用可能日時特記事項") is not None:
        hours, closed = _split_availability(cells["利用可能日時特記事項"].strip())
        ja["hours"] = hours
        if closed:
            ja["closed"] = closed
    en: dict[str, str] = {}
    for column, key in (("名称_英語", "name"), ("説明_英語", "summary")):
        if given(column) is not None:
            en[key] = cells[column].strip()
    return facts, ja, en


def _next_free(db, used_sql: str, candidates) -> Any:
    used = {r["v"] for r in db.query(used_sql)}
    return next((c for c in candidates if c not in used), None)


def _create_site(db, cells: dict[str, str], facts: dict, ja: dict, en: dict, row: int, actor: str) -> str:
    slug = slug_from_url(cells["URL"])
    if slug is None or db.execute("SELECT 1 FROM tourism_sites WHERE slug = ?", [slug]).fetchone():
        base = "site-" + columns.MUNICIPALITY_CODE
        slug = _next_free(db, "SELECT slug AS v FROM tourism_sites", (f"{base}-{n}" for n in range(1, 10**6)))
    code = _next_free(db, "SELECT code AS v FROM tourism_sites", (f"DT{n:02d}" for n in range(1, 100)))
    if code is None:
        raise OpenDataError("invalid_site", row=row, column="名称", reason="site_invalid_code")
    marker = _next_free(db, "SELECT marker_id AS v FROM tourism_sites WHERE marker_id IS NOT NULL", range(64))
    order = db.execute("SELECT coalesce(max(sort_order), 0) FROM tourism_sites").fetchone()[0] + 10
    data = {"slug": slug, "code": code, "marker_id": marker, "categories": [], "sort_order": order,
            "district": district_from_address(facts.get("address", "")), "coord_quality": "missing",
            "fee_free": False, **facts, "texts": {"ja": ja}}
    if en:
        if not en.get("name"):
            raise OpenDataError("missing_name", row=row, column="名称_英語")
        data["texts"]["en"] = en
    try:
        sitesmod.save_site(db, data, actor=actor)
    except ValidationError as exc:
        raise _as_open_data_error(exc, row, _JA_TEXT_COLUMN) from exc
    return slug


def _match(cells: dict[str, str], by_slug: dict[str, dict], by_name: dict[str, dict]) -> dict | None:
    slug = slug_from_url(cells["URL"])
    if slug and slug in by_slug:
        return by_slug[slug]
    return by_name.get(name_key(cells["名称"]))


def import_tourism_csv(db, data: bytes, *, actor: str) -> dict[str, Any]:
    """Create or update sites from a 観光施設一覧 file; all rows or none.

    Returns {"rows", "created": [slugs], "updated": [slugs], "unchanged"}.
    Raises :class:`OpenDataError` (code ``opendata_invalid``) naming the row
    and column of the first problem.
    """
    table = readers.read_table(data, columns.TOURISM_COLUMNS, allow_unknown=True)
    created, updated, unchanged = [], [], 0
    with write_transaction(db):
        sites = sitedata.published_sites(db, include_unpublished=True)
        by_slug = {s["slug"]: s for s in sites}
        by_name = {}
        for s in sites:
            by_name.setdefault(name_key(s["texts"].get("ja", {}).get("name", "")), s)
        seen: dict[str, int] = {}
        for row, cells in table:
            if not cells["名称"].strip():
                raise OpenDataError("missing_name", row=row, column="名称")
            site = _match(cells, by_slug, by_name)
            if site is not None:
                if site["slug"] in seen:
                    raise OpenDataError("duplicate_site", row=row, column="名称", first_row=seen[site["slug"]])
                seen[site["slug"]] = row
            facts, ja, en = _row_changes(site, cells, row)
            if site is None:
                slug = _create_site(db, cells, facts, ja, en, row, actor)
                seen[slug] = row
                by_name.setdefault(name_key(cells["名称"]), {"slug": slug})
                by_slug[slug] = {"slug": slug}
                created.append(slug)
                continue
            if not (facts or ja or en):
                unchanged += 1
                continue
            if en and "en" not in site["texts"] and not en.get("name"):
                raise OpenDataError("missing_name", row=row, column="名称_英語")
            for changes, locale, text_columns in ((facts, None, None), (ja, "ja", _JA_TEXT_COLUMN),
                                                  (en, "en", _EN_TEXT_COLUMN)):
                if not changes:
                    continue
                try:
                    if locale is None:
                        sitesmod.update_site_facts(db, site["slug"], changes, actor=actor)
                    else:
                        sitesmod.update_site_text(db, site["slug"], locale, changes, actor=actor)
                except ValidationError as exc:
                    raise _as_open_data_error(exc, row, text_columns) from exc
            updated.append(site["slug"])
        audit.record(db, actor, "import", "opendata", None, dataset="tourism", rows=len(table),
                     created=len(created), updated=len(updated))
    return {"rows": len(table), "created": created, "updated": updated, "unchanged": unchanged}
