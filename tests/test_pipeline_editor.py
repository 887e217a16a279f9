"""The pipeline editor at 80x24, by keyboard: stages added, renamed, moved, archived and deleted
(moving their records), pipelines added and renamed, and the core's refusals as one line."""

from __future__ import annotations

from crm_tui.services import pipelines
from crm_tui.domain import sources
from crm_tui.shell.app import CrmApp
from crm_tui.services.core import Crm


def make_deals(db_path, stage: str = "qualifiedtobuy", count: int = 2) -> list[int]:
    with Crm.open(db_path, user_name="tester") as crm:
        crm.records.create("deals", {"dealname": "Elsewhere", "dealstage": "appointmentscheduled"})
        return [crm.records.create("deals", {"dealname": f"Deal {i}", "dealstage": stage}).id for i in range(count)]


async def open_editor(pilot, *, from_palette: bool = False):
    from screens.pipelines import PipelineEditor

    await pilot.pause()
    if from_palette:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Edit pipelines")
        await pilot.pause(0.3)
        await pilot.press("enter")
    else:
        pilot.app.push_screen(PipelineEditor("deals"))
    await pilot.pause(0.1)
    assert isinstance(pilot.app.screen, PipelineEditor)
    return pilot.app.screen


async def go_to(pilot, editor, key: str) -> None:
    """Walk the cursor to a row with j/k, as a user would."""
    table = editor.table
    target = table.get_row_index(key)
    while table.cursor_row != target:
        await pilot.press("j" if table.cursor_row < target else "k")
    await pilot.pause()
    assert editor.current_key() == key


async def type_text(pilot, text: str, *, clear: bool = False, by_keys: bool = False) -> None:
    """Fill the prompt's input and press enter (key by key when `by_keys`, else set at once: faster)."""
    from textual.widgets import Input

    box = pilot.app.screen.query_one(Input)
    if by_keys:
        if clear:
            await pilot.press("ctrl+u")  # the prompt starts with the current name
        await pilot.press(*text)
    else:
        box.value = text if clear else box.value + text
    await pilot.press("enter")
    await pilot.pause()


def stage_names(app, pipeline: str = "default") -> list[str]:
    return [s.name for s in pipelines.get_pipeline(app.crm, "deals", pipeline).stages]


def error_lines(app) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


async def test_add_rename_move_archive_stage(db_path):
    from screens.board import BoardScreen, StageColumn
    from screens.index_modals import TextPromptModal
    from screens.record_modals import ChoiceModal

    make_deals(db_path)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot, from_palette=True)
        await go_to(pilot, editor, "s:default:qualifiedtobuy")
        # add: label, kind from a list, probability in percent; it goes after the highlighted stage
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, TextPromptModal)
        await type_text(pilot, "Demo [b]day[/b]", by_keys=True)
        assert isinstance(app.screen, ChoiceModal)
        await pilot.press("enter")  # open, the first kind
        await pilot.pause()
        assert isinstance(app.screen, TextPromptModal)
        await type_text(pilot, "35", clear=True, by_keys=True)
        assert app.screen is editor
        names = stage_names(app)
        assert names[1:3] == ["qualifiedtobuy", "demobdayb"]
        stage = pipelines.get_pipeline(app.crm, "deals").stage("demobdayb")
        assert (stage.label, stage.kind, stage.probability) == ("Demo [b]day[/b]", "open", 0.35)
        assert editor.current_key() == "s:default:demobdayb"
        # the label is shown literally, not as markup
        cells = editor.table.get_row("s:default:demobdayb")
        assert cells[0].plain.strip() == "Demo [b]day[/b]" and cells[3].plain == "35%"

        # the board shows it in the same order
        await pilot.press("b")
        await pilot.pause(0.2)
        assert isinstance(app.screen, BoardScreen)
        assert [c.stage.name for c in app.screen.query(StageColumn)][1:3] == ["qualifiedtobuy", "demobdayb"]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is editor

        # rename, keeping the internal name
        await pilot.press("r")
        await pilot.pause()
        await type_text(pilot, "Demo", clear=True)
        assert pipelines.get_pipeline(app.crm, "deals").stage("demobdayb").label == "Demo"

        # move it up (K), then down again (ctrl+down), then up once more
        await pilot.press("K")
        await pilot.pause()
        assert stage_names(app)[:3] == ["appointmentscheduled", "demobdayb", "qualifiedtobuy"]
        await pilot.press("ctrl+down")
        await pilot.pause()
        assert stage_names(app)[1:3] == ["qualifiedtobuy", "demobdayb"]
        await pilot.press("ctrl+up")
        await pilot.pause()
        assert stage_names(app)[1] == "demobdayb" and editor.current_key() == "s:default:demobdayb"

        # archive and unarchive
        await pilot.press("x")
        await pilot.pause()
        assert pipelines.get_pipeline(app.crm, "deals").stage("demobdayb").archived
        assert editor.table.get_row("s:default:demobdayb")[4].plain == "yes"
        await pilot.press("x")
        await pilot.pause()
        assert not pipelines.get_pipeline(app.crm, "deals").stage("demobdayb").archived

        # escape goes back
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is not editor
        assert not error_lines(app)


