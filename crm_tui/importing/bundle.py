"""A whole account in one command: a CSV, a folder of CSVs or a .zip of CSVs (no Textual here).

    plan = plan_path(crm, "hubspot-export.zip")    # files, their objects, what will be created
    plan.lines()                                    # the plan as text (the wizard shows it)
    result = run_plan(crm, plan, dry_run=False)     # one import id for every file
    undo.undo_import(crm, result.import_id)     # undoes all of it

Each file's object is guessed from its headers (HubSpot exports in any of HubSpot's export
languages, other CSVs by their columns); files are imported in dependency order (companies,
contacts, deals, tickets, activities, custom objects) as child operations ("import_file") of one
"import" operation, so `crm-tui import undo ID` removes the whole move. A link whose other end is
in a later file waits until every file is in, so "Associated X IDs" resolve across files and the
two sides of a link (in two files) make one link. A dry run writes everything in one transaction
and rolls it back.
"""

from __future__ import annotations

import json
import os
from itertools import compress
from operator import itemgetter
import shutil
import tempfile
import threading
import zipfile
import stat
import time
from dataclasses import dataclass, field

from ..domain import sources
from ..domain.errors import CrmError
from ..domain.sanitize import clean_line
from . import csvread, hubspot, importer, mapping
from .plan import new_property_of, titled_after
from .spec import NEW_PREFIX
from ..storage.safe_files import is_database_file

CSV_ENDINGS = (".csv", ".tsv", ".txt")
VCARD_ENDINGS = (".vcf", ".vcard")  # an address book exported as one card per file
IMPORTED_ENDINGS = CSV_ENDINGS + VCARD_ENDINGS
_STANDARD_ORDER = {"companies": 0, "contacts": 1, "deals": 2, "tickets": 3}
MAX_ZIP_BYTES = 4 << 30  # a zip that unpacks to more than this is refused (a zip bomb)
ZIP_SPARE_BYTES = 512 << 20  # and one whose CSVs would leave less than this free in the temporary folder


def object_rank(crm, name: str) -> int:
    """companies, contacts, deals, tickets, then activities, then custom objects."""
    if name in _STANDARD_ORDER:
        return _STANDARD_ORDER[name]
    return 4 if crm.registry.get(name).is_activity else 5


@dataclass
class BundleFile:
    name: str  # as shown: "contacts.csv" or "export.zip:contacts.csv"
    path: str  # on disk (unpacked for a zip)
    spec: importer.ImportSpec | None = None
    rows: int = 0
    problem: str | None = None  # the file cannot be imported (one line)


@dataclass
class BundlePlan:
    path: str
    files: list[BundleFile]
    new_properties: list[hubspot.NewProperty] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)  # owners named in the files that do not exist
    not_options: list[str] = field(default_factory=list)  # dropdown values that are no option
    problems: list[str] = field(default_factory=list)
    scanned: bool = False
    _tmp: tempfile.TemporaryDirectory | None = None

    @property
    def specs(self) -> list[importer.ImportSpec]:
        return [f.spec for f in self.files if f.spec is not None]

    def lines(self) -> list[str]:
        out = [f"{self.path}: {len(self.specs)} file(s) to import, in this order:"]
        for f in self.files:
            if f.spec is None:
                continue
            kind = "HubSpot export" if isinstance(f.spec, hubspot.HubSpotSpec) else "CSV"
            mapped = sum(1 for c in f.spec.columns if not c.skipped)
            out.append(f"  {f.name}: {' + '.join(f.spec.objects)} ({kind}, about {f.rows:,} rows, "
                       f"{mapped} of {len(f.spec.headers)} columns mapped)")
        if self.new_properties:
            out.append(f"new properties ({len(self.new_properties)}):")
            out += [f"  {p.object}.{p.name} ({p.type}) from column {p.header!r}" for p in self.new_properties]
        if self.scanned:
            out.append(f"new owners ({len(self.owners)}): " + (", ".join(self.owners) if self.owners else "none"))
            if self.not_options:
                out.append(f"dropdown values that are not options ({len(self.not_options)}):")
                out += ["  " + line for line in self.not_options]
        if self.problems:
            out.append(f"problems ({len(self.problems)}):")
            out += ["  " + p for p in self.problems]
        return out

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def is_bundle(path: str) -> bool:
    """A folder or a .zip (a single CSV is not)."""
    return os.path.isdir(path) or (os.path.isfile(path) and zipfile.is_zipfile(path)
                                   and not path.lower().endswith(CSV_ENDINGS))


