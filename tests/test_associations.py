"""The association engine: bidirectional links, labels, limits, primary company, history, cascades."""

import pytest
from playhouse.test_utils import count_queries

from crm_tui.domain import sources
from crm_tui.domain.errors import InvalidValue, LimitExceeded, NotFound, PrimaryRequired

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def people(crm):
    crm.set_setting("auto_associate_by_domain", False)
    ids = {
        "ann": crm.records.create("contacts", {"firstname": "Ann", "email": "ann@mail.example"}).id,
        "bob": crm.records.create("contacts", {"firstname": "Bob", "email": "bob@mail.example"}).id,
        "acme": crm.records.create("companies", {"name": "Acme", "domain": "acme.example"}).id,
        "beta": crm.records.create("companies", {"name": "Beta", "domain": "beta.example"}).id,
        "gamma": crm.records.create("companies", {"name": "Gamma", "domain": "gamma.example"}).id,
        "deal": crm.records.create("deals", {"dealname": "Renewal"}).id,
    }
    return ids


def company_items(crm, ref):
    groups = {g.object: g for g in crm.assoc.groups(ref)}
    return {i.display_name: (i.primary, i.labels) for i in groups["companies"].items} if "companies" in groups else {}


def test_links_are_bidirectional(crm, people):
    crm.assoc.add(("contacts", people["ann"]), ("companies", people["acme"]))
    assert [i.display_name for i in crm.assoc.groups(("companies", people["acme"]))[0].items] == ["Ann"]
    assert [i.display_name for i in crm.assoc.groups(("contacts", people["ann"]))[0].items] == ["Acme"]
    crm.assoc.remove(("companies", people["acme"]), ("contacts", people["ann"]))
    assert crm.assoc.groups(("contacts", people["ann"])) == [] == crm.assoc.groups(("companies", people["acme"]))


def test_same_object_links_and_paired_labels(crm, people):
    crm.assoc.add(("contacts", people["ann"]), ("contacts", people["bob"]), labels=["Manager"])
    ann = crm.assoc.groups(("contacts", people["ann"]))[0].items[0]
    bob = crm.assoc.groups(("contacts", people["bob"]))[0].items[0]
    assert (ann.display_name, ann.labels) == ("Bob", ["Manager"])
    assert (bob.display_name, bob.labels) == ("Ann", ["Direct report"])
    crm.assoc.add(("companies", people["acme"]), ("companies", people["beta"]), labels=["Parent company"])
    assert crm.assoc.groups(("companies", people["beta"]))[0].items[0].labels == ["Child company"]


def test_self_link_is_refused(crm, people):
    with pytest.raises(InvalidValue, match="itself"):
        crm.assoc.add(("contacts", people["ann"]), ("contacts", people["ann"]))


def test_first_company_is_primary_and_replace_primary(crm, people):
    ann = ("contacts", people["ann"])
    crm.assoc.add(ann, ("companies", people["acme"]))
    crm.assoc.add(ann, ("companies", people["beta"]))
    assert company_items(crm, ann) == {"Acme": (True, []), "Beta": (False, [])}
    crm.assoc.add(ann, ("companies", people["gamma"]), primary=True)
    assert company_items(crm, ann) == {"Acme": (False, []), "Beta": (False, []), "Gamma": (True, [])}
    crm.assoc.set_primary(ann, people["beta"])
    assert crm.assoc.primary_company(ann) == people["beta"]


def test_removing_the_primary_requires_a_new_one(crm, people):
    ann = ("contacts", people["ann"])
    crm.assoc.add(ann, ("companies", people["acme"]))
    crm.assoc.add(ann, ("companies", people["beta"]))
    with pytest.raises(PrimaryRequired) as info:
        crm.assoc.remove(ann, ("companies", people["acme"]))
    assert info.value.candidates == [(people["beta"], "Beta")]
    assert company_items(crm, ann)["Acme"] == (True, [])  # nothing written
    with pytest.raises(InvalidValue):
        crm.assoc.remove(ann, ("companies", people["acme"]), new_primary=people["gamma"])
    crm.assoc.remove(ann, ("companies", people["acme"]), new_primary=people["beta"])
    assert company_items(crm, ann) == {"Beta": (True, [])}
    crm.assoc.remove(ann, ("companies", people["beta"]))  # the last one needs no successor
    assert company_items(crm, ann) == {}


def test_remove_as_primary_needs_a_successor_and_never_leaves_none(crm, people):
    ann = ("contacts", people["ann"])
    crm.assoc.add(ann, ("companies", people["acme"]))
    with pytest.raises(InvalidValue, match="only company"):
        crm.assoc.remove_primary(ann, people["acme"])
    crm.assoc.add(ann, ("companies", people["beta"]))
    with pytest.raises(PrimaryRequired):
        crm.assoc.remove_primary(ann, people["acme"])
    crm.assoc.remove_primary(ann, people["acme"], new_primary=people["beta"])
    assert crm.assoc.primary_company(ann) == people["beta"]


