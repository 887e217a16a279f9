"""One rule path: the same data imported in bulk and entered record by record through the core API
end in the same database (values, lifecycle stages, close dates, last activity dates, links with
their labels and primary flags), ids and timestamps aside."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_tui.domain import sources
from crm_tui.services.core import Crm
from crm_tui.importing import importer
from crm_tui.importing import undo as import_journal
from crm_tui.importing.importer import Column

# -- the data -------------------------------------------------------------------------------------


@dataclass
class Data:
    companies: list[dict] = field(default_factory=list)  # key, name, domain
    contacts: list[dict] = field(default_factory=list)  # key, email, firstname, lifecyclestage, companies, primary
    deals: list[dict] = field(default_factory=list)  # key, dealname, dealstage, contacts, companies, decider
    tickets: list[dict] = field(default_factory=list)  # key, subject, hs_pipeline_stage, contacts
    notes: list[dict] = field(default_factory=list)  # key, hs_note_body, hs_timestamp, contact
    calls: list[dict] = field(default_factory=list)  # key, hs_call_title, hs_timestamp, contact (Last contacted)


def sample_data() -> Data:
    d = Data()
    d.companies = [
        {"key": "c1", "name": "Acme", "domain": "acme.example"},
        {"key": "c2", "name": "Globex", "domain": "globex.example"},
        {"key": "c3", "name": "Initech", "domain": None},
    ]
    d.contacts = [
        # linked by domain to Acme (primary), and to Globex from the file
        {"key": "p1", "email": "ann@acme.example", "firstname": "Ann", "lifecyclestage": None, "companies": ["c2"]},
        # free mail: no link by domain; its first company from the file is primary
        {"key": "p2", "email": "bob@gmail.com", "firstname": "Bob", "lifecyclestage": None, "companies": ["c3", "c1"]},
        # a company chosen as primary over the one linked by domain
        {"key": "p7", "email": "gil@acme.example", "firstname": "Gil", "lifecyclestage": None, "companies": [],
         "primary": "c2"},
        {"key": "p3", "email": "cy@globex.example", "firstname": "Cy", "lifecyclestage": "customer", "companies": []},
        {"key": "p4", "email": "di@nowhere.example", "firstname": "Di", "lifecyclestage": "other", "companies": []},
        {"key": "p5", "email": "ed@nowhere.example", "firstname": "Ed", "lifecyclestage": "subscriber", "companies": []},
        {"key": "p6", "email": "fay@nowhere.example", "firstname": "Fay", "lifecyclestage": None, "companies": []},
    ]
    d.deals = [
        {"key": "d1", "dealname": "Open deal", "dealstage": "qualifiedtobuy", "contacts": ["p1", "p4"], "companies": ["c1"],
         "decider": "p1"},
        {"key": "d2", "dealname": "Won deal", "dealstage": "closedwon", "contacts": ["p2"], "companies": ["c2", "c3"]},
        {"key": "d3", "dealname": "Lost deal", "dealstage": "closedlost", "contacts": ["p6"], "companies": [],
         "decider": "p7"},
        {"key": "d4", "dealname": "Another open deal", "dealstage": "appointmentscheduled", "contacts": ["p5", "p3"],
         "companies": []},
    ]
    d.tickets = [
        {"key": "t1", "subject": "Closed ticket", "hs_pipeline_stage": "4", "contacts": ["p1"]},
        {"key": "t2", "subject": "Open ticket", "hs_pipeline_stage": "1", "contacts": ["p2"]},
    ]
    d.notes = [
        {"key": "n1", "hs_note_body": "First call", "hs_timestamp": "2026-01-05T10:00:00", "contact": "p1"},
        {"key": "n2", "hs_note_body": "Second call", "hs_timestamp": "2026-02-07T09:30:00", "contact": "p1"},
        {"key": "n3", "hs_note_body": "Intro", "hs_timestamp": "2026-01-20T08:00:00", "contact": "p2"},
        {"key": "n4", "hs_note_body": "Lost it", "hs_timestamp": "2026-03-01T12:00:00", "contact": "p6"},
    ]
    d.calls = [
        {"key": "k1", "hs_call_title": "Intro call", "hs_timestamp": "2026-01-10T10:00:00", "contact": "p1"},
        {"key": "k2", "hs_call_title": "Older call", "hs_timestamp": "2026-01-02T10:00:00", "contact": "p1"},
        {"key": "k3", "hs_call_title": "Globex call", "hs_timestamp": "2026-01-03T10:00:00", "contact": "p3"},
    ]
    return d


# -- the two ways in --------------------------------------------------------------------------------

def row_by_row(crm: Crm, d: Data) -> None:
    """Record by record through the core API, in the order of the import's files."""
    ids: dict[str, tuple[str, int]] = {}
    for c in d.companies:
        values = {"name": c["name"], "domain": c["domain"]}
        ids[c["key"]] = ("companies", crm.records.create("companies", values, sources.API).id)
    for p in d.contacts:
        values = {"email": p["email"], "firstname": p["firstname"], "lifecyclestage": p["lifecyclestage"]}
        ref = ids[p["key"]] = ("contacts", crm.records.create("contacts", values, sources.API).id)
        for key in p["companies"]:
            crm.assoc.add(ref, ids[key])
        if p.get("primary"):
            crm.assoc.add(ref, ids[p["primary"]], primary=True)
    for deal in d.deals:
        ref = ids[deal["key"]] = ("deals", crm.records.create(
            "deals", {"dealname": deal["dealname"], "dealstage": deal["dealstage"]}, sources.API).id)
        for key in deal["contacts"] + deal["companies"]:
            crm.assoc.add(ref, ids[key])
        if deal.get("decider"):
            crm.assoc.add(ref, ids[deal["decider"]], labels=["Decision maker"])
    for t in d.tickets:
        ref = ids[t["key"]] = ("tickets", crm.records.create(
            "tickets", {"subject": t["subject"], "hs_pipeline_stage": t["hs_pipeline_stage"]}, sources.API).id)
        for key in t["contacts"]:
            crm.assoc.add(ref, ids[key])
    for n in d.notes:
        crm.activities.log(ids[n["contact"]], "notes", {"hs_note_body": n["hs_note_body"],
                                                         "hs_timestamp": n["hs_timestamp"]})
    for k in d.calls:
        crm.activities.log(ids[k["contact"]], "calls", {"hs_call_title": k["hs_call_title"],
                                                         "hs_timestamp": k["hs_timestamp"]})


