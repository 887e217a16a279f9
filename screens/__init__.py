"""Textual screens. Each is imported when first needed, so that the app's first frame does not
wait for screens nobody has opened yet; `load_all()` imports every one, for a user's keymap to
name any binding id before the screen that declares it has been opened (crm_tui/shell/keymap.py)."""

from importlib import import_module

SCREEN_MODULES = ("board", "help", "history", "import_wizard", "index", "modals", "operations", "pipelines", "progress",
                  "record", "tasks", "welcome")


def load_all() -> None:
    for name in SCREEN_MODULES:
        import_module(f"{__name__}.{name}")
