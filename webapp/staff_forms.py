"""The staff area, paper forms: print sheets, upload scans, review, confirm, slips.

The machine reads the tick boxes; staff read the handwriting.  The review page
shows each handwritten field's crop beside the input staff type into, and each
tick box's crop with what the reader decided.  Crops and page images are
served by a staff-only route by sheet id and crop key, never cached, and
every view of a sheet goes through an audited library function.
"""
from __future__ import annotations

import datetime as dt

import segno
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from date_community import timeutil
from date_community.errors import DateCommunityError, NotFound
from date_community.forms import records, review
from date_community.people import format_phone
from date_community.schema import DISTRICTS
from date_community.scheduling import catalog

from . import fields as parse
from . import security
from .auth import role_required
from .database import get_db
from .messages import error_text
from .staff import bp
from .staff_people import BOOKING_STATUS, REASON_LABELS, district_label

# Uploads of scanned sheets may be far larger than any other form: a 20-page
# PDF from an office scanner at 300 dpi is 10-30 MB.  The limit is raised for
# this one route by webapp/bodylimit.py (MAX_UPLOAD_BYTES, 40 MB; every other
# form gets MAX_BODY_BYTES, 1 MB); 40 MB is about 100 pages of a typical scan
# and keeps one request's memory bounded.
MAX_FILES = 50
ACCEPT = ".pdf,.png,.jpg,.jpeg,.tif,.tiff,application/pdf,image/png,image/jpeg,image/tiff"

GSI_TILE_HOST = "https://cyberjapandata.gsi.go.jp"
GSI_TILES = GSI_TILE_HOST + "/xyz/std/{z}/{x}/{y}.png"
# GSI asks for its name as the credit; it is printed under the map as plain text and a link,
# so the map itself stays one still picture with nothing focusable inside.
GSI_CREDIT_URL = "https://maps.gsi.go.jp/development/ichiran.html"
# Only the slips page draws a map, so only it lets images come from the tile server.
SLIP_CSP = security.csp_with_images_from(GSI_TILE_HOST)

STATUS_LABELS = {
    "ok": _l("Read"),
    "not_our_form": _l("Not one of our forms"),
    "blank": _l("Blank page"),
    "unreadable_id": _l("Sheet number could not be read"),
    "bad_geometry": _l("Corner marks not found: the page is cut off, folded or too skewed"),
    "already_scanned": _l("Already scanned"),
    "duplicate_in_batch": _l("The same sheet twice in this upload"),
    "unknown_version": _l("Not printed by this system"),
    "unreadable_file": _l("The file could not be read"),
}
REVIEW_LABELS = {"pending": _l("Waiting for review"), "confirmed": _l("Confirmed"), "discarded": _l("Set aside")}
BOX_LABELS = {"marked": _l("Ticked"), "empty": _l("Not ticked"), "uncertain": _l("Uncertain")}
NOTE_LABELS = {"faint": _l("faint mark"), "correction": _l("looks corrected"),
               "outside_box": _l("mark outside the box")}
OUTCOME_LABELS = {**BOOKING_STATUS, "not_booked": _l("Not booked")}
FIELD_LABELS = {"name": _l("Name"), "kana": _l("Furigana"), "phone": _l("Phone number"),
                "birth_year": _l("Year of birth"), "district": _l("District")}
# Which crop goes with which input (the sheet says フリガナ; the form field is the kana).
FIELD_CROPS = {"name": "name", "kana": "furigana", "phone": "phone", "birth_year": "birth_year"}
CROP_ALT = {"name": _l("The name as handwritten on the sheet"),
            "kana": _l("The furigana as handwritten on the sheet"),
            "phone": _l("The phone number as handwritten on the sheet"),
            "birth_year": _l("The year of birth as handwritten on the sheet")}
FIELD_ORDER = ("name", "kana", "phone", "birth_year", "district")


def _labels() -> dict:
    return {"status": STATUS_LABELS, "review": REVIEW_LABELS, "box": BOX_LABELS, "note": NOTE_LABELS,
            "outcome": OUTCOME_LABELS, "field": FIELD_LABELS, "reason": REASON_LABELS, "booking": BOOKING_STATUS}


def _render(template: str, status: int = 200, **context):
    context.setdefault("errors", {})
    body = render_template(f"staff/forms/{template}", labels=_labels(), format_phone=format_phone,
                           sheet_number=_sheet_number, error_text=error_text, **context)
    return body, status


def _actor() -> str:
    return current_user.actor


