"""Walking tours: an ordered list of sites with distances and walking times.

Distances are straight lines between the sites' coordinates (haversine), an
honest lower bound of the real path; the times use :mod:`geo`'s slow pace to
make up some of the difference.  A leg touching a site without a coordinate
has no distance, and the tour says it is incomplete rather than guessing.
Texts follow the same versioning and fallback rules as sites.
"""
from __future__ import annotations

from typing import Any

from .. import audit
from ..db import query_one, write_transaction
from ..errors import NotFound, ValidationError
from ..i18n import LOCALES
from . import geo
from .sites import check_slug, fallback_chain, is_stale, pick_text, status_from_texts

TOUR_TEXT_FIELDS = ("name", "summary")


def _clean_text(locale: str, fields: dict[str, Any], *, prefix: str = "") -> dict[str, Any]:
    if locale not in LOCALES:
        raise ValidationError("invalid_locale", field=f"{prefix}{locale}", locale=str(locale)[:20])
    unknown = set(fields) - set(TOUR_TEXT_FIELDS) - {"version"}
    if unknown:
        raise ValidationError("invalid_value", field=f"{prefix}{sorted(unknown)[0]}")
    row = {}
    for key in TOUR_TEXT_FIELDS:
        value = fields.get(key)
        if value is not None and not isinstance(value, str):
            raise ValidationError("invalid_value", field=f"{prefix}{key}")
        row[key] = (value or "").strip()
    if not row["name"]:
        raise ValidationError("site_text_missing" if locale == "ja" else "invalid_name", field=f"{prefix}name")
    version = fields.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise ValidationError("invalid_value", field=f"{prefix}version")
    row["version"] = version
    return row


def _site_ids(db, slugs: Any) -> list[int]:
    if isinstance(slugs, str):
        slugs = slugs.split()
    if not isinstance(slugs, (list, tuple)) or not slugs or not all(isinstance(s, str) for s in slugs):
        raise ValidationError("invalid_value", field="sites")
    slugs = [s.strip() for s in slugs if s.strip()]
    if not slugs:
        raise ValidationError("invalid_value", field="sites")
    if len(set(slugs)) != len(slugs):
        # A repeated stop would make "the next stop after this site" ambiguous.
        raise ValidationError("invalid_value", field="sites")
    ids = []
    for slug in slugs:
        row = query_one(db, "SELECT id FROM tourism_sites WHERE slug = ?", [slug])
        if not row:
            raise ValidationError("tour_unknown_site", field="sites", site=slug[:60])
        ids.append(row["id"])
    return ids


def _write_stops(db, tour_id: int, site_ids: list[int]) -> None:
    db.conn.execute("DELETE FROM tourism_tour_stops WHERE tour_id = ?", [tour_id])
    for position, site_id in enumerate(site_ids, start=1):
        db.conn.execute("INSERT INTO tourism_tour_stops (tour_id, position, site_id) VALUES (?, ?, ?)",
                        [tour_id, position, site_id])


def _write_text(db, tour_id: int, locale: str, text: dict[str, Any]) -> None:
    db.conn.execute("INSERT OR REPLACE INTO tourism_tour_texts (tour_id, locale, name, summary, version) "
                    "VALUES (?, ?, ?, ?, ?)", [tour_id, locale, text["name"], text["summary"], text["version"]])


def save_tour(db, data: dict[str, Any], *, actor: str) -> int:
    """Create or replace a tour (matched by slug) with its stops and texts."""
    slug = check_slug(data.get("slug"))
    sort_order = data.get("sort_order", 0)
    if isinstance(sort_order, bool) or not isinstance(sort_order, int):
        raise ValidationError("invalid_value", field="sort_order")
    texts_in = data.get("texts") or {}
    if not isinstance(texts_in, dict):
        raise ValidationError("invalid_value", field="texts")
    for locale in texts_in:
        if locale not in LOCALES:
            raise ValidationError("invalid_locale", field=f"texts.{locale}", locale=str(locale)[:20])
    if not isinstance(texts_in.get("ja"), dict):
        raise ValidationError("site_text_missing", field="texts.ja")
    texts = {loc: _clean_text(loc, fields or {}, prefix=f"texts.{loc}.") for loc, fields in texts_in.items()}
    ja_version = texts["ja"]["version"] or 1
    texts["ja"]["version"] = ja_version
    for locale, text in texts.items():
        if text["version"] is None:
            text["version"] = ja_version
        elif locale != "ja" and text["version"] > ja_version:
            raise ValidationError("invalid_value", field=f"texts.{locale}.version")
    with write_transaction(db):
        site_ids = _site_ids(db, data.get("sites"))
        existing = query_one(db, "SELECT id FROM tourism_tours WHERE slug = ?", [slug])
        if existing:
            tour_id = existing["id"]
            db.conn.execute("UPDATE tourism_tours SET sort_order = ? WHERE id = ?", [sort_order, tour_id])
            action = "update"
        else:
            tour_id = db.conn.execute("INSERT INTO tourism_tours (slug, sort_order) VALUES (?, ?)",
                                      [slug, sort_order]).lastrowid
            action = "create"
        _write_stops(db, tour_id, site_ids)
        db.conn.execute("DELETE FROM tourism_tour_texts WHERE tour_id = ?", [tour_id])
        for locale, text in texts.items():
            _write_text(db, tour_id, locale, text)
        audit.record(db, actor, action, "tourism_tour", tour_id, slug=slug, stops=len(site_ids))
    return tour_id


