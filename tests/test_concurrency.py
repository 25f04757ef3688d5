"""Many processes writing the same database file at the same moment.

Each child is forked, opens its own connection with ``db.connect``, waits on
a barrier so that all of them call the library together, and reports its
outcome (result, or exception class and code) through a queue.  Any exception
that is not a domain error (above all "database is locked") fails the test.
"""
from __future__ import annotations

import datetime as dt
import multiprocessing
import queue as queue_mod
import time

import pytest

from date_community import content, db as dbmod, people, timeutil
from date_community.errors import DateCommunityError
from date_community.scheduling import bookings, sessions, shifts

pytestmark = pytest.mark.slow

BASE = dt.datetime(2031, 4, 7, 9, 0, tzinfo=timeutil.TZ)  # = conftest.BASE
CTX = multiprocessing.get_context("fork")
# Generous: on a loaded two-core machine forking 100 children and letting them
# queue for the write lock one fsync at a time takes a while.
BARRIER_TIMEOUT = 180
RESULTS_TIMEOUT = 300


# --- what the children do (module level so that they are plain functions) ----

def _book(db, resident_id, session_id):
    return bookings.book_seat(db, session_id, resident_id, source="web", actor=f"proc:{resident_id}")


def _shift(db, volunteer_id, session_id):
    return shifts.book_shift(db, session_id, volunteer_id, role="assistant", actor=f"proc:{volunteer_id}")


def _child(barrier, results, index, path, op, args):
    try:
        db = dbmod.connect(path)
        try:
            barrier.wait(timeout=BARRIER_TIMEOUT)
            outcome = ("ok", op(db, *args))
        finally:
            db.close()
    except DateCommunityError as exc:
        outcome = ("error", type(exc).__name__, exc.code)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which fails
        outcome = ("crash", type(exc).__name__, str(exc))
    results.put((index, *outcome))


def run_together(path, op, arg_list):
    """Run ``op(db, *args)`` in one forked process per ``args``, all at once.

    Returns the outcomes in the order of ``arg_list``.  Fails if a child
    crashes, hangs or exits non-zero.
    """
    n = len(arg_list)
    barrier = CTX.Barrier(n)
    results = CTX.Queue()
    procs = [CTX.Process(target=_child, args=(barrier, results, i, str(path), op, args), daemon=True)
             for i, args in enumerate(arg_list)]
    outcomes = {}
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + RESULTS_TIMEOUT
        while len(outcomes) < n:
            try:
                index, *outcome = results.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue_mod.Empty:
                pytest.fail(f"only {len(outcomes)} of {n} processes reported within {RESULTS_TIMEOUT}s")
            outcomes[index] = tuple(outcome)
        for p in procs:
            p.join(timeout=60)
        stuck = [p.pid for p in procs if p.is_alive()]
        assert not stuck, f"processes did not exit: {stuck}"
        bad = {p.pid: p.exitcode for p in procs if p.exitcode != 0}
        assert not bad, f"processes exited non-zero: {bad}"
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(timeout=10)
        results.close()
        results.join_thread()
    crashes = [o for o in outcomes.values() if o[0] == "crash"]
    assert not crashes, f"{len(crashes)} processes failed with non-domain errors, e.g. {crashes[:3]}"
    return [outcomes[i] for i in range(n)]


# --- fixtures -------------------------------------------------------------------

@pytest.fixture
def setup_db(tmp_path):
    """A fresh file with the catalog loaded; yields (path, open db)."""
    path = tmp_path / "concurrency.db"
    db = dbmod.connect(path)
    with dbmod.write_transaction(db):  # one fsync for the whole catalog
        content.load_catalog(db)
    yield path, db
    db.close()


def _session(db, *, minutes_from_ten=0, length=90, seats=10, helpers_max=3):
    start = BASE + dt.timedelta(days=1, hours=1, minutes=minutes_from_ten)
    return sessions.add_session(db, topic="basics", venue="city-hall", starts_at=start,
                                ends_at=start + dt.timedelta(minutes=length), seats=seats,
                                helpers_min=0, helpers_max=helpers_max)


# --- tests ----------------------------------------------------------------------------

