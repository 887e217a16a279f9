"""Importing records from CSV and vCard files into the CRM (no Textual here).

    spec = plan_import(crm, "contacts.csv", ["contacts"])          # automatic mapping
    spec.columns                                                      # fix it: Column(header, object, target)
    result = run_import(crm, spec, progress=cb, cancel=event, dry_run=False)
    undo_import(crm, result.import_id)

How it works
- The file is streamed (csvread or vcard) in batches of `spec.batch_size` rows. Each batch is one
  transaction and one child operation ("import_batch") of the import operation ("import", source
  Import), so a crash or a kill part-way leaves whole batches, which `undo_import` still reverses.
- A row is parsed and validated first (every mapped cell through `records.coerce_value`); a row with
  a bad cell, an unknown Record ID or a missing required value is reported in the error file and
  nothing of it is written. Good rows go in.
- Records are matched by Record ID (this CRM's IDs, or a source system's IDs kept in the ExternalId
  table), then by email (contacts) or domain (companies); matched records are updated (empty cells
  never clear a value), the others are created through the bulk path (executemany, FTS per range).
- Links: "Associated <Object> IDs" columns (IDs of the same namespace as the Record ID column),
  readable-key links (`@link:companies:name`: the cell names a record by a property; a missing or
  ambiguous match is reported, never guessed), and the records of one row (several objects per
  row) are all linked together; an "Association label" column labels those links.
- `dry_run` runs the whole import in one transaction and rolls it back: exact counts, nothing kept.
- Undo (`undo_import`) reverses the import operation and all its child operations (batches, Job
  automations, automatic association by domain): links made are removed, links removed come back,
  changed values get their old value back (from PropertyChange), records created are deleted for
  good. When a later operation changed what the import wrote (edited a record it created, changed a
  value or link again), the undo is refused with one line naming that operation (journal.py).

Example (Maven "CRM + Sales Opportunities", documented stage mapping: Won -> Closed won, Lost ->
Closed lost, Engaging -> Qualified to buy, Prospecting -> Appointment scheduled):

    crm-tui import accounts.csv --object companies --map revenue=annualrevenue \
        --map employees=numberofemployees --map office_location=country \
        --link "subsidiary_of=companies.name:Parent company"
    crm-tui import sales_pipeline.csv --object deals --ids maven --map opportunity_id=@id \
        --map opportunity_id=dealname --map engage_date=createdate --map close_date=closedate \
        --map close_value=amount --map deal_stage=dealstage --value deal_stage:Won=closedwon \
        --value deal_stage:Lost=closedlost --value deal_stage:Engaging=qualifiedtobuy \
        --value deal_stage:Prospecting=appointmentscheduled --link account=companies.name \
        --require-link account
"""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from collections.abc import Callable, MutableMapping
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from pathlib import Path

from peewee import fn

from ..storage import dialect, safe_files
from ..services import rules
from ..domain import sources
from ..domain.sanitize import clean_line
from ..storage.engine import Option
from ..domain.errors import CrmError, DatabaseProblem, InvalidValue, NotFound
from ..storage.paths import data_dir
from ..services.records import ADDITIONAL_EMAILS, DEDUPE_KEYS
from ..domain.types import now_iso, parse_date, parse_datetime
from . import columns, csvread, infer, mapping
from .csvwrite import SafeCsvWriter
from .parse_ahead import ParseAhead
from .plan import (  # noqa: F401,E402
    _ID_VALUE,
    _PEOPLE,
    _PERSON_NAME,
    VCARD_COLUMNS,
    _column,
    _look_at_values,
    _name_part,
    _name_records,
    _properties,
    _rows,
    apply_link_args,
    apply_map_args,
    apply_value_args,
    auto_columns,
    describe_columns,
    estimate_rows,
    file_kind,
    guess_object,
    missing_required,
    nameless,
    new_property_of,
    plan_import,
    spec_to_json,
    target_choices,
)

# What an import is and how a file becomes a plan live in their own modules (the imports' journal and
# their undo in undo.py); the names of spec and plan stay importable from here for the importer's callers.
from .spec import _owner  # noqa: E402
from .spec import (  # noqa: F401,E402
    CELL_SKIPPED,
    ERROR_HEADERS,
    LINK_PREFIX,
    LOCAL,
    NEW_PREFIX,
    NOT_LINKED,
    ROW_SKIPPED,
    SETTABLE_READ_ONLY,
    SKIP,
    Column,
    ImportError_,
    ImportInfo,
    ImportResult,
    ImportSpec,
    Progress,
    UndoResult,
)
from ..domain.values import _option_key

_ABSENT = object()  # RowValues: a value of the row taken out since


def _blank(value) -> bool:
    """No value in a RowValues row: None, or the empty cell itself."""
    return value is None or value.__class__ is str and not value


class RowValues(MutableMapping):
    """A record's values as one tuple in the column order of the file (None or "" where a cell gives
    no value), plus the values set or taken out since (rules, owners, defaults): a dict to whoever
    reads it, without a dict of hundreds of cells per record. `names` (property -> position) is one
    dict shared by every record of an import, so a batch of them goes into the table as its tuples,
    the empty cells as they are (see _insert and records.bulk_insert's blank_is_null)."""

    __slots__ = ("names", "row", "extra")

    def __init__(self, names: dict, row: tuple):
        self.names = names
        self.row = row
        self.extra: dict | None = None  # property -> value set since (_ABSENT: taken out)

    def get(self, key, default=None):
        extra = self.extra
        if extra is not None and key in extra:
            value = extra[key]
            return default if value is _ABSENT else value
        i = self.names.get(key)
        if i is None:
            return default
        value = self.row[i]
        return default if value is None or value.__class__ is str and not value else value

    def __getitem__(self, key):
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def __contains__(self, key) -> bool:
        return self.get(key, _ABSENT) is not _ABSENT

    def __setitem__(self, key, value) -> None:
        if self.extra is None:
            self.extra = {}
        self.extra[key] = value

    def __delitem__(self, key) -> None:
        self[key]  # KeyError when it has no value
        if self.extra is None:
            self.extra = {}
        if key in self.names:
            self.extra[key] = _ABSENT
        else:
            del self.extra[key]

    def __iter__(self):
        extra = self.extra or {}
        for name, value in zip(self.names, self.row):
            if not _blank(value) and name not in extra:
                yield name
        for name, value in extra.items():
            if value is not _ABSENT:
                yield name

    def __bool__(self) -> bool:
        if self.extra:
            return any(True for _name in self)
        for value in self.row:  # nearly always the first
            if value is not None and (value.__class__ is not str or value):
                return True
        return False

    def __len__(self) -> int:
        return sum(1 for _name in self)

    def __repr__(self) -> str:
        return f"RowValues({dict(self)!r})"


@dataclass(slots=True)  # slots: one of these per row and object, made and read in bulk
class _Rec:
    """One record of one row: values to write, how to find it, what it turned out to be."""

    object: str
    values: dict  # or RowValues
    ext_id: str | None = None
    local_id: int | None = None
    record_id: int | None = None
    fresh: bool = False
    pending: "_Rec | None" = None  # an earlier record of the same batch with the same key


@dataclass
class _Parsed:
    """A batch as the parse-ahead helper hands it over: rows to write, rows refused (line and
    problems, in file order), and the number of rows read."""

    rows: list
    problems: list
    size: int

    @classmethod
    def of(cls, results: list) -> "_Parsed":
        rows = [row for _line, row, _problems in results if row is not None]
        problems = [(line, problems, row is None) for line, row, problems in results if problems]
        return cls(rows, problems, len(results))


@dataclass(slots=True)
class _Row:
    line: int
    recs: dict  # object -> _Rec
    refs: list  # (object, other, [ids], primary, label, header)
    keylinks: list  # (object, other, prop, value, label, header, create_missing)
    labels: list
    label_header: str | None = None
    more_emails: list | None = None  # (object, [emails]) found beside the first one in email cells


class _Errors:
    def __init__(self, spec: ImportSpec, directory: str, protect=()):
        self.spec = spec
        self.directory = directory
        self.protect = list(protect)  # the database: an error file never lands on it
        self._writing = None
        self.path: str | None = None
        self._stream = None
        self._writer = None
        self.failed_lines: set[int] = set()
        self.link_problems = 0
        self.skipped_cells = 0
        # header -> {value: [rows, problem]} of the values not imported (their rows were), for the
        # summary's line per column; at most SKIPPED_KEPT values a column, the rest only counted
        self.skipped: dict[str, dict[str, list]] = {}
        self.skipped_rest: dict[str, int] = {}  # header -> rows of values past SKIPPED_KEPT

    def add(self, line: int, header: str, value: str, problem: str, result: str) -> None:
        if self._writer is None:
            stem = Path(self.spec.path).stem
            stamp = time.strftime("%Y%m%d-%H%M%S")
            self.path = os.path.join(self.directory, f"{stem}.errors-{stamp}.csv")
            n = 1
            while os.path.exists(self.path):
                n += 1
                self.path = os.path.join(self.directory, f"{stem}.errors-{stamp}-{n}.csv")
            self._writing = safe_files.writing(self.path, protect=self.protect, encoding="utf-8-sig", newline="",
                                               what="error file")
            self._stream = self._writing.__enter__().stream  # private (0600), published by close()
            self._writer = SafeCsvWriter(self._stream, ERROR_HEADERS)
        self._writer.writerow([line, header, value, problem, result])
        if result == ROW_SKIPPED:
            self.failed_lines.add(line)
        elif result == CELL_SKIPPED:
            self.skipped_cells += 1
            values = self.skipped.setdefault(header, {})
            seen = values.get(value)
            if seen is not None:
                seen[0] += 1
            elif len(values) < SKIPPED_KEPT:
                values[value] = [1, problem]
            else:
                self.skipped_rest[header] = self.skipped_rest.get(header, 0) + 1
        else:
            self.link_problems += 1

    def close(self) -> None:
        if self._stream is not None:
            self._stream = None
            self._writing.__exit__(None, None, None)


