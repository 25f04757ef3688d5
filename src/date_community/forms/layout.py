"""Where everything sits on a printed sign-up sheet, in millimetres.

One ``Layout`` describes one printed design (one venue, one period, one list
of sessions).  The printer draws from it and the reader measures from it, so
the two can never disagree; it is stored with its ``form_version`` and written
as ``layout.json`` next to the PDF.  Coordinates are millimetres from the
page's top-left corner, y pointing down.

The page is A4 portrait.  The lower half (fields, devices, consent, second QR)
sits at fixed places whatever the number of sessions, which keeps the design
simple and the reader's search windows stable.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .. import i18n, timeutil
from ..errors import ValidationError
from ..schema import DEVICES

PAGE_W = 210.0
PAGE_H = 297.0
MARGIN_X = 20.0            # content starts here; the fiducials sit outside it
CONTENT_RIGHT = 190.0

BOX = 10.0                 # tick box side (the issue asks for 10-12 mm)
BOX_GAP = 10.0             # edge-to-edge distance between any two tick boxes
LABEL_GAP = 6.0            # box edge to its label: keeps the reader's ring around a box free of print
MAX_SESSIONS = 5           # two lines of 20 pt each, 20 mm apart, is all an A4 page has room for

SESSION_PT = 20.0
BODY_PT = 16.0
TITLE_PT = 22.0
ID_PT = 24.0

FIDUCIAL = 8.0             # corner marks: solid squares, one solid circle for orientation
ANCHOR = 5.0               # two smaller squares half way down each side: extra points for the residual
QR_SIDE = 30.0             # printed QR symbol side (modules only); 25 modules at 1.2 mm

# Short device labels so that five boxes fit in two rows with 10 mm gaps.
DEVICE_LABELS = {
    "none": "なし",
    "iphone": "iPhone",
    "android": "Android",
    "rakuraku": "らくらくスマホ",
    "feature_phone": "携帯電話",
}
DEVICE_ROWS = (("iphone", "android", "none"), ("rakuraku", "feature_phone"))

CONSENT_LABEL = "個人情報の利用目的：講座の受付とご連絡にだけ使います（伊達市）。この利用に同意します。"


@dataclass(frozen=True)
class Box:
    key: str                  # "session:<id>", "device:<code>", "consent"
    kind: str                 # "session" | "device" | "consent"
    x: float
    y: float
    w: float
    h: float
    label: str
    value: str | int | None


@dataclass(frozen=True)
class Field:
    key: str                  # "name" | "furigana" | "phone" | "birth_year"
    x: float
    y: float
    w: float
    h: float
    cells: int                # 0 for free text


@dataclass(frozen=True)
class Fiducial:
    x: float                  # centre
    y: float
    size: float               # side of the square / diameter of the circle
    kind: str                 # "square" | "circle" (the orientation mark) | "anchor"


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float


# The machine marks are at the same places on every design, so the reader can
# find the page before it knows which design it is looking at.
CORNERS = (
    Fiducial(10.0, 10.0, FIDUCIAL, "square"),
    Fiducial(200.0, 10.0, FIDUCIAL, "square"),
    Fiducial(200.0, 287.0, FIDUCIAL, "square"),
    Fiducial(10.0, 287.0, FIDUCIAL, "circle"),
)
ANCHORS = (Fiducial(10.0, 148.5, ANCHOR, "anchor"), Fiducial(200.0, 148.5, ANCHOR, "anchor"))
QR_RECTS = (Rect(156.0, 8.0, QR_SIDE, QR_SIDE), Rect(156.0, 232.0, QR_SIDE, QR_SIDE))


@dataclass(frozen=True)
class Layout:
    form_version: str
    venue_slug: str
    date_from: str
    date_to: str
    page_w: float
    page_h: float
    fiducials: tuple[Fiducial, ...]      # the four corners, clockwise from top-left
    qr_rects: tuple[Rect, ...]
    id_rect: Rect
    boxes: tuple[Box, ...]
    fields: tuple[Field, ...]
    anchors: tuple[Fiducial, ...] = ()   # side marks used only to check the fit
    venue_name: str = ""
    texts: tuple[dict, ...] = ()         # printed text lines (the printer's script; the reader ignores them)

    def box(self, key: str) -> Box:
        for box in self.boxes:
            if box.key == key:
                return box
        raise KeyError(key)

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data = {"units": "mm", "origin": "top-left", **data}
        return json.dumps(data, ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Layout":
        data = json.loads(text)
        data.pop("units", None)
        data.pop("origin", None)
        return cls(
            form_version=data["form_version"], venue_slug=data["venue_slug"],
            date_from=data["date_from"], date_to=data["date_to"],
            page_w=float(data["page_w"]), page_h=float(data["page_h"]),
            fiducials=tuple(Fiducial(**f) for f in data["fiducials"]),
            qr_rects=tuple(Rect(**r) for r in data["qr_rects"]),
            id_rect=Rect(**data["id_rect"]),
            boxes=tuple(Box(**b) for b in data["boxes"]),
            fields=tuple(Field(**f) for f in data["fields"]),
            anchors=tuple(Fiducial(**f) for f in data.get("anchors", ())),
            venue_name=data.get("venue_name", ""),
            texts=tuple(data.get("texts", ())),
        )


def text_width_mm(text: str, pt: float) -> float:
    """A generous width estimate without the font: full-width glyphs are 1 em, others 0.6 em."""
    em = pt * 25.4 / 72.0
    return sum(em if ord(ch) > 0x2000 else 0.6 * em for ch in text)


def _fit(text: str, pt: float, width: float) -> str:
    if text_width_mm(text, pt) <= width:
        return text
    while text and text_width_mm(text + "…", pt) > width:
        text = text[:-1]
    return text + "…"


def _session_lines(session: dict) -> tuple[str, str]:
    start = timeutil.parse(session["starts_at"])
    end = timeutil.parse(session["ends_at"])
    when = f"{i18n.era_date(start)} {start:%H:%M}〜{end:%H:%M}"
    return when, str(session.get("title_ja") or session.get("topic_code") or "")


def form_version_for(venue_slug: str, sessions: list[dict]) -> str:
    """Same design, same version: a hash of what is printed.

    Upper case letters and digits only, so the QR payload stays in the compact
    alphanumeric mode.
    """
    parts = [venue_slug] + [
        f"{s['id']}|{s['starts_at']}|{s['ends_at']}|{s.get('title_ja', '')}"
        for s in sorted(sessions, key=lambda s: (s["starts_at"], s["id"]))
    ]
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:8].upper()
    return f"V1-{digest}"


def build_layout(*, form_version: str, venue: dict, sessions: list[dict]) -> Layout:
    if not sessions:
        raise ValidationError("no_sessions_in_period")
    if len(sessions) > MAX_SESSIONS:
        raise ValidationError("too_many_sessions", count=len(sessions), max=MAX_SESSIONS)
    sessions = sorted(sessions, key=lambda s: (s["starts_at"], s["id"]))
    days = [timeutil.parse(s["starts_at"]).date() for s in sessions]
    venue_name = str(venue.get("name_ja") or venue.get("slug") or "")

    corners, anchors, qr_rects = CORNERS, ANCHORS, QR_RECTS
    id_rect = Rect(MARGIN_X, 32.0, 120.0, 9.0)

    texts: list[dict] = []

    def text(x: float, y: float, value: str, pt: float, bold: bool = False) -> None:
        # y is the baseline.
        texts.append({"x": x, "y": y, "text": value, "pt": pt, "bold": bold})

    header_width = qr_rects[0].x - 6.0 - MARGIN_X
    text(MARGIN_X, 14.0, "デジタル活用講座 申込用紙", TITLE_PT, True)
    text(MARGIN_X, 22.0, _fit(f"会場：{venue_name}", BODY_PT, header_width), BODY_PT)
    period = f"期間：{i18n.era_date(min(days), weekday=False)}〜{i18n.era_date(max(days), weekday=False)}"
    text(MARGIN_X, 29.0, _fit(period, BODY_PT, header_width), BODY_PT)

    # Instructions with a printed example mark (the printer draws the example box at 20,46).
    text(34.0, 50.0, "記入例のように、□の中に レ を書いてください。", BODY_PT)
    text(34.0, 56.5, "書き直したいときは、係の者にお声かけください。", BODY_PT)
    text(MARGIN_X, 64.5, "参加したい講座（いくつでも選べます）", BODY_PT, True)

    boxes: list[Box] = []
    text_x = MARGIN_X + BOX + LABEL_GAP
    for i, session in enumerate(sessions):
        top = 72.0 + i * (BOX + BOX_GAP)
        when, title = _session_lines(session)
        boxes.append(Box(f"session:{session['id']}", "session", MARGIN_X, top, BOX, BOX,
                         f"{when} {title}".strip(), int(session["id"])))
        text(text_x, top + 8.0, _fit(when, SESSION_PT, CONTENT_RIGHT - text_x), SESSION_PT, True)
        text(text_x, top + 16.0, _fit(title, SESSION_PT, CONTENT_RIGHT - text_x), SESSION_PT)

    field_x = 50.0
    fields = (
        Field("name", field_x, 172.0, CONTENT_RIGHT - field_x, 10.0, 0),
        Field("furigana", field_x, 185.0, CONTENT_RIGHT - field_x, 9.0, 0),
        Field("phone", field_x, 197.0, 11 * 8.5, 9.0, 11),
        Field("birth_year", 64.0, 209.0, 4 * 8.5, 9.0, 4),
    )
    text(MARGIN_X, 179.5, "お名前", BODY_PT, True)
    text(MARGIN_X, 192.0, "フリガナ", BODY_PT, True)
    text(MARGIN_X, 204.0, "電話番号", BODY_PT, True)
    text(MARGIN_X, 216.0, "生まれ年", BODY_PT, True)
    text(field_x, 216.0, "西暦", BODY_PT)
    text(64.0 + 4 * 8.5 + 2.0, 216.0, "年", BODY_PT)

    # Every label keeps clear of the 4.5 mm ring the reader inspects around each box.
    text(MARGIN_X, 227.0, "お使いの電話（１つ）", BODY_PT, True)
    for row, codes in enumerate(DEVICE_ROWS):
        top = 235.0 + row * (BOX + BOX_GAP)
        x = MARGIN_X
        for code in codes:
            if code not in DEVICES:
                continue
            label = DEVICE_LABELS[code]
            boxes.append(Box(f"device:{code}", "device", x, top, BOX, BOX, label, code))
            text(x + BOX + LABEL_GAP, top + 7.5, label, BODY_PT)
            x = round(x + BOX + LABEL_GAP + text_width_mm(label, BODY_PT) + BOX_GAP, 1)
    consent_top = 275.0
    boxes.append(Box("consent", "consent", MARGIN_X, consent_top, BOX, BOX, CONSENT_LABEL, None))
    # The purpose of use wraps over two lines beside the box.
    line_width = CONTENT_RIGHT - text_x
    first, rest = _wrap(CONSENT_LABEL, BODY_PT, line_width)
    text(text_x, consent_top + 4.5, first, BODY_PT)
    text(text_x, consent_top + 10.8, _fit(rest, BODY_PT, line_width), BODY_PT)

    return Layout(
        form_version=form_version, venue_slug=str(venue.get("slug", "")),
        date_from=min(days).isoformat(), date_to=max(days).isoformat(),
        page_w=PAGE_W, page_h=PAGE_H, fiducials=corners, qr_rects=qr_rects, id_rect=id_rect,
        boxes=tuple(boxes), fields=fields, anchors=anchors, venue_name=venue_name,
        texts=tuple(t for t in texts if t["text"]),
    )


def _wrap(text: str, pt: float, width: float) -> tuple[str, str]:
    cut = len(text)
    while cut > 0 and text_width_mm(text[:cut], pt) > width:
        cut -= 1
    return text[:cut], text[cut:]


def sample_layout(n_sessions: int = 5, *, venue_slug: str = "sample-hall") -> Layout:
    """A layout with made-up sessions, for tests, the corpus and the benchmark."""
    import datetime as dt
    base = dt.datetime(2026, 12, 3, 10, 0, tzinfo=timeutil.TZ)
    titles = ["スマホの基本操作", "LINEで家族と連絡", "マイナンバーカードとスマホ", "写真を撮って送る",
              "地図アプリで出かけよう"]
    sessions: list[dict[str, Any]] = []
    for i in range(n_sessions):
        start = base + dt.timedelta(days=7 * i, hours=(i % 2) * 3)
        sessions.append({"id": 101 + i, "starts_at": start.isoformat(),
                         "ends_at": (start + dt.timedelta(minutes=90)).isoformat(),
                         "title_ja": titles[i % len(titles)]})
    venue = {"slug": venue_slug, "name_ja": "保原中央交流館"}
    return build_layout(form_version=form_version_for(venue_slug, sessions), venue=venue, sessions=sessions)
