"""Reading sheets: the accuracy corpus, bad inputs, and upload formats.

The corpus is made from the real PDF (tests/formsynth.py): 150 scanner-like
and 100 photo-like filled sheets plus blank forms, with a fixed seed.  Each
sheet is generated, read, and reduced to its numbers straight away, so the
images never pile up in memory.
"""
from __future__ import annotations

import io
import random
import struct
import zlib
from collections import Counter

import cv2
import numpy as np
import pytest
import segno
from PIL import Image

import formsynth
from date_community.errors import DateCommunityError
from date_community.forms import layout as layout_mod
from date_community.forms import printing, reader

SERIALS = [1001, 1002, 1003, 1004, 1005, 1006]
SCANNER, PHOTO, BLANK = 150, 100, 6


@pytest.fixture(scope="module")
def form():
    return layout_mod.sample_layout(5)


@pytest.fixture(scope="module")
def masters(form):
    # Each page image comes from the PDF once; every sheet starts from a copy.
    return formsynth.render_masters(form, SERIALS)


@pytest.fixture(scope="module")
def layouts(form):
    return {form.form_version: form}.get


@pytest.fixture(scope="module")
def corpus(form, masters, layouts):
    rows = []
    for sheet in formsynth.corpus(form, masters, seed=20261203, scanner=SCANNER, photo=PHOTO, blank=BLANK):
        read = reader.read_sheet(sheet.image, layouts)
        rows.append((sheet.kind, sheet.serial, sheet.upside_down, sheet.truth, read))
    return rows


def _boxes(corpus, kind):
    out = Counter()
    for sheet_kind, serial, _, truth, read in corpus:
        if sheet_kind != kind or read.status != "ok":
            continue
        for key, expected in truth.items():
            box = read.boxes[key]
            out["boxes"] += 1
            if box.state == "uncertain":
                out["review"] += 1
                continue
            out["decided"] += 1
            if box.state != expected:
                out["wrong"] += 1     # decided automatically and wrong: nobody will look at it
    return out


@pytest.mark.parametrize("kind, required", [
    ("scanner", 0.995),   # flatbed scans
    ("photo", 0.98),      # phone photos: ±15°, perspective, shadow, 180° turned
])
def test_sheet_id_is_read(corpus, kind, required):
    sheets = [row for row in corpus if row[0] == kind]
    good = [row for row in sheets if row[4].status == "ok" and row[4].serial == row[1]]
    assert len(sheets) == (SCANNER if kind == "scanner" else PHOTO)
    assert len(good) / len(sheets) >= required, [(r[4].status, r[4].serial, r[1]) for r in sheets if r not in good]


@pytest.mark.parametrize("kind, max_review", [
    ("scanner", 0.03),    # scanner-like sheets: at most 3% of boxes to review
    ("photo", 0.08),      # photo-like sheets: at most 8%
])
def test_box_accuracy_and_review_rate(corpus, kind, max_review):
    counts = _boxes(corpus, kind)
    assert counts["boxes"] > 800
    assert (counts["decided"] - counts["wrong"]) / counts["decided"] >= 0.998, counts
    assert counts["wrong"] / counts["boxes"] <= 0.001, counts
    assert counts["review"] / counts["boxes"] <= max_review, counts


def test_marks_that_need_a_person_are_flagged(corpus):
    flagged = [(row[4].boxes[key].state, row[4].boxes[key].note)
               for row in corpus if row[4].status == "ok"
               for key, truth in row[3].items() if truth == "flag"]
    assert flagged, "the corpus must hold corrections and marks beside boxes"
    assert all(state == "uncertain" and note in ("correction", "outside_box") for state, note in flagged), flagged


def test_upside_down_sheets_are_turned_and_read(corpus):
    turned = [row for row in corpus if row[2]]
    assert len(turned) >= 10
    for kind, serial, upside, truth, read in turned:
        assert read.status == "ok" and read.upside_down and read.serial == serial
    upright = [row for row in corpus if not row[2] and row[4].status == "ok"]
    assert not any(row[4].upside_down for row in upright)


