"""`crm-tui schema apply FILE.yaml`: create or update custom objects, properties, labels and pipelines
from a YAML file, all in one transaction (a bad entry anywhere changes nothing)."""

from __future__ import annotations

import reprlib
from pathlib import Path

import yaml

from ..domain import sources
from ..domain.errors import InvalidValue
from .meta_journal import schema_operation
from .pipelines import _slug, default_pipeline, ensure_pipeline_properties, kinds_of, pipeline_objects
from .rules import place_records
from ..domain.sanitize import clean_label, clean_line
from ..domain.types import whole_number

KNOWN_KEYS = {"objects", "properties", "labels", "pipelines", "limits"}
MAX_FILE_BYTES = 10 * 1024 * 1024  # a schema is a few kilobytes; a bigger file is a mistake
MAX_PROPERTIES = 500  # per object: SQLite allows 2,000 columns per table, indexes one per property
MAX_ENTRIES = 10_000  # objects, labels, pipelines or stages in one file
_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxdict, _short.maxlevel = 60, 60, 4, 4, 2


def _shown(value) -> str:
    """A value for an error message: short, whatever the file holds (a nested alias bomb too)."""
    return _short.repr(value)


def read_yaml_file(path: str | Path, kind: str, max_bytes: int = MAX_FILE_BYTES):
    """A small YAML file (a schema, workflows) read as data with yaml.safe_load only; whatever is
    wrong with it (a folder, too large, binary, not UTF-8, too deep, not YAML) is one line."""
    path = Path(path)
    try:
        if path.is_dir():
            raise InvalidValue(f"{path}: is a folder, not a YAML file")
        if path.stat().st_size > max_bytes:
            raise InvalidValue(f"{path}: too large for a {kind} file (over {max_bytes // 1024 // 1024} MB)")
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidValue(f"{path}: cannot read: {exc.strerror or exc}") from None
    if b"\x00" in raw:
        raise InvalidValue(f"{path}: a binary file, not YAML")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidValue(f"{path}: not UTF-8 text (byte {exc.start}); save the {kind} file as UTF-8") from None
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise InvalidValue(f"{path}: nested too deeply to be a {kind} file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidValue(f"{path}:{where}: not valid YAML ({problem})") from None


def load_schema_file(path: str | Path) -> dict:
    data = read_yaml_file(path, "schema")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidValue(f"{path}: expected a mapping with objects/properties/labels/pipelines")
    unknown = set(map(str, data)) - KNOWN_KEYS
    if unknown:
        raise InvalidValue(f"{path}: unknown top-level key(s) {_shown(', '.join(sorted(unknown)))} "
                           f"(known: {', '.join(sorted(KNOWN_KEYS))})")
    return data


def apply_schema_file(crm, path: str | Path, *, source: str = sources.API, actor: str | None = None) -> list[str]:
    """Apply a schema file as one journaled operation (`crm-tui undo` takes it back while nothing
    uses what it made)."""
    data = load_schema_file(path)
    summary = {"file": Path(path).name}
    try:
        with schema_operation(crm, "schema_apply", source, actor, summary=summary):
            messages = apply_schema(crm, data)
            summary["text"] = (f"Schema applied from {clean_line(Path(path).name)}: "
                               + (f"{len(messages)} change{'s' if len(messages) != 1 else ''}" if messages else "no change"))
    except Exception:
        crm.registry.reload()  # the transaction rolled back: forget metadata read inside it
        raise
    finally:
        crm._pipelines_cache = None
    return messages


def apply_schema(crm, data: dict) -> list[str]:
    LabelDef = crm.models.LabelDef
    messages = []
    reg = crm.registry
    object_pipelines = []  # `pipelines:` given on an object: applied with the top-level ones
    for spec in _list(data, "objects"):
        name = spec.get("name") if isinstance(spec, dict) else None
        if isinstance(spec, dict) and spec.get("pipelines") is not None:
            object_pipelines += [_on_object(name, p) for p in _list(spec, "pipelines", f"objects.{name}.pipelines")]
        if isinstance(spec, dict) and spec.get("properties") is not None:
            _check_property_count(crm, name, spec.get("properties"))
        activity = _activity_flag(spec)
        if isinstance(name, str) and name in reg.objects:
            meta = reg.get(name)
            if activity is not None and activity != meta.is_activity:
                what = "an activity object" if meta.is_activity else "not an activity object"
                raise InvalidValue(f"object {name}: is {what} already; an object's kind cannot change")
            for prop in spec.get("properties") or []:
                messages += _apply_property(crm, meta.name, prop)
        else:
            if not isinstance(spec, dict):
                raise InvalidValue(f"objects: each object is a mapping with name, label and properties (got {spec!r:.60})")
            if activity:
                meta = reg.create_object(_activity_spec(spec), kind="activity", custom=True)
                messages.append(f"created activity object {meta.name} ({meta.plural_label}) with "
                                f"{len(spec.get('properties') or [])} properties")
            else:
                meta = reg.create_object(spec)
                messages.append(f"created object {meta.name} ({meta.plural_label}) with {len(spec.get('properties') or [])} properties")
    props = data.get("properties") or {}
    if not isinstance(props, dict):
        raise InvalidValue("properties: expected a mapping of object name -> list of properties")
    for object_name, prop_list in props.items():
        if not isinstance(object_name, str):
            raise InvalidValue(f"properties: {_shown(object_name)} is not an object name")
        reg.get(object_name)
        if not isinstance(prop_list, list):
            raise InvalidValue(f"properties.{object_name}: expected a list")
        _check_property_count(crm, object_name, prop_list)
        for prop in prop_list:
            messages += _apply_property(crm, object_name, prop)
    for spec in _list(data, "labels"):
        if not isinstance(spec, dict) or not all(k in spec for k in ("from", "to", "name")):
            raise InvalidValue(f"labels: each label needs from, to and name (got {_shown(spec)})")
        src, dst = reg.get(str(spec["from"])), reg.get(str(spec["to"]))
        label_name = clean_label(spec["name"], "labels: a label's name")
        existing = LabelDef.get_or_none((LabelDef.from_object == src.id) & (LabelDef.to_object == dst.id)
                                        & (LabelDef.name == label_name))
        if existing:
            limit = None if spec.get("limit") is None else whole_number(spec["limit"], f"label {label_name!r}: limit")
            if "limit" in spec and existing.limit_count != limit:
                existing.limit_count = limit
                existing.save()
                messages.append(f"label {spec['name']!r} ({src.name} -> {dst.name}): limit {spec.get('limit')}")
            continue
        created = reg.create_label(src.name, dst.name, label_name, spec.get("inverse"), spec.get("limit"),
                                   spec.get("inverse_limit"))
        inverse = LabelDef.get_or_none(LabelDef.id == created.inverse_id) if created.paired else None
        messages.append(f"created label {label_name!r} for {src.name} -> {dst.name}"
                        + (f" / {inverse.name!r}" if inverse is not None else ""))
    for spec in _list(data, "limits"):
        if not isinstance(spec, dict) or not all(k in spec for k in ("from", "to")):
            raise InvalidValue(f"limits: each limit needs from, to and limit (got {_shown(spec)})")
        crm.assoc.set_pair_limit(spec["from"], spec["to"], spec.get("limit"))
        messages.append(f"limit {spec['from']} -> {spec['to']}: {spec.get('limit') or 'none'}")
    before = set(pipeline_objects(crm))
    for spec in object_pipelines + _list(data, "pipelines"):
        messages += apply_pipeline(crm, spec)
    reg.reload()
    crm._pipelines_cache = None
    for name in pipeline_objects(crm):
        if name not in before and (placed := place_records(crm, name)):  # its existing records: first stage
            meta = reg.get(name)
            messages.append(f"put {placed:,} {meta.plural_label.lower() if placed != 1 else meta.label.lower()} "
                            f"in the first stage of {default_pipeline(crm, name).label}")
    return messages


def _activity_flag(spec) -> bool | None:
    """An object entry's `activity:` (true: a type of activity, like notes and calls), or None."""
    if not isinstance(spec, dict) or "activity" not in spec:
        return None
    flag = spec["activity"]
    if not isinstance(flag, bool):
        raise InvalidValue(f"object {_shown(spec.get('name'))}: activity must be true or false (got {_shown(flag)})")
    return flag


def _activity_spec(spec: dict) -> dict:
    """A user's activity object: the activity date (the timeline's order, the roll-up's "last
    activity") and owner every activity has, added when the file leaves them out."""
    from ..storage.engine import ACTIVITY_PROPERTIES

    props = spec.get("properties")
    if not isinstance(props, list) or not props:
        raise InvalidValue(f"object {_shown(spec.get('name'))}: give at least one property")
    given = {p.get("name") for p in props if isinstance(p, dict)}
    for name, prop in ACTIVITY_PROPERTIES.items():
        if name in given:
            wanted = prop["type"]
            found = next(p for p in props if isinstance(p, dict) and p.get("name") == name)
            if found.get("type", "text") != wanted:
                raise InvalidValue(f"object {_shown(spec.get('name'))}: {name} must be of type {wanted} in an activity object")
    first = next((p.get("name") for p in props if isinstance(p, dict)), None)
    extra = [dict(prop, group=spec.get("label") or spec.get("name")) for name, prop in ACTIVITY_PROPERTIES.items()
             if name not in given]
    out = dict(spec, properties=extra[:1] + list(props) + extra[1:])
    out.setdefault("primary_property", first)
    return out


def _apply_property(crm, object_name: str, spec) -> list[str]:
    if not isinstance(spec, dict) or "name" not in spec:
        raise InvalidValue(f"{object_name}: each property needs a name (got {_shown(spec)})")
    meta = crm.registry.get(object_name)
    if spec["name"] in meta.properties:
        crm.registry.update_property(object_name, spec)
        return [f"updated property {object_name}.{spec['name']}"]
    prop = crm.registry.add_property(object_name, spec)
    return [f"added property {object_name}.{prop.name} ({prop.type})"]


def apply_pipeline(crm, spec) -> list[str]:
    """Create a pipeline or update its label, stages (added, renamed, reordered, archived)."""
    models = crm.models
    Pipeline, Stage = models.Pipeline, models.Stage
    if not isinstance(spec, dict) or not spec.get("object") or not spec.get("name"):
        raise InvalidValue(f"pipelines: each pipeline needs object and name (got {_shown(spec)})")
    meta = crm.registry.get(str(spec["object"]))
    if ensure_pipeline_properties(crm, meta.name):  # a custom object's first pipeline
        meta = crm.registry.get(meta.name)
        messages_first = [f"added properties {meta.name}.hs_pipeline and {meta.name}.hs_pipeline_stage"]
    else:
        messages_first = []
    name = clean_label(spec["name"], "pipelines: a pipeline's name")
    pipeline = Pipeline.get_or_none((Pipeline.object == meta.id) & (Pipeline.name == name))
    messages = messages_first
    if pipeline is None:
        position = Pipeline.select().where(Pipeline.object == meta.id).count()
        pipeline = Pipeline.create(object=meta.id, name=name, label=clean_label(spec.get("label") or name, f"pipeline {name}: label"),
                                   position=position,
                                   archived=bool(spec.get("archived")))
        messages.append(f"created pipeline {pipeline.label} for {meta.name}")
    else:
        if spec.get("label") and clean_label(spec["label"], f"pipeline {name}: label") != pipeline.label:
            pipeline.label = clean_label(spec["label"], f"pipeline {name}: label")
            messages.append(f"renamed pipeline {name} to {pipeline.label}")
        if "archived" in spec and bool(spec["archived"]) != bool(pipeline.archived):
            pipeline.archived = bool(spec["archived"])
            messages.append(f"{'archived' if pipeline.archived else 'unarchived'} pipeline {pipeline.label}")
        pipeline.save()
    if "position" in spec:  # move the pipeline to this place among the object's pipelines (0 = first)
        wanted = whole_number(spec["position"], f"pipeline {name}: position", 0)
        others = [p for p in Pipeline.select().where((Pipeline.object == meta.id) & (Pipeline.id != pipeline.id))
                  .order_by(Pipeline.position, Pipeline.id)]
        others.insert(max(0, min(wanted, len(others))), pipeline)
        for pos, p in enumerate(others):
            Pipeline.update(position=pos).where(Pipeline.id == p.id).execute()
    valid_kinds = kinds_of(meta.name)
    stage_specs = spec.get("stages") or []
    if not isinstance(stage_specs, list):
        raise InvalidValue(f"pipeline {name}: stages must be a list")
    if len(stage_specs) > MAX_ENTRIES:
        raise InvalidValue(f"pipeline {name}: too many stages ({len(stage_specs):,}; at most {MAX_ENTRIES:,})")
    taken: set[str] = set()
    stage_specs = [_stage_spec(name, s, taken) for s in stage_specs]
    for position, stage_spec in enumerate(stage_specs):
        kind = stage_spec.get("kind", "open")
        if kind not in valid_kinds:
            raise InvalidValue(f"pipeline {name}: stage kind must be one of {', '.join(valid_kinds)} (got {_shown(kind)})")
        probability = stage_spec.get("probability")
        if probability is not None and (isinstance(probability, bool) or not isinstance(probability, (int, float))
                                        or not 0 <= probability <= 1):  # NaN fails this too
            raise InvalidValue(f"pipeline {name}: stage {stage_spec['name']}: probability must be between 0 and 1 "
                               f"(got {probability!r})")
        stage_name = clean_label(stage_spec["name"], f"pipeline {name}: a stage's name")
        stage_label = clean_label(stage_spec.get("label") or stage_name, f"pipeline {name}: stage {stage_name}: label")
        stage = Stage.get_or_none((Stage.pipeline == pipeline) & (Stage.name == stage_name))
        if stage is None:
            Stage.create(pipeline=pipeline, name=stage_name, label=stage_label,
                         position=position, probability=stage_spec.get("probability"), kind=kind,
                         archived=bool(stage_spec.get("archived")))
            messages.append(f"added stage {stage_label} to {pipeline.label}")
        else:
            stage.label_before = stage.label
            stage.label = stage_label if stage_spec.get("label") else stage.label
            stage.position = position
            stage.kind = kind
            if "probability" in stage_spec:
                stage.probability = stage_spec["probability"]
            if "archived" in stage_spec and bool(stage_spec["archived"]) != bool(stage.archived):
                stage.archived = bool(stage_spec["archived"])
                messages.append(f"{'archived' if stage.archived else 'unarchived'} stage {stage.label} of {pipeline.label}")
            if stage_spec.get("label") and stage_label != stage.label_before:
                messages.append(f"renamed stage {stage_name} to {stage.label}")
            stage.save()
    listed = [clean_label(s["name"]) for s in stage_specs]
    if listed:  # stages the file does not list keep their order, after the listed ones
        rest = Stage.select().where((Stage.pipeline == pipeline) & Stage.name.not_in(listed)).order_by(Stage.position, Stage.id)
        for offset, stage in enumerate(list(rest)):
            Stage.update(position=len(listed) + offset).where(Stage.id == stage.id).execute()
    return messages


def _list(data: dict, key: str, where: str | None = None) -> list:
    value = data.get(key) or []
    where = where or key
    if not isinstance(value, list):
        raise InvalidValue(f"{_shown(where)}: expected a list")
    if len(value) > MAX_ENTRIES:
        raise InvalidValue(f"{_shown(where)}: too many entries ({len(value):,}; at most {MAX_ENTRIES:,})")
    return value


def _on_object(object_name, spec):
    """A pipeline given under an object: the top-level form with `object:` filled in."""
    if not isinstance(spec, dict):
        raise InvalidValue(f"objects.{_shown(object_name)}.pipelines: each pipeline is a mapping with name and stages "
                           f"(got {_shown(spec)})")
    if spec.get("object") not in (None, object_name):
        raise InvalidValue(f"objects.{_shown(object_name)}.pipelines: pipeline {_shown(spec.get('name'))} names "
                           f"another object ({_shown(spec.get('object'))})")
    return {**spec, "object": object_name}


def _stage_spec(pipeline: str, spec, taken: set[str]) -> dict:
    """A stage as a mapping: a plain label ("Attempting") or a mapping with a label and no name gets
    the label's letters and digits as its internal name ("attempting")."""
    if isinstance(spec, str) and spec.strip():
        spec = {"label": spec}
    if not isinstance(spec, dict) or not (spec.get("name") or spec.get("label")):
        raise InvalidValue(f"pipeline {pipeline}: each stage needs a name or a label (got {_shown(spec)})")
    if not spec.get("name"):
        base = _slug(clean_label(spec["label"], f"pipeline {pipeline}: a stage's label"))
        name, n = base, 2
        while name in taken:
            name, n = f"{base}{n}", n + 1
        spec = {**spec, "name": name}
    taken.add(str(spec["name"]))
    return spec


def _check_property_count(crm, object_name, props) -> None:
    """Refuse a file that would give an object more properties than SQLite can hold as columns."""
    if not isinstance(props, list):
        raise InvalidValue(f"{_shown(object_name)}: properties must be a list")
    meta = crm.registry.objects.get(object_name) if isinstance(object_name, str) else None
    existing = {p for p in meta.properties if not meta.properties[p].system} if meta else set()
    new = {p.get("name") for p in props if isinstance(p, dict) and isinstance(p.get("name"), str)} - existing
    if len(existing) + len(new) > MAX_PROPERTIES:
        raise InvalidValue(f"{object_name}: too many properties ({len(existing) + len(new):,}; "
                           f"an object has at most {MAX_PROPERTIES})")
