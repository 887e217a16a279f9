"""Erasure and the recycle bin's retention: erased text is gone from the database file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crm_tui.domain import sources
from crm_tui.cli.main import main
from crm_tui.services.core import Crm
from crm_tui.domain.errors import CrmError, NotFound

SECRET = b"erin.zed.secret@erasure.example"


def file_bytes(path: Path) -> bytes:
    return b"".join(Path(str(path) + s).read_bytes() for s in ("", "-wal") if Path(str(path) + s).exists())


@pytest.fixture
def erin(demo_db):
    with Crm.open(demo_db) as crm:
        rid = crm.records.create("contacts", {"firstname": "Erin", "lastname": "Zed", "email": SECRET.decode(),
                                              "jobtitle": "Erasure Tester"}).id
        crm.records.update("contacts", rid, {"jobtitle": "Erasure Lead"})
        crm.assoc.add(("contacts", rid), ("companies", 1), labels=[])
    return demo_db, rid


def test_an_erased_contact_appears_nowhere_in_the_file(erin, capsys):
    db, rid = erin
    assert SECRET in file_bytes(db)
    assert main(["--db", str(db), "record", "erase", "contacts", str(rid), "--yes", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["erased"] == [rid]
    data = file_bytes(db)
    for text in (SECRET, b"Erasure Tester", b"Erasure Lead"):
        assert text not in data
    with Crm.open(db) as crm:
        assert not crm.records.exists(crm.registry.get("contacts"), rid, live=False)
        assert crm.search.records("contacts", "erin.zed") == []
        assert crm.assoc.linked_ids(("companies", 1), "contacts").count(rid) == 0
        with pytest.raises(NotFound):
            crm.records.get("contacts", rid)
        Change = crm.models.PropertyChange
        assert not Change.select().where((Change.object == crm.registry.get("contacts").id)
                                         & (Change.record_id == rid)).exists()
        tomb = crm.journal.list(limit=1)[0]
        assert tomb.kind == "erase" and tomb.source == "API"
        # what changed the record before can no longer be undone, in one line
        with pytest.raises(CrmError, match="erased since"):
            crm.journal.undo(crm.journal.list(limit=5)[2].id)
        with pytest.raises(CrmError, match="cannot be undone"):
            crm.journal.undo(tomb.id)
    assert main(["--db", str(db), "doctor"]) == 0


def test_erase_asks_and_without_a_terminal_needs_yes(erin, capsys):
    db, rid = erin
    assert main(["--db", str(db), "record", "erase", "contacts", str(rid)]) == 1
    assert "--yes" in capsys.readouterr().err
    with Crm.open(db) as crm:
        assert crm.records.exists(crm.registry.get("contacts"), rid)


def test_the_bin_empties_by_hand_and_after_its_retention(demo_db, capsys):
    with Crm.open(demo_db) as crm:
        contacts = crm.registry.get("contacts")
        old, recent = [r["id"] for r in crm.records.list("contacts", limit=2).rows]
        crm.records.delete("contacts", old)
        crm.records.delete("contacts", recent)
        contacts.model.update(deleted_at="2020-01-01T00:00:00.000000Z").where(contacts.model.id == old).execute()
    assert main(["--db", str(demo_db), "bin", "retention"]) == 0
    assert "90 days" in capsys.readouterr().out
    with Crm.open(demo_db) as crm:  # opening for writing applies the retention
        assert not crm.records.exists(crm.registry.get("contacts"), old, live=False)
        assert crm.records.exists(crm.registry.get("contacts"), recent, live=False)
        assert crm.journal.list(limit=1)[0].source == sources.JOB
    assert main(["--db", str(demo_db), "bin", "empty", "--yes"]) == 0
    assert "1 record(s) erased" in capsys.readouterr().out
    with Crm.open(demo_db) as crm:
        assert crm.records.count("contacts", deleted=True) == 0
    assert main(["--db", str(demo_db), "bin", "retention", "0"]) == 0
    assert "until emptied" in capsys.readouterr().out
