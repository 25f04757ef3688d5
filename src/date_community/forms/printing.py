"""Print sign-up sheets as an A4 PDF, one page per serial, from a ``Layout``.

Everything is drawn from the layout's millimetres, so what the reader looks
for is exactly what was printed.  The QR payload is
``DC1:<form version>:<serial>:<check>``: upper case, digits and colons only,
which QR encodes in its compact alphanumeric mode (a version 2 symbol).
"""
from __future__ import annotations

import re
import zlib
from typing import BinaryIO

import segno
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdf_canvas

from .. import pdffonts
from .layout import BOX, Layout

PREFIX = "DC1"
QR_ERROR = "q"
MIN_MODULE_MM = 1.0
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PAYLOAD = re.compile(r"^DC1:([A-Z0-9-]{1,20}):([0-9]{1,9}):([0-9A-Z]{2})$")

BORDER_MM = 0.5        # tick box outline
FIELD_LINE_MM = 0.3


def _check(form_version: str, serial: int) -> str:
    # Two base-36 characters of a CRC: catches a misread digit or a foreign code
    # that happens to start with our prefix.
    value = zlib.crc32(f"{form_version}:{serial}".encode("ascii")) % (36 * 36)
    return _ALPHABET[value // 36] + _ALPHABET[value % 36]


def qr_payload(form_version: str, serial: int) -> str:
    return f"{PREFIX}:{form_version}:{int(serial)}:{_check(form_version, int(serial))}"


def parse_qr_payload(text: str) -> tuple[str, int] | None:
    match = _PAYLOAD.match((text or "").strip())
    if not match:
        return None
    version, serial = match.group(1), int(match.group(2))
    if _check(version, serial) != match.group(3):
        return None
    return version, serial


def sheet_id(serial: int) -> str:
    """The serial as printed in large digits on the sheet."""
    return f"{int(serial):06d}"


def qr_matrix(payload: str) -> list[list[int]]:
    qr = segno.make_qr(payload, error=QR_ERROR, boost_error=False)
    return [list(row) for row in qr.matrix]


def render_pdf(layout: Layout, serials: list[int], out: str | BinaryIO) -> None:
    """Write one A4 page per serial to ``out`` (a path or a binary file)."""
    pdffonts.register("UDGothic", "UDGothic-Bold")
    pdf = pdf_canvas.Canvas(out, pagesize=(layout.page_w * mm, layout.page_h * mm), pageCompression=1)
    pdf.setTitle(f"Sign-up form {layout.form_version}")
    pdf.setAuthor("date-community")
    for serial in serials:
        _page(pdf, layout, int(serial))
        pdf.showPage()
    pdf.save()


def _page(pdf, layout: Layout, serial: int) -> None:
    page_h = layout.page_h

    def rect(x, y, w, h, *, fill=False, stroke=True, width=BORDER_MM):
        pdf.setLineWidth(width * mm)
        pdf.rect(x * mm, (page_h - y - h) * mm, w * mm, h * mm, fill=int(fill), stroke=int(stroke))

    pdf.setFillGray(0)
    pdf.setStrokeGray(0)
    for mark in layout.fiducials + layout.anchors:
        half = mark.size / 2
        if mark.kind == "circle":
            pdf.circle(mark.x * mm, (page_h - mark.y) * mm, half * mm, stroke=0, fill=1)
        else:
            rect(mark.x - half, mark.y - half, mark.size, mark.size, fill=True, stroke=False)

    payload = qr_payload(layout.form_version, serial)
    matrix = qr_matrix(payload)
    for qr_rect in layout.qr_rects:
        module = qr_rect.w / len(matrix)
        assert module >= MIN_MODULE_MM, "QR modules must be at least 1 mm"
        for r, row in enumerate(matrix):
            for c, dark in enumerate(row):
                if dark:
                    # Slightly oversized modules so neighbours merge without hairline gaps.
                    rect(qr_rect.x + c * module, qr_rect.y + r * module, module + 0.02, module + 0.02,
                         fill=True, stroke=False)

    pdf.setFont("UDGothic-Bold", 24)
    idr = layout.id_rect
    pdf.drawString(idr.x * mm, (page_h - idr.y - idr.h + 1.0) * mm, f"受付番号 {sheet_id(serial)}")

    for line in layout.texts:
        pdf.setFont("UDGothic-Bold" if line["bold"] else "UDGothic", line["pt"])
        pdf.drawString(line["x"] * mm, (page_h - line["y"]) * mm, line["text"])

    # The printed example of a correct mark (not a box the reader looks at).
    ex, ey = 20.0, 46.0
    rect(ex, ey, BOX, BOX)
    pdf.setLineWidth(0.7 * mm)
    path = pdf.beginPath()
    path.moveTo((ex + 2.0) * mm, (page_h - ey - 4.5) * mm)
    path.lineTo((ex + 4.5) * mm, (page_h - ey - 8.0) * mm)
    path.lineTo((ex + 8.5) * mm, (page_h - ey - 1.5) * mm)
    pdf.drawPath(path, stroke=1, fill=0)

    for box in layout.boxes:
        rect(box.x, box.y, box.w, box.h)

    for field in layout.fields:
        rect(field.x, field.y, field.w, field.h, width=FIELD_LINE_MM)
        if field.cells:
            cell = field.w / field.cells
            pdf.setLineWidth(FIELD_LINE_MM * mm)
            for i in range(1, field.cells):
                x = (field.x + i * cell) * mm
                pdf.line(x, (page_h - field.y) * mm, x, (page_h - field.y - field.h) * mm)
