"""The operations screen: the journal of changes, newest first (crm.journal.list), from which any
operation can be undone (enter or u) and the last undo redone (U). Every cell is literal text."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from crm_tui.domain.sanitize import clean_line

from .history import source_text, when

LIMIT = 200


def cell(value, style: str = "") -> Text:
    return Text(clean_line(str(value if value is not None else "")), style=style, no_wrap=True, overflow="ellipsis")


class OperationsScreen(Screen):
    HELP_TITLE = "Operations"
    HELP = """\
Every change made in the app, on the command line, by an import or an automation, newest first.
enter or u undoes the operation under the cursor (refused, with the reason, when a later change
depends on it); U redoes the last undo. Undo and redo are operations too, and history keeps both."""
    BINDINGS = [
        Binding("enter,u", "undo_selected", "Undo this", id="operations.undo"),
        Binding("U", "redo", "Redo", id="operations.redo"),
        Binding("j", "cursor_down", "Down", show=False, id="operations.down"),
        Binding("k", "cursor_up", "Up", show=False, id="operations.up"),
        Binding("g", "cursor_top", "Top", show=False, id="operations.top"),
        Binding("G", "cursor_bottom", "Bottom", show=False, id="operations.bottom"),
        Binding("r", "refresh", "Refresh", show=False, id="operations.refresh"),
        Binding("escape,q", "back", "Back", id="operations.back"),
    ]
    DEFAULT_CSS = """
    OperationsScreen #caption { height: 1; padding: 0 1; text-style: bold; }
    OperationsScreen DataTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.items = []

    @property
    def crm(self):
        return self.app.crm

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="caption", markup=False)
        yield DataTable(cursor_type="row", zebra_stripes=True, id="table")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Operations"
        table = self.query_one(DataTable)
        table.add_column("When", width=16)
        table.add_column("What", width=36)
        table.add_column("By", width=12)
        table.add_column("State", width=10)
        self.reload()
        table.focus()

    def on_screen_resume(self) -> None:
        if self.is_mounted and self.items:
            self.reload()

    def reload(self, keep: int | None = None) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row if keep is None else keep
        self.items = self.crm.journal.list(limit=LIMIT)
        table.clear()
        for item in self.items:
            state = "undone" if item.undone else ("" if item.undoable else "—")
            table.add_row(cell(when(item.time, self.crm.datetime_format)), cell(item.summary), cell(source_text(item.source, item.actor)),
                          cell(state, "dim" if item.undone else ""), key=str(item.id))
        if self.items:
            table.move_cursor(row=max(0, min(row, len(self.items) - 1)))
        shown = f"the latest {LIMIT}" if len(self.items) >= LIMIT else str(len(self.items))
        self.query_one("#caption", Static).update(
            f"Operations ({shown}) · enter/u undoes the one under the cursor · U redoes")

    def current(self):
        table = self.query_one(DataTable)
        if not self.items or table.cursor_row is None or table.cursor_row >= len(self.items):
            return None
        return self.items[table.cursor_row]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # enter on a row: the table's own enter binding comes first
        self.action_undo_selected()

    def action_undo_selected(self) -> None:
        item = self.current()
        if item is None:
            return
        self.app.undo_asking(item.id, done=self.reload)  # an import is asked about first

    def action_redo(self) -> None:
        self.app.action_redo()
        self.reload()

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_cursor_top(self) -> None:
        self.query_one(DataTable).move_cursor(row=0)

    def action_cursor_bottom(self) -> None:
        self.query_one(DataTable).move_cursor(row=max(0, len(self.items) - 1))

    def action_refresh(self) -> None:
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()