def _members(path: str, protect=()) -> tuple[list[tuple[str, str]], tempfile.TemporaryDirectory | None, list[str]]:
    """(shown name, path on disk) of every CSV or vCard file, the temporary folder of an unpacked zip, problems.
    In a folder, a name that is no regular file (a pipe, a device, a dangling or looping link) or
    that leads to the database itself is left out with one line: reading it would hang or be nonsense."""
    problems: list[str] = []
    if os.path.isdir(path):
        found = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                full = os.path.join(root, name)
                shown = os.path.relpath(full, path)
                if name.startswith("."):
                    continue
                if name.lower().endswith(IMPORTED_ENDINGS) and ".errors-" not in name:
                    try:
                        regular = stat.S_ISREG(os.stat(full).st_mode)  # follows a link
                    except (OSError, RuntimeError):
                        regular = False
                    if not regular:
                        problems.append(f"{clean_line(shown)}: not a regular file (a pipe, a device or a broken "
                                        "link), left out")
                    elif is_database_file(full, protect):
                        problems.append(f"{clean_line(shown)}: leads to the database itself, left out")
                    else:
                        found.append((shown, full))
                elif ".errors-" not in name:
                    problems.append(f"{clean_line(shown)}: not a CSV or vCard file, left out")
        return found, None, problems
    tmp = tempfile.TemporaryDirectory(prefix="crm-tui-import-")
    found = []
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
                raise importer.ImportError_(f"{path}: unpacks to more than {MAX_ZIP_BYTES >> 30} GiB; unpack it first")
            # a zip bomb below that limit must not fill the disk the database lives on: the CSVs it
            # unpacks (zipfile never gives more than a member's stated size) must fit with room to spare
            wanted = sum(i.file_size for i in infos if i.filename.lower().endswith(IMPORTED_ENDINGS))
            free = shutil.disk_usage(tmp.name).free
            if wanted > free - ZIP_SPARE_BYTES:
                raise importer.ImportError_(
                    f"{path}: unpacks to {wanted / 2**20:,.0f} MiB, and {os.path.dirname(tmp.name)} has "
                    f"{max(free, 0) / 2**20:,.0f} MiB free (unpacking keeps {ZIP_SPARE_BYTES >> 20} MiB free); "
                    "free some space or unpack it first")
            for n, info in enumerate(sorted(infos, key=lambda i: i.filename)):
                base = os.path.basename(info.filename)
                if not base or base.startswith(".") or info.filename.startswith("__MACOSX/"):
                    continue
                shown = f"{os.path.basename(path)}:{info.filename}"
                if not base.lower().endswith(IMPORTED_ENDINGS):
                    problems.append(f"{clean_line(shown)}: not a CSV or vCard file, left out")
                    continue
                target = os.path.join(tmp.name, f"{n:04d}-{base}")  # never a path from the zip itself
                with zf.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                found.append((shown, target))
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
        tmp.cleanup()
        raise importer.ImportError_(f"{path}: cannot read the zip file: {exc}") from None
    except BaseException:
        tmp.cleanup()
        raise
    return found, tmp, problems


