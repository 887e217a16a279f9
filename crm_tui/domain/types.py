"""Property types: turning what a user typed into the stored value, and back into text.

Every property type is one class in the registry at the bottom of this module (`property_type(name)`):
it parses what a user typed into the stored value, names its SQL column type, writes the value as
history and exports keep it and reads it back, shows it on screens and the command line, and lists
the filter operators it takes. Callers ask the type instead of switching on its name.

Stored forms: text as str; number/currency as float; date as `YYYY-MM-DD`; datetime as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC); select as the option's internal name; multiselect as option
names joined by `;`; boolean as 0/1; user as an owner id.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timezone

from .errors import InvalidValue
from . import values
from .sanitize import clean_key, clean_line, clean_text


class ValueProblem(ValueError):
    """Raised with a short reason; the caller adds which property and record."""


MAX_INT = 2**63 - 1  # SQLite's largest integer


def whole_number(value, what: str, low: int = 1, high: int = MAX_INT) -> int:
    """A count, limit or position from a file or a caller: a whole number in [low, high], or
    InvalidValue naming `what` (never an OverflowError from `.inf` or a ValueError from `abc`)."""
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
    """Run one of the shared parsers (crm_tui.domain.values) and speak ValueProblem."""
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


def shown_date(value, date_format: str) -> str:
    """A stored date (YYYY-MM-DD) in the config's date_format; text that is no date as it is."""
    if value in (None, ""):
        return ""
    text = str(value)
    if date_format == "%Y-%m-%d":
        return text
    try:
        return date.fromisoformat(text[:10]).strftime(date_format)
    except ValueError:
        return text


def shown_datetime(value, datetime_format: str) -> str:
    """A stored moment (ISO 8601, UTC, as every date-time and history time is kept) in the config's
    datetime_format; text that is no date-time as it is (cut to the minute)."""
    if value in (None, ""):
        return ""
    text = str(value)
    if datetime_format == "%Y-%m-%d %H:%M":
        return text[:16].replace("T", " ")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime(datetime_format)
    except ValueError:
        return text[:16].replace("T", " ")


# -- the registry: one class per property type ---------------------------------------------------

# Filter operators per property type. The index screen offers these; the core enforces them.
TEXT_OPS = ("eq", "neq", "contains", "not_contains", "starts_with", "known", "unknown")
NUMBER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "between", "known", "unknown")
DATE_OPS = ("eq", "gt", "gte", "lt", "lte", "between", "known", "unknown")
SELECT_OPS = ("eq", "neq", "any_of", "none_of", "known", "unknown")
BOOL_OPS = ("eq", "known", "unknown")


def options_hint(prop) -> str:
    labels = [o.label for o in prop.options]
    return ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")


class PropertyType:
    """One property type. `prop` arguments are the engine's PropertyMeta (options, labels);
    `owner_id(raw)` and `owner_name(id)` come from the caller, which knows the database."""

    name = ""
    sql_type = "TEXT"  # the column type of its values
    ops = TEXT_OPS  # the filter operators it takes
    is_text = True  # a blank text counts as unknown; searched and checked as text
    placeholder = ""  # a hint shown in an empty field
    width = 18  # the width an index column of it wants
    editor = "text"  # the form field it is edited in: "text", "options" (one of them) or "yes_no"
    has_options = False  # its values are the names of its options
    multi_valued = False  # a value holds several option names joined by ";"
    date_means_whole_day = False  # a filter value that is a date alone means that whole day

    def parse(self, prop, raw, *, dayfirst: bool = False, owner_id=None):
        """What a user typed (never blank) -> the stored value, or ValueProblem."""
        raise ValueProblem(f"unknown property type {prop.type!r}")

    def to_text(self, value) -> str | None:
        """The stored value as history and exports write it."""
        return None if value is None else str(value)

    def from_text(self, text: str | None):
        """A value as history stores it back to the stored value: the inverse of to_text."""
        return text

    def display(self, prop, value, owner_name, date_format: str = "%Y-%m-%d", datetime_format: str = "%Y-%m-%d %H:%M") -> str:
        """The stored value as the screens show it (labels for options, local dates, plain numbers)."""
        return "" if value is None else str(value)

    def plain(self, prop, value, date_format=None, datetime_format=None) -> str:
        """The stored value as the command line prints it."""
        return "" if value is None else str(value)

    def export(self, prop, value, owner_name):
        """The stored value as a CSV, JSON or vCard export writes it."""
        return value

    def edit_text(self, prop, value, owner_name) -> str:
        """The stored value as a form field shows it for editing (parse reads it back)."""
        return "" if value is None else str(value)

    def search_text(self, prop, value) -> str:
        """The stored value as the full-text index holds it."""
        return str(value)

    def column_parser(self, where: str, parse):
        """`parse(raw)` (the whole check: Records.coerce_value) as a function built once per column
        for bulk paths (import); a type may add a fast path for printable text cells that gives the
        same value and the same InvalidValue (`where` + reason) for every input."""
        return parse


