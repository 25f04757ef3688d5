"""The staff area, part 2: residents, the day itself and records.

Residents' names, phones and needs appear only here.  Every page that shows
one resident's data, the attendance list, the call list or a slip goes
through a library function that writes the audit log.  Search terms travel
in POST bodies and pages are addressed by ids, so no personal data ends up in
a URL, a browser history or a server log.
"""
from __future__ import annotations

import datetime as dt
import json

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from date_community import audit, people, reports, timeutil
from date_community.errors import DateCommunityError, NotFound
from date_community.people import format_phone
from date_community.schema import DISTRICTS
from date_community.scheduling import attendance, bookings, calllist, catalog, sessions

from . import fields as parse
from .auth import role_required
from .database import get_db
from .locale import select_locale
from .messages import error_text
from .staff import bp

# --- labels ------------------------------------------------------------------------

# District names are place names: shown as written in Japanese, with romaji for
# readers of the other languages.
DISTRICT_ROMAJI = {"伊達": "Date", "梁川": "Yanagawa", "保原": "Hobara", "霊山": "Ryozen", "月舘": "Tsukidate"}
DEVICE_LABELS = {
    "none": _l("No mobile phone"),
    "iphone": _l("iPhone"),
    "android": _l("Android smartphone"),
    "rakuraku": _l("Raku-Raku Smartphone"),
    "feature_phone": _l("Mobile phone that is not a smartphone"),
}
SOURCE_LABELS = {
    "phone": _l("By phone"),
    "counter": _l("At the counter"),
    "paper": _l("Paper form"),
    "web": _l("Website"),
}
STAFF_SOURCES = ("phone", "counter", "paper")
BOOKING_STATUS = {
    "confirmed": _l("Confirmed"),
    "waitlisted": _l("Waiting list"),
    "cancelled": _l("Cancelled"),
    "attended": _l("Came"),
    "no_show": _l("Did not come"),
}
# On the attendance list: the state of a resident's booking or a helper's shift.
ATTENDANCE_STATE = {
    "confirmed": _l("Not checked in yet"),
    "booked": _l("Not checked in yet"),
    "attended": _l("Checked in"),
    "no_show": _l("Did not come"),
}
ROLE_LABELS = {"lead": _l("Lead helper"), "assistant": _l("Assistant")}
REASON_LABELS = {"phone": _l("Same phone number"), "kana_birth_year": _l("Same furigana and year of birth")}

AUDIT_PAGE_SIZE = 50
REPORTS = ("bookings", "hours", "participants")


def _labels() -> dict:
    return {"device": DEVICE_LABELS, "source": SOURCE_LABELS, "booking": BOOKING_STATUS,
            "attendance": ATTENDANCE_STATE, "role": ROLE_LABELS, "reason": REASON_LABELS,
            "district": district_label}


def district_label(code: str | None) -> str:
    if not code:
        return _("Not known")
    if select_locale() == "ja" or code not in DISTRICT_ROMAJI:
        return code
    return f"{code} ({DISTRICT_ROMAJI[code]})"


def _render(template: str, **context):
    context.setdefault("errors", {})
    return render_template(f"staff/people/{template}", labels=_labels(), format_phone=format_phone, **context)


def _actor() -> str:
    return current_user.actor


