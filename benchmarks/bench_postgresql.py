"""The team database's figures: `python benchmarks/run.py --backend postgresql [--rows N] [--pg-url URL]`.

Uses the server of --pg-url (or CRM_TUI_BENCH_PG_URL; a database the user may CREATE DATABASE
from, e.g. postgresql://me@127.0.0.1:5432/postgres), or starts a throwaway cluster on a loopback
port as the tests do (tests/pg_server.py). Every baseline is measured on the same server in the
same run:

- pg_index_first_paint: the contacts IndexScreen's first frame with rows (ms); baseline: a bare
  screen in the same app. Target <= 150 ms.
- pg_index_jump_redraw_p95: fetch + format of a 50-row window at a random position; baseline: the
  raw keyset query through psycopg2. Target <= 16.7 ms.
- pg_search_prefix_p95: one keystroke of `/` search (3-6 character prefix: the first matches,
  unranked, as the screen shows them while typing); baseline: the raw tsquery through psycopg2.
  Target <= 10 ms. pg_search_ranked_p95: the ranked list the screen shows once typing pauses.
- pg_import_contacts_with_links: rows/s of `crm-tui import` of N contacts each linked to a company;
  baseline: the same rows and links written with raw psycopg2 COPY in one transaction into the
  same tables. Target >= 0.5. pg_import_vs_raw_same_tables: the same import against raw SQL that
  also writes the search index (with its word index) and the links' history, as the import must
  (no target: it tells the cost of those from the import's own).
- pg_two_writers_one_record: two processes each making 100 edits of one contact at the same time;
  value: edits per second; the figure also checks that nothing was lost (every edit has its
  history row, the value is one of the last two written) and fails otherwise.
"""

from __future__ import annotations

import asyncio
import csv
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_index import _p95, _paints, _result  # noqa: E402


class _Server:
    def __init__(self, url: str | None):
        from tests.pg_server import Server

        self.server = Server()
        if url:
            os.environ["CRM_TUI_TEST_PG_URL"] = url
        self.server.start()

    def fresh(self, name: str, *, empty: bool = True) -> str:
        self.server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.server.admin(f'CREATE DATABASE "{name}"')
        return self.server.url(name)

    def stop(self) -> None:
        self.server.stop()


