"""Public pages for residents and their families: no account needed."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, render_template
from flask_babel import gettext as _

from date_community import timeutil
from date_community.errors import NotFound
from date_community.scheduling import sessions

from .database import get_db

bp = Blueprint("public", __name__)


@bp.get("/")
def home():
    upcoming = sessions.list_sessions(get_db(), start=timeutil.now(), limit=6)
    return render_template("public/home.html", sessions=upcoming, title=_("Smartphone classes in Date City"))


@bp.get("/classes")
def classes():
    start = timeutil.now()
    found = sessions.list_sessions(get_db(), start=start, end=start + dt.timedelta(days=92))
    return render_template("public/classes.html", sessions=found, title=_("Classes"))


@bp.get("/classes/<int:session_id>")
def class_detail(session_id: int):
    try:
        session = sessions.get_session(get_db(), session_id)
    except NotFound:
        abort(404)
    return render_template("public/class_detail.html", s=session, title=session["title_ja"])
