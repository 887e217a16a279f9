"""Pipelines and stages, the stage/lifecycle automations, owners and their command line."""

from __future__ import annotations

import json

import pytest

from crm_tui.services import owners, pipelines
from crm_tui.domain import sources
from crm_tui.cli.main import main
from crm_tui.services.core import Crm
from crm_tui.domain.errors import InvalidValue, NotFound
from crm_tui.services.query import Filter


def lifecycle(crm, obj, rid):
    return crm.records.get(obj, rid).properties["lifecyclestage"]


def changes(crm, obj, rid, prop):
    return crm.history.property_history(obj, rid, prop=prop)


@pytest.fixture
def sale(crm):
    """A contact, a company and an open deal linked to both."""
    contact = crm.records.create("contacts", {"email": "ann@acme.com", "firstname": "Ann"}).id
    company = crm.records.create("companies", {"name": "Acme", "domain": "acme.com"}).id
    deal = crm.records.create("deals", {"dealname": "Big one", "amount": "1000"}).id
    crm.assoc.add(("deals", deal), ("contacts", contact), source=sources.USER)
    crm.assoc.add(("deals", deal), ("companies", company), source=sources.USER)
    return contact, company, deal


# -- listing and defaults -------------------------------------------------------------------

def test_default_pipelines_listed(crm):
    deals = pipelines.list_pipelines(crm, "deals")
    assert [p.name for p in deals] == ["default"]
    stages = deals[0].stages
    assert stages[0].name == "appointmentscheduled" and stages[0].probability == 0.2
    assert [s.kind for s in stages][-2:] == ["won", "lost"]
    tickets = pipelines.get_pipeline(crm, "tickets")
    assert tickets.name == "0" and [s.kind for s in tickets.stages] == ["open", "open", "open", "closed"]
    with pytest.raises(InvalidValue):
        pipelines.list_pipelines(crm, "contacts")


def test_new_deal_and_ticket_get_default_pipeline_and_first_stage(crm):
    deal = crm.records.get("deals", crm.records.create("deals", {"dealname": "D"}).id).properties
    assert (deal["pipeline"], deal["dealstage"]) == ("default", "appointmentscheduled")
    ticket = crm.records.get("tickets", crm.records.create("tickets", {"subject": "T"}).id).properties
    assert (ticket["hs_pipeline"], ticket["hs_pipeline_stage"]) == ("0", "1")


def test_dealstage_must_belong_to_pipeline(crm):
    other = pipelines.add_pipeline(crm, "deals", "Renewals")
    own = other.stages[0].name
    with pytest.raises(InvalidValue, match="not in pipeline Sales pipeline"):
        crm.records.create("deals", {"dealname": "D", "dealstage": own})
    rid = crm.records.create("deals", {"dealname": "D", "pipeline": "Renewals", "dealstage": own}).id
    # a label shared by both pipelines resolves to the record's own pipeline
    crm.records.update("deals", rid, {"dealstage": "Closed won"})
    assert crm.records.get("deals", rid).properties["dealstage"] == "renewals_closedwon"
    # changing the pipeline alone keeps a stage of the same label ...
    crm.records.update("deals", rid, {"pipeline": "default"})
    assert crm.records.get("deals", rid).properties["dealstage"] == "closedwon"
    crm.records.update("deals", rid, {"pipeline": "Renewals", "dealstage": "New"})
    # ... and refuses one the new pipeline does not have, listing the choices
    with pytest.raises(InvalidValue, match="choose one of: Appointment scheduled"):
        crm.records.update("deals", rid, {"pipeline": "default"})
    crm.records.update("deals", rid, {"pipeline": "default", "dealstage": "qualifiedtobuy"})
    # a stage of a ticket pipeline is no deal stage at all
    with pytest.raises(InvalidValue):
        crm.records.update("deals", rid, {"dealstage": "Waiting on us"})


# -- metadata changes ------------------------------------------------------------------------

