"""A HubSpot account moves in with one command: recognition of HubSpot exports (several export
languages), folders and zips as one import, links across files, re-import and undo."""

from __future__ import annotations

import json
import shutil

import pytest

from crm_tui.cli import main as cli
from crm_tui.services.core import Crm
from crm_tui.importing import bundle, hubspot, importer
from crm_tui.importing import undo as import_journal

from . import hubspot_fixture as fx
from .conftest import needs_shared_data


def local_ids(crm) -> dict[tuple[str, str], int]:
    """(object, HubSpot Record ID) -> this CRM's id."""
    ExternalId = crm.models.ExternalId
    return {(e.object, e.external_id): e.record_id
            for e in ExternalId.select().where(ExternalId.source_system == hubspot.SOURCE)}


def links_by_hubspot_id(crm) -> dict[tuple[str, str], set]:
    Association = crm.models.Association
    ids = local_ids(crm)
    back = {(obj, rid): hid for (obj, hid), rid in ids.items()}
    names = {m.id: m.name for m in crm.registry.objects.values()}
    out: dict = {}
    for a in Association.select():
        a_ref = back[(names[a.from_object], a.from_id)]
        b_ref = back[(names[a.to_object], a.to_id)]
        out.setdefault((names[a.from_object], a_ref), set()).add((names[a.to_object], b_ref))
    return out


