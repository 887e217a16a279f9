"""The operation journal: list, undo and redo of every kind of operation, the dependency rule, and
that history stays append-only and `doctor` healthy after each step (real SQLite files)."""

import pytest

from crm_tui.services import integrity
from crm_tui.domain import sources
from crm_tui.domain.errors import CrmError
from crm_tui.services.maintenance import doctor

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def healthy(crm):
    problems = integrity.check_all(crm.registry) + integrity.check_property_history(crm)
    assert problems == [], problems
    report = doctor(crm)
    assert report.healthy, report.problems


def counts(crm):
    models = crm.models
    return models.PropertyChange.select().count(), models.AssociationChange.select().count(), models.Operation.select().count()


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
    assert "Job title" in ops[0].summary and "jobtitle" not in ops[0].summary  # labels, as the screens say
    assert "Email" in ops[0].summary and ops[0].undoable and not ops[0].undone
    before = counts(crm)
    result = crm.journal.undo()
    assert result.op_id == ops[0].id
    ines = crm.records.get("contacts", people["ines"]).properties
    assert ines["email"] == "ines@acme.example" and ines["jobtitle"] is None
    assert ines["hs_email_domain"] == "acme.example"
    assert counts(crm)[0] > before[0]  # history is appended, never rewritten
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
    before = counts(crm)
    with pytest.raises(CrmError) as info:
        crm.journal.undo(first)
    message = str(info.value)
    assert "\n" not in message and f"operation {second}" in message and "jobtitle" in message
    assert counts(crm) == before  # nothing written, not even the undo operation
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
    before = counts(crm)
    with pytest.raises(CrmError, match="primary"):
        crm.journal.undo(removal)
    assert counts(crm) == before
    healthy(crm)


def test_bulk_edit_undo_and_list(crm, people):
    from crm_tui.services import bulk

    ids = [people["ines"], people["bo"]]
    bulk.bulk_update(crm, "contacts", ids, {"jobtitle": "Buyer"}, source=sources.USER, batch_size=1)
    op = crm.journal.list(limit=1)[0]
    assert op.kind == "bulk_update" and op.summary == "Bulk edit of 2 contacts: jobtitle"
    crm.journal.undo()
    assert all(crm.records.get("contacts", i).properties["jobtitle"] is None for i in ids)
    healthy(crm)


def test_children_and_unknown_kinds_are_refused(crm, people):
    Operation = crm.models.Operation
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
    from crm_tui.importing import undo as import_journal

    crm.set_setting("auto_associate_by_domain", False)
    import_id = _import(crm, tmp_path, "Email,First Name\nann@acme.example,Ann\nbob@acme.example,Bob\n")
    ann = crm.search.ids("contacts", "ann@acme.example")[0]
    crm.records.update("contacts", ann, {"jobtitle": "CEO"}, sources.USER)
    edit = crm.journal.list(limit=1)[0].id
    before = counts(crm)
    with pytest.raises(CrmError) as info:
        import_journal.undo_import(crm, import_id, backup=False)
    assert f"operation {edit}" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(CrmError, match=f"operation {edit}"):
        crm.journal.undo(import_id)
    assert counts(crm) == before and crm.records.get("contacts", ann).properties["jobtitle"] == "CEO"
    crm.journal.undo(edit)
    result = crm.journal.undo(import_id)
    assert result.op_id == import_id
    assert crm.search.ids("contacts", "acme.example") == []
    assert {o.id: o for o in crm.journal.list()}[import_id].undone
    with pytest.raises(CrmError, match="cannot be redone"):
        crm.journal.redo()
    healthy(crm)


def test_cli_import_undo_asks_at_a_terminal(db_path, tmp_path, monkeypatch, capsys):
    from crm_tui.cli import main as cli

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

    from crm_tui.cli import main as cli

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
    assert "undid Updated Ann: Job title" in run("undo")
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


# ------------------------------------------------------------------ set-based merge

