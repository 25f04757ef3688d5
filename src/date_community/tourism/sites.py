"""Tourist sites: language-neutral facts, texts per language, staleness.

A site has one row of facts (code, coordinates, address, opening times …)
and one text row per language.  Japanese is the source language: its text row
carries a ``version``, and every translation records the Japanese version it
was made from in its own ``version``.  A translation whose version is below
the Japanese one is *stale*; it is still shown (a slightly old translation is
better than none) but staff see it flagged until it is updated.

When a visitor's language has no text, the best other language is used
(:data:`FALLBACK`) and the page says so.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

from .. import audit, timeutil
from ..db import query_one, write_transaction
from ..errors import NotFound, ValidationError
from ..i18n import LOCALES
from ..schema import COORD_QUALITIES, DISTRICTS
from . import markdown

CATEGORIES = ("nature", "history", "shrine", "museum", "park", "food", "roadside-station", "flowers", "hiking",
              "kids", "information")

# Which text to show when the visitor's language has none.  The two Chinese
# scripts stand in for each other first (a reader of one can mostly read the
# other), then English, the most widely read second language among visitors,
# then Japanese, which every site has.  A Japanese page without Japanese
# cannot happen (ja is required) but falls back to English for safety.
FALLBACK: dict[str, tuple[str, ...]] = {
    "ja": ("ja", "en"),
    "en": ("en", "ja"),
    "zh_Hans": ("zh_Hans", "zh_Hant", "en", "ja"),
    "zh_Hant": ("zh_Hant", "zh_Hans", "en", "ja"),
    "ko": ("ko", "en", "ja"),
}

TEXT_FIELDS = ("name", "kana", "summary", "body_md", "hours", "closed", "fee", "access", "parking",
               "barrier_free")
# Fields whose change in Japanese changes what a translation should say.
# kana is a reading aid for Japanese only, so it never makes translations stale.
MEANING_FIELDS = tuple(f for f in TEXT_FIELDS if f != "kana")

FACT_FIELDS = ("code", "marker_id", "categories", "district", "sort_order", "lat", "lon", "coord_quality",
               "coord_source", "address", "address_note", "open_days", "opens", "closes", "fee_free",
               "contact_name", "contact_phone", "contact_ext", "sources", "published")

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CODE = re.compile(r"^DT[0-9]{2}$")
_HHMM = re.compile(r"^([01][0-9]|2[0-4]):[0-5][0-9]$")
_OPEN_DAY_CHARS = set("月火水木金土日祝")
_MAX_SLUG = 60


# --- validation -------------------------------------------------------------------

def check_slug(slug: Any, *, field: str = "slug") -> str:
    slug = (slug or "").strip() if isinstance(slug, str) else ""
    if not slug or len(slug) > _MAX_SLUG or not _SLUG.match(slug):
        raise ValidationError("site_invalid_slug", field=field)
    return slug


def normalize_code(code: Any) -> str:
    """``"dt-07"``, ``" DT 07 "``, ``"ＤＴ０７"`` → ``"DT07"`` (not validated)."""
    text = unicodedata.normalize("NFKC", str(code or ""))
    return re.sub(r"[\s\-‐‑–—ー_]", "", text).upper()


def _int(value: Any, field: str, *, low: int | None = None, high: int | None = None,
         optional: bool = False) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise ValidationError("invalid_value", field=field)
    if isinstance(value, bool):
        raise ValidationError("invalid_value", field=field)
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError as exc:
        raise ValidationError("invalid_value", field=field) from exc
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValidationError("invalid_value", field=field)
    return number


def _coordinate(value: Any, field: str, limit: float) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError("invalid_coordinates", field=field)
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError("invalid_coordinates", field=field) from exc
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise ValidationError("invalid_coordinates", field=field)
    return number


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("invalid_value", field=field)
    return value.strip()


def _str_list(value: Any, field: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValidationError("invalid_value", field=field)
    return [v.strip() for v in value if v.strip()]


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1, "0", "1", "", None):
        return bool(int(value or 0))
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off"):
        return value.lower() in ("true", "yes", "on")
    raise ValidationError("invalid_value", field=field)


def clean_facts(data: dict[str, Any]) -> dict[str, Any]:
    """The language-neutral facts of a site, validated, as stored columns.

    Raises ValidationError with ``field`` naming the offending key.
    """
    code = normalize_code(data.get("code"))
    if not _CODE.match(code):
        raise ValidationError("site_invalid_code", field="code")
    categories = _str_list(data.get("categories"), "categories")
    if any(c not in CATEGORIES for c in categories):
        raise ValidationError("invalid_value", field="categories")
    district = data.get("district")
    if district not in DISTRICTS:
        raise ValidationError("invalid_district", field="district")
    quality = data.get("coord_quality") or ""
    if quality not in COORD_QUALITIES:
        raise ValidationError("invalid_coordinates", field="coord_quality")
    lat = _coordinate(data.get("lat"), "lat", 90)
    lon = _coordinate(data.get("lon"), "lon", 180)
    if quality == "missing":
        # A coordinate next to "missing" is a contradiction: one of the two is
        # a mistake, and guessing which could put a pin in the wrong place.
        if lat is not None:
            raise ValidationError("invalid_coordinates", field="lat")
        if lon is not None:
            raise ValidationError("invalid_coordinates", field="lon")
    else:
        if lat is None:
            raise ValidationError("invalid_coordinates", field="lat")
        if lon is None:
            raise ValidationError("invalid_coordinates", field="lon")
    open_days = _text(data.get("open_days"), "open_days")
    if any(ch not in _OPEN_DAY_CHARS for ch in open_days):
        raise ValidationError("invalid_value", field="open_days")
    row = {
        "code": code,
        "marker_id": _int(data.get("marker_id"), "marker_id", low=0, high=63, optional=True),
        "categories": " ".join(dict.fromkeys(categories)),
        "district": district,
        "sort_order": _int(data.get("sort_order", 0), "sort_order", low=-10**6, high=10**6),
        "lat": lat,
        "lon": lon,
        "coord_quality": quality,
        "coord_source": _text(data.get("coord_source"), "coord_source"),
        "address": _text(data.get("address"), "address"),
        "address_note": _text(data.get("address_note"), "address_note"),
        "open_days": open_days,
        "opens": _text(data.get("opens"), "opens"),
        "closes": _text(data.get("closes"), "closes"),
        "fee_free": int(_bool(data.get("fee_free", False), "fee_free")),
        "contact_name": _text(data.get("contact_name"), "contact_name"),
        "contact_phone": _text(data.get("contact_phone"), "contact_phone"),
        "contact_ext": _text(data.get("contact_ext"), "contact_ext"),
        "sources": json.dumps(_str_list(data.get("sources"), "sources"), ensure_ascii=False),
        "published": int(_bool(data.get("published", True), "published")),
    }
    for key in ("opens", "closes"):
        if row[key] and not _HHMM.match(row[key]):
            raise ValidationError("invalid_time", field=key)
    return row


def clean_text(locale: str, fields: dict[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """One language's text, validated.  ``version`` is kept as given (or None)."""
    if locale not in LOCALES:
        raise ValidationError("invalid_locale", field=f"{prefix}{locale}", locale=str(locale)[:20])
    unknown = set(fields) - set(TEXT_FIELDS) - {"version"}
    if unknown:
        raise ValidationError("invalid_value", field=f"{prefix}{sorted(unknown)[0]}")
    row = {key: _text(fields.get(key), f"{prefix}{key}") for key in TEXT_FIELDS}
    if not row["name"]:
        raise ValidationError("site_text_missing" if locale == "ja" else "invalid_name", field=f"{prefix}name")
    if locale != "ja":
        row["kana"] = ""  # furigana only makes sense for the Japanese name
    row["version"] = _int(fields.get("version"), f"{prefix}version", low=1, high=10**6, optional=True)
    return row


