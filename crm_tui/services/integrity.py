"""Invariants of the association store, checked by tests and by `crm-tui doctor`.

Each check returns a list of one-line problems; an empty list means the invariant holds.
"""

from __future__ import annotations

from collections import defaultdict

from .records import to_text


def _edges(registry):
    models = registry.models
    Association, AssociationLabel = models.Association, models.AssociationLabel
    labels = defaultdict(set)
    for assoc_id, label_id in AssociationLabel.select(AssociationLabel.association, AssociationLabel.label).tuples():
        labels[assoc_id].add(label_id)
    edges = {}
    for eid, fo, fi, to, ti, prim in Association.select(
            Association.id, Association.from_object, Association.from_id, Association.to_object, Association.to_id,
            Association.is_primary).tuples():
        edges[(fo, fi, to, ti)] = (bool(prim), frozenset(labels.get(eid, ())), eid)
    return edges


def check_bidirectional(registry) -> list[str]:
    LabelDef = registry.models.LabelDef
    inverse = dict(LabelDef.select(LabelDef.id, LabelDef.inverse).tuples())
    problems = []
    edges = _edges(registry)
    for (fo, fi, to, ti), (prim, labels, _eid) in edges.items():
        back = edges.get((to, ti, fo, fi))
        if back is None:
            problems.append(f"link {fo}:{fi} -> {to}:{ti} has no reverse edge")
            continue
        if back[0] != prim:
            problems.append(f"link {fo}:{fi} <-> {to}:{ti}: primary flag differs between its two edges")
        expected = frozenset(inverse.get(l) for l in labels if inverse.get(l))
        if expected != back[1]:
            problems.append(f"link {fo}:{fi} <-> {to}:{ti}: labels differ between its two edges")
    return problems


def check_primary(registry) -> list[str]:
    Association = registry.models.Association
    companies = registry.objects.get("companies")
    if companies is None:
        return []
    per_holder = defaultdict(list)
    for fo, fi, prim in Association.select(Association.from_object, Association.from_id, Association.is_primary).where(
            Association.to_object == companies.id).tuples():
        per_holder[(fo, fi)].append(bool(prim))
    problems = []
    for (fo, fi), flags in per_holder.items():
        meta = registry.by_id.get(fo)
        if meta is None or not meta.has_primary_company:
            if any(flags):
                problems.append(f"{fo}:{fi} has a primary company but its object has none")
            continue
        if sum(flags) != 1:
            problems.append(f"{meta.name}:{fi} has {len(flags)} companies and {sum(flags)} primary (expected exactly 1)")
    return problems


def check_limits(registry) -> list[str]:
    models = registry.models
    (LabelDef, PairLimit, Association, AssociationLabel) = (
        models.LabelDef, models.PairLimit, models.Association, models.AssociationLabel)
    problems = []
    for label in LabelDef.select().where(LabelDef.limit_count.is_null(False)):
        counts = defaultdict(int)
        for fo, fi in (Association.select(Association.from_object, Association.from_id)
                       .join(AssociationLabel, on=(AssociationLabel.association == Association.id))
                       .where(AssociationLabel.label == label.id).tuples()):
            counts[(fo, fi)] += 1
        for key, n in counts.items():
            if n > label.limit_count:
                problems.append(f"{key[0]}:{key[1]} has {n} links labelled {label.name!r} (limit {label.limit_count})")
    for limit in PairLimit.select():
        counts = defaultdict(int)
        for fo, fi in Association.select(Association.from_object, Association.from_id).where(
                (Association.from_object == limit.from_object_id) & (Association.to_object == limit.to_object_id)).tuples():
            counts[(fo, fi)] += 1
        for key, n in counts.items():
            if n > limit.limit_count:
                problems.append(f"{key[0]}:{key[1]} has {n} links to object {limit.to_object_id} (limit {limit.limit_count})")
    return problems


