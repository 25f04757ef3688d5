"""Languages: choosing the locale, <html lang>, the language switcher, Japanese
era dates and complete translation catalogues."""
from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import Flask, request

from date_community import i18n, timeutil
from conftest import rule_url
from webapp import formatting

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("ja", "en", "zh_Hans", "zh_Hant", "ko")
HTML_LANG = {"ja": "ja", "en": "en", "zh_Hans": "zh-Hans", "zh_Hant": "zh-Hant", "ko": "ko"}
SWITCHER = {"日本語": "ja", "English": "en", "简体中文": "zh-Hans", "繁體中文": "zh-Hant", "한국어": "ko"}


def html_lang(response) -> str:
    match = re.search(r'<html[^>]*\blang="([^"]*)"', response.get_data(as_text=True))
    assert match, "no <html lang> on the page"
    return match.group(1)


# --- choosing the locale ------------------------------------------------------------------------

def test_lang_parameter_beats_cookie_beats_header_beats_default(client):
    client.set_cookie("lang", "ko")
    assert "en" == html_lang(client.get("/?lang=en", headers={"Accept-Language": "zh-TW"}))
    client.set_cookie("lang", "ko")
    assert "ko" == html_lang(client.get("/", headers={"Accept-Language": "zh-TW"}))
    client.delete_cookie("lang")
    assert "zh-Hant" == html_lang(client.get("/", headers={"Accept-Language": "zh-TW"}))
    assert "ja" == html_lang(client.get("/"))


def test_lang_parameter_is_remembered(client):
    response = client.get("/classes?lang=zh_Hans")
    assert "zh-Hans" == html_lang(response)
    assert "zh_Hans" == client.get_cookie("lang").value
    assert "zh-Hans" == html_lang(client.get("/"))  # no parameter, no header: the cookie decides


@pytest.mark.parametrize("value", ["xx", "de", "", "../../etc"])  # unknown, unsupported, empty, hostile
def test_unknown_lang_parameter_is_ignored(client, value):
    response = client.get("/", query_string={"lang": value}, headers={"Accept-Language": "ko-KR"})
    assert "ko" == html_lang(response)
    assert client.get_cookie("lang") is None


@pytest.mark.parametrize("header, expected", [
    ("zh-TW", "zh-Hant"),                       # Taiwan
    ("zh-HK", "zh-Hant"),                       # Hong Kong
    ("zh-MO", "zh-Hant"),                       # Macau
    ("zh-Hant", "zh-Hant"),                     # script only
    ("zh-Hant-TW", "zh-Hant"),                  # script and region
    ("zh-CN", "zh-Hans"),                       # mainland China
    ("zh-SG", "zh-Hans"),                       # Singapore
    ("zh-Hans", "zh-Hans"),                     # script only
    ("zh", "zh-Hans"),                          # plain Chinese
    ("ko-KR", "ko"),                            # Korean
    ("en-US", "en"),                            # English
    ("fr", "ja"),                               # unsupported: the default
    ("fr-FR, en;q=0.5", "en"),                  # second choice supported
    ("en;q=0.3, zh-TW;q=0.9", "zh-Hant"),       # quality order, not list order
    ("*", "ja"),                                # anything: the default
])
def test_accept_language(client, header, expected):
    response = client.get("/", headers={"Accept-Language": header})
    assert expected == html_lang(response)
    assert "Accept-Language" in response.headers.get("Vary", "")


def test_werkzeug_best_match_cannot_map_chinese_regions():
    # Why date_community.i18n exists: the stock matcher compares tags literally.
    flask_app = Flask(__name__)
    with flask_app.test_request_context(headers={"Accept-Language": "zh-TW"}):
        assert request.accept_languages.best_match(["ja", "en", "zh_Hans", "zh_Hant", "ko"]) is None
    assert "zh_Hant" == i18n.negotiate("zh-TW")


# --- every page: <html lang> and the switcher ------------------------------------------------------

class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open = dict(attrs, text="")
            self.links.append(self._open)

    def handle_endtag(self, tag):
        if tag == "a":
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data


def switcher_links(html: str) -> list[dict]:
    parser = _Links()
    parser.feed(html)
    return [link for link in parser.links if "hreflang" in link]


def _pages(app, web_ids, clients):
    """(path, client) for every GET route, as the role that may see it, plus a 404."""
    out = [("/no-such-page", clients["anonymous"])]
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in rule.methods:
            continue
        path = rule_url(rule, web_ids)
        role = "staff" if path.startswith("/staff") else "volunteer" if path.startswith("/volunteer") else "anonymous"
        out.append((path, clients[role]))
    return out


@pytest.mark.parametrize("locale", LOCALES)
def test_every_page_has_the_right_lang_and_the_switcher(app, web_ids, client, staff_client, volunteer_client,
                                                         locale):
    clients = {"anonymous": client, "staff": staff_client, "volunteer": volunteer_client}
    checked, problems = [], []
    for path, c in _pages(app, web_ids, clients):
        response = c.get(path, query_string={"lang": locale})
        if response.mimetype != "text/html" or response.status_code not in (200, 404):
            continue  # feeds, downloads and redirects are not pages
        checked.append(path)
        html = response.get_data(as_text=True)
        if html_lang(response) != HTML_LANG[locale]:
            problems.append(f"{path}: <html lang={html_lang(response)!r}>")
        links = switcher_links(html)
        found = {link["text"].strip(): link["hreflang"] for link in links}
        if found != SWITCHER:
            problems.append(f"{path}: switcher {found}")
        for link in links:
            target = urlsplit(link.get("href", ""))
            wanted = next(code for code, tag in HTML_LANG.items() if tag == link["hreflang"])
            if target.path != path or parse_qs(target.query).get("lang") != [wanted]:
                problems.append(f"{path}: switcher link {link.get('href')!r} for {link['hreflang']}")
            if link.get("lang") != link["hreflang"]:
                problems.append(f"{path}: switcher link for {link['hreflang']} has lang={link.get('lang')!r}")
    assert [] == problems
    assert {"/", "/classes", "/login", "/no-such-page", "/staff/", "/volunteer/"} <= set(checked)


