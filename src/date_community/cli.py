"""The ``date-community`` command: staff scripts on top of the library.

Conventions every command follows:

* ``--json`` prints one machine-readable JSON document on stdout; nothing else
  is ever written to stdout in that mode, so scripts can pipe it to ``jq``.
* Exit 0 on success, 1 on a domain error (``error: <message> [<code>]`` on
  stderr, or ``{"error": code, "message": text}`` on stdout with ``--json``),
  2 on a usage error (click's own handling, which includes option values that
  cannot be parsed at all, such as a malformed date).
* Nothing unexpected ever escapes as a traceback: it becomes one line naming
  only the exception class, because exception texts from SQLite can quote SQL.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import click
import sqlite_utils

from .sqlitedriver import sqlite3
from . import db as dbmod
from . import demo as demomod
from . import backups, config, files, mailer, notify, people, timeutil
from .errors import DateCommunityError, ValidationError, disk_full_cause
from .scheduling import bookings, calendar, calllist, catalog, sessions, shifts
from .schema import DEVICES, DISTRICTS, ROLES, SESSION_KINDS, SOURCES

# Tables counted by backup/restore so a round trip can be checked by eye or script.
COUNTED_TABLES = ("venues", "topics", "series", "sessions", "residents", "volunteers", "bookings", "shifts",
                  "users", "audit_log")


# --- state shared by the group and its commands --------------------------------------------------


@dataclasses.dataclass
class State:
    """Per-invocation settings plus the lazily opened database."""

    db_path: str | None = None
    town: str | None = None
    verbose: bool = False
    json: bool = False
    _db: sqlite_utils.Database | None = None

    def towns(self) -> dict[str, config.Town]:
        """The towns of instance/config.toml ({} for a one-town deployment)."""
        return config.load_towns()

    def selected_town(self) -> config.Town | None:
        """--town, else (with towns configured and no --db) the default town, else None."""
        towns = self.towns()
        if self.town is not None:
            if self.town not in towns:
                known = ", ".join(towns) or "none are configured"
                raise click.UsageError(f"no town {self.town!r} in the towns of config.toml ({known})")
            return towns[self.town]
        if self.db_path:
            return None
        return config.default_town(config.load(), towns)

    def settings(self) -> dict[str, Any]:
        """The app's settings, with the selected town's database, content and secret in place."""
        values = config.load()
        town = self.selected_town()
        return config.town_settings(values, town) if town else values

    @property
    def path(self) -> Path:
        # --db, else the town's database, else the app's own setting (environment,
        # then instance/config.toml), so a cron job backs up the database the web app uses.
        return dbmod.resolve_path(self.db_path or self.settings()["DATABASE"])

    @property
    def content_dir(self) -> str | None:
        """The selected town's content folder (None: the setting, then the project's content/)."""
        return self.settings().get("CONTENT_DIR") or None

    def open(self, *, migrate: bool = True) -> sqlite_utils.Database:
        # Opened on first use only, so `--help` and usage errors never create
        # a database file as a side effect.
        if self._db is None:
            try:
                self._db = dbmod.connect(self.path, migrate=migrate)
            except sqlite3.DatabaseError as exc:
                if disk_full_cause(exc):
                    raise  # reported as disk_full by DateCommunityGroup, not as a bad file
                # "file is not a database", "unable to open database file" …:
                # report by code; SQLite's own text is not for end users.
                raise DateCommunityError("invalid_database", reason=type(exc).__name__) from exc
        return self._db

    @property
    def db(self) -> sqlite_utils.Database:
        return self.open()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _state() -> State:
    return click.get_current_context().ensure_object(State)


def actor() -> str:
    """The audit-log actor: ``cli`` plus the login name when the shell has one."""
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or os.environ.get("USERNAME")
    return f"cli:{user}" if user else "cli"


# The app's public address, for files that link to its pages (signs, open data).
BASE_URL_ENV = "DATE_COMMUNITY_BASE_URL"


def base_url_option(purpose: str):
    return click.option("--base-url", metavar="URL", envvar=BASE_URL_ENV, show_envvar=True,
                        help=f"The app's public address {purpose}, e.g. https://example.jp.")


def require_base_url(base_url: str | None) -> str:
    # --base-url or its variable, else the (selected town's) BASE_URL setting.
    base_url = base_url or _state().settings().get("BASE_URL")
    if not base_url:
        # Without it the links would point nowhere: refuse rather than guess.
        raise click.UsageError(f"give --base-url or set {BASE_URL_ENV} to the app's public address")
    return base_url


# --- output helpers ---------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _dumps(data: Any) -> str:
    # ensure_ascii=False: names and venues are Japanese and should stay readable.
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def emit(data: Any, human: str | Callable[[], str]) -> None:
    """Print ``data`` as JSON in --json mode, else the human text."""
    if _state().json:
        click.echo(_dumps(data))
    else:
        click.echo(human() if callable(human) else human)


def _width(text: str) -> int:
    # Kanji and kana take two terminal columns; len() would misalign tables.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str) -> str:
    """A plain left-aligned text table, or ``empty`` when there are no rows."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    if not cells:
        return empty
    widths = [max(_width(h), *(_width(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _hm(value: str) -> str:
    return timeutil.parse(value).strftime("%Y-%m-%d %H:%M")


# --- option types: unparseable values are usage errors (exit 2) -------------------------------------


class IsoDateTime(click.ParamType):
    name = "ISO"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            return timeutil.parse(value)
        except ValidationError:
            self.fail(f"{value!r} is not an ISO date-time such as 2026-12-03T13:30", param, ctx)


class IsoDate(click.ParamType):
    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return timeutil.parse_date(value)
        except ValidationError:
            self.fail(f"{value!r} is not a date such as 2026-12-03", param, ctx)


class HelperRange(click.ParamType):
    name = "MIN:MAX"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        try:
            return sessions.parse_helpers(value)
        except ValidationError:
            self.fail(f"{value!r} is not MIN:MAX with 0 <= MIN <= MAX, e.g. 2:4", param, ctx)


ISO = IsoDateTime()
DATE = IsoDate()
# A record id or count: SQLite integers are 64-bit, so a larger number is a usage
# error (exit 2, one line), not an OverflowError from the driver.
SQLITE_MAX_INT = 2**63 - 1
ID = click.IntRange(min=1, max=SQLITE_MAX_INT)
COUNT = click.IntRange(min=0, max=SQLITE_MAX_INT)
HELPERS = HelperRange()


def _set_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(State).json = True


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    # Eager, so JSON mode is known before any other option is processed and a
    # domain error raised later is reported in the right format.
    return click.option("--json", "as_json", is_flag=True, is_eager=True, expose_value=False, callback=_set_json,
                        help="Print machine-readable JSON on stdout instead of text.")(f)


# --- the group, with the one place that turns exceptions into exit codes ---------------------------


class _EchoHandler(logging.Handler):
    """Library log records as single ``warning: …`` lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(f"{record.levelname.lower()}: {_one_line(self.format(record))}", err=True)
        except Exception:  # pragma: no cover - logging must never break a command
            self.handleError(record)


class DateCommunityGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click's own exit codes: 0, 2 for usage, 1 for abort
        except DateCommunityError as exc:
            state = ctx.ensure_object(State)
            if state.json:
                click.echo(json.dumps({"error": exc.code, "message": _one_line(exc.message)}, ensure_ascii=False))
            else:
                click.echo(f"error: {_one_line(exc.message)} [{exc.code}]", err=True)
            ctx.exit(1)
        except Exception as exc:
            cause = disk_full_cause(exc)
            if cause:
                # SQLite or a file write: the disk (or a file-size limit) is full.
                full = DateCommunityError("disk_full", cause=cause)
                if ctx.ensure_object(State).json:
                    click.echo(json.dumps({"error": full.code, "message": _one_line(full.message)}))
                else:
                    click.echo(f"error: {_one_line(full.message)} [{full.code}]", err=True)
                ctx.exit(1)
            # Only the class name: messages from sqlite3 and friends can quote SQL.
            name = type(exc).__name__
            click.echo(f"error: internal error ({name})", err=True)
            if ctx.ensure_object(State).json:
                click.echo(json.dumps({"error": "internal_error", "message": f"internal error ({name})"}))
            ctx.exit(1)


@click.group(cls=DateCommunityGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_path", metavar="PATH", type=click.Path(dir_okay=False),
              help=f"SQLite database file. Default: ${dbmod.ENV_VAR} (or in instance/config.toml), "
                   f"else {dbmod.DEFAULT_PATH}.")
@click.option("--town", metavar="NAME",
              help="With several towns in instance/config.toml ([towns.NAME]): use that town's database and "
                   "content. Default: DATE_COMMUNITY_DEFAULT_TOWN, else the first town listed.")
@click.option("-v", "--verbose", is_flag=True,
              help="Show library warnings (e.g. an old SQLite version) on stderr.")
@json_option
@click.pass_context
def cli(ctx: click.Context, db_path: str | None, town: str | None, verbose: bool) -> None:
    """Schedule smartphone classes: sessions, bookings, helpers, call lists.

    Run `date-community COMMAND --help` for the options of one command.
    """
    state = ctx.ensure_object(State)
    if db_path and town:
        raise click.UsageError("give --db or --town, not both")
    state.db_path, state.town, state.verbose = db_path, town, verbose
    ctx.call_on_close(state.close)
    # Library warnings (the SQLite-version one) must never reach stdout, where
    # --json output goes; by default they are silenced, with -v they become
    # one line each on stderr.  The logger is put back afterwards so tests and
    # embedding programs see it unchanged.
    logger = logging.getLogger("date_community")
    saved = (logger.level, logger.propagate)
    handler = _EchoHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.ERROR)
    logger.propagate = False

    def restore_logging() -> None:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]

    ctx.call_on_close(restore_logging)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``date-community``)."""
    cli.main(args=argv, prog_name="date-community")


# --- database --------------------------------------------------------------------------------------


def table_counts(database: sqlite_utils.Database) -> dict[str, int]:
    names = set(database.table_names())
    return {t: database[t].count for t in COUNTED_TABLES if t in names}


@cli.command("init-db")
@json_option
def init_db() -> None:
    """Create the database, or apply pending migrations to it."""
    state = _state()
    database = state.open(migrate=False)
    applied = dbmod.apply_migrations(database)
    emit({"path": str(state.path), "applied": applied},
         f"Database: {state.path}\n"
         + (f"Applied migrations: {', '.join(applied)}" if applied else "Already up to date."))


@cli.command()
@click.option("--content", "content_path", metavar="DIR", type=click.Path(file_okay=False),
              help="Folder with venues.csv and topics.csv (default: the project's content/).")
@json_option
def demo(content_path: str | None) -> None:
    """Load demo data (venues, topics, sessions, people, logins) into an empty database."""
    result = demomod.load_demo(_state().db, content_path=content_path or _state().content_dir)
    logins = "\n".join(f"  {x['role']}: {x['username']} / {x['password']}" for x in result["logins"])
    if not result["loaded"]:
        emit(result, "The database already has sessions; demo data was not loaded.\nDemo logins:\n" + logins)
        return
    emit(result, (f"Loaded {result['venues']} venues, {result['topics']} topics, {result['sessions']} sessions, "
                  f"{result['residents']} residents, {result['volunteers']} volunteers, "
                  f"{result['bookings']} bookings.\nDemo logins:\n{logins}"))


@cli.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the backup to FILE (same as giving PATH).")
@click.option("--keep", type=click.IntRange(min=1), metavar="N",
              help="Without --out: keep only the newest N timestamped backups in the folder.")
@json_option
def backup(path: Path | None, out: Path | None, keep: int | None) -> None:
    """Copy the live database to a file (SQLite online backup, safe while in use).

    Without --out or PATH it writes date-community-YYYYmmdd-HHMMSS.db in
    DATE_COMMUNITY_BACKUP_DIR (with several towns: BACKUP_DIR/<town>, and
    without --town every town is backed up).  The live database records when the backup was
    made, which `date-community doctor` checks.
    """
    if path is not None and out is not None:
        raise click.UsageError("give the file as PATH or as --out, not both")
    out = out or path
    if out is not None and keep is not None:
        raise click.UsageError("--keep rotates the timestamped files in the backup folder; it needs no --out")
    state = _state()
    if out is None and state.town is None and state.db_path is None and state.towns():
        _backup_every_town(state, keep)
        return
    folder = None if out is not None else Path(state.settings()["BACKUP_DIR"])
    database = state.db
    made = backups.make_backup(database, out=out, folder=folder, keep=keep)
    counts = table_counts(database)
    emit({**made, "counts": counts},
         f"Backed up to {made['path']} ({made['bytes']} bytes)."
         + (f" Removed {len(made['removed'])} older backups." if made["removed"] else ""))


def _backup_every_town(state: State, keep: int | None) -> None:
    """Several towns, no --town: each town's database into its own folder (BACKUP_DIR/<town>)."""
    made = {}
    base = config.load()
    for key, town in state.towns().items():
        values = config.town_settings(base, town)
        database = dbmod.connect(dbmod.resolve_path(values["DATABASE"]))
        try:
            made[key] = {**backups.make_backup(database, folder=Path(values["BACKUP_DIR"]), keep=keep),
                         "counts": table_counts(database)}
        finally:
            database.close()
    emit({"towns": made}, "\n".join(
        f"{key}: backed up to {m['path']} ({m['bytes']} bytes)."
        + (f" Removed {len(m['removed'])} older backups." if m["removed"] else "") for key, m in made.items()))


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Replace a database that already holds data.")
@json_option
def restore(path: Path, yes: bool) -> None:
    """Replace the database's contents with the backup at PATH."""
    database = _state().db
    before = table_counts(database)
    if not yes and any(before.get(t) for t in ("sessions", "residents", "volunteers", "users")):
        # Overwriting live data is irreversible; a script has to say so explicitly.
        raise click.UsageError("the database already holds data; pass --yes to replace it")
    dbmod.restore(database, path)
    counts = table_counts(database)
    emit({"path": str(_state().path), "source": str(path), "counts": counts},
         f"Restored {path} into {_state().path}: "
         + ", ".join(f"{n} {t}" for t, n in counts.items() if t != "audit_log") + ".")


# --- catalogue --------------------------------------------------------------------------------------


@cli.group()
def venues() -> None:
    """Venues (community halls) where sessions take place."""


@venues.command("list")
@json_option
def venues_list() -> None:
    """List every venue."""
    rows = catalog.list_venues(_state().db)
    emit(rows, lambda: table(("SLUG", "DISTRICT", "SEATS", "NAME"),
                             ((v["slug"], v["district"], v["seats"], v["name_ja"]) for v in rows), "No venues."))


@cli.group()
def topics() -> None:
    """Class topics (what a session teaches)."""


@topics.command("list")
@json_option
def topics_list() -> None:
    """List every topic in display order."""
    rows = catalog.list_topics(_state().db)
    emit(rows, lambda: table(("CODE", "TITLE (JA)", "TITLE (EN)"),
                             ((t["code"], t["title_ja"], t["title_en"]) for t in rows), "No topics."))


# --- sessions ---------------------------------------------------------------------------------------

SESSION_FIELDS = ("id", "starts_at", "ends_at", "kind", "status", "topic_code", "venue_slug", "seats",
                  "walkin_seats", "capacity", "confirmed", "waitlisted", "seats_left", "helpers_booked",
                  "helpers_min", "helpers_max", "loaner_phones", "signup_opens_at", "signup_closes_at",
                  "series_id", "series_index", "bring")


@cli.group("sessions")
def sessions_group() -> None:
    """Class sessions: add (once or repeating), list, cancel."""


@sessions_group.command("add")
@click.option("--topic", required=True, metavar="CODE", help="Topic code (see `topics list`).")
@click.option("--venue", required=True, metavar="SLUG", help="Venue slug (see `venues list`).")
@click.option("--start", required=True, type=ISO, help="Start, ISO 8601; Tokyo time if no offset.")
@click.option("--end", required=True, type=ISO, help="End, ISO 8601; must be after the start.")
@click.option("--seats", required=True, type=COUNT, help="Seats in the room, walk-in seats included.")
@click.option("--helpers", required=True, type=HELPERS, help="Volunteer helpers wanted, MIN:MAX (e.g. 2:4).")
@click.option("--walkin", default=0, show_default=True, type=COUNT,
              help="Seats kept back for walk-ins (not bookable).")
@click.option("--kind", type=click.Choice(SESSION_KINDS), default="class", show_default=True,
              help="Kind of session.")
@click.option("--loaners", default=0, show_default=True, type=COUNT,
              help="Loaner smartphones available.")
@click.option("--signup-opens", type=ISO, help="When booking opens (default: now).")
@click.option("--signup-closes", type=ISO, help="When booking closes (default: the start).")
@click.option("--bring", default="", help="What residents should bring.")
@click.option("--repeat", metavar="RRULE",
              help='Repeat as an RFC 5545 rule, e.g. "FREQ=MONTHLY;BYDAY=+2TU;COUNT=6".')
@json_option
def sessions_add(topic: str, venue: str, start: dt.datetime, end: dt.datetime, seats: int,
                 helpers: tuple[int, int], walkin: int, kind: str, loaners: int, signup_opens: dt.datetime | None,
                 signup_closes: dt.datetime | None, bring: str, repeat: str | None) -> None:
    """Add a session, or a repeating series with --repeat."""
    fields = dict(topic=topic, venue=venue, starts_at=start, ends_at=end, seats=seats, walkin_seats=walkin,
                  kind=kind, helpers_min=helpers[0], helpers_max=helpers[1], loaner_phones=loaners,
                  signup_opens_at=signup_opens, signup_closes_at=signup_closes, bring=bring, actor=actor())
    database = _state().db
    if repeat:
        result = sessions.add_series(database, rule=repeat, **fields)
        emit(result, f"Added series {result['series_id']} with {len(result['session_ids'])} sessions: "
                     + ", ".join(map(str, result["session_ids"])))
        return
    sid = sessions.add_session(database, **fields)
    emit({"session_id": sid}, f"Added session {sid}.")


@sessions_group.command("list")
@click.option("--from", "start", type=DATE, help="First day to show (default: today, or no limit with --all).")
@click.option("--to", "end", type=DATE, help="Last day to show, inclusive.")
@click.option("--venue", metavar="SLUG", help="Only sessions at this venue.")
@click.option("--topic", metavar="CODE", help="Only sessions on this topic.")
@click.option("--all", "show_all", is_flag=True, help="Include cancelled sessions, and past ones unless --from.")
@json_option
def sessions_list(start: dt.date | None, end: dt.date | None, venue: str | None, topic: str | None,
                  show_all: bool) -> None:
    """List sessions with seats, confirmed, waitlisted and helpers."""
    if start is None and not show_all:
        start = timeutil.now().date()
    rows = sessions.list_sessions(_state().db, start=start, end=end + dt.timedelta(days=1) if end else None,
                                  venue=venue, topic=topic, include_cancelled=show_all)
    data = [{k: r[k] for k in SESSION_FIELDS} for r in rows]
    emit(data, lambda: table(
        ("ID", "START", "END", "KIND", "TOPIC", "VENUE", "SEATS", "CONF", "WAIT", "HELPERS", "STATUS"),
        ((r["id"], _hm(r["starts_at"]), _hm(r["ends_at"])[-5:], r["kind"], r["topic_code"], r["venue_slug"],
          f"{r['capacity']}+{r['walkin_seats']}" if r["walkin_seats"] else r["capacity"], r["confirmed"],
          r["waitlisted"], f"{r['helpers_booked']} ({r['helpers_min']}-{r['helpers_max']})", r["status"])
         for r in rows), "No sessions."))


@sessions_group.command("cancel")
@click.argument("session_id", metavar="ID", type=ID)
@click.option("--scope", type=click.Choice(("this", "following")), default="this", show_default=True,
              help="Cancel only this occurrence, or it and the rest of its series.")
@click.option("--reason", default="", help="Why, for the audit log.")
@json_option
def sessions_cancel(session_id: int, scope: str, reason: str) -> None:
    """Cancel a session; its bookings and shifts are cancelled with it."""
    ids = sessions.cancel_session(_state().db, session_id, actor=actor(), scope=scope, reason=reason)
    emit({"cancelled": ids}, f"Cancelled sessions: {', '.join(map(str, ids))}. "
                             "Staff are asked (outbox) to phone the booked residents.")


# --- residents ----------------------------------------------------------------------------------------

RESIDENT_HEADERS = ("ID", "NAME", "KANA", "PHONE", "BORN", "DISTRICT", "DEVICE")


def _resident_rows(rows: list[dict]) -> Iterable[Sequence[Any]]:
    return ((r["id"], r["name_kanji"], r["name_kana"], people.format_phone(r["phone"]), r["birth_year"],
             r["district"], r["device"]) for r in rows)


@cli.group()
def residents() -> None:
    """Residents who attend classes."""


@residents.command("add")
@click.option("--name", required=True, help="Full name as written (kanji or any script).")
@click.option("--kana", required=True, help="Furigana of the name, in kana.")
@click.option("--phone", help="Phone number; hyphens, full-width digits and +81 are accepted.")
@click.option("--birth-year", help="Year of birth, e.g. 1948.")
@click.option("--district", help=f"District: {', '.join(DISTRICTS)}.")
@click.option("--device", help=f"Phone they own: {', '.join(DEVICES)}.")
@click.option("--source", type=click.Choice(SOURCES), default="phone", show_default=True,
              help="How the registration reached us (also the consent channel).")
@click.option("--needs", default="", help="Accessibility or other needs to note.")
@json_option
def residents_add(name: str, kana: str, phone: str | None, birth_year: str | None, district: str | None,
                  device: str | None, source: str, needs: str) -> None:
    """Register a resident; possible duplicates are listed."""
    database = _state().db
    rid = people.add_resident(database, name_kanji=name, name_kana=kana, phone=phone, birth_year=birth_year,
                              district=district, device=device, source=source, needs=needs, actor=actor())
    dupes = [d["id"] for d in people.duplicate_candidates(database, rid)]
    text = f"Added resident {rid}."
    if dupes:
        text += f" Possible duplicates: {', '.join(map(str, dupes))} (see `residents merge`)."
    emit({"resident_id": rid, "possible_duplicates": dupes}, text)


@residents.command("list")
@click.option("--limit", default=100, show_default=True, type=ID, help="Rows to show.")
@click.option("--offset", default=0, type=COUNT, help="Rows to skip.")
@json_option
def residents_list(limit: int, offset: int) -> None:
    """List residents in kana order (merged duplicates hidden)."""
    rows = people.list_residents(_state().db, limit=limit, offset=offset, actor=actor())
    emit(rows, lambda: table(RESIDENT_HEADERS, _resident_rows(rows), "No residents."))


@residents.command("find")
@click.argument("query")
@json_option
def residents_find(query: str) -> None:
    """Find residents by kana (hiragana or katakana), name or phone digits."""
    rows = people.find_residents(_state().db, query, actor=actor())
    emit(rows, lambda: table(RESIDENT_HEADERS, _resident_rows(rows), "No residents match."))


@residents.command("duplicates")
@json_option
def residents_duplicates() -> None:
    """List pairs of residents that look like the same person."""
    rows = people.all_duplicate_pairs(_state().db)
    emit(rows, lambda: table(("KEEP_ID", "OTHER_ID", "REASON"),
                             ((r["keep_id"], r["other_id"], r["reason"]) for r in rows), "No duplicates found."))


@residents.command("merge")
@click.argument("keep_id", type=ID)
@click.argument("other_id", type=ID)
@json_option
def residents_merge(keep_id: int, other_id: int) -> None:
    """Merge resident OTHER_ID into KEEP_ID, keeping every booking."""
    result = people.merge_residents(_state().db, keep_id, other_id, actor=actor())
    released = ", ".join(map(str, result["released"])) or "none"
    emit(result, f"Merged resident {other_id} into {keep_id}: {result['bookings_moved']} bookings moved, "
                 f"duplicate bookings released: {released}.")


@residents.command("delete")
@click.argument("resident_id", type=int)
@click.option("--yes", is_flag=True, help="Confirm: the erasure cannot be undone.")
@json_option
def residents_delete(resident_id: int, yes: bool) -> None:
    """Erase a resident's personal data on request (APPI); bookings stay, without the name."""
    if not yes:
        # Irreversible: a script has to say so explicitly, as for restore.
        raise click.UsageError("erasing personal data cannot be undone; pass --yes to go ahead")
    result = people.delete_resident(_state().db, resident_id, actor=actor())
    emit({"resident_id": resident_id, **result},
         f"Erased resident {resident_id}: {result['residents']} record(s), {result['sheets']} scanned sheet(s), "
         f"{result['messages']} queued message(s).")


# --- volunteers -----------------------------------------------------------------------------------------


@cli.group()
def volunteers() -> None:
    """Volunteer helpers (デジタル活用サポーター)."""


@volunteers.command("add")
@click.option("--name", required=True, help="Full name.")
@click.option("--email", required=True, help="Email address (unique).")
@click.option("--kana", default="", help="Furigana of the name, in kana.")
@click.option("--phone", help="Phone number.")
@click.option("--skill", "skills", multiple=True, metavar="CODE", help="Topic code they can teach (repeatable).")
@click.option("--device", "devices", multiple=True, help=f"Phone kind they know (repeatable): {', '.join(DEVICES)}.")
@click.option("--language", "languages", multiple=True, help="Language code they speak, e.g. ja, en (repeatable).")
@json_option
def volunteers_add(name: str, email: str, kana: str, phone: str | None, skills: tuple[str, ...],
                   devices: tuple[str, ...], languages: tuple[str, ...]) -> None:
    """Register a volunteer."""
    vid = people.add_volunteer(_state().db, name=name, email=email, name_kana=kana, phone=phone, skills=skills,
                               devices=devices, languages=languages, actor=actor())
    emit({"volunteer_id": vid}, f"Added volunteer {vid}.")


@volunteers.command("list")
@click.option("--active-only", is_flag=True, help="Hide deactivated volunteers.")
@json_option
def volunteers_list(active_only: bool) -> None:
    """List volunteers with their skills, devices and languages."""
    # The calendar token is a secret (it opens the feed URL): never printed.
    rows = [{k: v for k, v in r.items() if k != "calendar_token"}
            for r in people.list_volunteers(_state().db, active_only=active_only)]
    emit(rows, lambda: table(
        ("ID", "NAME", "EMAIL", "SKILLS", "DEVICES", "LANGUAGES", "ACTIVE"),
        ((r["id"], r["name"], r["email"], ",".join(r["skills"]), ",".join(r["devices"]), ",".join(r["languages"]),
          "yes" if r["active"] else "no") for r in rows), "No volunteers."))


# --- bookings ---------------------------------------------------------------------------------------------


@cli.command()
@click.option("--session", "session_id", required=True, type=ID, help="Session id.")
@click.option("--resident", "resident_id", required=True, type=ID, help="Resident id.")
@click.option("--source", type=click.Choice(SOURCES), default="phone", show_default=True,
              help="How the booking reached us.")
@click.option("--override-reason", help="Staff override of the sign-up window and overlap rule; logged.")
@click.option("--paper-ref", help="Reference of the paper form, if any.")
@json_option
def book(session_id: int, resident_id: int, source: str, override_reason: str | None, paper_ref: str | None) -> None:
    """Book a resident into a session: confirmed if a seat is free, else waitlisted."""
    result = bookings.book_seat(_state().db, session_id, resident_id, source=source, actor=actor(),
                                override_reason=override_reason, paper_ref=paper_ref)
    where = f", waitlist position {result['position']}" if result["status"] == "waitlisted" else ""
    emit({k: result[k] for k in ("booking_id", "status", "position", "reference")},
         f"Booking {result['booking_id']} (reference {result['reference']}): {result['status']}{where}.")


@cli.command()
@click.option("--booking", "booking_id", required=True, type=ID, help="Booking id.")
@json_option
def cancel(booking_id: int) -> None:
    """Cancel a booking; a freed seat goes to the first on the waitlist."""
    result = bookings.cancel_booking(_state().db, booking_id, actor=actor())
    promoted = result["promoted"]
    emit({"promoted": promoted}, f"Cancelled booking {booking_id}."
         + (f" Booking {promoted} was promoted from the waitlist." if promoted else ""))


# --- shifts -------------------------------------------------------------------------------------------------


@cli.group()
def shift() -> None:
    """Volunteer helper shifts."""


@shift.command("book")
@click.option("--session", "session_id", required=True, type=ID, help="Session id.")
@click.option("--volunteer", "volunteer_id", required=True, type=ID, help="Volunteer id.")
@click.option("--role", type=click.Choice(ROLES), default="assistant", show_default=True,
              help="Lead (one per session) or assistant.")
@json_option
def shift_book(session_id: int, volunteer_id: int, role: str) -> None:
    """Book a volunteer on a session (never double-books)."""
    result = shifts.book_shift(_state().db, session_id, volunteer_id, role=role, actor=actor())
    emit(result, f"Shift {result['shift_id']}: volunteer {volunteer_id} on session {session_id} as {role}.")


@shift.command("cancel")
@click.option("--shift", "shift_id", required=True, type=ID, help="Shift id.")
@click.option("--staff", is_flag=True, help="Staff override: ignore the cancellation cut-off.")
@click.option("--cutoff-hours", type=click.FloatRange(min=0), default=shifts.DEFAULT_CANCEL_CUTOFF_HOURS,
              show_default=True, help="Volunteers cannot cancel closer than this to the start.")
@json_option
def shift_cancel(shift_id: int, staff: bool, cutoff_hours: float) -> None:
    """Cancel a shift."""
    result = shifts.cancel_shift(_state().db, shift_id, actor=actor(), by_staff=staff, cutoff_hours=cutoff_hours)
    emit(result, f"Cancelled shift {shift_id}.")


# --- exports --------------------------------------------------------------------------------------------------


def _write_or_print(content: str | bytes, out: Path | None) -> None:
    if out is None:
        click.echo(content, nl=False)
    else:
        # newline="": keep the CRLF line ends the CSV and iCalendar formats want.
        files.write_atomic(out, content, newline="")


@cli.command()
@click.option("--volunteer", "volunteer_id", type=ID, help="Every shift of this volunteer.")
@click.option("--session", "session_id", type=ID, help="This one session.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
@json_option
def ics(volunteer_id: int | None, session_id: int | None, out: Path | None) -> None:
    """Print an iCalendar file: a volunteer's shifts (--volunteer) or one session (--session)."""
    if (volunteer_id is None) == (session_id is None):
        raise click.UsageError("give exactly one of --volunteer and --session")
    database = _state().db
    if volunteer_id is not None:
        data = calendar.volunteer_feed(database, volunteer_id)
    else:
        data = calendar.session_ics(database, session_id)
    events = data.count(b"BEGIN:VEVENT")
    if out is None:
        if _state().json:
            emit({"events": events, "path": None, "ics": data.decode("utf-8")}, "")
        else:
            _write_or_print(data, None)
        return
    _write_or_print(data, out)
    emit({"events": events, "path": str(out)}, f"Wrote {events} events to {out}.")


@cli.command("call-list")
@click.option("--date", "day", required=True, type=DATE, help="Day of the sessions, YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(("csv", "html")), default="csv", show_default=True,
              help="CSV for Excel, or a printable HTML page.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
@json_option
def call_list(day: dt.date, fmt: str, out: Path | None) -> None:
    """Residents to phone about a day's sessions, with their numbers (the view is logged)."""
    rows = calllist.call_list(_state().db, day, actor=actor())
    if _state().json and out is None:
        emit(rows, "")
        return
    content = calllist.to_csv(rows) if fmt == "csv" else calllist.to_html(rows, day)
    if out is None:
        _write_or_print(content, None)
        return
    _write_or_print(content, out)
    emit({"path": str(out), "format": fmt, "residents": len(rows)}, f"Wrote {len(rows)} residents to {out}.")


# --- outbox ---------------------------------------------------------------------------------------------------


@cli.group()
def outbox() -> None:
    """Messages waiting to be sent (email to volunteers and staff)."""


@outbox.command("list")
@click.option("--state", type=click.Choice(("pending", "sent", "failed")), help="Only messages in this state.")
@json_option
def outbox_list(state: str | None) -> None:
    """List queued, sent and failed messages (addresses and kinds, no bodies)."""
    rows = notify.messages(_state().db, state=state)
    data = [{k: r[k] for k in ("id", "kind", "channel", "recipient", "state", "attempts", "last_error",
                              "next_attempt_at", "sent_at")} for r in rows]
    emit(data, lambda: table(("id", "kind", "channel", "to", "state", "tries", "next try"),
                             [(r["id"], r["kind"], r["channel"], r["recipient"], r["state"], r["attempts"],
                               _hm(r["next_attempt_at"]) if r["state"] == "pending" else "") for r in data],
                             "No messages."))


@outbox.command("send")
@click.option("--limit", type=ID, default=50, show_default=True,
              help="Send at most this many messages in this run.")
@json_option
def outbox_send(limit: int) -> None:
    """Send due messages over SMTP (MAIL_SERVER, MAIL_PORT, MAIL_FROM, STAFF_EMAIL … from the environment).

    Failed deliveries stay queued and are retried later with back-off; run
    this from cron, or let the web app's background sender do it.
    """
    # The app's settings (environment, then config.toml), with the town's own MAIL_FROM and STAFF_EMAIL.
    settings = mailer.MailSettings.from_config(_state().settings())
    if not settings.host:
        raise click.UsageError("set MAIL_SERVER (and MAIL_PORT, MAIL_FROM, STAFF_EMAIL) first")
    result = mailer.deliver_pending(_state().db, settings, limit=limit)
    emit(result, f"Sent {result['sent']}, will retry {result['retried']}, failed for good {result['failed']}.")


@outbox.command("requeue")
@click.argument("message_id", type=ID)
@json_option
def outbox_requeue(message_id: int) -> None:
    """Put a failed message back in the queue, e.g. after fixing an address."""
    notify.requeue(_state().db, message_id, actor=actor())
    emit({"requeued": message_id}, f"Message {message_id} is queued again.")


from . import cli_signs  # noqa: E402,F401
from . import cli_forms  # noqa: E402,F401
from . import cli_opendata  # noqa: E402,F401
from . import cli_tourism  # noqa: E402,F401
from . import cli_users  # noqa: E402,F401
from . import cli_doctor  # noqa: E402,F401
from . import cli_static  # noqa: E402,F401


if __name__ == "__main__":  # pragma: no cover
    main()
