"""Staff pages for the QR signs: printing them and the scan statistics."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from date_community import timeutil
from date_community.tourism import scans
from test_tourism_scans import SITES, add_site


@pytest.fixture
def sign_sites(catalog_db):
    return {slug: add_site(catalog_db, slug, code, names, (i + 1) * 10)
            for i, (slug, code, names) in enumerate(SITES)}


PAGES = ["/staff/signs", "/staff/signs/scans", "/staff/signs/download?site=ryozen-jo&size=A4"]


@pytest.mark.parametrize("path", PAGES)
def test_only_staff_may_open_the_sign_pages(sign_sites, client, volunteer_client, staff_client, path):
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    assert volunteer_client.get(path).status_code == 403
    assert staff_client.get(path).status_code == 200


def test_the_dashboard_links_to_the_sign_pages(staff_client):
    html = staff_client.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/signs"' in html and 'href="/staff/signs/scans"' in html


def test_the_sign_list_offers_both_sizes_per_site(sign_sites, staff_client):
    html = staff_client.get("/staff/signs", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for slug, code, _ in SITES:
        for size in ("A4", "A3"):
            assert f'href="/staff/signs/download?site={slug}&amp;size={size}"' in html
    assert "Download sign (A3)" in html


@pytest.mark.parametrize("query, status", [
    ("?site=ryozen-jo&size=A3", 200),  # a real site and size
    ("?site=ryozen-jo", 200),          # A4 when no size is given
    ("?site=nowhere&size=A4", 404),    # no such site
    ("?site=ryozen-jo&size=B5", 400),  # no such size
    ("", 400),                         # nothing asked for
])
def test_sign_download(sign_sites, staff_client, query, status):
    response = staff_client.get("/staff/signs/download" + query)
    assert response.status_code == status
    if status == 200:
        assert response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF")
        size = "A3" if "A3" in query else "A4"
        assert response.headers["Content-Disposition"] == f'attachment; filename="DT05-ryozen-jo-{size}.pdf"'


def test_the_scan_page_draws_a_chart_and_tables_of_the_period(sign_sites, catalog_db, staff_client):
    today = timeutil.now().date()
    a, b = sign_sites["ryozen-jo"], sign_sites["yanagawa-jo"]
    for locale, site_id, back in [("ja", a, 0), ("ja", a, 0), ("en", a, 1), ("ko", b, 2), ("zh_Hant", b, 40)]:
        scans.record_scan(catalog_db, site_id, locale, today - dt.timedelta(days=back))
    response = staff_client.get("/staff/signs/scans", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    svg = re.search(r"<svg class=\"scan-chart\".*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and "<title id=\"scan-chart-title\">" in svg and "<desc id=\"scan-chart-desc\">" in svg
    # one stacked piece per (day, language) with scans in the last 30 days: the 40-day-old one is outside
    pieces = re.findall(r'<rect x="[0-9.]+" y="[0-9.]+" width="[0-9.]+" height="([0-9.]+)" '
                        r'fill="url\(#scan-fill-([a-zA-Z_]+)\)"', svg)
    assert sorted(loc for _, loc in pieces) == ["en", "ja", "ko"]
    heights = {loc: float(h) for h, loc in pieces}
    assert heights["ja"] == pytest.approx(2 * heights["en"])  # two scans stand twice as tall as one
    assert "Total scans: 4" in html
    # the text alternative: tables per place, per language and per day
    assert re.search(r'<td class="nowrap">DT05</td><th scope="row">Ryozen Castle Ruins</th><td>3</td>', html)
    assert re.search(r'<th scope="row" lang="ko">한국어</th><td>1</td>', html)
    assert html.count('<th scope="row" class="nowrap">') == 30  # one row per day


def test_the_scan_page_period_can_be_chosen_and_is_checked(sign_sites, catalog_db, staff_client):
    scans.record_scan(catalog_db, sign_sites["ryozen-jo"], "en", "2031-04-07")
    html = staff_client.get("/staff/signs/scans?from=2031-04-01&to=2031-04-10").get_data(as_text=True)
    assert html.count('<th scope="row" class="nowrap">') == 10
    assert 'fill="url(#scan-fill-en)"' in html
    bad = staff_client.get("/staff/signs/scans?from=2031-04-10&to=2031-04-01",
                           headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'class="error-summary"' in bad and 'href="#to"' in bad and "<svg" not in bad
    typo = staff_client.get("/staff/signs/scans?from=April", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'href="#from"' in typo and "Enter a real date" in typo


def test_the_health_alert_heads_both_pages(sign_sites, catalog_db, staff_client):
    today = timeutil.now().date()
    scans.record_scan(catalog_db, sign_sites["ryozen-jo"], "ja", today - dt.timedelta(days=20))
    scans.record_scan(catalog_db, sign_sites["yanagawa-jo"], "ja", today)
    scans.record_scan(catalog_db, sign_sites["kyu-kameoka"], "ja", today - dt.timedelta(days=2))
    for path in ("/staff/signs", "/staff/signs/scans"):
        html = staff_client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
        alert = re.search(r'<div class="warning-panel sign-health".*?</div>', html, re.S).group(0)
        assert "No scans for 14 days at DT05 Ryozen Castle Ruins while other signs were scanned" in alert
        assert "DT07" not in alert and "DT04" not in alert
        assert html.index("sign-health") < html.index("<table")


def test_no_alert_when_every_sign_is_in_use(sign_sites, catalog_db, staff_client):
    today = timeutil.now().date()
    for site_id in sign_sites.values():
        scans.record_scan(catalog_db, site_id, "ja", today)
    assert "sign-health" not in staff_client.get("/staff/signs/scans").get_data(as_text=True)
