"""A full disk: the user gets a 503 page in their language, the log names the
cause in one line, and nothing is half-written.

Made full for real, never mocked:
- SQLite: ``PRAGMA max_page_count`` on the web app's own connection (after a
  VACUUM, so there is no free page left) gives a real SQLITE_FULL;
- files: a small tmpfs filled to the last byte gives a real ENOSPC (needs
  root to mount; skipped otherwise), and a file-size limit (RLIMIT_FSIZE) in a
  child process gives a real EFBIG anywhere.
"""
from __future__ import annotations

import contextlib
import logging
import types
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from conftest import db_snapshot
from date_community.errors import DateCommunityError, disk_full_cause
from date_community.sqlitedriver import sqlite3
from webapp import database as webdb

ROOT = Path(__file__).resolve().parent.parent

def _series_form(db) -> dict:
    """A weekly class repeated 400 times: hundreds of rows, so the file must grow."""
    from date_community.scheduling import catalog

    return {"topic": str(catalog.get_topic(db, "basics")["id"]), "venue": str(catalog.get_venue(db, "city-hall")["id"]),
            "date": "2031-04-08", "start_time": "10:00", "end_time": "11:30", "kind": "class", "seats": "10",
            "walkin_seats": "2", "helpers_min": "1", "helpers_max": "3", "loaner_phones": "4", "signup_opens": "",
            "signup_closes": "", "bring": "", "notes": "満杯のテスト", "repeat": "weekly", "repeat_until": "",
            "repeat_count": "400"}


@pytest.fixture
def full_database(app, monkeypatch, db_path):
    """Every connection the web app opens from now on may not grow the file by one page."""
    conn = sqlite3.connect(db_path)
    conn.execute("VACUUM")
    conn.close()
    real = webdb.dbmod.connect

    def capped_connect(path, **kwargs):
        db = real(path, **kwargs)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        return db

    # The db module as the web app sees it, with connect() capping the file at its present size.
    capped = types.SimpleNamespace(**vars(webdb.dbmod))
    capped.connect = capped_connect
    monkeypatch.setattr(webdb, "dbmod", capped)
    return db_path


def test_sqlite_full_gives_a_503_page_in_the_users_language(staff_client, catalog_db, full_database, caplog):
    staff_client.set_cookie("lang", "ja")
    before = db_snapshot(full_database)
    with caplog.at_level(logging.ERROR, logger="webapp.app"):
        response = staff_client.post("/staff/sessions/new", data=_series_form(catalog_db))
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "ただいま保存できません" in page and "ただいまシステムに保存できません" in page
    assert 'lang="ja"' in page
    # Nothing half-written: not one of the 400 sessions, no series, no audit row.
    assert db_snapshot(full_database) == before
    lines = [r.getMessage() for r in caplog.records if "disk full" in r.getMessage()]
    assert lines == ["disk full (SQLITE_FULL): nothing saved on POST /staff/sessions/new"]
    assert "満杯" not in caplog.text


def test_sqlite_full_in_english(staff_client, catalog_db, full_database):
    staff_client.set_cookie("lang", "en")
    response = staff_client.post("/staff/sessions/new", data=_series_form(catalog_db))
    assert response.status_code == 503
    assert "The system cannot save right now" in response.get_data(as_text=True)


def test_pages_that_only_read_still_work_on_a_full_database(staff_client, full_database):
    assert staff_client.get("/staff/residents/new").status_code == 200


def test_the_disk_full_cause_is_found_through_the_exception_chain():
    assert disk_full_cause(OSError(28, "No space left on device")) == "ENOSPC"
    assert disk_full_cause(OSError(27, "File too large")) == "EFBIG"
    assert disk_full_cause(OSError(13, "Permission denied")) is None
    try:
        try:
            raise OSError(28, "No space left on device")
        except OSError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert disk_full_cause(outer) == "ENOSPC"
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA max_page_count = 2")
    with pytest.raises(sqlite3.OperationalError) as info:
        conn.execute("INSERT INTO t VALUES (zeroblob(100000))")
    assert disk_full_cause(info.value) == "SQLITE_FULL"
    assert disk_full_cause(sqlite3.OperationalError("database is locked")) is None


