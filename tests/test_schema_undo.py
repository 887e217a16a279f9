"""Pipeline and schema changes in the journal: listed, undone and redone exactly, with history rows and
a source; an undo something depends on since (records in a stage, values in a property, an option in
use, a label on a link, links over a limit) is refused in one line and changes nothing."""

import json

import pytest

from crm_tui.services import pipelines
from crm_tui.domain import sources
from crm_tui.domain.errors import CrmError
from crm_tui.services.schema_apply import apply_schema_file
from tests.test_journal import healthy


def state(crm) -> dict:
    """Everything the metadata says, as plain values (for exact before/after comparisons)."""
    db = crm.db
    out = {}
    for tbl in ("object_type", "property_def", "label_def", "pair_limit", "pipeline", "stage"):
        cursor = db.execute_sql(f'SELECT * FROM "{tbl}" ORDER BY id')
        out[tbl] = [tuple(row) for row in cursor.fetchall()]
    out["tables"] = sorted(name for (name,) in db.execute_sql(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%'").fetchall())
    out["columns"] = {meta.table: [c.name for c in db.get_columns(meta.table)] for meta in crm.registry.objects.values()}
    return out


def newest(crm):
    Operation = crm.models.Operation
    return Operation.select().where(Operation.parent.is_null(True)).order_by(Operation.id.desc()).first()


EDITS = {
    "add_stage": lambda crm: pipelines.add_stage(crm, "deals", None, "Demo", probability=0.3, position=2),
    "rename_stage": lambda crm: pipelines.rename_stage(crm, "deals", None, "qualifiedtobuy", "Qualified"),
    "probability": lambda crm: pipelines.update_stage(crm, "deals", None, "qualifiedtobuy", probability=0.55),
    "reorder": lambda crm: pipelines.move_stage(crm, "deals", None, "qualifiedtobuy", 2),
    "archive_stage": lambda crm: pipelines.archive_stage(crm, "tickets", None, "2"),
    "add_pipeline": lambda crm: pipelines.add_pipeline(crm, "deals", "Renewals"),
    "rename_pipeline": lambda crm: pipelines.rename_pipeline(crm, "tickets", "0", "Support"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_each_pipeline_edit_is_listed_undone_and_redone_exactly(crm, edit):
    before = state(crm)
    EDITS[edit](crm)
    after = state(crm)
    assert after != before
    op = newest(crm)
    listed = crm.journal.list(limit=1)[0]
    assert listed.id == op.id and listed.undoable and not listed.undone and listed.source == sources.USER
    MetaChange, Operation = crm.models.MetaChange, crm.models.Operation
    assert MetaChange.select().where(MetaChange.op == op.id).count() >= 1  # history rows of its own
    result = crm.journal.undo()
    assert result.op_id == op.id
    assert state(crm) == before
    undo_op = Operation.get_by_id(result.undo_op_id)
    assert undo_op.source == sources.USER and MetaChange.select().where(MetaChange.op == undo_op.id).count() >= 1
    assert crm.journal.get(op.id).undone
    crm.journal.redo()
    assert state(crm) == after
    assert pipelines.get_pipeline(crm, "deals").stages  # the cache follows
    healthy(crm)


def test_undo_of_a_stage_refused_while_records_are_in_it(crm):
    pipelines.add_stage(crm, "deals", None, "Demo")
    add = newest(crm)
    deal = crm.records.create("deals", {"dealname": "Big one", "dealstage": "demo"}, sources.USER).id
    before = state(crm)
    with pytest.raises(CrmError) as refused:
        crm.journal.undo(add.id)
    line = str(refused.value)
    assert "\n" not in line and "1 deal is in stage Demo of pipeline Sales pipeline" in line, line
    assert "operation" in line and "Big one" in line, line  # names what put it there
    assert state(crm) == before and not crm.journal.get(add.id).undone
    crm.records.update("deals", deal, {"dealstage": "closedwon"}, sources.USER)
    crm.journal.undo(add.id)
    assert pipelines.get_pipeline(crm, "deals").stage("demo") is None
    healthy(crm)


def test_undo_refused_when_a_later_change_renamed_the_stage(crm):
    pipelines.add_stage(crm, "deals", None, "Demo")
    add = newest(crm)
    pipelines.rename_stage(crm, "deals", None, "demo", "Live demo")
    rename = newest(crm)
    with pytest.raises(CrmError, match=f"operation {rename.id} .*Live demo.*undo that first"):
        crm.journal.undo(add.id)
    crm.journal.undo(rename.id)
    crm.journal.undo(add.id)
    assert pipelines.get_pipeline(crm, "deals").stage("demo") is None


def test_undo_of_a_stage_deletion_brings_the_stage_and_its_records_back(crm):
    ids = [crm.records.create("deals", {"dealname": f"D{i}", "dealstage": "contractsent"}, sources.USER).id
           for i in range(3)]
    before = state(crm)
    message = pipelines.delete_stage(crm, "deals", None, "contractsent", move_to="decisionmakerboughtin")
    assert "moved 3 deals" in message
    op = newest(crm)
    assert crm.journal.get(op.id).undoable
    assert "Deleted stage Contract sent" in crm.journal.get(op.id).summary
    crm.journal.undo(op.id)
    assert state(crm) == before
    assert {crm.records.get("deals", i).properties["dealstage"] for i in ids} == {"contractsent"}
    crm.journal.redo()
    assert pipelines.get_pipeline(crm, "deals").stage("contractsent") is None
    assert {crm.records.get("deals", i).properties["dealstage"] for i in ids} == {"decisionmakerboughtin"}
    healthy(crm)


SCHEMA = """
objects:
  - name: roast_batches
    label: Roast Batch
    plural_label: Roast Batches
    properties:
      - {name: batch_name, label: Batch name, type: text}
      - {name: roast_level, label: Roast level, type: select, options: [light, dark]}
properties:
  contacts:
    - {name: favorite_color, label: Favorite color, type: text}
  deals:
    - {name: deal_size, label: Deal size, type: select, options: [small, large]}
labels:
  - {from: contacts, to: companies, name: Roaster, limit: 1}
limits:
  - {from: deals, to: companies, limit: 1}
pipelines:
  - object: deals
    name: renewals
    label: Renewals
    stages:
      - {name: due, label: Due, probability: 0.5}
      - {name: renewed, label: Renewed, kind: won, probability: 1.0}
"""


def test_schema_apply_is_one_operation_undone_and_redone_exactly(crm, tmp_path):
    path = tmp_path / "roast.yaml"
    path.write_text(SCHEMA)
    before = state(crm)
    apply_schema_file(crm, path)
    after = state(crm)
    op = newest(crm)
    listed = crm.journal.get(op.id)
    assert listed.kind == "schema_apply" and listed.source == sources.API and listed.undoable
    assert "roast.yaml" in listed.summary
    crm.journal.undo(op.id, source=sources.API)
    assert state(crm) == before  # the object's table, the new column, label, limit, pipeline: gone
    assert "roast_batches" not in crm.registry.objects and "favorite_color" not in crm.registry.get("contacts").properties
    healthy(crm)
    crm.journal.redo(source=sources.API)
    assert state(crm) == after
    crm.records.create("roast_batches", {"batch_name": "B1", "roast_level": "dark"}, sources.USER)  # works again
    healthy(crm)


def test_schema_undo_refused_while_what_it_made_is_in_use(crm, tmp_path):
    path = tmp_path / "roast.yaml"
    path.write_text(SCHEMA)
    apply_schema_file(crm, path)
    op = newest(crm)
    ann = crm.records.create("contacts", {"email": "ann@a.example", "favorite_color": "teal"}, sources.USER).id
    before = state(crm)
    with pytest.raises(CrmError) as refused:
        crm.journal.undo(op.id)
    line = str(refused.value)
    assert "\n" not in line and "property Favorite color of contacts holds values in 1 contact" in line, line
    assert state(crm) == before and not crm.journal.get(op.id).undone
    crm.records.update("contacts", ann, {"favorite_color": None}, sources.USER)
    # a later file adds an option, used since: the first file's undo waits for the later one, whose
    # undo is refused while a record has the option
    later = tmp_path / "more.yaml"
    later.write_text("properties:\n  deals:\n    - {name: deal_size, options: [small, large, huge]}\n")
    apply_schema_file(crm, later)
    more = newest(crm)
    crm.records.create("deals", {"dealname": "Huge", "deal_size": "huge"}, sources.USER)
    with pytest.raises(CrmError, match=f"operation {more.id} .*changed the same property Deal size"):
        crm.journal.undo(op.id)
    with pytest.raises(CrmError, match="the option 'huge' of property Deal size of deals is used by 1 deal"):
        crm.journal.undo(more.id)
    assert not crm.journal.get(more.id).undone and not crm.journal.get(op.id).undone


def test_schema_undo_refused_while_a_label_it_made_is_on_a_link(crm, tmp_path):
    path = tmp_path / "labels.yaml"
    path.write_text("labels:\n  - {from: contacts, to: companies, name: Roaster}\n")
    apply_schema_file(crm, path)
    op = newest(crm)
    ann = crm.records.create("contacts", {"email": "ann@a.example"}, sources.USER).id
    acme = crm.records.create("companies", {"name": "Acme", "domain": "acme.example"}, sources.USER).id
    crm.assoc.add(("contacts", ann), ("companies", acme), labels=["Roaster"], source=sources.USER)
    with pytest.raises(CrmError, match="label 'Roaster' .*is on 1 link"):
        crm.journal.undo(op.id)
    crm.assoc.remove_label(("contacts", ann), ("companies", acme), "Roaster", source=sources.USER)
    crm.journal.undo(op.id)
    assert all(label["name"] != "Roaster" for label in crm.assoc.labels())


def test_undo_of_a_raised_limit_refused_while_links_exceed_the_old_one(crm, tmp_path):
    one, two = tmp_path / "one.yaml", tmp_path / "two.yaml"
    one.write_text("limits:\n  - {from: deals, to: companies, limit: 1}\n")
    two.write_text("limits:\n  - {from: deals, to: companies, limit: 2}\n")
    apply_schema_file(crm, one)
    apply_schema_file(crm, two)
    raised = newest(crm)
    deal = crm.records.create("deals", {"dealname": "Two sided"}, sources.USER).id
    for name in ("Acme", "Globex"):
        company = crm.records.create("companies", {"name": name}, sources.USER).id
        crm.assoc.add(("deals", deal), ("companies", company), source=sources.USER)
    with pytest.raises(CrmError, match="Two sided has 2 links where the limit of deals -> companies would be 1"):
        crm.journal.undo(raised.id)
    assert crm.journal.get(raised.id).undoable


def test_operations_made_before_the_journal_kept_schema_changes_are_refused(crm):
    with crm.operation("delete_stage", sources.USER, object="deals", summary={"pipeline": "default", "stage": "x"}):
        pass
    op = newest(crm)
    assert not crm.journal.get(op.id).undoable
    with pytest.raises(CrmError, match="before schema and pipeline changes were kept in history"):
        crm.journal.undo(op.id)


def test_cli_schema_apply_operations_undo_redo(db_path, tmp_path, capsys):
    from crm_tui.cli import main as cli

    def run(*argv, code=0):
        assert cli.main(["--db", str(db_path), *argv]) == code, capsys.readouterr()
        out = capsys.readouterr()
        return out.out if code == 0 else out.err

    path = tmp_path / "roast.yaml"
    path.write_text(SCHEMA)
    run("schema", "apply", str(path))
    rows = json.loads(run("operations", "--limit", "1", "--json"))
    assert rows[0]["kind"] == "schema_apply" and rows[0]["source"] == "API" and "roast.yaml" in rows[0]["summary"]
    assert "undid Schema applied from roast.yaml" in run("undo")
    assert "roast_batches" not in run("schema")
    run("record", "create", "deals", "dealname=X", "pipeline=renewals", code=2)
    run("redo")
    assert "roast_batches" in run("schema")
    run("record", "create", "contacts", "email=c@c.example", "favorite_color=red")
    err = run("undo", str(rows[0]["id"]), code=2)
    assert len(err.strip().splitlines()) == 1 and "holds values in 1 contact" in err
    assert "healthy" in run("doctor")


def test_schema_undo_after_the_new_objects_index_was_opened(crm, tmp_path):
    """Opening an index makes its default view: that is no reason to refuse; a saved view that
    filters on the new property is."""
    from crm_tui.services.query import Filter
    from crm_tui.services.views import Views

    path = tmp_path / "roast.yaml"
    path.write_text(SCHEMA)
    before = state(crm)
    apply_schema_file(crm, path)
    op = newest(crm)
    views = Views(crm)
    views.default("roast_batches")
    views.default("contacts")
    saved = views.create("contacts", "Teal fans", columns=["firstname", "favorite_color"],
                       filters=[Filter("favorite_color", "=", "teal")])
    with pytest.raises(CrmError, match="the saved view 'Teal fans' uses property Favorite color of contacts"):
        crm.journal.undo(op.id)
    views.delete(saved.id)
    crm.journal.undo(op.id)
    assert {k: v for k, v in state(crm).items()} == before


# -- any schema file: undo and redo are exact -----------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_names = st.sampled_from(["alpha", "beta", "gamma", "delta"])
_prop = st.builds(lambda name, kind: {"name": f"p_{name}", "type": kind,
                                      **({"options": ["one", "two"]} if kind in ("select", "multiselect") else {})},
                  _names, st.sampled_from(["text", "number", "date", "select", "multiselect", "boolean"]))
_schema = st.fixed_dictionaries({}, optional={
    "objects": st.lists(st.builds(lambda name, props: {"name": f"o_{name}", "properties": [{"name": "title"}] + props},
                                  _names, st.lists(_prop, max_size=2, unique_by=lambda p: p["name"])),
                        max_size=2, unique_by=lambda o: o["name"]),
    "properties": st.fixed_dictionaries({"contacts": st.lists(_prop, min_size=1, max_size=3, unique_by=lambda p: p["name"])}),
    "labels": st.lists(st.builds(lambda name, limit: {"from": "contacts", "to": "companies", "name": f"L {name}",
                                                      "limit": limit}, _names, st.none() | st.integers(1, 3)),
                       max_size=2, unique_by=lambda label: label["name"]),
    "limits": st.lists(st.builds(lambda n: {"from": "deals", "to": "companies", "limit": n}, st.integers(1, 3)),
                       max_size=1),
    "pipelines": st.lists(st.builds(lambda name, stages: {
        "object": "deals", "name": name, "label": name.title(),
        "stages": [{"name": f"{name}_{s}", "probability": 0.5} for s in stages]},
        st.sampled_from(["default", "renewals"]), st.lists(_names, min_size=1, max_size=3, unique=True)), max_size=1),
})


@settings(max_examples=25, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(first=_schema, second=_schema)
def test_any_schema_file_undone_and_redone_exactly(tmp_path, first, second):
    """Two schema files in a row (the second may change what the first made); undoing the newest,
    then the first, brings back exactly the metadata and storage before each; redo exactly after."""
    import yaml

    from crm_tui.services.core import Crm

    path = tmp_path / "s.db"
    path.unlink(missing_ok=True)
    with Crm.open(path) as crm:
        states = [state(crm)]
        for number, spec in enumerate((first, second)):
            file = tmp_path / f"{number}.yaml"
            file.write_text(yaml.safe_dump(spec))
            try:
                apply_schema_file(crm, file)
            except CrmError:
                assert state(crm) == states[-1]  # refused: nothing written
                continue
            states.append(state(crm))
        for expected in reversed(states[:-1]):
            crm.journal.undo(source=sources.API)
            assert state(crm) == expected
        for expected in states[1:]:
            crm.journal.redo(source=sources.API)
            assert state(crm) == expected
        healthy(crm)


def test_cli_labels_create_is_undone(db_path, capsys):
    from crm_tui.cli import main as cli

    assert cli.main(["--db", str(db_path), "labels", "create", "contacts", "contacts", "Mentor",
                     "--inverse", "Mentee"]) == 0
    assert cli.main(["--db", str(db_path), "operations", "--limit", "1"]) == 0
    assert "create_label" in capsys.readouterr().out
    assert cli.main(["--db", str(db_path), "undo"]) == 0
    assert "Created label Mentor (contacts -> contacts)" in capsys.readouterr().out
    assert cli.main(["--db", str(db_path), "labels"]) == 0
    assert "Mentor" not in capsys.readouterr().out
