"""An import that stops part-way says exactly what it kept: a full disk reports the rows and batches
committed and how to undo them, the import's record holds those counts, and an import whose
process died is shown as interrupted (command line and the wizard's history), never "running"."""

import json
import subprocess
import sys

import pytest

from crm_tui.services import integrity
from crm_tui.cli.main import main
from crm_tui.services.core import Crm
from crm_tui.domain.errors import DatabaseProblem
from crm_tui.importing.importer import plan_import, run_import
from crm_tui.importing.spec import _owner, owner_alive
from crm_tui.importing.undo import list_imports

from .test_crash_safety import run_until_killed


def write_contacts(path, n: int, domain: str = "full.example") -> None:
    path.write_text("First Name,Email,Job Title\n"
                    + "".join(f"P{i},p{i}@{domain},{'Roaster ' * 25}\n" for i in range(n)))


def test_a_full_disk_during_an_import_says_what_was_saved_and_how_to_undo_it(db_path, tmp_path, capsys):
    csv_path = tmp_path / "contacts.csv"
    write_contacts(csv_path, 3000)
    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "before@example.org"})
        pages = crm.db.execute_sql("PRAGMA page_count").fetchone()[0]
    with Crm.open(db_path) as crm:
        # a tiny size limit stands in for a full disk: a few batches fit, the whole file does not
        crm.db.execute_sql(f"PRAGMA max_page_count = {pages + 250}")
        spec = plan_import(crm, str(csv_path), ["contacts"])
        spec.batch_size = 500
        with pytest.raises(DatabaseProblem) as info:
            run_import(crm, spec)
    message = str(info.value)
    assert "\n" not in message and "nothing was saved" not in message
    with Crm.open(db_path) as crm:
        kept = crm.records.count("contacts") - 1
        import_id = crm.models.Operation.get(crm.models.Operation.kind == "import").id
        [item] = list_imports(crm)
    assert 0 < kept < 3000 and kept % 500 == 0  # whole batches
    assert "full" in message
    assert f"the first {kept:,} rows ({kept // 500} batch" in message
    assert f"crm-tui import undo {import_id}" in message
    # the import's record has the committed counts, and says it failed
    assert item.status == "failed"
    assert item.counts["created"] == kept and item.counts["rows"] == kept
    assert main(["--db", str(db_path), "imports"]) == 0
    line = capsys.readouterr().out
    assert "failed" in line and f"created {kept}," in line
    # and what it says removes them
    assert main(["--db", str(db_path), "import", "undo", str(import_id)]) == 0
    with Crm.open(db_path) as crm:
        assert crm.records.count("contacts") == 1
        assert integrity.check_all(crm.registry) == []


def test_a_full_disk_before_the_first_batch_says_nothing_of_it_was_saved(db_path, tmp_path):
    csv_path = tmp_path / "contacts.csv"
    write_contacts(csv_path, 600)
    with Crm.open(db_path) as crm:
        pages = crm.db.execute_sql("PRAGMA page_count").fetchone()[0]
    with Crm.open(db_path) as crm:
        crm.db.execute_sql(f"PRAGMA max_page_count = {pages + 8}")
        spec = plan_import(crm, str(csv_path), ["contacts"])
        with pytest.raises(DatabaseProblem, match="stopped before any row was saved"):
            run_import(crm, spec)
    with Crm.open(db_path) as crm:
        assert crm.records.count("contacts") == 0
        assert all(i.counts["created"] == 0 for i in list_imports(crm))


def test_a_killed_import_is_interrupted_with_the_counts_of_its_committed_batches(db_path, tmp_path, capsys):
    csv_path = tmp_path / "contacts.csv"
    write_contacts(csv_path, 4000, "kill.example")
    Crm.open(db_path).close()
    script = f"""
        import time
        from crm_tui.services.core import Crm
        from crm_tui.importing.importer import plan_import, run_import
        crm = Crm.open({str(db_path)!r})
        spec = plan_import(crm, {str(csv_path)!r}, ["contacts"])
        spec.batch_size = 200
        def progress(p):
            print(p.rows_done, flush=True)
            time.sleep(0.05)
        run_import(crm, spec, progress=progress)
        print("finished", flush=True)
    """
    run_until_killed(script, marker_count=4)
    with Crm.open(db_path) as crm:
        imported = crm.records.count("contacts")
        [item] = list_imports(crm)
    assert 0 < imported < 4000
    assert item.status == "interrupted"
    assert item.counts["created"] == imported and item.counts["rows"] == imported
    assert main(["--db", str(db_path), "imports", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["status"] == "interrupted" and listed["counts"]["created"] == imported


def test_a_live_import_is_running_and_a_dead_process_is_not():
    assert owner_alive(_owner())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = dict(_owner(), pid=child.pid, started="1")
    assert not owner_alive(dead)
    assert not owner_alive(dict(_owner(), started="1"))  # our pid, but another process's start time: reused
    assert not owner_alive(None)  # a record written before imports named their process


async def test_the_wizard_history_shows_an_interrupted_import(db_path, tmp_path):
    from crm_tui.shell.app import CrmApp
    from screens.import_wizard import ImportHistoryScreen

    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "a@example.org"})
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        with crm.operation("import", "Import", object="contacts",
                           summary={"file": "/tmp/x.csv", "objects": ["contacts"], "status": "running",
                                    "counts": {"created": 1200}, "owner": dict(_owner(), pid=dead.pid)}):
            pass
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        app.push_screen(ImportHistoryScreen())
        await pilot.pause(0.2)
        table = app.screen.query_one("DataTable")
        row = [str(cell) for cell in table.get_row_at(0)]
        assert "interrupted" in row and "1200" in row
