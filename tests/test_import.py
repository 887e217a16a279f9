"""Importing CSV and vCard files: mapping, matching, links, messy cells, error file, dry run, undo."""

from __future__ import annotations

import csv
import json
import sqlite3
import threading

import pytest

from crm_tui.cli import main as cli
from crm_tui.domain import sources
from crm_tui.services.core import Crm
from crm_tui.importing import importer
from crm_tui.importing import undo as import_journal

from .conftest import needs_shared_data

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def write(path, text: str, encoding: str = "utf-8") -> str:
    path.write_bytes(text.encode(encoding))
    return str(path)


def run(crm, path, objects=None, *, maps=(), links=(), required=(), values=(), ids="local", dayfirst=False,
        dry_run=False, batch=5000, cancel=None, progress=None, tmp=None, strict=False):
    spec = importer.plan_import(crm, path, objects)
    spec.strict = strict
    spec.id_source = ids
    spec.dayfirst = dayfirst
    spec.batch_size = batch
    if tmp is not None:
        spec.error_dir = str(tmp)
    importer.apply_map_args(crm, spec, maps)
    importer.apply_link_args(crm, spec, links, required)
    importer.apply_value_args(spec, values)
    return importer.run_import(crm, spec, dry_run=dry_run, cancel=cancel, progress=progress)


