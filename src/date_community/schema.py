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


LOCALES = ("ja", "en", "zh_Hans", "zh_Hant", "ko")
COORD_QUALITIES = ("sourced", "approx", "missing")


@migrations(name="0004_tourism")
def tourism(db):
    # Tourist sites, their texts per language and walking tours.  The CHECK on
    # coordinates means a site either says honestly that it has no coordinate
    # or has one inside the WGS84 range: the map never gets a half position.
    db.executescript(
        f"""
CREATE TABLE tourism_sites (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    code TEXT NOT NULL UNIQUE,
    marker_id INTEGER UNIQUE CHECK (marker_id IS NULL OR (marker_id BETWEEN 0 AND 63)),
    categories TEXT NOT NULL DEFAULT '',
    district TEXT CHECK (district IS NULL OR district IN {_in(DISTRICTS)}),
    sort_order INTEGER NOT NULL DEFAULT 0,
    lat REAL,
    lon REAL,
    coord_quality TEXT NOT NULL DEFAULT 'missing' CHECK (coord_quality IN {_in(COORD_QUALITIES)}),
    coord_source TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    address_note TEXT NOT NULL DEFAULT '',
    open_days TEXT NOT NULL DEFAULT '',
    opens TEXT NOT NULL DEFAULT '',
    closes TEXT NOT NULL DEFAULT '',
    fee_free INTEGER NOT NULL DEFAULT 0 CHECK (fee_free IN (0, 1)),
    contact_name TEXT NOT NULL DEFAULT '',
    contact_phone TEXT NOT NULL DEFAULT '',
    contact_ext TEXT NOT NULL DEFAULT '',
    sources TEXT NOT NULL DEFAULT '[]',
    published INTEGER NOT NULL DEFAULT 1 CHECK (published IN (0, 1)),
    updated_at TEXT NOT NULL,
    CHECK (coord_quality = 'missing' OR (lat IS NOT NULL AND lon IS NOT NULL
           AND lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180))
);
CREATE TABLE tourism_site_texts (
    site_id INTEGER NOT NULL REFERENCES tourism_sites(id) ON DELETE CASCADE,
    locale TEXT NOT NULL CHECK (locale IN {_in(LOCALES)}),
    name TEXT NOT NULL DEFAULT '',
    kana TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    body_md TEXT NOT NULL DEFAULT '',
    hours TEXT NOT NULL DEFAULT '',
    closed TEXT NOT NULL DEFAULT '',
    fee TEXT NOT NULL DEFAULT '',
    access TEXT NOT NULL DEFAULT '',
    parking TEXT NOT NULL DEFAULT '',
    barrier_free TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (site_id, locale)
);
CREATE TABLE tourism_site_images (
    id INTEGER PRIMARY KEY,
    site_id INTEGER NOT NULL REFERENCES tourism_sites(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    file TEXT NOT NULL,
    licence TEXT NOT NULL DEFAULT '',
    credit TEXT NOT NULL DEFAULT '',
    source_url TEXT NOT NULL DEFAULT '',
    alt TEXT NOT NULL DEFAULT '{{}}',
    UNIQUE (site_id, position)
);
CREATE TABLE tourism_tours (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    sort_order INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE tourism_tour_texts (
    tour_id INTEGER NOT NULL REFERENCES tourism_tours(id) ON DELETE CASCADE,
    locale TEXT NOT NULL CHECK (locale IN {_in(LOCALES)}),
    name TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    PRIMARY KEY (tour_id, locale)
);
CREATE TABLE tourism_tour_stops (
    tour_id INTEGER NOT NULL REFERENCES tourism_tours(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    site_id INTEGER NOT NULL REFERENCES tourism_sites(id),
    PRIMARY KEY (tour_id, position)
);
CREATE INDEX idx_tourism_tour_stops_site ON tourism_tour_stops(site_id);
"""
    )


@migrations(name="0006_sign_scans")
def sign_scans(db):
    # One counter per sign, day (Asia/Tokyo) and resolved language, and nothing
    # else: no address, user agent, cookie or time of day is ever stored, so the
    # table cannot be used to follow a visitor.  WITHOUT ROWID keeps the rows
    # in primary-key order, which is also the order the UPSERT looks them up in.
    db.executescript(
        f"""
CREATE TABLE sign_scans (
    site_id INTEGER NOT NULL REFERENCES tourism_sites(id) ON DELETE CASCADE,
    day TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    locale TEXT NOT NULL CHECK (locale IN {_in(LOCALES)}),
    count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
    PRIMARY KEY (site_id, day, locale)
) WITHOUT ROWID;
CREATE INDEX idx_sign_scans_day ON sign_scans(day);
"""
    )


SCAN_STATUSES = ("ok", "not_our_form", "blank", "unreadable_id", "bad_geometry", "already_scanned",
                 "duplicate_in_batch", "unknown_version", "unreadable_file")
REVIEW_STATES = ("pending", "confirmed", "discarded")


