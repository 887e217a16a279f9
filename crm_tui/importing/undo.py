"""The imports' journal: which ran, whether one still runs, and undoing one completely."""

from __future__ import annotations

import json
from pathlib import Path

from ..storage import dialect
from ..domain import sources
from ..storage.db import backup as safe_backup
from ..storage.db import backup_path_for
from ..domain.errors import InvalidValue, NotFound
from ..services.history import from_history_text
from ..storage.models import Operation
from .spec import owner_alive
from .spec import ImportInfo, UndoResult


def still_running(crm, op) -> bool:
    """Whether an import (or bulk change) marked running is running now: by the process it names,
    else (written before imports named their process) by how recent its last batch is."""
    try:
        summary = json.loads(op.summary or "{}")
    except ValueError:
        return False
    if not isinstance(summary, dict) or summary.get("status") != "running":
        return False
    if summary.get("owner"):
        return owner_alive(summary["owner"])
    return crm.journal._still_running(op)


def list_imports(crm, limit: int = 50) -> list[ImportInfo]:
    Operation = crm.models.Operation
    out = []
    for op in Operation.select().where(Operation.kind == "import").order_by(Operation.id.desc()).limit(limit):
        summary = json.loads(op.summary or "{}")
        if summary.get("dry_run"):
            continue
        status = summary.get("status", "?")
        if status == "running" and not owner_alive(summary.get("owner")):
            status = "interrupted"  # its process died (killed, power cut) part-way; undo removes what it saved
        if op.undone_by:
            status = "undone"
        out.append(ImportInfo(op.id, op.at, summary.get("file", ""), summary.get("objects", []), status,
                              summary.get("counts", {}), summary.get("error_file"), op.undone_by))
    return out


def _undo_options(crm, created: list) -> None:
    """The dropdown options an import added (its records are gone or restored by now): removed
    from their property unless a record still holds them."""
    PropertyDef = crm.models.PropertyDef

    by_prop: dict[tuple[str, str], set[str]] = {}
    for obj, prop, option in created:
        by_prop.setdefault((obj, prop), set()).add(option)
    for (obj, prop), options in by_prop.items():
        meta = crm.registry.objects.get(obj)
        if meta is None or prop not in meta.properties:
            continue
        row = PropertyDef.get_or_none((PropertyDef.object == meta.id) & (PropertyDef.name == prop))
        if row is None:
            continue
        used = {o for o in options if crm.db.execute_sql(
            f'SELECT 1 FROM "{meta.table}" WHERE "{prop}" = ? OR "{prop}" LIKE ? OR "{prop}" LIKE ? '
            f'OR "{prop}" LIKE ? LIMIT 1', (o, f"{o};%", f"%;{o}", f"%;{o};%")).fetchone()}
        kept = [o for o in json.loads(row.options or "[]") if o["name"] not in options - used]
        PropertyDef.update(options=json.dumps(kept)).where(PropertyDef.id == row.id).execute()
    if by_prop:
        crm.registry.reload()


def _descendants(crm, root: int) -> list[int]:
    Operation = crm.models.Operation
    ops, frontier = [root], [root]
    while frontier:
        children = [i for (i,) in Operation.select(Operation.id).where(Operation.parent.in_(frontier)).tuples()]
        ops += children
        frontier = children
    return ops


def check_undo(crm, import_id: int) -> Operation:
    """The import operation when it can be undone; otherwise one line saying why not."""
    Operation = crm.models.Operation
    op = Operation.get_or_none((Operation.id == int(import_id)) & (Operation.kind == "import"))
    if op is None:
        raise NotFound(f"no import with id {import_id} (see `crm-tui imports`)")
    if op.undone_by:
        raise InvalidValue(f"import {import_id} was already undone (by operation {op.undone_by})")
    if still_running(crm, op):  # undoing under a running import's feet would leave its later batches behind
        raise InvalidValue(f"import {import_id} is still running; wait for it to finish (or cancel it), then undo it")
    # Records, values or links the import wrote and a later operation changed again are never
    # deleted or overwritten behind its back: the whole undo is refused, naming that operation.
    refusal = crm.journal.import_dependency(op.id)
    if refusal:
        raise InvalidValue(refusal)
    return op


