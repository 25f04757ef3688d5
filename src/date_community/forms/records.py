"""Paper forms in the database: printed versions and serials, scanned batches, retention.

The engine (``layout``, ``printing``, ``reader``) is pure; this module is where
its results become records.  The flow:

* ``print_forms`` stores the form version (with its layout JSON) and allocates
  consecutive serials inside one write transaction, then renders the PDF.
* ``scan_files`` reads every page *outside* any transaction (reading is slow
  and must not hold the write lock), then stores the whole batch in one
  transaction.  A page that cannot be read gets a status, never an exception.
* The rectified page image and the crops are personal data (handwriting):
  they are served only through audited functions and are deleted at
  ``purge_after`` by ``purge_expired``; the row and its box states stay.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import os
import re
import unicodedata
from pathlib import Path
from typing import Any, Iterable

from .. import audit, files, timeutil
from ..db import checkpoint, query_one, write_transaction
from ..errors import DateCommunityError, NotFound, ValidationError
from ..scheduling import catalog, sessions as sessions_mod
from . import layout as layout_mod

MAX_COPIES = 500
MAX_PAGES_PER_BATCH = 200
DEFAULT_RETENTION_DAYS = 365
RETENTION_ENV = "DATE_COMMUNITY_SCAN_RETENTION_DAYS"

# Which page statuses come from the reader, and which this module decides.
READER_STATUSES = ("ok", "not_our_form", "blank", "unreadable_id", "bad_geometry")


def retention_days() -> int:
    """Days a scanned page image is kept after the sheet is confirmed or discarded.

    Set by ``DATE_COMMUNITY_SCAN_RETENTION_DAYS`` (at least 1); 365 by default,
    enough to answer a resident's question about last year's sign-up.
    """
    raw = os.environ.get(RETENTION_ENV, "").strip()
    if raw:
        try:
            days = int(raw)
        except ValueError:
            days = 0
        if days >= 1:
            return days
    return DEFAULT_RETENTION_DAYS


def purge_date(moment: dt.datetime, days: int | None = None) -> str:
    return (moment + dt.timedelta(days=days or retention_days())).isoformat()


def paper_ref(serial: int) -> str:
    """The booking's ``paper_ref``: which sheet of paper it came from."""
    return f"sheet-{int(serial):06d}"


# --- printing ----------------------------------------------------------------------------


def _period(date_from, date_to) -> tuple[dt.date, dt.date]:
    first, last = timeutil.parse_date(date_from), timeutil.parse_date(date_to)
    if last < first:
        raise ValidationError("invalid_time_range", field="date_to")
    return first, last


def _copies(copies: Any) -> int:
    try:
        number = int(copies)
    except (TypeError, ValueError) as exc:
        raise ValidationError("invalid_copies") from exc
    if not 1 <= number <= MAX_COPIES:
        raise ValidationError("invalid_copies")
    return number


