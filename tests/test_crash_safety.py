"""Kill -9 in the middle of long changes: the file stays sound, links stay bidirectional, history
matches state, and only whole batches are in."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from crm_tui.services import integrity
from crm_tui.services.core import Crm
from crm_tui.services.seed import seed

pytestmark = pytest.mark.slow


def run_until_killed(script: str, marker_count: int, timeout: float = 60) -> None:
    """Start a Python child, wait until it has printed `marker_count` lines, then SIGKILL it."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, text=True,
                             cwd=os.path.dirname(os.path.dirname(__file__)))
    seen = 0
    deadline = time.monotonic() + timeout
    while seen < marker_count and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        seen += 1
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert seen >= marker_count, f"the child finished or failed before it could be killed ({seen} lines)"


def check_sound(db_path) -> Crm:
    crm = Crm.open(db_path)
    assert crm.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert integrity.check_all(crm.registry) == []
    return crm


def test_bulk_edit_killed_part_way(db_path):
    with Crm.open(db_path) as crm:
        seed(crm, contacts=3000, companies=30, seed=2)
    script = f"""
        import sys, time
        from crm_tui.services.core import Crm
        from crm_tui.services import bulk
        crm = Crm.open({str(db_path)!r})
        ids = list(range(1, 3001))
        def progress(done, total):
            print(done, flush=True)
            time.sleep(0.05)
        bulk.bulk_update(crm, "contacts", ids, {{"jobtitle": "Killed midway"}}, batch_size=100, progress=progress)
        print("finished", flush=True)
    """
    run_until_killed(script, marker_count=5)
    crm = check_sound(db_path)
    try:
        meta = crm.registry.get("contacts")
        changed = meta.model.select().where(meta.model.jobtitle == "Killed midway").count()
        assert 500 <= changed < 3000
        assert changed % 100 == 0  # whole batches only
        parent = crm.models.Operation.get(crm.models.Operation.kind == "bulk_update")
        batches = [o.id for o in crm.models.Operation.select().where(crm.models.Operation.parent == parent.id)]
        assert len(batches) == changed // 100
        # every changed record has exactly one history row for it, in a committed batch
        PropertyChange = crm.models.PropertyChange
        rows = PropertyChange.select().where((PropertyChange.property == "jobtitle")
                                             & (PropertyChange.new_value == "Killed midway")).count()
        assert rows == changed
    finally:
        crm.close()


def test_import_killed_part_way_keeps_whole_batches_and_undoes(db_path, tmp_path):
    from crm_tui.importing.undo import undo_import

    with Crm.open(db_path) as crm:
        seed(crm, companies=20, seed=4)
        ann = crm.records.create("contacts", {"email": "existing@example.org", "jobtitle": "Before"}).id
    csv_path = tmp_path / "contacts.csv"
    lines = ["First Name,Last Name,Email,Job Title,Associated Company IDs"]
    lines.append("Ann,Existing,existing@example.org,After,3")  # an update in the first batch
    lines += [f"P{i},Person,p{i}@kill.example,Buyer,{1 + i % 20}" for i in range(4000)]
    csv_path.write_text("\n".join(lines) + "\n")
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
    crm = check_sound(db_path)
    try:
        meta = crm.registry.get("contacts")
        imported = meta.model.select().where(meta.model.email.contains("@kill.example")).count()
        assert 0 < imported < 4000 and (imported + 1) % 200 == 0  # whole batches of 200 rows
        assert crm.records.get("contacts", ann).properties["jobtitle"] == "After"
        linked = crm.assoc.counts(("contacts", ann))
        assert linked == {"companies": 1}
        import_op = crm.models.Operation.get(crm.models.Operation.kind == "import")
        undo_import(crm, import_op.id)
        assert meta.model.select().where(meta.model.email.contains("@kill.example")).count() == 0
        assert crm.records.get("contacts", ann).properties["jobtitle"] == "Before"
        assert crm.assoc.counts(("contacts", ann)) == {}
        assert integrity.check_all(crm.registry) == []
        assert crm.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        crm.close()
