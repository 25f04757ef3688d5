"""The tourism pages in Chromium: the map draws with the app's own Leaflet, the
read-aloud button speaks, and axe finds nothing on any tourism page in any language.

Map tiles come from the GSI tile server; tests never reach the internet, so
requests to it are answered with an error at once (the map works without tiles).
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from date_community import content
from date_community.tourism import content_load, sites, tours

from .test_a11y import _axe, axe_violations, describe, report, watch_console

pytestmark = pytest.mark.browser

LOCALES = ("ja", "en", "zh_Hans", "zh_Hant", "ko")
TILE_HOST = "cyberjapandata.gsi.go.jp"

# Records every utterance handed to speechSynthesis.speak instead of speaking it:
# headless Chromium has no voices, so a real utterance ends at once and the
# button could not be seen in its "stop" state.
SPEECH_SPY = """
(() => {
  window.__spoken = [];
  window.__cancelled = 0;
  if (!window.speechSynthesis) { return; }
  window.speechSynthesis.speak = (u) => { window.__spoken.push({text: u.text, lang: u.lang}); };
  window.speechSynthesis.cancel = () => { window.__cancelled += 1; };
})();
"""


@pytest.fixture(scope="module")
def tourism(demo_db):
    """The sites and tours the live server shows (loaded from content/ if the demo has none)."""
    from date_community import db as dbmod

    database = dbmod.connect(demo_db)
    try:
        if not sites.list_sites(database, "en"):
            content_load.load_dir(database, content.content_dir())
        found = sites.list_sites(database, "en")
        walks = tours.list_tours(database, "en")
        fallbacks = {loc: [s["slug"] for s in sites.list_sites(database, loc) if s["fallback"]] for loc in LOCALES}
    finally:
        database.close()
    assert found, "no tourist sites to test with"
    return {"sites": found, "tours": walks, "fallbacks": fallbacks}


def offline_tiles(context) -> None:
    context.route(f"https://{TILE_HOST}/**", lambda route: route.abort())


def test_the_map_uses_the_apps_own_leaflet_and_pins_only_sourced_sites(context, live_server, tourism):
    offline_tiles(context)
    page = context.new_page()
    problems = watch_console(page)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(live_server + "/map?lang=en")
    expected = sum(1 for s in tourism["sites"] if s["map_ok"])
    assert expected > 0
    page.wait_for_function("n => document.querySelectorAll('.leaflet-marker-icon').length === n", arg=expected,
                           timeout=10_000)
    assert page.evaluate("() => typeof window.L === 'object' && typeof L.map === 'function'")
    assert page.evaluate("() => typeof window.jQuery === 'undefined' && typeof window.$ === 'undefined'")
    pins = page.locator(".leaflet-marker-icon")
    assert pins.count() == expected
    names = {s["name"] for s in tourism["sites"] if s["map_ok"]}
    assert {pins.nth(i).get_attribute("alt") for i in range(pins.count())} == names
    # every request went to the app, except map tiles
    for url in requested:
        host = urlsplit(url).netloc
        assert url.startswith(live_server) or host == TILE_HOST, url
    assert any(urlsplit(u).path == "/static/vendor/leaflet/leaflet.js" for u in requested)
    assert problems == []
    # a popup names the site and links to its page
    pins.first.dispatch_event("click")
    popup = page.locator(".leaflet-popup-content a")
    popup.wait_for()
    first = next(s for s in tourism["sites"] if s["map_ok"])
    assert popup.inner_text() == first["name"]
    assert popup.get_attribute("href") == f"/sites/{first['slug']}?lang=en"


def test_the_tour_map_draws_its_route(context, live_server, tourism):
    if not tourism["tours"]:
        pytest.fail("no walking tours in content/")
    offline_tiles(context)
    page = context.new_page()
    problems = watch_console(page)
    slug = tourism["tours"][0]["slug"]
    page.goto(f"{live_server}/tours/{slug}?lang=en")
    page.wait_for_selector("#map_tour .leaflet-marker-icon, #map_tour path.leaflet-interactive", timeout=10_000)
    assert problems == []


def test_read_aloud_speaks_the_site_in_the_pages_language(context, live_server, tourism):
    context.add_init_script(script=SPEECH_SPY)
    page = context.new_page()
    problems = watch_console(page)
    site = tourism["sites"][0]
    page.goto(f"{live_server}/sites/{site['slug']}?lang=ko")
    button = page.locator("button[data-read-aloud]")
    button.wait_for(state="visible")  # shown only once the script has found speechSynthesis
    label = button.inner_text()
    button.click()
    page.wait_for_function("() => window.__spoken.length > 0")
    spoken = page.evaluate("() => window.__spoken")
    heading = page.locator("h1").inner_text()
    assert spoken[0]["text"] == heading
    want_lang = page.locator("h1").get_attribute("lang") or "ko"  # the text's own language
    assert {u["lang"] for u in spoken} == {want_lang}
    assert len(spoken) >= 3  # name, summary and at least one paragraph of the description
    assert button.inner_text() != label  # now offers to stop
    button.click()
    assert page.evaluate("() => window.__cancelled") >= 2
    assert button.inner_text() == label
    assert problems == []


def test_read_aloud_stays_hidden_without_speech_synthesis(context, live_server, tourism):
    context.add_init_script(
        script="Object.defineProperty(window, 'speechSynthesis', {value: undefined, configurable: true});")
    page = context.new_page()
    page.goto(f"{live_server}/sites/{tourism['sites'][0]['slug']}?lang=en")
    page.wait_for_load_state("load")
    assert page.locator("button[data-read-aloud]").is_hidden()


def test_json_ld_is_not_blocked_by_the_content_security_policy(context, live_server, tourism):
    page = context.new_page()
    problems = watch_console(page)
    page.goto(f"{live_server}/sites/{tourism['sites'][0]['slug']}?lang=en")
    data = page.evaluate("() => JSON.parse(document.querySelector('script[type=\"application/ld+json\"]').textContent)")
    assert data["@type"] == "TouristAttraction"
    page.wait_for_timeout(200)  # console messages arrive asynchronously
    assert problems == []


@pytest.mark.parametrize("locale", LOCALES)
def test_axe_finds_nothing_on_the_tourism_pages(browser, live_server, tourism, locale):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(script=_axe.axe_script)
    offline_tiles(context)
    page = context.new_page()
    blocked = watch_console(page)
    paths = ["/sites", f"/sites/{tourism['sites'][0]['slug']}", "/tours", "/map"]
    # a site shown in another language, if there is one, and every tour
    if tourism["fallbacks"][locale]:
        paths.append(f"/sites/{tourism['fallbacks'][locale][0]}")
    paths += [f"/tours/{t['slug']}" for t in tourism["tours"]]
    problems: dict[str, list[str]] = {}
    for path in paths:
        blocked.clear()
        page.goto(f"{live_server}{path}?lang={locale}")
        if path in ("/map",) or path.startswith("/tours/"):
            page.wait_for_selector(".leaflet-container", timeout=10_000)
        lines = [describe(v) for v in axe_violations(page)] + list(blocked)
        if lines:
            problems[f"{path} [{locale}]"] = lines
    context.close()
    assert not problems, f"accessibility problems on the tourism pages:\n{report(problems)}"

