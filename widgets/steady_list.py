"""An OptionList that renders its options once when a screen opens, instead of two or three times.

Textual's OptionList drops every rendered option and every line height on each Resize event, and a
list that has just been filled gets one as soon as its line count is known (its virtual size
changes), plus one more when that count brings up the vertical scrollbar (its width changes). On
the record screen that rendered the properties, the timeline and the sidebar again after the first
frame. Here:

- a Resize drops them only when the width they were made at has changed (a new height or virtual
  size does not change how an option renders or how many lines it takes);
- a list filled before its first layout says at once how many lines it has at least (one per
  option), so a list that will scroll has its scrollbar, and its final width, in the first layout.
"""

from __future__ import annotations

from textual import events
from textual.geometry import Size
from textual.widgets import OptionList


class SteadyOptionList(OptionList):
    _cache_width: int | None = None
    _drawing = False  # inside render_lines, whose first step brought the lines up to date

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Options here are records' values, shown literally: they hold no links to style (each
        # option drawn worked out the widget's link style, and each line was searched for links).
        self.set_reactive(OptionList.auto_links, False)

    @property
    def _lines(self):
        # OptionList brings its lines up to date on every line it draws; render_lines already has.
        if not self._drawing:
            self._update_lines()
        return self._line_cache.lines

    def render_lines(self, crop):
        self._update_lines()
        self._drawing = True
        try:
            return super().render_lines(crop)
        finally:
            self._drawing = False

    def _update_lines(self) -> None:
        if not self._line_cache.lines:  # (re)building: remember the width the lines are made at
            self._cache_width = self.scrollable_content_region.width
        super()._update_lines()

    def _on_resize(self, event: events.Resize) -> None:
        if self._line_cache.lines and self.scrollable_content_region.width == self._cache_width:
            # OptionList's own handler (next in the MRO) would drop them. Nothing to repaint
            # either: a new size has already marked the widget dirty in the layout that sent this.
            event.prevent_default()

    def _size_updated(self, size, virtual_size, container_size, layout: bool = True) -> bool:
        # ScrollView compares the virtual size the compositor passes (the list's region) with its
        # own (its lines): they never agree, so every layout of the screen refreshed the list's
        # scrollbars and drew them again. Nothing of the list changed: nothing to update (a new
        # line count updates the scrollbars itself, in _update_lines).
        if size == self._size and size - self.styles.gutter.totals == self._container_size:
            return self._container_size != container_size
        return super()._size_updated(size, virtual_size, container_size, layout)

    def estimate_lines(self) -> None:
        """Before the first layout: at least one line per option (options may wrap to more)."""
        if not self.scrollable_content_region and self.option_count > self.virtual_size.height:
            self.virtual_size = Size(self.virtual_size.width, self.option_count)

    def count_lines(self) -> None:
        """Once the list has a size: its lines at that width, and its true virtual size."""
        if self.display and self.scrollable_content_region:
            self._update_lines()
