"""The staff area: staff accounts (create, disable and enable, reset a password).

Volunteers' logins are managed with their volunteer record (staff_planning);
this page is for the accounts of city staff.  Each change goes through one
library function, which writes the audit log with the signed-in staff member
as the actor.  The last active staff account cannot be disabled: the library
refuses with ``last_staff_account``.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from date_community import accounts, passwords
from date_community.errors import DateCommunityError, NotFound

from .auth import role_required
from .database import get_db
from .messages import error_text
from .staff import bp


def _staff_user_or_404(user_id: int) -> dict:
    if user_id > 2**63 - 1:
        abort(404)  # beyond SQLite's integers: no such account
    try:
        user = accounts.get_user(get_db(), user_id)
    except NotFound:
        abort(404)
    if user["role"] != "staff":
        abort(404)  # volunteers' logins live on the volunteers page
    return user


def _render(template: str, **context):
    return render_template(f"staff/accounts/{template}", min_length=passwords.MIN_LENGTH, **context)


def _password_errors(errors: dict[str, str], exc: DateCommunityError) -> None:
    field = {"password": "password", "username": "username"}.get(str(exc.params.get("field", "")))
    if field is None and exc.code in ("invalid_name", "duplicate_code"):
        field = "username"
    errors.setdefault(field or "_form", error_text(exc))


@bp.get("/accounts")
@role_required("staff")
def staff_accounts():
    return _render("list.html", users=accounts.list_users(get_db(), role="staff"), me=current_user.row["id"],
                   title=_("Staff accounts"))


@bp.route("/accounts/new", methods=["GET", "POST"])
@role_required("staff")
def staff_account_new():
    errors: dict[str, str] = {}
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        typed = request.form.get("password", "")
        if not username:
            errors["username"] = _("Enter a user name for logging in.")
        password = typed or accounts.generate_password()
        if not errors:
            try:
                accounts.create_user(get_db(), username=username, password=password, role="staff",
                                     actor=current_user.actor)
            except DateCommunityError as exc:
                _password_errors(errors, exc)
            else:
                # A made-up password is shown once, in this response only: never stored, flashed or in a URL.
                return render_template("staff/account_result.html", staff_account=True, username=username,
                                       password=None if typed else password, title=_("Staff account added"))
    return _render("new.html", errors={k: errors[k] for k in ("username", "password", "_form") if k in errors},
                   username=username, title=_("Add a staff account"))


@bp.post("/accounts/<int:user_id>/active")
@role_required("staff")
def staff_account_active(user_id: int):
    user = _staff_user_or_404(user_id)
    if request.form.get("active") not in ("0", "1"):
        abort(400)
    active = request.form["active"] == "1"
    try:
        accounts.set_user_active(get_db(), user_id, active, actor=current_user.actor)
    except DateCommunityError as exc:
        flash(error_text(exc))
    else:
        flash(_("%(name)s can log in again.", name=user["username"]) if active
              else _("%(name)s can no longer log in, and has been logged out everywhere.", name=user["username"]))
    return redirect(url_for("staff.staff_accounts"))


@bp.route("/accounts/<int:user_id>/password", methods=["GET", "POST"])
@role_required("staff")
def staff_account_password(user_id: int):
    user = _staff_user_or_404(user_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        typed = request.form.get("password", "")
        password = typed or accounts.generate_password()
        try:
            accounts.set_password(get_db(), user_id, password, actor=current_user.actor,
                                  keep_token=current_user.token if user_id == current_user.row["id"] else None)
        except DateCommunityError as exc:
            _password_errors(errors, exc)
        else:
            return render_template("staff/account_result.html", staff_account=True, username=user["username"],
                                   password=None if typed else password, title=_("Password changed"))
    return _render("password.html", user=user, errors=errors, title=_("Reset a staff member's password"))
