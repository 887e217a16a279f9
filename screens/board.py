"""The board: the records of one pipeline (deals, tickets, or any object given pipelines) as
columns of cards, one column per stage.

Each column loads its cards lazily, a page of ~30 at a time (keyset by id); the count and total
amount per column come from one grouped query. Moving a card to the next or previous stage goes
through `crm.records.update` with the source User, so the stage automations run as for any change.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalScroll, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from crm_tui.services import pipelines
from crm_tui.domain import sources
from crm_tui.domain.errors import CrmError
from crm_tui.services.query import Filter, filter_expression, parse_filter
from widgets.text_input import TextInput

PAGE = 30
COLUMN_WIDTH = 26


def money(value) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


class CardList(OptionList):
    """The cards of one stage. Its options' ids are record ids."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="board.card_down"),
        Binding("k", "cursor_up", "Up", show=False, id="board.card_up"),
        Binding("g", "first", "Top", show=False, id="board.card_top"),
        Binding("G", "last", "Bottom", show=False, id="board.card_bottom"),
    ]

    def __init__(self, stage: pipelines.StageInfo, **kwargs):
        super().__init__(**kwargs)
        self.stage = stage
        self.next_after: int | None = None
        self.loaded = False

    @property
    def record_id(self) -> int | None:
        option = self.highlighted_option
        return int(option.id) if option is not None and option.id else None


class BoardColumns(HorizontalScroll, inherit_bindings=False):
    """The columns side by side; scrolls horizontally to keep the focused column in view. No key
    bindings of its own: left/right move between columns (the screen's bindings)."""


class StageColumn(Vertical):
    def __init__(self, stage: pipelines.StageInfo, **kwargs):
        super().__init__(**kwargs)
        self.stage = stage

    def compose(self) -> ComposeResult:
        yield Static("", classes="column-title", markup=False)
        yield CardList(self.stage)

    @property
    def cards(self) -> CardList:
        return self.query_one(CardList)


