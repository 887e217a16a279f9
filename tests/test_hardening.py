"""Careless and hostile input costs nothing (issue 15, part A): files, text and arguments.

Each test replays one attack through the real command line (or the real core and app) on a real
SQLite file, and fails when the protection is taken away.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from crm_tui.domain import sources
from crm_tui.cli.main import main
from crm_tui.services.core import Crm
from crm_tui.domain.errors import CrmError, InvalidValue

OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # writes "rm -rf ~" to the terminal's clipboard
HOSTILE = [OSC52, "\x1b[2J", "\x1b]8;;http://evil.example\x1b\\", "\x9b31m", "\x1b[31m"]
UNSAFE_CHARS = ["\x1b", "\x9b", "\x07", "\x9c"]


@pytest.fixture
def cli(db_path, capsys):
    def run(*args, code=0):
        result = main(["--db", str(db_path), *args])
        out, err = capsys.readouterr()
        assert result == code, (args, out, err)
        return out if code in (0, 1) else err
    return run


def one_line(err: str, fragment: str = "") -> None:
    assert err.startswith("crm-tui: error:") and err.strip().count("\n") == 0, err
    assert fragment in err, err


def assert_terminal_safe(text: str) -> None:
    for char in UNSAFE_CHARS:
        assert char not in text, (char, text)


@pytest.fixture
def populated(db_path):
    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"firstname": "Ann", "email": "ann@acme.example"}, sources.API)
    return db_path


def contact_names(db_path) -> list[str]:
    with Crm.open(db_path) as crm:
        return [r["firstname"] for r in crm.records.list("contacts", [], [], limit=10).rows]


# -- files: every writer goes through safe_files -----------------------------------------------

def test_export_refuses_the_live_database_and_its_journal_files(cli, populated, tmp_path):
    os.symlink(populated, tmp_path / "link.db")
    os.link(populated, tmp_path / "hard.db")
    for target in (populated, f"{populated}-wal", f"{populated}-shm", f"{populated}-journal",
                   tmp_path / "link.db", tmp_path / "hard.db"):
        one_line(cli("export", "contacts", "--format", "csv", "-o", str(target), code=2), "that is the database")
        one_line(cli("export", "contacts", "--format", "csv", "-o", str(target), "--force", code=2), "that is the database")
    assert contact_names(populated) == ["Ann"]  # still a database, with its data
    assert not (tmp_path / "crm.db-journal").exists()


def test_export_never_replaces_a_file_unless_forced_and_is_private(cli, populated, tmp_path):
    target = tmp_path / "contacts.csv"
    target.write_text("precious")
    one_line(cli("export", "contacts", "-o", str(target), code=2), "already exists; add --force")
    assert target.read_text() == "precious"
    cli("export", "contacts", "-o", str(target), "--force")
    assert "Ann" in target.read_text(encoding="utf-8-sig")
    fresh = tmp_path / "fresh.json"
    cli("export", "contacts", "-o", str(fresh))
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600 and stat.S_IMODE(os.stat(fresh).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_forced_export_or_backup_never_replaces_a_device_or_pipe(cli, populated, tmp_path):
    """`-o /dev/null --force` once replaced the device with a regular file (as root); a FIFO and a
    symlink to one stand in for it here."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    os.symlink(fifo, tmp_path / "link")
    for target in (fifo, tmp_path / "link"):
        one_line(cli("export", "contacts", "--format", "csv", "-o", str(target), "--force", code=2), "not a regular file")
        one_line(cli("backup", str(target), "--force", code=2), "not a regular file")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.path.islink(tmp_path / "link")
    one_line(cli("restore", str(tmp_path), "--yes", code=2), "not a backup file")


def test_export_into_a_missing_folder_or_onto_a_folder_is_one_line(cli, populated, tmp_path):
    one_line(cli("export", "contacts", "-o", str(tmp_path / "missing" / "c.csv"), code=2), "does not exist")
    one_line(cli("export", "contacts", "--format", "csv", "-o", str(tmp_path), code=2), "is a folder")


def test_backup_never_replaces_a_file_or_the_database_unless_forced(cli, populated, tmp_path):
    other = tmp_path / "other.db"
    with Crm.open(other) as crm:
        crm.records.create("contacts", {"firstname": "Other"}, sources.API)
    one_line(cli("backup", str(other), code=2), "already exists; add --force")
    assert contact_names(other) == ["Other"]
    os.link(populated, tmp_path / "hard.db")
    for target in (populated, f"{populated}-wal", tmp_path / "hard.db"):
        one_line(cli("backup", str(target), "--force", code=2), "another file than the database")
    cli("backup", str(other), "--force")
    assert contact_names(other) == ["Ann"]
    assert stat.S_IMODE(os.stat(other).st_mode) == 0o600
    one_line(cli("restore", str(populated), "--yes", code=2), "database itself")