def test_no_primary_between_companies_or_toward_contacts(crm, people):
    with pytest.raises(InvalidValue, match="primary applies only"):
        crm.assoc.add(("companies", people["acme"]), ("companies", people["beta"]), primary=True)
    crm.assoc.add(("companies", people["acme"]), ("companies", people["beta"]))
    assert not any(i.primary for g in crm.assoc.groups(("companies", people["acme"])) for i in g.items)


def test_label_limit_is_enforced_with_a_clear_message(crm, people):
    deal = ("deals", people["deal"])
    crm.assoc.add(deal, ("contacts", people["ann"]), labels=["Decision maker"])
    with pytest.raises(LimitExceeded, match="at most 1 \"Decision maker\""):
        crm.assoc.add(deal, ("contacts", people["bob"]), labels=["Decision maker"])
    # nothing half-written: Bob is not linked at all
    assert [i.display_name for i in crm.assoc.groups(deal)[0].items] == ["Ann"]


def test_pair_limit_is_enforced(crm, people):
    crm.assoc.set_pair_limit("deals", "companies", 1)
    crm.assoc.add(("deals", people["deal"]), ("companies", people["acme"]))
    with pytest.raises(LimitExceeded, match="at most 1 companies"):
        crm.assoc.add(("companies", people["beta"]), ("deals", people["deal"]))


def test_labels_created_by_users(crm, people):
    crm.registry.create_label("contacts", "companies", "Informant", limit=2)
    crm.assoc.add(("contacts", people["ann"]), ("companies", people["acme"]), labels=["informant"])
    assert company_items(crm, ("contacts", people["ann"]))["Acme"] == (True, ["Informant"])
    assert crm.assoc.groups(("companies", people["acme"]))[0].items[0].labels == ["Informant"]
    with pytest.raises(NotFound, match="no association label"):
        crm.assoc.add(("contacts", people["ann"]), ("companies", people["beta"]), labels=["Nope"])


def test_history_records_every_change_with_source(crm, people):
    ann, acme = ("contacts", people["ann"]), ("companies", people["acme"])
    crm.assoc.add(ann, acme, labels=["Advisor"], source=sources.USER)
    crm.assoc.remove_label(ann, acme, "Advisor", source=sources.API)
    crm.assoc.remove(ann, acme, source=sources.USER)
    rows = crm.assoc.history(ann)
    assert [(r.action, r.label, r.source) for r in rows] == [
        ("removed", None, "User"), ("primary_removed", None, "User"), ("label_removed", "Advisor", "API"),
        ("primary_set", None, "User"), ("label_added", "Advisor", "User"), ("created", None, "User"),
    ]
    assert rows[0].actor == "tester" and rows[0].other_name == "Acme"
    # the other side sees the same changes
    assert [r.action for r in crm.assoc.history(acme)] == [r.action for r in rows]
    assert crm.assoc.history(ann, object_name="deals") == []
    assert len(crm.assoc.history(ann, with_ref=acme)) == 6


def test_delete_and_restore_cascade_exactly(crm, people):
    ann, bob = ("contacts", people["ann"]), ("contacts", people["bob"])
    crm.assoc.add(ann, ("companies", people["acme"]), labels=["Advisor"])
    crm.assoc.add(ann, ("companies", people["beta"]), primary=True)
    crm.assoc.add(bob, ("companies", people["beta"]))
    crm.records.delete("companies", people["beta"], sources.USER)
    assert company_items(crm, ann) == {"Acme": (True, ["Advisor"])}  # one primary remains
    assert company_items(crm, bob) == {}
    sources_seen = {r.source for r in crm.assoc.history(ann) if r.other_id == people["beta"] and r.action == "removed"}
    assert sources_seen == {"Object deletion"}
    crm.records.restore("companies", people["beta"], sources.USER)
    assert company_items(crm, ann) == {"Acme": (False, ["Advisor"]), "Beta": (True, [])}
    assert company_items(crm, bob) == {"Beta": (True, [])}
    assert crm.assoc.history(ann)[0].source == "Object restore"


