"""Everything SQLite-only lives here: pragmas, FTS5, the online backup, error classification.

The rest of the core builds SQL through Peewee or writes SQL both engines read; each function
here that differs between engines hands a PostgreSQL database to `dialect_pg.py` (the team
database), so `grep -rn sqlite crm_tui` finds SQLite only in this module.
"""

import os
import sqlite3
import threading
from contextlib import contextmanager
from playhouse.sqlite_ext import AutoIncrementField

SQLITE_MAGIC = b"SQLite format 3\x00"


def file_version(path, timeout: float) -> tuple[int, int, int]:
    """(application id, schema version, number of tables) of a SQLite file, read-only. Raises
    DatabaseProblem in one line for a lock or a file SQLite cannot use."""
    from ..domain.errors import DatabaseProblem

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        raise DatabaseProblem(f"{path}: cannot open: {exc}") from None
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        if is_busy_error(exc):
            raise DatabaseProblem(f"{path}: database is locked by another program; try again when it is done") from None
        raise DatabaseProblem(f"{path}: not a usable SQLite database ({exc})") from None
    finally:
        conn.close()
    return app_id, version, tables


def write_version(db, application_id: int, version: int) -> None:
    """Mark the database as crm-tui's, at this schema version (SQLite: the file header)."""
    if is_postgres(db):
        return _pg().write_version(db, application_id, version)
    db.execute_sql(f"PRAGMA application_id = {int(application_id)}")
    db.execute_sql(f"PRAGMA user_version = {int(version)}")


def is_postgres(db) -> bool:
    return getattr(db, "dialect_name", "sqlite") == "postgresql"


def _pg():
    from . import dialect_pg

    return dialect_pg


def pragmas(busy_timeout_ms: int) -> list[tuple[str, object]]:
    return [
        ("journal_mode", "wal"),
        # deleted content is overwritten, not left in free pages: an erased record's text is gone
        ("secure_delete", 1),
        ("foreign_keys", 1),
        ("busy_timeout", busy_timeout_ms),
        # FULL: a committed change survives a power cut, not only a crash of this program.
        ("synchronous", "full"),
        ("cache_size", -64 * 1024),
        ("temp_store", "memory"),
        # After a checkpoint the WAL file is cut back to this size instead of keeping the largest it
        # ever grew to (a big import would otherwise leave hundreds of MB behind).
        ("journal_size_limit", 64 * 1024 * 1024),
    ]


@contextmanager
def bulk_load(db, path):
    if is_postgres(db):  # the server owns its WAL and checkpoints: nothing to tune per connection
        yield BulkLoad(None)
        return
    yield from _sqlite_bulk_load(db, path)


def _sqlite_bulk_load(db, path):
    """For a long series of batch transactions on this connection (an import). Yields a BulkLoad:
    call its `committed()` after each batch.

    Each batch commits without waiting for the disk (synchronous=NORMAL in WAL mode: a crash of the
    program loses nothing, a power cut can lose the latest batches but never part of one), and the
    WAL is copied into the database by a second connection on another thread while the next batch
    is prepared, instead of by this one after every commit. Those two waits were half of an import's
    time. The first commit after the block is FULL again, which makes every batch before it durable."""
    (sync,) = db.execute_sql("PRAGMA synchronous").fetchone()
    (checkpoint,) = db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()
    db.execute_sql("PRAGMA synchronous = NORMAL")
    db.execute_sql("PRAGMA wal_autocheckpoint = 0")
    load = BulkLoad(str(path))
    try:
        yield load
    finally:
        load.close()
        db.execute_sql(f"PRAGMA synchronous = {int(sync)}")
        db.execute_sql(f"PRAGMA wal_autocheckpoint = {int(checkpoint)}")


