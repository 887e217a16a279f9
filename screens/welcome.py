"""First run: on an empty database the app explains itself instead of showing empty tables."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

WELCOME = """crm-tui keeps contacts, companies, deals, tickets and your own objects in one local file,
linked by labelled associations, with the history of every change.

  n   create your first record (a contact)
  i   import a CSV or vCard file (HubSpot exports work as they are)
  d   open the demo database to look around (your file stays empty)
  esc start with the empty database

Everywhere: ? shows the keys of the screen, ctrl+p finds any action by name."""


class WelcomeScreen(ModalScreen[str]):
    HELP_TITLE = "Welcome"
    BINDINGS = [
        Binding("n", "choose('new')", "New record", id="welcome.new_record"),
        Binding("i", "choose('import')", "Import a file", id="welcome.import"),
        Binding("d", "choose('demo')", "Open the demo", id="welcome.demo"),
        Binding("escape", "choose('close')", "Start empty", id="welcome.close"),
    ]
    DEFAULT_CSS = """
    WelcomeScreen { align: center middle; }
    WelcomeScreen > Vertical { width: 80; max-width: 100%; height: auto; border: round $primary;
                                background: $panel; padding: 1 2; }
    WelcomeScreen #welcome-title { text-style: bold; color: $text-primary; margin-bottom: 1; }
    """

    def __init__(self, db_path: str):
        super().__init__()
        self.db_path = db_path

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Welcome to crm-tui: {self.db_path} is empty"), id="welcome-title")
            yield Static(Text(WELCOME), id="welcome-text")
        yield Footer()

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
