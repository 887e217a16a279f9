"""Workflows: automations a user defines in YAML, on any object (no Textual here).

    crm.workflows.apply(yaml.safe_load(text))     # checked whole first: one line naming the field
    crm.workflows.list()                          # plain WorkflowInfo values
    crm.workflows.set_enabled(name, False)
    crm.workflows.run(name, dry_run=True)         # what it would do, nothing written

A workflow has a trigger (`when`), filters in the index filter syntax (`if`, read by query.py's
parser) and actions (`do`). The triggers fire from the one operation path: records.py calls
`after_create`/`after_update`, associations.py `after_link`, the import `after_bulk_create`, each
inside the operation that made the change. A workflow's run is a child operation of it, with the
source Job and the workflow's name as actor, and every change it makes is a child of that: undoing
the change that set it off takes back everything it did. Date triggers run when a database is
opened for writing (`run_due`), once per (workflow, record, date).

Loops: a workflow never runs inside its own run (nor inside a run it set off), and a chain of
workflows setting each other off stops at MAX_DEPTH with a one-line notice.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..domain import sources
from ..domain.errors import CrmError, InvalidValue, NotFound
from ..domain.sanitize import clean_line, clean_text
from ..domain.types import email_domain, now_iso, property_type
from .query import Filter, filter_expression, parse_filter

MAX_DEPTH = 5  # workflows setting off workflows: the chain stops here
DRY_RUN_LINES = 200  # a dry run lists this many records, then counts the rest
TRIGGERS = ("created", "changed", "associated", "date")
ACTIONS = ("create_task", "set", "set_on_associated", "associate", "log_note")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")  # {property}: nothing else is a template
NAME_LIMIT = 200


@dataclass
class WorkflowInfo:
    id: int
    name: str
    object: str
    trigger: str  # one line: "dealstage changed to closedwon"
    enabled: bool
    last_run: str | None
    runs: int
    filters: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # one line each

    def to_json(self) -> dict:
        return {"name": self.name, "object": self.object, "trigger": self.trigger, "enabled": self.enabled,
                "last_run": self.last_run, "runs": self.runs, "if": self.filters, "do": self.actions}


@dataclass
class ApplyResult:
    created: list[str]
    updated: list[str]
    unchanged: list[str]

    @property
    def message(self) -> str:
        parts = [f"{len(self.created)} created", f"{len(self.updated)} updated", f"{len(self.unchanged)} unchanged"]
        return "workflows: " + ", ".join(parts)


@dataclass
class RunResult:
    workflow: str
    dry_run: bool
    records: int  # records it acted on (would act on)
    lines: list[str]  # per record: what it did (would do)
    op_id: int | None = None
    notes: list[str] = field(default_factory=list)


# -- reading a definition -------------------------------------------------------------------------

class _Problem(InvalidValue):
    pass


def _text(value, where: str, *, multi_line: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Problem(f"{where}: write text, not {type(value).__name__}")
    text = clean_text(str(value)) if multi_line else clean_line(str(value)).strip()
    if not text.strip():
        raise _Problem(f"{where}: is empty")
    return text


def _raw_value(value, where: str):
    """A YAML value for a property as text (dates, numbers, yes/no), as a user would type it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, str)):
        return clean_text(str(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return ";".join(clean_line(str(v)) for v in value)
    raise _Problem(f"{where}: write a value, not {type(value).__name__}")


def _mapping(value, where: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    if not isinstance(value, dict):
        raise _Problem(f"{where}: write a mapping ({', '.join(allowed)})")
    for key in value:
        if not isinstance(key, str) or key not in allowed:
            raise _Problem(f"{where}: unknown field {str(key)[:40]!r} (fields: {', '.join(allowed)})")
    for key in required:
        if key not in value:
            raise _Problem(f"{where}: {key} is missing")
    return value


def _whole(value, where: str, low: int = 0, high: int = 36500) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Problem(f"{where}: write a whole number from {low} to {high}")
    return value


def check_template(meta, text: str, where: str) -> None:
    """Every {name} in a template must be a property of the workflow's object; other braces are text."""
    for name in PLACEHOLDER.findall(text):
        if meta.find_property(name) is None:
            raise _Problem(f"{where}: {{{name}}} is not a property of {meta.name}")


def render(crm, meta, row: dict, text: str) -> str:
    """A template filled in: {name} becomes the record's value of that property as shown in the
    app; anything else (other braces, attribute syntax) stays literal text. User data is never code."""
    def value(match):
        prop = meta.find_property(match.group(1))
        if prop is None:
            return match.group(0)
        raw = row.get(prop.name)
        if raw is None:
            return ""
        shown = property_type(prop.type).display(prop, raw, crm.owner_name, crm.date_format, crm.datetime_format)
        return clean_line(str(shown))

    return PLACEHOLDER.sub(value, text)


def _values(crm, meta, given, where: str) -> dict:
    """{property: raw value} checked against the object: each property exists, may be written, and
    the value is one it takes (coerced as an edit would coerce it)."""
    if not isinstance(given, dict) or not given:
        raise _Problem(f"{where}: write property: value pairs")
    out = {}
    for key, value in given.items():
        name = str(key)
        prop = meta.find_property(name)
        if prop is None:
            holders = [m.name for m in crm.registry.objects.values()
                       if m.name != meta.name and not m.is_activity and m.find_property(name)]
            hint = (f" (it is a property of {', '.join(holders[:3])}: use set_on_associated)"
                    if holders and where.endswith(".set") else "")
            raise _Problem(f"{where}: {meta.name} has no property {name[:60]!r}{hint}")
        if prop.read_only or prop.system:
            raise _Problem(f"{where}: {meta.name}.{prop.name} is read-only")
        if prop.archived:
            raise _Problem(f"{where}: {meta.name}.{prop.name} is archived (crm-tui schema restore-property "
                           f"{meta.name} {prop.name} brings it back)")
        raw = _raw_value(value, f"{where}.{name}")
        try:
            crm.records.coerce_value(meta, prop, raw)
        except CrmError as exc:
            raise _Problem(f"{where}.{name}: {exc}") from None
        if raw is None and prop.required:
            raise _Problem(f"{where}.{name}: {meta.name}.{prop.name} is required and cannot be emptied")
        out[prop.name] = raw
    return out


def _domain_column(meta) -> str | None:
    for name in ("domain", "hs_email_domain"):
        if name in meta.properties:
            return name
    return None


def parse_workflow(crm, item, index: int) -> dict:
    """One workflow of a file, checked: the normalised definition that is stored."""
    reg = crm.registry
    if not isinstance(item, dict):
        raise _Problem(f"workflows[{index}]: write a mapping with name, object, when, if, do")
    name_raw = item.get("name")
    if name_raw is None:
        raise _Problem(f"workflows[{index}]: name is missing")
    name = _text(name_raw, f"workflows[{index}].name")
    if len(name) > NAME_LIMIT:
        raise _Problem(f"workflows[{index}].name: longer than {NAME_LIMIT} characters")
    label = f"workflow {name!r}"
    try:
        _mapping(item, label, ("name", "object", "when", "if", "do", "enabled"), ("object", "when", "do"))
        obj = _text(item["object"], "object")
        meta = reg.objects.get(obj)
        if meta is None:
            raise _Problem(f"object: no object {obj!r} (objects: {', '.join(reg.objects)})")
        when = _trigger(crm, meta, item["when"])
        filters = item.get("if") or []
        if isinstance(filters, str):
            filters = [filters]
        if not isinstance(filters, list):
            raise _Problem("if: write a list of filters, e.g. [\"amount>=5000\"]")
        checked = []
        for n, text in enumerate(filters):
            text = _text(text, f"if[{n}]")
            try:
                filter_expression(crm, meta, parse_filter(text))
            except CrmError as exc:
                raise _Problem(f"if[{n}]: {exc}") from None
            checked.append(text)
        actions = item["do"]
        if not isinstance(actions, list) or not actions:
            raise _Problem("do: write a list of actions (" + ", ".join(ACTIONS) + ")")
        do = [_action(crm, meta, action, f"do[{n}]") for n, action in enumerate(actions)]
        enabled = item.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise _Problem("enabled: write yes or no")
    except _Problem as exc:
        raise InvalidValue(f"{label}: {exc}") from None
    return {"name": name, "object": meta.name, "when": when, "if": checked, "do": do, "enabled": enabled}


def _trigger(crm, meta, when) -> dict:
    if when == "created":
        return {"kind": "created"}
    if isinstance(when, str):
        raise _Problem(f"when: {when[:40]!r} is not a trigger (created, changed, associated, date reached)")
    spec = _mapping(when, "when", ("created", "changed", "to", "associated", "date reached", "date_reached"))
    kinds = [k for k in ("created", "changed", "associated", "date reached", "date_reached") if k in spec]
    if len(kinds) != 1:
        raise _Problem("when: name one trigger (created, changed, associated or date reached)")
    kind = kinds[0]
    if "to" in spec and kind != "changed":
        raise _Problem("when.to: goes with changed")
    if kind == "created":
        return {"kind": "created"}
    if kind == "changed":
        prop_name = _text(spec["changed"], "when.changed")
        prop = meta.find_property(prop_name)
        if prop is None:
            raise _Problem(f"when.changed: {meta.name} has no property {prop_name[:60]!r}")
        out = {"kind": "changed", "property": prop.name}
        if "to" in spec:
            raw = _raw_value(spec["to"], "when.to")
            try:
                value = crm.records.coerce_value(meta, prop, raw)
            except CrmError as exc:
                raise _Problem(f"when.to: {exc}") from None
            out["to"] = value
        return out
    if kind == "associated":
        other = _text(spec["associated"], "when.associated")
        if other not in crm.registry.objects:
            raise _Problem(f"when.associated: no object {other[:60]!r}")
        return {"kind": "associated", "object": other}
    spec = _mapping(spec[kind], f"when.{kind}", ("property", "days_before"), ("property",))
    prop_name = _text(spec["property"], f"when.{kind}.property")
    prop = meta.find_property(prop_name)
    if prop is None:
        raise _Problem(f"when.{kind}.property: {meta.name} has no property {prop_name[:60]!r}")
    if prop.type not in ("date", "datetime"):
        raise _Problem(f"when.{kind}.property: {meta.name}.{prop.name} is a {prop.type} property, not a date")
    days = _whole(spec.get("days_before", 0), f"when.{kind}.days_before")
    return {"kind": "date", "property": prop.name, "days_before": days}


def _action(crm, meta, action, where: str) -> dict:
    reg = crm.registry
    if not isinstance(action, dict) or len(action) != 1:
        raise _Problem(f"{where}: write one action as a mapping ({', '.join(ACTIONS)})")
    (kind, spec), = action.items()
    if kind not in ACTIONS:
        raise _Problem(f"{where}: unknown action {str(kind)[:40]!r} (actions: {', '.join(ACTIONS)})")
    where = f"{where}.{kind}"
    if kind == "create_task":
        if "tasks" not in reg.objects:
            raise _Problem(f"{where}: this database has no tasks object")
        spec = _mapping(spec, where, ("subject", "due_in_days", "body", "priority"), ("subject",))
        out = {"create_task": {"subject": _text(spec["subject"], f"{where}.subject"),
                               "due_in_days": _whole(spec.get("due_in_days", 0), f"{where}.due_in_days")}}
        check_template(meta, out["create_task"]["subject"], f"{where}.subject")
        if spec.get("body") is not None:
            out["create_task"]["body"] = _text(spec["body"], f"{where}.body", multi_line=True)
            check_template(meta, out["create_task"]["body"], f"{where}.body")
        if spec.get("priority") is not None:
            tasks = reg.get("tasks")
            out["create_task"]["priority"] = _values(crm, tasks, {"hs_task_priority": spec["priority"]},
                                                     f"{where}.priority")["hs_task_priority"]
        return out
    if kind == "set":
        return {"set": _values(crm, meta, spec, where)}
    if kind == "set_on_associated":
        spec = _mapping(spec, where, ("object", "values"), ("object", "values"))
        other = reg.objects.get(_text(spec["object"], f"{where}.object"))
        if other is None:
            raise _Problem(f"{where}.object: no object {str(spec['object'])[:60]!r}")
        return {"set_on_associated": {"object": other.name, "values": _values(crm, other, spec["values"], f"{where}.values")}}
    if kind == "associate":
        spec = _mapping(spec, where, ("object", "by"), ("object",))
        other = reg.objects.get(_text(spec["object"], f"{where}.object"))
        if other is None:
            raise _Problem(f"{where}.object: no object {str(spec['object'])[:60]!r}")
        by = spec.get("by", "domain")
        if by != "domain":
            raise _Problem(f"{where}.by: only domain is supported")
        if _domain_column(other) is None:
            raise _Problem(f"{where}.object: {other.name} have no domain to match")
        if other.name == meta.name:
            raise _Problem(f"{where}.object: name another object than {meta.name}")
        return {"associate": {"object": other.name, "by": "domain"}}
    if "notes" not in reg.objects:
        raise _Problem(f"{where}: this database has no notes object")
    spec = _mapping(spec, where, ("body",), ("body",))
    body = _text(spec["body"], f"{where}.body", multi_line=True)
    check_template(meta, body, f"{where}.body")
    return {"log_note": {"body": body}}


def parse_file(crm, data) -> list[dict]:
    """The workflows of a YAML document (already read with yaml.safe_load), all checked."""
    if not isinstance(data, dict) or set(data) != {"workflows"}:
        raise InvalidValue("the file must have one key, workflows: a list of workflows")
    items = data["workflows"]
    if not isinstance(items, list) or not items:
        raise InvalidValue("workflows: write a list of workflows")
    out, seen = [], set()
    for index, item in enumerate(items):
        parsed = parse_workflow(crm, item, index)
        if parsed["name"].casefold() in seen:
            raise InvalidValue(f"workflow {parsed['name']!r}: name: given twice in the file")
        seen.add(parsed["name"].casefold())
        out.append(parsed)
    return out


# -- describing ------------------------------------------------------------------------------------

def trigger_text(when: dict) -> str:
    kind = when["kind"]
    if kind == "created":
        return "created"
    if kind == "changed":
        return f"{when['property']} changed" + (f" to {when['to']}" if "to" in when else "")
    if kind == "associated":
        return f"associated with {when['object']}"
    before = when.get("days_before", 0)
    return f"{when['property']} reached" + (f" ({before} days before)" if before else "")


def action_text(action: dict) -> str:
    (kind, spec), = action.items()
    if kind == "create_task":
        return f"create task {spec['subject']!r} due in {spec['due_in_days']} days"
    if kind == "set":
        return "set " + ", ".join(f"{k}={v}" for k, v in spec.items())
    if kind == "set_on_associated":
        return f"set on associated {spec['object']}: " + ", ".join(f"{k}={v}" for k, v in spec["values"].items())
    if kind == "associate":
        return f"associate {spec['object']} by domain"
    return f"log note {spec['body']!r}"


# -- the service ------------------------------------------------------------------------------------

@dataclass
class _Loaded:
    id: int
    name: str
    object: str
    definition: dict


class _Running(threading.local):
    def __init__(self):
        self.names: list[str] = []


class Workflows:
    def __init__(self, crm):
        self.crm = crm
        self._running = _Running()
        self._parsed: dict[tuple[int, str], dict] = {}  # (id, updated_at) -> definition

    # -- definitions -----------------------------------------------------------------------------

    def apply(self, data, *, source: str = sources.API, actor: str | None = None) -> ApplyResult:
        """Create or update the workflows of a file by name: all or nothing; the same file again
        changes nothing (not even a journal entry)."""
        Workflow = self.crm.models.Workflow
        parsed = parse_file(self.crm, data)
        existing = {w.name.casefold(): w for w in Workflow.select()}
        created, updated, unchanged = [], [], []
        plans = []
        for item in parsed:
            enabled = item.pop("enabled")
            definition = json.dumps(item, sort_keys=True)
            row = existing.get(item["name"].casefold())
            if row is None:
                plans.append((None, item, definition, True if enabled is None else enabled))
                created.append(item["name"])
                continue
            want_enabled = bool(row.enabled) if enabled is None else enabled
            if row.definition == definition and bool(row.enabled) == want_enabled and row.name == item["name"]:
                unchanged.append(item["name"])
                continue
            plans.append((row, item, definition, want_enabled))
            updated.append(item["name"])
        if plans:
            with self.crm.operation("apply_workflows", source, actor,
                                    summary={"created": created, "updated": updated}):
                now, today = now_iso(), date.today().isoformat()
                for row, item, definition, enabled in plans:
                    if row is None:
                        Workflow.create(name=item["name"], object=item["object"], trigger=item["when"]["kind"],
                                        definition=definition, enabled=int(enabled), since=today,
                                        created_at=now, updated_at=now)
                    else:
                        since = today if (enabled and not row.enabled) else row.since
                        Workflow.update(name=item["name"], object=item["object"], trigger=item["when"]["kind"],
                                        definition=definition, enabled=int(enabled), since=since,
                                        updated_at=now).where(Workflow.id == row.id).execute()
        return ApplyResult(created, updated, unchanged)

    def _row(self, name: str):
        Workflow = self.crm.models.Workflow
        text = str(name).strip()
        row = Workflow.get_or_none(Workflow.name == text)
        if row is None:
            row = next((w for w in Workflow.select() if w.name.casefold() == text.casefold()), None)
        if row is None:
            names = [w.name for w in Workflow.select(Workflow.name).order_by(Workflow.name)]
            raise NotFound(f"no workflow named {text!r}" + (f" (workflows: {', '.join(names)})" if names
                                                             else " (add some with crm-tui workflows apply FILE.yaml)"))
        return row

    def set_enabled(self, name: str, enabled: bool, *, source: str = sources.API, actor: str | None = None) -> str:
        Workflow = self.crm.models.Workflow
        row = self._row(name)
        state = "enabled" if enabled else "disabled"
        if bool(row.enabled) == enabled:
            return f"workflow {row.name!r} is already {state}"
        with self.crm.operation("enable_workflow" if enabled else "disable_workflow", source, actor,
                                summary={"workflow": row.name}):
            values = {Workflow.enabled: int(enabled), Workflow.updated_at: now_iso()}
            if enabled:  # a date trigger does not catch up on the days it was off
                values[Workflow.since] = date.today().isoformat()
            Workflow.update(values).where(Workflow.id == row.id).execute()
        return f"workflow {row.name!r} {state}"

    def delete(self, name: str, *, source: str = sources.API, actor: str | None = None) -> str:
        """The workflow and its record of date triggers fired, gone (what it did stays, in history
        and undoable as before). Not undoable itself: applying its file again brings it back."""
        Workflow, WorkflowFired = self.crm.models.Workflow, self.crm.models.WorkflowFired
        row = self._row(name)
        with self.crm.operation("delete_workflow", source, actor, summary={"workflow": row.name}):
            WorkflowFired.delete().where(WorkflowFired.workflow == row.id).execute()
            Workflow.delete().where(Workflow.id == row.id).execute()
        return f"workflow {row.name!r} deleted (apply its file again to bring it back)"

    def list(self) -> list[WorkflowInfo]:
        Workflow = self.crm.models.Workflow
        out = []
        for row in Workflow.select().order_by(Workflow.name):
            definition = json.loads(row.definition)
            out.append(WorkflowInfo(row.id, row.name, row.object, trigger_text(definition["when"]), bool(row.enabled),
                                    row.last_run, row.runs, list(definition["if"]),
                                    [action_text(a) for a in definition["do"]]))
        return out

    def get(self, name: str) -> WorkflowInfo:
        row = self._row(name)
        return next(w for w in self.list() if w.id == row.id)

    # -- the hooks -----------------------------------------------------------------------------------

    def _enabled(self, object_name: str, kinds: tuple[str, ...]) -> list[_Loaded]:
        """The enabled workflows of an object with one of these triggers: one indexed query."""
        Workflow = self.crm.models.Workflow
        out = []
        for wid, name, updated_at, definition in (
                Workflow.select(Workflow.id, Workflow.name, Workflow.updated_at, Workflow.definition)
                .where((Workflow.object == object_name) & (Workflow.enabled == 1) & Workflow.trigger.in_(kinds))
                .order_by(Workflow.id).tuples()):
            key = (wid, updated_at)
            parsed = self._parsed.get(key)
            if parsed is None:
                if len(self._parsed) > 256:
                    self._parsed.clear()
                parsed = self._parsed[key] = json.loads(definition)
            out.append(_Loaded(wid, name, object_name, parsed))
        return out

    def _matching(self, wf: _Loaded, ids) -> list[int]:
        """The ids among `ids` of live records that pass the workflow's filters (set-based)."""
        meta = self.crm.registry.get(wf.object)
        model = meta.model
        exprs = [filter_expression(self.crm, meta, parse_filter(text)) for text in wf.definition["if"]]
        ids = sorted(set(int(i) for i in ids))
        out = []
        for start in range(0, len(ids), 900):
            q = model.select(model.id).where(model.id.in_(ids[start:start + 900]) & model.deleted_at.is_null(True))
            for expr in exprs:
                q = q.where(expr)
            out += [rid for (rid,) in q.tuples()]
        return sorted(out)

    def _fire(self, wfs: list[_Loaded], object_name: str, ids) -> list[str]:
        """Run each workflow on those of the records `ids` (one id or many) that pass its filters."""
        ids = [ids] if isinstance(ids, int) else list(ids)
        notes: list[str] = []
        for wf in wfs:
            if wf.name in self._running.names:
                continue  # never inside its own run: a workflow does not set itself off
            if len(self._running.names) >= MAX_DEPTH:
                where = f"{object_name} {ids[0]}" if len(ids) == 1 else f"{len(ids)} {object_name}"
                notes.append(f"workflow {wf.name!r} not run on {where}: a chain of workflows stops at depth {MAX_DEPTH}")
                continue
            try:
                passing = self._matching(wf, ids)
            except CrmError as exc:  # a property its filters name was deleted since: the change itself stands
                notes.append(f"workflow {wf.name!r} skipped: {str(exc).splitlines()[0]}")
                continue
            for rid in passing:
                notes += self._run_on(wf, object_name, rid)
        return notes

    def after_create(self, meta, record_id: int) -> list[str]:
        wfs = self._enabled(meta.name, ("created",))
        return self._fire(wfs, meta.name, record_id) if wfs else []

    def after_update(self, meta, record_id: int, changes: dict) -> list[str]:
        wfs = [wf for wf in self._enabled(meta.name, ("changed",))
               if wf.definition["when"]["property"] in changes
               and ("to" not in wf.definition["when"] or changes[wf.definition["when"]["property"]] == wf.definition["when"]["to"])]
        return self._fire(wfs, meta.name, record_id) if wfs else []

    def after_link(self, a_meta, a_id: int, b_meta, b_id: int) -> list[str]:
        notes = []
        for meta, rid, other in ((a_meta, a_id, b_meta), (b_meta, b_id, a_meta)):
            wfs = [wf for wf in self._enabled(meta.name, ("associated",)) if wf.definition["when"]["object"] == other.name]
            if wfs:
                notes += self._fire(wfs, meta.name, rid)
        return notes

    def after_bulk_create(self, object_name: str, ids) -> list[str]:
        """Records a bulk path (an import) created: one query when no workflow listens, else the
        filters once per workflow and batch, then a run per record that passes them."""
        wfs = self._enabled(object_name, ("created",))
        return self._fire(wfs, object_name, ids) if wfs else []

    def after_bulk_update(self, object_name: str, values: dict[int, dict]) -> list[str]:
        """Values the set-based rules wrote ({record id: {property: value}}, source Job): the
        "changed" workflows of those properties, as for a single change."""
        notes: list[str] = []
        wfs = self._enabled(object_name, ("changed",))
        for wf in wfs:
            when = wf.definition["when"]
            prop = when["property"]
            ids = [rid for rid, changes in values.items()
                   if prop in changes and ("to" not in when or changes[prop] == when["to"])]
            if ids:
                notes += self._fire([wf], object_name, ids)
        return notes

    def after_bulk_link(self, first: int, last: int) -> list[str]:
        """Links a bulk path made (the edges first..last, both ways): the "associated" workflows of
        either side. One query when none listens."""
        Workflow, Association = self.crm.models.Workflow, self.crm.models.Association
        reg = self.crm.registry
        notes: list[str] = []
        objects = [name for (name,) in Workflow.select(Workflow.object).distinct()
                   .where((Workflow.enabled == 1) & (Workflow.trigger == "associated")).tuples()]
        for object_name in objects:
            if object_name not in reg.objects:
                continue
            meta = reg.get(object_name)
            for wf in self._enabled(object_name, ("associated",)):
                other = reg.objects.get(wf.definition["when"]["object"])
                if other is None:
                    continue
                ids = [rid for (rid,) in Association.select(Association.from_id).distinct().where(
                    Association.id.between(first, last) & (Association.from_object == meta.id)
                    & (Association.to_object == other.id)).tuples()]
                if ids:
                    notes += self._fire([wf], object_name, ids)
        return notes

    # -- running -------------------------------------------------------------------------------------

    def _run_on(self, wf: _Loaded, object_name: str, record_id: int, *, key: str | None = None) -> list[str]:
        """Run a workflow's actions on one record as a child operation (source Job, the workflow's
        name as actor). An action that is refused is left out with a note; the others stay."""
        Workflow, WorkflowFired = self.crm.models.Workflow, self.crm.models.WorkflowFired
        notes: list[str] = []
        self._running.names.append(wf.name)
        try:
            with self.crm.operation("workflow", sources.JOB, wf.name, object=object_name, record_id=record_id,
                                    summary={"workflow": wf.name}) as op:
                for action in wf.definition["do"]:
                    try:
                        with self.crm.db.atomic():
                            notes += self._act(wf, object_name, record_id, action)
                    except CrmError as exc:
                        notes.append(f"workflow {wf.name!r} on {object_name} {record_id}: {action_text(action)} "
                                     f"refused: {str(exc).splitlines()[0]}")
                if key is not None:
                    WorkflowFired.insert(workflow=wf.id, record_id=record_id, key=key, op=op.id).execute()
                Workflow.update(runs=Workflow.runs + 1, last_run=now_iso()).where(Workflow.id == wf.id).execute()
            notes.insert(0, f"workflow {wf.name!r} ran on {object_name} {record_id}")
        finally:
            self._running.names.pop()
        return notes

    def _record(self, object_name: str, record_id: int) -> dict:
        meta = self.crm.registry.get(object_name)
        row = self.crm.records._row(meta, record_id)
        if row is None:
            raise NotFound(f"no {meta.label.lower()} with id {record_id}")
        return row

    def _task_targets(self, object_name: str, record_id: int) -> list[tuple[str, int]]:
        """A task goes on the record and, as HubSpot does for a deal, on its contacts and companies."""
        also = []
        if object_name not in ("contacts", "companies"):
            for other in ("contacts", "companies"):
                if other in self.crm.registry.objects:
                    also += [(other, rid) for rid in self.crm.assoc.linked_ids((object_name, record_id), other)]
        return also

    def _domain_matches(self, object_name: str, record_id: int, target: str) -> list[tuple[int, str]]:
        """(id, domain) of live `target` records whose domain is the record's (a company's domain, a
        contact's email domain; a record with neither: its contacts' email domains), never free mail."""
        meta = self.crm.registry.get(object_name)
        row = self._record(object_name, record_id)
        own = _domain_column(meta)
        if own is not None:
            domains = {row.get(own)}
        elif "email" in meta.properties:
            domains = {email_domain(row.get("email"))}
        elif "contacts" in self.crm.registry.objects:
            contacts = self.crm.registry.get("contacts")
            ids = self.crm.assoc.linked_ids((object_name, record_id), "contacts")
            domains = {d for (d,) in contacts.model.select(contacts.model.hs_email_domain)
                       .where(contacts.model.id.in_(ids[:900])).tuples()} if ids else set()
        else:
            domains = set()
        domains = sorted(d for d in domains if d and d not in self.crm.freemail)
        if not domains:
            return []
        other = self.crm.registry.get(target)
        column = getattr(other.model, _domain_column(other))
        linked = set(self.crm.assoc.linked_ids((object_name, record_id), target))
        return [(rid, dom) for rid, dom in other.model.select(other.model.id, column)
                .where(column.in_(domains) & other.model.deleted_at.is_null(True)).order_by(other.model.id).tuples()
                if rid not in linked]

    def _act(self, wf: _Loaded, object_name: str, record_id: int, action: dict, *, dry_run: bool = False) -> list[str]:
        """Do one action (or, dry, say what it would do): returns lines about it."""
        crm = self.crm
        (kind, spec), = action.items()
        meta = crm.registry.get(object_name)
        who = dict(source=sources.JOB, actor=wf.name)
        if kind == "create_task":
            row = self._record(object_name, record_id)
            subject = render(crm, meta, row, spec["subject"])
            due = (date.today() + timedelta(days=spec["due_in_days"])).isoformat()
            also = self._task_targets(object_name, record_id)
            if dry_run:
                on = ", ".join(f"{o} {i}" for o, i in [(object_name, record_id)] + also)
                return [f"create task {subject!r} due {due} on {on}"]
            values = {"hs_task_subject": subject, "hs_timestamp": due, "hs_task_status": "NOT_STARTED"}
            if spec.get("body"):
                values["hs_task_body"] = render(crm, meta, row, spec["body"])
            if spec.get("priority"):
                values["hs_task_priority"] = spec["priority"]
            if row.get("hubspot_owner_id") is not None:
                values["hubspot_owner_id"] = row["hubspot_owner_id"]
            crm.activities.log((object_name, record_id), "tasks", values, also=also, **who)
            return []
        if kind == "set":
            if dry_run:
                changes = crm.records.changes(object_name, record_id, spec)
                return [f"set {name} = {new} (now {old if old is not None else 'empty'})" for name, old, new in changes] \
                    or [f"set {', '.join(spec)}: already so"]
            result = crm.records.update(object_name, record_id, spec, **who)
            return result.notes
        if kind == "set_on_associated":
            ids = crm.assoc.linked_ids((object_name, record_id), spec["object"])
            if dry_run:
                if not ids:
                    return [f"set on associated {spec['object']}: none associated"]
                values = ", ".join(f"{k}={v}" for k, v in spec["values"].items())
                return [f"set {values} on {spec['object']} {', '.join(map(str, ids))}"]
            notes = []
            for rid in ids:
                notes += crm.records.update(spec["object"], rid, spec["values"], **who).notes
            return notes
        if kind == "associate":
            found = self._domain_matches(object_name, record_id, spec["object"])
            if dry_run:
                if not found:
                    return [f"associate {spec['object']} by domain: none to link"]
                return [f"associate {spec['object']} {', '.join(f'{rid} ({dom})' for rid, dom in found)}"]
            for rid, dom in found:
                crm.assoc.add((object_name, record_id), (spec["object"], rid), **who)
            return [f"linked {spec['object']} {rid} ({dom})" for rid, dom in found]
        row = self._record(object_name, record_id)
        body = render(crm, meta, row, spec["body"])
        if dry_run:
            return [f"log note {body!r}"]
        crm.activities.log((object_name, record_id), "notes", {"hs_note_body": body}, **who)
        return []

    # -- run now, dry runs, date triggers -----------------------------------------------------------

    def _loaded(self, row) -> _Loaded:
        return _Loaded(row.id, row.name, row.object, json.loads(row.definition))

    def _targets(self, wf: _Loaded, since: str | None = None) -> list[tuple[int, str | None]]:
        """(record id, date key) of the live records a run now acts on: those passing the filters
        and in the state the trigger leads to (a `changed ... to` value, a link to the object, a date
        reached and not yet fired)."""
        crm = self.crm
        meta = crm.registry.get(wf.object)
        model = meta.model
        when = wf.definition["when"]
        q = model.select(model.id).where(model.deleted_at.is_null(True))
        for text in wf.definition["if"]:
            q = q.where(filter_expression(crm, meta, parse_filter(text)))
        if when["kind"] == "changed" and "to" in when:
            q = q.where(getattr(model, when["property"]) == when["to"])
        elif when["kind"] == "associated":
            q = q.where(filter_expression(crm, meta, Filter(f"@assoc:{when['object']}", "any")))
        elif when["kind"] == "date":
            return self._due(wf, q, since)
        return [(rid, None) for (rid,) in q.order_by(model.id).tuples()]

    def _due(self, wf: _Loaded, q, since: str | None) -> list[tuple[int, str]]:
        WorkflowFired = self.crm.models.WorkflowFired
        meta = self.crm.registry.get(wf.object)
        model = meta.model
        when = wf.definition["when"]
        col = getattr(model, when["property"])
        limit = (date.today() + timedelta(days=int(when.get("days_before", 0)) + 1)).isoformat()
        q = q.select(model.id, col).where(col.is_null(False) & (col < limit))
        if since:
            q = q.where(col >= since)
        fired = WorkflowFired.select(WorkflowFired.record_id).where(
            (WorkflowFired.workflow == wf.id) & (WorkflowFired.record_id == model.id)
            & (WorkflowFired.key == col_key(col)))
        q = q.where(~fn_exists(fired))
        return [(rid, str(value)[:10]) for rid, value in q.order_by(model.id).tuples()]

    def run(self, name: str, *, dry_run: bool = False, source: str = sources.API, actor: str | None = None) -> RunResult:
        """Run a workflow now on the records it applies to (see `_targets`), or, dry, say what it
        would do on each, writing nothing. A real run is one operation: one undo takes it back."""
        row = self._row(name)
        wf = self._loaded(row)
        meta = self.crm.registry.get(wf.object)
        targets = self._targets(wf)
        if dry_run:
            lines = []
            names = self.crm.records.display_names(meta, [rid for rid, _k in targets[:DRY_RUN_LINES]])
            for rid, _key in targets[:DRY_RUN_LINES]:
                done = []
                for action in wf.definition["do"]:
                    try:
                        done += self._act(wf, wf.object, rid, action, dry_run=True)
                    except CrmError as exc:
                        done.append(f"{action_text(action)}: refused: {str(exc).splitlines()[0]}")
                lines.append(f"{meta.name} {rid} ({names.get(rid, '?')}): " + "; ".join(done))
            if len(targets) > DRY_RUN_LINES:
                lines.append(f"... and {len(targets) - DRY_RUN_LINES:,} more {meta.plural_label.lower()}")
            return RunResult(wf.name, True, len(targets), lines)
        notes: list[str] = []
        if not targets:
            return RunResult(wf.name, False, 0, [f"workflow {wf.name!r}: no {meta.plural_label.lower()} to act on"])
        with self.crm.operation("workflow_run", source, actor, object=wf.object,
                                summary={"workflow": wf.name, "records": len(targets)}) as op:
            notes += [note for note in self._run_all(wf, targets) if " ran on " not in note]
        return RunResult(wf.name, False, len(targets),
                         [f"workflow {wf.name!r} ran on {len(targets):,} {meta.plural_label.lower()}"], op.id, notes)

    def _run_all(self, wf: _Loaded, targets) -> list[str]:
        notes = []
        for rid, key in targets:
            notes += self._run_on(wf, wf.object, rid, key=key)
        return notes

    def run_due(self) -> list[str]:
        """The date triggers due since each workflow was made or enabled and not yet fired (the
        days the database was closed included): each (workflow, record, date) once. One operation
        per workflow that fires (source Job, the workflow's name as actor)."""
        Workflow = self.crm.models.Workflow
        notes: list[str] = []
        for row in Workflow.select().where((Workflow.enabled == 1) & (Workflow.trigger == "date")).order_by(Workflow.id):
            wf = self._loaded(row)
            if wf.object not in self.crm.registry.objects:
                continue
            targets = self._targets(wf, since=row.since)
            if not targets:
                continue
            with self.crm.operation("workflow_run", sources.JOB, wf.name, object=wf.object,
                                    summary={"workflow": wf.name, "records": len(targets), "due": True}):
                ran = self._run_all(wf, targets)
            meta = self.crm.registry.get(wf.object)
            label = meta.label.lower() if len(targets) == 1 else meta.plural_label.lower()
            notes.append(f"workflow {wf.name!r}: {trigger_text(wf.definition['when'])} on {len(targets):,} {label}")
            notes += [note for note in ran if " ran on " not in note]
        return notes


def col_key(col):
    """The date part (YYYY-MM-DD) of a date or date-time column, as fired keys store it."""
    from peewee import fn

    return fn.SUBSTR(col, 1, 10)


def fn_exists(query):
    from peewee import fn

    return fn.EXISTS(query)


def has_due_workflows(db) -> bool:
    """Is there an enabled date-triggered workflow? One cheap query for every open."""
    try:
        return db.execute_sql("SELECT 1 FROM workflow WHERE enabled = 1 AND \"trigger\" = 'date' LIMIT 1").fetchone() is not None
    except Exception:  # an older database opened read-only: no workflow table
        return False


MAX_FILE_BYTES = 1024 * 1024


def load_file(path) -> dict:
    """A workflows YAML file read as data (yaml.safe_load only): one line for what is wrong."""
    from .schema_apply import read_yaml_file  # lazy: only `workflows apply` reads a file

    return read_yaml_file(path, "workflows", MAX_FILE_BYTES)
