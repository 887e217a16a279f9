"""Opening the database file: location, permissions, and refusals that leave a bad file untouched."""

import hashlib
import os
import sqlite3
import stat

import pytest

from crm_tui.storage import db as dbmod
from crm_tui.cli.main import main
from crm_tui.services.core import Crm
from crm_tui.domain.errors import DatabaseProblem


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_database_is_private_and_in_wal_mode(db_path):
    with Crm.open(db_path) as crm:
        mode = crm.db.execute_sql("PRAGMA journal_mode").fetchone()[0]
        fks = crm.db.execute_sql("PRAGMA foreign_keys").fetchone()[0]
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600
    assert mode == "wal"
    assert fks == 1


def test_default_location_follows_xdg_data_home(tmp_path, capsys):
    assert main(["record", "create", "contacts", "email=a@b.example"]) == 0
    assert (tmp_path / "data" / "crm-tui" / "crm.db").exists()


def test_crm_tui_db_environment_variable(tmp_path, monkeypatch, capsys):
    target = tmp_path / "elsewhere.db"
    monkeypatch.setenv("CRM_TUI_DB", str(target))
    assert main(["record", "create", "contacts", "email=a@b.example"]) == 0
    assert target.exists()


def test_not_a_sqlite_file_is_refused_and_untouched(tmp_path, capsys):
    bogus = tmp_path / "notes.db"
    bogus.write_text("just some text, not a database\n" * 50)
    before = digest(bogus)
    assert main(["--db", str(bogus), "list", "contacts"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(bogus) in err and "not a SQLite database" in err
    assert digest(bogus) == before


def test_other_sqlite_database_is_refused_and_untouched(tmp_path, capsys):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    before = digest(other)
    assert main(["--db", str(other), "list", "contacts"]) == 2
    assert "not a crm-tui database" in capsys.readouterr().err
    assert digest(other) == before


def test_newer_schema_is_refused_and_untouched(db_path, capsys):
    Crm.open(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {dbmod.SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = digest(db_path)
    assert main(["--db", str(db_path), "list", "contacts"]) == 2
    err = capsys.readouterr().err
    assert "newer crm-tui" in err and str(db_path) in err
    assert digest(db_path) == before


def test_locked_database_gives_one_line_and_exit_2(db_path, capsys):
    Crm.open(db_path).close()
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("PRAGMA journal_mode=DELETE")  # a rollback-journal writer holding an exclusive lock
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        before = digest(db_path)
        code = main(["--db", str(db_path), "record", "create", "contacts", "email=x@y.example"])
        err = capsys.readouterr().err.strip()
        assert code == 2
        assert "\n" not in err and str(db_path) in err and ("locked" in err or "busy" in err)
        assert digest(db_path) == before
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_migration_backs_up_first(db_path, monkeypatch):
    Crm.open(db_path).close()
    seen = []
    monkeypatch.setattr(dbmod, "SCHEMA_VERSION", dbmod.SCHEMA_VERSION + 1)
    monkeypatch.setitem(dbmod.MIGRATIONS, dbmod.SCHEMA_VERSION,
                        lambda database: seen.append(database.execute_sql("SELECT count(*) FROM object_type").fetchone()[0]))
    with Crm.open(db_path) as crm:
        assert crm.db.execute_sql("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION
    backups = list(db_path.parent.glob(f"crm.db.v{dbmod.SCHEMA_VERSION - 1}-*.bak"))
    assert len(backups) == 1 and seen
    assert stat.S_IMODE(os.stat(backups[0]).st_mode) == 0o600
    conn = sqlite3.connect(backups[0])
    assert conn.execute("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION - 1
    conn.close()


def test_steps_that_change_only_postgresql_copy_no_sqlite_file(db_path):
    """Versions 14 and 15 change PostgreSQL databases only: a SQLite file of version 13 gets the new
    version number without a backup copy of the whole file."""
    Crm.open(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 13")
    conn.close()
    with Crm.open(db_path) as crm:
        assert crm.db.execute_sql("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION
    assert list(db_path.parent.glob("crm.db.v13-*.bak")) == []


def test_version_1_database_is_upgraded_after_a_backup(db_path):
    """A file from schema 1 (before external ids and association counts) opens, upgraded."""
    with Crm.open(db_path) as crm:
        a = crm.records.create("contacts", {"email": "a@acme.example"}).id
        crm.records.create("companies", {"name": "Acme", "domain": "acme.example"})
    conn = sqlite3.connect(db_path)
    conn.executescript("DROP TRIGGER association_count_insert; DROP TRIGGER association_count_delete; "
                       "DROP TABLE association_count; DROP TABLE external_id; PRAGMA user_version = 1;")
    conn.close()
    with Crm.open(db_path) as crm:
        assert crm.assoc.counts(("contacts", a)) == {"companies": 1}
        assert crm.db.execute_sql("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION
    assert len(list(db_path.parent.glob("crm.db.v1-*.bak"))) == 1


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(DatabaseProblem, match="is a directory"):
        Crm.open(tmp_path)


def test_a_path_from_home_is_expanded_everywhere(tmp_path, monkeypatch):
    """`~/crm.db` (as CRM_TUI_DB may hold it, unexpanded) is the file in the home folder for every
    part of the app, backups and the import's checkpoint helper included."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with Crm.open("~/crm.db") as crm:
        assert crm.path == tmp_path / "crm.db"
    assert (tmp_path / "crm.db").exists() and not (tmp_path / "~").exists()


def test_a_database_that_missed_a_step_gets_the_missing_tables_and_columns_when_opened(db_path, capsys):
    """Migrations go by the version number: a file stamped by a build that lacked a step in
    between (a developer's) opened with a table and a column missing. Opening it writable makes
    them and says so; doctor then finds it healthy."""
    from crm_tui.cli.main import main

    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "a@acme.example"})
    conn = sqlite3.connect(db_path)
    conn.executescript("DROP TABLE workflow_fired; ALTER TABLE property_def DROP COLUMN archived;")
    conn.close()
    assert main(["--db", str(db_path), "doctor"]) == 0
    out = capsys.readouterr().out
    assert "made the missing table workflow_fired" in out and "added the missing column property_def.archived" in out
    with Crm.open(db_path) as crm:
        assert dbmod.schema_gaps(crm.db) == []
        assert crm.records.count("contacts") == 1
        # the rows already there got the column's default, not NULL
        assert crm.db.execute_sql("SELECT count(*) FROM property_def WHERE archived IS NULL").fetchone()[0] == 0
    assert main(["--db", str(db_path), "doctor"]) == 0
    assert "healthy" in capsys.readouterr().out
