"""Benchmarks of the operation journal and of set-based merges (`--only undo`).

    python benchmarks/bench_undo.py [--links N] [--edits N]

`run(workdir, quick)` returns two figures, each beside a baseline measured in the same run:
- merge_40k_links: `crm.merger.merge` of a company linked with 40,000 contacts (each its primary
  company; 4,000 of them also linked with the surviving company) into another company, with every
  history row; baseline: raw SQL moving the same rows (UPDATE of both edges' ends, DELETE of the
  duplicates) on an identical copy of the database. Target: under 5 s.
- undo_merge_40k_links: `crm.journal.undo()` of that merge (set-based), checked exact: every edge,
  primary flag, label and link count as before the merge; baseline: the merge itself. Target: under 2 s.
- undo_bulk_edit_10k: `crm.journal.undo()` of a bulk edit of 10,000 contacts; baseline: the bulk edit
  itself (`bulk.bulk_update`). Target: under 2 s.
Quick runs (CI smoke) use 2,000 links and 1,000 edits.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def build_merge_db(path: Path, links: int) -> tuple[int, int]:
    """Two companies: `other` with `links` contacts (its contacts' primary company), `keep` with a
    tenth of them too. Built through the core's bulk paths."""
    from crm_tui.domain import sources
    from crm_tui.services.core import Crm

    with Crm.open(path) as crm:
        crm.set_setting("auto_associate_by_domain", False)
        reg = crm.registry
        with crm.operation("bench_merge", sources.MIGRATION) as op:
            first, last = crm.records.bulk_insert(
                reg.get("contacts"), ["firstname", "lastname", "email", "hs_email_domain"],
                [(f"F{i}", f"L{i}", f"c{i}@merge.test", "merge.test") for i in range(links)], op)
            keep, other = crm.records.bulk_insert(reg.get("companies"), ["name", "domain"],
                                                  [("Keep Co", "keep.test"), ("Other Co", "other.test")], op)
            crm.records.index_range(reg.get("contacts"), first, last)
            crm.records.index_range(reg.get("companies"), keep, other)
            pairs = [(("contacts", c), ("companies", other)) for c in range(first, last + 1)]
            pairs += [(("contacts", c), ("companies", keep)) for c in range(first, first + links // 10)]
            crm.assoc.bulk_link(pairs, op, holders_are_new=False)
    return keep, other


def raw_move(path: Path, keep: int, other: int) -> float:
    """The same rows moved with plain SQL in one transaction: no history, no checks."""
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None)
    obj = conn.execute("SELECT id FROM object_type WHERE name = 'companies'").fetchone()[0]
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    # duplicates: contacts linked with both lose the edge to `other`
    conn.execute("DELETE FROM association WHERE id IN (SELECT b.id FROM association b JOIN association k "
                 "ON k.from_object = b.from_object AND k.from_id = b.from_id AND k.to_object = ? AND k.to_id = ? "
                 "WHERE b.to_object = ? AND b.to_id = ?)", (obj, keep, obj, other))
    conn.execute("DELETE FROM association WHERE from_object = ? AND from_id = ? AND id NOT IN (SELECT a.id "
                 "FROM association a JOIN association b ON b.from_object = a.to_object AND b.from_id = a.to_id "
                 "AND b.to_object = a.from_object AND b.to_id = a.from_id WHERE a.from_object = ? AND a.from_id = ?)",
                 (obj, other, obj, other))
    conn.execute("UPDATE association SET to_id = ? WHERE to_object = ? AND to_id = ? AND from_object != ?",
                 (keep, obj, other, obj))
    conn.execute("UPDATE association SET from_id = ? WHERE from_object = ? AND from_id = ?", (keep, obj, other))
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def bench_merge(workdir: Path, links: int) -> dict:
    from crm_tui.services import integrity
    from crm_tui.domain import sources
    from crm_tui.services.core import Crm

    template = workdir / f"merge-{links}.db"
    if not template.exists():
        build_merge_db(template, links)
    with Crm.open(template) as crm:
        keep = crm.records.list("companies", limit=2).rows
        keep_id, other_id = keep[0]["id"], keep[1]["id"]
    raw_copy = workdir / f"merge-{links}-raw.db"
    shutil.copyfile(template, raw_copy)
    baseline = raw_move(raw_copy, keep_id, other_id)
    core_copy = workdir / f"merge-{links}-core.db"
    shutil.copyfile(template, core_copy)
    with Crm.open(core_copy) as crm:
        before = link_state(crm)
        start = time.perf_counter()
        crm.merger.merge("companies", keep_id, other_id, source=sources.USER)
        seconds = time.perf_counter() - start
        moved = len(crm.assoc.linked_ids(("companies", keep_id), "contacts"))
        problems = integrity.check_counts(crm.registry) + integrity.check_primary(crm.registry)
        start = time.perf_counter()
        crm.journal.undo(source=sources.USER)
        undo_seconds = time.perf_counter() - start
        exact = link_state(crm) == before
    assert moved == links, (moved, links)
    assert problems == [], problems[:3]
    assert exact, "the undo of the merge did not bring back exactly the links there were"
    for p in (raw_copy, core_copy):
        p.unlink(missing_ok=True)
    from benchmarks.run import figure

    return [figure("merge_40k_links" if links == 40_000 else f"merge_{links}_links", seconds * 1000, "ms",
                   baseline * 1000, target="< 5,000 ms", note=f"{links:,} links; baseline raw SQL moving the same rows"),
            figure("undo_merge_40k_links" if links == 40_000 else f"undo_merge_{links}_links", undo_seconds * 1000,
                   "ms", seconds * 1000, target="< 2,000 ms",
                   note=f"{links:,} links, exact (every edge, primary, label, count); baseline the merge itself")]


def link_state(crm) -> tuple:
    """Every edge with its primary flag, every label and every link count, in a comparable form."""
    db = crm.db
    return (sorted(db.execute_sql("SELECT from_object, from_id, to_object, to_id, is_primary FROM association").fetchall()),
            sorted(db.execute_sql("SELECT a.from_object, a.from_id, a.to_object, a.to_id, l.label_id FROM association_label l "
                                  "JOIN association a ON a.id = l.association_id").fetchall()),
            sorted(db.execute_sql("SELECT * FROM association_count WHERE n > 0").fetchall()))


def bench_undo_bulk_edit(workdir: Path, edits: int) -> dict:
    from crm_tui.services import bulk
    from crm_tui.domain import sources
    from crm_tui.services.core import Crm

    path = workdir / f"undo-bulk-{edits}.db"
    path.unlink(missing_ok=True)
    with Crm.open(path) as crm:
        crm.set_setting("auto_associate_by_domain", False)
        with crm.operation("bench_undo", sources.MIGRATION) as op:
            first, last = crm.records.bulk_insert(
                crm.registry.get("contacts"), ["firstname", "lastname", "email", "hs_email_domain", "jobtitle"],
                [(f"F{i}", f"L{i}", f"u{i}@undo.test", "undo.test", "Buyer") for i in range(edits)], op)
            crm.records.index_range(crm.registry.get("contacts"), first, last)
        ids = list(range(first, last + 1))
        start = time.perf_counter()
        result = bulk.bulk_update(crm, "contacts", ids, {"jobtitle": "Head buyer"}, source=sources.USER)
        edit_seconds = time.perf_counter() - start
        assert result.done == edits
        start = time.perf_counter()
        crm.journal.undo(source=sources.USER)
        undo_seconds = time.perf_counter() - start
        model = crm.registry.get("contacts").model
        assert model.select().where(model.jobtitle == "Buyer").count() == edits
    path.unlink(missing_ok=True)
    from benchmarks.run import figure

    return figure("undo_bulk_edit_10k" if edits == 10_000 else f"undo_bulk_edit_{edits}", undo_seconds * 1000, "ms",
                  edit_seconds * 1000, target="< 2,000 ms", note=f"{edits:,} contacts; baseline the bulk edit itself")


def run(workdir: Path, quick: bool) -> list[dict]:
    links, edits = (2_000, 1_000) if quick else (40_000, 10_000)
    return [*bench_merge(workdir, links), bench_undo_bulk_edit(workdir, edits)]


if __name__ == "__main__":
    import argparse
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=40_000)
    parser.add_argument("--edits", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for result in (*bench_merge(Path(tmp), args.links), bench_undo_bulk_edit(Path(tmp), args.edits)):
            print(result)
