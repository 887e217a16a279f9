"""The Textual App: opens the database, loads config, themes and keymap, and shows the screens.

This module and `screens/`, `widgets/` are the only places that import Textual.
"""

from __future__ import annotations

import gc
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.actions import SkipAction
from textual.screen import ModalScreen
from textual.worker import WorkerFailed

from ..storage import dialect
from ..domain import sources
from . import theming
from ..storage.config import apply_to, load_config, save_setting
from ..services.core import Crm
from ..services.core import user_error_message as _user_error_message
from ..domain.errors import CrmError
from ..domain.sanitize import clean_text
from widgets.keeps_running import KeepsRunning


class CrmApp(KeepsRunning, App):
    TITLE = "crm-tui"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
        # priority: a modal hides the app's other bindings, and `?` lists the modal's own keys there
        Binding("question_mark", "help", "Help", id="app.help", priority=True),
        # ctrl+p too: Textual adds its own ctrl+p only when no binding runs command_palette
        Binding("colon", "command_palette", "Commands", show=False, id="app.commands"),
        Binding("ctrl+p", "command_palette", "Commands", show=False, id="app.palette", priority=True),
        # Tab moves focus before the next key is handed on: keys that arrive together ("Ines", Tab,
        # "Okoro" in one read over SSH) were all queued to the first field, gluing them together.
        Binding("tab", "focus_step(1)", "Next field", show=False, priority=True, id="app.focus_next"),
        Binding("shift+tab", "focus_step(-1)", "Previous field", show=False, priority=True, id="app.focus_previous"),
        # Undo and redo from every screen (a screen's own u, as the import history's, comes first).
        Binding("u,ctrl+z", "undo", "Undo", id="app.undo"),
        Binding("U,ctrl+y", "redo", "Redo", id="app.redo"),
        Binding("ctrl+o", "operations", "Operations", show=False, id="app.operations"),
        # j/k in every list and table that has no j/k of its own (pickers, history tables); modals
        # get the same from screens.modals.ModalFooter. Text fields and tables with their own keep theirs.
        Binding("j", "list_step(1)", "Down", show=False, id="app.list_down"),
        Binding("k", "list_step(-1)", "Up", show=False, id="app.list_up"),
    ]

    def __init__(self, db_path: str | Path, *, crm: Crm | None = None, config=None, watch_css: bool = False):
        self.CSS_PATH = str(theming.app_css_path())
        super().__init__(watch_css=watch_css)
        if config is None:
            config, self.startup_warnings = load_config()
        else:
            self.startup_warnings = []
        self.config = config
        self.db_path = db_path if isinstance(db_path, str) and "://" in db_path else Path(db_path)
        self.crm = crm or Crm.open(db_path, user_name=config.user_name)
        apply_to(self.crm, config)
        self._retry_lost_races()
        themes, warnings = theming.load_themes()
        self.startup_warnings += warnings
        theming.register_themes(self, themes)
        self.startup_warnings += theming.apply_theme(self, config.theme)
        self._keymap_applied = False
        self._gc_threshold = gc.get_threshold()

    # Changes made in the TUI carry the source User with the configured user name.
    source = sources.USER

    def on_mount(self) -> None:
        if self.config.keymap:  # after the first frame: it imports every screen to know their binding ids
            self.call_after_refresh(self._apply_keymap)
        self._mark_title()
        if self.crm.readonly:
            self.notify(f"{self.db_path} is read-only: you can look, but changes are refused", severity="warning",
                        markup=False, timeout=15)
        for warning in self.startup_warnings:
            self.notify(warning, severity="warning", markup=False, timeout=8)
        for notice in self.crm.notices:  # a constraint an upgrade could not add: what to fix
            self.notify(notice, severity="warning", markup=False, timeout=15)

        self.theme_changed_signal.subscribe(self, lambda theme: save_setting("theme", theme.name))
        # Pushed once the app has mounted: Textual drops the frames drawn while it mounts (a batch
        # update) and then writes only what changes, so a screen laid out in there would show blank
        # bars until some later layout.
        self.call_later(self._show_first_screen)
        self._listen_for_changes()

    def _retry_lost_races(self) -> None:
        """A write that lost a race with another team member's runs once more, with a one-line
        notice (crm_tui/services/retry.py)."""
        import threading

        from ..services.retry import retry_lost_races

        def notice(text: str) -> None:
            if threading.current_thread() is threading.main_thread():
                self.notify(text, severity="warning", markup=False)
            else:  # a write in a worker thread (a bulk change)
                self.call_from_thread(self.notify, text, severity="warning", markup=False)

        retry_lost_races(self.crm, notice)

    def _listen_for_changes(self) -> None:
        """On a team database (PostgreSQL), the changes other members commit refresh the screen
        shown, never under what the user is typing (crm_tui/storage/live.py)."""
        from ..storage import dialect

        self._listener = None
        self._others_pending = False
        if not dialect.is_postgres(self.crm.db):
            return
        from ..storage.live import ChangeListener

        def heard(changes) -> None:
            self.call_from_thread(self._changed_by_others)

        self._listener = ChangeListener(self.crm, heard).start()

    def _changed_by_others(self) -> None:
        from textual.widgets import Input, TextArea

        if not self._screen_stacks.get(self._current_mode):  # the app is closing: nothing to refresh
            return
        if isinstance(self.focused, (Input, TextArea)) or self.screen.is_modal:
            if not self._others_pending:  # the user is typing or choosing: once they are done
                self._others_pending = True
                self.set_timer(0.5, self._retry_changed_by_others)
            return
        self._others_pending = False
        screen = self.screen
        check = getattr(screen, "changed_elsewhere", None)
        if check is not None and check():
            return
        if hasattr(screen, "action_refresh"):
            self.call_later(screen.run_action, "refresh")

    def _retry_changed_by_others(self) -> None:
        self._others_pending = False
        self._changed_by_others()

    def _show_first_screen(self) -> None:
        from screens.index import IndexScreen  # lazy: a screen loads when first opened (start-up speed)

        self.push_screen(IndexScreen(self.first_object()))
        self.call_after_refresh(self._started)
        if self.database_is_empty():
            from screens.welcome import WelcomeScreen  # lazy: a screen loads when first opened (start-up speed)

            self.push_screen(WelcomeScreen(str(self.db_path)), self._welcome_choice)

    def _started(self) -> None:
        """After the first frame: the objects made so far (modules, classes, the first screen) are
        moved out of the collector's reach, so that a full collection, which Textual's allocations
        set off while a screen opens, no longer scans them all each time (about 100,000 objects,
        100-300 ms on these machines); collections come back on if the command line held them off
        during the start. They are handed back when the app ends (on_unmount)."""
        gc.freeze()
        # With the start-up frozen, the oldest generation starts nearly empty, and Python then runs
        # a full collection after every 10 middle ones (~7,000 surviving allocations: any screen
        # opening). One after 100 of them (the first number, 700, is Python's default) still frees
        # the cycles of closed screens while taking a full collection out of most screen openings.
        gc.set_threshold(700, 10, 100)
        gc.enable()

    def _apply_keymap(self) -> None:
        from .keymap import apply_keymap  # it imports every screen, to know their binding ids

        for warning in apply_keymap(self, self.config.keymap):
            self.notify(warning, severity="warning", markup=False, timeout=8)

    def _mark_title(self) -> None:
        """The header says when the data is the demo's (rebuilt on every --demo) or read-only."""
        marks = (["demo database"] if self.crm.setting("demo", False) else []) + (["read-only"] if self.crm.readonly else [])
        self.title = "crm-tui" + "".join(f" [{mark}]" for mark in marks)

    def database_is_empty(self) -> bool:
        return self.crm.records.holds_no_records()  # every object's, custom ones too (a leads-only CRM is not new)

    def _welcome_choice(self, choice: str | None) -> None:
        # run_action is a coroutine: scheduled, not called (a bare call did nothing)
        if choice == "new":
            self.call_later(self.screen.run_action, "new_record")
        elif choice == "import":
            self.call_later(self.run_action, "open_import")
        elif choice == "demo":
            self.switch_database(self._build_demo())

    def _build_demo(self) -> Path:
        from ..services.demo import fresh_demo_database  # lazy: only for --demo (start-up speed)

        return fresh_demo_database()

    def switch_database(self, path: str | Path) -> None:
        """Close this database and show another one (used by the first-run screen's demo)."""
        from screens.index import IndexScreen  # lazy: a screen loads when first opened (start-up speed)

        self.crm.close()
        self.db_path = Path(path)
        self.crm = Crm.open(path, user_name=self.config.user_name)
        apply_to(self.crm, self.config)
        self._retry_lost_races()
        self._mark_title()
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(IndexScreen(self.first_object()))
        self.notify(f"opened {path}", markup=False)

    def action_open_import(self) -> None:
        from screens.import_wizard import ImportWizardScreen  # lazy: a screen loads when first opened (start-up speed)

        self.push_screen(ImportWizardScreen())

    def first_object(self) -> str:
        default = next(iter(self.crm.registry.objects))
        return "contacts" if "contacts" in self.crm.registry.objects else default

    def open_object(self, object_name: str) -> None:
        from screens.index import IndexScreen  # lazy: a screen loads when first opened (start-up speed)

        screen = self.screen
        if isinstance(screen, IndexScreen):
            screen.show_object(object_name)
        else:
            while len(self.screen_stack) > 2 and not isinstance(self.screen, IndexScreen):
                self.pop_screen()
            if isinstance(self.screen, IndexScreen):
                self.screen.show_object(object_name)
            else:
                self.push_screen(IndexScreen(object_name))

    def open_record(self, object_name: str, record_id: int) -> None:
        from screens.record import RecordScreen  # lazy: a screen loads when first opened (start-up speed)

        self.push_screen(RecordScreen(object_name, record_id))

    def open_duplicates(self, object_name: str | None = None) -> None:
        from screens.duplicates import DuplicatesScreen

        obj = object_name or getattr(self.screen, "object_name", None) or "contacts"
        meta = self.crm.registry.objects.get(obj)
        self.push_screen(DuplicatesScreen(obj if meta is not None and not meta.is_activity else "contacts"))

    def open_data_model(self) -> None:
        from screens.datamodel import DataModelScreen

        self.push_screen(DataModelScreen())

    def open_workflows(self) -> None:
        from screens.workflows import WorkflowsScreen

        self.push_screen(WorkflowsScreen())

    def open_dashboard(self) -> None:
        from screens.dashboard import DashboardScreen

        if not isinstance(self.screen, DashboardScreen):
            self.push_screen(DashboardScreen())

    def open_tasks(self) -> None:
        from screens.tasks import TasksScreen  # lazy: a screen loads when first opened (start-up speed)

        if not isinstance(self.screen, TasksScreen):
            self.push_screen(TasksScreen())

    def open_board(self, object_name: str = "deals", pipeline: str | None = None) -> None:
        from screens.board import BoardScreen  # lazy: a screen loads when first opened (start-up speed)

        self.push_screen(BoardScreen(object_name, pipeline))

    def action_focus_step(self, step: int) -> None:
        from textual.widgets import TextArea  # lazy: widget classes the first frame does not need (start-up speed)

        focused = self.focused
        if isinstance(focused, TextArea) and focused.tab_behavior == "indent":
            raise SkipAction()  # that widget types the tab
        if step > 0:
            self.screen.focus_next()
        else:
            self.screen.focus_previous()

    def check_action(self, action: str, parameters) -> bool | None:
        if action in ("undo", "redo", "operations"):
            # Not behind a modal (a form, a question, a running bulk change): finish that first.
            return not isinstance(self.screen, ModalScreen)
        return True

    def action_undo(self) -> None:
        self._journal_step("undo")

    def action_redo(self) -> None:
        self._journal_step("redo")

    def _journal_step(self, kind: str) -> None:
        if kind == "undo":
            self.undo_asking(None)
            return
        self._journal_now(kind, None)

    def undo_asking(self, op_id: int | None, done=None) -> None:
        """Undo operation `op_id` (None: my newest change). An import is asked about first, as
        `crm-tui import undo` asks at a terminal: its undo deletes the records it created for good
        (after a backup) and cannot be redone; one keystroke must not do that."""
        journal = self.crm.journal
        try:
            target = op_id
            if target is None:
                newest = journal._newest_own(sources.USER)
                target = newest.id if newest is not None else None
            info = journal.get(target) if target is not None else None
        except CrmError as exc:
            self.notify(str(exc).splitlines()[0], severity="warning", markup=False, timeout=8)
            return
        if info is None or info.kind != "import" or not info.undoable:
            self._journal_now("undo", op_id, done)
            return
        from screens.modals import ConfirmModal  # lazy: a screen loads when first opened (start-up speed)

        def answered(yes: bool | None) -> None:
            if yes:
                self._journal_now("undo", target, done)

        self.push_screen(ConfirmModal(f"Undo {info.summary}? Records it created are deleted for good (a backup is "
                                      "made first); this undo cannot be redone.", yes="Undo"), answered)

    def _journal_now(self, kind: str, op_id: int | None, done=None) -> None:
        try:
            if kind == "undo":
                result = self.crm.journal.undo(op_id, source=sources.USER)
            else:
                result = self.crm.journal.redo(source=sources.USER)
        except CrmError as exc:
            self.notify(str(exc).splitlines()[0], severity="warning", markup=False, timeout=8)
            return
        self.notify_undo(result, kind)
        if done is not None:
            done()
            return
        # every screen of the stack, not only the one shown: the record page under a history
        # screen must not show the value the undo took back when the user returns to it
        for screen in self.screen_stack:
            if getattr(screen, "action_refresh", None) is not None and not isinstance(screen, ModalScreen):
                self.call_later(screen.run_action, "refresh")

    def key_for(self, *binding_ids: str) -> str | None:
        """The key in effect (as remapped) for a binding of this screen or the app, for hints."""
        for _key, active in self.screen.active_bindings.items():
            if active.binding.id in binding_ids:
                return self.get_key_display(active.binding)
        return None

    def notify(self, message, *, title: str = "", severity="information", timeout=None, markup: bool = True) -> None:
        """Every toast (the screens' and widgets' notify come here) is cleaned of control sequences:
        record names and labels in it come from the database, which another program may have written."""
        message = clean_text(message) if isinstance(message, str) else message
        super().notify(message, title=clean_text(str(title)), severity=severity, timeout=timeout, markup=markup)

    def notify_undo(self, result, kind: str) -> None:
        """'Undid bulk edit of 2 contacts: Email · U redoes' (names records, not ids)."""
        verb, _, what = result.summary.partition(" ")  # "undid Bulk edit of ..." -> "Undid bulk edit of ..."
        text = f"{verb.capitalize()} {what[:1].lower()}{what[1:]}" if what else result.summary
        if kind == "undo":
            key = self.key_for("app.redo", "operations.redo")
            text += f" · {key} redoes" if key else ""
        else:
            key = self.key_for("app.undo")
            text += f" · {key} undoes it again" if key else ""
        self.notify(text, title="Undone" if kind == "undo" else "Redone", markup=False, timeout=8)

    def action_operations(self) -> None:
        from screens.operations import OperationsScreen  # lazy: a screen loads when first opened (start-up speed)

        if not isinstance(self.screen, OperationsScreen):
            self.push_screen(OperationsScreen())

    def action_list_step(self, step: int) -> None:
        from textual.widgets import DataTable, OptionList  # lazy: widget classes the first frame does not need (start-up speed)

        focused = self.focused
        if not isinstance(focused, (OptionList, DataTable)):
            raise SkipAction()
        if step > 0:
            focused.action_cursor_down()
        else:
            focused.action_cursor_up()

    def action_help(self) -> None:
        from textual.widgets import Input, TextArea  # lazy: widget classes the first frame does not need (start-up speed)

        from screens.help import HelpScreen  # lazy: a screen loads when first opened (start-up speed)

        if isinstance(self.focused, (Input, TextArea)) or isinstance(self.screen, HelpScreen):
            raise SkipAction()  # a ? typed into a field, or the help's own ? that closes it

        self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for meta in self.crm.registry.objects.values():
            yield SystemCommand(f"Go to {meta.plural_label}", f"Open the {meta.plural_label.lower()} index",
                                partial(self.open_object, meta.name))
        yield SystemCommand("Open dashboard", "Your saved reports as charts; enter on a bar opens its records",
                            self.open_dashboard)
        yield SystemCommand("My tasks", "Open tasks overdue, due today and upcoming: done, snooze, reschedule",
                            self.open_tasks)
        yield SystemCommand("Data model", "Objects, properties and association labels: relabel, rename, delete",
                            self.open_data_model)
        yield SystemCommand("Workflows", "Automations on any object: enable, disable, test with a dry run",
                            self.open_workflows)
        yield SystemCommand("Manage duplicates", "Likely duplicate pairs: compare side by side, merge or reject",
                            self.open_duplicates)
        from crm_tui.services.pipelines import pipeline_objects

        with_pipelines = pipeline_objects(self.crm)  # deals, tickets and custom objects given pipelines
        for name in with_pipelines:
            meta = self.crm.registry.get(name)
            yield SystemCommand(f"Open {meta.plural_label.lower()} board",
                                f"{meta.plural_label} of a pipeline as columns per stage", partial(self.open_board, name))
        from screens.pipelines import PipelineEditor  # lazy: a screen loads when first opened (start-up speed)

        current = getattr(screen, "object_name", None)
        editing = current if current in with_pipelines else "deals"
        yield SystemCommand("Edit pipelines", "Add, rename, reorder, archive and delete pipelines and their stages",
                            lambda: self.push_screen(PipelineEditor(editing)))
        from screens.import_wizard import ImportHistoryScreen, ImportWizardScreen  # lazy: a screen loads when first opened (start-up speed)

        yield SystemCommand("Import a file", "Import records from a CSV or vCard file (preview, progress, undo)",
                            lambda: self.push_screen(ImportWizardScreen()))
        yield SystemCommand("Import history", "Past imports; undo one completely",
                            lambda: self.push_screen(ImportHistoryScreen()))
        from screens import neighbours  # lazy: a screen loads when first opened (start-up speed)

        for kind, neighbour in neighbours.NEIGHBOURS.items():
            yield SystemCommand(neighbour.command, neighbour.help, partial(neighbours.start, self, kind))
        yield SystemCommand("Search everywhere", "Search every object and open a record", self.search_everywhere)
        yield SystemCommand("Operations", "Every change, newest first: undo any of them, redo the last undo",
                            self.action_operations)
        # Every binding of the focused screen is also a command, by its description.
        seen = {"Search everywhere", "My tasks"}
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.description in seen or binding.action in ("quit", "command_palette"):
                continue
            seen.add(binding.description)
            node = active.node
            yield SystemCommand(binding.description, binding.tooltip or f"Key: {binding.key}",
                                partial(self._run_binding, node, binding.action))

    def search_everywhere(self) -> None:
        from screens.index_modals import RecordSearchModal  # lazy: a screen loads when first opened (start-up speed)

        def chosen(result):
            if result:
                self.open_record(*result)
        self.push_screen(RecordSearchModal(self.crm), chosen)

    def _run_binding(self, node, action: str) -> None:
        self.call_later(node.run_action, action)

    def absorb_user_error(self, error: BaseException) -> bool:
        """Say an error the user can act on in one line (True), or leave a bug alone (False). When
        another program changed the database under the screen, the screen is asked first: it may
        say what happened to what it shows and move away (`changed_elsewhere`)."""
        message = user_error_message(error, self.db_path)
        if message is None:
            return False
        if dialect.is_schema_gone_error(error):
            try:
                self.crm.registry.reload()
            except Exception:
                pass
        check = getattr(self.screen, "changed_elsewhere", None)
        if check is not None and check():
            return True
        self.notify(message, severity="error", markup=False, timeout=10)
        return True

    def _handle_exception(self, error: Exception) -> None:
        """Errors a user can cause (a refused value, a busy or full or read-only database) become
        one notification line; the core's transaction has already rolled back. Anything else is a
        bug and still stops the app with its traceback."""
        message = user_error_message(error, self.db_path)
        if message is None:
            super()._handle_exception(error)
            return
        self.notify(message, severity="error", markup=False, timeout=10)

    def on_unmount(self) -> None:
        if getattr(self, "_listener", None) is not None:
            self._listener.stop()
        self.crm.close()
        gc.unfreeze()
        gc.set_threshold(*self._gc_threshold)


def user_error_message(error: BaseException, db_path) -> str | None:
    """The one-line message for an error the user can act on, or None for a bug (a worker's error
    is unwrapped first; the rest is the core's `user_error_message`)."""
    if isinstance(error, WorkerFailed):
        error = error.error
    return _user_error_message(error, db_path)


def run_app(db_path: str | Path) -> int:
    app = CrmApp(db_path)
    app.run()
    return app.return_code or 0
