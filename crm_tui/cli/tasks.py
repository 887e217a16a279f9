"""`crm-tui tasks`: the open tasks due today, overdue and upcoming (by owner), and `tasks done ID`,
`tasks snooze ID [--days N]`, `tasks reschedule ID DATE`. Only argparse here at import time."""

from __future__ import annotations

TASK_COMMANDS = {"tasks"}


def add_task_commands(sub, common) -> None:
    from .args import MAX_ID, _bounded

    p = sub.add_parser("tasks", parents=[common],
                       help="your task queue (overdue, today, upcoming); or done, snooze, reschedule a task")
    p.add_argument("action", nargs="?", choices=["list", "done", "snooze", "reschedule"], default="list")
    p.add_argument("id", nargs="?", type=_bounded("task ID", 1, MAX_ID), help="the task (done, snooze, reschedule)")
    p.add_argument("date", nargs="?", help="reschedule: the new due date (your date_format, or YYYY-MM-DD)")
    p.add_argument("--due", choices=["today", "overdue", "upcoming", "all"], default="all",
                   help="only the tasks due today, overdue or upcoming (default: all open tasks)")
    p.add_argument("--owner", metavar="NAME", help="only this owner's tasks (a name, an email, an id, or me)")
    p.add_argument("--days", type=_bounded("days", 1, 3650), default=1, metavar="N", help="snooze: N days (default 1)")
    p.add_argument("--limit", type=_bounded("limit", 1, 1_000_000), default=500, metavar="N",
                   help="at most N tasks per section (default 500)")


def cmd_tasks(crm, args) -> int:
    from ..domain import sources
    from ..domain.errors import InvalidValue
    from ..domain.types import shown_datetime
    from .args import emit

    if args.action == "list":
        if args.id is not None:
            raise InvalidValue("tasks: a task ID goes with done, snooze or reschedule (tasks done ID)")
        rows = crm.tasks.queue(args.due, args.owner, limit=args.limit)
        lines = []
        for bucket in ("overdue", "today", "upcoming"):
            section = [r for r in rows if r.bucket == bucket]
            if not section:
                continue
            lines.append(f"{bucket.capitalize()} ({len(section)})")
            for r in section:
                linked = ", ".join(f"{o}:{i} {n}" for o, i, n in r.linked)
                lines.append(f"  {r.id:>6}  {shown_datetime(r.due, crm.datetime_format) or '(no due date)':<16}  "
                             f"{r.subject}" + (f"  [{r.priority_label}]" if r.priority_label else "")
                             + (f"  @{r.owner}" if r.owner else "") + (f"  -> {linked}" if linked else ""))
        if not lines:
            lines.append("no open tasks" + (f" {args.due}" if args.due != "all" else ""))
        emit(args, [r.to_json() for r in rows], lines)
        return 0
    if args.id is None:
        raise InvalidValue(f"tasks {args.action}: give the task's ID (crm-tui tasks {args.action} ID)")
    if args.action == "reschedule":
        if not args.date:
            raise InvalidValue("tasks reschedule: give the new due date (crm-tui tasks reschedule ID DATE)")
        message = crm.tasks.reschedule(args.id, args.date, source=sources.API)
    elif args.date is not None:
        raise InvalidValue(f"tasks {args.action}: unexpected argument {args.date!r}")
    elif args.action == "done":
        message = crm.tasks.complete(args.id, source=sources.API)
    else:
        message = crm.tasks.snooze(args.id, args.days, source=sources.API)
    row = crm.tasks.get(args.id)
    emit(args, {"id": args.id, "due": row.get("hs_timestamp"), "status": row.get("hs_task_status")}, message)
    return 0


HANDLERS = {"tasks": cmd_tasks}
