"""Benchmark: booking throughput and the month listing, each against a baseline.

    .venv/bin/python bench/scheduling.py [--quick]

1. Bookings per second in one process (``book_seat``), against plain INSERTs
   of the same rows, one ``BEGIN IMMEDIATE`` transaction each, through the
   same ``db.connect`` (WAL, synchronous=FULL): the raw cost of a durable
   write transaction on this disk.  Two rounds of each, alternated.
2. Bookings per second with 8 processes booking into the same sessions of the
   same file, against the one-process figure.
3. Listing one month of sessions with seat counts (``list_sessions``) on a
   database holding just that month, and on a ten-year database (about 20,000
   sessions, 200,000 bookings, 50,000 residents, 40,000 shifts, bulk-loaded
   with sqlite-utils ``insert_all`` in one transaction).  Median of 50 runs.

Targets: >= 1,000 bookings/s in one process; the ten-year listing within 2x
of the empty one and under 20 ms.  Everything lives in a temporary directory
that is removed at the end.  ``--quick`` shrinks every size for a smoke run.
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from date_community import content, db as dbmod, timeutil  # noqa: E402
from date_community.scheduling import bookings, sessions  # noqa: E402
from date_community.scheduling.bookings import REFERENCE_ALPHABET  # noqa: E402

TZ = timeutil.TZ
FUTURE = dt.datetime(2031, 4, 8, 10, 0, tzinfo=TZ)  # sessions to book into lie after "now"
HISTORY_START = dt.date(2021, 4, 1)  # the ten-year database: 2021-04 .. 2031-03
LIST_MONTH = (dt.datetime(2026, 6, 1, tzinfo=TZ), dt.datetime(2026, 7, 1, tzinfo=TZ))
PROCESSES = 8
LIST_RUNS = 50

FULL = {"single": 1000, "per_process": 125, "sessions": 20_000, "bookings_per_session": 10,
        "residents": 50_000, "volunteers": 300}
QUICK = {"single": 40, "per_process": 10, "sessions": 1_000, "bookings_per_session": 10,
         "residents": 2_500, "volunteers": 50}


# --- helpers ------------------------------------------------------------------------

def stamp() -> str:
    return timeutil.now().isoformat()


def reference(n: int) -> str:
    """A unique booking reference for row ``n`` (base 25 in the reference alphabet)."""
    digits = []
    for _ in range(6):
        n, r = divmod(n, len(REFERENCE_ALPHABET))
        digits.append(REFERENCE_ALPHABET[r])
    raw = "".join(digits)
    return f"{raw[:3]}-{raw[3:]}"


def new_db(path: Path):
    """A fresh database through the project's own connect(), with the catalog."""
    db = dbmod.connect(path)
    with dbmod.write_transaction(db):
        content.load_catalog(db)
    return db


def ids(db, table: str) -> list[int]:
    return [r["id"] for r in db.query(f"SELECT id FROM {table} ORDER BY id")]


def bulk_residents(db, n: int, *, first: int = 0) -> None:
    now = stamp()
    db["residents"].insert_all(
        ({"name_kanji": f"住民 {i}", "name_kana": "じゅうみん", "kana_key": "じゅうみん",
          "phone": f"090{i:08d}", "source": "phone", "consent_at": now, "consent_channel": "phone",
          "created_at": now, "updated_at": now} for i in range(first, first + n)),
        batch_size=2000)


def booking_sessions(db, n: int) -> list[int]:
    """``n`` future sessions on separate days with seats for everyone."""
    venue, topic = ids(db, "venues")[0], ids(db, "topics")[0]
    now = stamp()
    rows = []
    for i in range(n):
        start = FUTURE + dt.timedelta(days=i)
        rows.append({"topic_id": topic, "venue_id": venue, "starts_at": start.isoformat(),
                     "ends_at": (start + dt.timedelta(minutes=90)).isoformat(), "seats": 100_000,
                     "created_at": now, "updated_at": now})
    db["sessions"].insert_all(rows)
    return ids(db, "sessions")


# --- 1. one process --------------------------------------------------------------------

