"""Schema and pipeline changes in the operation journal (no Textual here).

    with schema_operation(crm, "add_stage", sources.USER, summary={"text": "Added stage Demo ..."}):
        ...change pipelines, stages, objects, properties, labels or pair limits...

The metadata tables are small (objects, properties, labels, limits, pipelines, stages): the
operation reads them before and after the change and writes one `MetaChange` row (the row as JSON
before and after) per row that changed. The journal's undo (journal.py) puts those rows back as
they were before the tree, through `MetaReversal`, with the storage that follows them: a column for
a property, a table and its search index for an object. "Where it is safe": an undo is refused in
one line, and writes nothing, when what it would remove is in use since (a stage or pipeline that
records are in, a property holding values, an option a record has, a label on a link, an object
with records, a limit that links now exceed).
"""

from __future__ import annotations

import json
from contextlib import contextmanager

from ..domain.errors import CrmError

# In the order rows are put back; removals go in the reverse order (children first).
META_TABLES = ("object_type", "property_def", "label_def", "pair_limit", "pipeline", "stage")
META_KINDS = {
    "add_pipeline", "rename_pipeline", "reorder_pipelines", "archive_pipeline", "add_stage", "update_stage",
    "reorder_stages", "archive_stage", "delete_stage", "schema_apply", "create_label",
    "rename_label", "relabel_object", "update_property", "archive_property", "restore_property",
}


def snapshot(db) -> dict[str, dict[int, dict]]:
    out: dict[str, dict[int, dict]] = {}
    for tbl in META_TABLES:
        cursor = db.execute_sql(f'SELECT * FROM "{tbl}"')
        columns = [d[0] for d in cursor.description]
        out[tbl] = {row[0]: dict(zip(columns, row)) for row in cursor.fetchall()}
    return out


def _row(db, tbl: str, row_id: int) -> dict | None:
    cursor = db.execute_sql(f'SELECT * FROM "{tbl}" WHERE id = ?', (row_id,))
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row))


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _dump(row: dict | None) -> str | None:
    return None if row is None else json.dumps(row, sort_keys=True)


def write_diff(db, op_id: int, before: dict, after: dict) -> int:
    rows = []
    for tbl in META_TABLES:
        old, new = before[tbl], after[tbl]
        for row_id in sorted(set(old) | set(new)):
            if old.get(row_id) != new.get(row_id):
                rows.append((op_id, tbl, row_id, _dump(old.get(row_id)), _dump(new.get(row_id))))
    if rows:
        db.cursor().executemany("INSERT INTO meta_change (op_id, tbl, row_id, old, new) VALUES (?, ?, ?, ?, ?)", rows)
    return len(rows)


@contextmanager
def schema_operation(crm, kind: str, source: str, actor: str | None = None, *, object: str | None = None,
                     summary: dict | None = None):
    """One operation of kind `kind` whose metadata changes are journaled. `summary["text"]` (which
    the caller may set inside the block) is the line the journal shows for it. Inside another
    schema operation it is part of that one (the outer one records the rows)."""
    summary = summary if summary is not None else {}
    if getattr(crm, "_meta_depth", 0):
        yield None
        return
    with crm.operation(kind, source, actor, object=object, summary=summary) as op:
        before = snapshot(crm.db)
        crm._meta_depth = 1
        try:
            yield op
        finally:
            crm._meta_depth = 0
        summary["changes"] = write_diff(crm.db, op.id, before, snapshot(crm.db))
        summary["meta"] = 1
        op.summary = json.dumps(summary)
        op.save()


