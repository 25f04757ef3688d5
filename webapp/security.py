"""Security headers and safe redirects (throttles: webapp/throttle.py)."""
from __future__ import annotations

from urllib.parse import urlsplit


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
# Structured data (<script type="application/ld+json"> on site pages) needs no
# nonce or hash: a script element whose type is not JavaScript is a data block,
# which browsers never run, so script-src is never consulted for it.  Adding a
# nonce would only widen the policy (and a nonce cannot live in cached pages).
# tests/browser/test_tourism_pages.py checks Chromium reports no violation.


def csp_with_images_from(*origins: str) -> str:
    """The policy with more image origins, for the pages that draw a map.

    Map tiles come from the tile server; only map pages get this header, so
    every other page keeps ``img-src 'self' data:``.
    """
    extended = CSP.replace("img-src 'self' data:", "img-src 'self' data: " + " ".join(origins), 1)
    if origins and extended == CSP:
        raise RuntimeError("the CSP has no img-src 'self' data: directive to extend")
    return extended


def add_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(self), microphone=()")
    return response


def no_store(response):
    """Pages with personal data must not be kept by the browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site absolute paths: ``/staff`` yes; ``//evil``, ``/\\evil``, ``https://evil`` no."""
    if not target:
        return fallback
    target = target.strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return fallback
    return target