def test_add_rename_reorder_archive_stages(crm):
    stage = pipelines.add_stage(crm, "deals", None, "Negotiation", probability=0.95, position=5)
    info = pipelines.get_pipeline(crm, "deals")
    assert info.stages[5].name == stage.name == "negotiation"
    # the registry was reloaded: the new stage is an option at once
    assert crm.registry.get("deals").properties["dealstage"].option_name("Negotiation") == "negotiation"
    pipelines.rename_stage(crm, "deals", "default", "negotiation", "Negotiating")
    assert crm.registry.get("deals").properties["dealstage"].option_label("negotiation") == "Negotiating"
    pipelines.reorder_stages(crm, "deals", "default", ["qualifiedtobuy", "appointmentscheduled"])
    assert [s.name for s in pipelines.get_pipeline(crm, "deals").stages][:2] == ["qualifiedtobuy", "appointmentscheduled"]
    pipelines.move_stage(crm, "deals", "default", "qualifiedtobuy", 1)
    assert [s.name for s in pipelines.get_pipeline(crm, "deals").stages][:2] == ["appointmentscheduled", "qualifiedtobuy"]
    with pytest.raises(InvalidValue, match="already has a stage named"):
        pipelines.add_stage(crm, "deals", None, "closed WON")
    with pytest.raises(InvalidValue, match="kind must be one of"):
        pipelines.add_stage(crm, "tickets", None, "Done", kind="won")

    rid = crm.records.create("deals", {"dealname": "D", "dealstage": "negotiation"}).id
    pipelines.archive_stage(crm, "deals", None, "negotiation")
    assert pipelines.get_pipeline(crm, "deals").stage("negotiation").archived
    # records keep an archived stage, but nobody moves into it
    crm.records.update("deals", rid, {"amount": "5"})
    other = crm.records.create("deals", {"dealname": "E"}).id
    with pytest.raises(InvalidValue, match="archived"):
        crm.records.update("deals", other, {"dealstage": "negotiation"})
    pipelines.archive_stage(crm, "deals", None, "negotiation", archived=False)
    crm.records.update("deals", other, {"dealstage": "negotiation"})


def test_add_rename_reorder_archive_pipelines(crm):
    added = pipelines.add_pipeline(crm, "deals", "Partners")
    assert added.name == "partners" and [s.kind for s in added.stages] == ["open", "won", "lost"]
    assert crm.registry.get("deals").properties["pipeline"].option_name("Partners") == "partners"
    pipelines.rename_pipeline(crm, "deals", "partners", "Partner deals")
    assert pipelines.get_pipeline(crm, "deals", "Partner deals").name == "partners"
    pipelines.reorder_pipelines(crm, "deals", ["partners"])
    assert [p.name for p in pipelines.list_pipelines(crm, "deals")] == ["partners", "default"]
    pipelines.archive_pipeline(crm, "deals", "partners")
    assert [p.name for p in pipelines.list_pipelines(crm, "deals", include_archived=False)] == ["default"]
    with pytest.raises(InvalidValue, match="archived"):
        crm.records.create("deals", {"dealname": "D", "pipeline": "partners"})
    with pytest.raises(InvalidValue, match="only active pipeline"):
        pipelines.archive_pipeline(crm, "deals", "default")
    with pytest.raises(NotFound):
        pipelines.get_pipeline(crm, "deals", "nope")


def test_delete_stage_only_unused_or_by_moving_records(crm):
    pipelines.add_stage(crm, "deals", None, "Demo")
    ids = [crm.records.create("deals", {"dealname": f"D{i}", "dealstage": "demo"}).id for i in range(3)]
    crm.records.create("deals", {"dealname": "other"})
    assert pipelines.stage_usage(crm, "deals", None, "demo") == 3
    with pytest.raises(InvalidValue, match="used by 3 deals; choose a stage"):
        pipelines.delete_stage(crm, "deals", None, "demo")
    message = pipelines.delete_stage(crm, "deals", None, "Demo", move_to="Qualified to buy", source=sources.USER)
    assert "moved 3 deals to Qualified to buy" in message
    assert pipelines.get_pipeline(crm, "deals").stage("demo") is None
    assert crm.registry.get("deals").properties["dealstage"].option_name("demo") is None
    for rid in ids:
        assert crm.records.get("deals", rid).properties["dealstage"] == "qualifiedtobuy"
        last = changes(crm, "deals", rid, "dealstage")[0]
        assert (last.old_value, last.new_value, last.source) == ("demo", "qualifiedtobuy", sources.USER)
    pipelines.add_stage(crm, "deals", None, "Unused")
    assert pipelines.delete_stage(crm, "deals", None, "unused") == "deleted stage Unused of pipeline Sales pipeline"