def plan_path(crm, path: str | os.PathLike, *, scan: bool = False) -> BundlePlan:
    """Read every file's headers, guess its object and map its columns; nothing is written.
    `scan` also reads the owner and dropdown columns through to list new owners and values that
    are no option (the wizard's plan and a dry run)."""
    path = os.path.expanduser(os.fspath(path))
    if not os.path.exists(path):
        raise importer.ImportError_(f"{path}: no such file or folder")
    if is_bundle(path):
        members, tmp, problems = _members(path, protect=[crm.path])
    else:
        members, tmp, problems = [(os.path.basename(path), path)], None, []
    plan = BundlePlan(path, [], problems=problems, _tmp=tmp)
    error_dir = importer.error_directory(importer.ImportSpec(path if not os.path.isdir(path)
                                                             else os.path.join(path, "x"), [], []))
    for shown, full in members:
        shown = clean_line(shown)  # a name from a zip is shown, never run by the terminal
        item = BundleFile(shown, full)
        try:
            item.spec = importer.plan_import(crm, full)
            item.rows = importer.estimate_rows(full, item.spec) if item.spec.kind == "csv" else 0
            if not any(not c.skipped for c in item.spec.columns):
                raise importer.ImportError_("no column matches a property")
            if (problem := importer.nameless(crm, item.spec, "import it alone with --object NAME")) is not None:
                raise importer.ImportError_(problem.split(": ", 1)[1])  # the rest of the folder still goes in
        except Exception as exc:  # one line per file; the other files still go in
            item.spec = None
            item.problem = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            problem = item.problem.replace(full, shown)
            plan.problems.append(f"{problem if problem.startswith(f'{shown}: ') else f'{shown}: {problem}'}; left out")
        if item.spec is not None:
            item.spec.error_dir = error_dir if tmp is not None else item.spec.error_dir
            facts = getattr(item.spec, "facts", None)
            if facts is not None:
                plan.new_properties += facts.new_properties
                plan.problems += [f"{shown}: {line}" for line in facts.skipped]
            plan.problems += [f"{shown}: {w}" for w in item.spec.warnings if not (
                getattr(item.spec, "two_object", False) and w.startswith("Several columns are named"))]
        plan.files.append(item)
    if not plan.specs:
        plan.close()
        raise importer.ImportError_(f"{path}: no file to import" + (f" ({plan.problems[0]})" if plan.problems else ""))
    _link_across_files(crm, plan)
    order = {id(f): (object_rank(crm, f.spec.objects[0]) if f.spec else 9, n) for n, f in enumerate(plan.files)}
    plan.files.sort(key=lambda f: order[id(f)])
    _merge_new_properties(plan)
    if scan:
        _scan(crm, plan)
    return plan


KNOWN_NAMES_ROWS = 100_000  # names read from a file of the folder for another file's links to them


def _link_across_files(crm, plan: BundlePlan) -> None:
    """A column titled after an object ("account") whose names are those of records another file
    of the same folder brings (Maven's sales_pipeline.csv and accounts.csv) links to them, as it
    would once that file had been imported alone: the other file's names count as existing (its
    object is imported first), and the file is planned again with them."""
    wanted: dict[str, list[BundleFile]] = {}
    for item in plan.files:
        spec = item.spec
        if spec is None or spec.kind != "csv" or len(spec.objects) != 1:
            continue
        main = crm.registry.get(spec.objects[0])
        for col in spec.columns:
            if col.object == main.name and col.target and col.target.startswith(NEW_PREFIX) \
                    and (other := titled_after(crm, main, col.header)) is not None:
                wanted.setdefault(other.name, []).append(item)
    if not wanted:
        return
    known: dict[str, set[str]] = {}
    for item in plan.files:
        spec = item.spec
        if spec is None or spec.kind != "csv" or spec.objects[0] not in wanted:
            continue
        meta = crm.registry.get(spec.objects[0])
        headers = [c.header for c in spec.columns if c.object == meta.name and c.target == meta.primary_property]
        if not headers:
            continue
        try:
            source = csvread.open_csv(item.path, encoding=spec.encoding, delimiter=spec.delimiter)
            rows = source.sample(KNOWN_NAMES_ROWS)
        except (csvread.CsvError, ValueError, LookupError, OSError):
            continue
        names = known.setdefault(meta.name, set())
        names.update(v.strip().casefold() for _line, row in rows if (v := (row.get(headers[0]) or "").strip()))
    for name, items in wanted.items():
        if not known.get(name):
            continue
        for item in {id(i): i for i in items}.values():  # a file with two such columns, once
            old = item.spec
            try:
                item.spec = importer.plan_import(crm, item.path, list(old.objects), known_names=known)
            except Exception:  # noqa: BLE001 - planned once already: keep that plan
                item.spec = old
                continue
            item.spec.error_dir = old.error_dir
            plan.problems += [f"{item.name}: {w}" for w in item.spec.warnings if w not in old.warnings]