def test_merge_moves_links_drops_duplicates_keeps_one_primary(crm, people):
    ann, bob = ("contacts", people["ann"]), ("contacts", people["bob"])
    crm.assoc.add(ann, ("companies", people["acme"]))
    crm.assoc.add(bob, ("companies", people["acme"]), labels=["Advisor"])
    crm.assoc.add(bob, ("companies", people["beta"]))
    crm.assoc.add(bob, ann, labels=["Colleague"])
    note = crm.activities.log(bob, "notes", {"hs_note_body": "met Bob"}).id
    result = crm.merger.merge("contacts", people["ann"], people["bob"], source=sources.USER)
    assert "merged contact" in result.message
    assert company_items(crm, ann) == {"Acme": (True, ["Advisor"]), "Beta": (False, [])}
    assert [i.id for i in crm.activities.timeline(ann)] == [note]
    assert crm.records.get("contacts", people["bob"]).deleted
    assert crm.assoc.groups(bob) == []
    merged = [r for r in crm.assoc.history(ann) if r.source == "Object merge"]
    assert merged and all(r.source == "Object merge" for r in merged)


def test_merge_takes_chosen_values(crm, people):
    crm.records.update("contacts", people["bob"], {"jobtitle": "CTO", "lastname": "Stone"})
    crm.records.update("contacts", people["ann"], {"lastname": "Lee"})
    crm.merger.merge("contacts", people["ann"], people["bob"], choose={"email": "other"})
    ann = crm.records.get("contacts", people["ann"]).properties
    assert (ann["email"], ann["jobtitle"], ann["lastname"]) == ("bob@mail.example", "CTO", "Lee")
    sources_seen = {h.source for h in crm.history.property_history("contacts", people["ann"]) if h.property == "jobtitle"}
    assert "Object merge" in sources_seen


def test_automatic_association_by_domain(crm):
    company = crm.records.create("companies", {"name": "Initech", "domain": "initech.example"}).id
    contact = crm.records.create("contacts", {"email": "peter@initech.example"}).id
    free = crm.records.create("contacts", {"email": "milton@gmail.com"}).id
    assert crm.assoc.primary_company(("contacts", contact)) == company
    assert crm.assoc.groups(("contacts", free)) == []
    assert crm.assoc.history(("contacts", contact))[0].source == "Automatic association by domain"
    # company created after the contact, and an email change
    late = crm.records.create("contacts", {"email": "bill@later.example"}).id
    later = crm.records.create("companies", {"name": "Later", "domain": "later.example"}).id
    assert crm.assoc.primary_company(("contacts", late)) == later
    crm.records.update("contacts", free, {"email": "milton@initech.example"})
    assert crm.assoc.primary_company(("contacts", free)) == company
    gmail = crm.records.create("companies", {"name": "Google mail", "domain": "gmail.com"}).id
    assert crm.assoc.groups(("companies", gmail)) == []


def test_automatic_association_can_be_switched_off(crm):
    crm.set_setting("auto_associate_by_domain", False)
    crm.records.create("companies", {"name": "Initech", "domain": "initech.example"})
    contact = crm.records.create("contacts", {"email": "peter@initech.example"}).id
    assert crm.assoc.groups(("contacts", contact)) == []


def test_activity_rules_and_engagement_cap(crm, people):
    ann = ("contacts", people["ann"])
    crm.assoc.add(ann, ("companies", people["acme"]))
    crm.assoc.add(ann, ("deals", people["deal"]))
    logged = crm.activities.log(ann, "calls", {"hs_call_title": "Intro", "hs_timestamp": "2026-05-01 09:00"},
                                source=sources.USER)
    assert set(logged.linked) == {ann, ("companies", people["acme"]), ("deals", people["deal"])}
    for ref in (ann, ("companies", people["acme"])):  # "Last activity date" moved forward, by Job
        assert crm.records.get(*ref).properties["notes_last_updated"] == "2026-05-01T09:00:00.000000Z"
    assert crm.history.property_history(*ann, prop="notes_last_updated")[0].source == "Job"
    crm.activities.log(ann, "notes", {"hs_note_body": "older", "hs_timestamp": "2026-01-01 09:00"})
    assert crm.records.get(*ann).properties["notes_last_updated"] == "2026-05-01T09:00:00.000000Z"
    crm.records.update("deals", people["deal"], {"dealstage": "closedlost"})
    logged = crm.activities.log(ann, "notes", {"hs_note_body": "closed deal is not open"})
    assert ("deals", people["deal"]) not in logged.linked
    crm.set_setting("engagement_cap", 2)
    capped = crm.activities.log(ann, "notes", {"hs_note_body": "over the cap"})
    assert ann in capped.skipped and "engagement cap of 2" in capped.message
    assert crm.records.get("notes", capped.id)  # still created


def test_timeline_is_newest_first_and_pages(crm, people):
    ann = ("contacts", people["ann"])
    for day in range(1, 8):
        if day % 2:
            crm.activities.log(ann, "notes", {"hs_timestamp": f"2026-01-0{day} 10:00", "hs_note_body": f"n{day}"})
        else:
            crm.activities.log(ann, "calls", {"hs_timestamp": f"2026-01-0{day} 10:00", "hs_call_title": f"c{day}"})
    first = crm.activities.timeline(ann, limit=3)
    assert [i.at[:10] for i in first] == ["2026-01-07", "2026-01-06", "2026-01-05"]
    rest = crm.activities.timeline(ann, limit=10, before=(first[-1].at, first[-1].id))
    assert [i.at[:10] for i in rest] == ["2026-01-04", "2026-01-03", "2026-01-02", "2026-01-01"]
    assert {i.object for i in crm.activities.timeline(ann, types=["calls"])} == {"calls"}


