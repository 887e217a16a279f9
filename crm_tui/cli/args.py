"""The command line's typed arguments (one line saying what is wrong, exit 2) and its one printing
path. Shared by the entry point (cli.py) and the subcommand modules, which cli.py imports only when
a subcommand runs: this module imports nothing heavy (start-up speed)."""

from __future__ import annotations

import json
import sys

MAX_ID = 2**63 - 1  # SQLite's largest integer
MAX_SEED_COUNT = 10_000_000  # records per object one `seed` may add
MAX_LIMIT = 1_000_000  # rows one listing may print


def _whole_number(text: str, what: str, low: int, high: int) -> int:
    """The typed-argument layer: a whole number in [low, high], or one line saying what is wrong."""
    import argparse  # loaded already: this runs while the parser parses

    digits = text.strip()
    body = digits[1:] if digits[:1] in "+-" else digits
    if not body.isascii() or not body.isdigit():
        raise argparse.ArgumentTypeError(f"{what} {text!r} is not a whole number")
    if len(body) > 20:
        raise argparse.ArgumentTypeError(f"{what} {text[:24]!r}... is too large (at most {high:,})")
    value = int(digits)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{what} {value} is out of range ({low:,} to {high:,})")
    return value


def _id(text: str) -> int:
    return _whole_number(text, "record ID", 1, MAX_ID)


def _limit(text: str) -> int:
    return _whole_number(text, "limit", 1, MAX_LIMIT)


def _seed_count(text: str) -> int:
    return _whole_number(text, "count", 0, MAX_SEED_COUNT)


def _bounded(what: str, low: int, high: int):
    def parse(text: str) -> int:
        return _whole_number(text, what, low, high)
    parse.__name__ = what.replace(" ", "_")
    return parse


def _ref(text: str):
    """`contacts:12` -> ("contacts", 12)."""
    obj, sep, rid = text.partition(":")
    if not sep or not rid.strip().isascii() or not rid.strip().isdigit():
        import argparse  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

        raise argparse.ArgumentTypeError(f"{text!r}: write a record as OBJECT:ID, e.g. contacts:12")
    return obj.strip(), _id(rid)


def _assignments(items: list[str]) -> dict:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SystemExit(_fail(f"{item!r}: write a property as name=value"))
        values[name.strip()] = value
    return values


def _fail(message: str) -> int:
    from ..domain.sanitize import clean_line  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

    print(f"crm-tui: error: {clean_line(str(message))}", file=sys.stderr)
    return 2


def emit(args, data, text_lines) -> None:
    """Every command's output: JSON with --json (escaped: nothing in it can drive a terminal), else
    the text lines, cleaned of control sequences (sanitize.clean_text) whatever they came from."""
    from ..domain.sanitize import clean_text, json_text  # lazy: `crm-tui --help` and a plain app launch stay quick (start-up speed)

    if getattr(args, "json", False):
        print(json_text(json.dumps(data, indent=2, ensure_ascii=False, default=str)))
    else:
        for line in ([text_lines] if isinstance(text_lines, str) else text_lines):
            print(clean_text(str(line)))


def show_value(meta, name, value, crm=None) -> str:
    """A value in plain output; dates and date-times in the config's formats when it names its own
    (the stored ISO text otherwise, as scripts read it)."""
    from ..domain.types import property_type  # lazy: `--help` reads this module and stays light

    prop = meta.properties.get(name)
    if value is None:
        return ""
    if prop is None:
        return str(value)
    if crm is not None:
        if prop.type == "user":  # an owner by name, as the app and exports show them (JSON keeps the id)
            return crm.owner_name(value)
        return property_type(prop.type).plain(prop, value, crm.date_format, crm.datetime_format)
    return property_type(prop.type).plain(prop, value)
