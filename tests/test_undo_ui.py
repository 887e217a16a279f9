"""Undo in the app: u/ctrl+z and U/ctrl+y on every screen, a toast naming what was undone with the
redo key, the operations screen (j/k, enter/u undoes the one under the cursor), remapping by id."""

from __future__ import annotations

from textual.widgets import DataTable

from crm_tui.domain import sources
from crm_tui.shell.app import CrmApp
from crm_tui.services.core import Crm
from screens.operations import OperationsScreen


async def settle(pilot, times: int = 3) -> None:
    for _ in range(times):
        await pilot.pause()


def two_edits(db_path) -> dict:
    with Crm.open(db_path) as crm:  # the same user name as the app's: these are "my" changes
        ann = crm.records.create("contacts", {"firstname": "Ann", "lastname": "Lee", "email": "ann@example.org"},
                                 sources.USER).id
        bob = crm.records.create("contacts", {"firstname": "Bob", "email": "bob@example.org"}, sources.USER).id
        crm.records.update("contacts", ann, {"jobtitle": "Roaster"}, sources.USER)
        crm.records.update("contacts", bob, {"jobtitle": "Taster"}, sources.USER)
        return {"ann": ann, "bob": bob}


async def test_u_undoes_the_last_change_and_U_redoes_it_with_toasts_naming_the_record(db_path):
    ids = two_edits(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert app.crm.records.get("contacts", ids["bob"]).properties["jobtitle"] is None
        assert app.crm.records.get("contacts", ids["ann"]).properties["jobtitle"] == "Roaster"
        last = app._notifications[-1] if hasattr(app._notifications, "__getitem__") else list(app._notifications)[-1]
        assert "Bob" in last.message and "U redoes" in last.message and "#" not in last.message
        await pilot.press("ctrl+y")
        await settle(pilot)
        assert app.crm.records.get("contacts", ids["bob"]).properties["jobtitle"] == "Taster"
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert app.crm.records.get("contacts", ids["bob"]).properties["jobtitle"] is None


async def test_undo_is_not_run_behind_a_modal(db_path):
    ids = two_edits(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")  # the new-record form
        await settle(pilot)
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert app.crm.records.get("contacts", ids["bob"]).properties["jobtitle"] == "Taster"


async def test_operations_screen_lists_the_journal_and_undoes_the_one_under_the_cursor(db_path):
    ids = two_edits(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+o")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, OperationsScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == 4
        assert "Bob" in str(table.get_row_at(0)[1]) and "Ann" in str(table.get_row_at(1)[1])
        await pilot.press("j")  # Ann's edit, not the newest one
        await settle(pilot)
        assert table.cursor_row == 1
        await pilot.press("enter")
        await settle(pilot)
        assert app.crm.records.get("contacts", ids["ann"]).properties["jobtitle"] is None
        assert app.crm.records.get("contacts", ids["bob"]).properties["jobtitle"] == "Taster"
        assert table.row_count == 5  # the undo is an operation too
        assert "undone" in str(table.get_row_at(2)[3])
        await pilot.press("k", "k")
        assert table.cursor_row == 0
        await pilot.press("U")
        await settle(pilot)
        assert app.crm.records.get("contacts", ids["ann"]).properties["jobtitle"] == "Roaster"
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, OperationsScreen)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Operations" in titles


async def test_undo_keys_are_remappable_by_id_and_shown(db_path, tmp_path, monkeypatch):
    from crm_tui.storage.config import load_config

    two_edits(db_path)
    config_dir = tmp_path / "config" / "crm-tui"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.yaml").write_text("keymap:\n  app.undo: ctrl+g\n  app.redo: ctrl+r\n")
    config, warnings = load_config()
    assert warnings == []
    app = CrmApp(db_path, config=config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("u")  # no longer undo
        await settle(pilot)
        assert app.crm.journal.list(limit=1)[0].kind == "update"
        await pilot.press("ctrl+g")
        await settle(pilot)
        assert app.crm.journal.list(limit=1)[0].kind == "undo"
        assert "ctrl+r redoes" in list(app._notifications)[-1].message.lower().replace("^r", "ctrl+r")


async def test_an_undo_on_the_history_screen_refreshes_it_and_the_record_page_under_it(db_path):
    """u pressed on a record's property history: the history shows the undo's row at once, and the
    record page under it shows the value as it is again when the user goes back."""
    from textual.widgets import Static

    from screens.history import PropertyHistoryScreen
    from screens.record import RecordScreen

    ids = two_edits(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.push_screen(RecordScreen("contacts", ids["bob"]))
        await settle(pilot)
        record = app.screen
        assert "Taster" in " ".join(str(w.render()) for w in record.query(Static))
        await pilot.press("P")
        await settle(pilot)
        history = app.screen
        assert isinstance(history, PropertyHistoryScreen)
        before = history.query_one(DataTable).row_count
        await pilot.press("u")
        await settle(pilot)
        assert history.query_one(DataTable).row_count == before + 1  # the undo's own row, shown at once
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is record
        shown = " ".join(str(w.render()) for w in record.query(Static))
        assert "Taster" not in shown