class _Text(PropertyType):
    clean = staticmethod(clean_line)

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        text = self.clean(str(raw)).strip()
        if not text:  # the value was only escape sequences / control characters
            raise ValueProblem("is empty after removing control characters")
        if not text.isprintable() and not clean_key(text).strip():  # only zero-width / invisible characters
            raise ValueProblem("has no visible characters")
        return text


class TextType(_Text):
    name = "text"

    def column_parser(self, where, parse):
        def coerce(raw):
            if raw.__class__ is str and raw.isprintable():
                return raw.strip() or None  # clean_line leaves printable text as it is; blank -> None
            return parse(raw)
        return coerce


def _fast_column_parser(where, parse, fast, lower: bool):
    """A printable text cell goes straight to `fast` (a parser of crm_tui.domain.values, without
    clean_key, which leaves printable text as it is); anything else through `parse`."""
    def coerce(raw):
        if raw.__class__ is str and raw.isprintable():
            if not raw.strip():
                return None
            try:
                value = fast(raw)
            except ValueError as exc:
                raise InvalidValue(where + str(exc)) from None
            return value.lower() if lower else value
        return parse(raw)
    return coerce


class TextareaType(_Text):
    name = "textarea"
    placeholder = "text"
    width = 30
    clean = staticmethod(clean_text)


class EmailType(PropertyType):
    name = "email"
    placeholder = "name@example.com"
    width = 30

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        return parse_email(raw)

    def column_parser(self, where, parse):
        return _fast_column_parser(where, parse, values.parse_email, lower=True)


class PhoneType(PropertyType):
    name = "phone"
    placeholder = "+1 555 0100"
    width = 16

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        return parse_phone(raw)

    def column_parser(self, where, parse):
        return _fast_column_parser(where, parse, values.parse_phone, lower=False)


class UrlType(PropertyType):
    name = "url"
    placeholder = "https://…"
    width = 28

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        return parse_url(raw)


class DomainType(PropertyType):
    name = "domain"
    placeholder = "example.com"
    width = 22

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        return normalize_domain(raw)


class NumberType(PropertyType):
    name = "number"
    placeholder = "a number"
    width = 10
    sql_type = "REAL"
    ops = NUMBER_OPS
    is_text = False

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        return parse_number(raw)

    def to_text(self, value):
        return None if value is None else format_number(value)

    def from_text(self, text):
        if text is None:
            return None
        try:
            return float(text)
        except ValueError:
            return text

    def display(self, prop, value, owner_name, date_format="%Y-%m-%d", datetime_format="%Y-%m-%d %H:%M"):
        return "" if value is None else format_number(value)

    def plain(self, prop, value, date_format=None, datetime_format=None):
        return "" if value is None else format_number(value)

    def export(self, prop, value, owner_name):
        return value if value is None else format_number(value)

    def edit_text(self, prop, value, owner_name):
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return "" if value is None else str(value)


class CurrencyType(NumberType):
    name = "currency"
    placeholder = "an amount, e.g. 1200.50"
    width = 12

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        return round(parse_number(raw), 2)

    def display(self, prop, value, owner_name, date_format="%Y-%m-%d", datetime_format="%Y-%m-%d %H:%M"):
        return "" if value is None else f"{value:,.2f}"


class DateType(PropertyType):
    name = "date"
    placeholder = "YYYY-MM-DD"
    width = 10
    ops = DATE_OPS
    is_text = False

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        return parse_date(raw, dayfirst)

    def display(self, prop, value, owner_name, date_format="%Y-%m-%d", datetime_format="%Y-%m-%d %H:%M"):
        return "" if value is None else shown_date(value, date_format)

    def plain(self, prop, value, date_format=None, datetime_format=None):
        return shown_date(value, date_format) if date_format else str(value)