def test_groups_cost_a_bounded_number_of_queries(crm, people):
    company = ("companies", people["acme"])
    for i in range(40):
        cid = crm.records.create("contacts", {"email": f"c{i}@x.example"}).id
        crm.assoc.add(("contacts", cid), company, labels=["Advisor"] if i % 2 else [])
    crm.assoc.add(company, ("deals", people["deal"]))
    with count_queries() as small:
        crm.assoc.groups(("contacts", people["ann"]))
    with count_queries() as big:
        groups = crm.assoc.groups(company)
    assert {g.object: g.count for g in groups} == {"contacts": 40, "deals": 1}
    assert big.count <= 2 + 2 * 2 and small.count <= 2


def test_index_columns_have_no_n_plus_one(crm, people):
    ids = []
    for i in range(30):
        cid = crm.records.create("contacts", {"email": f"c{i}@x.example"}).id
        crm.assoc.add(("contacts", cid), ("companies", people["acme"] if i % 2 else people["beta"]))
        ids.append(cid)
    with count_queries() as counter:
        cols = crm.assoc.index_columns("contacts", ids, ["companies", "deals"])
    assert counter.count <= 2 * 2
    assert cols["companies"][ids[1]] == [(people["acme"], "Acme", True)]


def test_removing_an_unknown_link_changes_nothing(crm, people):
    with pytest.raises(NotFound, match="not associated"):
        crm.assoc.remove(("contacts", people["ann"]), ("companies", people["acme"]))
    assert crm.assoc.history(("contacts", people["ann"])) == []


def test_merging_companies_keeps_each_contact_with_one_primary(crm, people):
    """Found by the state machine: a contact whose primary was the merged-away company."""
    ann = ("contacts", people["ann"])
    crm.assoc.add(ann, ("companies", people["beta"]))                  # primary
    crm.assoc.add(ann, ("companies", people["acme"]))                  # not primary
    crm.merger.merge("companies", people["acme"], people["beta"])      # beta goes into acme
    assert company_items(crm, ann) == {"Acme": (True, [])}
    bob = ("contacts", people["bob"])
    crm.assoc.add(bob, ("companies", people["gamma"]))                 # gamma is Bob's primary
    crm.merger.merge("companies", people["acme"], people["gamma"])
    assert company_items(crm, bob) == {"Acme": (True, [])}


def test_groups_can_be_limited_to_some_objects_without_reading_the_others(crm, people):
    """The record sidebar shows no activities: it asks for the other groups only, so a record with
    10,000 notes does not sort its 10,000 note links to show none of them (issue 14 item 5)."""
    ann = ("contacts", people["ann"])
    crm.assoc.add(ann, ("companies", people["acme"]))
    for i in range(3):
        crm.activities.log(ann, "notes", {"hs_note_body": f"n{i}"})
    assert {g.object for g in crm.assoc.groups(ann)} >= {"companies", "notes"}
    with count_queries() as everything:
        crm.assoc.groups(ann)
    with count_queries() as some:
        groups = crm.assoc.groups(ann, objects=["companies", "deals"])
    assert [(g.object, g.count, [i.display_name for i in g.items]) for g in groups] == [("companies", 1, ["Acme"])]
    assert some.count < everything.count
    with pytest.raises(NotFound):
        crm.assoc.groups(ann, objects=["nonesuch"])


def test_timeline_reads_only_the_activity_types_linked_to_the_record(crm, people):
    """The kept link counts say which activity types a record has: one query for the counts and one
    per linked type, not one per activity object (five by default) on every page."""
    ann = ("contacts", people["ann"])
    crm.activities.log(ann, "notes", {"hs_timestamp": "2026-01-02 10:00", "hs_note_body": "n"})
    crm.activities.log(ann, "calls", {"hs_timestamp": "2026-01-01 10:00", "hs_call_title": "c"})
    assert len(crm.activities.activity_objects()) >= 4
    with count_queries(only_select=True) as counted:
        items = crm.activities.timeline(ann)
    assert [(i.object, i.at[:10]) for i in items] == [("notes", "2026-01-02"), ("calls", "2026-01-01")]
    assert counted.count == 3
    assert crm.activities.timeline(("contacts", people["bob"])) == []
    assert crm.activities.timeline(ann, types=["meetings"]) == []
    with pytest.raises(NotFound):
        crm.activities.timeline(ann, types=["nonesuch"])
