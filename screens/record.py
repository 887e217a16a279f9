"""The record screen: one screen for every object.

Left: the header (name and key fields) and every property grouped, edited in place (validated as
you type by the core; saved when the field loses focus or on enter; the core's one-line error shows
under the field). Middle: the timeline. Right: the association sidebar. Below 100 columns one panel
shows at a time (1 / 2 / 3 switch). Every action is a Binding with an id, so the command palette
lists it. The screen calls the core API only; user data is rendered literally.
"""

from __future__ import annotations

from textual import on
from textual._time import get_time
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, OptionList, Select, Static
from textual.widgets.option_list import Option

from crm_tui.domain import sources
from crm_tui.domain.errors import CrmError, NotFound, PrimaryRequired
from crm_tui.services.paging import display_value, format_datetime
from crm_tui.services.reports import money
from crm_tui.domain.sanitize import clean_line
from screens.modals import name_records, saved_message
from widgets.assoc_sidebar import AssocSidebar
from widgets.footer import KeysFooter
from widgets.header import SteadyHeader
from widgets.keeps_running import KeepsRunning
from widgets.property_form import PropertyForm
from widgets.steady_list import SteadyOptionList
from widgets.timeline import ICONS, Timeline

CoalescedFooter = KeysFooter  # its former name here: screens that import it from this module get it

NARROW = 100  # below this width one panel shows at a time
PANELS = ("left", "timeline", "sidebar")

HEADER_FIELDS = {
    "contacts": ["jobtitle", "email", "lifecyclestage"],
    "companies": ["domain", "industry", "city"],
    "deals": ["amount", "dealstage", "closedate"],
    "tickets": ["hs_pipeline_stage", "hs_ticket_priority"],
}


def record_link(object_name: str, record_id: int) -> str:
    return f"crm-tui://{object_name}/{record_id}"


class PropertyList(SteadyOptionList):
    """Every property of the record grouped (PropertyMeta.group), one line each: enter edits."""

    BINDINGS = [
        Binding("enter,i", "select", "Edit property", id="properties.edit"),
        Binding("j", "cursor_down", "Down", show=False, id="properties.down"),
        Binding("k", "cursor_up", "Up", show=False, id="properties.up"),
    ]
    DEFAULT_CSS = """
    PropertyList { height: auto; border: none; padding: 0; background: transparent; }
    PropertyList:focus { border: none; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(markup=False, **kwargs)

    def show(self, crm, meta, record, date_format: str) -> None:
        keep = self.highlighted
        groups: dict[str, list] = {}
        for prop in meta.properties.values():
            if not prop.system and not prop.archived:
                groups.setdefault(prop.group or "Properties", []).append(prop)
        width = min(22, max((len(p.label) for p in meta.properties.values()), default=10) + 1)
        options = []
        for group, props in groups.items():
            options.append(Option(Content.styled(group, "bold $text-primary"), disabled=True))
            for prop in props:
                value = clean_line(display_value(crm, prop, record.properties.get(prop.name), date_format))
                label = prop.label[:width - 1].ljust(width)
                style = "dim" if prop.read_only else ""
                options.append(Option(Content.assemble((label, "dim"), (value or "—", style)), id=f"p:{prop.name}"))
        options.append(Option(Content.styled("Record", "bold $text-primary"), disabled=True))
        for label, value in (("Record ID", str(record.id)), ("Create date", record.created_at),
                             ("Last modified", record.updated_at)):
            text = format_datetime(value, crm.datetime_format)
            options.append(Option(Content.assemble((label.ljust(width), "dim"), (text, "dim")), disabled=True))
        self.set_options(options)
        self.estimate_lines()
        first = next((i for i, o in enumerate(options) if not o.disabled), None)
        self.highlighted = keep if keep is not None and keep < len(options) and not options[keep].disabled else first


class RecordScreen(KeepsRunning, Screen):
    HELP_TITLE = "Record"
    HELP = """\
