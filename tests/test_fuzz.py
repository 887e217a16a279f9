"""Careless and hostile input costs nothing: random argv, random bytes and random CSV for `import`,
random YAML for `schema apply`. Whatever comes in, the command line answers with an exit code
(0, 1 or 2) and at most one line of error, never a traceback, and the database stays healthy
(`doctor`). Bounded: modest example counts, no deadline, the file runs in well under a minute."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crm_tui.cli.main import main
from crm_tui.services.core import Crm
from crm_tui.services.maintenance import doctor

FUZZ = settings(max_examples=40, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def fuzz_db(tmp_path, monkeypatch):
    """A small database with a few linked records; the command line runs in a scratch folder."""
    db = tmp_path / "fuzz.db"
    with Crm.open(db) as crm:
        ada = crm.records.create("contacts", {"firstname": "Ada", "email": "ada@example.org"}).id
        acme = crm.records.create("companies", {"name": "Acme", "domain": "acme.example"}).id
        crm.records.create("deals", {"dealname": "Big", "amount": "100"})
        crm.assoc.add(("contacts", ada), ("companies", acme), source="API")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return db


def fresh_copy(template) -> str:
    """Each example starts from the same database (a failure replays the same way)."""
    import shutil

    target = os.path.abspath("example.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(target + suffix):
            os.remove(target + suffix)
    shutil.copyfile(template, target)
    return target


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """main(argv) in this process: (exit code, stdout, stderr). Anything but an exit is a failure."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return code, out.getvalue(), err.getvalue()


def assert_clean(code: int, err: str, argv) -> None:
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    assert not any(c in err for c in "\x1b\r\x07\x9b"), (argv, err)  # no terminal control from input
    if code == 2:
        lines = [line for line in err.strip().splitlines() if line.strip()]
        # argparse prints its usage above the one error line; the error itself is one line
        assert lines and lines[-1].startswith("crm-tui") and "error" in lines[-1], (argv, err)


def assert_healthy(db) -> None:
    with Crm.open(db) as crm:
        report = doctor(crm)
        assert report.healthy, report.problems


# -- random argv -------------------------------------------------------------------------------------

COMMANDS = [["record", "create"], ["record", "update"], ["record", "get"], ["record", "delete"],
            ["record", "restore"], ["record", "merge"], ["history"], ["list"], ["search"], ["assoc", "add"],
            ["assoc", "remove"], ["assoc", "label"], ["assoc", "primary"], ["assoc", "unprimary"], ["assoc", "list"],
            ["assoc", "history"], ["labels"], ["labels", "create"], ["log"], ["timeline"], ["owners"],
            ["owners", "add"], ["pipelines"], ["import"], ["import", "undo"], ["imports"], ["export"], ["schema"],
            ["schema", "apply"], ["doctor"], ["config", "show"], ["seed"], ["backup"], ["restore"]]
WORDS = ["contacts", "companies", "deals", "tickets", "notes", "tasks", "roast_batches", "1", "2", "3", "0", "-1",
         "99999999999999999999", "contacts:1", "companies:2", "deals:3", "contacts:x", ":", "=", "email=a@b.c",
         "firstname=", "amount=abc", "amount=1e400", "closedate=2026-02-30", "dealstage=nope", "createdate=x",
         "lifecyclestage=customer", "hs_object_id=5", "--label", "Manager", "--primary", "--json", "--limit",
         "--filter", "email~a", "amount>x", "name?", "x!", "--sort", "amount:desc", "--deleted", "--object",
         "--take", "--new-primary", "--no-primary", "--add", "--remove", "--inverse", "--property", "--with",
         "--map", "a=b", "--link", "x=companies.name", "--value", "a:b=c", "--ids", "--batch", "--dry-run",
         "--format", "csv", "json", "vcf", "--hubspot", "-o", "out.csv", "--view", "--email", "--contacts",
         "--companies", "--activities", "--seed", "--repair", "--yes", "--delimiter", "--encoding", "utf-8",
         "nope.csv", "", " ", "--", "-", "[red]x[/]", "\x1b[31m", "=cmd|'/C calc'!A0", "€", "\u202e", "a" * 300]
