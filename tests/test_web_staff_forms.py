"""The staff pages for paper forms: print, upload, batch report, review, confirm,
result, slips and the waiting-list call list."""
from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zlib

import pytest
from PIL import Image

from conftest import BASE, tiny_png
from date_community import audit, people
from date_community.forms import records
from date_community.scheduling import bookings
from webapp import staff_forms


def _day(offset: int) -> dt.date:
    return (BASE + dt.timedelta(days=offset)).date()


def _png(size=(800, 600), shade=240) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, shade).save(buffer, "PNG")
    return buffer.getvalue()


def _upload(client, files, **data):
    payload = {"files": [(io.BytesIO(body), name) for name, body in files], **data}
    response = client.post("/staff/forms/upload?lang=en", data=payload, content_type="multipart/form-data")
    # The test client spools a large body to a temporary file and leaves it
    # open; close it here rather than leave it to the garbage collector.
    response.request.environ["wsgi.input"].close()
    return response


FORM = {"name": "伊達 花子", "kana": "だて はなこ", "phone": "090-1234-5678", "birth_year": "1948", "district": ""}


# --- who may use the pages -------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/staff/forms", "/staff/forms/print", "/staff/forms/upload", "/staff/forms/queue",
    "/staff/forms/sheets/{sheet_id}", "/staff/forms/sheets/{sheet_id}/crops/field:name",
    "/staff/forms/batches/{batch_id}", "/staff/forms/versions/{version}/layout.json",
])
def test_only_staff_get_in(app, client, volunteer_client, staff_client, web_ids, path):
    url = path.format(**web_ids)
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert volunteer_client.get(url).status_code == 403
    response = staff_client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_a_volunteer_cannot_upload(volunteer_client, catalog_db):
    response = _upload(volunteer_client, [("a.png", _png())])
    assert response.status_code == 403
    assert catalog_db["scan_batches"].count == 0


# --- printing ----------------------------------------------------------------------------------------

def test_print_downloads_a_pdf_and_records_the_serials(staff_client, make_session, catalog_db):
    make_session(day=1)
    make_session(day=2)
    response = staff_client.post("/staff/forms/print", data={
        "venue": "city-hall", "date_from": _day(0).isoformat(), "date_to": _day(6).isoformat(), "copies": "3"})
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF-")
    version = next(catalog_db.query("SELECT version FROM form_versions"))["version"]
    assert f'filename="forms-{version}-1-3.pdf"' in response.headers["Content-Disposition"]
    assert [r["serial"] for r in catalog_db.query("SELECT serial FROM form_sheets")] == [1, 2, 3]
    layout = staff_client.get(f"/staff/forms/versions/{version}/layout.json")
    assert layout.status_code == 200 and layout.json["form_version"] == version and layout.json["units"] == "mm"
    page = staff_client.get("/staff/forms/print?lang=en").get_data(as_text=True)
    assert version in page and "000001–000003" in page