def test_merge_of_companies_moves_links_primary_labels_and_counts(crm, people):
    ines, bo = ("contacts", people["ines"]), ("contacts", people["bo"])
    acme, globex = people["acme"], people["globex"]
    deal = crm.records.create("deals", {"dealname": "Big deal"}).id
    crm.assoc.add(ines, ("companies", globex), labels=["Employer"])  # primary: globex (merged away)
    crm.assoc.add(bo, ("companies", acme))  # primary acme
    crm.assoc.add(bo, ("companies", globex), labels=["Advisor"])  # bo linked with both
    crm.assoc.add(("deals", deal), ("companies", globex))
    crm.assoc.add(("companies", acme), ("companies", globex), labels=["Parent company"])  # the link between them
    healthy(crm)
    result = crm.merger.merge("companies", acme, globex, source=sources.USER)
    assert "2 association(s) moved" in result.message  # ines, the deal; bo's link was shared
    assert crm.assoc.primary_company(ines) == acme and crm.assoc.primary_company(bo) == acme
    assert crm.assoc.primary_company(("deals", deal)) == acme
    groups = {g.object: g for g in crm.assoc.groups(("companies", acme))}
    labels = {i.id: i.labels for i in groups["contacts"].items}
    assert labels == {people["ines"]: ["Employee"], people["bo"]: ["Advisor"]}
    assert crm.assoc.linked_ids(("companies", acme), "companies") == []
    assert crm.assoc.counts(("companies", acme)) == {"contacts": 2, "deals": 1}
    assert crm.assoc.counts(("companies", globex)) == {}
    healthy(crm)
    crm.journal.undo()
    assert crm.assoc.primary_company(ines) == globex and crm.assoc.primary_company(bo) == acme
    assert sorted(crm.assoc.linked_ids(bo, "companies")) == sorted([acme, globex])
    assert crm.assoc.linked_ids(("companies", acme), "companies") == [globex]
    assert crm.assoc.counts(("companies", globex)) == {"companies": 1, "contacts": 2, "deals": 1}
    healthy(crm)


def test_merge_of_contacts_keeps_the_survivors_primary_and_label_limits(crm, people):
    LabelDef = crm.models.LabelDef
    ines, bo = people["ines"], people["bo"]

    employer = crm.registry.find_label(crm.registry.get("contacts"), crm.registry.get("companies"), "Employer")
    LabelDef.update(limit_count=1).where(LabelDef.id == employer.id).execute()
    crm.assoc.add(("contacts", ines), ("companies", people["acme"]), labels=["Employer"])
    crm.assoc.add(("contacts", bo), ("companies", people["globex"]), labels=["Employer"])
    crm.merger.merge("contacts", ines, bo)
    assert crm.assoc.primary_company(("contacts", ines)) == people["acme"]
    groups = {i.id: i for i in crm.assoc.groups(("contacts", ines))[0].items}
    assert groups[people["acme"]].labels == ["Employer"] and groups[people["globex"]].labels == []
    assert not groups[people["globex"]].primary
    healthy(crm)
    crm.journal.undo()
    assert crm.assoc.primary_company(("contacts", bo)) == people["globex"]
    assert crm.assoc.groups(("contacts", bo))[0].items[0].labels == ["Employer"]
    healthy(crm)


def test_merge_into_a_record_without_companies_takes_the_other_primary(crm, people):
    ines, bo = people["ines"], people["bo"]
    crm.assoc.add(("contacts", bo), ("companies", people["acme"]))
    crm.assoc.add(("contacts", bo), ("companies", people["globex"]), primary=True)
    crm.merger.merge("contacts", ines, bo)
    assert crm.assoc.primary_company(("contacts", ines)) == people["globex"]
    healthy(crm)


def test_merge_moving_a_deal_makes_the_survivor_an_opportunity(crm, people):
    deal = crm.records.create("deals", {"dealname": "D"}).id
    crm.assoc.add(("deals", deal), ("contacts", people["bo"]))
    crm.records.update("contacts", people["ines"], {"lifecyclestage": ""})
    crm.merger.merge("contacts", people["ines"], people["bo"])
    assert crm.records.get("contacts", people["ines"]).properties["lifecyclestage"] == "opportunity"
    healthy(crm)


# ------------------------------------------------------------------ bulk, activities, automations

def test_the_journal_names_the_company_made_primary_and_the_link_whose_labels_changed(crm, people):
    ines = ("contacts", people["ines"])
    crm.assoc.add(ines, ("companies", people["acme"]))
    crm.assoc.add(ines, ("companies", people["globex"]))
    crm.assoc.set_primary(ines, people["globex"], source=sources.USER)
    assert crm.journal.list(limit=1)[0].summary == "Made Globex primary company of Ines Okoro"
    crm.assoc.set_labels(ines, ("companies", people["globex"]), ["Employer"], source=sources.USER)
    assert crm.journal.list(limit=1)[0].summary == "Changed labels of Ines Okoro and Globex"


