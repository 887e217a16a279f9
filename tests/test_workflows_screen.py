"""The Workflows screen at 80x24 (palette: Workflows) and a win on the board setting off a workflow."""

from __future__ import annotations

import yaml

from crm_tui.domain import sources
from crm_tui.services.core import Crm
from crm_tui.shell.app import CrmApp

from tests.test_workflows import KICKOFF, live_ids, make_sale

SECOND = """\
workflows:
  - name: "Welcome [b]bold[/] CEOs"
    object: contacts
    when: created
    if: ["jobtitle=CEO"]
    do: [{log_note: {body: "Hello {firstname}"}}]
"""


def setup(db_path):
    with Crm.open(db_path, user_name="tester") as crm:
        crm.workflows.apply(yaml.safe_load(KICKOFF))
        crm.workflows.apply(yaml.safe_load(SECOND))
        sale = make_sale(crm)
        crm.db.execute_sql("UPDATE obj_deals SET dealstage = 'closedwon' WHERE id = ?", (sale[3],))
    return sale


async def open_from_palette(pilot, name: str):
    await pilot.press("ctrl+p")
    await pilot.pause()
    await pilot.press(*name)
    await pilot.pause(0.3)
    await pilot.press("enter")
    await pilot.pause(0.2)


async def test_list_enable_disable_and_dry_run_at_80x24(db_path):
    from textual.widgets import DataTable, Static

    from screens.workflows import WorkflowsScreen

    _company, _ann, _bob, deal = setup(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await open_from_palette(pilot, "Workflows")
        screen = app.screen
        assert isinstance(screen, WorkflowsScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == 2
        names = [str(table.get_row_at(i)[1]) for i in range(2)]
        assert names == ["Kickoff after a win", "Welcome [b]bold[/] CEOs"]  # literal, never markup
        assert str(table.get_row_at(0)[0]) == "on"
        details = str(screen.query_one("#details", Static).render())
        assert "when dealstage changed to closedwon" in details and "if amount>=5000" in details
        # everything fits in 80 columns and 24 rows
        assert screen.query_one("#details-box").region.bottom <= 23 and table.region.right <= 80

        await pilot.press("d")
        await pilot.pause()
        assert str(table.get_row_at(0)[0]) == "off"
        assert not app.crm.workflows.get("Kickoff after a win").enabled
        op = app.crm.models.Operation.select().order_by(app.crm.models.Operation.id.desc()).first()
        assert (op.kind, op.source) == ("disable_workflow", sources.USER)
        await pilot.press("e")
        await pilot.pause()
        assert str(table.get_row_at(0)[0]) == "on" and app.crm.workflows.get("Kickoff after a win").enabled

        ops = app.crm.models.Operation.select().count()
        await pilot.press("t")
        await pilot.pause()
        shown = str(screen.query_one("#details", Static).render())
        assert "Dry run of Kickoff after a win: would act on 1 record(s); nothing was written" in shown
        assert f"deals {deal} (Big one): create task 'Kickoff call'" in shown
        assert app.crm.models.Operation.select().count() == ops and live_ids(app.crm, "tasks") == []

        await pilot.press("j")
        await pilot.pause()
        assert "when created" in str(screen.query_one("#details", Static).render())
        await pilot.press("t")
        await pilot.pause()
        assert "would act on 0 record(s)" in str(screen.query_one("#details", Static).render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, WorkflowsScreen)


async def test_delete_asks_first_and_keeps_what_the_workflow_did(db_path, capsys):
    from textual.widgets import DataTable

    from crm_tui.cli.main import main
    from screens.modals import ConfirmModal
    from screens.workflows import WorkflowsScreen

    setup(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await open_from_palette(pilot, "Workflows")
        screen = app.screen
        assert isinstance(screen, WorkflowsScreen)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("escape")  # no: nothing deleted
        await pilot.pause()
        assert screen.query_one(DataTable).row_count == 2
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert screen.query_one(DataTable).row_count == 1
        assert [w.name for w in app.crm.workflows.list()] == ["Welcome [b]bold[/] CEOs"]
        op = app.crm.models.Operation.select().order_by(app.crm.models.Operation.id.desc()).first()
        assert (op.kind, op.source) == ("delete_workflow", sources.USER)
    assert main(["--db", str(db_path), "workflows", "delete", "welcome [b]bold[/] ceos"]) == 0
    assert "deleted" in capsys.readouterr().out
    with Crm.open(db_path) as crm:
        last = crm.models.Operation.select().order_by(crm.models.Operation.id.desc()).first().id
    assert main(["--db", str(db_path), "undo", str(last)]) == 2  # not undoable, said in one line
    err = capsys.readouterr().err.strip()
    assert "apply its file again" in err and "\n" not in err
    assert main(["--db", str(db_path), "workflows", "delete", "nosuch"]) != 0


async def test_empty_list_says_how_to_add(db_path):
    from textual.widgets import Static

    Crm.open(db_path).close()
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_workflows()
        await pilot.pause()
        caption = str(app.screen.query_one("#caption", Static).render())
        assert "crm-tui workflows apply FILE.yaml" in caption
        await pilot.press("t", "e", "d", "x")  # nothing under the cursor: said, nothing written
        await pilot.pause()
        notices = [str(n.message) for n in app._notifications]
        assert notices and all("No workflow here yet" in n for n in notices)
        assert app.crm.workflows.list() == []


async def test_winning_a_deal_on_the_board_runs_the_workflow(db_path):
    from screens.board import BoardScreen, CardList

    with Crm.open(db_path, user_name="tester") as crm:
        crm.workflows.apply(yaml.safe_load(KICKOFF))
        _company, ann, bob, deal = make_sale(crm)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await open_from_palette(pilot, "Open deals board")
        assert isinstance(app.screen, BoardScreen)
        assert isinstance(app.focused, CardList) and app.focused.record_id == deal
        for _ in range(5):
            await pilot.press("shift+right")
            await pilot.pause()
        assert app.focused.stage.name == "closedwon"
        crm = app.crm
        [task] = live_ids(crm, "tasks")
        assert sorted(crm.assoc.linked_ids(("tasks", task), "contacts")) == sorted([ann, bob])
        assert crm.assoc.linked_ids(("tasks", task), "deals") == [deal]
        change = crm.history.property_history("deals", deal, prop="dealtype")[0]
        assert (change.source, change.actor) == (sources.JOB, "Kickoff after a win")
        await pilot.press("u")  # undo the win: the workflow's task, note and values go with it
        await pilot.pause()
        assert live_ids(crm, "tasks") == [] and live_ids(crm, "notes") == []
        assert crm.records.get("deals", deal).properties["dealtype"] is None
