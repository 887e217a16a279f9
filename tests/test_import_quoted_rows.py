"""Rows an exporter wrote as one quoted field come in whole (single file, folder, the wizard's
preview); an empty file and a file with only a header are refused in one line, writing nothing."""

from __future__ import annotations

import json

from crm_tui.cli import main as cli
from crm_tui.services.core import Crm

from .conftest import needs_shared_data

QUOTED_WHOLE = "quoted whole (each row one quoted field); read as their columns"

CONNECTIONS = (  # LinkedIn's old header-less Connections.csv, some rows written as one quoted field
    "Ann,Lee,,Acme,CTO,11 Jun 2021\n"
    '"Bob,Roe,,""Café Roma, Maximilienstr. 33"",Waiter,02 Nov 2020"\n'
    '"Cy,""Poe, MBA"",,Initech, ""Lead Analyst, CIO Advisory"",06 Apr 2019"\n'
    "Di,Fox,di@fox.io,Globex,Owner,06 May 2021\n"
)


def import_json(db_path, path, capsys, *extra) -> tuple[int, dict, str]:
    code = cli.main(["--db", str(db_path), "import", str(path), "--json", "--error-dir", str(path.parent), *extra])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip().startswith("{") else {}), captured.err


def people(db_path) -> dict[str, dict]:
    with Crm.open(db_path) as crm:
        return {r["firstname"]: r for r in crm.records.list("contacts", limit=1000).rows}


def test_rows_quoted_whole_come_in_whole(db_path, tmp_path, capsys):
    path = tmp_path / "Connections.csv"
    path.write_text(CONNECTIONS, encoding="utf-8")
    code, out, _err = import_json(db_path, path, capsys)
    assert code == 0 and out["created"] == 4 and out["failed"] == 0
    assert "2 rows were " + QUOTED_WHOLE + "." in out["warnings"]
    got = people(db_path)
    assert sorted(got) == ["Ann", "Bob", "Cy", "Di"]
    assert (got["Bob"]["lastname"], got["Bob"]["company"], got["Bob"]["jobtitle"]) == (
        "Roe", "Café Roma, Maximilienstr. 33", "Waiter")
    assert (got["Cy"]["lastname"], got["Cy"]["company"], got["Cy"]["jobtitle"]) == (
        "Poe, MBA", "Initech", "Lead Analyst, CIO Advisory")
    assert got["Bob"]["connected_on"] == "2020-11-02"


def test_folder_import_reads_rows_quoted_whole(db_path, tmp_path, capsys):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "contacts.csv").write_text(
        'First Name,Last Name,Email,Company\nAnn,Lee,ann@acme.io,Acme\n"Bob,Roe,bob@roma.it,""Café Roma, Munich"""\n',
        encoding="utf-8")
    (folder / "tickets.csv").write_text("Ticket name,Status\n", encoding="utf-8")  # an object with no records
    (folder / "empty.csv").write_bytes(b"")
    code, out, _err = import_json(db_path, folder, capsys)
    assert code == 0 and out["created"] == 2
    assert any("1 row was quoted whole" in w for w in out["warnings"])
    assert "tickets.csv: only a header row, no records to import; left out" in out["warnings"]
    assert "empty.csv: the file is empty; left out" in out["warnings"]
    bob = people(db_path)["Bob"]
    assert (bob["lastname"], bob["email"], bob["company"]) == ("Roe", "bob@roma.it", "Café Roma, Munich")


def test_a_note_with_commas_is_not_split(db_path, tmp_path, capsys):
    path = tmp_path / "notes.csv"
    path.write_text('First Name,Last Name,Company\nAnn,Lee,Acme\n"Smith, John",,\n', encoding="utf-8")
    code, out, _err = import_json(db_path, path, capsys)
    assert code == 0 and not any("quoted whole" in w for w in out["warnings"])
    assert people(db_path)["Smith, John"]["lastname"] is None


def test_the_real_linkedin_export_comes_in_whole(db_path, capsys):
    path = needs_shared_data("real-exports", "MxKilian__LinkedInToContacts__Connections.csv")
    code = cli.main(["--db", str(db_path), "import", str(path), "--json", "--error-dir", str(db_path.parent)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["created"] == 18 and out["failed"] == 0
    assert "7 rows were " + QUOTED_WHOLE + "." in out["warnings"]
    with Crm.open(db_path) as crm:
        rows = crm.records.list("contacts", limit=1000).rows
    assert len(rows) == 18
    for row in rows:
        assert row["firstname"] and "," not in row["firstname"] and row["lastname"], row
        assert row["connected_on"], row
    assert sum(1 for row in rows if row["company"]) == 17  # one connection has no company in the file
    got = {r["firstname"]: r for r in rows}
    assert (got["Fqrgma"]["lastname"], got["Fqrgma"]["company"], got["Fqrgma"]["jobtitle"]) == (
        "Mpibtfy", "Café Roma, Maximilienstr. 33", "Servicekraft")
    assert got["Uugdu"]["jobtitle"] == "Digital Products & Technology, Working Student"
    assert got["Bpdxin"]["lastname"] == "Skdgpcihm, MBA"


def test_an_empty_file_is_refused_in_one_line(db_path, tmp_path, capsys):
    for name, content in (("empty.csv", b""), ("blank.csv", b"\r\n  \n"), ("empty.vcf", b"")):
        path = tmp_path / name
        path.write_bytes(content)
        assert cli.main(["--db", str(db_path), "import", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.endswith(f"{path}: the file is empty") and "\n" not in err


def test_a_file_with_only_a_header_is_refused_writing_nothing(db_path, tmp_path, capsys):
    path = tmp_path / "header.csv"
    path.write_text("First Name,Last Name,Email\r\n\r\n", encoding="utf-8")
    assert cli.main(["--db", str(db_path), "import", str(path)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.endswith(f"{path}: only a header row, no records to import") and "\n" not in err
    assert "undo with" not in captured.out
    assert cli.main(["--db", str(db_path), "imports", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) in ([], {"imports": []})
    with Crm.open(db_path) as crm:
        assert crm.records.count("contacts") == 0
        assert "shoe" not in crm.registry.get("contacts").properties


async def test_the_wizard_says_the_same_line(db_path, tmp_path):
    from textual.widgets import Input, Static

    from crm_tui.shell.app import CrmApp
    from screens.import_wizard import ImportWizardScreen

    header = tmp_path / "header.csv"
    header.write_text("First Name,Email\n", encoding="utf-8")
    quoted = tmp_path / "quoted.csv"
    quoted.write_text(CONNECTIONS, encoding="utf-8")
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(ImportWizardScreen())
        await pilot.pause()
        screen = app.screen
        screen.query_one("#path", Input).value = str(header)
        await pilot.press("enter")
        await pilot.pause()
        text = str(screen.query_one("#info", Static).render()).strip()
        assert text == f"{header}: only a header row, no records to import"
        await pilot.press("f5")  # nothing loaded: no crash, nothing written
        await pilot.pause()
        assert isinstance(app.screen, ImportWizardScreen) and app.crm.records.count("contacts") == 0
        screen.query_one("#path", Input).value = str(quoted)
        await pilot.press("enter")
        await pilot.pause()
        assert screen.spec is not None and "2 rows were " + QUOTED_WHOLE in "\n".join(screen.spec.warnings)
