"""Pipelines and their ordered stages (deals: stages with a probability and kind open/won/lost;
tickets: statuses with kind open/closed; any other object given pipelines by `schema apply`: stages
of kind open/won/lost/closed), the board's grouped totals and per-stage pages.

Plain functions over a `Crm`; they return dataclasses, never ORM objects. Every metadata change
reloads the registry, because the pipeline and stage options of the records come from these tables.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field

from peewee import fn

from ..domain import sources
from ..domain.errors import InvalidValue, NotFound
from .meta_journal import schema_operation
from ..domain.sanitize import clean_label, clean_line
from .query import Filter, filter_expression

# Any object with a pipeline property (options_from: pipelines) and a stage property (options_from:
# stages) has pipelines: deals and tickets from the built-in schema, custom objects from `schema
# apply` (ensure_pipeline_properties gives them hs_pipeline and hs_pipeline_stage, HubSpot's names).
# deals and tickets keep HubSpot's internal default pipeline and their own stage kinds; another
# object's default pipeline is its first one, and its stages may be open, won, lost or closed.
DEFAULT_PIPELINE = {"deals": "default", "tickets": "0"}
KINDS = {"deals": ("open", "won", "lost"), "tickets": ("open", "closed")}
ANY_KINDS = ("open", "won", "lost", "closed")
CLOSED_KINDS = ("won", "lost", "closed")
PIPELINE_PROPERTY, STAGE_PROPERTY = "hs_pipeline", "hs_pipeline_stage"  # what a custom object gets


def pipeline_props(meta) -> tuple[str, str, str | None] | None:
    """(pipeline property, stage property, amount property or None) of an object, or None when it
    has no pipelines; read from its properties (cached on the metadata, which a reload replaces)."""
    cached = meta.__dict__.get("_pipeline_props", False)
    if cached is not False:
        return cached
    props = meta.properties.values()
    pipe = next((p.name for p in props if p.options_from == "pipelines"), None)
    stage = next((p.name for p in props if p.options_from == "stages"), None)
    amount = meta.properties.get("amount")
    found = (pipe, stage, "amount" if amount is not None and amount.type in ("number", "currency") else None) \
        if pipe and stage else None
    meta.__dict__["_pipeline_props"] = found
    return found


def props_of(crm, object_name: str) -> tuple[str, str, str | None]:
    """The pipeline, stage and amount properties of an object that has pipelines."""
    return pipeline_props(crm.registry.get(_object_name(crm, object_name)))


def kinds_of(object_name: str) -> tuple[str, ...]:
    return KINDS.get(object_name, ANY_KINDS)


def pipeline_objects(crm) -> list[str]:
    """The objects that have pipelines, in the registry's order."""
    return [name for name, meta in crm.registry.objects.items() if pipeline_props(meta)]


@dataclass
class StageInfo:
    id: int
    name: str
    label: str
    position: int
    probability: float | None
    kind: str
    archived: bool


@dataclass
class PipelineInfo:
    id: int
    object: str
    name: str
    label: str
    position: int
    archived: bool
    stages: list[StageInfo] = field(default_factory=list)

    @property
    def active_stages(self) -> list[StageInfo]:
        return [s for s in self.stages if not s.archived]

    def stage(self, name: str) -> StageInfo | None:
        return next((s for s in self.stages if s.name == name), None)

    def find_stage(self, given: str) -> StageInfo | None:
        """A stage by internal name or label, any case."""
        wanted = str(given).strip().lower()
        return next((s for s in self.stages if s.name.lower() == wanted), None) or next(
            (s for s in self.stages if s.label.lower() == wanted), None)


@dataclass
class StageTotal:
    stage: str
    count: int
    amount: float


def has_pipelines(crm, object_name: str) -> bool:
    meta = crm.registry.objects.get(object_name) or crm.registry.find(object_name)
    return meta is not None and pipeline_props(meta) is not None


def _object_name(crm, object_name: str) -> str:
    meta = crm.registry.get(object_name)
    if pipeline_props(meta) is None:
        raise InvalidValue(f"{meta.plural_label.lower()} have no pipelines (schema apply adds them: "
                           f"pipelines: with object: {meta.name})")
    return meta.name