def _clean_images(images: Any) -> list[dict[str, Any]]:
    if images is None:
        return []
    if not isinstance(images, list):
        raise ValidationError("invalid_value", field="images")
    out = []
    for index, image in enumerate(images):
        where = f"images[{index}]"
        if not isinstance(image, dict):
            raise ValidationError("invalid_value", field=where)
        file = _text(image.get("file"), f"{where}.file")
        if not file or file.startswith("/") or ".." in file.split("/"):
            raise ValidationError("invalid_value", field=f"{where}.file")
        alt = image.get("alt") or {}
        if not isinstance(alt, dict) or any(k not in LOCALES or not isinstance(v, str) for k, v in alt.items()):
            raise ValidationError("invalid_value", field=f"{where}.alt")
        out.append({"position": index, "file": file,
                    "licence": _text(image.get("licence"), f"{where}.licence"),
                    "credit": _text(image.get("credit"), f"{where}.credit"),
                    "source_url": _text(image.get("source_url"), f"{where}.source_url"),
                    "alt": json.dumps({k: v.strip() for k, v in alt.items() if v.strip()}, ensure_ascii=False)})
    return out


def _check_unique(db, site_id: int | None, row: dict[str, Any]) -> None:
    other = query_one(db, "SELECT id FROM tourism_sites WHERE code = ? AND id IS NOT ?", [row["code"], site_id])
    if other:
        raise ValidationError("duplicate_code", field="code", value=row["code"])
    if row["marker_id"] is not None:
        other = query_one(db, "SELECT id FROM tourism_sites WHERE marker_id = ? AND id IS NOT ?",
                          [row["marker_id"], site_id])
        if other:
            raise ValidationError("duplicate_code", field="marker_id", marker_id=row["marker_id"])