class BoardScreen(Screen):
    HELP_TITLE = "Board"
    HELP = """\
The records of one pipeline (deals, tickets or another object's), one column per stage with its
count (and total amount for deals).
h/l move between columns, j/k between cards; > and < move the card to the next or previous
stage (won deals make their contacts and companies Customers); enter opens it; p switches pipeline."""
    BINDINGS = [
        Binding("shift+right,greater_than_sign", "next_stage", "Move to next stage", id="board.next_stage"),
        Binding("shift+left,less_than_sign", "prev_stage", "Move to previous stage", id="board.prev_stage"),
        Binding("right,l", "column(1)", "Next column", show=False, id="board.column_right"),
        Binding("left,h", "column(-1)", "Previous column", show=False, id="board.column_left"),
        Binding("enter", "open_card", "Open", id="board.open"),
        Binding("slash", "search", "Search", id="board.search"),
        Binding("f", "filter", "Filter", id="board.filter"),
        Binding("m", "toggle_mine", "Mine", id="board.mine", tooltip="Show only records I own (toggle)"),
        Binding("p", "next_pipeline", "Pipeline", id="board.pipeline", tooltip="Show the next pipeline"),
        Binding("r", "refresh", "Refresh", show=False, id="board.refresh"),
        Binding("escape,q", "back", "Back", id="board.back"),
    ]
    DEFAULT_CSS = """
    BoardScreen #board-bar { height: 1; padding: 0 1; color: $text-muted; }
    BoardScreen #board-input { display: none; }
    BoardScreen #board-input.-shown { display: block; }
    BoardScreen #columns { height: 1fr; }
    BoardScreen StageColumn { width: %d; height: 1fr; border-right: vkey $border-blurred; }
    BoardScreen StageColumn .column-title { height: 3; padding: 0 0 0 1; text-style: bold; }
    BoardScreen StageColumn:focus-within .column-title { background: $accent 30%%; }
    BoardScreen CardList { height: 1fr; border: none; padding: 0; }
    BoardScreen CardList:focus { border: none; }
    """ % COLUMN_WIDTH

    def __init__(self, object_name: str = "deals", pipeline: str | None = None):
        super().__init__()
        self.object_name = object_name
        self.pipeline_name = pipeline
        self.search_text = ""
        self.filters: list[Filter] = []
        self.filter_texts: list[str] = []
        self.mine = False
        self._input_mode = ""  # "search" or "filter" while the input is shown
        self._ids: list[int] | None = None
        self._return_stage: str | None = None  # the column to focus again after the search box

    @property
    def crm(self):
        return self.app.crm

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="board-bar", markup=False)
        yield TextInput(id="board-input")
        yield BoardColumns(id="columns")
        yield Footer()

    async def on_mount(self) -> None:
        await self.load_board()

    async def on_screen_resume(self) -> None:
        if getattr(self, "_loaded_once", False):
            await self.refresh_board(keep_focus=True)

    @property
    def columns(self) -> list[StageColumn]:
        return list(self.query(StageColumn))

    def _focused_column(self) -> StageColumn | None:
        focused = self.focused
        for column in self.columns:
            if focused is not None and (focused is column.cards):
                return column
        return None

    async def load_board(self, focus_stage: str | None = None, focus_record: int | None = None) -> None:
        try:
            self.info = pipelines.get_pipeline(self.crm, self.object_name, self.pipeline_name)
        except CrmError as exc:
            self.notify(str(exc), severity="error", markup=False)
            if not pipelines.has_pipelines(self.crm, self.object_name):
                return
            self.info = pipelines.default_pipeline(self.crm, self.object_name)
            if self.info is None:
                return
        self.object_name = self.info.object
        self.pipeline_name = self.info.name
        meta = self.crm.registry.get(self.object_name)
        self.sub_title = f"{meta.plural_label} board: {self.info.label}"
        self.totals = self._totals()
        stages = [s for s in self.info.stages if not s.archived or self.totals.get(s.name)]
        container = self.query_one("#columns", HorizontalScroll)
        await container.remove_children()
        await container.mount_all([StageColumn(stage) for stage in stages])
        self._loaded_once = True
        self._fill(focus_stage, focus_record)

    def _fill(self, focus_stage: str | None, focus_record: int | None) -> None:
        for column in self.columns:
            self._load_column(column, reset=True)
        self._update_bar()
        target = next((c for c in self.columns if c.stage.name == focus_stage), None) or next(iter(self.columns), None)
        if target is not None:
            self._focus_column(target, focus_record)

    def _focus_column(self, column: StageColumn, record_id: int | None = None) -> None:
        cards = column.cards
        if record_id is not None:
            try:
                cards.highlighted = cards.get_option_index(str(record_id))
            except Exception:  # not on the loaded pages
                pass
        elif cards.highlighted is None and cards.option_count:
            cards.highlighted = 0
        cards.focus()
        container = self.query_one("#columns", HorizontalScroll)
        container.scroll_to_widget(column, animate=False)
        self.call_after_refresh(container.scroll_to_widget, column, animate=False)  # once laid out

    # -- data -------------------------------------------------------------------------------

    def _effective_filters(self) -> list[Filter]:
        filters = list(self.filters)
        if self.mine:
            from crm_tui.services.owners import me

            owner = me(self.crm)
            if owner is not None:
                filters.append(Filter("hubspot_owner_id", "eq", owner.id))
        return filters

    def _search_ids(self) -> list[int] | None:
        if not self.search_text:
            return None
        return self.crm.search.ids(self.object_name, self.search_text, limit=5000)

    def _totals(self) -> dict[str, pipelines.StageTotal]:
        self._ids = self._search_ids()
        return pipelines.stage_totals(self.crm, self.object_name, self.pipeline_name,
                                      self._effective_filters(), self._ids)

    def _load_column(self, column: StageColumn, *, reset: bool = False) -> None:
        cards = column.cards
        if reset:
            cards.next_after = None
            cards.loaded = False
        elif cards.next_after is None:
            return
        rows, cards.next_after = pipelines.stage_page(
            self.crm, self.object_name, self.pipeline_name, column.stage.name, filters=self._effective_filters(),
            ids=self._ids, after=None if reset else cards.next_after, limit=PAGE)
        options = [Option(self._card(row), id=str(row["id"])) for row in rows]
        if reset:
            cards.set_options(options)
        else:
            cards.add_options(options)
        cards.loaded = True
        self._update_title(column)

    def _card(self, row: dict) -> Text:
        width = COLUMN_WIDTH - 4
        name = row.get("display_name") or f"#{row['id']}"
        text = Text(name if len(name) <= width else name[: width - 1] + "…", style="bold", no_wrap=True)
        details = []
        amount_prop = self._amount_prop
        if amount_prop and row.get(amount_prop) is not None:
            details.append(money(row[amount_prop]))
        if row.get("closedate"):
            details.append(str(row["closedate"]))
        if row.get("hs_ticket_priority"):
            meta = self.crm.registry.get(self.object_name)
            details.append(meta.properties["hs_ticket_priority"].option_label(row["hs_ticket_priority"]))
        if row.get("hubspot_owner_id") is not None:
            details.append(self.crm.owner_name(row["hubspot_owner_id"]))
        line = " · ".join(details) or " "
        text.append("\n")
        text.append(line if len(line) <= width else line[: width - 1] + "…", style="dim")
        return text

    @property
    def _amount_prop(self) -> str | None:
        """The amount the columns total and weight by stage probability (deals' amount), or None."""
        return pipelines.props_of(self.crm, self.object_name)[2]

    def _update_title(self, column: StageColumn) -> None:
        total = self.totals.get(column.stage.name)
        count = total.count if total else 0
        label = column.stage.label + (" (archived)" if column.stage.archived else "")
        width = COLUMN_WIDTH - 2
        title = Text(label if len(label) <= width else label[: width - 1] + "…")
        line = f"{count:,}"
        if self._amount_prop:
            line += f" · {money(total.amount if total else 0)}"
            if column.stage.probability is not None and column.stage.kind == "open":
                line += f" · {column.stage.probability:.0%}"
                # the forecast's weighting: this stage's amount times its probability
                weighted = (total.amount if total else 0) * column.stage.probability
                line += f"\nweighted {money(weighted)}"
        title.append("\n" + line, style="not bold dim")
        column.query_one(".column-title", Static).update(title)

    def _update_bar(self) -> None:
        parts = [self.info.label]
        count = sum(t.count for t in self.totals.values())
        parts.append(f"{count:,} {self.crm.registry.get(self.object_name).plural_label.lower()}")
        if self._amount_prop:
            weighted = sum((self.totals[s.name].amount if s.name in self.totals else 0) * s.probability
                           for s in self.info.stages if s.kind == "open" and s.probability is not None)
            parts.append(f"weighted {money(weighted)}")
        if self.search_text:
            parts.append(f"search: {self.search_text}")
        for text in self.filter_texts:
            parts.append(f"filter: {text}")
        if self.mine:
            parts.append("mine")
        self.query_one("#board-bar", Static).update(" | ".join(parts))

    async def refresh_board(self, *, keep_focus: bool = True) -> None:
        column = self._focused_column()
        stage = column.stage.name if column else None
        record = column.cards.record_id if column else None
        await self.load_board(stage if keep_focus else None, record if keep_focus else None)

    @on(OptionList.OptionHighlighted)
    def _maybe_load_more(self, event: OptionList.OptionHighlighted) -> None:
        cards = event.option_list
        if isinstance(cards, CardList) and cards.next_after is not None and event.option_index >= cards.option_count - 5:
            column = next((c for c in self.columns if c.cards is cards), None)
            if column is not None:
                self._load_column(column)

    @on(OptionList.OptionSelected)
    def _card_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.app.open_record(self.object_name, int(event.option.id))

    # -- actions ----------------------------------------------------------------------------

    def action_open_card(self) -> None:
        column = self._focused_column()
        if column is not None and column.cards.record_id is not None:
            self.app.open_record(self.object_name, column.cards.record_id)

    def action_column(self, delta: int) -> None:
        columns = self.columns
        if not columns:
            return
        current = self._focused_column()
        index = columns.index(current) if current in columns else 0
        target = columns[max(0, min(len(columns) - 1, index + delta))]
        self._focus_column(target)

    def action_next_stage(self) -> None:
        self._move(1)

    def action_prev_stage(self) -> None:
        self._move(-1)

    def _move(self, delta: int) -> None:
        column = self._focused_column()
        if column is None or column.cards.record_id is None:
            self.notify("no card selected", severity="warning")
            return
        record_id = column.cards.record_id
        stages = [s for s in self.info.stages if not s.archived]
        names = [s.name for s in stages]
        if column.stage.name in names:
            index = names.index(column.stage.name) + delta
        else:  # a card in an archived stage moves to the nearest active one
            index = 0 if delta > 0 else len(names) - 1
        if not 0 <= index < len(stages):
            self.notify("this is the " + ("last" if delta > 0 else "first") + " stage", severity="warning")
            return
        target = stages[index]
        current_kind = column.stage.kind
        if current_kind in ("won", "lost") and target.kind in ("won", "lost") and target.kind != current_kind:
            # Closed lost sits next to Closed won: one keypress must not turn a lost deal into a won one
            # (its contacts would become Customers, and lifecycle stages never move back).
            from screens.modals import ConfirmModal

            def confirmed(ok: bool) -> None:
                if ok:
                    self._apply_move(column, record_id, target)

            self.app.push_screen(ConfirmModal(f"Move this {column.stage.label} record straight to {target.label}?",
                                              yes=f"Move to {target.label}"), confirmed)
            return
        self._apply_move(column, record_id, target)

    def _apply_move(self, column, record_id: int, target) -> None:
        stage_prop = pipelines.props_of(self.crm, self.object_name)[1]
        try:
            result = self.crm.records.update(self.object_name, record_id, {stage_prop: target.name},
                                             sources.USER, actor=self.crm.user_name)
        except CrmError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        message = f"moved to {target.label}"
        if result.notes:
            message += ": " + "; ".join(result.notes)
        from screens.modals import name_records

        self.notify(name_records(self.crm, message), markup=False)
        self._after_move(column, record_id, target)

    def _after_move(self, source: StageColumn, record_id: int, target: pipelines.StageInfo) -> None:
        self.totals = self._totals()
        cards = source.cards
        index = cards.highlighted or 0
        try:
            cards.remove_option(str(record_id))
        except Exception:
            pass
        if cards.option_count:
            cards.highlighted = min(index, cards.option_count - 1)
        self._update_title(source)
        dest = next((c for c in self.columns if c.stage.name == target.name), None)
        if dest is None:
            return
        row = pipelines.card_row(self.crm, self.object_name, record_id)
        if row is not None:
            options = [Option(self._card(row), id=str(record_id))]
            options += [o for o in dest.cards.options if o.id != str(record_id)]
            dest.cards.set_options(options)
        self._update_title(dest)
        self._update_bar()
        self._focus_column(dest, record_id)

    def action_search(self) -> None:
        self._show_input("search", self.search_text, "Search (enter to apply, empty to clear)")

    def action_filter(self) -> None:
        self._show_input("filter", "", "Filter: prop=value, prop>N, prop~text, prop? (enter to add)")

    def _show_input(self, mode: str, value: str, placeholder: str) -> None:
        column = self._focused_column()
        if column is not None:
            self._return_stage = column.stage.name
        self._input_mode = mode
        box = self.query_one("#board-input", Input)
        box.placeholder = placeholder
        box.value = value
        box.add_class("-shown")
        box.focus()

    def _hide_input(self) -> None:
        box = self.query_one("#board-input", Input)
        box.remove_class("-shown")
        self._input_mode = ""
        column = next((c for c in self.columns if c.stage.name == self._return_stage), None) or next(iter(self.columns), None)
        if column is not None:
            self._focus_column(column)

    @on(Input.Submitted, "#board-input")
    async def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if self._input_mode == "search":
            self.search_text = text
        elif self._input_mode == "filter" and text:
            try:
                flt = parse_filter(text)
                filter_expression(self.crm, self.crm.registry.get(self.object_name), flt)  # validate now
            except CrmError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            self.filters.append(flt)
            self.filter_texts.append(text)
        searched = self._input_mode == "search" and bool(text)
        self.query_one("#board-input", Input).remove_class("-shown")
        self._input_mode = ""
        await self.load_board(self._return_stage)
        if searched:  # show the first column that holds a match, not an empty one
            hit = next((c for c in self.columns if getattr(self.totals.get(c.stage.name), "count", 0)), None)
            if hit is not None:
                self._focus_column(hit)
            else:
                self.notify(f"no {self.object_name} match {text!r}", markup=False)

    async def action_toggle_mine(self) -> None:
        self.mine = not self.mine
        await self.refresh_board()

    async def action_next_pipeline(self) -> None:
        infos = pipelines.list_pipelines(self.crm, self.object_name, include_archived=False)
        if len(infos) < 2:
            self.notify(f"{self.info.label} is the only pipeline", markup=False)
            return
        names = [p.name for p in infos]
        index = (names.index(self.info.name) + 1) % len(names) if self.info.name in names else 0
        self.pipeline_name = names[index]
        await self.load_board()

    async def action_refresh(self) -> None:
        await self.refresh_board()

    async def action_back(self) -> None:
        if self._input_mode:
            self._hide_input()
            return
        if self.search_text or self.filters or self.mine:
            self.search_text, self.filters, self.filter_texts, self.mine = "", [], [], False
            self.notify("search and filters cleared")
            await self.refresh_board()
            return
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.open_object(self.object_name)

    def check_action(self, action: str, parameters) -> bool | None:
        # typing in the search box must not trigger the single-letter bindings
        if self._input_mode and action not in ("back",):
            focused = self.focused
            if isinstance(focused, Input):
                return False
        return True
