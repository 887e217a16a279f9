"""Benchmark: the duplicate finder over every contact of the big database (target: <= 60 s at
1,000,000 contacts), beside a raw read of the same columns with sqlite3 (the floor: reading them)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path


def run(db_path: Path, quick: bool) -> list[dict]:
    from crm_tui.services.core import Crm

    with Crm.open(db_path) as crm:
        table = crm.registry.get("contacts").table
        start = time.perf_counter()
        conn = sqlite3.connect(str(db_path))
        n = sum(1 for _ in conn.execute(f"SELECT id, firstname, lastname, email, hs_additional_emails, phone, "
                                        f"mobilephone FROM {table} WHERE deleted_at IS NULL"))
        conn.close()
        raw = time.perf_counter() - start
        start = time.perf_counter()
        scan = crm.duplicates.find("contacts")
        ours = time.perf_counter() - start
    return [{"name": "duplicates_1m", "value": round(ours, 2), "unit": "s", "baseline": round(raw, 2),
             "ratio": round(ours / raw, 2) if raw else None, "target": "<= 60 s at 1M",
             "note": f"{n:,} contacts, {len(scan.pairs):,} likely pairs"}]
