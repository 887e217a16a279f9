"""The app never silently writes over a record: creating one whose email or domain exists offers the
existing record (open it, or update it after seeing what would change); bulk changes say what they
will do on how many records and ask first; a change of several links is all or nothing."""

from __future__ import annotations

from textual.widgets import Input

from crm_tui.domain import sources
from crm_tui.shell.app import CrmApp
from crm_tui.services.core import Crm
from screens.index_modals import NewRecordModal
from screens.modals import ExistingRecordModal
from screens.record import RecordScreen


async def settle(pilot, times: int = 3) -> None:
    for _ in range(times):
        await pilot.pause()


def a_contact(db_path):
    with Crm.open(db_path) as crm:
        return crm.records.get("contacts", 1)


async def fill_new_contact(pilot, app, first: str, email: str, job: str) -> None:
    await pilot.press("n")
    await settle(pilot)
    assert isinstance(app.screen, NewRecordModal)
    await pilot.press(*first)
    app.screen.query_one("#pf-email", Input).focus()
    await pilot.press(*email)
    app.screen.query_one("#pf-jobtitle", Input).focus()
    await pilot.press(*job)
    await pilot.press("ctrl+s")
    await settle(pilot)


async def test_new_contact_with_an_existing_email_offers_the_existing_record(demo_db):
    existing = a_contact(demo_db)
    email = existing.properties["email"]
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await fill_new_contact(pilot, app, "Zed", email, "Chief Tester")
        assert isinstance(app.screen, ExistingRecordModal)
        diff = str(app.screen.query_one("#diff").render())
        assert "First name" in diff and "Zed" in diff and "Chief Tester" in diff
        # escape goes back to the form with what was typed, nothing written
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, NewRecordModal)
        assert app.screen.query_one("#pf-firstname", Input).value == "Zed"
        assert app.crm.records.get("contacts", existing.id).properties["firstname"] == existing.properties["firstname"]
        # o opens the existing record, still unchanged
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("o")
        await settle(pilot, 5)
        assert isinstance(app.screen, RecordScreen)
        assert app.screen.record_id == existing.id
        after = app.crm.records.get("contacts", existing.id).properties
        assert after["firstname"] == existing.properties["firstname"]
        assert after["jobtitle"] == existing.properties["jobtitle"]
        assert app.crm.records.count("contacts") == 300


async def test_updating_the_existing_record_is_a_choice_and_names_it(demo_db):
    existing = a_contact(demo_db)
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await fill_new_contact(pilot, app, existing.properties["firstname"] or "", existing.properties["email"],
                               "Chief Tester")
        assert isinstance(app.screen, ExistingRecordModal)
        await pilot.press("u")
        await settle(pilot)
        after = app.crm.records.get("contacts", existing.id)
        assert after.properties["jobtitle"] == "Chief Tester"
        assert app.crm.records.count("contacts") == 300
        toasts = [n.message for n in app._notifications]
        assert any(after.display_name in t and "Job title" in t for t in toasts), toasts


# -- several links at once: all or nothing ---------------------------------------------------------------

def small_crm(db_path) -> dict:
    with Crm.open(db_path, user_name="tester") as crm:
        ids = {
            "ann": crm.records.create("contacts", {"firstname": "Ann", "email": "ann@example.org"}, sources.USER).id,
            "acme": crm.records.create("companies", {"name": "Acme", "domain": "acme.test"}, sources.USER).id,
            "globex": crm.records.create("companies", {"name": "Globex", "domain": "globex.test"}, sources.USER).id,
            "initech": crm.records.create("companies", {"name": "Initech", "domain": "initech.test"}, sources.USER).id,
        }
        crm.registry.create_label("contacts", "companies", "Board seat", limit=1)
        return ids


def test_add_many_is_all_or_nothing_and_names_the_refused_record(db_path):
    from crm_tui.domain.errors import CrmError

    ids = small_crm(db_path)
    with Crm.open(db_path, user_name="tester") as crm:
        ann = ("contacts", ids["ann"])
        try:
            crm.assoc.add_many(ann, [("companies", ids["acme"]), ("companies", ids["globex"])], labels=["Board seat"],
                               source=sources.USER)
        except CrmError as exc:
            message = str(exc)
        else:
            raise AssertionError("a second 'Board seat' was accepted past its limit of 1")
        assert "Globex" in message and "none of the 2 links was made" in message and "\n" not in message
        assert crm.assoc.linked_ids(ann, "companies") == []
        assert crm.assoc.history(ann) == []
        results = crm.assoc.add_many(ann, [("companies", ids["acme"]), ("companies", ids["initech"])],
                                     source=sources.USER)
        assert [r.created for r in results] == [True, True]
        assert sorted(crm.assoc.linked_ids(ann, "companies")) == sorted([ids["acme"], ids["initech"]])
        assert crm.assoc.primary_company(ann) == ids["acme"]


