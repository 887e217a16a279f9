"""Import benchmarks.

    python benchmarks/bench_import.py [--quick] [WORKDIR]

`run(workdir, quick)` returns [{"name", "value", "unit", "baseline", "ratio", ...}]:

- import_contacts_with_links: a CSV of 100k contacts (first name, last name, email, phone, job title,
  "Associated Company IDs") imported into a database holding 1,000 companies, through the real
  import path (csvread, per-cell validation with records.coerce_value, dedupe lookups by email,
  bulk insert, FTS, links with history, batches as child operations). Baseline, in the
  same run: the same file read with the csv module and written with raw sqlite3 executemany into
  the same schema (the contacts table with its indexes, the association table with its indexes and
  count triggers; both edges of each link), no validation, no history, no FTS, one transaction.
  value and baseline are rows/s; ratio = value / baseline (target >= 0.5).
- import_peak_memory: peak RSS increase (MiB) of a fresh process importing a 1M-row contacts file
  (quick mode: 100k rows, said in "note"). Target < 200.
- import_wide_hubspot: a 100k-row HubSpot contacts export with 300 columns (291 custom properties
  created on the fly, owners created, HubSpot IDs, "Associated Company IDs") imported with no flags,
  against the same cells written with raw executemany into the same tables (the contacts table
  with its 300 columns, associations both ways, the HubSpot IDs). Target >= 0.4; and its peak RSS
  increase (import_wide_hubspot_memory), target < 250 MiB. Quick mode: 5,000 rows.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

COMPANIES = 1000
HEADERS = ["First Name", "Last Name", "Email", "Phone Number", "Job Title", "Associated Company IDs"]


def write_contacts_csv(path: Path, rows: int, companies: int = COMPANIES, first_company: int = 1) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADERS)
        for i in range(rows):
            w.writerow([f"Ann{i % 97}", f"Lee{i % 89}", f"ann.lee.{i}@example{i % 50}.org", f"+1 555 {i % 10_000_000:07d}",
                        "Buyer", str(first_company + i % companies)])


def _fresh_crm(path: Path):
    from crm_tui.services.core import Crm
    from crm_tui.services.seed import seed

    crm = Crm.open(path, user_name="bench")
    crm.overrides["auto_associate_by_domain"] = False  # example*.org: no company has these domains anyway
    seed(crm, companies=COMPANIES)
    return crm


def _baseline(db_source: Path, csv_path: Path, workdir: Path) -> float:
    """csv module + raw sqlite3 executemany into the same schema, one transaction: rows/s."""
    target = workdir / "baseline.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    src = sqlite3.connect(db_source)
    ddl = [sql for (sql,) in src.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name IN ('obj_contacts', 'association', 'association_count') "
        "AND sql IS NOT NULL ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END")]
    src.close()
    conn = sqlite3.connect(target)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # as crm_tui.storage.dialect.pragmas
    conn.execute("PRAGMA cache_size=-65536")  # the app's page cache too: the same indexes fit the same memory
    for sql in ddl:
        conn.execute(sql)
    conn.commit()
    started = time.perf_counter()
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        rows, links = [], []
        now = "2026-01-01T00:00:00.000000Z"
        for i, (first, last, email, phone, job, company) in enumerate(reader, start=1):
            rows.append((first, last, email, phone, job, now, now))
            links.append((1, i, 2, int(company), 1, now))
            links.append((2, int(company), 1, i, 1, now))
    with conn:
        conn.executemany("INSERT INTO obj_contacts (firstname, lastname, email, phone, jobtitle, createdate, "
                         "lastmodifieddate) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO association (from_object, from_id, to_object, to_id, is_primary, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", links)
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


def _import_once(workdir: Path, csv_path: Path, rows: int) -> tuple[float, Path]:
    """Seconds to import the file into a fresh database with its companies; the database path."""
    from crm_tui.importing import importer

    db_path = workdir / "import_bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    crm = _fresh_crm(db_path)
    try:
        spec = importer.plan_import(crm, csv_path, ["contacts"])
        spec.error_dir = str(workdir)
        started = time.perf_counter()
        result = importer.run_import(crm, spec)
        elapsed = time.perf_counter() - started
        assert result.created.get("contacts") == rows and result.linked == rows and result.failed == 0, result
    finally:
        crm.close()
    return elapsed, db_path


def bench_contacts_with_links(workdir: Path, rows: int = 100_000, repeat: int = 3) -> dict:
    """Our import and the baseline, alternately `repeat` times each (the machine's load drifts);
    medians of both."""
    csv_path = workdir / "contacts_100k.csv"
    write_contacts_csv(csv_path, rows)
    ours_runs, base_runs = [], []
    for _ in range(repeat):
        elapsed, db_path = _import_once(workdir, csv_path, rows)
        ours_runs.append(rows / elapsed)
        base_runs.append(_baseline(db_path, csv_path, workdir))
    ours, base = statistics.median(ours_runs), statistics.median(base_runs)
    return {"name": "import_contacts_with_links", "value": round(ours), "unit": "rows/s", "baseline": round(base),
            "ratio": round(ours / base, 3), "target": ">= 0.5",
            "note": f"{rows} contacts, each linked to one of {COMPANIES} companies; median of {repeat} runs, "
                    f"alternating with the baseline; {rows / ours:.1f} s"}


_CHILD = r"""
import json, resource, sys, threading
sys.path.insert(0, sys.argv[1])
from crm_tui.services.core import Crm
from crm_tui.importing import importer
crm = Crm.open(sys.argv[2], user_name="bench")
crm.overrides["auto_associate_by_domain"] = False
spec = importer.plan_import(crm, sys.argv[3], ["contacts"])
spec.error_dir = sys.argv[4]
def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
before = rss_kib()
peak = [before]
stop = threading.Event()
def watch():
    while not stop.wait(0.05):
        peak[0] = max(peak[0], rss_kib())
t = threading.Thread(target=watch, daemon=True); t.start()
result = importer.run_import(crm, spec)
stop.set(); t.join()
peak[0] = max(peak[0], rss_kib())
crm.close()
print(json.dumps({"before_kib": before, "peak_kib": peak[0], "rows": result.rows, "created": sum(result.created.values())}))
"""


def bench_peak_memory(workdir: Path, rows: int) -> dict:
    from crm_tui.services.core import Crm

    csv_path = workdir / f"contacts_{rows}.csv"
    write_contacts_csv(csv_path, rows)
    db_path = workdir / "import_memory.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    crm = _fresh_crm(db_path)
    crm.close()
    out = subprocess.run([sys.executable, "-c", _CHILD, str(ROOT), str(db_path), str(csv_path), str(workdir)],
                         capture_output=True, text=True, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["created"] == rows, data
    increase = (data["peak_kib"] - data["before_kib"]) / 1024
    _ = Crm
    return {"name": "import_peak_memory", "value": round(increase, 1), "unit": "MiB", "baseline": 200,
            "ratio": round(increase / 200, 3), "target": "< 200 MiB",
            "note": f"peak RSS increase while importing {rows:,} rows"
                    + (" (quick mode: 100k rows instead of 1M)" if rows < 1_000_000 else "")}


def run(workdir, quick: bool) -> list[dict]:
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    results = [bench_contacts_with_links(workdir, 100_000, repeat=1 if quick else 3)]
    results.append(bench_peak_memory(workdir, 100_000 if quick else 1_000_000))
    results += bench_wide_hubspot(workdir, 5_000 if quick else 100_000, repeat=1 if quick else 3)
    return results


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    quick = "--quick" in sys.argv
    folder = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="bench_import_"))
    for item in run(folder, quick):
        print(json.dumps(item))


# ------------------------------------------------------------------ import_wide_hubspot

WIDE_CUSTOM = 291  # custom columns; with the 9 standard ones: 300 columns
WIDE_COMPANIES = 1000


def _wide_kind(j: int) -> str:
    return ("text", "number", "date")[j % 3]


def write_wide_hubspot(folder: Path, rows: int) -> tuple[Path, Path]:
    """A HubSpot companies export (1,000 companies) and a contacts export of `rows` rows and 300
    columns: Record ID, standard properties, an owner nobody has yet, M/D/YY dates, one
    "Associated Company IDs" cell per row, and 291 custom columns (text, numbers, M/D/YY dates
    over six years; every other cell filled, as in a real wide export where most properties are
    sparse)."""
    folder.mkdir(parents=True, exist_ok=True)
    companies = folder / "companies.csv"
    with open(companies, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Record ID", "Company name", "Company Domain Name", "Create Date", "Company owner"])
        for c in range(WIDE_COMPANIES):
            w.writerow([str(5_000_000 + c), f"Company {c}", f"company{c}.example", "3/17/24 22:13", "Ana Souza"])
    contacts = folder / "contacts.csv"
    custom = [f"Custom {_wide_kind(j).title()} {j:03d}" for j in range(WIDE_CUSTOM)]
    with open(contacts, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Contact owner", "Create Date",
                    "Lifecycle Stage", "Associated Company IDs", *custom])
        for i in range(rows):
            cells = [str(70_000_000 + i), f"Ann{i % 97}", f"Lee{i % 89}", f"ann.lee.{i}@example{i % 50}.org",
                     f"+1 555 {i % 10_000_000:07d}", ("Worpaaeg Whjzqscokhf", "Sir Whjzqscokhf", "")[i % 3],
                     f"{i % 12 + 1}/{i % 28 + 1}/24 {i % 24}:{i % 60:02d}", "Lead", str(5_000_000 + i % WIDE_COMPANIES)]
            for j in range(WIDE_CUSTOM):
                if (i + j) % 2:
                    cells.append("")
                    continue
                kind = _wide_kind(j)
                cells.append(f"value {i % 1000} of {j}" if kind == "text" else
                             str((i * 7 + j) % 100_000) if kind == "number" else
                             f"{(i * 7 + j) % 12 + 1}/{(i * 13 + j) % 28 + 1}/{20 + (i + j) % 6}")
            w.writerow(cells)
    return companies, contacts


def _wide_baseline(db_source: Path, csv_path: Path, workdir: Path) -> float:
    """The same cells (as the file has them) written with raw executemany into the same tables
    (contacts with its 300 columns, associations both ways, the HubSpot IDs), one transaction."""
    target = workdir / "wide_baseline.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    src = sqlite3.connect(db_source)
    ddl = [sql for (sql,) in src.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name IN ('obj_contacts', 'association', 'association_count', "
        "'external_id') AND sql IS NOT NULL ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END")]
    columns = [name for (_cid, name, *_rest) in src.execute("PRAGMA table_info(obj_contacts)")]
    src.close()
    conn = sqlite3.connect(target)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA cache_size=-65536")  # the app's page cache too
    for sql in ddl:
        conn.execute(sql)
    conn.commit()
    started = time.perf_counter()
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        custom = [c for c in columns if c.startswith("custom_")]
        names = ["firstname", "lastname", "email", "phone", "hubspot_owner_id", "createdate", "lifecyclestage",
                 *custom, "lastmodifieddate"]
        rows, links, ext = [], [], []
        now = "2026-01-01T00:00:00.000000Z"
        for i, cells in enumerate(reader, start=1):
            rows.append((*cells[1:6], cells[6], cells[7], *cells[9:9 + len(custom)], now))
            links.append((1, i, 2, int(cells[8]) - 5_000_000 + 1, 1, now))
            links.append((2, int(cells[8]) - 5_000_000 + 1, 1, i, 1, now))
            ext.append(("contacts", i, "hubspot", cells[0], 1))
    assert len(header) == 9 + len(custom)
    with conn:
        conn.executemany(f"INSERT INTO obj_contacts ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows)
        conn.executemany("INSERT INTO association (from_object, from_id, to_object, to_id, is_primary, created_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", links)
        conn.executemany("INSERT INTO external_id (object, record_id, source_system, external_id, op) "
                         "VALUES (?, ?, ?, ?, ?)", ext)
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


_WIDE_CHILD = r"""
import json, sys, threading, time
sys.path.insert(0, sys.argv[1])
from crm_tui.services.core import Crm
from crm_tui.importing import importer
crm = Crm.open(sys.argv[2], user_name="bench")
crm.overrides["auto_associate_by_domain"] = False
companies = importer.plan_import(crm, sys.argv[3])
companies.error_dir = sys.argv[5]
importer.run_import(crm, companies)
spec = importer.plan_import(crm, sys.argv[4])
spec.error_dir = sys.argv[5]
def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
before = rss_kib()
peak = [before]
stop = threading.Event()
def watch():
    while not stop.wait(0.05):
        peak[0] = max(peak[0], rss_kib())
t = threading.Thread(target=watch, daemon=True); t.start()
started = time.perf_counter()
result = importer.run_import(crm, spec)
elapsed = time.perf_counter() - started
stop.set(); t.join()
peak[0] = max(peak[0], rss_kib())
crm.close()
print(json.dumps({"before_kib": before, "peak_kib": peak[0], "seconds": elapsed, "rows": result.rows,
                  "created": sum(result.created.values()), "linked": result.linked, "failed": result.failed,
                  "problems": result.link_problems}))
"""


def bench_wide_hubspot(workdir: Path, rows: int = 100_000, repeat: int = 3) -> list[dict]:
    """import_wide_hubspot: our import of the wide HubSpot contacts export (custom properties and
    owners created on the fly, HubSpot IDs, association IDs; in a fresh process, which also gives
    its peak memory) against raw executemany of the same cells into the same tables; `repeat` runs
    of each, alternating (the machine's load drifts), medians."""
    from crm_tui.services.core import Crm

    folder = workdir / "wide_hubspot"
    companies, contacts = write_wide_hubspot(folder, rows)
    db_path = workdir / "wide_hubspot.db"
    ours_runs, base_runs, memories, seconds = [], [], [], []
    for _ in range(repeat):
        for suffix in ("", "-wal", "-shm"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)
        Crm.open(db_path, user_name="bench").close()
        out = subprocess.run([sys.executable, "-c", _WIDE_CHILD, str(ROOT), str(db_path), str(companies),
                              str(contacts), str(workdir)], capture_output=True, text=True, check=True)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        assert data["created"] == rows and data["linked"] == rows and data["failed"] == 0 and not data["problems"], data
        ours_runs.append(rows / data["seconds"])
        seconds.append(data["seconds"])
        memories.append((data["peak_kib"] - data["before_kib"]) / 1024)
        base_runs.append(_wide_baseline(db_path, contacts, workdir))
    ours, base, memory = statistics.median(ours_runs), statistics.median(base_runs), max(memories)
    return [{"name": "import_wide_hubspot", "value": round(ours), "unit": "rows/s", "baseline": round(base),
             "ratio": round(ours / base, 3), "target": ">= 0.4",
             "note": f"{rows:,} HubSpot contacts x 300 columns ({WIDE_CUSTOM} new custom properties, every other "
                     f"custom cell filled), owners created, one company link each; median of {repeat} runs "
                     f"alternating with the baseline; {statistics.median(seconds):.1f} s; "
                     f"ratios {', '.join(f'{o / b:.2f}' for o, b in zip(ours_runs, base_runs))}"},
            {"name": "import_wide_hubspot_memory", "value": round(memory, 1), "unit": "MiB", "baseline": 250,
             "ratio": round(memory / 250, 3), "target": "< 250 MiB",
             "note": f"largest peak RSS increase while importing the {rows:,}-row wide export"}]
