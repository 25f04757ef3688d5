"""Public pages for residents and their families: no account needed.

Residents find a class, read what to expect, sign up (or a family member
signs up for them) and cancel with their booking reference and phone number.
Every rule lives in the library; these views check the form, call it and
render the answer.
"""
from __future__ import annotations

import datetime as dt

import flask
from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from date_community import timeutil
from date_community.errors import DateCommunityError, NotFound
from date_community.schema import DISTRICTS
from date_community.scheduling import bookings, catalog, sessions, signup

from .database import get_db
from .locale import select_locale
from .messages import error_text
from .pagecache import cached_page
from .throttle import cancel_throttle

bp = Blueprint("public", __name__)

# How far ahead the class list looks: about three months.
LIST_DAYS = 92
HOME_LIMIT = 6

# District names in the page's language; the stored value is the Japanese name.
# ("Date area" is the district of Date town, not a calendar date.)
DISTRICT_NAMES = {
    "伊達": _l("Date area"),
    "梁川": _l("Yanagawa area"),
    "保原": _l("Hobara area"),
    "霊山": _l("Ryozen area"),
    "月舘": _l("Tsukidate area"),
}

KIND_NAMES = {
    "class": _l("Class"),
    "consultation": _l("One-to-one consultation"),
    "drop-in": _l("Drop-in help desk"),
}

DEVICE_CHOICES = (
    ("none", _l("No mobile phone")),
    ("iphone", _l("iPhone")),
    ("android", _l("Android smartphone")),
    ("rakuraku", _l("Raku-Raku smartphone (らくらくスマホ)")),
    ("feature_phone", _l("Mobile phone that is not a smartphone (feature phone)")),
)

FILLED_BY_CHOICES = (
    ("self", _l("The person who will take the class")),
    ("family", _l("A family member, for them")),
)

SIGNUP_FIELDS = ("name_kanji", "name_kana", "phone", "birth_year", "device", "filled_by")

# Library error codes that belong to one field of the sign-up form.
SIGNUP_FIELD_FOR_CODE = {
    "invalid_name": "name_kanji",
    "invalid_kana": "name_kana",
    "invalid_phone": "phone",
    "invalid_birth_year": "birth_year",
    "invalid_device": "device",
    "consent_required": "consent",
}


def _session_or_404(session_id: int) -> dict:
    try:
        return sessions.get_session(get_db(), session_id)
    except NotFound:
        abort(404)


def _topic_title(session: dict) -> str:
    return catalog.topic_title(session, select_locale())


@bp.app_context_processor
def public_names():
    return {"district_names": DISTRICT_NAMES, "kind_names": KIND_NAMES}


@bp.get("/")
@cached_page()
def home():
    upcoming = sessions.list_sessions(get_db(), start=timeutil.now(), limit=HOME_LIMIT)
    return render_template("public/home.html", sessions=upcoming, title=_("Smartphone classes in Date City"))


@bp.get("/classes")
@cached_page()
def classes():
    db = get_db()
    topics = catalog.list_topics(db)
    district = request.args.get("district", "")
    topic = request.args.get("topic", "")
    # An unknown value (an old link, a typo) means "no filter", not an error page.
    if district not in DISTRICTS:
        district = ""
    if topic not in {t["code"] for t in topics}:
        topic = ""
    start = timeutil.now()
    found = sessions.list_sessions(db, start=start, end=start + dt.timedelta(days=LIST_DAYS), topic=topic or None,
                                   district=district or None)
    locale = select_locale()
    district_options = [("", _("All areas"))] + [(d, str(DISTRICT_NAMES[d])) for d in DISTRICTS]
    topic_options = [("", _("All topics"))] + [(t["code"], catalog.topic_title(t, locale)) for t in topics]
    return render_template("public/classes.html", sessions=found, district=district, topic=topic,
                           district_options=district_options, topic_options=topic_options,
                           filtered=bool(district or topic), title=_("Classes"))


@bp.get("/classes/<int:session_id>")
@cached_page()
def class_detail(session_id: int):
    session = _session_or_404(session_id)
    return render_template("public/class_detail.html", s=session, state=signup.signup_state(session),
                           title=_topic_title(session))


