"""Exporting views to CSV, JSON and vCard; HubSpot-style round trips; formula injection."""

from __future__ import annotations

import csv
import json

import pytest

from crm_tui.cli import main as cli
from crm_tui.domain import sources
from crm_tui.importing import exporter, importer, vcard
from crm_tui.services.paging import ViewSpec
from crm_tui.services.query import Filter, Sort


def sample(crm):
    acme = crm.records.create("companies", {"name": "Acme", "domain": "acme.com"}, sources.API).id
    beta = crm.records.create("companies", {"name": "=HYPERLINK(\"http://x\")", "domain": "beta.io"}, sources.API).id
    ann = crm.records.create("contacts", {"email": "ann@acme.com", "firstname": "Ann", "lastname": "Lee",
                                          "jobtitle": "@SUM(1+9)", "lifecyclestage": "opportunity"}, sources.API).id
    bob = crm.records.create("contacts", {"email": "bob@beta.io", "firstname": "Bob"}, sources.API).id
    deal = crm.records.create("deals", {"dealname": "Acme renewal", "amount": "-1200.5", "dealstage": "Qualified to buy"},
                              sources.API).id
    crm.assoc.add(("deals", deal), ("companies", acme))
    crm.assoc.add(("deals", deal), ("contacts", ann))
    crm.assoc.add(("contacts", bob), ("companies", acme))
    crm.assoc.set_primary(("contacts", bob), acme)
    return {"acme": acme, "beta": beta, "ann": ann, "bob": bob, "deal": deal}