SKIPPED_KEPT = 1_000  # distinct values not imported counted one by one per column (the summary names the top 3)
SKIPPED_SHOWN = 3  # values named per column in the summary


def _counted(values: dict[str, list], rest: int) -> tuple[str, int]:
    """("'Engaging' (1,589 rows), 'Prospecting' (500) and 2 more", distinct values) of a column."""
    top = sorted(values.items(), key=lambda item: -item[1][0])  # stable: first met first on a tie
    parts = []
    for i, (value, (rows, _problem)) in enumerate(top[:SKIPPED_SHOWN]):
        shown = clean_line(value)
        shown = shown if len(shown) <= 40 else shown[:39] + "…"
        parts.append(f"{shown!r} ({rows:,}{(' row' if rows == 1 else ' rows') if i == 0 else ''})")
    more = len(top) - SKIPPED_SHOWN + (1 if rest else 0)
    text = ", ".join(parts)
    if more > 0:
        text += f" and {more:,}{'+' if rest else ''} more"
    return text, len(top) + (1 if rest else 0)


def error_directory(spec: ImportSpec) -> str:
    if spec.error_dir:
        return str(safe_files.check_folder(spec.error_dir, what="folder for error files"))
    folder = os.path.dirname(os.path.abspath(spec.path))
    # root passes os.access everywhere: a folder without write bits (read-only data) is left alone
    if os.access(folder, os.W_OK) and os.stat(folder).st_mode & 0o222:
        return folder

    target = data_dir() / "import-errors"
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(target)


COLLECT_EVERY = 100_000  # rows between two runs of the cyclic garbage collector during an import
FIRST_BATCH = 1_000  # rows: writing starts after these are read, not after a whole batch


