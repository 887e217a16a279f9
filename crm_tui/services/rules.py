"""Object-specific rules, kept as small functions the records service calls at fixed points.

Lifecycle stages, the email domain of contacts and automatic association by domain live here, so
that screens, the command line and imports all get them through the same path. The rules a change
sets off afterwards (lifecycle promotion by deals, close dates, the activity roll-up, last activity
dates) have one set-based form each (see "set-based rules" below): a single change calls it with a
set of one, an import with a whole batch.
"""

from __future__ import annotations

from datetime import date

from ..domain import sources
from ..domain.errors import InvalidValue
from ..domain.types import email_domain, now_iso, property_type

LIFECYCLE_ORDER = [
    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist",
]
# "other" sits outside the order: it never blocks and is never moved by automation.


def lifecycle_rank(stage: str | None) -> int:
    if stage in LIFECYCLE_ORDER:
        return LIFECYCLE_ORDER.index(stage)
    return -1


def before_create(crm, meta, values: dict, *, subscriber: bool = False) -> None:
    if has_pipelines(meta):
        check_pipeline_stage(crm, meta, {}, values, creating=True)
    if meta.name == "contacts":
        if values.get("lifecyclestage") is None:
            values["lifecyclestage"] = "subscriber" if subscriber else "lead"
        values["hs_email_domain"] = email_domain(values.get("email"))


def after_create(crm, meta, record_id: int, values: dict, op) -> list[str]:
    notes: list[str] = []
    if meta.name in CLOSE_DATE:
        notes += _stage_automations(crm, meta, record_id, {}, values, op)
    if meta.name == "emails":
        record_email_addresses(crm, [record_id])
    if crm.setting("auto_associate_by_domain", True):
        if meta.name == "contacts" and values.get("hs_email_domain"):
            notes += crm.assoc.auto_associate_contact(record_id, values["hs_email_domain"], op)
        elif meta.name == "companies" and values.get("domain"):
            notes += crm.assoc.auto_associate_company(record_id, values["domain"], op)
    if meta.name == "contacts":
        linked = link_emails_by_address(crm, [record_id])
        if linked:
            notes.append(f"linked with {linked} earlier email(s) of its address")
    return notes


def before_update(crm, meta, row: dict, changes: dict) -> None:
    if has_pipelines(meta):
        check_pipeline_stage(crm, meta, row, changes, creating=False)
    if "lifecyclestage" in changes and meta.name in ("contacts", "companies"):
        old, new = row.get("lifecyclestage"), changes["lifecyclestage"]
        if old and new and old != "other" and new != "other" and lifecycle_rank(new) < lifecycle_rank(old):
            prop = meta.properties["lifecyclestage"]
            raise InvalidValue(
                f"lifecycle stage only moves forward: {meta.label.lower()} {row['id']} is "
                f"{prop.option_label(old)}; clear it first, then set {prop.option_label(new)}"
            )
    if meta.name == "contacts" and "email" in changes:
        domain = email_domain(changes["email"])
        if domain != row.get("hs_email_domain"):
            changes["hs_email_domain"] = domain


def after_update(crm, meta, record_id: int, row: dict, changes: dict, op) -> list[str]:
    notes: list[str] = []
    if meta.name in CLOSE_DATE:
        notes += _stage_automations(crm, meta, record_id, row, changes, op)
    if meta.name == "contacts" and changes.get("hs_email_domain") and crm.setting("auto_associate_by_domain", True):
        notes += crm.assoc.auto_associate_contact(record_id, changes["hs_email_domain"], op)
    if meta.name == "companies" and changes.get("domain") and crm.setting("auto_associate_by_domain", True):
        notes += crm.assoc.auto_associate_company(record_id, changes["domain"], op)
    if meta.name in CONTACTED_BY and changes.get("hs_timestamp"):  # a meeting moved (a calendar's event changed)
        Association = crm.models.Association
        touch_last_contacted(crm, [((crm.registry.by_id[o].name, i), (meta.name, record_id)) for o, i in
                                   Association.select(Association.to_object, Association.to_id).where(
                                       (Association.from_object == meta.id) & (Association.from_id == record_id)).tuples()])
    if meta.name == "emails" and {"hs_email_from", "hs_email_to", "hs_email_cc"} & set(changes):
        record_email_addresses(crm, [record_id])
    if meta.name == "contacts" and {"email", "hs_additional_emails"} & set(changes):
        linked = link_emails_by_address(crm, [record_id])
        if linked:
            notes.append(f"linked with {linked} earlier email(s) of its address")
    return notes


