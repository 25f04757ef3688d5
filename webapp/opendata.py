"""Open data downloads: the city's sites and classes in the standard layouts.

Every file is built by the library (date_community.opendata) on request; the
views only pick the base URL and the date range and set the download headers.
The files hold no personal data, so anyone may fetch them, also from other
websites (Access-Control-Allow-Origin: *; no cookies are involved).
"""
from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext as _

from date_community import opendata

from . import fields as parse
from . import links
from .database import get_db
from .locale import select_locale

bp = Blueprint("opendata", __name__)

LICENCE_NAME = "CC BY 4.0"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/deed.ja"
# Files change when staff edit sites or sessions; a few minutes' staleness is fine.
MAX_AGE_SECONDS = 300


def base_url() -> str:
    """Where links in the files point: BASE_URL, else the host this request came to."""
    return links.base_url()


def _download(data: bytes, mimetype: str, filename: str | None = None, *, has_links: bool = True) -> Response:
    response = Response(data, mimetype=mimetype)
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Access-Control-Allow-Origin"] = "*"
    if has_links and links.from_request_host():
        # The links were built from this request's Host header (no BASE_URL):
        # a shared cache must not keep a copy a forged Host could have made.
        response.headers["Cache-Control"] = f"private, max-age={MAX_AGE_SECONDS}"
        response.vary.add("Host")
    else:
        response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_SECONDS}"
    return response


def _csv(data: bytes, filename: str, *, has_links: bool = True) -> Response:
    # The charset parameter is informative only: the BOM already says UTF-8.
    return _download(data, "text/csv; charset=utf-8", filename, has_links=has_links)


@bp.get("/opendata")
def index():
    first, last = opendata.next_twelve_months()
    return render_template("opendata/index.html", title=_("Open data"), licence_name=LICENCE_NAME,
                           licence_url=LICENCE_URL, tourism_file=opendata.TOURISM_FILE,
                           i18n_file=opendata.TOURISM_I18N_FILE, events_file=opendata.EVENTS_FILE,
                           tourism_columns=opendata.TOURISM_COLUMNS, event_columns=opendata.EVENT_COLUMNS,
                           events_from=first, events_to=last)


@bp.get("/opendata/tourism.csv")
def tourism_csv():
    return _csv(opendata.export_tourism_csv(get_db(), base_url()), opendata.TOURISM_FILE)


@bp.get("/opendata/tourism-i18n.csv")
def tourism_i18n_csv():
    return _csv(opendata.export_tourism_i18n_csv(get_db()), opendata.TOURISM_I18N_FILE, has_links=False)


def _date_arg(name: str, default: dt.date) -> dt.date:
    value = request.args.get(name, "").strip()
    if not value:
        return default
    day = parse.date(value)
    if day is None:
        abort(400)
    return day


@bp.get("/opendata/events.csv")
def events_csv():
    """Sessions from ``from`` to ``to`` (YYYY-MM-DD, both included); default the next twelve months."""
    first, last = opendata.next_twelve_months()
    date_from, date_to = _date_arg("from", first), _date_arg("to", last)
    if date_to < date_from or (date_to - date_from).days > 3 * 366:
        abort(400)  # a reversed or decades-long range is a mistake, not a request
    data = opendata.export_events_csv(get_db(), date_from, date_to, base_url(),
                                      contact_phone=current_app.config.get("OFFICE_PHONE", ""))
    return _csv(data, opendata.EVENTS_FILE)


@bp.get("/api/sites.geojson")
def sites_geojson():
    """RFC 7946 GeoJSON; names in ?lang= (or the visitor's language)."""
    collection = opendata.export_geojson(get_db(), base_url(), select_locale())
    body = json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _download(body, "application/geo+json")
