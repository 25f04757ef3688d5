"""Staff planning: sessions and series, booking residents on their behalf, the
waitlist, venues, topics and volunteers' accounts.

These views only read and check the form, call the library and render; every
rule (seat caps, repeat rules, who may be moved where) lives in the library.
Views are registered on the ``staff`` blueprint, so every URL is under /staff.
"""
from __future__ import annotations

import datetime as dt
import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from date_community import accounts, people, timeutil
from date_community.errors import DateCommunityError, NotFound
from date_community.schema import DEVICES, DISTRICTS, SESSION_KINDS
from date_community.scheduling import bookings, catalog, sessions, shifts

from . import fields as parse
from .auth import role_required
from .database import get_db
from .locale import select_locale
from .messages import error_text
from .staff import bp
from .public import KIND_NAMES
from .staff_people import BOOKING_STATUS, DEVICE_LABELS, SOURCE_LABELS

# --- labels ----------------------------------------------------------------------

# One wording per thing across the app: kinds as the public pages name them,
# devices and sources as the residents pages do.
KIND_LABELS = KIND_NAMES
STATUS_LABELS = BOOKING_STATUS
SHIFT_STATUS_LABELS = {"booked": _l("Booked"), "cancelled": _l("Cancelled"), "attended": _l("Came"),
                       "no_show": _l("Did not come")}
ROLE_LABELS = {"lead": _l("Lead"), "assistant": _l("Assistant")}
REPEAT_OPTIONS = (
    ("none", _l("Does not repeat")),
    ("weekly", _l("Every week, on the same day of the week")),
    ("fortnightly", _l("Every 2 weeks, on the same day of the week")),
    ("monthly", _l("Every month, on the same weekday (for example, every 2nd Tuesday)")),
)
SCOPE_OPTIONS = (
    ("this", _l("This class only")),
    ("following", _l("This class and the later classes in the series")),
)
# Staff book on a resident's behalf when they phone or come to the counter;
# paper forms and the website have their own routes in.
BOOKING_SOURCES = ("phone", "counter")
COORD_OPTIONS = (("sourced", _l("From an official source")), ("approx", _l("Approximate")))


def _labels() -> dict:
    return {"kind_labels": KIND_LABELS, "source_labels": SOURCE_LABELS, "status_labels": STATUS_LABELS,
            "shift_status_labels": SHIFT_STATUS_LABELS, "role_labels": ROLE_LABELS,
            "device_labels": DEVICE_LABELS, "min_password": accounts.MIN_PASSWORD_LENGTH}


def _render(template: str, **context):
    return render_template(f"staff/planning/{template}", **_labels(), **context)


# --- the dashboard's data, fetched only when staff/index.html asks for it ----------

def _understaffed_soon() -> list[dict]:
    start = timeutil.now()
    return shifts.understaffed(get_db(), start=start, end=start + dt.timedelta(days=14))


def _sessions_today() -> list[dict]:
    start, end = timeutil.day_bounds(timeutil.now().date())
    return sessions.list_sessions(get_db(), start=start, end=end, include_cancelled=True)


@bp.context_processor
def _dashboard_context():
    # Callables, not values: only the dashboard calls them, so other staff
    # pages do not pay for the queries.
    return {"dashboard_understaffed": _understaffed_soon, "dashboard_today": _sessions_today,
            "planning_kind_labels": KIND_LABELS}


# --- small form helpers ---------------------------------------------------------

def _ordered(errors: dict[str, str], order: tuple[str, ...]) -> dict[str, str]:
    """Errors in the order the fields appear on the page (form-wide ones first)."""
    rank = {name: i for i, name in enumerate(order)}
    return dict(sorted(errors.items(), key=lambda item: rank.get(item[0], -1)))


def _library_error(errors: dict[str, str], exc: DateCommunityError, by_param: dict[str, str],
                   by_code: dict[str, str]) -> None:
    """Put a library error beside the field it is about."""
    field = by_param.get(str(exc.params.get("field", ""))) or by_code.get(exc.code) or "_form"
    errors.setdefault(field, error_text(exc))


def _local_input(value) -> str:
    return timeutil.parse(value).strftime("%Y-%m-%dT%H:%M") if value else ""


def _actor() -> str:
    return current_user.actor


def _session_or_404(session_id: int) -> dict:
    try:
        return sessions.get_session(get_db(), session_id)
    except NotFound:
        abort(404)