def advance_lifecycle(crm, object_name: str, record_id: int, target: str, op) -> bool:
    """Move a contact or company forward to `target` (never backward). Source Job."""
    return bool(advance_lifecycles(crm, {(object_name, int(record_id)): target}))


# -- pipelines and stage automations (deals, tickets) ------------------------------------------

def has_pipelines(meta) -> bool:
    """Any object with pipeline and stage properties (deals, tickets, custom objects given pipelines)."""
    from .pipelines import pipeline_props  # lazy: not needed for the first frame (start-up speed)

    return pipeline_props(meta) is not None


def check_pipeline_stage(crm, meta, row: dict, values: dict, *, creating: bool) -> None:
    """A deal's stage (a ticket's status) must belong to its pipeline; a new record without them
    gets the default pipeline and its first stage. A stage label shared by several pipelines
    (e.g. "Closed won") is resolved to the stage of the record's own pipeline."""
    from . import pipelines  # lazy: not needed for the first frame (start-up speed)

    pipe_prop, stage_prop, _amount = pipelines.pipeline_props(meta)
    if creating:
        default = pipelines.default_pipeline(crm, meta.name)
        if default is None:
            return
        if values.get(pipe_prop) is None:
            values[pipe_prop] = default.name
        if values.get(stage_prop) is None:
            info = pipelines.get_pipeline(crm, meta.name, values[pipe_prop])
            first = next(iter(info.active_stages), None)
            if first is not None:
                values[stage_prop] = first.name
    if pipe_prop not in values and stage_prop not in values:
        return
    pipeline = values[pipe_prop] if pipe_prop in values else row.get(pipe_prop)
    stage = values[stage_prop] if stage_prop in values else row.get(stage_prop)
    info = pipelines.get_pipeline(crm, meta.name, pipeline)
    if info.archived and (creating or pipe_prop in values):
        raise InvalidValue(f"pipeline {info.label} is archived; choose an active pipeline")
    if stage is None:
        return
    prop = meta.properties[stage_prop]
    found = info.stage(stage)
    if found is None:
        found = info.find_stage(prop.option_label(stage))
        if found is None:
            stages = ", ".join(s.label for s in info.active_stages)
            raise InvalidValue(f"{prop.label.lower()} {prop.option_label(stage)!r} is not in pipeline {info.label}"
                               f" (choose one of: {stages})")
        values[stage_prop] = found.name
    if found.archived and found.name != row.get(stage_prop):
        raise InvalidValue(f"{prop.label.lower()} {found.label!r} of pipeline {info.label} is archived")


def _stage_kinds(crm, meta, row: dict, changes: dict) -> tuple[str | None, str | None] | None:
    from . import pipelines  # lazy: not needed for the first frame (start-up speed)

    pipe_prop, stage_prop, _amount = pipelines.pipeline_props(meta)
    if stage_prop not in changes and pipe_prop not in changes:
        return None
    old = pipelines.stage_kind(crm, meta.name, row.get(pipe_prop), row.get(stage_prop)) if row else None
    new = pipelines.stage_kind(crm, meta.name, changes.get(pipe_prop, row.get(pipe_prop)),
                               changes.get(stage_prop, row.get(stage_prop)))
    return old, new


def _job_write(crm, meta, record_id: int, values: dict) -> None:
    row = crm.records._row(meta, record_id)
    with crm.operation("automation", sources.JOB, None, object=meta.name, record_id=record_id) as job:
        crm.records._write_changes(meta, record_id, row, values, job)
    crm.workflows.after_bulk_update(meta.name, {record_id: values})  # "changed" workflows, as for any change


