"""Opening the database file: checks that leave a bad file untouched, pragmas, schema versions."""

from __future__ import annotations

import os
import time
import json
from pathlib import Path

from peewee import SqliteDatabase

from . import dialect, safe_files
from ..domain.errors import DatabaseProblem, InvalidValue
from .models import bound
from .engine import load_yaml_resource
from .paths import data_dir

SCHEMA_VERSION = 15
APPLICATION_ID = 0x43524D54  # "CRMT": marks a file as a crm-tui database

# version -> function(db) upgrading from version-1. Each runs inside one transaction after a backup.
MIGRATIONS: dict[int, callable] = {}


def _v2_external_ids(db) -> None:
    """Version 2: the ExternalId table (source-system IDs of imported records) and the
    association counts kept by triggers."""
    models = bound(db)
    AssociationCount, ExternalId = models.AssociationCount, models.ExternalId

    db.create_tables([ExternalId, AssociationCount], safe=True)
    dialect.create_count_triggers(db)
    dialect.rebuild_counts(db)


MIGRATIONS[2] = _v2_external_ids


def add_missing_standard_properties(db, only: set[str] | None = None) -> list[str]:
    """The standard properties of objects.yaml that an older database lacks, added (metadata row,
    column, index) after its own; a property of that name made by the user is left as it is.
    `only` ("object.property" names) limits it to those. Returns "object.property" for each one added."""
    models = bound(db)
    ObjectType, PropertyDef = models.ObjectType, models.PropertyDef
    from .constraints import create_index
    from .engine import PropertyMeta, add_columns, sort_index

    spec = load_yaml_resource("objects.yaml")
    added = []
    for obj in spec["objects"]:
        row = ObjectType.get_or_none(ObjectType.name == obj["name"])
        if row is None:
            continue
        have = {name for (name,) in PropertyDef.select(PropertyDef.name).where(PropertyDef.object == row.id).tuples()}
        columns = {c.name for c in db.get_columns(f"obj_{row.name}")}
        position = len(have)
        for prop in obj["properties"]:
            if prop["name"] in have or "options_from" in prop:
                continue
            if only is not None and f"{obj['name']}.{prop['name']}" not in only:
                continue
            PropertyDef.create(
                object=row.id, name=prop["name"], label=prop["label"], type=prop.get("type", "text"),
                group_name=prop.get("group", ""), description=prop.get("description", ""),
                options=json.dumps(prop.get("options") or []), required=bool(prop.get("required")),
                unique=bool(prop.get("unique")), indexed=bool(prop.get("indexed")),
                read_only=bool(prop.get("read_only")), is_custom=False, position=position)
            position += 1
            if prop["name"] not in columns:
                add_columns(db, f"obj_{row.name}", [PropertyMeta(prop["name"], prop["label"], prop.get("type", "text"))])
            if prop.get("indexed"):
                create_index(db, sort_index(f"obj_{row.name}", prop["name"]))
            added.append(f"{row.name}.{prop['name']}")
    return added


def _v3_standard_properties(db) -> None:
    """Version 3: contacts' and companies' address-book properties (mobile phone, fax, website,
    address, state, postal code, date of birth, additional emails, notes, ...)."""
    add_missing_standard_properties(db)


MIGRATIONS[3] = _v3_standard_properties


def _v4_constraints(db) -> None:
    """Version 4: the database enforces one primary company per record and the dedupe keys
    (constraints.py). A constraint the data already breaks is left out, not half-made: its one
    line (what breaks it, what to do) goes to `db.crm_notices`, and `doctor` lists it until fixed."""
    from . import constraints

    notices(db).extend(constraints.ensure(db))


MIGRATIONS[4] = _v4_constraints


def create_report_indexes(db) -> None:
    """Indexes that reports read instead of the tables: the primary edges by company (a count of
    1,000,000 contacts by primary company, or by its industry, reads this index alone). Its WHERE is
    the bare column, which queries name the same way (reports.py) so that the planner takes it."""
    from peewee import Entity, Index, Table

    from . import constraints

    # PostgreSQL's yes/no columns are 0/1 integers (dialect_pg), which a WHERE cannot take bare
    primary = (Entity("is_primary") == 1) if dialect.is_postgres(db) else Entity("is_primary")
    constraints.create_index(db, Index(
        "ix_association_primary_to", Table("association"),
        [Entity("from_object"), Entity("to_object"), Entity("to_id")], where=primary))


MIGRATIONS[5] = create_report_indexes


