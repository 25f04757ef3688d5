"""The ``date-community`` command, driven through click's CliRunner against a
real SQLite file in tmp_path (passed with --db, never the default path)."""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import logging
import re
import os
import shutil
from date_community.sqlitedriver import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from icalendar import Calendar

from date_community import audit, content
from date_community import db as dbmod
from date_community.cli import cli
from date_community.scheduling import catalog

DOCS = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
# Far enough ahead that no demo session (13 weeks plus a six-month series) is
# on the same day, and computed from today so sign-up windows stay open.
FAR = dt.date.today() + dt.timedelta(days=400)
ACTOR = "cli:tester"


@dataclasses.dataclass
class Cli:
    """Runs the command against one database file and checks the basics every
    invocation must satisfy (no escaped exception, no traceback, exit code)."""

    path: Path
    runner: CliRunner

    def run(self, *args: Any, expect: int = 0, db: bool = True) -> Result:
        argv = (["--db", str(self.path)] if db else []) + [str(a) for a in args]
        result = self.runner.invoke(cli, argv)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert "Traceback" not in result.output
        assert result.exit_code == expect, (argv, result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: Any, expect: int = 0) -> Any:
        return json.loads(self.run(*args, "--json", expect=expect).stdout)

    # --- builders for the flow tests ---------------------------------------------------

    def session(self, day: dt.date, start: str = "10:00", minutes: int = 90, *, seats: int = 10, walkin: int = 0,
                helpers: str = "1:3", extra: tuple[Any, ...] = ()) -> int:
        begin = dt.datetime.fromisoformat(f"{day.isoformat()}T{start}")
        return self.json("sessions", "add", "--topic", "basics", "--venue", "city-hall",
                         "--start", begin.isoformat(), "--end", (begin + dt.timedelta(minutes=minutes)).isoformat(),
                         "--seats", seats, "--walkin", walkin, "--helpers", helpers, *extra)["session_id"]

    def resident(self, n: int, name: str | None = None) -> int:
        return self.json("residents", "add", "--name", name or f"試験 {n}号", "--kana", "しけん",
                         "--phone", f"080-1111-{n:04d}")["resident_id"]

    def volunteer(self, n: int) -> int:
        return self.json("volunteers", "add", "--name", f"例 {n}", "--email", f"cli{n}@example.org")["volunteer_id"]

    def book(self, session_id: int, resident_id: int) -> dict:
        return self.json("book", "--session", session_id, "--resident", resident_id)

    def counts(self) -> dict[str, int]:
        conn = sqlite3.connect(self.path)
        try:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                    for t in ("venues", "topics", "sessions", "residents", "volunteers", "bookings", "shifts",
                              "users")}
        finally:
            conn.close()


def _runner() -> CliRunner:
    # A fixed login name for the audit actor; DATE_COMMUNITY_DB unset so only
    # the tests that mean to use it do.
    return CliRunner(env={"USER": "tester", "LOGNAME": None, "USERNAME": None, dbmod.ENV_VAR: None})


@pytest.fixture
def empty(tmp_path: Path) -> Cli:
    """A fresh database with only the schema."""
    c = Cli(tmp_path / "cli.db", _runner())
    c.run("init-db")
    return c


@pytest.fixture
def catalogued(empty: Cli) -> Cli:
    """The schema plus the real venues and topics from content/, nothing else.
    (No CLI command loads only the catalogue, so the library does it.)"""
    database = dbmod.connect(empty.path)
    try:
        content.load_catalog(database)
    finally:
        database.close()
    return empty


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The demo load takes about a second; build it once and copy it per test.
    c = Cli(tmp_path_factory.mktemp("demo") / "demo.db", _runner())
    c.run("init-db")
    assert c.json("demo")["loaded"] is True
    return c.path


@pytest.fixture
def demo(demo_template: Path, tmp_path: Path) -> Cli:
    """A database with the demo data (the last connection has closed, so the
    WAL has been checkpointed into the main file and copying it is safe)."""
    target = tmp_path / "cli.db"
    shutil.copy(demo_template, target)
    return Cli(target, _runner())


def _audit(path: Path, **filters: Any) -> list[dict]:
    database = dbmod.connect(path)
    try:
        return audit.entries(database, **filters)
    finally:
        database.close()


# --- database selection and init-db ---------------------------------------------------------------