# --- sessions: list ---------------------------------------------------------------

LIST_DAYS = 92


@bp.get("/sessions")
@role_required("staff")
def sessions_list():
    today = timeutil.now().date()
    values = {"from": request.args.get("from", "").strip(), "to": request.args.get("to", "").strip(),
              "cancelled": request.args.get("cancelled") == "yes"}
    errors: dict[str, str] = {}
    first = parse.date(values["from"]) if values["from"] else today
    if first is None:
        errors["from"] = _("Enter the first date as a real date, like 2031-04-01.")
        first = today
    last = parse.date(values["to"]) if values["to"] else first + dt.timedelta(days=LIST_DAYS)
    if last is None:
        errors["to"] = _("Enter the last date as a real date, like 2031-06-30.")
        last = first + dt.timedelta(days=LIST_DAYS)
    elif last < first:
        errors["to"] = _("The last date must be the same as or after the first date.")
        last = first + dt.timedelta(days=LIST_DAYS)
    found = sessions.list_sessions(get_db(), start=timeutil.parse(first),
                                   end=timeutil.parse(last + dt.timedelta(days=1)),
                                   include_cancelled=values["cancelled"])
    return _render("sessions.html", sessions=found, values=values, errors=errors, first=first, last=last,
                   title=_("Classes and sessions"))


# --- sessions: create and edit -------------------------------------------------------

SESSION_FIELDS = ("topic", "venue", "date", "start_time", "end_time", "kind", "seats", "walkin_seats",
                  "helpers_min", "helpers_max", "loaner_phones", "signup_opens", "signup_closes", "bring",
                  "notes", "repeat", "repeat_until", "repeat_count", "scope")
NUMBER_MESSAGES = {
    "seats": _l("Enter the number of seats as a whole number, like 12."),
    "walkin_seats": _l("Enter the number of walk-in seats as a whole number, like 0."),
    "helpers_min": _l("Enter the fewest helpers needed as a whole number, like 2."),
    "helpers_max": _l("Enter the most helpers wanted as a whole number, like 4."),
    "loaner_phones": _l("Enter the number of phones to lend as a whole number, like 0."),
}
# Library field names (the ``field`` parameter of an error) → form fields.
SESSION_PARAM_FIELDS = {"starts_at": "start_time", "ends_at": "end_time", "signup_opens_at": "signup_opens",
                        "signup_closes_at": "signup_closes", "walkin_seats": "walkin_seats",
                        "helpers_max": "helpers_max", "until": "repeat_until", "count": "repeat_count"}
SESSION_CODE_FIELDS = {"topic_not_found": "topic", "venue_not_found": "venue", "invalid_kind": "kind",
                       "invalid_seats": "seats", "seats_below_confirmed": "seats", "invalid_helpers": "helpers_max",
                       "invalid_time_range": "end_time", "invalid_time": "date", "invalid_rule": "repeat",
                       "invalid_repeat_end": "repeat_until", "invalid_scope": "scope"}


def _read_session_form(form) -> tuple[dict, dict, dict]:
    """The typed values (to show again), the library's keyword arguments and the errors."""
    values = {name: form.get(name, "").strip() for name in SESSION_FIELDS}
    values["bring"], values["notes"] = form.get("bring", ""), form.get("notes", "")
    fields: dict = {}
    errors: dict[str, str] = {}
    if values["topic"]:
        fields["topic"] = values["topic"]
    else:
        errors["topic"] = _("Choose what the class is about.")
    if values["venue"]:
        fields["venue"] = values["venue"]
    else:
        errors["venue"] = _("Choose where the class is held.")
    day = parse.date(values["date"])
    if day is None:
        errors["date"] = _("Enter the date of the class, like 2031-04-08.")
    start = parse.time(values["start_time"])
    if start is None:
        errors["start_time"] = _("Enter the start time, like 13:30.")
    end = parse.time(values["end_time"])
    if end is None:
        errors["end_time"] = _("Enter the end time, like 15:00.")
    if day and start:
        fields["starts_at"] = dt.datetime.combine(day, start, timeutil.TZ)
    if day and end:
        fields["ends_at"] = dt.datetime.combine(day, end, timeutil.TZ)
    if values["kind"] in SESSION_KINDS:
        fields["kind"] = values["kind"]
    else:
        errors["kind"] = error_text("invalid_kind")
    for name, message in NUMBER_MESSAGES.items():
        number = parse.whole(values[name])
        if number is None:
            errors[name] = str(message)
        else:
            fields[name] = number
    for name, key in (("signup_opens", "signup_opens_at"), ("signup_closes", "signup_closes_at")):
        if not values[name]:
            fields[key] = None
            continue
        moment = parse.local_datetime(values[name])
        if moment is None:
            errors[name] = _("Enter a date and time, like 2031-04-01 09:00.")
        else:
            fields[key] = moment
    fields["bring"], fields["notes"] = values["bring"].strip(), values["notes"].strip()
    return values, fields, errors


