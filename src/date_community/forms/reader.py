"""Read scanned or photographed sign-up sheets.

Per sheet, at reduced resolution wherever that is enough:

1. a downscaled grey copy, lighting flattened by dividing by a max-filtered
   background, is searched for the four corner fiducials (solid squares, the
   bottom-left one a solid circle, which tells the orientation, 180° included);
2. a homography from the layout's millimetres is fitted to the corners plus
   the two side anchors; the worst point's error in mm is the residual, and a
   fit worse than 1 mm is refused (``bad_geometry``);
3. the page is warped once to a flat 6 px/mm canvas, where the QR codes are
   read from their known places (whole image, upscaled crops and other
   binarizers only if that fails), and every box is measured;
4. each box's ink is compared with the sheet's own empty boxes and put in a
   band (empty / review / marked / review as a possible correction); the ring
   just outside a box tells a ○ drawn around it from a mark beside it, and a
   filled box that was then crossed out from a neat ■.

``read_sheet`` never raises for a bad image: it returns a status.
"""
from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Iterator

import cv2
import numpy as np
import zxingcpp
from PIL import Image, ImageOps, ImageSequence

from ..errors import DateCommunityError
from . import layout as layout_mod
from .layout import Layout
from .printing import parse_qr_payload

cv2.setNumThreads(1)   # one sheet per worker; threads would only fight over two cores

PPM = 6.0               # canvas pixels per millimetre (150 dpi scans hold no more)
SMALL_MAX = 900         # longest side of the copy searched for fiducials
INK = 215               # below this (paper = 255 after flattening) a pixel is ink
MAX_RESIDUAL_MM = 1.0
PDF_DPI = 200

# Bands on the inner ink ratio (above the sheet's own empty-box baseline).
EMPTY_BELOW = 0.04
MARKED_FROM = 0.10
FILLED_FROM = 0.70
CONF_SCALE = EMPTY_BELOW # band-edge distance that counts as full confidence: a clean empty box is 1
INNER_INSET = 1.3       # mm inside the box edge: clear of the printed border
RING_FROM, RING_TO = 1.0, 4.5   # mm outside the box edge
SECTOR_INK = 0.03       # a ring sector with more ink than this is "touched"
RING_MARK_MM2 = 2.0     # ink beside an otherwise empty box worth a look (a 4 mm stroke of a fine pen)

STATUSES = ("ok", "not_our_form", "blank", "unreadable_id", "bad_geometry")

_MAGIC = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF"}


@dataclass
class BoxRead:
    key: str
    state: str              # "marked" | "empty" | "uncertain"
    confidence: float
    ink: float
    note: str = ""          # "", "faint", "correction", "outside_box"


@dataclass
class SheetRead:
    status: str
    form_version: str | None = None
    serial: int | None = None
    upside_down: bool = False
    residual_mm: float | None = None
    confidence: float = 0.0
    boxes: dict[str, BoxRead] = field(default_factory=dict)
    field_crops: dict[str, bytes] = field(default_factory=dict)
    box_crops: dict[str, bytes] = field(default_factory=dict)
    page_png: bytes | None = None


# -- loading ---------------------------------------------------------------