def test_bulk_delete_and_bulk_associate_undo(crm, people):
    from crm_tui.services import bulk

    ids = [people["ines"], people["bo"]]
    crm.assoc.add(("contacts", people["ines"]), ("companies", people["globex"]))
    bulk.bulk_associate(crm, "contacts", ids, ("companies", people["acme"]), labels=["Advisor"], source=sources.USER)
    assert crm.journal.list(limit=1)[0].summary == "Linked 2 contacts with Acme"
    bulk.bulk_delete(crm, "contacts", ids, source=sources.USER)
    assert crm.journal.list(limit=1)[0].summary == "Deleted 2 contacts"
    crm.journal.undo()
    assert not any(crm.records.get("contacts", i).deleted for i in ids)
    assert sorted(crm.assoc.linked_ids(("contacts", people["ines"]), "companies")) == sorted([people["globex"], people["acme"]])
    assert crm.assoc.primary_company(("contacts", people["ines"])) == people["globex"]
    healthy(crm)
    crm.journal.undo()
    assert crm.assoc.linked_ids(("contacts", people["bo"]), "companies") == []
    assert crm.assoc.linked_ids(("contacts", people["ines"]), "companies") == [people["globex"]]
    healthy(crm)


def test_undo_of_a_logged_activity_takes_its_links_and_last_activity_date(crm, people):
    ines = ("contacts", people["ines"])
    crm.assoc.add(ines, ("companies", people["acme"]))
    before = crm.records.get("contacts", people["ines"]).properties.get("notes_last_updated")
    note = crm.activities.log(ines, "notes", {"hs_note_body": "call back"}, source=sources.USER).id
    assert crm.journal.list(limit=1)[0].summary == "Logged note on Ines Okoro"
    assert crm.assoc.linked_ids(("companies", people["acme"]), "notes") == [note]
    crm.journal.undo()
    assert crm.records.get("notes", note).deleted
    assert crm.assoc.linked_ids(ines, "notes") == [] and crm.assoc.linked_ids(("companies", people["acme"]), "notes") == []
    assert crm.records.get("contacts", people["ines"]).properties.get("notes_last_updated") == before
    healthy(crm)
    crm.journal.redo()
    assert crm.assoc.linked_ids(("companies", people["acme"]), "notes") == [note]
    healthy(crm)


def test_the_automatic_changes_an_operation_set_off_undo_with_it(crm, people):
    deal = crm.records.create("deals", {"dealname": "D"}, sources.USER).id
    crm.assoc.add(("deals", deal), ("contacts", people["ines"]), source=sources.USER)
    assert crm.records.get("contacts", people["ines"]).properties["lifecyclestage"] == "opportunity"
    crm.records.update("deals", deal, {"dealstage": "closedwon"}, sources.USER)
    assert crm.records.get("contacts", people["ines"]).properties["lifecyclestage"] == "customer"
    assert crm.records.get("deals", deal).properties["closedate"]
    crm.journal.undo()
    assert crm.records.get("contacts", people["ines"]).properties["lifecyclestage"] == "opportunity"
    assert crm.records.get("deals", deal).properties["closedate"] is None
    crm.journal.undo()  # the link, and the Opportunity it set off
    assert crm.records.get("contacts", people["ines"]).properties["lifecyclestage"] == "lead"
    healthy(crm)


def test_undo_of_a_record_deleted_after_another_took_its_email_is_refused(crm, people):
    crm.records.delete("contacts", people["bo"], sources.USER)
    deletion = crm.journal.list(limit=1)[0].id
    crm.records.create("contacts", {"email": "bo@lind.example"}, sources.USER)
    taker = crm.journal.list(limit=1)[0].id
    before = counts(crm)
    with pytest.raises(CrmError, match=f"cannot come back: .*bo@lind.example since operation {taker}"):
        crm.journal.undo(deletion)
    assert counts(crm) == before


# ------------------------------------------------------------------ set-based: cost does not grow with the links