# --- writing ------------------------------------------------------------------------

def save_site(db, data: dict[str, Any], *, actor: str) -> int:
    """Create or replace a site (matched by slug) with its texts and images.

    The texts and images given replace the stored ones completely, so a
    translation file that was deleted becomes "missing" on the next load.
    A translation without a version counts as made from the current Japanese.
    """
    slug = check_slug(data.get("slug"))
    row = clean_facts(data)
    texts_in = data.get("texts") or {}
    if not isinstance(texts_in, dict):
        raise ValidationError("invalid_value", field="texts")
    for locale in texts_in:
        if locale not in LOCALES:
            raise ValidationError("invalid_locale", field=f"texts.{locale}", locale=str(locale)[:20])
    if "ja" not in texts_in or not isinstance(texts_in["ja"], dict):
        raise ValidationError("site_text_missing", field="texts.ja")
    texts = {loc: clean_text(loc, fields or {}, prefix=f"texts.{loc}.") for loc, fields in texts_in.items()}
    ja_version = texts["ja"]["version"] or 1
    texts["ja"]["version"] = ja_version
    for locale, text in texts.items():
        if locale == "ja":
            continue
        if text["version"] is None:
            text["version"] = ja_version
        elif text["version"] > ja_version:
            # It cannot translate a Japanese text that does not exist yet.
            raise ValidationError("invalid_value", field=f"texts.{locale}.version")
    images = _clean_images(data.get("images"))
    now = timeutil.now().isoformat()
    row["updated_at"] = now
    with write_transaction(db):
        existing = query_one(db, "SELECT id FROM tourism_sites WHERE slug = ?", [slug])
        site_id = existing["id"] if existing else None
        _check_unique(db, site_id, row)
        if site_id is None:
            cols = ["slug", *row]
            cur = db.conn.execute(f"INSERT INTO tourism_sites ({', '.join(cols)}) "
                                  f"VALUES ({', '.join('?' for _ in cols)})", [slug, *row.values()])
            site_id = cur.lastrowid
            action = "create"
        else:
            db.conn.execute(f"UPDATE tourism_sites SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                            [*row.values(), site_id])
            action = "update"
        db.conn.execute("DELETE FROM tourism_site_texts WHERE site_id = ?", [site_id])
        for locale, text in texts.items():
            _insert_text(db, site_id, locale, text, now)
        db.conn.execute("DELETE FROM tourism_site_images WHERE site_id = ?", [site_id])
        for image in images:
            db.conn.execute("INSERT INTO tourism_site_images (site_id, position, file, licence, credit, "
                            "source_url, alt) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [site_id, image["position"], image["file"], image["licence"], image["credit"],
                             image["source_url"], image["alt"]])
        audit.record(db, actor, action, "tourism_site", site_id, slug=slug, locales=sorted(texts))
    return site_id


