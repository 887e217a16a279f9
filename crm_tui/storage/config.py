"""The user's settings file, config.yaml: load it, check it, remember one setting.

Every key is optional. Problems never stop the app: each becomes a one-line warning
("<file>:<line>: <what is wrong>") and the affected setting keeps its default.
The file is read with yaml.safe_load only (it is data, never code).
This module is part of the core: it must not import Textual.
"""

from __future__ import annotations

import difflib
import getpass
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import yaml

from crm_tui.storage import paths
from .safe_files import write_text

DEFAULT_THEME = "dark"
DEFAULT_DATE_FORMAT = "%Y-%m-%d"
DEFAULT_DATETIME_FORMAT = "%Y-%m-%d %H:%M"
DEFAULT_ENGAGEMENT_CAP = 10_000


def default_user_name() -> str:
    """The OS login name, shown as the User source of changes made in the TUI."""
    try:
        return getpass.getuser() or "user"
    except Exception:  # getuser raises OSError/KeyError when there is no passwd entry
        return "user"


@dataclass(frozen=True)
class Automations:
    """Switches for the automatic behaviours (all on by default, as in HubSpot)."""

    auto_associate_by_domain: bool = True
    lifecycle_opportunity_on_deal: bool = True
    lifecycle_customer_on_won: bool = True
    set_close_date: bool = True
    activity_auto_associate: bool = True


@dataclass(frozen=True)
class Config:
    """The user's settings. Treat the dict fields as read-only."""

    database: Path | None = None
    """Database file from the config; None means "not set" (see paths.default_db_path)."""
    theme: str = DEFAULT_THEME
    date_format: str = DEFAULT_DATE_FORMAT
    datetime_format: str = DEFAULT_DATETIME_FORMAT
    default_views: dict[str, str] = field(default_factory=dict)
    """Object name -> name of the view its index opens with."""
    automations: Automations = field(default_factory=Automations)
    engagement_cap: int = DEFAULT_ENGAGEMENT_CAP
    keymap: dict[str, str] = field(default_factory=dict)
    """Binding id -> key string(s), e.g. {"index.new_record": "ctrl+n"}."""
    user_name: str = field(default_factory=default_user_name)
    my_addresses: tuple[str, ...] = ()
    """Your own email addresses (lower case): `crm-tui mail` logs a message from one of them as Sent."""


SETTING_KEYS: tuple[str, ...] = tuple(f.name for f in fields(Config))
AUTOMATION_SWITCHES: tuple[str, ...] = tuple(f.name for f in fields(Automations))


def apply_to(crm, config: Config) -> None:
    """Make an open database follow the config: its automation switches and engagement cap win over
    the database's settings, and its date formats and default views are the ones shown. The app and
    every command-line command (imports included) call this, so a switch holds everywhere."""
    automations = config.automations
    crm.overrides.update({name: getattr(automations, name) for name in AUTOMATION_SWITCHES})
    crm.overrides["engagement_cap"] = config.engagement_cap
    crm.date_format = config.date_format
    crm.datetime_format = config.datetime_format
    crm.default_views = dict(config.default_views)


class _Invalid(Exception):
    """A value in the file has the wrong type or form; the message says what was expected."""


# --- loading -----------------------------------------------------------------------


def load_config(path: Path | None = None) -> tuple[Config, list[str]]:
    """Read the config file (default: paths.config_file()).

    Returns the settings and a list of one-line warnings. A missing file is not an
    error: it gives the defaults and no warnings.
    """
    path = Path(path) if path is not None else paths.config_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(), []
    except (OSError, UnicodeDecodeError) as error:
        return Config(), [f"{path}: cannot read the file ({_one_line(error)}); using defaults"]

    try:
        data = yaml.safe_load(text)
        # Nodes carry line numbers for the warnings; composing builds no objects.
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        return Config(), [_yaml_error_warning(path, error) + "; using defaults"]

    if data is None:
        return Config(), []
    if not isinstance(data, dict):
        return Config(), [
            f"{path}:1: expected 'key: value' settings at the top level, "
            f"found {_type_name(data)}; using defaults"
        ]
    return _parse_settings(data, _Reporter(path, _key_lines(root)), path.parent)


class _Reporter:
    """Collects warnings, each prefixed with the file and the line of the key at fault."""

    def __init__(self, path: Path, lines: dict[tuple[str, ...], int]) -> None:
        self.path = path
        self.lines = lines
        self.warnings: list[str] = []

    def warn(self, key_path: tuple[str, ...], message: str) -> None:
        line = self.lines.get(key_path) or self.lines.get(key_path[:1])
        where = f"{self.path}:{line}" if line else str(self.path)
        self.warnings.append(f"{where}: {message}")