def _sheet_number(serial) -> str:
    return "" if serial is None else f"{int(serial):06d}"


# --- overview ----------------------------------------------------------------------------------

@bp.get("/forms")
@role_required("staff")
def forms_index():
    db = get_db()
    return _render("index.html", title=_("Paper forms"), batches=records.list_batches(db, limit=10),
                   versions=records.list_versions(db, limit=10), queue=len(records.review_queue(db)))


# --- printing ----------------------------------------------------------------------------------

def _print_values() -> dict:
    today = timeutil.now().date()
    return {"venue": "", "date_from": today.isoformat(), "date_to": (today + dt.timedelta(days=30)).isoformat(),
            "copies": "20"}


@bp.route("/forms/print", methods=["GET", "POST"])
@role_required("staff")
def forms_print():
    db = get_db()
    values = _print_values()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = {k: request.form.get(k, "").strip() for k in values}
        if not values["venue"]:
            errors["venue"] = _("Choose a venue.")
        for key in ("date_from", "date_to"):
            if parse.date(values[key]) is None:
                errors[key] = _("Enter a real date, like 2026-04-01.")
        copies = parse.whole(values["copies"], minimum=1, maximum=records.MAX_COPIES)
        if copies is None:
            errors["copies"] = error_text("invalid_copies")
        if not errors:
            try:
                made = records.print_forms_pdf(db, values["venue"], values["date_from"], values["date_to"],
                                               copies, actor=_actor())
            except DateCommunityError as exc:
                field = {"venue_not_found": "venue", "invalid_time_range": "date_to",
                         "invalid_copies": "copies"}.get(exc.code, "date_from")
                errors[field] = error_text(exc)
            else:
                response = Response(made["pdf"], mimetype="application/pdf")
                response.headers["Content-Disposition"] = f'attachment; filename="{made["filename"]}"'
                return response
        status = 400
    venues = [("", _("Choose a venue"))] + [
        (v["slug"], v["name_ja"] if _locale() == "ja" else v["name_en"]) for v in catalog.list_venues(db)]
    order = ("venue", "date_from", "date_to", "copies")
    return _render("print.html", status, title=_("Print sign-up sheets"), values=values, venue_options=venues,
                   errors={k: errors[k] for k in order if k in errors}, max_copies=records.MAX_COPIES,
                   versions=records.list_versions(db, limit=10))


def _locale() -> str:
    from .locale import select_locale

    return select_locale()


