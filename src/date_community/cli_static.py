"""``date-community export-static``: the public tourism pages as static files.

The pages are rendered by the web app itself (``webapp/static_export.py``), so
this command imports it only when it runs: the rest of the CLI stays free of
Flask.
"""
from __future__ import annotations

import os
from pathlib import Path

import click

from .cli import _state, cli, emit, json_option


@cli.command("export-static")
@click.option("--out", required=True, metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write the pages into (created if missing; files of an earlier export stay, "
                   "so pages still being served keep their assets).")
@click.option("--base-url", "static_base", metavar="URL",
              help="Where the folder will be served, e.g. https://kanko.example.jp: hreflang links and "
                   "structured data are absolute on it. Default: $DATE_COMMUNITY_STATIC_BASE_URL; "
                   "without one they are relative.")
@click.option("--app-url", metavar="URL",
              help="The app's public address, for links to the pages that need it (sign-up, classes, log-in). "
                   "Default: $DATE_COMMUNITY_BASE_URL.")
@click.option("--town", metavar="NAME",
              help="With several towns in instance/config.toml: export that town (the same as the top-level --town).")
@json_option
def export_static(out: Path, static_base: str | None, app_url: str | None, town: str | None) -> None:
    """Write every public tourism page (sites, tours, map, AR) in five languages, the open-data files and
    the assets with hashed names, for any web server, CDN or object store."""
    state = _state()
    if town is not None:
        if state.db_path:
            raise click.UsageError("give --db or --town, not both")
        state.town = town
    settings = state.settings()  # the selected town's database, content, addresses and secret
    app_url = (app_url or settings["BASE_URL"] or "").rstrip("/")
    if not app_url.startswith(("https://", "http://")):
        # Without it the links to sign-up would point nowhere: refuse rather than guess.
        raise click.UsageError("give --app-url or set DATE_COMMUNITY_BASE_URL to the app's public address")
    static_base = (static_base if static_base is not None else settings["STATIC_BASE_URL"]).rstrip("/")
    if static_base and not static_base.startswith(("https://", "http://")):
        raise click.UsageError("--base-url must start with https:// (or http://)")

    from webapp import create_app
    from webapp import static_export

    app = create_app({
        "DATABASE": str(state.path),
        "CONTENT_DIR": settings.get("CONTENT_DIR", ""),
        "BASE_URL": app_url,
        # No visitor ever reaches this app: no sessions to sign, no mail to send.
        "SECRET_KEY": settings["SECRET_KEY"] or os.urandom(32).hex(),
        "MAIL_SERVER": "",
    })
    out.mkdir(parents=True, exist_ok=True)
    counts = static_export.export(app, out, static_base=static_base)
    emit({"out": str(out), **counts, "base_url": static_base, "app_url": app_url},
         f"wrote {counts['pages']} pages, {counts['files']} other files and {counts['assets']} assets to {out}")