def _statements(crm, fn) -> int:
    """Statements sent by Python. SQLite also reports the statements triggers run (prefixed "--"),
    the outer statement again for each row a trigger fires on, and each row of an executemany
    (with its values): a run of the same statement is one statement."""
    import re

    sent = []

    def trace(sql):
        shape = re.sub(r"'[^']*'|\b\d+(\.\d+)?\b", "?", sql)
        if not sql.startswith("--") and (not sent or sent[-1] != shape):
            sent.append(shape)

    conn = crm.db.connection()
    conn.set_trace_callback(trace)
    try:
        fn()
    finally:
        conn.set_trace_callback(None)
    return len(sent)


def _hub(crm, links: int) -> tuple[int, int]:
    """Company `other` linked with `links` contacts (their primary company), `keep` with a few."""
    with crm.operation("build", sources.MIGRATION) as op:
        first, last = crm.records.bulk_insert(crm.registry.get("contacts"), ["email"],
                                              [(f"h{i}-{links}@hub.example",) for i in range(links)], op)
        keep, other = crm.records.bulk_insert(crm.registry.get("companies"), ["name"], [("Keep",), ("Other",)], op)
        crm.records.index_range(crm.registry.get("contacts"), first, last)
        crm.records.index_range(crm.registry.get("companies"), keep, other)
        pairs = [(("contacts", c), ("companies", other)) for c in range(first, last + 1)]
        pairs += [(("contacts", c), ("companies", keep)) for c in range(first, first + 3)]
        crm.assoc.bulk_link(pairs, op)
    return keep, other


@pytest.mark.parametrize("action", ["merge", "delete", "restore"])
def test_merge_delete_restore_of_a_heavily_linked_record_are_set_based(tmp_path, action):
    from crm_tui.services.core import Crm

    used = []
    for links in (20, 400):
        with Crm.open(tmp_path / f"{action}-{links}.db") as crm:
            keep, other = _hub(crm, links)
            if action == "merge":
                used.append(_statements(crm, lambda: crm.merger.merge("companies", keep, other)))
                assert len(crm.assoc.linked_ids(("companies", keep), "contacts")) == links
            elif action == "delete":
                used.append(_statements(crm, lambda: crm.records.delete("companies", other)))
                assert crm.assoc.counts(("companies", other)) == {}
            else:
                crm.records.delete("companies", other)
                used.append(_statements(crm, lambda: crm.records.restore("companies", other)))
                assert len(crm.assoc.linked_ids(("companies", other), "contacts")) == links
            healthy(crm)
    assert used[1] <= used[0] + 5, used  # not one round of statements per link


def test_undo_of_an_email_change_refused_when_another_contact_took_the_old_email(crm, people):
    crm.records.update("contacts", people["ines"], {"email": "ines@new.example"}, sources.USER)
    change = crm.journal.list(limit=1)[0].id
    crm.records.create("contacts", {"email": "ines@acme.example"}, sources.USER)
    taker = crm.journal.list(limit=1)[0].id
    before = counts(crm)
    with pytest.raises(CrmError, match=f"cannot take back its email: .*since operation {taker}"):
        crm.journal.undo(change)
    assert counts(crm) == before


def test_two_windows_cannot_undo_the_same_operation_twice(crm, db_path, people):
    Operation = crm.models.Operation
    import subprocess
    import sys

    crm.records.update("contacts", people["ines"], {"jobtitle": "CTO"}, sources.USER)
    op = crm.journal.list(limit=1)[0].id
    tail = Operation.get_by_id(op)
    other = subprocess.run([sys.executable, "-m", "crm_tui.cli.main", "--db", str(db_path), "undo", str(op)],
                           capture_output=True, text=True, timeout=120)
    assert other.returncode == 0, other.stderr
    before = counts(crm)
    with pytest.raises(CrmError, match="a moment ago"):
        crm.journal._revert(tail, "undo", sources.USER, original=tail)  # as if it had read the chain before
    assert counts(crm) == before


def test_set_based_merge_delete_restore_while_a_read_is_pending(crm, people):
    """A SELECT fetched part-way (as a lazily iterated query leaves it) must not make the scratch
    tables of a merge, deletion or restore fail ("database table is locked")."""
    crm.assoc.add(("contacts", people["ines"]), ("companies", people["acme"]))
    crm.assoc.add(("contacts", people["bo"]), ("companies", people["globex"]))
    pending = crm.db.execute_sql("SELECT id FROM operation")
    pending.fetchone()
    crm.merger.merge("contacts", people["ines"], people["bo"])
    crm.records.delete("companies", people["globex"])
    crm.records.restore("companies", people["globex"])
    crm.journal.undo()
    assert crm.assoc.linked_ids(("contacts", people["ines"]), "companies") == [people["acme"]]
    pending.fetchall()
    healthy(crm)


