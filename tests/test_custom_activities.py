"""Custom activity types (`schema apply` with `activity: true`): they land on the timeline with their
label, roll up to the primary company and open deals, move "Last activity date", count towards the
engagement cap, can be logged from the record screen's chooser, export and import; all on real
SQLite files."""

from __future__ import annotations

import csv
import json

import pytest

from crm_tui.cli.main import main
from crm_tui.domain import sources
from crm_tui.domain.errors import InvalidValue
from crm_tui.services.core import Crm
from crm_tui.services.schema_apply import apply_schema_file
from crm_tui.shell.app import CrmApp
from screens.record import RecordScreen
from screens.record_modals import ActionsMenu, ActivityModal, ChoiceModal
from widgets.timeline import Timeline, item_text

pytestmark = pytest.mark.backends("sqlite", "postgresql")

SMS_YAML = """\
objects:
  - name: sms
    label: SMS
    plural_label: SMS messages
    activity: true
    properties:
      - {name: sms_body, label: Message, type: textarea, required: true}
      - {name: sms_direction, label: Direction, type: select, options: [{name: in, label: Received}, {name: out, label: Sent}]}
  - name: linkedin_messages
    label: LinkedIn message
    activity: true
    properties:
      - {name: li_text, label: Text, type: text}
      - {name: hs_timestamp, label: Sent at, type: datetime}
"""


@pytest.fixture
def schema(tmp_path):
    path = tmp_path / "sms.yaml"
    path.write_text(SMS_YAML)
    return path