@pytest.mark.parametrize("how", [
    "option",  # --db PATH is the documented way
    "env",  # DATE_COMMUNITY_DB is used when --db is absent
    "both",  # --db wins over the environment variable
])
def test_init_db_resolves_path_and_is_idempotent(tmp_path: Path, how: str) -> None:
    chosen, other = tmp_path / "chosen.db", tmp_path / "other.db"
    env_value = {"option": None, "env": str(chosen), "both": str(other)}[how]
    runner = CliRunner(env={"USER": "tester", dbmod.ENV_VAR: env_value})
    argv = [] if how == "env" else ["--db", str(chosen)]

    first = runner.invoke(cli, [*argv, "init-db", "--json"])
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert Path(data["path"]) == chosen
    assert data["applied"][0] == "0001_core"
    assert chosen.is_file() and not other.exists()

    again = runner.invoke(cli, [*argv, "init-db"])
    assert again.exit_code == 0
    assert str(chosen) in again.stdout and "Already up to date." in again.stdout


def test_commands_migrate_a_new_database_on_first_use(tmp_path: Path) -> None:
    c = Cli(tmp_path / "new.db", _runner())
    assert c.json("venues", "list") == []
    assert c.json("init-db")["applied"] == []  # the listing already migrated it


# --- demo ---------------------------------------------------------------------------------------------


def test_demo_loads_once_and_prints_logins(empty: Cli) -> None:
    data = empty.json("demo")
    assert data["loaded"] is True
    assert data["residents"] == 40 and data["volunteers"] == 10
    assert data["sessions"] == empty.counts()["sessions"] > 0
    assert {x["username"] for x in data["logins"]} == {"staff", "volunteer"}

    before = empty.counts()
    again = empty.run("demo")
    assert "already has sessions" in again.stdout
    assert "staff / staff-demo-pass" in again.stdout
    assert empty.counts() == before


# --- catalogue --------------------------------------------------------------------------------------


def test_venues_and_topics_list(demo: Cli) -> None:
    venues = demo.json("venues", "list")
    assert "city-hall" in {v["slug"] for v in venues}
    text = demo.run("venues", "list").stdout
    assert text.splitlines()[0].split() == ["SLUG", "DISTRICT", "SEATS", "NAME"]
    assert len(text.splitlines()) == len(venues) + 2  # header and rule

    topics = demo.json("topics", "list")
    assert topics[0]["code"] == "basics"  # sort_order 10, the first
    assert "basics" in demo.run("topics", "list").stdout


# --- sessions ---------------------------------------------------------------------------------------


def test_sessions_add_and_list_counts(demo: Cli) -> None:
    sid = demo.session(FAR, seats=12, walkin=2, helpers="2:4")
    rows = demo.json("sessions", "list", "--from", FAR, "--to", FAR)
    assert [r["id"] for r in rows] == [sid]
    row = rows[0]
    assert (row["seats"], row["walkin_seats"], row["capacity"]) == (12, 2, 10)
    assert (row["confirmed"], row["waitlisted"], row["helpers_min"], row["helpers_max"]) == (0, 0, 2, 4)
    assert row["starts_at"] == f"{FAR.isoformat()}T10:00:00+09:00"

    line = demo.run("sessions", "list", "--from", FAR, "--to", FAR).stdout.splitlines()[2].split()
    assert line[0] == str(sid) and "10+2" in line and "0 (2-4)" in " ".join(line)


def _second_tuesday_after(day: dt.date) -> dt.date:
    month = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    first_tue = month + dt.timedelta(days=(1 - month.weekday()) % 7)
    return first_tue + dt.timedelta(days=7)


def test_sessions_add_repeat_creates_series(demo: Cli) -> None:
    first = _second_tuesday_after(FAR)
    begin = f"{first.isoformat()}T13:30"
    data = demo.json("sessions", "add", "--topic", "line", "--venue", "date-chuo", "--start", begin,
                     "--end", f"{first.isoformat()}T15:00", "--seats", 8, "--helpers", "1:2", "--kind", "drop-in",
                     "--repeat", "FREQ=MONTHLY;BYDAY=+2TU;COUNT=6")
    assert len(data["session_ids"]) == 6
    rows = [r for r in demo.json("sessions", "list", "--from", first, "--venue", "date-chuo")
            if r["id"] in data["session_ids"]]
    assert [r["series_index"] for r in rows] == list(range(6))
    starts = [dt.datetime.fromisoformat(r["starts_at"]) for r in rows]
    assert all(s.weekday() == 1 and 8 <= s.day <= 14 and (s.hour, s.minute) == (13, 30) for s in starts)
    assert len({(s.year, s.month) for s in starts}) == 6
    assert {r["kind"] for r in rows} == {"drop-in"}