def _insert_text(db, site_id: int, locale: str, text: dict[str, Any], now: str) -> None:
    cols = ["site_id", "locale", *TEXT_FIELDS, "version", "updated_at"]
    values = [site_id, locale, *(text[f] for f in TEXT_FIELDS), text["version"], now]
    db.conn.execute(f"INSERT OR REPLACE INTO tourism_site_texts ({', '.join(cols)}) "
                    f"VALUES ({', '.join('?' for _ in cols)})", values)


def _site_id(db, slug: str) -> int:
    row = query_one(db, "SELECT id FROM tourism_sites WHERE slug = ?", [slug])
    if not row:
        raise NotFound("site_not_found", slug=str(slug)[:60])
    return row["id"]


def update_site_text(db, slug: str, locale: str, fields: dict[str, Any], *, actor: str,
                     minor: bool = False) -> None:
    """Edit one language's text (creating it if it was missing).

    Japanese: if any field that translations carry (everything but kana)
    changes, the Japanese version goes up by one and every translation becomes
    stale.  ``minor=True`` (a typo fix staff say does not change the meaning)
    keeps the version, as the file format's "raise it when the meaning
    changes" rule does.  Any other language: the edit is taken as a review
    against the current Japanese, so its version becomes the Japanese version.
    """
    if locale not in LOCALES:
        raise ValidationError("invalid_locale", field="locale", locale=str(locale)[:20])
    fields = {k: v for k, v in fields.items() if k != "version"}
    with write_transaction(db):
        site_id = _site_id(db, slug)
        current = query_one(db, "SELECT * FROM tourism_site_texts WHERE site_id = ? AND locale = ?",
                            [site_id, locale]) or {}
        merged = {f: current.get(f, "") for f in TEXT_FIELDS}
        merged.update(fields)
        text = clean_text(locale, merged)
        ja = query_one(db, "SELECT version FROM tourism_site_texts WHERE site_id = ? AND locale = 'ja'",
                       [site_id])
        ja_version = ja["version"] if ja else 1
        if locale == "ja":
            changed = any(text[f] != (current.get(f) or "") for f in MEANING_FIELDS)
            text["version"] = ja_version + 1 if (current and changed and not minor) else ja_version
        else:
            text["version"] = ja_version
        _insert_text(db, site_id, locale, text, timeutil.now().isoformat())
        db.conn.execute("UPDATE tourism_sites SET updated_at = ? WHERE id = ?", [timeutil.now().isoformat(), site_id])
        audit.record(db, actor, "update_text", "tourism_site", site_id, locale=locale, version=text["version"],
                     fields=sorted(k for k in fields if k in TEXT_FIELDS))