def _topic_label(topic: dict) -> str:
    return catalog.topic_title(topic, select_locale())


def _venue_label(venue: dict) -> str:
    return venue["name_ja"] if select_locale() == "ja" else venue["name_en"]


def _form_context(db, values: dict, errors: dict, **extra) -> dict:
    topics = [("", _("Choose a topic"))] + [(t["id"], _topic_label(t)) for t in catalog.list_topics(db)]
    venues = [("", _("Choose a venue"))] + [(v["id"], _venue_label(v)) for v in catalog.list_venues(db)]
    return {"values": values, "errors": _ordered(errors, SESSION_FIELDS), "topic_options": topics,
            "venue_options": venues, "repeat_options": REPEAT_OPTIONS, "scope_options": SCOPE_OPTIONS,
            "kind_options": [(k, KIND_LABELS[k]) for k in SESSION_KINDS], **extra}


@bp.route("/sessions/new", methods=["GET", "POST"])
@role_required("staff")
def session_new():
    db = get_db()
    if request.method == "GET":
        values = {name: "" for name in SESSION_FIELDS}
        values.update(kind="class", walkin_seats="0", helpers_min="1", helpers_max="3", loaner_phones="0",
                      repeat="none")
        return _render("session_form.html", **_form_context(db, values, {}), title=_("Add a class"))
    values, fields, errors = _read_session_form(request.form)
    repeat = values["repeat"] or "none"
    rule = None
    if repeat != "none":
        until = None
        if values["repeat_until"]:
            until = parse.date(values["repeat_until"])
            if until is None:
                errors["repeat_until"] = _("Enter the last date as a real date, like 2031-12-31.")
        if values["repeat_count"] and parse.whole(values["repeat_count"]) is None:
            errors["repeat_count"] = error_text("invalid_repeat_end")
        if "starts_at" in fields and "repeat_until" not in errors and "repeat_count" not in errors:
            try:
                rule = sessions.build_rule(repeat, fields["starts_at"], until=until,
                                           count=parse.whole(values["repeat_count"]))
            except DateCommunityError as exc:
                _library_error(errors, exc, SESSION_PARAM_FIELDS, SESSION_CODE_FIELDS)
    if not errors:
        try:
            if rule:
                created = sessions.add_series(db, rule=rule, actor=_actor(), **fields)
                flash(_("%(n)d classes have been added.", n=len(created["session_ids"])))
                return redirect(url_for("staff.session_detail", session_id=created["session_ids"][0]))
            session_id = sessions.add_session(db, actor=_actor(), **fields)
            flash(_("The class has been added."))
            return redirect(url_for("staff.session_detail", session_id=session_id))
        except DateCommunityError as exc:
            _library_error(errors, exc, SESSION_PARAM_FIELDS, SESSION_CODE_FIELDS)
    return _render("session_form.html", **_form_context(db, values, errors), title=_("Add a class"))


def _values_from_session(s: dict) -> dict:
    start, end = timeutil.parse(s["starts_at"]), timeutil.parse(s["ends_at"])
    return {"topic": str(s["topic_id"]), "venue": str(s["venue_id"]), "date": start.date().isoformat(),
            "start_time": start.strftime("%H:%M"), "end_time": end.strftime("%H:%M"), "kind": s["kind"],
            "seats": str(s["seats"]), "walkin_seats": str(s["walkin_seats"]),
            "helpers_min": str(s["helpers_min"]), "helpers_max": str(s["helpers_max"]),
            "loaner_phones": str(s["loaner_phones"]), "signup_opens": _local_input(s["signup_opens_at"]),
            "signup_closes": _local_input(s["signup_closes_at"]), "bring": s["bring"], "notes": s["notes"],
            "scope": "this"}


