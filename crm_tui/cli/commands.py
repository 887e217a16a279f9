"""What each `crm-tui` subcommand does. Every change made here carries the source API."""

from __future__ import annotations

import sys
from dataclasses import asdict

from . import journal as cli_journal
from ..services import pipelines
from ..domain import sources
from .args import _assignments, show_value
from .args import emit as print_output  # the one printing path: cleaned text, escaped JSON
from ..services.associations import ACTION_TEXT as assoc_actions
from ..services.core import Crm
from ..domain.errors import CrmError, InvalidValue, NotFound, PrimaryRequired
from ..services.query import Sort, parse_filter
from ..services.history import shown_value
from ..services.schema_apply import apply_schema_file
from ..services.seed import seed
from ..services.owners import add_owner

SOURCE = sources.API


def emit(args, data, text_lines) -> None:
    print_output(args, data, text_lines)


# Commands made of one operation: run again when another writer conflicted (the team database).
# (`mail log` runs its one operation through crm.retrying itself, after reading the message once.)
RETRIED = {"record", "assoc", "log", "labels", "owners", "undo", "redo", "tasks"}


def run(args, db_path: str) -> int:
    from ..storage.config import apply_to, load_config
    from ..domain.sanitize import clean_line

    handler = HANDLERS[args.command]
    config, warnings = load_config()
    for warning in warnings:
        print(f"warning: {clean_line(str(warning))}", file=sys.stderr)
    with Crm.open(db_path, user_name=config.user_name) as crm:  # who did it, as the app says it
        apply_to(crm, config)  # the config's automation switches, cap, formats and views hold here too
        for notice in crm.notices:  # a constraint an upgrade could not add: what to fix
            print(f"warning: {clean_line(notice)}", file=sys.stderr)
        if args.command in RETRIED:
            return crm.retrying(handler, crm, args) or 0
        return handler(crm, args) or 0


def record_json(crm: Crm, view) -> dict:
    groups = crm.assoc.groups((view.object, view.id), per_group=None)
    return {
        "id": view.id, "object": view.object, "display_name": view.display_name, "properties": view.properties,
        "created_at": view.created_at, "updated_at": view.updated_at, "deleted": view.deleted,
        "deleted_at": view.deleted_at,
        "associations": {g.object: [{"id": i.id, "display_name": i.display_name, "labels": i.labels, "primary": i.primary}
                                    for i in g.items] for g in groups},
    }


# -- records ----------------------------------------------------------------------------------

def cmd_record(crm: Crm, args) -> int:
    action = args.action
    if action == "create":
        values = _assignments(args.values)
        crm.records.refuse_archived(args.object, values)
        result = crm.records.create(args.object, values, SOURCE)
        emit(args, {"id": result.id, "created": result.created, "message": result.message, "notes": result.notes},
             [str(result.id)] + ([] if result.created else [result.message]) + result.notes)
        return 0
    if action == "update":
        values = _assignments(args.values)
        crm.records.refuse_archived(args.object, values)
        result = crm.records.update(args.object, args.id, values, SOURCE)
        emit(args, {"id": result.id, "changed": result.changed, "message": result.message, "notes": result.notes},
             [result.message] + result.notes)
        return 0
    if action == "get":
        view = crm.records.get(args.object, args.id)
        data = record_json(crm, view)
        if getattr(args, "json", False):
            emit(args, data, [])
            return 0
        meta = crm.registry.get(args.object)
        lines = [f"{meta.label} {view.id}: {view.display_name}" + ("  [deleted]" if view.deleted else "")]
        for name, value in view.properties.items():
            if value is not None:
                lines.append(f"  {meta.properties[name].label}: {show_value(meta, name, value, crm)}")
        for obj, items in data["associations"].items():
            lines.append(f"  Associated {crm.registry.get(obj).plural_label.lower()}:")
            for item in items:
                extra = "".join([" (primary)" if item["primary"] else "", f" [{', '.join(item['labels'])}]" if item["labels"] else ""])
                lines.append(f"    {obj}:{item['id']} {item['display_name']}{extra}")
        emit(args, data, lines)
        return 0
    if action == "erase":
        return cmd_erase(crm, args)
    if action == "delete":
        result = crm.records.delete(args.object, args.id, SOURCE)
    elif action == "restore":
        result = crm.records.restore(args.object, args.id, SOURCE)
    else:  # merge
        result = crm.merger.merge(args.object, args.keep_id, args.other_id,
                                  choose={name: "other" for name in args.take}, source=SOURCE)
    emit(args, {"id": result.id, "message": result.message}, result.message)
    return 0


