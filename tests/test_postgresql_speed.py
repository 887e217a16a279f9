"""What makes the team database fast, checked for what it must keep: bulk inserts by COPY write
exactly the rows the INSERTs would (NULLs, tabs, backslashes, newlines, yes/no values), and the
statement-level count triggers keep association_count equal to a recount."""

from __future__ import annotations

import pytest

from crm_tui.domain import sources
from crm_tui.services.core import Crm
from crm_tui.storage import dialect_pg


def _statements_run(crm) -> list[str]:
    """The SQL text of every statement the core runs from now on, in order (the list fills up)."""
    seen: list[str] = []
    original = crm.db.execute_sql

    def spy(sql, params=None, *args, **kwargs):
        seen.append(sql)
        return original(sql, params, *args, **kwargs)

    crm.db.execute_sql = spy
    return seen


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


def test_history_rows_must_point_at_an_operation_checked_once_per_statement(pg_url):
    """The history tables carry no row-level foreign key on PostgreSQL (its per-row check cost
    0.3 s per 100k imported links): a statement trigger refuses a missing operation with the key's
    SQLSTATE and writes nothing, and deleting an operation still takes its history rows along."""
    import peewee

    from crm_tui.storage import db as dbmod

    with Crm.open(pg_url) as crm:
        db = crm.db
        keys = db.execute_sql("SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                              "AND confrelid = 'operation'::regclass").fetchone()[0]
        assert keys == 0
        a = crm.records.create("contacts", {"email": "a@x.example"}).id
        b = crm.records.create("companies", {"name": "B"}).id
        crm.assoc.add(("contacts", a), ("companies", b))
        crm.records.update("contacts", a, {"jobtitle": "Buyer"})
        op = db.execute_sql("SELECT max(op_id) FROM association_change").fetchone()[0]
        before = db.execute_sql("SELECT count(*) FROM association_change").fetchone()[0]
        with pytest.raises(peewee.IntegrityError, match="association_change points at an operation"):
            with db.atomic():
                db.execute_sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                               "SELECT ?, 1, 1, 2, 1, 'created' UNION ALL SELECT ?, 1, 2, 2, 1, 'created'",
                               (op, op + 1000))
        assert db.execute_sql("SELECT count(*) FROM association_change").fetchone()[0] == before
        with pytest.raises(peewee.IntegrityError, match="property_change points"):
            with db.atomic():
                db.execute_sql("UPDATE property_change SET op_id = op_id + 1000")
        with db.atomic():
            db.execute_sql("DELETE FROM operation WHERE id = ?", (op,))
        assert db.execute_sql("SELECT count(*) FROM association_change WHERE op_id = ?", (op,)).fetchone()[0] == 0
        # a database of version 14 (with the keys) gets the checks when opened
        db.execute_sql("ALTER TABLE meta_change ADD FOREIGN KEY (op_id) REFERENCES operation(id) ON DELETE CASCADE")
        db.execute_sql("DROP TRIGGER meta_change_op_insert ON meta_change")
        dialect_pg.write_version(db, dbmod.APPLICATION_ID, 14)
    with Crm.open(pg_url) as crm:
        assert crm.db.execute_sql("SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                                  "AND confrelid = 'operation'::regclass").fetchone()[0] == 0
        assert crm.db.execute_sql("SELECT count(*) FROM pg_trigger WHERE tgname = 'meta_change_op_insert'").fetchone()[0] == 1
        assert dialect_pg.read_version(crm.db) == (dbmod.APPLICATION_ID, dbmod.SCHEMA_VERSION)


def _tally_and_count(crm, object_name: str) -> tuple[int, int]:
    from crm_tui.storage import dialect

    table = crm.registry.get(object_name).table
    kept = dialect.kept_row_count(crm.db, table)
    counted = crm.db.execute_sql(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    return kept, counted


def test_the_kept_row_count_follows_creates_bulk_loads_deletions_erasure_undo_and_new_objects(pg_url, monkeypatch):
    from crm_tui.storage import dialect

    with Crm.open(pg_url) as crm:
        crm.set_setting("auto_associate_by_domain", False)
        ids = [crm.records.create("contacts", {"email": f"p{i}@x.example"}).id for i in range(5)]
        assert _tally_and_count(crm, "contacts") == (5, 5)
        meta = crm.registry.get("contacts")
        with crm.operation("bulk", sources.IMPORT) as op:
            crm.records.bulk_insert(meta, ["email"], [(f"b{i}@x.example",) for i in range(300)], op)
        crm.records.delete("contacts", ids[0])  # soft: still a row, not live
        crm.eraser.erase("contacts", ids[1])  # gone for good
        crm.records.create("contacts", {"email": "late@x.example"})
        crm.journal.undo(source=sources.USER)  # takes the create back
        kept, counted = _tally_and_count(crm, "contacts")
        assert kept == counted >= 304
        live = crm.db.execute_sql("SELECT count(*) FROM obj_contacts WHERE deleted_at IS NULL").fetchone()[0]
        assert crm.records.count("contacts") == live == 303
        crm.registry.create_object({"name": "roasts", "label": "Roast", "plural_label": "Roasts",
                                    "primary_property": "name", "properties": [{"name": "name"}]})
        crm.records.create("roasts", {"name": "Ethiopia"})
        assert _tally_and_count(crm, "roasts") == (1, 1)
        monkeypatch.setattr(dialect.__dict__["_pg"](), "TALLY_COMPACT", 3)
        assert crm.records.count("contacts") == 303  # summed into one row on the way
        rows = crm.db.execute_sql("SELECT count(*) FROM record_tally WHERE tbl = 'obj_contacts'").fetchone()[0]
        assert rows == 1 and _tally_and_count(crm, "contacts") == (kept, counted)


def test_opening_the_index_reads_no_count_of_the_whole_table(pg_url):
    """The first frame of an index waits for no COUNT(*) over the record table (50 ms at 1M rows)."""
    from crm_tui.services.paging import ViewPager, ViewSpec

    with Crm.open(pg_url) as crm:
        for i in range(3):
            crm.records.create("contacts", {"email": f"p{i}@x.example"})
        seen = _statements_run(crm)
        pager = ViewPager(crm, ViewSpec("contacts", ["email"]))
        assert pager.count() == 3 and len(pager.fetch(0, 50)) == 3
        pager.anchors()
        whole = [s for s in seen if "COUNT(*)" in s.upper() and "obj_contacts" in s and "IS NOT NULL" not in s]
        assert whole == []


def _gin_matches(crm, text: str) -> set[int]:
    from crm_tui.storage import dialect

    expr = dialect.fts_match_expression(text, crm.db)
    return {r for (r,) in crm.db.execute_sql(dialect.fts_unranked_sql("contacts", crm.db), (expr, 10_000)).fetchall()}


def test_a_typed_word_finds_through_the_word_index_what_the_full_text_index_finds(pg_url):
    from crm_tui.storage import dialect

    with Crm.open(pg_url) as crm:
        crm.set_setting("auto_associate_by_domain", False)
        people = [("Maria", "Martin", "maria.martin@marble.example"), ("Mark", "Lee", "mark@x.example"),
                  ("Ann", "Marr", "ann.marr@y.example"), ("Bo", "Jean-Luc", "bo@z.example"),
                  ("Zoë", "100%_sure", "zoe@q.example")]
        ids = [crm.records.create("contacts", {"firstname": f, "lastname": l, "email": e}).id for f, l, e in people]
        for typed in ("mar", "MAR", "mart", "jean", "luc", "zo", "100", "example", "nothing"):
            first = dialect.fts_first_matches(crm.db, "contacts", typed, 200)
            assert set(first) == _gin_matches(crm, typed), typed
            assert len(first) == len(set(first))  # a record with two such words comes once
        assert dialect.fts_first_matches(crm.db, "contacts", "%", 200) is None  # no word typed
        assert dialect.fts_first_matches(crm.db, "contacts", "_", 200) is None
        for typed in ("ann mar", "mar ann", "maria.m", "jean-luc", "bo jean", "mar nothing"):  # several words
            assert set(dialect.fts_first_matches(crm.db, "contacts", typed, 200)) == _gin_matches(crm, typed), typed
        # the limit cuts in word order, and paging on past records met twice still fills it
        assert len(dialect.fts_first_matches(crm.db, "contacts", "mar", 2)) == 2
        # edits, deletions and restores keep the word index
        crm.records.update("contacts", ids[1], {"firstname": "Luke", "email": "luke@x.example"})
        assert ids[1] not in dialect.fts_first_matches(crm.db, "contacts", "mark", 200)
        assert ids[1] in dialect.fts_first_matches(crm.db, "contacts", "luke", 200)
        crm.records.delete("contacts", ids[0])
        assert ids[0] not in dialect.fts_first_matches(crm.db, "contacts", "maria", 200)
        crm.records.restore("contacts", ids[0])
        assert ids[0] in dialect.fts_first_matches(crm.db, "contacts", "maria", 200)
        crm.records.rebuild_search_index(crm.registry.get("contacts"))
        for typed in ("mar", "luke", "example"):
            assert set(dialect.fts_first_matches(crm.db, "contacts", typed, 200)) == _gin_matches(crm, typed)
        words = crm.db.execute_sql("SELECT count(*) FROM fts_contacts_words").fetchone()[0]
        expected = crm.db.execute_sql("SELECT sum(length(tsv)) FROM fts_contacts").fetchone()[0]
        assert words == expected  # nothing left behind by the edits


def test_search_as_you_type_on_the_index_uses_the_word_index(pg_url):
    from crm_tui.services.paging import TYPING_LIMIT, ViewPager, ViewSpec

    with Crm.open(pg_url) as crm:
        meta = crm.registry.get("contacts")
        with crm.operation("bulk", sources.IMPORT) as op:
            first, last = crm.records.bulk_insert(meta, ["firstname", "email"],
                                                  [(f"Mar{i}", f"m{i}@x.example") for i in range(TYPING_LIMIT + 20)], op)
            crm.records.index_range(meta, first, last)
        seen = _statements_run(crm)
        pager = ViewPager(crm, ViewSpec("contacts", ["firstname", "email"], search="mar", ranked=False))
        assert pager.count() == TYPING_LIMIT and pager.capped
        assert [cells[0] for _id, cells in pager.fetch(0, 3)] == ["Mar0", "Mar1", "Mar10"]  # word order
        assert any("fts_contacts_words" in s for s in seen) and not any("tsv @@" in s for s in seen)


# -- the app's writes that lost a race; other members' changes behind a modal ----------------------


def _lose_races(crm, times: int, code: str = "40001") -> None:
    """The server refuses the next `times` updates of a contact with `code` (40001: a
    serialisation failure, 40P01: a deadlock), as it refuses the loser of a race, then lets
    updates through. A sequence counts them: it is not rolled back with the refused transaction."""
    crm.db.execute_sql("CREATE SEQUENCE lost_races")
    crm.db.execute_sql(
        "CREATE FUNCTION lose_race() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF nextval('lost_races') <= {int(times)} THEN RAISE EXCEPTION 'lost a race' USING ERRCODE = '{code}'; "
        "END IF; RETURN NEW; END $$")
    crm.db.execute_sql("CREATE TRIGGER lose_race BEFORE UPDATE ON obj_contacts FOR EACH ROW EXECUTE FUNCTION lose_race()")


@pytest.mark.parametrize("code", ["40001", "40P01"])
def test_a_service_call_that_lost_a_race_runs_once_more_with_a_notice(pg_url, code):
    from crm_tui.domain.errors import CrmError
    from crm_tui.services.retry import NOTICE, retry_lost_races

    notices: list[str] = []
    with Crm.open(pg_url, user_name="bo") as crm:
        bo = crm.records.create("contacts", {"email": "bo@x.example"}).id
        _lose_races(crm, 1, code)
        retry_lost_races(crm, notices.append)
        retry_lost_races(crm, notices.append)  # twice changes nothing
        crm.records.update("contacts", bo, {"firstname": "Bo"}, source=sources.USER)
        assert notices == [NOTICE]
        assert crm.records.get("contacts", bo).properties["firstname"] == "Bo"
        Operation = crm.models.Operation
        assert Operation.select().where(Operation.kind == "update").count() == 1  # the lost run left nothing
        with pytest.raises(CrmError):  # anything else is raised at once
            crm.records.get("contacts", 999)
        assert notices == [NOTICE]
        assert callable(crm.journal.undo)  # a service built on first use still is


def test_a_call_that_loses_twice_is_run_once_more_only(pg_url):
    from crm_tui.domain.errors import DatabaseProblem
    from crm_tui.services.retry import NOTICE, retry_lost_races

    notices: list[str] = []
    with Crm.open(pg_url, user_name="bo") as crm:
        bo = crm.records.create("contacts", {"email": "bo@x.example"}).id
        _lose_races(crm, 2)
        retry_lost_races(crm, notices.append)
        with pytest.raises(DatabaseProblem, match="at the same moment"):
            crm.records.update("contacts", bo, {"firstname": "Bo"}, source=sources.USER)
        assert notices == [NOTICE]
        crm.records.update("contacts", bo, {"firstname": "Bo"}, source=sources.USER)  # the third run passes
        assert notices == [NOTICE]


def _lose_next(crm, table: str, event: str, times: int = 1) -> None:
    """The server refuses the next `times` {event}s on `table` as the loser of a race (40001)."""
    crm.db.execute_sql(f"CREATE SEQUENCE lost_{table}")
    crm.db.execute_sql(
        f"CREATE FUNCTION lose_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF nextval('lost_{table}') <= {int(times)} THEN RAISE EXCEPTION 'lost a race' USING ERRCODE = '40001'; "
        "END IF; RETURN NEW; END $$")
    crm.db.execute_sql(f"CREATE TRIGGER lose_{table} BEFORE {event} ON {table} FOR EACH ROW "
                       f"EXECUTE FUNCTION lose_{table}()")


def test_mail_log_from_stdin_and_tasks_done_run_once_more_after_a_lost_race(pg_url, monkeypatch, capsys):
    """`mail log` reads the piped message once, so its second run logs the same bytes; `tasks`
    is one operation, run again whole."""
    import io
    import sys

    from crm_tui.cli.main import main

    with Crm.open(pg_url, user_name="bo") as crm:
        crm.records.create("contacts", {"email": "carl@acme.example"})
        task = crm.records.create("tasks", {"hs_task_subject": "Call Carl", "hs_timestamp": "2026-12-01T09:00:00Z"}).id
        _lose_next(crm, "obj_emails", "INSERT")
        _lose_next(crm, "obj_tasks", "UPDATE")
    message = (b"From: Carl <carl@acme.example>\r\nTo: me@mine.example\r\nSubject: Quote\r\n"
               b"Message-ID: <quote-1@acme.example>\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\nThe quote.\r\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(message)))
    assert main(["--db", pg_url, "mail", "log"]) == 0
    assert main(["--db", pg_url, "tasks", "done", str(task)]) == 0
    capsys.readouterr()
    with Crm.open(pg_url) as crm:
        assert crm.db.execute_sql("SELECT nextval('lost_obj_emails'), nextval('lost_obj_tasks')").fetchone() == (3, 3)
        assert crm.records.count("emails") == 1
        assert crm.records.get("tasks", task).properties["hs_task_status"] == "COMPLETED"


def test_without_the_retry_a_lost_race_fails(pg_url):
    """What the app showed before: the lost race as an error (nothing saved, try again)."""
    from crm_tui.domain.errors import DatabaseProblem

    with Crm.open(pg_url, user_name="bo") as crm:
        bo = crm.records.create("contacts", {"email": "bo@x.example"}).id
        _lose_races(crm, 1)
        with pytest.raises(DatabaseProblem, match="at the same moment"):
            crm.records.update("contacts", bo, {"firstname": "Bo"}, source=sources.USER)


async def test_the_app_runs_a_lost_race_once_more_and_says_so(pg_url):
    from crm_tui.services.retry import NOTICE
    from crm_tui.shell.app import CrmApp

    app = CrmApp(pg_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        bo = app.crm.records.create("contacts", {"email": "bo@x.example"}).id
        _lose_races(app.crm, 1)
        app.crm.records.update("contacts", bo, {"firstname": "Bo"}, source=sources.USER)
        await pilot.pause(0.1)
        assert [n.message for n in app._notifications] == [NOTICE]
        assert app.crm.records.get("contacts", bo).properties["firstname"] == "Bo"


async def test_a_change_heard_while_a_modal_is_open_shows_when_it_closes(pg_url):
    import asyncio

    from crm_tui.shell.app import CrmApp
    from screens.index import IndexScreen

    with Crm.open(pg_url) as crm:
        crm.records.create("contacts", {"email": "ann@x.example"})
    app = CrmApp(pg_url)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(3):
            await pilot.pause()
        index = app.screen
        assert isinstance(index, IndexScreen) and index.table.row_count == 1
        await pilot.press("question_mark")  # help: a modal over the index
        await pilot.pause()
        assert app.screen.is_modal

        def other_member() -> None:
            with Crm.open(pg_url, user_name="bo") as other:
                other.records.create("contacts", {"email": "bo@x.example"}, source=sources.USER)

        await asyncio.to_thread(other_member)
        await pilot.pause(1.2)
        assert app.screen.is_modal and index.table.row_count == 1  # nothing redrawn under the modal
        await pilot.press("escape")
        for _ in range(40):
            if index.table.row_count == 2:
                break
            await pilot.pause(0.05)
        assert app.screen is index and index.table.row_count == 2


async def test_a_change_heard_as_the_app_closes_is_dropped_quietly(pg_url):
    """The refresh that waited for a modal to close may come due when no screen is left (the app
    quitting): it does nothing, instead of failing with 'No screens on stack'."""
    from crm_tui.shell.app import CrmApp

    app = CrmApp(pg_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        stacks = app._screen_stacks[app._current_mode]
        saved = list(stacks)
        stacks.clear()  # as while the app closes
        try:
            app._changed_by_others()
            app._retry_changed_by_others()
        finally:
            stacks.extend(saved)


def test_without_the_word_index_typing_asks_the_full_text_index(pg_url):
    """A database migrated to 14 by a build without the word index still searches as you type."""
    from crm_tui.services.paging import ViewPager, ViewSpec

    with Crm.open(pg_url) as crm:
        crm.records.create("contacts", {"firstname": "Maria", "email": "m@x.example"})
        crm.db.execute_sql("DROP TABLE fts_contacts_words")
        for trigger in ("fts_words_insert", "fts_words_delete", "fts_words_update"):
            crm.db.execute_sql(f"DROP TRIGGER {trigger} ON fts_contacts")
    with Crm.open(pg_url) as crm:
        crm.records.create("contacts", {"firstname": "Mark", "email": "mark@x.example"})
        pager = ViewPager(crm, ViewSpec("contacts", ["firstname"], search="mar", ranked=False))
        assert sorted(cells for _id, cells in pager.fetch(0, 10)) == [("Maria",), ("Mark",)]


def test_without_the_row_tally_the_index_counts(pg_url):
    """A database migrated to 14 by a build without the tally: counts are counted, as before."""
    with Crm.open(pg_url) as crm:
        crm.records.create("contacts", {"email": "a@x.example"})
        for trigger in ("record_tally_insert", "record_tally_delete", "record_tally_truncate"):
            crm.db.execute_sql(f"DROP TRIGGER {trigger} ON obj_contacts")
        crm.db.execute_sql("DROP TABLE record_tally")
    with Crm.open(pg_url) as crm:
        crm.records.create("contacts", {"email": "b@x.example"})
        assert crm.records.count("contacts") == 2
        with crm.db.atomic():  # inside a transaction too
            assert crm.records.count("contacts") == 2


@pytest.mark.backends("sqlite", "postgresql")
def test_a_far_jump_in_id_order_reads_its_window_by_key_alone(crm):
    """Ids without gaps (deleted records among them): the row at any position is computed, so a
    jump reads its window with no OFFSET, and every window is the one a full scan gives."""
    from crm_tui.services.paging import ViewPager, ViewSpec

    meta = crm.registry.get("contacts")
    with crm.operation("bulk", sources.IMPORT) as op:
        first, last = crm.records.bulk_insert(meta, ["email"], [(f"p{i}@x.example",) for i in range(2600)], op)
    for rid in (first + 3, first + 1200, first + 1201, first + 2500):
        crm.records.delete("contacts", rid)
    everyone = [r["id"] for r in crm.records.query("contacts", columns=["email"]).dicts()]
    pager = ViewPager(crm, ViewSpec("contacts", ["email"]))
    assert pager.count() == len(everyone) == 2596
    seen = _statements_run(crm)
    for start in (2000, 1195, 1, 1198, 2590, 1500, 0):
        assert [rid for rid, _cells in pager.fetch(start, 5)] == everyone[start:start + 5], start
    assert not any("OFFSET" in s.upper() for s in seen)


def test_doctor_finds_and_repairs_a_row_tally_and_word_index_out_of_step(pg_url):
    """What the team database keeps beside the records (the row tally, the word index) is checked
    by doctor and rebuilt by doctor --repair; searches find the records again after."""
    from crm_tui.services.maintenance import doctor
    from crm_tui.storage import dialect

    with Crm.open(pg_url) as crm:
        crm.set_setting("auto_associate_by_domain", False)
        for name in ("Ada Quill", "Bram Quist", "Cleo Rand"):
            first, last = name.split()
            crm.records.create("contacts", {"firstname": first, "lastname": last})
        assert doctor(crm).healthy
        crm.db.execute_sql("INSERT INTO record_tally(tbl, n) VALUES ('obj_contacts', 5)")
        crm.db.execute_sql("DELETE FROM fts_contacts_words WHERE word = 'quist'")
        assert dialect.fts_first_matches(crm.db, "contacts", "quis", 50) == []
        report = doctor(crm)
        assert "row count of contacts: kept as 8, the table holds 3" in report.problems
        assert "word index of contacts: 1 entry out of step" in report.problems
        fixed = doctor(crm, repair=True)
        assert fixed.healthy, fixed.problems
        assert {"recounted the rows of contacts", "rebuilt the word index of contacts"} <= set(fixed.repaired)
        assert crm.records.count("contacts") == 3
        assert len(dialect.fts_first_matches(crm.db, "contacts", "quis", 50)) == 1


def test_a_team_database_that_missed_a_step_gets_the_missing_parts_when_opened(pg_url):
    from crm_tui.storage import db as dbmod

    with Crm.open(pg_url) as crm:
        crm.records.create("contacts", {"email": "a@acme.example"})
        crm.db.execute_sql("DROP TABLE workflow_fired")
        crm.db.execute_sql("ALTER TABLE property_def DROP COLUMN archived")
    with Crm.open(pg_url) as crm:
        assert any("made the missing table workflow_fired" in n for n in crm.notices)
        assert dbmod.schema_gaps(crm.db) == []
        assert crm.records.count("contacts") == 1
