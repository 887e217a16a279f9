"""Reports: a measure (count, sum/avg/min/max of a number) of any object's records, grouped by a
property, a date bucketed by period, the primary company, or an associated record's property, with
an optional second grouping (a pivot) and the index's filters. Computed in SQL: only the groups
come back to Python, never the records.

    spec = ReportSpec("contacts", group_by="companies.industry", measure="count")
    report = crm.reports.run(spec)          # -> Report(rows=[ReportRow(...)...])
    report.rows[0].filters                  # the index filters that select that group's records

Groupings, as text (the command line's --group-by and a saved report's JSON):
    PROPERTY               lifecyclestage, hubspot_owner_id, ...
    PROPERTY:PERIOD        createdate:month (day, week, month, quarter, year) on a date property
    @primary_company       the record's primary company
    OBJECT.PROPERTY        companies.industry: the associated record's property (for companies,
                           the primary company's; for other objects, every associated record's)
    @object                on `activities` only: which kind of activity
"""

from __future__ import annotations

import calendar
from collections import Counter
import datetime as dt
import json
from dataclasses import dataclass, field, replace
from typing import Any

from peewee import JOIN, SQL, fn

from ..storage import dialect
from ..storage.engine import ObjectMeta, PropertyMeta
from ..domain.errors import InvalidValue
from .query import Filter, filter_expression
from ..domain.types import format_number

PERIODS = ("day", "week", "month", "quarter", "year")
MEASURES = ("count", "sum", "avg", "min", "max")
CHARTS = ("bar", "line", "funnel")
NONE_LABEL = "(none)"
ACTIVITIES = "activities"  # the pseudo-object of a report over every activity object
MAX_GROUPS = 500  # a grouping by a free-text property could return one group per record


@dataclass(frozen=True)
class ReportSpec:
    object: str
    group_by: str | None = None
    group_by2: str | None = None  # the pivot's second grouping
    measure: str = "count"  # count | sum:PROP | avg:PROP | min:PROP | max:PROP
    filters: tuple[Filter, ...] = ()
    name: str = ""
    chart: str = "bar"  # how the dashboard draws it: bar, line, funnel

    def to_json(self) -> dict:
        return {"name": self.name, "object": self.object, "group_by": self.group_by, "group_by2": self.group_by2,
                "measure": self.measure, "filters": [f.to_json() for f in self.filters], "chart": self.chart}

    @classmethod
    def from_json(cls, data: dict) -> "ReportSpec":
        return cls(object=str(data["object"]), group_by=data.get("group_by"), group_by2=data.get("group_by2"),
                   measure=str(data.get("measure") or "count"),
                   filters=tuple(Filter.from_json(f) for f in data.get("filters") or ()),
                   name=str(data.get("name") or ""), chart=str(data.get("chart") or "bar"))


@dataclass
class ReportRow:
    group: str  # what the user reads
    value: float
    key: Any = None  # the stored value the group stands for (None: no value)
    group2: str | None = None
    key2: Any = None
    filters: list[Filter] = field(default_factory=list)  # the index filters that select these records
    object: str = ""  # the object whose index those filters apply to (differs only for @object)

    def to_json(self) -> dict:
        data = {"group": self.group, "value": self.value}
        if self.group2 is not None:
            data["group2"] = self.group2
        return data


@dataclass
class Report:
    spec: ReportSpec
    title: str
    measure_label: str
    rows: list[ReportRow]
    truncated: bool = False  # more than MAX_GROUPS groups: the largest are kept

    @property
    def total(self) -> float:
        return sum(r.value for r in self.rows)


@dataclass
class ForecastRow:
    group: str
    key: Any
    open_deals: int
    open_amount: float
    weighted_amount: float
    won_deals: int
    won_amount: float

    def to_json(self) -> dict:
        return {"group": self.group, "open_deals": self.open_deals, "open_amount": self.open_amount,
                "weighted_amount": round(self.weighted_amount, 2), "won_deals": self.won_deals,
                "won_amount": self.won_amount}