def test_sessions_cancel_following_and_all_flag(demo: Cli) -> None:
    first = _second_tuesday_after(FAR)
    ids = demo.json("sessions", "add", "--topic", "line", "--venue", "date-chuo", "--start", f"{first}T13:30",
                    "--end", f"{first}T15:00", "--seats", 8, "--helpers", "1:2",
                    "--repeat", "FREQ=MONTHLY;BYDAY=+2TU;COUNT=4")["session_ids"]
    assert demo.json("sessions", "cancel", ids[2], "--scope", "following", "--reason", "hall repairs") == {
        "cancelled": ids[2:]}
    listed = {r["id"] for r in demo.json("sessions", "list", "--from", first)}
    assert set(ids) & listed == set(ids[:2])
    every = {r["id"]: r["status"] for r in demo.json("sessions", "list", "--from", first, "--all")}
    assert [every[i] for i in ids] == ["scheduled", "scheduled", "cancelled", "cancelled"]
    assert demo.json("sessions", "cancel", ids[3], expect=1)["error"] == "session_cancelled"


# --- bookings and the waitlist ------------------------------------------------------------------


def test_book_until_full_then_waitlist_and_cancel_promotes(demo: Cli) -> None:
    sid = demo.session(FAR, seats=3, walkin=1)  # two bookable seats
    people = [demo.resident(n) for n in range(1, 5)]
    results = [demo.book(sid, rid) for rid in people]
    assert set(results[0]) == {"booking_id", "status", "position", "reference"}
    assert [(r["status"], r["position"]) for r in results] == [
        ("confirmed", None), ("confirmed", None), ("waitlisted", 1), ("waitlisted", 2)]
    row = demo.json("sessions", "list", "--from", FAR, "--to", FAR)[0]
    assert (row["confirmed"], row["waitlisted"]) == (2, 2)

    assert demo.json("cancel", "--booking", results[0]["booking_id"]) == {"promoted": results[2]["booking_id"]}
    row = demo.json("sessions", "list", "--from", FAR, "--to", FAR)[0]
    assert (row["confirmed"], row["waitlisted"]) == (2, 1)
    # cancelling a waitlisted booking frees no seat, so nobody is promoted
    assert demo.json("cancel", "--booking", results[3]["booking_id"]) == {"promoted": None}
    assert demo.json("cancel", "--booking", results[3]["booking_id"], expect=1)["error"] == "booking_not_active"

    text = demo.run("book", "--session", sid, "--resident", people[3]).stdout
    assert re.fullmatch(r"Booking \d+ \(reference [A-Z0-9]{3}-[A-Z0-9]{3}\): waitlisted, waitlist position 1\.\n",
                        text)
    actors = {e["actor"] for e in _audit(demo.path, entity="booking", entity_id=results[0]["booking_id"])}
    assert actors == {ACTOR}


def test_book_override_and_paper_ref(demo: Cli) -> None:
    sid = demo.session(FAR, extra=("--signup-opens", f"{FAR}T09:00"))  # sign-up not yet open
    rid = demo.resident(1)
    assert demo.json("book", "--session", sid, "--resident", rid, expect=1)["error"] == "signup_not_open"
    out = demo.json("book", "--session", sid, "--resident", rid, "--source", "paper",
                    "--override-reason", "form handed in at the counter", "--paper-ref", "P-17")
    assert out["status"] == "confirmed"
    database = dbmod.connect(demo.path)
    try:
        row = database["bookings"].get(out["booking_id"])
    finally:
        database.close()
    assert (row["source"], row["paper_ref"], row["override_reason"], row["entered_by"]) == (
        "paper", "P-17", "form handed in at the counter", ACTOR)


# --- residents and volunteers ---------------------------------------------------------------------