def test_blank_forms_give_no_marks(corpus):
    blanks = [row for row in corpus if row[0] == "blank"]
    assert len(blanks) == BLANK
    for kind, serial, _, truth, read in blanks:
        assert read.status == "ok" and read.serial == serial
        assert {b.state for b in read.boxes.values()} == {"empty"}, read.boxes


def test_read_sheet_returns_crops_and_the_rectified_page(corpus, form):
    read = next(row[4] for row in corpus if row[4].status == "ok")
    assert set(read.field_crops) == {"name", "furigana", "phone", "birth_year"}
    assert set(read.box_crops) == {b.key for b in form.boxes}
    page = Image.open(io.BytesIO(read.page_png))
    assert page.mode == "L" and 700 < page.size[0] < 1000          # about 100 dpi
    assert not page.getexif()
    assert 0.0 <= read.residual_mm <= reader.MAX_RESIDUAL_MM
    assert 0.0 <= read.confidence <= 1.0


def _sheet(masters, form, *, marks=(), dpi=200, seed=1):
    rng = random.Random(seed)
    page = masters[SERIALS[0]].copy()
    for key, style, pencil in marks:
        formsynth.draw_mark(page, rng, style, form.box(key), pencil=pencil)
    return formsynth.distort(page, rng, "scanner", dpi, False, form)


@pytest.mark.parametrize("style, pencil, expected, note", [
    ("check", False, "marked", ""),          # レ in pen
    ("check", True, "marked", ""),           # レ in pencil
    ("tick", True, "marked", ""),            # ✓ in pencil
    ("circle", False, "marked", ""),         # ○ drawn around the box
    ("circle", True, "marked", ""),          # ○ in pencil
    ("cross", False, "marked", ""),          # ×
    ("fill", False, "marked", ""),           # a neat filled ■
    ("fill_cross", False, "uncertain", "correction"),   # filled, then crossed out
    ("beside", False, "uncertain", "outside_box"),      # a tick next to the box
])
def test_each_mark_style(masters, form, layouts, style, pencil, expected, note):
    image = _sheet(masters, form, marks=[("session:102", style, pencil)], seed=hash(style) % 1000)
    read = reader.read_sheet(image, layouts)
    assert read.status == "ok"
    box = read.boxes["session:102"]
    assert (box.state, box.note) == (expected, note), box
    assert read.boxes["session:101"].state == "empty"


def test_scribbles_in_the_fields_do_not_touch_the_boxes(masters, form, layouts):
    rng = random.Random(4)
    page = masters[SERIALS[0]].copy()
    for fld in form.fields:
        for _ in range(3):
            formsynth.scribble(page, rng, fld)
    read = reader.read_sheet(formsynth.distort(page, rng, "scanner", 200, False, form), layouts)
    assert read.status == "ok"
    assert {b.state for b in read.boxes.values()} == {"empty"}


# -- bad inputs: never a crash, always a clear status or code -----------------

def _png(arr: np.ndarray) -> bytes:
    ok, enc = cv2.imencode(".png", arr)
    return enc.tobytes()


def _white(dpi=150) -> np.ndarray:
    return np.full((int(297 * dpi / 25.4), int(210 * dpi / 25.4)), 250, np.uint8)


