"""At home in the terminal: help from live bindings, user keymaps, first run, broken config/themes."""

import pytest

from crm_tui.shell.app import CrmApp
from crm_tui.services.core import Crm


def help_text(app) -> str:
    from screens.help import HelpScreen

    screen = app.screen
    assert isinstance(screen, HelpScreen)
    return screen.render_help().plain


async def test_help_lists_the_screen_bindings(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        text = help_text(app)
        assert "index.new_record" in text and "Quit" not in text.split("\n")[0]
        await pilot.press("escape")
        await pilot.pause()
        from screens.help import HelpScreen

        assert not isinstance(app.screen, HelpScreen)


async def test_user_keymap_rebinds_new_record_and_help_shows_it(demo_db, tmp_path):
    config_dir = tmp_path / "config" / "crm-tui"
    config_dir.mkdir(parents=True)
    (config_dir / "config.yaml").write_text("keymap:\n  index.new_record: ctrl+n\n")
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        text = help_text(app)
        line = next(l for l in text.splitlines() if "index.new_record" in l)
        assert "^n" in line or "ctrl+n" in line.lower()
        await pilot.press("escape")
        await pilot.press("n")  # the old key does nothing now
        await pilot.pause()
        assert type(app.screen).__name__ == "IndexScreen"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert type(app.screen).__name__ != "IndexScreen"


async def test_first_run_explains_itself_and_opens_the_demo(db_path):
    Crm.open(db_path).close()
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "WelcomeScreen"
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "is empty" in text and "import" in text
        await pilot.press("d")
        await pilot.pause()
        assert app.crm.records.count("contacts") > 0
        assert app.db_path.name == "demo.db"


@pytest.mark.parametrize("key, screen", [("i", "ImportWizardScreen"), ("n", "NewRecordModal")])
async def test_first_run_choices_open_what_they_say(db_path, key, screen):
    Crm.open(db_path).close()
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
        await pilot.pause()
        assert type(app.screen).__name__ == screen


async def test_no_welcome_on_a_database_with_records(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "IndexScreen"


@pytest.mark.parametrize("kept", ["custom", "binned"])
async def test_no_welcome_when_the_only_records_are_of_a_custom_object_or_in_the_bin(db_path, kept):
    from crm_tui.services import schema_apply

    with Crm.open(db_path) as crm:
        if kept == "custom":
            schema_apply.apply_schema(crm, {"objects": [{"name": "leads", "label": "Lead", "plural_label": "Leads",
                                                         "primary_property": "name",
                                                         "properties": [{"name": "name", "label": "Name"}]}]})
            crm.records.create("leads", {"name": "Solar lead"})
        else:
            crm.records.delete("companies", crm.records.create("companies", {"name": "Gone Ltd"}).id)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "IndexScreen"


async def test_broken_config_and_theme_fall_back_with_a_message(demo_db, tmp_path):
    config_dir = tmp_path / "config" / "crm-tui"
    (config_dir / "themes").mkdir(parents=True)
    (config_dir / "config.yaml").write_text("theme: [unclosed\n")
    (config_dir / "themes" / "mine.yaml").write_text("name: mine\nprimary: not-a-colour\n")
    app = CrmApp(demo_db)
    messages = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        messages = [str(n.message) for n in app._notifications]
        assert app.theme == "dark"
        assert type(app.screen).__name__ == "IndexScreen"
    assert any("config.yaml" in m for m in messages)
    assert any("mine.yaml" in m for m in messages)


async def test_theme_choice_is_remembered(demo_db, tmp_path):
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.theme = "light"
        await pilot.pause()
    assert "theme: light" in (tmp_path / "config" / "crm-tui" / "config.yaml").read_text()
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "light"
