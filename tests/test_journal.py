"""The operation journal: list, undo and redo of every kind of operation, the dependency rule, and
that history stays append-only and `doctor` healthy after each step (real SQLite files)."""

import pytest

from crm_tui import integrity, sources
from crm_tui.errors import CrmError
from crm_tui.maintenance import doctor
from crm_tui.models import AssociationChange, Operation, PropertyChange


def healthy(crm):
    problems = integrity.check_all(crm.registry) + integrity.check_property_history(crm)
    assert problems == [], problems
    report = doctor(crm)
    assert report.healthy, report.problems


def counts():
    return PropertyChange.select().count(), AssociationChange.select().count(), Operation.select().count()


@pytest.fixture
def people(crm):
    crm.set_setting("auto_associate_by_domain", False)
    ines = crm.records.create("contacts", {"firstname": "Ines", "lastname": "Okoro", "email": "ines@acme.example"},
                              sources.USER).id
    bo = crm.records.create("contacts", {"firstname": "Bo", "lastname": "Lind", "email": "bo@lind.example"},
                            sources.USER).id
    acme = crm.records.create("companies", {"name": "Acme", "domain": "acme.example"}, sources.USER).id
    globex = crm.records.create("companies", {"name": "Globex", "domain": "globex.example"}, sources.USER).id
    return {"ines": ines, "bo": bo, "acme": acme, "globex": globex}


def test_undo_and_redo_an_update(crm, people):
    crm.records.update("contacts", people["ines"], {"email": "ines@new.example", "jobtitle": "CTO"}, sources.USER)
    ops = crm.journal.list(limit=5)
    assert ops[0].kind == "update" and ops[0].summary.startswith("Updated Ines Okoro: ")
    assert "email" in ops[0].summary and ops[0].undoable and not ops[0].undone
    before = counts()
    result = crm.journal.undo()
    assert result.op_id == ops[0].id
    ines = crm.records.get("contacts", people["ines"]).properties
    assert ines["email"] == "ines@acme.example" and ines["jobtitle"] is None
    assert ines["hs_email_domain"] == "acme.example"
    assert counts()[0] > before[0]  # history is appended, never rewritten
    listed = {o.id: o for o in crm.journal.list()}
    assert listed[ops[0].id].undone and not listed[ops[0].id].undoable
    assert listed[result.undo_op_id].kind == "undo" and listed[result.undo_op_id].summary.startswith("Undo: Updated")
    assert people["ines"] not in crm.search.ids("contacts", "new.example")
    assert people["ines"] in crm.search.ids("contacts", "acme.example")
    healthy(crm)
    redo = crm.journal.redo()
    assert redo.op_id == ops[0].id
    ines = crm.records.get("contacts", people["ines"]).properties
    assert ines["email"] == "ines@new.example" and ines["jobtitle"] == "CTO"
    assert not {o.id: o for o in crm.journal.list()}[ops[0].id].undone
    healthy(crm)
    # and again: undo after redo reverses the redo
    crm.journal.undo()
    assert crm.records.get("contacts", people["ines"]).properties["email"] == "ines@acme.example"
    with pytest.raises(CrmError, match="already undone"):
        crm.journal.undo(ops[0].id)
    healthy(crm)


def test_undo_refused_when_a_later_edit_depends_on_it(crm, people):
    crm.records.update("contacts", people["ines"], {"jobtitle": "CTO"}, sources.USER)
    first = crm.journal.list(limit=1)[0].id
    crm.records.update("contacts", people["ines"], {"jobtitle": "CEO"}, sources.USER)
    second = crm.journal.list(limit=1)[0].id
    before = counts()
    with pytest.raises(CrmError) as info:
        crm.journal.undo(first)
    message = str(info.value)
    assert "\n" not in message and f"operation {second}" in message and "jobtitle" in message
    assert counts() == before  # nothing written, not even the undo operation
    assert crm.records.get("contacts", people["ines"]).properties["jobtitle"] == "CEO"
    # once the later edit is undone, the earlier one can be
    crm.journal.undo(second)
    crm.journal.undo(first)
    assert crm.records.get("contacts", people["ines"]).properties["jobtitle"] is None
    healthy(crm)


