"""The "My tasks" screen, driven with Pilot on a real database: sections and counts, done, snooze,
reschedule, owner filter, enter opens the linked record, undo; the palette and the index key; a
snapshot at 80x24 with today and every timestamp pinned."""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, timedelta

import pytest

from crm_tui.domain import sources
from crm_tui.services import tasks as tasks_module
from crm_tui.services.core import Crm
from crm_tui.shell.app import CrmApp
from screens.index_modals import TextPromptModal
from screens.record import RecordScreen
from screens.record_modals import ChoiceModal
from screens.tasks import TaskList, TasksScreen

TODAY = date(2026, 3, 10)
FIXED_MODULES = ("crm_tui.services.core", "crm_tui.services.records", "crm_tui.services.associations",
                 "crm_tui.services.activities", "crm_tui.services.rules")


@pytest.fixture(autouse=True)
def pinned(monkeypatch):
    """Today is 2026-03-10 and every timestamp the core writes comes from a counter."""
    import importlib

    monkeypatch.setattr(tasks_module, "today", lambda: TODAY)
    ticks = itertools.count()
    start = datetime(2026, 3, 1, 9, 0, 0)

    def fake_now() -> str:
        return (start + timedelta(minutes=next(ticks))).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    for name in FIXED_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "now_iso"):
            monkeypatch.setattr(module, "now_iso", fake_now)


@pytest.fixture
def world(db_path):
    with Crm.open(db_path, user_name="tester") as crm:
        from crm_tui.services.owners import add_owner

        ada = crm.records.create("contacts", {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@acme.test"},
                                 sources.USER).id
        grace = crm.records.create("contacts", {"firstname": "[b]Grace[/b]", "lastname": "Hopper"}, sources.USER).id
        bob = add_owner(crm, "Bob Builder").id

        def task(on, subject, due, **extra):
            return crm.activities.log(("contacts", on), "tasks", {"hs_task_subject": subject, "hs_timestamp": due, **extra},
                                      source=sources.USER).id

        ids = {
            "late": task(ada, "Send quote", "2026-03-08 09:00", hs_task_priority="HIGH", hubspot_owner_id="me"),
            "today": task(grace, "Call [red]Grace[/red]", "2026-03-10 15:30"),
            "soon": task(ada, "Follow up", "2026-03-12 10:00", hubspot_owner_id="me"),
            "bobs": task(ada, "Bob's call", "2026-03-10 11:00", hubspot_owner_id=str(bob)),
        }
        ids.update(ada=ada, grace=grace, bob=bob)
    return ids


def make_app(db_path) -> CrmApp:
    return CrmApp(db_path, crm=Crm.open(db_path, user_name="tester"))


async def open_tasks(pilot, app) -> TasksScreen:
    await pilot.pause()
    app.open_tasks()
    await pilot.pause()
    assert isinstance(app.screen, TasksScreen)
    return app.screen


def lines(screen) -> list[str]:
    tasks = screen.query_one(TaskList)
    return [str(tasks.get_option_at_index(i).prompt).split("\n")[0] for i in range(tasks.option_count)]


def caption(screen) -> str:
    return str(screen.query_one("#caption").render())


async def test_sections_counts_and_done_space_and_undo(db_path, world):
    app = make_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_tasks(pilot, app)
        shown = lines(screen)
        assert shown[0] == "Overdue (1)" and "Send quote" in shown[1] and "High" in shown[1]
        assert shown[2] == "Today (1)" and "Call [red]Grace[/red]" in shown[3]  # literal, mine and unassigned
        assert shown[4] == "Upcoming (1)" and "Follow up" in shown[5]
        assert not any("Bob's call" in line for line in shown)  # Bob's, not mine
        assert "1 overdue · 1 today · 1 upcoming" in caption(screen)
        assert screen.current().id == world["late"]  # the first task, never a heading
        await pilot.press("x")
        await pilot.pause()
        assert lines(screen)[0] == "Overdue (0)" and "0 overdue" in caption(screen)  # counts at once
        assert screen.current().id == world["today"]
        await pilot.press("space")
        await pilot.pause()
        assert "0 overdue · 0 today · 1 upcoming" in caption(screen)
        await pilot.press("u")  # undo: the last one comes back, the counts with it
        await pilot.pause()
        await pilot.pause()
        assert "0 overdue · 1 today" in caption(screen)
    with Crm.open(db_path) as crm:
        assert crm.tasks.get(world["late"])["hs_task_status"] == "COMPLETED"
        assert crm.tasks.get(world["today"]).get("hs_task_status") is None
        ops = crm.journal.list(5)
        assert ops[0].kind == "undo" and ops[1].source == sources.USER


async def test_snooze_snooze_days_reschedule(db_path, world):
    app = make_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.crm.date_format = "%d.%m.%Y"
        screen = await open_tasks(pilot, app)
        await pilot.press("s")  # overdue Send quote: due tomorrow at its time
        await pilot.pause()
        assert "0 overdue · 1 today · 2 upcoming" in caption(screen)
        assert app.crm.tasks.get(world["late"])["hs_timestamp"] == "2026-03-11T09:00:00.000000Z"
        screen._highlight(0)
        assert screen.current().id == world["today"]
        await pilot.press("S")
        await pilot.pause()
        assert isinstance(app.screen, TextPromptModal)
        await pilot.press("ctrl+u", "x", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TextPromptModal)  # not a number: said in place
        await pilot.press("backspace", "3", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TasksScreen)
        assert app.crm.tasks.get(world["today"])["hs_timestamp"] == "2026-03-13T15:30:00.000000Z"
        screen._highlight(0)
        row = screen.current()
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, TextPromptModal)
        await pilot.press(*"2026-13-45", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TextPromptModal)  # refused in place, in one line
        await pilot.press("ctrl+u", *"02.04.2026", "enter")  # the user's date_format
        await pilot.pause()
        assert isinstance(app.screen, TasksScreen)
        assert app.crm.tasks.get(row.id)["hs_timestamp"][:10] == "2026-04-02"


