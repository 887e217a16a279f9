"""Themes: shipped ones load and apply, user themes are added, broken ones are skipped."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from rich.color import STANDARD_PALETTE
from rich.color import Color as RichColor
from rich.color import ColorSystem as RichColorSystem
from textual.app import App, ComposeResult
from textual.color import Color
from textual.theme import Theme
from textual.widgets import Label

from crm_tui.storage import paths
from crm_tui.shell.theming import SHIPPED_THEME_NAMES, app_css_path, apply_theme, load_themes, register_themes


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def write_user_theme(file_name: str, text: str) -> Path:
    folder = paths.user_themes_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


class ThemedApp(App[None]):
    CSS_PATH = app_css_path()

    def compose(self) -> ComposeResult:
        yield Label("Acme Ltd", classes="heading")
        yield Label("3 contacts", classes="muted")
        yield Label("Associations", classes="side-panel")


def make_app(themes: list[Theme]) -> ThemedApp:
    app = ThemedApp()
    register_themes(app, themes)
    return app


async def test_shipped_themes_load_register_and_apply() -> None:
    themes, warnings = load_themes()
    assert warnings == []
    assert [theme.name for theme in themes] == sorted(SHIPPED_THEME_NAMES)
    app = make_app(themes)
    async with app.run_test() as pilot:
        for name in SHIPPED_THEME_NAMES:
            assert apply_theme(app, name) == []
            await pilot.pause()
            theme = app.current_theme
            assert theme.name == name
            # The shared app.tcss is styled from theme variables.
            assert app.screen.styles.background == Color.parse(theme.background)
            assert app.query_one(".side-panel").styles.background == Color.parse(theme.panel)
        assert app.query_one(".heading").styles.color == Color.parse("#FFFF55")


async def test_unknown_theme_name_falls_back_to_dark() -> None:
    app = make_app(load_themes()[0])
    async with app.run_test():
        warnings = apply_theme(app, "solarised")
        assert app.theme == "dark"
        assert len(warnings) == 1 and "'solarised' not found" in warnings[0]


async def test_broken_user_themes_warn_and_are_skipped() -> None:
    broken = {
        "bad-yaml.yaml": 'name: bad-yaml\nprimary: ["#ff0000"\n',
        "no-primary.yaml": "name: no-primary\ndark: true\n",
        "no-name.yaml": 'primary: "#ff0000"\n',
        "bad-colour.yaml": 'name: bad-colour\nprimary: "not a colour"\n',
        "unquoted.yaml": "name: unquoted\nprimary: #ff0000\n",
        "bad-variable.yaml": 'name: bad-variable\nprimary: "#ff0000"\nvariables:\n  text: "very pink"\n',
        "bad-dark.yaml": 'name: bad-dark\nprimary: "#ff0000"\ndark: sometimes\n',
        "list.yaml": "- name\n- primary\n",
    }
    files = [write_user_theme(name, text) for name, text in broken.items()]
    write_user_theme("notes.txt", "not a theme")

    themes, warnings = load_themes()
    assert [theme.name for theme in themes] == sorted(SHIPPED_THEME_NAMES)
    assert len(warnings) == len(broken)
    for file, warning in zip(sorted(files), warnings):
        assert warning.startswith(f"{file}") and warning.endswith("theme skipped")
        assert "\n" not in warning
    assert any(":2: not valid YAML" in warning for warning in warnings)
    assert any("quote colours" in warning for warning in warnings)

    # The app still starts, and a config naming a broken theme gets the default.
    app = make_app(themes)
    async with app.run_test():
        assert apply_theme(app, "bad-colour") != []
        assert app.theme == "dark"


async def test_user_theme_is_added_and_can_replace_a_shipped_one() -> None:
    write_user_theme(
        "mine.yaml",
        """\
        name: mine
        dark: false
        primary: "#AA0000"
        background: "#FFFFFF"
        panel: "#EEEEEE"
        sparkle: true
        variables:
          footer-key-foreground: "#AA0000"
          input-selection-background: "#AA0000 30%"
          block-cursor-text-style: "b reverse"
        """,
    )
    write_user_theme("dark.yaml", 'name: dark\nprimary: "#123456"\n')

    themes, warnings = load_themes()
    by_name = {theme.name: theme for theme in themes}
    assert len(by_name) == len(themes)
    assert set(by_name) == {*SHIPPED_THEME_NAMES, "mine"}
    assert by_name["dark"].primary == "#123456"
    assert len(warnings) == 1 and "unknown key 'sparkle' (ignored)" in warnings[0]

    app = make_app(themes)
    async with app.run_test() as pilot:
        assert apply_theme(app, "mine") == []
        await pilot.pause()
        assert app.current_theme.dark is False
        assert app.screen.styles.background == Color.parse("#FFFFFF")
        assert app.query_one(".side-panel").styles.background == Color.parse("#EEEEEE")


# --- legibility -----------------------------------------------------------------------

TEXT_PAIRS = [
    ("foreground", "background"),
    ("text", "background"),
    ("text-muted", "background"),
    ("text", "surface"),
    ("text", "panel"),
    ("footer-key-foreground", "footer-background"),
    ("footer-description-foreground", "footer-background"),
    ("block-cursor-foreground", "block-cursor-background"),
    ("input-cursor-foreground", "input-cursor-background"),
    ("input-selection-foreground", "input-selection-background"),
]
SIXTEEN_COLOUR_TEXT_PAIRS = TEXT_PAIRS + [
    ("block-cursor-blurred-foreground", "block-cursor-blurred-background"),
    ("text-primary", "background"),
    ("text-secondary", "background"),
    ("text-accent", "background"),
    ("text-success", "background"),
    ("text-warning", "background"),
    ("text-error", "background"),
    ("link-color", "background"),
    ("button-color-foreground", "primary"),
    ("text", "primary-muted"),
    ("text", "surface-active"),
]
SIXTEEN_COLOUR_SHAPE_PAIRS = [
    ("border", "background"),
    ("border-blurred", "background"),
    ("scrollbar", "scrollbar-background"),
]


def resolve(value: str, underneath: Color) -> Color:
    """A CSS colour value as it looks over `underneath` ("auto 87%", "#fff 30%", ...)."""
    colour, _, percent = value.partition(" ")
    alpha = float(percent.rstrip("%")) / 100 if percent else 1.0
    if colour == "auto":
        found = underneath.get_contrast_text(alpha)
    else:
        found = Color.parse(colour).multiply_alpha(alpha)
    return underneath + found if found.a < 1 else found


def contrast(first: tuple[int, int, int], second: tuple[int, int, int]) -> float:
    """WCAG contrast ratio, 1 (none) to 21 (black on white)."""

    def luminance(rgb: tuple[int, int, int]) -> float:
        channels = [c / 255 for c in rgb]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def as_sixteen_colours(colour: Color) -> tuple[int, int, int]:
    """What a 16-colour terminal shows (TEXTUAL_COLOR_SYSTEM=standard): Rich's downgrade."""
    number = RichColor.from_rgb(*colour.rgb).downgrade(RichColorSystem.STANDARD).number
    return tuple(STANDARD_PALETTE[number])


