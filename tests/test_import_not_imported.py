"""An import says what it could not take, by name: the summary names, per column, the most
frequent values left out, how many rows each and why (a deal stage that is no stage: the deals got
the pipeline's first one); and a file whose guessed object would get only nameless records
("Contact #1", Maven's products.csv) is refused in one line before anything is written, on the
command line and in the import wizard. The shared real files are read only when present."""

from __future__ import annotations

import csv
import glob
import json
import os

import pytest

from crm_tui.cli import main as cli
from crm_tui.services.core import Crm
from crm_tui.importing import importer

from .conftest import SHARED_DATA, needs_shared_data

HEAD = ["opportunity_id", "sales_agent", "product", "account", "deal_stage", "engage_date", "close_date",
        "close_value"]  # Maven's sales_pipeline.csv


def pipeline_rows() -> list[list[str]]:
    rows = [HEAD]
    stages = ["Engaging"] * 6 + ["Prospecting"] * 3 + ["Won", "Lost", "Won"]
    for i, stage in enumerate(stages):
        rows.append([f"OPP{i:04d}", "Anna Snelling", "GTX Basic", "", stage, "2017-10-30", "", str(100 * i)])
    return rows


def write(path, rows) -> str:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return str(path)


PRODUCTS = [["product", "series", "sales_price"], ["GTX Basic", "GTX", "550"], ["GTX Pro", "GTX", "4821"],
            ["MG Special", "MG", "55"]]


def run(crm, path, tmp_path, objects=None, dry_run=False):
    spec = importer.plan_import(crm, path, objects)
    spec.error_dir = str(tmp_path)
    return importer.run_import(crm, spec, dry_run=dry_run)


def test_the_summary_names_the_stages_that_are_no_stage_and_what_the_deals_got(crm, tmp_path):
    path = write(tmp_path / "sales_pipeline.csv", pipeline_rows())
    result = run(crm, path, tmp_path)
    assert result.created == {"deals": 12} and result.skipped_cells == 9
    line = ("deal_stage: 'Engaging' (6 rows), 'Prospecting' (3) are not stages of Sales pipeline; those deals got "
            "its first stage (Appointment scheduled)")
    assert len(result.not_imported) == 1 and result.not_imported[0].startswith(line)
    assert "Pipelines screen" in result.not_imported[0]
    lines = result.summary_lines()
    assert lines[1] == "not imported: " + result.not_imported[0]  # right under the counts
    stages = dict(crm.db.execute_sql("SELECT dealstage, count(*) FROM obj_deals GROUP BY dealstage").fetchall())
    assert stages == {"appointmentscheduled": 9, "closedwon": 2, "closedlost": 1}
    # a second run changes no deal: the summary says they kept their stage
    again = run(crm, path, tmp_path, dry_run=True)
    assert again.created == {} and again.not_imported[0].startswith(
        "deal_stage: 'Engaging' (6 rows), 'Prospecting' (3) are not stages of Sales pipeline; those deals kept theirs")


def test_a_column_of_many_bad_values_names_the_three_most_frequent_and_counts_the_rest(crm, tmp_path):
    rows = [["First Name", "Email", "Birthday"]]
    bad = ["nope"] * 4 + ["x"] * 3 + ["bad@"] * 2 + ["y", "z"]
    for i, email in enumerate(bad):
        rows.append([f"P{i}", email, "soon" if i == 0 else "1990-01-02"])
    result = run(crm, write(tmp_path / "people.csv", rows), tmp_path)
    assert result.created == {"contacts": 11} and result.skipped_cells == 12
    email, birthday = result.not_imported
    assert email.startswith("Email: 'nope' (4 rows), 'x' (3), 'bad@' (2) and 2 more (e.g. 'nope' is not an email")
    assert birthday.startswith("Birthday: 'soon' (1 row) ('soon' is not a date")


