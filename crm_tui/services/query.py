"""Filters, sort and keyset pagination over one object's table, built with Peewee expressions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peewee import Tuple

from ..storage import dialect
from ..storage.engine import ObjectMeta, PropertyMeta
from ..domain.errors import InvalidValue

from ..domain.types import BOOL_OPS, DATE_OPS, NUMBER_OPS, SELECT_OPS, TEXT_OPS, property_type  # noqa: F401 - the operator
# lists of each type live with the types (crm_tui/domain/types.py); their names are kept here for callers
ASSOC_OPS = ("with", "none", "any")  # associated with record X / has none / has at least one

OP_LABELS = {
    "eq": "is", "neq": "is not", "contains": "contains", "not_contains": "does not contain",
    "starts_with": "starts with", "gt": "is greater than", "gte": "is at least", "lt": "is less than",
    "lte": "is at most", "between": "is between", "known": "is known", "unknown": "is unknown",
    "any_of": "is any of", "none_of": "is none of", "with": "is associated with", "none": "has none", "any": "has any",
}


def ops_for(prop: PropertyMeta) -> tuple[str, ...]:
    return property_type(prop.type).ops

@dataclass(frozen=True)
class Filter:
    """`property` is a property name, or `@assoc:<object>` for an association filter."""

    property: str
    op: str
    value: Any = None

    def to_json(self) -> dict:
        return {"property": self.property, "op": self.op, "value": self.value}

    @classmethod
    def from_json(cls, data: dict) -> "Filter":
        value = data.get("value")
        if isinstance(value, list):
            value = tuple(value)
        return cls(data["property"], data["op"], value)


@dataclass(frozen=True)
class Sort:
    property: str
    desc: bool = False


FILTER_OPS = [("!=", "neq"), (">=", "gte"), ("<=", "lte"), ("~", "contains"), ("=", "eq"), (">", "gt"), ("<", "lt")]


def parse_filter(text: str) -> Filter:
    """One filter as the command line and the board's filter box write it: `prop=value`, `prop!=value`,
    `prop~text`, `prop>value`, `prop<value`, `prop=low..high`, `prop=a|b`, `prop?` (known), `prop!` (unknown)."""
    if text.endswith("?"):
        return Filter(text[:-1].strip(), "known")
    if text.endswith("!") and "=" not in text:
        return Filter(text[:-1].strip(), "unknown")
    for token, op in FILTER_OPS:
        if token in text:
            name, value = text.split(token, 1)
            if op == "eq" and ".." in value:
                return Filter(name.strip(), "between", value.strip())
            if op == "eq" and "|" in value:
                return Filter(name.strip(), "any_of", tuple(v.strip() for v in value.split("|")))
            return Filter(name.strip(), op, value.strip())
    raise InvalidValue(f"filter {text!r}: write prop=value, prop!=value, prop~text, prop>value, prop<value, prop? or prop!")


def column(meta: ObjectMeta, name: str):
    if name == "id":
        return meta.model.id
    field = meta.model._meta.fields.get(name)
    if field is None:
        raise InvalidValue(f"{meta.name} has no property {name!r}")
    return field


def filter_expression(crm, meta: ObjectMeta, flt: Filter):
    """A Peewee expression for one filter; values are coerced through the property's type."""
    if flt.property.startswith(("@assoc:", "@primary:")):
        return _assoc_expression(crm, meta, flt)
    prop = meta.find_property(flt.property)
    if prop is None and "." in flt.property:
        return _associated_property_expression(crm, meta, flt)
    if prop is None and flt.property == "id" and flt.op in ("any_of", "none_of"):
        ids = [int(v) for v in flt.value]  # the record id itself (a searched view's matches)
        return meta.model.id.in_(ids) if flt.op == "any_of" else meta.model.id.not_in(ids)
    if prop is None:
        raise InvalidValue(f"{meta.name} has no property {flt.property!r}")
    kind = property_type(prop.type)
    if flt.op not in kind.ops:
        raise InvalidValue(f"{prop.label}: operator {flt.op!r} does not apply to a {prop.type} property")
    col = column(meta, prop.name)
    if flt.op == "known":
        return col.is_null(False) & (col != "") if _is_text(prop) else col.is_null(False)
    if flt.op == "unknown":
        return col.is_null(True) | (col == "") if _is_text(prop) else col.is_null(True)
    if flt.op in ("any_of", "none_of"):
        values = flt.value if isinstance(flt.value, (list, tuple)) else [v for v in str(flt.value).split(";")]
        coerced = [crm.records.coerce_value(meta, prop, v) for v in values if str(v).strip()]
        if kind.multi_valued:
            parts = [dialect.contains_text(";" + col + ";", f";{v};") for v in coerced]
            expr = parts[0]
            for part in parts[1:]:
                expr = expr | part
        else:
            expr = col.in_(coerced)
        return expr if flt.op == "any_of" else (col.is_null(True) | ~expr)
    if flt.op == "between":
        low, high = _pair(flt.value)
        low_v, high_v = crm.records.coerce_value(meta, prop, low), crm.records.coerce_value(meta, prop, high)
        if kind.date_means_whole_day and len(str(high).strip()) <= 10:
            high_v = high_v[:10] + "T23:59:59.999999Z"  # a date as the upper end means the whole day
        return col.between(low_v, high_v)
    if flt.op in ("contains", "not_contains", "starts_with"):
        text = str(flt.value or "").strip()
        # Peewee escapes % and _ and makes these case-insensitive (LIKE on SQLite, ILIKE elsewhere).
        expr = col.startswith(text) if flt.op == "starts_with" else col.contains(text)
        return expr if flt.op != "not_contains" else (col.is_null(True) | ~expr)
    value = crm.records.coerce_value(meta, prop, flt.value)
    if kind.date_means_whole_day and flt.op in ("eq",) and len(str(flt.value).strip()) <= 10:
        return col.between(value[:10] + "T00:00:00.000000Z", value[:10] + "T23:59:59.999999Z")
    if kind.multi_valued and flt.op in ("eq", "neq"):
        expr = dialect.contains_text(";" + col + ";", f";{value};")
        return expr if flt.op == "eq" else (col.is_null(True) | ~expr)
    if flt.op == "eq":
        return col == value
    if flt.op == "neq":
        return col.is_null(True) | (col != value)
    return {"gt": col > value, "gte": col >= value, "lt": col < value, "lte": col <= value}[flt.op]


