"""Erasing a resident (APPI): nothing of them is left in the database file, its
WAL or the folder beside it, and nothing in the audit log or the outbox.

The test builds a resident the way the office would: a paper sheet scanned
with its page image and crops, confirmed into a resident with bookings (one
on a waiting list), a duplicate record merged into them, a staff override
whose reason names them, a queued staff notice about them, and staff views
in the audit log.  Then it deletes them through the staff page and reads the
raw bytes on disk.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import random

from PIL import Image

from conftest import BASE
from date_community import db as dbmod, people
from date_community.forms import reader, records, review
from date_community.scheduling import bookings
from date_community.sqlitedriver import sqlite3

NAME = "消去 試験之助"
KANA = "しょうきょ しけんのすけ"
PHONE = "090-8765-4321"
OVERRIDE = f"{NAME}さん本人から電話 {PHONE}"


def _noise_png(seed: int, size=(64, 48)) -> bytes:
    """A PNG whose bytes occur nowhere else (random pixels do not compress)."""
    rng = random.Random(seed)
    image = Image.frombytes("L", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1])))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _needles(page: bytes, crops: list[bytes]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for label, text in (("name", NAME), ("family name", NAME.split()[0]), ("given name", NAME.split()[1]),
                        ("kana", KANA), ("phone", PHONE), ("phone digits", PHONE.replace("-", ""))):
        # SQLite stores text as UTF-8 here; UTF-16 is checked as well in case
        # a file or a future encoding setting holds it that way.
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            found[f"{label} ({encoding})"] = text.encode(encoding)
    # A slice from the middle of each image: its pixels, not the PNG header
    # every PNG shares.  The crops are also stored base64-encoded (JSON).
    for i, data in enumerate([page, *crops]):
        found[f"image {i}"] = data[len(data) // 2: len(data) // 2 + 48]
        found[f"image {i} (base64)"] = base64.b64encode(data)[100:160]
    return found


# How the data is stored before the deletion: text as UTF-8, the phone as
# digits only, the page as a blob and the crops base64-encoded in JSON.
EXPECTED_ON_DISK = ("name (utf-8)", "kana (utf-8)", "phone digits (utf-8)", "image 0",
                    *(f"image {i} (base64)" for i in range(1, 4)))


def _scan_folder(folder) -> dict[str, bytes]:
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                out[path] = fh.read()
    return out


def _sheet(db, sessions_to_tick: list[int], day) -> tuple[int, bytes, list[bytes]]:
    """A scanned sheet waiting for review, with noisy page and crop images."""
    prepared = records.prepare_print(db, "city-hall", day, day + dt.timedelta(days=7), 1, actor="test")
    layout = prepared["layout"]
    read = reader.SheetRead(status="ok", form_version=prepared["version"], serial=prepared["serials"][0],
                            residual_mm=0.2, confidence=0.95)
    ticked = {f"session:{sid}" for sid in sessions_to_tick} | {"consent"}
    crops = []
    for n, box in enumerate(layout.boxes):
        state = "marked" if box.key in ticked else "empty"
        read.boxes[box.key] = reader.BoxRead(box.key, state, 0.95, 0.3 if state == "marked" else 0.0, "")
        read.box_crops[box.key] = _noise_png(1000 + n, (16, 16))
    for n, fld in enumerate(layout.fields):
        read.field_crops[fld.key] = crop = _noise_png(2000 + n)
        crops.append(crop)
    read.page_png = page = _noise_png(1, (160, 120))
    batch_id = records.record_batch(db, [records.PageResult(f"{NAME}.pdf", 1, read=read)], actor="test")
    sheet_id = next(db.query("SELECT id FROM scanned_sheets WHERE batch_id = ?", [batch_id]))["id"]
    return sheet_id, page, crops


def test_deleting_a_resident_leaves_no_trace_in_the_raw_files(app, staff_client, catalog_db, db_path, make_session):
    db = catalog_db
    full, later = make_session(day=1, seats=1), make_session(day=2)
    other = people.add_resident(db, name_kanji="先客 一郎", name_kana="せんきゃく いちろう", phone="0245000001",
                                source="phone")
    first_booking = bookings.book_seat(db, full, other, source="phone", actor="test", now=BASE)

    sheet_id, page, crops = _sheet(db, [full, later], BASE.date())
    confirmed = review.confirm_sheet(db, sheet_id, {"name": NAME, "kana": KANA, "phone": PHONE},
                                     actor="user:1", now=BASE)
    rid = confirmed["resident_id"]
    assert {"waitlisted", "confirmed"} == {b["status"] for b in confirmed["bookings"]}
    # A duplicate typed in by phone, then merged into the record.
    twin = people.add_resident(db, name_kanji=NAME, name_kana=KANA, phone=PHONE, needs=f"{NAME}の娘が付き添い",
                               source="phone")
    people.merge_residents(db, rid, twin, actor="user:1")
    # A staff override whose reason names the resident (free text).
    third = make_session(day=9)
    bookings.book_seat(db, third, rid, source="phone", actor="user:1", override_reason=OVERRIDE)
    # The seat frees up: the resident is promoted and a notice to staff is queued.
    bookings.cancel_booking(db, first_booking["booking_id"], actor="test")
    queued = [m for m in db.query("SELECT * FROM outbox WHERE state = 'pending'")
              if json.loads(m["payload"]).get("resident_id") == rid]
    assert queued, "the test needs a queued message about the resident"
    # Staff look at the record and the handwriting.
    assert 200 == staff_client.get(f"/staff/residents/{rid}").status_code
    assert 200 == staff_client.get(f"/staff/forms/sheets/{sheet_id}/crops/page").status_code

    needles = _needles(page, crops)
    before = b"".join(_scan_folder(db_path.parent).values())
    # The data must be on disk before the deletion, or the test proves nothing.
    # (The phone is stored as digits only: its hyphenated form is checked for
    # any copy that kept what staff typed.)
    missing = [label for label, n in needles.items()
               if label in EXPECTED_ON_DISK and n not in before]
    assert [] == missing

    response = staff_client.post(f"/staff/residents/{rid}/delete")
    assert 302 == response.status_code

    files = _scan_folder(db_path.parent)
    assert any(p.endswith(".db") for p in files)
    left = [(label, path) for path, data in files.items() for label, needle in needles.items() if needle in data]
    assert [] == left

    for row in db.query("SELECT id, name_kanji, phone FROM residents WHERE id IN (?, ?)", [rid, twin]):
        assert (None, "（削除済み）") == (row["phone"], row["name_kanji"])
    sheet = next(db.query("SELECT image, crops, source_name, purged_at FROM scanned_sheets WHERE id = ?", [sheet_id]))
    assert (None, None, "") == (sheet["image"], sheet["crops"], sheet["source_name"]) and sheet["purged_at"]
    assert [] == [m for m in db.query("SELECT * FROM outbox WHERE state != 'sent'")
                  if json.loads(m["payload"]).get("resident_id") in (rid, twin)]
    # The crop URL no longer serves the page.
    assert 404 == staff_client.get(f"/staff/forms/sheets/{sheet_id}/crops/page").status_code
    # The audit log keeps who erased whom, by id only.
    erase = list(db.query("SELECT * FROM audit_log WHERE action = 'erase' AND entity = 'resident'"))
    assert [rid] == [r["entity_id"] for r in erase]
    assert [twin] == json.loads(erase[0]["detail"])["merged"]
    every = " ".join(f"{r['actor']} {r['detail']}" for r in db.query("SELECT actor, detail FROM audit_log"))
    for text in (NAME.split()[0], KANA, PHONE, PHONE.replace("-", "")):
        assert text not in every


def test_every_connection_zeroes_deleted_content(db):
    assert 1 == db.conn.execute("PRAGMA secure_delete").fetchone()[0]


def test_checkpoint_empties_the_wal_and_reports_a_blocking_reader(db, db_path, monkeypatch):
    people.add_resident(db, name_kanji=NAME, name_kana=KANA, phone=PHONE, source="phone")
    wal = db_path.with_name(db_path.name + "-wal")
    assert wal.stat().st_size > 0
    reader_conn = sqlite3.connect(str(db_path))
    try:
        reader_conn.execute("BEGIN")
        reader_conn.execute("SELECT count(*) FROM residents").fetchone()  # holds a snapshot
        people.add_resident(db, name_kanji="別人 二郎", name_kana="べつじん じろう", phone="0245000002",
                            source="phone")
        monkeypatch.setattr(dbmod, "CHECKPOINT_PAUSE_SECONDS", 0.01)
        assert dbmod.checkpoint(db, tries=3) is False
        assert wal.stat().st_size > 0
        reader_conn.execute("COMMIT")
    finally:
        reader_conn.close()
    assert dbmod.checkpoint(db) is True
    assert 0 == wal.stat().st_size


def test_retention_purge_leaves_no_image_in_the_raw_files(catalog_db, db_path, make_session):
    """The retention purge (forms purge, cron) also zeroes and checkpoints."""
    make_session(day=1)
    _sheet_id, page, crops = _sheet(catalog_db, [], BASE.date())
    needles = {k: v for k, v in _needles(page, crops).items() if k.startswith("image")}
    result = records.purge_expired(catalog_db, BASE + dt.timedelta(days=records.DEFAULT_RETENTION_DAYS + 1))
    assert 1 == result["purged"]
    files = _scan_folder(db_path.parent)
    assert [] == [(label, path) for path, data in files.items() for label, n in needles.items() if n in data]


def test_the_cli_erases_only_with_yes(catalog_db, db_path):
    from click.testing import CliRunner

    from date_community.cli import cli

    rid = people.add_resident(catalog_db, name_kanji=NAME, name_kana=KANA, phone=PHONE, source="phone")
    runner = CliRunner()
    refused = runner.invoke(cli, ["--db", str(db_path), "residents", "delete", str(rid)])
    assert 2 == refused.exit_code and "--yes" in refused.output
    assert NAME == people.get_resident(catalog_db, rid)["name_kanji"]
    done = runner.invoke(cli, ["--db", str(db_path), "--json", "residents", "delete", str(rid), "--yes"])
    assert 0 == done.exit_code, done.output
    assert {"resident_id": rid, "residents": 1, "sheets": 0, "messages": 0} == json.loads(done.stdout)
    assert "（削除済み）" == people.get_resident(catalog_db, rid)["name_kanji"]
    data = b"".join(_scan_folder(db_path.parent).values())
    assert NAME.encode() not in data and PHONE.replace("-", "").encode() not in data
    missing = runner.invoke(cli, ["--db", str(db_path), "residents", "delete", "999999", "--yes"])
    assert 1 == missing.exit_code and "Traceback" not in missing.output


def test_a_checkpoint_blocked_by_a_reader_is_finished_when_a_later_request_ends(
        app, staff_client, catalog_db, db_path, monkeypatch):
    monkeypatch.setattr(dbmod, "CHECKPOINT_PAUSE_SECONDS", 0.01)
    rid = people.add_resident(catalog_db, name_kanji=NAME, name_kana=KANA, phone=PHONE, source="phone")
    wal = db_path.with_name(db_path.name + "-wal")
    name = NAME.encode()
    reader_conn = sqlite3.connect(str(db_path))
    try:
        reader_conn.execute("BEGIN")
        reader_conn.execute("SELECT count(*) FROM residents").fetchone()  # a snapshot from before the erasure
        assert 302 == staff_client.post(f"/staff/residents/{rid}/delete").status_code
        # The reader's snapshot still needs the old frames: they cannot go yet.
        assert name in b"".join(_scan_folder(db_path.parent).values())
    finally:
        reader_conn.execute("COMMIT")
        reader_conn.close()
    assert 200 == staff_client.get("/staff/").status_code  # any request; its teardown pays the debt
    assert 0 == wal.stat().st_size
    data = b"".join(_scan_folder(db_path.parent).values())
    assert name not in data and PHONE.replace("-", "").encode() not in data
    assert dbmod.checkpoint_if_owed(catalog_db) is None  # nothing owed any more
