"""Logging in and out, and the role checks every protected view uses."""
from __future__ import annotations

import datetime as dt
from functools import wraps

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_user, logout_user

from date_community import accounts

from .database import get_db
from .extensions import login_manager
from .security import safe_next
from .throttle import login_throttle

bp = Blueprint("auth", __name__)


class User(UserMixin):
    def __init__(self, row: dict, token: str):
        self.row = row
        self.token = token
        self.role = row["role"]
        self.volunteer_id = row["volunteer_id"]
        self.username = row["username"]

    def get_id(self) -> str:
        # Flask-Login keeps this id in the session cookie: it is the random
        # server-side session token, not the user id, so logout can revoke it.
        return self.token

    @property
    def actor(self) -> str:
        return f"user:{self.row['id']}"


def session_limits() -> dict:
    """The staff and volunteer session limits from the settings (residents' pages have none)."""
    return {"idle": dt.timedelta(hours=current_app.config["SESSION_IDLE_HOURS"]),
            "max_age": dt.timedelta(days=current_app.config["SESSION_MAX_DAYS"])}


@login_manager.user_loader
def load_user(token: str):
    # An expired session is deleted here and the browser is treated as logged out.
    row = accounts.user_for_login_session(get_db(), token, **session_limits())
    return User(row, token) if row else None


def role_required(role: str):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if current_user.role != role:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def home_for(user) -> str:
    return url_for("staff.index") if user.role == "staff" else url_for("volunteer.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    errors: dict[str, str] = {}
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        throttle = login_throttle()
        wait = throttle.wait_seconds(username)
        if wait:
            message = _("Too many failed attempts. Please wait %(seconds)d seconds and try again.", seconds=wait)
            return render_template("auth/login.html", errors={"username": message}, username=username,
                                   title=_("Log in")), 429, {"Retry-After": str(wait)}
        if not username:
            errors["username"] = _("Enter your user name.")
        if not password:
            errors["password"] = _("Enter your password.")
        if not errors:
            row = accounts.authenticate(get_db(), username, password)
            if row is None:
                throttle.failed(username)
                errors["password"] = _("The user name or password is not right. Check them and try again.")
            else:
                throttle.succeeded(username)
                session.clear()  # a fresh session on login (no fixation)
                token = accounts.start_login_session(get_db(), row["id"], **session_limits())
                user = User(row, token)
                login_user(user)
                return redirect(safe_next(request.args.get("next"), home_for(user)))
    return render_template("auth/login.html", errors=errors, username=username, title=_("Log in"))


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        accounts.end_login_session(get_db(), current_user.token)
    logout_user()
    session.clear()
    flash(_("You have logged out."))
    return redirect(url_for("public.home"))
