"""The outbox: what to send, to whom, by which channel, and its state.

Writers only queue rows inside their own transaction, so a notification exists
exactly when the change that caused it was committed.  Delivery (SMTP) reads
the queue later and never loses a row: a failure is retried with back-off.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from . import audit, timeutil
from .db import write_transaction
from .errors import NotFound, RuleViolation

CHANNELS = ("email", "phone", "staff")


def enqueue(db, kind: str, channel: str, recipient: str, **payload: Any) -> int:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    stamp = timeutil.now().isoformat()
    cur = db.conn.execute(
        "INSERT INTO outbox (kind, channel, recipient, payload, created_at, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (kind, channel, recipient, json.dumps(payload, ensure_ascii=False, sort_keys=True), stamp, stamp),
    )
    return cur.lastrowid


def pending(db, *, now: dt.datetime | None = None, limit: int = 100) -> list[dict]:
    stamp = timeutil.iso(now or timeutil.now())
    rows = list(db.query(
        "SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
        [stamp, limit],
    ))
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return rows


def messages(db, *, state: str | None = None) -> list[dict]:
    sql, params = "SELECT * FROM outbox", []
    if state:
        sql += " WHERE state = ?"
        params.append(state)
    rows = list(db.query(sql + " ORDER BY id", params))
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return rows


# --- delivery state (used by the senders in mailer.py) --------------------------

# Wait before the next try, by number of failed attempts so far; the last
# value repeats.  Short at first (a server restart), long later (an outage).
BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30),
           dt.timedelta(hours=2), dt.timedelta(hours=6))
MAX_ATTEMPTS = 10
# A claimed row is hidden from other senders this long.  If a sender dies
# mid-send the row becomes due again afterwards: delivery is at least once,
# never zero times.
CLAIM_LEASE = dt.timedelta(minutes=15)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt (1-based)."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def _decode(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["payload"] = json.loads(row["payload"])
    return rows


def claim(db, *, channels: tuple[str, ...] = ("email", "staff"), now: dt.datetime | None = None,
          limit: int = 50, lease: dt.timedelta = CLAIM_LEASE) -> list[dict]:
    """Take due rows for sending.

    Under the write lock, the due rows are read and their next attempt pushed
    past the lease in one transaction, so a second sender running at the same
    time finds nothing to take and no row is sent twice.
    """
    moment = timeutil.parse(now or timeutil.now())
    marks = ", ".join("?" for _ in channels)
    with write_transaction(db):
        rows = list(db.query(
            f"SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? AND channel IN ({marks}) "
            "ORDER BY id LIMIT ?", [timeutil.iso(moment), *channels, limit]))
        if rows:
            hold = timeutil.iso(moment + lease)
            db.conn.executemany("UPDATE outbox SET next_attempt_at = ? WHERE id = ?",
                                [(hold, row["id"]) for row in rows])
    return _decode(rows)


def mark_sent(db, message_id: int, *, now: dt.datetime | None = None) -> None:
    with write_transaction(db):
        db.conn.execute("UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL "
                        "WHERE id = ?", [timeutil.iso(now or timeutil.now()), message_id])


def mark_failed(db, message_id: int, error: str, *, now: dt.datetime | None = None,
                max_attempts: int = MAX_ATTEMPTS, permanent: bool = False) -> dict:
    """Record a failed attempt: retry later with back-off, or give up after
    ``max_attempts`` (or at once if ``permanent``).  A row that has given up
    stays in the table as 'failed' and can be put back with :func:`requeue`.

    ``error`` must be a short code such as an exception class name, never
    text that could hold an address or a name.
    """
    moment = timeutil.parse(now or timeutil.now())
    with write_transaction(db):
        row = next(iter(db.query("SELECT attempts FROM outbox WHERE id = ?", [message_id])))
        attempts = row["attempts"] + 1
        state = "failed" if permanent or attempts >= max_attempts else "pending"
        next_at = timeutil.iso(moment + backoff(attempts))
        db.conn.execute("UPDATE outbox SET state = ?, attempts = ?, last_error = ?, next_attempt_at = ? "
                        "WHERE id = ?", [state, attempts, error[:80], next_at, message_id])
    return {"id": message_id, "state": state, "attempts": attempts, "next_attempt_at": next_at}


def requeue(db, message_id: int, *, actor: str, now: dt.datetime | None = None) -> None:
    """Put a failed message back in the queue (after fixing the address or the mail server)."""
    with write_transaction(db):
        rows = list(db.query("SELECT state FROM outbox WHERE id = ?", [message_id]))
        if not rows:
            raise NotFound("not_found", id=message_id)
        if rows[0]["state"] != "failed":
            raise RuleViolation("invalid_value", state=rows[0]["state"])
        db.conn.execute("UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ? WHERE id = ?",
                        [timeutil.iso(now or timeutil.now()), message_id])
        audit.record(db, actor, "requeue", "outbox", message_id)
