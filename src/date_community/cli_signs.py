"""``date-community signs``: print-ready signs for the tourist sites."""
from __future__ import annotations

import os
from pathlib import Path

import click

from .cli import _state, cli, emit, json_option
from .tourism import signs, sites

BASE_URL_ENV = "DATE_COMMUNITY_BASE_URL"


@cli.group("signs")
def signs_group() -> None:
    """QR signs for the tourist sites."""


@signs_group.command("print")
@click.option("--site", "slug", metavar="SLUG", help="Only this site (default: every site).")
@click.option("--size", type=click.Choice(tuple(signs.SIZES)), default="A4", show_default=True,
              help="Paper size: A4 is read from about 1 m, A3 from about 1.5 m.")
@click.option("--base-url", metavar="URL",
              help=f"The app's public address, e.g. https://example.jp (default: ${BASE_URL_ENV}).")
@click.option("--out", "out_dir", required=True, metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the PDFs (created if needed).")
@json_option
def signs_print(slug: str | None, size: str, base_url: str | None, out_dir: Path) -> None:
    """Write one PDF sign per site, named <code>-<slug>-<size>.pdf."""
    base_url = base_url or os.environ.get(BASE_URL_ENV, "")
    if not base_url:
        # Without it the QR code would point nowhere: refuse rather than guess.
        raise click.UsageError(f"give --base-url or set {BASE_URL_ENV} to the app's public address")
    db = _state().db
    if slug:
        targets = [sites.get_site(db, slug, "ja")]
    else:
        targets = sites.list_sites(db, "ja", include_unpublished=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for site in targets:
        pdf = signs.render_sign(db, site["slug"], size, base_url)
        path = out_dir / signs.sign_filename(site["code"], site["slug"], size)
        path.write_bytes(pdf)
        written.append({"slug": site["slug"], "code": site["code"], "file": str(path), "bytes": len(pdf)})
    emit({"size": size, "signs": written},
         lambda: "\n".join([f"Wrote {len(written)} sign(s), {size}:", *(f"  {w['file']}" for w in written)]))