def replay_history(registry) -> dict:
    """The links and labels the association history says exist now: {(a, b) pair key: set(labels)}."""
    AssociationChange = registry.models.AssociationChange
    state: dict[frozenset, dict] = {}
    for a_o, a_i, b_o, b_i, action, label, old_label in AssociationChange.select(
            AssociationChange.a_object, AssociationChange.a_id, AssociationChange.b_object, AssociationChange.b_id,
            AssociationChange.action, AssociationChange.label, AssociationChange.inverse_label).order_by(
            AssociationChange.id).tuples():
        key = frozenset([(a_o, a_i), (b_o, b_i)])
        if action in ("created", "created_primary"):
            state[key] = {"labels": set(), "primary": action == "created_primary"}
        elif action == "removed":
            state.pop(key, None)
        elif key in state:
            if action == "label_added":
                state[key]["labels"].add(((a_o, a_i), label))
            elif action == "label_removed":
                state[key]["labels"].discard(((a_o, a_i), label))
            elif action == "label_renamed":  # label: the new name; inverse_label: the name before
                if ((a_o, a_i), old_label) in state[key]["labels"]:
                    state[key]["labels"].discard(((a_o, a_i), old_label))
                    state[key]["labels"].add(((a_o, a_i), label))
            elif action == "primary_set":
                state[key]["primary"] = True
            elif action == "primary_removed":
                state[key]["primary"] = False
    return state


def check_history_matches_state(registry) -> list[str]:
    LabelDef = registry.models.LabelDef
    names = dict(LabelDef.select(LabelDef.id, LabelDef.name).tuples())
    replayed = replay_history(registry)
    actual = {}
    for (fo, fi, to, ti), (prim, labels, _eid) in _edges(registry).items():
        key = frozenset([(fo, fi), (to, ti)])
        entry = actual.setdefault(key, {"labels": set(), "primary": prim})
        for label_id in labels:
            entry["labels"].add(((fo, fi), names[label_id]))
    problems = []
    for key in set(replayed) | set(actual):
        if key not in actual:
            problems.append(f"history says {sorted(key)} are linked, but they are not")
        elif key not in replayed:
            problems.append(f"{sorted(key)} are linked, but history has no record of it")
        else:
            if replayed[key]["primary"] != actual[key]["primary"]:
                problems.append(f"{sorted(key)}: history and state disagree on primary")
            # a label is seen from either side; compare as "some side carries it"
            want = {name for _side, name in replayed[key]["labels"]}
            have = {name for _side, name in actual[key]["labels"]}
            if not want <= have:
                problems.append(f"{sorted(key)}: history has labels {sorted(want - have)} that the link lacks")
    return problems


def check_counts(registry) -> list[str]:
    """The trigger-kept association counts agree with the edges."""
    models = registry.models
    Association, AssociationCount = models.Association, models.AssociationCount

    actual = defaultdict(int)
    for fo, fi, to in Association.select(Association.from_object, Association.from_id, Association.to_object).tuples():
        actual[(fo, fi, to)] += 1
    kept = {(fo, fi, to): n for fo, fi, to, n in AssociationCount.select(
        AssociationCount.from_object, AssociationCount.from_id, AssociationCount.to_object, AssociationCount.n).tuples() if n}
    return [f"{key[0]}:{key[1]} -> object {key[2]}: count says {kept.get(key, 0)}, edges say {actual.get(key, 0)}"
            for key in set(actual) | set(kept) if actual.get(key, 0) != kept.get(key, 0)][:20]


def check_all(registry) -> list[str]:
    return (check_bidirectional(registry) + check_primary(registry) + check_limits(registry)
            + check_history_matches_state(registry) + check_counts(registry))


def check_property_history(crm, limit: int = 20) -> list[str]:
    """The newest history row of each property says the value the record holds now."""
    PropertyChange = crm.models.PropertyChange
    latest = {}
    for obj, rid, prop, new in (PropertyChange.select(PropertyChange.object, PropertyChange.record_id,
                                                      PropertyChange.property, PropertyChange.new_value)
                                .order_by(PropertyChange.id).tuples()):
        latest[(obj, rid, prop)] = new
    problems = []
    for (obj, rid, prop), new in latest.items():
        meta = crm.registry.by_id.get(obj)
        if meta is None or prop not in meta.properties:
            continue
        row = crm.records._row(meta, rid)
        if row is None:
            continue  # hard-deleted by an import undo, with its history kept
        held = to_text(meta.properties[prop], row.get(prop))
        if held != new:
            problems.append(f"{meta.name}:{rid}.{prop}: history says {new!r}, the record holds {held!r}")
            if len(problems) >= limit:
                break
    return problems
