"""One report drawn as a chart that the keyboard can walk: one line per group with its label, a bar
and its value written out (readable in 16 colours and with NO_COLOR: the value is text, the bar is
block characters, not colour). j/k or the arrows move between bars; enter posts `BarChosen` with
the group's report row, whose filters open the index on those records.

    bar     groups largest first (or in their property's order), bars from the left
    funnel  a pipeline's stages in order, bars centred: the narrowing reads as a funnel
    line    a time series: a sparkline of the whole series above one line per period

Drawn here rather than with a plotting library: a plot is a picture, where a dashboard has to let
the keyboard choose one bar and open its records, and label every value in words for a terminal
without colour. Rendering is plain text, so the chart costs no start-up time.
"""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from crm_tui.services.reports import Report, ReportRow
from crm_tui.domain.sanitize import clean_line
from crm_tui.domain.types import format_number

EIGHTHS = " ▏▎▍▌▋▊▉█"
SPARKS = "▁▂▃▄▅▆▇█"


def value_text(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return format_number(round(value, 2))


def bar(fraction: float, width: int) -> str:
    """A bar of `width` cells filled to `fraction`, in eighths of a cell."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (EIGHTHS[part] if part else "")
    if not text and fraction > 0:
        text = "▏"  # a group greater than zero always shows
    return text


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(SPARKS[min(7, int((v - low) / span * 7.999))] for v in values)


class BarChart(OptionList):
    class BarChosen(Message):
        def __init__(self, chart: "BarChart", row: ReportRow) -> None:
            super().__init__()
            self.chart = chart
            self.row = row

    DEFAULT_CSS = """
    BarChart { height: auto; max-height: 16; border: none; padding: 0; }
    BarChart:focus { border: none; }
    BarChart > .option-list--option-highlighted { text-style: bold reverse; }
    """

    def __init__(self, chart: str = "bar", **kwargs) -> None:
        super().__init__(markup=False, **kwargs)
        self.chart = chart
        self.report: Report | None = None
        self._drawn_width = 0

    def waiting(self, text: str = "computing…") -> None:
        self.set_options([Option(Text(text, style="dim"), disabled=True)])

    def failed(self, text: str) -> None:
        self.set_options([Option(Text(clean_line(text), style="italic"), disabled=True)])

    def show(self, report: Report) -> None:
        self.report = report
        self._draw()

    def on_resize(self) -> None:
        if self.report is not None and self.scrollable_content_region.width != self._drawn_width:
            self._draw()

    def _draw(self) -> None:
        report = self.report
        width = self.scrollable_content_region.width or 76
        self._drawn_width = width
        rows = report.rows
        if not rows:
            self.set_options([Option(Text("no records", style="dim"), disabled=True)])
            return
        labels = [clean_line(r.group if r.group2 is None else f"{r.group} · {r.group2}") for r in rows]
        values = [value_text(r.value) for r in rows]
        label_w = min(max(len(s) for s in labels), max(8, width // 3))
        value_w = max(len(v) for v in values)
        bar_w = max(4, width - label_w - value_w - 3)
        top = max((r.value for r in rows), default=0) or 1.0
        options = []
        if self.chart == "line" and len(rows) > 1:
            line = sparkline([r.value for r in rows])
            if len(line) > width - 2:
                line = line[-(width - 2):]  # the newest periods
            options.append(Option(Text(line, style="bold"), disabled=True))
        for index, (row, label, value) in enumerate(zip(rows, labels, values)):
            shown = label if len(label) <= label_w else label[: label_w - 1] + "…"
            drawn = bar(row.value / top if top > 0 else 0, bar_w)
            if self.chart == "funnel":
                pad = (bar_w - len(drawn)) // 2
                drawn = " " * pad + drawn + " " * (bar_w - pad - len(drawn))
            prompt = Content.assemble(shown.ljust(label_w) + " ", (drawn.ljust(bar_w), "$primary"),
                                      " " + value.rjust(value_w))
            options.append(Option(prompt, id=str(index)))
        keep = self.highlighted
        self.set_options(options)
        if keep is not None and keep < self.option_count:
            self.highlighted = keep

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.report is not None and event.option.id is not None:
            self.post_message(self.BarChosen(self, self.report.rows[int(event.option.id)]))
