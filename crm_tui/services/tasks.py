"""Tasks as a queue: the open tasks due today, overdue and upcoming, by owner; done, snooze and
reschedule. No Textual here; the "My tasks" screen and `crm-tui tasks` call these.

A task is a record of the `tasks` activity object: `hs_timestamp` is its due date (HubSpot's),
`hs_task_status` its status (COMPLETED is done), `hubspot_owner_id` whom it is assigned to.
Days are UTC days, as every date-time is stored and shown. Each change is one ordinary record
update (one operation, undoable, with history and its source): nothing here writes SQL.

    crm.tasks.queue(due="today", owner="me")   # [TaskRow], overdue first, then by due date
    crm.tasks.counts(owner=None)               # {"overdue": n, "today": n, "upcoming": n}
    crm.tasks.complete(12)                     # status Completed
    crm.tasks.snooze(12, days=1)               # due N days later (from today when overdue)
    crm.tasks.reschedule(12, "2026-12-01")     # due that day (the user's date_format too)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from peewee import Case, fn

from ..domain import sources, values
from ..domain.errors import InvalidValue, NotFound
from ..domain.sanitize import clean_line
from ..domain.types import ValueProblem

DUE_CHOICES = ("overdue", "today", "upcoming", "all")
BUCKETS = ("overdue", "today", "upcoming")
DONE = "COMPLETED"
MAX_SNOOZE_DAYS = 3650
DEFAULT_LIMIT = 500  # rows per section a queue hands back (the counts stay exact)


def today() -> date:
    """Today's UTC date (tests pin it)."""
    return datetime.now(timezone.utc).date()


def _stamp(day: date) -> str:
    return values.format_utc(datetime.combine(day, time()))


@dataclass
class TaskRow:
    id: int
    subject: str
    due: str | None  # stored form: ISO 8601 UTC
    bucket: str  # overdue, today, upcoming
    status: str | None
    status_label: str
    priority: str | None
    priority_label: str
    owner_id: int | None
    owner: str | None
    linked: list[tuple[str, int, str]] = field(default_factory=list)  # (object, id, display name)

    def to_json(self) -> dict:
        return {"id": self.id, "subject": self.subject, "due": self.due, "bucket": self.bucket,
                "status": self.status, "priority": self.priority, "owner_id": self.owner_id, "owner": self.owner,
                "linked": [{"object": o, "id": i, "display_name": n} for o, i, n in self.linked]}


