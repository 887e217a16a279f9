"""Modals of the index screen: filter, columns, views, new record, bulk edit, record search, assoc popup.

Every modal is keyboard-first (escape cancels) and shows user text literally (Content / markup=False).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from screens.labels import NO_VALUE_OPS, column_label, filter_text  # noqa: F401  (importable from here too)
from screens.modals import AsksBeforeDiscard, ConfirmModal, ExistingRecordModal, ModalFooter, saved_message
from crm_tui.domain import sources
from crm_tui.services.records import DEDUPE_KEYS
from crm_tui.domain.errors import CrmError
from crm_tui.services.query import ASSOC_OPS, OP_LABELS, Filter, filter_expression, ops_for
from crm_tui.services.views import available_columns
from widgets.text_input import TextInput
from widgets.property_form import PropertyForm


MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 72; max-width: 100%; height: auto; max-height: 100%;
    border: round $border; background: $surface; padding: 0 1;
}}
{name} .title {{ text-style: bold; width: 1fr; }}
{name} .hint {{ color: $text-muted; width: 1fr; }}
{name} .error {{ color: $text-error; width: 1fr; }}
{name} OptionList {{ height: auto; max-height: 14; border: none; }}
{name} Input {{ border: none; height: 1; padding: 0 1; background: $boost; }}
{name} Input:focus {{ border: none; background: $primary 30%; }}
{name} Select > SelectCurrent {{ border: none; height: 1; padding: 0 1; background: $boost; }}
{name} Select {{ height: 1; margin: 0 0 1 0; }}
{name} Select:focus > SelectCurrent {{ border: none; background: $primary 30%; }}
"""



def modal_css(name: str) -> str:
    return MODAL_CSS.format(name=name)


class TextPromptModal(AsksBeforeDiscard, ModalFooter, ModalScreen[str | None]):
    """Ask for one line of text (a view name)."""

    DEFAULT_CSS = modal_css("TextPromptModal")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, value: str = "", check=None, empty: str = "Type a name") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.check = check
        self.empty = empty  # said when enter is pressed on nothing

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, markup=False, classes="title")
            yield TextInput(value=self.value, id="text")
            yield Static("", markup=False, classes="error", id="error")
            yield Static("enter to confirm · escape to cancel", classes="hint")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.query_one("#error", Static).update(self.empty)
            return
        if self.check is not None:
            problem = self.check(text)
            if problem:
                self.query_one("#error", Static).update(problem)
                return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.close_or_ask(None)


