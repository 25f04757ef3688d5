"""Locales, Accept-Language negotiation and Japanese era dates.

werkzeug's ``best_match`` and Babel's ``negotiate_locale`` return nothing for
``zh-TW`` when the supported locales are ``zh_Hans``/``zh_Hant``, because they
compare tags literally; Chinese tags are therefore mapped by region and script
here before matching.
"""
from __future__ import annotations

import datetime as dt

LOCALES = ("ja", "en", "zh_Hans", "zh_Hant", "ko")
DEFAULT_LOCALE = "ja"
HTML_LANG = {"ja": "ja", "en": "en", "zh_Hans": "zh-Hans", "zh_Hant": "zh-Hant", "ko": "ko"}
# Each language named in itself, for the switcher.
NATIVE_NAMES = {"ja": "日本語", "en": "English", "zh_Hans": "简体中文", "zh_Hant": "繁體中文", "ko": "한국어"}

_HANT_REGIONS = {"tw", "hk", "mo"}


def map_tag(tag: str) -> str | None:
    """One language tag (``zh-TW``, ``en-GB``, ``zh_Hant``, ``ko-KR``) → a supported locale or None."""
    parts = [p.lower() for p in tag.strip().replace("_", "-").split("-") if p]
    if not parts:
        return None
    lang = parts[0]
    if lang == "zh":
        rest = set(parts[1:])
        if "hant" in rest or rest & _HANT_REGIONS:
            return "zh_Hant"
        return "zh_Hans"  # zh, zh-CN, zh-SG, zh-Hans*
    for locale in LOCALES:
        if locale == lang:
            return locale
    return None


def parse_accept_language(header: str | None) -> list[tuple[str, float]]:
    out = []
    for index, item in enumerate((header or "").split(",")):
        piece = item.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        out.append((tag.strip(), quality, -index))
    out.sort(key=lambda t: (t[1], t[2]), reverse=True)
    return [(tag, q) for tag, q, _ in out if q > 0]


def negotiate(header: str | None) -> str | None:
    """The best supported locale for an Accept-Language header, or None."""
    for tag, _ in parse_accept_language(header):
        if tag == "*":
            continue
        locale = map_tag(tag)
        if locale:
            return locale
    return None


def normalize_locale(value: str | None) -> str | None:
    """A locale typed in a URL or cookie (``zh-Hant``, ``zh_hant``) → supported locale or None."""
    if not value:
        return None
    if value in LOCALES:
        return value
    return map_tag(value) if value.lower().replace("_", "-") in {
        "zh-hans", "zh-hant", "ja", "en", "ko"} else None


# --- Japanese era (和暦) -------------------------------------------------------
_ERAS = (  # (first day, name)
    (dt.date(2019, 5, 1), "令和"),
    (dt.date(1989, 1, 8), "平成"),
    (dt.date(1926, 12, 25), "昭和"),
    (dt.date(1912, 7, 30), "大正"),
    (dt.date(1868, 1, 25), "明治"),  # Meiji dates before 1873 used the old calendar; close enough for UI
)
WEEKDAYS_JA = "月火水木金土日"


def era_year(day: dt.date) -> tuple[str, int]:
    for start, name in _ERAS:
        if day >= start:
            return name, day.year - start.year + 1
    raise ValueError("date before the Meiji era")


def era_date(day: dt.date | dt.datetime, *, weekday: bool = True) -> str:
    """``令和8年12月3日（木）``: the first year of an era is written 元年."""
    if isinstance(day, dt.datetime):
        day = day.date()
    name, year = era_year(day)
    text = f"{name}{'元' if year == 1 else year}年{day.month}月{day.day}日"
    if weekday:
        text += f"（{WEEKDAYS_JA[day.weekday()]}）"
    return text
