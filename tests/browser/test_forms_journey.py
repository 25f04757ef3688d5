"""Staff turn paper sign-up sheets into bookings in a real browser: upload a
scanned batch, review a sheet, type what the resident wrote, confirm, and
find the booking on the class's page.  axe checks the upload, queue, review,
result and slip pages along the way."""
from __future__ import annotations

import datetime as dt
import io
import random

import cv2
import pytest
from PIL import Image

import formsynth
from date_community import demo, timeutil
from date_community.forms import records
from date_community.scheduling import sessions

from .conftest import log_in
from .test_a11y import axe_violations, describe, watch_console

pytestmark = pytest.mark.browser

TABLET = {"width": 1024, "height": 768}


def assert_no_axe_violations(page, what: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {what}:\n" + "\n".join(describe(v) for v in violations)


def _a_class_to_print(db) -> dict:
    """A class at a venue with a map position, a few days ahead, with seats left."""
    start = timeutil.now() + dt.timedelta(days=3)
    for s in sessions.list_sessions(db, start=start, end=start + dt.timedelta(days=60)):
        if s["kind"] == "class" and s["venue_lat"] is not None and s["seats_left"] > 0:
            return s
    pytest.fail("the demo data has no class with free seats at a mapped venue")


def _filled_sheets(db, tmp_path, s: dict) -> tuple:
    """Print two sheets for the class's venue and day, fill them in by hand
    (the class, iPhone, consent) and "scan" them into one PDF."""
    day = timeutil.parse(s["starts_at"]).date()
    prepared = records.prepare_print(db, s["venue_slug"], day, day, 2, actor="test")
    layout = prepared["layout"]
    masters = formsynth.render_masters(layout, prepared["serials"])
    rng = random.Random(11)
    pages = []
    for serial in prepared["serials"]:
        page = masters[serial].copy()
        for key, style in ((f"session:{s['id']}", "check"), ("device:iphone", "tick"), ("consent", "check")):
            formsynth.draw_mark(page, rng, style, layout.box(key), pencil=False)
        for fld in layout.fields:
            formsynth.scribble(page, rng, fld)
        pages.append(Image.fromarray(cv2.resize(page, None, fx=2 / 3, fy=2 / 3, interpolation=cv2.INTER_AREA)))
    buffer = io.BytesIO()
    pages[0].save(buffer, "PDF", save_all=True, append_images=pages[1:], resolution=200)
    path = tmp_path / "scanned-sheets.pdf"
    path.write_bytes(buffer.getvalue())
    return path, prepared["serials"], layout


def test_staff_upload_review_and_confirm_a_paper_sheet(new_context, live_server, demo_database, tmp_path):
    s = _a_class_to_print(demo_database)
    pdf, serials, layout = _filled_sheets(demo_database, tmp_path, s)
    context = new_context(viewport=TABLET)
    page = context.new_page()
    blocked = watch_console(page)
    log_in(page, live_server, *demo.STAFF_LOGIN)

    page.goto(live_server + "/staff/forms/upload?lang=en")
    assert_no_axe_violations(page, "the upload page")
    page.get_by_label("Scanned sheets").set_input_files(str(pdf))
    with page.expect_navigation():
        page.get_by_role("button", name="Upload and read").click()
    assert "/staff/forms/batches/" in page.url
    assert page.locator("tbody tr").count() == 2
    assert page.locator("tbody .tag.ok").all_inner_texts() == ["Read", "Read"]

    page.get_by_role("link", name="Review the sheets").click()
    page.wait_for_url("**/staff/forms/queue")
    assert_no_axe_violations(page, "the review queue")
    page.get_by_role("link", name=f"Sheet {serials[0]:06d}").click()
    page.wait_for_url("**/staff/forms/sheets/*")
    assert_no_axe_violations(page, "the review page")
    assert page.locator("img.crop[src*='field:name']").evaluate("img => img.naturalWidth") > 100

    page.get_by_label("Name", exact=True).fill("紙野 はな")
    page.get_by_label("Furigana").fill("かみの はな")
    page.get_by_label("Phone number").fill("090-5555-0101")
    page.get_by_label("Year of birth").fill("1944")
    # Every box is shown with what the reader decided; staff settle any it
    # could not decide (and could correct any other) as the resident meant it.
    ticked = {f"session:{s['id']}", "device:iphone", "consent"}
    for index, box in enumerate(layout.boxes, start=1):
        page.locator(f"#box-{index}-{'marked' if box.key in ticked else 'empty'}").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Confirm and book").click()
    assert page.url.endswith("/result"), page.url
    assert_no_axe_violations(page, "the result page")
    assert page.get_by_text("Confirmed", exact=True).first.is_visible()

    page.get_by_role("link", name="Print the admission slips (1)").click()
    page.wait_for_url("**/slips")
    assert page.locator("article.slip").count() == 1
    assert page.locator(".slip-map.leaflet-container").count() == 1  # Leaflet drew the map
    assert_no_axe_violations(page, "the slips page")
    page.go_back()

    page.locator(f"a[href$='/staff/sessions/{s['id']}']").first.click()
    page.wait_for_url(f"**/staff/sessions/{s['id']}")
    assert page.locator("tbody th", has_text="紙野 はな").count() == 1
    assert not blocked, blocked

    booking = next(demo_database.query(
        "SELECT b.status, b.source, b.paper_ref FROM bookings b JOIN residents r ON r.id = b.resident_id "
        "WHERE r.phone = '09055550101' AND b.session_id = ?", [s["id"]]))
    assert booking == {"status": "confirmed", "source": "paper", "paper_ref": f"sheet-{serials[0]:06d}"}
