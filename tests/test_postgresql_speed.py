"""What makes the team database fast, checked for what it must keep: bulk inserts by COPY write
exactly the rows the INSERTs would (NULLs, tabs, backslashes, newlines, yes/no values), and the
statement-level count triggers keep association_count equal to a recount."""

from __future__ import annotations

import pytest

from crm_tui.domain import sources
from crm_tui.services.core import Crm
from crm_tui.storage import dialect_pg


def test_only_plain_inserts_of_bound_values_become_copy():
    assert dialect_pg.copy_statement('INSERT INTO "t" ("a", "b") VALUES (%s, %s) RETURNING "t"."id"') == \
        'COPY "t" ("a", "b") FROM STDIN'
    assert dialect_pg.copy_statement("INSERT INTO meta_change (op_id, tbl) VALUES (%s, %s)") == \
        "COPY meta_change (op_id, tbl) FROM STDIN"
    for sql in ("INSERT INTO t (a, b) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                "INSERT INTO t (a, b) VALUES (%s, NULLIF(%s, ''))",
                "INSERT INTO t (a, b) SELECT a, b FROM u",
                "INSERT INTO t VALUES (%s, %s)",
                "INSERT INTO t (a, b, c) VALUES (%s, %s)",
                "UPDATE t SET a = %s WHERE b = %s"):
        assert dialect_pg.copy_statement(sql) is None, sql