def _merge_new_properties(plan: BundlePlan) -> None:
    """Two files adding the same column to one object (the contacts of a two-object export and a
    contacts export) create one property."""
    seen: dict[tuple[str, str], hubspot.NewProperty] = {}
    for prop in plan.new_properties:
        first = seen.setdefault((prop.object, prop.name), prop)
        if first is not prop and first.type != prop.type:
            first.type = prop.type = "text"
    plan.new_properties = list(seen.values())
    # a column that makes a property of its own in each file (a CSV's unknown column): files that
    # read different types in it ("a" numbers in one, text in the next) make one text property, or
    # the first file's type would refuse the next file's values
    made: dict[tuple[str, str], list] = {}
    for item in plan.files:
        for col in item.spec.columns if item.spec is not None else ():
            if (info := new_property_of(col)) is not None:
                made.setdefault((col.object, info[0]), []).append((col, info[1]))
    for (_obj, name), cols in made.items():
        if len({ptype for _col, ptype in cols}) > 1:
            for col, _ptype in cols:
                col.target = f"{NEW_PREFIX}{name}:text"


def _scan(crm, plan: BundlePlan) -> None:
    """Owners to create and dropdown values that are no option, from a read of those columns."""
    names = hubspot.owner_names(crm)
    new_owners: dict[str, str] = {}
    not_options: dict[tuple, int] = {}
    for f in plan.files:
        spec = f.spec
        if spec is None or spec.kind != "csv":
            continue
        watch = []
        for col in spec.columns:
            if col.skipped or col.target.startswith("@"):
                continue
            prop = crm.registry.get(col.object).properties.get(col.target)
            if prop is not None and (prop.type == "user" or prop.type in ("select", "multiselect")):
                watch.append((col, prop))
        if not watch:
            continue
        source = csvread.open_csv(spec.path, encoding=spec.encoding, delimiter=spec.delimiter)
        for _line, row in source:
            for col, prop in watch:
                cell = row.get(col.header, "")
                if not cell or csvread.is_null_word(cell):
                    continue
                if prop.type == "user":
                    key = cell.strip().casefold()
                    if key not in names and not (not isinstance(spec, hubspot.HubSpotSpec) and key.isdigit()):
                        new_owners.setdefault(key, cell.strip())
                    continue
                items = cell.split(";") if prop.type == "multiselect" else [cell]
                for item in items:
                    if item.strip() and prop.option_name(item) is None:
                        k = (f.name, col.header, col.object, prop.name, item.strip())
                        not_options[k] = not_options.get(k, 0) + 1
    plan.owners = sorted(new_owners.values(), key=str.casefold)
    plan.not_options = [f"{name}: column {header!r} ({obj}.{prop}): {value!r} ({n} rows)"
                        for (name, header, obj, prop, value), n in not_options.items()]
    plan.scanned = True


# ------------------------------------------------------------------------------------------ running

class _OwnerBook:
    """Owners by name for the converters (read in the parse-ahead thread), created by the writer."""

    def __init__(self, crm):
        self.crm = crm
        self.names = hubspot.owner_names(crm)
        self.created: list[tuple[int, str]] = []
        self.import_id: int | None = None  # the import operation, whose summary lists them at once

    def id_for(self, name: str) -> int:
        models = self.crm.models
        Owner, Operation = models.Owner, models.Operation
        key = name.casefold()
        found = self.names.get(key)
        if found is None:
            owner = Owner.create(name=name[:200])
            found = self.names[key] = owner.id
            self.created.append((owner.id, owner.name))
            self.crm._owners = None  # crm.owner_name's cache
            if self.import_id is not None:  # in the same transaction: an import killed later still undoes it
                op = Operation.get_by_id(self.import_id)
                summary = json.loads(op.summary or "{}")
                summary["owners_created"] = [i for i, _n in self.created]
                Operation.update(summary=json.dumps(summary)).where(Operation.id == op.id).execute()
        return found


