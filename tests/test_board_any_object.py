"""The board and the pipeline editor of a custom object given pipelines by `schema apply` (a `leads`
object), at 80x24 with the same keys as deals: palette, > and < move cards, enter opens, p switches
pipeline; the editor's p reaches it and adds its stages with its own kinds."""

from __future__ import annotations

from crm_tui.domain import sources
from crm_tui.services import pipelines
from crm_tui.services.core import Crm
from crm_tui.services.schema_apply import apply_schema_file
from crm_tui.shell.app import CrmApp
from tests.test_pipeline_editor import go_to, type_text
from tests.test_pipelines_any_object import LEADS


def make_leads(db_path, tmp_path) -> list[int]:
    path = tmp_path / "leads.yaml"
    path.write_text(LEADS, encoding="utf-8")
    with Crm.open(db_path, user_name="tester") as crm:
        apply_schema_file(crm, path)
        pipelines.add_pipeline(crm, "leads", "Partner leads", stages=[{"label": "Sourced"}, {"label": "Signed",
                                                                                              "kind": "won"}])
        return [crm.records.create("leads", {"lead_name": name}).id for name in ("Ann [b]x[/b]", "Bo")]


async def test_leads_board_moves_cards_with_the_deals_keys(db_path, tmp_path):
    from screens.board import BoardScreen, CardList, StageColumn
    from screens.record import RecordScreen

    ann, bo = make_leads(db_path, tmp_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Open leads board")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, BoardScreen) and screen.object_name == "leads"
        columns = list(screen.query(StageColumn))
        assert [c.stage.name for c in columns] == ["new", "attempting", "connected", "qualified", "disqualified"]
        assert str(columns[0].query_one(".column-title").render()).startswith("New\n2")  # a count, no amount
        assert isinstance(app.focused, CardList) and app.focused.record_id == bo  # newest first
        await pilot.press("j")
        assert app.focused.record_id == ann
        await pilot.press("shift+right", "greater_than_sign")
        await pilot.pause()
        assert app.focused.stage.name == "connected" and app.focused.record_id == ann
        crm = app.crm
        assert crm.records.get("leads", ann).properties["hs_pipeline_stage"] == "connected"
        history = crm.history.property_history("leads", ann, prop="hs_pipeline_stage")
        assert [(h.old_value, h.new_value, h.source) for h in history[:2]] == [
            ("attempting", "connected", sources.USER), ("new", "attempting", sources.USER)]
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert app.focused.stage.name == "attempting"
        title = str(next(c for c in screen.query(StageColumn) if c.stage.name == "attempting")
                    .query_one(".column-title").render())
        assert title.startswith("Attempting\n1")
        # the card shows the name literally
        assert "Ann [b]x[/b]" in str(app.focused.get_option_at_index(0).prompt)
        # enter opens the lead; its history shows the stage changes
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, RecordScreen) and app.screen.record_id == ann
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert app.screen is screen
        # p switches to the other pipeline of leads
        await pilot.press("p")
        await pilot.pause(0.2)
        assert screen.info.label == "Partner leads"
        assert [c.stage.label for c in screen.query(StageColumn)] == ["Sourced", "Signed"]


async def test_pipeline_editor_reaches_leads_and_adds_a_stage_of_its_kinds(db_path, tmp_path):
    from screens.pipelines import PipelineEditor
    from screens.record_modals import ChoiceModal

    make_leads(db_path, tmp_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(PipelineEditor("deals"))
        await pilot.pause(0.1)
        editor = app.screen
        assert isinstance(editor, PipelineEditor)
        await pilot.press("p", "p")  # deals -> tickets -> leads
        await pilot.pause()
        assert editor.object_name == "leads" and not editor.weighted
        assert "Prob" not in [str(c.label) for c in editor.table.columns.values()]
        await go_to(pilot, editor, "s:Lead pipeline:connected")
        await pilot.press("a")
        await pilot.pause()
        await type_text(pilot, "Nurturing", by_keys=True)
        assert isinstance(app.screen, ChoiceModal)
        await pilot.press("down", "down", "down", "enter")  # open, won, lost, closed
        await pilot.pause()
        assert app.screen is editor  # no probability asked
        info = pipelines.get_pipeline(app.crm, "leads")
        assert [s.label for s in info.stages][2:5] == ["Connected", "Nurturing", "Qualified"]
        assert info.stage(next(s.name for s in info.stages if s.label == "Nurturing")).kind == "closed"
        await pilot.press("p")  # back round to deals
        await pilot.pause()
        assert editor.object_name == "deals" and editor.weighted
