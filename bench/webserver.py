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
    app = create_app({"SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret"),
                      # --no-cache in web.py: measure rendering every page afresh
                      "PAGE_CACHE": os.environ.get("BENCH_PAGE_CACHE", "1") == "1"})

    @app.get("/bench/bare")
    def bare():
        return "ok"

    return app


if __name__ == "__main__":
    serve(build(), host="127.0.0.1", port=int(sys.argv[1]), threads=int(os.environ.get("THREADS", "8")),
          _quiet=True)
