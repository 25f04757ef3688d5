"""End-to-end journeys in a real browser, one per kind of user, on the devices
they use: a volunteer on a phone, a family member on a phone in Korean, and
staff on a tablet at the hall.

Elements are found by their role and accessible name, so a label that is not
tied to its control makes a journey fail.  Every journey ends by reading the
database the server writes to.
"""
from __future__ import annotations

import re

import pytest
from babel.support import Translations

from date_community import demo
from date_community.scheduling import sessions, signup

from .conftest import ROOT, log_in
from .test_a11y import axe_violations, describe

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 375, "height": 812}
TABLET = {"width": 1024, "height": 768}
MIN_TARGET_PX = 44
REFERENCE = re.compile(r"^[A-Z0-9]{3}-[A-Z0-9]{3}$")
HANGUL = re.compile(r"[\uac00-\ud7a3]")

_KO = Translations.load(str(ROOT / "translations"), ["ko"])


def ko(msgid: str) -> str:
    """The Korean text the page should show for an English msgid."""
    text = _KO.gettext(msgid)
    assert text != msgid and HANGUL.search(text), f"no Korean translation for {msgid!r}"
    return text


def scroll_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def assert_no_axe_violations(page, what: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe on {what}:\n" + "\n".join(describe(v) for v in violations)


def one(db, sql: str, params=()) -> dict | None:
    rows = list(db.query(sql, list(params)))
    return rows[0] if rows else None


# --- 1. a volunteer books a shift on a phone ----------------------------------------------------

def _overlaps(a: dict, b: dict) -> bool:
    return a["starts_at"] < b["ends_at"] and b["starts_at"] < a["ends_at"]


def _pick_shift_sessions(db, listed: list[int], volunteer_id: int) -> tuple[int, int | None]:
    """A listed session the volunteer can take (no clash with their shifts), and,
    when there is one, another listed session at the same time."""
    times = {r["id"]: r for r in db.query("SELECT id, starts_at, ends_at FROM sessions")}
    mine = [times[r["session_id"]] for r in db.query(
        "SELECT session_id FROM shifts WHERE volunteer_id = ? AND status != 'cancelled'", [volunteer_id])]
    free = [sid for sid in listed if not any(_overlaps(times[sid], m) for m in mine)]
    assert free, "every session that needs helpers clashes with the demo volunteer's shifts"
    for sid in free:
        partner = next((o for o in listed if o != sid and _overlaps(times[sid], times[o])), None)
        if partner is not None:
            return sid, partner
    return free[0], None


def test_volunteer_books_a_shift_on_a_phone(new_context, live_server, demo_database):
    db = demo_database
    volunteer_id = one(db, "SELECT volunteer_id FROM users WHERE username = ?", [demo.VOLUNTEER_LOGIN[0]])["volunteer_id"]
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    log_in(page, live_server, *demo.VOLUNTEER_LOGIN)

    page.goto(live_server + "/volunteer/")
    page.get_by_role("link", name="Find sessions that need helpers").click()
    page.wait_for_url("**/volunteer/sessions")
    assert page.get_by_role("heading", level=1).inner_text() == "Sessions that need helpers"
    listed = [int(i.removeprefix("session-")) for i in
              page.eval_on_selector_all("li.card[id^=session-]", "els => els.map(e => e.id)")]
    assert listed, "no session needs helpers in the demo data"
    chosen, clashing = _pick_shift_sessions(db, listed, volunteer_id)
    topic = one(db, "SELECT t.title_en FROM sessions s JOIN topics t ON t.id = s.topic_id WHERE s.id = ?",
                [chosen])["title_en"]

    card = page.locator(f"#session-{chosen}")
    card.get_by_role("radio", name="Assistant", exact=True).check()
    with page.expect_navigation():
        card.get_by_role("button", name=re.compile(r"^Help at this session")).tap()

    # Back on "my shifts", with the thank-you message and the new shift listed.
    assert page.url.rstrip("/").endswith("/volunteer")
    assert "Thank you. You are booked to help at this session." in page.get_by_role("status").inner_text()
    mine = page.get_by_role("listitem").filter(has=page.locator(f'a[href$="/volunteer/sessions/{chosen}"]'))
    assert mine.count() == 1
    assert mine.get_by_role("link").inner_text() == topic
    assert "Assistant" in mine.inner_text()
    assert scroll_width(page) <= PHONE["width"]

    shift = one(db, "SELECT role, status FROM shifts WHERE session_id = ? AND volunteer_id = ? "
                    "AND status != 'cancelled'", [chosen, volunteer_id])
    assert shift == {"role": "assistant", "status": "booked"}

    # The booked session has left the list of sessions that need helpers.
    page.get_by_role("link", name="Find sessions that need helpers").click()
    page.wait_for_url("**/volunteer/sessions")
    assert page.locator(f"#session-{chosen}").count() == 0

    # A session at the same time is still listed, but booking it is refused.
    if clashing is not None:
        other = page.locator(f"#session-{clashing}")
        with page.expect_response(lambda r: r.url.endswith("/volunteer/shifts") and r.request.method == "POST") \
                as answer:
            other.get_by_role("button", name=re.compile(r"^Help at this session")).tap()
        assert answer.value.status == 409
        summary = page.get_by_role("alert")
        assert "You already have a shift at the same time." in summary.inner_text()
        assert summary.get_by_role("link").get_attribute("href") == f"#role-{clashing}"
        assert one(db, "SELECT id FROM shifts WHERE session_id = ? AND volunteer_id = ? AND status != 'cancelled'",
                   [clashing, volunteer_id]) is None


# --- 2. a family member signs a resident up, in Korean ------------------------------------------------

NEW_RESIDENT = {"name": "見本 春子", "kana": "みほん はるこ", "phone": "090-0000-7777"}


def test_family_member_signs_up_a_resident_in_korean(new_context, live_server, demo_database):
    db = demo_database
    context = new_context(viewport=SMALL_PHONE, locale="ko-KR", is_mobile=True, has_touch=True)
    page = context.new_page()

    page.goto(live_server + "/classes")
    assert page.evaluate("() => document.documentElement.lang") == "ko"
    assert page.get_by_role("heading", level=1).inner_text() == ko("Classes")

    # The first class in the list with seats left and sign-up open.
    cards = page.locator("ul.cards > li.card")
    session_id = None
    for i in range(cards.count()):
        link = cards.nth(i).get_by_role("link")
        sid = int(link.get_attribute("href").rstrip("/").rsplit("/", 1)[1])
        s = sessions.get_session(db, sid)
        if s["seats_left"] > 0 and signup.signup_state(s) == "open":
            session_id = sid
            link.click()
            break
    assert session_id is not None, "no demo class has seats left"
    page.wait_for_url(f"**/classes/{session_id}")
    page.get_by_role("link", name=ko("Sign up"), exact=True).click()
    page.wait_for_url(f"**/classes/{session_id}/signup")
    assert scroll_width(page) <= SMALL_PHONE["width"]

    # Sent empty: an error summary at the top, focused, in Korean, linking to each field.
    with page.expect_navigation():
        page.get_by_role("button", name=ko("Sign up"), exact=True).tap()
    summary = page.get_by_role("alert")
    assert summary.is_visible()
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    box = summary.bounding_box()
    assert box["y"] < SMALL_PHONE["height"], "the error summary is not on the first screen"
    text = summary.inner_text()
    assert HANGUL.search(text) and ko("There is a problem") in text
    assert page.title().startswith(ko("Error:"))
    hrefs = summary.get_by_role("link").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert {"#name_kanji", "#name_kana", "#phone", "#consent"} <= set(hrefs)
    for href in hrefs:
        assert page.locator(href).count() == 1, f"the summary links to {href}, which is not on the page"
    summary.get_by_role("link").first.click()  # app.js moves focus to the field itself
    assert page.evaluate("() => document.activeElement.id") == hrefs[0].lstrip("#")
    assert scroll_width(page) <= SMALL_PHONE["width"]
    assert_no_axe_violations(page, "the Korean sign-up form with errors")

    page.get_by_label(ko("Full name of the person taking the class"), exact=True).fill(NEW_RESIDENT["name"])
    page.get_by_label(ko("Name in furigana"), exact=True).fill(NEW_RESIDENT["kana"])
    page.get_by_label(ko("Phone number"), exact=True).fill(NEW_RESIDENT["phone"])
    page.get_by_role("radio", name=ko("Android smartphone"), exact=True).check()
    page.get_by_role("radio", name=ko("A family member, for them"), exact=True).check()
    page.get_by_role("checkbox", name=ko("I agree to Date City using this information as described above."),
                     exact=True).check()
    with page.expect_navigation():
        page.get_by_role("button", name=ko("Sign up"), exact=True).tap()

    # The result page: a booking reference and a confirmed seat.
    page.wait_for_url("**/signup/done")
    assert page.get_by_role("heading", level=1).inner_text() == ko("You are booked")
    reference = page.locator(".reference").inner_text().strip()
    assert REFERENCE.match(reference), reference
    assert ko("You have a seat in this class. We look forward to seeing you.") in page.locator("main").inner_text()
    assert scroll_width(page) <= SMALL_PHONE["width"]
    assert_no_axe_violations(page, "the Korean booking result page")

    booking = one(db, "SELECT b.id, b.session_id, b.status, b.source, r.name_kanji, r.name_kana, r.phone, "
                      "r.device FROM bookings b JOIN residents r ON r.id = b.resident_id WHERE b.reference = ?",
                  [reference])
    assert booking is not None
    assert (booking["session_id"], booking["status"], booking["source"]) == (session_id, "confirmed", "web")
    assert (booking["name_kanji"], booking["name_kana"], booking["device"]) == \
        (NEW_RESIDENT["name"], NEW_RESIDENT["kana"], "android")
    assert re.sub(r"\D", "", booking["phone"]) == "09000007777"
    # "a family member" reached the server: the booking is recorded as made by family.
    assert one(db, "SELECT actor FROM audit_log WHERE entity = 'booking' AND entity_id = ? AND action = 'book'",
               [booking["id"]])["actor"] == "web:family"


# --- 3. staff check residents in on a tablet -----------------------------------------------------------

def _session_to_check_in(db) -> tuple[dict, list[dict]]:
    """The first demo session with two confirmed bookings whose names are unique on its list."""
    for s in db.query("SELECT id, starts_at, ends_at FROM sessions WHERE status = 'scheduled' ORDER BY starts_at, id"):
        rows = list(db.query("SELECT b.id, r.name_kanji FROM bookings b JOIN residents r ON r.id = b.resident_id "
                             "WHERE b.session_id = ? AND b.status IN ('confirmed', 'attended', 'no_show') "
                             "ORDER BY b.id", [s["id"]]))
        names = [r["name_kanji"] for r in rows]
        confirmed = [r for r in rows if names.count(r["name_kanji"]) == 1 and
                     one(db, "SELECT status FROM bookings WHERE id = ?", [r["id"]])["status"] == "confirmed"]
        if len(confirmed) >= 2:
            return s, confirmed[:2]
    raise AssertionError("no demo session has two confirmed bookings")


def test_staff_check_residents_in_on_a_tablet(new_context, live_server, demo_database):
    db = demo_database
    session, chosen = _session_to_check_in(db)
    day = session["starts_at"][:10]
    page = new_context(viewport=TABLET, has_touch=True).new_page()
    log_in(page, live_server, *demo.STAFF_LOGIN)

    # The "on the day" page, moved to the session's date with its own date picker.
    page.goto(live_server + "/staff/")
    page.get_by_role("link", name="Attendance today").click()
    page.wait_for_url("**/staff/today")
    page.get_by_label("Date", exact=True).fill(day)
    with page.expect_navigation():
        page.get_by_role("button", name="Show classes").tap()
    assert f"date={day}" in page.url
    link = page.get_by_role("link", name=re.compile(r"^Attendance list")).and_(
        page.locator(f'[href$="/staff/attendance/{session["id"]}"]'))
    assert link.count() == 1
    with page.expect_navigation():
        link.tap()
    assert page.get_by_role("heading", level=1).inner_text() == "Attendance"

    for booking in chosen:
        button = page.locator(f"#booking-{booking['id']}").get_by_role("button")
        name = button.get_attribute("aria-label") or button.inner_text()
        assert booking["name_kanji"] in name
        assert "Not checked in yet" in button.inner_text() and "Tap to check in" in button.inner_text()
        with page.expect_navigation():
            button.tap()
        # The state is said in words, not only by the colour of the border.
        button = page.locator(f"#booking-{booking['id']}").get_by_role("button")
        state = button.locator(".attendance-state").inner_text()
        assert "Checked in" in state and "Tap to undo" in state and "Not checked in yet" not in state
        assert one(db, "SELECT status FROM bookings WHERE id = ?", [booking["id"]])["status"] == "attended"

    attended = one(db, "SELECT count(*) AS n FROM bookings WHERE session_id = ? AND status = 'attended'",
                   [session["id"]])["n"]
    assert attended >= 2 and f"Checked in: {attended}." in page.locator("main").inner_text()
    buttons = page.locator(".attendance-list button")
    assert buttons.count() >= 2
    for i in range(buttons.count()):
        box = buttons.nth(i).bounding_box()
        assert box["height"] >= MIN_TARGET_PX, f"attendance button {i} is {box['height']}px tall"
    assert_no_axe_violations(page, "the attendance page after check-ins")