class _Importer:
    OP_KIND = "import"  # the operation a run writes ("import_file" inside a bundle: importing/bundle.py)
    ROLL_BACK_DRY_RUN = True  # False: the caller's transaction rolls back (a bundle's dry run)

    def __init__(self, crm, spec: ImportSpec, progress, cancel, dry_run: bool):
        PairLimit = crm.models.PairLimit
        self.crm = crm
        self.spec = spec
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.dry_run = dry_run
        self.reg = crm.registry
        self.result = ImportResult(None, dry_run)
        self.errors = _Errors(spec, error_directory(spec), protect=[crm.path])
        self.deferred: list = []  # links whose target may come in a later batch
        self.columns = [c for c in spec.columns if not c.skipped]
        for col in self.columns:
            self.reg.get(col.object)
        self.pair_limits = {(p.from_object_id, p.to_object_id) for p in PairLimit.select()}
        self._limits: dict[tuple[str, str], bool] = {}  # per object pair: a pair limit applies
        self.auto_domain = bool(crm.setting("auto_associate_by_domain", True))
        self._plan_cache = None
        self._ahead: ParseAhead | None = None
        self._bulk = None  # dialect.BulkLoad while the batches run
        self.fresh: set = set()  # (object, id) created by this batch: no link of theirs can exist yet
        self.given_company: set = set()  # holders linked to a company by this import
        self._made: list = []  # (column, its "@new:" target) for the properties this run made
        self._claimed: set = set()  # (object, id) matched or made by a second key in this import
        self._seconds = False  # some row had no primary key (email, domain): second keys in use
        self._additional: dict | None = None  # additional email -> contact id, read once when first needed
        self._new_options: dict = {}  # (object, property) -> {option key: label}: options to add
        self._late: dict = {}  # header of a column skipped as empty -> first line with a value
        self._loose: dict = {}  # (property label, value, option label) read loosely (_last_word_option)
        self._watch = [c.header for c in spec.columns if c.skipped and c.reason and c.reason.startswith("empty in the first")]
        self.result.skipped_columns = [f"{c.header} ({c.reason or 'skipped'})" for c in spec.columns
                                       if c.skipped and not (c.reason or "").startswith("empty")]
        empty = sum(1 for c in spec.columns if c.skipped and (c.reason or "").startswith("empty"))
        if empty:
            self.result.skipped_columns.append(f"{empty} empty column{'s' if empty > 1 else ''}")

    # -- the run

    def run(self) -> ImportResult:
        started = time.monotonic()
        self.spec.warnings += [w for w in missing_required(self.crm, self.spec) if w not in self.spec.warnings]
        total = estimate_rows(self.spec.path, self.spec) if self.spec.kind == "csv" else 0
        crm = self.crm
        saved_dayfirst = crm.dayfirst
        crm.dayfirst = self.spec.dayfirst
        try:
            if self.dry_run:
                try:
                    with crm.db.atomic() as txn:
                        self._run(total, started)
                        if self.ROLL_BACK_DRY_RUN:
                            txn.rollback()
                finally:
                    if self._made and self.ROLL_BACK_DRY_RUN:  # the properties made for the preview went with the rollback
                        crm.registry.reload()
                        for col, target in self._made:
                            col.target = target
            else:
                with dialect.bulk_load(crm.db, crm.path) as self._bulk:
                    self._run(total, started)
        except BaseException as exc:
            self.errors.close()
            if self.result.import_id and not self.dry_run:
                stopped = self._stopped(exc)
                if stopped is not None:
                    raise stopped from None
            raise
        finally:
            crm.dayfirst = saved_dayfirst
        self.errors.close()
        self.result.error_file = self.errors.path
        self.result.failed = len(self.errors.failed_lines)
        self.result.link_problems = self.errors.link_problems
        self.result.skipped_cells = self.errors.skipped_cells
        self.result.not_imported = self._not_imported()
        self.result.warnings = list(self.spec.warnings)
        self.result.seconds = time.monotonic() - started
        if not self.dry_run:
            self._finish("cancelled" if self.result.cancelled else "done")
        else:
            self.result.import_id = None
        return self.result

    def _not_imported(self) -> list[str]:
        """A line per column whose values were left out (their rows went in): its most frequent
        values, how many rows each, and why, in the summary (the error file has every one)."""
        lines = []
        for header, values in self.errors.skipped.items():
            rest = self.errors.skipped_rest.get(header, 0)
            rows = sum(n for n, _problem in values.values()) + rest
            text, distinct = _counted(values, rest)
            found = next(((meta, prop) for _col, kind, meta, prop, *_ in self._plan_cache or ()
                          if kind == "prop" and _col.header == header and prop is not None), None)
            why = None
            if found is not None:
                why = self._left_out(*found, rows, distinct)
            if why is None:
                top = max(values.values(), key=lambda item: item[0])[1] if values else ""
                if found is not None and top.startswith(f"{found[1].label}: "):
                    top = top[len(found[1].label) + 2:]  # 'Email: 'x' is not...' -> ''x' is not...'
                why = f"({'e.g. ' if distinct > 1 else ''}{top})"
            lines.append(f"{clean_line(header)}: {text} {why}")
        return lines

    def _left_out(self, meta, prop, rows: int, distinct: int) -> str | None:
        """What became of the records whose value was refused, for the properties that get one
        anyway: a stage (the pipeline's first) or a pipeline (the default)."""
        from ..services import pipelines  # lazy: only when values were refused

        props = pipelines.pipeline_props(meta)
        if props is None or prop.name not in props[:2]:
            return None
        default = pipelines.default_pipeline(self.crm, meta.name)
        if default is None:
            return None
        are = "is" if distinct == 1 else "are"
        those = f"that {meta.label.lower()}" if rows == 1 else f"those {meta.plural_label.lower()}"
        existing = bool(self.result.updated.get(meta.name) or self.result.unchanged)
        created = bool(self.result.created.get(meta.name))
        those = f"that {meta.label.lower()}" if rows == 1 else f"those {meta.plural_label.lower()}"
        if prop.name == props[0]:
            what, got = f"{meta.label.lower()} pipelines", f"the default pipeline ({default.label})"
        elif any(c.object == meta.name and c.target == props[0] for c in self.columns):  # a pipeline per row
            what, got = f"stages of any {meta.label.lower()} pipeline", "their pipeline's first stage"
        else:
            first = next(iter(default.active_stages), None)
            what, got = f"stages of {default.label}", "its first stage" + (f" ({first.label})" if first else "")
        if not existing:
            became = f"{those} got {got}"
        elif created:
            became = f"new ones got {got}, the ones already here kept theirs"
        else:
            became = f"{those} kept theirs"
        hint = "" if prop.name == props[0] else " (to keep them: add them as stages on the Pipelines screen, then import again)"
        return f"{are} not {what}; {became}{hint}"

    def _summary(self, status: str) -> dict:
        return {"file": os.path.abspath(self.spec.path), "objects": self.spec.objects, "status": status,
                "counts": self.result.counts(), "error_file": self.errors.path, "id_source": self.spec.id_source,
                "dry_run": self.dry_run, "batches": self.batches, "owner": _owner(),
                "properties_created": [[col.object, col.target] for col, _planned in self._made],  # undo drops them
                "options_created": [item.split(": ", 1)[0].split(".", 1) + [item.split(": ", 1)[1]]
                                    for item in self.result.new_options]}  # [object, property, option]

    def _finish(self, status: str, failed: int | None = None) -> None:
        Operation = self.crm.models.Operation
        self.result.failed = len(self.errors.failed_lines) if failed is None else failed
        self.result.link_problems = self.errors.link_problems
        self.result.skipped_cells = self.errors.skipped_cells
        Operation.update(summary=json.dumps(self._summary(status))).where(
            Operation.id == self.result.import_id).execute()

    batches = 0  # batches committed
    undo_id: int | None = None  # the import that undoes this one's rows, when it is part of a bigger one
    committed: dict  # the counts as of the last committed batch (set when the import's record is made)

    def _state(self) -> dict:
        r = self.result
        return {"created": dict(r.created), "updated": dict(r.updated), "unchanged": r.unchanged, "linked": r.linked,
                "rows": r.rows, "failed": len(self.errors.failed_lines), "batches": self.batches}

    def _stopped(self, exc: BaseException) -> CrmError | None:
        """An import stopped part-way (a full disk, a busy or vanished file, ctrl+c, a bug): the counts
        go back to what the committed batches hold, the import's record says so, and a database
        problem becomes one line saying exactly what was kept and how to remove it."""
        c = self.committed
        r = self.result
        r.created, r.updated, r.unchanged, r.linked, r.rows = (c["created"], c["updated"], c["unchanged"],
                                                                c["linked"], c["rows"])
        self.batches = c["batches"]
        try:
            self._finish("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", failed=c["failed"])
        except Exception:
            pass  # the record keeps the counts of its last committed batch (written with that batch)
        if not isinstance(exc, CrmError):
            return None
        reason = str(exc).split("; nothing was saved")[0].strip().rstrip(";")
        iid = self.undo_id or self.result.import_id
        if not c["batches"]:
            kept = f"import {iid} stopped before any row was saved"
        else:
            kept = (f"import {iid} stopped: the first {c['rows']:,} rows ({c['batches']} "
                    f"{'batch' if c['batches'] == 1 else 'batches'}: {sum(c['created'].values()):,} created, "
                    f"{sum(c['updated'].values()):,} updated) were saved and are kept; "
                    f"`crm-tui import undo {iid}` removes them")
        return (DatabaseProblem if isinstance(exc, DatabaseProblem) else ImportError_)(f"{reason}; {kept}")

    def _run(self, total: int, started: float) -> None:
        # The cyclic garbage collector would rescan the live row objects of a batch over and over
        # (a third of an import's time); rows are freed by reference counting, so it is paused for
        # the run and run every COLLECT_EVERY rows instead (each run costs about the live rows of
        # two batches, whatever the interval; the little cyclic garbage an import makes stays bounded).
        self._gc_paused = gc.isenabled()
        self._collected_at = 0
        gc.disable()
        try:
            self._run_batches(total, started)
        finally:
            if self._gc_paused:
                gc.enable()

    def _collect(self, done: int) -> None:
        """Before a batch (none after the last: the collector runs again on its own then)."""
        if self._gc_paused and done - self._collected_at >= COLLECT_EVERY:
            gc.collect(1)
            self._collected_at = done

    def _run_batches(self, total: int, started: float) -> None:
        crm = self.crm
        with crm.operation(self.OP_KIND, sources.IMPORT, object=self.spec.objects[0], summary=self._summary("running")) as op:
            self.import_op = op
        self.committed = self._state()
        self.result.import_id = op.id
        done = 0
        self._make_properties()
        if self._plan_cache is None:
            self._plan_cache = self._plan()
        # cells are read and checked one batch ahead by a helper thread (see parse_ahead), which
        # closes its own database connection if a check opened one (an owner looked up by name)
        size = self.spec.batch_size
        self._ahead = ParseAhead(self._source(), self._parse, size, on_exit=crm.db.close,
                                 first_batch_size=FIRST_BATCH if size > FIRST_BATCH else size, finish=_Parsed.of,
                                 parse_chunk=self._parse_chunk)
        crm.sqlite_only = self._ahead.window
        try:
            for parsed in self._ahead:
                self._collect(done)
                self._batch(parsed)
                done += parsed.size
                self._report(done, total, started)
                if self.cancel.is_set():
                    self.result.cancelled = True
                    return
        finally:
            crm.sqlite_only = nullcontext
            self._ahead.close()
            self._ahead = None
        if self.deferred:
            self._with_batch_op(self._resolve_deferred)
        for label, value, option in self._loose:
            self.spec.warnings.append(f"{label}: {value!r} is no option; read as {option!r}")
        for header, line in self._late.items():
            self.spec.warnings.append(f"column {header!r} was skipped as empty in the first rows, but line {line} "
                                      "has a value in it: map it and import the file again to bring those in")
        self._report(done, max(total, done), started)

    def _source(self):
        """(line, row) of the file, as _parse (or _parse_chunk) takes them: rows as lists of cells
        when the file is checked a column at a time (_columns_plan), else as dicts."""
        self._by_columns = self._columns_plan()
        return _rows(self.spec, lists=True) if self._by_columns else _rows(self.spec)

    @property
    def _parse_chunk(self):
        return self._parse_columns if getattr(self, "_by_columns", None) else None

    def _columns_plan(self):
        """For a CSV file of one object whose columns are properties, its Record ID and association
        IDs (nearly every file: exports, address books, HubSpot's): (object, [(cell index, column
        check, property)], Record ID index, [(index, other object, primary)], headers, RowValues
        names); None for any other file (value maps, links by name, labels, several objects, a
        column skipped as empty in the sample...), which is checked row by row."""
        spec, plan = self.spec, self._plan_cache
        if spec.kind != "csv" or self._watch or len(spec.objects) != 1 or spec.value_maps or plan is None:
            return None
        props, id_header, refs, parts = [], None, [], {}
        for col, kind, _meta, prop, vmap, conv, header, obj, _pname in plan:
            if vmap or col.required or col.label or obj != spec.objects[0]:
                return None
            if kind == "prop" and prop is not None:
                props.append((header, conv, prop))
                parts[prop.name] = col.part
            elif kind == "id" and id_header is None:
                id_header = header
            elif kind == "assoc":
                refs.append((header, col.target.split(":", 1)[1], col.target.startswith(mapping.ASSOC_PRIMARY_PREFIX)))
            else:
                return None
        names = [prop.name for _h, _c, prop in props]
        if not props or len(set(names)) < len(names):  # two columns of one property: the later wins, row by row
            return None
        headers = csvread.open_csv(spec.path, encoding=spec.encoding, delimiter=spec.delimiter).headers
        at = {h: i for i, h in enumerate(headers)}
        if any(h not in at for h in [h for h, _c, _p in props] + [id_header or headers[0]] + [h for h, _o, _p in refs]):
            return None
        checks = []
        for header, conv, prop in props:
            kind = prop.type if prop.type in ("text", "number", "date", "datetime") else ""
            if kind == "text" and (header in spec.null_columns or parts.get(prop.name)):
                kind = ""  # its check reads null words as empty, or takes part of a name: cell by cell
            checks.append((at[header], columns.column_check(kind, conv), prop.name))
        return (spec.objects[0], checks, at[id_header] if id_header else None,
                [(at[h], o, p) for h, o, p in refs], headers, {name: i for i, name in enumerate(names)})

    def _parse_columns(self, chunk: list) -> list:
        """_parse for a chunk of rows read as lists, a column at a time (see columns.py): each
        record's values are one tuple (RowValues). A row with a cell refused, an ID that is not
        one, or nothing to import goes the general way (_parse), which reports it."""
        obj, props, id_at, refs, headers, names = self._by_columns
        general = _Importer._parse
        out: list = [None] * len(chunk)
        lines, rows, where = [], [], []
        for n, (line, cells) in enumerate(chunk):
            if isinstance(cells, list):
                lines.append(line)
                rows.append(cells)
                where.append(n)
            else:  # a record csvread could not read (BrokenRow)
                out[n] = general(self, line, cells)
        if not rows:
            return out
        cols = list(zip(*rows))
        converted, refused = [], set()
        for at, check, _name in props:
            values, bad, _gaps = check(cols[at])
            converted.append(values)
            if bad:
                refused.update(bad)
        local = self.spec.id_source == LOCAL
        Row, Rec, split = _Row, _Rec, mapping.split_list
        for r, (line, cells, vals) in enumerate(zip(lines, rows, zip(*converted))):
            ext_id = local_id = None
            if r not in refused:
                if id_at is not None and (cell := cells[id_at]):
                    if not local:
                        ext_id = cell
                    elif _is_record_id(cell):
                        local_id = int(cell)
                    else:
                        refused.add(r)
                out_refs = []
                for at, other, primary in refs:
                    cell = cells[at]
                    if not cell:
                        continue
                    if not local:
                        ids = [cell] if cell.isdigit() else split(cell.replace(",", ";"))
                    elif _is_record_id(cell):
                        ids = [str(int(cell))]
                    else:
                        ids = split(cell.replace(",", ";"))
                        if not all(map(_is_record_id, ids)):
                            refused.add(r)
                            break
                        ids = [str(int(i)) for i in ids]
                    out_refs.append((obj, other, ids, primary, None, headers[at]))
                if ext_id is None and local_id is None and not out_refs and all(map(_blank, vals)):
                    refused.add(r)  # nothing to import: said by the general way
            if r in refused:
                out[where[r]] = general(self, line, dict(zip(headers, cells)))
                continue
            rec = Rec(obj, RowValues(names, vals), ext_id=ext_id, local_id=local_id)
            out[where[r]] = (line, Row(line, {obj: rec}, out_refs, [], []), [])
        return out

    def _make_properties(self) -> None:
        """The custom properties planned for unknown columns ("@new:name:type"), made in one
        transaction before the first batch (and rolled back with a dry run)."""
        new = [(col, info) for col in self.columns if (info := new_property_of(col))]
        if not new:
            return
        with self.crm.db.atomic():
            for col, (name, ptype) in new:
                meta = self.reg.get(col.object)
                made = meta.properties.get(name)
                if made is not None and made.is_custom and made.label == col.header[:100]:
                    col.target = name  # made by an earlier run of the same plan (the wizard's F5 twice)
                    continue
                if made is not None:  # a property of that name came since the plan
                    name = infer.property_name(col.header, set(meta.properties))
                self.reg.add_property(meta.name, {"name": name, "label": col.header[:100], "type": ptype,
                                                  "group": "Imported"})
                self._made.append((col, col.target))
                col.target = name
                self.result.new_properties.append(f"{meta.name}.{name} ({ptype})")

    def _report(self, done: int, total: int, started: float) -> None:
        self.result.rows = done
        if self.progress is None:
            return
        elapsed = max(time.monotonic() - started, 1e-6)
        rate = done / elapsed
        total = max(total, done)
        left = (total - done) / rate if rate > 0 else None
        self.progress(Progress(done, total, rate, left))

    def _with_batch_op(self, fn_, *args):
        crm = self.crm
        if self._bulk is not None:
            self._bulk.before_batch()
        crm._ops.append(self.import_op)  # batches are child operations of the import operation
        try:
            rows, self._rows_in_batch = self._rows_in_batch, 0
            with crm.operation("import_batch", sources.IMPORT, object=self.spec.objects[0],
                               summary={"import": self.import_op.id}) as bop:
                result = fn_(bop, *args)
                # the import's record gets this batch's counts in the same transaction: a killed or
                # failed import's record holds exactly what its committed batches wrote
                self.batches += 1
                self.result.rows += rows
                self.result.failed = len(self.errors.failed_lines)
                self._finish("running", failed=self.result.failed)
            self.committed = self._state()
            if self._bulk is not None:
                self._bulk.committed()
            return result
        finally:
            crm._ops.pop()

    def _batch(self, batch) -> None:
        self._rows_in_batch = batch.size
        self._with_batch_op(self._process, batch)

    # -- one batch

    def _process(self, bop, parsed: "_Parsed") -> None:
        for line, problems, refused in parsed.problems:
            for header, cell, reason in problems:
                self.errors.add(line, header, cell, reason, ROW_SKIPPED if refused else CELL_SKIPPED)
        if self._new_options:
            self._add_options()
        rows = self._match(parsed.rows)
        self._write(bop, rows)
        self._link(bop, rows)
        if self._ahead is not None:
            self._ahead.open_gate()  # the commit that follows runs no Python

    def _plan(self) -> list[tuple]:
        plan = []
        for col in self.columns:
            t = col.target
            meta = self.reg.get(col.object)
            vmap = self.spec.value_maps.get(col.header)
            if t == mapping.ID:
                kind = "id"
            elif t.startswith(mapping.ASSOC_PREFIX) or t.startswith(mapping.ASSOC_PRIMARY_PREFIX):
                kind = "assoc"
            elif t == mapping.LABEL:
                kind = "label"
            elif t.startswith(LINK_PREFIX):
                kind = "link"
            else:
                kind = "prop"
            prop = meta.properties.get(t) if kind == "prop" else None
            if prop is not None and prop.type in ("date", "datetime") and not self.spec.dayfirst \
                    and col.header in self.spec.dayfirst_columns:  # this column's dates are day first
                conv = _day_first_coercer(meta, prop)
            elif prop is not None:  # validation as records.coerce_value, without its per-cell dispatch
                conv = self.crm.records.column_coercer(meta, prop)
            else:
                conv = (lambda m, p: (lambda raw: self.crm.records.coerce_value(m, p, raw)))(meta, prop)
            if prop is not None and prop.type in ("text", "textarea") and col.header in self.spec.null_columns:
                conv = _null_aware(conv)
            if col.part:
                conv = _name_part(conv, col.part)
            plan.append((col, kind, meta, prop, vmap, conv, col.header, col.object, prop.name if prop is not None else None))
        return plan

    def _parse(self, line: int, row: dict) -> tuple[int, _Row | None, list]:
        """(line, the row's records and links, [cells not imported]) or (line, None, [(header, cell,
        reason)...]) for a row refused: a row fails only when it cannot be identified (its Record ID)
        or keeps no value; a bad cell is left out and reported (all of the row with `strict`).

        Runs in the parse-ahead thread: it reads no shared state but the plan, and reports problems
        instead of writing them."""
        recs: dict[str, _Rec] = {}
        out = _Row(line, recs, [], [], [])
        problems = []
        refused = self.spec.strict
        plan = self._plan_cache
        if self._watch:  # columns skipped as empty in the sample: a value further down is reported
            for header in self._watch:
                if row.get(header) and header not in self._late:
                    self._late[header] = line
        for col, kind, meta, prop, vmap, conv, header, obj, pname in plan:
            cell = row.get(header, "")
            if vmap and cell.casefold() in vmap:
                cell = vmap[cell.casefold()]
            if not cell:
                if col.required:
                    other = col.target[len(LINK_PREFIX):].split(":", 1)[0]
                    out.keylinks.append((col.object, other, None, "", col.label, col.header, False))
                continue
            if kind == "prop":
                try:
                    value = conv(cell)
                except InvalidValue as exc:
                    try:  # the slow path: a null word, several values in one cell, a new option
                        value = self._rescue(obj, prop, conv, cell, out)
                    except InvalidValue:
                        problems.append((header, cell, _reason(exc)))
                        continue
                if value is not None:
                    rec = recs.get(obj)
                    if rec is None:
                        rec = recs[obj] = _Rec(obj, {})
                    rec.values[pname] = value
                continue
            target = col.target
            if kind == "id":
                rec = recs.setdefault(col.object, _Rec(col.object, {}))
                if self.spec.id_source == LOCAL:
                    if not _is_record_id(cell):
                        problems.append((col.header, cell, f"{cell!r} is not a Record ID"))
                        refused = True
                        continue
                    rec.local_id = int(cell)
                else:
                    rec.ext_id = cell
            elif kind == "assoc":
                primary = target.startswith(mapping.ASSOC_PRIMARY_PREFIX)
                other = target.split(":", 1)[1]
                if _is_record_id(cell) and self.spec.id_source == LOCAL:  # one Record ID, the common cell
                    out.refs.append((col.object, other, [str(int(cell))], primary, col.label, col.header))
                    continue
                ids = mapping.split_list(cell.replace(",", ";"))
                if self.spec.id_source == LOCAL:
                    bad = [i for i in ids if not _is_record_id(i)]
                    if bad:
                        problems.append((col.header, cell, f"{bad[0]!r} is not a Record ID"))
                        continue
                    ids = [str(int(i)) for i in ids]
                out.refs.append((col.object, other, ids, primary, col.label, col.header))
            elif kind == "label":
                out.labels = mapping.split_list(cell)
                out.label_header = col.header
            else:
                other, prop_name = target[len(LINK_PREFIX):].split(":", 1)
                out.keylinks.append((col.object, other, prop_name, cell, col.label, col.header, col.create_missing))
        if out.more_emails:  # after every column: an additional-emails column of the row keeps its own too
            for obj, emails in out.more_emails:
                values = recs[obj].values
                known = mapping.split_list(values.get("hs_additional_emails") or "")
                values["hs_additional_emails"] = ";".join(dict.fromkeys(known + emails))
        if problems and refused:
            return line, None, problems
        if not recs and not out.refs and not out.keylinks:
            if problems:
                return line, None, problems
            broken = getattr(row, "problem", None)  # csvread.BrokenRow: a record that could not be read
            return line, None, [("", "", broken or "nothing to import in this row (no mapped value)")]
        main = self.spec.objects[0]
        if main not in recs and (out.refs or out.keylinks):
            recs[main] = _Rec(main, {})
        return line, out, problems

    def _rescue(self, obj: str, prop, conv, cell: str, out: _Row):
        """A cell its column's check refused, looked at again (parse-ahead thread, slow path only):
        a null word is empty; several values (`a ::: b` as Google writes them, `a; b`) all stay (more
        emails go to the additional emails, phones stay together); a dropdown value the property
        lacks becomes a new option (not with `strict`). Raises InvalidValue when none of that fits."""
        text = cell.strip()
        if text.casefold() in csvread.NULL_WORDS:
            return None
        kind = prop.type
        if kind == "email" and (":::" in text or ";" in text or "," in text):
            found = [conv(part) for part in mapping.split_list(text.replace(":::", ";").replace(",", ";"))]
            found = [v for v in found if v]
            if found and len(found) > 1 and prop.name == "email" and "hs_additional_emails" in self.reg.get(obj).properties:
                if obj not in out.recs:
                    out.recs[obj] = _Rec(obj, {})
                out.more_emails = (out.more_emails or []) + [(obj, found[1:])]
                return found[0]
            if len(found) == 1:
                return found[0]
        elif kind == "phone" and ":::" in text:
            return conv(", ".join(mapping.split_list(text.replace(":::", ";"))))
        if kind == "select" and (loose := _last_word_option(prop, text)) is not None:
            self._loose.setdefault((prop.label, text, prop.option_label(loose)), True)
            return loose
        if kind in ("select", "multiselect") and not prop.options_from:
            items = [text] if kind == "select" else mapping.split_list(text.replace(":::", ";"))
            pending = self._new_options.setdefault((obj, prop.name), {})
            names = []
            for item in items:
                name = prop.option_name(item)
                if name is None:
                    key = values_option_key(item)
                    if self.spec.strict or not key:
                        raise InvalidValue(item)
                    name = pending.setdefault(key, " ".join(item.split())[:100])
                if name not in names:
                    names.append(name)
            return ";".join(names) or None
        elif kind == "multiselect" and ":::" in text:
            return conv(text.replace(":::", ";"))
        raise InvalidValue(cell)

    def _add_options(self) -> None:
        """The dropdown options met in the batch (writer thread, in the batch's transaction): added to
        the property, reported in the summary. A dry run reports them and adds none."""
        PropertyDef = self.crm.models.PropertyDef
        for (obj, pname), pending in list(self._new_options.items()):
            meta = self.reg.get(obj)
            prop = meta.properties[pname]
            have = {o.name for o in prop.options}
            new = [(name) for name in list(pending.values()) if name not in have
                   and f"{obj}.{pname}: {name}" not in self.result.new_options]
            if not new:
                continue
            row = PropertyDef.get((PropertyDef.object == meta.id) & (PropertyDef.name == pname))
            options = json.loads(row.options or "[]") + [{"name": n, "label": n} for n in new]
            PropertyDef.update(options=json.dumps(options)).where(PropertyDef.id == row.id).execute()
            if not self.dry_run:
                prop.options.extend(Option(n, n) for n in new)
            self.result.new_options += [f"{obj}.{pname}: {n}" for n in new]

    def _match(self, rows: list[_Row]) -> list[_Row]:
        """Find the existing record of each row's records; refuse rows that cannot be matched."""
        bad: dict[int, tuple[str, str, str]] = {}
        for obj in self.spec.objects:
            meta = self.reg.get(obj)
            recs = [(row, rec) for row in rows if (rec := row.recs.get(obj)) is not None]
            if not recs:
                continue
            # by this CRM's Record ID
            local_ids = [r.local_id for _row, r in recs if r.local_id is not None]
            live = set(_live_ids(self.crm, meta, local_ids))
            # by a source system's ID
            ext_ids = [r.ext_id for _row, r in recs if r.ext_id]
            known_ext = self._ext_lookup(obj, ext_ids)
            # by email / domain
            key = _dedupe_key(obj)
            keys = [value for _row, r in recs if (value := r.values.get(key))] if key else []
            by_key = {}
            if keys:
                for rid, k in _in_rows(self.crm, f'id, "{key}"', f'FROM "{meta.table}" WHERE deleted_at IS NULL '
                                       f'AND "{key}" IN {{values}}', list(set(keys))):
                    by_key[k] = rid
            # by a contact's additional emails (a merge keeps the merged-away ones): the emails no
            # primary email matched, looked up in one map read once per import
            by_other = self._additional_lookup(meta) if key == "email" and len(by_key) < len(set(keys)) else None
            # by a second key (phone, name) for rows without any of those: a file without emails
            # imported twice creates nothing the second time (see _second_key)
            by_second = self._second_lookup(obj, meta, recs) if len(keys) < len(recs) and obj in _SECOND_KEYS else None
            claimed = self._claimed
            seen_key: dict = {}
            seen_ext: dict = {}
            required = [(n, p) for n, p in meta.properties.items() if p.required]
            crm, before_create = self.crm, rules.before_create
            for row, rec in recs:
                if row.line in bad:
                    continue
                values, ext_id = rec.values, rec.ext_id
                key_value = values.get(key) if key else None
                if rec.local_id is not None:
                    if rec.local_id not in live:
                        bad[row.line] = ("Record ID", str(rec.local_id), f"no {meta.label.lower()} with Record ID {rec.local_id}")
                        continue
                    rec.record_id = rec.local_id
                elif ext_id and ext_id in known_ext:
                    rec.record_id = known_ext[ext_id]
                elif key_value is not None and key_value in by_key:
                    rec.record_id = by_key[key_value]
                elif by_other and key_value is not None and key_value in by_other:
                    rec.record_id = by_other[key_value]
                    del values[key]  # its primary email stays; this one is already among its others
                elif by_second is not None and not ext_id and key_value is None \
                        and (second := _second_key(obj, values)) is not None:
                    for rid in by_second.get(second, ()):
                        if (obj, rid) not in claimed:  # two rows alike meet two records, in order
                            claimed.add((obj, rid))
                            rec.record_id = rid
                            break
                if rec.record_id is None:
                    earlier = (seen_ext.get(ext_id) if ext_id else None) or \
                              (seen_key.get(key_value) if key_value else None)
                    if earlier is not None:
                        rec.pending = earlier
                        earlier.values.update(values)
                        continue
                    if not values and not ext_id:
                        bad[row.line] = ("", "", f"no value for the {meta.label.lower()} of this row")
                        continue
                    rec.fresh = True
                    if required:
                        missing = [p for n, p in required if values.get(n) is None]
                        if missing:
                            p = missing[0]
                            bad[row.line] = (p.label, "", f"{p.label} is required to create a {meta.label.lower()}")
                            continue
                    try:
                        before_create(crm, meta, values)
                    except CrmError as exc:
                        bad[row.line] = ("", "", _reason(exc))
                        continue
                    if ext_id:
                        seen_ext[ext_id] = rec
                    if key_value:
                        seen_key[key_value] = rec
                else:
                    if rec.ext_id and rec.ext_id not in known_ext:
                        rec.fresh = False
                        rec.values.setdefault("__new_ext__", rec.ext_id)
        out = []
        for row in rows:
            if row.line in bad:
                header, value, reason = bad[row.line]
                self.errors.add(row.line, header, value, reason, ROW_SKIPPED)
                for rec in row.recs.values():  # a fresh record of a refused row is not created
                    rec.fresh = False
            else:
                out.append(row)
        return out

    def _additional_lookup(self, meta) -> dict:
        """{additional email: live contact id (the oldest holding it)}, read in one statement the
        first time a batch has emails no primary email matched, and kept up to date by _write."""
        if self._additional is None:
            self._additional = {}
            if ADDITIONAL_EMAILS in meta.properties:
                with self.crm.sqlite_only():
                    held = self.crm.db.execute_sql(
                        f'SELECT id, "{ADDITIONAL_EMAILS}" FROM "{meta.table}" WHERE deleted_at IS NULL '
                        f'AND "{ADDITIONAL_EMAILS}" IS NOT NULL ORDER BY id DESC').fetchall()
                self._note_additional(held)
        return self._additional

    def _note_additional(self, pairs, *, keep: bool = False) -> None:
        """Pairs (id, ;-separated emails); with keep, an email already known keeps its contact."""
        for rid, listed in pairs:
            for email in str(listed or "").split(";"):
                if (email := email.strip().lower()) and not (keep and email in self._additional):
                    self._additional[email] = rid

    def _second_lookup(self, obj: str, meta, recs: list) -> dict:
        """{second key: [record ids, oldest first]} of live records that have no primary key either."""
        self._seconds = True
        found: dict = {}
        wanted: dict = {}
        for _row, rec in recs:
            if rec.local_id is None and not rec.ext_id and (second := _second_key(obj, rec.values)) is not None:
                wanted.setdefault(second[0], set()).add(second[1] if second[0] != "name" else second)
        table = meta.table
        if obj == "companies":
            names = [rec.values["name"] for _row, rec in recs if rec.values.get("name")]
            for rid, name in _in_rows(self.crm, "id, name", f'FROM "{table}" WHERE deleted_at IS NULL AND domain IS NULL '
                                      "AND name IN {values}", list(set(names))):
                found.setdefault(("name", name.casefold()), []).append(rid)
        else:
            for column in ("phone", "mobilephone"):
                if wanted.get(column) and column in meta.properties:
                    for rid, value in _in_rows(self.crm, f'id, "{column}"', f'FROM "{table}" WHERE deleted_at IS NULL '
                                               f'AND email IS NULL AND "{column}" IN {{values}}', list(wanted[column])):
                        found.setdefault((column, value), []).append(rid)
            if wanted.get("name"):
                keyless = "email IS NULL" + "".join(f' AND "{c}" IS NULL' for c in ("phone", "mobilephone")
                                                    if c in meta.properties)
                named = [rec.values for _row, rec in recs if _second_key(obj, rec.values) in wanted["name"]]
                last = list({v["lastname"] for v in named if v.get("lastname")})
                first = list({v["firstname"] for v in named if v.get("firstname") and not v.get("lastname")})
                rows = _in_rows(self.crm, "id, firstname, lastname", f'FROM "{table}" WHERE deleted_at IS NULL AND '
                                f"{keyless} AND lastname IN {{values}}", last) if last else []
                rows += _in_rows(self.crm, "id, firstname, lastname", f'FROM "{table}" WHERE deleted_at IS NULL AND '
                                 f"{keyless} AND lastname IS NULL AND firstname IN {{values}}", first) if first else []
                for rid, fname, lname in rows:
                    found.setdefault(("name", (fname or "").casefold(), (lname or "").casefold()), []).append(rid)
        for ids in found.values():
            ids.sort()
        return found

    def _ext_lookup(self, obj: str, ext_ids: list[str]) -> dict[str, int]:
        ExternalId = self.crm.models.ExternalId
        found: dict[str, int] = {}
        if not ext_ids or self.spec.id_source == LOCAL:
            return found
        # one statement for the batch (Peewee took half the time writing IN lists of 900 values)
        for ext, rid in _in_rows(self.crm, "external_id, record_id", f'FROM "{ExternalId._meta.table_name}" '
                                 "WHERE object = ? AND source_system = ? AND external_id IN {values}", ext_ids,
                                 (obj, self.spec.id_source)):
            found[ext] = rid
        return found

    def _write(self, bop, rows: list[_Row]) -> None:
        ExternalId = self.crm.models.ExternalId
        crm = self.crm
        new_ext: list[tuple] = []
        for obj in self.spec.objects:
            meta = self.reg.get(obj)
            pairs = [(row, rec) for row in rows if (rec := row.recs.get(obj)) is not None]
            fresh = [pair for pair in pairs if pair[1].fresh]
            if fresh:
                self._insert(bop, meta, fresh)
                if obj in rules.CLOSE_DATE:  # closed deals and tickets without a close date get one
                    rules.set_close_dates(crm, obj, [rec.record_id for _row, rec in fresh if rec.fresh])
                # workflows triggered by "created": one look-up per batch when none listens
                crm.workflows.after_bulk_create(obj, [rec.record_id for _row, rec in fresh
                                                      if rec.fresh and rec.record_id is not None])
                if self._seconds and obj in _SECOND_KEYS:  # made here: a later row alike is another record
                    self._claimed.update((obj, rec.record_id) for _row, rec in fresh
                                         if rec.record_id is not None and _second_key(obj, rec.values) is not None)
                new_ext += [(obj, rec.record_id, rec.ext_id) for _row, rec in fresh
                            if rec.ext_id and rec.record_id is not None]
            current = self._current_rows(meta, [rec.record_id for _row, rec in pairs
                                                if not rec.fresh and rec.record_id is not None])
            for row, rec in pairs:
                if rec.pending is not None:
                    rec.record_id = rec.pending.record_id
                    continue
                if rec.fresh or rec.record_id is None:
                    continue
                ext = rec.values.pop("__new_ext__", None)
                if ext:
                    new_ext.append((obj, rec.record_id, ext))
                values = {k: v for k, v in rec.values.items() if k not in ("createdate",) and v is not None}
                now_row = current.get(rec.record_id)
                if now_row is not None:  # skip the operation when nothing would change
                    values = {k: v for k, v in values.items() if now_row.get(k) != v}
                if not values:
                    self.result.unchanged += 1
                    continue
                try:
                    with crm.db.atomic():
                        saved = crm.records._update(meta, rec.record_id, values, sources.IMPORT, None)
                except CrmError as exc:
                    self.errors.add(row.line, "", "", f"{meta.label} {rec.record_id} not updated: {_reason(exc)}", ROW_SKIPPED)
                    continue
                if saved.changed:
                    self.result.updated[obj] = self.result.updated.get(obj, 0) + 1
                else:
                    self.result.unchanged += 1
            if self._additional is not None and obj == "contacts":  # additional emails this batch wrote
                self._note_additional([(rec.record_id, rec.values[ADDITIONAL_EMAILS]) for _row, rec in pairs
                                       if rec.record_id is not None and rec.values.get(ADDITIONAL_EMAILS)], keep=True)
        if new_ext and self.spec.id_source != LOCAL:  # Peewee's SQL for one row, run for every row
            fields = [ExternalId.object, ExternalId.record_id, ExternalId.source_system, ExternalId.external_id,
                      ExternalId.op]
            sql, _params = ExternalId.insert_many([(None,) * 5], fields=fields).on_conflict_ignore().sql()
            source = self.spec.id_source
            crm.db.cursor().executemany(sql, [(o, r, source, e, bop.id) for o, r, e in new_ext])

    def _current_rows(self, meta, ids: list[int]) -> dict[int, dict]:
        out = {}
        ids = list(set(ids))
        for start in range(0, len(ids), 900):
            for row in meta.model.select().where(meta.model.id.in_(ids[start:start + 900])).dicts():
                out[row["id"]] = row
        return out

    def _insert(self, bop, meta, fresh: list) -> None:
        first_values = fresh[0][1].values
        index = first_values.names if type(first_values) is RowValues else None
        if index is not None and all(type(v := rec.values) is RowValues and v.names is index for _row, rec in fresh):
            # records read a column at a time: their tuples are the rows, in the file's column order
            added = dict.fromkeys(chain.from_iterable(v.extra for _row, rec in fresh if (v := rec.values).extra))
            names = list(index) + [k for k in added if k not in index]
        else:
            index = None
            names = list(dict.fromkeys(chain.from_iterable(rec.values for _row, rec in fresh)))  # first-seen order
        records = self.crm.records
        if "createdate" in names:
            now = now_iso()
            for _row, rec in fresh:
                if rec.values.get("createdate") is None:
                    rec.values["createdate"] = now
        if index is not None:
            rows = _row_tuples([rec.values for _row, rec in fresh], index, names[len(index):],
                               [k for k in added if k in index] + (["createdate"] if "createdate" in index else []))
        else:
            # names is the union of the records' keys: a record with as many keys has all of them
            n = len(names)
            every = itemgetter(*names) if n > 1 else (lambda values: tuple(values[k] for k in names))
            blanks = ("",) * n  # a value the record lacks goes in as "", which the statement stores as NULL
            rows = [every(rec.values) if len(rec.values) == n else tuple(map(rec.values.get, names, blanks))
                    for _row, rec in fresh]
        try:
            with self.crm.db.atomic():
                first, last = records.bulk_insert(meta, names, rows, bop, blank_is_null=True)
            assert last - first + 1 == len(fresh)
            for i, (_row, rec) in enumerate(fresh):
                rec.record_id = first + i
            records.index_range(meta, first, last)
            created = len(fresh)
        except dialect.INTEGRITY_ERRORS:  # a unique value taken: go row by row to find which
            created = 0
            for row, rec in fresh:
                try:
                    with self.crm.db.atomic():
                        first, last = records.bulk_insert(meta, names, [tuple(rec.values.get(n) for n in names)], bop)
                    rec.record_id = first
                    records.index_range(meta, first, last)
                    created += 1
                except dialect.INTEGRITY_ERRORS as exc:
                    rec.fresh = False
                    self.errors.add(row.line, "", "", _reason(records._integrity_problem(meta, rec.values, exc)), ROW_SKIPPED)
        self.result.created[meta.name] = self.result.created.get(meta.name, 0) + created

    # -- links

    def _link(self, bop, rows: list[_Row]) -> None:
        pairs: list = []  # (line, header, a_ref, b_ref, labels, primary): resolved by _resolve
        # References without a label or primary flag between objects without a pair limit (nearly
        # all of them) are resolved here and, when the batch has no other kind of link, go straight
        # to the bulk path as (a, b): the same rules apply to them in _make_links, without the
        # intermediate tuples of the general path. Otherwise they rejoin the others in file order,
        # which decides the primary company (the first company linked).
        plain_at: list = []  # (its position among pairs, line, header, a, b)
        self.fresh = {(o, r.record_id) for row in rows for o, r in row.recs.items() if r.fresh and r.record_id is not None}
        self.given_company = set()  # per batch: later batches ask the database (memory stays flat)
        failed = self.errors.failed_lines
        wanted: dict[str, set] = {}
        for row in rows:
            for _obj, other, ids, _primary, _label, _header in row.refs:
                bucket = wanted.get(other)
                if bucket is None:
                    bucket = wanted[other] = set()
                bucket.update(ids)
        targets = self._ref_targets(wanted) if wanted else {}
        for row in rows:
            if row.line in failed:
                continue
            recs = row.recs
            used_label = False
            if len(recs) > 1:
                recs = {o: r for o, r in recs.items() if r.record_id is not None}
                objs = [o for o in self.spec.objects if o in recs] if len(recs) > 1 else ()
                for i, a in enumerate(objs):
                    for b in objs[i + 1:]:
                        labels = self._row_labels(a, b, row.labels)
                        used_label |= bool(labels)
                        pairs.append((row.line, "", (a, recs[a].record_id), (b, recs[b].record_id), labels, False))
            if row.labels and not used_label:
                self.errors.add(row.line, row.label_header or "", ";".join(row.labels),
                                "no such association label between the objects of this row", NOT_LINKED)
            for obj, other, ids, primary, label, header in row.refs:
                rec = recs.get(obj)
                if rec is None or rec.record_id is None:
                    continue
                a = (obj, rec.record_id)
                if label or primary or self._limited(obj, other):
                    labels = [label] if label else ()
                    for ext in ids:
                        pairs.append((row.line, header, a, ("@ref", other, ext), labels, primary))
                    continue
                found = targets[other]
                for ext in ids:
                    b = found.get(ext)
                    if b is None:  # maybe a record of a later batch: _resolve defers it
                        pairs.append((row.line, header, a, ("@ref", other, ext), (), False))
                    else:
                        plain_at.append((len(pairs), row.line, header, a, b))
            for obj, other, prop, value, label, header, create in row.keylinks:
                rec = recs.get(obj)
                if rec is None or rec.record_id is None:
                    continue
                if not value:
                    self.errors.add(row.line, header, "", f"empty: no {self.reg.get(other).label.lower()} to link", NOT_LINKED)
                    continue
                pairs.append((row.line, header, (obj, rec.record_id), ("@key", other, prop, value, create),
                              [label] if label else (), False))
        if pairs and plain_at:
            merged, start = [], 0
            for pos, line, header, a, b in plain_at:
                merged += pairs[start:pos]
                start = pos
                merged.append((line, header, a, b, (), False))
            merged += pairs[start:]
            pairs, plain = merged, []
        else:
            plain = [(a, b) for _pos, _line, _header, a, b in plain_at]
        # records created by this batch are linked by domain first, as a record created alone is
        # before anything else is linked with it (its domain's company becomes its primary one)
        self._auto_domain(bop, rows)
        resolved = self._resolve(pairs, defer=True, targets=targets) if pairs else []
        self._make_links(bop, resolved, plain)
        created = {(o, r.record_id) for row in rows for o, r in row.recs.items() if r.fresh and r.record_id is not None}
        self._roll_up()
        self._by_address(created)

    def _by_address(self, created: set) -> None:
        """Emails belong to their addresses: the emails this batch created remember theirs, and the
        contacts it created get the emails of their addresses (rules.link_emails_by_address)."""
        emails = [rid for obj, rid in created if obj == "emails"]
        if emails:
            rules.record_email_addresses(self.crm, emails)
        contacts = [rid for obj, rid in created if obj == "contacts"]
        if contacts:
            self.result.linked += rules.link_emails_by_address(self.crm, contacts)

    def _row_labels(self, a: str, b: str, labels: list[str]) -> list[str]:
        out = []
        for name in labels:
            try:
                self.reg.find_label(self.reg.get(a), self.reg.get(b), name)
                out.append(name)
            except NotFound:
                pass
        return out

    def _ref_targets(self, ids_by_object: dict[str, set]) -> dict[str, dict[str, tuple[str, int]]]:
        """{object: {ID as written in the file: (object, record id)}} for the IDs that name a live record."""
        out = {}
        for other, ids in ids_by_object.items():
            meta = self.reg.get(other)
            if self.spec.id_source == LOCAL:
                out[other] = {str(i): (other, i) for i in _live_ids(self.crm, meta, [int(i) for i in ids])}
            else:
                out[other] = {ext: (other, rid) for ext, rid in self._ext_lookup(other, list(ids)).items()}
        return out

    def _resolve(self, pairs: list, defer: bool, targets: dict | None = None) -> list:
        """Turn @ref / @key ends into record refs; unresolved ones are deferred or reported.
        `targets`: _ref_targets already looked up for every @ref of these pairs."""
        Association = self.crm.models.Association
        out = []
        refs: dict[str, set] = {}
        keys: dict[tuple[str, str], set] = {}
        for p in pairs:
            end = p[3]
            kind = end[0]
            if kind == "@ref":
                if targets is None:
                    ids = refs.get(end[1])
                    if ids is None:
                        ids = refs[end[1]] = set()
                    ids.add(end[2])
            elif kind == "@key":
                keys.setdefault((end[1], end[2]), set()).update((end[3].casefold(), end[3]))  # SQLite's lower() is ASCII only
        ref_map = targets if targets is not None else self._ref_targets(refs)
        key_map: dict[tuple[str, str], dict[str, list[int]]] = {}
        for (other, prop), values in keys.items():
            meta = self.reg.get(other)
            field_ = getattr(meta.model, prop)
            found: dict[str, list[int]] = {}
            vals = list(values)
            for start in range(0, len(vals), 900):
                chunk = vals[start:start + 900]
                for rid, v in meta.model.select(meta.model.id, field_).where(
                        (fn.LOWER(field_).in_(chunk) | field_.in_(chunk)) & meta.model.deleted_at.is_null(True)).tuples():
                    same = found.setdefault(str(v).casefold(), [])
                    if rid not in same:
                        same.append(rid)
            key_map[(other, prop)] = found
        for line, header, a, end, labels, primary in pairs:
            if end[0] == "@ref":
                ref = ref_map[end[1]].get(end[2])
                if ref is None:
                    if defer:
                        self.deferred.append((line, header, a, end, labels, primary))
                    else:
                        self.errors.add(line, header, end[2], f"no {self.reg.get(end[1]).label.lower()} with Record ID {end[2]}"
                                        + ("" if self.spec.id_source == LOCAL else f" from {self.spec.id_source}"), NOT_LINKED)
                    continue
                out.append((line, header, a, ref, labels, primary))
            elif end[0] == "@key":
                other, prop, value, create = end[1:]
                ids = key_map[(other, prop)].get(value.casefold(), [])
                meta = self.reg.get(other)
                plabel = meta.properties[prop].label.lower()
                if len(ids) > 1:  # the one the record is linked with already, if it is one of them
                    a_meta = self.reg.get(a[0])
                    linked = [i for (i,) in Association.select(Association.to_id).where(
                        (Association.from_object == a_meta.id) & (Association.from_id == a[1])
                        & (Association.to_object == meta.id) & Association.to_id.in_(ids)).tuples()]
                    if len(linked) == 1:
                        ids = linked
                if len(ids) > 1:
                    self.errors.add(line, header, value, f"ambiguous: {len(ids)} {meta.plural_label.lower()} have "
                                    f"{plabel} {value!r} (ids {', '.join(map(str, sorted(ids)[:5]))})", NOT_LINKED)
                    continue
                if not ids:
                    if create:
                        rid = self._create_named(meta, prop, value)
                        key_map[(other, prop)][value.casefold()] = [rid]
                        ids = [rid]
                    elif defer:
                        self.deferred.append((line, header, a, end, labels, primary))
                        continue
                    else:
                        self.errors.add(line, header, value, f"no {meta.label.lower()} with {plabel} {value!r}", NOT_LINKED)
                        continue
                out.append((line, header, a, (other, ids[0]), labels, primary))
            else:
                out.append((line, header, a, end, labels, primary))
        return out

    def _create_named(self, meta, prop: str, value: str) -> int:
        bop = self.crm._ops[-1]
        values = {prop: self.crm.records.coerce_value(meta, meta.properties[prop], value)}
        rules.before_create(self.crm, meta, values)
        first, last = self.crm.records.bulk_insert(meta, list(values), [tuple(values.values())], bop)
        self.crm.records.index_range(meta, first, last)
        self.result.created[meta.name] = self.result.created.get(meta.name, 0) + 1
        return first

    def _resolve_deferred(self, bop) -> None:
        pending, self.deferred = self.deferred, []
        self.fresh = set()  # every record exists by now: check all links
        self._make_links(bop, self._resolve(pending, defer=False))

    def _make_links(self, bop, pairs: list, plain: list = ()) -> None:
        """Link resolved pairs (line, header, a, b, labels, primary) and `plain` (a, b) pairs, which
        have no label or primary flag and no pair limit."""
        crm = self.crm
        assoc = crm.assoc
        seen = set()
        slow_keys = set()
        slow: list = []
        simple: list = []
        for a, b in plain:
            if a == b:
                continue
            key = (a, b) if a <= b else (b, a)  # (object, id) pairs
            if key not in seen:
                seen.add(key)
                simple.append((a, b))
        primaries = self._primary_edges([(a, b) for _l, _h, a, b, labels, primary in pairs if primary and not labels])
        for line, header, a, b, labels, primary in pairs:
            if primary and not labels and (a, b) in primaries:
                continue  # already linked and primary
            if a == b:
                continue
            key = (a, b) if a <= b else (b, a)  # (object, id) pairs
            if key in seen and not labels and not primary:
                continue
            seen.add(key)
            if labels or primary or self._limited(a[0], b[0]):
                slow_keys.add(key)
                slow.append((line, header, a, b, labels, primary))
                continue
            simple.append((a, b))
        if slow_keys:
            simple = [(a, b) for a, b in simple if ((a, b) if a <= b else (b, a)) not in slow_keys]
        if simple:
            existing = self._existing_edges(simple)
            new_pairs = [(a, b) for a, b in simple if (a, b) not in existing] if existing else simple
            if new_pairs:
                self._bulk_link(bop, new_pairs)
        # labelled, primary or limited links one by one, after the plain ones (so "first company
        # becomes primary" and "make this one primary" see every link of the row)
        for line, header, a, b, labels, primary in slow:
            try:
                with crm.db.atomic():
                    result = assoc._add(bop, a, b, labels, primary)
                self.result.linked += int(result.created)
                holder = assoc._holder(self.reg.get(a[0]), a[1], self.reg.get(b[0]), b[1])
                if holder is not None:
                    self.given_company.add((holder[0].name, holder[1]))
            except CrmError as exc:
                self.errors.add(line, header, "", _reason(exc), NOT_LINKED)

    def _limited(self, a: str, b: str) -> bool:
        """A pair limit applies between these two objects (either way round)."""
        limited = self._limits.get((a, b))
        if limited is None:
            a_id, b_id = self.reg.get(a).id, self.reg.get(b).id
            limited = self._limits[(a, b)] = (a_id, b_id) in self.pair_limits or (b_id, a_id) in self.pair_limits
        return limited

    def _bulk_link(self, op, pairs: list) -> None:
        """bulk_link without a primary-company query per holder: holders are looked up per batch."""
        assoc = self.crm.assoc
        holders: dict[tuple, list] = {}
        plain = []
        sides: dict[tuple[str, str], tuple] = {}  # per object pair: (holder side 0/1/2, holder object)
        last_a = last_b = side = None  # pairs mostly come in runs of one object pair
        for a, b in pairs:
            if a[0] != last_a or b[0] != last_b:
                last_a, last_b = a[0], b[0]
                side = sides.get((last_a, last_b))
                if side is None:
                    holder = assoc._holder(self.reg.get(last_a), 1, self.reg.get(last_b), 2)
                    side = sides[(last_a, last_b)] = (0, None) if holder is None else (holder[1], holder[0].name)
            if not side[0]:
                plain.append((a, b))
            else:
                key = (side[1], a[1] if side[0] == 1 else b[1])
                group = holders.get(key)
                if group is None:
                    holders[key] = [(a, b)]
                else:
                    group.append((a, b))
        with_primary: set = set(k for k in holders if k in self.given_company)
        by_object: dict[str, list[int]] = {}
        for key in holders:
            if key not in self.fresh and key not in with_primary:
                by_object.setdefault(key[0], []).append(key[1])
        self.given_company.update(holders)
        companies = self.reg.get("companies")
        for obj, ids in by_object.items():
            meta = self.reg.get(obj)
            for (rid,) in _in_rows(self.crm, "from_id", "FROM association WHERE from_object = ? AND to_object = ? "
                                   "AND is_primary = 1 AND from_id IN {values}", ids, (meta.id, companies.id)):
                with_primary.add((obj, rid))
        needs = [p for key, ps in holders.items() if key not in with_primary for p in ps]
        has = [p for key, ps in holders.items() if key in with_primary for p in ps]
        linked = 0
        if needs:  # the first company of each of these holders becomes primary
            linked += assoc.bulk_link(needs, op, holders_are_new=True)
        if has or plain:
            linked += assoc.bulk_link(has + plain, op, primary_to_companies=False)
        self.result.linked += linked

    def _primary_edges(self, pairs: list) -> set:
        Association = self.crm.models.Association
        by_group: dict[tuple[str, str], set[int]] = {}
        for a, b in pairs:
            by_group.setdefault((a[0], b[0]), set()).add(a[1])
        found = set()
        for (ao, bo), ids in by_group.items():
            am, bm = self.reg.get(ao), self.reg.get(bo)
            ids_ = list(ids)
            for start in range(0, len(ids_), 900):
                for fid, tid in Association.select(Association.from_id, Association.to_id).where(
                        (Association.from_object == am.id) & (Association.to_object == bm.id)
                        & (Association.is_primary == True) & Association.from_id.in_(ids_[start:start + 900])).tuples():  # noqa: E712
                    found.add(((ao, fid), (bo, tid)))
        return found

    def _existing_edges(self, pairs: list, check_all: bool = False) -> set:
        by_group: dict[tuple[str, str], set[int]] = {}
        fresh = () if check_all else self.fresh
        for a, b in pairs:
            if a in fresh or b in fresh:
                continue  # a record created by this batch has only the links this batch makes
            by_group.setdefault((a[0], b[0]), set()).add(a[1])
        found = set()
        for (ao, bo), ids in by_group.items():
            am, bm = self.reg.get(ao), self.reg.get(bo)
            for fid, tid in _in_rows(self.crm, "from_id, to_id", "FROM association WHERE from_object = ? "
                                     "AND to_object = ? AND from_id IN {values}", list(ids), (am.id, bm.id)):
                found.add(((ao, fid), (bo, tid)))
        return found

    def _auto_domain(self, bop, rows: list[_Row]) -> None:
        """Automatic association by domain for records created by this batch (the associations
        service's set-based rule, with a source of its own)."""
        if not self.auto_domain:
            return
        contacts = {r.recs["contacts"].record_id: r.recs["contacts"].values.get("hs_email_domain")
                    for r in rows if "contacts" in r.recs and r.recs["contacts"].fresh and r.recs["contacts"].record_id}
        companies = {r.recs["companies"].record_id: r.recs["companies"].values.get("domain")
                     for r in rows if "companies" in r.recs and r.recs["companies"].fresh and r.recs["companies"].record_id}
        if contacts or companies:
            made = self.crm.assoc.auto_associate(contacts=contacts, companies=companies, enabled=True, bulk=True)
            self.result.linked += len(made.linked)
            for contact_id, company_id in made.linked:  # they have links now: the batch's links are checked
                self.fresh.discard(("contacts", contact_id))
                self.fresh.discard(("companies", company_id))

    def _roll_up(self) -> None:
        """Activities created by this batch also land on the records the activity rules name (a
        contact's primary company and open deals), as an activity logged on a record does; "Last
        activity date" follows (rules.roll_up_activities, source Job)."""
        reg = self.reg
        if not any(reg.get(obj).is_activity for obj in self.spec.objects):
            return
        acts: dict[str, list[int]] = {}
        for obj, rid in self.fresh:
            if reg.get(obj).is_activity:
                acts.setdefault(obj, []).append(rid)
        if not acts:
            return
        logged = []
        for obj, ids in acts.items():
            meta = reg.get(obj)
            for aid, to_object, to_id in _in_rows(self.crm, "from_id, to_object, to_id", "FROM association WHERE "
                                                  "from_object = ? AND from_id IN {values}", ids, (meta.id,)):
                other = reg.by_id[to_object]
                if not other.is_activity:
                    logged.append(((other.name, to_id), (obj, aid)))
        if logged:
            with self.crm.operation("activity_rollup", sources.JOB, None) as job:
                self.result.linked += rules.roll_up_activities(self.crm, logged, job)[0]