def _parse_settings(
    data: dict[Any, Any], report: _Reporter, config_folder: Path
) -> tuple[Config, list[str]]:
    parsers: dict[str, Callable[[Any], Any]] = {
        "database": lambda value: _parse_database(value, config_folder),
        "theme": _parse_name,
        "date_format": _parse_strftime,
        "datetime_format": _parse_strftime,
        "default_views": lambda value: _parse_default_views(value, report),
        "automations": lambda value: _parse_automations(value, report),
        "engagement_cap": _parse_positive_int,
        "keymap": lambda value: _parse_keymap(value, report),
        "user_name": _parse_user_name,
        "my_addresses": _parse_addresses,
    }
    settings: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key)
        parse = parsers.get(name)
        if parse is None:
            report.warn((name,), f"unknown key {name!r} (ignored){_suggestion(name, SETTING_KEYS)}")
            continue
        if value is None:  # "key:" with nothing after it means "use the default"
            continue
        try:
            settings[name] = parse(value)
        except _Invalid as problem:
            report.warn((name,), f"{name}: {problem}; using the default")
    return Config(**settings), report.warnings


def _parse_database(value: Any, config_folder: Path) -> Path | str:
    text = _parse_name(value)
    if "://" in text:  # a server's database (postgresql://...): a URL, never a file name
        return text
    database = Path(os.path.expandvars(os.path.expanduser(text)))
    # A relative path is taken relative to the config file, not to wherever the
    # user happened to start the app.
    return database if database.is_absolute() else config_folder / database


def _parse_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"expected text, found {_type_name(value)}")
    return value.strip()


