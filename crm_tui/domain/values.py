"""Parsers for the values found in imported cells (and typed by users).

Each parser takes text and returns a clean value, or raises ValueError with a short reason meant for
the user ("month 16 does not exist: is the date day-first?"); the caller adds which column and row.
A big import calls them millions of times, so every pattern is compiled once at import time.

Clean forms: numbers as int (no decimals written) or float; dates as `YYYY-MM-DD`; datetimes as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC (a time without an offset is taken as UTC); booleans as bool;
emails with a lower-case domain; URLs with an http(s) scheme; domains bare and lower case; phones as
tidied text.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

# ---------------------------------------------------------------- text

# The one cleaning function (crm_tui/domain/sanitize.py): user data must never drive the terminal.
from .sanitize import clean_text  # noqa: E402,F401  (re-exported: csvread and vcard use it from here)


def _shown(text: str) -> str:
    """The value quoted for an error message, cut short if long."""
    text = text.strip()
    return repr(text if len(text) <= 40 else text[:37] + "...")


# ---------------------------------------------------------------- numbers

_UNSIGNED_POINT = r"(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?"
_UNSIGNED_COMMA = r"(?:\d+(?:,\d+)?|,\d+)"
_SIGNED_POINT = re.compile(rf"[+-]?{_UNSIGNED_POINT}")
_SIGNED_COMMA = re.compile(rf"[+-]?{_UNSIGNED_COMMA}")
_PLAIN_POINT = re.compile(_UNSIGNED_POINT)
_PLAIN_COMMA = re.compile(_UNSIGNED_COMMA)
# Thousands groups of exactly three digits, one separator kind used throughout ("1,234,567.5").
_GROUPED_POINT = re.compile(
    r"(?:(?P<int>\d{1,3}(?P<sep>[,'’ \u00a0\u202f])\d{3}(?:(?P=sep)\d{3})*|\d+)(?:\.(?P<frac>\d+))?"
    r"|\.(?P<frac_only>\d+))"
)
_GROUPED_COMMA = re.compile(
    r"(?:(?P<int>\d{1,3}(?P<sep>[.'’ \u00a0\u202f])\d{3}(?:(?P=sep)\d{3})*|\d+)(?:,(?P<frac>\d+))?"
    r"|,(?P<frac_only>\d+))"
)
_SYMBOLS = "$€£¥₹₩₽₺₪₱¢"
_CURRENCY_MARK = rf"(?:[A-Z]{{0,3}}[{_SYMBOLS}]|[A-Z]{{3}})"  # "$", "US$", "R$", "EUR"
_CURRENCY_PREFIX = re.compile(rf"{_CURRENCY_MARK}\s*")
_CURRENCY_SUFFIX = re.compile(rf"\s*{_CURRENCY_MARK}$")
_HAS_CURRENCY = re.compile(rf"[{_SYMBOLS}]|^[A-Z]{{3}}\s|\s[A-Z]{{3}}$")


def parse_number(text: str, *, decimal_comma: bool = False, currency: bool = False) -> int | float:
    """'42', ' 1,234.50 ', '1.234,50' (decimal_comma), '$1,200' and '(5.00)' (currency) -> number.

    Returns an int when no decimals are written, else a float.
    """
    if (_SIGNED_COMMA if decimal_comma else _SIGNED_POINT).fullmatch(text):  # fast path
        return _to_number(text.replace(",", ".") if decimal_comma else text, text)
    s = text.strip().replace("\u2212", "-")  # Unicode minus sign
    if not s:
        raise ValueError("empty value is not a number")
    signs = 0
    if currency and s[:1] == "(" and s[-1:] == ")":  # accounting style negative: (1,200.00)
        signs, s = 1, s[1:-1].strip()
    sign, s = _take_sign(s)
    if currency:
        if m := _CURRENCY_PREFIX.match(s):
            s = s[m.end():]
            if not sign:  # "$-5"
                sign, s = _take_sign(s)
        if m := _CURRENCY_SUFFIX.search(s):
            s = s[: m.start()]
    elif _HAS_CURRENCY.search(s):
        raise ValueError(f"{_shown(text)}: currency symbols only go in currency fields")
    if signs and sign:
        raise ValueError(f"{_shown(text)} is not a number")
    negative = bool(signs) or sign == "-"
    if (_PLAIN_COMMA if decimal_comma else _PLAIN_POINT).fullmatch(s):
        value = _to_number(s.replace(",", ".") if decimal_comma else s, text)
        return -value if negative else value
    grouped, other = (_GROUPED_COMMA, _GROUPED_POINT) if decimal_comma else (_GROUPED_POINT, _GROUPED_COMMA)
    m = grouped.fullmatch(s)
    if m is None:
        if other.fullmatch(s):
            kind = "a decimal point" if decimal_comma else "a decimal comma"
            raise ValueError(f"{_shown(text)} is written with {kind}: change the number format")
        raise ValueError(f"{_shown(text)} is not a number")
    digits = m["int"] or "0"
    if m["sep"]:
        digits = digits.replace(m["sep"], "")
    fraction = m["frac"] or m["frac_only"]
    value = float(f"{digits}.{fraction}") if fraction else int(digits)
    return -value if negative else value


def _take_sign(s: str) -> tuple[str, str]:
    if s[:1] in ("+", "-"):
        return s[0], s[1:].lstrip()
    return "", s


def parse_currency(text: str, *, decimal_comma: bool = False) -> int | float:
    """parse_number accepting currency symbols and codes: '$1,200', '1 200 €', 'EUR 5', '(5.00)'."""
    return parse_number(text, decimal_comma=decimal_comma, currency=True)


def _to_number(s: str, original: str) -> int | float:
    if "." not in s and "e" not in s and "E" not in s:
        return int(s)
    value = float(s)
    if not math.isfinite(value):
        raise ValueError(f"{_shown(original)} is too large")
    return value


# ---------------------------------------------------------------- dates and times

_MONTH_NAME = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_ORDINAL = r"(?:st|nd|rd|th)?"

_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_YEAR_FIRST = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})")  # 2002-1-16, 2002/1/16, 2002.01.16
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")  # 20020116, as vCard 2.1 writes birthdays
_YEAR_LAST = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4})")  # 16/01/2002 or 01/16/2002
_SHORT_YEAR = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{2})")  # 2/20/24, as spreadsheets re-save dates
_DAY_MONTH_NAME = re.compile(
    rf"{_WEEKDAY}(\d{{1,2}}){_ORDINAL}[\s-]+({_MONTH_NAME})\.?,?[\s-]+(\d{{4}})", re.I)
_MONTH_NAME_DAY = re.compile(rf"{_WEEKDAY}({_MONTH_NAME})\.?[\s-]+(\d{{1,2}}){_ORDINAL},?\s+(\d{{4}})", re.I)
# A time at the end of the text: "T22:36", " 22:36:00.5", ", 3:45 PM", "...Z", "... +02:00", "... UTC".
_TIME_TAIL = re.compile(
    r"(?:[Tt]|\s+|,\s*)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(?:([AaPp])\.?[Mm]\.?)?\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_date(text: str, *, dayfirst: bool = False) -> str:
    """A date in a common written form -> 'YYYY-MM-DD'.

    `dayfirst` chooses between 01/16/2002 (False: month first) and 16/01/2002 (True). A date with
    a time ('2026-02-25 22:36') keeps the date as written.
    """
    m = _ISO_DATE.fullmatch(text)
    if m:  # fast path
        return _iso_day(int(m[1]), int(m[2]), int(m[3]), text)
    s = text.strip()
    tail = _TIME_TAIL.search(s)
    if tail:
        _time_of_day(tail, text)  # only to reject an impossible time
        s = s[: tail.start()]
    return _iso_day(*_day_parts(s, dayfirst, text), text)


def parse_datetime(text: str, *, dayfirst: bool = False) -> str:
    """A date and time -> 'YYYY-MM-DDTHH:MM:SS.ffffffZ' in UTC.

    Without an offset the time is taken as UTC; a bare date means midnight UTC.
    """
    s = text.strip()
    tail = _TIME_TAIL.search(s)
    day = s[: tail.start()] if tail else s
    year, month, mday = _day_parts(day, dayfirst, text)
    hour, minute, second, micro, offset = _time_of_day(tail, text) if tail else (0, 0, 0, 0, None)
    try:
        moment = datetime(year, month, mday, hour, minute, second, micro)
        if offset:
            moment -= offset
    except (ValueError, OverflowError):
        raise ValueError(f"{_shown(text)}: no such date") from None
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}Z")


def _day_parts(s: str, dayfirst: bool, original: str) -> tuple[int, int, int]:
    if m := _YEAR_FIRST.fullmatch(s):
        return int(m[1]), int(m[3]), int(m[4])
    if m := _YEAR_LAST.fullmatch(s):
        first, second = int(m[1]), int(m[3])
        day, month = (first, second) if dayfirst else (second, first)
        if month > 12:
            hint = "month first" if dayfirst else "day first"
            raise ValueError(f"{_shown(original)}: month {month} does not exist (is the date {hint}?)")
        return int(m[4]), month, day
    if m := _DAY_MONTH_NAME.fullmatch(s):
        return int(m[3]), _MONTHS[m[2][:3].lower()], int(m[1])
    if m := _MONTH_NAME_DAY.fullmatch(s):
        return int(m[3]), _MONTHS[m[1][:3].lower()], int(m[2])
    if m := _COMPACT.fullmatch(s):
        return int(m[1]), int(m[2]), int(m[3])
    if m := _SHORT_YEAR.fullmatch(s):  # two-digit years as strptime's %y: 69-99 -> 19xx, 00-68 -> 20xx
        first, second, year = int(m[1]), int(m[3]), int(m[4])
        day, month = (first, second) if dayfirst else (second, first)
        if month > 12:
            hint = "month first" if dayfirst else "day first"
            raise ValueError(f"{_shown(original)}: month {month} does not exist (is the date {hint}?)")
        return full_year(year), month, day
    if not s:
        raise ValueError("empty value is not a date")
    raise ValueError(f"{_shown(original)} is not a date (expected e.g. 2026-02-25)")


def full_year(year: int) -> int:
    """A two-digit year as strptime's %y reads it: 69-99 -> 19xx, 00-68 -> 20xx."""
    return year + (1900 if year >= 69 else 2000)


