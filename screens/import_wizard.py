"""The import wizard and the import history (core logic in crm_tui/importing/importer.py).

Pick a file (path completion), see the detected encoding, delimiter and mapping, fix the mapping (a
Select per column: a property, a link, or skip), preview (a dry run: counts and errors, nothing
written), run in a worker with a progress bar (cancellable), see the result and the error file.
The history lists past imports; Undo reverses one completely (after a backup). User data (file
names, headers, cells) is rendered literally.

A folder or a .zip of CSVs (a HubSpot account's exports) shows its plan instead of a mapping:
the files in the order they go in, with their objects, the properties and owners the import will
create, dropdown values that are no option and the problems found (importing/bundle.py); F2 and F5
preview and run every file as one import.
"""

from __future__ import annotations

import os
import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widgets import Checkbox, DataTable, Footer, Header, Input, Label, ProgressBar, Select, Static

from crm_tui.importing import bundle, hubspot, importer
from crm_tui.importing import undo as import_journal
from crm_tui.domain.sanitize import clean_line
from widgets.text_input import TextInput

SKIP = "__skip__"
OBJECT_CHOICE = "choose the object in the list above or map a column to its name"  # importer.nameless's hint here


class PathSuggester(Suggester):
    """Completes a path with the first matching directory entry (directories end with /)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        expanded = os.path.expanduser(value)
        folder, prefix = os.path.split(expanded)
        try:
            names = sorted(os.listdir(folder or "."))
        except OSError:
            return None
        for name in names:
            if not name.startswith(prefix) or name == prefix or (name.startswith(".") and not prefix.startswith(".")):
                continue
            full = os.path.join(folder, name)
            if os.path.isdir(full):
                full += os.sep
            return value + full[len(expanded):]
        return None


def _encode(target: tuple[str, str] | None, label: str | None = None) -> str:
    if not target:
        return SKIP
    return f"{target[0]}|{target[1]}" + (f"#{label}" if label and target[1].startswith(importer.LINK_PREFIX) else "")


class ImportWizardScreen(Screen):
    HELP_TITLE = "Import"
    HELP = """\
