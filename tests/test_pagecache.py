"""The rendered-page cache for anonymous visitors: fresh after every change."""
from __future__ import annotations

import re

from date_community.scheduling import bookings


def seats_left(html: str) -> str:
    return re.search(r"(\d+)[^<]*seats? left", html).group(1)


def test_a_repeat_visit_is_served_from_the_cache(app, client, make_session):
    make_session(seats=5)
    first = client.get("/classes?lang=en", headers={"Cookie": ""})
    store = app.extensions["page_cache"]
    assert any(key[0].startswith("/classes") for key in store)
    # Poison the stored copy: if the second response shows it, it came from the cache.
    key = next(k for k in store if k[0].startswith("/classes"))
    version, stamp, body = store[key]
    store[key] = (version, stamp, body.replace("Classes", "CACHED-COPY"))
    second = client.get("/classes?lang=en")
    assert 200 == first.status_code
    assert b"CACHED-COPY" in second.data


def test_a_booking_elsewhere_invalidates_the_cached_page(app, client, catalog_db, make_session, make_resident):
    sid = make_session(seats=5)
    before = client.get(f"/classes/{sid}?lang=en").get_data(as_text=True)
    bookings.book_seat(catalog_db, sid, make_resident(), source="phone", actor="t")
    after = client.get(f"/classes/{sid}?lang=en").get_data(as_text=True)
    assert "5" == seats_left(before)
    assert "4" == seats_left(after)


def test_languages_are_cached_separately(client, make_session):
    make_session()
    assert 'lang="ja"' in client.get("/classes?lang=ja").get_data(as_text=True)
    assert 'lang="ko"' in client.get("/classes?lang=ko").get_data(as_text=True)
    assert 'lang="ja"' in client.get("/classes?lang=ja").get_data(as_text=True)


def test_logged_in_users_never_get_the_shared_copy(app, client, staff_client, make_session):
    make_session()
    client.get("/classes?lang=en")
    page = staff_client.get("/classes?lang=en").get_data(as_text=True)
    assert "Log out" in page
    assert "Log out" not in client.get("/classes?lang=en").get_data(as_text=True)


def test_a_change_seen_from_another_thread_still_invalidates(app, client, catalog_db, make_session, make_resident):
    # Each server thread checks freshness on its own connection; a page stored by
    # one thread must not be served by another after the data changed.
    import threading

    sid = make_session(seats=5)
    pages = []

    def visit():
        pages.append(seats_left(app.test_client().get(f"/classes/{sid}?lang=en").get_data(as_text=True)))

    for _ in range(3):  # three threads, three connections with their own counters
        thread = threading.Thread(target=visit)
        thread.start()
        thread.join()
        bookings.book_seat(catalog_db, sid, make_resident(), source="phone", actor="t")
    visit()
    assert ["5", "4", "3", "2"] == pages


def test_writes_no_public_page_shows_keep_the_cached_copy(app, client, sites_db):
    # A QR scan, a login or an audit row changes nothing a visitor sees.
    from date_community import audit
    from date_community.tourism import scans

    client.get("/sites/ryozen?lang=en")
    store = app.extensions["page_cache"]
    key = next(k for k in store if k[0].startswith("/sites/ryozen"))
    version, stamp, body = store[key]
    store[key] = (version, stamp, body.replace("Mount Ryozen", "CACHED-COPY"))
    site_id = sites_db.execute("SELECT id FROM tourism_sites WHERE slug = 'ryozen'").fetchone()[0]
    scans.record_scan(sites_db, site_id, "en", "2031-04-07")
    audit.record(sites_db, "t", "view", "resident", 1)
    assert b"CACHED-COPY" in client.get("/sites/ryozen?lang=en").data


def test_every_table_a_public_page_reads_counts_changes(catalog_db):
    from date_community import schema

    tables = {row[0] for row in catalog_db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    triggered = {row[0] for row in catalog_db.execute("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger'")}
    assert tables - schema.UNCOUNTED_TABLES == triggered
    before = catalog_db.execute("SELECT n FROM page_version").fetchone()[0]
    catalog_db.execute("UPDATE venues SET seats = seats + 1")
    assert catalog_db.execute("SELECT n FROM page_version").fetchone()[0] > before
