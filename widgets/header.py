"""A Header whose title is set again only when it changes.

Textual's Header sets its title from four watchers (the app's and the screen's title and sub
title), each run after the header mounts: on a screen that opens with its title already shown,
the later ones set the same title again, and each set lays the screen out and draws a frame.
"""

from __future__ import annotations

from textual.widgets import Header
from textual.widgets._header import HeaderTitle


class SteadyTitle(HeaderTitle):
    _shown: tuple | None = None

    def update(self, content="", *, layout: bool = True) -> None:
        # what the title shows: its text and its styles (Content compares its text only)
        shown = (str(content), tuple(getattr(content, "spans", ())))
        if shown == self._shown:
            return
        self._shown = shown
        super().update(content, layout=layout)


class SteadyHeader(Header):
    def compose(self):
        for widget in super().compose():
            yield SteadyTitle() if type(widget) is HeaderTitle else widget
