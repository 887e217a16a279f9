"""Pilot tests for the virtual RecordTable: speed at 1,000,000 rows, keys, selection, literal text."""

from __future__ import annotations

import html
import time

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult

from widgets.record_table import (
    Column,
    RecordTable,
    RowSource,
    fit_to_width,
    layout_columns,
    literal_text,
)

MILLION = 1_000_000


def record_id_for(row_index: int) -> int:
    # Deliberately unlike the row index so that a mix-up between the two fails the tests.
    return row_index * 3 + 7


class SyntheticSource:
    """An in-memory RowSource that makes rows on demand and records every call."""

    def __init__(self, total: int = MILLION) -> None:
        self.total = total
        self.fetches: list[tuple[int, int]] = []
        self.count_calls = 0

    def count(self) -> int:
        self.count_calls += 1
        return self.total

    def fetch(self, start: int, limit: int) -> list[tuple[int, tuple[str, ...]]]:
        self.fetches.append((start, limit))
        return [
            (
                record_id_for(i),
                (f"Contact {i}", f"contact{i}@example.com", f"+1 555 {i:07d}", "Acme", "Lead"),
            )
            for i in range(start, min(start + limit, self.total))
        ]

    @property
    def rows_fetched(self) -> int:
        return sum(limit for _, limit in self.fetches)


class FixedSource:
    """A RowSource over a short list of given rows."""

    def __init__(self, rows: list[tuple[int, tuple[str, ...]]]) -> None:
        self.rows = rows

    def count(self) -> int:
        return len(self.rows)

    def fetch(self, start: int, limit: int) -> list[tuple[int, tuple[str, ...]]]:
        return self.rows[start : start + limit]


COLUMNS = [
    Column("name", "Name", None, min_width=18, priority=100),
    Column("email", "Email", None, min_width=16, priority=50),
    Column("phone", "Phone", 16, min_width=10, priority=10),
    Column("company", "Company", None, min_width=10, priority=40),
    Column("stage", "Lifecycle stage", 16, min_width=8, priority=5),
]


class TableApp(App[None]):
    def __init__(self, source: RowSource | None, columns: list[Column] = COLUMNS, **table_options) -> None:
        super().__init__()
        self.table_source = source
        self.table_columns = columns
        self.table_options = table_options
        self.received: list[object] = []

    def compose(self) -> ComposeResult:
        yield RecordTable(self.table_columns, self.table_source, **self.table_options)

    def on_record_table_cursor_moved(self, message: RecordTable.CursorMoved) -> None:
        self.received.append(message)

    def on_record_table_opened(self, message: RecordTable.Opened) -> None:
        self.received.append(message)

    def on_record_table_selection_changed(self, message: RecordTable.SelectionChanged) -> None:
        self.received.append(message)

    def on_record_table_header_clicked(self, message: RecordTable.HeaderClicked) -> None:
        self.received.append(message)

    def received_of(self, kind: type) -> list:
        return [message for message in self.received if isinstance(message, kind)]


def visible_lines(table: RecordTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.scrollable_content_region.height)]


def rows_per_page(table: RecordTable) -> int:
    return table.scrollable_content_region.height - 1  # minus the header line


async def test_first_paint_counts_once_and_fetches_one_window() -> None:
    source = SyntheticSource()
    app = TableApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RecordTable)
        assert source.count_calls == 1
        assert source.fetches == [(0, 100)]
        lines = visible_lines(table)
        assert lines[0].startswith("  Name")
        assert lines[1].startswith("  Contact 0 ")
        assert table.position_text == "row 1 of 1,000,000"
        assert str(table.border_subtitle) == "row 1 of 1,000,000"


async def test_G_reaches_the_last_row_quickly_and_g_returns_to_top() -> None:
    source = SyntheticSource()
    app = TableApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RecordTable)

        started = time.perf_counter()
        await pilot.press("G")
        await pilot.pause()
        assert time.perf_counter() - started < 1.0

        assert table.cursor_row == MILLION - 1
        assert table.cursor_record_id == record_id_for(MILLION - 1)
        assert table.position_text == "row 1,000,000 of 1,000,000"
        assert visible_lines(table)[-1].startswith("  Contact 999999 ")
        # Only the first window and the last one: never all rows.
        assert len(source.fetches) <= 3
        assert source.rows_fetched <= 300
        assert all(limit <= 100 for _, limit in source.fetches)
        moved = app.received_of(RecordTable.CursorMoved)[-1]
        assert (moved.row_index, moved.record_id) == (MILLION - 1, record_id_for(MILLION - 1))

        await pilot.press("g")
        await pilot.pause()
        assert table.cursor_row == 0
        assert visible_lines(table)[1].startswith("  Contact 0 ")
        assert table.position_text == "row 1 of 1,000,000"

        await pilot.press("end")
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_row == 0
        assert len(source.fetches) <= 4
        assert source.count_calls == 1


