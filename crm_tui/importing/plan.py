"""A file read into an import plan before anything is written: its object guessed, its columns mapped, new properties and names proposed, the command line's --map/--link/--value applied."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict

from peewee import fn

from ..storage import safe_files
from . import csvread, infer, mapping, vcard
from .spec import _properties
from .spec import LINK_PREFIX, NEW_PREFIX, SETTABLE_READ_ONLY, Column, ImportError_, ImportSpec, archived_reason


def file_kind(path: str | os.PathLike) -> str:
    return "vcf" if str(path).lower().endswith((".vcf", ".vcard")) else "csv"


VCARD_COLUMNS = [("firstname", "firstname"), ("lastname", "lastname"), ("email", "email"), ("phone", "work_phone"),
                 ("jobtitle", "jobtitle"), ("company", "company"), ("city", "city"), ("country", "country"),
                 ("mobilephone", "mobilephone"), ("fax", "fax"), ("hs_additional_emails", "additional_emails"),
                 ("address", "address"), ("state", "state"), ("zip", "zip"), ("date_of_birth", "birthday"),
                 ("website", "website"), ("salutation", "salutation"), ("notes", "note")]


def plan_import(crm, path: str | os.PathLike, objects: list[str] | None = None, *, encoding: str | None = None,
                delimiter: str | None = None, new_properties: bool = True,
                known_names: dict[str, set[str]] | None = None) -> ImportSpec:
    """Open the file, detect its encoding and delimiter and map its columns automatically; a column
    nothing takes becomes a new custom property of the type its values show (`new_properties`), or
    is skipped with a reason."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImportError_(f"{path}: no such file")
    if safe_files.is_database_file(path, [crm.path]):  # its binary pages would become rows and properties
        raise ImportError_(f"{path}: that is the database itself (or one of its journal files), not a file to import")
    if os.path.getsize(path) == 0:
        raise ImportError_(f"{path}: the file is empty")
    kind = file_kind(path)
    if kind == "vcf":
        objects = objects or ["contacts"]
        if objects[0] != "contacts":
            raise ImportError_("a vCard file imports contacts")
        props = crm.registry.get("contacts").properties
        columns = [Column(h, "contacts", h) if h in props and not props[h].archived else Column(
            h, None, None, reason="property archived" if h in props else "no such property") for h, _key in VCARD_COLUMNS]
        columns.append(Column("ORG", "contacts", LINK_PREFIX + "companies:name", create_missing=True))
        return ImportSpec(path, ["contacts"], columns, kind="vcf", headers=[c.header for c in columns])
    try:
        source = csvread.open_csv(path, encoding=encoding, delimiter=delimiter)
    except (csvread.CsvError, ValueError, LookupError, OSError) as exc:
        raise ImportError_(f"{path}: {exc}") from None
    if not source.headers:
        raise ImportError_(f"{path}: the file is empty" if _blank(source) else f"{path}: the file has no header row")
    if not source.sample(1):  # nothing to import: refused before an import is recorded
        raise ImportError_(f"{path}: only a header row, no records to import")
    from . import (
        hubspot,  # a HubSpot export is recognised by its headers (importing/hubspot.py)
    )

    if (found := hubspot.recognise(source.headers)) is not None:
        spec = hubspot.plan(crm, path, source, found, objects)
        facts = getattr(spec, "facts", None)
        if not new_properties and facts is not None and facts.new_properties:  # --no-new-properties
            planned = {(p.object, p.name) for p in facts.new_properties}
            for col in spec.columns:
                if (col.object, col.target) in planned:
                    col.object, col.target, col.reason = None, None, "no property matches its title"
                    facts.skipped.append(f"{col.header}: no property matches its title (--no-new-properties): skipped")
            facts.new_properties = []
        return spec
    guessed = not objects
    objects = list(objects or [guess_object(crm, source.headers)])
    for name in objects:
        crm.registry.get(name)  # NotFound for an unknown object
    columns = auto_columns(crm, source.headers, objects)
    spec = ImportSpec(path, objects, columns, kind="csv", encoding=source.encoding, delimiter=source.delimiter,
                      headers=list(source.headers), warnings=list(source.warnings), guessed=guessed)
    sample = source.sample(infer.SAMPLE_ROWS)
    _look_at_values(crm, spec, sample, new_properties)
    spec.warnings = list(source.warnings)
    _link_by_name(crm, spec, sample, known_names)
    _name_records(crm, spec, sample)
    return spec


