"""`crm-tui copy SOURCE TARGET`: a whole CRM into an empty database, every table compared."""

from __future__ import annotations

import sqlite3
import tracemalloc

import pytest

from crm_tui.services import copying, maintenance
from crm_tui.cli.main import main
from crm_tui.services.core import Crm
from crm_tui.domain.errors import CrmError

ROAST = """
objects:
  - name: roast_batches
    label: Roast Batch
    plural_label: Roast Batches
    primary_property: batch_name
    properties:
      - {name: batch_name, label: Batch name, type: text, required: true}
      - {name: quality_score, label: Quality score, type: number}
      - {name: lot, label: Green lot, type: text, unique: true}
properties:
  contacts:
    - {name: favorite_color, label: Favorite color, type: text}
labels:
  - {from: roast_batches, to: contacts, name: Ordered by, inverse: Ordered, limit: 1}
limits:
  - {from: deals, to: companies, limit: 1}
"""


def tables(path) -> dict[str, dict]:
    """Every table of a database: its columns, its indexes and its rows (by column name)."""
    conn = sqlite3.connect(path)
    try:
        names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'fts_%' ORDER BY name")]
        out = {}
        for name in names:
            columns = sorted((r[1], r[2]) for r in conn.execute(f'PRAGMA table_info("{name}")'))
            indexes = sorted(r[1] for r in conn.execute(f'PRAGMA index_list("{name}")') if not r[1].startswith("sqlite_"))
            cursor = conn.execute(f'SELECT * FROM "{name}"')
            cols = [d[0] for d in cursor.description]
            rows = sorted((tuple(sorted(zip(cols, row))) for row in cursor), key=repr)
            out[name] = {"columns": columns, "indexes": indexes, "rows": rows}
        for name in [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                 "AND name LIKE 'fts\\_%' ESCAPE '\\' AND name NOT LIKE '%\\_%\\_%' ESCAPE '\\'")]:
            out[name] = {"rowids": sorted(r for (r,) in conn.execute(f'SELECT rowid FROM "{name}"'))}
        out["pragma"] = {k: conn.execute(f"PRAGMA {k}").fetchone()[0] for k in ("application_id", "user_version")}
        out["triggers"] = sorted(n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        return out
    finally:
        conn.close()


@pytest.fixture
def busy_crm(demo_db, tmp_path):
    """The demo database, a custom object with records and links, an import kept and one undone, a
    merge, an undo, a saved view and a setting."""
    roast = tmp_path / "roast.yaml"
    roast.write_text(ROAST)
    assert main(["--db", str(demo_db), "schema", "apply", str(roast)]) == 0
    kept = tmp_path / "people.csv"
    kept.write_text("Record ID,First Name,Last Name,Email,Company Domain Name\n"
                    "901,Ines,Okoro,ines@okoro.example,acme-imports.example\n"
                    "902,Jan,Berg,jan@berg.example,acme-imports.example\n")
    undone = tmp_path / "later.csv"
    undone.write_text("First Name,Email\nGone,gone@later.example\n")
    assert main(["--db", str(demo_db), "import", str(kept), "--ids", "legacy"]) == 0
    assert main(["--db", str(demo_db), "import", str(undone)]) == 0
    with Crm.open(demo_db) as crm:
        imports = crm.db.execute_sql("SELECT id FROM operation WHERE kind = 'import' ORDER BY id").fetchall()
    assert main(["--db", str(demo_db), "import", "undo", str(imports[-1][0]), "--yes"]) == 0
    with Crm.open(demo_db) as crm:
        batch = crm.records.create("roast_batches", {"batch_name": "Ethiopia 7", "quality_score": 88, "lot": "L-7"}).id
        crm.records.create("roast_batches", {"batch_name": "Kenya 2", "lot": "L-2"})
        crm.assoc.add(("roast_batches", batch), ("contacts", 1), labels=["Ordered by"])
        crm.assoc.add(("roast_batches", batch), ("companies", 1))
        crm.merger.merge("contacts", 1, 2)
        crm.records.update("contacts", 1, {"favorite_color": "teal"})
        crm.records.update("contacts", 3, {"jobtitle": "Roaster"})
        crm.journal.undo()
        crm.records.delete("contacts", 4)
        crm.set_setting("engagement_cap", 500)
        crm.models.SavedView.create(object=crm.registry.get("contacts").id, name="Teal", filters='[["favorite_color", "=", "teal"]]')
        assert maintenance.doctor(crm).healthy
    return demo_db


def test_copy_takes_everything_and_both_sides_stay_healthy(busy_crm, tmp_path, capsys):
    target = tmp_path / "copy" / "crm.db"
    assert main(["--db", str(busy_crm), "copy", str(busy_crm), str(target)]) == 0
    assert "copied" in capsys.readouterr().out
    before, after = tables(busy_crm), tables(target)
    assert sorted(before) == sorted(after)
    for name in before:
        assert before[name] == after[name], name
    assert before["external_id"]["rows"] and before["saved_view"]["rows"] and before["obj_roast_batches"]["rows"]
    for path in (busy_crm, target):
        with Crm.open(path) as crm:
            report = maintenance.doctor(crm)
            assert report.healthy, (path, report.problems)
    with Crm.open(target) as crm:  # ids point right: history, journal, search, new ids above the old
        assert crm.records.get("contacts", 1).properties["favorite_color"] == "teal"
        assert [h.new_value for h in crm.history.property_history("contacts", 1) if h.property == "favorite_color"] == ["teal"]
        assert crm.search.ids("roast_batches", "ethiopia")
        assert crm.journal.undo().undo_op_id
        gone = crm.db.execute_sql("SELECT seq FROM sqlite_sequence WHERE name = 'obj_contacts'").fetchone()[0]
        assert crm.records.create("contacts", {"email": "new@copy.example"}).id == gone + 1


def test_copy_refuses_a_target_that_is_not_empty(busy_crm, tmp_path, capsys):
    target = tmp_path / "other.db"
    Crm.open(target).close()
    size = target.stat().st_size
    assert main(["copy", str(busy_crm), str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"crm-tui: {target}: not empty (a crm-tui database with its data); copy fills only a new file or an empty database" \
        or (err.endswith("copy fills only a new file or an empty database") and "\n" not in err)
    assert target.stat().st_size == size
    assert main(["copy", str(busy_crm), str(busy_crm)]) == 2
    assert "is the source database itself" in capsys.readouterr().err
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello")
    assert main(["copy", str(busy_crm), str(not_db)]) == 2
    assert "not a SQLite database" in capsys.readouterr().err
    assert not_db.read_text() == "hello"


def test_a_copy_that_fails_leaves_no_target(busy_crm, tmp_path, monkeypatch):
    target = tmp_path / "half.db"
    real = copying._copy_rows
    calls = []

    def fail_on_the_fifth_table(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise sqlite3.OperationalError("database or disk is full")
        return real(*args, **kwargs)

    monkeypatch.setattr(copying, "_copy_rows", fail_on_the_fifth_table)
    with pytest.raises(CrmError, match="copy failed, nothing was written: .*full"):
        copying.copy_database(busy_crm, target)
    assert not target.exists() and not list(tmp_path.glob("half.db*"))


def test_copy_reads_in_batches(busy_crm, tmp_path):
    """Memory stays flat: rows are read and written a batch at a time, whatever the table's size."""
    with Crm.open(busy_crm) as crm:
        from crm_tui.services.seed import seed

        seed(crm, contacts=6000, companies=0, deals=0, tickets=0, activities=0)
    peaks = {}
    for batch in (200, 100_000):
        tracemalloc.start()
        report = copying.copy_database(busy_crm, tmp_path / f"b{batch}.db", batch=batch)
        peaks[batch] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert report.rows["obj_contacts"] > 6000
        assert tables(busy_crm)["obj_contacts"] == tables(tmp_path / f"b{batch}.db")["obj_contacts"]
    assert peaks[200] * 3 < peaks[100_000], peaks


def test_copy_sqlite_to_postgresql_and_back_loses_nothing(busy_crm, pg_server, tmp_path, capsys):
    """A one-person SQLite CRM moves into the team database and back: every table, index, row,
    search entry, the journal and the history come back the same; doctor is healthy on all three."""
    name = pg_server.new_database(empty=True)
    try:
        url = pg_server.url(name)
        assert main(["copy", str(busy_crm), url]) == 0
        assert main(["--db", url, "doctor"]) == 0
        with Crm.open(url) as crm:  # a live team database: new ids follow the copied ones
            assert crm.records.create("contacts", {"email": "after@copy.example"}).id > 300
            crm.journal.undo()
        back = tmp_path / "back.db"
        assert main(["copy", url, str(back)]) == 0
        assert main(["--db", str(back), "doctor"]) == 0
        capsys.readouterr()
        before, after = tables(busy_crm), tables(back)
        assert before.keys() == after.keys()
        for table in before:
            if table in ("operation", "property_change", "association_change", "obj_contacts"):
                # the new contact and its undo above: more operations and history, one deleted contact
                assert set(before[table]["rows"]) <= set(after[table]["rows"]), table
                assert after[table]["columns"] == before[table]["columns"], table
                continue
            assert after[table] == before[table], table
        assert main(["copy", str(busy_crm), url]) == 2  # the target is not empty now
    finally:
        pg_server.drop_database(name)
