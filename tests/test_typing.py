"""The app never loses or glues together what you typed: keys that arrive together (text, Tab, text,
as over a slow SSH link in one read) land where a person would expect, and every focus stop in a
form is a visible field."""

from __future__ import annotations

import unicodedata

from textual import events
from textual.widgets import Input

from crm_tui.shell.app import CrmApp
from screens.index_modals import BulkEditModal, NewRecordModal


async def settle(pilot, times: int = 3) -> None:
    for _ in range(times):
        await pilot.pause()


def send_together(app, *keys: str) -> None:
    """Queue every key before the app handles any of them, as one read from a terminal does
    (pilot.press waits for the app to go idle between keys, which hides the problem)."""
    for key in keys:
        if len(key) == 1:
            character = key
        else:
            try:
                character = unicodedata.lookup(key.upper()) if key != "tab" else "\t"
            except KeyError:
                character = None
        event = events.Key(key, character)
        event.set_sender(app)
        app._driver.send_message(event)


async def test_text_tab_text_typed_fast_fills_two_fields(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, NewRecordModal)
        send_together(app, *"Ines", "tab", *"Okoro")
        await settle(pilot, 6)
        assert app.screen.query_one("#pf-firstname", Input).value == "Ines"
        assert app.screen.query_one("#pf-lastname", Input).value == "Okoro"
        # Back with shift+tab: the field's text is selected (as a browser does) and what follows replaces it.
        send_together(app, "shift+tab", *"Ann")
        await settle(pilot, 6)
        assert app.screen.query_one("#pf-firstname", Input).value == "Ann"
        assert app.screen.query_one("#pf-lastname", Input).value == "Okoro"


async def test_text_enter_text_typed_fast_fills_two_fields(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        send_together(app, *"Ines", "enter", *"Okoro")
        await settle(pilot, 6)
        assert app.screen.query_one("#pf-firstname", Input).value == "Ines"
        assert app.screen.query_one("#pf-lastname", Input).value == "Okoro"


async def test_every_focus_stop_of_a_form_is_a_field(demo_db):
    """Tab through the new-contact form and the bulk edit form: focus only ever lands on a field
    or a button a person can see, never on a container (the bulk edit once had an invisible stop
    where typed text went nowhere and an empty value was saved)."""
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        seen = []
        for _ in range(16):
            focused = app.focused
            seen.append(focused)
            assert focused.__class__.__name__ in ("Input", "FormInput", "Select", "SelectCurrent", "Button", "Checkbox"), focused
            assert focused.region.area > 0 and focused.visible, focused
            await pilot.press("tab")
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, BulkEditModal)
        await pilot.press("enter")  # open the property list
        await settle(pilot)
        await pilot.press("down", "down", "enter")  # a property
        await settle(pilot)
        for _ in range(4):
            await pilot.press("tab")
            await settle(pilot)
            focused = app.focused
            assert focused.__class__.__name__ in ("Input", "FormInput", "Select", "Button"), focused
            assert focused.region.area > 0, focused


async def test_j_and_k_move_in_history_tables_and_pickers(demo_db):
    from textual.widgets import DataTable, OptionList

    from screens.history import AssocHistoryScreen
    from screens.index_modals import AssocPopup

    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        company = app.crm.assoc.primary_company(("contacts", 1)) or 1
        app.push_screen(AssocHistoryScreen("companies", company))
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count >= 2 and table.cursor_row == 0
        await pilot.press("j")
        assert table.cursor_row == 1
        await pilot.press("k")
        assert table.cursor_row == 0
        await pilot.press("escape")
        await settle(pilot)
        app.push_screen(AssocPopup("Companies", [("companies", 1, "One"), ("companies", 2, "Two"), ("companies", 3, "Three")]))
        await settle(pilot)
        options = app.screen.query_one(OptionList)
        await pilot.press("j", "j")
        assert options.highlighted == 2
        await pilot.press("k")
        assert options.highlighted == 1
        # in a text field j is a letter
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("slash", "j")
        await settle(pilot)
        assert app.screen.query_one("#search").value == "j"