def _blank(source: csvread.CsvSource) -> bool:
    """Whether the file holds only white space (blank lines, a BOM, NULs)."""
    with open(source.path, encoding=source.encoding, errors="replace", newline="") as f:
        while chunk := f.read(1 << 16):
            if chunk.replace("\x00", "").replace("\ufeff", "").strip():
                return False
    return True


# Titles of a column naming each row's company, besides the object's own names and labels.
_COMPANY_TITLES = {"account", "accountname", "company", "companyname", "organization", "organisation",
                   "organizationname", "organisationname", "employer"}


def titled_after(crm, main, header: str):
    """The other object a column's title names ("account", "company", an object's name or label),
    or None."""
    key = mapping.header_key(header)
    for other in crm.registry.objects.values():
        if other.name == main.name or other.is_activity:
            continue
        titles = {mapping.header_key(t) for t in (other.name, other.label, other.plural_label)}
        titles |= {mapping.singular(other.name)} | (_COMPANY_TITLES if other.name == "companies" else set())
        if key in titles:
            return other
    return None


def _link_by_name(crm, spec: ImportSpec, sample: list[tuple[int, dict]],
                  known_names: dict[str, set[str]] | None = None) -> None:
    """A column no property takes, titled after another object ("account", "company", the object's
    own name or label), whose sample values are mostly names of its existing records (Maven's
    sales_pipeline.csv after accounts.csv), links each row's record to the record of that name
    instead of becoming a text property. A name two records share is reported on its row, never
    guessed; a name none has is reported as not linked. Said in the preview and the summary.
    `known_names` ({object: casefolded names}): names another file of the same folder import
    brings (its accounts.csv, imported first), counted as existing."""
    if len(spec.objects) != 1:
        return
    main = crm.registry.get(spec.objects[0])
    for col in spec.columns:
        if col.object != main.name or not col.target or not col.target.startswith(NEW_PREFIX):
            continue
        other = titled_after(crm, main, col.header)
        if other is None:
            continue
        names = {v.strip().casefold() for _line, row in sample if (v := (row.get(col.header) or "").strip())}
        if not names:
            continue
        model = other.model
        field_ = getattr(model, other.primary_property)
        found = {str(v).casefold() for (v,) in model.select(field_).where(
            fn.LOWER(field_).in_(sorted(names)[:900]) & model.deleted_at.is_null(True)).tuples()}
        found |= names & (known_names or {}).get(other.name, set())
        if len(found) * 2 < len(names):
            continue
        label = other.properties[other.primary_property].label.lower()
        col.target = f"{LINK_PREFIX}{other.name}:{other.primary_property}"
        col.note = f"links each {main.label.lower()} to the {other.label.lower()} of that name ({label})"
        spec.warnings.append(f"column {col.header!r} names {other.plural_label.lower()} "
                             f"({len(found)} of {len(names)} names in the first rows found): each "
                             f"{main.label.lower()} is linked to the {other.label.lower()} of that name; "
                             "a name two of them share is reported, not guessed")


_ID_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}")
_PEOPLE = re.compile(r"name|agent|person|people|rep|member|employee|staff|contact|user|manager|owner")
_PERSON_NAME = re.compile(r"[^\W\d_][\w'.-]*(?: [^\W\d_][\w'.-]*){1,3}")


