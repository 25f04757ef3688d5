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
    """Hash test passwords with a small scrypt cost.

    The cost parameters are stored inside each hash, so verification is the
    same code path; only the work factor differs.  Production keeps 2**15.
    test_accounts-style tests that check the production cost read
    ``accounts.PRODUCTION_SCRYPT_N``.
    """
    from date_community import accounts

    monkeypatch.setattr(accounts, "SCRYPT_N", 2**10)


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
    }


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
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                for t in tables if t not in {"audit_log", "login_sessions"}}
    finally:
        conn.close()
