"""The index screen: one screen for every object, a sidebar of objects and a virtual table of records.

Above the table: the view bar (object, saved view, record count) and the filter bar, which always
lists the active filters / search / recycle bin with the key that clears them. Every action is a
Binding with an id (index.*), so it shows in the footer or help and in the command palette.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from crm_tui.services import bulk
from crm_tui.domain import sources
from crm_tui.domain.errors import CrmError
from crm_tui.services.paging import ViewPager, ViewSpec
from crm_tui.services.query import Filter, Sort
from crm_tui.domain.types import PROPERTY_TYPES, property_type
from crm_tui.services.views import Views, default_columns  # noqa: F401  (default_columns: kept for importers)
from screens.modals import ConfirmModal
from widgets.footer import KeysFooter
from widgets.keeps_running import KeepsRunning
from widgets.text_input import TextInput
from widgets.record_table import Column, RecordTable

from .labels import column_label, filter_text  # the modals (index_modals) are imported when first opened

RANK_AFTER = 0.25  # seconds without a keystroke before search results are ranked
SIDEBAR_MIN_WIDTH = 100  # below this terminal width the object sidebar hides (ctrl+b shows it)


TYPE_WIDTHS = {name: kind.width for name, kind in PROPERTY_TYPES.items()}  # kept for callers


def preferred_width(meta, key: str) -> int:
    """How wide a column wants to be: by what it holds, not one size for all."""
    if key.startswith("@"):
        return 22
    if key == "id":
        return 8
    prop = meta.properties.get(key)
    if prop is None:
        return 18
    if prop.name in ("firstname", "lastname"):
        return 14
    if property_type(prop.type).has_options:
        longest = max((len(o.label) for o in prop.options), default=12)
        return min(max(longest, 8), 24)
    return property_type(prop.type).width


class IndexScreen(KeepsRunning, Screen):
    HELP_TITLE = "Index"
    HELP = """\
