"""The volunteer area: my shifts, sessions that need helpers, my hours, my calendar feed."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _

from .auth import role_required

bp = Blueprint("volunteer", __name__)


@bp.get("/")
@role_required("volunteer")
def index():
    return render_template("volunteer/index.html", title=_("My shifts"))