class _HeldErrors(importer._Errors):
    """An error file kept open until the links that waited for later files are made."""

    held = True

    def close(self) -> None:
        if not self.held:
            super().close()


class _FileImporter(importer._Importer):
    OP_KIND = "import_file"
    ROLL_BACK_DRY_RUN = False

    def __init__(self, crm, spec, progress, cancel, dry_run: bool, owners: _OwnerBook):
        super().__init__(crm, spec, progress, cancel, dry_run)
        self.errors = _HeldErrors(spec, self.errors.directory)
        self.owners = owners
        self.undo_id = owners.import_id  # a file stopped part-way is undone with the whole import
        self.owner_props: list[tuple[str, str]] = []
        self.final = False
        self._fast = False  # _plan_fast(), worked out on the first row

    def _plan(self) -> list[tuple]:
        out = []
        for item in super()._plan():
            meta, prop, conv = item[2], item[3], item[5]
            if prop is not None and isinstance(self.spec, hubspot.HubSpotSpec):
                if prop.type == "user":
                    conv = hubspot.owner_converter(self.crm, meta, prop, self.owners.names)
                    self.owner_props.append((meta.name, prop.name))
                else:
                    conv = hubspot.typed_converter(conv, prop, self.spec.dayfirst)
                item = item[:5] + (conv,) + item[6:]
            out.append(item)
        return out

    def _plan_fast(self):
        """For a one-object HubSpot export whose columns are properties, its Record ID and
        association IDs (nearly all of them): (object, the row's property cells getter, their
        converters, their properties, ID header, [(header, other object, primary)]); None for any
        other file."""
        spec = self.spec
        if not isinstance(spec, hubspot.HubSpotSpec) or len(spec.objects) != 1 or spec.value_maps \
                or spec.id_source == importer.LOCAL:
            return None
        props, id_header, refs = [], None, []
        for col, kind, _meta, _prop, vmap, conv, header, obj, pname in self._plan_cache:
            if vmap or col.required or col.label:
                return None
            if kind == "prop":
                props.append((header, conv, pname))
            elif kind == "id" and id_header is None:
                id_header = header
            elif kind == "assoc":
                refs.append((header, col.target.split(":", 1)[1], col.target.startswith(mapping.ASSOC_PRIMARY_PREFIX)))
            else:
                return None
        if not props:
            return None
        headers = [p[0] for p in props]
        cells_of = itemgetter(*headers) if len(headers) > 1 else (lambda row: (row[headers[0]],))
        return spec.objects[0], cells_of, [p[1] for p in props], [p[2] for p in props], id_header, refs

    def _parse(self, line: int, row: dict):
        """importer._Importer._parse for the common HubSpot row, without its general per-cell
        dispatch (a 300-column export spends most of its time here); a row with a cell that does
        not convert, or nothing to import, goes the general way, which reports it."""
        fast = self._fast
        if fast is False:
            fast = self._fast = self._plan_fast() if self._plan_cache is not None else None
        if fast is None:
            return super()._parse(line, row)
        obj, cells_of, convs, pnames, id_header, refs = fast
        values = {}
        try:
            cells = cells_of(row)  # the property cells, in one C call
            for conv, pname, cell in compress(zip(convs, pnames, cells), cells):  # the filled ones only
                value = conv(cell)
                if value is not None:
                    values[pname] = value
        except KeyError:  # a column missing from the row (never from csvread): the general way
            return super()._parse(line, row)
        except CrmError:
            return super()._parse(line, row)
        ext_id = row.get(id_header) if id_header else None
        out_refs = []
        for header, other, primary in refs:
            cell = row.get(header)
            if cell:
                out_refs.append((obj, other, mapping.split_list(cell.replace(",", ";")), primary, None, header))
        if not values and not ext_id and not out_refs:
            return super()._parse(line, row)
        rec = importer._Rec(obj, values, ext_id=ext_id or None)
        return line, importer._Row(line, {obj: rec}, out_refs, [], []), []

    def _match(self, rows):
        if self.owner_props:
            for row in rows:
                for obj, name in self.owner_props:
                    rec = row.recs.get(obj)
                    if rec is not None and isinstance(value := rec.values.get(name), hubspot.NewOwner):
                        rec.values[name] = self.owners.id_for(value)
        return super()._match(rows)

    def _finish(self, status: str, failed: int | None = None) -> None:
        """The file's record, and the whole import's counts with it (in the batch's transaction: a
        killed or failed import's record holds what its committed batches wrote)."""
        super()._finish(status, failed)
        if self.owners.import_id is not None:
            refresh_counts(self.crm, self.owners.import_id)

    def _resolve_deferred(self, bop) -> None:
        if self.final:  # links to records of later files wait for them
            super()._resolve_deferred(bop)

    def finish(self) -> None:
        """Make the links that waited for the other files, then close the error file."""
        self.final = True
        if self.deferred:
            self._with_batch_op(self._resolve_deferred)
        self.errors.held = False
        self.errors.close()
        self.result.error_file = self.errors.path
        self.result.link_problems = self.errors.link_problems
        self.result.failed = len(self.errors.failed_lines)
        if not self.dry_run:
            self._finish("cancelled" if self.result.cancelled else "done")