class BulkLoad:
    """A helper thread that checkpoints the WAL after each committed batch (PASSIVE: it never
    blocks the writer, and copies what no reader still needs).

    SQLite starts the WAL over from its beginning only when a writer begins a transaction after a
    complete checkpoint; the writer here begins its next batch at once, so `before_batch()` waits
    for the copy in progress whenever the WAL has grown past WAL_LIMIT bytes. Without that wait
    the WAL of a big import grew as large as the database."""

    WAL_LIMIT = 64 * 1024 * 1024

    def __init__(self, path: str):
        self._path = path
        self._cv = threading.Condition()
        if path is None:  # PostgreSQL: nothing to do between batches
            self._alive = False
            return
        self._requested = 0  # batches committed
        self._done = 0  # batches the last finished checkpoint covers
        self._stop = False
        self._alive = True
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        if self._path is None:
            return
        with self._cv:
            self._requested += 1
            self._cv.notify_all()

    def before_batch(self) -> None:
        if self._path is None:
            return
        try:
            size = os.path.getsize(self._path + "-wal")
        except OSError:
            return
        if size <= self.WAL_LIMIT:
            return
        with self._cv:
            target = self._requested
            self._cv.wait_for(lambda: self._done >= target or not self._alive)

    def close(self) -> None:
        if self._path is None:
            return
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join()

    def _run(self) -> None:
        conn = None
        try:
            conn = sqlite3.connect(self._path, timeout=0)
            while True:
                with self._cv:
                    self._cv.wait_for(lambda: self._requested > self._done or self._stop)
                    if self._stop:
                        return
                    target = self._requested
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                with self._cv:
                    self._done = target
                    self._cv.notify_all()
        except sqlite3.Error:
            return  # housekeeping only: the closing commit checkpoints anyway
        finally:
            if conn is not None:
                conn.close()
            with self._cv:
                self._alive = False
                self._cv.notify_all()


def record_id_field(db=None):
    """An integer primary key that is never handed out twice (SQLite: AUTOINCREMENT; PostgreSQL:
    a BIGSERIAL's sequence never goes back)."""
    if db is not None and is_postgres(db):
        from peewee import BigAutoField

        return BigAutoField()
    return AutoIncrementField()


def last_record_id(db, table: str) -> int:
    """The highest id the table has ever handed out (deleted rows included)."""
    if is_postgres(db):
        return _pg().last_issued_id(db, table)
    row = db.execute_sql("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    top = db.execute_sql(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"').fetchone()[0]
    return max(row[0] if row else 0, top)


def _integrity_errors() -> tuple:
    from peewee import IntegrityError

    return (IntegrityError, sqlite3.IntegrityError)


# A constraint refused a row, whether Peewee ran the statement or the core's raw cursor did.
INTEGRITY_ERRORS = _integrity_errors()


def reserve_record_ids(db, table: str, n: int) -> int:
    """Reserve the ids first..first+n-1 of a record table for a batch this writer inserts with
    ids of its own (records.bulk_insert); returns first. The table's sequence moves past the block
    first, so an insert that takes the next id meanwhile (a trigger, another writer on an engine
    that lets several in) gets one after it."""
    lock_for_consecutive_ids(db, table)  # PostgreSQL: no other writer reserves meanwhile
    first = last_record_id(db, table) + 1
    set_last_record_id(db, table, first + n - 1)
    return first


def first_free_edge_id(db) -> int:
    """The first id of a batch of edges this writer inserts with ids of its own
    (associations.bulk_link). The edge table has no sequence: inside the writer's transaction the
    ids above the highest are its own, because SQLite lets one writer at a time in and a writer
    whose snapshot is stale cannot write. PostgreSQL locks the edge table against other writers
    until commit, and `counts_added_by_caller` moves its sequence past the block after it.)"""
    if is_postgres(db):
        lock_for_consecutive_ids(db, "association")
        return _pg().last_issued_id(db, "association") + 1
    return db.execute_sql('SELECT COALESCE(MAX(id), 0) + 1 FROM "association"').fetchone()[0]


def set_last_record_id(db, table: str, value: int) -> None:
    """Make the table hand out ids above `value` from now on (a copied database keeps the
    source's: ids are never reused, even of records removed for good)."""
    if is_postgres(db):
        return _pg().set_last_issued_id(db, table, value)
    if db.execute_sql("SELECT 1 FROM sqlite_sequence WHERE name = ?", (table,)).fetchone():
        db.execute_sql("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (value, table))
    elif value:
        db.execute_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, value))


