"""QR-sign scans: counting, privacy, the /q landing URL and the sign-health alert."""
from __future__ import annotations

import datetime as dt
import re
import threading

import pytest

from conftest import db_snapshot
from date_community import db as dbmod, timeutil
from date_community.errors import NotFound, ValidationError
from date_community.tourism import scans, sites

DAY = dt.date(2031, 4, 7)

SITES = (  # slug, code, names
    ("ryozen-jo", "DT05", {"ja": "霊山城跡", "en": "Ryozen Castle Ruins", "ko": "료젠성 터"}),
    ("yanagawa-jo", "DT07", {"ja": "梁川城跡", "en": "Yanagawa Castle Ruins"}),
    ("kyu-kameoka", "DT04", {"ja": "旧亀岡家住宅"}),
)


def add_site(db, slug: str, code: str, names: dict, sort_order: int) -> int:
    return sites.save_site(db, {
        "slug": slug, "code": code, "marker_id": int(code[2:]), "categories": ["history"], "district": "霊山",
        "sort_order": sort_order, "lat": 37.77, "lon": 140.68, "coord_quality": "sourced",
        "texts": {loc: {"name": name, "summary": "…"} for loc, name in names.items()}}, actor="test")


@pytest.fixture
def scan_sites(catalog_db):
    """Three sites, by slug → id, in the test database the web app uses too."""
    return {slug: add_site(catalog_db, slug, code, names, (i + 1) * 10)
            for i, (slug, code, names) in enumerate(SITES)}


def counts(db) -> dict:
    return {(r["site_id"], r["day"], r["locale"]): r["count"] for r in db.query("SELECT * FROM sign_scans")}


# --- counting -----------------------------------------------------------------------------

def test_scans_are_counted_per_site_day_and_language(catalog_db, scan_sites):
    a, b = scan_sites["ryozen-jo"], scan_sites["yanagawa-jo"]
    for _ in range(3):
        scans.record_scan(catalog_db, a, "ja", DAY)
    scans.record_scan(catalog_db, a, "en", DAY)
    scans.record_scan(catalog_db, a, "en", DAY + dt.timedelta(days=1))
    scans.record_scan(catalog_db, b, "zh_Hant", "2031-04-07")
    assert counts(catalog_db) == {
        (a, "2031-04-07", "ja"): 3, (a, "2031-04-07", "en"): 1, (a, "2031-04-08", "en"): 1,
        (b, "2031-04-07", "zh_Hant"): 1}


def test_the_day_defaults_to_today_in_tokyo(catalog_db, scan_sites):
    scans.record_scan(catalog_db, scan_sites["ryozen-jo"], "ko")
    assert list(counts(catalog_db)) == [(scan_sites["ryozen-jo"], timeutil.now().date().isoformat(), "ko")]


def test_concurrent_scans_lose_no_count(catalog_db, scan_sites, db_path):
    site_id = scan_sites["ryozen-jo"]
    threads_n, each = 6, 30
    errors = []

    def worker():
        conn = dbmod.connect(db_path, migrate=False)
        try:
            for _ in range(each):
                scans.record_scan(conn, site_id, "en", DAY)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert counts(catalog_db) == {(site_id, DAY.isoformat(), "en"): threads_n * each}


@pytest.mark.parametrize("site_key, locale, error, code", [
    ("ryozen-jo", "fr", ValidationError, "invalid_locale"),   # not one of the five languages
    ("ryozen-jo", "", ValidationError, "invalid_locale"),     # no language at all
    (None, "ja", NotFound, "site_not_found"),                 # a site id that does not exist
])
def test_bad_scans_are_refused(catalog_db, scan_sites, site_key, locale, error, code):
    site_id = scan_sites[site_key] if site_key else 9999
    with pytest.raises(error) as info:
        scans.record_scan(catalog_db, site_id, locale, DAY)
    assert info.value.code == code
    assert counts(catalog_db) == {}


def test_the_table_can_hold_nothing_but_counts(catalog_db):
    columns = {r["name"] for r in catalog_db.query("PRAGMA table_info(sign_scans)")}
    assert columns == {"site_id", "day", "locale", "count"}


