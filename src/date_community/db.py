"""Opening the database, its migrations, and the one write-transaction helper.

Every read-then-write that must be atomic goes through :func:`write_transaction`,
which starts with ``BEGIN IMMEDIATE``.  A deferred transaction (``BEGIN`` or
sqlite-utils' ``db.atomic()``) takes its write lock only at the first write, so
two writers that both read first deadlock and one fails with "database is
locked"; ``with conn:`` in the sqlite3 module does not open a transaction at
all.  IMMEDIATE takes the write lock up front and other writers wait on the
busy timeout instead.
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from pathlib import Path
from typing import Iterator

import sqlite_utils

from .errors import DateCommunityError, disk_full_cause
from .sqlitedriver import sqlite3
from . import schema
from .schema import migrations

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("instance") / "date-community.db"
ENV_VAR = "DATE_COMMUNITY_DB"
BUSY_TIMEOUT_SECONDS = 60.0
# 3.51.3 fixed a WAL-reset race that could corrupt a database (see
# sqlitedriver.py); `make install` provides a driver with a newer SQLite, and
# `date-community doctor` reports when the running one is older.
MIN_SAFE_SQLITE = (3, 51, 3)

_savepoints = itertools.count(1)


def resolve_path(explicit: str | os.PathLike | None = None) -> Path:
    """``--db`` wins, then ``DATE_COMMUNITY_DB``, then ``instance/date-community.db``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return DEFAULT_PATH


def sqlite_version_is_safe(version: str | None = None) -> bool:
    parts = tuple(int(p) for p in (version or sqlite3.sqlite_version).split(".")[:3])
    return parts >= MIN_SAFE_SQLITE