def test_residents_add_find_duplicates_merge(catalogued: Cli) -> None:
    c = catalogued
    # katakana kana, full-width digits, "町" suffix and a Japanese device name are all normalised
    keep = c.json("residents", "add", "--name", "見本 花子", "--kana", "ミホン ハナコ",
                  "--phone", "０９０-１２３４-５６７８", "--birth-year", "1948", "--district", "梁川町",
                  "--device", "らくらくスマホ", "--source", "paper")
    assert keep["possible_duplicates"] == []
    other = c.json("residents", "add", "--name", "見本 はな子", "--kana", "みほん はなこ",
                   "--phone", "+81 90 1234 5678")
    assert other["possible_duplicates"] == [keep["resident_id"]]

    listed = c.json("residents", "list")
    assert [(r["name_kana"], r["phone"], r["district"], r["device"]) for r in listed][0] == (
        "みほん はなこ", "09012345678", "梁川", "rakuraku")
    assert "090-1234-5678" in c.run("residents", "list").stdout
    assert {r["id"] for r in c.json("residents", "find", "ミホン")} == {keep["resident_id"], other["resident_id"]}
    assert len(c.json("residents", "find", "090-1234-5678")) == 2
    assert "No residents match." in c.run("residents", "find", "やまだ").stdout
    assert c.json("residents", "duplicates") == [
        {"keep_id": keep["resident_id"], "other_id": other["resident_id"], "reason": "phone"}]

    sid = c.session(FAR)
    c.book(sid, other["resident_id"])
    merged = c.json("residents", "merge", keep["resident_id"], other["resident_id"])
    assert (merged["kept"], merged["merged"], merged["bookings_moved"]) == (
        keep["resident_id"], other["resident_id"], 1)
    assert [r["id"] for r in c.json("residents", "list")] == [keep["resident_id"]]
    assert c.json("residents", "duplicates") == []
    assert c.json("residents", "merge", keep["resident_id"], keep["resident_id"], expect=1)["error"] == (
        "same_resident")


def test_volunteers_add_and_list_hide_the_calendar_token(empty: Cli) -> None:
    vid = empty.json("volunteers", "add", "--name", "例 健太", "--email", "kenta@example.org", "--kana", "れい けんた",
                     "--phone", "090-0000-9001", "--skill", "line", "--skill", "basics", "--device", "android",
                     "--language", "ja", "--language", "en")["volunteer_id"]
    rows = empty.json("volunteers", "list")
    assert [(r["id"], r["skills"], r["devices"], r["languages"]) for r in rows] == [
        (vid, ["basics", "line"], ["android"], ["en", "ja"])]
    assert "calendar_token" not in rows[0]
    text = empty.run("volunteers", "list").stdout
    assert "kenta@example.org" in text and "basics,line" in text
    assert empty.json("volunteers", "add", "--name", "別人", "--email", "KENTA@example.org", expect=1)["error"] == (
        "duplicate_email")


# --- shifts --------------------------------------------------------------------------------------------


def _soon() -> dt.datetime:
    # A session 24 hours ahead: inside the default 48-hour cut-off, outside 12.
    return (dt.datetime.now(dt.timezone(dt.timedelta(hours=9))) + dt.timedelta(hours=24)).replace(microsecond=0)


@pytest.mark.parametrize("when, flags, expected", [
    ("far", [], None),  # well before the cut-off: a volunteer may cancel
    ("soon", [], "too_late_to_cancel"),  # inside the default 48 h cut-off: refused
    ("soon", ["--staff"], None),  # staff override ignores the cut-off
    ("soon", ["--cutoff-hours", "12"], None),  # a shorter configured cut-off lets it through
])
def test_shift_book_and_cancel_cutoff(catalogued: Cli, when: str, flags: list[str], expected: str | None) -> None:
    c = catalogued
    if when == "far":
        sid = c.session(FAR)
    else:
        start = _soon()
        sid = c.json("sessions", "add", "--topic", "basics", "--venue", "city-hall", "--start",
                         start.isoformat(), "--end", (start + dt.timedelta(hours=1)).isoformat(), "--seats", 5,
                         "--helpers", "1:2")["session_id"]
    vid = c.volunteer(1)
    booked = c.json("shift", "book", "--session", sid, "--volunteer", vid, "--role", "lead")
    assert booked["status"] == "booked" and booked["role"] == "lead"

    out = c.json("shift", "cancel", "--shift", booked["shift_id"], *flags, expect=1 if expected else 0)
    if expected:
        assert out["error"] == expected
        assert c.json("sessions", "list", "--from", dt.date.today())[0]["helpers_booked"] == 1
    else:
        assert out == {"shift_id": booked["shift_id"], "status": "cancelled"}


def test_shift_rules_are_domain_errors(demo: Cli) -> None:
    sid = demo.session(FAR, helpers="0:2")
    a, b, c = (demo.volunteer(n) for n in (1, 2, 3))
    assert demo.json("shift", "book", "--session", sid, "--volunteer", a, "--role", "lead")["role"] == "lead"
    assert demo.json("shift", "book", "--session", sid, "--volunteer", a, expect=1)["error"] == "already_on_shift"
    assert demo.json("shift", "book", "--session", sid, "--volunteer", b, "--role", "lead", expect=1)["error"] == (
        "lead_taken")
    assert "as assistant" in demo.run("shift", "book", "--session", sid, "--volunteer", b).stdout
    assert demo.json("shift", "book", "--session", sid, "--volunteer", c, expect=1)["error"] == "helpers_full"


