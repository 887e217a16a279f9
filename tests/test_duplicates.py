"""The duplicate finder and merge as HubSpot does it."""

from __future__ import annotations

import json

import pytest

from crm_tui.cli.main import main
from crm_tui.services.core import Crm
from crm_tui.services.duplicates import domain_key, email_key, phone_key


def test_keys():
    assert phone_key("+1 (555) 010-2030") == phone_key("555 010 2030") == phone_key("555.010.2030")
    assert phone_key("12") is None
    assert email_key("Jon.Smythe+crm@GoogleMail.com") == email_key("jonsmythe@gmail.com")
    assert email_key("jon.smythe@acme.com") != email_key("jonsmythe@acme.com")  # dots matter outside Gmail
    assert domain_key("www.acme.co.uk") == domain_key("acme.com") == domain_key("acme.de") == "acme"


@pytest.fixture
def planted(demo_db):
    with Crm.open(demo_db) as crm:
        r = crm.records
        ids = {
            "jon": r.create("contacts", {"firstname": "Jon", "lastname": "Smythe", "email": "jon.smythe@gmail.com",
                                         "lifecyclestage": "customer"}).id,
            "jonathan": r.create("contacts", {"firstname": "Jonathan", "lastname": "Smythe",
                                              "email": "jonathan@smythe.example", "lifecyclestage": "lead"}).id,
            "mira": r.create("contacts", {"firstname": "Mira", "lastname": "Okafor", "phone": "+44 20 7946 0018"}).id,
            "myra": r.create("contacts", {"firstname": "Myra", "lastname": "Okafor", "phone": "020 7946 0018"}).id,
            "other": r.create("contacts", {"firstname": "Pat", "lastname": "Quinn", "phone": "020 7946 0018"}).id,
        }
    return demo_db, ids


def pairs_of(crm, obj="contacts"):
    return {(p.a, p.b): p for p in crm.duplicates.find(obj).pairs}


def test_planted_near_duplicates_are_found_with_reasons(planted):
    db, ids = planted
    with Crm.open(db) as crm:
        found = pairs_of(crm)
        jon = found[(ids["jon"], ids["jonathan"])]
        assert "close names" in jon.reasons
        phone = found[(ids["mira"], ids["myra"])]
        assert "same phone number" in phone.reasons and phone.score > 0.7
        # a colleague on the same office line is not a duplicate
        assert (ids["mira"], ids["other"]) not in found and (ids["myra"], ids["other"]) not in found
        crm.duplicates.reject("contacts", ids["myra"], ids["mira"])
        assert (ids["mira"], ids["myra"]) not in pairs_of(crm)


def test_merge_keeps_the_furthest_stage_and_both_emails(planted):
    db, ids = planted
    with Crm.open(db) as crm:
        # the lead survives, the customer is merged into it: the stage is still Customer
        crm.merger.merge("contacts", ids["jonathan"], ids["jon"])
        survivor = crm.records.get("contacts", ids["jonathan"]).properties
        assert survivor["lifecyclestage"] == "customer"
        assert survivor["email"] == "jonathan@smythe.example"
        assert "jon.smythe@gmail.com" in survivor["hs_additional_emails"].split(";")
        # and undo brings both back as they were
        crm.journal.undo(crm.journal.list(limit=1)[0].id)
        assert crm.records.get("contacts", ids["jonathan"]).properties["lifecyclestage"] == "lead"
        assert not crm.records.get("contacts", ids["jonathan"]).properties.get("hs_additional_emails")
        assert crm.records.get("contacts", ids["jon"]).properties["email"] == "jon.smythe@gmail.com"


def test_companies_under_another_spelling(demo_db):
    with Crm.open(demo_db) as crm:
        a = crm.records.create("companies", {"name": "Quillon Ltd", "domain": "quillon.co.uk"}).id
        b = crm.records.create("companies", {"name": "Quillon", "domain": "www.quillon.com"}).id
        pair = pairs_of(crm, "companies")[(a, b)]
        assert {"same domain under another spelling", "same company name"} <= set(pair.reasons)