def test_a_scan_through_the_web_stores_nothing_about_the_visitor(scan_sites, client, db_path):
    before = db_snapshot(db_path)
    client.set_cookie("tracker", "cookie-value-1234")
    response = client.get("/q/DT05", headers={
        "Accept-Language": "en-GB", "User-Agent": "Mozilla/5.0 (UniqueAgent-4711)",
        "X-Forwarded-For": "203.0.113.77"},
        environ_base={"REMOTE_ADDR": "198.51.100.23"})
    assert response.status_code == 302
    after = db_snapshot(db_path)
    changed = {t for t in after if after[t] != before.get(t)}
    assert changed == {"sign_scans"}
    rows = after["sign_scans"]
    assert len(rows) == 1
    site_id, day, locale, count = rows[0]
    assert (site_id, locale, count) == (scan_sites["ryozen-jo"], "en", 1)
    assert day == timeutil.now().date().isoformat()
    everything = repr(after)
    for trace in ("UniqueAgent", "203.0.113.77", "198.51.100.23", "cookie-value-1234"):
        assert trace not in everything


# --- the landing URL ----------------------------------------------------------------------

@pytest.mark.parametrize("path, headers, locale", [
    ("/q/DT05", {"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.8"}, "zh_Hant"),   # Taiwan → traditional
    ("/q/DT05", {"Accept-Language": "zh-HK"}, "zh_Hant"),                     # Hong Kong → traditional
    ("/q/DT05", {"Accept-Language": "zh-CN,zh;q=0.9"}, "zh_Hans"),            # mainland → simplified
    ("/q/DT05", {"Accept-Language": "ko-KR,ko;q=0.9,en-US;q=0.8"}, "ko"),     # Korean phone
    ("/q/DT05", {"Accept-Language": "en-US,en;q=0.9"}, "en"),                 # English phone
    ("/q/DT05", {"Accept-Language": "fr-FR,de;q=0.8"}, "ja"),                 # nothing supported → Japanese
    ("/q/DT05", {}, "ja"),                                                    # no header → Japanese
    ("/q/DT05?lang=ko", {"Accept-Language": "en"}, "ko"),                     # ?lang= beats the header
    ("/q/DT05", {"Accept-Language": "en", "lang-cookie": "zh_Hans"}, "zh_Hans"),  # a remembered choice beats it too
])
def test_a_scan_redirects_to_the_site_page_in_the_visitors_language(scan_sites, client, catalog_db, path,
                                                                    headers, locale):
    headers = dict(headers)
    if "lang-cookie" in headers:
        client.set_cookie("lang", headers.pop("lang-cookie"))
    response = client.get(path, headers=headers)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/sites/ryozen-jo?lang={locale}"
    assert response.headers["Cache-Control"] == "no-store"
    assert [(k[2], n) for k, n in counts(catalog_db).items()] == [(locale, 1)]


@pytest.mark.parametrize("typed", [
    "DT07",      # as printed
    "dt07",      # lower case
    "dt-07",     # with a hyphen
    "DT%2007",   # with a space
    "%EF%BC%A4%EF%BC%B4%EF%BC%90%EF%BC%97",  # full-width ＤＴ０７ from a Japanese keyboard
])
def test_typed_variants_of_a_code_find_the_sign(scan_sites, client, typed):
    response = client.get(f"/q/{typed}", headers={"Accept-Language": "ja"})
    assert response.headers.get("Location") == "/sites/yanagawa-jo?lang=ja"


@pytest.mark.parametrize("path", [
    "/q/DT05?lang=en",   # a language chosen on the landing URL is not remembered here
    "/q/DT05",           # a plain scan
    "/q/XX99?lang=en",   # the unknown-code page
    "/q?lang=ko",        # the code form
    "/q?code=dt05&lang=en",  # the form's answer
])
def test_the_landing_urls_set_no_cookie(scan_sites, client, path):
    response = client.get(path, headers={"Accept-Language": "en"})
    assert response.status_code in (200, 302, 404)
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_an_unknown_code_gets_a_friendly_page_in_the_visitors_language(scan_sites, client, catalog_db):
    response = client.get("/q/DT99", headers={"Accept-Language": "en-US"})
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "There is no sign with the code “DT99”" in html
    assert re.search(r'<form method="get" action="/q"', html)
    assert re.search(r'<input id="code" name="code"', html)
    for slug, code, names in SITES:
        assert f'href="/sites/{slug}"' in html
        assert names["en" if "en" in names else "ja"] in html
    assert counts(catalog_db) == {}


