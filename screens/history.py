"""History screens: a record's association history (filter by object or activity type, one link's
history) and its property history (filter by property). Data comes from crm.assoc.history and
crm.history.property_history; every cell is a literal rich Text (user data is never markup)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from crm_tui.domain import sources
from crm_tui.services.associations import ACTION_TEXT
from crm_tui.domain.sanitize import clean_line


def when(at: str | None, datetime_format: str = "%Y-%m-%d %H:%M") -> str:
    """A history time in the config's datetime_format (crm.datetime_format)."""
    from crm_tui.services.paging import format_datetime

    return format_datetime(at, datetime_format)


def source_text(source: str, actor: str | None) -> str:
    if source == sources.USER:
        return f"User ({actor})" if actor else "User"
    if source == sources.JOB and actor:
        return f"Job ({actor})"  # a workflow's change names the workflow
    if source == sources.IMPORT and actor:  # which import: "Import (calendar import work.ics)"
        return f"Import ({actor})"
    return source


def action_text(change) -> str:
    text = ACTION_TEXT.get(change.action, change.action)
    if change.label and change.action.startswith("label"):
        text += f": {change.label}"
    return text


def record_link(object_name: str, record_id: int) -> str:
    return f"crm-tui://{object_name}/{record_id}"


def cell(value) -> Text:
    return Text(clean_line(str(value if value is not None else "")), no_wrap=True, overflow="ellipsis")


class HistoryTableScreen(Screen):
    """A caption over a table of history rows; subclasses give COLUMNS and fill it in reload()."""

    COLUMNS: tuple[tuple[str, int], ...] = ()

    @property
    def crm(self):
        return self.app.crm

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="caption", markup=False)
        yield DataTable(cursor_type="row", zebra_stripes=True, id="table")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, width in self.COLUMNS:
            table.add_column(label, width=width)
        self.reload()
        table.focus()

    def reload(self) -> None:
        raise NotImplementedError

    def action_refresh(self) -> None:
        """After an undo or redo (or another member's change): the rows as the history now holds them."""
        self.reload()