def _tour_row(db, slug: str) -> dict[str, Any]:
    row = query_one(db, "SELECT * FROM tourism_tours WHERE slug = ?", [slug])
    if not row:
        raise NotFound("tour_not_found", slug=str(slug)[:60])
    return row


def _tour_texts(db, tour_id: int) -> dict[str, dict]:
    return {r["locale"]: r for r in db.query("SELECT * FROM tourism_tour_texts WHERE tour_id = ?", [tour_id])}


def _stop_rows(db, tour_id: int) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT s.position, t.id AS site_id, t.slug, t.code, t.lat, t.lon, t.coord_quality "
        "FROM tourism_tour_stops s JOIN tourism_sites t ON t.id = s.site_id "
        "WHERE s.tour_id = ? ORDER BY s.position", [tour_id]))


def _site_names(db, site_ids: list[int], locale: str) -> dict[int, tuple[str, str | None]]:
    """Each site's name in ``locale`` or its fallback, with the locale it is really in
    (pages mark a fallback name with that language's ``lang``)."""
    if not site_ids:
        return {}
    texts: dict[int, dict[str, dict]] = {}
    for row in db.query("SELECT site_id, locale, name, version FROM tourism_site_texts WHERE site_id IN "
                        f"({', '.join('?' for _ in site_ids)})", site_ids):
        texts.setdefault(row["site_id"], {})[row["locale"]] = row
    out = {}
    for sid in site_ids:
        used, text = pick_text(texts.get(sid, {}), locale)
        out[sid] = ((text or {}).get("name", ""), used)
    return out


def _leg(a: dict[str, Any], b: dict[str, Any]) -> int | None:
    if None in (a["lat"], a["lon"], b["lat"], b["lon"]):
        return None
    return round(geo.haversine_m(a["lat"], a["lon"], b["lat"], b["lon"]))


def _stops_with_legs(db, tour_id: int, locale: str) -> tuple[list[dict[str, Any]], int, bool]:
    rows = _stop_rows(db, tour_id)
    names = _site_names(db, [r["site_id"] for r in rows], locale)
    stops, total, complete = [], 0, True
    for index, row in enumerate(rows):
        leg = _leg(row, rows[index + 1]) if index + 1 < len(rows) else None
        if index + 1 < len(rows):
            if leg is None:
                complete = False
            else:
                total += leg
        stops.append({"position": row["position"], "slug": row["slug"], "code": row["code"],
                      "name": names[row["site_id"]][0], "name_locale": names[row["site_id"]][1],
                      "lat": row["lat"], "lon": row["lon"],
                      "coord_quality": row["coord_quality"], "map_ok": row["coord_quality"] == "sourced",
                      "leg_m": leg, "leg_min": geo.walking_minutes(leg) if leg is not None else None})
    return stops, total, complete


def get_tour(db, slug: str, locale: str) -> dict[str, Any]:
    fallback_chain(locale)
    tour = _tour_row(db, slug)
    texts = _tour_texts(db, tour["id"])
    used, text = pick_text(texts, locale)
    text = text or {}
    stops, total, complete = _stops_with_legs(db, tour["id"], locale)
    return {
        "slug": tour["slug"], "sort_order": tour["sort_order"], "name": text.get("name", ""),
        "summary": text.get("summary", ""), "text_locale": used, "fallback": used != locale,
        "stale": is_stale(texts, used), "names": {loc: texts[loc]["name"] for loc in LOCALES if loc in texts},
        "available_locales": [loc for loc in LOCALES if loc in texts],
        "stops": stops, "total_m": total,
        # Sum of the rounded-up legs, so the figure matches the legs a reader adds up.
        "total_min": sum(s["leg_min"] or 0 for s in stops), "complete": complete,
    }


