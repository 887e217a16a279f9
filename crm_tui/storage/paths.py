"""Where crm-tui keeps its files (XDG base directories, via platformdirs).

Every function reads the environment when it is called, not when this module is
imported, so tests (and users) can point XDG_DATA_HOME / XDG_CONFIG_HOME elsewhere.
This module is part of the core: it must not import Textual.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "crm-tui"


def _xdg_home(variable: str) -> Path | None:
    """The directory named by an XDG variable, if it is set to an absolute path.

    The XDG spec says relative values must be ignored. platformdirs honours these
    variables on Linux and (since 4.x) macOS, but not on Windows or in older
    releases, so we read them first to behave the same everywhere.
    """
    value = os.environ.get(variable, "").strip()
    if value and os.path.isabs(value):
        return Path(value)
    return None


def data_dir() -> Path:
    """$XDG_DATA_HOME/crm-tui, or the platform's user data directory."""
    home = _xdg_home("XDG_DATA_HOME")
    if home is not None:
        return home / APP_NAME
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """$XDG_CONFIG_HOME/crm-tui, or the platform's user config directory."""
    home = _xdg_home("XDG_CONFIG_HOME")
    if home is not None:
        return home / APP_NAME
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    """The database used when neither --db, CRM_TUI_DB nor the config names one."""
    return data_dir() / "crm.db"


def config_file() -> Path:
    return config_dir() / "config.yaml"


def user_themes_dir() -> Path:
    """Users drop their own theme *.yaml files here."""
    return config_dir() / "themes"
