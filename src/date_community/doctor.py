"""``date-community doctor``: is this deployment ready for residents' data?

Each check returns findings; a finding is a problem with the one thing to do
about it.  ``blocking`` ones (no usable secret key, no https base URL, demo
data or demo logins, a database that is missing or cannot be written) mean the
service must not go live; the others are warnings an operator should act on.
Nothing here changes the database: the write probe is rolled back.

The settings are the app's own (:func:`config.load`: environment, then
``instance/config.toml``, then defaults), so doctor checks what the app uses.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import smtplib
import socket
import ssl
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from . import accounts, backups, config, demo, timeutil
from . import db as dbmod
from .errors import ValidationError
from .mailer import MailSettings
from .sqlitedriver import sqlite3, version as sqlite_version, driver_name

MIN_SECRET_KEY_LENGTH = 32
MIN_FREE_DISK = 0.10
MAX_BACKUP_AGE = dt.timedelta(hours=24)
SMTP_TIMEOUT_SECONDS = 5.0
PROBE_TIMEOUT_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class Finding:
    code: str
    blocking: bool
    message: str
    fix: str
    town: str = ""   # with several towns: the town it is about ("" = the whole machine)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _blocking(code: str, message: str, fix: str) -> Finding:
    return Finding(code, True, message, fix)


def _warning(code: str, message: str, fix: str) -> Finding:
    return Finding(code, False, message, fix)


# --- the whole check ---------------------------------------------------------------------------


def check(*, db_path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None,
          now: dt.datetime | None = None, town: str | None = None) -> list[Finding]:
    """Every finding for the deployment the settings describe; ``db_path`` (``--db``) wins over them.

    With towns in config.toml, ``town`` checks that town's settings and
    database; without it (and without ``db_path``) every town is checked.
    """
    try:
        settings = config.load(env)
        towns = config.load_towns(env)
    except ValidationError as exc:
        field = exc.params.get("field", "?")
        return [_blocking("invalid_setting", f"The setting {field} ({exc.params.get('source', '?')}) is not valid.",
                          f"Correct {field}; docs/deployment.md lists every setting and its form.")]
    if db_path or not towns:
        path = Path(db_path) if db_path else Path(settings["DATABASE"])
        return [*_check_town(settings, path, now), *check_sqlite(), *check_mail(MailSettings.from_config(settings))]
    chosen = [towns[town]] if town else list(towns.values())
    findings = []
    for one in chosen:
        # The key checked is the one an operator sets (the town's own, else the
        # shared SECRET_KEY), not the long one derived from it.
        values = {**config.town_settings(settings, one), "SECRET_KEY": one.secret_key or settings["SECRET_KEY"]}
        findings += [dataclasses.replace(f, message=f"Town {one.key}: {f.message}", town=one.key)
                     for f in [*check_town_content(one), *_check_town(values, Path(values["DATABASE"]), now)]]
    # The machine and the mail relay are shared by every town: checked once.
    return [*findings, *check_sqlite(), *check_mail(MailSettings.from_config(settings))]


def check_town_content(town: config.Town) -> list[Finding]:
    """A town's content folder must exist: its profile, venues and sites are read from it at start-up."""
    if not town.content or Path(town.content).is_dir():
        return []
    return [_blocking("town_content_missing", f"The content folder {town.content} does not exist.",
                      f"correct content in [towns.{town.key}] of config.toml, or copy the town's folder there")]


def _check_town(settings: Mapping[str, Any], path: Path, now: dt.datetime | None) -> list[Finding]:
    return [*check_secret_key(settings.get("SECRET_KEY", "")),
            *check_base_url(settings.get("BASE_URL", "")),
            *check_database(path, now=now),
            *check_disk(path)]


# --- settings ------------------------------------------------------------------------------------


def check_secret_key(key: str) -> list[Finding]:
    fix = ("set SECRET_KEY to at least 32 random characters, e.g. the output of "
           "python3 -c 'import secrets; print(secrets.token_hex(32))'")
    if not key:
        return [_blocking("secret_key_missing", "SECRET_KEY is not set.", fix)]
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return [_blocking("secret_key_short",
                          f"SECRET_KEY has {len(key)} characters; it needs at least {MIN_SECRET_KEY_LENGTH}.", fix)]
    return []


def check_base_url(url: str) -> list[Finding]:
    fix = "set DATE_COMMUNITY_BASE_URL to the public https:// address, e.g. https://smartphone.city.example.jp"
    if not url:
        return [_blocking("base_url_unset", "DATE_COMMUNITY_BASE_URL is not set, so links and QR codes have "
                          "no address and any Host header is answered.", fix)]
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return [_blocking("base_url_not_https", f"DATE_COMMUNITY_BASE_URL ({url}) is not an https:// address.", fix)]
    return []


def check_sqlite(version: str | None = None) -> list[Finding]:
    """The WAL-reset bug (SQLite 3.7.0 to 3.51.2) can corrupt a database written by several connections."""
    version = version or sqlite_version()
    if dbmod.sqlite_version_is_safe(version):
        return []
    return [_warning("sqlite_wal_reset_bug",
                     f"SQLite {version} ({driver_name()}) has the WAL-reset bug fixed in 3.51.3: in rare cases "
                     "two connections writing and checkpointing together can corrupt the database.",
                     "run `make install`, which builds pysqlite3 with a fixed SQLite; until then run one "
                     "waitress process and keep nightly backups")]