def test_stage_totals_in_one_query_and_pages(crm):
    from playhouse.test_utils import count_queries

    for i, (stage, amount) in enumerate([("appointmentscheduled", 10), ("appointmentscheduled", 5), ("closedwon", 7)]):
        crm.records.create("deals", {"dealname": f"D{i}", "dealstage": stage, "amount": amount})
    crm.records.delete("deals", 1)
    with count_queries() as counter:
        totals = pipelines.stage_totals(crm, "deals")
    assert counter.count == 1
    assert totals["appointmentscheduled"].count == 1 and totals["appointmentscheduled"].amount == 5
    assert totals["closedwon"].amount == 7
    assert pipelines.stage_totals(crm, "deals", filters=[Filter("amount", "gt", 6)]).keys() == {"closedwon"}
    assert pipelines.stage_totals(crm, "deals", ids=[3])["closedwon"].count == 1
    for i in range(5):
        crm.records.create("deals", {"dealname": f"P{i}", "dealstage": "qualifiedtobuy"})
    rows, after = pipelines.stage_page(crm, "deals", None, "qualifiedtobuy", limit=3)
    more, end = pipelines.stage_page(crm, "deals", None, "qualifiedtobuy", limit=3, after=after)
    assert [r["display_name"] for r in rows + more] == ["P4", "P3", "P2", "P1", "P0"] and end is None


# -- lifecycle and automations ---------------------------------------------------------------

def test_lifecycle_defaults_and_forward_only(crm):
    lead = crm.records.create("contacts", {"email": "a@x.org"}).id
    sub = crm.records.create("contacts", {"email": "b@x.org"}, subscriber=True).id
    assert lifecycle(crm, "contacts", lead) == "lead" and lifecycle(crm, "contacts", sub) == "subscriber"
    crm.records.update("contacts", lead, {"lifecyclestage": "customer"})
    with pytest.raises(InvalidValue, match="only moves forward.*clear it first, then set Lead"):
        crm.records.update("contacts", lead, {"lifecyclestage": "lead"})
    crm.records.update("contacts", lead, {"lifecyclestage": ""})
    crm.records.update("contacts", lead, {"lifecyclestage": "lead"})
    assert lifecycle(crm, "contacts", lead) == "lead"


def test_linking_a_deal_makes_opportunity_with_source_job(crm, sale):
    Operation = crm.models.Operation
    contact, company, deal = sale
    assert lifecycle(crm, "contacts", contact) == "opportunity"
    assert lifecycle(crm, "companies", company) == "opportunity"
    change = changes(crm, "contacts", contact, "lifecyclestage")[0]
    assert (change.old_value, change.new_value, change.source) == ("lead", "opportunity", sources.JOB)
    job = Operation.get(Operation.id == change.op_id)
    assert job.parent is not None and Operation.get(Operation.id == job.parent).source == sources.USER


def test_won_makes_customers_and_sets_close_date(crm, sale):
    contact, company, deal = sale
    result = crm.records.update("deals", deal, {"dealstage": "Closed won"}, sources.USER)
    assert "1 contact became Customer" in result.notes and "1 company became Customer" in result.notes
    assert lifecycle(crm, "contacts", contact) == "customer"
    assert lifecycle(crm, "companies", company) == "customer"
    assert changes(crm, "companies", company, "lifecyclestage")[0].source == sources.JOB
    closedate = changes(crm, "deals", deal, "closedate")[0]
    assert closedate.source == sources.JOB and closedate.new_value
    # a close date given by the user is kept
    other = crm.records.create("deals", {"dealname": "X", "closedate": "2020-01-02"}).id
    crm.records.update("deals", other, {"dealstage": "closedlost"})
    assert crm.records.get("deals", other).properties["closedate"] == "2020-01-02"


def test_lost_leaves_lifecycle_and_second_lost_deal_never_moves_back(crm, sale):
    contact, company, deal = sale
    lost = crm.records.create("deals", {"dealname": "Small"}).id
    crm.assoc.add(("deals", lost), ("contacts", contact))
    crm.records.update("deals", lost, {"dealstage": "closedlost"})
    assert lifecycle(crm, "contacts", contact) == "opportunity"  # lost: stays Opportunity
    assert crm.records.get("deals", lost).properties["closedate"]  # lost also gets a close date
    crm.records.update("deals", deal, {"dealstage": "closedwon"})
    assert lifecycle(crm, "contacts", contact) == "customer"
    # a second deal of the customer closes lost: nothing changes
    second = crm.records.create("deals", {"dealname": "Second"}).id
    crm.assoc.add(("deals", second), ("contacts", contact))
    crm.assoc.add(("deals", second), ("companies", company))
    before = len(changes(crm, "contacts", contact, "lifecyclestage"))
    crm.records.update("deals", second, {"dealstage": "closedlost"})
    assert lifecycle(crm, "contacts", contact) == "customer"
    assert lifecycle(crm, "companies", company) == "customer"
    assert len(changes(crm, "contacts", contact, "lifecyclestage")) == before
    # moving the won deal back to an open stage does not move anyone back either
    crm.records.update("deals", deal, {"dealstage": "qualifiedtobuy"})
    assert lifecycle(crm, "contacts", contact) == "customer"


