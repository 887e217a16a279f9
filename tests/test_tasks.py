"""Tasks as a queue: the core API (queue, counts, complete, snooze, reschedule) on real SQLite files,
and `crm-tui tasks`. Today is pinned: tasks.today() is the one clock the queue reads."""

from __future__ import annotations

import json
from datetime import date

import pytest

from crm_tui.cli.main import main
from crm_tui.domain import sources
from crm_tui.domain.errors import InvalidValue, NotFound
from crm_tui.services import tasks as tasks_module
from crm_tui.services.core import Crm

TODAY = date(2026, 3, 10)
pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch):
    monkeypatch.setattr(tasks_module, "today", lambda: TODAY)


def build(crm) -> dict:
    """Ada at Acme with a deal; tasks overdue, today, upcoming, without a due date, done, deleted."""
    acme = crm.records.create("companies", {"name": "Acme", "domain": "acme.test"}, sources.USER).id
    ada = crm.records.create("contacts", {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@acme.test"},
                             sources.USER).id
    deal = crm.records.create("deals", {"dealname": "Big deal", "dealstage": "appointmentscheduled"}, sources.USER).id
    crm.assoc.add(("deals", deal), ("contacts", ada), source=sources.USER)
    from crm_tui.services.owners import add_owner

    bob = add_owner(crm, "Bob Builder", "bob@acme.test").id

    def task(subject, due, **extra):
        values = {"hs_task_subject": subject, **extra}
        if due is not None:
            values["hs_timestamp"] = due
        return crm.activities.log(("contacts", ada), "tasks", values, source=sources.USER).id

    ids = {
        "late": task("Send quote", "2026-03-08 09:00", hs_task_priority="HIGH", hubspot_owner_id="me"),
        "today": task("Call Ada", "2026-03-10 15:30", hubspot_owner_id=str(bob)),
        "today_early": task("Email Ada", "2026-03-10 00:00", hubspot_owner_id="me"),
        "soon": task("Follow up", "2026-03-12 10:00", hubspot_owner_id="me"),
        "done": task("Old one", "2026-03-01 10:00", hs_task_status="COMPLETED"),
        "gone": task("Deleted one", "2026-03-09 10:00"),
    }
    crm.records.delete("tasks", ids["gone"], sources.USER)
    crm.records.update("tasks", ids["soon"], {"hs_timestamp": ""}, sources.USER)  # no due date: upcoming, last
    ids["soon2"] = task("Prepare demo", "2026-04-01 08:00")
    ids.update(acme=acme, ada=ada, deal=deal, bob=bob)
    return ids


@pytest.fixture
def world(db_path):
    with Crm.open(db_path, user_name="tester") as crm:
        ids = build(crm)
    return ids


def test_queue_sections_order_owner_and_links(db_path, world):
    with Crm.open(db_path, user_name="tester") as crm:
        rows = crm.tasks.queue()
        assert [(r.bucket, r.subject) for r in rows] == [
            ("overdue", "Send quote"), ("today", "Email Ada"), ("today", "Call Ada"),
            ("upcoming", "Prepare demo"), ("upcoming", "Follow up")]
        late = rows[0]
        assert late.priority == "HIGH" and late.priority_label == "High" and late.owner == "tester"
        # linked to the contact it was logged on, its primary company and its open deal
        assert late.linked == [("contacts", world["ada"], "Ada Lovelace"), ("companies", world["acme"], "Acme"),
                               ("deals", world["deal"], "Big deal")]
        assert crm.tasks.counts() == {"overdue": 1, "today": 2, "upcoming": 2}
        assert [r.subject for r in crm.tasks.queue("today", owner="Bob Builder")] == ["Call Ada"]
        assert [r.subject for r in crm.tasks.queue("all", owner="me")] == ["Send quote", "Email Ada", "Follow up"]
        assert crm.tasks.counts(owner="bob@acme.test") == {"overdue": 0, "today": 1, "upcoming": 0}
        with pytest.raises(InvalidValue, match="no owner named 'Nobody'"):
            crm.tasks.queue(owner="Nobody")
        with pytest.raises(InvalidValue, match="due: 'tomorrow' is not one of"):
            crm.tasks.queue("tomorrow")


def test_complete_snooze_reschedule_are_undoable_operations_with_history(db_path, world):
    with Crm.open(db_path, user_name="tester") as crm:
        crm.date_format = "%d/%m/%Y"
        assert "completed" in crm.tasks.complete(world["late"], source=sources.USER)
        assert crm.tasks.counts()["overdue"] == 0
        with pytest.raises(InvalidValue, match="already completed"):
            crm.tasks.complete(world["late"])
        op = crm.journal.list(1)[0]
        assert op.kind == "update" and op.source == sources.USER and op.undoable
        history = crm.history.property_history("tasks", world["late"], prop="hs_task_status")
        assert history[0].new_value == "COMPLETED" and history[0].source == sources.USER
        crm.journal.undo(op.id)
        assert crm.tasks.counts()["overdue"] == 1

        # snooze an overdue task: due tomorrow (from today, not from its old due date), same time
        said = crm.tasks.snooze(world["late"], 1)
        assert crm.tasks.get(world["late"])["hs_timestamp"] == "2026-03-11T09:00:00.000000Z"
        subject = crm.tasks.get(world["late"])["hs_task_subject"]
        assert said.startswith(f"task {world['late']} ({subject}) snoozed to")  # named, as done is
        crm.tasks.snooze(world["today"], 3)
        assert crm.tasks.get(world["today"])["hs_timestamp"] == "2026-03-13T15:30:00.000000Z"
        # reschedule in the user's date format keeps the time of day; a written time wins
        crm.tasks.reschedule(world["today"], "01/04/2026")
        assert crm.tasks.get(world["today"])["hs_timestamp"] == "2026-04-01T15:30:00.000000Z"
        crm.tasks.reschedule(world["today"], "2026-04-02 08:15")
        assert crm.tasks.get(world["today"])["hs_timestamp"] == "2026-04-02T08:15:00.000000Z"
        with pytest.raises(InvalidValue, match="is not a date"):
            crm.tasks.reschedule(world["today"], "next week")
        with pytest.raises(InvalidValue, match="out of range"):
            crm.tasks.snooze(world["today"], 0)
        with pytest.raises(NotFound):
            crm.tasks.complete(world["gone"])
        with pytest.raises(NotFound):
            crm.tasks.snooze(10**6)
        undone = crm.journal.undo()
        assert undone.op_id and crm.tasks.get(world["today"])["hs_timestamp"] == "2026-04-01T15:30:00.000000Z"


@pytest.fixture
def cli(db_path, capsys):
    def run(*args, code=0):
        result = main(["--db", str(db_path), *args])
        out, err = capsys.readouterr()
        assert result == code, (args, out, err)
        return out if code == 0 else err
    return run


def test_tasks_command_line(cli, world):
    out = cli("tasks")
    assert out.splitlines()[0] == "Overdue (1)" and "Send quote  [High]  @tester  -> contacts:" in out
    assert "Today (2)" in out and "Upcoming (2)" in out
    rows = json.loads(cli("tasks", "--due", "today", "--owner", "me", "--json"))
    assert [r["subject"] for r in rows] == ["Email Ada"] and rows[0]["bucket"] == "today"
    assert rows[0]["linked"][0] == {"object": "contacts", "id": world["ada"], "display_name": "Ada Lovelace"}
    assert "completed" in cli("tasks", "done", str(world["late"]))
    assert "Overdue" not in cli("tasks")
    assert "2026-03-11 15:30" in cli("tasks", "snooze", str(world["today"]))
    assert "2026-03-13 15:30" in cli("tasks", "snooze", str(world["today"]), "--days", "2")
    assert "2026-05-01 15:30" in cli("tasks", "reschedule", str(world["today"]), "2026-05-01")
    assert json.loads(cli("tasks", "done", str(world["today"]), "--json"))["status"] == "COMPLETED"
    history = cli("history", "tasks", str(world["today"]))
    assert "API" in history


@pytest.mark.parametrize("args, fragment", [
    (("tasks", "done"), "give the task's ID"),
    (("tasks", "done", "999"), "no task with id 999"),
    (("tasks", "reschedule", "1"), "give the new due date"),
    (("tasks", "reschedule", "1", "soon"), "'soon' is not a date"),
    (("tasks", "snooze", "1", "--days", "0"), "days 0 is out of range"),
    (("tasks", "--owner", "Nobody"), "no owner named 'Nobody'"),
    (("tasks", "--due", "yesterday"), "invalid choice"),
    (("tasks", "5"), "invalid choice"),
    (("tasks", "done", "1", "extra"), "unexpected argument"),
])
def test_tasks_bad_input_is_one_line_exit_2(cli, world, args, fragment):
    err = cli(*args, code=2)
    assert fragment in err and len(err.strip().splitlines()) == 1
    assert "Send quote" in cli("tasks")  # nothing changed
