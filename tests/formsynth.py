"""Synthetic filled sign-up sheets with known truth (the accuracy corpus).

Pages come from the real PDF (rendered once per serial at 300 dpi), hand-like
marks are drawn on them, and the sheet is then "scanned" or "photographed":
rotated, scaled, put in perspective, resampled to 150/200/300 dpi, shaded,
blurred, noised and JPEG-compressed.  Everything is driven by a seeded
``random.Random``, so a corpus is the same on every run.

Truth per box: "marked", "empty", or "flag" (a mark that must end up
uncertain: filled then crossed out, or drawn beside the box).
"""
from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, field

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from date_community.forms import layout as layout_mod
from date_community.forms import printing

MASTER_DPI = 300
MASTER_PX = MASTER_DPI / 25.4       # pixels per millimetre of the master pages

STYLES = ("check", "tick", "circle", "cross", "fill")
FLAG_STYLES = ("fill_cross", "beside")


@dataclass
class Sheet:
    image: Image.Image
    serial: int
    kind: str                        # "scanner" | "photo" | "blank"
    truth: dict[str, str]            # box key -> "marked" | "empty" | "flag"
    styles: dict[str, str] = field(default_factory=dict)
    upside_down: bool = False
    dpi: int = 200


def render_masters(layout: layout_mod.Layout, serials: list[int], dpi: int = MASTER_DPI) -> dict[int, np.ndarray]:
    """Each serial's page as a grey array, rendered once from the real PDF."""
    buf = io.BytesIO()
    printing.render_pdf(layout, serials, buf)
    doc = pdfium.PdfDocument(buf.getvalue())
    try:
        pages = {}
        for serial, page in zip(serials, doc):
            arr = page.render(scale=dpi / 72, grayscale=True).to_numpy()
            pages[serial] = np.array(arr[:, :, 0] if arr.ndim == 3 else arr, dtype=np.uint8)
            page.close()
        return pages
    finally:
        doc.close()


# -- marks -----------------------------------------------------------------

def _wobble(rng: random.Random, points: list[tuple[float, float]], amount: float, steps: int = 6):
    """Resample a polyline with a hand's small, smooth wobble (mm)."""
    out = []
    phase, freq = rng.uniform(0, 6.3), rng.uniform(0.6, 1.6)
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        for i in range(steps):
            t = i / steps
            x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
            k = len(out)
            out.append((x + amount * math.sin(phase + freq * k), y + amount * math.cos(phase * 1.3 + freq * k)))
    out.append(points[-1])
    return out


def _stroke(canvas: np.ndarray, pts_mm, ink: int, width_mm: float) -> None:
    thickness = max(1, int(round(width_mm * MASTER_PX)))
    pts = np.array([[x * MASTER_PX, y * MASTER_PX] for x, y in pts_mm])
    # Draw on a small layer around the stroke only, then darken (ink never lightens print).
    x0 = max(0, int(pts[:, 0].min()) - thickness - 2)
    y0 = max(0, int(pts[:, 1].min()) - thickness - 2)
    x1 = min(canvas.shape[1], int(pts[:, 0].max()) + thickness + 3)
    y1 = min(canvas.shape[0], int(pts[:, 1].max()) + thickness + 3)
    if x1 <= x0 or y1 <= y0:
        return
    roi = canvas[y0:y1, x0:x1]
    layer = np.full_like(roi, 255)
    local = ((pts - [x0, y0]) * 16).astype(np.int32)
    cv2.polylines(layer, [local], False, int(ink), thickness, cv2.LINE_AA, shift=4)
    np.minimum(roi, layer, out=roi)


