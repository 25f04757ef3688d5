"""Browser tests: the real app under waitress on a free 127.0.0.1 port, a demo
database, and Debian's Chromium driven by Playwright.

Playwright's own browser downloads are never used: `make system-deps`
installs the distribution's chromium and the CJK fonts.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from date_community import db as dbmod, demo

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30

# The server process: the app factory under waitress, as `make run` serves it.
SERVE = ("import sys; from waitress import serve; from webapp import create_app; "
         "serve(create_app(), host='127.0.0.1', port=int(sys.argv[1]), threads=8)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer {url}/healthz within {STARTUP_SECONDS} s")


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("browser") / "demo.db"
    database = dbmod.connect(path)
    try:
        demo.load_demo(database)
    finally:
        database.close()
    return path


@pytest.fixture(scope="session")
def live_server(demo_db, tmp_path_factory):
    """The base URL of the running app, e.g. ``http://127.0.0.1:43817``."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    env = {k: v for k, v in os.environ.items() if k not in {"FLASK_DEBUG", "MAIL_SERVER"}}
    # src/ first: the server must run this tree's library, not an editable install of another tree.
    env.update(DATE_COMMUNITY_DB=str(demo_db), SECRET_KEY=secrets.token_hex(32),
               PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
    # The session cookie stays Secure, as in production: Chromium treats
    # http://127.0.0.1 as a secure context and keeps Secure cookies there.
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", SERVE, str(port)], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, proc)
        yield base
    except RuntimeError as exc:
        pytest.fail(f"{exc}\n{log_path.read_text(errors='replace')[-3000:]}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


def log_in(page, base: str, username: str, password: str) -> None:
    """Log in through the form, as a person would."""
    page.goto(base + "/login?lang=en")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/login" not in page.url, f"logging in as {username} failed"


@pytest.fixture
def new_context(browser):
    """Make browser contexts with chosen options (viewport, locale, touch…);
    every context made is closed when the test ends."""
    made = []

    def make(**options):
        ctx = browser.new_context(**options)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def demo_database(demo_db):
    """A connection of the test's own to the database the live server uses."""
    database = dbmod.connect(demo_db)
    yield database
    database.close()
