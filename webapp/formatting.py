"""Dates, times and numbers for templates, in the page's locale.

Japanese pages show the era date residents expect (令和8年12月3日（木）) with
the Western year beside it; other locales use Babel's full date format.
"""
from __future__ import annotations

from flask_babel import format_date, format_decimal, format_time, get_locale

from date_community import i18n, timeutil


def _locale() -> str:
    return str(get_locale())


def day(value) -> str:
    moment = timeutil.parse(value)
    if _locale() == "ja":
        return i18n.era_date(moment)
    return format_date(moment.date(), "full")


def day_with_year(value) -> str:
    moment = timeutil.parse(value)
    if _locale() == "ja":
        era, year = i18n.era_year(moment.date())
        weekday = i18n.WEEKDAYS_JA[moment.weekday()]
        return f"{era}{'元' if year == 1 else year}年（{moment.year}年）{moment.month}月{moment.day}日（{weekday}）"
    return format_date(moment.date(), "full")


def time(value) -> str:
    moment = timeutil.parse(value)
    return format_time(moment.timetz().replace(tzinfo=None), "HH:mm")


def time_range(start, end) -> str:
    return f"{time(start)}–{time(end)}" if _locale() != "ja" else f"{time(start)}〜{time(end)}"


def number(value) -> str:
    return format_decimal(value)


def register(app) -> None:
    app.jinja_env.filters.update(day=day, day_with_year=day_with_year, time=time, number=number)
    app.jinja_env.globals.update(time_range=time_range)
