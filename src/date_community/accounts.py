"""Login accounts for staff and volunteers.

Passwords are hashed with argon2id (argon2-cffi) at RFC 9106's "low memory"
profile: 64 MiB, 3 passes, 4 lanes, above OWASP's minimum (19 MiB, 2 passes,
1 lane).  Every hash carries its parameters, so they can be raised later: a
login whose stored hash is weaker than today's parameters (or an older scrypt
hash from before argon2id) is re-hashed on the spot.  Which passwords are
accepted is decided in :mod:`passwords`.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from . import audit, passwords, timeutil
from .db import write_transaction
from .errors import NotFound, RuleViolation, ValidationError
from .schema import USER_ROLES

PRODUCTION_ARGON2 = profiles.RFC_9106_LOW_MEMORY
# Tests lower this through a fixture; tests/test_accounts.py asserts the production value.
ARGON2_PARAMETERS = PRODUCTION_ARGON2
# scrypt hashes are still verified (and replaced at the next login).
PRODUCTION_SCRYPT_N = 2**15
SCRYPT_N, SCRYPT_R, SCRYPT_P = PRODUCTION_SCRYPT_N, 8, 1
MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH


def _hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(ARGON2_PARAMETERS)


def hash_password(password: str) -> str:
    """An argon2id hash of the NFKC form of ``password``."""
    return _hasher().hash(passwords.normalize(password))


def scrypt_hash(password: str) -> str:
    """The hash format used before argon2id; kept to make legacy hashes in tests."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            maxmem=64 * 1024 * 1024, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def _check_scrypt(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                maxmem=64 * 1024 * 1024, dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


def check_password(stored: str, password: str) -> bool:
    password = password or ""
    if (stored or "").startswith("$argon2"):
        try:
            return _hasher().verify(stored, passwords.normalize(password))
        except (VerificationError, InvalidHashError, ValueError):
            return False
    # Legacy scrypt hashes were made from the password as typed.
    return _check_scrypt(stored or "", password) or _check_scrypt(stored or "", passwords.normalize(password))


def needs_rehash(stored: str) -> bool:
    """True for scrypt hashes and argon2 hashes made with other parameters than today's."""
    if not (stored or "").startswith("$argon2id$"):
        return True
    try:
        return _hasher().check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


# Compared against when the username does not exist, so a login for an unknown
# name costs the same time as one for a known name.
_DUMMY_HASH = None
_USER_COLUMNS = "id, username, role, volunteer_id, active"


def _demo_passwords(db) -> tuple[str, ...]:
    """The demo logins' passwords are printed in the source: refused outside a demo database."""
    from . import demo

    return () if demo.is_demo_database(db) else tuple(login["password"].casefold() for login in demo.logins())


def check_new_password(db, password: str, *, username: str) -> str:
    """The normalised password, or ValidationError(password_too_short / _too_long / _too_common / _like_username)."""
    return passwords.check(password, username=username or "", extra_words=_demo_passwords(db))


def create_user(db, *, username: str, password: str, role: str, volunteer_id: int | None = None,
                actor: str = "system") -> int:
    """A staff or volunteer login.  A volunteer login names an existing volunteer with no login yet."""
    username = (username or "").strip()
    if not username:
        raise ValidationError("invalid_name")
    if role not in USER_ROLES:
        raise ValidationError("invalid_role", role=role)
    if role == "volunteer" and volunteer_id is None:
        raise ValidationError("invalid_value", field="volunteer_id")
    if role == "staff" and volunteer_id is not None:
        raise ValidationError("invalid_value", field="volunteer_id")
    check_new_password(db, password, username=username)
    return _insert_user(db, username, hash_password(password), role, volunteer_id, actor)


def _insert_user(db, username: str, hashed: str, role: str, volunteer_id: int | None, actor: str) -> int:
    # The hash is made by the caller, outside the write lock: argon2id is slow on purpose.
    with write_transaction(db):
        if list(db.query("SELECT 1 FROM users WHERE username = ? COLLATE NOCASE", [username])):
            raise RuleViolation("duplicate_code", field="username")
        if volunteer_id is not None:
            if not list(db.query("SELECT 1 FROM volunteers WHERE id = ?", [volunteer_id])):
                raise NotFound("volunteer_not_found", id=volunteer_id)
            if list(db.query("SELECT 1 FROM users WHERE volunteer_id = ?", [volunteer_id])):
                raise RuleViolation("volunteer_has_login", id=volunteer_id)
        stamp = timeutil.now().isoformat()
        cur = db.conn.execute(
            "INSERT INTO users (username, password_hash, role, volunteer_id, created_at, password_changed_at) "
            "VALUES (?, ?, ?, ?, ?, ?)", [username, hashed, role, volunteer_id, stamp, stamp])
        uid = cur.lastrowid
        audit.record(db, actor, "create", "user", uid, role=role)
    return uid