def _stage_automations(crm, meta, record_id: int, row: dict, changes: dict, op) -> list[str]:
    """A deal entering a won stage makes its contacts and companies customers; a deal entering
    won or lost gets a close date when it has none; a ticket entering a closed status gets its
    close date. Each runs as a Job operation nested under the user's one and can be switched off."""
    kinds = _stage_kinds(crm, meta, row, changes)
    if kinds is None:
        return []
    old, new = kinds
    notes: list[str] = []
    if not row:  # a new record: the set of one of the bulk paths' close dates
        if set_close_dates(crm, meta.name, [record_id]):
            notes.append(f"close date set to {date.today().isoformat()}" if meta.name == "deals" else "close date set")
        if meta.name == "deals" and new == "won" and crm.setting("lifecycle_customer_on_won", True):
            notes += _advance_linked(crm, record_id, "customer")
        return notes
    if meta.name == "deals":
        if new in ("won", "lost") and crm.setting("set_close_date", True) \
                and not row.get("closedate") and not changes.get("closedate"):
            _job_write(crm, meta, record_id, {"closedate": date.today().isoformat()})
            notes.append(f"close date set to {date.today().isoformat()}")
        if new == "won" and old != "won" and crm.setting("lifecycle_customer_on_won", True):
            notes += _advance_linked(crm, record_id, "customer")
    elif meta.name == "tickets":
        if new == "closed" and old != "closed" and crm.setting("set_close_date", True) \
                and not changes.get("closed_date"):
            _job_write(crm, meta, record_id, {"closed_date": now_iso()})
            notes.append("close date set")
    return notes


def _advance_linked(crm, deal_id: int, target: str) -> list[str]:
    targets = {(object_name, rid): target for object_name in ("contacts", "companies") if object_name in crm.registry.objects
               for rid in crm.assoc.linked_ids(("deals", deal_id), object_name)}
    return _moved_notes(crm, advance_lifecycles(crm, targets))


def _moved_notes(crm, moved: dict) -> list[str]:
    notes = []
    for object_name in ("contacts", "companies"):
        for target in LIFECYCLE_ORDER:
            ids = [rid for (obj, rid), stage in moved.items() if obj == object_name and stage == target]
            if ids:
                meta = crm.registry.get(object_name)
                label = meta.plural_label.lower() if len(ids) != 1 else meta.label.lower()
                notes.append(f"{len(ids)} {label} became {meta.properties['lifecyclestage'].option_label(target)}")
    return notes


def after_link(crm, a_meta, a_id: int, b_meta, b_id: int, op) -> list[str]:
    """A deal linked with a contact or company moves it to Opportunity (Customer when the deal is
    already won; a lost deal changes nothing). Forward-only, source Job. The set of one of
    `promote_for_deal_links`, which the bulk paths call. An email, call or meeting moves "Last
    contacted" (touch_last_contacted)."""
    if a_meta.name in CONTACTED_BY or b_meta.name in CONTACTED_BY:
        touch_last_contacted(crm, [((a_meta.name, a_id), (b_meta.name, b_id))])
    if a_meta.name == "deals":
        deal_id, other, other_id = a_id, b_meta, b_id
    elif b_meta.name == "deals":
        deal_id, other, other_id = b_id, a_meta, a_id
    else:
        return []
    moved = promote_for_deal_links(crm, [(deal_id, other.name, other_id)])
    return [f"{other.label.lower()} {other_id} became {other.properties['lifecyclestage'].option_label(target)}"
            for (_obj, _rid), target in moved.items()]


# -- set-based rules ---------------------------------------------------------------------------
#
# One form of each rule for any number of records: a single change calls it with a set of one, the
# bulk paths (import, restore, merge) with a whole batch. Each reads and writes with a few
# statements per batch (never one per record) and writes its changes as one Job operation, nested
# under the caller's. Switches are parameters (None: the database's settings), so a caller that
# reads them from elsewhere (the config file) passes them in.

def _chunks(items: list, size: int = 900):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _select_in(meta, columns: list[str], ids) -> list[tuple]:
    """(id, *columns) of the records `ids` of one object, deleted ones included."""
    model = meta.model
    fields = [model.id] + [getattr(model, c) for c in columns]
    out = []
    for chunk in _chunks(sorted(set(ids))):
        out += list(model.select(*fields).where(model.id.in_(chunk)).tuples())
    return out