def test_undo_create_delete_restore(crm, people):
    new = crm.records.create("contacts", {"email": "new@x.example"}, sources.USER).id
    crm.journal.undo()
    assert crm.records.get("contacts", new).deleted
    crm.journal.redo()
    assert not crm.records.get("contacts", new).deleted
    assert new in crm.search.ids("contacts", "new@x.example")
    healthy(crm)


def test_undo_delete_of_a_company_with_links(crm, people):
    crm.assoc.add(("contacts", people["ines"]), ("companies", people["acme"]), labels=["Employer"])
    crm.assoc.add(("contacts", people["ines"]), ("companies", people["globex"]))
    crm.assoc.add(("contacts", people["bo"]), ("companies", people["acme"]))
    assert crm.assoc.primary_company(("contacts", people["ines"])) == people["acme"]
    crm.records.delete("companies", people["acme"], sources.USER)
    assert crm.assoc.primary_company(("contacts", people["ines"])) == people["globex"]
    healthy(crm)
    crm.journal.undo()
    assert not crm.records.get("companies", people["acme"]).deleted
    assert crm.assoc.primary_company(("contacts", people["ines"])) == people["acme"]
    assert crm.assoc.primary_company(("contacts", people["bo"])) == people["acme"]
    groups = {g.object: g for g in crm.assoc.groups(("contacts", people["ines"]))}
    acme = [i for i in groups["companies"].items if i.id == people["acme"]][0]
    assert acme.labels == ["Employer"] and acme.primary
    healthy(crm)
    crm.journal.redo()
    assert crm.records.get("companies", people["acme"]).deleted
    assert crm.assoc.primary_company(("contacts", people["ines"])) == people["globex"]
    healthy(crm)


def test_undo_merge_brings_both_back_with_their_values_and_links(crm, people):
    crm.assoc.add(("contacts", people["ines"]), ("companies", people["acme"]))
    crm.assoc.add(("contacts", people["bo"]), ("companies", people["globex"]), labels=["Advisor"])
    note = crm.activities.log(("contacts", people["bo"]), "notes", {"hs_note_body": "met Bo"}).id
    crm.records.update("contacts", people["bo"], {"jobtitle": "Buyer"})
    crm.merger.merge("contacts", people["ines"], people["bo"], choose={"email": "other"}, source=sources.USER)
    assert crm.records.get("contacts", people["bo"]).deleted
    assert crm.records.get("contacts", people["ines"]).properties["email"] == "bo@lind.example"
    healthy(crm)
    merge_op = crm.journal.list(limit=1)[0]
    assert merge_op.kind == "merge" and "Bo Lind" in merge_op.summary and "Ines Okoro" in merge_op.summary
    crm.journal.undo()
    ines = crm.records.get("contacts", people["ines"])
    bo = crm.records.get("contacts", people["bo"])
    assert not bo.deleted and bo.properties["email"] == "bo@lind.example" and bo.properties["jobtitle"] == "Buyer"
    assert ines.properties["email"] == "ines@acme.example" and ines.properties["jobtitle"] is None
    assert crm.assoc.linked_ids(("contacts", people["ines"]), "companies") == [people["acme"]]
    assert crm.assoc.linked_ids(("contacts", people["bo"]), "companies") == [people["globex"]]
    assert crm.assoc.linked_ids(("contacts", people["bo"]), "notes") == [note]
    assert crm.assoc.linked_ids(("contacts", people["ines"]), "notes") == []
    bo_groups = {g.object: g for g in crm.assoc.groups(("contacts", people["bo"]))}
    assert bo_groups["companies"].items[0].labels == ["Advisor"] and bo_groups["companies"].items[0].primary
    healthy(crm)
    crm.journal.redo()
    assert crm.records.get("contacts", people["bo"]).deleted
    healthy(crm)


def test_undo_refused_when_the_record_was_merged_since(crm, people):
    crm.records.update("contacts", people["bo"], {"jobtitle": "Buyer"}, sources.USER)
    edit = crm.journal.list(limit=1)[0].id
    crm.merger.merge("contacts", people["ines"], people["bo"], source=sources.USER)
    merge = crm.journal.list(limit=1)[0].id
    with pytest.raises(CrmError, match=f"operation {merge}"):
        crm.journal.undo(edit)


