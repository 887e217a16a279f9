"""The Crm context: one open database and the services screens and the command line call.

    crm = Crm.open("crm.db")
    crm.records.create("contacts", {"email": "ann@acme.com"}, source=sources.USER)
    crm.assoc.add(("contacts", 1), ("companies", 1))

Services return plain values (dataclasses, dicts, tuples), never live ORM objects.
"""

from __future__ import annotations

import getpass
import json
import os
import threading
from contextlib import contextmanager, nullcontext
from functools import cached_property
from pathlib import Path

from ..storage import db as dbmod
from ..storage import dialect
from ..domain import sources
from ..storage.engine import Registry, freemail_domains, load_yaml_resource
from ..domain.errors import CrmError, DatabaseProblem
from ..storage.models import Operation
from ..domain.types import now_iso
from .associations import Associations
from .records import Records

DEFAULT_SETTINGS = {
    "auto_associate_by_domain": True,
    "engagement_cap": 10000,
    # Logging an activity on a record of the key object also links it to these associated records.
    "activity_rules": {
        "contacts": ["companies:primary", "deals:open"],
        "companies": [],
        "deals": [],
        "tickets": [],
    },
    "lifecycle_opportunity_on_deal": True,
    "lifecycle_customer_on_won": True,
    "set_close_date": True,
}


class OperationStack(threading.local):
    """The operations open in this thread: a worker thread's bulk change must not become the child
    of whatever the UI thread is doing at the same moment."""

    def __init__(self):
        self.items: list[Operation] = []

    def append(self, op: Operation) -> None:
        self.items.append(op)

    def pop(self) -> Operation:
        return self.items.pop()

    def __getitem__(self, index):
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def default_user_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "me"