def file_counts(crm, import_id: int) -> dict:
    """The counts of an import's files as their records hold them (each updated with its batches)."""
    Operation = crm.models.Operation
    total: dict = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0, "linked": 0, "failed": 0,
                   "link_problems": 0, "created_by_object": {}, "updated_by_object": {}}
    for (text,) in Operation.select(Operation.summary).where(
            (Operation.parent == import_id) & (Operation.kind == "import_file")).tuples():
        try:
            c = json.loads(text or "{}").get("counts") or {}
        except (ValueError, AttributeError):
            continue
        for k in ("rows", "created", "updated", "unchanged", "linked", "failed", "link_problems"):
            total[k] += int(c.get(k) or 0)
        for k in ("created_by_object", "updated_by_object"):
            for obj, n in (c.get(k) or {}).items():
                total[k][obj] = total[k].get(obj, 0) + int(n)
    return total


def refresh_counts(crm, import_id: int) -> None:
    Operation = crm.models.Operation
    op = Operation.get_or_none(Operation.id == import_id)
    if op is None:
        return
    summary = json.loads(op.summary or "{}")
    summary["counts"] = file_counts(crm, import_id)
    Operation.update(summary=json.dumps(summary)).where(Operation.id == import_id).execute()


@dataclass
class BundleResult:
    import_id: int | None
    dry_run: bool
    path: str
    files: list[tuple[str, importer.ImportResult]] = field(default_factory=list)
    owners_created: list[str] = field(default_factory=list)
    properties_created: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0

    def counts(self) -> dict:
        total: dict = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0, "linked": 0, "failed": 0,
                       "link_problems": 0, "skipped_cells": 0, "created_by_object": {}, "updated_by_object": {}}
        for _name, r in self.files:
            c = r.counts()
            for k in ("rows", "created", "updated", "unchanged", "linked", "failed", "link_problems", "skipped_cells"):
                total[k] += c.get(k, 0)
            for k in ("created_by_object", "updated_by_object"):
                for obj, n in c[k].items():
                    total[k][obj] = total[k].get(obj, 0) + n
        return total

    def single(self) -> importer.ImportResult:
        """The result of a one-file import, with the import id that undoes it."""
        result = self.files[0][1]
        result.import_id = self.import_id
        result.new_properties = list(self.properties_created)  # "new properties: ...", as any import says
        result.warnings = list(self.warnings) + (
            [f"new owners: {', '.join(self.owners_created)}"] if self.owners_created else [])
        return result

    def summary_lines(self) -> list[str]:
        c = self.counts()
        head = "dry run (nothing written): " if self.dry_run else (f"import {self.import_id}: " if self.import_id else "")
        lines = [f"{head}{len(self.files)} file(s), {c['rows']} rows: {c['created']} created, {c['updated']} updated, "
                 f"{c['unchanged']} unchanged, {c['linked']} linked, {c['failed']} failed, "
                 f"{c['link_problems']} link problems"
                 + (f", {c['skipped_cells']} values not imported" if c["skipped_cells"] else "")
                 + (" (cancelled)" if self.cancelled else "")]
        for name, r in self.files:
            fc = r.counts()
            made = ", ".join(f"{n} {o}" for o, n in fc["created_by_object"].items()) or "nothing"
            lines.append(f"  {name}: {fc['rows']} rows, created {made}, {fc['updated']} updated, "
                         f"{fc['linked']} linked, {fc['failed']} failed, {fc['link_problems']} link problems"
                         + (f", {fc['skipped_cells']} values not imported" if fc.get("skipped_cells") else ""))
            lines += [f"    not imported: {line}" for line in r.not_imported]
            if r.error_file:
                lines.append(f"    error file: {r.error_file}")
        if self.properties_created:  # the words of ImportResult.summary_lines and of the plan
            lines.append(f"new properties: {', '.join(self.properties_created)}")
        if self.owners_created:
            lines.append(f"new owners: {', '.join(self.owners_created)}")
        lines += [f"warning: {w}" for w in self.warnings]
        return lines


