"""The "My tasks" screen: open tasks in three sections (Overdue, Today, Upcoming) with their due
date, priority, owner and the records they are linked to; done, snooze and reschedule by key; enter
opens the record a task is linked to. Everything goes through crm.tasks (plain rows); every user
value is literal Content. The section counts are read again after each change."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from crm_tui.domain import sources
from crm_tui.domain.errors import CrmError
from crm_tui.domain.sanitize import clean_line
from crm_tui.domain.types import shown_datetime
from widgets.steady_list import SteadyOptionList

SECTIONS = (("overdue", "Overdue"), ("today", "Today"), ("upcoming", "Upcoming"))
MINE = ("me", True)  # the default filter: my tasks and those nobody is assigned to
EVERYONE = (None, False)


def _cut(text: str, width: int) -> str:
    text = clean_line(str(text or ""))
    return text if len(text) <= width else text[: width - 1] + "…"


def task_text(row, datetime_format: str) -> Content:
    due = shown_datetime(row.due, datetime_format) if row.due else "no due date"
    parts = [(f"{due:<16} ", "bold" if row.bucket == "overdue" else ""), _cut(row.subject, 44)]
    if row.priority_label:
        parts.append((f"  {row.priority_label}", "bold" if row.priority == "HIGH" else "dim"))
    if row.owner:
        parts.append((f"  @{_cut(row.owner, 16)}", "dim"))
    linked = ", ".join(_cut(name, 28) for _o, _i, name in row.linked[:3])
    if len(row.linked) > 3:
        linked += f" +{len(row.linked) - 3}"
    parts.append(("\n  → " + (linked or "not linked to a record"), "dim"))
    return Content.assemble(*parts)


class TaskList(SteadyOptionList):
    """The queue: section headings (disabled) and one option per task, id t<task id>."""


class TasksScreen(Screen):
    HELP_TITLE = "My tasks"
    HELP = """\