# --- iCalendar -----------------------------------------------------------------------------------------


def _events(data: bytes) -> list:
    return list(Calendar.from_ical(data).walk("VEVENT"))


def test_ics_volunteer_feed_and_session_file(demo: Cli, tmp_path: Path) -> None:
    s1 = demo.session(FAR, "10:00")
    s2 = demo.session(FAR + dt.timedelta(days=7), "13:30", 60)
    vid = demo.volunteer(1)
    h1 = demo.json("shift", "book", "--session", s1, "--volunteer", vid)["shift_id"]
    h2 = demo.json("shift", "book", "--session", s2, "--volunteer", vid)["shift_id"]
    demo.run("shift", "cancel", "--shift", h2)

    feed = demo.run("ics", "--volunteer", vid).stdout_bytes
    events = {str(e["UID"]): e for e in _events(feed)}
    assert set(events) == {f"shift-{h1}@date-community", f"shift-{h2}@date-community"}
    assert str(events[f"shift-{h1}@date-community"]["STATUS"]) == "CONFIRMED"
    assert str(events[f"shift-{h2}@date-community"]["STATUS"]) == "CANCELLED"
    start = events[f"shift-{h1}@date-community"]["DTSTART"].dt
    assert start == dt.datetime.fromisoformat(f"{FAR.isoformat()}T10:00+09:00")

    one = _events(demo.run("ics", "--session", s2).stdout_bytes)
    assert [str(e["UID"]) for e in one] == [f"session-{s2}@date-community"]
    assert one[0]["DTEND"].dt - one[0]["DTSTART"].dt == dt.timedelta(minutes=60)

    out = tmp_path / "feed.ics"
    assert demo.json("ics", "--volunteer", vid, "--out", out) == {"events": 2, "path": str(out)}
    assert len(_events(out.read_bytes())) == 2
    assert demo.json("ics", "--session", s1)["events"] == 1
    assert demo.json("ics", "--volunteer", 9999, expect=1)["error"] == "volunteer_not_found"


# --- call list -----------------------------------------------------------------------------------------


@pytest.fixture
def call_day(demo: Cli) -> dict[str, Any]:
    """On FAR: A confirmed, B waitlisted, D cancelled; C is booked the next day."""
    sid = demo.session(FAR, seats=1)
    other_day = demo.session(FAR + dt.timedelta(days=1))
    names = {k: f"通話 {k}" for k in "ABCD"}
    ids = {k: demo.resident(90 + i, names[k]) for i, k in enumerate("ABCD")}
    demo.book(sid, ids["A"])
    demo.book(sid, ids["B"])
    demo.book(other_day, ids["C"])
    demo.run("cancel", "--booking", demo.book(sid, ids["D"])["booking_id"])
    return {"names": names, "ids": ids}


def _csv_people(result: Result) -> list[tuple[str, str, str]]:
    raw = result.stdout_bytes
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw  # Excel needs the BOM and CRLF
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][5] == "氏名"
    return [(r[5], r[3], r[7]) for r in rows[1:]]


@pytest.mark.parametrize("fmt", [
    "csv",  # the default, opened in Excel by office staff
    "html",  # the printable page for the phone desk
])
def test_call_list_contains_exactly_the_days_live_bookings(demo: Cli, call_day: dict, fmt: str) -> None:
    names = call_day["names"]
    result = demo.run("call-list", "--date", FAR, "--format", fmt)
    if fmt == "csv":
        assert _csv_people(result) == [(names["A"], "確定", "080-1111-0090"),
                                       (names["B"], "キャンセル待ち", "080-1111-0091")]
    else:
        page = result.stdout
        assert page.startswith("<!doctype html>") and f"{FAR.year}年{FAR.month}月{FAR.day}日" in page
        assert names["A"] in page and names["B"] in page and "キャンセル待ち 1番" in page
        assert names["C"] not in page and names["D"] not in page
    views = _audit(demo.path, entity="call_list")
    assert views[0]["actor"] == ACTOR and views[0]["detail"] == {"day": FAR.isoformat(), "residents": 2}


