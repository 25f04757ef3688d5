"""A real nginx, running deploy/nginx/date-community.conf, in front of a real waitress.

The shipped file is what is tested: the test only substitutes the host name,
the certificate, the ports and the checkout path, and checks that each of
those substitutions found its target.  waitress is started with the
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
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import STAFF_PASSWORD

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "deploy" / "nginx" / "date-community.conf"
UNIT = ROOT / "deploy" / "systemd" / "date-community.service"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
A, B = "127.0.0.2", "127.0.0.3"

if NGINX is None or shutil.which("openssl") is None:  # `make system-deps` installs nginx
    pytest.skip("nginx and openssl are needed (make system-deps)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def substitute(text: str, old: str, new: str, *, regex: bool = False) -> str:
    """Replace, and fail if the shipped file no longer has what the test expects."""
    changed = re.sub(old, new, text) if regex else text.replace(old, new)
    assert changed != text, f"deploy/nginx/date-community.conf no longer contains {old!r}"
    return changed


def render_site(tmp: Path, *, https_port: int, http_port: int, app_port: int, cert: Path, key: Path) -> str:
    text = CONF.read_text()
    text = substitute(text, "date.example.jp", "localhost")
    text = substitute(text, "/etc/letsencrypt/live/localhost/fullchain.pem", str(cert))
    text = substitute(text, "/etc/letsencrypt/live/localhost/privkey.pem", str(key))
    text = substitute(text, "server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
    text = substitute(text, "/srv/date-community/", f"{ROOT}/")
    text = substitute(text, r"\n\s*listen \[::\]:\d+[^;]*;", "", regex=True)  # loopback IPv4 only
    text = substitute(text, r"listen 443\b", f"listen 127.0.0.1:{https_port}", regex=True)
    text = substitute(text, r"listen 80\b", f"listen 127.0.0.1:{http_port}", regex=True)
    # the redirect names the public https URL; here that has a port
    text = substitute(text, "return 301 https://localhost$request_uri",
                      f"return 301 https://localhost:{https_port}$request_uri")
    return text


def main_conf(tmp: Path) -> str:
    temps = "\n".join(f"    {kind}_temp_path {tmp / kind};" for kind in
                      ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, nginx would hand its workers to "nobody", who cannot enter pytest's tmp folders.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log stderr warn;\n"
            f"events {{ worker_connections 128; }}\n"
            f"http {{\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
            f"    access_log off;\n{temps}\n    include {tmp / 'site.conf'};\n}}\n")


def waitress_args(app_port: int) -> list[str]:
    """The systemd unit's ExecStart, on this test's port."""
    unit = UNIT.read_text().replace("\\\n", " ")
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    args = shlex.split(exec_start)[1:]  # drop the venv's waitress-serve: run this interpreter's
    listen = [a for a in args if a.startswith("--listen=")]
    assert listen == ["--listen=127.0.0.1:8000"]
    return [f"--listen=127.0.0.1:{app_port}" if a.startswith("--listen=") else a for a in args]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, log: Path) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise AssertionError(f"{what} stopped: {log.read_text(errors='replace')[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not start")


@pytest.fixture
def proxy(app, db_path, tmp_path):
    """nginx on https://localhost:<port> in front of waitress; yields (https_port, http_port, tls context)."""
    https_port, http_port, app_port = free_port(), free_port(), free_port()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    (tmp_path / "site.conf").write_text(render_site(tmp_path, https_port=https_port, http_port=http_port,
                                                    app_port=app_port, cert=cert, key=key))
    (tmp_path / "nginx.conf").write_text(main_conf(tmp_path))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATE_COMMUNITY_", "MAIL_", "FLASK_"))}
    env.update({"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", "SECRET_KEY": "proxy-test-" + "k" * 40,
                "DATE_COMMUNITY_DB": str(db_path), "DATE_COMMUNITY_TRUSTED_PROXIES": "1",
                "DATE_COMMUNITY_BASE_URL": f"https://localhost:{https_port}",
                "DATE_COMMUNITY_CONFIG": str(tmp_path / "no-config.toml")})
    app_log, nginx_log = tmp_path / "waitress.log", tmp_path / "nginx.log"
    with app_log.open("wb") as out:
        app_proc = subprocess.Popen([sys.executable, "-m", "waitress", *waitress_args(app_port)], cwd=ROOT,
                                    env=env, stdout=out, stderr=subprocess.STDOUT)
    nginx_cmd = [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"]
    checked = subprocess.run([*nginx_cmd, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    with nginx_log.open("wb") as out:
        nginx = subprocess.Popen([*nginx_cmd, "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(app_port, app_proc, "waitress", app_log)
        wait_for_port(https_port, nginx, "nginx", nginx_log)
        context = ssl.create_default_context(cafile=str(cert))
        yield https_port, http_port, context
    finally:
        for proc in (nginx, app_proc):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
