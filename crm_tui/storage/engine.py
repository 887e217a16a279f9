"""The object engine: metadata loaded into plain dataclasses, and one real table per object type.

Each object's records live in `obj_<name>` with one typed column per property, so that every
property can be indexed, sorted and filtered at a million rows. Model classes are built from the
metadata when the database opens and rebuilt when a user adds a property.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources

import yaml
from peewee import Entity, FloatField, Index, IntegerField, Model, Table, TextField

from . import dialect
from ..domain.errors import InvalidValue, NotFound
from .models import LabelDef, PropertyDef, bound
from ..domain.sanitize import clean_label, clean_line, clean_text
from ..domain.types import TYPES, property_type, whole_number

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
SYSTEM_COLUMNS = ("id", "createdate", "lastmodifieddate", "deleted_at", "created_op")
RESERVED_NAMES = set(SYSTEM_COLUMNS) | {"object", "display_name", "properties", "associations", "deleted"}


@dataclass(frozen=True)
class Option:
    name: str
    label: str


@dataclass
class PropertyMeta:
    name: str
    label: str
    type: str
    group: str = ""
    description: str = ""
    options: list[Option] = field(default_factory=list)
    options_from: str | None = None
    required: bool = False
    unique: bool = False
    indexed: bool = False
    read_only: bool = False
    is_custom: bool = False
    system: bool = False
    archived: bool = False  # kept with its values, hidden from forms, pickers, import and export

    def option_name(self, given: str) -> str | None:
        """The option's internal name for a name or label typed in any case."""
        wanted = given.strip().lower()
        for option in self.options:
            if option.name.lower() == wanted or option.label.lower() == wanted:
                return option.name
        return None

    def option_label(self, name: str) -> str:
        for option in self.options:
            if option.name == name:
                return option.label
        return name


@dataclass
class ObjectMeta:
    id: int
    name: str
    label: str
    plural_label: str
    kind: str
    primary_property: str
    display: list[list[str]]
    search: list[str]
    properties: dict[str, PropertyMeta]
    model: type[Model] = None

    @property
    def table(self) -> str:
        return f"obj_{self.name}"

    @property
    def is_activity(self) -> bool:
        return self.kind == "activity"

    @property
    def has_primary_company(self) -> bool:
        """Primary exists only from a non-company record towards companies."""
        return self.name != "companies" and not self.is_activity

    def prop(self, name: str) -> PropertyMeta:
        try:
            return self.properties[name]
        except KeyError:
            raise NotFound(f"{self.name} has no property {name!r}") from None

    def find_property(self, given: str) -> PropertyMeta | None:
        """A property by internal name or label, any case."""
        if given in self.properties:
            return self.properties[given]
        wanted = given.strip().lower()
        for meta in self.properties.values():
            if meta.name.lower() == wanted or meta.label.lower() == wanted:
                return meta
        return None

    def display_name(self, values: dict) -> str:
        for group in self.display:
            parts = [str(values[p]) for p in group if values.get(p) not in (None, "")]
            if parts:
                return " ".join(parts)
        return f"{self.label} #{values.get('id', '?')}"

    @property
    def display_columns(self) -> list[str]:
        seen: list[str] = []
        for group in self.display:
            for name in group:
                if name not in seen:
                    seen.append(name)
        return seen


# What every activity object has (the timeline orders by the first, the roll-up reads it): a user's
# activity object gets them when its file leaves them out.
ACTIVITY_PROPERTIES = {
    "hs_timestamp": {"name": "hs_timestamp", "label": "Activity date", "type": "datetime", "indexed": True},
    "hubspot_owner_id": {"name": "hubspot_owner_id", "label": "Activity owner", "type": "user"},
}

SYSTEM_PROPERTIES = [
    PropertyMeta("createdate", "Create date", "datetime", group="System", read_only=True, indexed=True, system=True),
    PropertyMeta("lastmodifieddate", "Last modified date", "datetime", group="System", read_only=True, indexed=True, system=True),
]