def errors(result) -> list[dict]:
    if not result.error_file:
        return []
    with open(result.error_file, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def count(crm, obj) -> int:
    return crm.records.count(obj)




# ------------------------------------------------------------------ mapping and messy files

def test_messy_contacts_file(crm, tmp_path):
    # BOM, semicolons, stray spaces, HubSpot export titles, a bad email, a bad date, an unmapped column.
    path = write(tmp_path / "contacts.csv",
                 "\ufeff First Name ;Last Name;Email Address;Phone Number;Create Date;Favourite colour\r\n"
                 " Ann ; Lee ;ann@Example.com ; +1 555 0100 ;16/01/2024;blue\r\n"
                 "Bob;Ray;not-an-email;;;red\r\n"
                 "Cy;Fox;cy@example.com;;31/02/2024;green\r\n"
                 "Di;Orr;di@example.com;;01/02/2024;\r\n")
    result = run(crm, path, ["contacts"], dayfirst=True, tmp=tmp_path, strict=True)
    assert result.created == {"contacts": 2}
    assert result.failed == 2 and result.skipped_cells == 0
    rows = errors(result)
    assert {(r["Line"], r["Column"]) for r in rows} == {("3", "Email Address"), ("4", "Create Date")}
    assert all(r["Result"] == importer.ROW_SKIPPED and r["Problem"] for r in rows)
    ann = crm.records.get("contacts", 1)
    assert ann.properties["firstname"] == "Ann" and ann.properties["email"] == "ann@example.com"
    assert ann.properties["createdate"].startswith("2024-01-16")
    di = crm.records.get("contacts", 2)
    assert di.properties["createdate"].startswith("2024-02-01")  # day first
    assert crm.search.records("contacts", "Ann", 5)  # full-text index filled


def test_a_bad_cell_loses_only_itself(crm, tmp_path):
    path = write(tmp_path / "contacts.csv",
                 "First Name,Last Name,Email,Create Date,Lifecycle Stage\n"
                 "Ann,Lee,ann@example.com,16/01/2024,lead\n"
                 "Bob,Ray,not-an-email,,customer\n"
                 "Cy,Fox,cy@example.com,31/02/2024,\n")
    result = run(crm, path, ["contacts"], dayfirst=True, tmp=tmp_path)
    assert result.created == {"contacts": 3} and result.failed == 0 and result.skipped_cells == 2
    assert "2 values not imported" in result.summary_lines()[0]
    rows = errors(result)
    assert [(r["Line"], r["Column"], r["Value"], r["Result"]) for r in rows] == [
        ("3", "Email", "not-an-email", importer.CELL_SKIPPED), ("4", "Create Date", "31/02/2024", importer.CELL_SKIPPED)]
    assert all(r["Problem"] for r in rows)
    bob = next(r for r in crm.records.list("contacts").rows if r["firstname"] == "Bob")
    assert bob["lastname"] == "Ray" and bob["email"] is None and bob["lifecyclestage"] == "customer"
    # a row that cannot be identified still fails, and so does one that keeps no value
    path = write(tmp_path / "ids.csv", "Record ID,Email\nx1,dee@example.com\n,bad-email\n")
    result = run(crm, path, ["contacts"], tmp=tmp_path)
    assert result.failed == 2 and result.created == {}
    assert [r["Result"] for r in errors(result)] == [importer.ROW_SKIPPED] * 2


def test_runaway_quote_is_reported_on_its_line_and_reading_goes_on(crm, tmp_path):
    path = write(tmp_path / "c.csv", 'Email,First Name,Job Title\n'
                 'ann@example.com,Ann,"Buyer\nbob@example.com,Bob,Seller\ncy@example.com,Cy,Boss\n')
    result = run(crm, path, ["contacts"], tmp=tmp_path)
    assert result.created == {"contacts": 2} and result.failed == 1
    (row,) = errors(result)
    assert row["Line"] == "2" and "quote opened on line 2" in row["Problem"] and row["Result"] == importer.ROW_SKIPPED
    jobs = {r["email"]: r["jobtitle"] for r in crm.records.list("contacts").rows}
    assert jobs == {"bob@example.com": "Seller", "cy@example.com": "Boss"}
    # a quoted note over several lines is not mistaken for one
    path = write(tmp_path / "n.csv", 'Email,First Name,Job Title\ndi@example.com,Di,"Head\nof sales, EMEA"\n')
    assert run(crm, path, ["contacts"], tmp=tmp_path).created == {"contacts": 1}


def test_cli_exits_1_when_every_row_failed(db_path, tmp_path, capsys):
    path = write(tmp_path / "d.csv", "Record ID,Deal Name\n7,Ghost\n8,Ghost two\n")
    assert cli.main(["--db", str(db_path), "import", path, "--error-dir", str(tmp_path)]) == 1
    assert "2 failed" in capsys.readouterr().out
    path = write(tmp_path / "c.csv", "Email,Create Date\nann@example.com,31/02/2024\n")
    assert cli.main(["--db", str(db_path), "import", path, "--error-dir", str(tmp_path), "--strict"]) == 1
    assert cli.main(["--db", str(db_path), "import", path, "--error-dir", str(tmp_path)]) == 0
    assert "1 values not imported" in capsys.readouterr().out


def test_numbers_and_value_map(crm, tmp_path):
    path = write(tmp_path / "deals.csv",
                 "Deal Name,Amount,Stage\nBig,\"1,234.50\",Won\nSmall,1.0,Lost\nOdd,12abc,Won\nOpen,5,Engaging\n")
    result = run(crm, path, ["deals"], maps=["Stage=dealstage"],
                 values=["Stage:Won=closedwon", "Stage:Lost=Closed lost", "Stage:Engaging=qualifiedtobuy"], tmp=tmp_path)
    assert result.created == {"deals": 4} and result.failed == 0 and result.skipped_cells == 1
    rows = crm.records.list("deals", limit=10).rows
    by_name = {r["dealname"]: r for r in rows}
    assert by_name["Big"]["amount"] == 1234.5 and by_name["Big"]["dealstage"] == "closedwon"
    assert by_name["Small"]["amount"] == 1 and by_name["Small"]["dealstage"] == "closedlost"
    assert by_name["Open"]["dealstage"] == "qualifiedtobuy"
    assert by_name["Odd"]["amount"] is None and by_name["Odd"]["dealstage"] == "closedwon"
    assert errors(result)[0]["Column"] == "Amount"


def test_auto_map_and_unknown_map_column(crm, tmp_path):
    path = write(tmp_path / "c.csv", "Record ID,Email,Lifecycle Stage,Associated Company IDs,Hobby\n1,ann@acme.com,,,\n")
    spec = importer.plan_import(crm, path)
    targets = {c.header: c.target for c in spec.columns}
    assert spec.objects == ["contacts"]
    assert targets == {"Record ID": "@id", "Email": "email", "Lifecycle Stage": "lifecyclestage",
                       "Associated Company IDs": "@assoc:companies", "Hobby": None}
    with pytest.raises(importer.ImportError_, match="no column"):
        importer.apply_map_args(crm, spec, ["Nope=email"])
    with pytest.raises(importer.ImportError_, match="no property"):
        importer.apply_map_args(crm, spec, ["Hobby=nonsense"])
    importer.apply_map_args(crm, spec, ["Hobby=jobtitle", "Lifecycle Stage=skip"])
    targets = {c.header: c.target for c in spec.columns}
    assert targets["Hobby"] == "jobtitle" and targets["Lifecycle Stage"] is None


# ------------------------------------------------------------------ matching

def test_second_import_updates_instead_of_duplicating(crm, tmp_path):
    path = write(tmp_path / "c.csv", "Email,First Name,Company Domain Name\nann@acme.com,Ann,\nbob@acme.com,Bob,\n")
    first = run(crm, path, ["contacts"], tmp=tmp_path)
    assert first.created == {"contacts": 2}
    path2 = write(tmp_path / "c2.csv", "Email,First Name\nANN@acme.com,Annie\nbob@acme.com,Bob\ncy@acme.com,Cy\n")
    second = run(crm, path2, ["contacts"], tmp=tmp_path)
    assert second.created == {"contacts": 1} and second.updated == {"contacts": 1} and second.unchanged == 1
    assert count(crm, "contacts") == 3
    assert crm.records.get("contacts", 1).properties["firstname"] == "Annie"
    # companies by domain, normalised
    cpath = write(tmp_path / "co.csv", "Company name,Company Domain Name\nAcme,https://www.ACME.com/\nAcme again,acme.com\n")
    res = run(crm, cpath, ["companies"], tmp=tmp_path)
    assert count(crm, "companies") == 1 and res.created == {"companies": 1}
    assert crm.records.get("companies", 1).properties["name"] == "Acme again"


def test_unknown_local_record_id_is_reported(crm, tmp_path):
    crm.records.create("deals", {"dealname": "Kept"}, sources.API)
    path = write(tmp_path / "d.csv", "Record ID,Deal Name\n1,Renamed\n99,Ghost\n,New one\n")
    result = run(crm, path, ["deals"], tmp=tmp_path)
    assert result.updated == {"deals": 1} and result.created == {"deals": 1} and result.failed == 1
    assert "Record ID 99" in errors(result)[0]["Problem"]
    assert crm.records.get("deals", 1).properties["dealname"] == "Renamed"


def test_digits_that_are_not_ascii_are_refused_as_record_ids(crm, tmp_path):
    company = crm.records.create("companies", {"name": "Acme"}, sources.API).id
    path = write(tmp_path / "c.csv", f"Email,Associated Company IDs\na@x.org,\u00b2\nb@x.org,{company};\u0663\nc@x.org,{company}\n")
    result = run(crm, path, ["contacts"], tmp=tmp_path, strict=True)
    assert result.created == {"contacts": 1} and result.failed == 2 and result.linked == 1
    assert [e["Problem"] for e in errors(result)] == ["'\u00b2' is not a Record ID", "'\u0663' is not a Record ID"]
    path = write(tmp_path / "d.csv", f"Email,Associated Company IDs\nd@x.org,\u00b2\ne@x.org,{company};\u0663\n")
    result = run(crm, path, ["contacts"], tmp=tmp_path)  # the cell is left out, the contacts come in
    assert result.created == {"contacts": 2} and result.skipped_cells == 2 and result.linked == 0


def test_external_ids_link_the_same_records_on_a_second_import(crm, tmp_path):
    ExternalId = crm.models.ExternalId
    companies = write(tmp_path / "companies.csv",
                      "Record ID,Company name,Company Domain Name\n501,Acme,acme.com\n502,Beta,beta.io\n")
    contacts = write(tmp_path / "contacts.csv",
                     "Record ID,Email,Associated Company IDs,Associated Company IDs (Primary)\n"
                     "9001,ann@acme.com,501;502,502\n9002,bob@x.org,502,\n9003,cy@x.org,777,\n")
    for _ in range(2):
        run(crm, companies, ["companies"], ids="hubspot", tmp=tmp_path)
        result = run(crm, contacts, ["contacts"], ids="hubspot", tmp=tmp_path)
    assert count(crm, "companies") == 2 and count(crm, "contacts") == 3
    assert ExternalId.select().where(ExternalId.source_system == "hubspot").count() == 5
    ann = next(r for r in crm.records.list("contacts").rows if r["email"] == "ann@acme.com")
    assert sorted(crm.assoc.linked_ids(("contacts", ann["id"]), "companies")) == [1, 2]
    assert crm.assoc.primary_company(("contacts", ann["id"])) == 2
    # the second run links nothing new and reports the unknown company 777 again
    assert result.linked == 0 and result.created == {} and result.link_problems == 1
    assert "777" in errors(result)[0]["Value"]


# ------------------------------------------------------------------ several objects per row, labels, links by name

def test_several_objects_per_row_with_label(crm, tmp_path):
    path = write(tmp_path / "rows.csv",
                 "Email,First Name,Company Domain Name,Company name,Deal Name,Association label\n"
                 "ann@acme.com,Ann,acme.com,Acme,Acme renewal,Employer\n"
                 "bob@acme.com,Bob,acme.com,Acme,,\n")
    result = run(crm, path, ["contacts", "companies", "deals"], tmp=tmp_path)
    assert result.created == {"contacts": 2, "companies": 1, "deals": 1}
    groups = {g.object: g for g in crm.assoc.groups(("contacts", 1))}
    assert groups["companies"].items[0].labels == ["Employer"] and groups["companies"].items[0].primary
    assert [i.id for i in groups["deals"].items] == [1]
    assert crm.assoc.linked_ids(("deals", 1), "companies") == [1]
    assert crm.assoc.linked_ids(("contacts", 2), "companies") == [1]


def test_link_by_name_reports_missing_and_ambiguous(crm, tmp_path):
    for name in ("Acme", "Twin", "Twin"):
        crm.records.create("companies", {"name": name}, sources.API)
    path = write(tmp_path / "deals.csv", "Deal Name,account\nOne,acme\nTwo,Twin\nThree,Nowhere\nFour,\n")
    result = run(crm, path, ["deals"], links=["account=companies.name"], required=["account"], tmp=tmp_path)
    assert result.created == {"deals": 4} and result.linked == 1 and result.link_problems == 3
    problems = {r["Line"]: r["Problem"] for r in errors(result)}
    assert "ambiguous" in problems["3"] and "no company" in problems["4"] and "empty" in problems["5"]
    assert all(r["Result"] == importer.NOT_LINKED for r in errors(result))
    assert crm.assoc.linked_ids(("deals", 2), "companies") == []  # never guessed


def test_parent_company_label_by_name(crm, tmp_path):
    path = write(tmp_path / "accounts.csv", "account,subsidiary_of\nChild Co,Parent Co\nParent Co,\n")
    result = run(crm, path, ["companies"], maps=["account=name"], links=["subsidiary_of=companies.name:Parent company"],
                 tmp=tmp_path)
    assert result.created == {"companies": 2} and result.linked == 1 and result.link_problems == 0
    child = crm.assoc.groups(("companies", 1))[0].items[0]
    assert child.id == 2 and child.labels == ["Parent company"]
    assert crm.assoc.groups(("companies", 2))[0].items[0].labels == ["Child company"]


# ------------------------------------------------------------------ safety: dry run, batches, cancel, crash, undo

def test_dry_run_writes_nothing(crm, tmp_path):
    Operation = crm.models.Operation
    path = write(tmp_path / "c.csv", "Email,Associated Company IDs\nann@acme.com,1\nbad,\n")
    crm.records.create("companies", {"name": "Acme"}, sources.API)
    ops_before = Operation.select().count()
    result = run(crm, path, ["contacts"], dry_run=True, tmp=tmp_path)
    assert result.dry_run and result.import_id is None
    assert result.created == {"contacts": 1} and result.linked == 1 and result.failed == 1
    assert count(crm, "contacts") == 0 and Operation.select().count() == ops_before
    assert import_journal.list_imports(crm) == []


def test_undo_restores_everything(crm, db_path, tmp_path, backend):
    Operation = crm.models.Operation
    keep = crm.records.create("contacts", {"email": "ann@acme.com", "firstname": "Ann", "jobtitle": "CEO"}, sources.API).id
    acme = crm.records.create("companies", {"name": "Acme"}, sources.API).id
    path = write(tmp_path / "c.csv", "Record ID,First Name,Job Title,Associated Company IDs\n"
                                     f"{keep},Annie,,{acme}\n,Bob,Buyer,{acme}\n")
    result = run(crm, path, ["contacts"], tmp=tmp_path, batch=1)
    assert result.updated == {"contacts": 1} and result.created == {"contacts": 1} and result.linked == 2
    children = Operation.select().where(Operation.parent == result.import_id).count()
    assert children >= 2  # one child operation per batch
    summary = json.loads(Operation.get_by_id(result.import_id).summary)
    assert summary["status"] == "done" and summary["counts"]["created"] == 1
    undo = import_journal.undo_import(crm, result.import_id)
    assert undo.deleted == 1 and undo.restored_values == 1 and undo.links_removed >= 2
    ann = crm.records.get("contacts", keep)
    assert ann.properties["firstname"] == "Ann" and ann.properties["jobtitle"] == "CEO"
    assert crm.assoc.linked_ids(("contacts", keep), "companies") == []
    assert count(crm, "contacts") == 1
    history = crm.history.property_history("contacts", keep, prop="firstname")
    assert history[0].new_value == "Ann" and history[0].source == sources.IMPORT
    assert crm.assoc.history(("contacts", keep))[0].source == sources.IMPORT
    if backend == "sqlite":  # a file is copied first; on PostgreSQL the undo is one transaction
        assert undo.backup and sqlite3.connect(undo.backup).execute("select count(*) from obj_contacts").fetchone()[0] == 2
    else:
        assert undo.backup is None
    assert import_journal.list_imports(crm)[0].status == "undone"
    with pytest.raises(Exception, match="already undone"):
        import_journal.undo_import(crm, result.import_id)


def test_undo_restores_links_and_lifecycle_changed_by_automation(crm, tmp_path):
    company = crm.records.create("companies", {"name": "Acme"}, sources.API).id
    path = write(tmp_path / "d.csv", f"Deal Name,Deal Stage,Associated Company IDs\nWin,Closed won,{company}\n")
    result = run(crm, path, ["deals"], tmp=tmp_path)
    assert crm.records.get("companies", company).properties["lifecyclestage"] == "customer"
    import_journal.undo_import(crm, result.import_id)
    assert crm.records.get("companies", company).properties["lifecyclestage"] in (None, "lead")
    assert count(crm, "deals") == 0


def test_cancel_between_batches_and_undo(crm, tmp_path):
    lines = "".join(f"p{i}@x.org\n" for i in range(10))
    path = write(tmp_path / "c.csv", "Email\n" + lines)
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p)
        cancel.set()

    result = run(crm, path, ["contacts"], batch=3, cancel=cancel, progress=progress, tmp=tmp_path)
    assert result.cancelled and result.created == {"contacts": 3} and count(crm, "contacts") == 3
    assert seen[0].rows_done == 3 and seen[0].total_estimate >= 3 and seen[0].rate > 0
    assert import_journal.list_imports(crm)[0].status == "cancelled"
    import_journal.undo_import(crm, result.import_id)
    assert count(crm, "contacts") == 0


