"""Security headers, safe redirects and login throttling."""
from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from flask import request

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


class LoginThrottle:
    """Back off after repeated failures for one (address, username) pair.

    Keying on the pair means an attacker elsewhere cannot lock the real user
    out: only the address that keeps failing has to wait.
    """

    FREE_ATTEMPTS = 5
    BASE_DELAY = 30.0
    MAX_DELAY = 15 * 60.0

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._failures: dict[tuple[str, str], tuple[int, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(username: str) -> tuple[str, str]:
        return (request.remote_addr or "-", (username or "").strip().lower())

    def wait_seconds(self, key: tuple[str, str]) -> int:
        with self._lock:
            count, last = self._failures.get(key, (0, 0.0))
        if count < self.FREE_ATTEMPTS:
            return 0
        delay = min(self.MAX_DELAY, self.BASE_DELAY * 2 ** (count - self.FREE_ATTEMPTS))
        remaining = last + delay - self._clock()
        return max(0, int(remaining + 0.999))

    def failed(self, key: tuple[str, str]) -> None:
        with self._lock:
            count, _ = self._failures.get(key, (0, 0.0))
            self._failures[key] = (count + 1, self._clock())
            if len(self._failures) > 10000:  # bounded memory under a spray attack
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)