Properties on the left (enter edits one), the timeline in the middle, associations on the
right (at 80 columns 1/2/3 switch panels). n/c/w/e/t log a note, call, meeting, email or task;
L logs any type of activity, your own (schema apply) too; A adds an association; in the sidebar p makes a company primary, l edits labels, d removes.
H and P open the association and property history; m lists every action."""
    BINDINGS = [
        Binding("escape,q", "back", "Back", id="record.back"),
        Binding("m", "actions", "Actions", id="record.actions"),
        Binding("n", "log('notes')", "Log note", id="record.log_note"),
        Binding("c", "log('calls')", "Log call", id="record.log_call"),
        Binding("w", "log('meetings')", "Log meeting", show=False, id="record.log_meeting"),
        Binding("e", "log('emails')", "Log email", show=False, id="record.log_email"),
        Binding("t", "log('tasks')", "Log task", show=False, id="record.log_task"),
        Binding("L", "log_choose", "Log activity…", show=False, id="record.log_activity"),
        Binding("A", "add_association", "Add association", id="record.add_association"),
        Binding("H", "assoc_history", "Association history", id="record.assoc_history"),
        Binding("P", "property_history", "Property history", id="record.property_history"),
        Binding("M", "merge", "Merge with...", show=False, id="record.merge"),
        Binding("D", "delete", "Delete record", show=False, id="record.delete"),
        Binding("R", "restore", "Restore record", show=False, id="record.restore"),
        Binding("y", "copy_link", "Copy link", show=False, id="record.copy_link"),
        Binding("F", "filter_timeline", "Filter timeline", show=False, id="record.filter_timeline"),
        Binding("r", "refresh", "Refresh", show=False, id="record.refresh"),
        Binding("1", "show_panel('left')", "Properties", show=False, id="record.show_properties"),
        Binding("2", "show_panel('timeline')", "Timeline", show=False, id="record.show_timeline"),
        Binding("3", "show_panel('sidebar')", "Associations", show=False, id="record.show_associations"),
    ]
    DEFAULT_CSS = """
    RecordScreen #banner { display: none; height: auto; padding: 0 1; background: $error; color: $text; text-style: bold; }
    RecordScreen.-deleted #banner { display: block; }
    RecordScreen #panels { height: 1fr; }
    RecordScreen #left { width: 2fr; min-width: 30; padding: 0 1; }
    RecordScreen #timeline { width: 2fr; height: 1fr; max-height: 100%; border: none; border-left: vkey $border-blurred; }
    RecordScreen #timeline:focus { border: none; border-left: vkey $border; }
    RecordScreen #sidebar { width: 1fr; min-width: 26; height: 1fr; max-height: 100%; border: none;
        border-left: vkey $border-blurred; }
    RecordScreen #sidebar:focus { border: none; border-left: vkey $border; }
    RecordScreen #head { height: auto; }
    RecordScreen .readonly { height: auto; color: $text-muted; }
    RecordScreen #editor { display: none; height: auto; border: round $primary; padding: 0 1; }
    RecordScreen.-narrow #left, RecordScreen.-narrow #timeline, RecordScreen.-narrow #sidebar {
        display: none; width: 1fr; border-left: none; }
    RecordScreen.-narrow.-show-left #left { display: block; }
    RecordScreen.-narrow.-show-timeline #timeline { display: block; }
    RecordScreen.-narrow.-show-sidebar #sidebar { display: block; }
    RecordScreen #panel-tabs { display: none; height: 1; padding: 0 1; color: $text-muted; }
    RecordScreen.-narrow #panel-tabs { display: block; }
    """

    def __init__(self, object_name: str, record_id: int):
        super().__init__()
        self.object_name = object_name
        self.record_id = int(record_id)
        self.panel = "left"
        self.record = None
        self.editing: str | None = None
        self._edits = 0
        self._own_delete = False  # the delete being shown was made here (no "by another change" line)
        self._left = False  # the record vanished and the screen is going back

    @property
    def crm(self):
        return self.app.crm

    @property
    def ref(self) -> tuple[str, int]:
        return (self.object_name, self.record_id)

    @property
    def meta(self):
        return self.crm.registry.get(self.object_name)

    # -- building -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        try:
            self.record = self.crm.records.get(self.object_name, self.record_id)
        except CrmError as exc:
            self.missing = str(exc)
            yield Header()
            yield Static(Content(self.missing))
            yield Footer()
            return
        # layout classes before the children mount: changing them later restyles every widget
        self.set_classes(set(self.classes) | self._wanted_classes(self.app.size.width))
        # focus goes straight to the panel on_mount focuses (by default Textual would first focus the
        # first focusable widget, then move it: a second restyle of the screen and of its footer)
        self.AUTO_FOCUS = "#timeline" if self.app.size.width >= NARROW else "#props"
        if self.record.deleted:
            self.add_class("-deleted")
        yield SteadyHeader()
        yield Static("", id="banner", markup=False)
        yield Static("", id="panel-tabs", markup=False)
        with Horizontal(id="panels"):
            with Vertical(id="left"):
                yield Static("", id="head")  # outside the scroll: an edit never scrolls the name away
                with VerticalScroll(id="left-scroll"):
                    yield from self._compose_properties()
            yield Timeline(self.crm, self.ref, id="timeline")
            yield AssocSidebar(self.crm, self.ref, id="sidebar", classes="side-panel")
        yield KeysFooter()

    def _compose_properties(self):
        yield Vertical(id="editor")
        yield PropertyList(id="props")

    def on_mount(self) -> None:
        if self.record is None:
            self.notify(self.missing, markup=False, severity="error")
            self.call_later(self.app.pop_screen)
            return
        self._apply_width(self.app.size.width)
        self.refresh_record()
        self.query_one("#timeline").focus() if self.app.size.width >= NARROW else self._focus_panel()
        self.call_after_refresh(self.query_one("#left-scroll").scroll_home, animate=False)

    async def _on_resize(self, event) -> None:
        if self.record is not None:
            self._apply_width(event.size.width)
        if event.size == self._compositor.size:
            # Textual's first layout of a screen sends the screen a Resize to the size it was just
            # laid out at, and Screen._on_resize lays the whole screen out again at once (a layout
            # and a frame of their own); the layouts its widgets asked for meanwhile go into the
            # screen's next regular update instead.
            event.stop()
            event.prevent_default()

    _laid_out = False

    def _refresh_layout(self, size=None, scroll: bool = False) -> None:
        """The screen's first layout is drawn once, whole: in two passes before one frame.

        Textual lays a new screen out before its widgets know their sizes: the lists learn only
        then that they scroll and how many lines their options take (a long value or the
        sidebar's "… N more" wraps), and every widget's first size asks for one more layout.
        It drew that first frame without the scrollbars and laid the screen out and drew it
        again for each of these (six layouts and seven frames in all). Here the lists count
        their lines after the first pass, the second pass places what the first one set off,
        and what was asked for before or during the passes is dropped: the frame has it."""
        if self._laid_out or scroll or not (size or self.outer_size):
            super()._refresh_layout(size, scroll)
            return
        self._laid_out = True
        self._first_layout_at = get_time()
        self._drop_requests()  # those not yet sent; those on their way: _on_layout, _on_update
        with self.app.batch_update():  # drawn once, after the second pass (not deferred)
            super()._refresh_layout(size, scroll)
            for widget in self.query(SteadyOptionList):
                widget.count_lines()
            self._drop_requests()
            super()._refresh_layout(size, scroll)
            self._drop_requests(scrollbars_only=True)  # their first sizes: drawn in this frame
        if self.is_current:
            self._compositor_refresh()

    _first_layout_at = 0.0

    def _drop_requests(self, scrollbars_only: bool = False) -> None:
        """Forget the layouts and repaints the widgets asked for and have not sent yet: the full
        layout that follows, and the frame drawn after it, include them."""
        for widget in self.walk_children(Widget, with_self=False):
            for node in (() if scrollbars_only else (widget,)) + tuple(widget._get_virtual_dom()):
                node._layout_required = node._repaint_required = False

    async def _on_layout(self, message) -> None:
        if message.time < self._first_layout_at:  # asked for before the first layout: done in it
            message.stop()
            message.prevent_default()

    async def _on_update(self, message) -> None:
        if message.time < self._first_layout_at:  # asked for before the first frame: drawn in it
            message.stop()
            message.prevent_default()

    def _wanted_classes(self, width: int) -> set[str]:
        return {"-narrow", f"-show-{self.panel}"} if width < NARROW else set()

    def _apply_width(self, width: int) -> None:
        """Set the layout classes, touching the screen's classes only when they change (each change
        restyles every widget on the screen)."""
        ours = {"-narrow"} | {f"-show-{p}" for p in PANELS}
        current = set(self.classes) & ours
        wanted = self._wanted_classes(width)
        if current != wanted:
            self.set_classes((set(self.classes) - ours) | wanted)
        if "-narrow" in wanted:
            labels = {"left": "1 Properties", "timeline": "2 Timeline", "sidebar": "3 Associations"}
            self.query_one("#panel-tabs", Static).update(
                Content.assemble(*[((f"[{labels[p]}] " if p == self.panel else f" {labels[p]}  "),
                                    "bold" if p == self.panel else "") for p in PANELS]))

    # -- refreshing -----------------------------------------------------------------------------

    def refresh_record(self) -> None:
        was_live = self.record is not None and not self.record.deleted
        try:
            if self.object_name not in self.crm.registry.objects:
                raise NotFound(self.object_name)
            self.record = self.crm.records.get(self.object_name, self.record_id)
        except NotFound:
            self._gone()
            return
        rec, meta = self.record, self.meta
        if was_live and rec.deleted and not self._own_delete:
            self.say(f"this {meta.label.lower()} was deleted or merged by another change", "warning")
        self._own_delete = False
        self.sub_title = f"{meta.label}: {clean_line(rec.display_name)}"
        if self.has_class("-deleted") != rec.deleted:
            self.set_class(rec.deleted, "-deleted")
        if rec.deleted:
            self.query_one("#banner", Static).update(
                f"This {meta.label.lower()} is DELETED (since {format_datetime(rec.deleted_at, self.crm.datetime_format)}). "
                "Press R to restore it.")
        self._update_head()
        self.query_one(PropertyList).show(self.crm, meta, rec, self.app.config.date_format)

    def _update_head(self) -> None:
        rec, meta = self.record, self.meta
        lines = [(clean_line(rec.display_name), "bold")]
        details = []
        stages = [p for p, m in meta.properties.items() if m.options_from == "stages"]  # a custom object's stage
        for name in HEADER_FIELDS.get(meta.name, [meta.primary_property] + stages[:1]):
            prop = meta.properties.get(name)
            value = rec.properties.get(name)
            if prop is not None and value not in (None, "") and name != "id":
                details.append(clean_line(display_value(self.crm, prop, value, self.app.config.date_format)))
        parts: list = [*lines, "\n"]
        if details:
            parts += [" · ".join(details), "\n"]
        if meta.has_primary_company:
            primary = self.crm.assoc.primary_company(self.ref)
            if primary:
                companies = self.crm.registry.get("companies")
                name = self.crm.records.display_names(companies, [primary]).get(primary, f"#{primary}")
                parts += [("Primary company: ", "dim"), clean_line(name), "\n"]
        if meta.name == "companies" and "deals" in self.crm.registry.objects:
            t = self.crm.reports.deal_totals(self.ref)
            if t["open_deals"] or t["won_deals"]:
                parts += [("Deals: ", "dim"), f"{t['open_deals']} open {money(t['open_amount'])} · "
                          f"{t['won_deals']} won {money(t['won_amount'])}", "\n"]
        parts.append((f"{meta.label} #{rec.id} · m: actions", "dim"))
        self.query_one("#head", Static).update(Content.assemble(*parts))

    def refresh_all(self) -> None:
        self.refresh_record()
        if self._left:
            return
        self.query_one(Timeline).reload()
        self.query_one(AssocSidebar).reload()

    def changed_elsewhere(self) -> bool:
        """After an action failed: when this screen's record is gone (deleted for good, merged
        away, or not in a restored backup), say so in one line and go back (True)."""
        if self._left:
            return True
        meta = self.crm.registry.objects.get(self.object_name)
        if meta is not None and self.crm.records.exists(meta, self.record_id, live=False):
            return False
        self._gone()
        return True

    def _gone(self) -> None:
        if self._left:
            return
        self._left = True
        meta = self.crm.registry.objects.get(self.object_name)
        what = meta.label.lower() if meta is not None else "record"
        self.say(f"this {what} (#{self.record_id}) was deleted or merged by another change; "
                 "it is no longer in the database", "warning")

        def leave() -> None:
            if self in self.app.screen_stack:
                while self.app.screen is not self:
                    self.app.pop_screen()
                self.app.pop_screen()
        self.app.call_later(leave)

    def say(self, message: str, severity: str = "information") -> None:
        if severity == "error" and self.changed_elsewhere():
            return  # refused because the record is gone: that is the one line to show
        self.notify(name_records(self.crm, message), markup=False, severity=severity)

    # -- inline editing -------------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#props")
    def _property_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and event.option.id.startswith("p:"):
            self.edit_property(event.option.id[2:])

    def edit_property(self, name: str) -> None:
        """Open the inline editor (a one-field PropertyForm, validated as you type) under the list."""
        prop = self.meta.prop(name)
        if self.record.deleted:
            self.say(f"this {self.meta.label.lower()} is deleted; restore it first (R)", "warning")
            return
        if prop.read_only or prop.system:
            self.say(f"{prop.label} is read-only", "warning")
            return
        self.editing = name
        self.call_later(self._open_editor, name)

    async def _open_editor(self, name: str) -> None:
        editor = self.query_one("#editor", Vertical)
        await editor.remove_children()
        self._edits += 1
        form = PropertyForm(self.crm, self.object_name, [name], values=self.record.properties,
                            id=f"edit-form-{self._edits}", classes="edit-form")
        await editor.mount(form, Static(Content("enter saves text · choosing an option saves it · escape cancels"), classes="readonly"))
        editor.display = True
        form.focus_first()
        editor.scroll_visible()

    def close_editor(self) -> None:
        editor = self.query_one("#editor", Vertical)
        editor.remove_children()
        editor.display = False
        self.editing = None
        self.query_one(PropertyList).focus()

    def _save_field(self, form: PropertyForm, name: str) -> bool | None:
        """True when saved, None when nothing changed, False when refused (the error shows in place)."""
        if self.record is None or self.record.deleted:
            return False
        prop = self.meta.prop(name)
        raw = form.raw(name)
        if form.check(name):
            return False  # the error already shows under the field
        new = self.crm.records.coerce_value(self.meta, prop, raw)
        if new == self.record.properties.get(name):
            return None
        try:
            result = self.crm.records.update(self.object_name, self.record_id, {name: raw}, sources.USER)
        except CrmError as exc:
            if isinstance(exc, NotFound) and self.changed_elsewhere():
                return False
            form.show_error(name, str(exc))
            return False
        self.refresh_record()
        self.say(saved_message(self.crm, self.meta, result, "Updated"))  # names the record, not its id
        return True

    @on(PropertyForm.Changed, ".edit-form")
    def _changed(self, event: PropertyForm.Changed) -> None:
        widget = event.form.query_one(f"#pf-{event.property}")
        if isinstance(widget, Select) and event.error is None and self._save_field(event.form, event.property) is True:
            self.close_editor()

    @on(PropertyForm.Submitted, ".edit-form")
    def _submitted(self, event: PropertyForm.Submitted) -> None:
        if self.editing and self._save_field(event.form, self.editing) is not False:
            self.close_editor()

    # -- panels ---------------------------------------------------------------------------------

    def action_show_panel(self, name: str) -> None:
        self.panel = name
        self._apply_width(self.size.width or self.app.size.width)
        self._focus_panel()

    def _focus_panel(self) -> None:
        if self.panel == "left":
            self.query_one(PropertyList).focus()
        else:
            self.query_one(f"#{self.panel}").focus()

    def on_descendant_focus(self, event) -> None:
        for name in PANELS:
            panel = self.query_one(f"#{name}")
            if event.widget is panel or panel in event.widget.ancestors:
                if self.panel != name:
                    self.panel = name
                    self._apply_width(self.size.width or self.app.size.width)
                return

    # -- actions --------------------------------------------------------------------------------

    def action_back(self) -> None:
        if self.editing:
            forms = self.query_one("#editor", Vertical).query(PropertyForm)
            if forms and forms.first().changed():  # typed text is not dropped without asking
                from screens.modals import ConfirmModal

                self.app.push_screen(ConfirmModal("Discard changes?", "Discard"),
                                     lambda discard: self.close_editor() if discard and self.editing else None)
                return
            self.close_editor()
            return
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.refresh_all()

    def action_actions(self) -> None:
        from screens.record_modals import ActionsMenu

        actions = [
            ("assoc_history", "View association history"),
            ("property_history", "View property history"),
            ("merge", "Merge with..."),
            ("restore" if self.record.deleted else "delete", "Restore" if self.record.deleted else "Delete"),
            ("copy_link", "Copy link"),
            ("add_association", "Add association"),
            ("log('notes')", "Log note"), ("log('calls')", "Log call"), ("log('meetings')", "Log meeting"),
            ("log('emails')", "Log email"), ("log('tasks')", "Log task"),
        ] + [(f"log({name!r})", f"Log {clean_line(meta.label)}") for name, meta in self.crm.registry.objects.items()
             if meta.is_activity and name not in ICONS]  # a user's activity types (SMS, ...)

        def chosen(action) -> None:
            if action:
                self.call_later(self.run_action, action)

        self.app.push_screen(ActionsMenu(actions), chosen)

    def _refuse_if_deleted(self) -> bool:
        if self.record.deleted:
            self.say(f"this {self.meta.label.lower()} is deleted; restore it first (R)", "warning")
            return True
        return False

    def action_copy_link(self) -> None:
        link = record_link(self.object_name, self.record_id)
        self.app.copy_to_clipboard(link)
        self.say(f"copied {link}")

    def action_assoc_history(self) -> None:
        from screens.history import AssocHistoryScreen

        self.app.push_screen(AssocHistoryScreen(self.object_name, self.record_id))

    def action_property_history(self) -> None:
        from screens.history import PropertyHistoryScreen

        self.app.push_screen(PropertyHistoryScreen(self.object_name, self.record_id))

    def action_log(self, activity_object: str) -> None:
        from screens.record_modals import ActivityModal

        if self._refuse_if_deleted() or activity_object not in self.crm.registry.objects:
            return

        def done(message) -> None:
            if message:
                self.say(message)
                self.query_one(Timeline).reload()
                self.query_one(AssocSidebar).reload()

        self.app.push_screen(ActivityModal(self.crm, self.ref, activity_object), done)

    def action_log_choose(self) -> None:
        """Log any type of activity: the five built in and a user's own (SMS, WhatsApp, ...)."""
        from screens.record_modals import ChoiceModal

        if self._refuse_if_deleted():
            return
        keys = {"notes": "n", "calls": "c", "meetings": "w", "emails": "e", "tasks": "t"}
        choices = [(name, clean_line(self.crm.registry.get(name).label) + (f"  ({keys[name]})" if name in keys else ""))
                   for name in self.crm.activities.activity_objects()]

        def chosen(name) -> None:
            if name:
                self.action_log(name)

        self.app.push_screen(ChoiceModal("Log which kind of activity?", choices, "enter chooses · escape cancels"), chosen)

    def action_filter_timeline(self) -> None:
        from screens.record_modals import TickModal

        timeline = self.query_one(Timeline)
        current = set(timeline.types or [])
        items = [(name, clean_line(self.crm.registry.get(name).plural_label), name in current)
                 for name in self.crm.activities.activity_objects()]

        def done(types) -> None:
            if types is not None:
                timeline.reload(types=list(types))

        self.app.push_screen(TickModal("Show these activity types (none ticked: all)", items), done)

    def action_add_association(self, object_name: str | None = None) -> None:
        from screens.record_modals import AddAssociationModal

        if self._refuse_if_deleted():
            return
        sidebar = self.query_one(AssocSidebar)
        if object_name is None and sidebar.has_focus_within:
            object_name = sidebar.section_object()

        def done(messages) -> None:
            if messages:
                self.say("; ".join(messages))
            self.refresh_all()

        if object_name is not None:
            self.app.push_screen(AddAssociationModal(self.crm, self.ref, object_name), done)
            return
        from screens.record_modals import ChoiceModal

        # From anywhere but a sidebar section: which kind of record? Companies first, activities last.
        objects = sorted((m for m in self.crm.registry.objects.values()),
                         key=lambda m: (m.is_activity, m.name != "companies", m.name != "contacts"))
        choices = [(m.name, m.plural_label) for m in objects]

        def chosen(name) -> None:
            if name:
                self.app.push_screen(AddAssociationModal(self.crm, self.ref, name), done)

        self.app.push_screen(ChoiceModal("Associate with which kind of record?", choices, "enter chooses · escape cancels"),
                             chosen)

    def action_merge(self) -> None:
        from screens.record_modals import MergeModal

        if self._refuse_if_deleted():
            return

        def done(message) -> None:
            if message:
                self.say(message)
                self.refresh_all()

        self.app.push_screen(MergeModal(self.crm, self.object_name, self.record_id), done)

    def action_delete(self) -> None:
        from screens.modals import ConfirmModal

        if self.record.deleted:
            self.say(f"this {self.meta.label.lower()} is already deleted", "warning")
            return

        def done(yes) -> None:
            if not yes:
                return
            try:
                result = self.crm.records.delete(self.object_name, self.record_id, sources.USER)
            except CrmError as exc:
                self.say(str(exc), "error")
                return
            self.say(result.message)
            self._own_delete = True
            self.refresh_all()

        name = clean_line(self.record.display_name)
        self.app.push_screen(ConfirmModal(f"Delete {self.meta.label.lower()} {name} (#{self.record_id})? "
                                          "Its associations are removed; Restore brings them back.", "Delete"), done)

    def action_restore(self) -> None:
        from screens.modals import ConfirmModal

        if not self.record.deleted:
            self.say(f"this {self.meta.label.lower()} is not deleted", "warning")
            return

        def done(yes) -> None:
            if not yes:
                return
            try:
                result = self.crm.records.restore(self.object_name, self.record_id, sources.USER)
            except CrmError as exc:
                self.say(str(exc), "error")
                return
            self.say(result.message)
            self.refresh_all()

        self.app.push_screen(ConfirmModal(f"Restore {self.meta.label.lower()} #{self.record_id}?", "Restore"), done)

    # -- sidebar requests -----------------------------------------------------------------------

    @on(AssocSidebar.Requested)
    def _sidebar(self, event: AssocSidebar.Requested) -> None:
        item = event.item
        if event.action == "open":
            self.app.open_record(item.object, item.id)
        elif event.action == "add":
            self.action_add_association(event.object_name)
        elif self._refuse_if_deleted():
            return
        elif event.action == "toggle_primary":
            self._toggle_primary(item)
        elif event.action == "edit_labels":
            self._edit_labels(item)
        elif event.action == "remove":
            self._remove(item)

    def _holder_for(self, item):
        """(holder ref, company id) when the link can carry a primary flag, else None."""
        if item.object == "companies" and self.meta.has_primary_company:
            return self.ref, item.id
        if self.object_name == "companies" and self.crm.registry.get(item.object).has_primary_company:
            return (item.object, item.id), self.record_id
        return None

    def _after_change(self, message: str) -> None:
        self.say(message)
        self.refresh_record()
        self.query_one(AssocSidebar).reload()

    def _choose_primary(self, exc: PrimaryRequired, then) -> None:
        from screens.record_modals import ChoiceModal

        choices = [(cid, f"{name}  (#{cid})") for cid, name in exc.candidates]
        self.app.push_screen(ChoiceModal("Choose the new primary company", choices, hint=str(exc)),
                             lambda chosen: then(chosen) if chosen is not None else self.say("nothing changed"))

    def _toggle_primary(self, item) -> None:
        found = self._holder_for(item)
        if found is None:
            self.say("primary applies only to companies associated with a contact, deal, ticket or custom record", "warning")
            return
        holder, company_id = found
        if not item.primary:
            try:
                self._after_change(self.crm.assoc.set_primary(holder, company_id, source=sources.USER))
            except CrmError as exc:
                self.say(str(exc), "error")
            return

        def run(new_primary=None) -> None:
            try:
                self._after_change(self.crm.assoc.remove_primary(holder, company_id, new_primary=new_primary,
                                                                 source=sources.USER))
            except PrimaryRequired as exc:
                self._choose_primary(exc, run)
            except CrmError as exc:
                self.say(str(exc), "error")

        run()

    def _edit_labels(self, item) -> None:
        from screens.record_modals import TickModal

        names = self.crm.assoc.labels_for(self.object_name, item.object)
        if not names:
            self.say(f"no association labels are defined from {self.meta.plural_label.lower()} to {item.object}", "warning")
            return

        def done(chosen) -> None:
            if chosen is None:
                return
            try:
                self._after_change(self.crm.assoc.set_labels(self.ref, (item.object, item.id), list(chosen),
                                                             source=sources.USER))
            except CrmError as exc:
                self.say(str(exc), "error")

        self.app.push_screen(TickModal(f"Labels of {clean_line(item.display_name)}",
                                       [(n, n, n in item.labels) for n in names]), done)

    def _remove(self, item) -> None:
        from screens.modals import ConfirmModal

        def run(new_primary=None) -> None:
            try:
                message = self.crm.assoc.remove(self.ref, (item.object, item.id), new_primary=new_primary,
                                                source=sources.USER)
            except PrimaryRequired as exc:
                self._choose_primary(exc, run)
                return
            except CrmError as exc:
                self.say(str(exc), "error")
                return
            self._after_change(message)
            self.query_one(Timeline).reload()

        def confirmed(yes) -> None:
            if yes:
                run()

        self.app.push_screen(ConfirmModal(f"Remove the association with {clean_line(item.display_name)}?", "Remove"),
                             confirmed)

    # -- timeline requests ----------------------------------------------------------------------

    @on(Timeline.ActivityChosen)
    def _activity_chosen(self, event: Timeline.ActivityChosen) -> None:
        from screens.record_modals import ActivityModal

        def done(message) -> None:
            if message:
                self.say(message)
                self.query_one(Timeline).reload()

        self.app.push_screen(ActivityModal(self.crm, self.ref, event.object_name, event.activity_id), done)

    @on(Timeline.ActionRequested)
    def _timeline_action(self, event: Timeline.ActionRequested) -> None:
        item = event.item
        if event.action == "filter":
            self.action_filter_timeline()
            return
        if item is None:
            return
        if event.action == "toggle_done":
            if item.object != "tasks":
                self.say("only tasks can be marked done", "warning")
                return
            done = item.properties.get("hs_task_status") == "COMPLETED"
            try:
                result = self.crm.records.update("tasks", item.id, {"hs_task_status": "NOT_STARTED" if done else "COMPLETED"},
                                                 sources.USER)
            except CrmError as exc:
                self.say(str(exc), "error")
                return
            self.say(result.message)
            self.query_one(Timeline).reload()
        elif event.action == "associate":
            self._associate_activity(item)

    def _associate_activity(self, item) -> None:
        from screens.record_modals import PickRecordsModal

        exclude = {(o.object, i.id) for o in self.crm.assoc.groups((item.object, item.id), per_group=None)
                   for i in o.items}

        def done(refs) -> None:
            if not refs:
                return
            messages = []
            for ref in refs:
                try:
                    messages.append(self.crm.assoc.add((item.object, item.id), ref, source=sources.USER).message)
                except CrmError as exc:
                    self.say(str(exc), "error")
                    break
            if messages:
                self.say("; ".join(messages))

        self.app.push_screen(PickRecordsModal(self.crm, f"Associate this {clean_line(self.crm.registry.get(item.object).label).lower()} "
                                                        "with more records", exclude), done)