def test_call_list_json_and_out_file(demo: Cli, call_day: dict, tmp_path: Path) -> None:
    rows = demo.json("call-list", "--date", FAR)
    assert [(r["name_kanji"], r["status"], r["position"]) for r in rows] == [
        (call_day["names"]["A"], "confirmed", None), (call_day["names"]["B"], "waitlisted", 1)]
    out = tmp_path / "calls.csv"
    assert "Wrote 2 residents" in demo.run("call-list", "--date", FAR, "--out", out).stdout
    assert out.read_bytes().count(b"\r\n") == 3  # header and two people, CRLF kept on disk
    empty_day = demo.run("call-list", "--date", FAR - dt.timedelta(days=1), "--format", "html").stdout
    assert "この日の予約はありません。" in empty_day


# --- backup and restore --------------------------------------------------------------------------------


def test_backup_then_restore_round_trips(demo: Cli, tmp_path: Path) -> None:
    sid = demo.session(FAR, seats=1)
    demo.book(sid, demo.resident(1))
    demo.book(sid, demo.resident(2))
    original = demo.counts()

    backup = tmp_path / "backups" / "copy.db"
    made = demo.json("backup", backup)
    assert Path(made["path"]) == backup and backup.is_file() and made["bytes"] == backup.stat().st_size
    assert {k: made["counts"][k] for k in original} == original

    fresh = Cli(tmp_path / "restored.db", _runner())
    restored = fresh.json("restore", backup)
    assert {k: restored["counts"][k] for k in original} == original
    assert fresh.counts() == original
    row = fresh.json("sessions", "list", "--from", FAR, "--to", FAR)[0]
    assert (row["id"], row["confirmed"], row["waitlisted"]) == (sid, 1, 1)


def test_restore_refuses_to_overwrite_data_without_yes(demo: Cli, tmp_path: Path) -> None:
    backup = tmp_path / "empty-backup.db"
    Cli(tmp_path / "blank.db", _runner()).run("backup", backup)
    before = demo.counts()
    result = demo.run("restore", backup, expect=2)
    assert "--yes" in result.stderr and demo.counts() == before
    demo.run("restore", backup, "--yes")
    assert demo.counts()["sessions"] == 0


@pytest.mark.parametrize("content, code", [
    (None, "restore_failed"),  # the backup file does not exist
    (b"not a database at all" * 100, "invalid_database"),  # a file that is not SQLite
])
def test_restore_rejects_bad_sources(empty: Cli, tmp_path: Path, content: bytes | None, code: str) -> None:
    source = tmp_path / "source.db"
    if content is not None:
        source.write_bytes(content)
    assert empty.json("restore", source, expect=1)["error"] == code


# --- exit codes and error reporting ------------------------------------------------------------------

DOMAIN_ERRORS = [
    # a session id that does not exist
    (["book", "--session", "999", "--resident", "1"], "session_not_found"),
    # a phone number with too few digits
    (["residents", "add", "--name", "見本 一", "--kana", "みほん", "--phone", "123"], "invalid_phone"),
    # furigana written in kanji
    (["residents", "add", "--name", "見本 一", "--kana", "見本"], "invalid_kana"),
    # a venue slug that is not in the catalogue
    (["sessions", "add", "--topic", "basics", "--venue", "nowhere", "--start", "2031-05-01T10:00",
      "--end", "2031-05-01T11:00", "--seats", "5", "--helpers", "1:2"], "venue_not_found"),
    # well-formed times in the wrong order: a rule violation, not a usage error
    (["sessions", "add", "--topic", "basics", "--venue", "city-hall", "--start", "2031-05-01T10:00",
      "--end", "2031-05-01T09:00", "--seats", "5", "--helpers", "1:2"], "invalid_time_range"),
    # more walk-in seats than seats
    (["sessions", "add", "--topic", "basics", "--venue", "city-hall", "--start", "2031-05-01T10:00",
      "--end", "2031-05-01T11:00", "--seats", "2", "--walkin", "3", "--helpers", "1:2"], "invalid_seats"),
    # a repeat rule dateutil cannot read
    (["sessions", "add", "--topic", "basics", "--venue", "city-hall", "--start", "2031-05-01T10:00",
      "--end", "2031-05-01T11:00", "--seats", "5", "--helpers", "1:2", "--repeat", "EVERY=SOMETIMES"],
     "invalid_rule"),
    # filtering the listing by an unknown topic
    (["sessions", "list", "--topic", "knitting"], "topic_not_found"),
    # cancelling a booking that does not exist
    (["cancel", "--booking", "999"], "booking_not_found"),
    # a malformed email address
    (["volunteers", "add", "--name", "例", "--email", "not-an-email"], "invalid_email"),
    # a shift for an unknown session
    (["shift", "book", "--session", "999", "--volunteer", "1"], "session_not_found"),
    # merging a resident that does not exist
    (["residents", "merge", "1", "2"], "resident_not_found"),
]