def run_plan(crm, plan: BundlePlan, *, progress=None, cancel: threading.Event | None = None,
             dry_run: bool = False, close: bool = True) -> BundleResult:
    """Run (or preview) a plan; `close=False` keeps a zip's unpacked files for another run."""
    try:
        return run_specs(crm, plan.specs, path=plan.path, names=[f.name for f in plan.files if f.spec],
                         progress=progress, cancel=cancel, dry_run=dry_run, extra_warnings=plan.problems)
    finally:
        if close:
            plan.close()


def run_specs(crm, specs: list[importer.ImportSpec], *, path: str | None = None, names: list[str] | None = None,
              progress=None, cancel: threading.Event | None = None, dry_run: bool = False,
              extra_warnings: list[str] = ()) -> BundleResult:
    """Import files (specs in dependency order) as one import; see the module docstring."""
    Operation = crm.models.Operation
    started = time.monotonic()
    path = path or specs[0].path
    names = names or [os.path.basename(s.path) for s in specs]
    result = BundleResult(None, dry_run, os.path.abspath(path), warnings=list(extra_warnings))
    cancel = cancel or threading.Event()
    new_props: list[hubspot.NewProperty] = []
    for spec in specs:
        new_props += getattr(getattr(spec, "facts", None), "new_properties", [])
    totals = [importer.estimate_rows(s.path, s) if s.kind == "csv" else 0 for s in specs]

    def summary(status: str) -> dict:
        objects = list(dict.fromkeys(o for s in specs for o in s.objects))
        return {"file": result.path, "files": names, "objects": objects, "status": status,
                "counts": file_counts(crm, result.import_id) if result.import_id else result.counts(),
                "dry_run": dry_run, "id_source": hubspot.SOURCE, "owner": importer._owner(),
                "error_file": next((r.error_file for _n, r in result.files if r.error_file), None),
                "owners_created": [i for i, _n in owners.created],
                "properties_created": [[p.object, p.name] for p in created]}

    owners = _OwnerBook(crm)
    created: list[hubspot.NewProperty] = []
    for spec in specs:  # a refused error folder is one line before the import's record is written
        importer.error_directory(spec)

    def go() -> None:
        nonlocal created
        with crm.operation("import", sources.IMPORT, object=specs[0].objects[0], summary=summary("running")) as top:
            created = hubspot.ensure_properties(crm, new_props)
            if created:  # listed at once: an import killed later still removes them when undone
                Operation.update(summary=json.dumps(summary("running"))).where(Operation.id == top.id).execute()
        result.import_id = owners.import_id = top.id
        crm._ops.append(top)  # each file's operation is a child of this one
        importers: list[_FileImporter] = []
        try:
            done = 0
            for n, spec in enumerate(specs):
                if cancel.is_set():
                    result.cancelled = True
                    break

                def each(p, offset=done):
                    if progress is not None:
                        total = sum(totals)
                        progress(importer.Progress(offset + p.rows_done, max(total, offset + p.rows_done),
                                                   p.rate, p.seconds_left))
                imp = _FileImporter(crm, spec, each, cancel, dry_run, owners)
                importers.append(imp)
                try:
                    file_result = imp.run()
                except importer.ImportError_ as exc:
                    raise importer.ImportError_(f"{names[n]}: {exc}") from None
                result.files.append((names[n], file_result))
                done += file_result.rows
                if file_result.cancelled:
                    result.cancelled = True
                    break
            for imp in importers:
                imp.finish()
        finally:
            crm._ops.pop()
        result.owners_created = [name for _i, name in owners.created]
        result.properties_created = [f"{p.object}.{p.name} ({p.type})" for p in created]
        for (name, r), spec in zip(result.files, specs):
            for w in r.warnings:
                if getattr(spec, "two_object", False) and w.startswith("Several columns are named"):
                    continue  # expected: each object of a two-object export repeats its column names
                w = f"{name}: {w}" if len(specs) > 1 else w
                if w not in result.warnings:
                    result.warnings.append(w)
        if not dry_run:
            status = "cancelled" if result.cancelled else "done"
            Operation.update(summary=json.dumps(summary(status))).where(Operation.id == top.id).execute()

    if dry_run:
        try:
            with crm.db.atomic() as txn:
                go()
                txn.rollback()
        finally:
            crm.registry.reload()  # the properties the dry run made are gone again
            crm._owners = None
        result.import_id = None
    else:
        try:
            go()
        except BaseException:
            if result.import_id is not None:
                Operation.update(summary=json.dumps(summary("failed"))).where(Operation.id == result.import_id).execute()
            raise
    result.seconds = time.monotonic() - started
    return result