def _write_csv(path: Path, headers: list[str], rows: list[list]) -> str:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    return str(path)


def in_bulk(crm: Crm, d: Data, folder: Path, batch_size: int = 3) -> None:
    """The same data as five CSV files, each imported in batches (their IDs are a source system's)."""
    files = [
        ("companies", [("id", "@id"), ("name", "name"), ("domain", "domain")],
         [[c["key"], c["name"], c["domain"]] for c in d.companies]),
        ("contacts", [("id", "@id"), ("email", "email"), ("first", "firstname"), ("stage", "lifecyclestage"),
                      ("companies", "@assoc:companies"), ("primary", "@assoc_primary:companies")],
         [[p["key"], p["email"], p["firstname"], p["lifecyclestage"], ";".join(p["companies"]), p.get("primary")]
          for p in d.contacts]),
        ("deals", [("id", "@id"), ("name", "dealname"), ("stage", "dealstage"), ("contacts", "@assoc:contacts"),
                   ("companies", "@assoc:companies"), ("decider", "@assoc:contacts", "Decision maker")],
         [[x["key"], x["dealname"], x["dealstage"], ";".join(x["contacts"]), ";".join(x["companies"]), x.get("decider")]
          for x in d.deals]),
        ("tickets", [("id", "@id"), ("subject", "subject"), ("status", "hs_pipeline_stage"),
                     ("contacts", "@assoc:contacts")],
         [[t["key"], t["subject"], t["hs_pipeline_stage"], ";".join(t["contacts"])] for t in d.tickets]),
        ("notes", [("id", "@id"), ("body", "hs_note_body"), ("at", "hs_timestamp"), ("contact", "@assoc:contacts")],
         [[n["key"], n["hs_note_body"], n["hs_timestamp"], n["contact"]] for n in d.notes]),
        ("calls", [("id", "@id"), ("title", "hs_call_title"), ("at", "hs_timestamp"), ("contact", "@assoc:contacts")],
         [[k["key"], k["hs_call_title"], k["hs_timestamp"], k["contact"]] for k in d.calls]),
    ]
    for obj, columns, rows in files:
        if not rows:
            continue
        path = _write_csv(folder / f"{obj}.csv", [c[0] for c in columns], rows)
        spec = importer.plan_import(crm, path, [obj])
        spec.columns = [Column(c[0], obj, c[1], label=c[2] if len(c) > 2 else None) for c in columns]
        spec.id_source = "src"
        spec.batch_size = batch_size
        spec.error_dir = str(folder)
        result = importer.run_import(crm, spec)
        assert result.failed == 0 and result.link_problems == 0, result.summary_lines()


