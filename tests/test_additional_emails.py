"""A contact's additional emails (hs_additional_emails, filled by merges) find it as its primary
email does (issue 21 item 2): an import row with one of them updates that contact instead of
creating a duplicate, and a single create from the command line or the app offers the contact."""

from __future__ import annotations

import pytest

from crm_tui.cli.main import main
from crm_tui.importing import importer
from crm_tui.services.core import Crm

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def merged_contact(crm) -> int:
    """Ann (ann@acme.example) with Annie's ann.old@mail.example kept as an additional email."""
    keep = crm.records.create("contacts", {"email": "ann@acme.example", "firstname": "Ann"}).id
    other = crm.records.create("contacts", {"email": "Ann.Old@mail.example", "firstname": "Annie"}).id
    crm.merger.merge("contacts", keep, other)
    assert "ann.old@mail.example" in crm.records.get("contacts", keep).properties["hs_additional_emails"]
    return keep


def contacts(crm) -> int:
    return crm.records.count("contacts")


def test_an_import_row_with_an_additional_email_updates_that_contact(crm, tmp_path):
    keep = merged_contact(crm)
    crm.records.create("contacts", {"email": "bob@acme.example", "hs_additional_emails": "bo@old.example; b@x.example"})
    before = contacts(crm)
    path = tmp_path / "people.csv"
    path.write_text("Email,First Name,Job Title\nANN.OLD@mail.example,Ann,Buyer\nb@x.example,Bob,Chef\n"
                    "new@acme.example,Nia,Clerk\n", encoding="utf-8")
    result = importer.run_import(crm, importer.plan_import(crm, path))
    assert contacts(crm) == before + 1  # only Nia is new
    assert result.created.get("contacts") == 1 and result.updated.get("contacts") == 2
    ann = crm.records.get("contacts", keep).properties
    assert (ann["email"], ann["jobtitle"]) == ("ann@acme.example", "Buyer")  # its primary email stays
    # a second run changes nothing
    again = importer.run_import(crm, importer.plan_import(crm, path))
    assert contacts(crm) == before + 1 and not again.created.get("contacts") and not again.updated.get("contacts")


def test_a_primary_email_wins_over_an_additional_one(crm, tmp_path):
    crm.records.create("contacts", {"email": "a@x.example", "hs_additional_emails": "b@x.example"})
    b = crm.records.create("contacts", {"email": "b@x.example"}).id
    path = tmp_path / "one.csv"
    path.write_text("Email,Job Title\nb@x.example,Chef\n", encoding="utf-8")
    importer.run_import(crm, importer.plan_import(crm, path))
    assert crm.records.get("contacts", b).properties["jobtitle"] == "Chef"


def test_an_additional_email_written_by_the_import_finds_its_contact_later_in_the_file(crm, tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("Email,Additional emails,Job Title\nc@x.example,c2@x.example,\n", encoding="utf-8")
    spec = importer.plan_import(crm, path)
    importer.apply_map_args(crm, spec, ["Additional emails=hs_additional_emails"])
    importer.run_import(crm, spec)
    later = tmp_path / "three.csv"
    later.write_text("Email,Job Title\nc2@x.example,Chef\n", encoding="utf-8")
    before = contacts(crm)
    importer.run_import(crm, importer.plan_import(crm, later))
    assert contacts(crm) == before


def test_a_single_create_with_an_additional_email_updates_the_contact_and_says_so(crm):
    keep = merged_contact(crm)
    assert crm.records.find_existing("contacts", {"email": "ann.old@mail.example"}) == keep
    result = crm.records.create("contacts", {"email": "ann.old@mail.example", "jobtitle": "CFO"})
    assert result.id == keep and "additional email" in result.message
    ann = crm.records.get("contacts", keep).properties
    assert (ann["email"], ann["jobtitle"]) == ("ann@acme.example", "CFO")
    assert crm.records.for_existing("contacts", keep, {"email": "ann.old@mail.example", "jobtitle": "x"}) == {"jobtitle": "x"}
    assert crm.records.for_existing("contacts", keep, {"email": "ann@acme.example"}) == {"email": "ann@acme.example"}


def test_the_command_line_create_finds_the_contact_by_an_additional_email(db_path, capsys):
    with Crm.open(db_path) as crm:
        keep = merged_contact(crm)
        before = contacts(crm)
    capsys.readouterr()
    assert main(["--db", str(db_path), "record", "create", "contacts", "email=ann.old@mail.example", "lastname=Ode"]) == 0
    assert "additional email" in capsys.readouterr().out
    with Crm.open(db_path) as crm:
        assert contacts(crm) == before
        assert crm.records.get("contacts", keep).properties["lastname"] == "Ode"


async def test_the_new_contact_form_offers_the_contact_holding_the_additional_email(demo_db):
    from crm_tui.shell.app import CrmApp
    from screens.index_modals import NewRecordModal
    from screens.modals import ExistingRecordModal
    from widgets.property_form import PropertyForm

    with Crm.open(demo_db) as crm:
        keep = merged_contact(crm)
        before = contacts(crm)
    app = CrmApp(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(3):
            await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, NewRecordModal)
        form = modal.query_one(PropertyForm)
        form.set_raw("email", "ann.old@mail.example")
        form.set_raw("jobtitle", "CFO")
        await pilot.pause()
        await pilot.press("ctrl+s")
        for _ in range(3):
            await pilot.pause()
        offer = app.screen
        assert isinstance(offer, ExistingRecordModal)
        assert "additional email ann.old@mail.example" in offer.question
        assert "Email" not in offer.diff and "CFO" in offer.diff  # the primary email is not offered for change
        await pilot.press("u")
        for _ in range(3):
            await pilot.pause()
        ann = app.crm.records.get("contacts", keep).properties
        assert (ann["email"], ann["jobtitle"]) == ("ann@acme.example", "CFO")
        assert contacts(app.crm) == before
