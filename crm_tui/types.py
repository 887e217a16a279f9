"""Property types: turning what a user typed into the stored value, and back into text.

Stored forms: text as str; number/currency as float; date as `YYYY-MM-DD`; datetime as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC); select as the option's internal name; multiselect as option
names joined by `;`; boolean as 0/1; user as an owner id.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

from .sanitize import clean_line, clean_text

TYPES = (
    "text", "textarea", "number", "currency", "date", "datetime", "select", "multiselect",
    "boolean", "email", "phone", "url", "user", "domain",
)
SQL_TYPES = {
    "number": "REAL", "currency": "REAL", "boolean": "INTEGER", "user": "INTEGER",
}

_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9-]{2,}$")
_NUMBER_JUNK = re.compile(r"[\s$€£¥,_]")
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_SLASH_YMD = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_SLASH_XY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_WORD_DMY = re.compile(r"^(\d{1,2})\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})$")
_WORD_MDY = re.compile(r"^([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})$")
_DATETIME = re.compile(
    r"^(?P<date>[^T ]+)[T ](?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?)?\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


class ValueProblem(ValueError):
    """Raised with a short reason; the caller adds which property and record."""


def parse_number(value) -> float:
    if isinstance(value, bool):
        raise ValueProblem("not a number")
    if isinstance(value, (int, float)):
        return float(value)
    text = _NUMBER_JUNK.sub("", str(value))
    try:
        return float(text)
    except ValueError:
        raise ValueProblem(f"{str(value)!r} is not a number") from None


def parse_date(value, dayfirst: bool = False) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    match = _DATETIME.match(text)
    if match:  # a datetime given for a date: keep its date part
        text = match.group("date")
    try:
        if m := _ISO_DATE.match(text) or _SLASH_YMD.match(text):
            y, mo, d = int(m[1]), int(m[2]), int(m[3])
        elif m := _SLASH_XY.match(text):
            a, b, y = int(m[1]), int(m[2]), int(m[3])
            d, mo = (a, b) if dayfirst else (b, a)
        elif m := _WORD_DMY.match(text):
            d, mo, y = int(m[1]), _MONTHS[m[2][:3].lower()], int(m[3])
        elif m := _WORD_MDY.match(text):
            mo, d, y = _MONTHS[m[1][:3].lower()], int(m[2]), int(m[3])
        else:
            raise ValueProblem(f"{text!r} is not a date (use YYYY-MM-DD)")
        return date(y, mo, d).isoformat()
    except (KeyError, ValueError) as exc:
        if isinstance(exc, ValueProblem):
            raise
        raise ValueProblem(f"{text!r} is not a valid date") from None


def format_datetime(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_iso() -> str:
    return format_datetime(datetime.now(timezone.utc))


def parse_datetime(value, dayfirst: bool = False) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return format_datetime(datetime(value.year, value.month, value.day))
    text = str(value).strip()
    match = _DATETIME.match(text)
    if not match:
        day = parse_date(text, dayfirst)  # a bare date means midnight UTC
        return day + "T00:00:00.000000Z"
    day = date.fromisoformat(parse_date(match.group("date"), dayfirst))
    try:
        moment = datetime(day.year, day.month, day.day, int(match["h"]), int(match["m"]), int(match["s"] or 0),
                          int((match["f"] or "0").ljust(6, "0")))
    except ValueError:
        raise ValueProblem(f"{text!r} is not a valid date and time") from None
    tz = match["tz"]
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        from datetime import timedelta
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return format_datetime(moment)


def parse_boolean(value) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "y", "1", "on", "x"):
        return 1
    if text in ("false", "no", "n", "0", "off"):
        return 0
    raise ValueProblem(f"{value!r} is not yes/no")


def parse_email(value) -> str:
    text = clean_line(str(value)).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if not _EMAIL.match(text):
        raise ValueProblem(f"{text!r} is not an email address")
    return text.lower()


def normalize_domain(value) -> str:
    """`https://www.Example.com/about` -> `example.com`."""
    text = clean_line(str(value)).strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    if text.startswith("www."):
        text = text[4:]
    if not _DOMAIN.match(text):
        raise ValueProblem(f"{str(value)!r} is not a domain name")
    return text


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower()


def parse_url(value) -> str:
    text = clean_line(str(value)).strip()
    if not re.match(r"^[a-z][a-z0-9+.-]*://", text, re.I):
        text = "https://" + text
    if not re.match(r"^[a-z][a-z0-9+.-]*://[^\s/]+\.[^\s/]+", text, re.I):
        raise ValueProblem(f"{str(value)!r} is not a URL")
    return text


def parse_phone(value) -> str:
    text = " ".join(clean_line(str(value)).split())
    if not any(ch.isdigit() for ch in text):
        raise ValueProblem(f"{text!r} is not a phone number")
    return text


def format_number(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