Open tasks due before today (Overdue), today (Today) and later or without a due date (Upcoming),
by default yours and those nobody is assigned to (o chooses another owner or everyone). x or space
marks the task under the cursor done; s snoozes it a day (S asks how many days; an overdue task is
snoozed from today); r asks for a new due date in your date format; enter opens the record the task
is linked to. Each change is one operation: u undoes it. Days are UTC days, as dates are shown."""
    BINDINGS = [
        Binding("x,space", "done", "Done", id="tasks.done"),
        Binding("s", "snooze", "Snooze a day", id="tasks.snooze"),
        Binding("S", "snooze_days", "Snooze days…", show=False, id="tasks.snooze_days"),
        Binding("r", "reschedule", "Reschedule", id="tasks.reschedule"),
        Binding("o", "owner", "Owner", id="tasks.owner"),
        Binding("ctrl+r", "refresh", "Refresh", show=False, id="tasks.refresh"),
        Binding("g", "cursor_top", "Top", show=False, id="tasks.top"),
        Binding("G", "cursor_bottom", "Bottom", show=False, id="tasks.bottom"),
        Binding("escape,q", "back", "Back", id="tasks.back"),
    ]
    DEFAULT_CSS = """
    TasksScreen #caption { height: 1; padding: 0 1; text-style: bold; }
    TasksScreen TaskList, TasksScreen TaskList:focus { height: 1fr; border: none; padding: 0 1; }
    TasksScreen TaskList > .option-list--option-disabled { color: $foreground; text-style: none; }
    """

    def __init__(self, owner: tuple[str | int | None, bool] = MINE) -> None:
        super().__init__()
        self.owner, self.unassigned = owner
        self.rows: dict[str, object] = {}
        self.counts: dict[str, int] = {}

    @property
    def crm(self):
        return self.app.crm

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="caption", markup=False)
        yield TaskList(id="tasks")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "My tasks"
        self.reload()
        self.query_one(TaskList).focus()

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.reload()

    # -- reading -------------------------------------------------------------------------------

    def owner_text(self) -> str:
        if self.owner is None:
            return "everyone"
        if self.owner == "me":
            return "mine and unassigned" if self.unassigned else "mine"
        return self.crm.owner_name(self.owner)

    def reload(self) -> None:
        tasks = self.query_one(TaskList)
        keep = tasks.highlighted
        try:
            self.counts = self.crm.tasks.counts(self.owner, unassigned=self.unassigned)
            rows = self.crm.tasks.queue("all", self.owner, unassigned=self.unassigned)
        except CrmError as exc:  # an owner removed meanwhile: everyone's tasks, and why
            self.notify(str(exc), severity="warning", markup=False)
            self.owner, self.unassigned = EVERYONE
            self.counts = self.crm.tasks.counts()
            rows = self.crm.tasks.queue("all")
        self.rows = {}
        options: list[Option] = []
        for bucket, title in SECTIONS:
            section = [r for r in rows if r.bucket == bucket]
            count = self.counts.get(bucket, 0)
            more = f", {len(section)} shown" if len(section) < count else ""
            options.append(Option(Content.styled(f"{title} ({count}{more})", "bold underline"), disabled=True))
            for row in section:
                self.rows[f"t{row.id}"] = row
                options.append(Option(task_text(row, self.crm.datetime_format), id=f"t{row.id}"))
            if not section:
                options.append(Option(Content.styled("  nothing " + ("overdue" if bucket == "overdue" else f"due {title.lower()}"),
                                                     "dim"), disabled=True))
        tasks.clear_options()
        tasks.add_options(options)
        self._highlight(keep)
        total = sum(self.counts.values())
        self.query_one("#caption", Static).update(
            f"Tasks: {self.owner_text()} · {self.counts.get('overdue', 0)} overdue · {self.counts.get('today', 0)} today"
            f" · {self.counts.get('upcoming', 0)} upcoming" + ("" if total else " · nothing to do"))

    def _highlight(self, near: int | None) -> None:
        """The task at (or after, else before) the given line: a heading is never highlighted."""
        tasks = self.query_one(TaskList)
        ids = [i for i in range(tasks.option_count) if not tasks.get_option_at_index(i).disabled]
        if not ids:
            tasks.highlighted = None
            return
        near = near or 0
        after = [i for i in ids if i >= near]
        tasks.highlighted = after[0] if after else ids[-1]

    def current(self):
        tasks = self.query_one(TaskList)
        if tasks.highlighted is None:
            return None
        return self.rows.get(tasks.get_option_at_index(tasks.highlighted).id or "")

    # -- changes -------------------------------------------------------------------------------

    def _run(self, change, *args) -> None:
        row = self.current()
        if row is None:
            self.notify("no task here", severity="warning")
            return
        try:
            message = change(row.id, *args, source=sources.USER)
        except CrmError as exc:
            self.notify(str(exc), severity="error", markup=False)
        else:
            self.notify(message, markup=False)
        self.reload()

    def action_done(self) -> None:
        self._run(self.crm.tasks.complete)

    def action_snooze(self) -> None:
        self._run(self.crm.tasks.snooze, 1)

    def action_snooze_days(self) -> None:
        from screens.index_modals import TextPromptModal

        if self.current() is None:
            return

        def check(text: str) -> str | None:
            if not text.isdigit() or not 1 <= int(text) <= 3650:
                return "Type a number of days, 1 to 3650"
            return None

        def answered(text: str | None) -> None:
            if text:
                self._run(self.crm.tasks.snooze, int(text))

        self.app.push_screen(TextPromptModal("Snooze the task how many days?", "1", check), answered)

    def action_reschedule(self) -> None:
        from screens.index_modals import TextPromptModal

        row = self.current()
        if row is None:
            return
        example = shown_datetime(row.due, self.crm.date_format) if row.due else ""

        def check(text: str) -> str | None:
            try:
                self.crm.tasks.parse_due(text)
            except CrmError as exc:
                return str(exc)
            return None

        def answered(text: str | None) -> None:
            if text:
                self._run(self.crm.tasks.reschedule, text)

        from datetime import date

        hint = date(2026, 12, 31).strftime(self.crm.date_format)
        self.app.push_screen(TextPromptModal(f"New due date for {_cut(row.subject, 40)} (e.g. {hint})",
                                             example[:10] if self.crm.date_format == "%Y-%m-%d" else "", check), answered)

    def action_owner(self) -> None:
        from crm_tui.services.owners import list_owners
        from screens.record_modals import ChoiceModal

        choices = [(MINE, "Mine and unassigned"), (EVERYONE, "Everyone")]
        choices += [((o.id, False), o.name + (" (you)" if o.is_me else "")) for o in list_owners(self.crm)]

        def chosen(value) -> None:
            if value is not None:
                self.owner, self.unassigned = value
                self.query_one(TaskList).highlighted = None
                self.reload()

        self.app.push_screen(ChoiceModal("Whose tasks?", choices, "enter chooses · escape cancels"), chosen)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        row = self.rows.get(event.option.id or "")
        if row is None:
            return
        if row.linked:
            object_name, record_id, _name = row.linked[0]
            self.app.open_record(object_name, record_id)
        else:
            self.app.open_record("tasks", row.id)

    def action_cursor_top(self) -> None:
        self._highlight(0)

    def action_cursor_bottom(self) -> None:
        self._highlight(self.query_one(TaskList).option_count)

    def action_refresh(self) -> None:
        """Read the queue again (also after an undo, and on a team database when others change it)."""
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()
