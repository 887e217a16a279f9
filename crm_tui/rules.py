"""Object-specific rules, kept as small functions the records service calls at fixed points.

Lifecycle stages, the email domain of contacts and automatic association by domain live here, so
that screens, the command line and imports all get them through the same path.
"""

from __future__ import annotations

from . import sources
from .errors import InvalidValue
from .types import email_domain

LIFECYCLE_ORDER = [
    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist",
]
# "other" sits outside the order: it never blocks and is never moved by automation.


def lifecycle_rank(stage: str | None) -> int:
    if stage in LIFECYCLE_ORDER:
        return LIFECYCLE_ORDER.index(stage)
    return -1


def before_create(crm, meta, values: dict, *, subscriber: bool = False) -> None:
    if meta.name == "contacts":
        if values.get("lifecyclestage") is None:
            values["lifecyclestage"] = "subscriber" if subscriber else "lead"
        values["hs_email_domain"] = email_domain(values.get("email"))


def after_create(crm, meta, record_id: int, values: dict, op) -> list[str]:
    notes: list[str] = []
    if not crm.setting("auto_associate_by_domain", True):
        return notes
    if meta.name == "contacts" and values.get("hs_email_domain"):
        notes += crm.assoc.auto_associate_contact(record_id, values["hs_email_domain"], op)
    elif meta.name == "companies" and values.get("domain"):
        notes += crm.assoc.auto_associate_company(record_id, values["domain"], op)
    return notes


def before_update(crm, meta, row: dict, changes: dict) -> None:
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