CALENDAR_PROPERTIES = {"meetings.hs_meeting_uid", "meetings.hs_meeting_sequence", "meetings.hs_meeting_last_modified",
                       "meetings.hs_meeting_all_day", "meetings.hs_meeting_recurrence",
                       "meetings.hs_meeting_calendar_digest"}


def notices(db) -> list[str]:
    """One-line messages about the database that opening it found (a constraint a migration could
    not add); the command line prints them as warnings."""
    if not hasattr(db, "crm_notices"):
        db.crm_notices = []
    return db.crm_notices


def _v6_meta_change(db) -> None:
    """Version 6: the history of metadata rows (schema and pipeline changes), so they can be undone."""
    db.create_tables([bound(db).MetaChange], safe=True)


MIGRATIONS[6] = _v6_meta_change


def _v7_archived_properties(db) -> None:
    """Version 7: a property can be archived (kept with its values, hidden from forms, pickers,
    import and export until restored). A yes/no column is a 0/1 integer on both engines."""
    if "archived" not in {c.name for c in db.get_columns("property_def")}:
        db.execute_sql("ALTER TABLE property_def ADD COLUMN archived SMALLINT NOT NULL DEFAULT 0")


MIGRATIONS[7] = _v7_archived_properties


def _v8_workflows(db) -> None:
    """Version 8: workflows (their definitions and the date triggers that have fired)."""
    models = bound(db)
    db.create_tables([models.Workflow, models.WorkflowFired], safe=True)


MIGRATIONS[8] = _v8_workflows


def _v9_vdir_cards(db) -> None:
    """Version 9: the state of two-way vdir sync (`crm-tui vdir sync DIR`), per folder and card UID."""
    db.create_tables([bound(db).VdirCard], safe=True)


MIGRATIONS[9] = _v9_vdir_cards


MAIL_PROPERTIES = {"contacts.notes_last_contacted", "companies.notes_last_contacted", "emails.hs_email_cc",
                   "emails.hs_email_message_id", "emails.hs_email_thread_id", "emails.hs_email_attachments"}


def _v10_mail(db) -> None:
    """Version 10: mail logging (`crm-tui mail`): the emails' Cc, Message-ID, thread and attachments
    properties, "Last contacted" on contacts and companies, the addresses each email belongs to and
    the messages a mailbox scan has read."""
    models = bound(db)
    db.create_tables([models.MailAddress, models.MailSeen], safe=True)
    add_missing_standard_properties(db, only=MAIL_PROPERTIES)


MIGRATIONS[10] = _v10_mail


def _v11_calendar_properties(db) -> None:
    """Version 11: meetings' calendar properties (the event's UID, its SEQUENCE and LAST-MODIFIED,
    all day, its RRULE), so `calendar import` logs an event once and sees when it changed."""
    add_missing_standard_properties(db, only=CALENDAR_PROPERTIES)


MIGRATIONS[11] = _v11_calendar_properties


def _v14_count_triggers(db) -> None:
    """Version 14, on PostgreSQL: the association counts kept by statement-level triggers instead
    of row-level ones (dialect_pg.create_count_triggers), and each record table's number of rows
    kept (dialect_pg.create_row_tally). SQLite keeps its triggers and counts as they are."""
    if dialect.is_postgres(db):
        dialect.create_count_triggers(db)
        for (name,) in db.execute_sql("SELECT name FROM object_type").fetchall():
            dialect.create_fts(db, name)  # exists already; the record table gets its row tally


MIGRATIONS[14] = _v14_count_triggers


def _v15_history_key_checks(db) -> None:
    """Version 15, on PostgreSQL: the history tables' operation checked once per statement
    instead of by a row-level foreign key (dialect_pg.create_history_key_checks). SQLite keeps
    its foreign keys."""
    if dialect.is_postgres(db):
        from .dialect_pg import create_history_key_checks

        create_history_key_checks(db)


MIGRATIONS[15] = _v15_history_key_checks

# steps that change nothing in a SQLite file (only its version number): no backup copy for them
POSTGRES_ONLY = {12, 13, 14, 15}


def schema_gaps(db) -> list[tuple[str, str | None]]:
    """Tables and columns of this version's schema that the database lacks: (table, None) for a
    missing table, (table, column) for a missing column. Migrations go by the version number, so
    a database stamped by a build that lacked a step in between (a developer's) never got it;
    doctor finds it here."""
    have = set(db.get_tables())
    gaps: list[tuple[str, str | None]] = []
    for model in bound(db).all:
        table = model._meta.table_name
        if table not in have:
            gaps.append((table, None))
            continue
        columns = {c.name for c in db.get_columns(table)}
        gaps += [(table, field.column_name) for field in model._meta.sorted_fields if field.column_name not in columns]
    return gaps


