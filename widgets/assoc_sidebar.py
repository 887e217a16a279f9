"""The association sidebar: one section per associated object (with its count and an Add entry),
one card per linked record (name, labels, a Primary marker). Keyboard: enter on a card opens the
record, enter on a section's "+ Add" line (or `a`) adds; `p` toggles primary, `l` edits labels,
`d` removes. The widget only reads crm.assoc.groups; changes are asked of the screen by message.

User data is never code: every prompt is a literal Content.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from crm_tui.domain.sanitize import clean_line
from widgets.steady_list import SteadyOptionList

# Sections shown even when empty, so that Add is always at hand.
ALWAYS = ("contacts", "companies", "deals", "tickets")


@dataclass
class Entry:
    kind: str  # "section" or "card"
    object: str
    item: object = None  # LinkItem for cards


def card_text(item) -> Content:
    parts: list = ["  ", clean_line(str(item.display_name))]
    if item.primary:
        parts.append(("  Primary", "bold $success"))
    if item.labels:
        parts.append((" · " + ", ".join(clean_line(label) for label in item.labels), "italic"))
    return Content.assemble(*parts)


class AssocSidebar(SteadyOptionList):
    BINDINGS = [
        Binding("a", "add", "Add association", id="assoc.add"),
        Binding("p", "toggle_primary", "Primary", id="assoc.toggle_primary"),
        Binding("l", "edit_labels", "Labels", id="assoc.edit_labels"),
        Binding("d,delete", "remove", "Remove link", id="assoc.remove"),
        Binding("j", "cursor_down", "Down", show=False, id="assoc.down"),
        Binding("k", "cursor_up", "Up", show=False, id="assoc.up"),
    ]

    class Requested(Message):
        """action: open, add, toggle_primary, edit_labels, remove; item is a LinkItem or None."""

        def __init__(self, action: str, object_name: str, item) -> None:
            super().__init__()
            self.action = action
            self.object_name = object_name
            self.item = item

    def __init__(self, crm, ref, **kwargs) -> None:
        super().__init__(markup=False, **kwargs)
        self.crm = crm
        self.ref = ref
        self.entries: list[Entry] = []
        self.per_group = 20  # cards per section; "… N more" says how many are not shown
        self.groups = []
        self.border_title = "Associations"

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        keep = self.highlighted
        was = self.current  # the card under the cursor stays under it when the order changes (primary first)
        reg = self.crm.registry
        shown = [name for name, meta in reg.objects.items() if not meta.is_activity]
        self.groups = self.crm.assoc.groups(self.ref, per_group=self.per_group, objects=shown)
        by_object = {g.object: g for g in self.groups}
        order = [name for name in reg.objects if not reg.objects[name].is_activity and (name in ALWAYS or name in by_object)]
        options, entries = [], []
        for name in order:
            meta = reg.get(name)
            group = by_object.get(name)
            count = group.count if group else 0
            options.append(Option(Content.assemble((f"{meta.plural_label} ({count})", "bold"), ("  + Add", "$accent"))))
            entries.append(Entry("section", name))
            for item in (group.items if group else []):
                options.append(Option(card_text(item)))
                entries.append(Entry("card", name, item))
            if group and group.count > len(group.items):
                options.append(Option(Content(f"  … {group.count - len(group.items)} more (see history)"), disabled=True))
                entries.append(Entry("more", name))
        self.entries = entries
        self.set_options(options)
        self.estimate_lines()
        if options:
            self.highlighted = min(keep, len(options) - 1) if keep is not None else 0
            if was is not None and was.kind == "card" and was.item is not None:
                self.select_card(was.object, was.item.id)

    @property
    def current(self) -> Entry | None:
        if self.highlighted is None or self.highlighted >= len(self.entries):
            return None
        return self.entries[self.highlighted]

    def section_object(self) -> str | None:
        entry = self.current
        return entry.object if entry else None

    def select_card(self, object_name: str, record_id: int) -> bool:
        for index, entry in enumerate(self.entries):
            if entry.kind == "card" and entry.object == object_name and entry.item.id == record_id:
                self.highlighted = index
                return True
        return False

    def _request(self, action: str, needs_card: bool = True) -> None:
        entry = self.current
        if entry is None:
            return
        if needs_card and entry.kind != "card":
            self.app.bell()
            return
        self.post_message(self.Requested(action, entry.object, entry.item if entry.kind == "card" else None))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        entry = self.current
        if entry is None:
            return
        self._request("open" if entry.kind == "card" else "add", needs_card=False)

    def action_add(self) -> None:
        self._request("add", needs_card=False)

    def action_toggle_primary(self) -> None:
        self._request("toggle_primary")

    def action_edit_labels(self) -> None:
        self._request("edit_labels")

    def action_remove(self) -> None:
        self._request("remove")