def _name_records(crm, spec: ImportSpec, sample: list[tuple[int, dict]]) -> None:
    """A file with no column for what names its records, read whole all the same (Maven's
    sales_pipeline.csv has no deal name, its sales_teams.csv no name or email of a person):

    - a required name (a deal's name, a ticket's) that no column fills comes from the file's ID
      column (a column called "... id" whose values are one word each and all different), which
      also becomes the records' ID in that file's namespace, so a second run updates instead of
      duplicating; without an ID column, from the first text column;
    - contacts with no column for their name or email are named from the first column of
      people's names (a title such as agent, member, employee; two to four words each, all
      different), split into first and last name, by which a second run finds them again.

    Each is said in the preview (the columns) and the summary (a warning)."""
    main = crm.registry.get(spec.objects[0])
    mapped = {c.target for c in spec.columns if c.object == main.name and c.target}
    if mapping.ID in mapped or len(spec.objects) != 1:
        return
    rows = [row for _line, row in sample]
    if not rows:
        return

    def values(col: Column) -> list[str]:
        return [row.get(col.header, "") for row in rows]

    def plain(col: Column) -> bool:  # skipped, or a new text property made only for it
        new = new_property_of(col)
        return col.skipped or (new is not None and new[1] == "text")

    required = [p for p in main.properties.values() if p.required and p.name not in mapped and p.type == "text"]
    if required:
        prop = required[0]
        found = next((c for c in spec.columns if plain(c) and mapping.header_key(c.header).endswith("id")
                      and all(_ID_VALUE.fullmatch(v) for v in values(c)) and len(set(values(c))) == len(rows)), None)
        if found is not None:
            found.object, found.target, found.reason = main.name, mapping.ID, None
            spec.id_source = found.header.strip().lower()[:60]
            found.note = f"the records' ID in {spec.id_source!r}: a second run updates them"
        else:
            found = next((c for c in spec.columns if plain(c) and all(values(c))), None)
        if found is None:
            return
        spec.columns.append(Column(found.header, main.name, prop.name,
                                   note=f"the file has no {prop.label} column: each record is named after this one"))
        spec.warnings.append(f"no column holds the {prop.label.lower()} ({prop.name}): each "
                             f"{main.label.lower()} is named after column {found.header!r}")
        return
    if main.name == "contacts" and not mapped & {"firstname", "lastname", "email"}:
        found = next((c for c in spec.columns if plain(c) and _PEOPLE.search(mapping.header_key(c.header))
                      and all(_PERSON_NAME.fullmatch(v) for v in values(c)) and len(set(values(c))) == len(rows)), None)
        if found is None:
            return
        if found.skipped or new_property_of(found):
            found.object, found.target, found.reason = main.name, "firstname", None
        else:
            spec.columns.append(Column(found.header, main.name, "firstname"))
            found = spec.columns[-1]
        found.part = "first"
        found.note = "the file has no name or email column: these are the contacts' names (first part)"
        spec.columns.append(Column(found.header, main.name, "lastname", part="last",
                                   note="the file has no name or email column: these are the contacts' names (last word)"))
        spec.warnings.append(f"no column holds the contacts' names or emails: they are named after column "
                             f"{found.header!r} (first name, last name)")


OBJECT_CHOICE = "choose the object with --object NAME"  # how the command line picks another object


def nameless(crm, spec: ImportSpec, how: str = OBJECT_CHOICE) -> str | None:
    """One line when the object guessed for a file would get only nameless records: no column fills
    what names them (a contact's name or email, a company's name or domain, a deal's name...) nor
    their Record ID, so every row would become "Contact #1", "Contact #2"... (Maven's products.csv,
    a generic a,b,c table). None when the file names them, or its object was chosen."""
    if not spec.guessed or spec.kind != "csv" or len(spec.objects) != 1:
        return None
    meta = crm.registry.get(spec.objects[0])
    naming = {p for group in meta.display for p in group} | {meta.primary_property, mapping.ID}
    if any(c.object == meta.name and c.target in naming for c in spec.columns if not c.skipped):
        return None
    words = []
    for group in meta.display:
        props = [meta.properties[p] for p in group if p in meta.properties]
        if not props:
            continue
        word = "name" if len(props) > 1 else props[0].label.lower()
        prefix = meta.label.lower() + " "
        word = word[len(prefix):] if word.startswith(prefix) else word
        if word not in words:
            words.append(word)
    return (f"{spec.path}: nothing in it names a {meta.label.lower()} (no {' or '.join(words) or 'name'} column); "
            f"{how}, or create one (crm-tui schema apply)")


def _name_part(conv, part: str):
    """A converter of a name part: 'Anna Maria Snelling' -> 'Anna Maria' (first) or 'Snelling' (last)."""
    def convert(raw: str):
        words = raw.split()
        if len(words) > 1:
            raw = " ".join(words[:-1]) if part == "first" else words[-1]
        elif part == "last":
            return None
        return conv(raw)
    return convert


def missing_required(crm, spec: ImportSpec) -> list[str]:
    """A warning per required property of the main object that no column fills (every new record
    would be refused): Maven's sales_pipeline.csv has no deal name column."""
    meta = crm.registry.get(spec.objects[0])
    mapped = {c.target for c in spec.columns if c.object == meta.name}
    if mapping.ID in mapped:
        return []  # rows may update existing records by Record ID
    return [f"no column fills {p.label} ({p.name}), which a new {meta.label.lower()} needs: map one, "
            f"e.g. --map COLUMN={p.name}" for p in meta.properties.values() if p.required and p.name not in mapped]


