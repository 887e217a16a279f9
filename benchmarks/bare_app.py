"""The baseline of `app_first_paint`: a bare Textual app (Header, Static, Footer), launched the
way `crm-tui` is launched (a Python script in a pseudo-terminal). bench_app.py times it until the
frame that shows the Static's text is written."""

from textual.app import App
from textual.widgets import Footer, Header, Static


class BareApp(App):
    def compose(self):
        yield Header()
        yield Static("bare app ready")
        yield Footer()


if __name__ == "__main__":
    BareApp().run()
