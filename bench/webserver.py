"""Serve the app for the web benchmarks, plus a bare route to compare with.

Run as ``python bench/webserver.py PORT`` with DATE_COMMUNITY_DB set, or with
BENCH_TOWNS=N and BENCH_TOWN_DIR (town-01.db …) for N towns in one process.  The bare
route goes through the same WSGI server, Flask and after-request hooks, but
touches neither the database nor a template: the difference between it and a
real page is what the page itself costs.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from waitress import serve

from webapp import create_app


def build_towns(count: int, folder: Path):
    """``count`` towns in one service (webapp/service.py), town-01.localhost … with their own databases."""
    from date_community import config
    from webapp import service

    towns = {f"town-{i:02d}": config.Town(f"town-{i:02d}", f"town-{i:02d}.localhost",
                                          str(folder / f"town-{i:02d}.db")) for i in range(1, count + 1)}
    base = {**config.load(), "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret")}
    svc = service.build_service(towns, base, config={"PAGE_CACHE": os.environ.get("BENCH_PAGE_CACHE", "1") == "1"})
    for app in svc.apps.values():
        app.add_url_rule("/bench/bare", "bench_bare", lambda: "ok")
    return svc


def build():
    if os.environ.get("BENCH_TOWNS"):
        return build_towns(int(os.environ["BENCH_TOWNS"]), Path(os.environ["BENCH_TOWN_DIR"]))
    # Behind the bench's proxy, the app runs as in production: one trusted
    # hop (ProxyFix) and its public https address (TRUSTED_HOSTS).
    app = create_app({"SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret"),
                      # --no-cache in web.py: measure rendering every page afresh
                      "PAGE_CACHE": os.environ.get("BENCH_PAGE_CACHE", "1") == "1",
                      **({"TRUSTED_PROXIES": 1, "BASE_URL": os.environ["BENCH_BASE_URL"]}
                         if os.environ.get("BENCH_BASE_URL") else {})})

    @app.get("/bench/bare")
    def bare():
        return "ok"

    return app


if __name__ == "__main__":
    # As deploy/systemd: keep X-Forwarded-* for the app's ProxyFix (waitress 3 drops them by default).
    serve(build(), host="127.0.0.1", port=int(sys.argv[1]), threads=int(os.environ.get("THREADS", "8")),
          clear_untrusted_proxy_headers=not os.environ.get("BENCH_BASE_URL"), _quiet=True)