class Tasks:
    def __init__(self, crm):
        self.crm = crm

    @property
    def meta(self):
        return self.crm.registry.get("tasks")

    # -- reading ------------------------------------------------------------------------------

    def owner_id(self, owner) -> int | None:
        """None (everyone), "me", an owner's id, name or email -> the owner's id."""
        if owner in (None, ""):
            return None
        try:
            return self.crm.records._owner_id(owner)
        except ValueProblem as exc:
            raise InvalidValue(f"owner: {exc}") from None

    def _base(self, owner_id: int | None, unassigned: bool = False):
        model = self.meta.model
        query = (model.select().where(model.deleted_at.is_null(True)
                                      & (model.hs_task_status.is_null(True) | (model.hs_task_status != DONE))))
        if owner_id is not None:
            mine = model.hubspot_owner_id == owner_id
            query = query.where((mine | model.hubspot_owner_id.is_null(True)) if unassigned else mine)
        return query

    def _bucket_where(self, bucket: str, day: date):
        model = self.meta.model
        start, tomorrow = _stamp(day), _stamp(day + timedelta(days=1))
        if bucket == "overdue":
            return model.hs_timestamp < start
        if bucket == "today":
            return (model.hs_timestamp >= start) & (model.hs_timestamp < tomorrow)
        return (model.hs_timestamp >= tomorrow) | model.hs_timestamp.is_null(True)

    def counts(self, owner=None, *, unassigned: bool = False, day: date | None = None) -> dict[str, int]:
        day = day or today()
        owner_id = self.owner_id(owner)
        sums = [fn.COALESCE(fn.SUM(Case(None, [(self._bucket_where(bucket, day), 1)], 0)), 0).alias(bucket)
                for bucket in BUCKETS]
        row = self._base(owner_id, unassigned).select(*sums).dicts().get()  # one pass over the open tasks
        return {bucket: int(row[bucket] or 0) for bucket in BUCKETS}

    def queue(self, due: str = "all", owner=None, *, unassigned: bool = False, day: date | None = None,
              limit: int = DEFAULT_LIMIT) -> list[TaskRow]:
        """Open tasks (not completed, not deleted) of one section or all three, overdue first, each
        section by due date (tasks without one last), with the records each is linked to. With an
        owner, `unassigned` adds the tasks nobody is assigned to ("mine and unassigned")."""
        if due not in DUE_CHOICES:
            raise InvalidValue(f"due: {clean_line(str(due))!r} is not one of {', '.join(DUE_CHOICES)}")
        day = day or today()
        owner_id = self.owner_id(owner)
        model = self.meta.model
        rows: list[tuple[str, dict]] = []
        for bucket in (BUCKETS if due == "all" else (due,)):
            query = (self._base(owner_id, unassigned).where(self._bucket_where(bucket, day))
                     .order_by(model.hs_timestamp.asc(nulls="last"), model.id).limit(limit))
            rows += [(bucket, row) for row in query.dicts()]
        links = self._links([row["id"] for _bucket, row in rows])
        status, priority = self.meta.prop("hs_task_status"), self.meta.prop("hs_task_priority")
        out = []
        for bucket, row in rows:
            owner_id = row.get("hubspot_owner_id")
            out.append(TaskRow(
                row["id"], clean_line(self.meta.display_name(row)), row.get("hs_timestamp"), bucket,
                row.get("hs_task_status"), status.option_label(row["hs_task_status"]) if row.get("hs_task_status") else "",
                row.get("hs_task_priority"),
                priority.option_label(row["hs_task_priority"]) if row.get("hs_task_priority") else "",
                owner_id, self.crm.owner_name(owner_id) if owner_id is not None else None,
                links.get(row["id"], [])))
        return out

    def _links(self, task_ids: list[int]) -> dict[int, list[tuple[str, int, str]]]:
        """The records (not activities) each task is linked to: the one it was logged on first, then
        the others in object order; one query per object."""
        if not task_ids:
            return {}
        Association = self.crm.models.Association
        reg = self.crm.registry
        records = {m.id: m for m in reg.objects.values() if not m.is_activity}
        found: dict[int, list[tuple[int, int]]] = {}
        for start in range(0, len(task_ids), 900):
            chunk = task_ids[start:start + 900]
            query = (Association.select(Association.from_id, Association.to_object, Association.to_id)
                     .where((Association.from_object == self.meta.id) & Association.from_id.in_(chunk)
                            & Association.to_object.in_(list(records)))
                     .order_by(Association.from_id, Association.id).tuples())
            for task_id, to_object, to_id in query:
                found.setdefault(task_id, []).append((to_object, to_id))
        names: dict[int, dict[int, str]] = {}
        for object_id, meta in records.items():
            ids = [i for pairs in found.values() for o, i in pairs if o == object_id]
            if ids:
                names[object_id] = self.crm.records.display_names(meta, ids)
        order = list(reg.objects)
        out = {}
        for task_id, pairs in found.items():
            linked = [(records[o].name, i, clean_line(names.get(o, {}).get(i, f"#{i}"))) for o, i in pairs
                      if i in names.get(o, {})]  # a deleted record's edge is gone; a missing row is skipped
            # the record it was logged on (linked first) leads; the rest in object order (the roll-up
            # to a contact's company must not push the deal a task is about behind "+N")
            out[task_id] = linked[:1] + sorted(linked[1:], key=lambda item: order.index(item[0]))
        return out

    def get(self, task_id: int) -> dict:
        row = self.crm.records._row(self.meta, int(task_id))
        if row is None or row.get("deleted_at") is not None:
            raise NotFound(f"no task with id {task_id}")
        return row

    # -- changes: each one record update (one operation, undoable, with history) -------------

    def complete(self, task_id: int, *, source: str = sources.API, actor: str | None = None) -> str:
        row = self.get(task_id)
        if row.get("hs_task_status") == DONE:
            raise InvalidValue(f"task {task_id} is already completed")
        self.crm.records.update("tasks", int(task_id), {"hs_task_status": DONE}, source, actor=actor)
        return f"task {task_id} ({clean_line(self.meta.display_name(row))}) completed"

    def snooze(self, task_id: int, days: int = 1, *, source: str = sources.API, actor: str | None = None,
               day: date | None = None) -> str:
        """Due `days` later: from its due date, or from today when it is overdue (or has none), at
        the same time of day."""
        days = int(days)
        if not 1 <= days <= MAX_SNOOZE_DAYS:
            raise InvalidValue(f"days: {days} is out of range (1 to {MAX_SNOOZE_DAYS:,})")
        row = self.get(task_id)
        due = _moment(row.get("hs_timestamp"))
        day = day or today()
        base = due if due is not None else datetime.combine(day, time(9, 0))
        if base.date() < day:
            base = datetime.combine(day, base.time())
        new = base + timedelta(days=days)
        self.crm.records.update("tasks", int(task_id), {"hs_timestamp": values.format_utc(new)}, source, actor=actor)
        return f"task {task_id} ({clean_line(self.meta.display_name(row))}) snoozed to {self._shown(new)}"

    def reschedule(self, task_id: int, when: str, *, source: str = sources.API, actor: str | None = None) -> str:
        """Due on the given day (the user's date_format, ISO, or another common form), at the task's
        time of day; with a time written, at that time."""
        row = self.get(task_id)
        new = self.parse_due(when, _moment(row.get("hs_timestamp")))
        self.crm.records.update("tasks", int(task_id), {"hs_timestamp": values.format_utc(new)}, source, actor=actor)
        return f"task {task_id} ({clean_line(self.meta.display_name(row))}) due {self._shown(new)}"

    def parse_due(self, text: str, current: datetime | None = None) -> datetime:
        text = clean_line(str(text or "")).strip()
        keep = current.time() if current is not None else time(9, 0)
        if not text:
            raise InvalidValue("a due date is needed")
        for fmt, has_time in ((self.crm.datetime_format, True), (self.crm.date_format, False)):
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            return parsed if has_time else datetime.combine(parsed.date(), keep)
        try:
            if values._TIME_TAIL.search(text):
                return _moment(values.parse_datetime(text, dayfirst=self.crm.dayfirst))
            return datetime.combine(date.fromisoformat(values.parse_date(text, dayfirst=self.crm.dayfirst)), keep)
        except ValueError:
            example = date(2026, 12, 31).strftime(self.crm.date_format)
            raise InvalidValue(f"{text[:40]!r} is not a date (write it as {example})") from None

    def _shown(self, moment: datetime) -> str:
        from ..domain.types import shown_datetime

        return shown_datetime(values.format_utc(moment), self.crm.datetime_format)


def _moment(stored: str | None) -> datetime | None:
    """A stored date-time -> a naive UTC datetime (None when empty or unreadable)."""
    if not stored:
        return None
    try:
        return datetime.fromisoformat(str(stored).replace("Z", "+00:00")).astimezone(timezone.utc).replace(tzinfo=None)
    except ValueError:
        return None