def _mark_strokes(rng: random.Random, style: str, box) -> list[list[tuple[float, float]]]:
    x, y, w, h = box.x, box.y, box.w, box.h
    j = lambda a: rng.uniform(-a, a)  # noqa: E731
    if style == "check":      # レ: a short fall then a long rise, often past the box
        return [[(x + 0.2 * w + j(1), y + 0.35 * h + j(1)), (x + 0.42 * w + j(1), y + 0.85 * h + j(0.5)),
                 (x + 0.95 * w + j(1.5), y + 0.0 * h + j(1.5))]]
    if style == "tick":       # ✓: smaller, centred
        return [[(x + 0.25 * w + j(1), y + 0.55 * h + j(1)), (x + 0.45 * w + j(0.8), y + 0.78 * h + j(0.8)),
                 (x + 0.8 * w + j(1), y + 0.2 * h + j(1))]]
    if style == "cross":
        e = rng.uniform(-0.5, 1.0)
        return [[(x - e + 1 + j(0.7), y - e + 1 + j(0.7)), (x + w + e - 1 + j(0.7), y + h + e - 1 + j(0.7))],
                [(x + w + e - 1 + j(0.7), y - e + 1 + j(0.7)), (x - e + 1 + j(0.7), y + h + e - 1 + j(0.7))]]
    if style == "circle":     # ○ drawn around the box, mostly outside it
        cx, cy = x + w / 2 + j(0.8), y + h / 2 + j(0.8)
        r = math.hypot(w, h) / 2 + rng.uniform(0.3, 2.5)
        start = rng.uniform(0, 2 * math.pi)
        sweep = rng.uniform(1.85, 2.1) * math.pi
        pts = [(cx + r * (1 + j(0.04)) * math.cos(start + sweep * t / 40),
                cy + r * (1 + j(0.04)) * 0.95 * math.sin(start + sweep * t / 40)) for t in range(41)]
        return [pts]
    if style in ("fill", "fill_cross"):
        pitch = rng.uniform(0.45, 0.6)
        lines, yy = [], y + 0.4
        while yy < y + h - 0.4:
            lines.append([(x + 0.3 + j(0.3), yy), (x + w - 0.3 + j(0.3), yy + pitch / 2)])
            yy += pitch
        if style == "fill_cross":   # then crossed out with a big X past the corners
            e = rng.uniform(2.0, 4.0)
            lines += [[(x - e, y - e), (x + w + e, y + h + e)], [(x + w + e, y - e), (x - e, y + h + e)]]
        return lines
    if style == "beside":     # a check drawn next to the box instead of in it
        side = rng.choice((-1, 1)) if box.kind != "session" else -1
        dx = side * (w * 0.5 + rng.uniform(3.0, 5.0))
        shifted = type(box)(box.key, box.kind, x + dx, y + j(1.5), w, h, box.label, box.value)
        return _mark_strokes(rng, "tick", shifted)
    raise ValueError(style)


def draw_mark(page: np.ndarray, rng: random.Random, style: str, box, *, pencil: bool) -> None:
    ink = rng.randint(140, 180) if pencil else rng.choice((rng.randint(15, 60), rng.randint(60, 95)))
    width = rng.uniform(0.3, 0.8) if style not in ("fill", "fill_cross") else rng.uniform(0.6, 0.8)
    for pts in _mark_strokes(rng, style, box):
        _stroke(page, _wobble(rng, pts, 0.12), ink, width)


def scribble(page: np.ndarray, rng: random.Random, fld) -> None:
    """Handwriting-like strokes inside a field: one little glyph per cell or per 8 mm."""
    ink = rng.randint(20, 90)
    n = fld.cells or int(fld.w // 9)
    step = fld.w / n
    for i in range(n if fld.cells else rng.randint(3, n)):
        cx, cy = fld.x + (i + 0.5) * step, fld.y + fld.h / 2
        pts = [(cx + rng.uniform(-0.35, 0.35) * step, cy + rng.uniform(-0.35, 0.35) * fld.h)
               for _ in range(rng.randint(3, 6))]
        _stroke(page, _wobble(rng, pts, 0.15, 4), ink, rng.uniform(0.3, 0.6))


# -- distortions -----------------------------------------------------------

def _transform(rng: random.Random, kind: str, dpi: int, upside_down: bool, layout):
    """Page corners (master px) -> output corners (px) and the output size."""
    pw, ph = layout.page_w, layout.page_h
    if kind == "photo":
        angle = math.radians(rng.uniform(-15, 15))
        persp = 0.05
    else:
        angle = math.radians(rng.uniform(-3, 3))
        persp = 0.0
    if upside_down:
        angle += math.pi
    scale = rng.uniform(0.94, 1.02)
    corners = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], dtype=np.float64)
    centre = np.array([pw / 2, ph / 2])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    out = (corners - centre) @ rot.T * scale
    if persp:
        out += np.array([[rng.uniform(-persp, persp) * pw, rng.uniform(-persp, persp) * ph] for _ in range(4)])
    margin = rng.uniform(3, 8) if kind == "scanner" else rng.uniform(8, 25)
    out -= out.min(axis=0) - margin
    size_mm = out.max(axis=0) + margin
    px = dpi / 25.4
    src = (corners * MASTER_PX).astype(np.float32)
    dst = (out * px).astype(np.float32)
    size = (int(size_mm[0] * px), int(size_mm[1] * px))
    return src, dst, size


