"""The audit log: who did what to which record, and when.

Rows hold ids and codes, never names or phone numbers, so the log itself does
not become a second copy of residents' personal data.
"""
from __future__ import annotations

import json
from typing import Any

from . import timeutil


def record(db, actor: str, action: str, entity: str, entity_id: int | None = None, **detail: Any) -> int:
    row = {
        "at": timeutil.now().isoformat(),
        "actor": actor or "system",
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
    }
    cur = db.conn.execute(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, detail) "
        "VALUES (:at, :actor, :action, :entity, :entity_id, :detail)",
        row,
    )
    return cur.lastrowid


def entries(db, *, entity: str | None = None, entity_id: int | None = None, actor: str | None = None,
            limit: int = 200, offset: int = 0) -> list[dict]:
    where, params = [], []
    if entity:
        where.append("entity = ?")
        params.append(entity)
    if entity_id is not None:
        where.append("entity_id = ?")
        params.append(entity_id)
    if actor:
        where.append("actor = ?")
        params.append(actor)
    sql = "SELECT * FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
    rows = list(db.query(sql, params + [limit, offset]))
    for row in rows:
        row["detail"] = json.loads(row["detail"])
    return rows


def filter_values(db) -> dict[str, list[str]]:
    """The entities and actors that occur in the log, for the viewer's filters."""
    return {
        "entities": [r["entity"] for r in db.query("SELECT DISTINCT entity FROM audit_log ORDER BY entity")],
        "actors": [r["actor"] for r in db.query("SELECT DISTINCT actor FROM audit_log ORDER BY actor")],
    }