def prepare_print(db, venue_slug: str, date_from, date_to, copies, *, actor: str) -> dict:
    """Build the layout, store its version and allocate ``copies`` new serials.

    Returns ``{"layout", "version", "serials", "venue", "sessions"}``.  Serials
    are allocated under the write lock, so two staff printing at once get
    disjoint, consecutive ranges.
    """
    first, last = _period(date_from, date_to)
    count = _copies(copies)
    venue = catalog.get_venue(db, venue_slug)
    start = dt.datetime.combine(first, dt.time(), timeutil.TZ)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), timeutil.TZ)
    found = sessions_mod.list_sessions(db, start=start, end=end, venue=venue["id"])
    if not found:
        raise ValidationError("no_sessions_in_period")
    version = layout_mod.form_version_for(venue["slug"], found)
    layout = layout_mod.build_layout(form_version=version, venue=venue, sessions=found)
    stamp = timeutil.now().isoformat()
    with write_transaction(db):
        db.conn.execute(
            "INSERT OR IGNORE INTO form_versions (version, venue_id, date_from, date_to, layout_json, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [version, venue["id"], first.isoformat(), last.isoformat(), layout.to_json(), stamp])
        top = query_one(db, "SELECT coalesce(max(serial), 0) AS n FROM form_sheets")["n"]
        serials = list(range(top + 1, top + 1 + count))
        db.conn.executemany("INSERT INTO form_sheets (serial, version, printed_at, printed_by) VALUES (?, ?, ?, ?)",
                            [(s, version, stamp, actor) for s in serials])
        audit.record(db, actor, "print", "form_version", None, version=version, first=serials[0],
                     last=serials[-1], copies=count)
    return {"layout": layout, "version": version, "serials": serials, "venue": venue, "sessions": found}


def pdf_filename(version: str, serials: list[int]) -> str:
    return f"forms-{version}-{serials[0]}-{serials[-1]}.pdf"


def print_forms_pdf(db, venue_slug: str, date_from, date_to, copies, *, actor: str) -> dict:
    """Allocate serials and render the PDF in memory (for the staff web page).

    Returns ``{"version", "serials", "pdf" (bytes), "filename", "layout_json"}``.
    """
    import io

    from . import printing

    prepared = prepare_print(db, venue_slug, date_from, date_to, copies, actor=actor)
    buffer = io.BytesIO()
    printing.render_pdf(prepared["layout"], prepared["serials"], buffer)
    return {"version": prepared["version"], "serials": prepared["serials"], "pdf": buffer.getvalue(),
            "filename": pdf_filename(prepared["version"], prepared["serials"]),
            "layout_json": prepared["layout"].to_json()}


def print_forms(db, venue_slug: str, date_from, date_to, copies, out_dir, *, actor: str) -> dict:
    """Write ``forms-<version>-<first>-<last>.pdf`` and ``layout.json`` into ``out_dir``."""
    from . import printing

    prepared = prepare_print(db, venue_slug, date_from, date_to, copies, actor=actor)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    pdf_path = folder / pdf_filename(prepared["version"], prepared["serials"])
    files.write_atomic(pdf_path, lambda tmp: printing.render_pdf(prepared["layout"], prepared["serials"], tmp))
    layout_path = folder / "layout.json"
    files.write_atomic(layout_path, prepared["layout"].to_json())
    return {"version": prepared["version"], "serials": prepared["serials"], "pdf": str(pdf_path),
            "layout": str(layout_path), "sessions": len(prepared["sessions"])}


def get_layout(db, version: str):
    """The stored layout of a form version (``form_version_unknown`` if none)."""
    row = query_one(db, "SELECT layout_json FROM form_versions WHERE version = ?", [version])
    if row is None:
        raise NotFound("form_version_unknown", version=str(version)[:40])
    return layout_mod.Layout.from_json(row["layout_json"])


def layout_json(db, version: str) -> str:
    row = query_one(db, "SELECT layout_json FROM form_versions WHERE version = ?", [version])
    if row is None:
        raise NotFound("form_version_unknown", version=str(version)[:40])
    return row["layout_json"]


def list_versions(db, *, limit: int = 50) -> list[dict]:
    """Printed form versions, newest first, with their serial ranges."""
    return list(db.query(
        "SELECT f.version, f.date_from, f.date_to, f.created_at, v.slug AS venue_slug, v.name_ja AS venue_name_ja, "
        "v.name_en AS venue_name_en, min(s.serial) AS first_serial, max(s.serial) AS last_serial, "
        "count(s.serial) AS sheets FROM form_versions f JOIN venues v ON v.id = f.venue_id "
        "LEFT JOIN form_sheets s ON s.version = f.version GROUP BY f.version "
        "ORDER BY f.created_at DESC, f.version LIMIT ?", [limit]))


# --- scanning ----------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f<>:\"|?*]")


def clean_source_name(name: str | None) -> str:
    """The uploaded file's own name, without any folder part or control characters.

    Only for showing in the report: it is never used as a path.
    """
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.split(r"[\\/]", text)[-1]
    text = _UNSAFE_NAME.sub("", text).strip().lstrip(".")
    return text[:120] or "upload"


@dataclasses.dataclass
class PageResult:
    """One page of an upload, as read (``read``) or as failed (``error``)."""
    source_name: str
    page_no: int
    read: Any = None          # reader.SheetRead
    error: str | None = None  # a DateCommunityError code when the file could not be read


def read_files(db, files: Iterable[tuple[str, bytes]], *, max_pages: int = MAX_PAGES_PER_BATCH,
               max_pixels: int | None = None, max_file_pages: int | None = None) -> list[PageResult]:
    """Read every page of every file (no writes).  Never raises for a bad file.

    ``max_pixels`` and ``max_file_pages`` are the upload limits (the settings
    UPLOAD_MAX_PIXELS and UPLOAD_MAX_PAGES); a file over them is one error row."""
    from . import reader

    limits = {"max_pixels": max_pixels or reader.MAX_PIXELS, "max_file_pages": max_file_pages or reader.MAX_FILE_PAGES}

    cache: dict[str, Any] = {}

    def layout_for(version: str):
        if version not in cache:
            try:
                cache[version] = get_layout(db, version)
            except DateCommunityError:
                cache[version] = None
        return cache[version]

    results: list[PageResult] = []
    for name, data in files:
        source = clean_source_name(name)
        remaining = max_pages - len(results)
        if remaining <= 0:
            results.append(PageResult(source, 1, error="upload_too_large"))
            continue
        page_no = 0
        try:
            for image in reader.load_pages(data, source, max_pages=remaining, **limits):
                page_no += 1
                try:
                    read = reader.read_sheet(image, layout_for)
                finally:
                    image.close()
                results.append(PageResult(source, page_no, read=read))
        except DateCommunityError as exc:
            results.append(PageResult(source, page_no + 1, error=exc.code))
    return results


def _box_json(read) -> dict:
    return {key: {"state": b.state, "read_state": b.state, "confidence": round(float(b.confidence), 4),
                  "ink": round(float(b.ink), 4), "note": b.note} for key, b in read.boxes.items()}


def _crops_json(read) -> str | None:
    crops = {f"field:{k}": base64.b64encode(v).decode("ascii") for k, v in (read.field_crops or {}).items()}
    crops.update({f"box:{k}": base64.b64encode(v).decode("ascii") for k, v in (read.box_crops or {}).items()})
    return json.dumps(crops) if crops else None


def record_batch(db, pages: list[PageResult], *, actor: str, file_count: int | None = None) -> int:
    """Store the pages of one upload as a batch and decide the statuses this
    module owns: ``unknown_version``, ``duplicate_in_batch``, ``already_scanned``.

    A serial counts as already scanned while an earlier page of it is waiting
    for review or confirmed: confirming both would book the same sheet twice.
    """
    moment = timeutil.now()
    stamp = moment.isoformat()
    if file_count is None:
        file_count = len({p.source_name for p in pages})
    with write_transaction(db):
        cur = db.conn.execute("INSERT INTO scan_batches (uploaded_at, uploaded_by, file_count, page_count) "
                              "VALUES (?, ?, ?, ?)", [stamp, actor, file_count, len(pages)])
        batch_id = cur.lastrowid
        seen: set[int] = set()
        for page in pages:
            row = _sheet_row(db, page, seen, moment)
            row.update(batch_id=batch_id, page_no=page.page_no, source_name=page.source_name)
            db.conn.execute(f"INSERT INTO scanned_sheets ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                            list(row.values()))
        counts = _status_counts(db, batch_id)
        audit.record(db, actor, "upload", "scan_batch", batch_id, files=file_count, pages=len(pages), **counts)
    return batch_id


def _sheet_row(db, page: PageResult, seen: set[int], moment: dt.datetime) -> dict:
    stamp = moment.isoformat()
    read = page.read
    if read is None:
        return {"status": "unreadable_file", "review_state": "discarded", "discarded_at": stamp,
                "discarded_by": "system", "purge_after": stamp,
                "result_json": json.dumps({"error": page.error or "upload_bad_type"})}
    status = read.status if read.status in READER_STATUSES else "not_our_form"
    version, serial = read.form_version, read.serial
    if version and query_one(db, "SELECT 1 AS x FROM form_versions WHERE version = ?", [version]) is None:
        status = "unknown_version"
    elif status == "ok":
        if query_one(db, "SELECT 1 AS x FROM form_sheets WHERE serial = ? AND version = ?", [serial, version]) is None:
            status = "unknown_version"  # a serial this version never printed: not a sheet of ours
        elif serial in seen:
            status = "duplicate_in_batch"
        elif query_one(db, "SELECT 1 AS x FROM scanned_sheets WHERE serial = ? AND status = 'ok' "
                           "AND review_state IN ('pending', 'confirmed')", [serial]):
            status = "already_scanned"
    if status == "ok":
        seen.add(serial)
    result = {"boxes": _box_json(read) if status == "ok" else {}, "edits": [],
              "residual_mm": read.residual_mm, "read_status": read.status}
    row: dict[str, Any] = {
        "status": status, "serial": serial, "version": version,
        "confidence": float(read.confidence or 0) if status == "ok" else 0.0,
        "upside_down": int(bool(read.upside_down)), "result_json": json.dumps(result),
    }
    if status == "ok":
        # Pending sheets expire too: handwriting nobody reviewed is not kept for ever.
        row.update(review_state="pending", image=read.page_png, crops=_crops_json(read),
                   purge_after=purge_date(moment))
    else:
        # Copies of a sheet already held, and pages that are not a readable
        # form of ours, are kept only as a line in the report: no image.
        row.update(review_state="discarded", discarded_at=stamp, discarded_by="system", purge_after=stamp)
    return row


def scan_files(db, files: list[tuple[str, bytes]], *, actor: str, max_pages: int = MAX_PAGES_PER_BATCH,
               max_pixels: int | None = None, max_file_pages: int | None = None) -> dict:
    """Read uploaded files (PDF, PNG, JPEG, TIFF; several pages each) and store
    them as one batch.  Returns the batch report (see :func:`batch_report`)
    plus ``files_read``: how many files gave at least one page."""
    files = list(files)
    if not files:
        raise ValidationError("upload_no_files")
    pages = read_files(db, files, max_pages=max_pages, max_pixels=max_pixels, max_file_pages=max_file_pages)
    batch_id = record_batch(db, pages, actor=actor, file_count=len(files))
    report = batch_report(db, batch_id)
    report["files_read"] = len({p.source_name for p in pages if p.read is not None})
    return report


def _status_counts(db, batch_id: int) -> dict[str, int]:
    return {r["status"]: r["n"] for r in db.query(
        "SELECT status, count(*) AS n FROM scanned_sheets WHERE batch_id = ? GROUP BY status ORDER BY status",
        [batch_id])}


def _uncertain(result: dict) -> int:
    return sum(1 for b in result.get("boxes", {}).values() if b["state"] == "uncertain")


def batch_report(db, batch_id: int) -> dict:
    """One row per page: status, serial, review state, uncertain boxes.  No personal data."""
    batch = query_one(db, "SELECT * FROM scan_batches WHERE id = ?", [batch_id])
    if batch is None:
        raise NotFound("not_found", batch=batch_id)
    pages = []
    for row in db.query("SELECT id, page_no, source_name, status, serial, version, confidence, upside_down, "
                        "review_state, result_json FROM scanned_sheets WHERE batch_id = ? ORDER BY id", [batch_id]):
        result = json.loads(row.pop("result_json"))
        row["uncertain"] = _uncertain(result)
        row["upside_down"] = bool(row["upside_down"])
        row["error"] = result.get("error")
        pages.append(row)
    return {"batch_id": batch_id, "uploaded_at": batch["uploaded_at"], "file_count": batch["file_count"],
            "page_count": batch["page_count"], "counts": _status_counts(db, batch_id), "pages": pages}


def list_batches(db, *, limit: int = 20) -> list[dict]:
    return list(db.query(
        "SELECT b.*, (SELECT count(*) FROM scanned_sheets s WHERE s.batch_id = b.id AND s.review_state = 'pending') "
        "AS pending FROM scan_batches b ORDER BY b.id DESC LIMIT ?", [limit]))


# --- the review queue and one sheet ------------------------------------------------------------


def review_queue(db, *, limit: int = 200) -> list[dict]:
    """Sheets waiting for review, the least confident first."""
    out = []
    for row in db.query("SELECT id, batch_id, page_no, serial, version, confidence, upside_down, result_json "
                        "FROM scanned_sheets WHERE review_state = 'pending' ORDER BY confidence, id LIMIT ?",
                        [limit]):
        result = json.loads(row.pop("result_json"))
        row["uncertain"] = _uncertain(result)
        row["marked"] = sum(1 for b in result.get("boxes", {}).values() if b["state"] == "marked")
        row["upside_down"] = bool(row["upside_down"])
        out.append(row)
    return out


def sheet_row(db, sheet_id: int) -> dict:
    row = query_one(db, "SELECT id, batch_id, page_no, source_name, status, serial, version, confidence, "
                        "upside_down, review_state, result_json, resident_id, confirmed_at, confirmed_by, "
                        "discarded_at, purge_after, purged_at, image IS NOT NULL AS has_image, crops "
                        "FROM scanned_sheets WHERE id = ?", [sheet_id])
    if row is None:
        raise NotFound("sheet_not_found", id=sheet_id)
    row["result"] = json.loads(row.pop("result_json"))
    row["crop_keys"] = sorted(json.loads(row.pop("crops") or "{}"))
    row["upside_down"] = bool(row["upside_down"])
    row["has_image"] = bool(row["has_image"])
    return row


def get_sheet(db, sheet_id: int, *, actor: str) -> dict:
    """A sheet for review: its boxes (with what each means) and its fields.

    The page holds handwriting, i.e. personal data, so every view is audited.
    """
    row = sheet_row(db, sheet_id)
    boxes, fields = [], []
    layout = None
    if row["version"]:
        try:
            layout = get_layout(db, row["version"])
        except NotFound:
            layout = None
    if layout is not None and row["status"] == "ok":
        states = row["result"].get("boxes", {})
        for box in layout.boxes:
            state = states.get(box.key, {})
            boxes.append({"key": box.key, "kind": box.kind, "label": box.label, "value": box.value,
                          "state": state.get("state", "uncertain"), "read_state": state.get("read_state"),
                          "confidence": state.get("confidence", 0.0), "note": state.get("note", ""),
                          "has_crop": f"box:{box.key}" in row["crop_keys"]})
        fields = [{"key": f.key, "cells": f.cells, "has_crop": f"field:{f.key}" in row["crop_keys"]}
                  for f in layout.fields]
    row["boxes"] = boxes
    row["fields"] = fields
    row["layout"] = layout
    with write_transaction(db):
        audit.record(db, actor, "view", "scanned_sheet", sheet_id)
    return row


def get_crop(db, sheet_id: int, crop_key: str, *, actor: str) -> bytes:
    """One crop (``field:name``, ``box:session:12``) or the whole page (``page``) as PNG.

    Handwritten fields and the page are personal data: fetching them is audited.
    Box crops show only a tick and are not logged one by one.
    """
    if crop_key == "page":
        row = query_one(db, "SELECT image FROM scanned_sheets WHERE id = ?", [sheet_id])
        if row is None:
            raise NotFound("sheet_not_found", id=sheet_id)
        data = row["image"]
    else:
        row = query_one(db, "SELECT crops FROM scanned_sheets WHERE id = ?", [sheet_id])
        if row is None:
            raise NotFound("sheet_not_found", id=sheet_id)
        encoded = json.loads(row["crops"] or "{}").get(crop_key)
        data = base64.b64decode(encoded) if encoded else None
    if not data:
        raise NotFound("not_found", crop=crop_key[:40])
    if not crop_key.startswith("box:"):
        with write_transaction(db):
            audit.record(db, actor, "view_crop", "scanned_sheet", sheet_id, crop=crop_key)
    return bytes(data)


# --- retention ---------------------------------------------------------------------------------


def purge_expired(db, now: dt.datetime | None = None, *, actor: str = "system") -> dict:
    """Delete page images and crops whose retention date has passed.

    The row stays (status, serial, box states, who confirmed it), so counts and
    the link from bookings to their sheet survive.  A sheet still pending at
    its date is discarded: nobody reviewed it within the retention period.
    """
    moment = timeutil.iso(now or timeutil.now())
    with write_transaction(db):
        ids = [r["id"] for r in db.query(
            "SELECT id FROM scanned_sheets WHERE purged_at IS NULL AND purge_after IS NOT NULL AND purge_after <= ? "
            "AND (image IS NOT NULL OR crops IS NOT NULL OR review_state = 'pending')", [moment])]
        if ids:
            marks = ", ".join("?" for _ in ids)
            db.conn.execute(
                f"UPDATE scanned_sheets SET review_state = 'discarded', discarded_at = ?, discarded_by = 'retention' "
                f"WHERE id IN ({marks}) AND review_state = 'pending'", [moment, *ids])
            db.conn.execute(
                f"UPDATE scanned_sheets SET image = NULL, crops = NULL, purged_at = ? WHERE id IN ({marks})",
                [moment, *ids])
            audit.record(db, actor, "purge", "scanned_sheet", None, sheets=len(ids))
    if ids:
        # As after erasing a resident: the WAL still holds the images until reset.
        checkpoint(db)
    return {"purged": len(ids), "at": moment}


def sniff_type(data: bytes) -> str | None:
    """``pdf``, ``png``, ``jpeg`` or ``tiff`` from the file's first bytes (never
    its name), else None: the upload page refuses anything else before reading."""
    from . import reader

    return reader.sniff(bytes(data[:16]))
