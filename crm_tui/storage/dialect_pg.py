"""The PostgreSQL side of the dialect boundary (the team database).

`crm_tui/storage/dialect.py` keeps the SQLite implementation and dispatches here when the database is a
`CrmPostgresqlDatabase`. The rest of the core writes one SQL text for both engines:

- placeholders are written `?` (SQLite's style); this database's cursor turns them into psycopg's
  `%s` (and a literal `%` into `%%`) for every statement that Peewee did not generate itself;
- yes/no columns are SMALLINT 0/1 on both engines, so `is_primary = 1` and `SUM(is_primary)` read
  the same everywhere; whole numbers are BIGINT (record ids up to 2^63-1) and floats are DOUBLE
  PRECISION (SQLite's REAL is 8 bytes);
- full-text search is a table `fts_<object>(rowid, body, tsv)` with a GIN index on a generated
  tsvector, searched with a prefix tsquery (`'ann':* & 'smi':*`) as you type;
- the association counts are kept by PL/pgSQL triggers;
- the schema version lives in a one-row table instead of SQLite's header.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from peewee import PostgresqlDatabase, __exception_wrapper__

SCHEMES = ("postgresql", "postgres")
_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def looks_like_url(value: str) -> bool:
    """`scheme://...`: a database URL, never a file name (`mysql://x` is refused, not created)."""
    return bool(_URL_LIKE.match(str(value)))


def is_postgres_url(value: str) -> bool:
    return looks_like_url(value) and str(value).split("://", 1)[0].lower() in SCHEMES


def redacted(url: str) -> str:
    """The URL as shown in messages: a password never reaches the screen or a log."""
    parts = urlsplit(str(url))
    if parts.password is None:
        return str(url)
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def connect_params(url: str) -> tuple[str, dict]:
    """(database name, psycopg2 keyword arguments) of a postgresql:// URL."""
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ValueError(f"{redacted(url)}: the URL names no database (postgresql://user@host:port/dbname)")
    params: dict = {}
    if parts.username:
        params["user"] = unquote(parts.username)
    if parts.password:
        params["password"] = unquote(parts.password)
    if parts.hostname:
        params["host"] = parts.hostname
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{redacted(url)}: the port is not a number") from None
    if port:
        params["port"] = port
    for item in filter(None, parts.query.split("&")):
        key, _, value = item.partition("=")
        params[unquote(key)] = unquote(value)
    return name, params


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """SQLite-style `?` placeholders -> psycopg's `%s`, a literal `%` -> `%%`; text Peewee generated
    (it already speaks `%s`) is left alone. `?` inside quotes stays a question mark."""
    if "%s" in sql or ("?" not in sql and "%" not in sql):
        return sql
    out = []
    quote = None
    for ch in sql:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        if ch == "%":
            out.append("%%")
            continue
        out.append(ch)
    return "".join(out)


# -- bulk inserts by COPY ----------------------------------------------------------------------

_PLAIN_INSERT = re.compile(
    r'^\s*INSERT\s+INTO\s+("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s*\(([^()]*)\)\s*VALUES\s*'
    r'\((\s*%s\s*(?:,\s*%s\s*)*)\)\s*(?:RETURNING\s+[^;()]*)?;?\s*$', re.IGNORECASE)
COPY_CHUNK = 20_000  # rows per COPY statement: memory stays flat on a streamed million


@lru_cache(maxsize=256)
def copy_statement(sql: str) -> str | None:
    """`COPY table (columns) FROM STDIN` for a plain `INSERT INTO table (columns) VALUES (%s, ...)`
    (a RETURNING clause, which executemany never reads, dropped); None for anything else (ON
    CONFLICT, expressions, INSERT ... SELECT), which keeps the statement."""
    match = _PLAIN_INSERT.match(sql)
    if match is None:
        return None
    columns = [c.strip() for c in match.group(2).split(",")]
    if len(columns) != match.group(3).count("%s"):
        return None
    return f"COPY {match.group(1)} ({', '.join(columns)}) FROM STDIN"


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    return value.translate(_ESCAPES)


