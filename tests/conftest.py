"""Shared fixtures: every test gets a real SQLite file in its own tmp_path."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest

from date_community import content, db as dbmod, people, timeutil
from date_community.scheduling import sessions

# A fixed "now" well before the sessions the factories create, so that sign-up
# windows and cancellation cut-offs do not depend on the day the tests run.
BASE = dt.datetime(2031, 4, 7, 9, 0, tzinfo=timeutil.TZ)  # a Monday


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "test.db"


@pytest.fixture
def db(db_path):
    database = dbmod.connect(db_path)
    yield database
    database.close()


@pytest.fixture
def catalog_db(db):
    """A database with the real venues and topics from content/."""
    content.load_catalog(db)
    return db


_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    """Hash test passwords with a small argon2id (and legacy scrypt) cost.

    The cost parameters are stored inside each hash, so verification is the
    same code path; only the work factor differs.  Production keeps RFC 9106's
    low-memory profile: tests/test_accounts.py asserts
    ``accounts.PRODUCTION_ARGON2`` and ``accounts.PRODUCTION_SCRYPT_N``.
    """
    from date_community import accounts

    monkeypatch.setattr(accounts, "ARGON2_PARAMETERS", cheap_argon2())
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**10)


def cheap_argon2():
    """argon2id at the smallest cost (64 KiB, one pass), for tests only."""
    import dataclasses

    from date_community import accounts

    return dataclasses.replace(accounts.PRODUCTION_ARGON2, time_cost=1, memory_cost=64, parallelism=1)


@pytest.fixture
def make_session(catalog_db):
    """Create a session; ``day``/``hour`` are offsets from BASE, keyword
    arguments override the defaults."""

    def factory(*, day: int = 1, hour: float = 10, minutes: int = 90, seats: int = 10, **fields):
        start = BASE + dt.timedelta(days=day, hours=hour - 9)
        fields.setdefault("topic", "basics")
        fields.setdefault("venue", "city-hall")
        fields.setdefault("helpers_min", 1)
        fields.setdefault("helpers_max", 3)
        return sessions.add_session(catalog_db, starts_at=start, ends_at=start + dt.timedelta(minutes=minutes),
                                    seats=seats, **fields)

    return factory


@pytest.fixture
def make_resident(catalog_db):
    def factory(**fields):
        n = next(_counter)
        fields.setdefault("name_kanji", f"見本 {n}")
        fields.setdefault("name_kana", "みほん たろう")
        fields.setdefault("phone", f"090{n:08d}")
        fields.setdefault("source", "phone")
        return people.add_resident(catalog_db, **fields)

    return factory


@pytest.fixture
def make_volunteer(catalog_db):
    def factory(**fields):
        n = next(_counter)
        fields.setdefault("name", f"例 {n}")
        fields.setdefault("email", f"v{n}@example.org")
        return people.add_volunteer(catalog_db, **fields)

    return factory


# --- web app fixtures ----------------------------------------------------------

STAFF_PASSWORD = "staff-password-123"
VOLUNTEER_PASSWORD = "volunteer-password-123"


@pytest.fixture
def app(catalog_db, db_path):
    """The Flask app on a real database with the catalogue, one staff user and
    one volunteer user (whose volunteer id is ``app.config['VOLUNTEER_ID']``)."""
    from date_community import accounts
    from webapp import create_app

    vid = people.add_volunteer(catalog_db, name="例 ボランティア", email="helper@example.org",
                               skills=["basics"], devices=["iphone"])
    accounts.create_user(catalog_db, username="staff1", password=STAFF_PASSWORD, role="staff")
    accounts.create_user(catalog_db, username="vol1", password=VOLUNTEER_PASSWORD, role="volunteer",
                         volunteer_id=vid)
    application = create_app({"TESTING": True, "DATABASE": str(db_path), "SECRET_KEY": "test-secret",
                              "SESSION_COOKIE_SECURE": False, "WTF_CSRF_ENABLED": False})
    application.config["VOLUNTEER_ID"] = vid
    return application


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, username: str, password: str):
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def staff_client(app):
    c = app.test_client()
    assert login(c, "staff1", STAFF_PASSWORD).status_code == 302
    return c


@pytest.fixture
def volunteer_client(app):
    c = app.test_client()
    assert login(c, "vol1", VOLUNTEER_PASSWORD).status_code == 302
    return c


# --- real records behind URL parameters (tests that walk app.url_map) ----------

def make_web_records(db, volunteer_id: int) -> dict:
    """One real record of each kind, keyed by the URL parameter names the views
    use.  A view with a new parameter name needs one more entry here."""
    from date_community import people
    from date_community.scheduling import bookings, shifts

    start = BASE + dt.timedelta(days=3, hours=1)
    sid = sessions.add_session(db, topic="basics", venue="city-hall", starts_at=start,
                               ends_at=start + dt.timedelta(minutes=90), seats=10, helpers_min=1, helpers_max=3)
    rid = people.add_resident(db, name_kanji="見本 一郎", name_kana="みほん いちろう", phone="09000000001",
                              source="phone")
    other_rid = people.add_resident(db, name_kanji="見本 一朗", name_kana="みほん いちろう", phone="09000000002",
                                    source="paper")
    booking = bookings.book_seat(db, sid, rid, source="phone", actor="test", now=BASE)
    shift = shifts.book_shift(db, sid, volunteer_id, actor="test", now=BASE)
    first = BASE + dt.timedelta(days=14, hours=1)
    series = sessions.add_series(db, rule="FREQ=WEEKLY;COUNT=3", topic="basics", venue="city-hall",
                                 starts_at=first, ends_at=first + dt.timedelta(minutes=90), seats=8)
    token = people.renew_calendar_token(db, volunteer_id, actor="test")
    venue = next(db.query("SELECT id, slug FROM venues WHERE slug = 'city-hall'"))
    topic = next(db.query("SELECT id, code FROM topics WHERE code = 'basics'"))
    staff_user = next(db.query("SELECT id FROM users WHERE role = 'staff' ORDER BY id"))
    day = start.date().isoformat()
    return {
        "session_id": sid, "booking_id": booking["booking_id"], "reference": booking["reference"],
        "resident_id": rid, "keep_id": rid, "other_id": other_rid,
        "shift_id": shift["shift_id"], "volunteer_id": volunteer_id, "token": token,
        "series_id": series["series_id"], "user_id": staff_user["id"],
        "venue_id": venue["id"], "venue": venue["slug"], "slug": venue["slug"],
        "topic_id": topic["id"], "topic": topic["code"], "code": topic["code"],
        "day": day, "date": day, "year": start.year, "month": start.month, "page": 1,
        "filename": "no-such-photo.jpg",  # /sites/photos/<filename>: a 404, never a 500
        **paper_form_records(db, start.date()),
        **_tourism_records(db),
    }


def _tourism_records(db) -> dict:
    """A real tourist site and tour (the first loaded ones, else two made here)."""
    from date_community.tourism import sites as tourism_sites, tours as tourism_tours

    site = next(iter(db.query("SELECT slug FROM tourism_sites ORDER BY sort_order, slug LIMIT 1")), None)
    if site is None:
        for slug, code, lat in (("web-test-site", "DT98", 37.81), ("web-test-site-2", "DT97", 37.82)):
            tourism_sites.save_site(db, {"slug": slug, "code": code, "district": "保原", "lat": lat, "lon": 140.56,
                                         "coord_quality": "sourced", "texts": {"ja": {"name": "見本の観光地"}}},
                                    actor="test")
        tourism_tours.save_tour(db, {"slug": "web-test-tour", "sites": ["web-test-site", "web-test-site-2"],
                                     "texts": {"ja": {"name": "見本の散歩道"}}}, actor="test")
        site = {"slug": "web-test-site"}
    tour = next(iter(db.query("SELECT slug FROM tourism_tours ORDER BY sort_order, slug LIMIT 1")), None)
    return {"site_slug": site["slug"], "tour_slug": tour["slug"] if tour else "web-test-tour", "locale": "en"}


@pytest.fixture
def web_ids(app, catalog_db):
    return make_web_records(catalog_db, app.config["VOLUNTEER_ID"])


def rule_url(rule, ids: dict) -> str:
    """The path for a werkzeug Rule with every parameter filled from ``ids``:
    exact names first, then a known name the parameter ends with
    (``from_session_id`` → ``session_id``)."""
    values = {}
    for name in rule.arguments:
        if name in ids:
            values[name] = ids[name]
            continue
        known = [key for key in ids if name.endswith(key)]
        if not known:
            pytest.fail(f"no test value for URL parameter <{name}> of {rule.rule}: add it to web_ids in conftest.py")
        values[name] = ids[max(known, key=len)]
    built = rule.build(values, append_unknown=False)
    assert built is not None, f"could not build {rule.rule} from {values}"
    return built[1]


def db_snapshot(db_path) -> dict:
    """Every row of every table except the audit log and login sessions, which
    reading pages may legitimately touch."""
    from date_community.sqlitedriver import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                for t in tables if t not in {"audit_log", "login_sessions"}}
    finally:
        conn.close()


# --- tourism --------------------------------------------------------------------

@pytest.fixture
def sites_db(catalog_db):
    """``catalog_db`` plus the real tourist sites and walking tours from content/.

    Request it before ``client``/``app`` in a test's arguments: they share
    ``db_path``, so the web app then sees the sites."""
    from date_community.tourism import content_load

    content_load.load_dir(catalog_db, content.content_dir(), actor="test")
    return catalog_db


# --- paper forms ------------------------------------------------------------------

def tiny_png(shade: int = 200, size: tuple[int, int] = (40, 20)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", size, shade).save(buffer, "PNG")
    return buffer.getvalue()


def paper_form_records(db, day) -> dict:
    """A printed form version and one scanned sheet waiting for review, made
    without the image reader: the sheet's read result is written as the reader
    would return it (every box certain and empty except the consent box)."""
    from date_community.forms import reader, records

    prepared = records.prepare_print(db, "city-hall", day, day, 1, actor="test")
    layout = prepared["layout"]
    read = reader.SheetRead(status="ok", form_version=prepared["version"], serial=prepared["serials"][0],
                            residual_mm=0.2, confidence=0.9)
    for box in layout.boxes:
        state = "marked" if box.kind == "consent" else "empty"
        read.boxes[box.key] = reader.BoxRead(box.key, state, 0.9, 0.3 if state == "marked" else 0.0, "")
        read.box_crops[box.key] = tiny_png()
    for fld in layout.fields:
        read.field_crops[fld.key] = tiny_png(120, (200, 30))
    read.page_png = tiny_png(230, (210, 297))
    batch_id = records.record_batch(db, [records.PageResult("scan.pdf", 1, read=read)], actor="test")
    sheet_id = next(db.query("SELECT id FROM scanned_sheets WHERE batch_id = ?", [batch_id]))["id"]
    return {"version": prepared["version"], "batch_id": batch_id, "sheet_id": sheet_id, "crop_key": "field:name"}


@pytest.fixture
def make_scanned_sheet(catalog_db):
    """A scanned sheet waiting for review, with box states chosen by the test.

    ``states`` maps box keys (``session:<id>``, ``device:iphone``, ``consent``)
    to "marked", "empty" or "uncertain"; boxes not named are empty.  The
    layout is the real one printed for ``venue`` and the period ``day``..``day_to``.
    """
    from date_community.forms import reader, records

    def factory(*, venue: str = "city-hall", day, day_to=None, states: dict | None = None,
                confidence: float | None = None) -> dict:
        states = states or {}
        prepared = records.prepare_print(catalog_db, venue, day, day_to or day, 1, actor="test")
        layout = prepared["layout"]
        read = reader.SheetRead(status="ok", form_version=prepared["version"], serial=prepared["serials"][0],
                                residual_mm=0.2)
        for box in layout.boxes:
            state = states.get(box.key, "empty")
            sure = 0.3 if state == "uncertain" else 0.95
            read.boxes[box.key] = reader.BoxRead(box.key, state, sure, 0.2 if state != "empty" else 0.0,
                                                 "faint" if state == "uncertain" else "")
            read.box_crops[box.key] = tiny_png()
        for fld in layout.fields:
            read.field_crops[fld.key] = tiny_png(120, (200, 30))
        read.page_png = tiny_png(230, (210, 297))
        read.confidence = confidence if confidence is not None else min(b.confidence for b in read.boxes.values())
        batch_id = records.record_batch(catalog_db, [records.PageResult("scan.pdf", 1, read=read)], actor="test")
        sheet = next(catalog_db.query("SELECT id, serial FROM scanned_sheets WHERE batch_id = ?", [batch_id]))
        return {"sheet_id": sheet["id"], "serial": sheet["serial"], "batch_id": batch_id, "layout": layout,
                "version": prepared["version"]}

    return factory
