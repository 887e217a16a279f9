"""The key bar at the bottom of the index and record screens: one widget that draws the keys.

Textual's Footer is a container of one FooterKey widget per key: the record screen's 15 keys are
15 widgets to compose, style, mount, lay out and draw, rebuilt on every binding update (focus,
stack, highlights, a screen covering it and uncovering it). That was a third of the time the
record screen took to open. KeysFooter draws the same line (the same keys, text, colours, theme
variables and component classes as Footer and FooterKey, the command-palette key kept at the
right) as one line of one widget, and redraws it only when the keys it would show change.
A click on a key presses it, as in Footer; the mouse wheel scrolls keys that do not fit.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import groupby

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.strip import Strip
from textual.widget import Widget


class KeysFooter(Widget, can_focus=False):
    ALLOW_SELECT = False
    COMPONENT_CLASSES = {
        "footer-key--key", "footer-key--description", "keys-footer--item", "keys-footer--hover", "keys-footer--separator", "keys-footer--label",
    }
    # The rules of Footer and FooterKey (textual/widgets/_footer.py), as component classes.
    DEFAULT_CSS = """
    KeysFooter {
        dock: bottom;
        height: 1;
        width: 1fr;
        text-wrap: nowrap;
        color: $footer-foreground;
        background: $footer-background;
        .keys-footer--item { background: $footer-item-background; }
        .footer-key--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .footer-key--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .keys-footer--hover { color: $footer-key-foreground; background: $block-hover-background; }
        .keys-footer--separator { color: $foreground 20%; }
        .keys-footer--label { color: $footer-description-foreground; background: $footer-description-background; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._keys: tuple = ()  # (key, key display, description, enabled, tooltip, grouped) of each key shown
        self._palette: tuple | None = None  # the command palette's key, drawn at the right
        self._labels: dict[int, str] = {}  # a group's description, after its last key
        self._hover: int | None = None
        self._scroll = 0  # keys scrolled off to the left by the mouse wheel

    _stale = True  # the keys are read when first drawn: by then the screen has set its focus

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if self.is_attached and screen is self.screen and self.app.app_focus:
            self._read_bindings()

    def _read_bindings(self) -> None:
        """The keys Footer.compose would show for the screen's active bindings."""
        app = self.app
        active = self.screen.active_bindings
        by_action: defaultdict[str, list] = defaultdict(list)
        for _node, binding, enabled, tooltip in active.values():
            if binding.show:
                by_action[binding.action].append((binding, enabled, tooltip))
        keys, labels = [], {}
        for group, members in groupby(by_action.values(), lambda multi: multi[0][0].group):
            members = list(members)
            grouped = group is not None and len(members) > 1
            for multi in members:
                binding, enabled, tooltip = multi[0]
                keys.append((binding.key, app.get_key_display(binding), "" if grouped else binding.description,
                             enabled, (tooltip or binding.description) if grouped else tooltip, grouped))
            if grouped:
                labels[len(keys) - 1] = group.description
        palette = None
        if app.ENABLE_COMMAND_PALETTE and app.COMMAND_PALETTE_BINDING in active:
            _node, binding, enabled, tooltip = active[app.COMMAND_PALETTE_BINDING]
            palette = (binding.key, app.get_key_display(binding), binding.description, enabled,
                       binding.tooltip or binding.description, False)
        self._stale = False
        if (tuple(keys), palette, labels) != (self._keys, self._palette, self._labels):
            self._keys, self._palette, self._labels = tuple(keys), palette, labels
            self._hover = None
            self._scroll = 0
            self.refresh()

    # -- drawing --------------------------------------------------------------------------------

    def _key_segments(self, index: int, key: tuple, compact: bool) -> list[Segment]:
        """One key as FooterKey.render draws it (compact: the command palette's key)."""
        _key, display, description, enabled, _tooltip, _grouped = key
        base = self.get_component_rich_style("keys-footer--hover" if index == self._hover else "keys-footer--item")
        if not enabled:
            base += Style(dim=True)
        meta = Style(meta={"footer_key": index})
        key_style = base + self.get_component_rich_style("footer-key--key") + meta
        if not description:
            return [Segment(display, key_style)]
        description_style = base + self.get_component_rich_style("footer-key--description") + meta
        if compact:
            return [Segment(display, key_style), Segment(f" {description}", description_style)]
        return [Segment(f" {display} ", key_style), Segment(f"{description} ", description_style)]

    def render_line(self, y: int) -> Strip:
        if self._stale:
            self._read_bindings()
        width = self.size.width
        segments: list[Segment] = []
        for index, key in enumerate(self._keys[self._scroll:], self._scroll):
            pad = [Segment(" ", self.get_component_rich_style("keys-footer--item"))] if key[5] else []
            segments += pad + self._key_segments(index, key, compact=False) + pad
            if index in self._labels:
                segments.append(Segment(self._labels[index] + " ", self.get_component_rich_style("keys-footer--label")))
        blank = Style.from_color(bgcolor=self.rich_style.bgcolor)
        if self._palette is None:
            return Strip(segments).crop_extend(0, width, blank)
        # the command palette's key: docked right, a vkey border on its left, padding 0 1 0 0
        palette = [Segment("▏", self.get_component_rich_style("keys-footer--separator")),
                   *self._key_segments(len(self._keys), self._palette, compact=True),
                   Segment(" ", Style.from_color(bgcolor=self.get_component_rich_style("keys-footer--item").bgcolor))]
        right = Strip(palette)
        left = Strip(segments).crop_extend(0, max(0, width - right.cell_length), blank)
        return Strip.join([left, right]).crop(0, width)

    # -- mouse ----------------------------------------------------------------------------------

    def _key_at(self, event) -> tuple[int, tuple] | None:
        index = event.style.meta.get("footer_key") if event.style else None
        if index is None:
            return None
        return index, (self._palette if index == len(self._keys) else self._keys[index])

    def on_mouse_down(self, event: events.MouseDown) -> None:
        found = self._key_at(event)
        if found is None:
            return
        _index, key = found
        if key[3]:
            self.app.simulate_key(key[0])
        else:
            self.app.bell()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        found = self._key_at(event)
        hover = found[0] if found else None
        self.tooltip = (found[1][4] or None) if found else None
        if hover != self._hover:
            self._hover = hover
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hover is not None:
            self._hover = None
            self.refresh()

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        if self._scroll < len(self._keys) - 1:
            self._scroll += 1
            self.refresh()
            event.stop()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if self._scroll:
            self._scroll -= 1
            self.refresh()
            event.stop()