def cmd_history(crm: Crm, args) -> int:
    meta = crm.registry.get(args.object)
    rows = crm.history.property_history(args.object, args.id, prop=args.property)

    def shown(name: str, text: str | None) -> str:
        return shown_value(crm, meta, name, text)

    emit(args, [asdict(r) for r in rows],
         [f"{history_time(r.at, crm.datetime_format)}  {r.label}: {shown(r.property, r.old_value)} -> "
          f"{shown(r.property, r.new_value)}  [{r.source}{': ' + r.actor if r.actor else ''}]"
          for r in rows] or ["no history"])
    return 0


def cmd_list(crm: Crm, args) -> int:
    meta = crm.registry.get(args.object)
    filters = [parse_filter(f) for f in args.filter]
    sort = []
    for s in args.sort:
        desc = s.startswith("-") or s.endswith(":desc")
        name = s.lstrip("-").removesuffix(":desc").removesuffix(":asc")
        prop = meta.find_property(name) if name != "id" else None
        if prop is None and name != "id":
            raise NotFound(f"{meta.name} has no property {name!r}")
        sort.append(Sort(prop.name if prop else "id", desc))
    page = crm.records.list(meta.name, filters, sort, limit=args.limit, deleted=args.deleted)
    columns = [c for c in meta.display_columns] + [s.property for s in sort if s.property not in meta.display_columns and s.property != "id"]
    if getattr(args, "json", False):
        emit(args, [{"id": r["id"], "display_name": r["display_name"],
                     "properties": {k: v for k, v in r.items() if k not in ("id", "display_name", "deleted_at")}}
                    for r in page.rows], [])
        return 0
    header = ["id"] + [meta.properties[c].label for c in columns]
    table = [[str(r["id"])] + [show_value(meta, c, r.get(c), crm) for c in columns] for r in page.rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) if table else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in table]
    total = crm.records.count(meta.name, filters, deleted=args.deleted)
    lines.append(f"({len(page.rows)} of {total} {meta.plural_label.lower()})")
    emit(args, None, lines)
    return 0


def cmd_search(crm: Crm, args) -> int:
    hits = crm.search.records(args.object, args.text) if args.object else crm.search.everywhere(args.text)
    emit(args, [asdict(h) for h in hits], [f"{h.object}:{h.id}  {h.display_name}" for h in hits] or ["no matches"])
    return 0


# -- associations -----------------------------------------------------------------------------

def cmd_assoc(crm: Crm, args) -> int:
    action = args.action
    if action == "add":
        result = crm.assoc.add(args.a, args.b, labels=args.label, primary=args.primary, source=SOURCE)
        emit(args, asdict(result), result.message)
    elif action == "remove":
        new_primary = "none" if args.no_primary else args.new_primary
        try:
            message = crm.assoc.remove(args.a, args.b, new_primary=new_primary, source=SOURCE)
        except PrimaryRequired as exc:
            raise CrmError(f"{exc} (add --new-primary COMPANY_ID)") from None
        emit(args, {"message": message}, message)
    elif action == "label":
        if args.add:
            message = crm.assoc.add_label(args.a, args.b, args.add, source=SOURCE)
        else:
            message = crm.assoc.remove_label(args.a, args.b, args.remove, source=SOURCE)
        emit(args, {"message": message}, message)
    elif action == "primary":
        _check_company(args.company)
        message = crm.assoc.set_primary(args.a, args.company[1], source=SOURCE)
        emit(args, {"message": message}, message)
    elif action == "unprimary":
        _check_company(args.company)
        try:
            message = crm.assoc.remove_primary(args.a, args.company[1], new_primary=args.new_primary, source=SOURCE)
        except PrimaryRequired as exc:
            raise CrmError(f"{exc} (add --new-primary COMPANY_ID)") from None
        emit(args, {"message": message}, message)
    elif action == "list":
        crm.records.get(args.a[0], args.a[1])
        groups = crm.assoc.groups(args.a, per_group=None)
        lines = []
        for g in groups:
            lines.append(f"{g.label} ({g.count})")
            for i in g.items:
                extra = "".join([" (primary)" if i.primary else "", f" [{', '.join(i.labels)}]" if i.labels else ""])
                lines.append(f"  {i.object}:{i.id}  {i.display_name}{extra}")
        emit(args, [asdict(g) for g in groups], lines or ["no associations"])
    else:  # history
        crm.records.get(args.a[0], args.a[1])
        rows = crm.assoc.history(args.a, object_name=args.object, with_ref=args.with_ref)
        emit(args, [asdict(r) for r in rows], [format_change(r, crm.datetime_format) for r in rows]
             or ["no association history"])
    return 0


