"""Throttles against guessing and flooding, with Flask-Limiter.

Three things are throttled:

* logging in: failed attempts, per client address and user name, and per
  client address across all user names;
* cancelling by booking reference: failed attempts, per client address and
  reference, and per client address across all references;
* anonymous sign-ups: successful ones, per client address and per browser
  session, each per hour.

The client address is ``request.remote_addr``: behind the proxy it is the
visitor's own address, because ProxyFix (``TRUSTED_PROXIES``) has already
replaced the proxy's.  Keying on the address *together with* the account or
reference means an attacker's failures elsewhere never lock out the real
user: only the address that keeps failing has to wait.  The per-address cap
across names means spraying junk user names cannot reset or dodge an
attacker's own lockout: every junk name counts against the same address.

Only failures count for logging in and cancelling, so a resident who gets in
on the second try is not slowed down; a success clears the (address, name)
key but never the address's own cap.

Memory: the counters live in this process (one waitress process with
threads), in a moving window, in a store that keeps at most ``MAX_KEYS``
keys.  Keys whose window has passed go first; past the cap the oldest go.
Each address can create only a bounded number of keys (its cap), so pushing
an attacker's own key out needs thousands of other addresses.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
import time

import flask
from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage

MAX_KEYS = 20_000

# A resident who mistypes waits a minute at most after five tries; a guesser
# gets at most 10 tries an hour on one name and 30 an hour in all.
LOGIN_PER_NAME = "5 per minute; 10 per hour"
LOGIN_PER_ADDRESS = "30 per hour"
# References are guessed by varying the reference, so the per-address cap is
# the one that matters.
CANCEL_PER_REFERENCE = "5 per minute; 10 per hour"
CANCEL_PER_ADDRESS = "20 per hour"
# A family may sign up several relatives; a script may not fill a class.
SIGNUPS_PER_ADDRESS = "20 per hour"
SIGNUPS_PER_SESSION = "5 per hour"


class BoundedMemoryStorage(MemoryStorage):
    """The limits library's memory store with a cap on the number of keys.

    ``memory://`` never forgets a key whose events have expired (it keeps an
    empty list), so a spray of distinct names would grow it without end.
    """

    STORAGE_SCHEME = ["bounded-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.max_keys = int(options.get("max_keys", MAX_KEYS))
        self._evict_lock = threading.Lock()

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if key not in self.events and len(self.events) >= self.max_keys:
            self._make_room()
        return super().acquire_entry(key, limit, expiry, amount)

    def _make_room(self) -> None:
        with self._evict_lock:
            now = time.time()
            # Newest event first: a key whose newest event has expired is empty.
            for key in list(self.events):
                events = self.events.get(key)
                if not events or events[0].expiry <= now:
                    self.events.pop(key, None)
            while len(self.events) >= self.max_keys:
                self.events.pop(next(iter(self.events)), None)  # dicts keep insertion order


class FailureThrottle:
    """Counts failures per (address, subject) and per address; ``wait_seconds`` says how long to wait."""

    def __init__(self, limiter: Limiter, name: str, per_subject: str, per_address: str):
        self._limiter = limiter
        self.name = name
        self.per_subject: list[RateLimitItem] = parse_many(per_subject)
        self.per_address: list[RateLimitItem] = parse_many(per_address)

    def _keys(self, subject: str) -> list[tuple[RateLimitItem, tuple[str, ...]]]:
        address = get_remote_address() or "-"
        # A digest: a key's size stays fixed whatever was typed (a 1 MB
        # "user name" must not cost 1 MB per key), and typed names and
        # references are not kept in memory as they were written.
        subject = hashlib.sha256((subject or "").strip().lower().encode()).hexdigest()[:32]
        return ([(item, (self.name, "address+subject", address, subject)) for item in self.per_subject]
                + [(item, (self.name, "address", address)) for item in self.per_address])

    def wait_seconds(self, subject: str) -> int:
        strategy = self._limiter.limiter
        wait = 0.0
        for item, ids in self._keys(subject):
            if not strategy.test(item, *ids):
                reset = strategy.get_window_stats(item, *ids).reset_time
                wait = max(wait, reset - time.time(), 1)
        return int(wait + 0.999)

    def failed(self, subject: str) -> None:
        strategy = self._limiter.limiter
        for item, ids in self._keys(subject):
            strategy.hit(item, *ids)

    def succeeded(self, subject: str) -> None:
        # Only the (address, subject) key: the address's own cap stays.
        strategy = self._limiter.limiter
        for item, ids in self._keys(subject)[:len(self.per_subject)]:
            strategy.clear(item, *ids)


def _session_key() -> str:
    # An anonymous visitor has no account; a random id in the signed session
    # cookie stands for "this browser".  Dropping the cookie gets a new one,
    # which the per-address limit still covers.
    key = flask.session.get("throttle_id")
    if not key:
        key = flask.session["throttle_id"] = secrets.token_urlsafe(12)
    return key


def _signed_up(response) -> bool:
    return response.status_code in (302, 303)  # a sign-up that went through redirects to its result


def init_app(app: Flask) -> Limiter:
    """One limiter (and one store) per app, so apps in tests never share counters."""
    limiter = Limiter(get_remote_address, app=app, storage_uri="bounded-memory://",
                      storage_options={"max_keys": MAX_KEYS}, strategy="moving-window",
                      default_limits=[], headers_enabled=True)  # Retry-After on a refused sign-up
    app.extensions["login_throttle"] = FailureThrottle(limiter, "login", LOGIN_PER_NAME, LOGIN_PER_ADDRESS)
    app.extensions["cancel_throttle"] = FailureThrottle(limiter, "cancel", CANCEL_PER_REFERENCE,
                                                        CANCEL_PER_ADDRESS)
    view = app.view_functions["public.signup_form"]
    view = limiter.limit(SIGNUPS_PER_SESSION, key_func=_session_key, methods=["POST"],
                         deduct_when=_signed_up, scope="signup-session")(view)
    view = limiter.limit(SIGNUPS_PER_ADDRESS, methods=["POST"], deduct_when=_signed_up,
                         scope="signup-address")(view)
    app.view_functions["public.signup_form"] = view
    app.extensions["throttle_limiter"] = limiter
    return limiter


def login_throttle() -> FailureThrottle:
    return current_app.extensions["login_throttle"]


def cancel_throttle() -> FailureThrottle:
    return current_app.extensions["cancel_throttle"]
