"""Keeping a database healthy: `doctor` checks with safe repairs. (Backups and restore are storage:
crm_tui/storage/db.py; their names are kept here for callers.)"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..storage import constraints, dialect
from . import integrity
from ..domain import sources
from ..storage import db as dbmod
from ..storage.db import backup, default_backup_path, inspect_file, restore  # noqa: F401 - backup, restore: kept for callers
from peewee import CharField, TextField

from ..storage.models import LabelDef, ObjectType, Owner, Pipeline, PropertyDef, SavedView, Setting, Stage
from ..domain.types import property_type


METADATA_MODELS = (ObjectType, PropertyDef, Pipeline, Stage, LabelDef, Owner, SavedView, Setting)


@dataclass
class DoctorReport:
    problems: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems


def doctor(crm, *, repair: bool = False) -> DoctorReport:
    report = DoctorReport()
    problems, damaged = dialect.storage_check(crm.db)
    report.problems += problems
    if damaged:
        return report  # nothing else is trustworthy on a damaged file
    gaps = dbmod.schema_gaps(crm.db)
    report.problems += [f"table {table} is missing" if column is None else f"column {table}.{column} is missing"
                        for table, column in gaps]
    if gaps and repair:  # before anything else: the other checks read these tables
        report.repaired += dbmod.fill_schema_gaps(crm.db)
        crm.registry.reload()  # the standard properties added, if any
        gaps = []
    if gaps:
        return report  # the other checks would fail on what is missing
    orphans = _orphan_edges(crm)
    report.problems += [f"association {o[1]}:{o[2]} -> {o[3]}:{o[4]} points at a missing or deleted record" for o in orphans[:20]]
    report.problems += integrity.check_all(crm.registry)
    report.problems += integrity.check_property_history(crm)
    report.problems += constraints.problems(crm.db)
    stale = _fts_out_of_sync(crm)
    report.problems += [f"search index of {name}: {n} record(s) out of sync" for name, n in stale]
    kept = {meta.name: found for meta in crm.registry.objects.values()
            if (found := dialect.kept_data_problems(crm.db, meta.name, meta.table))}
    report.problems += [line for lines in kept.values() for line in lines]
    bad_text = _invalid_utf8(crm)
    report.problems += [f"{table}.{column} of row {rowid}: text that is not valid UTF-8" for table, column, rowid, _t in bad_text[:20]]
    bad_values = _invalid_utf8_values(crm)
    report.problems += [f"{name} {rowid}, property {column}: text that is not valid UTF-8"
                        for name, column, rowid in bad_values[:20]]
    if repair and report.problems:
        report.repaired += _repair(crm, orphans, stale, bad_text, bad_values, kept)
        remaining = doctor(crm, repair=False)
        report.problems = remaining.problems
    return report


def _orphan_edges(crm) -> list[tuple]:
    out = []
    for meta in crm.registry.objects.values():
        rows = crm.db.execute_sql(
            f'SELECT a.id, a.from_object, a.from_id, a.to_object, a.to_id FROM association a '
            f'LEFT JOIN "{meta.table}" r ON r.id = a.to_id '
            f'WHERE a.to_object = ? AND (r.id IS NULL OR r.deleted_at IS NOT NULL)', (meta.id,)).fetchall()
        out += rows
    return out


def _fts_out_of_sync(crm) -> list[tuple[str, int]]:
    out = []
    for meta in crm.registry.objects.values():
        fts = dialect.fts_table(meta.name)
        missing = crm.db.execute_sql(
            f'SELECT count(*) FROM "{meta.table}" r WHERE r.deleted_at IS NULL '
            f'AND NOT EXISTS (SELECT 1 FROM "{fts}" f WHERE f.rowid = r.id)').fetchone()[0]
        extra = crm.db.execute_sql(
            f'SELECT count(*) FROM "{fts}" f WHERE NOT EXISTS '
            f'(SELECT 1 FROM "{meta.table}" r WHERE r.id = f.rowid AND r.deleted_at IS NULL)').fetchone()[0]
        if missing or extra:
            out.append((meta.name, missing + extra))
    return out


def _invalid_utf8(crm) -> list[tuple[str, str, int, str]]:
    """Metadata text that is not valid UTF-8 (written by another program): (table, column, rowid,
    the text with U+FFFD for the bad bytes)."""
    out = []
    if not dialect.may_hold_invalid_utf8(crm.db):
        return out
    for model in METADATA_MODELS:
        table = model._meta.table_name
        for field_ in model._meta.sorted_fields:
            if not isinstance(field_, (CharField, TextField)):
                continue
            column = field_.column_name
            for rowid, raw in dialect.invalid_utf8_text(crm.db, table, column):
                try:
                    bytes(raw).decode("utf-8")
                except UnicodeDecodeError:
                    out.append((table, column, rowid, bytes(raw).decode("utf-8", "replace")))
    return out


def _invalid_utf8_values(crm) -> list[tuple[str, str, int]]:
    """Record values that are not valid UTF-8: (object, property, id). One pass per table: SQLite
    picks the rows with a byte outside ASCII, only those are decoded in Python (cheap on big tables)."""
    out = []
    if not dialect.may_hold_invalid_utf8(crm.db):
        return out
    for meta in crm.registry.objects.values():
        names = [p.name for p in meta.properties.values()
                 if not p.system and property_type(p.type).sql_type == "TEXT"]
        if not names:
            continue
        for rowid, *raws in dialect.non_ascii_values(crm.db, meta.table, names):
            for name, raw in zip(names, raws):
                if raw is None:
                    continue
                try:
                    bytes(raw).decode("utf-8")
                except UnicodeDecodeError:
                    out.append((meta.name, name, rowid))
    return out


def _repair(crm, orphans, stale, bad_text=(), bad_values=(), kept=()) -> list[str]:
    """Fix what can be fixed without guessing; every fix is one transaction."""
    models = crm.models
    LabelDef, Association, AssociationLabel = models.LabelDef, models.Association, models.AssociationLabel
    done = []
    by_id = crm.registry.by_id
    with crm.operation("repair", sources.JOB, None) as op:
        if bad_values:  # U+FFFD for the bad bytes, written as a change of the value (history, search index)
            dialect.tolerate_invalid_utf8(crm.db)
            for name, column, rowid in bad_values:
                meta = crm.registry.get(name)
                text = dialect.raw_value(crm.db, meta.table, column, rowid).decode("utf-8", "replace")
                crm.records._write_changes(meta, rowid, {column: text}, {column: text}, op)
            done.append(f"replaced the bytes that are not UTF-8 in {len(bad_values)} record value(s) by U+FFFD")
        for table, column, rowid, text in bad_text:
            dialect.set_text_by_rowid(crm.db, table, column, rowid, text)
        if bad_text:
            done.append(f"replaced the bytes that are not UTF-8 in {len(bad_text)} metadata value(s) by U+FFFD")
        if orphans:
            ids = [o[0] for o in orphans]
            seen_links = set()
            # remove both edges of each orphaned link, and say so in the association history
            for _id, fo, fi, to, ti in orphans:
                link = frozenset([(fo, fi), (to, ti)])
                if link not in seen_links:
                    seen_links.add(link)
                    crm.assoc._log(op, by_id[fo], fi, by_id[to], ti, "removed")
                Association.delete().where(
                    ((Association.from_object == fo) & (Association.from_id == fi) & (Association.to_object == to) & (Association.to_id == ti))
                    | ((Association.from_object == to) & (Association.from_id == ti) & (Association.to_object == fo) & (Association.to_id == fi))
                ).execute()
            done.append(f"removed {len(ids)} association(s) to missing or deleted records")
        missing_back = 0
        inverse = dict(LabelDef.select(LabelDef.id, LabelDef.inverse).tuples())
        for edge in list(Association.select()):
            back = Association.get_or_none((Association.from_object == edge.to_object) & (Association.from_id == edge.to_id)
                                           & (Association.to_object == edge.from_object) & (Association.to_id == edge.from_id))
            if back is None:
                back = Association.create(from_object=edge.to_object, from_id=edge.to_id, to_object=edge.from_object,
                                          to_id=edge.from_id, is_primary=edge.is_primary, created_at=edge.created_at)
                for (label_id,) in AssociationLabel.select(AssociationLabel.label).where(AssociationLabel.association == edge.id).tuples():
                    if inverse.get(label_id):
                        AssociationLabel.insert(association=back.id, label=inverse[label_id]).on_conflict_ignore().execute()
                missing_back += 1
        if missing_back:
            done.append(f"added {missing_back} missing reverse edge(s)")
        if integrity.check_counts(crm.registry):
            dialect.rebuild_counts(crm.db)
            done.append("rebuilt the association counts")
        fixed_primary = _repair_primary(crm, op)
        if fixed_primary:
            done.append(f"fixed the primary company of {fixed_primary} record(s)")
        for name, _n in stale:
            crm.records.rebuild_search_index(crm.registry.get(name))
            done.append(f"rebuilt the search index of {name}")
        for name in kept:  # after the search index: a rebuilt one comes with its words
            meta = crm.registry.get(name)
            done += dialect.repair_kept_data(crm.db, name, meta.table)
        before = {c.name for c, _v in constraints.missing(crm.db)}
        constraints.ensure(crm.db)
        added = before - {c.name for c, _v in constraints.missing(crm.db)}
        if added:
            done.append(f"added the database constraint(s) {', '.join(sorted(added))}")
    return done


def _repair_primary(crm, op) -> int:
    Association = crm.models.Association
    companies = crm.registry.objects.get("companies")
    if companies is None:
        return 0
    fixed = 0
    holders = {}
    for edge in Association.select().where(Association.to_object == companies.id).order_by(Association.id):
        holders.setdefault((edge.from_object, edge.from_id), []).append(edge)
    for (fo, fi), edges in holders.items():
        meta = crm.registry.by_id[fo]
        flags = [e.is_primary for e in edges]
        want_one = meta.has_primary_company
        if (want_one and sum(flags) == 1) or (not want_one and not any(flags)):
            continue
        keep = next((e for e in edges if e.is_primary), edges[0]) if want_one else None
        for e in edges:
            value = keep is not None and e.id == keep.id
            if bool(e.is_primary) != value:
                crm.assoc._log(op, meta, fi, companies, e.to_id, "primary_set" if value else "primary_removed")
            Association.update(is_primary=value).where(
                ((Association.from_object == fo) & (Association.from_id == fi) & (Association.to_object == companies.id) & (Association.to_id == e.to_id))
                | ((Association.from_object == companies.id) & (Association.from_id == e.to_id) & (Association.to_object == fo) & (Association.to_id == fi))
            ).execute()
        fixed += 1
    return fixed