async def test_the_demo_database_is_marked_on_screen(demo_db, db_path):

    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "[demo database]" in app.title
        assert "demo database" in str(app.screen.query_one("HeaderTitle").render())
        await pilot.press("enter")  # a record screen says it too
        await settle(pilot, 5)
        assert app.screen.__class__.__name__ == "RecordScreen"
        assert "demo database" in str(app.screen.query_one("HeaderTitle").render())
    app = CrmApp(db_path)  # an ordinary database is not marked
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "demo" not in app.title


async def test_a_modal_shows_its_own_keys_in_its_footer_and_help(demo_db):
    from textual.widgets import Footer

    from screens.help import HelpScreen
    from screens.modals import ConfirmModal

    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("d")  # delete asks
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ConfirmModal)
        footer = modal.query_one(Footer)
        shown = " ".join(str(item.render()) for item in footer.query("FooterKey"))
        assert "Yes" in shown and "No" in shown and "Search" not in shown, shown
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        assert "confirm.yes" in text and "index.bulk_delete" not in text
        await pilot.press("question_mark")  # closes the help, not another one
        await settle(pilot)
        assert app.screen is modal
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("n")  # the new-record form: its own keys below it
        await settle(pilot)
        shown = " ".join(str(item.render()) for item in app.screen.query_one(Footer).query("FooterKey"))
        assert "Create" in shown and "Cancel" in shown, shown
        await pilot.press("question_mark")  # in a text field ? is a character
        await settle(pilot)
        assert app.screen.query_one("#pf-firstname").value == "?"
        assert app.crm.records.count("contacts") == 300


async def test_the_record_header_stays_visible_after_an_edit_in_place_at_80x24(demo_db):
    from screens.record import RecordScreen

    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, 5)
        screen = app.screen
        assert isinstance(screen, RecordScreen)
        name = screen.record.display_name
        props = screen.query_one("#props")
        props.highlighted = next(i for i, option in enumerate(props._options) if option.id == "p:jobtitle")
        await pilot.press("enter")
        await settle(pilot, 4)
        await pilot.press(*"Chief", "enter")  # the old value is selected: typing replaces it
        await settle(pilot, 6)
        assert screen.record.properties["jobtitle"] == "Chief"
        head = screen.query_one("#head")
        assert name in str(head.render())
        # what is on screen where the header is, is the header: its first line (the name) is shown
        region = head.region
        assert region.height > 0 and 0 <= region.y < 24
        assert app.get_widget_at(region.x + 1, region.y)[0] is head
        toasts = [n.message for n in app._notifications]
        assert any(name in t and "Job title" in t for t in toasts), toasts
        assert not any("contact 1 " in t or "(jobtitle)" in t for t in toasts), toasts


async def test_an_index_wider_than_80_columns_scrolls_sideways_and_says_how_many_are_hidden(demo_db):
    from screens.index import IndexScreen

    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IndexScreen)
        table = screen.table
        assert table.hidden_columns == 0 and "hidden" not in str(table.border_subtitle)
        screen.spec.columns = screen.spec.columns + ["phone", "jobtitle", "city", "country"]
        screen._changed(reset_cursor=False)
        await settle(pilot)
        hidden = table.hidden_columns
        assert hidden > 0
        assert f"{hidden} columns hidden" in str(table.border_subtitle)
        shown_before = [c.key for c in table.visible_columns]
        assert "country" not in shown_before
        for _ in range(12):  # l to the last column: the table scrolls sideways to it
            await pilot.press("l")
        await settle(pilot)
        assert table.cursor_column_key == "country"
        shown = [c.key for c in table.visible_columns]
        assert shown[0] == "firstname" and "country" in shown  # the first column stays put
        assert table.hidden_columns > 0  # now the ones on the left are hidden
        assert "Country" in table._render_header(table._line_width, table.rich_style).text
        for _ in range(12):  # and h all the way back
            await pilot.press("h")
        await settle(pilot)
        assert table.cursor_column_key == "firstname"
        await pilot.press("l")
        assert table.cursor_column_key == "lastname"
        assert [c.key for c in table.visible_columns] == shown_before