def test_the_command_line_prints_and_returns_the_lines(db_path, tmp_path, capsys):
    path = write(tmp_path / "sales_pipeline.csv", pipeline_rows())
    assert cli.main(["--db", str(db_path), "import", path, "--error-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "not imported: deal_stage: 'Engaging' (6 rows), 'Prospecting' (3) are not stages of Sales pipeline" in out
    assert cli.main(["--db", str(db_path), "--json", "import", path, "--error-dir", str(tmp_path), "--dry-run"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["not_imported"][0].startswith("deal_stage: 'Engaging' (6 rows)")


def test_a_file_that_names_nobody_is_refused_before_anything_is_written(db_path, tmp_path, capsys):
    path = write(tmp_path / "products.csv", PRODUCTS)
    assert cli.main(["--db", str(db_path), "import", path, "--error-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"crm-tui: error: {path}: nothing in it names a contact (no name or email column); choose the "
                   "object with --object NAME, or create one (crm-tui schema apply)"]
    with Crm.open(db_path, user_name="tester") as crm:
        assert crm.records.count("contacts") == 0
        assert "product" not in crm.registry.get("contacts").properties  # no property made either
        assert crm.db.execute_sql("SELECT count(*) FROM operation WHERE kind = 'import'").fetchone()[0] == 0
    # the dry run says the same; an object chosen by hand is imported as asked
    assert cli.main(["--db", str(db_path), "import", path, "--dry-run", "--error-dir", str(tmp_path)]) == 2
    capsys.readouterr()
    assert cli.main(["--db", str(db_path), "import", path, "--object", "contacts", "--error-dir", str(tmp_path)]) == 0
    assert "3 created" in capsys.readouterr().out


def test_a_file_with_a_name_or_an_id_is_not_refused(crm, tmp_path):
    named = write(tmp_path / "people.csv", [["product", "email"], ["GTX", "ann@example.com"]])
    assert run(crm, named, tmp_path).created == {"contacts": 1}
    companies = write(tmp_path / "orgs.csv", [["Company name", "Industry"], ["Acme", "Retail"]])
    assert run(crm, companies, tmp_path).created == {"companies": 1}
    by_id = write(tmp_path / "update.csv", [["Record ID", "favourite"], ["1", "tea"]])
    assert run(crm, by_id, tmp_path).updated == {"contacts": 1}
    nameless = write(tmp_path / "companies.csv", [["Industry", "City"], ["Retail", "Oslo"]])
    with pytest.raises(importer.ImportError_, match="nothing in it names a "):
        run(crm, nameless, tmp_path)


async def test_the_wizard_refuses_a_file_that_names_nobody_and_shows_what_was_not_imported(db_path, tmp_path):
    from textual.widgets import Input, Static

    from crm_tui.shell.app import CrmApp
    from screens.import_wizard import ImportWizardScreen

    products = write(tmp_path / "products.csv", PRODUCTS)
    pipeline = write(tmp_path / "sales_pipeline.csv", pipeline_rows())
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(ImportWizardScreen())
        await pilot.pause(0.2)
        screen = app.screen
        screen.query_one("#path", Input).value = products
        screen.query_one("#path", Input).focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        info = str(screen.query_one("#info", Static).render())
        assert "nothing in it names a contact (no name or email column)" in info
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        result = str(screen.query_one("#result", Static).render())
        assert "nothing in it names a contact" in result and "Importing" not in result
        assert app.crm.records.count("contacts") == 0
        assert "product" not in app.crm.registry.get("contacts").properties
        screen.query_one("#path", Input).value = pipeline
        screen.query_one("#path", Input).focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        result = str(screen.query_one("#result", Static).render()).replace("\n", " ")
        assert "12 created" in result
        assert "not imported: deal_stage: 'Engaging' (6 rows), 'Prospecting' (3) are not stages" in result
        assert app.crm.records.count("deals") == 12


# -- the shared real files (skipped when ../shared/data is absent)

def test_maven_sales_pipeline_names_engaging_and_prospecting(crm, tmp_path):
    accounts = needs_shared_data("maven-crm", "accounts.csv")
    pipeline = needs_shared_data("maven-crm", "sales_pipeline.csv")
    run(crm, str(accounts), tmp_path)
    result = run(crm, str(pipeline), tmp_path)
    assert result.skipped_cells == 2089 and result.failed == 0
    assert result.not_imported == [
        "deal_stage: 'Engaging' (1,589 rows), 'Prospecting' (500) are not stages of Sales pipeline; those deals "
        "got its first stage (Appointment scheduled) (to keep them: add them as stages on the Pipelines screen, "
        "then import again)"]


def test_maven_products_is_refused_and_the_other_maven_files_are_not(crm, tmp_path):
    products = needs_shared_data("maven-crm", "products.csv")
    with pytest.raises(importer.ImportError_, match="products.csv: nothing in it names a contact"):
        run(crm, str(products), tmp_path)
    for name, obj in (("accounts.csv", "companies"), ("sales_teams.csv", "contacts"), ("sales_pipeline.csv", "deals")):
        result = run(crm, str(needs_shared_data("maven-crm", name)), tmp_path)
        assert result.created.get(obj), name


def _shared_files() -> list[str]:
    found = []
    for folder in ("real-exports", "vcards", "csv-spectrum"):
        found += glob.glob(str(SHARED_DATA / folder / "**" / "*"), recursive=True)
    return sorted(f for f in found if os.path.isfile(f) and f.endswith((".csv", ".vcf")))


@pytest.mark.parametrize("path", _shared_files() or ["(absent)"], ids=os.path.basename)
def test_a_shared_file_is_refused_only_when_it_would_make_nameless_records_only(path, tmp_path):
    """Each file, into a fresh database: imported as before when its records have a name (or some
    of them do); refused when none would (csv-spectrum's a,b,c tables: nameless contacts before)."""
    if not os.path.isfile(path):
        pytest.skip("../shared/data is absent")
    with Crm.open(tmp_path / "crm.db", user_name="tester") as crm:
        spec = importer.plan_import(crm, path)
        problem = importer.nameless(crm, spec)
        spec.guessed = False  # what the import made before this check: the records, to look at their names
        spec.error_dir = str(tmp_path)
        importer.run_import(crm, spec)
        meta = crm.registry.get(spec.objects[0])
        rows = list(meta.model.select().dicts())
        named = [r for r in rows if meta.display_name(r) and not meta.display_name(r).startswith(f"{meta.label} #")]
        assert rows
        if problem is None:
            assert named, f"{path}: imported, but every record is nameless"
        else:
            assert not named, f"{path}: refused, but it names its records"


def test_a_folder_import_names_them_per_file(crm, tmp_path):
    from crm_tui.importing import bundle

    folder = tmp_path / "export"
    folder.mkdir()
    write(folder / "people.csv", [["First Name", "Email"], ["Ann", "nope"], ["Bob", "nope"], ["Cy", "cy@x.org"]])
    write(folder / "orgs.csv", [["Company name", "Company Domain Name"], ["Acme", "acme.com"]])
    plan = bundle.plan_path(crm, folder)
    result = bundle.run_plan(crm, plan)
    lines = result.summary_lines()
    assert any(line.startswith("    not imported: Email: 'nope' (2 rows) ('nope' is not an email") for line in lines), lines
