"""CSV injection: every CSV the web app or the CLI writes goes through
date_community.csvout, and no cell of any of them starts like a formula.

The routes and commands are found programmatically, so a new CSV download
is walked (or the test says what it is missing):

* every GET route of the app is fetched with real ids, and every response
  that is text/csv is checked; the POST forms that return a CSV are listed
  in POST_CSV, and any view whose code mentions CSV must have produced one;
* every CLI command whose code mentions CSV must be run here (CLI_CSV) or
  say why it writes none (CLI_NO_CSV_OUTPUT);
* no module but csvout uses the csv module's writers.

The formulas are typed in through the public sign-up form and the staff
forms, as an attacker or a careless copy-paste would.
"""
from __future__ import annotations

import csv
import datetime as dt
import inspect
import io
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conftest import BASE, rule_url
from date_community import csvout
from date_community.cli import cli
from date_community.scheduling import attendance, bookings, catalog, shifts
from date_community.opendata import readers

ROOT = Path(__file__).resolve().parents[1]
FROM, TO = (BASE.date() - dt.timedelta(days=1)).isoformat(), (BASE.date() + dt.timedelta(days=60)).isoformat()
DAY1 = (BASE + dt.timedelta(days=1)).date().isoformat()

HYPERLINK = '=HYPERLINK("http://x")'
PAYLOADS = {
    "signup_name": HYPERLINK,
    "staff_name": '+HYPERLINK("http://x")',
    "needs": "-2+3+cmd|' /C calc'!A0",
    "volunteer": "@SUM(1+1)*cmd|' /C calc'!A0",
    "venue": "\t=1+1",
    "address": "\r=1+1",
    "topic": "＝HYPERLINK(\"http://x\")",
    "site_name": HYPERLINK,
    "site_summary": "-1+1",
}

# Query strings for GET CSV routes whose defaults (today, tomorrow) hold
# none of the test's sessions, which are in 2031.
QUERY = {
    "staff.call_list_csv": {"date": DAY1},
    "opendata.events_csv": {"from": FROM, "to": TO},
}
# POST forms that answer with a CSV: endpoint → list of (path builder, form).
POST_CSV = {
    "staff.exports": [
        (lambda ids: "/staff/exports", {"report": "bookings", "bookings-from": FROM, "bookings-to": TO,
                                        "bookings-personal": "yes"}),
        (lambda ids: "/staff/exports", {"report": "bookings", "bookings-from": FROM, "bookings-to": TO}),
        (lambda ids: "/staff/exports", {"report": "hours", "hours-from": FROM, "hours-to": TO}),
        (lambda ids: "/staff/exports", {"report": "participants", "participants-from": FROM,
                                        "participants-to": TO}),
    ],
    "staff.resident_export": [
        (lambda ids: f"/staff/residents/{ids['signup_resident']}/export", {"format": "csv"}),
        (lambda ids: f"/staff/residents/{ids['staff_resident']}/export", {"format": "csv"}),
    ],
}
# CSVs that must carry at least one of the seeded formulas (neutralised), so
# the check cannot pass on empty files.
MUST_CARRY = {"staff.call_list_csv", "staff.exports", "staff.resident_export", "opendata.tourism_csv",
              "opendata.tourism_i18n_csv", "opendata.events_csv"}

# CLI commands whose code mentions CSV: how to make each CSV they write.
CLI_CSV = {
    "call-list": [["call-list", "--date", DAY1], ["call-list", "--date", DAY1, "--format", "csv", "--out", "{out}"]],
    "opendata export": [["opendata", "export", "--what", what, "--out", "{out}", "--base-url", "https://example.jp",
                         "--from", FROM, "--to", TO] for what in ("tourism", "tourism-i18n", "events")],
}
CLI_NO_CSV_OUTPUT = {
    "demo": "reads venues.csv and topics.csv",
    "load-content": "reads venues.csv and topics.csv",
    "content load": "reads venues.csv and topics.csv",
    "opendata import": "reads open-data CSV files",
}


def _cells(data: bytes) -> list[str]:
    text = data.decode("utf-8-sig")
    return [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]


def _dangerous(cells: list[str]) -> list[str]:
    return [c for c in cells if csvout.is_dangerous(c)]


