"""Choosing the page language: explicit choice, then Accept-Language, then ja.

A ``?lang=`` parameter (the switcher's links) wins and is remembered in a
cookie; it is a display preference, so setting it on a GET changes no data.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import g, request

from date_community import i18n

COOKIE = "lang"
COOKIE_MAX_AGE = 60 * 60 * 24 * 365


def select_locale() -> str:
    if "locale" in g:
        return g.locale
    chosen = i18n.normalize_locale(request.args.get("lang"))
    if chosen:
        g.set_lang_cookie = chosen
    chosen = chosen or i18n.normalize_locale(request.cookies.get(COOKIE))
    chosen = chosen or i18n.negotiate(request.headers.get("Accept-Language"))
    g.locale = chosen or i18n.DEFAULT_LOCALE
    return g.locale


def remember_choice(response):
    chosen = g.get("set_lang_cookie")
    # The QR landing pages (/q/<code>, /q) set no cookie at all: a scan is
    # counted by site, day and language only, and its response must not
    # leave anything on the visitor's phone.  The site page they redirect to
    # carries ?lang= and remembers the choice there.
    if chosen and (request.path == "/q" or request.path.startswith("/q/")):
        chosen = None
    if chosen:
        response.set_cookie(COOKIE, chosen, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True,
                            secure=request.is_secure)
    return response


def switch_url(locale: str) -> str:
    """The current page in another language."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [locale]
    return request.path + "?" + urlencode(args, doseq=True)


def html_lang() -> str:
    return i18n.HTML_LANG[select_locale()]