def read_csv(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_hubspot_csv_round_trip_updates_and_loses_nothing(crm, tmp_path):
    ids = sample(crm)
    out = tmp_path / "deals.csv"
    result = exporter.export_view(crm, "deals", out, hubspot=True, all_properties=True)
    assert result.rows == 1 and not (tmp_path / "deals.csv.part").exists()
    rows = read_csv(out)
    row = rows[0]
    assert row["Record ID"] == str(ids["deal"]) and row["Deal stage"] == "Qualified to buy"
    assert row["Amount"] == "-1200.5"  # a number column keeps its sign
    assert row["Associated Company IDs"] == str(ids["acme"]) and row["Associated Contact IDs"] == str(ids["ann"])
    assert row["Associated Company IDs (Primary)"] == str(ids["acme"])
    before = crm.records.get("deals", ids["deal"]).properties
    back = importer.run_import(crm, importer.plan_import(crm, out, ["deals"]))
    assert back.created == {} and back.updated == {} and back.unchanged == 1 and back.linked == 0 and back.failed == 0
    assert crm.records.count("deals") == 1 and crm.records.get("deals", ids["deal"]).properties == before
    # contacts too: labels and primary company survive
    out2 = tmp_path / "contacts.csv"
    exporter.export_view(crm, "contacts", out2, hubspot=True)
    again = importer.run_import(crm, importer.plan_import(crm, out2, ["contacts"]))
    assert again.created == {} and again.failed == 0 and crm.records.count("contacts") == 2
    assert crm.assoc.primary_company(("contacts", ids["bob"])) == ids["acme"]


def test_round_trip_carries_edits_back(crm, tmp_path):
    ids = sample(crm)
    out = tmp_path / "contacts.csv"
    exporter.export_view(crm, "contacts", out, hubspot=True, all_properties=True)
    rows = read_csv(out)
    for row in rows:
        if row["Record ID"] == str(ids["ann"]):
            row["Job title"] = "CEO"
            row["Associated Company IDs"] = f"{ids['acme']};{ids['beta']}"
    with open(tmp_path / "edited.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = importer.run_import(crm, importer.plan_import(crm, tmp_path / "edited.csv", ["contacts"]))
    assert result.updated == {"contacts": 1} and result.created == {}
    assert crm.records.get("contacts", ids["ann"]).properties["jobtitle"] == "CEO"
    assert set(crm.assoc.linked_ids(("contacts", ids["ann"]), "companies")) == {ids["acme"], ids["beta"]}


def test_formula_injection_is_neutralised(crm, tmp_path):
    ids = sample(crm)
    out = tmp_path / "companies.csv"
    exporter.export_view(crm, "companies", out)
    names = {r["Record ID"]: r["Company name"] for r in read_csv(out)}
    assert names[str(ids["beta"])] == "'=HYPERLINK(\"http://x\")"
    contacts = tmp_path / "contacts.csv"
    exporter.export_view(crm, "contacts", contacts, all_properties=True)
    jobs = {r["Record ID"]: r["Job title"] for r in read_csv(contacts)}
    assert jobs[str(ids["ann"])] == "'@SUM(1+9)"


def test_view_filters_columns_and_sort(crm, tmp_path):
    sample(crm)
    spec = ViewSpec("contacts", ["firstname", "email", "@primary_company"],
                    [Filter("firstname", "contains", "b")], [Sort("firstname", desc=True)])
    out = tmp_path / "v.csv"
    result = exporter.export_view(crm, "contacts", out, view=spec)
    rows = read_csv(out)
    assert result.columns == ["Record ID", "First name", "Email", "Primary company"]
    assert [r["First name"] for r in rows] == ["Bob"] and rows[0]["Primary company"] == "Acme"


def test_saved_view_by_name_json_and_many_pages(crm, tmp_path):
    from crm_tui.services.seed import seed
    from crm_tui.services.views import Views

    seed(crm, contacts=3000, companies=5)
    Views(crm).create("contacts", "Leads", ["firstname", "lifecyclestage"], [Filter("lifecyclestage", "eq", "lead")],
                      [Sort("firstname")])
    expected = crm.records.count("contacts", [Filter("lifecyclestage", "eq", "lead")])
    seen = []
    out = tmp_path / "leads.json"
    result = exporter.export_view(crm, "contacts", out, view="leads", progress=lambda done, total: seen.append((done, total)))
    data = json.loads(out.read_text(encoding="utf-8"))
    assert result.rows == len(data) == expected > 1000  # several pages of 1,000
    assert all(item["Lifecycle stage"] == "Lead" for item in data)
    assert seen[-1] == (expected, expected)
    with pytest.raises(Exception, match="no view named"):
        exporter.export_view(crm, "contacts", tmp_path / "x.csv", view="Nope")


def test_vcard_export_reads_back(crm, tmp_path):
    ids = sample(crm)
    out = tmp_path / "contacts.vcf"
    result = exporter.export_view(crm, "contacts", out)
    assert result.format == "vcf" and result.rows == 2
    read = vcard.read_vcards(out)
    by_email = {c["email"]: c for c in read.contacts}
    assert by_email["bob@beta.io"]["company"] == "Acme"  # the primary company
    assert by_email["ann@acme.com"]["lastname"] == "Lee" and not read.problems
    with pytest.raises(Exception, match="vCard export is for contacts"):
        exporter.export_view(crm, "deals", tmp_path / "d.vcf")
    assert ids


def test_cli_export(db_path, tmp_path, capsys):
    from crm_tui.services.core import Crm

    with Crm.open(db_path) as crm:
        sample(crm)
    out = tmp_path / "deals.csv"
    assert cli.main(["--db", str(db_path), "export", "deals", "--hubspot", "-o", str(out)]) == 0
    assert "exported 1 deals" in capsys.readouterr().out
    assert "Associated Company IDs" in out.read_text(encoding="utf-8-sig").splitlines()[0]
    assert cli.main(["--db", str(db_path), "export", "deals", "--view", "nope", "-o", str(out)]) == 2
    assert "no view named" in capsys.readouterr().err


def test_a_searched_view_exports_every_match_the_index_shows(crm, tmp_path):
    # The export of a view with a search wrote at most 50 rows (the search's default limit).
    for n in range(120):
        crm.records.create("contacts", {"firstname": f"Zed{n}", "lastname": "Quartz", "email": f"zed{n}@quartz.example"})
    crm.records.create("contacts", {"firstname": "Other", "email": "other@else.example"})
    spec = ViewSpec("contacts", ["firstname", "email"], [], [], search="quartz")
    out = tmp_path / "searched.csv"
    seen = []
    result = exporter.export_view(crm, "contacts", out, view=spec, progress=lambda done, total: seen.append((done, total)))
    rows = read_csv(out)
    assert result.rows == len(rows) == 120
    assert seen[-1] == (120, 120)  # the progress counts the matches, not every contact
    assert {r["First name"] for r in rows} == {f"Zed{n}" for n in range(120)}