def fill_schema_gaps(db) -> list[str]:
    """Make what schema_gaps finds (doctor --repair): missing tables, missing columns (as the model
    declares them, NULL allowed: rows already there have no value), and the standard properties
    of objects.yaml an older database lacks. One line per thing made."""
    with db.atomic():
        if dialect.is_postgres(db):  # two programs filling at once: the second waits, then finds none
            db.execute_sql("SELECT pg_advisory_xact_lock(?)", (APPLICATION_ID,))
        return _fill_schema_gaps(db)


def _fill_schema_gaps(db) -> list[str]:
    from playhouse.migrate import SchemaMigrator, migrate as run_migration

    models = {m._meta.table_name: m for m in bound(db).all}
    done = []
    gaps = schema_gaps(db)
    missing_tables = [models[t] for t, column in gaps if column is None]
    if missing_tables:
        db.create_tables(missing_tables, safe=True)
        done += [f"made the missing table {m._meta.table_name}" for m in missing_tables]
    migrator = SchemaMigrator.from_database(db)
    for table, column in gaps:
        if column is None:
            continue
        field = next(f for f in models[table]._meta.sorted_fields if f.column_name == column)
        declared = field.null
        if field.default is None:  # rows already there have no value; the model's field, so put back after
            field.null = True
        try:  # with a default, Peewee fills the rows there with it and then makes the column NOT NULL
            run_migration(migrator.add_column(table, column, field))
        finally:
            field.null = declared
        done.append(f"added the missing column {table}.{column}")
    added = add_missing_standard_properties(db)
    done += [f"added the missing standard property {name}" for name in added]
    return done


def writable(path: Path) -> bool:
    """Can this process write the file and create its WAL files beside it?"""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def busy_timeout_ms() -> int:
    return int(os.environ.get("CRM_TUI_BUSY_TIMEOUT_MS", "5000"))


def _create_empty_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)


def inspect_file(path: Path) -> tuple[int, bool]:
    """Return (schema version, is_new) without writing a byte, or raise DatabaseProblem."""
    size = path.stat().st_size
    if size == 0:
        return 0, True
    with open(path, "rb") as handle:
        header = handle.read(100)
    if header[:16] != dialect.SQLITE_MAGIC:
        raise DatabaseProblem(f"{path}: not a SQLite database")
    # Refusals decided from the header alone: no connection, so no -wal/-shm file appears beside
    # a file we refuse (SQLite creates them even for a read-only look at a WAL database).
    if len(header) == 100:
        header_version = int.from_bytes(header[60:64], "big", signed=True)
        header_app_id = int.from_bytes(header[68:72], "big", signed=True)
        if header_app_id not in (0, APPLICATION_ID):
            raise DatabaseProblem(f"{path}: a SQLite database, but not a crm-tui database")
        if header_app_id == APPLICATION_ID and header_version > SCHEMA_VERSION:
            raise DatabaseProblem(_newer_message(path, header_version))
    beside = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    existed = [p.exists() for p in beside]
    app_id, version, tables = dialect.file_version(path, busy_timeout_ms() / 1000)
    refused = ((app_id != APPLICATION_ID and not (app_id == 0 and tables == 0))
               or (app_id == APPLICATION_ID and version > SCHEMA_VERSION))
    if refused:
        _remove_created(beside, existed)
    if app_id != APPLICATION_ID:
        if app_id == 0 and tables == 0:
            return 0, True
        raise DatabaseProblem(f"{path}: a SQLite database, but not a crm-tui database")
    if version > SCHEMA_VERSION:
        raise DatabaseProblem(_newer_message(path, version))
    return version, False


def _newer_message(path: Path, version: int) -> str:
    return (f"{path}: written by a newer crm-tui (schema {version}; this version reads up to {SCHEMA_VERSION}); "
            "upgrade crm-tui to open it")


def _remove_created(files: list[Path], existed: list[bool]) -> None:
    """Remove the empty -wal and the -shm file that our read-only look at a refused file created, so
    that the folder is left as it was. Files that were there before, or a -wal with content, stay."""
    wal, shm = files
    if existed[0] or existed[1]:
        return
    try:
        if wal.exists() and wal.stat().st_size == 0:
            wal.unlink()
            shm.unlink(missing_ok=True)
    except OSError:
        pass


