"""Serve the app for the web benchmarks, plus a bare route to compare with.

Run as ``python bench/webserver.py PORT`` with DATE_COMMUNITY_DB set.  The bare
route goes through the same WSGI server, Flask and after-request hooks, but
touches neither the database nor a template: the difference between it and a
real page is what the page itself costs.
"""
from __future__ import annotations

import os
import sys

from waitress import serve

from webapp import create_app


def build():
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
