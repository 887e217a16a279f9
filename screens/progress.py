"""A modal that runs long work in a thread worker with a progress bar, rate, time left and cancel."""

from __future__ import annotations

import threading
import time
from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import ProgressBar, Static

from crm_tui.services.core import user_error_message

# work(progress(done, total), cancel_event) -> result
Work = Callable[[Callable[[int, int], None], threading.Event], object]


class ProgressModal(ModalScreen[object]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="progress.cancel")]
    DEFAULT_CSS = """
    ProgressModal { align: center middle; }
    ProgressModal > Vertical { width: 64; max-width: 100%; height: auto; border: round $primary;
                               background: $panel; padding: 1 2; }
    ProgressModal #progress-status { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, title: str, work: Work, *, cancellable: bool = True):
        super().__init__()
        self.title_text = title
        self.work = work
        self.cancellable = cancellable  # False: one operation that runs to its end (escape says so)
        self.cancel_event = threading.Event()
        self.started = time.monotonic()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text), id="progress-title")
            yield ProgressBar(total=None, show_eta=False, id="progress-bar")
            yield Static(Text("starting ..." + (" (escape cancels)" if self.cancellable else "")), id="progress-status")

    def on_mount(self) -> None:
        self.run_worker(self._run, thread=True, exclusive=True)

    def _run(self) -> None:
        try:
            result = self.work(self._progress, self.cancel_event)
        except Exception as exc:  # shown as one line; the core rolled back what was not committed
            message = user_error_message(exc, getattr(self.app, "db_path", ""))
            if message is None:
                raise
            self.app.call_from_thread(self.app.notify, message, severity="error", markup=False)
            self.app.call_from_thread(self.dismiss, None)
            return
        self.app.call_from_thread(self.dismiss, result)

    def _progress(self, done: int, total: int) -> None:
        self.app.call_from_thread(self._show, done, total)

    def _show(self, done: int, total: int) -> None:
        bar = self.query_one(ProgressBar)
        bar.update(total=max(total, 1), progress=done)
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        left = (total - done) / rate if rate > 0 else 0
        self.query_one("#progress-status", Static).update(
            Text(f"{done:,} of {total:,} · {rate:,.0f}/s · {left:,.0f} s left" + (" · escape cancels" if self.cancellable else "")))

    def action_cancel(self) -> None:
        if not self.cancellable:
            self.query_one("#progress-status", Static).update(
                Text("this runs as one operation to its end; undo takes it back afterwards"))
            return
        self.cancel_event.set()
        self.query_one("#progress-status", Static).update(Text("cancelling after this batch ..."))