def defer_foreign_keys(db) -> None:
    """Check foreign keys at commit instead of at each row, for this transaction (a copy writes a
    row that points at one written later: a paired label's inverse)."""
    if is_postgres(db):
        return _pg().defer_foreign_keys(db)
    db.execute_sql("PRAGMA defer_foreign_keys = ON")


def is_busy_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    if "could not obtain lock" in text or "canceling statement due to lock timeout" in text:
        return True  # PostgreSQL's lock_timeout
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def is_full_error(exc: BaseException) -> bool:
    return "database or disk is full" in str(exc).lower()


def is_schema_gone_error(exc: BaseException) -> bool:
    """A table or column this connection knew was removed by another program (a restored backup
    from before a custom object or property existed)."""
    text = str(exc).lower()
    return type(exc).__name__ == "OperationalError" and ("no such table" in text or "no such column" in text)


def is_damaged_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


def problem_text(exc: BaseException, path) -> str | None:
    """One line a user can act on for a database error, or None when it is something else (a bug).
    The core, the command line and the app all describe these errors through this one place."""
    from .constraints import is_primary_violation

    if is_primary_violation(exc):
        return (f"{path}: another change made a different company primary at the same moment; "
                "nothing was saved, try again")
    if "could not connect to server" in str(exc) or "connection to server" in str(exc):
        return f"{path}: cannot reach the database server ({str(exc).strip().splitlines()[0]}); nothing was saved"
    if is_busy_error(exc):
        return f"{path}: the database is busy (another program is writing to it); nothing was saved, try again"
    if is_postgres_conflict(exc):
        return f"{path}: someone else changed the same records at the same moment; nothing was saved, try again"
    if is_full_error(exc):
        return f"{path}: the disk or database is full; nothing was saved"
    if is_readonly_error(exc):
        return f"{path}: the database is read-only; nothing was saved"
    if is_damaged_error(exc):
        return f"{path}: the database file is damaged ({exc}); run crm-tui doctor or restore a backup"
    if is_decode_error(exc):
        return f"{path}: the database holds text that is not valid UTF-8 (written by another program); run crm-tui doctor --repair"
    return None


def is_postgres_conflict(exc: BaseException) -> bool:
    """A serialisation failure, a deadlock, or the one-primary index refusing a primary company
    another writer set at the same moment."""
    import sys

    if "psycopg2" not in sys.modules:  # no PostgreSQL database was opened
        return False
    from .dialect_pg import is_retryable

    from .constraints import is_primary_violation

    return is_retryable(exc) or is_primary_violation(exc)


def is_unique_race(db, exc: BaseException) -> bool:
    """On PostgreSQL, a unique key refused at the end of a whole operation: the core checked it was
    free, so another writer took it at the same moment (SQLite lets one writer in at a time)."""
    if not is_postgres(db):
        return False
    from .dialect_pg import sqlstate

    return sqlstate(exc) == "23505"


def is_missing_schema_error(exc: BaseException) -> bool:
    """A table or column the statement names is not in the database (SQLite's message,
    PostgreSQL's SQLSTATE 42P01/42703)."""
    from .dialect_pg import sqlstate  # reads the exception only: no driver needed

    if sqlstate(exc) in ("42P01", "42703"):
        return True
    text = str(exc).lower()
    return "no such table" in text or "no such column" in text


def is_readonly_error(exc: BaseException) -> bool:
    return "readonly" in str(exc).lower() or "read-only" in str(exc).lower()


# -- association counts ----------------------------------------------------------------------

