"""Peewee models of the fixed tables: metadata, history, associations, settings.

Records themselves live in one table per object type whose model classes are built from the
metadata at start (see `engine.py`). The classes here are templates; each open database gets its
own subclasses of them (`bound`, at the end of this file).
"""

import copy
import threading

from peewee import (
    BooleanField,
    CharField,
    CompositeKey,
    DeferredForeignKey,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


class BaseModel(Model):
    class Meta:
        database = None
        legacy_table_names = False


class ObjectType(BaseModel):
    name = CharField(unique=True)  # plural internal name: contacts, roast_batches
    label = CharField()
    plural_label = CharField()
    kind = CharField(default="custom")  # standard / activity / custom
    primary_property = CharField()
    display = TextField(default="[]")  # JSON: groups of property names
    search = TextField(default="[]")  # JSON: full-text properties
    position = IntegerField(default=0)


class PropertyDef(BaseModel):
    object = ForeignKeyField(ObjectType, backref="properties", on_delete="CASCADE")
    name = CharField()
    label = CharField()
    type = CharField()
    group_name = CharField(default="")
    description = TextField(default="")
    options = TextField(default="[]")  # JSON [{name, label}]
    options_from = CharField(null=True)  # lifecycle / pipelines / stages
    required = BooleanField(default=False)
    unique = BooleanField(default=False)
    indexed = BooleanField(default=False)
    read_only = BooleanField(default=False)
    is_custom = BooleanField(default=False)
    position = IntegerField(default=0)
    archived = BooleanField(default=False)  # hidden from forms, pickers, import and export; values kept

    class Meta:
        indexes = ((("object", "name"), True),)


class Owner(BaseModel):
    name = CharField()
    email = CharField(null=True)
    is_me = BooleanField(default=False)


class LabelDef(BaseModel):
    """One direction of an association label. Paired labels are two rows pointing at each other;
    an unpaired label is also two rows (one for a same-object pair) with the same name, so that
    labels always travel with both directed edges of a link."""

    from_object = ForeignKeyField(ObjectType, on_delete="CASCADE", backref="+")
    to_object = ForeignKeyField(ObjectType, on_delete="CASCADE", backref="+")
    name = CharField()
    inverse = DeferredForeignKey("LabelDef", null=True, on_delete="SET NULL")
    limit_count = IntegerField(null=True)  # links one from-record may have with this label
    paired = BooleanField(default=False)

    class Meta:
        indexes = ((("from_object", "to_object", "name"), True),)


class PairLimit(BaseModel):
    """How many to_object records one from_object record may be linked with."""

    from_object = ForeignKeyField(ObjectType, on_delete="CASCADE", backref="+")
    to_object = ForeignKeyField(ObjectType, on_delete="CASCADE", backref="+")
    limit_count = IntegerField()

    class Meta:
        indexes = ((("from_object", "to_object"), True),)


class Pipeline(BaseModel):
    object = ForeignKeyField(ObjectType, on_delete="CASCADE", backref="pipelines")
    name = CharField()
    label = CharField()
    position = IntegerField(default=0)
    archived = BooleanField(default=False)

    class Meta:
        indexes = ((("object", "name"), True),)


class Stage(BaseModel):
    pipeline = ForeignKeyField(Pipeline, on_delete="CASCADE", backref="stages")
    name = CharField()
    label = CharField()
    position = IntegerField(default=0)
    probability = FloatField(null=True)
    kind = CharField(default="open")  # open / won / lost (deals); open / closed (tickets)
    archived = BooleanField(default=False)

    class Meta:
        indexes = ((("pipeline", "name"), True),)


class Operation(BaseModel):
    """One call of a core mutation: every history row points at the operation that wrote it."""

    kind = CharField()  # create, update, delete, restore, merge, associate, import, seed, ...
    source = CharField()  # User, API, Import, Job, Object merge, ...
    actor = CharField(null=True)  # the user's name for source User
    at = CharField(index=True)  # ISO UTC timestamp
    object = CharField(null=True)
    record_id = IntegerField(null=True)
    summary = TextField(default="{}")  # JSON details (counts, file names, ids)
    undone_by = IntegerField(null=True)
    parent = IntegerField(null=True, index=True)  # a cascade (deletion, auto-association) under a user's operation

    class Meta:
        indexes = ((("object", "record_id"), False),)


class PropertyChange(BaseModel):
    op = ForeignKeyField(Operation, on_delete="CASCADE", backref="+")
    object = IntegerField()
    record_id = IntegerField()
    property = CharField()
    old_value = TextField(null=True)
    new_value = TextField(null=True)

    class Meta:
        indexes = ((("object", "record_id", "id"), False),)


class MetaChange(BaseModel):
    """Append-only: one row per change of a metadata row (an object, property, label, pair limit,
    pipeline or stage) by a schema or pipeline operation, with the row as JSON before and after
    (None: absent), so such an operation can be undone and redone like any other."""

    op = ForeignKeyField(Operation, on_delete="CASCADE", backref="+")
    tbl = CharField()  # object_type, property_def, label_def, pair_limit, pipeline, stage
    row_id = IntegerField()
    old = TextField(null=True)
    new = TextField(null=True)

    class Meta:
        indexes = ((("tbl", "row_id", "id"), False),)


class Association(BaseModel):
    """A directed edge. Every link is two edges, written together in one transaction."""

    from_object = IntegerField()
    from_id = IntegerField()
    to_object = IntegerField()
    to_id = IntegerField()
    is_primary = BooleanField(default=False)
    created_at = CharField()

    class Meta:
        indexes = ((("from_object", "from_id", "to_object", "to_id"), True),)


class AssociationCount(BaseModel):
    """How many records of `to_object` one record is linked with, kept by triggers on the
    association table (dialect.py), so a sidebar's counts are one lookup whatever the fan-out."""

    from_object = IntegerField()
    from_id = IntegerField()
    to_object = IntegerField()
    n = IntegerField(default=0)

    class Meta:
        primary_key = CompositeKey("from_object", "from_id", "to_object")


class AssociationLabel(BaseModel):
    association = ForeignKeyField(Association, on_delete="CASCADE", backref="+")
    label = ForeignKeyField(LabelDef, on_delete="CASCADE", backref="+")

    class Meta:
        primary_key = CompositeKey("association", "label")


class AssociationChange(BaseModel):
    """Append-only: one row per change of a link, seen from record a towards record b."""

    op = ForeignKeyField(Operation, on_delete="CASCADE", backref="+")
    a_object = IntegerField()
    a_id = IntegerField()
    b_object = IntegerField()
    b_id = IntegerField()
    action = CharField()  # a key of associations.ACTION_TEXT
    label = CharField(null=True)  # the label as seen from a
    inverse_label = CharField(null=True)  # the label as seen from b

    class Meta:
        indexes = (
            (("a_object", "a_id", "id"), False),
            (("b_object", "b_id", "id"), False),
        )


class Setting(BaseModel):
    key = CharField(primary_key=True)
    value = TextField()  # JSON


class SavedView(BaseModel):
    object = ForeignKeyField(ObjectType, on_delete="CASCADE", backref="views")
    name = CharField()
    columns = TextField(default="[]")
    filters = TextField(default="[]")
    sort = TextField(default="[]")
    is_default = BooleanField(default=False)
    position = IntegerField(default=0)

    class Meta:
        indexes = ((("object", "name"), True),)


class ExternalId(BaseModel):
    """A record's ID in the system a file came from (HubSpot, Maven...), so that a second import of
    the same export finds the same records and its "Associated ... IDs" resolve."""

    object = CharField()
    record_id = IntegerField()
    source_system = CharField()
    external_id = CharField()
    op = IntegerField(null=True, index=True)  # the import operation (batch) that recorded it

    class Meta:
        indexes = (
            (("object", "source_system", "external_id"), True),
            (("object", "record_id"), False),
        )


class Workflow(BaseModel):
    """A workflow defined in YAML (`crm-tui workflows apply`): its checked definition as JSON, its
    trigger kind (for the quick look-ups of the hooks) and what it has done so far."""

    name = CharField(unique=True)
    object = CharField()
    trigger = CharField()  # created, changed, associated, date
    definition = TextField()  # JSON: when, if, do (services/workflows.py)
    enabled = IntegerField(default=1)
    since = CharField()  # date triggers: dates from this day on fire (set when made or enabled)
    created_at = CharField()
    updated_at = CharField()
    last_run = CharField(null=True)
    runs = IntegerField(default=0)

    class Meta:
        indexes = ((("object", "enabled"), False),)


class WorkflowFired(BaseModel):
    """A date trigger that has fired: (workflow, record, date) fires once."""

    workflow = IntegerField()
    record_id = IntegerField()
    key = CharField()
    op = IntegerField(null=True)

    class Meta:
        table_name = "workflow_fired"
        indexes = ((("workflow", "record_id", "key"), True),)
class MailAddress(BaseModel):
    """The addresses (lower case) an email activity is from, to or cc: the email belongs to them, so a
    contact created later with one of them is linked with it (rules.link_emails_by_address)."""

    email_id = IntegerField()
    address = CharField()

    class Meta:
        indexes = ((("address", "email_id"), True), (("email_id",), False))


class MailSeen(BaseModel):
    """The messages of a Maildir or mbox that `crm-tui mail scan` has read (a Maildir key, an mbox
    message's digest), so the next scan reads only new ones and an interrupted scan resumes."""

    mailbox = TextField()  # the mailbox's absolute path (may be longer than a CharField)
    key = CharField()

    class Meta:
        indexes = ((("mailbox", "key"), True),)


class VdirCard(BaseModel):
    """Two-way vdir sync (`crm-tui vdir sync DIR`): per folder and card UID, the contact the card
    stands for and both sides as they were at the last sync, so that the next one knows what
    changed on which side: the card file's hash and text, the values read from it, and the
    contact's values."""

    folder = TextField()  # the folder's resolved path
    uid = TextField()
    filename = TextField()  # the card's file name inside the folder
    record_id = IntegerField()
    card_hash = CharField()  # sha256 of the file's bytes
    card_text = TextField()  # the card as last synced (unknown fields are patched around, never dropped)
    card_values = TextField(default="{}")  # JSON: the mapped values read from the card
    record_values = TextField(default="{}")  # JSON: the contact's mapped values
    # the card is out of the folder (in .crm-tui-trash, or deleted there) and the contact in the
    # recycle bin: a restore on either side brings back this UID and this card text
    gone = BooleanField(default=False)
    synced_at = CharField()

    class Meta:
        indexes = (
            (("folder", "uid"), True),
            (("folder", "record_id"), True),
            (("record_id",), False),
        )




ALL_MODELS = [
    ObjectType,
    PropertyDef,
    Owner,
    LabelDef,
    PairLimit,
    Pipeline,
    Stage,
    Operation,
    PropertyChange,
    MetaChange,
    Association,
    AssociationCount,
    AssociationLabel,
    AssociationChange,
    Setting,
    SavedView,
    ExternalId,
    Workflow,
    WorkflowFired,
    MailAddress,
    MailSeen,
    VdirCard,
]


# -- one set of model classes per database ---------------------------------------------------
#
# The classes above are templates: bound to no database. Each open database gets its own
# subclasses of them (`bound(db)`, kept on the database object), with foreign keys pointing at
# that database's classes, so any number of databases can be open in one process, each with its
# own operations and history, from any thread (Peewee opens a connection per thread for each
# database). Code reaches them through its context: `crm.models.Operation`,
# `crm.registry.models.LabelDef`. Querying a template directly fails ("must be bound to a
# database"): nothing can silently write into another database.


class ModelSet:
    """The model classes of one database, by the templates' names (`models.Operation`)."""

    def __init__(self, database):
        self.database = database
        made: dict[type, type] = {}
        for template in ALL_MODELS:
            made[template] = _subclass(template, database, made)
            setattr(self, template.__name__, made[template])
        self.all = [made[template] for template in ALL_MODELS]

    def __iter__(self):
        return iter(self.all)


def _subclass(template, database, made: dict) -> type:
    attrs = {"__module__": __name__, "__qualname__": template.__qualname__,
             "Meta": type("Meta", (), {"database": database, "table_name": template._meta.table_name})}
    for name, field in template._meta.fields.items():
        if isinstance(field, ForeignKeyField):
            attrs[name] = _foreign_key(field, template, made)
    return type(template.__name__, (template,), attrs)


def _foreign_key(field: ForeignKeyField, template, made: dict) -> ForeignKeyField:
    """The template's foreign key, pointing at this database's class of the related model."""
    clone = copy.copy(field)
    clone.model = None
    if field.rel_model is template:
        clone.rel_model, clone._is_self_reference = "self", True
    else:
        clone.rel_model, clone._is_self_reference = made[field.rel_model], False
    clone.rel_field = field.rel_field.name
    clone.declared_backref, clone.backref = field.backref, None
    return clone


_binding = threading.Lock()


def bound(database) -> ModelSet:
    """This database's model classes, made on first use."""
    models = getattr(database, "crm_models", None)
    if models is None:
        with _binding:
            models = getattr(database, "crm_models", None)
            if models is None:
                models = database.crm_models = ModelSet(database)
    return models