# never the app, a server or a long-running seed: those are not for a fuzzer
FORBIDDEN = {"serve", "--demo"}


def _safe(argv: list[str]) -> bool:
    if any(a in FORBIDDEN for a in argv):
        return False
    for flag in ("--contacts", "--companies", "--deals", "--tickets", "--activities"):
        if flag in argv:
            i = argv.index(flag)
            if i + 1 < len(argv) and argv[i + 1].lstrip("-").isdigit() and abs(int(argv[i + 1])) > 50:
                return False
    return True


argv_strategy = st.tuples(
    st.sampled_from(COMMANDS),
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12), st.integers(-5, 40).map(str)), max_size=7),
).map(lambda parts: parts[0] + parts[1]).filter(_safe)


@FUZZ
@given(argv=argv_strategy)
@example(argv=["list", "\x1b[31m", "\r0"])  # argparse echoes an unknown argument: control characters go
@example(argv=["record", "get", "contacts", "\x1b]0;owned\x07"])
@example(argv=["record", "create", "roast_batches", "a=\x9b31m"])
def test_random_argv_is_answered_without_a_traceback_or_damage(fuzz_db, argv):
    full = ["--db", str(fuzz_db), *argv]
    code, _out, err = run_cli(full)
    assert_clean(code, err, full)
    assert_healthy(fuzz_db)


# -- random files for import -------------------------------------------------------------------------

@settings(FUZZ, max_examples=25)
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".csv", ".vcf", ".txt"]), dry=st.booleans())
def test_random_bytes_imported_without_a_traceback_or_damage(fuzz_db, data, suffix, dry):
    path = os.path.abspath(f"random{suffix}")
    with open(path, "wb") as f:
        f.write(data)
    argv = ["--db", str(fuzz_db), "import", path] + (["--dry-run"] if dry else [])
    code, _out, err = run_cli(argv)
    assert_clean(code, err, (argv, data))
    assert_healthy(fuzz_db)


HEADERS = ["First Name", "Last Name", "Email", "Phone Number", "Record ID", "Associated Company IDs",
           "Associated Deal IDs", "Company Name", "Company Domain Name", "Lifecycle Stage", "Create Date",
           "Amount", "Deal Stage", "Close Date", "Association label", "Job Title", "", "Email"]
cell = st.one_of(st.text(max_size=20), st.sampled_from(
    ["1", "2", "3", "1;2", "99999999999999999999", "-1", "a@b.c", "ada@example.org", "acme.example", "customer",
     "lead", "2026-01-16", "16/01/2026", "1e400", "NaN", "=1+1", "\x00", "\r", "\n", '"', '""', ";", "Manager",
     "closedwon", "\x1b]8;;http://x\x07", "[b]x[/b]"]))


@settings(FUZZ, max_examples=30)
@given(headers=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6),
       rows=st.lists(st.lists(cell, max_size=7), max_size=8),
       delimiter=st.sampled_from([",", ";", "\t"]), obj=st.sampled_from([[], ["--object", "contacts"],
                                                                          ["--object", "deals"],
                                                                          ["--object", "contacts", "--object",
                                                                           "companies"]]),
       undo=st.booleans())
def test_random_csv_imported_without_a_traceback_or_damage(fuzz_db, headers, rows, delimiter, obj, undo):
    import csv

    fuzz_db = fresh_copy(fuzz_db)
    path = os.path.abspath("random.csv")
    with open(path, "w", newline="", encoding="utf-8", errors="surrogatepass") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(headers)
        writer.writerows(rows)
    argv = ["--db", str(fuzz_db), "import", path, "--batch", "3", *obj]
    code, out, err = run_cli(argv)
    assert_clean(code, err, (argv, headers, rows))
    assert_healthy(fuzz_db)
    if undo and code == 0 and "undo with: crm-tui import undo " in out:
        import_id = out.rsplit("undo with: crm-tui import undo ", 1)[1].split()[0]
        code, _out, err = run_cli(["--db", str(fuzz_db), "import", "undo", import_id])
        assert code == 0, err
        assert_healthy(fuzz_db)


# -- random YAML for schema apply ---------------------------------------------------------------------

