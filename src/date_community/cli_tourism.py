"""``date-community content``: loading the content files into the database."""
from __future__ import annotations

import json
from pathlib import Path

import click

from . import content as content_mod
from .cli import _state, actor, cli, emit, json_option
from .db import write_transaction
from .tourism import content_load


@cli.group("content")
def content_group() -> None:
    """Content files: tourist sites, walking tours, venues and topics."""


@content_group.command("load")
@click.argument("directory", metavar="DIR", required=False, type=click.Path(file_okay=False, path_type=Path))
@json_option
def content_load_cmd(directory: Path | None) -> None:
    """Load the content in DIR: sites/, tours/, and venues.csv and topics.csv when present.

    Without DIR: the town's content folder (--town, DATE_COMMUNITY_CONTENT,
    else the project's content/).

    Everything is checked and loaded in one transaction: on the first
    problem the command names the file, the line and the field, exits with
    status 1 and leaves the database as it was.
    """
    state = _state()
    directory = directory or content_mod.content_dir(state.content_dir)
    db = state.db
    try:
        with write_transaction(db):
            counts: dict[str, int] = {}
            # The catalogue files are optional here so a folder holding only
            # tourist sites (e.g. a staff member's working copy) loads too.
            if (directory / "venues.csv").is_file():
                counts["venues"] = content_mod.load_venues(db, directory / "venues.csv")
            if (directory / "topics.csv").is_file():
                counts["topics"] = content_mod.load_topics(db, directory / "topics.csv")
            counts.update(content_load.load_dir(db, directory, actor=actor()))
    except content_mod.ContentError as exc:
        if state.json:
            # Scripts get the position as separate fields, not only in the text.
            click.echo(json.dumps({"error": exc.code, "message": exc.message, "file": exc.file, "line": exc.line,
                                   "field": exc.field, "problem": exc.problem}, ensure_ascii=False))
            raise click.exceptions.Exit(1) from exc
        raise
    parts = [f"{counts['sites']} sites", f"{counts['tours']} tours"]
    parts += [f"{counts[k]} {k}" for k in ("venues", "topics") if k in counts]
    emit(counts, "Loaded " + ", ".join(parts) + ".")