@pytest.fixture
def world(db_path, schema):
    """Ada at Acme (primary company) with an open deal; the SMS types applied."""
    with Crm.open(db_path, user_name="tester") as crm:
        apply_schema_file(crm, schema)
        acme = crm.records.create("companies", {"name": "Acme", "domain": "acme.test"}, sources.USER).id
        ada = crm.records.create("contacts", {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@acme.test"},
                                 sources.USER).id
        deal = crm.records.create("deals", {"dealname": "Big deal", "dealstage": "appointmentscheduled"}, sources.USER).id
        crm.assoc.add(("deals", deal), ("contacts", ada), source=sources.USER)
    return {"acme": acme, "ada": ada, "deal": deal}


def test_schema_apply_makes_activity_objects(db_path, world):
    with Crm.open(db_path) as crm:
        sms = crm.registry.get("sms")
        assert sms.is_activity and sms.kind == "activity" and sms.primary_property == "sms_body"
        assert "sms" in crm.activities.activity_objects()
        # the activity date and owner every activity has; standard (they cannot be deleted), the rest custom
        assert sms.prop("hs_timestamp").type == "datetime" and not sms.prop("hs_timestamp").is_custom
        assert sms.prop("hubspot_owner_id").type == "user" and not sms.prop("hubspot_owner_id").is_custom
        assert sms.prop("sms_body").is_custom
        assert crm.registry.get("linkedin_messages").prop("hs_timestamp").label == "Sent at"  # given: kept
        assert not sms.has_primary_company
        with pytest.raises(InvalidValue, match="standard property"):
            crm.datamodel.delete_property("sms", "hs_timestamp")


def test_undo_of_the_schema_apply_removes_the_activity_types(db_path, schema):
    with Crm.open(db_path) as crm:
        apply_schema_file(crm, schema)
        crm.journal.undo()
        assert "sms" not in crm.registry.objects and "sms" not in crm.activities.activity_objects()
        crm.journal.redo()
        assert crm.registry.get("sms").is_activity


@pytest.mark.parametrize("text, fragment", [
    ("objects:\n  - {name: wa, activity: yes please, properties: [{name: t}]}\n", "activity must be true or false"),
    ("objects:\n  - {name: wa, activity: true, properties: [{name: hs_timestamp, type: text}]}\n",
     "hs_timestamp must be of type datetime"),
    ("objects:\n  - {name: contacts, activity: true}\n", "is not an activity object already"),
    ("objects:\n  - {name: wa, activity: true}\n", "give at least one property"),
])
def test_bad_activity_objects_are_one_line_and_change_nothing(db_path, tmp_path, capsys, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["--db", str(db_path), "schema", "apply", str(path)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1
    with Crm.open(db_path) as crm:
        assert "wa" not in crm.registry.objects


def test_an_sms_logged_on_a_contact_is_on_its_timeline_and_moves_last_activity(db_path, world):
    with Crm.open(db_path) as crm:
        before = crm.records.get("contacts", world["ada"]).properties.get("notes_last_updated")
        crm.activities.log(("contacts", world["ada"]), "notes", {"hs_note_body": "older", "hs_timestamp": "2026-01-01 09:00"})
        result = crm.activities.log(("contacts", world["ada"]), "sms",
                                    {"sms_body": "Running [b]late[/b]", "sms_direction": "out",
                                     "hs_timestamp": "2026-02-01 10:00"}, source=sources.USER)
        # rolled up like the built-in five: the primary company and the open deal
        assert set(result.linked) == {("contacts", world["ada"]), ("companies", world["acme"]), ("deals", world["deal"])}
        for ref in result.linked:
            items = crm.activities.timeline(ref)
            assert (items[0].object, items[0].id, items[0].label, items[0].title) == ("sms", result.id, "SMS",
                                                                                      "Running [b]late[/b]")
            if ref[0] in ("contacts", "companies"):  # the objects with a "Last activity date"
                stamp = crm.records.get(*ref).properties.get("notes_last_updated")
                assert stamp == "2026-02-01T10:00:00.000000Z" != before
        text = str(item_text(items[0]))
        assert "SMS" in text and "Running [b]late[/b]" in text  # the type's label, the text literal
        assert crm.activities.count_for(("contacts", world["ada"])) == 2
        # the filter by type takes a user's type like any other
        assert [i.object for i in crm.activities.timeline(("contacts", world["ada"]), types=["sms"])] == ["sms"]
        # undo takes the SMS and its links back
        crm.journal.undo()
        assert [i.object for i in crm.activities.timeline(("contacts", world["ada"]))] == ["notes"]


def test_custom_activities_count_towards_the_engagement_cap(db_path, world):
    with Crm.open(db_path) as crm:
        crm.overrides["engagement_cap"] = 1
        crm.activities.log(("contacts", world["ada"]), "sms", {"sms_body": "one"})
        result = crm.activities.log(("contacts", world["ada"]), "notes", {"hs_note_body": "two"})
        assert ("contacts", world["ada"]) in result.skipped and "engagement cap of 1" in result.message


def test_command_line_log_timeline_export_and_import(db_path, world, tmp_path, capsys):
    def cli(*args, code=0):
        assert main(["--db", str(db_path), *args]) == code
        return capsys.readouterr().out

    cli("log", f"contacts:{world['ada']}", "sms", "sms_body=Call me", "hs_timestamp=2026-03-01 08:00")
    assert "SMS" in cli("timeline", f"contacts:{world['ada']}")
    out = tmp_path / "sms.csv"
    cli("export", "sms", "-o", str(out), "--hubspot")
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert rows[0]["Message"] == "Call me" and rows[0]["Associated Contact IDs"] == str(world["ada"])
    # an import of text messages linked by the contact's email: on the timeline, last activity moved
    source = tmp_path / "texts.csv"
    source.write_text("Message,Activity date,Email\nSee you at 5,2026-04-02 17:00,ada@acme.test\n")
    cli("import", str(source), "--object", "sms", "--link", "Email=contacts.email")
    got = json.loads(cli("record", "get", "contacts", str(world["ada"]), "--json"))
    assert got["properties"]["notes_last_updated"] == "2026-04-02T17:00:00.000000Z"
    titles = [i["title"] for i in json.loads(cli("timeline", f"contacts:{world['ada']}", "--json"))]
    assert titles[:2] == ["See you at 5", "Call me"]
    company = json.loads(cli("timeline", f"companies:{world['acme']}", "--json"))
    assert "See you at 5" in [i["title"] for i in company]  # rolled up by the import too
    # the exported file imports back with no change (round trip)
    assert "0 created, 0 updated" in cli("import", str(out), "--object", "sms")


async def test_the_log_chooser_lists_custom_types_and_logs_an_sms(db_path, world):
    app = CrmApp(db_path, crm=Crm.open(db_path, user_name="tester"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_record("contacts", world["ada"])
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen)
        await pilot.press("L")
        await pilot.pause()
        chooser = app.screen
        assert isinstance(chooser, ChoiceModal)
        labels = [label for _value, label in chooser.choices]
        assert "SMS" in labels and "LinkedIn message" in labels and "Note  (n)" in labels
        chooser.dismiss("sms")
        await pilot.pause()
        assert isinstance(app.screen, ActivityModal) and app.screen.meta.name == "sms"
        assert str(app.screen.query_one(".title").render()) == "Log SMS"  # the type's label as written
        app.screen.query_one("#pf-sms_body").focus()
        await pilot.press(*"On my way", "ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen)
        timeline = app.screen.query_one(Timeline)
        assert timeline.items[0].object == "sms"
        assert "SMS" in str(item_text(timeline.items[0])) and "On my way" in str(item_text(timeline.items[0]))
        # the actions menu (m) lists it too
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, ActionsMenu)
        assert ("log('sms')", "Log SMS") in app.screen.actions
        await pilot.press("escape")
    with Crm.open(db_path) as crm:
        stamp = crm.records.get("contacts", world["ada"]).properties["notes_last_updated"]
        assert stamp is not None
        ops = crm.journal.list(1)
        assert ops[0].kind == "log_activity" and ops[0].source == sources.USER
