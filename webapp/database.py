"""One library database connection per request, closed on teardown."""
from __future__ import annotations

from flask import current_app, g

from date_community import db as dbmod


def get_db():
    if "db" not in g:
        g.db = dbmod.connect(current_app.config["DATABASE"], migrate=False)
    return g.db


def close_db(_exc=None) -> None:
    conn = g.pop("db", None)
    if conn is not None:
        try:
            # After an erasure whose WAL checkpoint a reader blocked, finish it
            # now: the WAL still holds the erased rows until then.
            dbmod.checkpoint_if_owed(conn)
        except dbmod.sqlite3.Error:
            pass  # the next request tries again
        conn.close()
