"""A virtual table for index pages: instant at 1,000,000 rows.

Built on Textual's Line API (``ScrollView`` + ``render_line``), modelled on toolong's log view: the
widget never holds all rows. It asks a ``RowSource`` for windows of rows (pages of ``page_size``)
as lines scroll into view and keeps a small LRU of pages. It never runs SQL and never imports the
database; the index screen hands it a source and a list of ``Column`` objects.

Layout: line 0 is a fixed header (labels and a sort marker), every other line is one row. A
two-cell gutter on the left shows a check mark for selected rows. The cursor has a row and a
column (the column says which cell ``enter`` opens).

User data is never code: cells and labels become plain ``Segment``s (no markup is parsed) after
control characters and escape sequences are stripped.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import ClassVar, Protocol, Sequence, runtime_checkable

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Size, clamp
from textual.message import Message
from textual.reactive import reactive, var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from crm_tui.domain.sanitize import clean_line

Row = tuple[int, tuple[str, ...]]
"""One row as a source returns it: (record_id, cell strings in column order)."""


@runtime_checkable
class RowSource(Protocol):
    """Where a RecordTable gets its rows. Implemented by the screen / core service, not by the widget."""

    def count(self) -> int:
        """Total rows in the current view. May be slow-ish: the table calls it once per reload."""
        ...

    def fetch(self, start: int, limit: int) -> list[tuple[int, tuple[str, ...]]]:
        """Rows [start, start+limit) as (record_id, cells); cells follow the table's column order."""
        ...


@dataclass(frozen=True)
class Column:
    """A column of the table.

    width: preferred width in cells, or None for a flexible column that shares the spare width.
    min_width: the narrowest the column may get before it is hidden instead.
    priority: columns with a lower priority are hidden first when the terminal is narrow
        (ties: the rightmost goes first). The first column is never hidden.
    """

    key: str
    label: str
    width: int | None = None
    min_width: int = 6
    priority: int = 0


@dataclass(frozen=True)
class PlacedColumn:
    """A column as laid out for one width: where it starts and how wide it is."""

    column: Column
    index: int  # position in the full column list, which is also the index into a row's cells
    x: int  # first cell, counted from the start of the line (after the gutter)
    width: int


_NOT_ANNOUNCED = object()  # forces a CursorMoved after a new source, even onto an equal id

GUTTER_WIDTH = 2  # "✓ " for a selected row
COLUMN_GAP = 1
SELECTED_MARK = "✓"
ELLIPSIS = "…"
SORT_ASCENDING_MARK = "▲"
SORT_DESCENDING_MARK = "▼"


def layout_columns(columns: Sequence[Column], available_width: int) -> list[PlacedColumn]:
    """Choose which columns show and how wide, so that the line never overflows.

    Columns are hidden (lowest priority first) until the rest fit at their minimum widths; the
    spare width then grows fixed columns toward their preferred width (most important first) and
    is shared evenly by flexible columns. The first column always shows, cropped if it must.
    """
    if not columns or available_width <= 0:
        return []

    def narrowest(column: Column) -> int:
        if column.width is None:
            return max(1, column.min_width)
        return max(1, min(column.min_width, column.width))

    def needed(indexes: list[int]) -> int:
        return sum(narrowest(columns[i]) for i in indexes) + COLUMN_GAP * (len(indexes) - 1)

    shown = list(range(len(columns)))
    hide_order = sorted(range(1, len(columns)), key=lambda i: (columns[i].priority, -i))
    for index in hide_order:
        if needed(shown) <= available_width:
            break
        shown.remove(index)

    widths = {i: narrowest(columns[i]) for i in shown}
    if shown == [0]:
        widths[0] = min(widths[0], available_width)
    spare = available_width - needed(shown)

    fixed = sorted(
        (i for i in shown if columns[i].width is not None), key=lambda i: (-columns[i].priority, i)
    )
    for i in fixed:
        grow = min(spare, max(0, columns[i].width - widths[i]))  # type: ignore[operator]
        widths[i] += grow
        spare -= grow

    flexible = [i for i in shown if columns[i].width is None]
    if flexible and spare > 0:
        share, remainder = divmod(spare, len(flexible))
        for n, i in enumerate(flexible):
            widths[i] += share + (1 if n < remainder else 0)

    placed: list[PlacedColumn] = []
    x = 0
    for i in shown:
        placed.append(PlacedColumn(columns[i], i, x, widths[i]))
        x += widths[i] + COLUMN_GAP
    return placed


