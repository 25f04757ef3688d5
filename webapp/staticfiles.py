"""Versioned static URLs: ``url_for('static', filename=...)`` gains ``?v=<hash of the file>``.

The proxy (deploy/nginx) lets browsers keep a static file for a year when
its URL carries ``v``; a changed file gets a new hash, hence a new URL, so
nobody is served a stale stylesheet after an upgrade.
"""
from __future__ import annotations

import hashlib
import os
import threading

from flask import Flask

_lock = threading.Lock()
_hashes: dict[str, tuple[tuple[int, int], str]] = {}


def file_version(path: str) -> str:
    """The first 12 hex digits of the file's SHA-256, or "" if it is missing (then Flask's 404 applies)."""
    try:
        stat = os.stat(path)
    except OSError:
        return ""
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _lock:
        known = _hashes.get(path)
    if known and known[0] == stamp:
        return known[1]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    version = digest.hexdigest()[:12]
    with _lock:
        _hashes[path] = (stamp, version)
    return version


def init_app(app: Flask) -> None:
    folder = app.static_folder

    @app.url_defaults
    def _versioned(endpoint: str, values: dict) -> None:
        if endpoint != "static" or "v" in values or not values.get("filename") or not folder:
            return
        path = os.path.normpath(os.path.join(folder, values["filename"]))
        if path.startswith(os.path.join(folder, "")):
            version = file_version(path)
            if version:
                values["v"] = version
