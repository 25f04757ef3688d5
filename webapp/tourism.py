"""Public pages for visitors: sights, walking tours and the map.

Tourists arrive from a QR sign, often on a phone with a weak signal, in one
of five languages.  The pages are plain HTML that works without JavaScript;
the read-aloud button and the map are additions on top.  Every text comes
from ``date_community.tourism`` in the visitor's language or, when a site has
no translation yet, in the best other language — the page then says so and
marks that text with its real language, so screen readers and the read-aloud
voice pronounce it correctly.

Anonymous visitors get stored copies (``@cached_page``).  Views that need a
different Content-Security-Policy (the map tiles) set the header outside the
cached part, because a cached copy is only the HTML.
"""
from __future__ import annotations


from babel.dates import get_day_names
from babel.lists import format_list
from flask import Blueprint, Response, abort, current_app, render_template, request, send_from_directory, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from date_community import content, i18n
from date_community.errors import NotFound
from date_community.schema import DISTRICTS
from date_community.tourism import geo, sites, tours

from . import security, tourism_map
from .database import get_db
from .locale import select_locale
from .pagecache import cached_page
from .public import DISTRICT_NAMES

bp = Blueprint("tourism", __name__)

CATEGORY_NAMES = {
    "nature": _l("Nature"),
    "history": _l("History"),
    "shrine": _l("Shrines and temples"),
    "museum": _l("Museums"),
    "park": _l("Parks"),
    "food": _l("Food"),
    "roadside-station": _l("Roadside stations"),
    "flowers": _l("Flowers"),
    "hiking": _l("Hiking"),
    "kids": _l("For children"),
    "information": _l("Visitor information"),
}

# Each language named in the page's language, for "shown in Japanese".
LANGUAGE_NAMES = {
    "ja": _l("Japanese"),
    "en": _l("English"),
    "zh_Hans": _l("Simplified Chinese"),
    "zh_Hant": _l("Traditional Chinese"),
    "ko": _l("Korean"),
}

COMPASS_WORDS = {
    "N": _l("north"),
    "NE": _l("north-east"),
    "E": _l("east"),
    "SE": _l("south-east"),
    "S": _l("south"),
    "SW": _l("south-west"),
    "W": _l("west"),
    "NW": _l("north-west"),
}

# open_days is written the Japanese open-data way, one character per day.
_DAY_CHARS = "月火水木金土日"
_SCHEMA_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")

MAP_CSP = security.csp_with_images_from(tourism_map.GSI_TILE_HOST)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


# --- small helpers for the templates ---------------------------------------------------------

def distance_text(metres: float | int | None) -> str:
    if metres is None:
        return ""
    if metres < 1000:
        return _("%(n)s m", n=format_decimal(int(round(metres, -1)) or int(metres)))
    return _("%(n)s km", n=format_decimal(round(metres / 1000, 1)))


def walk_text(metres: float | int | None, minutes: int | None = None) -> str:
    """"1.2 km, about 18 min on foot" (an empty string when unknown)."""
    if metres is None:
        return ""
    if minutes is None:
        minutes = geo.walking_minutes(metres)
    return _("%(distance)s, about %(minutes)s min on foot", distance=distance_text(metres), minutes=minutes)


def open_days_text(days: str) -> str:
    """"月水木金土日" → "Monday, Wednesday, …" in the page's language."""
    if not days:
        return ""
    locale = select_locale()
    weekdays = [d for d in _DAY_CHARS if d in days]
    if len(weekdays) == 7:
        names = [_("every day")]
    else:
        wide = get_day_names("wide", locale=locale)
        names = [wide[_DAY_CHARS.index(d)] for d in weekdays]
    if "祝" in days:
        names.append(_("public holidays"))
    return format_list(names, locale=locale)


def hours_text(opens: str, closes: str) -> str:
    if not opens or not closes:
        return ""
    return f"{opens}〜{closes}" if select_locale() == "ja" else f"{opens}–{closes}"


def schema_opening_hours(site: dict) -> str | None:
    """schema.org openingHours ("Mo,We,Th 09:00-17:00"), only when fully known."""
    days = [_SCHEMA_DAYS[_DAY_CHARS.index(d)] for d in _DAY_CHARS if d in (site["open_days"] or "")]
    if not days or not site["opens"] or not site["closes"]:
        return None
    return f"{','.join(days)} {site['opens']}-{site['closes']}"


def _base_url() -> str:
    """The public address for absolute links (hreflang, JSON-LD), or "" for
    root-relative ones.  Never taken from the request's Host header: pages are
    cached and shared, and a forged Host must not end up in them."""
    return (current_app.config.get("BASE_URL") or "").rstrip("/")


def _allow_map_tiles(html: str) -> Response:
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = MAP_CSP
    return response


def _script_response(text: str) -> Response:
    return Response(text, mimetype="text/javascript")


def _site_url(slug: str) -> str:
    return url_for("tourism.site", slug=slug, lang=select_locale())


def _approx_label() -> str:
    return _("Approximate location")


@bp.app_context_processor
def tourism_names():
    return {"category_names": CATEGORY_NAMES, "language_names": LANGUAGE_NAMES, "compass_words": COMPASS_WORDS,
            "distance_text": distance_text, "walk_text": walk_text}


# --- sites -----------------------------------------------------------------------------

