"""Loading and validating the text files in ``content/``.

Content is kept as plain files a city staff member can edit (CSV, TOML,
Markdown).  Validation errors name the file, the line and the field, so a
typo is found without reading code.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

from .errors import DateCommunityError
from .scheduling import catalog

ENV_VAR = "DATE_COMMUNITY_CONTENT"


def content_dir(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    # src/date_community/content.py → the repository's content/ folder
    return Path(__file__).resolve().parents[2] / "content"


class ContentError(DateCommunityError):
    def __init__(self, file: str, line: int, field: str, problem: str):
        super().__init__("content_invalid", f"{file}:{line}: {field}: {problem}")
        self.file, self.line, self.field, self.problem = file, line, field, problem


def _rows(path: Path) -> list[tuple[int, dict]]:
    if not path.is_file():
        raise ContentError(path.name, 0, "-", "file not found")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        # line numbers count the header as line 1, as a text editor shows them
        return [(reader.line_num, row) for row in reader]


def load_venues(db, path: Path) -> int:
    count = 0
    for line, row in _rows(path):
        if None in row or any(v is None for v in row.values()):
            raise ContentError(path.name, line, "-", "wrong number of columns")
        try:
            catalog.upsert_venue(db, **{k: row.get(k) for k in (
                "slug", "name_ja", "name_en", "district", "address", "lat", "lon", "coord_quality", "seats",
                "barrier_free", "source_url")})
        except DateCommunityError as exc:
            field = {"invalid_district": "district", "invalid_seats": "seats", "invalid_name": "name_ja"}.get(
                exc.code, "-")
            raise ContentError(path.name, line, field, exc.code) from exc
        except ValueError as exc:
            raise ContentError(path.name, line, "lat/lon", "not a number") from exc
        count += 1
    return count


def load_topics(db, path: Path) -> int:
    count = 0
    for line, row in _rows(path):
        if None in row or any(v is None for v in row.values()):
            raise ContentError(path.name, line, "-", "wrong number of columns")
        titles = {lang: row.get(f"title_{lang}") or "" for lang in catalog.LANGS}
        for lang, title in titles.items():
            if not title.strip():
                raise ContentError(path.name, line, f"title_{lang}", "missing")
        try:
            order = int(row.get("sort_order") or 0)
        except ValueError as exc:
            raise ContentError(path.name, line, "sort_order", "not a number") from exc
        catalog.upsert_topic(db, code=row.get("code") or "", titles=titles, sort_order=order)
        count += 1
    return count


def load_catalog(db, directory: str | os.PathLike | None = None) -> dict[str, int]:
    base = content_dir(directory)
    return {"venues": load_venues(db, base / "venues.csv"), "topics": load_topics(db, base / "topics.csv")}
