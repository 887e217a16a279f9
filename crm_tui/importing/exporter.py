"""Exporting an index view (filters, columns, sort) to CSV, JSON, vCard 4.0 or iCalendar (meetings; ical.py).

    export_view(crm, "deals", "deals.csv", view="All deals", fmt="csv", hubspot=True)

- Rows come page by page (keyset pagination, 1,000 at a time): memory stays flat.
- CSV cells are neutralised against formula injection (csvwrite.SafeCsvWriter) and the file is
  written to `<name>.part`, renamed into place at the end: never half a file under the name.
- Headers are property labels with "Record ID" first, so that re-importing the file updates the
  same records (matched by Record ID) instead of duplicating them.
- `hubspot=True` adds HubSpot's association columns: "Associated Company IDs" (;-joined Record IDs)
  for every other object, and "Associated Company IDs (Primary)" where a primary company exists,
  so that a round trip through this CRM loses no link. Without it, a view's association columns
  hold the associated records' names.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..storage import safe_files
from ..domain.errors import InvalidValue
from ..services.paging import ViewSpec, searched_as_filter
from ..domain.types import property_type
from ..services.views import Views, default_columns
from . import vcard
from .csvwrite import SafeCsvWriter, cell_text

PAGE = 1000
FORMATS = ("csv", "json", "vcf", "ics")


@dataclass
class ExportResult:
    path: str
    rows: int
    format: str
    columns: list[str]
    cancelled: bool = False


@dataclass
class _Col:
    header: str
    kind: str  # id / prop / assoc_ids / assoc_primary / assoc_names / primary_name
    key: str  # property name or object name
    numeric: bool = False


def resolve_view(crm, object_name: str, view=None) -> ViewSpec:
    """A ViewSpec from a saved view's name (views.py), a View, a ViewSpec, or the default columns."""
    meta = crm.registry.get(object_name)
    if isinstance(view, ViewSpec):
        return view
    views = Views(crm)
    if view is None:
        chosen = views.opening(meta.name)
    elif hasattr(view, "columns"):
        chosen = view
    else:
        wanted = str(view).strip().casefold()
        matches = [v for v in views.list(meta.name) if v.name.casefold() == wanted or str(v.id) == wanted]
        if not matches:
            names = ", ".join(v.name for v in views.list(meta.name))
            raise InvalidValue(f"{meta.plural_label} have no view named {view!r} (views: {names})")
        chosen = matches[0]
    return ViewSpec(meta.name, list(chosen.columns) or default_columns(meta), list(chosen.filters), list(chosen.sort))


def _columns(crm, meta, spec: ViewSpec, hubspot: bool, all_properties: bool) -> list[_Col]:
    cols = [_Col("Record ID", "id", "id", True)]
    # archived properties only with all_properties ("every property")
    names = [p for p in meta.properties if not meta.properties[p].system] if all_properties else \
        [c for c in spec.columns if c in meta.properties and not meta.properties[c].archived]
    labels = [meta.properties[n].label for n in names]
    for name in names:
        prop = meta.properties[name]
        header = prop.label if labels.count(prop.label) == 1 else f"{prop.label} ({name})"
        cols.append(_Col(header, "prop", name, property_type(prop.type).sql_type == "REAL"))
    if all_properties or hubspot:
        for sysname in ("createdate", "lastmodifieddate"):
            if sysname in meta.properties and sysname not in names:
                cols.append(_Col(meta.properties[sysname].label, "prop", sysname))
    if hubspot:
        for other in crm.registry.objects.values():
            if other.name == meta.name or other.is_activity:
                continue
            cols.append(_Col(f"Associated {other.label} IDs", "assoc_ids", other.name))
            if other.name == "companies" and meta.has_primary_company:
                cols.append(_Col("Associated Company IDs (Primary)", "assoc_primary", other.name))
    else:
        for c in spec.columns:
            if c.startswith("@assoc:") and c[7:] in crm.registry.objects:
                other = crm.registry.get(c[7:])
                cols.append(_Col(f"Associated {other.plural_label}", "assoc_names", other.name))
            elif c == "@primary_company" and meta.has_primary_company:
                cols.append(_Col("Primary company", "primary_name", "companies"))
    return cols


def _value(crm, meta, name: str, value):
    prop = meta.properties.get(name)
    if value is None or prop is None:
        return value
    return property_type(prop.type).export(prop, value, crm.owner_name)