def test_the_unknown_code_page_in_japanese(scan_sites, client):
    response = client.get("/q/ZZ12", headers={"Accept-Language": "ja"})
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert '<html lang="ja">' in html
    assert 'href="/sites/ryozen-jo">霊山城跡</a>' in html


@pytest.mark.parametrize("query, status, location, error", [
    ("", 200, None, None),                                 # the empty form
    ("?code=", 200, None, "Enter the code printed on the sign"),  # submitted empty
    ("?code=%20-%20", 200, None, "Enter the code printed on the sign"),  # only spaces and a hyphen
    ("?code=%3Cscript%3E", 200, None, "A code has only letters and numbers"),  # not a code at all
    ("?code=dt-05", 302, "/q/DT05", None),                 # a code: on to the landing URL
    ("?code=DT05&lang=ko", 302, "/q/DT05?lang=ko", None),  # the page's language goes along
])
def test_the_code_form(scan_sites, client, query, status, location, error):
    response = client.get("/q" + query, headers={"Accept-Language": "en"})
    assert response.status_code == status
    assert response.headers.get("Location") == location
    html = response.get_data(as_text=True)
    if error:
        assert 'class="error-summary"' in html and error in html
        assert 'aria-invalid="true"' in html
    elif status == 200:
        assert 'class="error-summary"' not in html


# --- statistics -----------------------------------------------------------------------------

def test_scan_stats_total_by_site_day_and_language(catalog_db, scan_sites):
    a, b = scan_sites["ryozen-jo"], scan_sites["yanagawa-jo"]
    plan = [(a, "ja", 0), (a, "ja", 0), (a, "en", 1), (b, "ko", 2), (b, "ja", 5)]  # day 5 is outside
    for site_id, locale, offset in plan:
        scans.record_scan(catalog_db, site_id, locale, DAY + dt.timedelta(days=offset))
    stats = scans.scan_stats(catalog_db, DAY, DAY + dt.timedelta(days=2))
    assert stats["total"] == 4
    assert stats["days"] == ["2031-04-07", "2031-04-08", "2031-04-09"]
    assert stats["by_locale"] == {"ja": 2, "en": 1, "zh_Hans": 0, "zh_Hant": 0, "ko": 1}
    assert [(d["day"], d["total"]) for d in stats["by_day"]] == [("2031-04-07", 2), ("2031-04-08", 1),
                                                                  ("2031-04-09", 1)]
    by_site = {s["code"]: (s["total"], s["by_locale"]["ja"], s["name"]) for s in stats["by_site"]}
    assert by_site == {"DT05": (3, 2, "霊山城跡"), "DT07": (1, 0, "梁川城跡"), "DT04": (0, 0, "旧亀岡家住宅")}
    english = scans.scan_stats(catalog_db, DAY, DAY, locale="en")
    assert [s["name"] for s in english["by_site"]] == ["Ryozen Castle Ruins", "Yanagawa Castle Ruins", "旧亀岡家住宅"]


@pytest.mark.parametrize("start, end, code", [
    ("2031-04-10", "2031-04-09", "invalid_time_range"),    # the end before the start
    ("2030-01-01", "2031-04-09", "scan_period_too_long"),  # more than a year
    ("2031-02-30", "2031-04-09", "invalid_time"),          # not a real date
])
def test_scan_stats_refuses_bad_periods(catalog_db, start, end, code):
    with pytest.raises(ValidationError) as info:
        scans.scan_stats(catalog_db, start, end)
    assert info.value.code == code


# --- sign health ------------------------------------------------------------------------------

TODAY = dt.date(2031, 6, 30)