def _row_tuples(records: list, index: dict, tail: list, over: list) -> list[tuple]:
    """The rows to insert for RowValues sharing `index`: each one's tuple with the values set since
    put in (`over`: those properties that are columns of the file; `tail`: the others, after the
    file's); "" where there is no value (records.bulk_insert's blank_is_null)."""
    rows = []
    nothing = ("",) * len(tail)
    over = [(name, index[name]) for name in dict.fromkeys(over)]
    for values in records:
        row, extra = values.row, values.extra
        if extra:
            changed = None
            for name, i in over:
                if name in extra:
                    if changed is None:
                        changed = list(row)
                    value = extra[name]
                    changed[i] = "" if value is _ABSENT else value
            if changed is not None:
                row = tuple(changed)
            if tail:
                row += tuple(map(extra.get, tail, nothing))
        elif tail:
            row += nothing
        rows.append(row)
    return rows


_SECOND_KEYS = ("contacts", "companies")


def _second_key(obj: str, values: dict) -> tuple | None:
    """How a record without its primary key (a contact without email, a company without domain) is
    found again: a contact by its phone number as stored, else its mobile number, else its first and
    last name (any case); a company by its name (any case). Only records that lack the primary key
    too are matched this way."""
    if obj == "contacts":
        if values.get("email"):
            return None
        if phone := values.get("phone"):
            return ("phone", phone)
        if mobile := values.get("mobilephone"):
            return ("mobilephone", mobile)
        first, last = values.get("firstname"), values.get("lastname")
        if first or last:
            return ("name", (first or "").casefold(), (last or "").casefold())
        return None
    if obj == "companies" and not values.get("domain") and (name := values.get("name")):
        return ("name", name.casefold())
    return None