async def test_j_k_and_page_keys_move_the_cursor_and_the_indicator() -> None:
    source = SyntheticSource()
    app = TableApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RecordTable)
        page = rows_per_page(table)
        assert page >= 10

        await pilot.press("j", "j", "down")
        assert table.cursor_row == 3
        assert table.position_text == "row 4 of 1,000,000"
        await pilot.press("k", "up")
        assert table.cursor_row == 1
        await pilot.press("k", "k")  # clamped at the top
        assert table.cursor_row == 0

        await pilot.press("pagedown")
        await pilot.pause()
        assert table.cursor_row == page
        assert table.position_text == f"row {page + 1} of 1,000,000"
        assert visible_lines(table)[1].startswith(f"  Contact {page} ")  # the view moved with it
        await pilot.press("ctrl+d")
        assert table.cursor_row == 2 * page
        await pilot.press("pageup", "ctrl+u")
        assert table.cursor_row == 0

        # Moving one row past the bottom of the screen scrolls by one row.
        for _ in range(page - 1):
            table.action_cursor_down()
        await pilot.press("j")
        await pilot.pause()
        assert visible_lines(table)[-1].startswith(f"  Contact {page} ")

        table.move_to(500_000)
        await pilot.pause()
        assert table.position_text == "row 500,001 of 1,000,000"
        assert any(line.startswith("  Contact 500000 ") for line in visible_lines(table))
        table.move_to(MILLION + 10)
        assert table.cursor_row == MILLION - 1
        await pilot.pause()
        moved = app.received_of(RecordTable.CursorMoved)
        # The first message comes from mounting: it names the record under the initial cursor.
        assert [m.row_index for m in moved[:4]] == [0, 1, 2, 3]
        assert moved[-1].record_id == record_id_for(MILLION - 1)
        assert len(source.fetches) <= 12


async def test_space_toggles_selection_with_a_visible_mark() -> None:
    app = TableApp(SyntheticSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RecordTable)

        await pilot.press("space", "j", "j", "space")
        await pilot.pause()
        assert table.selected_ids == (record_id_for(0), record_id_for(2))
        assert table.is_selected(record_id_for(2))
        assert table.position_text == "row 3 of 1,000,000 · 2 selected"
        lines = visible_lines(table)
        assert lines[1].startswith("✓ Contact 0 ")
        assert lines[2].startswith("  Contact 1 ")
        assert lines[3].startswith("✓ Contact 2 ")
        changes = app.received_of(RecordTable.SelectionChanged)
        assert changes[-1].selected_ids == (record_id_for(0), record_id_for(2))

        await pilot.press("space")  # toggles off again
        await pilot.pause()
        assert table.selected_ids == (record_id_for(0),)
        assert visible_lines(table)[3].startswith("  Contact 2 ")

        # The selection is of records: it survives scrolling away and back.
        await pilot.press("G", "g")
        await pilot.pause()
        assert visible_lines(table)[1].startswith("✓ Contact 0 ")

        table.clear_selection()
        await pilot.pause()
        assert table.selected_ids == ()
        assert table.position_text == "row 1 of 1,000,000"
        assert app.received_of(RecordTable.SelectionChanged)[-1].selected_ids == ()


async def test_enter_posts_opened_with_the_record_and_column_under_the_cursor() -> None:
    app = TableApp(SyntheticSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RecordTable)
        await pilot.press("j", "j", "enter")
        await pilot.pause()
        opened = app.received_of(RecordTable.Opened)
        assert len(opened) == 1
        assert (opened[0].record_id, opened[0].row_index, opened[0].column_key) == (
            record_id_for(2),
            2,
            "name",
        )
        assert opened[0].control is table

        await pilot.press("l", "right", "enter")
        await pilot.pause()
        assert table.cursor_column_key == "phone"
        assert app.received_of(RecordTable.Opened)[-1].column_key == "phone"
        await pilot.press("h", "h", "h", "h")  # clamped at the first column
        assert table.cursor_column_key == "name"


