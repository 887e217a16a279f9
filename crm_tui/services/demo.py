"""The demo database: a fresh file of realistic records, made again on every `crm-tui --demo`."""

from __future__ import annotations

from pathlib import Path

from ..domain import sources
from ..storage.paths import data_dir
from .core import Crm
from .seed import seed


def build_demo(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    with Crm.open(path) as crm:
        seed(crm, contacts=300, companies=60, deals=120, tickets=40, activities=600, seed=7, source=sources.MIGRATION)
        # A few hand-made links so the association features show at once.
        crm.assoc.add(("companies", 2), ("companies", 1), labels=["Parent company"], source=sources.MIGRATION)
        crm.assoc.add(("contacts", 1), ("contacts", 2), labels=["Manager"], source=sources.MIGRATION)
        _demo_tasks(crm)
        crm.set_setting("demo", True)  # the app marks this database as the demo on screen
    return path


# (title, days from now, hour, priority, linked record): overdue, today and upcoming, so that My tasks
# (`t` on an index) shows each bucket on the demo
DEMO_TASKS = [
    ("Send the revised quote", -3, 10, "HIGH", ("deals", 5)),
    ("Call back about the renewal", -1, 15, "MEDIUM", ("contacts", 11)),
    ("Check the ticket is solved", -1, 9, "LOW", ("contacts", 12)),
    ("Prepare the kickoff agenda", 0, 11, "HIGH", ("deals", 6)),
    ("Follow up on the demo", 0, 16, "MEDIUM", ("contacts", 13)),
    ("Book the site visit", 1, 10, "MEDIUM", ("contacts", 14)),
    ("Introduce the new account manager", 2, 14, "LOW", ("contacts", 15)),
    ("Review the contract draft", 3, 9, "HIGH", ("deals", 7)),
    ("Quarterly check-in", 7, 10, "LOW", ("contacts", 16)),
    ("Ask for a referral", 14, 11, "LOW", ("contacts", 17)),
]


def _demo_tasks(crm) -> None:
    from datetime import datetime, timedelta, timezone

    today = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    for title, days, hour, priority, (obj, record_id) in DEMO_TASKS:
        due = (today + timedelta(days=days)).replace(hour=hour)
        task = crm.records.create("tasks", {"hs_task_subject": title, "hs_timestamp": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                            "hs_task_status": "NOT_STARTED", "hs_task_priority": priority,
                                            "hs_task_type": "TODO"}, source=sources.MIGRATION)
        crm.assoc.add((obj, record_id), ("tasks", task.id), source=sources.MIGRATION)


def fresh_demo_database() -> Path:
    path = data_dir() / "demo.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return build_demo(path)