# --- the database ----------------------------------------------------------------------------------


def check_database(path: Path, *, now: dt.datetime | None = None) -> list[Finding]:
    if not path.is_file():
        return [_blocking("database_missing", f"There is no database at {path}.",
                          "run `date-community init-db`, then `date-community users add` for the first staff "
                          "account (or correct DATE_COMMUNITY_DB)")]
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=PROBE_TIMEOUT_SECONDS)
    except sqlite3.Error:
        conn = None
    if conn is None:
        return [_unreadable(path)]
    database = sqlite_utils.Database(conn)
    try:
        try:
            tables = set(database.table_names())
        except sqlite3.DatabaseError:
            return [_unreadable(path)]
        if "sessions" not in tables or "instance_meta" not in tables:
            return [_blocking("database_not_migrated", f"{path} is not an up-to-date date-community database.",
                              "run `date-community init-db` to apply the migrations (or correct DATE_COMMUNITY_DB)")]
        findings = [*check_demo(database), *check_backup_age(database, now=now)]
    finally:
        conn.close()
    return [*check_writable(path), *findings]


def _unreadable(path: Path) -> Finding:
    return _blocking("database_unreadable", f"{path} cannot be opened as a database.",
                     "check the path in DATE_COMMUNITY_DB and the file's owner and permissions")


def check_demo(database) -> list[Finding]:
    findings = []
    if demo.is_demo_database(database):
        findings.append(_blocking("demo_data", "The database holds the demo's invented sessions and people.",
                                  "create an empty production database with `date-community init-db` on a new "
                                  "DATE_COMMUNITY_DB path and restore nothing from the demo"))
    for username in accounts.demo_logins_present(database):
        findings.append(_blocking("demo_login",
                                  f"The login '{username}' has the demo password from the source code.",
                                  f"run `date-community users passwd {username}` or "
                                  f"`date-community users disable {username}`"))
    return findings


def check_writable(path: Path) -> list[Finding]:
    """Write inside a transaction and roll it back: the only sure test, since root ignores file modes."""
    fix = ("give the service's user write access to the database file and its folder (SQLite also "
           "writes the -wal and -shm files next to it)")
    problem = None
    if not os.access(path.parent, os.W_OK):
        problem = f"The folder {path.parent} is not writable."
    else:
        try:
            conn = sqlite3.connect(str(path), timeout=PROBE_TIMEOUT_SECONDS, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT OR REPLACE INTO instance_meta (key, value) VALUES ('doctor_probe', '1')")
                conn.execute("ROLLBACK")
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if "locked" not in text and "busy" not in text:  # busy is the app writing, which is fine
                problem = f"The database {path} cannot be written."
    return [_blocking("database_not_writable", problem, fix)] if problem else []


def check_backup_age(database, *, now: dt.datetime | None = None) -> list[Finding]:
    fix = ("run `date-community backup --keep 14` now and nightly from cron (docs/deployment.md, "
           "\"Backups\"), on the same database path")
    last = backups.last_backup_at(database)
    if last is None:
        return [_warning("no_backup", "This database has never been backed up.", fix)]
    now = timeutil.to_tokyo(now) if now else timeutil.now()
    if now - last > MAX_BACKUP_AGE:
        hours = int((now - last).total_seconds() // 3600)
        return [_warning("backup_old", f"The last backup was {hours} hours ago ({timeutil.iso(last)}).", fix)]
    return []


# --- the machine ---------------------------------------------------------------------------------------


def check_disk(path: Path, usage: Callable[[str], Any] = shutil.disk_usage) -> list[Finding]:
    folder = path.parent if path.parent.exists() else Path(".")
    try:
        total, _used, free = usage(str(folder))
    except OSError:
        return []
    if total and free / total < MIN_FREE_DISK:
        return [_warning("disk_low", f"Only {free * 100 / total:.1f}% of the disk holding {folder} is free "
                         f"({free // (1024 * 1024)} MiB).",
                         "free space or move the database to a larger disk; when the disk is full, "
                         "nothing can be saved")]
    return []


def check_mail(settings: MailSettings, timeout: float = SMTP_TIMEOUT_SECONDS) -> list[Finding]:
    if not settings.host:
        return [_warning("mail_not_configured", "MAIL_SERVER is not set, so mail stays in the outbox and "
                         "nobody receives reminders or notices.",
                         "set MAIL_SERVER, MAIL_PORT and MAIL_FROM (and STAFF_EMAIL) to the city's mail relay")]
    where = f"{settings.host}:{settings.port}"
    try:
        if settings.use_ssl:
            server = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout,
                                      context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        try:
            server.ehlo()
            if settings.use_tls:
                server.starttls(context=ssl.create_default_context())
        finally:
            server.quit()
    except (OSError, smtplib.SMTPException, socket.timeout) as exc:
        return [_warning("smtp_unreachable", f"The mail server {where} cannot be reached ({type(exc).__name__}); "
                         "mail waits in the outbox.",
                         "check MAIL_SERVER and MAIL_PORT and that this machine may connect to it")]
    return []