def describe_row(crm, tbl: str, row: dict | None) -> str:
    """A metadata row in words: 'stage Demo of pipeline Sales Pipeline'."""
    if not row:
        return f"{tbl.replace('_', ' ')}"
    reg = crm.registry
    obj = reg.by_id.get(row.get("object_id") or row.get("from_object_id") or 0)
    if tbl == "object_type":
        return f"object {row.get('plural_label') or row.get('name')}"
    if tbl == "property_def":
        return f"property {row.get('label')} of {obj.plural_label.lower() if obj else 'an object'}"
    if tbl == "label_def":
        to = reg.by_id.get(row.get("to_object_id") or 0)
        return f"label {row.get('name')!r} ({obj.name if obj else '?'} -> {to.name if to else '?'})"
    if tbl == "pair_limit":
        to = reg.by_id.get(row.get("to_object_id") or 0)
        return f"the limit of {obj.name if obj else '?'} -> {to.name if to else '?'}"
    if tbl == "pipeline":
        return f"pipeline {row.get('label')}"
    if tbl == "stage":
        pipe = crm.db.execute_sql("SELECT label FROM pipeline WHERE id = ?", (row.get("pipeline_id"),)).fetchone()
        return f"stage {row.get('label')}" + (f" of pipeline {pipe[0]}" if pipe else "")
    return tbl