def stage_kinds(crm, object_name: str, ids) -> dict[int, str | None]:
    """{record id: kind of its stage (open/won/lost, open/closed) or None} for live deals or tickets."""
    from . import pipelines

    meta = crm.registry.get(object_name)
    pipe_prop, stage_prop, _amount = pipelines.pipeline_props(meta)
    seen: dict[tuple, str | None] = {}
    out = {}
    for rid, pipeline, stage, deleted in _select_in(meta, [pipe_prop, stage_prop, "deleted_at"], ids):
        if deleted is not None:
            continue
        key = (pipeline, stage)
        if key not in seen:
            seen[key] = pipelines.stage_kind(crm, object_name, pipeline, stage)
        out[rid] = seen[key]
    return out


def place_records(crm, object_name: str) -> int:
    """Records of an object that just got its first pipeline go to its default pipeline's first
    stage (as a record created later would), one history row per value, under a Job operation
    nested in the caller's (undoing the schema change takes them back out). Returns how many."""
    from . import pipelines  # lazy: not needed for the first frame (start-up speed)

    meta = crm.registry.get(object_name)
    pipe_prop, stage_prop, _amount = pipelines.pipeline_props(meta)
    info = pipelines.default_pipeline(crm, meta.name)
    first = next(iter(info.active_stages), None) if info is not None else None
    if first is None:
        return 0
    model = meta.model
    ids = [rid for (rid,) in model.select(model.id).where(
        getattr(model, pipe_prop).is_null(True) & getattr(model, stage_prop).is_null(True)).tuples()]
    if ids:
        with _job(crm, {(meta.name, rid): 1 for rid in ids}, "pipeline_placement") as job:
            write_values(crm, meta.name, {rid: {pipe_prop: info.name, stage_prop: first.name} for rid in ids}, job)
    return len(ids)


def _job(crm, changed: dict, kind: str = "automation"):
    """The Job operation a set of automatic changes is written under (naming the record when one)."""
    if len(changed) == 1:
        (object_name, record_id), = changed
        return crm.operation(kind, sources.JOB, None, object=object_name, record_id=record_id)
    return crm.operation(kind, sources.JOB, None, summary={"records": len(changed)})


def write_values(crm, object_name: str, values: dict[int, dict], op) -> None:
    """Write {record id: {property: value}} with their history rows under `op`: one UPDATE per
    distinct set of values and one INSERT of history rows per batch."""
    PropertyChange = crm.models.PropertyChange

    if not values:
        return
    meta = crm.registry.get(object_name)
    props = meta.properties
    current = {row[0]: row for row in _select_in(meta, sorted({p for v in values.values() for p in v}), values)}
    names = sorted({p for v in values.values() for p in v})
    history = []
    groups: dict[tuple, list[int]] = {}
    for rid, changes in values.items():
        row = current.get(rid)
        if row is None:
            continue
        old = dict(zip(names, row[1:]))
        for name, value in changes.items():
            history.append((op.id, meta.id, rid, name, property_type(props[name].type).to_text(old.get(name)), property_type(props[name].type).to_text(value)))
        groups.setdefault(tuple(sorted(changes.items())), []).append(rid)
    now = now_iso()
    for items, ids in groups.items():
        for chunk in _chunks(ids):
            meta.model.update(lastmodifieddate=now, **dict(items)).where(meta.model.id.in_(chunk)).execute()
    fields = [PropertyChange.op, PropertyChange.object, PropertyChange.record_id, PropertyChange.property,
              PropertyChange.old_value, PropertyChange.new_value]
    for chunk in _chunks(history, 500):
        PropertyChange.insert_many(chunk, fields=fields).execute()
    if any(name in meta.search for name in names):
        for rid in values:
            crm.records._index_text(meta, rid)
    crm.workflows.after_bulk_update(object_name, values)  # "changed" workflows, as for any change


def advance_lifecycles(crm, targets: dict[tuple[str, int], str]) -> dict[tuple[str, int], str]:
    """Move contacts and companies forward to their target stage ({(object, id): stage}): never
    backward, never from Other, never a deleted record. One Job operation; returns what moved."""
    by_object: dict[str, dict[int, str]] = {}
    for (object_name, rid), target in targets.items():
        by_object.setdefault(object_name, {})[int(rid)] = target
    moved: dict[tuple[str, int], str] = {}
    for object_name, wanted in by_object.items():
        meta = crm.registry.get(object_name)
        for rid, current, deleted in _select_in(meta, ["lifecyclestage", "deleted_at"], wanted):
            target = wanted[rid]
            if deleted is None and current != "other" and lifecycle_rank(current) < lifecycle_rank(target):
                moved[(object_name, rid)] = target
    if not moved:
        return moved
    with _job(crm, moved) as job:
        for object_name in by_object:
            write_values(crm, object_name, {rid: {"lifecyclestage": target} for (obj, rid), target in moved.items()
                                            if obj == object_name}, job)
    return moved


