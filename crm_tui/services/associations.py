"""Associations: labelled, bidirectional links between any two records, a primary company, limits,
and an append-only history of every change.

Storage: a link is two directed edges (a->b and b->a) written together in one transaction, each with
its labels (a label on a->b has its inverse on b->a) and the same primary flag. A label on the edge
a->b names what b is to a: contact->company "Employer" shows on the contact's company card, and the
company sees the contact as "Employee".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from operator import itemgetter

from peewee import JOIN

from ..storage import dialect
from . import rules
from ..domain import sources
from ..storage.engine import ObjectMeta
from ..domain.errors import CrmError, InvalidValue, LimitExceeded, NotFound, PrimaryRequired
from ..storage.models import Association, LabelDef
from ..domain.types import now_iso, whole_number

NO_PRIMARY = "none"


@dataclass
class LinkItem:
    object: str
    id: int
    display_name: str
    labels: list[str]
    primary: bool


@dataclass
class LinkGroup:
    object: str
    label: str  # the object's plural label
    count: int
    items: list[LinkItem]


# What each association history action means, as people read it (history screen, command line).
# created_primary: a link created as its record's primary company in one step (bulk loads write one
# row for it instead of "created" + "primary_set").
ACTION_TEXT = {
    "created": "Created",
    "created_primary": "Created as primary",
    "removed": "Removed",
    "label_added": "Label added",
    "label_removed": "Label removed",
    "label_renamed": "Label renamed",
    "primary_set": "Set as primary",
    "primary_removed": "Removed as primary",
}


@dataclass
class AssocChange:
    id: int
    at: str
    action: str  # a key of ACTION_TEXT
    source: str
    actor: str | None
    object: str  # the record whose history this is
    record_id: int
    other_object: str
    other_id: int
    other_name: str
    label: str | None
    op_id: int


@dataclass
class AutoLinks:
    linked: list[tuple[int, int]]  # (contact id, company id)
    notes: list[str]


@dataclass
class AddResult:
    created: bool
    primary: bool
    message: str
    labels_added: list[str] = field(default_factory=list)


class Associations:
    def __init__(self, crm):
        self.crm = crm

    # -- helpers --------------------------------------------------------------------------

    def _meta(self, object_name: str) -> ObjectMeta:
        return self.crm.registry.get(object_name)

    def _live(self, ref) -> tuple[ObjectMeta, int]:
        meta, rid = self._meta(ref[0]), int(ref[1])
        if not self.crm.records.exists(meta, rid, live=False):
            raise NotFound(f"no {meta.label.lower()} with id {rid}")
        if not self.crm.records.exists(meta, rid, live=True):
            raise InvalidValue(f"{meta.label.lower()} {rid} is deleted")
        return meta, rid

    def _edge(self, a_meta, a_id, b_meta, b_id) -> Association | None:
        Association = self.crm.models.Association
        return Association.get_or_none(
            (Association.from_object == a_meta.id) & (Association.from_id == a_id)
            & (Association.to_object == b_meta.id) & (Association.to_id == b_id)
        )

    def _edges(self, a_meta, a_id, b_meta, b_id) -> tuple[Association, Association] | None:
        forward = self._edge(a_meta, a_id, b_meta, b_id)
        if forward is None:
            return None
        return forward, self._edge(b_meta, b_id, a_meta, a_id)

    @staticmethod
    def _holder(a_meta, a_id, b_meta, b_id):
        """(holder meta, holder id, company id) when the link can carry a primary flag."""
        if b_meta.name == "companies" and a_meta.has_primary_company:
            return a_meta, a_id, b_id
        if a_meta.name == "companies" and b_meta.has_primary_company:
            return b_meta, b_id, a_id
        return None

    def _companies_of(self, holder_meta, holder_id) -> list[Association]:
        Association = self.crm.models.Association
        companies = self._meta("companies")
        return list(Association.select().where(
            (Association.from_object == holder_meta.id) & (Association.from_id == holder_id)
            & (Association.to_object == companies.id)
        ).order_by(Association.id))

    def _labels_on(self, edge_id: int) -> list[LabelDef]:
        models = self.crm.models
        LabelDef, AssociationLabel = models.LabelDef, models.AssociationLabel
        return list(LabelDef.select().join(AssociationLabel, on=(AssociationLabel.label == LabelDef.id))
                    .where(AssociationLabel.association == edge_id).order_by(LabelDef.name))

    def _log(self, op, a_meta, a_id, b_meta, b_id, action, label: LabelDef | None = None) -> None:
        models = self.crm.models
        LabelDef, AssociationChange = models.LabelDef, models.AssociationChange
        inverse = None
        if label is not None and label.inverse_id:
            inverse = LabelDef.get_by_id(label.inverse_id).name
        AssociationChange.create(op=op.id, a_object=a_meta.id, a_id=a_id, b_object=b_meta.id, b_id=b_id,
                                 action=action, label=label.name if label else None, inverse_label=inverse)

    def _set_primary_flag(self, holder_meta, holder_id, company_id, value: bool) -> None:
        Association = self.crm.models.Association
        companies = self._meta("companies")
        Association.update(is_primary=value).where(
            ((Association.from_object == holder_meta.id) & (Association.from_id == holder_id)
             & (Association.to_object == companies.id) & (Association.to_id == company_id))
            | ((Association.from_object == companies.id) & (Association.from_id == company_id)
               & (Association.to_object == holder_meta.id) & (Association.to_id == holder_id))
        ).execute()

    def _resolve_labels(self, a_meta, b_meta, names) -> list[LabelDef]:
        return [self.crm.registry.find_label(a_meta, b_meta, name) for name in dict.fromkeys(names or [])]

    # -- limits ---------------------------------------------------------------------------

    def _check_pair_limit(self, from_meta, from_id, to_meta) -> None:
        models = self.crm.models
        PairLimit, Association = models.PairLimit, models.Association
        limit = PairLimit.get_or_none((PairLimit.from_object == from_meta.id) & (PairLimit.to_object == to_meta.id))
        if limit is None:
            return
        count = Association.select().where(
            (Association.from_object == from_meta.id) & (Association.from_id == from_id)
            & (Association.to_object == to_meta.id)
        ).count()
        if count >= limit.limit_count:
            raise LimitExceeded(
                f"limit reached: a {from_meta.label.lower()} may be associated with at most {limit.limit_count} "
                f"{to_meta.plural_label.lower()} ({from_meta.label.lower()} {from_id} has {count})"
            )

    def _check_label_limit(self, label: LabelDef, from_meta, from_id) -> None:
        models = self.crm.models
        Association, AssociationLabel = models.Association, models.AssociationLabel
        if not label.limit_count:
            return
        count = (AssociationLabel.select().join(Association, on=(AssociationLabel.association == Association.id))
                 .where((AssociationLabel.label == label.id) & (Association.from_object == from_meta.id)
                        & (Association.from_id == from_id)).count())
        if count >= label.limit_count:
            to_meta = self.crm.registry.by_id[label.to_object_id]
            raise LimitExceeded(
                f"limit reached: a {from_meta.label.lower()} may have at most {label.limit_count} "
                f"\"{label.name}\" {to_meta.plural_label.lower() if label.limit_count != 1 else to_meta.label.lower()} "
                f"({from_meta.label.lower()} {from_id} has {count})"
            )

    def _attach_label(self, op, a_meta, a_id, b_meta, b_id, edges, label: LabelDef) -> bool:
        models = self.crm.models
        LabelDef, AssociationLabel = models.LabelDef, models.AssociationLabel
        forward, backward = edges
        if AssociationLabel.get_or_none((AssociationLabel.association == forward.id) & (AssociationLabel.label == label.id)):
            return False
        self._check_label_limit(label, a_meta, a_id)
        inverse = LabelDef.get_by_id(label.inverse_id) if label.inverse_id else None
        if inverse is not None:
            self._check_label_limit(inverse, b_meta, b_id)
        AssociationLabel.create(association=forward.id, label=label.id)
        if inverse is not None:
            AssociationLabel.insert(association=backward.id, label=inverse.id).on_conflict_ignore().execute()
        self._log(op, a_meta, a_id, b_meta, b_id, "label_added", label)
        return True

    # -- changing links --------------------------------------------------------------------

    def add(self, a, b, *, labels=(), primary: bool | str = False, source: str = sources.API,
            actor: str | None = None) -> AddResult:
        """Link a and b (or add labels to an existing link). `primary=True` makes the company primary,
        replacing the current primary; the first company linked becomes primary anyway."""
        with self.crm.operation("associate", source, actor, object=a[0], record_id=int(a[1])) as op:
            return self._add(op, a, b, labels, primary)

    def add_many(self, a, others, *, labels=(), primary: bool | str = False, source: str = sources.API,
                 actor: str | None = None) -> list[AddResult]:
        """Link `a` with each record of `others` as one operation, in one transaction: all the links
        are made or none is. A refusal names the record it was refused for and says nothing was kept."""
        others = [(str(o), int(i)) for o, i in others]
        with self.crm.operation("associate", source, actor, object=a[0], record_id=int(a[1]),
                                summary={"count": len(others)}) as op:
            results = []
            for index, b in enumerate(others):
                try:
                    results.append(self._add(op, a, b, labels, primary and index == 0))
                except CrmError as exc:
                    b_meta = self._meta(b[0])
                    name = self.crm.records.display_names(b_meta, [b[1]]).get(b[1]) or f"#{b[1]}"
                    kept = "" if len(others) == 1 else f"; none of the {len(others)} links was made"
                    message = f"{b_meta.label.lower()} {name}: {str(exc).splitlines()[0]}{kept}"
                    raise (type(exc) if type(exc) in (InvalidValue, LimitExceeded, NotFound) else CrmError)(message) from None
        return results

    def _add(self, op, a, b, labels=(), primary=False) -> AddResult:
        Association = self.crm.models.Association
        a_meta, a_id = self._live(a)
        b_meta, b_id = self._live(b)
        if a_meta.id == b_meta.id and a_id == b_id:
            raise InvalidValue("a record cannot be associated with itself")
        label_defs = self._resolve_labels(a_meta, b_meta, labels)
        holder = self._holder(a_meta, a_id, b_meta, b_id)
        if primary and holder is None:
            raise InvalidValue("primary applies only to companies associated with a contact, deal, ticket or custom record")
        edges = self._edges(a_meta, a_id, b_meta, b_id)
        created = edges is None
        if created:
            self._check_pair_limit(a_meta, a_id, b_meta)
            self._check_pair_limit(b_meta, b_id, a_meta)
            had_companies = bool(holder) and bool(self._companies_of(holder[0], holder[1]))
            now = now_iso()
            forward = Association.create(from_object=a_meta.id, from_id=a_id, to_object=b_meta.id, to_id=b_id, created_at=now)
            backward = Association.create(from_object=b_meta.id, from_id=b_id, to_object=a_meta.id, to_id=a_id, created_at=now)
            edges = (forward, backward)
            self._log(op, a_meta, a_id, b_meta, b_id, "created")
            if holder and not had_companies:
                primary = True  # the first company linked becomes primary
        added = [label.name for label in label_defs if self._attach_label(op, a_meta, a_id, b_meta, b_id, edges, label)]
        made_primary = False
        if primary and holder and not edges[0].is_primary:
            self._make_primary(op, holder[0], holder[1], holder[2])
            made_primary = True
        automation_notes = rules.after_link(self.crm, a_meta, a_id, b_meta, b_id, op) if created else []
        if created:
            automation_notes += self.crm.workflows.after_link(a_meta, a_id, b_meta, b_id)
        b_name = self.crm.records.display_names(b_meta, [b_id]).get(b_id, str(b_id))
        parts = []
        if created:
            parts.append(f"associated {a_meta.label.lower()} {a_id} with {b_meta.label.lower()} {b_id} ({b_name})")
        if added:
            parts.append(f"labels added: {', '.join(added)}")
        if made_primary:
            parts.append("primary company" if created else f"{b_name if b_meta.name == 'companies' else 'company'} is now primary")
        if not parts:
            parts.append(f"{a_meta.label.lower()} {a_id} and {b_meta.label.lower()} {b_id} are already associated")
        parts += automation_notes
        return AddResult(created, made_primary or bool(edges[0].is_primary and created), "; ".join(parts), added)

    def _make_primary(self, op, holder_meta, holder_id, company_id) -> None:
        companies = self._meta("companies")
        for edge in self._companies_of(holder_meta, holder_id):
            if edge.is_primary and edge.to_id != company_id:
                self._set_primary_flag(holder_meta, holder_id, edge.to_id, False)
                self._log(op, holder_meta, holder_id, companies, edge.to_id, "primary_removed")
        self._set_primary_flag(holder_meta, holder_id, company_id, True)
        self._log(op, holder_meta, holder_id, companies, company_id, "primary_set")

    def remove(self, a, b, *, new_primary: int | str | None = None, source: str = sources.API,
               actor: str | None = None) -> str:
        """Unlink a and b. Removing a primary company while others remain needs `new_primary`."""
        with self.crm.operation("unassociate", source, actor, object=a[0], record_id=int(a[1])) as op:
            a_meta, a_id = self._meta(a[0]), int(a[1])
            b_meta, b_id = self._meta(b[0]), int(b[1])
            edges = self._edges(a_meta, a_id, b_meta, b_id)
            if edges is None:
                raise NotFound(f"{a_meta.label.lower()} {a_id} and {b_meta.label.lower()} {b_id} are not associated")
            holder = self._holder(a_meta, a_id, b_meta, b_id)
            successor = None
            if holder and edges[0].is_primary:
                successor = self._choose_successor(holder, new_primary, action="remove the association of")
            self._remove_link(op, a_meta, a_id, b_meta, b_id, edges)
            if successor is not None:
                self._make_primary(op, holder[0], holder[1], successor)
        return f"removed the association of {a_meta.label.lower()} {a_id} and {b_meta.label.lower()} {b_id}" + (
            f"; company {successor} is now primary" if successor else "")

    def _choose_successor(self, holder, new_primary, action: str) -> int | None:
        holder_meta, holder_id, company_id = holder
        others = [e.to_id for e in self._companies_of(holder_meta, holder_id) if e.to_id != company_id]
        if not others:
            if new_primary not in (None, NO_PRIMARY):
                raise InvalidValue(f"company {new_primary} is not associated with {holder_meta.label.lower()} {holder_id}")
            return None
        if new_primary in (None, NO_PRIMARY):
            names = self.crm.records.display_names(self._meta("companies"), others + [company_id])
            holder_name = self.crm.records.display_names(holder_meta, [holder_id]).get(holder_id, "")
            choices = ", ".join(f"{cid} ({names.get(cid, '?')})" for cid in others)
            raise PrimaryRequired(
                f"{names.get(company_id, 'the company')} (company {company_id}) is the primary company of "
                f"{holder_name} ({holder_meta.label.lower()} {holder_id}): to {action} it, "
                f"choose the new primary among {choices}",
                [(cid, names.get(cid, "")) for cid in others],
            )
        try:
            chosen = int(new_primary)
        except (TypeError, ValueError):
            raise InvalidValue(f"new primary must be a company id, got {new_primary!r}") from None
        if chosen not in others:
            raise InvalidValue(f"company {chosen} is not another company associated with {holder_meta.label.lower()} {holder_id}")
        return chosen

    def _remove_link(self, op, a_meta, a_id, b_meta, b_id, edges) -> None:
        Association = self.crm.models.Association
        forward, backward = edges
        for label in self._labels_on(forward.id):
            self._log(op, a_meta, a_id, b_meta, b_id, "label_removed", label)
        if forward.is_primary:
            holder = self._holder(a_meta, a_id, b_meta, b_id)
            companies = self._meta("companies")
            self._log(op, holder[0], holder[1], companies, holder[2], "primary_removed")
        Association.delete().where(Association.id.in_([forward.id, backward.id])).execute()
        self._log(op, a_meta, a_id, b_meta, b_id, "removed")

    def set_primary(self, holder, company_id: int, *, source: str = sources.API, actor: str | None = None) -> str:
        with self.crm.operation("set_primary", source, actor, object=holder[0], record_id=int(holder[1])) as op:
            h_meta, h_id = self._live(holder)
            companies = self._meta("companies")
            if not h_meta.has_primary_company:
                raise InvalidValue(f"{h_meta.plural_label.lower()} have no primary company")
            edge = self._edge(h_meta, h_id, companies, int(company_id))
            if edge is None:
                raise NotFound(f"company {company_id} is not associated with {h_meta.label.lower()} {h_id}")
            if edge.is_primary:
                return f"company {company_id} is already primary"
            self._make_primary(op, h_meta, h_id, int(company_id))
        return f"company {company_id} is now the primary company of {h_meta.label.lower()} {h_id}"

    def remove_primary(self, holder, company_id: int, *, new_primary: int | str | None = None,
                       source: str = sources.API, actor: str | None = None) -> str:
        with self.crm.operation("remove_primary", source, actor, object=holder[0], record_id=int(holder[1])) as op:
            h_meta, h_id = self._live(holder)
            companies = self._meta("companies")
            edge = self._edge(h_meta, h_id, companies, int(company_id))
            if edge is None or not edge.is_primary:
                raise InvalidValue(f"company {company_id} is not the primary company of {h_meta.label.lower()} {h_id}")
            successor = self._choose_successor((h_meta, h_id, int(company_id)), new_primary, action="remove as primary")
            if successor is None:
                raise InvalidValue(
                    f"company {company_id} is the only company of {h_meta.label.lower()} {h_id} and stays primary; "
                    "remove the association instead")
            self._make_primary(op, h_meta, h_id, successor)
        return f"company {successor} is now the primary company of {h_meta.label.lower()} {h_id}"

    def add_label(self, a, b, label: str, *, source: str = sources.API, actor: str | None = None) -> str:
        with self.crm.operation("label", source, actor, object=a[0], record_id=int(a[1])) as op:
            a_meta, a_id = self._live(a)
            b_meta, b_id = self._live(b)
            edges = self._edges(a_meta, a_id, b_meta, b_id)
            if edges is None:
                raise NotFound(f"{a_meta.label.lower()} {a_id} and {b_meta.label.lower()} {b_id} are not associated")
            label_def = self.crm.registry.find_label(a_meta, b_meta, label)
            if not self._attach_label(op, a_meta, a_id, b_meta, b_id, edges, label_def):
                return f"the association already has the label {label_def.name!r}"
        return f"label {label_def.name!r} added"

    def remove_label(self, a, b, label: str, *, source: str = sources.API, actor: str | None = None) -> str:
        with self.crm.operation("label", source, actor, object=a[0], record_id=int(a[1])) as op:
            a_meta, a_id = self._meta(a[0]), int(a[1])
            b_meta, b_id = self._meta(b[0]), int(b[1])
            edges = self._edges(a_meta, a_id, b_meta, b_id)
            if edges is None:
                raise NotFound(f"{a_meta.label.lower()} {a_id} and {b_meta.label.lower()} {b_id} are not associated")
            label_def = self.crm.registry.find_label(a_meta, b_meta, label)
            if not self._detach_label(op, a_meta, a_id, b_meta, b_id, edges, label_def):
                return f"the association has no label {label_def.name!r}"
        return f"label {label_def.name!r} removed"

    def _detach_label(self, op, a_meta, a_id, b_meta, b_id, edges, label: LabelDef) -> bool:
        AssociationLabel = self.crm.models.AssociationLabel
        deleted = AssociationLabel.delete().where(
            (AssociationLabel.association == edges[0].id) & (AssociationLabel.label == label.id)).execute()
        if not deleted:
            return False
        if label.inverse_id and edges[1] is not None:
            AssociationLabel.delete().where((AssociationLabel.association == edges[1].id)
                                            & (AssociationLabel.label == label.inverse_id)).execute()
        self._log(op, a_meta, a_id, b_meta, b_id, "label_removed", label)
        return True

    def set_labels(self, a, b, labels, *, source: str = sources.API, actor: str | None = None) -> str:
        """Make the link carry exactly `labels` (as seen from a): one operation for the edit dialog."""
        with self.crm.operation("label", source, actor, object=a[0], record_id=int(a[1])):
            a_meta, b_meta = self._meta(a[0]), self._meta(b[0])
            edges = self._edges(a_meta, int(a[1]), b_meta, int(b[1]))
            if edges is None:
                raise NotFound(f"{a_meta.label.lower()} {a[1]} and {b_meta.label.lower()} {b[1]} are not associated")
            current = {label.name for label in self._labels_on(edges[0].id)}
            wanted = {self.crm.registry.find_label(a_meta, b_meta, name).name for name in labels}
            for name in sorted(current - wanted):
                self.remove_label(a, b, name, source=source, actor=actor)
            for name in sorted(wanted - current):
                self.add_label(a, b, name, source=source, actor=actor)
        return f"labels: {', '.join(sorted(wanted)) or '(none)'}"

    # -- reversing (import undo) -------------------------------------------------------------

    def reverse_changes(self, op, changes) -> tuple[int, int]:
        """Undo association history rows (AssociationChange, newest first) through the service:
        links made are removed with their labels and primary flag, links removed come back (within
        the limits that hold now) and get their labels and primary flag back from the rows that
        follow, labels and primary flags go back. Every holder touched ends with exactly one primary
        company when it has companies. Returns (links removed, links restored)."""
        reg = self.crm.registry
        companies = reg.objects.get("companies")
        removed = restored = 0
        holders: set[tuple[int, int]] = set()
        for ch in changes:
            a_meta, b_meta = reg.by_id[ch.a_object], reg.by_id[ch.b_object]
            a_id, b_id = ch.a_id, ch.b_id
            holder = self._holder(a_meta, a_id, b_meta, b_id)
            if holder is not None:
                holders.add((holder[0].id, holder[1]))
            edges = self._edges(a_meta, a_id, b_meta, b_id)
            if ch.action in ("created", "created_primary"):
                if edges is not None:
                    self._remove_link(op, a_meta, a_id, b_meta, b_id, edges)
                    removed += 1
            elif ch.action == "removed":
                if edges is None and self.crm.records.exists(a_meta, a_id) and self.crm.records.exists(b_meta, b_id):
                    self._add(op, (a_meta.name, a_id), (b_meta.name, b_id))
                    restored += 1
            elif ch.action in ("label_added", "label_removed"):
                if edges is None or not ch.label:
                    continue
                try:
                    label = reg.find_label(a_meta, b_meta, ch.label)
                except NotFound:
                    continue
                if ch.action == "label_added":
                    self._detach_label(op, a_meta, a_id, b_meta, b_id, edges, label)
                else:
                    self._attach_label(op, a_meta, a_id, b_meta, b_id, edges, label)
            elif ch.action in ("primary_set", "primary_removed") and edges is not None and holder is not None:
                h_meta, h_id, company_id = holder
                if ch.action == "primary_set" and edges[0].is_primary:
                    self._set_primary_flag(h_meta, h_id, company_id, False)
                    self._log(op, h_meta, h_id, companies, company_id, "primary_removed")
                elif ch.action == "primary_removed" and not edges[0].is_primary:
                    self._make_primary(op, h_meta, h_id, company_id)
        self.ensure_primary(op, holders)
        return removed, restored

    def remove_links_of(self, op, meta: ObjectMeta, ids) -> int:
        """Remove every link of the records `ids` of one object (records going for good: an import's
        undo) per batch of records: the history is as link by link (labels, primary flag, the link;
        a link between two of them once), and a record that loses its primary company gets its
        oldest remaining one. Returns the links removed."""
        models = self.crm.models
        Association, AssociationLabel, LabelDef, AssociationChange = (
            models.Association, models.AssociationLabel, models.LabelDef, models.AssociationChange)
        reg = self.crm.registry
        companies = reg.objects.get("companies")
        comp = companies.id if companies is not None else -1
        ids = set(int(i) for i in ids)
        holders: set[tuple[int, int]] = set()
        removed = 0
        id_list = sorted(ids)
        for start in range(0, len(id_list), 900):
            chunk = id_list[start:start + 900]
            edges = [e for e in Association.select(Association.id, Association.from_id, Association.to_object,
                                                   Association.to_id, Association.is_primary)
                     .where((Association.from_object == meta.id) & Association.from_id.in_(chunk)).tuples()
                     if not (e[2] == meta.id and e[3] in ids and e[3] < e[1])]  # between two of them: once
            labels: dict[int, list[tuple[str, str | None]]] = {}
            edge_ids = [e[0] for e in edges]
            Inverse = LabelDef.alias()
            for at in range(0, len(edge_ids), 900):
                for edge_id, name, inverse in (AssociationLabel.select(AssociationLabel.association, LabelDef.name, Inverse.name)
                                               .join(LabelDef, on=(AssociationLabel.label == LabelDef.id))
                                               .join(Inverse, JOIN.LEFT_OUTER, on=(LabelDef.inverse == Inverse.id))
                                               .where(AssociationLabel.association.in_(edge_ids[at:at + 900]))
                                               .order_by(AssociationLabel.association, LabelDef.name).tuples()):
                    labels.setdefault(edge_id, []).append((name, inverse))
            log = []
            for edge_id, from_id, to_object, to_id, prim in edges:
                for name, inverse in labels.get(edge_id, ()):
                    log.append((op.id, meta.id, from_id, to_object, to_id, "label_removed", name, inverse))
                if prim:
                    if to_object == comp:
                        log.append((op.id, meta.id, from_id, comp, to_id, "primary_removed", None, None))
                    elif meta.id == comp:
                        log.append((op.id, to_object, to_id, comp, from_id, "primary_removed", None, None))
                        holders.add((to_object, to_id))
                log.append((op.id, meta.id, from_id, to_object, to_id, "removed", None, None))
            fields = [AssociationChange.op, AssociationChange.a_object, AssociationChange.a_id, AssociationChange.b_object,
                      AssociationChange.b_id, AssociationChange.action, AssociationChange.label,
                      AssociationChange.inverse_label]
            for at in range(0, len(log), 500):
                AssociationChange.insert_many(log[at:at + 500], fields=fields).execute()
            Association.delete().where(((Association.from_object == meta.id) & Association.from_id.in_(chunk))
                                       | ((Association.to_object == meta.id) & Association.to_id.in_(chunk))).execute()
            removed += len(edges)
        self.ensure_primary(op, {h for h in holders if not (h[0] == meta.id and h[1] in ids)})
        return removed

    def ensure_primary(self, op, holders) -> int:
        """Each record of `holders` ((object id, record id)) that has companies but no primary one
        gets its oldest company as primary (history: "primary_set"). Returns how many did."""
        Association = self.crm.models.Association
        companies = self.crm.registry.objects.get("companies")
        if companies is None or not holders:
            return 0
        by_object: dict[int, list[int]] = {}
        for h_obj, h_id in holders:
            by_object.setdefault(h_obj, []).append(h_id)
        made = 0
        for h_obj, ids in by_object.items():
            h_meta = self.crm.registry.by_id[h_obj]
            ids.sort()
            for start in range(0, len(ids), 900):
                first: dict[int, int] = {}
                with_primary: set[int] = set()
                for from_id, to_id, prim in (Association.select(Association.from_id, Association.to_id, Association.is_primary)
                                             .where((Association.from_object == h_obj) & Association.from_id.in_(ids[start:start + 900])
                                                    & (Association.to_object == companies.id))
                                             .order_by(Association.id).tuples()):
                    first.setdefault(from_id, to_id)
                    if prim:
                        with_primary.add(from_id)
                for h_id, company_id in first.items():
                    if h_id not in with_primary:
                        self._set_primary_flag(h_meta, h_id, company_id, True)
                        self._log(op, h_meta, h_id, companies, company_id, "primary_set")
                        made += 1
        return made

    # -- cascades --------------------------------------------------------------------------

    def remove_all_for_deletion(self, meta: ObjectMeta, record_id: int, parent_op) -> int:
        """Remove every link of a record being deleted (source Object deletion), remembering them
        in the operation so that a restore brings exactly these back.

        Set-based (a company with tens of thousands of contacts is one handful of statements): the
        history is the same as link by link, labels, primary flag and "removed" for each link; a
        record that loses its primary company gets its oldest remaining one as primary."""
        db = self.crm.db
        M, R = meta.id, int(record_id)
        if not db.execute_sql("SELECT 1 FROM association WHERE from_object = ? AND from_id = ? LIMIT 1", (M, R)).fetchone():
            return 0
        companies = self.crm.registry.objects.get("companies")
        comp = companies.id if companies is not None else -1
        sql = db.execute_sql
        with self.crm.operation("delete_links", sources.OBJECT_DELETION, None, object=meta.name, record_id=R) as op:
            dialect.scratch_table(db, "del_edges", "fwd INTEGER, tobj INTEGER, tid INTEGER, prim INTEGER, back INTEGER")
            sql("INSERT INTO del_edges SELECT a.id AS fwd, a.to_object AS tobj, a.to_id AS tid, "
                "a.is_primary AS prim, (SELECT b.id FROM association b WHERE b.from_object = a.to_object "
                "AND b.from_id = a.to_id AND b.to_object = a.from_object AND b.to_id = a.from_id) AS back "
                "FROM association a WHERE a.from_object = ? AND a.from_id = ?", (M, R))
            try:
                by_id = self.crm.registry.by_id
                saved = [{"object": by_id[tobj].name, "id": tid, "primary": bool(prim),
                          "labels": [int(x) for x in labels.split(",")] if labels else []}
                         for tobj, tid, prim, labels in sql(
                             f"SELECT m.tobj, m.tid, m.prim, (SELECT {dialect.group_concat(db, 'l.label_id')} FROM association_label l "
                             "WHERE l.association_id = m.fwd) FROM del_edges m ORDER BY m.fwd").fetchall()]
                sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action, label, inverse_label) "
                    "SELECT ?, ?, ?, m.tobj, m.tid, 'label_removed', d.name, inv.name FROM del_edges m "
                    "JOIN association_label l ON l.association_id = m.fwd JOIN label_def d ON d.id = l.label_id "
                    "LEFT JOIN label_def inv ON inv.id = d.inverse_id ORDER BY m.fwd, d.name", (op.id, M, R))
                if meta.has_primary_company:
                    sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                        "SELECT ?, ?, ?, tobj, tid, 'primary_removed' FROM del_edges WHERE prim = 1 AND tobj = ? "
                        "ORDER BY fwd", (op.id, M, R, comp))
                elif M == comp:
                    sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                        "SELECT ?, tobj, tid, ?, ?, 'primary_removed' FROM del_edges WHERE prim = 1 ORDER BY fwd",
                        (op.id, M, R))
                sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                    "SELECT ?, ?, ?, tobj, tid, 'removed' FROM del_edges ORDER BY fwd", (op.id, M, R))
                sql("DELETE FROM association WHERE id IN (SELECT fwd FROM del_edges UNION SELECT back FROM del_edges)")
                if M == comp:
                    # Keep "exactly one primary": a holder that lost its primary company gets its oldest one.
                    dialect.scratch_table(db, "del_next", "fwd INTEGER, hobj INTEGER, hid INTEGER, edge INTEGER")
                    sql("INSERT INTO del_next SELECT m.fwd AS fwd, m.tobj AS hobj, m.tid AS hid, "
                        "(SELECT a.id FROM association a WHERE a.from_object = m.tobj AND a.from_id = m.tid "
                        "AND a.to_object = ? ORDER BY a.id LIMIT 1) AS edge FROM del_edges m WHERE m.prim = 1", (comp,))
                    sql("UPDATE association SET is_primary = 1 WHERE id IN (SELECT edge FROM del_next UNION "
                        "SELECT b.id FROM del_next n JOIN association a ON a.id = n.edge JOIN association b "
                        "ON b.from_object = a.to_object AND b.from_id = a.to_id AND b.to_object = a.from_object "
                        "AND b.to_id = a.from_id)")
                    sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                        "SELECT ?, n.hobj, n.hid, a.to_object, a.to_id, 'primary_set' FROM del_next n "
                        "JOIN association a ON a.id = n.edge ORDER BY n.fwd", (op.id,))
                    sql("DELETE FROM del_next")
            finally:
                sql("DELETE FROM del_edges")
            op.summary = json.dumps({"links": saved})
            op.save()
        return len(saved)

    def restore_after_deletion(self, meta: ObjectMeta, record_id: int, parent_op) -> int:
        """Bring back the links the record's last deletion removed (source Object restore): to
        records still live, not linked again since, within the limits that hold now. The links that
        were primary are primary again. Set-based unless a limit applies to one of the object pairs."""
        models = self.crm.models
        LabelDef, PairLimit, Operation = models.LabelDef, models.PairLimit, models.Operation
        deletion = (Operation.select().where((Operation.kind == "delete_links") & (Operation.object == meta.name)
                                             & (Operation.record_id == record_id)).order_by(Operation.id.desc()).first())
        if deletion is None:
            return 0
        saved = json.loads(deletion.summary).get("links", [])
        if not saved:
            return 0
        reg = self.crm.registry
        pairs = set()
        for link in saved:
            other = reg.objects.get(link["object"])
            if other is not None:
                pairs.update({(meta.id, other.id), (other.id, meta.id)})
        limited = any((p.from_object_id, p.to_object_id) in pairs for p in PairLimit.select()) or any(
            (fo, to) in pairs for fo, to in LabelDef.select(LabelDef.from_object, LabelDef.to_object)
            .where(LabelDef.limit_count.is_null(False)).tuples())
        with self.crm.operation("restore_links", sources.OBJECT_RESTORE, None, object=meta.name, record_id=record_id) as op:
            if limited:
                return self._restore_one_by_one(op, meta, record_id, saved)
            return self._restore_set_based(op, meta, int(record_id), saved)

    def _restore_one_by_one(self, op, meta, record_id, saved) -> int:
        LabelDef = self.crm.models.LabelDef
        restored = 0
        for link in saved:
            other = self.crm.registry.objects.get(link["object"])
            if other is None or not self.crm.records.exists(other, link["id"], live=True):
                continue
            if self._edge(meta, record_id, other, link["id"]) is not None:
                continue
            labels = [l.name for l in LabelDef.select().where(LabelDef.id.in_(link["labels"] or [0]))]
            try:
                self._add(op, (meta.name, record_id), (other.name, link["id"]), labels, primary=link["primary"])
            except (LimitExceeded, NotFound, InvalidValue):
                continue  # a limit reached since then: that link stays removed
            restored += 1
        return restored

    def _restore_set_based(self, op, meta, R, saved) -> int:
        db = self.crm.db
        reg = self.crm.registry
        sql = db.execute_sql
        M = meta.id
        companies = reg.objects.get("companies")
        comp = companies.id if companies is not None else -1
        dialect.scratch_table(db, "res_links", "pos INTEGER PRIMARY KEY, tobj INTEGER, tid INTEGER, prim INTEGER")
        dialect.scratch_table(db, "res_labels", "tobj INTEGER, tid INTEGER, label_id INTEGER")
        try:
            rows, labels = [], []
            for pos, link in enumerate(saved):
                other = reg.objects.get(link["object"])
                if other is None:
                    continue
                rows.append((pos, other.id, int(link["id"]), int(bool(link["primary"]))))
                labels += [(other.id, int(link["id"]), int(lid)) for lid in link.get("labels") or []]
            cursor = db.cursor()
            cursor.executemany("INSERT INTO res_links VALUES (?, ?, ?, ?)", rows)
            cursor.executemany("INSERT INTO res_labels VALUES (?, ?, ?)", labels)
            # only to records still live, and not linked again since
            for obj in {r[1] for r in rows}:
                table = reg.by_id[obj].table
                sql(f'DELETE FROM res_links WHERE tobj = ? AND tid NOT IN (SELECT id FROM "{table}" '
                    "WHERE deleted_at IS NULL AND id IN (SELECT tid FROM res_links WHERE tobj = ?))", (obj, obj))
            sql("DELETE FROM res_links WHERE EXISTS (SELECT 1 FROM association a WHERE a.from_object = ? "
                "AND a.from_id = ? AND a.to_object = res_links.tobj AND a.to_id = res_links.tid)", (M, R))
            sql("DELETE FROM res_links WHERE tobj = ? AND tid = ?", (M, R))
            restored = sql("SELECT COUNT(*) FROM res_links").fetchone()[0]
            if not restored:
                return 0
            now = now_iso()
            sql("INSERT INTO association (from_object, from_id, to_object, to_id, is_primary, created_at) "
                "SELECT ?, ?, tobj, tid, 0, ? FROM res_links ORDER BY pos", (M, R, now))
            sql("INSERT INTO association (from_object, from_id, to_object, to_id, is_primary, created_at) "
                "SELECT tobj, tid, ?, ?, 0, ? FROM res_links ORDER BY pos", (M, R, now))
            sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                "SELECT ?, ?, ?, tobj, tid, 'created' FROM res_links ORDER BY pos", (op.id, M, R))
            # labels (those still defined), with their inverse on the other edge
            sql("INSERT INTO association_label (association_id, label_id) SELECT a.id, d.id "
                "FROM res_labels rl JOIN res_links r ON r.tobj = rl.tobj AND r.tid = rl.tid "
                "JOIN label_def d ON d.id = rl.label_id AND d.from_object_id = ? AND d.to_object_id = rl.tobj "
                "JOIN association a ON a.from_object = ? AND a.from_id = ? AND a.to_object = rl.tobj AND a.to_id = rl.tid "
                "WHERE 1 = 1 ON CONFLICT DO NOTHING", (M, M, R))
            sql("INSERT INTO association_label (association_id, label_id) SELECT b.id, d.inverse_id "
                "FROM res_labels rl JOIN res_links r ON r.tobj = rl.tobj AND r.tid = rl.tid "
                "JOIN label_def d ON d.id = rl.label_id AND d.from_object_id = ? AND d.to_object_id = rl.tobj "
                "JOIN association b ON b.from_object = rl.tobj AND b.from_id = rl.tid AND b.to_object = ? AND b.to_id = ? "
                "WHERE d.inverse_id IS NOT NULL ON CONFLICT DO NOTHING", (M, M, R))
            sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action, label, inverse_label) "
                "SELECT ?, ?, ?, rl.tobj, rl.tid, 'label_added', d.name, inv.name FROM res_labels rl "
                "JOIN res_links r ON r.tobj = rl.tobj AND r.tid = rl.tid "
                "JOIN label_def d ON d.id = rl.label_id AND d.from_object_id = ? AND d.to_object_id = rl.tobj "
                "LEFT JOIN label_def inv ON inv.id = d.inverse_id ORDER BY r.pos, d.name", (op.id, M, R, M))
            # primary companies: the links that were primary are primary again; a record whose only
            # companies are the restored ones gets its first as primary
            if meta.has_primary_company and companies is not None:
                wanted = sql("SELECT tid FROM res_links WHERE tobj = ? ORDER BY prim DESC, pos LIMIT 1", (comp,)).fetchone()
                current = self.primary_company((meta.name, R))
                prim_saved = sql("SELECT tid FROM res_links WHERE tobj = ? AND prim = 1", (comp,)).fetchone()
                if wanted is not None and (current is None or prim_saved is not None):
                    self._make_primary(op, meta, R, (prim_saved or wanted)[0])
            elif M == comp:
                # holders whose saved link was primary: their current primary is demoted
                dialect.scratch_table(db, "res_holders", "hobj INTEGER, hid INTEGER, pos INTEGER, old INTEGER")
                sql("INSERT INTO res_holders SELECT r.tobj AS hobj, r.tid AS hid, r.pos AS pos, "
                    "(SELECT a.to_id FROM association a WHERE a.from_object = r.tobj AND a.from_id = r.tid "
                    "AND a.to_object = ? AND a.is_primary = 1) AS old FROM res_links r JOIN object_type o ON o.id = r.tobj "
                    "WHERE r.prim = 1 OR NOT EXISTS (SELECT 1 FROM association a WHERE a.from_object = r.tobj "
                    "AND a.from_id = r.tid AND a.to_object = ? AND a.to_id != ?)", (comp, comp, R))
                holder_objects = {m.id for m in reg.objects.values() if m.has_primary_company}
                sql(f"DELETE FROM res_holders WHERE hobj NOT IN ({','.join(str(i) for i in holder_objects) or '0'})")
                sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                    "SELECT ?, hobj, hid, ?, old, 'primary_removed' FROM res_holders WHERE old IS NOT NULL ORDER BY pos",
                    (op.id, comp))
                sql("UPDATE association SET is_primary = 0 WHERE id IN (SELECT a.id FROM res_holders h JOIN association a "
                    "ON a.from_object = h.hobj AND a.from_id = h.hid AND a.to_object = ? AND a.to_id = h.old "
                    "UNION SELECT a.id FROM res_holders h JOIN association a ON a.from_object = ? AND a.from_id = h.old "
                    "AND a.to_object = h.hobj AND a.to_id = h.hid)", (comp, comp))
                sql("UPDATE association SET is_primary = 1 WHERE id IN (SELECT a.id FROM res_holders h JOIN association a "
                    "ON a.from_object = h.hobj AND a.from_id = h.hid AND a.to_object = ? AND a.to_id = ? "
                    "UNION SELECT a.id FROM res_holders h JOIN association a ON a.from_object = ? AND a.from_id = ? "
                    "AND a.to_object = h.hobj AND a.to_id = h.hid)", (comp, R, comp, R))
                sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                    "SELECT ?, hobj, hid, ?, ?, 'primary_set' FROM res_holders ORDER BY pos", (op.id, comp, R))
                sql("DELETE FROM res_holders")
            # the automations a new link sets off (a deal's lifecycle stages)
            deals = reg.objects.get("deals")
            if deals is not None:
                if meta.name in ("contacts", "companies"):
                    new_deals = [t for (t,) in sql("SELECT tid FROM res_links WHERE tobj = ? ORDER BY pos",
                                                   (deals.id,)).fetchall()]
                    for deal_id in new_deals[:1] + self._won_deal(new_deals):
                        rules.after_link(self.crm, meta, R, deals, deal_id, op)
                elif meta.name == "deals":
                    for tobj, tid in sql("SELECT tobj, tid FROM res_links WHERE tobj IN (SELECT id FROM object_type "
                                         "WHERE name IN ('contacts', 'companies')) ORDER BY pos").fetchall():
                        rules.after_link(self.crm, meta, R, reg.by_id[tobj], tid, op)
            # the Last contacted the restored links with emails, calls and meetings bring
            rules.touch_last_contacted(self.crm, [((meta.name, R), (reg.by_id[tobj].name, tid)) for tobj, tid in sql(
                "SELECT tobj, tid FROM res_links").fetchall()])
            return restored
        finally:
            sql("DELETE FROM res_links")
            sql("DELETE FROM res_labels")

    def move_links_for_merge(self, meta: ObjectMeta, keep_id: int, other_id: int, op) -> int:
        """Move every link of `other_id` to `keep_id` (source Object merge), dropping duplicates and
        the link between the two, keeping one primary company per record.

        Set-based: a record with tens of thousands of links is merged with a handful of
        INSERT .. SELECT / UPDATE statements, not one round of queries per link. History is the
        same as link by link: for each link of the other record its labels, primary flag and the
        link removed; for each link the survivor gains "created", its labels and primary flag. Labels
        beyond the survivor's label limits are dropped; pair limits are checked on the result."""
        db = self.crm.db
        reg = self.crm.registry
        companies = reg.objects.get("companies")
        comp = companies.id if companies is not None else -1
        M, K, O = meta.id, int(keep_id), int(other_id)
        holder_self = meta.has_primary_company  # the merged records hold primary companies
        dialect.scratch_table(db, "merge_moves", "fwd INTEGER, tobj INTEGER, tid INTEGER, prim INTEGER, "
                                                 "back INTEGER, existing INTEGER")
        db.execute_sql(
            "INSERT INTO merge_moves SELECT a.id AS fwd, a.to_object AS tobj, a.to_id AS tid, "
            "a.is_primary AS prim, (SELECT b.id FROM association b WHERE b.from_object = a.to_object "
            "AND b.from_id = a.to_id AND b.to_object = a.from_object AND b.to_id = a.from_id) AS back, "
            "(SELECT k.id FROM association k WHERE k.from_object = ? AND k.from_id = ? AND k.to_object = a.to_object "
            "AND k.to_id = a.to_id) AS existing FROM association a WHERE a.from_object = ? AND a.from_id = ?",
            (M, K, M, O))
        try:
            return self._merge_moves(op, meta, M, K, O, comp, holder_self)
        finally:
            db.execute_sql("DELETE FROM merge_moves")

    def _merge_moves(self, op, meta, M, K, O, comp, holder_self) -> int:
        models = self.crm.models
        LabelDef, PairLimit = models.LabelDef, models.PairLimit
        db = self.crm.db
        reg = self.crm.registry
        sql = db.execute_sql
        if not sql("SELECT 1 FROM merge_moves LIMIT 1").fetchone():
            return 0
        # 1. history of the other record's links going: labels, primary flag, the link
        sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action, label, inverse_label) "
            "SELECT ?, ?, ?, m.tobj, m.tid, 'label_removed', d.name, inv.name FROM merge_moves m "
            "JOIN association_label l ON l.association_id = m.fwd JOIN label_def d ON d.id = l.label_id "
            "LEFT JOIN label_def inv ON inv.id = d.inverse_id ORDER BY m.fwd, d.name", (op.id, M, O))
        if holder_self:  # the merged record's own primary company
            sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                "SELECT ?, ?, ?, tobj, tid, 'primary_removed' FROM merge_moves WHERE prim = 1 AND tobj = ? ORDER BY fwd",
                (op.id, M, O, comp))
        elif M == comp:  # a merged company was the primary company of its contacts, deals, ...
            sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                "SELECT ?, tobj, tid, ?, ?, 'primary_removed' FROM merge_moves WHERE prim = 1 ORDER BY fwd",
                (op.id, M, O))
        sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
            "SELECT ?, ?, ?, tobj, tid, 'removed' FROM merge_moves ORDER BY fwd", (op.id, M, O))
        # 2. the link between the two records goes; the survivor's labels over a label limit are dropped
        sql("DELETE FROM association WHERE id IN (SELECT fwd FROM merge_moves WHERE tobj = ? AND tid = ? "
            "UNION SELECT back FROM merge_moves WHERE tobj = ? AND tid = ?)", (M, K, M, K))
        sql("DELETE FROM merge_moves WHERE tobj = ? AND tid = ?", (M, K))
        for label in LabelDef.select().where((LabelDef.from_object == M) & LabelDef.limit_count.is_null(False)):
            used = sql("SELECT COUNT(*) FROM association a JOIN association_label l ON l.association_id = a.id "
                       "WHERE a.from_object = ? AND a.from_id = ? AND l.label_id = ?", (M, K, label.id)).fetchone()[0]
            incoming = [fwd for (fwd,) in sql(
                "SELECT m.fwd FROM merge_moves m JOIN association_label l ON l.association_id = m.fwd "
                "WHERE l.label_id = ? AND (m.existing IS NULL OR NOT EXISTS (SELECT 1 FROM association_label e "
                "WHERE e.association_id = m.existing AND e.label_id = ?)) ORDER BY m.fwd", (label.id, label.id)).fetchall()]
            for fwd in incoming[max(0, label.limit_count - used):]:
                sql("DELETE FROM association_label WHERE association_id = ? AND label_id = ?", (fwd, label.id))
                if label.inverse_id:
                    sql("DELETE FROM association_label WHERE label_id = ? AND association_id = "
                        "(SELECT back FROM merge_moves WHERE fwd = ?)", (label.inverse_id, fwd))
        # 3. history of the survivor's gains: new links with their labels; labels new on shared links
        sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
            "SELECT ?, ?, ?, tobj, tid, 'created' FROM merge_moves WHERE existing IS NULL ORDER BY fwd", (op.id, M, K))
        sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action, label, inverse_label) "
            "SELECT ?, ?, ?, m.tobj, m.tid, 'label_added', d.name, inv.name FROM merge_moves m "
            "JOIN association_label l ON l.association_id = m.fwd JOIN label_def d ON d.id = l.label_id "
            "LEFT JOIN label_def inv ON inv.id = d.inverse_id WHERE m.existing IS NULL "
            "OR NOT EXISTS (SELECT 1 FROM association_label e WHERE e.association_id = m.existing "
            "AND e.label_id = l.label_id) ORDER BY m.fwd, d.name", (op.id, M, K))
        # 4. shared links: the survivor's edges take the labels, the other's edges go
        sql("INSERT INTO association_label (association_id, label_id) SELECT m.existing, l.label_id "
            "FROM merge_moves m JOIN association_label l ON l.association_id = m.fwd WHERE m.existing IS NOT NULL "
            "ON CONFLICT DO NOTHING")
        sql("INSERT INTO association_label (association_id, label_id) SELECT kb.id, l.label_id "
            "FROM merge_moves m JOIN association_label l ON l.association_id = m.back "
            "JOIN association kb ON kb.from_object = m.tobj AND kb.from_id = m.tid AND kb.to_object = ? AND kb.to_id = ? "
            "WHERE m.existing IS NOT NULL ON CONFLICT DO NOTHING", (M, K))
        sql("DELETE FROM association WHERE id IN (SELECT fwd FROM merge_moves WHERE existing IS NOT NULL "
            "UNION SELECT back FROM merge_moves WHERE existing IS NOT NULL)")
        # 5. new links: both edges are re-pointed (ids and labels stay); counts follow by hand,
        # since the count triggers only see inserts and deletes
        moved = sql("SELECT COUNT(*) FROM merge_moves WHERE existing IS NULL").fetchone()[0]
        if holder_self and sql("SELECT 1 FROM association WHERE from_object = ? AND from_id = ? AND to_object = ? "
                               "AND is_primary = 1", (M, K, comp)).fetchone():
            # the survivor's primary stays (step 6): the incoming one loses its flag before it
            # arrives, or the database's one-primary index would refuse the move
            sql("UPDATE association SET is_primary = 0 WHERE id IN (SELECT fwd FROM merge_moves WHERE prim = 1 "
                "AND tobj = ? AND existing IS NULL UNION SELECT back FROM merge_moves WHERE prim = 1 AND tobj = ? "
                "AND existing IS NULL)", (comp, comp))
        sql("UPDATE association SET to_id = ? WHERE id IN (SELECT back FROM merge_moves WHERE existing IS NULL)", (K,))
        sql("UPDATE association SET from_id = ? WHERE id IN (SELECT fwd FROM merge_moves WHERE existing IS NULL)", (K,))
        sql("INSERT INTO association_count (from_object, from_id, to_object, n) SELECT ?, ?, tobj, COUNT(*) "
            "FROM merge_moves WHERE existing IS NULL GROUP BY tobj "
            "ON CONFLICT(from_object, from_id, to_object) DO UPDATE SET n = association_count.n + excluded.n", (M, K))
        sql("DELETE FROM association_count WHERE from_object = ? AND from_id = ?", (M, O))
        # 6. one primary company each
        if holder_self:
            keep_primary = sql("SELECT to_id FROM association WHERE from_object = ? AND from_id = ? AND to_object = ? "
                               "AND is_primary = 1 AND id NOT IN (SELECT fwd FROM merge_moves)", (M, K, comp)).fetchone()
            incoming = sql("SELECT tid FROM merge_moves WHERE prim = 1 AND tobj = ? AND existing IS NULL", (comp,)).fetchone()
            if keep_primary is not None and incoming is not None:  # the survivor's primary stays
                self._set_primary_flag(meta, K, incoming[0], False)
            elif keep_primary is None:
                if incoming is None:  # the survivor had no company: its first one becomes primary
                    first = sql("SELECT to_id FROM association WHERE from_object = ? AND from_id = ? AND to_object = ? "
                                "ORDER BY id LIMIT 1", (M, K, comp)).fetchone()
                    incoming = first
                if incoming is not None:
                    self._set_primary_flag(meta, K, incoming[0], True)
                    self._log(op, meta, K, reg.by_id[comp], incoming[0], "primary_set")
        elif M == comp:
            # records whose primary was the other company: primary now on the survivor (moved edges
            # keep their flag; shared links get it)
            sql("UPDATE association SET is_primary = 1 WHERE id IN (SELECT existing FROM merge_moves WHERE existing "
                "IS NOT NULL AND prim = 1 UNION SELECT kb.id FROM merge_moves m JOIN association kb ON "
                "kb.from_object = m.tobj AND kb.from_id = m.tid AND kb.to_object = ? AND kb.to_id = ? "
                "WHERE m.existing IS NOT NULL AND m.prim = 1)", (M, K))
            sql("INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                "SELECT ?, tobj, tid, ?, ?, 'primary_set' FROM merge_moves WHERE prim = 1 ORDER BY fwd", (op.id, M, K))
        # 7. limits on the result, and the automations a new link sets off (a deal's lifecycle stages)
        for limit in PairLimit.select().where(PairLimit.from_object == M):
            n = sql("SELECT COUNT(*) FROM association WHERE from_object = ? AND from_id = ? AND to_object = ?",
                    (M, K, limit.to_object_id)).fetchone()[0]
            if n > limit.limit_count:
                to_meta = reg.by_id[limit.to_object_id]
                raise LimitExceeded(
                    f"limit reached: a {meta.label.lower()} may be associated with at most {limit.limit_count} "
                    f"{to_meta.plural_label.lower()}; merged, {meta.label.lower()} {K} would have {n}")
        deals = reg.objects.get("deals")
        if deals is not None and moved:
            if meta.name in ("contacts", "companies"):
                new_deals = [t for (t,) in sql("SELECT tid FROM merge_moves WHERE existing IS NULL AND tobj = ? "
                                               "ORDER BY fwd", (deals.id,)).fetchall()]
                # forward-only: the first won deal, else the first open one, moves the survivor the most
                for deal_id in new_deals[:1] + self._won_deal(new_deals):
                    rules.after_link(self.crm, meta, K, deals, deal_id, op)
            elif meta.name == "deals":
                for tobj, tid in sql("SELECT tobj, tid FROM merge_moves WHERE existing IS NULL AND tobj IN "
                                     "(SELECT id FROM object_type WHERE name IN ('contacts', 'companies')) ORDER BY fwd"
                                     ).fetchall():
                    rules.after_link(self.crm, meta, K, reg.by_id[tobj], tid, op)
        if moved:  # emails, calls and meetings moved to the survivor: its Last contacted
            rules.touch_last_contacted(self.crm, [((meta.name, K), (reg.by_id[tobj].name, tid)) for tobj, tid in sql(
                "SELECT tobj, tid FROM merge_moves WHERE existing IS NULL").fetchall()])
        return moved

    def _won_deal(self, deal_ids: list[int]) -> list[int]:
        from . import pipelines  # lazy: not needed for the first frame (start-up speed)

        deals = self.crm.registry.get("deals")
        for start in range(0, len(deal_ids), 900):
            for rid, pipeline, stage in deals.model.select(deals.model.id, deals.model.pipeline, deals.model.dealstage).where(
                    deals.model.id.in_(deal_ids[start:start + 900])).tuples():
                if pipelines.stage_kind(self.crm, "deals", pipeline, stage) == "won":
                    return [rid]
        return []

    # -- automatic association by domain --------------------------------------------------------

    def auto_associate_contact(self, contact_id: int, domain: str, parent_op) -> list[str]:
        return self.auto_associate(contacts={int(contact_id): domain}).notes

    def auto_associate_company(self, company_id: int, domain: str, parent_op) -> list[str]:
        return self.auto_associate(companies={int(company_id): domain}).notes

    def auto_associate(self, *, contacts: dict[int, str] | None = None, companies: dict[int, str] | None = None,
                       enabled: bool | None = None, bulk: bool = False) -> "AutoLinks":
        """Automatic association by domain for a set of contacts ({id: email domain}) and companies
        ({id: domain}), new or with a new domain: each is linked with the live records of the other
        object with that domain, never for free-mail domains, in one operation with source
        Automatic association by domain (the first company linked becomes primary). One lookup per
        batch of domains. `bulk` (imports): the links go in through bulk_link; otherwise one by one,
        with a message each. A pair limit reached is a note, not a refusal."""
        Association, PairLimit = self.crm.models.Association, self.crm.models.PairLimit
        out = AutoLinks([], [])
        if enabled is None:
            enabled = self.crm.setting("auto_associate_by_domain", True)
        reg = self.crm.registry
        if not enabled or "contacts" not in reg.objects or "companies" not in reg.objects:
            return out
        free = self.crm.freemail
        contacts = {int(k): v for k, v in (contacts or {}).items() if v and v not in free}
        companies = {int(k): v for k, v in (companies or {}).items() if v and v not in free}
        if not contacts and not companies:
            return out
        cm, km = reg.get("companies"), reg.get("contacts")
        pairs: set[tuple[int, int]] = set()  # (contact id, company id)
        for model, column, wanted, flip in ((cm.model, cm.model.domain, contacts, False),
                                            (km.model, km.model.hs_email_domain, companies, True)):
            if not wanted:
                continue
            by_domain: dict[str, list[int]] = {}
            for rid, domain in wanted.items():
                by_domain.setdefault(domain, []).append(rid)
            domains = sorted(by_domain)
            for start in range(0, len(domains), 900):
                for other_id, domain in model.select(model.id, column).where(
                        column.in_(domains[start:start + 900]) & model.deleted_at.is_null(True)).tuples():
                    for rid in by_domain[domain]:
                        pairs.add((other_id, rid) if flip else (rid, other_id))
        if pairs:
            by_contact: dict[int, set[int]] = {}
            for contact_id, company_id in pairs:
                by_contact.setdefault(contact_id, set()).add(company_id)
            ids = sorted(by_contact)
            for start in range(0, len(ids), 900):
                for contact_id, company_id in Association.select(Association.from_id, Association.to_id).where(
                        (Association.from_object == km.id) & Association.from_id.in_(ids[start:start + 900])
                        & (Association.to_object == cm.id)).tuples():
                    pairs.discard((contact_id, company_id))
        if not pairs:
            return out
        limited = PairLimit.select().where(((PairLimit.from_object == km.id) & (PairLimit.to_object == cm.id))
                                           | ((PairLimit.from_object == cm.id) & (PairLimit.to_object == km.id))).exists()
        ordered = sorted(pairs)
        with self.crm.operation("auto_associate", sources.AUTO_DOMAIN, None) as op:
            if bulk and not limited:
                self.bulk_link([(("contacts", k), ("companies", c)) for k, c in ordered], op)
                out.linked += ordered
                return out
            for contact_id, company_id in ordered:
                try:
                    with self.crm.db.atomic():
                        result = self._add(op, ("contacts", contact_id), ("companies", company_id))
                except LimitExceeded as exc:
                    out.notes.append(f"not associated by domain: {exc}")
                    continue
                out.linked.append((contact_id, company_id))
                out.notes.append(result.message + " (by email domain)")
        return out

    def bulk_link(self, pairs, op, *, primary_to_companies: bool = True, holders_are_new: bool = False,
                  automations: bool = True) -> int:
        """Link many new pairs fast (seed, import of fresh records): `pairs` yields
        ((a_object, a_id), (b_object, b_id)) for records known to be live and not yet linked.
        Writes both edges and the history, and makes the first company of each holder primary
        when it has none (`holders_are_new` skips that check for records created in the same load).
        The rules a new link sets off run on the whole set, as for one link (`rules.after_link`):
        contacts and companies linked with deals move forward in their lifecycle (`automations`
        False: synthetic data that sets its own stages). The caller holds the operation."""
        Association = self.crm.models.Association
        now = now_iso()
        reg = self.crm.registry
        forward: list[tuple] = []  # a -> b, with the holder of a company as a
        add_forward = forward.append
        seen_holders: dict[tuple[int, int], int] = {}  # holder -> index of its first company link
        # per object pair, once: (a object id, b object id, holder side 0/1/2, holder meta)
        kinds: dict[tuple[str, str], tuple] = {}
        last_a = last_b = kind = None  # pairs mostly come in runs of one object pair
        for (a_obj, a_id), (b_obj, b_id) in pairs:
            if a_obj != last_a or b_obj != last_b:
                last_a, last_b = a_obj, b_obj
                kind = kinds.get((a_obj, b_obj))
                if kind is None:
                    a_meta, b_meta = reg.get(a_obj), reg.get(b_obj)
                    holder = self._holder(a_meta, 1, b_meta, 2) if primary_to_companies else None
                    side = 0 if holder is None else holder[1]  # 1: a holds the company, 2: b does
                    kind = kinds[(a_obj, b_obj)] = (a_meta.id, b_meta.id, side, holder[0] if holder else None)
            a_mid, b_mid, side, h_meta = kind
            is_primary = 0
            if side == 2:
                a_mid, a_id, b_mid, b_id = b_mid, b_id, a_mid, a_id
            if side:
                key = (a_mid, a_id)
                if key not in seen_holders:
                    seen_holders[key] = len(forward)
                    is_primary = 1
            add_forward((a_mid, a_id, b_mid, b_id, is_primary, now))
        if not forward:
            return 0
        if seen_holders and not holders_are_new:  # holders that have a primary company keep it
            by_object: dict[int, list[int]] = {}
            for h_mid, h_id in seen_holders:
                by_object.setdefault(h_mid, []).append(h_id)
            companies = self._meta("companies")
            for h_mid, ids in by_object.items():
                ids.sort()
                for start in range(0, len(ids), 900):
                    for (h_id,) in Association.select(Association.from_id).where(
                            (Association.from_object == h_mid) & Association.from_id.in_(ids[start:start + 900])
                            & (Association.to_object == companies.id) & (Association.is_primary == True)).tuples():  # noqa: E712
                        i = seen_holders[(h_mid, h_id)]
                        forward[i] = forward[i][:4] + (0, now)
        db = self.crm.db
        cursor = db.cursor()
        edge_fields = [Association.id, Association.from_object, Association.from_id, Association.to_object,
                       Association.to_id, Association.is_primary, Association.created_at]
        edge_sql, _ = Association.insert_many([(None,) * len(edge_fields)], fields=edge_fields).sql()
        # The forward edges, sorted by their first record (stable: a record keeps its links in pair
        # order) so the unique index takes the edges of one record together, get ids of this
        # writer's own, first..first+n-1 (dialect.first_free_edge_id); the reverse edges (sorted
        # the same way, numbered after them), the history and the counts are derived from that
        # range in SQL.
        forward.sort(key=itemgetter(0, 1))
        count = len(forward)
        with dialect.counts_added_by_caller(db):
            first = dialect.first_free_edge_id(db)
            last = first + 2 * count - 1
            cursor.executemany(edge_sql, ((first + i, *edge) for i, edge in enumerate(forward)))
            with self.crm.sqlite_only():
                db.execute_sql(
                    "INSERT INTO association (id, from_object, from_id, to_object, to_id, is_primary, created_at) "
                    "SELECT ? + ROW_NUMBER() OVER (ORDER BY to_object, to_id, id), to_object, to_id, from_object, "
                    "from_id, is_primary, created_at FROM association WHERE id BETWEEN ? AND ?",
                    (first + count - 1, first, first + count - 1))
                # one history row per link; a link made primary on creation is one "created_primary" row
                db.execute_sql(
                    "INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                    "SELECT ?, from_object, from_id, to_object, to_id, "
                    "CASE is_primary WHEN 1 THEN 'created_primary' ELSE 'created' END "
                    "FROM association WHERE id BETWEEN ? AND ? ORDER BY id", (op.id, first, first + count - 1))
                dialect.add_counts_of_edges(db, first, last)
        if automations and any("deals" in pair for pair in kinds):  # only links with deals set rules off
            self._deal_rules(first, last)
        if automations:
            self.crm.workflows.after_bulk_link(first, last)  # "associated" workflows: one query when none
        if automations and any(name in rules.CONTACTED_BY for pair in kinds for name in pair):
            rules.contacted_in_edges(self.crm, first, last)  # emails, calls, meetings: Last contacted
        return count

    def _deal_rules(self, first: int, last: int) -> None:
        """The lifecycle rule for the links among the edges first..last (both ways written)."""
        Association = self.crm.models.Association
        reg = self.crm.registry
        deals = reg.objects.get("deals")
        others = {reg.objects[n].id: n for n in ("contacts", "companies") if n in reg.objects}
        if deals is None or not others:
            return
        links = [(deal_id, others[to_object], to_id) for deal_id, to_object, to_id in Association.select(
            Association.from_id, Association.to_object, Association.to_id).where(
            Association.id.between(first, last) & (Association.from_object == deals.id)
            & Association.to_object.in_(list(others))).tuples()]
        if links:
            rules.promote_for_deal_links(self.crm, links)

    # -- reading -----------------------------------------------------------------------------

    def counts(self, ref) -> dict[str, int]:
        """How many records of each object a record is linked with: one primary-key lookup."""
        AssociationCount = self.crm.models.AssociationCount
        meta, rid = self._meta(ref[0]), int(ref[1])
        rows = (AssociationCount.select(AssociationCount.to_object, AssociationCount.n)
                .where((AssociationCount.from_object == meta.id) & (AssociationCount.from_id == rid)).tuples())
        return {self.crm.registry.by_id[obj].name: n for obj, n in rows if n > 0}

    def groups(self, ref, *, per_group: int | None = 100, objects=None) -> list[LinkGroup]:
        """A record's links grouped by object: counts, and up to `per_group` items (primary first)
        with names, labels and primary flags. Costs 2 + 2 x (objects linked) queries. `objects`
        (names) keeps only those groups: the sidebar does not read a record's 10,000 activity links."""
        models = self.crm.models
        (LabelDef, Association, AssociationCount, AssociationLabel) = (
            models.LabelDef, models.Association, models.AssociationCount, models.AssociationLabel)
        meta, rid = self._meta(ref[0]), int(ref[1])
        wanted = None if objects is None else {self._meta(name).id for name in objects}
        counts = [(obj, n) for obj, n in AssociationCount.select(AssociationCount.to_object, AssociationCount.n)
                  .where((AssociationCount.from_object == meta.id) & (AssociationCount.from_id == rid)).tuples()
                  if n > 0 and (wanted is None or obj in wanted)]
        groups: list[LinkGroup] = []
        edges_by_group: dict[int, list[tuple]] = {}
        for to_object, count in counts:
            q = (Association.select(Association.id, Association.to_id, Association.is_primary)
                 .where((Association.from_object == meta.id) & (Association.from_id == rid) & (Association.to_object == to_object))
                 .order_by(Association.is_primary.desc(), Association.id.desc()))
            if per_group is not None:
                q = q.limit(per_group)
            edges_by_group[to_object] = list(q.tuples())
        edge_ids = [e[0] for edges in edges_by_group.values() for e in edges]
        labels: dict[int, list[str]] = {}
        for start in range(0, len(edge_ids), 900):
            chunk = edge_ids[start:start + 900]
            for edge_id, name in (AssociationLabel.select(AssociationLabel.association, LabelDef.name)
                                  .join(LabelDef, on=(AssociationLabel.label == LabelDef.id))
                                  .where(AssociationLabel.association.in_(chunk)).tuples()):
                labels.setdefault(edge_id, []).append(name)
        for to_object, count in counts:
            other = self.crm.registry.by_id[to_object]
            edges = edges_by_group[to_object]
            names = self.crm.records.display_names(other, [e[1] for e in edges])
            items = [LinkItem(other.name, to_id, names.get(to_id, f"#{to_id}"), sorted(labels.get(edge_id, [])), bool(prim))
                     for edge_id, to_id, prim in edges]
            groups.append(LinkGroup(other.name, other.plural_label, count, items))
        order = list(self.crm.registry.objects)
        groups.sort(key=lambda g: order.index(g.object))
        return groups

    def linked_ids(self, ref, object_name: str) -> list[int]:
        Association = self.crm.models.Association
        meta, other = self._meta(ref[0]), self._meta(object_name)
        return [r for (r,) in Association.select(Association.to_id).where(
            (Association.from_object == meta.id) & (Association.from_id == int(ref[1])) & (Association.to_object == other.id)
        ).order_by(Association.id).tuples()]

    def primary_company(self, ref) -> int | None:
        Association = self.crm.models.Association
        meta = self._meta(ref[0])
        companies = self._meta("companies")
        return (Association.select(Association.to_id).where(
            (Association.from_object == meta.id) & (Association.from_id == int(ref[1]))
            & (Association.to_object == companies.id) & (Association.is_primary == True)  # noqa: E712
        ).scalar())

    def index_columns(self, object_name: str, ids: list[int], to_objects: list[str]) -> dict:
        """For a page of index rows: {to_object: {row_id: [(id, name, primary), ...]}} using one
        query for the links and one for the names per associated object."""
        Association = self.crm.models.Association
        meta = self._meta(object_name)
        out: dict[str, dict[int, list[tuple[int, str, bool]]]] = {}
        ids = list(ids)
        for to_name in to_objects:
            other = self._meta(to_name)
            rows = list(Association.select(Association.from_id, Association.to_id, Association.is_primary)
                        .where((Association.from_object == meta.id) & (Association.from_id.in_(ids))
                               & (Association.to_object == other.id))
                        .order_by(Association.from_id, Association.is_primary.desc(), Association.id).tuples()) if ids else []
            names = self.crm.records.display_names(other, [r[1] for r in rows])
            per_row: dict[int, list[tuple[int, str, bool]]] = {}
            for from_id, to_id, prim in rows:
                per_row.setdefault(from_id, []).append((to_id, names.get(to_id, f"#{to_id}"), bool(prim)))
            out[to_name] = per_row
        return out

    def history(self, ref, *, object_name: str | None = None, with_ref=None, limit: int | None = None) -> list[AssocChange]:
        """The association history of a record, newest first; filter by the other object or one link."""
        models = self.crm.models
        Operation, AssociationChange = models.Operation, models.AssociationChange
        meta, rid = self._meta(ref[0]), int(ref[1])
        conds_a = (AssociationChange.a_object == meta.id) & (AssociationChange.a_id == rid)
        conds_b = (AssociationChange.b_object == meta.id) & (AssociationChange.b_id == rid)
        if object_name:
            other = self._meta(object_name)
            conds_a &= AssociationChange.b_object == other.id
            conds_b &= AssociationChange.a_object == other.id
        if with_ref is not None:
            other, oid = self._meta(with_ref[0]), int(with_ref[1])
            conds_a &= (AssociationChange.b_object == other.id) & (AssociationChange.b_id == oid)
            conds_b &= (AssociationChange.a_object == other.id) & (AssociationChange.a_id == oid)
        fields = (AssociationChange, Operation.at, Operation.source, Operation.actor)
        q = (AssociationChange.select(*fields).join(Operation, on=(AssociationChange.op == Operation.id))
             .where(conds_a | conds_b).order_by(AssociationChange.id.desc()))
        if limit:
            q = q.limit(limit)
        rows = list(q.dicts())
        result = []
        wanted_names: dict[int, set[int]] = {}
        for row in rows:
            mine = row["a_object"] == meta.id and row["a_id"] == rid
            other_obj, other_id = (row["b_object"], row["b_id"]) if mine else (row["a_object"], row["a_id"])
            wanted_names.setdefault(other_obj, set()).add(other_id)
            row["_other"] = (other_obj, other_id)
            row["_label"] = row["label"] if mine else (row["inverse_label"] or row["label"])
        names = {obj: self.crm.records.display_names(self.crm.registry.by_id[obj], ids) for obj, ids in wanted_names.items()}
        for row in rows:
            other_obj, other_id = row["_other"]
            result.append(AssocChange(
                id=row["id"], at=row["at"], action=row["action"], source=row["source"], actor=row["actor"],
                object=meta.name, record_id=rid, other_object=self.crm.registry.by_id[other_obj].name, other_id=other_id,
                other_name=names[other_obj].get(other_id, f"#{other_id}"), label=row["_label"], op_id=row["op"],
            ))
        return result

    def labels(self) -> list[dict]:
        LabelDef = self.crm.models.LabelDef
        reg = self.crm.registry
        out = []
        for label in LabelDef.select().order_by(LabelDef.from_object, LabelDef.to_object, LabelDef.name):
            inverse = LabelDef.get_or_none(LabelDef.id == label.inverse_id) if label.inverse_id else None
            out.append({
                "id": label.id, "from": reg.by_id[label.from_object_id].name, "to": reg.by_id[label.to_object_id].name,
                "name": label.name, "inverse": inverse.name if inverse else None, "inverse_id": label.inverse_id,
                "paired": label.paired,
                "limit": label.limit_count,
            })
        return out

    def labels_for(self, a_object: str, b_object: str) -> list[str]:
        LabelDef = self.crm.models.LabelDef
        a, b = self._meta(a_object), self._meta(b_object)
        return [l.name for l in LabelDef.select().where((LabelDef.from_object == a.id) & (LabelDef.to_object == b.id))
                .order_by(LabelDef.name)]

    def set_pair_limit(self, from_object: str, to_object: str, limit: int | None) -> None:
        PairLimit = self.crm.models.PairLimit
        a, b = self._meta(from_object), self._meta(to_object)
        PairLimit.delete().where((PairLimit.from_object == a.id) & (PairLimit.to_object == b.id)).execute()
        if limit is not None:
            limit = whole_number(limit, f"the limit of {a.name} -> {b.name}")
            PairLimit.create(from_object=a.id, to_object=b.id, limit_count=limit)
