"""The static export in Chromium: served by ``python -m http.server`` on loopback
with the app not running at all.

Every page reached by following links from the front page answers 200 with
the right ``lang``; the map draws its markers with their images; the AR page
shows its no-camera state and sorts the nearby sites from the exported list;
and every request the browser makes goes to the static server (map tiles are
the only other host, and are cut off as in the other browser tests).
"""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

from date_community import db as dbmod, i18n
from date_community.tourism import sites, static_site

from .conftest import _free_port
from .test_a11y import axe_violations, describe, watch_console

pytestmark = pytest.mark.browser

APP = "https://date.example.jp"  # never running: links to it are only checked, not followed
TILE_HOST = "cyberjapandata.gsi.go.jp"
HERE = (37.7745, 140.6815)  # beside 霊山 (Ryozen)


@pytest.fixture(scope="module")
def exported(demo_db, tmp_path_factory) -> Path:
    from webapp import create_app, static_export

    out = tmp_path_factory.mktemp("static-site")
    app = create_app({"TESTING": True, "DATABASE": str(demo_db), "SECRET_KEY": "test-secret", "BASE_URL": APP})
    static_export.export(app, out)
    return out


@pytest.fixture(scope="module")
def static_server(exported):
    """``python -m http.server`` serving the folder: the address, e.g. http://127.0.0.1:41234."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(exported)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(base + "/index.html", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("python -m http.server did not start")
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def placed(demo_db):
    database = dbmod.connect(demo_db)
    try:
        return [s for s in sites.list_sites(database, "en") if s["map_ok"]]
    finally:
        database.close()


def static_context(browser, base: str, requested: list[str], **options):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    context.route(f"https://{TILE_HOST}/**", lambda route: route.abort())
    context.on("request", lambda request: requested.append(request.url))
    return context


def expected_lang(base: str, url: str) -> str:
    first = urlsplit(url).path.lstrip("/").split("/")[0]
    return i18n.HTML_LANG.get(first, "ja")  # the front page is the Japanese list


def assert_only_static(requested: list[str], base: str) -> None:
    others = [u for u in requested if not u.startswith(base + "/") and not u.startswith("data:")
              and urlsplit(u).hostname != TILE_HOST]
    assert others == [], others


def test_every_page_answers_with_its_language_and_nothing_reaches_the_app(browser, static_server, exported):
    requested: list[str] = []
    failed: list[str] = []
    context = static_context(browser, static_server, requested)
    context.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page = context.new_page()
    problems = watch_console(page)
    queue, seen, files = [static_server + "/index.html"], set(), set()
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        assert page.evaluate("() => document.documentElement.lang") == expected_lang(static_server, url), url
        for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            href = urldefrag(href)[0]
            if href.startswith(static_server + "/") and href.endswith(".html"):
                queue.append(href)
            elif href.startswith(static_server + "/"):
                files.add(href)  # the open-data downloads
    # Every exported page was reached by a visitor following links.
    written = {f"{static_server}/{p.relative_to(exported).as_posix()}" for p in exported.rglob("*.html")}
    assert seen == written, sorted(written - seen)[:5]
    assert len(seen) > 5 * 20
    assert files
    for href in files:
        urllib.request.urlopen(href, timeout=5).close()  # raises on a 404
    assert failed == [], failed[:5]
    assert_only_static(requested, static_server)
    assert problems == []
    context.close()


def test_the_map_draws_its_markers_from_the_static_files(browser, static_server, placed):
    requested: list[str] = []
    context = static_context(browser, static_server, requested)
    page = context.new_page()
    problems = watch_console(page)
    page.goto(f"{static_server}/{static_site.site_map('en')}")
    assert placed
    page.wait_for_function("n => document.querySelectorAll('.leaflet-marker-icon').length === n",
                           arg=len(placed), timeout=10_000)
    # The pin images loaded (Leaflet finds them by name next to its style sheet).
    page.wait_for_function("() => [...document.querySelectorAll('img.leaflet-marker-icon')]"
                           ".every(img => img.complete && img.naturalWidth > 0)", timeout=10_000)
    pins = page.locator(".leaflet-marker-icon")
    assert {pins.nth(i).get_attribute("alt") for i in range(pins.count())} == {s["name"] for s in placed}
    pins.first.dispatch_event("click")
    link = page.locator(".leaflet-popup-content a")
    link.wait_for()
    first = placed[0]
    assert link.evaluate("a => a.href") == f"{static_server}/{static_site.site_page(first['slug'], 'en')}"
    assert_only_static(requested, static_server)
    assert problems == []
    context.close()


def test_the_ar_page_says_there_is_no_camera_and_sorts_nearby_sites(browser, static_server, placed):
    requested: list[str] = []
    context = static_context(browser, static_server, requested, permissions=["camera", "geolocation"],
                             geolocation={"latitude": HERE[0], "longitude": HERE[1]})
    page = context.new_page()
    problems = watch_console(page)
    slug = placed[0]["slug"]
    page.goto(f"{static_server}/{static_site.site_ar(slug, 'en')}")
    heading = page.locator("h1").inner_text()
    page.click("#ar-start")  # this Chromium has no camera at all
    page.wait_for_selector("#ar-problem", state="visible", timeout=10_000)
    assert page.locator("#ar-page").get_attribute("data-problem") == "nocamera"
    assert page.locator("h1").inner_text() == heading
    page.click("#nearby-start")
    page.wait_for_selector("#nearby[data-state=done]", timeout=10_000)
    links = page.eval_on_selector_all("#nearby-list a", "links => links.map(a => a.href)")
    assert sorted(links) == sorted(f"{static_server}/{static_site.site_page(s['slug'], 'en')}" for s in placed)
    for href in links:  # each one a file of the export
        urllib.request.urlopen(href, timeout=5).close()
    assert_only_static(requested, static_server)
    assert problems == []
    context.close()


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_axe_finds_nothing_on_the_static_pages(browser, static_server, placed, locale):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(f"https://{TILE_HOST}/**", lambda route: route.abort())
    page = context.new_page()
    problems = {}
    slug = placed[0]["slug"]
    for path in (static_site.site_list(locale), static_site.site_page(slug, locale), static_site.site_map(locale),
                 static_site.site_ar(slug, locale)):
        page.goto(f"{static_server}/{path}")
        found = axe_violations(page)
        if found:
            problems[path] = [describe(v) for v in found]
    context.close()
    assert problems == {}, problems