def promote_for_deal_links(crm, links, *, opportunity_on_deal: bool | None = None,
                           customer_on_won: bool | None = None) -> dict[tuple[str, int], str]:
    """The lifecycle rule of new links between deals and contacts or companies: `links` are
    (deal id, object name, record id). An open deal makes the record an Opportunity, a won one a
    Customer, a lost one changes nothing; forward only. Returns {(object, id): stage} moved."""
    links = [(int(d), o, int(r)) for d, o, r in links if o in ("contacts", "companies")]
    if not links or "deals" not in crm.registry.objects:
        return {}
    if opportunity_on_deal is None:
        opportunity_on_deal = crm.setting("lifecycle_opportunity_on_deal", True)
    if customer_on_won is None:
        customer_on_won = crm.setting("lifecycle_customer_on_won", True)
    kinds = stage_kinds(crm, "deals", {d for d, _o, _r in links})
    targets: dict[tuple[str, int], str] = {}
    for deal_id, object_name, rid in links:
        if deal_id not in kinds:
            continue  # deleted or gone
        kind = kinds[deal_id]
        if kind == "won" and customer_on_won:
            target = "customer"
        elif kind in (None, "open") and opportunity_on_deal:
            target = "opportunity"
        else:
            continue
        key = (object_name, rid)
        if lifecycle_rank(target) > lifecycle_rank(targets.get(key)):
            targets[key] = target
    return advance_lifecycles(crm, targets) if targets else {}


CLOSE_DATE = {"deals": ("closedate", ("won", "lost")), "tickets": ("closed_date", ("closed",))}


def set_close_dates(crm, object_name: str, ids, *, enabled: bool | None = None) -> list[int]:
    """New deals in a won or lost stage (today) and new tickets in a closed status (now) that have no
    close date get one, source Job. Returns the ids that got one."""

    if object_name not in CLOSE_DATE:
        return []
    if enabled is None:
        enabled = crm.setting("set_close_date", True)
    if not enabled:
        return []
    prop, closed = CLOSE_DATE[object_name]
    kinds = stage_kinds(crm, object_name, ids)
    wanted = [rid for rid, kind in kinds.items() if kind in closed]
    if not wanted:
        return []
    meta = crm.registry.get(object_name)
    empty = [rid for rid, value in _select_in(meta, [prop], wanted) if not value]
    if not empty:
        return []
    value = date.today().isoformat() if object_name == "deals" else now_iso()
    with _job(crm, {(object_name, rid): value for rid in empty}) as job:
        write_values(crm, object_name, {rid: {prop: value} for rid in empty}, job)
    return empty


def activity_rule_targets(crm, refs, *, activity_rules: dict | None = None,
                          enabled: bool | None = None) -> dict[tuple[str, int], list[tuple[str, int]]]:
    """The records an activity logged on each record of `refs` also lands on, by the activity rules
    (a contact's primary company and open deals by default): {ref: [(object, id), ...]}, in rule
    order, each rule's records oldest link first. A few statements per object and rule."""
    Association, Stage = crm.models.Association, crm.models.Stage

    if enabled is None:
        enabled = crm.setting("activity_auto_associate", True)
    if activity_rules is None:
        activity_rules = crm.setting("activity_rules", {}) or {}
    refs = [(o, int(i)) for o, i in refs]
    out: dict[tuple[str, int], list[tuple[str, int]]] = {ref: [] for ref in refs}
    if not enabled:
        return out
    reg = crm.registry
    by_object: dict[str, list[int]] = {}
    for o, i in refs:
        by_object.setdefault(o, []).append(i)
    for object_name, ids in by_object.items():
        meta = reg.get(object_name)
        for rule in activity_rules.get(object_name, []):
            other, _, which = rule.partition(":")
            if other not in reg.objects:
                continue
            if which == "primary" and other != "companies":
                continue
            other_meta = reg.get(other)
            found: list[tuple[int, int]] = []
            for chunk in _chunks(sorted(set(ids))):
                q = (Association.select(Association.from_id, Association.to_id)
                     .where((Association.from_object == meta.id) & Association.from_id.in_(chunk)
                            & (Association.to_object == other_meta.id)))
                if which == "primary":
                    q = q.where(Association.is_primary == True)  # noqa: E712
                found += list(q.order_by(Association.id).tuples())
            if which == "open" and other == "deals":
                closed = {name for (name,) in Stage.select(Stage.name).where(Stage.kind.in_(["won", "lost"])).tuples()}
                live_open = {rid for rid, stage, deleted in _select_in(other_meta, ["dealstage", "deleted_at"],
                                                                        {t for _f, t in found})
                             if deleted is None and stage not in closed}
                found = [(f, t) for f, t in found if t in live_open]
            for from_id, to_id in found:
                out[(object_name, from_id)].append((other, to_id))
    return out


