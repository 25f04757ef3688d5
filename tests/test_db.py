"""Opening the database: pragmas, migrations, paths, transactions, backups, constraints."""
from __future__ import annotations

import logging

import pytest

from date_community import audit, db as dbmod, sqlitedriver
from date_community.errors import DateCommunityError
from date_community.scheduling import bookings
from date_community.sqlitedriver import sqlite3


def _pragma(db, name):
    return db.conn.execute(f"PRAGMA {name}").fetchone()[0]


def _schema(path):
    conn = sqlite3.connect(str(path))
    try:
        return sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall(),
                      key=lambda r: (r[0], r[1]))
    finally:
        conn.close()


def _audit_count(db):
    return db.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]


# --- pragmas -------------------------------------------------------------------

@pytest.mark.parametrize("pragma, expected", [
    ("journal_mode", "wal"),  # readers never block the writer
    ("foreign_keys", 1),  # references are enforced
    ("synchronous", 2),  # FULL: a committed booking survives a power cut
])
def test_connect_sets_pragmas(db, pragma, expected):
    assert expected == _pragma(db, pragma)


def test_connect_sets_a_busy_timeout(db):
    assert _pragma(db, "busy_timeout") > 0


def test_foreign_keys_are_enforced(db):
    with pytest.raises(sqlite3.IntegrityError):
        db.conn.execute(
            "INSERT INTO sessions (topic_id, venue_id, starts_at, ends_at, seats, created_at, updated_at) "
            "VALUES (999, 999, '2031-01-01T10:00:00+09:00', '2031-01-01T11:00:00+09:00', 5, 'x', 'x')")


# --- migrations ----------------------------------------------------------------

def test_fresh_database_gets_the_core_migration(db_path):
    database = dbmod.connect(db_path, migrate=False)
    try:
        assert [] == _schema(db_path)
        applied = dbmod.apply_migrations(database)
        assert "0001_core" in applied
        tables = {r[1] for r in _schema(db_path) if r[0] == "table"}
        assert {"venues", "topics", "sessions", "residents", "volunteers", "bookings", "shifts", "outbox",
                "audit_log", "users", "series"} <= tables
    finally:
        database.close()


def test_migrations_are_idempotent(db_path):
    first = dbmod.connect(db_path)
    first.close()
    before = _schema(db_path)
    second = dbmod.connect(db_path)
    try:
        assert [] == dbmod.apply_migrations(second)
        applied = [r["name"] for r in second.query("SELECT name FROM _sqlite_migrations ORDER BY id")]
        assert len(applied) == len(set(applied))
    finally:
        second.close()
    assert before == _schema(db_path)


def test_migrating_leaves_no_transaction_open(db):
    assert not db.conn.in_transaction


# --- where the database lives ----------------------------------------------------

@pytest.mark.parametrize("explicit, env, expected", [
    ("cli.db", "env.db", "cli.db"),  # --db beats the environment
    (None, "env.db", "env.db"),  # the environment beats the default
    (None, None, "instance/date-community.db"),  # nothing given: the default
    ("", "env.db", "env.db"),  # an empty --db counts as not given
    (None, "", "instance/date-community.db"),  # an empty variable counts as unset
])
def test_resolve_path_order(monkeypatch, explicit, env, expected):
    if env is None:
        monkeypatch.delenv("DATE_COMMUNITY_DB", raising=False)
    else:
        monkeypatch.setenv("DATE_COMMUNITY_DB", env)
    from pathlib import Path
    assert Path(expected) == dbmod.resolve_path(explicit)


def test_connect_uses_env_path(monkeypatch, tmp_path):
    target = tmp_path / "from-env" / "x.db"
    monkeypatch.setenv("DATE_COMMUNITY_DB", str(target))
    database = dbmod.connect()
    database.close()
    assert target.is_file()


