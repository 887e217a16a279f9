"""What the values of a column say about it (no Textual, no database): the type a new custom
property should have, and whether its dates are written day first.

    infer_type(["12", "7.5", ""])            -> "number"
    dates_day_first(["16/01/2024", "3/2/24"]) -> True

Read from a sample of the file (the first rows), so a plan costs the same for any file size.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from ..domain import values
from ..storage.engine import RESERVED_NAMES

SAMPLE_ROWS = 2000  # rows read when a file is planned
_SLASHED = re.compile(r"\s*(\d{1,2})[-/.](\d{1,2})[-/.]\d{2,4}(?:\b.*)?")
_LEADING_ZERO = re.compile(r"0\d")
_PHONE_LIKE = re.compile(r"[+(]?\d[\d ().-]{5,}\d")
_NAME_JUNK = re.compile(r"[^a-z0-9]+")
_TRUE_FALSE = {"true", "false", "yes", "no"}


def _all(parse, items: list[str]) -> bool:
    try:
        for item in items:
            parse(item)
    except (ValueError, OverflowError):
        return False
    return True


def infer_type(cells: Iterable[str], *, dayfirst: bool = False) -> str:
    """The narrowest property type every non-empty value fits: number, boolean, date, datetime,
    email, url, phone, textarea (several lines or long) or text. Numbers written with a leading zero
    (postal codes, IDs) stay text, as do columns with no value."""
    items = [c for c in cells if c]
    if not items:
        return "text"
    if any("\n" in c or len(c) > 250 for c in items):
        return "textarea"
    if all(c.strip().lower() in _TRUE_FALSE for c in items):
        return "boolean"
    if not any(_LEADING_ZERO.match(c.strip().lstrip("+-")) for c in items) and _all(values.parse_number, items):
        return "number"
    if _all(lambda c: values.parse_date(c, dayfirst=dayfirst), items):
        if any(values._TIME_TAIL.search(c.strip()) for c in items):
            return "datetime"
        return "date"
    if all("@" in c for c in items) and _all(values.parse_email, items):
        return "email"
    if all(c.lower().startswith(("http://", "https://", "www.")) for c in items) and _all(values.parse_url, items):
        return "url"
    if all(_PHONE_LIKE.fullmatch(c.strip()) for c in items) and _all(values.parse_phone, items):
        return "phone"
    return "text"


def dates_day_first(cells: Iterable[str]) -> bool:
    """True when a column's slashed dates can only be day first (a first number above 12 and none
    in second place above 12): 16/01/2024, 3/2/24 -> day first."""
    first_big = second_big = False
    for cell in cells:
        m = _SLASHED.fullmatch(cell) if cell else None
        if m is None:
            continue
        first_big |= int(m[1]) > 12
        second_big |= int(m[2]) > 12
    return first_big and not second_big


_CYRILLIC = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "",
    "э": "e", "ю": "yu", "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g",
})


def property_name(header: str, taken: Iterable[str]) -> str:
    """An internal name for a new property from a column title: 'Connected On' -> 'connected_on';
    accents dropped, Cyrillic transliterated ('Отчество' -> 'otchestvo'); a title without such
    letters (Greek, CJK...) gives 'column'; never one of `taken` nor a name the engine reserves
    ('id', 'createdate'...)."""
    text = unicodedata.normalize("NFKD", header.lower().translate(_CYRILLIC)).encode("ascii", "ignore").decode()
    base = _NAME_JUNK.sub("_", text).strip("_")[:50]
    if not base or not base[0].isalpha():
        base = ("column_" + base) if base else "column"
    taken = set(taken) | RESERVED_NAMES
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name