def _default_name(crm, object_name: str) -> str | None:
    """The internal name of the pipeline a record without one is in."""
    pipelines = _load(crm).get(object_name, [])
    fixed = DEFAULT_PIPELINE.get(object_name)
    if fixed is not None and any(p.name == fixed for p in pipelines):
        return fixed
    return next((p.name for p in pipelines if not p.archived), None) or next((p.name for p in pipelines), None)


def ensure_pipeline_properties(crm, object_name: str) -> bool:
    """Give an object without pipelines its pipeline and stage properties (select properties whose
    options are its pipelines and their stages, so filters, reports, imports and workflow triggers
    see the stage as any other select). Inside the caller's schema operation; True when added."""
    meta = crm.registry.get(object_name)
    if pipeline_props(meta) is not None:
        return False
    if meta.is_activity:
        raise InvalidValue(f"{meta.plural_label.lower()} are activities; activities have no pipelines")
    for name in (PIPELINE_PROPERTY, STAGE_PROPERTY):
        if name in meta.properties:
            raise InvalidValue(f"{meta.name} already has a property {name!r} that is not a pipeline property")
    group = f"{meta.label} information"
    crm.registry.add_properties(meta.name, [
        {"name": PIPELINE_PROPERTY, "label": "Pipeline", "type": "select", "group": group,
         "options_from": "pipelines", "indexed": True},
        {"name": STAGE_PROPERTY, "label": f"{meta.label} stage", "type": "select", "group": group,
         "options_from": "stages", "indexed": True},
    ])
    crm._pipelines_cache = None
    return True


# -- reading ----------------------------------------------------------------------------------

def _load(crm) -> dict[str, list[PipelineInfo]]:
    """All pipelines by object, cached until the registry reloads (it replaces `objects`)."""
    models = crm.models
    Pipeline, Stage = models.Pipeline, models.Stage
    cached = getattr(crm, "_pipelines_cache", None)
    if cached is not None and cached[0] is crm.registry.objects:
        return cached[1]
    by_id: dict[int, PipelineInfo] = {}
    out: dict[str, list[PipelineInfo]] = {}
    for p in Pipeline.select().order_by(Pipeline.position, Pipeline.id):
        meta = crm.registry.by_id.get(p.object_id)
        if meta is None:
            continue
        info = PipelineInfo(p.id, meta.name, p.name, clean_line(p.label), p.position, bool(p.archived))
        by_id[p.id] = info
        out.setdefault(meta.name, []).append(info)
    for s in Stage.select().order_by(Stage.position, Stage.id):
        if s.pipeline_id in by_id:
            by_id[s.pipeline_id].stages.append(
                StageInfo(s.id, s.name, clean_line(s.label), s.position, s.probability, s.kind, bool(s.archived)))
    crm._pipelines_cache = (crm.registry.objects, out)
    return out


def _changed(crm) -> None:
    crm._pipelines_cache = None
    crm.registry.reload()


def list_pipelines(crm, object_name: str | None = None, *, include_archived: bool = True) -> list[PipelineInfo]:
    data = _load(crm)
    names = [_object_name(crm, object_name)] if object_name else [n for n in pipeline_objects(crm) if n in data]
    return [p for n in names for p in data.get(n, []) if include_archived or not p.archived]


def get_pipeline(crm, object_name: str, pipeline: str | None = None) -> PipelineInfo:
    """A pipeline by internal name or label; the default one when not given."""
    name = _object_name(crm, object_name)
    pipelines = _load(crm).get(name, [])
    wanted = (_default_name(crm, name) or "") if pipeline in (None, "") else str(pipeline).strip()
    found = next((p for p in pipelines if p.name == wanted), None) or next(
        (p for p in pipelines if p.label.lower() == wanted.lower()), None)
    if found is None:
        known = ", ".join(f"{p.name} ({p.label})" for p in pipelines) or "none"
        raise NotFound(f"{name} have no pipeline {wanted!r} (pipelines: {known})")
    return found


def default_pipeline(crm, object_name: str) -> PipelineInfo | None:
    name = _object_name(crm, object_name)
    pipelines = _load(crm).get(name, [])
    return (next((p for p in pipelines if p.name == DEFAULT_PIPELINE.get(name)), None)
            or next((p for p in pipelines if not p.archived), None))


def stage_kind(crm, object_name: str, pipeline: str | None, stage: str | None) -> str | None:
    if not stage:
        return None
    try:
        info = get_pipeline(crm, object_name, pipeline)
    except NotFound:
        return None
    found = info.stage(stage)
    return found.kind if found else None