def test_linking_a_won_deal_makes_customer_and_lost_deal_nothing(crm):
    won = crm.records.create("deals", {"dealname": "W", "dealstage": "closedwon"}).id
    assert crm.records.get("deals", won).properties["closedate"]  # created won: close date set
    lost = crm.records.create("deals", {"dealname": "L", "dealstage": "closedlost"}).id
    a = crm.records.create("contacts", {"email": "a@x.org"}).id
    b = crm.records.create("contacts", {"email": "b@x.org"}).id
    crm.assoc.add(("contacts", a), ("deals", won))
    crm.assoc.add(("contacts", b), ("deals", lost))
    assert lifecycle(crm, "contacts", a) == "customer"
    assert lifecycle(crm, "contacts", b) == "lead"


def test_other_and_evangelist_are_never_moved(crm):
    a = crm.records.create("contacts", {"email": "a@x.org", "lifecyclestage": "other"}).id
    b = crm.records.create("contacts", {"email": "b@x.org", "lifecyclestage": "evangelist"}).id
    deal = crm.records.create("deals", {"dealname": "D"}).id
    crm.assoc.add(("deals", deal), ("contacts", a))
    crm.assoc.add(("deals", deal), ("contacts", b))
    crm.records.update("deals", deal, {"dealstage": "closedwon"})
    assert lifecycle(crm, "contacts", a) == "other" and lifecycle(crm, "contacts", b) == "evangelist"


def test_ticket_closed_sets_closed_date(crm):
    rid = crm.records.create("tickets", {"subject": "Help"}).id
    assert crm.records.get("tickets", rid).properties["closed_date"] is None
    crm.records.update("tickets", rid, {"hs_pipeline_stage": "Waiting on us"})
    assert crm.records.get("tickets", rid).properties["closed_date"] is None
    crm.records.update("tickets", rid, {"hs_pipeline_stage": "Closed"})
    change = changes(crm, "tickets", rid, "closed_date")[0]
    assert change.source == sources.JOB and change.new_value


def test_automations_can_be_switched_off(crm):
    crm.overrides.update({"lifecycle_opportunity_on_deal": False, "lifecycle_customer_on_won": False,
                          "set_close_date": False})
    contact = crm.records.create("contacts", {"email": "a@x.org"}).id
    deal = crm.records.create("deals", {"dealname": "D"}).id
    crm.assoc.add(("deals", deal), ("contacts", contact))
    assert lifecycle(crm, "contacts", contact) == "lead"
    crm.records.update("deals", deal, {"dealstage": "closedwon"})
    assert lifecycle(crm, "contacts", contact) == "lead"
    assert crm.records.get("deals", deal).properties["closedate"] is None
    ticket = crm.records.create("tickets", {"subject": "T", "hs_pipeline_stage": "4"}).id
    assert crm.records.get("tickets", ticket).properties["closed_date"] is None
    # and through the stored settings too
    crm.overrides.clear()
    crm.set_setting("lifecycle_opportunity_on_deal", False)
    other = crm.records.create("contacts", {"email": "b@x.org"}).id
    open_deal = crm.records.create("deals", {"dealname": "Open"}).id
    crm.assoc.add(("deals", open_deal), ("contacts", other))
    assert lifecycle(crm, "contacts", other) == "lead"


def test_automation_failure_rolls_back_with_the_user_change(crm, sale, monkeypatch):
    from crm_tui.services import rules

    contact, company, deal = sale

    def broken(*args, **kwargs):
        raise InvalidValue("boom")

    monkeypatch.setattr(rules, "advance_lifecycles", broken)
    with pytest.raises(InvalidValue):
        crm.records.update("deals", deal, {"dealstage": "closedwon"})
    assert crm.records.get("deals", deal).properties["dealstage"] == "appointmentscheduled"
    assert crm.records.get("deals", deal).properties["closedate"] is None


# -- owners ---------------------------------------------------------------------------------

def test_owners_add_rename_me(crm):
    me = owners.me(crm)
    assert me.name == "tester" and me.is_me
    ann = owners.add_owner(crm, "Ann", "ann@x.org")
    with pytest.raises(InvalidValue, match="exists already"):
        owners.add_owner(crm, "ann")
    owners.rename_owner(crm, ann.id, "Ann B")
    assert crm.owner_name(ann.id) == "Ann B"
    assert [o.name for o in owners.list_owners(crm)] == ["tester", "Ann B"]
    mine = crm.records.create("deals", {"dealname": "Mine", "hubspot_owner_id": "me"}).id
    crm.records.create("deals", {"dealname": "Hers", "hubspot_owner_id": "Ann B"})
    rows = crm.records.list("deals", [Filter("hubspot_owner_id", "eq", "me")]).rows
    assert [r["id"] for r in rows] == [mine]


