"""Behind a proxy: forwarded headers (TRUSTED_PROXIES), the Host check and absolute links (BASE_URL)."""
from __future__ import annotations

import csv
import io
import json

import pytest

from conftest import STAFF_PASSWORD, VOLUNTEER_PASSWORD
from date_community.tourism import sites
from webapp import create_app

BASE_URL = "https://date.example.jp"
EVIL = "evil.example"


@pytest.fixture
def make_app(app, db_path):
    """Another app on the same database (users and catalogue), with settings of the test's choosing."""
    def factory(**config):
        return create_app({"TESTING": True, "DATABASE": str(db_path), "SECRET_KEY": "test-secret",
                           "SESSION_COOKIE_SECURE": False, "WTF_CSRF_ENABLED": False, **config})
    return factory


@pytest.fixture
def a_site(catalog_db):
    sites.save_site(catalog_db, {"slug": "forward-test", "code": "DT96", "district": "保原", "lat": 37.8,
                                 "lon": 140.5, "coord_quality": "sourced",
                                 "texts": {"ja": {"name": "見本の観光地"}}}, actor="test")
    return "forward-test"


def fail_login(client, **kwargs):
    return client.post("/login", data={"username": "staff1", "password": "wrong"}, **kwargs)


def lock_out(client, **kwargs):
    for _ in range(5):
        assert 200 == fail_login(client, **kwargs).status_code
    assert 429 == fail_login(client, **kwargs).status_code


# --- forwarded headers ------------------------------------------------------------------------------

def test_without_trusted_proxies_forwarded_headers_are_ignored(make_app, a_site):
    app = make_app(TRUSTED_PROXIES=0)
    c = app.test_client()
    lock_out(c, headers={"X-Forwarded-For": "198.51.100.1"})
    # claiming another address does not get round the lockout
    assert 429 == fail_login(c, headers={"X-Forwarded-For": "198.51.100.2"}).status_code
    # nor do a forwarded scheme and host change the links
    body = c.get("/opendata/tourism.csv", headers={"X-Forwarded-Proto": "https",
                                                   "X-Forwarded-Host": EVIL}).get_data(as_text=True)
    assert EVIL not in body and "https://" not in body.split("forward-test")[0].rsplit("\n", 1)[-1]
    assert "http://localhost/sites/forward-test" in body


def test_one_trusted_proxy_gives_the_clients_address_scheme_and_host(make_app, a_site):
    app = make_app(TRUSTED_PROXIES=1)
    c = app.test_client()
    lock_out(c, headers={"X-Forwarded-For": "198.51.100.1"})
    # a different client behind the same proxy is not locked out
    response = c.post("/login", data={"username": "staff1", "password": STAFF_PASSWORD},
                      headers={"X-Forwarded-For": "198.51.100.2"})
    assert 302 == response.status_code
    body = app.test_client().get("/opendata/tourism.csv", headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": "kanko.example.jp", "X-Forwarded-Port": "8443",
    }).get_data(as_text=True)
    assert "https://kanko.example.jp:8443/sites/forward-test" in body


