"""Archived properties (issue 21): kept with their values and history, hidden from forms, column
choosers, filter pickers, import mapping and export until restored; undoable; the properties the
app needs cannot be archived. Core on both engines, command line, copy, migration and the app."""

from __future__ import annotations

import csv
import sqlite3

import pytest

from crm_tui.cli.main import main
from crm_tui.domain.errors import CrmError, InvalidValue
from crm_tui.importing.exporter import export_view
from crm_tui.importing.importer import apply_map_args, plan_import, run_import
from crm_tui.services.core import Crm
from crm_tui.services.paging import ViewSpec
from crm_tui.services.views import available_columns, default_columns
from crm_tui.storage import db as dbmod

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def test_an_archived_property_keeps_its_values_is_hidden_and_comes_back(crm):
    from widgets.property_form import form_properties

    rec = crm.records.create("contacts", {"email": "ann@x.example", "jobtitle": "Buyer"}).id
    crm.datamodel.archive_property("contacts", "jobtitle")
    meta = crm.registry.get("contacts")
    assert meta.properties["jobtitle"].archived
    assert crm.records.get("contacts", rec).properties["jobtitle"] == "Buyer"  # the value stays
    assert "jobtitle" not in form_properties(meta)
    assert "jobtitle" not in available_columns(crm, meta)
    assert "jobtitle" not in default_columns(meta)
    with pytest.raises(InvalidValue, match="already archived"):
        crm.datamodel.archive_property("contacts", "jobtitle")
    # undo takes the archive back, redo archives again; restore shows it again
    crm.journal.undo(crm.journal.list(limit=1)[0].id)
    assert not crm.registry.get("contacts").properties["jobtitle"].archived
    crm.journal.redo()
    assert crm.registry.get("contacts").properties["jobtitle"].archived
    crm.datamodel.archive_property("contacts", "jobtitle", archived=False)
    meta = crm.registry.get("contacts")
    assert not meta.properties["jobtitle"].archived and "jobtitle" in form_properties(meta)
    # its history stayed throughout
    assert any(c.property == "jobtitle" for c in crm.history.property_history("contacts", rec))


@pytest.mark.parametrize("obj,name", [("contacts", "email"), ("contacts", "firstname"), ("companies", "name"),
                                      ("companies", "domain"), ("deals", "dealname"), ("deals", "dealstage"),
                                      ("deals", "pipeline"), ("tickets", "hs_pipeline_stage"),
                                      ("contacts", "lifecyclestage"), ("contacts", "hs_additional_emails"),
                                      ("deals", "amount"), ("contacts", "createdate")])
def test_properties_the_app_needs_cannot_be_archived(crm, obj, name):
    with pytest.raises(CrmError) as info:
        crm.datamodel.archive_property(obj, name)
    assert "\n" not in str(info.value)
    assert not crm.registry.get(obj).properties[name].archived


def test_an_import_column_of_an_archived_property_is_skipped_and_said(crm, tmp_path):
    crm.datamodel.archive_property("contacts", "jobtitle")
    path = tmp_path / "people.csv"
    path.write_text("Email,Job Title\nann@x.example,Buyer\n", encoding="utf-8")
    spec = plan_import(crm, path)
    col = next(c for c in spec.columns if c.header == "Job Title")
    assert col.skipped and "archived" in col.reason
    result = run_import(crm, spec)
    assert any("Job Title" in s and "archived" in s for s in result.skipped_columns)
    assert not any(p.startswith("job_title") for p in crm.registry.get("contacts").properties)  # not recreated
    model = crm.registry.get("contacts").model
    ids = [r for (r,) in model.select(model.id).where(model.email == "ann@x.example").tuples()]
    assert len(ids) == 1 and crm.records.get("contacts", ids[0]).properties.get("jobtitle") is None
    # mapped by hand: refused in one line
    spec = plan_import(crm, path)
    with pytest.raises(Exception, match="archived"):
        apply_map_args(crm, spec, ["Job Title=jobtitle"])


