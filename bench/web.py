"""Benchmark: class list and class detail pages against a bare route.

    .venv/bin/python bench/web.py [--seconds 8] [--clients 32]

Starts the app under waitress on a free loopback port with the demo data,
then drives it with 32 keep-alive clients from a separate process.  Prints
requests per second and p50/p99 latency for each page and for the bare route
measured in the same server in the same run, and the ratio.
Targets on a 2-core machine: ≥ 0.5 of the bare route's throughput, p99 < 100 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db_path: Path, *, cache: bool = True) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "DATE_COMMUNITY_DB": str(db_path), "SECRET_KEY": "bench-only-secret",
           "BENCH_PAGE_CACHE": "1" if cache else "0"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "webserver.py"), str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def run_load(port: int, paths: list[str], clients: int, seconds: float, follow: bool = False) -> dict:
    """``follow``: time each request together with the redirect it answers with."""
    # The load generator runs in its own process so it does not share the
    # server's interpreter lock.
    code = ("import json,sys; sys.path.insert(0, %r); from loadgen import measure; "
            "print(json.dumps(measure('127.0.0.1', %d, %r, clients=%d, seconds=%f, follow_redirects=%r)))"
            % (str(ROOT / "bench"), port, paths, clients, seconds, follow))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--no-cache", action="store_true",
                        help="turn the anonymous page cache off, to see the cost of rendering every request")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from date_community import db as dbmod, demo
    from date_community.scheduling import sessions

    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        database = dbmod.connect(db_path)
        demo.load_demo(database)
        session_ids = [s["id"] for s in sessions.list_sessions(database)][:20]
        database.close()
        proc, port = start_server(db_path, cache=not args.no_cache)
        try:
            run_load(port, ["/bench/bare"], args.clients, 1.0)  # warm-up
            targets = {
                "bare route": ["/bench/bare"],
                "class list": ["/classes"],
                "class detail": [f"/classes/{sid}" for sid in session_ids],
            }
            results = {name: run_load(port, paths, args.clients, args.seconds) for name, paths in targets.items()}
        finally:
            proc.terminate()
            proc.wait(10)

    base = results["bare route"]
    print(f"web benchmark: {args.clients} concurrent keep-alive clients, {args.seconds:.0f} s per target, waitress, "
          f"page cache {'off' if args.no_cache else 'on'}")
    print(f"{'target':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'vs bare':>10}")
    for name, r in results.items():
        ratio = r["rps"] / base["rps"] if base["rps"] else float("nan")
        print(f"{name:<14}{r['rps']:>10.0f}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}{r['errors']:>8}{ratio:>10.2f}")
    for name in ("class list", "class detail"):
        r = results[name]
        ok_ratio = r["rps"] / base["rps"] >= 0.5
        ok_p99 = r["p99_ms"] < 100
        print(f"target {name}: throughput ≥ 0.5× bare: {'met' if ok_ratio else 'MISSED'}; "
              f"p99 < 100 ms: {'met' if ok_p99 else 'MISSED'}")


if __name__ == "__main__":
    main()