def test_only_the_trusted_hop_counts(make_app):
    # The client may send its own X-Forwarded-For; nginx appends the real
    # address, and with one trusted hop only that last one is believed.
    app = make_app(TRUSTED_PROXIES=1)
    c = app.test_client()
    lock_out(c, headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.1"})
    assert 429 == fail_login(c, headers={"X-Forwarded-For": "203.0.113.10, 198.51.100.1"}).status_code


# --- the Host check ---------------------------------------------------------------------------------

def test_with_base_url_only_its_host_is_answered(make_app):
    app = make_app(BASE_URL=BASE_URL)
    c = app.test_client()
    assert 200 == c.get("/classes", base_url="http://date.example.jp").status_code
    assert 200 == c.get("/classes", base_url="http://date.example.jp:8080").status_code  # the port is not checked
    response = c.get("/classes?lang=en", base_url=f"http://{EVIL}")
    assert 400 == response.status_code
    assert EVIL not in response.get_data(as_text=True)  # the forged host is not echoed
    # through the proxy, the forwarded host is what is checked
    proxied = make_app(BASE_URL=BASE_URL, TRUSTED_PROXIES=1).test_client()
    assert 400 == proxied.get("/classes", base_url="http://date.example.jp",
                              headers={"X-Forwarded-Host": EVIL}).status_code
    assert 200 == proxied.get("/classes", base_url="http://127.0.0.1:8000",
                              headers={"X-Forwarded-Host": "date.example.jp"}).status_code


def test_without_base_url_any_host_is_answered(app):
    assert 200 == app.test_client().get("/classes", base_url=f"http://{EVIL}").status_code


# --- absolute links come from BASE_URL --------------------------------------------------------------

ON_ITS_HOST = {"base_url": "http://date.example.jp:8080"}  # right host, wrong scheme and port


def test_open_data_links_come_from_base_url(make_app, a_site):
    c = make_app(BASE_URL=BASE_URL).test_client()
    tourism = c.get("/opendata/tourism.csv", **ON_ITS_HOST)
    assert f"{BASE_URL}/sites/forward-test" in tourism.get_data(as_text=True)
    assert ":8080" not in tourism.get_data(as_text=True)
    assert tourism.headers["Cache-Control"].startswith("public")
    geojson = json.loads(c.get("/api/sites.geojson", **ON_ITS_HOST).get_data(as_text=True))
    urls = [f["properties"].get("url") for f in geojson["features"]]
    assert f"{BASE_URL}/sites/forward-test" in urls


def test_calendar_feed_and_qr_links_come_from_base_url(make_app, a_site):
    app = make_app(BASE_URL=BASE_URL)
    volunteer = app.test_client()
    volunteer.post("/login", data={"username": "vol1", "password": VOLUNTEER_PASSWORD}, **ON_ITS_HOST)
    volunteer.post("/volunteer/calendar/renew", **ON_ITS_HOST)
    page = volunteer.get("/volunteer/calendar", **ON_ITS_HOST).get_data(as_text=True)
    assert "https://date.example.jp/calendar/" in page
    assert "webcal://date.example.jp/calendar/" in page
    assert ":8080" not in page
    staff = app.test_client()
    staff.post("/login", data={"username": "staff1", "password": STAFF_PASSWORD}, **ON_ITS_HOST)
    signs_page = staff.get("/staff/signs", **ON_ITS_HOST).get_data(as_text=True)
    assert f"{BASE_URL}/q/" in signs_page and ":8080" not in signs_page


# --- without BASE_URL, a forged Host must not reach what caches keep ------------------------------

@pytest.mark.parametrize("path", ["/opendata/tourism.csv", "/opendata/events.csv", "/api/sites.geojson"])
def test_open_data_built_from_a_forged_host_is_not_shared_by_caches(app, a_site, path):
    forged = app.test_client().get(path, base_url=f"http://{EVIL}")
    assert 200 == forged.status_code
    cache_control = forged.headers["Cache-Control"]
    assert "public" not in cache_control and "private" in cache_control
    assert "Host" in forged.headers["Vary"]
    # the next visitor's copy is built afresh, with no trace of the forged host
    honest = app.test_client().get(path)
    assert EVIL not in honest.get_data(as_text=True)


def test_the_file_without_links_stays_shareable(app, a_site):
    response = app.test_client().get("/opendata/tourism-i18n.csv", base_url=f"http://{EVIL}")
    assert response.headers["Cache-Control"].startswith("public")


@pytest.mark.parametrize("path", ["/", "/classes", "/sites/forward-test", "/sites", "/opendata"])
def test_cached_pages_never_hold_a_forged_host(app, a_site, path):
    first = app.test_client().get(path, base_url=f"http://{EVIL}", headers={"X-Forwarded-Host": EVIL})
    assert first.status_code == 200
    assert EVIL not in first.get_data(as_text=True)
    second = app.test_client().get(path)  # served from the page cache where the page is cached
    assert EVIL not in second.get_data(as_text=True)


def test_the_events_file_reads_back(app, a_site):
    # the CSV stays a well-formed table with its BOM (the cache headers did not touch the body)
    data = app.test_client().get("/opendata/events.csv").get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows and rows[0]


def test_the_page_cache_never_stores_a_page_that_embeds_the_request_host(catalog_db, db_path):
    from flask import render_template_string, request

    from webapp.pagecache import cached_page

    app = create_app({"TESTING": True, "DATABASE": str(db_path), "SECRET_KEY": "x", "WTF_CSRF_ENABLED": False})
    calls = []

    @app.get("/embeds-host")
    @cached_page()
    def embeds_host():
        calls.append(1)
        return render_template_string("<a href='{{ url }}'>here</a>", url=request.host_url + "classes")

    @app.get("/plain")
    @cached_page()
    def plain():
        calls.append(2)
        return "<p>the same for everyone</p>"

    forged = app.test_client().get("/embeds-host", base_url=f"http://{EVIL}")
    assert EVIL in forged.get_data(as_text=True)  # this response, to the forger, may say what it likes
    honest = app.test_client().get("/embeds-host")
    assert EVIL not in honest.get_data(as_text=True)
    assert calls == [1, 1]
    # a page without the host is still shared
    app.test_client().get("/plain", base_url=f"http://{EVIL}")
    app.test_client().get("/plain")
    assert calls == [1, 1, 2]
