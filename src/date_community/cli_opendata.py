"""``date-community opendata``: export and import the open-data files."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import click

from . import files, opendata
from .i18n import LOCALES
from .opendata import readers
from .cli import DATE, _state, actor, base_url_option, cli, emit, json_option, require_base_url

EXPORTS = ("tourism", "tourism-i18n", "events", "geojson")
IMPORTS = ("tourism", "tourism-i18n")


@cli.group("opendata")
def opendata_group() -> None:
    """Open data: 観光施設一覧, イベント一覧, the multilingual extension file, GeoJSON."""


@opendata_group.command("export")
@click.option("--what", required=True, type=click.Choice(EXPORTS), help="Which file to write.")
@click.option("--out", required=True, metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write it.")
@base_url_option("for the links in the file")
@click.option("--from", "date_from", type=DATE, help="events: first day, YYYY-MM-DD (default: today).")
@click.option("--to", "date_to", type=DATE, help="events: last day, YYYY-MM-DD (default: a year from today).")
@click.option("--lang", default="ja", show_default=True, type=click.Choice(LOCALES),
              help="geojson: the language of the name and summary properties.")
@click.option("--office-phone", default=lambda: os.environ.get("OFFICE_PHONE", "024-577-1111"),
              show_default="$OFFICE_PHONE or 024-577-1111", help="events: the contact phone number.")
@json_option
def opendata_export(what: str, out: Path, base_url: str | None, date_from: dt.date | None,
                    date_to: dt.date | None, lang: str, office_phone: str) -> None:
    """Write one open-data file."""
    if what in ("tourism", "events", "geojson"):
        base_url = require_base_url(base_url)  # these files link every row to its page
    db = _state().db
    if what == "tourism":
        data = opendata.export_tourism_csv(db, base_url)
    elif what == "tourism-i18n":
        data = opendata.export_tourism_i18n_csv(db)
    elif what == "events":
        first, last = opendata.next_twelve_months()
        date_from, date_to = date_from or first, date_to or last
        if date_to < date_from:
            raise click.UsageError("--to must not be before --from")
        data = opendata.export_events_csv(db, date_from, date_to, base_url, contact_phone=office_phone)
    else:
        collection = opendata.export_geojson(db, base_url, lang)
        data = json.dumps(collection, ensure_ascii=False, indent=1).encode("utf-8")
    files.write_atomic(out, data)
    rows = (len(json.loads(data)["features"]) if what == "geojson"
            else readers.record_count(data))
    emit({"what": what, "path": str(out), "bytes": len(data), "records": rows},
         f"Wrote {rows} record(s) to {out}.")


@opendata_group.command("import")
@click.option("--what", required=True, type=click.Choice(IMPORTS), help="Which kind of file FILE is.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def opendata_import(what: str, file: Path) -> None:
    """Read FILE (UTF-8, UTF-8 with BOM, Shift_JIS/cp932 or UTF-16) into the database, all rows or none."""
    data = file.read_bytes()
    db = _state().db
    if what == "tourism":
        result = opendata.import_tourism_csv(db, data, actor=actor())
        text = (f"Read {result['rows']} row(s): created {len(result['created'])}, "
                f"updated {len(result['updated'])}, unchanged {result['unchanged']}.")
    else:
        result = opendata.import_tourism_i18n_csv(db, data, actor=actor())
        text = (f"Read {result['rows']} row(s): updated {len(result['updated'])} site(s), "
                f"unchanged {result['unchanged']}.")
    emit(result, text)
