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
