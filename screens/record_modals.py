"""Modals of the record screen: actions menu, confirm, activity form, add association (create new /
add existing with recommendations), labels, choose a new primary, merge, pick records, filter.

Every modal talks to the core API only and shows the core's one-line error in place. User data is
rendered as literal Content (never markup).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import (
    Button, Checkbox, Input, Label, OptionList, SelectionList, Static, TabbedContent, TabPane,
)
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from crm_tui.domain import sources
from crm_tui.domain.errors import CrmError
from crm_tui.domain.sanitize import clean_line
from screens.modals import AsksBeforeDiscard, ModalFooter, name_records
from widgets.text_input import TextInput
from widgets.tick_list import TickList
from widgets.property_form import PropertyForm, form_properties

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 90%; max-width: 110; height: auto; max-height: 100%; border: round $primary;
    background: $surface; padding: 0 1; }}
{name} .title {{ text-style: bold; color: $text-primary; height: 1; }}
{name} .hint {{ color: $text-muted; height: auto; }}
{name} .error {{ color: $text-error; height: auto; }}
{name} .buttons {{ height: auto; align-horizontal: right; }}
{name} .buttons Button {{ margin: 0 0 0 1; min-width: 10; }}
{name} OptionList, {name} SelectionList {{ height: auto; max-height: 12; border: none; padding: 0; }}
{name} OptionList:focus, {name} SelectionList:focus {{ border: none; background-tint: $foreground 5%; }}
{name} Input {{ border: none; height: 1; padding: 0 1; background: $boost; }}
{name} Input:focus {{ border: none; background: $primary 30%; }}
{name} Checkbox {{ border: none; height: 1; padding: 0; background: transparent; }}
{name} Checkbox:focus {{ border: none; background-tint: $foreground 10%; }}
{name} Button {{ margin: 0 0 0 1; }}
{name} Tabs {{ height: 2; }}
"""


def css_for(name: str) -> str:
    return MODAL_CSS.format(name=name)



def literal(text) -> Content:
    return Content(clean_line(str(text if text is not None else "")))


class Base(ModalFooter, ModalScreen):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="record_modal.cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_descendant_focus(self, event) -> None:
        # Tab into a list lands on its first entry, so space ticks something at once.
        widget = event.widget
        if isinstance(widget, OptionList) and widget.highlighted is None and widget.option_count:
            widget.highlighted = 0

    def show_error(self, message: str) -> None:
        error = self.query_one("#error", Static)
        error.update(literal(message))
        error.display = bool(message)


# -- small modals -----------------------------------------------------------------------------------

class ActionsMenu(Base):
    """Pick an action of the record screen; dismisses with the action name."""

    DEFAULT_CSS = css_for("ActionsMenu")

    def __init__(self, actions: list[tuple[str, str]]) -> None:
        super().__init__()
        self.actions = actions

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Actions", classes="title")
            yield OptionList(*[Option(Content(label), id=name) for name, label in self.actions], id="actions")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class ChoiceModal(Base):
    """Choose one of (value, label); used for the new primary company. Dismisses with the value."""

    DEFAULT_CSS = css_for("ChoiceModal")

    def __init__(self, title: str, choices: list[tuple[object, str]], hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text), classes="title")
            if self.hint:
                yield Static(literal(self.hint), classes="hint")
            yield OptionList(*[Option(literal(label), id=str(i)) for i, (_, label) in enumerate(self.choices)], id="choices")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[int(event.option.id)][0])