def create_count_triggers(db) -> None:
    """Keep association_count in step with every insert and delete on association, whatever
    code path (single link, bulk executemany, repair) writes the edges."""
    if is_postgres(db):
        return _pg().create_count_triggers(db)
    db.execute_sql(
        "CREATE TRIGGER IF NOT EXISTS association_count_insert AFTER INSERT ON association BEGIN "
        "INSERT INTO association_count(from_object, from_id, to_object, n) "
        "VALUES (NEW.from_object, NEW.from_id, NEW.to_object, 1) "
        "ON CONFLICT(from_object, from_id, to_object) DO UPDATE SET n = association_count.n + 1; END")
    db.execute_sql(
        "CREATE TRIGGER IF NOT EXISTS association_count_delete AFTER DELETE ON association BEGIN "
        "UPDATE association_count SET n = n - 1 WHERE from_object = OLD.from_object "
        "AND from_id = OLD.from_id AND to_object = OLD.to_object; "
        "DELETE FROM association_count WHERE from_object = OLD.from_object AND from_id = OLD.from_id "
        "AND to_object = OLD.to_object AND n <= 0; END")


@contextmanager
def counts_added_by_caller(db):
    """Around a bulk insert of edges whose counts the caller adds itself, in one aggregated upsert
    per record (add_counts_of_edges) instead of the triggers' one per edge. SQLite: the triggers
    are dropped and made again inside the writer's transaction (one writer at a time: no other
    writer can insert edges meanwhile, and a reader never sees them missing). An engine with
    concurrent writers keeps its triggers and has the caller's upsert do nothing."""
    if is_postgres(db):  # the triggers count; the edges came with ids of their own: the sequence follows
        yield
        _pg().last_issued_id(db, "association")
        return
    drop_count_triggers(db)
    try:
        yield
    finally:
        create_count_triggers(db)


def drop_count_triggers(db) -> None:
    """Before a bulk insert of edges whose counts `add_counts_of_edges` adds in one statement. On
    PostgreSQL the triggers stay (dropping one locks the table for every other writer)."""
    if is_postgres(db):
        return
    db.execute_sql("DROP TRIGGER IF EXISTS association_count_insert")
    db.execute_sql("DROP TRIGGER IF EXISTS association_count_delete")


def add_counts_of_edges(db, first: int, last: int) -> None:
    """Add the edges with ids first..last to the kept counts (one upsert per record)."""
    if is_postgres(db):
        return  # the triggers counted them
    db.execute_sql(
        "INSERT INTO association_count(from_object, from_id, to_object, n) "
        "SELECT from_object, from_id, to_object, count(*) FROM association WHERE id BETWEEN ? AND ? "
        "GROUP BY from_object, from_id, to_object "
        "ON CONFLICT(from_object, from_id, to_object) DO UPDATE SET n = association_count.n + excluded.n", (first, last))


def contains_text(haystack, needle):
    """An expression true where `needle` occurs in `haystack` (Peewee nodes). PostgreSQL gets an
    `instr` function of the same meaning with the schema (dialect_pg.create_functions)."""
    from peewee import fn

    return fn.instr(haystack, needle) > 0


def group_concat(db, expression: str) -> str:
    """SQL of the values of `expression` in a group joined with commas."""
    if is_postgres(db):
        return f"string_agg(({expression})::text, ',')"
    return f"group_concat({expression})"


