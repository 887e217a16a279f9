"""Reading a CSV file of any size, one record at a time.

`open_csv(path)` works out the encoding and the delimiter, reads the header and returns a
`CsvSource`. Iterating over the source reopens the file and yields `(line, row)` pairs, where `line`
is the 1-based line of the file on which the record starts (the header is usually line 1) and `row`
maps each header to its cell. Memory stays flat whatever the file size: only one record is held.

What a file written by a spreadsheet, an export or a hand throws at us:
- encodings: UTF-8 with or without BOM, UTF-16 with BOM (Excel's "Unicode text"), otherwise
  Windows-1252, then Latin-1 (each fallback adds a warning);
- delimiters `,` `;` or tab, and Excel's `sep=;` first line;
- CR LF, LF or CR line ends, newlines inside quoted cells (they become LF in the values);
- headers with stray spaces or quotes, duplicate headers ("Email", "Email (2)"), columns without a
  header (dropped when empty, else named "Column 7");
- short rows (missing cells are empty), long rows (extra cells dropped, with a warning), blank rows
  (skipped), NUL bytes (removed), control characters and escape sequences (removed);
- rows (and a header) an exporter quoted whole, each one quoted field holding the row with its quotes
  doubled: read as their columns when the field parses into the header's number of cells (with a
  warning); a single value with commas (a note, "Smith, John") stays one value.
Every cell is stripped of surrounding whitespace; the `'` that an export puts before a cell a
spreadsheet would run as a formula (`'=1+2`) is taken off again. (Cells that only say `null`,
`None` or `[not provided]` are made empty by the importer: NULL_WORDS.)
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import itertools
import os
import re
from collections.abc import Iterable, Iterator

from .csvwrite import _FORMULA_START
from ..domain.values import clean_text

DELIMITERS = ",;\t"
_SAMPLE_CHARS = 64 * 1024
_SCAN_CHUNK = 1 << 18
_HEADERLESS_SCAN_ROWS = 1000  # rows read at open time to decide whether a header-less column is empty
_CP1252_UNDEFINED = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_SEP_LINE = re.compile(r"sep=(.)[ \t]*", re.I)

Row = dict[str, str]
# What a cell says when it holds nothing: database dumps, HubSpot exports re-saved by a spreadsheet,
# Excel (#N/A). The one list of them (any case): the importer reads them as empty where a value is
# expected, and in the text columns whose sample holds them.
NULL_WORDS = frozenset({"null", "(null)", "none", "#n/a", "n/a", "[not provided]", "(not provided)", "not provided"})


def is_null_word(cell: str) -> bool:
    return len(cell) <= 16 and cell.strip().casefold() in NULL_WORDS


class CsvError(ValueError):
    """The file cannot be read as CSV; the message names the line."""


class BrokenRow(dict):
    """A record that could not be read (an unclosed quote): no cells, and why, for the error file."""

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem


def detect_encoding(path: str | os.PathLike) -> tuple[str, str | None]:
    """The codec to read the file with, and a warning when it had to fall back from UTF-8.

    A file without BOM is checked as UTF-8 all the way through (streaming, 256 KB at a time): a single
    bad byte late in the file would otherwise break the import half way.
    """
    with open(path, "rb") as f:
        head = f.read(4096)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", None
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16", None
        if utf16 := _utf16_without_bom(head):
            return utf16, f"The file looks like UTF-16 without a byte order mark; it was read as {utf16}."
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: f.read(_SCAN_CHUNK), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8", None
        except UnicodeDecodeError:
            pass
        f.seek(0)
        if guess := _detected_code_page(f.read(_DETECT_BYTES)):
            return guess, (f"The file is not UTF-8; it was read as {guess} (detected from its text): "
                           "check that names read right.")
        f.seek(0)
        for chunk in iter(lambda: f.read(_SCAN_CHUNK), b""):
            if _CP1252_UNDEFINED.search(chunk):
                return "latin-1", ("The file is not UTF-8 and not Windows-1252; it was read as Latin-1 "
                                   "(ISO-8859-1): check accented letters.")
    return "cp1252", "The file is not UTF-8; it was read as Windows-1252: check accented letters."


_DETECT_BYTES = 1 << 20
# Code pages of non-Latin Windows (and their ISO/KOI8/Mac cousins, and the CJK ones) that a file
# may be written in; a Western file keeps the Windows-1252 / Latin-1 rule.
_NON_LATIN = {"cp1251", "koi8_r", "koi8_u", "iso8859_5", "mac_cyrillic", "cp1253", "iso8859_7", "cp1255",
              "iso8859_8", "cp1256", "iso8859_6", "cp874", "tis_620", "shift_jis", "cp932", "euc_jp",
              "gb2312", "gbk", "gb18030", "big5", "cp950", "euc_kr", "cp949", "iso2022_jp"}
_SCRIPTS = ("Cyrillic", "Greek", "Hebrew", "Arabic", "Thai", "CJK", "Hiragana", "Katakana", "Hangul")
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _detected_code_page(data: bytes) -> str | None:
    """A non-Latin code page (Cyrillic cp1251, Greek, Hebrew, Arabic, CJK...) that charset-normalizer
    finds in a file that is not UTF-8 (an Outlook export from a Russian Windows), or None."""
    if len(_HIGH_BYTE.findall(data[:1 << 16])) < 6:
        return None  # too few letters to tell; the Western rule reads them
    try:
        from charset_normalizer import from_bytes  # lazy: only for a file that is not UTF-8 (slow to import)
    except ImportError:  # without it such files read as Windows-1252, with a warning
        return None
    best = from_bytes(data).best()
    if best is None or best.encoding not in _NON_LATIN:
        return None
    if not any(script in alphabet for alphabet in best.alphabets for script in _SCRIPTS):
        return None
    return best.encoding


def _utf16_without_bom(head: bytes) -> str | None:
    """ASCII text in UTF-16 has a NUL in every other byte."""
    if len(head) < 4 or head.count(0) < len(head) // 3:
        return None
    odd_nuls = head[1::2].count(0)
    even_nuls = head[0::2].count(0)
    if odd_nuls > 2 * even_nuls:
        return "utf-16-le"
    if even_nuls > 2 * odd_nuls:
        return "utf-16-be"
    return None


def detect_delimiter(sample: str) -> str:
    """`,` `;` or tab: csv.Sniffer's guess when the header agrees, else the candidate that splits
    the header into most columns, else `,`."""
    header_columns = {d: _first_record_width(sample, d) for d in DELIMITERS}
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    if sniffed in header_columns and header_columns[sniffed] > 1:
        return sniffed
    best = max(DELIMITERS, key=lambda d: header_columns[d])  # ties go to the earlier candidate
    return best if header_columns[best] > 1 else ","


def _first_record_width(sample: str, delimiter: str) -> int:
    for record in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
        if any(cell.strip() for cell in record):
            return len(record)
    return 0


class CsvSource:
    """An opened CSV file: its encoding, delimiter, headers and warnings; iterate for the rows."""

    def __init__(self, path: str | os.PathLike, encoding: str, delimiter: str,
                 warnings: list[str], skip_sep_line: bool) -> None:
        self.path = os.fspath(path)
        self.encoding = encoding
        self.delimiter = delimiter
        self.warnings = warnings
        self.size_bytes = os.path.getsize(self.path)
        self._skip_sep_line = skip_sep_line
        self.header_line = 0
        self.headers: list[str] = []
        self._columns: list[int] = []  # index in the record of each header
        self._watched: list[int] = []  # header-less columns dropped as empty, watched for a late value
        self._width = 0
        self.broken: dict[int, str] = {}  # line -> why the record starting there was not read
        self._read_header()

    def __repr__(self) -> str:
        return (f"CsvSource({self.path!r}, encoding={self.encoding!r}, delimiter={self.delimiter!r}, "
                f"headers={self.headers!r})")

    def __iter__(self) -> Iterator[tuple[int, Row]]:
        """(line, row) for each non-blank record after the header."""
        return self._rows(nul_filter=self._holds_nul)

    def lists(self) -> Iterator[tuple[int, list[str] | BrokenRow]]:
        """As iterating, with each row a list of its cells in `headers` order instead of a dict
        (a wide file's rows are read a column at a time: no dict of 300 cells per row); a record
        that could not be read is still a BrokenRow."""
        return self._rows(nul_filter=self._holds_nul, as_lists=True)

    @functools.cached_property
    def _holds_nul(self) -> bool:
        """Whether the file has NUL bytes, which the csv module refuses (a scan of the file, made
        once, before the first whole read: without NULs no Python step runs per line)."""
        with open(self.path, "rb") as f:
            while chunk := f.read(1 << 16):
                if b"\x00" in chunk:
                    return True
        return False

    def _rows(self, nul_filter: bool, as_lists: bool = False) -> Iterator[tuple[int, Row]]:
        headers, columns = self.headers, self._columns
        width, watched = self._width, self._watched
        every_column = columns == list(range(width))
        long_rows, first_long_row, whole_rows = 0, 0, 0
        delimiter = self.delimiter
        with self._open() as f:
            records = self._records(f, nul_filter)
            if self.header_line:  # the header, and a preamble above it (LinkedIn's notes)
                for line, _cells in records:
                    if line >= self.header_line:
                        break
            for line, cells in records:
                if cells is None:  # a runaway quote: reported, reading goes on on the next line
                    yield line, BrokenRow(self.broken[line])
                    continue
                if width > 1 and delimiter in cells[0] and not "".join(cells[1:]).strip():
                    inner = _quoted_whole(cells[0], width, delimiter)
                    if inner is not None:  # "a,b,,""c, d"",e": a row written as one quoted field
                        cells, whole_rows = inner, whole_rows + 1
                if len(cells) < width:
                    cells.extend([""] * (width - len(cells)))
                elif len(cells) > width:
                    if any(cell.strip() for cell in cells[width:]):
                        long_rows += 1
                        first_long_row = first_long_row or line
                if watched:
                    self._check_dropped(line, cells)
                joined = "".join(cells)
                if not joined.isprintable():  # tabs, newlines or control characters somewhere
                    cells = [clean_text(cell) for cell in cells]
                if "'" in joined and ("'=" in joined or "'+" in joined or "'-" in joined or "'@" in joined):
                    # '=1+2: a formula neutralised by an export (csvwrite) reads back as written
                    cells = [cell[1:] if cell[:1] == "'" and cell[1:2] in _FORMULA_START else cell for cell in cells]
                if every_column:  # no column dropped: one C loop
                    cells = list(map(str.strip, cells if len(cells) == width else cells[:width]))
                else:
                    cells = [cells[i].strip() for i in columns]
                yield line, (cells if as_lists else dict(zip(headers, cells)))
        if whole_rows:
            self._warn(f"{whole_rows} row{'s were' if whole_rows > 1 else ' was'} quoted whole "
                       f"(each row one quoted field); read as {'their' if whole_rows > 1 else 'its'} columns.")
        if long_rows:
            self._warn(f"{long_rows} row(s) have more cells than there are headers (first on line "
                       f"{first_long_row}); the extra cells were ignored.")

    def sample(self, n: int = 20) -> list[tuple[int, Row]]:
        """The first n rows, for a preview (filtered for NULs line by line: no scan of the file)."""
        rows = self._rows(nul_filter=True)
        try:
            return list(itertools.islice(rows, n))
        finally:
            rows.close()

    # -- reading

    def _open(self) -> io.TextIOWrapper:
        # newline="" lets the csv module see CR, LF and CR LF itself (and keep them inside quotes).
        return open(self.path, encoding=self.encoding, errors="replace", newline="")

    def _records(self, f: Iterable[str], nul_filter: bool = True) -> Iterator[tuple[int, list[str]]]:
        """(first line, cells) of each non-blank record, the header included; (line, None) for a
        record whose quote runs away (see _swallowed): reading starts again on the next line."""
        lines = _without_nul(f) if nul_filter else f
        reader = csv.reader(lines, delimiter=self.delimiter, skipinitialspace=True)
        if self._skip_sep_line:
            next(reader, None)
        last_line = offset = reader.line_num
        offset = 0  # lines read before the current reader started
        reopened = []
        try:
            while True:
                for record in reader:
                    line, last_line = last_line + 1, reader.line_num + offset
                    if last_line > line and line > 1 and _swallowed(record, self._width, self.delimiter):
                        self.broken[line] = (f"a quote opened on line {line} is not closed where its row ends: it swallows "
                                             f"line{'s' if last_line > line + 1 else ''} {line + 1}"
                                             + (f"-{last_line}" if last_line > line + 1 else "")
                                             + "; this row is not imported, the following lines are read again")
                        yield line, None
                        again = self._open()
                        reopened.append(again)
                        tail = itertools.islice(again, line, None)
                        reader = csv.reader(_without_nul(tail) if nul_filter else tail,
                                            delimiter=self.delimiter, skipinitialspace=True)
                        offset, last_line = line, line
                        break
                    if "".join(record).strip():  # not a blank record
                        yield line, record
                else:
                    return
        except csv.Error as exc:
            raise CsvError(f"line {reader.line_num + offset}: {exc} (is a quote left open?)") from None
        finally:
            for handle in reopened:
                handle.close()

    def _read_header(self) -> None:
        with self._open() as f:
            records = self._records(f)
            first = next(records, None)
            if first is None:
                self._warn("The file has no header row.")
                return
            self.header_line, raw = first
            if len(raw) == 1:  # a preamble (LinkedIn's "Notes:" lines) above the real header?
                ahead = list(itertools.islice(records, _PREAMBLE_ROWS))
                records = itertools.chain(ahead, records)
                inner = _one_record(raw[0], self.delimiter) if self.delimiter in raw[0] else None
                if inner and len(inner) > 1 and (
                        _headerless_layout(inner) or _whole_header(inner, ahead, self.delimiter)):
                    raw = inner  # the header (or a header-less file's first row) was quoted whole
                elif (wide := next((i for i, (_line, cells) in enumerate(ahead) if len(cells) > 1
                                    and all(cell.strip() for cell in cells)), None)) is not None and all(
                        len(cells) == 1 for _line, cells in ahead[:wide]):
                    self.header_line, raw = ahead[wide]
                    self._warn(f"The header is on line {self.header_line}; the lines above it were skipped.")
            if known := _headerless_layout(raw):
                name, names = known
                self._warn(f"The file has no header row; its columns were read as {name}: {', '.join(names)}.")
                self.header_line -= 1  # the first record is a row
                self._width = len(names)
                self._watched = []
                self._columns = list(range(len(names)))
                self.headers = list(names)
                return
            names = [_tidy_header(cell) for cell in raw]
            if "" in names:
                filled = _filled_columns(records, len(names))
                names = [name or (f"Column {i + 1}" if i in filled else "") for i, name in enumerate(names)]
        self._width = len(names)
        self._watched = [i for i, name in enumerate(names) if not name]
        self._columns = [i for i, name in enumerate(names) if name]
        self.headers = self._unique([names[i] for i in self._columns])

    def _unique(self, names: list[str]) -> list[str]:
        seen: set[str] = set()
        unique = []
        for name in names:
            candidate, n = name, 2
            while candidate.casefold() in seen:
                candidate, n = f"{name} ({n})", n + 1
            if candidate != name:
                self._warn(f"Several columns are named {name!r}; this one is called {candidate!r}.")
            seen.add(candidate.casefold())
            unique.append(candidate)
        return unique

    def _check_dropped(self, line: int, cells: list[str]) -> None:
        for i in list(self._watched):
            if cells[i].strip():
                self._warn(f"Column {i + 1} has no header and was ignored, "
                           f"but line {line} has a value in it.")
                self._watched.remove(i)  # one warning per column is enough

    def _warn(self, message: str) -> None:
        if message not in self.warnings:  # iterating twice must not repeat warnings
            self.warnings.append(message)


_PREAMBLE_ROWS = 10  # one-cell lines above a header that are skipped as a preamble
_MONTH_YEAR = re.compile(r"\d{1,2} [A-Z][a-z]{2} \d{4}")  # 11 Jun 2021
LINKEDIN_OLD = ["First Name", "Last Name", "Email Address", "Company", "Position", "Connected On"]
LINKEDIN = ["First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On"]


def _headerless_layout(cells: list[str]) -> tuple[str, list[str]] | None:
    """A known export written without its header row: LinkedIn's Connections.csv (older exports
    start with the first connection): six or seven cells, the last a date like '11 Jun 2021'."""
    if len(cells) in (6, 7) and _MONTH_YEAR.fullmatch(cells[-1].strip()):
        email = cells[2 if len(cells) == 6 else 3].strip()
        if not email or "@" in email:
            return "LinkedIn's Connections.csv", LINKEDIN_OLD if len(cells) == 6 else LINKEDIN
    return None


def _one_record(cell: str, delimiter: str) -> list[str] | None:
    """The cells of `cell` read as one CSV record, or None when it is not one well-formed record."""
    try:
        records = list(csv.reader(io.StringIO(cell, newline=""), delimiter=delimiter, skipinitialspace=True,
                                  strict=True))
    except csv.Error:
        return None
    return records[0] if len(records) == 1 else None


def _whole_header(inner: list[str], ahead: list[tuple[int, list[str]]], delimiter: str) -> bool:
    """Whether a one-cell first record is a header quoted whole: its cells are all named and the
    records below it (some, all of them) have its number of cells, as they are or quoted whole."""
    width = len(inner)
    return bool(ahead) and all(cell.strip() for cell in inner) and all(
        len(cells) == width or (len(cells) == 1 and _quoted_whole(cells[0], width, delimiter) is not None)
        for _line, cells in ahead)


def _quoted_whole(cell: str, width: int, delimiter: str) -> list[str] | None:
    """The cells of a row that its writer quoted whole (the row is one field holding the comma-separated
    row, its quotes doubled), when the field reads as one record of exactly `width` cells (more only
    when the extra ones are empty); else None: a single value that holds delimiters (a note, an
    address, "Smith, John": every delimiter followed by a space, as prose writes it) stays one value."""
    inner = _one_record(cell, delimiter)
    if inner is None or len(inner) < width or (len(inner) > width and "".join(inner[width:]).strip()):
        return None
    if delimiter != " ":
        after = [part for part in cell.split(delimiter)[1:] if part]
        if after and all(part[0].isspace() for part in after):
            return None
    return inner[:width]


def _swallowed(record: list[str], width: int, delimiter: str) -> bool:
    """A record spread over several lines whose quoted cell holds whole rows: lines with as many
    delimiters as a row has (a quote opened and never closed, or closed far below). A note written
    over several lines rarely holds a line with that many delimiters; a two-column file needs two
    such lines."""
    need = max((width or len(record)) - 1, 1)
    found = 0
    for cell in record:
        if "\n" not in cell:
            continue
        for text in cell.split("\n")[1:]:
            if text.count(delimiter) >= need:
                found += 1
                if need >= 2 or found >= 2:
                    return True
    return False


def _without_nul(lines: Iterable[str]) -> Iterator[str]:
    # The csv module of Python 3.11 refuses NUL characters.
    for line in lines:
        yield line.replace("\x00", "") if "\x00" in line else line


def _tidy_header(cell: str) -> str:
    """Strip spaces, control characters and quotes left around a header by a sloppy writer."""
    name = " ".join(clean_text(cell).split())
    while len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1].strip()
    return name


def _filled_columns(records: Iterator[tuple[int, list[str]]], width: int) -> set[int]:
    filled: set[int] = set()
    for _line, cells in itertools.islice(records, _HEADERLESS_SCAN_ROWS):
        filled.update(i for i, cell in enumerate(cells[:width]) if cell.strip())
    return filled


def open_csv(path: str | os.PathLike, encoding: str | None = None, delimiter: str | None = None) -> CsvSource:
    """Open a CSV file for streaming; encoding and delimiter are detected unless given."""
    warnings: list[str] = []
    if encoding is None:
        encoding, warning = detect_encoding(path)
        if warning:
            warnings.append(warning)
    else:
        encoding = _with_bom_skipped(path, encoding)
    if delimiter is not None and len(delimiter) != 1:
        raise ValueError(f"a delimiter is one character, not {delimiter!r}")
    sample = _read_sample(path, encoding)
    first_line = sample.split("\n", 1)[0].split("\r", 1)[0]
    sep_line = _SEP_LINE.fullmatch(first_line)
    if sep_line:
        delimiter = delimiter or sep_line[1]
        sample = sample[len(first_line):].lstrip("\r\n")
    if delimiter is None:
        delimiter = detect_delimiter(sample)
    return CsvSource(path, encoding, delimiter, warnings, skip_sep_line=bool(sep_line))


def _with_bom_skipped(path: str | os.PathLike, encoding: str) -> str:
    """A chosen UTF-8 still skips a BOM, which would otherwise stick to the first header."""
    if codecs.lookup(encoding).name == "utf-8":
        with open(path, "rb") as f:
            if f.read(3) == codecs.BOM_UTF8:
                return "utf-8-sig"
    return encoding


def _read_sample(path: str | os.PathLike, encoding: str) -> str:
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        sample = f.read(_SAMPLE_CHARS)
        if len(sample) == _SAMPLE_CHARS:  # cut the partial last line
            cut = max(sample.rfind("\n"), sample.rfind("\r"))
            if cut > 0:
                sample = sample[:cut]
    return sample.replace("\x00", "")