def sniff(data: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    return None


# Upload limits (the settings UPLOAD_MAX_PIXELS and UPLOAD_MAX_PAGES; callers pass them in).
MAX_PIXELS = 40_000_000     # pixels per page, read from the file's header before decoding
MAX_FILE_PAGES = 50         # pages or frames per file
# The reader rectifies every page onto a 6 px/mm canvas (about 150 dpi), so a
# page whose longest side is more than twice this is reduced while decoding:
# an A4 scan at 300 dpi (3508 px) is read as it is, a 600 dpi one at half size.
READ_LONG_SIDE = 1800


def _reduction(size: tuple[int, int]) -> int:
    """The whole factor a page of ``size`` is shrunk by (1 = kept as it is)."""
    return max(1, max(size) // READ_LONG_SIDE)


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise DateCommunityError("upload_too_large_image")


def load_pages(data: bytes, filename: str = "", *, max_pages: int = 200, max_pixels: int = MAX_PIXELS,
               max_file_pages: int = MAX_FILE_PAGES) -> Iterator[Image.Image]:
    """Every page of an upload as an 8-bit grey or RGB image without metadata.

    The format comes from the bytes (never the name) and must be on the
    allow-list.  Memory is bounded by what the header says, before anything
    is decoded: a file with more than ``max_file_pages`` pages, or a page of
    more than ``max_pixels`` pixels, is refused; a large page is reduced while
    decoding (JPEG's DCT scaling via ``draft``, else ``reduce`` right after
    the decode).  ``max_pages`` is what is left of the batch: pages after it
    are not read.  Only ``DateCommunityError`` ever leaves this generator.
    """
    kind = sniff(data or b"")
    if kind is None:
        raise DateCommunityError("upload_not_an_image")
    if kind == "pdf":
        yield from _pdf_pages(data, max_pages, max_pixels, max_file_pages)
        return
    # Pillow's own decompression-bomb guard (Image.MAX_IMAGE_PIXELS) stays on at its
    # default as a backstop.  It is process-wide, so the setting's limit is checked
    # here instead, from each frame's header, rather than by changing it.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[kind]]) as img:
                if getattr(img, "n_frames", 1) > max_file_pages:
                    raise DateCommunityError("upload_too_many_pages")
                for count, frame in enumerate(ImageSequence.Iterator(img)):
                    if count >= max_pages:
                        break
                    _check_pixels(frame.size, max_pixels)   # the header only: nothing decoded yet
                    yield _clean(frame, kind)
    except DateCommunityError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DateCommunityError("upload_too_large_image") from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "not a usable image"
        raise DateCommunityError("upload_not_an_image") from exc


def _clean(frame: Image.Image, kind: str = "") -> Image.Image:
    factor = _reduction(frame.size)
    if kind == "jpeg" and factor > 1:
        # Decode straight at 1/2, 1/4 or 1/8 size: the full-size pixels never exist.
        frame.draft(frame.mode, (frame.size[0] // factor, frame.size[1] // factor))
    frame.load()
    factor = _reduction(frame.size)
    if factor > 1:
        if frame.mode.startswith("I;16"):
            frame = frame.convert("I")   # keeps 16-bit grey levels; "L" would clip them
        if frame.mode not in ("L", "RGB", "RGBA", "LA", "I", "F"):
            frame = frame.convert("L" if frame.mode == "1" or (frame.mode == "P" and _is_grey(frame)) else "RGB")
        frame = frame.reduce(factor)   # before any copy below, so the copies are small
    frame = ImageOps.exif_transpose(frame)   # a phone's "rotate me" flag, applied before EXIF goes
    mode = "L" if frame.mode in ("1", "L", "LA", "I", "I;16", "F", "P") and _is_grey(frame) else "RGB"
    if frame.mode in ("I", "I;16", "F"):
        arr = np.asarray(frame, dtype=np.float32)
        top = float(arr.max()) or 1.0
        return Image.fromarray(np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8), "L")
    out = frame.convert(mode)
    # A fresh image carries no EXIF, ICC or text chunks.
    return Image.frombytes(out.mode, out.size, out.tobytes())


def _is_grey(frame: Image.Image) -> bool:
    if frame.mode != "P":
        return True
    palette = frame.getpalette() or []
    triples = zip(palette[0::3], palette[1::3], palette[2::3])
    return all(r == g == b for r, g, b in triples)


def _pdf_pages(data: bytes, max_pages: int, max_pixels: int = MAX_PIXELS,
               max_file_pages: int = MAX_FILE_PAGES) -> Iterator[Image.Image]:
    import pypdfium2 as pdfium
    try:
        doc = pdfium.PdfDocument(data)
    except Exception as exc:  # noqa: BLE001
        raise DateCommunityError("upload_not_an_image") from exc
    try:
        if len(doc) > max_file_pages:
            raise DateCommunityError("upload_too_many_pages")
        for index in range(min(len(doc), max_pages)):
            try:
                page = doc[index]
                w, h = page.get_size()   # points; nothing rendered yet
                scale = PDF_DPI / 72
                if not (w > 0 and h > 0) or w * h * scale * scale > max_pixels:
                    raise DateCommunityError("upload_too_large_image")
                # A page larger than A4 is rendered smaller, to what the reader uses (as images are reduced).
                scale = min(scale, 2 * READ_LONG_SIDE / max(w, h))
                bitmap = page.render(scale=scale, grayscale=True)
                arr = bitmap.to_numpy()
                img = Image.fromarray(np.ascontiguousarray(arr[:, :, 0] if arr.ndim == 3 else arr), "L")
                page.close()
            except DateCommunityError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise DateCommunityError("upload_not_an_image") from exc
            yield img
    finally:
        doc.close()


# -- geometry --------------------------------------------------------------

@dataclass
class _Blob:
    x: float
    y: float
    side: float
    round: float              # area / enclosing circle: about 0.64 for a square, 1 for a disc


def _to_grey(image) -> np.ndarray:
    if isinstance(image, np.ndarray):
        arr = image
    else:
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        arr = np.asarray(image)
    if arr.ndim == 3:
        arr = cv2.cvtColor(np.ascontiguousarray(arr[:, :, :3]), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(arr, dtype=np.uint8)


def _flatten(grey: np.ndarray, kernel: int) -> np.ndarray:
    """Divide by the paper's own brightness: a max filter wider than any mark, smoothed."""
    kernel = max(3, kernel | 1)
    bg = cv2.dilate(grey, cv2.getStructuringElement(cv2.MORPH_RECT, (kernel, kernel)))
    bg = cv2.blur(bg, (kernel, kernel))
    return cv2.divide(grey, np.maximum(bg, 1), scale=255)


def _blobs(binary: np.ndarray):
    n, labels, stats, cents = cv2.connectedComponentsWithStats(binary, connectivity=8)
    longest = max(binary.shape)
    lo, hi = 0.009 * longest, 0.05 * longest
    out = []
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        side = math.sqrt(area)
        if not (lo <= side <= hi) or not (0.55 <= w / h <= 1.8) or area < 0.45 * w * h:
            continue
        mask = (labels[y:y + h, x:x + w] == i).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        if not contours:
            continue
        contour = max(contours, key=cv2.contourArea)
        hull_area = cv2.contourArea(cv2.convexHull(contour))
        (_, _), (rw, rh), _ = cv2.minAreaRect(contour)
        if hull_area <= 0 or rw * rh <= 0 or area / hull_area < 0.88 or max(rw, rh) > 1.5 * min(rw, rh):
            continue
        (_, _), radius = cv2.minEnclosingCircle(contour)
        # +0.5 px: the contour runs through pixel centres, half a pixel inside the blob's edge.
        roundness = area / (math.pi * (radius + 0.5) ** 2)
        out.append(_Blob(float(cents[i][0]), float(cents[i][1]), side, float(roundness)))
    return out, labels, stats, cents


def _corner_sets(blobs: list[_Blob], shape) -> list[tuple[_Blob, ...]]:
    """Candidate fiducial quadruples: a few blobs nearest each image corner, largest quads first."""
    h, w = shape
    corners = ((0, 0), (w, 0), (w, h), (0, h))
    near = [sorted(blobs, key=lambda b, c=c: math.hypot(b.x - c[0], b.y - c[1]))[:3] for c in corners]
    sets = []
    for a in near[0]:
        for b in near[1]:
            for c in near[2]:
                for d in near[3]:
                    quad = (a, b, c, d)
                    if len({id(q) for q in quad}) < 4:
                        continue
                    sides = [q.side for q in quad]
                    if max(sides) > 2.0 * min(sides):
                        continue
                    pts = np.array([[q.x, q.y] for q in quad], dtype=np.float32)
                    area = cv2.contourArea(pts)
                    if area <= 0 or not cv2.isContourConvex(pts.reshape(-1, 1, 2)):
                        continue
                    sets.append((area, quad))
    sets.sort(key=lambda s: -s[0])
    return [quad for _, quad in sets[:12]]


def _find_anchor(binary_stats, labels, predicted, side_px) -> tuple[float, float] | None:
    stats, cents = binary_stats
    px, py = predicted
    r = int(side_px * 1.2) + 2
    h, w = labels.shape
    x0, y0 = max(0, int(px) - r), max(0, int(py) - r)
    x1, y1 = min(w, int(px) + r + 1), min(h, int(py) + r + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    ids = np.unique(labels[y0:y1, x0:x1])
    best, best_d = None, None
    for i in ids:
        if i == 0:
            continue
        area = stats[i][4]
        if not (0.3 * side_px * side_px <= area <= 2.2 * side_px * side_px):
            continue
        cx, cy = cents[i]
        d = math.hypot(cx - px, cy - py)
        if d <= r and (best_d is None or d < best_d):
            best, best_d = (float(cx), float(cy)), d
    return best


def _apply(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)


@dataclass
class _Geometry:
    h_small: np.ndarray       # mm -> small-image pixels
    residual_mm: float
    upside_down: bool
    image_pts: np.ndarray     # small-image points of the corners (layout order) then the anchors


def _locate(small: np.ndarray) -> tuple[_Geometry | None, float | None, float]:
    """The page's homography, or None; also the worst residual seen and the ink share."""
    norm = _flatten(small, int(max(small.shape) * 0.05))
    _, binary = cv2.threshold(norm, 150, 255, cv2.THRESH_BINARY_INV)
    ink_share = float(cv2.countNonZero(binary)) / binary.size
    blobs, labels, stats, cents = _blobs(binary)
    if len(blobs) < 4:
        return None, None, ink_share
    corner_mm = np.array([[f.x, f.y] for f in layout_mod.CORNERS])
    anchor_mm = np.array([[f.x, f.y] for f in layout_mod.ANCHORS])
    circle_index = next(i for i, f in enumerate(layout_mod.CORNERS) if f.kind == "circle")
    worst = None
    for quad in _corner_sets(blobs, small.shape):
        rounds = [q.round for q in quad]
        order = sorted(range(4), key=lambda i: -rounds[i])
        if rounds[order[0]] < 0.76 or rounds[order[1]] > 0.76:
            continue   # not exactly one disc among the four: not our corners
        shift = (order[0] - circle_index) % 4
        img_pts = np.array([[quad[(j + shift) % 4].x, quad[(j + shift) % 4].y] for j in range(4)])
        h0 = cv2.getPerspectiveTransform(corner_mm.astype(np.float32), img_pts.astype(np.float32))
        px_per_mm = math.dist(img_pts[0], img_pts[1]) / math.dist(corner_mm[0], corner_mm[1])
        found = []
        for predicted in _apply(h0, anchor_mm):
            spot = _find_anchor((stats, cents), labels, predicted, layout_mod.ANCHOR * px_per_mm)
            if spot is None:
                break
            found.append(spot)
        if len(found) != len(anchor_mm):
            continue
        all_mm = np.vstack([corner_mm, anchor_mm])
        all_px = np.vstack([img_pts, np.array(found)])
        h, _ = cv2.findHomography(all_mm, all_px, 0)
        if h is None:
            continue
        back = _apply(np.linalg.inv(h), all_px)
        residual = float(np.max(np.linalg.norm(back - all_mm, axis=1)))
        if residual > MAX_RESIDUAL_MM:
            worst = residual if worst is None else min(worst, residual)
            continue
        # Upside down when the page's "down" points up in the image.
        top, bottom = _apply(h, np.array([[105.0, 50.0], [105.0, 250.0]]))
        down = bottom - top
        upside = bool(down[1] < -abs(down[0]))
        return _Geometry(h, residual, upside, all_px), residual, ink_share
    return None, worst, ink_share


# -- QR --------------------------------------------------------------------

def _decode(img: np.ndarray, binarizer=None) -> list[str]:
    kwargs = {"formats": zxingcpp.BarcodeFormat.QRCode}
    if binarizer is not None:
        kwargs["binarizer"] = binarizer
    try:
        return [r.text for r in zxingcpp.read_barcodes(np.ascontiguousarray(img), **kwargs)]
    except Exception:  # noqa: BLE001 - a decoder hiccup is just "no code"
        return []


def _read_qr(crops: list[np.ndarray], whole: np.ndarray | None) -> tuple[tuple[str, int] | None, bool]:
    """Our (version, serial) if any copy reads, and whether some other QR code was seen."""
    foreign = False
    attempts = []
    for crop in crops:
        attempts.append((crop, None))
    for crop in crops:
        big = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        attempts.append((big, None))
        attempts.append((big, zxingcpp.Binarizer.GlobalHistogram))
        attempts.append((crop, zxingcpp.Binarizer.FixedThreshold))
    if whole is not None:
        attempts.append((whole, None))
    for img, binarizer in attempts:
        if img is None or img.size == 0:
            continue
        for text in _decode(img, binarizer):
            parsed = parse_qr_payload(text)
            if parsed:
                return parsed, foreign
            foreign = True
    return None, foreign


# -- boxes -----------------------------------------------------------------

@dataclass
class _Measure:
    inner: float
    ring: float
    sectors: int
    ring_ink_mm2: float
    inner_ink_mm2: float


def _measure(canvas: np.ndarray, box) -> _Measure:
    pad = RING_TO + 1.0
    x0, y0 = int((box.x - pad) * PPM), int((box.y - pad) * PPM)
    x1, y1 = int(math.ceil((box.x + box.w + pad) * PPM)), int(math.ceil((box.y + box.h + pad) * PPM))
    h, w = canvas.shape
    roi = canvas[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
    if roi.size == 0:
        return _Measure(0, 0, 0, 0, 0)
    roi = cv2.GaussianBlur(roi, (3, 3), 0)
    # A small min filter widens hairline pencil strokes to a width that survives the threshold.
    roi = cv2.erode(roi, np.ones((3, 3), np.uint8))
    ink = roi < INK
    ys, xs = np.mgrid[0:roi.shape[0], 0:roi.shape[1]]
    mx = (xs + max(0, x0) + 0.5) / PPM
    my = (ys + max(0, y0) + 0.5) / PPM
    # Distance outside the box (0 inside), and inside-ness with the inset.
    dx = np.maximum(np.maximum(box.x - mx, mx - (box.x + box.w)), 0)
    dy = np.maximum(np.maximum(box.y - my, my - (box.y + box.h)), 0)
    outside = np.maximum(dx, dy)
    inner = ((mx >= box.x + INNER_INSET) & (mx <= box.x + box.w - INNER_INSET)
             & (my >= box.y + INNER_INSET) & (my <= box.y + box.h - INNER_INSET))
    ring = (outside >= RING_FROM) & (outside <= RING_TO)
    inner_n = max(1, int(inner.sum()))
    ring_n = max(1, int(ring.sum()))
    inner_ink = int((ink & inner).sum())
    ring_ink_mask = ink & ring
    angle = np.arctan2(my - (box.y + box.h / 2), mx - (box.x + box.w / 2))
    sector = ((angle + math.pi) / (2 * math.pi) * 8).astype(int) % 8
    sectors = 0
    for s in range(8):
        in_sector = ring & (sector == s)
        total = int(in_sector.sum())
        if total and (ring_ink_mask & in_sector).sum() / total > SECTOR_INK:
            sectors += 1
    ring_ink = int(ring_ink_mask.sum())
    return _Measure(inner_ink / inner_n, ring_ink / ring_n, sectors,
                    ring_ink / PPM / PPM, inner_ink / PPM / PPM)


def _confidence(value: float) -> float:
    edge = min(abs(value - e) for e in (EMPTY_BELOW, MARKED_FROM, FILLED_FROM))
    return round(min(1.0, edge / CONF_SCALE), 3)


def classify(m: _Measure, base_inner: float, base_ring: float) -> tuple[str, float, str]:
    """(state, confidence, note) for one box's measurements."""
    v = max(0.0, m.inner - base_inner)
    ring = max(0.0, m.ring - base_ring)
    conf = _confidence(v)
    surrounded = m.sectors >= 6
    if v >= FILLED_FROM:
        if ring > 0.04 or m.sectors >= 3:
            return "uncertain", min(conf, 0.3), "correction"
        return "marked", conf, ""
    if v >= MARKED_FROM:
        if m.ring_ink_mm2 > 2.0 * m.inner_ink_mm2 and not surrounded:
            return "uncertain", min(conf, 0.3), "outside_box"
        return "marked", conf, ""
    if surrounded:
        return "marked", round(min(1.0, (m.sectors - 5) / 3), 3), ""
    if v >= EMPTY_BELOW:
        return "uncertain", min(conf, 0.3), "faint"
    if m.ring_ink_mm2 > RING_MARK_MM2:
        return "uncertain", 0.2, "outside_box"
    return "empty", conf, ""


# -- the sheet -------------------------------------------------------------

# Paper-white noise carries nothing for a reader of the record; whitening it
# makes the PNGs several times smaller and quicker to write.
_WHITEN = np.arange(256, dtype=np.uint8)
_WHITEN[232:] = 255


def _png(arr: np.ndarray) -> bytes:
    ok, enc = cv2.imencode(".png", cv2.LUT(arr, _WHITEN),
                           [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE])
    return enc.tobytes() if ok else b""


def _crop(canvas: np.ndarray, x: float, y: float, w: float, h: float, margin: float) -> np.ndarray:
    H, W = canvas.shape
    x0, y0 = max(0, int((x - margin) * PPM)), max(0, int((y - margin) * PPM))
    x1, y1 = min(W, int((x + w + margin) * PPM)), min(H, int((y + h + margin) * PPM))
    return canvas[y0:y1, x0:x1]


def _rectify(grey: np.ndarray, h_image: np.ndarray, page_w: float, page_h: float) -> np.ndarray:
    to_canvas = np.diag([PPM, PPM, 1.0])
    matrix = h_image @ np.linalg.inv(to_canvas)          # canvas px -> image px
    size = (int(round(page_w * PPM)), int(round(page_h * PPM)))
    canvas = cv2.warpPerspective(grey, matrix, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderValue=255)
    # Flatten at 1 px/mm: a 13 mm max filter is wider than any box or mark.
    low = cv2.resize(canvas, (int(page_w), int(page_h)), interpolation=cv2.INTER_AREA)
    bg = cv2.dilate(low, cv2.getStructuringElement(cv2.MORPH_RECT, (13, 13)))
    bg = cv2.GaussianBlur(bg, (0, 0), 4)
    bg = cv2.resize(bg, size, interpolation=cv2.INTER_LINEAR)
    return cv2.divide(canvas, np.maximum(bg, 1), scale=255)


def read_sheet(image, layout_for: Callable[[str], Layout | None]) -> SheetRead:
    try:
        return _read(image, layout_for)
    except Exception:  # noqa: BLE001 - a batch must never stop on one odd image
        return SheetRead(status="not_our_form")


def _read(image, layout_for: Callable[[str], Layout | None]) -> SheetRead:
    grey = _to_grey(image)
    if grey.ndim != 2 or min(grey.shape) < 64:
        return SheetRead(status="not_our_form")
    scale = min(1.0, SMALL_MAX / max(grey.shape))
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    geometry, residual, ink_share = _locate(small)

    if geometry is None:
        # Not our page, or ours but too distorted: only a QR of ours tells the two apart.
        whole = small if max(grey.shape) > 2600 else grey
        parsed, _ = _read_qr([], whole)
        if parsed:
            return SheetRead(status="bad_geometry", form_version=parsed[0], serial=parsed[1],
                             residual_mm=residual)
        return SheetRead(status="blank" if ink_share < 0.003 else "not_our_form", residual_mm=residual)

    h_image = np.diag([1 / scale, 1 / scale, 1.0]) @ geometry.h_small
    canvas = _rectify(grey, h_image, layout_mod.PAGE_W, layout_mod.PAGE_H)
    crops = [_crop(canvas, r.x, r.y, r.w, r.h, 5.0) for r in layout_mod.QR_RECTS]
    parsed, _ = _read_qr(crops, None)
    if parsed is None:
        parsed, _ = _read_qr([], grey if max(grey.shape) <= 2600 else small)
    result = SheetRead(status="unreadable_id", upside_down=geometry.upside_down,
                       residual_mm=round(geometry.residual_mm, 3))
    result.page_png = _png(cv2.resize(canvas, None, fx=4 / PPM, fy=4 / PPM, interpolation=cv2.INTER_AREA))
    if parsed is None:
        return result
    result.form_version, result.serial = parsed
    layout = layout_for(parsed[0])
    if layout is None:
        result.status = "not_our_form"
        return result
    if (tuple((f.x, f.y) for f in layout.fiducials) != tuple((f.x, f.y) for f in layout_mod.CORNERS)
            or (layout.page_w, layout.page_h) != (layout_mod.PAGE_W, layout_mod.PAGE_H)):
        # An older design with marks elsewhere: refit with its own millimetres.
        marks = list(layout.fiducials) + list(layout.anchors)
        mm = np.array([[f.x, f.y] for f in marks][:len(geometry.image_pts)])
        h_small, _ = cv2.findHomography(mm, geometry.image_pts[:len(mm)], 0)
        h_image = np.diag([1 / scale, 1 / scale, 1.0]) @ h_small
        canvas = _rectify(grey, h_image, layout.page_w, layout.page_h)

    measures = {box.key: _measure(canvas, box) for box in layout.boxes}
    inner_base = _baseline([m.inner for m in measures.values()])
    ring_base = _baseline([m.ring for m in measures.values()])
    for box in layout.boxes:
        m = measures[box.key]
        state, conf, note = classify(m, inner_base, ring_base)
        result.boxes[box.key] = BoxRead(box.key, state, conf, round(max(0.0, m.inner - inner_base), 4), note)
        result.box_crops[box.key] = _png(_crop(canvas, box.x, box.y, box.w, box.h, 6.0))
    for fld in layout.fields:
        result.field_crops[fld.key] = _png(_crop(canvas, fld.x, fld.y, fld.w, fld.h, 2.0))
    result.status = "ok"
    result.confidence = min((b.confidence for b in result.boxes.values()), default=1.0)
    return result


def _baseline(values: list[float]) -> float:
    """The ink an empty box shows on this sheet: the median of the lower half, never above 3%."""
    if not values:
        return 0.0
    low = sorted(values)[:max(1, len(values) // 2)]
    return min(float(np.median(low)), 0.03)
