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
