"""The operation journal: every top-level operation, with undo and redo (no Textual here).

    crm.journal.list(limit=50)            # newest first, plain OperationSummary values
    crm.journal.undo()                    # the newest own operation not yet undone
    crm.journal.undo(op_id)               # that one; refused in one line when a later one depends on it
    crm.journal.redo()                    # the most recent undo not yet redone

How an undo works. Every change an operation makes is in the history its operation tree wrote
(the operation and its child operations: batches, cascades, automations): property changes with
old and new values, association changes, and record events (an operation of kind create, delete,
restore, or a merge's "merged into" row). An undo reads those rows and writes the exact inverse as a
new operation (kind "undo", with its source) whose history rows are appended like any other: history
stays append-only. A redo is the undo of that undo (kind "redo"). `Operation.undone_by` chains them:
X -> its undo -> the redo -> the next undo ..., and X is undone when that chain has an even length.

Dependencies. For every property value, link and record the tree touched, the rows written later
by operations outside it are looked up (one set-based query per kind). A later operation and its
own undo cancel out; any other later writer is a dependency, and the undo is refused with one line
naming it. Checks that only the result can answer (one primary company, limits, unique values,
links to deleted records) run on the result inside the same transaction, which rolls back whole.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from peewee import IntegrityError

from ..storage import dialect
from ..domain import sources
from .meta_journal import META_KINDS, MetaReversal, describe_row
from ..domain.errors import CrmError, NotFound
from ..storage.models import Operation
from ..domain.types import now_iso
from .history import from_history_text

# Top-level kinds an undo knows how to reverse completely from their history.
UNDOABLE = {
    "create", "update", "delete", "restore", "merge", "associate", "unassociate", "set_primary",
    "remove_primary", "label", "bulk_update", "bulk_delete", "bulk_associate", "log_activity", "import",
    "workflow_run",  # a workflow run now, or its date triggers on open (services/workflows.py)
    "mail_log", "mail_scan",
    "vdir_sync",
} | META_KINDS  # schema and pipeline changes: their metadata rows are journaled (meta_journal.py)
REVERT_KINDS = ("undo", "redo")  # operations written by this module
OWN_SOURCES = (sources.USER, sources.API, sources.IMPORT, sources.SYNC)
NOT_UNDOABLE_WHY = {
    "seed": "synthetic data is removed by starting a new database",
    "repair": "a repair fixes the database itself",
    "undo_import": "an import's undo deleted its records for good; import the file again",
    "erase": "an erasure removes the record with its history for good",
    "delete_label": "a deleted label is gone for good (it was asked first); create it again",
    "delete_property": "a deleted property is gone with its values for good (it was asked first)",
    "apply_workflows": "workflow definitions are not kept in history; apply the previous file again",
    "enable_workflow": "enable or disable the workflow again",
    "disable_workflow": "enable or disable the workflow again",
    "delete_workflow": "a deleted workflow is gone; apply its file again",
}

RUNNING_GRACE = 120  # seconds without a new batch after which a "running" bulk change was killed

_TREE = "WITH RECURSIVE t(id) AS (SELECT CAST(? AS BIGINT) UNION ALL SELECT o.id FROM operation o JOIN t ON o.parent = t.id) "


@dataclass
class OperationSummary:
    id: int
    time: str
    kind: str
    source: str
    actor: str | None
    summary: str
    undone: bool
    undoable: bool


@dataclass
class UndoResult:
    op_id: int  # the operation undone (or redone)
    undo_op_id: int  # the undo (or redo) operation written
    summary: str


class Journal:
    def __init__(self, crm):
        self.crm = crm

    # -- reading ------------------------------------------------------------------------------

    def list(self, limit: int = 50, include_undone: bool = True) -> list[OperationSummary]:
        """Top-level operations, newest first."""
        Operation = self.crm.models.Operation
        out: list[OperationSummary] = []
        query = Operation.select().where(Operation.parent.is_null(True)).order_by(Operation.id.desc())
        batch = max(int(limit), 1) * 2
        offset = 0
        while len(out) < limit:
            ops = list(query.offset(offset).limit(batch))
            if not ops:
                break
            offset += batch
            for op in ops:
                undone = self._is_undone(op)
                if undone and not include_undone:
                    continue
                out.append(OperationSummary(
                    id=op.id, time=op.at, kind=op.kind, source=op.source, actor=op.actor,
                    summary=self.describe(op), undone=undone,
                    undoable=(not undone and self._why_not(op) is None),
                ))
                if len(out) >= limit:
                    break
        return out

    def _find(self, op_id) -> Operation:
        Operation = self.crm.models.Operation
        try:
            number = int(op_id)
        except (TypeError, ValueError):
            raise NotFound(f"no operation with id {op_id!r} (see `crm-tui operations`)") from None
        op = Operation.get_or_none(Operation.id == number) if 1 <= number <= 2**63 - 1 else None
        if op is None:
            raise NotFound(f"no operation with id {op_id} (see `crm-tui operations`)")
        return op

    def get(self, op_id: int) -> OperationSummary:
        op = self._find(op_id)
        undone = self._is_undone(op)
        return OperationSummary(op.id, op.at, op.kind, op.source, op.actor, self.describe(op), undone,
                                not undone and self._why_not(op) is None)

    def _chain(self, op: Operation) -> list[Operation]:
        Operation = self.crm.models.Operation
        chain = [op]
        while chain[-1].undone_by:
            nxt = Operation.get_or_none(Operation.id == chain[-1].undone_by)
            if nxt is None:
                break
            chain.append(nxt)
        return chain

    def _is_undone(self, op: Operation) -> bool:
        if op.kind in REVERT_KINDS:
            return bool(op.undone_by)
        return len(self._chain(op)) % 2 == 0

    def _why_not(self, op: Operation) -> str | None:
        """Why this top-level operation cannot be undone, or None."""
        if op.parent is not None:
            return f"operation {op.id} is part of operation {op.parent}; undo that one"
        if op.kind in REVERT_KINDS:
            return f"operation {op.id} is an {op.kind}; use redo" if op.kind == "undo" else \
                f"operation {op.id} is a redo; undo operation {self._summary(op).get('original')} instead"
        if op.kind not in UNDOABLE:
            why = NOT_UNDOABLE_WHY.get(op.kind, "it is not kept in history in a way an undo can reverse")
            return f"operation {op.id} ({op.kind}) cannot be undone: {why}"
        summary = self._summary(op)
        if summary.get("status") == "running" and self._running_now(op, summary):
            return f"operation {op.id} is still running; wait for it to finish (or cancel it), then undo it"
        if op.kind in META_KINDS and not summary.get("meta"):
            return (f"operation {op.id} ({op.kind}) cannot be undone: it was made before schema and pipeline "
                    "changes were kept in history")
        if op.kind == "import" and summary.get("dry_run"):
            return f"operation {op.id} was a dry run: nothing to undo"
        erased = self._erased_since(op)
        if erased:
            return f"operation {op.id} changed {erased}, which was erased since; nothing of it is left to undo"
        return None

    def _erased_since(self, op: Operation) -> str | None:
        """The record of `op`, when a later erasure (or an emptied recycle bin) removed it for good."""
        Operation = self.crm.models.Operation
        meta = self.crm.registry.objects.get(op.object or "")
        if meta is None or op.record_id is None or op.kind == "import":
            return None
        later = (Operation.select(Operation.id).where((Operation.kind == "erase") & (Operation.id > op.id)).exists())
        if not later or self.crm.records.exists(meta, op.record_id, live=False):
            return None
        return f"{meta.label.lower()} {op.record_id}"

    def _running_now(self, op: Operation, summary: dict) -> bool:
        """By the process an import names (a killed one can be undone at once), else by _still_running."""
        if summary.get("owner"):
            from ..importing.undo import owner_alive  # lazy: a known upward import (tools/relayer.py KNOWN_UPWARD)

            return owner_alive(summary["owner"])
        return self._still_running(op)

    def _still_running(self, op: Operation) -> bool:
        """A bulk change or an import says "running" until its last batch: it is still running when
        a batch committed within RUNNING_GRACE seconds; otherwise it was killed part-way, and its
        undo reverses the whole batches it committed."""
        Operation = self.crm.models.Operation
        newest = Operation.select(Operation.at).where(Operation.parent == op.id).order_by(Operation.id.desc()).scalar()
        try:
            at = datetime.fromisoformat((newest or op.at).replace("Z", "+00:00"))
        except ValueError:
            return False
        if at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)
        return (datetime.now(timezone.utc) - at).total_seconds() < RUNNING_GRACE

    @staticmethod
    def _summary(op: Operation) -> dict:
        try:
            data = json.loads(op.summary or "{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _is_own(self, op: Operation, source: str) -> bool:
        if op.source not in OWN_SOURCES:
            return False
        return not (op.source in (sources.USER, sources.API) and op.actor and op.actor != self.crm.user_name)

    # -- describing ---------------------------------------------------------------------------

    def _name(self, object_name: str | None, record_id) -> str:
        if not object_name or record_id is None:
            return "?"
        meta = self.crm.registry.objects.get(object_name)
        if meta is None:
            return f"{object_name} {record_id}"
        name = self.crm.records.display_names(meta, [int(record_id)]).get(int(record_id))
        return name or f"{meta.label.lower()} {record_id}"

    def _ref_name(self, object_id: int, record_id: int) -> str:
        meta = self.crm.registry.by_id.get(object_id)
        return self._name(meta.name if meta else None, record_id)

    def _label(self, object_name: str | None, count: int) -> str:
        meta = self.crm.registry.objects.get(object_name or "")
        if meta is None:
            return f"{count} records"
        return f"{count:,} {meta.label.lower() if count == 1 else meta.plural_label.lower()}"

    def describe(self, op: Operation) -> str:
        """One human line naming the records an operation changed."""
        try:
            return self._describe(op)
        except Exception:  # a summary must never break the list (a record's object removed since...)
            return f"{op.kind} {op.object or ''} {op.record_id or ''}".strip()

    def _describe(self, op: Operation) -> str:
        models = self.crm.models
        Operation, PropertyChange, AssociationChange = models.Operation, models.PropertyChange, models.AssociationChange
        kind, summary = op.kind, self._summary(op)
        name = self._name(op.object, op.record_id)
        label = ""
        meta = self.crm.registry.objects.get(op.object or "")
        if meta is not None:
            label = meta.label.lower()
        if kind == "create":
            return f"Created {label} {name}"
        if kind == "vdir_sync":
            return (f"vdir sync {summary.get('folder', '')}: {summary.get('created', 0)} created, "
                    f"{summary.get('updated', 0)} updated, {summary.get('deleted', 0)} deleted")
        if kind == "update":
            props = [p for (p,) in PropertyChange.select(PropertyChange.property)
                     .where(PropertyChange.op == op.id).order_by(PropertyChange.id).tuples()
                     if p not in ("hs_email_domain",)]
            labels = [meta.properties[p].label if meta is not None and p in meta.properties else p for p in props]
            return f"Updated {name}: {', '.join(dict.fromkeys(labels)) or 'nothing'}"
        if kind == "delete":
            return f"Deleted {label} {name}"
        if kind == "restore":
            return f"Restored {label} {name}"
        if kind == "merge":
            if "merged" in summary:
                return f"Merged {label} {self._name(op.object, summary['merged'])} into {name}"
            return f"Merged {label} {name} into {self._name(op.object, summary.get('merged_into'))}"
        if kind in ("associate", "unassociate", "label", "set_primary", "remove_primary"):
            rows = AssociationChange.select().where(AssociationChange.op == op.id)
            if not rows.exists():  # the edit dialog's labels: one operation holding one per label
                rows = AssociationChange.select().where(AssociationChange.op.in_(
                    Operation.select(Operation.id).where(Operation.parent == op.id)))
            if kind == "set_primary":  # the company made primary, not the one it took over from
                rows = rows.order_by((AssociationChange.action.in_(["primary_set", "created_primary"])).desc(),
                                     AssociationChange.id)
            else:
                rows = rows.order_by(AssociationChange.id)
            row = rows.first()
            other = self._ref_name(row.b_object, row.b_id) if row is not None else "?"
            if row is not None and meta is not None and (row.b_object, row.b_id) == (meta.id, op.record_id):
                other = self._ref_name(row.a_object, row.a_id)
            verb = {"associate": "Linked {a} with {b}", "unassociate": "Unlinked {a} from {b}",
                    "label": "Changed labels of {a} and {b}", "set_primary": "Made {b} primary company of {a}",
                    "remove_primary": "Changed primary company of {a}"}[kind]
            return verb.format(a=name, b=other)
        if kind == "bulk_update":
            values = summary.get("values", {})
            return f"Bulk edit of {self._label(op.object, summary.get('count', 0))}: {', '.join(values) or '-'}"
        if kind == "bulk_delete":
            return f"Deleted {self._label(op.object, summary.get('count', 0))}"
        if kind == "bulk_associate":
            other = summary.get("with", "")
            obj, _, rid = other.partition(":")
            return f"Linked {self._label(op.object, summary.get('count', 0))} with {self._name(obj, rid or None)}"
        if kind == "log_activity":
            row = (Operation.select().where((Operation.parent == op.id) & (Operation.kind == "create"))
                   .order_by(Operation.id).first())
            what = self.crm.registry.objects[row.object].label.lower() if row is not None else "activity"
            return f"Logged {what} on {name}"
        if kind == "import":
            counts = summary.get("counts", {})
            return (f"Import of {os.path.basename(str(summary.get('file', '?')))} ({counts.get('created', 0):,} created, "
                    f"{counts.get('updated', 0):,} updated)")
        if kind in ("workflow_run", "workflow"):
            what = f" on {self._label(op.object, summary.get('records', 0))}" if kind == "workflow_run" else f" on {name}"
            return f"Workflow {summary.get('workflow', op.actor)}{what}"
        if kind == "undo_import":
            return f"Undo of import {summary.get('undoes')}"
        if kind in REVERT_KINDS:
            original = Operation.get_or_none(Operation.id == summary.get("original"))
            text = self.describe(original) if original is not None else f"operation {summary.get('original')}"
            return f"{kind.capitalize()}: {text}"
        if kind == "seed":
            return "Synthetic records (seed)"
        if kind in ("mail_log", "mail_scan") and summary.get("text"):
            return str(summary["text"])
        if kind in META_KINDS and summary.get("text"):
            return str(summary["text"])
        if kind == "delete_stage":
            return f"Deleted stage {summary.get('stage')} of pipeline {summary.get('pipeline')}"
        return f"{kind} {label} {name if op.record_id else ''}".strip()

    # -- undo and redo ------------------------------------------------------------------------

    def undo(self, op_id: int | None = None, *, source: str = sources.USER) -> UndoResult:
        if op_id is None:
            op = self._newest_own(source)
            if op is None:
                raise CrmError("nothing to undo")
        else:
            op = self._find(op_id)
        why = self._why_not(op)
        if why:
            raise CrmError(why)
        chain = self._chain(op)
        if len(chain) % 2 == 0:
            raise CrmError(f"operation {op.id} ({self.describe(op)}) is already undone (by operation {chain[-1].id})")
        if op.kind == "import":
            return self._undo_import(op, source)
        tail = chain[-1]
        uop = self._revert(tail, "undo", source, original=op)
        return UndoResult(op.id, uop.id, f"undid {self.describe(op)}")

    def redo(self, *, source: str = sources.USER) -> UndoResult:
        Operation = self.crm.models.Operation
        latest = (Operation.select().where(Operation.parent.is_null(True)
                                           & Operation.kind.in_(["undo", "undo_import"])
                                           & Operation.undone_by.is_null(True))
                  .order_by(Operation.id.desc()))
        target = None
        for candidate in latest:
            if self._is_own(candidate, source) or candidate.kind == "undo_import":
                target = candidate
                break
        if target is None:
            raise CrmError("nothing to redo")
        if target.kind == "undo_import":
            raise CrmError(f"the newest undo (operation {target.id}) undid import {self._summary(target).get('undoes')}, "
                           "which cannot be redone: its records were deleted for good; import the file again")
        original = Operation.get_or_none(Operation.id == self._summary(target).get("original"))
        rop = self._revert(target, "redo", source, original=original)
        return UndoResult(original.id if original else target.id, rop.id,
                          f"redid {self.describe(original) if original else f'operation {target.id}'}")

    def _newest_own(self, source: str) -> Operation | None:
        Operation = self.crm.models.Operation
        query = (Operation.select().where(Operation.parent.is_null(True) & Operation.kind.not_in(list(REVERT_KINDS)))
                 .order_by(Operation.id.desc()))
        for op in query.limit(500):
            if not self._is_own(op, source) or op.kind not in UNDOABLE:
                continue
            if self._is_undone(op):
                continue
            return op
        return None

    # -- the reversal ---------------------------------------------------------------------------

    def _tree(self, root_id: int) -> list[int]:
        return [i for (i,) in self.crm.db.execute_sql(_TREE + "SELECT id FROM t", (root_id,)).fetchall()]

    def _root(self, op_id: int, cache: dict) -> Operation:
        Operation = self.crm.models.Operation
        if op_id in cache:
            return cache[op_id]
        op = Operation.get_by_id(op_id)
        seen = [op_id]
        while op.parent is not None:
            if op.parent in cache:
                op = cache[op.parent]
                break
            seen.append(op.parent)
            op = Operation.get_by_id(op.parent)
        for i in seen:
            cache[i] = op
        return op

    def _revert(self, tail: Operation, kind: str, source: str, *, original: Operation | None) -> Operation:
        """Write the inverse of `tail`'s operation tree as one new operation; refuse in one line
        (nothing written) when a later operation depends on it."""
        Operation = self.crm.models.Operation
        crm = self.crm
        what = self.describe(original or tail)
        verb = "undo" if kind == "undo" else "redo"
        with crm.operation(kind, source, object=tail.object, record_id=tail.record_id,
                           summary={"undoes": tail.id, "original": original.id if original else tail.id}) as uop:
            # read again inside the transaction (which holds the write lock since the row above):
            # another window or command may have undone it a moment ago
            done_by = Operation.select(Operation.undone_by).where(Operation.id == tail.id).scalar()
            if done_by:
                raise CrmError(f"operation {(original or tail).id} ({what}) was {verb}ne a moment ago "
                               f"(by operation {done_by})")
            plan = _Plan(self, tail, uop)
            plan.load()
            later = plan.later_writer()
            if later is not None:
                raise CrmError(f"cannot {verb} operation {(original or tail).id} ({what}): operation {later.id} "
                               f"({self.describe(later)}) changed the same {plan.later_what} since; undo that first")
            try:
                plan.apply(verb, (original or tail).id, what)
            except BaseException:
                if plan.meta:  # the transaction rolls back: forget metadata read inside it
                    crm._pipelines_cache = None
                    crm.registry.reload()
                raise
            uop.summary = json.dumps({"undoes": tail.id, "original": original.id if original else tail.id,
                                      "values": plan.values_written, "links": plan.link_rows_written,
                                      "records": plan.records_written})
            uop.save()
            Operation.update(undone_by=uop.id).where(Operation.id == tail.id).execute()
        return uop

    def _undo_import(self, op: Operation, source: str) -> UndoResult:
        from ..importing.undo import undo_import  # lazy: a known upward import (tools/relayer.py KNOWN_UPWARD)

        result = undo_import(self.crm, op.id)
        return UndoResult(op.id, result.undo_op, result.summary_line())

    def import_dependency(self, import_id: int) -> str | None:
        """The one line refusing an import's undo because a later operation changed what it
        wrote (values, links, or the records it created), or None."""
        Operation = self.crm.models.Operation
        op = Operation.get_by_id(int(import_id))
        plan = _Plan(self, op, None)
        plan.load(created_by_tree=True)
        later = plan.later_writer()
        if later is None:
            return None
        return (f"cannot undo import {op.id}: operation {later.id} ({self.describe(later)}) changed the same "
                f"{plan.later_what} since; undo that first")


class _Plan:
    """What one operation tree changed, the dependency check, and its inverse."""

    def __init__(self, journal: Journal, tail: Operation, uop: Operation | None):
        self.journal = journal
        self.crm = journal.crm
        self.tail = tail
        self.uop = uop
        self.later_what = ""
        self.values_written = 0
        self.link_rows_written = 0
        self.records_written = 0

    # -- reading the tree -------------------------------------------------------------------

    def load(self, *, created_by_tree: bool = False) -> None:
        db = self.crm.db
        root = self.tail.id
        self.props = db.execute_sql(
            _TREE + "SELECT pc.id, pc.object, pc.record_id, pc.property, pc.old_value, pc.new_value "
            "FROM property_change pc WHERE pc.op_id IN (SELECT id FROM t) ORDER BY pc.id", (root,)).fetchall()
        # the tree's link rows are read only when a later operation changed links (the reversal
        # itself works on them in SQL): a merge of 40,000 links has 150,000 of them
        self._links = None
        self.has_links = db.execute_sql(
            _TREE + "SELECT EXISTS (SELECT 1 FROM association_change ac WHERE ac.op_id IN (SELECT id FROM t))", (root,)).fetchone()[0]
        self.meta = db.execute_sql(
            _TREE + "SELECT mc.id, mc.tbl, mc.row_id, mc.old, mc.new FROM meta_change mc WHERE mc.op_id IN (SELECT id FROM t) "
            "ORDER BY mc.id", (root,)).fetchall()
        # record events, in order: (object name, id, "created" | "deleted" | "restored")
        events = []
        for oid, kind, obj, rid, summary, parent in db.execute_sql(
                _TREE + "SELECT o.id, o.kind, o.object, o.record_id, o.summary, o.parent FROM operation o "
                "WHERE o.id IN (SELECT id FROM t) AND o.kind IN ('create', 'delete', 'restore', 'merge') ORDER BY o.id", (root,)).fetchall():
            if rid is None or obj is None:
                continue
            if kind == "create":
                events.append((obj, rid, "created"))
            elif kind == "delete":
                events.append((obj, rid, "deleted"))
            elif kind == "restore":
                events.append((obj, rid, "restored"))
            elif kind == "merge" and "merged_into" in (summary or ""):
                events.append((obj, rid, "deleted"))
        self.created_ids: dict[str, list[int]] = {}
        if created_by_tree:  # an import's records: bulk-created with created_op, no create operations
            for meta in self.crm.registry.objects.values():
                ids = [i for (i,) in db.execute_sql(
                    _TREE + f'SELECT id FROM "{meta.table}" WHERE created_op IN (SELECT id FROM t)', (root,)).fetchall()]
                if ids:
                    self.created_ids[meta.name] = ids
        # net effect per record: live before the tree? live after it?
        self.records: dict[tuple[str, int], list[bool]] = {}
        for obj, rid, event in events:
            key = (obj, rid)
            if key not in self.records:
                self.records[key] = [event == "deleted", event != "deleted"]
            else:
                self.records[key][1] = event != "deleted"

    @property
    def links(self) -> list[tuple]:
        if self._links is None:
            self._links = self.crm.db.execute_sql(
                _TREE + "SELECT ac.id, ac.a_object, ac.a_id, ac.b_object, ac.b_id, ac.action, ac.label "
                "FROM association_change ac WHERE ac.op_id IN (SELECT id FROM t) ORDER BY ac.id", (self.tail.id,)).fetchall()
        return self._links

    # -- dependencies -------------------------------------------------------------------------

    def later_writer(self) -> Operation | None:
        """The newest operation outside the tree that changed what the tree wrote since and has
        not been cancelled by its own undo; None when the tree can be reversed.

        Linear in the history written after the tree: the rows of later operations are read by
        their operation id (indexed) and matched against the tree's keys in memory, so a record
        with tens of thousands of links costs no more per row than any other."""
        db = self.crm.db
        reg = self.crm.registry
        root = self.tail.id
        per_key: dict[tuple, set[int]] = {}
        what: dict[tuple, tuple] = {}
        # the tree's last row per property value and per link
        last_prop: dict[tuple, int] = {}
        for pid, obj, rid, prop, _old, _new in self.props:
            last_prop[(obj, rid, prop)] = pid
        last_link: dict[tuple, int] = {}
        # records: a later deletion, restore or merge of a record the tree touched; any later
        # change of a record the reversal will delete (one the tree created or restored)
        touched: set[tuple[int, int]] = {(obj, rid) for (obj, rid, _p) in last_prop}
        going: set[tuple[int, int]] = set()
        for (name, rid), (before, _after) in self.records.items():
            meta = reg.objects.get(name)
            if meta is None:
                continue
            touched.add((meta.id, rid))
            if not before:
                going.add((meta.id, rid))
        for name, ids in self.created_ids.items():
            going.update((reg.get(name).id, rid) for rid in ids)
        touched |= going

        def note(key, op_id, description):
            per_key.setdefault(key, set()).add(op_id)
            what[key] = description

        if last_prop or going:
            for pid, op_id, obj, rid, prop in db.execute_sql(
                    _TREE + "SELECT id, op_id, object, record_id, property FROM property_change "
                    "WHERE op_id > ? AND op_id NOT IN (SELECT id FROM t)", (root, root)).fetchall():
                mine = last_prop.get((obj, rid, prop))
                if mine is not None and pid > mine:
                    note(("p", obj, rid, prop), op_id, ("p", obj, rid, prop))
                elif (obj, rid) in going:
                    note(("r", obj, rid), op_id, ("r", obj, rid))
        later_links = db.execute_sql(
            _TREE + "SELECT id, op_id, a_object, a_id, b_object, b_id FROM association_change "
            "WHERE op_id > ? AND op_id NOT IN (SELECT id FROM t)", (root, root)).fetchall() if self.has_links or going else []
        if later_links and self.has_links:
            for lid, ao, ai, bo, bi, _action, _label in self.links:
                last_link[(ao, ai, bo, bi) if (ao, ai) <= (bo, bi) else (bo, bi, ao, ai)] = lid
        if later_links:
            for cid, op_id, ao, ai, bo, bi in later_links:
                pair = (ao, ai, bo, bi) if (ao, ai) <= (bo, bi) else (bo, bi, ao, ai)
                mine = last_link.get(pair)
                if mine is not None and cid > mine:
                    note(("l",) + pair, op_id, ("l",) + pair)
                for end in ((ao, ai), (bo, bi)):
                    if end in going:
                        note(("r",) + end, op_id, ("r",) + end)
        if touched:
            for op_id, name, rid, kind, summary in db.execute_sql(
                    _TREE + "SELECT id, object, record_id, kind, summary FROM operation WHERE id > ? AND id NOT IN (SELECT id FROM t) "
                    "AND kind IN ('delete', 'restore', 'merge') AND record_id IS NOT NULL", (root, root)).fetchall():
                meta = reg.objects.get(name or "")
                if meta is not None and (meta.id, rid) in touched:
                    note(("r", meta.id, rid), op_id, ("r", meta.id, rid))
        if self.meta:  # a later schema or pipeline change of the same metadata row
            last_meta = {(tbl, row_id): mid for mid, tbl, row_id, _old, _new in self.meta}
            for mid, op_id, tbl, row_id in db.execute_sql(
                    _TREE + "SELECT id, op_id, tbl, row_id FROM meta_change WHERE op_id > ? AND op_id NOT IN (SELECT id FROM t)",
                    (root, root)).fetchall():
                mine = last_meta.get((tbl, row_id))
                if mine is not None and mid > mine:
                    note(("m", tbl, row_id), op_id, ("m", tbl, row_id))
        if not per_key:
            return None
        cache: dict[int, Operation] = {}
        tree_root = self.tail.id
        for key, op_ids in per_key.items():
            roots = {}
            for op_id in op_ids:
                r = self.journal._root(op_id, cache)
                if r.id != tree_root:
                    roots[r.id] = r
            cancelled: set[int] = set()
            for rid in sorted(roots, reverse=True):
                if rid in cancelled:
                    continue
                r = roots[rid]
                target = self.journal._summary(r).get("undoes") if r.kind in REVERT_KINDS + ("undo_import",) else None
                if target is not None and target in roots:
                    cancelled.add(target)
                    continue
                self.later_what = self._describe_key(what[key])
                return r
        return None

    def _describe_key(self, key: tuple) -> str:
        name = self.journal._ref_name
        if key[0] == "p":
            return f"{key[3]} of {name(key[1], key[2])}"
        if key[0] == "l":
            return f"link of {name(key[1], key[2])} and {name(key[3], key[4])}"
        if key[0] == "m":
            row = self.crm.db.execute_sql(f'SELECT * FROM "{key[1]}" WHERE id = ?', (key[2],))
            found = row.fetchone()
            data = dict(zip([d[0] for d in row.description], found)) if found else None
            if data is None:
                for _mid, tbl, row_id, old, new in self.meta:
                    if (tbl, row_id) == (key[1], key[2]):
                        data = json.loads(new or old or "{}")
            return describe_row(self.crm, key[1], data)
        return f"record {name(key[1], key[2])}"

    # -- writing the inverse ------------------------------------------------------------------

    def apply(self, verb: str, original_id: int, what: str) -> None:
        crm, uop = self.crm, self.uop
        reg = crm.registry
        refuse = f"cannot {verb} operation {original_id} ({what})"
        # 0. metadata rows (pipelines, stages, objects, properties, labels, limits) the tree changed or
        # removed come back first: records moved out of a deleted stage move back into it below
        metadata = MetaReversal(self, refuse)
        metadata.restore()
        # 1. records that were not live before the tree go (their unique values are freed first)
        going = [(obj, rid) for (obj, rid), (before, after) in self.records.items() if after and not before]
        coming = [(obj, rid) for (obj, rid), (before, after) in self.records.items() if before and not after]
        for obj, rid in going:
            meta = reg.get(obj)
            row = crm.records._row(meta, rid)
            if row is None or row["deleted_at"] is not None:
                continue
            with crm.operation("delete", uop.source, uop.actor, object=obj, record_id=rid):
                meta.model.update(deleted_at=now_iso()).where(meta.model.id == rid).execute()
                dialect.fts_delete(crm.db, obj, rid)
            self.records_written += 1
        # 2. property values back to what they were before the tree, grouped into set-based updates
        first_old: dict[tuple[int, int, str], str | None] = {}
        last_new: dict[tuple[int, int, str], str | None] = {}
        for _id, obj, rid, prop, old, new in self.props:
            key = (obj, rid, prop)
            if key not in first_old:
                first_old[key] = old
            last_new[key] = new
        self._write_values(first_old, last_new, refuse)
        # 3. records that were live before the tree come back
        for obj, rid in coming:
            meta = reg.get(obj)
            row = crm.records._row(meta, rid)
            if row is None or row["deleted_at"] is None:
                continue
            try:
                with crm.operation("restore", uop.source, uop.actor, object=obj, record_id=rid):
                    meta.model.update(deleted_at=None).where(meta.model.id == rid).execute()
                    crm.records._index_text(meta, rid)
            except Exception as exc:
                if isinstance(exc, IntegrityError):
                    raise CrmError(f"{refuse}: {meta.label.lower()} {rid} cannot come back: "
                                   f"{self._unique_taker(meta, row)}") from None
                raise
            self.records_written += 1
        # 4. links, newest change first
        self._reverse_links(refuse)
        # 5. metadata rows the tree added go, each refused while something uses it
        metadata.remove()

    def _unique_taker(self, meta, row: dict) -> str:
        """Which live record holds a unique value of `row` now, and the operation that gave it."""
        models = self.crm.models
        Operation, PropertyChange = models.Operation, models.PropertyChange
        for name, prop in meta.properties.items():
            if not prop.unique or row.get(name) is None:
                continue
            other = self.crm.db.execute_sql(
                f'SELECT id, created_op FROM "{meta.table}" WHERE "{name}" = ? AND deleted_at IS NULL AND id != ?',
                (row[name], row["id"])).fetchone()
            if other is None:
                continue
            oid, created_op = other
            last = (PropertyChange.select(PropertyChange.op).where(
                (PropertyChange.object == meta.id) & (PropertyChange.record_id == oid) & (PropertyChange.property == name))
                .order_by(PropertyChange.id.desc()).scalar())
            op_id = last or created_op or Operation.select(Operation.id).where(
                (Operation.kind == "create") & (Operation.object == meta.name) & (Operation.record_id == oid)).scalar()
            by = ""
            if op_id:
                root = self.journal._root(op_id, {})
                by = f" since operation {root.id} ({self.journal.describe(root)}); undo that first"
            return (f"{meta.label.lower()} {oid} ({self.journal._name(meta.name, oid)}) has its {prop.label.lower()} "
                    f"{row[name]}{by}")
        return f"another live {meta.label.lower()} has the same unique value"

    def _write_values(self, first_old: dict, last_new: dict, refuse: str) -> None:
        crm, uop = self.crm, self.uop
        reg = crm.registry
        groups: dict[tuple[int, str, str | None], list[int]] = {}
        history = []
        for (obj, rid, prop), old in first_old.items():
            meta = reg.by_id.get(obj)
            if meta is None or prop not in meta.properties:
                continue
            new = last_new[(obj, rid, prop)]
            if new == old:
                continue
            groups.setdefault((obj, prop, old), []).append(rid)
            history.append((uop.id, obj, rid, prop, new, old))
        if not history:
            return
        now = now_iso()
        reindex: dict[int, set[int]] = {}
        cursor = crm.db.cursor()
        for (obj, prop, old), ids in groups.items():
            meta = reg.by_id[obj]
            value = from_history_text(meta.properties[prop], old)
            ids = sorted(ids)
            for start in range(0, len(ids), 900):
                chunk = ids[start:start + 900]
                marks = ",".join("?" * len(chunk))
                try:
                    with crm.db.atomic():  # a savepoint: PostgreSQL aborts the transaction on an error
                        cursor.execute(f'UPDATE "{meta.table}" SET "{prop}" = ?, lastmodifieddate = ? WHERE id IN ({marks})',
                                       [value, now] + chunk)
                except dialect.INTEGRITY_ERRORS:
                    raise CrmError(f"{refuse}: {meta.label.lower()} {chunk[0]} cannot take back its "
                                   f"{meta.properties[prop].label.lower()}: "
                                   f"{self._unique_taker(meta, {'id': chunk[0] if len(chunk) == 1 else 0, prop: value})}"
                                   ) from None
            if prop in meta.search:
                reindex.setdefault(obj, set()).update(ids)
        cursor.executemany("INSERT INTO property_change (op_id, object, record_id, property, old_value, new_value) "
                           "VALUES (?, ?, ?, ?, ?, ?)", history)
        self.values_written += len(history)
        for obj, ids in reindex.items():
            meta = reg.by_id[obj]
            for rid in ids:
                row = crm.records._row(meta, rid)
                if row is not None and row["deleted_at"] is None:
                    crm.records._index_text(meta, rid)

    def _reverse_links(self, refuse: str) -> None:
        """The tree's link changes reversed as a few set-based statements (a merge of 40,000 links
        is undone in about the time it took).

        The tree's rows go into a scratch table; per link (the unordered pair of records) its first
        row says how it was before the tree: a link the tree created goes, a link it removed comes
        back, with the primary flag its first primary row says it had and, per label, what its
        first label row says. (The dependency check has made sure no later operation touched these
        links, so the rows are their complete story since.) The history rows written are the
        tree's rows inverted, newest first, as a row-by-row reversal would write them."""
        if not self.has_links:
            return
        crm, uop = self.crm, self.uop
        reg = crm.registry
        db = crm.db
        cursor = db.cursor()
        created = "('created', 'created_primary')"
        dialect.scratch_table(db, "undo_h", "seq INTEGER PRIMARY KEY, ao INTEGER, ai INTEGER, bo INTEGER, bi INTEGER, "
                              "action TEXT, label TEXT, inverse_label TEXT, xo INTEGER, xi INTEGER, yo INTEGER, yi INTEGER")
        cursor.execute(
            _TREE + "INSERT INTO undo_h SELECT id, a_object, a_id, b_object, b_id, action, label, inverse_label, "
            "CASE WHEN s THEN a_object ELSE b_object END, CASE WHEN s THEN a_id ELSE b_id END, "
            "CASE WHEN s THEN b_object ELSE a_object END, CASE WHEN s THEN b_id ELSE a_id END FROM (SELECT ac.*, "
            "(ac.a_object < ac.b_object OR (ac.a_object = ac.b_object AND ac.a_id <= ac.b_id)) AS s "
            "FROM association_change ac WHERE ac.op_id IN (SELECT id FROM t)) h", (self.tail.id,))
        dialect.scratch_table(db, "undo_p", "xo INTEGER, xi INTEGER, yo INTEGER, yi INTEGER, first_seq INTEGER, "
                              "prim_seq INTEGER, first TEXT, prim TEXT, fwd INTEGER, back INTEGER")
        cursor.execute(
            "INSERT INTO undo_p (xo, xi, yo, yi, first_seq, prim_seq, first, prim, fwd, back) "
            "SELECT g.xo, g.xi, g.yo, g.yi, g.fs, g.ps, f.action, p.action, (SELECT id FROM association WHERE "
            "from_object = g.xo AND from_id = g.xi AND to_object = g.yo AND to_id = g.yi), (SELECT id FROM association "
            "WHERE from_object = g.yo AND from_id = g.yi AND to_object = g.xo AND to_id = g.xi) "
            "FROM (SELECT xo, xi, yo, yi, MIN(seq) AS fs, MIN(CASE WHEN action IN ('primary_set', 'primary_removed', "
            "'created_primary') THEN seq END) AS ps FROM undo_h GROUP BY xo, xi, yo, yi) g "
            "JOIN undo_h f ON f.seq = g.fs LEFT JOIN undo_h p ON p.seq = g.ps")
        recreate = f"first NOT IN {created} AND fwd IS NULL AND back IS NULL"
        recreated = {tuple(r) for r in cursor.execute(
            f"SELECT xo, xi, yo, yi FROM undo_p WHERE {recreate}").fetchall()}
        # 1. links the tree created go (their labels with them: ON DELETE CASCADE)
        cursor.execute(f"DELETE FROM association WHERE id IN (SELECT fwd FROM undo_p WHERE first IN {created} "
                       f"AND fwd IS NOT NULL UNION ALL SELECT back FROM undo_p WHERE first IN {created} "
                       "AND back IS NOT NULL)")
        # 2. links that stay: the primary flag back to what their first primary row says it was;
        # flags come off before any goes on (here and on the links that come back in 3), as the
        # database holds at most one primary company per record at every statement
        def set_kept(value: int, actions: str) -> None:
            kept = f"first NOT IN {created} AND prim IN {actions}"
            cursor.execute(f"UPDATE association SET is_primary = ? WHERE id IN (SELECT fwd FROM undo_p WHERE "
                           f"{kept} AND fwd IS NOT NULL UNION ALL SELECT back FROM undo_p WHERE {kept} "
                           "AND back IS NOT NULL)", (value,))
        set_kept(0, "('primary_set')")
        # 3. links the tree removed come back, with the primary flag they had
        before_primary = "CASE prim WHEN 'primary_removed' THEN 1 ELSE 0 END"
        now = now_iso()
        cursor.execute(f"INSERT INTO association (from_object, from_id, to_object, to_id, is_primary, created_at) "
                       f"SELECT xo, xi, yo, yi, {before_primary}, ? FROM undo_p WHERE {recreate} UNION ALL "
                       f"SELECT yo, yi, xo, xi, {before_primary}, ? FROM undo_p WHERE {recreate}", (now, now))
        set_kept(1, "('primary_removed')")
        # 4. labels: per link and label, present before the tree when its first row removed it
        touched_from: set[tuple[int, int, int]] = set()
        for ao, ai, bo, bi in recreated:
            touched_from.update({(ao, ai, bo), (bo, bi, ao)})
        label_rows = cursor.execute(
            "SELECT h.ao, h.ai, h.bo, h.bi, h.action, h.label FROM undo_h h JOIN undo_p p ON p.xo = h.xo "
            f"AND p.xi = h.xi AND p.yo = h.yo AND p.yi = h.yi WHERE p.first NOT IN {created} "
            "AND h.action IN ('label_added', 'label_removed') AND h.label IS NOT NULL ORDER BY h.seq").fetchall()
        if label_rows:
            defs = {row[0]: row for row in cursor.execute(
                "SELECT id, from_object_id, to_object_id, name, inverse_id FROM label_def").fetchall()}
            by_name = {(fo, to, name): lid for lid, fo, to, name, _inv in defs.values()}
            first_seen: dict[tuple, bool] = {}
            for ao, ai, bo, bi, action, name in label_rows:
                label_id = by_name.get((ao, bo, name))
                if label_id is None:
                    raise CrmError(f"{refuse}: the label {name!r} no longer exists")
                first_seen.setdefault((ao, ai, bo, bi, label_id), action == "label_removed")
                if action == "label_removed":
                    touched_from.update({(ao, ai, bo), (bo, bi, ao)})
            edge_ids: dict[tuple, int | None] = {}

            def edge(key):
                if key not in edge_ids:
                    found = cursor.execute("SELECT id FROM association WHERE from_object = ? AND from_id = ? "
                                           "AND to_object = ? AND to_id = ?", key).fetchone()
                    edge_ids[key] = found[0] if found else None
                return edge_ids[key]

            on, off = [], []
            for (ao, ai, bo, bi, label_id), present in first_seen.items():
                inverse_id = defs[label_id][4]
                for key, lid in (((ao, ai, bo, bi), label_id), ((bo, bi, ao, ai), inverse_id)):
                    eid = edge(key) if lid else None
                    if eid is not None:
                        (on if present else off).append((eid, lid))
            if off:
                cursor.executemany("DELETE FROM association_label WHERE association_id = ? AND label_id = ?", off)
            if on:
                cursor.executemany("INSERT INTO association_label (association_id, label_id) VALUES (?, ?) "
                                   "ON CONFLICT DO NOTHING", on)
        # 5. history: the tree's rows inverted, newest first (a link made primary on creation loses
        # its primary flag, then the link)
        inverse = ("CASE action WHEN 'created' THEN 'removed' WHEN 'created_primary' THEN 'removed' "
                   "WHEN 'removed' THEN 'created' WHEN 'label_added' THEN 'label_removed' "
                   "WHEN 'label_removed' THEN 'label_added' WHEN 'primary_set' THEN 'primary_removed' "
                   "WHEN 'primary_removed' THEN 'primary_set' ELSE action END")
        cursor.execute(
            "INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action, label, inverse_label) "
            "SELECT ?, ao, ai, bo, bi, act, label, inverse_label FROM ("
            "SELECT seq, 0 AS sub, ao, ai, bo, bi, 'primary_removed' AS act, NULL AS label, NULL AS inverse_label "
            "FROM undo_h WHERE action = 'created_primary' UNION ALL "
            # a renamed label's row holds the new name and the old one: its inverse swaps them
            f"SELECT seq, 1, ao, ai, bo, bi, {inverse}, CASE action WHEN 'label_renamed' THEN inverse_label ELSE label END, "
            "CASE action WHEN 'label_renamed' THEN label ELSE inverse_label END FROM undo_h) u "
            "ORDER BY seq DESC, sub", (uop.id,))
        self.link_rows_written += cursor.rowcount
        # what only the result can tell: one primary company per holder, live ends, limits
        holders: set[tuple[int, int]] = set()
        companies = reg.objects.get("companies")
        if companies is not None:
            for ho, hi in cursor.execute(
                    "SELECT DISTINCT ao, ai FROM undo_h WHERE bo = ? UNION SELECT DISTINCT bo, bi "
                    "FROM undo_h WHERE ao = ?", (companies.id, companies.id)).fetchall():
                meta = reg.by_id.get(ho)
                if meta is not None and meta.has_primary_company:
                    holders.add((ho, hi))
        self._check_result(refuse, holders, recreated, touched_from)

    def _check_result(self, refuse: str, holders, recreated, touched_from) -> None:
        """What only the result can tell: one primary company, limits, links to live records."""
        models = self.crm.models
        LabelDef, PairLimit, Operation = models.LabelDef, models.PairLimit, models.Operation
        crm = self.crm
        reg = crm.registry
        cursor = crm.db.cursor()
        companies = reg.objects.get("companies")
        per_object: dict[int, list[int]] = {}
        for ho, hi in holders:
            per_object.setdefault(ho, []).append(hi)
        for ho, ids in per_object.items():
            ids.sort()
            for start in range(0, len(ids), 900):
                chunk = ids[start:start + 900]
                marks = ",".join("?" * len(chunk))
                bad = cursor.execute(
                    f"SELECT from_id, SUM(is_primary) FROM association WHERE from_object=? AND from_id IN ({marks}) "
                    "AND to_object=? GROUP BY from_id HAVING SUM(is_primary) != 1 LIMIT 1",
                    [ho] + chunk + [companies.id]).fetchone()
                if bad is not None:
                    raise CrmError(f"{refuse}: {self.journal._ref_name(ho, bad[0])} would have {bad[1]} primary "
                                   "companies; its companies changed since")
        ends: dict[int, set[int]] = {}
        for ao, ai, bo, bi in recreated:
            ends.setdefault(ao, set()).add(ai)
            ends.setdefault(bo, set()).add(bi)
        for obj, ids in ends.items():
            meta = reg.by_id[obj]
            ids = sorted(ids)
            for start in range(0, len(ids), 900):
                chunk = ids[start:start + 900]
                marks = ",".join("?" * len(chunk))
                dead = cursor.execute(f'SELECT id FROM "{meta.table}" WHERE id IN ({marks}) AND deleted_at IS NOT NULL',
                                      chunk).fetchone()
                if dead is None:
                    continue
                rid = dead[0]
                later = (Operation.select().where((Operation.object == meta.name) & (Operation.record_id == rid)
                                                  & Operation.kind.in_(["delete", "merge"]))
                         .order_by(Operation.id.desc()).first())
                by = f" by operation {self.journal._root(later.id, {}).id}" if later is not None else ""
                raise CrmError(f"{refuse}: {self.journal._ref_name(obj, rid)} was deleted since{by}; restore it first")
        limits = {(p.from_object_id, p.to_object_id): p.limit_count for p in PairLimit.select()}
        labelled = {(fo, to) for fo, to in LabelDef.select(LabelDef.from_object, LabelDef.to_object)
                    .where(LabelDef.limit_count.is_null(False)).tuples()}
        for fo, fi, to in sorted(touched_from):
            if (fo, to) not in limits and (fo, to) not in labelled:
                continue
            limit = limits.get((fo, to))
            if limit is not None:
                n = cursor.execute("SELECT COUNT(*) FROM association WHERE from_object=? AND from_id=? AND to_object=?",
                                   (fo, fi, to)).fetchone()[0]
                if n > limit:
                    raise CrmError(f"{refuse}: {self.journal._ref_name(fo, fi)} would have {n} "
                                   f"{reg.by_id[to].plural_label.lower()} (limit {limit}); links were added since")
            for label_id, name, limit_count, n in cursor.execute(
                    "SELECT d.id, d.name, d.limit_count, COUNT(*) FROM association a JOIN association_label l "
                    "ON l.association_id = a.id JOIN label_def d ON d.id = l.label_id WHERE a.from_object=? AND "
                    "a.from_id=? AND a.to_object=? AND d.limit_count IS NOT NULL GROUP BY d.id", (fo, fi, to)).fetchall():
                if n > limit_count:
                    raise CrmError(f"{refuse}: {self.journal._ref_name(fo, fi)} would have {n} links labelled "
                                   f"{name!r} (limit {limit_count}); labels were added since")
