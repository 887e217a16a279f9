"""The team database: crm-tui on PostgreSQL with several writers at once.

The core suites (records, associations, journal, import, the association state machine) also run
on PostgreSQL through the `backend` parameter of the `crm` fixture; this file holds what only a
server has: URLs, several connections, constraints the database enforces, other writers' changes.
"""

from __future__ import annotations

import threading

import pytest

from crm_tui.cli import main as cli
from crm_tui.services import integrity
from crm_tui.domain import sources
from crm_tui.services.core import Crm
from crm_tui.domain.errors import CrmError, DatabaseProblem


def _contact_with_companies(crm, n: int = 3) -> tuple[int, list[int]]:
    crm.set_setting("auto_associate_by_domain", False)
    contact = crm.records.create("contacts", {"email": "ann@x.example"}).id
    companies = [crm.records.create("companies", {"name": f"Co {i}", "domain": f"co{i}.example"}).id
                 for i in range(n)]
    for company in companies:
        crm.assoc.add(("contacts", contact), ("companies", company))
    return contact, companies


def _primaries(crm, contact: int) -> list[int]:
    Association = crm.models.Association
    comp = crm.registry.get("companies").id
    con = crm.registry.get("contacts").id
    return [to_id for (to_id,) in Association.select(Association.to_id).where(
        (Association.from_object == con) & (Association.from_id == contact) & (Association.to_object == comp)
        & (Association.is_primary == True)).tuples()]  # noqa: E712


