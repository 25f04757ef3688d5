"""Counting QR-sign scans, and what the counts tell staff.

A scan is stored as one counter per (sign, day, language).  Nothing about the
visitor is kept — no address, user agent, cookie or time of day — so the
counts say which signs are used and in which languages without making it
possible to follow anyone.  The day is the Asia/Tokyo calendar day.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

from ..sqlitedriver import sqlite3
from .. import db as db_mod
from .. import timeutil
from ..errors import NotFound, ValidationError
from ..i18n import LOCALES
from . import sites

# The longest period one statistics page covers: a year, so the chart stays
# readable and the query bounded.
MAX_PERIOD_DAYS = 366
QUIET_DAYS = 14

_UPSERT = """
INSERT INTO sign_scans (site_id, day, locale, count) VALUES (?, ?, ?, 1)
ON CONFLICT (site_id, day, locale) DO UPDATE SET count = count + 1
"""
_UPSERT_N = """
INSERT INTO sign_scans (site_id, day, locale, count) VALUES (?, ?, ?, ?)
ON CONFLICT (site_id, day, locale) DO UPDATE SET count = count + excluded.count
"""

# Every site, with its name in the wanted language (Japanese when that
# language has no name yet), in the order the public list uses.
_SITES = """
SELECT s.id AS site_id, s.slug, s.code, s.sort_order,
       COALESCE(NULLIF(t.name, ''), j.name, s.slug) AS name
