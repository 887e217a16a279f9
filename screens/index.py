"""The index screen: one screen for every object, a sidebar of objects and a virtual table of records."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from crm_tui.paging import ViewPager, ViewSpec
from widgets.record_table import Column, RecordTable


def default_columns(meta) -> list[str]:
    """The display name columns, then a few useful ones per object."""
    wanted = {
        "contacts": ["firstname", "lastname", "email", "@primary_company", "lifecyclestage"],
        "companies": ["name", "domain", "city", "lifecyclestage"],
        "deals": ["dealname", "amount", "dealstage", "closedate", "@primary_company"],
        "tickets": ["subject", "hs_pipeline_stage", "hs_ticket_priority", "@primary_company"],
    }.get(meta.name)
    if wanted is None:
        wanted = [meta.primary_property] + [p for p in meta.properties if p != meta.primary_property and not meta.properties[p].system][:4]
    return wanted


def column_label(crm, meta, column: str) -> str:
    if column == "@primary_company":
        return "Primary company"
    if column.startswith("@assoc:"):
        other = crm.registry.get(column.split(":", 1)[1])
        return f"Associated {other.plural_label.lower()}"
    if column == "id":
        return "Record ID"
    return meta.properties[column].label


class IndexScreen(Screen):
    BINDINGS = [
        Binding("o", "focus_objects", "Objects", id="index.objects"),
        Binding("r", "refresh", "Refresh", id="index.refresh"),
    ]
    DEFAULT_CSS = """
    IndexScreen #objects { width: 22; border-right: vkey $border-blurred; }
    IndexScreen #objects:focus { border-right: vkey $border; }
    IndexScreen #status { height: 1; padding: 0 1; color: $text-muted; }
    IndexScreen RecordTable { border: none; }
    """

    def __init__(self, object_name: str):
        super().__init__()
        self.object_name = object_name

    @property
    def crm(self):
        return self.app.crm

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield OptionList(*[Option(m.plural_label, id=m.name) for m in self.crm.registry.objects.values()], id="objects")
            with Vertical():
                yield RecordTable(id="records")
                yield Static("", id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.show_object(self.object_name)
        self.query_one(RecordTable).focus()

    def show_object(self, object_name: str) -> None:
        meta = self.crm.registry.get(object_name)
        self.object_name = meta.name
        self.sub_title = meta.plural_label
        columns = default_columns(meta)
        table = self.query_one(RecordTable)
        table.set_columns([Column(c, column_label(self.crm, meta, c), width=None if i == 0 else 18, priority=-i)
                           for i, c in enumerate(columns)])
        self.pager = ViewPager(self.crm, ViewSpec(meta.name, columns), date_format=self.app.config.date_format)
        table.set_source(self.pager)
        objects = self.query_one("#objects", OptionList)
        objects.highlighted = objects.get_option_index(meta.name)

    @on(OptionList.OptionSelected, "#objects")
    def _object_chosen(self, event: OptionList.OptionSelected) -> None:
        self.show_object(event.option.id)
        self.query_one(RecordTable).focus()

    def on_record_table_opened(self, event: RecordTable.Opened) -> None:
        if event.record_id is not None:
            self.app.open_record(self.object_name, event.record_id)

    def watch_position(self) -> None:
        pass

    def on_mount_status(self) -> None:
        pass

    def action_focus_objects(self) -> None:
        self.query_one("#objects").focus()

    def action_refresh(self) -> None:
        self.pager = ViewPager(self.crm, self.pager.spec, date_format=self.app.config.date_format)
        self.query_one(RecordTable).set_source(self.pager)