@pytest.mark.parametrize("args, code", DOMAIN_ERRORS)
def test_domain_error_text_goes_to_stderr_as_one_line(catalogued: Cli, args: list[str], code: str) -> None:
    result = catalogued.run(*args, expect=1)
    assert result.stdout == ""
    assert re.fullmatch(rf"error: [^\n]+ \[{code}\]\n", result.stderr), result.stderr
    assert "SELECT" not in result.stderr and "INSERT" not in result.stderr


@pytest.mark.parametrize("args, code", DOMAIN_ERRORS)
def test_domain_error_json_is_one_object_on_stdout(catalogued: Cli, args: list[str], code: str) -> None:
    data = catalogued.json(*args, expect=1)
    assert set(data) == {"error", "message"} and data["error"] == code
    assert data["message"] and "\n" not in data["message"]


@pytest.mark.parametrize("args, fragment", [
    # a required option left out
    (["book", "--session", "1"], "Missing option '--resident'"),
    # a value outside a fixed choice
    (["sessions", "add", "--topic", "basics", "--venue", "city-hall", "--start", "2031-05-01T10:00",
      "--end", "2031-05-01T11:00", "--seats", "5", "--helpers", "1:2", "--kind", "party"], "'party' is not one of"),
    # a date-time that cannot be parsed at all
    (["sessions", "add", "--topic", "basics", "--venue", "city-hall", "--start", "tomorrow",
      "--end", "2031-05-01T11:00", "--seats", "5", "--helpers", "1:2"], "is not an ISO date-time"),
    # a helper range with the maximum below the minimum
    (["sessions", "add", "--topic", "basics", "--venue", "city-hall", "--start", "2031-05-01T10:00",
      "--end", "2031-05-01T11:00", "--seats", "5", "--helpers", "4:2"], "is not MIN:MAX"),
    # a date that is not ISO
    (["call-list", "--date", "12/03/2031"], "is not a date"),
    # an id that is not a number
    (["cancel", "--booking", "abc"], "'abc' is not a valid integer"),
    # ics needs exactly one of --volunteer and --session
    (["ics"], "exactly one of --volunteer and --session"),
    # a command that does not exist
    (["frobnicate"], "No such command 'frobnicate'"),
])
def test_usage_errors_exit_2(catalogued: Cli, args: list[str], fragment: str) -> None:
    result = catalogued.run(*args, "--json", expect=2)
    assert result.stdout == ""
    assert "Usage:" in result.stderr and fragment in result.stderr


@pytest.mark.parametrize("as_json", [
    False,  # a person reading the terminal gets one stderr line
    True,  # a script additionally gets a JSON error object on stdout
])
def test_unexpected_exception_is_one_line_without_sql(catalogued: Cli, monkeypatch: pytest.MonkeyPatch,
                                                      as_json: bool) -> None:
    def broken(db: Any) -> list:
        raise sqlite3.OperationalError('near "SELECT": syntax error in SELECT * FROM venues')

    monkeypatch.setattr(catalog, "list_venues", broken)
    result = catalogued.run("venues", "list", *(["--json"] if as_json else []), expect=1)
    assert result.stderr == "error: internal error (OperationalError)\n"
    assert "SELECT" not in result.output
    if as_json:
        assert json.loads(result.stdout) == {"error": "internal_error", "message": "internal error (OperationalError)"}
    else:
        assert result.stdout == ""


def test_a_file_that_is_not_a_database_is_a_domain_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 1000)
    c = Cli(bad, _runner())
    assert c.json("venues", "list", expect=1)["error"] == "invalid_database"


