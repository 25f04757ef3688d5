"""One parser per kind of form field, and the bounded integer URL converter.

Views used to parse fields by hand (``int(...)``, ``type=int``, a private
``_whole`` or ``_parse_date`` in each module); an id of 2**63 then reached
SQLite, which stores integers in 64 bits, and the view answered 500.  Every
view now reads numbers, ids, dates and times through this module, so each
kind of field has one parser and one range.  A parser returns None for text
it cannot use; the view puts its own message beside the field, in the
GOV.UK-style error summary the forms already have.

Why not Flask-WTF form classes: the forms' templates, messages and error
order are built around plain dicts of values and errors, and rewriting every
form would not fit the time; this module gives the same "one place per field
type" with a change of a line or two per view.
"""
from __future__ import annotations

import datetime as dt
import math

from flask import request
from werkzeug.routing import IntegerConverter

from date_community import timeutil

# SQLite's INTEGER is a signed 64-bit number.
SQLITE_MAX_INT = 2**63 - 1


class BoundedInt(IntegerConverter):
    """``<int:...>`` that matches only 0 .. 2**63-1, so a larger id is a 404
    (no such URL) rather than an OverflowError in the database."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 (werkzeug's names)
        bound = SQLITE_MAX_INT if max is None or max > SQLITE_MAX_INT else max
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=bound, signed=signed)


def register(app) -> None:
    """Replace werkzeug's unbounded int converter; call before any blueprint is registered."""
    app.url_map.converters["int"] = BoundedInt


def whole(text, *, minimum: int = 0, maximum: int = SQLITE_MAX_INT) -> int | None:
    """A whole number typed in ASCII digits, within [minimum, maximum]; else None."""
    text = (text or "").strip() if isinstance(text, str) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if minimum <= number <= maximum else None


def record_id(text) -> int | None:
    """The id of a database row (1 .. 2**63-1), posted in a form or a query string; else None."""
    return whole(text, minimum=1)


def form_id(name: str) -> int | None:
    return record_id(request.form.get(name))


def arg_id(name: str) -> int | None:
    return record_id(request.args.get(name))


def arg_whole(name: str, default: int, *, minimum: int = 0, maximum: int = SQLITE_MAX_INT) -> int:
    value = whole(request.args.get(name), minimum=minimum, maximum=maximum)
    return default if value is None else value


def decimal(text, *, limit: float) -> float | None:
    """A decimal number such as a latitude (37.8191) within [-limit, limit]; else None."""
    try:
        number = float((text or "").strip())
    except (ValueError, TypeError):
        return None
    return number if math.isfinite(number) and -limit <= number <= limit else None


# Dates this service can mean.  Python accepts years 1 to 9999, but a week added
# to 9999-12-31 (a series, a list's end, the day after) overflows: a 500.
FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2999, 12, 31)


def date(text) -> dt.date | None:
    """A date typed as 2031-04-08, from 1900 to 2999; else None."""
    try:
        day = dt.date.fromisoformat((text or "").strip())
    except (ValueError, TypeError):
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


def time(text) -> dt.time | None:
    """A time typed as 13:30; else None."""
    try:
        return dt.time.fromisoformat((text or "").strip())
    except (ValueError, TypeError):
        return None


def local_datetime(text) -> dt.datetime | None:
    """A ``datetime-local`` value (2031-04-08T10:00) as Tokyo time, from 1900 to 2999; else None."""
    try:
        moment = dt.datetime.fromisoformat((text or "").strip())
    except (ValueError, TypeError):
        return None
    return timeutil.parse(moment) if FIRST_DAY <= moment.date() <= LAST_DAY else None
