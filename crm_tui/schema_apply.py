"""`crm-tui schema apply FILE.yaml`: create or update custom objects, properties, labels and pipelines
from a YAML file, all in one transaction (a bad entry anywhere changes nothing)."""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import InvalidValue, NotFound
from .models import LabelDef, Pipeline, Stage

KNOWN_KEYS = {"objects", "properties", "labels", "pipelines", "limits"}


def load_schema_file(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidValue(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidValue(f"{path}:{where}: not valid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidValue(f"{path}: expected a mapping with objects/properties/labels/pipelines")
    unknown = set(data) - KNOWN_KEYS
    if unknown:
        raise InvalidValue(f"{path}: unknown top-level key(s) {', '.join(sorted(map(str, unknown)))} "
                           f"(known: {', '.join(sorted(KNOWN_KEYS))})")
    return data


def apply_schema_file(crm, path: str | Path) -> list[str]:
    data = load_schema_file(path)
    try:
        with crm.db.atomic():
            messages = apply_schema(crm, data)
    except Exception:
        crm.registry.reload()  # the transaction rolled back: forget metadata read inside it
        raise
    return messages


def apply_schema(crm, data: dict) -> list[str]:
    messages = []
    reg = crm.registry
    for spec in _list(data, "objects"):
        name = spec.get("name") if isinstance(spec, dict) else None
        if name in reg.objects:
            meta = reg.get(name)
            for prop in spec.get("properties") or []:
                messages += _apply_property(crm, meta.name, prop)
        else:
            if not isinstance(spec, dict):
                raise InvalidValue(f"objects: each object is a mapping with name, label and properties (got {spec!r:.60})")
            meta = reg.create_object(spec)
            messages.append(f"created object {meta.name} ({meta.plural_label}) with {len(spec.get('properties') or [])} properties")
    props = data.get("properties") or {}
    if not isinstance(props, dict):
        raise InvalidValue("properties: expected a mapping of object name -> list of properties")
    for object_name, prop_list in props.items():
        reg.get(object_name)
        if not isinstance(prop_list, list):
            raise InvalidValue(f"properties.{object_name}: expected a list")
        for prop in prop_list:
            messages += _apply_property(crm, object_name, prop)
    for spec in _list(data, "labels"):
        if not isinstance(spec, dict) or not all(k in spec for k in ("from", "to", "name")):
            raise InvalidValue(f"labels: each label needs from, to and name (got {spec!r})")
        src, dst = reg.get(spec["from"]), reg.get(spec["to"])
        existing = LabelDef.get_or_none((LabelDef.from_object == src.id) & (LabelDef.to_object == dst.id)
                                        & (LabelDef.name == spec["name"]))
        if existing:
            if "limit" in spec and existing.limit_count != spec.get("limit"):
                existing.limit_count = spec.get("limit")
                existing.save()
                messages.append(f"label {spec['name']!r} ({src.name} -> {dst.name}): limit {spec.get('limit')}")
            continue
        reg.create_label(src.name, dst.name, spec["name"], spec.get("inverse"), spec.get("limit"), spec.get("inverse_limit"))
        messages.append(f"created label {spec['name']!r} for {src.name} -> {dst.name}"
                        + (f" / {spec['inverse']!r}" if spec.get("inverse") else ""))
    for spec in _list(data, "limits"):
        if not isinstance(spec, dict) or not all(k in spec for k in ("from", "to")):
            raise InvalidValue(f"limits: each limit needs from, to and limit (got {spec!r})")
        crm.assoc.set_pair_limit(spec["from"], spec["to"], spec.get("limit"))
        messages.append(f"limit {spec['from']} -> {spec['to']}: {spec.get('limit') or 'none'}")
    for spec in _list(data, "pipelines"):
        messages += apply_pipeline(crm, spec)
    reg.reload()
    return messages


def _apply_property(crm, object_name: str, spec) -> list[str]:
    if not isinstance(spec, dict) or "name" not in spec:
        raise InvalidValue(f"{object_name}: each property needs a name (got {spec!r})")
    meta = crm.registry.get(object_name)
    if spec["name"] in meta.properties:
        crm.registry.update_property(object_name, spec)
        return [f"updated property {object_name}.{spec['name']}"]
    prop = crm.registry.add_property(object_name, spec)
    return [f"added property {object_name}.{prop.name} ({prop.type})"]


def apply_pipeline(crm, spec) -> list[str]:
    """Create a pipeline or update its label, stages (added, renamed, reordered, archived)."""
    if not isinstance(spec, dict) or not spec.get("object") or not spec.get("name"):
        raise InvalidValue(f"pipelines: each pipeline needs object and name (got {spec!r})")
    meta = crm.registry.get(spec["object"])
    if meta.name not in ("deals", "tickets"):
        raise InvalidValue(f"pipelines: only deals and tickets have pipelines, not {meta.name}")
    name = str(spec["name"])
    pipeline = Pipeline.get_or_none((Pipeline.object == meta.id) & (Pipeline.name == name))
    messages = []
    if pipeline is None:
        position = Pipeline.select().where(Pipeline.object == meta.id).count()
        pipeline = Pipeline.create(object=meta.id, name=name, label=str(spec.get("label") or name), position=position,
                                   archived=bool(spec.get("archived")))
        messages.append(f"created pipeline {pipeline.label} for {meta.name}")
    else:
        if spec.get("label") and spec["label"] != pipeline.label:
            pipeline.label = str(spec["label"])
            messages.append(f"renamed pipeline {name} to {pipeline.label}")
        if "archived" in spec and bool(spec["archived"]) != bool(pipeline.archived):
            pipeline.archived = bool(spec["archived"])
            messages.append(f"{'archived' if pipeline.archived else 'unarchived'} pipeline {pipeline.label}")
        pipeline.save()
    if "position" in spec:  # move the pipeline to this place among the object's pipelines (0 = first)
        try:
            wanted = int(spec["position"])
        except (TypeError, ValueError):
            raise InvalidValue(f"pipeline {name}: position must be a number (got {spec['position']!r})") from None
        others = [p for p in Pipeline.select().where((Pipeline.object == meta.id) & (Pipeline.id != pipeline.id))
                  .order_by(Pipeline.position, Pipeline.id)]
        others.insert(max(0, min(wanted, len(others))), pipeline)
        for pos, p in enumerate(others):
            Pipeline.update(position=pos).where(Pipeline.id == p.id).execute()
    valid_kinds = ("open", "won", "lost") if meta.name == "deals" else ("open", "closed")
    for position, stage_spec in enumerate(spec.get("stages") or []):
        if not isinstance(stage_spec, dict) or not stage_spec.get("name"):
            raise InvalidValue(f"pipeline {name}: each stage needs a name (got {stage_spec!r})")
        kind = stage_spec.get("kind", "open")
        if kind not in valid_kinds:
            raise InvalidValue(f"pipeline {name}: stage kind must be one of {', '.join(valid_kinds)} (got {kind!r})")
        probability = stage_spec.get("probability")
        if probability is not None and (isinstance(probability, bool) or not isinstance(probability, (int, float))
                                        or not 0 <= probability <= 1):
            raise InvalidValue(f"pipeline {name}: stage {stage_spec['name']}: probability must be between 0 and 1 "
                               f"(got {probability!r})")
        stage_name = str(stage_spec["name"])
        stage = Stage.get_or_none((Stage.pipeline == pipeline) & (Stage.name == stage_name))
        if stage is None:
            Stage.create(pipeline=pipeline, name=stage_name, label=str(stage_spec.get("label") or stage_name),
                         position=position, probability=stage_spec.get("probability"), kind=kind,
                         archived=bool(stage_spec.get("archived")))
            messages.append(f"added stage {stage_spec.get('label') or stage_name} to {pipeline.label}")
        else:
            stage.label_before = stage.label
            stage.label = str(stage_spec.get("label") or stage.label)
            stage.position = position
            stage.kind = kind
            if "probability" in stage_spec:
                stage.probability = stage_spec["probability"]
            if "archived" in stage_spec and bool(stage_spec["archived"]) != bool(stage.archived):
                stage.archived = bool(stage_spec["archived"])
                messages.append(f"{'archived' if stage.archived else 'unarchived'} stage {stage.label} of {pipeline.label}")
            if stage_spec.get("label") and str(stage_spec["label"]) != stage.label_before:
                messages.append(f"renamed stage {stage_name} to {stage.label}")
            stage.save()
    listed = [str(s["name"]) for s in spec.get("stages") or []]
    if listed:  # stages the file does not list keep their order, after the listed ones
        rest = Stage.select().where((Stage.pipeline == pipeline) & Stage.name.not_in(listed)).order_by(Stage.position, Stage.id)
        for offset, stage in enumerate(list(rest)):
            Stage.update(position=len(listed) + offset).where(Stage.id == stage.id).execute()
    return messages


def _list(data: dict, key: str) -> list:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise InvalidValue(f"{key}: expected a list")
    return value
