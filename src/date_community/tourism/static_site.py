"""Where each public tourism page lives in a static export (``date-community export-static``).

One scheme, shared by the exporter (``webapp/static_export.py``) and the QR
landing (``/q/<code>`` redirects to the static host when STATIC_BASE_URL is set),
so a sign always leads to a file that exists.

Every page is a file named ``index.html`` in a folder per language:
``ja/sites/<slug>/index.html``, ``en/tours/<slug>/index.html``, ``ko/map/index.html``.
Links name the file itself, not the folder: object stores and some CDNs serve
no ``index.html`` for a folder, and a file URL works on every one of them.
Links inside the export are relative, so the folder can be served from any
host and any sub-path.
"""
from __future__ import annotations

from urllib.parse import quote

INDEX = "index.html"


def _slug(slug: str) -> str:
    return quote(slug, safe="")


def site_list(locale: str) -> str:
    return f"{locale}/sites/{INDEX}"


def site_page(slug: str, locale: str) -> str:
    return f"{locale}/sites/{_slug(slug)}/{INDEX}"


def site_ar(slug: str, locale: str) -> str:
    return f"{locale}/sites/{_slug(slug)}/ar/{INDEX}"


def tour_list(locale: str) -> str:
    return f"{locale}/tours/{INDEX}"


def tour_page(slug: str, locale: str) -> str:
    return f"{locale}/tours/{_slug(slug)}/{INDEX}"


def tour_script(slug: str, locale: str) -> str:
    # Beside its page: the popup links in it are relative to the page that runs it.
    return f"{locale}/tours/{_slug(slug)}/map.js"


def site_map(locale: str) -> str:
    return f"{locale}/map/{INDEX}"


def map_script(locale: str) -> str:
    return f"{locale}/map/sites.js"


def nearby_json(locale: str) -> str:
    return f"{locale}/api/sites/nearby.json"


def geojson(locale: str) -> str:
    return f"{locale}/api/sites.geojson"


def opendata_page(locale: str) -> str:
    return f"{locale}/opendata/{INDEX}"


def opendata_file(name: str) -> str:
    return f"opendata/{name}"


def site_url(static_base: str, slug: str, locale: str) -> str:
    """The absolute address of a site's page on the static host."""
    return f"{static_base.rstrip('/')}/{site_page(slug, locale)}"