# -- the database, compared -------------------------------------------------------------------------

NATURAL_KEY = {"companies": "name", "contacts": "email", "deals": "dealname", "tickets": "subject", "notes": "hs_note_body",
               "calls": "hs_call_title"}
VOLATILE = {"id", "createdate", "lastmodifieddate", "created_op", "hs_lastmodifieddate"}
NOW_STAMPED = {("tickets", "closed_date")}  # set to the moment of the change: compared as set or not


def snapshot(crm: Crm) -> dict:
    reg = crm.registry
    Association, AssociationLabel, LabelDef = crm.models.Association, crm.models.AssociationLabel, crm.models.LabelDef
    keys: dict[tuple[int, int], str] = {}
    records = {}
    for name, key in NATURAL_KEY.items():
        meta = reg.get(name)
        for row in meta.model.select().dicts():
            keys[(meta.id, row["id"])] = row[key]
            values = {k: v for k, v in row.items() if k not in VOLATILE}
            for obj, prop in NOW_STAMPED:
                if obj == name:
                    values[prop] = values.get(prop) is not None
            records[(name, row[key])] = values
    labels: dict[int, list[str]] = {}
    for edge, label in (AssociationLabel.select(AssociationLabel.association, LabelDef.name)
                        .join(LabelDef, on=(AssociationLabel.label == LabelDef.id)).tuples()):
        labels.setdefault(edge, []).append(label)
    links = sorted(
        (reg.by_id[fo].name, keys[(fo, fi)], reg.by_id[to].name, keys[(to, ti)], bool(prim), tuple(sorted(labels.get(eid, []))))
        for eid, fo, fi, to, ti, prim in Association.select(
            Association.id, Association.from_object, Association.from_id, Association.to_object, Association.to_id,
            Association.is_primary).tuples())
    return {"records": records, "links": links}


def job_history(crm: Crm) -> list[tuple]:
    """What the automations changed (source Job) in lifecycle stages and deal close dates, as the net
    change per record and property: record by record a contact may pass through Opportunity on its
    way to Customer, where a batch moves it there at once."""
    reg = crm.registry
    PropertyChange, Operation = crm.models.PropertyChange, crm.models.Operation
    net: dict[tuple, list] = {}
    for object_id, record_id, prop, old, new in (PropertyChange.select(
            PropertyChange.object, PropertyChange.record_id, PropertyChange.property, PropertyChange.old_value,
            PropertyChange.new_value).join(Operation, on=(PropertyChange.op == Operation.id))
            .where((Operation.source == sources.JOB) & PropertyChange.property.in_(["lifecyclestage", "closedate"]))
            .order_by(PropertyChange.id).tuples()):
        meta = reg.by_id[object_id]
        key = meta.model.select(getattr(meta.model, NATURAL_KEY[meta.name])).where(meta.model.id == record_id).scalar()
        net.setdefault((meta.name, key, prop), [old, new])[1] = new
    return sorted((k + tuple(v) for k, v in net.items()), key=lambda t: tuple("" if v is None else str(v) for v in t))


