"""Property types: turning what a user typed into the stored value, and back into text.

Stored forms: text as str; number/currency as float; date as `YYYY-MM-DD`; datetime as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC); select as the option's internal name; multiselect as option
names joined by `;`; boolean as 0/1; user as an owner id.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from .importing import values
from .sanitize import clean_line, clean_text

TYPES = (
    "text", "textarea", "number", "currency", "date", "datetime", "select", "multiselect",
    "boolean", "email", "phone", "url", "user", "domain",
)
SQL_TYPES = {
    "number": "REAL", "currency": "REAL", "boolean": "INTEGER", "user": "INTEGER",
}


class ValueProblem(ValueError):
    """Raised with a short reason; the caller adds which property and record."""


def _strict(parse, value, **kwargs):
    """Run one of the shared parsers (crm_tui.importing.values) and speak ValueProblem."""
    try:
        return parse(value, **kwargs)
    except ValueProblem:
        raise
    except ValueError as exc:
        raise ValueProblem(str(exc)) from None


def parse_number(value) -> float:
    if isinstance(value, bool):
        raise ValueProblem("not a number")
    if isinstance(value, (int, float)):
        return float(value)
    return float(_strict(values.parse_number, str(value), currency=True))


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
    return _strict(values.parse_email, clean_line(str(value))).lower()


def normalize_domain(value) -> str:
    """`https://www.Example.com/about` -> `example.com`."""
    return _strict(values.parse_domain, clean_line(str(value)))


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower()


def parse_url(value) -> str:
    return _strict(values.parse_url, clean_line(str(value)))


def parse_phone(value) -> str:
    return _strict(values.parse_phone, clean_line(str(value)))


def format_number(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