def test_hundred_processes_book_a_ten_seat_session(setup_db):
    path, db = setup_db
    with dbmod.write_transaction(db):
        sid = _session(db, seats=10)
        residents = [people.add_resident(db, name_kanji=f"並行 {i}", name_kana="へいこう",
                                         phone=f"070{i:08d}", source="web") for i in range(100)]
    db.close()  # never fork with an open SQLite connection

    outcomes = run_together(path, _book, [(rid, sid) for rid in residents])

    errors = [o for o in outcomes if o[0] != "ok"]
    assert not errors, f"{len(errors)} bookings failed: {errors[:5]}"
    results = [o[1] for o in outcomes]
    confirmed = [r for r in results if r["status"] == "confirmed"]
    waitlisted = [r for r in results if r["status"] == "waitlisted"]
    assert len(confirmed) == 10
    assert len(waitlisted) == 90
    assert sorted(r["position"] for r in waitlisted) == list(range(1, 91))

    db = dbmod.connect(path)
    try:
        rows = list(db.query("SELECT id, status, position FROM bookings WHERE session_id = ? ORDER BY id", [sid]))
        assert len(rows) == 100
        assert sum(r["status"] == "confirmed" for r in rows) == 10
        # What each process was told is what was recorded.
        told = {r["booking_id"]: (r["status"], r["position"]) for r in results}
        assert told == {r["id"]: (r["status"], r["position"]) for r in rows}
        # Positions follow the order the bookings were recorded in.
        wl = [r for r in rows if r["status"] == "waitlisted"]
        assert [r["position"] for r in wl] == list(range(1, 91))
        by_position = [r["id"] for r in sorted(wl, key=lambda r: r["position"])]

        # Three cancellations promote the head of the waitlist, in order.
        to_cancel = [r["id"] for r in rows if r["status"] == "confirmed"][:3]
        promoted = [bookings.cancel_booking(db, bid, actor="staff")["promoted"] for bid in to_cancel]
        assert promoted == by_position[:3]
        after = bookings.waitlist(db, sid)
        assert [r["position"] for r in after] == list(range(1, 88))
        assert [r["id"] for r in after] == by_position[3:]
        held = list(db.query("SELECT count(*) AS n FROM bookings WHERE session_id = ? AND status = 'confirmed'",
                             [sid]))[0]["n"]
        assert held == 10
        assert dbmod.integrity_ok(db)
    finally:
        db.close()


def test_twenty_processes_one_volunteer_overlapping_sessions(setup_db):
    path, db = setup_db
    # Five sessions starting 15 minutes apart, each 90 minutes: all overlap.
    with dbmod.write_transaction(db):
        sids = [_session(db, minutes_from_ten=15 * i, helpers_max=3) for i in range(5)]
        vid = people.add_volunteer(db, name="一人", email="solo@example.org")
    db.close()

    outcomes = run_together(path, _shift, [(vid, sids[i % 5]) for i in range(20)])

    ok = [o for o in outcomes if o[0] == "ok"]
    refused = [o for o in outcomes if o[0] == "error"]
    assert len(ok) == 1, outcomes
    assert len(refused) == 19
    assert {o[2] for o in refused} <= {"overlapping_shift", "already_on_shift"}, refused

    db = dbmod.connect(path)
    try:
        live = list(db.query("SELECT id FROM shifts WHERE volunteer_id = ? AND status != 'cancelled'", [vid]))
        assert [r["id"] for r in live] == [ok[0][1]["shift_id"]]
    finally:
        db.close()


def test_twenty_volunteers_three_helper_slots(setup_db):
    path, db = setup_db
    with dbmod.write_transaction(db):
        sid = _session(db, helpers_max=3)
        vids = [people.add_volunteer(db, name=f"助 {i}", email=f"h{i}@example.org") for i in range(20)]
    db.close()

    outcomes = run_together(path, _shift, [(vid, sid) for vid in vids])

    ok = [o for o in outcomes if o[0] == "ok"]
    refused = [o for o in outcomes if o[0] == "error"]
    assert len(ok) == 3, outcomes
    assert len(refused) == 17
    assert {o[2] for o in refused} == {"helpers_full"}, refused

    db = dbmod.connect(path)
    try:
        n = list(db.query("SELECT count(*) AS n FROM shifts WHERE session_id = ? AND status = 'booked'",
                          [sid]))[0]["n"]
        assert n == 3
    finally:
        db.close()
