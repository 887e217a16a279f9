"""What must never break is enforced by the database: one primary company per record, the dedupe
keys (a live contact's email, a live company's domain). A second writer that raced past the Python
checks is refused by the database; an older database gets the constraints by a migration, or one
line saying what to fix; doctor lists and repairs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from crm_tui.storage import constraints
from crm_tui.services import maintenance
from crm_tui.storage import db as dbmod
from crm_tui.services.associations import Associations
from crm_tui.cli.main import main
from crm_tui.services.core import Crm
from crm_tui.domain.errors import DatabaseProblem


def primaries(db_path, contact: int) -> list[int]:
    conn = sqlite3.connect(db_path)
    try:
        companies = conn.execute("SELECT id FROM object_type WHERE name = 'companies'").fetchone()[0]
        contacts = conn.execute("SELECT id FROM object_type WHERE name = 'contacts'").fetchone()[0]
        return [r[0] for r in conn.execute(
            "SELECT to_id FROM association WHERE from_object = ? AND from_id = ? AND to_object = ? AND is_primary = 1",
            (contacts, contact, companies))]
    finally:
        conn.close()


def linked_contact(crm, n_companies=2):
    ann = crm.records.create("contacts", {"email": "ann@mail.example"}).id
    ids = [crm.records.create("companies", {"name": f"Co{i}", "domain": f"co{i}.example"}).id for i in range(n_companies)]
    for cid in ids:
        crm.assoc.add(("contacts", ann), ("companies", cid))
    return ann, ids


def test_a_new_database_has_every_constraint(crm):
    assert constraints.missing(crm.db) == []
    names = {i.name for i in crm.db.get_indexes("association")}
    assert constraints.PRIMARY_INDEX in names
    assert "ux_obj_contacts_email" in {i.name for i in crm.db.get_indexes("obj_contacts")}
    assert "ux_obj_companies_domain" in {i.name for i in crm.db.get_indexes("obj_companies")}
    assert maintenance.doctor(crm).healthy


def test_a_second_writer_cannot_make_a_second_primary(crm, db_path):
    ann, (acme, beta) = linked_contact(crm)
    assert primaries(db_path, ann) == [acme]
    other = sqlite3.connect(db_path)  # another program, past every Python check
    contacts, companies = crm.registry.get("contacts").id, crm.registry.get("companies").id
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        other.execute("UPDATE association SET is_primary = 1 WHERE from_object = ? AND from_id = ? "
                      "AND to_object = ? AND to_id = ?", (contacts, ann, companies, beta))
    other.rollback()
    other.close()
    assert primaries(db_path, ann) == [acme]


def test_a_stale_primary_check_is_refused_in_one_line_and_writes_nothing(crm, db_path, monkeypatch):
    """The Python check read the companies before another writer changed them (what a second
    writer at READ COMMITTED can see): the database refuses the second primary, the user gets the
    one-line error of a race, and nothing of the operation is kept."""
    ann, (acme, beta) = linked_contact(crm)
    ops_before = crm.db.execute_sql("SELECT count(*) FROM operation").fetchone()[0]
    monkeypatch.setattr(Associations, "_companies_of", lambda self, meta, rid: [])  # the stale read
    with pytest.raises(DatabaseProblem) as info:
        crm.assoc.set_primary(("contacts", ann), beta)
    assert "another change made a different company primary at the same moment" in str(info.value)
    assert "nothing was saved" in str(info.value) and "\n" not in str(info.value)
    monkeypatch.undo()
    assert primaries(db_path, ann) == [acme]
    assert crm.db.execute_sql("SELECT count(*) FROM operation").fetchone()[0] == ops_before
    assert maintenance.doctor(crm).healthy


RACER = textwrap.dedent("""
    import sys, time
    from crm_tui.services.core import Crm
    from crm_tui.domain.errors import DatabaseProblem
    path, contact, company, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    done = 0
    with Crm.open(path) as crm:
        print("ready", flush=True)
        sys.stdin.readline()  # both start together
        while done < rounds:
            try:
                crm.assoc.set_primary(("contacts", contact), company)
                done += 1
            except DatabaseProblem:
                time.sleep(0.001)  # the other writer holds the file: try again
    print("done", flush=True)
