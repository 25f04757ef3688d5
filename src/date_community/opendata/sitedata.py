"""The tourist sites as the exports see them: facts, every stored text, first image.

The exports read the tables directly instead of going through
``tourism.sites.get_site``, because a file must carry exactly what is stored
per language: an English column is empty when there is no English text, never
filled with the Japanese fallback a web page would show.
"""
from __future__ import annotations

import json
from typing import Any

# Public pages (webapp) put a site at /sites/<slug>; exported rows link there.
SITE_PATH = "/sites/{slug}"
PHOTO_PATH = "/sites/photos/{file}"


def site_url(base_url: str, slug: str) -> str:
    return base_url.rstrip("/") + SITE_PATH.format(slug=slug)


def image_url(base_url: str, file: str) -> str:
    """An image's address: as stored when absolute, else where the app serves photos.

    Image files are named relative to content/ (``images/x.jpg``); the public
    pages serve content/images/ under ``/sites/photos/``.
    """
    if file.startswith(("http://", "https://")):
        return file
    name = file.lstrip("/")
    name = name[len("images/"):] if name.startswith("images/") else name
    return base_url.rstrip("/") + PHOTO_PATH.format(file=name)


def published_sites(db, *, include_unpublished: bool = False) -> list[dict[str, Any]]:
    """Every site in display order: the stored columns plus ``texts`` {locale: row} and ``image``."""
    sql = "SELECT * FROM tourism_sites"
    if not include_unpublished:
        sql += " WHERE published = 1"
    sites = [dict(row) for row in db.query(sql + " ORDER BY sort_order, slug")]
    texts: dict[int, dict[str, dict]] = {}
    for row in db.query("SELECT * FROM tourism_site_texts"):
        texts.setdefault(row["site_id"], {})[row["locale"]] = row
    images: dict[int, dict] = {}
    for row in db.query("SELECT * FROM tourism_site_images ORDER BY site_id, position"):
        images.setdefault(row["site_id"], row)
    for site in sites:
        site["texts"] = texts.get(site["id"], {})
        site["image"] = images.get(site["id"])
        site["categories"] = (site["categories"] or "").split()
        site["sources"] = json.loads(site["sources"] or "[]")
    return sites


def has_coordinate(site: dict[str, Any]) -> bool:
    """Sourced and approximate coordinates are published; "missing" has none to publish."""
    return site["coord_quality"] in ("sourced", "approx") and site["lat"] is not None and site["lon"] is not None


def coordinate_text(value: float) -> str:
    # The shortest form that reads back as the same float: 37.81953, not 37.819530000000001.
    return repr(float(value))
