"""Backups and restores of a live database: consistent while bookings are being
made, recorded for ``doctor``, rotated, and a restore that refuses to land on
top of another process's write."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from date_community import backups, db as dbmod, people, timeutil
from date_community.cli import cli
from date_community.errors import DateCommunityError
from date_community.scheduling import bookings
from date_community.sqlitedriver import sqlite3

from conftest import BASE

ROOT = Path(__file__).resolve().parents[1]


def _cli(db_path: Path, *args, expect: int = 0, env: dict | None = None):
    result = CliRunner().invoke(cli, ["--db", str(db_path), *map(str, args)], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == expect, (args, result.exit_code, result.stdout, result.stderr)
    return result


# --- a backup taken while residents are booking ---------------------------------------------


def test_backup_during_concurrent_bookings_holds_every_acknowledged_booking(catalog_db, db_path, make_session,
                                                                           tmp_path):
    # Enough rows that the copy takes a while and writers really overlap it.
    session_ids = [make_session(day=d, seats=500) for d in range(1, 9)]
    residents = [people.add_resident(catalog_db, name_kanji=f"見本 {n}", name_kana="みほん", phone=f"090{n:08d}",
                                     source="phone") for n in range(1, 801)]
    pairs = [(s, r) for r in residents for s in session_ids]
    acknowledged: list[tuple[float, int]] = []  # (monotonic time the call returned, booking id)
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def worker(chunk):
        conn = dbmod.connect(db_path)
        try:
            for sid, rid in chunk:
                if stop.is_set():
                    return
                booking = bookings.book_seat(conn, sid, rid, source="phone", actor="test", now=BASE)
                with lock:
                    acknowledged.append((time.monotonic(), booking["booking_id"]))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(pairs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        while len(acknowledged) < 200 and not errors:
            time.sleep(0.01)
        started = time.monotonic()
        made = backups.make_backup(catalog_db, out=tmp_path / "during.db")
        finished = time.monotonic()
        deadline = finished + 10
        while not any(at > finished for at, _ in acknowledged[-5:]) and time.monotonic() < deadline:
            time.sleep(0.01)  # until bookings acknowledged after the backup show the writers kept going
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    before = {bid for at, bid in acknowledged if at < started}
    after = {bid for at, bid in acknowledged if at > finished}
    assert len(before) >= 200 and after, "the bookings did not overlap the backup"

    restored = dbmod.connect(tmp_path / "restored.db")
    try:
        dbmod.restore(restored, made["path"])
        assert dbmod.integrity_ok(restored)
        in_copy = {r["id"] for r in restored.query("SELECT id FROM bookings")}
    finally:
        restored.close()
    assert before <= in_copy
    # and the copy is one moment: nothing from after it, nothing that was never acknowledged
    assert not (after & in_copy)
    assert in_copy <= {bid for _, bid in acknowledged}


# --- --out, the default folder, last_backup_at, --keep ----------------------------------------


def test_backup_out_records_last_backup_at_in_the_live_database(db, db_path, tmp_path):
    assert backups.last_backup_at(db) is None
    before = timeutil.now()
    out = tmp_path / "copies" / "tonight.db"
    made = json.loads(_cli(db_path, "backup", "--out", out, "--json").stdout)
    assert made["path"] == str(out) and out.is_file() and made["bytes"] == out.stat().st_size
    stored = next(db.query("SELECT value FROM instance_meta WHERE key = 'last_backup_at'"))["value"]
    assert stored.endswith("+09:00") and stored == made["at"]
    assert before <= backups.last_backup_at(db) <= timeutil.now()
    # the copy is a complete database of its own
    conn = sqlite3.connect(out)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_a_failed_backup_records_nothing(db, db_path, tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    result = _cli(db_path, "backup", "--out", blocked / "copy.db", expect=1)
    assert result.stderr.strip().endswith("[backup_failed]")
    assert backups.last_backup_at(db) is None
    assert blocked.read_text() == "x"


def test_backup_without_out_goes_to_backup_dir_with_a_timestamp(db, db_path, tmp_path):
    folder = tmp_path / "nightly"
    result = _cli(db_path, "backup", "--json", env={"DATE_COMMUNITY_BACKUP_DIR": str(folder)})
    made = json.loads(result.stdout)
    path = Path(made["path"])
    assert path.parent == folder and path.is_file()
    stamp = dt.datetime.strptime(path.name, "date-community-%Y%m%d-%H%M%S.db").replace(tzinfo=timeutil.TZ)
    assert abs((timeutil.now() - stamp).total_seconds()) < 60
    assert timeutil.iso(stamp) == made["at"] == timeutil.iso(backups.last_backup_at(db))


def test_keep_rotates_only_timestamped_backups(db, db_path, tmp_path):
    folder = tmp_path / "nightly"
    folder.mkdir()
    old = [folder / backups.timestamped_name(timeutil.now() - dt.timedelta(days=d)) for d in range(1, 5)]
    for p in old:
        p.write_bytes(b"old")
    by_hand = folder / "before-the-upgrade.db"
    by_hand.write_bytes(b"keep me")
    result = _cli(db_path, "backup", "--keep", 2, "--json", env={"DATE_COMMUNITY_BACKUP_DIR": str(folder)})
    made = json.loads(result.stdout)
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted([old[0].name, Path(made["path"]).name, by_hand.name])
    assert sorted(made["removed"]) == sorted(str(p) for p in old[1:])


def test_keep_never_deletes_the_backup_just_made(db, tmp_path):
    # A clock set back: older-looking names sort after tonight's file.
    (tmp_path / "nightly").mkdir()
    future = [tmp_path / "nightly" / backups.timestamped_name(timeutil.now() + dt.timedelta(days=d)) for d in (1, 2)]
    for p in future:
        p.write_bytes(b"x")
    made = backups.make_backup(db, folder=tmp_path / "nightly", keep=1)
    assert [p.name for p in (tmp_path / "nightly").iterdir()] == [Path(made["path"]).name]


def test_without_db_the_cli_uses_the_apps_database_setting_from_config_toml(db, db_path, tmp_path):
    # A cron job with no --db must back up the database the web app uses, even
    # when its path is only written in config.toml.
    toml = tmp_path / "config.toml"
    toml.write_text(f'DATE_COMMUNITY_DB = "{db_path}"\nDATE_COMMUNITY_BACKUP_DIR = "{tmp_path / "nightly"}"\n',
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["backup", "--json"],
                                env={"DATE_COMMUNITY_CONFIG": str(toml), "DATE_COMMUNITY_DB": "",
                                     "DATE_COMMUNITY_BACKUP_DIR": ""})
    assert result.exit_code == 0, result.output
    assert Path(json.loads(result.stdout)["path"]).parent == tmp_path / "nightly"
    assert backups.last_backup_at(db) is not None


def test_keep_with_out_and_path_with_out_are_usage_errors(db_path, tmp_path):
    _cli(db_path, "backup", "--out", tmp_path / "a.db", "--keep", 3, expect=2)
    _cli(db_path, "backup", tmp_path / "a.db", "--out", tmp_path / "b.db", expect=2)
    _cli(db_path, "backup", "--keep", 0, expect=2)
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "b.db").exists()


# --- restore refuses while another process writes ---------------------------------------------

HOLD_WRITE_LOCK = """
import sys
from date_community.sqlitedriver import sqlite3
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO instance_meta (key, value) VALUES ('writer', 'busy')")
print("locked", flush=True)
sys.stdin.read()  # hold the write transaction until the test closes our stdin
conn.execute("COMMIT")
"""


@pytest.fixture
def start_writer(db_path):
    """Start another process that stays in the middle of a write transaction on the live database."""
    procs = []

    def start() -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
        proc = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_LOCK, str(db_path)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, env=env)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield start
    for proc in procs:
        if not proc.stdin.closed:
            proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()


def test_restore_is_refused_while_another_process_holds_the_write_lock(make_resident, catalog_db, db_path,
                                                                        tmp_path, start_writer):
    rid = make_resident(name_kanji="伊達 花子")
    source = tmp_path / "backup.db"
    other = dbmod.connect(tmp_path / "other.db")
    try:
        dbmod.backup(other, source)  # a valid, empty date-community database
    finally:
        other.close()

    writer = start_writer()
    started = time.monotonic()
    with pytest.raises(DateCommunityError) as info:
        dbmod.restore(catalog_db, source, lock_timeout=0.5)
    assert info.value.code == "database_busy"
    assert time.monotonic() - started < 10  # refused, not stuck waiting for the writer
    result = _cli(db_path, "restore", source, "--yes", expect=1)
    assert result.stderr.strip().endswith("[database_busy]")

    writer.stdin.close()
    assert writer.wait(timeout=30) == 0
    # nothing was restored: the live data and the writer's commit are both there
    assert [rid] == [r["id"] for r in catalog_db.query("SELECT id FROM residents")]
    assert [("busy",)] == catalog_db.execute("SELECT value FROM instance_meta WHERE key = 'writer'").fetchall()
    # with the writer gone the same restore goes through
    dbmod.restore(catalog_db, source)
    assert [] == list(catalog_db.query("SELECT id FROM residents"))
    assert dbmod.integrity_ok(catalog_db)


def test_readers_do_not_block_a_restore_and_keep_their_snapshot(make_resident, catalog_db, db_path, tmp_path):
    make_resident()
    empty = dbmod.connect(tmp_path / "empty.db")
    try:
        source = dbmod.backup(empty, tmp_path / "empty-backup.db")
    finally:
        empty.close()
    reader = sqlite3.connect(db_path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM residents").fetchone()[0] == 1
        dbmod.restore(catalog_db, source, lock_timeout=0.5)  # a page being rendered does not stop it
        assert reader.execute("SELECT count(*) FROM residents").fetchone()[0] == 1  # ... and finishes on old data
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM residents").fetchone()[0] == 0
    finally:
        reader.close()


def test_a_backup_is_one_self_contained_file(make_resident, catalog_db, tmp_path):
    make_resident(name_kanji="伊達 一郎")
    target = dbmod.backup(catalog_db, tmp_path / "b.db")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("b.db")) == ["b.db"]
    conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("SELECT name_kanji FROM residents").fetchall() == [("伊達 一郎",)]
    finally:
        conn.close()


def test_restore_moves_the_page_counter_forward(make_session, catalog_db, tmp_path):
    source = dbmod.backup(catalog_db, tmp_path / "b.db")
    for day in range(1, 4):
        make_session(day=day)
    live = catalog_db.execute("SELECT n FROM page_version").fetchone()[0]
    dbmod.restore(catalog_db, source)
    # the web app's cached pages are keyed on this counter: it must never go back
    assert catalog_db.execute("SELECT n FROM page_version").fetchone()[0] > live
    assert catalog_db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


def test_restore_keeps_triggers_indexes_and_foreign_keys(make_session, make_resident, catalog_db, tmp_path):
    sid = make_session()
    booking = bookings.book_seat(catalog_db, sid, make_resident(), source="phone", actor="t", now=BASE)
    source = dbmod.backup(catalog_db, tmp_path / "b.db")
    dbmod.restore(catalog_db, source)
    schema = {(r["type"], r["name"]) for r in catalog_db.query("SELECT type, name FROM sqlite_master")}
    live = dbmod.connect(tmp_path / "fresh.db")
    try:
        expected = {(r["type"], r["name"]) for r in live.query("SELECT type, name FROM sqlite_master")}
    finally:
        live.close()
    assert schema == expected
    assert catalog_db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert bookings.get_booking(catalog_db, booking["booking_id"])["status"] == "confirmed"
    # the change counter still fires after the restore
    n = catalog_db.execute("SELECT n FROM page_version").fetchone()[0]
    make_session(day=2)
    assert catalog_db.execute("SELECT n FROM page_version").fetchone()[0] > n


def test_backup_onto_the_live_database_and_restore_from_it_are_refused(make_resident, catalog_db, db_path):
    rid = make_resident()
    with pytest.raises(DateCommunityError) as info:
        backups.make_backup(catalog_db, out=db_path)
    assert info.value.code == "backup_failed"
    with pytest.raises(DateCommunityError) as info:
        dbmod.restore(catalog_db, db_path)
    assert info.value.code == "restore_failed"
    assert [rid] == [r["id"] for r in catalog_db.query("SELECT id FROM residents")]
    assert dbmod.integrity_ok(catalog_db) and backups.last_backup_at(catalog_db) is None


def test_a_restore_that_fails_halfway_leaves_the_live_database_as_it_was(make_session, make_resident, catalog_db,
                                                                         tmp_path):
    sid = make_session()
    booking = bookings.book_seat(catalog_db, sid, make_resident(name_kanji="伊達 花子"), source="phone", actor="t",
                                 now=BASE)
    # A backup that passes integrity_check but holds a booking of a resident who does not exist:
    # found only after every table has been dropped and refilled.
    source = dbmod.backup(catalog_db, tmp_path / "broken.db")
    conn = sqlite3.connect(source, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("DELETE FROM residents")
    conn.close()
    schema_before = catalog_db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()

    with pytest.raises(DateCommunityError) as info:
        dbmod.restore(catalog_db, source)
    assert info.value.code == "invalid_database"
    assert catalog_db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() == schema_before
    assert [r["name_kanji"] for r in catalog_db.query("SELECT name_kanji FROM residents")] == ["伊達 花子"]
    assert bookings.get_booking(catalog_db, booking["booking_id"])["status"] == "confirmed"
    assert catalog_db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert dbmod.integrity_ok(catalog_db)


def test_a_restore_revives_no_login_session(catalog_db, tmp_path):
    from date_community import accounts

    uid = accounts.create_user(catalog_db, username="sato", password="a long passphrase of words", role="staff")
    token = accounts.start_login_session(catalog_db, uid)
    source = dbmod.backup(catalog_db, tmp_path / "b.db")
    accounts.end_login_session(catalog_db, token)  # signed out after the backup
    dbmod.restore(catalog_db, source)
    assert accounts.user_for_login_session(catalog_db, token) is None
    assert catalog_db.execute("SELECT count(*) FROM login_sessions").fetchone()[0] == 0
    assert catalog_db.execute("SELECT count(*) FROM users").fetchone()[0] == 1


def test_a_backup_from_an_older_version_gets_todays_schema(make_resident, catalog_db, tmp_path):
    rid = make_resident()
    source = dbmod.backup(catalog_db, tmp_path / "old.db")
    conn = sqlite3.connect(source, isolation_level=None)
    conn.execute("DROP TABLE instance_meta")  # as made before migration 0008 existed
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0008_instance_meta'")
    conn.close()
    dbmod.restore(catalog_db, source)
    assert "instance_meta" in catalog_db.table_names()
    assert [rid] == [r["id"] for r in catalog_db.query("SELECT id FROM residents")]
    assert "0008_instance_meta" in {r["name"] for r in catalog_db.query("SELECT name FROM _sqlite_migrations")}
