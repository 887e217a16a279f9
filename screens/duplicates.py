"""Manage duplicates: the likely pairs of one object (crm.duplicates.find, in a worker thread), the
highlighted pair's differing values side by side, and per pair: merge choosing values (enter),
or reject (x: remembered, not offered again). A merge is one operation: u undoes it."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from crm_tui.domain import sources
from crm_tui.domain.errors import CrmError
from crm_tui.services.paging import display_value
from crm_tui.domain.sanitize import clean_line


def _cell(value, style: str = "") -> Text:
    return Text(clean_line(str(value if value is not None else "")), style=style, no_wrap=True, overflow="ellipsis")


def differing(crm, object_name: str, a: int, b: int, date_format: str) -> list[tuple[str, str, str, str]]:
    """(property, label, A's value, B's value) for each property the two records hold differently."""
    meta = crm.registry.get(object_name)
    ra, rb = crm.records.get(meta.name, a).properties, crm.records.get(meta.name, b).properties
    out = []
    for name, prop in meta.properties.items():
        if prop.system or prop.read_only:
            continue
        va, vb = ra.get(name), rb.get(name)
        if va == vb or (va in (None, "") and vb in (None, "")):
            continue
        show = lambda v: display_value(crm, prop, v, date_format) if v not in (None, "") else ""  # noqa: E731
        out.append((name, prop.label, clean_line(show(va)), clean_line(show(vb))))
    return out


class DuplicatesScreen(Screen):
    HELP_TITLE = "Duplicates"
    HELP = """\
