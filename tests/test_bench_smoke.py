"""Keep the benchmarks working, and keep the scheduling query they measure on its indexes.

The smoke run only checks that the bench runs and prints its labelled
figures; it never asserts on speed, which depends on the machine.
"""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from date_community import timeutil
from date_community.scheduling import sessions

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"[0-9][0-9,]*\.?[0-9]*"
BASE = dt.datetime(2031, 4, 7, 9, 0, tzinfo=timeutil.TZ)  # = conftest.BASE


SCHEDULING = [
    r"\[1\] bookings per second, one process",
    rf"baseline: plain INSERT, one BEGIN IMMEDIATE each:\s+{NUMBER} tx/s",
    rf"figure:\s+book_seat:\s+{NUMBER} bookings/s",
    rf"ratio:\s+book_seat / baseline:\s+{NUMBER}",
    r"target:\s+>= 1,000 bookings/s\s+(met|MISSED)",
    r"\[2\] bookings per second, 8 competing processes",
    rf"figure:\s+8 processes, aggregate:\s+{NUMBER} bookings/s",
    rf"ratio:\s+8 processes / one process:\s+{NUMBER}",
    r"\[3\] list one month of sessions with seat counts",
    rf"baseline: one-month database:\s+{NUMBER} ms",
    rf"figure:\s+ten-year database:\s+{NUMBER} ms",
    rf"ratio:\s+ten-year / one-month:\s+{NUMBER}",
    r"target:\s+<= 2x and < 20 ms\s+(met|MISSED)",
    r"SUMMARY",
    rf"bookings/s, one process\s+{NUMBER} tx/s\s+{NUMBER}/s\s+{NUMBER}",
    rf"bookings/s, 8 processes\s+{NUMBER}/s\s+{NUMBER}/s\s+{NUMBER}",
    rf"list one month \(ms\)\s+{NUMBER} ms\s+{NUMBER} ms\s+{NUMBER}",
]
# bench/tourism.py: a QR scan (/q/<code> + the site page) against the bare route
TOURISM = [
    rf"baseline: bare route /bench/bare:\s+{NUMBER} req/s\s+p50 {NUMBER} ms\s+p99 {NUMBER} ms\s+errors 0",
    rf"figure:\s+scan /q/<code> \+ site page:\s+{NUMBER} scans/s\s+p50 {NUMBER} ms\s+p99 {NUMBER} ms\s+errors 0",
    rf"ratio:\s+scans / bare route:\s+{NUMBER}",
    r"target:\s+ratio >= 0.5\s+(met|MISSED)",
    r"target:\s+scan p99 < 50 ms\s+(met|MISSED)",
    rf"check:\s+scans counted in sign_scans:\s+{NUMBER} for {NUMBER} completed scans",
]
FORMS = [
    r"\[1\] sheets per second, one process",
    rf"baseline: decode PNG \+ grey:\s+{NUMBER} sheets/s",
    rf"figure:\s+decode \+ read_sheet:\s+{NUMBER} sheets/s\s+\(6/6 read ok\)",
    rf"ratio:\s+figure / baseline:\s+{NUMBER}",
    r"target:\s+>= 4 sheets/s\s+(met|MISSED)",
    r"\[2\] sheets per second, 2 worker processes",
    rf"figure:\s+2 processes, aggregate:\s+{NUMBER} sheets/s",
    r"\[3\] peak memory",
    rf"figure:\s+peak RSS, this process:\s+{NUMBER} MB",
    r"target:\s+<= 500 MB\s+(met|MISSED)",
    r"\[4\] peak memory of one upload",
    rf"baseline: A4 scan, 300 dpi PNG:\s+{NUMBER} MB",
    rf"figure:\s+worst accepted upload:\s+{NUMBER} MB\s+\(3 pages of 40 Mpx colour",
    rf"ratio:\s+worst / baseline:\s+{NUMBER}",
    r"target:\s+<= 600 MB\s+(met|MISSED)",
    r"SUMMARY",
    rf"sheets/s, one process\s+{NUMBER}/s\s+{NUMBER}/s\s+{NUMBER}",
    rf"peak RSS \(MB\)\s+-\s+{NUMBER} MB",
    rf"peak RSS, one upload \(MB\)\s+{NUMBER} MB\s+{NUMBER} MB\s+{NUMBER}",
]