def _neutralised(cells: list[str]) -> list[str]:
    return [c for c in cells if c.startswith("'") and csvout.is_dangerous(c[1:])]


@pytest.fixture
def seeded(app, staff_client, client, catalog_db, web_ids, make_session):
    """Formulas typed in through the public and the staff forms."""
    db = catalog_db
    staff = staff_client
    venue = catalog.get_venue(db, "city-hall")
    form = {k: ("" if venue[k] is None else str(venue[k])) for k in
            ("slug", "name_ja", "name_en", "district", "address", "seats", "lat", "lon", "coord_quality",
             "barrier_free", "source_url")}
    form.update(name_ja=PAYLOADS["venue"], address=PAYLOADS["address"])
    assert 302 == staff.post(f"/staff/venues/{venue['id']}/edit", data=form).status_code
    topic = next(db.query("SELECT * FROM topics WHERE code = 'basics'"))
    form = {"code": "basics", "sort_order": str(topic["sort_order"]), "title_ja": PAYLOADS["topic"],
            **{f"title_{lang}": topic[f"title_{lang}"] for lang in ("en", "zh_Hans", "zh_Hant", "ko")}}
    assert 302 == staff.post(f"/staff/topics/{topic['id']}/edit", data=form).status_code

    sid = make_session(day=1, seats=10)
    response = client.post(f"/classes/{sid}/signup", data={
        "name_kanji": PAYLOADS["signup_name"], "name_kana": "しけん はなこ", "phone": "090-1111-2222",
        "birth_year": "1950", "device": "iphone", "filled_by": "self", "consent": "yes"})
    assert 302 == response.status_code
    signup_resident = next(db.query("SELECT id FROM residents WHERE phone = '09011112222'"))["id"]
    response = staff.post("/staff/residents/new", data={
        "name_kanji": PAYLOADS["staff_name"], "name_kana": "しけん たろう", "phone": "090-3333-4444",
        "birth_year": "1949", "district": "保原", "device": "android", "needs": PAYLOADS["needs"],
        "source": "counter", "consent": "yes"})
    assert 302 == response.status_code
    staff_resident = next(db.query("SELECT id FROM residents WHERE phone = '09033334444'"))["id"]
    booked = bookings.book_seat(db, sid, staff_resident, source="phone", actor="test", now=BASE)
    attendance.check_in(db, booked["booking_id"], actor="test", session_id=sid)

    response = staff.post("/staff/volunteers/new", data={
        "name": PAYLOADS["volunteer"], "name_kana": "", "email": "formula@example.org", "phone": "",
        "username": "formula-helper", "password": ""})
    assert 200 == response.status_code
    vid = next(db.query("SELECT id FROM volunteers WHERE email = 'formula@example.org'"))["id"]
    shift = shifts.book_shift(db, sid, vid, actor="test", now=BASE)
    attendance.check_in_helper(db, shift["shift_id"], actor="test", session_id=sid)

    slug = web_ids["site_slug"]
    response = staff.post(f"/staff/tourism/sites/{slug}/text/ja", data={
        "name": PAYLOADS["site_name"], "kana": "けんさ", "summary": PAYLOADS["site_summary"]})
    assert 302 == response.status_code
    return {**web_ids, "session_id": sid, "signup_resident": signup_resident, "staff_resident": staff_resident}


def _mentions_csv(func) -> bool:
    """Whether a view (or a helper of its own module it calls) deals in CSV."""
    source = inspect.getsource(func)
    module = inspect.getmodule(func)
    for name in set(re.findall(r"\b(_[a-z]\w*)\(", source)):
        helper = getattr(module, name, None)
        if inspect.isfunction(helper):
            source += inspect.getsource(helper)
    return "csv" in source.lower()


def test_every_csv_route_neutralises_formulas(app, staff_client, seeded):
    found: dict[str, list[list[str]]] = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or "logout" in rule.endpoint:
            continue
        response = staff_client.get(rule_url(rule, seeded), query_string=QUERY.get(rule.endpoint, {}))
        if response.mimetype == "text/csv":
            assert 200 == response.status_code
            found.setdefault(rule.endpoint, []).append(_cells(response.data))
    for endpoint, calls in POST_CSV.items():
        for path, form in calls:
            response = staff_client.post(path(seeded), data=form)
            assert (200, "text/csv") == (response.status_code, response.mimetype), (endpoint, form)
            found.setdefault(endpoint, []).append(_cells(response.data))

    for endpoint, files in found.items():
        for cells in files:
            assert [] == _dangerous(cells), endpoint
    carrying = {endpoint for endpoint, files in found.items() if any(_neutralised(c) for c in files)}
    assert MUST_CARRY <= carrying
    # A view that deals in CSV but produced none here is a download this test misses.
    mentions = {endpoint for endpoint, view in app.view_functions.items() if _mentions_csv(view)}
    assert set() == mentions - set(found), "add the route's form to POST_CSV or its query to QUERY"