def fit_to_width(text: str, width: int) -> str:
    """Pad or truncate (with an ellipsis) to exactly `width` cells; wide characters count double."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + ELLIPSIS


def literal_text(value: object) -> str:
    """User text made safe for one terminal line: no control characters or escape sequences."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if text.isprintable():
        return text
    return clean_line(text)


class RecordTable(ScrollView, can_focus=True, inherit_bindings=False):
    """A virtual, keyboard-first table of records that reads windows of rows from a RowSource."""

    ALLOW_SELECT = False  # clicks move the cursor; screen text selection would fight with that

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Down", show=False, id="table.cursor_down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="table.cursor_up"),
        Binding("pagedown,ctrl+d", "cursor_page_down", "Page down", show=False, id="table.page_down"),
        Binding("pageup,ctrl+u", "cursor_page_up", "Page up", show=False, id="table.page_up"),
        Binding("g,home", "cursor_top", "Top", show=False, id="table.cursor_top"),
        Binding("G,end", "cursor_bottom", "Bottom", show=False, id="table.cursor_bottom"),
        Binding("h,left", "column_left", "Column left", show=False, id="table.column_left"),
        Binding("l,right", "column_right", "Column right", show=False, id="table.column_right"),
        Binding("space", "toggle_selection", "Select", id="table.toggle_selection"),
        Binding("enter", "open", "Open", id="table.open"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "record-table--header",
        "record-table--cursor",
        "record-table--cell-cursor",
        "record-table--selected",
        "record-table--odd-row",
        "record-table--empty",
    }

    DEFAULT_CSS = """
    RecordTable {
        width: 1fr;
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        background: $surface;
        color: $foreground;
        border: round $border-blurred;
        border-subtitle-align: right;
        border-subtitle-color: $foreground-muted;

        &:focus {
            border: round $border;
            & > .record-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .record-table--header {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .record-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .record-table--cell-cursor {
            text-style: bold underline;
        }
        & > .record-table--selected {
            background: $accent-muted;
            color: $foreground;
        }
        & > .record-table--odd-row {
            background: $surface-lighten-1 50%;
        }
        & > .record-table--empty {
            color: $foreground-muted;
            text-style: italic;
        }

        /* 16 colours: no blended stripes, and a cursor that shows even when blurred. */
        &:ansi {
            & > .record-table--header { background: ansi_default; text-style: bold underline; }
            & > .record-table--odd-row { background: ansi_default; }
            & > .record-table--selected { background: ansi_default; color: ansi_green; }
            & > .record-table--cursor { text-style: reverse; }
        }
        &:ansi:focus > .record-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: bold;
        }

        /* NO_COLOR: colours are removed, so every state must show through text style alone. */
        &:nocolor {
            & > .record-table--header { text-style: bold underline; }
            & > .record-table--cursor { text-style: reverse; }
            & > .record-table--selected { text-style: bold; }
        }
        &:nocolor:focus > .record-table--cursor { text-style: reverse bold; }
    }
    """

    sort_key: reactive[str | None] = reactive(None)
    """Key of the column the rows are sorted by (drawn with a ▲/▼ marker); set by the screen."""
    sort_desc: reactive[bool] = reactive(False)
    """True if `sort_key` is descending."""
    position_text: var[str] = var("")
    """'row 12,345 of 1,000,000 · 3 selected': for the screen to show; also the border subtitle."""

    class CursorMoved(Message):
        """The cursor moved to another row (or the row under it changed after a reload)."""

        def __init__(self, table: RecordTable, row_index: int, record_id: int | None) -> None:
            self.table = table
            self.row_index = row_index
            self.record_id = record_id
            super().__init__()

        @property
        def control(self) -> RecordTable:
            return self.table

    class Opened(Message):
        """Enter (or a double click) on a row: open `record_id`, from the cell in `column_key`."""

        def __init__(
            self, table: RecordTable, record_id: int, row_index: int, column_key: str | None
        ) -> None:
            self.table = table
            self.record_id = record_id
            self.row_index = row_index
            self.column_key = column_key
            super().__init__()

        @property
        def control(self) -> RecordTable:
            return self.table

    class SelectionChanged(Message):
        """The multi-selection changed; `selected_ids` are in the order they were selected."""

        def __init__(self, table: RecordTable, selected_ids: tuple[int, ...]) -> None:
            self.table = table
            self.selected_ids = selected_ids
            super().__init__()

        @property
        def control(self) -> RecordTable:
            return self.table

    class HeaderClicked(Message):
        """A column label was clicked (the screen may sort by it)."""

        def __init__(self, table: RecordTable, column_key: str) -> None:
            self.table = table
            self.column_key = column_key
            super().__init__()

        @property
        def control(self) -> RecordTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column] = (),
        source: RowSource | None = None,
        *,
        page_size: int = 100,
        cached_pages: int = 20,
        empty_text: str = "No records",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._columns: tuple[Column, ...] = tuple(columns)
        self._source = source
        self._page_size = max(1, page_size)
        self._cached_pages = max(2, cached_pages)
        self.empty_text = empty_text
        self._pages: OrderedDict[int, list[Row]] = OrderedDict()
        self._row_count = 0
        self._was_empty: bool | None = None  # the footer was last told: no rows (True) or some
        self._cursor_row = 0
        self._cursor_column_key: str | None = self._columns[0].key if self._columns else None
        self._selected: dict[int, None] = {}  # record ids, in selection order
        self._column_layout_cache: tuple[tuple[int, int], list[PlacedColumn]] | None = None
        # Columns scrolled off to the left (the first column stays put): h/l past the edge scroll.
        self._column_offset = 0
        self._hidden_columns = 0
        self._last_cursor_record_id: object = _NOT_ANNOUNCED

    # ------------------------------------------------------------------ public API

    @property
    def source(self) -> RowSource | None:
        return self._source

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._columns

    @property
    def row_count(self) -> int:
        """Rows in the current view, as counted at the last reload."""
        return self._row_count

    @property
    def cursor_row(self) -> int:
        """Index (0-based) of the row under the cursor."""
        return self._cursor_row

    @cursor_row.setter
    def cursor_row(self, row_index: int) -> None:
        self.move_to(row_index)

    @property
    def cursor_record_id(self) -> int | None:
        """Record id under the cursor, or None if the view is empty."""
        return self.record_id_at(self._cursor_row)

    @property
    def cursor_column_key(self) -> str | None:
        """Key of the column under the column cursor (the cell `enter` opens); always a shown column."""
        if self.is_mounted:
            self._layout()  # after a resize, moves the column cursor off a column that was hidden
        return self._cursor_column_key

    @property
    def selected_ids(self) -> tuple[int, ...]:
        """Selected record ids, in the order they were selected."""
        return tuple(self._selected)

    @property
    def hidden_columns(self) -> int:
        """How many columns do not fit the width (scrolled off either side); h/l reach them."""
        if self.is_mounted:
            self._layout()
        return self._hidden_columns

    @property
    def visible_columns(self) -> list[Column]:
        """The columns that fit the current width, in display order."""
        return [placed.column for placed in self._layout()]

    def set_source(self, source: RowSource | None) -> None:
        """Show another view: cursor to the top, selection cleared, rows recounted."""
        self._source = source
        self._cursor_row = 0
        self._last_cursor_record_id = _NOT_ANNOUNCED
        if self._selected:
            self._selected.clear()
            self.post_message(self.SelectionChanged(self, ()))
        if self.is_mounted:
            self.scroll_to(y=0, animate=False, force=True)
            self.reload()

    def set_columns(self, columns: Sequence[Column]) -> None:
        """Change the columns. A source's cells follow column order, so cached rows are dropped."""
        self._columns = tuple(columns)
        self._column_layout_cache = None
        self._column_offset = 0
        keys = [column.key for column in self._columns]
        if self._cursor_column_key not in keys:
            self._cursor_column_key = keys[0] if keys else None
        self._pages.clear()
        self.refresh()

    def reload(self) -> None:
        """Recount the rows, drop cached rows and keep the cursor (clamped) and the selection."""
        if self.is_mounted:
            self._reload()

    def _reload(self) -> None:
        self._row_count = max(0, self._source.count()) if self._source is not None else 0
        self._pages.clear()
        self.virtual_size = Size(0, self._row_count + 1)  # +1 for the header line
        self._cursor_row = clamp(self._cursor_row, 0, max(0, self._row_count - 1))
        self._scroll_cursor_into_view()
        self._update_position_text()
        if (self._row_count == 0) != self._was_empty:  # check_action reads only this: the footer
            self._was_empty = self._row_count == 0    # is not rebuilt on every search keystroke
            self.refresh_bindings()
        self.refresh()
        record_id = self.cursor_record_id
        if record_id != self._last_cursor_record_id:
            self._last_cursor_record_id = record_id
            self.post_message(self.CursorMoved(self, self._cursor_row, record_id))

    def move_to(self, row_index: int, *, center: bool = False) -> None:
        """Move the cursor to a row (clamped) and scroll it into view, optionally centred."""
        if self._row_count == 0:
            return
        target = clamp(row_index, 0, self._row_count - 1)
        if center:
            self.scroll_to(y=target - self._viewport_rows // 2, animate=False, force=True)
        self._set_cursor_row(target)

    def clear_selection(self) -> None:
        if self._selected:
            self._selected.clear()
            self._selection_changed()

    def is_selected(self, record_id: int) -> bool:
        return record_id in self._selected

    def record_id_at(self, row_index: int) -> int | None:
        """Record id of a row (fetching its page if needed), or None past the end."""
        row = self._row_at(row_index)
        return row[0] if row is not None else None

    # ------------------------------------------------------------------ rows and the page cache

    def _row_at(self, row_index: int) -> Row | None:
        if self._source is None or not 0 <= row_index < self._row_count:
            return None
        page_number, offset = divmod(row_index, self._page_size)
        page = self._pages.get(page_number)
        if page is None:
            page = self._load_page(page_number)
        else:
            self._pages.move_to_end(page_number)
        # The source may return fewer rows than counted (rows deleted since the last count).
        return page[offset] if offset < len(page) else None

    def _load_page(self, page_number: int) -> list[Row]:
        assert self._source is not None
        start = page_number * self._page_size
        limit = min(self._page_size, self._row_count - start)
        page = [
            (record_id, tuple(literal_text(cell) for cell in cells))
            for record_id, cells in self._source.fetch(start, limit)
        ]
        self._pages[page_number] = page
        # Never evict below a screenful, or a tall terminal would refetch on every frame.
        keep = max(self._cached_pages, self._viewport_rows // self._page_size + 2)
        while len(self._pages) > keep:
            self._pages.popitem(last=False)
        return page

    # ------------------------------------------------------------------ geometry

    @property
    def _line_width(self) -> int:
        return self.scrollable_content_region.width

    @property
    def _viewport_rows(self) -> int:
        """How many data rows fit below the header."""
        return max(1, self.scrollable_content_region.height - 1)

    @property
    def _top_row(self) -> int:
        return self.scroll_offset.y

    def _layout(self) -> list[PlacedColumn]:
        width = max(0, self._line_width - GUTTER_WIDTH)
        key = (width, self._column_offset)
        if self._column_layout_cache is None or self._column_layout_cache[0] != key:
            # The first column, then the rest from the offset; indexes stay those of the full list.
            view = [0, *range(1 + self._column_offset, len(self._columns))] if self._columns else []
            placed = [PlacedColumn(p.column, view[p.index], p.x, p.width)
                      for p in layout_columns([self._columns[i] for i in view], width)]
            self._column_layout_cache = (key, placed)
            self._keep_column_cursor_visible(placed)
            hidden = len(self._columns) - len(placed) if placed else 0
            if hidden != self._hidden_columns:
                self._hidden_columns = hidden
                self._update_position_text()
        return self._column_layout_cache[1]

    def _scroll_columns_to(self, index: int) -> bool:
        """Scroll sideways until the column at `index` (of the full list) is shown; False (and no
        scroll) when it cannot be shown beside the first column at this width."""
        if not 0 < index < len(self._columns):
            return False
        before = self._column_offset
        if index <= self._column_offset:
            self._column_offset = index - 1
        while self._column_offset < index - 1 and index not in {p.index for p in self._layout()}:
            self._column_offset += 1
        if index in {p.index for p in self._layout()}:
            return True
        self._column_offset = before
        self._layout()
        return False

    def _keep_column_cursor_visible(self, placed: list[PlacedColumn]) -> None:
        """If the column under the column cursor was hidden, move to the nearest shown one on its left."""
        if not placed or any(p.column.key == self._cursor_column_key for p in placed):
            return
        all_keys = [column.key for column in self._columns]
        hidden_index = all_keys.index(self._cursor_column_key) if self._cursor_column_key in all_keys else 0
        on_the_left = [p for p in placed if p.index <= hidden_index]
        self._cursor_column_key = (on_the_left[-1] if on_the_left else placed[0]).column.key

    def _scroll_cursor_into_view(self) -> None:
        top, rows = self._top_row, self._viewport_rows
        if self._cursor_row < top:
            self.scroll_to(y=self._cursor_row, animate=False, force=True)
        elif self._cursor_row >= top + rows:
            self.scroll_to(y=self._cursor_row - rows + 1, animate=False, force=True)

    # ------------------------------------------------------------------ cursor and selection

    def _set_cursor_row(self, row_index: int) -> None:
        previous = self._cursor_row
        self._cursor_row = row_index
        self._scroll_cursor_into_view()
        self.refresh()
        if row_index != previous:
            self._update_position_text()
            record_id = self.cursor_record_id
            self._last_cursor_record_id = record_id
            self.post_message(self.CursorMoved(self, row_index, record_id))

    def _move_cursor_by(self, rows: int) -> None:
        if self._row_count:
            self._set_cursor_row(clamp(self._cursor_row + rows, 0, self._row_count - 1))

    def _move_by_page(self, direction: int) -> None:
        """Move cursor and view together by a screenful, so the cursor keeps its place on screen."""
        if not self._row_count:
            return
        step = self._viewport_rows * direction
        self.scroll_to(y=self._top_row + step, animate=False, force=True)
        self._move_cursor_by(step)

    def _move_column_cursor(self, direction: int) -> None:
        placed = self._layout()
        keys = [p.column.key for p in placed]
        if not keys:
            return
        if self._cursor_column_key in keys:
            here = placed[keys.index(self._cursor_column_key)].index
            # Past the last shown column, or left of the first scrolled one: scroll sideways.
            if (direction > 0 and here == placed[-1].index and here + 1 < len(self._columns)) or (
                    direction < 0 and here > 1 and here - 1 not in {p.index for p in placed}):
                if self._scroll_columns_to(here + direction):
                    self._cursor_column_key = self._columns[here + direction].key
                self.refresh()
                return
            index = clamp(keys.index(self._cursor_column_key) + direction, 0, len(keys) - 1)
        else:
            index = 0
        self._cursor_column_key = keys[index]
        self.refresh()

    def _selection_changed(self) -> None:
        self._update_position_text()
        self.refresh()
        self.post_message(self.SelectionChanged(self, self.selected_ids))

    def _update_position_text(self) -> None:
        if self._row_count == 0:
            text = "no rows"
        else:
            text = f"row {self._cursor_row + 1:,} of {self._row_count:,}"
        if self._selected:
            text += f" · {len(self._selected):,} selected"
        if self._hidden_columns:
            text += f" · {self._hidden_columns} column{'s' if self._hidden_columns != 1 else ''} hidden (h/l)"
        self.position_text = text

    def watch_position_text(self, text: str) -> None:
        self.border_subtitle = Content(text)

    def watch_sort_key(self) -> None:
        self.refresh()

    def watch_sort_desc(self) -> None:
        self.refresh()

    # ------------------------------------------------------------------ actions

    def action_cursor_down(self) -> None:
        self._move_cursor_by(1)

    def action_cursor_up(self) -> None:
        self._move_cursor_by(-1)

    def action_cursor_page_down(self) -> None:
        self._move_by_page(1)

    def action_cursor_page_up(self) -> None:
        self._move_by_page(-1)

    def action_cursor_top(self) -> None:
        self.move_to(0)

    def action_cursor_bottom(self) -> None:
        self.move_to(self._row_count - 1)

    def action_column_left(self) -> None:
        self._move_column_cursor(-1)

    def action_column_right(self) -> None:
        self._move_column_cursor(1)

    def action_toggle_selection(self) -> None:
        record_id = self.cursor_record_id
        if record_id is None:
            return
        if record_id in self._selected:
            del self._selected[record_id]
        else:
            self._selected[record_id] = None
        self._selection_changed()

    def action_open(self) -> None:
        record_id = self.cursor_record_id
        if record_id is not None:
            self.post_message(
                self.Opened(self, record_id, self._cursor_row, self.cursor_column_key)
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Shown but dimmed in the footer while there is nothing to open or select.
        if action in ("open", "toggle_selection") and self._row_count == 0:
            return None
        return True

    # ------------------------------------------------------------------ events

    def _on_mount(self) -> None:
        self._reload()  # before mount, reload() waits for this

    def _on_resize(self) -> None:
        self._column_layout_cache = None
        self._scroll_cursor_into_view()
        self.refresh()

    def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        placed = self._column_at(offset.x)
        if offset.y == 0:
            if placed is not None:
                self.post_message(self.HeaderClicked(self, placed.column.key))
            return
        row_index = self._top_row + offset.y - 1
        if not 0 <= row_index < self._row_count:
            return
        if placed is not None:
            self._cursor_column_key = placed.column.key
        self._set_cursor_row(row_index)
        if event.chain == 2:
            self.action_open()

    def _column_at(self, x: int) -> PlacedColumn | None:
        x -= GUTTER_WIDTH
        for placed in self._layout():
            if placed.x <= x < placed.x + placed.width + COLUMN_GAP:
                return placed
        return None

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        width = self._line_width
        base_style = self.rich_style
        if y == 0:
            return self._render_header(width, base_style)
        row_index = self._top_row + y - 1
        if self._row_count == 0 and y == 1:
            style = base_style + self.get_component_rich_style("record-table--empty")
            text = fit_to_width(" " * GUTTER_WIDTH + literal_text(self.empty_text), width)
            return Strip([Segment(text, style)], width)
        if not 0 <= row_index < self._row_count:
            return Strip.blank(width, base_style)
        return self._render_row(row_index, width, base_style)

    def _render_header(self, width: int, base_style: Style) -> Strip:
        style = base_style + self.get_component_rich_style("record-table--header")
        segments = [Segment(" " * GUTTER_WIDTH, style)]
        for n, placed in enumerate(self._layout()):
            if n:
                segments.append(Segment(" " * COLUMN_GAP, style))
            label = literal_text(placed.column.label)
            if placed.column.key == self.sort_key:
                marker = SORT_DESCENDING_MARK if self.sort_desc else SORT_ASCENDING_MARK
                if placed.width >= 3:
                    text = fit_to_width(label, placed.width - 2).rstrip()
                    text = set_cell_size(f"{text} {marker}", placed.width)
                else:
                    text = fit_to_width(marker, placed.width)
            else:
                text = fit_to_width(label, placed.width)
            segments.append(Segment(text, style))
        return Strip(segments).adjust_cell_length(width, style)

    def _render_row(self, row_index: int, width: int, base_style: Style) -> Strip:
        component = self.get_component_rich_style
        row = self._row_at(row_index)
        record_id, cells = row if row is not None else (None, ())
        selected = record_id is not None and record_id in self._selected
        is_cursor = row_index == self._cursor_row

        style = base_style
        if row_index % 2:
            style += component("record-table--odd-row")
        if selected:
            style += component("record-table--selected")
        if is_cursor:
            style += component("record-table--cursor")

        gutter = SELECTED_MARK if selected else " "
        segments = [Segment(fit_to_width(gutter, GUTTER_WIDTH), style)]
        for n, placed in enumerate(self._layout()):
            if n:
                segments.append(Segment(" " * COLUMN_GAP, style))
            text = cells[placed.index] if placed.index < len(cells) else ""
            cell_style = style
            if is_cursor and placed.column.key == self._cursor_column_key:
                cell_style = style + component("record-table--cell-cursor", partial=True)
            segments.append(Segment(fit_to_width(text, placed.width), cell_style))
        return Strip(segments).adjust_cell_length(width, style)