def _number(value) -> str:
    return str(value)


def _flag(value: bool) -> str:
    return "1" if value else "0"  # yes/no columns are SMALLINT (see _register_adapters)


_COPY_FORMATS = {str: _text, int: _number, float: repr, bool: _flag}


def copy_rows(cursor, copy: str, rows):
    """Write `rows` with COPY in chunks of COPY_CHUNK rows (text format: tab-separated, `\\N` for
    NULL, backslash escapes). Returns None when all went by COPY, or the rows not yet written (an
    iterable) when a value of a type COPY's text format is not given here (bytes, dates...): the
    caller inserts those the ordinary way. The transaction sees the same rows either way; a
    failing row fails the whole statement, as the INSERTs would."""
    import io
    from itertools import chain

    formats = _COPY_FORMATS
    rows = iter(rows)
    while True:
        lines = []
        for row in rows:
            try:
                # the common case first: plain strings and numbers, escaped below only if needed
                values = ["\\N" if v is None else v if (kind := type(v)) is str else str(v) if kind is int
                          else formats[kind](v) for v in row]
            except KeyError:  # a value COPY text is not made for here: the rest as INSERTs
                if lines:
                    cursor.copy_expert(copy, io.StringIO("\n".join(lines) + "\n"))
                return chain([row], rows)
            line = "\t".join(values)
            if (line.count("\\") != row.count(None) or line.count("\t") != len(values) - 1
                    or "\n" in line or "\r" in line):
                # a value holds a backslash (the NULLs' \N aside), a tab or a newline: escape each value
                line = "\t".join("\\N" if v is None else formats[type(v)](v) for v in row)
            lines.append(line)
            if len(lines) >= COPY_CHUNK:
                break
        if lines:
            cursor.copy_expert(copy, io.StringIO("\n".join(lines) + "\n"))
        if len(lines) < COPY_CHUNK:
            return None


class _Cursor:
    """A psycopg2 cursor that takes the core's SQL text (see `translate`)."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor):
        self._cursor = cursor

    def execute(self, sql, params=None):
        with __exception_wrapper__:  # the driver's errors as Peewee's (IntegrityError, ...)
            self._cursor.execute(translate(sql), params)
        return self  # as sqlite3's cursor does: cursor.execute(...).fetchall()

    def executemany(self, sql, rows):
        from psycopg2.extras import execute_batch

        sql = translate(sql)
        copy = copy_statement(sql)
        with __exception_wrapper__:
            if copy is not None:  # a plain INSERT of bound values: one COPY per chunk of rows
                rows = copy_rows(self._cursor, copy, rows)
            if rows is not None:  # many statements per round trip instead of one each
                execute_batch(self._cursor, sql, rows, page_size=500)
        return self

    def __iter__(self):
        return iter(self._cursor)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


def _register_adapters() -> None:
    import psycopg2.extensions as ext

    # yes/no values are 0/1 integers, as on SQLite (see the module docstring)
    ext.register_adapter(bool, lambda value: ext.AsIs("1" if value else "0"))


class CrmPostgresqlDatabase(PostgresqlDatabase):
    dialect_name = "postgresql"
    field_types = {
        **PostgresqlDatabase.field_types,
        "AUTO": "BIGSERIAL",
        "BIGAUTO": "BIGSERIAL",
        "INT": "BIGINT",
        "BOOL": "SMALLINT",
        "FLOAT": "DOUBLE PRECISION",
    }

    def __init__(self, url: str, **kwargs):
        name, params = connect_params(url)
        params.setdefault("connect_timeout", 10)
        self.url = url
        _register_adapters()
        super().__init__(name, **params, **kwargs)

    def cursor(self, named_cursor=None):
        return _Cursor(super().cursor(named_cursor))


# -- schema version (SQLite keeps it in the file header) -------------------------------------

META_TABLE = "crm_tui_schema"


def read_version(db) -> tuple[int | None, int]:
    """(application id, schema version) of the database, (None, 0) when it has no tables at all,
    (0, 0) when it has tables but none of ours."""
    tables = db.get_tables()
    if META_TABLE not in tables:
        return (None, 0) if not tables else (0, 0)
    row = db.execute_sql(f"SELECT application_id, version FROM {META_TABLE}").fetchone()
    return (row[0], row[1]) if row else (0, 0)


def write_version(db, application_id: int, version: int) -> None:
    db.execute_sql(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (application_id BIGINT NOT NULL, version INTEGER NOT NULL)")
    db.execute_sql(f"DELETE FROM {META_TABLE}")
    db.execute_sql(f"INSERT INTO {META_TABLE} (application_id, version) VALUES (?, ?)", (application_id, version))


def create_functions(db) -> None:
    """SQL functions the core's portable SQL uses that PostgreSQL names differently."""
    db.execute_sql("CREATE OR REPLACE FUNCTION instr(haystack TEXT, needle TEXT) RETURNS INTEGER "
                   "LANGUAGE sql IMMUTABLE AS 'SELECT strpos(haystack, needle)'")


