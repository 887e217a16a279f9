"""crm_tui/services/recommend.py: association recommendations (domain, shared associations, name)."""

from __future__ import annotations

from crm_tui.domain import sources
from crm_tui.services.recommend import DOMAIN, NAME, SHARED, Recommendation, recommend


def _company(crm, name, domain):
    return crm.records.create("companies", {"name": name, "domain": domain}, sources.API).id


def test_domain_match_for_a_contact(crm):
    crm.set_setting("auto_associate_by_domain", False)
    acme = _company(crm, "Acme", "acme.com")
    _company(crm, "Other", "other.com")
    ada = crm.records.create("contacts", {"firstname": "Ada", "email": "ada@acme.com"}, sources.API).id
    recs = recommend(crm, ("contacts", ada), "companies")
    assert recs and isinstance(recs[0], Recommendation)
    assert (recs[0].id, recs[0].reason, recs[0].display_name) == (acme, DOMAIN, "Acme")
    assert "acme.com" in recs[0].detail


def test_already_linked_and_deleted_records_are_left_out(crm):
    acme = _company(crm, "Acme", "acme.com")
    ada = crm.records.create("contacts", {"firstname": "Ada", "email": "ada@acme.com"}, sources.API).id
    assert crm.assoc.linked_ids(("contacts", ada), "companies") == [acme]  # linked by domain already
    assert all(r.id != acme for r in recommend(crm, ("contacts", ada), "companies"))
    gone = _company(crm, "Gone", "gone.com")
    crm.records.delete("companies", gone, sources.API)
    bob = crm.records.create("contacts", {"firstname": "Bob", "email": "bob@gone.com"}, sources.API).id
    assert all(r.id != gone for r in recommend(crm, ("contacts", bob), "companies"))


def test_freemail_domains_are_never_matched(crm):
    crm.set_setting("auto_associate_by_domain", False)
    _company(crm, "Gmail fan club", "gmail.com")
    ada = crm.records.create("contacts", {"firstname": "Zed", "email": "zed@gmail.com"}, sources.API).id
    assert [r for r in recommend(crm, ("contacts", ada), "companies") if r.reason == DOMAIN] == []


def test_contacts_of_a_company_by_domain(crm):
    crm.set_setting("auto_associate_by_domain", False)
    acme = _company(crm, "Acme", "acme.com")
    ada = crm.records.create("contacts", {"firstname": "Ada", "email": "ada@acme.com"}, sources.API).id
    recs = recommend(crm, ("companies", acme), "contacts")
    assert [(r.id, r.reason) for r in recs][:1] == [(ada, DOMAIN)]


def test_shared_associations(crm):
    acme = _company(crm, "Acme", "acme.com")
    ada = crm.records.create("contacts", {"firstname": "Ada", "email": "ada@acme.com"}, sources.API).id
    deal = crm.records.create("deals", {"dealname": "Big one"}, sources.API).id
    crm.assoc.add(("deals", deal), ("companies", acme))
    recs = recommend(crm, ("contacts", ada), "deals")
    assert [(r.id, r.reason) for r in recs] == [(deal, SHARED)]
    assert "Acme" in recs[0].detail


def test_name_match_uses_the_contacts_company_text(crm):
    crm.set_setting("auto_associate_by_domain", False)
    initech = _company(crm, "Initech", "initech.io")
    ada = crm.records.create("contacts", {"firstname": "Peter", "email": "peter@gmail.com", "company": "Initech"},
                             sources.API).id
    recs = recommend(crm, ("contacts", ada), "companies")
    assert [(r.id, r.reason) for r in recs] == [(initech, NAME)]


def test_limit_and_self_exclusion(crm):
    crm.set_setting("auto_associate_by_domain", False)
    for i in range(5):
        _company(crm, f"Acme {i}", f"acme{i}.com")
    acme = _company(crm, "Acme", "acme.com")
    recs = recommend(crm, ("companies", acme), "companies", limit=3)
    assert len(recs) == 3 and all(r.id != acme for r in recs)
    assert recommend(crm, ("companies", 9999), "companies") == []