def state(crm: Crm) -> dict:
    return {**snapshot(crm), "job": job_history(crm)}


def both_ways(tmp_path: Path, d: Data, batch_size: int = 3, settings_: dict | None = None) -> tuple[dict, dict]:
    """The database as record by record and as imported."""
    out = []
    for name in ("one", "bulk"):
        with Crm.open(tmp_path / f"{name}.db", user_name="tester") as crm:
            for key, value in (settings_ or {}).items():
                crm.set_setting(key, value)
            if name == "one":
                row_by_row(crm, d)
            else:
                folder = tmp_path / "files"
                folder.mkdir(exist_ok=True)
                in_bulk(crm, d, folder, batch_size)
            out.append(state(crm))
    return out[0], out[1]


def assert_same(a: dict, b: dict) -> None:
    assert a["records"].keys() == b["records"].keys()
    for key in a["records"]:
        assert a["records"][key] == b["records"][key], key
    assert a["links"] == b["links"]
    assert a["job"] == b["job"]


# -- the tests --------------------------------------------------------------------------------------

def test_import_and_record_by_record_give_the_same_database(tmp_path):
    one, bulk = both_ways(tmp_path, sample_data())
    assert_same(one, bulk)
    # and the rules did run (the comparison alone would pass if neither path applied them)
    records = bulk["records"]
    stage = {email: records[("contacts", email)]["lifecyclestage"] for _o, email in records if _o == "contacts"}
    assert stage == {"ann@acme.example": "opportunity", "bob@gmail.com": "customer", "cy@globex.example": "customer",
                     "di@nowhere.example": "other", "ed@nowhere.example": "opportunity",
                     "fay@nowhere.example": "lead", "gil@acme.example": "lead"}
    assert records[("tickets", "Closed ticket")]["closed_date"] is True
    assert records[("tickets", "Open ticket")]["closed_date"] is False
    assert records[("deals", "Won deal")]["closedate"] and records[("deals", "Lost deal")]["closedate"]
    assert records[("deals", "Open deal")]["closedate"] is None
    assert records[("contacts", "ann@acme.example")]["notes_last_updated"] == "2026-02-07T09:30:00.000000Z"
    assert records[("companies", "Acme")]["notes_last_updated"] == "2026-02-07T09:30:00.000000Z"
    # Last contacted: calls, not notes, newest first, on the contact and (rolled up) its primary company
    assert records[("contacts", "ann@acme.example")]["notes_last_contacted"] == "2026-01-10T10:00:00.000000Z"
    assert records[("companies", "Acme")]["notes_last_contacted"] == "2026-01-10T10:00:00.000000Z"
    assert records[("contacts", "cy@globex.example")]["notes_last_contacted"] == "2026-01-03T10:00:00.000000Z"
    assert records[("contacts", "bob@gmail.com")]["notes_last_contacted"] is None
    links = bulk["links"]
    # Ann: Acme by domain first (primary), Globex from the file; her notes on Acme and the open deal
    assert ("contacts", "ann@acme.example", "companies", "Acme", True, ()) in links
    assert ("contacts", "ann@acme.example", "companies", "Globex", False, ()) in links
    assert ("notes", "Second call", "deals", "Open deal", False, ()) in links
    assert ("notes", "Second call", "companies", "Acme", False, ()) in links
    assert ("deals", "Open deal", "contacts", "ann@acme.example", False, ("Decision maker",)) in links
    assert ("contacts", "gil@acme.example", "companies", "Globex", True, ()) in links
    assert ("contacts", "gil@acme.example", "companies", "Acme", False, ()) in links
    # a closed deal gets no activity of its contact
    assert not any(l[0] == "notes" and l[1] == "Lost it" and l[2] == "deals" for l in links)