# --- Japanese era dates ----------------------------------------------------------------------------

@pytest.mark.parametrize("day, expected", [
    (dt.date(2019, 5, 1), "令和元年5月1日（水）"),           # first day of Reiwa: 元年
    (dt.date(2019, 4, 30), "平成31年4月30日（火）"),          # last day of Heisei
    (dt.date(2026, 12, 3), "令和8年12月3日（木）"),            # an ordinary class day
    (dt.date(2020, 1, 1), "令和2年1月1日（水）"),             # second year
    (dt.date(1989, 1, 7), "昭和64年1月7日（土）"),            # last day of Showa
    (dt.date(1989, 1, 8), "平成元年1月8日（日）"),            # first day of Heisei
    (dt.datetime(2026, 12, 3, 23, 30, tzinfo=timeutil.TZ), "令和8年12月3日（木）"),  # a datetime: its date
])
def test_era_date(day, expected):
    assert expected == i18n.era_date(day)


def test_era_date_without_weekday():
    assert "令和8年12月3日" == i18n.era_date(dt.date(2026, 12, 3), weekday=False)


def test_era_before_meiji_is_refused():
    with pytest.raises(ValueError):
        i18n.era_year(dt.date(1868, 1, 24))


@pytest.mark.parametrize("locale, expected", [
    ("ja", "令和8年12月3日（木）"),          # era date for Japanese readers
    ("en", "Thursday, December 3, 2026"),   # Babel's full format elsewhere
])
def test_day_filter_follows_the_page_locale(app, locale, expected):
    with app.test_request_context(f"/?lang={locale}"):
        assert expected == formatting.day("2026-12-03T10:00:00+09:00")


# --- complete translations ----------------------------------------------------------------------

KEYWORDS = dict(DEFAULT_KEYWORDS, _l=None, lazy_gettext=None, lazy_ngettext=(1, 2))


def extracted_msgids() -> set[tuple[str, str | None]]:
    """Every (msgid, context) the code uses right now, extracted as babel.cfg says."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")
    found = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=KEYWORDS):
        found.add((message[0] if isinstance(message, tuple) else message, context))
    return found


def test_extraction_finds_the_strings_it_should():
    # guards the extraction itself: from Python views, lazy strings and templates
    ids = {msgid for msgid, _ in extracted_msgids()}
    assert {"Log in", "We could not find that class.", "Skip to main content"} <= ids


def catalogue_problems(po_path: Path, locale: str, wanted: set[tuple[str, str | None]]) -> list[str]:
    """Everything wrong with one messages.po: empty or fuzzy entries, strings the
    code uses but the catalogue lacks, and placeholders or plurals that differ."""
    if not po_path.is_file():
        return [f"missing {po_path.name} for {locale}"]
    with open(po_path, "rb") as fh:
        catalog = read_po(fh, locale=locale)
    problems = []
    for message in catalog:
        if not message.id:
            continue  # the header
        strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        if not all(s and s.strip() for s in strings):
            problems.append(f"untranslated: {message.id!r}")
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
    for msgid, context in sorted(wanted, key=repr):
        if catalog.get(msgid, context) is None:
            problems.append(f"not in the catalogue: {msgid!r}")
    for message, errors in catalog.check():
        problems.append(f"does not match its msgid: {message.id!r}: {'; '.join(map(str, errors))}")
    return problems


@pytest.mark.parametrize("locale", LOCALES)
def test_translation_catalogue_is_complete(locale):
    po_path = ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"
    problems = catalogue_problems(po_path, locale, extracted_msgids())
    assert [] == problems, f"{len(problems)} problems in translations/{locale}"


_GOOD_PO = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\\n"
"Plural-Forms: nplurals=1; plural=0;\\n"

msgid "Log in"
msgstr "ログイン"

#, python-format
msgid "%(n)d seats left"
msgstr "残り%(n)d席"
"""


@pytest.mark.parametrize("extra, expected", [
    ("", None),                                                                     # complete: no problems
    ('msgid "Classes"\nmsgstr ""\n', "untranslated: 'Classes'"),                   # empty msgstr
    ('#, fuzzy\nmsgid "Home"\nmsgstr "ホーム"\n', "fuzzy: 'Home'"),                 # fuzzy entry
    ('#, python-format\nmsgid "Wait %(seconds)d s"\nmsgstr "%(secs)d 秒"\n',
     "does not match its msgid: 'Wait %(seconds)d s'"),                            # renamed placeholder
])
def test_catalogue_check_catches_problems(tmp_path, extra, expected):
    po = tmp_path / "messages.po"
    po.write_text(_GOOD_PO + "\n" + extra, encoding="utf-8")
    problems = catalogue_problems(po, "ja", {("Log in", None), ("%(n)d seats left", None)})
    if expected is None:
        assert [] == problems
    else:
        assert any(p.startswith(expected) for p in problems), problems


def test_catalogue_check_catches_a_new_string_in_the_code(tmp_path):
    po = tmp_path / "messages.po"
    po.write_text(_GOOD_PO, encoding="utf-8")
    assert ["not in the catalogue: 'A new sentence'"] == catalogue_problems(
        po, "ja", {("Log in", None), ("A new sentence", None)})