def _changed_fields(s: dict, fields: dict) -> dict:
    """Only what the form changed, so "this and later classes" does not copy
    untouched values (say, one class's extra seats) over the whole series."""
    current = {"topic": str(s["topic_id"]), "venue": str(s["venue_id"]), "starts_at": s["starts_at"],
               "ends_at": s["ends_at"], "signup_opens_at": s["signup_opens_at"],
               "signup_closes_at": s["signup_closes_at"]}
    changes = {}
    for key, value in fields.items():
        if key in ("starts_at", "ends_at", "signup_opens_at", "signup_closes_at"):
            new = timeutil.iso(value) if value else None
        else:
            new = value
        old = current.get(key, s.get(key))
        if new != old:
            changes[key] = value
    return changes


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@role_required("staff")
def session_edit(session_id: int):
    db = get_db()
    s = _session_or_404(session_id)
    if s["status"] == "cancelled":
        flash(error_text("session_cancelled"))
        return redirect(url_for("staff.session_detail", session_id=session_id))
    title = _("Change a class")
    if request.method == "GET":
        return _render("session_form.html", **_form_context(db, _values_from_session(s), {}, edited=s),
                       title=title)
    values, fields, errors = _read_session_form(request.form)
    scope = values["scope"] or "this"
    if s["series_id"] is None:
        scope = "this"
    if scope not in ("this", "following"):
        errors["scope"] = error_text("invalid_scope")
    if not errors:
        changes = _changed_fields(s, fields)
        if not changes:
            flash(_("Nothing was changed."))
            return redirect(url_for("staff.session_detail", session_id=session_id))
        try:
            changed = sessions.update_session(db, session_id, actor=_actor(), scope=scope, **changes)
        except DateCommunityError as exc:
            _library_error(errors, exc, SESSION_PARAM_FIELDS, SESSION_CODE_FIELDS)
        else:
            flash(_("%(n)d classes have been changed.", n=len(changed)) if len(changed) > 1
                  else _("The class has been changed."))
            return redirect(url_for("staff.session_detail", session_id=session_id))
    return _render("session_form.html", **_form_context(db, values, errors, edited=s), title=title)


# --- sessions: detail and cancel --------------------------------------------------------

@bp.get("/sessions/<int:session_id>")
@role_required("staff")
def session_detail(session_id: int):
    db = get_db()
    s = _session_or_404(session_id)
    booked = bookings.session_bookings(db, session_id, actor=_actor())
    helpers = shifts.session_shifts(db, session_id)
    promoted = parse.arg_id("promoted")
    return _render("session_detail.html", s=s, bookings=booked, helpers=helpers, promoted=promoted,
                   format_phone=people.format_phone, title=s[f"title_{select_locale()}"] or s["title_ja"])