def test_the_switches_reach_the_bulk_rules_too(tmp_path):
    off = {key: False for key in ("auto_associate_by_domain", "lifecycle_opportunity_on_deal", "set_close_date",
                                  "activity_auto_associate")}
    one, bulk = both_ways(tmp_path, sample_data(), settings_=off)
    assert_same(one, bulk)
    records = bulk["records"]
    assert records[("contacts", "ann@acme.example")]["lifecyclestage"] == "lead"
    assert records[("tickets", "Closed ticket")]["closed_date"] is False
    assert ("contacts", "ann@acme.example", "companies", "Acme", True, ()) not in bulk["links"]


DOMAINS = ["acme.example", "globex.example", "gmail.com", None]
STAGES = [None, "subscriber", "lead", "opportunity", "customer", "other"]
DEAL_STAGES = ["appointmentscheduled", "qualifiedtobuy", "closedwon", "closedlost"]


@st.composite
def datasets(draw) -> Data:
    d = Data()
    n_companies = draw(st.integers(0, 4))
    domains = draw(st.lists(st.sampled_from(DOMAINS), min_size=n_companies, max_size=n_companies))
    seen = set()
    for i, domain in enumerate(domains):
        if domain in seen:
            domain = None  # companies are unique by domain: a second one would be the same company
        seen.add(domain)
        d.companies.append({"key": f"c{i}", "name": f"Company {i}", "domain": domain})
    company_keys = [c["key"] for c in d.companies]
    n_contacts = draw(st.integers(0, 6))
    for i in range(n_contacts):
        domain = draw(st.sampled_from(["acme.example", "globex.example", "gmail.com", "else.example"]))
        d.contacts.append({"key": f"p{i}", "email": f"person{i}@{domain}", "firstname": f"P{i}",
                           "lifecyclestage": draw(st.sampled_from(STAGES)),
                           "companies": draw(st.lists(st.sampled_from(company_keys), unique=True, max_size=3))
                           if company_keys else [],
                           "primary": draw(st.sampled_from([None] + company_keys))})
    contact_keys = [p["key"] for p in d.contacts]
    for i in range(draw(st.integers(0, 4))):
        d.deals.append({"key": f"d{i}", "dealname": f"Deal {i}", "dealstage": draw(st.sampled_from(DEAL_STAGES)),
                        "contacts": draw(st.lists(st.sampled_from(contact_keys), unique=True, max_size=3)) if contact_keys else [],
                        "companies": draw(st.lists(st.sampled_from(company_keys), unique=True, max_size=2)) if company_keys else [],
                        "decider": draw(st.sampled_from([None] + contact_keys))})
    for i in range(draw(st.integers(0, 3))):
        d.tickets.append({"key": f"t{i}", "subject": f"Ticket {i}", "hs_pipeline_stage": draw(st.sampled_from(["1", "3", "4"])),
                          "contacts": draw(st.lists(st.sampled_from(contact_keys), unique=True, max_size=2)) if contact_keys else []})
    if contact_keys:
        for i in range(draw(st.integers(0, 5))):
            d.notes.append({"key": f"n{i}", "hs_note_body": f"Note {i}",
                            "hs_timestamp": f"2026-0{draw(st.integers(1, 9))}-1{draw(st.integers(0, 9))}T10:00:00",
                            "contact": draw(st.sampled_from(contact_keys))})
    return d


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=datasets(), batch_size=st.integers(1, 4))
def test_parity_holds_for_any_data(tmp_path_factory, data, batch_size):
    one, bulk = both_ways(tmp_path_factory.mktemp("parity"), data, batch_size)
    assert_same(one, bulk)


# -- undo_import through the associations service --------------------------------------------------

def _import(crm: Crm, folder: Path, name: str, headers: list, rows: list, columns: list) -> int:
    path = _write_csv(folder / f"{name}.csv", headers, rows)
    spec = importer.plan_import(crm, path, ["contacts"])
    spec.columns = [Column(h, "contacts", t, label=label) for h, t, label in columns]
    spec.error_dir = str(folder)
    result = importer.run_import(crm, spec)
    assert result.failed == 0 and result.link_problems == 0, result.summary_lines()
    return result.import_id


