"""The QR signs' landing URL: ``/q/<code>`` counts a scan and sends the visitor on.

A sign's QR code carries only the app's address and the site's short code,
so the same printed sign serves every language: the language is resolved here
exactly as on every other page (``?lang=``, the cookie, Accept-Language with
zh-TW → zh_Hant …) and the visitor is redirected to the site page in it.

Counting goes through a per-process ``scans.SignScans`` (see there for
why): scans are written together every ``SCAN_FLUSH_SECONDS`` (2 s; 0 in
tests, i.e. at once), when staff open the statistics, and when the process
exits.

Privacy: the scan is counted as (site, day, language) and nothing else; these
responses set no cookie (see locale.remember_choice) and are ``no-store``, so
a browser or proxy never answers a second scan from its cache — every scan
reaches the counter.
"""
from __future__ import annotations

import atexit
import logging
import re
import threading
import time
import weakref
from urllib.parse import quote, urlencode

from flask import Blueprint, current_app, make_response, redirect, render_template, request
from flask_babel import gettext as _

from date_community import i18n
from date_community.errors import DateCommunityError
from date_community.tourism import scans, sites, static_site

from . import security
from .database import get_db
from .locale import select_locale

bp = Blueprint("signs", __name__)
log = logging.getLogger(__name__)


@bp.record_once
def _make_counter(state) -> None:
    app = state.app
    interval = app.config.get("SCAN_FLUSH_SECONDS", 0.0 if app.config.get("TESTING") else 2.0)
    counter = scans.SignScans(app.config["DATABASE"], float(interval))
    app.extensions["sign_scans"] = counter

    def flush_quiet_periods() -> None:
        # Scans are normally written by the request that finds a flush due;
        # this covers the last scans before a quiet spell.
        while True:
            time.sleep(counter.buffer.interval)
            try:
                counter.flush()
            except Exception as exc:  # kept in the buffer; tried again next time
                log.warning("scan counts not written yet: %s", type(exc).__name__)

    # A weak reference: test suites build many apps, and the exit hook must
    # not keep each one's counter (and its connections) alive.
    ref = weakref.ref(counter)
    atexit.register(lambda: ref() is not None and ref().flush())
    if counter.buffer.interval > 0:
        threading.Thread(target=flush_quiet_periods, name="scan-flush", daemon=True).start()


def sign_scans() -> scans.SignScans:
    return current_app.extensions["sign_scans"]


# What a typed code may look like after normalising ("dt-07" → "DT07").
_CODE_SHAPE = re.compile(r"^[A-Z0-9]{2,12}$")


def _site_page(slug: str, locale: str) -> str:
    # With STATIC_BASE_URL the page is the static export's copy of it
    # (date-community export-static): the scan is counted here, the read burst
    # goes to the static host.
    static_base = current_app.config.get("STATIC_BASE_URL")
    if static_base:
        return static_site.site_url(static_base, slug, locale)
    return f"/sites/{quote(slug)}?{urlencode({'lang': locale})}"


def _entry_page(*, typed: str = "", errors: dict | None = None, not_found: bool = False, status: int = 200):
    locale = select_locale()
    body = render_template(
        "signs/enter.html", title=_("We could not find that sign") if not_found else _("Enter the code on the sign"),
        typed=typed, errors=errors or {}, not_found=not_found, sites=sites.list_sites(get_db(), locale),
        lang_chosen=i18n.normalize_locale(request.args.get("lang")))
    return security.no_store(make_response(body, status))


@bp.get("/q/<code>")
def scan(code: str):
    locale = select_locale()
    try:
        site = sign_scans().scan(code, locale)
    except DateCommunityError as exc:
        # Counts that could not be written (database busy) must not stop the
        # visitor: they still get the page, and the counts stay in the
        # buffer for the next flush.
        log.warning("scan counts not written yet: %s", exc.code)
        site = sites.site_by_code(get_db(), code)
    if site is None:
        return _entry_page(typed=code[:40], not_found=True, status=404)
    return security.no_store(redirect(_site_page(site["slug"], locale), 302))


@bp.get("/q")
def enter():
    typed = request.args.get("code")
    if typed is None:
        return _entry_page()
    code = sites.normalize_code(typed)
    if not code:
        return _entry_page(errors={"code": _("Enter the code printed on the sign, like DT07.")})
    if not _CODE_SHAPE.match(code):
        return _entry_page(typed=typed[:40], errors={
            "code": _("A code has only letters and numbers, like DT07. Check the code on the sign.")})
    target = f"/q/{quote(code)}"
    chosen = i18n.normalize_locale(request.args.get("lang"))
    if chosen:
        target += "?" + urlencode({"lang": chosen})
    return security.no_store(redirect(target, 302))
