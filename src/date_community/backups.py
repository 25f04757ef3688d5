"""Nightly backups: where they go, what they are called, how many are kept,
and the record of the last one that the ``doctor`` checks.

The copy itself is :func:`db.backup` (SQLite's online backup API, consistent
while the app writes); putting one back is :func:`db.restore`.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from . import db as dbmod
from . import timeutil
from .errors import DateCommunityError

PREFIX = "date-community-"
SUFFIX = ".db"
# Only files with exactly this shape are ever rotated away, so a copy someone
# named by hand in the same folder is never deleted.
_TIMESTAMPED = re.compile(r"^date-community-\d{8}-\d{6}\.db$")
LAST_BACKUP_KEY = "last_backup_at"


def timestamped_name(when: dt.datetime | None = None) -> str:
    """``date-community-YYYYmmdd-HHMMSS.db`` in Tokyo time; names sort by age."""
    when = timeutil.to_tokyo(when) if when else timeutil.now()
    return f"{PREFIX}{when:%Y%m%d-%H%M%S}{SUFFIX}"


def make_backup(db, *, out: str | os.PathLike | None = None, folder: str | os.PathLike | None = None,
                keep: int | None = None, now: dt.datetime | None = None) -> dict:
    """Copy the live database to ``out``, or to a timestamped file in ``folder``.

    After the copy is complete, the live database records ``last_backup_at``.
    ``keep`` (only with ``folder``) then deletes all but the newest ``keep``
    timestamped backups there.  Returns ``{"path", "bytes", "at", "removed"}``.
    """
    if (out is None) == (folder is None):
        raise ValueError("give exactly one of out and folder")
    if keep is not None and (out is not None or keep < 1):
        raise DateCommunityError("backup_failed", reason="keep needs a folder and at least 1")
    when = timeutil.to_tokyo(now) if now else timeutil.now()
    target = Path(out) if out is not None else Path(folder) / timestamped_name(when)
    made = dbmod.backup(db, target)
    size = made.stat().st_size
    record_backup(db, when)
    removed = rotate(made.parent, keep, protect=made) if keep is not None else []
    return {"path": str(made), "bytes": size, "at": timeutil.iso(when), "removed": [str(p) for p in removed]}


def record_backup(db, when: dt.datetime) -> None:
    with dbmod.write_transaction(db):
        db.conn.execute("INSERT OR REPLACE INTO instance_meta (key, value) VALUES (?, ?)",
                        [LAST_BACKUP_KEY, timeutil.iso(when)])


def last_backup_at(db) -> dt.datetime | None:
    """When the last backup of this database was completed, or None."""
    row = dbmod.query_one(db, "SELECT value FROM instance_meta WHERE key = ?", [LAST_BACKUP_KEY])
    if row is None:
        return None
    try:
        return timeutil.parse(row["value"])
    except DateCommunityError:
        return None  # a hand-edited value counts as no backup; doctor then says so


def rotate(folder: str | os.PathLike, keep: int, *, protect: Path | None = None) -> list[Path]:
    """Delete all but the newest ``keep`` timestamped backups in ``folder``; return those deleted.

    ``protect`` (the backup just made) always counts as one of the kept, even
    if the clock was set back and older-looking names sort after it.
    """
    files = sorted(p for p in Path(folder).iterdir()
                   if _TIMESTAMPED.match(p.name) and p.is_file() and p != protect)
    doomed = files[:len(files) - (keep - 1 if protect else keep)] if files else []
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed
