"""Colour themes: the ones shipped in the `themes` package plus the user's own.

A theme file is a YAML palette (see themes/dark.yaml). A user's broken theme file
never stops the app: it gives a one-line warning naming the file and is skipped.
This module is app-side and may import Textual.
"""

from __future__ import annotations

import re
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from textual.color import Color, ColorParseError
from textual.css.constants import VALID_STYLE_FLAGS
from textual.theme import Theme

from crm_tui.storage import paths
from crm_tui.storage.config import DEFAULT_THEME, describe_yaml_error
from textual.app import App as TextualApp

if TYPE_CHECKING:
    from textual.app import App

THEMES_PACKAGE = "themes"
SHIPPED_THEME_NAMES = ("dark", "light", "high-contrast")

COLOUR_KEYS = (
    "primary", "secondary", "accent", "foreground", "background",
    "surface", "panel", "boost", "success", "warning", "error",
)
NUMBER_KEYS = ("luminosity_spread", "text_alpha")
KNOWN_KEYS = frozenset(("name", "dark", "variables", *COLOUR_KEYS, *NUMBER_KEYS))

# The name becomes a CSS class ("-theme-<name>"), so keep it to identifier characters.
_THEME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_PERCENTAGE = re.compile(r"^\d+(\.\d+)?%$")
# Values Textual accepts for colour variables that Color.parse does not.
_COLOUR_KEYWORDS = frozenset(("auto", "initial"))


class ThemeFileError(Exception):
    """A theme file cannot be used; the message says why, in one line."""


def app_css_path() -> Path:
    """The app's shared TCSS, for App.CSS_PATH."""
    return Path(str(resources.files(THEMES_PACKAGE) / "app.tcss"))


def load_themes(user_dir: Path | None = None, *, only: str | None = None) -> tuple[list[Theme], list[str]]:
    """The shipped themes, then the user's (user_dir defaults to paths.user_themes_dir()).

    A user theme with the same name as a shipped one replaces it. Returns the themes
    and one-line warnings about files that were skipped or partly ignored.

    only: the theme about to be shown. When it is a shipped one and the user has no theme
    files, only its file is read (the app reads the others after its first frame).
    """
    user_dir = Path(user_dir) if user_dir is not None else paths.user_themes_dir()
    themes: dict[str, Theme] = {}
    warnings: list[str] = []
    user_files = sorted(user_dir.glob("*.yaml")) if user_dir.is_dir() else []

    shipped = resources.files(THEMES_PACKAGE)
    if only in SHIPPED_THEME_NAMES and not user_files:
        _add_theme_file(shipped / f"{only}.yaml", themes, warnings, origins={})
        return list(themes.values()), warnings
    for entry in sorted(shipped.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".yaml"):
            _add_theme_file(entry, themes, warnings, origins={})

    origins: dict[str, str] = {}
    for file in user_files:
        _add_theme_file(file, themes, warnings, origins)
    return list(themes.values()), warnings


def register_themes(app: App[Any], themes: list[Theme]) -> None:
    for theme in themes:
        app.register_theme(theme)


def apply_theme(app: App[Any], name: str) -> list[str]:
    """Switch to the named theme, or to the default one if it is not registered."""
    if name in app.available_themes:
        _set_theme(app, name)
        return []
    fallback = DEFAULT_THEME if DEFAULT_THEME in app.available_themes else "textual-dark"
    _set_theme(app, fallback)
    known = ", ".join(sorted(app.available_themes))
    return [f"theme {name!r} not found (available: {known}); using {fallback!r}"]


def _set_theme(app: App[Any], name: str) -> None:
    """Set the theme. Before the app runs, its style sheet has not been parsed yet and will be
    parsed with this theme's variables: setting the `theme` reactive would queue a second parse of
    every style sheet (App._watch_theme's refresh_css) before the first frame. So only what that
    watcher does besides re-parsing is done here: the style sheet's variables, the theme's classes
    on the app and the colours its ANSI filter maps to."""
    if app.is_running:
        app.theme = name
        return

    app.set_reactive(TextualApp.theme, name)
    theme = app.current_theme
    classes = {cls: False for cls in app.classes if cls.startswith("-theme-")}
    classes.update({f"-theme-{theme.name}": True, "-dark-mode": theme.dark, "-light-mode": not theme.dark})
    app.update_classes(classes, update=False)
    app.stylesheet.set_variables(app.get_css_variables())  # made with the default theme's colours
    refresh_filter = getattr(app, "_refresh_truecolor_filter", None)
    if refresh_filter is not None:
        refresh_filter(app.ansi_theme)


def _add_theme_file(
    file: Path | Traversable,
    themes: dict[str, Theme],
    warnings: list[str],
    origins: dict[str, str],
) -> None:
    label = str(file)
    try:
        theme, notes = parse_theme(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        warnings.append(f"{label}: cannot read the theme ({' '.join(str(error).split())}); skipped")
        return
    except ThemeFileError as problem:
        warnings.append(f"{label}{problem}; theme skipped")
        return
    warnings.extend(f"{label}: {note}" for note in notes)
    if theme.name in origins:
        warnings.append(
            f"{label}: theme {theme.name!r} is also defined in {origins[theme.name]}; "
            "using this file"
        )
    origins[theme.name] = label
    themes[theme.name] = theme


def parse_theme(text: str) -> tuple[Theme, list[str]]:
    """Build a Theme from a theme file's text.

    Raises ThemeFileError (message starts with ":<line>: " or ": ") when the theme
    cannot be used. Returns notes about keys that were ignored.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        line, problem = describe_yaml_error(error)
        where = f":{line}" if line else ""
        raise ThemeFileError(f"{where}: not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise ThemeFileError(": expected 'key: value' entries (name, primary, ...)")

    notes = [f"unknown key {str(key)!r} (ignored)" for key in data if key not in KNOWN_KEYS]
    name = data.get("name")
    if not isinstance(name, str) or not _THEME_NAME.match(name):
        raise ThemeFileError(
            ": 'name' is missing or not a simple name (letters, digits, '-' and '_')"
        )

    options: dict[str, Any] = {"name": name}
    for key in COLOUR_KEYS:
        if key in data:
            options[key] = _colour(key, data[key])
    if "primary" not in options:
        raise ThemeFileError(": 'primary' colour is missing")
    for key in NUMBER_KEYS:
        if key in data:
            options[key] = _number(key, data[key])
    if "dark" in data:
        if not isinstance(data["dark"], bool):
            raise ThemeFileError(f": 'dark' must be true or false, not {data['dark']!r}")
        options["dark"] = data["dark"]
    options["variables"] = _variables(data.get("variables"))

    theme = Theme(**options)
    try:
        theme.to_color_system().generate()  # the same work Textual does on switching
    except (ColorParseError, ValueError, TypeError) as error:
        raise ThemeFileError(f": {' '.join(str(error).split())}") from None
    return theme, notes


def _colour(key: str, value: Any) -> str:
    if value is None:
        # The classic mistake: `primary: #ff0000` is a YAML comment, so the value is empty.
        raise ThemeFileError(f": {key!r} is empty (quote colours: {key}: \"#ff0000\")")
    if not isinstance(value, str):
        raise ThemeFileError(f": {key!r} must be a colour such as \"#ff0000\", not {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f": {key!r} is not a colour: {value!r}") from None
    return value


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ThemeFileError(f": {key!r} must be a number from 0 to 1, not {value!r}")
    return float(value)


def _variables(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ThemeFileError(": 'variables' must be 'name: value' entries")
    variables: dict[str, str] = {}
    for name, setting in value.items():
        if not isinstance(setting, str) or not _is_variable_value(setting):
            # A bad value would break every style sheet that uses it at run time.
            raise ThemeFileError(f": variable {str(name)!r} has an unusable value {setting!r}")
        variables[str(name)] = setting
    return variables


def _is_variable_value(value: str) -> bool:
    """Colours ("#fff", "red 50%", "auto 87%") or text styles ("bold", "b reverse")."""
    tokens = value.split()
    if not tokens:
        return False
    if all(token in VALID_STYLE_FLAGS for token in tokens):
        return True
    if len(tokens) > 2 or (len(tokens) == 2 and not _PERCENTAGE.match(tokens[1])):
        return False
    if tokens[0] in _COLOUR_KEYWORDS:
        return True
    try:
        Color.parse(tokens[0])
    except ColorParseError:
        return False
    return True
