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