def test_error_file_is_private_and_an_error_dir_that_is_a_file_is_one_line(cli, populated, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("First Name,Email\nBob,not-an-email\n")
    a_file = tmp_path / "note.txt"
    a_file.write_text("x")
    one_line(cli("import", str(source), "--object", "contacts", "--error-dir", str(a_file), code=2), "is a file")
    assert a_file.read_text() == "x"
    cli("import", str(source), "--object", "contacts", "--error-dir", str(tmp_path / "errors"))
    (error_file,) = (tmp_path / "errors").iterdir()
    assert stat.S_IMODE(os.stat(error_file).st_mode) == 0o600


def test_safe_files_refuses_the_database_even_through_a_symlinked_folder(tmp_path, populated):
    from crm_tui.storage import safe_files

    os.symlink(populated.parent, tmp_path / "alias")
    with pytest.raises(InvalidValue, match="that is the database"):
        safe_files.check_target(tmp_path / "alias" / f"{populated.name}-shm", protect=[populated], overwrite=True)
    assert safe_files.write_text(tmp_path / "ok.txt", "x", protect=[populated]).read_text() == "x"


# -- text that reaches the terminal ------------------------------------------------------------

HOSTILE_SCHEMA = """
objects:
  - name: gadgets
    label: "Gadget\\e]8;;http://evil.example\\e\\\\"
    plural_label: "Gadgets\\e[2J"
    properties:
      - {name: title, label: "Title\\e]52;c;cm0gLXJmIH4=\\a", type: text, description: "d\\e[31m"}
      - {name: kind, label: Kind, type: select, options: [{name: a, label: "A\\e[31m"}]}
labels:
  - {from: gadgets, to: contacts, name: "Owner\\e[2J", inverse: "Owned\\e[5m"}
pipelines:
  - object: deals
    name: hostile
    label: "Hostile\\e]52;c;eA==\\a"
    stages:
      - {name: s1, label: "Stage\\e[2J", kind: open}
"""


def test_schema_apply_stores_labels_cleaned(cli, tmp_path, db_path):
    schema = tmp_path / "hostile.yaml"
    schema.write_text(HOSTILE_SCHEMA)
    cli("schema", "apply", str(schema))
    raw = sqlite3.connect(db_path)
    stored = [r[0] for table in ("object_type", "property_def", "label_def", "pipeline", "stage")
              for r in raw.execute(f"SELECT label FROM {table}" if table != "label_def" else "SELECT name FROM label_def")]
    stored += [r[0] for r in raw.execute("SELECT plural_label FROM object_type")]
    stored += [r[0] for r in raw.execute("SELECT options || description FROM property_def")]
    raw.close()
    assert_terminal_safe("".join(stored))
    assert {"Title", "Gadget", "Gadgets", "Owner", "Owned", "Hostile", "Stage"} <= set(stored)


def test_labels_made_only_of_escapes_are_refused(cli, tmp_path, db_path):
    schema = tmp_path / "empty.yaml"
    schema.write_text('properties:\n  contacts:\n    - {name: x1, label: "\\e[2J\\e]52;c;eA==\\a"}\n')
    one_line(cli("schema", "apply", str(schema), code=2), "empty after removing control characters")
    one_line(cli("labels", "create", "contacts", "companies", "\x1b[2J", code=2), "empty after removing control characters")
    with Crm.open(db_path) as crm:
        assert "x1" not in crm.registry.get("contacts").properties
        from crm_tui.services import pipelines

        with pytest.raises(InvalidValue, match="empty after removing control characters"):
            pipelines.add_pipeline(crm, "deals", "\x1b]0;title\x07")


def _inject_hostile_metadata(db_path) -> None:
    """Labels written by another program (or an older version that did not clean them)."""
    with Crm.open(db_path) as crm:
        company = crm.records.create("companies", {"name": "Acme", "domain": "acme.example"}, sources.API).id
        ann = crm.records.create("contacts", {"firstname": "Ann", "email": "ann@x.example"}, sources.API).id
        crm.assoc.add(("contacts", ann), ("companies", company), source=sources.API)
        crm.registry.create_label("contacts", "companies", "Boss")
    raw = sqlite3.connect(db_path)
    raw.execute("UPDATE property_def SET label = ? || label, description = ? WHERE name IN ('firstname', 'email')",
                (OSC52, HOSTILE[1]))
    raw.execute("UPDATE object_type SET label = label || ?, plural_label = plural_label || ?", (HOSTILE[2], HOSTILE[3]))
    raw.execute("UPDATE pipeline SET label = label || ?", (OSC52,))
    raw.execute("UPDATE stage SET label = label || ?", (HOSTILE[1],))
    raw.execute("UPDATE label_def SET name = name || ?", (HOSTILE[4],))
    raw.commit()
    raw.close()


def test_every_cli_listing_prints_metadata_cleaned(cli, db_path):
    _inject_hostile_metadata(db_path)
    for args in (("schema",), ("pipelines",), ("labels",), ("record", "get", "contacts", "1"), ("list", "contacts"),
                 ("assoc", "list", "contacts:1"), ("history", "contacts", "1")):
        out = cli(*args)
        assert_terminal_safe(out)
        out = cli(*args, "--json")
        assert_terminal_safe(out)
        json.loads(out)  # still valid JSON: the characters are escaped, not lost
    assert "Boss\\u001b[31m" in cli("labels", "--json")  # JSON keeps the data, escaped


async def test_a_hostile_property_label_reaches_no_screen(db_path):
    from crm_tui.shell.app import CrmApp
    from tests.test_injection import shows

    _inject_hostile_metadata(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(140, 40)) as pilot:
        app.open_record("contacts", 1)
        seen = await shows(pilot, app, "Ann", "First name")
        assert "\x1b" not in seen and "52;c;" not in seen and "\x9b" not in seen
        meta = app.crm.registry.get("contacts")
        assert meta.properties["firstname"].label == "First name"  # cleaned as the registry reads it


def test_json_output_escapes_c1_and_bidi_controls():
    from crm_tui.domain.sanitize import json_text

    text = json.dumps({"n": "a\x9b31m\u202eb\x7f"}, ensure_ascii=False)
    safe = json_text(text)
    assert json.loads(safe) == {"n": "a\x9b31m\u202eb\x7f"}
    assert_terminal_safe(safe)
    assert "\u202e" not in safe and "\x7f" not in safe


def test_invalid_utf8_in_metadata_breaks_no_command_and_doctor_repairs_it(cli, populated, db_path):
    raw = sqlite3.connect(db_path)
    raw.execute("UPDATE property_def SET label = CAST(X'4669727374FF6E616D65' AS TEXT) WHERE name = 'firstname'")
    raw.execute("UPDATE pipeline SET label = CAST(X'53616C6573FE' AS TEXT)")
    raw.commit()
    raw.close()
    assert "Ann" in cli("list", "contacts")
    assert "First\ufffdname" in cli("schema")
    cli("pipelines")
    assert "not valid UTF-8" in cli("doctor", code=1)
    assert "replaced the bytes that are not UTF-8" in cli("doctor", "--repair")
    assert "healthy" in cli("doctor")


def test_invalid_utf8_in_a_record_value_is_one_line_and_doctor_repairs_it(cli, populated, db_path):
    raw = sqlite3.connect(db_path)
    raw.execute("UPDATE obj_contacts SET firstname = CAST(X'416EFF' AS TEXT) WHERE id = 1")
    raw.commit()
    raw.close()
    one_line(cli("list", "contacts", code=2), "not valid UTF-8")
    assert "contacts 1, property firstname: text that is not valid UTF-8" in cli("doctor", code=1)
    assert "1 record value(s)" in cli("doctor", "--repair")
    assert "healthy" in cli("doctor")
    assert "An\ufffd" in cli("list", "contacts")
    assert any(h["property"] == "firstname" and h["source"] == "Job" for h in json.loads(cli("history", "contacts", "1", "--json")))


# -- arguments ---------------------------------------------------------------------------------

BIG = str(2**63)


@pytest.mark.parametrize("args,fragment", [
    (("record", "get", "contacts", BIG), "record ID"),
    (("record", "get", "contacts", "1" * 30), "too large"),
    (("record", "get", "contacts", "0"), "out of range"),
    (("record", "update", "contacts", "-1", "firstname=x"), "out of range"),
    (("record", "merge", "contacts", "1", BIG), "record ID"),
    (("history", "contacts", BIG), "record ID"),
    (("assoc", "list", f"contacts:{BIG}"), "record ID"),
    (("assoc", "add", "contacts:1", f"companies:{BIG}"), "record ID"),
    (("assoc", "remove", "contacts:1", "companies:2", "--new-primary", BIG), "record ID"),
    (("list", "contacts", "--limit", BIG), "limit"),
    (("list", "contacts", "--limit", "abc"), "not a whole number"),
    (("list", "contacts", "--limit", "0"), "out of range"),
    (("timeline", "contacts:1", "--limit", BIG), "limit"),
    (("import", "undo", BIG), "import ID"),
    (("seed", "--contacts", "1" * 20), "count"),
    (("seed", "--contacts", "-5"), "out of range"),
    (("seed", "--companies", "10000001"), "out of range"),
    (("labels", "create", "contacts", "companies", "X", "--limit", BIG), "label limit"),
    (("record", "update", "contacts", "1", f"hubspot_owner_id={'9' * 25}"), "no owner"),
    (("list", "contacts", "--filter", f"hubspot_owner_id={'9' * 25}"), "no owner"),
])
def test_out_of_range_numbers_are_one_line_exit_2(cli, populated, args, fragment):
    one_line(cli(*args, code=2), fragment)
    assert contact_names(populated) == ["Ann"]


def test_seed_counts_are_bounded_in_the_core_too(crm):
    from crm_tui.services.seed import MAX_COUNT, seed

    for bad in (-1, MAX_COUNT + 1, 10**20, "abc", float("inf")):
        with pytest.raises(InvalidValue):
            seed(crm, contacts=bad)
    assert crm.records.count("contacts", []) == 0


def test_arguments_that_are_not_utf8_are_one_line(cli, populated):
    undecodable = b"firstname=caf\xe9".decode("utf-8", "surrogateescape")
    one_line(cli("record", "create", "contacts", undecodable, code=2), "not valid UTF-8")
    one_line(cli("list", b"\xff".decode("utf-8", "surrogateescape"), code=2), "not valid UTF-8")
    assert contact_names(populated) == ["Ann"]


def test_output_into_a_closed_pipe_ends_quietly(populated, tmp_path):
    env = {**os.environ, "CRM_TUI_DB": str(populated)}
    with Crm.open(populated) as crm:
        from crm_tui.services.seed import seed

        seed(crm, contacts=2000, seed=3)
    command = [sys.executable, "-c", "import sys; from crm_tui.cli.main import main; sys.exit(main())",
               "list", "contacts", "--limit", "2000"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.readline()
    proc.stdout.close()  # `| head -1`
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert err == "" and proc.returncode == 141


SCHEMA_ATTACKS = [
    (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), "binary file"),
    (b"objects: [\xe9]\n", "not UTF-8"),
    (b"pipelines:\n  - {object: deals, name: default, position: .inf}\n", "position must be a whole number"),
    (b"pipelines:\n  - {object: deals, name: default, position: -3}\n", "position must be between"),
    (b"labels:\n  - {from: contacts, to: companies, name: Boss, limit: abc}\n", "limit must be a whole number"),
    (b"limits:\n  - {from: contacts, to: deals, limit: .nan}\n", "must be a whole number"),
    (b"limits:\n  - {from: contacts, to: deals, limit: 99999999999999999999999}\n", "must be between"),
    (("properties:\n  contacts:\n" + "".join(f"    - {{name: p{i}, type: text}}\n" for i in range(2500))).encode(),
     "too many properties"),
    (("objects:\n  - name: wide\n    properties:\n" + "".join(f"      - {{name: p{i}}}\n" for i in range(600))).encode(),
     "too many properties"),
    (b"objects: " + b"[" * 3000 + b"]" * 3000 + b"\n", "nested too deeply"),
    # an alias bomb: 10,000 nested items that a plain repr() would print into the message
    (b"labels: [[&a [x, x, x, x, x, x, x, x, x, x], &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a], "
     b"&c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b], [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]]]\n", "each label needs"),
]


@pytest.mark.parametrize("content,fragment", SCHEMA_ATTACKS)
def test_hostile_schema_files_are_one_line_and_change_nothing(cli, populated, tmp_path, content, fragment):
    before = cli("schema", "--json")
    path = tmp_path / "attack.yaml"
    path.write_bytes(content)
    err = cli("schema", "apply", str(path), code=2)
    one_line(err, fragment)
    assert len(err) < 400  # one short line, whatever the file holds
    assert cli("schema", "--json") == before


# -- values ------------------------------------------------------------------------------------

def test_numbers_beyond_float_precision_are_refused_not_rounded(crm):
    for text in ("12345678901234567890", "9007199254740993", "3.14159265358979323846", "1e999", "1e-400"):
        with pytest.raises(InvalidValue, match="amount"):
            crm.records.create("deals", {"dealname": "X", "amount": text}, sources.API)
    for text, stored in (("9007199254740992", 9007199254740992.0), ("0.1", 0.1), ("123456789012345", 123456789012345.0),
                         ("1.50000000000000000000", 1.5), ("$1,234.56", 1234.56)):
        rid = crm.records.create("deals", {"dealname": text, "amount": text}, sources.API).id
        assert crm.records.get("deals", rid).properties["amount"] == stored
    assert crm.records.count("deals", []) == 5


def test_a_name_made_only_of_escape_sequences_is_refused(crm):
    for text in (OSC52, "\x1b[2J\x1b[H", "\x07\x00\x7f"):
        with pytest.raises(InvalidValue, match="empty after removing control characters"):
            crm.records.create("companies", {"name": text}, sources.API)
        with pytest.raises(InvalidValue, match="firstname.*empty after removing control characters"):
            crm.records.create("contacts", {"firstname": text, "lastname": "Doe"}, sources.API)
    assert crm.records.count("contacts", []) == 0
    assert crm.records.count("companies", []) == 0


def test_zero_width_and_bidi_characters_make_no_lookalike_keys(crm):
    acme = crm.records.create("companies", {"name": "Acme", "domain": "acme.com"}, sources.API)
    again = crm.records.create("companies", {"name": "Acme 2", "domain": "ac\u200bme.com"}, sources.API)
    assert again.id == acme.id and not again.created
    ann = crm.records.create("contacts", {"firstname": "Ann", "email": "ann@acme.com"}, sources.API)
    twin = crm.records.create("contacts", {"firstname": "Ann", "email": "an\u200dn@acme\ufeff.com\u202e"}, sources.API)
    assert twin.id == ann.id
    assert crm.records.get("contacts", ann.id).properties["email"] == "ann@acme.com"


def test_refusing_a_newer_wal_database_leaves_the_folder_as_it_was(tmp_path):
    folder = tmp_path / "dbs"
    folder.mkdir()
    path = folder / "newer.db"
    with Crm.open(path) as crm:
        crm.records.create("contacts", {"firstname": "Zed"}, sources.API)
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.commit()
    raw.close()
    foreign = folder / "foreign.db"
    raw = sqlite3.connect(foreign)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("CREATE TABLE t (x)")
    raw.commit()
    raw.close()
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(before) == ["foreign.db", "newer.db"]
    for target, fragment in ((path, "newer crm-tui"), (foreign, "not a crm-tui database")):
        with pytest.raises(CrmError, match=fragment):
            Crm.open(target)
        assert main(["--db", str(target), "list", "contacts"]) == 2
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


async def test_the_app_asks_before_replacing_an_export_and_refuses_the_database(db_path, tmp_path):
    from textual.widgets import Input

    from crm_tui.shell.app import CrmApp
    from screens.index_modals import TextPromptModal
    from screens.modals import ConfirmModal

    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"firstname": "Ann"}, sources.API)
    target = tmp_path / "old.csv"
    target.write_text("precious")
    app = CrmApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        async def export_to(path) -> None:
            await pilot.pause(0.3)
            await pilot.press("E")
            for _ in range(30):
                await pilot.pause(0.1)
                if isinstance(app.screen, TextPromptModal):
                    break
            app.screen.query_one(Input).value = str(path)
            await pilot.press("enter")
            await pilot.pause(0.3)

        await export_to(target)
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await pilot.pause(0.3)
        assert target.read_text() == "precious"
        await export_to(target)
        await pilot.press("y")
        for _ in range(50):
            await pilot.pause(0.1)
            if "Ann" in target.read_text(encoding="utf-8-sig"):
                break
        assert "Ann" in target.read_text(encoding="utf-8-sig")
        await export_to(db_path)  # the database itself: refused with a notice, whatever is answered
        if isinstance(app.screen, ConfirmModal):
            await pilot.press("y")
        await pilot.pause(0.5)
        assert app.is_running
    assert contact_names(db_path) == ["Ann"]