def test_connect_default_path_is_under_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("DATE_COMMUNITY_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    database = dbmod.connect()
    database.close()
    assert (tmp_path / "instance" / "date-community.db").is_file()


# --- the SQLite library and the WAL-reset bug ------------------------------------

@pytest.mark.parametrize("version, safe", [
    ("3.40.1", False),  # Debian 12's system SQLite, before the WAL-reset fix
    ("3.51.2", False),  # one patch release too old
    ("3.51.3", True),  # the release with the fix
    ("3.53.2", True),  # what tools/sqlite.sh builds
    ("4.0.0", True),  # a major bump is newer too
])
def test_sqlite_version_is_safe(version, safe):
    assert safe == dbmod.sqlite_version_is_safe(version)


def test_the_installed_driver_has_the_wal_reset_fix(db):
    # make install builds pysqlite3 against a fixed amalgamation (tools/sqlite.sh);
    # this fails on a machine that fell back to the system library.
    assert "pysqlite3" == sqlitedriver.driver_name()
    running = db.execute("select sqlite_version()").fetchone()[0]
    assert running == sqlitedriver.version()
    assert dbmod.sqlite_version_is_safe(running), running


def test_sqlite_utils_and_our_connections_share_one_driver(db):
    # An IntegrityError raised on our connection must be the class sqlite-utils and our code catch.
    from sqlite_utils.utils import sqlite3 as su_sqlite3

    assert isinstance(db.conn, su_sqlite3.Connection)
    assert sqlite3.IntegrityError is su_sqlite3.IntegrityError


def test_opening_a_database_logs_no_warning(db_path, caplog):
    caplog.set_level(logging.WARNING)
    dbmod.connect(db_path).close()
    assert [] == [r for r in caplog.records if r.name.startswith("date_community")]


# --- write_transaction -----------------------------------------------------------

def test_write_transaction_commits(db, db_path):
    with dbmod.write_transaction(db):
        audit.record(db, "t", "ok", "test")
    other = sqlite3.connect(str(db_path))
    try:
        assert 1 == other.execute("SELECT count(*) FROM audit_log WHERE action = 'ok'").fetchone()[0]
    finally:
        other.close()


def test_write_transaction_rolls_back_on_exception(db):
    before = _audit_count(db)
    with pytest.raises(RuntimeError):
        with dbmod.write_transaction(db):
            audit.record(db, "t", "lost", "test")
            raise RuntimeError("boom")
    assert before == _audit_count(db)
    assert not db.conn.in_transaction


def test_nested_failure_rolls_back_only_the_savepoint(db):
    before = _audit_count(db)
    with dbmod.write_transaction(db):
        audit.record(db, "t", "outer", "test")
        with pytest.raises(RuntimeError):
            with dbmod.write_transaction(db):
                audit.record(db, "t", "inner", "test")
                raise RuntimeError("boom")
        assert db.conn.in_transaction
    actions = [r["action"] for r in db.query("SELECT action FROM audit_log WHERE id > ?", [before])]
    assert ["outer"] == actions
    assert not db.conn.in_transaction


def test_nested_success_commits_with_outer(db):
    before = _audit_count(db)
    with dbmod.write_transaction(db):
        with dbmod.write_transaction(db):
            audit.record(db, "t", "inner", "test")
        audit.record(db, "t", "outer", "test")
    assert before + 2 == _audit_count(db)


def test_outer_failure_undoes_released_inner_savepoint(db):
    before = _audit_count(db)
    with pytest.raises(RuntimeError):
        with dbmod.write_transaction(db):
            with dbmod.write_transaction(db):
                audit.record(db, "t", "inner", "test")
            raise RuntimeError("boom")
    assert before == _audit_count(db)


def test_write_transaction_takes_the_write_lock_up_front(db, db_path):
    other = sqlite3.connect(str(db_path), timeout=0.05)
    try:
        with dbmod.write_transaction(db):
            # nothing written yet, but BEGIN IMMEDIATE already holds the lock
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


def test_write_transaction_reports_busy_database(db, db_path):
    db.conn.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(str(db_path), timeout=0.05)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(DateCommunityError) as info:
            with dbmod.write_transaction(db):
                pass  # pragma: no cover - never entered
        assert "database_busy" == info.value.code
        other.execute("ROLLBACK")
    finally:
        other.close()


# --- backup and restore ----------------------------------------------------------

def test_backup_restore_round_trip(make_session, make_resident, catalog_db, tmp_path):
    sid = make_session()
    rid = make_resident(name_kanji="伊達 花子")
    booking = bookings.book_seat(catalog_db, sid, rid, source="phone", actor="staff")
    target = dbmod.backup(catalog_db, tmp_path / "backups" / "b.db")
    assert target.is_file()
    assert not (tmp_path / "backups" / "b.db.partial").exists()

    # changes after the backup are undone by the restore
    later = make_resident(name_kanji="後で 追加")
    bookings.cancel_booking(catalog_db, booking["booking_id"], actor="staff")
    dbmod.restore(catalog_db, target)

    names = [r["name_kanji"] for r in catalog_db.query("SELECT name_kanji FROM residents ORDER BY id")]
    assert ["伊達 花子"] == names
    assert [] == list(catalog_db.query("SELECT id FROM residents WHERE id = ?", [later]))
    assert "confirmed" == bookings.get_booking(catalog_db, booking["booking_id"])["status"]
    assert dbmod.integrity_ok(catalog_db)


def test_backup_is_a_standalone_database(make_resident, catalog_db, tmp_path):
    make_resident(name_kanji="伊達 一郎")
    target = dbmod.backup(catalog_db, tmp_path / "b.db")
    conn = sqlite3.connect(str(target))
    try:
        assert [("伊達 一郎",)] == conn.execute("SELECT name_kanji FROM residents").fetchall()
    finally:
        conn.close()


def test_backup_into_a_directory_fails(db, tmp_path):
    with pytest.raises(DateCommunityError) as info:
        dbmod.backup(db, tmp_path)
    assert "backup_failed" == info.value.code


@pytest.mark.parametrize("contents, code", [
    (b"this is a shopping list, not a database\n" * 200, "invalid_database"),  # a text file
    (b"", "invalid_database"),  # an empty file is an empty database without our tables
    (None, "restore_failed"),  # no file at all
])
def test_restore_rejects_non_databases(db, tmp_path, contents, code):
    source = tmp_path / "upload.db"
    if contents is not None:
        source.write_bytes(contents)
    with pytest.raises(DateCommunityError) as info:
        dbmod.restore(db, source)
    assert code == info.value.code
    assert dbmod.integrity_ok(db)


def test_restore_rejects_a_foreign_sqlite_database(make_resident, catalog_db, tmp_path):
    rid = make_resident()
    source = tmp_path / "other.db"
    conn = sqlite3.connect(str(source))
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(DateCommunityError) as info:
        dbmod.restore(catalog_db, source)
    assert "invalid_database" == info.value.code
    # the live data is untouched
    assert [rid] == [r["id"] for r in catalog_db.query("SELECT id FROM residents")]


# --- constraints -------------------------------------------------------------------

def _insert_booking(db, session_id, resident_id, status, position=None, reference="XXX-XXX"):
    db.conn.execute(
        "INSERT INTO bookings (reference, session_id, resident_id, status, position, source, entered_by, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'phone', 'test', 'x', 'x')",
        [reference, session_id, resident_id, status, position])


def test_second_live_booking_is_rejected_by_the_schema(make_session, make_resident, catalog_db):
    sid, rid = make_session(), make_resident()
    bookings.book_seat(catalog_db, sid, rid, source="phone", actor="staff")
    with pytest.raises(sqlite3.IntegrityError):
        _insert_booking(catalog_db, sid, rid, "waitlisted", position=1)


def test_cancelled_history_does_not_block_a_new_booking(make_session, make_resident, catalog_db):
    sid, rid = make_session(), make_resident()
    _insert_booking(catalog_db, sid, rid, "cancelled", reference="AAA-AAA")
    _insert_booking(catalog_db, sid, rid, "cancelled", reference="CCC-CCC")
    _insert_booking(catalog_db, sid, rid, "confirmed", reference="DDD-DDD")
    catalog_db.conn.commit()
    assert 3 == catalog_db.conn.execute("SELECT count(*) FROM bookings").fetchone()[0]


@pytest.mark.parametrize("status, position", [
    ("waitlisted", None),  # a waitlisted booking needs a position
    ("confirmed", 1),  # nothing else may have one
    ("booked", None),  # not a booking status
])
def test_booking_status_checks(make_session, make_resident, catalog_db, status, position):
    sid, rid = make_session(), make_resident()
    with pytest.raises(sqlite3.IntegrityError):
        _insert_booking(catalog_db, sid, rid, status, position)


def test_waitlist_positions_are_unique(make_session, make_resident, catalog_db):
    sid = make_session()
    _insert_booking(catalog_db, sid, make_resident(), "waitlisted", 1, reference="AAA-AAA")
    with pytest.raises(sqlite3.IntegrityError):
        _insert_booking(catalog_db, sid, make_resident(), "waitlisted", 1, reference="CCC-CCC")


def test_second_lead_is_rejected_by_the_schema(make_session, make_volunteer, catalog_db):
    sid = make_session()
    for i, vid in enumerate((make_volunteer(), make_volunteer())):
        sql = ("INSERT INTO shifts (session_id, volunteer_id, role, status, created_at, updated_at) "
               "VALUES (?, ?, 'lead', 'booked', 'x', 'x')")
        if i == 0:
            catalog_db.conn.execute(sql, [sid, vid])
        else:
            with pytest.raises(sqlite3.IntegrityError):
                catalog_db.conn.execute(sql, [sid, vid])