def _look_at_values(crm, spec: ImportSpec, sample: list[tuple[int, dict]], new_properties: bool) -> None:
    """What a sample of the rows says: columns left unmapped become new properties (typed by their
    values) or are skipped with a reason; date columns written day first are noted."""
    whole = len(sample) < infer.SAMPLE_ROWS
    keys = {mapping.header_key(c.header) for c in spec.columns}
    main = crm.registry.get(spec.objects[0])
    taken = set(main.properties)  # infer.property_name also avoids the engine's reserved names
    cells_of = {col.header: [v for _line, row in sample if (v := row.get(col.header))] for col in spec.columns}
    props = _properties(main)
    read_only = [(p.name, p.label) for p in main.properties.values() if (p.name, p.label) not in props and not p.archived]
    for col in spec.columns:  # an empty column gives its property up to one with values (Home City)
        if col.skipped or cells_of[col.header] or col.object != main.name or col.target.startswith("@"):
            continue
        for other in sorted(spec.columns, key=lambda c: "street" not in mapping.header_key(c.header)):  # not "Address"
            if other.skipped and cells_of[other.header] and any(
                    t == col.target for _q, t in mapping._candidates(other.header, main.name, props, crm.registry.objects)):
                other.object, other.target, col.object, col.target = col.object, col.target, None, None
                break
    for col in spec.columns:
        cells = cells_of[col.header]
        if col.target == "date_of_birth" and mapping.header_key(col.header) == "birthday" and "birthmonth" in keys:
            col.object = col.target = None  # Thunderbird's Birth Day is a day of the month
        key = mapping.header_key(col.header)
        if col.skipped and cells and key == "primarycompany" and main.has_primary_company \
                and "companies" in crm.registry.objects:  # an exported view's derived column
            col.object, col.target = main.name, f"{LINK_PREFIX}companies:name"
        elif col.skipped and cells and key.startswith("associated") and crm.registry.find(key[10:]):
            col.reason = "names of associated records (link them with an Associated ... IDs column or --link)"
        if col.skipped and not col.reason:
            fixed = [t for _q, t in mapping._candidates(col.header, main.name, read_only, crm.registry.objects)
                     if t in main.properties]
            if not cells:
                col.reason = "empty in every row" if whole else f"empty in the first {len(sample)} rows"
            elif archived := archived_reason(main, col.header, crm.registry.objects):
                col.reason = archived
            elif fixed:  # "Last modified date", HubSpot's "Last Activity Date": kept by the CRM itself
                col.reason = "read-only: kept by the CRM"
            elif not new_properties:
                col.reason = "no property matches its title"
            else:
                dayfirst = spec.dayfirst or infer.dates_day_first(cells)
                name = infer.property_name(col.header, taken)
                taken.add(name)
                col.object, col.target = main.name, f"{NEW_PREFIX}{name}:{infer.infer_type(cells, dayfirst=dayfirst)}"
        if cells and infer.dates_day_first(cells):
            spec.dayfirst_columns.append(col.header)
        if any(len(c) <= 16 and c.casefold() in csvread.NULL_WORDS for c in cells):
            spec.null_columns.append(col.header)  # checked per cell in these columns only (typed ones
            # meet a null word in _rescue, off the fast path)


def new_property_of(col: Column) -> tuple[str, str] | None:
    """(name, type) of the property a column will create, or None."""
    if col.target and col.target.startswith(NEW_PREFIX):
        name, _colon, ptype = col.target[len(NEW_PREFIX):].partition(":")
        return name, ptype or "text"
    return None


def auto_columns(crm, headers: list[str], objects: list[str]) -> list[Column]:
    reg = crm.registry
    if len(objects) == 1:
        meta = reg.get(objects[0])
        found = mapping.auto_map(headers, meta.name, _properties(meta), objects=list(reg.objects))
        return [Column(h, meta.name if found[h] else None, found[h]) for h in headers]
    found_many = mapping.auto_map_many(headers, {name: _properties(reg.get(name)) for name in objects})
    return [Column(h, found_many[h][0], found_many[h][1]) if found_many[h] else Column(h, None, None) for h in headers]