FROM tourism_sites s
LEFT JOIN tourism_site_texts t ON t.site_id = s.id AND t.locale = ?
LEFT JOIN tourism_site_texts j ON j.site_id = s.id AND j.locale = 'ja'
ORDER BY s.sort_order, s.code
"""


def _day(value: str | dt.date | dt.datetime | None) -> dt.date:
    if value is None:
        return timeutil.now().date()
    return timeutil.parse_date(value)


def record_scan(db, site_id: int, locale: str, day: str | dt.date | None = None) -> None:
    """Count one scan of a site's sign.

    One UPSERT statement: two scans arriving together never lose a count,
    because SQLite applies the increment under its write lock.
    """
    if locale not in LOCALES:
        raise ValidationError("invalid_locale", field="locale")
    day_text = _day(day).isoformat()
    try:
        with db_mod.write_transaction(db):
            db.execute(_UPSERT, (site_id, day_text, locale))
    except sqlite3.IntegrityError as exc:  # the foreign key: no such site
        raise NotFound("site_not_found", site_id=site_id) from exc


def add_scans(db, counts: dict[tuple[int, str, str], int]) -> None:
    """Add many counts {(site_id, day, locale): n} in one transaction (one commit, one fsync)."""
    if not counts:
        return
    for (_site_id, _day_text, locale), n in counts.items():
        if locale not in LOCALES:
            raise ValidationError("invalid_locale", field="locale")
        if n < 1:
            raise ValidationError("invalid_value", field="count")
    try:
        with db_mod.write_transaction(db):
            db.conn.executemany(_UPSERT_N, [(site_id, _day(day).isoformat(), locale, n)
                                            for (site_id, day, locale), n in counts.items()])
    except sqlite3.IntegrityError as exc:
        raise NotFound("site_not_found") from exc


class ScanBuffer:
    """Scans counted in memory and written together at most every ``interval`` seconds.

    Why: with ``synchronous=FULL`` every commit waits for the disk (several
    milliseconds), and every commit also makes the page cache (webapp's
    pagecache, keyed on ``PRAGMA data_version``) drop its copy of the site
    page the scan redirects to.  A tour bus at one sign would turn into a
    queue of single-row commits and freshly rendered pages.  Buffered, a burst
    of scans costs one commit per interval and the cached page stays valid in
    between.  The price: counts of a process that is killed outright (not
    stopped) are lost for at most the last interval.  ``interval=0`` writes
    every scan at once, as :func:`record_scan` does.
    """

    def __init__(self, interval: float = 2.0, clock=time.monotonic):
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: Counter = Counter()
        self._last_flush = clock()

    def add(self, site_id: int, locale: str, day: str | dt.date | None = None) -> bool:
        """Count one scan; True when a flush is due."""
        if locale not in LOCALES:
            raise ValidationError("invalid_locale", field="locale")
        key = (int(site_id), _day(day).isoformat(), locale)
        with self._lock:
            self._counts[key] += 1
            return self._clock() - self._last_flush >= self.interval

    def pending(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def flush(self, db) -> int:
        """Write what is pending; returns the number of scans written.

        On failure the counts go back into the buffer for the next flush.
        """
        with self._lock:
            taken, self._counts = self._counts, Counter()
            self._last_flush = self._clock()
        if not taken:
            return 0
        try:
            add_scans(db, dict(taken))
        except Exception:
            with self._lock:
                self._counts.update(taken)
            raise
        return sum(taken.values())


def scan_code(db, code: str, locale: str, day: str | dt.date | None = None, *,
              buffer: ScanBuffer | None = None) -> dict | None:
    """Resolve a printed code (typed variants like "dt-07" too) and count the scan.

    Returns the site {id, slug, code}, or None for a code no sign carries —
    an unknown code is not counted, since there is no sign to count it for.
    With a ``buffer`` the scan is counted there and written when a flush is
    due; without one it is written at once.
    """
    site = sites.site_by_code(db, code)
    if site is None:
        return None
    if buffer is None:
        record_scan(db, site["id"], locale, day)
    elif buffer.add(site["id"], locale, day):
        buffer.flush(db)
    return site


class SignScans:
    """The per-process front door for scans at ``/q/<code>``: no connection per scan.

    Opening a database connection costs more than everything else a scan
    does, so codes are resolved from an in-memory copy of the sites' codes,
    reloaded whenever ``PRAGMA data_version`` shows another connection has
    committed (content reloaded, a code changed), and scans go to a
    :class:`ScanBuffer`.  Each thread keeps one connection of its own for the
    version check and the flushes (sqlite3 connections are per thread).
    """

    def __init__(self, path, interval: float = 2.0):
        self.path = str(path)
        self.buffer = ScanBuffer(interval)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._codes: dict[str, dict] = {}

    def _db(self):
        database = getattr(self._local, "db", None)
        if database is None:
            database = self._local.db = db_mod.connect(self.path, migrate=False)
        return database

    def _lookup(self, code: str) -> dict | None:
        database = self._db()
        # data_version is per connection, so each thread remembers the value
        # it last loaded at; the map itself is shared and replaced whole.
        version = database.conn.execute("PRAGMA data_version").fetchone()[0]
        if getattr(self._local, "version", None) != version:
            codes = {row["code"]: dict(row) for row in database.query("SELECT id, slug, code FROM tourism_sites")}
            with self._lock:
                self._codes = codes
            self._local.version = version
        return self._codes.get(sites.normalize_code(code))

    def scan(self, code: str, locale: str, day: str | dt.date | None = None) -> dict | None:
        """Resolve and count, like :func:`scan_code`; None for an unknown code."""
        site = self._lookup(code)
        if site is not None and self.buffer.add(site["id"], locale, day):
            self.buffer.flush(self._db())
        return site

    def flush(self) -> int:
        return self.buffer.flush(self._db()) if self.buffer.pending() else 0


def _period(date_from, date_to) -> tuple[dt.date, dt.date]:
    start, end = _day(date_from), _day(date_to)
    if end < start:
        raise ValidationError("invalid_time_range", field="to")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise ValidationError("scan_period_too_long", field="to", days=MAX_PERIOD_DAYS)
    return start, end


def scan_stats(db, date_from, date_to, *, locale: str = "ja") -> dict:
    """Scan totals for the days ``date_from``..``date_to`` (both included).

    Returns ``days`` (every day of the period, as ISO dates), ``total``,
    ``by_locale`` {locale: n}, ``by_day`` [{day, total, by_locale}] with a row
    for every day (zeros included, so a chart has no gaps) and ``by_site``
    [{site_id, slug, code, name, total, by_locale}] for every site, unscanned
    ones included — a sign nobody uses is worth seeing.
    """
    start, end = _period(date_from, date_to)
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    rows = list(db.query(
        "SELECT site_id, day, locale, count FROM sign_scans WHERE day BETWEEN ? AND ?",
        (days[0], days[-1])))

    def empty() -> dict:
        return {code: 0 for code in LOCALES}

    by_day = {day: {"day": day, "total": 0, "by_locale": empty()} for day in days}
    by_site = {}
    for site in db.query(_SITES, (locale,)):
        by_site[site["site_id"]] = {"site_id": site["site_id"], "slug": site["slug"], "code": site["code"],
                                    "name": site["name"], "total": 0, "by_locale": empty()}
    by_locale = empty()
    for row in rows:
        n = row["count"]
        by_locale[row["locale"]] += n
        day = by_day[row["day"]]
        day["total"] += n
        day["by_locale"][row["locale"]] += n
        site = by_site.get(row["site_id"])
        if site is not None:
            site["total"] += n
            site["by_locale"][row["locale"]] += n
    return {
        "from": days[0], "to": days[-1], "days": days, "locales": list(LOCALES),
        "total": sum(by_locale.values()), "by_locale": by_locale,
        "by_day": list(by_day.values()), "by_site": list(by_site.values()),
    }


def sign_health(db, today: str | dt.date | None = None, quiet_days: int = QUIET_DAYS, *,
                locale: str = "ja") -> list[dict]:
    """Signs nobody scanned in the last ``quiet_days`` days while others were scanned.

    A sign that falls silent while the rest are in use may be damaged,
    covered or gone.  When no sign was scanned at all (winter, or before the
    signs go up) silence says nothing, so nothing is reported.  The period is
    the ``quiet_days`` days ending with ``today``, today included.  Each entry
    is {site_id, slug, code, name, last_scan} where ``last_scan`` is the ISO
    day of the latest scan ever, or None when the sign was never scanned.
    """
    if quiet_days < 1:
        raise ValidationError("invalid_value", field="quiet_days")
    end = _day(today)
    start = end - dt.timedelta(days=quiet_days - 1)
    scanned = {row["site_id"]: row["n"] for row in db.query(
        "SELECT site_id, SUM(count) AS n FROM sign_scans WHERE day BETWEEN ? AND ? GROUP BY site_id",
        (start.isoformat(), end.isoformat()))}
    if not scanned:
        return []
    last = {row["site_id"]: row["last"] for row in db.query(
        "SELECT site_id, MAX(day) AS last FROM sign_scans WHERE day <= ? GROUP BY site_id", (end.isoformat(),))}
    quiet = []
    for site in db.query(_SITES, (locale,)):
        if site["site_id"] in scanned:
            continue
        quiet.append({"site_id": site["site_id"], "slug": site["slug"], "code": site["code"],
                      "name": site["name"], "last_scan": last.get(site["site_id"])})
    return quiet