# -- groupings ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Grouping:
    kind: str  # property | period | primary | associated | object
    prop: PropertyMeta | None = None
    period: str | None = None
    other: ObjectMeta | None = None  # the associated object
    primary_only: bool = False  # associated through the primary flag (at most one per record)
    text: str = ""


def parse_grouping(crm, meta: ObjectMeta | None, text: str) -> _Grouping:
    """One grouping, from its text form; an unknown name is one line naming it."""
    text = str(text).strip()
    if not text:
        raise InvalidValue("an empty grouping: name a property, PROPERTY:PERIOD, @primary_company or OBJECT.PROPERTY")
    if meta is None:  # the activities pseudo-object
        if text != "@object":
            raise InvalidValue("a report on activities groups by @object (the kind of activity)")
        return _Grouping("object", text=text)
    if text == "@object":
        raise InvalidValue("@object groups a report on activities only")
    if text == "@primary_company":
        if not meta.has_primary_company:
            raise InvalidValue(f"{meta.plural_label} have no primary company")
        return _Grouping("primary", other=crm.registry.get("companies"), primary_only=True, text=text)
    name, sep, period = text.partition(":")
    if sep:
        prop = _prop(meta, name)
        period = period.strip().lower()
        if period not in PERIODS:
            raise InvalidValue(f"period {period!r}: use one of {', '.join(PERIODS)}")
        if prop.type not in ("date", "datetime"):
            raise InvalidValue(f"{prop.label} is not a date: only a date property groups by {period}")
        return _Grouping("period", prop=prop, period=period, text=text)
    if "." in text:
        obj_name, _, prop_name = text.partition(".")
        other = crm.registry.get(obj_name.strip())
        if other.name == meta.name:
            raise InvalidValue(f"{text}: a grouping by an associated record names another object")
        prop = _prop(other, prop_name)
        primary_only = other.name == "companies" and meta.has_primary_company
        return _Grouping("associated", prop=prop, other=other, primary_only=primary_only, text=text)
    return _Grouping("property", prop=_prop(meta, text), text=text)


def _prop(meta: ObjectMeta, name: str) -> PropertyMeta:
    prop = meta.find_property(name.strip())
    if prop is None:
        raise InvalidValue(f"{meta.name} has no property {name.strip()!r}")
    return prop


def _measure(meta: ObjectMeta | None, text: str) -> tuple[str, PropertyMeta | None]:
    kind, sep, name = str(text or "count").strip().partition(":")
    kind = kind.lower()
    if kind not in MEASURES:
        raise InvalidValue(f"measure {text!r}: use count, sum:PROP, avg:PROP, min:PROP or max:PROP")
    if kind == "count":
        if sep:
            raise InvalidValue("count takes no property (write --measure count)")
        return kind, None
    if not sep or not name.strip():
        raise InvalidValue(f"measure {kind} needs a number property, e.g. {kind}:amount")
    if meta is None:
        raise InvalidValue("a report on activities counts them (measure count)")
    prop = _prop(meta, name)
    if prop.type not in ("number", "currency"):
        raise InvalidValue(f"{prop.label} holds {prop.type} values: {kind} needs a number or currency property")
    return kind, prop


def measure_label(crm, spec: ReportSpec) -> str:
    meta = None if spec.object == ACTIVITIES else crm.registry.get(spec.object)
    kind, prop = _measure(meta, spec.measure)
    if kind == "count":
        return "Count of " + (meta.plural_label.lower() if meta else "activities")
    return {"sum": "Sum", "avg": "Average", "min": "Smallest", "max": "Largest"}[kind] + " of " + prop.label.lower()


# -- the service ---------------------------------------------------------------------------------

