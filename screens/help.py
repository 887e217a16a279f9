"""`?` help: the keys of the screen underneath, read from its live bindings (so a remapped key
shows as remapped), and a short how-to."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

GENERAL = (
    "j/k or arrows move · g/G top/bottom · enter opens · escape goes back · / searches\n"
    "ctrl+p or : opens the command palette: every action is there by name\n"
    "Keys can be remapped by binding id in the config file (crm-tui config path)."
)


class HelpScreen(ModalScreen):
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
        Binding("j,down", "scroll_down", "Down", show=False, id="help.down"),
        Binding("k,up", "scroll_up", "Up", show=False, id="help.up"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: 90%; border: round $primary; background: $panel; padding: 0 1;
    }
    """

    def __init__(self, target):
        super().__init__()
        self.target = target

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.render_help(), id="help-text")

    def rows(self) -> list[tuple[str, str, str]]:
        """(keys, description, binding id) for every binding active on the target screen."""
        out: dict[str, tuple[str, str, str]] = {}
        for key, active in self.target.active_bindings.items():
            binding = active.binding
            if not binding.description:
                continue
            name = binding.id or binding.action
            display = self.app.get_key_display(binding)
            if name in out:
                keys, desc, bid = out[name]
                if display not in keys.split(" / "):
                    out[name] = (f"{keys} / {display}", desc, bid)
            else:
                out[name] = (display, binding.description, binding.id or "")
        return sorted(out.values(), key=lambda row: row[1].lower())

    def render_help(self) -> Text:
        text = Text()
        title = getattr(self.target, "HELP_TITLE", None) or type(self.target).__name__.replace("Screen", " screen")
        text.append(f"{title}\n\n", style="bold")
        how_to = getattr(self.target, "HELP", None)
        if how_to:
            text.append(" ".join(how_to.split()) + "\n")  # one paragraph: it wraps to any width
            text.append("(keys as shipped; the list below shows the keys in effect)\n\n", style="dim")
        rows = self.rows()
        width = max((len(keys) for keys, _d, _i in rows), default=4)
        for keys, description, binding_id in rows:
            text.append(f"{keys:<{width}}  ", style="bold")
            text.append(description)
            if binding_id:
                text.append(f"  ({binding_id})", style="dim")
            text.append("\n")
        text.append("\n" + GENERAL, style="dim")
        return text

    def action_scroll_down(self) -> None:
        self.query_one(VerticalScroll).scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one(VerticalScroll).scroll_up()