# ------------------------------------------------------------------------------------------ undo

def undo_extras(crm, op) -> list[str]:
    """Inside undo_import's transaction: remove the owners and properties the import created when
    nothing uses them any more (its records are gone by now)."""
    models = crm.models
    PropertyDef, Owner = models.PropertyDef, models.Owner
    summary = json.loads(op.summary or "{}")
    messages = []
    reg = crm.registry
    owner_ids = [int(i) for i in summary.get("owners_created", [])]
    if owner_ids:
        used = set()
        for meta in reg.objects.values():
            for prop in meta.properties.values():
                if prop.type == "user":
                    for (v,) in crm.db.execute_sql(
                            f'SELECT DISTINCT "{prop.name}" FROM "{meta.table}" WHERE "{prop.name}" IN '
                            f'({",".join("?" * len(owner_ids))})', owner_ids).fetchall():
                        used.add(v)
        gone = [i for i in owner_ids if i not in used]
        if gone:
            Owner.delete().where(Owner.id.in_(gone)).execute()
            crm._owners = None
            messages.append(f"{len(gone)} owners removed")
    dropped = 0

    for obj, name in summary.get("properties_created", []):
        meta = reg.objects.get(obj)
        if meta is None or name not in meta.properties:
            continue
        (filled,) = crm.db.execute_sql(f'SELECT COUNT(*) FROM "{meta.table}" WHERE "{name}" IS NOT NULL').fetchone()
        if filled:
            continue
        crm.db.execute_sql(f'DROP INDEX IF EXISTS "ix_{meta.table}_{name}"')
        crm.db.execute_sql(f'ALTER TABLE "{meta.table}" DROP COLUMN "{name}"')
        PropertyDef.delete().where((PropertyDef.object == meta.id) & (PropertyDef.name == name)).execute()
        dropped += 1
    if dropped:
        reg.reload()
        messages.append(f"{dropped} properties removed")
    return messages