def _is_text(prop: PropertyMeta) -> bool:
    return property_type(prop.type).is_text

def _pair(value):
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return value
    if isinstance(value, str):
        for sep in ("..", ",", ";"):
            if sep in value:
                low, high = value.split(sep, 1)
                return low.strip(), high.strip()
    raise InvalidValue(f"'between' needs two values, e.g. 2026-01-01..2026-03-31 (got {value!r})")


def _assoc_expression(crm, meta: ObjectMeta, flt: Filter):
    Association = crm.models.Association

    kind, _, name = flt.property.partition(":")
    other = crm.registry.get(name)
    if flt.op not in ASSOC_OPS:
        raise InvalidValue(f"association filter operator must be one of {', '.join(ASSOC_OPS)}")
    edges = Association.select(Association.from_id).where(
        (Association.from_object == meta.id) & (Association.to_object == other.id)
    )
    if kind == "@primary":  # the primary company only
        if other.name != "companies" or not meta.has_primary_company:
            raise InvalidValue(f"{meta.plural_label} have no primary {other.label.lower()}")
        edges = edges.where(Association.is_primary == True)  # noqa: E712 (SQL, not Python)
    if flt.op == "with":
        ids = flt.value if isinstance(flt.value, (list, tuple)) else [flt.value]
        try:
            ids = [int(v) for v in ids]
        except (TypeError, ValueError):
            raise InvalidValue(f"associated-with filter needs record ids of {other.name}") from None
        edges = edges.where(Association.to_id.in_(ids))
        return meta.model.id.in_(edges)
    if flt.op == "any":
        return meta.model.id.in_(edges)
    return meta.model.id.not_in(edges)


def _associated_property_expression(crm, meta: ObjectMeta, flt: Filter):
    """`companies.industry=Software`: records whose associated company has that value (their
    primary company when the record has one by design, any associated record otherwise)."""
    Association = crm.models.Association

    object_name, _, prop_name = flt.property.partition(".")
    other = crm.registry.get(object_name.strip())
    if other.name == meta.name:
        raise InvalidValue(f"{flt.property}: a filter on an associated record names another object")
    inner = Filter(prop_name.strip(), "known" if flt.op == "unknown" else flt.op, flt.value)
    condition = filter_expression(crm, other, inner)
    edges = (Association.select(Association.from_id)
             .join(other.model, on=(other.model.id == Association.to_id))
             .where((Association.from_object == meta.id) & (Association.to_object == other.id)
                    & other.model.deleted_at.is_null(True) & condition))
    if other.name == "companies" and meta.has_primary_company:
        edges = edges.where(Association.is_primary == True)  # noqa: E712 (SQL, not Python)
    # unknown: no associated record with a value (none at all, or only ones without it)
    return meta.model.id.not_in(edges) if flt.op == "unknown" else meta.model.id.in_(edges)


def order_by(meta: ObjectMeta, sort: list[Sort]):
    """The ORDER BY of a sort, NULLs first ascending and last descending, written out (SQLite's
    own order, which keyset_after relies on; PostgreSQL's default is the opposite)."""
    parts = []
    for s in sort:
        col = column(meta, s.property)
        parts.append(col.desc(nulls="last") if s.desc else col.asc(nulls="first"))
    desc_tiebreak = bool(sort) and sort[-1].desc
    parts.append(meta.model.id.desc() if desc_tiebreak else meta.model.id.asc())
    return parts


def keyset_after(meta: ObjectMeta, sort: list[Sort], last_values: tuple, last_id: int, reverse: bool = False):
    """Rows strictly after (last_values, last_id) in the given order (before it when reverse).

    `order_by` puts NULL first ascending (last descending) on every engine; the condition below
    follows that so that paging through a column with empty values neither skips nor repeats rows.
    """
    id_desc = bool(sort) and sort[-1].desc
    if len(sort) == 1 and last_values[0] is not None:
        # One sort column and a known value: a row-value comparison walks the (column, rowid) index
        # directly, where the OR form below makes SQLite scan.
        col = column(meta, sort[0].property)
        upward = (not sort[0].desc) != reverse
        pair, key = Tuple(col, meta.model.id), Tuple(last_values[0], last_id)
        if upward:
            return pair > key  # NULLs sort first ascending, so none come after a value
        return (pair < key) | col.is_null(True)
    id_forward = (meta.model.id < last_id) if (id_desc != reverse) else (meta.model.id > last_id)
    expr = id_forward
    for s, value in reversed(list(zip(sort, last_values))):
        col = column(meta, s.property)
        forward_is_up = (not s.desc) != reverse  # moving to larger values?
        if value is None:
            if forward_is_up:  # NULLs come first: after NULL come all non-NULL values
                expr = (col.is_null(True) & expr) | col.is_null(False)
            else:
                expr = col.is_null(True) & expr
        else:
            beyond = (col > value) if forward_is_up else ((col < value) | col.is_null(True))
            expr = beyond | ((col == value) & expr)
    return expr
