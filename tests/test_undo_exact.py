"""Undo is exact: after random link work (links, labels, primaries, deletions, merges), any one
operation undone leaves the links, labels, primary flags, counts and values exactly as they were
before it, and its redo exactly as after it (hypothesis; real SQLite files). Guards the set-based
reversal of links (journal._Plan._reverse_links)."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_tui.services import bulk, integrity
from crm_tui.domain import sources
from crm_tui.services.core import Crm
from crm_tui.domain.errors import CrmError

CONTACTS, COMPANIES, DEALS = 4, 3, 2
LABELS = ["Employer", "Advisor", "Billing contact"]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("exact") / "template.db"
    with Crm.open(path, user_name="tester") as crm:
        crm.set_setting("auto_associate_by_domain", False)
        for i in range(CONTACTS):
            crm.records.create("contacts", {"firstname": f"C{i}", "email": f"c{i}@x{i}.example"}, sources.USER)
        for i in range(COMPANIES):
            crm.records.create("companies", {"name": f"K{i}", "domain": f"k{i}.example"}, sources.USER)
        for i in range(DEALS):
            crm.records.create("deals", {"dealname": f"D{i}"}, sources.USER)
    return path


def snapshot(crm) -> dict:
    db = crm.db
    return {
        "edges": sorted(db.execute_sql("SELECT from_object, from_id, to_object, to_id, is_primary FROM association").fetchall()),
        "labels": sorted(db.execute_sql(
            "SELECT a.from_object, a.from_id, a.to_object, a.to_id, d.name FROM association_label l "
            "JOIN association a ON a.id = l.association_id JOIN label_def d ON d.id = l.label_id").fetchall()),
        "counts": sorted(db.execute_sql("SELECT * FROM association_count WHERE n > 0").fetchall()),
        # times of a change are its own: deleted or not is compared, not when
        "records": {name: sorted(tuple(sorted((k, v if k != "deleted_at" else v is not None)
                                              for k, v in row.items() if k != "lastmodifieddate"))
                                 for row in crm.registry.get(name).model.select().dicts())
                    for name in ("contacts", "companies", "deals")},
    }


contact = st.integers(1, CONTACTS)
company = st.integers(1, COMPANIES)
deal = st.integers(1, DEALS)
step = st.one_of(
    st.tuples(st.just("link"), contact, company, st.lists(st.sampled_from(LABELS), max_size=2, unique=True), st.booleans()),
    st.tuples(st.just("link_deal"), deal, company, st.booleans()),
    st.tuples(st.just("link_contacts"), contact, contact),
    st.tuples(st.just("unlink"), contact, company),
    st.tuples(st.just("label"), contact, company, st.sampled_from(LABELS), st.booleans()),
    st.tuples(st.just("primary"), contact, company),
    st.tuples(st.just("delete"), st.sampled_from(["contacts", "companies"]), st.integers(1, 3)),
    st.tuples(st.just("merge"), st.sampled_from(["contacts", "companies"]), st.integers(1, 3), st.integers(1, 3)),
    st.tuples(st.just("bulk_link"), company),
)


def run(crm, action) -> bool:
    """Do one step through the core; False when the core refused it (nothing written)."""
    kind = action[0]
    try:
        if kind == "link":
            crm.assoc.add(("contacts", action[1]), ("companies", action[2]), labels=action[3], primary=action[4],
                          source=sources.USER)
        elif kind == "link_deal":
            crm.assoc.add(("deals", action[1]), ("companies", action[2]), primary=action[3], source=sources.USER)
        elif kind == "link_contacts":
            if action[1] == action[2]:
                return False
            crm.assoc.add(("contacts", action[1]), ("contacts", action[2]), source=sources.USER)
        elif kind == "unlink":
            others = [c for c in crm.assoc.linked_ids(("contacts", action[1]), "companies") if c != action[2]]
            crm.assoc.remove(("contacts", action[1]), ("companies", action[2]),
                             new_primary=others[0] if others else None, source=sources.USER)
        elif kind == "label":
            do = crm.assoc.add_label if action[4] else crm.assoc.remove_label
            do(("contacts", action[1]), ("companies", action[2]), action[3], source=sources.USER)
        elif kind == "primary":
            crm.assoc.set_primary(("contacts", action[1]), action[2], source=sources.USER)
        elif kind == "delete":
            crm.records.delete(action[1], action[2], sources.USER)
        elif kind == "merge":
            if action[2] == action[3]:
                return False
            crm.merger.merge(action[1], action[2], action[3], source=sources.USER)
        elif kind == "bulk_link":
            bulk.bulk_associate(crm, "contacts", list(range(1, CONTACTS + 1)), ("companies", action[1]),
                                source=sources.USER)
    except CrmError:
        return False
    return True


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(setup=st.lists(step, min_size=2, max_size=12), last=step)
def test_any_link_operation_undone_and_redone_exactly(template, tmp_path, setup, last):
    path = tmp_path / "exact.db"
    path.unlink(missing_ok=True)
    shutil.copyfile(template, path)
    with Crm.open(path, user_name="tester") as crm:
        for action in setup:
            run(crm, action)
        before = snapshot(crm)
        if not run(crm, last):
            return
        after = snapshot(crm)
        crm.journal.undo(source=sources.USER)
        assert snapshot(crm) == before
        crm.journal.redo(source=sources.USER)
        assert snapshot(crm) == after
        problems = (integrity.check_all(crm.registry) + integrity.check_property_history(crm)
                    + integrity.check_history_matches_state(crm.registry))
        assert problems == [], problems
