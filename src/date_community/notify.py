"""The outbox: what to send, to whom, by which channel, and its state.

Writers only queue rows inside their own transaction, so a notification exists
exactly when the change that caused it was committed.  Delivery (SMTP) reads
the queue later and never loses a row: a failure is retried with back-off.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from . import timeutil

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