HOSTILE_CELLS = (
    "[bold]Bold[/] Ltd",
    "[/]",
    "[@click=app.quit]quit[/]",
    "[link=https://x]y[/link]",
    "\x1b[31mred\x1b[0m\x07 \x9b2J\x7fend\tx\ny",
)


async def test_markup_and_escape_sequences_in_cells_are_shown_literally() -> None:
    columns = [Column(f"c{n}", f"[b]Col {n}[/b]", None, min_width=14, priority=5 - n) for n in range(5)]
    source = FixedSource([(1, HOSTILE_CELLS), (2, ("[$accent]var", "", "", "", ""))])
    app = TableApp(source, columns=columns)
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RecordTable)
        lines = visible_lines(table)
        assert "[b]Col 0[/b]" in lines[0]
        row = lines[1]
        for literal in ("[bold]Bold[/] Ltd", "[/]", "[@click=app.quit]quit[/]", "[link=https://x]y[/link]"):
            assert literal in row
        assert "red end x y" in row  # escapes and controls stripped, tab/newline become spaces
        assert "[$accent]var" in lines[2]
        for y in range(3):
            strip = table.render_line(y)
            assert not any(ch in segment.text for segment in strip for ch in "\x1b\x07\x7f\x9b\n\t")
            assert not any(segment.style and segment.style.link for segment in strip)
            assert strip.cell_length == table.scrollable_content_region.width

        # Clicking the "[@click=app.quit]" cell and opening it must not run the action.
        # Offsets are from the widget's outer edge: one border cell, then the header line.
        await pilot.click(RecordTable, offset=(1 + row.index("[@click"), 1 + 1))
        await pilot.press("enter")
        await pilot.pause()
        assert app.is_running
        assert table.cursor_column_key == "c2"
        screenshot = html.unescape(app.export_screenshot()).replace("\xa0", " ")
        assert "[@click=app.quit]quit[/]" in screenshot
        assert "[bold]Bold[/] Ltd" in screenshot


async def test_columns_collapse_by_priority_at_80_columns() -> None:
    columns = [
        Column("name", "Name", None, min_width=20, priority=1),  # lowest priority, still always shown
        Column("email", "Email", None, min_width=24, priority=50),
        Column("phone", "Phone", 16, min_width=14, priority=10),
        Column("company", "Company", None, min_width=16, priority=40),
        Column("owner", "Owner", 14, min_width=10, priority=20),
        Column("stage", "Lifecycle stage", 16, min_width=10, priority=5),
    ]
    app = TableApp(SyntheticSource(), columns=columns)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RecordTable)
        width = table.scrollable_content_region.width
        shown = [column.key for column in table.visible_columns]
        assert shown[0] == "name"
        assert "email" in shown and "company" in shown
        assert "stage" not in shown and "phone" not in shown  # the lowest priorities go first
        for y in range(4):
            assert table.render_line(y).cell_length == width  # collapse, never overflow
        header = visible_lines(table)[0]
        assert all(column.label in header for column in table.visible_columns)

        # l past the last shown column scrolls sideways (the first column stays): every column is
        # reachable, the line still never overflows, and h scrolls back.
        for _ in range(10):
            await pilot.press("l")
        assert table.cursor_column_key == "stage"
        assert "stage" in [column.key for column in table.visible_columns]
        assert table.visible_columns[0].key == "name" and table.hidden_columns > 0
        for y in range(4):
            assert table.render_line(y).cell_length == width
        for _ in range(10):
            await pilot.press("h")
        assert table.cursor_column_key == "name"
        assert [column.key for column in table.visible_columns] == shown

        await pilot.resize_terminal(30, 24)
        await pilot.pause()
        assert [column.key for column in table.visible_columns] == ["name"]
        assert table.render_line(1).cell_length == table.scrollable_content_region.width
        await pilot.press("enter")
        await pilot.pause()
        assert app.received_of(RecordTable.Opened)[-1].column_key == "name"


def test_layout_keeps_the_first_column_and_never_exceeds_the_width() -> None:
    for width in range(0, 200, 7):
        placed = layout_columns(COLUMNS, width)
        if width:
            assert placed[0].column.key == "name"
            last = placed[-1]
            assert last.x + last.width <= width
        else:
            assert placed == []
    wide = layout_columns(COLUMNS, 200)
    assert [p.column.key for p in wide] == [c.key for c in COLUMNS]
    phone = next(p for p in wide if p.column.key == "phone")
    assert phone.width == 16  # a fixed column gets its width, flexible ones share the rest