class Crm:
    # How values are shown and the view an index opens with; config.apply_to sets them from the config
    date_format = "%Y-%m-%d"
    datetime_format = "%Y-%m-%d %H:%M"
    default_views: dict[str, str] = {}

    def __init__(self, database, path: Path, *, readonly: bool = False, user_name: str | None = None):
        self.db = database
        self.path = path
        self.readonly = readonly
        self.user_name = user_name or default_user_name()
        self.session_id = os.urandom(6).hex()  # tells this program's own changes from others' (live.py)
        self.dayfirst = False
        self.registry = Registry(database)
        self.models = self.registry.models  # this database's model classes: crm.models.Operation, ...
        self.records = Records(self)
        self.assoc = Associations(self)
        self._ops = OperationStack()
        self._settings: dict | None = None
        self._freemail: frozenset[str] | None = None
        self._owners: dict[int, str] | None = None
        self.overrides: dict = {}  # settings from the config file win over the database's
        # Wrapped around a long call that runs only SQLite's C code (a bulk INSERT ... SELECT): a
        # bulk load sets it so that a helper thread can use the interpreter meanwhile.
        self.sqlite_only = nullcontext

    # Services an index screen does not need are built (and their modules imported) on first use.
    @cached_property
    def activities(self):
        from .activities import Activities  # lazy: a service loads when first used (start-up speed)

        return Activities(self)

    @cached_property
    def history(self):
        from .history import History  # lazy: a service loads when first used (start-up speed)

        return History(self)

    @cached_property
    def search(self):
        from .search import Search  # lazy: a service loads when first used (start-up speed)

        return Search(self)

    @cached_property
    def merger(self):
        from .merge import Merger  # lazy: a service loads when first used (start-up speed)

        return Merger(self)

    @cached_property
    def datamodel(self):
        from .datamodel import DataModel

        return DataModel(self)

    @cached_property
    def eraser(self):
        from .erase import Eraser

        return Eraser(self)

    @cached_property
    def tasks(self):
        from .tasks import Tasks  # lazy: a service loads when first used (start-up speed)

        return Tasks(self)

    @cached_property
    def duplicates(self):
        from .duplicates import Duplicates

        return Duplicates(self)

    @cached_property
    def reports(self):
        from .reports import Reports

        return Reports(self)

    @cached_property
    def workflows(self):
        from .workflows import Workflows  # lazy: a service loads when first used (start-up speed)

        return Workflows(self)

    @cached_property
    def journal(self):
        from .journal import Journal  # lazy: a service loads when first used (start-up speed)

        return Journal(self)

    @classmethod
    def open(cls, path: str | os.PathLike, *, create: bool = True, readonly: bool = False,
             user_name: str | None = None) -> "Crm":
        if dbmod.is_url(path):  # a server's database (the team database): crm.path is the URL shown
            database, is_new = dbmod.open_database(path, create=create, readonly=readonly)
            from ..storage.dialect_pg import redacted

            path = redacted(path)
        else:
            path = Path(path).expanduser()  # as open_database reads it: backups and helpers use crm.path
            if not readonly and path.exists() and not dbmod.writable(path):
                readonly = True  # a file the user may not write opens read-only instead of failing
            database, is_new = dbmod.open_database(path, create=create, readonly=readonly)
        crm = cls(database, path, readonly=readonly, user_name=user_name)
        try:
            if is_new:
                with database.atomic():
                    if dbmod.claim_new_schema(database):
                        dbmod.create_schema(database)
                        crm._seed_metadata()
            try:
                crm._after_open(readonly, is_new)
            except Exception as exc:
                if not dialect.is_missing_schema_error(exc) or not dbmod.schema_gaps(database):
                    raise
                crm._fill_schema_gaps(readonly)  # a developer's database that missed a step: once
                crm._after_open(readonly, is_new)
        except Exception as exc:
            database.close()
            if dialect.is_busy_error(exc):
                raise DatabaseProblem(f"{path}: database is locked by another program; try again when it is done") from None
            raise
        return crm

    def _after_open(self, readonly: bool, is_new: bool) -> None:
        self.registry.reload()
        if not readonly and not is_new:
            self._empty_expired_bin()
            self._run_due_workflows()

    def _fill_schema_gaps(self, readonly: bool) -> None:
        """Tables or columns of this schema version the database lacks (stamped by a build without
        a step in between): made, and said as a notice; a read-only database is refused in one line."""
        if readonly:
            gaps = dbmod.schema_gaps(self.db)
            named = ", ".join(table if column is None else f"{table}.{column}" for table, column in gaps[:5])
            raise DatabaseProblem(f"{self.path}: lacks {named} of its schema version; open it writable once "
                                  "(or run crm-tui doctor --repair) to add them")
        made = dbmod.fill_schema_gaps(self.db)  # one transaction, under the migrations' lock
        if made:
            dbmod.notices(self.db).append(f"the database lacked parts of its schema version; {'; '.join(made)}")

    @property
    def notices(self) -> list[str]:
        """What opening the database found that the user should know (db.notices)."""
        return dbmod.notices(self.db)

    def _empty_expired_bin(self) -> None:
        """The recycle bin's retention (`recycle_bin_days`, default 90): records deleted longer ago
        are erased when the database is opened for writing. A busy database leaves it for next time."""
        from ..storage import dialect

        try:
            self.eraser.purge_expired()
        except Exception as exc:
            if not (dialect.is_busy_error(exc) or isinstance(exc, DatabaseProblem)):
                raise

    def _run_due_workflows(self) -> None:
        """Date-triggered workflows catch up when the database is opened for writing (there is no
        server to run them on time). A busy database leaves them for next time."""
        from .workflows import has_due_workflows

        if not has_due_workflows(self.db):
            return
        from peewee import IntegrityError

        try:
            notes = self.workflows.run_due()
        except Exception as exc:  # busy, or another program fired the same triggers at the same moment
            if not (dialect.is_busy_error(exc) or isinstance(exc, (DatabaseProblem, IntegrityError))):
                raise
            return
        dbmod.notices(self.db).extend(notes)

    @property
    def freemail(self) -> frozenset[str]:
        if self._freemail is None:
            self._freemail = freemail_domains()
        return self._freemail

    def owner_name(self, owner_id) -> str:
        Owner = self.models.Owner
        if self._owners is None:
            self._owners = {o.id: o.name for o in Owner.select()}
        return self._owners.get(owner_id, f"#{owner_id}")

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- operations -------------------------------------------------------------------------

    @contextmanager
    def operation(self, kind: str, source: str, actor: str | None = None, *, object: str | None = None,
                  record_id: int | None = None, summary: dict | None = None, parent: int | None = None):
        """One transaction and one Operation row; history rows written inside point at it.

        Nested operations (a deletion's removed links, an automatic association) become child
        operations with their own source, inside the outer transaction. `parent` makes a separate
        transaction a child of an operation already committed (one batch of a long bulk change).
        """
        Operation = self.models.Operation
        if source not in sources.ALL:
            raise CrmError(f"unknown change source {source!r}")
        if self.readonly:
            raise DatabaseProblem(f"{self.path}: opened read-only (the file is not writable); nothing was saved")
        if source in (sources.USER, sources.API) and actor is None:
            actor = self.user_name  # who did it: on a team database, which team member
        try:
            with self.db.atomic():
                if parent is None and self._ops:
                    parent = self._ops[-1].id
                elif not self._ops and object is not None and record_id is not None:
                    # another writer's operation on the same record waits until this one commits
                    dialect.lock_record(self.db, object, record_id)
                op = Operation.create(kind=kind, source=source, actor=actor, at=now_iso(), object=object,
                                      record_id=record_id, summary=json.dumps(summary or {}), parent=parent)
                self._ops.append(op)
                try:
                    yield op
                finally:
                    self._ops.pop()
                if not self._ops:  # other team members' open apps hear of it when it commits
                    dialect.announce_change(self.db, self.session_id, op.id, object, record_id)
        except Exception as exc:
            # On a full disk (and some I/O errors) SQLite rolls the transaction back by itself, and
            # Peewee's own rollback then fails: report the error that caused it, not that one
            # (inside a nested atomic() the savepoint is gone with it: "no such savepoint").
            cause = exc
            while cause is not None and ("cannot rollback" in str(cause) or "no such savepoint" in str(cause)):
                cause = cause.__context__
            cause = cause if cause is not None else exc
            problem = self.database_problem(cause)
            if (problem is None and not self._ops and not isinstance(cause, CrmError)
                    and dialect.is_unique_race(self.db, cause)):
                problem = DatabaseProblem(f"{self.path}: someone else saved the same value at the same moment; "
                                          "nothing was saved, try again")
            if problem is not None:
                problem.retryable = dialect.is_postgres_conflict(cause) or dialect.is_unique_race(self.db, cause)
                raise problem from None
            if cause is not exc:
                raise cause from None
            raise

    def retrying(self, fn, *args, attempts: int = 3):
        """Run `fn(*args)` (one or more whole operations) again when another writer's transaction
        conflicted with it on the team database (a serialisation failure, a deadlock, a unique
        key taken at the same moment): each attempt rolled back whole, and the next one reads what
        the other writer committed. Anything else, or the last attempt's conflict, is raised."""
        import random
        import time

        for attempt in range(attempts):
            try:
                return fn(*args)
            except CrmError as exc:
                if not getattr(exc, "retryable", False) or attempt == attempts - 1 or self._ops:
                    raise
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))

    def database_problem(self, exc: BaseException) -> DatabaseProblem | None:
        """A busy, full, read-only or damaged database as one line the user can act on."""
        if isinstance(exc, CrmError):
            return None
        text = dialect.problem_text(exc, self.path)
        return DatabaseProblem(text) if text else None

    # -- settings ---------------------------------------------------------------------------

    def setting(self, key: str, default=None):
        Setting = self.models.Setting
        if key in self.overrides:
            return self.overrides[key]
        if self._settings is None:
            self._settings = {row.key: json.loads(row.value) for row in Setting.select()}
        return self._settings.get(key, DEFAULT_SETTINGS.get(key, default))

    def set_setting(self, key: str, value) -> None:
        Setting = self.models.Setting
        if self.readonly:
            raise DatabaseProblem(f"{self.path}: opened read-only (the file is not writable); nothing was saved")
        Setting.insert(key=key, value=json.dumps(value)).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: json.dumps(value)}).execute()
        self._settings = None

    # -- first start ------------------------------------------------------------------------

    def _seed_metadata(self) -> None:
        models = self.models
        Owner, Pipeline, Stage = models.Owner, models.Pipeline, models.Stage
        spec = load_yaml_resource("objects.yaml")
        lifecycle = spec["lifecycle"]
        for obj in spec["objects"]:
            for prop in obj["properties"]:
                if prop.get("options_from") == "lifecycle":
                    prop["options"] = lifecycle
            self.registry.create_object(obj, kind=obj.get("kind", "standard"))
        for pipe_pos, pipe in enumerate(load_yaml_resource("pipelines.yaml")["pipelines"]):
            obj = self.registry.get(pipe["object"])
            pipeline = Pipeline.create(object=obj.id, name=str(pipe["name"]), label=pipe["label"], position=pipe_pos)
            for pos, stage in enumerate(pipe["stages"]):
                Stage.create(pipeline=pipeline, name=str(stage["name"]), label=stage["label"], position=pos,
                             probability=stage.get("probability"), kind=stage.get("kind", "open"))
        self.registry.reload()
        for label in load_yaml_resource("labels.yaml")["labels"]:
            self.registry.create_label(label["from"], label["to"], label["name"], label.get("inverse"), label.get("limit"))
        Owner.create(name=self.user_name, is_me=True)
        from ..storage import constraints

        constraints.ensure(self.db)  # new and clean: every constraint goes in


def user_error_message(error: BaseException, db_path) -> str | None:
    """The one-line message for an error the user can act on (a refusal of the core; a busy, full,
    read-only or damaged database; an object or property another program removed), or None for a
    bug. The app shell and the screens show it; the command line prints its own."""
    if isinstance(error, CrmError):
        return str(error)
    if dialect.is_schema_gone_error(error):
        return f"{db_path}: another program changed the database (an object or property is gone); showing what is there now"
    return dialect.problem_text(error, db_path)