def is_url(path) -> bool:
    """A `--db` value of the form scheme://...: a server's database, never a file name."""
    from .dialect_pg import looks_like_url

    return isinstance(path, str) and looks_like_url(path)


def open_database(path: str | os.PathLike, *, create: bool = True, readonly: bool = False) -> tuple[SqliteDatabase, bool]:
    """Open (creating if asked) a crm-tui database. Returns (database, is_new).

    A file that is not SQLite, a newer schema or a lock is reported as DatabaseProblem before
    anything is written to the file. A postgresql:// URL opens the team database on a server
    (`open_server_database`); any other URL is refused.
    """
    if is_url(path):
        return open_server_database(path, create=create, readonly=readonly)
    path = Path(path).expanduser()
    if not path.exists():
        if not create:
            raise DatabaseProblem(f"{path}: no such database")
        if readonly:
            raise DatabaseProblem(f"{path}: no such database (cannot create it read-only)")
        _create_empty_file(path)
    elif path.is_dir():
        raise DatabaseProblem(f"{path}: is a directory, not a database file")
    elif not path.is_file():  # a device or a pipe: reading hangs, SQLite writes a journal beside it
        raise DatabaseProblem(f"{path}: is not a regular file (a device, pipe or socket), not a database file")
    version, is_new = inspect_file(path)
    if readonly:
        if is_new:
            raise DatabaseProblem(f"{path}: empty database cannot be opened read-only")
        db = SqliteDatabase(
            f"file:{path}?mode=ro", uri=True, timeout=busy_timeout_ms() / 1000,
            pragmas=[("busy_timeout", busy_timeout_ms()), ("foreign_keys", 1)],
        )
    else:
        db = SqliteDatabase(str(path), timeout=busy_timeout_ms() / 1000, pragmas=dialect.pragmas(busy_timeout_ms()))
    bound(db)  # this database's own model classes (models.py): no other database's writes come here
    try:
        db.connect(reuse_if_open=True)
    except Exception as exc:  # peewee wraps the driver's errors
        if dialect.is_busy_error(exc):
            raise DatabaseProblem(f"{path}: database is locked by another program; try again when it is done") from None
        raise DatabaseProblem(f"{path}: cannot open: {exc}") from None
    if not readonly and not is_new and version < SCHEMA_VERSION:
        migrate(db, path, version)
    return db, is_new


def open_server_database(url: str, *, create: bool = True, readonly: bool = False):
    """A crm-tui database in a PostgreSQL database (the team database). The database must exist
    (`createdb NAME`); an empty one gets the schema. One that holds other tables, or a newer
    schema, is refused before anything is written."""
    from .dialect_pg import CrmPostgresqlDatabase, is_postgres_url, read_version, redacted

    shown = redacted(url)
    if not is_postgres_url(url):
        scheme = url.split("://", 1)[0]
        raise DatabaseProblem(f"{shown}: {scheme}:// databases are not supported (use a file path or postgresql://user@host:port/dbname)")
    options = f"-c lock_timeout={busy_timeout_ms()}"
    if readonly:
        options += " -c default_transaction_read_only=on"
    try:
        db = CrmPostgresqlDatabase(url, options=options)
    except ValueError as exc:
        raise DatabaseProblem(str(exc)) from None
    except ImportError:
        raise DatabaseProblem(f"{shown}: PostgreSQL needs the psycopg2 package (pip install psycopg2-binary)") from None
    bound(db)  # this database's own model classes (models.py)
    try:
        db.connect(reuse_if_open=True)
        app_id, version = read_version(db)
    except Exception as exc:
        db.close()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseProblem(f"{shown}: cannot open: {first}") from None
    is_new = app_id is None
    if is_new:
        if not create:
            db.close()
            raise DatabaseProblem(f"{shown}: no crm-tui database there (the database is empty)")
        if readonly:
            db.close()
            raise DatabaseProblem(f"{shown}: empty database cannot be opened read-only")
        return db, True
    if app_id != APPLICATION_ID:
        db.close()
        raise DatabaseProblem(f"{shown}: a PostgreSQL database with other tables, not a crm-tui database")
    if version > SCHEMA_VERSION:
        db.close()
        raise DatabaseProblem(_newer_message(shown, version))
    if not readonly and version < SCHEMA_VERSION:
        migrate(db, shown, version)
    return db, False


def claim_new_schema(db) -> bool:
    """Inside the transaction that creates the schema: False when another program created it
    meanwhile (two team members opening a new PostgreSQL database at the same moment)."""
    if not dialect.is_postgres(db):
        return True
    from .dialect_pg import read_version

    db.execute_sql("SELECT pg_advisory_xact_lock(?)", (APPLICATION_ID,))
    return read_version(db)[0] is None