def _get_stage(info: PipelineInfo, given: str) -> StageInfo:
    stage = info.find_stage(given)
    if stage is None:
        known = ", ".join(s.label for s in info.stages)
        raise NotFound(f"pipeline {info.label} has no stage {given!r} (stages: {known})")
    return stage


# -- pipelines --------------------------------------------------------------------------------

def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", label.lower()) or "stage"


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{n}", n + 1
    return name


def _label(text) -> str:
    return clean_label(text, "a name")


def add_pipeline(crm, object_name: str, label: str, *, name: str | None = None,
                 stages: list[dict] | None = None, source: str = sources.USER, actor: str | None = None) -> PipelineInfo:
    """A new pipeline; without `stages` it gets one open stage and the closing ones. (An object's
    first pipeline comes from `schema apply`, which also gives it its pipeline properties.)"""
    models = crm.models
    Pipeline, Stage = models.Pipeline, models.Stage
    obj = _object_name(crm, object_name)
    meta = crm.registry.get(obj)
    label = _label(label)
    existing = _load(crm).get(obj, [])
    if any(p.label.lower() == label.lower() for p in existing):
        raise InvalidValue(f"{obj} already have a pipeline named {label!r}")
    name = str(name).strip() if name else _unique(_slug(label), {p.name for p in existing})
    if any(p.name == name for p in existing):
        raise InvalidValue(f"{obj} already have a pipeline with the internal name {name!r}")
    if stages is None:
        stages = ([{"label": "New", "kind": "open", "probability": 0.1}, {"label": "Closed won", "kind": "won", "probability": 1.0},
                   {"label": "Closed lost", "kind": "lost", "probability": 0.0}] if obj == "deals"
                  else [{"label": "New", "kind": "open"}, {"label": "Closed", "kind": "closed"}])
    for spec in stages:
        _check_kind(obj, spec.get("kind", "open"))
    with _journaled(crm, "add_pipeline", source, actor, obj, f"Added pipeline {label} of {obj}"):
        pipeline = Pipeline.create(object=meta.id, name=name, label=label, position=len(existing))
        taken: set[str] = set()
        for pos, spec in enumerate(stages):
            stage_label = _label(spec.get("label") or spec.get("name"))
            stage_name = _unique(str(spec.get("name") or f"{name}_{_slug(stage_label)}"), taken)
            taken.add(stage_name)
            kind = spec.get("kind", "open")
            _check_kind(obj, kind)
            Stage.create(pipeline=pipeline, name=stage_name, label=stage_label, position=pos,
                         probability=spec.get("probability"), kind=kind)
    return get_pipeline(crm, obj, name)


def rename_pipeline(crm, object_name: str, pipeline: str, label: str, *, source: str = sources.USER,
                    actor: str | None = None) -> PipelineInfo:
    Pipeline = crm.models.Pipeline
    info = get_pipeline(crm, object_name, pipeline)
    label = _label(label)
    if any(p.label.lower() == label.lower() and p.id != info.id for p in list_pipelines(crm, object_name)):
        raise InvalidValue(f"{info.object} already have a pipeline named {label!r}")
    with _journaled(crm, "rename_pipeline", source, actor, info.object, f"Renamed pipeline {info.label} to {label}"):
        Pipeline.update(label=label).where(Pipeline.id == info.id).execute()
    return get_pipeline(crm, object_name, info.name)


def reorder_pipelines(crm, object_name: str, names: list[str], *, source: str = sources.USER,
                      actor: str | None = None) -> list[PipelineInfo]:
    """Put the named pipelines first, in this order; the others keep their order after them."""
    Pipeline = crm.models.Pipeline
    pipelines = list_pipelines(crm, object_name)
    chosen = [get_pipeline(crm, object_name, n) for n in names]
    order = chosen + [p for p in pipelines if p.id not in {c.id for c in chosen}]
    with _journaled(crm, "reorder_pipelines", source, actor, _object_name(crm, object_name),
                    f"Reordered the pipelines of {_object_name(crm, object_name)}"):
        for pos, p in enumerate(order):
            Pipeline.update(position=pos).where(Pipeline.id == p.id).execute()
    return list_pipelines(crm, object_name)