def distort(page: np.ndarray, rng: random.Random, kind: str, dpi: int, upside_down: bool, layout) -> Image.Image:
    src, dst, size = _transform(rng, kind, dpi, upside_down, layout)
    factor = dpi / MASTER_DPI
    if factor < 1:
        page = cv2.resize(page, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        src = src * np.float32(page.shape[1] / (layout.page_w * MASTER_PX))
    matrix = cv2.getPerspectiveTransform(src, dst)
    background = rng.randint(232, 250) if kind == "scanner" else rng.randint(50, 130)
    img = cv2.warpPerspective(page, matrix, size, flags=cv2.INTER_LINEAR, borderValue=background)
    # uint8 OpenCV operations throughout: numpy float passes over a 4-megapixel
    # page would make the corpus slower to build than to read.
    if kind == "photo" or rng.random() < 0.3:        # a shadow across the sheet
        depth = rng.uniform(0.25, 0.5) if kind == "photo" else rng.uniform(0.05, 0.2)
        a = rng.uniform(0, 2 * math.pi)
        grid = np.linspace(0.0, 1.0, 9, dtype=np.float32)
        ramp = grid[None, :] * math.cos(a) + grid[:, None] * math.sin(a)
        ramp = (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
        shade = np.clip((1.0 - depth * ramp) * 255, 0, 255).astype(np.uint8)
        shade = cv2.resize(shade, size, interpolation=cv2.INTER_LINEAR)
        img = cv2.multiply(img, shade, scale=1 / 255)
    sigma = rng.uniform(0.3, 0.9) if kind == "scanner" else rng.uniform(0.6, 1.4)
    img = cv2.GaussianBlur(img, (0, 0), sigma)
    noise = np.empty(img.shape, np.int16)
    cv2.setRNGSeed(rng.randint(0, 2**31))
    cv2.randn(noise, 0, rng.uniform(2, 6) if kind == "scanner" else rng.uniform(4, 9))
    img = cv2.add(img, noise, dtype=cv2.CV_8U)
    if rng.random() < (0.3 if kind == "scanner" else 0.5):
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 50])
        img = cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE)
    return Image.fromarray(img)


def make_sheet(rng: random.Random, masters: dict[int, np.ndarray], layout, kind: str, *,
               blank: bool = False, dpi: int | None = None, flag_rate: float = 0.006) -> Sheet:
    serial = rng.choice(sorted(masters))
    page = masters[serial].copy()
    truth, styles = {}, {}
    pencil = rng.random() < 0.35
    device_pick = rng.choice([b.key for b in layout.boxes if b.kind == "device"])
    for box in layout.boxes:
        if blank:
            truth[box.key] = "empty"
            continue
        if box.kind == "device":
            marked = box.key == device_pick and rng.random() < 0.9
        elif box.kind == "consent":
            marked = rng.random() < 0.85
        else:
            marked = rng.random() < 0.35
        if rng.random() < flag_rate:
            style = rng.choice(FLAG_STYLES)
            truth[box.key] = "flag"
        elif marked:
            style = rng.choice(STYLES)
            truth[box.key] = "marked"
        else:
            truth[box.key] = "empty"
            continue
        styles[box.key] = style
        draw_mark(page, rng, style, box, pencil=pencil)
    if not blank:
        for fld in layout.fields:
            scribble(page, rng, fld)
    upside_down = rng.random() < (0.3 if kind == "photo" else 0.05)
    dpi = dpi or rng.choice((150, 200, 300))
    image = distort(page, rng, kind, dpi, upside_down, layout)
    return Sheet(image, serial, "blank" if blank else kind, truth, styles, upside_down, dpi)


def corpus(layout, masters, *, seed: int, scanner: int, photo: int, blank: int = 0):
    rng = random.Random(seed)
    for _ in range(scanner):
        yield make_sheet(rng, masters, layout, "scanner")
    for _ in range(photo):
        yield make_sheet(rng, masters, layout, "photo")
    for i in range(blank):
        yield make_sheet(rng, masters, layout, "photo" if i % 2 else "scanner", blank=True)
