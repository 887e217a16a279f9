"""Escape never drops typed text without asking (issue 14): a form with unsaved text asks
"Discard changes?" on escape or Cancel; no keeps the text, yes closes; a form with nothing typed
closes at once. The new-contact form, the record screen's edit form, the log-activity form, the
edit-activity form and the rename prompt."""

from __future__ import annotations

from textual.widgets import Input

from crm_tui.domain import sources
from crm_tui.services.core import Crm
from crm_tui.shell.app import CrmApp
from screens.index_modals import NewRecordModal, TextPromptModal
from screens.modals import ConfirmModal
from screens.record import RecordScreen
from screens.record_modals import ActivityModal


async def settle(pilot, times: int = 3) -> None:
    for _ in range(times):
        await pilot.pause()


async def test_the_new_contact_form_asks_before_dropping_typed_text(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        before = app.crm.records.count("contacts")
        # nothing typed: escape closes at once
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, NewRecordModal)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, (NewRecordModal, ConfirmModal))
        # typed: escape asks; no keeps the text; yes closes without creating anything
        await pilot.press("n")
        await settle(pilot)
        modal = app.screen
        await pilot.press(*"Ines")
        await settle(pilot)
        field = modal.focused
        assert isinstance(field, Input) and field.value == "Ines"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal) and "Discard changes?" in app.screen.question
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is modal and field.value == "Ines"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert not isinstance(app.screen, (NewRecordModal, ConfirmModal))
        assert app.crm.records.count("contacts") == before
        # typed and rubbed out again: nothing to lose, closes at once
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"Al", "backspace", "backspace")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, (NewRecordModal, ConfirmModal))


async def test_the_record_edit_form_asks_before_dropping_typed_text(demo_db):
    with Crm.open(demo_db) as crm:
        rid = crm.records.create("contacts", {"email": "ada@acme.example", "city": "Lisbon"}).id
    app = CrmApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_record("contacts", rid)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, RecordScreen)
        screen.edit_property("city")
        await settle(pilot)
        city = screen.query_one("#pf-city", Input)
        assert city.has_focus and city.value == "Lisbon"
        await pilot.press("escape")  # nothing changed: closes at once
        await settle(pilot)
        assert screen.editing is None and app.screen is screen
        screen.edit_property("city")
        await settle(pilot)
        await pilot.press(*"ton")
        await settle(pilot)
        city = screen.query_one("#pf-city", Input)
        assert city.value == "ton"  # the old text was selected: typing replaced it
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is screen and screen.editing == "city" and city.value == "ton"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen and screen.editing is None
        assert app.crm.records.get("contacts", rid).properties["city"] == "Lisbon"


async def test_the_log_activity_form_asks_before_dropping_typed_text(demo_db):
    with Crm.open(demo_db) as crm:
        rid = crm.records.create("contacts", {"email": "ada@acme.example"}).id
        noted = crm.activities.log(("contacts", rid), "notes", {"hs_note_body": "First"}, source=sources.USER)
    del noted
    app = CrmApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_record("contacts", rid)
        await settle(pilot)
        screen = app.screen
        await pilot.press("c")  # log a call
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, ActivityModal)
        await pilot.press("escape")  # nothing typed
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("c")
        await settle(pilot)
        modal = app.screen
        await pilot.press(*"Pricing")
        await settle(pilot)
        typed = modal.focused
        assert isinstance(typed, Input) and typed.value == "Pricing"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("escape")  # escape on the question keeps the text too
        await settle(pilot)
        assert app.screen is modal and typed.value == "Pricing"
        modal.query_one("#cancel").press()  # the Cancel button asks as escape does
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen
        assert not app.crm.activities.timeline(("contacts", rid), types=["calls"])


async def test_the_edit_activity_form_asks_only_once_its_text_changed(demo_db):
    with Crm.open(demo_db) as crm:
        rid = crm.records.create("contacts", {"email": "ada@acme.example"}).id
        crm.activities.log(("contacts", rid), "notes", {"hs_note_body": "First"}, source=sources.USER)
        note = crm.activities.timeline(("contacts", rid), types=["notes"])[0].id
    app = CrmApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_record("contacts", rid)
        await settle(pilot)
        screen = app.screen
        modal = ActivityModal(app.crm, ("contacts", rid), "notes", note)
        app.push_screen(modal)
        await settle(pilot)
        await pilot.press("escape")  # prefilled, unchanged: closes at once
        await settle(pilot)
        assert app.screen is screen
        modal = ActivityModal(app.crm, ("contacts", rid), "notes", note)
        app.push_screen(modal)
        await settle(pilot)
        body = modal.query_one("#pf-hs_note_body", Input)
        body.focus()
        await pilot.press("end", *" more")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is modal and body.value == "First more"


async def test_a_rename_prompt_asks_once_its_text_changed(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        base = app.screen
        prompt = TextPromptModal("Rename", "Old name")
        app.push_screen(prompt)
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is base
        prompt = TextPromptModal("Rename", "Old name")
        app.push_screen(prompt)
        await settle(pilot)
        await pilot.press(*"r")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is base


async def test_ticks_are_choices_too_escape_asks_before_dropping_them(demo_db):
    """Records ticked to link, labels ticked, the primary box: escape asks first; an untouched tick
    list closes at once (the labels dialog opens with the link's labels ticked: that is no change)."""
    from textual.widgets import Checkbox, SelectionList

    from screens.record_modals import AddAssociationModal, TickModal

    app = CrmApp(demo_db)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        add = AddAssociationModal(app.crm, ("contacts", 1), "companies")
        app.push_screen(add)
        await settle(pilot)
        add.query_one("#primary", Checkbox).value = True
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is add and add.query_one("#primary", Checkbox).value
        add.query_one("#primary", Checkbox).value = False
        await pilot.press("escape")  # back as it was: closes at once
        await settle(pilot)
        assert not isinstance(app.screen, (AddAssociationModal, ConfirmModal))

        ticks = TickModal("Labels", [("Employer", "Employer", True), ("Advisor", "Advisor", False)])
        app.push_screen(ticks)
        await settle(pilot)
        await pilot.press("escape")  # opened ticked: nothing changed
        await settle(pilot)
        assert not isinstance(app.screen, (TickModal, ConfirmModal))
        ticks = TickModal("Labels", [("Employer", "Employer", True), ("Advisor", "Advisor", False)])
        app.push_screen(ticks)
        await settle(pilot)
        ticks.query_one(SelectionList).select("Advisor")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert not isinstance(app.screen, (TickModal, ConfirmModal))


async def test_text_pasted_with_line_breaks_keeps_every_line(demo_db):
    """A one-line field given a pasted address or note keeps all of it, lines joined by spaces
    (Textual kept the first line and dropped the rest without a word)."""
    from textual import events

    from widgets.text_input import TextInput

    app = CrmApp(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        field = app.screen.focused
        assert isinstance(field, TextInput)
        field.post_message(events.Paste("Line one\nLine two [bold]B[/bold]\r\n\nthree"))
        await settle(pilot)
        assert field.value == "Line one Line two [bold]B[/bold] three"
        field.value = ""
        field.post_message(events.Paste("one line"))  # a plain paste, once
        await settle(pilot)
        assert field.value == "one line"