def create_schema(db: SqliteDatabase) -> None:
    db.create_tables(bound(db).all)
    dialect.create_count_triggers(db)
    create_report_indexes(db)
    mark_schema(db)


def mark_schema(db) -> None:
    """Mark the database as a crm-tui database of this schema version (PostgreSQL: with the SQL
    functions the core uses, and every id sequence past the ids written so far, a copy's too)."""
    if dialect.is_postgres(db):
        from .dialect_pg import create_functions, create_history_key_checks, sync_sequences

        create_functions(db)
        create_history_key_checks(db)
        sync_sequences(db)
    dialect.write_version(db, APPLICATION_ID, SCHEMA_VERSION)


def backup_path_for(path: Path, label: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.{label}-{stamp}.bak")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{label}-{stamp}-{n}.bak")
    return candidate


def migrate(db: SqliteDatabase, path: Path, from_version: int) -> Path | None:
    """Back the file up, then run each numbered migration in its own transaction. On PostgreSQL
    (DDL is transactional there) each step and its version commit together or not at all, under
    a lock that makes a second program opening the database at the same moment wait."""
    postgres = dialect.is_postgres(db)
    copy = None
    if not postgres and not set(range(from_version + 1, SCHEMA_VERSION + 1)) <= POSTGRES_ONLY:
        copy = backup_path_for(path, f"v{from_version}")
        backup(path, copy)  # through safe_files: a new private file, never over one
    for version in range(from_version + 1, SCHEMA_VERSION + 1):
        step = MIGRATIONS.get(version)
        with db.atomic():
            if postgres:
                from .dialect_pg import read_version

                db.execute_sql("SELECT pg_advisory_xact_lock(?)", (APPLICATION_ID,))
                if read_version(db)[1] >= version:
                    continue  # another program ran this step meanwhile
            if step is not None:
                step(db)
            dialect.write_version(db, APPLICATION_ID, version)
    return copy


# -- backups and restore ------------------------------------------------------------------------

def default_backup_path(db_path: Path) -> Path:
    folder = data_dir() / "backups"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = folder / f"{Path(db_path).stem}-{stamp}.db"
    n = 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{Path(db_path).stem}-{stamp}-{n}.db"
    return candidate


def backup(db_path: str | Path, target: str | Path | None = None, *, overwrite: bool = False) -> Path:
    """A consistent copy made with SQLite's online backup, safe while the app is running. The
    target is checked by safe_files: never the database or its journal files, never an existing
    file unless `overwrite`, private (0600), and complete or absent."""
    refusal = dialect.backup_refusal(str(db_path))
    if refusal:
        raise DatabaseProblem(refusal)
    db_path = Path(db_path)
    if not db_path.exists():
        raise DatabaseProblem(f"{db_path}: no such database")
    inspect_file(db_path)
    target = Path(target).expanduser() if target else default_backup_path(db_path)
    if safe_files.is_database_file(target, [db_path]):
        raise InvalidValue("the backup must go to another file than the database")
    if target.exists() and target.is_dir():
        target = target / default_backup_path(db_path).name
    elif not target.parent.exists():
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = safe_files.check_target(target, protect=[db_path], overwrite=overwrite, what="backup file")
    temporary = safe_files.new_temporary(target)
    try:
        dialect.online_backup(str(db_path), str(temporary))
        safe_files.publish(temporary, target, overwrite=overwrite)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def restore(db_path: str | Path, source: str | Path) -> Path:
    """Replace the database's content with a backup's. The current content is backed up first;
    returns that safety copy's path."""
    refusal = dialect.backup_refusal(str(db_path))
    if refusal:
        raise DatabaseProblem(refusal)
    db_path, source = Path(db_path), Path(source)
    if not source.exists():
        raise InvalidValue(f"{source}: no such backup file")
    if not source.is_file():
        raise InvalidValue(f"{source}: not a backup file (a folder or a device)")
    if safe_files.is_database_file(source, [db_path]):
        raise InvalidValue(f"{source}: that is the database itself (or one of its journal files), not a backup")
    version, is_new = inspect_file(source)
    if is_new:
        raise InvalidValue(f"{source}: an empty file, not a crm-tui backup")
    safety = backup(db_path) if db_path.exists() and db_path.stat().st_size else None
    if not db_path.exists():
        fd = os.open(db_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    dialect.copy_file_into(source, db_path)
    os.chmod(db_path, 0o600)
    return safety
