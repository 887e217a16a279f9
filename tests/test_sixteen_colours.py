"""The main screens at 80x24 as a 16-colour terminal receives them.

Textual's SVG screenshots are always truecolor, so these snapshots render the screen through a Rich
console limited to the 16 standard colours and keep the text, each run tagged «fg/bg» with its
16-colour palette numbers, under tests/snapshots_16/
(regenerate with CRM_TUI_UPDATE_SNAPSHOTS=1 and look at the diff). Each screen must also stay
readable: no text cell may end up with the same colour as its background.
"""

import io
import os
import re
from pathlib import Path

import pytest
from rich.color import ColorSystem
from rich.console import Console

from crm_tui.shell.app import CrmApp

SNAPSHOTS = Path(__file__).parent / "snapshots_16"
SIZE = (80, 24)


def render_standard(app) -> tuple[str, list]:
    """The screen as text runs tagged with their 16-colour foreground/background and attributes.

    Rich caches a style's ANSI codes on the Style object whatever the colour system, so its own
    ANSI output depends on what rendered that style first; the tags are computed here instead.
    """
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens, simplify=True)
    console = Console(width=SIZE[0], height=SIZE[1], file=io.StringIO(), force_terminal=True,
                      color_system="standard", record=True, legacy_windows=False)
    console.print(update)
    segments = list(console._record_buffer)
    lines, current, last_tag = [], [], None
    for segment in segments:
        if segment.control:
            if current:
                lines.append("".join(current))
            current, last_tag = [], None
            continue
        tag = style_tag(segment.style)
        if tag != last_tag:
            current.append(f"«{tag}»")
            last_tag = tag
        current.append(segment.text)
    if current:
        lines.append("".join(current))
    return "\n".join(lines) + "\n", segments


def style_tag(style) -> str:
    if style is None:
        return "-"

    def number(color):
        if color is None:
            return "."
        downgraded = color.downgrade(ColorSystem.STANDARD)
        return str(downgraded.number) if downgraded.number is not None else "d"

    flags = "".join(f for f, on in (("b", style.bold), ("i", style.italic), ("u", style.underline),
                                    ("r", style.reverse), ("d", style.dim)) if on)
    return f"{number(style.color)}/{number(style.bgcolor)}{flags}"


def _footer_drawn(text: str) -> bool:
    """The bottom line (the footer) shows some key: an empty footer is a screen still being drawn."""
    lines = [line for line in text.splitlines() if line.strip()]
    return bool(lines) and bool(re.sub(r"«[^»]*»", "", lines[-1]).strip())


async def settled(pilot, app) -> tuple[str, list]:
    """Render until two renders in a row agree: a loaded machine may still be drawing the footer."""
    previous = None
    for _ in range(30):
        await pilot.pause(0.1)
        text, segments = render_standard(app)
        if text == previous and _footer_drawn(text):
            return text, segments
        previous = text
    return text, segments


def unreadable_cells(segments) -> list[str]:
    bad = []
    for segment in segments:
        style, text = segment.style, segment.text
        # box-drawing and block characters are decoration (borders, the footer's separator)
        text = "".join(ch for ch in text if not 0x2500 <= ord(ch) <= 0x259F)
        if style is None or not text.strip() or segment.control:
            continue
        fg, bg = style.color, style.bgcolor
        if fg is None or bg is None or style.reverse:
            continue
        fg16, bg16 = fg.downgrade(ColorSystem.STANDARD), bg.downgrade(ColorSystem.STANDARD)
        if fg16.number is not None and fg16.number == bg16.number:
            bad.append(text.strip())
    return bad


def mask_times(text: str) -> str:
    """History rows carry the time the test database was built: keep their place, not their value."""
    return re.sub(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?", lambda m: "#" * len(m.group(0)), text)


def check_snapshot(name: str, text: str) -> None:
    text = mask_times(text)
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("CRM_TUI_UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not os.environ.get("CRM_TUI_UPDATE_SNAPSHOTS"):
            pytest.fail(f"{path.name} was missing and has been written; check it and run again")
    assert text == path.read_text(encoding="utf-8"), f"{name}: the 16-colour rendering changed"


SCREENS = {
    "index": [],
    "record": ["enter"],
    "assoc_history": ["enter", "H"],
    "help": ["question_mark"],
    "dashboard": ["D"],
}


@pytest.mark.parametrize("theme", ["dark", "high-contrast"])
@pytest.mark.parametrize("screen", list(SCREENS))
async def test_main_screens_in_16_colours(demo_db, screen, theme, monkeypatch):
    monkeypatch.setenv("TEXTUAL_COLOR_SYSTEM", "standard")
    app = CrmApp(demo_db)
    async with app.run_test(size=SIZE) as pilot:
        app.theme = theme
        await pilot.pause()
        for key in SCREENS[screen]:
            await pilot.press(key)
            await pilot.pause(0.2)
        text, segments = await settled(pilot, app)
    assert unreadable_cells(segments) == []
    check_snapshot(f"{screen}-{theme}", text)


async def test_board_in_16_colours(demo_db, monkeypatch):
    monkeypatch.setenv("TEXTUAL_COLOR_SYSTEM", "standard")
    app = CrmApp(demo_db)
    async with app.run_test(size=SIZE) as pilot:
        app.theme = "high-contrast"
        await pilot.pause()
        app.open_board("deals")
        text, segments = await settled(pilot, app)
    assert unreadable_cells(segments) == []
    check_snapshot("board-high-contrast", text)


async def test_no_color_is_honoured(demo_db, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = CrmApp(demo_db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.no_color
        assert any(type(f).__name__ in ("Monochrome", "NoColor") for f in app._filters)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "RecordScreen"
