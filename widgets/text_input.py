"""The one text input of the app: every field, picker, search box and modal input is a TextInput.

Keys typed ahead (several arriving in one read, as over a slow SSH link) act in turn. Left to
Textual, an editing key of the input's own (ctrl+u, backspace, delete, arrows, home/end ...) runs as
a binding after the printable keys queued behind it are inserted: "ctrl+u" typed together with new
text cleared the new text. Here such a key runs at once, in its turn.

Text pasted with line breaks keeps every line, joined by spaces (Textual keeps the first line and
drops the rest without a word); a multi-line property has its own text area.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class TextInput(Input):
    """An Input whose own editing keys act in the order they were typed."""

    async def _run_editing_key(self, event) -> bool:
        """Run the input's own binding of a non-printable key now; True when it did."""
        if event.is_printable or event.key == "enter":
            return False
        bindings = self._bindings.key_to_bindings.get(event.key)
        if not bindings:
            return False
        event.stop()
        event.prevent_default()
        await self.run_action(bindings[0].action)
        return True

    async def _on_key(self, event) -> None:
        if await self._run_editing_key(event):
            return
        await super()._on_key(event)

    def _on_paste(self, event: events.Paste) -> None:
        # Textual runs Input's own handler after this one unless the default is prevented
        if event.text and ("\n" in event.text or "\r" in event.text):
            event.prevent_default()
            joined = " ".join(line.strip() for line in event.text.splitlines() if line.strip())
            super()._on_paste(events.Paste(joined))
            event.stop()