# -- review of the merged main: imports that are still running, and imports of a folder --------

def _write_contacts(path: Path, n: int) -> None:
    path.write_text("First Name,Email\n" + "".join(f"P{i},p{i}@run.example\n" for i in range(n)))


def _other_program(db_path, *args) -> subprocess.CompletedProcess:
    """Another crm-tui process on the same file (while this one runs an import)."""
    return subprocess.run([sys.executable, "-m", "crm_tui.cli.main", "--db", str(db_path), *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)


def test_an_import_still_running_cannot_be_undone_under_it(db_path, tmp_path):
    """`crm-tui import undo ID` (and `crm-tui undo ID`) of an import whose process is still running
    is refused: undoing it then deleted the batches so far while later batches kept coming in."""
    from crm_tui.importing.importer import plan_import, run_import
    from crm_tui.importing.undo import undo_import

    csv_path = tmp_path / "contacts.csv"
    _write_contacts(csv_path, 3000)
    refusals = []
    with Crm.open(db_path) as crm:
        spec = plan_import(crm, str(csv_path), ["contacts"])
        spec.batch_size = 500

        def during(progress):  # between two batches, another program tries the undo
            if refusals or progress.rows_done < 1000:
                return
            import_id = crm.db.execute_sql("SELECT MAX(id) FROM operation WHERE kind = 'import'").fetchone()[0]
            for args in (["import", "undo", str(import_id), "--yes"], ["undo", str(import_id), "--yes"]):
                done = _other_program(db_path, *args)
                refusals.append((done.returncode, done.stderr))

        result = run_import(crm, spec, progress=during)
    assert [code for code, _err in refusals] == [2, 2], refusals
    assert all("still running" in err for _code, err in refusals), refusals
    assert result.counts()["created"] == 3000
    with Crm.open(db_path) as crm:
        assert crm.records.count("contacts", []) == 3000  # nothing was taken away under the import
        undo_import(crm, result.import_id)  # finished: now it can be undone
        assert crm.records.count("contacts", []) == 0


def test_a_folder_import_is_running_with_its_counts_and_a_stop_names_the_import_to_undo(db_path, tmp_path):
    """An import of a folder (or a zip, or a HubSpot export) named no process, so `imports` called it
    interrupted while it ran, its record said 0 created until the end (and for good when it was
    killed or failed), and a stop part-way named the file's operation, which `import undo` rejects."""
    from crm_tui.domain.errors import DatabaseProblem
    from crm_tui.importing import bundle
    from crm_tui.importing.undo import list_imports, undo_import

    folder = tmp_path / "export"
    folder.mkdir()
    _write_contacts(folder / "contacts.csv", 4000)
    seen = []
    with Crm.open(db_path) as crm:
        crm.records.create("contacts", {"email": "before@example.org"})
        pages = crm.db.execute_sql("PRAGMA page_count").fetchone()[0]
    with Crm.open(db_path) as crm:
        crm.db.execute_sql(f"PRAGMA max_page_count = {pages + 200}")  # a full disk after a few batches
        plan = bundle.plan_path(crm, str(folder))
        for spec in plan.specs:
            spec.batch_size = 500

        def during(progress):
            if not seen and progress.rows_done >= 500:
                seen.append(json.loads(_other_program(db_path, "--json", "imports").stdout)[0])

        with pytest.raises(DatabaseProblem) as info:
            bundle.run_plan(crm, plan, progress=during)
    assert seen and seen[0]["status"] == "running" and seen[0]["counts"]["created"] >= 500, seen
    with Crm.open(db_path) as crm:
        info_after = list_imports(crm)[0]
        kept = crm.records.count("contacts", []) - 1
        assert 0 < kept < 4000
        assert info_after.counts["created"] == kept, (info_after, kept)
        assert f"import undo {info_after.id}`" in str(info.value), str(info.value)
        undo_import(crm, info_after.id)
        assert crm.records.count("contacts", []) == 1


def test_serve_port_out_of_range_is_one_line_before_anything_is_served(cli, capsys):
    """`serve --port 99999` printed "serving on ... :99999" and then blamed the database ("a number
    is too large for the database")."""
    err = cli("serve", "--port", "99999", code=2)
    one_line(err, "port 99999 is out of range")
    assert "serving" not in err


def test_operations_and_undo_json_escape_what_a_terminal_would_run(populated, cli):
    """`operations --json` and `undo --json` printed json.dumps raw: a C1 control or a bidi override
    in a name (a file written by an older version or another program) reached the terminal."""
    with sqlite3.connect(populated) as conn:
        conn.execute("UPDATE obj_contacts SET firstname = ? WHERE email = 'ann@acme.example'", ("Ann\x9b2J\u202eevil",))
    out = cli("--json", "operations")
    assert "Ann" in out and json.loads(out)
    assert "\x9b" not in out and "\u202e" not in out, out
    out = cli("--json", "undo", "--yes")
    assert json.loads(out) and "\x9b" not in out and "\u202e" not in out, out


async def test_undo_toast_shows_a_name_from_the_file_without_its_escape_sequences(db_path):
    """The undo toast ("Undid updated <name>: ...") put the record's name on screen raw: a name with
    an OSC 8 hyperlink or an OSC 52 clipboard write (a file written by another program or an older
    version) reached the terminal. Every toast now goes through the one cleaning function."""
    from crm_tui.shell.app import CrmApp

    with Crm.open(db_path) as crm:
        ann = crm.records.create("contacts", {"firstname": "Ann", "email": "ann@example.org"}, sources.USER).id
        crm.records.update("contacts", ann, {"jobtitle": "Roaster"}, sources.USER)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE obj_contacts SET lastname = ? WHERE id = ?", ("L\x1b]8;;http://evil.example\x1b\\ee" + OSC52, ann))
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(3):
            await pilot.pause()
        await pilot.press("u")
        for _ in range(3):
            await pilot.pause()
        assert app.crm.records.get("contacts", ann).properties["jobtitle"] is None
        messages = [n.message for n in list(app._notifications)]
        assert any("Ann" in m and "Lee" in m for m in messages), messages
        for message in messages:
            assert_terminal_safe(message)
        app.notify("plain \x1b[2Jtext", title="T\x9b2J")
        await pilot.pause()
        shown = [(n.message, n.title) for n in list(app._notifications)]
        assert ("plain text", "T") in shown, shown


