"""Times: always timezone-aware, stored as ISO 8601 with their offset.

Everything is stored in Asia/Tokyo.  Japan has no daylight saving time, so
every stored value carries ``+09:00`` and plain string comparison in SQL orders
times correctly (used by the overlap and listing queries).
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from .errors import ValidationError

TZ = ZoneInfo("Asia/Tokyo")


def now() -> dt.datetime:
    return dt.datetime.now(TZ).replace(microsecond=0)


def to_tokyo(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        # A naive time typed by staff in Date City means Tokyo time.
        value = value.replace(tzinfo=TZ)
    return value.astimezone(TZ)


def parse(value: str | dt.datetime | dt.date) -> dt.datetime:
    """Parse ISO 8601 (``2026-12-03T13:30``, with or without offset)."""
    if isinstance(value, dt.datetime):
        return to_tokyo(value)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), TZ)
    try:
        return to_tokyo(dt.datetime.fromisoformat(str(value).strip()))
    except ValueError as exc:
        raise ValidationError("invalid_time", value=str(value)[:40]) from exc


def parse_date(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return to_tokyo(value).date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ValidationError("invalid_time", value=str(value)[:40]) from exc


def iso(value: dt.datetime | str) -> str:
    """The canonical stored form: seconds precision with ``+09:00``."""
    return parse(value).replace(microsecond=0).isoformat()


def day_bounds(day: dt.date) -> tuple[str, str]:
    start = dt.datetime.combine(day, dt.time(), TZ)
    return start.isoformat(), (start + dt.timedelta(days=1)).isoformat()
