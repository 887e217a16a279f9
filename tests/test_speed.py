"""What keeps the app's start and the record screen quick (issue 14 item 5). Each test fails when the
protection it names is removed; the figures themselves are in benchmarks/ (bench_app, bench_record).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

from textual.css.stylesheet import Stylesheet

from crm_tui.shell.app import CrmApp
from crm_tui.services.core import Crm

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, tmp_path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def big_record(db_path) -> int:
    """A contact with 30 companies, 30 other contacts and 60 notes: its timeline and sidebar both
    scroll at 120x40."""
    with Crm.open(db_path) as crm:
        contact = crm.records.create("contacts", {"email": "ann@example.com", "firstname": "Ann"}).id
        for i in range(30):
            company = crm.records.create("companies", {"name": f"Co {i}", "domain": f"co{i}.example"}).id
            crm.assoc.add(("contacts", contact), ("companies", company))
            peer = crm.records.create("contacts", {"email": f"peer{i}@example.org"}).id
            crm.assoc.add(("contacts", contact), ("contacts", peer))
        for i in range(60):
            crm.activities.log(("contacts", contact), "notes", {"hs_note_body": f"note {i}"})
    return contact


# -- the start ----------------------------------------------------------------------------------


def test_a_plain_launch_does_not_build_the_parser(tmp_path):
    code = (
        "import json, sys\n"
        "import crm_tui.cli.main as cli\n"
        "seen = []\n"
        "cli._run_app = lambda args: seen.append((getattr(args, 'db', None), args.demo)) or 0\n"
        "for argv in ([], ['--db', 'x.db'], ['--db=y.db']):\n"
        "    cli.main(argv)\n"
        "plain = 'argparse' in sys.modules\n"
        "cli.main(['--demo'])\n"
        "print(json.dumps({'seen': seen, 'argparse_for_plain': plain}))\n"
    )
    result = run_python(code, tmp_path)
    assert result["seen"] == [[None, False], ["x.db", False], ["y.db", False], [None, True]]
    assert result["argparse_for_plain"] is False


def test_the_first_index_frame_waits_only_for_what_it_shows(tmp_path):
    """Other screens, the index's modals and the services the index does not use are imported when
    first needed; with a keymap, every screen is imported (to know their binding ids) after the
    first frame."""
    db = tmp_path / "crm.db"
    Crm.open(db).close()
    code = (
        "import asyncio, json, sys\n"
        "from crm_tui.shell.app import CrmApp\n"
        "async def main():\n"
        f"    app = CrmApp({str(db)!r})\n"
        "    async with app.run_test() as pilot:\n"
        "        await pilot.pause()\n"
        "        return {m: m in sys.modules for m in ('screens.board', 'screens.record', 'screens.import_wizard',\n"
        "                'screens.index_modals', 'crm_tui.services.history', 'crm_tui.services.merge', 'screens.index')}\n"
        "print(json.dumps(asyncio.run(main())))\n"
    )
    loaded = run_python(code, tmp_path)
    assert loaded == {"screens.board": False, "screens.record": False, "screens.import_wizard": False,
                      "screens.index_modals": False, "crm_tui.services.history": False, "crm_tui.services.merge": False,
                      "screens.index": True}


async def test_a_keymap_still_applies_to_screens_not_yet_opened(tmp_path):
    config = tmp_path / "config" / "crm-tui"
    config.mkdir(parents=True)
    (config / "config.yaml").write_text("keymap:\n  record.log_note: ctrl+n\n  nope.nothing: x\n")
    db = tmp_path / "crm.db"
    Crm.open(db).close()
    app = CrmApp(db)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.pause()
        assert app._keymap.get("record.log_note") == "ctrl+n"
        assert any("nope.nothing" in n.message for n in app._notifications)


async def test_the_first_index_screen_is_laid_out_after_the_mount_batch(demo_db):
    """Textual drops the frames drawn during the app's mount batch and then writes only what
    changes: the index must not be laid out inside it, or its bars stay blank on a terminal."""
    app = CrmApp(demo_db)
    layouts = []
    original = app._display

    def display(screen, renderable):
        if type(screen).__name__ == "IndexScreen" and type(renderable).__name__ == "LayoutUpdate":
            layouts.append(app._batch_count)
        return original(screen, renderable)

    app._display = display
    async with app.run_test() as pilot:
        await pilot.pause()
    assert layouts and layouts[0] == 0


async def test_the_theme_is_applied_without_a_second_parse_of_the_style_sheets(demo_db, monkeypatch):
    reparses = []
    original = Stylesheet.reparse
    monkeypatch.setattr(Stylesheet, "reparse", lambda self: reparses.append(1) or original(self))
    (Path(os.environ["XDG_CONFIG_HOME"]) / "crm-tui").mkdir(parents=True)
    (Path(os.environ["XDG_CONFIG_HOME"]) / "crm-tui" / "config.yaml").write_text("theme: light\n")
    app = CrmApp(demo_db)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert reparses == []
        assert app.theme == "light" and app.has_class("-theme-light") and app.has_class("-light-mode")
        assert app.stylesheet._variables["background"] == app.current_theme.background
        # the other themes are there for the theme picker once the first frame is out
        assert {"dark", "light", "high-contrast"} <= set(app.available_themes)
        app.theme = "dark"  # switching later still restyles the running app
        await pilot.pause()
        assert reparses and app.has_class("-dark-mode")


async def test_collections_are_back_on_and_the_start_is_frozen_until_the_app_ends(demo_db):
    threshold = gc.get_threshold()
    gc.disable()  # as the command line does while the app starts
    try:
        app = CrmApp(demo_db)
        async with app.run_test() as pilot:
            await pilot.pause()
            await pilot.pause()
            assert gc.isenabled()
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold()[2] == 100
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == threshold
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*threshold)


# -- the record screen ------------------------------------------------------------------------


async def test_record_lists_render_once_and_again_only_when_their_width_changes(db_path, monkeypatch):
    from textual.widgets import OptionList

    from screens.record import RecordScreen

    record = big_record(db_path)
    clears = []
    original = OptionList._clear_caches
    monkeypatch.setattr(OptionList, "_clear_caches", lambda self: clears.append(self.id) or original(self))
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.push_screen(RecordScreen("contacts", record))
        await pilot.pause(0.3)
        screen = app.screen
        timeline, sidebar = screen.query_one("#timeline"), screen.query_one("#sidebar")
        assert timeline.show_vertical_scrollbar and sidebar.show_vertical_scrollbar
        assert [c for c in clears if c in ("props", "timeline", "sidebar")] == []
        # the renders are made at the width the lists have
        assert timeline._cache_width == timeline.scrollable_content_region.width
        await pilot.resize_terminal(140, 40)
        await pilot.pause(0.3)
        assert {"timeline", "sidebar"} <= set(clears)
        assert timeline._cache_width == timeline.scrollable_content_region.width
        line = timeline.render_line(0).text
        assert "note" in line and len(line) == timeline.scrollable_content_region.width


async def test_record_footer_is_one_widget_that_follows_the_focus_and_takes_clicks(db_path):
    """The footer draws the keys of the focused panel (what Textual's Footer showed, as one
    widget instead of one per key), the command palette's key at the right; a click on a key
    presses it."""
    from screens.record import RecordScreen
    from screens.record_modals import ActivityModal
    from widgets.footer import KeysFooter

    record = big_record(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.push_screen(RecordScreen("contacts", record))
        await pilot.pause(0.3)
        footer = app.screen.query_one(KeysFooter)
        assert not footer.children
        line = footer.render_line(0).text
        assert len(line) == 120 and line.rstrip().endswith("▏^p Commands")
        assert " f Filter type " in line and " n Log note " in line  # the timeline has the focus
        app.screen.query_one("#sidebar").focus()
        await pilot.pause(0.3)
        line = footer.render_line(0).text
        assert " a Add association " in line and "Filter type" not in line
        await pilot.click(KeysFooter, offset=(line.index(" n Log note ") + 1, 0))
        await pilot.pause(0.3)
        assert isinstance(app.screen, ActivityModal)


async def test_record_screen_draws_its_first_frame_whole_and_settles_at_once(db_path, monkeypatch):
    """Opening a record: its first frame already has the footer's keys and the lists' scrollbars
    (Textual drew it without them, then laid the screen out and drew it again for each), every
    list line is drawn once, and the screen settles in two frames: the whole screen, then the
    repaint Textual asks of every screen it pushes (it took six layouts and seven frames)."""
    from textual.screen import Screen
    from textual.widgets import OptionList

    from screens.record import RecordScreen
    from widgets.footer import KeysFooter

    record = big_record(db_path)
    app = CrmApp(db_path)
    frames, layouts, lines = [], [], {}
    original_display = app._display

    def display(screen, renderable):
        if renderable is not None and isinstance(screen, RecordScreen):
            timeline, sidebar = screen.query_one("#timeline"), screen.query_one("#sidebar")
            frames.append({"keys": "Filter type" in screen.query_one(KeysFooter).render_line(0).text,
                           "notes": len(timeline.items),
                           "scrollbars": timeline.vertical_scrollbar in screen._compositor
                           and sidebar.vertical_scrollbar in screen._compositor})
        return original_display(screen, renderable)

    from textual.scrollbar import ScrollBar

    refresh_layout, render_line, render_bar = Screen._refresh_layout, OptionList.render_line, ScrollBar.render
    bars = []

    def counted_bar(self):
        bars.append(self)
        return render_bar(self)

    def counted_layout(self, *args, **kwargs):
        if isinstance(self, RecordScreen):
            layouts.append(1)
        return refresh_layout(self, *args, **kwargs)

    from textual import messages

    asked = []  # what asked the screen for a layout after its first frame
    on_layout = Screen._on_layout

    async def counted_ask(self, message: messages.Layout):
        if isinstance(self, RecordScreen) and frames:
            asked.append(message.widget.id or type(message.widget).__name__)
        return await on_layout(self, message)

    def counted_line(self, y):
        lines[self.id] = lines.get(self.id, 0) + 1
        return render_line(self, y)

    app._display = display
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        monkeypatch.setattr(Screen, "_refresh_layout", counted_layout)
        monkeypatch.setattr(OptionList, "render_line", counted_line)
        monkeypatch.setattr(ScrollBar, "render", counted_bar)
        monkeypatch.setattr(Screen, "_on_layout", counted_ask)
        app.push_screen(RecordScreen("contacts", record))
        await pilot.pause(0.5)
        screen = app.screen
        assert frames[0] == {"keys": True, "notes": 40, "scrollbars": True}
        assert len(layouts) <= 3 and len(frames) <= 2, (len(layouts), len(frames))
        # after the first frame no widget asks for a layout: no list, panel or container, not the
        # scrollbars for their first sizes, not the header for the title it already shows
        assert asked == [], asked
        for name in ("timeline", "sidebar"):
            assert lines[name] == screen.query_one(f"#{name}").size.height, (name, lines)
        # each list's scrollbar drawn once (every layout of the screen drew them again)
        assert sorted(map(id, bars)) == sorted(id(screen.query_one(f"#{name}").vertical_scrollbar)
                                               for name in ("timeline", "sidebar")), len(bars)


async def test_record_header_title_follows_the_record(db_path):
    """The record's header sets its title again only when it changes, and does when it does."""
    from textual.widgets._header import HeaderTitle

    from screens.record import RecordScreen

    record = big_record(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.push_screen(RecordScreen("contacts", record))
        await pilot.pause(0.3)
        title = app.screen.query_one(HeaderTitle)
        assert "Contact: Ann" in title.render_line(0).text
        app.crm.records.update("contacts", record, {"firstname": "Annabel"})
        app.screen.refresh_record()
        await pilot.pause(0.3)
        assert "Contact: Annabel" in title.render_line(0).text


async def test_a_covered_index_keeps_its_footer(db_path, monkeypatch):
    """The index under a pushed screen publishes its bindings when it is covered and uncovered,
    with the same keys: its footer is not drawn again (Textual's Footer was rebuilt each time,
    ~20 ms, and the screen on top drew frames for it)."""
    from screens.index import IndexScreen
    from screens.record import RecordScreen
    from widgets.footer import KeysFooter

    record = big_record(db_path)
    app = CrmApp(db_path)
    redrawn = []
    refresh = KeysFooter.refresh

    def counted(self, *args, **kwargs):
        if isinstance(self.screen, IndexScreen):
            redrawn.append(1)
        return refresh(self, *args, **kwargs)

    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(50):  # until the index shows its keys
            await pilot.pause(0.1)
            if isinstance(app.screen, IndexScreen) and "Search" in app.screen.query_one(KeysFooter).render_line(0).text:
                break
        line = app.screen.query_one(KeysFooter).render_line(0).text
        assert " / Search " in line
        monkeypatch.setattr(KeysFooter, "refresh", counted)
        app.push_screen(RecordScreen("contacts", record))
        await pilot.pause(0.3)
        app.pop_screen()
        await pilot.pause(0.3)
        assert isinstance(app.screen, IndexScreen) and app.screen.query_one(KeysFooter).render_line(0).text == line
        assert redrawn == []


async def test_record_sidebar_reads_no_activity_links(db_path):
    """The sidebar shows no activities, so it does not ask for their groups (a record with 10,000
    notes sorted its 10,000 note links on every open for nothing)."""
    from screens.record import RecordScreen

    record = big_record(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        asked = []
        original = app.crm.assoc.groups
        app.crm.assoc.groups = lambda *a, **k: asked.append(original(*a, **k)) or asked[-1]
        app.push_screen(RecordScreen("contacts", record))
        await pilot.pause(0.3)
        sidebar = app.screen.query_one("#sidebar")
        assert asked and {g.object for g in asked[-1]} == {"companies", "contacts"}
        assert [e.object for e in sidebar.entries if e.kind == "section"][:4] == ["contacts", "companies", "deals", "tickets"]
        assert sum(1 for e in sidebar.entries if e.kind == "card") == 40  # 20 a section, "… N more" below
