"""The one text input of the app: every field, picker, search box and modal input is a TextInput.

Keys typed ahead (several arriving in one read, as over a slow SSH link) act in turn. Left to
Textual, an editing key of the input's own (ctrl+u, backspace, delete, arrows, home/end ...) runs as
a binding after the printable keys queued behind it are inserted: "ctrl+u" typed together with new
text cleared the new text. Here such a key runs at once, in its turn.
"""

from __future__ import annotations

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
