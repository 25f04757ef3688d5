"""Benchmark: class list and class detail pages against a bare route.

    .venv/bin/python bench/web.py [--seconds 8] [--clients 32] [--quick] [--no-proxy]

Starts the app under waitress on a free loopback port with the demo data,
then drives it with 32 keep-alive clients from a separate process.  Prints
requests per second and p50/p99 latency for each page and for the bare route
measured in the same server in the same run, and the ratio.
Then the same pages again through the real TLS proxy: nginx running
deploy/nginx/date-community.conf (tools/localproxy.py) in front of a second
waitress set up as in production (TRUSTED_PROXIES=1, BASE_URL), with the
ratio to the bare route through that same proxy in the same run.
Then 20 towns in one process (webapp/service.py, one app and one database per
town, chosen by host name): the class list round-robin over the 20 towns'
hosts, against one town served the same way in the same run, with each
server's memory.
Targets on a 2-core machine: ≥ 0.5 of the bare route's throughput, p99 < 100 ms;
20 towns ≥ 0.8 of one town's class list throughput.
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


def start_server(db_path: Path, *, cache: bool = True, base_url: str = "", towns: int = 0,
                 town_dir: Path | None = None) -> tuple[subprocess.Popen, int]:
    """``base_url``: run as behind the proxy (TRUSTED_PROXIES=1, that BASE_URL).
    ``towns``: that many towns in one process, their databases in ``town_dir``."""
    port = free_port()
    env = {**os.environ, "DATE_COMMUNITY_DB": str(db_path), "SECRET_KEY": "bench-only-secret",
           "BENCH_PAGE_CACHE": "1" if cache else "0", "BENCH_BASE_URL": base_url,
           # no instance/config.toml of this checkout: the bench's towns only
           "DATE_COMMUNITY_CONFIG": os.devnull,
           "BENCH_TOWNS": str(towns) if towns else "", "BENCH_TOWN_DIR": str(town_dir or "")}
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "webserver.py"), str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/healthz",
                                                          headers={"Host": f"localhost:{port}"}), timeout=1).read()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def run_load(port: int, paths: list[str], clients: int, seconds: float, follow: bool = False,
             cafile: str | None = None) -> dict:
    """``follow``: time each request together with the redirect it answers with.
    ``cafile``: over TLS to https://localhost:<port> (the proxy), trusting that certificate."""
    # The load generator runs in its own process so it does not share the
    # server's interpreter lock.
    host = "localhost" if cafile else "127.0.0.1"
    code = ("import json,sys; sys.path.insert(0, %r); from loadgen import measure; "
            "print(json.dumps(measure(%r, %d, %r, clients=%d, seconds=%f, follow_redirects=%r, cafile=%r)))"
            % (str(ROOT / "bench"), host, port, paths, clients, seconds, follow, cafile))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--no-cache", action="store_true",
                        help="turn the anonymous page cache off, to see the cost of rendering every request")
    parser.add_argument("--no-proxy", action="store_true", help="skip the run through nginx")
    parser.add_argument("--towns", type=int, default=20,
                        help="towns in one process for the several-towns run (0 skips it)")
    parser.add_argument("--quick", action="store_true", help="1 s per target, 8 clients (the smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.clients = 1.0, 8

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
        several = None
        if args.towns > 0:
            several = run_several_towns(db_path, Path(tmp), args)
        proxied = None if args.no_proxy else run_through_proxy(db_path, Path(tmp), targets, args)

    print(f"web benchmark: {args.clients} concurrent keep-alive clients, {args.seconds:.0f} s per target, waitress, "
          f"page cache {'off' if args.no_cache else 'on'}")
    report(results, "")
    if several is not None:
        print()
        report_towns(several, args.towns)
    if args.no_proxy:
        return
    if proxied is None:
        print("through nginx: skipped (nginx or openssl is not installed: make system-deps)")
        return
    print()
    print("through nginx (TLS, deploy/nginx/date-community.conf, 1 worker) in front of waitress with "
          "TRUSTED_PROXIES=1 and BASE_URL; ratios are to the bare route through the same proxy")
    report(proxied, " via proxy")


def report(results: dict, suffix: str) -> None:
    base = results["bare route"]
    print(f"{'target':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'vs bare':>10}")
    for name, r in results.items():
        ratio = r["rps"] / base["rps"] if base["rps"] else float("nan")
        print(f"{name:<14}{r['rps']:>10.0f}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}{r['errors']:>8}{ratio:>10.2f}")
    for name in ("class list", "class detail"):
        r = results[name]
        ok_ratio = base["rps"] > 0 and r["rps"] / base["rps"] >= 0.5
        ok_p99 = r["p99_ms"] < 100
        print(f"target {name}{suffix}: throughput ≥ 0.5× bare{suffix}: {'met' if ok_ratio else 'MISSED'}; "
              f"p99 < 100 ms: {'met' if ok_p99 else 'MISSED'}")


def rss_mb(pid: int) -> float:
    """The process's resident memory now, in MB (Linux /proc; nan elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run_several_towns(db_path: Path, tmp: Path, args) -> dict:
    """The class list with one town and with ``args.towns`` towns in one process (webapp/service.py), each town
    its own copy of the demo database, measured alike: same warm-up, same clients, same seconds."""
    sys.path.insert(0, str(ROOT / "src"))
    from date_community.sqlitedriver import sqlite3

    folder = tmp / "towns"
    folder.mkdir()
    source = sqlite3.connect(str(db_path))
    try:
        for i in range(1, args.towns + 1):
            target = sqlite3.connect(str(folder / f"town-{i:02d}.db"))
            try:
                source.backup(target)
            finally:
                target.close()
    finally:
        source.close()
    out = {}
    for name, count in (("one town", 1), ("towns", args.towns)):
        proc, port = start_server(db_path, cache=not args.no_cache, towns=count, town_dir=folder)
        try:
            paths = [f"//town-{i:02d}.localhost/classes" for i in range(1, count + 1)]
            for i in range(1, count + 1):  # warm-up: each town's first render fills its own page cache
                urllib.request.urlopen(urllib.request.Request(
                    f"http://127.0.0.1:{port}/classes", headers={"Host": f"town-{i:02d}.localhost:{port}",
                                                                  "Accept-Language": "ja"}), timeout=60).read()
            run_load(port, paths, args.clients, 1.0)
            out[name] = {**run_load(port, paths, args.clients, args.seconds), "rss_mb": rss_mb(proc.pid)}
        finally:
            proc.terminate()
            proc.wait(10)
    return out


def report_towns(several: dict, count: int) -> None:
    one, many = several["one town"], several["towns"]
    print(f"{count} towns in one process (webapp/service.py, a database per town, chosen by Host), class list "
          f"round-robin over the {count} hosts; ratio to one town served the same way in this run")
    print(f"{'target':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'RSS MB':>10}{'vs one':>10}")
    for name, r in (("one town", one), (f"{count} towns", many)):
        ratio = r["rps"] / one["rps"] if one["rps"] else float("nan")
        print(f"{name:<14}{r['rps']:>10.0f}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}{r['errors']:>8}"
              f"{r['rss_mb']:>10.0f}{ratio:>10.2f}")
    ok = one["rps"] > 0 and many["rps"] / one["rps"] >= 0.8
    print(f"target {count} towns: class list throughput ≥ 0.8× one town: {'met' if ok else 'MISSED'}; "
          f"p99 < 100 ms: {'met' if many['p99_ms'] < 100 else 'MISSED'}")


def run_through_proxy(db_path: Path, tmp: Path, targets: dict, args) -> dict | None:
    """The same targets through nginx over TLS, or None when nginx is not installed."""
    sys.path.insert(0, str(ROOT / "tools"))
    import localproxy

    if not localproxy.available():
        return None
    folder = tmp / "nginx"
    folder.mkdir()
    # The proxy's port must be known before the app starts (its BASE_URL), so
    # the proxy object is made first and started once the app listens.
    proxy = localproxy.LocalProxy(folder, app_port=0)
    proc, app_port = start_server(db_path, cache=not args.no_cache,
                                  base_url=f"https://localhost:{proxy.https_port}")
    proxy.app_port = app_port
    try:
        with proxy:
            cafile = str(proxy.cafile)
            run_load(proxy.https_port, ["/bench/bare"], args.clients, 1.0, cafile=cafile)  # warm-up, TLS sessions
            return {name: run_load(proxy.https_port, paths, args.clients, args.seconds, cafile=cafile)
                    for name, paths in targets.items()}
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
