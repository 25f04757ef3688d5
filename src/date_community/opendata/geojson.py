"""The sites as a GeoJSON FeatureCollection (RFC 7946).

RFC 7946 puts longitude first: ``[lon, lat]`` in WGS84 decimal degrees, the
opposite of the "lat, lon" order people write.  Leaflet's ``L.geoJSON``,
QGIS and every other GeoJSON reader expect it that way.

Every published site is a feature, including those whose location is not
known yet: their ``geometry`` is ``null``, which RFC 7946 (section 3.2)
allows for an "unlocated" feature.  Keeping them in the collection means a
consumer sees the complete list of sites and can tell "no location yet" from
"no such site"; a map simply skips null geometries.  ``coord_quality`` says
how far to trust a point: ``sourced`` comes from a cited source, ``approx``
is only roughly right and should not be drawn as an exact pin, ``missing``
has no point at all.
"""
from __future__ import annotations

from typing import Any

from ..i18n import LOCALES
from ..tourism import sites as sitesmod
from . import sitedata


def export_geojson(db, base_url: str = "", locale: str = "ja") -> dict[str, Any]:
    """A FeatureCollection dict; ``name`` and ``summary`` in ``locale`` or its fallback."""
    chain = sitesmod.fallback_chain(locale)  # raises invalid_locale for an unknown one
    features = []
    for site in sitedata.published_sites(db):
        texts = site["texts"]
        used = next((loc for loc in chain if loc in texts), "ja")
        text = texts.get(used, {})
        geometry = None
        if sitedata.has_coordinate(site):
            geometry = {"type": "Point", "coordinates": [float(site["lon"]), float(site["lat"])]}
        url = sitedata.site_url(base_url, site["slug"])
        features.append({
            "type": "Feature",
            "id": site["slug"],
            "geometry": geometry,
            "properties": {
                "slug": site["slug"],
                "code": site["code"],
                "name": text.get("name", ""),
                "summary": text.get("summary", ""),
                "text_locale": used,
                "names": {loc: texts[loc]["name"] for loc in LOCALES if loc in texts},
                "url": url if locale == "ja" else f"{url}?lang={locale}",
                "categories": list(site["categories"]),
                "district": site["district"],
                "address": site["address"],
                "coord_quality": site["coord_quality"],
            },
        })
    return {"type": "FeatureCollection", "features": features}