def _baseline_seconds(path: Path, n: int) -> float:
    """The same booking rows as book_seat writes, each in its own BEGIN IMMEDIATE ... COMMIT."""
    db = new_db(path)
    with dbmod.write_transaction(db):
        bulk_residents(db, n)
        sids = booking_sessions(db, 10)
    rids = ids(db, "residents")
    conn = db.conn
    t = time.perf_counter()
    for i, rid in enumerate(rids):
        now = stamp()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO bookings (reference, session_id, resident_id, status, position, source, "
                     "entered_by, created_at, updated_at) VALUES (?, ?, ?, 'confirmed', NULL, 'phone', 'bench', ?, ?)",
                     [reference(i), sids[i % len(sids)], rid, now, now])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - t
    db.close()
    return seconds


def _book_seat_seconds(path: Path, n: int) -> float:
    db = new_db(path)
    with dbmod.write_transaction(db):
        bulk_residents(db, n)
        sids = booking_sessions(db, 10)
    rids = ids(db, "residents")
    t = time.perf_counter()
    for i, rid in enumerate(rids):
        bookings.book_seat(db, sids[i % len(sids)], rid, source="phone", actor="bench")
    seconds = time.perf_counter() - t
    booked = next(iter(db.query("SELECT count(*) AS n FROM bookings WHERE status = 'confirmed'")))["n"]
    db.close()
    assert booked == n, (booked, n)
    return seconds


def bench_single(tmp: Path, n: int, rounds: int = 2) -> tuple[float, float]:
    """Rates of the baseline and of book_seat, alternated (ABAB) so that drift
    in the disk's speed during the run does not favour either."""
    base_s = fig_s = 0.0
    for r in range(rounds):
        base_s += _baseline_seconds(tmp / f"baseline{r}.db", n)
        fig_s += _book_seat_seconds(tmp / f"single{r}.db", n)
    return rounds * n / base_s, rounds * n / fig_s


# --- 2. eight processes ----------------------------------------------------------------