class TickModal(AsksBeforeDiscard, Base):
    """Tick any of (value, label, ticked); ctrl+s or Save dismisses with the ticked values; escape
    or Cancel with ticks changed asks first."""

    DEFAULT_CSS = css_for("TickModal")
    BINDINGS = [Binding("ctrl+s", "save", "Save", id="record_modal.tick_save")]

    def __init__(self, title: str, items: list[tuple[object, str, bool]], hint: str = "space ticks, ctrl+s saves") -> None:
        super().__init__()
        self.title_text = title
        self.items = items
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text), classes="title")
            yield Static(literal(self.hint), classes="hint")
            yield TickList(*[Selection(literal(label), value, ticked) for value, label, ticked in self.items], id="ticks")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def action_save(self) -> None:
        self.dismiss(list(self.query_one(SelectionList).selected))

    def action_cancel(self) -> None:
        self.close_or_ask(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.close_or_ask(None)


# -- activities ---------------------------------------------------------------------------------------

class ActivityModal(AsksBeforeDiscard, Base):
    """Log or edit an activity: a PropertyForm of the activity object. Does the write itself and
    dismisses with the core's message (or None when cancelled)."""

    DEFAULT_CSS = css_for("ActivityModal") + "ActivityModal PropertyForm { max-height: 16; }"
    BINDINGS = [Binding("ctrl+s", "save", "Save", id="record_modal.activity_save")]

    def action_cancel(self) -> None:
        self.close_or_ask(None)

    def __init__(self, crm, ref, activity_object: str, activity_id: int | None = None) -> None:
        super().__init__()
        self.crm = crm
        self.ref = ref
        self.meta = crm.registry.get(activity_object)
        self.activity_id = activity_id
        self.values = crm.records.get(activity_object, activity_id).properties if activity_id else {}

    def compose(self) -> ComposeResult:
        verb = "Edit" if self.activity_id else "Log"
        names = form_properties(self.meta)
        with Vertical():
            builtin = self.meta.name in ("notes", "calls", "meetings", "emails", "tasks")
            yield Label(literal(f"{verb} {self.meta.label.lower() if builtin else self.meta.label}"), classes="title")  # SMS
            yield Static("ctrl+s saves; leave the date empty for now", classes="hint")
            yield PropertyForm(self.crm, self.meta.name, names, values=self.values, id="form")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#error").display = False
        form = self.query_one(PropertyForm)
        # start in the first text field (the title or body), not the date
        for prop in form.properties:
            if prop.type in ("text", "textarea"):
                self.query_one(f"#pf-{prop.name}").focus()
                return
        form.focus_first()

    @on(PropertyForm.Submitted)
    def _submitted(self, event: PropertyForm.Submitted) -> None:
        event.stop()
        self.action_save()

    def action_save(self) -> None:
        form = self.query_one(PropertyForm)
        if not form.validate():
            return
        values = form.values()
        try:
            if self.activity_id:
                result = self.crm.records.update(self.meta.name, self.activity_id, values, sources.USER)
                message = result.message
            else:
                message = self.crm.activities.log(self.ref, self.meta.name, values, source=sources.USER).message
        except CrmError as exc:
            self.show_error(str(exc))
            return
        self.dismiss(message)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.close_or_ask(None)


class PickRecordsModal(Base):
    """Search every object and tick records; dismisses with [(object, id)]."""

    DEFAULT_CSS = css_for("PickRecordsModal")
    BINDINGS = [Binding("ctrl+s", "save", "Save", id="record_modal.pick_save")]

    def __init__(self, crm, title: str, exclude: set | None = None) -> None:
        super().__init__()
        self.crm = crm
        self.title_text = title
        self.exclude = exclude or set()
        self.ticked: dict[tuple[str, int], str] = {}

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.title_text), classes="title")
            yield TextInput(placeholder="type to search every object", id="query")
            yield TickList(id="results")
            yield Static("space ticks, ctrl+s saves", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    @on(Input.Changed, "#query")
    def _search(self, event: Input.Changed) -> None:
        results = self.query_one("#results", SelectionList)
        results.clear_options()
        for key in list(self.ticked):
            results.add_option(Selection(literal(self.ticked[key]), key, True))
        hits = self.crm.search.everywhere(event.value, 5) if event.value.strip() else []
        for hit in hits:
            key = (hit.object, hit.id)
            if key in self.exclude or key in self.ticked:
                continue
            label = f"{self.crm.registry.get(hit.object).label}: {hit.display_name}"
            results.add_option(Selection(literal(label), key, False))

    @on(SelectionList.SelectionToggled)
    def _toggled(self, event) -> None:
        key = event.selection.value
        if key in event.selection_list.selected:
            self.ticked[key] = str(event.selection.prompt)
        else:
            self.ticked.pop(key, None)

    @on(Input.Submitted, "#query")
    def _to_results(self) -> None:
        results = self.query_one("#results", SelectionList)
        if results.option_count:
            results.highlighted = results.highlighted or 0
        results.focus()

    def action_save(self) -> None:
        self.dismiss(list(self.query_one("#results", SelectionList).selected))

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)


