"""Two-way vdir sync (`crm-tui vdir sync DIR`): contacts <-> a folder of .vcf files, tested through
the real database and, for the done-when, with the real khard client on the same folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crm_tui.cli.main import main
from crm_tui.domain import sources
from crm_tui.domain.errors import CrmError
from crm_tui.importing.vdir import TRASH, patch_card, sync_vdir
from crm_tui.services.core import Crm

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ODD_CARD = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "UID:odd-card-1\r\n"
    "FN:Mary Somerville\r\n"
    "N:Somerville;Mary;;Dr.;\r\n"
    "item1.EMAIL;TYPE=INTERNET,pref:mary@example.org\r\n"
    "item1.X-ABLabel:_$!<Other>!$_\r\n"
    "TEL;TYPE=CELL:+44 1 2345\r\n"
    "TITLE:Astronomer\r\n"
    "CATEGORIES:science,friends\r\n"
    "X-SOCIALPROFILE;type=twitter:https://twitter.com/mary\r\n"
    "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkI\r\n"
    " CQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/yQALCAABAAEBAREA/8wABgAQEAX/2gAI\r\n"
    " AQEAAD8A0s8g/9k=\r\n"
    "REV:2024-01-01T00:00:00Z\r\n"
    "END:VCARD\r\n"
)


def _card(uid: str, first: str, last: str, email: str, extra: str = "") -> str:
    return (f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{first} {last}\r\nN:{last};{first};;;\r\n"
            f"EMAIL;TYPE=work:{email}\r\n{extra}END:VCARD\r\n")


def _contact(crm, record_id: int) -> dict:
    return crm.records.get("contacts", record_id).properties


def _ids(crm, deleted: bool = False) -> list[int]:
    return [row["id"] for row in crm.records.list("contacts", limit=1000, deleted=deleted).rows]


def _card_of(crm, folder: Path, record_id: int) -> Path:
    VdirCard = crm.models.VdirCard
    return folder / VdirCard.get((VdirCard.record_id == record_id) & (VdirCard.folder == str(folder.resolve()))).filename


# ---------------------------------------------------------------- both ways, second sync


def test_first_sync_writes_every_contact_and_a_second_changes_nothing(crm, tmp_path):
    folder = tmp_path / "book"  # missing: created
    a = crm.records.create("contacts", {"firstname": "Grace", "lastname": "Hopper", "email": "grace@navy.mil",
                                        "jobtitle": "Admiral", "phone": "+1 555 0100"}).id
    b = crm.records.create("contacts", {"firstname": "Alan", "lastname": "Turing", "email": "alan@bletchley.uk",
                                        "city": "Wilmslow", "notes": "line one\nline two; with, marks"}).id
    result = sync_vdir(crm, folder)
    assert (result.written, result.created, result.operation) == (2, 0, None)
    cards = sorted(folder.glob("*.vcf"))
    assert len(cards) == 2
    texts = "".join(p.read_text() for p in cards)
    assert "TITLE:Admiral" in texts and "N:Hopper;Grace;;;" in texts
    assert "NOTE:line one\\nline two\\; with\\, marks" in texts
    assert all(os.stat(p).st_mode & 0o077 == 0 for p in cards)
    again = sync_vdir(crm, folder)
    assert again.changes == 0 and again.summary_line().endswith("0 changes")
    assert sorted(_ids(crm)) == sorted([a, b])


def test_first_sync_from_a_full_folder_imports_its_cards_and_joins_known_emails(crm, tmp_path):
    folder = tmp_path / "book"
    folder.mkdir()
    known = crm.records.create("contacts", {"firstname": "Ada", "email": "ada@example.org", "jobtitle": "Countess"}).id
    (folder / "a.vcf").write_text(_card("uid-a", "Ada", "Lovelace", "ADA@example.org", "TITLE:Mathematician\r\n"))
    (folder / "b.vcf").write_text(_card("uid-b", "Charles", "Babbage", "charles@example.org"))
    result = sync_vdir(crm, folder)
    assert (result.created, result.joined) == (1, 1)
    assert len(_ids(crm)) == 2
    ada = _contact(crm, known)
    assert ada["lastname"] == "Lovelace"  # only the card had it: merged in
    assert ada["jobtitle"] == "Countess"  # both had one: the CRM wins, reported
    assert any("Job title" in c and "Mathematician" in c for c in result.conflicts)
    assert "TITLE:Countess" in (folder / "a.vcf").read_text()
    timeline = crm.activities.timeline(("contacts", known))
    assert any("Mathematician" in str(item) for item in timeline)
    assert sync_vdir(crm, folder).changes == 0


def test_edits_on_either_side_reach_the_other_and_different_fields_merge(crm, tmp_path):
    folder = tmp_path / "book"
    rid = crm.records.create("contacts", {"firstname": "Grace", "lastname": "Hopper", "email": "grace@navy.mil"}).id
    sync_vdir(crm, folder)
    card = next(folder.glob("*.vcf"))
    # the card gains a title, the CRM changes the last name: both kept
    card.write_text(card.read_text().replace("END:VCARD", "TITLE:Rear Admiral\r\nEND:VCARD"))
    crm.records.update("contacts", rid, {"lastname": "Murray Hopper"})
    result = sync_vdir(crm, folder)
    assert (result.updated, result.patched, result.conflicts) == (1, 1, [])
    assert _contact(crm, rid)["jobtitle"] == "Rear Admiral"
    text = card.read_text()
    assert "N:Murray Hopper;Grace;;;" in text and "FN:Grace Murray Hopper" in text and "TITLE:Rear Admiral" in text
    assert sync_vdir(crm, folder).changes == 0


def test_a_conflict_keeps_the_crm_value_and_the_card_value_in_a_note(crm, tmp_path):
    folder = tmp_path / "book"
    rid = crm.records.create("contacts", {"firstname": "Grace", "email": "grace@navy.mil", "jobtitle": "Admiral"}).id
    sync_vdir(crm, folder)
    card = next(folder.glob("*.vcf"))
    card.write_text(card.read_text().replace("TITLE:Admiral", "TITLE:Captain"))
    crm.records.update("contacts", rid, {"jobtitle": "Commodore"})
    result = sync_vdir(crm, folder)
    assert len(result.conflicts) == 1 and "Captain" in result.summary_line()
    assert _contact(crm, rid)["jobtitle"] == "Commodore"
    assert "TITLE:Commodore" in card.read_text()
    notes = crm.activities.timeline(("contacts", rid))
    assert any("Captain" in str(item) for item in notes)
    assert sync_vdir(crm, folder).changes == 0


# ---------------------------------------------------------------- deletions: nothing lost


def test_a_card_deleted_moves_its_contact_to_the_bin_and_back(crm, tmp_path):
    folder = tmp_path / "book"
    rid = crm.records.create("contacts", {"firstname": "Grace", "email": "grace@navy.mil"}).id
    crm.records.create("contacts", {"firstname": "Other", "email": "other@example.org"})  # its card stays
    sync_vdir(crm, folder)
    card = _card_of(crm, folder, rid)
    kept = card.read_text()
    card.unlink()
    result = sync_vdir(crm, folder)
    assert result.deleted == 1 and result.operation
    assert rid in _ids(crm, deleted=True) and rid not in _ids(crm)
    assert sync_vdir(crm, folder).changes == 0
    # restored in the CRM: the card comes back with the same UID and text
    crm.records.restore("contacts", rid)
    assert sync_vdir(crm, folder).written == 1
    assert _card_of(crm, folder, rid).read_text() == kept


def test_a_contact_deleted_in_the_crm_moves_its_card_to_the_trash(crm, tmp_path):
    folder = tmp_path / "book"
    rid = crm.records.create("contacts", {"firstname": "Grace", "email": "grace@navy.mil"}).id
    sync_vdir(crm, folder)
    name = next(folder.glob("*.vcf")).name
    crm.records.delete("contacts", rid)
    result = sync_vdir(crm, folder)
    assert result.trashed == 1
    assert not list(folder.glob("*.vcf"))
    assert (folder / TRASH / name).exists()
    assert sync_vdir(crm, folder).changes == 0
    # the card put back: the contact comes back from the bin
    shutil.move(folder / TRASH / name, folder / name)
    result = sync_vdir(crm, folder)
    assert result.restored == 1 and rid in _ids(crm)


def test_a_card_deleted_while_its_contact_changed_is_written_again(crm, tmp_path):
    folder = tmp_path / "book"
    rid = crm.records.create("contacts", {"firstname": "Grace", "email": "grace@navy.mil"}).id
    crm.records.create("contacts", {"firstname": "Other", "email": "other@example.org"})  # its card stays
    sync_vdir(crm, folder)
    card = _card_of(crm, folder, rid)
    card.unlink()
    crm.records.update("contacts", rid, {"jobtitle": "Admiral"})
    result = sync_vdir(crm, folder)
    assert result.deleted == 0 and len(result.conflicts) == 1
    assert "TITLE:Admiral" in card.read_text()
    assert rid in _ids(crm)


# ---------------------------------------------------------------- unknown fields, history, undo


def test_unknown_fields_survive_byte_for_byte(crm, tmp_path):
    folder = tmp_path / "book"
    folder.mkdir()
    (folder / "odd.vcf").write_bytes(ODD_CARD.encode())
    result = sync_vdir(crm, folder)
    assert result.created == 1
    rid = _ids(crm)[0]
    contact = _contact(crm, rid)
    assert (contact["email"], contact["mobilephone"], contact["salutation"]) == ("mary@example.org", "+44 1 2345", "Dr.")
    crm.records.update("contacts", rid, {"jobtitle": "Polymath", "city": "Jedburgh"})
    sync_vdir(crm, folder)
    after = (folder / "odd.vcf").read_bytes().decode()
    before_lines = ODD_CARD.replace("TITLE:Astronomer\r\n", "TITLE:Polymath\r\n")
    assert after.startswith(before_lines.removesuffix("END:VCARD\r\n"))  # every other byte where it was
    assert after.endswith("ADR;TYPE=WORK:;;;Jedburgh;;;\r\nEND:VCARD\r\n")
    assert sync_vdir(crm, folder).changes == 0


def test_patch_keeps_params_and_moves_pref_with_the_primary_email():
    text = ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:A B\r\nN:B;A;;;\r\nEMAIL;TYPE=home:a@x.org\r\n"
            "EMAIL;TYPE=work,pref:b@x.org\r\nEND:VCARD\r\n")
    patched = patch_card(text, {"email": "a@x.org", "hs_additional_emails": "b@x.org"}, {"email"})
    assert "EMAIL;TYPE=home:a@x.org\r\nEMAIL;TYPE=work:b@x.org\r\n" in patched
    from crm_tui.importing.vcard import parse_vcards

    assert parse_vcards(patched).contacts[0]["email"] == "a@x.org"


def test_changes_carry_the_sync_source_and_undo_as_one_operation(crm, tmp_path):
    folder = tmp_path / "book"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.vcf").write_text(_card(f"uid-{i}", f"First{i}", f"Last{i}", f"p{i}@example.org"))
    result = sync_vdir(crm, folder)
    assert result.created == 3
    op = crm.models.Operation.get_by_id(result.operation)
    assert (op.kind, op.source, op.actor) == ("vdir_sync", sources.SYNC, f"vdir:{folder.resolve()}")
    Operation = crm.models.Operation
    children = list(Operation.select().where(Operation.parent == op.id))
    assert len(children) == 3 and {(o.source, o.actor) for o in children} == {(sources.SYNC, op.actor)}
    rid = _ids(crm)[0]
    crm.records.update("contacts", rid, {"jobtitle": "x"})
    crm.journal.undo()  # the user's own update
    (folder / "0.vcf").write_text(_card("uid-0", "First0", "Changed", "p0@example.org"))
    second = sync_vdir(crm, folder)
    assert second.updated == 1
    crm.journal.undo(second.operation)
    assert {_contact(crm, i)["lastname"] for i in _ids(crm)} == {"Last0", "Last1", "Last2"}
    crm.journal.undo(op.id)
    assert _ids(crm) == []


def test_a_card_without_uid_gets_one_in_its_file(crm, tmp_path):
    folder = tmp_path / "book"
    folder.mkdir()
    (folder / "nouid.vcf").write_text("BEGIN:VCARD\nVERSION:3.0\nFN:No Uid\nN:Uid;No;;;\nX-KEEP:me\nEND:VCARD\n")
    result = sync_vdir(crm, folder)
    assert result.created == 1
    text = (folder / "nouid.vcf").read_text()
    assert "\nUID:" in text and "X-KEEP:me\n" in text and "\r" not in text
    assert sync_vdir(crm, folder).changes == 0


# ---------------------------------------------------------------- hostile folders


def test_hostile_cards(crm, tmp_path):
    folder = tmp_path / "book"
    folder.mkdir()
    outside = tmp_path / "outside.vcf"
    outside.write_text(_card("uid-out", "Secret", "Outside", "secret@example.org"))
    (folder / "link.vcf").symlink_to(outside)
    (folder / "folder.vcf").mkdir()
    os.mkfifo(folder / "pipe.vcf")
    (folder / "evil.vcf").write_text(_card("../../evil", "Evil", "Uid", "evil@example.org"))
    (folder / "ctl.vcf").write_text(_card("uid-ctl", "Bad\x1b[31m", "Name\x07", "ctl@example.org"))
    (folder / "huge.vcf").write_bytes(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Huge\r\nNOTE:" + b"x" * (9 << 20)
                                      + b"\r\nEND:VCARD\r\n")
    result = sync_vdir(crm, folder)
    assert result.created == 2
    names = {(c["firstname"], c["lastname"]) for c in (_contact(crm, i) for i in _ids(crm))}
    assert ("Bad[31m", "Name") in names or ("Bad", "Name") in names
    assert not any("\x1b" in f + l for f, l in names)
    assert any("link.vcf" in p and "symbolic link" in p for p in result.problems)
    assert any("huge.vcf" in p for p in result.problems)
    assert any("folder.vcf" in p and "not a regular file" in p for p in result.problems)
    assert any("pipe.vcf" in p and "not a regular file" in p for p in result.problems)
    assert outside.read_text().startswith("BEGIN:VCARD")  # never touched
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil.vcf").exists()
    # a contact whose UID is '../../evil' in another folder: its card there gets a safe name
    other = tmp_path / "other"
    sync_vdir(crm, other)
    assert all(p.parent == other for p in other.rglob("*.vcf"))
    assert all(".." not in p.name for p in other.iterdir())


def test_a_trash_folder_that_is_a_symlink_is_refused(crm, tmp_path):
    folder = tmp_path / "book"
    rid = crm.records.create("contacts", {"firstname": "Grace", "email": "grace@navy.mil"}).id
    sync_vdir(crm, folder)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / TRASH).symlink_to(elsewhere)
    crm.records.delete("contacts", rid)
    with pytest.raises(Exception, match="symbolic link"):
        sync_vdir(crm, folder)
    assert list(folder.glob("*.vcf")) and not list(elsewhere.iterdir())


# ---------------------------------------------------------------- the command line


@pytest.mark.backends("sqlite")
def test_command_line(tmp_path, capsys):
    db = str(tmp_path / "crm.db")
    assert main(["--db", db, "record", "create", "contacts", "firstname=Ann", "email=ann@example.org"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "vdir", "sync", str(tmp_path / "book"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["written"] == 1 and data["changes"] == 1
    assert main(["--db", db, "vdir", "sync", str(tmp_path / "book")]) == 0
    assert capsys.readouterr().out.strip().endswith("0 changes")
    card = next((tmp_path / "book").glob("*.vcf"))
    card.write_bytes(card.read_bytes().replace(b"END:VCARD", b"TITLE:Pilot\r\nEND:VCARD"))
    assert main(["--db", db, "vdir", "sync", str(tmp_path / "book")]) == 0
    assert "1 contact(s) updated" in capsys.readouterr().out
    assert main(["--db", db, "undo", "--yes"]) == 0  # the newest operation: the sync
    assert "vdir sync" in capsys.readouterr().out
    assert main(["--db", db, "record", "get", "contacts", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["properties"]["jobtitle"] is None
    (tmp_path / "file").write_text("x")
    assert main(["--db", db, "vdir", "sync", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is a file" in err


# ---------------------------------------------------------------- the real khard client


def _khard(tmp_path: Path, folder: Path):
    exe = Path(sys.executable).parent / "khard"
    if not exe.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("khard is not installed (pip install -e '.[test]')")
        pytest.skip("khard is not installed")
    config = tmp_path / "khard.conf"
    config.write_text(f"[addressbooks]\n[[crm]]\npath = {folder}\n\n[general]\neditor = /bin/false\n"
                      "merge_editor = /bin/false\n\n[contact table]\nshow_uids = yes\n\n"
                      "[vcard]\npreferred_version = 3.0\nprivate_objects = Jabber,\n")

    def run(*args: str, stdin: str = "", ok=(0,)) -> str:
        done = subprocess.run([str(exe), "-c", str(config), *args], input=stdin, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode in ok, done.stderr
        return done.stdout

    return run


@pytest.mark.backends("sqlite")
def test_khard_and_the_crm_share_a_vdir(tmp_path):
    folder = tmp_path / "book"
    folder.mkdir()
    khard = _khard(tmp_path, folder)
    with Crm.open(tmp_path / "crm.db", user_name="tester") as crm:
        # added in khard -> in the CRM
        khard("new", "-a", "crm", stdin="First name : Ada\nLast name : Lovelace\nEmail :\n    work : ada@example.org\n"
                                        "Private :\n    Jabber : ada@jabber.example\nNote : first programmer\n")
        # added in the CRM -> in khard
        grace = crm.records.create("contacts", {"firstname": "Grace", "lastname": "Hopper",
                                                "email": "grace@navy.mil", "jobtitle": "Admiral"}).id
        result = sync_vdir(crm, folder)
        assert (result.created, result.written) == (1, 1)
        ada = crm.records.find_existing("contacts", {"email": "ada@example.org"})
        assert _contact(crm, ada)["notes"] == "first programmer"
        listed = khard("list", "-p")
        assert "Grace Hopper" in listed and "Ada Lovelace" in listed
        assert "Admiral" in khard("show", "Grace")
        assert sync_vdir(crm, folder).changes == 0

        # edited in khard -> in the CRM
        template = tmp_path / "ada.yaml"
        khard("show", "--format", "yaml", "-o", str(template), "Ada")
        text = template.read_text()
        assert "\nTitle:" in text
        template.write_text(text.replace("\nTitle:", "\nTitle: Countess", 1))
        khard("edit", "-i", str(template), "Ada", stdin="yes\n")
        # edited in the CRM -> in khard
        crm.records.update("contacts", grace, {"jobtitle": "Rear Admiral", "mobilephone": "+1 555 0199"})
        result = sync_vdir(crm, folder)
        assert (result.updated, result.patched) == (1, 1)
        assert _contact(crm, ada)["jobtitle"] == "Countess"
        shown = khard("show", "Grace")
        assert "Rear Admiral" in shown and "+1 555 0199" in shown
        assert "ada@jabber.example" in khard("show", "Ada")  # khard's private field survived
        assert sync_vdir(crm, folder).changes == 0

        # deleted in khard -> in the recycle bin; deleted in the CRM -> out of khard (into the trash)
        khard("remove", "--force", "Ada")
        crm.records.delete("contacts", grace)
        result = sync_vdir(crm, folder)
        assert (result.deleted, result.trashed) == (1, 1)
        assert ada in _ids(crm, deleted=True)
        assert "Grace" not in khard("list", "-p", ok=(0, 1))  # 1: an empty address book
        assert len(list((folder / TRASH).glob("*.vcf"))) == 1
        assert sync_vdir(crm, folder).changes == 0


def test_the_full_name_keeps_its_other_words():
    card = ("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;John;Quincy;Dr.;Jr.\r\nFN:Dr. John Quincy Doe Jr.\r\n"
            "END:VCARD\r\n")
    assert "FN:Dr. John Quincy Smith Jr.\r\n" in patch_card(card, {"firstname": "John", "lastname": "Smith"},
                                                          {"lastname"})
    nick = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;John;;;\r\nFN:Johnny\r\nEND:VCARD\r\n"
    assert "FN:Jim Doe\r\n" in patch_card(nick, {"firstname": "Jim", "lastname": "Doe"}, {"firstname"})


@pytest.mark.backends("sqlite")
def test_an_older_database_gets_the_sync_table(tmp_path):
    import sqlite3

    from crm_tui.storage import db as dbmod

    path = tmp_path / "old.db"
    Crm.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE vdir_card")
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()
    with Crm.open(path) as crm:
        assert crm.db.execute_sql("PRAGMA user_version").fetchone()[0] == dbmod.SCHEMA_VERSION
        crm.records.create("contacts", {"firstname": "Ann", "email": "ann@example.org"})
        assert sync_vdir(crm, tmp_path / "book").written == 1


@pytest.mark.backends("sqlite")
def test_the_shared_address_books_sync_and_stay_put(tmp_path):
    from tests.conftest import needs_shared_data

    source = needs_shared_data("vcards")
    folder = tmp_path / "book"
    shutil.copytree(source, folder)
    originals = {p.name: p.read_bytes() for p in folder.glob("*.vcf")}
    with Crm.open(tmp_path / "crm.db") as crm:
        first = sync_vdir(crm, folder)
        assert first.created >= 10
        for name, data in originals.items():  # a card changes only by the UID it lacked
            now = (folder / name).read_bytes()
            if now != data:
                extra = [line for line in now.splitlines() if line not in data.splitlines()]
                assert len(extra) == 1 and extra[0].startswith(b"UID:"), name
        assert sync_vdir(crm, folder).changes == 0


def test_a_card_written_by_another_program_during_the_sync_is_left_alone(crm, tmp_path, monkeypatch):
    from crm_tui.importing import vdir

    folder = tmp_path / "book"
    rid = crm.records.create("contacts", {"firstname": "Grace", "email": "grace@navy.mil"}).id
    sync_vdir(crm, folder)
    card = next(folder.glob("*.vcf"))
    crm.records.update("contacts", rid, {"jobtitle": "Admiral"})
    khard_text = card.read_bytes().replace(b"END:VCARD", b"NOTE:written by khard meanwhile\r\nEND:VCARD")
    real = vdir._Sync._write_notes

    def meanwhile(self):
        real(self)
        card.write_bytes(khard_text)  # between the scan and the sync's own write

    monkeypatch.setattr(vdir._Sync, "_write_notes", meanwhile)
    result = sync_vdir(crm, folder)
    assert any("changed by another program" in p for p in result.problems)
    assert card.read_bytes() == khard_text
    monkeypatch.setattr(vdir._Sync, "_write_notes", real)
    result = sync_vdir(crm, folder)  # the next sync merges both
    assert _contact(crm, rid)["notes"] == "written by khard meanwhile"
    assert "TITLE:Admiral" in card.read_text() and "NOTE:written by khard meanwhile" in card.read_text()
    assert sync_vdir(crm, folder).changes == 0


def test_erasing_a_contact_removes_the_card_text_kept_of_it(crm, tmp_path):
    folder = tmp_path / "book"
    rid = crm.records.create("contacts", {"firstname": "Grace", "email": "grace@navy.mil"}).id
    sync_vdir(crm, folder)
    VdirCard = crm.models.VdirCard
    assert VdirCard.select().where(VdirCard.record_id == rid).count() == 1
    crm.eraser.erase("contacts", rid)
    assert VdirCard.select().where(VdirCard.record_id == rid).count() == 0


def test_a_folder_that_lost_every_card_is_refused(crm, tmp_path):
    folder = tmp_path / "book"
    for name in ("Ann", "Bob"):
        crm.records.create("contacts", {"firstname": name, "email": f"{name.lower()}@example.org"})
    sync_vdir(crm, folder)
    for card in folder.glob("*.vcf"):
        card.unlink()
    with pytest.raises(CrmError, match="none of the 2 card"):
        sync_vdir(crm, folder)
    assert len(_ids(crm)) == 2
    assert sync_vdir(crm, folder, force_delete=True).deleted == 2
    assert _ids(crm) == []


def test_a_vcard4_phone_uri_stays_a_uri():
    card = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:K G\r\nTEL;TYPE=cell;VALUE=uri:tel:+1 609 555\r\nEND:VCARD\r\n"
    patched = patch_card(card, {"mobilephone": "+1 609 777"}, {"mobilephone"})
    assert "TEL;TYPE=cell;VALUE=uri:tel:+1 609 777\r\n" in patched


# ---------------------------------------------------------------- fuzzed


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_printable = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Cf")), max_size=40)


@settings(max_examples=60, deadline=None)
@given(first=_printable, last=_printable, title=_printable, note=st.text(max_size=60), city=_printable)
def test_patched_values_read_back_as_written(first, last, title, note, city):
    from crm_tui.domain.values import clean_text
    from crm_tui.importing.vdir import card_values

    values = {"firstname": first.strip(), "lastname": last.strip(), "jobtitle": title.strip(),
              "notes": clean_text(note).strip(), "city": city.strip(), "email": "a@example.org"}
    patched = patch_card(ODD_CARD, values, set(values))
    read = card_values(patched)
    assert read is not None
    for prop in ("jobtitle", "notes", "city"):
        assert read[prop] == clean_text(values[prop]).strip(), prop
    assert "X-SOCIALPROFILE;type=twitter:https://twitter.com/mary\r\n" in patched
    assert "\r\n AQEAAD8A0s8g/9k=\r\n" in patched


@pytest.mark.backends("sqlite")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=400))
def test_any_card_bytes_give_a_summary_not_a_traceback(tmp_path, body):
    import uuid

    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    (folder / "x.vcf").write_bytes(b"BEGIN:VCARD\r\nVERSION:3.0\r\n" + body + b"\r\nEND:VCARD\r\n")
    with Crm.open(tmp_path / "fuzz.db") as crm:
        try:
            result = sync_vdir(crm, folder)
        except CrmError:
            return
        assert sync_vdir(crm, folder).changes == 0, result.summary_line()