KEYS = ["objects", "properties", "labels", "limits", "pipelines", "name", "label", "plural_label",
        "primary_property", "type", "options", "required", "from", "to", "inverse", "limit", "object", "stages",
        "archived", "probability", "kind", "contacts", "deals", "roast_batches"]
TYPES = ["text", "textarea", "number", "currency", "date", "datetime", "select", "multiselect", "bool", "email",
         "phone", "url", "owner", "nonsense"]
scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 10), st.floats(allow_nan=True),
                   st.sampled_from(KEYS + TYPES + ["", "Roast Batch", "batch_name", "id", "select", "1bad", "a b"]),
                   st.text(max_size=10))
yaml_value = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)), max_leaves=25)


def _plausible_object(name, props):
    return {"name": name, "label": "Roast Batch", "plural_label": "Roast Batches", "primary_property": "batch_name",
            "properties": [{"name": "batch_name", "label": "Batch", "type": "text"}, *props]}


schema_doc = st.one_of(
    yaml_value,
    st.fixed_dictionaries({}, optional={
        "objects": st.lists(st.one_of(yaml_value, st.builds(
            _plausible_object, st.sampled_from(["roast_batches", "contacts", "1x", "", "a" * 70]),
            st.lists(st.dictionaries(st.sampled_from(["name", "label", "type", "options", "required"]),
                                     scalar, max_size=5), max_size=3))), max_size=2),
        "properties": st.dictionaries(st.sampled_from(["contacts", "deals", "nope"]),
                                      st.lists(st.dictionaries(st.sampled_from(["name", "label", "type", "options"]),
                                                               scalar, max_size=4), max_size=3), max_size=2),
        "labels": st.lists(st.dictionaries(st.sampled_from(["from", "to", "name", "inverse", "limit"]), scalar,
                                           max_size=5), max_size=3),
        "limits": st.lists(st.dictionaries(st.sampled_from(["from", "to", "limit"]), scalar, max_size=3), max_size=2),
        "pipelines": st.lists(yaml_value, max_size=2),
    }))


@settings(FUZZ, max_examples=40)
@given(doc=schema_doc)
# found by this test (tracebacks before): an entry that is not a mapping, a null object name, a nameless property
@example(doc={"objects": [None]})
@example(doc={"limits": [{"from": None, "to": None}]})
@example(doc={"objects": [{"name": "roast_batches", "properties": [{"name": "batch_name", "type": "text"}, {}]}]})
def test_random_yaml_schema_apply_without_a_traceback_or_damage(fuzz_db, doc):
    fuzz_db = fresh_copy(fuzz_db)
    path = os.path.abspath("schema.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(yaml.safe_dump(doc, allow_unicode=True))
    argv = ["--db", str(fuzz_db), "schema", "apply", path]
    code, _out, err = run_cli(argv)
    assert_clean(code, err, doc)
    assert_healthy(fuzz_db)
    code, _out, err = run_cli(["--db", str(fuzz_db), "schema", "--json"])
    assert code == 0, err


@settings(FUZZ, max_examples=15)
@given(data=st.binary(max_size=300))
def test_random_bytes_as_schema_file(fuzz_db, data):
    path = os.path.abspath("schema.yaml")
    with open(path, "wb") as f:
        f.write(data)
    code, _out, err = run_cli(["--db", str(fuzz_db), "schema", "apply", path])
    assert_clean(code, err, data)
    assert_healthy(fuzz_db)


# -- a few through a real process: bytes in argv that are not UTF-8, a closed stdin ---------------------

@settings(FUZZ, max_examples=4)
@given(args=st.lists(st.binary(min_size=0, max_size=8).filter(lambda b: b"\x00" not in b), min_size=1, max_size=3),
       command=st.sampled_from([["record", "create", "contacts"], ["search"], ["list", "contacts", "--filter"],
                                ["import"]]))
def test_undecodable_argv_in_a_real_process(fuzz_db, args, command):
    argv = [sys.executable, "-m", "crm_tui.cli.main", "--db", str(fuzz_db), *command, *args]
    env = dict(os.environ, PYTHONIOENCODING="", LC_ALL="C")
    done = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=60, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode in (0, 1, 2), (args, err)
    assert "Traceback" not in err, (args, err)
    assert_healthy(fuzz_db)
