"""The signed-in user's own account: changing one's password.

Staff and volunteers alike type their current password first, so a browser
left signed in cannot be used to take the account over.  The browser that
made the change stays signed in; every other session of the account ends.
"""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from date_community import accounts, passwords
from date_community.errors import DateCommunityError

from .auth import home_for
from .database import get_db
from .messages import error_text
from .security import no_store
from .throttle import login_throttle

bp = Blueprint("account", __name__)
FIELDS = ("current_password", "password", "password_again")


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    errors: dict[str, str] = {}
    if request.method == "POST":
        # Passwords are taken as typed: spaces count, nothing is stripped.
        current, new, again = (request.form.get(k, "") for k in FIELDS)
        # A signed-in browser left open must not become a way to guess the
        # password: wrong current passwords count as failed logins for the name.
        throttle = login_throttle()
        username = current_user.row["username"]
        wait = throttle.wait_seconds(username)
        if wait:
            message = _("Too many failed attempts. Please wait %(seconds)d seconds and try again.", seconds=wait)
            return no_store(make_response(render_template(
                "account/password.html", errors={"current_password": message}, min_length=passwords.MIN_LENGTH,
                title=_("Change your password")), 429, {"Retry-After": str(wait)}))
        if not current:
            errors["current_password"] = _("Enter your current password.")
        if not new:
            errors["password"] = _("Enter a new password.")
        elif new != again:
            errors["password_again"] = _("The two new passwords are not the same. Type the new password again.")
        if not errors:
            try:
                accounts.change_own_password(get_db(), current_user.row["id"], current, new,
                                             keep_token=current_user.token)
            except DateCommunityError as exc:
                if exc.code == "wrong_password":
                    throttle.failed(username)
                field = exc.params.get("field") if exc.params.get("field") in FIELDS else "password"
                errors[field] = error_text(exc)
            else:
                flash(_("Your password has been changed. You are still logged in here; "
                        "anywhere else, you will need to log in again."))
                return redirect(home_for(current_user))
    errors = {k: errors[k] for k in FIELDS if k in errors}  # summary in the order of the form
    return no_store(make_response(render_template("account/password.html", errors=errors,
                                                  min_length=passwords.MIN_LENGTH, title=_("Change your password"))))