def _parse_strftime(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(f"expected a strftime format such as '%Y-%m-%d', found {_type_name(value)}")
    try:
        time.strftime(value)
    except ValueError as error:  # e.g. Windows refuses unknown directives
        raise _Invalid(f"not a valid strftime format ({error})") from None
    return value


def _parse_positive_int(value: Any) -> int:
    # bool is a subclass of int in Python; "true" is not a number here.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Invalid(f"expected a whole number above 0, found {value!r}")
    return value


def _parse_user_name(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected text, found {_type_name(value)}")
    # The name is shown in history; keep terminal control characters out of it.
    printable = "".join(ch for ch in value if ch.isprintable()).strip()
    if not printable:
        raise _Invalid("expected a non-empty name")
    return printable


def _parse_addresses(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise _Invalid(f"expected a list of email addresses, found {_type_name(value)}")
    addresses = tuple(dict.fromkeys(item.strip().lower() for item in items if item.strip()))
    bad = [address for address in addresses if "@" not in address or any(c.isspace() for c in address)]
    if bad:
        raise _Invalid(f"{bad[0]!r} is not an email address")
    return addresses


def _parse_default_views(value: Any, report: _Reporter) -> dict[str, str]:
    entries = _require_mapping(value, "object: view name")
    views: dict[str, str] = {}
    for object_name, view_name in entries.items():
        if not isinstance(view_name, str) or not view_name.strip():
            report.warn(
                ("default_views", str(object_name)),
                f"default_views.{object_name}: expected a view name, "
                f"found {_type_name(view_name)} (ignored)",
            )
            continue
        views[str(object_name)] = view_name.strip()
    return views


def _parse_automations(value: Any, report: _Reporter) -> Automations:
    entries = _require_mapping(value, "switch: true/false")
    switches: dict[str, bool] = {}
    for switch, enabled in entries.items():
        name = str(switch)
        key_path = ("automations", name)
        if name not in AUTOMATION_SWITCHES:
            report.warn(
                key_path,
                f"unknown automation {name!r} (ignored)"
                f"{_suggestion(name, AUTOMATION_SWITCHES)}",
            )
        elif not isinstance(enabled, bool):
            report.warn(
                key_path,
                f"automations.{name}: expected true or false, found {enabled!r}; using the default",
            )
        else:
            switches[name] = enabled
    return Automations(**switches)


def _parse_keymap(value: Any, report: _Reporter) -> dict[str, str]:
    entries = _require_mapping(value, "binding id: key")
    keymap: dict[str, str] = {}
    for binding_id, keys in entries.items():
        if isinstance(keys, list) and keys and all(isinstance(key, str) for key in keys):
            keys = ",".join(keys)  # Textual's own form for several keys is "a,b"
        elif isinstance(keys, int) and not isinstance(keys, bool):
            keys = str(keys)  # `goto_first: 1` parses as a number
        if not isinstance(keys, str) or not keys.strip():
            report.warn(
                ("keymap", str(binding_id)),
                f"keymap.{binding_id}: expected a key such as 'ctrl+n', "
                f"found {_type_name(keys)} (ignored)",
            )
            continue
        keymap[str(binding_id)] = keys.strip()
    return keymap


def _require_mapping(value: Any, expected_entries: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f"expected entries of the form '{expected_entries}', found {_type_name(value)}")
    return value


# --- saving one setting -----------------------------------------------------------


def save_setting(key: str, value: Any, path: Path | None = None) -> list[str]:
    """Set one top-level key in the config file, keeping everything else as written.

    Comments and the order of other keys are preserved. Returns warnings (empty when
    saved); a file that is not valid YAML is left untouched rather than overwritten.
    """
    if key not in SETTING_KEYS:
        raise ValueError(f"unknown setting {key!r}; expected one of {', '.join(SETTING_KEYS)}")
    if isinstance(value, Path):
        value = str(value)
    path = Path(path) if path is not None else paths.config_file()

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as error:
        return [f"{path}: cannot read the file ({_one_line(error)}); {key} not saved"]

    try:
        updated = _with_setting(text, key, value)
    except yaml.YAMLError as error:
        return [_yaml_error_warning(path, error) + f"; {key} not saved"]
    except _Invalid as problem:
        return [f"{path}: {problem}; {key} not saved"]

    try:
        _write_atomically(path, updated)
    except OSError as error:
        return [f"{path}: cannot write the file ({_one_line(error)}); {key} not saved"]
    return []


def _with_setting(text: str, key: str, value: Any) -> str:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    yaml.safe_load(text)  # refuse to edit a file we could not load ourselves
    block = _dump({key: value})

    if root is None:  # empty file, or only comments
        separator = "" if not text or text.endswith("\n") else "\n"
        return text + separator + block
    if not isinstance(root, yaml.MappingNode):
        raise _Invalid("the file does not hold 'key: value' settings")
    if root.flow_style:  # the whole file is one {...}: rewrite it plainly
        data = yaml.safe_load(text)
        data[key] = value
        return _dump(data)

    lines = text.splitlines(keepends=True)
    for key_node, value_node in root.value:
        if not (isinstance(key_node, yaml.ScalarNode) and key_node.value == key):
            continue
        key_line = key_node.start_mark.line
        on_one_line = (
            isinstance(value_node, yaml.ScalarNode)
            and value_node.style in (None, "'", '"')  # not a | or > block
            and value_node.start_mark.line == value_node.end_mark.line == key_line
        )
        if on_one_line and block.count("\n") == 1:
            # Replace only the value, so a trailing "# comment" survives.
            line = lines[key_line]
            new_value = block.split(":", 1)[1].strip()
            start, end = value_node.start_mark.column, value_node.end_mark.column
            if start == end:  # "key:" with an empty value
                new_value = " " + new_value
            lines[key_line] = line[:start] + new_value + line[end:]
            return "".join(lines)
        end_line = value_node.end_mark.line + (1 if value_node.end_mark.column > 0 else 0)
        # A block value's end mark sits on the next key, so comments written just
        # above that key would be counted in; give them back.
        while end_line > key_line + 1 and _is_comment_or_blank(lines[end_line - 1]):
            end_line -= 1
        lines[key_line:end_line] = [block]
        return "".join(lines)

    separator = "" if text.endswith("\n") else "\n"
    return text + separator + block


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(
        data, default_flow_style=False, sort_keys=False, allow_unicode=True, width=float("inf")
    )


def _is_comment_or_blank(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _write_atomically(path: Path, text: str) -> None:
    """Through safe_files, as every file crm-tui writes: private (0600), complete or absent, and
    never onto a database (the configured one included)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    protect = [os.environ.get("CRM_TUI_DB")]
    write_text(path, text, protect=protect, overwrite=True, what="config file")


# --- helpers ------------------------------------------------------------------------


def _key_lines(root: yaml.Node | None) -> dict[tuple[str, ...], int]:
    """1-based line of every key, for the top level and one level down."""
    lines: dict[tuple[str, ...], int] = {}
    if not isinstance(root, yaml.MappingNode):
        return lines
    for key_node, value_node in root.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        lines[(key_node.value,)] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.MappingNode):
            for child_key, _ in value_node.value:
                if isinstance(child_key, yaml.ScalarNode):
                    lines[(key_node.value, child_key.value)] = child_key.start_mark.line + 1
    return lines


def _yaml_error_warning(path: Path, error: yaml.YAMLError) -> str:
    line, problem = describe_yaml_error(error)
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: not valid YAML ({problem})"


def describe_yaml_error(error: yaml.YAMLError) -> tuple[int | None, str]:
    """(1-based line, one-line problem) for a YAML error.

    The line is where the faulty construct starts when YAML knows it (an unclosed
    "[" is reported at the end of the file otherwise), else where parsing failed.
    """
    mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    return (mark.line + 1 if mark is not None else None), _one_line(problem)


def _suggestion(name: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    names = {bool: "true/false", int: "a number", float: "a number", str: "text",
             list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


def _one_line(value: object) -> str:
    return " ".join(str(value).split())