def test_executemany_by_copy_writes_what_inserts_write(pg_url):
    with Crm.open(pg_url) as crm:
        db = crm.db
        db.execute_sql("CREATE TABLE copied (id BIGINT PRIMARY KEY, t TEXT, n BIGINT, f DOUBLE PRECISION, "
                       "yes SMALLINT)")
        db.execute_sql("CREATE TABLE statements (n INTEGER)")  # one row per INSERT/COPY statement run
        db.execute_sql("CREATE FUNCTION one_statement() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                       "INSERT INTO statements VALUES (1); RETURN NULL; END $$")
        db.execute_sql("CREATE TRIGGER one_statement AFTER INSERT ON copied FOR EACH STATEMENT "
                       "EXECUTE FUNCTION one_statement()")
        rows = [(1, "tab\there", 5, 1.5, True), (2, "back\\slash\nnew line\r", None, None, False),
                (3, None, -7, 1e-300, None), (4, "\\N", 0, float("inf"), 1), (5, "", 2**62, -0.25, 0),
                (6, "ünï ✓ \x1b[31m", 1, 3.0, True)]
        with db.atomic():
            db.cursor().executemany("INSERT INTO copied (id, t, n, f, yes) VALUES (?, ?, ?, ?, ?)", iter(rows))
        got = db.execute_sql("SELECT id, t, n, f, yes FROM copied ORDER BY id").fetchall()
        assert got == [(i, t, n, f, None if y is None else int(y)) for i, t, n, f, y in rows]
        assert db.execute_sql("SELECT count(*) FROM statements").fetchone()[0] == 1  # one COPY, not 6 INSERTs


def test_copy_in_chunks_and_a_value_copy_is_not_given_falls_back_to_inserts(pg_url, monkeypatch):
    import datetime

    monkeypatch.setattr(dialect_pg, "COPY_CHUNK", 3)
    with Crm.open(pg_url) as crm:
        db = crm.db
        db.execute_sql("CREATE TABLE copied (id BIGINT PRIMARY KEY, t TEXT)")
        rows = [(i, f"row {i}") for i in range(1, 8)] + [(8, datetime.date(2026, 1, 2))] + [(9, "last")]
        with db.atomic():
            db.cursor().executemany("INSERT INTO copied (id, t) VALUES (?, ?)", (r for r in rows))
        got = db.execute_sql("SELECT id, t FROM copied ORDER BY id").fetchall()
        assert got == [(i, str(t)) for i, t in rows]


def test_a_failing_copy_fails_like_the_inserts_and_writes_nothing(pg_url):
    from peewee import IntegrityError

    with Crm.open(pg_url) as crm:
        db = crm.db
        db.execute_sql("CREATE TABLE copied (id BIGINT PRIMARY KEY, t TEXT)")
        with pytest.raises(IntegrityError):
            with db.atomic():
                db.cursor().executemany("INSERT INTO copied (id, t) VALUES (?, ?)", [(1, "a"), (2, "b"), (1, "c")])
        assert db.execute_sql("SELECT count(*) FROM copied").fetchone()[0] == 0


def _kept_and_recounted(crm):
    kept = sorted(crm.db.execute_sql("SELECT from_object, from_id, to_object, n FROM association_count").fetchall())
    recount = sorted(crm.db.execute_sql(
        "SELECT from_object, from_id, to_object, count(*) FROM association GROUP BY 1, 2, 3").fetchall())
    return kept, recount


def test_statement_triggers_keep_the_counts_through_bulk_links_single_links_and_unlinks(pg_url):
    with Crm.open(pg_url) as crm:
        crm.set_setting("auto_associate_by_domain", False)
        names = [t for (t,) in crm.db.execute_sql(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'association'::regclass AND NOT tgisinternal").fetchall()]
        assert sorted(names) == ["association_counts_delete", "association_counts_insert"]
        companies = [crm.records.create("companies", {"name": f"Co {i}"}).id for i in range(3)]
        contacts = [crm.records.create("contacts", {"email": f"p{i}@x.example"}).id for i in range(20)]
        with crm.operation("bulk", sources.IMPORT) as op:
            crm.assoc.bulk_link(((("contacts", c), ("companies", companies[c % 3])) for c in contacts), op)
        other = companies[(contacts[0] % 3 + 1) % 3]  # not yet linked to contacts[0]
        crm.assoc.add(("contacts", contacts[0]), ("companies", other))
        kept, recount = _kept_and_recounted(crm)
        assert kept == recount and sum(n for *_k, n in kept) == 2 * 21
        crm.assoc.remove(("contacts", contacts[0]), ("companies", other))
        crm.records.delete("companies", companies[2])
        kept, recount = _kept_and_recounted(crm)
        assert kept == recount and all(n > 0 for *_k, n in kept)


def test_a_database_with_the_row_level_triggers_of_before_gets_the_statement_ones(pg_url):
    from crm_tui.storage import db as dbmod

    with Crm.open(pg_url) as crm:
        db = crm.db
        for name in ("association_counts_insert", "association_counts_delete"):
            db.execute_sql(f"DROP TRIGGER {name} ON association")
        db.execute_sql(  # the version-6 trigger, as a database made before version 14 has it
            "CREATE OR REPLACE FUNCTION association_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO association_count(from_object, from_id, to_object, n) "
            "VALUES (NEW.from_object, NEW.from_id, NEW.to_object, 1) "
            "ON CONFLICT (from_object, from_id, to_object) DO UPDATE SET n = association_count.n + 1; "
            "RETURN NULL; END $$")
        db.execute_sql("CREATE TRIGGER association_count_insert AFTER INSERT ON association "
                       "FOR EACH ROW EXECUTE FUNCTION association_count_insert()")
        dialect_pg.write_version(db, dbmod.APPLICATION_ID, 6)
    with Crm.open(pg_url) as crm:
        names = sorted(t for (t,) in crm.db.execute_sql(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'association'::regclass AND NOT tgisinternal").fetchall())
        assert names == ["association_counts_delete", "association_counts_insert"]
        assert dialect_pg.read_version(crm.db) == (dbmod.APPLICATION_ID, dbmod.SCHEMA_VERSION)
        crm.set_setting("auto_associate_by_domain", False)
        a = crm.records.create("contacts", {"email": "a@x.example"}).id
        b = crm.records.create("companies", {"name": "B"}).id
        crm.assoc.add(("contacts", a), ("companies", b))
        kept, recount = _kept_and_recounted(crm)
        assert kept == recount and len(kept) == 2  # counted once each, not twice
