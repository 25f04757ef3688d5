"""``date-community forms``: print sign-up sheets, read scanned ones, purge old scans.

Reviewing a sheet needs its handwriting shown beside the fields, so it is
done on the staff web pages; the CLI covers the batch steps around it.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .cli import DATE, _state, actor, cli, emit, json_option, table
from .forms import records


@cli.group()
def forms() -> None:
    """Paper sign-up forms: print, scan, purge."""


@forms.command("print")
@click.option("--venue", required=True, help="Venue slug, e.g. city-hall.")
@click.option("--from", "date_from", required=True, type=DATE, help="First day of the period, YYYY-MM-DD.")
@click.option("--to", "date_to", required=True, type=DATE, help="Last day of the period, YYYY-MM-DD.")
@click.option("--copies", type=click.IntRange(min=1, max=records.MAX_COPIES), default=1, show_default=True,
              help="How many sheets; each gets its own serial.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the PDF and layout.json.")
@json_option
def forms_print(venue: str, date_from: dt.date, date_to: dt.date, copies: int, out_dir: Path) -> None:
    """Print a venue's sessions in a period as sign-up sheets (A4 PDF) plus layout.json."""
    result = records.print_forms(_state().db, venue, date_from, date_to, copies, out_dir, actor=actor())
    emit(result, f"Wrote {result['pdf']} (form {result['version']}, serials {result['serials'][0]}–"
                 f"{result['serials'][-1]}, {result['sessions']} sessions) and {result['layout']}.")


@forms.command("scan")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def forms_scan(files: tuple[Path, ...]) -> None:
    """Read scanned sheets (PDF, PNG, JPEG, TIFF) and store them for review.

    Bad pages are listed with their status and never stop the batch; the exit
    code is 1 only when not one file could be read.
    """
    uploads = [(path.name, path.read_bytes()) for path in files]
    limits = _state().settings()
    report = records.scan_files(_state().db, uploads, actor=actor(), max_pixels=limits["UPLOAD_MAX_PIXELS"],
                                max_file_pages=limits["UPLOAD_MAX_PAGES"])

    def human() -> str:
        rows = [(p["source_name"], p["page_no"], p["status"] if not p["error"] else f"{p['status']} ({p['error']})",
                 "" if p["serial"] is None else p["serial"], f"{p['confidence']:.2f}", p["uncertain"],
                 "yes" if p["upside_down"] else "") for p in report["pages"]]
        counts = ", ".join(f"{k}: {v}" for k, v in report["counts"].items())
        return (f"Batch {report['batch_id']}: {report['file_count']} files, {report['page_count']} pages ({counts}).\n"
                + table(("file", "page", "status", "serial", "confidence", "uncertain", "upside down"), rows,
                        "No pages."))

    emit(report, human)
    if report["files_read"] == 0:
        click.get_current_context().exit(1)


@forms.command("purge")
@json_option
def forms_purge() -> None:
    """Delete scanned page images and crops whose retention period has ended.

    The period is DATE_COMMUNITY_SCAN_RETENTION_DAYS days (default 365) after a
    sheet is confirmed or discarded; the sheet's row and box states are kept.
    """
    result = records.purge_expired(_state().db, actor=actor())
    emit(result, f"Purged the images of {result['purged']} scanned sheets.")
