"""Files with no column for what names their records come in whole, with no flags, and a second
run changes nothing (shaped like Maven's sales_pipeline.csv and sales_teams.csv); the columnar
path's RowValues behave as the dicts they stand for; empty cells are stored as NULL."""

from __future__ import annotations

import csv

import pytest

from crm_tui.domain import sources
from crm_tui.services.core import Crm
from crm_tui.importing import importer

PIPELINE = [
    ["opportunity_id", "sales_agent", "product", "account", "deal_stage", "engage_date", "close_date", "close_value"],
    ["1C1I7A6R", "Moses Frase", "GTX Plus Basic", "Cancity", "Won", "2016-10-20", "2017-03-01", "1054"],
    ["Z063OYW0", "Darcel Schlecht", "GTXPro", "Isdom", "Won", "2016-10-25", "2017-03-11", "4514"],
    ["EC4QE1BX", "Darcel Schlecht", "MG Special", "Cancity", "Lost", "2016-10-25", "2017-03-07", "0"],
    ["ZNBS69V1", "Anna Snelling", "MG Advanced", "", "Engaging", "2017-10-30", "", ""],
    ["9ZE4XTBB", "Anna Snelling", "GTX Basic", "Rangreen", "Prospecting", "", "", ""],
]
TEAMS = [
    ["sales_agent", "manager", "regional_office"],
    ["Anna Snelling", "Dustin Brinkmann", "Central"],
    ["Cecily Lampkin", "Dustin Brinkmann", "Central"],
    ["Mei-Mei Johns", "Melvin Marxen", "Central"],
    ["Violet Mclelland", "Cara Losch", "East"],
]


def _write(path, rows) -> str:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return str(path)


def _run(crm, path, tmp_path):
    spec = importer.plan_import(crm, path)
    spec.error_dir = str(tmp_path)
    return spec, importer.run_import(crm, spec)


def test_deals_without_a_name_column_are_named_after_their_id_and_a_second_run_changes_nothing(tmp_path):
    path = _write(tmp_path / "sales_pipeline.csv", PIPELINE)
    with Crm.open(tmp_path / "crm.db", user_name="tester") as crm:
        spec, first = _run(crm, path, tmp_path)
        preview = "\n".join(importer.describe_columns(crm, spec))
        assert "opportunity_id -> deals.dealname" in preview and "no Deal name column" in preview
        assert "opportunity_id -> deals.@id" in preview
        assert first.created == {"deals": 5} and first.failed == 0
        assert any("named after column 'opportunity_id'" in w for w in first.warnings)
        names = [r["dealname"] for r in crm.records.list("deals", limit=10).rows]
        assert sorted(names) == sorted(row[0] for row in PIPELINE[1:])
        stages = dict(crm.db.execute_sql("SELECT dealname, dealstage FROM obj_deals").fetchall())
        assert stages["1C1I7A6R"] == "closedwon" and stages["EC4QE1BX"] == "closedlost"  # 'Won', 'Lost'
        assert any("'Won' is no option; read as 'Closed won'" in w for w in first.warnings)
        assert first.skipped_cells == 2  # 'Engaging' and 'Prospecting' are no stage: reported, rows kept
        _spec, second = _run(crm, path, tmp_path)
        assert second.created == {} and second.updated == {} and second.unchanged == 5 and second.failed == 0
        assert crm.db.execute_sql("SELECT count(*) FROM obj_deals").fetchone()[0] == 5


def test_people_without_a_name_or_email_column_are_named_from_the_column_of_names(tmp_path):
    path = _write(tmp_path / "sales_teams.csv", TEAMS)
    with Crm.open(tmp_path / "crm.db", user_name="tester") as crm:
        spec, first = _run(crm, path, tmp_path)
        preview = "\n".join(importer.describe_columns(crm, spec))
        assert "sales_agent -> contacts.firstname" in preview and "sales_agent -> contacts.lastname" in preview
        assert first.created == {"contacts": 4} and first.failed == 0
        assert any("named after column 'sales_agent'" in w for w in first.warnings)
        rows = crm.records.list("contacts", limit=10).rows
        assert sorted((r["firstname"], r["lastname"]) for r in rows) == [
            ("Anna", "Snelling"), ("Cecily", "Lampkin"), ("Mei-Mei", "Johns"), ("Violet", "Mclelland")]
        assert "manager" in crm.registry.get("contacts").properties  # the other columns stay properties
        _spec, second = _run(crm, path, tmp_path)
        assert second.created == {} and second.unchanged == 4 and second.failed == 0
        assert crm.db.execute_sql("SELECT count(*) FROM obj_contacts").fetchone()[0] == 4


