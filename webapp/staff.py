"""The staff area: planning, residents, bookings, the day itself and records."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _

from .auth import role_required

bp = Blueprint("staff", __name__)


@bp.get("/")
@role_required("staff")
def index():
    return render_template("staff/index.html", title=_("Staff area"))


from . import staff_people  # noqa: E402,F401
from . import staff_planning  # noqa: E402,F401
from . import staff_signs  # noqa: E402,F401
from . import staff_forms  # noqa: E402,F401
from . import staff_tourism  # noqa: E402,F401
from . import staff_accounts  # noqa: E402,F401
