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
        crm.set_setting("demo", True)  # the app marks this database as the demo on screen
    return path


def fresh_demo_database() -> Path:
    path = data_dir() / "demo.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return build_demo(path)
