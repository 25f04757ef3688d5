"""Static URLs carry the file's hash (webapp/staticfiles.py), so the proxy may cache them for a year."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from webapp import staticfiles

STATIC = Path(__file__).resolve().parent.parent / "webapp" / "static"


def test_pages_link_static_files_with_their_hash(client):
    page = client.get("/").get_data(as_text=True)
    href = re.search(r'<link rel="stylesheet" href="(/static/css/app\.css\?v=([0-9a-f]{12}))"', page)
    assert href, "the stylesheet link has no version"
    assert href.group(2) == hashlib.sha256((STATIC / "css" / "app.css").read_bytes()).hexdigest()[:12]
    response = client.get(href.group(1))
    assert 200 == response.status_code
    response.close()


def test_a_changed_file_gets_a_new_version(tmp_path):
    path = tmp_path / "a.css"
    path.write_text("body { color: black }")
    first = staticfiles.file_version(str(path))
    path.write_text("body { color: navy; }")
    assert staticfiles.file_version(str(path)) not in ("", first)
    assert staticfiles.file_version(str(tmp_path / "missing.css")) == ""


def test_a_missing_or_outside_file_gets_no_version(app):
    with app.test_request_context("/"):
        from flask import url_for
        assert url_for("static", filename="css/no-such.css") == "/static/css/no-such.css"
        assert "v=" not in url_for("static", filename="../app.py")
