"""Maven's "CRM sales opportunities" files with no flags (issue 13): after accounts.csv, each deal
of sales_pipeline.csv is linked to the company its `account` column names (by name: the accounts
have no domain), a name two companies share is reported on its row, not guessed; and
sales_teams.csv is still read as contacts after sales_pipeline.csv gave deals a `sales_agent`
property. Read from the real files in ../shared/data."""

from __future__ import annotations

import csv

from crm_tui.importing import importer
from .conftest import needs_shared_data


def run(crm, path, tmp_path):
    spec = importer.plan_import(crm, str(path))
    spec.error_dir = str(tmp_path)
    return spec, importer.run_import(crm, spec)


def pipeline_rows(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def deal_ids(crm) -> dict[str, int]:
    """opportunity_id -> deal id (the deals are named after it)."""
    model = crm.registry.get("deals").model
    return {name: rid for rid, name in model.select(model.id, model.dealname).tuples()}


def company_ids(crm) -> dict[str, list[int]]:
    model = crm.registry.get("companies").model
    out: dict[str, list[int]] = {}
    for rid, name in model.select(model.id, model.name).tuples():
        out.setdefault(name, []).append(rid)
    return out


def test_each_deal_is_linked_to_the_company_its_account_column_names(crm, tmp_path):
    accounts = needs_shared_data("maven-crm", "accounts.csv")
    pipeline = needs_shared_data("maven-crm", "sales_pipeline.csv")
    _spec, first = run(crm, accounts, tmp_path)
    assert first.created == {"companies": 85}
    spec, result = run(crm, pipeline, tmp_path)
    column = next(c for c in spec.columns if c.header == "account")
    assert column.target == "@link:companies:name"
    assert any("'account' names companies" in w for w in result.warnings)
    assert "account" not in crm.registry.get("deals").properties  # not a text property any more
    rows = pipeline_rows(pipeline)
    with_account = [r for r in rows if r["account"].strip()]
    assert result.created == {"deals": len(rows)}
    assert result.linked == len(with_account) and result.link_problems == 0
    deals, companies = deal_ids(crm), company_ids(crm)
    for row in with_account[::250]:  # each one the company of its name, as its primary company
        deal = deals[row["opportunity_id"]]
        assert crm.assoc.primary_company(("deals", deal)) == companies[row["account"]][0]
    no_account = next(r for r in rows if not r["account"].strip())
    assert crm.assoc.primary_company(("deals", deals[no_account["opportunity_id"]])) is None


def test_a_company_name_two_companies_share_is_reported_not_guessed(crm, tmp_path):
    accounts = needs_shared_data("maven-crm", "accounts.csv")
    pipeline = needs_shared_data("maven-crm", "sales_pipeline.csv")
    run(crm, accounts, tmp_path)
    crm.records.create("companies", {"name": "Cancity"})  # a second company of that name
    _spec, result = run(crm, pipeline, tmp_path)
    rows = pipeline_rows(pipeline)
    cancity = [r for r in rows if r["account"] == "Cancity"]
    assert cancity and result.link_problems == len(cancity)
    with open(result.error_file, encoding="utf-8-sig", newline="") as fh:
        problems = [p for p in csv.DictReader(fh) if p["Column"] == "account"]
    assert len(problems) == len(cancity) and all("ambiguous" in p["Problem"] for p in problems)
    deals = deal_ids(crm)
    assert crm.assoc.primary_company(("deals", deals[cancity[0]["opportunity_id"]])) is None


def test_sales_teams_is_read_as_contacts_after_the_pipeline(crm, tmp_path):
    accounts = needs_shared_data("maven-crm", "accounts.csv")
    pipeline = needs_shared_data("maven-crm", "sales_pipeline.csv")
    teams = needs_shared_data("maven-crm", "sales_teams.csv")
    assert importer.plan_import(crm, str(teams)).objects == ["contacts"]  # a fresh CRM
    run(crm, accounts, tmp_path)
    run(crm, pipeline, tmp_path)
    assert "sales_agent" in crm.registry.get("deals").properties
    spec, result = run(crm, teams, tmp_path)
    assert spec.objects == ["contacts"]
    assert result.created == {"contacts": 35}
    assert crm.registry.get("contacts").model.select().where(
        crm.registry.get("contacts").model.firstname == "Anna").count() == 1


def test_a_folder_with_the_accounts_and_the_pipeline_links_every_deal_in_one_import(crm, tmp_path):
    """The whole folder as one import: the pipeline's `account` names the companies accounts.csv
    brings in the same import (imported first), so each deal is linked as after a separate import;
    the accounts' revenue and employees fill the built-in properties."""
    from crm_tui.importing import bundle

    folder = tmp_path / "maven"
    folder.mkdir()
    (folder / "accounts.csv").write_text(
        "account,sector,revenue,employees\nAcme Corporation,technolgy,1100.04,2822\nBetasoloin,medical,251.41,495\n"
        "Cancity,retail,718.62,2448\n", encoding="utf-8")
    (folder / "sales_pipeline.csv").write_text(
        "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\n"
        "1C1I7A6R,Moses Frase,GTX Plus Basic,Cancity,Won,2016-10-20,2017-03-01,1054\n"
        "Z063OYW0,Darcel Schlecht,GTXPro,Acme Corporation,Won,2016-10-25,2017-03-11,4514\n"
        "EC4QE1BX,Darcel Schlecht,MG Special,Cancity,Won,2016-10-25,2017-03-07,50\n"
        "MV1LWRNH,Moses Frase,GTX Basic,Betasoloin,Engaging,2016-10-25,,\n", encoding="utf-8")
    plan = bundle.plan_path(crm, folder)
    result = bundle.run_plan(crm, plan)
    assert result.counts()["linked"] == 4
    deals, companies = deal_ids(crm), company_ids(crm)
    for opportunity, account in (("1C1I7A6R", "Cancity"), ("Z063OYW0", "Acme Corporation"), ("MV1LWRNH", "Betasoloin")):
        assert crm.assoc.linked_ids(("deals", deals[opportunity]), "companies") == companies[account]
    acme = crm.records.get("companies", companies["Acme Corporation"][0]).properties
    assert (acme["numberofemployees"], acme["annualrevenue"]) == (2822, 1100.04)