# -- history rows point at their operation ----------------------------------------------------

HISTORY_TABLES = ("property_change", "association_change", "meta_change")


def create_history_key_checks(db) -> None:
    """The history tables' `op_id` checked against `operation` once per statement instead of by a
    foreign key, whose check is a row-level trigger (a lookup and a row lock per history row: 0.3 s
    of every 100k links an import writes). The statement's distinct operations are locked FOR KEY
    SHARE, as the foreign key would, so a concurrent deletion of one waits; a missing one fails the
    statement with SQLSTATE 23503 like the key. Deleting operations deletes their history rows (the
    key's ON DELETE CASCADE), once per statement. Idempotent (schema version 15)."""
    db.execute_sql(
        "CREATE OR REPLACE FUNCTION history_op_check() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE wanted BIGINT; found BIGINT; BEGIN "
        "SELECT count(DISTINCT op_id) INTO wanted FROM added; "
        "WITH locked AS (SELECT id FROM operation WHERE id IN (SELECT op_id FROM added) ORDER BY id FOR KEY SHARE) "
        "SELECT count(*) INTO found FROM locked; "
        "IF found <> wanted THEN RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', "
        "MESSAGE = TG_TABLE_NAME || ' points at an operation that does not exist'; END IF; "
        "RETURN NULL; END $$")
    cascade = " ".join(f"DELETE FROM {table} WHERE op_id IN (SELECT id FROM removed);" for table in HISTORY_TABLES)
    db.execute_sql("CREATE OR REPLACE FUNCTION history_op_cascade() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                   f"{cascade} RETURN NULL; END $$")
    have = {name for (name,) in db.execute_sql(
        "SELECT tgname FROM pg_trigger WHERE tgrelid IN (SELECT to_regclass(t) FROM unnest(?::text[]) t)",
        (["operation", *HISTORY_TABLES],)).fetchall()}
    for table in HISTORY_TABLES:
        for (key,) in db.execute_sql("SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = to_regclass(?) "
                                     "AND confrelid = to_regclass('operation')", (table,)).fetchall():
            db.execute_sql("SET CONSTRAINTS ALL IMMEDIATE")  # a copy's deferred checks run now: none left pending
            db.execute_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{key}"')
        for event, name in (("INSERT", f"{table}_op_insert"), ("UPDATE", f"{table}_op_update")):
            if name not in have:
                db.execute_sql(f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING NEW TABLE AS added "
                               "FOR EACH STATEMENT EXECUTE FUNCTION history_op_check()")
    if "operation_history_cascade" not in have:
        db.execute_sql("CREATE TRIGGER operation_history_cascade AFTER DELETE ON operation REFERENCING OLD TABLE AS "
                       "removed FOR EACH STATEMENT EXECUTE FUNCTION history_op_cascade()")


# -- association counts ----------------------------------------------------------------------

def create_count_triggers(db) -> None:
    """association_count kept by statement-level triggers over the statement's transition table:
    one aggregated upsert per statement (a bulk load of 200k edges is one GROUP BY, not 200k
    upserts), keys taken in order so that two writers lock them in the same order. A database made
    with the row-level triggers of before gets these instead (schema version 14)."""
    if db.execute_sql("SELECT 1 FROM pg_trigger WHERE tgname = 'association_counts_insert'").fetchone():
        return
    db.execute_sql(
        "CREATE OR REPLACE FUNCTION association_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "INSERT INTO association_count(from_object, from_id, to_object, n) "
        "SELECT from_object, from_id, to_object, count(*) FROM added GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 "
        "ON CONFLICT (from_object, from_id, to_object) DO UPDATE SET n = association_count.n + excluded.n; "
        "RETURN NULL; END $$")
    db.execute_sql(
        "CREATE OR REPLACE FUNCTION association_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE association_count c SET n = c.n - d.k FROM (SELECT from_object, from_id, to_object, "
        "count(*) AS k FROM removed GROUP BY 1, 2, 3 ORDER BY 1, 2, 3) d WHERE c.from_object = d.from_object "
        "AND c.from_id = d.from_id AND c.to_object = d.to_object; "
        "DELETE FROM association_count c USING (SELECT DISTINCT from_object, from_id, to_object FROM removed) d "
        "WHERE c.from_object = d.from_object AND c.from_id = d.from_id AND c.to_object = d.to_object "
        "AND c.n <= 0; RETURN NULL; END $$")
    for old in ("association_count_insert", "association_count_delete"):  # the row-level ones of before
        db.execute_sql(f"DROP TRIGGER IF EXISTS {old} ON association")
        db.execute_sql(f"DROP FUNCTION IF EXISTS {old}()")
    db.execute_sql("CREATE TRIGGER association_counts_insert AFTER INSERT ON association "
                   "REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION association_counts_insert()")
    db.execute_sql("CREATE TRIGGER association_counts_delete AFTER DELETE ON association "
                   "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION association_counts_delete()")


# -- rows of a record table, kept (COUNT(*) of a million rows is ~50 ms on PostgreSQL) ----------

TALLY_TABLE = "record_tally"
TALLY_COMPACT = 64  # more rows than this for one table: the next reader sums them into one


def create_row_tally(db, table: str) -> None:
    """Keep the number of rows of a record table (live and deleted: a soft deletion changes no
    total) as rows of +n/-n in `record_tally`, one per INSERT/DELETE statement, written by
    statement-level triggers. Appending instead of updating one row means two writers never wait
    for each other on it. Idempotent; the table's present rows are counted when the triggers are
    made (which locks out writers of the table until the transaction commits)."""
    db.execute_sql(f"CREATE TABLE IF NOT EXISTS {TALLY_TABLE} (tbl TEXT NOT NULL, n BIGINT NOT NULL)")
    db.execute_sql(f"CREATE INDEX IF NOT EXISTS ix_{TALLY_TABLE}_tbl ON {TALLY_TABLE} (tbl)")
    if db.execute_sql("SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(?) AND tgname = 'record_tally_insert'",
                      (f'"{table}"',)).fetchone():
        return
    db.execute_sql(
        "CREATE OR REPLACE FUNCTION record_tally_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO {TALLY_TABLE}(tbl, n) SELECT TG_TABLE_NAME, count(*) FROM added HAVING count(*) > 0; "
        "RETURN NULL; END $$")
    db.execute_sql(
        "CREATE OR REPLACE FUNCTION record_tally_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"INSERT INTO {TALLY_TABLE}(tbl, n) SELECT TG_TABLE_NAME, -count(*) FROM removed HAVING count(*) > 0; "
        "RETURN NULL; END $$")
    db.execute_sql(
        "CREATE OR REPLACE FUNCTION record_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"DELETE FROM {TALLY_TABLE} WHERE tbl = TG_TABLE_NAME; INSERT INTO {TALLY_TABLE}(tbl, n) "
        "VALUES (TG_TABLE_NAME, 0); RETURN NULL; END $$")
    db.execute_sql(f'CREATE TRIGGER record_tally_insert AFTER INSERT ON "{table}" REFERENCING NEW TABLE AS added '
                   "FOR EACH STATEMENT EXECUTE FUNCTION record_tally_insert()")
    db.execute_sql(f'CREATE TRIGGER record_tally_delete AFTER DELETE ON "{table}" REFERENCING OLD TABLE AS removed '
                   "FOR EACH STATEMENT EXECUTE FUNCTION record_tally_delete()")
    db.execute_sql(f'CREATE TRIGGER record_tally_truncate AFTER TRUNCATE ON "{table}" '
                   "FOR EACH STATEMENT EXECUTE FUNCTION record_tally_truncate()")
    # rows of a table of the same name dropped before are not this table's
    db.execute_sql(f"DELETE FROM {TALLY_TABLE} WHERE tbl = ?", (table,))
    db.execute_sql(f'INSERT INTO {TALLY_TABLE}(tbl, n) SELECT ?, count(*) FROM "{table}"', (table,))


def kept_row_count(db, table: str) -> int | None:
    """All rows of a record table (live and deleted) from its tally; None when the table has none
    (made by another program without it: the caller counts). Outside a transaction, a tally grown
    past TALLY_COMPACT rows is summed into one row (rows other writers add meanwhile stay)."""
    if not db.__dict__.get("crm_has_tally"):  # only a present tally is remembered
        if db.execute_sql("SELECT to_regclass(?)", (TALLY_TABLE,)).fetchone()[0] is None:
            return None  # made by an earlier build of schema 14: the caller counts
        db.crm_has_tally = True
    rows, total = db.execute_sql(f"SELECT count(*), sum(n) FROM {TALLY_TABLE} WHERE tbl = ?", (table,)).fetchone()
    if not rows:
        return None
    if rows > TALLY_COMPACT and not db.in_transaction():
        try:
            with db.atomic():
                db.execute_sql(f"WITH gone AS (DELETE FROM {TALLY_TABLE} WHERE tbl = ? RETURNING n) "
                               f"INSERT INTO {TALLY_TABLE}(tbl, n) SELECT ?, sum(n) FROM gone HAVING count(*) > 0",
                               (table, table))
        except Exception:  # noqa: BLE001 - a read-only session: the sum is right anyway, only longer
            pass
    return int(total)


def tally_out_of_step(db, table: str) -> tuple[int, int] | None:
    """(kept, counted) when the row tally of `table` disagrees with a count of its rows (doctor);
    None when they agree or the table keeps none. Both read by one statement: one snapshot, so
    other members' writes meanwhile make no false alarm."""
    if kept_row_count(db, table) is None:  # also sums a long tally into one row first
        return None
    kept, counted = db.execute_sql(f'SELECT (SELECT sum(n) FROM {TALLY_TABLE} WHERE tbl = ?), '
                                   f'(SELECT count(*) FROM "{table}")', (table,)).fetchone()
    return None if int(kept) == int(counted) else (int(kept), int(counted))


def reset_tally(db, table: str) -> None:
    """The tally of `table` replaced by one row holding a count of its rows (doctor --repair); the
    table is locked against writers for the moment, so no statement's +n/-n is lost."""
    db.execute_sql(f'LOCK TABLE "{table}" IN SHARE MODE')
    db.execute_sql(f"DELETE FROM {TALLY_TABLE} WHERE tbl = ?", (table,))
    db.execute_sql(f'INSERT INTO {TALLY_TABLE}(tbl, n) SELECT ?, count(*) FROM "{table}"', (table,))


# -- full-text search -------------------------------------------------------------------------

def create_fts(db, table: str) -> None:
    db.execute_sql(
        f'CREATE TABLE IF NOT EXISTS "{table}" (rowid BIGINT PRIMARY KEY, body TEXT NOT NULL, '
        "tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', "
        # words as SQLite's unicode61 tokenizer cuts them: ann@acme.example is ann, acme, example
        "regexp_replace(body, '[^[:alnum:]-]+', ' ', 'g'))) STORED)")
    db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{table}_tsv" ON "{table}" USING gin (tsv)')
    create_word_index(db, table)


def words_table(fts: str) -> str:
    return f"{fts}_words"


def create_word_index(db, fts: str) -> None:
    """Each word of the search index once per record, in a b-tree (`fts_<object>_words`), kept by
    statement-level triggers on the search table. A prefix typed into `/` is a range of that
    b-tree read in order and cut at the screen's limit (~0.1 ms at a million contacts), where the
    GIN index must first gather every match of every word with that prefix into a bitmap (a
    3-letter prefix: thousands of words, 15k-40k records, 15-30 ms). Filled from the search table
    when made (a database from before schema version 14)."""
    words = words_table(fts)
    exists = db.execute_sql("SELECT to_regclass(?)", (f'"{words}"',)).fetchone()[0] is not None
    if not exists:
        db.execute_sql(f'CREATE TABLE "{words}" (word TEXT COLLATE "C" NOT NULL, rowid BIGINT NOT NULL)')
        db.execute_sql(f'INSERT INTO "{words}" (word, rowid) SELECT unnest(tsvector_to_array(tsv)), rowid '
                       f'FROM "{fts}"')
        db.execute_sql(f'CREATE INDEX "{words}_word" ON "{words}" (word, rowid)')
    if db.execute_sql("SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(?) AND tgname = 'fts_words_insert'",
                      (f'"{fts}"',)).fetchone():
        return
    add = ("INSERT INTO %I (word, rowid) SELECT unnest(tsvector_to_array(tsv)), rowid FROM added")
    remove = ("DELETE FROM %I w USING (SELECT unnest(tsvector_to_array(tsv)) AS word, rowid FROM removed) o "
              "WHERE w.word = o.word AND w.rowid = o.rowid")
    for name, body in (("fts_words_insert", [add]), ("fts_words_delete", [remove]),
                       ("fts_words_update", [remove, add])):
        steps = " ".join(f"EXECUTE format('{sql.replace(chr(39), chr(39) * 2)}', TG_TABLE_NAME || '_words');"
                         for sql in body)
        db.execute_sql(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                       f"{steps} RETURN NULL; END $$")
    db.execute_sql(f'CREATE TRIGGER fts_words_insert AFTER INSERT ON "{fts}" REFERENCING NEW TABLE AS added '
                   "FOR EACH STATEMENT EXECUTE FUNCTION fts_words_insert()")
    db.execute_sql(f'CREATE TRIGGER fts_words_delete AFTER DELETE ON "{fts}" REFERENCING OLD TABLE AS removed '
                   "FOR EACH STATEMENT EXECUTE FUNCTION fts_words_delete()")
    db.execute_sql(f'CREATE TRIGGER fts_words_update AFTER UPDATE ON "{fts}" REFERENCING OLD TABLE AS removed '
                   "NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION fts_words_update()")


def words_out_of_step(db, fts: str) -> int:
    """How many entries the word index of `fts` has more or fewer than the words of the search
    table (0: in step, or no word index). Counts, not a comparison of the rows themselves: two
    scans (~1 s at a million records) where a comparison would sort ten million words (doctor)."""
    if not _has_word_index(db, fts):
        return 0
    entries, words = db.execute_sql(f'SELECT (SELECT count(*) FROM "{words_table(fts)}"), '
                                    f'(SELECT COALESCE(sum(length(tsv)), 0) FROM "{fts}")').fetchone()  # one snapshot
    return abs(int(entries) - int(words))


def rebuild_word_index(db, fts: str) -> None:
    """The word index of `fts` made afresh from the search table (doctor --repair)."""
    db.__dict__.get("crm_word_indexes", set()).discard(fts)
    db.execute_sql(f'LOCK TABLE "{fts}" IN SHARE MODE')  # writers wait: no word written meanwhile is lost
    db.execute_sql(f'DROP TABLE IF EXISTS "{words_table(fts)}"')
    create_word_index(db, fts)


def _has_word_index(db, fts: str) -> bool:
    known = db.__dict__.setdefault("crm_word_indexes", set())  # only a present one is remembered
    if fts not in known:
        if db.execute_sql("SELECT to_regclass(?)", (f'"{words_table(fts)}"',)).fetchone()[0] is None:
            return False
        known.add(fts)
    return True


def drop_fts(db, fts: str) -> None:
    db.__dict__.get("crm_word_indexes", set()).discard(fts)
    db.execute_sql(f'DROP TABLE IF EXISTS "{fts}"')
    db.execute_sql(f'DROP TABLE IF EXISTS "{words_table(fts)}"')


def first_matches(db, fts: str, terms: list[str], limit: int) -> list[int] | None:
    """Ids of the first `limit` records with a word starting with each term typed, in word order,
    from the word b-tree; None when the GIN index should answer (no word index, or several terms
    whose candidates ran out of the bounded scan). Read in pages of 2 x limit by keyset: a record
    with two such words comes once. With several terms the longest one's range is walked (the
    narrowest) and each candidate is checked against the whole query on its tsvector."""
    terms = [t for t in terms if t]
    if not terms:
        return None
    if not _has_word_index(db, fts):  # made by an earlier build of schema 14: the GIN index answers
        return None
    scan = max(terms, key=len)
    prefix = scan.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    words = words_table(fts)
    query = fts_match_expression(terms) if len(terms) > 1 else None
    if query is None:
        select = f'SELECT w.word, w.rowid, TRUE FROM "{words}" w'
        params: tuple = ()
    else:  # the other words checked on each candidate's tsvector
        select = f'SELECT w.word, w.rowid, f.tsv @@ to_tsquery(\'simple\', ?) FROM "{words}" w JOIN "{fts}" f ON f.rowid = w.rowid'
        params = (query,)
    ids: dict[int, None] = {}
    after: tuple = ()
    page = 2 * limit
    budget = MULTI_WORD_PAGES * page if query is not None else None
    scanned = 0
    while True:
        keyset = " AND (w.word, w.rowid) > (?, ?)" if after else ""
        rows = db.execute_sql(f"{select} WHERE w.word LIKE ?{keyset} ORDER BY w.word, w.rowid LIMIT ?",
                              (*params, prefix, *after, page)).fetchall()
        for _word, rowid, ok in rows:
            if ok:
                ids[rowid] = None
        if len(ids) >= limit or len(rows) < page:
            return list(ids)[:limit]
        scanned += len(rows)
        if budget is not None and (not ids or (limit - len(ids)) * scanned / len(ids) > budget - scanned):
            # at the rate found so far the budget runs out first (say 'kai na': 6 of 400
            # candidates match): the GIN index at once, not after walking the whole budget
            return None
        after = tuple(rows[-1][:2])


MULTI_WORD_PAGES = 10  # candidates walked (x 2 x limit) before several words go to the GIN index


def fts_match_expression(words: list[str]) -> str | None:
    """Prefix-match every word: `ann smi` -> `'ann':* & 'smi':*` (a tsquery)."""
    terms = []
    for word in words:
        for part in word.lower().split("-"):  # the simple parser splits hyphenated words too
            if part:
                terms.append("'" + part.replace("'", "''").replace("\\", "\\\\") + "':*")
    return " & ".join(terms) if terms else None


def fts_search_sql(fts: str, record_table: str) -> str:
    return (
        f"SELECT f.rowid FROM \"{fts}\" f JOIN \"{record_table}\" r ON r.id = f.rowid, "
        f"(SELECT to_tsquery('simple', ?) AS q) x "
        f"WHERE f.tsv @@ x.q AND r.deleted_at IS NULL ORDER BY ts_rank(f.tsv, x.q) DESC, f.rowid LIMIT ?")


def fts_unranked_sql(fts: str) -> str:
    return f"SELECT rowid FROM \"{fts}\" WHERE tsv @@ to_tsquery('simple', ?) LIMIT ?"


# -- errors ---------------------------------------------------------------------------------

def sqlstate(exc: BaseException) -> str | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        code = getattr(exc, "pgcode", None)
        if code:
            return code
        for arg in getattr(exc, "args", ()):
            code = getattr(arg, "pgcode", None)
            if code:
                return code
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return None


def is_retryable(exc: BaseException) -> bool:
    """A serialisation failure or a deadlock: the transaction may succeed when run again."""
    return sqlstate(exc) in ("40001", "40P01")


# -- ids ------------------------------------------------------------------------------------

def last_issued_id(db, table: str, *, sequence_only: bool = False) -> int:
    """The last id the table's sequence handed out (0 before the first), or the larger of that and
    MAX(id) (rows copied in with their ids)."""
    row = db.execute_sql(
        "SELECT pg_get_serial_sequence(?, 'id')", (f'"{table}"',)).fetchone()
    issued = 0
    if row and row[0]:
        last, called = db.execute_sql(f"SELECT last_value, is_called FROM {row[0]}").fetchone()
        issued = last if called else last - 1
    if sequence_only:
        return issued
    top = db.execute_sql(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"').fetchone()[0]
    if row and row[0] and top > issued:  # rows came in with their ids (a copy): the next id follows them
        db.execute_sql("SELECT setval(?, ?)", (row[0], top))
    return max(issued, top)


def set_last_issued_id(db, table: str, value: int) -> None:
    """The table's sequence hands out ids above `value` from now on (never goes back)."""
    row = db.execute_sql("SELECT pg_get_serial_sequence(?, 'id')", (f'"{table}"',)).fetchone()
    if row and row[0] and value:
        db.execute_sql(f"SELECT setval(?, GREATEST(?, (SELECT last_value FROM {row[0]})))", (row[0], value))


def defer_foreign_keys(db) -> None:
    """For this transaction, rows may point at rows written later in it (a copy's paired labels):
    the foreign keys are made deferrable once and checked at commit."""
    for (name, table) in db.execute_sql(
            "SELECT conname, conrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND NOT condeferrable AND connamespace = current_schema()::regnamespace").fetchall():
        db.execute_sql(f'ALTER TABLE {table} ALTER CONSTRAINT "{name}" DEFERRABLE INITIALLY IMMEDIATE')
    db.execute_sql("SET CONSTRAINTS ALL DEFERRED")


def sync_sequences(db) -> None:
    """Every id sequence of the schema past the highest id its table holds (rows written with
    their ids, as a copy writes them, leave the sequence behind)."""
    for table, sequence in db.execute_sql(
            "SELECT c.relname, pg_get_serial_sequence(quote_ident(c.relname), 'id') FROM pg_class c "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id' "
            "WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace").fetchall():
        if sequence:
            db.execute_sql(f'SELECT setval(?, (SELECT MAX(id) FROM "{table}")) '
                           f'WHERE EXISTS (SELECT 1 FROM "{table}")', (sequence,))