def test_cli_undo_of_an_import_asks_at_a_terminal(db_path, tmp_path, monkeypatch, capsys):
    import json

    from crm_tui.cli import main as cli

    path = tmp_path / "c.csv"
    path.write_text("Email,First Name\nann@acme.example,Ann\n")
    assert cli.main(["--db", str(db_path), "import", str(path), "--json"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "no")
    assert cli.main(["--db", str(db_path), "undo"]) == 1
    assert "Import of c.csv" in asked[0] and "nothing changed" in capsys.readouterr().out
    assert cli.main(["--db", str(db_path), "undo", "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"].startswith("undid import")
    assert len(asked) == 1


@pytest.mark.parametrize("args,fragment", [
    (("undo", str(2**63)), "operation ID"),
    (("undo", "0"), "out of range"),
    (("undo", "abc"), "not a whole number"),
    (("operations", "--limit", "0"), "out of range"),
    (("undo", str(2**63 - 1)), "no operation with id"),
])
def test_cli_journal_arguments_are_one_line_exit_2(db_path, capsys, args, fragment):
    from crm_tui.cli import main as cli

    cli.main(["--db", str(db_path), "operations"])
    capsys.readouterr()
    assert cli.main(["--db", str(db_path), *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_core_undo_of_an_id_out_of_range_is_not_found(crm):
    from crm_tui.domain.errors import NotFound

    for bad in (2**64, -1, "x"):
        with pytest.raises(NotFound):
            crm.journal.undo(bad)


def test_redo_refused_when_a_later_edit_changed_the_same_value(crm, people):
    crm.records.update("contacts", people["ines"], {"jobtitle": "CTO"}, sources.USER)
    edit = crm.journal.list(limit=1)[0].id
    crm.journal.undo()
    crm.records.update("contacts", people["ines"], {"jobtitle": "Chair"}, sources.USER)
    later = crm.journal.list(limit=1)[0].id
    before = counts(crm)
    with pytest.raises(CrmError, match=f"cannot redo operation {edit} .*operation {later}"):
        crm.journal.redo()
    assert counts(crm) == before
    assert [o.id for o in crm.journal.list(include_undone=False)].count(edit) == 0
    assert edit in [o.id for o in crm.journal.list(include_undone=True)]


def test_undo_of_a_restore_deletes_again_with_its_links(crm, people):
    crm.assoc.add(("contacts", people["ines"]), ("companies", people["acme"]))
    crm.assoc.add(("contacts", people["ines"]), ("companies", people["globex"]))
    crm.records.delete("companies", people["acme"], sources.USER)
    crm.records.restore("companies", people["acme"], sources.USER)
    assert crm.assoc.primary_company(("contacts", people["ines"])) == people["acme"]
    crm.journal.undo()
    assert crm.records.get("companies", people["acme"]).deleted
    assert crm.assoc.linked_ids(("contacts", people["ines"]), "companies") == [people["globex"]]
    assert crm.assoc.primary_company(("contacts", people["ines"])) == people["globex"]
    healthy(crm)
    crm.journal.redo()
    assert crm.assoc.primary_company(("contacts", people["ines"])) == people["acme"]
    healthy(crm)


def test_a_bulk_edit_killed_part_way_can_be_undone_for_what_it_committed(crm, people):
    Operation = crm.models.Operation
    import json

    from crm_tui.services import bulk

    ids = [people["ines"], people["bo"]]
    result = bulk.bulk_update(crm, "contacts", ids, {"jobtitle": "Buyer"}, source=sources.USER, batch_size=1)
    parent = Operation.get_by_id(result.op_id)
    summary = json.loads(parent.summary)
    Operation.update(summary=json.dumps({**summary, "status": "running"})).where(Operation.id == parent.id).execute()
    with pytest.raises(CrmError, match="still running"):  # its last batch is seconds old: it may still be running
        crm.journal.undo(parent.id)
    Operation.update(at="2020-01-01T00:00:00.000000Z").where(Operation.parent == parent.id).execute()
    crm.journal.undo(parent.id)  # killed part-way long ago: undo what it committed
    assert all(crm.records.get("contacts", i).properties["jobtitle"] is None for i in ids)
    healthy(crm)