One table per object. Move with j/k, g/G; enter opens a record (on an "N records" or
primary-company cell it opens that record). / searches as you type, f adds a filter (always shown
above the table; x clears them), s sorts by the column under the cursor (h/l move it), c chooses
columns, v switches views, ctrl+s saves the view. space selects rows for d (delete), e (edit) and
a (associate); b shows the recycle bin, R restores. E exports this view. t opens My tasks."""
    BINDINGS = [
        Binding("n", "new_record", "New", id="index.new_record", tooltip="Create a record of this object"),
        Binding("slash", "search", "Search", id="index.search", tooltip="Search this object as you type"),
        Binding("f", "filter", "Filter", id="index.filter", tooltip="Add a filter on a property"),
        Binding("x", "clear_filters", "Clear filters", id="index.clear_filters", show=False, tooltip="Remove every filter and the search"),
        Binding("s", "sort", "Sort", id="index.sort", tooltip="Cycle sort on the column under the cursor"),
        Binding("v", "views", "Views", id="index.views", tooltip="Switch, save, rename or delete saved views"),
        Binding("c", "columns", "Edit columns", id="index.columns", show=False, tooltip="Choose and order the columns"),
        Binding("E", "export", "Export view", id="index.export", show=False,
                tooltip="Write this view (filters, columns, sort) to a CSV, JSON or vCard file"),
        Binding("ctrl+s", "save_view", "Save view", id="index.save_view", show=False,
                tooltip="Save columns, filters and sort into the current view"),
        Binding("d,delete", "bulk_delete", "Delete", id="index.bulk_delete", show=False,
                tooltip="Delete the selected records (or the one under the cursor)"),
        Binding("e", "bulk_edit", "Bulk edit", id="index.bulk_edit", show=False,
                tooltip="Set a property on the selected records"),
        Binding("a", "bulk_associate", "Associate", id="index.bulk_associate", show=False,
                tooltip="Associate the selected records with a record"),
        Binding("b", "recycle_bin", "Recycle bin", id="index.recycle_bin", show=False,
                tooltip="Show deleted records (b again to leave)"),
        Binding("R", "restore", "Restore", id="index.restore", tooltip="Restore the selected deleted records"),
        Binding("ctrl+f", "search_everywhere", "Search everywhere", id="index.search_everywhere", show=False,
                tooltip="Search every object"),
        Binding("D", "dashboard", "Dashboard", id="index.dashboard", show=False,
                tooltip="Your reports as charts (enter on a bar opens its records)"),
        Binding("t", "my_tasks", "My tasks", id="index.my_tasks", show=False,
                tooltip="Open tasks overdue, due today and upcoming"),
        Binding("o", "focus_objects", "Objects", id="index.objects", show=False, tooltip="Focus the object list"),
        Binding("ctrl+b", "toggle_sidebar", "Toggle sidebar", id="index.toggle_sidebar", show=False),
        Binding("r", "refresh", "Refresh", id="index.refresh", show=False),
        Binding("escape", "escape", "Back", id="index.escape", show=False),
    ]
    DEFAULT_CSS = """
    IndexScreen #objects { width: 22; border-right: vkey $border-blurred; }
    IndexScreen #objects:focus { border-right: vkey $border; }
    IndexScreen.-no-sidebar #objects { display: none; }
    IndexScreen #viewbar { height: 1; padding: 0 1; text-style: bold; }
    IndexScreen #filterbar { height: 1; padding: 0 1; color: $text-muted; }
    IndexScreen #filterbar.-active { color: $text-warning; text-style: bold; }
    IndexScreen #search { height: 1; border: none; padding: 0 1; display: none; background: $boost; }
    IndexScreen #search.-shown { display: block; }
    IndexScreen #search:focus { border: none; background: $primary 30%; }
    IndexScreen RecordTable { border: none; }
    """

    def __init__(self, object_name: str, filters=None):
        super().__init__()
        self.object_name = object_name
        self._initial_filters = list(filters or [])  # a dashboard bar's records: its view plus these
        self.views = None
        self.view = None  # the saved view shown (crm_tui.services.views.View)
        self.spec: ViewSpec | None = None
        self.pager: ViewPager | None = None
        self.modified = False  # columns / filters / sort differ from the saved view
        self._binding_state = None  # (recycle bin?, modified?) when the footer was last told
        self.sidebar_forced: bool | None = None  # None: follow the width; True/False: ctrl+b chose
        self._rank_timer = None
        self._fresh = True  # mounted, not yet resumed

    @property
    def crm(self):
        return self.app.crm

    @property
    def meta(self):
        return self.crm.registry.get(self.object_name)

    @property
    def table(self) -> RecordTable:
        return self.query_one("#records", RecordTable)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield OptionList(*[Option(Content(m.plural_label), id=m.name) for m in self.crm.registry.objects.values()],
                             id="objects")
            with Vertical():
                yield Static("", id="viewbar", markup=False)
                yield Static("", id="filterbar", markup=False)
                yield TextInput(placeholder="Search… (enter: to the table, escape: clear)", id="search")
                yield RecordTable(id="records")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.views = Views(self.crm)
        self._apply_width(self.app.size.width)
        self.show_object(self.object_name)
        if self._initial_filters:
            self.spec.filters = list(self._initial_filters)
            self.modified = True
            self._apply_spec(reset_cursor=True)
        self.table.focus()

    # -- showing a view -------------------------------------------------------------------------

    def action_dashboard(self) -> None:
        self.app.open_dashboard()

    def action_my_tasks(self) -> None:
        self.app.open_tasks()

    def show_object(self, object_name: str, view_id: int | None = None) -> None:
        meta = self.crm.registry.get(object_name)
        self.object_name = meta.name
        self.sub_title = meta.plural_label
        view = self.views.get(view_id) if view_id is not None else self.views.opening(meta.name)
        problem = self.views.opening_problem(meta.name) if view_id is None else None
        if problem:
            self.notify(problem, severity="warning", markup=False)
        self.view = view
        self.modified = False
        self.spec = ViewSpec(meta.name, list(view.columns), list(view.filters), list(view.sort))
        if self._rank_timer is not None:
            self._rank_timer.stop()
            self._rank_timer = None
        self._hide_search()
        self._apply_spec(reset_cursor=True)
        objects = self.query_one("#objects", OptionList)
        objects.highlighted = objects.get_option_index(meta.name)

    def _columns(self) -> list[Column]:
        meta = self.meta
        cols = []
        for i, key in enumerate(self.spec.columns):
            label = column_label(self.crm, meta, key)
            width = preferred_width(meta, key)
            # Narrower than two thirds of its width a column is hidden (last ones first), not squeezed.
            minimum = max(len(label) if len(label) <= 14 else 10, width * 2 // 3) if i else min(width, 12)
            cols.append(Column(key, label, width=max(width, len(label)), min_width=min(minimum, width),
                               priority=100 if i == 0 else -i))
        return cols

    def _apply_spec(self, *, reset_cursor: bool = True) -> None:
        """Rebuild the pager for self.spec and show it (one count + one window)."""
        table = self.table
        table.set_columns(self._columns())
        self.pager = ViewPager(self.crm, self.spec, date_format=self.app.config.date_format)
        sort = self.spec.sort[0] if self.spec.sort else None  # a search's matches follow it too
        table.sort_key = sort.property if sort else None
        table.sort_desc = bool(sort and sort.desc)
        try:
            if reset_cursor:
                table.set_source(self.pager)
            else:
                table._source = self.pager
                table.reload()
        except CrmError as exc:  # a saved filter that no longer applies (property removed...)
            self.notify(str(exc), severity="error", markup=False)
            self.spec.filters = []
            self.pager = ViewPager(self.crm, self.spec, date_format=self.app.config.date_format)
            table.set_source(self.pager)
        table.empty_text = "No deleted records" if self.spec.deleted else (
            "No records match: x clears the filters" if self.spec.filters or self.spec.search else "No records: n creates one")
        self._update_bars()

    def _update_bars(self) -> None:
        # The footer is rebuilt only when what check_action reads changes, not on every keystroke
        # typed into the search box.
        binding_state = (self.spec.deleted, self.modified)
        if binding_state != self._binding_state:
            self._binding_state = binding_state
            self.refresh_bindings()
        meta = self.meta
        spec = self.spec
        count = self.table.row_count
        where = f"{meta.plural_label} › Recycle bin" if spec.deleted else f"{meta.plural_label} › {self.view.name}{'*' if self.modified else ''}"
        more = "+" if self.pager is not None and self.pager.capped else ""
        self.query_one("#viewbar", Static).update(f"{where}  ·  {count:,}{more} record{'s' if count != 1 else ''}")
        parts = [filter_text(self.crm, meta, f) for f in spec.filters]
        if spec.search:
            parts.append(f"search “{spec.search}”")
        bar = self.query_one("#filterbar", Static)
        if spec.deleted:
            text = "Deleted records · R restores · b leaves the recycle bin"
            if parts:
                text = "Filters: " + " · ".join(parts) + " · " + text
            bar.update(text)
            bar.set_class(True, "-active")
        elif parts:
            bar.update("Filters: " + " · ".join(parts) + " · x to clear")
            bar.set_class(True, "-active")
        else:
            bar.update("No filters · f to add one · / to search")
            bar.set_class(False, "-active")

    def _changed(self, *, reset_cursor: bool = True) -> None:
        self.modified = True
        self._apply_spec(reset_cursor=reset_cursor)

    # -- width ----------------------------------------------------------------------------------

    def on_resize(self, event) -> None:
        self._apply_width(event.size.width)

    def _apply_width(self, width: int) -> None:
        show = self.sidebar_forced if self.sidebar_forced is not None else width >= SIDEBAR_MIN_WIDTH
        self.set_class(not show, "-no-sidebar")

    def action_toggle_sidebar(self) -> None:
        self.sidebar_forced = self.has_class("-no-sidebar")
        self._apply_width(self.app.size.width)
        if self.sidebar_forced:
            self.query_one("#objects").focus()
        else:
            self.table.focus()

    # -- objects -------------------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#objects")
    def _object_chosen(self, event: OptionList.OptionSelected) -> None:
        self.show_object(event.option.id)
        self.table.focus()

    def action_focus_objects(self) -> None:
        if self.has_class("-no-sidebar"):
            self.sidebar_forced = True
            self._apply_width(self.app.size.width)
        self.query_one("#objects").focus()

    # -- opening ----------------------------------------------------------------------------------

    def on_record_table_opened(self, event: RecordTable.Opened) -> None:
        from .index_modals import AssocPopup

        if event.record_id is None:
            return
        column = event.column_key or ""
        if column.startswith("@") and not self.spec.deleted:
            items = self.pager.linked_items(event.record_id, column)
            if not items:
                self.notify(f"No {column_label(self.crm, self.meta, column).lower()}", markup=False)
            elif len(items) == 1:
                self.app.open_record(items[0][0], items[0][1])
            else:
                name = self.crm.records.display_names(self.meta, [event.record_id]).get(event.record_id, "")
                title = f"{column_label(self.crm, self.meta, column)} of {name}"

                def chosen(result):
                    if result:
                        self.app.open_record(*result)
                self.app.push_screen(AssocPopup(title, items), chosen)
            return
        self.app.open_record(self.object_name, event.record_id)

    def on_screen_resume(self) -> None:
        # Back from a record or a modal: values may have changed. Keep the cursor where it was.
        # (The first resume comes right after mount, which has just read the view.)
        if self._fresh:
            self._fresh = False
        elif self.pager is not None:
            self._apply_spec(reset_cursor=False)

    # -- sort, filter, columns, views ----------------------------------------------------------------

    def action_sort(self) -> None:
        key = self.table.cursor_column_key
        if key is None or key.startswith("@"):
            self.notify("Move the column cursor (h/l) to a property column to sort by it", severity="warning")
            return
        current = self.spec.sort[0] if self.spec.sort else None
        if current is None or current.property != key:
            self.spec.sort = [Sort(key, False)]
        elif not current.desc:
            self.spec.sort = [Sort(key, True)]
        else:
            self.spec.sort = []
        self._changed()
        label = column_label(self.crm, self.meta, key)
        how = "unsorted" if not self.spec.sort else ("descending" if self.spec.sort[0].desc else "ascending")
        self.notify(f"Sort: {label} {how}", markup=False, timeout=2)

    def action_filter(self) -> None:
        from .index_modals import FilterModal

        key = self.table.cursor_column_key

        def done(flt: Filter | None):
            if flt is not None:
                self.spec.filters = [f for f in self.spec.filters if f != flt] + [flt]
                self._changed()
        self.app.push_screen(FilterModal(self.crm, self.object_name, key), done)

    def action_clear_filters(self) -> None:
        if not self.spec.filters and not self.spec.search:
            self.notify("No filters to clear", timeout=2)
            return
        had_filters = bool(self.spec.filters)
        self.spec.filters = []
        self.spec.search = ""
        self._hide_search()
        if had_filters:
            self._changed()
        else:
            self._apply_spec()

    def action_columns(self) -> None:
        from .index_modals import ColumnsModal

        def done(columns):
            if columns:
                self.spec.columns = columns
                self._changed(reset_cursor=False)
        self.app.push_screen(ColumnsModal(self.crm, self.object_name, self.spec.columns), done)

    def action_views(self) -> None:
        from .index_modals import ViewsModal

        def done(result):
            if result is None:
                # a view may have been renamed or deleted in the modal
                try:
                    self.view = self.views.get(self.view.id)
                except CrmError:
                    self.show_object(self.object_name)
                    return
                self._update_bars()
                return
            kind, value = result
            if kind == "switch":
                self.show_object(self.object_name, value)
            elif kind == "new":
                self._save_as_new(value)
        self.app.push_screen(ViewsModal(self.views, self.object_name, self.view.id), done)

    def action_save_view(self) -> None:
        from .index_modals import TextPromptModal

        if self.view.is_default:
            # The default view ("All contacts") is not overwritten by a stray ctrl+s: name a new one.
            self.app.push_screen(TextPromptModal(f"{self.view.name} is the default view: save these columns, "
                                                 "filters and sort as a new view named"),
                                 lambda name: self._save_as_new(name) if name else None)
            return
        self.view = self.views.update(self.view.id, columns=self.spec.columns, filters=self.spec.filters,
                                      sort=self.spec.sort)
        self.modified = False
        self._update_bars()
        self.notify(f"Saved view {self.view.name}", markup=False, timeout=2)

    def action_export(self) -> None:
        from .index_modals import TextPromptModal

        import os
        import time

        from crm_tui.importing.exporter import export_view
        from screens.progress import ProgressModal

        default = os.path.abspath(f"{self.object_name}-{time.strftime('%Y%m%d-%H%M')}.csv")
        spec = self.spec

        def chosen(path: str | None) -> None:
            if not path:
                return
            path = os.path.expanduser(path.strip())

            def finished(result) -> None:
                if result is not None:
                    self.notify(f"exported {result.rows:,} {self.meta.plural_label.lower()} to {result.path}"
                                + (" (cancelled)" if result.cancelled else ""), markup=False, timeout=8)

            def run(overwrite: bool) -> None:
                self.app.push_screen(ProgressModal(
                    f"Exporting {self.meta.plural_label.lower()} to {path}",
                    lambda progress, cancel: export_view(self.crm, self.object_name, path, view=spec,
                                                         overwrite=overwrite, progress=progress, cancel=cancel)),
                    finished)

            if os.path.isfile(path):  # safe_files refuses to replace it unless asked: ask
                self.app.push_screen(ConfirmModal(f"{path} exists. Replace it?", yes="Replace"),
                                     lambda yes: run(True) if yes else None)
            else:
                run(False)

        self.app.push_screen(TextPromptModal("Export this view to (.csv, .json, .vcf for contacts, .ics for meetings)", default), chosen)

    def _save_as_new(self, name: str) -> None:
        """Save the current columns, filters and sort as a new view and switch to it."""
        try:
            view = self.views.create(self.object_name, name, self.spec.columns, self.spec.filters, self.spec.sort)
        except CrmError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.view = view
        self.modified = False
        self._update_bars()
        self.notify(f"Saved view {view.name} (v lists the views)", markup=False)

    # -- search ------------------------------------------------------------------------------------

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.add_class("-shown")
        search.focus()

    def _hide_search(self) -> None:
        search = self.query_one("#search", Input)
        with search.prevent(Input.Changed):
            search.value = ""
        search.remove_class("-shown")

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        # Each keystroke shows the first matches at once (unranked); a pause in typing ranks them.
        self.spec.search = event.value.strip()
        self.spec.ranked = False
        self._apply_spec()
        if self._rank_timer is not None:
            self._rank_timer.stop()
        self._rank_timer = self.set_timer(RANK_AFTER, self._rank_search) if self.spec.search else None

    def _rank_search(self) -> None:
        self._rank_timer = None
        if self.spec.search and not self.spec.ranked:
            self.spec.ranked = True
            self._apply_spec(reset_cursor=self.table.cursor_row == 0)

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self._hide_search()
        self.table.focus()

    def action_escape(self) -> None:
        search = self.query_one("#search", Input)
        if self.spec.search or search.has_class("-shown"):
            self.spec.search = ""
            self._hide_search()
            self._apply_spec()
            self.table.focus()
        elif self.spec.deleted:
            self.action_recycle_bin()
        elif self.table.selected_ids:
            self.table.clear_selection()
        elif self.focused is not self.table:
            self.table.focus()
        elif self._initial_filters and len(self.app.screen_stack) > 2:
            self.app.pop_screen()  # a dashboard bar's records: back to the dashboard

    def action_search_everywhere(self) -> None:
        self.app.search_everywhere()

    # -- records -------------------------------------------------------------------------------------

    def _targets(self) -> list[int]:
        ids = list(self.table.selected_ids)
        if not ids and self.table.cursor_record_id is not None:
            ids = [self.table.cursor_record_id]
        return ids

    def _noun(self, n: int) -> str:
        meta = self.meta
        return f"{n} {meta.label.lower() if n == 1 else meta.plural_label.lower()}"

    def action_new_record(self) -> None:
        from .index_modals import NewRecordModal

        def done(record_id):
            if record_id is not None:
                self._apply_spec(reset_cursor=False)
        self.app.push_screen(NewRecordModal(self.crm, self.object_name), done)

    def action_bulk_delete(self) -> None:
        ids = self._targets()
        if not ids:
            return

        def done(ok):
            if not ok:
                return
            self._run_bulk(f"Deleting {self._noun(len(ids))}",
                           lambda progress, cancel: bulk.bulk_delete(self.crm, self.object_name, ids, source=sources.USER,
                                                                     progress=progress, cancel=cancel),
                           suffix=" · b shows the recycle bin")
        names = self.crm.records.display_names(self.meta, ids[:3])
        shown = ", ".join(names.get(i, "") for i in ids[:3]) + (" …" if len(ids) > 3 else "")
        self.app.push_screen(ConfirmModal(f"Delete {self._noun(len(ids))} ({shown})? They go to the recycle bin."), done)

    def action_bulk_edit(self) -> None:
        from .index_modals import BulkEditModal

        ids = self._targets()
        if not ids:
            return

        def run(ok):
            if ok:
                self._run_bulk(f"Updating {self._noun(len(ids))}",
                               lambda progress, cancel: bulk.bulk_update(self.crm, self.object_name, ids, values,
                                                                         source=sources.USER, progress=progress,
                                                                         cancel=cancel), suffix=self._undo_hint())

        def done(result):
            nonlocal values
            if result is None:
                return
            values = {result[0]: result[1]}
            try:
                question = self._bulk_edit_question(ids, values)
            except CrmError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            # Say what will change on how many records, and ask first.
            self.app.push_screen(ConfirmModal(question, yes="Apply"), run)
        values: dict = {}
        self.app.push_screen(BulkEditModal(self.crm, self.object_name, len(ids)), done)

    def _bulk_edit_question(self, ids: list[int], values: dict) -> str:
        from crm_tui.services.paging import display_value

        meta = self.meta
        preview = bulk.preview_update(self.crm, self.object_name, ids, values)
        (name, raw), = values.items()
        prop = meta.prop(name)
        new = display_value(self.crm, prop, preview.examples[0][3][name] if preview.examples else
                            self.crm.records.coerce_value(meta, prop, raw))
        what = f"Clear {prop.label}" if not new else f"Set {prop.label} to {new}"
        lines = [f"{what} on {self._noun(preview.total)}?",
                 f"{preview.changing} of {preview.total} will change"
                 + (":" if preview.examples else "; the others already hold this value.")]
        for _rid, label, old, _new in preview.examples:
            lines.append(f"  {label}: {display_value(self.crm, prop, old[name]) or '(empty)'} → {new or '(empty)'}")
        if preview.changing > len(preview.examples):
            lines.append(f"  … and {preview.changing - len(preview.examples)} more")
        return "\n".join(lines)

    def _undo_hint(self) -> str:
        key = self.app.key_for("app.undo")
        return f" · {key} undoes" if key else ""

    def action_bulk_associate(self) -> None:
        from .index_modals import RecordSearchModal

        ids = self._targets()
        if not ids:
            return
        others = [name for name in self.crm.registry.objects if name != self.object_name]

        def done(result):
            if result is None:
                return
            other, other_id = result
            other_meta = self.crm.registry.get(other)
            name = self.crm.records.display_names(other_meta, [other_id]).get(other_id, "")

            def run(ok):
                if ok:
                    self._run_bulk(f"Associating {self._noun(len(ids))} with {name}",
                                   lambda progress, cancel: bulk.bulk_associate(
                                       self.crm, self.object_name, ids, (other, other_id), source=sources.USER,
                                       progress=progress, cancel=cancel), suffix=self._undo_hint())
            linked = set(self.crm.assoc.linked_ids((other, other_id), self.object_name)) & set(ids)
            question = (f"Associate {self._noun(len(ids))} with {other_meta.label.lower()} {name}?\n"
                        f"{len(ids) - len(linked)} new link{'s' if len(ids) - len(linked) != 1 else ''}"
                        + (f"; {len(linked)} already linked (unchanged)." if linked else "."))
            self.app.push_screen(ConfirmModal(question, yes="Associate"), run)
        self.app.push_screen(RecordSearchModal(self.crm, f"Associate {self._noun(len(ids))} with…", others), done)

    def _run_bulk(self, title: str, work, suffix: str = "") -> None:
        """Run a bulk change from crm_tui.services.bulk in a worker with progress; report it in one line."""
        from screens.progress import ProgressModal

        def finished(result) -> None:
            self.table.clear_selection()
            self._apply_spec(reset_cursor=False)
            if result is not None:
                severity = "warning" if result.failed or result.cancelled else "information"
                self.notify(f"{title}: {result.message}{suffix}", severity=severity, markup=False)

        self.app.push_screen(ProgressModal(title, work), finished)

    def action_recycle_bin(self) -> None:
        self.spec.deleted = not self.spec.deleted
        self.spec.search = ""
        self._hide_search()
        self._apply_spec()

    def action_restore(self) -> None:
        ids = self._targets()
        if not ids:
            return
        failed = []
        for rid in ids:
            try:
                self.crm.records.restore(self.object_name, rid, sources.USER)
            except CrmError as exc:
                failed.append(str(exc))
        self.table.clear_selection()
        self._apply_spec(reset_cursor=False)
        if failed:
            self.notify(f"{len(failed)} not restored: {failed[0]}", severity="error", markup=False)
        else:
            self.notify(f"Restored {self._noun(len(ids))}", markup=False)

    def check_action(self, action: str, parameters) -> bool | None:
        if self.spec is None:
            return True
        if action == "restore":
            return self.spec.deleted
        if action in ("bulk_delete", "bulk_edit", "bulk_associate", "new_record"):
            return not self.spec.deleted
        if action == "save_view":
            return True if self.modified and not self.spec.deleted else None
        return True

    def action_refresh(self) -> None:
        self._apply_spec(reset_cursor=False)

    def changed_elsewhere(self) -> bool:
        """After an action failed: when another program removed this object (a restored backup from
        before it existed), say so in one line and show the first object instead (True)."""
        registry = self.crm.registry
        objects = self.query_one("#objects", OptionList)
        if [o.id for o in objects.options] != list(registry.objects):
            objects.set_options([Option(Content(m.plural_label), id=m.name) for m in registry.objects.values()])
        if self.object_name in registry.objects:
            return False
        gone, first = self.object_name, self.app.first_object()
        self.notify(f"{gone} are no longer in the database (another program changed it); showing "
                    f"{registry.get(first).plural_label.lower()}", severity="warning", markup=False)
        self.show_object(first)
        return True