class AssocHistoryScreen(HistoryTableScreen):
    """Every association update of a record, newest first. `with_ref` narrows to one link."""

    HELP_TITLE = "Association history"
    HELP = """\
Every link of this record that was created, removed, labelled or made primary, newest first,
with when and by whom (the source). o narrows to one object type; enter shows every update of
the link under the cursor; y copies a link to that record; O opens it."""

    # Source comes before Record ID and Object so that 80 columns show what a user asks first.
    COLUMNS = (("Name", 18), ("Update", 18), ("Date and time", 16), ("Source", 22), ("Record ID", 9), ("Object", 8))

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="history.back"),
        Binding("o", "choose_object", "Object type", id="history.choose_object"),
        Binding("enter,v", "view_link", "View history", id="history.view_link"),
        Binding("y", "copy_link", "Copy link", id="history.copy_link"),
        Binding("O", "open_record", "Open record", id="history.open_record"),
    ]
    DEFAULT_CSS = """
    AssocHistoryScreen #caption { height: auto; padding: 0 1; color: $text-muted; }
    AssocHistoryScreen DataTable { height: 1fr; }
    """

    def __init__(self, object_name: str, record_id: int, *, object_filter: str | None = None, with_ref=None) -> None:
        super().__init__()
        self.object_name = object_name
        self.record_id = int(record_id)
        self.object_filter = object_filter
        self.with_ref = with_ref
        self.changes = []

    def reload(self) -> None:
        meta = self.crm.registry.get(self.object_name)
        name = self.crm.records.display_names(meta, [self.record_id]).get(self.record_id, f"#{self.record_id}")
        self.changes = self.crm.assoc.history((self.object_name, self.record_id), object_name=self.object_filter,
                                              with_ref=self.with_ref)
        table = self.query_one(DataTable)
        table.clear()
        for change in self.changes:
            other = self.crm.registry.get(change.other_object)
            table.add_row(cell(change.other_name), cell(action_text(change)), cell(when(change.at, self.crm.datetime_format)),
                          cell(source_text(change.source, change.actor)), cell(change.other_id), cell(other.label))
        if self.with_ref is not None:
            other = self.crm.registry.get(self.with_ref[0])
            other_name = self.crm.records.display_names(other, [int(self.with_ref[1])]).get(int(self.with_ref[1]), "")
            scope = f"the link with {other.label.lower()} {other_name} (#{self.with_ref[1]})"
        elif self.object_filter:
            scope = self.crm.registry.get(self.object_filter).plural_label.lower()
        else:
            scope = "all objects and activities"
        self.sub_title = f"Association history: {clean_line(name)}"
        self.query_one("#caption", Static).update(
            f"{meta.label} {clean_line(name)} (#{self.record_id}) — {scope}: {len(self.changes)} update(s), newest first. "
            "o: object type  enter: view history  y: copy link  O: open")

    def _current(self):
        table = self.query_one(DataTable)
        if not self.changes or table.cursor_row is None or table.cursor_row >= len(self.changes):
            return None
        return self.changes[table.cursor_row]

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_choose_object(self) -> None:
        from screens.record_modals import ChoiceModal

        choices = [("", "All objects and activities")] + [
            (m.name, m.plural_label) for m in self.crm.registry.objects.values()]

        def chosen(value) -> None:
            if value is None:
                return
            self.object_filter = value or None
            self.reload()

        self.app.push_screen(ChoiceModal("Show the history of links with", choices), chosen)

    def action_view_link(self) -> None:
        change = self._current()
        if change is None or self.with_ref is not None:
            return
        self.app.push_screen(AssocHistoryScreen(self.object_name, self.record_id,
                                                with_ref=(change.other_object, change.other_id)))

    def action_copy_link(self) -> None:
        change = self._current()
        if change is None:
            return
        link = record_link(change.other_object, change.other_id)
        self.app.copy_to_clipboard(link)
        self.notify(f"copied {link}", markup=False)

    def action_open_record(self) -> None:
        change = self._current()
        if change is not None:
            self.app.open_record(change.other_object, change.other_id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_view_link()


class PropertyHistoryScreen(HistoryTableScreen):
    """Every change of every property of a record (or of one), newest first."""

    HELP_TITLE = "Property history"
    HELP = """\
Every change of every property, newest first: old and new value, when, and the source
(User, API, Import, Job, Object merge, ...). f shows one property only."""

    COLUMNS = (("Property", 16), ("Old value", 14), ("New value", 14), ("Date and time", 16), ("Source", 16))

    BINDINGS = [
        Binding("escape,q", "back", "Back", id="prophistory.back"),
        Binding("f", "choose_property", "Property", id="prophistory.choose_property"),
    ]
    DEFAULT_CSS = """
    PropertyHistoryScreen #caption { height: auto; padding: 0 1; color: $text-muted; }
    PropertyHistoryScreen DataTable { height: 1fr; }
    """

    def shown(self, meta, prop_name: str, text: str | None) -> str:
        from crm_tui.services.history import shown_value

        return shown_value(self.crm, meta, prop_name, text, self.app.config.date_format)

    def __init__(self, object_name: str, record_id: int, prop: str | None = None) -> None:
        super().__init__()
        self.object_name = object_name
        self.record_id = int(record_id)
        self.prop = prop

    def reload(self) -> None:
        meta = self.crm.registry.get(self.object_name)
        changes = self.crm.history.property_history(self.object_name, self.record_id, prop=self.prop)
        table = self.query_one(DataTable)
        table.clear()
        for c in changes:
            table.add_row(cell(c.label), cell(self.shown(meta, c.property, c.old_value)),
                          cell(self.shown(meta, c.property, c.new_value)), cell(when(c.at, self.crm.datetime_format)),
                          cell(source_text(c.source, c.actor)))
        name = self.crm.records.display_names(meta, [self.record_id]).get(self.record_id, "")
        scope = meta.prop(self.prop).label if self.prop else "all properties"
        self.sub_title = f"Property history: {clean_line(name)}"
        self.query_one("#caption", Static).update(
            f"{meta.label} {clean_line(name)} (#{self.record_id}) — {scope}: {len(changes)} change(s), newest first. "
            "f: choose property")

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_choose_property(self) -> None:
        from screens.record_modals import ChoiceModal

        meta = self.crm.registry.get(self.object_name)
        choices = [("", "All properties")] + [(p.name, p.label) for p in meta.properties.values()]

        def chosen(value) -> None:
            if value is None:
                return
            self.prop = value or None
            self.reload()

        self.app.push_screen(ChoiceModal("Show the history of", choices), chosen)
