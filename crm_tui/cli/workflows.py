"""`crm-tui workflows`: list, apply a YAML file, enable, disable, delete, run (or dry-run) a workflow."""

from __future__ import annotations

WORKFLOW_COMMANDS = {"workflows"}


def add_workflow_commands(sub, common) -> None:
    p = sub.add_parser("workflows", parents=[common],
                       help="list workflows; apply FILE.yaml; enable|disable|delete NAME; run NAME [--dry-run]")
    p.add_argument("action", nargs="?", choices=["apply", "enable", "disable", "delete", "run"],
                   help="apply FILE.yaml | enable NAME | disable NAME | delete NAME | run NAME [--dry-run]")
    p.add_argument("target", nargs="?", help="the YAML file (apply) or the workflow's name")
    p.add_argument("--dry-run", action="store_true", help="run: say what it would do, write nothing")


def cmd_workflows(crm, args) -> int:
    from ..domain.errors import InvalidValue
    from ..services.workflows import load_file
    from .args import emit

    action, target = args.action, args.target
    if action is None:
        if target is not None:
            raise InvalidValue(f"{target!r}: write crm-tui workflows apply|enable|disable|delete|run ...")
        items = crm.workflows.list()
        lines = [f"{'on ' if w.enabled else 'off'}  {w.name}  [{w.object}: {w.trigger}]  runs {w.runs}"
                 f"  last run {w.last_run or '-'}" for w in items] or ["no workflows (add some with crm-tui workflows apply FILE.yaml)"]
        emit(args, [w.to_json() for w in items], lines)
        return 0
    if not target:
        raise InvalidValue(f"usage: crm-tui workflows {action} {'FILE.yaml' if action == 'apply' else 'NAME'}")
    if action != "run" and args.dry_run:
        raise InvalidValue("--dry-run goes with run")
    if action == "apply":
        result = crm.workflows.apply(load_file(target))
        emit(args, {"created": result.created, "updated": result.updated, "unchanged": result.unchanged},
             [result.message] + [f"  created: {n}" for n in result.created] + [f"  updated: {n}" for n in result.updated])
        return 0
    if action == "delete":
        message = crm.workflows.delete(target)
        emit(args, {"workflow": target, "deleted": True, "message": message}, message)
        return 0
    if action in ("enable", "disable"):
        message = crm.workflows.set_enabled(target, action == "enable")
        emit(args, {"workflow": target, "enabled": action == "enable", "message": message}, message)
        return 0
    result = crm.workflows.run(target, dry_run=args.dry_run)
    head = (f"dry run of {result.workflow!r}: would act on {result.records:,} record(s); nothing was written"
            if result.dry_run else None)
    emit(args, {"workflow": result.workflow, "dry_run": result.dry_run, "records": result.records,
                "lines": result.lines, "operation": result.op_id, "notes": result.notes},
         ([head] if head else []) + result.lines + result.notes)
    return 0


HANDLERS = {"workflows": cmd_workflows}