# -- add association --------------------------------------------------------------------------------

class AddAssociationModal(AsksBeforeDiscard, Base):
    """Associate records of `other_object` with the record: "Create new" or "Add existing".
    Dismisses with the list of messages of what was done (possibly empty) or None."""

    DEFAULT_CSS = css_for("AddAssociationModal") + """
    AddAssociationModal PropertyForm { max-height: 10; }
    AddAssociationModal TabbedContent { height: auto; }
    AddAssociationModal TabPane { height: auto; padding: 0; }
    AddAssociationModal #results { max-height: 10; }
    AddAssociationModal .labels { max-height: 5; }
    """
    BINDINGS = [Binding("ctrl+s", "save", "Save", id="record_modal.add_save")]
    DISCARD_IGNORES = ("query",)  # the search box: nothing is lost with it

    def __init__(self, crm, ref, other_object: str, tab: str = "existing") -> None:
        super().__init__()
        self.crm = crm
        self.ref = ref
        self.other = crm.registry.get(other_object)
        self.tab = tab
        self.done: list[str] = []
        self.ticked: dict[int, str] = {}
        self.labels = crm.assoc.labels_for(ref[0], other_object)
        holder = crm.registry.get(ref[0])
        self.primary_possible = other_object == "companies" and holder.has_primary_company

    def compose(self) -> ComposeResult:
        holder = self.crm.registry.get(self.ref[0])
        with Vertical():
            yield Label(literal(f"Associate {self.other.plural_label.lower()} with this {holder.label.lower()}"), classes="title")
            with TabbedContent(initial=self.tab, id="tabs"):
                with TabPane("Add existing", id="existing"):
                    yield TextInput(placeholder=f"search {self.other.plural_label.lower()} (name, email, domain…)", id="query")
                    yield Static("", id="results-hint", classes="hint")
                    yield TickList(id="results")
                with TabPane("Create new", id="create"):
                    yield PropertyForm(self.crm, self.other.name, id="form")
            if self.labels:
                yield Static("Labels to apply", classes="hint")
                yield TickList(*[Selection(literal(name), name) for name in self.labels], id="labels", classes="labels")
            if self.primary_possible:
                yield Checkbox("Replace current primary company", id="primary")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save", compact=True)
                yield Button("Create", id="create-btn", compact=True)
                yield Button("Create and add another", id="create-another", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#error").display = False
        self._fill_results("")
        self._tab_changed()
        if self.tab == "existing":
            self.query_one("#query").focus()
        else:
            self.query_one(PropertyForm).focus_first()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event=None) -> None:
        existing = self.query_one(TabbedContent).active == "existing"
        self.query_one("#save").display = existing
        self.query_one("#create-btn").display = not existing
        self.query_one("#create-another").display = not existing

    # -- add existing --

    def _fill_results(self, text: str) -> None:
        from crm_tui.services.recommend import recommend

        results = self.query_one("#results", SelectionList)
        results.clear_options()
        linked = set(self.crm.assoc.linked_ids(self.ref, self.other.name))
        if self.other.name == self.ref[0]:
            linked.add(int(self.ref[1]))
        shown = set()
        for rid, label in self.ticked.items():
            results.add_option(Selection(literal(label), rid, True))
            shown.add(rid)
        if text.strip():
            for hit in self.crm.search.records(self.other.name, text, 20):
                if hit.id in linked or hit.id in shown:
                    continue
                shown.add(hit.id)
                results.add_option(Selection(literal(f"{hit.display_name}  (#{hit.id})"), hit.id, False))
        else:
            recs = recommend(self.crm, self.ref, self.other.name, limit=8)
            for rec in recs:
                if rec.id in shown:
                    continue
                shown.add(rec.id)
                results.add_option(Selection(literal(f"{rec.display_name}  (#{rec.id}) — {rec.detail}"), rec.id, False))
        if text.strip():
            hint = "Search results (space ticks, ctrl+s saves)" if results.option_count else "No matches"
        else:
            hint = "Recommended (space ticks) — or type to search" if results.option_count else "Type to search"
        self.query_one("#results-hint", Static).update(hint)

    @on(Input.Changed, "#query")
    def _search(self, event: Input.Changed) -> None:
        self._fill_results(event.value)

    @on(Input.Submitted, "#query")
    def _to_results(self) -> None:
        results = self.query_one("#results", SelectionList)
        if results.option_count:
            results.highlighted = results.highlighted or 0
        results.focus()

    @on(SelectionList.SelectionToggled, "#results")
    def _toggled(self, event) -> None:
        rid = event.selection.value
        if rid in event.selection_list.selected:
            self.ticked[rid] = str(event.selection.prompt)
        else:
            self.ticked.pop(rid, None)

    def _chosen_labels(self) -> list[str]:
        return list(self.query_one("#labels", SelectionList).selected) if self.labels else []

    def _replace_primary(self) -> bool:
        return self.primary_possible and self.query_one("#primary", Checkbox).value

    def _link(self, other_id: int) -> str | None:
        """Link one record; None when done, else the one-line reason it was refused."""
        try:
            result = self.crm.assoc.add(self.ref, (self.other.name, other_id), labels=self._chosen_labels(),
                                        primary=self._replace_primary(), source=sources.USER)
        except CrmError as exc:
            return str(exc).splitlines()[0]
        self.done.append(result.message)
        return None

    def action_save(self) -> None:
        if self.query_one(TabbedContent).active == "create":
            self._create(again=False)
            return
        chosen = list(self.query_one("#results", SelectionList).selected)
        if not chosen:
            self.show_error("tick at least one record (space), then Save")
            return
        # One transaction: every ticked link is made, or none is and the error names the record.
        try:
            results = self.crm.assoc.add_many(self.ref, [(self.other.name, rid) for rid in chosen],
                                              labels=self._chosen_labels(), primary=self._replace_primary(),
                                              source=sources.USER)
        except CrmError as exc:
            self.show_error(str(exc))
            return
        self.done.extend(result.message for result in results)
        self.ticked.clear()
        self.dismiss(self.done)

    # -- create new --

    def _create(self, again: bool) -> None:
        form = self.query_one(PropertyForm)
        if not form.validate():
            return
        values = form.values()
        if not values:
            self.show_error("fill in at least one field")
            return
        try:
            existing = self.crm.records.find_existing(self.other.name, values)
        except CrmError as exc:
            self.show_error(str(exc))
            return
        if existing is not None:
            # A record with this email / domain exists: offer it instead of writing over it.
            from screens.modals import ExistingRecordModal

            self.app.push_screen(ExistingRecordModal(self.crm, self.other.name, existing, values, ("link", "update")),
                                 lambda choice: self._existing_chosen(choice, existing, values, again))
            return
        try:
            result = self.crm.records.create(self.other.name, values, sources.USER)
        except CrmError as exc:
            self.show_error(str(exc))
            return
        name = self.crm.records.display_names(self.other, [result.id]).get(result.id) or f"#{result.id}"
        self.done.append(f"created {self.other.label.lower()} {name}")
        problem = self._link(result.id)
        if problem:
            self.show_error(f"created {self.other.label.lower()} {name} but did not link it: {problem}")
            return
        self._after_create(again)

    def _existing_chosen(self, choice: str | None, existing: int, values: dict, again: bool) -> None:
        if choice is None:
            return
        if choice == "update":
            try:
                self.done.append(self.crm.records.update(self.other.name, existing, self.crm.records.for_existing(
                    self.other.name, existing, values), sources.USER).message)
            except CrmError as exc:
                self.show_error(str(exc))
                return
        problem = self._link(existing)
        if problem:
            self.show_error(problem)
            return
        self._after_create(again)

    def _after_create(self, again: bool) -> None:
        form = self.query_one(PropertyForm)
        if again:
            for prop in form.properties:
                form.set_raw(prop.name, None)
            form.errors.clear()
            self.show_error("")
            self.notify(name_records(self.crm, self.done[-1]), markup=False)
            form.focus_first()
        else:
            self.dismiss(self.done)

    @on(PropertyForm.Submitted)
    def _form_submitted(self, event) -> None:
        event.stop()
        self._create(again=False)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        button = event.button.id
        if button == "save":
            self.action_save()
        elif button == "create-btn":
            self._create(again=False)
        elif button == "create-another":
            self._create(again=True)
        else:
            self.close_or_ask(self.done or None)

    def action_cancel(self) -> None:
        self.close_or_ask(self.done or None)


