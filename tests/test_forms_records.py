"""Paper forms in the database: printing records serials, scanning stores a
batch with clear statuses, review and confirmation book seats, retention
purges the images.

The scanned pages are real: the PDF this system prints, rendered with
pypdfium2, marked by hand-like strokes (tests/formsynth.py) and read by the
real reader.  The expensive part (render, mark, read) runs once per module
into template databases that each test copies.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import random
from date_community.sqlitedriver import sqlite3
from pathlib import Path

import cv2
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw

import formsynth
from conftest import BASE
from date_community import audit, content, db as dbmod, people, timeutil
from date_community.errors import DateCommunityError
from date_community.forms import layout as layout_mod
from date_community.forms import printing, records, review
from date_community.scheduling import bookings, sessions

SCAN_DPI = 200


def _day(offset: int) -> dt.date:
    return (BASE + dt.timedelta(days=offset)).date()


def _page_image(page, dpi: int = SCAN_DPI) -> Image.Image:
    return Image.fromarray(cv2.resize(page, None, fx=dpi / formsynth.MASTER_DPI, fy=dpi / formsynth.MASTER_DPI,
                                      interpolation=cv2.INTER_AREA))


def _pdf(images: list[Image.Image]) -> bytes:
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=SCAN_DPI)
    return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _copy(source, target):
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """A database with three sessions at city-hall (the first has one seat, already
    taken), four printed sheets, and a PDF of sheets 1-3 filled in by hand:

    * sheet 1: sessions A and B ticked, iPhone, consent
    * sheet 2: session A ticked, consent
    * sheet 3: session C filled then crossed out (must be uncertain), consent
    """
    folder = tmp_path_factory.mktemp("forms")
    path = folder / "printed.db"
    db = dbmod.connect(path)
    content.load_catalog(db)
    ids = []
    for offset, seats in ((1, 1), (3, 5), (5, 5)):
        start = BASE + dt.timedelta(days=offset, hours=1)
        ids.append(sessions.add_session(db, topic="basics", venue="city-hall", starts_at=start,
                                        ends_at=start + dt.timedelta(minutes=90), seats=seats))
    someone = people.add_resident(db, name_kanji="先客 一郎", name_kana="せんきゃく いちろう", phone="0245000001",
                                  source="phone")
    bookings.book_seat(db, ids[0], someone, source="phone", actor="test", now=BASE)
    made = records.print_forms(db, "city-hall", _day(0), _day(7), 4, folder / "out", actor="cli:test")
    layout = records.get_layout(db, made["version"])
    db.close()

    a, b, c = (f"session:{i}" for i in ids)
    marks = {1: {a: "check", b: "circle", "device:iphone": "tick", "consent": "check"},
             2: {a: "fill", "consent": "tick"},
             3: {c: "fill_cross", "consent": "check"}}
    masters = formsynth.render_masters(layout, [1, 2, 3])
    rng = random.Random(7)
    images = []
    for serial in (1, 2, 3):
        page = masters[serial].copy()
        for key, style in marks[serial].items():
            formsynth.draw_mark(page, rng, style, layout.box(key), pencil=False)
        for fld in layout.fields:
            formsynth.scribble(page, rng, fld)
        images.append(_page_image(page))
    return {"path": path, "folder": folder, "made": made, "layout": layout, "sessions": ids, "keys": (a, b, c),
            "pdf": _pdf(images), "page_pngs": [_png(i) for i in images]}


@pytest.fixture(scope="module")
def scanned(printed, tmp_path_factory):
    """The printed database after the filled PDF was scanned once."""
    path = tmp_path_factory.mktemp("scanned") / "scanned.db"
    _copy(printed["path"], path)
    db = dbmod.connect(path)
    report = records.scan_files(db, [("filled.pdf", printed["pdf"])], actor="user:1")
    db.close()
    return {**printed, "path": path, "report": report}


@pytest.fixture
def pdb(printed, tmp_path):
    _copy(printed["path"], tmp_path / "p.db")
    database = dbmod.connect(tmp_path / "p.db")
    yield database
    database.close()


@pytest.fixture
def sdb(scanned, tmp_path):
    _copy(scanned["path"], tmp_path / "s.db")
    database = dbmod.connect(tmp_path / "s.db")
    yield database
    database.close()


def _sheet_id(db, serial: int) -> int:
    return next(db.query("SELECT id FROM scanned_sheets WHERE serial = ? AND status = 'ok'", [serial]))["id"]


FIELDS = {"name": "伊達 花子", "kana": "ダテ ハナコ", "phone": "090-1234-5678", "birth_year": "1948"}


# --- printing -------------------------------------------------------------------------------------

def test_print_writes_pdf_and_layout_and_records_serials(printed, pdb):
    made = printed["made"]
    assert made["serials"] == [1, 2, 3, 4]
    assert made["pdf"].endswith(f"forms-{made['version']}-1-4.pdf")
    document = pdfium.PdfDocument(made["pdf"])
    assert len(document) == 4
    document.close()
    written = layout_mod.Layout.from_json(Path(made["layout"]).read_text(encoding="utf-8"))
    assert written.form_version == made["version"]
    assert [b.key for b in written.boxes if b.kind == "session"] == list(printed["keys"])
    stored = next(pdb.query("SELECT * FROM form_versions"))
    assert stored["version"] == made["version"] and json.loads(stored["layout_json"])["units"] == "mm"
    rows = list(pdb.query("SELECT serial, version, printed_by FROM form_sheets ORDER BY serial"))
    assert rows == [{"serial": s, "version": made["version"], "printed_by": "cli:test"} for s in (1, 2, 3, 4)]
    entry = audit.entries(pdb, entity="form_version")[0]
    assert entry["action"] == "print" and entry["detail"]["first"] == 1 and entry["detail"]["last"] == 4


def test_a_second_print_continues_the_serials_and_keeps_the_version(printed, pdb):
    again = records.prepare_print(pdb, "city-hall", _day(0), _day(7), 3, actor="test")
    assert again["serials"] == [5, 6, 7]
    assert again["version"] == printed["made"]["version"]  # same sessions, same design
    assert pdb["form_versions"].count == 1


@pytest.mark.parametrize("venue, first, last, copies, code", [
    ("city-hall", 30, 40, 1, "no_sessions_in_period"),      # no session in those dates
    ("city-hall", 0, 7, 0, "invalid_copies"),               # zero copies
    ("city-hall", 0, 7, records.MAX_COPIES + 1, "invalid_copies"),  # more than the cap
    ("city-hall", 7, 0, 1, "invalid_time_range"),           # the period ends before it starts
    ("no-such-hall", 0, 7, 1, "venue_not_found"),           # unknown venue
])
def test_print_refuses_bad_requests(pdb, venue, first, last, copies, code):
    with pytest.raises(DateCommunityError) as caught:
        records.prepare_print(pdb, venue, _day(first), _day(last), copies, actor="test")
    assert caught.value.code == code
    assert pdb["form_sheets"].count == 4  # nothing allocated


# --- scanning ---------------------------------------------------------------------------------------

def _foreign_page() -> bytes:
    image = Image.new("L", (1400, 1000), 235)
    draw = ImageDraw.Draw(image)
    rng = random.Random(3)
    for _ in range(60):
        x, y = rng.randint(0, 1300), rng.randint(0, 900)
        draw.rectangle([x, y, x + rng.randint(20, 120), y + rng.randint(5, 60)], fill=rng.randint(0, 120))
    return _png(image)


def test_scan_reports_each_page_and_never_stops(scanned, pdb):
    report = records.scan_files(pdb, [
        ("filled.pdf", scanned["pdf"]),
        ("back-of-sheet.png", _png(Image.new("L", (1654, 2339), 250))),
        ("holiday.png", _foreign_page()),
        ("notes.txt", b"not an image at all"),
    ], actor="user:1")
    statuses = [(p["source_name"], p["page_no"], p["status"]) for p in report["pages"]]
    assert statuses == [("filled.pdf", 1, "ok"), ("filled.pdf", 2, "ok"), ("filled.pdf", 3, "ok"),
                        ("back-of-sheet.png", 1, "blank"), ("holiday.png", 1, "not_our_form"),
                        ("notes.txt", 1, "unreadable_file")]
    assert report["pages"][-1]["error"] == "upload_not_an_image"
    assert [p["serial"] for p in report["pages"][:3]] == [1, 2, 3]
    assert report["counts"] == {"ok": 3, "blank": 1, "not_our_form": 1, "unreadable_file": 1}
    assert report["files_read"] == 3
    batch = next(pdb.query("SELECT * FROM scan_batches"))
    assert (batch["file_count"], batch["page_count"], batch["uploaded_by"]) == (4, 6, "user:1")


def test_scan_reads_the_ticks(scanned, sdb):
    a, b, c = scanned["keys"]
    one = records.sheet_row(sdb, _sheet_id(sdb, 1))["result"]["boxes"]
    assert (one[a]["state"], one[b]["state"], one["consent"]["state"]) == ("marked", "marked", "marked")
    assert one[c]["state"] == "empty"
    two = records.sheet_row(sdb, _sheet_id(sdb, 2))["result"]["boxes"]
    assert (two[a]["state"], two[b]["state"], two[c]["state"]) == ("marked", "empty", "empty")
    three = records.sheet_row(sdb, _sheet_id(sdb, 3))["result"]["boxes"]
    assert three[c]["state"] == "uncertain"  # filled, then crossed out
    stored = next(sdb.query("SELECT image, crops FROM scanned_sheets WHERE serial = 1"))
    assert stored["image"][:8] == b"\x89PNG\r\n\x1a\n"
    assert {"field:name", "field:furigana", "field:phone", "field:birth_year", f"box:{a}"} <= set(
        json.loads(stored["crops"]))


def test_the_same_sheet_twice_in_one_upload(scanned, pdb):
    page = scanned["page_pngs"][0]
    report = records.scan_files(pdb, [("a.png", page), ("b.png", page)], actor="test")
    assert [p["status"] for p in report["pages"]] == ["ok", "duplicate_in_batch"]
    assert [p["review_state"] for p in report["pages"]] == ["pending", "discarded"]


def test_a_sheet_scanned_again_is_reported_and_not_queued(scanned, sdb):
    review.confirm_sheet(sdb, _sheet_id(sdb, 2), FIELDS, None, actor="test")
    report = records.scan_files(sdb, [("again.png", scanned["page_pngs"][1])], actor="test")
    assert [(p["status"], p["serial"], p["review_state"]) for p in report["pages"]] == [
        ("already_scanned", 2, "discarded")]
    assert 2 not in [s["serial"] for s in records.review_queue(sdb) if s["batch_id"] == report["batch_id"]]


def test_a_form_printed_elsewhere_is_unknown(pdb):
    foreign = layout_mod.sample_layout(2)
    buffer = io.BytesIO()
    printing.render_pdf(foreign, [77], buffer)
    report = records.scan_files(pdb, [("other-city.pdf", buffer.getvalue())], actor="test")
    assert [(p["status"], p["version"]) for p in report["pages"]] == [("unknown_version", foreign.form_version)]


@pytest.mark.parametrize("raw, clean", [
    ("scan.pdf", "scan.pdf"),                      # an ordinary name
    ("../../etc/passwd.png", "passwd.png"),        # a path climbing out
    ("C:\\Users\\staff\\scan 1.tif", "scan 1.tif"),  # a Windows path
    ("..", "upload"),                              # nothing left
    ("a\x00b<c>.jpg", "abc.jpg"),                  # control and reserved characters
])
def test_source_names_are_cleaned(raw, clean):
    assert records.clean_source_name(raw) == clean


# --- the queue and one sheet ---------------------------------------------------------------------------

def test_queue_puts_the_least_confident_first(make_scanned_sheet, catalog_db, make_session):
    make_session(day=1)
    made = [make_scanned_sheet(day=_day(1), confidence=c) for c in (0.9, 0.2, 0.6)]
    queue = records.review_queue(catalog_db)
    assert [s["id"] for s in queue] == [made[1]["sheet_id"], made[2]["sheet_id"], made[0]["sheet_id"]]
    review.discard_sheet(catalog_db, made[1]["sheet_id"], actor="test")
    assert [s["id"] for s in records.review_queue(catalog_db)] == [made[2]["sheet_id"], made[0]["sheet_id"]]


def test_viewing_a_sheet_and_its_handwriting_is_audited(scanned, sdb):
    sheet_id = _sheet_id(sdb, 1)
    sheet = records.get_sheet(sdb, sheet_id, actor="user:9")
    assert [b["key"] for b in sheet["boxes"]][:3] == list(scanned["keys"])
    assert all(b["label"] for b in sheet["boxes"])
    assert records.get_crop(sdb, sheet_id, "field:name", actor="user:9")[:4] == b"\x89PNG"
    assert records.get_crop(sdb, sheet_id, f"box:{scanned['keys'][0]}", actor="user:9")[:4] == b"\x89PNG"
    rows = [(e["action"], e["detail"]) for e in audit.entries(sdb, entity="scanned_sheet", entity_id=sheet_id)]
    # the sheet and the handwritten field are logged; a tick-box crop is not
    assert rows == [("view_crop", {"crop": "field:name"}), ("view", {})]
    assert all(e["actor"] == "user:9" for e in audit.entries(sdb, entity="scanned_sheet", entity_id=sheet_id))
    with pytest.raises(DateCommunityError) as caught:
        records.get_crop(sdb, sheet_id, "field:nothing", actor="user:9")
    assert caught.value.code == "not_found"


# --- confirmation ------------------------------------------------------------------------------------

def test_confirm_creates_the_resident_and_books_through_the_library(scanned, sdb):
    a, b, _ = scanned["keys"]
    sheet_id = _sheet_id(sdb, 1)
    sure = {k: v["state"] for k, v in records.sheet_row(sdb, sheet_id)["result"]["boxes"].items()}
    # settle anything the reader left open as the resident meant it
    boxes = {k: ("marked" if k in (a, b, "device:iphone", "consent") else "empty")
             for k, state in sure.items() if state == "uncertain"}
    result = review.confirm_sheet(sdb, sheet_id, FIELDS, None, boxes=boxes, actor="user:3")
    assert result["new_resident"] is True
    assert [(o["session_id"], o["status"], o["position"]) for o in result["bookings"]] == [
        (scanned["sessions"][0], "waitlisted", 1),   # one seat, already taken
        (scanned["sessions"][1], "confirmed", None)]
    resident = people.get_resident(sdb, result["resident_id"])
    assert (resident["name_kanji"], resident["name_kana"], resident["phone"], resident["birth_year"]) == (
        "伊達 花子", "だて はなこ", "09012345678", 1948)
    assert (resident["source"], resident["consent_channel"], resident["device"]) == ("paper", "paper", "iphone")
    assert resident["consent_at"]
    rows = list(sdb.query("SELECT session_id, status, source, paper_ref, entered_by FROM bookings "
                          "WHERE resident_id = ? ORDER BY session_id", [result["resident_id"]]))
    assert rows == [
        {"session_id": scanned["sessions"][0], "status": "waitlisted", "source": "paper",
         "paper_ref": "sheet-000001", "entered_by": "user:3"},
        {"session_id": scanned["sessions"][1], "status": "confirmed", "source": "paper",
         "paper_ref": "sheet-000001", "entered_by": "user:3"}]
    row = records.sheet_row(sdb, sheet_id)
    assert (row["review_state"], row["resident_id"], row["confirmed_by"]) == ("confirmed", result["resident_id"],
                                                                              "user:3")
    entry = audit.entries(sdb, entity="scanned_sheet", entity_id=sheet_id)[0]
    assert entry["action"] == "confirm" and len(entry["detail"]["booked"]) == 2
    # the waitlisted booking is on the sheet's call list, the confirmed one is not
    calls = review.waitlist_calls(sdb, sheet_id, actor="user:3")
    assert [(c["session_id"], c["position"], c["phone"]) for c in calls] == [
        (scanned["sessions"][0], 1, "09012345678")]


def test_uncertain_boxes_block_confirmation_until_staff_decide(scanned, sdb):
    _, _, c = scanned["keys"]
    sheet_id = _sheet_id(sdb, 3)
    with pytest.raises(DateCommunityError) as caught:
        review.confirm_sheet(sdb, sheet_id, FIELDS, None, actor="test")
    assert caught.value.code == "sheet_has_uncertain_boxes"
    assert sdb["residents"].count == 1 and sdb["bookings"].count == 1  # nothing written
    for key, box in records.sheet_row(sdb, sheet_id)["result"]["boxes"].items():
        if box["state"] == "uncertain":
            review.set_box(sdb, sheet_id, key, "empty" if key == c else "marked", actor="user:4")
    result = review.confirm_sheet(sdb, sheet_id, FIELDS, None, actor="user:4")
    assert result["bookings"] == []  # the crossed-out class was not booked
    edits = records.sheet_row(sdb, sheet_id)["result"]["edits"]
    assert {"key": c, "from": "uncertain", "to": "empty", "by": "user:4"}.items() <= edits[0].items()
    assert "set_box" in [e["action"] for e in audit.entries(sdb, entity="scanned_sheet", entity_id=sheet_id)]


@pytest.mark.parametrize("states, fields, code", [
    ({"consent": "empty"}, FIELDS, "consent_required"),                       # consent not ticked
    ({"consent": "marked", "device:android": "uncertain"}, FIELDS, "sheet_has_uncertain_boxes"),  # one left open
    ({"consent": "marked"}, {**FIELDS, "phone": "12345"}, "invalid_phone"),   # a phone number that cannot be
    ({"consent": "marked"}, {**FIELDS, "kana": "Hanako"}, "invalid_kana"),    # furigana in Latin letters
    ({"consent": "marked"}, {**FIELDS, "name": ""}, "invalid_name"),          # no name typed
])
def test_confirm_refuses_and_writes_nothing(make_scanned_sheet, make_session, catalog_db, states, fields, code):
    sid = make_session(day=1)
    made = make_scanned_sheet(day=_day(1), states={f"session:{sid}": "marked", **states})
    residents_before = catalog_db["residents"].count
    with pytest.raises(DateCommunityError) as caught:
        review.confirm_sheet(catalog_db, made["sheet_id"], fields, None, actor="test")
    assert caught.value.code == code
    assert catalog_db["residents"].count == residents_before
    assert catalog_db["bookings"].count == 0
    assert records.sheet_row(catalog_db, made["sheet_id"])["review_state"] == "pending"


def test_a_sheet_is_confirmed_only_once(make_scanned_sheet, make_session, catalog_db):
    sid = make_session(day=1)
    made = make_scanned_sheet(day=_day(1), states={f"session:{sid}": "marked", "consent": "marked"})
    review.confirm_sheet(catalog_db, made["sheet_id"], FIELDS, None, actor="test")
    with pytest.raises(DateCommunityError) as caught:
        review.confirm_sheet(catalog_db, made["sheet_id"], FIELDS, None, actor="test")
    assert caught.value.code == "sheet_already_confirmed"
    assert catalog_db["bookings"].count == 1


def test_confirm_onto_an_existing_resident_updates_them(make_scanned_sheet, make_session, make_resident,
                                                        catalog_db):
    sid = make_session(day=1)
    known = make_resident(name_kanji="伊達 花子", name_kana="だて はなこ", phone="0245770000", birth_year=1948)
    made = make_scanned_sheet(day=_day(1), states={f"session:{sid}": "marked", "consent": "marked",
                                                   "device:rakuraku": "marked"})
    suggestions = review.duplicate_suggestions(catalog_db, phone=FIELDS["phone"], kana=FIELDS["kana"],
                                               birth_year=FIELDS["birth_year"])
    assert [(s["id"], s["reasons"]) for s in suggestions] == [(known, ["kana_birth_year"])]
    result = review.confirm_sheet(catalog_db, made["sheet_id"], FIELDS, known, actor="test")
    assert (result["resident_id"], result["new_resident"]) == (known, False)
    resident = people.get_resident(catalog_db, known)
    assert (resident["phone"], resident["device"]) == ("09012345678", "rakuraku")  # the sheet is newer
    assert [b["session_id"] for b in bookings.resident_bookings(catalog_db, known)] == [sid]


@pytest.mark.parametrize("typed, expected_reasons", [
    ({"phone": "０９０－１２３４－５６７８"}, ["phone"]),                     # same phone, typed full-width
    ({"kana": "だて はなこ", "birth_year": "1948"}, ["kana_birth_year"]),   # same furigana and year
    ({"kana": "だて はなこ", "birth_year": "1950"}, None),                  # same furigana, other year
    ({"phone": "090-12"}, None),                                          # half-typed phone: no guess
])
def test_duplicate_suggestions(make_resident, catalog_db, typed, expected_reasons):
    make_resident(name_kanji="伊達 花子", name_kana="ダテ ハナコ", phone="09012345678", birth_year=1948)
    found = review.duplicate_suggestions(catalog_db, **typed)
    assert ([f["reasons"] for f in found] == [expected_reasons]) if expected_reasons else found == []


def test_a_session_that_cannot_be_booked_is_reported_and_the_rest_stand(make_scanned_sheet, make_session,
                                                                        catalog_db):
    first, second = make_session(day=1), make_session(day=2)
    made = make_scanned_sheet(day=_day(1), day_to=_day(2), states={
        f"session:{first}": "marked", f"session:{second}": "marked", "consent": "marked"})
    sessions.cancel_session(catalog_db, first, actor="test")
    result = review.confirm_sheet(catalog_db, made["sheet_id"], FIELDS, None, actor="test")
    assert [(o["session_id"], o["status"], o["code"]) for o in result["bookings"]] == [
        (first, "not_booked", "session_cancelled"), (second, "confirmed", None)]
    shown = review.confirmation(catalog_db, made["sheet_id"], actor="test")
    assert [b["current_status"] for b in shown["bookings"]] == ["not_booked", "confirmed"]


# --- retention -------------------------------------------------------------------------------------------

def test_purge_deletes_images_after_the_retention_period(make_scanned_sheet, make_session, catalog_db):
    sid = make_session(day=1)
    done = make_scanned_sheet(day=_day(1), states={f"session:{sid}": "marked", "consent": "marked"})
    forgotten = make_scanned_sheet(day=_day(1))
    review.confirm_sheet(catalog_db, done["sheet_id"], FIELDS, None, actor="test")
    now = timeutil.now()
    assert records.purge_expired(catalog_db, now)["purged"] == 0
    assert records.purge_expired(catalog_db, now + dt.timedelta(days=366), actor="cli:test")["purged"] == 2
    for made, state in ((done, "confirmed"), (forgotten, "discarded")):
        row = next(catalog_db.query("SELECT review_state, image, crops, purged_at, result_json FROM scanned_sheets "
                                    "WHERE id = ?", [made["sheet_id"]]))
        assert (row["review_state"], row["image"], row["crops"]) == (state, None, None)
        assert row["purged_at"] and json.loads(row["result_json"])["boxes"]  # the counts stay
    assert catalog_db["bookings"].count == 1
    with pytest.raises(DateCommunityError):
        records.get_crop(catalog_db, done["sheet_id"], "field:name", actor="test")
    assert audit.entries(catalog_db, entity="scanned_sheet", actor="cli:test")[0]["detail"] == {"sheets": 2}


@pytest.mark.parametrize("setting, days", [
    (None, 365),     # the default
    ("30", 30),      # a shorter period
    ("0", 365),      # nonsense falls back to the default
    ("soon", 365),   # so does text
])
def test_retention_days_setting(monkeypatch, setting, days):
    if setting is None:
        monkeypatch.delenv(records.RETENTION_ENV, raising=False)
    else:
        monkeypatch.setenv(records.RETENTION_ENV, setting)
    assert records.retention_days() == days
