"""Another program (the command line, in its own process) deletes, merges, undoes an import or
restores a backup under the open app: the screen says in one line what happened to what it shows
and the app stays usable. Before, the first key after such a change stopped the app (Textual ends
the message loop of a handler that raised)."""

import json
import subprocess
import sys

from crm_tui.shell.app import CrmApp
from crm_tui.services.core import Crm


def cli(db, *args) -> str:
    done = subprocess.run([sys.executable, "-m", "crm_tui.cli.main", "--db", str(db), *args], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def press(pilot, *keys) -> None:
    for key in keys:
        await pilot.press(key)
        await pilot.pause(0.05)


def imported_contact(db, tmp_path) -> tuple[int, int, int]:
    """(kept contact, imported contact, import id): the imported one can be removed for good by an undo."""
    with Crm.open(db) as crm:
        keep = crm.records.create("contacts", {"firstname": "Keep", "email": "keep@example.org"}).id
        company = crm.records.create("companies", {"name": "Acme", "domain": "acme.example"}).id
    csv_path = tmp_path / "people.csv"
    csv_path.write_text(f"First Name,Email,Associated Company IDs\nGone,gone@example.org,{company}\n")
    import_id = json.loads(cli(db, "import", str(csv_path), "--json"))["import_id"]
    with Crm.open(db) as crm:
        meta = crm.registry.get("contacts")
        gone = meta.model.get(meta.model.email == "gone@example.org").id
    return keep, gone, import_id


async def test_a_record_removed_for_good_by_an_import_undo_goes_back_with_one_line(db_path, tmp_path):
    keep, gone, import_id = imported_contact(db_path, tmp_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.open_record("contacts", gone)
        await pilot.pause(0.3)
        cli(db_path, "import", "undo", str(import_id))
        await press(pilot, "r")  # refresh: the record is not there any more
        assert app.is_running
        assert any("was deleted or merged by another change" in n for n in notes(app))
        assert type(app.screen).__name__ == "IndexScreen"
        await press(pilot, "r")
        assert app.screen.query_one("RecordTable").row_count == 1  # the index shows what is there now
        await press(pilot, "enter")  # and still opens records
        assert type(app.screen).__name__ == "RecordScreen" and app.screen.record_id == keep


async def test_an_action_on_a_vanished_record_says_so_instead_of_stopping_the_app(db_path, tmp_path):
    keep, gone, import_id = imported_contact(db_path, tmp_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.open_record("contacts", gone)
        await pilot.pause(0.3)
        cli(db_path, "import", "undo", str(import_id))
        await press(pilot, "D")  # delete: the confirmation names a record that is gone
        await press(pilot, "y")
        assert app.is_running
        assert any("was deleted or merged by another change" in n for n in notes(app))
        assert type(app.screen).__name__ == "IndexScreen"


async def test_a_record_merged_away_by_another_process_says_so(db_path, tmp_path):
    keep, gone, _ = imported_contact(db_path, tmp_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.open_record("contacts", gone)
        await pilot.pause(0.3)
        cli(db_path, "record", "merge", "contacts", str(keep), str(gone))
        await press(pilot, "r")
        assert app.is_running
        assert any("deleted or merged by another change" in n for n in notes(app))
        assert app.screen.record.deleted  # shown as deleted (restorable), not a crash
        await press(pilot, "escape", "r")
        assert app.screen.query_one("RecordTable").row_count == 1


async def test_a_restored_backup_without_the_record_on_screen(db_path, tmp_path):
    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"firstname": "Old", "email": "old@example.org"})
    backup = tmp_path / "before.db"
    cli(db_path, "backup", str(backup))
    with Crm.open(db_path) as crm:
        new = crm.records.create("contacts", {"firstname": "New", "email": "new@example.org"}).id
        crm.records.create("contacts", {"firstname": "Newer", "email": "newer@example.org"})
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.screen.query_one("RecordTable").row_count == 3
        app.open_record("contacts", new)
        await pilot.pause(0.3)
        cli(db_path, "restore", str(backup), "--yes")
        await press(pilot, "n")  # log a note on it: refused in place, in one line
        await pilot.pause(0.2)
        await press(pilot, *"hello", "ctrl+s")
        error = str(app.screen.query_one("#error").render())
        assert "no contact with id" in error and "\n" not in error.strip()
        await press(pilot, "escape", "y", "r")  # the typed note: discarded when asked (issue 14)
        assert app.is_running
        await press(pilot, "r")
        assert app.is_running
        assert any("was deleted or merged by another change" in n for n in notes(app))
        assert type(app.screen).__name__ == "IndexScreen"
        assert app.screen.query_one("RecordTable").row_count == 1


ROASTS = """
objects:
  - name: roast_batches
    label: Roast Batch
    plural_label: Roast Batches
    primary_property: batch_name
    properties:
      - {name: batch_name, label: Batch name, type: text}
"""


async def test_a_custom_object_removed_by_a_restored_backup(db_path, tmp_path):
    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"firstname": "Ada", "email": "ada@example.org"})
    backup = tmp_path / "before-roasts.db"
    cli(db_path, "backup", str(backup))
    schema = tmp_path / "roasts.yaml"
    schema.write_text(ROASTS)
    cli(db_path, "schema", "apply", str(schema))
    roast = int(cli(db_path, "record", "create", "roast_batches", "batch_name=Ethiopia 7").strip().split()[-1])
    app = CrmApp(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.screen.show_object("roast_batches")
        await pilot.pause(0.2)
        app.open_record("roast_batches", roast)
        await pilot.pause(0.3)
        cli(db_path, "restore", str(backup), "--yes")
        await press(pilot, "r")
        assert app.is_running
        assert any("was deleted or merged by another change" in n for n in notes(app))
        await press(pilot, "r")  # the index of an object that is gone
        assert app.is_running
        assert any("roast_batches are no longer in the database" in n for n in notes(app))
        assert app.screen.object_name == "contacts"
        assert app.screen.query_one("RecordTable").row_count == 1
        await press(pilot, "j", "enter")
        assert type(app.screen).__name__ == "RecordScreen"
