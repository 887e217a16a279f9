"""A Footer that is built once for a screen and again only when the keys it shows change.

Textual's Footer recomposes (every key a new widget, restyled, laid out: ~40 ms here) on every
binding update, and a screen publishes several while it opens (focus, stack, highlights); a screen
covered by another one publishes one more when it is suspended and when it resumes, with the very
same keys.
"""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class CoalescedFooter(Footer):
    """A Footer that recomposes once for a burst of binding updates (opening the screen publishes
    several: focus, stack, highlights), instead of once per update (each costs ~40 ms), and not at
    all when the keys it would show are the ones it shows.

    `keys_now=True`: build the keys when the footer is composed, for a footer mounted once its
    screen's focus is set (a plain Footer composes empty and builds its keys after the first frame:
    a recompose, a layout and two frames more)."""

    _recompose_pending = False

    def __init__(self, *args, keys_now: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if keys_now:
            self._bindings_ready = True

    def bindings_changed(self, screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._recompose_pending:
            self._recompose_pending = True
            self.call_after_refresh(self._recompose_now)

    _composed: tuple | None = None  # what the keys on show were made from

    def _shown(self) -> tuple:
        """Everything Footer.compose reads from the bindings, for the keys it shows."""
        return tuple((binding.key, binding.action, binding.description, binding.group, binding.show, enabled,
                      tooltip, self.app.get_key_display(binding))
                     for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
                     if binding.show or binding.action == "command_palette")

    async def _recompose_now(self) -> None:
        self._recompose_pending = False
        if not self.is_attached:
            return
        shown = self._shown()
        if shown == self._composed:  # the same keys again (focus moved within the same bindings)
            return
        await self.recompose()

    def compose(self):
        if self._bindings_ready:
            self._composed = self._shown()
        # Footer binds each key's `compact` to its own, and the binding sets it once more after the
        # key mounts: each set restyles the key (two restyles per key, ~5 ms each on these
        # machines). The footer's `compact` never changes here, so each key simply starts with it.
        for widget in super().compose():
            for key in (widget, *widget._pending_children) if isinstance(widget, Widget) else ():
                if isinstance(key, FooterKey) and "compact" in (key._reactive_connect or {}):
                    key._reactive_connect = None
                    key.set_reactive(FooterKey.compact, self.compact)
            yield widget