def touch_last_activity(crm, stamps: dict[tuple[str, int], str]) -> int:
    """Move "Last activity date" forward to the given time on each record ({(object, id): time}) that
    has the property, source Job. Returns how many records moved."""
    moved: dict[str, dict[int, dict]] = {}
    for (object_name, rid), at in stamps.items():
        if at:
            moved.setdefault(object_name, {})[int(rid)] = at
    changes: dict[tuple[str, int], str] = {}
    for object_name, wanted in moved.items():
        meta = crm.registry.get(object_name)
        if "notes_last_updated" not in meta.properties:
            continue
        for rid, current, deleted in _select_in(meta, ["notes_last_updated", "deleted_at"], wanted):
            if deleted is None and (current or "") < wanted[rid]:
                changes[(object_name, rid)] = wanted[rid]
    if not changes:
        return 0
    with _job(crm, changes, "last_activity") as job:
        for object_name in moved:
            write_values(crm, object_name, {rid: {"notes_last_updated": at} for (obj, rid), at in changes.items()
                                            if obj == object_name}, job)
    return len(changes)


def roll_up_activities(crm, logged, op, *, cap: int | None = None, activity_rules: dict | None = None,
                       enabled: bool | None = None) -> tuple[int, list]:
    """The activities of `logged` ((record object, id), (activity object, id): where each activity
    was logged) also land on the records the activity rules name (a contact's primary company and
    open deals), up to the engagement cap of activities per record, through the bulk link path
    under `op`; then "Last activity date" moves forward on every record they are on. Returns
    (links made, [(record, activity)] left out over the cap)."""
    AssociationCount = crm.models.AssociationCount

    logged = [((o, int(i)), (ao, int(ai))) for (o, i), (ao, ai) in logged]
    if not logged:
        return 0, []
    if cap is None:
        cap = int(crm.setting("engagement_cap", 10000))
    reg = crm.registry
    targets = activity_rule_targets(crm, {ref for ref, _act in logged}, activity_rules=activity_rules, enabled=enabled)
    on: dict[tuple[str, int], list[tuple[str, int]]] = {}  # activity -> the records it is on, in order
    for ref, act in logged:
        on.setdefault(act, []).append(ref)
    wanted: list[tuple[tuple[str, int], tuple[str, int]]] = []
    for act, refs in on.items():
        have = set(refs)
        for ref in list(refs):
            for target in targets.get(ref, ()):
                if target not in have:
                    have.add(target)
                    wanted.append((target, act))
    skipped = []
    if wanted:
        # the engagement cap: activities a record holds now, from the kept link counts
        activity_ids = [m.id for m in reg.objects.values() if m.is_activity]
        held: dict[tuple[str, int], int] = {}
        by_object: dict[str, set[int]] = {}
        for (o, i), _act in wanted:
            by_object.setdefault(o, set()).add(i)
        for o, ids in by_object.items():
            meta = reg.get(o)
            for chunk in _chunks(sorted(ids)):
                for rid, n in (AssociationCount.select(AssociationCount.from_id, AssociationCount.n)
                               .where((AssociationCount.from_object == meta.id) & AssociationCount.from_id.in_(chunk)
                                      & AssociationCount.to_object.in_(activity_ids)).tuples()):
                    held[(o, rid)] = held.get((o, rid), 0) + n
        pairs = []
        for target, act in wanted:
            if held.get(target, 0) >= cap:
                skipped.append((target, act))
                continue
            held[target] = held.get(target, 0) + 1
            pairs.append((target, act))
            on[act].append(target)
        made = crm.assoc.bulk_link(pairs, op) if pairs else 0
    else:
        made = 0
    # "Last activity date": the newest activity on each record
    stamps: dict[tuple[str, int], str] = {}
    by_activity: dict[str, list[int]] = {}
    for o, i in on:
        by_activity.setdefault(o, []).append(i)
    for o, ids in by_activity.items():
        meta = reg.get(o)
        if "hs_timestamp" not in meta.properties:
            continue
        for aid, at in _select_in(meta, ["hs_timestamp"], ids):
            for ref in on[(o, aid)]:
                if at and at > stamps.get(ref, ""):
                    stamps[ref] = at
    touch_last_activity(crm, stamps)
    return made, skipped