def connect(path: str | os.PathLike | None = None, *, migrate: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the database with the project's pragmas.

    ``migrate`` applies pending migrations; it is idempotent, so a second call
    changes nothing.
    """
    p = resolve_path(path)
    if str(p) != ":memory:":
        p.parent.mkdir(parents=True, exist_ok=True)
    # check_same_thread=False: the web server may hand one request's
    # connection between threads, but each connection is used by one at a time.
    conn = sqlite3.connect(str(p), timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
    db = sqlite_utils.Database(conn)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    try:
        with db.ensure_autocommit_on():
            conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.OperationalError as exc:
        # Opening creates the -shm and -wal files; on a full disk SQLite can only say
        # "disk I/O error" (SQLITE_IOERR), so look at the free space to tell the two apart.
        conn.close()
        if _no_space_left(p):
            raise DateCommunityError("disk_full", cause="SQLITE_IOERR") from exc
        raise
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = FULL")
    # Residents' personal data must not outlive its deletion in free space:
    # with secure_delete SQLite overwrites deleted cells and freed pages with
    # zeros (in the pages it writes, hence also in the WAL frames after the
    # deletion).  The frames written before stay until a checkpoint resets the
    # WAL: see :func:`checkpoint`.
    conn.execute("PRAGMA secure_delete = ON")
    if migrate:
        apply_migrations(db)
    return db


def _no_space_left(path: Path) -> bool:
    try:
        st = os.statvfs(path.parent if str(path.parent) else ".")
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def apply_migrations(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations under the write lock; return the names applied."""
    pending = [m.name for m in migrations.pending(db)]
    if not pending:
        return []
    # Two processes starting together must not both apply the same migration:
    # take the write lock first, then re-check inside it.
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        pending = [m.name for m in migrations.pending(db)]
        migrations.apply(db)  # nested: sqlite-utils uses savepoints
        schema.install_change_counter(db)  # new tables count towards page_version too
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    return pending


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Run a block atomically under SQLite's write lock (``BEGIN IMMEDIATE``).

    Nested use joins the outer transaction through a savepoint, so library
    functions can call each other without caring who opened it.
    """
    conn = db.conn
    if conn.in_transaction:
        name = f"dc_sp_{next(_savepoints)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield db
        except BaseException:
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        else:
            conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise DateCommunityError("database_busy") from exc
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


CHECKPOINT_TRIES = 20
CHECKPOINT_PAUSE_SECONDS = 0.1
# Database files whose WAL still holds erased data because a reader blocked
# the checkpoint after an erasure; see checkpoint_if_owed.
_owed: set[str] = set()


def _file_of(db: sqlite_utils.Database) -> str:
    row = db.conn.execute("PRAGMA database_list").fetchone()
    return row[2] if row else ""


def checkpoint(db: sqlite_utils.Database, *, tries: int = CHECKPOINT_TRIES) -> bool:
    """Copy the WAL into the database file and truncate the WAL to zero bytes.

    Run after erasing personal data: until then the WAL still holds the
    frames written before the erasure, with the old rows in them (and the
    database file its old pages).  A reader that is in the middle of a
    transaction blocks the reset, so this tries a few times; if the WAL could
    still not be emptied it returns False and the checkpoint is *owed*:
    :func:`checkpoint_if_owed`, which the web app calls as each request ends,
    finishes it once the reader is gone.  Outside a transaction only.
    """
    key = _file_of(db)
    if db.conn.in_transaction:
        _owed.add(key)
        return False
    # A TRUNCATE checkpoint waits on the busy handler for readers; with the
    # normal 60 s timeout one long reader would hold up the request that
    # erased someone.  Wait briefly instead, and retry a few times.
    conn = db.conn
    conn.execute(f"PRAGMA busy_timeout = {int(CHECKPOINT_PAUSE_SECONDS * 1000)}")
    try:
        for attempt in range(max(1, tries)):
            if attempt:
                time.sleep(CHECKPOINT_PAUSE_SECONDS)
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                _owed.discard(key)
                return True
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    if key not in _owed:
        log.warning("WAL checkpoint after an erasure was blocked by a reader; it is retried as requests end")
    _owed.add(key)
    return False


def checkpoint_if_owed(db: sqlite_utils.Database) -> bool | None:
    """Retry an owed checkpoint once (cheap when none is owed: returns None)."""
    if not _owed or _file_of(db) not in _owed:
        return None
    return checkpoint(db, tries=1)


def query_one(db: sqlite_utils.Database, sql: str, params=()) -> dict | None:
    """The first row of a query as a dict, or None."""
    rows = list(db.query(sql, params))  # fetch all: no statement is left running
    return rows[0] if rows else None


def integrity_ok(db: sqlite_utils.Database) -> bool:
    rows = list(db.query("PRAGMA integrity_check"))
    return len(rows) == 1 and list(rows[0].values())[0] == "ok"


def is_database_file(db: sqlite_utils.Database, path: str | os.PathLike) -> bool:
    """True when ``path`` is the file ``db`` has open as its main database."""
    main = next((row[2] for row in db.conn.execute("PRAGMA database_list") if row[1] == "main"), "")
    try:
        return bool(main) and Path(path).exists() and os.path.samefile(main, path)
    except OSError:
        return False


def backup(db: sqlite_utils.Database, target: str | os.PathLike) -> Path:
    """Copy the live database with SQLite's online backup API.

    The backup API copies a consistent snapshot even while other connections
    write; a plain file copy of a WAL database can miss committed pages.
    """
    target = Path(target)
    if target.exists() and target.is_dir():
        raise DateCommunityError("backup_failed", reason="target is a directory")
    if is_database_file(db, target):
        # Renaming a copy over the live file under open connections and their WAL would corrupt it.
        raise DateCommunityError("backup_failed", reason="target is the live database")
    tmp = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        dest = sqlite3.connect(str(tmp))
        try:
            db.conn.backup(dest)
            # The copy carries the live file's WAL flag; as a rollback-journal file
            # it is one self-contained file that opens read-only anywhere.
            dest.execute("PRAGMA journal_mode = DELETE").fetchall()
        finally:
            dest.close()
        os.replace(tmp, target)  # no half-written backup under the real name
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        cause = disk_full_cause(exc)
        if cause:
            raise DateCommunityError("disk_full", cause=cause) from exc
        raise DateCommunityError("backup_failed", reason=type(exc).__name__) from exc
    return target


# How long a restore waits for the app to finish a write before refusing.
# App writes take milliseconds; a longer hold means it is busy, and a restore
# must not land in the middle of its work.
RESTORE_LOCK_TIMEOUT_SECONDS = 2.0
_RESTORE_ALIAS = "restore_source"


def _check_backup_file(source: Path) -> None:
    """Refuse anything but a healthy date-community database, before touching the live one."""
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            ok = src.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            src.close()
    except sqlite3.DatabaseError as exc:
        raise DateCommunityError("invalid_database") from exc
    if not ok or not {"sessions", "_sqlite_migrations"} <= tables:
        raise DateCommunityError("invalid_database")


def restore(db: sqlite_utils.Database, source: str | os.PathLike, *,
            lock_timeout: float = RESTORE_LOCK_TIMEOUT_SECONDS) -> None:
    """Replace the contents of ``db`` with the backup at ``source``.

    The whole restore runs in one ``BEGIN IMMEDIATE`` transaction on the live
    database: it refuses with ``database_busy`` when another connection (the
    web app, cron) holds the write lock for longer than ``lock_timeout``, no
    writer can slip in halfway, and any failure rolls back to the database as
    it was.  SQLite's backup API cannot do this: it needs the destination
    without an open transaction, and Python's ``Connection.backup`` retries a
    busy destination forever.  Readers are not blocked (WAL): a page being
    rendered finishes on the old data and the next one sees the restored data.
    """
    source = Path(source)
    if not source.is_file():
        raise DateCommunityError("restore_failed", reason="no such file")
    if is_database_file(db, source):
        raise DateCommunityError("restore_failed", reason="the backup is the live database")
    _check_backup_file(source)
    conn = db.conn
    if conn.in_transaction:
        raise DateCommunityError("restore_failed", reason="inside a transaction")
    conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout * 1000)}")
    # Tables are dropped and refilled in dependency-blind order; the copy is
    # checked as a whole with foreign_key_check before it commits.  The pragma
    # cannot change inside a transaction, hence here.
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute(f"ATTACH DATABASE ? AS {_RESTORE_ALIAS}", [str(source)])
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise DateCommunityError("database_busy") from exc
            try:
                _replace_contents(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute(f"DETACH DATABASE {_RESTORE_ALIAS}")
    except sqlite3.DatabaseError as exc:
        raise DateCommunityError("restore_failed", reason=type(exc).__name__) from exc
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    apply_migrations(db)  # a backup from an older version gets today's schema
    # Fold the restored pages back into the database file when no reader is in
    # the way; PASSIVE never waits and never fails for that.
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _objects(conn, schema: str) -> list[tuple[str, str, str | None]]:
    return conn.execute(
        f"SELECT type, name, sql FROM {schema}.sqlite_master WHERE name NOT LIKE 'sqlite_%' "
        "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid").fetchall()


def _replace_contents(conn) -> None:
    """Inside the restore's transaction: the live schema and rows become the backup's."""
    def quoted(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    old_version = conn.execute("SELECT n FROM main.page_version WHERE id = 1").fetchone() \
        if _has_table(conn, "main", "page_version") else None
    for kind, name, _sql in reversed(_objects(conn, "main")):
        if kind in ("trigger", "view", "table"):  # indexes go with their tables
            conn.execute(f"DROP {kind.upper()} IF EXISTS main.{quoted(name)}")
    source_objects = _objects(conn, _RESTORE_ALIAS)
    for kind, name, sql in source_objects:
        if kind == "table":
            conn.execute(sql)  # unqualified CREATE goes to main
            conn.execute(f"INSERT INTO main.{quoted(name)} SELECT * FROM {_RESTORE_ALIAS}.{quoted(name)}")
    if _has_table(conn, "main", "sqlite_sequence"):
        conn.execute("DELETE FROM main.sqlite_sequence")
        if _has_table(conn, _RESTORE_ALIAS, "sqlite_sequence"):
            conn.execute(f"INSERT INTO main.sqlite_sequence SELECT * FROM {_RESTORE_ALIAS}.sqlite_sequence")
    for kind, _name, sql in source_objects:
        if kind in ("index", "view", "trigger") and sql:  # triggers last: the copy must not fire them
            conn.execute(sql)
    if conn.execute("PRAGMA main.foreign_key_check").fetchone() is not None:
        raise DateCommunityError("invalid_database")
    if _has_table(conn, "main", "login_sessions"):
        # Logins in the backup may since have been ended (log-out, a disabled
        # account, a changed password); none is revived, everyone signs in again.
        conn.execute("DELETE FROM main.login_sessions")
    if old_version is not None and _has_table(conn, "main", "page_version"):
        # The web app's page cache keys pages on this counter; the backup's
        # value may be one the live database already passed, so move it past
        # both or a page cached before the restore could be served as current.
        conn.execute("UPDATE main.page_version SET n = max(n, ?) + 1 WHERE id = 1", [old_version[0]])


def _has_table(conn, schema: str, name: str) -> bool:
    return conn.execute(f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?",
                        [name]).fetchone() is not None