def in_rows(db, select: str, tail: str, values: list, params: tuple = ()) -> list[list]:
    """The rows of `SELECT {select} {tail}`, `{values}` in tail standing for the IN list of
    `values` (after `params`), in one statement whatever the number of values. SQLite answers one
    JSON array (no Python between rows); PostgreSQL takes the values as one array parameter."""
    import json

    if is_postgres(db):
        # `x = ANY(array)`, not `x IN (SELECT unnest(array))`: the planner joins the latter by its
        # statistics, and during a load they say the table is empty (a nested loop comparing every
        # row with every value: 3 s for 10k values against 10k rows); ANY is one hashed or
        # indexed look-up per row or value whatever the statistics say
        if " IN {values}" in tail:
            sql = f"SELECT {select} {tail.replace(' IN {values}', ' = ANY({values})').format(values='?')}"
        else:
            sql = f"SELECT {select} {tail.format(values='(SELECT unnest(?))')}"
        return [list(row) for row in db.execute_sql(sql, (*params, list(values))).fetchall()]
    sql = f"SELECT json_group_array(json_array({select})) {tail.format(values='(SELECT value FROM json_each(?))')}"
    (text,) = db.execute_sql(sql, (*params, json.dumps(values))).fetchone()
    return json.loads(text)


def lock_record(db, object_name: str, record_id: int) -> None:
    """At the start of an operation on one record: on PostgreSQL, wait for any other writer's
    operation on the same record to commit (so this one reads what it wrote). SQLite's single
    writer lock already does that for the whole database."""
    if is_postgres(db):
        db.execute_sql("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (f"{object_name}:{int(record_id)}",))


def announce_change(db, session: str, op_id: int, object_name, record_id) -> None:
    """Inside the transaction of a top-level operation: PostgreSQL delivers a NOTIFY to the other
    sessions' listeners (crm_tui/storage/live.py) when it commits, and never when it rolls back."""
    if is_postgres(db):
        from .live import CHANNEL, payload

        db.execute_sql("SELECT pg_notify(?, ?)", (CHANNEL, payload(session, op_id, object_name, record_id)))


def lock_for_consecutive_ids(db, table: str) -> None:
    """Inside a transaction about to insert a run of rows whose ids it derives from the first one:
    no other writer may take ids from the same table until it commits. SQLite's writer already
    holds the database's one write lock; PostgreSQL locks the table against other writers (readers
    go on)."""
    if is_postgres(db):
        db.execute_sql(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')


def rebuild_counts(db) -> None:
    db.execute_sql("DELETE FROM association_count")
    db.execute_sql(
        "INSERT INTO association_count(from_object, from_id, to_object, n) "
        "SELECT from_object, from_id, to_object, count(*) FROM association GROUP BY from_object, from_id, to_object")


# -- full-text search -------------------------------------------------------------------------

def fts_table(object_name: str) -> str:
    return f"fts_{object_name}"


def create_fts(db, object_name: str) -> None:
    if is_postgres(db):  # every record table is made before its search index: its row tally too
        _pg().create_row_tally(db, f"obj_{object_name}")
        return _pg().create_fts(db, fts_table(object_name))
    # One column `body` holding the record's searchable text; rowid = record id. Prefix indexes for
    # 2 and 3 characters: a 1-character index costs every write more than it saves any search.
    db.execute_sql(
        f'CREATE VIRTUAL TABLE IF NOT EXISTS "{fts_table(object_name)}" USING fts5('
        "body, tokenize=\"unicode61 remove_diacritics 2 tokenchars '-'\", prefix='2 3')"
    )


def kept_row_count(db, table: str) -> int | None:
    """All rows of a record table (live and deleted) without counting them, when the engine keeps
    the number (PostgreSQL: dialect_pg.kept_row_count); None: count them (SQLite counts b-tree
    cells of a small index, ~2 ms at a million rows)."""
    if is_postgres(db):
        return _pg().kept_row_count(db, table)
    return None


def kept_data_problems(db, object_name: str, table: str) -> list[str]:
    """What the engine keeps beside a record table and no longer agrees with it (doctor):
    PostgreSQL's row tally and word index; SQLite keeps neither."""
    if not is_postgres(db):
        return []
    pg = _pg()
    problems = []
    tally = pg.tally_out_of_step(db, table)
    if tally is not None:
        problems.append(f"row count of {object_name}: kept as {tally[0]}, the table holds {tally[1]}")
    off = pg.words_out_of_step(db, fts_table(object_name))
    if off:
        problems.append(f"word index of {object_name}: {off} entr{'y' if off == 1 else 'ies'} out of step")
    return problems


def repair_kept_data(db, object_name: str, table: str) -> list[str]:
    """Rebuild what kept_data_problems found wrong; what was done, one line each."""
    if not is_postgres(db):
        return []
    pg = _pg()
    done = []
    if pg.tally_out_of_step(db, table) is not None:
        pg.reset_tally(db, table)
        done.append(f"recounted the rows of {object_name}")
    if pg.words_out_of_step(db, fts_table(object_name)):
        pg.rebuild_word_index(db, fts_table(object_name))
        done.append(f"rebuilt the word index of {object_name}")
    return done


def drop_fts(db, object_name: str) -> None:
    if is_postgres(db):
        return _pg().drop_fts(db, fts_table(object_name))
    db.execute_sql(f'DROP TABLE IF EXISTS "{fts_table(object_name)}"')


def fts_upsert(db, object_name: str, record_id: int, body: str) -> None:
    table = fts_table(object_name)
    if is_postgres(db):
        db.execute_sql(f'INSERT INTO "{table}"(rowid, body) VALUES (?, ?) '
                       "ON CONFLICT (rowid) DO UPDATE SET body = excluded.body", (record_id, body))
        return
    db.execute_sql(f'DELETE FROM "{table}" WHERE rowid = ?', (record_id,))
    db.execute_sql(f'INSERT INTO "{table}"(rowid, body) VALUES (?, ?)', (record_id, body))


def fts_delete(db, object_name: str, record_id: int) -> None:
    db.execute_sql(f'DELETE FROM "{fts_table(object_name)}" WHERE rowid = ?', (record_id,))


def fts_insert_many(cursor, object_name: str, rows) -> None:
    cursor.executemany(f'INSERT INTO "{fts_table(object_name)}"(rowid, body) VALUES (?, ?)', rows)


def fts_match_expression(text: str, db=None) -> str | None:
    """Prefix-match every word the user typed: `ann smi` -> `"ann"* AND "smi"*`."""
    words = [w for w in _split_words(text) if w]
    if not words:
        return None
    if db is not None and is_postgres(db):
        return _pg().fts_match_expression(words)
    return " AND ".join('"' + w.replace('"', '""') + '"*' for w in words)


def _split_words(text: str) -> list[str]:
    out, current = [], []
    for ch in text:
        if ch.isalnum() or ch == "-":
            current.append(ch)
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


def fts_search_sql(object_name: str, record_table: str, db=None) -> str:
    """Ranked ids of live records matching a MATCH expression (parameters: expr, limit)."""
    fts = fts_table(object_name)
    if db is not None and is_postgres(db):
        return _pg().fts_search_sql(fts, record_table)
    return (
        f'SELECT f.rowid FROM "{fts}" f JOIN "{record_table}" r ON r.id = f.rowid '
        f'WHERE f.body MATCH ? AND r.deleted_at IS NULL ORDER BY f.rank LIMIT ?'
    )


def fts_first_matches(db, object_name: str, text: str, limit: int) -> list[int] | None:
    """The first `limit` matches of what was typed, unranked, when the engine has a faster way to
    them than `fts_unranked_sql` (PostgreSQL, one word: dialect_pg.first_matches); else None."""
    if not is_postgres(db):
        return None
    terms = [part for word in _split_words(text) for part in word.lower().split("-") if part]
    return _pg().first_matches(db, fts_table(object_name), terms, limit)


def fts_unranked_sql(object_name: str, db=None) -> str:
    """Matching ids in index order, unranked (parameters: expr, limit). Deleting a record removes
    it from the index, so no join on deleted_at is needed."""
    if db is not None and is_postgres(db):
        return _pg().fts_unranked_sql(fts_table(object_name))
    return f'SELECT rowid FROM "{fts_table(object_name)}" WHERE body MATCH ? LIMIT ?'


# -- backup ---------------------------------------------------------------------------------

def backs_up_files(db) -> bool:
    """Is the database a file that crm-tui copies before a risky change (migration, import undo)?
    A server's database is backed up by its own tools (pg_dump)."""
    return not is_postgres(db)


def backup_refusal(target: str) -> str | None:
    """The one line refusing `crm-tui backup`/`restore` of a database that is not a file."""
    from .dialect_pg import looks_like_url, redacted

    if looks_like_url(target):
        return (f"{redacted(target)}: crm-tui backs up and restores SQLite files only; back a PostgreSQL "
                "database up with pg_dump and restore it with pg_restore (or crm-tui copy to a file)")
    return None


def online_backup(source_path: str, target_path: str) -> None:
    """Consistent copy of a live database with SQLite's online backup API."""
    fd = os.open(target_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(target_path, 0o600)
    src = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target_path)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


# -- checks ---------------------------------------------------------------------------------

def storage_check(db) -> tuple[list[str], bool]:
    """(problems, damaged) of the storage itself: SQLite's integrity and foreign key checks. A
    PostgreSQL server checks pages and foreign keys as it writes them: nothing to add there."""
    if is_postgres(db):
        return [], False
    try:
        result = db.execute_sql("PRAGMA integrity_check").fetchall()
    except Exception as exc:  # a badly damaged file fails the check itself
        return [f"SQLite integrity: {exc}; restore a backup (crm-tui restore PATH)"], True
    if [r[0] for r in result] != ["ok"]:
        return [f"SQLite integrity: {r[0]}" for r in result[:20]], True
    fk = db.execute_sql("PRAGMA foreign_key_check").fetchall()
    return [f"foreign key: row {r[1]} of {r[0]} points at a missing {r[2]}" for r in fk[:20]], False


def may_hold_invalid_utf8(db) -> bool:
    """SQLite stores whatever bytes another program wrote as TEXT; a PostgreSQL UTF8 database
    refuses them on the way in."""
    return not is_postgres(db)


def copy_file_into(source, target) -> None:
    """Replace the content of the SQLite database `target` with that of `source`, page by page
    inside SQLite's locking: other readers see the old or the new content, never a mix."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target, timeout=5)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def invalid_utf8_text(db, table: str, column: str) -> list[tuple[int, bytes]]:
    """(rowid, raw bytes) of the TEXT values of a column (SQLite keeps whatever bytes another
    program wrote); the caller decodes them."""
    return db.execute_sql(f'SELECT rowid, CAST("{column}" AS BLOB) FROM "{table}" '
                          f'WHERE typeof("{column}") = \'text\'').fetchall()


def non_ascii_values(db, table: str, names: list[str]) -> list[tuple]:
    """(id, raw bytes of each column) of the rows with a byte outside ASCII in any of `names`."""
    non_ascii = "GLOB ('*[^' || char(1) || '-' || char(127) || ']*')"
    blobs = ", ".join(f'CAST("{n}" AS BLOB)' for n in names)
    where = " OR ".join(f'(typeof("{n}") = \'text\' AND "{n}" {non_ascii})' for n in names)
    return db.execute_sql(f'SELECT id, {blobs} FROM "{table}" WHERE {where}').fetchall()


def raw_value(db, table: str, column: str, record_id: int) -> bytes:
    return bytes(db.execute_sql(f'SELECT CAST("{column}" AS BLOB) FROM "{table}" WHERE id = ?',
                                (record_id,)).fetchone()[0])


def set_text_by_rowid(db, table: str, column: str, rowid: int, text: str) -> None:
    db.execute_sql(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?', (text, rowid))


# -- text that is not UTF-8 ------------------------------------------------------------------

def is_decode_error(exc: BaseException) -> bool:
    """sqlite3 met a TEXT value that is not valid UTF-8 (a file written by another program)."""
    return "could not decode to utf-8" in str(exc).lower()


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def tolerate_invalid_utf8(db) -> None:
    """From now on read text that is not valid UTF-8 with U+FFFD in place of the bad bytes, on this
    connection and any the database opens later (per thread), instead of failing every query.
    Only switched on when such text is met: the default text decoding is faster."""
    if getattr(db, "_lenient_utf8", False):
        return
    original = db._add_conn_hooks

    def hooks(conn) -> None:
        original(conn)
        conn.text_factory = _lenient_text

    db._add_conn_hooks = hooks
    db._lenient_utf8 = True
    if not db.is_closed():
        db.connection().text_factory = _lenient_text


# -- scratch tables ---------------------------------------------------------------------------

def scratch_table(db, name: str, columns: str) -> None:
    """An empty per-connection temp table for set-based work (merge, deletion, undo). It is
    created once and emptied with DELETE, never dropped: DROP TABLE fails with "database table is
    locked" while any statement of the connection is still pending (a fetched-but-not-reset
    SELECT), which inside a write would roll the whole operation back. Refer to it by its bare
    name (SQLite looks in temp first; PostgreSQL in the session's pg_temp)."""
    if is_postgres(db):
        columns = columns.replace("INTEGER", "BIGINT")
        db.execute_sql(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns})")
        db.execute_sql(f"DELETE FROM {name}")
        return
    db.execute_sql(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns})")
    db.execute_sql(f"DELETE FROM {name}")


