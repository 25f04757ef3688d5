"""Loading tourist sites and tours from the text files in ``content/``.

Layout (see docs/architecture.md, "Tourism content")::

    sites/<slug>/site.toml        facts, location, images
    sites/<slug>/<locale>.md      +++ TOML front matter +++ then a Markdown body
    tours/<slug>.toml             stops in walking order and names per language

The loader works in two passes.  First every file is read and checked for
form (TOML syntax, known keys, types, required files); then everything is
saved in ONE write transaction through :mod:`sites` and :mod:`tours`, whose
validation errors are mapped back to the file and line they came from.  Any
error rolls the whole load back, so the database is never half-updated.

tomllib reports a line only for syntax errors; for a wrong *value* we find the
line ourselves by scanning the file for the key under its table header.
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from ..content import ContentError
from ..db import write_transaction
from ..errors import MESSAGES, DateCommunityError
from ..i18n import LOCALES
from . import sites as sites_mod
from . import tours as tours_mod

SITE_TOP_KEYS = {"code", "marker_id", "categories", "district", "sort_order", "location", "facts", "images"}
LOCATION_KEYS = {"lat", "lon", "quality", "source"}
FACT_KEYS = {"address", "address_note", "open_days", "opens", "closes", "fee_free", "contact_name",
             "contact_phone", "contact_ext", "sources"}
IMAGE_KEYS = {"file", "licence", "credit", "source_url"} | {f"alt_{loc}" for loc in LOCALES}
TEXT_STRING_KEYS = ("name", "summary", "hours", "closed", "fee", "access", "parking", "barrier_free")
TOUR_TOP_KEYS = {"sites", "sort_order", "text"}

# save_site field → where it lives in site.toml
_SITE_FIELD_KEYS = {"lat": "location.lat", "lon": "location.lon", "coord_quality": "location.quality",
                    "coord_source": "location.source"} | {k: f"facts.{k}" for k in FACT_KEYS}

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*=""")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


# --- locating keys in TOML text ---------------------------------------------------------------