@migrations(name="0005_paper_forms")
def paper_forms(db):
    # Paper sign-up forms: each printed design (a venue's sessions in a period)
    # is a form version whose layout is kept as the JSON printed beside the PDF,
    # so a sheet can be read years later even if the printing code changes.
    # Serials are global and never reused, so one serial names one sheet of paper.
    # A scanned page keeps its rectified image and crops only until the
    # retention date (purge_after); purging blanks them and keeps the row.
    db.executescript(
        f"""
CREATE TABLE form_versions (
    version TEXT PRIMARY KEY,
    venue_id INTEGER NOT NULL REFERENCES venues(id),
    date_from TEXT NOT NULL,
    date_to TEXT NOT NULL,
    layout_json TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE form_sheets (
    serial INTEGER PRIMARY KEY,
    version TEXT NOT NULL REFERENCES form_versions(version),
    printed_at TEXT NOT NULL,
    printed_by TEXT NOT NULL
);
CREATE INDEX idx_form_sheets_version ON form_sheets(version);
CREATE TABLE scan_batches (
    id INTEGER PRIMARY KEY,
    uploaded_at TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    file_count INTEGER NOT NULL DEFAULT 0,
    page_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE scanned_sheets (
    id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL REFERENCES scan_batches(id),
    page_no INTEGER NOT NULL,
    source_name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN {_in(SCAN_STATUSES)}),
    serial INTEGER,
    version TEXT,
    confidence REAL NOT NULL DEFAULT 0,
    upside_down INTEGER NOT NULL DEFAULT 0 CHECK (upside_down IN (0, 1)),
    review_state TEXT NOT NULL CHECK (review_state IN {_in(REVIEW_STATES)}),
    result_json TEXT NOT NULL DEFAULT '{{}}',
    image BLOB,
    crops TEXT,
    resident_id INTEGER REFERENCES residents(id),
    confirmed_at TEXT,
    confirmed_by TEXT,
    discarded_at TEXT,
    discarded_by TEXT,
    purge_after TEXT,
    purged_at TEXT,
    CHECK ((review_state = 'confirmed') = (confirmed_at IS NOT NULL))
);
CREATE INDEX idx_scanned_sheets_batch ON scanned_sheets(batch_id, page_no);
CREATE INDEX idx_scanned_sheets_serial ON scanned_sheets(serial, review_state);
CREATE INDEX idx_scanned_sheets_queue ON scanned_sheets(review_state, confidence);
-- one confirmed sheet per serial: a sheet of paper books its sessions once
CREATE UNIQUE INDEX uq_scanned_sheets_confirmed ON scanned_sheets(serial) WHERE review_state = 'confirmed';
"""
    )


# Tables no public page reads.  Their writes are frequent (every QR scan,
# login, audit row, scanned sheet) and must not make the web app throw away
# its stored copies of public pages; see ``install_change_counter``.
UNCOUNTED_TABLES = frozenset({
    "page_version", "_sqlite_migrations", "audit_log", "login_sessions", "outbox", "users",
    "sign_scans", "scan_batches", "scanned_sheets", "form_sheets", "form_versions", "instance_meta",
})


def install_change_counter(db) -> None:
    """Count every change to the tables public pages are built from.

    ``page_version.n`` goes up on each insert, update or delete in those
    tables, from any process (the web app, the CLI, cron).  The page cache
    compares it with the value a stored page was rendered at.  SQLite's
    ``PRAGMA data_version`` cannot serve: its value is private to each
    connection, so two threads' numbers cannot be compared, and it also moves
    on writes no public page shows.  Idempotent: tables created by later
    migrations get their triggers when those migrations run.
    """
    db.execute("CREATE TABLE IF NOT EXISTS page_version (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)")
    db.execute("INSERT OR IGNORE INTO page_version (id, n) VALUES (1, 0)")
    tables = [row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetchall()]
    for table in tables:
        if table in UNCOUNTED_TABLES:
            continue
        for event in ("INSERT", "UPDATE", "DELETE"):
            db.execute(
                f'CREATE TRIGGER IF NOT EXISTS "count_{table}_{event.lower()}" AFTER {event} ON "{table}" '
                "BEGIN UPDATE page_version SET n = n + 1 WHERE id = 1; END")


@migrations(name="0007_change_counter")
def change_counter(db):
    install_change_counter(db)


@migrations(name="0008_instance_meta")
def instance_meta(db):
    # Facts about the database itself, such as whether it holds demo data.
    db.execute("CREATE TABLE instance_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migrations(name="0009_accounts")
def accounts_state(db):
    # When a password was last set and when a login was disabled, for the
    # staff accounts page and `users list`; login sessions are purged by age.
    db.executescript(
        """
ALTER TABLE users ADD COLUMN password_changed_at TEXT;
ALTER TABLE users ADD COLUMN disabled_at TEXT;
CREATE INDEX idx_login_sessions_last_seen ON login_sessions(last_seen_at);
CREATE INDEX idx_login_sessions_created ON login_sessions(created_at);
"""
    )
