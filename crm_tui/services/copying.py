"""`crm-tui copy SOURCE TARGET`: a whole CRM into an empty database.

Everything goes: the metadata (objects, properties, labels, limits, pipelines, stages, owners,
settings, views), every record of every object (custom ones included), the links with their labels
and kept counts, the operations journal with property and association history, external ids and
imports. Ids are kept, so history and the journal still point at the same records, and the target
hands out ids above the source's highest (ids are never reused).

One code path for every table: the fixed models in dependency order, then one model per object
built by the engine from the copied metadata, each read by keyset in batches of its primary key
(memory stays flat on big databases) and written with Peewee's insert_many, so the same code writes
to any database Peewee speaks. What is derived (the search index) is rebuilt in the target; the
constraints (constraints.py) are added to it. The whole copy is one transaction on the target, read
from one snapshot of the source: a failed copy leaves no target behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from peewee import Tuple, sort_models

from ..storage import constraints, dialect
from ..storage import db as dbmod
from ..domain.errors import CrmError, DatabaseProblem
from ..storage.models import ALL_MODELS, bound

BATCH_ROWS = 2000
MAX_PARAMETERS = 30000  # per INSERT statement (SQLite allows 32766)


@dataclass
class CopyReport:
    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def copy_database(source, target, *, batch: int = BATCH_ROWS) -> CopyReport:
    if dbmod.is_url(source) or dbmod.is_url(target):  # a server's database (the team database)
        return _copy_with_server(source, target, batch)
    source_path, target_path = Path(source).expanduser(), Path(target).expanduser()
    if not source_path.exists():
        raise CrmError(f"{source_path}: no such database")
    if target_path.exists() and (source_path.resolve() == target_path.resolve() or _same_file(source_path, target_path)):
        raise CrmError(f"{target_path}: is the source database itself; copy into a new file or an empty database")
    if target_path.exists() and target_path.is_file():
        _version, empty = dbmod.inspect_file(target_path)  # refused before anything is written to it
        if not empty:
            raise CrmError(f"{target_path}: not empty (a crm-tui database with its data); "
                           "copy fills only a new file or an empty database")
    created = not target_path.exists()
    # as any command opens it (a file of an older schema is upgraded after a backup); a file this
    # user may not write is read as it is
    return _open_and_copy(source_path, target_path, str(source_path), target_path,
                          target_path if created else None, readonly=not dbmod.writable(source_path),
                          empty_source="an empty file", batch=batch)


def _copy_with_server(source, target, batch: int) -> CopyReport:
    """The same copy when either side is a postgresql:// URL: the target database must exist and
    be empty; a failed copy leaves it empty (PostgreSQL's DDL is part of the one transaction)."""
    from ..storage.dialect_pg import redacted

    shown_source = redacted(source) if dbmod.is_url(source) else str(Path(source).expanduser())
    shown_target = redacted(target) if dbmod.is_url(target) else str(Path(target).expanduser())
    if not dbmod.is_url(source) and not Path(source).expanduser().exists():
        raise CrmError(f"{shown_source}: no such database")
    if source == target:
        raise CrmError(f"{shown_target}: is the source database itself; copy into a new file or an empty database")
    target_file = None if dbmod.is_url(target) else Path(target).expanduser()
    if target_file is not None and target_file.exists() and target_file.is_file():
        _version, empty = dbmod.inspect_file(target_file)
        if not empty:
            raise CrmError(f"{shown_target}: not empty (a crm-tui database with its data); "
                           "copy fills only a new file or an empty database")
    created = target_file is not None and not target_file.exists()
    return _open_and_copy(source if dbmod.is_url(source) else Path(source).expanduser(),
                          target if target_file is None else target_file, shown_source, shown_target,
                          target_file if created else None, readonly=False,
                          empty_source="an empty database", batch=batch)


def _open_and_copy(source, target, shown_source: str, shown_target, created_file: Path | None, *,
                   readonly: bool, empty_source: str, batch: int) -> CopyReport:
    """Open both sides, refuse a non-empty target, copy in one transaction on each side; on any
    failure remove the target file this copy created (a server's target stays empty: its DDL is
    part of the transaction)."""
    src, src_new = dbmod.open_database(source, create=False, readonly=readonly)
    dst = None
    try:
        if src_new:
            raise CrmError(f"{shown_source}: {empty_source}, not a crm-tui database; nothing to copy")
        dst, _new = dbmod.open_database(target, create=True)
        if dst.get_tables():
            raise CrmError(f"{shown_target}: not empty (it has tables); copy fills only a new file or an empty database")
        report = CopyReport(str(shown_source), str(shown_target))
        with src.atomic():  # one snapshot of the source, even while the app writes to it
            with dst.atomic():
                _copy(src, dst, shown_target, report, batch)
        return report
    except Exception as exc:
        if dst is not None:
            dst.close()
            dst = None
        if created_file is not None:
            _remove(created_file)
        if isinstance(exc, CrmError):
            raise
        text = dialect.problem_text(exc, shown_target)
        if text:
            raise DatabaseProblem(f"copy failed, nothing was written: {text}") from None
        raise
    finally:
        src.close()
        if dst is not None:
            dst.close()


def _copy(src, dst, target_path: Path, report: CopyReport, batch: int) -> None:
    from .core import Crm
    from ..storage.engine import Registry

    dialect.defer_foreign_keys(dst)
    source, target = bound(src), bound(dst)  # each database's own classes of the fixed models
    dst.create_tables(target.all)
    if dialect.is_postgres(dst):
        dialect.defer_foreign_keys(dst)  # PostgreSQL: the new tables' foreign keys too
    for template in sort_models(ALL_MODELS):
        name = template.__name__
        report.rows[template._meta.table_name] = _copy_rows(getattr(source, name), getattr(target, name), src, dst, batch)
    # the object tables, built by the engine from the metadata just copied
    registry = Registry(dst)
    registry.reload()
    for meta in registry.objects.values():
        dst.create_tables([meta.model])
        registry._create_indexes(meta, meta.properties.values())
        dialect.create_fts(dst, meta.name)
        have = {c.name for c in src.get_columns(meta.table)}
        missing = [name for name in meta.model._meta.columns if name not in have]
        if missing:
            report.notes.append(f"{meta.table}: the source has no column {', '.join(missing)} (left empty)")
        report.rows[meta.table] = _copy_rows(meta.model, meta.model, src, dst, batch, only=have)
        dialect.set_last_record_id(dst, meta.table, dialect.last_record_id(src, meta.table))
    dialect.create_count_triggers(dst)  # after the rows: the counts were copied with them
    crm = Crm(dst, target_path)
    crm.registry = registry
    for meta in registry.objects.values():
        crm.records.rebuild_search_index(meta)
    report.notes += constraints.ensure(dst)
    dbmod.create_report_indexes(dst)
    dbmod.mark_schema(dst)
    extra = sorted(set(_object_names(src)) - set(registry.objects))
    if extra:
        raise CrmError(f"object(s) {', '.join(extra)} of the source have no table definition; nothing was copied")


def _object_names(src) -> list[str]:
    ObjectType = bound(src).ObjectType
    return [name for (name,) in ObjectType.select(ObjectType.name).tuples()]


def _copy_rows(model, target_model, src, dst, batch: int, only: set[str] | None = None) -> int:
    """Every row of one table, read by keyset on its primary key in batches of `batch` rows
    (`model` read from `src`, `target_model`, its class in the target, written to `dst`)."""
    fields = [f for f in model._meta.sorted_fields if only is None or f.column_name in only]
    target_fields = [target_model._meta.fields[f.name] for f in fields]
    keys = list(model._meta.get_primary_keys())
    positions = [next(i for i, f in enumerate(fields) if f is k) for k in keys]  # `==` on fields builds SQL
    per_insert = max(1, min(batch, MAX_PARAMETERS // max(1, len(fields))))
    copied = 0
    last = None
    while True:
        query = model.select(*fields).order_by(*keys).limit(batch)
        if last is not None:
            query = query.where(Tuple(*keys) > Tuple(*last) if len(keys) > 1 else keys[0] > last[0])
        rows = list(query.bind(src).tuples())
        if not rows:
            return copied
        for start in range(0, len(rows), per_insert):
            target_model.insert_many(rows[start:start + per_insert], fields=target_fields).bind(dst).execute()
        copied += len(rows)
        last = [rows[-1][i] for i in positions]
        if len(rows) < batch:
            return copied


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            Path(f"{path}{suffix}").unlink()
        except FileNotFoundError:
            pass
