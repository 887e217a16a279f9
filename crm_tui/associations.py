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

from . import dialect, rules, sources
from .engine import ObjectMeta
from .errors import CrmError, InvalidValue, LimitExceeded, NotFound, PrimaryRequired
from .models import Association, AssociationChange, AssociationCount, AssociationLabel, LabelDef, Operation, PairLimit
from .types import now_iso

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
        companies = self._meta("companies")
        return list(Association.select().where(
            (Association.from_object == holder_meta.id) & (Association.from_id == holder_id)
            & (Association.to_object == companies.id)
        ).order_by(Association.id))

    def _labels_on(self, edge_id: int) -> list[LabelDef]:
        return list(LabelDef.select().join(AssociationLabel, on=(AssociationLabel.label == LabelDef.id))
                    .where(AssociationLabel.association == edge_id).order_by(LabelDef.name))

    def _log(self, op, a_meta, a_id, b_meta, b_id, action, label: LabelDef | None = None) -> None:
        inverse = None
        if label is not None and label.inverse_id:
            inverse = LabelDef.get_by_id(label.inverse_id).name
        AssociationChange.create(op=op.id, a_object=a_meta.id, a_id=a_id, b_object=b_meta.id, b_id=b_id,
                                 action=action, label=label.name if label else None, inverse_label=inverse)

    def _set_primary_flag(self, holder_meta, holder_id, company_id, value: bool) -> None:
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
            deleted = AssociationLabel.delete().where(
                (AssociationLabel.association == edges[0].id) & (AssociationLabel.label == label_def.id)).execute()
            if not deleted:
                return f"the association has no label {label_def.name!r}"
            if label_def.inverse_id:
                AssociationLabel.delete().where((AssociationLabel.association == edges[1].id)
                                                & (AssociationLabel.label == label_def.inverse_id)).execute()
            self._log(op, a_meta, a_id, b_meta, b_id, "label_removed", label_def)
        return f"label {label_def.name!r} removed"

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

    # -- cascades --------------------------------------------------------------------------

    def remove_all_for_deletion(self, meta: ObjectMeta, record_id: int, parent_op) -> int:
        """Remove every link of a record being deleted (source Object deletion), remembering them
        in the operation so that a restore brings exactly these back."""
        edges = list(Association.select().where((Association.from_object == meta.id) & (Association.from_id == record_id))
                     .order_by(Association.id))
        if not edges:
            return 0
        saved = []
        with self.crm.operation("delete_links", sources.OBJECT_DELETION, None, object=meta.name, record_id=record_id) as op:
            companies = self.crm.registry.objects.get("companies")
            orphaned_holders = []
            for edge in edges:
                other = self.crm.registry.by_id[edge.to_object]
                labels = [label.id for label in self._labels_on(edge.id)]
                saved.append({"object": other.name, "id": edge.to_id, "labels": labels, "primary": bool(edge.is_primary)})
                backward = self._edge(other, edge.to_id, meta, record_id)
                if edge.is_primary and meta.name == "companies":
                    orphaned_holders.append((other, edge.to_id))
                self._remove_link(op, meta, record_id, other, edge.to_id, (edge, backward))
            # Keep "exactly one primary": a holder that lost its primary company gets its oldest one.
            for holder_meta, holder_id in orphaned_holders:
                remaining = self._companies_of(holder_meta, holder_id)
                if remaining:
                    self._set_primary_flag(holder_meta, holder_id, remaining[0].to_id, True)
                    self._log(op, holder_meta, holder_id, companies, remaining[0].to_id, "primary_set")
            op.summary = json.dumps({"links": saved})
            op.save()
        return len(edges)

    def restore_after_deletion(self, meta: ObjectMeta, record_id: int, parent_op) -> int:
        """Bring back the links the record's last deletion removed (source Object restore)."""
        deletion = (Operation.select().where((Operation.kind == "delete_links") & (Operation.object == meta.name)
                                             & (Operation.record_id == record_id)).order_by(Operation.id.desc()).first())
        if deletion is None:
            return 0
        saved = json.loads(deletion.summary).get("links", [])
        restored = 0
        with self.crm.operation("restore_links", sources.OBJECT_RESTORE, None, object=meta.name, record_id=record_id) as op:
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

    def move_links_for_merge(self, meta: ObjectMeta, keep_id: int, other_id: int, op) -> int:
        """Move every link of `other_id` to `keep_id` (source Object merge), dropping duplicates and
        the link between the two, keeping one primary company."""
        moved = 0
        edges = list(Association.select().where((Association.from_object == meta.id) & (Association.from_id == other_id))
                     .order_by(Association.id))
        for edge in edges:
            target = self.crm.registry.by_id[edge.to_object]
            labels = [label.name for label in self._labels_on(edge.id)]
            was_primary = bool(edge.is_primary)
            backward = self._edge(target, edge.to_id, meta, other_id)
            self._remove_link(op, meta, other_id, target, edge.to_id, (edge, backward))
            if target.id == meta.id and edge.to_id == keep_id:
                continue
            if not self.crm.records.exists(target, edge.to_id, live=True):
                continue
            # The link was some record's primary company: it stays primary after the move unless that
            # record (the survivor, or a contact of a merged company) has a primary already.
            holder = self._holder(meta, keep_id, target, edge.to_id)
            want_primary = (was_primary and holder is not None
                            and self.primary_company((holder[0].name, holder[1])) is None)
            kept_labels = []
            for name in labels:
                label = self.crm.registry.find_label(meta, target, name)
                try:
                    self._check_label_limit(label, meta, keep_id)
                    kept_labels.append(name)
                except LimitExceeded:
                    pass  # the survivor already uses that label up to its limit
            result = self._add(op, (meta.name, keep_id), (target.name, edge.to_id), kept_labels, primary=want_primary)
            moved += int(result.created)
        return moved

    # -- automatic association by domain --------------------------------------------------------

    def auto_associate_contact(self, contact_id: int, domain: str, parent_op) -> list[str]:
        if domain in self.crm.freemail:
            return []
        companies = self._meta("companies")
        ids = [r for (r,) in companies.model.select(companies.model.id).where(
            (companies.model.domain == domain) & companies.model.deleted_at.is_null(True)).tuples()]
        return self._auto_link([(("contacts", contact_id), ("companies", cid)) for cid in ids])

    def auto_associate_company(self, company_id: int, domain: str, parent_op) -> list[str]:
        if domain in self.crm.freemail:
            return []
        contacts = self._meta("contacts")
        ids = [r for (r,) in contacts.model.select(contacts.model.id).where(
            (contacts.model.hs_email_domain == domain) & contacts.model.deleted_at.is_null(True)).tuples()]
        return self._auto_link([(("contacts", cid), ("companies", company_id)) for cid in ids])

    def _auto_link(self, pairs) -> list[str]:
        notes = []
        if not pairs:
            return notes
        with self.crm.operation("auto_associate", sources.AUTO_DOMAIN, None) as op:
            for a, b in pairs:
                if self._edge(self._meta(a[0]), a[1], self._meta(b[0]), b[1]) is not None:
                    continue
                try:
                    result = self._add(op, a, b)
                except LimitExceeded as exc:
                    notes.append(f"not associated by domain: {exc}")
                    continue
                notes.append(result.message + " (by email domain)")
        return notes

    def bulk_link(self, pairs, op, *, primary_to_companies: bool = True, holders_are_new: bool = False) -> int:
        """Link many new pairs fast (seed, import of fresh records): `pairs` yields
        ((a_object, a_id), (b_object, b_id)) for records known to be live and not yet linked.
        Writes both edges and the history, and makes the first company of each holder primary
        when it has none (`holders_are_new` skips that check for records created in the same load).
        The caller holds the operation."""
        now = now_iso()
        reg = self.crm.registry
        forward: list[tuple] = []  # a -> b, with the holder of a company as a
        add_forward = forward.append
        seen_holders: set[tuple[int, int]] = set()
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
                    seen_holders.add(key)
                    if holders_are_new or self.primary_company((h_meta.name, a_id)) is None:
                        is_primary = 1
            add_forward((a_mid, a_id, b_mid, b_id, is_primary, now))
        if not forward:
            return 0
        db = self.crm.db
        cursor = db.cursor()
        # One aggregated upsert per record instead of the trigger's one per edge; the triggers are
        # dropped and recreated inside this transaction, so no other writer can miss them.
        dialect.drop_count_triggers(db)
        edge_fields = [Association.from_object, Association.from_id, Association.to_object, Association.to_id,
                       Association.is_primary, Association.created_at]
        edge_sql, _ = Association.insert_many([(None,) * len(edge_fields)], fields=edge_fields).sql()
        # The forward edges, sorted by their first record (stable: a record keeps its links in pair
        # order) so the unique index takes the edges of one record together, take the ids
        # first..first+n-1; the reverse edges (sorted the same way), the history and the counts are
        # derived from them in SQL.
        first = dialect.next_rowid(db, Association._meta.table_name)
        forward.sort(key=itemgetter(0, 1))
        cursor.executemany(edge_sql, forward)
        count = len(forward)
        last = first + 2 * count - 1
        with self.crm.sqlite_only():
            db.execute_sql(
                "INSERT INTO association (from_object, from_id, to_object, to_id, is_primary, created_at) "
                "SELECT to_object, to_id, from_object, from_id, is_primary, created_at FROM association "
                "WHERE id BETWEEN ? AND ? ORDER BY to_object, to_id, id", (first, first + count - 1))
            assert dialect.next_rowid(db, Association._meta.table_name) == last + 1, "edge ids not consecutive"
            # one history row per link; a link made primary on creation is one "created_primary" row
            db.execute_sql(
                "INSERT INTO association_change (op_id, a_object, a_id, b_object, b_id, action) "
                "SELECT ?, from_object, from_id, to_object, to_id, "
                "CASE is_primary WHEN 1 THEN 'created_primary' ELSE 'created' END "
                "FROM association WHERE id BETWEEN ? AND ? ORDER BY id", (op.id, first, first + count - 1))
            dialect.add_counts_of_edges(db, first, last)
        dialect.create_count_triggers(db)
        return count

    # -- reading -----------------------------------------------------------------------------

    def counts(self, ref) -> dict[str, int]:
        """How many records of each object a record is linked with: one primary-key lookup."""
        meta, rid = self._meta(ref[0]), int(ref[1])
        rows = (AssociationCount.select(AssociationCount.to_object, AssociationCount.n)
                .where((AssociationCount.from_object == meta.id) & (AssociationCount.from_id == rid)).tuples())
        return {self.crm.registry.by_id[obj].name: n for obj, n in rows if n > 0}

    def groups(self, ref, *, per_group: int | None = 100) -> list[LinkGroup]:
        """A record's links grouped by object: counts, and up to `per_group` items (primary first)
        with names, labels and primary flags. Costs 2 + 2 x (objects linked) queries."""
        meta, rid = self._meta(ref[0]), int(ref[1])
        counts = [(obj, n) for obj, n in AssociationCount.select(AssociationCount.to_object, AssociationCount.n)
                  .where((AssociationCount.from_object == meta.id) & (AssociationCount.from_id == rid)).tuples() if n > 0]
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
        meta, other = self._meta(ref[0]), self._meta(object_name)
        return [r for (r,) in Association.select(Association.to_id).where(
            (Association.from_object == meta.id) & (Association.from_id == int(ref[1])) & (Association.to_object == other.id)
        ).order_by(Association.id).tuples()]

    def primary_company(self, ref) -> int | None:
        meta = self._meta(ref[0])
        companies = self._meta("companies")
        return (Association.select(Association.to_id).where(
            (Association.from_object == meta.id) & (Association.from_id == int(ref[1]))
            & (Association.to_object == companies.id) & (Association.is_primary == True)  # noqa: E712
        ).scalar())

    def index_columns(self, object_name: str, ids: list[int], to_objects: list[str]) -> dict:
        """For a page of index rows: {to_object: {row_id: [(id, name, primary), ...]}} using one
        query for the links and one for the names per associated object."""
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
        a, b = self._meta(a_object), self._meta(b_object)
        return [l.name for l in LabelDef.select().where((LabelDef.from_object == a.id) & (LabelDef.to_object == b.id))
                .order_by(LabelDef.name)]

    def set_pair_limit(self, from_object: str, to_object: str, limit: int | None) -> None:
        a, b = self._meta(from_object), self._meta(to_object)
        PairLimit.delete().where((PairLimit.from_object == a.id) & (PairLimit.to_object == b.id)).execute()
        if limit is not None:
            if int(limit) < 1:
                raise InvalidValue("a limit must be at least 1")
            PairLimit.create(from_object=a.id, to_object=b.id, limit_count=int(limit))