Likely duplicate pairs of one object, most likely first, with the reasons (same phone, email alias,
close names, same name at the same company, a domain under another spelling). Below the list: the
values the two records hold differently. enter merges the pair choosing each value (the record on
the left survives; the lifecycle stage furthest along wins and the other's emails are kept);
x rejects the pair (it is not offered again); o switches object. u undoes a merge."""
    BINDINGS = [
        Binding("enter", "merge", "Merge…", id="duplicates.merge"),
        Binding("x", "reject", "Not duplicates", id="duplicates.reject"),
        Binding("o", "switch_object", "Object", id="duplicates.object"),
        Binding("r", "refresh", "Refresh", show=False, id="duplicates.refresh"),
        Binding("escape,q", "back", "Back", id="duplicates.back"),
    ]
    DEFAULT_CSS = """
    DuplicatesScreen #caption { height: 1; padding: 0 1; text-style: bold; }
    DuplicatesScreen DataTable { height: 1fr; }
    DuplicatesScreen #compare { height: auto; max-height: 45%; padding: 0 1; border-top: solid $border-blurred; }
    """

    def __init__(self, object_name: str = "contacts") -> None:
        super().__init__()
        self.object_name = object_name
        self.pairs = []

    @property
    def crm(self):
        return self.app.crm

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="caption", markup=False)
        yield DataTable(cursor_type="row", zebra_stripes=True, id="pairs")
        yield Static("", id="compare", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Duplicates"
        table = self.query_one(DataTable)
        table.add_columns("Score", "Record", "Likely the same as", "Why")
        table.focus()
        self.scan()

    def scan(self) -> None:
        meta = self.crm.registry.get(self.object_name)
        self.query_one("#caption", Static).update(f"{meta.plural_label}: looking for duplicates…")
        self._scan()

    @work(thread=True, exclusive=True, group="duplicates")
    def _scan(self) -> None:
        try:
            result = self.crm.duplicates.find(self.object_name, limit=500)
        except CrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.app.call_from_thread(self._show, result)

    def _show(self, result) -> None:
        meta = self.crm.registry.get(self.object_name)
        self.pairs = result.pairs
        table = self.query_one(DataTable)
        table.clear()
        for index, p in enumerate(self.pairs):
            table.add_row(_cell(f"{p.score:.2f}"), _cell(p.a_name), _cell(p.b_name), _cell(", ".join(p.reasons)),
                          key=str(index))
        self.query_one("#caption", Static).update(
            f"{meta.plural_label}: {len(self.pairs)} likely pair(s) among {result.records:,} records"
            + ("" if self.pairs else " (none found)"))
        self._compare()

    def _current(self):
        table = self.query_one(DataTable)
        if not self.pairs or table.cursor_row is None or not 0 <= table.cursor_row < len(self.pairs):
            return None
        return self.pairs[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def _compare(self, _event=None) -> None:
        pair = self._current()
        panel = self.query_one("#compare", Static)
        if pair is None:
            panel.update("")
            return
        try:
            rows = differing(self.crm, pair.object, pair.a, pair.b, self.app.config.date_format)
        except CrmError as exc:
            panel.update(clean_line(str(exc)))
            return
        text = Text()
        text.append(f"{clean_line(pair.a_name)} (#{pair.a})  |  {clean_line(pair.b_name)} (#{pair.b})\n", style="bold")
        for _name, label, va, vb in rows[:12]:
            text.append(f"{label[:22]:<22} ", style="dim")
            text.append(f"{_cut(va or '—', 26):<26} | {_cut(vb or '—', 26)}\n")
        if not rows:
            text.append("the two records hold the same values\n", style="dim")
        panel.update(text)

    @on(DataTable.RowSelected)
    def _selected(self, _event) -> None:
        self.action_merge()  # enter on the table: the table takes the key and says which row

    def action_reject(self) -> None:
        pair = self._current()
        if pair is None:
            return
        self.crm.duplicates.reject(pair.object, pair.a, pair.b)
        self.notify(f"{pair.a_name} and {pair.b_name}: not duplicates (remembered)", markup=False)
        self.scan()

    def action_merge(self) -> None:
        pair = self._current()
        if pair is None:
            return

        def done(choose) -> None:
            if choose is None:
                return
            try:
                result = self.crm.merger.merge(pair.object, pair.a, pair.b, choose=choose, source=sources.USER)
            except CrmError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            self.notify(f"Merged {pair.b_name} into {pair.a_name} ({len(result.notes)} value(s) taken) · u undoes it",
                        markup=False)
            self.scan()
        self.app.push_screen(MergeModal(pair, differing(self.crm, pair.object, pair.a, pair.b,
                                                        self.app.config.date_format)), done)

    def action_switch_object(self) -> None:
        names = [m.name for m in self.crm.registry.objects.values() if not m.is_activity]
        self.object_name = names[(names.index(self.object_name) + 1) % len(names)] if self.object_name in names else names[0]
        self.scan()

    def action_refresh(self) -> None:
        self.scan()

    def action_back(self) -> None:
        self.app.pop_screen()


class MergeModal(ModalScreen):
    """Each differing value, left (the survivor's) or right (the other's): left/right or h/l choose,
    enter merges, escape cancels. Starts from what a merge would do by itself."""

    BINDINGS = [
        Binding("left,h", "side('keep')", "Keep left", id="merge.left"),
        Binding("right,l", "side('other')", "Take right", id="merge.right"),
        Binding("enter", "merge", "Merge", id="merge.go", priority=True),
        Binding("escape", "cancel", "Cancel", id="merge.cancel"),
    ]
    DEFAULT_CSS = """
    MergeModal { align: center middle; }
    MergeModal > Vertical { width: 90%; max-width: 100; height: auto; max-height: 90%; border: round $accent;
                            background: $surface; padding: 0 1; }
    MergeModal OptionList { height: auto; max-height: 20; }
    MergeModal .hint { color: $text-muted; }
    """

    def __init__(self, pair, rows) -> None:
        super().__init__()
        self.pair = pair
        self.rows = rows
        self.choice = {name: ("other" if not va and vb else "keep") for name, _label, va, vb in rows}
        if any(name == "lifecyclestage" for name, *_ in rows):
            self.choice.pop("lifecyclestage")  # the core decides: the stage furthest along
        self.started_with = dict(self.choice)  # escape asks first once a side was changed

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Merge {clean_line(self.pair.b_name)} (#{self.pair.b}) into "
                              f"{clean_line(self.pair.a_name)} (#{self.pair.a})", style="bold"))
            yield OptionList(*self._options(), id="values")
            yield Static("left/right: whose value · enter merges · escape cancels · the stage furthest along "
                         "wins; the other's emails are kept", classes="hint", markup=False)
            yield Footer()

    def _options(self):
        out = []
        inner = min(100, int(self.app.size.width * 0.9)) - 8  # the modal's border, padding and list border
        col = max(8, (inner - 23) // 2)
        for name, label, va, vb in self.rows:
            side = self.choice.get(name)
            left = Text(f"{label[:20]:<20} ")
            if side is None:
                left.append(_cut(f"{va or '—'} / {vb or '—'} (furthest along wins)", 2 * col + 2), style="dim")
            else:
                left.append(_cut(f"{va or '—'}", col).ljust(col), style="bold reverse" if side == "keep" else "dim")
                left.append("  ")
                left.append(_cut(f"{vb or '—'}", col), style="bold reverse" if side == "other" else "dim")
            out.append(Option(left, id=name))
        if not out:
            out.append(Option(Text("the two records hold the same values", style="dim"), disabled=True))
        return out

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def action_side(self, side: str) -> None:
        values = self.query_one(OptionList)
        option = values.highlighted_option
        if option is None or option.id not in self.choice:
            return
        self.choice[option.id] = side
        keep = values.highlighted
        values.set_options(self._options())
        values.highlighted = keep

    def action_merge(self) -> None:
        self.dismiss(dict(self.choice))

    def action_cancel(self) -> None:
        if self.choice == self.started_with:
            self.dismiss(None)
            return
        from screens.modals import ConfirmModal  # lazy: a screen loads when first opened (start-up speed)

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)
        self.app.push_screen(ConfirmModal("Discard the values you chose?", "Discard"), answered)


def _cut(text: str, width: int) -> str:
    """`text` in `width` cells, with an ellipsis when it does not fit (a cut email must look cut)."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
