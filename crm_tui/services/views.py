"""Saved views: named columns + filters + sort per object, stored in the SavedView table.

No Textual here. Every function returns plain `View` dataclasses. Each object always has exactly
one default view (created on first use as "All <objects>" with sensible columns).

    views = Views(crm)
    views.list("contacts") -> [View]        (default first, then by position)
    views.default("contacts") -> View
    views.opening("contacts") -> View       (the config's default_views entry, else the default)
    views.create("contacts", "Customers", columns, filters, sort) -> View
    views.update(id, columns=..., filters=..., sort=...) ; views.rename(id, name)
    views.duplicate(id, name=None) ; views.delete(id) ; views.set_default(id)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from peewee import IntegrityError, OperationalError, fn

from ..domain.errors import InvalidValue, NotFound
from ..storage.models import SavedView
from .query import Filter, Sort
from ..domain.sanitize import clean_line

DEFAULT_COLUMNS = {
    "contacts": ["firstname", "lastname", "email", "@primary_company", "lifecyclestage"],
    "companies": ["name", "domain", "city", "lifecyclestage", "@assoc:contacts"],
    "deals": ["dealname", "amount", "dealstage", "closedate", "@primary_company"],
    "tickets": ["subject", "hs_pipeline_stage", "hs_ticket_priority", "@primary_company"],
}


def default_columns(meta) -> list[str]:
    """The display name columns, then a few useful ones per object."""
    wanted = DEFAULT_COLUMNS.get(meta.name)
    if wanted is not None:
        return [c for c in wanted if c.startswith("@") or (c in meta.properties and not meta.properties[c].archived)]
    stages = [p for p, m in meta.properties.items() if m.options_from == "stages"][:1]  # a custom object's stage
    return [meta.primary_property] + stages + [p for p in meta.properties if p != meta.primary_property and p not in stages
                                               and not meta.properties[p].system and not meta.properties[p].archived][:4 - len(stages)]


def available_columns(crm, meta) -> list[str]:
    """Every column an index of this object can show: properties (archived ones left out), Record ID,
    associations."""
    cols = [p for p in meta.properties if not meta.properties[p].archived] + ["id"]
    if meta.has_primary_company:
        cols.append("@primary_company")
    for other in crm.registry.objects.values():
        if other.name != meta.name:
            cols.append(f"@assoc:{other.name}")
    return cols


@dataclass
class View:
    id: int
    object: str
    name: str
    columns: list[str]
    filters: list[Filter] = field(default_factory=list)
    sort: list[Sort] = field(default_factory=list)
    is_default: bool = False
    position: int = 0


def _sort_json(sort: list[Sort]) -> str:
    return json.dumps([{"property": s.property, "desc": s.desc} for s in sort])


class Views:
    def __init__(self, crm):
        self.crm = crm

    # -- reading ------------------------------------------------------------------------------

    def _object_id(self, object_name: str) -> int:
        return self.crm.registry.get(object_name).id

    def _view(self, row: SavedView, object_name: str | None = None) -> View:
        ObjectType = self.crm.models.ObjectType
        if object_name is None:
            object_name = self.crm.registry.by_id[row.object_id].name if hasattr(self.crm.registry, "by_id") \
                else ObjectType.get_by_id(row.object_id).name
        meta = self.crm.registry.get(object_name)
        known = set(available_columns(self.crm, meta))
        columns = [c for c in json.loads(row.columns or "[]") if c in known] or default_columns(meta)
        filters = []
        for data in json.loads(row.filters or "[]"):
            try:
                filters.append(Filter.from_json(data))
            except (KeyError, TypeError):
                continue
        sort = [Sort(d["property"], bool(d.get("desc"))) for d in json.loads(row.sort or "[]")
                if d.get("property") in meta.properties or d.get("property") == "id"]
        return View(row.id, object_name, row.name, columns, filters, sort, bool(row.is_default), row.position)

    def list(self, object_name: str) -> list[View]:
        """The object's views, default first; creates the default view if there is none."""
        SavedView = self.crm.models.SavedView
        self.default(object_name)
        oid = self._object_id(object_name)
        rows = SavedView.select().where(SavedView.object == oid).order_by(
            SavedView.is_default.desc(), SavedView.position, SavedView.id)
        return [self._view(r, object_name) for r in rows]

    def get(self, view_id: int) -> View:
        SavedView = self.crm.models.SavedView
        row = SavedView.get_or_none(SavedView.id == view_id)
        if row is None:
            raise NotFound(f"no saved view with id {view_id}")
        return self._view(row)

    def default(self, object_name: str) -> View:
        SavedView = self.crm.models.SavedView
        meta = self.crm.registry.get(object_name)
        row = SavedView.get_or_none((SavedView.object == meta.id) & (SavedView.is_default == True))  # noqa: E712
        if row is None:
            with self.crm.db.atomic():
                row = SavedView.select().where(SavedView.object == meta.id).order_by(SavedView.position).first()
                if row is not None:
                    row.is_default = True
                    row.save()
                else:
                    try:
                        row = SavedView.create(object=meta.id, name=f"All {meta.plural_label.lower()}",
                                               columns=json.dumps(default_columns(meta)), is_default=True, position=0)
                    except OperationalError:  # a read-only database: an unsaved default view
                        return View(0, meta.name, f"All {meta.plural_label.lower()}", default_columns(meta),
                                    is_default=True)
        return self._view(row, meta.name)

    def opening(self, object_name: str) -> View:
        """The view an index (and an export without --view) opens with: the one the config's
        default_views names for the object (crm.default_views; name in any case), else the default."""
        wanted = (self.crm.default_views or {}).get(object_name)
        if wanted:
            for view in self.list(object_name):
                if view.name.casefold() == str(wanted).strip().casefold():
                    return view
        return self.default(object_name)

    def opening_problem(self, object_name: str) -> str | None:
        """One line when the config names a view the object does not have, else None."""
        wanted = (self.crm.default_views or {}).get(object_name)
        if wanted and self.opening(object_name).name.casefold() != str(wanted).strip().casefold():
            return f"config default_views.{object_name}: no saved view named {wanted!r}; showing the default view"
        return None

    # -- writing ------------------------------------------------------------------------------

    def _clean_name(self, name: str) -> str:
        name = clean_line(str(name or "")).strip()
        if not name:
            raise InvalidValue("a view needs a name")
        if len(name) > 80:
            raise InvalidValue("a view name can have at most 80 characters")
        return name

    def create(self, object_name: str, name: str, columns: list[str] | None = None,
               filters: list[Filter] = (), sort: list[Sort] = (), *, make_default: bool = False) -> View:
        SavedView = self.crm.models.SavedView
        meta = self.crm.registry.get(object_name)
        name = self._clean_name(name)
        self.default(object_name)
        with self.crm.db.atomic():
            position = (SavedView.select(fn.MAX(SavedView.position)).where(SavedView.object == meta.id).scalar() or 0) + 1
            try:
                row = SavedView.create(object=meta.id, name=name, columns=json.dumps(list(columns or default_columns(meta))),
                                       filters=json.dumps([f.to_json() for f in filters]), sort=_sort_json(list(sort)),
                                       position=position)
            except IntegrityError:
                raise InvalidValue(f"{meta.plural_label} already has a view named {name!r}") from None
        if make_default:
            return self.set_default(row.id)
        return self._view(row, meta.name)

    def update(self, view_id: int, *, columns: list[str] | None = None, filters: list[Filter] | None = None,
               sort: list[Sort] | None = None) -> View:
        row = self._row(view_id)
        if columns is not None:
            row.columns = json.dumps(list(columns))
        if filters is not None:
            row.filters = json.dumps([f.to_json() for f in filters])
        if sort is not None:
            row.sort = _sort_json(list(sort))
        row.save()
        return self._view(row)

    def rename(self, view_id: int, name: str) -> View:
        row = self._row(view_id)
        row.name = self._clean_name(name)
        try:
            with self.crm.db.atomic():
                row.save()
        except IntegrityError:
            raise InvalidValue(f"a view named {row.name!r} already exists") from None
        return self._view(row)

    def duplicate(self, view_id: int, name: str | None = None) -> View:
        view = self.get(view_id)
        if name is None:
            existing = {v.name for v in self.list(view.object)}
            name = f"{view.name} (copy)"
            n = 2
            while name in existing:
                name = f"{view.name} (copy {n})"
                n += 1
        return self.create(view.object, name, view.columns, view.filters, view.sort)

    def delete(self, view_id: int) -> None:
        """Delete a view; if it was the default, the next view becomes default (or a new one is made)."""
        row = self._row(view_id)
        object_name = self._view(row).object
        with self.crm.db.atomic():
            row.delete_instance()
        self.default(object_name)

    def set_default(self, view_id: int) -> View:
        SavedView = self.crm.models.SavedView
        row = self._row(view_id)
        with self.crm.db.atomic():
            SavedView.update(is_default=False).where(SavedView.object == row.object_id).execute()
            SavedView.update(is_default=True).where(SavedView.id == row.id).execute()
        return self.get(view_id)

    def _row(self, view_id: int) -> SavedView:
        SavedView = self.crm.models.SavedView
        row = SavedView.get_or_none(SavedView.id == view_id)
        if row is None:
            raise NotFound(f"no saved view with id {view_id}")
        return row
