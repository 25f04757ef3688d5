"""The AR page in a real Chromium.

(a) A fake camera films the real printed sign (rendered to PDF, rasterised,
    the marker's part of the sign cropped into a 640×480 video): after a tap on
    "Start AR camera", AR.js must report the marker found within 15 s.
(b) Without a usable camera the page says so and keeps its content.
(c) With a faked position, the nearby list is sorted by distance and its
    distances agree with date_community.tourism.geo.
(d) Location mode: with the fake camera and a faked position, AR.js places one
    gps-new-entity-place per sourced site within ar.PLACES_RADIUS_M, and the
    distances it computes agree with geo.haversine_m; without a position or a
    camera the page says why and the list still works.
(e) axe finds nothing wrong before the camera starts, in all five languages.
"""
from __future__ import annotations

import time

import cv2
import numpy as np
import pypdfium2
import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image

from date_community.tourism import geo, marker, signs, sites
from webapp import ar
from webapp.tourism import COMPASS_WORDS

from .conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

SLUG = "kyu-kameoka"                 # 旧亀岡家住宅, whose sign we film
MARKER_ID = 4                        # its marker id in content/sites/kyu-kameoka/site.toml
HERE = (37.8183, 140.5712)           # about 200 m south-east of it, in Hobara
FOUND_WITHIN_S = 15
LOCALES = ("ja", "en", "zh_Hans", "zh_Hant", "ko")
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
               "resultTypes": ["violations"]}
FRAME = (640, 480)


# --- the fake camera's video: the printed sign --------------------------------------------------

def find_marker(page: np.ndarray, marker_id: int) -> tuple[int, int, int, int]:
    """The bounding box (x, y, w, h) of the black square on the sign whose
    inner 4×4 cells read as ``marker_id``'s grid — found the way a tracker
    would, so the test also proves the sign carries the right marker."""
    _, binary = cv2.threshold(page, 128, 255, cv2.THRESH_BINARY_INV)
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    want = marker.marker_grid(marker_id)
    for contour in sorted(contours, key=cv2.contourArea, reverse=True):
        x, y, w, h = cv2.boundingRect(contour)
        if w < 40 or abs(w - h) > 0.05 * w or cv2.contourArea(contour) < 0.9 * w * h:
            continue
        inner = w * marker.PATTERN_RATIO
        x0, y0 = x + (w - inner) / 2, y + (h - inner) / 2
        cells = [[int(page[int(y0 + (r + 0.5) * inner / 4), int(x0 + (c + 0.5) * inner / 4)] < 128)
                  for c in range(4)] for r in range(4)]
        if cells == want:
            return x, y, w, h
    raise AssertionError(f"no marker {marker_id} found on the rendered sign")


