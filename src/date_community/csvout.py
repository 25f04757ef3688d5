"""The one CSV writer: every CSV the web app or the CLI hands out is made here.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula, and some also after a leading tab or carriage return ("CSV
injection": ``=HYPERLINK("http://x", "click")`` typed into the public sign-up
form would become a live link in the office's Excel).  Following OWASP, such
a text cell gets a leading apostrophe, which spreadsheets show as text.  The
full-width forms (＝ ＋ － ＠), which Japanese input methods produce, are
treated the same, to be safe.

Only text is neutralised.  Numbers the program itself puts in a cell (ints
and floats: ids, counts, seats) are written as they are, so ``-3`` stays a
number; a *string* ``"-3"`` is text and gets the apostrophe like any other.
Phone numbers are text that starts with 0, so they never need it.

Every file is UTF-8 with a byte-order mark (Excel on Japanese Windows reads
UTF-8 without one as Shift_JIS) and CRLF line ends.  :func:`restore` undoes
the apostrophe for the open-data importers that read files this module wrote.
"""
from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from decimal import Decimal
from typing import Any, Iterable, Sequence

DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
BOM = "\ufeff"


def is_dangerous(text: str) -> bool:
    """Whether a spreadsheet could take this text for a formula."""
    if not text:
        return False
    first = text[0]
    return first in DANGEROUS_STARTS or unicodedata.normalize("NFKC", first) in DANGEROUS_STARTS


def _needs_quote(text: str) -> bool:
    # A text that already starts with apostrophes before a formula gets one
    # more, so that restore() gives back exactly what was written.
    return is_dangerous(text.lstrip(QUOTE))


def cell(value: Any) -> Any:
    """One cell as written: None → empty, text neutralised, numbers unchanged."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, Decimal)):
        return value
    text = str(value)
    return QUOTE + text if _needs_quote(text) else text


def restore(text: str) -> str:
    """The cell as it was before :func:`cell` neutralised it.

    One apostrophe before a formula-like text is removed, which is exactly
    what :func:`cell` adds; any other apostrophe is the data's own.
    """
    if text.startswith(QUOTE) and _needs_quote(text[1:]):
        return text[1:]
    return text


class Table:
    """Rows written one by one; :meth:`text` or :meth:`data` gives the file."""

    def __init__(self, headers: Sequence[Any] | None = None):
        self._buffer = io.StringIO(newline="")
        self._writer = csv.writer(self._buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        if headers is not None:
            self.row(headers)

    def row(self, cells: Iterable[Any] = ()) -> None:
        self._writer.writerow([cell(v) for v in cells])

    def rows(self, rows: Iterable[Iterable[Any]]) -> None:
        for r in rows:
            self.row(r)

    def text(self) -> str:
        return BOM + self._buffer.getvalue()

    def data(self) -> bytes:
        return codecs.BOM_UTF8 + self._buffer.getvalue().encode("utf-8")


def to_text(headers: Sequence[Any], rows: Iterable[Iterable[Any]]) -> str:
    table = Table(headers)
    table.rows(rows)
    return table.text()


def to_bytes(headers: Sequence[Any], rows: Iterable[Iterable[Any]]) -> bytes:
    table = Table(headers)
    table.rows(rows)
    return table.data()
