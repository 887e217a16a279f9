"""Object-specific rules, kept as small functions the records service calls at fixed points.

Lifecycle stages, the email domain of contacts and automatic association by domain live here, so
that screens, the command line and imports all get them through the same path.
"""

from __future__ import annotations

from datetime import date

from . import sources
from .errors import InvalidValue
from .types import email_domain, now_iso

LIFECYCLE_ORDER = [
    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist",
]
# "other" sits outside the order: it never blocks and is never moved by automation.


def lifecycle_rank(stage: str | None) -> int:
    if stage in LIFECYCLE_ORDER:
        return LIFECYCLE_ORDER.index(stage)
    return -1


def before_create(crm, meta, values: dict, *, subscriber: bool = False) -> None:
    if meta.name in PIPELINE_OBJECTS:
        check_pipeline_stage(crm, meta, {}, values, creating=True)
    if meta.name == "contacts":
        if values.get("lifecyclestage") is None:
            values["lifecyclestage"] = "subscriber" if subscriber else "lead"
        values["hs_email_domain"] = email_domain(values.get("email"))


def after_create(crm, meta, record_id: int, values: dict, op) -> list[str]:
    notes: list[str] = []
    if meta.name in PIPELINE_OBJECTS:
        notes += _stage_automations(crm, meta, record_id, {}, values, op)
    if not crm.setting("auto_associate_by_domain", True):
        return notes
    if meta.name == "contacts" and values.get("hs_email_domain"):
        notes += crm.assoc.auto_associate_contact(record_id, values["hs_email_domain"], op)
    elif meta.name == "companies" and values.get("domain"):
        notes += crm.assoc.auto_associate_company(record_id, values["domain"], op)
    return notes


def before_update(crm, meta, row: dict, changes: dict) -> None:
    if meta.name in PIPELINE_OBJECTS:
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
    if meta.name in PIPELINE_OBJECTS:
        notes += _stage_automations(crm, meta, record_id, row, changes, op)
    if meta.name == "contacts" and changes.get("hs_email_domain") and crm.setting("auto_associate_by_domain", True):
        notes += crm.assoc.auto_associate_contact(record_id, changes["hs_email_domain"], op)
    if meta.name == "companies" and changes.get("domain") and crm.setting("auto_associate_by_domain", True):
        notes += crm.assoc.auto_associate_company(record_id, changes["domain"], op)
    return notes


def advance_lifecycle(crm, object_name: str, record_id: int, target: str, op) -> bool:
    """Move a contact or company forward to `target` (never backward). Source Job."""
    meta = crm.registry.get(object_name)
    row = crm.records._row(meta, record_id)
    if row is None or row["deleted_at"] is not None:
        return False
    current = row.get("lifecyclestage")
    if current == "other" or lifecycle_rank(current) >= lifecycle_rank(target):
        return False
    with crm.operation("automation", sources.JOB, None, object=object_name, record_id=record_id) as job:
        crm.records._write_changes(meta, record_id, row, {"lifecyclestage": target}, job)
    return True


# -- pipelines and stage automations (deals, tickets) ------------------------------------------

PIPELINE_OBJECTS = ("deals", "tickets")


def check_pipeline_stage(crm, meta, row: dict, values: dict, *, creating: bool) -> None:
    """A deal's stage (a ticket's status) must belong to its pipeline; a new record without them
    gets the default pipeline and its first stage. A stage label shared by several pipelines
    (e.g. "Closed won") is resolved to the stage of the record's own pipeline."""
    from . import pipelines  # lazy: not needed for the first frame (start-up speed)

    pipe_prop, stage_prop, _amount = pipelines.PROPS[meta.name]
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

    pipe_prop, stage_prop, _amount = pipelines.PROPS[meta.name]
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


def _stage_automations(crm, meta, record_id: int, row: dict, changes: dict, op) -> list[str]:
    """A deal entering a won stage makes its contacts and companies customers; a deal entering
    won or lost gets a close date when it has none; a ticket entering a closed status gets its
    close date. Each runs as a Job operation nested under the user's one and can be switched off."""
    kinds = _stage_kinds(crm, meta, row, changes)
    if kinds is None:
        return []
    old, new = kinds
    notes: list[str] = []
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
    notes = []
    for object_name in ("contacts", "companies"):
        if object_name not in crm.registry.objects:
            continue
        moved = [rid for rid in crm.assoc.linked_ids(("deals", deal_id), object_name)
                 if advance_lifecycle(crm, object_name, rid, target, None)]
        if moved:
            meta = crm.registry.get(object_name)
            label = meta.plural_label.lower() if len(moved) != 1 else meta.label.lower()
            stage = meta.properties["lifecyclestage"].option_label(target)
            notes.append(f"{len(moved)} {label} became {stage}")
    return notes


def after_link(crm, a_meta, a_id: int, b_meta, b_id: int, op) -> list[str]:
    """A deal linked with a contact or company moves it to Opportunity (Customer when the deal is
    already won; a lost deal changes nothing). Forward-only, source Job."""
    if a_meta.name == "deals":
        deal_id, other, other_id = a_id, b_meta, b_id
    elif b_meta.name == "deals":
        deal_id, other, other_id = b_id, a_meta, a_id
    else:
        return []
    if other.name not in ("contacts", "companies"):
        return []
    from . import pipelines  # lazy: not needed for the first frame (start-up speed)

    deals = crm.registry.get("deals")
    row = crm.records._row(deals, deal_id)
    if row is None:
        return []
    kind = pipelines.stage_kind(crm, "deals", row.get("pipeline"), row.get("dealstage"))
    if kind == "won":
        if not crm.setting("lifecycle_customer_on_won", True):
            return []
        target = "customer"
    elif kind in (None, "open"):
        if not crm.setting("lifecycle_opportunity_on_deal", True):
            return []
        target = "opportunity"
    else:
        return []
    if advance_lifecycle(crm, other.name, other_id, target, op):
        return [f"{other.label.lower()} {other_id} became {other.properties['lifecyclestage'].option_label(target)}"]
    return []
