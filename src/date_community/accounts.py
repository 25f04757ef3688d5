"""Login accounts for staff and volunteers.

Passwords are hashed with scrypt (memory-hard, in the standard library), with
a per-password salt.  The parameters are stored in the hash, so they can be
raised later without breaking old hashes.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from . import audit, timeutil
from .db import write_transaction
from .errors import NotFound, RuleViolation, ValidationError
from .schema import USER_ROLES

PRODUCTION_SCRYPT_N = 2**15
SCRYPT_N, SCRYPT_R, SCRYPT_P = PRODUCTION_SCRYPT_N, 8, 1
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=64 * 1024 * 1024, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                maxmem=64 * 1024 * 1024, dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


# Compared against when the username does not exist, so a login for an unknown
# name costs the same time as one for a known name.
_DUMMY_HASH = None


def _check_length(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationError("invalid_value", field="password", min_length=MIN_PASSWORD_LENGTH)


def create_user(db, *, username: str, password: str, role: str, volunteer_id: int | None = None,
                actor: str = "system") -> int:
    username = (username or "").strip()
    if not username:
        raise ValidationError("invalid_name")
    if role not in USER_ROLES:
        raise ValidationError("invalid_role", role=role)
    if role == "volunteer" and volunteer_id is None:
        raise ValidationError("invalid_value", field="volunteer_id")
    _check_length(password)
    return _insert_user(db, username, hash_password(password), role, volunteer_id, actor)


def _insert_user(db, username: str, hashed: str, role: str, volunteer_id: int | None, actor: str) -> int:
    # The hash is made by the caller, outside the write lock: scrypt is slow on purpose.
    with write_transaction(db):
        if list(db.query("SELECT 1 FROM users WHERE username = ? COLLATE NOCASE", [username])):
            raise RuleViolation("duplicate_code", field="username")
        cur = db.conn.execute(
            "INSERT INTO users (username, password_hash, role, volunteer_id, created_at) VALUES (?, ?, ?, ?, ?)",
            [username, hashed, role, volunteer_id, timeutil.now().isoformat()])
        uid = cur.lastrowid
        audit.record(db, actor, "create", "user", uid, role=role)
    return uid


def get_user(db, user_id: int) -> dict:
    rows = list(db.query("SELECT id, username, role, volunteer_id, active FROM users WHERE id = ?", [user_id]))
    if not rows:
        raise NotFound("user_not_found", id=user_id)
    return rows[0]


def authenticate(db, username: str, password: str) -> dict | None:
    """The user for these credentials, or None.  Inactive users never log in."""
    global _DUMMY_HASH
    rows = list(db.query("SELECT * FROM users WHERE username = ? COLLATE NOCASE", [(username or "").strip()]))
    if not rows:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(8))
        check_password(_DUMMY_HASH, password or "")
        return None
    user = rows[0]
    if not check_password(user["password_hash"], password or "") or not user["active"]:
        return None
    return {k: user[k] for k in ("id", "username", "role", "volunteer_id", "active")}


def set_password(db, user_id: int, password: str, *, actor: str) -> None:
    _check_length(password)
    hashed = hash_password(password)
    with write_transaction(db):
        get_user(db, user_id)
        db.conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", [hashed, user_id])
        # A reset password must also end every session opened with the old one.
        db.conn.execute("DELETE FROM login_sessions WHERE user_id = ?", [user_id])
        audit.record(db, actor, "set_password", "user", user_id)


def user_for_volunteer(db, volunteer_id: int) -> dict | None:
    rows = list(db.query("SELECT id, username, role, volunteer_id, active FROM users WHERE volunteer_id = ?",
                         [volunteer_id]))
    return rows[0] if rows else None


def set_user_active(db, user_id: int, active: bool, *, actor: str) -> None:
    with write_transaction(db):
        get_user(db, user_id)
        db.conn.execute("UPDATE users SET active = ? WHERE id = ?", [int(active), user_id])
        if not active:
            db.conn.execute("DELETE FROM login_sessions WHERE user_id = ?", [user_id])
        audit.record(db, actor, "activate" if active else "deactivate", "user", user_id)


# --- server-side login sessions ----------------------------------------------

def _token_hash(token: str) -> str:
    # Only a hash is stored, so a copy of the database cannot be used to log in.
    return hashlib.sha256(token.encode()).hexdigest()


def start_login_session(db, user_id: int) -> str:
    token = secrets.token_urlsafe(32)
    stamp = timeutil.now().isoformat()
    with write_transaction(db):
        get_user(db, user_id)
        db.conn.execute("INSERT INTO login_sessions (token_hash, user_id, created_at, last_seen_at) "
                        "VALUES (?, ?, ?, ?)", [_token_hash(token), user_id, stamp, stamp])
        audit.record(db, f"user:{user_id}", "login", "user", user_id)
    return token


def user_for_login_session(db, token: str | None) -> dict | None:
    if not token:
        return None
    rows = list(db.query(
        "SELECT u.id, u.username, u.role, u.volunteer_id, u.active FROM login_sessions s "
        "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND u.active = 1", [_token_hash(token)]))
    return rows[0] if rows else None


def end_login_session(db, token: str | None) -> None:
    if not token:
        return
    with write_transaction(db):
        db.conn.execute("DELETE FROM login_sessions WHERE token_hash = ?", [_token_hash(token)])


def end_all_login_sessions(db, user_id: int) -> None:
    with write_transaction(db):
        db.conn.execute("DELETE FROM login_sessions WHERE user_id = ?", [user_id])


# --- volunteers' logins ------------------------------------------------------

# Lower-case letters and digits that cannot be mistaken for one another when a
# password is read out or copied from paper: no 0/o, 1/l/i.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def generate_password(groups: int = 3) -> str:
    """A random first password in groups of four, e.g. ``k7mq-2xfa-9dpw`` (about 59 bits)."""
    return "-".join("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(groups))


def create_volunteer_account(db, *, username: str, password: str, actor: str, **volunteer) -> dict:
    """Register a volunteer and their login together: both are made, or neither.

    ``volunteer`` takes the keyword arguments of :func:`people.add_volunteer`
    (name, email, name_kana, phone, skills, devices, languages).
    """
    from . import people

    username = (username or "").strip()
    if not username:
        raise ValidationError("invalid_value", field="username")
    _check_length(password)
    hashed = hash_password(password)
    with write_transaction(db):
        volunteer_id = people.add_volunteer(db, actor=actor, **volunteer)
        user_id = _insert_user(db, username, hashed, "volunteer", volunteer_id, actor)
    return {"volunteer_id": volunteer_id, "user_id": user_id}


_VOLUNTEER_ACCOUNTS = """
SELECT v.*, u.id AS user_id, u.username, u.active AS user_active
FROM volunteers v
LEFT JOIN users u ON u.id = (SELECT min(id) FROM users WHERE volunteer_id = v.id)
"""


def _account_out(row: dict) -> dict:
    from .people import _volunteer_out

    row = _volunteer_out(row)
    row["user_active"] = bool(row["user_active"]) if row["user_id"] is not None else None
    return row


def list_volunteer_accounts(db) -> list[dict]:
    """Every volunteer with their login's id, user name and state (None without a login)."""
    return [_account_out(r) for r in db.query(_VOLUNTEER_ACCOUNTS + " ORDER BY v.active DESC, v.name_kana, v.id")]


def get_volunteer_account(db, volunteer_id: int) -> dict:
    rows = list(db.query(_VOLUNTEER_ACCOUNTS + " WHERE v.id = ?", [volunteer_id]))
    if not rows:
        raise NotFound("volunteer_not_found", id=volunteer_id)
    return _account_out(rows[0])


def set_volunteer_account_active(db, volunteer_id: int, active: bool, *, actor: str) -> None:
    """Deactivate (or reactivate) a volunteer and their login together.

    Deactivating also ends the login's open sessions, so a volunteer who has
    left cannot keep using a browser that is still logged in.
    """
    from . import people

    with write_transaction(db):
        people.set_volunteer_active(db, volunteer_id, active, actor=actor)
        for row in list(db.query("SELECT id FROM users WHERE volunteer_id = ?", [volunteer_id])):
            set_user_active(db, row["id"], active, actor=actor)