def get_user(db, user_id: int) -> dict:
    rows = list(db.query(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", [user_id]))
    if not rows:
        raise NotFound("user_not_found", id=user_id)
    return rows[0]


def get_user_by_name(db, username: str) -> dict:
    rows = list(db.query(f"SELECT {_USER_COLUMNS} FROM users WHERE username = ? COLLATE NOCASE",
                         [(username or "").strip()]))
    if not rows:
        raise NotFound("user_not_found", username=(username or "")[:40])
    return rows[0]


def list_users(db, *, role: str | None = None) -> list[dict]:
    """Every login with its state and the time it was last used (None if never)."""
    where, params = ("WHERE u.role = ?", [role]) if role else ("", [])
    rows = db.query(
        "SELECT u.id, u.username, u.role, u.volunteer_id, u.active, u.created_at, u.password_changed_at, "
        "u.disabled_at, v.name AS volunteer_name, "
        "(SELECT max(last_seen_at) FROM login_sessions s WHERE s.user_id = u.id) AS last_seen_at "
        f"FROM users u LEFT JOIN volunteers v ON v.id = u.volunteer_id {where} "
        "ORDER BY u.role, u.active DESC, u.username COLLATE NOCASE", params)
    return [{**r, "active": bool(r["active"])} for r in rows]


def _is_demo_login(db, username: str, password: str) -> bool:
    from . import demo

    name, typed = (username or "").strip().casefold(), passwords.normalize(password)
    return any(name == login["username"].casefold() and typed == login["password"] for login in demo.logins())


def demo_logins_present(db) -> list[str]:
    """User names here whose password is still a published demo password (for ``doctor``)."""
    from . import demo

    found = []
    for login in demo.logins():
        rows = list(db.query("SELECT username, password_hash FROM users WHERE username = ? COLLATE NOCASE",
                             [login["username"]]))
        if rows and check_password(rows[0]["password_hash"], login["password"]):
            found.append(rows[0]["username"])
    return found


def authenticate(db, username: str, password: str) -> dict | None:
    """The user for these credentials, or None.  Inactive users never log in.

    The demo logins work only in a demo database.  A stored hash weaker than
    today's parameters is replaced by a new argon2id hash of the same password.
    """
    global _DUMMY_HASH
    from . import demo

    rows = list(db.query("SELECT * FROM users WHERE username = ? COLLATE NOCASE", [(username or "").strip()]))
    if not rows or (_is_demo_login(db, username, password) and not demo.is_demo_database(db)):
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(8))
        check_password(_DUMMY_HASH, password or "")
        return None
    user = rows[0]
    if not check_password(user["password_hash"], password or "") or not user["active"]:
        return None
    if needs_rehash(user["password_hash"]):
        _rehash(db, user, password)
    return {k: user[k] for k in ("id", "username", "role", "volunteer_id", "active")}


def _rehash(db, user: dict, password: str) -> None:
    hashed = hash_password(password)
    with write_transaction(db):
        # Only if the hash is still the one just checked: a password changed
        # meanwhile must not be overwritten with the old one.
        db.conn.execute("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
                        [hashed, user["id"], user["password_hash"]])


def set_password(db, user_id: int, password: str, *, actor: str, keep_token: str | None = None) -> None:
    """Set a new password and end the user's login sessions (all but ``keep_token``'s)."""
    user = get_user(db, user_id)
    check_new_password(db, password, username=user["username"])
    hashed = hash_password(password)
    with write_transaction(db):
        get_user(db, user_id)
        db.conn.execute("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
                        [hashed, timeutil.now().isoformat(), user_id])
        # A new password must also end every session opened with the old one.
        db.conn.execute("DELETE FROM login_sessions WHERE user_id = ? AND token_hash != ?",
                        [user_id, _token_hash(keep_token) if keep_token else ""])
        audit.record(db, actor, "set_password", "user", user_id)


def change_own_password(db, user_id: int, current: str, new: str, *, keep_token: str | None = None) -> None:
    """A signed-in user's own change: the current password must be right.  Other sessions end."""
    rows = list(db.query("SELECT password_hash FROM users WHERE id = ?", [user_id]))
    if not rows:
        raise NotFound("user_not_found", id=user_id)
    if not check_password(rows[0]["password_hash"], current or ""):
        raise ValidationError("wrong_password", field="current_password")
    if passwords.normalize(current) == passwords.normalize(new):
        raise ValidationError("password_unchanged", field="password")
    set_password(db, user_id, new, actor=f"user:{user_id}", keep_token=keep_token)


def user_for_volunteer(db, volunteer_id: int) -> dict | None:
    rows = list(db.query(f"SELECT {_USER_COLUMNS} FROM users WHERE volunteer_id = ?", [volunteer_id]))
    return rows[0] if rows else None


def set_user_active(db, user_id: int, active: bool, *, actor: str) -> None:
    """Disable or enable a login.  Disabling ends its sessions at once.

    The last active staff account cannot be disabled: nobody could then sign
    in to manage the service (``last_staff_account``).
    """
    with write_transaction(db):
        user = get_user(db, user_id)
        if not active and user["role"] == "staff" and user["active"]:
            others = db.execute("SELECT count(*) FROM users WHERE role = 'staff' AND active = 1 AND id != ?",
                                [user_id]).fetchone()[0]
            if not others:
                raise RuleViolation("last_staff_account", id=user_id)
        db.conn.execute("UPDATE users SET active = ?, disabled_at = ? WHERE id = ?",
                        [int(active), None if active else timeutil.now().isoformat(), user_id])
        if not active:
            db.conn.execute("DELETE FROM login_sessions WHERE user_id = ?", [user_id])
        audit.record(db, actor, "activate" if active else "deactivate", "user", user_id)


# --- server-side login sessions ----------------------------------------------

# Defaults of the DATE_COMMUNITY_SESSION_IDLE_HOURS and _MAX_DAYS settings.
IDLE_LIMIT = dt.timedelta(hours=12)
MAX_AGE = dt.timedelta(days=30)
# last_seen_at is written at most this often, so a busy page does not turn
# every request into a write.
TOUCH_INTERVAL = dt.timedelta(minutes=1)


def _token_hash(token: str) -> str:
    # Only a hash is stored, so a copy of the database cannot be used to log in.
    return hashlib.sha256(token.encode()).hexdigest()


def purge_expired_sessions(db, *, idle: dt.timedelta = IDLE_LIMIT, max_age: dt.timedelta = MAX_AGE,
                           now: dt.datetime | None = None) -> int:
    """Delete login sessions past either limit; returns how many."""
    now = now or timeutil.now()
    with write_transaction(db):
        cur = db.conn.execute("DELETE FROM login_sessions WHERE last_seen_at < ? OR created_at < ?",
                              [timeutil.iso(now - idle), timeutil.iso(now - max_age)])
    return cur.rowcount


def start_login_session(db, user_id: int, *, idle: dt.timedelta = IDLE_LIMIT, max_age: dt.timedelta = MAX_AGE,
                        now: dt.datetime | None = None) -> str:
    token = secrets.token_urlsafe(32)
    now = now or timeutil.now()
    stamp = timeutil.iso(now)
    purge_expired_sessions(db, idle=idle, max_age=max_age, now=now)  # old rows go at each login
    with write_transaction(db):
        get_user(db, user_id)
        db.conn.execute("INSERT INTO login_sessions (token_hash, user_id, created_at, last_seen_at) "
                        "VALUES (?, ?, ?, ?)", [_token_hash(token), user_id, stamp, stamp])
        audit.record(db, f"user:{user_id}", "login", "user", user_id)
    return token


def user_for_login_session(db, token: str | None, *, idle: dt.timedelta = IDLE_LIMIT,
                           max_age: dt.timedelta = MAX_AGE, now: dt.datetime | None = None) -> dict | None:
    """The user of a live session, or None.  A session unused for ``idle`` or
    older than ``max_age`` is deleted; a live one has its last_seen_at moved
    on, at most once a minute."""
    if not token:
        return None
    key = _token_hash(token)
    rows = list(db.query(
        "SELECT u.id, u.username, u.role, u.volunteer_id, u.active, s.created_at, s.last_seen_at "
        "FROM login_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND u.active = 1", [key]))
    if not rows:
        return None
    row = rows[0]
    now = now or timeutil.now()
    last_seen, created = timeutil.parse(row.pop("last_seen_at")), timeutil.parse(row.pop("created_at"))
    if now - last_seen >= idle or now - created >= max_age:
        end_login_session(db, token)
        return None
    if now - last_seen >= TOUCH_INTERVAL:
        with write_transaction(db):
            db.conn.execute("UPDATE login_sessions SET last_seen_at = ? WHERE token_hash = ?",
                            [timeutil.iso(now), key])
    return row


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


def generate_password(groups: int = 4) -> str:
    """A random first password in groups of four, e.g. ``k7mq-2xfa-9dpw-3rtz`` (19 characters, about 79 bits)."""
    while True:
        made = "-".join("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(groups))
        if passwords.weakness(made) is None:  # practically always; never hand out a refusable one
            return made


def create_volunteer_account(db, *, username: str, password: str, actor: str, **volunteer) -> dict:
    """Register a volunteer and their login together: both are made, or neither.

    ``volunteer`` takes the keyword arguments of :func:`people.add_volunteer`
    (name, email, name_kana, phone, skills, devices, languages).
    """
    from . import people

    username = (username or "").strip()
    if not username:
        raise ValidationError("invalid_value", field="username")
    check_new_password(db, password, username=username)
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