class KeyLines:
    """Where each key of a TOML document is written: dotted path → 1-based line.

    Array tables get an index (``images[0].file``).  ``offset`` is added to
    every line, for front matter that starts below the file's first line.
    """

    def __init__(self, text: str, offset: int = 0):
        self.lines: dict[str, int] = {}
        table = ""
        counts: dict[str, int] = {}
        in_multiline = None
        for number, raw in enumerate(text.splitlines(), start=1 + offset):
            if in_multiline:
                if raw.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            stripped = raw.strip()
            if not stripped or stripped.startswith("#"):
                continue
            header = _HEADER.match(raw)
            if header and not _KEY.match(raw):
                name = re.sub(r"\s*\.\s*", ".", header.group(2)).replace('"', "")
                if header.group(1) == "[[":
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                    table = f"{name}[{index}]"
                else:
                    table = name
                self.lines.setdefault(table, number)
                continue
            key = _KEY.match(raw)
            if key:
                name = re.sub(r"\s*\.\s*", ".", key.group(1)).strip("\"'")
                self.lines.setdefault(f"{table}.{name}" if table else name, number)
                for quote in ('"""', "'''"):
                    if raw.count(quote) % 2 == 1:
                        in_multiline = quote
                        break

    def line(self, path: str) -> int:
        """The key's line, else its table's line, else 1 (the top of the document)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rpartition(".")[0]
        return min(self.lines.values(), default=1)


class _Doc:
    """One parsed TOML document with its file name (relative to the content folder)."""

    def __init__(self, file: str, data: dict[str, Any], keys: KeyLines):
        self.file, self.data, self.keys = file, data, keys

    def error(self, path: str, problem: str) -> ContentError:
        return ContentError(self.file, self.keys.line(path), path, problem)


def _parse_toml(file: str, text: str, offset: int = 0) -> _Doc:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        position = _TOML_POSITION.search(message)
        line = int(position.group(1)) if position else 1
        problem = _TOML_POSITION.sub("", message) if position else message
        lines = text.splitlines()
        key = _KEY.match(lines[line - 1]) if 0 < line <= len(lines) else None
        field = key.group(1).strip("\"'") if key else "-"
        raise ContentError(file, line + offset, field, f"TOML syntax: {problem}") from None
    return _Doc(file, data, KeyLines(text, offset))


def _read(base: Path, relative: str) -> str:
    path = base / relative
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ContentError(relative, 0, "-", "file not found") from None
    except UnicodeDecodeError:
        raise ContentError(relative, 0, "-", "not UTF-8 text") from None


def _front_matter(file: str, text: str) -> tuple[_Doc, str]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "+++":
        raise ContentError(file, 1, "-", "the file must start with a +++ line (front matter)")
    for index in range(1, len(lines)):
        if lines[index].strip() == "+++":
            doc = _parse_toml(file, "\n".join(lines[1:index]), offset=1)
            return doc, "\n".join(lines[index + 1:]).strip("\n")
    raise ContentError(file, 1, "-", "the front matter has no closing +++ line")


def _check_keys(doc: _Doc, table: dict[str, Any], allowed: set[str], prefix: str = "") -> None:
    for key in table:
        if key not in allowed:
            raise doc.error(f"{prefix}{key}", "unknown field (check the spelling)")


def _want_str(doc: _Doc, table: dict[str, Any], key: str, prefix: str = "") -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise doc.error(f"{prefix}{key}", "must be text in quotes")
    return value


def _want_int(doc: _Doc, table: dict[str, Any], key: str, prefix: str = "", *, required: bool = False) -> Any:
    if key not in table:
        if required:
            # The key is absent: KeyLines falls back to the line of its table.
            raise doc.error(f"{prefix}{key}", f"'{key}' is missing")
        return None
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise doc.error(f"{prefix}{key}", "must be a whole number")
    return value


def _want_table(doc: _Doc, key: str) -> dict[str, Any]:
    value = doc.data.get(key, {})
    if not isinstance(value, dict):
        raise doc.error(key, f"must be a [{key}] table")
    return value


# --- sites ------------------------------------------------------------------------------------------

class _SiteFiles:
    def __init__(self, slug: str, data: dict[str, Any], toml: _Doc, texts: dict[str, _Doc]):
        self.slug, self.data, self.toml, self.texts = slug, data, toml, texts


def _read_site(base: Path, folder: Path) -> _SiteFiles:
    slug = folder.name
    rel = f"sites/{slug}"
    doc = _parse_toml(f"{rel}/site.toml", _read(base, f"{rel}/site.toml"))
    _check_keys(doc, doc.data, SITE_TOP_KEYS)
    location = _want_table(doc, "location")
    facts = _want_table(doc, "facts")
    _check_keys(doc, location, LOCATION_KEYS, "location.")
    _check_keys(doc, facts, FACT_KEYS, "facts.")
    if "lat" in location and "quality" not in location:
        # Without a quality we cannot tell an exact pin from a rough one.
        raise doc.error("location.lat", "a coordinate needs quality = \"sourced\" or \"approx\"")
    for key in ("lat", "lon"):
        if key in location and (isinstance(location[key], bool) or not isinstance(location[key], (int, float))):
            raise doc.error(f"location.{key}", "must be a number in decimal degrees")
    categories = doc.data.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise doc.error("categories", "must be a list of codes in quotes")
    for code in categories:
        if code not in sites_mod.CATEGORIES:
            raise doc.error("categories", f"unknown category '{code}' (known: {' '.join(sites_mod.CATEGORIES)})")
    sources = facts.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise doc.error("facts.sources", "must be a list of addresses in quotes")
    for key in ("code", "district"):
        _want_str(doc, doc.data, key)
    for key in ("quality", "source"):
        _want_str(doc, location, key, "location.")
    for key in FACT_KEYS - {"fee_free", "sources"}:
        _want_str(doc, facts, key, "facts.")
    if "fee_free" in facts and not isinstance(facts["fee_free"], bool):
        raise doc.error("facts.fee_free", "must be true or false")
    images_in = doc.data.get("images", [])
    if not isinstance(images_in, list):
        raise doc.error("images", "write each image as an [[images]] table")
    images = []
    for index, image in enumerate(images_in):
        where = f"images[{index}]."
        if not isinstance(image, dict):
            raise doc.error(f"images[{index}]", "write each image as an [[images]] table")
        _check_keys(doc, image, IMAGE_KEYS, where)
        for key in IMAGE_KEYS:
            _want_str(doc, image, key, where)
        file = image.get("file", "")
        if not file:
            raise doc.error(f"images[{index}]", "'file' is missing")
        if file.startswith("/") or ".." in Path(file).parts or not (base / file).is_file():
            raise doc.error(f"{where}file", f"no image file '{file}' in the content folder")
        if not image.get("alt_ja", "").strip():
            # Every photo needs a text alternative for screen readers.
            raise doc.error(f"images[{index}]", "'alt_ja' (the Japanese alt text) is missing")
        images.append({"file": file, "licence": image.get("licence", ""), "credit": image.get("credit", ""),
                       "source_url": image.get("source_url", ""),
                       "alt": {loc: image[f"alt_{loc}"] for loc in LOCALES if image.get(f"alt_{loc}")}})

    text_docs: dict[str, _Doc] = {}
    texts: dict[str, dict[str, Any]] = {}
    for md in sorted(folder.glob("*.md")):
        locale = md.stem
        file = f"{rel}/{md.name}"
        if locale not in LOCALES:
            raise ContentError(file, 0, "-", f"not a language file: name it one of {', '.join(LOCALES)} + .md")
        front, body = _front_matter(file, _read(base, file))
        allowed = set(TEXT_STRING_KEYS) | ({"kana", "version"} if locale == "ja" else {"translates"})
        _check_keys(front, front.data, allowed)
        text = {key: _want_str(front, front.data, key) for key in TEXT_STRING_KEYS}
        if locale == "ja":
            text["kana"] = _want_str(front, front.data, "kana")
            text["version"] = _want_int(front, front.data, "version", required=True)
        else:
            text["version"] = _want_int(front, front.data, "translates", required=True)
        text["body_md"] = body
        texts[locale] = text
        text_docs[locale] = front
    if "ja" not in texts:
        raise ContentError(f"{rel}/ja.md", 0, "-", "file not found: every site needs a Japanese text")

    data = {
        "slug": slug, "code": doc.data.get("code", ""), "marker_id": _want_int(doc, doc.data, "marker_id"),
        "categories": categories, "district": doc.data.get("district", ""),
        "sort_order": _want_int(doc, doc.data, "sort_order") or 0,
        "lat": location.get("lat"), "lon": location.get("lon"), "coord_quality": location.get("quality", ""),
        "coord_source": location.get("source", ""), "images": images, "texts": texts,
        **{key: facts.get(key, False if key == "fee_free" else [] if key == "sources" else "") for key in FACT_KEYS},
    }
    return _SiteFiles(slug, data, doc, text_docs)


def _site_error(files: _SiteFiles, exc: DateCommunityError) -> ContentError:
    """Point a library validation error at the file and line it came from."""
    field = str(exc.params.get("field", "-"))
    problem = MESSAGES.get(exc.code, exc.code)
    if field.startswith("texts."):
        _, locale, *rest = field.split(".")
        key = rest[0] if rest else ""
        if locale not in files.texts:
            return ContentError(f"sites/{files.slug}/{locale}.md", 0, "-", problem)
        doc = files.texts[locale]
        if key == "version" and locale != "ja":
            key = "translates"
        if key == "body_md":
            return ContentError(doc.file, doc.keys.line(""), "body", problem)
        return doc.error(key or "name", problem)
    if field == "slug":
        return ContentError(f"sites/{files.slug}", 0, "slug", f"{problem} (the folder name is the slug)")
    return files.toml.error(_SITE_FIELD_KEYS.get(field, field), problem)


# --- tours ------------------------------------------------------------------------------------------

def _read_tour(base: Path, path: Path) -> tuple[dict[str, Any], _Doc]:
    file = f"tours/{path.name}"
    doc = _parse_toml(file, _read(base, file))
    _check_keys(doc, doc.data, TOUR_TOP_KEYS)
    stops = doc.data.get("sites")
    if not isinstance(stops, list) or not stops or not all(isinstance(s, str) for s in stops):
        raise doc.error("sites", "must be a list of site folder names in quotes, in walking order")
    text_table = doc.data.get("text", {})
    if not isinstance(text_table, dict):
        raise doc.error("text", "write each language as a [text.<language>] table")
    texts = {}
    for locale, table in text_table.items():
        prefix = f"text.{locale}."
        if locale not in LOCALES:
            raise doc.error(f"text.{locale}", f"not a language: use one of {', '.join(LOCALES)}")
        if not isinstance(table, dict):
            raise doc.error(f"text.{locale}", "write each language as a [text.<language>] table")
        version_key = "version" if locale == "ja" else "translates"
        _check_keys(doc, table, {"name", "summary", version_key}, prefix)
        texts[locale] = {"name": _want_str(doc, table, "name", prefix),
                         "summary": _want_str(doc, table, "summary", prefix),
                         "version": _want_int(doc, table, version_key, prefix, required=True)}
    if "ja" not in texts:
        raise doc.error("text", "a [text.ja] table with the Japanese name is required")
    data = {"slug": path.stem, "sites": stops, "sort_order": _want_int(doc, doc.data, "sort_order") or 0,
            "texts": texts}
    return data, doc


def _tour_error(file: str, doc: _Doc, exc: DateCommunityError) -> ContentError:
    field = str(exc.params.get("field", "-"))
    problem = MESSAGES.get(exc.code, exc.code)
    if exc.code == "tour_unknown_site":
        problem = f"no site folder named '{exc.params.get('site')}'"
    if field == "slug":
        return ContentError(file, 0, "slug", f"{problem} (the file name is the slug)")
    if field.startswith("texts."):
        _, locale, *rest = field.split(".")
        key = rest[0] if rest else "name"
        if key == "version" and locale != "ja":
            key = "translates"
        return doc.error(f"text.{locale}.{key}", problem)
    return doc.error(field, problem)


# --- the whole folder -----------------------------------------------------------------------------

def _check_duplicates(site_files: list[_SiteFiles]) -> None:
    seen: dict[tuple[str, Any], str] = {}
    for files in site_files:
        pairs = [("code", sites_mod.normalize_code(files.data["code"]))]
        if files.data["marker_id"] is not None:
            pairs.append(("marker_id", files.data["marker_id"]))
        for key, value in pairs:
            if (key, value) in seen:
                raise files.toml.error(key, f"{value} is also used by {seen[(key, value)]}")
            seen[(key, value)] = files.toml.file


def read_dir(path: str | os.PathLike) -> tuple[list[_SiteFiles], list[tuple[dict[str, Any], _Doc]]]:
    """Parse and check every site and tour file without touching a database."""
    base = Path(path)
    if not base.is_dir():
        raise ContentError(str(path), 0, "-", "folder not found")
    site_dir, tour_dir = base / "sites", base / "tours"
    site_files = [_read_site(base, folder) for folder in sorted(site_dir.iterdir()) if folder.is_dir()] \
        if site_dir.is_dir() else []
    _check_duplicates(site_files)
    tour_files = [_read_tour(base, p) for p in sorted(tour_dir.glob("*.toml"))] if tour_dir.is_dir() else []
    return site_files, tour_files


def load_dir(db, path: str | os.PathLike, *, actor: str = "content") -> dict[str, int]:
    """Load ``sites/`` and ``tours/`` under ``path`` in one transaction.

    Returns {"sites": n, "tours": m}.  Raises ContentError(file, line, field,
    problem) naming the first problem found; the database is then unchanged.
    """
    site_files, tour_files = read_dir(path)
    with write_transaction(db):
        for files in site_files:
            try:
                sites_mod.save_site(db, files.data, actor=actor)
            except DateCommunityError as exc:
                if isinstance(exc, ContentError):
                    raise
                raise _site_error(files, exc) from exc
        for data, doc in tour_files:
            try:
                tours_mod.save_tour(db, data, actor=actor)
            except DateCommunityError as exc:
                raise _tour_error(doc.file, doc, exc) from exc
    return {"sites": len(site_files), "tours": len(tour_files)}