def undo_import(crm, import_id: int, *, backup: bool = True) -> UndoResult:
    """Reverse an import completely: links it made or removed, values it changed (from the
    PropertyChange rows of its operations), records it created (deleted for good). Backs the
    database up first; the undo itself is one operation with source Import."""
    models = crm.models
    (Operation, PropertyChange, AssociationChange, ExternalId) = (
        models.Operation, models.PropertyChange, models.AssociationChange, models.ExternalId)
    op = check_undo(crm, import_id)
    backup_path = None
    if backup and dialect.backs_up_files(crm.db):  # on a server the undo is one transaction, nothing else
        backup_path = str(backup_path_for(Path(crm.path), f"undo-import-{import_id}"))

        safe_backup(crm.path, backup_path)
    ops = _descendants(crm, op.id)
    reg = crm.registry
    assoc = crm.assoc
    result = UndoResult(op.id, 0, 0, 0, 0, 0, backup_path)
    with crm.operation("undo_import", sources.IMPORT, summary={"undoes": op.id, "backup": backup_path}) as uop:
        created: dict[str, set[int]] = {}
        for meta in reg.objects.values():
            ids = set()
            for start in range(0, len(ops), 900):
                ids.update(i for (i,) in meta.model.select(meta.model.id).where(
                    meta.model.created_op.in_(ops[start:start + 900])).tuples())
            if ids:
                created[meta.name] = ids
        changes = []
        for start in range(0, len(ops), 900):
            changes += list(AssociationChange.select().where(AssociationChange.op.in_(ops[start:start + 900])))
        changes.sort(key=lambda c: c.id, reverse=True)
        # the links of records the import created go with them, in bulk, below
        changes = [ch for ch in changes if ch.a_id not in created.get(reg.by_id[ch.a_object].name, ())
                   and ch.b_id not in created.get(reg.by_id[ch.b_object].name, ())]
        removed, restored = assoc.reverse_changes(uop, changes)
        result.links_removed += removed
        result.links_restored += restored
        # property values: back to the old value of the oldest change the import made
        oldest: dict[tuple[int, int, str], str | None] = {}
        for start in range(0, len(ops), 900):
            for pc in (PropertyChange.select().where(PropertyChange.op.in_(ops[start:start + 900]))
                       .order_by(PropertyChange.id.desc())):
                oldest[(pc.object, pc.record_id, pc.property)] = pc.old_value
        per_record: dict[tuple[int, int], dict] = {}
        for (obj_id, rid, prop), old in oldest.items():
            meta = reg.by_id.get(obj_id)
            if meta is None or rid in created.get(meta.name, ()) or prop not in meta.properties:
                continue
            per_record.setdefault((obj_id, rid), {})[prop] = old
        for (obj_id, rid), olds in per_record.items():
            meta = reg.by_id[obj_id]
            row = crm.records._row(meta, rid)
            if row is None:
                continue
            values = {}
            for prop, old in olds.items():
                values[prop] = from_history_text(meta.properties[prop], old)
            changes_ = {k: v for k, v in values.items() if row.get(k) != v}
            if changes_:
                crm.records._write_changes(meta, rid, row, changes_, uop)
                result.restored_values += len(changes_)
        # records created by the import
        for name, ids in created.items():
            meta = reg.get(name)
            result.links_removed += assoc.remove_links_of(uop, meta, ids)
            id_list = sorted(ids)
            for start in range(0, len(id_list), 900):
                chunk = id_list[start:start + 900]
                placeholders = ",".join("?" * len(chunk))
                crm.db.execute_sql(f'DELETE FROM "{dialect.fts_table(name)}" WHERE rowid IN ({placeholders})', chunk)
                meta.model.delete().where(meta.model.id.in_(chunk)).execute()
            result.deleted += len(ids)
        for start in range(0, len(ops), 900):
            ExternalId.delete().where(ExternalId.op.in_(ops[start:start + 900])).execute()
        uop.summary = json.dumps({"undoes": op.id, "backup": backup_path, "deleted": result.deleted,
                                  "restored_values": result.restored_values, "links_removed": result.links_removed,
                                  "links_restored": result.links_restored})
        uop.save()
        from .bundle import (
            undo_extras,  # owners and properties a HubSpot import created
        )

        undo_extras(crm, op)
        _undo_options(crm, json.loads(op.summary or "{}").get("options_created", []))
        Operation.update(undone_by=uop.id).where(Operation.id == op.id).execute()
        result.undo_op = uop.id
    return result