def flag_set(column):
    """A yes/no column as a condition: bare on SQLite (as the reports' partial index names it),
    `= 1` on PostgreSQL, whose WHERE takes no integer (yes/no columns are 0/1 there too)."""
    return (column == 1) if is_postgres(column.model._meta.database) else column


def period_bucket(column, period: str):
    """A date or datetime column (ISO text) as the first day of its period, as text: the day
    (2026-11-29), the Monday of its week, the month (2026-11), the quarter (2026-Q4) or the year."""
    from peewee import Cast, fn

    if period == "week" and is_postgres(column.model._meta.database):
        return fn.to_char(fn.date_trunc("week", Cast(fn.substr(column, 1, 10), "DATE")), "YYYY-MM-DD")
    if period == "day":
        return fn.substr(column, 1, 10)
    if period == "week":
        # SQLite: 'weekday 0' moves forward to Sunday (or stays), 6 days back is that week's Monday
        return fn.date(fn.substr(column, 1, 10), "weekday 0", "-6 days")
    if period == "month":
        return fn.substr(column, 1, 7)
    if period == "quarter":
        month = Cast(fn.substr(column, 6, 2), "INTEGER")
        return fn.substr(column, 1, 4).concat("-Q").concat(Cast((month + 2) / 3, "TEXT"))
    if period == "year":
        return fn.substr(column, 1, 4)
    raise ValueError(period)


def fts_optimize(db, object_name: str) -> None:
    """Merge the search index's segments into one: a deleted row's words leave the index only
    when the segments that held them are rewritten (FTS5 before 3.44 has no secure-delete)."""
    if is_postgres(db):
        return  # the search vector is a column of the row: it went with the row
    table = fts_table(object_name)
    db.execute_sql(f'INSERT INTO "{table}"("{table}") VALUES (\'optimize\')')


def checkpoint_truncate(db) -> None:
    """Copy the write-ahead log into the file and cut it to nothing, so that no old page image
    (an erased record's text) stays in the -wal file. Skipped quietly while readers hold it."""
    if is_postgres(db):
        return  # a server's dead rows are reclaimed by its VACUUM (autovacuum), not by a client
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def null_if_blank(db) -> bool:
    """Whether a bulk insert may bind "" for "no value" and have the statement store NULL
    (NULLIF(?, ''), which SQLite's loose typing allows in a column of any type)."""
    from peewee import SqliteDatabase

    return isinstance(db, SqliteDatabase)