class MetaReversal:
    """Puts the metadata rows an operation tree changed back as they were before it.

    `restore()` runs before the tree's values and links are reversed (a stage a deletion removed
    comes back before its records move back into it); `remove()` after (a stage goes once the
    records the tree moved out of it... are out). Both refuse in one line; the caller's transaction
    then rolls back whole."""

    def __init__(self, plan, refuse: str):
        self.plan = plan
        self.crm = plan.crm
        self.db = plan.crm.db
        self.refuse = refuse
        self.first_old: dict[tuple[str, int], str | None] = {}
        self.last_new: dict[tuple[str, int], str | None] = {}
        for _id, tbl, row_id, old, new in plan.meta:
            key = (tbl, row_id)
            if key not in self.first_old:
                self.first_old[key] = old
            self.last_new[key] = new
        self.log: list[tuple] = []
        self.checks: list = []
        self.new_objects: set[int] = set()
        self.gone_objects: set[int] = set()

    def __bool__(self) -> bool:
        return bool(self.first_old)

    def _keys(self, tbl: str) -> list[tuple[str, int]]:
        return sorted(k for k in self.first_old if k[0] == tbl)

    def _current(self, key) -> dict | None:
        current = _row(self.db, *key)
        wanted = self.last_new[key]
        if _dump(current) != (None if wanted is None else _dump(json.loads(wanted))):
            what = describe_row(self.crm, key[0], current or json.loads(wanted or self.first_old[key] or "{}"))
            raise CrmError(f"{self.refuse}: {what} was changed since outside the journal (an import or another "
                           "program); nothing was undone")
        return current

    # -- putting rows back ------------------------------------------------------------------

    def restore(self) -> None:
        """Rows the tree changed or removed, back as they were (in parent-first order)."""
        if not self:
            return
        db = self.db
        added_props: list[dict] = []
        for tbl in META_TABLES:
            for key in self._keys(tbl):
                target = self.first_old[key]
                if target is None:
                    continue
                current = self._current(key)
                row = json.loads(target)
                if current == row:
                    continue
                columns = list(row)
                if current is None:
                    values = dict(row)
                    if tbl == "label_def":
                        values["inverse_id"] = None  # set below, once both sides exist
                    db.execute_sql(f'INSERT INTO "{tbl}" ({", ".join(map(_quoted, columns))}) VALUES ({", ".join("?" * len(columns))})',
                                   [values[c] for c in columns])
                    if tbl == "object_type":
                        self.new_objects.add(row["id"])
                    elif tbl == "property_def":
                        added_props.append(row)
                    elif tbl in ("pair_limit", "label_def") and row.get("limit_count") is not None:
                        self.checks.append((tbl, row, None))
                else:
                    sets = [c for c in columns if c != "id" and c != "inverse_id"]
                    db.execute_sql(f'UPDATE "{tbl}" SET {", ".join(_quoted(c) + " = ?" for c in sets)} WHERE id = ?',
                                   [row[c] for c in sets] + [row["id"]])
                    self._narrowing(tbl, current, row)
                self.log.append((self.plan.uop.id, tbl, row["id"], _dump(current), _dump(row)))
        for key in self._keys("label_def"):
            target = self.first_old[key]
            if target is not None:
                db.execute_sql("UPDATE label_def SET inverse_id = ? WHERE id = ?", (json.loads(target)["inverse_id"], key[1]))
        if not self.log:
            return
        reg = self.crm.registry
        reg.reload()
        from ..storage import dialect
        from ..domain.types import SQL_TYPES

        for object_id in self.new_objects:
            meta = reg.by_id[object_id]
            db.create_tables([meta.model])
            reg._create_indexes(meta, meta.properties.values())
            dialect.create_fts(db, meta.name)
        by_object: dict[int, list] = {}
        for prop in added_props:
            if prop["object_id"] in self.new_objects:
                continue
            meta = reg.by_id[prop["object_id"]]
            db.execute_sql(f'ALTER TABLE "{meta.table}" ADD COLUMN "{prop["name"]}" {SQL_TYPES.get(prop["type"], "TEXT")}')
            by_object.setdefault(prop["object_id"], []).append(meta.properties[prop["name"]])
        for object_id, props in by_object.items():
            reg._create_indexes(reg.by_id[object_id], props)

    def _narrowing(self, tbl: str, current: dict, row: dict) -> None:
        """An update that takes something back (options, a higher limit) is checked on the result."""
        if tbl == "property_def" and current.get("options") != row.get("options"):
            kept = {o["name"] for o in json.loads(row.get("options") or "[]")}
            gone = [o["name"] for o in json.loads(current.get("options") or "[]") if o["name"] not in kept]
            if gone:
                self.checks.append(("options", row, gone))
        elif tbl in ("pair_limit", "label_def") and row.get("limit_count") is not None and (
                current.get("limit_count") is None or row["limit_count"] < current["limit_count"]):
            self.checks.append((tbl, row, None))

    # -- removing rows the tree added ---------------------------------------------------------

    def remove(self) -> None:
        """Rows the tree added go (children first), refused while in use; then the narrowing checks."""
        if not self:
            return
        db = self.db
        reg = self.crm.registry
        dropped_columns: list[tuple[str, str]] = []
        for tbl in reversed(META_TABLES):
            for key in self._keys(tbl):
                if self.first_old[key] is not None:
                    continue
                current = self._current(key)
                if current is None:
                    continue
                self._check_unused(tbl, current)
                if tbl == "property_def" and current["object_id"] not in {k[1] for k in self._keys("object_type")
                                                                           if self.first_old[k] is None}:
                    meta = reg.by_id.get(current["object_id"])
                    if meta is not None:
                        dropped_columns.append((meta.table, current["name"]))
                if tbl == "object_type":
                    self.gone_objects.add(current["id"])
                    self._drop_object(current)
                db.execute_sql(f'DELETE FROM "{tbl}" WHERE id = ?', (current["id"],))
                self.log.append((self.plan.uop.id, tbl, current["id"], _dump(current), None))
        for table, column in dropped_columns:
            for index in [i.name for i in db.get_indexes(table)
                          if i.name in (f"ix_{table}_{column}", f"ux_{table}_{column}")]:
                db.execute_sql(f'DROP INDEX "{index}"')
            db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
        for check in self.checks:
            self._check_narrowing(*check)
        if self.log:
            db.cursor().executemany("INSERT INTO meta_change (op_id, tbl, row_id, old, new) VALUES (?, ?, ?, ?, ?)",
                                    self.log)
        reg.reload()
        self.crm._pipelines_cache = None

    def _drop_object(self, row: dict) -> None:
        from ..storage import dialect

        table = f"obj_{row['name']}"
        exists = table in self.db.get_tables()
        if exists:
            self.db.execute_sql(f'DROP TABLE "{table}"')
        dialect.drop_fts(self.db, row["name"])

    def _newest_writer(self, sql: str, params) -> str:
        """' (since operation 12: Updated Acme: dealstage)' for the newest history row the query finds."""
        found = self.db.execute_sql(sql, params).fetchone()
        if not found or not found[0]:
            return ""
        journal = self.plan.journal
        root = journal._root(found[0], {})
        return f" (since operation {root.id}: {journal.describe(root)})"

    def _check_unused(self, tbl: str, row: dict) -> None:
        db, reg, refuse = self.db, self.crm.registry, self.refuse
        what = describe_row(self.crm, tbl, row)
        if tbl in ("stage", "pipeline"):
            pipe = row if tbl == "pipeline" else _row(db, "pipeline", row["pipeline_id"])
            if pipe is None:
                return
            meta = reg.by_id.get(pipe["object_id"])
            if meta is None:
                return
            from .pipelines import _default_name, pipeline_props

            pipe_prop, stage_prop, _amount = pipeline_props(meta) or (None, None, None)
            if pipe_prop is None:
                return
            # a record without a pipeline is in the default one, unless this undo removes the pipeline
            # property itself (an object's first pipeline): then only the values it holds count
            props_made = {(new["object_id"], new["name"]) for k in self._keys("property_def")
                          if self.first_old[k] is None and (new := json.loads(self.last_new[k] or "null"))}
            default = _default_name(self.crm, meta.name) if (meta.id, pipe_prop) not in props_made else None
            where = f'"{pipe_prop}" = ?' + (f' OR "{pipe_prop}" IS NULL' if pipe["name"] == default else "")
            params = [pipe["name"]]
            column, value = pipe_prop, pipe["name"]
            if tbl == "stage":
                where = f'"{stage_prop}" = ? AND ({where})'
                params = [row["name"]] + params
                column, value = stage_prop, row["name"]
            else:
                left = db.execute_sql("SELECT label FROM stage WHERE pipeline_id = ? LIMIT 1", (row["id"],)).fetchone()
                if left is not None:
                    raise CrmError(f"{refuse}: {what} has stage {left[0]} added since; undo that first")
            used, newest = db.execute_sql(f'SELECT COUNT(*), MAX(id) FROM "{meta.table}" WHERE {where}', params).fetchone()
            if used:
                # name the newest record in it and the operation that put it there
                since = self._newest_writer(
                    "SELECT COALESCE((SELECT op_id FROM property_change WHERE object = ? AND record_id = ? AND property = ? "
                    "AND new_value = ? ORDER BY id DESC LIMIT 1), (SELECT id FROM operation WHERE kind = 'create' AND "
                    "object = ? AND record_id = ? ORDER BY id DESC LIMIT 1))",
                    (meta.id, newest, column, value, meta.name, newest))
                if not since:
                    since = f" ({self.plan.journal._name(meta.name, newest)} among them)"
                noun = meta.label.lower() if used == 1 else meta.plural_label.lower()
                raise CrmError(f"{refuse}: {used:,} {noun} {'is' if used == 1 else 'are'} in {what}{since}; "
                               "move them first")
        elif tbl == "property_def":
            meta = reg.by_id.get(row["object_id"])
            if meta is None or row["object_id"] in {k[1] for k in self._keys("object_type") if self.first_old[k] is None}:
                return
            held, deleted = db.execute_sql(f'SELECT COUNT(*), COUNT(deleted_at) FROM "{meta.table}" '
                                           f'WHERE "{row["name"]}" IS NOT NULL').fetchone()
            if held:
                since = self._newest_writer("SELECT op_id FROM property_change WHERE object = ? AND property = ? "
                                            "ORDER BY id DESC LIMIT 1", (meta.id, row["name"]))
                bin_note = f" ({deleted:,} of them in the recycle bin)" if deleted else ""
                raise CrmError(f"{refuse}: {what} holds values in {held:,} "
                               f"{meta.label.lower() if held == 1 else meta.plural_label.lower()}{bin_note}{since}; "
                               "clear them first")
            self._check_views(row["object_id"], row["name"], what)
        elif tbl == "object_type":
            table = f"obj_{row['name']}"
            exists = table in db.get_tables()
            held = db.execute_sql(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] if exists else 0
            if held:
                raise CrmError(f"{refuse}: {what} has {held:,} records (deleted ones included); delete them for good first")
            self._check_views(row["id"], None, what)
            links = db.execute_sql("SELECT COUNT(*) FROM association WHERE from_object = ? OR to_object = ?",
                                   (row["id"], row["id"])).fetchone()[0]
            if links:
                raise CrmError(f"{refuse}: {what} has {links:,} links; remove them first")
        elif tbl == "label_def":
            used = db.execute_sql("SELECT COUNT(*) FROM association_label WHERE label_id = ?", (row["id"],)).fetchone()[0]
            if used:
                since = self._newest_writer("SELECT op_id FROM association_change WHERE a_object = ? AND b_object = ? "
                                            "AND label = ? ORDER BY id DESC LIMIT 1",
                                            (row["from_object_id"], row["to_object_id"], row["name"]))
                raise CrmError(f"{refuse}: {what} is on {used:,} link{'s' if used != 1 else ''}{since}; "
                               "remove it from them first")

    def _check_views(self, object_id: int, prop: str | None, what: str) -> None:
        """A saved view filtering on a property keeps it; an object keeps the views a user saved
        (its default view, made when its index first opened, goes with it; columns and sorts of
        a property that is gone are left out when a view is read)."""
        for name, filters, is_default in self.db.execute_sql(
                "SELECT name, filters, is_default FROM saved_view WHERE object_id = ?", (object_id,)).fetchall():
            if (prop is None and not is_default) or (prop is not None and f'"{prop}"' in (filters or "")):
                raise CrmError(f"{self.refuse}: the saved view {name!r} uses {what}; change or delete it first")

    def _check_narrowing(self, kind: str, row: dict, gone) -> None:
        db, reg, refuse = self.db, self.crm.registry, self.refuse
        if kind == "options":
            meta = reg.by_id.get(row["object_id"])
            if meta is None or row["name"] not in meta.properties:
                return
            column = row["name"]
            for option in gone:
                if row["type"] == "multiselect":
                    used = db.execute_sql(f"""SELECT COUNT(*) FROM "{meta.table}" WHERE ';' || "{column}" || ';' LIKE ?""",
                                          (f"%;{option};%",)).fetchone()[0]
                else:
                    used = db.execute_sql(f'SELECT COUNT(*) FROM "{meta.table}" WHERE "{column}" = ?', (option,)).fetchone()[0]
                if used:
                    noun = meta.label.lower() if used == 1 else meta.plural_label.lower()
                    raise CrmError(f"{refuse}: the option {option!r} of {describe_row(self.crm, 'property_def', row)} "
                                   f"is used by {used:,} {noun}; change them first")
        elif kind == "pair_limit":
            over = db.execute_sql("SELECT from_id, COUNT(*) FROM association WHERE from_object = ? AND to_object = ? "
                                  "GROUP BY from_id HAVING COUNT(*) > ? LIMIT 1",
                                  (row["from_object_id"], row["to_object_id"], row["limit_count"])).fetchone()
            if over:
                raise CrmError(f"{refuse}: {self.plan.journal._ref_name(row['from_object_id'], over[0])} has {over[1]} "
                               f"links where {describe_row(self.crm, 'pair_limit', row)} would be {row['limit_count']}; "
                               "remove links first")
        elif kind == "label_def":
            over = db.execute_sql("SELECT a.from_id, COUNT(*) FROM association a JOIN association_label l "
                                  "ON l.association_id = a.id WHERE l.label_id = ? GROUP BY a.from_id "
                                  "HAVING COUNT(*) > ? LIMIT 1", (row["id"], row["limit_count"])).fetchone()
            if over:
                raise CrmError(f"{refuse}: {self.plan.journal._ref_name(row['from_object_id'], over[0])} has {over[1]} "
                               f"links labelled {row['name']!r}, over the limit of {row['limit_count']} it would get back")