# --- files ----------------------------------------------------------------------------------

def test_write_atomic_under_a_file_size_limit_leaves_nothing(tmp_path):
    """RLIMIT_FSIZE in a child: a real EFBIG from the kernel, no root needed."""
    target = tmp_path / "export.csv"
    target.write_text("the previous export\n")
    script = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(ROOT / 'src')!r})
        from date_community import files
        from date_community.errors import DateCommunityError
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        try:
            files.write_atomic({str(target)!r}, "x" * 1_000_000)
        except DateCommunityError as exc:
            print(exc.code, exc.params.get("cause"))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["disk_full", "EFBIG"], done.stderr
    assert target.read_text() == "the previous export\n"      # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]   # no .partial left


@contextlib.contextmanager
def _full_tmpfs(size_kb: int = 256):
    """A real, full filesystem (tmpfs), or skip when mounting is not allowed."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; the RLIMIT_FSIZE test covers files")
    mount = Path(tempfile.mkdtemp(prefix="dc-full-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)
        mount.rmdir()


def _fill(folder: Path) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)


def _cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}", **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", "from date_community.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_cli_file_write_on_a_full_disk(catalog_db, db_path):
    with _full_tmpfs() as mount:
        _fill(mount)
        out = mount / "call-list.csv"
        done = _cli("--db", str(db_path), "call-list", "--date", "2031-04-08", "--out", str(out))
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.strip().startswith("error: The disk is full")
        assert done.stderr.strip().endswith("[disk_full]")
        assert len(done.stderr.strip().splitlines()) == 1
        assert sorted(p.name for p in mount.iterdir()) == ["filler"]   # no half-written file


def test_cli_database_on_a_full_disk(tmp_path):
    with _full_tmpfs(1024) as mount:
        path = mount / "full.db"
        assert _cli("--db", str(path), "init-db").returncode == 0
        _fill(mount)
        done = _cli("--db", str(path), "residents", "add", "--name", "満杯 太郎", "--kana", "まんぱい たろう",
                    "--phone", "09011112222", "--needs", "あ" * 20000)
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stderr.strip() == ("error: The disk is full, so nothing was saved; free some space and try "
                                       "again. (cause=SQLITE_IOERR) [disk_full]")
        (mount / "filler").unlink()
        conn = sqlite3.connect(path)
        assert conn.execute("SELECT COUNT(*) FROM residents").fetchone()[0] == 0
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()


def test_web_upload_spooled_to_a_full_disk(staff_client, catalog_db, db_path, monkeypatch):
    """werkzeug spools a large upload to a temporary file: on a full disk that write fails."""
    with _full_tmpfs() as mount:
        _fill(mount)
        monkeypatch.setattr(tempfile, "tempdir", str(mount))
        before = db_snapshot(db_path)
        staff_client.set_cookie("lang", "ja")
        # The body is built here, in memory: the test client would itself spool it to the full disk.
        boundary = "dc-boundary-7f3a"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"scan.png\"\r\n"
                f"Content-Type: image/png\r\n\r\n").encode() + os.urandom(2_000_000) + f"\r\n--{boundary}--\r\n".encode()
        response = staff_client.post("/staff/forms/upload", data=body,
                                     content_type=f"multipart/form-data; boundary={boundary}")
        assert response.status_code == 503
        assert "ただいまシステムに保存できません" in response.get_data(as_text=True)
        assert sorted(p.name for p in mount.iterdir()) == ["filler"]   # the spool file is gone
        assert db_snapshot(db_path) == before


def test_backup_to_a_full_disk_says_disk_full(catalog_db):
    from date_community import db as dbmod

    with _full_tmpfs() as mount:
        _fill(mount)
        with pytest.raises(DateCommunityError) as info:
            dbmod.backup(catalog_db, mount / "backup.db")
        assert info.value.code == "disk_full"
        assert sorted(p.name for p in mount.iterdir()) == ["filler"]
