"""The AR view of a site (/sites/<slug>/ar) and the list of sites near the visitor.

The page is first an ordinary page: the site's name, summary and the way to
the next stop of its walking tour, readable without JavaScript or a camera.
The camera is asked for only when the visitor taps "Start AR camera"; only
then does webapp/static/js/ar.js load A-Frame and AR.js (served from
/static/vendor/, never a CDN) and build the scene, which tracks the barcode
marker printed on the site's sign (date_community.tourism.marker).

"Sites near you" asks for the phone's position after a tap and sorts the sites
by distance in the browser, from /api/sites/nearby.json: the position never
leaves the phone.  "Show nearby sites in the camera" (location mode) uses the
same position and list to stand a label in the direction of each site within
PLACES_RADIUS_M, with AR.js's gps-new-camera and gps-new-entity-place.

A-Frame and AR.js need a looser Content-Security-Policy than the rest of the
site; only the AR page gets it (AR_CSP below).
"""
from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, url_for
from flask_babel import gettext as _

from date_community import i18n
from date_community.tourism import geo, marker, sites, tours

from .database import get_db
from .locale import select_locale
from .pagecache import cached_page
from .tourism import COMPASS_WORDS, distance_text, site_or_404

bp = Blueprint("ar", __name__)

# The site-wide policy (security.CSP) with three relaxations, for this page only:
AR_CSP = "; ".join([
    "default-src 'self'",
    # 'unsafe-eval': AR.js bundles ARToolKit compiled with Emscripten, whose glue
    # code builds functions at run time and compiles WebAssembly; without it the
    # tracker never starts.  Scripts still load only from this site.
    "script-src 'self' 'unsafe-eval'",
    # 'unsafe-inline' styles: A-Frame inserts its own <style> element and AR.js
    # sizes the video and canvas it creates with style attributes.  Styles
    # cannot run code.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    # data:: ARToolKit's WebAssembly module is embedded in aframe-ar.js as a
    # data: URL, which it reads with fetch().
    "connect-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

VENDOR = {
    "aframe": "vendor/aframe/aframe-v1.6.0.min.js",
    "arjs": "vendor/arjs/aframe-ar.js",
    # AR.js would fetch the camera model from a remote default URL; ours is local.
    "camera": "vendor/arjs/camera_para.dat",
}

# Location mode places a label in the camera view only for sites within this
# distance: the whole city fits inside it, and a visitor far away (at home, on
# the train) is told there is nothing near instead of seeing labels 200 km off.
PLACES_RADIUS_M = 20_000

# The arrow beside a direction is turned by a CSS class (no style attributes).
ARROW_CLASSES = {point: f"arrow-{point.lower()}" for point in COMPASS_WORDS}


def _direction_text(following: dict) -> str:
    """"1.2 km to the north-east, about 18 minutes on foot" (or "" when unknown)."""
    if following["distance_m"] is None:
        return ""
    return _("%(distance)s to the %(direction)s, about %(minutes)s minutes on foot",
             distance=distance_text(following["distance_m"]),
             direction=COMPASS_WORDS[following["compass"]],
             minutes=geo.walking_minutes(following["distance_m"]))


def _label_next(following: dict | None) -> str:
    """The line drawn over the marker about the next stop."""
    if not following:
        return ""
    if following["distance_m"] is None:
        return _("Next: %(name)s", name=following["name"])
    return _("Next: %(name)s, %(distance)s %(direction)s", name=following["name"],
             distance=distance_text(following["distance_m"]), direction=COMPASS_WORDS[following["compass"]])


@bp.get("/sites/<slug>/ar")
def site_ar(slug: str):
    response = Response(_site_ar_page(slug), mimetype="text/html")
    response.headers["Content-Security-Policy"] = AR_CSP
    return response


@cached_page()
def _site_ar_page(slug: str) -> str:
    locale = select_locale()
    s = site_or_404(slug, locale)
    db = get_db()
    following = tours.next_on_tour(db, slug, locale)
    unplaced = [x for x in sites.list_sites(db, locale) if not x["map_ok"]]
    messages = {
        "found": _("Marker found. The information is shown over the sign."),
        "lost": _("Marker lost. Point the camera at the black square on the sign."),
        "starting": _("Starting the camera…"),
        "looking": _("Camera on. Point it at the black square on the sign."),
        "insecure": _("The camera can only be used on a secure (https) page. The information on this page is "
                      "the same."),
        "nocamera": _("This phone or browser has no camera we can use. The information on this page is the same."),
        "denied": _("The camera was not allowed, so the AR view cannot start. The information on this page is "
                    "the same."),
        "failed": _("The AR view could not start. The information on this page is the same."),
        "stopped": _("Camera off."),
    }
    nearby_messages = {
        "locating": _("Finding where you are…"),
        "done": _("Sites sorted by distance from where you are now."),
        "unsupported": _("This browser cannot tell us where you are."),
        "denied": _("Your location was not allowed, so we cannot sort the sites by distance."),
        "failed": _("We could not find where you are. Please try again outside or later."),
        "metres": _("%(n)s m", n="{n}"),
        "kilometres": _("%(n)s km", n="{n}"),
        "item": _("%(distance)s to the %(direction)s", distance="{distance}", direction="{direction}"),
    }
    # Location mode: the camera with a label standing in the direction of each nearby site.
    places_messages = {
        "locating": nearby_messages["locating"],
        "starting": messages["starting"],
        "placed": _("Sites placed in the camera view: %(n)s. Turn slowly to find their labels.", n="{n}"),
        "noplaces": _("None of our sites with a known location is within %(km)s km of you.",
                      km=PLACES_RADIUS_M // 1000),
        "insecure": messages["insecure"],
        "nocamera": messages["nocamera"],
        "denied": messages["denied"],
        "failed": messages["failed"],
        "unsupported": nearby_messages["unsupported"],
        "locationdenied": _("Your location was not allowed, so the sites cannot be placed in the camera view."),
        "locationfailed": nearby_messages["failed"],
        "stopped": messages["stopped"],
    }
    return render_template(
        "ar/site.html", s=s, following=following, unplaced=unplaced,
        direction=_direction_text(following) if following else "",
        arrow_class=ARROW_CLASSES.get(following["compass"], "") if following and following["compass"] else "",
        text_lang=i18n.HTML_LANG[s["text_locale"] or locale],
        site_url=url_for("tourism.site", slug=slug),
        vendor={key: url_for("static", filename=path) for key, path in VENDOR.items()},
        marker_type=marker.MATRIX_CODE_TYPE, pattern_ratio=marker.PATTERN_RATIO,
        label_next=_label_next(following), messages=messages, nearby_messages=nearby_messages,
        places_messages=places_messages, places_radius_m=PLACES_RADIUS_M,
        compass_words={k: str(v) for k, v in COMPASS_WORDS.items()},
        nearby_url=url_for("ar.nearby", lang=locale),
        title=_("AR view: %(name)s", name=s["name"]))


@bp.get("/api/sites/nearby.json")
def nearby():
    return Response(_nearby_json(), mimetype="application/json")


@cached_page()
def _nearby_json() -> str:
    """Every published site in the page's language; only sites whose coordinate
    is sourced get one (an approximate point would give a wrong distance)."""
    locale = select_locale()
    placed, unplaced = [], []
    for x in sites.list_sites(get_db(), locale):
        entry = {"slug": x["slug"], "name": x["name"], "url": url_for("tourism.site", slug=x["slug"]),
                 "ar_url": url_for("ar.site_ar", slug=x["slug"])}
        if x["map_ok"]:
            placed.append({**entry, "lat": x["lat"], "lon": x["lon"]})
        else:
            unplaced.append({**entry, "coord_quality": x["coord_quality"]})
    return json.dumps({"locale": locale, "sites": placed, "unplaced": unplaced}, ensure_ascii=False)