async def test_delete_stage_in_use_moves_its_records(db_path):
    from screens.modals import ConfirmModal
    from screens.record_modals import ChoiceModal

    deals = make_deals(db_path, "qualifiedtobuy", 3)
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot)
        assert editor.table.get_row("s:default:qualifiedtobuy")[-1].plain == "3"
        await go_to(pilot, editor, "s:default:qualifiedtobuy")
        await pilot.press("d")
        await pilot.pause()
        modal = app.screen
        assert isinstance(modal, ChoiceModal)
        choices = [value for value, _label in modal.choices]
        assert "qualifiedtobuy" not in choices
        for _ in range(choices.index("contractsent")):
            await pilot.press("down")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert "3 deals" in app.screen.question and "Contract sent" in app.screen.question
        await pilot.press("y")
        await pilot.pause()
        assert app.screen is editor
        assert "qualifiedtobuy" not in stage_names(app)
        assert "s:default:qualifiedtobuy" not in editor.table.rows
        assert editor.table.get_row("s:default:contractsent")[-1].plain == "3"
        for deal in deals:
            assert app.crm.records.get("deals", deal).properties["dealstage"] == "contractsent"
            change = app.crm.history.property_history("deals", deal, prop="dealstage")[0]
            assert (change.old_value, change.new_value) == ("qualifiedtobuy", "contractsent")
            assert change.source == sources.USER and change.actor == app.crm.user_name

        # an unused stage just asks; cancelling keeps it
        await go_to(pilot, editor, "s:default:presentationscheduled")
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await pilot.pause()
        assert "presentationscheduled" in stage_names(app)
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert "presentationscheduled" not in stage_names(app)
        assert not error_lines(app)


async def test_add_rename_pipeline_and_errors_are_one_line(db_path):
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot)
        await pilot.press("n")
        await pilot.pause()
        await type_text(pilot, "Renewals")
        info = pipelines.get_pipeline(app.crm, "deals", "Renewals")
        assert [s.kind for s in info.stages] == ["open", "won", "lost"]
        assert editor.current_key() == f"p:{info.name}"
        assert f"s:{info.name}:{info.stages[0].name}" in editor.table.rows

        # a name another pipeline has: the core refuses, in one line, and nothing changes
        await pilot.press("R")
        await pilot.pause()
        await type_text(pilot, "Sales pipeline", clear=True)
        errors = error_lines(app)
        assert len(errors) == 1 and "\n" not in errors[0] and "already have a pipeline" in errors[0]
        assert pipelines.get_pipeline(app.crm, "deals", info.name).label == "Renewals"

        await pilot.press("R")
        await pilot.pause()
        await type_text(pilot, "Renewals [i]2027[/i]", clear=True)
        assert pipelines.get_pipeline(app.crm, "deals", info.name).label == "Renewals [i]2027[/i]"
        assert editor.table.get_row(f"p:{info.name}")[0].plain == "Renewals [i]2027[/i]"

        # archive it from one of its stage rows, then unarchive
        await pilot.press("j")
        await pilot.press("X")
        await pilot.pause()
        assert pipelines.get_pipeline(app.crm, "deals", info.name).archived
        await pilot.press("X")
        await pilot.pause()
        assert not pipelines.get_pipeline(app.crm, "deals", info.name).archived

        # p: the tickets pipelines; archiving the only one is refused in one line
        await pilot.press("p")
        await pilot.pause()
        assert editor.object_name == "tickets" and editor.current_key() == "p:0"
        assert "Prob" not in [str(c.label) for c in editor.table.columns.values()]
        await pilot.press("X")
        await pilot.pause()
        errors = error_lines(app)
        assert len(errors) == 2 and "\n" not in errors[1] and "only active pipeline" in errors[1]
        assert not pipelines.get_pipeline(app.crm, "tickets", "0").archived
        # a stage key on a pipeline row asks for a stage instead of failing
        await pilot.press("r")
        await pilot.pause()
        assert app.screen is editor


async def test_undo_key_takes_back_a_pipeline_edit_and_redo_brings_it_again(db_path):
    """u after a rename, a move and a stage deletion in the editor takes each back (newest first) and
    the table shows it at once; U redoes; the journal lists them with source User."""
    ids = make_deals(db_path, stage="contractsent")
    app = CrmApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_editor(pilot)
        await go_to(pilot, editor, "s:default:qualifiedtobuy")
        await pilot.press("r")
        await pilot.pause()
        await type_text(pilot, "Qualified", clear=True)
        await pilot.press("J")
        await pilot.pause()
        moved = stage_names(app)
        assert moved[1:3] == ["presentationscheduled", "qualifiedtobuy"]
        kinds = [i.kind for i in app.crm.journal.list(limit=2)]
        assert kinds == ["reorder_stages", "update_stage"]
        assert {i.source for i in app.crm.journal.list(limit=2)} == {sources.USER}

        await pilot.press("u")  # the move
        await pilot.pause(0.1)
        assert stage_names(app)[1:3] == ["qualifiedtobuy", "presentationscheduled"]
        assert editor.table.get_row_index("s:default:qualifiedtobuy") == 2  # the table followed
        toast = list(app._notifications)[-1].message
        assert toast.startswith("Undid moved stage Qualified down") and "redoes" in toast, toast
        await pilot.press("u")  # the rename
        await pilot.pause(0.1)
        assert pipelines.get_pipeline(app.crm, "deals").stage("qualifiedtobuy").label == "Qualified to buy"
        assert editor.table.get_row("s:default:qualifiedtobuy")[0].plain.strip() == "Qualified to buy"
        await pilot.press("U")
        await pilot.pause(0.1)
        assert pipelines.get_pipeline(app.crm, "deals").stage("qualifiedtobuy").label == "Qualified"

        # a stage deleted with its records moved comes back with them
        await go_to(pilot, editor, "s:default:contractsent")
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("enter")  # the first other stage offered
        await pilot.pause()
        await pilot.press("y")  # "move 2 deals to ...?"
        await pilot.pause()
        assert "contractsent" not in stage_names(app)
        await pilot.press("u")
        await pilot.pause(0.1)
        assert "s:default:contractsent" in editor.table.rows
        assert {app.crm.records.get("deals", i).properties["dealstage"] for i in ids} == {"contractsent"}
        assert not error_lines(app)