async def test_adding_several_links_in_the_app_keeps_none_when_one_is_refused(db_path):
    from textual.widgets import SelectionList, Static

    from screens.record_modals import AddAssociationModal

    ids = small_crm(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.push_screen(AddAssociationModal(app.crm, ("contacts", ids["ann"]), "companies"))
        await settle(pilot)
        modal = app.screen
        await pilot.press(*"test")  # every company's domain
        await settle(pilot)
        results = modal.query_one("#results", SelectionList)
        for value in (ids["acme"], ids["globex"]):
            results.select(value)
        modal.query_one("#labels", SelectionList).select("Board seat")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is modal
        error = str(modal.query_one("#error", Static).render())
        assert "none of the 2 links was made" in error, error
        assert app.crm.assoc.linked_ids(("contacts", ids["ann"]), "companies") == []


async def test_create_new_in_the_sidebar_offers_an_existing_company(db_path):
    from screens.record_modals import AddAssociationModal

    ids = small_crm(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.push_screen(AddAssociationModal(app.crm, ("contacts", ids["ann"]), "companies", tab="create"))
        await settle(pilot)
        modal = app.screen
        form = modal.query_one("#form")
        form.set_raw("name", "ACME Corporation")
        form.set_raw("domain", "acme.test")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ExistingRecordModal)
        assert "ACME Corporation" in str(app.screen.query_one("#diff").render())
        await pilot.press("l")  # link it as it is
        await settle(pilot)
        assert app.crm.assoc.linked_ids(("contacts", ids["ann"]), "companies") == [ids["acme"]]
        assert app.crm.records.get("companies", ids["acme"]).properties["name"] == "Acme"
        assert app.crm.records.count("companies") == 3


# -- bulk changes ask first, and one key takes them back --------------------------------------------------

async def test_bulk_edit_asks_with_what_changes_runs_and_u_takes_it_back(demo_db):
    from textual.widgets import Select

    from screens.index import IndexScreen
    from screens.index_modals import BulkEditModal
    from screens.modals import ConfirmModal
    from widgets.property_form import PropertyForm

    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IndexScreen)
        ids = [screen.table.record_id_at(0), screen.table.record_id_at(1)]
        emails = {rid: app.crm.records.get("contacts", rid).properties["email"] for rid in ids}
        await pilot.press("space", "j", "space", "e")
        await settle(pilot)
        modal = app.screen
        assert isinstance(modal, BulkEditModal)
        modal.query_one("#property", Select).value = "email"
        await settle(pilot, 3)
        await pilot.press("ctrl+s")  # an empty value: it clears the emails, so it must ask and say so
        await settle(pilot)
        confirm = app.screen
        assert isinstance(confirm, ConfirmModal)
        assert "Clear Email on 2 contacts?" in confirm.question
        assert "2 of 2 will change" in confirm.question
        assert emails[ids[0]] in confirm.question
        await pilot.press("n")  # no: nothing written
        await settle(pilot)
        assert app.screen is screen
        assert all(app.crm.records.get("contacts", rid).properties["email"] == emails[rid] for rid in ids)

        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one("#property", Select).value = "jobtitle"
        await settle(pilot, 3)
        app.screen.query_one(PropertyForm).set_raw("jobtitle", "Roaster")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Set Job title to Roaster on 2 contacts?" in app.screen.question
        await pilot.press("y")
        await settle(pilot, 5)
        assert app.screen is screen
        assert all(app.crm.records.get("contacts", rid).properties["jobtitle"] == "Roaster" for rid in ids)
        assert any("u undoes" in n.message for n in app._notifications)

        await pilot.press("u")  # one key takes the whole bulk edit back
        await settle(pilot, 5)
        assert all(app.crm.records.get("contacts", rid).properties["jobtitle"] != "Roaster" for rid in ids)
        messages = [n.message for n in app._notifications]
        assert any(m.startswith("Undid bulk edit of 2 contacts") and "U redoes" in m for m in messages), messages
        assert "Roaster" not in [screen.pager.fetch(0, 1)[0][1]]

        await pilot.press("U")  # and redo puts it back
        await settle(pilot, 5)
        assert all(app.crm.records.get("contacts", rid).properties["jobtitle"] == "Roaster" for rid in ids)


async def test_escape_leaves_the_new_record_form_without_writing(demo_db):
    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n", *"Zed", "escape")
        await settle(pilot)
        assert not isinstance(app.screen, NewRecordModal)
        assert app.crm.records.count("contacts") == 300