def _last_word_option(prop, text: str) -> str | None:
    """The one option whose label ends with the word given ('Won' -> Closed won, 'Lost' -> Closed
    lost, as exports of other CRMs write stages), or None."""
    word = text.strip().casefold()
    if not word or " " in word:
        return None
    found = {o.name for o in prop.options if o.label.casefold().split()[-1:] == [word]}
    return found.pop() if len(found) == 1 else None


def _null_aware(conv):
    """A text column's check that reads `null`, `None`, `[not provided]` as empty (columns whose
    sample holds such words: HubSpot re-saved by a spreadsheet, database dumps)."""
    nulls = csvread.NULL_WORDS

    def coerce(raw):
        if len(raw) <= 16 and raw.strip().casefold() in nulls:
            return None
        return conv(raw)
    return coerce


def _day_first_coercer(meta, prop):
    """records.coerce_value for a date column whose values are day first (whatever the import's
    setting): 16/01/2024 and 3/2/24 read as the 16th of January and the 3rd of February."""
    parse = parse_date if prop.type == "date" else parse_datetime
    where = f"{meta.name}.{prop.name} ({prop.label}): "

    def coerce(raw):
        if not raw.strip():
            return None
        try:
            return parse(raw, dayfirst=True)
        except ValueError as exc:
            raise InvalidValue(where + str(exc)) from None
    return coerce