def test_wide_characters_truncate_with_an_ellipsis_on_cell_boundaries() -> None:
    assert fit_to_width("日本語の名前です", 7) == "日本語…"
    assert cell_len(fit_to_width("日本語の名前です", 8)) == 8
    assert fit_to_width("short", 8) == "short   "
    assert fit_to_width("exactly8", 8) == "exactly8"
    assert fit_to_width("toolong!!", 8) == "toolong…"
    assert literal_text("\x1b]8;;https://x\x07link\x1b]8;;\x07") == "link"
    assert literal_text(None) == ""


async def test_reload_recounts_clears_the_cache_and_clamps_the_cursor() -> None:
    source = SyntheticSource(total=500)
    app = TableApp(source)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RecordTable)
        await pilot.press("G", "space")
        assert table.cursor_row == 499
        fetches_before = len(source.fetches)

        source.total = 120
        table.reload()
        await pilot.pause()
        assert source.count_calls == 2
        assert table.cursor_row == 119
        assert table.position_text == "row 120 of 120 · 1 selected"
        assert len(source.fetches) > fetches_before  # the cache was dropped
        assert (100, 20) in source.fetches[fetches_before:]  # a short last window, never past the end
        assert visible_lines(table)[-1].startswith("  Contact 119 ")
        assert app.received_of(RecordTable.CursorMoved)[-1].row_index == 119

        table.sort_key = "email"
        table.sort_desc = True
        await pilot.pause()
        assert "Email ▼" in visible_lines(table)[0]
        table.sort_desc = False
        await pilot.pause()
        assert "Email ▲" in visible_lines(table)[0]

        other = SyntheticSource(total=3)
        table.set_source(other)
        await pilot.pause()
        assert table.cursor_row == 0 and table.selected_ids == ()
        assert table.position_text == "row 1 of 3"
        assert visible_lines(table)[4].strip() == ""


async def test_cache_is_bounded_and_evicted_pages_are_fetched_again() -> None:
    source = SyntheticSource()
    app = TableApp(source, page_size=50, cached_pages=3)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RecordTable)
        for _ in range(10):
            table.action_cursor_page_down()
            await pilot.pause()  # let each screenful render, as a user would see it
        await pilot.press("pagedown")
        await pilot.pause()
        assert table.cursor_row == 11 * rows_per_page(table)
        assert all(limit == 50 for _, limit in source.fetches)
        assert len(source.fetches) <= 11 * rows_per_page(table) // 50 + 2
        await pilot.press("g")
        await pilot.pause()
        assert source.fetches[-1] == (0, 50)  # page 0 had been evicted


async def test_empty_source_shows_a_message_and_ignores_open_and_select() -> None:
    app = TableApp(FixedSource([]), empty_text="No contacts yet")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RecordTable)
        assert "No contacts yet" in visible_lines(table)[1]
        assert table.position_text == "no rows"
        await pilot.press("j", "G", "space", "enter")
        await pilot.pause()
        assert app.received_of(RecordTable.Opened) == []
        assert table.selected_ids == ()
        assert table.cursor_record_id is None


async def test_mouse_click_moves_the_cursor() -> None:
    app = TableApp(SyntheticSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RecordTable)
        # Offsets are from the widget's outer edge: one border cell, then the header line.
        await pilot.click(RecordTable, offset=(4, 1 + 1 + 5))
        await pilot.pause()
        assert table.cursor_row == 5
        await pilot.click(RecordTable, offset=(4, 1 + 1 + 5), times=2)
        await pilot.pause()
        assert app.received_of(RecordTable.Opened)[-1].record_id == record_id_for(5)
        await pilot.click(RecordTable, offset=(4, 1))  # the header line
        await pilot.pause()
        assert app.received_of(RecordTable.HeaderClicked)[-1].column_key == "name"
        assert table.cursor_row == 5


async def test_cursor_shows_without_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = TableApp(SyntheticSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.query_one(RecordTable)
        assert app.no_color
        cursor_styles = [segment.style for segment in table.render_line(1)]
        other_styles = [segment.style for segment in table.render_line(2)]
        assert all(style and style.reverse for style in cursor_styles)
        assert not any(style and style.reverse for style in other_styles)


def test_every_binding_has_an_id() -> None:
    ids = {binding.id for binding in RecordTable.BINDINGS}  # type: ignore[union-attr]
    assert None not in ids
    assert {
        "table.cursor_down",
        "table.cursor_up",
        "table.page_down",
        "table.page_up",
        "table.cursor_top",
        "table.cursor_bottom",
        "table.column_left",
        "table.column_right",
        "table.toggle_selection",
        "table.open",
    } <= ids