def history_time(at: str, datetime_format: str = Crm.datetime_format) -> str:
    """A history row's time: to the second by default, else in the config's datetime_format."""
    from ..services.paging import format_datetime

    return at[:19].replace("T", " ") if datetime_format == Crm.datetime_format else format_datetime(at, datetime_format)


def format_change(r, datetime_format: str = Crm.datetime_format) -> str:
    when = history_time(r.at, datetime_format)
    label = f" \"{r.label}\"" if r.label else ""
    who = f"{r.source}: {r.actor}" if r.actor else r.source
    return f"{when}  {assoc_actions.get(r.action, r.action)}{label}  {r.other_object}:{r.other_id} {r.other_name}  [{who}]"


def _check_company(ref) -> None:
    if ref[0] != "companies":
        raise InvalidValue(f"{ref[0]}:{ref[1]} is not a company: write companies:ID")


def cmd_labels(crm: Crm, args) -> int:
    if args.action in ("rename", "delete"):
        if not (args.from_object and args.to_object and args.name) or (args.action == "rename" and not args.new_name):
            raise InvalidValue("usage: crm-tui labels rename FROM TO OLD NEW | crm-tui labels delete FROM TO NAME [--yes]")
        if args.action == "rename":
            message = crm.datamodel.rename_label(args.from_object, args.to_object, args.name, args.new_name, source=SOURCE)
        else:
            if not _confirmed(args, f"Delete label {args.name!r} ({args.from_object} -> {args.to_object})? Links keep "
                                    "existing without it; this cannot be undone."):
                return 1
            message = crm.datamodel.delete_label(args.from_object, args.to_object, args.name, source=SOURCE)
        emit(args, {"message": message}, message)
        return 0
    if args.action == "create":
        if not (args.from_object and args.to_object and args.name):
            raise InvalidValue("usage: crm-tui labels create FROM_OBJECT TO_OBJECT NAME [--inverse NAME] [--limit N]")
        from ..services.meta_journal import schema_operation
        from ..domain.sanitize import clean_line

        with schema_operation(crm, "create_label", SOURCE, summary={
                "text": f"Created label {clean_line(str(args.name))} ({args.from_object} -> {args.to_object})"}):
            crm.registry.create_label(args.from_object, args.to_object, args.name, args.inverse, args.limit)
        message = f"label {args.name!r} created for {args.from_object} -> {args.to_object}" + (
            f" (other side: {args.inverse!r})" if args.inverse else "") + (f", limit {args.limit}" if args.limit else "")
        emit(args, {"message": message}, message)
        return 0
    labels = crm.assoc.labels()
    shown = [l for l in labels if l["inverse_id"] is None or l["id"] <= l["inverse_id"]]  # each pair once
    emit(args, labels, [f"{l['from']} -> {l['to']}: {l['name']}" + (f" / {l['inverse']}" if l["paired"] else "")
                        + (f"  (limit {l['limit']})" if l["limit"] else "") for l in shown])
    return 0


# -- schema -----------------------------------------------------------------------------------

