"""crm-tui benchmarks: each figure beside a baseline measured in the same run, on the same machine.

    python benchmarks/run.py [--rows N] [--json FILE] [--only NAME,...] [--workdir DIR]

Builds a synthetic database (default 1,000,000 contacts with companies, deals, notes and their
associations), then measures the named figures. These machines are noisy, so figures are medians
and the verdict is a ratio to the baseline. Prints a table and writes JSON
[{"name", "value", "unit", "baseline", "ratio", "target"}] (ratio = value / baseline).
Benchmarks are not timed tests: CI runs only `--rows 2000` as a smoke.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crm_tui.domain import sources  # noqa: E402
from crm_tui.services.core import Crm  # noqa: E402
from crm_tui.services.seed import seed  # noqa: E402


def median_ms(fn, repeat: int = 25) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def figure(name, value, unit, baseline, target=None, note=""):
    ratio = value / baseline if baseline else None
    return {"name": name, "value": round(value, 4), "unit": unit, "baseline": round(baseline, 4),
            "ratio": round(ratio, 3) if ratio is not None else None, "target": target, "note": note}


# -- building the database ------------------------------------------------------------------

def build_database(path: Path, rows: int) -> dict:
    """rows contacts, rows/50 companies, rows/5 deals, rows notes; plus one company with 20,000
    contacts (fewer on small runs). Returns facts the figures need."""
    start = time.perf_counter()
    with Crm.open(path) as crm:
        crm.set_setting("auto_associate_by_domain", False)
        seed(crm, contacts=rows, companies=max(10, rows // 50), deals=max(10, rows // 5), activities=rows,
             seed=1, source=sources.MIGRATION)
        big_company = crm.records.create("companies", {"name": "Big Co", "domain": "bigco.example"}).id
        fans = min(20_000, max(100, rows // 5))
        with crm.operation("bench", sources.MIGRATION) as op:
            crm.assoc.bulk_link(((("contacts", cid), ("companies", big_company)) for cid in range(1, fans + 1)), op)
        edges = crm.db.execute_sql("SELECT count(*) FROM association").fetchone()[0]
    return {"seconds": time.perf_counter() - start, "big_company": big_company, "fans": fans, "edges": edges}


# -- foundation figures -----------------------------------------------------------------------

def bench_core_bulk_create(workdir: Path, n: int) -> list[dict]:
    """Rows/s through the core's bulk path (one operation, Peewee-generated SQL, executemany,
    full-text index) vs raw sqlite3 executemany of the same rows into an identical table."""
    rng = random.Random(5)
    rows = [(f"First{i}", f"Last{rng.randrange(1000)}", f"p{i}@bulk.example", "bulk.example", "lead") for i in range(n)]
    columns = ["firstname", "lastname", "email", "hs_email_domain", "lifecyclestage"]

    def through_core():
        path = workdir / f"bulk-core-{time.perf_counter_ns()}.db"
        with Crm.open(path) as crm:
            meta = crm.registry.get("contacts")
            start = time.perf_counter()
            with crm.operation("bench", sources.API) as op:
                first, last = crm.records.bulk_insert(meta, columns, rows, op)
                crm.records.index_range(meta, first, last)
            return time.perf_counter() - start

    def raw():
        path = workdir / f"bulk-raw-{time.perf_counter_ns()}.db"
        with Crm.open(path):
            pass  # same schema, same indexes
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        now = "2026-01-01T00:00:00.000000Z"
        start = time.perf_counter()
        with conn:
            conn.executemany(
                "INSERT INTO obj_contacts (firstname, lastname, email, hs_email_domain, lifecyclestage, createdate, "
                "lastmodifieddate, created_op) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (r + (now, now, 1) for r in rows))
        conn.close()
        return time.perf_counter() - start

    core_s = statistics.median(through_core() for _ in range(3))
    raw_s = statistics.median(raw() for _ in range(3))
    core_rate, raw_rate = n / core_s, n / raw_s
    result = figure("core_bulk_create", core_rate, "rows/s", raw_rate, ">= 0.5",
                    "core path includes its operation row and the full-text index")
    return [result]


def bench_reads(path: Path, facts: dict, rows: int) -> list[dict]:
    from crm_tui.services.paging import ViewPager, ViewSpec
    from crm_tui.services.query import Sort

    out = []
    with Crm.open(path) as crm:
        # page_fetch_deep: a 50-row page at depth ~99% by keyset vs page 1, sorted by last name
        spec = ViewSpec("contacts", ["firstname", "lastname", "email"], sort=[Sort("lastname")])
        pager = ViewPager(crm, spec)
        total = pager.count()
        deep = int(total * 0.99)
        pager.fetch_rows(deep - 1, 1)  # learn the key just before the deep page (as paging does)
        key = pager._keys[deep - 1]
        first_page = median_ms(lambda: crm.records.list("contacts", sort=[Sort("lastname")], limit=50))
        deep_page = median_ms(lambda: crm.records.list("contacts", sort=[Sort("lastname")], limit=50, after=key))
        out.append(figure("page_fetch_deep", deep_page, "ms", first_page, "<= 2",
                          f"page at row {deep:,} of {total:,} vs page 1"))

        ids = [random.Random(3).randrange(1, rows + 1) for _ in range(200)]
        it = iter(ids * 10)
        core = median_ms(lambda: crm.records.get("contacts", next(it)), repeat=200)
        conn = sqlite3.connect(path)
        it2 = iter(ids * 10)
        raw = median_ms(lambda: conn.execute("SELECT * FROM obj_contacts WHERE id = ?", (next(it2),)).fetchone(), repeat=200)
        out.append(figure("get_by_id", core, "ms", raw, None, "crm.records.get vs raw sqlite3 SELECT by id"))

        # assoc_record_groups: the counts of every link group of a company with many contacts
        company = ("companies", facts["big_company"])
        meta_id = crm.registry.get("companies").id
        core = median_ms(lambda: crm.assoc.counts(company), repeat=50)
        raw = median_ms(lambda: conn.execute(
            "SELECT to_object, count(*) FROM association WHERE from_object = ? AND from_id = ? GROUP BY to_object",
            (meta_id, facts["big_company"])).fetchall(), repeat=50)
        out.append(figure("assoc_record_groups", core, "ms", raw, "<= 1 ms",
                          f"company with {facts['fans']:,} contacts; {facts['edges']:,} association rows"))
        sidebar = median_ms(lambda: crm.assoc.groups(company, per_group=20), repeat=20)
        out.append(figure("assoc_sidebar_groups", sidebar, "ms", raw, None,
                          "groups with counts plus the first 20 cards of each (names, labels, primary)"))

        # assoc_index_columns: associated companies, deals and primary company for a 50-row page
        page_ids = [r["id"] for r in crm.records.list("contacts", limit=50, after=(rows // 2,)).rows]
        core = median_ms(lambda: crm.assoc.index_columns("contacts", page_ids, ["companies", "deals"]), repeat=50)
        marks = ",".join("?" * len(page_ids))
        contacts_id = crm.registry.get("contacts").id
        raw = median_ms(lambda: conn.execute(
            f"SELECT from_id, to_id, is_primary FROM association WHERE from_object = ? AND from_id IN ({marks}) "
            "AND to_object = ?", (contacts_id, *page_ids, meta_id)).fetchall(), repeat=50)
        out.append(figure("assoc_index_columns", core, "ms", raw, "<= 5 ms",
                          "two associated-object columns with names + primary flag for 50 rows"))
        conn.close()
    return out


def bench_cli_cold_start(repeat: int = 7) -> list[dict]:
    exe = Path(sys.executable).with_name("crm-tui")
    command = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "crm_tui.cli.main", "--help"]

    def timed(cmd):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return (time.perf_counter() - start) * 1000

    ours = statistics.median(timed(command) for _ in range(repeat))
    base = statistics.median(timed([sys.executable, "-c", "import textual.app"]) for _ in range(repeat))
    return [figure("cli_cold_start", ours, "ms", base, "<= 1.5", "`crm-tui --help` vs `python -c 'import textual.app'`")]


# -- running --------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="contacts in the synthetic database")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--only", help="comma-separated figure groups: core,assoc,cli,app,index,record,import,undo,report,clean "
                        "(postgresql: index,import,writers)")
    parser.add_argument("--workdir", help="keep the databases here (default: a temporary directory)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                        help="postgresql: the team database's figures (benchmarks/bench_postgresql.py)")
    parser.add_argument("--pg-url", help="a PostgreSQL server to use (default: a throwaway cluster)")
    parser.add_argument("--pg-db", help="postgresql: an already-loaded crm-tui database for the index figures "
                        "(e.g. filled by `crm-tui copy /tmp/speed_1m.db URL`) instead of seeding --rows contacts")
    args = parser.parse_args(argv)
    quick = args.rows < 100_000
    groups = set(args.only.split(",")) if args.only else {"core", "assoc", "cli", "app", "index", "record", "import", "undo", "report", "clean"}
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.backend == "postgresql":
            from benchmarks import bench_postgresql

            pg_groups = groups & {"index", "import", "writers"} if args.only else None
            results += bench_postgresql.run(workdir, args.rows, args.pg_url or os.environ.get("CRM_TUI_BENCH_PG_URL"),
                                            quick, args.pg_db, pg_groups)
            groups = set()
        main_db = workdir / f"bench-{args.rows}.db"
        facts = None
        if groups & {"core", "assoc", "index", "app", "report", "clean"} and args.backend == "sqlite":
            if not main_db.exists():
                print(f"building a database of {args.rows:,} contacts ...", file=sys.stderr)
                facts = build_database(main_db, args.rows)
                print(f"  built in {facts['seconds']:.1f} s ({facts['edges']:,} association rows)", file=sys.stderr)
            else:
                with Crm.open(main_db) as crm:
                    big = crm.records.list("companies", [__import__("crm_tui.services.query", fromlist=["Filter"]).Filter("domain", "eq", "bigco.example")]).rows[0]["id"]
                    facts = {"big_company": big, "fans": len(crm.assoc.linked_ids(("companies", big), "contacts")),
                             "edges": crm.db.execute_sql("SELECT count(*) FROM association").fetchone()[0]}
        if "core" in groups:
            results += bench_core_bulk_create(workdir, min(args.rows, 200_000))
        if groups & {"core", "assoc"}:
            results += [r for r in bench_reads(main_db, facts, args.rows)
                        if ("core" in groups and not r["name"].startswith("assoc")) or ("assoc" in groups and r["name"].startswith("assoc"))]
        if "cli" in groups:
            results += bench_cli_cold_start()
        if "app" in groups:
            from benchmarks import bench_app

            results += bench_app.run(main_db, quick)
        if "report" in groups:
            from benchmarks import bench_report

            results += bench_report.run(main_db, quick)
        if "clean" in groups:
            from benchmarks import bench_clean

            results += bench_clean.run(main_db, quick)
        for group, module in (("index", "bench_index"), ("record", "bench_record"), ("import", "bench_import"),
                              ("undo", "bench_undo")):
            if group not in groups:
                continue
            try:
                mod = __import__(f"benchmarks.{module}", fromlist=["run"])
            except ModuleNotFoundError:
                continue
            if group == "index":
                small = workdir / "bench-10k.db"
                if not small.exists():
                    build_database(small, min(10_000, args.rows))
                results += mod.run(main_db, small, quick)
            elif group == "record":
                results += mod.run(workdir / "bench-record.db", quick)
            else:
                results += mod.run(workdir, quick)
    print(f"{'figure':<28} {'value':>12} {'baseline':>12} {'ratio':>8}  target")
    for r in results:
        unit = r["unit"]
        print(f"{r['name']:<28} {r['value']:>9.3f} {unit:<3}{'':0} {r['baseline']:>9.3f}    {str(r['ratio']):>8}  {r.get('target') or ''}"
              + (f"  ({r['note']})" if r.get("note") else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
