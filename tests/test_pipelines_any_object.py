"""Pipelines on any object (issue 19, item 3): a custom `leads` object given a pipeline by `schema
apply` gets pipeline and stage properties, stage history, filters, reports, the board (same keys as
deals), the pipeline editor, undo, copy, export and import of the stage by label; deals and tickets
keep their own stage kinds."""

from __future__ import annotations

import csv

import pytest

from crm_tui.cli import main as cli
from crm_tui.domain import sources
from crm_tui.domain.errors import CrmError, InvalidValue
from crm_tui.services import pipelines
from crm_tui.services.core import Crm
from crm_tui.services.query import Filter, parse_filter
from crm_tui.services.reports import ReportSpec
from crm_tui.services.schema_apply import apply_schema_file

pytestmark = pytest.mark.backends("sqlite", "postgresql")

LEADS = """\
objects:
  - name: leads
    label: Lead
    plural_label: Leads
    properties: [{name: lead_name, label: Lead name, type: text}]
    pipelines:
      - name: Lead pipeline
        stages: [New, Attempting, Connected, Qualified, {label: Disqualified, kind: closed}]
"""
STAGES = ["new", "attempting", "connected", "qualified", "disqualified"]


def apply_text(crm, tmp_path, text: str, name: str = "schema.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return apply_schema_file(crm, path)


def with_leads(crm, tmp_path) -> list[str]:
    return apply_text(crm, tmp_path, LEADS, "leads.yaml")


def test_schema_apply_gives_a_custom_object_a_pipeline_and_stage_properties(crm, tmp_path):
    messages = with_leads(crm, tmp_path)
    assert "added properties leads.hs_pipeline and leads.hs_pipeline_stage" in messages
    meta = crm.registry.get("leads")
    assert pipelines.has_pipelines(crm, "leads") and pipelines.props_of(crm, "leads") == (
        "hs_pipeline", "hs_pipeline_stage", None)
    stage = meta.properties["hs_pipeline_stage"]
    # an ordinary select property whose options are the stages (workflow triggers, filters, imports see it so)
    assert stage.type == "select" and stage.label == "Lead stage"
    assert [(o.name, o.label) for o in stage.options] == list(zip(STAGES, ["New", "Attempting", "Connected",
                                                                          "Qualified", "Disqualified"]))
    assert [o.label for o in meta.properties["hs_pipeline"].options] == ["Lead pipeline"]
    info = pipelines.get_pipeline(crm, "leads")
    assert [(s.name, s.kind) for s in info.stages] == [(n, "closed" if n == "disqualified" else "open") for n in STAGES]
    assert "leads" in pipelines.pipeline_objects(crm) and "leads" in {p.object for p in pipelines.list_pipelines(crm)}
    # applying the same file again changes no pipeline or stage
    again = with_leads(crm, tmp_path)
    assert not [m for m in again if "pipeline" in m or "stage" in m]
    assert [s.name for s in pipelines.get_pipeline(crm, "leads").stages] == STAGES


def test_leads_get_the_first_stage_move_by_label_and_keep_stage_history(crm, tmp_path):
    with_leads(crm, tmp_path)
    lead = crm.records.create("leads", {"lead_name": "Ann"}).id
    props = crm.records.get("leads", lead).properties
    assert (props["hs_pipeline"], props["hs_pipeline_stage"]) == ("Lead pipeline", "new")
    crm.records.update("leads", lead, {"hs_pipeline_stage": "Connected"}, sources.USER, actor="ann")
    assert crm.records.get("leads", lead).properties["hs_pipeline_stage"] == "connected"
    history = crm.history.property_history("leads", lead, prop="hs_pipeline_stage")
    assert [(h.old_value, h.new_value, h.source) for h in history][:2] == [
        ("new", "connected", sources.USER), (None, "new", sources.API)]
    with pytest.raises(InvalidValue, match="is not an option|not in pipeline"):
        crm.records.update("leads", lead, {"hs_pipeline_stage": "Won"})
    assert pipelines.stage_kind(crm, "leads", "Lead pipeline", "disqualified") == "closed"


def test_the_top_level_form_gives_an_existing_object_pipelines_and_kinds_stay_per_object(crm, tmp_path):
    apply_text(crm, tmp_path, "objects:\n  - {name: projects, label: Project, properties: [{name: title, type: text}]}\n")
    assert not pipelines.has_pipelines(crm, "projects")
    with pytest.raises(InvalidValue, match="projects have no pipelines"):
        pipelines.get_pipeline(crm, "projects")
    apply_text(crm, tmp_path, """\
pipelines:
  - object: projects
    name: delivery
    label: Delivery
    stages: [{name: plan, label: Plan}, Build, {label: Shipped, kind: won}, {label: Dropped, kind: lost}]
""")
    info = pipelines.get_pipeline(crm, "projects")
    assert [(s.name, s.label, s.kind) for s in info.stages] == [
        ("plan", "Plan", "open"), ("build", "Build", "open"), ("shipped", "Shipped", "won"), ("dropped", "Dropped", "lost")]
    # deals keep won/lost and tickets open/closed: a "closed" deal stage is refused, nothing written
    before = pipelines.to_json(pipelines.get_pipeline(crm, "deals"))
    with pytest.raises(InvalidValue, match="stage kind must be one of open, won, lost"):
        apply_text(crm, tmp_path, "pipelines:\n  - {object: deals, name: default, stages: [{name: x, kind: closed}]}\n")
    assert pipelines.to_json(pipelines.get_pipeline(crm, "deals")) == before
    # an activity has no pipelines
    with pytest.raises(InvalidValue, match="activities have no pipelines"):
        apply_text(crm, tmp_path, "pipelines:\n  - {object: notes, name: x, stages: [A]}\n")
    # the pipeline of an object entry may not name another object
    with pytest.raises(InvalidValue, match="names another object"):
        apply_text(crm, tmp_path, "objects:\n  - name: projects\n    pipelines: [{object: deals, name: x}]\n")


def test_filter_and_report_by_stage(crm, tmp_path):
    with_leads(crm, tmp_path)
    for i, stage in enumerate(["New", "Connected", "Connected", "Disqualified"]):
        crm.records.create("leads", {"lead_name": f"Lead {i}", "hs_pipeline_stage": stage})
    page = crm.records.list("leads", [Filter("hs_pipeline_stage", "eq", "connected")])
    assert sorted(r["lead_name"] for r in page.rows) == ["Lead 1", "Lead 2"]
    assert crm.records.count("leads", [parse_filter("hs_pipeline_stage=Connected")]) == 2
    assert crm.records.count("leads", [parse_filter("hs_pipeline_stage!=Connected")]) == 2
    report = crm.reports.run(ReportSpec("leads", group_by="hs_pipeline_stage"))
    rows = [(row.group, row.value) for row in report.rows]
    assert rows == [("New", 1), ("Connected", 2), ("Disqualified", 1)]  # in stage order
    totals = pipelines.stage_totals(crm, "leads")
    assert {k: v.count for k, v in totals.items()} == {"new": 1, "connected": 2, "disqualified": 1}


def test_undo_of_the_schema_apply_is_refused_while_leads_use_it_and_exact_after(crm, tmp_path):
    tables_before = set(crm.db.get_tables())
    with_leads(crm, tmp_path)
    op = crm.journal.list(limit=1)[0]
    lead = crm.records.create("leads", {"lead_name": "Ann"}).id
    with pytest.raises(CrmError, match="cannot be undone|refuse|in use|lead"):
        crm.journal.undo(op.id)
    assert pipelines.has_pipelines(crm, "leads")  # nothing changed
    crm.eraser.erase("leads", lead)
    crm.journal.undo(op.id)
    assert "leads" not in crm.registry.objects
    assert not [p for p in pipelines.list_pipelines(crm) if p.object == "leads"]
    assert set(crm.db.get_tables()) == tables_before


def test_undo_of_a_pipeline_added_to_an_existing_object_drops_its_properties(crm, tmp_path):
    apply_text(crm, tmp_path, "objects:\n  - {name: projects, label: Project, properties: [{name: title, type: text}]}\n")
    project = crm.records.create("projects", {"title": "Roof"}).id
    with pytest.raises(InvalidValue, match="projects have no pipelines .schema apply adds them"):
        pipelines.add_pipeline(crm, "projects", "Delivery")  # the editor's path: the first comes from schema apply
    apply_text(crm, tmp_path, "pipelines:\n  - {object: projects, name: delivery, stages: [Plan, {label: Done, kind: won}]}\n")
    assert crm.records.get("projects", project).properties["hs_pipeline_stage"] == "plan"  # placed
    crm.journal.undo()
    assert not pipelines.has_pipelines(crm, "projects")
    assert "hs_pipeline_stage" not in [c.name for c in crm.db.get_columns("obj_projects")]
    assert crm.records.get("projects", project).properties["title"] == "Roof"


def test_copy_to_a_new_sqlite_database_keeps_the_pipelines(db_path, tmp_path):
    from crm_tui.services.copying import copy_database

    with Crm.open(db_path) as crm:
        with_leads(crm, tmp_path)
        lead = crm.records.create("leads", {"lead_name": "Ann", "hs_pipeline_stage": "Qualified"}).id
        expected = pipelines.to_json(pipelines.get_pipeline(crm, "leads"))
    target = tmp_path / "copy.db"
    copy_database(db_path, target)
    with Crm.open(target) as copy:
        assert pipelines.to_json(pipelines.get_pipeline(copy, "leads")) == expected
        assert copy.records.get("leads", lead).properties["hs_pipeline_stage"] == "qualified"
        assert pipelines.stage_totals(copy, "leads")["qualified"].count == 1
        copy.records.update("leads", lead, {"hs_pipeline_stage": "Disqualified"})  # the rules work in the copy
        assert pipelines.stage_totals(copy, "leads")["disqualified"].count == 1


def test_export_and_import_the_stage_by_label(db_path, tmp_path, capsys):
    with Crm.open(db_path) as crm:
        with_leads(crm, tmp_path)
        crm.records.create("leads", {"lead_name": "Ann", "hs_pipeline_stage": "attempting"})
    out = tmp_path / "leads.csv"
    assert cli.main(["--db", str(db_path), "export", "leads", "-o", str(out)]) == 0
    with out.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["Lead stage"] == "Attempting" and rows[0]["Pipeline"] == "Lead pipeline"
    src = tmp_path / "new_leads.csv"
    src.write_text("Lead name,Lead stage\nBo,Qualified\nCy,disqualified\n", encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["--db", str(db_path), "import", str(src), "--object", "leads"]) == 0, capsys.readouterr()
    with Crm.open(db_path) as crm:
        got = {r["lead_name"]: (r["hs_pipeline"], r["hs_pipeline_stage"]) for r in crm.records.list("leads").rows}
    assert got == {"Ann": ("Lead pipeline", "attempting"), "Bo": ("Lead pipeline", "qualified"),
                   "Cy": ("Lead pipeline", "disqualified")}


def test_deals_and_tickets_pipelines_unchanged(crm):
    assert pipelines.props_of(crm, "deals") == ("pipeline", "dealstage", "amount")
    assert pipelines.props_of(crm, "tickets") == ("hs_pipeline", "hs_pipeline_stage", None)
    assert pipelines.get_pipeline(crm, "deals").name == "default" and pipelines.get_pipeline(crm, "tickets").name == "0"
    assert pipelines.kinds_of("deals") == ("open", "won", "lost") and pipelines.kinds_of("tickets") == ("open", "closed")
    assert pipelines.pipeline_objects(crm) == ["deals", "tickets"]
    with pytest.raises(InvalidValue, match="contacts have no pipelines"):
        pipelines.list_pipelines(crm, "contacts")


def test_a_stage_column_maps_on_import_and_the_stage_property_cannot_be_deleted(db_path, tmp_path, capsys):
    with Crm.open(db_path) as crm:
        with_leads(crm, tmp_path)
        with pytest.raises(InvalidValue, match="holds the pipelines of Leads"):
            crm.datamodel.delete_property("leads", "hs_pipeline_stage")
        with pytest.raises(InvalidValue, match="holds the pipelines of Leads"):
            crm.datamodel.delete_property("leads", "hs_pipeline")
        assert pipelines.has_pipelines(crm, "leads")
    src = tmp_path / "other_crm.csv"
    src.write_text("Lead name,Pipeline,Stage\nDi,Lead pipeline,Connected\n", encoding="utf-8")
    assert cli.main(["--db", str(db_path), "import", str(src), "--object", "leads"]) == 0, capsys.readouterr()
    with Crm.open(db_path) as crm:
        row = crm.records.list("leads").rows[0]
    assert (row["lead_name"], row["hs_pipeline"], row["hs_pipeline_stage"]) == ("Di", "Lead pipeline", "connected")


def test_existing_records_go_to_the_first_stage_and_the_undo_takes_them_back_out(crm, tmp_path):
    apply_text(crm, tmp_path, "objects:\n  - {name: projects, label: Project, properties: [{name: title, type: text}]}\n")
    roof, wall = (crm.records.create("projects", {"title": t}).id for t in ("Roof", "Wall"))
    messages = apply_text(crm, tmp_path, "pipelines:\n  - {object: projects, name: delivery, label: Delivery, "
                                         "stages: [Plan, Build, {label: Done, kind: won}]}\n")
    assert "put 2 projects in the first stage of Delivery" in messages
    schema_op = crm.journal.list(limit=1)[0].id
    for rid in (roof, wall):
        props = crm.records.get("projects", rid).properties
        assert (props["hs_pipeline"], props["hs_pipeline_stage"]) == ("delivery", "plan")
        change = crm.history.property_history("projects", rid, prop="hs_pipeline_stage")[0]
        assert (change.old_value, change.new_value, change.source) == (None, "plan", sources.JOB)
    assert pipelines.stage_totals(crm, "projects")["plan"].count == 2
    # a second pipeline places nobody; the undo of the first takes the values and properties back
    pipelines.add_pipeline(crm, "projects", "Repairs")
    assert pipelines.stage_totals(crm, "projects", "repairs") == {}
    crm.journal.undo()
    crm.journal.undo(schema_op)
    assert not pipelines.has_pipelines(crm, "projects")
    assert crm.records.get("projects", roof).properties["title"] == "Roof"
    assert "hs_pipeline_stage" not in crm.records.get("projects", roof).properties


def test_a_workflow_triggers_on_a_lead_entering_a_stage_and_undo_takes_it_back(crm, tmp_path):
    import yaml

    with_leads(crm, tmp_path)
    crm.workflows.apply(yaml.safe_load("""\
workflows:
  - name: Call qualified leads
    object: leads
    when: {changed: hs_pipeline_stage, to: Qualified}
    do:
      - create_task: {subject: "Call {lead_name}", due_in_days: 1}
"""))
    lead = crm.records.create("leads", {"lead_name": "Ann"}).id
    crm.records.update("leads", lead, {"hs_pipeline_stage": "connected"}, sources.USER)
    assert crm.records.list("tasks").rows == []
    crm.records.update("leads", lead, {"hs_pipeline_stage": "qualified"}, sources.USER)
    tasks = crm.records.list("tasks").rows
    assert [t["hs_task_subject"] for t in tasks] == ["Call Ann"]
    assert crm.assoc.linked_ids(("tasks", tasks[0]["id"]), "leads") == [lead]
    crm.journal.undo(source=sources.USER)
    assert crm.records.get("leads", lead).properties["hs_pipeline_stage"] == "connected"
    assert crm.records.list("tasks").rows == []