def guess_object(crm, headers: list[str]) -> str:
    """The standard object whose properties the headers match best (contacts on a tie)."""
    best, best_score = "contacts", -1
    for name in ("contacts", "companies", "deals", "tickets"):
        if name not in crm.registry.objects:
            continue
        meta = crm.registry.get(name)
        # only standard properties decide: the ones an earlier import made for its own columns
        # (deals.sales_agent from sales_pipeline.csv) must not pull sales_teams.csv to deals
        standard = [(n, label) for n, label in _properties(meta) if not meta.properties[n].is_custom]
        found = mapping.auto_map(headers, name, standard, objects=list(crm.registry.objects))
        score = sum(1 for t in found.values() if t and not t.startswith("@"))
        if score > best_score:
            best, best_score = name, score
    return best


def target_choices(crm, objects: list[str]) -> list[tuple[str, tuple[str, str]]]:
    """(label, (object, target)) for every mapping a column can take: for the wizard's Select."""
    reg = crm.registry
    out = []
    for name in objects:
        meta = reg.get(name)
        prefix = f"{meta.label}: " if len(objects) > 1 else ""
        out.append((f"{prefix}Record ID", (name, mapping.ID)))
        for prop_name, label in _properties(meta):
            out.append((f"{prefix}{label} ({prop_name})", (name, prop_name)))
        for other in reg.objects.values():
            if other.is_activity:
                continue
            out.append((f"{prefix}Associated {other.label} IDs", (name, mapping.ASSOC_PREFIX + other.name)))
            key = other.primary_property
            link = f"{LINK_PREFIX}{other.name}:{key}"
            by = f"{prefix}Link to {other.label.lower()} by {other.properties[key].label.lower()}"
            out.append((by, (name, link)))
            for label_name in crm.assoc.labels_for(name, other.name):  # "#label": the link's label
                out.append((f"{by}, as {label_name}", (name, f"{link}#{label_name}")))
        out.append((f"{prefix}Association label", (name, mapping.LABEL)))
    return out


def apply_map_args(crm, spec: ImportSpec, items: Iterable[str]) -> None:
    """`COL=prop`, `COL=object.prop`, `COL=@id`, `COL=` or `COL=skip` (skip the column).

    The first mapping of a column replaces the automatic one; a second mapping of the same column
    adds a target ("opportunity_id" as Record ID and as deal name).
    """
    mapped: set[str] = set()
    for item in items:
        header, sep, target = item.partition("=")
        header, target = header.strip(), target.strip()
        if not sep or not header:
            raise ImportError_(f"{item!r}: write a mapping as COLUMN=property")
        col = _column(spec, header)
        if target.lower() in ("", "skip", "-"):
            for c in spec.columns:
                if c.header == col.header:
                    c.object, c.target, c.reason = None, None, "skipped by you"
            mapped.add(col.header)
            continue
        obj = spec.objects[0]
        if "." in target and not target.startswith("@"):
            obj, target = target.split(".", 1)
            meta = crm.registry.get(obj)
            if meta.name not in spec.objects:
                spec.objects.append(meta.name)
            obj = meta.name
        meta = crm.registry.get(obj)
        if not target.startswith("@"):
            prop = meta.find_property(target)
            if prop is None:
                raise ImportError_(f"{meta.name} has no property {target!r} (column {header!r})")
            if prop.read_only and prop.name not in SETTABLE_READ_ONLY:
                raise ImportError_(f"{meta.name}.{prop.name} ({prop.label}) is read-only (column {header!r})")
            if prop.archived:
                raise ImportError_(f"{meta.name}.{prop.name} ({prop.label}) is archived (column {header!r}); "
                                   "restore it first")
            target = prop.name
        elif target.startswith((mapping.ASSOC_PREFIX, mapping.ASSOC_PRIMARY_PREFIX)):
            crm.registry.get(target.split(":", 1)[1])
        elif target not in (mapping.ID, mapping.LABEL):
            raise ImportError_(f"{target!r}: unknown special target (column {header!r}); use --link for links by name")
        if col.header not in mapped:
            for c in [c for c in spec.columns if c.header == col.header and c is not col]:
                spec.columns.remove(c)
            col.object, col.target, col.label = obj, target, None
            mapped.add(col.header)
        elif not any(c.header == col.header and c.object == obj and c.target == target for c in spec.columns):
            spec.columns.append(Column(col.header, obj, target))


def _column(spec: ImportSpec, header: str) -> Column:
    for col in spec.columns:
        if col.header == header:
            return col
    for col in spec.columns:
        if col.header.casefold() == header.casefold():
            return col
    raise ImportError_(f"the file has no column {header!r} (columns: {', '.join(spec.headers)[:200]})")