async def test_the_existing_record_modal_shows_names_and_values_without_escape_sequences(db_path):
    """The "already exists" modal (and its diff of what an update would change) printed the record's
    name, labels and old values raw."""
    from textual.widgets import Static

    from crm_tui.shell.app import CrmApp
    from screens.modals import ExistingRecordModal

    with Crm.open(db_path) as crm:
        ann = crm.records.create("contacts", {"firstname": "Ann", "email": "ann@example.org",
                                              "jobtitle": "Roaster"}, sources.USER).id
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE obj_contacts SET firstname = ?, jobtitle = ? WHERE id = ?",
                     ("An\x1b]8;;http://evil.example\x1b\\n", "Roa" + OSC52 + "ster", ann))
        conn.execute("UPDATE property_def SET label = ? WHERE name = 'jobtitle'", ("Job\x1b[2J title",))
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(ExistingRecordModal(app.crm, "contacts", ann, {"jobtitle": "Taster"}))
        for _ in range(3):
            await pilot.pause()
        shown = "\n".join(str(w.render()) for w in app.screen.query(Static))
        assert "Ann" in shown and "Job title: Roaster → Taster" in shown, shown
        assert_terminal_safe(shown)


def test_a_folder_import_leaves_out_pipes_broken_links_and_the_database_itself(db_path, tmp_path):
    """Symbolic links and special files inside a folder import: a pipe named contacts.csv would hang
    the import, a looping or dangling link was reported as "no such file", and a link to the live
    database was read as a CSV of binary rows. Each is left out with one line naming it."""
    from crm_tui.importing import bundle

    folder = tmp_path / "export"
    folder.mkdir()
    _write_contacts(folder / "contacts.csv", 3)
    os.mkfifo(folder / "pipe.csv")
    os.symlink("loop.csv", folder / "loop.csv")
    os.symlink(str(db_path), folder / "crm.csv")
    os.symlink(str(folder / "contacts.csv"), folder / "again.csv")  # a link to a regular file is read
    with Crm.open(db_path) as crm:
        plan = bundle.plan_path(crm, str(folder))
        try:
            names = sorted(f.name for f in plan.files)
            problems = "\n".join(plan.problems)
        finally:
            plan.close()
    assert names == ["again.csv", "contacts.csv"], (names, problems)
    assert "pipe.csv: not a regular file" in problems and "loop.csv: not a regular file" in problems, problems
    assert "crm.csv: leads to the database itself" in problems, problems


