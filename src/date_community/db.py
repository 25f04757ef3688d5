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

from .errors import DateCommunityError
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
    with db.ensure_autocommit_on():
        conn.execute("PRAGMA journal_mode = WAL")
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


def backup(db: sqlite_utils.Database, target: str | os.PathLike) -> Path:
    """Copy the live database with SQLite's online backup API.

    The backup API copies a consistent snapshot even while other connections
    write; a plain file copy of a WAL database can miss committed pages.
    """
    target = Path(target)
    if target.exists() and target.is_dir():
        raise DateCommunityError("backup_failed", reason="target is a directory")
    tmp = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        dest = sqlite3.connect(str(tmp))
        try:
            db.conn.backup(dest)
        finally:
            dest.close()
        os.replace(tmp, target)  # no half-written backup under the real name
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise DateCommunityError("backup_failed", reason=type(exc).__name__) from exc
    return target


def restore(db: sqlite_utils.Database, source: str | os.PathLike) -> None:
    """Replace the contents of ``db`` with the backup at ``source``."""
    source = Path(source)
    if not source.is_file():
        raise DateCommunityError("restore_failed", reason="no such file")
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            ok = src.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not ok or "sessions" not in tables:
                raise DateCommunityError("invalid_database")
            src.backup(db.conn)
        finally:
            src.close()
    except sqlite3.DatabaseError as exc:
        raise DateCommunityError("invalid_database") from exc
    apply_migrations(db)
