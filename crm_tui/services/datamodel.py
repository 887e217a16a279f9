"""Editing the data model after the fact: association labels renamed and deleted, objects relabelled
("Companies" shown as "Accounts"), properties relabelled, regrouped and (custom ones) deleted.

Renames and relabels are schema operations (meta_journal): undo and redo take them back. Deleting a
label or a property is for good and asked first by the callers: the links keep existing and lose
only that label (each with a "label removed" history row); a property's values go with its column,
while the history of its past values stays (history is append-only).
"""

from __future__ import annotations

from ..domain import sources
from ..domain.errors import InvalidValue, NotFound
from .meta_journal import schema_operation
from ..domain.sanitize import clean_line
from ..domain.types import now_iso


# Properties the app's own rules read (merge, forecast, activities, tasks): never archived.
APP_PROPERTIES = frozenset({"hs_additional_emails", "amount", "closedate", "hs_timestamp", "hs_task_status",
                            "hubspot_owner_id"})


def archive_refusal(meta, prop) -> str | None:
    """Why a property cannot be archived (one phrase), or None: the ones naming or identifying
    records, required ones, pipelines, stages and lifecycle stages, and those the app's rules read."""
    if prop.system:
        return "it is a system property"
    if prop.name == meta.primary_property or any(prop.name in group for group in meta.display):
        return f"it names the {meta.label.lower()} records"
    if prop.required:
        return f"{meta.plural_label.lower()} require it"
    if prop.unique:
        return f"it identifies {meta.plural_label.lower()} (unique)"
    if prop.options_from:
        return f"the app uses it ({prop.options_from})"
    if not prop.is_custom and prop.name in APP_PROPERTIES:
        return "the app uses it"
    return None