def test_undo_of_links_labels_and_primary(crm, people):
    ines, acme, globex = ("contacts", people["ines"]), ("companies", people["acme"]), ("companies", people["globex"])
    crm.assoc.add(ines, acme, source=sources.USER)
    crm.assoc.add(ines, globex, source=sources.USER)
    crm.assoc.set_primary(ines, people["globex"], source=sources.USER)
    crm.assoc.add_label(ines, acme, "Employer", source=sources.USER)
    crm.assoc.remove(ines, globex, new_primary=people["acme"], source=sources.USER)
    healthy(crm)
    crm.journal.undo()  # the removal
    assert crm.assoc.primary_company(ines) == people["globex"]
    healthy(crm)
    crm.journal.undo()  # the label
    assert crm.assoc.groups(ines)[0].items[-1].labels == [] or all(i.labels == [] for i in crm.assoc.groups(ines)[0].items)
    crm.journal.undo()  # set primary
    assert crm.assoc.primary_company(ines) == people["acme"]
    crm.journal.undo()  # link globex
    crm.journal.undo()  # link acme
    assert crm.assoc.linked_ids(ines, "companies") == []
    healthy(crm)
    for _ in range(5):
        crm.journal.redo()
    assert crm.assoc.primary_company(ines) == people["acme"]
    assert crm.assoc.linked_ids(ines, "companies") == [people["acme"]]
    healthy(crm)


def test_relinking_a_removed_primary_refused_when_another_company_became_primary(crm, people):
    ines = ("contacts", people["ines"])
    crm.assoc.add(ines, ("companies", people["acme"]), source=sources.USER)
    crm.assoc.remove(ines, ("companies", people["acme"]), source=sources.USER)
    removal = crm.journal.list(limit=1)[0].id
    crm.assoc.add(ines, ("companies", people["globex"]), source=sources.USER)
    before = counts()
    with pytest.raises(CrmError, match="primary"):
        crm.journal.undo(removal)
    assert counts() == before
    healthy(crm)


def test_bulk_edit_undo_and_list(crm, people):
    from crm_tui import bulk

    ids = [people["ines"], people["bo"]]
    bulk.bulk_update(crm, "contacts", ids, {"jobtitle": "Buyer"}, source=sources.USER, batch_size=1)
    op = crm.journal.list(limit=1)[0]
    assert op.kind == "bulk_update" and op.summary == "Bulk edit of 2 contacts: jobtitle"
    crm.journal.undo()
    assert all(crm.records.get("contacts", i).properties["jobtitle"] is None for i in ids)
    healthy(crm)


def test_children_and_unknown_kinds_are_refused(crm, people):
    crm.records.delete("companies", people["acme"], sources.USER)
    child = Operation.get(Operation.kind == "delete_links") if Operation.select().where(
        Operation.kind == "delete_links").exists() else None
    if child is not None:
        with pytest.raises(CrmError, match="part of operation"):
            crm.journal.undo(child.id)
    with pytest.raises(CrmError, match="no operation"):
        crm.journal.undo(999999)
    seed = crm.records.create("contacts", {"email": "z@z.example"}).id  # source API is also the user's own
    assert crm.journal.undo(source=sources.USER).op_id == Operation.get((Operation.kind == "create")
                                                                       & (Operation.record_id == seed)).id


# ------------------------------------------------------------------ imports

def _import(crm, tmp_path, text, name="c.csv"):
    from crm_tui.importing import importer

    path = tmp_path / name
    path.write_text(text)
    spec = importer.plan_import(crm, str(path), ["contacts"])
    return importer.run_import(crm, spec).import_id


def test_import_undo_refused_when_a_record_it_created_was_edited_since(crm, tmp_path):
    from crm_tui.importing import importer

    crm.set_setting("auto_associate_by_domain", False)
    import_id = _import(crm, tmp_path, "Email,First Name\nann@acme.example,Ann\nbob@acme.example,Bob\n")
    ann = crm.search.ids("contacts", "ann@acme.example")[0]
    crm.records.update("contacts", ann, {"jobtitle": "CEO"}, sources.USER)
    edit = crm.journal.list(limit=1)[0].id
    before = counts()
    with pytest.raises(CrmError) as info:
        importer.undo_import(crm, import_id, backup=False)
    assert f"operation {edit}" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(CrmError, match=f"operation {edit}"):
        crm.journal.undo(import_id)
    assert counts() == before and crm.records.get("contacts", ann).properties["jobtitle"] == "CEO"
    crm.journal.undo(edit)
    result = crm.journal.undo(import_id)
    assert result.op_id == import_id
    assert crm.search.ids("contacts", "acme.example") == []
    assert {o.id: o for o in crm.journal.list()}[import_id].undone
    with pytest.raises(CrmError, match="cannot be redone"):
        crm.journal.redo()
    healthy(crm)