def _build(url: str, rows: int) -> None:
    from crm_tui.domain import sources
    from crm_tui.services.core import Crm
    from crm_tui.services.seed import seed

    with Crm.open(url) as crm:
        crm.set_setting("auto_associate_by_domain", False)
        seed(crm, contacts=rows, companies=max(10, rows // 50), deals=max(10, rows // 5), activities=rows,
             seed=1, source=sources.MIGRATION)
        crm.db.execute_sql("ANALYZE")


def _raw(url: str):
    import psycopg2

    return psycopg2.connect(url)


def _jumps(url: str, n: int) -> tuple[list[float], list[float]]:
    from crm_tui.services.core import Crm
    from crm_tui.services.paging import ViewPager, ViewSpec
    from crm_tui.services.views import default_columns

    with Crm.open(url) as crm:
        columns = default_columns(crm.registry.get("contacts"))
        pager = ViewPager(crm, ViewSpec("contacts", columns))
        total = pager.count()
        rng = random.Random(11)
        ours = []
        for _ in range(n):
            start = rng.randrange(max(1, total - 50))
            t = time.perf_counter()
            pager.fetch(start, 50)
            ours.append((time.perf_counter() - t) * 1000)
    props = [c for c in columns if not c.startswith("@")]
    conn = _raw(url)
    cur = conn.cursor()
    cur.execute("SELECT MAX(id) FROM obj_contacts")
    top = cur.fetchone()[0]
    sql = (f"SELECT id, {', '.join(props)} FROM obj_contacts WHERE deleted_at IS NULL AND id > %s "
           "ORDER BY id LIMIT 50")
    rng = random.Random(11)
    base = []
    for _ in range(n):
        after = rng.randrange(top)
        t = time.perf_counter()
        cur.execute(sql, (after,))
        cur.fetchall()
        base.append((time.perf_counter() - t) * 1000)
    conn.close()
    return ours, base


def _search(url: str, n: int) -> tuple[list[float], list[float]]:
    from crm_tui.services.core import Crm
    from crm_tui.storage.dialect_pg import fts_match_expression
    from crm_tui.services.paging import ViewPager, ViewSpec
    from crm_tui.services.views import default_columns

    conn = _raw(url)
    cur = conn.cursor()
    cur.execute("SELECT firstname, lastname, email FROM obj_contacts WHERE id % 97 = 1 LIMIT 400")
    rng = random.Random(3)
    words = [w for row in cur.fetchall() for w in row if w and len(w) >= 3]
    prefixes = [w[: rng.randint(3, min(6, len(w)))] for w in rng.sample(words, min(n, len(words)))]
    keystroke, ranked = [], []
    with Crm.open(url) as crm:
        columns = default_columns(crm.registry.get("contacts"))
        for out, rank in ((keystroke, False), (ranked, True)):  # as the screen: unranked per keystroke
            for prefix in prefixes:
                t = time.perf_counter()
                pager = ViewPager(crm, ViewSpec("contacts", columns, search=prefix, ranked=rank))
                pager.count()
                pager.fetch(0, 50)
                out.append((time.perf_counter() - t) * 1000)
    base = []
    for prefix in prefixes:
        expr = fts_match_expression([w for w in prefix.replace("@", " ").replace(".", " ").split() if w])
        if expr is None:
            continue
        t = time.perf_counter()
        cur.execute("SELECT rowid FROM fts_contacts WHERE tsv @@ to_tsquery('simple', %s) LIMIT 1000", (expr,))
        cur.fetchall()
        base.append((time.perf_counter() - t) * 1000)
    conn.close()
    return keystroke, ranked, base


def _import(server: _Server, workdir: Path, rows: int) -> tuple[float, float, float]:
    from benchmarks.bench_import import COMPANIES, write_contacts_csv
    from crm_tui.services.core import Crm
    from crm_tui.importing import importer
    from crm_tui.services.seed import seed

    csv_path = workdir / f"pg_contacts_{rows}.csv"
    write_contacts_csv(csv_path, rows)
    url = server.fresh("bench_import")
    with Crm.open(url, user_name="bench") as crm:
        crm.overrides["auto_associate_by_domain"] = False
        seed(crm, companies=COMPANIES)
        spec = importer.plan_import(crm, csv_path, ["contacts"])
        spec.error_dir = str(workdir)
        started = time.perf_counter()
        result = importer.run_import(crm, spec)
        ours = rows / (time.perf_counter() - started)
        assert result.created.get("contacts") == rows and result.linked == rows, result
    # the baselines, on the same server: raw psycopg2 COPY of the same rows and links into the same
    # tables (an empty crm-tui schema; the fastest way in, what the import's own bulk path uses),
    # and the same plus the search index and the links' history, which the import writes too
    return ours, _raw_load(server, csv_path, rows), _raw_load(server, csv_path, rows, same_tables=True)


def _raw_load(server: _Server, csv_path: Path, rows: int, *, same_tables: bool = False) -> float:
    """rows/s of raw SQL in one transaction, no checks: the contacts and both edges of each link by
    COPY; with `same_tables` also every other table the import must write, the search index (and its
    word index) by one INSERT ... SELECT and the links' history by COPY, which tells the cost of
    those from the import's own."""
    import io

    from benchmarks.bench_import import COMPANIES
    from crm_tui.domain import sources
    from crm_tui.services.core import Crm
    from crm_tui.services.seed import seed

    url = server.fresh("bench_import_raw_same" if same_tables else "bench_import_raw")
    with Crm.open(url, user_name="bench") as crm:
        seed(crm, companies=COMPANIES)
        with crm.operation("bench", sources.API) as op:  # the operation the links' history names
            op_id = op.id
        body = " || ' ' || ".join(f'COALESCE("{name}", \'\')' for name in crm.registry.get("contacts").search)
    conn = _raw(url)
    cur = conn.cursor()
    now = "2026-01-01T00:00:00.000000Z"
    started = time.perf_counter()
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        people, links, changes = [], [], []
        for i, (first, last, email, phone, job, company) in enumerate(reader, start=1):
            people.append((first, last, email, phone, job, now, now))
            links.append((1, i, 2, int(company), 1, now))
            links.append((2, int(company), 1, i, 1, now))
            if same_tables:  # the plain baseline reads and writes nothing more than before
                changes.append((op_id, 1, i, 2, int(company), "created_primary"))

    def text(rows) -> io.StringIO:
        return io.StringIO("".join("\t".join(str(v).replace("\\", "\\\\").replace("\t", "\\t")
                                             .replace("\n", "\\n") for v in row) + "\n" for row in rows))

    cur.copy_expert("COPY obj_contacts (firstname, lastname, email, phone, jobtitle, createdate, "
                    "lastmodifieddate) FROM STDIN", text(people))
    cur.copy_expert("COPY association (from_object, from_id, to_object, to_id, is_primary, created_at) "
                    "FROM STDIN", text(links))
    if same_tables:
        cur.execute(f'INSERT INTO fts_contacts (rowid, body) SELECT id, {body} FROM obj_contacts')
        cur.copy_expert("COPY association_change (op_id, a_object, a_id, b_object, b_id, action) FROM STDIN",
                        text(changes))
    conn.commit()
    result = rows / (time.perf_counter() - started)
    conn.close()
    return result


_WRITER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from crm_tui.domain import sources
from crm_tui.services.core import Crm
with Crm.open(sys.argv[2], user_name=sys.argv[3]) as crm:
    for i in range(int(sys.argv[4])):
        crm.records.update("contacts", 1, {"jobtitle": f"{sys.argv[3]} {i}"}, source=sources.USER)
"""


def _two_writers(server: _Server, edits: int) -> tuple[float, float, str]:
    from crm_tui.services.core import Crm

    url = server.fresh("bench_writers")
    with Crm.open(url) as crm:
        crm.records.create("contacts", {"email": "race@x.example"})
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(REPO), url, who, str(edits)])
             for who in ("ann", "bo")]
    codes = [p.wait(300) for p in procs]
    both = 2 * edits / (time.perf_counter() - started)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", _WRITER, str(REPO), url, "solo", str(edits)], check=True)
    solo = edits / (time.perf_counter() - started)
    with Crm.open(url) as crm:
        PropertyChange = crm.models.PropertyChange
        changes = PropertyChange.select().where(PropertyChange.property == "jobtitle").count()
        final = crm.records.get("contacts", 1).properties["jobtitle"]
    lost = 3 * edits - changes
    verdict = "nothing lost" if codes == [0, 0] and lost == 0 and final == f"solo {edits - 1}" else \
        f"LOST {lost} edit(s), exit codes {codes}, final {final!r}"
    return both, solo, verdict


def run(workdir: Path, rows: int, pg_url: str | None, quick: bool, index_url: str | None = None,
        only: set[str] | None = None) -> list[dict]:
    """`index_url`: an already-loaded crm-tui database for the index figures (e.g. one filled by
    `crm-tui copy /tmp/speed_1m.db URL`) instead of seeding `rows` contacts; `only`: a subset of
    {"index", "import", "writers"}."""
    server = _Server(pg_url)
    out: list[dict] = []
    only = only or {"index", "import", "writers"}
    try:
        if "index" in only:
            out += _index_figures(server, rows, quick, index_url)
        if "import" in only:
            import_rows = min(100_000, max(2_000, rows))
            ours, base, same_tables = _import(server, workdir, import_rows)
            out.append(_result("pg_import_contacts_with_links", ours, "rows/s", base, ">= 0.5"))
            # the same import against raw SQL writing the same tables (search index, link history)
            out.append(_result("pg_import_vs_raw_same_tables", ours, "rows/s", same_tables, ""))
        if "writers" in only:
            both, solo, verdict = _two_writers(server, 30 if quick else 100)
            result = _result("pg_two_writers_one_record", both, "edits/s", solo, "nothing lost")
            result["note"] = verdict
            out.append(result)
    finally:
        server.stop()
    return out


def _index_figures(server: _Server, rows: int, quick: bool, index_url: str | None) -> list[dict]:
    out: list[dict] = []
    if index_url:
        url = index_url
    else:
        url = server.fresh("bench_index")
        print(f"building a PostgreSQL database of {rows:,} contacts ...", file=sys.stderr)
        started = time.perf_counter()
        _build(url, rows)
        print(f"  built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    paints = asyncio.run(_paints(url, 3 if quick else 7))
    out.append(_result("pg_index_first_paint", statistics.median(paints["index"]), "ms",
                       statistics.median(paints["bare"]), "<= 150 ms"))
    def with_median(result: dict, ours: list[float], base: list[float]) -> dict:
        # on a loaded machine the p95 is mostly the scheduler's; the median says what the code costs
        result["note"] = f"median {statistics.median(ours):.2f} ms, baseline median {statistics.median(base):.2f} ms"
        return result

    ours, base = _jumps(url, 60 if quick else 200)
    out.append(with_median(_result("pg_index_jump_redraw_p95", _p95(ours), "ms", _p95(base), "<= 16.7 ms"),
                           ours, base))
    keystroke, ranked, base = _search(url, 40 if quick else 120)
    out.append(with_median(_result("pg_search_prefix_p95", _p95(keystroke), "ms", _p95(base), "<= 10 ms"),
                           keystroke, base))
    out.append(with_median(_result("pg_search_ranked_p95", _p95(ranked), "ms", _p95(base), None), ranked, base))
    return out