def archive_pipeline(crm, object_name: str, pipeline: str, archived: bool = True, *, source: str = sources.USER,
                     actor: str | None = None) -> PipelineInfo:
    Pipeline = crm.models.Pipeline
    info = get_pipeline(crm, object_name, pipeline)
    if archived and not any(not p.archived and p.id != info.id for p in list_pipelines(crm, object_name)):
        raise InvalidValue(f"pipeline {info.label} is the only active pipeline of {info.object}; add another first")
    with _journaled(crm, "archive_pipeline", source, actor, info.object,
                    f"{'Archived' if archived else 'Unarchived'} pipeline {info.label}"):
        Pipeline.update(archived=bool(archived)).where(Pipeline.id == info.id).execute()
    return get_pipeline(crm, object_name, info.name)


# -- stages -----------------------------------------------------------------------------------

def _percent(value) -> str:
    return f"{float(value) * 100:g}%"


@contextmanager
def _journaled(crm, kind: str, source: str, actor: str | None, object_name: str, text: str):
    """One journaled operation (undoable, see meta_journal.py); the registry reloads after it."""
    try:
        with schema_operation(crm, kind, source, actor, object=object_name, summary={"text": text}) as op:
            yield op
    finally:
        _changed(crm)


def _check_kind(object_name: str, kind: str) -> None:
    if kind not in kinds_of(object_name):
        raise InvalidValue(f"stage kind must be one of {', '.join(kinds_of(object_name))} (got {kind!r})")


def add_stage(crm, object_name: str, pipeline: str | None, label: str, *, name: str | None = None,
              kind: str = "open", probability: float | None = None, position: int | None = None,
              source: str = sources.USER, actor: str | None = None) -> StageInfo:
    Stage = crm.models.Stage
    info = get_pipeline(crm, object_name, pipeline)
    label = _label(label)
    _check_kind(info.object, kind)
    if probability is not None and not 0 <= float(probability) <= 1:
        raise InvalidValue(f"probability must be between 0 and 1 (got {probability})")
    if any(s.label.lower() == label.lower() for s in info.stages):
        raise InvalidValue(f"pipeline {info.label} already has a stage named {label!r}")
    if name and info.stage(str(name)):
        raise InvalidValue(f"pipeline {info.label} already has a stage with the internal name {name!r}")
    taken = {s.name for p in list_pipelines(crm, info.object) for s in p.stages}
    name = str(name).strip() if name else _unique(_slug(label) if info.name == _default_name(crm, info.object)
                                                  else f"{info.name}_{_slug(label)}", taken)
    order = [s for s in info.stages]
    position = len(order) if position is None else max(0, min(int(position), len(order)))
    with _journaled(crm, "add_stage", source, actor, info.object, f"Added stage {label} to pipeline {info.label}"):
        stage = Stage.create(pipeline=info.id, name=name, label=label, position=position,
                             probability=None if probability is None else float(probability), kind=kind)
        order.insert(position, stage)
        for pos, s in enumerate(order):
            Stage.update(position=pos).where(Stage.id == s.id).execute()
    return get_pipeline(crm, info.object, info.name).stage(name)


def update_stage(crm, object_name: str, pipeline: str | None, stage: str, *, label: str | None = None,
                 kind: str | None = None, probability: float | None = None, source: str = sources.USER,
                 actor: str | None = None) -> StageInfo:
    Stage = crm.models.Stage
    info = get_pipeline(crm, object_name, pipeline)
    current = _get_stage(info, stage)
    values = {}
    if label is not None:
        label = _label(label)
        if any(s.label.lower() == label.lower() and s.id != current.id for s in info.stages):
            raise InvalidValue(f"pipeline {info.label} already has a stage named {label!r}")
        values["label"] = label
    if kind is not None:
        _check_kind(info.object, kind)
        values["kind"] = kind
    if probability is not None:
        if not 0 <= float(probability) <= 1:
            raise InvalidValue(f"probability must be between 0 and 1 (got {probability})")
        values["probability"] = float(probability)
    if values:
        changed = ", ".join(f"{k} {v if k != 'probability' else _percent(v)}" for k, v in values.items())
        with _journaled(crm, "update_stage", source, actor, info.object,
                        f"Changed stage {current.label} of pipeline {info.label}: {changed}"):
            Stage.update(**values).where(Stage.id == current.id).execute()
    return get_pipeline(crm, info.object, info.name).stage(current.name)


