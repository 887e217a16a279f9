"""The record timeline: a record's activities newest first, loaded a page at a time.

An OptionList (a Line API widget: it renders only visible lines) fed by crm.activities.timeline in
pages of PAGE_SIZE; the next page loads when the cursor or the scroll position nears the end, so a
record with 10,000 activities opens and scrolls as fast as one with ten. No SQL here.

User data is never code: every prompt is a literal Content.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from crm_tui.services.paging import format_datetime
from crm_tui.domain.sanitize import clean_line
from widgets.steady_list import SteadyOptionList

PAGE_SIZE = 40
ICONS = {"notes": "Note", "calls": "Call", "meetings": "Meeting", "emails": "Email", "tasks": "Task"}


def _type_label(label: str) -> str:
    """A user's activity type by its label (SMS, WhatsApp), cut to fit the column."""
    label = clean_line(str(label))
    return label if len(label) <= 12 else label[:11] + "…"


def type_names(crm, types) -> str:
    return ", ".join(ICONS.get(t) or _type_label(crm.registry.get(t).label) for t in types)


def item_text(item, date_format: str = "%Y-%m-%d", datetime_format: str = "%Y-%m-%d %H:%M") -> Content:
    when = format_datetime(item.at, datetime_format)
    kind = ICONS.get(item.object) or _type_label(item.label or item.object)
    title = clean_line(str(item.title or ""))
    if len(title) > 200:
        title = title[:199] + "…"
    status = ""
    if item.object == "tasks":
        status = "[x] " if item.properties.get("hs_task_status") == "COMPLETED" else "[ ] "
    return Content.assemble((f"{when} ", "dim"), (f"{kind:<7} ", "bold"), status, title)


class Timeline(SteadyOptionList):
    """Activities of one record. Messages: ActivityChosen(object, id) on enter."""

    BINDINGS = [
        Binding("f", "filter", "Filter type", id="timeline.filter"),
        Binding("x", "toggle_done", "Task done", id="timeline.toggle_done"),
        Binding("plus", "associate", "Link activity", id="timeline.associate"),
        Binding("j", "cursor_down", "Down", show=False, id="timeline.down"),
        Binding("k", "cursor_up", "Up", show=False, id="timeline.up"),
        Binding("g", "first", "Top", show=False, id="timeline.top"),
        Binding("G", "last", "Bottom", show=False, id="timeline.bottom"),
    ]

    class ActivityChosen(Message):
        def __init__(self, object_name: str, activity_id: int) -> None:
            super().__init__()
            self.object_name = object_name
            self.activity_id = activity_id

    class ActionRequested(Message):
        """The screen runs these (they open modals): filter, toggle_done, associate."""

        def __init__(self, action: str, item) -> None:
            super().__init__()
            self.action = action
            self.item = item

    def __init__(self, crm, ref, *, types: list[str] | None = None, **kwargs) -> None:
        super().__init__(markup=False, **kwargs)
        self.crm = crm
        self.ref = ref
        self.types = types
        self.items: list = []
        self._more = True
        self.border_title = "Timeline"

    def on_mount(self) -> None:
        self.reload()

    def reload(self, types: list[str] | None | bool = False) -> None:
        if types is not False:
            self.types = types or None
        keep = self.highlighted
        self.items = []
        self._more = True
        self.clear_options()
        self.load_more()
        if not self.items:
            self.add_option(Option(Content("No activities" + (" of this type" if self.types else "")), disabled=True))
        elif keep is not None:
            self.highlighted = min(keep, len(self.items) - 1)
        names = type_names(self.crm, self.types) if self.types else "all"
        self.border_title = f"Timeline ({names})"
        self.estimate_lines()

    def load_more(self) -> None:
        if not self._more:
            return
        before = (self.items[-1].at, self.items[-1].id) if self.items else None
        page = self.crm.activities.timeline(self.ref, types=self.types, limit=PAGE_SIZE, before=before)
        if len(page) < PAGE_SIZE:
            self._more = False
        start = len(self.items)
        self.items.extend(page)
        self.add_options([Option(item_text(item, datetime_format=self.crm.datetime_format), id=f"a{start + i}") for i, item in enumerate(page)])

    @property
    def current(self):
        if self.highlighted is None or self.highlighted >= len(self.items):
            return None
        return self.items[self.highlighted]

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        if self._more and highlighted is not None and self.items and highlighted >= len(self.items) - 10:
            self.call_later(self.load_more)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._more and new_value > old_value and self.max_scroll_y > 0 and new_value >= self.max_scroll_y - 10:
            self.call_later(self.load_more)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        item = self.current
        if item is not None:
            self.post_message(self.ActivityChosen(item.object, item.id))

    def action_filter(self) -> None:
        self.post_message(self.ActionRequested("filter", self.current))

    def action_toggle_done(self) -> None:
        self.post_message(self.ActionRequested("toggle_done", self.current))

    def action_associate(self) -> None:
        self.post_message(self.ActionRequested("associate", self.current))