@bp.route("/sessions/<int:session_id>/cancel", methods=["GET", "POST"])
@role_required("staff")
def session_cancel(session_id: int):
    s = _session_or_404(session_id)
    if s["status"] == "cancelled":
        flash(error_text("session_cancelled"))
        return redirect(url_for("staff.session_detail", session_id=session_id))
    values = {"scope": "this", "reason": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {"scope": request.form.get("scope", "this") if s["series_id"] else "this",
                  "reason": request.form.get("reason", "").strip()}
        try:
            cancelled = sessions.cancel_session(get_db(), session_id, actor=_actor(), scope=values["scope"],
                                                reason=values["reason"])
        except DateCommunityError as exc:
            _library_error(errors, exc, {}, {"invalid_scope": "scope"})
        else:
            flash(_("%(n)d classes have been cancelled.", n=len(cancelled)) if len(cancelled) > 1
                  else _("The class has been cancelled."))
            if s["confirmed"] or s["waitlisted"]:
                flash(_("Please phone the people who were booked to tell them. They are listed below."))
            return redirect(url_for("staff.session_detail", session_id=session_id))
    return _render("session_cancel.html", s=s, values=values, errors=errors, scope_options=SCOPE_OPTIONS,
                   title=_("Cancel a class"))


# --- booking a resident on their behalf --------------------------------------------------

BOOK_FIELDS = ("q", "resident_id", "source", "override_reason")
# The rules staff may override, worded for staff rather than for residents.
OVERRIDE_MESSAGES = {
    "signup_closed": _l("Sign-up for this class has closed. To book anyway, enter the reason."),
    "signup_not_open": _l("Sign-up for this class has not opened yet. To book anyway, enter the reason."),
    "overlapping_booking": _l("This person is already booked on another class at the same time. "
                              "To book anyway, enter the reason."),
}


def _resident_label(r: dict) -> str:
    if r["phone"]:
        return _("%(name)s (%(kana)s), phone %(phone)s", name=r["name_kanji"], kana=r["name_kana"],
                 phone=people.format_phone(r["phone"]))
    return _("%(name)s (%(kana)s), no phone", name=r["name_kanji"], kana=r["name_kana"])


@bp.route("/sessions/<int:session_id>/book", methods=["GET", "POST"])
@role_required("staff")
def session_book(session_id: int):
    """Find a resident and book them.  The search words are personal data, so
    they travel in the POST body, never in the URL."""
    db = get_db()
    s = _session_or_404(session_id)
    values = {"q": "", "resident_id": "", "source": "phone", "override_reason": ""}
    errors: dict[str, str] = {}
    results = None
    if request.method == "POST":
        values.update({k: request.form.get(k, "").strip() for k in BOOK_FIELDS if k in request.form})
        if not values["q"]:
            errors["q"] = _("Enter the furigana or the phone number to search for.")
        else:
            results = people.find_residents(db, values["q"], actor=_actor())
        if request.form.get("action") == "book":
            resident_id = parse.record_id(values["resident_id"])
            if resident_id is None:
                errors["resident_id"] = _("Choose the person to book.")
            if values["source"] not in BOOKING_SOURCES:
                errors["source"] = error_text("invalid_source")
            if not errors:
                try:
                    result = bookings.book_seat(db, session_id, resident_id, source=values["source"],
                                                actor=_actor(), override_reason=values["override_reason"] or None)
                except DateCommunityError as exc:
                    if exc.code in OVERRIDE_MESSAGES:
                        errors["override_reason"] = str(OVERRIDE_MESSAGES[exc.code])
                    _library_error(errors, exc, {}, {
                        "already_booked": "resident_id", "resident_not_found": "resident_id",
                        "invalid_source": "source", "override_reason_required": "override_reason"})
                else:
                    if result["status"] == "confirmed":
                        flash(_("Booked. The booking reference is %(ref)s.", ref=result["reference"]))
                    else:
                        flash(_("The class is full, so the person is on the waiting list at number %(n)d. "
                                "The booking reference is %(ref)s.", n=result["position"], ref=result["reference"]))
                    return redirect(url_for("staff.session_detail", session_id=session_id))
    options = [(r["id"], _resident_label(r)) for r in results or []]
    return _render("book.html", s=s, values=values, errors=_ordered(errors, BOOK_FIELDS), results=results,
                   options=options, source_options=[(k, SOURCE_LABELS[k]) for k in BOOKING_SOURCES],
                   format_phone=people.format_phone, title=_("Book a resident"))


def _booking_of_session(session_id: int, booking_id: int) -> dict:
    try:
        booking = bookings.get_booking(get_db(), booking_id)
    except NotFound:
        abort(404)
    if booking["session_id"] != session_id:
        abort(404)
    return booking


@bp.post("/sessions/<int:session_id>/bookings/<int:booking_id>/move")
@role_required("staff")
def booking_move(session_id: int, booking_id: int):
    booking = _booking_of_session(session_id, booking_id)
    step = {"up": -1, "down": 1}.get(request.form.get("direction", ""))
    if step is None or booking["position"] is None:
        abort(400)
    try:
        bookings.move_in_waitlist(get_db(), booking_id, booking["position"] + step, actor=_actor())
    except DateCommunityError as exc:
        flash(error_text(exc))
    else:
        flash(_("The waiting list has been changed."))
    return redirect(url_for("staff.session_detail", session_id=session_id) + "#waiting-list")


@bp.post("/sessions/<int:session_id>/bookings/<int:booking_id>/cancel")
@role_required("staff")
def booking_cancel(session_id: int, booking_id: int):
    _booking_of_session(session_id, booking_id)
    try:
        result = bookings.cancel_booking(get_db(), booking_id, actor=_actor())
    except DateCommunityError as exc:
        flash(error_text(exc))
        return redirect(url_for("staff.session_detail", session_id=session_id))
    flash(_("The booking has been cancelled."))
    if result["promoted"]:
        # The name is not put in the flash message: that travels in the cookie.
        flash(_("The first person on the waiting list now has a seat. They are marked in the list below: "
                "please phone them."))
        return redirect(url_for("staff.session_detail", session_id=session_id, promoted=result["promoted"]))
    return redirect(url_for("staff.session_detail", session_id=session_id))


# --- venues ---------------------------------------------------------------------------

VENUE_FIELDS = ("slug", "name_ja", "name_en", "district", "address", "seats", "lat", "lon", "coord_quality",
                "barrier_free", "source_url")
_SLUG = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


@bp.get("/venues")
@role_required("staff")
def venues_list():
    return _render("venues.html", venues=catalog.list_venues(get_db()), title=_("Venues"))


def _venue_form(venue: dict | None):
    db = get_db()
    is_new = venue is None
    title = _("Add a venue") if is_new else _("Change a venue")
    if request.method == "GET":
        values = {k: ("" if (venue or {}).get(k) is None else str(venue[k])) for k in VENUE_FIELDS}
        values["coord_quality"] = values["coord_quality"] if values["coord_quality"] in ("sourced", "approx") \
            else "sourced"
        values["seats"] = values["seats"] or "0"
        return _venue_page(values, {}, venue, title)
    values = {k: request.form.get(k, "").strip() for k in VENUE_FIELDS}
    values["barrier_free"] = request.form.get("barrier_free", "").strip()
    if not is_new:
        values["slug"] = venue["slug"]  # the code others refer to never changes here
    errors: dict[str, str] = {}
    if is_new:
        if not _SLUG.match(values["slug"]):
            errors["slug"] = _("Enter a short code in small letters, digits and hyphens, like city-hall.")
        else:
            try:
                catalog.get_venue(db, values["slug"])
                errors["slug"] = error_text("duplicate_code")
            except NotFound:
                pass
    if not values["name_ja"]:
        errors["name_ja"] = _("Enter the venue's name in Japanese.")
    if not values["name_en"]:
        errors["name_en"] = _("Enter the venue's name in English.")
    if values["district"] not in DISTRICTS:
        errors["district"] = error_text("invalid_district")
    if parse.whole(values["seats"]) is None:
        errors["seats"] = _("Enter the number of seats as a whole number, like 30.")
    coords = {}
    for name, limit, message in (("lat", 90, _("Enter the latitude as a number, like 37.8191.")),
                                 ("lon", 180, _("Enter the longitude as a number, like 140.5629."))):
        if not values[name]:
            coords[name] = None
            continue
        coords[name] = parse.decimal(values[name], limit=limit)
        if coords[name] is None:
            errors[name] = str(message)
    if not errors and (coords["lat"] is None) != (coords["lon"] is None):
        missing = "lat" if coords["lat"] is None else "lon"
        errors[missing] = _("Enter both the latitude and the longitude, or neither.")
    if values["coord_quality"] not in ("sourced", "approx"):
        values["coord_quality"] = "sourced"
    if not errors:
        try:
            catalog.upsert_venue(db, actor=_actor(), **{**values, **coords})
        except DateCommunityError as exc:
            _library_error(errors, exc, {}, {"invalid_name": "name_ja", "invalid_district": "district",
                                             "invalid_seats": "seats"})
        else:
            flash(_("The venue has been saved."))
            return redirect(url_for("staff.venues_list"))
    return _venue_page(values, _ordered(errors, VENUE_FIELDS), venue, title)


def _venue_page(values, errors, venue, title):
    return _render("venue_form.html", values=values, errors=errors, venue=venue, title=title,
                   district_options=[(d, d) for d in DISTRICTS], coord_options=COORD_OPTIONS)


@bp.route("/venues/new", methods=["GET", "POST"])
@role_required("staff")
def venue_new():
    return _venue_form(None)


@bp.route("/venues/<int:venue_id>/edit", methods=["GET", "POST"])
@role_required("staff")
def venue_edit(venue_id: int):
    try:
        venue = catalog.get_venue(get_db(), venue_id)
    except NotFound:
        abort(404)
    return _venue_form(venue)


# --- topics ---------------------------------------------------------------------------

TITLE_FIELDS = tuple(f"title_{lang}" for lang in catalog.LANGS)
TOPIC_FIELDS = ("code", "sort_order", *TITLE_FIELDS)
TITLE_LABELS = {"title_ja": _l("Title in Japanese"), "title_en": _l("Title in English"),
                "title_zh_Hans": _l("Title in Simplified Chinese"),
                "title_zh_Hant": _l("Title in Traditional Chinese"), "title_ko": _l("Title in Korean")}
TITLE_MISSING = {"title_ja": _l("Enter the title in Japanese."), "title_en": _l("Enter the title in English."),
                 "title_zh_Hans": _l("Enter the title in Simplified Chinese."),
                 "title_zh_Hant": _l("Enter the title in Traditional Chinese."),
                 "title_ko": _l("Enter the title in Korean.")}
TITLE_LANG = {"title_ja": "ja", "title_en": "en", "title_zh_Hans": "zh-Hans", "title_zh_Hant": "zh-Hant",
              "title_ko": "ko"}


@bp.get("/topics")
@role_required("staff")
def topics_list():
    return _render("topics.html", topics=catalog.list_topics(get_db()), title=_("Topics"))


def _topic_form(topic: dict | None):
    db = get_db()
    is_new = topic is None
    title = _("Add a topic") if is_new else _("Change a topic")
    if request.method == "GET":
        values = {k: ("" if (topic or {}).get(k) is None else str(topic[k])) for k in TOPIC_FIELDS}
        values["sort_order"] = values["sort_order"] or "0"
        return _topic_page(values, {}, topic, title)
    values = {k: request.form.get(k, "").strip() for k in TOPIC_FIELDS}
    if not is_new:
        values["code"] = topic["code"]
    errors: dict[str, str] = {}
    if is_new:
        if not _SLUG.match(values["code"]):
            errors["code"] = _("Enter a short code in small letters, digits and hyphens, like basics.")
        else:
            try:
                catalog.get_topic(db, values["code"])
                errors["code"] = error_text("duplicate_code")
            except NotFound:
                pass
    if parse.whole(values["sort_order"]) is None:
        errors["sort_order"] = _("Enter the place in the list as a whole number, like 10.")
    for name in TITLE_FIELDS:
        if not values[name]:
            errors[name] = str(TITLE_MISSING[name])
    if not errors:
        try:
            catalog.upsert_topic(db, code=values["code"], sort_order=parse.whole(values["sort_order"]),
                                 titles={lang: values[f"title_{lang}"] for lang in catalog.LANGS}, actor=_actor())
        except DateCommunityError as exc:
            _library_error(errors, exc, {"code": "code"}, {"invalid_name": "title_ja"})
        else:
            flash(_("The topic has been saved."))
            return redirect(url_for("staff.topics_list"))
    return _topic_page(values, _ordered(errors, TOPIC_FIELDS), topic, title)


def _topic_page(values, errors, topic, title):
    return _render("topic_form.html", values=values, errors=errors, topic=topic, title=title,
                   title_fields=TITLE_FIELDS, title_labels=TITLE_LABELS, title_lang=TITLE_LANG)


@bp.route("/topics/new", methods=["GET", "POST"])
@role_required("staff")
def topic_new():
    return _topic_form(None)


@bp.route("/topics/<int:topic_id>/edit", methods=["GET", "POST"])
@role_required("staff")
def topic_edit(topic_id: int):
    try:
        topic = catalog.get_topic(get_db(), topic_id)
    except NotFound:
        abort(404)
    return _topic_form(topic)


# --- volunteers -------------------------------------------------------------------------

VOLUNTEER_FIELDS = ("name", "name_kana", "email", "phone", "skills", "devices", "username", "password")
VOLUNTEER_PARAM_FIELDS = {"username": "username", "password": "password"}
VOLUNTEER_CODE_FIELDS = {"invalid_name": "name", "invalid_kana": "name_kana", "invalid_email": "email",
                         "duplicate_email": "email", "invalid_phone": "phone", "invalid_device": "devices",
                         "duplicate_code": "username"}
VOLUNTEER_DEVICES = tuple(d for d in DEVICES if d != "none")


def _volunteer_or_404(volunteer_id: int) -> dict:
    try:
        return accounts.get_volunteer_account(get_db(), volunteer_id)
    except NotFound:
        abort(404)


def _password_error(errors: dict[str, str], exc: DateCommunityError) -> None:
    if exc.code != "password_too_short" and exc.params.get("field") == "password":
        errors["password"] = error_text(exc)  # too common, like the user name …
    elif exc.params.get("field") == "password":
        errors["password"] = _("Enter a password of at least %(n)d characters, or leave it blank to make one.",
                               n=accounts.MIN_PASSWORD_LENGTH)


@bp.get("/volunteers")
@role_required("staff")
def volunteers_list():
    db = get_db()
    topics = {t["code"]: t for t in catalog.list_topics(db)}
    return _render("volunteers.html", volunteers=accounts.list_volunteer_accounts(db), topics=topics,
                   title=_("Volunteers"))


@bp.route("/volunteers/new", methods=["GET", "POST"])
@role_required("staff")
def volunteer_new():
    db = get_db()
    topics = catalog.list_topics(db)
    title = _("Add a volunteer")
    values: dict = {k: "" for k in VOLUNTEER_FIELDS}
    values["skills"], values["devices"] = [], []
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {k: request.form.get(k, "").strip() for k in VOLUNTEER_FIELDS}
        values["skills"] = request.form.getlist("skills")
        values["devices"] = [d for d in request.form.getlist("devices") if d in VOLUNTEER_DEVICES]
        if not values["name"]:
            errors["name"] = _("Enter the volunteer's name.")
        if not values["email"]:
            errors["email"] = _("Enter the volunteer's email address, like name@example.jp.")
        if not values["username"]:
            errors["username"] = _("Enter a user name for logging in.")
        generated = not values["password"]
        password = accounts.generate_password() if generated else values["password"]
        if not errors:
            try:
                accounts.create_volunteer_account(
                    db, username=values["username"], password=password, actor=_actor(), name=values["name"],
                    name_kana=values["name_kana"], email=values["email"], phone=values["phone"] or None,
                    skills=[code for code in values["skills"] if any(t["code"] == code for t in topics)],
                    devices=values["devices"])
            except DateCommunityError as exc:
                _password_error(errors, exc)
                _library_error(errors, exc, VOLUNTEER_PARAM_FIELDS, VOLUNTEER_CODE_FIELDS)
            else:
                if generated:
                    # Shown once, in this response only: never stored, flashed or put in a URL.
                    return render_template("staff/account_result.html", username=values["username"], password=password,
                                   title=_("Volunteer added"))
                flash(_("The volunteer has been added. They can log in with the password you typed."))
                return redirect(url_for("staff.volunteers_list"))
        values["password"] = ""  # a typed password is never sent back in the page
    return _render("volunteer_form.html", values=values, errors=_ordered(errors, VOLUNTEER_FIELDS), topics=topics,
                   devices=VOLUNTEER_DEVICES, title=title)


@bp.post("/volunteers/<int:volunteer_id>/active")
@role_required("staff")
def volunteer_active(volunteer_id: int):
    _volunteer_or_404(volunteer_id)
    if request.form.get("active") not in ("0", "1"):
        abort(400)
    active = request.form["active"] == "1"
    try:
        accounts.set_volunteer_account_active(get_db(), volunteer_id, active, actor=_actor())
    except DateCommunityError as exc:
        flash(error_text(exc))
    else:
        flash(_("The volunteer can log in again.") if active
              else _("The volunteer has been made inactive and can no longer log in."))
    return redirect(url_for("staff.volunteers_list"))


@bp.route("/volunteers/<int:volunteer_id>/password", methods=["GET", "POST"])
@role_required("staff")
def volunteer_password(volunteer_id: int):
    volunteer = _volunteer_or_404(volunteer_id)
    errors: dict[str, str] = {}
    title = _("Reset a volunteer's password")
    if volunteer["user_id"] is None:
        errors["_form"] = _("This volunteer has no login, so there is no password to reset.")
    elif request.method == "POST":
        typed = request.form.get("password", "").strip()
        password = typed or accounts.generate_password()
        try:
            accounts.set_password(get_db(), volunteer["user_id"], password, actor=_actor())
        except DateCommunityError as exc:
            _password_error(errors, exc)
            _library_error(errors, exc, VOLUNTEER_PARAM_FIELDS, {})
        else:
            return render_template("staff/account_result.html", username=volunteer["username"],
                           password=None if typed else password, title=_("Password changed"))
    return _render("volunteer_password.html", volunteer=volunteer, errors=errors, title=title)