def test_crash_part_way_leaves_whole_batches_that_undo_reverses(crm, tmp_path, monkeypatch):
    path = write(tmp_path / "c.csv", "Email\n" + "".join(f"p{i}@x.org\n" for i in range(6)))
    original = importer._Importer._process
    calls = []

    def flaky(self, bop, batch):
        calls.append(1)
        if len(calls) == 2:
            original(self, bop, importer._Parsed(batch.rows[:1], [], 1))  # half a batch written, then the crash
            raise RuntimeError("killed")
        return original(self, bop, batch)

    monkeypatch.setattr(importer._Importer, "_process", flaky)
    with pytest.raises(RuntimeError):
        run(crm, path, ["contacts"], batch=3, tmp=tmp_path)
    assert count(crm, "contacts") == 3  # the first batch only, nothing of the second
    info = import_journal.list_imports(crm)[0]
    assert info.status == "failed"
    import_journal.undo_import(crm, info.id)
    assert count(crm, "contacts") == 0


# ------------------------------------------------------------------ vCard

VCF = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann;;;\r\nFN:Ann Lee\r\nEMAIL;TYPE=INTERNET:ann@acme.com\r\n"
    "ORG:Acme Inc;Sales\r\nTITLE:Buyer\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Ray;Bob\r\nEMAIL:bob@acme.com\r\nORG:Acme Inc\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:No Org\r\nN:Org;No;;;\r\nEND:VCARD\r\n"
)