@pytest.mark.parametrize("verbose", [
    False,  # the default keeps stderr clean
    True,  # -v adds nothing when nothing is wrong: no start-up warnings
])
def test_console_entry_point_in_a_real_process(tmp_path: Path, verbose: bool) -> None:
    # In-process runs share logging state with pytest; a fresh interpreter
    # shows what a staff member's shell really gets, through main().
    env = {k: v for k, v in os.environ.items() if k != dbmod.ENV_VAR}
    base = [sys.executable, "-m", "date_community.cli", "--db", str(tmp_path / "p.db"), *(["-v"] if verbose else [])]

    ok = subprocess.run([*base, "venues", "list", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0 and json.loads(ok.stdout) == []
    assert ok.stderr.splitlines() == []

    bad = subprocess.run([*base, "book", "--session", "7", "--resident", "1"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.splitlines()[-1] == "error: The session does not exist. (id=7) [session_not_found]"
    assert len(bad.stderr.splitlines()) == 1


# --- help text and documentation -------------------------------------------------------------------------


def _walk(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _walk(command, (*prefix, name))


COMMANDS = list(_walk(cli))


def test_the_walk_finds_the_whole_contract() -> None:
    found = {" ".join(path) for path, _ in COMMANDS}
    assert {"init-db", "demo", "venues list", "topics list", "sessions add", "sessions list", "sessions cancel",
            "residents add", "residents list", "residents find", "residents merge", "residents duplicates",
            "volunteers add", "volunteers list", "book", "cancel", "shift book", "shift cancel", "ics",
            "call-list", "backup", "restore"} <= found


# Generated: one case per command or subcommand, so a new command without help
# text or documentation fails here.
@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_and_is_documented(path: tuple[str, ...], command: click.Command) -> None:
    assert (command.help or "").strip(), f"{path} has no help text"
    for param in command.params:
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"{path} {param.opts} has no help text"
    if not isinstance(command, click.Group):
        assert any("--json" in p.opts for p in command.params if isinstance(p, click.Option)), path

    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="date-community")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: date-community {' '.join(path)} ")
    # click re-wraps help text, so compare with whitespace folded
    assert " ".join(command.help.split("\n\n")[0].split()) in " ".join(result.stdout.split())

    docs = DOCS.read_text(encoding="utf-8")
    name = " ".join(path)
    assert re.search(rf"^#+ `{re.escape(name)}`", docs, re.MULTILINE), f"no heading for {name} in docs/cli.md"
    if not isinstance(command, click.Group):
        assert re.search(rf"^date-community (--db \S+ )?{re.escape(name)}\b", docs, re.MULTILINE), (
            f"no example for {name} in docs/cli.md")


def test_root_help_and_global_options_are_documented() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "--db PATH" in result.stdout and "--verbose" in result.stdout
    docs = DOCS.read_text(encoding="utf-8")
    for needle in ("--db", dbmod.ENV_VAR, "--json", "--verbose", "error: ", "exit"):
        assert needle in docs


def test_outbox_send_delivers_over_smtp_and_lists_states(tmp_path, monkeypatch) -> None:
    # A real SMTP server on loopback: the command must hand the queued message to it.
    import socket

    from aiosmtpd.controller import Controller

    from date_community import content, notify, people, timeutil
    from date_community import db as dbmod
    from date_community.scheduling import sessions as sess
    from date_community.scheduling import shifts as sh

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    with socket.socket() as sock:  # a free loopback port for the server
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        path = tmp_path / "mail.db"
        database = dbmod.connect(path)
        content.load_catalog(database)
        start = timeutil.now() + dt.timedelta(days=10)
        sid = sess.add_session(database, topic="basics", venue="city-hall", starts_at=start,
                               ends_at=start + dt.timedelta(hours=1), seats=5, helpers_max=2)
        vid = people.add_volunteer(database, name="例 一", email="one@example.org")
        sh.book_shift(database, sid, vid, actor="t")
        database.close()
        monkeypatch.setenv("MAIL_SERVER", "127.0.0.1")
        monkeypatch.setenv("MAIL_PORT", str(port))
        monkeypatch.setenv("STAFF_EMAIL", "desk@example.jp")
        result = CliRunner().invoke(cli, ["--db", str(path), "outbox", "send", "--json"])
        assert 0 == result.exit_code, result.output
        assert 1 == json.loads(result.stdout)["sent"]
        assert ["one@example.org"] == [rcpt for env in received for rcpt in env.rcpt_tos]
        listing = CliRunner().invoke(cli, ["--db", str(path), "outbox", "list", "--state", "sent", "--json"])
        assert ["sent"] == [row["state"] for row in json.loads(listing.stdout)]
        database = dbmod.connect(path)
        assert [] == notify.messages(database, state="pending")
    finally:
        controller.stop()


def test_outbox_send_without_a_server_is_a_usage_error(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MAIL_SERVER", raising=False)
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "outbox", "send"])
    assert 2 == result.exit_code
    assert "MAIL_SERVER" in result.stderr