# -- Last contacted ----------------------------------------------------------------------------
#
# "Last contacted" (notes_last_contacted) is the time of the newest email, call or meeting on a
# record. Every new link between such an activity and a record that has the property moves it, by
# whatever path the link was made (an activity logged, linked by hand, rolled up to a company,
# imported, a mail logged, a meeting from a calendar): after_link for one link, bulk_link for many.

LAST_CONTACTED = "notes_last_contacted"
CONTACTED_BY = ("emails", "calls", "meetings")


def touch_last_contacted(crm, links) -> int:
    """Move "Last contacted" forward on the records of `links` ((record, activity) pairs, either
    order, of an email, call or meeting with a record that has the property) to the activity's
    time: never backward, never to a time still to come, never on a deleted record or from a
    deleted activity. One Job operation; returns how many records moved."""
    reg = crm.registry
    on: dict[tuple[str, int], set[tuple[str, int]]] = {}  # activity -> records
    for a, b in links:
        a, b = (str(a[0]), int(a[1])), (str(b[0]), int(b[1]))
        if a[0] in CONTACTED_BY:
            a, b = b, a
        if b[0] not in CONTACTED_BY or a[0] not in reg.objects or LAST_CONTACTED not in reg.get(a[0]).properties:
            continue
        on.setdefault(b, set()).add(a)
    if not on:
        return 0
    now = now_iso()
    stamps: dict[tuple[str, int], str] = {}
    by_activity: dict[str, list[int]] = {}
    for o, i in on:
        by_activity.setdefault(o, []).append(i)
    for o, ids in by_activity.items():
        if o not in reg.objects or "hs_timestamp" not in reg.get(o).properties:
            continue
        for aid, at, deleted in _select_in(reg.get(o), ["hs_timestamp", "deleted_at"], ids):
            if not at or deleted is not None or at > now:
                continue
            for ref in on[(o, aid)]:
                if at > stamps.get(ref, ""):
                    stamps[ref] = at
    changes: dict[tuple[str, int], str] = {}
    by_object: dict[str, dict[int, str]] = {}
    for (o, i), at in stamps.items():
        by_object.setdefault(o, {})[i] = at
    for object_name, wanted in by_object.items():
        for rid, current, deleted in _select_in(reg.get(object_name), [LAST_CONTACTED, "deleted_at"], wanted):
            if deleted is None and (current or "") < wanted[rid]:
                changes[(object_name, rid)] = wanted[rid]
    if not changes:
        return 0
    with _job(crm, changes, "last_contacted") as job:
        for object_name in by_object:
            write_values(crm, object_name, {rid: {LAST_CONTACTED: at} for (obj, rid), at in changes.items()
                                            if obj == object_name}, job)
    return len(changes)


def contacted_in_edges(crm, first: int, last: int) -> int:
    """The Last contacted rule for the links among the edges first..last (bulk_link's new edges)."""
    Association = crm.models.Association
    reg = crm.registry
    acts = {reg.objects[n].id: n for n in CONTACTED_BY if n in reg.objects}
    holders = {m.id: m.name for m in reg.objects.values() if LAST_CONTACTED in m.properties}
    if not acts or not holders:
        return 0
    links = [((acts[ao], aid), (holders[ho], hid)) for ao, aid, ho, hid in Association.select(
        Association.from_object, Association.from_id, Association.to_object, Association.to_id).where(
        Association.id.between(first, last) & Association.from_object.in_(list(acts))
        & Association.to_object.in_(list(holders))).tuples()]
    return touch_last_contacted(crm, links) if links else 0