# -- merge ----------------------------------------------------------------------------------------------

class MergeModal(Base):
    """Pick the other record by search, tick the properties whose value comes from it, confirm.
    The record on screen survives. Dismisses with the core's message."""

    DEFAULT_CSS = css_for("MergeModal") + "MergeModal #choose { max-height: 12; }"
    BINDINGS = [Binding("ctrl+s", "save", "Merge", id="record_modal.merge")]

    def __init__(self, crm, object_name: str, keep_id: int) -> None:
        super().__init__()
        self.crm = crm
        self.meta = crm.registry.get(object_name)
        self.keep_id = keep_id
        self.other_id: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(literal(f"Merge another {self.meta.label.lower()} into this one"), classes="title")
            yield TextInput(placeholder=f"search the {self.meta.label.lower()} to merge", id="query")
            yield OptionList(id="hits")
            yield Static("", id="step2", classes="hint")
            yield TickList(id="choose")
            yield Static("", id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Merge", variant="error", id="merge", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#error").display = False
        self.query_one("#choose").display = False
        self.query_one("#query").focus()

    @on(Input.Changed, "#query")
    def _search(self, event: Input.Changed) -> None:
        hits = self.query_one("#hits", OptionList)
        hits.clear_options()
        if not event.value.strip():
            return
        for hit in self.crm.search.records(self.meta.name, event.value, 20):
            if hit.id != self.keep_id:
                hits.add_option(Option(literal(f"{hit.display_name}  (#{hit.id})"), id=str(hit.id)))

    @on(Input.Submitted, "#query")
    def _to_hits(self) -> None:
        hits = self.query_one("#hits", OptionList)
        if hits.option_count:
            hits.highlighted = hits.highlighted or 0
        hits.focus()

    @on(OptionList.OptionSelected, "#hits")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        from crm_tui.services.paging import display_value

        self.other_id = int(event.option.id)
        keep = self.crm.records.get(self.meta.name, self.keep_id)
        other = self.crm.records.get(self.meta.name, self.other_id)
        choose = self.query_one("#choose", SelectionList)
        choose.clear_options()
        for name, prop in self.meta.properties.items():
            if prop.system or prop.read_only:
                continue
            mine, theirs = keep.properties.get(name), other.properties.get(name)
            if mine == theirs or theirs in (None, ""):
                continue
            take = mine in (None, "")  # the core's default: fill what is empty
            text = (f"{prop.label}: {display_value(self.crm, prop, mine) or '(empty)'}  ←  "
                    f"{display_value(self.crm, prop, theirs)}")
            choose.add_option(Selection(literal(text), name, take))
        self.query_one("#step2", Static).update(literal(
            f"Merging {other.display_name} (#{other.id}) into {keep.display_name} (#{keep.id}). "
            "Ticked properties take the other record's value; ctrl+s merges."))
        choose.display = True
        choose.focus()

    def action_save(self) -> None:
        if self.other_id is None:
            self.show_error("choose the record to merge first")
            return
        ticked = set(self.query_one("#choose", SelectionList).selected)
        choose = {}
        for name, prop in self.meta.properties.items():
            if not prop.system and not prop.read_only:
                choose[name] = "other" if name in ticked else "keep"
        try:
            result = self.crm.merger.merge(self.meta.name, self.keep_id, self.other_id, choose=choose, source=sources.USER)
        except CrmError as exc:
            self.show_error(str(exc))
            return
        self.dismiss(result.message)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "merge":
            self.action_save()
        else:
            self.dismiss(None)