def test_a_column_of_one_word_values_or_of_repeated_values_names_nobody(tmp_path):
    """Departments or offices are no names: the contacts stay as the file has them."""
    path = _write(tmp_path / "offices.csv", [["department", "office"], ["Human Resources", "Central"],
                                             ["Human Resources", "East"]])
    with Crm.open(tmp_path / "crm.db", user_name="tester") as crm:
        spec = importer.plan_import(crm, path)
        assert not any(c.target in ("firstname", "lastname") for c in spec.columns)
        assert not spec.warnings


def test_row_values_read_as_the_dict_of_their_filled_cells():
    names = {"a": 0, "b": 1, "c": 2, "d": 3}
    values = importer.RowValues(names, ("x", "", None, 0.0))
    plain = {"a": "x", "d": 0.0}
    assert dict(values) == plain and len(values) == 2 and bool(values)
    assert values.get("b") is None and values.get("b", 7) == 7 and "b" not in values and "d" in values
    assert values["d"] == 0.0
    with pytest.raises(KeyError):
        values["c"]
    values["b"] = "set"
    values["e"] = None  # set to None: present, as in a dict
    plain.update(b="set", e=None)
    assert dict(values) == plain and len(values) == 4 and values.get("e", 1) is None
    del values["a"]
    del plain["a"]
    assert dict(values) == plain and "a" not in values
    assert values.pop("d") == 0.0 and values.setdefault("d", 5) == 5 and values["d"] == 5
    empty = importer.RowValues(names, ("", None, "", None))
    assert not empty and len(empty) == 0 and dict(empty) == {}


def test_empty_cells_of_a_bulk_insert_are_stored_as_null(tmp_path):
    with Crm.open(tmp_path / "crm.db", user_name="tester") as crm:
        meta = crm.registry.get("companies")
        with crm.operation("test", sources.API) as op:
            first, last = crm.records.bulk_insert(meta, ["name", "city"], [("Acme", ""), ("Beta", "Paris")], op,
                                                  blank_is_null=True)
        rows = crm.db.execute_sql('SELECT name, city, typeof(city) FROM obj_companies WHERE id BETWEEN ? AND ? '
                                  "ORDER BY id", (first, last)).fetchall()
        assert rows == [("Acme", None, "null"), ("Beta", "Paris", "text")]


def test_an_import_stores_its_empty_cells_as_null(tmp_path):
    path = _write(tmp_path / "people.csv", [["First Name", "Last Name", "Email", "City"],
                                            ["Ann", "", "ann@example.org", ""], ["Bo", "Lee", "bo@example.org", "Oslo"]])
    with Crm.open(tmp_path / "crm.db", user_name="tester") as crm:
        _spec, result = _run(crm, path, tmp_path)
        assert result.created == {"contacts": 2}
        assert crm.db.execute_sql("SELECT count(*) FROM obj_contacts WHERE lastname = '' OR city = ''").fetchone() == (0,)
        assert crm.db.execute_sql("SELECT count(*) FROM obj_contacts WHERE lastname IS NULL AND city IS NULL").fetchone() == (1,)


def test_one_list_of_null_words_for_every_import(tmp_path):
    """'#N/A' (Excel) reads as empty in any CSV as in a HubSpot export, and a dropdown option called
    'None' stays that option."""
    from crm_tui.importing import csvread, hubspot

    assert hubspot.is_null is csvread.is_null_word
    assert all(csvread.is_null_word(w) for w in ("null", "NULL", "(null)", "#N/A", "N/A", "None", "[not provided]"))
    path = _write(tmp_path / "people.csv", [["First Name", "Email", "Score"], ["Ann", "ann@example.org", "#N/A"],
                                            ["Bo", "bo@example.org", "12"]])
    with Crm.open(tmp_path / "crm.db", user_name="tester") as crm:
        crm.registry.add_property("contacts", {"name": "score", "label": "Score", "type": "number"})
        crm.registry.add_property("contacts", {"name": "tier", "label": "Tier", "type": "select",
                                               "options": [{"name": "none", "label": "None"}, {"name": "gold", "label": "Gold"}]})
        _spec, result = _run(crm, path, tmp_path)
        assert result.created == {"contacts": 2} and result.skipped_cells == 0
        meta = crm.registry.get("contacts")
        convert = hubspot.typed_converter(crm.records.column_coercer(meta, meta.properties["tier"]), meta.properties["tier"])
        assert convert("None") == "none" and convert("N/A") is None


def test_new_properties_are_said_in_the_same_words_by_every_import(tmp_path):
    from crm_tui.importing import bundle

    from . import hubspot_fixture as fx

    folder = fx.write_portal(tmp_path / "portal")
    with Crm.open(tmp_path / "crm.db", user_name="tester") as crm:
        result = bundle.run_plan(crm, bundle.plan_path(crm, str(folder)))
        lines = result.summary_lines()
        assert any(line.startswith("new properties: ") and "deals.forecast_category (text)" in line for line in lines), lines
        assert any(line.startswith("new owners: ") for line in lines), lines
        assert not any("properties created" in line or "owners created" in line for line in lines)