@bp.get("/sites")
@cached_page()
def site_list():
    db = get_db()
    locale = select_locale()
    category = request.args.get("category", "")
    district = request.args.get("district", "")
    # An unknown value (an old link, a typo) means "no filter", not an error page.
    if category not in CATEGORY_NAMES:
        category = ""
    if district not in DISTRICTS:
        district = ""
    found = sites.list_sites(db, locale, category=category or None, district=district or None)
    category_options = [("", _("All kinds"))] + [(c, str(CATEGORY_NAMES[c])) for c in CATEGORY_NAMES]
    district_options = [("", _("All areas"))] + [(d, str(DISTRICT_NAMES[d])) for d in DISTRICTS]
    return render_template("tourism/sites.html", sites=found, category=category, district=district,
                           category_options=category_options, district_options=district_options,
                           filtered=bool(category or district), title=_("Sightseeing in Date City"))


def site_or_404(slug: str, locale: str) -> dict:
    try:
        site = sites.get_site(get_db(), slug, locale)
    except NotFound:
        abort(404)
    if not site.get("published", True):
        abort(404)
    return site


def _json_ld(site: dict, url: str) -> dict:
    data = {
        "@context": "https://schema.org",
        "@type": "TouristAttraction",
        "name": site["name"],
        "description": site["summary"],
        "url": url,
        "inLanguage": i18n.HTML_LANG[site["text_locale"]],
    }
    if site["address"]:
        data["address"] = {"@type": "PostalAddress", "streetAddress": site["address"], "addressCountry": "JP"}
    if site["map_ok"]:
        data["geo"] = {"@type": "GeoCoordinates", "latitude": site["lat"], "longitude": site["lon"]}
    if site["fee_free"]:
        data["isAccessibleForFree"] = True
    elif site["fee"]:
        data["isAccessibleForFree"] = False
    hours = schema_opening_hours(site)
    if hours:
        data["openingHours"] = hours
    return data


@bp.get("/sites/<slug>")
@cached_page()
def site(slug: str):
    locale = select_locale()
    s = site_or_404(slug, locale)
    db = get_db()
    following = tours.next_on_tour(db, slug, locale)
    on_tours = [t for t in tours.list_tours(db, locale)
                if slug in {stop["slug"] for stop in tours.get_tour(db, t["slug"], locale)["stops"]}]
    base = _base_url()
    path = url_for("tourism.site", slug=slug)
    alternates = [(i18n.HTML_LANG[code], f"{base}{path}?lang={code}") for code in s["available_locales"]]
    alternates.append(("x-default", f"{base}{path}"))
    facts = {
        "open_days": open_days_text(s["open_days"]),
        "hours": hours_text(s["opens"], s["closes"]),
    }
    return render_template("tourism/site.html", s=s, facts=facts, following=following, on_tours=on_tours,
                           alternates=alternates, json_ld=_json_ld(s, f"{base}{path}?lang={locale}"),
                           text_lang=i18n.HTML_LANG[s["text_locale"] or locale],
                           ar_url=path + "/ar", title=s["name"])


@bp.get("/sites/photos/<path:filename>")
def photo(filename: str):
    """Photos listed in content/ (content/images/…); nothing else is served."""
    if not filename.lower().endswith(PHOTO_SUFFIXES):
        abort(404)
    # The town's own folder: with several towns on one service each app has its CONTENT_DIR.
    folder = content.content_dir(current_app.config.get("CONTENT_DIR") or None) / "images"
    return send_from_directory(folder, filename, max_age=86400)


# --- tours -----------------------------------------------------------------------------

@bp.get("/tours")
@cached_page()
def tour_list():
    found = tours.list_tours(get_db(), select_locale())
    return render_template("tourism/tours.html", tours=found, title=_("Walking tours"))


def _tour_or_404(slug: str) -> dict:
    try:
        return tours.get_tour(get_db(), slug, select_locale())
    except NotFound:
        abort(404)


@bp.get("/tours/<slug>")
def tour(slug: str):
    return _allow_map_tiles(_tour_page(slug))


@cached_page()
def _tour_page(slug: str) -> str:
    t = _tour_or_404(slug)
    on_map = any(stop["lat"] is not None for stop in t["stops"])
    return render_template("tourism/tour.html", t=t, on_map=on_map, map_id=tourism_map.element_id("tour"),
                           map_assets=tourism_map.assets(),
                           text_lang=i18n.HTML_LANG[t["text_locale"] or select_locale()], title=t["name"])


@bp.get("/tours/<slug>/map.js")
def tour_map_script(slug: str):
    return _script_response(_tour_map_script(slug))


@cached_page()
def _tour_map_script(slug: str) -> str:
    t = _tour_or_404(slug)
    return tourism_map.tour_script(t["stops"], _site_url, _approx_label())


# --- the map ---------------------------------------------------------------------------

@bp.get("/map")
def site_map():
    return _allow_map_tiles(_site_map_page())


@cached_page()
def _site_map_page() -> str:
    found = sites.list_sites(get_db(), select_locale())
    return render_template("tourism/map.html", sites=found, map_id=tourism_map.element_id("sites"),
                           map_assets=tourism_map.assets(), title=_("Map of the sights"))


@bp.get("/map/sites.js")
def map_script():
    return _script_response(_map_script())


@cached_page()
def _map_script() -> str:
    found = sites.list_sites(get_db(), select_locale())
    return tourism_map.sites_script(found, _site_url, _approx_label())