def _commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from _commands(command, full + " ")
        else:
            yield full, command


def test_every_csv_command_neutralises_formulas(seeded, db_path, tmp_path):
    mentions = {name for name, command in _commands(cli)
                if command.callback and "csv" in inspect.getsource(command.callback).lower()}
    assert set() == mentions - set(CLI_CSV) - set(CLI_NO_CSV_OUTPUT)
    runner = CliRunner()
    for name, runs in CLI_CSV.items():
        for n, args in enumerate(runs):
            out = tmp_path / f"{name.replace(' ', '-')}-{n}.csv"
            argv = ["--db", str(db_path), *[a.replace("{out}", str(out)) for a in args]]
            result = runner.invoke(cli, argv)
            assert 0 == result.exit_code, (argv, result.output)
            data = out.read_bytes() if "{out}" in args else result.stdout_bytes
            cells = _cells(data)
            assert [] == _dangerous(cells), argv
            assert _neutralised(cells), argv


def test_only_csvout_writes_csv():
    writers = re.compile(r"csv\.(writer|DictWriter)\b")
    offenders = [str(path.relative_to(ROOT)) for folder in ("src", "webapp") for path in (ROOT / folder).rglob("*.py")
                 if path.name != "csvout.py" and writers.search(path.read_text(encoding="utf-8"))]
    assert [] == offenders


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1", "＝1", "＋1", "－1", "＠A1"])
def test_dangerous_text_gets_an_apostrophe_and_round_trips(value):
    assert "'" + value == csvout.cell(value)
    data = csvout.to_bytes(["名称"], [[value]])
    assert [(2, {"名称": value})] == readers.read_table(data, ["名称"], allow_unknown=False)


@pytest.mark.parametrize("value, written", [
    (-3, -3), (2.5, 2.5), (0, 0), (None, ""), ("024-577-1111", "024-577-1111"), ("'=already", "''=already"),
    ("'quoted'", "'quoted'"), ("a=b", "a=b"), ("", "")])
def test_numbers_and_harmless_text_are_unchanged(value, written):
    assert written == csvout.cell(value)


def test_an_apostrophe_of_the_data_itself_survives_import():
    data = csvout.to_bytes(["名称"], [["'quoted'"], ["'=x"], ["''-1"]])
    rows = readers.read_table(data, ["名称"], allow_unknown=False)
    assert ["'quoted'", "'=x", "''-1"] == [r["名称"] for _, r in rows]


def test_an_exported_open_data_file_imports_back_unchanged(catalog_db):
    """The apostrophe the writer adds is not taken for part of the data on import."""
    from date_community import opendata
    from date_community.tourism import sites as tourism_sites

    tourism_sites.save_site(catalog_db, {
        "slug": "formula-site", "code": "DT96", "district": "保原", "lat": 37.81, "lon": 140.56,
        "coord_quality": "sourced", "contact_name": "-観光係", "contact_phone": "024-577-1111",
        "texts": {"ja": {"name": HYPERLINK, "summary": "+1 見どころ"}, "en": {"name": "@site"}}}, actor="test")
    data = opendata.export_tourism_csv(catalog_db, "https://example.jp")
    assert b"'=HYPERLINK" in data
    result = opendata.import_tourism_csv(catalog_db, data, actor="test")
    assert ([], []) == (result["created"], result["updated"]) and 1 == result["unchanged"]
    ja = next(catalog_db.query("SELECT name, summary FROM tourism_site_texts t JOIN tourism_sites s "
                               "ON s.id = t.site_id WHERE s.slug = 'formula-site' AND t.locale = 'ja'"))
    assert (HYPERLINK, "+1 見どころ") == (ja["name"], ja["summary"])