def test_command_line(planted, capsys):
    db, ids = planted
    assert main(["--db", str(db), "duplicates", "contacts", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"a", "b", "a_name", "b_name", "score", "reasons", "object"} == set(data[0])
    assert main(["--db", str(db), "duplicates", "contacts", "--reject", str(ids["jon"]), str(ids["jonathan"])]) == 0
    capsys.readouterr()
    assert main(["--db", str(db), "duplicates", "contacts", "--json"]) == 0
    assert not [p for p in json.loads(capsys.readouterr().out) if {p["a"], p["b"]} == {ids["jon"], ids["jonathan"]}]
    assert main(["--db", str(db), "duplicates", "notes"]) == 2


async def settle(pilot, times: int = 3) -> None:
    for _ in range(times):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_manage_duplicates_screen_merges_choosing_values_and_rejects(planted):
    from crm_tui.shell.app import CrmApp
    from textual.widgets import Static

    from screens.duplicates import DuplicatesScreen, MergeModal
    from screens.modals import ConfirmModal

    db, ids = planted
    app = CrmApp(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_duplicates("contacts")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DuplicatesScreen) and screen.pairs
        index = next(i for i, p in enumerate(screen.pairs) if (p.a, p.b) == (ids["jon"], ids["jonathan"]))
        screen.query_one("#pairs").move_cursor(row=index)
        await settle(pilot)
        compare = str(screen.query_one("#compare").render())
        assert "jon.smythe@gmail.com" in compare and "jonathan@smythe.example" in compare
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MergeModal)
        values = app.screen.query_one("#values")
        values.highlighted = next(i for i in range(values.option_count) if values.get_option_at_index(i).id == "firstname")
        title = str(app.screen.query(Static).first().render())
        assert f"(#{ids['jonathan']})" in title and f"(#{ids['jon']})" in title  # two namesakes told apart
        await pilot.press("right")  # take "Jonathan" from the right
        await pilot.press("escape")  # a value was chosen: asked first, no keeps the modal
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, MergeModal)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DuplicatesScreen)
        merged = app.crm.records.get("contacts", ids["jon"]).properties
        assert merged["firstname"] == "Jonathan" and merged["lifecyclestage"] == "customer"
        assert "jonathan@smythe.example" in merged["hs_additional_emails"]
        assert not any(ids["jonathan"] in (p.a, p.b) for p in app.screen.pairs)
        # reject the next pair: it is not offered again
        first = app.screen.pairs[0]
        app.screen.query_one("#pairs").move_cursor(row=0)
        await pilot.press("x")
        await settle(pilot)
        assert (first.a, first.b) not in {(p.a, p.b) for p in app.screen.pairs}
        await pilot.press("u")  # the merge is one operation: undo takes it back
        await settle(pilot)
        assert app.crm.records.get("contacts", ids["jonathan"]).properties["email"] == "jonathan@smythe.example"


def test_a_merged_away_record_is_not_in_the_recycle_bin_and_undo_not_restore_brings_it_back(planted):
    from crm_tui.domain.errors import InvalidValue

    db, ids = planted
    with Crm.open(db) as crm:
        before = crm.records.count("contacts", deleted=True)
        crm.merger.merge("contacts", ids["jonathan"], ids["jon"])
        assert crm.records.count("contacts", deleted=True) == before
        assert ids["jon"] not in {r["id"] for r in crm.records.list("contacts", deleted=True, limit=1000).rows}
        with pytest.raises(InvalidValue, match="merged into"):
            crm.records.restore("contacts", ids["jon"])
        crm.eraser.empty_bin()  # emptying the bin leaves it: it is not in the bin
        assert crm.records.exists(crm.registry.get("contacts"), ids["jon"], live=False)
        crm.journal.undo(crm.journal.list(limit=1)[0].id)
        assert crm.records.exists(crm.registry.get("contacts"), ids["jon"])
        crm.records.delete("contacts", ids["jon"])  # deleted plainly after that: in the bin as usual
        assert ids["jon"] in {r["id"] for r in crm.records.list("contacts", deleted=True, limit=1000).rows}
