"""Ticked and unticked boxes differ by their text, not only by colour (NO_COLOR, 16 colours)."""

from textual.app import App, ComposeResult

from widgets.tick_list import TickList


class Ticks(App):
    def compose(self) -> ComposeResult:
        yield TickList(("Acme", 1), ("Beta", 2, True))


async def test_only_ticked_boxes_show_an_x(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = Ticks()
    async with app.run_test(size=(30, 5)) as pilot:
        await pilot.pause()
        ticks = app.query_one(TickList)
        lines = [ticks.render_line(y).text for y in range(2)]
        assert "X" not in lines[0] and "Acme" in lines[0]
        assert "X" in lines[1] and "Beta" in lines[1]
        ticks.select(1)
        await pilot.pause()
        assert "X" in ticks.render_line(0).text