def cmd_schema(crm: Crm, args) -> int:
    models = crm.models
    Pipeline, Stage = models.Pipeline, models.Stage
    if args.action in ("relabel", "property", "delete-property", "archive-property", "restore-property"):
        if not (args.file and args.target):
            raise InvalidValue(f"usage: crm-tui schema {args.action} OBJECT " + ("LABEL" if args.action == "relabel" else "NAME"))
        if args.action == "relabel":
            message = crm.datamodel.relabel_object(args.file, args.target, args.plural, source=SOURCE)
        elif args.action == "property":
            message = crm.datamodel.update_property(args.file, args.target, label=args.label, group=args.group,
                                                    source=SOURCE)
        elif args.action in ("archive-property", "restore-property"):
            message = crm.datamodel.archive_property(args.file, args.target, archived=args.action == "archive-property",
                                                     source=SOURCE)
        else:
            if not _confirmed(args, f"Delete property {args.target!r} of {args.file} with all its values? "
                                    "This cannot be undone."):
                return 1
            message = crm.datamodel.delete_property(args.file, args.target, source=SOURCE)
        emit(args, {"message": message}, message)
        return 0
    if args.action == "apply":
        if not args.file:
            raise InvalidValue("usage: crm-tui schema apply FILE.yaml")

        messages = apply_schema_file(crm, args.file)
        emit(args, {"changes": messages}, messages or ["nothing to change"])
        return 0

    data = {"objects": [], "labels": crm.assoc.labels(), "pipelines": []}
    lines = []
    for meta in crm.registry.objects.values():
        data["objects"].append({
            "name": meta.name, "label": meta.label, "plural_label": meta.plural_label, "kind": meta.kind,
            "primary_property": meta.primary_property,
            "properties": [{"name": p.name, "label": p.label, "type": p.type, "group": p.group, "required": p.required,
                            "unique": p.unique, "read_only": p.read_only, "custom": p.is_custom, "archived": p.archived,
                            "options": [o.name for o in p.options]} for p in meta.properties.values()],
        })
        lines.append(f"{meta.name} ({meta.plural_label}, {meta.kind})")
        for p in meta.properties.values():
            flags = ", ".join(f for f, on in (("required", p.required), ("unique", p.unique), ("read-only", p.read_only),
                                               ("custom", p.is_custom), ("archived", p.archived)) if on)
            lines.append(f"  {p.name}: {p.type}  {p.label}" + (f"  [{flags}]" if flags else ""))
    for pipeline in Pipeline.select().order_by(Pipeline.position):
        stages = [{"name": s.name, "label": s.label, "kind": s.kind, "probability": s.probability}
                  for s in Stage.select().where(Stage.pipeline == pipeline).order_by(Stage.position)]
        data["pipelines"].append({"object": crm.registry.by_id[pipeline.object_id].name, "name": pipeline.name,
                                  "label": pipeline.label, "stages": stages})
        lines.append(f"pipeline {pipeline.label} ({crm.registry.by_id[pipeline.object_id].name}): "
                     + " > ".join(s["label"] for s in stages))
    lines.append(f"{len(data['labels'])} association labels (crm-tui labels)")
    emit(args, data, lines)
    return 0


def cmd_seed(crm: Crm, args) -> int:
    counts = seed(crm, contacts=args.contacts, companies=args.companies, deals=args.deals, tickets=args.tickets,
                  activities=args.activities, seed=args.seed, source=SOURCE)
    emit(args, asdict(counts), f"seeded {counts.contacts} contacts, {counts.companies} companies, {counts.deals} deals, "
         f"{counts.tickets} tickets, {counts.activities} activities, {counts.associations} associations")
    return 0


def cmd_log(crm: Crm, args) -> int:
    result = crm.activities.log(args.a, args.activity, _assignments(args.values), source=SOURCE)
    emit(args, asdict(result), [str(result.id), result.message])
    return 0


def cmd_timeline(crm: Crm, args) -> int:
    from ..services.paging import format_datetime

    crm.records.get(args.a[0], args.a[1])
    items = crm.activities.timeline(args.a, limit=args.limit)
    emit(args, [asdict(i) for i in items],
         [f"{format_datetime(i.at, crm.datetime_format)}  {crm.registry.get(i.object).label:<8} {i.object}:{i.id}  {i.title}"
          for i in items]
         or ["no activities"])
    return 0


def cmd_owners(crm: Crm, args) -> int:
    Owner = crm.models.Owner

    if getattr(args, "action", None) == "add":
        if not args.name:
            raise InvalidValue("usage: crm-tui owners add NAME [--email E]")
        owner = add_owner(crm, args.name, args.email)
        emit(args, asdict(owner), f"added owner {owner.id}: {owner.name}" + (f" <{owner.email}>" if owner.email else ""))
        return 0
    owners = [{"id": o.id, "name": o.name, "email": o.email, "me": o.is_me} for o in Owner.select().order_by(Owner.id)]
    emit(args, owners, [f"{o['id']}  {o['name']}" + (f" <{o['email']}>" if o["email"] else "") + ("  (you)" if o["me"] else "")
                        for o in owners])
    return 0


def cmd_pipelines(crm: Crm, args) -> int:
    infos = pipelines.list_pipelines(crm)
    lines = []
    for p in infos:
        lines.append(f"{p.object} pipeline {p.name}: {p.label}" + ("  [archived]" if p.archived else ""))
        for s in p.stages:
            extra = [s.kind] + ([f"{s.probability:.0%}"] if s.probability is not None else []) + (["archived"] if s.archived else [])
            lines.append(f"  {s.name}: {s.label}  ({', '.join(extra)})")
    emit(args, [pipelines.to_json(p) for p in infos], lines or ["no pipelines"])
    return 0


