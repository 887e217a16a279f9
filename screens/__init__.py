"""Textual screens. Each is imported when first needed, so that the app's first frame does not
wait for screens nobody has opened yet; `load_all()` imports every one, for a user's keymap to
name any binding id before the screen that declares it has been opened (crm_tui/shell/keymap.py)."""

from importlib import import_module
from pkgutil import iter_modules


def screen_modules() -> list[str]:
    """Every module of this package (a list kept by hand had fallen behind the screens added)."""
    return sorted(info.name for info in iter_modules(__path__))


def load_all() -> None:
    for name in screen_modules():
        import_module(f"{__name__}.{name}")