def _attachment(body: str, filename: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _day_arg(name: str, default: dt.date) -> tuple[dt.date, dict[str, str]]:
    """A date from the query string (not personal data), or the default with an error."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default, {}
    day = parse.date(raw)
    return (day, {}) if day else (default, {name: error_text("invalid_time")})


# --- residents: search -----------------------------------------------------------------

@bp.route("/residents", methods=["GET", "POST"])
@role_required("staff")
def residents():
    query, errors, results, searched = "", {}, [], False
    if request.method == "POST":
        query = request.form.get("q", "").strip()
        if not query:
            errors["q"] = _("Enter a name in kana or a phone number.")
        else:
            results = people.find_residents(get_db(), query, actor=_actor())
            searched = True
    return _render("residents.html", title=_("Residents"), query=query, errors=errors, results=results,
                   searched=searched)


# --- residents: add and correct ------------------------------------------------------------

FORM_FIELDS = ("name_kanji", "name_kana", "phone", "birth_year", "district", "device", "topics_wanted", "needs")
REQUIRED = ("name_kanji", "name_kana", "phone", "district", "device")


def _form_values(with_intake: bool) -> dict:
    form = request.form
    values = {name: form.get(name, "").strip() for name in FORM_FIELDS if name != "topics_wanted"}
    values["topics_wanted"] = form.getlist("topics_wanted")
    values["needs"] = form.get("needs", "")
    if with_intake:
        values["source"] = form.get("source", "")
        values["consent"] = form.get("consent") == "yes"
    return values


def _validate(values: dict, with_intake: bool, topic_codes: set[str]) -> dict[str, str]:
    fields = {name: values[name] for name in FORM_FIELDS}
    if with_intake:
        fields["source"] = values["source"]
    codes = people.resident_errors(fields, required=REQUIRED + (("source",) if with_intake else ()))
    if with_intake and "source" not in codes and values["source"] not in STAFF_SOURCES:
        codes["source"] = "invalid_source"
    if set(values["topics_wanted"]) - topic_codes:
        codes["topics_wanted"] = "invalid_value"
    errors = {name: error_text(code) for name, code in codes.items()}
    if with_intake and not values["consent"]:
        errors["consent"] = _("Ask if we may keep their details, and tick the box if they agree.")
    order = (*FORM_FIELDS, "source", "consent")
    return {name: errors[name] for name in order if name in errors}


def _form_context(values: dict, errors: dict, **context):
    topics = catalog.list_topics(get_db())
    return dict(values=values, errors=errors, topics=topics,
                district_options=[("", _("Choose a district"))] + [(d, district_label(d)) for d in DISTRICTS],
                device_options=list(DEVICE_LABELS.items()),
                source_options=[(s, SOURCE_LABELS[s]) for s in STAFF_SOURCES], **context)


@bp.route("/residents/new", methods=["GET", "POST"])
@role_required("staff")
def resident_new():
    values: dict = {"topics_wanted": [], "consent": False}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _form_values(with_intake=True)
        topic_codes = {t["code"] for t in catalog.list_topics(get_db())}
        errors = _validate(values, True, topic_codes)
        if not errors:
            try:
                rid = people.add_resident(
                    get_db(), name_kanji=values["name_kanji"], name_kana=values["name_kana"],
                    phone=values["phone"], birth_year=values["birth_year"] or None, district=values["district"],
                    device=values["device"], topics_wanted=values["topics_wanted"], needs=values["needs"],
                    source=values["source"], consent=True, actor=_actor())
            except DateCommunityError as exc:
                errors = {"_form": error_text(exc)}
            else:
                flash(_("The resident has been added."))
                return redirect(url_for("staff.resident", resident_id=rid))
    return _render("resident_form.html",
                   **_form_context(values, errors, title=_("Add a resident"), intake=True,
                                   action=url_for("staff.resident_new")))


@bp.route("/residents/<int:resident_id>/edit", methods=["GET", "POST"])
@role_required("staff")
def resident_edit(resident_id: int):
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = _form_values(with_intake=False)
        topic_codes = {t["code"] for t in catalog.list_topics(get_db())}
        errors = _validate(values, False, topic_codes)
        if not errors:
            fields = {name: values[name] for name in FORM_FIELDS}
            fields["birth_year"] = fields["birth_year"] or None
            try:
                people.update_resident(get_db(), resident_id, actor=_actor(), **fields)
            except NotFound:
                abort(404)
            except DateCommunityError as exc:
                errors = {"_form": error_text(exc)}
            else:
                flash(_("The details have been corrected."))
                return redirect(url_for("staff.resident", resident_id=resident_id))
    else:
        try:
            row = people.get_resident(get_db(), resident_id, actor=_actor())
        except NotFound:
            abort(404)
        values = {name: row[name] for name in FORM_FIELDS}
        values["phone"] = format_phone(row["phone"])
        values["birth_year"] = row["birth_year"] or ""
        values["district"] = row["district"] or ""
    return _render("resident_form.html",
                   **_form_context(values, errors, title=_("Correct the details"), intake=False,
                                   resident_id=resident_id,
                                   action=url_for("staff.resident_edit", resident_id=resident_id)))


# --- residents: one record ---------------------------------------------------------------

@bp.get("/residents/<int:resident_id>")
@role_required("staff")
def resident(resident_id: int):
    db = get_db()
    try:
        row = people.get_resident(db, resident_id, actor=_actor())
    except NotFound:
        abort(404)
    duplicates = [] if row["merged_into"] else people.duplicate_candidates(db, resident_id, actor=_actor())
    topics = {t["code"]: t for t in catalog.list_topics(db)}
    return _render("resident.html", title=row["name_kanji"], r=row, duplicates=duplicates,
                   booking_rows=bookings.resident_bookings(db, resident_id), topics=topics)


@bp.post("/residents/<int:resident_id>/export")
@role_required("staff")
def resident_export(resident_id: int):
    try:
        data = people.export_resident(get_db(), resident_id, actor=_actor())
    except NotFound:
        abort(404)
    if request.form.get("format") == "csv":
        return _attachment(reports.resident_csv(data), f"resident-{resident_id}.csv", "text/csv; charset=utf-8")
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return _attachment(body, f"resident-{resident_id}.json", "application/json; charset=utf-8")


@bp.route("/residents/<int:resident_id>/delete", methods=["GET", "POST"])
@role_required("staff")
def resident_delete(resident_id: int):
    db = get_db()
    if request.method == "POST":
        try:
            people.delete_resident(db, resident_id, actor=_actor())
        except NotFound:
            abort(404)
        flash(_("The resident's personal data has been deleted."))
        return redirect(url_for("staff.residents"))
    try:
        row = people.get_resident(db, resident_id, actor=_actor())
    except NotFound:
        abort(404)
    return _render("delete.html", title=_("Delete this resident's personal data"), r=row)


@bp.get("/residents/duplicates")
@role_required("staff")
def duplicates():
    pairs = people.all_duplicate_pairs(get_db())
    return _render("duplicates.html", title=_("Possible duplicates"), pairs=pairs)


def _merge_page(keep_id: int, other_id: int, errors: dict, status: int = 200):
    db = get_db()
    try:
        pair = [people.get_resident(db, rid, actor=_actor(), purpose="compare") for rid in (keep_id, other_id)]
    except NotFound:
        abort(404)
    counts = {r["id"]: len(bookings.resident_bookings(db, r["id"])) for r in pair}
    topics = {t["code"]: t for t in catalog.list_topics(db)}
    return _render("merge.html", title=_("Compare and merge"), pair=pair, counts=counts, topics=topics,
                   keep_id=keep_id, errors=errors), status


@bp.get("/residents/merge")
@role_required("staff")
def merge():
    keep_id = parse.arg_id("keep")
    other_id = parse.arg_id("other")
    if not keep_id or not other_id or keep_id == other_id:
        abort(400)
    return _merge_page(keep_id, other_id, {})


@bp.post("/residents/merge")
@role_required("staff")
def merge_post():
    pair = [parse.form_id(name) for name in ("first", "second")]
    keep_id = parse.form_id("keep")
    if not all(pair) or pair[0] == pair[1]:
        abort(400)
    if keep_id not in pair:
        return _merge_page(pair[0], pair[1], {"keep": _("Choose which record to keep.")}, 400)
    other_id = pair[1] if keep_id == pair[0] else pair[0]
    try:
        result = people.merge_residents(get_db(), keep_id, other_id, actor=_actor())
    except DateCommunityError as exc:
        return _merge_page(pair[0], pair[1], {"keep": error_text(exc)}, 400)
    flash(_("The records have been merged. Bookings moved: %(count)d.", count=result["bookings_moved"]))
    return redirect(url_for("staff.resident", resident_id=keep_id))


# --- on the day ----------------------------------------------------------------------

@bp.get("/today")
@role_required("staff")
def today():
    day, errors = _day_arg("date", timeutil.now().date())
    start, end = timeutil.day_bounds(day)
    found = sessions.list_sessions(get_db(), start=start, end=end)
    return _render("today.html", title=_("On the day"), day=day, sessions=found, errors=errors)


def _sheet_or_404(session_id: int) -> dict:
    try:
        return attendance.attendance_sheet(get_db(), session_id, actor=_actor())
    except NotFound:
        abort(404)


@bp.get("/attendance/<int:session_id>")
@role_required("staff")
def attendance_page(session_id: int):
    sheet = _sheet_or_404(session_id)
    return _render("attendance.html", title=_("Attendance"), sheet=sheet, s=sheet["session"])


BOOKING_ACTIONS = {"check_in": attendance.check_in, "undo": attendance.undo_check_in}
HELPER_ACTIONS = {"check_in": attendance.check_in_helper, "undo": attendance.undo_helper_check_in,
                  "no_show": attendance.mark_helper_no_show}


def _attendance_action(session_id: int, id_field: str, actions: dict, anchor: str):
    action = actions.get(request.form.get("action", ""))
    item_id = parse.form_id(id_field)
    if action is None or not item_id:
        abort(400)
    try:
        action(get_db(), item_id, actor=_actor(), session_id=session_id)
    except DateCommunityError as exc:
        flash(error_text(exc))
    return redirect(url_for("staff.attendance_page", session_id=session_id, _anchor=f"{anchor}-{item_id}"))


@bp.post("/attendance/<int:session_id>/booking")
@role_required("staff")
def attendance_booking(session_id: int):
    return _attendance_action(session_id, "booking_id", BOOKING_ACTIONS, "booking")


@bp.post("/attendance/<int:session_id>/helper")
@role_required("staff")
def attendance_helper(session_id: int):
    return _attendance_action(session_id, "shift_id", HELPER_ACTIONS, "helper")


@bp.route("/attendance/<int:session_id>/no-show", methods=["GET", "POST"])
@role_required("staff")
def attendance_no_show(session_id: int):
    if request.method == "POST":
        try:
            marked = attendance.mark_remaining_no_show(get_db(), session_id, actor=_actor())
        except NotFound:
            abort(404)
        flash(_("Marked as did not come: %(count)d.", count=len(marked)))
        return redirect(url_for("staff.attendance_page", session_id=session_id))
    sheet = _sheet_or_404(session_id)
    remaining = [b for b in sheet["bookings"] if b["status"] == "confirmed"]
    return _render("no_show.html", title=_("Mark the rest as did not come"), s=sheet["session"],
                   remaining=remaining)


# --- call list and admission slips -----------------------------------------------------------

def _call_list_day() -> tuple[dt.date, dict]:
    # The list is phoned the day before, so tomorrow is the default.
    return _day_arg("date", timeutil.now().date() + dt.timedelta(days=1))


@bp.get("/call-list")
@role_required("staff")
def call_list():
    day, errors = _call_list_day()
    rows = calllist.call_list(get_db(), day, actor=_actor())
    groups: list[dict] = []
    for row in rows:
        key = (row["starts_at"], row["venue"], row["topic"])
        if not groups or groups[-1]["key"] != key:
            groups.append({"key": key, "starts_at": row["starts_at"], "venue": row["venue"], "topic": row["topic"],
                           "rows": []})
        groups[-1]["rows"].append(row)
    return _render("call_list.html", title=_("Call list"), day=day, groups=groups, count=len(rows), errors=errors)


@bp.get("/call-list.csv")
@role_required("staff")
def call_list_csv():
    day, errors = _call_list_day()
    if errors:
        abort(400)
    rows = calllist.call_list(get_db(), day, actor=_actor())
    return _attachment(calllist.to_csv(rows), f"call-list-{day.isoformat()}.csv", "text/csv; charset=utf-8")


@bp.get("/bookings/<int:booking_id>/slip")
@role_required("staff")
def booking_slip(booking_id: int):
    try:
        slip = bookings.admission_slip(get_db(), booking_id, actor=_actor())
    except NotFound:
        abort(404)
    return _render("slip.html", title=_("Admission slip"), slip=slip, s=slip["session"], b=slip["booking"],
                   r=slip["resident"])


# --- records -------------------------------------------------------------------------

@bp.get("/audit")
@role_required("staff")
def audit_log():
    db = get_db()
    choices = audit.filter_values(db)
    entity = request.args.get("entity", "")
    actor = request.args.get("actor", "")
    entity = entity if entity in choices["entities"] else ""
    actor = actor if actor in choices["actors"] else ""
    # A page far past the end is simply empty; the bound keeps OFFSET within SQLite's integers.
    page = parse.arg_whole("page", 1, minimum=1, maximum=10**12)
    rows = audit.entries(db, entity=entity or None, actor=actor or None, limit=AUDIT_PAGE_SIZE + 1,
                         offset=(page - 1) * AUDIT_PAGE_SIZE)
    more = len(rows) > AUDIT_PAGE_SIZE
    for row in rows:
        row["detail_text"] = json.dumps(row["detail"], ensure_ascii=False, sort_keys=True) if row["detail"] else ""
        row["when"] = timeutil.parse(row["at"]).strftime("%Y-%m-%d %H:%M:%S")
    filters = {k: v for k, v in (("entity", entity), ("actor", actor)) if v}
    every = [("", _("All"))]
    return _render("audit.html", title=_("Audit log"), rows=rows[:AUDIT_PAGE_SIZE], page=page, more=more,
                   filters=filters, entity=entity, actor=actor,
                   entity_options=every + [(e, e) for e in choices["entities"]],
                   actor_options=every + [(a, a) for a in choices["actors"]])


def _month_bounds(today: dt.date) -> tuple[str, str]:
    first = today.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first.isoformat(), (following - dt.timedelta(days=1)).isoformat()


@bp.route("/exports", methods=["GET", "POST"])
@role_required("staff")
def exports():
    first, last = _month_bounds(timeutil.now().date())
    values = {f"{r}-{edge}": value for r in REPORTS for edge, value in (("from", first), ("to", last))}
    values["bookings-personal"] = False
    errors: dict[str, str] = {}
    if request.method == "POST":
        report = request.form.get("report", "")
        if report not in REPORTS:
            abort(400)
        for edge in ("from", "to"):
            values[f"{report}-{edge}"] = request.form.get(f"{report}-{edge}", "").strip()
        values["bookings-personal"] = request.form.get("bookings-personal") == "yes"
        start, end = values[f"{report}-from"], values[f"{report}-to"]
        for edge, raw in (("from", start), ("to", end)):
            if parse.date(raw) is None:
                errors[f"{report}-{edge}"] = _("Enter a real date, like 2026-04-01.")
        if not errors:
            try:
                return _export(report, start, end, values["bookings-personal"])
            except DateCommunityError as exc:
                errors[f"{report}-to"] = error_text(exc)
    return _render("exports.html", title=_("Exports"), values=values, errors=errors)


def _export(report: str, start: str, end: str, personal: bool) -> Response:
    db = get_db()
    name = f"{start}_{end}.csv"
    if report == "bookings":
        rows = reports.bookings_export(db, start=start, end=end, actor=_actor(), personal=personal)
        body = reports.bookings_csv(rows, personal=personal)
        name = ("bookings-with-names-" if personal else "bookings-") + name
    elif report == "hours":
        body = reports.hours_csv(reports.volunteer_hours(db, start=start, end=end, actor=_actor()))
        name = "volunteer-hours-" + name
    else:
        body = reports.participants_csv(reports.participants(db, start=start, end=end, actor=_actor()))
        name = "participants-" + name
    return _attachment(body, name, "text/csv; charset=utf-8")