def theme_pairs(theme: Theme, pairs: list[tuple[str, str]]):
    variables = {**theme.to_color_system().generate(), **theme.variables}
    base = Color(0, 0, 0) if theme.dark else Color(255, 255, 255)
    for foreground, background in pairs:
        under = resolve(variables[background], base)
        yield foreground, background, resolve(variables[foreground], under), under


@pytest.mark.parametrize("name", SHIPPED_THEME_NAMES)
def test_shipped_themes_text_is_legible(name: str) -> None:
    theme = {theme.name: theme for theme in load_themes()[0]}[name]
    for foreground, background, fg, bg in theme_pairs(theme, TEXT_PAIRS):
        assert contrast(fg.rgb, bg.rgb) >= 4.5, (foreground, background)


def test_high_contrast_stays_legible_in_sixteen_colours() -> None:
    theme = {theme.name: theme for theme in load_themes()[0]}["high-contrast"]
    for foreground, background, fg, bg in theme_pairs(theme, SIXTEEN_COLOUR_TEXT_PAIRS):
        assert contrast(as_sixteen_colours(fg), as_sixteen_colours(bg)) >= 4.5, (foreground, background)
    for foreground, background, fg, bg in theme_pairs(theme, SIXTEEN_COLOUR_SHAPE_PAIRS):
        assert contrast(as_sixteen_colours(fg), as_sixteen_colours(bg)) >= 3, (foreground, background)
