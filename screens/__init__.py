"""Textual screens. Importing this package imports every screen, so that a user's keymap can name
any binding id before the screen that declares it has been opened."""

from . import (  # noqa: F401
    board,
    help,
    history,
    import_wizard,
    index,
    modals,
    operations,
    pipelines,
    progress,
    record,
    welcome,
)
