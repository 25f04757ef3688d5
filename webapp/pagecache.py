"""A cache of rendered public pages for anonymous visitors.

Public pages (class lists, tourism pages) are the same for every anonymous
visitor in one language, and are read far more often than the data changes —
a tour bus at a QR sign is a burst of identical requests.  Rendering them with
Jinja and Babel costs milliseconds; serving a stored copy costs microseconds.

Freshness: each entry remembers the database's change counter
(``page_version``, raised by triggers on every table a public page is built
from, whichever process writes) at the time it was rendered, and is reused
only while the counter is unchanged.  Writes no public page shows (QR scan
counts, logins, the audit log) leave it alone, so a burst of scans at a sign
does not empty the cache.  A short time-to-live covers what depends on the
clock ("upcoming" lists).
"""
from __future__ import annotations

from date_community.sqlitedriver import sqlite3
import threading
import time
from collections import OrderedDict
from functools import wraps

from flask import current_app, request, session
from flask_login import current_user

from .locale import select_locale

_local = threading.local()
_lock = threading.Lock()
MAX_ENTRIES = 2000


def _content_version(path: str) -> int:
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    conn = conns.get(path)
    if conn is None:
        # autocommit: each read sees the latest committed value
        conn = conns[path] = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    return conn.execute("SELECT n FROM page_version WHERE id = 1").fetchone()[0]


def _store(app) -> OrderedDict:
    return app.extensions.setdefault("page_cache", OrderedDict())


def _embeds_request_host(app, html: str) -> bool:
    return not app.config.get("BASE_URL") and (request.host_url.rstrip("/") in html or
                                               "//" + request.host in html)


def cached_page(ttl: float = 60.0):
    """Serve a stored copy of the view's HTML to anonymous visitors."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            app = current_app._get_current_object()
            # Logged-in users see their own menu, and a visitor with anything
            # in the session (a flash message, a sign-up in progress) sees a
            # page of their own: only the plain anonymous page is shared.
            if app.config.get("PAGE_CACHE") is False or request.method != "GET" or session or \
                    current_user.is_authenticated:
                return view(*args, **kwargs)
            key = (request.full_path, select_locale())
            version = (_content_version(app.config["DATABASE"]), app.config["DATABASE"])
            store = _store(app)
            now = time.monotonic()
            with _lock:
                hit = store.get(key)
            if hit and hit[0] == version and now - hit[1] < ttl:
                return hit[2]
            result = view(*args, **kwargs)
            # A page that embeds this request's own address (only possible
            # without BASE_URL) is not shared: a forged Host header would be
            # served to every later visitor.
            if isinstance(result, str) and not _embeds_request_host(app, result):
                with _lock:
                    store[key] = (version, now, result)
                    store.move_to_end(key)
                    while len(store) > MAX_ENTRIES:
                        store.popitem(last=False)
            return result

        return wrapped

    return decorator
