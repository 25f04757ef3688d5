"""``date-community signs``: print-ready signs for the tourist sites."""
from __future__ import annotations

from pathlib import Path

import click

from . import files
from .cli import _state, base_url_option, cli, emit, json_option, require_base_url
from .tourism import signs, sites


@cli.group("signs")
def signs_group() -> None:
    """QR signs for the tourist sites."""


@signs_group.command("print")
@click.option("--site", "slug", metavar="SLUG", help="Only this site (default: every site).")
@click.option("--size", type=click.Choice(tuple(signs.SIZES)), default="A4", show_default=True,
              help="Paper size: A4 is read from about 1 m, A3 from about 1.5 m.")
@base_url_option("the QR codes point to")
@click.option("--out", "out_dir", required=True, metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the PDFs (created if needed).")
@json_option
def signs_print(slug: str | None, size: str, base_url: str | None, out_dir: Path) -> None:
    """Write one PDF sign per site, named <code>-<slug>-<size>.pdf."""
    base_url = require_base_url(base_url)
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
        files.write_atomic(path, pdf)
        written.append({"slug": site["slug"], "code": site["code"], "file": str(path), "bytes": len(pdf)})
    emit({"size": size, "signs": written},
         lambda: "\n".join([f"Wrote {len(written)} sign(s), {size}:", *(f"  {w['file']}" for w in written)]))
