"""The workflows screen (palette: Workflows): every workflow with its state, object and trigger;
e enables, d disables, t tests the one under the cursor as a dry run (what it would do, on which
records, nothing written). The definitions come from `crm-tui workflows apply FILE.yaml`. Every
cell is literal text."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from crm_tui.domain import sources
from crm_tui.domain.errors import CrmError
from crm_tui.domain.sanitize import clean_line, clean_text
from widgets.footer import KeysFooter


def cell(value, style: str = "") -> Text:
    return Text(clean_line(str(value if value is not None else "")), style=style, no_wrap=True, overflow="ellipsis")


class WorkflowsScreen(Screen):
    HELP_TITLE = "Workflows"
    HELP = """\
Workflows run by themselves when a record is created, a property changes (to a value), a link is
made, or a date comes near (checked each time the database is opened). Their changes carry the
source Job and the workflow's name, and undo with the change that set them off. e enables, d
disables, t tests the workflow under the cursor: a dry run listing the records it would act on and
what it would do, writing nothing. Add or change workflows with crm-tui workflows apply FILE.yaml."""
    BINDINGS = [
        Binding("e", "enable", "Enable", id="workflows.enable"),
        Binding("d", "disable", "Disable", id="workflows.disable"),
        Binding("t", "dry_run", "Test (dry run)", id="workflows.dry_run"),
        Binding("x", "delete", "Delete", id="workflows.delete"),
        Binding("r", "refresh", "Refresh", show=False, id="workflows.refresh"),
        Binding("j", "cursor_down", "Down", show=False, id="workflows.down"),
        Binding("k", "cursor_up", "Up", show=False, id="workflows.up"),
        Binding("escape,q", "back", "Back", id="workflows.back"),
    ]
    DEFAULT_CSS = """
    WorkflowsScreen #caption { height: 1; padding: 0 1; text-style: bold; }
    WorkflowsScreen DataTable { height: 1fr; min-height: 4; }
    WorkflowsScreen #details-box { height: 9; border-top: solid $primary; }
    WorkflowsScreen #details { padding: 0 1; }
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
        with VerticalScroll(id="details-box"):
            yield Static("", id="details", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.sub_title = "Workflows"
        table = self.query_one(DataTable)
        table.add_column("On", width=3)
        table.add_column("Name", width=26)
        table.add_column("Object", width=10)
        table.add_column("Trigger", width=22)
        table.add_column("Runs", width=5)
        self.reload()
        table.focus()

    def reload(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row or 0
        self.items = self.crm.workflows.list()
        table.clear()
        for item in self.items:
            table.add_row(cell("on" if item.enabled else "off", "" if item.enabled else "dim"), cell(item.name),
                          cell(item.object), cell(item.trigger), cell(item.runs), key=str(item.id))
        if self.items:
            table.move_cursor(row=max(0, min(row, len(self.items) - 1)))
        caption = (f"Workflows ({len(self.items)}) · e enable · d disable · t test (dry run)" if self.items
                   else "No workflows yet: crm-tui workflows apply FILE.yaml")
        self.query_one("#caption", Static).update(caption)
        self.show_details()

    def current(self, *, say: bool = False):
        """The workflow under the cursor; None (said in a notice when `say`: a key pressed on an
        empty list must not do nothing silently) when there is none."""
        table = self.query_one(DataTable)
        if not self.items or table.cursor_row is None or table.cursor_row >= len(self.items):
            if say:
                self.notify("No workflow here yet: write one in YAML and run crm-tui workflows apply FILE.yaml",
                            severity="warning", markup=False)
            return None
        return self.items[table.cursor_row]

    def show_details(self) -> None:
        item = self.current()
        if item is None:
            self.query_one("#details", Static).update("")
            return
        lines = [f"{item.name} · {item.object} · when {item.trigger} · {'enabled' if item.enabled else 'disabled'}"
                 f" · {item.runs} run(s), last {item.last_run[:16].replace('T', ' ') if item.last_run else 'never'}"]
        lines += [f"if {text}" for text in item.filters]
        lines += [f"do {text}" for text in item.actions]
        self.query_one("#details", Static).update(Text(clean_text("\n".join(lines))))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_details()

    def _set(self, enabled: bool) -> None:
        item = self.current(say=True)
        if item is None:
            return
        try:
            message = self.crm.workflows.set_enabled(item.name, enabled, source=sources.USER, actor=self.crm.user_name)
        except CrmError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.notify(message, markup=False)
        self.reload()

    def action_enable(self) -> None:
        self._set(True)

    def action_disable(self) -> None:
        self._set(False)

    def action_delete(self) -> None:
        from screens.modals import ConfirmModal  # lazy: a screen loads when first opened (start-up speed)

        item = self.current(say=True)
        if item is None:
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                message = self.crm.workflows.delete(item.name, source=sources.USER, actor=self.crm.user_name)
            except CrmError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            self.notify(message, markup=False)
            self.reload()

        self.app.push_screen(ConfirmModal(f"Delete the workflow {clean_line(item.name)!r}? What it did stays (and "
                                          "stays undoable); the workflow comes back only by applying its file again.",
                                          yes="Delete"), answered)

    def action_dry_run(self) -> None:
        item = self.current(say=True)
        if item is None:
            return
        try:
            result = self.crm.workflows.run(item.name, dry_run=True)
        except CrmError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        head = f"Dry run of {result.workflow}: would act on {result.records:,} record(s); nothing was written"
        self.query_one("#details", Static).update(Text(clean_text("\n".join([head] + result.lines))))
        self.query_one("#details-box").scroll_home(animate=False)

    def action_refresh(self) -> None:
        self.reload()

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_back(self) -> None:
        self.app.pop_screen()