def values_option_key(text: str) -> str:
    return _option_key(text)


def _is_record_id(text: str) -> bool:
    return text.isascii() and text.isdigit()  # "²" and "٣" are digits to str.isdigit, not to int()


def _dedupe_key(object_name: str) -> str | None:
    return DEDUPE_KEYS.get(object_name)


def _live_ids(crm, meta, ids: list) -> list[int]:
    """The ids among `ids` of live records of an object."""
    return [v for (v,) in _in_rows(crm, "id", f'FROM "{meta.table}" WHERE deleted_at IS NULL AND id IN {{values}}',
                                   list(set(ids)))]


def _in_rows(crm, select: str, tail: str, values: list, params: tuple = ()) -> list[list]:
    """The rows of `SELECT {select} {tail}`, where `{values}` in tail stands for the IN list of
    `values` (after `params`). One statement whatever the number of values, answering one JSON
    array, so SQLite runs it without Python between rows (the import's helper thread runs then)."""
    if not values:
        return []
    with crm.sqlite_only():
        return dialect.in_rows(crm.db, select, tail, values, params)


def _reason(exc: Exception) -> str:
    """'contacts.email (Email): x is not...' -> 'Email: x is not...' (the column is named apart)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    head, sep, rest = text.partition("): ")
    if sep and " (" in head and "." in head.split(" (")[0]:
        return head.split(" (", 1)[1] + ": " + rest
    return text


def run_import(crm, spec: ImportSpec, *, progress: Callable[[Progress], None] | None = None,
               cancel: threading.Event | None = None, dry_run: bool = False) -> ImportResult:
    """Run (or preview with dry_run) an import; see the module docstring."""
    if not any(not c.skipped for c in spec.columns):
        raise ImportError_("no column is mapped: map at least one column to a property")
    if (problem := nameless(crm, spec)) is not None:
        raise ImportError_(problem)
    if getattr(spec, "whole_run", False):  # a HubSpot export: its properties and owners first (bundle.py)
        from .bundle import (
            run_specs,  # lazy: the importer <-> hubspot/bundle cycle (tools/relayer.py KNOWN_CYCLES)
        )

        return run_specs(crm, [spec], progress=progress, cancel=cancel, dry_run=dry_run).single()
    try:
        return _Importer(crm, spec, progress, cancel, dry_run).run()
    except csvread.CsvError as exc:
        raise ImportError_(f"{spec.path}: {exc}") from None