def _random_picture() -> np.ndarray:
    rng = np.random.default_rng(3)
    img = np.full((1600, 1200, 3), 120, np.uint8)
    for _ in range(120):
        x, y = rng.integers(0, 1200), rng.integers(0, 1600)
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            cv2.rectangle(img, (int(x), int(y)), (int(x + rng.integers(10, 200)), int(y + rng.integers(10, 200))),
                          color, -1)
        else:
            cv2.circle(img, (int(x), int(y)), int(rng.integers(5, 80)), color, -1)
    img = cv2.GaussianBlur(img, (0, 0), 1.5)
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def _text_page() -> bytes:
    from reportlab.pdfgen import canvas
    from date_community import pdffonts
    pdffonts.register("UDGothic")
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.setFont("UDGothic", 12)
    for i in range(50):
        pdf.drawString(50, 800 - i * 15, f"お知らせ {i}: 伊達市の広報 ■ このページはフォームではありません。")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _foreign_qr() -> np.ndarray:
    page = _white()
    matrix = np.array([list(r) for r in segno.make_qr("https://example.org/another-app", error="m").matrix],
                      dtype=np.uint8)
    qr = cv2.resize(((1 - matrix) * 255).astype(np.uint8), None, fx=12, fy=12, interpolation=cv2.INTER_NEAREST)
    page[300:300 + qr.shape[0], 300:300 + qr.shape[1]] = qr
    return page


def _read_bytes(data: bytes, layouts):
    return [reader.read_sheet(page, layouts).status for page in reader.load_pages(data, "upload")]


@pytest.mark.parametrize("make, status", [
    (lambda: _png(_white()), "blank"),                     # an empty white page (the back of a sheet)
    (lambda: _png(_random_picture()), "not_our_form"),     # a photo-like random picture
    (_text_page, "not_our_form"),                          # a page of text, as a PDF
    (lambda: _png(_foreign_qr()), "not_our_form"),         # another app's QR code
    (lambda: _png(np.zeros((40, 30), np.uint8)), "not_our_form"),  # a tiny image
])
def test_foreign_pages_get_a_status(layouts, make, status):
    assert _read_bytes(make(), layouts) == [status]


def _bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    # Rewrite the header to claim 40000 x 40000 pixels (with a valid CRC).
    ihdr = data[12:29]
    ihdr[4:12] = struct.pack(">II", 40000, 40000)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def _truncated_png() -> bytes:
    data = _png(_random_picture())
    return data[: len(data) // 3]


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (50, 50), 255).save(buf, "GIF")
    return buf.getvalue()


@pytest.mark.parametrize("make, code", [
    (lambda: b"", "upload_not_an_image"),                       # a zero-byte file
    (_truncated_png, "upload_not_an_image"),                    # a truncated PNG
    (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "upload_not_an_image"),  # PNG magic, garbage after
    (lambda: b"%PDF-1.4\n garbage", "upload_not_an_image"),     # a corrupt PDF
    (_gif, "upload_not_an_image"),                              # a format not on the allow-list
    (lambda: b"<html><body>hi</body></html>", "upload_not_an_image"),  # not an image at all
    (_bomb, "upload_too_large_image"),                          # a decompression bomb
])
def test_damaged_uploads_raise_only_our_error(make, code):
    with pytest.raises(DateCommunityError) as info:
        list(reader.load_pages(make(), "scan.png"))
    assert info.value.code == code


def test_truncated_jpeg_is_refused():
    ok, enc = cv2.imencode(".jpg", _random_picture())
    with pytest.raises(DateCommunityError) as info:
        list(reader.load_pages(enc.tobytes()[:5000], "photo.jpg"))
    assert info.value.code == "upload_not_an_image"


def test_read_sheet_survives_odd_arrays(layouts):
    assert reader.read_sheet(np.zeros((0, 0), np.uint8), layouts).status == "not_our_form"
    assert reader.read_sheet(Image.new("RGBA", (300, 400)), layouts).status in ("blank", "not_our_form")


def test_unknown_form_version_is_not_our_form(masters, form):
    read = reader.read_sheet(_sheet(masters, form), lambda version: None)
    assert read.status == "not_our_form"
    assert read.form_version == form.form_version and read.serial == SERIALS[0]


