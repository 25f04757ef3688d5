"""Caps on request bodies, checked from Content-Length before anything is read.

Every form gets MAX_BODY_BYTES (1 MiB); only the routes in
``UPLOAD_ENDPOINTS`` (scanned sheets) get MAX_UPLOAD_BYTES (40 MiB).  The
check runs before any other hook (CSRF reads the form), so an oversized body
is refused from its header with a 413 page in the visitor's language.  A
body without Content-Length (chunked) is bounded too: werkzeug stops reading
at ``request.max_content_length`` and raises the same 413.

The app can only refuse what its server hands it.  waitress reads (and
above 512 KB spools to a temporary file) a whole body before calling the
app, so the server's own ``max_request_body_size`` (Makefile ``run``,
deploy/systemd) and nginx's ``client_max_body_size`` (deploy/nginx) stop
large bodies at the door; this check makes the 1 MiB cap exact per route.
"""
from __future__ import annotations

from flask import Flask, abort, current_app, request

UPLOAD_ENDPOINTS = frozenset({"staff.forms_upload"})


def limit_for(endpoint: str | None) -> int:
    config = current_app.config
    return config["MAX_UPLOAD_BYTES"] if endpoint in UPLOAD_ENDPOINTS else config["MAX_BODY_BYTES"]


def _check() -> None:
    limit = limit_for(request.endpoint)
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        abort(413)


def init_app(app: Flask) -> None:
    """Call before any extension that reads the form (CSRF)."""
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    app.before_request(_check)
