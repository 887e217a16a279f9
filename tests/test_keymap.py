"""The keymap setting remaps bindings by id, through Textual's own keymap."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Label

from crm_tui.shell.keymap import apply_keymap, binding_ids, is_valid_key


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


class DemoScreen(Screen[None]):
    BINDINGS = [Binding("w", "wave", "Wave", id="demo_screen.wave")]

    def __init__(self) -> None:
        super().__init__()
        self.waves = 0

    def compose(self) -> ComposeResult:
        yield Label("demo")
        yield Footer()

    def action_wave(self) -> None:
        self.waves += 1


class DemoApp(App[None]):
    BINDINGS = [Binding("h", "hello", "Hello", id="demo.hello")]

    def __init__(self) -> None:
        super().__init__()
        self.hellos = 0

    def on_mount(self) -> None:
        self.push_screen(DemoScreen())

    def action_hello(self) -> None:
        self.hellos += 1


async def test_remapped_key_runs_the_action_and_the_old_key_does_not() -> None:
    app = DemoApp()
    assert apply_keymap(app, {"demo.hello": "x"}) == []
    async with app.run_test() as pilot:
        await pilot.press("x")
        assert app.hellos == 1
        await pilot.press("h")
        assert app.hellos == 1
        assert "x" in app.active_bindings and "h" not in app.active_bindings


async def test_keymap_applies_to_screens_after_start_and_takes_several_keys() -> None:
    app = DemoApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DemoScreen)
        warnings = apply_keymap(app, {"demo_screen.wave": "ctrl+w, question_mark"})
        assert warnings == []
        await pilot.press("w")
        assert screen.waves == 0
        await pilot.press("ctrl+w", "question_mark")
        assert screen.waves == 2
        await pilot.press("h")  # bindings not in the keymap keep their keys
        assert app.hellos == 1


async def test_unknown_ids_and_bad_keys_are_warned_and_skipped() -> None:
    app = DemoApp()
    warnings = apply_keymap(
        app,
        {"demo.helo": "x", "demo.hello": "ctrl+plonk", "demo_screen.wave": "e"},
    )
    assert warnings == [
        "keymap: no binding has the id 'demo.helo' (ignored)",
        "keymap: demo.hello: 'ctrl+plonk' is not a key Textual knows "
        "(examples: ctrl+n, f2, question_mark) (ignored)",
    ]
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("h", "e")
        assert app.hellos == 1  # the bad entry left the default key in place
        assert app.screen.waves == 1


def test_binding_ids_are_found_on_the_app_and_loaded_screens() -> None:
    ids = binding_ids(DemoApp())
    assert {"demo.hello", "demo_screen.wave"} <= ids
    assert apply_keymap(DemoApp(), {"x": "y"}, known_ids={"x"}) == []


def test_a_keymap_may_name_the_bindings_of_every_screen() -> None:
    """Screens are imported when first opened; a keymap's names are checked against all of them,
    the screens added late too (workflows, data model, duplicates, dashboard)."""
    ids = binding_ids(DemoApp())
    assert {"workflows.enable", "workflows.dry_run", "index.new_record", "tasks.done"} <= ids
    import screens

    for name in screens.screen_modules():
        module = __import__(f"screens.{name}", fromlist=["_"])
        for value in vars(module).values():
            for binding in getattr(value, "BINDINGS", []) if isinstance(value, type) else []:
                if getattr(binding, "id", None):
                    assert binding.id in ids, (name, binding.id)


@pytest.mark.parametrize(
    "key", ["x", "G", "?", "ctrl+n", "shift+f5", "escape", "question_mark", "slash", "comma"]
)
def test_valid_keys(key: str) -> None:
    assert is_valid_key(key)


@pytest.mark.parametrize("key", ["", "ctr+n", "ctrl+", "f25", "plonk", "\x1b"])
def test_invalid_keys(key: str) -> None:
    assert not is_valid_key(key)


def test_a_remap_onto_a_used_key_is_reported(tmp_path):
    from crm_tui.shell.app import CrmApp
    from crm_tui.services.core import Crm
    from crm_tui.shell.keymap import apply_keymap
    import screens  # noqa: F401  (every screen's bindings)

    Crm.open(tmp_path / "k.db").close()
    app = CrmApp(tmp_path / "k.db")
    warnings = apply_keymap(app, {"index.new_record": "f"})
    assert any("index.new_record takes 'f' from index.filter" in w and "no key" in w for w in warnings)
    assert apply_keymap(app, {"index.new_record": "ctrl+n"}) == []