def test_distorted_geometry_is_refused(masters, form, layouts):
    page = masters[SERIALS[0]].copy()
    px = formsynth.MASTER_PX
    anchor = form.anchors[1]
    half = anchor.size / 2
    # Move the right-hand anchor 3 mm down: no homography fits all marks within 1 mm.
    y0, y1 = int((anchor.y - half - 1) * px), int((anchor.y + half + 1) * px)
    x0, x1 = int((anchor.x - half - 1) * px), int((anchor.x + half + 1) * px)
    page[y0:y1, x0:x1] = 255
    shift = int(3 * px)
    page[y0 + int(px) + shift:y1 - int(px) + shift, x0 + int(px):x1 - int(px)] = 0
    read = reader.read_sheet(formsynth.distort(page, random.Random(2), "scanner", 200, False, form), layouts)
    assert read.status == "bad_geometry"
    assert read.serial == SERIALS[0]


def test_unreadable_id(masters, form, layouts):
    page = masters[SERIALS[0]].copy()
    px = formsynth.MASTER_PX
    for rect in form.qr_rects:      # both QR codes smudged beyond repair
        y0, x0 = int(rect.y * px), int(rect.x * px)
        page[y0:y0 + int(rect.h * px), x0 + int(rect.w * px * 0.2):x0 + int(rect.w * px * 0.8)] = 0
    read = reader.read_sheet(formsynth.distort(page, random.Random(3), "scanner", 200, False, form), layouts)
    assert read.status == "unreadable_id" and read.serial is None


# -- load_pages ------------------------------------------------------------------

def test_pdf_pages_render_at_200_dpi_and_read(form, layouts):
    buf = io.BytesIO()
    printing.render_pdf(form, [5, 6], buf)
    pages = list(reader.load_pages(buf.getvalue(), "whatever.bin"))
    assert len(pages) == 2 and pages[0].mode == "L"
    assert abs(pages[0].size[0] - 1654) <= 2
    reads = [reader.read_sheet(p, layouts) for p in pages]
    assert [(r.status, r.serial) for r in reads] == [("ok", 5), ("ok", 6)]
    assert all(r.confidence == 1.0 for r in reads)
    assert list(reader.load_pages(buf.getvalue(), "x.pdf", max_pages=1))[0].size == pages[0].size
    assert len(list(reader.load_pages(buf.getvalue(), "x.pdf", max_pages=1))) == 1


def test_png_jpeg_and_multipage_tiff(masters, form, layouts):
    image = _sheet(masters, form, marks=[("consent", "check", False)])
    for fmt in ("PNG", "JPEG"):
        buf = io.BytesIO()
        image.convert("RGB").save(buf, fmt)
        pages = list(reader.load_pages(buf.getvalue(), "scan.tif"))   # the name is ignored
        assert len(pages) == 1
        read = reader.read_sheet(pages[0], layouts)
        assert read.status == "ok" and read.boxes["consent"].state == "marked", fmt
    buf = io.BytesIO()
    image.save(buf, "TIFF", save_all=True, append_images=[image.rotate(180)], compression="tiff_lzw")
    pages = list(reader.load_pages(buf.getvalue(), "scan.png"))
    assert len(pages) == 2
    reads = [reader.read_sheet(p, layouts) for p in pages]
    assert [(r.status, r.upside_down) for r in reads] == [("ok", False), ("ok", True)]


def test_exif_is_stripped_and_orientation_applied():
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"          # camera make
    exif[0x0112] = 3                     # orientation: rotated 180°
    img = Image.new("RGB", (120, 80), (255, 255, 255))
    img.putpixel((0, 0), (0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=95)
    page = next(reader.load_pages(buf.getvalue(), "p.jpg"))
    assert not page.getexif() and "exif" not in page.info
    assert page.mode in ("L", "RGB")
    # The dark corner pixel moved to the opposite corner: the orientation flag was honoured.
    grey = np.asarray(page.convert("L"))
    assert grey[-1, -1] < grey[0, 0]