HANDLERS = {
    "record": cmd_record, "history": cmd_history, "list": cmd_list, "search": cmd_search, "assoc": cmd_assoc,
    "labels": cmd_labels, "schema": cmd_schema, "seed": cmd_seed, "log": cmd_log, "timeline": cmd_timeline,
    "owners": cmd_owners, "pipelines": cmd_pipelines,
}


def _import_commands():
    from . import imports as cli_commands  # lazy: the import and export code loads only for those commands

    return cli_commands


HANDLERS["import"] = lambda crm, args: _import_commands().cmd_import(crm, args)
HANDLERS["imports"] = lambda crm, args: _import_commands().cmd_imports(crm, args)
HANDLERS["export"] = lambda crm, args: _import_commands().cmd_export(crm, args)
HANDLERS["calendar"] = lambda crm, args: _calendar_commands().cmd_calendar(crm, args)


def _calendar_commands():
    from . import calendars as cli_calendars  # lazy: icalendar loads only for this command

    return cli_calendars


def _journal_commands():
    return cli_journal


for _name in ("operations", "undo", "redo"):
    HANDLERS[_name] = lambda crm, args: _journal_commands().HANDLERS[args.command](crm, args)


def _report_commands():
    from . import reports as cli_reports

    return cli_reports


for _name in ("report", "reports", "forecast"):
    HANDLERS[_name] = lambda crm, args: _report_commands().HANDLERS[args.command](crm, args)


def _duplicate_commands():
    from . import duplicates as cli_duplicates

    return cli_duplicates


HANDLERS["duplicates"] = lambda crm, args: _duplicate_commands().cmd_duplicates(crm, args)


def _workflow_commands():
    from . import workflows as cli_workflows

    return cli_workflows


HANDLERS["workflows"] = lambda crm, args: _workflow_commands().cmd_workflows(crm, args)
def _mail_commands():
    from . import mail as cli_mail

    return cli_mail


HANDLERS["mail"] = lambda crm, args: _mail_commands().cmd_mail(crm, args)


def _task_commands():
    from . import tasks as cli_tasks

    return cli_tasks


HANDLERS["tasks"] = lambda crm, args: _task_commands().cmd_tasks(crm, args)


def _confirmed(args, question: str) -> bool:
    """--yes, or a y typed at the terminal; without a terminal and without --yes: no."""
    import sys

    if getattr(args, "yes", False):
        return True
    if not sys.stdin.isatty():
        print(f"crm-tui: {question} Add --yes to confirm (nothing was changed)", file=sys.stderr)
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def cmd_erase(crm: Crm, args) -> int:
    from ..domain.sanitize import clean_line

    meta = crm.registry.get(args.object)
    view = crm.records.get(meta.name, args.id)
    if not _confirmed(args, f"Erase {meta.label.lower()} {args.id} ({clean_line(view.display_name)}) for good, with its "
                            "history and links? This cannot be undone."):
        return 1
    result = crm.eraser.erase(meta.name, args.id, source=SOURCE)
    emit(args, {"erased": result.ids, "object": result.object, "operation": result.op_id}, result.message)
    return 0


def cmd_bin(crm: Crm, args) -> int:
    if args.action == "retention":
        from ..services.erase import DEFAULT_RETENTION_DAYS

        if args.days is not None:
            crm.set_setting("recycle_bin_days", args.days)
        days = crm.setting("recycle_bin_days", DEFAULT_RETENTION_DAYS)
        emit(args, {"recycle_bin_days": days},
             f"the recycle bin keeps deleted records {days} days" if days else "the recycle bin keeps deleted records until emptied")
        return 0
    what = f"{args.object} " if args.object else ""
    older = f" deleted more than {args.older_than} days ago" if args.older_than is not None else ""
    if not _confirmed(args, f"Erase every {what}record in the recycle bin{older} for good?"):
        return 1
    result = crm.eraser.empty_bin(args.object, older_than_days=args.older_than, source=SOURCE)
    emit(args, {"erased": len(result.ids), "operation": result.op_id}, result.message)
    return 0


HANDLERS["bin"] = cmd_bin


def _vdir_commands():
    from . import vdir as cli_vdir

    return cli_vdir


HANDLERS["vdir"] = lambda crm, args: _vdir_commands().cmd_vdir(crm, args)