def apply_link_args(crm, spec: ImportSpec, items: Iterable[str], required: Iterable[str] = ()) -> None:
    """`COL=OBJECT.PROP[:LABEL]`: the column names a record of OBJECT by PROP (company name...)."""
    for item in items:
        header, sep, rest = item.partition("=")
        target, _colon, label = rest.partition(":")
        obj, dot, prop = target.strip().partition(".")
        if not sep or not dot:
            raise ImportError_(f"{item!r}: write a link as COLUMN=object.property[:label], e.g. account=companies.name")
        meta = crm.registry.get(obj.strip())
        prop_meta = meta.find_property(prop.strip())
        if prop_meta is None:
            raise ImportError_(f"{meta.name} has no property {prop.strip()!r}")
        col = _column(spec, header.strip())  # the link replaces the column's automatic mapping
        col.object = spec.objects[0]
        col.target = f"{LINK_PREFIX}{meta.name}:{prop_meta.name}"
        col.label = None
        if label.strip():
            main = crm.registry.get(spec.objects[0])
            col.label = crm.registry.find_label(main, meta, label.strip()).name
    for header in required:
        col = _column(spec, header)
        if not col.target or not col.target.startswith(LINK_PREFIX):
            raise ImportError_(f"--require-link {header!r}: that column is not a link column")
        col.required = True


def apply_value_args(spec: ImportSpec, items: Iterable[str]) -> None:
    """`COL:FROM=TO`: replace a cell value before parsing (Won=closedwon)."""
    for item in items:
        header, colon, rest = item.partition(":")
        old, eq, new = rest.partition("=")
        if not colon or not eq:
            raise ImportError_(f"{item!r}: write a value map as COLUMN:FROM=TO, e.g. deal_stage:Won=closedwon")
        col = _column(spec, header.strip())
        spec.value_maps.setdefault(col.header, {})[old.strip().casefold()] = new.strip()


def describe_columns(crm, spec: ImportSpec) -> list[str]:
    lines = []
    for col in spec.columns:
        if col.skipped:
            lines.append(f"{col.header} -> (skipped" + (f": {col.reason})" if col.reason else ")"))
            continue
        if new := new_property_of(col):
            lines.append(f"{col.header} -> {col.object}.{new[0]} (new property, {new[1]})")
            continue
        extra = f" [label {col.label}]" if col.label else ""
        extra += " [required]" if col.required else ""
        extra += f" ({col.note})" if col.note else ""
        extra += " [values mapped]" if col.header in spec.value_maps else ""
        lines.append(f"{col.header} -> {col.object}.{col.target}{extra}")
    return lines


def spec_to_json(spec: ImportSpec) -> dict:
    return asdict(spec)


# ------------------------------------------------------------------------------------------ rows

def _rows(spec: ImportSpec, lists: bool = False) -> Iterator[tuple[int, dict]]:
    if spec.kind == "vcf":
        problems: list[str] = []
        with open(spec.path, "rb") as stream:
            for n, contact in enumerate(vcard.iter_vcards(stream, problems), start=1):
                row = {h: str(contact.get(key) or "") for h, key in VCARD_COLUMNS}
                row["ORG"] = contact.get("company") or ""
                yield n, row
        spec.warnings.extend(p for p in problems if p not in spec.warnings)
        return
    source = csvread.open_csv(spec.path, encoding=spec.encoding, delimiter=spec.delimiter)
    yield from (source.lists() if lists else source)  # lists: cells in source.headers order
    spec.warnings.extend(w for w in source.warnings if w not in spec.warnings)


def estimate_rows(path: str, spec: ImportSpec | None = None) -> int:
    """Rows of a CSV: counted when the file is small (with its spec: read as the import reads it,
    so a cell holding line breaks is one row, not several), else estimated from its first 256 KiB."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(1 << 18)
    lines = head.count(b"\n") or 1
    if len(head) < (1 << 18):
        if spec is not None and spec.kind == "csv":
            try:
                return len(csvread.open_csv(path, encoding=spec.encoding, delimiter=spec.delimiter).sample(1 << 20))
            except (csvread.CsvError, ValueError, LookupError, OSError):
                pass
        return max(lines - 1, 0) if head.endswith(b"\n") or lines > 1 else lines
    return max(int(size / (len(head) / lines)) - 1, 1)


# ------------------------------------------------------------------------------------------ running
