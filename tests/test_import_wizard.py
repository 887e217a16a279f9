"""The import wizard at 80x24: path completion, mapping, preview, run with progress, history, undo."""

from __future__ import annotations

from crm_tui.domain import sources
from crm_tui.shell.app import CrmApp
from crm_tui.services.core import Crm


def prepare(db_path, tmp_path):
    with Crm.open(db_path, user_name="tester") as crm:
        crm.records.create("companies", {"name": "Acme", "domain": "acme.com"}, sources.API)
    path = tmp_path / "people.csv"
    path.write_text("First Name,Email,Shoe size\n[b]Ann[/b],ann@acme.com,41\nBob,not-an-email,42\nCy,cy@x.org,40\n",
                    encoding="utf-8")
    return path


async def wait(pilot, app):
    await app.workers.wait_for_complete()
    await pilot.pause(0.1)


async def test_wizard_preview_run_and_undo(db_path, tmp_path):
    from textual.widgets import DataTable, Input, Select, Static

    from screens.import_wizard import ImportHistoryScreen, ImportWizardScreen, PathSuggester

    path = prepare(db_path, tmp_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Import a file")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, ImportWizardScreen)
        # path completion lists directory entries
        assert await PathSuggester().get_suggestion(str(tmp_path / "peo")) == str(path)
        box = screen.query_one("#path", Input)
        box.value = str(path)
        await pilot.press("enter")
        await pilot.pause(0.2)
        info = str(screen.query_one("#info", Static).render())
        assert "utf-8" in info and "','" in info and "3 columns" in info
        selects = [screen.query_one(f"#map-{i}", Select) for i in range(3)]
        assert [s.value for s in selects] == ["contacts|firstname", "contacts|email", "contacts|@new:shoe_size:number"]
        assert "New property shoe_size (number)" in str(selects[2].query_one("SelectCurrent Static").render())
        selects[2].value = "contacts|jobtitle"  # fix the mapping by hand
        await pilot.press("f2")
        await wait(pilot, app)
        result = str(screen.query_one("#result", Static).render())
        assert "dry run" in result and "3 created" in result and "0 failed" in result
        assert "1 values not imported" in result
        assert app.crm.records.count("contacts") == 0
        await pilot.press("f5")
        await wait(pilot, app)
        result = str(screen.query_one("#result", Static).render())
        assert "3 created" in result and "error file" in result
        assert app.crm.records.count("contacts") == 3
        ann = app.crm.records.get("contacts", 1)
        assert ann.properties["firstname"] == "[b]Ann[/b]" and ann.properties["jobtitle"] == "41"
        assert app.crm.assoc.primary_company(("contacts", 1)) == 1  # automatic association by domain
        await pilot.press("f3")
        await pilot.pause(0.2)
        history = app.screen
        assert isinstance(history, ImportHistoryScreen)
        table = history.query_one(DataTable)
        assert table.row_count == 1
        await pilot.press("u")
        await pilot.pause(0.2)
        await pilot.press("y")
        await pilot.pause(0.3)
        assert app.crm.records.count("contacts") == 0
        assert history.items[0].status == "undone"


async def test_wizard_reports_unreadable_file_in_one_line(db_path, tmp_path):
    from textual.widgets import Input, Static

    from screens.import_wizard import ImportWizardScreen

    prepare(db_path, tmp_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(ImportWizardScreen())
        await pilot.pause()
        screen = app.screen
        screen.query_one("#path", Input).value = str(tmp_path / "nope.csv")
        await pilot.press("enter")
        await pilot.pause()
        text = str(screen.query_one("#info", Static).render())
        assert "no such file" in text and "\n" not in text.strip()
        await pilot.press("f5")  # nothing loaded: a warning, no crash
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ImportWizardScreen)


async def until(pilot, ready, timeout: float = 10.0) -> None:
    """Pause until `ready()` holds (a loaded machine takes longer than a fixed pause)."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        await pilot.pause(0.05)
        try:
            if ready():
                return
        except Exception:  # the widget is not mounted yet
            pass


async def test_the_object_is_guessed_from_the_headers_and_can_be_changed(db_path, tmp_path):
    """A deals export opens as deals (not the first object in the list); choosing another object
    maps the columns again for it."""
    from textual.widgets import Input, Select

    from screens.import_wizard import ImportWizardScreen

    Crm.open(db_path).close()
    deals = tmp_path / "deals.csv"
    deals.write_text("Record ID,Deal name,Deal stage,Close date\n1,Big one,Closed won,2026-01-02\n", encoding="utf-8")
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(ImportWizardScreen())
        await pilot.pause()
        screen = app.screen
        screen.query_one("#path", Input).value = str(deals)
        await pilot.press("enter")
        await until(pilot, lambda: screen.query("#map-1") and screen.query_one("#object", Select).value == "deals")
        assert screen.query_one("#object", Select).value == "deals"
        assert screen.query_one("#map-1", Select).value == "deals|dealname"
        screen.query_one("#object", Select).value = "tickets"
        await until(pilot, lambda: screen.spec.objects == ["tickets"]
                    and screen.query_one("#map-1", Select).value != "deals|dealname")
        assert screen.spec.objects == ["tickets"]
        assert screen.query_one("#map-1", Select).value != "deals|dealname"
