"""A real nginx, running deploy/nginx/date-community.conf, in front of a real waitress.

The shipped file is what is tested: tools/localproxy.py only substitutes
the host name, the certificate, the ports and the checkout path, and checks
that each substitution found its target.  waitress is started with the
arguments of the shipped systemd unit's ExecStart.  nginx runs from a
temporary prefix (-p, -e stderr, its pid and temp files there), so any user
can run it.  Clients connect from 127.0.0.2 and 127.0.0.3, two loopback
addresses, so nginx sees (and forwards) two different client addresses.
"""
from __future__ import annotations

import gzip
import http.client
import os
import re
import ssl
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from conftest import STAFF_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import localproxy  # noqa: E402  (tools/localproxy.py: the shipped nginx site on loopback)

pytestmark = pytest.mark.slow
A, B = "127.0.0.2", "127.0.0.3"

if not localproxy.available():  # `make system-deps` installs them; a missing proxy is a failure, not a skip
    pytest.fail("nginx and openssl are needed: run `make system-deps`", pytrace=False)


@pytest.fixture
def proxy(app, db_path, tmp_path):
    """nginx on https://localhost:<port> in front of waitress; yields (https_port, http_port, tls context)."""
    app_port = localproxy.free_port()
    nginx = localproxy.LocalProxy(tmp_path, app_port)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATE_COMMUNITY_", "MAIL_", "FLASK_"))}
    env.update({"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", "SECRET_KEY": "proxy-test-" + "k" * 40,
                "DATE_COMMUNITY_DB": str(db_path), "DATE_COMMUNITY_TRUSTED_PROXIES": "1",
                "DATE_COMMUNITY_BASE_URL": f"https://localhost:{nginx.https_port}",
                "DATE_COMMUNITY_CONFIG": str(tmp_path / "no-config.toml")})
    app_log = tmp_path / "waitress.log"
    with app_log.open("wb") as out:
        app_proc = subprocess.Popen([sys.executable, "-m", "waitress", *localproxy.waitress_args(app_port)],
                                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        localproxy.wait_for_port(app_port, app_proc, "waitress", app_log)
        with nginx:
            yield nginx.https_port, nginx.http_port, ssl.create_default_context(cafile=str(nginx.cafile))
    finally:
        app_proc.terminate()
        try:
            app_proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app_proc.kill()
            app_proc.wait()


class Browser:
    """A tiny client with cookies, connecting from one loopback address."""

    def __init__(self, port: int, context: ssl.SSLContext, source: str):
        self.port, self.context, self.source = port, context, source
        self.cookies: dict[str, str] = {}
        self.set_cookie: list[str] = []

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPSConnection("localhost", self.port, context=self.context, timeout=20,
                                           source_address=(self.source, 0))
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        self.set_cookie = response.headers.get_all("Set-Cookie") or []
        for line in self.set_cookie:
            name, value = line.split(";", 1)[0].split("=", 1)
            self.cookies[name.strip()] = value
        return response, data

    def post_form(self, path: str, fields: dict, headers: dict | None = None):
        body = urllib.parse.urlencode(fields).encode()
        return self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded",
                                                  "Referer": f"https://localhost:{self.port}{path}",
                                                  **(headers or {})})

    def login(self, password: str, headers: dict | None = None):
        _, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        return self.post_form("/login", {"username": "staff1", "password": password, "csrf_token": token},
                              headers)


def test_login_over_https_with_secure_cookies_and_hsts(proxy):
    port, _, context = proxy
    browser = Browser(port, context, A)
    response, _ = browser.login(STAFF_PASSWORD)
    assert response.status == 302, response.status
    assert urllib.parse.urlsplit(response.headers["Location"]).path == "/staff/"
    session_cookie = [c for c in browser.set_cookie if c.startswith("session=")]
    assert session_cookie and "Secure" in session_cookie[0] and "HttpOnly" in session_cookie[0]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    page, body = browser.request("GET", "/staff/")
    assert page.status == 200
    assert "max-age=63072000" == page.headers["Strict-Transport-Security"]
    assert b"<html" in body


def test_two_client_addresses_are_throttled_separately(proxy):
    port, _, context = proxy
    attacker, user = Browser(port, context, A), Browser(port, context, B)
    for _ in range(5):
        assert browser_status(attacker.login("wrong-password")) == 200
    assert browser_status(attacker.login("wrong-password")) == 429
    # a forged X-Forwarded-For does not help: nginx appends the real address
    assert browser_status(attacker.login(STAFF_PASSWORD, {"X-Forwarded-For": B})) == 429
    # the real user at another address logs in
    assert browser_status(user.login(STAFF_PASSWORD)) == 302


def browser_status(result) -> int:
    return result[0].status


def test_pages_are_compressed_and_static_files_cached_by_version(proxy):
    port, _, context = proxy
    browser = Browser(port, context, A)
    response, body = browser.request("GET", "/classes", headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    page = gzip.decompress(body)
    css = re.search(rb'href="(/static/css/app\.css\?v=[0-9a-f]{12})"', page).group(1).decode()
    response, body = browser.request("GET", css, headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert "immutable" in response.headers["Cache-Control"] and "max-age=31536000" in response.headers["Cache-Control"]
    assert response.headers["Strict-Transport-Security"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == (ROOT / "webapp" / "static" / "css" / "app.css").read_bytes()
    response, _ = browser.request("GET", "/static/css/app.css")
    assert response.headers["Cache-Control"] == "no-cache"


def test_big_bodies_stop_at_the_proxy_except_on_the_upload(proxy):
    port, _, context = proxy
    browser = Browser(port, context, A)
    response, _ = browser.request("POST", "/login", b"x" * (2 * 1024 * 1024),
                                  {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 413
    # the upload location lets 2 MB through to the app (which asks for a login first)
    response, _ = browser.request("POST", "/staff/forms/upload", b"x" * (2 * 1024 * 1024),
                                  {"Content-Type": "application/octet-stream"})
    assert response.status != 413


def test_plain_http_redirects_and_unknown_hosts_get_nothing(proxy):
    port, http_port, context = proxy
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
    conn.request("GET", "/classes", headers={"Host": "localhost"})
    response = conn.getresponse()
    assert response.status == 301
    assert response.headers["Location"] == f"https://localhost:{port}/classes"
    conn.close()
    conn = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
    conn.request("GET", "/classes", headers={"Host": "evil.example"})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.getresponse()
    conn.close()