def load_yaml_resource(name: str):
    text = resources.files("crm_tui.schema").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def freemail_domains() -> frozenset[str]:
    text = resources.files("crm_tui.schema").joinpath("freemail.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _field_for(prop: PropertyMeta):
    sql_type = property_type(prop.type).sql_type
    if sql_type == "REAL":
        return FloatField(null=True, column_name=prop.name)
    if sql_type == "INTEGER":
        return IntegerField(null=True, column_name=prop.name)
    return TextField(null=True, column_name=prop.name)


def build_model(db, meta: ObjectMeta) -> type[Model]:
    attrs = {
        # Record IDs are never reused, even after an import undo deletes records for good: history
        # rows that name a deleted record must never come to describe a new one.
        "id": dialect.record_id_field(db),
        "createdate": TextField(),
        "lastmodifieddate": TextField(),
        "deleted_at": TextField(null=True),
        "created_op": IntegerField(null=True),
    }
    for prop in meta.properties.values():
        if not prop.system:
            attrs[prop.name] = _field_for(prop)

    class Meta:
        database = db
        table_name = meta.table

    attrs["Meta"] = Meta
    return type(f"Record_{meta.name}", (Model,), attrs)


class Registry:
    """The in-memory view of the metadata tables; rebuilt by `reload()` after schema changes."""

    def __init__(self, db):
        self.db = db
        self.models = bound(db)  # this database's fixed model classes
        self.objects: dict[str, ObjectMeta] = {}
        self.by_id: dict[int, ObjectMeta] = {}

    def reload(self) -> None:
        try:
            self._reload()
        except Exception as exc:
            if not dialect.is_decode_error(exc):
                raise
            # metadata edited by another program holds bytes that are not UTF-8: read them as U+FFFD
            # (doctor reports and repairs them) rather than failing every command
            dialect.tolerate_invalid_utf8(self.db)
            self._reload()

    def _reload(self) -> None:
        """Labels are cleaned as they are read (sanitize.clean_line): metadata written by another
        program or an older version reaches no screen with control sequences in it."""
        models = self.models
        ObjectType, PropertyDef, Pipeline, Stage = models.ObjectType, models.PropertyDef, models.Pipeline, models.Stage
        stages = {}
        pipelines = {}
        for pipeline in Pipeline.select().order_by(Pipeline.position, Pipeline.id):
            pipelines.setdefault(pipeline.object_id, []).append(Option(pipeline.name, clean_line(pipeline.label)))
        for name, label, object_id in (
            Stage.select(Stage.name, Stage.label, Pipeline.object)
            .join(Pipeline)
            .order_by(Pipeline.position, Pipeline.id, Stage.position, Stage.id)
            .tuples()
        ):
            stages.setdefault(object_id, []).append(Option(name, clean_line(label)))
        objects: dict[str, ObjectMeta] = {}
        props_by_object: dict[int, list[PropertyDef]] = {}
        for prop in PropertyDef.select().order_by(PropertyDef.position, PropertyDef.id):
            props_by_object.setdefault(prop.object_id, []).append(prop)
        for row in ObjectType.select().order_by(ObjectType.position, ObjectType.id):
            properties: dict[str, PropertyMeta] = {}
            for p in props_by_object.get(row.id, []):
                options = [Option(o["name"], clean_line(str(o["label"]))) for o in json.loads(p.options)]
                if p.options_from == "pipelines":
                    options = pipelines.get(row.id, [])
                elif p.options_from == "stages":
                    options = _unique_options(stages.get(row.id, []))
                properties[p.name] = PropertyMeta(
                    p.name, clean_line(p.label), p.type, clean_line(p.group_name or ""), clean_text(p.description or ""),
                    options, p.options_from,
                    p.required, p.unique, p.indexed, p.read_only, p.is_custom, archived=bool(p.archived),
                )
            for system in SYSTEM_PROPERTIES:
                properties[system.name] = system
            meta = ObjectMeta(
                row.id, row.name, clean_line(row.label), clean_line(row.plural_label), row.kind, row.primary_property,
                json.loads(row.display), json.loads(row.search), properties,
            )
            meta.model = build_model(self.db, meta)
            objects[row.name] = meta
        self.objects = objects
        self.by_id = {meta.id: meta for meta in objects.values()}

    def get(self, name: str) -> ObjectMeta:
        meta = self.objects.get(name)
        if meta is None:
            meta = self.find(name)
        if meta is None:
            known = ", ".join(self.objects)
            raise NotFound(f"unknown object {name!r} (known: {known})")
        return meta

    def find(self, given: str) -> ObjectMeta | None:
        """An object by internal name, label or plural label, any case."""
        wanted = str(given).strip().lower()  # a YAML null or number names no object: "unknown object"
        for meta in self.objects.values():
            if wanted in (meta.name, meta.label.lower(), meta.plural_label.lower()):
                return meta
        return None

    # -- schema changes ------------------------------------------------------------------

    def create_object(self, spec: dict, kind: str = "custom", *, custom: bool | None = None) -> ObjectMeta:
        """A new object (its metadata, table, indexes and search index). `custom`: a user's object
        (its properties can be deleted); by default the custom kind only. A user's activity object
        (kind activity, custom) keeps its activity date and owner as standard properties."""
        ObjectType = self.models.ObjectType
        name = _check_name(spec.get("name"), "object name")
        if name in self.objects:
            raise InvalidValue(f"object {name!r} already exists")
        label = clean_label(spec.get("label") or name.replace("_", " ").title(), f"object {name!r}: label")
        plural = clean_label(spec.get("plural_label") or label + "s", f"object {name!r}: plural_label")
        props = spec.get("properties") or []
        if not isinstance(props, list) or not props:
            raise InvalidValue(f"object {name!r}: give at least one property")
        primary = spec.get("primary_property") or (props[0].get("name") if isinstance(props[0], dict) else None)
        prop_names = [p.get("name") for p in props if isinstance(p, dict)]
        if primary not in prop_names:
            raise InvalidValue(f"object {name!r}: primary_property {primary!r} is not one of its properties")
        display = spec.get("display") or [[primary]]
        search = spec.get("search") or [p["name"] for p in props if isinstance(p, dict) and "name" in p and p.get("type", "text") in ("text", "email", "phone", "domain")] or [primary]
        position = (ObjectType.select().count() or 0) + 1
        row = ObjectType.create(
            name=name, label=label, plural_label=plural, kind=kind, primary_property=primary,
            display=json.dumps(display), search=json.dumps(search), position=position,
        )
        custom = (kind == "custom") if custom is None else custom
        for i, prop_spec in enumerate(props):
            standard = kind == "activity" and isinstance(prop_spec, dict) and prop_spec.get("name") in ACTIVITY_PROPERTIES
            self._insert_property(row.id, prop_spec, i, is_custom=custom and not standard)
        self.reload()
        meta = self.objects[name]
        self.db.create_tables([meta.model])
        self._create_indexes(meta, meta.properties.values())
        dialect.create_fts(self.db, name)
        return meta

    def add_property(self, object_name: str, spec: dict) -> PropertyMeta:
        return self.add_properties(object_name, [spec])[0]

    def add_properties(self, object_name: str, specs: list[dict]) -> list[PropertyMeta]:
        """New custom properties of one object, each checked as add_property checks it, with one
        registry reload for all (an import bringing hundreds of columns)."""
        PropertyDef = self.models.PropertyDef
        meta = self.get(object_name)
        names: list[str] = []
        position = PropertyDef.select().where(PropertyDef.object == meta.id).count()
        for spec in specs:
            name = _check_name(spec.get("name"), "property name")
            if name in meta.properties or name in names:
                raise InvalidValue(f"{meta.name} already has a property {name!r}")
            self._insert_property(meta.id, spec, position, is_custom=True)
            position += 1
            names.append(name)
        if not names:
            return []
        self.reload()
        meta = self.objects[meta.name]
        props = [meta.properties[name] for name in names]
        add_columns(self.db, meta.table, props)
        self._create_indexes(meta, props)
        return props

    def update_property(self, object_name: str, spec: dict) -> PropertyMeta:
        """Change a property's label, group, description or options (never its type)."""
        PropertyDef = self.models.PropertyDef
        meta = self.get(object_name)
        prop = meta.prop(spec["name"])
        if spec.get("type") and spec["type"] != prop.type:
            raise InvalidValue(f"{meta.name}.{prop.name}: changing a property's type is not supported")
        row = PropertyDef.get((PropertyDef.object == meta.id) & (PropertyDef.name == prop.name))
        if "label" in spec:
            row.label = clean_label(spec["label"], f"property {meta.name}.{prop.name}: label")
        if "group" in spec:
            row.group_name = clean_line(str(spec["group"] or "")).strip()
        if "description" in spec:
            row.description = clean_text(str(spec["description"] or "")).strip()
        if "options" in spec:
            row.options = json.dumps(_parse_options(spec["options"], prop.name))
        row.save()
        self.reload()
        return self.objects[meta.name].properties[prop.name]

    def _insert_property(self, object_id: int, spec, position: int, is_custom: bool) -> None:
        PropertyDef = self.models.PropertyDef
        if not isinstance(spec, dict):
            raise InvalidValue(f"property spec must be a mapping, got {spec!r}")
        name = _check_name(spec.get("name"), "property name")
        ptype = spec.get("type", "text")
        if ptype not in TYPES:
            raise InvalidValue(f"property {name!r}: unknown type {ptype!r} (types: {', '.join(TYPES)})")
        options = _parse_options(spec.get("options") or [], name)
        if property_type(ptype).has_options and not options and not spec.get("options_from"):
            raise InvalidValue(f"property {name!r}: a {ptype} property needs options")
        PropertyDef.create(
            object=object_id, name=name,
            label=clean_label(spec.get("label") or name.replace("_", " ").capitalize(), f"property {name!r}: label"),
            type=ptype, group_name=clean_line(str(spec.get("group") or "")).strip(),
            description=clean_text(str(spec.get("description") or "")).strip(),
            options=json.dumps(options), options_from=spec.get("options_from"),
            required=bool(spec.get("required")), unique=bool(spec.get("unique")),
            indexed=bool(spec.get("indexed", is_custom)), read_only=bool(spec.get("read_only")),
            is_custom=is_custom, position=position,
        )

    def _create_indexes(self, meta: ObjectMeta, props) -> None:
        """The unique index of each unique property (a constraint: constraints.py), the sort index
        of each indexed one, and the record table's own: Peewee Index objects."""
        from .constraints import create_index, unique_property_index

        table = meta.table
        for prop in props:
            if prop.system:
                continue
            if prop.unique:
                create_index(self.db, unique_property_index(table, prop.name))
            if prop.indexed:
                create_index(self.db, sort_index(table, prop.name))
        create_index(self.db, sort_index(table, "createdate"))
        create_index(self.db, sort_index(table, "lastmodifieddate"))
        # deleted records only: the recycle bin, and live = all - deleted without a scan
        create_index(self.db, Index(f"ix_{table}_deleted", Table(table), [Entity("deleted_at")],
                                    where=Entity("deleted_at").is_null(False)))

    def drop_secondary_indexes(self, meta: ObjectMeta, *, unique_too: bool = False) -> list[str]:
        """Drop the sort indexes (and the unique ones if asked: recreating them re-checks every
        value) before a huge load; returns their SQL to run after it."""
        prefixes = ("ix_", "ux_") if unique_too else ("ix_",)
        indexes = [index for index in self.db.get_indexes(meta.table) if index.name.startswith(prefixes)]
        for index in indexes:
            self.db.execute_sql(f'DROP INDEX "{index.name}"')
        return [index.sql for index in indexes]

    # -- labels ------------------------------------------------------------------------

    def create_label(self, from_object: str, to_object: str, name: str, inverse: str | None = None,
                     limit: int | None = None, inverse_limit: int | None = None) -> LabelDef:
        LabelDef = self.models.LabelDef
        src, dst = self.get(from_object), self.get(to_object)
        name = _check_label(name)
        inverse = _check_label(inverse) if inverse else None
        if limit is not None:
            limit = whole_number(limit, f"label {name!r}: limit")
        if inverse_limit is not None:
            inverse_limit = whole_number(inverse_limit, f"label {inverse or name!r}: inverse_limit")
        existing = LabelDef.get_or_none((LabelDef.from_object == src.id) & (LabelDef.to_object == dst.id) & (LabelDef.name == name))
        if existing:
            raise InvalidValue(f"label {name!r} already exists for {src.name} -> {dst.name}")
        paired = inverse is not None and inverse != name
        forward = LabelDef.create(from_object=src.id, to_object=dst.id, name=name, limit_count=limit, paired=paired)
        if src.id == dst.id and not paired:
            forward.inverse = forward.id
        else:
            back_name = inverse or name
            clash = LabelDef.get_or_none((LabelDef.from_object == dst.id) & (LabelDef.to_object == src.id) & (LabelDef.name == back_name))
            if clash:
                raise InvalidValue(f"label {back_name!r} already exists for {dst.name} -> {src.name}")
            back = LabelDef.create(from_object=dst.id, to_object=src.id, name=back_name, inverse=forward.id,
                                   limit_count=inverse_limit, paired=paired)
            forward.inverse = back.id
        forward.save()
        return forward

    def find_label(self, from_object: ObjectMeta, to_object: ObjectMeta, name: str) -> LabelDef:
        LabelDef = self.models.LabelDef
        wanted = name.strip().lower()
        for label in LabelDef.select().where((LabelDef.from_object == from_object.id) & (LabelDef.to_object == to_object.id)):
            if label.name.lower() == wanted:
                return label
        known = [l.name for l in LabelDef.select().where((LabelDef.from_object == from_object.id) & (LabelDef.to_object == to_object.id))]
        hint = f" (labels: {', '.join(known)})" if known else " (no labels defined for this pair)"
        raise NotFound(f"no association label {name!r} from {from_object.name} to {to_object.name}{hint}")


def sort_index(table: str, column: str) -> Index:
    return Index(f"ix_{table}_{column}", Table(table), [Entity(column)])


def add_columns(db, table: str, props) -> None:
    """One typed column per property, added to a record table (playhouse.migrate)."""
    from playhouse.migrate import SchemaMigrator, migrate

    migrator = SchemaMigrator.from_database(db)
    migrate(*(migrator.add_column(table, prop.name, _field_for(prop)) for prop in props))


def _unique_options(options: list[Option]) -> list[Option]:
    seen, out = set(), []
    for option in options:
        if option.name not in seen:
            seen.add(option.name)
            out.append(option)
    return out


def _parse_options(options, prop_name: str) -> list[dict]:
    if not isinstance(options, list):
        raise InvalidValue(f"property {prop_name!r}: options must be a list")
    out = []
    for option in options:
        if isinstance(option, dict):
            raw_name, raw_label = option.get("name", ""), option.get("label") or option.get("name", "")
        else:
            raw_name = raw_label = option
        if raw_name is None or not str(raw_name).strip():
            raise InvalidValue(f"property {prop_name!r}: an option has no name")
        name = clean_label(raw_name, f"property {prop_name!r}: an option's name")
        label = clean_label(raw_label, f"property {prop_name!r}: option {name!r}'s label")
        out.append({"name": name, "label": label})
    return out


def _check_name(name, what: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidValue(f"{what} {name!r} must be lower case letters, digits and _ and start with a letter")
    if name in RESERVED_NAMES:
        raise InvalidValue(f"{what} {name!r} is reserved")
    return name


def _check_label(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue("an association label needs a name")
    return clean_label(name, "association label")[:100]