def iter_rows(crm, spec: ViewSpec, cols: list[_Col], cancel: threading.Event | None = None):
    """Dicts header -> value, page by page."""
    meta = crm.registry.get(spec.object)
    assoc_objects = sorted({c.key for c in cols if c.kind in ("assoc_ids", "assoc_primary", "assoc_names", "primary_name")})
    prop_cols = [c.key for c in cols if c.kind == "prop"]
    spec = searched_as_filter(crm, spec)
    filters, sort = list(spec.filters), list(spec.sort)
    after = None
    while True:
        if cancel is not None and cancel.is_set():
            return
        page = crm.records.list(spec.object, filters, sort, limit=PAGE, after=after, columns=prop_cols,
                                deleted=spec.deleted)
        ids = [r["id"] for r in page.rows]
        links = crm.assoc.index_columns(spec.object, ids, assoc_objects) if assoc_objects and ids else {}
        for row in page.rows:
            out = {}
            for c in cols:
                if c.kind == "id":
                    out[c.header] = row["id"]
                elif c.kind == "prop":
                    out[c.header] = _value(crm, meta, c.key, row.get(c.key))
                else:
                    items = links.get(c.key, {}).get(row["id"], [])
                    if c.kind == "assoc_ids":
                        out[c.header] = ";".join(str(i) for i, _n, _p in items)
                    elif c.kind == "assoc_primary":
                        out[c.header] = ";".join(str(i) for i, _n, p in items if p)
                    elif c.kind == "assoc_names":
                        out[c.header] = ";".join(n for _i, n, _p in items)
                    else:
                        out[c.header] = next((n for _i, n, p in items if p), "")
            yield out
        if page.next_after is None:
            return
        after = page.next_after


def export_view(crm, object_name: str, path: str | os.PathLike, *, view=None, fmt: str | None = None,
                hubspot: bool = False, all_properties: bool = False, overwrite: bool = False,
                progress: Callable[[int, int], None] | None = None,
                cancel: threading.Event | None = None) -> ExportResult:
    meta = crm.registry.get(object_name)
    path = os.fspath(path)
    fmt = (fmt or os.path.splitext(path)[1].lstrip(".") or "csv").lower()
    if fmt not in FORMATS:
        raise InvalidValue(f"unknown export format {fmt!r} (use csv, json, vcf or ics)")
    if fmt == "vcf" and meta.name != "contacts":
        raise InvalidValue("vCard export is for contacts")
    if fmt == "ics":
        if meta.name != "meetings":
            raise InvalidValue("iCalendar (ics) export is for meetings")
        from . import ical  # lazy: icalendar loads only for calendar files

        return ical.export_meetings(crm, path, spec=resolve_view(crm, meta.name, view), overwrite=overwrite,
                                    progress=progress, cancel=cancel)
    spec = searched_as_filter(crm, resolve_view(crm, meta.name, view))  # searched once, counted and read
    cols = _columns(crm, meta, spec, hubspot, all_properties or fmt == "vcf")
    if fmt == "vcf" and not any(c.kind == "primary_name" for c in cols):
        cols.append(_Col("Primary company", "primary_name", "companies"))
    total = crm.records.count(meta.name, spec.filters, deleted=spec.deleted)
    done = 0
    cancelled = False
    with safe_files.writing(path, protect=[crm.path], overwrite=overwrite, what="export file",
                            encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as out:
        stream = out.stream
        writer = None
        if fmt == "csv":
            writer = SafeCsvWriter(stream, [c.header for c in cols], numeric_columns=[c.header for c in cols if c.numeric])
        elif fmt == "json":
            stream.write("[")
        for row in iter_rows(crm, spec, cols, cancel):
            if fmt == "csv":
                writer.writerow(row)
            elif fmt == "json":
                stream.write(("\n" if done == 0 else ",\n") + json.dumps(_json_row(row), ensure_ascii=False, default=str))
            else:
                stream.write(vcard.write_vcard4([_vcard_contact(meta, cols, row)]))
            done += 1
            if progress is not None and done % PAGE == 0:
                progress(done, total)
        if fmt == "json":
            stream.write("\n]\n")
        if cancel is not None and cancel.is_set():
            cancelled = True
            out.discard()
    if progress is not None:
        progress(done, total)
    return ExportResult(path, done, fmt, [c.header for c in cols], cancelled)


def _json_row(row: dict) -> dict:
    return {k: cell_text(v) if isinstance(v, float) else v for k, v in row.items()}


def _vcard_contact(meta, cols: list[_Col], row: dict) -> dict:
    by_key = {c.key: row.get(c.header) for c in cols if c.kind == "prop"}
    company = next((row.get(c.header) for c in cols if c.kind == "primary_name"), "") or by_key.get("company") or ""
    return {"firstname": by_key.get("firstname") or "", "lastname": by_key.get("lastname") or "",
            "email": by_key.get("email") or "", "phone": by_key.get("phone") or "",
            "jobtitle": by_key.get("jobtitle") or "", "company": company, "city": by_key.get("city") or "",
            "country": by_key.get("country") or "", "website": by_key.get("website") or ""}


def default_export_path(object_name: str, fmt: str) -> str:
    return f"{object_name}.{fmt}"

