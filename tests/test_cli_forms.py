"""``date-community forms``: print, scan and purge through the CLI, on a real
database file passed with --db."""
from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import BASE
from date_community import audit, db as dbmod
from date_community.cli import cli
from date_community.forms import records, review


def run(db_path: Path, *args, expect: int = 0):
    result = CliRunner().invoke(cli, ["--db", str(db_path), *[str(a) for a in args]])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == expect, (args, result.exit_code, result.stdout, result.stderr)
    return result


@pytest.fixture
def two_sessions(make_session):
    return [make_session(day=1), make_session(day=3)]


def _day(offset: int) -> str:
    return (BASE + dt.timedelta(days=offset)).date().isoformat()


def test_print_writes_the_pdf_and_layout(db_path, two_sessions, tmp_path):
    out = tmp_path / "out"
    data = json.loads(run(db_path, "forms", "print", "--venue", "city-hall", "--from", _day(0), "--to", _day(6),
                          "--copies", 3, "--out", out, "--json").stdout)
    assert data["serials"] == [1, 2, 3] and data["sessions"] == 2
    pdf = Path(data["pdf"])
    assert pdf.parent == out and pdf.name == f"forms-{data['version']}-1-3.pdf"
    document = pdfium.PdfDocument(str(pdf))
    assert len(document) == 3
    document.close()
    layout = json.loads((out / "layout.json").read_text(encoding="utf-8"))
    assert layout["form_version"] == data["version"] and layout["origin"] == "top-left"
    assert [b["value"] for b in layout["boxes"] if b["kind"] == "session"] == two_sessions
    human = run(db_path, "forms", "print", "--venue", "city-hall", "--from", _day(0), "--to", _day(6),
                "--out", out).stdout
    assert "serials 4–4" in human and data["version"] in human


@pytest.mark.parametrize("args, expect, needle", [
    (("--venue", "nowhere", "--from", _day(0), "--to", _day(6)), 1, "[venue_not_found]"),   # unknown venue
    (("--venue", "city-hall", "--from", _day(30), "--to", _day(36)), 1, "[no_sessions_in_period]"),  # empty period
    (("--venue", "city-hall", "--from", "soon", "--to", _day(6)), 2, "not a date"),         # unparseable date
    (("--venue", "city-hall", "--from", _day(0), "--to", _day(6), "--copies", 0), 2, "--copies"),  # no copies
])
def test_print_errors(db_path, two_sessions, tmp_path, args, expect, needle):
    result = run(db_path, "forms", "print", *args, "--out", tmp_path / "out", expect=expect)
    assert needle in result.stderr
    assert not (tmp_path / "out" / "layout.json").exists()


def _blank_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (1240, 1754), 250).save(buffer, "PNG")
    return buffer.getvalue()


def test_scan_reports_every_page_and_exits_0_with_some_bad(db_path, two_sessions, tmp_path):
    run(db_path, "forms", "print", "--venue", "city-hall", "--from", _day(0), "--to", _day(6), "--copies", 2,
        "--out", tmp_path / "out")
    pdf = next((tmp_path / "out").glob("forms-*.pdf"))
    blank = tmp_path / "back.png"
    blank.write_bytes(_blank_png())
    junk = tmp_path / "notes.txt"
    junk.write_text("not a scan", encoding="utf-8")
    report = json.loads(run(db_path, "forms", "scan", "--json", pdf, blank, junk).stdout)
    assert [(p["source_name"], p["status"], p["serial"]) for p in report["pages"]] == [
        (pdf.name, "ok", 1), (pdf.name, "ok", 2), ("back.png", "blank", None), ("notes.txt", "unreadable_file", None)]
    assert report["files_read"] == 2 and report["counts"]["ok"] == 2
    # the printed, unfilled sheets are queued: every box read as empty, nothing booked
    database = dbmod.connect(db_path)
    try:
        queue = records.review_queue(database)
        assert [s["serial"] for s in sorted(queue, key=lambda s: s["serial"])] == [1, 2]
        assert all(s["marked"] == 0 for s in queue)
        assert audit.entries(database, entity="scan_batch")[0]["actor"].startswith("cli")
    finally:
        database.close()
    again = run(db_path, "forms", "scan", pdf).stdout
    assert "already_scanned" in again and "Batch 2: 1 files, 2 pages" in again


def test_scan_exits_1_when_no_file_can_be_read(db_path, tmp_path):
    junk = tmp_path / "a.txt"
    junk.write_text("hello", encoding="utf-8")
    result = run(db_path, "forms", "scan", "--json", junk, expect=1)
    assert json.loads(result.stdout)["pages"][0]["error"] == "upload_not_an_image"


def test_purge_removes_expired_images(db_path, make_scanned_sheet, make_session, catalog_db, monkeypatch):
    sid = make_session(day=1)
    made = make_scanned_sheet(day=BASE.date() + dt.timedelta(days=1),
                              states={f"session:{sid}": "marked", "consent": "marked"})
    review.confirm_sheet(catalog_db, made["sheet_id"], {"name": "伊達 花子", "kana": "だて はなこ",
                                                        "phone": "09012345678"}, None, actor="test")
    assert json.loads(run(db_path, "forms", "purge", "--json").stdout)["purged"] == 0
    # backdate the retention date: purging is by the stored date, not the setting at purge time
    with dbmod.write_transaction(catalog_db):
        catalog_db.conn.execute("UPDATE scanned_sheets SET purge_after = '2000-01-01T00:00:00+09:00'")
    assert "Purged the images of 1 scanned sheets." in run(db_path, "forms", "purge").stdout
    row = next(catalog_db.query("SELECT image, crops, review_state FROM scanned_sheets"))
    assert (row["image"], row["crops"], row["review_state"]) == (None, None, "confirmed")
