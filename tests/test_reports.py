"""Reports, the forecast and the dashboard: every figure checked against the records themselves."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict

import pytest

from crm_tui.services import pipelines
from crm_tui.domain import sources
from crm_tui.shell.app import CrmApp
from crm_tui.cli.main import main
from crm_tui.services.core import Crm
from crm_tui.domain.errors import InvalidValue
from crm_tui.services.reports import ReportSpec, period_range

ALL = 100_000


def all_records(crm, obj, filters=()):
    return crm.records.list(obj, list(filters), limit=ALL).rows


@pytest.fixture
def demo(demo_db):
    with Crm.open(demo_db) as crm:
        yield crm


@pytest.mark.parametrize("group_by", ["lifecyclestage", "companies.industry", "@primary_company",
                                      "createdate:week", "createdate:quarter", "hs_lead_status"])
def test_each_group_drills_down_to_exactly_its_records(demo, group_by):
    report = demo.reports.run(ReportSpec("contacts", group_by=group_by))
    assert sum(r.value for r in report.rows) == demo.records.count("contacts")
    for row in report.rows:
        assert demo.records.count("contacts", row.filters) == row.value, (row.group, row.filters)


def test_counts_by_lifecycle_stage_agree_with_the_records(demo):
    report = demo.reports.run(ReportSpec("contacts", group_by="lifecyclestage"))
    expected = Counter(r.get("lifecyclestage") for r in all_records(demo, "contacts"))
    meta = demo.registry.get("contacts")
    got = {row.key: row.value for row in report.rows}
    assert got == {k: float(v) for k, v in expected.items()}
    # in the property's option order, labels not internal names
    order = [o.name for o in meta.properties["lifecyclestage"].options]
    keys = [row.key for row in report.rows if row.key]
    assert keys == sorted(keys, key=order.index)
    assert report.rows[0].group == meta.properties["lifecyclestage"].option_label(report.rows[0].key)


def test_sum_by_associated_company_property_and_pivot(demo):
    report = demo.reports.run(ReportSpec("deals", group_by="dealstage", group_by2="companies.industry",
                                         measure="sum:amount"))
    deals = all_records(demo, "deals")
    industries = {}
    for d in deals:
        primary = demo.assoc.primary_company(("deals", d["id"]))
        industries[d["id"]] = demo.records.get("companies", primary).properties.get("industry") if primary else None
    expected = defaultdict(float)
    for d in deals:
        expected[(d.get("dealstage"), industries[d["id"]])] += d.get("amount") or 0
    got = {(r.key, r.key2): r.value for r in report.rows}
    assert got == pytest.approx({k: v for k, v in expected.items() if k in got})
    assert set(got) == {k for k in expected}
    assert all(r.group2 is not None for r in report.rows)


def test_forecast_is_amounts_times_probabilities(demo):
    # give the open deals close dates and owners so the groups mean something
    deals = all_records(demo, "deals")
    for i, d in enumerate(deals[:30]):
        demo.records.update("deals", d["id"], {"closedate": f"2027-0{1 + i % 3}-15"}, sources.API)
    info = pipelines.get_pipeline(demo, "deals")
    stage = {s.name: s for s in info.stages}
    expected = defaultdict(lambda: [0.0, 0.0])
    for d in all_records(demo, "deals"):
        s = stage.get(d.get("dealstage"))
        month = (d.get("closedate") or "")[:7] or None
        if s is not None and s.kind == "open":
            expected[month][0] += (d.get("amount") or 0) * (s.probability or 0)
        elif s is not None and s.kind == "won":
            expected[month][1] += d.get("amount") or 0
    rows = {r.key: r for r in demo.reports.forecast("month")}
    for month, (weighted, won) in expected.items():
        assert rows[month].weighted_amount == pytest.approx(weighted)
        assert rows[month].won_amount == pytest.approx(won)
    keys = [r.key for r in demo.reports.forecast("month")]
    assert keys[:-1] == sorted(k for k in keys if k is not None)  # by month, the deals without one last


def test_one_line_errors(demo):
    for spec, words in [
        (ReportSpec("contacts", group_by="nope"), "no property 'nope'"),
        (ReportSpec("contacts", measure="sum:email"), "needs a number"),
        (ReportSpec("contacts", group_by="firstname:month"), "not a date"),
        (ReportSpec("contacts", group_by="createdate:fortnight"), "period"),
        (ReportSpec("companies", group_by="@primary_company"), "no primary company"),
        (ReportSpec("contacts", measure="median:amount"), "measure"),
    ]:
        with pytest.raises(InvalidValue, match=words) as info:
            demo.reports.run(spec)
        assert "\n" not in str(info.value)


def test_period_ranges():
    assert period_range("month", "2024-02") == ("2024-02-01", "2024-02-29")
    assert period_range("quarter", "2026-Q4") == ("2026-10-01", "2026-12-31")
    assert period_range("week", "2026-11-23") == ("2026-11-23", "2026-11-29")


def test_saved_reports_are_per_user_with_a_default_dashboard(demo_db):
    with Crm.open(demo_db, user_name="ann") as ann:
        names = [s.name for s in ann.reports.saved()]
        assert names == ["Pipeline by stage", "Won by month", "New contacts by week", "Activities by type"]
        ann.reports.save(ReportSpec("contacts", group_by="companies.industry", name="By industry"))
        ann.reports.delete("Won by month")
        assert [s.name for s in ann.reports.saved()] == ["Pipeline by stage", "New contacts by week",
                                                          "Activities by type", "By industry"]
        with pytest.raises(InvalidValue):
            ann.reports.save(ReportSpec("contacts", group_by="nope", name="Broken"))
    with Crm.open(demo_db, user_name="bob") as bob:
        assert "By industry" not in [s.name for s in bob.reports.saved()]


@pytest.fixture
def cli(demo_db, capsys):
    def run(*args, code=0):
        result = main(["--db", str(demo_db), *args])
        out, err = capsys.readouterr()
        assert result == code, (args, out, err)
        return out if code == 0 else err
    return run


def test_report_command_json_csv_and_pivot(cli, demo_db):
    rows = json.loads(cli("report", "contacts", "--group-by", "lifecyclestage", "--json"))
    with Crm.open(demo_db) as crm:
        assert sum(r["value"] for r in rows) == crm.records.count("contacts")
    assert set(rows[0]) == {"group", "value"}
    pivot = json.loads(cli("report", "deals", "--group-by", "dealstage", "--by-period", "closedate:month",
                           "--measure", "sum:amount", "--json"))
    assert pivot and set(pivot[0]) == {"group", "group2", "value"}
    filtered = json.loads(cli("report", "contacts", "--group-by", "lifecyclestage", "--filter",
                              "companies.industry=Software", "--json"))
    listed = cli("list", "contacts", "--filter", "companies.industry=Software", "--limit", "1000")
    assert f"of {int(sum(r['value'] for r in filtered))} contacts" in listed
    assert "no property 'nope'" in cli("report", "contacts", "--group-by", "nope", code=2)


def test_report_csv_never_runs_a_formula(cli, demo_db):
    with Crm.open(demo_db) as crm:
        company = crm.records.list("companies", limit=1).rows[0]["id"]
        crm.records.update("companies", company, {"industry": "=HYPERLINK(\"http://x\")"}, sources.API)
    out = cli("report", "contacts", "--group-by", "companies.industry", "--csv")
    groups = [row[0] for row in csv.reader(io.StringIO(out))]
    assert groups[0] == "group"
    assert "'=HYPERLINK(\"http://x\")" in groups


def test_forecast_command(cli):
    out = cli("forecast", "--by", "owner")
    assert out.splitlines()[0].split()[:1] == ["Owner"] and "Total" in out
    data = json.loads(cli("forecast", "--json"))
    assert {"group", "open_deals", "open_amount", "weighted_amount", "won_deals", "won_amount"} == set(data[0])


def test_save_from_the_command_line_shows_on_the_dashboard_list(cli):
    cli("report", "contacts", "--group-by", "@primary_company", "--save", "By company", "--chart", "bar")
    assert "By company: contacts count by @primary_company (bar)" in cli("reports")
    cli("reports", "delete", "By company")
    assert "By company" not in cli("reports")


async def settle(pilot, times: int = 3) -> None:
    for _ in range(times):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_dashboard_charts_agree_with_records_and_a_bar_opens_them(demo_db):
    from screens.dashboard import DashboardScreen
    from screens.index import IndexScreen
    from widgets.bar_chart import BarChart

    app = CrmApp(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        charts = list(app.screen.query(BarChart))
        assert len(charts) == 4 and all(c.report is not None for c in charts)
        pipeline = charts[0]
        # each bar's value is written out: readable without colour
        first = pipeline.report.rows[0]
        text = str(pipeline.get_option_at_index(0).prompt)
        assert first.group in text and f"{first.value:,.0f}" in text
        assert pipeline.has_focus
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, IndexScreen)
        assert app.screen.table.row_count == int(first.value if pipeline.report.spec.measure == "count"
                                                  else app.crm.records.count("deals", first.filters))
        assert app.crm.records.count("deals", first.filters) > 0
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_company_record_shows_open_and_won_deal_totals(demo_db):
    from screens.record import RecordScreen

    app = CrmApp(demo_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        crm = app.crm
        company = next(c["id"] for c in crm.records.list("companies", limit=200).rows
                       if crm.reports.deal_totals(("companies", c["id"]))["open_deals"])
        totals = crm.reports.deal_totals(("companies", company))
        app.push_screen(RecordScreen("companies", company))
        await settle(pilot)
        head = str(app.screen.query_one("#head").render())
        assert f"{totals['open_deals']} open" in head and f"{totals['won_deals']} won" in head


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_dashboard(snap_compare, demo_db, size):
    app = CrmApp(demo_db)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