class DataModel:
    def __init__(self, crm):
        self.crm = crm

    # -- labels -----------------------------------------------------------------------------

    def _label_rows(self, from_object: str, to_object: str, name: str):
        reg = self.crm.registry
        src, dst = reg.get(from_object), reg.get(to_object)
        label = reg.find_label(src, dst, name)
        LabelDef = self.crm.models.LabelDef
        rows = [label]
        if label.inverse_id and label.inverse_id != label.id:
            other = LabelDef.get_or_none(LabelDef.id == label.inverse_id)
            if other is not None:
                rows.append(other)
        return src, dst, label, rows

    def rename_label(self, from_object: str, to_object: str, old: str, new: str, *,
                     source: str = sources.API, actor: str | None = None) -> str:
        from ..storage.engine import _check_label

        src, dst, label, rows = self._label_rows(from_object, to_object, old)
        new = _check_label(new)
        LabelDef = self.crm.models.LabelDef
        clash = LabelDef.get_or_none((LabelDef.from_object == src.id) & (LabelDef.to_object == dst.id)
                                     & (LabelDef.name == new) & (LabelDef.id != label.id))
        if clash is not None:
            raise InvalidValue(f"label {new!r} already exists for {src.name} -> {dst.name}")
        text = f"Renamed label {clean_line(label.name)} to {clean_line(new)} ({src.name} -> {dst.name})"
        m = self.crm.models
        with schema_operation(self.crm, "rename_label", source, actor, summary={"text": text}) as op:
            renamed = {label.id: (label.name, new)}
            label.name = new
            label.save()
            for row in rows[1:]:
                if not label.paired:  # an unpaired label has the same name both ways
                    renamed[row.id] = (row.name, new)
                    row.name = new
                    row.save()
            # each link carrying it says so in its history (label: the new name, inverse_label: the old)
            tagged = (m.AssociationLabel.select(m.Association.from_object, m.Association.from_id, m.Association.to_object,
                                                m.Association.to_id, m.AssociationLabel.label)
                      .join(m.Association, on=(m.AssociationLabel.association == m.Association.id))
                      .where(m.AssociationLabel.label.in_(list(renamed))).tuples())
            changes = [{"op": op.id, "a_object": ao, "a_id": ai, "b_object": bo, "b_id": bi, "action": "label_renamed",
                        "label": renamed[lab][1], "inverse_label": renamed[lab][0]} for ao, ai, bo, bi, lab in tagged]
            for start in range(0, len(changes), 500):
                m.AssociationChange.insert_many(changes[start:start + 500]).execute()
        self.crm.registry.reload()
        return text

    def delete_label(self, from_object: str, to_object: str, name: str, *,
                     source: str = sources.API, actor: str | None = None) -> str:
        """The label goes, with its other side; every link that had it stays, without it."""
        src, dst, label, rows = self._label_rows(from_object, to_object, name)
        m = self.crm.models
        ids = [r.id for r in rows]
        with self.crm.operation("delete_label", source, actor, summary={
                "text": f"Deleted label {clean_line(label.name)} ({src.name} -> {dst.name})"}) as op:
            tagged = (m.AssociationLabel.select(m.Association.from_object, m.Association.from_id, m.Association.to_object,
                                                m.Association.to_id, m.AssociationLabel.label)
                      .join(m.Association, on=(m.AssociationLabel.association == m.Association.id))
                      .where(m.AssociationLabel.label.in_(ids)).tuples())
            names = {r.id: r.name for r in rows}
            inverse = {r.id: names.get(r.inverse_id, r.name) for r in rows}
            changes = [{"op": op.id, "a_object": ao, "a_id": ai, "b_object": bo, "b_id": bi, "action": "label_removed",
                        "label": names[lab], "inverse_label": inverse[lab]}
                       for ao, ai, bo, bi, lab in tagged if lab == label.id]
            for start in range(0, len(changes), 500):
                m.AssociationChange.insert_many(changes[start:start + 500]).execute()
            m.AssociationLabel.delete().where(m.AssociationLabel.label.in_(ids)).execute()
            m.LabelDef.update(inverse=None).where(m.LabelDef.id.in_(ids)).execute()
            m.LabelDef.delete().where(m.LabelDef.id.in_(ids)).execute()
        self.crm.registry.reload()
        return f"deleted label {label.name!r} ({src.name} -> {dst.name}); {len(changes)} link(s) keep existing without it"

    # -- objects and properties -------------------------------------------------------------

    def relabel_object(self, object_name: str, label: str, plural: str | None = None, *,
                       source: str = sources.API, actor: str | None = None) -> str:
        meta = self.crm.registry.get(object_name)
        label = " ".join(str(label or "").split())
        plural = " ".join(str(plural or "").split()) or (label + "s")
        if not label or len(label) > 60 or len(plural) > 60:
            raise InvalidValue("an object's label is 1 to 60 characters")
        ObjectType = self.crm.models.ObjectType
        text = f"Relabelled {meta.plural_label} as {clean_line(plural)}"
        with schema_operation(self.crm, "relabel_object", source, actor, object=meta.name, summary={"text": text}):
            ObjectType.update(label=label, plural_label=plural).where(ObjectType.id == meta.id).execute()
        self.crm.registry.reload()
        return text

    def update_property(self, object_name: str, name: str, *, label: str | None = None, group: str | None = None,
                        source: str = sources.API, actor: str | None = None) -> str:
        meta = self.crm.registry.get(object_name)
        prop = meta.properties.get(name) or meta.find_property(name)
        if prop is None or prop.system:
            raise NotFound(f"{meta.name} has no property {name!r}")
        values = {}
        if label is not None:
            label = " ".join(str(label).split())
            if not label or len(label) > 80:
                raise InvalidValue("a property's label is 1 to 80 characters")
            values["label"] = label
        if group is not None:
            values["group_name"] = " ".join(str(group).split())[:80]
        if not values:
            raise InvalidValue("say what changes: --label and/or --group")
        PropertyDef = self.crm.models.PropertyDef
        text = f"Changed property {prop.label} of {meta.plural_label}"
        with schema_operation(self.crm, "update_property", source, actor, object=meta.name, summary={"text": text}):
            PropertyDef.update(**values).where((PropertyDef.object == meta.id) & (PropertyDef.name == prop.name)).execute()
        self.crm.registry.reload()
        return text

    def archive_property(self, object_name: str, name: str, *, archived: bool = True,
                         source: str = sources.API, actor: str | None = None) -> str:
        """Archive (or, with archived=False, restore) a property: its values and history stay, it is
        hidden from forms, column choosers, filter pickers, import mapping and export until restored.
        A schema operation: undo takes it back. The properties the app itself needs stay."""
        meta = self.crm.registry.get(object_name)
        prop = meta.properties.get(name) or meta.find_property(name)
        if prop is None or prop.system:
            raise NotFound(f"{meta.name} has no property {name!r}")
        if prop.archived == archived:
            raise InvalidValue(f"{prop.label} ({prop.name}) of {meta.plural_label} is "
                               f"{'already archived' if archived else 'not archived'}")
        if archived:
            why = archive_refusal(meta, prop)
            if why:
                raise InvalidValue(f"{prop.label} ({prop.name}) cannot be archived: {why}")
        verb = "Archived" if archived else "Restored"
        text = f"{verb} property {clean_line(prop.label)} of {meta.plural_label}"
        PropertyDef = self.crm.models.PropertyDef
        with schema_operation(self.crm, "archive_property" if archived else "restore_property", source, actor,
                              object=meta.name, summary={"text": text}):
            PropertyDef.update(archived=archived).where(
                (PropertyDef.object == meta.id) & (PropertyDef.name == prop.name)).execute()
        self.crm.registry.reload()
        return text

    def delete_property(self, object_name: str, name: str, *, source: str = sources.API, actor: str | None = None) -> str:
        """A custom property with its values (its column); the standard ones stay, as in HubSpot."""
        from playhouse.migrate import SchemaMigrator, migrate

        meta = self.crm.registry.get(object_name)
        prop = meta.properties.get(name) or meta.find_property(name)
        if prop is None or prop.system:
            raise NotFound(f"{meta.name} has no property {name!r}")
        if not prop.is_custom:
            raise InvalidValue(f"{prop.label} is a standard property of {meta.plural_label}: it cannot be deleted")
        if prop.options_from in ("pipelines", "stages"):
            raise InvalidValue(f"{prop.label} holds the pipelines of {meta.plural_label}: it cannot be deleted")
        if prop.name == meta.primary_property or any(prop.name in group for group in meta.display):
            raise InvalidValue(f"{prop.label} names the {meta.label.lower()} records: choose another name property first")
        m = self.crm.models
        model = meta.model
        held = model.select().where(getattr(model, prop.name).is_null(False)).count()
        with self.crm.operation("delete_property", source, actor, object=meta.name, summary={
                "text": f"Deleted property {clean_line(prop.label)} of {meta.plural_label} ({held} value(s))",
                "at": now_iso()}):
            for index in self.crm.db.get_indexes(meta.table):
                if prop.name in index.columns:
                    self.crm.db.execute_sql(f'DROP INDEX IF EXISTS "{index.name}"')
            migrate(SchemaMigrator.from_database(self.crm.db).drop_column(meta.table, prop.name))
            m.PropertyDef.delete().where((m.PropertyDef.object == meta.id) & (m.PropertyDef.name == prop.name)).execute()
            if prop.name in meta.search:
                import json

                m.ObjectType.update(search=json.dumps([n for n in meta.search if n != prop.name])).where(
                    m.ObjectType.id == meta.id).execute()
        self.crm.registry.reload()
        return f"deleted property {prop.name!r} of {meta.name} with its {held} value(s)"
