"""Reading open-data CSV files as they arrive from spreadsheets and other towns.

Published files come in UTF-8 with or without a byte-order mark, in
Shift_JIS/cp932 (what Excel on Japanese Windows writes), and now and then in
UTF-16.  Headers drift too: the template's full-width brackets (料金（基本）)
often become half-width ones, and stray spaces creep in.  Everything here is
about turning such a file into rows keyed by the standard's column names, and
about naming the exact row and column when something is wrong.
"""
from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from .. import csvout
from ..errors import ValidationError

# Problem codes carried in OpenDataError.params["problem"], with the English
# fallback sentence for logs and the command line.
PROBLEMS: dict[str, str] = {
    "encoding": "the file is not UTF-8, UTF-16 or Shift_JIS text",
    "empty_file": "the file has no header row",
    "missing_column": "this column is missing from the header row",
    "duplicate_column": "this column appears twice in the header row",
    "unknown_column": "this column is not part of the format",
    "wrong_column_count": "the row has a different number of cells from the header row",
    "malformed_row": "the quotes in this row are not closed or not doubled",
    "bad_latitude": "the latitude must be a number between -90 and 90",
    "bad_longitude": "the longitude must be a number between -180 and 180",
    "half_coordinate": "give both latitude and longitude, or neither",
    "bad_weekdays": "write the days with 月火水木金土日 (and 祝 for public holidays)",
    "bad_time": "write the time as HH:MM, e.g. 09:00",
    "bad_fee": "write 無料 or 有料",
    "missing_name": "the name is missing",
    "missing_slug": "the slug is missing",
    "unknown_site": "no site has this slug",
    "code_mismatch": "the code does not belong to the site with this slug",
    "duplicate_site": "the same site appears in two rows",
    "invalid_site": "the site data is not valid",
}


class OpenDataError(ValidationError):
    """A problem in an imported file, at a spreadsheet position.

    ``row`` counts as a spreadsheet does: the header is row 1, the first data
    row is row 2.  ``column`` is the standard's column name (or ``#n`` for a
    cell beyond the header).  ``problem`` is a key of :data:`PROBLEMS`.
    """

    def __init__(self, problem: str, *, row: int | None, column: str = "", **params: Any):
        where = f"row {row}" if row else "file"
        if column:
            where += f", column {column}"
        text = f"Open-data file, {where}: {PROBLEMS.get(problem, problem)}."
        super().__init__("opendata_invalid", text, row=row, column=column, problem=problem, **params)


def decode(data: bytes) -> str:
    """The file's text: BOM first, then strict UTF-8, then cp932.

    cp932 is Microsoft's superset of Shift_JIS (it adds NEC and IBM
    characters such as ①, ㈱ and 髙), so it also reads plain Shift_JIS.  Strict
    UTF-8 goes first because cp932 would happily misread most UTF-8 files.
    """
    if data.startswith(codecs.BOM_UTF8):
        encodings = ("utf-8-sig",)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8", "cp932")
    failures = []
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            failures.append(exc.start)
    # Neither fits.  The encoding that read further is most likely the file's
    # real one, so its first bad byte is the place to point at.
    position = max(failures)
    raise OpenDataError("encoding", row=data.count(b"\n", 0, position) + 1)


def header_key(name: str) -> str:
    """The form two header spellings are compared in.

    NFKC folds full-width brackets, underscores, digits and letters to their
    half-width forms; removing every kind of space (U+3000 included) makes
    ``料金（基本）``, ``料金(基本)`` and `` 料金 ( 基本 ) `` the same key.
    """
    text = unicodedata.normalize("NFKC", name.replace("\ufeff", ""))
    return "".join(text.split()).casefold()


def read_table(data: bytes, columns: Sequence[str], *, allow_unknown: bool) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file as ``(spreadsheet row number, {column: cell})``.

    Every column in ``columns`` must be in the header (in any order);
    ``allow_unknown`` decides whether extra columns are ignored or refused.
    Rows whose cells are all empty are skipped: spreadsheets leave them at the
    end.  Cells are returned exactly as written, so texts survive unchanged,
    except the apostrophe :mod:`csvout` puts before a formula-like text.
    """
    text = decode(data)
    # newline="": quoted cells keep their own line breaks (\n or \r\n) as written.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise OpenDataError("empty_file", row=1) from None
    except csv.Error as exc:
        raise OpenDataError("malformed_row", row=1) from exc
    wanted = {header_key(c): c for c in columns}
    positions: dict[str, int] = {}
    for index, raw in enumerate(header):
        key = header_key(raw)
        if key in wanted:
            name = wanted[key]
            if name in positions:
                raise OpenDataError("duplicate_column", row=1, column=name)
            positions[name] = index
        elif not allow_unknown and key:
            raise OpenDataError("unknown_column", row=1, column=raw.strip())
    for name in columns:
        if name not in positions:
            raise OpenDataError("missing_column", row=1, column=name)
    width = len(header)
    out: list[tuple[int, dict[str, str]]] = []
    row_number = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise OpenDataError("malformed_row", row=row_number + 1) from exc
        row_number += 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != width:
            column = (_header_name(header, len(cells), columns) if len(cells) < width else f"#{width + 1}")
            raise OpenDataError("wrong_column_count", row=row_number, column=column,
                                expected=width, found=len(cells))
        # restore(): a file this project wrote has an apostrophe before a
        # formula-like text (csvout); the value itself does not.
        out.append((row_number, {name: csvout.restore(cells[pos]) for name, pos in positions.items()}))
    return out


def _header_name(header: Sequence[str], index: int, columns: Iterable[str]) -> str:
    """The standard name of the header cell at ``index`` (the first missing cell)."""
    key = header_key(header[index])
    for name in columns:
        if header_key(name) == key:
            return name
    return header[index].strip() or f"#{index + 1}"


def write_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV file in UTF-8 with a BOM and CRLF line ends, as the standard's samples are.

    The BOM is what makes Excel open UTF-8 as UTF-8 instead of cp932.  Every
    cell that needs it is quoted; a line break inside a cell stays as written.
    Written by :mod:`csvout`, so a text that starts like a formula gets a
    leading apostrophe; :func:`read_table` takes it off again.
    """
    return csvout.to_bytes(columns, rows)


def record_count(data: bytes) -> int:
    """Data rows in a CSV file (records, not lines: a cell may hold line breaks)."""
    return max(0, sum(1 for _ in csv.reader(io.StringIO(decode(data), newline=""))) - 1)
