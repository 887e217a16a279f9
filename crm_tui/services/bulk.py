"""Changing many records at once: bulk update, delete and associate.

A bulk change is one parent operation, committed first, and batches that each commit on their own
as its child operations. A crash or a kill part-way leaves whole batches (never half a record),
and the parent operation is what an undo reverses. Progress is reported between batches, and a
cancel event stops before the next one.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Callable

from ..domain import sources
from ..domain.errors import CrmError

BATCH_SIZE = 500


@dataclass
class BulkResult:
    op_id: int
    done: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    cancelled: bool = False
    verb: str = "changed"

    @property
    def message(self) -> str:
        text = f"{self.done} {self.verb}"
        if self.failed:
            text += f", {len(self.failed)} refused (first: {self.failed[0][1]})"
        if self.cancelled:
            text += "; cancelled before the rest"
        return text


def _run(crm, kind: str, object_name: str, ids: list[int], each: Callable[[int], object], *, source: str,
         summary: dict, batch_size: int, progress, cancel: threading.Event | None) -> BulkResult:
    Operation = crm.models.Operation
    ids = list(dict.fromkeys(int(i) for i in ids))
    with crm.operation(kind, source, object=object_name, summary={**summary, "count": len(ids), "status": "running"}) as parent:
        pass
    result = BulkResult(parent.id, verb={"bulk_update": "updated", "bulk_delete": "deleted",
                                         "bulk_associate": "associated"}.get(kind, "changed"))
    for start in range(0, len(ids), batch_size):
        if cancel is not None and cancel.is_set():
            result.cancelled = True
            break
        chunk = ids[start:start + batch_size]
        with crm.operation(f"{kind}_batch", source, object=object_name, parent=parent.id):
            for record_id in chunk:
                try:
                    each(record_id)
                    result.done += 1
                except CrmError as exc:  # that record's savepoint rolled back; the batch goes on
                    result.failed.append((record_id, str(exc)))
        if progress is not None:
            progress(min(start + batch_size, len(ids)), len(ids))
    status = "cancelled" if result.cancelled else "done"
    Operation.update(summary=json.dumps({**summary, "count": len(ids), "status": status, "done": result.done,
                                         "failed": len(result.failed)})).where(Operation.id == parent.id).execute()
    return result


def bulk_update(crm, object_name: str, ids: list[int], values: dict, *, source: str = sources.API,
                batch_size: int = BATCH_SIZE, progress=None, cancel=None) -> BulkResult:
    meta = crm.registry.get(object_name)
    clean = crm.records.coerce(meta, values)  # a bad value is refused before anything is written
    return _run(crm, "bulk_update", meta.name, ids,
                lambda rid: crm.records._update(meta, rid, dict(clean), source, None),
                source=source, summary={"values": {k: str(v) for k, v in values.items()}},
                batch_size=batch_size, progress=progress, cancel=cancel)


def bulk_delete(crm, object_name: str, ids: list[int], *, source: str = sources.API,
                batch_size: int = BATCH_SIZE, progress=None, cancel=None) -> BulkResult:
    meta = crm.registry.get(object_name)
    return _run(crm, "bulk_delete", meta.name, ids, lambda rid: crm.records.delete(meta.name, rid, source),
                source=source, summary={}, batch_size=batch_size, progress=progress, cancel=cancel)


def bulk_associate(crm, object_name: str, ids: list[int], other: tuple[str, int], *, labels=(),
                   source: str = sources.API, batch_size: int = BATCH_SIZE, progress=None, cancel=None) -> BulkResult:
    meta = crm.registry.get(object_name)
    return _run(crm, "bulk_associate", meta.name, ids,
                lambda rid: crm.assoc.add((meta.name, rid), other, labels=labels, source=source),
                source=source, summary={"with": f"{other[0]}:{other[1]}", "labels": list(labels)},
                batch_size=batch_size, progress=progress, cancel=cancel)


@dataclass
class UpdatePreview:
    """What bulk_update would do, before anything is written (the screen asks with it)."""
    total: int
    changing: int  # records whose value differs from the new one
    examples: list[tuple[int, str, dict, dict]]  # (id, display name, {prop: old}, {prop: new}) of a few changing


def preview_update(crm, object_name: str, ids: list[int], values: dict, *, examples: int = 3) -> UpdatePreview:
    """Count the records a bulk update would change and show a few of them; raises InvalidValue for a
    value the update would refuse. Reads only the named columns, 900 ids per query."""
    meta = crm.registry.get(object_name)
    clean = crm.records.coerce(meta, values)
    ids = list(dict.fromkeys(int(i) for i in ids))
    names = list(clean)
    columns = ", ".join(f'"{name}"' for name in names)
    changing, shown = 0, []
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        marks = ", ".join("?" * len(chunk))
        cursor = crm.db.execute_sql(f'SELECT id, {columns} FROM "{meta.table}" WHERE id IN ({marks}) '
                                    "AND deleted_at IS NULL ORDER BY id", chunk)
        for row in cursor.fetchall():
            old = dict(zip(names, row[1:]))
            if any(old[name] != clean[name] for name in names):
                changing += 1
                if len(shown) < examples:
                    shown.append((row[0], old))
    labels = crm.records.display_names(meta, [rid for rid, _old in shown])
    return UpdatePreview(len(ids), changing, [(rid, labels.get(rid, f"#{rid}"), old, dict(clean)) for rid, old in shown])