class Reports:
    def __init__(self, crm):
        self.crm = crm

    def run(self, spec: ReportSpec) -> Report:
        crm = self.crm
        if spec.object == ACTIVITIES:
            return self._activities(spec)
        meta = crm.registry.get(spec.object)
        kind, measure_prop = _measure(meta, spec.measure)
        groupings = [parse_grouping(crm, meta, g) for g in (spec.group_by, spec.group_by2) if g]
        if spec.group_by2 and not spec.group_by:
            raise InvalidValue("a second grouping needs a first one (--group-by before --then-by)")
        filters = list(spec.filters)
        for flt in filters:
            filter_expression(crm, meta, flt)  # an unknown property or operator: one line, before any SQL
        if not groupings:
            value = self._scalar(meta, kind, measure_prop, filters)
            rows = [ReportRow(group="All " + meta.plural_label.lower(), value=value, filters=list(filters),
                              object=meta.name)]
            return Report(spec, _title(meta, spec, measure_label(crm, spec)), measure_label(crm, spec), rows)
        raw = self._grouped(meta, kind, measure_prop, groupings, filters)
        truncated = len(raw) > MAX_GROUPS
        if truncated:
            raw = sorted(raw, key=lambda r: -(r[-1] or 0))[:MAX_GROUPS]
        rows = []
        names = self._company_names(groupings, raw)
        for item in raw:
            keys, value = item[:-1], item[-1]
            row = ReportRow(group=self._label(groupings[0], keys[0], names), key=keys[0],
                            value=_number(value), object=meta.name,
                            filters=list(filters) + self._drill(groupings[0], keys[0]))
            if len(groupings) > 1:
                row.group2, row.key2 = self._label(groupings[1], keys[1], names), keys[1]
                row.filters += self._drill(groupings[1], keys[1])
            rows.append(row)
        rows.sort(key=self._order(groupings))
        label = measure_label(crm, spec)
        return Report(spec, _title(meta, spec, label), label, rows, truncated)

    # -- SQL -------------------------------------------------------------------------------

    def _aggregate(self, model, kind: str, prop: PropertyMeta | None, distinct_ids: bool = False):
        if kind == "count":
            return fn.COUNT(model.id.distinct()) if distinct_ids else fn.COUNT(SQL("*"))
        return getattr(fn, kind.upper())(getattr(model, prop.name))

    def _scalar(self, meta, kind, prop, filters) -> float:
        if kind == "count":
            return float(self.crm.records.count(meta.name, filters))
        model = meta.model
        q = model.select(self._aggregate(model, kind, prop)).where(model.deleted_at.is_null(True))
        for flt in filters:
            q = q.where(filter_expression(self.crm, meta, flt))
        return _number(q.scalar())

    def _grouped(self, meta: ObjectMeta, kind, prop, groupings: list[_Grouping], filters) -> list[tuple]:
        Association = self.crm.models.Association

        model = meta.model
        if (kind == "count" and not filters and len(groupings) == 1 and groupings[0].kind == "property"
                and groupings[0].prop.type != "multiselect"):
            return self._count_by_column(meta, groupings[0].prop)
        if kind == "count" and not filters and len(groupings) == 1 and groupings[0].primary_only:
            return self._count_by_primary(meta, groupings[0])
        exprs, joins = [], []
        many = False  # an association without the primary flag can repeat a record within a group
        for index, g in enumerate(groupings):
            if g.kind == "property":
                exprs.append(getattr(model, g.prop.name))
            elif g.kind == "period":
                exprs.append(dialect.period_bucket(getattr(model, g.prop.name), g.period))
            else:
                edge = Association.alias(f"e{index}")
                on = ((edge.from_object == meta.id) & (edge.from_id == model.id) & (edge.to_object == g.other.id))
                if g.primary_only:
                    on &= edge.is_primary == True  # noqa: E712 (SQL, not Python)
                else:
                    many = True
                joins.append((edge, on))
                if g.kind == "primary":
                    exprs.append(edge.to_id)
                else:
                    other = g.other.model.alias(f"o{index}")
                    joins.append((other, (other.id == edge.to_id) & other.deleted_at.is_null(True)))
                    exprs.append(getattr(other, g.prop.name))
        groups = [e.alias(f"g{i}") for i, e in enumerate(exprs)]

        def live_rows(*columns):
            """The object's live, filtered records with the groupings' joins."""
            q = model.select(*columns)
            for target, on in joins:
                q = q.join_from(model, target, JOIN.LEFT_OUTER, on=on)
            q = q.where(model.deleted_at.is_null(True))
            for flt in filters:
                q = q.where(filter_expression(self.crm, meta, flt))
            return q

        if many and kind != "count":
            # Each record once per group, then its number summed: distinct (record, group) pairs first.
            pairs = live_rows(model.id.alias("rid"), *groups).distinct().alias("pairs")
            cols = [getattr(pairs.c, f"g{i}") for i in range(len(exprs))]
            inner = model.alias("m")
            q = (pairs.select_from(*cols, self._aggregate(inner, kind, prop).alias("v"))
                 .join(inner, on=(inner.id == pairs.c.rid)).group_by(*cols))
            return list(q.tuples())
        q = live_rows(*groups, self._aggregate(model, kind, prop, distinct_ids=many).alias("v"))
        return list(q.group_by(*[SQL(f"g{i}") for i in range(len(exprs))]).tuples())

    def _count_by_column(self, meta: ObjectMeta, prop: PropertyMeta) -> list[tuple]:
        """COUNT grouped by one column with no filter, without reading the table: every row counted
        on the column's index, minus the deleted rows counted on their small partial index (the
        trick `Records.count` uses for the whole table)."""
        model = meta.model
        col = getattr(model, prop.name)
        totals = dict(model.select(col, fn.COUNT(SQL("*"))).group_by(col).tuples())
        # The deleted rows' values counted here, not by a GROUP BY: SQLite would answer that by walking
        # the column's whole index and looking up every row, where this reads the small partial index.
        gone = Counter(value for (value,) in model.select(col).where(model.deleted_at.is_null(False)).tuples().iterator())
        return [(key, n - gone.get(key, 0)) for key, n in totals.items() if n - gone.get(key, 0) > 0]

    def _count_by_primary(self, meta: ObjectMeta, g: _Grouping) -> list[tuple]:
        """COUNT by primary company (or by a property of it) with no filter, from the link table
        alone: the primary edges counted per company on their own index, then the companies'
        values joined to those few thousand counts, instead of a join per record. Edges of
        deleted records are taken off; records without a primary company are the rest."""
        Association = self.crm.models.Association
        # the bare column (not "= 1") matches the WHERE of the partial index of primary edges
        edges = (Association.from_object == meta.id) & (Association.to_object == g.other.id) & dialect.flag_set(Association.is_primary)
        per_company = dict(Association.select(Association.to_id, fn.COUNT(SQL("*"))).where(edges)
                           .group_by(Association.to_id).tuples())
        model = meta.model
        deleted = [rid for (rid,) in model.select(model.id).where(model.deleted_at.is_null(False)).tuples()]
        for start in range(0, len(deleted), 500):
            for (company,) in (Association.select(Association.to_id)
                               .where(edges & Association.from_id.in_(deleted[start:start + 500])).tuples()):
                per_company[company] -= 1
        other = g.other.model
        live = set()
        ids = sorted(per_company)
        values: dict = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            columns = [other.id] + ([getattr(other, g.prop.name)] if g.kind == "associated" else [])
            for row in other.select(*columns).where(other.id.in_(chunk) & other.deleted_at.is_null(True)).tuples():
                live.add(row[0])
                values[row[0]] = row[1] if g.kind == "associated" else row[0]
        groups: Counter = Counter()
        for company, n in per_company.items():
            if company in live and n > 0:
                groups[values[company]] += n
        rest = self.crm.records.count(meta.name) - sum(groups.values())
        if rest > 0:
            groups[None] += rest
        return [(key, n) for key, n in groups.items() if n > 0]

    def _activities(self, spec: ReportSpec) -> Report:
        _measure(None, spec.measure)
        if spec.group_by:
            parse_grouping(self.crm, None, spec.group_by)
        if spec.group_by2:
            raise InvalidValue("a report on activities has one grouping (@object)")
        if spec.filters:
            raise InvalidValue("a report on activities takes no filters (report on one activity object to filter)")
        rows = []
        for meta in self.crm.registry.objects.values():
            if meta.is_activity:
                n = self.crm.records.count(meta.name)
                rows.append(ReportRow(group=meta.plural_label, key=meta.name, value=float(n), object=meta.name))
        if not spec.group_by:
            rows = [ReportRow(group="All activities", value=sum(r.value for r in rows), object=ACTIVITIES)]
        label = measure_label(self.crm, spec)
        return Report(spec, spec.name or f"{label} by kind", label, rows)

    # -- labels, order, drill-down -----------------------------------------------------------

    def _company_names(self, groupings, raw) -> dict[int, str]:
        ids = set()
        for index, g in enumerate(groupings):
            if g.kind == "primary":
                ids |= {row[index] for row in raw if row[index] is not None}
        if not ids:
            return {}
        companies = self.crm.registry.get("companies")
        model = companies.model
        names = {}
        id_list = sorted(ids)
        for start in range(0, len(id_list), 500):
            for row in model.select().where(model.id.in_(id_list[start:start + 500])).dicts():
                names[row["id"]] = companies.display_name(row)
        return names

    def _label(self, g: _Grouping, key, names: dict[int, str]) -> str:
        if key is None or key == "":
            return NONE_LABEL
        if g.kind == "primary":
            return names.get(key, f"Company #{key}")
        if g.kind == "period":
            return period_label(g.period, str(key))
        prop = g.prop
        if prop.type == "select":
            return prop.option_label(str(key))
        if prop.type == "user":
            return self.crm.owner_name(key)
        if prop.type == "boolean":
            return "Yes" if key in (1, True, "1") else "No"
        if prop.type in ("number", "currency"):
            return format_number(key)
        return str(key)

    def _order(self, groupings: list[_Grouping]):
        """Option order for dropdowns (a pipeline's stages in order), time order for periods,
        largest first otherwise; the (none) group last."""
        def rank(g: _Grouping, key, label):
            if key is None or key == "":
                return (2, 0, "")
            if g.kind == "period":
                return (0, 0, str(key))
            if g.prop is not None and g.prop.type == "select" and g.prop.options:
                order = {o.name: i for i, o in enumerate(g.prop.options)}
                return (0, order.get(str(key), len(order)), label.lower())
            return None

        def key(row: ReportRow):
            first = rank(groupings[0], row.key, row.group) or (1, -row.value, row.group.lower())
            if len(groupings) > 1:
                second = rank(groupings[1], row.key2, row.group2) or (1, 0, (row.group2 or "").lower())
                return first + second
            return first
        return key

    def _drill(self, g: _Grouping, key) -> list[Filter]:
        """The index filters selecting one group's records."""
        missing = key is None or key == ""
        if g.kind == "primary":
            return [Filter("@primary:companies", "none" if missing else "with", None if missing else key)]
        if g.kind == "period":
            if missing:
                return [Filter(g.prop.name, "unknown")]
            start, end = period_range(g.period, str(key))
            return [Filter(g.prop.name, "between", (start, end))]
        name = g.prop.name if g.kind == "property" else f"{g.other.name}.{g.prop.name}"
        if missing:
            return [Filter(name, "unknown")]
        if g.prop.type == "boolean":
            return [Filter(name, "eq", "true" if key in (1, True, "1") else "false")]
        return [Filter(name, "eq", key)]

    # -- deal forecast -----------------------------------------------------------------------

    def forecast(self, by: str = "month") -> list[ForecastRow]:
        """Open deals' amounts weighted by their stage's probability, beside won amounts, by close
        month or by owner. The sums are SQL's (grouped by pipeline, stage and month or owner: a few
        hundred rows at most); the weighting is applied to those sums."""
        from .pipelines import list_pipelines

        if by not in ("month", "owner"):
            raise InvalidValue(f"forecast by {by!r}: use month or owner")
        meta = self.crm.registry.get("deals")
        model = meta.model
        pipes = list_pipelines(self.crm, "deals")
        default = pipes[0].name if pipes else None
        stages = {(p.name, s.name): s for p in pipes for s in p.stages}
        bucket = (dialect.period_bucket(model.closedate, "month") if by == "month" else model.hubspot_owner_id)
        q = (model.select(model.pipeline, model.dealstage, bucket.alias("g"), fn.COUNT(SQL("*")),
                          fn.SUM(fn.COALESCE(model.amount, 0)))
             .where(model.deleted_at.is_null(True))
             .group_by(model.pipeline, model.dealstage, SQL("g")))
        groups: dict[Any, ForecastRow] = {}
        for pipeline, stage_name, key, n, amount in q.tuples():
            stage = stages.get((pipeline or default, stage_name))
            kind = stage.kind if stage else "open"
            if kind == "lost":
                continue
            row = groups.get(key)
            if row is None:
                label = (period_label("month", key) if by == "month" else self.crm.owner_name(key)) if key else NONE_LABEL
                row = groups[key] = ForecastRow(label, key, 0, 0.0, 0.0, 0, 0.0)
            if kind == "won":
                row.won_deals += n
                row.won_amount += amount or 0.0
            else:
                row.open_deals += n
                row.open_amount += amount or 0.0
                row.weighted_amount += (amount or 0.0) * float((stage.probability if stage else None) or 0.0)
        ordered = sorted(groups.values(), key=lambda r: (r.key is None, str(r.key) if by == "month" else r.group.lower()))
        return ordered

    def deal_totals(self, record: tuple[str, int]) -> dict:
        """A record's associated deals: how many are open and won, with their amounts (a company's
        record shows them). Lost deals are left out."""
        Association = self.crm.models.Association
        from .pipelines import list_pipelines

        obj, record_id = record
        holder = self.crm.registry.get(obj)
        deals = self.crm.registry.get("deals")
        model = deals.model
        pipes = list_pipelines(self.crm, "deals")
        default = pipes[0].name if pipes else None
        kinds = {(p.name, s.name): s.kind for p in pipes for s in p.stages}
        q = (model.select(model.pipeline, model.dealstage, fn.COUNT(SQL("*")), fn.SUM(fn.COALESCE(model.amount, 0)))
             .join(Association, on=((Association.to_id == model.id) & (Association.to_object == deals.id)))
             .where((Association.from_object == holder.id) & (Association.from_id == record_id)
                    & model.deleted_at.is_null(True))
             .group_by(model.pipeline, model.dealstage))
        totals = {"open_deals": 0, "open_amount": 0.0, "won_deals": 0, "won_amount": 0.0}
        for pipeline, stage, n, amount in q.tuples():
            kind = kinds.get((pipeline or default, stage), "open")
            if kind in ("open", "won"):
                totals[f"{kind}_deals"] += n
                totals[f"{kind}_amount"] += float(amount or 0)
        return totals

    # -- saved reports -------------------------------------------------------------------------

    def _key(self) -> str:
        return f"reports:{self.crm.user_name}"

    def saved(self) -> list[ReportSpec]:
        """This user's dashboard: their saved reports, or the default dashboard."""
        data = self.crm.setting(self._key())
        if data is None:
            return default_dashboard(self.crm)
        specs = []
        for item in data:
            try:
                specs.append(ReportSpec.from_json(item))
            except (KeyError, TypeError, ValueError):
                continue  # a damaged entry is left out, not fatal to the dashboard
        return specs

    def save(self, spec: ReportSpec) -> list[ReportSpec]:
        """Add (or replace, by name) a report on this user's dashboard, after checking it runs."""
        name = " ".join(str(spec.name or "").split())
        if not name:
            raise InvalidValue("a saved report needs a name (--save NAME)")
        if len(name) > 80:
            raise InvalidValue("a report name is at most 80 characters")
        if spec.chart not in CHARTS:
            raise InvalidValue(f"chart {spec.chart!r}: use one of {', '.join(CHARTS)}")
        spec = replace(spec, name=name)
        self.run(spec)
        specs = [s for s in self.saved() if s.name.lower() != name.lower()] + [spec]
        self.crm.set_setting(self._key(), [s.to_json() for s in specs])
        return specs

    def delete(self, name: str) -> list[ReportSpec]:
        specs = self.saved()
        kept = [s for s in specs if s.name.lower() != str(name).strip().lower()]
        if len(kept) == len(specs):
            raise InvalidValue(f"no saved report named {name!r}")
        self.crm.set_setting(self._key(), [s.to_json() for s in kept])
        return kept


