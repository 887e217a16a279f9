"""Backups, restore and `doctor`: consistent copies, private files, checks that find real damage."""

import os
import sqlite3
import stat

import pytest

from crm_tui.services import maintenance
from crm_tui.cli.main import main
from crm_tui.services.core import Crm


def test_backup_is_consistent_while_open_and_private(crm, db_path, tmp_path):
    crm.records.create("contacts", {"email": "kept@example.org"})
    target = maintenance.backup(db_path, tmp_path / "copy.db")  # the Crm is still open
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    with Crm.open(target, create=False) as copy:
        assert copy.records.count("contacts") == 1


def test_default_backup_goes_to_the_data_dir(crm, db_path, tmp_path, capsys):
    assert main(["--db", str(db_path), "backup"]) == 0
    backups = list((tmp_path / "data" / "crm-tui" / "backups").glob("crm-*.db"))
    assert len(backups) == 1 and str(backups[0]) in capsys.readouterr().out


def test_restore_needs_confirmation_and_keeps_a_safety_copy(db_path, tmp_path, capsys):
    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "old@example.org"})
    snapshot = maintenance.backup(db_path, tmp_path / "snap.db")
    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "new@example.org"})
    assert main(["--db", str(db_path), "restore", str(snapshot)]) == 2  # no terminal, no --yes
    assert "--yes" in capsys.readouterr().err
    assert main(["--db", str(db_path), "restore", str(snapshot), "--yes"]) == 0
    out = capsys.readouterr().out
    with Crm.open(db_path) as crm:
        assert crm.records.count("contacts") == 1
    assert "previous content saved" in out


def test_restore_refuses_a_file_that_is_not_a_backup(db_path, tmp_path):
    Crm.open(db_path).close()
    junk = tmp_path / "junk.db"
    junk.write_text("nope" * 100)
    assert main(["--db", str(db_path), "restore", str(junk), "--yes"]) == 2


def test_doctor_on_a_healthy_database(crm, db_path, capsys):
    a = crm.records.create("contacts", {"email": "a@acme.example"}).id
    c = crm.records.create("companies", {"domain": "acme.example"}).id
    crm.records.delete("companies", c)
    crm.records.restore("companies", c)
    assert main(["--db", str(db_path), "doctor"]) == 0
    assert "healthy" in capsys.readouterr().out
    assert crm.assoc.primary_company(("contacts", a)) == c


def test_doctor_finds_and_repairs_damage(crm, db_path):
    Association = crm.models.Association
    ann = crm.records.create("contacts", {"email": "ann@mail.example"}).id
    acme = crm.records.create("companies", {"name": "Acme", "domain": "acme.example"}).id
    beta = crm.records.create("companies", {"name": "Beta", "domain": "beta.example"}).id
    crm.assoc.add(("contacts", ann), ("companies", acme))
    crm.assoc.add(("contacts", ann), ("companies", beta))
    companies = crm.registry.get("companies").id
    # damage written behind the core's back: a one-sided edge, two primaries (in a database without
    # the one-primary index: an older one, or another program's), a stale search index
    crm.db.execute_sql("DROP INDEX ux_association_primary")
    Association.delete().where((Association.from_object == companies) & (Association.from_id == acme)).execute()
    Association.update(is_primary=True).where(Association.to_object == companies).execute()
    crm.db.execute_sql('DELETE FROM "fts_contacts"')
    crm.records.update("contacts", ann, {"jobtitle": "CEO"})
    crm.db.execute_sql('UPDATE "obj_contacts" SET jobtitle = ? WHERE id = ?', ("Behind the back", ann))
    report = maintenance.doctor(crm)
    text = "\n".join(report.problems)
    assert "no reverse edge" in text and "2 primary" in text and "search index of contacts" in text
    assert "cannot enforce one primary company per record: contacts 1 has 2 primary companies" in text
    assert "history says 'CEO', the record holds 'Behind the back'" in text
    crm.db.execute_sql('UPDATE "obj_contacts" SET jobtitle = ? WHERE id = ?', ("CEO", ann))  # not repairable: undone by hand
    repaired = maintenance.doctor(crm, repair=True)
    assert repaired.healthy, repaired.problems
    assert repaired.repaired
    assert crm.search.ids("contacts", "ann") == [ann]
    assert sum(i.primary for g in crm.assoc.groups(("contacts", ann)) for i in g.items) == 1


def test_doctor_reports_a_damaged_file(db_path, capsys):
    with Crm.open(db_path) as crm:
        for i in range(300):
            crm.records.create("contacts", {"email": f"p{i}@example.org", "lastname": f"Name{i:04d}"})
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=DELETE")
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ix_obj_contacts_lastname'").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db_path.read_bytes())
    start = (root - 1) * page_size
    for offset in range(start + page_size // 2, start + page_size - 8):  # scribble over the index's cells
        data[offset] = 0x55
    db_path.write_bytes(bytes(data))
    code = main(["--db", str(db_path), "doctor"])
    out = capsys.readouterr()
    assert code in (1, 2)
    text = (out.out + out.err).lower()
    assert "integrity" in text or "malformed" in text


def test_read_only_file_opens_read_only_and_refuses_changes(db_path, capsys):
    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "ro@example.org", "firstname": "Reed"})
    os.chmod(db_path, 0o400)
    try:
        if os.access(db_path, os.W_OK):
            pytest.skip("running as a user who can write any file (root)")
        assert main(["--db", str(db_path), "list", "contacts"]) == 0
        assert "Reed" in capsys.readouterr().out
        assert main(["--db", str(db_path), "record", "create", "contacts", "email=new@example.org"]) == 2
        assert "read-only" in capsys.readouterr().err
    finally:
        os.chmod(db_path, 0o600)


def test_read_only_mode_refuses_changes_with_one_line(db_path):
    from crm_tui.domain.errors import DatabaseProblem

    Crm.open(db_path).close()
    with Crm.open(db_path, readonly=True) as crm:
        assert crm.records.count("contacts") == 0
        with pytest.raises(DatabaseProblem, match="read-only"):
            crm.records.create("contacts", {"email": "x@example.org"})


def test_a_full_database_refuses_cleanly_and_keeps_what_it_had(db_path, capsys):
    from crm_tui.services.seed import seed

    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "first@example.org"})
        pages = crm.db.execute_sql("PRAGMA page_count").fetchone()[0]
    # A tiny size limit stands in for a full disk: the seed below cannot fit.
    with Crm.open(db_path) as crm:
        crm.db.execute_sql(f"PRAGMA max_page_count = {pages + 5}")
        from crm_tui.domain.errors import DatabaseProblem

        with pytest.raises(DatabaseProblem, match="full; nothing was saved"):
            seed(crm, contacts=20000, companies=50)
    with Crm.open(db_path) as crm:
        assert crm.records.count("contacts") == 1
        assert crm.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