def list_tours(db, locale: str) -> list[dict[str, Any]]:
    fallback_chain(locale)
    out = []
    for tour in db.query("SELECT * FROM tourism_tours ORDER BY sort_order, slug"):
        texts = _tour_texts(db, tour["id"])
        used, text = pick_text(texts, locale)
        text = text or {}
        stops, total, complete = _stops_with_legs(db, tour["id"], locale)
        out.append({"slug": tour["slug"], "name": text.get("name", ""), "summary": text.get("summary", ""),
                    "text_locale": used, "fallback": used != locale, "stale": is_stale(texts, used),
                    "stop_count": len(stops), "total_m": total,
                    "total_min": sum(s["leg_min"] or 0 for s in stops), "complete": complete})
    return out


def tour_translation_status(db, slug: str) -> list[dict[str, Any]]:
    tour = _tour_row(db, slug)
    return status_from_texts(_tour_texts(db, tour["id"]))


def tour_texts(db, slug: str) -> dict[str, dict[str, Any]]:
    """The stored texts of a tour, {locale: row} (staff editing)."""
    return _tour_texts(db, _tour_row(db, slug)["id"])


def tour_update_text(db, slug: str, locale: str, fields: dict[str, Any], *, actor: str,
                     minor: bool = False) -> None:
    """Same rule as sites.update_site_text: a Japanese change raises the
    version (unless ``minor``); any other edit is current again."""
    if locale not in LOCALES:
        raise ValidationError("invalid_locale", field="locale", locale=str(locale)[:20])
    fields = {k: v for k, v in fields.items() if k != "version"}
    with write_transaction(db):
        tour = _tour_row(db, slug)
        texts = _tour_texts(db, tour["id"])
        current = texts.get(locale) or {}
        merged = {f: current.get(f, "") for f in TOUR_TEXT_FIELDS}
        merged.update(fields)
        text = _clean_text(locale, merged)
        ja_version = texts["ja"]["version"] if "ja" in texts else 1
        if locale == "ja":
            changed = any(text[f] != (current.get(f) or "") for f in TOUR_TEXT_FIELDS)
            text["version"] = ja_version + 1 if (current and changed and not minor) else ja_version
        else:
            text["version"] = ja_version
        _write_text(db, tour["id"], locale, text)
        audit.record(db, actor, "update_text", "tourism_tour", tour["id"], locale=locale, version=text["version"])


def set_tour_stops(db, slug: str, site_slugs: list[str], *, actor: str) -> None:
    with write_transaction(db):
        tour = _tour_row(db, slug)
        site_ids = _site_ids(db, site_slugs)
        _write_stops(db, tour["id"], site_ids)
        audit.record(db, actor, "set_stops", "tourism_tour", tour["id"], stops=len(site_ids))


def next_on_tour(db, site_slug: str, locale: str) -> dict[str, Any] | None:
    """Where to walk next from this site: the following stop on the first tour
    (by sort order) that includes it, with distance and direction."""
    fallback_chain(locale)
    here = query_one(
        db,
        "SELECT s.tour_id, s.position, tr.slug AS tour_slug, t.id AS site_id, t.lat, t.lon "
        "FROM tourism_tour_stops s JOIN tourism_tours tr ON tr.id = s.tour_id "
        "JOIN tourism_sites t ON t.id = s.site_id WHERE t.slug = ? "
        "ORDER BY tr.sort_order, tr.slug LIMIT 1", [site_slug])
    if not here:
        return None
    nxt = query_one(
        db,
        "SELECT t.id AS site_id, t.slug, t.lat, t.lon, t.coord_quality FROM tourism_tour_stops s "
        "JOIN tourism_sites t ON t.id = s.site_id WHERE s.tour_id = ? AND s.position > ? "
        "ORDER BY s.position LIMIT 1", [here["tour_id"], here["position"]])
    if not nxt:
        return None
    texts = _tour_texts(db, here["tour_id"])
    tour_name = (pick_text(texts, locale)[1] or {}).get("name", "")
    distance = bearing = None
    if None not in (here["lat"], here["lon"], nxt["lat"], nxt["lon"]):
        distance = round(geo.haversine_m(here["lat"], here["lon"], nxt["lat"], nxt["lon"]))
        bearing = geo.bearing_deg(here["lat"], here["lon"], nxt["lat"], nxt["lon"])
    name, name_locale = _site_names(db, [nxt["site_id"]], locale)[nxt["site_id"]]
    return {
        "tour_slug": here["tour_slug"], "tour_name": tour_name, "slug": nxt["slug"],
        "name": name, "name_locale": name_locale,
        "distance_m": distance, "bearing_deg": bearing,
        "compass": geo.compass(bearing) if bearing is not None else None,
        "map_ok": nxt["coord_quality"] == "sourced",
    }
