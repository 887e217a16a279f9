"""Property types: turning what a user typed into the stored value, and back into text.

Stored forms: text as str; number/currency as float; date as `YYYY-MM-DD`; datetime as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC); select as the option's internal name; multiselect as option
names joined by `;`; boolean as 0/1; user as an owner id.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timezone

from .importing import values
from .sanitize import clean_key, clean_line, clean_text  # noqa: F401

TYPES = (
    "text", "textarea", "number", "currency", "date", "datetime", "select", "multiselect",
    "boolean", "email", "phone", "url", "user", "domain",
)
SQL_TYPES = {
    "number": "REAL", "currency": "REAL", "boolean": "INTEGER", "user": "INTEGER",
}


class ValueProblem(ValueError):
    """Raised with a short reason; the caller adds which property and record."""


MAX_INT = 2**63 - 1  # SQLite's largest integer


def whole_number(value, what: str, low: int = 1, high: int = MAX_INT) -> int:
    """A count, limit or position from a file or a caller: a whole number in [low, high], or
    InvalidValue naming `what` (never an OverflowError from `.inf` or a ValueError from `abc`)."""
    from .errors import InvalidValue

    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidValue(f"{what} must be a whole number (got {_shown_number(repr(value))})")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise InvalidValue(f"{what} must be a whole number (got {value!r})")
        value = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text.lstrip("+-").isascii() or not text.lstrip("+-").isdigit() or len(text) > 20:
            raise InvalidValue(f"{what} must be a whole number (got {_shown_number(text)})")
        value = int(text)
    if not low <= value <= high:
        raise InvalidValue(f"{what} must be between {low:,} and {high:,} (got {value})")
    return value


def _strict(parse, value, **kwargs):
    """Run one of the shared parsers (crm_tui.importing.values) and speak ValueProblem."""
    try:
        return parse(value, **kwargs)
    except ValueProblem:
        raise
    except ValueError as exc:
        raise ValueProblem(str(exc)) from None


def parse_number(value) -> float:
    """A number, stored as a float (REAL: sorted and filtered as a number). A value a float cannot
    hold exactly as written (more than 15 significant digits, beyond the float range) is refused
    rather than silently rounded: long identifiers belong in text properties."""
    if isinstance(value, bool):
        raise ValueProblem("not a number")
    if isinstance(value, int):
        return _exact_int(value, str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueProblem(f"{value!r} is not a finite number")
        return value
    text = str(value)
    number = _strict(values.parse_number, text, currency=True)
    if isinstance(number, int):
        return _exact_int(number, text)
    _check_digits(number, text)
    return float(number)


_TOO_PRECISE = ("has more digits than a number keeps exactly (15 significant digits); "
                "store it in a text property")


def _shown_number(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _exact_int(number: int, text: str) -> float:
    try:
        as_float = float(number)
    except OverflowError:
        raise ValueProblem(f"{_shown_number(text)} is too large") from None
    if int(as_float) != number:
        raise ValueProblem(f"{_shown_number(text)} {_TOO_PRECISE}")
    return as_float


def _significant(digits: str) -> str:
    return digits.replace(".", "").lstrip("0").rstrip("0")


def _check_digits(number: float, text: str) -> None:
    """Refuse a written decimal that the float does not reproduce (too many digits, or so small
    it became 0)."""
    mantissa = re.split(r"[eE]", text)[0]
    written = _significant("".join(c for c in mantissa if c.isdigit() or c == "."))
    if number == 0:
        if written:
            raise ValueProblem(f"{_shown_number(text)} is too small to keep (it would become 0)")
        return
    if len(written) <= 15:
        return
    kept = _significant(re.split(r"e", repr(abs(number)))[0])
    if written != kept:
        raise ValueProblem(f"{_shown_number(text)} {_TOO_PRECISE}")


def parse_date(value, dayfirst: bool = False) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return _strict(values.parse_date, str(value), dayfirst=dayfirst)


def format_datetime(moment: datetime) -> str:
    return values.format_utc(moment)


def now_iso() -> str:
    return format_datetime(datetime.now(timezone.utc))


def parse_datetime(value, dayfirst: bool = False) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_datetime(datetime(value.year, value.month, value.day))
    return _strict(values.parse_datetime, str(value), dayfirst=dayfirst)


def parse_boolean(value) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    return int(_strict(values.parse_bool, str(value)))


def parse_email(value) -> str:
    # The whole address is lower-cased: contacts are unique by email, case-insensitively.
    return _strict(values.parse_email, clean_key(str(value))).lower()


def normalize_domain(value) -> str:
    """`https://www.Example.com/about` -> `example.com`."""
    return _strict(values.parse_domain, clean_key(str(value)))


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower()


def parse_url(value) -> str:
    return _strict(values.parse_url, clean_key(str(value)))


def parse_phone(value) -> str:
    return _strict(values.parse_phone, clean_key(str(value)))


def format_number(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
