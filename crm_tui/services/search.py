"""Full-text search: SQLite FTS5 kept in the same transaction as writes, prefix matching, ranked."""

from __future__ import annotations

from dataclasses import dataclass

from ..storage import dialect


@dataclass
class SearchHit:
    object: str
    id: int
    display_name: str


class Search:
    def __init__(self, crm):
        self.crm = crm

    def ids(self, object_name: str, text: str, limit: int = 50) -> list[int]:
        meta = self.crm.registry.get(object_name)
        expr = dialect.fts_match_expression(text, self.crm.db)
        if expr is None:
            return []
        cursor = self.crm.db.execute_sql(dialect.fts_search_sql(meta.name, meta.table, self.crm.db), (expr, limit))
        return [row[0] for row in cursor.fetchall()]

    def records(self, object_name: str, text: str, limit: int = 50) -> list[SearchHit]:
        meta = self.crm.registry.get(object_name)
        ids = self.ids(object_name, text, limit)
        names = self.crm.records.display_names(meta, ids)
        return [SearchHit(meta.name, rid, names.get(rid, f"#{rid}")) for rid in ids]

    def everywhere(self, text: str, limit_per_object: int = 10) -> list[SearchHit]:
        """Search every object; results grouped by object in the registry's order."""
        hits: list[SearchHit] = []
        for name in self.crm.registry.objects:
            hits.extend(self.records(name, text, limit_per_object))
        return hits
