"""`crm-tui operations`, `crm-tui undo [ID]` and `crm-tui redo` (the operation journal).
Only argparse here at import time (a fast `--help`)."""

from __future__ import annotations

import sys
from dataclasses import asdict

from .args import MAX_ID, _bounded, _limit, emit

JOURNAL_COMMANDS = {"operations", "undo", "redo"}


def add_journal_commands(sub, common) -> None:
    p = sub.add_parser("operations", parents=[common], help="the operations journal, newest first")
    p.add_argument("--limit", type=_limit, default=50, metavar="N")
    p = sub.add_parser("undo", parents=[common], help="undo an operation (default: your newest one not yet undone)")
    p.add_argument("op_id", nargs="?", type=_bounded("operation ID", 1, MAX_ID), metavar="OPERATION_ID")
    p.add_argument("--yes", action="store_true", help="undoing an import: do not ask")
    sub.add_parser("redo", parents=[common], help="redo the most recent undo not yet redone")


def _emit(args, data, line: str) -> None:
    emit(args, data, line)


def cmd_operations(crm, args) -> int:
    from ..domain.sanitize import clean_line  # lazy: `crm-tui --help` loads this module; it stays quick

    items = crm.journal.list(limit=args.limit)
    if getattr(args, "json", False):
        _emit(args, [asdict(i) for i in items], "")
        return 0
    if not items:
        print("no operations yet")
    for i in items:
        state = "undone" if i.undone else ""
        print(f"{i.id:>7}  {i.time[:19]}  {i.kind:<14}  {i.source:<8}  {state:<6}  {clean_line(i.summary)}")
    return 0


def cmd_undo(crm, args) -> int:
    from ..domain import sources  # lazy: `crm-tui --help` loads this module; it stays quick
    from ..domain.sanitize import clean_line  # lazy: `crm-tui --help` loads this module; it stays quick

    target = crm.journal._newest_own(sources.API) if args.op_id is None else None
    op_id = args.op_id if args.op_id is not None else (target.id if target is not None else None)
    if op_id is not None and not args.yes and sys.stdin.isatty():
        info = crm.journal.get(op_id)
        if info.kind == "import" and info.undoable:
            from ..importing import undo as import_journal

            import_journal.check_undo(crm, op_id)  # a refusal before the question, not after it
            answer = input(f"Undo {clean_line(info.summary)}? Records it created are deleted for good "
                           "(a backup is made first) [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing changed")
                return 1
    result = crm.journal.undo(op_id, source=sources.API)
    _emit(args, asdict(result), clean_line(f"{result.summary} (operation {result.undo_op_id})"))
    return 0


def cmd_redo(crm, args) -> int:
    from ..domain import sources  # lazy: `crm-tui --help` loads this module; it stays quick
    from ..domain.sanitize import clean_line  # lazy: `crm-tui --help` loads this module; it stays quick

    result = crm.journal.redo(source=sources.API)
    _emit(args, asdict(result), clean_line(f"{result.summary} (operation {result.undo_op_id})"))
    return 0


HANDLERS = {"operations": cmd_operations, "undo": cmd_undo, "redo": cmd_redo}