class FilterModal(AsksBeforeDiscard, ModalFooter, ModalScreen[Filter | None]):
    """Choose a property (or an association), an operator fitting its type, and a value."""

    DEFAULT_CSS = modal_css("FilterModal") + """
    FilterModal #value-hits { max-height: 8; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="filter.cancel"),
                Binding("ctrl+s", "apply", "Apply", id="filter.apply")]

    def __init__(self, crm, object_name: str, property_name: str | None = None) -> None:
        super().__init__()
        self.crm = crm
        self.meta = crm.registry.get(object_name)
        self.start_property = property_name
        self.chosen_record: tuple[int, str] | None = None

    def _property_options(self):
        opts = [(Content(p.label), p.name) for p in self.meta.properties.values() if not p.archived]
        for other in self.crm.registry.objects.values():
            if other.name != self.meta.name:
                opts.append((Content(f"Associated {other.plural_label.lower()}"), f"@assoc:{other.name}"))
        return opts

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Filter {self.meta.plural_label.lower()}", markup=False, classes="title")
            start = self.start_property if self.start_property and (
                self.start_property in self.meta.properties or self.start_property.startswith("@assoc:")) else None
            yield Label("Property")
            yield Select(self._property_options(), prompt="Choose a property", id="property",
                         value=start if start else Select.NULL)
            yield Label("Operator")
            yield Select([], prompt="Choose an operator", id="op")
            yield Label("Value", id="value-label")
            yield Select([], prompt="Choose a value", id="value-select")
            yield TextInput(id="value", placeholder="value")
            yield OptionList(id="value-hits")
            yield Static("", markup=False, classes="error", id="error")
            yield Static("tab moves · ctrl+s applies · escape cancels", classes="hint")

    def on_mount(self) -> None:
        self._property_changed()
        self.query_one("#property" if not self.start_property else "#op").focus()

    @property
    def property_name(self) -> str | None:
        value = self.query_one("#property", Select).value
        return None if value is Select.NULL else value

    @property
    def op(self) -> str | None:
        value = self.query_one("#op", Select).value
        return None if value is Select.NULL else value

    @on(Select.Changed, "#property")
    def _property_changed(self, event=None) -> None:
        name = self.property_name
        op_select = self.query_one("#op", Select)
        if name is None:
            op_select.set_options([])
        else:
            ops = ASSOC_OPS if name.startswith("@assoc:") else ops_for(self.meta.properties[name])
            op_select.set_options([(OP_LABELS[o], o) for o in ops])
            op_select.value = ops[0]
        self.chosen_record = None
        self._op_changed()

    @on(Select.Changed, "#op")
    def _op_changed(self, event=None) -> None:
        name, op = self.property_name, self.op
        value_select = self.query_one("#value-select", Select)
        value_input = self.query_one("#value", Input)
        hits = self.query_one("#value-hits", OptionList)
        needs_value = name is not None and op is not None and op not in NO_VALUE_OPS
        prop = self.meta.properties.get(name) if name else None
        use_select = needs_value and prop is not None and op in ("eq", "neq") and prop.type in ("select", "boolean")
        value_select.display = use_select
        value_input.display = needs_value and not use_select
        hits.display = needs_value and name is not None and name.startswith("@assoc:")
        self.query_one("#value-label").display = needs_value
        if use_select:
            if prop.type == "boolean":
                value_select.set_options([("Yes", "true"), ("No", "false")])
            else:
                value_select.set_options([(Content(o.label), o.name) for o in prop.options])
        if needs_value and not use_select:
            placeholder = "value"
            if op == "between":
                placeholder = "low..high, e.g. 2026-01-01..2026-03-31"
            elif op in ("any_of", "none_of"):
                placeholder = "options separated by ;"
            elif name.startswith("@assoc:"):
                placeholder = "type to search, then choose below"
            elif prop is not None and prop.type == "date":
                placeholder = "YYYY-MM-DD"
            value_input.placeholder = placeholder
        self.query_one("#error", Static).update("")

    @on(Input.Changed, "#value")
    def _value_typed(self, event: Input.Changed) -> None:
        name = self.property_name
        self.query_one("#error", Static).update("")
        if name and name.startswith("@assoc:"):
            other = name.split(":", 1)[1]
            hits = self.crm.search.records(other, event.value, limit=20) if event.value.strip() else []
            hit_list = self.query_one("#value-hits", OptionList)
            hit_list.set_options([Option(Content(h.display_name), id=str(h.id)) for h in hits])
            if hits:
                hit_list.highlighted = 0

    @on(Input.Submitted, "#value")
    def _value_submitted(self, event: Input.Submitted) -> None:
        name = self.property_name
        if name and name.startswith("@assoc:"):
            hit_list = self.query_one("#value-hits", OptionList)
            option = hit_list.highlighted_option
            if option is not None:
                self.chosen_record = (int(option.id), str(option.prompt))
        self.action_apply()

    @on(OptionList.OptionSelected, "#value-hits")
    def _hit_chosen(self, event: OptionList.OptionSelected) -> None:
        self.chosen_record = (int(event.option.id), str(event.option.prompt))
        self.action_apply()

    def build(self) -> Filter:
        name, op = self.property_name, self.op
        if name is None or op is None:
            raise CrmError("choose a property and an operator")
        if op in NO_VALUE_OPS:
            value = None
        elif name.startswith("@assoc:"):
            if self.chosen_record is None:
                raise CrmError("type a name and choose a record from the list")
            value = self.chosen_record[0]
        elif self.query_one("#value-select", Select).display:
            value = self.query_one("#value-select", Select).value
            if value is Select.NULL:
                raise CrmError("choose a value")
        else:
            value = self.query_one("#value", Input).value.strip()
            if not value:
                raise CrmError("type a value")
            if op in ("any_of", "none_of"):
                value = tuple(v.strip() for v in value.split(";") if v.strip())
        flt = Filter(name, op, value)
        filter_expression(self.crm, self.meta, flt)  # coerces the value: raises InvalidValue
        return flt

    def action_apply(self) -> None:
        try:
            flt = self.build()
        except CrmError as exc:
            self.query_one("#error", Static).update(str(exc).splitlines()[0])
            return
        self.dismiss(flt)

    def action_cancel(self) -> None:
        self.close_or_ask(None)


class ColumnList(OptionList):
    """An option list of columns with check marks; space toggles, ctrl+up/down or J/K move."""

    BINDINGS = [
        Binding("space", "toggle", "Show/hide", id="columns.toggle"),
        Binding("ctrl+up,K", "move(-1)", "Move up", id="columns.move_up"),
        Binding("ctrl+down,J", "move(1)", "Move down", id="columns.move_down"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, items: list[tuple[str, str, bool]], **kwargs) -> None:
        super().__init__(**kwargs)
        self.items = items  # (key, label, shown)

    def on_mount(self) -> None:
        self.rebuild(0)

    def rebuild(self, highlight: int | None) -> None:
        self.set_options([Option(Content(("[x] " if shown else "[ ] ") + label), id=key)
                          for key, label, shown in self.items])
        if highlight is not None and self.items:
            self.highlighted = max(0, min(highlight, len(self.items) - 1))

    def action_toggle(self) -> None:
        i = self.highlighted
        if i is None:
            return
        key, label, shown = self.items[i]
        if shown and sum(1 for item in self.items if item[2]) == 1:
            self.app.bell()
            return
        self.items[i] = (key, label, not shown)
        self.rebuild(i)

    def action_move(self, direction: int) -> None:
        i = self.highlighted
        if i is None:
            return
        j = i + direction
        if not 0 <= j < len(self.items):
            return
        self.items[i], self.items[j] = self.items[j], self.items[i]
        self.rebuild(j)

    @property
    def chosen(self) -> list[str]:
        return [key for key, _label, shown in self.items if shown]


class ColumnsModal(ModalFooter, ModalScreen[list[str] | None]):
    """Edit columns: which show and in what order."""

    DEFAULT_CSS = modal_css("ColumnsModal") + """
    ColumnsModal ColumnList { max-height: 16; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="columns.cancel"),
                Binding("enter,ctrl+s", "apply", "Apply", id="columns.apply", priority=True)]

    def __init__(self, crm, object_name: str, columns: list[str]) -> None:
        super().__init__()
        self.crm = crm
        self.meta = crm.registry.get(object_name)
        self.columns = list(columns)

    def compose(self) -> ComposeResult:
        shown = [c for c in self.columns]
        rest = [c for c in available_columns(self.crm, self.meta) if c not in shown]
        items = [(c, column_label(self.crm, self.meta, c), True) for c in shown]
        items += [(c, column_label(self.crm, self.meta, c), False) for c in rest]
        with Vertical():
            yield Static("Edit columns", classes="title")
            yield ColumnList(items, id="columns")
            yield Static("space shows/hides · J/K or ctrl+↑/↓ move · enter applies · escape cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one(ColumnList).focus()

    def action_apply(self) -> None:
        self.dismiss(self.query_one(ColumnList).chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ViewsModal(ModalFooter, ModalScreen[tuple[str, object] | None]):
    """Pick a saved view; also save as new, rename, duplicate, delete, make default.

    Dismisses with ("switch", view_id), ("new", name), or None. Rename, duplicate, delete and
    default happen here through crm_tui.services.views and the list refreshes.
    """

    DEFAULT_CSS = modal_css("ViewsModal")
    BINDINGS = [
        Binding("escape", "cancel", "Close", id="views.cancel"),
        Binding("n", "new", "Save current as new", id="views.new"),
        Binding("r", "rename", "Rename", id="views.rename"),
        Binding("d", "duplicate", "Duplicate", id="views.duplicate"),
        Binding("delete,x", "delete", "Delete", id="views.delete"),
        Binding("asterisk,D", "set_default", "Make default", id="views.set_default"),
    ]

    def __init__(self, views, object_name: str, current_id: int | None) -> None:
        super().__init__()
        self.views = views
        self.object_name = object_name
        self.current_id = current_id

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Saved views", classes="title")
            yield OptionList(id="views")
            yield Static("enter switches · n save current as new · r rename · d duplicate · x delete · * default",
                         classes="hint")

    def on_mount(self) -> None:
        self.refresh_list(self.current_id)
        self.query_one("#views").focus()

    def refresh_list(self, highlight_id: int | None = None) -> None:
        items = self.views.list(self.object_name)
        ol = self.query_one("#views", OptionList)
        ol.set_options([Option(Content(("● " if v.id == self.current_id else "  ") + v.name
                                       + ("  (default)" if v.is_default else "")), id=str(v.id)) for v in items])
        index = next((i for i, v in enumerate(items) if v.id == highlight_id), 0)
        if items:
            ol.highlighted = index

    def _highlighted_id(self) -> int | None:
        option = self.query_one("#views", OptionList).highlighted_option
        return int(option.id) if option else None

    @on(OptionList.OptionSelected, "#views")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(("switch", int(event.option.id)))

    def _name_taken(self, name: str, except_id: int | None = None) -> str | None:
        if any(v.name == name and v.id != except_id for v in self.views.list(self.object_name)):
            return f"a view named {name!r} already exists"
        return None

    def action_new(self) -> None:
        def done(name):
            if name:
                self.dismiss(("new", name))
        self.app.push_screen(TextPromptModal("Name of the new view", check=self._name_taken), done)

    def action_rename(self) -> None:
        vid = self._highlighted_id()
        if vid is None:
            return
        view = self.views.get(vid)

        def done(name):
            if name:
                try:
                    self.views.rename(vid, name)
                except CrmError as exc:
                    self.notify(str(exc), severity="error", markup=False)
                self.refresh_list(vid)
        self.app.push_screen(TextPromptModal("Rename view", view.name, check=lambda n: self._name_taken(n, vid)), done)

    def action_duplicate(self) -> None:
        vid = self._highlighted_id()
        if vid is not None:
            copy = self.views.duplicate(vid)
            self.refresh_list(copy.id)

    def action_delete(self) -> None:
        vid = self._highlighted_id()
        if vid is None:
            return
        view = self.views.get(vid)

        def done(ok):
            if ok:
                self.views.delete(vid)
                if vid == self.current_id:
                    self.current_id = self.views.default(self.object_name).id
                self.refresh_list(self.current_id)
        self.app.push_screen(ConfirmModal(f"Delete the view {view.name!r}? Records are not deleted."), done)

    def action_set_default(self) -> None:
        vid = self._highlighted_id()
        if vid is not None:
            self.views.set_default(vid)
            self.refresh_list(vid)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NewRecordModal(AsksBeforeDiscard, ModalFooter, ModalScreen[int | None]):
    """A PropertyForm for a new record; ctrl+s (or enter in the last field) creates it."""

    DEFAULT_CSS = modal_css("NewRecordModal") + """
    NewRecordModal PropertyForm { max-height: 18; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="new_record.cancel"),
                Binding("ctrl+s", "save", "Create", id="new_record.save")]

    def __init__(self, crm, object_name: str, values: dict | None = None) -> None:
        super().__init__()
        self.crm = crm
        self.meta = crm.registry.get(object_name)
        self.values = values

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"New {self.meta.label.lower()}", markup=False, classes="title")
            yield PropertyForm(self.crm, self.meta.name, values=self.values, id="form")
            yield Static("ctrl+s creates · escape cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one(PropertyForm).focus_first()

    def action_save(self) -> None:
        self.query_one(PropertyForm).submit()

    @on(PropertyForm.Submitted)
    def _submitted(self, event: PropertyForm.Submitted) -> None:
        values = {k: v for k, v in event.values.items() if v is not None}
        form = event.form
        try:
            existing = self.crm.records.find_existing(self.meta.name, values)
            if existing is not None:
                # Never write over a record that holds this email / domain without asking.
                self.app.push_screen(ExistingRecordModal(self.crm, self.meta.name, existing, values),
                                     lambda choice: self._existing_chosen(choice, existing, values, form))
                return
            result = self.crm.records.create(self.meta.name, values, sources.USER)
        except CrmError as exc:
            form.show_error(_error_property(str(exc), self.meta), str(exc).splitlines()[0])
            return
        self.notify(saved_message(self.crm, self.meta, result, "Created"), markup=False)
        self.dismiss(result.id)

    def _existing_chosen(self, choice: str | None, existing: int, values: dict, form) -> None:
        if choice == "open":
            self.dismiss(None)
            self.app.open_record(self.meta.name, existing)
        elif choice == "update":
            try:
                result = self.crm.records.update(self.meta.name, existing,
                                                 self.crm.records.for_existing(self.meta.name, existing, values), sources.USER)
            except CrmError as exc:
                form.show_error(_error_property(str(exc), self.meta), str(exc).splitlines()[0])
                return
            self.notify(saved_message(self.crm, self.meta, result, "Updated"), markup=False)
            self.dismiss(existing)
        else:
            key = DEDUPE_KEYS.get(self.meta.name)
            if key:
                form.query_one(f"#pf-{key}").focus()

    def action_cancel(self) -> None:
        self.close_or_ask(None)


def _error_property(message: str, meta) -> str | None:
    for name in meta.properties:
        if f"{meta.name}.{name} " in message or f"{meta.name}.{name}:" in message:
            return name
    return None


class BulkEditModal(AsksBeforeDiscard, ModalFooter, ModalScreen[tuple[str, object] | None]):
    """Choose a property and a value to set on every selected record."""

    DEFAULT_CSS = modal_css("BulkEditModal")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="bulk_edit.cancel"),
                Binding("ctrl+s", "apply", "Apply", id="bulk_edit.apply")]

    def __init__(self, crm, object_name: str, count: int) -> None:
        super().__init__()
        self.crm = crm
        self.meta = crm.registry.get(object_name)
        self.count = count

    def compose(self) -> ComposeResult:
        props = [p for p in self.meta.properties.values() if not p.system and not p.read_only and not p.archived]
        with Vertical():
            yield Static(f"Edit {self.count} {self.meta.plural_label.lower() if self.count != 1 else self.meta.label.lower()}",
                         markup=False, classes="title")
            yield Select([(Content(p.label), p.name) for p in props], prompt="Choose a property", id="property")
            yield Vertical(id="form-slot")
            yield Static("ctrl+s applies (an empty value clears) · escape cancels", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#property").focus()

    @on(Select.Changed, "#property")
    async def _property_changed(self, event: Select.Changed) -> None:
        slot = self.query_one("#form-slot")
        await slot.remove_children()
        if event.value is not Select.NULL:
            form = PropertyForm(self.crm, self.meta.name, [event.value], id="form")
            await slot.mount(form)
            form.focus_first()

    @on(PropertyForm.Submitted)
    def _submitted(self, event: PropertyForm.Submitted) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        forms = self.query(PropertyForm)
        if not forms:
            self.notify("Choose a property first", severity="warning")
            return
        form = forms.first()
        name = form.properties[0].name
        # An empty value is allowed here (it clears the property), so check only what was typed.
        if form.raw(name) is not None and form.check(name):
            return
        self.dismiss((name, form.raw(name)))

    def action_cancel(self) -> None:
        self.close_or_ask(None)


class RecordSearchModal(ModalFooter, ModalScreen[tuple[str, int] | None]):
    """Search records as you type (every object, or some) and choose one: (object, id)."""

    DEFAULT_CSS = modal_css("RecordSearchModal") + """
    RecordSearchModal OptionList { height: auto; max-height: 16; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="record_search.cancel"),
                Binding("down", "down", "Down", show=False), Binding("up", "up", "Up", show=False)]

    def __init__(self, crm, title: str = "Search everywhere", objects: list[str] | None = None) -> None:
        super().__init__()
        self.crm = crm
        self.title_text = title
        self.objects = objects

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, markup=False, classes="title")
            yield TextInput(placeholder="type a name, email, domain…", id="query")
            yield OptionList(id="hits")
            yield Static("type to search · ↑/↓ choose · enter opens · escape closes", classes="hint", id="hint")

    def on_mount(self) -> None:
        self.query_one("#query").focus()

    def search(self, text: str) -> list:
        if not text.strip():
            return []
        if self.objects is None:
            return self.crm.search.everywhere(text, limit_per_object=8)
        hits = []
        for name in self.objects:
            hits.extend(self.crm.search.records(name, text, limit=8))
        return hits

    @on(Input.Changed, "#query")
    def _typed(self, event: Input.Changed) -> None:
        try:
            hits = self.search(event.value)
        except CrmError as exc:
            self.query_one("#hint", Static).update(Content(str(exc)))
            return
        ol = self.query_one("#hits", OptionList)
        options = []
        for hit in hits:
            label = self.crm.registry.get(hit.object).label
            options.append(Option(Content.assemble((f"{label:<10} ", "dim"), hit.display_name),
                                  id=f"{hit.object}:{hit.id}"))
        ol.set_options(options)
        if options:
            ol.highlighted = 0
        self.query_one("#hint", Static).update(
            f"{len(options)} found · ↑/↓ choose · enter opens · escape closes" if event.value.strip()
            else "type to search · ↑/↓ choose · enter opens · escape closes")

    def action_down(self) -> None:
        self.query_one("#hits", OptionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one("#hits", OptionList).action_cursor_up()

    @on(Input.Submitted, "#query")
    def _submitted(self, event: Input.Submitted) -> None:
        option = self.query_one("#hits", OptionList).highlighted_option
        if option is not None:
            self._choose(option.id)

    @on(OptionList.OptionSelected, "#hits")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str) -> None:
        obj, rid = option_id.split(":", 1)
        self.dismiss((obj, int(rid)))

    def action_cancel(self) -> None:
        self.dismiss(None)


class AssocPopup(ModalFooter, ModalScreen[tuple[str, int] | None]):
    """The records behind an association cell; enter opens one."""

    DEFAULT_CSS = modal_css("AssocPopup")
    BINDINGS = [Binding("escape", "cancel", "Close", id="assoc_popup.cancel")]

    def __init__(self, title: str, items: list[tuple[str, int, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.items = items

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, markup=False, classes="title")
            yield OptionList(*[Option(Content(name or f"#{rid}"), id=f"{obj}:{rid}") for obj, rid, name in self.items],
                             id="items")
            yield Static("enter opens · escape closes", classes="hint")

    def on_mount(self) -> None:
        ol = self.query_one("#items", OptionList)
        ol.focus()
        if self.items:
            ol.highlighted = 0

    @on(OptionList.OptionSelected, "#items")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        obj, rid = event.option.id.split(":", 1)
        self.dismiss((obj, int(rid)))

    def action_cancel(self) -> None:
        self.dismiss(None)