@pytest.mark.parametrize("history, expected", [
    # history: {slug: [days before TODAY with a scan]}; expected: {code: last scan (days before) or "never"}
    ({}, {}),                                                             # nothing scanned anywhere: no alert
    ({"ryozen-jo": [0], "yanagawa-jo": [3], "kyu-kameoka": [13]}, {}),   # all scanned inside 14 days
    ({"ryozen-jo": [0], "yanagawa-jo": [3], "kyu-kameoka": [14]},
     {"DT04": 14}),                                                       # 14 days ago is outside the window
    ({"ryozen-jo": [1], "yanagawa-jo": [20, 40]},
     {"DT07": 20, "DT04": "never"}),                                      # quiet since day 20; one never scanned
    ({"ryozen-jo": [20], "yanagawa-jo": [30]}, {}),                       # all quiet (winter): no alert
    ({"ryozen-jo": [-1], "yanagawa-jo": [2]},
     {"DT05": "never", "DT04": "never"}),                                 # a scan dated after today is ignored
])
def test_sign_health(catalog_db, scan_sites, history, expected):
    for slug, offsets in history.items():
        for offset in offsets:
            scans.record_scan(catalog_db, scan_sites[slug], "ja", TODAY - dt.timedelta(days=offset))
    quiet = scans.sign_health(catalog_db, TODAY)
    got = {s["code"]: s["last_scan"] for s in quiet}
    want = {code: None if last == "never" else (TODAY - dt.timedelta(days=last)).isoformat()
            for code, last in expected.items()}
    assert got == want


def test_sign_health_window_length_is_a_parameter(catalog_db, scan_sites):
    scans.record_scan(catalog_db, scan_sites["ryozen-jo"], "ja", TODAY)
    scans.record_scan(catalog_db, scan_sites["yanagawa-jo"], "ja", TODAY - dt.timedelta(days=5))
    scans.record_scan(catalog_db, scan_sites["kyu-kameoka"], "ja", TODAY - dt.timedelta(days=5))
    assert [s["code"] for s in scans.sign_health(catalog_db, TODAY, quiet_days=5)] == ["DT07", "DT04"]
    assert scans.sign_health(catalog_db, TODAY, quiet_days=6) == []


# --- buffered counting (the web app's path) ------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_the_buffer_writes_once_per_interval(catalog_db, scan_sites):
    clock = FakeClock()
    buffer = scans.ScanBuffer(2.0, clock=clock)
    a = scan_sites["ryozen-jo"]
    assert buffer.add(a, "ja", DAY) is False       # not due yet
    assert buffer.add(a, "ja", DAY) is False
    assert buffer.add(a, "en", DAY) is False
    assert counts(catalog_db) == {} and buffer.pending() == 3
    clock.now += 2.0
    assert buffer.add(a, "ja", DAY) is True        # the interval has passed: the caller flushes
    assert buffer.flush(catalog_db) == 4
    assert counts(catalog_db) == {(a, "2031-04-07", "ja"): 3, (a, "2031-04-07", "en"): 1}
    buffer.add(a, "ja", DAY)
    assert buffer.flush(catalog_db) == 1           # added to the stored count, not replacing it
    assert counts(catalog_db)[(a, "2031-04-07", "ja")] == 4


def test_a_failed_flush_keeps_the_counts(catalog_db, scan_sites):
    buffer = scans.ScanBuffer(0)
    buffer.add(scan_sites["ryozen-jo"], "ja", DAY)
    buffer.add(9999, "ja", DAY)                    # a site deleted since: the flush fails
    with pytest.raises(NotFound):
        buffer.flush(catalog_db)
    assert counts(catalog_db) == {} and buffer.pending() == 2


def test_the_sign_scans_front_door_sees_code_changes(catalog_db, scan_sites, db_path):
    counter = scans.SignScans(db_path, interval=0)
    assert counter.scan("dt-05", "ko", DAY)["slug"] == "ryozen-jo"
    assert counter.scan("DT09", "ko", DAY) is None
    new_id = add_site(catalog_db, "takako-numa", "DT09", {"ja": "高子沼"}, 40)  # committed by another connection
    assert counter.scan("DT09", "ko", DAY)["slug"] == "takako-numa"
    assert counts(catalog_db) == {(scan_sites["ryozen-jo"], "2031-04-07", "ko"): 1,
                                  (new_id, "2031-04-07", "ko"): 1}


def test_the_web_app_buffers_scans_when_asked_to(scan_sites, catalog_db, db_path):
    from webapp import create_app

    application = create_app({"TESTING": True, "DATABASE": str(db_path), "SECRET_KEY": "x",
                              "SCAN_FLUSH_SECONDS": 3600})
    client = application.test_client()
    for _ in range(3):
        assert client.get("/q/DT05").status_code == 302
    assert counts(catalog_db) == {}                 # held in memory …
    assert application.extensions["sign_scans"].flush() == 3
    assert sum(counts(catalog_db).values()) == 3    # … until the flush
