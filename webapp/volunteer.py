"""The volunteer area: my shifts, sessions that need helpers, my hours, my calendar feed."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from date_community import people, timeutil
from date_community.errors import DateCommunityError, NotFound
from date_community.scheduling import attendance, calendar, shifts

from . import fields as parse
from . import links
from .auth import role_required
from .database import get_db
from .locale import select_locale
from .messages import error_text

bp = Blueprint("volunteer", __name__)
# The calendar feed lives outside /volunteer: phone calendars fetch it without
# logging in, and the secret token in its address is the only key.
feed_bp = Blueprint("calendar_feed", __name__)
log = logging.getLogger(__name__)


def _role_options() -> list[tuple[str, str]]:
    return [("lead", _("Lead helper")), ("assistant", _("Assistant"))]


def _render_index(errors: dict[str, str] | None = None, status: int = 200):
    db = get_db()
    vid = current_user.volunteer_id
    upcoming = shifts.volunteer_shifts(db, vid, start=timeutil.now())
    hours = attendance.hours_summary(db, vid)
    return render_template("volunteer/index.html", shifts=upcoming, hours=hours, errors=errors or {},
                           title=_("My shifts")), status


@bp.get("/")
@role_required("volunteer")
def index():
    return _render_index()


def _render_sessions(errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                     status: int = 200):
    found = shifts.sessions_needing_helpers(get_db(), volunteer_id=current_user.volunteer_id)
    return render_template("volunteer/sessions.html", sessions=found, errors=errors or {}, values=values or {},
                           role_options=_role_options(), title=_("Sessions that need helpers")), status


@bp.get("/sessions")
@role_required("volunteer")
def sessions_page():
    return _render_sessions()


@bp.post("/shifts")
@role_required("volunteer")
def book():
    session_id = parse.form_id("session_id")
    if session_id is None:
        abort(400)
    # Each session's form has its own radio group name, so the ids on the list page stay unique.
    field = f"role-{session_id}"
    role = request.form.get(field, request.form.get("role", "")).strip()
    try:
        shifts.book_shift(get_db(), session_id, current_user.volunteer_id, role=role, actor=current_user.actor)
    except NotFound:
        abort(404)
    except DateCommunityError as exc:
        listed = {s["id"] for s in shifts.sessions_needing_helpers(get_db(), volunteer_id=current_user.volunteer_id)}
        # Point at the session's form when it is still on the page; otherwise
        # (now full, started or mine already) the message stands alone.
        key = field if session_id in listed else "_book"
        return _render_sessions({key: error_text(exc)}, {field: role}, 409 if exc.code != "invalid_role" else 400)
    flash(_("Thank you. You are booked to help at this session."))
    return redirect(url_for("volunteer.index"))


@bp.post("/shifts/<int:shift_id>/cancel")
@role_required("volunteer")
def cancel(shift_id: int):
    try:
        shifts.cancel_own_shift(get_db(), shift_id, current_user.volunteer_id, actor=current_user.actor,
                                cutoff_hours=current_app.config["SHIFT_CANCEL_CUTOFF_HOURS"])
    except NotFound:
        abort(404)
    except DateCommunityError as exc:
        return _render_index({"_cancel": error_text(exc)}, 409)
    flash(_("Your shift has been cancelled."))
    return redirect(url_for("volunteer.index"))


@bp.get("/sessions/<int:session_id>")
@role_required("volunteer")
def session_detail(session_id: int):
    try:
        view = shifts.session_for_volunteer(get_db(), session_id, current_user.volunteer_id,
                                            actor=current_user.actor)
    except NotFound:
        abort(404)
    return render_template("volunteer/session.html", view=view, s=view["session"],
                           title=view["session"]["title_" + select_locale()])


@bp.get("/calendar")
@role_required("volunteer")
def calendar_page():
    volunteer = people.get_volunteer(get_db(), current_user.volunteer_id)
    token = volunteer["calendar_token"]
    feed_url = links.external_url("calendar_feed.feed", token=token) if token else ""
    # webcal:// makes phones offer to subscribe instead of downloading the file once.
    webcal_url = "webcal://" + feed_url.split("://", 1)[1] if feed_url else ""
    return render_template("volunteer/calendar.html", feed_url=feed_url, webcal_url=webcal_url,
                           title=_("My calendar"))


@bp.post("/calendar/renew")
@role_required("volunteer")
def renew_calendar():
    people.renew_calendar_token(get_db(), current_user.volunteer_id, actor=current_user.actor)
    flash(_("Your calendar has a new address. The old address no longer works."))
    return redirect(url_for("volunteer.calendar_page"))


@feed_bp.get("/calendar/<token>.ics")
def feed(token: str):
    try:
        body = calendar.feed_for_token(get_db(), token)
    except NotFound:
        abort(404)
    except Exception as exc:
        # Handled here so that the app-wide handler, which logs the request
        # path, never writes the secret token to the log.
        log.error("calendar feed failed: %s", type(exc).__name__)
        abort(500)
    g.personal_data = True  # no-store: the feed is one person's schedule
    return Response(body, content_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": 'inline; filename="shifts.ics"'})
