"""Staff: printing the QR signs, and what the scan counts say.

Registered on the ``staff`` blueprint (URLs under /staff).  The sign PDF is
made by the library; the scan chart is an SVG drawn on the server from the
library's totals, so it needs no script and prints with the page.
"""
from __future__ import annotations

import datetime as dt
import math

from flask import abort, make_response, render_template, request
from flask_babel import gettext as _

from date_community import i18n, timeutil
from date_community.errors import DateCommunityError, NotFound
from date_community.tourism import scans, signs, sites

from . import fields as parse
from . import links
from .auth import role_required
from .database import get_db
from .locale import select_locale
from .messages import error_text
from .signs import sign_scans
from .staff import bp

DEFAULT_DAYS = 30


def _base_url() -> str:
    """Where the QR codes point: the configured public address, else this site's own."""
    return links.base_url()


def _health() -> list[dict]:
    return scans.sign_health(get_db(), timeutil.now().date(), locale=select_locale())


@bp.get("/signs")
@role_required("staff")
def signs_list():
    return render_template("staff/signs/list.html", title=_("QR signs"),
                           sites=sites.list_sites(get_db(), select_locale(), include_unpublished=True),
                           sizes=tuple(signs.SIZES), base_url=_base_url(), health=_health(),
                           quiet_days=scans.QUIET_DAYS)


@bp.get("/signs/download")
@role_required("staff")
def sign_download():
    slug = request.args.get("site", "")
    size = request.args.get("size", "A4")
    if size not in signs.SIZES or not slug:
        abort(400)
    try:
        site = sites.get_site(get_db(), slug, "ja")
        pdf = signs.render_sign(get_db(), slug, size, _base_url())
    except NotFound:
        abort(404)
    except DateCommunityError as exc:
        return render_template("staff/signs/error.html", title=_("The sign could not be made"),
                               message=error_text(exc)), 500
    response = make_response(pdf)
    response.mimetype = "application/pdf"
    filename = signs.sign_filename(site["code"], site["slug"], size)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- scan statistics -------------------------------------------------------------------

CHART_W, CHART_H = 760, 300
PLOT = {"left": 56, "right": 12, "top": 16, "bottom": 56}
# One fill per language, each with its own pattern, so the stacks can be told
# apart without colour (printed in black and white, or by a colour-blind reader).
SERIES = {
    "ja": {"colour": "#0b5a3c", "pattern": "solid"},
    "en": {"colour": "#0a4fa6", "pattern": "stripes"},
    "zh_Hans": {"colour": "#8a4b00", "pattern": "dots"},
    "zh_Hant": {"colour": "#5b2c8f", "pattern": "cross"},
    "ko": {"colour": "#1b1b1b", "pattern": "bars"},
}


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 × 10^n at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover


def chart(stats: dict) -> dict:
    """Geometry of a stacked bar chart of scans per day, by language."""
    days = stats["by_day"]
    plot_w = CHART_W - PLOT["left"] - PLOT["right"]
    plot_h = CHART_H - PLOT["top"] - PLOT["bottom"]
    top = _nice_max(max((d["total"] for d in days), default=0))
    slot = plot_w / max(1, len(days))
    bar_w = max(1.0, slot * 0.75)
    bars = []
    for index, day in enumerate(days):
        x = PLOT["left"] + index * slot + (slot - bar_w) / 2
        base = PLOT["top"] + plot_h
        for locale in i18n.LOCALES:
            n = day["by_locale"][locale]
            if not n:
                continue
            height = plot_h * n / top
            base -= height
            bars.append({"x": round(x, 2), "y": round(base, 2), "w": round(bar_w, 2), "h": round(height, 2),
                         "locale": locale, "n": n, "day": day["day"]})
    ticks = [{"value": v, "y": round(PLOT["top"] + plot_h - plot_h * v / top, 2)}
             for v in sorted({0, top // 2 if top >= 2 else 0, top})]
    every = max(1, math.ceil(len(days) / 8))
    # Axis labels as month/day, read the same way in all five languages.
    labels = [{"x": round(PLOT["left"] + i * slot + slot / 2, 2), "day": d["day"],
               "text": f"{int(d['day'][5:7])}/{int(d['day'][8:10])}"}
              for i, d in enumerate(days) if i % every == 0]
    busiest = max(days, key=lambda d: d["total"]) if days else None
    return {"width": CHART_W, "height": CHART_H, "left": PLOT["left"], "right": CHART_W - PLOT["right"],
            "top": PLOT["top"], "bottom": PLOT["top"] + plot_h, "bars": bars, "ticks": ticks, "labels": labels,
            "series": SERIES, "busiest": busiest if busiest and busiest["total"] else None}


def _period_from_args() -> tuple[dict, dict]:
    """The period typed in the form (default: the last 30 days), and errors."""
    today = timeutil.now().date()
    values = {"from": request.args.get("from", "").strip(), "to": request.args.get("to", "").strip()}
    errors: dict[str, str] = {}
    parsed = {}
    defaults = {"from": today - dt.timedelta(days=DEFAULT_DAYS - 1), "to": today}
    for key in ("from", "to"):
        if not values[key]:
            parsed[key] = defaults[key]
            values[key] = parsed[key].isoformat()
            continue
        day = parse.date(values[key])
        if day is None:
            errors[key] = _("Enter a real date, like 2031-04-07.")
        else:
            parsed[key] = day
    return values, errors if errors else {"_parsed": parsed}


@bp.get("/signs/scans")
@role_required("staff")
def scan_stats():
    # Scans this process still holds in memory belong in the figures.
    sign_scans().flush()
    values, result = _period_from_args()
    stats = None
    errors = {k: v for k, v in result.items() if not k.startswith("_")}
    if not errors:
        parsed = result["_parsed"]
        try:
            stats = scans.scan_stats(get_db(), parsed["from"], parsed["to"], locale=select_locale())
        except DateCommunityError as exc:
            errors[str(exc.params.get("field") or "to")] = error_text(exc)
    return render_template("staff/signs/scans.html", title=_("Sign scans"), values=values, errors=errors,
                           stats=stats, chart=chart(stats) if stats else None, health=_health(),
                           quiet_days=scans.QUIET_DAYS)