def test_cli_import_undo_asks_at_a_terminal(db_path, tmp_path, monkeypatch, capsys):
    from crm_tui import cli

    path = tmp_path / "c.csv"
    path.write_text("Email,First Name\nann@acme.example,Ann\n")
    assert cli.main(["--db", str(db_path), "import", str(path), "--json"]) == 0
    import json

    import_id = json.loads(capsys.readouterr().out)["import_id"]
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert cli.main(["--db", str(db_path), "import", "undo", str(import_id)]) == 1
    assert "nothing changed" in capsys.readouterr().out
    assert cli.main(["--db", str(db_path), "list", "contacts", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1

    def refuse(prompt):
        raise AssertionError("--yes must not ask")

    monkeypatch.setattr("builtins.input", refuse)
    assert cli.main(["--db", str(db_path), "import", "undo", str(import_id), "--yes"]) == 0
    assert "1 records deleted" in capsys.readouterr().out


# ------------------------------------------------------------------ command line

def test_cli_walk_edit_undo_redo_merge_delete_refusal_doctor(db_path, capsys):
    import json

    from crm_tui import cli

    def run(*argv, code=0):
        assert cli.main(["--db", str(db_path), *argv]) == code, capsys.readouterr()
        out = capsys.readouterr()
        return out.out if code == 0 else out.err

    def get(obj, rid):
        return json.loads(run("record", "get", obj, str(rid), "--json"))

    ann = int(run("record", "create", "contacts", "firstname=Ann", "email=ann@a.example").split()[0])
    bob = int(run("record", "create", "contacts", "firstname=Bob", "email=bob@b.example").split()[0])
    acme = int(run("record", "create", "companies", "name=Acme", "domain=acme.example").split()[0])
    run("assoc", "add", f"contacts:{ann}", f"companies:{acme}")
    run("assoc", "add", f"contacts:{bob}", f"companies:{acme}", "--label", "Employer")
    # edit, undo, redo
    run("record", "update", "contacts", str(ann), "jobtitle=CEO")
    assert "undid Updated Ann: jobtitle" in run("undo")
    assert get("contacts", ann)["properties"]["jobtitle"] is None
    assert "redid" in run("redo")
    assert get("contacts", ann)["properties"]["jobtitle"] == "CEO"
    # merge and undo: both back, each with its email and links
    run("record", "merge", "contacts", str(ann), str(bob))
    assert get("contacts", bob)["deleted"]
    run("undo")
    a, b = get("contacts", ann), get("contacts", bob)
    assert not b["deleted"] and b["properties"]["email"] == "bob@b.example" and a["properties"]["email"] == "ann@a.example"
    assert [c["labels"] for c in b["associations"]["companies"]] == [["Employer"]]
    assert [c["id"] for c in a["associations"]["companies"]] == [acme]
    # delete a company with links, undo
    run("record", "delete", "companies", str(acme))
    assert get("contacts", ann)["associations"] == {}
    run("undo")
    assert get("contacts", ann)["associations"]["companies"][0]["primary"]
    # an undo a later edit depends on is refused and changes nothing
    run("record", "update", "contacts", str(ann), "jobtitle=CTO")
    first = json.loads(run("operations", "--json", "--limit", "1"))[0]["id"]
    run("record", "update", "contacts", str(ann), "jobtitle=Chair")
    ops = json.loads(run("operations", "--json"))
    assert [set(o) >= {"id", "time", "kind", "source", "summary", "undone"} for o in ops] == [True] * len(ops)
    err = run("undo", str(first), code=2)
    assert f"operation {ops[0]['id']}" in err and err.count("\n") == 1
    assert json.loads(run("operations", "--json")) == ops
    assert get("contacts", ann)["properties"]["jobtitle"] == "Chair"
    assert "healthy" in run("doctor")
    data = json.loads(run("undo", "--json"))
    assert set(data) == {"op_id", "undo_op_id", "summary"}
    assert "healthy" in run("doctor")
