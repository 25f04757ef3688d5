"""Our extension file: every site text in all five languages, keyed by slug.

The standard's 観光施設一覧 has English columns only, so Chinese
(simplified and traditional) and Korean need a file of their own.  It carries
Japanese and English too, so that one spreadsheet is enough for a translator.

The file is designed for a lossless round trip: export, import and export
again gives the same bytes.  Cells are written exactly as stored (line
breaks, commas, quotes and emoji included; the CSV quoting protects them) and
read back exactly as written, apart from the surrounding spaces the library
trims on every save.

Import rules:

* ``slug`` names the site, which must exist (create sites from content files
  or the 観光施設一覧 import); ``code``, when given, must be that site's code.
* A language whose cells are all empty is left as it is: the file never
  deletes a translation.  A language with any cell filled must have its name.
* Only languages whose cells differ from the stored text are written, through
  ``tourism.sites.update_site_text``: a changed Japanese text raises its
  version (its translations become stale), and a changed translation is taken
  as reviewed against the current Japanese.  Re-importing an unchanged file
  therefore changes nothing at all.
* Japanese is applied before the other languages of the same row, so a row
  that updates both leaves the translations current.
* The whole file is one write transaction.
"""
from __future__ import annotations

from typing import Any

from .. import audit
from ..db import write_transaction
from ..errors import ValidationError
from ..tourism import sites as sitesmod
from . import columns, readers, sitedata
from .readers import OpenDataError

# The file's field names and the stored columns they hold.
_STORED = {"name": "name", "kana": "kana", "summary": "summary", "body": "body_md", "hours": "hours",
           "closed": "closed", "fee": "fee", "access": "access", "parking": "parking",
           "barrier_free": "barrier_free"}


def _locale_columns(locale: str) -> list[tuple[str, str]]:
    """[(column, stored field)] for one language, in file order."""
    return [(column, _STORED[column[: -len(locale) - 1]]) for column in columns.I18N_COLUMNS
            if column.endswith("_" + locale) and column[: -len(locale) - 1] in _STORED]


def export_tourism_i18n_csv(db) -> bytes:
    """slug, code, then name … barrier_free for ja, en, zh_Hans, zh_Hant, ko; UTF-8 with BOM, CRLF."""
    rows = []
    for site in sitedata.published_sites(db):
        values = {"slug": site["slug"], "code": site["code"]}
        for locale in columns.I18N_LOCALES:
            text = site["texts"].get(locale, {})
            for column, stored in _locale_columns(locale):
                values[column] = text.get(stored, "")
        rows.append([values[name] for name in columns.I18N_COLUMNS])
    return readers.write_table(columns.I18N_COLUMNS, rows)


def import_tourism_i18n_csv(db, data: bytes, *, actor: str) -> dict[str, Any]:
    """Update site texts from the extension file; all rows or none.

    Returns {"rows", "updated": {slug: [locales]}, "unchanged"}.  Raises
    :class:`OpenDataError` (``opendata_invalid``) naming the row and column.
    """
    table = readers.read_table(data, columns.I18N_COLUMNS, allow_unknown=False)
    updated: dict[str, list[str]] = {}
    unchanged = 0
    with write_transaction(db):
        sites = {s["slug"]: s for s in sitedata.published_sites(db, include_unpublished=True)}
        seen: dict[str, int] = {}
        for row, cells in table:
            slug = cells["slug"].strip()
            if not slug:
                raise OpenDataError("missing_slug", row=row, column="slug")
            site = sites.get(slug)
            if site is None:
                raise OpenDataError("unknown_site", row=row, column="slug")
            if slug in seen:
                raise OpenDataError("duplicate_site", row=row, column="slug", first_row=seen[slug])
            seen[slug] = row
            code = cells["code"].strip()
            if code and sitesmod.normalize_code(code) != site["code"]:
                raise OpenDataError("code_mismatch", row=row, column="code")
            changed_locales = []
            for locale in columns.I18N_LOCALES:
                pairs = _locale_columns(locale)
                if not any(cells[column].strip() for column, _ in pairs):
                    continue
                if not cells[f"name_{locale}"].strip():
                    raise OpenDataError("missing_name", row=row, column=f"name_{locale}")
                stored = site["texts"].get(locale, {})
                # The library trims every text it saves; compare in that form.
                changes = {field: cells[column].strip() for column, field in pairs
                           if cells[column].strip() != (stored.get(field) or "")}
                if not changes:
                    continue
                try:
                    sitesmod.update_site_text(db, slug, locale, changes, actor=actor)
                except ValidationError as exc:
                    field = str(exc.params.get("field", "")).split(".")[-1]
                    column = next((c for c, f in pairs if f == field), f"name_{locale}")
                    raise OpenDataError("invalid_site", row=row, column=column, reason=exc.code) from exc
                changed_locales.append(locale)
            if changed_locales:
                updated[slug] = changed_locales
            else:
                unchanged += 1
        audit.record(db, actor, "import", "opendata", None, dataset="tourism_i18n", rows=len(table),
                     updated=len(updated))
    return {"rows": len(table), "updated": updated, "unchanged": unchanged}
