"""Versioned schema migrations (sqlite-utils ``Migrations``).

Raw DDL is used where sqlite-utils' table builder cannot express a rule:
CHECK constraints and partial unique indexes.  Rules that fit a unique
constraint are enforced by one, so even a bug in Python cannot break them.
"""
from __future__ import annotations

from sqlite_utils.migrations import Migrations

migrations = Migrations("date_community")

DISTRICTS = ("伊達", "梁川", "保原", "霊山", "月舘")
DEVICES = ("none", "iphone", "android", "rakuraku", "feature_phone")
SOURCES = ("paper", "phone", "web", "counter")
SESSION_KINDS = ("class", "consultation", "drop-in")
BOOKING_STATUSES = ("confirmed", "waitlisted", "cancelled", "attended", "no_show")
SHIFT_STATUSES = ("booked", "cancelled", "attended", "no_show")
ROLES = ("lead", "assistant")
USER_ROLES = ("staff", "volunteer")


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + v + "'" for v in values) + ")"


@migrations(name="0001_core")
def core(db):
    db.executescript(
        f"""
CREATE TABLE venues (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name_ja TEXT NOT NULL,
    name_en TEXT NOT NULL,
    district TEXT NOT NULL CHECK (district IN {_in(DISTRICTS)}),
    address TEXT NOT NULL DEFAULT '',
    lat REAL,
    lon REAL,
    coord_quality TEXT NOT NULL DEFAULT 'missing' CHECK (coord_quality IN ('sourced', 'approx', 'missing')),
    seats INTEGER NOT NULL DEFAULT 0 CHECK (seats >= 0),
    barrier_free TEXT NOT NULL DEFAULT '',
    source_url TEXT NOT NULL DEFAULT ''
);
CREATE TABLE topics (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    sort_order INTEGER NOT NULL DEFAULT 0,
    title_ja TEXT NOT NULL,
    title_en TEXT NOT NULL,
    title_zh_Hans TEXT NOT NULL,
    title_zh_Hant TEXT NOT NULL,
    title_ko TEXT NOT NULL
);
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    topic_id INTEGER NOT NULL REFERENCES topics(id),
    venue_id INTEGER NOT NULL REFERENCES venues(id),
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'class' CHECK (kind IN {_in(SESSION_KINDS)}),
    seats INTEGER NOT NULL CHECK (seats >= 0),
    walkin_seats INTEGER NOT NULL DEFAULT 0 CHECK (walkin_seats >= 0 AND walkin_seats <= seats),
    helpers_min INTEGER NOT NULL DEFAULT 0 CHECK (helpers_min >= 0),
    helpers_max INTEGER NOT NULL DEFAULT 0 CHECK (helpers_max >= helpers_min),
    loaner_phones INTEGER NOT NULL DEFAULT 0 CHECK (loaner_phones >= 0),
    signup_opens_at TEXT,
    signup_closes_at TEXT,
    status TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    series_id INTEGER REFERENCES series(id),
    series_index INTEGER,
    bring TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    sequence INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK (ends_at > starts_at),
    UNIQUE (series_id, series_index)
);
CREATE INDEX idx_sessions_starts ON sessions(starts_at);
CREATE INDEX idx_sessions_venue ON sessions(venue_id, starts_at);
CREATE TABLE residents (
    id INTEGER PRIMARY KEY,
    name_kanji TEXT NOT NULL,
    name_kana TEXT NOT NULL,
    kana_key TEXT NOT NULL,
    phone TEXT,
    birth_year INTEGER,
    district TEXT CHECK (district IS NULL OR district IN {_in(DISTRICTS)}),
    device TEXT NOT NULL DEFAULT 'none' CHECK (device IN {_in(DEVICES)}),
    topics_wanted TEXT NOT NULL DEFAULT '[]',
    needs TEXT NOT NULL DEFAULT '',
    consent_at TEXT,
    consent_channel TEXT CHECK (consent_channel IS NULL OR consent_channel IN {_in(SOURCES)}),
    source TEXT NOT NULL CHECK (source IN {_in(SOURCES)}),
    merged_into INTEGER REFERENCES residents(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_residents_phone ON residents(phone);
CREATE INDEX idx_residents_kana ON residents(kana_key, birth_year);
CREATE TABLE volunteers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_kana TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    phone TEXT,
    skills TEXT NOT NULL DEFAULT '[]',
    devices TEXT NOT NULL DEFAULT '[]',
    languages TEXT NOT NULL DEFAULT '[]',
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    calendar_token TEXT UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE bookings (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    status TEXT NOT NULL CHECK (status IN {_in(BOOKING_STATUSES)}),
    position INTEGER CHECK ((status = 'waitlisted') = (position IS NOT NULL)),
    source TEXT NOT NULL CHECK (source IN {_in(SOURCES)}),
    entered_by TEXT NOT NULL,
    paper_ref TEXT,
    override_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- one live booking per resident and session; cancelled rows stay as history
CREATE UNIQUE INDEX uq_bookings_live ON bookings(session_id, resident_id) WHERE status != 'cancelled';
-- waitlist positions are distinct within a session
CREATE UNIQUE INDEX uq_bookings_position ON bookings(session_id, position) WHERE status = 'waitlisted';
CREATE INDEX idx_bookings_resident ON bookings(resident_id, status);
CREATE INDEX idx_bookings_session ON bookings(session_id, status);
CREATE TABLE shifts (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    volunteer_id INTEGER NOT NULL REFERENCES volunteers(id),
    role TEXT NOT NULL CHECK (role IN {_in(ROLES)}),
    status TEXT NOT NULL CHECK (status IN {_in(SHIFT_STATUSES)}),
    sequence INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX uq_shifts_live ON shifts(session_id, volunteer_id) WHERE status != 'cancelled';
CREATE UNIQUE INDEX uq_shifts_lead ON shifts(session_id) WHERE role = 'lead' AND status != 'cancelled';
CREATE INDEX idx_shifts_volunteer ON shifts(volunteer_id, status);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'phone', 'staff')),
    recipient TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{{}}',
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX idx_outbox_state ON outbox(state, next_attempt_at);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id INTEGER,
    detail TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX idx_audit_entity ON audit_log(entity, entity_id);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN {_in(USER_ROLES)}),
    volunteer_id INTEGER REFERENCES volunteers(id),
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL
);
"""
    )


@migrations(name="0002_login_sessions")
def login_sessions(db):
    # Server-side login sessions: the cookie only carries a random token, so
    # logging out (deleting the row) makes a replayed cookie worthless.
    db.executescript(
        """
CREATE TABLE login_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX idx_login_sessions_user ON login_sessions(user_id);
"""
    )


@migrations(name="0003_shifts_by_session")
def shifts_by_session(db):
    # The session listing counts live helpers per session with
    # "status IN ('booked', 'attended', 'no_show')".  The partial indexes on
    # shifts (WHERE status != 'cancelled') cannot serve that condition, so the
    # count scanned the whole shifts table once per listed session: seconds
    # for a month on a ten-year database.
    db.executescript("CREATE INDEX IF NOT EXISTS idx_shifts_session ON shifts(session_id, status);")