def test_two_writers_racing_for_the_primary_company_leave_exactly_one(pg_url):
    with Crm.open(pg_url, user_name="ann") as setup:
        contact, companies = _contact_with_companies(setup)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(name: str, company: int, other: int) -> None:
        try:
            with Crm.open(pg_url, user_name=name) as crm:
                barrier.wait()
                for i in range(15):
                    crm.assoc.set_primary(("contacts", contact), company if i % 2 == 0 else other,
                                          source=sources.USER)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=("ann", companies[1], companies[0])),
               threading.Thread(target=writer, args=("bo", companies[2], companies[0]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with Crm.open(pg_url, user_name="ann") as crm:
        assert len(_primaries(crm, contact)) == 1
        assert integrity.check_all(crm.registry) == []
        Operation = crm.models.Operation
        actors = {a for (a,) in Operation.select(Operation.actor).where(Operation.kind == "set_primary").tuples()}
        assert actors == {"ann", "bo"}  # history names who did what


def test_the_database_itself_refuses_a_second_primary_company(pg_url):
    """Not only Python: a writer that skips the core's checks is refused by the partial unique index."""
    with Crm.open(pg_url) as crm:
        contact, companies = _contact_with_companies(crm)
        assert len(_primaries(crm, contact)) == 1
        con, comp = crm.registry.get("contacts").id, crm.registry.get("companies").id
        with pytest.raises(Exception, match="ux_association_primary"):
            with crm.db.atomic():
                crm.db.execute_sql("UPDATE association SET is_primary = 1 WHERE from_object = ? AND from_id = ? "
                                   "AND to_object = ?", (con, contact, comp))
        assert len(_primaries(crm, contact)) == 1


def test_the_dedupe_keys_hold_for_two_writers(pg_url):
    """Two writers creating the same email at once: one record, the other writer updates it."""
    barrier = threading.Barrier(2)
    results: list = []

    def writer(name: str) -> None:
        with Crm.open(pg_url, user_name=name) as crm:
            barrier.wait()
            try:
                results.append(crm.records.create("contacts", {"email": "same@x.example", "firstname": name}).id)
            except (CrmError, DatabaseProblem) as exc:
                results.append(str(exc))

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("ann", "bo")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2
    with Crm.open(pg_url) as crm:
        (count,) = crm.db.execute_sql("SELECT count(*) FROM obj_contacts WHERE email = 'same@x.example'").fetchone()
        assert count == 1


def test_cli_on_a_postgresql_url_and_history_names_the_team_member(pg_url, capsys, monkeypatch):
    monkeypatch.setenv("USER", "ines")
    monkeypatch.setenv("LOGNAME", "ines")
    assert cli.main(["--db", pg_url, "record", "create", "contacts", "email=ines@acme.example"]) == 0
    assert cli.main(["--db", pg_url, "search", "acme", "--json"]) == 0
    out = capsys.readouterr().out
    assert "ines@acme.example" in out
    with Crm.open(pg_url) as crm:
        Operation = crm.models.Operation
        op = Operation.select().where(Operation.kind == "create").order_by(Operation.id.desc()).get()
        assert op.source == sources.API and op.actor == "ines"
    assert cli.main(["--db", pg_url, "doctor"]) == 0
    assert "healthy" in capsys.readouterr().out


@pytest.mark.parametrize("url", ["mysql://root@localhost/crm", "http://example.invalid/x", "sqlite://crm.db"])
def test_a_url_of_another_scheme_is_refused_in_one_line_and_never_becomes_a_file(url, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--db", url, "list", "contacts"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not supported" in err
    assert list(tmp_path.iterdir()) == []  # no file, no folder named after the URL
    monkeypatch.setenv("CRM_TUI_DB", url)
    assert cli.main(["list", "contacts"]) == 2
    assert list(tmp_path.iterdir()) == []


def test_an_empty_database_gets_the_schema_and_a_foreign_one_is_refused(pg_server):
    empty = pg_server.new_database(empty=True)
    try:
        url = pg_server.url(empty)
        with Crm.open(url) as crm:
            assert crm.records.create("contacts", {"email": "a@b.example"}).id == 1
        with Crm.open(url) as crm:  # opened again: the same data, no second schema
            assert crm.records.get("contacts", 1).properties["email"] == "a@b.example"
    finally:
        pg_server.drop_database(empty)
    foreign = pg_server.new_database(empty=True)
    try:
        url = pg_server.url(foreign)
        import psycopg2

        conn = psycopg2.connect(url)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE invoices (id int)")
        conn.close()
        with pytest.raises(DatabaseProblem, match="not a crm-tui database"):
            Crm.open(url)
    finally:
        pg_server.drop_database(foreign)


def test_backup_of_a_server_database_is_refused_in_one_line(pg_url, capsys):
    assert cli.main(["--db", pg_url, "backup"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pg_dump" in err


def _other_terminal(url: str, *args: str) -> None:
    """A command run by another team member in another terminal (its own process and connection)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "crm_tui.cli.main", "--db", url, *args], capture_output=True,
                          text=True, timeout=60, env={**__import__("os").environ, "USER": "bo", "LOGNAME": "bo"})
    assert done.returncode == 0, done.stderr


async def test_an_open_app_shows_another_members_change_and_keeps_what_is_being_typed(pg_url):
    import asyncio

    from textual.widgets import Input

    from crm_tui.shell.app import CrmApp

    with Crm.open(pg_url) as crm:
        crm.records.create("contacts", {"email": "ann@x.example", "firstname": "Ann"})
    app = CrmApp(pg_url)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(3):
            await pilot.pause()
        screen = app.screen
        assert screen.table.row_count == 1

        async def rows_become(n: int) -> int:
            for _ in range(60):
                if screen.table.row_count == n:
                    break
                await pilot.pause(0.1)
            return screen.table.row_count

        await asyncio.to_thread(_other_terminal, pg_url, "record", "create", "contacts", "email=bo@x.example")
        assert await rows_become(2) == 2  # no key pressed: the change came to the screen

        await pilot.press("slash", "n", "o")  # typing a search
        await asyncio.to_thread(_other_terminal, pg_url, "record", "create", "contacts", "email=nora@x.example")
        await pilot.pause(1.0)
        search = app.focused
        assert isinstance(search, Input) and search.value == "no"  # what is typed stays, focus too
        await pilot.press("r")  # typing goes on where it was
        assert search.value == "nor"
        await pilot.press("escape")
        assert await rows_become(3) == 3


def test_the_config_database_may_be_a_postgresql_url(pg_url, tmp_path, capsys):
    import os

    folder = tmp_path / "config" / "crm-tui"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(f"database: {pg_url}\n")
    assert os.environ["XDG_CONFIG_HOME"] == str(tmp_path / "config")
    assert cli.main(["record", "create", "contacts", "email=cfg@x.example"]) == 0
    with Crm.open(pg_url) as crm:
        assert crm.search.ids("contacts", "cfg")


def test_a_newer_schema_is_refused_and_an_older_one_upgraded(pg_url):
    from crm_tui.storage import db as dbmod
    from crm_tui.storage.dialect_pg import read_version, write_version

    with Crm.open(pg_url) as crm:
        write_version(crm.db, dbmod.APPLICATION_ID, dbmod.SCHEMA_VERSION + 1)
    with pytest.raises(DatabaseProblem, match="newer crm-tui"):
        Crm.open(pg_url)
    import psycopg2

    conn = psycopg2.connect(pg_url)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE crm_tui_schema SET version = 2")
    conn.close()
    with Crm.open(pg_url) as crm:  # upgraded in place, in one transaction per step
        assert read_version(crm.db) == (dbmod.APPLICATION_ID, dbmod.SCHEMA_VERSION)
        assert crm.records.create("contacts", {"email": "after@x.example"}).id


def test_a_write_that_lost_a_race_for_a_unique_key_is_run_again_and_updates(pg_url, monkeypatch):
    """Another writer's uncommitted contact holds the email; ours waits on the unique index, fails
    when that commits, and `retrying` runs it again: it then finds the contact and updates it."""
    import psycopg2

    monkeypatch.setenv("CRM_TUI_BUSY_TIMEOUT_MS", "10000")  # lock waits up to 10 s (the suite's is 0.3 s)

    other = psycopg2.connect(pg_url)
    cur = other.cursor()
    cur.execute("INSERT INTO obj_contacts (email, firstname, createdate, lastmodifieddate) "
                "VALUES ('taken@x.example', 'Ann', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')")
    cur.execute("INSERT INTO fts_contacts (rowid, body) SELECT id, 'Ann taken@x.example' FROM obj_contacts")
    outcome: list = []
    with Crm.open(pg_url, user_name="bo") as crm:
        def ours() -> None:
            try:
                outcome.append(crm.retrying(crm.records.create, "contacts",
                                            {"email": "taken@x.example", "lastname": "Okoro"}))
            except BaseException as exc:  # noqa: BLE001 - checked below
                outcome.append(exc)

        thread = threading.Thread(target=ours)
        thread.start()
        thread.join(0.8)
        assert thread.is_alive()  # waiting on the other writer's uncommitted key
        other.commit()
        other.close()
        thread.join(30)
        result = outcome[0]
        assert not isinstance(result, BaseException), result
        assert result.created is False  # the second attempt found the contact and updated it
        row = crm.records.get("contacts", result.id).properties
        assert (row["firstname"], row["lastname"]) == ("Ann", "Okoro")
        (count,) = crm.db.execute_sql("SELECT count(*) FROM obj_contacts").fetchone()
        assert count == 1


@pytest.mark.parametrize("group_by", ["@primary_company", "createdate:week", "createdate:quarter", "lifecyclestage"])
def test_reports_run_on_postgresql(pg_url, capsys, group_by):
    with Crm.open(pg_url) as crm:
        _contact_with_companies(crm)
        crm.records.create("contacts", {"email": "bo@y.example"})
    assert cli.main(["--db", pg_url, "report", "contacts", "--group-by", group_by, "--csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) >= 2  # a header and at least one group