def update_site_facts(db, slug: str, fields: dict[str, Any], *, actor: str) -> None:
    """Edit the language-neutral facts; fields not given keep their values."""
    unknown = set(fields) - set(FACT_FIELDS)
    if unknown:
        raise ValidationError("invalid_value", field=sorted(unknown)[0])
    with write_transaction(db):
        site_id = _site_id(db, slug)
        current = _decode(query_one(db, "SELECT * FROM tourism_sites WHERE id = ?", [site_id]))
        merged = {k: current[k] for k in FACT_FIELDS}
        merged.update(fields)
        if merged.get("coord_quality") == "missing" and "coord_quality" in fields:
            # Choosing "missing" on the form clears a stale coordinate unless
            # the same edit typed a new one (which is then an error).
            for key in ("lat", "lon"):
                if key not in fields:
                    merged[key] = None
        row = clean_facts(merged)
        _check_unique(db, site_id, row)
        row["updated_at"] = timeutil.now().isoformat()
        db.conn.execute(f"UPDATE tourism_sites SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                        [*row.values(), site_id])
        changed = sorted(k for k in FACT_FIELDS if k in fields and _decode_value(k, row[k]) != current[k])
        audit.record(db, actor, "update_facts", "tourism_site", site_id, fields=changed)


# --- reading ------------------------------------------------------------------------

def _decode_value(key: str, value: Any) -> Any:
    if key == "categories":
        return value.split() if value else []
    if key == "sources":
        return json.loads(value or "[]")
    if key in ("fee_free", "published"):
        return bool(value)
    return value


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("categories", "sources", "fee_free", "published"):
        out[key] = _decode_value(key, row[key])
    return out


def fallback_chain(locale: str) -> tuple[str, ...]:
    if locale not in FALLBACK:
        raise ValidationError("invalid_locale", field="locale", locale=str(locale)[:20])
    return FALLBACK[locale]


def pick_text(texts: dict[str, dict], locale: str) -> tuple[str | None, dict | None]:
    """The text to show for ``locale`` from {locale: row}: (locale used, row)."""
    for candidate in fallback_chain(locale):
        if candidate in texts:
            return candidate, texts[candidate]
    for candidate in LOCALES:  # not reachable while ja is required
        if candidate in texts:
            return candidate, texts[candidate]
    return None, None


def is_stale(texts: dict[str, dict], locale: str | None) -> bool:
    if not locale or locale == "ja" or "ja" not in texts or locale not in texts:
        return False
    return texts[locale]["version"] < texts["ja"]["version"]


def _texts_by_site(db, site_ids: list[int] | None = None) -> dict[int, dict[str, dict]]:
    sql = "SELECT * FROM tourism_site_texts"
    params: list[Any] = []
    if site_ids is not None:
        if not site_ids:
            return {}
        sql += f" WHERE site_id IN ({', '.join('?' for _ in site_ids)})"
        params = list(site_ids)
    out: dict[int, dict[str, dict]] = {}
    for row in db.query(sql, params):
        out.setdefault(row["site_id"], {})[row["locale"]] = row
    return out


def get_site(db, slug: str, locale: str) -> dict[str, Any]:
    """Everything a site page needs, in ``locale`` or its best fallback."""
    chain = fallback_chain(locale)
    row = query_one(db, "SELECT * FROM tourism_sites WHERE slug = ?", [slug])
    if not row:
        raise NotFound("site_not_found", slug=str(slug)[:60])
    site = _decode(row)
    texts = _texts_by_site(db, [row["id"]]).get(row["id"], {})
    used, text = pick_text(texts, locale)
    text = text or {}
    for key in ("name", "summary", "hours", "closed", "fee", "access", "parking", "barrier_free"):
        site[key] = text.get(key, "")
    site["kana"] = texts.get("ja", {}).get("kana", "")
    site["body_html"] = markdown.render(text.get("body_md", ""))
    site["text_locale"] = used
    site["fallback"] = used != locale
    site["stale"] = is_stale(texts, used)
    site["names"] = {loc: texts[loc]["name"] for loc in LOCALES if loc in texts}
    site["available_locales"] = [loc for loc in LOCALES if loc in texts]
    site["images"] = []
    for image in db.query("SELECT * FROM tourism_site_images WHERE site_id = ? ORDER BY position", [row["id"]]):
        alts = json.loads(image["alt"] or "{}")
        alt = next((alts[c] for c in chain if alts.get(c)), alts.get("ja", ""))
        site["images"].append({"file": image["file"], "licence": image["licence"], "credit": image["credit"],
                               "source_url": image["source_url"], "alt": alt})
    site["map_ok"] = row["coord_quality"] == "sourced"
    return site


def list_sites(db, locale: str, *, category: str | None = None, district: str | None = None,
               include_unpublished: bool = False) -> list[dict[str, Any]]:
    """Sites in ``sort_order`` with their name and summary in ``locale`` (or its fallback)."""
    fallback_chain(locale)
    where, params = [], []
    if not include_unpublished:
        where.append("published = 1")
    if category:
        # categories is a space-separated list: pad with spaces to match whole codes.
        where.append("(' ' || categories || ' ') LIKE ?")
        params.append(f"% {category} %")
    if district:
        where.append("district = ?")
        params.append(district)
    sql = "SELECT * FROM tourism_sites"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY sort_order, slug"
    rows = list(db.query(sql, params))
    texts = _texts_by_site(db, [r["id"] for r in rows])
    out = []
    for row in rows:
        site_texts = texts.get(row["id"], {})
        used, text = pick_text(site_texts, locale)
        text = text or {}
        out.append({
            "id": row["id"], "slug": row["slug"], "code": row["code"], "marker_id": row["marker_id"],
            "name": text.get("name", ""), "summary": text.get("summary", ""),
            "categories": _decode_value("categories", row["categories"]), "district": row["district"],
            "lat": row["lat"], "lon": row["lon"], "coord_quality": row["coord_quality"],
            "map_ok": row["coord_quality"] == "sourced", "text_locale": used, "fallback": used != locale,
            "stale": is_stale(site_texts, used), "published": bool(row["published"]),
        })
    return out


def site_by_code(db, code: str) -> dict[str, Any] | None:
    """The site whose sign shows ``code``; typed variants ("dt-07", "DT 07") match."""
    wanted = normalize_code(code)
    if not wanted:
        return None
    return query_one(db, "SELECT id, slug, code FROM tourism_sites WHERE code = ?", [wanted])


def translation_status(db, slug: str) -> list[dict[str, Any]]:
    """For each locale: current, stale or missing, with its version and the Japanese version."""
    site_id = _site_id(db, slug)
    texts = _texts_by_site(db, [site_id]).get(site_id, {})
    return status_from_texts(texts)


def status_from_texts(texts: dict[str, dict]) -> list[dict[str, Any]]:
    ja_version = texts["ja"]["version"] if "ja" in texts else None
    out = []
    for locale in LOCALES:
        text = texts.get(locale)
        if text is None:
            state, version = "missing", None
        else:
            version = text["version"]
            state = "stale" if (locale != "ja" and ja_version is not None and version < ja_version) else "current"
        out.append({"locale": locale, "state": state, "version": version, "ja_version": ja_version})
    return out


def all_translation_status(db) -> dict[int, list[dict[str, Any]]]:
    """translation_status for every site at once, keyed by site id (staff list)."""
    texts = _texts_by_site(db)
    ids = [r["id"] for r in db.query("SELECT id FROM tourism_sites")]
    return {site_id: status_from_texts(texts.get(site_id, {})) for site_id in ids}


def site_texts(db, slug: str) -> dict[str, dict[str, Any]]:
    """The stored texts of a site, {locale: row} (staff editing)."""
    site_id = _site_id(db, slug)
    return _texts_by_site(db, [site_id]).get(site_id, {})


def category_codes(db) -> list[str]:
    """The category codes used by at least one published site, in the vocabulary's order."""
    used: set[str] = set()
    for row in db.query("SELECT categories FROM tourism_sites WHERE published = 1"):
        used.update((row["categories"] or "").split())
    return [c for c in CATEGORIES if c in used] + sorted(used - set(CATEGORIES))