@pytest.mark.parametrize("data, field, message", [
    ({"venue": ""}, "venue", "Choose a venue."),                                          # no venue
    ({"date_from": "tomorrow"}, "date_from", "Enter a real date"),                         # not a date
    ({"copies": "0"}, "copies", "Enter the number of copies as a whole number from 1 to 500."),  # no copies
    ({"date_from": "2030-01-01", "date_to": "2030-01-02"}, "date_from",
     "There are no classes at this venue in these dates."),                              # an empty period
])
def test_print_form_errors(staff_client, make_session, catalog_db, data, field, message):
    make_session(day=1)
    form = {"venue": "city-hall", "date_from": _day(0).isoformat(), "date_to": _day(6).isoformat(), "copies": "2",
            **data}
    response = staff_client.post("/staff/forms/print?lang=en", data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page and f'href="#{field}"' in page
    assert catalog_db["form_sheets"].count == 0


# --- uploading -----------------------------------------------------------------------------------------

def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _bomb() -> bytes:
    # A valid PNG header claiming 30000 x 30000 pixels: a few dozen bytes on
    # disk, 900 megapixels once decoded.  Pillow's limit must stop it before
    # any pixel is decoded.
    header = struct.pack(">IIBBBBB", 30000, 30000, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" + b"\xff" * 3750, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def test_upload_of_a_blank_page_and_a_climbing_name(staff_client, catalog_db):
    response = _upload(staff_client, [("../../etc/back.png", _png((1654, 2339), 252))])
    assert response.status_code == 302
    batch_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    page = staff_client.get(f"/staff/forms/batches/{batch_id}?lang=en").get_data(as_text=True)
    assert "back.png" in page and "../" not in page and "etc/" not in page
    assert "Blank page" in page
    assert [r["source_name"] for r in catalog_db.query("SELECT source_name FROM scanned_sheets")] == ["back.png"]


def test_a_decompression_bomb_is_reported_not_opened(staff_client, catalog_db):
    response = _upload(staff_client, [("huge.png", _bomb())])
    assert response.status_code == 302
    page = staff_client.get(response.headers["Location"] + "?lang=en").get_data(as_text=True)
    assert "The file could not be read" in page and "The image is too large" in page
    row = next(catalog_db.query("SELECT status, image FROM scanned_sheets"))
    assert (row["status"], row["image"]) == ("unreadable_file", None)


@pytest.mark.parametrize("files, status, message", [
    ([], 400, "Choose at least one file to upload."),                                       # nothing chosen
    ([("notes.png", b"just some text, not a picture")], 400,
     "notes.png is not a PDF, PNG, JPEG or TIFF file."),                                    # wrong type, image name
    ([("scan.png", _png()), ("page.exe", b"MZ\x90\x00")], 400, "page.exe is not a PDF"),    # one bad file in many
])
def test_upload_refuses_what_it_cannot_read(staff_client, catalog_db, files, status, message):
    response = _upload(staff_client, files)
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in page and 'href="#files"' in page
    assert catalog_db["scan_batches"].count == 0


def test_upload_over_the_size_limit(app, staff_client, catalog_db, monkeypatch):
    # the real limit is 40 MB; a small one keeps the test fast and shows it is this route's own
    app.config["MAX_UPLOAD_BYTES"] = 3 * 1024 * 1024
    big = b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024)
    response = _upload(staff_client, [("big.pdf", big)])
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "The files are too large. Upload at most 40 MB at a time." in page
    assert catalog_db["scan_batches"].count == 0


def test_the_upload_route_accepts_more_than_the_app_wide_limit(staff_client, catalog_db, app):
    # 2.5 MB is over the app's 1 MB but within this page's limit: it reaches the reader
    assert app.config["MAX_BODY_BYTES"] < 2_600_000 < app.config["MAX_UPLOAD_BYTES"]
    padding = _png((1200, 900)) + b"\0" * 2_500_000
    response = _upload(staff_client, [("padded.png", padding)])
    assert response.status_code == 302
    assert catalog_db["scan_batches"].count == 1


# --- review ------------------------------------------------------------------------------------------

@pytest.fixture
def full_session(make_session, make_resident, catalog_db):
    """A one-seat session already taken, and a free one, on consecutive days."""
    full = make_session(day=1, seats=1)
    bookings.book_seat(catalog_db, full, make_resident(), source="phone", actor="test")
    free = make_session(day=2, seats=5)
    return full, free


def test_review_page_shows_crops_beside_the_fields_and_is_audited(staff_client, make_scanned_sheet, full_session,
                                                                   catalog_db):
    full, free = full_session
    made = make_scanned_sheet(day=_day(1), day_to=_day(2), states={
        f"session:{full}": "marked", f"session:{free}": "uncertain", "consent": "marked"})
    response = staff_client.get(f"/staff/forms/sheets/{made['sheet_id']}?lang=en")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for key in ("field:name", "field:furigana", "field:phone", "field:birth_year", f"box:session:{full}"):
        assert f"/staff/forms/sheets/{made['sheet_id']}/crops/{key}" in page
    assert re.search(r'<img class="crop" src="[^"]+/crops/field:name" alt="The name as handwritten', page)
    assert page.count('type="radio"') == 2 * len(made["layout"].boxes)
    # a certain box is preset, an uncertain one waits for staff
    assert 'id="box-1-marked" name="box-1" value="marked" checked' in page
    assert 'name="box-2" value="marked" >' in page and 'name="box-2" value="empty" >' in page
    actions = [e["action"] for e in audit.entries(catalog_db, entity="scanned_sheet", entity_id=made["sheet_id"])]
    assert actions[0] == "view"
    crop = staff_client.get(f"/staff/forms/sheets/{made['sheet_id']}/crops/field:phone")
    assert crop.mimetype == "image/png" and crop.data == tiny_png(120, (200, 30))
    assert crop.headers["Cache-Control"] == "no-store"
    assert audit.entries(catalog_db, entity="scanned_sheet", entity_id=made["sheet_id"])[0]["detail"] == {
        "crop": "field:phone"}
    assert staff_client.get(f"/staff/forms/sheets/{made['sheet_id']}/crops/field:nothing").status_code == 404


def test_confirm_needs_every_uncertain_box_and_the_fields(staff_client, make_scanned_sheet, full_session,
                                                          catalog_db):
    full, free = full_session
    made = make_scanned_sheet(day=_day(1), day_to=_day(2), states={
        f"session:{full}": "marked", f"session:{free}": "uncertain", "consent": "marked"})
    url = f"/staff/forms/sheets/{made['sheet_id']}?lang=en"
    response = staff_client.post(url, data={**FORM, "name": "", "box-1": "marked", "action": "confirm"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'href="#name"' in page and 'href="#box-2"' in page and "Choose ticked or not ticked." in page
    assert 'value="090-1234-5678"' in page  # what was typed is kept
    assert catalog_db["residents"].count == 1


def test_staff_confirm_a_sheet_and_see_the_bookings_slips_and_call_list(staff_client, make_scanned_sheet,
                                                                        full_session, catalog_db):
    full, free = full_session
    made = make_scanned_sheet(day=_day(1), day_to=_day(2), states={
        f"session:{full}": "marked", f"session:{free}": "uncertain", "consent": "marked",
        "device:android": "marked"})
    boxes = {f"box-{i}": b for i, b in enumerate(
        ["marked", "marked"] + ["empty"] * (len(made["layout"].boxes) - 2), start=1)}
    boxes.update({f"box-{i}": "marked" for i, box in enumerate(made["layout"].boxes, start=1)
                  if box.key in ("consent", "device:android")})
    response = staff_client.post(f"/staff/forms/sheets/{made['sheet_id']}",
                                 data={**FORM, **boxes, "action": "confirm"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/staff/forms/sheets/{made['sheet_id']}/result")
    resident = next(catalog_db.query("SELECT * FROM residents WHERE phone = '09012345678'"))
    assert (resident["device"], resident["source"]) == ("android", "paper")
    rows = {r["session_id"]: r for r in catalog_db.query("SELECT * FROM bookings WHERE resident_id = ?",
                                                         [resident["id"]])}
    assert (rows[full]["status"], rows[full]["position"], rows[full]["source"]) == ("waitlisted", 1, "paper")
    assert (rows[free]["status"], rows[free]["paper_ref"]) == ("confirmed", f"sheet-{made['serial']:06d}")

    result = staff_client.get(f"/staff/forms/sheets/{made['sheet_id']}/result?lang=en").get_data(as_text=True)
    assert "Waiting list" in result and "number 1" in result and rows[free]["reference"] in result
    assert f"/staff/sessions/{free}" in result
    assert f"/staff/forms/sheets/{made['sheet_id']}/slips" in result
    assert f"/staff/forms/sheets/{made['sheet_id']}/call-list" in result
    # the review page of a confirmed sheet leads to its result
    again = staff_client.get(f"/staff/forms/sheets/{made['sheet_id']}")
    assert again.status_code == 302 and again.headers["Location"].endswith("/result")

    slips = staff_client.get(f"/staff/forms/sheets/{made['sheet_id']}/slips?lang=ja")
    html = slips.get_data(as_text=True)
    assert html.count('class="slip slip-page"') == 1  # only the confirmed booking gets a slip
    assert rows[free]["reference"] in html and rows[full]["reference"] not in html
    assert "令和13年（2031年）4月9日（水）" in html          # the era date, with the Western year
    assert 'class="slip-map"' in html and 'data-lat="37.81914"' in html
    assert 'src="data:image/svg+xml' in html                 # the map link as a QR code, works on paper
    csp = slips.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://cyberjapandata.gsi.go.jp" in csp
    assert "cyberjapandata" not in staff_client.get("/staff/forms").headers["Content-Security-Policy"]

    calls = staff_client.get(f"/staff/forms/sheets/{made['sheet_id']}/call-list?lang=en").get_data(as_text=True)
    assert "090-1234-5678" in calls and rows[full]["reference"] in calls and rows[free]["reference"] not in calls


def test_a_venue_without_coordinates_says_so_on_the_slip(staff_client, make_scanned_sheet, make_session):
    sid = make_session(day=1, venue="hobara-chuo")
    made = make_scanned_sheet(venue="hobara-chuo", day=_day(1),
                              states={f"session:{sid}": "marked", "consent": "marked"})
    boxes = {f"box-{i}": ("marked" if b.key in (f"session:{sid}", "consent") else "empty")
             for i, b in enumerate(made["layout"].boxes, start=1)}
    assert staff_client.post(f"/staff/forms/sheets/{made['sheet_id']}",
                             data={**FORM, **boxes, "action": "confirm"}).status_code == 302
    html = staff_client.get(f"/staff/forms/sheets/{made['sheet_id']}/slips?lang=en").get_data(as_text=True)
    assert "still to be confirmed" in html and 'class="slip-map"' not in html


def test_a_known_resident_is_suggested_and_chosen(staff_client, make_scanned_sheet, make_session, make_resident,
                                                  catalog_db):
    sid = make_session(day=1)
    known = make_resident(name_kanji="伊達 花子", name_kana="だて はなこ", phone="09012345678")
    made = make_scanned_sheet(day=_day(1), states={f"session:{sid}": "marked", "consent": "marked"})
    boxes = {f"box-{i}": ("marked" if b.key in (f"session:{sid}", "consent") else "empty")
             for i, b in enumerate(made["layout"].boxes, start=1)}
    url = f"/staff/forms/sheets/{made['sheet_id']}?lang=en"
    checked = staff_client.post(url, data={**FORM, **boxes, "action": "check"}).get_data(as_text=True)
    assert "Same phone number" in checked and f'value="{known}"' in checked
    refused = staff_client.post(url, data={**FORM, **boxes, "action": "confirm"})
    assert refused.status_code == 400
    assert "Choose one of the residents found, or a new resident." in refused.get_data(as_text=True)
    done = staff_client.post(url, data={**FORM, **boxes, "resident": str(known), "action": "confirm"})
    assert done.status_code == 302
    assert catalog_db["residents"].count == 1
    assert [b["session_id"] for b in bookings.resident_bookings(catalog_db, known)] == [sid]


def test_consent_not_ticked_is_shown_on_the_consent_box(staff_client, make_scanned_sheet, make_session,
                                                        catalog_db):
    sid = make_session(day=1)
    made = make_scanned_sheet(day=_day(1), states={f"session:{sid}": "marked"})
    boxes = {f"box-{i}": ("marked" if b.key == f"session:{sid}" else "empty")
             for i, b in enumerate(made["layout"].boxes, start=1)}
    consent_index = [b.key for b in made["layout"].boxes].index("consent") + 1
    response = staff_client.post(f"/staff/forms/sheets/{made['sheet_id']}?lang=en",
                                 data={**FORM, **boxes, "action": "confirm"})
    assert response.status_code == 400
    assert f'href="#box-{consent_index}">Tick the box to agree' in response.get_data(as_text=True)
    assert catalog_db["bookings"].count == 0


def test_queue_and_discard(staff_client, make_scanned_sheet, make_session, catalog_db):
    make_session(day=1)
    sure = make_scanned_sheet(day=_day(1), confidence=0.95)
    unsure = make_scanned_sheet(day=_day(1), confidence=0.3)
    page = staff_client.get("/staff/forms/queue?lang=en").get_data(as_text=True)
    assert page.index(f"/staff/forms/sheets/{unsure['sheet_id']}") < page.index(
        f"/staff/forms/sheets/{sure['sheet_id']}")
    response = staff_client.post(f"/staff/forms/sheets/{unsure['sheet_id']}/discard")
    assert response.status_code == 302
    assert records.sheet_row(catalog_db, unsure["sheet_id"])["review_state"] == "discarded"
    page = staff_client.get("/staff/forms/queue").get_data(as_text=True)
    assert f"/staff/forms/sheets/{unsure['sheet_id']}\"" not in page
    assert staff_client.get(f"/staff/forms/sheets/{unsure['sheet_id']}").status_code == 200  # the closed page
    assert staff_client.get("/staff/forms/sheets/999999").status_code == 404


def test_nothing_personal_in_the_batch_report(staff_client, make_scanned_sheet, make_session, catalog_db):
    make_session(day=1)
    made = make_scanned_sheet(day=_day(1))
    people.add_resident(catalog_db, name_kanji="秘密 太郎", name_kana="ひみつ たろう", phone="09099990000",
                        source="paper")
    page = staff_client.get(f"/staff/forms/batches/{made['batch_id']}?lang=en").get_data(as_text=True)
    assert f"{made['serial']:06d}" in page and "秘密" not in page and "crops/" not in page