WEB = [
    rf"bare route\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+0\s+1\.00",
    rf"class list\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+0\s+{NUMBER}",
    r"target class detail: throughput ≥ 0\.5× bare: (met|MISSED)",
    # the same pages through nginx running deploy/nginx/date-community.conf, over TLS
    r"through nginx \(TLS, deploy/nginx/date-community\.conf",
    rf"(?s)through nginx.*bare route\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+0\s+1\.00",
    rf"(?s)through nginx.*class detail\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+0\s+{NUMBER}",
    r"target class list via proxy: throughput ≥ 0\.5× bare via proxy: (met|MISSED)",
    # 20 towns in one process (webapp/service.py) against one town served the same way
    r"20 towns in one process \(webapp/service\.py",
    rf"one town\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+0\s+{NUMBER}\s+1\.00",
    rf"20 towns\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+0\s+{NUMBER}\s+{NUMBER}",
    r"target 20 towns: class list throughput ≥ 0\.8× one town: (met|MISSED)",
]
# bench/static.py: a site page from the static export (nginx) against the app's
STATIC = [
    rf"export:\s+{NUMBER} pages, {NUMBER} files, {NUMBER} assets in {NUMBER} s",
    rf"baseline: app, /sites/\S+ \(waitress, page cache\):\s+{NUMBER} req/s\s+"
    rf"p50 {NUMBER} ms\s+p99 {NUMBER} ms\s+errors 0",
    rf"figure:\s+static file from nginx \(1 worker\):\s+{NUMBER} req/s\s+p50 {NUMBER} ms\s+p99 {NUMBER} ms\s+errors 0",
    rf"ratio:\s+static / app:\s+{NUMBER}",
]


@pytest.mark.parametrize("script, args, expected", [
    ("scheduling.py", ["--quick"], SCHEDULING),            # bookings/s and the month listing
    ("tourism.py", ["--quick", "--clients", "8"], TOURISM),  # QR scans against the bare route
    ("forms.py", ["--quick"], FORMS),                      # scanned sheets read per second, memory
    ("web.py", ["--quick"], WEB),                          # class pages, bare and through the TLS proxy
    ("static.py", ["--quick"], STATIC),                    # the static export from nginx against the app
])
def test_bench_quick_runs_and_prints_its_figures(script, args, expected):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    missing = [pattern for pattern in expected if not re.search(pattern, out)]
    assert not missing, f"bench output lacks {missing}:\n{out}"
    # The bench cleans up after itself: nothing left behind in the project.
    assert not list(ROOT.glob("bench/*.db"))


def test_month_listing_never_scans_a_whole_table(catalog_db, make_session):
    """Every count in the session listing must be an index lookup per session.

    Without an index on shifts(session_id, ...) the helper count scanned the
    whole shifts table once per listed session: seconds for one month on a
    ten-year database (found by bench/scheduling.py).
    """
    make_session()
    statements = []
    with catalog_db.tracer(lambda sql, params: statements.append((sql, params))):
        sessions.list_sessions(catalog_db, start=BASE, end=BASE + dt.timedelta(days=31))
    selects = [(sql, params) for sql, params in statements if "FROM sessions s" in sql]
    assert selects, statements
    for sql, params in selects:
        plan = [r["detail"] for r in catalog_db.query("EXPLAIN QUERY PLAN " + sql, params)]
        scans = [line for line in plan if line.startswith("SCAN")]
        assert not scans, f"full scans in the listing: {scans}\n" + "\n".join(plan)