Type a file path (tab completes), check the detected encoding, delimiter and the mapping of
each column, F2 previews (nothing is written), F5 imports with progress (escape cancels).
A folder or .zip of CSVs (a HubSpot account's exports) shows its plan and goes in as one import.
Bad rows go to an error file; F3 lists past imports, where u undoes one completely."""
    BINDINGS = [
        Binding("escape", "back", "Back / cancel", id="import.back"),
        Binding("f2", "preview", "Preview import", id="import.preview"),
        Binding("f5", "run", "Run import", id="import.run"),
        Binding("f3", "history", "Import history", id="import.history"),
    ]
    DEFAULT_CSS = """
    ImportWizardScreen #form { height: auto; }
    ImportWizardScreen #object { width: 24; }
    ImportWizardScreen #ids { width: 1fr; }
    ImportWizardScreen #info { height: auto; padding: 0 1; color: $text-muted; }
    ImportWizardScreen #mapping { height: 1fr; min-height: 4; }
    ImportWizardScreen .maprow { height: auto; }
    ImportWizardScreen .maprow Label { width: 28; padding: 1 1 0 1; }
    ImportWizardScreen .maprow Select { width: 1fr; }
    ImportWizardScreen #progress { height: 1; }
    ImportWizardScreen #result { height: auto; max-height: 8; padding: 0 1; }
    """

    def __init__(self, path: str = "") -> None:
        super().__init__()
        self.initial_path = path
        self.spec: importer.ImportSpec | None = None
        self.cancel_event: threading.Event | None = None
        self.running = False
        self.last_result: importer.ImportResult | bundle.BundleResult | None = None
        self.plan: bundle.BundlePlan | None = None  # a folder or a zip

    @property
    def crm(self):
        return self.app.crm

    def compose(self) -> ComposeResult:
        yield Header()
        objects = [(m.plural_label, m.name) for m in self.crm.registry.objects.values() if not m.is_activity]
        yield TextInput(self.initial_path, placeholder="File, folder or .zip to import, enter to load",
                    id="path", suggester=PathSuggester())
        with Horizontal(id="form"):
            yield Select(objects, value="contacts" if "contacts" in self.crm.registry.objects else objects[0][1],
                         allow_blank=False, id="object")
            ids = TextInput("local", placeholder="IDs: local or system", id="ids")
            ids.tooltip = ("Whose Record IDs the file holds: local (this CRM's) or the name of the system it "
                           "came from (e.g. hubspot), remembered so a second import finds the same records")
            yield ids
            yield Checkbox("Day first", id="dayfirst")
        yield Static("Type a file path and press enter. Tab completes the path.", id="info", markup=False)
        yield VerticalScroll(id="mapping")
        yield ProgressBar(total=None, show_eta=True, id="progress")
        yield Static("", id="result", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()
        if self.initial_path:
            self.load(self.initial_path)

    # -- loading and mapping

    @on(Input.Submitted, "#path")
    def _submitted(self, event: Input.Submitted) -> None:
        self.load(event.value)

    @on(Select.Changed, "#object")
    def _object_changed(self, event: Select.Changed) -> None:
        if self.spec is not None and self.spec.kind == "csv" and event.value != self.spec.objects[0]:
            self.load(self.spec.path, event.value)

    def load(self, path: str, obj: str | None = None) -> None:
        """Read a file's headers and map them; without `obj` the object is guessed from the headers
        (a deals export opens as deals) and shown in the object list."""
        path = os.path.expanduser(path.strip())
        self._drop_plan()
        if bundle.is_bundle(path):
            self.spec = None
            self.query_one("#mapping", VerticalScroll).remove_children()
            self._info(f"Reading {path}: the objects of its files, new properties and owners...")
            self._plan_worker(path)
            return
        try:
            spec = importer.plan_import(self.crm, path, [obj] if obj and importer.file_kind(path) == "csv" else None)
        except Exception as exc:  # one clear line, never a traceback
            self.spec = None
            message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            self._info(message if message.startswith(f"{path}: ") else f"Cannot read {path}: {message}")
            self.query_one("#mapping", VerticalScroll).remove_children()
            return
        self.spec = spec
        select = self.query_one("#object", Select)
        if select.value != spec.objects[0]:
            select.value = spec.objects[0]  # the Changed event finds it already loaded
        lines = [f"{spec.path}: {spec.kind}" + (f", encoding {spec.encoding}, delimiter {spec.delimiter!r}" if spec.kind == "csv" else "")
                 + f", {len(spec.headers)} columns, {_rows_text(importer.estimate_rows(spec.path, spec), spec.path)}"]
        lines += [f"warning: {w}" for w in spec.warnings]
        if spec.id_source != importer.LOCAL:  # a HubSpot export's IDs, or the file's own ID column
            self.query_one("#ids", Input).value = spec.id_source  # (Maven's opportunity_id): F5 keeps it
        if isinstance(spec, hubspot.HubSpotSpec):  # read as HubSpot's: its Record IDs are HubSpot IDs
            lines.append("HubSpot export: " + "; ".join(
                [f"new property {p.object}.{p.name} ({p.type})" for p in spec.facts.new_properties]
                + spec.facts.skipped))
        if (problem := importer.nameless(self.crm, spec, OBJECT_CHOICE)) is not None:
            lines.append(problem)
        self._info("\n".join(lines))
        self._build_mapping()

    # -- a folder or a zip

    @work(thread=True, exclusive=True, group="import-plan")
    def _plan_worker(self, path: str) -> None:
        try:
            plan = bundle.plan_path(self.crm, path, scan=True)
        except Exception as exc:
            message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            self.app.call_from_thread(self._info, f"Cannot read {path}: {message}")
        else:
            self.app.call_from_thread(self._show_plan, plan)
        finally:
            try:
                self.crm.db.close()  # this thread's connection
            except Exception:
                pass

    def _show_plan(self, plan: bundle.BundlePlan) -> None:
        self._drop_plan()
        self.plan = plan
        self._info(f"{plan.path}: {len(plan.specs)} files to import as one import. F2 previews, F5 imports.")
        box = self.query_one("#mapping", VerticalScroll)
        box.remove_children()
        box.mount(Static("\n".join(clean_line(line) for line in plan.lines()), id="plan", markup=False))

    def _drop_plan(self) -> None:
        if self.plan is not None and not self.running:
            self.plan.close()
            self.plan = None

    def on_unmount(self) -> None:
        self._drop_plan()

    def _info(self, text: str) -> None:
        self.query_one("#info", Static).update(clean_line(text) if "\n" not in text else
                                               "\n".join(clean_line(t) for t in text.split("\n")))

    def _build_mapping(self) -> None:
        box = self.query_one("#mapping", VerticalScroll)
        box.remove_children()
        spec = self.spec
        choices = [(label, _encode(target)) for label, target in importer.target_choices(self.crm, spec.objects)]
        known = {value for _label, value in choices}
        rows = []
        for i, col in enumerate(spec.columns):
            current = _encode((col.object, col.target), col.label) if not col.skipped else SKIP
            options = [(f"(skip: {col.reason})" if col.reason else "(skip this column)", SKIP)] + choices
            if current not in known and current != SKIP:
                new = importer.new_property_of(col)
                options.append((f"New property {new[0]} ({new[1]})" if new else f"{col.object}.{col.target}", current))
            select = Select(options, value=current, allow_blank=False, id=f"map-{i}")
            rows.append(Horizontal(Label(clean_line(col.header), markup=False), select, classes="maprow"))
        box.mount_all(rows)

    def _read_mapping(self) -> None:
        spec = self.spec
        for i, col in enumerate(spec.columns):
            try:
                value = self.query_one(f"#map-{i}", Select).value
            except Exception:
                continue
            if value == SKIP or value is Select.BLANK:
                col.object, col.target = None, None
            else:
                col.object, target = str(value).split("|", 1)
                col.target, _hash, label = target.partition("#")
                col.label = label or None
        spec.dayfirst = self.query_one("#dayfirst", Checkbox).value
        spec.id_source = self.query_one("#ids", Input).value.strip() or importer.LOCAL

    # -- preview and run

    def action_preview(self) -> None:
        self._start(dry_run=True)

    def action_run(self) -> None:
        self._start(dry_run=False)

    def _start(self, dry_run: bool) -> None:
        if self.running:
            self.notify("An import is running; escape cancels it", severity="warning")
            return
        if self.spec is None and self.plan is None:
            self.notify("Load a file first (type its path and press enter)", severity="warning")
            return
        if self.spec is not None:
            self._read_mapping()
            if (problem := importer.nameless(self.crm, self.spec, OBJECT_CHOICE)) is not None:
                self.query_one("#result", Static).update(clean_line(problem))  # refused before anything is written
                self.notify(clean_line(problem), severity="error", markup=False)
                return
        self.running = True
        self.cancel_event = threading.Event()
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=None, progress=0)
        self.query_one("#result", Static).update("Previewing..." if dry_run else "Importing... (escape cancels)")
        self._worker(dry_run)

    @work(thread=True, exclusive=True, group="import")
    def _worker(self, dry_run: bool) -> None:
        progress = lambda p: self.app.call_from_thread(self._progress, p)  # noqa: E731
        try:
            if self.spec is None:  # a folder or a zip: every file, as one import
                for spec in self.plan.specs:
                    spec.dayfirst = self.query_one("#dayfirst", Checkbox).value
                result = bundle.run_plan(self.crm, self.plan, dry_run=dry_run, cancel=self.cancel_event,
                                         progress=progress, close=not dry_run)
            else:
                result = importer.run_import(self.crm, self.spec, dry_run=dry_run, cancel=self.cancel_event,
                                             progress=progress)
        except Exception as exc:
            message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            self.app.call_from_thread(self._done, None, message)
        else:
            self.app.call_from_thread(self._done, result, None)
        finally:
            try:
                self.crm.db.close()  # this thread's connection
            except Exception:
                pass

    def _progress(self, p: importer.Progress) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=max(p.total_estimate, 1), progress=p.rows_done)
        left = f", {p.seconds_left:.0f} s left" if p.seconds_left is not None else ""
        self.query_one("#result", Static).update(f"{p.rows_done:,} / ~{p.total_estimate:,} rows, {p.rate:,.0f} rows/s{left}")

    def _done(self, result: importer.ImportResult | bundle.BundleResult | None, error: str | None) -> None:
        self.running = False
        if isinstance(result, bundle.BundleResult) and not result.dry_run:
            self.plan = None  # its unpacked files are gone: load the folder again to import it again
        if error is not None:
            self.query_one("#result", Static).update(f"Import failed: {clean_line(error)}")
            self.notify(clean_line(error), severity="error", markup=False)
            return
        self.last_result = result
        bar = self.query_one("#progress", ProgressBar)
        rows = result.counts()["rows"]
        bar.update(total=max(rows, 1), progress=rows)
        lines = result.summary_lines()
        if not result.dry_run and result.import_id:
            lines.append("Undo it from the import history (f3).")
        self.query_one("#result", Static).update("\n".join(clean_line(line) for line in lines))
        if not result.dry_run:
            self.notify(lines[0], markup=False)

    # -- navigation

    def action_back(self) -> None:
        if self.running and self.cancel_event is not None:
            self.cancel_event.set()
            self.notify("Cancelling after the current batch...")
            return
        self.app.pop_screen()

    def action_history(self) -> None:
        self.app.push_screen(ImportHistoryScreen())


class ImportHistoryScreen(Screen):
    BINDINGS = [
        Binding("escape,q", "back", "Back", id="import.history_back"),
        Binding("u", "undo", "Undo import", id="import.undo"),
        Binding("r", "refresh", "Refresh", id="import.refresh"),
        Binding("n", "new_import", "Import a file", id="import.new"),
    ]
    DEFAULT_CSS = """
    ImportHistoryScreen DataTable { height: 1fr; }
    ImportHistoryScreen #caption { height: auto; padding: 0 1; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.items: list[importer.ImportInfo] = []

    @property
    def crm(self):
        return self.app.crm

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Past imports, newest first. u undoes the selected import completely (a backup is made first).",
                     id="caption", markup=False)
        yield DataTable(id="imports", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("ID", "When", "Status", "Object", "Created", "Updated", "Linked", "Failed", "File", "Error file")
        self.action_refresh()
        table.focus()

    def action_refresh(self) -> None:
        from rich.text import Text

        table = self.query_one(DataTable)
        table.clear()
        self.items = import_journal.list_imports(self.crm)
        for item in self.items:
            c = item.counts
            cells = [item.id, item.at[:19].replace("T", " "), item.status, ",".join(item.objects), c.get("created", 0),
                     c.get("updated", 0), c.get("linked", 0), c.get("failed", 0), item.file, item.error_file or ""]
            table.add_row(*[Text(clean_line(str(v)), no_wrap=True) for v in cells], key=str(item.id))

    def _selected(self) -> importer.ImportInfo | None:
        table = self.query_one(DataTable)
        if not self.items or table.cursor_row is None or table.cursor_row >= len(self.items):
            return None
        return self.items[table.cursor_row]

    def action_undo(self) -> None:
        item = self._selected()
        if item is None:
            self.notify("No import selected", severity="warning")
            return
        if item.undone_by:
            self.notify(f"Import {item.id} was already undone", severity="warning")
            return
        from screens.modals import ConfirmModal

        question = (f"Undo import {item.id} ({os.path.basename(item.file)})? Records it created are deleted, values it "
                    "changed and links it made or removed are restored.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._undo(item.id)

        self.app.push_screen(ConfirmModal(question, yes="Undo"), answered)

    def _undo(self, import_id: int) -> None:
        try:
            result = import_journal.undo_import(self.crm, import_id)
        except Exception as exc:
            self.notify(clean_line(str(exc).splitlines()[0] if str(exc) else "undo failed"), severity="error", markup=False)
            return
        self.notify(result.summary_line(), markup=False, timeout=8)
        self.action_refresh()

    def action_new_import(self) -> None:
        self.app.push_screen(ImportWizardScreen())

    def action_back(self) -> None:
        self.app.pop_screen()


def _rows_text(rows: int, path: str) -> str:
    """'5 rows' when the file was read whole to count them (a small file), 'about N rows' else."""
    small = os.path.getsize(path) < (1 << 18)
    return f"{rows:,} rows" if small else f"about {rows:,} rows"
