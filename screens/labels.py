"""How the index shows a column's name and a filter, in words. Kept apart from the index's modals
so that the index screen's first frame does not wait for the modals' module."""

from __future__ import annotations

from crm_tui.services.query import OP_LABELS, Filter

NO_VALUE_OPS = ("known", "unknown", "none", "any")


def column_label(crm, meta, column: str) -> str:
    if column == "@primary_company":
        return "Primary company"
    if column.startswith("@assoc:"):
        other = crm.registry.get(column.split(":", 1)[1])
        return f"Associated {other.plural_label.lower()}"
    if column.startswith("@primary:"):
        return "Primary company"
    if "." in column and column not in meta.properties:  # companies.industry: an associated record's property
        object_name, _, prop_name = column.partition(".")
        other = crm.registry.objects.get(object_name)
        prop = other.properties.get(prop_name) if other else None
        if other is not None and prop is not None:
            return f"{other.label}: {prop.label}"
    if column == "id":
        return "Record ID"
    prop = meta.properties.get(column)
    return prop.label if prop else column


def filter_text(crm, meta, flt: Filter) -> str:
    """'Lifecycle stage is Customer' — a filter as the filter bar shows it."""
    label = column_label(crm, meta, flt.property)
    op = OP_LABELS.get(flt.op, flt.op)
    if flt.op in NO_VALUE_OPS:
        return f"{label} {op}"
    value = flt.value
    if flt.property.startswith(("@assoc:", "@primary:")):
        other = crm.registry.get(flt.property.split(":", 1)[1])
        ids = value if isinstance(value, (list, tuple)) else [value]
        try:
            names = crm.records.display_names(other, [int(i) for i in ids])
            shown = ", ".join(names.get(int(i), f"#{i}") for i in ids)
        except (TypeError, ValueError):
            shown = str(value)
        return f"{label} {op} {shown}"
    prop = meta.properties.get(flt.property)
    if prop is None and "." in flt.property:
        object_name, _, prop_name = flt.property.partition(".")
        other = crm.registry.objects.get(object_name)
        prop = other.properties.get(prop_name) if other else None
    if prop is not None and prop.type in ("select", "multiselect"):
        parts = value if isinstance(value, (list, tuple)) else str(value).split(";")
        shown = ", ".join(prop.option_label(prop.option_name(str(p)) or str(p).strip()) for p in parts if str(p).strip())
    elif prop is not None and prop.type == "boolean":
        shown = {"true": "Yes", "false": "No"}.get(str(value).lower(), str(value))
    elif isinstance(value, (list, tuple)):
        shown = " and ".join(str(v) for v in value)
    else:
        shown = str(value)
    return f"{label} {op} {shown}"