# -- schema apply ----------------------------------------------------------------------------

def test_schema_apply_pipelines_rename_reorder_archive(crm, tmp_path):
    from crm_tui.services.schema_apply import apply_schema_file

    path = tmp_path / "p.yaml"
    path.write_text("""
pipelines:
  - object: deals
    name: default
    label: Sales
    stages:
      - {name: qualifiedtobuy, label: Qualified}
      - {name: appointmentscheduled, label: Appointment scheduled, archived: true}
      - {name: trial, label: Trial, probability: 0.5}
  - object: tickets
    name: vip
    label: VIP support
    position: 0
    stages:
      - {name: vip_new, label: New}
      - {name: vip_done, label: Done, kind: closed}
""")
    messages = apply_schema_file(crm, path)
    assert "renamed pipeline default to Sales" in messages
    assert "archived stage Appointment scheduled of Sales" in messages
    assert "renamed stage qualifiedtobuy to Qualified" in messages
    info = pipelines.get_pipeline(crm, "deals")
    names = [s.name for s in info.stages]
    assert names[:3] == ["qualifiedtobuy", "appointmentscheduled", "trial"]
    assert names[3:] == ["presentationscheduled", "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"]
    assert len({s.position for s in info.stages}) == len(info.stages)
    assert info.stage("appointmentscheduled").archived
    assert [p.name for p in pipelines.list_pipelines(crm, "tickets")] == ["vip", "0"]
    assert crm.registry.get("deals").properties["dealstage"].option_name("Trial") == "trial"
    # a new deal now starts in the first active stage
    assert crm.records.get("deals", crm.records.create("deals", {"dealname": "D"}).id).properties["dealstage"] == "qualifiedtobuy"
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipelines:\n  - {object: deals, name: default, stages: [{name: x, probability: 7}]}\n")
    with pytest.raises(InvalidValue, match="probability must be between 0 and 1"):
        apply_schema_file(crm, bad)
    assert pipelines.get_pipeline(crm, "deals").stage("x") is None


# -- command line -----------------------------------------------------------------------------

def test_cli_pipelines_and_closedwon(db_path, capsys):
    with Crm.open(db_path) as crm:
        contact = crm.records.create("contacts", {"email": "ann@acme.com"}).id
        company = crm.records.create("companies", {"name": "Acme", "domain": "acme.com"}).id
        deal = crm.records.create("deals", {"dealname": "Big"}).id
        crm.assoc.add(("deals", deal), ("contacts", contact))
        crm.assoc.add(("deals", deal), ("companies", company))
    db = ["--db", str(db_path)]
    assert main(["pipelines"] + db) == 0
    out = capsys.readouterr().out
    assert "deals pipeline default: Sales pipeline" in out and "closedwon: Closed won  (won, 100%)" in out
    assert main(["pipelines", "--json"] + db) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in data] == ["default", "0"] and data[0]["stages"][5]["kind"] == "won"
    assert main(["record", "update", "deals", str(deal), "dealstage=closedwon"] + db) == 0
    out = capsys.readouterr().out
    assert "1 contact became Customer" in out and "1 company became Customer" in out
    assert main(["record", "update", "deals", str(deal), "dealstage=Closed lost"] + db) == 0
    capsys.readouterr()
    with Crm.open(db_path) as crm:
        assert lifecycle(crm, "contacts", contact) == "customer"
        assert changes(crm, "contacts", contact, "lifecyclestage")[0].source == sources.JOB
    assert main(["record", "update", "contacts", str(contact), "lifecyclestage=lead"] + db) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "clear it first" in err
    assert main(["record", "update", "deals", str(deal), "dealstage=New"] + db) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_cli_owners_add_and_filter_me(db_path, capsys):
    db = ["--db", str(db_path)]
    assert main(["owners", "add", "Bea", "--email", "bea@x.org"] + db) == 0
    assert "added owner 2: Bea <bea@x.org>" in capsys.readouterr().out
    assert main(["owners", "add", "Bea"] + db) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["record", "create", "deals", "dealname=Mine", "hubspot_owner_id=me"] + db) == 0
    assert main(["record", "create", "deals", "dealname=Hers", "hubspot_owner_id=Bea"] + db) == 0
    capsys.readouterr()
    assert main(["list", "deals", "--filter", "hubspot_owner_id=me"] + db) == 0
    out = capsys.readouterr().out
    assert "Mine" in out and "Hers" not in out
