"""The records service: the only way a record changes. Every call is one transaction and one
operation with a source; every changed property leaves a history row with old and new values."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import count as numbered
from typing import Any, Iterable

from peewee import SQL, IntegrityError, Value, fn

from ..storage import dialect
from . import rules
from ..domain import sources
from ..storage.engine import ObjectMeta, PropertyMeta
from ..domain.errors import InvalidValue, NotFound
from .query import Filter, Sort, filter_expression, keyset_after, order_by
from ..domain.types import ValueProblem, now_iso, property_type

# Creating a record whose key exists updates that record instead (domain.md section 1).
DEDUPE_KEYS = {"contacts": "email", "companies": "domain"}
# A contact's other emails (a merge keeps the merged-away ones here, ;-separated): creating or
# importing a contact with one of them finds that contact, as its primary email would.
ADDITIONAL_EMAILS = "hs_additional_emails"


@dataclass
class RecordView:
    id: int
    object: str
    display_name: str
    properties: dict[str, Any]
    created_at: str
    updated_at: str
    deleted: bool
    deleted_at: str | None = None


@dataclass
class SaveResult:
    id: int
    created: bool
    message: str
    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Page:
    rows: list[dict]
    next_after: tuple | None  # pass back as `after` for the next page; None at the end


def to_text(prop: PropertyMeta, value) -> str | None:
    """The stored value as history and exports write it."""
    return property_type(prop.type).to_text(value)

class Records:
    def __init__(self, crm):
        self.crm = crm
        self._insert_sql: dict = {}  # bulk_insert's SQL per (model, columns)

    # -- values ----------------------------------------------------------------------------

    def coerce_value(self, meta: ObjectMeta, prop: PropertyMeta, raw):
        """What a user typed -> the stored value, or InvalidValue naming the property."""
        if raw is None or (isinstance(raw, str) and raw.strip() == ""):
            return None
        try:
            return self._coerce(prop, raw)
        except ValueProblem as exc:
            raise InvalidValue(f"{meta.name}.{prop.name} ({prop.label}): {exc}") from None

    def _coerce(self, prop: PropertyMeta, raw):
        return property_type(prop.type).parse(prop, raw, dayfirst=self.crm.dayfirst, owner_id=self._owner_id)

    def column_coercer(self, meta: ObjectMeta, prop: PropertyMeta):
        """`coerce_value(meta, prop, raw)` as a function built once per column (bulk paths: import).

        Same value and the same InvalidValue for every input. Printable text cells of the common
        types skip the per-cell type dispatch and `clean_line` (which leaves printable text as it
        is); anything else goes through `coerce_value` itself."""
        coerce_value = self.coerce_value
        where = f"{meta.name}.{prop.name} ({prop.label}): "
        return property_type(prop.type).column_parser(where, lambda raw: coerce_value(meta, prop, raw))

    def _owner_id(self, raw) -> int:
        Owner = self.crm.models.Owner
        text = str(raw).strip()
        if text.lower() == "me":  # the local user's owner (`--filter hubspot_owner_id=me`)
            me = Owner.select(Owner.id).where(Owner.is_me == True).order_by(Owner.id).scalar()  # noqa: E712
            if me is not None:
                return me
        if text.isdigit():
            if int(text) <= 2**63 - 1 and Owner.get_or_none(Owner.id == int(text)):
                return int(text)
            raise ValueProblem(f"no owner with id {text}")
        wanted = text.lower()
        for owner in Owner.select():
            if owner.name.lower() == wanted or (owner.email or "").lower() == wanted:
                return owner.id
        raise ValueProblem(f"no owner named {text!r} (see `crm-tui owners`)")

    def coerce(self, meta: ObjectMeta, values: dict, *, allow_read_only: bool = False) -> dict:
        out = {}
        for given, raw in values.items():
            prop = meta.find_property(given)
            if prop is None:
                raise InvalidValue(f"{meta.name} has no property {given!r}")
            if prop.read_only and not allow_read_only:
                raise InvalidValue(f"{meta.name}.{prop.name} ({prop.label}) is read-only")
            out[prop.name] = self.coerce_value(meta, prop, raw)
        return out

    # -- reading -----------------------------------------------------------------------------

    def _row(self, meta: ObjectMeta, record_id: int) -> dict | None:
        # Hot path (every edit, every record page): plain SQL by primary key, no model instances.
        cursor = self.crm.db.execute_sql(f'SELECT * FROM "{meta.table}" WHERE id = ?', (record_id,))
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip((d[0] for d in cursor.description), row))

    def get(self, object_name: str, record_id: int) -> RecordView:
        meta = self.crm.registry.get(object_name)
        row = self._row(meta, int(record_id))
        if row is None:
            raise NotFound(f"no {meta.label.lower()} with id {record_id}")
        return self._view(meta, row)

    def _view(self, meta: ObjectMeta, row: dict) -> RecordView:
        props = {name: row.get(name) for name in meta.properties if not meta.properties[name].system}
        props["createdate"] = row["createdate"]
        props["lastmodifieddate"] = row["lastmodifieddate"]
        return RecordView(
            id=row["id"], object=meta.name, display_name=meta.display_name(row), properties=props,
            created_at=row["createdate"], updated_at=row["lastmodifieddate"],
            deleted=row["deleted_at"] is not None, deleted_at=row["deleted_at"],
        )

    def exists(self, meta: ObjectMeta, record_id: int, *, live: bool = True) -> bool:
        query = meta.model.select(meta.model.id).where(meta.model.id == record_id)
        if live:
            query = query.where(meta.model.deleted_at.is_null(True))
        return query.exists()

    def display_names(self, meta: ObjectMeta, ids: Iterable[int]) -> dict[int, str]:
        """Names of many records of one object in one query."""
        ids = list(set(ids))
        if not ids:
            return {}
        cols = [meta.model.id] + [meta.model._meta.fields[c] for c in meta.display_columns if c in meta.model._meta.fields]
        out = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            for row in meta.model.select(*cols).where(meta.model.id.in_(chunk)).dicts():
                out[row["id"]] = meta.display_name(row)
        return out

    def query(self, object_name: str, filters: list[Filter] = (), sort: list[Sort] = (), *,
              columns: list[str] | None = None, deleted: bool = False):
        """A Peewee SELECT of dicts for a view: live (or deleted) records, filtered and ordered."""
        meta = self.crm.registry.get(object_name)
        model = meta.model
        fields = [model.id, model.createdate, model.lastmodifieddate, model.deleted_at]
        wanted = columns if columns is not None else [p for p in meta.properties if not meta.properties[p].system]
        base = {"id", "createdate", "lastmodifieddate", "deleted_at"}
        for name in dict.fromkeys(list(wanted) + meta.display_columns + [s.property for s in sort]):
            f = model._meta.fields.get(name)
            # compare by name: `field in list` would build SQL expressions, which are always truthy
            if f is not None and name not in base:
                fields.append(f)
                base.add(name)
        q = model.select(*fields)
        q = q.where(model.deleted_at.is_null(not deleted))
        if deleted:
            q = q.where(~self.merged_away(meta))
        for flt in filters:
            q = q.where(filter_expression(self.crm, meta, flt))
        return q.order_by(*order_by(meta, list(sort)))

    def list(self, object_name: str, filters: list[Filter] = (), sort: list[Sort] = (), *, limit: int = 50,
             after: tuple | None = None, columns: list[str] | None = None, deleted: bool = False) -> Page:
        """One page, keyset-paginated: pass the previous page's `next_after` as `after`."""
        meta = self.crm.registry.get(object_name)
        sort = list(sort)
        q = self.query(object_name, filters, sort, columns=columns, deleted=deleted)
        if after is not None:
            *values, last_id = after
            q = q.where(keyset_after(meta, sort, tuple(values), last_id))
        rows = list(q.limit(limit + 1).dicts())
        more = len(rows) > limit
        rows = rows[:limit]
        for row in rows:
            row["display_name"] = meta.display_name(row)
        next_after = None
        if more and rows:
            last = rows[-1]
            next_after = tuple(last[s.property] for s in sort) + (last["id"],)
        return Page(rows, next_after)

    def refuse_archived(self, object_name: str, values: dict) -> None:
        """A user's command naming an archived property is refused in one line (the app's forms do
        not offer them; merge, undo and restore still write them, through the core's own paths)."""
        meta = self.crm.registry.get(object_name)
        for name in values:
            prop = meta.find_property(name)
            if prop is not None and prop.archived:
                raise InvalidValue(f"{meta.name}.{prop.name} is archived: restore it first "
                                   f"(crm-tui schema restore-property {meta.name} {prop.name})")

    def holds_no_records(self) -> bool:
        """No record of any object, live or in the bin (the first-run screen's question): one
        query that stops at the first row it finds."""
        tables = [meta.table for meta in self.crm.registry.objects.values()]
        if not tables:
            return True
        found = " OR ".join(f'EXISTS (SELECT 1 FROM "{table}")' for table in tables)
        return not self.crm.db.execute_sql(f"SELECT CASE WHEN {found} THEN 1 ELSE 0 END").fetchone()[0]

    def count(self, object_name: str, filters: list[Filter] = (), *, deleted: bool = False) -> int:
        meta = self.crm.registry.get(object_name)
        if not filters:
            return self._count_unfiltered(meta, deleted)
        q = meta.model.select().where(meta.model.deleted_at.is_null(not deleted))
        if deleted:
            q = q.where(~self.merged_away(meta))
        for flt in filters:
            q = q.where(filter_expression(self.crm, meta, flt))
        return q.count()

    def merged_away(self, meta: ObjectMeta):
        """True for a record that a merge took away (it is in no recycle bin: undo, not restore,
        takes a merge back). Such a record's deletion time is its merge operation's time, so a
        later undo (which brings it back) or a plain deletion after that no longer matches."""
        Operation = self.crm.models.Operation
        model = meta.model
        return fn.EXISTS(Operation.select(SQL("1")).where(
            (Operation.kind == "merge") & (Operation.object == meta.name) & (Operation.record_id == model.id)
            & (Operation.at == model.deleted_at)))

    def is_merged_away(self, meta: ObjectMeta, record_id: int) -> int | None:
        """The survivor's id when `record_id` was merged away (and not brought back), else None."""
        Operation = self.crm.models.Operation
        model = meta.model
        row = (Operation.select(Operation.summary).join(model, on=(
            (Operation.record_id == model.id) & (Operation.at == model.deleted_at)))
            .where((Operation.kind == "merge") & (Operation.object == meta.name) & (model.id == record_id))
            .order_by(Operation.id.desc()).first())
        if row is None:
            return None
        try:
            return int(json.loads(row.summary).get("merged_into"))
        except (TypeError, ValueError, AttributeError):
            return None

    def _count_unfiltered(self, meta: ObjectMeta, deleted: bool) -> int:
        """Counts without scanning the table.

        A bare COUNT(*) lets SQLite count b-tree cells of the smallest index (a million rows in
        ~2 ms, against ~70 ms for `WHERE deleted_at IS NULL`), and deleted rows are counted on the
        small partial index of deleted records. Live rows = all rows - deleted rows.
        """
        model = meta.model
        gone = model.select(fn.COUNT(SQL("*"))).where(model.deleted_at.is_null(False)).scalar() or 0
        if deleted:
            return model.select(fn.COUNT(SQL("*"))).where(model.deleted_at.is_null(False) & ~self.merged_away(meta)).scalar() or 0
        total = dialect.kept_row_count(self.crm.db, meta.table)
        if total is None:
            total = model.select(fn.COUNT(SQL("*"))).scalar() or 0
        return max(0, total - gone)

    # -- writing ------------------------------------------------------------------------------

    def create(self, object_name: str, values: dict, source: str = sources.API, *, actor: str | None = None,
               dedupe: bool = True, subscriber: bool = False, allow_read_only: bool = False) -> SaveResult:
        args = (object_name, values, source)
        kwargs = dict(actor=actor, dedupe=dedupe, subscriber=subscriber, allow_read_only=allow_read_only)
        try:
            return self._create(*args, **kwargs)
        except DuplicateValue as exc:
            # Another writer made a record with this email (domain) between our look-up and our
            # insert, and the database's unique index refused ours: the look-up finds it now.
            if not dedupe or exc.property != DEDUPE_KEYS.get(self.crm.registry.get(object_name).name):
                raise
            return self._create(*args, **kwargs)

    def _create(self, object_name: str, values: dict, source: str = sources.API, *, actor: str | None = None,
                dedupe: bool = True, subscriber: bool = False, allow_read_only: bool = False) -> SaveResult:
        meta = self.crm.registry.get(object_name)
        clean = self.coerce(meta, values, allow_read_only=allow_read_only)
        key = DEDUPE_KEYS.get(meta.name)
        if dedupe and key and clean.get(key):
            existing, additional = self._holder(meta, key, clean[key])
            if existing:
                given = {k: v for k, v in clean.items() if v is not None}
                if additional:  # its primary email stays; this one is already among its others
                    given.pop(key)
                result = self._update(meta, existing, given, source, actor)
                result.message = (
                    f"{meta.label} {existing} already has {'additional ' if additional else ''}{key} {clean[key]}: updated it"
                    + (f" ({', '.join(result.changed)})" if result.changed else " (nothing changed)")
                )
                return result
        for name, prop in meta.properties.items():
            if prop.required and clean.get(name) is None:
                raise InvalidValue(f"{meta.name}.{name} ({prop.label}) is required")
        with self.crm.operation("create", source, actor, object=meta.name) as op:
            rules.before_create(self.crm, meta, clean, subscriber=subscriber)
            now = now_iso()
            row = {k: v for k, v in clean.items() if v is not None and k not in ("createdate", "lastmodifieddate")}
            created = clean.get("createdate") or now
            try:
                record_id = meta.model.insert(createdate=created, lastmodifieddate=now, created_op=op.id, **row).execute()
            except IntegrityError as exc:
                raise self._integrity_problem(meta, clean, exc) from None
            op.record_id = record_id
            op.save()
            self._index_text(meta, record_id)
            notes = rules.after_create(self.crm, meta, record_id, clean, op)
            notes += self.crm.workflows.after_create(meta, record_id)
        label = meta.label
        return SaveResult(record_id, True, f"created {label.lower()} {record_id}", sorted(row), notes)

    def find_existing(self, object_name: str, values: dict) -> int | None:
        """The live record that create(values) would update instead (a contact with the same email,
        a company with the same domain), or None. Lets a screen ask before anything is written."""
        meta = self.crm.registry.get(object_name)
        key = DEDUPE_KEYS.get(meta.name)
        if key is None:
            return None
        raw = None
        for given, value in values.items():
            prop = meta.find_property(given)
            if prop is not None and prop.name == key:
                raw = value
        value = self.coerce_value(meta, meta.prop(key), raw)
        if not value:
            return None
        return self._holder(meta, key, value)[0]

    def for_existing(self, object_name: str, record_id: int, values: dict) -> dict:
        """The values to write onto the record find_existing(values) found: without the email when
        that email is one of the contact's additional emails (its primary email stays)."""
        meta = self.crm.registry.get(object_name)
        key = DEDUPE_KEYS.get(meta.name)
        row = self._row(meta, int(record_id)) or {}
        out = {}
        for given, value in values.items():
            prop = meta.find_property(given)
            if prop is not None and prop.name == key and value not in (None, "") \
                    and self.coerce_value(meta, prop, value) != row.get(key):
                continue
            out[given] = value
        return out

    def _holder(self, meta: ObjectMeta, key: str, value) -> tuple[int | None, bool]:
        """(the live record holding this dedupe key, whether it holds it as an additional email)."""
        found = self._live_holder(meta, key, value)
        if found is None and key == "email" and ADDITIONAL_EMAILS in meta.properties:
            found = self._additional_holder(meta, value)
            return found, found is not None
        return found, False

    @staticmethod
    def _additional_holder(meta: ObjectMeta, email) -> int | None:
        """The oldest live contact with this email among its additional emails."""
        model = meta.model
        column = getattr(model, ADDITIONAL_EMAILS)
        listed = Value(";").concat(fn.lower(fn.replace(column, " ", ""))).concat(";")
        return model.select(model.id).where(
            column.is_null(False) & model.deleted_at.is_null(True)
            & dialect.contains_text(listed, f";{str(email).strip().lower()};")).order_by(model.id).scalar()

    @staticmethod
    def _live_holder(meta: ObjectMeta, key: str, value) -> int | None:
        """The live record whose dedupe key (email, domain) holds this value."""
        return meta.model.select(meta.model.id).where(
            (getattr(meta.model, key) == value) & meta.model.deleted_at.is_null(True)).scalar()

    def changes(self, object_name: str, record_id: int, values: dict) -> list[tuple[str, object, object]]:
        """What update(values) would change on a record, without writing: (property, old, new)
        stored values for each property that would differ (empty values count as 'no change')."""
        meta = self.crm.registry.get(object_name)
        clean = self.coerce(meta, values)
        row = self._row(meta, int(record_id))
        if row is None:
            raise NotFound(f"no {meta.label.lower()} with id {record_id}")
        return [(name, row.get(name), new) for name, new in clean.items()
                if new is not None and row.get(name) != new]

    def update(self, object_name: str, record_id: int, values: dict, source: str = sources.API, *,
               actor: str | None = None, enforce_rules: bool = True, allow_read_only: bool = False) -> SaveResult:
        meta = self.crm.registry.get(object_name)
        clean = self.coerce(meta, values, allow_read_only=allow_read_only)
        return self._update(meta, int(record_id), clean, source, actor, enforce_rules=enforce_rules)

    def _update(self, meta: ObjectMeta, record_id: int, clean: dict, source: str, actor: str | None,
                *, enforce_rules: bool = True) -> SaveResult:
        with self.crm.operation("update", source, actor, object=meta.name, record_id=record_id) as op:
            row = self._row(meta, record_id)
            if row is None:
                raise NotFound(f"no {meta.label.lower()} with id {record_id}")
            if row["deleted_at"] is not None:
                raise InvalidValue(f"{meta.label.lower()} {record_id} is deleted; restore it first")
            changes = {k: v for k, v in clean.items() if row.get(k) != v}
            for name, value in changes.items():
                prop = meta.properties[name]
                if prop.required and value is None:
                    raise InvalidValue(f"{meta.name}.{name} ({prop.label}) is required and cannot be emptied")
            if enforce_rules:
                rules.before_update(self.crm, meta, row, changes)
            if not changes:
                return SaveResult(record_id, False, f"{meta.label.lower()} {record_id}: nothing changed")
            self._write_changes(meta, record_id, row, changes, op)
            notes = rules.after_update(self.crm, meta, record_id, row, changes, op)
            notes += self.crm.workflows.after_update(meta, record_id, changes)
        return SaveResult(record_id, False, f"updated {meta.label.lower()} {record_id} ({', '.join(sorted(changes))})",
                          sorted(changes), notes)

    def _write_changes(self, meta: ObjectMeta, record_id: int, row: dict, changes: dict, op) -> None:
        """Write new values and their history rows; the caller holds the operation."""
        PropertyChange = self.crm.models.PropertyChange
        stored = {k: v for k, v in changes.items() if k != "lastmodifieddate"}
        now = now_iso()
        try:
            meta.model.update(lastmodifieddate=now, **stored).where(meta.model.id == record_id).execute()
        except IntegrityError as exc:
            raise self._integrity_problem(meta, changes, exc) from None
        PropertyChange.insert_many([
            {"op": op.id, "object": meta.id, "record_id": record_id, "property": name,
             "old_value": to_text(meta.properties[name], row.get(name)),
             "new_value": to_text(meta.properties[name], value)}
            for name, value in stored.items()
        ]).execute()
        if any(name in meta.search for name in stored):
            self._index_text(meta, record_id)

    def _integrity_problem(self, meta: ObjectMeta, values: dict, exc: Exception) -> InvalidValue:
        text = str(exc)
        for name, prop in meta.properties.items():
            if prop.unique and name in text:
                return DuplicateValue(f"{meta.name}.{name}: another {meta.label.lower()} already has {values.get(name)!r}",
                                      name)
        return InvalidValue(f"{meta.name}: {text}")

    def delete(self, object_name: str, record_id: int, source: str = sources.API, *, actor: str | None = None) -> SaveResult:
        meta = self.crm.registry.get(object_name)
        record_id = int(record_id)
        with self.crm.operation("delete", source, actor, object=meta.name, record_id=record_id) as op:
            row = self._row(meta, record_id)
            if row is None:
                raise NotFound(f"no {meta.label.lower()} with id {record_id}")
            if row["deleted_at"] is not None:
                raise InvalidValue(f"{meta.label.lower()} {record_id} is already deleted")
            meta.model.update(deleted_at=now_iso()).where(meta.model.id == record_id).execute()
            dialect.fts_delete(self.crm.db, meta.name, record_id)
            removed = self.crm.assoc.remove_all_for_deletion(meta, record_id, op)
        return SaveResult(record_id, False, f"deleted {meta.label.lower()} {record_id}"
                          + (f" and its {removed} association(s)" if removed else ""))

    def restore(self, object_name: str, record_id: int, source: str = sources.API, *, actor: str | None = None) -> SaveResult:
        meta = self.crm.registry.get(object_name)
        record_id = int(record_id)
        with self.crm.operation("restore", source, actor, object=meta.name, record_id=record_id) as op:
            row = self._row(meta, record_id)
            if row is None:
                raise NotFound(f"no {meta.label.lower()} with id {record_id}")
            if row["deleted_at"] is None:
                raise InvalidValue(f"{meta.label.lower()} {record_id} is not deleted")
            survivor = self.is_merged_away(meta, record_id)
            if survivor is not None:
                raise InvalidValue(f"{meta.label.lower()} {record_id} was merged into {survivor}: undo that merge "
                                   "(crm-tui operations lists it) to bring it back")
            try:
                meta.model.update(deleted_at=None).where(meta.model.id == record_id).execute()
            except IntegrityError:
                key = next((n for n, p in meta.properties.items() if p.unique and row.get(n)), "key")
                raise InvalidValue(
                    f"cannot restore {meta.label.lower()} {record_id}: another live record has {key} {row.get(key)!r}"
                ) from None
            self._index_text(meta, record_id)
            restored = self.crm.assoc.restore_after_deletion(meta, record_id, op)
        return SaveResult(record_id, False, f"restored {meta.label.lower()} {record_id}"
                          + (f" and {restored} association(s)" if restored else ""))

    # -- bulk paths (seed, import) -------------------------------------------------------------

    def bulk_insert(self, meta: ObjectMeta, columns: list[str], rows, op, *, now: str | None = None,
                    count: int | None = None, blank_is_null: bool = False) -> tuple[int, int]:
        """Insert already-coerced rows (tuples in `columns` order) with executemany on the SQL that
        Peewee generates; the caller holds the operation. Returns the (first, last) new ids; the
        full-text index is filled for that range with `index_range` afterwards.

        The ids are reserved for the batch before it is written (dialect.reserve_record_ids) and
        given in row order, not left to the database: the range is the batch's by construction,
        whatever ids the database hands to other inserts meanwhile. `rows` is a list, or an
        iterable of exactly `count` rows (seed streams a million).

        `blank_is_null`: "" in a row means no value (NULL). The import's rows carry their empty
        cells so: on SQLite the statement turns them into NULL (NULLIF), because the sqlite3 module
        binds None through its adapter lookup, three times the cost of binding a string, and the rows
        of a wide export are mostly empty cells."""
        now = now or now_iso()
        names = ["id"] + list(columns)
        extra: tuple = (now, op.id)
        if "createdate" not in names:
            names.append("createdate")
            extra = (now, now, op.id)
        names += ["lastmodifieddate", "created_op"]
        n = len(rows) if count is None else count
        blanks = dialect.null_if_blank(self.crm.db) if blank_is_null else False
        if blank_is_null and not blanks:
            rows = (tuple(None if value == "" else value for value in row) for row in rows)
        key = (meta.model, tuple(names), blanks)  # Peewee takes ~0.1 s to write the SQL for 300 columns
        sql = self._insert_sql.get(key)
        if sql is None:
            fields = [meta.model._meta.fields[name] for name in names]
            # insert_many with `fields` keeps our column order (a dict insert would reorder the columns)
            sql, _params = meta.model.insert_many([(None,) * len(fields)], fields=fields).sql()
            if blanks:  # the given columns' values through NULLIF(?, ''), the stamps as they are
                head, values, tail = sql.rpartition("VALUES (")
                assert values and tail.count("?") == len(names), sql
                sql = (head + values + ", ".join(["?"] + ["NULLIF(?, '')"] * len(columns)  # the id first
                                                 + ["?"] * (len(names) - 1 - len(columns))) + ")")
            if len(self._insert_sql) >= 32:  # models are rebuilt when the schema changes: old keys go
                self._insert_sql.clear()
            self._insert_sql[key] = sql
        if n == 0:
            return 1, 0
        first = dialect.reserve_record_ids(self.crm.db, meta.table, n)
        ids = numbered(first)
        cursor = self.crm.db.cursor()
        cursor.executemany(sql, ((record_id, *row, *extra) for row, record_id in zip(rows, ids)))
        if next(ids) != first + n:  # rows first in zip: the ids go no further than the rows
            raise ValueError(f"bulk_insert: {n} rows announced, another number given")
        return first, first + n - 1

    def index_range(self, meta: ObjectMeta, first: int, last: int) -> None:
        """Full-text index a range of new records in one statement."""
        if last < first or not meta.search:
            return
        body = " || ' ' || ".join(f'COALESCE("{name}", \'\')' for name in meta.search)
        with self.crm.sqlite_only():
            self.crm.db.execute_sql(
                f'INSERT INTO "fts_{meta.name}"(rowid, body) SELECT id, {body} FROM "{meta.table}" '
                'WHERE id BETWEEN ? AND ?', (first, last))

    def rebuild_search_index(self, meta: ObjectMeta) -> None:
        """The full-text index of an object built afresh from its live records (doctor, copy)."""
        db = self.crm.db
        dialect.drop_fts(db, meta.name)
        dialect.create_fts(db, meta.name)
        first, last = db.execute_sql(f'SELECT COALESCE(MIN(id), 1), COALESCE(MAX(id), 0) FROM "{meta.table}"').fetchone()
        self.index_range(meta, first, last)
        db.execute_sql(f'DELETE FROM "{dialect.fts_table(meta.name)}" WHERE rowid IN '
                       f'(SELECT id FROM "{meta.table}" WHERE deleted_at IS NOT NULL)')

    def _index_text(self, meta: ObjectMeta, record_id: int) -> None:
        row = self._row(meta, record_id)
        dialect.fts_upsert(self.crm.db, meta.name, record_id, search_text(meta, row))


class DuplicateValue(InvalidValue):
    """A unique property's value that another live record holds (refused by the database)."""

    def __init__(self, message: str, prop: str):
        super().__init__(message)
        self.property = prop


def search_text(meta: ObjectMeta, row: dict) -> str:
    parts = []
    for name in meta.search:
        value = row.get(name)
        if value in (None, ""):
            continue
        prop = meta.properties.get(name)
        parts.append(str(value) if prop is None else property_type(prop.type).search_text(prop, value))
    return " ".join(parts)
