"""Textual screens. Importing this package imports every screen so their binding ids are known."""

from importlib import import_module

for _name in ("index", "record", "history", "board", "pipelines", "import_wizard", "help", "welcome", "modals",
              "progress"):
    try:
        import_module(f"screens.{_name}")
    except ModuleNotFoundError as exc:  # a screen not built yet
        if exc.name != f"screens.{_name}":
            raise
