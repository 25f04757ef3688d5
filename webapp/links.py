"""Absolute links (QR codes, open data files, calendar feeds): from BASE_URL, never from the Host header.

Without BASE_URL (development, tests) the request's own address is the only
one there is; responses that embed it must then not be shared by caches
(see ``from_request_host``), since a forged Host header would be stored and
served to everyone.
"""
from __future__ import annotations

from flask import current_app, request, url_for


def from_request_host() -> bool:
    """True when absolute links would come from this request's Host header (BASE_URL unset)."""
    return not current_app.config.get("BASE_URL")


def base_url() -> str:
    """The public address without a trailing slash: BASE_URL, else this request's root."""
    return (current_app.config.get("BASE_URL") or request.url_root).rstrip("/")


def external_url(endpoint: str, **values) -> str:
    """``url_for(..., _external=True)``, but on BASE_URL when it is set."""
    if from_request_host():
        return url_for(endpoint, _external=True, **values)
    return base_url() + url_for(endpoint, **values)
