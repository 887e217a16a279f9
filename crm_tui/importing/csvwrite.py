"""Writing CSV that a spreadsheet opens safely.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and tab or CR can hide
one), so a contact named `=HYPERLINK(...)` or `@SUM(1+9)*cmd|' /C calc'!A0` would execute on the
reader's machine. Such cells get a leading `'`, which spreadsheets read as "this is text". A plain
negative number (`-12.5`) in a number column may stay as it is: pass numeric_ok for those columns.

Files are written streaming, as UTF-8 with a BOM (so that Excel recognises the encoding) and CR LF
line ends (RFC 4180), into a temporary file renamed into place at the end: an interrupted export
never leaves half a file under the chosen name.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, TextIO
from ..storage import safe_files

# Full-width ＝ ＋ － ＠ too: some spreadsheet locales read them as their ASCII twins.
_FORMULA_START = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_PLAIN_NEGATIVE_NUMBER = re.compile(r"-\d+(?:\.\d+)?")


def cell_text(value: Any) -> str:
    """The text of a cell: None is empty, booleans are true/false, numbers are written plainly."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def neutralise(value: Any, numeric_ok: bool = False) -> str:
    """The cell as text, with a leading `'` if a spreadsheet could take it for a formula.

    numeric_ok: a plain negative number ("-12.5") is left alone (use it for number columns).
    """
    text = cell_text(value)
    if text and text[0] in _FORMULA_START:
        if numeric_ok and _PLAIN_NEGATIVE_NUMBER.fullmatch(text):
            return text
        return "'" + text
    return text


class SafeCsvWriter:
    """Writes the header at once, then rows (sequences in header order, or mappings by header)."""

    def __init__(self, stream: TextIO, headers: Sequence[str], numeric_columns: Collection[str] = (),
                 delimiter: str = ",") -> None:
        self.headers = list(headers)
        self._numeric = [header in numeric_columns for header in self.headers]
        self._writer = csv.writer(stream, delimiter=delimiter, lineterminator="\r\n")
        self._writer.writerow([neutralise(header) for header in self.headers])
        self.rows_written = 0

    def writerow(self, row: Sequence[Any] | Mapping[str, Any]) -> None:
        if isinstance(row, Mapping):
            row = [row.get(header) for header in self.headers]
        cells = [neutralise(value, numeric_ok) for value, numeric_ok in zip(row, self._numeric)]
        self._writer.writerow(cells)
        self.rows_written += 1

    def writerows(self, rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> int:
        for row in rows:
            self.writerow(row)
        return self.rows_written


def write_csv(path: str | os.PathLike, headers: Sequence[str],
              rows: Iterable[Sequence[Any] | Mapping[str, Any]], numeric_columns: Collection[str] = (),
              delimiter: str = ",", bom: bool = True, *, overwrite: bool = False, protect=()) -> int:
    """Write a whole CSV file from an iterable of rows (consumed lazily); returns the row count.
    The file is written through safe_files: private, never over an existing file unless
    `overwrite`, never over a database in `protect`."""
    with safe_files.writing(path, protect=protect, overwrite=overwrite, encoding="utf-8-sig" if bom else "utf-8",
                            newline="") as out:
        count = SafeCsvWriter(out.stream, headers, numeric_columns, delimiter).writerows(rows)
    return count
