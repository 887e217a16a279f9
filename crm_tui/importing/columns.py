"""Checking the cells of an import a column at a time (no Textual, no database).

A 300-column export checked row by row pays a Python call for every cell. Here a chunk of rows is
turned into columns (one `zip`, in C) and each column is checked in one go, as far as its type
allows:

- text: a column whose cells are all printable keeps them as they are (the per-cell check strips
  them and leaves printable text alone; csvread has stripped them already);
- number: a column of plain ASCII digits (under 16 of them) becomes floats;
- date, date and time: the column's cells are looked up in what it already converted (a column's
  dates repeat: one value per day);
- anything else, and every cell those shortcuts do not cover, goes through the column's own
  converter, cell by cell: the same value and the same refusal as checking the row.

    check = column_check(prop_type, convert)
    values, refused, gaps = check(cells)

`values[i]` is what `convert(cells[i])` gives for a filled cell, and None or "" (the cell itself)
for an empty one: a chunk's values, zipped back into rows, are the rows' values in column order
(the importer's RowValues, whose empty cells go into the table as they are); `refused` lists the
indexes of cells the converter refused (their value is anything: such a row is checked again row
by row); `gaps` says that some filled cell converted to None (a null word such as 'N/A').
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..domain.errors import CrmError

MEMO = 4096  # converted cells remembered per date column


def column_check(kind: str, convert: Callable[[str], object]) -> Callable[[Sequence[str]], tuple]:
    """A function (cells of one column, stripped, "" for empty) -> (values, refused, gaps) giving what
    `convert` gives cell by cell; `kind` is the type of the property `convert` checks."""

    def each(cells: Sequence[str], values: list | None = None, at: Sequence[int] | None = None) -> tuple:
        if values is None:
            values = list(cells)
        refused, gaps = [], False
        for i in (range(len(cells)) if at is None else at):
            cell = cells[i]
            if not cell:
                continue
            try:
                value = values[i] = convert(cell)
            except CrmError:
                refused.append(i)
                continue
            if value is None:
                gaps = True
        return values, refused, gaps

    if kind == "text":
        def text(cells: Sequence[str]) -> tuple:
            if "".join(cells).isprintable():
                return cells, (), False
            return each(cells)
        return text

    if kind == "number":
        def number(cells: Sequence[str]) -> tuple:
            joined = "".join(cells)
            if not joined:
                return cells, (), False
            if joined.isdigit() and joined.isascii() and max(map(len, cells)) < 16:
                if "" in cells:
                    return [float(cell) if cell else "" for cell in cells], (), False
                return list(map(float, cells)), (), False
            return each(cells)
        return number

    if kind in ("date", "datetime"):
        memo: dict = {"": ""}
        nulls: set = set()  # cells remembered as None (null words)
        recall = memo.__getitem__

        def remembered(cells: Sequence[str]) -> tuple:
            try:  # the common case: every cell seen before
                return list(map(recall, cells)), (), bool(nulls) and any(map(nulls.__contains__, cells))
            except KeyError:
                pass
            values = list(cells)
            missing = [i for i, cell in enumerate(cells) if cell not in memo]
            for i, cell in enumerate(cells):
                if cell in memo:
                    values[i] = memo[cell]
            gaps = bool(nulls) and any(map(nulls.__contains__, cells))
            values, refused, new_gaps = each(cells, values, missing)
            if len(memo) < MEMO:
                bad = set(refused)
                for i in missing:
                    if i not in bad:
                        memo[cells[i]] = values[i]
                        if values[i] is None:
                            nulls.add(cells[i])
            return values, refused, gaps or new_gaps
        return remembered

    return each