def test_undo_import_keeps_one_primary_company_and_takes_its_rules_back(crm, tmp_path):
    a = crm.records.create("companies", {"name": "A", "domain": "a.example"}).id
    b = crm.records.create("companies", {"name": "B", "domain": "b.example"}).id
    x = crm.records.create("companies", {"name": "X", "domain": "x.example"}).id
    ann = crm.records.create("contacts", {"email": "ann@else.example"}).id
    bob = crm.records.create("contacts", {"email": "bob@else.example"}).id
    crm.assoc.add(("contacts", bob), ("companies", x))  # X: Bob's primary company
    deal = crm.records.create("deals", {"dealname": "Open"}).id
    # the import links Ann (no company) with A, primary, labelled Employer; makes B Bob's primary;
    # and links both with the open deal (Opportunity)
    iid = _import(crm, tmp_path, "people", ["email", "company", "primary", "deal"],
                  [["ann@else.example", a, "", deal], ["bob@else.example", "", b, deal]],
                  [("email", "email", None), ("company", "@assoc:companies", "Employer"),
                   ("primary", "@assoc_primary:companies", None), ("deal", "@assoc:deals", None)])
    assert crm.assoc.primary_company(("contacts", ann)) == a
    assert crm.assoc.primary_company(("contacts", bob)) == b
    assert crm.records.get("contacts", ann).properties["lifecyclestage"] == "opportunity"
    # later, a company of Ann's own, not the import's
    crm.assoc.add(("contacts", ann), ("companies", b))
    import_journal.undo_import(crm, iid, backup=False)
    # Ann keeps B, now her primary company; Bob's primary is X again, B not linked; both are Leads again
    assert crm.assoc.linked_ids(("contacts", ann), "companies") == [b]
    assert crm.assoc.primary_company(("contacts", ann)) == b
    assert crm.assoc.linked_ids(("contacts", bob), "companies") == [x]
    assert crm.assoc.primary_company(("contacts", bob)) == x
    assert crm.assoc.linked_ids(("contacts", ann), "deals") == []
    assert crm.records.get("contacts", ann).properties["lifecyclestage"] == "lead"
    assert crm.records.get("contacts", bob).properties["lifecyclestage"] == "lead"
    # the history says so, label and primary flag included
    actions = [(h.action, h.other_id, h.label) for h in crm.assoc.history(("contacts", ann), object_name="companies")]
    assert ("label_removed", a, "Employer") in actions and ("primary_removed", a, None) in actions
    assert ("removed", a, None) in actions and actions[0] == ("primary_set", b, None)
    from crm_tui.services import integrity

    assert integrity.check_all(crm.registry) == []


def test_undo_import_of_a_company_that_was_primary_gives_the_holder_its_next_one(crm, tmp_path):
    ann = crm.records.create("contacts", {"email": "ann@else.example"}).id
    companies_csv = _write_csv(tmp_path / "c.csv", ["name", "domain", "contact"], [["New", "new.example", ann]])
    spec = importer.plan_import(crm, companies_csv, ["companies"])
    spec.columns = [Column("name", "companies", "name"), Column("domain", "companies", "domain"),
                    Column("contact", "companies", "@assoc:contacts")]
    spec.error_dir = str(tmp_path)
    iid = importer.run_import(crm, spec).import_id
    new = crm.assoc.primary_company(("contacts", ann))
    assert new is not None
    other = crm.records.create("companies", {"name": "Other", "domain": "other.example"}).id
    crm.assoc.add(("contacts", ann), ("companies", other))  # not primary: New is
    assert crm.assoc.primary_company(("contacts", ann)) == new
    import_journal.undo_import(crm, iid, backup=False)
    assert crm.assoc.linked_ids(("contacts", ann), "companies") == [other]
    assert crm.assoc.primary_company(("contacts", ann)) == other
    from crm_tui.services import integrity

    assert integrity.check_all(crm.registry) == []
