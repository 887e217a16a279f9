"""Erasure: a record removed for good, from every table, its history and the search index included,
as an erasure request (GDPR article 17) asks; and the recycle bin emptied, by hand or after the
retention (setting `recycle_bin_days`, default 90).

What stays is a tombstone: the erase operation itself (kind "erase": the object, the record's id,
who and when; never the record's values). Deleted rows are overwritten in the file (SQLite's
secure_delete), the search index is rewritten so no word of the record survives in it, and the
write-ahead log is emptied into the file, so the erased text is gone from the database file.
Backups made earlier (`crm-tui backup`, migration backups) still hold it: they are the user's files.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from ..storage import dialect
from ..domain import sources
from ..domain.errors import InvalidValue, NotFound

DEFAULT_RETENTION_DAYS = 90


@dataclass
class EraseResult:
    object: str
    ids: list[int]
    op_id: int | None
    message: str


class Eraser:
    def __init__(self, crm):
        self.crm = crm

    def erase(self, object_name: str, record_id: int, *, source: str = sources.API, actor: str | None = None) -> EraseResult:
        meta = self.crm.registry.get(object_name)
        record_id = int(record_id)
        if not self.crm.records.exists(meta, record_id, live=False):
            raise NotFound(f"no {meta.label.lower()} with id {record_id}")
        with self.crm.operation("erase", source, actor, object=meta.name, record_id=record_id,
                                summary={"erased": [record_id], "object": meta.name}) as op:
            self._remove(meta, [record_id])
        self._scrub(meta)
        return EraseResult(meta.name, [record_id], op.id,
                           f"erased {meta.label.lower()} {record_id}: its values, links and history are gone "
                           f"(operation {op.id} records when and by whom)")

    def empty_bin(self, object_name: str | None = None, *, older_than_days: int | None = None,
                  source: str = sources.API, actor: str | None = None) -> EraseResult:
        """Erase the deleted records (of one object, or all) deleted more than `older_than_days`
        ago (None: all of them)."""
        if older_than_days is not None and older_than_days < 0:
            raise InvalidValue("--older-than takes a number of days, 0 or more")
        metas = [self.crm.registry.get(object_name)] if object_name else list(self.crm.registry.objects.values())
        cutoff = None
        if older_than_days is not None:
            moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=older_than_days)
            cutoff = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        found = {}
        for meta in metas:
            model = meta.model
            q = model.select(model.id).where(model.deleted_at.is_null(False) & ~self.crm.records.merged_away(meta))
            if cutoff is not None:
                q = q.where(model.deleted_at < cutoff)
            ids = [rid for (rid,) in q.tuples()]
            if ids:
                found[meta.name] = ids
        total = sum(len(v) for v in found.values())
        if not total:
            return EraseResult(object_name or "", [], None, "the recycle bin holds nothing to empty")
        with self.crm.operation("erase", source, actor, object=object_name,
                                summary={"erased": total, "objects": {k: len(v) for k, v in found.items()},
                                         "emptied_bin": True}) as op:
            for name, ids in found.items():
                self._remove(self.crm.registry.get(name), ids)
        for name in found:
            self._scrub(self.crm.registry.get(name))
        return EraseResult(object_name or "", [i for ids in found.values() for i in ids], op.id,
                           f"emptied the recycle bin: {total} record(s) erased for good")

    def purge_expired(self) -> int:
        """The retention: records deleted longer ago than `recycle_bin_days` are erased (run when the
        database is opened for writing; 0 or a negative number keeps them forever)."""
        days = self.crm.setting("recycle_bin_days", DEFAULT_RETENTION_DAYS)
        try:
            days = int(days)
        except (TypeError, ValueError):
            return 0
        if days <= 0:
            return 0
        return len(self.empty_bin(older_than_days=days, source=sources.JOB).ids)

    # -- the removal ------------------------------------------------------------------------

    def _remove(self, meta, ids: list[int]) -> None:
        m = self.crm.models
        db = self.crm.db
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            # links both ways (labels go with them: ON DELETE CASCADE); the count triggers follow
            m.Association.delete().where(((m.Association.from_object == meta.id) & m.Association.from_id.in_(chunk))
                                         | ((m.Association.to_object == meta.id) & m.Association.to_id.in_(chunk))).execute()
            m.AssociationCount.delete().where((m.AssociationCount.from_object == meta.id)
                                              & m.AssociationCount.from_id.in_(chunk)).execute()
            m.AssociationChange.delete().where(((m.AssociationChange.a_object == meta.id) & m.AssociationChange.a_id.in_(chunk))
                                               | ((m.AssociationChange.b_object == meta.id) & m.AssociationChange.b_id.in_(chunk))).execute()
            m.PropertyChange.delete().where((m.PropertyChange.object == meta.id)
                                            & m.PropertyChange.record_id.in_(chunk)).execute()
            m.ExternalId.delete().where((m.ExternalId.object == meta.name) & m.ExternalId.record_id.in_(chunk)).execute()
            if meta.name == "emails":  # the addresses it was from, to or cc
                m.MailAddress.delete().where(m.MailAddress.email_id.in_(chunk)).execute()
            if meta.name == "contacts":  # the card text a vdir sync kept of them
                m.VdirCard.delete().where(m.VdirCard.record_id.in_(chunk)).execute()
            for rid in chunk:
                dialect.fts_delete(db, meta.name, rid)
            meta.model.delete().where(meta.model.id.in_(chunk)).execute()
            # the operations that named the record keep their kind and time, not what they carried
            m.Operation.update(summary=json.dumps({"erased": True})).where(
                (m.Operation.object == meta.name) & m.Operation.record_id.in_(chunk)
                & (m.Operation.kind != "erase")).execute()

    def _scrub(self, meta) -> None:
        """No trace of the removed text in the file: the search index rewritten, the log emptied."""
        dialect.fts_optimize(self.crm.db, meta.name)
        dialect.checkpoint_truncate(self.crm.db)
