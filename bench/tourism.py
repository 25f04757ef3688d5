"""Benchmark: a QR-sign scan (/q/<code> and the site page it redirects to) against a bare route.

    .venv/bin/python bench/tourism.py [--seconds 8] [--clients 32] [--quick]

Starts the app under waitress (bench/webserver.py) on a free loopback port,
on a fresh database holding the venues, topics and the tourism content from
content/, and drives it with keep-alive clients from a separate process
(bench/loadgen.py).  One "scan" is two round trips, timed together as a
phone experiences them: GET /q/<code> (which counts the scan in SQLite and
answers 302) and GET of the site page it points to.  The codes of every site
are cycled through.  The baseline is the bare route of the same server.

Targets: scans at ≥ 0.5 of the bare route's requests per second, p99 < 50 ms.
"""
from __future__ import annotations

import argparse
from date_community.sqlitedriver import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from web import run_load, start_server  # noqa: E402  (bench/web.py: server start-up and load runs)

TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0


def build_db(path: Path) -> list[str]:
    """The catalogue and the tourism content; returns the sites' printed codes."""
    from date_community import content, db as dbmod
    from date_community.tourism import content_load

    database = dbmod.connect(path)
    try:
        content.load_catalog(database)
        content_load.load_dir(database, ROOT / "content")
        return [r["code"] for r in database.query("SELECT code FROM tourism_sites ORDER BY sort_order")]
    finally:
        database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="load time per target")
    parser.add_argument("--clients", type=int, default=32, help="concurrent keep-alive clients")
    parser.add_argument("--quick", action="store_true", help="1.5 s per target: a smoke run, not a measurement")
    args = parser.parse_args()
    seconds = 1.5 if args.quick else args.seconds

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        codes = build_db(db_path)
        if not codes:
            raise SystemExit("no tourist sites in content/")
        proc, port = start_server(db_path, cache=True)
        try:
            run_load(port, ["/bench/bare"], args.clients, 0.5, False)  # warm-up: imports, fonts, caches
            run_load(port, [f"/q/{c}" for c in codes], args.clients, 0.5, True)
            baseline = run_load(port, ["/bench/bare"], args.clients, seconds, False)
            figure = run_load(port, [f"/q/{c}" for c in codes], args.clients, seconds, True)
            # The server writes buffered scan counts every 2 s; give it the
            # time before stopping it (a SIGTERM skips the exit-time flush).
            time.sleep(2.5)
        finally:
            proc.terminate()
            proc.wait(10)
        conn = sqlite3.connect(db_path)
        try:
            counted = conn.execute("SELECT COALESCE(SUM(count), 0) FROM sign_scans").fetchone()[0]
        finally:
            conn.close()

    ratio = figure["rps"] / baseline["rps"] if baseline["rps"] else float("nan")
    ok_ratio = ratio >= TARGET_RATIO
    ok_p99 = figure["p99_ms"] < TARGET_P99_MS
    print(f"tourism benchmark: {args.clients} concurrent keep-alive clients, {seconds:g} s per target, "
          f"waitress, {len(codes)} sites")
    print(f"baseline: bare route /bench/bare:           {baseline['rps']:>8.0f} req/s   "
          f"p50 {baseline['p50_ms']:.1f} ms   p99 {baseline['p99_ms']:.1f} ms   errors {baseline['errors']}")
    print(f"figure:   scan /q/<code> + site page:       {figure['rps']:>8.0f} scans/s "
          f"p50 {figure['p50_ms']:.1f} ms   p99 {figure['p99_ms']:.1f} ms   errors {figure['errors']}")
    print(f"ratio:    scans / bare route:               {ratio:>8.2f}")
    print(f"target:   ratio >= {TARGET_RATIO}                      {'met' if ok_ratio else 'MISSED'}")
    print(f"target:   scan p99 < {TARGET_P99_MS:.0f} ms                   {'met' if ok_p99 else 'MISSED'}")
    # Every completed scan must have been counted (a few more may have been
    # counted whose page the clients stopped waiting for at the deadline).
    print(f"check:    scans counted in sign_scans:      {counted:>8} for {figure['requests']} completed scans "
          f"(+ warm-up)")


if __name__ == "__main__":
    main()