def _booker(path: str, barrier, results, jobs: list[tuple[int, int]]) -> None:
    try:
        db = dbmod.connect(path)
        barrier.wait(timeout=120)
        start = time.perf_counter()
        for sid, rid in jobs:
            bookings.book_seat(db, sid, rid, source="web", actor="bench")
        end = time.perf_counter()
        db.close()
        results.put(("ok", start, end, len(jobs)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def bench_multi(tmp: Path, per_process: int) -> float:
    path = tmp / "multi.db"
    db = new_db(path)
    n = PROCESSES * per_process
    with dbmod.write_transaction(db):
        bulk_residents(db, n)
        sids = booking_sessions(db, 10)
    rids = ids(db, "residents")
    db.close()  # no open connection across fork
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = []
    for p in range(PROCESSES):
        mine = rids[p * per_process:(p + 1) * per_process]
        jobs = [(sids[i % len(sids)], rid) for i, rid in enumerate(mine)]  # all share the same sessions
        procs.append(ctx.Process(target=_booker, args=(str(path), barrier, results, jobs)))
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    errors = [o for o in outcomes if o[0] != "ok"] + [p.exitcode for p in procs if p.exitcode]
    if errors:
        raise SystemExit(f"8-process run failed: {errors}")
    start = min(o[1] for o in outcomes)
    end = max(o[2] for o in outcomes)
    db = dbmod.connect(path)
    booked = next(iter(db.query("SELECT count(*) AS n FROM bookings")))["n"]
    db.close()
    assert booked == n, (booked, n)
    return n / (end - start)


# --- 3. listing one month ----------------------------------------------------------------

def history_sessions(db, n: int, *, only_month: bool = False) -> list[dict]:
    """``n`` sessions spread evenly over ten years, 9:00-17:00, every venue and topic."""
    venues, topics = ids(db, "venues"), ids(db, "topics")
    days = (dt.date(HISTORY_START.year + 10, HISTORY_START.month, 1) - HISTORY_START).days
    now = stamp()
    lo, hi = (t.isoformat() for t in LIST_MONTH)
    rows = []
    for i in range(n):
        day = HISTORY_START + dt.timedelta(days=i * days // n)
        start = dt.datetime.combine(day, dt.time(9 + 2 * (i % 4)), TZ)
        row = {"id": i + 1, "topic_id": topics[i % len(topics)], "venue_id": venues[i % len(venues)],
               "starts_at": start.isoformat(), "ends_at": (start + dt.timedelta(minutes=90)).isoformat(),
               "seats": 12, "walkin_seats": 2, "helpers_min": 1, "helpers_max": 3,
               "status": "cancelled" if i % 37 == 0 else "scheduled", "created_at": now, "updated_at": now}
        if only_month and not lo <= row["starts_at"] < hi:
            continue
        rows.append(row)
    return rows


def build_history(db, size: dict) -> dict[str, int]:
    """The ten-year database, bulk-loaded in one transaction (not through book_seat)."""
    rng = random.Random(2031)
    now = stamp()
    n_res, per = size["residents"], size["bookings_per_session"]
    with dbmod.write_transaction(db):
        session_rows = history_sessions(db, size["sessions"])
        db["sessions"].insert_all(session_rows, batch_size=2000)
        bulk_residents(db, n_res)
        db["volunteers"].insert_all(
            ({"name": f"ボランティア {v}", "email": f"v{v}@example.org", "calendar_token": f"tok-{v}",
              "created_at": now} for v in range(1, size["volunteers"] + 1)), batch_size=2000)

        def booking_rows():
            k = 0
            for s in session_rows:
                capacity = s["seats"] - s["walkin_seats"]
                extra = 2 if s["id"] % 10 == 0 else 0  # every tenth session is full with a waitlist
                for j, rid in enumerate(rng.sample(range(1, n_res + 1), per + extra)):
                    if j >= capacity:
                        status, position = "waitlisted", j - capacity + 1
                    elif extra:
                        status, position = "confirmed", None
                    else:
                        status, position = rng.choice(("attended",) * 7 + ("no_show", "cancelled", "confirmed")), None
                    if s["status"] == "cancelled":
                        status, position = "cancelled", None
                    yield {"reference": reference(k), "session_id": s["id"], "resident_id": rid,
                           "status": status, "position": position, "source": "paper", "entered_by": "bench",
                           "created_at": now, "updated_at": now}
                    k += 1

        db["bookings"].insert_all(booking_rows(), batch_size=2000)

        def shift_rows():
            for s in session_rows:
                v1, v2 = rng.sample(range(1, size["volunteers"] + 1), 2)
                status = "cancelled" if s["status"] == "cancelled" else "attended"
                yield {"session_id": s["id"], "volunteer_id": v1, "role": "lead", "status": status,
                       "created_at": now, "updated_at": now}
                yield {"session_id": s["id"], "volunteer_id": v2, "role": "assistant", "status": status,
                       "created_at": now, "updated_at": now}

        db["shifts"].insert_all(shift_rows(), batch_size=2000)
    return {t: db[t].count for t in ("sessions", "bookings", "residents", "shifts")}


def time_listing(db) -> tuple[float, float, int]:
    """Median wall-clock and CPU milliseconds of one month's listing, and its length.

    CPU time (of this thread) is printed too: on a shared machine the wall
    clock also counts time spent waiting for a core.
    """
    start, end = LIST_MONTH
    rows = sessions.list_sessions(db, start=start, end=end)  # warm the cache
    wall, cpu = [], []
    for _ in range(LIST_RUNS):
        t, c = time.perf_counter(), time.thread_time()
        sessions.list_sessions(db, start=start, end=end)
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - t)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000, len(rows)


def query_plan(db) -> list[str]:
    start, end = (t.isoformat() for t in LIST_MONTH)
    sql = sessions._LIST_SQL + " WHERE s.starts_at >= ? AND s.starts_at < ? AND s.status = 'scheduled' " \
                               "ORDER BY s.starts_at, s.id"
    return [r["detail"] for r in db.query("EXPLAIN QUERY PLAN " + sql, [start, end])]


def bench_listing(tmp: Path, size: dict):
    db = new_db(tmp / "month.db")
    with dbmod.write_transaction(db):
        db["sessions"].insert_all(history_sessions(db, size["sessions"], only_month=True))
    db.close()
    db = dbmod.connect(tmp / "month.db")
    empty_ms, empty_cpu, n_empty = time_listing(db)
    db.close()

    db = new_db(tmp / "tenyear.db")
    # A large page cache only for the bulk load (random inserts into the
    # resident index); the listing is timed on a fresh connect() with defaults.
    db.conn.execute("PRAGMA cache_size = -262144")
    t = time.perf_counter()
    counts = build_history(db, size)
    counts["build_seconds"] = round(time.perf_counter() - t, 1)
    db.close()
    db = dbmod.connect(tmp / "tenyear.db")
    full_ms, full_cpu, n_full = time_listing(db)
    plan = query_plan(db)
    db.close()
    assert n_empty == n_full, (n_empty, n_full)
    return (empty_ms, full_ms), (empty_cpu, full_cpu), counts, n_full, plan


# --- main ------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    began = time.perf_counter()
    print(f"date-community scheduling bench ({'quick' if args.quick else 'full'}); "
          f"SQLite {dbmod.sqlite3.sqlite_version}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")

    with tempfile.TemporaryDirectory(prefix="dc-bench-") as d:
        tmp = Path(d)
        print(f"\n[1] bookings per second, one process ({size['single']} bookings x 2 rounds, alternated)")
        base1, fig1 = bench_single(tmp, size["single"])
        ratio1 = fig1 / base1
        print(f"  baseline: plain INSERT, one BEGIN IMMEDIATE each: {base1:8.1f} tx/s "
              f"({1000 / base1:.2f} ms per durable commit)")
        print(f"  figure:   book_seat:                              {fig1:8.1f} bookings/s")
        print(f"  ratio:    book_seat / baseline:                   {ratio1:8.2f}")
        print(f"  target:   >= 1,000 bookings/s                     {'met' if fig1 >= 1000 else 'MISSED'}")

        n_multi = PROCESSES * size["per_process"]
        print(f"\n[2] bookings per second, {PROCESSES} competing processes ({n_multi} bookings, shared sessions)")
        fig2 = bench_multi(tmp, size["per_process"])
        ratio2 = fig2 / fig1
        print(f"  baseline: book_seat, one process:                 {fig1:8.1f} bookings/s")
        print(f"  figure:   {PROCESSES} processes, aggregate:                {fig2:8.1f} bookings/s")
        print(f"  ratio:    {PROCESSES} processes / one process:             {ratio2:8.2f}")

        print(f"\n[3] list one month of sessions with seat counts (median of {LIST_RUNS})")
        (empty_ms, full_ms), (empty_cpu, full_cpu), counts, n_rows, plan = bench_listing(tmp, size)
        ratio3 = full_ms / empty_ms
        ratio3_cpu = full_cpu / empty_cpu
        listing_ok = ratio3 <= 2 and full_ms < 20
        print(f"  ten-year database: {counts['sessions']:,} sessions, {counts['bookings']:,} bookings, "
              f"{counts['residents']:,} residents, {counts['shifts']:,} shifts "
              f"(bulk-loaded in {counts['build_seconds']} s); the month has {n_rows} sessions")
        print(f"  baseline: one-month database:                     {empty_ms:8.2f} ms")
        print(f"  figure:   ten-year database:                      {full_ms:8.2f} ms")
        print(f"  ratio:    ten-year / one-month:                   {ratio3:8.2f}")
        print(f"  target:   <= 2x and < 20 ms                       {'met' if listing_ok else 'MISSED'}")
        print(f"  CPU time: one-month {empty_cpu:.2f} ms, ten-year {full_cpu:.2f} ms, ratio {ratio3_cpu:.2f}")
        print("  query plan (ten-year):")
        for line in plan:
            print(f"    {line}")

    print("\nSUMMARY")
    header = f"{'measurement':<34}{'baseline':>18}{'figure':>18}{'ratio':>8}  {'target':<20}{'met':<5}"
    print(header)
    print("-" * len(header))
    print(f"{'bookings/s, one process':<34}{base1:>13.1f} tx/s{fig1:>16.1f}/s{ratio1:>8.2f}  "
          f"{'>= 1,000/s':<20}{'yes' if fig1 >= 1000 else 'NO':<5}")
    print(f"{f'bookings/s, {PROCESSES} processes':<34}{fig1:>16.1f}/s{fig2:>16.1f}/s{ratio2:>8.2f}  "
          f"{'(vs one process)':<20}{'-':<5}")
    print(f"{'list one month (ms)':<34}{empty_ms:>15.2f} ms{full_ms:>15.2f} ms{ratio3:>8.2f}  "
          f"{'<= 2x, < 20 ms':<20}{'yes' if listing_ok else 'NO':<5}")
    print(f"{'list one month, CPU time (ms)':<34}{empty_cpu:>15.2f} ms{full_cpu:>15.2f} ms{ratio3_cpu:>8.2f}  "
          f"{'<= 2x, < 20 ms':<20}{'yes' if ratio3_cpu <= 2 and full_cpu < 20 else 'NO':<5}")
    print(f"(baselines: plain INSERT transactions; one-process book_seat; one-month database.  "
          f"total {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
