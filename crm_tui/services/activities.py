"""Activities (notes, calls, meetings, emails, tasks): logging them on records and the timeline."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from ..domain import sources
from ..domain.errors import InvalidValue
from ..domain.types import now_iso


@dataclass
class LogResult:
    id: int
    object: str
    linked: list[tuple[str, int]]
    skipped: list[tuple[str, int]] = field(default_factory=list)  # over the engagement cap
    message: str = ""


@dataclass
class TimelineItem:
    object: str  # notes, calls, ...
    id: int
    at: str
    title: str
    properties: dict
    label: str = ""  # the activity type's label: Note, Call, ... or a user's type (SMS)


def values_timestamp(crm, meta, activity_id: int) -> str | None:
    row = crm.records._row(meta, activity_id)
    return row.get("hs_timestamp") if row else None


class Activities:
    def __init__(self, crm):
        self.crm = crm

    def activity_objects(self) -> list[str]:
        return [m.name for m in self.crm.registry.objects.values() if m.is_activity]

    def log(self, ref, activity_object: str, values: dict, *, source: str = sources.API,
            actor: str | None = None, also: list[tuple[str, int]] = (), allow_read_only: bool = False) -> LogResult:
        """Create an activity on a record. It is linked to the record, to `also`, and to the records
        the activity rules name for each of them (a contact's primary company and open deals by
        default)."""
        meta = self.crm.registry.get(activity_object)
        if not meta.is_activity:
            raise InvalidValue(f"{meta.name} is not an activity object ({', '.join(self.activity_objects())})")
        values = dict(values)
        if not values.get("hs_timestamp"):
            values["hs_timestamp"] = now_iso()
        with self.crm.operation("log_activity", source, actor, object=ref[0], record_id=int(ref[1])) as op:
            self.crm.assoc._live(ref)
            created = self.crm.records.create(meta.name, values, source, actor=actor, allow_read_only=allow_read_only)
            chosen = [(ref[0], int(ref[1]))] + [(o, int(i)) for o, i in also]
            # the roll-up to the records the activity rules name (primary company, open deals) of
            # every record it is logged on (a meeting with three contacts shows on each one's
            # company, not only the first's) is an automation: its links are a child operation with
            # the source Job, not the user's
            from . import rules

            by_record = rules.activity_rule_targets(self.crm, chosen)  # one pass for all of them
            rollup = list(dict.fromkeys(t for c in chosen for t in by_record.get(c, []) if t not in chosen))
            targets = [chosen[0]] + rollup + chosen[1:]
            linked, skipped = [], []
            cap = int(self.crm.setting("engagement_cap", 10000))
            for target in dict.fromkeys(targets):
                if self.count_for(target) >= cap:
                    skipped.append(target)
                else:
                    linked.append(target)
            for target in linked:
                if target not in rollup:
                    self.crm.assoc._add(op, target, (meta.name, created.id))
            rolled = [t for t in linked if t in rollup]
            if rolled:
                with self.crm.operation("activity_rollup", sources.JOB, None, object=meta.name,
                                        record_id=created.id) as job:
                    for target in rolled:
                        self.crm.assoc._add(job, target, (meta.name, created.id))
            self._touch_last_activity(linked, values_timestamp(self.crm, meta, created.id))
        message = f"logged {meta.label.lower()} {created.id} on {ref[0]} {ref[1]}"
        if len(linked) > 1:
            message += f", also on {', '.join(f'{o} {i}' for o, i in linked[1:])}"
        if skipped:
            message += (f"; not linked to {', '.join(f'{o} {i}' for o, i in skipped)}: "
                        f"they reached the engagement cap of {cap} activities")
        return LogResult(created.id, meta.name, linked, skipped, message)

    def _touch_last_activity(self, targets: list[tuple[str, int]], at: str | None) -> None:
        """Move "Last activity date" forward on every record the activity landed on (source Job)."""
        from . import rules

        rules.touch_last_activity(self.crm, {tuple(target): at for target in targets})

    def count_for(self, ref) -> int:
        """Activities linked to a record, from the kept link counts (no scan of up to 10,000 links)."""
        activities = set(self.activity_objects())
        return sum(n for name, n in self.crm.assoc.counts(ref).items() if name in activities)

    def timeline(self, ref, *, types: list[str] | None = None, limit: int = 50,
                 before: tuple[str, int] | None = None) -> list[TimelineItem]:
        """Newest first, `limit` at a time; pass the last item's (at, id) as `before` for more."""
        Association = self.crm.models.Association
        meta = self.crm.registry.get(ref[0])
        rid = int(ref[1])
        streams = []
        linked = self.crm.assoc.counts(ref)  # kept link counts: no query for a type never linked
        for name in types or self.activity_objects():
            act = self.crm.registry.get(name)
            if not linked.get(act.name):
                continue
            model = act.model
            q = (model.select().join(Association, on=((Association.to_id == model.id) & (Association.to_object == act.id)))
                 .where((Association.from_object == meta.id) & (Association.from_id == rid) & model.deleted_at.is_null(True)))
            if before is not None:
                at, bid = before
                q = q.where((model.hs_timestamp < at) | ((model.hs_timestamp == at) & (model.id < bid)))
            rows = list(q.order_by(model.hs_timestamp.desc(nulls="last"), model.id.desc()).limit(limit).dicts())
            streams.append([TimelineItem(act.name, r["id"], r["hs_timestamp"] or r["createdate"], act.display_name(r), r,
                                         act.label) for r in rows])
        merged = heapq.merge(*streams, key=lambda item: (item.at, item.id), reverse=True)
        return [item for _, item in zip(range(limit), merged)]
