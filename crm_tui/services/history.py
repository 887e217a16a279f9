"""Reading property history: every change with old and new value, time and source.

A record's initial values are not copied into history rows: they are the current value of each
property unless a later change says otherwise (the first change's old value). That keeps bulk
loads cheap and the history still complete enough to show any record as of a past time.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.errors import NotFound
from .records import to_text
from ..domain.types import property_type
from .paging import display_value


@dataclass
class PropertyChangeView:
    at: str
    property: str  # internal name, or "(record)" for created / deleted / restored / merged
    label: str
    old_value: str | None
    new_value: str | None
    source: str
    actor: str | None
    op_id: int


def from_history_text(prop, text: str | None):
    """A value as history stores it (text) back to the stored value: the inverse of records.to_text."""
    return property_type(prop.type).from_text(text)

def shown_value(crm, meta, prop_name: str, text: str | None, date_format: str | None = None) -> str:
    """A history value as the record page shows it: option labels, owner names, local dates."""
    if text is None:
        return "(empty)"
    prop = meta.properties.get(prop_name)
    if prop is None:
        return text
    return display_value(crm, prop, from_history_text(prop, text), date_format)


RECORD_EVENTS = {"delete": "deleted", "restore": "restored", "merge": "merged"}


class History:
    def __init__(self, crm):
        self.crm = crm

    def property_history(self, object_name: str, record_id: int, *, prop: str | None = None) -> list[PropertyChangeView]:
        """Newest first. Includes the values the record was created with and record events."""
        models = self.crm.models
        Operation, PropertyChange = models.Operation, models.PropertyChange
        meta = self.crm.registry.get(object_name)
        record_id = int(record_id)
        row = self.crm.records._row(meta, record_id)
        if row is None:
            raise NotFound(f"no {meta.label.lower()} with id {record_id}")
        if prop is not None:
            found = meta.find_property(prop)
            if found is None:
                raise NotFound(f"{meta.name} has no property {prop!r}")
            prop = found.name
        q = (PropertyChange.select(PropertyChange, Operation.at, Operation.source, Operation.actor)
             .join(Operation, on=(PropertyChange.op == Operation.id))
             .where((PropertyChange.object == meta.id) & (PropertyChange.record_id == record_id))
             .order_by(PropertyChange.id.desc()))
        if prop:
            q = q.where(PropertyChange.property == prop)
        changes = list(q.dicts())
        out = [
            PropertyChangeView(c["at"], c["property"], self._label(meta, c["property"]), c["old_value"], c["new_value"],
                               c["source"], c["actor"], c["op"])
            for c in changes
        ]
        if prop is None:
            for op in Operation.select().where((Operation.object == meta.name) & (Operation.record_id == record_id)
                                               & Operation.kind.in_(list(RECORD_EVENTS))):
                out.append(PropertyChangeView(op.at, "(record)", "Record", None, RECORD_EVENTS[op.kind], op.source, op.actor, op.id))
        # Initial values: the oldest change's old value, else today's value.
        created_op = Operation.get_or_none(Operation.id == row["created_op"]) if row.get("created_op") else None
        first_old: dict[str, str | None] = {}
        for c in changes:  # newest first, so the last write wins = the oldest change
            first_old[c["property"]] = c["old_value"]
        for name, p in meta.properties.items():
            if p.system or (prop and name != prop):
                continue
            value = first_old[name] if name in first_old else to_text(p, row.get(name))
            if value is None:
                continue
            out.append(PropertyChangeView(
                row["createdate"], name, p.label, None, value,
                created_op.source if created_op else "Unknown", created_op.actor if created_op else None,
                created_op.id if created_op else 0,
            ))
        out.sort(key=lambda v: (v.at, v.op_id), reverse=True)
        return out

    @staticmethod
    def _label(meta, name: str) -> str:
        prop = meta.properties.get(name)
        return prop.label if prop else name