_SHORT_US = re.compile(r"(\d{1,2})/(\d{1,2})/(\d\d)(?: (\d{1,2}):(\d\d))?")  # a spreadsheet's 5/7/24 10:26


def parse_short_date(text: str, *, dayfirst: bool = False, with_time: bool = False) -> str | None:
    """The common cell of a spreadsheet re-save ('5/7/24', '5/7/24 10:26') as parse_date (or, with
    `with_time`, parse_datetime) gives it, without their general matching; None for any other text
    or an impossible date (the full parsers then say what is wrong)."""
    m = _SHORT_US.fullmatch(text)
    if m is None:
        return None
    month, day, year = int(m[1]), int(m[2]), full_year(int(m[3]))
    if dayfirst:
        month, day = day, month
    hour, minute = (int(m[4]), int(m[5])) if m[4] is not None else (0, 0)
    if month > 12 or hour > 23 or minute > 59:
        return None
    try:
        date(year, month, day)
    except ValueError:
        return None
    if with_time:
        return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00.000000Z"
    return f"{year:04d}-{month:02d}-{day:02d}"


def _iso_day(year: int, month: int, day: int, original: str) -> str:
    try:
        date(year, month, day)
    except ValueError:
        raise ValueError(f"{_shown(original)}: no such date") from None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _time_of_day(m: re.Match, original: str) -> tuple[int, int, int, int, timedelta | None]:
    hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
    micro = int((m[4] or "0")[:6].ljust(6, "0"))
    if m[5]:  # 12-hour clock
        if not 1 <= hour <= 12:
            raise ValueError(f"{_shown(original)}: hour {hour} does not exist with AM/PM")
        hour = hour % 12 + (12 if m[5] in "Pp" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{_shown(original)}: no such time of day")
    zone = m[6]
    offset = None
    if zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            raise ValueError(f"{_shown(original)}: no such time zone offset")
        offset = timedelta(hours=hours, minutes=minutes) * (1 if zone[0] == "+" else -1)
    return hour, minute, second, micro, offset


def format_utc(moment: datetime) -> str:
    """A datetime -> the stored form; naive datetimes are taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------- booleans

_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})


def parse_bool(text: str) -> bool:
    """true/false, yes/no, y/n, 1/0 in any case -> bool."""
    key = text.strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError(f"{_shown(text)} is not yes/no (use true/false, yes/no or 1/0)")


# ---------------------------------------------------------------- emails, domains, links

_ASCII_DOMAIN = re.compile(r"(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})")
_EMAIL_LOCAL = re.compile(r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*")
_WHITESPACE = re.compile(r"\s")
_URL_CUT = re.compile(r"[/?#]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?!\d)")  # "javascript:", not "example.com:8080"


def _check_domain(host: str, original: str) -> str:
    """A host name, lower case and checked label by label (internationalised names allowed)."""
    host = host.lower()
    ascii_host = host
    if not host.isascii():
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{_shown(original)} is not a valid domain name") from None
    if len(ascii_host) > 253 or not _ASCII_DOMAIN.fullmatch(ascii_host):
        if "." not in host:
            raise ValueError(f"{_shown(original)} is not a domain name (no dot)")
        raise ValueError(f"{_shown(original)} is not a valid domain name")
    return host


# The common address, already lower case and plain ASCII: every string it matches passes the full
# check below unchanged, so it can be accepted as it is (a third of the cost of an import's emails).
_PLAIN_EMAIL = re.compile(r"[a-z0-9_+-]{1,64}(?:\.[a-z0-9_+-]+)*@(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}")


def parse_email(text: str) -> str:
    """Checks the syntax of an address; the domain is lower-cased, the local part kept as written."""
    if len(text) <= 254 and _PLAIN_EMAIL.fullmatch(text) and len(text.partition("@")[0]) <= 64:
        return text
    s = text.strip()
    if s[:7].lower() == "mailto:":
        s = s[7:]
    if not s:
        raise ValueError("empty value is not an email address")
    if _WHITESPACE.search(s):
        raise ValueError(f"{_shown(text)}: an email address has no spaces")
    local, at, domain = s.rpartition("@")
    if not at:
        raise ValueError(f"{_shown(text)} is not an email address (no @)")
    if "@" in local:
        raise ValueError(f"{_shown(text)} has more than one @")
    if not local or len(local) > 64 or not _EMAIL_LOCAL.fullmatch(local):
        raise ValueError(f"{_shown(text)} is not a valid email address")
    return f"{local}@{_check_domain(domain.rstrip('.'), text)}"


def parse_domain(text: str) -> str:
    """'https://www.Example.com/about' -> 'example.com'."""
    s = text.strip().lower()
    if "://" in s:
        s = s.split("://", 1)[1]
    s = _URL_CUT.split(s, 1)[0]
    if "@" in s:
        raise ValueError(f"{_shown(text)} is an email address, not a domain")
    host, colon, port = s.rpartition(":")
    if colon and port.isdigit():
        s = host
    s = s.rstrip(".")
    if s.startswith("www.") and s.count(".") >= 2:
        s = s[4:]
    if not s:
        raise ValueError("empty value is not a domain")
    return _check_domain(s, text)


def parse_url(text: str) -> str:
    """An http(s) link; 'example.com/x' gains 'https://'. Other schemes (javascript:, data:...) fail."""
    s = text.strip()
    if not s:
        raise ValueError("empty value is not a link")
    if _WHITESPACE.search(s):
        raise ValueError(f"{_shown(text)}: a link has no spaces")
    if not s.isprintable():
        raise ValueError(f"{_shown(text)}: a link has no control characters")
    if "://" in s:
        scheme = s.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"{_shown(text)}: only http and https links are allowed")
    elif _SCHEME.match(s):
        raise ValueError(f"{_shown(text)}: only http and https links are allowed")
    else:
        s = "https://" + s
    try:
        parts = urlsplit(s)
        port = parts.port
    except ValueError:
        raise ValueError(f"{_shown(text)} is not a valid link") from None
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{_shown(text)}: a link cannot carry a user name or password")
    host = parts.hostname
    if not host:
        raise ValueError(f"{_shown(text)} has no host name")
    try:
        address = ipaddress.ip_address(host)
        host = f"[{host}]" if address.version == 6 else host
    except ValueError:
        host = _check_domain(host.rstrip("."), text)
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


# ---------------------------------------------------------------- phones

_PHONE_CHARS = re.compile(r"[0-9A-Za-z+().\-/ #*,]+")
_NOT_DIGIT = re.compile(r"\D")
_PHONE_LOOSE_SPACE = re.compile(r"\(\s+|\s+\)|\s*-\s*")


# Digit groups joined by single spaces, dots or dashes: such a number is kept exactly as written.
_PLAIN_PHONE = re.compile(r"\+?[0-9]+(?:[ .-][0-9]+)*")


def parse_phone(text: str) -> str:
    """A phone number, kept as text: whitespace runs become one space, 'tel:' and a spreadsheet's
    leading apostrophe go. Letters are allowed ('1-800-FLOWERS', 'ext. 12'); three digits needed."""
    if _PLAIN_PHONE.fullmatch(text) and len(text) - text.count(" ") - text.count(".") - text.count("-") \
            - text.startswith("+") >= 3:
        return text
    s = " ".join(text.split())
    if s[:4].lower() == "tel:":
        s = s[4:].replace(";ext=", " ext. ")
    s = s.lstrip("'")
    if not s:
        raise ValueError("empty value is not a phone number")
    if not _PHONE_CHARS.fullmatch(s):
        raise ValueError(f"{_shown(text)} has characters a phone number cannot have")
    if len(_NOT_DIGIT.sub("", s)) < 3:
        raise ValueError(f"{_shown(text)} has too few digits for a phone number")
    if " " in s:  # "( 555 ) 123 - 4567" -> "(555) 123-4567"
        s = _PHONE_LOOSE_SPACE.sub(lambda m: m[0].strip(), s)
    return s


# ---------------------------------------------------------------- options

_OPTION_KEY_JUNK = re.compile(r"[\W_]+")


def _option_key(text: str) -> str:
    return _OPTION_KEY_JUNK.sub("", text.casefold())


def option_parser(options: Iterable[tuple[str, str]]) -> Callable[[str], str]:
    """A parser for a select property: accepts an option's internal name or its label, in any case
    and spacing ('Closed won', 'closedwon', 'CLOSED_WON'), and returns the internal name.

    Build it once per property and call it for every cell.
    """
    options = list(options)
    lookup: dict[str, str] = {}
    for name, _label in options:  # internal names first: they win over a clashing label
        lookup.setdefault(_option_key(name), name)
    for name, label in options:
        lookup.setdefault(_option_key(label), name)
    labels = ", ".join(label for _name, label in options[:8]) + (", ..." if len(options) > 8 else "")

    def parse_option(text: str) -> str:
        try:
            return lookup[_option_key(text)]
        except KeyError:
            raise ValueError(f"{_shown(text)} is not one of: {labels}") from None

    return parse_option
