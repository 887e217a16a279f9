"""Algorithms that hold on any engine, not only on SQLite's habits: the NULL order of every sort is
written out, and a batch's ids are the writer's own rather than whatever the database hands out
next."""

from __future__ import annotations

import random

import pytest

from peewee import PostgresqlDatabase

from crm_tui.services import maintenance
from crm_tui.importing import importer
from crm_tui.services import paging
from crm_tui.services.paging import ViewPager, ViewSpec
from crm_tui.services.query import Sort, order_by


def sql_for_postgresql(query) -> str:
    """The SQL PostgreSQL would receive (built by Peewee; no server needed)."""
    return PostgresqlDatabase("unused").get_sql_context().sql(query).query()[0]


def test_every_sort_states_where_empty_values_go(crm):
    """SQLite puts NULLs first ascending, PostgreSQL last: paging relies on one order, so each
    ORDER BY of a sort says it."""
    meta = crm.registry.get("contacts")
    up = sql_for_postgresql(meta.model.select().order_by(*order_by(meta, [Sort("lastname")])))
    down = sql_for_postgresql(meta.model.select().order_by(*order_by(meta, [Sort("lastname", desc=True)])))
    assert '"lastname" ASC NULLS first' in up
    assert '"lastname" DESC NULLS last' in down


def contacts_with_gaps(crm, n=60):
    rng = random.Random(5)
    for i in range(n):
        values = {"email": f"p{i}@example.org"}
        if rng.random() < 0.6:
            values["lastname"] = rng.choice(["Berg", "Okoro", "Ng", "Abe"])
        crm.records.create("contacts", values)


def test_paging_through_empty_values_in_both_directions(crm, monkeypatch):
    """Keyset paging from known keys, and the last rows read backwards from the end, give every
    row once in the stated order (empty values first ascending, last descending)."""
    monkeypatch.setattr(paging, "ANCHOR_STEP", 10)  # reach the read-from-the-end path on 60 rows
    contacts_with_gaps(crm)
    rows = crm.db.execute_sql("SELECT id, lastname FROM obj_contacts").fetchall()
    for desc in (False, True):
        ordered = sorted(rows, key=lambda r: (r[1] is not None, r[1] or "", r[0]))
        expected = [r[0] for r in (reversed(ordered) if desc else ordered)]
        pager = ViewPager(crm, ViewSpec("contacts", ["lastname"], sort=[Sort("lastname", desc=desc)]))
        seen = []
        while len(seen) < len(expected):
            seen += [r["id"] for r in pager.fetch_rows(len(seen), 7)]
        assert seen == expected, desc
        fresh = ViewPager(crm, ViewSpec("contacts", ["lastname"], sort=[Sort("lastname", desc=desc)]))
        assert [r["id"] for r in fresh.fetch_rows(len(expected) - 5, 5)] == expected[-5:], desc


def test_an_import_gives_its_records_its_own_ids_whatever_the_database_hands_out(crm, tmp_path):
    """Another writer's inserts taking ids in the middle of an import's batch (as on a shared
    server; here a trigger inserts a row after each of the import's) do not mix with the batch:
    every imported row is under the id the import says, with its links and search entry."""
    crm.records.create("companies", {"name": "Acme", "domain": "acme.example"})
    crm.db.execute_sql("CREATE TEMP TRIGGER other_writer AFTER INSERT ON main.obj_contacts "
                       "WHEN NEW.email NOT LIKE 'other%' BEGIN INSERT INTO obj_contacts (email, createdate, "
                       "lastmodifieddate) VALUES ('other' || NEW.id || '@elsewhere.example', 'x', 'x'); END")
    path = tmp_path / "people.csv"
    path.write_text("First Name,Last Name,Email\n" + "".join(
        f"Name{i},Family{i:02d},person{i}@acme.example\n" for i in range(12)))
    spec = importer.plan_import(crm, str(path), ["contacts"])
    result = importer.run_import(crm, spec)
    assert result.created.get("contacts") == 12, result
    crm.db.execute_sql("DROP TRIGGER temp.other_writer")
    for i in range(12):
        (rid,) = crm.db.execute_sql("SELECT id FROM obj_contacts WHERE email = ?", (f"person{i}@acme.example",)).fetchone()
        assert crm.search.ids("contacts", f"Family{i:02d}") == [rid]
        assert crm.assoc.linked_ids(("contacts", rid), "companies") == [1]
    others = crm.db.execute_sql("SELECT count(*) FROM obj_contacts WHERE email LIKE 'other%'").fetchone()[0]
    assert others == 12
    crm.db.execute_sql("DELETE FROM obj_contacts WHERE email LIKE 'other%'")  # never indexed: not ours
    report = maintenance.doctor(crm)
    assert report.healthy, report.problems


@pytest.mark.parametrize("ranked", [True, False])
def test_a_sort_the_user_chose_orders_a_searchs_matches(crm, ranked):
    """With no sort, a search shows its matches by relevance; with one, in that sort (the sort key
    pressed while searching used to be ignored)."""
    crm.set_setting("auto_associate_by_domain", False)
    for first, last in (("Maya", "Smith"), ("Maya", "Ahmed"), ("Maya", "Gupta"), ("Omar", "Maya")):
        crm.records.create("contacts", {"firstname": first, "lastname": last})
    for desc in (False, True):
        pager = ViewPager(crm, ViewSpec("contacts", ["firstname", "lastname"], sort=[Sort("lastname", desc=desc)],
                                        search="maya", ranked=ranked))
        names = [r["lastname"] for r in pager.fetch_rows(0, 10)]
        assert names == sorted(["Smith", "Ahmed", "Gupta", "Maya"], reverse=desc)
        assert pager.count() == 4