def default_dashboard(crm) -> list[ReportSpec]:
    from .pipelines import list_pipelines

    won = sorted({s.name for p in list_pipelines(crm, "deals") for s in p.stages if s.kind == "won"})
    open_stages = [s.name for p in list_pipelines(crm, "deals") for s in p.stages if s.kind == "open"]
    return [
        ReportSpec("deals", group_by="dealstage", measure="sum:amount", name="Pipeline by stage", chart="funnel",
                   filters=(Filter("dealstage", "any_of", tuple(open_stages)),) if open_stages else ()),
        ReportSpec("deals", group_by="closedate:month", measure="sum:amount", name="Won by month", chart="line",
                   filters=(Filter("dealstage", "any_of", tuple(won)),) if won else ()),
        ReportSpec("contacts", group_by="createdate:week", name="New contacts by week", chart="line"),
        ReportSpec(ACTIVITIES, group_by="@object", name="Activities by type", chart="bar"),
    ]


# -- periods ---------------------------------------------------------------------------------------

def period_label(period: str, key: str) -> str:
    if period == "week":
        return f"week of {key}"
    if period == "month" and len(key) == 7:
        try:
            return f"{calendar.month_abbr[int(key[5:7])]} {key[:4]}"
        except (ValueError, IndexError):
            return key
    return key


