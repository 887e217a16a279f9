"""The dashboard: the user's saved reports (or the default dashboard) as charts, computed in a
worker thread so the screen paints at once and each chart fills in when its SQL returns. Enter on a
bar opens the index on that bar's records; n adds a report, d removes the one under the cursor."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Header, Input, Select, Static

from crm_tui.domain.errors import CrmError
from screens.modals import AsksBeforeDiscard
from crm_tui.services.reports import CHARTS, ReportSpec
from crm_tui.domain.sanitize import clean_line
from widgets.bar_chart import BarChart
from widgets.text_input import TextInput

WIDE = 120  # from this width, two charts side by side


class DashboardScreen(Screen):
    HELP_TITLE = "Dashboard"
    HELP = """\
Your saved reports as charts (the default dashboard until you save one): each line is a group with
its bar and its value. Tab moves between charts, j/k between bars; enter opens the index on that
bar's records. n adds a report, d removes the one under the cursor, r computes them again.
The same reports on the command line: crm-tui report, crm-tui reports, crm-tui forecast."""
    BINDINGS = [
        Binding("n", "new_report", "New report", id="dashboard.new"),
        Binding("d", "delete_report", "Remove report", id="dashboard.delete"),
        Binding("r", "refresh", "Refresh", id="dashboard.refresh"),
        Binding("escape,q", "back", "Back", id="dashboard.back"),
    ]
    DEFAULT_CSS = """
    DashboardScreen #cards { height: 1fr; }
    DashboardScreen.-wide #cards { layout: grid; grid-size: 2; grid-gutter: 0 2; grid-rows: auto; }
    DashboardScreen .card { height: auto; margin: 0 0 1 0; padding: 0 1; }
    DashboardScreen .card-title { height: 1; text-style: bold; }
    DashboardScreen .card-caption { height: 1; color: $text-muted; }
    DashboardScreen .card:focus-within .card-title { background: $accent 30%; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.specs: list[ReportSpec] = []
        self.first_frame_at: float | None = None

    @property
    def crm(self):
        return self.app.crm

    def compose(self) -> ComposeResult:
        self.specs = self.crm.reports.saved()
        if self.app.size.width >= WIDE:
            self.add_class("-wide")
        from widgets.footer import KeysFooter  # one widget for the keys: one restyle, not one per key

        yield Header()
        with VerticalScroll(id="cards"):
            for index, spec in enumerate(self.specs):
                yield self._card(index, spec)
        yield KeysFooter()

    def _card(self, index: int, spec: ReportSpec) -> Vertical:
        chart = BarChart(spec.chart, id=f"chart-{index}")
        chart.waiting()
        card = Vertical(Static(Text(clean_line(spec.name or spec.object)), classes="card-title"),
                        Static("", classes="card-caption", markup=False), chart, classes="card")
        return card

    def on_mount(self) -> None:
        self.sub_title = "Dashboard"
        if self.specs:
            self.query_one("#chart-0", BarChart).focus()
        # the reports start once the first frame (titles, "computing...") is on screen
        self.call_after_refresh(self._first_frame)

    def _first_frame(self) -> None:
        self.first_frame_at = time.perf_counter()  # benchmarks/bench_report.py reads it
        self.compute()

    def on_resize(self, event) -> None:
        self.set_class(event.size.width >= WIDE, "-wide")

    @work(thread=True, exclusive=True, group="dashboard")
    def compute(self) -> None:
        """Each report in turn, off the UI thread; a chart is filled in as soon as its report is done."""
        for index, spec in enumerate(list(self.specs)):
            try:
                report = self.crm.reports.run(spec)
            except CrmError as exc:
                self.app.call_from_thread(self._failed, index, str(exc))
                continue
            self.app.call_from_thread(self._show, index, report)

    def _chart(self, index: int) -> BarChart | None:
        found = self.query(f"#chart-{index}")
        return found.first(BarChart) if found else None

    def _show(self, index: int, report) -> None:
        chart = self._chart(index)
        if chart is None:
            return
        chart.show(report)
        caption = f"{report.measure_label} · total {_total(report)}"
        chart.parent.query_one(".card-caption", Static).update(caption)

    def _failed(self, index: int, message: str) -> None:
        chart = self._chart(index)
        if chart is not None:
            chart.failed(message)

    @on(BarChart.BarChosen)
    def _open_bar(self, event: BarChart.BarChosen) -> None:
        from screens.index import IndexScreen

        row = event.row
        if row.object not in self.crm.registry.objects:
            return
        self.app.push_screen(IndexScreen(row.object, filters=row.filters))

    def _focused_index(self) -> int | None:
        focused = self.focused
        if isinstance(focused, BarChart) and focused.id and focused.id.startswith("chart-"):
            return int(focused.id.split("-", 1)[1])
        return None

    def action_refresh(self) -> None:
        self.recompose_cards()

    def recompose_cards(self) -> None:
        self.specs = self.crm.reports.saved()
        cards = self.query_one("#cards", VerticalScroll)
        cards.remove_children()
        cards.mount_all([self._card(i, s) for i, s in enumerate(self.specs)])
        self.call_after_refresh(self._focus_first)
        self.compute()

    def _focus_first(self) -> None:
        if self.specs:
            self.query_one("#chart-0", BarChart).focus()

    def action_new_report(self) -> None:
        def saved(result) -> None:
            if result:
                self.notify(f"Saved report {result}", markup=False)
                self.recompose_cards()
        self.app.push_screen(NewReportModal(), saved)

    def action_delete_report(self) -> None:
        index = self._focused_index()
        if index is None or index >= len(self.specs):
            return
        spec = self.specs[index]
        if not spec.name:
            return
        try:
            self.crm.reports.delete(spec.name)
        except CrmError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.notify(f"Removed report {spec.name}", markup=False)
        self.recompose_cards()

    def action_back(self) -> None:
        self.app.pop_screen()


def _total(report) -> str:
    from widgets.bar_chart import value_text

    if report.measure_label.startswith(("Average", "Smallest", "Largest")):
        return f"{len(report.rows)} groups"
    return value_text(report.total)


class NewReportModal(AsksBeforeDiscard, ModalScreen):
    """A report from its parts: object, measure, one or two groupings, the chart. Saved on enter
    (the core checks it runs first); a mistake is one line under the form."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="new_report.cancel")]
    DEFAULT_CSS = """
    NewReportModal { align: center middle; }
    NewReportModal > Vertical { width: 72; height: auto; max-height: 100%; border: round $accent; padding: 0 1;
                                background: $surface; }
    NewReportModal Input, NewReportModal Select { margin: 0; }
    NewReportModal #problem { color: $error; height: auto; }
    NewReportModal .hint { color: $text-muted; height: auto; }
    """

    def compose(self) -> ComposeResult:
        crm = self.app.crm
        objects = [(m.plural_label, m.name) for m in crm.registry.objects.values() if not m.is_activity]
        objects.append(("Activities (all kinds)", "activities"))
        with Vertical():
            yield Static("New report", classes="card-title")
            yield TextInput(placeholder="Name (e.g. Contacts by industry)", id="name")
            yield Select(objects, value="contacts" if "contacts" in crm.registry.objects else objects[0][1],
                         allow_blank=False, id="object")
            yield TextInput(placeholder="Group by: property, createdate:month, @primary_company, companies.industry", id="group_by")
            yield TextInput(placeholder="Then by (optional, a pivot)", id="group_by2")
            yield TextInput(value="count", placeholder="Measure: count, sum:amount, avg:amount, min:..., max:...", id="measure")
            yield Select([(c, c) for c in CHARTS], value="bar", allow_blank=False, id="chart")
            yield Static("enter saves · escape cancels", classes="hint", markup=False)
            yield Static("", id="problem", markup=False)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    @on(Input.Submitted)
    def _save(self) -> None:
        value = lambda wid: self.query_one(f"#{wid}", Input).value.strip()  # noqa: E731
        spec = ReportSpec(object=str(self.query_one("#object", Select).value), group_by=value("group_by") or None,
                          group_by2=value("group_by2") or None, measure=value("measure") or "count",
                          name=value("name"), chart=str(self.query_one("#chart", Select).value))
        try:
            self.app.crm.reports.save(spec)
        except CrmError as exc:
            self.query_one("#problem", Static).update(clean_line(str(exc)))
            return
        self.dismiss(" ".join(spec.name.split()))

    def action_cancel(self) -> None:
        self.close_or_ask(None)