class DatetimeType(PropertyType):
    name = "datetime"
    date_means_whole_day = True
    placeholder = "YYYY-MM-DD HH:MM"
    width = 16
    ops = DATE_OPS
    is_text = False

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        return parse_datetime(raw, dayfirst)

    def display(self, prop, value, owner_name, date_format="%Y-%m-%d", datetime_format="%Y-%m-%d %H:%M"):
        return "" if value is None else shown_datetime(value, datetime_format)

    def plain(self, prop, value, date_format=None, datetime_format=None):
        if datetime_format and datetime_format != "%Y-%m-%d %H:%M":
            return shown_datetime(value, datetime_format)
        return str(value)

    def edit_text(self, prop, value, owner_name):
        return "" if value is None else str(value)[:16].replace("T", " ")


class SelectType(PropertyType):
    name = "select"
    editor = "options"
    has_options = True
    ops = SELECT_OPS
    is_text = False

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        name = prop.option_name(clean_line(str(raw)))
        if name is None:
            raise ValueProblem(f"{raw!r} is not an option (options: {options_hint(prop)})")
        return name

    def display(self, prop, value, owner_name, date_format="%Y-%m-%d", datetime_format="%Y-%m-%d %H:%M"):
        return "" if value is None else prop.option_label(value)

    def plain(self, prop, value, date_format=None, datetime_format=None):
        return "" if value is None else prop.option_label(value)

    def search_text(self, prop, value):
        return prop.option_label(value)

    def export(self, prop, value, owner_name):
        return value if value is None else prop.option_label(value)


class MultiselectType(PropertyType):
    name = "multiselect"
    has_options = True
    multi_valued = True
    placeholder = "options separated by ;"
    ops = SELECT_OPS
    is_text = False

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        items = raw if isinstance(raw, (list, tuple)) else str(raw).split(";")
        names = []
        for item in items:
            if not str(item).strip():
                continue
            name = prop.option_name(clean_line(str(item)))
            if name is None:
                raise ValueProblem(f"{item!r} is not an option (options: {options_hint(prop)})")
            if name not in names:
                names.append(name)
        order = [o.name for o in prop.options]
        return ";".join(sorted(names, key=order.index)) or None

    def display(self, prop, value, owner_name, date_format="%Y-%m-%d", datetime_format="%Y-%m-%d %H:%M"):
        return "" if value is None else ", ".join(prop.option_label(v) for v in str(value).split(";") if v)

    def export(self, prop, value, owner_name):
        return value if value is None else ";".join(prop.option_label(v) for v in str(value).split(";") if v)

    def edit_text(self, prop, value, owner_name):
        return "" if value is None else "; ".join(prop.option_label(v) for v in str(value).split(";") if v)


class BooleanType(PropertyType):
    name = "boolean"
    editor = "yes_no"
    width = 5
    sql_type = "INTEGER"
    ops = BOOL_OPS
    is_text = False

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        return parse_boolean(raw)

    def from_text(self, text):
        return None if text is None else (1 if text in ("1", "True", "true") else 0)

    def display(self, prop, value, owner_name, date_format="%Y-%m-%d", datetime_format="%Y-%m-%d %H:%M"):
        return "" if value is None else ("Yes" if value else "No")

    def export(self, prop, value, owner_name):
        return value if value is None else ("true" if value else "false")


class UserType(PropertyType):
    name = "user"
    placeholder = "owner name or email"
    width = 16
    sql_type = "INTEGER"
    ops = SELECT_OPS
    is_text = False

    def parse(self, prop, raw, *, dayfirst=False, owner_id=None):
        return owner_id(raw)

    def from_text(self, text):
        return int(text) if text is not None and text.isdigit() else text

    def display(self, prop, value, owner_name, date_format="%Y-%m-%d", datetime_format="%Y-%m-%d %H:%M"):
        return "" if value is None else owner_name(value)

    def export(self, prop, value, owner_name):
        return value if value is None else owner_name(value)

    def edit_text(self, prop, value, owner_name):
        if isinstance(value, int):
            return owner_name(value)
        return "" if value is None else str(value)


class _UnknownType(PropertyType):
    """A type name no class has (a newer database): shown as text, refused when written."""


PROPERTY_TYPES: dict[str, PropertyType] = {cls.name: cls() for cls in (
    TextType, TextareaType, NumberType, CurrencyType, DateType, DatetimeType, SelectType, MultiselectType,
    BooleanType, EmailType, PhoneType, UrlType, UserType, DomainType,
)}
_UNKNOWN = _UnknownType()

TYPES = tuple(PROPERTY_TYPES)  # every type name, in the order the schema documents them
SQL_TYPES = {name: t.sql_type for name, t in PROPERTY_TYPES.items() if t.sql_type != "TEXT"}


def property_type(name: str) -> PropertyType:
    """The type class for a type name (an unknown name behaves as text and refuses writes)."""
    return PROPERTY_TYPES.get(name, _UNKNOWN)