def test_a_zip_that_would_fill_the_disk_is_refused_before_anything_is_unpacked(db_path, tmp_path, monkeypatch):
    """A zip bomb below the 4 GiB limit (a few MB of zip, gigabytes of zeros) filled the temporary
    folder's disk, often the database's too. What its CSVs unpack to must fit, with room to spare;
    the free space is what the system reports (here made small so the test stays small)."""
    import shutil
    import tempfile
    import zipfile

    from crm_tui.importing import bundle, importer

    bomb = tmp_path / "export.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("contacts.csv", "Email\n" + "a" * (8 << 20))
    real = shutil.disk_usage
    monkeypatch.setattr(bundle.shutil, "disk_usage",
                        lambda p: real(p)._replace(free=bundle.ZIP_SPARE_BYTES + (4 << 20)))
    before = set(os.listdir(tempfile.gettempdir()))
    with Crm.open(db_path) as crm:
        with pytest.raises(importer.ImportError_) as info:
            bundle.plan_path(crm, str(bomb))
    message = str(info.value)
    assert "unpacks to 8 MiB, and" in message and "has 516 MiB free (unpacking keeps 512 MiB free)" in message and "\n" not in message, message
    assert not [n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("crm-tui-import-")]


async def test_u_in_the_app_asks_before_undoing_an_import(db_path, tmp_path):
    """One `u` (or ctrl+z) in the app, or enter on the operations screen, undid a whole import when
    it was the newest change: the records it created deleted for good, and the toast offered a redo
    that is refused. An import is asked about first (as `crm-tui import undo` asks at a terminal),
    with the file's name cleaned; n keeps everything, y undoes it."""
    from crm_tui.shell.app import CrmApp
    from crm_tui.importing.importer import plan_import, run_import
    from screens.modals import ConfirmModal
    from screens.operations import OperationsScreen

    csv_path = tmp_path / "new\x1b[2Jpeople.csv"
    _write_contacts(csv_path, 3)
    with Crm.open(db_path) as crm:
        run_import(crm, plan_import(crm, str(csv_path), ["contacts"]))
    app = CrmApp(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(3):
            await pilot.pause()
        for keys in (["u"], ["ctrl+o", "enter"]):
            await pilot.press(*keys)
            for _ in range(3):
                await pilot.pause()
            assert isinstance(app.screen, ConfirmModal), app.screen
            assert "newpeople.csv" in app.screen.question and "\x1b" not in app.screen.question
            await pilot.press("n")
            for _ in range(3):
                await pilot.pause()
            assert app.crm.records.count("contacts", []) == 3
            if isinstance(app.screen, OperationsScreen):
                await pilot.press("escape")
                await pilot.pause()
        await pilot.press("u")
        for _ in range(3):
            await pilot.pause()
        await pilot.press("y")
        for _ in range(5):
            await pilot.pause()
        assert app.crm.records.count("contacts", []) == 0


def test_a_folder_import_refused_for_its_error_folder_writes_nothing(cli, db_path, tmp_path):
    """`crm-tui import FOLDER --error-dir FILE` said one line and exit 2, but left a "failed" import
    with 0 rows in `imports` and the journal: the error folder was checked after the import's record
    was written."""
    folder = tmp_path / "export"
    folder.mkdir()
    _write_contacts(folder / "contacts.csv", 3)
    not_a_folder = tmp_path / "errors.txt"
    not_a_folder.write_text("x")
    err = cli("import", str(folder), "--error-dir", str(not_a_folder), code=2)
    one_line(err, "is a file, not a folder for error files")
    assert "no imports yet" in cli("imports")
    with Crm.open(db_path) as crm:
        assert crm.db.execute_sql("SELECT COUNT(*) FROM operation").fetchone()[0] == 0


def test_importing_the_live_database_itself_is_refused(cli, populated, tmp_path):
    """`crm-tui import crm.db` (or a link to it) read the database's binary pages as a Latin-1 CSV:
    hundreds of junk contacts and properties named after binary 'headers'."""
    link = tmp_path / "people.csv"
    os.symlink(populated, link)
    for path in (populated, link):
        err = cli("import", str(path), code=2)
        one_line(err, "that is the database itself")
    assert contact_names(populated) == ["Ann"]


def test_a_name_made_only_of_invisible_characters_is_refused_like_an_empty_one(cli, db_path):
    """The sibling of a name made only of escape sequences: one made only of zero-width spaces (or
    other invisible format characters) was stored, an invisible required name. Refused in one line;
    a name with a zero-width joiner between visible letters is kept as typed."""
    err = cli("record", "create", "companies", "name=\u200b\u200b\ufeff", "domain=zw.example", code=2)
    one_line(err, "has no visible characters")
    out = cli("record", "create", "companies", "name=A\u200dB", "domain=zwj.example")
    with Crm.open(db_path) as crm:
        assert crm.records.get("companies", int(out.split()[0])).properties["name"] == "A\u200dB"
        assert crm.records.count("companies", []) == 1


def test_a_database_path_that_is_a_pipe_or_device_is_one_line(tmp_path):
    """`--db /dev/null` ended in a traceback after SQLite had created /dev/null-journal; a pipe as
    the database hung the command reading its header. Both are refused in one line, and nothing is
    created beside them."""
    pipe = tmp_path / "crm.db"
    os.mkfifo(pipe)
    done = subprocess.run([sys.executable, "-m", "crm_tui.cli.main", "--db", str(pipe), "list", "contacts"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
    assert done.returncode == 2, done
    one_line(done.stderr, "is not a regular file")
    assert sorted(os.listdir(tmp_path)) == ["crm.db"]