def test_vcard_import_links_org_company(crm, tmp_path):
    path = write(tmp_path / "book.vcf", VCF)
    result = run(crm, path, tmp=tmp_path)
    assert result.created == {"contacts": 3, "companies": 1} and result.linked == 2
    ann = crm.records.get("contacts", 1)
    assert ann.properties["jobtitle"] == "Buyer" and ann.properties["company"] == "Acme Inc"
    assert crm.assoc.primary_company(("contacts", 1)) == 1 == crm.assoc.primary_company(("contacts", 2))
    again = run(crm, path, tmp=tmp_path)  # matched by email and company name; the card without email by name
    assert again.created == {} and count(crm, "companies") == 1 and again.linked == 0 and again.unchanged == 3


# ------------------------------------------------------------------ command line, migration

def test_cli_import_imports_and_undo(db_path, tmp_path, capsys):
    path = write(tmp_path / "c.csv", "Email,First Name\nann@acme.com,Ann\nbad-email,Bob\n")
    assert cli.main(["--db", str(db_path), "import", path, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "2 created" in out and "0 failed" in out and "1 values not imported" in out
    assert cli.main(["--db", str(db_path), "import", path, "--json", "--error-dir", str(tmp_path), "--strict"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["created"] == 1 and data["failed"] == 1 and data["error_file"].startswith(str(tmp_path))
    assert cli.main(["--db", str(db_path), "imports"]) == 0
    assert "done" in capsys.readouterr().out
    assert cli.main(["--db", str(db_path), "import", "undo", str(data["import_id"])]) == 0
    assert "1 records deleted" in capsys.readouterr().out
    assert cli.main(["--db", str(db_path), "import", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.backends("sqlite")  # a SQLite file
def test_migration_adds_external_id_table(db_path):
    Crm.open(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TABLE external_id")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Crm.open(db_path) as crm:
        assert crm.models.ExternalId.select().count() == 0
        assert crm.db.execute_sql("PRAGMA user_version").fetchone()[0] >= 2


# ------------------------------------------------------------------ real files (skipped when ../shared/data is absent)

def test_maven_accounts_with_parent_links(crm, tmp_path):
    path = needs_shared_data("maven-crm", "accounts.csv")
    result = run(crm, str(path), ["companies"], maps=["revenue=annualrevenue", "employees=numberofemployees"],
                 links=["subsidiary_of=companies.name:Parent company"], tmp=tmp_path)
    assert result.created == {"companies": 85} and result.linked == 15 and result.failed == 0


def test_one_column_as_record_id_and_name(crm, tmp_path):
    path = write(tmp_path / "d.csv", "opportunity_id,Deal Stage\nX1,Closed won\nX2,appointmentscheduled\n")
    maps = ["opportunity_id=@id", "opportunity_id=dealname", "Deal Stage=skip"]
    first = run(crm, path, ["deals"], maps=maps, ids="maven", tmp=tmp_path)
    assert first.created == {"deals": 2}
    assert {r["dealname"] for r in crm.records.list("deals").rows} == {"X1", "X2"}
    again = run(crm, path, ["deals"], maps=["opportunity_id=@id", "opportunity_id=dealname"], ids="maven", tmp=tmp_path)
    assert again.created == {} and again.updated == {"deals": 1}  # X1 moves to Closed won, matched by its ID
    assert crm.records.count("deals") == 2
    spec = importer.plan_import(crm, path, ["deals"])
    with pytest.raises(importer.ImportError_, match="read-only"):
        importer.apply_map_args(crm, spec, ["Deal Stage=lastmodifieddate"])


def test_operations_of_another_thread_are_not_children_of_the_import(crm, tmp_path):
    # the core keeps one operation stack per thread (core.OperationStack)
    path = write(tmp_path / "c.csv", "Email\n" + "".join(f"p{i}@x.org\n" for i in range(4)))
    started, proceed = threading.Event(), threading.Event()
    original = importer._Importer._process

    def slow(self, bop, batch):
        started.set()
        proceed.wait(5)
        return original(self, bop, batch)

    importer._Importer._process = slow
    try:
        worker = threading.Thread(target=lambda: run(crm, path, ["contacts"], batch=2, tmp=tmp_path))
        worker.start()
        assert started.wait(5)
        assert len(crm._ops) == 0  # the worker is inside its batch operation; this thread is not
        proceed.set()
        worker.join(10)
    finally:
        importer._Importer._process = original
    with crm.operation("update", sources.USER) as op:  # this thread: no parent
        pass
    assert op.parent is None
    assert count(crm, "contacts") == 4


# ------------------------------------------------------------------ fast paths (per-column coercion, bulk links)

def test_column_coercer_matches_coerce_value_for_every_property_type(crm):
    Owner = crm.models.Owner
    from crm_tui.storage.engine import Option, PropertyMeta
    from crm_tui.domain.errors import InvalidValue
    from crm_tui.domain.types import TYPES


    owner = Owner.create(name="Olga Owner", email="olga@example.com").id
    meta = crm.registry.get("contacts")
    options = [Option("alpha", "Alpha"), Option("beta", "Beta Two")]
    cells = ["", " ", "\t", "plain", "  padded  ", "Ann Lee", "a\tb", "a\r\nb", "line\nbreak", "\x1b[31mred\x1b[0m",
             "bell\x07", "\x9bcsi", "nbsp\xa0", "\xa0", "ann@Example.COM", " ann@example.com ", "ANN@EXAMPLE.COM\n",
             "mailto:x@y.org", "x@@y.org", "no at", "a b@c.org", "x@bad_domain", "x@y", "+1 555 0100",
             "tel:+1-555-0100;ext=12", "'0123 456", "12", "phone!", "( 555 ) 123 - 4567", "1-800-FLOWERS",
             "3.5", "1,234.50", "$12", "-0", "abc", "2024-01-16", "16/01/2024", "31/02/2024", "2024-01-16T10:00",
             "yes", "no", "true", "0", "1", "maybe", "https://www.Example.com/about", "example.com", "alpha",
             "Beta Two", "beta two;alpha", "alpha;gamma", "me", "1", "999", "Olga Owner", "nobody",
             "ünïcödé", "x@exämple.org", "日本語", 12, 3.5, True, None, ["alpha", "beta"]]
    cells += [str(owner), "olga@example.com", "OLGA OWNER"]
    for kind in TYPES:
        prop = PropertyMeta(name=f"p_{kind}", label=f"P {kind}", type=kind,
                            options=options if kind in ("select", "multiselect") else [])
        fast = crm.records.column_coercer(meta, prop)
        for dayfirst in (False, True):
            crm.dayfirst = dayfirst
            for cell in cells:
                try:
                    want = ("ok", crm.records.coerce_value(meta, prop, cell))
                except InvalidValue as exc:
                    want = ("error", str(exc))
                except Exception as exc:  # noqa: BLE001 - the fast path must fail the same way
                    want = ("raised", type(exc))
                try:
                    got = ("ok", fast(cell))
                except InvalidValue as exc:
                    got = ("error", str(exc))
                except Exception as exc:  # noqa: BLE001
                    got = ("raised", type(exc))
                assert got == want, (kind, cell, dayfirst)
    crm.dayfirst = False


def test_bulk_import_with_links_keeps_history_counts_and_undo(crm, tmp_path):
    models = crm.models
    Operation, Association, AssociationChange = models.Operation, models.Association, models.AssociationChange
    import gc

    from crm_tui.services import integrity

    companies = [crm.records.create("companies", {"name": f"Co{i}"}, sources.API).id for i in range(3)]
    rows = "".join(f"F{i},L{i},p{i}@x{i % 4}.org,+1 555 {i:04d},Buyer,{companies[i % 3]}\n" for i in range(25))
    rows += "Bad,Row,not-an-email,,Buyer,1\n"
    path = write(tmp_path / "c.csv", "First Name,Last Name,Email,Phone Number,Job Title,Associated Company IDs\n" + rows)
    assert gc.isenabled()
    result = run(crm, path, ["contacts"], batch=7, tmp=tmp_path, strict=True)
    assert gc.isenabled()  # paused during the run only
    assert result.created == {"contacts": 25} and result.linked == 25 and result.failed == 1
    assert [e["Problem"].split(":")[0] for e in errors(result)] == ["Email"]
    assert Operation.select().where(Operation.parent == result.import_id).count() == 4  # one per batch
    assert integrity.check_all(crm.registry) == []
    contacts = crm.registry.get("contacts")
    ids = [i for (i,) in contacts.model.select(contacts.model.id).tuples()]
    assert len(ids) == 25
    for n, cid in enumerate(sorted(ids)):
        assert crm.assoc.linked_ids(("contacts", cid), "companies") == [companies[n % 3]]
        assert crm.assoc.primary_company(("contacts", cid)) == companies[n % 3]
        actions = sorted(c.action for c in crm.assoc.history(("contacts", cid)))
        assert actions == ["created_primary"]  # one history row for the link and its primary flag
    for n, company in enumerate(companies):  # both edges, and the kept counts
        assert len(crm.assoc.linked_ids(("companies", company), "contacts")) == len(range(n, 25, 3))
        assert crm.assoc.counts(("companies", company)) == {"contacts": len(range(n, 25, 3))}
    assert Association.select().count() == 50
    assert AssociationChange.select().count() == 25  # one row per link
    # FTS written with the rows
    assert len(crm.search.ids("contacts", "p7")) >= 1
    undo = import_journal.undo_import(crm, result.import_id, backup=False)
    assert undo.deleted == 25 and undo.links_removed == 25
    assert count(crm, "contacts") == 0 and Association.select().count() == 0
    assert all(crm.assoc.counts(("companies", c)) == {} for c in companies)
    assert integrity.check_all(crm.registry) == []


def test_the_first_company_linked_in_file_order_becomes_primary(crm, tmp_path):
    """A row's own company comes before its Associated Company IDs, and an earlier row before a
    later one for the same contact, whichever way each link is made."""
    other = crm.records.create("companies", {"name": "Other", "domain": "other.com"}, sources.API).id
    same_row = write(tmp_path / "a.csv", "Email,Company name,Company Domain Name,Associated Company IDs\n"
                                         f"ann@acme.com,Acme,acme.com,{other}\n")
    run(crm, same_row, ["contacts", "companies"], tmp=tmp_path)
    ann = crm.records.list("contacts").rows[0]["id"]
    acme = next(r["id"] for r in crm.records.list("companies").rows if r["domain"] == "acme.com")
    assert crm.assoc.primary_company(("contacts", ann)) == acme != other
    assert crm.assoc.linked_ids(("contacts", ann), "companies") == [acme, other]

    two_rows = write(tmp_path / "b.csv", "Email,Company name,Company Domain Name,Associated Company IDs\n"
                                         "bo@beta.io,Beta,beta.io,\n"
                                         f"bo@beta.io,,,{other}\n")
    run(crm, two_rows, ["contacts", "companies"], tmp=tmp_path)
    bo = next(r["id"] for r in crm.records.list("contacts").rows if r["email"] == "bo@beta.io")
    beta = next(r["id"] for r in crm.records.list("companies").rows if r["domain"] == "beta.io")
    assert crm.assoc.primary_company(("contacts", bo)) == beta


@pytest.mark.backends("sqlite")  # a SQLite file
def test_the_wal_stays_bounded_during_an_import(crm, tmp_path, monkeypatch):
    """The writer lets the background checkpoint finish once the WAL passes its limit, so SQLite
    starts the WAL over instead of appending every batch to it."""
    import os
    import threading

    from crm_tui.storage import dialect

    monkeypatch.setattr(dialect.BulkLoad, "WAL_LIMIT", 256 * 1024)
    rows = "".join(f"p{i}@x{i % 7}.org,First{i},Last{i},+1 555 {i:07d}\n" for i in range(6000))
    path = write(tmp_path / "c.csv", "Email,First Name,Last Name,Phone Number\n" + rows)
    wal = str(crm.path) + "-wal"
    biggest, stop = [0], threading.Event()

    def watch():
        while not stop.wait(0.002):
            try:
                biggest[0] = max(biggest[0], os.path.getsize(wal))
            except OSError:
                pass

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run(crm, path, ["contacts"], batch=500, tmp=tmp_path)
    finally:
        stop.set()
        watcher.join()
    assert result.created == {"contacts": 6000}
    database = os.path.getsize(crm.path)
    assert biggest[0] < database  # unbounded, the WAL grew past the size of the whole database