def sign_frame(pdf: bytes, marker_id: int) -> Image.Image:
    """The part of the sign around its marker, as a phone held ~30 cm away sees it."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[0].render(scale=3).to_pil().convert("L")
    finally:
        document.close()
    pixels = np.asarray(page)
    x, y, w, h = find_marker(pixels, marker_id)
    # The marker fills about 40 % of the frame's height, with the sign around it.
    crop_h = int(h / 0.4)
    crop_w = crop_h * FRAME[0] // FRAME[1]
    cx, cy = x + w // 2, y + h // 2
    box = (cx - crop_w // 2, cy - crop_h // 2, cx - crop_w // 2 + crop_w, cy - crop_h // 2 + crop_h)
    # White beyond the sign's edges (PIL would fill a crop outside the page with black).
    canvas = Image.new("L", (page.width + 2 * crop_w, page.height + 2 * crop_h), 255)
    canvas.paste(page, (crop_w, crop_h))
    box = (box[0] + crop_w, box[1] + crop_h, box[2] + crop_w, box[3] + crop_h)
    return canvas.crop(box).resize(FRAME, Image.LANCZOS).convert("RGB")


def write_y4m(path, frame: Image.Image, frames: int = 40) -> None:
    """A YUV4MPEG2 4:2:0 video of ``frames`` copies of the picture (Chromium's fake camera loops it)."""
    ycbcr = frame.convert("YCbCr")
    y, cb, cr = (np.asarray(channel) for channel in ycbcr.split())
    half = (FRAME[0] // 2, FRAME[1] // 2)
    cb = np.asarray(Image.fromarray(cb).resize(half, Image.BILINEAR))
    cr = np.asarray(Image.fromarray(cr).resize(half, Image.BILINEAR))
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{FRAME[0]} H{FRAME[1]} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(y.tobytes() + cb.tobytes() + cr.tobytes())


@pytest.fixture(scope="module")
def sign_video(tmp_path_factory, demo_database, live_server):
    site = sites.get_site(demo_database, SLUG, "ja")
    assert site["marker_id"] == MARKER_ID
    pdf = signs.render_sign(demo_database, SLUG, "A4", live_server)
    path = tmp_path_factory.mktemp("camera") / "sign.y4m"
    frame = sign_frame(pdf, site["marker_id"])
    frame.save(path.with_suffix(".png"))  # kept next to the video for a look when the test fails
    write_y4m(path, frame)
    return path


@pytest.fixture(scope="module")
def demo_database(demo_db):
    # Module scope: the sign is rendered once for the module.
    from date_community import db as dbmod

    database = dbmod.connect(demo_db)
    yield database
    database.close()


@pytest.fixture(scope="module")
def camera_browser(browser, sign_video):
    """A second Chromium whose camera is the video of the sign."""
    args = CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                            f"--use-file-for-fake-video-capture={sign_video}",
                            "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
    args = [a for a in args if a != "--disable-gpu"]  # WebGL through SwiftShader for A-Frame
    chromium = browser.browser_type.launch(executable_path=str(CHROMIUM), args=args)
    yield chromium
    chromium.close()


def watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    return problems


# --- (a) the marker is found ----------------------------------------------------------------------

def test_marker_on_the_printed_sign_is_found(camera_browser, live_server):
    context = camera_browser.new_context(viewport={"width": 800, "height": 600})
    try:
        page = context.new_page()
        problems = watch(page)
        page.goto(f"{live_server}/sites/{SLUG}/ar?lang=en")
        # Nothing asks for the camera or loads AR.js before the tap.
        assert page.evaluate("typeof AFRAME") == "undefined"
        assert page.locator("a-scene").count() == 0
        assert page.locator("#ar-page").get_attribute("data-tracking") == "idle"
        tapped = time.monotonic()
        page.click("#ar-start")
        page.wait_for_selector("#ar-page[data-tracking=found]", state="attached", timeout=FOUND_WITHIN_S * 1000)
        assert time.monotonic() - tapped < FOUND_WITHIN_S
        assert page.locator("#ar-status").inner_text() == "Marker found. The information is shown over the sign."
        assert page.locator("a-marker").get_attribute("value") == str(MARKER_ID)
        assert page.locator("#ar-stop").is_visible()
        assert not problems, problems
    finally:
        context.close()


# --- (b) no camera ----------------------------------------------------------------------------------

NOT_AVAILABLE = "This phone or browser has no camera we can use. The information on this page is the same."
NOT_ALLOWED = "The camera was not allowed, so the AR view cannot start. The information on this page is the same."


def check_content_kept(page, heading: str) -> None:
    """The content is all still there and visible; the AR libraries were never loaded."""
    assert page.locator("#ar-page").get_attribute("data-tracking") == "unavailable"
    assert page.locator("h1").inner_text() == heading and page.locator("h1").is_visible()
    assert page.locator(".ar-content .lead").is_visible()
    assert page.locator("#ar-next-link, .ar-next-link").first.is_visible()
    assert page.locator("#ar-start").is_visible()
    assert page.evaluate("typeof AFRAME") == "undefined"


def test_without_a_camera_the_page_says_so_and_keeps_the_content(new_context, live_server):
    # The test machine's ordinary Chromium has no camera at all; camera use is allowed.
    page = new_context(viewport={"width": 800, "height": 900}, permissions=["camera"]).new_page()
    problems = watch(page)
    page.goto(f"{live_server}/sites/{SLUG}/ar?lang=en")
    heading = page.locator("h1").inner_text()
    page.click("#ar-start")
    page.wait_for_selector("#ar-problem", state="visible", timeout=10000)
    assert page.locator("#ar-problem-text").inner_text() == NOT_AVAILABLE
    assert page.locator("#ar-page").get_attribute("data-problem") == "nocamera"
    check_content_kept(page, heading)
    assert not problems, problems


# Headless Chromium cannot be made to show and refuse a real permission prompt, so
# these cases replace the browser API the page consults before the page loads.
@pytest.mark.parametrize("init_script, reason, message", [
    # the visitor refuses the camera
    ("navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('no', 'NotAllowedError'));",
     "denied", NOT_ALLOWED),
    # an old browser without the camera API
    ("Object.defineProperty(Navigator.prototype, 'mediaDevices', {get: () => undefined});",
     "nocamera", NOT_AVAILABLE),
    # the page opened over plain http from another machine
    ("Object.defineProperty(window, 'isSecureContext', {get: () => false});",
     "insecure", "The camera can only be used on a secure (https) page. The information on this page is the same."),
])
def test_refused_or_impossible_camera(new_context, live_server, init_script, reason, message):
    context = new_context(viewport={"width": 800, "height": 900}, permissions=["camera"])
    context.add_init_script(script=init_script)
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{live_server}/sites/{SLUG}/ar?lang=en")
    heading = page.locator("h1").inner_text()
    page.click("#ar-start")
    page.wait_for_selector("#ar-problem", state="visible", timeout=10000)
    assert page.locator("#ar-problem-text").inner_text() == message
    assert page.locator("#ar-page").get_attribute("data-problem") == reason
    check_content_kept(page, heading)
    assert not problems, problems


# --- (c) nearby sites --------------------------------------------------------------------------------

def test_nearby_sites_are_sorted_with_the_right_distances(new_context, live_server, demo_database):
    context = new_context(viewport={"width": 800, "height": 900}, geolocation={"latitude": HERE[0],
                          "longitude": HERE[1]}, permissions=["geolocation"], locale="en-GB")
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{live_server}/sites/{SLUG}/ar?lang=en")
    assert page.locator("#nearby-list li").count() == 0  # nothing before the tap
    page.click("#nearby-start")
    page.wait_for_selector("#nearby[data-state=done]", timeout=10000)
    rows = page.eval_on_selector_all("#nearby-list li", """items => items.map(li => ({
        slug: li.dataset.slug, metres: Number(li.dataset.distanceM), compass: li.dataset.compass,
        text: li.querySelector('.nearby-distance').textContent, name: li.querySelector('a').textContent}))""")
    placed = [s for s in sites.list_sites(demo_database, "en") if s["map_ok"]]
    expected = sorted(((geo.haversine_m(*HERE, s["lat"], s["lon"]), s) for s in placed), key=lambda pair: pair[0])
    assert len(placed) >= 3
    assert [r["slug"] for r in rows] == [s["slug"] for _, s in expected]
    assert rows[0]["slug"] == SLUG
    for row, (metres, site) in zip(rows, expected):
        assert abs(row["metres"] - metres) <= 1, row
        assert row["name"] == site["name"]
        point = geo.compass(geo.bearing_deg(*HERE, site["lat"], site["lon"]))
        assert row["compass"] == point
        shown = f"{round(metres, -1):,.0f} m" if metres < 1000 else f"{metres / 1000:,.1f} km".replace(".0 km", " km")
        assert row["text"] == f"{shown} to the {COMPASS_WORDS[point]}", row
    assert rows[0]["text"].endswith(" m to the north-west")
    # Sites without a sourced coordinate are not placed in the list.
    unplaced = {s["slug"] for s in sites.list_sites(demo_database, "en") if not s["map_ok"]}
    assert unplaced and not unplaced & {r["slug"] for r in rows}
    assert not problems, problems


# --- (d) location mode ------------------------------------------------------------------------------

PLACES_JS = """() => [...document.querySelectorAll('[gps-new-entity-place]')].map(el => {
    const place = el.components && el.components['gps-new-entity-place'];
    return {slug: el.dataset.slug, lat: place ? place.data.latitude : null, lon: place ? place.data.longitude : null,
            distance: place && typeof place.distance === 'number' ? place.distance : null};
})"""


def test_location_mode_places_the_nearby_sites(camera_browser, live_server, demo_database):
    context = camera_browser.new_context(viewport={"width": 800, "height": 600}, permissions=["geolocation"],
                                         geolocation={"latitude": HERE[0], "longitude": HERE[1]})
    try:
        page = context.new_page()
        problems = watch(page)
        page.goto(f"{live_server}/sites/{SLUG}/ar?lang=en")
        assert page.evaluate("typeof AFRAME") == "undefined"  # nothing before the tap
        page.click("#places-start")
        page.wait_for_selector("#places[data-state=running]", state="attached", timeout=20000)
        # AR.js has worked out the distance of every place from the (faked) GPS position.
        page.wait_for_function(f"() => ({PLACES_JS})().every(p => p.distance !== null)", timeout=10000)
        placed = page.evaluate(PLACES_JS)
        expected = {s["slug"]: s for s in sites.list_sites(demo_database, "en")
                    if s["map_ok"] and geo.haversine_m(*HERE, s["lat"], s["lon"]) <= ar.PLACES_RADIUS_M}
        assert len(expected) >= 3
        assert sorted(p["slug"] for p in placed) == sorted(expected)
        for p in placed:
            site = expected[p["slug"]]
            assert (p["lat"], p["lon"]) == (site["lat"], site["lon"]), p
            assert abs(p["distance"] - geo.haversine_m(*HERE, site["lat"], site["lon"])) <= 3, p
        # Nearest first: 旧亀岡家住宅, about 200 m away.
        assert placed[0]["slug"] == SLUG and placed[0]["distance"] < 250
        assert page.locator("#places").get_attribute("data-placed") == str(len(expected))
        assert page.locator("#places-status").inner_text() == (
            f"Sites placed in the camera view: {len(expected)}. Turn slowly to find their labels.")
        camera = page.evaluate("""() => { const c = document.querySelector('[gps-new-camera]');
            return {min: c.components['gps-new-camera'].data.gpsMinDistance, far: c.components.camera.data.far}; }""")
        assert camera["min"] == 5 and camera["far"] > 1.3 * ar.PLACES_RADIUS_M
        # Each label carries its site's name, on a canvas drawn before the place was added.
        assert page.locator("#places-labels canvas").count() == len(expected)
        assert page.locator("#places-stop").is_visible() and not page.locator("#ar-start").is_visible()
        # AR.js had nothing to complain about (its English pop-ups would land in this hidden box).
        assert page.locator("#places-arjs-messages").inner_html() == ""
        assert not problems, problems
    finally:
        context.close()


TOKYO = {"latitude": 35.6812, "longitude": 139.7671}  # about 250 km away: nothing near


@pytest.mark.parametrize("options, init_script, reason, message", [
    # the visitor refuses the position
    ({"permissions": ["camera"], "geolocation": TOKYO},
     "navigator.geolocation.getCurrentPosition = (ok, fail) => fail({code: 1, message: 'no'});",
     "locationdenied", "Your location was not allowed, so the sites cannot be placed in the camera view."),
    # the visitor is far from Date City: the camera is not even asked for
    ({"permissions": ["geolocation"], "geolocation": TOKYO}, "",
     "noplaces", "None of our sites with a known location is within 20 km of you."),
    # in Date City, but this Chromium has no camera
    ({"permissions": ["geolocation", "camera"], "geolocation": {"latitude": HERE[0], "longitude": HERE[1]}}, "",
     "nocamera", NOT_AVAILABLE),
    # the page opened over plain http from another machine
    ({"permissions": ["geolocation"], "geolocation": TOKYO},
     "Object.defineProperty(window, 'isSecureContext', {get: () => false});",
     "insecure", "The camera can only be used on a secure (https) page. The information on this page is the same."),
])
def test_location_mode_says_why_it_cannot_start(new_context, live_server, options, init_script, reason, message):
    context = new_context(viewport={"width": 800, "height": 900}, **options)
    if init_script:
        context.add_init_script(script=init_script)
    page = context.new_page()
    problems = watch(page)
    page.goto(f"{live_server}/sites/{SLUG}/ar?lang=en")
    page.click("#places-start")
    page.wait_for_selector("#places-problem", state="visible", timeout=10000)
    assert page.locator("#places-problem-text").inner_text() == message
    assert page.locator("#places").get_attribute("data-state") == "unavailable"
    assert page.locator("#places").get_attribute("data-problem") == reason
    assert page.evaluate("typeof AFRAME") == "undefined"
    assert page.locator("#places-start").is_visible() and page.locator("h1").is_visible()
    assert page.locator("[gps-new-entity-place]").count() == 0
    # The list does not depend on the camera.
    assert page.locator("#nearby-start").is_visible()
    assert not problems, problems


# --- (e) accessibility --------------------------------------------------------------------------------

@pytest.mark.parametrize("locale", LOCALES)
def test_axe_finds_no_violations_before_the_camera_starts(new_context, live_server, locale):
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    problems = watch(page)
    page.goto(f"{live_server}/sites/{SLUG}/ar?lang={locale}")
    page.wait_for_selector("#ar-start", state="visible")
    violations = Axe().run(page, options=AXE_OPTIONS).response["violations"]
    assert not violations, [f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']]}" for v in violations]
    assert not problems, problems
