"""What must never break, enforced by the database itself: unique indexes that hold even when a
second writer (another process on the same file, another person on a shared server) raced past the
Python checks.

- one primary company per record and object pair: a partial unique index on the edges from a
  record to companies that carry the primary flag;
- the dedupe keys: a live record's unique properties (a contact's normalised email, a company's
  normalised domain, any property a schema marks `unique`), as partial unique indexes over the
  live rows.

The indexes are Peewee `Index` objects, so the same definitions serve any database Peewee speaks.
A database that already breaks one of them cannot have that index: `missing()` says which and why,
`ensure()` adds every index whose data is clean and returns one line for each that it could not.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import Entity, Index, Table, ValueLiterals, fn

from .models import bound

PRIMARY_INDEX = "ux_association_primary"


@dataclass
class Constraint:
    name: str
    table: str
    index: Index
    what: str  # "one primary company per record", "unique email of live contacts"
    violations: callable  # db -> list of one-line problems (what breaks it, what to do)


def unique_index_name(table: str, column: str) -> str:
    return f"ux_{table}_{column}"


def _companies_id(db) -> int | None:
    ObjectType = bound(db).ObjectType
    return ObjectType.select(ObjectType.id).where(ObjectType.name == "companies").scalar()


def primary_index(db, companies_id: int) -> Index:
    """At most one edge from a record to companies carries the primary flag. (Both edges of a link
    carry the flag; the company's side is the one with to_object != companies.)"""
    Association = bound(db).Association
    return Association.index(
        Association.from_object, Association.from_id, Association.to_object, unique=True, name=PRIMARY_INDEX,
        where=(Association.is_primary == True) & (Association.to_object == companies_id))  # noqa: E712


def unique_property_index(table: str, column: str) -> Index:
    """A value of a unique property is held by at most one live record."""
    return Index(unique_index_name(table, column), Table(table), [Entity(column)], unique=True,
                 where=Entity(column).is_null(False) & Entity("deleted_at").is_null())


def all_constraints(db) -> list[Constraint]:
    models = bound(db)
    ObjectType, PropertyDef = models.ObjectType, models.PropertyDef
    out: list[Constraint] = []
    companies = _companies_id(db)
    if companies is not None:
        out.append(Constraint(PRIMARY_INDEX, models.Association._meta.table_name, primary_index(db, companies),
                              "one primary company per record", lambda d, c=companies: _primary_violations(d, c)))
    rows = (PropertyDef.select(ObjectType.name, PropertyDef.name)
            .join(ObjectType, on=(PropertyDef.object == ObjectType.id))
            .where(PropertyDef.unique == True)  # noqa: E712
            .order_by(ObjectType.id, PropertyDef.id).tuples())
    for object_name, column in rows:
        table = f"obj_{object_name}"
        out.append(Constraint(unique_index_name(table, column), table, unique_property_index(table, column),
                              f"a unique {column} per live record of {object_name}",
                              lambda d, o=object_name, c=column: _duplicate_values(d, o, c)))
    return out


def _primary_violations(db, companies_id: int, limit: int = 20) -> list[str]:
    ObjectType, Association = bound(db).ObjectType, bound(db).Association
    names = dict(ObjectType.select(ObjectType.id, ObjectType.name).tuples())
    q = (Association.select(Association.from_object, Association.from_id, fn.COUNT(Association.id))
         .where((Association.is_primary == True) & (Association.to_object == companies_id))  # noqa: E712
         .group_by(Association.from_object, Association.from_id)
         .having(fn.COUNT(Association.id) > 1)
         .order_by(Association.from_object, Association.from_id).limit(limit).tuples())
    return [f"{names.get(fo, fo)} {fi} has {n} primary companies (crm-tui doctor --repair keeps the oldest)"
            for fo, fi, n in q]


def _duplicate_values(db, object_name: str, column: str, limit: int = 20) -> list[str]:
    table = Table(f"obj_{object_name}")
    value = Entity(column)
    q = (table.select(value, fn.MIN(table.c.id), fn.MAX(table.c.id), fn.COUNT(table.c.id))
         .where(value.is_null(False) & Entity("deleted_at").is_null())
         .group_by(value).having(fn.COUNT(table.c.id) > 1)
         .order_by(value).limit(limit).tuples())
    out = []
    for held, first, last, n in q.bind(db):
        others = f"{n} live {object_name}" if n > 2 else f"{object_name} {first} and {last}"
        out.append(f"{others} have the same {column} {held!r}: merge them (crm-tui record merge {object_name} "
                   f"{first} {last}) or change one, then run crm-tui doctor --repair")
    return out


def present_indexes(db, table: str) -> set[str]:
    return {index.name for index in db.get_indexes(table)}


def create_index(db, index: Index) -> None:
    """CREATE [UNIQUE] INDEX IF NOT EXISTS from a Peewee Index, values written as literals (SQLite
    takes no bound parameters in an index's WHERE)."""
    ctx = db.get_sql_context()
    sql, params = ctx.sql(ValueLiterals(index.safe(True))).query()
    db.execute_sql(sql, params)


def missing(db) -> list[tuple[Constraint, list[str]]]:
    """Constraints the database lacks, each with what stops it from having it (empty: nothing)."""
    out = []
    present: dict[str, set[str]] = {}
    for constraint in all_constraints(db):
        if constraint.table not in present:
            present[constraint.table] = present_indexes(db, constraint.table)
        if constraint.name not in present[constraint.table]:
            out.append((constraint, constraint.violations(db)))
    return out


def problems(db) -> list[str]:
    """For doctor: one line for each constraint the database lacks, naming what to fix."""
    out = []
    for constraint, violations in missing(db):
        if violations:
            out += [f"the database cannot enforce {constraint.what}: {line}" for line in violations]
        else:
            out.append(f"the database does not enforce {constraint.what} (index {constraint.name} is missing; "
                       "crm-tui doctor --repair adds it)")
    return out


def ensure(db) -> list[str]:
    """Add every missing constraint whose data is clean. Returns one line per constraint that could
    not be added, naming the first thing that breaks it and what to do."""
    notes = []
    for constraint, violations in missing(db):
        if violations:
            more = f" (and {len(violations) - 1} more: crm-tui doctor lists them)" if len(violations) > 1 else ""
            notes.append(f"the database cannot enforce {constraint.what} yet: {violations[0]}{more}")
            continue
        create_index(db, constraint.index)
    return notes


def is_primary_violation(exc: BaseException) -> bool:
    """The database refused a second primary company (SQLite names the index's columns,
    PostgreSQL the index)."""
    text = str(exc)
    return PRIMARY_INDEX in text or text.rstrip().endswith(
        "association.from_object, association.from_id, association.to_object")
