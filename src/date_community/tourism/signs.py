"""Print-ready signs for tourist sites: QR code, printed code and AR marker.

One PDF page per sign, laid out top to bottom: the site's name in every
language it has, the QR code, the printed code beside the AR marker, a short
instruction in the five languages and the small print.

The QR code is sized from the distance it will be scanned from.  A phone
camera reads a code reliably from about ten times its width, so an A4 sign
(read from about 1 m, at a wall or a notice board) carries a 10 cm code and an
A3 sign (read from about 1.5 m, on a post or behind a rope) a 15 cm code.  The
width is that of the code itself; the quiet zone of four light modules that
scanners need around it comes on top and nothing is printed there.

Error correction H (Q for a long base URL) lets a code scratched, faded or
partly covered by a sticker still read.  The encoded URL is only the base URL
and the site code, so the code stays a low version with large modules.

Every line is set in the font for its language (see pdffonts): BIZ UD Gothic
has neither simplified hanzi nor hangul.
"""
from __future__ import annotations

import io
from urllib.parse import urlsplit

import segno
from reportlab.lib.pagesizes import A3, A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas as pdfcanvas

from .. import pdffonts
from ..errors import ValidationError
from ..i18n import LOCALES
from . import marker, sites

QUIET_MODULES = 4
# Highest QR version we accept at error correction H before falling back to Q:
# beyond it the modules get small for the 10 cm code of an A4 sign.
MAX_VERSION_AT_H = 6

# The scanning distance each paper size is designed for, in metres; the QR
# code's width is a tenth of it.
SIZES = {
    "A4": {"page": A4, "distance_m": 1.0, "scale": 1.0},
    "A3": {"page": A3, "distance_m": 1.5, "scale": A3[0] / A4[0]},
}

BOLD = {"UDGothic": "UDGothic-Bold", "KoGothic": "KoGothic-Bold"}

# Printed words on the sign.  They are part of the printed object, not of the
# user interface, so they are written out here in the five languages rather
# than taken from the web app's translation catalogues (the library has none).
INSTRUCTION = {
    "ja": "スマートフォンのカメラでQRコードを読み取ってください。AR表示では四角いマークにカメラを向けてください。",
    "en": "Scan the QR code with your phone's camera. Point the AR view at the square mark.",
    "zh_Hans": "请用手机相机扫描二维码。使用AR时，请将镜头对准方形标记。",
    "zh_Hant": "請用手機相機掃描QR碼。使用AR時，請將鏡頭對準方形標記。",
    "ko": "휴대폰 카메라로 QR 코드를 스캔하세요. AR 화면에서는 사각형 마크를 비추세요.",
}
CODE_LABEL = {"ja": "コード", "en": "Code", "zh_Hans": "代码", "zh_Hant": "代碼", "ko": "코드"}
SMALL_PRINT = {
    "ja": "QRコードは約{distance}mの距離から読み取れるよう、幅{width}mmで印刷しています。"
          "読み取れないときは {url} にアクセスしてください。",
    "en": "The QR code is printed {width} mm wide, for scanning from about {distance} m. "
          "If it does not scan, open {url}",
}


def qr_url(base_url: str, code: str) -> str:
    """The URL a sign's QR code carries: the app's own short landing page."""
    base = (base_url or "").strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValidationError("invalid_value", field="base_url")
    return f"{base}/q/{code}"


def make_qr(url: str) -> segno.QRCode:
    """The QR code for ``url``: error correction H, or Q when H would need a large version."""
    qr = segno.make(url, error="h", micro=False, boost_error=False)
    if qr.version > MAX_VERSION_AT_H:
        qr = segno.make(url, error="q", micro=False, boost_error=False)
    return qr


def qr_width_mm(size: str) -> float:
    """The printed width of the code itself (quiet zone excluded): a tenth of the scanning distance."""
    return SIZES[size]["distance_m"] * 1000 / 10


def sign_filename(code: str, slug: str, size: str) -> str:
    return f"{code}-{slug}-{size}.pdf"


# --- drawing helpers -------------------------------------------------------------------

def _fit(text: str, font: str, size: float, width: float) -> float:
    """The font size (at most ``size``) at which ``text`` fits in ``width``."""
    actual = stringWidth(text, font, size)
    return size if actual <= width else size * width / actual


def _wrap(text: str, font: str, size: float, width: float, locale: str) -> list[str]:
    """Greedy line breaking: at spaces for English and Korean, between characters otherwise."""
    spaced = locale in ("en", "ko")
    tokens = text.split(" ") if spaced else list(text)
    joiner = " " if spaced else ""
    lines: list[str] = []
    current = ""
    for token in tokens:
        candidate = current + joiner + token if current else token
        if current and stringWidth(candidate, font, size) > width:
            lines.append(current)
            current = token
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _draw_qr(c: pdfcanvas.Canvas, qr: segno.QRCode, x: float, y_top: float, module: float) -> None:
    """Dark modules as filled runs, one path: vector, so it prints sharp at any size."""
    path = c.beginPath()
    for row_index, row in enumerate(qr.matrix):
        y = y_top - (row_index + 1) * module
        col = 0
        while col < len(row):
            if row[col]:
                start = col
                while col < len(row) and row[col]:
                    col += 1
                path.rect(x + start * module, y, (col - start) * module, module)
            else:
                col += 1
    c.setFillGray(0)
    c.drawPath(path, stroke=0, fill=1)