def test_toasts_name_records_not_raw_ids(demo_db):
    from crm_tui.services.core import Crm
    from screens.modals import name_records

    with Crm.open(demo_db) as crm:
        contact = crm.records.get("contacts", 1).display_name
        company = crm.records.get("companies", 3).display_name
        text = name_records(crm, f"associated contact 1 with company 3 ({company}); primary company; deal 999999 is gone")
        assert text == f"associated contact {contact} with company {company}; primary company; deal 999999 is gone"
        assert name_records(crm, "2 contacts updated") == "2 contacts updated"


async def test_record_screen_toasts_name_the_linked_record(demo_db):
    from screens.record import RecordScreen

    app = CrmApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_record("contacts", 1)
        await settle(pilot, 5)
        screen = app.screen
        assert isinstance(screen, RecordScreen)
        other = next(i for i in range(2, 60) if i not in app.crm.assoc.linked_ids(("contacts", 1), "companies"))
        result = app.crm.assoc.add(("contacts", 1), ("companies", other), source="User")
        screen.say(result.message)
        await settle(pilot)
        name = app.crm.records.get("companies", other).display_name
        last = list(app._notifications)[-1].message
        assert name in last and f"company {other}" not in last and "contact 1 " not in last, last


async def test_typing_ahead_fixes_take_no_key_from_the_screens(demo_db):
    """The type-ahead fixes live in the form fields and in Tab: enter still opens a record on the
    index (and shows in its footer), and j/k still belong to the table."""
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        active = app.screen.active_bindings
        assert active["enter"].binding.id == "table.open"
        assert active["j"].binding.id == "table.cursor_down"
        await pilot.press("enter")
        await settle(pilot, 5)
        assert app.screen.__class__.__name__ == "RecordScreen"


async def test_an_editing_key_typed_ahead_acts_before_the_text_behind_it(demo_db):
    """ctrl+u (clear to the left) typed together with the new text, as over SSH, clears the old value
    first: before, the clearing ran after the new text had gone in and saved an empty email."""
    from screens.record import RecordScreen

    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot, 5)
        screen = app.screen
        assert isinstance(screen, RecordScreen)
        props = screen.query_one("#props")
        props.highlighted = next(i for i, option in enumerate(props._options) if option.id == "p:email")
        await pilot.press("enter")
        await settle(pilot, 4)
        send_together(app, "ctrl+u", *"new@example.org", "enter")
        await settle(pilot, 8)
        assert screen.record.properties["email"] == "new@example.org"
        # backspace typed ahead, too, takes the character typed before it, not one typed after
        props.highlighted = next(i for i, option in enumerate(props._options) if option.id == "p:jobtitle")
        await pilot.press("enter")
        await settle(pilot, 4)
        send_together(app, "ctrl+u", *"Chiefx", "backspace", *"s", "enter")
        await settle(pilot, 8)
        assert screen.record.properties["jobtitle"] == "Chiefs"


async def test_an_editing_key_typed_ahead_acts_in_turn_in_search_boxes_and_pickers(demo_db):
    """Every text input of the app is the shared TextInput: text, ctrl+u and new text arriving in one
    read leave the new text in the index search box and in a picker's query (before, the ctrl+u ran
    after the new text and emptied the box)."""
    from widgets.text_input import TextInput

    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        search = app.screen.query_one("#search", Input)
        assert isinstance(search, TextInput) and app.focused is search
        send_together(app, *"zzz", "ctrl+u", *"Ines", "left", "backspace", "s")
        await settle(pilot, 8)
        assert search.value == "Inss"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("ctrl+f")  # search everywhere: a picker
        await settle(pilot, 4)
        query = app.screen.query_one("#query", Input)
        assert isinstance(query, TextInput) and app.focused is query
        send_together(app, *"acme", "ctrl+u", *"Okoro")
        await settle(pilot, 8)
        assert query.value == "Okoro"


def test_every_text_input_of_the_app_is_the_shared_one():
    """No screen or widget builds a plain Input (which would lose the in-turn editing keys)."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parent.parent
    plain = []
    for path in list((root / "screens").glob("*.py")) + list((root / "widgets").glob("*.py")) + list((root / "crm_tui" / "shell").glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"(?<![A-Za-z_.])Input\(", line):
                plain.append(f"{path.name}:{number}: {line.strip()}")
    assert not plain, plain