# -- email activities belong to their addresses ------------------------------------------------

def addresses_in(*texts) -> set[str]:
    """The email addresses (lower case) in header-like texts ("Ann <ann@acme.com>, bob@x.org") and
    in ;-separated lists (a contact's additional emails)."""
    from email.utils import getaddresses

    found = set()
    for text in texts:
        if not text:
            continue
        for _name, address in getaddresses([str(text).replace(";", ",")]):
            address = address.strip().lower()
            if "@" in address and " " not in address and len(address) <= 254:  # RFC 5321's longest
                found.add(address)
    return found


def record_email_addresses(crm, email_ids) -> int:
    """Remember the addresses each email activity of `email_ids` is from, to or cc (MailAddress),
    replacing what was kept for them. Set-based; returns the rows written."""
    MailAddress = crm.models.MailAddress
    reg = crm.registry
    if "emails" not in reg.objects:
        return 0
    meta = reg.get("emails")
    columns = [c for c in ("hs_email_from", "hs_email_to", "hs_email_cc") if c in meta.properties]
    rows = []
    ids = sorted({int(i) for i in email_ids})
    for chunk in _chunks(ids):
        MailAddress.delete().where(MailAddress.email_id.in_(chunk)).execute()
    for rid, *texts in _select_in(meta, columns, ids):
        rows += [(rid, address) for address in sorted(addresses_in(*texts))]
    for chunk in _chunks(rows, 400):
        MailAddress.insert_many(chunk, fields=[MailAddress.email_id, MailAddress.address]).on_conflict_ignore().execute()
    return len(rows)


def contact_addresses(crm, contact_ids) -> dict[int, set[str]]:
    """{contact id: its addresses (email and additional emails, lower case)} of live contacts."""
    meta = crm.registry.get("contacts")
    columns = [c for c in ("email", "hs_additional_emails") if c in meta.properties]
    out = {}
    for rid, *values in _select_in(meta, columns + ["deleted_at"], contact_ids):
        if values[-1] is None:
            found = addresses_in(*values[:-1])
            if found:
                out[rid] = found
    return out


def link_emails_by_address(crm, contact_ids) -> int:
    """Link each live contact of `contact_ids` with the live email activities from, to or cc one of
    its addresses that it is not linked with yet (a contact deleted and created again gets its
    emails back), through the bulk link path, source Job; the emails then also land on the records
    the activity rules name (its primary company, open deals). Returns the links made."""
    MailAddress, Association = crm.models.MailAddress, crm.models.Association
    reg = crm.registry
    if "emails" not in reg.objects or "contacts" not in reg.objects or not MailAddress.select().exists():
        return 0
    addresses = contact_addresses(crm, contact_ids)
    if not addresses:
        return 0
    owners: dict[str, set[int]] = {}
    for rid, found in addresses.items():
        for address in found:
            owners.setdefault(address, set()).add(rid)
    hits: dict[int, set[int]] = {}  # email id -> contacts
    for chunk in _chunks(sorted(owners)):
        for email_id, address in MailAddress.select(MailAddress.email_id, MailAddress.address).where(
                MailAddress.address.in_(chunk)).tuples():
            hits.setdefault(email_id, set()).update(owners[address])
    if not hits:
        return 0
    emails, contacts = reg.get("emails"), reg.get("contacts")
    live = {rid for rid, deleted in _select_in(emails, ["deleted_at"], hits) if deleted is None}
    pairs = {(cid, eid) for eid in live for cid in hits[eid]}
    if not pairs:
        return 0
    for chunk in _chunks(sorted(addresses)):
        for cid, eid in Association.select(Association.from_id, Association.to_id).where(
                (Association.from_object == contacts.id) & Association.from_id.in_(chunk)
                & (Association.to_object == emails.id)).tuples():
            pairs.discard((cid, eid))
    if not pairs:
        return 0
    ordered = sorted(pairs)
    changed = {("contacts", cid): True for cid, _eid in ordered}
    with _job(crm, changed, "email_by_address") as job:
        made = crm.assoc.bulk_link([(("contacts", cid), ("emails", eid)) for cid, eid in ordered], job,
                                   primary_to_companies=False)
        roll_up_activities(crm, [(("contacts", cid), ("emails", eid)) for cid, eid in ordered], job)
    return made