@bp.route("/classes/<int:session_id>/signup", methods=["GET", "POST"])
def signup_form(session_id: int):
    session = _session_or_404(session_id)
    form = {name: "" for name in SIGNUP_FIELDS}
    consent = False
    errors: dict[str, str] = {}
    if request.method == "POST":
        g.personal_data = True  # the page may show back what was typed
        form = {name: request.form.get(name, "").strip() for name in SIGNUP_FIELDS}
        if form["filled_by"] not in dict(FILLED_BY_CHOICES):
            form["filled_by"] = ""
        consent = request.form.get("consent") == "yes"
        fields = {"name_kanji": form["name_kanji"], "name_kana": form["name_kana"], "phone": form["phone"],
                  "birth_year": form["birth_year"], "device": form["device"]}
        problems = signup.validate(**fields, consent=consent)
        errors = {field: error_text(code) for field, code in problems.items()}
        if not errors:
            actor = "web:family" if form["filled_by"] == "family" else "web"
            try:
                result = signup.sign_up(get_db(), session_id, **fields, consent=consent, source="web", actor=actor)
            except DateCommunityError as exc:
                errors = {SIGNUP_FIELD_FOR_CODE.get(exc.code, "_signup"): error_text(exc)}
            else:
                flask.session["last_booking"] = result["booking_id"]
                return redirect(url_for("public.signup_done"))
    return render_template("public/signup.html", s=session, state=signup.signup_state(session), form=form,
                           consent=consent, errors=errors, device_choices=DEVICE_CHOICES,
                           filled_by_choices=FILLED_BY_CHOICES,
                           title=_("Sign up: %(topic)s", topic=_topic_title(session)))


def _booking_from_session(key: str) -> dict | None:
    """The booking whose id an earlier POST left in the session, if it still exists.

    Result pages read the id from the session rather than the URL, so a
    reference never travels in a link or an access log.
    """
    booking_id = flask.session.get(key)
    if not booking_id:
        return None
    try:
        booking = signup.booking_summary(get_db(), booking_id)
    except NotFound:
        flask.session.pop(key, None)
        return None
    g.personal_data = True
    return booking


@bp.get("/signup/done")
def signup_done():
    booking = _booking_from_session("last_booking")
    if booking is None:
        return redirect(url_for("public.classes"))
    title = _("You are on the waiting list") if booking["status"] == "waitlisted" else _("You are booked")
    return render_template("public/signup_done.html", b=booking, s=booking["session"], title=title)


@bp.route("/cancel", methods=["GET", "POST"])
def cancel():
    form = {"reference": "", "phone": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        g.personal_data = True
        form = {name: request.form.get(name, "").strip() for name in form}
        # Per address and reference, and per address across references:
        # guessing works by varying the reference (webapp/throttle.py).
        throttle = cancel_throttle()
        wait = throttle.wait_seconds(form["reference"])
        if wait:
            errors = {"reference": _("Too many wrong attempts. Please wait %(seconds)d seconds and try again, "
                                     "or phone the desk.", seconds=wait)}
            return (render_template("public/cancel.html", form=form, errors=errors, title=_("Cancel a booking")),
                    429, {"Retry-After": str(wait)})
        if not form["reference"]:
            errors["reference"] = _("Enter your booking reference, like K7M-4PX.")
        if not form["phone"]:
            errors["phone"] = _("Enter the phone number you gave when you signed up.")
        if not errors:
            try:
                result = bookings.cancel_by_reference(get_db(), form["reference"], form["phone"])
            except DateCommunityError as exc:
                if exc.code == "invalid_reference":
                    throttle.failed(form["reference"])
                    errors = {"reference": error_text(exc)}
                else:
                    errors = {"_cancel": error_text(exc)}
            else:
                throttle.succeeded(form["reference"])
                flask.session["cancelled_booking"] = result["booking_id"]
                return redirect(url_for("public.cancel_done"))
    return render_template("public/cancel.html", form=form, errors=errors, title=_("Cancel a booking"))


@bp.get("/cancel/done")
def cancel_done():
    booking = _booking_from_session("cancelled_booking")
    if booking is None:
        return redirect(url_for("public.cancel"))
    return render_template("public/cancel_done.html", b=booking, s=booking["session"],
                           title=_("Your booking is cancelled"))
