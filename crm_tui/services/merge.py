"""Merging two records of one object: the survivor takes the chosen values and every link."""

from __future__ import annotations

from ..storage import dialect
from ..domain import sources
from ..domain.errors import InvalidValue, NotFound
from .records import SaveResult
from ..domain.types import email_domain


class Merger:
    def __init__(self, crm):
        self.crm = crm

    def merge(self, object_name: str, keep_id: int, other_id: int, *, choose: dict[str, str] | None = None,
              source: str = sources.API, actor: str | None = None) -> SaveResult:
        """Merge `other_id` into `keep_id`. `choose` maps a property to "keep" or "other"; by default
        the survivor keeps its values and takes the other's where its own are empty."""
        Operation = self.crm.models.Operation
        meta = self.crm.registry.get(object_name)
        keep_id, other_id = int(keep_id), int(other_id)
        if keep_id == other_id:
            raise InvalidValue("cannot merge a record with itself")
        choose = dict(choose or {})
        with self.crm.operation("merge", source, actor, object=meta.name, record_id=keep_id,
                                summary={"merged": other_id}) as op:
            keep = self.crm.records._row(meta, keep_id)
            other = self.crm.records._row(meta, other_id)
            for rid, row in ((keep_id, keep), (other_id, other)):
                if row is None:
                    raise NotFound(f"no {meta.label.lower()} with id {rid}")
                if row["deleted_at"] is not None:
                    raise InvalidValue(f"{meta.label.lower()} {rid} is deleted")
            for name, side in choose.items():
                if meta.find_property(name) is None:
                    raise InvalidValue(f"{meta.name} has no property {name!r}")
                if side not in ("keep", "other"):
                    raise InvalidValue(f"choose keep or other for {name}, not {side!r}")
            changes = {}
            stage = meta.properties.get("lifecyclestage")
            if stage is not None and not ({"lifecyclestage", stage.label} & set(choose)):
                # as HubSpot merges: the record further along its lifecycle decides the stage
                order = {o.name: i for i, o in enumerate(stage.options)}
                if order.get(other.get("lifecyclestage"), -1) > order.get(keep.get("lifecyclestage"), -1):
                    choose["lifecyclestage"] = "other"
                else:
                    choose["lifecyclestage"] = "keep"
            if meta.name == "contacts" and "hs_additional_emails" in meta.properties:
                # the merged-away addresses stay with the survivor, as additional emails
                kept = [e.strip() for e in str(keep.get("hs_additional_emails") or "").split(";") if e.strip()]
                incoming = [other.get("email")] + str(other.get("hs_additional_emails") or "").split(";")
                mine = {str(keep.get("email") or "").casefold()} | {e.casefold() for e in kept}
                added = [e.strip() for e in incoming if e and e.strip() and e.strip().casefold() not in mine]
                if added and choose.get("email") != "other":
                    changes["hs_additional_emails"] = ";".join(dict.fromkeys(kept + added))
                    choose.setdefault("hs_additional_emails", "keep")
            for name, prop in meta.properties.items():
                if prop.system or prop.read_only:
                    continue
                if name in changes:
                    continue
                side = choose.get(name) or choose.get(prop.label)
                mine, theirs = keep.get(name), other.get(name)
                if side == "other" or (side is None and mine in (None, "") and theirs not in (None, "")):
                    if theirs != mine:
                        changes[name] = theirs
            with self.crm.operation("merge_records", sources.OBJECT_MERGE, None, object=meta.name, record_id=keep_id,
                                    summary={"merged": other_id}) as merge_op:
                # The other record goes first, so that its unique values (email, domain) are free.
                # deleted at the merge operation's own time: that is what keeps it out of the recycle bin
                meta.model.update(deleted_at=op.at).where(meta.model.id == other_id).execute()
                dialect.fts_delete(self.crm.db, meta.name, other_id)
                moved = self.crm.assoc.move_links_for_merge(meta, keep_id, other_id, merge_op)
                if meta.name == "contacts" and "email" in changes:
                    changes["hs_email_domain"] = email_domain(changes["email"])
                if changes:
                    self.crm.records._write_changes(meta, keep_id, keep, changes, merge_op)
                self.crm.records._index_text(meta, keep_id)

            Operation.create(kind="merge", source=source, actor=op.actor, at=op.at, object=meta.name,
                             record_id=other_id, summary=f'{{"merged_into": {keep_id}}}', parent=op.id)
        return SaveResult(keep_id, False, f"merged {meta.label.lower()} {other_id} into {keep_id}: "
                          f"{len(changes)} value(s) taken, {moved} association(s) moved", sorted(changes))
