"""Benchmark: reports on the big database, against raw SQL on the same file, and the dashboard's
first paint.

- report_group_by_1m: contacts counted by lifecycle stage through `crm.reports.run`, vs a raw
  `SELECT lifecyclestage, COUNT(*) ... GROUP BY lifecyclestage` with sqlite3 (target: within 1.5x).
- report_by_associated_1m: contacts grouped by their primary company's industry (target <= 1 s;
  the baseline is the same join written by hand in raw SQL).
- dashboard_first_paint: from opening the dashboard to its first frame, in a headless app
  (target <= 300 ms; the charts fill in afterwards, off the UI thread).
Medians, alternating with the baseline.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import time
from pathlib import Path


def _median_pair(ours, raw, repeat: int) -> tuple[float, float]:
    a, b = [], []
    for _ in range(repeat):
        start = time.perf_counter(); raw(); b.append(time.perf_counter() - start)
        start = time.perf_counter(); ours(); a.append(time.perf_counter() - start)
    return statistics.median(a) * 1000, statistics.median(b) * 1000


def run(db_path: Path, quick: bool) -> list[dict]:
    from crm_tui.services.core import Crm
    from crm_tui.services.reports import ReportSpec

    repeat = 3 if quick else 7
    results = []
    with Crm.open(db_path) as crm:
        contacts, companies = crm.registry.get("contacts"), crm.registry.get("companies")
        raw_db = sqlite3.connect(str(db_path))
        by_stage = ReportSpec("contacts", group_by="lifecyclestage")
        ours, raw = _median_pair(
            lambda: crm.reports.run(by_stage),
            lambda: raw_db.execute(f"SELECT lifecyclestage, COUNT(*) FROM {contacts.table} "
                                   "WHERE deleted_at IS NULL GROUP BY lifecyclestage").fetchall(), repeat)
        results.append({"name": "report_group_by_1m", "value": round(ours, 1), "unit": "ms", "baseline": round(raw, 1),
                        "ratio": round(ours / raw, 3), "target": "<= 1.5x raw GROUP BY"})
        by_industry = ReportSpec("contacts", group_by="companies.industry")
        ours, raw = _median_pair(
            lambda: crm.reports.run(by_industry),
            lambda: raw_db.execute(
                f"SELECT co.industry, COUNT(*) FROM {contacts.table} c LEFT JOIN association a ON a.from_object = ? "
                f"AND a.from_id = c.id AND a.to_object = ? AND a.is_primary LEFT JOIN {companies.table} co "
                "ON co.id = a.to_id AND co.deleted_at IS NULL WHERE c.deleted_at IS NULL GROUP BY co.industry",
                (contacts.id, companies.id)).fetchall(), repeat)
        results.append({"name": "report_by_associated_1m", "value": round(ours, 1), "unit": "ms",
                        "baseline": round(raw, 1), "ratio": round(ours / raw, 3), "target": "<= 1000 ms"})
        raw_db.close()
    results.append(_dashboard_paint(db_path, repeat))
    return results


def _dashboard_paint(db_path: Path, repeat: int) -> dict:
    from crm_tui.shell.app import CrmApp
    from screens.dashboard import DashboardScreen

    async def measure() -> tuple[list[float], list[float]]:
        app = CrmApp(db_path)
        ours, bare = [], []
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for _ in range(repeat):
                from textual.screen import Screen
                from textual.widgets import Footer, Header, Static

                class Bare(Screen):
                    def compose(self):
                        yield Header(); yield Static("bare"); yield Footer()

                start = time.perf_counter()
                app.push_screen(Bare())
                await pilot.pause()
                bare.append((time.perf_counter() - start) * 1000)
                app.pop_screen()
                await pilot.pause()
                start = time.perf_counter()
                app.open_dashboard()
                await pilot.pause()
                assert isinstance(app.screen, DashboardScreen)
                # until the screen's first frame (the charts fill in afterwards, off the UI thread)
                ours.append((app.screen.first_frame_at - start) * 1000)
                await app.workers.wait_for_complete()
                app.pop_screen()
                await pilot.pause()
        return ours, bare

    ours, bare = asyncio.run(measure())
    value, baseline = statistics.median(ours), statistics.median(bare)
    return {"name": "dashboard_first_paint", "value": round(value, 1), "unit": "ms", "baseline": round(baseline, 1),
            "ratio": round(value / baseline, 3), "target": "<= 300 ms"}
