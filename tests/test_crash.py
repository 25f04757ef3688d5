"""kill -9 in the middle of booking: nothing acknowledged is lost, nothing is torn.

A child process books residents into sessions (and now and then cancels one,
which promotes from the waitlist) in a loop.  After each call returns it
writes the id to a pipe: that is the acknowledgement a caller would have seen.
After a random delay it gets SIGKILL.  The database must then pass
``integrity_check``, hold every acknowledged booking (and cancellation), and
still satisfy the seat and waitlist rules, so no transaction was half applied.
"""
from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import select
import signal
import time

import pytest

from date_community import content, db as dbmod, people, timeutil
from date_community.errors import DateCommunityError
from date_community.scheduling import bookings, sessions

pytestmark = pytest.mark.slow

BASE = dt.datetime(2031, 4, 7, 9, 0, tzinfo=timeutil.TZ)  # = conftest.BASE
ROUNDS = 20
N_SESSIONS = 20
N_RESIDENTS = 300  # 6,000 (session, resident) pairs: far more than 20 rounds can book
READY_TIMEOUT = 60

CTX = multiprocessing.get_context("fork")  # the modules are already imported: no start-up cost


def _child(path: str, seed: int, fd: int) -> None:
    """Book and cancel until killed, acknowledging each success on ``fd``."""
    def ack(text: str) -> None:
        os.write(fd, text.encode() + b"\n")  # one write of < PIPE_BUF bytes: atomic

    rng = random.Random(seed)
    db = dbmod.connect(path)
    pairs = [(r["s"], r["r"]) for r in db.query(
        "SELECT s.id AS s, r.id AS r FROM sessions s CROSS JOIN residents r WHERE NOT EXISTS "
        "(SELECT 1 FROM bookings b WHERE b.session_id = s.id AND b.resident_id = r.id)")]
    rng.shuffle(pairs)
    live = [r["id"] for r in db.query("SELECT id FROM bookings WHERE status IN ('confirmed', 'waitlisted')")]
    ack("READY")
    for i, (session_id, resident_id) in enumerate(pairs):
        if i % 4 == 3 and live:
            booking_id = live.pop(rng.randrange(len(live)))
            try:
                bookings.cancel_booking(db, booking_id, actor="crash")
            except DateCommunityError:
                continue
            ack(f"C {booking_id}")
            continue
        try:
            result = bookings.book_seat(db, session_id, resident_id, source="phone", actor="crash")
        except DateCommunityError:
            continue
        live.append(result["booking_id"])
        ack(f"B {result['booking_id']}")
    ack("DONE")


def _read_line(fd: int, timeout: float) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            pytest.fail(f"child not ready within {timeout}s")
        chunk = os.read(fd, 1)
        if not chunk:
            break
        buf += chunk
    return buf


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _check(db, acked_bookings: set[int], acked_cancels: set[int], round_no: int) -> None:
    assert dbmod.integrity_ok(db), f"round {round_no}: integrity_check failed"
    present = {r["id"]: r["status"] for r in db.query("SELECT id, status FROM bookings")}
    missing = acked_bookings - set(present)
    assert not missing, f"round {round_no}: acknowledged bookings lost: {sorted(missing)[:10]}"
    not_cancelled = {b for b in acked_cancels if present.get(b) != "cancelled"}
    assert not not_cancelled, f"round {round_no}: acknowledged cancellations lost: {sorted(not_cancelled)[:10]}"
    for s in db.query("SELECT id, seats - walkin_seats AS cap FROM sessions"):
        held = next(iter(db.query("SELECT count(*) AS n FROM bookings WHERE session_id = ? "
                                  "AND status IN ('confirmed', 'attended', 'no_show')", [s["id"]])))["n"]
        positions = [r["position"] for r in db.query(
            "SELECT position FROM bookings WHERE session_id = ? AND status = 'waitlisted' ORDER BY position",
            [s["id"]])]
        assert held <= s["cap"], f"round {round_no}: session {s['id']} over capacity"
        assert positions == list(range(1, len(positions) + 1)), f"round {round_no}: torn waitlist {positions}"
        assert held == s["cap"] or not positions, f"round {round_no}: free seat with a waitlist"
    orphans = next(iter(db.query("SELECT count(*) AS n FROM bookings b LEFT JOIN audit_log a "
                                 "ON a.entity = 'booking' AND a.entity_id = b.id AND a.action = 'book' "
                                 "WHERE a.id IS NULL")))["n"]
    assert orphans == 0, f"round {round_no}: bookings without their audit entry (half a transaction)"


def test_kill_nine_loses_nothing_acknowledged(tmp_path):
    path = tmp_path / "crash.db"
    db = dbmod.connect(path)
    with dbmod.write_transaction(db):  # one transaction for the setup: one fsync, not 300
        content.load_catalog(db)
        for i in range(N_SESSIONS):
            start = BASE + dt.timedelta(days=i + 1, hours=1)
            sessions.add_session(db, topic="basics", venue="city-hall", starts_at=start,
                                 ends_at=start + dt.timedelta(minutes=90), seats=5)
        for i in range(N_RESIDENTS):
            people.add_resident(db, name_kanji=f"停電 {i}", name_kana="ていでん", phone=f"090{i:08d}",
                                source="paper")
    db.close()

    rng = random.Random(20310407)
    acked_bookings: set[int] = set()
    acked_cancels: set[int] = set()
    rounds_with_acks = 0
    started = time.monotonic()
    for round_no in range(ROUNDS):
        read_fd, write_fd = os.pipe()
        proc = CTX.Process(target=_child, args=(str(path), round_no, write_fd), daemon=True)
        try:
            proc.start()
            os.close(write_fd)  # only the child writes: EOF once it is dead
            write_fd = None
            ready = _read_line(read_fd, READY_TIMEOUT)
            assert ready == b"READY\n", f"round {round_no}: child failed to start (exit {proc.exitcode})"
            time.sleep(rng.uniform(0.05, 0.4))
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(timeout=30)
            # Whatever reached the pipe before the kill was acknowledged.
            lines = _read_all(read_fd).decode().splitlines()
        finally:
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)
            if write_fd is not None:
                os.close(write_fd)
            os.close(read_fd)
        assert proc.exitcode == -signal.SIGKILL, f"round {round_no}: child exited {proc.exitcode} before the kill"
        assert "DONE" not in lines, "the child ran out of work before it was killed"
        new = 0
        for line in lines:
            kind, _, ident = line.partition(" ")
            if kind == "B":
                acked_bookings.add(int(ident))
                new += 1
            elif kind == "C":
                acked_cancels.add(int(ident))
                new += 1
        rounds_with_acks += new > 0

        db = dbmod.connect(path)
        try:
            _check(db, acked_bookings, acked_cancels, round_no)
        finally:
            db.close()

    # The test means something only if the kills landed while work was going on.
    assert len(acked_bookings) >= ROUNDS, (len(acked_bookings), rounds_with_acks)
    assert rounds_with_acks >= ROUNDS // 2, rounds_with_acks
    assert acked_cancels, "no cancellation was ever acknowledged"
    print(f"{len(acked_bookings)} bookings and {len(acked_cancels)} cancellations acknowledged "
          f"in {ROUNDS} kills, {time.monotonic() - started:.1f}s")
