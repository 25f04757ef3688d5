"""The SQLite driver every part of the project uses.

SQLite 3.7.0 to 3.51.2 has a WAL-reset race that can corrupt a database when
one connection resets the WAL while another checkpoints (fixed in 3.51.3,
https://sqlite.org/wal.html#walresetbug).  Python's ``sqlite3`` module uses
the system library, which on Debian 12 is 3.40.  ``make install`` therefore
builds pysqlite3 (the same DB-API module, packaged separately) against a
current SQLite amalgamation (``tools/sqlite.sh``).  sqlite-utils picks
pysqlite3 by itself when it is installed, so we take the module from there:
our connections and sqlite-utils' exception classes must come from the same
driver, or an ``except sqlite3.IntegrityError`` would silently miss.
"""
from __future__ import annotations

from sqlite_utils.utils import sqlite3  # noqa: F401  (pysqlite3 when installed, else the standard library)

__all__ = ["sqlite3", "version", "driver_name"]


def version() -> str:
    return sqlite3.sqlite_version


def driver_name() -> str:
    return sqlite3.__name__.split(".")[0]