""")


def test_two_processes_racing_to_set_different_primaries_leave_exactly_one(db_path, monkeypatch):
    monkeypatch.setenv("CRM_TUI_BUSY_TIMEOUT_MS", "50")
    with Crm.open(db_path) as crm:
        ann, (acme, beta) = linked_contact(crm)
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(db_path), str(ann), str(company), "40"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
              for company in (acme, beta)]
    for racer in racers:
        assert racer.stdout.readline().strip() == "ready"
    for racer in racers:
        racer.stdin.write("go\n")
        racer.stdin.flush()
    for racer in racers:
        out, _ = racer.communicate(timeout=120)
        assert racer.returncode == 0 and "done" in out
    assert len(primaries(db_path, ann)) == 1
    with Crm.open(db_path) as crm:
        report = maintenance.doctor(crm)
        assert report.healthy, report.problems
        assert crm.assoc.primary_company(("contacts", ann)) in (acme, beta)


def test_a_contact_created_by_another_writer_meanwhile_is_updated_not_refused(crm, db_path, monkeypatch):
    """Another program creates the same email between our look-up and our insert: the unique
    index refuses our insert, and create does what it does for an existing email (updates it)."""
    from crm_tui.services.records import Records

    real = Records._live_holder
    raced = []

    def look_up_then_the_other_writer_commits(meta, key, value):
        found = real(meta, key, value)
        if not raced and meta.name == "contacts":
            raced.append(True)
            other = sqlite3.connect(db_path)
            other.execute("INSERT INTO obj_contacts (email, firstname, createdate, lastmodifieddate) "
                          "VALUES (?, 'Other', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')", (value,))
            other.commit()
            other.close()
        return found

    monkeypatch.setattr(Records, "_live_holder", staticmethod(look_up_then_the_other_writer_commits))
    result = crm.records.create("contacts", {"email": "Bea@Example.org", "jobtitle": "CTO"})
    assert raced and not result.created
    assert "already has email bea@example.org: updated it" in result.message
    rows = crm.db.execute_sql("SELECT firstname, jobtitle FROM obj_contacts WHERE email = 'bea@example.org'").fetchall()
    assert rows == [("Other", "CTO")]


def test_a_duplicate_email_from_another_writer_is_refused_by_the_database(crm, db_path):
    crm.records.create("contacts", {"email": "ann@mail.example"})
    other = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        other.execute("INSERT INTO obj_contacts (email, createdate, lastmodifieddate) "
                      "VALUES ('ann@mail.example', 'x', 'x')")
    other.close()


def make_old(db_path, *, violate: bool):
    """A schema-3 database without the constraints; with `violate`, data that breaks them."""
    with Crm.open(db_path) as crm:
        ann, (acme, beta) = linked_contact(crm)
        bob = crm.records.create("contacts", {"email": "bob@mail.example"}).id
        contacts, companies = crm.registry.get("contacts").id, crm.registry.get("companies").id
    conn = sqlite3.connect(db_path)
    conn.executescript("DROP INDEX ux_association_primary; DROP INDEX ux_obj_contacts_email; PRAGMA user_version = 3;")
    if violate:
        conn.execute("UPDATE association SET is_primary = 1 WHERE (from_object = ? AND from_id = ? AND to_object = ?) "
                     "OR (from_object = ? AND to_object = ? AND to_id = ?)",
                     (contacts, ann, companies, companies, contacts, ann))
        conn.execute("UPDATE obj_contacts SET email = 'ann@mail.example' WHERE id = ?", (bob,))
    conn.commit()
    conn.close()
    return ann, bob


def test_the_migration_adds_the_constraints_to_a_clean_database(db_path):
    make_old(db_path, violate=False)
    with Crm.open(db_path) as crm:
        assert crm.db.execute_sql("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION >= 4
        assert crm.notices == []
        assert constraints.missing(crm.db) == []
    assert len(list(db_path.parent.glob("crm.db.v3-*.bak"))) == 1


def test_a_database_that_breaks_them_opens_with_one_line_per_constraint_and_doctor_repairs(db_path, capsys):
    ann, bob = make_old(db_path, violate=True)
    assert main(["--db", str(db_path), "list", "contacts"]) == 0  # it still opens, nothing half-made
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "warning: the database cannot enforce one primary company per record yet: contacts 1 has 2 primary "
        "companies (crm-tui doctor --repair keeps the oldest)",
        f"warning: the database cannot enforce a unique email per live record of contacts yet: contacts {ann} and "
        f"{bob} have the same email 'ann@mail.example': merge them (crm-tui record merge contacts {ann} {bob}) or "
        "change one, then run crm-tui doctor --repair",
    ]
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION
    assert len(primaries(db_path, ann)) == 2  # the data is as it was: nothing guessed
    conn.close()
    assert main(["--db", str(db_path), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "cannot enforce a unique email per live record of contacts" in out
    assert main(["--db", str(db_path), "record", "update", "contacts", str(bob), "email=bob@mail.example"]) == 0
    assert main(["--db", str(db_path), "doctor", "--repair"]) == 0
    out = capsys.readouterr().out
    assert "added the database constraint(s) ux_association_primary, ux_obj_contacts_email" in out
    with Crm.open(db_path) as crm:
        assert constraints.missing(crm.db) == []
        assert len(primaries(db_path, ann)) == 1
        assert maintenance.doctor(crm).healthy


def test_merging_two_records_with_primary_companies_keeps_one(crm, db_path):
    """The merged-away record's primary link moves to the survivor without ever being a second
    primary (the index checks each row as it is updated)."""
    ann, (acme, beta) = linked_contact(crm)
    bob = crm.records.create("contacts", {"email": "bob@mail.example"}).id
    gamma = crm.records.create("companies", {"name": "Gamma", "domain": "gamma.example"}).id
    crm.assoc.add(("contacts", bob), ("companies", gamma))
    crm.merger.merge("contacts", ann, bob)
    assert primaries(db_path, ann) == [acme]
    assert sorted(crm.assoc.linked_ids(("contacts", ann), "companies")) == sorted([acme, beta, gamma])
    assert maintenance.doctor(crm).healthy


async def test_the_app_says_what_to_fix_when_it_opens_such_a_database(db_path):
    from crm_tui.shell.app import CrmApp

    make_old(db_path, violate=True)
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        messages = [str(n.message) for n in list(app._notifications)]
        assert any(m.startswith("the database cannot enforce one primary company per record yet: contacts 1 has 2")
                   for m in messages), messages
        assert any("have the same email 'ann@mail.example': merge them" in m for m in messages), messages