@bp.get("/forms/versions/<version>/layout.json")
@role_required("staff")
def forms_layout_json(version: str):
    try:
        body = records.layout_json(get_db(), version)
    except NotFound:
        abort(404)
    response = Response(body, mimetype="application/json; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="layout.json"'
    return response


# --- uploading ---------------------------------------------------------------------------------

@bp.errorhandler(413)
def _too_large(_exc):
    if request.endpoint == "staff.forms_upload":
        return _render("upload.html", 413, title=_("Upload scanned sheets"), accept=ACCEPT,
                       errors={"files": error_text("upload_too_large")})
    return render_template("error.html", code=413, title=_("The file is too large")), 413


@bp.route("/forms/upload", methods=["GET", "POST"])
@role_required("staff")
def forms_upload():
    errors: dict[str, str] = {}
    if request.method == "POST":
        uploads = [f for f in request.files.getlist("files") if f and f.filename]
        if not uploads:
            errors["files"] = error_text("upload_no_files")
        elif len(uploads) > MAX_FILES:
            errors["files"] = _("Upload at most %(n)s files at a time.", n=MAX_FILES)
        else:
            files = []
            for upload in uploads:
                data = upload.read()
                name = records.clean_source_name(upload.filename)
                if records.sniff_type(data) is None:
                    errors["files"] = _("%(name)s is not a PDF, PNG, JPEG or TIFF file. Upload PDF, PNG, JPEG or "
                                        "TIFF files only.", name=name)
                    break
                files.append((name, data))
            if not errors:
                try:
                    report = records.scan_files(get_db(), files, actor=_actor(),
                                                max_pixels=current_app.config["UPLOAD_MAX_PIXELS"],
                                                max_file_pages=current_app.config["UPLOAD_MAX_PAGES"])
                except DateCommunityError as exc:
                    errors["files"] = error_text(exc)
                else:
                    flash(_("Upload read: %(n)s pages.", n=report["page_count"]))
                    return redirect(url_for("staff.forms_batch", batch_id=report["batch_id"]))
        return _render("upload.html", 400, title=_("Upload scanned sheets"), accept=ACCEPT, errors=errors)
    return _render("upload.html", title=_("Upload scanned sheets"), accept=ACCEPT)


@bp.get("/forms/batches/<int:batch_id>")
@role_required("staff")
def forms_batch(batch_id: int):
    try:
        report = records.batch_report(get_db(), batch_id)
    except NotFound:
        abort(404)
    return _render("batch.html", title=_("Upload %(n)s", n=batch_id), report=report)


# --- review ------------------------------------------------------------------------------------

@bp.get("/forms/queue")
@role_required("staff")
def forms_queue():
    return _render("queue.html", title=_("Sheets to review"), sheets=records.review_queue(get_db()))


def _sheet_or_404(sheet_id: int) -> dict:
    try:
        return records.get_sheet(get_db(), sheet_id, actor=_actor())
    except NotFound:
        abort(404)


def _box_choices(sheet: dict) -> dict[str, str]:
    """What each box's radios show: the posted choice, else the reader's
    decision when it was certain, else nothing (staff must choose)."""
    choices = {}
    for index, box in enumerate(sheet["boxes"], start=1):
        name = f"box-{index}"
        if request.method == "POST":
            posted = request.form.get(name, "")
            choices[name] = posted if posted in review.BOX_STATES else ""
        else:
            choices[name] = box["state"] if box["state"] in review.BOX_STATES else ""
    return choices


@bp.route("/forms/sheets/<int:sheet_id>", methods=["GET", "POST"])
@role_required("staff")
def forms_sheet(sheet_id: int):
    db = get_db()
    sheet = _sheet_or_404(sheet_id)
    if sheet["review_state"] == "confirmed":
        return redirect(url_for("staff.forms_result", sheet_id=sheet_id))
    if sheet["review_state"] != "pending":
        return _render("sheet_closed.html", title=_("Sheet %(number)s", number=_sheet_number(sheet["serial"])),
                       sheet=sheet)
    values = {name: "" for name in FIELD_ORDER}
    values["resident"] = ""
    errors: dict[str, str] = {}
    duplicates = None
    status = 200
    choices = _box_choices(sheet)
    if request.method == "POST":
        action = request.form.get("action", "")
        if action not in ("check", "confirm"):
            abort(400)
        values = {name: request.form.get(name, "").strip() for name in (*FIELD_ORDER, "resident")}
        duplicates = review.duplicate_suggestions(db, phone=values["phone"], kana=values["kana"],
                                                  birth_year=values["birth_year"], actor=_actor())
        if action == "confirm":
            errors = _confirm_errors(sheet, values, choices, duplicates)
            if not errors:
                resident_id = None if values["resident"] in ("", "new") else parse.record_id(values["resident"])
                boxes = {box["key"]: choices[f"box-{i}"] for i, box in enumerate(sheet["boxes"], start=1)}
                fields = {k: values[k] for k in FIELD_ORDER}
                try:
                    review.confirm_sheet(db, sheet_id, fields, resident_id, boxes=boxes, actor=_actor())
                except DateCommunityError as exc:
                    errors = _library_errors(sheet, exc)
                else:
                    flash(_("The sheet has been confirmed and the classes booked."))
                    return redirect(url_for("staff.forms_result", sheet_id=sheet_id))
            status = 400 if errors else 200
    district_options = [("", _("Not written"))] + [(d, district_label(d)) for d in DISTRICTS]
    resident_options = []
    if duplicates:
        resident_options = [(str(d["id"]), d) for d in duplicates]
    return _render("sheet.html", status, title=_("Review sheet %(number)s", number=_sheet_number(sheet["serial"])),
                   sheet=sheet, values=values, choices=choices, errors=errors, duplicates=duplicates,
                   resident_options=resident_options, district_options=district_options,
                   field_crops=FIELD_CROPS, crop_alt=CROP_ALT)


def _confirm_errors(sheet: dict, values: dict, choices: dict, duplicates: list[dict]) -> dict[str, str]:
    errors = {name: error_text(code) for name, code in review.field_errors(values).items()}
    for index, _box in enumerate(sheet["boxes"], start=1):
        if not choices[f"box-{index}"]:
            errors[f"box-{index}"] = _("Choose ticked or not ticked.")
    allowed = {"new"} | {str(d["id"]) for d in duplicates}
    if duplicates and values["resident"] not in allowed:
        errors["resident"] = _("Choose one of the residents found, or a new resident.")
    elif not duplicates and values["resident"] not in ("", "new"):
        values["resident"] = ""
    order = [*FIELD_ORDER, *(f"box-{i}" for i in range(1, len(sheet["boxes"]) + 1)), "resident"]
    return {k: errors[k] for k in order if k in errors}


def _library_errors(sheet: dict, exc: DateCommunityError) -> dict[str, str]:
    if exc.code == "consent_required":
        for index, box in enumerate(sheet["boxes"], start=1):
            if box["kind"] == "consent":
                return {f"box-{index}": error_text(exc)}
    field = {"invalid_name": "name", "invalid_kana": "kana", "invalid_phone": "phone",
             "invalid_birth_year": "birth_year", "invalid_district": "district",
             "resident_not_found": "resident"}.get(exc.code)
    return {field or "_form": error_text(exc)}


@bp.post("/forms/sheets/<int:sheet_id>/discard")
@role_required("staff")
def forms_discard(sheet_id: int):
    try:
        review.discard_sheet(get_db(), sheet_id, actor=_actor())
    except NotFound:
        abort(404)
    except DateCommunityError as exc:
        flash(error_text(exc))
        return redirect(url_for("staff.forms_sheet", sheet_id=sheet_id))
    flash(_("The sheet has been set aside. Nothing was booked."))
    return redirect(url_for("staff.forms_queue"))


@bp.get("/forms/sheets/<int:sheet_id>/crops/<crop_key>")
@role_required("staff")
def forms_crop(sheet_id: int, crop_key: str):
    try:
        data = records.get_crop(get_db(), sheet_id, crop_key, actor=_actor())
    except NotFound:
        abort(404)
    response = Response(data, mimetype="image/png")
    return security.no_store(response)


# --- after confirmation -------------------------------------------------------------------------

def _confirmation_or_redirect(sheet_id: int):
    try:
        return review.confirmation(get_db(), sheet_id, actor=_actor()), None
    except NotFound:
        abort(404)
    except DateCommunityError:
        return None, redirect(url_for("staff.forms_sheet", sheet_id=sheet_id))


@bp.get("/forms/sheets/<int:sheet_id>/result")
@role_required("staff")
def forms_result(sheet_id: int):
    result, elsewhere = _confirmation_or_redirect(sheet_id)
    if elsewhere:
        return elsewhere
    waitlisted = [b for b in result["bookings"] if b["current_status"] == "waitlisted"]
    confirmed = [b for b in result["bookings"] if b["current_status"] == "confirmed"]
    number = _sheet_number(result["sheet"]["serial"])
    return _render("result.html", title=_("Sheet %(number)s: bookings", number=number),
                   result=result, waitlisted=waitlisted, confirmed=confirmed)


def map_link(lat: float, lon: float) -> str:
    """The venue on the GSI web map, for the slip's QR code."""
    return f"https://maps.gsi.go.jp/#17/{lat:.6f}/{lon:.6f}/"


def qr_data_uri(text: str) -> str:
    return segno.make(text, error="m").svg_data_uri(scale=4, border=2)


@bp.get("/forms/sheets/<int:sheet_id>/slips")
@role_required("staff")
def forms_slips(sheet_id: int):
    result, elsewhere = _confirmation_or_redirect(sheet_id)
    if elsewhere:
        return elsewhere
    slips = []
    for item in result["bookings"]:
        s = item["session"]
        if item["current_status"] != "confirmed" or s is None:
            continue
        located = s["venue_lat"] is not None and s["venue_lon"] is not None
        link = map_link(s["venue_lat"], s["venue_lon"]) if located else None
        slips.append({"booking": item, "s": s, "located": located, "map_link": link,
                      "qr": qr_data_uri(link) if link else None})
    body, status = _render("slips.html", title=_("Admission slips"), result=result, slips=slips,
                           tiles=GSI_TILES, attribution_url=GSI_CREDIT_URL)
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = SLIP_CSP
    return response


@bp.get("/forms/sheets/<int:sheet_id>/call-list")
@role_required("staff")
def forms_call_list(sheet_id: int):
    try:
        rows = review.waitlist_calls(get_db(), sheet_id, actor=_actor())
    except NotFound:
        abort(404)
    return _render("call_list.html", title=_("Call list: waiting list from sheet %(number)s",
                                             number=_sheet_number(_serial_of(sheet_id))),
                   rows=rows, sheet_id=sheet_id)


def _serial_of(sheet_id: int):
    return records.sheet_row(get_db(), sheet_id)["serial"]