def rename_stage(crm, object_name: str, pipeline: str | None, stage: str, label: str, *,
                 source: str = sources.USER, actor: str | None = None) -> StageInfo:
    return update_stage(crm, object_name, pipeline, stage, label=label, source=source, actor=actor)


def reorder_stages(crm, object_name: str, pipeline: str | None, names: list[str], *, source: str = sources.USER,
                   actor: str | None = None, text: str | None = None) -> PipelineInfo:
    """Put the named stages first, in this order; the others keep their order after them."""
    Stage = crm.models.Stage
    info = get_pipeline(crm, object_name, pipeline)
    chosen = [_get_stage(info, n) for n in names]
    order = chosen + [s for s in info.stages if s.id not in {c.id for c in chosen}]
    with _journaled(crm, "reorder_stages", source, actor, info.object, text or f"Reordered the stages of pipeline {info.label}"):
        for pos, s in enumerate(order):
            Stage.update(position=pos).where(Stage.id == s.id).execute()
    return get_pipeline(crm, info.object, info.name)


def move_stage(crm, object_name: str, pipeline: str | None, stage: str, delta: int, *, source: str = sources.USER,
               actor: str | None = None) -> PipelineInfo:
    """Move a stage `delta` places left (negative) or right (positive)."""
    info = get_pipeline(crm, object_name, pipeline)
    current = _get_stage(info, stage)
    order = [s.name for s in info.stages]
    index = order.index(current.name)
    order.insert(max(0, min(len(order) - 1, index + delta)), order.pop(index))
    return reorder_stages(crm, object_name, info.name, order, source=source, actor=actor,
                          text=f"Moved stage {current.label} {'up' if delta < 0 else 'down'} in pipeline {info.label}")


def archive_stage(crm, object_name: str, pipeline: str | None, stage: str, archived: bool = True, *,
                  source: str = sources.USER, actor: str | None = None) -> StageInfo:
    """An archived stage is hidden from choices; records in it keep it."""
    Stage = crm.models.Stage
    info = get_pipeline(crm, object_name, pipeline)
    current = _get_stage(info, stage)
    if archived and not any(not s.archived and s.id != current.id for s in info.stages):
        raise InvalidValue(f"stage {current.label} is the only active stage of pipeline {info.label}")
    with _journaled(crm, "archive_stage", source, actor, info.object,
                    f"{'Archived' if archived else 'Unarchived'} stage {current.label} of pipeline {info.label}"):
        Stage.update(archived=bool(archived)).where(Stage.id == current.id).execute()
    return get_pipeline(crm, info.object, info.name).stage(current.name)


def _pipeline_condition(crm, info: PipelineInfo):
    meta = crm.registry.get(info.object)
    col = getattr(meta.model, pipeline_props(meta)[0])
    if info.name == _default_name(crm, info.object):
        return (col == info.name) | col.is_null(True)  # a record without a pipeline is in the default one
    return col == info.name


def stage_usage(crm, object_name: str, pipeline: str | None, stage: str) -> int:
    """How many live records are in this stage (deleted ones keep it too but do not count)."""
    info = get_pipeline(crm, object_name, pipeline)
    current = _get_stage(info, stage)
    meta = crm.registry.get(info.object)
    col = getattr(meta.model, pipeline_props(meta)[1])
    return meta.model.select().where(
        (col == current.name) & _pipeline_condition(crm, info) & meta.model.deleted_at.is_null(True)).count()


