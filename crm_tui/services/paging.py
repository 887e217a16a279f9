"""Position-addressed windows over a view, for the virtual table (no Textual here).

The table asks for rows [start, start+limit). We never use a deep OFFSET: a window is read by
keyset from the nearest known key before `start` (a window read earlier, or a sparse anchor every
ANCHOR_STEP rows built by one index scan on the first far jump), and the end of the view is read
by a reverse query. So `G` at a million rows costs the same as page one.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace

from peewee import SQL, fn

from ..storage import dialect
from .query import Filter, Sort, keyset_after, order_by
from ..domain.types import property_type, shown_date, shown_datetime

ANCHOR_STEP = 1000
SEARCH_LIMIT = 1000  # a search shows at most this many matches
TYPING_LIMIT = 200  # ... and at most this many while typing (unranked); `capped` says there are more


@dataclass
class ViewSpec:
    object: str
    columns: list[str]  # property names, "@assoc:<object>" or "@primary_company"
    filters: list[Filter] = field(default_factory=list)
    sort: list[Sort] = field(default_factory=list)
    search: str = ""  # full-text query; matches by relevance, or in the sort when one is set
    ranked: bool = True  # False: matches in id order (no bm25 over every match: fast while typing)
    deleted: bool = False  # the recycle bin


def searched_as_filter(crm, spec: ViewSpec) -> ViewSpec:
    """The view with its search turned into one more filter: the ids the index shows for it (up to
    SEARCH_LIMIT), so a whole-view reader (an export) pages it like any filtered view."""
    if not spec.search:
        return spec
    ids = crm.search.ids(spec.object, spec.search, limit=SEARCH_LIMIT)
    return replace(spec, filters=[*spec.filters, Filter("id", "any_of", tuple(ids) or (0,))], search="")


class ViewPager:
    """Implements the record table's RowSource protocol: count() and fetch(start, limit)."""

    def __init__(self, crm, spec: ViewSpec, *, date_format: str | None = None):
        self.crm = crm
        self.spec = spec
        self.meta = crm.registry.get(spec.object)
        self.date_format = date_format
        self._count: int | None = None
        self._keys: dict[int, tuple] = {}  # position -> (sort values..., id) of rows read so far
        self._known: list[int] = []  # sorted positions in _keys
        self._anchors: list[tuple] | None = None
        self._layout: tuple[int, list[int]] | None = None  # (lowest id, deleted ids) when ids have no gaps
        self._search_ids: list[int] | None = None
        self.queries = 0  # for tests and benchmarks
        self.capped = False  # a search found more matches than it shows

    # -- RowSource ----------------------------------------------------------------------

    def count(self) -> int:
        if self._count is None:
            if self.spec.search:
                self._count = len(self._searched())
            else:
                self._count = self.crm.records.count(self.spec.object, self.spec.filters, deleted=self.spec.deleted)
            self.queries += 1
        return self._count

    def reset(self) -> None:
        """Forget counts and keys (after records changed); the next fetch reads afresh."""
        self._count = None
        self._keys.clear()
        self._known.clear()
        self._anchors = None
        self._layout = None
        self._search_ids = None

    def fetch(self, start: int, limit: int) -> list[tuple[int, tuple[str, ...]]]:
        rows = self.fetch_rows(start, limit)
        return self.format_rows(rows)

    # -- reading windows -------------------------------------------------------------------

    def _query(self):
        prop_columns = [c for c in self.spec.columns if not c.startswith("@")]
        return self.crm.records.query(self.spec.object, self.spec.filters, self.spec.sort,
                                      columns=prop_columns, deleted=self.spec.deleted)

    def _searched(self) -> list[int]:
        if self._search_ids is None:
            if self.spec.ranked:
                ids = self.crm.search.ids(self.spec.object, self.spec.search, limit=SEARCH_LIMIT)
            else:
                ids = self._unranked_ids()
            if self.spec.sort and ids:  # a sort the user chose orders the matches (else: relevance)
                ids = [r["id"] for r in self._query().where(self.meta.model.id.in_(ids)).dicts()]
            elif self.spec.filters:
                allowed = {r["id"] for r in self._query().where(self.meta.model.id.in_(ids)).dicts()} if ids else set()
                ids = [i for i in ids if i in allowed]
            self.capped = len(ids) >= (SEARCH_LIMIT if self.spec.ranked else TYPING_LIMIT)
            self._search_ids = ids
        return self._search_ids

    def _unranked_ids(self) -> list[int]:
        """The first TYPING_LIMIT matches in index order. Ranking sorts every match by bm25: with a
        3-letter prefix on a million contacts that is 15-25k matches and 25-60 ms, too slow for
        each keystroke; the index screen shows these at once and the ranked list after a pause."""
        expr = dialect.fts_match_expression(self.spec.search, self.crm.db)
        if expr is None:
            return []
        self.queries += 1
        first = dialect.fts_first_matches(self.crm.db, self.meta.name, self.spec.search, TYPING_LIMIT)
        if first is not None:
            return first
        return [row[0] for row in self.crm.db.execute_sql(dialect.fts_unranked_sql(self.meta.name, self.crm.db),
                                                          (expr, TYPING_LIMIT)).fetchall()]

    def fetch_rows(self, start: int, limit: int) -> list[dict]:
        total = self.count()
        start = max(0, min(start, total))
        limit = max(0, min(limit, total - start))
        if limit == 0:
            return []
        if self.spec.search:
            ids = self._searched()[start:start + limit]
            rows = {r["id"]: r for r in self._query().where(self.meta.model.id.in_(ids)).dicts()} if ids else {}
            self.queries += 1
            return [rows[i] for i in ids if i in rows]
        if start + limit >= total and start > ANCHOR_STEP:
            rows = self._from_end(total - start)
        elif start == 0:
            rows = self._window(None, 0, limit)
        else:
            pos, key = self._nearest_key(start)
            rows = self._window(key, start - pos - (1 if key is not None else 0), limit)
        for offset, row in enumerate(rows):
            self._remember(start + offset, row)
        return rows

    def _key_of(self, row: dict) -> tuple:
        return tuple(row[s.property] for s in self.spec.sort) + (row["id"],)

    def _remember(self, position: int, row: dict) -> None:
        if position not in self._keys:
            bisect.insort(self._known, position)
        self._keys[position] = self._key_of(row)

    def _nearest_key(self, start: int) -> tuple[int, tuple | None]:
        """The closest position before `start` whose key we know (read before or an anchor)."""
        i = bisect.bisect_left(self._known, start)
        best_pos, best_key = -1, None
        if i > 0:
            best_pos = self._known[i - 1]
            best_key = self._keys[best_pos]
        if start - best_pos > ANCHOR_STEP and self._anchors is None:
            self.anchors()  # also learns whether the ids have no gaps (_layout)
        if self._layout is not None and start - best_pos > 1:  # the key just before `start`, computed
            return start - 1, (self._live_id(start - 1),) * (len(self.spec.sort) + 1)
        if start - best_pos > ANCHOR_STEP:
            anchors = self.anchors()
            slot = start // ANCHOR_STEP
            if slot > 0 and slot <= len(anchors):
                anchor_pos = slot * ANCHOR_STEP - 1  # anchors[k] is the key of row (k+1)*STEP-1
                if anchor_pos > best_pos:
                    best_pos, best_key = anchor_pos, anchors[slot - 1]
        if best_key is None:
            return 0, None
        return best_pos, best_key

    def _window(self, after_key: tuple | None, skip: int, limit: int) -> list[dict]:
        q = self._query()
        if after_key is not None:
            *values, last_id = after_key
            q = q.where(keyset_after(self.meta, self.spec.sort, tuple(values), last_id))
        q = q.limit(limit)
        if skip:
            q = q.offset(skip)  # at most ANCHOR_STEP rows past a known key
        self.queries += 1
        return list(q.dicts())

    def _from_end(self, n: int) -> list[dict]:
        """The last n rows, read backwards from the end."""
        meta = self.meta
        q = self._query()
        reversed_order = []
        for s in self.spec.sort:
            col = meta.model._meta.fields[s.property] if s.property != "id" else meta.model.id
            reversed_order.append(col.asc(nulls="first") if s.desc else col.desc(nulls="last"))  # query.order_by reversed
        id_desc = bool(self.spec.sort) and self.spec.sort[-1].desc
        reversed_order.append(meta.model.id.asc() if id_desc else meta.model.id.desc())
        q = q.order_by(*reversed_order).limit(n)
        self.queries += 1
        return list(reversed(list(q.dicts())))

    def anchors(self) -> list[tuple]:
        """Keys of every ANCHOR_STEP-th row (built once).

        Unfiltered views in id order on a table without gaps in its ids are computed, not read
        (position p is id min+p, shifted past the few deleted ids). Otherwise one scan of the sort
        index; when the table holds no deleted rows and there are no filters, the scan needs no
        look-up of `deleted_at` and reads the sort index alone.
        """
        if self._anchors is None:
            anchors = self._computed_anchors()
            if anchors is None:
                anchors = self._scanned_anchors()
            self._anchors = anchors
        return self._anchors

    def _computed_anchors(self) -> list[tuple] | None:
        spec = self.spec
        if spec.filters or spec.search or spec.deleted or any(s.property != "id" for s in spec.sort):
            return None
        if spec.sort and spec.sort[-1].desc:
            return None
        model = self.meta.model
        # three queries: each is O(1) or a b-tree cell count alone; together SQLite would scan
        low = model.select(fn.MIN(model.id)).scalar()
        high = model.select(fn.MAX(model.id)).scalar()
        total = dialect.kept_row_count(self.crm.db, self.meta.table)
        if total is None:
            total = model.select(fn.COUNT(SQL("*"))).scalar()
        self.queries += 3
        if not total or high - low + 1 != total:
            return None
        # no ORDER BY: with it SQLite walks the table in id order instead of the small partial index
        deleted = sorted(r[0] for r in model.select(model.id).where(model.deleted_at.is_null(False)).tuples())
        self.queries += 1
        self._layout = (low, deleted)
        anchors = []
        d = 0  # deleted ids passed so far
        live = total - len(deleted)
        position = ANCHOR_STEP - 1
        while position < live:
            rid = low + position + d
            while d < len(deleted) and deleted[d] <= rid:
                d += 1
                rid = low + position + d
            anchors.append((rid,) * (len(spec.sort) + 1))
            position += ANCHOR_STEP
        return anchors

    def _live_id(self, position: int) -> int:
        """The id of the live row at `position` in id order, on a table whose ids have no gaps
        (see _computed_anchors): a far jump reads its window by keyset alone, with no OFFSET."""
        low, deleted = self._layout
        passed = 0  # deleted ids at or below the candidate
        while True:
            rid = low + position + passed
            now = bisect.bisect_right(deleted, rid)
            if now == passed:
                return rid
            passed = now

    def _scanned_anchors(self) -> list[tuple]:
        meta = self.meta
        model = meta.model
        cols = [model._meta.fields[s.property] if s.property != "id" else model.id for s in self.spec.sort]
        no_deleted = not self.spec.filters and not self.spec.deleted and not list(model.select(model.id).where(
            model.deleted_at.is_null(False)).limit(1).tuples().execute())
        if no_deleted:
            q = model.select(*cols, model.id).order_by(*order_by(meta, list(self.spec.sort)))
        else:
            q = self.crm.records.query(self.spec.object, self.spec.filters, self.spec.sort, columns=[],
                                       deleted=self.spec.deleted)
            q = q.select(*cols, model.id)
        anchors = []
        cursor = self.crm.db.execute(q)
        position = 0
        for row in cursor:
            position += 1
            if position % ANCHOR_STEP == 0:
                anchors.append(tuple(row))
        self.queries += 1
        return anchors

    # -- cells ------------------------------------------------------------------------------

    def format_rows(self, rows: list[dict]) -> list[tuple[int, tuple[str, ...]]]:
        assoc_objects = [c.split(":", 1)[1] for c in self.spec.columns if c.startswith("@assoc:")]
        if "@primary_company" in self.spec.columns and "companies" not in assoc_objects:
            assoc_objects.append("companies")
        linked = self.crm.assoc.index_columns(self.spec.object, [r["id"] for r in rows], assoc_objects) if assoc_objects and rows else {}
        out = []
        for row in rows:
            cells = []
            for column in self.spec.columns:
                if column.startswith("@assoc:"):
                    items = linked.get(column.split(":", 1)[1], {}).get(row["id"], [])
                    cells.append(assoc_cell(items))
                elif column == "@primary_company":
                    items = linked.get("companies", {}).get(row["id"], [])
                    cells.append(next((name for _i, name, primary in items if primary), ""))
                elif column == "id":
                    cells.append(str(row["id"]))
                else:
                    cells.append(self.cell_text(column, row.get(column)))
            out.append((row["id"], tuple(cells)))
        return out

    def cell_text(self, column: str, value) -> str:
        if value is None:
            return ""
        prop = self.meta.properties.get(column)
        if prop is None:
            return str(value)
        return display_value(self.crm, prop, value, self.date_format)

    def linked_items(self, record_id: int, column: str) -> list[tuple[str, int, str]]:
        """The records behind an association cell: [(object, id, name)]."""
        if column == "@primary_company":
            primary = self.crm.assoc.primary_company((self.spec.object, record_id))
            if primary is None:
                return []
            names = self.crm.records.display_names(self.crm.registry.get("companies"), [primary])
            return [("companies", primary, names.get(primary, ""))]
        other = column.split(":", 1)[1]
        items = self.crm.assoc.index_columns(self.spec.object, [record_id], [other])[other].get(record_id, [])
        return [(other, i, name) for i, name, _p in items]


def assoc_cell(items: list[tuple[int, str, bool]]) -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0][1]
    return f"{len(items)} records"


# A stored date or date-time in a chosen format: their home is the property types (crm_tui/domain/types.py).
format_date = shown_date
format_datetime = shown_datetime


def display_value(crm, prop, value, date_format: str | None = None, datetime_format: str | None = None) -> str:
    """A stored value as the screens show it (labels for options, local dates, plain numbers).
    Dates and date-times in the given formats, else the config's (crm.date_format, crm.datetime_format)."""
    return property_type(prop.type).display(prop, value, crm.owner_name, date_format or crm.date_format,
                                             datetime_format or crm.datetime_format)
