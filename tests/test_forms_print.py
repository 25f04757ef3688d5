"""Printed sign-up sheets: layout rules (sizes in mm, gaps, fonts) and the PDF itself."""
from __future__ import annotations

import io
import itertools
import json

import numpy as np
import pypdfium2 as pdfium
import pytest
import zxingcpp

from date_community.errors import ValidationError
from date_community.forms import layout as layout_mod
from date_community.forms import printing


@pytest.fixture(scope="module")
def sample():
    return layout_mod.sample_layout(5)


@pytest.fixture(scope="module")
def pdf_bytes(sample):
    buf = io.BytesIO()
    printing.render_pdf(sample, [7, 123456], buf)
    return buf.getvalue()


def test_boxes_are_10_to_12_mm_and_at_least_10_mm_apart(sample):
    assert len(sample.boxes) == 5 + 5 + 1
    for box in sample.boxes:
        assert 10.0 <= box.w <= 12.0 and 10.0 <= box.h <= 12.0, box
    for a, b in itertools.combinations(sample.boxes, 2):
        gap_x = max(b.x - (a.x + a.w), a.x - (b.x + b.w))
        gap_y = max(b.y - (a.y + a.h), a.y - (b.y + b.h))
        assert max(gap_x, gap_y) >= 10.0 - 1e-9, (a.key, b.key, gap_x, gap_y)


def test_everything_sits_on_the_page_clear_of_the_fiducials(sample):
    items = [(b.key, b.x, b.y, b.w, b.h) for b in sample.boxes] + \
            [(f.key, f.x, f.y, f.w, f.h) for f in sample.fields] + \
            [("qr", r.x, r.y, r.w, r.h) for r in sample.qr_rects]
    for key, x, y, w, h in items:
        assert 0 < x and x + w < sample.page_w and 0 < y and y + h < sample.page_h, key
        for mark in sample.fiducials + sample.anchors:
            half = mark.size / 2 + 3.0      # a 3 mm white ring around every mark
            overlap = (x < mark.x + half and mark.x - half < x + w and y < mark.y + half and mark.y - half < y + h)
            assert not overlap, (key, mark)


def test_four_corner_fiducials_one_different(sample):
    kinds = [f.kind for f in sample.fiducials]
    assert len(kinds) == 4 and kinds.count("circle") == 1 and kinds.count("square") == 3


def test_session_lines_use_the_era_with_weekday(sample):
    first = sample.box("session:101")
    assert first.label.startswith("令和8年12月3日（木） 10:00〜11:30")
    assert first.value == 101


def test_fields_and_cells(sample):
    cells = {f.key: f.cells for f in sample.fields}
    assert cells == {"name": 0, "furigana": 0, "phone": 11, "birth_year": 4}


def test_layout_json_round_trip(sample):
    text = sample.to_json()
    data = json.loads(text)
    assert data["units"] == "mm" and data["origin"] == "top-left"
    assert "\n  " in text                      # indented for people
    assert layout_mod.Layout.from_json(text) == sample


def test_form_version_depends_on_content_only():
    a = layout_mod.sample_layout(3)
    b = layout_mod.sample_layout(3)
    c = layout_mod.sample_layout(4)
    assert a.form_version == b.form_version != c.form_version
    assert a.form_version.startswith("V1-") and a.form_version.upper() == a.form_version


@pytest.mark.parametrize("count, code", [
    (layout_mod.MAX_SESSIONS + 1, "too_many_sessions"),   # more lines than an A4 page holds at 20 pt
    (0, "no_sessions_in_period"),                          # nothing to print
])
def test_session_count_limits(count, code):
    with pytest.raises(ValidationError) as info:
        layout_mod.sample_layout(count) if count <= 5 else layout_mod.build_layout(
            form_version="V1-X", venue={"slug": "v", "name_ja": "会場"},
            sessions=[{"id": i, "starts_at": f"2026-12-{i + 1:02d}T10:00:00+09:00",
                       "ends_at": f"2026-12-{i + 1:02d}T11:00:00+09:00", "title_ja": "講座"} for i in range(count)])
    assert info.value.code == code


@pytest.mark.parametrize("text, expected", [
    (printing.qr_payload("V1-ABCD1234", 42), ("V1-ABCD1234", 42)),    # our own payload
    (printing.qr_payload("V1-ABCD1234", 42).replace(":42:", ":43:"), None),  # a misread serial
    ("https://example.org/", None),                                    # another app's code
    ("DC1:V1-ABCD1234:42", None),                                       # no checksum
    ("", None),                                                         # nothing
])
def test_qr_payload_parsing(text, expected):
    assert printing.parse_qr_payload(text) == expected


def test_batch_gives_one_page_per_serial(sample):
    buf = io.BytesIO()
    printing.render_pdf(sample, list(range(1, 6)), buf)
    doc = pdfium.PdfDocument(buf.getvalue())
    assert len(doc) == 5
    w, h = doc[0].get_size()
    assert abs(w / 72 * 25.4 - 210) < 0.5 and abs(h / 72 * 25.4 - 297) < 0.5


def _font_sizes(page) -> dict[str, float]:
    """Smallest font size (pt) per printed character, read back from the PDF."""
    text = page.get_textpage()
    sizes: dict[str, float] = {}
    for i in range(text.count_chars()):
        char = chr(pdfium.raw.FPDFText_GetUnicode(text.raw, i))
        if char.strip():
            size = pdfium.raw.FPDFText_GetFontSize(text.raw, i)
            sizes[char] = min(sizes.get(char, 99.0), size)
    return sizes


def test_pdf_text_is_large_print(pdf_bytes, sample):
    doc = pdfium.PdfDocument(pdf_bytes)
    page = doc[0]
    sizes = _font_sizes(page)
    assert sizes and min(sizes.values()) >= 16.0 - 0.01
    # The session lines are printed at 20 pt or more (characters found only in them).
    for char in "図撮族木":
        assert sizes[char] >= 20.0 - 0.01, char
    text = page.get_textpage().get_text_bounded()
    assert "受付番号 000007" in text
    assert "利用目的" in text                     # the APPI purpose of use beside the consent box
    assert all(t["pt"] >= 16 for t in sample.texts)


def test_pdf_qr_codes_level_q_with_big_modules(pdf_bytes, sample):
    doc = pdfium.PdfDocument(pdf_bytes)
    dpi = 150
    bitmap = doc[1].render(scale=dpi / 72, grayscale=True)
    arr = bitmap.to_numpy()
    grey = np.ascontiguousarray(arr[:, :, 0] if arr.ndim == 3 else arr)
    found = []
    for rect in sample.qr_rects:
        px = dpi / 25.4
        crop = grey[int((rect.y - 5) * px):int((rect.y + rect.h + 5) * px),
                    int((rect.x - 5) * px):int((rect.x + rect.w + 5) * px)]
        results = zxingcpp.read_barcodes(np.ascontiguousarray(crop))
        assert len(results) == 1
        found.append(results[0])
    for result in found:
        assert result.ec_level == "Q"
        assert printing.parse_qr_payload(result.text) == (sample.form_version, 123456)
        # Module size measured in the rendered page: symbol width / modules.
        xs = [result.position.top_left.x, result.position.top_right.x]
        modules = len(printing.qr_matrix(result.text))
        module_mm = (max(xs) - min(xs)) / (dpi / 25.4) / modules
        assert module_mm >= 1.0, module_mm


def test_pdf_fonts_are_embedded(pdf_bytes):
    assert b"BIZUDGothic" in pdf_bytes and b"/FontFile2" in pdf_bytes