def delete_stage(crm, object_name: str, pipeline: str | None, stage: str, *, move_to: str | None = None,
                 source: str = sources.USER, actor: str | None = None) -> str:
    """Delete a stage nobody uses, or first move its records to `move_to` (one history row each)."""
    Stage = crm.models.Stage
    info = get_pipeline(crm, object_name, pipeline)
    current = _get_stage(info, stage)
    meta = crm.registry.get(info.object)
    stage_prop = pipeline_props(meta)[1]
    col = getattr(meta.model, stage_prop)
    used = stage_usage(crm, info.object, info.name, current.name)
    target = None
    if move_to not in (None, ""):
        target = _get_stage(info, move_to)
        if target.id == current.id:
            raise InvalidValue(f"choose another stage than {current.label} to move its records to")
        if target.archived:
            raise InvalidValue(f"stage {target.label} is archived; choose an active stage")
    if used and target is None:
        raise InvalidValue(f"stage {current.label} is used by {used} {meta.plural_label.lower() if used != 1 else meta.label.lower()}; "
                           "choose a stage to move them to")
    if len(info.stages) == 1:
        raise InvalidValue(f"stage {current.label} is the only stage of pipeline {info.label}")
    moved = 0
    try:
        with schema_operation(crm, "delete_stage", source, actor, object=info.object,
                              summary={"pipeline": info.name, "stage": current.name,
                                       "moved_to": target.name if target else None,
                                       "text": f"Deleted stage {current.label} of pipeline {info.label}"
                                       + (f" (its records moved to {target.label})" if target else "")}):
            if target is not None:
                ids = [r for (r,) in meta.model.select(meta.model.id).where(
                    (col == current.name) & _pipeline_condition(crm, info)).tuples()]
                for rid in ids:
                    crm.records.update(info.object, rid, {stage_prop: target.name}, source, actor=actor)
                    moved += 1
            Stage.delete().where(Stage.id == current.id).execute()
    finally:
        _changed(crm)
    return (f"deleted stage {current.label} of pipeline {info.label}"
            + (f"; moved {moved} {meta.plural_label.lower() if moved != 1 else meta.label.lower()} to {target.label}"
               if moved else ""))


# -- the board --------------------------------------------------------------------------------

def _board_query(crm, info: PipelineInfo, filters, ids, *fields):
    meta = crm.registry.get(info.object)
    q = meta.model.select(*fields).where(meta.model.deleted_at.is_null(True) & _pipeline_condition(crm, info))
    for flt in filters or ():
        q = q.where(filter_expression(crm, meta, flt))
    if ids is not None:
        q = q.where(meta.model.id.in_(list(ids)))
    return q


def stage_totals(crm, object_name: str, pipeline: str | None = None, filters: list[Filter] = (),
                 ids=None) -> dict[str, StageTotal]:
    """Count and total amount per stage of one pipeline, in one grouped query.
    `ids` (e.g. from a search) restricts the records counted."""
    info = get_pipeline(crm, object_name, pipeline)
    meta = crm.registry.get(info.object)
    _pipe, stage_prop, amount_prop = pipeline_props(meta)
    col = getattr(meta.model, stage_prop)
    amount = fn.SUM(getattr(meta.model, amount_prop)) if amount_prop else fn.SUM(0)
    q = _board_query(crm, info, filters, ids, col, fn.COUNT(meta.model.id), amount).group_by(col)
    return {stage: StageTotal(stage, count, float(total or 0)) for stage, count, total in q.tuples()}


def stage_page(crm, object_name: str, pipeline: str | None, stage: str, *, filters: list[Filter] = (), ids=None,
               after: int | None = None, limit: int = 30, columns: list[str] | None = None) -> tuple[list[dict], int | None]:
    """One page of a stage's records, newest first, keyset by id: pass the returned `after` back."""
    info = get_pipeline(crm, object_name, pipeline)
    meta = crm.registry.get(info.object)
    _pipe, stage_prop, amount_prop = pipeline_props(meta)
    wanted = columns or [c for c in [amount_prop, "closedate" if info.object == "deals" else "hs_ticket_priority",
                                     "hubspot_owner_id"] if c]
    names = dict.fromkeys(["id"] + meta.display_columns + wanted)
    fields = [meta.model._meta.fields[n] if n != "id" else meta.model.id for n in names if n == "id" or n in meta.model._meta.fields]
    q = _board_query(crm, info, filters, ids, *fields).where(getattr(meta.model, stage_prop) == stage)
    if after is not None:
        q = q.where(meta.model.id < after)
    rows = list(q.order_by(meta.model.id.desc()).limit(limit + 1).dicts())
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row["display_name"] = meta.display_name(row)
    return rows, (rows[-1]["id"] if more and rows else None)


def card_row(crm, object_name: str, record_id: int) -> dict | None:
    """One record as `stage_page` returns it (after a move)."""
    meta = crm.registry.get(object_name)
    row = crm.records._row(meta, int(record_id))
    if row is None or row["deleted_at"] is not None:
        return None
    row["display_name"] = meta.display_name(row)
    return row


def to_json(info: PipelineInfo) -> dict:
    return {"object": info.object, "name": info.name, "label": info.label, "position": info.position,
            "archived": info.archived,
            "stages": [{"name": s.name, "label": s.label, "position": s.position, "probability": s.probability,
                        "kind": s.kind, "archived": s.archived} for s in info.stages]}