def period_range(period: str, key: str) -> tuple[str, str]:
    """First and last day of a bucket, as the index's `between` filter takes them."""
    try:
        if period == "day":
            return key, key
        if period == "week":
            start = dt.date.fromisoformat(key)
            return key, (start + dt.timedelta(days=6)).isoformat()
        if period == "month":
            year, month = int(key[:4]), int(key[5:7])
            return f"{key}-01", f"{key}-{calendar.monthrange(year, month)[1]:02d}"
        if period == "quarter":
            year, q = int(key[:4]), int(key[-1])
            last = 3 * q
            return f"{year}-{last - 2:02d}-01", f"{year}-{last:02d}-{calendar.monthrange(year, last)[1]:02d}"
        if period == "year":
            return f"{key}-01-01", f"{key}-12-31"
    except (ValueError, IndexError):
        pass
    raise InvalidValue(f"not a {period}: {key!r}")


def money(value) -> str:
    """An amount as screens show it: 1,234,500 (cents only when there are some)."""
    if value is None:
        return ""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _number(value) -> float:
    return 0.0 if value is None else float(value)


def _title(meta: ObjectMeta, spec: ReportSpec, label: str) -> str:
    if spec.name:
        return spec.name
    parts = [label]
    for g in (spec.group_by, spec.group_by2):
        if g:
            parts.append(("by " if len(parts) == 1 else "and ") + g)
    return " ".join(parts)


def rows_as_json(report: Report) -> str:
    return json.dumps([r.to_json() for r in report.rows], ensure_ascii=False)
