"""Benchmark: a site page from the static export, served by nginx, against the same page from the app.

    .venv/bin/python bench/static.py [--seconds 8] [--clients 32] [--quick]

Loads the demo data, starts the app under waitress (page cache on, as in
production) and times ``/sites/<slug>?lang=ja``; then writes the static export
(``date-community export-static``) and times the same page as a file from
nginx with one worker, plain HTTP on loopback.  The app's figure is the
baseline; the ratio says how much further a machine goes when the read bursts
are static files (a CDN goes further still).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from web import free_port, run_load, start_server  # noqa: E402

from date_community import db as dbmod, demo  # noqa: E402
from date_community.tourism import sites, static_site  # noqa: E402

NGINX_CONF = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    include /etc/nginx/mime.types;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /assets/ {{ add_header Cache-Control "public, max-age=31536000, immutable"; }}
        location / {{ add_header Cache-Control "public, max-age=300"; }}
    }}
}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="1 s per target, 8 clients (the smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.clients = 1.0, 8
    with tempfile.TemporaryDirectory(prefix="dc-static-") as d:
        tmp = Path(d)
        tmp.chmod(0o755)  # nginx's workers run as another user
        db_path = tmp / "demo.db"
        database = dbmod.connect(db_path)
        try:
            demo.load_demo(database)
            slug = sites.list_sites(database, "ja")[0]["slug"]
        finally:
            database.close()

        server, port = start_server(db_path)
        try:
            app = run_load(port, [f"/sites/{slug}?lang=ja"], args.clients, args.seconds)
        finally:
            server.terminate()
            server.wait()

        from webapp import create_app, static_export

        began = time.perf_counter()
        counts = static_export.export(create_app({"TESTING": True, "DATABASE": str(db_path), "SECRET_KEY": "bench",
                                                  "BASE_URL": "https://app.example.jp"}), tmp / "out")
        export_s = time.perf_counter() - began
        nginx_port = free_port()
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(prefix=tmp, port=nginx_port, root=tmp / "out"))
        nginx = subprocess.Popen(["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            page = "/" + static_site.site_page(slug, "ja")
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{nginx_port}{page}", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            static = run_load(nginx_port, [page], args.clients, args.seconds)
            if static["errors"] or app["errors"]:
                raise SystemExit(f"errors: app {app['statuses']}, static {static['statuses']}")
        finally:
            nginx.terminate()
            nginx.wait()

    print(f"static benchmark: {args.clients} concurrent keep-alive clients, {args.seconds:g} s per target")
    print(f"export:   {counts['pages']} pages, {counts['files']} files, {counts['assets']} assets in {export_s:.1f} s")
    print(f"baseline: app, /sites/{slug} (waitress, page cache): {app['rps']:7.0f} req/s   "
          f"p50 {app['p50_ms']:.1f} ms   p99 {app['p99_ms']:.1f} ms   errors {app['errors']}")
    print(f"figure:   static file from nginx (1 worker):      {static['rps']:7.0f} req/s   "
          f"p50 {static['p50_ms']:.1f} ms   p99 {static['p99_ms']:.1f} ms   errors {static['errors']}")
    print(f"ratio:    static / app:                            {static['rps'] / app['rps']:7.1f}")


if __name__ == "__main__":
    main()