def test_export_leaves_an_archived_property_out_unless_every_property_is_asked_for(crm, tmp_path):
    crm.records.create("contacts", {"email": "ann@x.example", "firstname": "Ann", "jobtitle": "Buyer"})
    crm.datamodel.archive_property("contacts", "jobtitle")
    plain = tmp_path / "plain.csv"
    export_view(crm, "contacts", str(plain), fmt="csv", view=ViewSpec("contacts", ["firstname", "email", "jobtitle"]))
    with open(plain, encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    label = crm.registry.get("contacts").properties["jobtitle"].label
    assert label not in header and "Email" in header
    every = tmp_path / "every.csv"
    export_view(crm, "contacts", str(every), fmt="csv", all_properties=True)
    with open(every, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0][label] == "Buyer"


def test_command_line_archives_and_restores_and_refuses_in_one_line(db_path, capsys):
    assert main(["--db", str(db_path), "schema", "archive-property", "contacts", "jobtitle"]) == 0
    assert "Archived property" in capsys.readouterr().out
    assert main(["--db", str(db_path), "schema"]) == 0
    assert "[archived]" in capsys.readouterr().out
    assert main(["--db", str(db_path), "schema", "archive-property", "contacts", "email"]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot be archived" in err and "\n" not in err
    assert main(["--db", str(db_path), "schema", "restore-property", "contacts", "jobtitle"]) == 0
    with Crm.open(db_path) as crm:
        assert not crm.registry.get("contacts").properties["jobtitle"].archived
    assert main(["--db", str(db_path), "schema", "restore-property", "contacts", "nosuch"]) == 2


def test_record_commands_and_workflows_refuse_an_archived_property_in_one_line(db_path, capsys):
    import yaml

    assert main(["--db", str(db_path), "record", "create", "contacts", "email=a@acme.example"]) == 0
    assert main(["--db", str(db_path), "schema", "archive-property", "contacts", "jobtitle"]) == 0
    capsys.readouterr()
    for argv in (["record", "update", "contacts", "1", "jobtitle=CEO"],
                 ["record", "create", "contacts", "email=b@acme.example", "jobtitle=CEO"]):
        assert main(["--db", str(db_path), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert "contacts.jobtitle is archived" in err and "\n" not in err
    with Crm.open(db_path) as crm:
        assert crm.records.count("contacts") == 1
        assert crm.records.get("contacts", 1).properties.get("jobtitle") is None
        with pytest.raises(CrmError, match="jobtitle is archived"):
            crm.workflows.apply(yaml.safe_load(
                "workflows:\n  - name: Title\n    object: contacts\n    when: {changed: email}\n"
                "    do:\n      - set: {jobtitle: Buyer}\n"))
        crm.records.update("contacts", 1, {"email": "a2@acme.example"})  # other properties as before


def test_copy_carries_the_flag(db_path, tmp_path, backend):
    if backend != "sqlite":
        pytest.skip("the copy's own suite covers the server; one engine is enough here")
    with Crm.open(db_path) as crm:
        crm.datamodel.archive_property("companies", "industry")
    target = tmp_path / "copy.db"
    assert main(["copy", str(db_path), str(target)]) == 0
    with Crm.open(target) as crm:
        assert crm.registry.get("companies").properties["industry"].archived


def test_a_schema_6_database_gets_the_flag(db_path, backend):
    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "ann@x.example"})
        crm.db.execute_sql("ALTER TABLE property_def DROP COLUMN archived")
        from crm_tui.storage import dialect

        if backend == "sqlite":
            crm.db.execute_sql("PRAGMA user_version = 6")
        else:
            dialect.write_version(crm.db, dbmod.APPLICATION_ID, 6)
    with Crm.open(db_path) as crm:
        assert "archived" in {c.name for c in crm.db.get_columns("property_def")}
        assert not crm.registry.get("contacts").properties["jobtitle"].archived
        crm.datamodel.archive_property("contacts", "jobtitle")
        assert crm.registry.get("contacts").properties["jobtitle"].archived
    if backend == "sqlite":
        conn = sqlite3.connect(db_path)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION
        conn.close()


async def test_a_property_archived_from_the_app_leaves_the_form_and_the_pickers(demo_db):
    """Done when: a property archived from the app (Data model, a, asked first) shows dimmed in an
    Archived group, is gone from the new-record form, the column chooser and the filter picker, and
    comes back with a again; u undoes."""
    from crm_tui.shell.app import CrmApp
    from screens.index_modals import ColumnsModal, FilterModal, NewRecordModal
    from screens.modals import ConfirmModal

    from tests.test_datamodel_screen import data_model_at, settle

    app = CrmApp(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await data_model_at(pilot, app, "contacts", "prop:jobtitle")
        details = screen.query_one("#details")
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")  # asked first: no changes nothing
        await settle(pilot)
        assert not app.crm.registry.get("contacts").properties["jobtitle"].archived
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.crm.registry.get("contacts").properties["jobtitle"].archived
        prompts = [(o.id, o.prompt) for o in details._options]
        ids = [i for i, _p in prompts]
        archived_at = [str(p) for _i, p in prompts].index("Archived")
        assert ids.index("prop:jobtitle") > archived_at
        assert "dim" in str(dict(prompts)["prop:jobtitle"].style)
        # the new-record form, the column chooser and the filter picker no longer offer it
        form = NewRecordModal(app.crm, "contacts")
        app.push_screen(form)
        await settle(pilot)
        assert not form.query("#pf-jobtitle") and form.query("#pf-email")
        form.dismiss(None)
        await settle(pilot)
        columns = ColumnsModal(app.crm, "contacts", ["email"])
        app.push_screen(columns)
        await settle(pilot)
        assert "jobtitle" not in [item[0] for item in columns.query_one("#columns").items]
        columns.dismiss(None)
        await settle(pilot)
        assert "jobtitle" not in [value for _label, value in FilterModal(app.crm, "contacts")._property_options()]
        # restored with a again (asked), then the restore undone with u
        details.highlighted = [o.id for o in details._options].index("prop:jobtitle")
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert not app.crm.registry.get("contacts").properties["jobtitle"].archived
        assert "Archived" not in [str(o.prompt) for o in details._options]
        await pilot.press("u")
        await settle(pilot, 5)
        assert app.crm.registry.get("contacts").properties["jobtitle"].archived


def test_a_hubspot_export_column_of_an_archived_property_is_skipped_and_said(crm, tmp_path):
    from crm_tui.importing import hubspot

    crm.datamodel.archive_property("contacts", "jobtitle")
    path = tmp_path / "hubspot-contacts.csv"
    path.write_text("Record ID,Email,Job Title,Create Date\n7,ann@x.example,Buyer,2024-01-02\n", encoding="utf-8")
    spec = plan_import(crm, path)
    assert isinstance(spec, hubspot.HubSpotSpec)
    col = next(c for c in spec.columns if c.header == "Job Title")
    assert col.skipped and "archived" in col.reason
    assert not [p for p in spec.facts.new_properties if p.header == "Job Title"]
    result = run_import(crm, spec)
    assert any("Job Title" in s and "archived" in s for s in result.skipped_columns)
    assert not any(p.startswith("job_title") for p in crm.registry.get("contacts").properties)