def _centered(c, text: str, font: str, size: float, page_w: float, y: float) -> None:
    c.setFont(font, size)
    c.drawCentredString(page_w / 2, y, text)


def render_sign(db, slug: str, size: str = "A4", base_url: str = "") -> bytes:
    """The sign for one site as a one-page PDF (bytes)."""
    if size not in SIZES:
        raise ValidationError("invalid_value", field="size")
    site = sites.get_site(db, slug, "ja")
    url = qr_url(base_url, site["code"])
    pdffonts.register("UDGothic", "UDGothic-Bold", "ZhGothic", "KoGothic", "KoGothic-Bold")

    spec = SIZES[size]
    page_w, page_h = spec["page"]
    k = spec["scale"]
    margin = 12 * mm * k
    inner_w = page_w - 2 * margin
    buffer = io.BytesIO()
    c = pdfcanvas.Canvas(buffer, pagesize=spec["page"], pageCompression=1)
    c.setTitle(f"{site['code']} {site['names'].get('ja', slug)}")
    c.setAuthor("date-community")
    c.setSubject(url)
    y = page_h - margin

    # 1. The name in each language that has one, Japanese first and largest.
    for locale in LOCALES:
        name = site["names"].get(locale)
        if not name:
            continue
        font = pdffonts.FONT_FOR_LOCALE[locale]
        font = BOLD.get(font, font)
        wanted = (30 if locale == "ja" else 17) * k
        fitted = _fit(name, font, wanted, inner_w)
        y -= fitted * 1.05
        _centered(c, name, font, fitted, page_w, y)
        y -= fitted * 0.3

    # 2. The QR code on the left, its quiet zone included in the block;
    # nothing else is drawn inside the quiet zone, so it doubles as the
    # spacing around the code.
    qr = make_qr(url)
    modules = qr.symbol_size(border=0)[0]
    code_w = qr_width_mm(size) * mm
    module = code_w / modules
    quiet = QUIET_MODULES * module
    block = code_w + 2 * quiet
    gap = 6 * mm * k
    column_w = inner_w - block - gap
    block_x = margin
    block_top = y - 2 * mm * k
    c.setFillGray(1)
    c.rect(block_x, block_top - block, block, block, stroke=0, fill=1)
    _draw_qr(c, qr, block_x + quiet, block_top - quiet, module)

    # 3. Beside it, the printed code for typing in by hand (with a label in
    # the five languages, each word in its own font) and the AR marker at the
    # foot of the column, level with the bottom of the QR code.
    column_x = block_x + block + gap
    c.setFillGray(0)
    label_size = 11 * k
    label_y = block_top - quiet - label_size
    for group in (("ja", "en"), ("zh_Hans", "zh_Hant", "ko")):
        parts = [(CODE_LABEL[loc], pdffonts.FONT_FOR_LOCALE[loc]) for loc in group]
        x = column_x
        for i, (text, font) in enumerate(parts):
            if i:
                c.setFont("UDGothic", label_size)
                c.drawString(x, label_y, " / ")
                x += stringWidth(" / ", "UDGothic", label_size)
            c.setFont(font, label_size)
            c.drawString(x, label_y, text)
            x += stringWidth(text, font, label_size)
        label_y -= label_size * 1.3
    code_font = "UDGothic-Bold"
    code_size = _fit(site["code"], code_font, 60 * k, column_w)
    c.setFont(code_font, code_size)
    c.drawString(column_x, label_y - code_size * 0.85, site["code"])
    if site.get("marker_id") is not None:
        side = min(52 * mm * k, column_w)
        # 40 image pixels per marker cell, so every cell edge is a pixel edge.
        image = marker.marker_image(int(site["marker_id"]), marker.IMAGE_CELLS * 40)
        c.drawImage(ImageReader(image), column_x, block_top - block + quiet, side, side)
    y = block_top - block

    # 4. The instruction, one paragraph per language.
    text_size = 16 * k
    for locale in LOCALES:
        font = pdffonts.FONT_FOR_LOCALE[locale]
        for line in _wrap(INSTRUCTION[locale], font, text_size, inner_w, locale):
            y -= text_size * 1.3
            c.setFont(font, text_size)
            c.drawString(margin, y, line)
        y -= text_size * 0.25

    # 5. The small print at the foot: the distance the code is sized for and
    # the short address to type when the camera cannot read it.
    small = 8.5 * k
    short = url.split("://", 1)[1]
    distance = f"{spec['distance_m']:g}"
    width = f"{qr_width_mm(size):g}"
    foot = margin
    for locale in ("en", "ja"):
        text = SMALL_PRINT[locale].format(distance=distance, width=width, url=short)
        for line in reversed(_wrap(text, "UDGothic", small, inner_w, locale)):
            c.setFont("UDGothic", small)
            c.drawString(margin, foot, line)
            foot += small * 1.3
    c.showPage()
    c.save()
    return buffer.getvalue()