async def test_owner_filter_and_enter_opens_the_linked_record(db_path, world):
    app = make_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_tasks(pilot, app)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, ChoiceModal)
        await pilot.press("down", "down", "down", "enter")  # Mine, Everyone, tester (you), Bob Builder
        await pilot.pause()
        assert "Bob Builder" in caption(screen) and "0 overdue · 1 today · 0 upcoming" in caption(screen)
        assert screen.current().id == world["bobs"]
        await pilot.press("o", "down", "enter")  # everyone
        await pilot.pause()
        assert "everyone · 1 overdue · 2 today · 1 upcoming" in caption(screen)
        screen._highlight(0)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, RecordScreen)
        assert (app.screen.object_name, app.screen.record_id) == ("contacts", world["ada"])
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TasksScreen)


async def test_index_key_and_palette_open_my_tasks(db_path, world):
    app = make_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_object("contacts")
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TasksScreen)
        await pilot.press("q")
        await pilot.pause()
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert commands.count("My tasks") == 1


@pytest.mark.parametrize("theme", ["dark", "high-contrast"])
async def test_sixteen_colours_keeps_every_section_readable(db_path, world, theme, monkeypatch):
    from tests.test_sixteen_colours import settled, unreadable_cells

    monkeypatch.setenv("TEXTUAL_COLOR_SYSTEM", "standard")
    app = make_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = theme
        await open_tasks(pilot, app)
        text, segments = await settled(pilot, app)
    assert unreadable_cells(segments) == []
    plain = re.sub(r"«[^»]*»", "", text)
    for words in ("Overdue (1)", "Today (1)", "Upcoming (1)", "Send quote", "→ Ada Lovelace", "Done", "Snooze a day"):
        assert words in plain  # each section and key said in words, not only in colour


@pytest.mark.parametrize("size", [(80, 24)])
def test_snapshot_my_tasks(snap_compare, db_path, world, size):
    app = make_app(db_path)

    async def run_before(pilot) -> None:
        await pilot.pause()
        app.open_tasks()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_keymap_remaps_the_tasks_keys(db_path, world, tmp_path):
    from crm_tui.shell.keymap import binding_ids

    app = make_app(db_path)
    assert {"tasks.done", "tasks.snooze", "tasks.reschedule", "index.my_tasks"} <= binding_ids(app)
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_keymap({"tasks.done": "ctrl+d"})
        screen = await open_tasks(pilot, app)
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert "0 overdue" in caption(screen)


async def test_ctrl_r_reads_changes_made_elsewhere(db_path, world):
    app = make_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_tasks(pilot, app)
        with Crm.open(db_path) as other:  # the command line, another window
            other.tasks.complete(world["soon"])
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert "1 overdue · 1 today · 0 upcoming" in caption(screen)


async def test_issue_19_done_when_a_won_deal_puts_the_kickoff_task_in_my_tasks(db_path):
    """A workflow creates the Kickoff task when a deal is won; My tasks shows it linked to the deal
    and its contacts; undo of the win takes the task out of the queue again."""
    import yaml

    from tests.test_workflows import KICKOFF, make_sale

    with Crm.open(db_path, user_name="tester") as crm:
        crm.workflows.apply(yaml.safe_load(KICKOFF))
        company, ann, bob, deal = make_sale(crm)
        crm.records.update("deals", deal, {"dealstage": "closedwon"}, sources.USER)
    app = make_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_tasks(pilot, app)
        row = screen.current()
        assert row.subject == "Kickoff call" and row.bucket == "upcoming"
        # the deal, its contacts, and Ann's primary company (the activity rules roll it up from her)
        assert {(o, i) for o, i, _n in row.linked} == {("deals", deal), ("contacts", ann), ("contacts", bob),
                                                     ("companies", company)}
        assert "Big one" in str(screen.query_one(TaskList).get_option_at_index(screen.query_one(TaskList).highlighted).prompt)
        app.crm.journal.undo(source=sources.USER)  # the win, and everything the workflow did
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert "0 overdue · 0 today · 0 upcoming" in caption(screen)