def snapshot(crm) -> dict:
    """Every record, link, label, owner, property and history row, for 'changes nothing'."""
    db = crm.db
    out = {}
    for meta in crm.registry.objects.values():
        out[meta.name] = db.execute_sql(f'SELECT * FROM "{meta.table}" ORDER BY id').fetchall()
    for table in ("association", "association_label", "association_change", "property_change", "owner",
                  "property_def", "external_id"):
        out[table] = db.execute_sql(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()
    return out


def import_cli(db_path, path, *extra) -> int:
    return cli.main(["--db", str(db_path), "import", str(path), *extra])


def check_portal(crm) -> None:
    """Everything of tests/hubspot_fixture.py is in: records, links, primaries, owners, custom
    columns, dates and dropdown values."""
    Owner = crm.models.Owner
    for obj, n in fx.EXPECTED["counts"].items():
        assert crm.records.count(obj) == n, obj
    assert links_by_hubspot_id(crm) == fx.EXPECTED["links"]
    ids = local_ids(crm)
    for (obj, hid), company in fx.EXPECTED["primary"].items():
        assert crm.assoc.primary_company((obj, ids[(obj, hid)])) == ids[("companies", company)], (obj, hid)
    owners = {o.name: o.id for o in Owner.select()}
    assert fx.EXPECTED["owners"] <= set(owners)
    ann = crm.records.get("contacts", ids[("contacts", "201001")]).properties
    assert ann["hubspot_owner_id"] == owners["Worpaaeg Whjzqscokhf"]
    assert ann["client_grade"] == "A Clients (High-Volume, Re-engage Every 7 Days)"
    assert ann["last_engagement_date"].startswith("2024-12-04T13:21")  # 12/4/24 13:21, month first
    assert ann["createdate"].startswith("2024-02-05T01:51")
    assert ann["phone"] is None  # `null`
    assert ann["lifecyclestage"] == "customer" and ann["hs_lead_status"] == "OPEN_DEAL"
    acme = crm.records.get("companies", ids[("companies", "101001")]).properties
    assert acme["company_type"] == "AMC Contact" and acme["zip"] == "02134"  # the standard Postal code (text): leading zero kept
    assert acme["annualrevenue"] == 10000000 and acme["domain"] == "acme.com"
    deal = crm.records.get("deals", ids[("deals", "301001")]).properties
    assert deal["dealstage"] == "closedwon" and deal["pipeline"] == "default" and deal["amount"] == 12500.5
    assert deal["closedate"] == "2024-06-30" and deal["forecast_category"] == "Commit"
    assert deal["hubspot_owner_id"] == owners["Worpaaeg Whjzqscokhf"]
    ticket = crm.records.get("tickets", ids[("tickets", "401001")]).properties
    assert ticket["hs_pipeline_stage"] == "2" and ticket["hs_ticket_priority"] == "HIGH"
    assert ticket["hubspot_owner_id"] == owners["Ana Souza"]


# ------------------------------------------------------------------ the done test: a folder, a zip, again, undo

def test_a_portal_folder_moves_in_with_no_flags_and_a_second_run_changes_nothing(db_path, tmp_path, capsys):
    folder = fx.write_portal(tmp_path / "portal")
    assert import_cli(db_path, folder) == 0
    out = capsys.readouterr().out
    assert "0 failed, 0 link problems" in out.splitlines()[0]
    assert "Associated Line Item IDs" in out and "Associated Form Submission IDs" in out  # reported, skipped
    with Crm.open(db_path) as crm:
        check_portal(crm)
        before = snapshot(crm)
        import_id = import_journal.list_imports(crm)[0].id
        assert len(import_journal.list_imports(crm)) == 1  # the files are one import
    assert import_cli(db_path, folder) == 0
    assert " 0 created, 0 updated, 11 unchanged, 0 linked" in capsys.readouterr().out
    with Crm.open(db_path) as crm:
        assert snapshot(crm) == before
    assert cli.main(["--db", str(db_path), "import", "undo", str(import_id)]) == 0
    with Crm.open(db_path) as crm:
        for obj in fx.EXPECTED["counts"]:
            assert crm.records.count(obj) == 0
        assert crm.models.Association.select().count() == 0
        assert not fx.EXPECTED["owners"] & {o.name for o in crm.models.Owner.select()}  # the owners it created
        assert not crm.models.PropertyDef.select().where(crm.models.PropertyDef.name.in_(
            ["client_grade", "company_type", "forecast_category", "last_engagement_date"])).exists()
        assert crm.models.ExternalId.select().count() == 0
        assert "client_grade" not in crm.registry.get("contacts").properties


def test_the_same_portal_as_a_zip(db_path, tmp_path, capsys):
    path = fx.write_zip(tmp_path / "hubspot-crm-exports.zip")
    assert import_cli(db_path, path) == 0
    with Crm.open(db_path) as crm:
        check_portal(crm)
        before = snapshot(crm)
    assert import_cli(db_path, path) == 0
    with Crm.open(db_path) as crm:
        assert snapshot(crm) == before


@pytest.mark.parametrize("lang", ["es", "fr", "de", "pt"])
def test_exports_in_other_languages_are_recognised(db_path, tmp_path, lang):
    folder = fx.write_portal(tmp_path / "portal", lang=lang)
    with Crm.open(db_path) as crm:
        spec = importer.plan_import(crm, folder / "deals.csv")
        assert isinstance(spec, hubspot.HubSpotSpec) and spec.objects == ["deals"] and spec.id_source == "hubspot"
    assert import_cli(db_path, folder) == 0
    with Crm.open(db_path) as crm:
        for obj, n in fx.EXPECTED["counts"].items():
            assert crm.records.count(obj) == n, obj
        assert links_by_hubspot_id(crm) == fx.EXPECTED["links"]
        ids = local_ids(crm)
        for (obj, hid), company in fx.EXPECTED["primary"].items():
            assert crm.assoc.primary_company((obj, ids[(obj, hid)])) == ids[("companies", company)]
        assert fx.EXPECTED["owners"] <= {o.name for o in crm.models.Owner.select()}
        ann = crm.records.get("contacts", ids[("contacts", "201001")]).properties
        assert ann["firstname"] == "Ann" and ann["email"] == "ann@acme.com"
        assert ann["createdate"].startswith("2024-02-05T01:51")


def test_translated_headers():
    assert hubspot.english("Fecha de creación") == "Create Date"
    assert hubspot.english("ID des entreprises associées (principale)") == "Associated Company IDs (Primary)"
    assert hubspot.english("Zugeordnete Kontakt-IDs") == "Associated Contact IDs"
    assert hubspot.english("IDs de negócios associados") == "Associated Deal IDs"
    assert hubspot.english("Datensatz-ID - Unternehmen") == "Record ID - Company"
    assert hubspot.english("Create Date (2)") == "Create Date (2)"
    assert hubspot.english("Favourite colour") == "Favourite colour"
    assert hubspot.english("Aanmaakdatum") == "Create Date" and hubspot.english("Data di creazione") == "Create Date"
    assert hubspot.english("レコードID") == "Record ID" and hubspot.english("作成日") == "Create Date"
    assert hubspot.recognise(["レコードID", "Eメール", "作成日"]) is not None


def test_recognised_by_headers_not_by_file_name(crm, tmp_path):
    plain = tmp_path / "hubspot-contacts.csv"
    plain.write_text("Record ID,Email,Associated Company IDs\n7,a@x.org,\n", encoding="utf-8")
    assert hubspot.recognise(["Record ID", "Email", "Associated Company IDs"]) is None
    assert not isinstance(importer.plan_import(crm, plain), hubspot.HubSpotSpec)
    assert hubspot.recognise(["Record ID", "Email", "Create Date"]) is not None
    assert hubspot.recognise(["ID de registro", "Correo"]) is not None
    # crm-tui's own export (property labels, "Create date") keeps this CRM's Record IDs
    assert hubspot.recognise(["Record ID", "Email", "Create date", "Last modified date"]) is None
    assert hubspot.recognise(["Email", "Create Date"]) is None  # no Record ID
    assert hubspot.recognise(["Contact ID", "Email", "Create Date"]) is not None  # an older HubSpot export


def test_one_hubspot_file_needs_no_ids_flag_and_links_on_both_sides(db_path, tmp_path, capsys):
    folder = fx.write_portal(tmp_path / "portal")
    assert import_cli(db_path, folder / "companies.csv") == 0
    assert import_cli(db_path, folder / "contacts.csv") == 0  # links to the companies by HubSpot ID
    with Crm.open(db_path) as crm:
        ids = local_ids(crm)
        assert len([k for k in ids if k[0] == "contacts"]) == 4
        bob = ids[("contacts", "201002")]
        assert sorted(crm.assoc.linked_ids(("contacts", bob), "companies")) == sorted(
            [ids[("companies", "101001")], ids[("companies", "101002")]])
        assert crm.assoc.primary_company(("contacts", bob)) == ids[("companies", "101002")]
        # the companies file named contacts, deals and tickets before they existed: reported, not linked
        assert import_journal.list_imports(crm)[1].counts["link_problems"] == 9
    capsys.readouterr()
    assert import_cli(db_path, folder / "companies.csv") == 0  # now both sides are in: one link each
    assert "0 linked, 0 failed, 5 link problems" in capsys.readouterr().out  # deals and tickets only
    with Crm.open(db_path) as crm:
        assert crm.models.Association.select().count() == 2 * 5  # five company-contact links, two edges each


def test_two_object_export_creates_and_links_both(crm, tmp_path):
    path = fx.write_two_object(tmp_path / "contacts-with-companies.csv")
    spec = importer.plan_import(crm, path)
    assert spec.objects == ["contacts", "companies"] and spec.id_source == "hubspot"
    by_header = {c.header: (c.object, c.target) for c in spec.columns}
    assert by_header["Record ID - Contact"] == ("contacts", "@id")
    assert by_header["Record ID - Company"] == ("companies", "@id")
    assert by_header["Company Name"] == ("contacts", "company")  # the contact's text property
    assert by_header["Company name (2)"] == ("companies", "name")  # csvread's name for the repeated column
    assert by_header["Create Date (2)"] == ("companies", "createdate")
    result = importer.run_import(crm, spec)
    assert result.failed == 0 and result.created == {"contacts": 4, "companies": 2}
    assert result.warnings == ["new owners: Worpaaeg Whjzqscokhf"]  # repeated column names are expected
    ids = local_ids(crm)
    tek = ids[("companies", "21526623102")]
    assert crm.records.get("companies", tek).properties["city"] == "Austin"
    assert crm.records.get("companies", tek).properties["createdate"].startswith("2024-06-20T15:03")
    for contact in ("31833029667", "8310"):
        assert crm.assoc.primary_company(("contacts", ids[("contacts", contact)])) == tek
    assert crm.assoc.linked_ids(("contacts", ids[("contacts", "1415")]), "companies") == []
    assert crm.records.get("contacts", ids[("contacts", "8310")]).properties["phone"] is None  # null
    before = snapshot(crm)
    again = importer.run_import(crm, importer.plan_import(crm, path))
    assert again.created == {} and again.updated == {} and again.linked == 0 and again.failed == 0
    assert snapshot(crm) == before


def test_dry_run_of_a_folder_writes_nothing_and_lists_the_plan(db_path, tmp_path, capsys):
    folder = fx.write_portal(tmp_path / "portal")
    with Crm.open(db_path) as crm:
        before = snapshot(crm)
    assert import_cli(db_path, folder, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "new owners (3): Ana Souza, Sir Whjzqscokhf, Worpaaeg Whjzqscokhf" in out
    assert "contacts.client_grade (text) from column 'Client Grade'" in out
    assert "dry run (nothing written): 4 file(s), 11 rows: 11 created" in out
    with Crm.open(db_path) as crm:
        assert snapshot(crm) == before
        assert "client_grade" not in crm.registry.get("contacts").properties


def test_files_go_in_dependency_order_whatever_their_names(crm, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    for name, rows in (("a-tickets.csv", fx.TICKETS), ("b-deals.csv", fx.DEALS), ("c-contacts.csv", fx.CONTACTS),
                       ("d-companies.csv", fx.COMPANIES)):
        (folder / name).write_text(fx.csv_text(rows), encoding="utf-8")
    (folder / "readme.txt").write_text("not a csv export\n", encoding="utf-8")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    plan = bundle.plan_path(crm, folder)
    assert [f.spec.objects[0] for f in plan.files if f.spec] == ["companies", "contacts", "deals", "tickets"]
    assert any("readme.txt" in p for p in plan.problems) and any("notes.pdf" in p for p in plan.problems)
    result = bundle.run_plan(crm, plan)
    assert result.counts()["failed"] == 0 and result.counts()["link_problems"] == 0
    assert links_by_hubspot_id(crm) == fx.EXPECTED["links"]


def test_a_broken_file_in_a_folder_is_reported_and_the_rest_goes_in(crm, tmp_path):
    folder = fx.write_portal(tmp_path / "portal")
    (folder / "empty.csv").write_text("", encoding="utf-8")
    plan = bundle.plan_path(crm, folder)
    assert any(p.startswith("empty.csv:") for p in plan.problems)
    result = bundle.run_plan(crm, plan)
    assert result.counts()["created"] == 11


def test_a_zip_member_cannot_write_outside_the_temporary_folder(crm, tmp_path):
    import zipfile

    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../../escaped.csv", fx.csv_text(fx.COMPANIES))
    plan = bundle.plan_path(crm, path)
    try:
        assert plan.files[0].path.startswith(plan._tmp.name)
    finally:
        plan.close()
    assert not (tmp_path.parent / "escaped.csv").exists()


def test_cli_json_and_undo_of_a_single_hubspot_file(db_path, tmp_path, capsys):
    folder = fx.write_portal(tmp_path / "portal")
    assert import_cli(db_path, folder / "deals.csv", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["created"] == 2 and data["import_id"]
    assert "deals.forecast_category (text)" in data["new_properties"]  # said as any import says it
    assert "new owners: Worpaaeg Whjzqscokhf, Ana Souza" in data["warnings"]
    assert cli.main(["--db", str(db_path), "import", "undo", str(data["import_id"])]) == 0
    with Crm.open(db_path) as crm:
        assert crm.records.count("deals") == 0
        assert "forecast_category" not in crm.registry.get("deals").properties


def test_explicit_local_ids_are_respected(db_path, tmp_path):
    folder = fx.write_portal(tmp_path / "portal")
    # no such local Record IDs: every row fails, and an import in which every row failed exits 1
    assert import_cli(db_path, folder / "deals.csv", "--ids", "local") == 1
    with Crm.open(db_path) as crm:
        assert crm.records.count("deals") == 0


def test_real_hubspot_exports_when_present(db_path, tmp_path, capsys):
    companies = needs_shared_data("real-exports", "Shaftdog__Salesmod__Hubspot.csv")
    contacts = needs_shared_data("real-exports", "Shaftdog__Salesmod__hubspot_contacts.csv")
    folder = tmp_path / "real"
    folder.mkdir()
    shutil.copy(companies, folder)
    shutil.copy(contacts, folder)
    assert import_cli(db_path, folder) == 0
    assert "0 failed" in capsys.readouterr().out
    with Crm.open(db_path) as crm:
        assert crm.records.count("contacts") == 29
        before = snapshot(crm)
    assert import_cli(db_path, folder) == 0
    with Crm.open(db_path) as crm:
        assert snapshot(crm) == before


# ------------------------------------------------------------------ the wizard

async def test_wizard_shows_the_plan_of_a_folder_before_writing_then_imports_it(db_path, tmp_path):
    from textual.widgets import Input, Static

    from crm_tui.shell.app import CrmApp
    from screens.import_wizard import ImportWizardScreen

    folder = fx.write_portal(tmp_path / "portal")
    with Crm.open(db_path) as crm:
        before = snapshot(crm)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = ImportWizardScreen()
        app.push_screen(screen)
        await pilot.pause(0.2)
        screen.query_one("#path", Input).value = str(folder)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        plan = str(screen.query_one("#plan", Static).render())
        order = [plan.index(f"{name}.csv: {name}") for name in ("companies", "contacts", "deals", "tickets")]
        assert order == sorted(order)  # the files in dependency order, each with its object
        assert "contacts.client_grade (text) from column 'Client Grade'" in plan
        assert "deals.forecast_category (text)" in plan
        assert "new owners (3): Ana Souza, Sir Whjzqscokhf, Worpaaeg Whjzqscokhf" in plan
        assert "Associated Line Item IDs: associations with line item records" in plan  # a problem found
        assert snapshot(app.crm) == before  # nothing written by showing the plan
        await pilot.press("f2")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        result = str(screen.query_one("#result", Static).render())
        assert "dry run" in result and "11 created" in result
        assert snapshot(app.crm) == before
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        result = str(screen.query_one("#result", Static).render())
        assert "import " in result and "11 created" in result and "15 linked" in result
        check_portal(app.crm)


def test_fast_paths_give_what_the_full_parsers_give(crm):
    """The short-date and plain-digit shortcuts of hubspot.typed_converter against the full path
    (records.coerce_value, which parses dates with values.parse_date), on valid and invalid cells alike."""
    from crm_tui.domain.errors import InvalidValue

    meta = crm.registry.get("deals")
    crm.registry.add_property("deals", {"name": "when", "type": "datetime"})
    crm.registry.add_property("deals", {"name": "score", "type": "number"})
    meta = crm.registry.get("deals")
    cells = [f"{m}/{d}/{y}{t}" for m in (0, 1, 2, 9, 12, 13) for d in (0, 1, 28, 29, 30, 31, 32)
             for y in ("24", "69", "70", "00", "99") for t in ("", " 0:00", " 9:05", " 23:59", " 24:00", " 12:60")]
    cells += ["007", "0", "42", "123456789012345", "1234567890123456789", "²", "٣", "1e3", "null", "-5"]
    for name, dayfirst in (("closedate", False), ("when", False), ("score", False), ("when", True)):
        prop = meta.properties[name]
        fast = hubspot.typed_converter(crm.records.column_coercer(meta, prop), prop, dayfirst)

        def full(cell, prop=prop):  # records.coerce_value, under the run's dayfirst
            if hubspot.is_null(cell):
                return None
            return crm.records.coerce_value(meta, prop, cell)

        crm.dayfirst = dayfirst  # as importer runs set it from the spec

        for cell in cells:
            try:
                expected = ("ok", full(cell))
            except InvalidValue as exc:
                expected = ("error", str(exc))
            try:
                got = ("ok", fast(cell))
            except InvalidValue as exc:
                got = ("error", str(exc))
            assert got == expected, (name, dayfirst, cell)


def test_the_fast_row_parse_gives_what_the_general_one_gives(crm, tmp_path):
    """bundle._FileImporter._parse takes a shortcut for one-object HubSpot rows; on every row of the
    portal (and on bad rows, which it hands to the general path) both give the same rows."""
    folder = fx.write_portal(tmp_path / "portal")
    bad = folder / "bad-deals.csv"
    bad.write_text(fx.csv_text(fx.DEALS).replace("12500.5", "lots"), encoding="utf-8")
    plan = bundle.plan_path(crm, folder)
    hubspot.ensure_properties(crm, plan.new_properties)
    checked = 0
    for spec in plan.specs:
        imp = bundle._FileImporter(crm, spec, None, None, True, bundle._OwnerBook(crm))
        imp._plan_cache = imp._plan()
        assert imp._plan_fast() is not None, spec.path  # every file of the portal takes the shortcut
        for line, row in importer._rows(spec):
            fast = imp._parse(line, row)
            general = importer._Importer._parse(imp, line, row)
            norm = [(f[0], f[1].recs, f[1].refs, f[1].keylinks) if f[1] else (f[0], None, f[2])
                    for f in (fast, general)]
            assert norm[0] == norm[1], (spec.path, line)
            checked += 1
    assert checked == 13


def test_day_first_dates_with_dayfirst(db_path, tmp_path):
    folder = fx.write_portal(tmp_path / "portal")
    text = (folder / "deals.csv").read_text(encoding="utf-8-sig").replace("6/30/24", "30/6/24")
    (folder / "deals.csv").write_text(text, encoding="utf-8")
    assert import_cli(db_path, folder / "deals.csv", "--dayfirst") == 0
    with Crm.open(db_path) as crm:
        ids = local_ids(crm)
        deal = crm.records.get("deals", ids[("deals", "301001")]).properties
        assert deal["closedate"] == "2024-06-30" and deal["createdate"].startswith("2024-01-03T09:00")


def test_a_custom_object_export_goes_in_last_and_links_to_contacts(crm, tmp_path):
    from crm_tui.services.schema_apply import apply_schema

    apply_schema(crm, {"objects": [{"name": "roast_batches", "label": "Roast Batch", "plural_label": "Roast Batches",
                                    "primary_property": "batch_name",
                                    "properties": [{"name": "batch_name", "label": "Batch name"},
                                                   {"name": "quality_score", "label": "Quality score",
                                                    "type": "number"}]}]})
    folder = fx.write_portal(tmp_path / "portal")
    (folder / "a-roasts.csv").write_text(
        "Record ID,Batch name,Quality score,Create Date,Associated Contact IDs\r\n"
        "801,Ethiopia Guji,88,7/1/25 8:44,201001;201002\r\n", encoding="utf-8")
    plan = bundle.plan_path(crm, folder)
    assert [f.spec.objects[0] for f in plan.files] == ["companies", "contacts", "deals", "tickets", "roast_batches"]
    result = bundle.run_plan(crm, plan)
    assert result.counts()["failed"] == 0 and result.counts()["link_problems"] == 0
    ids = local_ids(crm)
    batch = ids[("roast_batches", "801")]
    assert crm.records.get("roast_batches", batch).properties["quality_score"] == 88
    assert sorted(crm.assoc.linked_ids(("roast_batches", batch), "contacts")) == sorted(
        [ids[("contacts", "201001")], ids[("contacts", "201002")]])


def test_an_empty_folder_is_one_line_and_exit_2(db_path, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello\n", encoding="utf-8")
    assert import_cli(db_path, tmp_path / "empty") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no file to import" in err[0]


def test_zip_member_names_are_shown_without_control_sequences(crm, tmp_path):
    import zipfile

    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("\x1b]0;owned\x07companies.csv", fx.csv_text(fx.COMPANIES))
    plan = bundle.plan_path(crm, path)
    try:
        assert "\x1b" not in plan.files[0].name and "\x07" not in plan.files[0].name
        assert all("\x1b" not in line for line in plan.lines())
    finally:
        plan.close()


def test_the_plan_lists_dropdown_values_that_are_no_option_and_new_owners(crm, tmp_path):
    Owner = crm.models.Owner
    folder = fx.write_portal(tmp_path / "portal")
    text = (folder / "contacts.csv").read_text(encoding="utf-8-sig").replace(",New,", ",Churned,")
    (folder / "contacts.csv").write_text(text, encoding="utf-8")
    crm_owner = Owner.create(name="Ana Souza")  # exists already: not a new owner
    plan = bundle.plan_path(crm, folder, scan=True)
    try:
        assert plan.owners == ["Sir Whjzqscokhf", "Worpaaeg Whjzqscokhf"]
        assert plan.not_options == ["contacts.csv: column 'Lead Status' (contacts.hs_lead_status): 'Churned' (1 rows)"]
        assert any("dropdown values that are not options (1)" in line for line in plan.lines())
    finally:
        plan.close()
    assert crm_owner.id


def test_a_move_killed_before_its_end_is_undone_whole(db_path, tmp_path):
    """The process dies after the files went in, before the links that waited and the summary: the
    import is still undone completely, owners included."""
    import subprocess
    import sys
    from pathlib import Path

    folder = fx.write_portal(tmp_path / "portal")
    root = Path(__file__).resolve().parents[1]
    code = (f"import os, sys; sys.path.insert(0, {str(root)!r})\n"
            "from crm_tui.importing import bundle\n"
            "bundle._FileImporter.finish = lambda self: os._exit(9)\n"
            "from crm_tui.cli import main as cli\n"
            f"cli.main(['--db', {str(db_path)!r}, 'import', {str(folder)!r}])\n")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 9
    with Crm.open(db_path) as crm:
        assert crm.records.count("contacts") == 4
        (item,) = import_journal.list_imports(crm)
        assert item.status == "interrupted"  # its process died: never "running" forever
        import_journal.undo_import(crm, item.id)
        for obj in fx.EXPECTED["counts"]:
            assert crm.records.count(obj) == 0
        assert not fx.EXPECTED["owners"] & {o.name for o in crm.models.Owner.select()}
        assert "client_grade" not in crm.registry.get("contacts").properties


def test_a_folder_of_vcards_imports_every_card(db_path, tmp_path, capsys):
    """An address book exported as one .vcf per contact (and a stray text file) goes in as one
    import, as each file alone would."""
    folder = tmp_path / "book"
    folder.mkdir()
    for n, (first, last) in enumerate([("Ada", "Quill"), ("Bram", "Quist"), ("Cleo", "Rand")]):
        (folder / f"{first}.vcf").write_text(
            f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{first} {last}\r\nN:{last};{first};;;\r\n"
            f"EMAIL:{first.lower()}@book.example\r\nORG:Book {n}\r\nEND:VCARD\r\n", encoding="utf-8")
    (folder / "README.txt").write_text("not contacts\n", encoding="utf-8")
    (folder / "LICENSE").write_text("MIT\n", encoding="utf-8")
    assert import_cli(db_path, folder) == 0
    out, err = capsys.readouterr()
    assert "LICENSE: not a CSV or vCard file, left out" in out + err, (out, err)
    with Crm.open(db_path) as crm:
        emails = sorted(r["email"] for r in crm.records.list("contacts").rows)
        assert emails == ["ada@book.example", "bram@book.example", "cleo@book.example"]
        assert crm.records.count("companies") == 3


def test_a_folder_whose_files_read_one_new_column_as_different_types_keeps_every_value(db_path, tmp_path, capsys):
    """An unknown column 'score' holds numbers in one file and words in the next: one text property,
    every value kept (the first file's number type refused the second file's text); a value a file
    could not take is counted on its line."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.csv").write_text("email,score\na@x.example,5\nb@x.example,7\n", encoding="utf-8")
    (folder / "b.csv").write_text("email,score\nc@x.example,high\n", encoding="utf-8")
    (folder / "c.csv").write_text("email,date_of_birth\nd@x.example,not a date\n", encoding="utf-8")
    assert import_cli(db_path, folder) == 0
    out = capsys.readouterr().out
    with Crm.open(db_path) as crm:
        meta = crm.registry.get("contacts")
        score = meta.find_property("score")
        assert score.type == "text"
        values = sorted(str(r.get(score.name)) for r in crm.records.list("contacts", limit=10).rows if r.get(score.name))
        assert values == ["5", "7", "high"]
    lines = out.splitlines()
    assert lines[0].endswith("1 values not imported")
    assert "values not imported" not in lines[1] + lines[2] and lines[3].endswith("1 values not imported")


def test_a_file_of_a_folder_that_names_nobody_is_left_out_and_the_rest_goes_in(db_path, tmp_path, capsys):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "people.csv").write_text("email,first name\nann@shop.example,Ann\n", encoding="utf-8")
    (folder / "products.csv").write_text("product,series,sales_price\nGTX Basic,GTX,550\n", encoding="utf-8")
    assert import_cli(db_path, folder) == 0
    out, err = capsys.readouterr()
    assert "products.csv: nothing in it names a contact" in out + err and "left out" in out + err
    with Crm.open(db_path) as crm:
        assert [r["email"] for r in crm.records.list("contacts").rows] == ["ann@shop.example"]
        assert crm.registry.get("contacts").find_property("product") is None
